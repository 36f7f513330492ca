//! Golden files of every rendered file (`golden/<mode>/<path>`; rewrite them with
//! `SNAPSHOTS=overwrite cargo test -p finchctl stack::` and review the diff), the compose file
//! against the Compose specification's schema, `finch.json` through `finch`'s own loader, and
//! which containers a retention change reaches; a stack of several replicas on PostgreSQL in
//! `replicas`. Where alerts go is in [`alerts`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

mod alerts;
mod replicas;

/// The Compose specification's JSON schema (see `tests/data/README.md`).
pub(super) const COMPOSE_SCHEMA: &str = include_str!("../../tests/data/compose-spec.json");

fn generated() -> Generated {
    Generated {
        id: generated::stack_id("finch.example.com"),
        secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=".into(),
        proxy_secret: "cHJveHktcHJveHktcHJveHktcHJveHktcHJveHktcHI=".into(),
        grafana_password: "grafana-password-for-the-golden-files".into(),
        created_at: "2026-12-06T05:00:00Z".into(),
        database: generated::DEFAULT_DATABASE.into(),
        previous_secret: None,
    }
}

pub(super) fn pair() -> CertificatePair {
    CertificatePair {
        cert_pem: "-----BEGIN CERTIFICATE-----\nZml4dHVyZQ==\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nZml4dHVyZQ==\n-----END PRIVATE KEY-----\n".into(),
    }
}

pub(super) fn settings(tls: TlsMode) -> StackSettings {
    StackSettings {
        host: "finch.example.com".into(),
        tls,
        retention: Retention::default(),
        images: Images::pinned("2.0.0"),
        ports: Ports::default(),
        database: Database::kept(generated::DEFAULT_DATABASE, None),
        replicas: Replicas::ONE,
        generated: generated(),
        docker_socket: deploy::docker::DEFAULT_SOCKET.into(),
        alerts: Alerts::default(),
    }
}

/// Every file of a self-signed stack with fixed values, for other modules' tests.
pub(crate) fn sample_files() -> Vec<RenderedFile> {
    render(&settings(TlsMode::SelfSigned(pair()))).expect("renders")
}

fn letsencrypt() -> TlsMode {
    TlsMode::LetsEncrypt {
        email: "ops@example.org".into(),
    }
}

pub(super) fn rendered(settings: &StackSettings) -> BTreeMap<String, RenderedFile> {
    render(settings)
        .expect("renders")
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect()
}

fn golden_dir(mode: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/stack/golden")
        .join(mode)
}

/// Compares every file with `golden/<mode>/`, and refuses golden files nothing renders.
pub(super) fn assert_golden(mode: &str, files: &BTreeMap<String, RenderedFile>) {
    let dir = golden_dir(mode);
    let assert = snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .normalize_paths(false);
    for (path, file) in files {
        let text = String::from_utf8(file.contents.clone()).expect("text");
        let expected =
            snapbox::Data::read_from(&dir.join(path), Some(snapbox::data::DataFormat::Text)).raw();
        assert.eq(text, expected);
    }
    let mut stale = Vec::new();
    collect(&dir, &dir, &mut stale);
    stale.retain(|p| !files.contains_key(p));
    assert!(stale.is_empty(), "golden files nothing renders: {stale:?}");
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn self_signed_stack() {
    assert_golden(
        "self-signed",
        &rendered(&settings(TlsMode::SelfSigned(pair()))),
    );
}

#[test]
fn letsencrypt_stack_differs_in_traefik_and_its_hash_only() {
    let files = rendered(&settings(letsencrypt()));
    let differing: BTreeMap<String, RenderedFile> = files
        .into_iter()
        .filter(|(path, _)| path.starts_with("traefik/") || path == compose::PATH)
        .collect();
    assert_golden("letsencrypt", &differing);
    let files = rendered(&settings(letsencrypt()));
    assert!(!files.contains_key(tls::CERT_PATH) && !files.contains_key(tls::KEY_PATH));
}

#[test]
fn custom_certificate_files_are_the_operators() {
    let mine = CertificatePair {
        cert_pem: "mine\n".into(),
        key_pem: "my key\n".into(),
    };
    let files = rendered(&settings(TlsMode::Custom(mine)));
    assert_eq!(files[tls::CERT_PATH].contents, b"mine\n");
    assert_eq!(files[tls::KEY_PATH].contents, b"my key\n");
    assert!(files[tls::KEY_PATH].secret && !files[tls::CERT_PATH].secret);
}

#[test]
fn secrets_are_marked_and_modes_closed() {
    let files = rendered(&settings(TlsMode::SelfSigned(pair())));
    let secret: Vec<&str> = files
        .values()
        .filter(|f| f.secret)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        secret,
        [
            finch_json::PATH,
            grafana::PASSWORD_PATH,
            tls::KEY_PATH,
            traefik::DYNAMIC_PATH
        ]
    );
    for file in files.values() {
        assert_eq!(file.mode, 0o400, "{}", file.path);
        let debug = format!("{file:?}");
        if file.secret {
            assert!(debug.contains("REDACTED"), "{debug}");
        }
    }
}

