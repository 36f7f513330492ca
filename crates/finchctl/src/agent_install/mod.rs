//! Installing Grafana Alloy as a Finch agent on a host, as plans for the target layer:
//! `agent deploy`, `update` and `teardown` build them, the target layer runs them over SSH.
//!
//! [`platform`] reads the host (OS, architecture, init system) before anything changes;
//! [`layout`] says where the files go and what the service and its user are called;
//! [`release`] fetches the pinned (or named) Alloy release and verifies it against the
//! release's `SHA256SUMS`; [`service_files`] renders our own systemd unit, launchd plist and
//! rc.d script; [`plan`] puts it together so that a repeated run changes, reloads and restarts
//! only what differs; [`health`] reads an installed agent without changing it.

pub mod health;
pub mod layout;
pub mod plan;
pub mod platform;
pub mod release;
pub mod service_files;
