//! The answers to the page: reads within the session's scope and the role-checked actions.
//!
//! The role matrix is 1.x's: every role reads; `get_token` needs operator or admin;
//! `download_config` needs admin. An agent outside the scope is refused like a missing role
//! (`Unauthorized`); an unknown one is `Failed to get agent`. Unlike 1.x every refusal is
//! answered, so the page can say why nothing happened.

use crate::agents::AgentRid;
use crate::alloy::{self, AlloyConfig};
use crate::dashboard::DashboardState;
use crate::dashboard::view::{ACTIVE_WITHIN, AgentsView, EndpointsView, StatsView};
use crate::store::{AgentQuery, AgentScope, StoreError};
use crate::tokens::{DashboardClaims, Role};

use super::protocol::{ServerMessage, TokenView};

/// The longest search kept; longer input is cut (a search is a few words).
pub const MAX_SEARCH_CHARS: usize = 200;

/// What a connection knows about its user.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The role.
    pub role: Role,
    /// What the role may see.
    pub scope: AgentScope,
}

/// Why an agent action was refused.
enum Refusal {
    Unauthorized,
    NotFound,
}

// === impl Viewer ===

impl Viewer {
    /// The viewer a dashboard token describes.
    pub fn from_claims(claims: &DashboardClaims) -> Viewer {
        Viewer {
            role: claims.role,
            scope: AgentScope::from_claims(&claims.scope),
        }
    }
}

/// The `stats` message, or `None` after logging a database error.
pub async fn stats(state: &DashboardState, viewer: &Viewer) -> Option<ServerMessage> {
    let since = state.clock().now() - ACTIVE_WITHIN;
    match state
        .registry()
        .store()
        .agent_stats(&viewer.scope, since)
        .await
    {
        Ok(stats) => Some(ServerMessage::Stats {
            data: StatsView::from(stats),
        }),
        Err(error) => {
            tracing::error!(%error, "dashboard cannot count agents");
            None
        }
    }
}

/// The `endpoints` message.
pub fn endpoints(state: &DashboardState) -> ServerMessage {
    ServerMessage::Endpoints {
        data: EndpointsView::new(state.config()),
    }
}

/// The `agents` message for `page` of `search`, and the page actually shown (clamped).
pub async fn agents(
    state: &DashboardState,
    viewer: &Viewer,
    page: u32,
    search: &str,
) -> Option<(ServerMessage, u32)> {
    let page_size = state.settings().page_size;
    let query = AgentQuery {
        scope: viewer.scope.clone(),
        search: search.to_owned(),
        page,
        page_size,
    };
    match state.registry().store().page_agents(&query).await {
        Ok(found) => {
            let shown = found.page;
            let data = AgentsView::new(&found, page_size, search, state.clock().now());
            Some((ServerMessage::Agents { data }, shown))
        }
        Err(error) => {
            tracing::error!(%error, "dashboard cannot read agents");
            None
        }
    }
}

/// Answers `get_token`: a fresh agent token, or why not.
pub async fn token(state: &DashboardState, viewer: &Viewer, rid: String) -> ServerMessage {
    if !viewer.role.may_view_tokens() {
        tracing::warn!(role = %viewer.role, "dashboard token request refused: role");
        return ServerMessage::TokenError {
            rid,
            error: "Unauthorized",
        };
    }
    let agent = match agent_in_scope(state, viewer, &rid).await {
        Ok(agent) => agent,
        Err(refusal) => {
            return ServerMessage::TokenError {
                rid,
                error: refusal.text(),
            };
        }
    };
    let minted = state
        .tokens()
        .mint_agent(agent.rid.as_str(), state.clock().now());
    tracing::info!(agent.rid = %agent.rid, role = %viewer.role, "agent token shown on the dashboard");
    let expires_at = minted
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    ServerMessage::Token {
        rid,
        data: TokenView {
            token: minted.token,
            expires_at,
        },
    }
}

/// Answers `download_config`: the agent's Alloy config, or why not.
pub async fn config(state: &DashboardState, viewer: &Viewer, rid: String) -> ServerMessage {
    if !viewer.role.may_download_configs() {
        tracing::warn!(role = %viewer.role, "dashboard config download refused: role");
        return ServerMessage::ConfigError {
            rid,
            error: "Unauthorized",
        };
    }
    let agent = match agent_in_scope(state, viewer, &rid).await {
        Ok(agent) => agent,
        Err(refusal) => {
            return ServerMessage::ConfigError {
                rid,
                error: refusal.text(),
            };
        }
    };
    let minted = state
        .tokens()
        .mint_agent(agent.rid.as_str(), state.clock().now());
    let rendered = alloy::render(&AlloyConfig {
        agent: &agent,
        service_url: &state.config().public_url(""),
        token: &minted,
        skip_verify: alloy::skip_tls_verify(&state.config().certs_dir()),
    });
    match rendered {
        Ok(content) => {
            tracing::info!(agent.rid = %agent.rid, "agent config downloaded from the dashboard");
            ServerMessage::Config {
                filename: format!("alloy-{rid}.cfg"),
                rid,
                content,
            }
        }
        Err(error) => {
            tracing::error!(agent.rid = %agent.rid, %error, "cannot render an agent config");
            ServerMessage::ConfigError {
                rid,
                error: "Failed to generate config",
            }
        }
    }
}

async fn agent_in_scope(
    state: &DashboardState,
    viewer: &Viewer,
    rid: &str,
) -> Result<crate::agents::Agent, Refusal> {
    let rid = AgentRid::parse(rid).map_err(|_| Refusal::NotFound)?;
    match state.registry().get(&rid).await {
        Ok(agent) if viewer.scope.allows(agent.rid.as_str(), &agent.hostname) => Ok(agent),
        Ok(_) => {
            tracing::warn!(agent.rid = %rid, "dashboard action refused: agent outside the scope");
            Err(Refusal::Unauthorized)
        }
        Err(StoreError::NotFound) => Err(Refusal::NotFound),
        Err(error) => {
            tracing::error!(agent.rid = %rid, %error, "dashboard cannot read an agent");
            Err(Refusal::NotFound)
        }
    }
}

// === impl Refusal ===

impl Refusal {
    fn text(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "Unauthorized",
            Refusal::NotFound => "Failed to get agent",
        }
    }
}

/// `search` trimmed and cut to [`MAX_SEARCH_CHARS`].
pub fn clean_search(search: &str) -> String {
    search.trim().chars().take(MAX_SEARCH_CHARS).collect()
}
