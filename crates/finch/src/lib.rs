//! Finch: the service behind a self-hosted observability stack.
//!
//! Finch keeps the registry of enrolled Grafana Alloy agents and answers three kinds of callers:
//! Traefik's ForwardAuth calls for every agent write (`/auth`, answered from memory, see
//! [`forward_auth`] and [`directory`]), the operator's control plane over gRPC, and the read-only
//! dashboard. `main.rs` only wires these together; everything lives here so tests reach it.

pub mod agents;
pub mod alloy;
pub mod backup;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod directory;
pub mod forward_auth;
pub mod grpc;
pub mod headers;
pub mod health;
pub mod init;
pub mod liveness;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod registry;
pub mod remote_addr;
pub mod run;
pub mod serve;
pub mod store;
pub mod tokens;
pub mod version;
