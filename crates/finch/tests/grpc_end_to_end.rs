//! The control plane and `/auth` together, in the whole service: an agent registered over gRPC
//! pushes with the token from its config, and is refused on the next request after it is
//! deregistered.

#![allow(clippy::unwrap_used)]

use finch_api::agent_service_client::AgentServiceClient;
use finch_api::{DeregisterAgentRequest, RegisterAgentRequest};
use finch_testkit::{Headers, OPERATOR, Pki, agent_config, bearer_token, header};
use finch_testkit::{Library, forward_auth, http};
use tonic::transport::Channel;

#[tokio::test]
async fn config_token_passes_auth_until_the_agent_is_deregistered() {
    let library = Library::new();
    let service = library.start().await;
    let addresses = service.addresses();

    let pki = Pki::new(OPERATOR);
    let certs_dir = library.config().certs_dir();
    std::fs::create_dir_all(&certs_dir).unwrap();
    std::fs::write(certs_dir.join(format!("{OPERATOR}.pem")), &pki.ca_pem).unwrap();
    let channel = Channel::from_shared(format!("http://{}", addresses.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let headers = Headers {
        cert: Some(header(&[&pki.client()])),
        ..Headers::default()
    };
    let mut agents = AgentServiceClient::with_interceptor(channel, headers);

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
    let url = format!("http://{}/auth", addresses.auth);
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

    service.stop().await;
}
