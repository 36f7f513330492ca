//! The commands on a deployed stack's library, as a binary through the `local` target: register,
//! clients, deregister, rotate-certificate and rotate-secret read and change a library laid out
//! as 1.x and this release lay it out (`finch.json`, `traefik/etc/certs.d/<RID>.pem`), and the
//! doctor reports a host without a Docker daemon. Containers are not involved here: the
//! `docker_stack_manage` tests run the same commands against a deployed stack.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};

use finchctl::mtls;
use finchctl::profile::Profile;
use support::{Dir, mode};
use time::OffsetDateTime;

const HOST: &str = "stack.test";
const OTHER_RID: &str = "rid:finchctl:ffffffffffffffff";

/// A library as a 1.x deploy leaves it: finch.json (with 1.x's `profiler`) and Traefik's
/// certificate (here a self-signed one, as this release makes it).
fn library(dir: &Dir) -> PathBuf {
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(lib.join("traefik/etc/certs.d")).unwrap();
    std::fs::write(
        lib.join("finch.json"),
        format!(
            r#"{{"created_at":"2025-01-01T00:00:00Z","database":"sqlite://finch.db","hostname":"{HOST}",
                "id":"0011223344556677","profiler":"http://pyroscope:4040","secret":"old-secret"}}"#
        ),
    )
    .unwrap();
    let cert = finchctl::stack::tls::self_signed(HOST, OffsetDateTime::now_utc()).unwrap();
    std::fs::write(lib.join("traefik/etc/certs.d/cert.pem"), cert.cert_pem).unwrap();
    lib
}

fn own_rid() -> String {
    mtls::local_rid(&mtls::default_machine_id_paths()).unwrap()
}

fn ca_file(lib: &Path, rid: &str) -> PathBuf {
    lib.join(format!("traefik/etc/certs.d/{rid}.pem"))
}

/// Whether `cert_pem` is signed by `ca_pem`.
fn signed_by(cert_pem: &str, ca_pem: &str) -> bool {
    let (_, cert) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).unwrap();
    let (_, ca) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).unwrap();
    let (cert, ca) = (cert.parse_x509().unwrap(), ca.parse_x509().unwrap());
    cert.verify_signature(Some(ca.public_key())).is_ok()
}

#[tokio::test]
async fn an_operator_registers_lists_rotates_and_deregisters() {
    let dir = Dir::new();
    let lib = library(&dir);
    let lib_arg = lib.to_str().unwrap();
    let with_lib = |args: &[&'static str]| {
        let mut argv: Vec<&str> = args.to_vec();
        argv.extend([
            "local",
            "--service.library",
            lib_arg,
            "--run.format",
            "quiet",
        ]);
        argv
    };
    let rid = own_rid();

    dir.run(&with_lib(&["service", "register"])).await.ok();
    let profile = Profile::load(&dir.profile_path()).unwrap();
    let stack = profile.stack(HOST).unwrap().expect("registered");
    assert!(stack.server_pin.is_some(), "a self-signed stack is pinned");
    let ca = std::fs::read_to_string(ca_file(&lib, &rid)).unwrap();
    assert_eq!(mode(&ca_file(&lib, &rid)), 0o400);
    assert!(signed_by(&stack.cert_pem, &ca));

    let again = dir.run(&with_lib(&["service", "register"])).await;
    again.code(1);
    assert!(again.stderr.contains("already registered"), "{again:#?}");
    assert!(again.stderr.contains("rotate-certificate"), "{again:#?}");

    let other = mtls::generate(HOST, OTHER_RID, OffsetDateTime::now_utc()).unwrap();
    std::fs::write(ca_file(&lib, OTHER_RID), &other.ca_pem).unwrap();
    std::fs::write(lib.join("traefik/etc/certs.d/ca.pem"), &other.ca_pem).unwrap();
    let listed = dir
        .run(&with_lib(&["service", "clients", "--output", "json"]))
        .await
        .json();
    let clients = listed.as_array().unwrap();
    let rids: Vec<&str> = clients.iter().map(|c| c["rid"].as_str().unwrap()).collect();
    let mut expected = vec![rid.as_str(), OTHER_RID];
    expected.sort();
    assert_eq!(rids, expected);
    for client in clients {
        assert_eq!(client["status"], "valid");
        assert!(
            client["expires_at"]
                .as_str()
                .is_some_and(|e| e.contains('T'))
        );
        assert_eq!(client["this_workstation"], client["rid"] == rid.as_str());
    }
    let table = dir.run(&with_lib(&["service", "clients"])).await;
    assert!(table.ok().starts_with("RID"), "{table:#?}");

    let mut revoke_other = with_lib(&["service", "deregister"]);
    revoke_other.extend(["--client.rid", OTHER_RID]);
    dir.run(&revoke_other).await.ok();
    assert!(!ca_file(&lib, OTHER_RID).exists());
    assert!(ca_file(&lib, &rid).exists());
    let kept = Profile::load(&dir.profile_path()).unwrap();
    assert_eq!(
        kept.stack(HOST).unwrap().as_ref(),
        Some(&stack),
        "ours is untouched"
    );
    let missing = dir.run(&revoke_other).await;
    missing.code(1);
    assert!(missing.stderr.contains("no such client"), "{missing:#?}");

    dir.run(&with_lib(&["service", "rotate-certificate"]))
        .await
        .ok();
    let renewed = Profile::load(&dir.profile_path()).unwrap();
    let renewed = renewed.stack(HOST).unwrap().unwrap();
    let new_ca = std::fs::read_to_string(ca_file(&lib, &rid)).unwrap();
    assert_ne!(new_ca, ca);
    assert_ne!(renewed.cert_pem, stack.cert_pem);
    assert!(signed_by(&renewed.cert_pem, &new_ca));
    assert!(
        !signed_by(&stack.cert_pem, &new_ca),
        "the old certificate is refused"
    );
    assert_eq!(renewed.server_pin, stack.server_pin);
    assert!(!lib.join("traefik/etc/certs.d/ca.pem").exists());

    dir.run(&with_lib(&["service", "deregister"])).await.ok();
    assert!(!ca_file(&lib, &rid).exists());
    let gone = Profile::load(&dir.profile_path()).unwrap();
    assert!(
        gone.stack(HOST).unwrap().is_none(),
        "deregistering itself forgets the stack"
    );
}

