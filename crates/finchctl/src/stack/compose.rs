//! The compose file: the stack's services on one bridge network, `finch`, with only Traefik
//! publishing ports (80 and 443 unless `--stack.http-port` and `--stack.https-port` say
//! otherwise).
//!
//! Finch runs as one container per replica (`finch`, `finch-2`, …, `--stack.replicas`), each
//! defined alike; Traefik balances over them ([`super::traefik`]).
//!
//! Every service carries `finch.config-hash`: the first 16 hex digits of SHA-256 over its image
//! and the files it reads (1.x's label name). Compose recreates a container when its definition
//! changes, and the label puts the files into the definition: a changed file recreates exactly
//! the containers that read it, and nothing changes when nothing did.
//!
//! Health checks run inside the containers with what each image has: Traefik's own `healthcheck`
//! command, Grafana's `wget`, bash's `/dev/tcp` in Finch's and Alloy's images. Loki, Mimir and
//! Pyroscope ship without a shell, so a small `hc-<service>` container (Finch's image, asleep)
//! probes each of them and carries its health, as 1.x's `hc-*` containers did. Its sleep is
//! [`SIDECAR_SLEEP`]: a process 1 without a handler ignores SIGTERM, so a bare `sleep` held
//! every `compose down` and restart for Docker's stop timeout and then was killed.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::grafana::{PASSWORD_IN_CONTAINER, SMTP_PASSWORD_IN_CONTAINER};
use super::{ROOT, RenderedFile, Replicas, Service, StackError, StackSettings};

/// The compose file's path in the library (1.x's).
pub const PATH: &str = "docker-compose.yaml";
/// The label that carries a service's configuration hash.
pub const CONFIG_HASH_LABEL: &str = "finch.config-hash";
/// The network every service joins.
pub const NETWORK: &str = "finch";
/// Grafana's SMTP settings in its environment, read back by [`super::alerts`].
pub const SMTP_ENABLED: &str = "GF_SMTP_ENABLED";
/// `--alert.smtp`.
pub const SMTP_HOST: &str = "GF_SMTP_HOST";
/// `--alert.smtp.from`.
pub const SMTP_FROM: &str = "GF_SMTP_FROM_ADDRESS";
/// The user of `--alert.smtp.credentials`.
pub const SMTP_USER: &str = "GF_SMTP_USER";
/// The services without a shell, probed by a `hc-<service>` sidecar.
pub const SIDECARS: [&str; 3] = ["loki", "mimir", "pyroscope"];
/// What a sidecar runs: bash as process 1, asleep, ending with status 0 on SIGTERM. The trap
/// interrupts `wait`; a trap on a foreground `sleep` would run only once the sleep ended. Bash
/// and `sleep` are in Finch's image (the probes use bash already), so this needs nothing of
/// the host, where Compose's `init: true` needs the daemon's `docker-init`.
pub const SIDECAR_SLEEP: &str = "trap 'exit 0' TERM; sleep infinity & wait";

/// The compose file as serialized.
#[derive(Serialize)]
struct ComposeFile {
    services: BTreeMap<String, ComposeService>,
    networks: BTreeMap<&'static str, Network>,
}

#[derive(Serialize)]
struct Network {
    name: &'static str,
    driver: &'static str,
}

#[derive(Default, Serialize)]
struct ComposeService {
    image: String,
    container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    command: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'static str, String>,
    restart: &'static str,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: &'static str,
    timeout: &'static str,
    retries: u32,
    start_period: &'static str,
}

/// Renders the compose file; `files` are the stack's other files, hashed per service.
pub fn render(
    settings: &StackSettings,
    files: &[RenderedFile],
) -> Result<RenderedFile, StackError> {
    let mut services = BTreeMap::new();
    for service in Service::ALL {
        // Finch runs as `finch`, `finch-2`, … (`--stack.replicas`); every other service once.
        let names = match service {
            Service::Finch => settings.replicas.names(),
            _ => vec![service.name().to_owned()],
        };
        for name in names {
            let mut definition = definition(settings, service);
            definition.image = settings.images.get(service).to_owned();
            definition.container_name = name.clone();
            definition.restart = "unless-stopped";
            definition.labels.insert(
                CONFIG_HASH_LABEL,
                config_hash(&definition.image, service, files),
            );
            services.insert(name, definition);
        }
    }
    for (name, target) in SIDECARS.into_iter().zip([
        "loki:3100/ready",
        "mimir:8080/ready",
        "pyroscope:4040/ready",
    ]) {
        let sidecar = format!("hc-{name}");
        services.insert(
            sidecar.clone(),
            ComposeService {
                image: settings.images.get(Service::Finch).to_owned(),
                container_name: sidecar,
                entrypoint: strings(&["bash", "-c", SIDECAR_SLEEP]),
                healthcheck: healthcheck(probe(target)),
                restart: "unless-stopped",
                ..ComposeService::default()
            },
        );
    }
    let compose = ComposeFile {
        services,
        networks: BTreeMap::from([(
            "default",
            Network {
                name: NETWORK,
                driver: "bridge",
            },
        )]),
    };
    let yaml = serde_norway::to_string(&compose).map_err(|e| StackError::Serialize {
        path: PATH,
        reason: e.to_string(),
    })?;
    let text = format!(
        "# The Finch stack, rendered by finchctl: a deploy or update overwrites this file.\n{yaml}"
    );
    Ok(RenderedFile::new(PATH, text, ROOT))
}

