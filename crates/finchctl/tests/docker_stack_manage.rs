//! The commands on a deployed stack, for real (the [`stack_bed`]: the kit's OpenSSH server as
//! the non-root sudo user, the test Docker Engine, the stack's images built here):
//! `rotate-secret --secret.grace`, `rotate-certificate`, `deregister` of another operator,
//! `service clients`, the doctor on a healthy stack and on one with a stopped container, and a
//! library laid out by Finch 1.x (with a 1.x database holding agents) upgraded in place by a
//! deploy. Agent tokens are judged by pushing through the deployed Traefik with `curl`,
//! verifying the stack's certificate.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::path::Path;
use std::time::Duration;

use finch_testkit::eventually;
use finch_testkit::legacy::{FINCH_1X_SCHEMA, sqlite3, token_minted_like_1x};
use finchctl::mtls;
use finchctl::profile::Stack;
use stack_bed::{Bed, Run, accepted, assert_all_healthy, profile, push_status, register_agent};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Short enough to wait for, long enough to push and register inside it on a slow machine.
const GRACE: &str = "20s";
/// Another operator's RID.
const OTHER_RID: &str = "rid:finchctl:ffffffffffffffff";

/// Whether `service info` succeeds from the workstation whose HOME is `home`.
async fn info_works(bed: &Bed, home: &Path) -> bool {
    bed.finchctl_as(home, &["service", "info", &bed.service()])
        .await
        .code
        == Some(0)
}

