//! [`ControlPlane`]: the real service over a temporary library, reached on its gRPC port as
//! Traefik reaches it (h2c), with clients whose [`Headers`] stand in for what Traefik adds: the
//! forwarded client certificate, the proxy secret, `X-Forwarded-For`.

use std::net::SocketAddr;
use std::path::PathBuf;

use finch::grpc::{CLIENT_CERT_HEADER, PROXY_SECRET_HEADER};
use finch::registry::Registry;
use finch::run::Service;
use finch::store::Store;
use finch::tokens::TokenKey;
use finch_api::agent_service_client::AgentServiceClient;
use finch_api::dashboard_service_client::DashboardServiceClient;
use finch_api::info_service_client::InfoServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{Library, OPERATOR, Pki, header};

/// An agent client whose calls carry [`Headers`].
pub type AgentClient = AgentServiceClient<InterceptedService<Channel, Headers>>;

/// The whole service, started through [`Library::start`], seen from its gRPC port.
pub struct ControlPlane {
    /// The gRPC listener.
    pub addr: SocketAddr,
    /// The running service's registry.
    pub registry: Registry,
    /// The running service's store.
    pub store: Store,
    /// The library's token key.
    pub tokens: TokenKey,
    /// The proxy secret in `finch.json`, if any.
    pub proxy_secret: Option<String>,
    /// The running service.
    pub service: Service,
    /// The library (dropped last).
    pub library: Library,
}

/// Metadata a client call carries.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    /// The certificate header, as `passTLSClientCert` sets it.
    pub cert: Option<String>,
    /// `X-Finch-Proxy-Secret`, as the stack's Traefik adds it.
    pub proxy_secret: Option<String>,
    /// `X-Forwarded-For`, as Traefik adds it.
    pub forwarded_for: Option<String>,
}

// === impl ControlPlane ===

impl ControlPlane {
    /// A control plane without a proxy secret.
    pub async fn start() -> ControlPlane {
        ControlPlane::start_with(None).await
    }

    /// Starts with `proxy_secret` in `finch.json`, if given.
    pub async fn start_with(proxy_secret: Option<&str>) -> ControlPlane {
        let library = Library::with(|config| {
            config.proxy_secret = proxy_secret.map(str::to_owned);
        });
        let service = library.start().await;
        ControlPlane {
            addr: service.addresses().grpc,
            registry: service.registry().clone(),
            store: service.registry().store().clone(),
            tokens: library.tokens(),
            proxy_secret: proxy_secret.map(str::to_owned),
            service,
            library,
        }
    }

    /// Where operators' CA files go.
    pub fn certs_dir(&self) -> PathBuf {
        self.library.certs_dir()
    }

    /// Installs `pki`'s CA as its operator's trust anchor, as finchctl does at enrolment.
    pub fn enroll(&self, pki: &Pki) {
        self.library.enroll(&pki.cn, &pki.ca_pem);
    }

    /// A new h2c channel to the gRPC port.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Headers as Traefik would send them with `cert` (and the proxy secret, if configured).
    pub fn traefik(&self, cert: Option<&str>) -> Headers {
        Headers {
            cert: cert.map(str::to_owned),
            proxy_secret: self.proxy_secret.clone(),
            forwarded_for: None,
        }
    }

    /// An agent client sending `headers`.
    pub async fn agents(&self, headers: Headers) -> AgentClient {
        AgentServiceClient::with_interceptor(self.channel().await, headers)
    }

    /// An info client sending `headers`.
    pub async fn info(
        &self,
        headers: Headers,
    ) -> InfoServiceClient<InterceptedService<Channel, Headers>> {
        InfoServiceClient::with_interceptor(self.channel().await, headers)
    }

    /// A dashboard client sending `headers`.
    pub async fn dashboard(
        &self,
        headers: Headers,
    ) -> DashboardServiceClient<InterceptedService<Channel, Headers>> {
        DashboardServiceClient::with_interceptor(self.channel().await, headers)
    }

    /// Enrolls a fresh CA for [`OPERATOR`] and returns it.
    pub fn enroll_operator(&self) -> Pki {
        let pki = Pki::new(OPERATOR);
        self.enroll(&pki);
        pki
    }

    /// The certificate header of a freshly enrolled [`OPERATOR`]'s valid certificate.
    pub fn operator_cert(&self) -> String {
        header(&[&self.enroll_operator().client()])
    }

    /// An agent client of an enrolled operator with a valid certificate.
    pub async fn operator(&self) -> AgentClient {
        let cert = self.operator_cert();
        self.agents(self.traefik(Some(&cert))).await
    }
}

/// The rendered agent config `GetAgentConfig` returns for `rid`.
pub async fn agent_config(agents: &mut AgentClient, rid: &str) -> String {
    let config = agents
        .get_agent_config(finch_api::GetAgentConfigRequest {
            rid: rid.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .config;
    String::from_utf8(config).unwrap()
}

/// The bearer token a rendered agent config carries.
pub fn bearer_token(config: &str) -> String {
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("bearer_token = "))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

/// Asserts that a call failed with `code` and `message`, and returns the status.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    message: &str,
) -> tonic::Status {
    let status = result.expect_err("call should fail");
    assert_eq!(
        (status.code(), status.message()),
        (code, message),
        "{status:?}"
    );
    status
}

// === impl Headers ===

impl tonic::service::Interceptor for Headers {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        for (name, value) in [
            (CLIENT_CERT_HEADER, &self.cert),
            (PROXY_SECRET_HEADER, &self.proxy_secret),
            ("x-forwarded-for", &self.forwarded_for),
        ] {
            if let Some(value) = value {
                metadata.insert(name, MetadataValue::try_from(value.as_str()).unwrap());
            }
        }
        Ok(request)
    }
}
