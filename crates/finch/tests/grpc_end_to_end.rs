//! The control plane and `/auth` together, in the whole service: an agent registered over gRPC
//! pushes with the token from its config, and is refused on the next request after it is
//! deregistered.

#![allow(clippy::unwrap_used)]

use finch_api::{DeregisterAgentRequest, RegisterAgentRequest};
use finch_testkit::{ControlPlane, agent_config, bearer_token, forward_auth, http};

#[tokio::test]
async fn config_token_passes_auth_until_the_agent_is_deregistered() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;

    let rid = agents
        .register_agent(RegisterAgentRequest {
            hostname: "web-1.example.com".into(),
            log_sources: vec!["journal://".into()],
            node: "unix".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rid;
    let token = bearer_token(&agent_config(&mut agents, &rid).await);

    let client = http();
    let url = format!("http://{}/auth", plane.service.addresses().auth);
    let bearer = format!("Bearer {token}");
    let push = "/loki/api/v1/push";
    let response = forward_auth(&client, &url, Some(&bearer), "POST", push).await;
    assert_eq!(response.status(), 200);

    agents
        .deregister_agent(DeregisterAgentRequest { rid })
        .await
        .unwrap();
    let response = forward_auth(&client, &url, Some(&bearer), "POST", push).await;
    assert_eq!(response.status(), 401);

    plane.service.stop().await;
}
