#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use time::Duration;

use super::*;
use crate::target::{CancellationToken, Limits, Local, Plan};

const HEALTHY: &str = "docker ok 20.10.24+dfsg1
port 80 free
port 443 traefik
disk 41943040 /var/lib/finch
container traefik running healthy
container finch running healthy
container alloy running none
";

fn inputs() -> Inputs {
    let now = OffsetDateTime::now_utc();
    let ours = mtls::generate("h", "rid:finchctl:0123456789abcdef", now).unwrap();
    Inputs {
        compose: Ok(Compose::Standalone),
        tls_cert_pem: Some(ours.ca_pem),
        deployed: true,
        operator_cert_pem: Some(ours.cert_pem),
    }
}

#[test]
fn a_healthy_host_passes_every_check() {
    let probe = parse(HEALTHY);
    assert_eq!(probe.docker, "ok 20.10.24+dfsg1");
    assert_eq!(
        probe.ports,
        [(80, "free".to_owned()), (443, "traefik".to_owned())]
    );
    assert_eq!(probe.disk, Some((40 << 30, "/var/lib/finch".to_owned())));
    let checks = checks(&probe, &inputs(), OffsetDateTime::now_utc());
    let names: Vec<&str> = checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        names,
        [
            "docker",
            "compose",
            "port 80",
            "port 443",
            "disk",
            "container traefik",
            "container finch",
            "container alloy",
            "tls certificate",
            "operator certificate"
        ]
    );
    assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:#?}");
}

#[test]
fn a_stopped_container_a_taken_port_and_a_full_disk_fail() {
    let probe = parse(
        "docker ok 1\nport 443 taken\ndisk 1 /\ncontainer finch exited none\ncontainer loki missing none\ngarbage line\n",
    );
    let checks = checks(&probe, &inputs(), OffsetDateTime::now_utc());
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.check.as_str())
        .collect();
    assert_eq!(
        failed,
        ["port 443", "disk", "container finch", "container loki"]
    );
    let finch = checks
        .iter()
        .find(|c| c.check == "container finch")
        .unwrap();
    assert!(
        finch.detail.contains("docker logs finch"),
        "{}",
        finch.detail
    );
}

#[test]
fn docker_compose_and_certificates_say_what_to_do() {
    let now = OffsetDateTime::now_utc();
    let old = mtls::generate(
        "h",
        "rid:finchctl:0123456789abcdef",
        now - Duration::days(85),
    )
    .unwrap();
    let gone = mtls::generate(
        "h",
        "rid:finchctl:0123456789abcdef",
        now - Duration::days(91),
    )
    .unwrap();
    let inputs = Inputs {
        compose: Err("Docker Compose is not installed".to_owned()),
        tls_cert_pem: Some(gone.ca_pem),
        deployed: false,
        operator_cert_pem: Some(old.cert_pem),
    };
    let checks = checks(&parse("docker missing\n"), &inputs, now);
    let status = |name: &str| checks.iter().find(|c| c.check == name).map(|c| c.status);
    assert_eq!(status("docker"), Some(Status::Fail));
    assert_eq!(status("compose"), Some(Status::Fail));
    assert_eq!(status("disk"), Some(Status::Fail));
    assert_eq!(status("stack"), Some(Status::Skip));
    assert_eq!(status("tls certificate"), Some(Status::Fail));
    assert_eq!(status("operator certificate"), Some(Status::Warn));
    assert_eq!(parse("docker down\n").docker, "down");
    let down = super::docker("down");
    assert!(down.detail.contains("does not answer"), "{}", down.detail);
}

/// The probe script runs in this machine's shell and reports a library whose compose file
/// names a container that does not exist, against a daemon that is not there.
#[tokio::test]
async fn the_probe_runs_in_a_real_shell() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib");
    std::fs::create_dir_all(&library).unwrap();
    std::fs::write(
        library.join("docker-compose.yaml"),
        "services:\n  finch:\n    container_name: finch-doctor-test-absent\n    image: x\n",
    )
    .unwrap();
    let docker = Docker::new(
        Compose::Plugin,
        Some(format!("unix://{}/no.sock", dir.path().display())),
        library.to_str().unwrap(),
    );
    let mut plan = Plan::new();
    plan.push(probe_step(&docker, &[1]));
    let limits = Limits {
        timeout: std::time::Duration::from_secs(60),
        cancel: CancellationToken::new(),
    };
    let reporter = crate::target::report::Reporter::new(
        crate::target::report::RunFormat::Quiet,
        true,
        false,
        true,
    );
    let run = crate::target::run::run_plan(&mut Local::new("local"), &plan, &limits, &reporter)
        .await
        .unwrap();
    let probe = parse(&run.steps[0].stdout);
    assert!(
        probe.docker == "down" || probe.docker == "missing",
        "{probe:?}"
    );
    assert_eq!(probe.ports, [(1, "free".to_owned())]);
    assert!(probe.disk.is_some_and(|(bytes, _)| bytes > 0));
    assert_eq!(
        probe.containers,
        [(
            "finch-doctor-test-absent".to_owned(),
            "missing".to_owned(),
            "none".to_owned()
        )]
    );
}
