//! Test harness: a fake Finch control plane behind TLS on 127.0.0.1:0, and a way to run the
//! real `finchctl` binary against it with its own HOME and FINCH_CONFIG.
//!
//! The fake answers the three gRPC services from memory, requires a client certificate from
//! the operator CA (as Traefik plus Finch do together), and records the client certificate's
//! CN and the user agent. It presents a self-signed certificate like Traefik's default one, so
//! the tests exercise pinning. The end-to-end harness through real Traefik and the real
//! `finch` replaces it once the server side lands.

#![allow(dead_code, missing_docs)]

pub mod traefik;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use finch_api::agent_service_server::{AgentService, AgentServiceServer};
use finch_api::dashboard_service_server::{DashboardService, DashboardServiceServer};
use finch_api::info_service_server::{InfoService, InfoServiceServer};
use finchctl::client::ServerPin;
use finchctl::mtls::ClientCredentials;
use finchctl::profile::{Profile, Stack};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::{Request, Response, Status};

/// The RID the test credentials are issued to.
pub const TEST_RID: &str = "rid:finchctl:0123456789abcdef";

/// What the fake has seen and stores.
#[derive(Debug, Default)]
pub struct State {
    pub agents: BTreeMap<String, finch_api::GetAgentResponse>,
    pub next: u32,
    pub user_agents: Vec<String>,
    pub client_cns: Vec<String>,
    /// CNs of the certificates Traefik forwarded in `X-Forwarded-Tls-Client-Cert`.
    pub forwarded_cns: Vec<String>,
    pub dashboard_requests: Vec<finch_api::GetDashboardTokenRequest>,
}

#[derive(Clone, Default)]
struct Fake {
    state: Arc<Mutex<State>>,
}

/// A running fake service.
pub struct FakeFinch {
    pub addr: SocketAddr,
    pub pin: ServerPin,
    pub credentials: ClientCredentials,
    pub state: Arc<Mutex<State>>,
}

/// TLS peer details handed to handlers as a request extension.
#[derive(Debug, Clone)]
struct PeerInfo {
    client_cn: Option<String>,
}

struct TlsIo(tokio_rustls::server::TlsStream<tokio::net::TcpStream>);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        let client_cn = self
            .0
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| {
                let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
                let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
                Some(cn.to_owned())
            });
        PeerInfo { client_cn }
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Fake {
    fn record<T>(&self, request: &Request<T>) {
        let mut state = self.state.lock().unwrap();
        if let Some(ua) = request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
        {
            state.user_agents.push(ua.to_owned());
        }
        if let Some(cn) = request
            .extensions()
            .get::<PeerInfo>()
            .and_then(|p| p.client_cn.clone())
        {
            state.client_cns.push(cn);
        }
        if let Some(cn) = request
            .metadata()
            .get("x-forwarded-tls-client-cert")
            .and_then(|v| v.to_str().ok())
            .and_then(forwarded_cn)
        {
            state.forwarded_cns.push(cn);
        }
    }
}

#[tonic::async_trait]
impl AgentService for Fake {
    async fn register_agent(
        &self,
        request: Request<finch_api::RegisterAgentRequest>,
    ) -> Result<Response<finch_api::RegisterAgentResponse>, Status> {
        self.record(&request);
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        if state.agents.values().any(|a| a.hostname == r.hostname) {
            return Err(Status::already_exists("agent already exists"));
        }
        state.next += 1;
        let rid = format!("rid:finch:test:agent:{}", state.next);
        state.agents.insert(
            rid.clone(),
            finch_api::GetAgentResponse {
                resource_id: rid.clone(),
                hostname: r.hostname,
                labels: r.labels,
                log_sources: r.log_sources,
                metrics: r.metrics,
                metrics_targets: r.metrics_targets,
                profiles: r.profiles,
                created_at: "2026-01-02T03:04:05Z".into(),
                node: r.node,
            },
        );
        Ok(Response::new(finch_api::RegisterAgentResponse { rid }))
    }