/// How many Finch containers a rendered compose file runs (`finch`, `finch-2`, …); `None` when
/// it cannot be read or runs none.
pub fn replicas(compose: &[u8]) -> Option<Replicas> {
    let yaml: serde_norway::Value = serde_norway::from_slice(compose).ok()?;
    let count = yaml
        .get("services")?
        .as_mapping()?
        .keys()
        .filter_map(serde_norway::Value::as_str)
        .filter(|name| {
            *name == "finch"
                || name
                    .strip_prefix("finch-")
                    .is_some_and(|n| n.parse::<u8>().is_ok())
        })
        .count();
    count.to_string().parse().ok()
}

/// What is particular to each service.
fn definition(settings: &StackSettings, service: Service) -> ComposeService {
    match service {
        Service::Traefik => ComposeService {
            command: strings(&["--configFile=/etc/traefik/traefik.yaml"]),
            ports: vec![
                settings.ports.http.compose_mapping(80),
                settings.ports.https.compose_mapping(443),
            ],
            // Writable: Let's Encrypt's acme.json lives in certs.d.
            volumes: strings(&["./traefik/etc:/etc/traefik"]),
            healthcheck: healthcheck(strings(&["CMD", "traefik", "healthcheck", "--ping"])),
            ..ComposeService::default()
        },
        Service::Finch => ComposeService {
            // The whole library: finch.json, the database beside it, the operators' CAs.
            volumes: strings(&[".:/var/lib/finch"]),
            healthcheck: healthcheck(probe("127.0.0.1:3003/healthz")),
            ..ComposeService::default()
        },
        Service::Grafana => ComposeService {
            environment: grafana_environment(settings),
            volumes: strings(&[
                "./grafana:/var/lib/grafana",
                "./grafana/provisioning:/etc/grafana/provisioning:ro",
            ]),
            healthcheck: healthcheck(strings(&[
                "CMD",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                "http://127.0.0.1:3000/grafana/api/health",
            ])),
            ..ComposeService::default()
        },
        Service::Loki => storage(
            &[
                "-config.file=/etc/loki/loki.yaml",
                "-target=all",
                "-reporting.enabled=false",
            ],
            &["./loki/etc:/etc/loki:ro", "./loki/data:/var/lib/loki"],
        ),
        Service::Mimir => storage(
            &[
                "--config.file=/etc/mimir/mimir.yaml",
                "--usage-stats.enabled=false",
            ],
            &["./mimir/etc:/etc/mimir:ro", "./mimir/data:/var/lib/mimir"],
        ),
        Service::Pyroscope => storage(
            &[
                "--config.file=/etc/pyroscope/pyroscope.yaml",
                "--usage-stats.enabled=false",
            ],
            &[
                "./pyroscope/etc:/etc/pyroscope:ro",
                "./pyroscope/data:/var/lib/pyroscope",
            ],
        ),
        Service::Alloy => ComposeService {
            command: strings(&[
                "run",
                "--storage.path=/var/lib/alloy/data",
                "--disable-reporting=true",
                "--server.http.listen-addr=127.0.0.1:12345",
                "/etc/alloy/alloy.config",
            ]),
            volumes: vec![
                "./alloy/etc:/etc/alloy:ro".to_owned(),
                "./alloy/data:/var/lib/alloy/data".to_owned(),
                // The daemon the stack runs on (`--docker.host`), where Alloy's config expects it.
                format!("{}:/var/run/docker.sock:ro", settings.docker_socket),
                // The host's root for its metrics and journal; plain ro works on hosts whose /
                // is a private mount, where rslave propagation fails.
                "/:/host:ro".to_owned(),
            ],
            healthcheck: healthcheck(probe("127.0.0.1:12345/-/ready")),
            ..ComposeService::default()
        },
    }
}

/// Grafana's settings: its URL under `/grafana`, the admin password file, no sign-up or phoning
/// home, and the SMTP server of `--alert.smtp` (its password in a file, never in the
/// environment that `docker inspect` shows).
fn grafana_environment(settings: &StackSettings) -> BTreeMap<&'static str, String> {
    let mut environment = BTreeMap::from([
        (
            "GF_SERVER_ROOT_URL",
            format!(
                "https://{}/grafana/",
                url_authority(&settings.host, settings.ports.https.port)
            ),
        ),
        ("GF_SERVER_SERVE_FROM_SUB_PATH", "true".to_owned()),
        (
            "GF_SECURITY_ADMIN_PASSWORD__FILE",
            PASSWORD_IN_CONTAINER.to_owned(),
        ),
        ("GF_USERS_ALLOW_SIGN_UP", "false".to_owned()),
        ("GF_ANALYTICS_REPORTING_ENABLED", "false".to_owned()),
        ("GF_ANALYTICS_CHECK_FOR_UPDATES", "false".to_owned()),
    ]);
    if let Some(smtp) = &settings.alerts.smtp {
        environment.insert(SMTP_ENABLED, "true".to_owned());
        environment.insert(SMTP_HOST, escape_dollars(&smtp.host));
        environment.insert(SMTP_FROM, escape_dollars(&smtp.from));
        environment.insert("GF_SMTP_FROM_NAME", "Finch".to_owned());
        if let Some(login) = &smtp.credentials {
            environment.insert(SMTP_USER, escape_dollars(&login.user));
            environment.insert(
                "GF_SMTP_PASSWORD__FILE",
                SMTP_PASSWORD_IN_CONTAINER.to_owned(),
            );
        }
    }
    environment
}