#[test]
fn every_compose_file_matches_the_compose_schema() {
    let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for tls in [
        TlsMode::SelfSigned(pair()),
        letsencrypt(),
        TlsMode::Custom(pair()),
    ] {
        let files = rendered(&settings(tls));
        let compose: serde_json::Value =
            serde_norway::from_slice(&files[compose::PATH].contents).expect("compose is YAML");
        let errors: Vec<String> = validator
            .iter_errors(&compose)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

#[test]
fn finch_loads_the_rendered_finch_json() {
    let files = rendered(&settings(TlsMode::SelfSigned(pair())));
    let config = finch::config::FinchConfig::from_json(
        &files[finch_json::PATH].contents,
        PathBuf::from(DEFAULT_LIBRARY),
    )
    .expect("finch reads it");
    let expected = generated();
    assert_eq!(config.hostname, "finch.example.com");
    assert_eq!(config.https_port, 443);
    assert_eq!(config.id, expected.id);
    assert_eq!(config.secret, expected.secret);
    assert_eq!(
        config.proxy_secret.as_deref(),
        Some(expected.proxy_secret.as_str())
    );
    assert_eq!(config.database, expected.database);
    assert_eq!(config.created_at, expected.created_at);
}

/// The config-hash label of every service that has one.
pub(super) fn hashes(settings: &StackSettings) -> BTreeMap<String, String> {
    let files = rendered(settings);
    let compose: serde_json::Value =
        serde_norway::from_slice(&files[compose::PATH].contents).expect("YAML");
    let mut hashes = BTreeMap::new();
    for (name, service) in compose["services"].as_object().expect("services") {
        if let Some(hash) = service["labels"][compose::CONFIG_HASH_LABEL].as_str() {
            hashes.insert(name.clone(), hash.to_owned());
        }
    }
    hashes
}

pub(super) fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(name, hash)| b.get(*name) != Some(*hash))
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn retention_recreates_only_the_storage_services() {
    let before = settings(TlsMode::SelfSigned(pair()));
    let mut after = before.clone();
    after.retention = "30d".parse().expect("valid");
    let (before, after) = (hashes(&before), hashes(&after));
    assert_eq!(before.len(), Service::ALL.len());
    assert_eq!(changed(&before, &after), ["loki", "mimir", "pyroscope"]);
}

#[test]
fn an_image_override_recreates_only_its_service() {
    let before = settings(TlsMode::SelfSigned(pair()));
    let mut after = before.clone();
    after.images = after
        .images
        .with_overrides("grafana: mirror.example.com/grafana:13.1.1\n")
        .expect("valid");
    assert_eq!(changed(&hashes(&before), &hashes(&after)), ["grafana"]);
}

#[test]
fn a_rotated_finch_json_is_what_the_next_render_writes() {
    // At 443 and on a port finch.json names (`https_port`, between 1.x's keys).
    for https in ["443", "127.0.0.1:8443"] {
        let mut before = settings(TlsMode::SelfSigned(pair()));
        before.ports.https = https.parse().expect("valid");
        let file = finch_json::render(&before).expect("renders");
        let now = time::macros::datetime!(2026-12-06 06:00:00 UTC);
        let grace = "30s".parse().expect("a grace");
        let rotated =
            secret::rotate(&file.contents, "bmV3LXNlY3JldA==", grace, now).expect("rotates");
        let mut after = before.clone();
        after.generated.previous_secret = Some((
            before.generated.secret.clone(),
            "2026-12-06T06:00:30Z".to_owned(),
        ));
        after.generated.secret = "bmV3LXNlY3JldA==".to_owned();
        let rendered = finch_json::render(&after).expect("renders");
        assert_eq!(
            String::from_utf8_lossy(&rotated.finch_json),
            String::from_utf8_lossy(&rendered.contents)
        );
    }
}

#[test]
fn the_same_settings_render_the_same_bytes() {
    let settings = settings(TlsMode::SelfSigned(pair()));
    assert_eq!(
        render(&settings).expect("renders"),
        render(&settings).expect("renders")
    );
}

#[test]
fn dashboards_are_json_with_unique_uids() {
    let files = rendered(&settings(TlsMode::SelfSigned(pair())));
    let mut uids = Vec::new();
    for file in files
        .values()
        .filter(|f| f.path.ends_with(".json") && f.path.starts_with("grafana/"))
    {
        let dashboard: serde_json::Value = serde_json::from_slice(&file.contents).expect("JSON");
        uids.push(dashboard["uid"].as_str().expect("uid").to_owned());
    }
    assert_eq!(uids.len(), 6);
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 6);
}

