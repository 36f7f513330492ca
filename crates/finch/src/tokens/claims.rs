//! The claims of the two token kinds, as minted and as validated.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The `sub` of agent tokens.
pub(super) const AGENT_SUBJECT: &str = "agent";
/// The `sub` of dashboard tokens.
pub(super) const DASHBOARD_SUBJECT: &str = "dashboard";

/// What a valid agent token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClaims {
    /// The agent's resource id (`rid` claim); never empty.
    pub rid: String,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
}

/// What a valid dashboard token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardClaims {
    /// What the holder may do.
    pub role: Role,
    /// RIDs or hostnames the holder may see; empty means every agent.
    pub scope: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
}

/// A dashboard role, from least to most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads the fleet.
    Viewer,
    /// Reads, and may view an agent's token.
    Operator,
    /// Reads, views tokens and downloads agent configs.
    Admin,
}

/// A role name that is not admin, operator or viewer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid role")]
pub struct RoleError;

/// Claims as they appear on the wire. Field order is the sorted key order Go's `MapClaims`
/// produces, so minted tokens match 1.x byte for byte.
#[derive(Serialize)]
pub(super) struct AgentWire<'a> {
    pub exp: i64,
    pub iat: i64,
    pub iss: &'a str,
    pub rid: &'a str,
    pub sub: &'a str,
}

/// Dashboard claims on the wire; `scope` is a JSON list encoded *as a string*, as in 1.x.
#[derive(Serialize)]
pub(super) struct DashboardWire<'a> {
    pub exp: i64,
    pub iat: i64,
    pub iss: &'a str,
    pub role: &'a str,
    pub scope: &'a str,
    pub sub: &'a str,
}

/// Any Finch token's claims, as read for validation. Unknown claims are ignored; numeric dates
/// are accepted as integers or floats, as RFC 7519 allows.
#[derive(Deserialize)]
pub(super) struct ReadClaims<'a> {
    #[serde(borrow, default)]
    pub iss: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub sub: Option<Cow<'a, str>>,
    #[serde(default)]
    pub exp: Option<f64>,
    #[serde(default)]
    pub nbf: Option<f64>,
    #[serde(default)]
    pub rid: Option<serde_json::Value>,
    #[serde(borrow, default)]
    pub role: Option<Cow<'a, str>>,
    #[serde(default)]
    pub scope: Option<serde_json::Value>,
}

// === impl Role ===

impl Role {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role as `GetDashboardToken` receives it: empty means viewer, as in 1.x.
    pub fn parse_or_viewer(value: &str) -> Result<Role, RoleError> {
        if value.is_empty() {
            Ok(Role::Viewer)
        } else {
            value.parse()
        }
    }

    /// May view (and so mint) an agent's token.
    pub fn may_view_tokens(self) -> bool {
        self >= Role::Operator
    }

    /// May download an agent's config (which embeds a token).
    pub fn may_download_configs(self) -> bool {
        self == Role::Admin
    }
}

impl std::str::FromStr for Role {
    type Err = RoleError;

    fn from_str(s: &str) -> Result<Role, RoleError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(RoleError),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
