//! The small values the Store API hands back besides agents and pages: the change version, the
//! directory's rows and the fleet's summaries.
//!
//! Every backend builds them, so they live above the backends, beside `StoreError`.

use crate::agents::AgentRid;

/// The value of the store's change counter after a write, or as read by a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChangeVersion(pub i64);

/// The part of an agent the auth path needs, as loaded into the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRow {
    /// Resource id.
    pub rid: AgentRid,
    /// May push metrics.
    pub metrics: bool,
    /// May push profiles.
    pub profiles: bool,
}

/// An agent's resource id and host name: what a fleet-wide listing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSummary {
    /// Resource id.
    pub rid: AgentRid,
    /// Host name.
    pub hostname: String,
}

/// A change to `agents` announced by the database (PostgreSQL's `NOTIFY`), whoever made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeNotice {
    /// The write that produced change version `version` touched the agents `rids` (an update
    /// that renamed an agent's resource id names both).
    Agents {
        /// The change version the write produced.
        version: ChangeVersion,
        /// The resource ids it touched, as stored (possibly empty or not a valid id).
        rids: Vec<String>,
    },
    /// Something changed that the notice does not name (a `TRUNCATE`, a payload this version
    /// cannot read): every agent must be read again.
    Unknown,
}
