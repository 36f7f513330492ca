//! Finch: the service behind a self-hosted observability stack.
//!
//! Finch keeps the registry of enrolled Grafana Alloy agents and answers three kinds of callers:
//! Traefik's ForwardAuth calls for every agent write (`/auth`, answered from memory, see
//! [`forward_auth`] and [`directory`]), the operator's control plane over gRPC, and the read-only
//! dashboard. `main.rs` only wires these together; everything lives here so tests reach it.

pub mod agents;
pub mod store;
