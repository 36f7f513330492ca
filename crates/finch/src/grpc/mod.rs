//! The control plane: gRPC (package `finch`) for `finchctl`, wire-compatible with Finch 1.x.
//!
//! [`router`] serves `AgentService`, `InfoService`, `DashboardService` and server reflection
//! (v1 and v1alpha) as one axum router for the h2c listener; the caller adds `ConnectInfo<SocketAddr>` to
//! requests so logs can name the peer. One layer ([`layer`]) sits in front of every route:
//! it authenticates the operator's client certificate ([`auth`], [`client_cert`]), adds the
//! `x-finch-release`/`x-finch-commit` metadata to authenticated answers and logs each call once.
//! Handlers ([`agent`], [`info`]) return [`ApiError`], the surface's one error type.

mod agent;
mod auth;
mod auth_failure;
mod client_cert;
mod error;
mod info;
mod layer;

pub use auth::{Authenticator, Operator, PROXY_SECRET_HEADER, verify_chain};
pub use auth_failure::AuthFailure;
pub use client_cert::{
    CLIENT_CERT_HEADER, MAX_CLIENT_CERT_HEADER_LEN, OPERATOR_CN_PREFIX, is_operator_cn,
    operator_cn, parse_header,
};
pub use error::{ApiError, INTERNAL_MESSAGE};
pub use layer::PERMISSION_DENIED;

use std::sync::Arc;

use finch_api::agent_service_server::AgentServiceServer;
use finch_api::dashboard_service_server::DashboardServiceServer;
use finch_api::info_service_server::InfoServiceServer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::FinchConfig;
use crate::registry::Registry;
use crate::tokens::TokenKey;

/// What every handler and the call layer share. Cheap to clone.
#[derive(Clone)]
pub struct GrpcState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<FinchConfig>,
    registry: Registry,
    tokens: TokenKey,
    authenticator: Authenticator,
}

// === impl GrpcState ===

impl GrpcState {
    /// State for a control plane over `registry`, minting with `tokens` and trusting the CA
    /// files under `config.certs_dir()` (and `config.proxy_secret`, if set).
    pub fn new(config: Arc<FinchConfig>, registry: Registry, tokens: TokenKey) -> GrpcState {
        let authenticator = Authenticator::new(config.certs_dir(), config.proxy_secret.clone());
        GrpcState {
            inner: Arc::new(Inner {
                config,
                registry,
                tokens,
                authenticator,
            }),
        }
    }

    /// The service configuration.
    pub fn config(&self) -> &FinchConfig {
        &self.inner.config
    }

    /// The agent registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The token key.
    pub fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// The call authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }
}

impl std::fmt::Debug for GrpcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcState")
            .field("config", &self.inner.config)
            .field("authenticator", &self.inner.authenticator)
            .finish_non_exhaustive()
    }
}

/// The gRPC router: every service and reflection behind the call layer.
pub fn router(state: GrpcState) -> axum::Router {
    let mut routes = tonic::service::Routes::new(AgentServiceServer::new(agent::AgentApi {
        state: state.clone(),
    }))
    .add_service(InfoServiceServer::new(info::InfoApi {
        state: state.clone(),
    }))
    .add_service(DashboardServiceServer::new(info::DashboardApi {
        state: state.clone(),
    }));
    // Both reflection versions, as gRPC-Go's `reflection.Register` in 1.x: grpcurl and older
    // tools still ask v1alpha.
    match (
        reflection_builder().build_v1(),
        reflection_builder().build_v1alpha(),
    ) {
        (Ok(v1), Ok(v1alpha)) => routes = routes.add_service(v1).add_service(v1alpha),
        // The descriptor set is compiled in, so this means a broken build; serve without it.
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "gRPC reflection disabled")
        }
    }
    routes
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(
            state,
            layer::call_layer,
        ))
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(finch_api::FILE_DESCRIPTOR_SET)
}

/// RFC 3339 with whole seconds, as Go's `time.RFC3339` writes it (`2026-01-02T03:04:05Z`).
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn reflection_builds_from_the_compiled_descriptor() {
        assert!(reflection_builder().build_v1().is_ok());
        assert!(reflection_builder().build_v1alpha().is_ok());
    }

    #[test]
    fn rfc3339_has_whole_seconds() {
        assert_eq!(
            rfc3339(datetime!(2026-01-02 03:04:05.678 UTC)),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339(datetime!(2026-01-02 03:04:05 +02:00)),
            "2026-01-02T03:04:05+02:00"
        );
    }
}