#[test]
fn bad_hosts_are_refused() {
    for bad in [
        "",
        "-a.example.com",
        "a..b",
        "a b",
        "x\"y",
        "h/ost",
        &"a".repeat(64),
    ] {
        let mut s = settings(TlsMode::SelfSigned(pair()));
        s.host = bad.to_owned();
        assert!(matches!(render(&s), Err(StackError::BadHost(_))), "{bad:?}");
    }
    for good in [
        "finch",
        "finch.example.com",
        "192.0.2.1",
        "2001:db8::1",
        "xn--bcher-kva.example",
    ] {
        assert!(check_host(good).is_ok(), "{good}");
    }
}

#[test]
fn traefik_sends_the_proxy_secret_under_the_header_finch_reads() {
    assert!(traefik::PROXY_SECRET_HEADER.eq_ignore_ascii_case(finch::grpc::PROXY_SECRET_HEADER));
}

#[test]
fn only_traefik_publishes_ports_and_everything_is_on_one_network() {
    for tls in [TlsMode::SelfSigned(pair()), letsencrypt()] {
        let files = rendered(&settings(tls));
        let compose: serde_json::Value =
            serde_norway::from_slice(&files[compose::PATH].contents).expect("YAML");
        let publishing: Vec<&String> = compose["services"]
            .as_object()
            .expect("services")
            .iter()
            .filter(|(_, s)| s.get("ports").is_some())
            .map(|(name, _)| name)
            .collect();
        assert_eq!(publishing, ["traefik"]);
        assert_eq!(
            compose["services"]["traefik"]["ports"],
            serde_json::json!(["80:80", "443:443"])
        );
        assert_eq!(compose["networks"]["default"]["name"], compose::NETWORK);
        assert_eq!(compose["networks"]["default"]["driver"], "bridge");
        // Every service's health is checked: in its container, or by its hc- sidecar.
        let services = compose["services"].as_object().expect("services");
        for (name, service) in services {
            let sidecar = services.get(&format!("hc-{name}"));
            assert!(
                service.get("healthcheck").is_some() != sidecar.is_some(),
                "{name}: one health check, in the container or beside it"
            );
        }
    }
}

#[test]
fn published_ports_reach_traefik_alone_and_the_public_urls() {
    let before = settings(TlsMode::SelfSigned(pair()));
    let mut after = before.clone();
    after.ports = Ports {
        http: "127.0.0.1:8080".parse().expect("valid"),
        https: "[::1]:8443".parse().expect("valid"),
    };
    let files = rendered(&after);
    let compose: serde_json::Value =
        serde_norway::from_slice(&files[compose::PATH].contents).expect("YAML");
    assert_eq!(
        compose["services"]["traefik"]["ports"],
        serde_json::json!(["127.0.0.1:8080:80", "[::1]:8443:443"])
    );
    let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&compose));
    // The redirect sends clients to the port the host publishes HTTPS on.
    let static_config = String::from_utf8_lossy(&files[traefik::STATIC_PATH].contents);
    assert!(static_config.contains("to: \":8443\""), "{static_config}");
    // Grafana and Finch name the stack's public URLs with that port.
    assert_eq!(
        compose["services"]["grafana"]["environment"]["GF_SERVER_ROOT_URL"],
        "https://finch.example.com:8443/grafana/"
    );
    let config = finch::config::FinchConfig::from_json(
        &files[finch_json::PATH].contents,
        PathBuf::from(DEFAULT_LIBRARY),
    )
    .expect("finch reads it");
    assert_eq!(config.https_port, 8443);
    assert_eq!(
        config.public_url("/login"),
        "https://finch.example.com:8443/login"
    );
    // Finch reads its finch.json at start; Grafana's environment is in the compose file, which
    // recreates it without a hash.
    assert_eq!(
        changed(&hashes(&before), &hashes(&after)),
        ["finch", "traefik"]
    );
}