    async fn deregister_agent(
        &self,
        request: Request<finch_api::DeregisterAgentRequest>,
    ) -> Result<Response<finch_api::DeregisterAgentResponse>, Status> {
        self.record(&request);
        let rid = request.into_inner().rid;
        match self.state.lock().unwrap().agents.remove(&rid) {
            Some(_) => Ok(Response::new(finch_api::DeregisterAgentResponse {})),
            None => Err(Status::not_found("agent not found")),
        }
    }

    async fn get_agent(
        &self,
        request: Request<finch_api::GetAgentRequest>,
    ) -> Result<Response<finch_api::GetAgentResponse>, Status> {
        self.record(&request);
        let rid = request.into_inner().rid;
        match self.state.lock().unwrap().agents.get(&rid) {
            Some(a) => Ok(Response::new(a.clone())),
            None => Err(Status::not_found("agent not found")),
        }
    }

    async fn list_agents(
        &self,
        request: Request<finch_api::ListAgentsRequest>,
    ) -> Result<Response<finch_api::ListAgentsResponse>, Status> {
        self.record(&request);
        let agents = self
            .state
            .lock()
            .unwrap()
            .agents
            .values()
            .map(|a| finch_api::AgentListItem {
                rid: a.resource_id.clone(),
                hostname: a.hostname.clone(),
            })
            .collect();
        Ok(Response::new(finch_api::ListAgentsResponse { agents }))
    }

    async fn get_agent_config(
        &self,
        request: Request<finch_api::GetAgentConfigRequest>,
    ) -> Result<Response<finch_api::GetAgentConfigResponse>, Status> {
        self.record(&request);
        let rid = request.into_inner().rid;
        if !self.state.lock().unwrap().agents.contains_key(&rid) {
            return Err(Status::not_found("agent not found"));
        }
        let config = format!("// alloy config for {rid}\nbearer_token = \"secret\"\n");
        Ok(Response::new(finch_api::GetAgentConfigResponse {
            config: config.into_bytes(),
        }))
    }

    async fn update_agent(
        &self,
        request: Request<finch_api::UpdateAgentRequest>,
    ) -> Result<Response<finch_api::UpdateAgentResponse>, Status> {
        self.record(&request);
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let Some(agent) = state.agents.get_mut(&r.rid) else {
            return Err(Status::not_found("agent not found"));
        };
        agent.labels = r.labels;
        agent.log_sources = r.log_sources;
        agent.metrics = r.metrics;
        agent.metrics_targets = r.metrics_targets;
        agent.profiles = r.profiles;
        Ok(Response::new(finch_api::UpdateAgentResponse {}))
    }
}

#[tonic::async_trait]
impl InfoService for Fake {
    async fn get_service_info(
        &self,
        request: Request<finch_api::GetServiceInfoRequest>,
    ) -> Result<Response<finch_api::GetServiceInfoResponse>, Status> {
        self.record(&request);
        Ok(Response::new(finch_api::GetServiceInfoResponse {
            id: "0123456789abcdef".into(),
            hostname: "finch.example.com".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            release: "2.0.0".into(),
            commit: "abc123".into(),
        }))
    }
}

#[tonic::async_trait]
impl DashboardService for Fake {
    async fn get_dashboard_token(
        &self,
        request: Request<finch_api::GetDashboardTokenRequest>,
    ) -> Result<Response<finch_api::GetDashboardTokenResponse>, Status> {
        self.record(&request);
        let r = request.into_inner();
        let token = format!("token-{}", r.role);
        self.state.lock().unwrap().dashboard_requests.push(r);
        Ok(Response::new(finch_api::GetDashboardTokenResponse {
            token,
            expires_at: "2026-01-01T00:30:00Z".into(),
            dashboard_url: "https://finch.example.com/login".into(),
        }))
    }
}

