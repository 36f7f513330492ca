//! finchctl as a binary: each test has its own HOME and FINCH_CONFIG, runs the real
//! executable, and asserts stdout, stderr and the exit code. Commands that call the service
//! run against the real `finch` behind a real Traefik (`finch_testkit::Stage`), and what the
//! service then holds is read back from it.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod support;

use finch_testkit::{LogCapture, SERVICE_HOST, SERVICE_ID, Stage};
use support::{Dir, TEST_RID, staged};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[tokio::test]
async fn a_bad_run_format_is_a_usage_error() {
    let out = Dir::new()
        .run(&["service", "deploy", "h", "--run.format", "xml"])
        .await;
    out.code(2);
    assert!(out.stderr.contains("--run.format"), "{out:#?}");
}

#[tokio::test]
async fn help_version_and_usage_errors() {
    let dir = Dir::new();
    let out = dir.run(&["--help"]).await;
    assert!(out.ok().contains("service"));
    assert!(out.stdout.contains("--tls.skip-verify"));
    let out = dir.run(&["version"]).await;
    let stdout = out.ok();
    assert!(stdout.contains("Release:    "), "{stdout}");
    let rid_line = stdout
        .lines()
        .find(|l| l.starts_with("ResourceID: "))
        .unwrap();
    assert!(
        rid_line.starts_with("ResourceID: rid:finchctl:") || rid_line.ends_with("unavailable"),
        "{rid_line}"
    );
    // Not a terminal: no colour codes.
    assert!(!stdout.contains('\x1b'));
    let out = dir.run(&["--version"]).await;
    assert!(out.ok().starts_with("finchctl "));
    dir.run(&["agent", "list"]).await.code(2);
    dir.run(&["agent", "bogus"]).await.code(2);
}

#[tokio::test]
async fn completions_and_man_pages_come_from_the_definitions() {
    let dir = Dir::new();
    let bash = dir.run(&["completion", "bash"]).await;
    assert!(bash.ok().contains("--agent.logs.journal"));
    assert!(bash.stdout.contains("rotate-certificate"));
    let zsh = dir.run(&["completion", "zsh"]).await;
    assert!(zsh.ok().contains("#compdef finchctl"));
    dir.run(&["completion", "fish"]).await.ok();
    let out = dir.run(&["manpages", "man"]).await;
    out.ok();
    let page = std::fs::read_to_string(dir.path().join("man/finchctl-agent-register.1")).unwrap();
    assert!(page.contains("agent.hostname"), "{page}");
    assert!(dir.path().join("man/finchctl.1").exists());
}

#[tokio::test]
async fn an_unknown_stack_says_how_to_register() {
    // No config directory at all: 1.x panicked (B7).
    let dir = Dir::new();
    let out = dir.run(&["agent", "list", "finch.example.com"]).await;
    out.code(1);
    assert!(
        out.stderr
            .starts_with("error: stack \"finch.example.com\" not found in "),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("hint: register this workstation with `finchctl service register [user@]finch.example.com`"),
        "{out:#?}"
    );
    assert_eq!(out.stdout, "");

    // JSON asked: the error is JSON on stdout too.
    let out = dir
        .run(&["service", "info", "finch.example.com", "--output", "json"])
        .await;
    out.code(1);
    let json = out.json();
    assert!(json["error"].as_str().unwrap().contains("not found"));
    assert!(json["hint"].as_str().unwrap().contains("service register"));
}

/// The prefix of every RID the stage's service mints.
fn agent_rid_prefix() -> String {
    format!("rid:finch:{SERVICE_ID}:agent:")
}

