//! The `finch` binary as operators run it: flags, announcements, errors, logs and shutdown.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use finch::agents::AgentRid;
use finch_testkit::{FinchProcess, Library, http};
use time::OffsetDateTime;

#[test]
fn announces_listeners_after_binding_and_stops_on_sigterm() {
    let library = Library::new();
    let mut finch = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    for server in ["gRPC", "HTTP", "Auth", "Healthz"] {
        let address = finch.address(server);
        // Announced means bound: the port accepts connections right away.
        std::net::TcpStream::connect(&address).unwrap();
    }
    let starting = finch
        .log_lines()
        .into_iter()
        .find(|line| line["msg"] == "Starting Finch management server")
        .unwrap();
    assert_eq!(starting["level"], "INFO");
    assert!(starting["release"].is_string() && starting["commit"].is_string());

    // An idle keep-alive connection must not hold the shutdown open.
    let _idle = std::net::TcpStream::connect(finch.address("Auth")).unwrap();
    let (status, _) = finch.terminate();
    assert!(status.success(), "{status:?}");
    let messages: Vec<String> = finch
        .log_lines()
        .iter()
        .filter_map(|line| line["msg"].as_str().map(str::to_owned))
        .collect();
    assert!(
        messages.contains(&"Shutting down servers...".to_owned()),
        "{messages:?}"
    );
    // "Servers stopped" is only logged when everything stopped inside the 5 s deadline.
    assert!(
        messages.contains(&"Servers stopped".to_owned()),
        "{messages:?}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error_and_exit_status_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert_auth_port_refused(&taken.local_addr().unwrap().to_string());
}

#[test]
fn a_second_finch_on_the_same_auth_port_is_refused() {
    // The auth port is bound by a group of sockets sharing it (one per worker); that must not
    // let another finch join the group silently.
    let library = Library::new();
    let first = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    assert_auth_port_refused(&first.address("Auth"));
}

/// Starts finch with its auth listener on `address`, which is taken, and checks that it stops
/// with exit status 1, says why, and announced nothing.
fn assert_auth_port_refused(address: &str) {
    let library = Library::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_finch"));
    command
        .arg("run")
        .args(["--server.grpc-address", "127.0.0.1:0"])
        .args(["--server.http-address", "127.0.0.1:0"])
        .args(["--server.auth-address", address])
        .args(["--server.healthz-address", "127.0.0.1:0"])
        .args(["--server.log-format", "json"])
        .arg("--stack.config-file")
        .arg(library.config_path());
    let mut finch = FinchProcess::spawn_command(command);
    let status = finch.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    let stderr = finch.stderr();
    assert!(
        stderr.contains(&format!("cannot listen on {address} for the Auth server"))
            && stderr.contains("Address already in use"),
        "{stderr}"
    );
    let announced = finch.log_lines().iter().any(|line| {
        line["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("Listening on"))
    });
    assert!(!announced, "nothing may be announced when a bind fails");
}

#[test]
fn configuration_errors_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("finch.json");
    for (path, expected) in [
        (
            missing.to_str().unwrap().to_owned(),
            "failed to read configuration file",
        ),
        (
            "finch.json".to_owned(),
            "configuration file path must be absolute: finch.json",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_finch"))
            .args(["run", "--stack.config-file", &path])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    std::fs::write(&missing, r#"{"created_at": "x"}"#).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_finch"))
        .args(["run", "--stack.config-file", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("invalid configuration data, missing field: Database")
    );
}

#[test]
fn unknown_log_level_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_finch"))
        .args(["run", "--server.log-level", "verbose"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--server.log-level"));
}

#[test]
fn version_prints_release_and_commit() {
    for args in [&["version"][..], &["-v"], &["--version"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_finch"))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("Release: ") && stdout.contains("Commit:  "),
            "{stdout}"
        );
        assert!(!stdout.contains('\x1b'), "NO_COLOR is honoured");
    }
}

#[tokio::test]
async fn refusals_are_logged_with_a_reason_and_never_the_token() {
    let library = Library::new();
    let store = library.open_store().await;
    store.close().await;
    let finch = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    let url = format!("http://{}/auth", finch.address("Auth"));
    let unknown = library
        .tokens()
        .mint_agent(
            AgentRid::mint(finch_testkit::SERVICE_ID).as_str(),
            OffsetDateTime::now_utc(),
        )
        .token;
    let client = http();
    let response = finch_testkit::forward_auth(
        &client,
        &url,
        Some(&format!("Bearer {unknown}")),
        "POST",
        "/loki/api/v1/push",
    )
    .await;
    assert_eq!(response.status(), 401);
    let response =
        finch_testkit::forward_auth(&client, &url, None, "POST", "/loki/api/v1/push").await;
    assert_eq!(response.status(), 401);
    let logs = finch_testkit::eventually(Duration::from_secs(5), || {
        let lines = finch.log_lines();
        async move {
            let warnings: Vec<serde_json::Value> =
                lines.into_iter().filter(|l| l["level"] == "WARN").collect();
            (warnings.len() >= 2).then_some(warnings)
        }
    })
    .await
    .unwrap();
    assert_eq!(logs[0]["msg"], "Auth request failed validation");
    assert_eq!(logs[0]["reason"], "the token's agent is not registered");
    assert_eq!(logs[0]["remote_addr"], "192.0.2.10");
    assert_eq!(logs[1]["msg"], "Auth request missing Authorization header");
    let everything = serde_json::to_string(&finch.log_lines()).unwrap();
    let signature = unknown.rsplit('.').next().unwrap();
    assert!(!everything.contains(signature), "a token reached the log");
}

#[test]
fn init_writes_a_library_that_finch_runs_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("finch.json");
    let init = || {
        Command::new(env!("CARGO_BIN_EXE_finch"))
            .args(["init", "--stack.hostname", "finch.example.com"])
            .arg("--stack.config-file")
            .arg(&config)
            .output()
            .unwrap()
    };
    let output = init();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        config.display().to_string()
    );
    let written = std::fs::read(&config).unwrap();
    let finch = FinchProcess::spawn(env!("CARGO_BIN_EXE_finch").as_ref(), &config, &[]);
    finch.address("gRPC");

    let again = init();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    assert_eq!(std::fs::read(&config).unwrap(), written);
}
