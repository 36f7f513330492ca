//! A real Traefik in front of a gRPC backend, configured as the stack runs it: TLS with
//! Traefik's own self-signed default certificate, `RequestClientCert`, `passTLSClientCert`
//! (pem), optionally the proxy secret header, and an h2c route to the backend.
//!
//! The configuration is written by hand until [finchctl-stack] renders the stack's Traefik
//! configuration; then this harness must use the rendered one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use finchctl::client::{self, ConnectConfig, Verification};

/// Where the Traefik binary is: `FINCH_TEST_TRAEFIK`, else the one scripts/setup links.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FINCH_TEST_TRAEFIK") {
        return Some(PathBuf::from(path));
    }
    let linked = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/traefik");
    linked.exists().then_some(linked)
}

/// The binary, or `None` after saying why the test is skipped; in CI a missing Traefik fails.
pub fn binary_or_skip() -> Option<PathBuf> {
    let found = binary();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Traefik is missing: run scripts/setup"
        );
        eprintln!("skipped: no Traefik binary (run scripts/setup or set FINCH_TEST_TRAEFIK)");
    }
    found
}

/// A running Traefik; killed on drop.
pub struct Traefik {
    _child: tokio::process::Child,
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Traefik {
    /// Starts Traefik on a free loopback port, routing `/finch.*` to `backend` over h2c and
    /// adding `X-Finch-Proxy-Secret` when `proxy_secret` is given.
    pub async fn start(binary: &PathBuf, backend: SocketAddr, proxy_secret: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Traefik cannot report the port it bound, so take a free one and hand it over.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (middlewares, secret_middleware) = match proxy_secret {
            Some(secret) => (
                "[client-cert, proxy-secret]",
                format!(
                    "    proxy-secret:\n      headers:\n        customRequestHeaders:\n          X-Finch-Proxy-Secret: \"{secret}\"\n"
                ),
            ),
            None => ("[client-cert]", String::new()),
        };
        let dynamic = dir.path().join("dynamic.yaml");
        std::fs::write(
            &dynamic,
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
            ),
        )
        .unwrap();
        let static_config = dir.path().join("traefik.yaml");
        std::fs::write(
            &static_config,
            format!(
                "entryPoints:
  websecure:
    address: \"127.0.0.1:{port}\"
providers:
  file:
    filename: \"{}\"
log:
  level: ERROR
",
                dynamic.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("traefik.log")).unwrap();
        let child = tokio::process::Command::new(binary)
            .arg(format!("--configFile={}", static_config.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Traefik {
            _child: child,
            port,
            dir,
        }
    }

    /// The service name finchctl dials.
    pub fn service(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until a call with these credentials gets through Traefik to the backend (the file
    /// provider loads after the port opens), under a deadline.
    pub async fn wait_ready(&self, cert_pem: &str, key_pem: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let config = ConnectConfig {
                service: self.service(),
                cert_pem: cert_pem.to_owned(),
                key_pem: key_pem.to_owned(),
                verification: Verification::Skip,
                user_agent: "readiness".into(),
                timeout: Duration::from_secs(2),
            };
            let last = match client::connect(&config).await {
                Ok(channel) => {
                    let mut info = finch_api::info_service_client::InfoServiceClient::new(channel);
                    match info
                        .get_service_info(finch_api::GetServiceInfoRequest {})
                        .await
                    {
                        Ok(_) => return,
                        Err(status) => format!("{status:?}"),
                    }
                }
                Err(err) => err.to_string(),
            };
            if tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("traefik.log"))
                    .unwrap_or_default();
                panic!("Traefik did not route to the backend within 30 s: {last}\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