/// The CN of the leaf in a `passTLSClientCert` (pem) header: base64 DER, leaf first.
fn forwarded_cn(value: &str) -> Option<String> {
    use base64::Engine as _;
    let leaf = value.split(',').next()?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(leaf)
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_owned())
}

/// A fake service speaking h2c on 127.0.0.1:0, as `finch` does behind Traefik.
pub struct H2cFinch {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

/// Serves a fresh fake Finch (all three services) on `incoming` and returns its state.
fn serve_fake<S, IO, E>(incoming: S) -> Arc<Mutex<State>>
where
    S: tokio_stream::Stream<Item = Result<IO, E>> + Send + 'static,
    IO: tonic::transport::server::Connected
        + tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + Unpin
        + Send
        + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let fake = Fake::default();
    let state = fake.state.clone();
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(AgentServiceServer::new(fake.clone()))
            .add_service(InfoServiceServer::new(fake.clone()))
            .add_service(DashboardServiceServer::new(fake))
            .serve_with_incoming(incoming)
            .await;
    });
    state
}

impl H2cFinch {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = serve_fake(tokio_stream::wrappers::TcpListenerStream::new(listener));
        H2cFinch { addr, state }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl FakeFinch {
    /// Starts a fake whose operator credentials were issued at `issued`.
    pub async fn start_issued(issued: time::OffsetDateTime) -> Self {
        let credentials = finchctl::mtls::generate("127.0.0.1", TEST_RID, issued).unwrap();
        let (server_cert, server_key) = traefik_like_cert();
        let pin = ServerPin::of(&server_cert);

        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(credentials.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![server_cert], server_key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<TlsIo, std::io::Error>>(16);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    // Refused handshakes (wrong pin, no certificate) are simply dropped.
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tx.send(Ok(TlsIo(tls))).await;
                    }
                });
            }
        });

        let state = serve_fake(tokio_stream::wrappers::ReceiverStream::new(rx));
        FakeFinch {
            addr,
            pin,
            credentials,
            state,
        }
    }

    /// Starts a fake with fresh credentials.
    pub async fn start() -> Self {
        Self::start_issued(time::OffsetDateTime::now_utc()).await
    }

    /// The service name finchctl uses for it.
    pub fn service(&self) -> String {
        self.addr.to_string()
    }

    /// The stack entry for finch.json, pinned or not.
    pub fn stack(&self, pinned: bool) -> Stack {
        Stack {
            name: self.service(),
            cert_pem: self.credentials.cert_pem.clone(),
            key_pem: self.credentials.key_pem.clone(),
            server_pin: pinned.then(|| self.pin.to_string()),
        }
    }
}

/// A certificate like Traefik's default one.
pub fn traefik_like_cert() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["x.traefik.default".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "TRAEFIK DEFAULT CERT");
    let cert = params.self_signed(&key).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

/// A temp HOME with a FINCH_CONFIG directory inside, and a way to run finchctl there.
pub struct Dir {
    pub root: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
    pub path_prefix: Option<PathBuf>,
}

/// What a finchctl run produced.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Dir {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Dir {
            root,
            extra_env: Vec::new(),
            path_prefix: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn profile_path(&self) -> PathBuf {
        self.config_dir().join("finch.json")
    }

    /// Writes finch.json with `stacks`.
    pub fn with_stacks(self, stacks: &[Stack]) -> Self {
        let mut profile = Profile::load(&self.profile_path()).unwrap();
        for s in stacks {
            profile.upsert(s);
        }
        profile.save().unwrap();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs finchctl with `args` in this directory.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(prefix) = &self.path_prefix {
            let mut p = prefix.as_os_str().to_owned();
            p.push(":");
            p.push(&path);
            path = p;
        }
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"));
        command
            .args(args)
            .current_dir(self.root.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.root.path().join("home"))
            .env("FINCH_CONFIG", self.config_dir());
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        let out = command.output().await.unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        &self.stdout
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code:\n{self:#?}");
        self
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