#[tokio::test]
async fn rotate_secret_writes_the_grace_into_finch_json() {
    let dir = Dir::new();
    let lib = library(&dir);
    let before = OffsetDateTime::now_utc();
    // No compose file and no daemon here: the restart fails after the new file is in place.
    let out = dir
        .run(&[
            "service",
            "rotate-secret",
            "local",
            "--service.library",
            lib.to_str().unwrap(),
            "--secret.grace",
            "30s",
            "--docker.host",
            "unix:///nonexistent/docker.sock",
        ])
        .await;
    out.code(1);
    assert!(out.stderr.contains("Restart Finch"), "{out:#?}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lib.join("finch.json")).unwrap()).unwrap();
    assert_eq!(json["previous_secret"], "old-secret");
    assert_ne!(json["secret"], "old-secret");
    assert_eq!(json["profiler"], "http://pyroscope:4040", "other keys stay");
    let until = OffsetDateTime::parse(
        json["previous_secret_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let grace = until - before;
    assert!(
        grace >= time::Duration::seconds(30) && grace <= time::Duration::seconds(90),
        "{grace}"
    );
    assert_eq!(mode(&lib.join("finch.json")), 0o400);
}

#[tokio::test]
async fn a_library_without_a_stack_is_named() {
    let dir = Dir::new();
    let empty = dir.path().join("empty");
    let out = dir
        .run(&[
            "service",
            "clients",
            "local",
            "--service.library",
            empty.to_str().unwrap(),
        ])
        .await;
    out.code(1);
    assert!(out.stderr.contains("no stack in"), "{out:#?}");
    assert!(out.stderr.contains("service deploy"), "{out:#?}");
}

#[tokio::test]
async fn doctor_fails_a_host_whose_docker_daemon_does_not_answer() {
    let dir = Dir::new();
    let lib = library(&dir);
    let out = dir
        .run(&[
            "service",
            "doctor",
            "local",
            "--service.library",
            lib.to_str().unwrap(),
            "--docker.host",
            "unix:///nonexistent/docker.sock",
            "--output",
            "json",
        ])
        .await;
    out.code(1);
    // With --output json the error follows the data on stdout, as a second document.
    let mut documents = serde_json::Deserializer::from_str(&out.stdout).into_iter();
    let reports: serde_json::Value = documents.next().unwrap().unwrap();
    let error: serde_json::Value = documents.next().unwrap().unwrap();
    let report = &reports[0];
    assert_eq!(report["target"], "local");
    assert_eq!(report["ok"], false);
    assert!(
        report["facts"]["kernel"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
    };
    assert_eq!(check("sudo")["status"], "ok");
    assert_eq!(check("docker")["status"], "fail");
    assert_eq!(check("tls certificate")["status"], "ok");
    assert_eq!(check("operator certificate")["status"], "skip");
    assert_eq!(error["error"], "required checks failed on local");
}
