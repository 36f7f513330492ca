//! The pure half of `agent doctor`: what an installed agent's state means, as facts for the
//! table and JSON, and as the problems that make the doctor fail.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::agent_install::health::AgentHealth;

/// A token that expires within this many days needs renewing (`agent update --agent.rid`).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What the doctor found about the agent on one host.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentFacts {
    /// A config or service definition is installed.
    pub installed: bool,
    /// The service manager has Alloy up.
    pub running: bool,
    /// `alloy --version`'s first line.
    pub version: Option<String>,
    /// The RID in the installed config.
    pub rid: Option<String>,
    /// Whether the stack knows the RID: `yes`, `no` or `unknown`.
    pub registered: Option<&'static str>,
    /// When the config's token expires (RFC 3339).
    pub token_expires: Option<String>,
    /// Whole days until then (negative once expired).
    pub token_days_left: Option<i64>,
    /// Each checked port: `listening` or `free`.
    pub ports: BTreeMap<u16, &'static str>,
}

// === impl AgentFacts ===

impl AgentFacts {
    /// The facts in `health`, at `now` (seconds since the epoch).
    pub fn new(health: &AgentHealth, now: i64) -> Self {
        let exp = health.token_expiry();
        Self {
            installed: health.installed,
            running: health.running,
            version: health.version.clone(),
            rid: health.rid.clone(),
            registered: None,
            token_expires: exp
                .and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok())
                .and_then(|t| t.format(&Rfc3339).ok()),
            token_days_left: exp.map(|e| (e - now).div_euclid(86_400)),
            ports: health
                .ports
                .iter()
                .map(|(p, l)| (*p, if *l { "listening" } else { "free" }))
                .collect(),
        }
    }

    /// What is wrong, each with what to do; empty when the host is fine.
    ///
    /// ```
    /// use finchctl::agent_install::health::AgentHealth;
    /// use finchctl::cli::agent::doctor::findings::AgentFacts;
    /// let stopped = AgentHealth::parse("installed=yes\nrunning=no\n");
    /// assert_eq!(AgentFacts::new(&stopped, 0).problems().len(), 1);
    /// let absent = AgentHealth::parse("installed=no\n");
    /// assert!(AgentFacts::new(&absent, 0).problems().is_empty());
    /// ```
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let rid = self.rid.as_deref().unwrap_or("<rid>");
        if !self.installed {
            for (port, state) in &self.ports {
                if *state == "listening" {
                    out.push(format!("port {port} is taken: Alloy could not start there"));
                }
            }
            return out;
        }
        if !self.running {
            out.push("Alloy is installed but not running: see its service's log, or run `finchctl agent update` to repair it".to_owned());
        }
        match self.token_days_left {
            Some(days) if days < 0 => out.push(format!(
                "the agent's token has expired: renew it with `finchctl agent update <host> --agent.rid {rid} --agent.service <name>`"
            )),
            Some(days) if days < EXPIRY_WARNING_DAYS => out.push(format!(
                "the agent's token expires in {days} days: renew it with `finchctl agent update <host> --agent.rid {rid} --agent.service <name>`"
            )),
            _ => {}
        }
        if self.registered == Some("no") {
            out.push(format!(
                "the stack does not know agent {rid}: its writes are refused; enroll the host again (`finchctl agent enroll`)"
            ));
        }
        out
    }

    /// The token column: `expires in N days`, `expired`, or `-`.
    pub fn token(&self) -> String {
        match self.token_days_left {
            Some(d) if d < 0 => "expired".to_owned(),
            Some(d) => format!("{d} days left"),
            None => "-".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"exp":<exp>}` as the claims part of a token.
    fn health(extra: &str, exp: i64) -> AgentHealth {
        use base64::Engine as _;
        let claims =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        AgentHealth::parse(&format!(
            "installed=yes\nrunning=yes\nrid=rid:a\nclaims={claims}\n{extra}"
        ))
    }

    #[test]
    fn a_token_within_30_days_is_a_problem_and_one_beyond_is_not() {
        let now = 1_700_000_000;
        let soon = AgentFacts::new(&health("", now + 29 * 86_400 + 5), now);
        assert_eq!(soon.token_days_left, Some(29));
        assert!(soon.problems()[0].contains("expires in 29 days"));
        let later = AgentFacts::new(&health("", now + 31 * 86_400), now);
        assert!(later.problems().is_empty(), "{:?}", later.problems());
        let expired = AgentFacts::new(&health("", now - 10), now);
        assert_eq!(expired.token(), "expired");
        assert!(expired.problems()[0].contains("has expired"));
        assert_eq!(later.token_expires.as_deref(), Some("2023-12-15T22:13:20Z"));
    }

    #[test]
    fn an_unknown_rid_is_a_problem_and_an_unknown_answer_is_not() {
        let now = 0;
        let mut facts = AgentFacts::new(&health("", 400 * 86_400), now);
        facts.registered = Some("unknown");
        assert!(facts.problems().is_empty());
        facts.registered = Some("no");
        assert!(facts.problems()[0].contains("does not know agent rid:a"));
    }

    #[test]
    fn taken_ports_matter_only_before_an_install() {
        let absent = AgentHealth::parse("installed=no\nport.12345=listening\nport.3100=free\n");
        let facts = AgentFacts::new(&absent, 0);
        assert_eq!(
            facts.problems(),
            vec!["port 12345 is taken: Alloy could not start there"]
        );
        let running = health("port.12345=listening\n", 400 * 86_400);
        assert!(AgentFacts::new(&running, 0).problems().is_empty());
    }
}
