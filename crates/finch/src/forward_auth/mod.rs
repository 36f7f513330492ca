//! `/auth`: Traefik's ForwardAuth check of every agent write, answered from memory.
//!
//! A request passes when its bearer token is a valid agent token ([`crate::tokens`]), the agent is
//! still in the [`Directory`], and the forwarded request is a push the agent may make
//! ([`allow_list`]). Nothing here touches the database: the decision is a signature check and a
//! hash lookup, and `last_seen` is queued for a background writer ([`crate::liveness`]).
//!
//! Routes: `/auth` (what Finch 1.x configs point at; the signal is read from the forwarded path)
//! and `/auth/loki`, `/auth/mimir`, `/auth/pyroscope` (the route also says which backend it
//! guards, so a token cannot push logs through the metrics router). Any method is accepted, as
//! Traefik sends GET. Answers: 200 with an empty body and `X-Finch-Agent: <rid>` (for Traefik's
//! access log via `headerField`), 401 when the credential is missing or invalid, 403 when a valid
//! agent asks for something it may not do, 404 for any other path. Every refusal is logged at WARN
//! with its reason, never with the token. [`server`] is the listener that serves it.

pub mod allow_list;
pub mod http1;
pub mod server;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue, StatusCode};

use crate::directory::{Directory, DirectoryEntry};
use crate::headers::{Headers, visible_text};
use crate::liveness::LivenessRecorder;
use crate::metrics::{AuthDecisionLabels, AuthMetrics, AuthResult};
use crate::remote_addr::remote_addr;
use crate::tokens::{AgentKeys, TokenError};
use allow_list::{Signal, push_signal};
use http1::Answering;

/// The response header that names the authenticated agent.
pub const AGENT_HEADER: HeaderName = HeaderName::from_static("x-finch-agent");

/// What `/auth` needs: the key, the live agents, the liveness queue and its metrics.
#[derive(Debug)]
pub struct ForwardAuth {
    /// Verifies agent tokens: the current secret's, and the previous one's during a grace.
    pub tokens: AgentKeys,
    /// The live agents.
    pub directory: Directory,
    /// Queues `last_seen` marks.
    pub liveness: LivenessRecorder,
    /// Decision counters and latency.
    pub metrics: AuthMetrics,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    MissingHeader,
    /// The header is not `Bearer <token>`.
    NotBearer,
    /// The token is not a valid agent token.
    Token(TokenError),
    /// The token is valid but its agent is not registered (any more).
    UnknownAgent,
    /// `X-Forwarded-Method` or `X-Forwarded-Uri` is missing: not a ForwardAuth call.
    NotForwarded,
    /// The forwarded request is not an ingestion request (a query, say).
    NotAPush,
    /// The push is for another backend than the route guards.
    WrongBackend,
    /// The agent was registered without this signal (metrics or profiles).
    SignalDisabled(Signal),
}

// === impl ForwardAuth ===

impl ForwardAuth {
    /// Decides a request with `headers` arriving on the route for `route` (`None`: plain `/auth`)
    /// at `now` (Unix seconds). When it passes, the agent is noted as seen
    /// ([`LivenessRecorder::mark`]) and its resource id returned; a refusal carries the id when
    /// the agent is registered.
    pub fn decide<H: Headers + ?Sized>(
        &self,
        route: Option<Signal>,
        headers: &H,
        now: i64,
    ) -> Result<String, (Refusal, Option<String>)> {
        let token = bearer_token(headers).map_err(|refusal| (refusal, None))?;
        let claims = self
            .tokens
            .verify_agent(token, now)
            .map_err(|error| (Refusal::Token(error), None))?;
        let Some(entry) = self.directory.lookup(&claims.rid) else {
            return Err((Refusal::UnknownAgent, None));
        };
        let checked = self.check_request(route, headers, &entry);
        if checked.is_ok() {
            self.liveness.mark(&entry, now);
        }
        drop(entry);
        match checked {
            Ok(()) => Ok(claims.rid),
            Err(refusal) => Err((refusal, Some(claims.rid))),
        }
    }

    fn check_request<H: Headers + ?Sized>(
        &self,
        route: Option<Signal>,
        headers: &H,
        entry: &DirectoryEntry<'_>,
    ) -> Result<(), Refusal> {
        let (Some(method), Some(uri)) = (
            headers.text("x-forwarded-method"),
            headers.text("x-forwarded-uri"),
        ) else {
            return Err(Refusal::NotForwarded);
        };
        let signal = push_signal(method, uri).ok_or(Refusal::NotAPush)?;
        if route.is_some_and(|route| route != signal) {
            return Err(Refusal::WrongBackend);
        }
        let enabled = match signal {
            Signal::Logs => true,
            Signal::Metrics => entry.metrics(),
            Signal::Profiles => entry.profiles(),
        };
        if enabled {
            Ok(())
        } else {
            Err(Refusal::SignalDisabled(signal))
        }
    }
}

/// What `/auth` answers: a status, and for an allowed request the agent's resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 200, 401, 403, or 404 for a path that is not an auth route.
    pub status: StatusCode,
    /// The value of [`AGENT_HEADER`]: the resource id of the agent allowed.
    pub agent: Option<HeaderValue>,
}

