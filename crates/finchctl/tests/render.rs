//! `finchctl service render` as a binary: it writes the stack's files, keeps the stack's
//! secrets on a repeat, and refuses bad input with the flag's name. `stack_through_traefik.rs`
//! runs what it renders.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::Dir;

const HOST: &str = "finch.example.com";

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn finch_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(dir, "finch.json")).unwrap()
}

/// `finchctl service render stack --service.host HOST` with `flags`, in `dir`.
async fn render_stack(dir: &Dir, flags: &[&str]) -> support::Outcome {
    let args: Vec<&str> = ["service", "render", "stack", "--service.host", HOST]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    dir.run(&args).await
}

/// The `finch.config-hash` label of each service in the rendered compose file.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    let compose: serde_json::Value =
        serde_norway::from_str(&read(dir, "docker-compose.yaml")).unwrap();
    compose["services"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(name, s)| {
            let hash = s["labels"]["finch.config-hash"].as_str()?;
            Some((name.clone(), hash.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn render_writes_the_stack_and_a_repeat_keeps_its_secrets() {
    let dir = Dir::new();
    let out = dir.path().join("stack");
    let stdout = dir
        .run(&["service", "render", "stack", "--service.host", HOST])
        .await
        .ok()
        .to_owned();
    for path in [
        "docker-compose.yaml",
        "finch.json",
        "traefik/etc/traefik.yaml",
        "traefik/etc/conf.d/http.yaml",
        "traefik/etc/certs.d/cert.pem",
        "loki/etc/loki.yaml",
        "grafana/admin-password",
        "alloy/etc/alloy.config",
    ] {
        assert!(
            stdout.lines().any(|l| l == path),
            "{path} not listed:\n{stdout}"
        );
        assert_eq!(support::mode(&out.join(path)), 0o400, "{path}");
    }
    let first = finch_json(&out);
    assert_eq!(first["hostname"], HOST);
    // At 443 the file has 1.x's keys: no https_port.
    assert_eq!(first.get("https_port"), None);
    let password = read(&out, "grafana/admin-password");
    let cert = read(&out, "traefik/etc/certs.d/cert.pem");
    let hashes_before = hashes(&out);

    let again = render_stack(&dir, &["--stack.retention=30d"]).await;
    again.ok();
    assert!(again.stderr.contains("Kept"), "{again:#?}");
    let second = finch_json(&out);
    for key in ["id", "secret", "proxy_secret", "created_at", "database"] {
        assert_eq!(first[key], second[key], "{key}");
    }
    assert_eq!(read(&out, "grafana/admin-password"), password);
    assert_eq!(read(&out, "traefik/etc/certs.d/cert.pem"), cert);
    assert!(read(&out, "loki/etc/loki.yaml").contains("retention_period: 720h"));
    let hashes_after = hashes(&out);
    let changed: Vec<&String> = hashes_before
        .keys()
        .filter(|name| hashes_before[*name] != hashes_after[*name])
        .collect();
    assert_eq!(changed, ["loki", "mimir", "pyroscope"]);

    // Switching to Let's Encrypt drops the self-signed files and keeps the secrets.
    render_stack(
        &dir,
        &[
            "--service.letsencrypt",
            "--service.letsencrypt.email=ops@example.org",
        ],
    )
    .await
    .ok();
    assert!(!out.join("traefik/etc/certs.d/cert.pem").exists());
    assert_eq!(finch_json(&out)["secret"], first["secret"]);

    // HTTPS on another port: Finch and Grafana are told it, so their URLs carry it.
    render_stack(&dir, &["--stack.https-port=127.0.0.1:8443"])
        .await
        .ok();
    assert_eq!(finch_json(&out)["https_port"], 8443);
    let compose: serde_json::Value =
        serde_norway::from_str(&read(&out, "docker-compose.yaml")).unwrap();
    assert_eq!(
        compose["services"]["grafana"]["environment"]["GF_SERVER_ROOT_URL"],
        "https://finch.example.com:8443/grafana/"
    );
}

#[tokio::test]
async fn replicas_on_postgres_keep_their_database_and_ca_on_a_repeat() {
    let dir = Dir::new();
    let out = dir.path().join("stack");
    std::fs::write(
        dir.path().join("db-ca.pem"),
        "-----BEGIN CERTIFICATE-----\n",
    )
    .unwrap();
    let uri =
        "postgres://finch:pw@db.internal:5432/finch?sslmode=verify-full&sslrootcert=db-ca.pem";
    let render = |extra: &[&str]| -> Vec<String> {
        ["service", "render", "stack", "--service.host", HOST]
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let dir = &dir;
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dir.run(&args).await
    };
    let fresh = run(render(&["--stack.replicas", "2", "--stack.database", uri])).await;
    fresh.ok();
    assert!(!fresh.stderr.contains("warning"), "a new stack: {fresh:#?}");
    let expected = "postgres://finch:pw@db.internal:5432/finch?sslmode=verify-full&sslrootcert=/var/lib/finch/postgres/root.crt";
    assert_eq!(finch_json(&out)["database"], expected);
    assert_eq!(
        read(&out, "postgres/root.crt"),
        "-----BEGIN CERTIFICATE-----\n"
    );
    let before = hashes(&out);
    assert!(before.contains_key("finch-2"), "{before:?}");

    // Without the flags: the same database, CA file and replicas, nothing recreated.
    let repeat = run(render(&[])).await;
    repeat.ok();
    assert!(!repeat.stderr.contains("warning"), "{repeat:#?}");
    assert_eq!(finch_json(&out)["database"], expected);
    assert!(out.join("postgres/root.crt").exists());
    assert_eq!(hashes(&out), before);

    // Back to SQLite needs one replica; then the CA file goes.
    let refused = run(render(&["--stack.database", "sqlite://finch.db"])).await;
    refused.code(2);
    let back = run(render(&[
        "--stack.database",
        "sqlite://finch.db",
        "--stack.replicas",
        "1",
    ]))
    .await;
    back.ok();
    // The agents stay in PostgreSQL: said before the files change, password masked.
    let masked = expected.replace(":pw@", ":REDACTED@");
    let warning = format!(
        "warning: --stack.database changes the database of the stack in stack from {masked} to sqlite://finch.db"
    );
    assert!(back.stderr.contains(&warning), "{back:#?}");
    assert!(
        back.stderr.contains(&format!(
            "`finch migrate --from '{masked}' --to sqlite:///var/lib/finch/finch.db`"
        )),
        "{back:#?}"
    );
    assert!(!back.stderr.contains(":pw@"), "{back:#?}");
    assert_eq!(finch_json(&out)["database"], "sqlite://finch.db");
    assert!(!out.join("postgres/root.crt").exists());
    assert!(!hashes(&out).contains_key("finch-2"));
}

#[tokio::test]
async fn render_refuses_bad_input_naming_it() {
    let dir = Dir::new();
    std::fs::write(dir.path().join("a-file"), "x").unwrap();
    std::fs::write(dir.path().join("images.yaml"), "lokki: loki:3\n").unwrap();
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/finch.json"), "{").unwrap();
    let cases: [(&[&str], i32, &str); 11] = [
        (
            &["out", "--service.host", HOST, "--stack.replicas=2"],
            2,
            "--stack.replicas 2 needs PostgreSQL: the stack's database is SQLite",
        ),
        (
            &["out", "--service.host", HOST, "--stack.replicas=9"],
            2,
            "is not a whole number from 1 to 8",
        ),
        (
            &[
                "out",
                "--service.host",
                HOST,
                "--stack.database=postgres://finch:hunter2@localhost/finch",
            ],
            2,
            "postgres://finch:REDACTED@localhost/finch: localhost inside the finch container is the container itself",
        ),
        (
            &["broken", "--service.host", HOST],
            1,
            "broken/finch.json: the existing finch.json is not valid",
        ),
        (
            &["a-file", "--service.host", HOST],
            2,
            "a-file is not a directory",
        ),
        (
            &["out", "--service.host", "bad host"],
            2,
            "--service.host \"bad host\"",
        ),
        (
            &["out", "--service.host", HOST, "--stack.images=images.yaml"],
            1,
            "--stack.images: unknown service \"lokki\"",
        ),
        (
            &["out", "--service.host", HOST, "--service.letsencrypt"],
            2,
            "--service.letsencrypt needs --service.letsencrypt.email",
        ),
        (
            &[
                "out",
                "--service.host",
                HOST,
                "--service.customtls",
                "--service.customtls.cert=missing.pem",
                "--service.customtls.key=missing.pem",
            ],
            1,
            "--service.customtls.cert: cannot read missing.pem",
        ),
        (
            &["out", "--service.host", HOST, "--stack.https-port=::1:8443"],
            2,
            "\"::1:8443\": write an IPv6 address in brackets, like [::1]:8443",
        ),
        (
            &["out", "--service.host", HOST, "--stack.http-port=443"],
            2,
            "--stack.http-port 443 and --stack.https-port 443 publish the same port",
        ),
    ];
    for (args, code, message) in cases {
        let mut all = vec!["service", "render"];
        all.extend_from_slice(args);
        let outcome = dir.run(&all).await;
        outcome.code(code);
        assert!(outcome.stderr.contains(message), "{message}:\n{outcome:#?}");
    }
    assert!(
        !dir.path().join("out/finch.json").exists(),
        "nothing written on error"
    );
}

#[tokio::test]
async fn alert_flags_are_kept_by_a_repeat_and_removed_when_emptied() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Dir::new();
    let out = dir.path().join("stack");
    let login = dir.path().join("smtp.yaml");
    std::fs::write(
        &login,
        "user: alerts@example.com\npassword: 's3cret: $HOME'\n",
    )
    .unwrap();
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o600)).unwrap();
    let login = login.display().to_string();
    let base = ["service", "render", "stack", "--service.host", HOST];
    let flags = [
        "--alert.email",
        "ops@example.com",
        "--alert.smtp",
        "smtp.example.com:587",
        "--alert.smtp.credentials",
        &login,
        "--alert.webhook",
        "https://hooks.example.com/finch?token=t0k",
        "--alert.silence",
        "1h",
    ];
    dir.run(&[&base[..], &flags[..]].concat()).await.ok();
    let alerting = [
        "grafana/provisioning/alerting/contact-points.yaml",
        "grafana/provisioning/alerting/finch.yaml",
        "grafana/smtp-password",
        "docker-compose.yaml",
    ];
    let snapshot = || alerting.map(|p| read(&out, p));
    let first = snapshot();
    assert_eq!(first[2], "s3cret: $HOME");
    assert_eq!(support::mode(&out.join("grafana/smtp-password")), 0o400);
    assert!(first[0].contains("token=t0k") && first[1].contains("[1h]"));
    assert!(first[3].contains("GF_SMTP_PASSWORD__FILE") && !first[3].contains("s3cret"));

    dir.run(&base).await.ok();
    assert_eq!(snapshot(), first, "a repeat without the flags keeps them");

    dir.run(&[&base[..], &["--alert.email=", "--alert.webhook="][..]].concat())
        .await
        .ok();
    assert!(!out.join("grafana/smtp-password").exists());
    let undo = read(&out, alerting[0]);
    assert!(
        undo.contains("resetPolicies") && !undo.contains("contactPoints"),
        "{undo}"
    );
    assert!(!read(&out, "docker-compose.yaml").contains("GF_SMTP"));
    assert!(
        read(&out, alerting[1]).contains("[1h]"),
        "the silence stays"
    );

    let open = dir.path().join("open.yaml");
    std::fs::write(&open, "user: u\npassword: p\n").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = open.display().to_string();
    let refused = dir
        .run(
            &[
                &base[..],
                &[
                    "--alert.email",
                    "ops@example.com",
                    "--alert.smtp",
                    "mail:25",
                ][..],
                &["--alert.smtp.credentials", &open][..],
            ]
            .concat(),
        )
        .await;
    assert!(
        refused.code(1).stderr.contains("readable by others"),
        "{}",
        refused.stderr
    );
}

/// The stand-in crate keeps its own list of the services it builds images for (it cannot
/// depend on finchctl): it must be the stack's, in the same order.
#[test]
fn the_stand_in_images_are_the_stacks_services() {
    let services: Vec<&str> = finchctl::stack::images::Service::ALL
        .iter()
        .map(|s| s.name())
        .collect();
    assert_eq!(
        finch_standin::images::SERVICES.as_slice(),
        services.as_slice()
    );
}
