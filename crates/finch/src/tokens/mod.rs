//! Agent and dashboard tokens: HS256 JWTs signed with the stack secret.
//!
//! The format is Finch 1.x's, byte for byte where it matters: header `{"alg":"HS256","typ":"JWT"}`,
//! claims serialised with sorted keys as Go's `MapClaims` does, and the raw bytes of the
//! `finch.json` secret as the HMAC key. Tokens already deployed in agent configs therefore keep
//! working.
//!
//! Validation is stricter than 1.x and deliberately narrow: HS256 only (no `none`, no HS384 or
//! HS512), `exp` required, no leeway, `iss` and `sub` checked, and a bounded token size. The codec
//! is written here rather than taken from a general JWT library because the auth path verifies a
//! token on every agent write: it needs one algorithm, no key lookup and no allocation beyond the
//! claims it returns, and a small surface is easier to get right than configuring a large one.

mod claims;
mod codec;
mod rotation;

pub use claims::{AgentClaims, DashboardClaims, Role, RoleError};
pub use codec::TokenKey;
pub use rotation::AgentKeys;

use time::{Duration, OffsetDateTime};

/// How long an agent token is valid: one year, as in Finch 1.x. Renewal is `agent config`.
pub const AGENT_TOKEN_LIFETIME: Duration = Duration::days(365);

/// How long a dashboard session lasts unless the operator asks otherwise: 30 minutes, short
/// because dashboard tokens cannot be revoked.
pub const DEFAULT_DASHBOARD_SESSION: Duration = Duration::seconds(1800);

/// The issuer of every Finch token.
pub const ISSUER: &str = "finch";

/// Why a token was refused. The variant is what logs and metrics report; none of them carries
/// the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON inside, or larger than any token Finch mints.
    #[error("token is malformed")]
    Malformed,
    /// The header names an algorithm other than HS256 (`none` and HS512 included).
    #[error("token algorithm is not HS256")]
    UnsupportedAlgorithm,
    /// The signature does not match: another secret, or a tampered token.
    #[error("token signature is invalid")]
    BadSignature,
    /// An agent token signed with the previous secret after its grace (`previous_secret_until`)
    /// ended: the agent was not renewed in time.
    #[error("token is signed with the previous secret, whose grace has ended")]
    GraceEnded,
    /// The token has no `exp` claim.
    #[error("token has no expiry")]
    MissingExpiry,
    /// `exp` has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not `finch`.
    #[error("token issuer is not finch")]
    WrongIssuer,
    /// `sub` is not the kind of token expected here (a dashboard token used by an agent, say).
    #[error("token subject is wrong for this use")]
    WrongSubject,
    /// An agent token without a usable `rid` claim.
    #[error("token has no agent resource id")]
    MissingRid,
    /// A dashboard token whose role is not admin, operator or viewer.
    #[error("token role is invalid")]
    InvalidRole,
    /// A dashboard token whose scope is not a JSON list of strings.
    #[error("token scope is invalid")]
    InvalidScope,
}

/// A freshly minted token and the moment it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`.
    pub expires_at: OffsetDateTime,
}

// === impl TokenError ===

impl TokenError {
    /// A short, stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnsupportedAlgorithm => "unsupported_algorithm",
            TokenError::BadSignature => "bad_signature",
            TokenError::GraceEnded => "previous_secret_expired",
            TokenError::MissingExpiry => "missing_expiry",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::WrongSubject => "wrong_subject",
            TokenError::MissingRid => "missing_rid",
            TokenError::InvalidRole => "invalid_role",
            TokenError::InvalidScope => "invalid_scope",
        }
    }
}

// === impl MintedToken ===

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests;
