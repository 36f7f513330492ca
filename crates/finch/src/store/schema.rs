//! The `agents` schema and the legacy migrations of Finch 1.x databases.