#[tokio::test]
async fn agent_register_prints_the_rid_and_writes_a_private_config() {
    let logs = LogCapture::install();
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let out = dir
        .run(&[
            "agent",
            "register",
            &svc,
            "--agent.hostname",
            "web-1",
            "--agent.logs.journal",
            "--agent.logs.files=/var/log/syslog",
            "--agent.metrics.targets",
            "http://localhost:9100/metrics",
            "--agent.labels",
            "env=prod,edge",
        ])
        .await;
    let rid = out.ok().trim().to_owned();
    assert!(rid.starts_with(&agent_rid_prefix()), "{out:#?}");
    assert_eq!(out.stdout, format!("{rid}\n"));
    assert!(
        out.stderr.contains(&format!("Registered web-1 as {rid}")),
        "{out:#?}"
    );
    let config = dir.path().join("finch-agent.cfg");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&rid), "{text}");
    assert!(text.contains("bearer_token"), "{text}");
    #[cfg(unix)]
    assert_eq!(support::mode(&config), 0o600);

    // What the service holds, in its stored form of each log source.
    let agent = stage.agent(&rid).await.unwrap();
    assert_eq!(agent.log_sources, ["journal:", "file:///var/log/syslog"]);
    assert_eq!(agent.labels, ["env=prod", "edge"]);
    assert!(agent.metrics, "targets switch metrics on");
    assert_eq!(agent.node, "unix");
    // The client certificate reached the service with our RID as CN (the service logs the
    // operator it authenticated), and the user agent carries the release.
    let registrations: Vec<_> = logs
        .records()
        .into_iter()
        .filter(|r| r["request_path"] == "/finch.AgentService/RegisterAgent")
        .collect();
    assert!(!registrations.is_empty());
    for record in registrations {
        assert_eq!(record["operator"], TEST_RID, "{record}");
        let ua = record["user_agent"].as_str().unwrap();
        assert!(
            ua.starts_with("rid:finchctl:") || ua.starts_with("finchctl/"),
            "{ua}"
        );
        assert!(ua.contains(&format!("/{}", finchctl::RELEASE)), "{ua}");
    }
    stage.stop().await;
}

#[tokio::test]
async fn agent_register_from_a_file_with_json_output() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    std::fs::write(
        dir.path().join("agent.yaml"),
        "hostname: db-1\nagent:\n  node: windows\nlogs:\n  events:\n    - Microsoft-Windows-Sysmon/Operational\nprofiles:\n  enable: true\n",
    )
    .unwrap();
    let out = dir
        .run(&[
            "agent",
            "register",
            &stage.name(),
            "--agent.file",
            "agent.yaml",
            "--agent.config",
            "db.cfg",
            "--output.json",
        ])
        .await;
    out.ok();
    let json = out.json();
    let rid = json["rid"].as_str().unwrap().to_owned();
    assert!(rid.starts_with(&agent_rid_prefix()), "{json}");
    assert_eq!(json, serde_json::json!({"rid": rid, "config": "db.cfg"}));
    let agent = stage.agent(&rid).await.unwrap();
    assert_eq!(agent.hostname, "db-1");
    assert_eq!(agent.node, "windows");
    assert_eq!(
        agent.log_sources,
        ["event://Microsoft-Windows-Sysmon%2FOperational"]
    );
    assert!(agent.profiles);
    stage.stop().await;
}

#[tokio::test]
async fn agent_register_usage_errors_name_the_flag() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let out = dir
        .run(&["agent", "register", &svc, "--agent.hostname", "x"])
        .await;
    out.code(2);
    assert!(
        out.stderr
            .starts_with("error: at least one log source must be enabled"),
        "{out:#?}"
    );
    let out = dir
        .run(&["agent", "register", &svc, "--agent.logs.journal"])
        .await;
    out.code(2);
    assert!(out.stderr.contains("--agent.hostname"), "{out:#?}");
    let out = dir
        .run(&[
            "agent",
            "register",
            &svc,
            "--agent.hostname=x",
            "--agent.file",
            "missing.toml",
        ])
        .await;
    out.code(2);
    assert!(out.stderr.contains("--agent.file missing.toml"), "{out:#?}");
    // Nothing reached the service.
    assert!(stage.agents().await.is_empty());
    stage.stop().await;
}

async fn registered(stage: &Stage, dir: &Dir, hostname: &str) -> String {
    let out = dir
        .run(&[
            "agent",
            "register",
            &stage.name(),
            "--agent.hostname",
            hostname,
            "--agent.logs.journal",
            "--agent.logs.docker",
            "--agent.labels=env=prod",
            "--agent.metrics",
            "--agent.config",
            &format!("{hostname}.cfg"),
        ])
        .await;
    out.ok().trim().to_owned()
}

#[tokio::test]
async fn agent_list_in_every_format() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();

    let out = dir.run(&["agent", "list", &svc, "--output", "json"]).await;
    assert_eq!(out.json(), serde_json::json!([]));
    let out = dir.run(&["agent", "list", &svc]).await;
    assert_eq!(out.ok(), "");
    assert!(
        out.stderr
            .contains("No agents registered with this service.")
    );

    let a = registered(&stage, &dir, "web-1").await;
    let b = registered(&stage, &dir, "web-2").await;
    let out = dir.run(&["agent", "list", &svc]).await;
    assert_eq!(
        out.ok(),
        format!("#  Hostname  Resource Identifier\n1  web-1     {a}\n2  web-2     {b}\n")
    );
    let out = dir.run(&["agent", "list", &svc, "--output.json"]).await;
    assert_eq!(
        out.json(),
        serde_json::json!([{"hostname": "web-1", "rid": a}, {"hostname": "web-2", "rid": b}])
    );
    let out = dir.run(&["agent", "list", &svc, "-o", "yaml"]).await;
    assert_eq!(
        out.ok(),
        format!("- hostname: web-1\n  rid: {a}\n- hostname: web-2\n  rid: {b}\n")
    );
    stage.stop().await;
}

