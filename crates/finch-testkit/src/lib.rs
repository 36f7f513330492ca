//! The one test kit shared by `finch`'s and `finchctl`'s tests and by `bench/`.
//!
//! Every test that needs the service gets it the same way: a [`Library`] (a temporary directory
//! with `finch.json` written by the production writer, [`finch::config::FinchConfig::write_new`])
//! starts the real service through the production [`finch::run::Service`] on loopback port 0, or
//! as the `finch` binary ([`FinchProcess`]). Around it: the operator's PKI built on
//! [`finchctl::mtls`] ([`Pki`]), gRPC clients that set the headers Traefik sets
//! ([`ControlPlane`], [`Headers`]), a real Traefik in front ([`Traefik`], [`Stage`]), a real
//! OpenSSH server for tests that reach a target over SSH ([`sshd`]), a Linux host with systemd
//! as its init booted in a container of its own ([`systemd_host`]), a throw-away PostgreSQL
//! server ([`postgres`]), Finch 1.x's database and tokens ([`legacy`]), a Prometheus
//! remote-write push ([`remote_write`]), headless Chromium on the dashboard ([`browser`]), and
//! waiting on a condition under a deadline ([`eventually`]) instead of sleeping.
//!
//! Panicking is how a test fails, so the kit unwraps freely; it is never part of a release.

#![allow(clippy::unwrap_used)]

mod agents;
pub mod browser;
mod control_plane;
mod http;
pub mod legacy;
mod library;
mod logs;
mod pki;
pub mod postgres;
mod process;
pub mod remote_write;
mod replica;
pub mod sshd;
mod stage;
pub mod systemd_host;
mod traefik;
mod wait;

pub use agents::{agent_spec, labelled_spec, registration};
pub use control_plane::{ControlPlane, Headers, agent_config, assert_status, bearer_token};
pub use http::{auth_status, forward_auth, http};
pub use library::{Library, register};
pub use logs::LogCapture;
pub use pki::{Pki, header};
pub use process::FinchProcess;
pub use replica::{Replica, quantile, revocation_delay};
pub use stage::Stage;
pub use traefik::{EntryPoint, Traefik, TraefikBinary};
pub use wait::{DEADLINE, eventually};

/// The secret of every test library. Like finchctl's, base64 text used as raw bytes.
pub const SECRET: &str = "dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC0xMjM=";
/// The service id of every test library.
pub const SERVICE_ID: &str = "0123456789abcdef";
/// The public host name of every test library.
pub const SERVICE_HOST: &str = "finch.example.com";
/// When every test library was created.
pub const CREATED_AT: &str = "2026-11-23T10:00:00Z";
/// The operator RID the kit's client certificates are issued to.
pub const OPERATOR: &str = "rid:finchctl:a1b2c3d4e5f6a7b8";
