//! `InfoService` and `DashboardService` through a real tonic client over h2c against a running
//! finch gRPC server, with the certificate header set as Traefik sets it.

#![allow(clippy::unwrap_used)]

use finch_api::{GetDashboardTokenRequest, GetServiceInfoRequest};
use finch_testkit::{ControlPlane, SERVICE_HOST, SERVICE_ID, assert_status};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Code;

#[tokio::test]
async fn service_info_returns_config_and_build() {
    let plane = ControlPlane::start().await;
    let cert = plane.operator_cert();
    let mut info = plane.info(plane.traefik(Some(&cert))).await;
    let response = info
        .get_service_info(GetServiceInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.id, SERVICE_ID);
    assert_eq!(response.hostname, SERVICE_HOST);
    assert_eq!(response.created_at, "2026-11-23T10:00:00Z");
    assert_eq!(response.release, finch::version::RELEASE);
    assert_eq!(response.commit, finch::version::COMMIT);
}

#[tokio::test]
async fn dashboard_token_defaults_bounds_and_roles() {
    let plane = ControlPlane::start().await;
    let cert = plane.operator_cert();
    let mut dashboard = plane.dashboard(plane.traefik(Some(&cert))).await;

    let response = dashboard
        .get_dashboard_token(GetDashboardTokenRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.dashboard_url,
        format!("https://{SERVICE_HOST}/login")
    );
    let expires = OffsetDateTime::parse(&response.expires_at, &Rfc3339).unwrap();
    let lifetime = expires - OffsetDateTime::now_utc();
    assert!(
        (1790..=1800).contains(&lifetime.whole_seconds()),
        "{lifetime}"
    );
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = plane.tokens.verify_dashboard(&response.token, now).unwrap();
    assert_eq!(claims.role.as_str(), "viewer");

    let response = dashboard
        .get_dashboard_token(GetDashboardTokenRequest {
            session_timeout: Some(60),
            role: "admin".into(),
            scope: vec!["web-1".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let claims = plane.tokens.verify_dashboard(&response.token, now).unwrap();
    assert_eq!(claims.role.as_str(), "admin");

    for timeout in [0, -5] {
        let request = GetDashboardTokenRequest {
            session_timeout: Some(timeout),
            ..Default::default()
        };
        assert_status(
            dashboard.get_dashboard_token(request).await,
            Code::InvalidArgument,
            "session_timeout must be positive",
        );
    }
    let request = GetDashboardTokenRequest {
        role: "root".into(),
        ..Default::default()
    };
    assert_status(
        dashboard.get_dashboard_token(request).await,
        Code::InvalidArgument,
        "invalid role",
    );
}