#[tokio::test]
async fn agent_describe_in_every_format() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let rid = registered(&stage, &dir, "web-1").await;

    let out = dir
        .agent("describe", &svc, &rid, &["--output", "json"])
        .await;
    let mut json = out.json();
    // The service stamps the registration; it is an RFC 3339 time.
    let created_at = json["created_at"].take();
    OffsetDateTime::parse(created_at.as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "rid": rid,
            "hostname": "web-1",
            "node": "unix",
            "labels": ["env=prod"],
            "logs": {
                "events": [],
                "files": [],
                "journal": {"enable": true},
                "docker": {"enable": true}
            },
            "metrics": {"enable": true, "targets": []},
            "profiles": {"enable": false},
            "created_at": null
        })
    );
    let out = dir.agent("describe", &svc, &rid, &["--output.yaml"]).await;
    assert!(out.ok().contains("hostname: web-1\n"), "{out:#?}");
    assert!(
        out.stdout.contains("  journal:\n    enable: true\n"),
        "{out:#?}"
    );
    let out = dir.agent("describe", &svc, &rid, &[]).await;
    let table = out.ok();
    assert!(table.starts_with("Property"), "{table}");
    assert!(table.contains("Hostname             web-1\n"), "{table}");
    assert!(table.contains("Labels               env=prod\n"), "{table}");
    assert!(!table.contains("Files"), "{table}");

    // A well-formed RID the service does not know.
    let unknown = format!("{}00000000-0000-4000-8000-000000000000", agent_rid_prefix());
    let out = dir.agent("describe", &svc, &unknown, &[]).await;
    out.code(1);
    assert!(
        out.stderr
            .contains(&format!("cannot get agent \"{unknown}\"")),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "hint: list the agents with `finchctl agent list {svc}`"
        )),
        "{out:#?}"
    );
    stage.stop().await;
}

#[tokio::test]
async fn agent_edit_changes_only_the_given_fields() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let rid = registered(&stage, &dir, "web-1").await;
    let before = stage.agent(&rid).await.unwrap();

    // 1.x's B2: `agent edit --agent.rid X --agent.logs.journal svc` failed outright.
    let out = dir
        .agent(
            "edit",
            &svc,
            &rid,
            &["--agent.logs.docker=false", "--output", "json"],
        )
        .await;
    let json = out.json();
    assert_eq!(json["logs"]["docker"]["enable"], false);
    assert_eq!(json["logs"]["journal"]["enable"], true);
    let after = stage.agent(&rid).await.unwrap();
    assert_eq!(after.log_sources, ["journal:"]);
    assert_eq!(after.labels, before.labels);
    assert_eq!(after.metrics, before.metrics);
    assert_eq!(after.profiles, before.profiles);
    assert_eq!(after.hostname, before.hostname);

    // From a file, with the RID in it; labels cleared by a flag.
    std::fs::write(
        dir.path().join("edit.json"),
        format!(r#"{{"rid": "{rid}", "profiles": {{"enable": true}}}}"#),
    )
    .unwrap();
    let out = dir
        .run(&[
            "agent",
            "edit",
            &svc,
            "--agent.file",
            "edit.json",
            "--agent.labels=",
        ])
        .await;
    out.ok();
    assert!(out.stderr.contains("Updated"), "{out:#?}");
    assert!(out.stderr.contains("agent config"), "{out:#?}");
    let after = stage.agent(&rid).await.unwrap();
    assert!(after.profiles);
    assert!(after.labels.is_empty());
    assert!(after.metrics);
    assert_eq!(after.log_sources, ["journal:"]);

    // Removing the last log source is refused before anything is sent.
    let out = dir
        .agent("edit", &svc, &rid, &["--agent.logs.journal=false"])
        .await;
    out.code(2);
    assert!(out.stderr.contains("at least one log source"), "{out:#?}");
    assert_eq!(stage.agent(&rid).await.unwrap(), after);
    // No RID at all.
    dir.run(&["agent", "edit", &svc, "--agent.profiles"])
        .await
        .code(2);
    stage.stop().await;
}