/// The checks of the doctor's JSON report of its one host, by name → status.
fn doctor_checks(run: &Run) -> (serde_json::Value, Vec<(String, String)>) {
    let mut documents = serde_json::Deserializer::from_str(&run.stdout).into_iter();
    let reports: serde_json::Value = documents.next().unwrap().unwrap();
    let report = reports[0].clone();
    let checks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (report, checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_clients_deregister_and_doctor_on_a_deployed_stack() {
    let Some(bed) = Bed::new() else {
        return;
    };
    bed.deploy(&[]).await;
    let service = bed.service();

    // rotate-secret with a grace: the old token passes inside it, a new one too, the old one
    // is refused after it.
    let old_token = register_agent(&bed, "web1").await;
    assert!(accepted(&bed, &old_token));
    let rotate = bed
        .on_host("rotate-secret", &["--secret.grace", GRACE])
        .await;
    assert_eq!(rotate.code, Some(0), "rotate-secret: {rotate:#?}");
    let finch_json: serde_json::Value = serde_json::from_str(&bed.read("finch.json")).unwrap();
    let until = OffsetDateTime::parse(
        finch_json["previous_secret_until"].as_str().unwrap(),
        &Rfc3339,
    )
    .unwrap();
    assert!(accepted(&bed, &old_token), "the old token inside the grace");
    let new_token = register_agent(&bed, "web2").await;
    assert!(accepted(&bed, &new_token), "a token of the new secret");
    assert!(
        OffsetDateTime::now_utc() < until,
        "checked inside the grace"
    );
    let refused = eventually(Duration::from_secs(90), || async {
        (push_status(&bed, &old_token) == 401).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the old token is still accepted after the grace"
    );
    assert!(
        OffsetDateTime::now_utc() >= until,
        "refused only after the grace"
    );
    assert!(accepted(&bed, &new_token));

    // Another operator, registered as `service register` would on its own workstation.
    let other = mtls::generate("127.0.0.1", OTHER_RID, OffsetDateTime::now_utc()).unwrap();
    let other_ca = bed
        .library
        .join(format!("traefik/etc/certs.d/{OTHER_RID}.pem"));
    std::fs::write(&other_ca, &other.ca_pem).unwrap();
    let other_home = bed.workstation(&other.cert_pem, &other.key_pem);
    assert!(info_works(&bed, other_home.path()).await);

    // `service clients` lists both with their expiry.
    let clients = bed.on_host("clients", &["--output", "json"]).await;
    assert_eq!(clients.code, Some(0), "clients: {clients:#?}");
    let listed: serde_json::Value = serde_json::from_str(&clients.stdout).unwrap();
    let own_rid = mtls::local_rid(&mtls::default_machine_id_paths()).unwrap();
    let mut rids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rid"].as_str().unwrap())
        .collect();
    rids.sort_unstable();
    let mut expected = vec![own_rid.as_str(), OTHER_RID];
    expected.sort_unstable();
    assert_eq!(rids, expected);
    for client in listed.as_array().unwrap() {
        assert_eq!(client["status"], "valid", "{client}");
        assert!(client["expires_at"].as_str().is_some(), "{client}");
    }

    // rotate-certificate: the old certificate is refused, the new one works.
    let before = profile(bed.home.path()).stack(&service).unwrap().unwrap();
    let rotate = bed.on_host("rotate-certificate", &[]).await;
    assert_eq!(rotate.code, Some(0), "rotate-certificate: {rotate:#?}");
    let old_home = bed.workstation(&before.cert_pem, &before.key_pem);
    assert!(
        !info_works(&bed, old_home.path()).await,
        "the old certificate"
    );
    assert!(
        info_works(&bed, bed.home.path()).await,
        "the new certificate"
    );

    // deregister of the other operator leaves ours.
    let deregister = bed
        .on_host("deregister", &["--client.rid", OTHER_RID])
        .await;
    assert_eq!(deregister.code, Some(0), "deregister: {deregister:#?}");
    assert!(
        !info_works(&bed, other_home.path()).await,
        "the other is revoked"
    );
    assert!(info_works(&bed, bed.home.path()).await, "ours stays");
    assert!(profile(bed.home.path()).stack(&service).unwrap().is_some());

    // The doctor: all green on the deployed host, then a stopped container named, exit 1.
    let doctor = bed.on_host("doctor", &["--output", "json"]).await;
    assert_eq!(doctor.code, Some(0), "doctor: {doctor:#?}");
    let (report, checks) = doctor_checks(&doctor);
    assert_eq!(report["ok"], true, "{report:#}");
    let not_green: Vec<&(String, String)> = checks.iter().filter(|(_, s)| s != "ok").collect();
    assert!(not_green.is_empty(), "{report:#}");
    for container in stack_bed::containers() {
        let name = format!("container {container}");
        assert!(checks.iter().any(|(c, _)| *c == name), "{name}: {report:#}");
    }
    docker::docker(&["stop", "grafana"]);
    let doctor = bed.on_host("doctor", &["--output", "json"]).await;
    assert_eq!(doctor.code, Some(1), "doctor: {doctor:#?}");
    let (report, checks) = doctor_checks(&doctor);
    assert_eq!(report["ok"], false);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, s)| s == "fail")
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(failed, ["container grafana"], "{report:#}");
}

/// 1.x's agents: hostname and RID (with metrics on, so Mimir's route is theirs).
const ONE_X_AGENTS: [(&str, &str); 2] = [
    (
        "old-web",
        "rid:finch:0011223344556677:agent:1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
    ),
    (
        "old-db",
        "rid:finch:0011223344556677:agent:6fa459ea-ee8a-4ca4-894e-db77e160355e",
    ),
];

/// A 1.x compose file as far as an upgrade cares: its services, `hc-*` sidecars included.
const ONE_X_COMPOSE: &str = "services:
  traefik: {image: 'traefik:v3.7.10', container_name: traefik}
  finch: {image: 'ghcr.io/tschaefer/finch:1.13.1', container_name: finch}
  hc-traefik: {image: 'curlimages/curl:8.21.0', container_name: hc-traefik}
  hc-finch: {image: 'curlimages/curl:8.21.0', container_name: hc-finch}
";

/// Lays out `bed`'s library as a 1.x deploy leaves it, with `secret` and this workstation
/// registered (its CA in certs.d, its credentials in the profile, no pin: 1.x had none).
fn one_x_library(bed: &Bed, secret: &str) {
    let lib = &bed.library;
    for dir in [
        "grafana/dashboards",
        "grafana/alerting",
        "loki/data",
        "loki/etc",
        "alloy/data",
        "alloy/etc",
        "traefik/etc/certs.d",
        "traefik/etc/conf.d",
        "mimir/data",
        "mimir/etc",
        "pyroscope/data",
        "pyroscope/etc",
    ] {
        std::fs::create_dir_all(lib.join(dir)).unwrap();
    }
    let json = serde_json::json!({
        "created_at": "2025-06-01T10:00:00+02:00",
        "database": "sqlite://finch.db",
        "hostname": "127.0.0.1",
        "id": finchctl::stack::generated::stack_id("127.0.0.1"),
        "profiler": "http://pyroscope:4040",
        "secret": secret,
    });
    std::fs::write(lib.join("finch.json"), json.to_string()).unwrap();
    std::fs::write(lib.join("docker-compose.yaml"), ONE_X_COMPOSE).unwrap();
    std::fs::write(
        lib.join("traefik/etc/conf.d/http.yaml"),
        "http:\n  routers: {}\n",
    )
    .unwrap();
    let database = lib.join("finch.db");
    sqlite3(&database, FINCH_1X_SCHEMA);
    for (hostname, rid) in ONE_X_AGENTS {
        sqlite3(
            &database,
            &format!(
                "INSERT INTO agents (created_at, updated_at, active, hostname, log_sources, metrics, metrics_targets, profiles, resource_id, tags, node) \
                 VALUES ('2025-06-01 10:00:00+02:00', '2025-06-01 10:00:00+02:00', 1, '{hostname}', '[\"journal:\"]', 1, '[]', 0, '{rid}', '[]', 'unix');"
            ),
        );
    }
    let rid = mtls::local_rid(&mtls::default_machine_id_paths()).unwrap();
    let credentials = mtls::generate("127.0.0.1", &rid, OffsetDateTime::now_utc()).unwrap();
    std::fs::write(
        lib.join(format!("traefik/etc/certs.d/{rid}.pem")),
        &credentials.ca_pem,
    )
    .unwrap();
    let mut profile = profile(bed.home.path());
    profile.upsert(&Stack {
        name: bed.service(),
        cert_pem: credentials.cert_pem,
        key_pem: credentials.key_pem,
        server_pin: None,
    });
    profile.save().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1x_library_is_upgraded_in_place_and_its_agents_keep_pushing() {
    let Some(bed) = Bed::new() else {
        return;
    };
    let secret = "b25lLXgtc2VjcmV0LW9mLXRoZS1vbGQtc3RhY2stLS0=";
    one_x_library(&bed, secret);
    let own_ca = bed.read(&format!(
        "traefik/etc/certs.d/{}.pem",
        mtls::local_rid(&mtls::default_machine_id_paths()).unwrap()
    ));

    bed.deploy(&[]).await;
    assert_all_healthy();

    // The id, secret, database and operator CA are the 1.x stack's.
    let finch_json: serde_json::Value = serde_json::from_str(&bed.read("finch.json")).unwrap();
    assert_eq!(finch_json["secret"], secret);
    assert_eq!(
        finch_json["id"],
        finchctl::stack::generated::stack_id("127.0.0.1")
    );
    assert_eq!(
        bed.read(&format!(
            "traefik/etc/certs.d/{}.pem",
            mtls::local_rid(&mtls::default_machine_id_paths()).unwrap()
        )),
        own_ca
    );
    let mut agents = bed.agents().await;
    agents.sort();
    assert_eq!(agents, ["old-db", "old-web"]);

    // Tokens minted by 1.x pass through the new Traefik.
    for (hostname, rid) in ONE_X_AGENTS {
        let token = token_minted_like_1x(secret, rid);
        assert!(accepted(&bed, &token), "{hostname}'s 1.x token");
    }
    assert_eq!(
        push_status(
            &bed,
            &token_minted_like_1x("another-secret", ONE_X_AGENTS[0].1)
        ),
        401
    );

    // The commands on a deployed stack work on it too.
    let clients = bed.on_host("clients", &["--output", "json"]).await;
    assert_eq!(clients.code, Some(0), "clients: {clients:#?}");
}
