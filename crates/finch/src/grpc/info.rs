//! `finch.InfoService` and `finch.DashboardService`: what the service is, and dashboard logins.

use finch_api::dashboard_service_server::DashboardService;
use finch_api::info_service_server::InfoService;
use finch_api::{
    GetDashboardTokenRequest, GetDashboardTokenResponse, GetServiceInfoRequest,
    GetServiceInfoResponse,
};
use time::{Duration, OffsetDateTime};
use tonic::{Request, Response, Status};

use super::GrpcState;
use super::error::ApiError;
use super::rfc3339;
use crate::tokens::{DEFAULT_DASHBOARD_SESSION, Role};
use crate::version::{COMMIT, RELEASE};

/// The info service over the shared state.
#[derive(Debug, Clone)]
pub(crate) struct InfoApi {
    pub(crate) state: GrpcState,
}

/// The dashboard service over the shared state.
#[derive(Debug, Clone)]
pub(crate) struct DashboardApi {
    pub(crate) state: GrpcState,
}

#[tonic::async_trait]
impl InfoService for InfoApi {
    async fn get_service_info(
        &self,
        _: Request<GetServiceInfoRequest>,
    ) -> Result<Response<GetServiceInfoResponse>, Status> {
        let config = self.state.config();
        Ok(Response::new(GetServiceInfoResponse {
            id: config.id.clone(),
            hostname: config.hostname.clone(),
            // Verbatim from finch.json, as 1.x returns it.
            created_at: config.created_at.clone(),
            release: RELEASE.to_owned(),
            commit: COMMIT.to_owned(),
        }))
    }
}

#[tonic::async_trait]
impl DashboardService for DashboardApi {
    async fn get_dashboard_token(
        &self,
        request: Request<GetDashboardTokenRequest>,
    ) -> Result<Response<GetDashboardTokenResponse>, Status> {
        let r = request.into_inner();
        let lifetime = session_lifetime(r.session_timeout)?;
        let role = Role::parse_or_viewer(&r.role).map_err(ApiError::from)?;
        let minted =
            self.state
                .tokens()
                .mint_dashboard(role, &r.scope, lifetime, OffsetDateTime::now_utc());
        Ok(Response::new(GetDashboardTokenResponse {
            token: minted.token,
            expires_at: rfc3339(minted.expires_at),
            dashboard_url: self.state.config().public_url("/login"),
        }))
    }
}

/// The session length asked for: absent means [`DEFAULT_DASHBOARD_SESSION`], and a given value
/// must be positive (1.x sets no upper bound, and finchctl users rely on long sessions).
fn session_lifetime(seconds: Option<i32>) -> Result<Duration, ApiError> {
    match seconds {
        None => Ok(DEFAULT_DASHBOARD_SESSION),
        Some(seconds) if seconds > 0 => Ok(Duration::seconds(i64::from(seconds))),
        Some(_) => Err(ApiError::InvalidArgument(
            "session_timeout must be positive".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lifetime_defaults_and_bounds() {
        assert_eq!(session_lifetime(None).ok(), Some(Duration::seconds(1800)));
        assert_eq!(session_lifetime(Some(60)).ok(), Some(Duration::seconds(60)));
        for bad in [0, -1, i32::MIN] {
            let err = session_lifetime(Some(bad)).expect_err("not positive");
            assert_eq!(err.to_string(), "session_timeout must be positive");
        }
    }
}