/// A value as Compose reads it literally: Compose expands `$NAME` in the file, `$$` is a `$`.
fn escape_dollars(value: &str) -> String {
    value.replace('$', "$$")
}

/// A value [`escape_dollars`] wrote, as it was.
pub fn unescape_dollars(value: &str) -> String {
    value.replace("$$", "$")
}

fn storage(command: &[&str], volumes: &[&str]) -> ComposeService {
    ComposeService {
        user: Some("10001:10001"),
        command: strings(command),
        volumes: strings(volumes),
        ..ComposeService::default()
    }
}

fn healthcheck(test: Vec<String>) -> Option<Healthcheck> {
    Some(Healthcheck {
        test,
        interval: "10s",
        timeout: "5s",
        retries: 3,
        // Mimir and Loki replay their write-ahead logs before they are ready.
        start_period: "60s",
    })
}

/// An HTTP probe in bash alone (no curl or wget in those images): `host:port/path` must
/// answer 200.
fn probe(target: &str) -> Vec<String> {
    let (authority, path) = target.split_once('/').unwrap_or((target, ""));
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} && printf 'GET /{path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"
    );
    vec!["CMD".into(), "bash".into(), "-c".into(), script]
}

/// The host as it stands in a URL: an IPv6 address in brackets.
pub fn url_host(host: &str) -> String {
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => format!("[{host}]"),
        _ => host.to_owned(),
    }
}

/// The host and port clients reach the stack's HTTPS on, as a URL names them: the port is left
/// out at 443, as browsers and Grafana leave it out.
pub fn url_authority(host: &str, https_port: u16) -> String {
    if https_port == 443 {
        url_host(host)
    } else {
        format!("{}:{https_port}", url_host(host))
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The files `service` reads: its own directory of the library; for Finch, `finch.json` and
/// the database's CA file.
fn reads(service: Service, path: &str) -> bool {
    match service {
        Service::Finch => {
            path == super::finch_json::PATH || path == super::database::ROOT_CERT_PATH
        }
        _ => path
            .strip_prefix(service.name())
            .is_some_and(|rest| rest.starts_with('/')),
    }
}

/// The first 16 hex digits of SHA-256 over the image and every file the service reads (path
/// and contents, each length-prefixed so that no two inputs run together).
pub fn config_hash(image: &str, service: Service, files: &[RenderedFile]) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    feed(image.as_bytes());
    for file in files.iter().filter(|f| reads(service, &f.path)) {
        feed(file.path.as_bytes());
        feed(&file.contents);
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_reads_its_own_directory() {
        assert!(reads(Service::Loki, "loki/etc/loki.yaml"));
        assert!(!reads(Service::Loki, "lokiish/etc"));
        assert!(reads(Service::Finch, "finch.json"));
        assert!(reads(Service::Finch, "postgres/root.crt"));
        assert!(!reads(Service::Finch, "traefik/etc/traefik.yaml"));
        assert!(reads(Service::Grafana, "grafana/admin-password"));
    }

    #[test]
    fn ipv6_hosts_are_bracketed_and_ports_other_than_443_kept_in_urls() {
        assert_eq!(url_host("2001:db8::1"), "[2001:db8::1]");
        assert_eq!(url_host("192.0.2.1"), "192.0.2.1");
        assert_eq!(url_host("finch.example.com"), "finch.example.com");
        assert_eq!(url_authority("2001:db8::1", 443), "[2001:db8::1]");
        assert_eq!(url_authority("2001:db8::1", 8443), "[2001:db8::1]:8443");
        assert_eq!(
            url_authority("finch.example.com", 8443),
            "finch.example.com:8443"
        );
    }

    #[test]
    fn the_hash_follows_image_and_contents() {
        let file = |contents: &str| RenderedFile::new("loki/etc/loki.yaml", contents, ROOT);
        let base = config_hash("loki:1", Service::Loki, &[file("a")]);
        assert_eq!(base.len(), 16);
        assert_eq!(base, config_hash("loki:1", Service::Loki, &[file("a")]));
        assert_ne!(base, config_hash("loki:2", Service::Loki, &[file("a")]));
        assert_ne!(base, config_hash("loki:1", Service::Loki, &[file("b")]));
        assert_eq!(
            base,
            config_hash(
                "loki:1",
                Service::Loki,
                &[file("a"), RenderedFile::new("mimir/x", "y", ROOT)]
            )
        );
    }
}