#[tokio::test]
async fn agent_config_and_deregister() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let rid = registered(&stage, &dir, "web-1").await;

    // An existing world-readable file is replaced by a private one.
    let path = dir.path().join("fresh.cfg");
    std::fs::write(&path, "old").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = dir
        .agent("config", &svc, &rid, &["--agent.config", "fresh.cfg"])
        .await;
    assert_eq!(out.ok(), "");
    assert!(std::fs::read_to_string(&path).unwrap().contains(&rid));
    #[cfg(unix)]
    assert_eq!(support::mode(&path), 0o600);

    let out = dir
        .agent("config", &svc, &rid, &["--agent.config", "-"])
        .await;
    let config = out.ok();
    assert!(config.contains(&rid), "{config}");
    assert!(config.contains("bearer_token"), "{config}");

    let out = dir
        .agent("deregister", &svc, &rid, &["--output=json"])
        .await;
    assert_eq!(out.json(), serde_json::json!({ "rid": rid }));
    assert!(stage.agents().await.is_empty());
    let out = dir.agent("deregister", &svc, &rid, &[]).await;
    out.code(1);
    assert!(
        out.stderr.contains("NotFound") || out.stderr.contains("not found"),
        "{out:#?}"
    );
    stage.stop().await;
}

#[tokio::test]
async fn service_info_in_every_format() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let (created_at, release, commit) = (
        finch_testkit::CREATED_AT,
        finch::version::RELEASE,
        finch::version::COMMIT,
    );
    let out = dir.run(&["service", "info", &svc]).await;
    assert_eq!(
        out.ok(),
        format!(
            "Id          {SERVICE_ID}\nHostname    {SERVICE_HOST}\nCreated At  {created_at}\nRelease     {release}\nCommit      {commit}\n"
        )
    );
    let out = dir.run(&["service", "info", &svc, "--output.json"]).await;
    assert_eq!(
        out.json(),
        serde_json::json!({
            "id": SERVICE_ID,
            "hostname": SERVICE_HOST,
            "created_at": created_at,
            "release": release,
            "commit": commit
        })
    );
    let out = dir
        .run(&["service", "info", &svc, "--output", "yaml"])
        .await;
    assert!(out.ok().contains("hostname: finch.example.com\n"));
    stage.stop().await;
}

/// The claims of a dashboard token the stage's service minted.
fn dashboard_claims(stage: &Stage, token: &str) -> finch::tokens::DashboardClaims {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    stage.library.tokens().verify_dashboard(token, now).unwrap()
}

#[tokio::test]
async fn service_dashboard_prints_the_token_or_opens_the_fragment_url() {
    use finch::tokens::Role;

    let Some((stage, mut dir)) = staged(true).await else {
        return;
    };
    let svc = stage.name();
    let asked = OffsetDateTime::now_utc().unix_timestamp();
    let out = dir
        .run(&[
            "service",
            "dashboard",
            &svc,
            "--permission.role",
            "operator",
            "--permission.scope",
            "web-1,web-2",
            "--permission.session-timeout=60",
        ])
        .await;
    let claims = dashboard_claims(&stage, out.ok().trim());
    assert_eq!(claims.role, Role::Operator);
    assert_eq!(claims.scope, ["web-1", "web-2"]);
    // A 60 s session: it expires no later than a minute after it was asked for.
    assert!(claims.expires_at <= OffsetDateTime::now_utc().unix_timestamp() + 60);
    assert!(claims.expires_at >= asked + 60);

    let out = dir.run(&["service", "dashboard", &svc, "-o", "json"]).await;
    let login = out.json();
    let token = login["token"].as_str().unwrap();
    assert_eq!(dashboard_claims(&stage, token).role, Role::Viewer);
    let expires_at = OffsetDateTime::parse(login["expires_at"].as_str().unwrap(), &Rfc3339);
    assert!(expires_at.is_ok(), "{login}");
    // The service names its host alone; finchctl adds the port Traefik publishes HTTPS on.
    let port = finchctl::client::ServiceAddress::parse(&svc).unwrap().port;
    let login_url = format!("https://finch.example.com:{port}/login");
    assert_eq!(login["dashboard_url"], login_url.as_str());
    dir.run(&[
        "service",
        "dashboard",
        &svc,
        "--permission.session-timeout",
        "0",
    ])
    .await
    .code(2);

    // --web runs the opener with the token in the fragment.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = dir.path().join("opened.txt");
    let script = format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", record.display());
    for opener in ["xdg-open", "open"] {
        let path = bin.join(opener);
        std::fs::write(&path, &script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir.path_prefix = Some(bin);
    let out = dir.run(&["service", "dashboard", &svc, "--web"]).await;
    assert_eq!(out.ok(), "");
    let opened = std::fs::read_to_string(&record).unwrap();
    let token = opened
        .strip_prefix(&format!("{login_url}#token="))
        .unwrap_or_else(|| panic!("opened {opened}"));
    assert_eq!(dashboard_claims(&stage, token).role, Role::Viewer);
    stage.stop().await;
}

#[tokio::test]
async fn a_changed_server_certificate_is_refused_with_the_fix() {
    let Some(stage) = Stage::start(TEST_RID).await else {
        return;
    };
    let mut stack = stage.stack(&stage.credentials, false).await;
    // The pin of some other certificate.
    let other = stage.pki.client();
    stack.server_pin = Some(finchctl::client::ServerPin::of(&other).to_string());
    let dir = Dir::new().with_stacks(&[stack]);
    let svc = stage.name();
    let out = dir.run(&["service", "info", &svc]).await;
    out.code(1);
    assert!(
        out.stderr
            .starts_with(&format!("error: the server certificate of {svc} changed")),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "trust the new one with `finchctl service pin {svc}`"
        )),
        "{out:#?}"
    );
    // --tls.skip-verify still gets through, as in 1.x.
    dir.run(&["service", "info", &svc, "--tls.skip-verify"])
        .await
        .ok();
    stage.stop().await;
}

