//! Agent resource ids: `rid:finch:<service id>:agent:<uuid v4>`, as Finch 1.x mints them.

use std::fmt;

/// The resource id of an agent. Minted once at registration; the key every lookup uses.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentRid(String);

/// A resource id that cannot name an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RidError {
    /// The id is empty; an empty id never matches an agent.
    #[error("resource ID is required")]
    Empty,
    /// The id is longer than any id Finch mints or contains control characters.
    #[error("resource ID {0:?} is not valid")]
    Invalid(String),
}

/// Longest id accepted from a client: the service id part is free text in `finch.json`, so leave
/// generous room above the 66 characters of a 1.x id with a 16-character service id.
const MAX_RID_LEN: usize = 256;

// === impl AgentRid ===

impl AgentRid {
    /// Mints a fresh id for a new agent of the service `service_id`.
    pub fn mint(service_id: &str) -> Self {
        AgentRid(format!(
            "{}{}",
            Self::minted_prefix(service_id),
            uuid::Uuid::new_v4().hyphenated()
        ))
    }

    /// What every id [`AgentRid::mint`] makes for `service_id` starts with; a lowercase
    /// hyphenated UUID follows.
    pub fn minted_prefix(service_id: &str) -> String {
        format!("rid:finch:{service_id}:agent:")
    }

    /// Accepts an id given by a client or stored in the database. The only checks are the ones
    /// that keep lookups sound: an empty id never names an agent, and ids are bounded.
    pub fn parse(value: &str) -> Result<Self, RidError> {
        if value.is_empty() {
            return Err(RidError::Empty);
        }
        if value.len() > MAX_RID_LEN || value.chars().any(char::is_control) {
            return Err(RidError::Invalid(value.chars().take(80).collect()));
        }
        Ok(AgentRid(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the id into its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for AgentRid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AgentRid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for AgentRid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_rid_has_five_parts_and_a_uuid() {
        let rid = AgentRid::mint("test-id");
        let parts: Vec<&str> = rid.as_str().split(':').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(&parts[..4], ["rid", "finch", "test-id", "agent"]);
        assert_eq!(parts[4].len(), 36);
        assert!(uuid::Uuid::parse_str(parts[4]).is_ok());
    }

    #[test]
    fn empty_rid_is_refused() {
        assert_eq!(AgentRid::parse(""), Err(RidError::Empty));
    }

    #[test]
    fn oversized_or_control_rid_is_refused() {
        assert!(AgentRid::parse(&"x".repeat(MAX_RID_LEN + 1)).is_err());
        assert!(AgentRid::parse("rid:finch:a\n").is_err());
    }
}
