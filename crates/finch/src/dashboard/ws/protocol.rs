//! The WebSocket messages, Finch 1.x's types with JSON data instead of pre-rendered HTML.
//!
//! Client to server: `get_agents` (`data.page`, `data.search`), `get_token` and
//! `download_config` (`data.rid`). Unknown types and undecodable `data` are ignored, as in 1.x;
//! a frame that is not a JSON object with a `type` closes the connection (1007).
//!
//! Server to client: `stats`, `endpoints`, `agents`, `token`, `token_error`, `config`,
//! `config_error`. Errors carry the `rid` they answer so the page can show them in place.

use serde::{Deserialize, Serialize};

use crate::dashboard::view::{AgentsView, EndpointsView, StatsView};

/// A message from the page, before its `data` is decoded.
#[derive(Debug, Deserialize)]
pub struct ClientEnvelope {
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its data, decoded by type.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A decoded client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Show this page of this search.
    GetAgents {
        /// The page (values below 1 keep the current page).
        page: Option<i64>,
        /// The search (absent: keep the current one).
        search: Option<String>,
    },
    /// Show the agent's token.
    GetToken {
        /// The agent.
        rid: String,
    },
    /// Send the agent's config.
    DownloadConfig {
        /// The agent.
        rid: String,
    },
    /// Anything else: ignored.
    Ignored,
}

#[derive(Deserialize)]
struct PageData {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    search: Option<String>,
}

#[derive(Deserialize)]
struct RidData {
    rid: String,
}

/// A message to the page.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Counters within the scope.
    Stats {
        /// The counters.
        data: StatsView,
    },
    /// The stack's endpoints.
    Endpoints {
        /// The URLs.
        data: EndpointsView,
    },
    /// A page of agents.
    Agents {
        /// The page.
        data: AgentsView,
    },
    /// A freshly minted agent token.
    Token {
        /// The agent.
        rid: String,
        /// The token and its expiry.
        data: TokenView,
    },
    /// `get_token` was refused.
    TokenError {
        /// The agent asked for.
        rid: String,
        /// Why: `Unauthorized`, `Failed to get agent`.
        error: &'static str,
    },
    /// An agent's Alloy config.
    Config {
        /// The agent.
        rid: String,
        /// `alloy-<rid>.cfg`.
        filename: String,
        /// The config text.
        content: String,
    },
    /// `download_config` was refused or failed.
    ConfigError {
        /// The agent asked for.
        rid: String,
        /// Why: `Unauthorized`, `Failed to get agent`, `Failed to generate config`.
        error: &'static str,
    },
}

/// An agent token for the page.
#[derive(Serialize)]
pub struct TokenView {
    /// The bearer token.
    pub token: String,
    /// Its expiry, RFC 3339 UTC.
    pub expires_at: String,
}

impl std::fmt::Debug for TokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenView")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `refused` means the text is not a JSON object with a string `type`.
#[derive(Debug, PartialEq, Eq)]
pub struct Undecodable;

// === impl ClientMessage ===

impl ClientMessage {
    /// Decodes a text frame.
    pub fn decode(text: &str) -> Result<ClientMessage, Undecodable> {
        let envelope: ClientEnvelope = serde_json::from_str(text).map_err(|_| Undecodable)?;
        let message = match envelope.kind.as_str() {
            "get_agents" => match serde_json::from_value::<PageData>(envelope.data) {
                Ok(data) => ClientMessage::GetAgents {
                    page: data.page,
                    search: data.search,
                },
                Err(_) => ClientMessage::Ignored,
            },
            "get_token" => match serde_json::from_value::<RidData>(envelope.data) {
                Ok(data) => ClientMessage::GetToken { rid: data.rid },
                Err(_) => ClientMessage::Ignored,
            },
            "download_config" => match serde_json::from_value::<RidData>(envelope.data) {
                Ok(data) => ClientMessage::DownloadConfig { rid: data.rid },
                Err(_) => ClientMessage::Ignored,
            },
            _ => ClientMessage::Ignored,
        };
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_1x_messages() {
        assert_eq!(
            ClientMessage::decode(r#"{"type":"get_agents","data":{"page":2,"search":"web"}}"#),
            Ok(ClientMessage::GetAgents {
                page: Some(2),
                search: Some("web".into())
            })
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"get_token","data":{"rid":"r"}}"#),
            Ok(ClientMessage::GetToken { rid: "r".into() })
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"download_config","data":{"rid":"r"}}"#),
            Ok(ClientMessage::DownloadConfig { rid: "r".into() })
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"get_token","data":{"rid":5}}"#),
            Ok(ClientMessage::Ignored)
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"reboot"}"#),
            Ok(ClientMessage::Ignored)
        );
        assert_eq!(ClientMessage::decode("not json"), Err(Undecodable));
        assert_eq!(ClientMessage::decode("[1]"), Err(Undecodable));
    }

    #[test]
    fn server_messages_keep_1x_type_names() {
        let text = serde_json::to_string(&ServerMessage::TokenError {
            rid: "r".into(),
            error: "Unauthorized",
        })
        .unwrap_or_default();
        assert_eq!(
            text,
            r#"{"type":"token_error","rid":"r","error":"Unauthorized"}"#
        );
    }
}