#[tokio::test]
async fn unpinned_self_signed_needs_a_pin_or_skip_verify() {
    let Some((stage, dir)) = staged(false).await else {
        return;
    };
    let svc = stage.name();
    let out = dir.run(&["agent", "list", &svc]).await;
    out.code(1);
    assert!(
        out.stderr
            .contains(&format!("error: cannot connect to {svc}")),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(&format!("finchctl service pin {svc}")),
        "{out:#?}"
    );
    dir.run(&["agent", "list", &svc, "--tls.skip-verify=true"])
        .await
        .ok();
    let dir = dir.env("FINCH_SKIP_TLS_VERIFY", "TRUE");
    dir.run(&["agent", "list", &svc]).await.ok();
    dir.run(&["agent", "list", &svc, "--tls.skip-verify=false"])
        .await
        .code(1);
    stage.stop().await;
}

#[tokio::test]
async fn service_pin_trusts_the_presented_certificate() {
    let Some((stage, dir)) = staged(false).await else {
        return;
    };
    let svc = stage.name();

    let wrong = finchctl::client::ServerPin::of(b"other").to_string();
    let out = dir
        .run(&["service", "pin", &svc, "--server.pin", &wrong])
        .await;
    out.code(1);
    assert!(out.stderr.contains("not the expected"), "{out:#?}");

    let pin = stage.pin().await;
    let out = dir.run(&["service", "pin", &svc]).await;
    assert_eq!(out.ok(), format!("{pin}\n"));
    let profile = finchctl::profile::Profile::load(&dir.profile_path()).unwrap();
    assert_eq!(
        profile.stack(&svc).unwrap().unwrap().server_pin,
        Some(pin.to_string())
    );
    // The previous file was kept.
    assert!(dir.config_dir().join("finch.json~").exists());
    dir.run(&["agent", "list", &svc]).await.ok();

    let out = dir
        .run(&["service", "pin", &svc, "--unset", "-o", "json"])
        .await;
    assert_eq!(
        out.json(),
        serde_json::json!({"service": svc, "server_pin": null})
    );
    stage.stop().await;
}

#[tokio::test]
async fn a_certificate_close_to_expiry_is_warned_about() {
    let issued = OffsetDateTime::now_utc() - time::Duration::days(80);
    let Some(stage) = Stage::start_issued(TEST_RID, issued).await else {
        return;
    };
    let dir = Dir::new().with_stacks(&[stage.stack(&stage.credentials, true).await]);
    let svc = stage.name();
    let out = dir.run(&["service", "info", &svc, "-o", "json"]).await;
    out.ok();
    assert!(
        out.stderr.contains("warning: the client certificate for"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("renew it with `finchctl service rotate-certificate 127.0.0.1`"),
        "{out:#?}"
    );
    // stdout stays pure JSON.
    out.json();
    stage.stop().await;
}

#[tokio::test]
async fn finch_json_written_by_finchctl_has_the_1x_shape() {
    let Some((stage, dir)) = staged(false).await else {
        return;
    };
    dir.run(&["service", "pin", &stage.name()]).await.ok();
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.profile_path()).unwrap()).unwrap();
    let stack = &value["stacks"][0];
    let mut keys: Vec<_> = stack.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["cert", "key", "name", "server_pin"]);
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(stack["key"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(key)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    #[cfg(unix)]
    assert_eq!(support::mode(&dir.profile_path()), 0o600);
    stage.stop().await;
}
