//! Agent tokens across a secret rotation: [`AgentKeys`] verifies with the current secret and,
//! until a configured instant, with the previous one.
//!
//! `finchctl service rotate-secret --secret.grace DURATION` writes the old secret into
//! `finch.json` as `previous_secret` with the end of the grace as `previous_secret_until`, so
//! agents keep pushing while they are renewed. The previous key is tried only after the current
//! one reports a bad signature, so a token signed with the current secret costs what it did
//! before any rotation, and the grace ends on the clock `/auth` already reads, with no restart.
//! Only agent tokens get a grace: dashboard tokens live minutes and are verified with the
//! current key alone, and every token Finch issues is signed with the current key.

use time::OffsetDateTime;

use super::{AgentClaims, TokenError, TokenKey};
use crate::config::FinchConfig;

/// The keys an agent token may be signed with: the current secret's, and during a grace the
/// previous secret's.
#[derive(Debug, Clone)]
pub struct AgentKeys {
    current: TokenKey,
    previous: Option<PreviousKey>,
}

/// The previous secret's key and the end of its grace.
#[derive(Debug, Clone)]
struct PreviousKey {
    key: TokenKey,
    /// Unix seconds; tokens signed with `key` pass while `now < until`.
    until: i64,
}

// === impl AgentKeys ===

impl AgentKeys {
    /// Keys that accept only tokens signed with `current`.
    pub fn new(current: TokenKey) -> AgentKeys {
        AgentKeys {
            current,
            previous: None,
        }
    }

    /// Also accepts tokens signed with `secret` while the clock is before `until`.
    pub fn with_previous(mut self, secret: &[u8], until: OffsetDateTime) -> AgentKeys {
        self.previous = Some(PreviousKey {
            key: TokenKey::new(secret),
            until: until.unix_timestamp(),
        });
        self
    }

    /// The keys `config` names: `secret`, and `previous_secret` until `previous_secret_until`.
    pub fn for_config(config: &FinchConfig) -> AgentKeys {
        let keys = AgentKeys::new(TokenKey::new(config.secret.as_bytes()));
        match &config.previous_secret {
            Some(previous) => keys.with_previous(previous.secret.as_bytes(), previous.until),
            None => keys,
        }
    }

    /// Validates an agent token at `now` (Unix seconds), as [`TokenKey::verify_agent`] does,
    /// accepting the previous secret's signature inside its grace. A token the previous secret
    /// signed after the grace is [`TokenError::GraceEnded`], so the refusal says why.
    pub fn verify_agent(&self, token: &str, now: i64) -> Result<AgentClaims, TokenError> {
        match self.current.verify_agent(token, now) {
            Err(TokenError::BadSignature) => self.verify_previous(token, now),
            result => result,
        }
    }

    fn verify_previous(&self, token: &str, now: i64) -> Result<AgentClaims, TokenError> {
        let Some(previous) = &self.previous else {
            return Err(TokenError::BadSignature);
        };
        if now < previous.until {
            return previous.key.verify_agent(token, now);
        }
        match previous.key.verify_agent(token, now) {
            Err(TokenError::BadSignature) => Err(TokenError::BadSignature),
            _ => Err(TokenError::GraceEnded),
        }
    }
}

#[cfg(test)]
mod tests;
