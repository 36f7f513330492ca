//! [`Stage`]: the real service behind a real Traefik, as a stack runs them: TLS with Traefik's
//! self-signed default certificate, `RequestClientCert`, `passTLSClientCert` (pem), the proxy
//! secret added on the gRPC route, and an h2c route to finch's gRPC port. An operator is
//! enrolled with credentials from [`Pki`], which finchctl's tests hand to the real binary.
//!
//! The Traefik configuration is written here by hand until the stack's rendered one exists;
//! then the stage must use the rendered one.

use std::net::SocketAddr;
use std::time::Duration;

use finch::run::Service;
use finch_api::agent_service_client::AgentServiceClient;
use finch_api::{AgentListItem, GetAgentRequest, GetAgentResponse, ListAgentsRequest};
use finchctl::client::{self, ConnectConfig, ServerPin, Verification};
use finchctl::mtls::ClientCredentials;
use finchctl::profile::Stack;
use time::OffsetDateTime;
use tonic::transport::Channel;

use crate::control_plane::AgentClient;
use crate::{EntryPoint, Headers, Library, Pki, Traefik, TraefikBinary, header};

/// The proxy secret every stage's `finch.json` and Traefik share.
const PROXY_SECRET: &str = "proxy-secret-for-tests";

/// How long one readiness call through Traefik may take.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// finch behind Traefik with one enrolled operator.
pub struct Stage {
    /// Traefik in front (dropped first).
    pub traefik: Traefik,
    /// The service behind it.
    pub service: Service,
    /// The operator's CA, enrolled in the library.
    pub pki: Pki,
    /// The operator's credentials.
    pub credentials: ClientCredentials,
    /// The library (dropped last).
    pub library: Library,
}

// === impl Stage ===

impl Stage {
    /// A stage whose operator `rid` got fresh credentials; `None` when Traefik is missing
    /// outside CI (the reason is printed).
    pub async fn start(rid: &str) -> Option<Stage> {
        Stage::start_issued(rid, OffsetDateTime::now_utc()).await
    }

    /// A stage whose operator's client certificate was issued at `issued`.
    pub async fn start_issued(rid: &str, issued: OffsetDateTime) -> Option<Stage> {
        let binary = TraefikBinary::find_or_skip()?;
        let library = Library::with(|config| {
            config.proxy_secret = Some(PROXY_SECRET.to_owned());
        });
        let pki = Pki::new(rid);
        library.enroll(rid, &pki.ca_pem);
        let credentials = pki.credentials_at(issued);
        let service = library.start().await;
        let dynamic = grpc_routes(service.addresses().grpc, Some(PROXY_SECRET));
        let traefik = Traefik::start(&binary, EntryPoint::WebSecure, &dynamic, |address| {
            service_info(address, &credentials)
        })
        .await;
        Some(Stage {
            traefik,
            service,
            pki,
            credentials,
            library,
        })
    }

    /// The service name finchctl dials: `127.0.0.1:<port>` of Traefik.
    pub fn name(&self) -> String {
        self.traefik.address()
    }

    /// The pin of the certificate Traefik presents.
    pub async fn pin(&self) -> ServerPin {
        client::fetch_server_pin(&self.name(), READINESS_TIMEOUT)
            .await
            .unwrap()
    }

    /// This stage as finchctl's profile lists it, with `credentials`, pinned or not.
    pub async fn stack(&self, credentials: &ClientCredentials, pinned: bool) -> Stack {
        let server_pin = match pinned {
            true => Some(self.pin().await.to_string()),
            false => None,
        };
        Stack {
            name: self.name(),
            cert_pem: credentials.cert_pem.clone(),
            key_pem: credentials.key_pem.clone(),
            server_pin,
        }
    }

    /// An agent as the service holds it, asked on its gRPC port (past Traefik), or `None`.
    pub async fn agent(&self, rid: &str) -> Option<GetAgentResponse> {
        let request = GetAgentRequest {
            rid: rid.to_owned(),
        };
        match self.backend().await.get_agent(request).await {
            Ok(response) => Some(response.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => panic!("GetAgent {rid}: {status:?}"),
        }
    }

    /// Every agent the service holds, asked on its gRPC port (past Traefik).
    pub async fn agents(&self) -> Vec<AgentListItem> {
        let mut client = self.backend().await;
        let response = client.list_agents(ListAgentsRequest {}).await.unwrap();
        response.into_inner().agents
    }

    /// A client of the service's own gRPC port, with the headers Traefik would add.
    async fn backend(&self) -> AgentClient {
        let channel = Channel::from_shared(format!("http://{}", self.service.addresses().grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let headers = Headers {
            cert: Some(header(&[&self.pki.client()])),
            proxy_secret: Some(PROXY_SECRET.to_owned()),
            forwarded_for: None,
        };
        AgentServiceClient::with_interceptor(channel, headers)
    }

    /// Stops the service; Traefik and the library go with the stage.
    pub async fn stop(self) {
        drop(self.traefik);
        self.service.stop().await;
    }
}

/// `GetServiceInfo` through Traefik at `address` with `credentials`.
async fn service_info(address: String, credentials: &ClientCredentials) -> Result<(), String> {
    let config = ConnectConfig {
        service: address,
        cert_pem: credentials.cert_pem.clone(),
        key_pem: credentials.key_pem.clone(),
        verification: Verification::Skip,
        user_agent: "readiness".into(),
        timeout: READINESS_TIMEOUT,
    };
    let channel = client::connect(&config)
        .await
        .map_err(|err| err.to_string())?;
    finch_api::info_service_client::InfoServiceClient::new(channel)
        .get_service_info(finch_api::GetServiceInfoRequest {})
        .await
        .map(drop)
        .map_err(|status| format!("{status:?}"))
}

/// Traefik's dynamic configuration for the gRPC route to `backend`, adding
/// `X-Finch-Proxy-Secret` when `proxy_secret` is given.
fn grpc_routes(backend: SocketAddr, proxy_secret: Option<&str>) -> String {
    let (middlewares, secret_middleware) = match proxy_secret {
        Some(secret) => (
            "[client-cert, proxy-secret]",
            format!(
                "    proxy-secret:\n      headers:\n        customRequestHeaders:\n          X-Finch-Proxy-Secret: \"{secret}\"\n"
            ),
        ),
        None => ("[client-cert]", String::new()),
    };
    format!(
        "http:
  routers:
    finch-grpc:
      rule: \"PathPrefix(`/finch.`)\"
      entryPoints: [websecure]
      service: finch-grpc
      middlewares: {middlewares}
      tls: {{}}
  middlewares:
    client-cert:
      passTLSClientCert:
        pem: true
{secret_middleware}  services:
    finch-grpc:
      loadBalancer:
        servers:
          - url: \"h2c://{backend}\"
tls:
  options:
    # TLS options chosen per router apply only to Host rules (by SNI); `default` applies to
    # every connection, which is what the stack needs.
    default:
      clientAuth:
        clientAuthType: RequestClientCert
"
    )
}