// === impl ForwardAuth (answering) ===

impl Answering for ForwardAuth {
    /// Answers a request for `path` with `headers` from `peer` arriving `at`, counting and timing
    /// the decision.
    fn answer(
        &self,
        path: &str,
        headers: &[httparse::Header<'_>],
        peer: SocketAddr,
        at: SystemTime,
    ) -> Answer {
        let route = match path {
            "/auth" => None,
            "/auth/loki" => Some(Signal::Logs),
            "/auth/mimir" => Some(Signal::Metrics),
            "/auth/pyroscope" => Some(Signal::Profiles),
            _ => {
                return Answer {
                    status: StatusCode::NOT_FOUND,
                    agent: None,
                };
            }
        };
        let started = Instant::now();
        let now = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let (result, reason, answer) = match self.decide(route, headers, now) {
            Ok(rid) => {
                tracing::debug!(agent.rid = rid, "Auth request succeeded");
                let answer = Answer {
                    status: StatusCode::OK,
                    agent: HeaderValue::try_from(rid).ok(),
                };
                (AuthResult::Allowed, "ok", answer)
            }
            Err((refusal, rid)) => {
                log_refusal(refusal, rid.as_deref(), headers, Some(peer));
                let (result, status) = if refusal.is_unauthorized() {
                    (AuthResult::Unauthorized, StatusCode::UNAUTHORIZED)
                } else {
                    (AuthResult::Forbidden, StatusCode::FORBIDDEN)
                };
                let answer = Answer {
                    status,
                    agent: None,
                };
                (result, refusal.as_str(), answer)
            }
        };
        self.metrics
            .decisions
            .get_or_create(&AuthDecisionLabels {
                result: result.as_str(),
                reason,
            })
            .inc();
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        answer
    }
}

fn bearer_token<H: Headers + ?Sized>(headers: &H) -> Result<&str, Refusal> {
    let value = headers
        .value("authorization")
        .ok_or(Refusal::MissingHeader)?;
    visible_text(value)
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(Refusal::NotBearer)
}

fn log_refusal<H: Headers + ?Sized>(
    refusal: Refusal,
    rid: Option<&str>,
    headers: &H,
    peer: Option<SocketAddr>,
) {
    let remote_addr = remote_addr(headers, peer);
    let user_agent = headers.text("user-agent").unwrap_or_default();
    let reason = refusal.describe();
    let rid = rid.unwrap_or_default();
    match refusal {
        Refusal::MissingHeader => tracing::warn!(
            remote_addr,
            user_agent,
            reason,
            "Auth request missing Authorization header"
        ),
        Refusal::NotBearer => tracing::warn!(
            remote_addr,
            user_agent,
            reason,
            "Auth request has invalid Authorization header format"
        ),
        Refusal::Token(_) | Refusal::UnknownAgent => tracing::warn!(
            remote_addr,
            user_agent,
            reason,
            "Auth request failed validation"
        ),
        _ => tracing::warn!(
            remote_addr,
            user_agent,
            agent.rid = rid,
            forwarded.method = headers.text("x-forwarded-method").unwrap_or_default(),
            forwarded.uri = headers.text("x-forwarded-uri").unwrap_or_default(),
            reason,
            "Auth request forbidden"
        ),
    }
}

// === impl Refusal ===

impl Refusal {
    /// 401 (no valid credential) rather than 403 (a valid agent asking too much).
    pub fn is_unauthorized(self) -> bool {
        matches!(
            self,
            Refusal::MissingHeader | Refusal::NotBearer | Refusal::Token(_) | Refusal::UnknownAgent
        )
    }

    /// A stable name for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingHeader => "missing_header",
            Refusal::NotBearer => "not_bearer",
            Refusal::Token(error) => error.as_str(),
            Refusal::UnknownAgent => "unknown_agent",
            Refusal::NotForwarded => "not_forwarded",
            Refusal::NotAPush => "not_a_push",
            Refusal::WrongBackend => "wrong_backend",
            Refusal::SignalDisabled(Signal::Metrics) => "metrics_disabled",
            Refusal::SignalDisabled(Signal::Profiles) => "profiles_disabled",
            Refusal::SignalDisabled(Signal::Logs) => "logs_disabled",
        }
    }

    /// A sentence for the log.
    pub fn describe(self) -> String {
        match self {
            Refusal::MissingHeader => "no Authorization header".into(),
            Refusal::NotBearer => "Authorization header is not \"Bearer <token>\"".into(),
            Refusal::Token(error) => error.to_string(),
            Refusal::UnknownAgent => "the token's agent is not registered".into(),
            Refusal::NotForwarded => {
                "X-Forwarded-Method or X-Forwarded-Uri missing: not a ForwardAuth call".into()
            }
            Refusal::NotAPush => "agent tokens may only push to ingestion endpoints".into(),
            Refusal::WrongBackend => "the push is for another backend than this route".into(),
            Refusal::SignalDisabled(signal) => {
                format!("agent is not registered to push to {}", signal.backend())
            }
        }
    }
}
