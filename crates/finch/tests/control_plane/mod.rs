//! Harness for the control-plane tests: operator PKI made with rcgen, a real finch gRPC server on
//! a loopback port (h2c, as Traefik talks to it), and tonic clients that set the certificate
//! header the way Traefik's `passTLSClientCert` does.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use finch::config::FinchConfig;
use finch::directory::Directory;
use finch::grpc::{CLIENT_CERT_HEADER, GrpcState, PROXY_SECRET_HEADER};
use finch::registry::Registry;
use finch::store::Store;
use finch::tokens::TokenKey;
use finch_api::agent_service_client::AgentServiceClient;
use finch_api::dashboard_service_client::DashboardServiceClient;
use finch_api::info_service_client::InfoServiceClient;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const SECRET: &str = "dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC0xMjM=";
pub const SERVICE_ID: &str = "0123456789abcdef";
pub const SERVICE_HOST: &str = "finch.example.com";
pub const OPERATOR: &str = "rid:finchctl:a1b2c3d4e5f6a7b8";

/// An operator's CA, as finchctl makes one: CN = the stack's host name, valid 90 days.
pub struct Pki {
    pub cn: String,
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new(cn: &str) -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = name(SERVICE_HOST);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(90);
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            cn: cn.to_owned(),
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A client certificate for `cn` with clientAuth, valid now; `edit` changes the params.
    pub fn client_with(&self, cn: &str, edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut params = client_params(cn);
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        params.signed_by(&key, &self.issuer).unwrap().der().to_vec()
    }

    /// The operator's valid client certificate.
    pub fn client(&self) -> Vec<u8> {
        self.client_with(&self.cn, |_| {})
    }

    /// An intermediate CA under this CA, and a client certificate issued by it.
    pub fn chain(&self) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = name("finch intermediate");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(30);
        let intermediate = params.signed_by(&key, &self.issuer).unwrap().der().to_vec();
        let issuer = Issuer::new(params, key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = client_params(&self.cn)
            .signed_by(&leaf_key, &issuer)
            .unwrap()
            .der()
            .to_vec();
        (leaf, intermediate)
    }
}

fn client_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(90);
    params
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// The header value Traefik sends for `chain` (leaf first): base64 DER joined by `,`.
pub fn header(chain: &[&[u8]]) -> String {
    chain
        .iter()
        .map(|der| STANDARD.encode(der))
        .collect::<Vec<_>>()
        .join(",")
}

/// A finch control plane on a loopback port over a temporary library.
pub struct ControlPlane {
    pub addr: SocketAddr,
    pub library: tempfile::TempDir,
    pub config: Arc<FinchConfig>,
    pub registry: Registry,
    pub store: Store,
    pub tokens: TokenKey,
    pub proxy_secret: Option<String>,
    server: tokio::task::JoinHandle<()>,
}

impl ControlPlane {
    pub async fn start() -> ControlPlane {
        ControlPlane::start_with(None).await
    }

    /// Starts with `proxy_secret` in `finch.json`, if given.
    pub async fn start_with(proxy_secret: Option<&str>) -> ControlPlane {
        let library = tempfile::tempdir().unwrap();
        let mut json = serde_json::json!({
            "created_at": "2026-11-23T10:00:00Z",
            "database": "sqlite://finch.db",
            "hostname": SERVICE_HOST,
            "id": SERVICE_ID,
            "secret": SECRET,
        });
        if let Some(secret) = proxy_secret {
            json["proxy_secret"] = secret.into();
        }
        let path = library.path().join("finch.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let config = Arc::new(FinchConfig::load(&path).unwrap());
        std::fs::create_dir_all(config.certs_dir()).unwrap();
        let store = Store::open(&config.database, &config.library_dir)
            .await
            .unwrap();
        let directory = Directory::load(&store, SERVICE_ID).await.unwrap();
        let registry = Registry::new(store.clone(), directory, SERVICE_ID.into());
        let tokens = TokenKey::new(SECRET.as_bytes());
        let state = GrpcState::new(Arc::clone(&config), registry.clone(), tokens.clone());
        let app = finch::grpc::router(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        ControlPlane {
            addr,
            library,
            config,
            registry,
            store,
            tokens,
            proxy_secret: proxy_secret.map(str::to_owned),
            server,
        }
    }

    pub fn certs_dir(&self) -> PathBuf {
        self.config.certs_dir()
    }

    /// Installs `pki`'s CA as its operator's trust anchor, as finchctl does at enrolment.
    pub fn enroll(&self, pki: &Pki) {
        std::fs::write(
            self.certs_dir().join(format!("{}.pem", pki.cn)),
            &pki.ca_pem,
        )
        .unwrap();
    }

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

    pub async fn agents(
        &self,
        headers: Headers,
    ) -> AgentServiceClient<InterceptedService<Channel, Headers>> {
        AgentServiceClient::with_interceptor(self.channel().await, headers)
    }

    pub async fn info(
        &self,
        headers: Headers,
    ) -> InfoServiceClient<InterceptedService<Channel, Headers>> {
        InfoServiceClient::with_interceptor(self.channel().await, headers)
    }

    pub async fn dashboard(
        &self,
        headers: Headers,
    ) -> DashboardServiceClient<InterceptedService<Channel, Headers>> {
        DashboardServiceClient::with_interceptor(self.channel().await, headers)
    }

    /// An agent client of an enrolled operator with a valid certificate.
    pub async fn operator(&self) -> AgentServiceClient<InterceptedService<Channel, Headers>> {
        let pki = Pki::new(OPERATOR);
        self.enroll(&pki);
        let cert = header(&[&pki.client()]);
        self.agents(self.traefik(Some(&cert))).await
    }
}

/// The rendered agent config GetAgentConfig returns for `rid`.
pub async fn agent_config(
    agents: &mut AgentServiceClient<InterceptedService<Channel, Headers>>,
    rid: &str,
) -> String {
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

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Metadata a client call carries.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    pub cert: Option<String>,
    pub proxy_secret: Option<String>,
    /// `X-Forwarded-For`, as Traefik adds it.
    pub forwarded_for: Option<String>,
}

impl tonic::service::Interceptor for Headers {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        if let Some(cert) = &self.cert {
            metadata.insert(
                CLIENT_CERT_HEADER,
                MetadataValue::try_from(cert.as_str()).unwrap(),
            );
        }
        if let Some(secret) = &self.proxy_secret {
            metadata.insert(
                PROXY_SECRET_HEADER,
                MetadataValue::try_from(secret.as_str()).unwrap(),
            );
        }
        if let Some(addr) = &self.forwarded_for {
            metadata.insert(
                "x-forwarded-for",
                MetadataValue::try_from(addr.as_str()).unwrap(),
            );
        }
        Ok(request)
    }
}
