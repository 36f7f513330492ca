use std::os::unix::fs::PermissionsExt as _;

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    alerts: AlertArgs,
}

fn args(flags: &[&str]) -> AlertArgs {
    Cli::try_parse_from(std::iter::once("t").chain(flags.iter().copied()))
        .expect("parses")
        .alerts
}

fn resolve(flags: &[&str], kept: Alerts) -> anyhow::Result<Alerts> {
    args(flags).resolve(kept, "finch.example.com")
}

fn credentials(dir: &tempfile::TempDir, text: &str, mode: u32) -> String {
    let path = dir.path().join("smtp.yaml");
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.display().to_string()
}

fn usage_message(result: anyhow::Result<Alerts>) -> String {
    let err = result.expect_err("refused");
    let problem = err.downcast_ref::<Problem>().expect("a problem");
    assert!(problem.usage, "{problem:?}");
    problem.message.clone()
}

#[test]
fn every_flag_spelling_parses() {
    let a = args(&[
        "--alert.email",
        "a@example.com",
        "--alert.email=b@example.com",
        "--alert.smtp",
        "smtp.example.com:587",
        "--alert.smtp.credentials",
        "/c",
        "--alert.smtp.from",
        "f@example.com",
        "--alert.webhook",
        "https://h.example.com/x",
        "--alert.silence",
        "2h",
    ]);
    assert_eq!(a.email, ["a@example.com", "b@example.com"]);
    assert_eq!(a.silence.map(|s| s.to_string()).as_deref(), Some("2h"));
    assert!(Cli::try_parse_from(["t", "--alert.silence", "1m"]).is_err());
}

#[test]
fn nothing_given_keeps_nothing_or_what_the_stack_has() {
    assert_eq!(
        resolve(&[], Alerts::default()).expect("ok"),
        Alerts::default()
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = credentials(
        &dir,
        "user: alerts@example.com\npassword: 'p$ss: #1'\n",
        0o600,
    );
    let first = resolve(
        &[
            "--alert.email",
            "ops@example.com",
            "--alert.smtp",
            "smtp.example.com:587",
            "--alert.smtp.credentials",
            &file,
            "--alert.webhook",
            "https://hooks.example.com/finch",
            "--alert.silence",
            "30m",
        ],
        Alerts::default(),
    )
    .expect("ok");
    let smtp = first.smtp.clone().expect("smtp");
    assert_eq!(smtp.from, "alerts@example.com");
    assert_eq!(smtp.credentials.expect("login").password, "p$ss: #1");
    assert_eq!(resolve(&[], first.clone()).expect("kept"), first);
    let fewer = resolve(&["--alert.webhook", ""], first.clone()).expect("ok");
    assert_eq!(fewer.webhook, None);
    assert_eq!(fewer.emails, first.emails);
    let none = resolve(&["--alert.email="], fewer).expect("ok");
    assert!(!none.has_contact_point() && none.smtp.is_none());
}

#[test]
fn the_sender_defaults_to_an_address_of_the_stack() {
    let alerts = resolve(
        &[
            "--alert.email",
            "ops@example.com",
            "--alert.smtp",
            "mail:25",
        ],
        Alerts::default(),
    )
    .expect("ok");
    assert_eq!(alerts.smtp.expect("smtp").from, "finch@finch.example.com");
}

#[test]
fn incomplete_or_bad_flags_are_usage_errors_naming_the_flag() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--alert.email", "ops@example.com"],
            "--alert.email needs --alert.smtp",
        ),
        (&["--alert.smtp", "mail:25"], "need --alert.email"),
        (
            &["--alert.email", "not-an-address", "--alert.smtp", "mail:25"],
            "--alert.email \"not-an-address\"",
        ),
        (
            &["--alert.email", "ops@example.com", "--alert.smtp", "mail"],
            "--alert.smtp \"mail\"",
        ),
        (&["--alert.webhook", "hooks.example.com"], "--alert.webhook"),
        (
            &[
                "--alert.email",
                "ops@example.com",
                "--alert.smtp",
                "mail:25",
                "--alert.smtp.from",
                "x",
            ],
            "--alert.smtp.from",
        ),
    ];
    for (flags, expected) in cases {
        let message = usage_message(resolve(flags, Alerts::default()));
        assert!(message.contains(expected), "{flags:?}: {message}");
    }
}

#[test]
fn a_credentials_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let smtp = [
        "--alert.email",
        "ops@example.com",
        "--alert.smtp",
        "mail:25",
    ];
    let open = credentials(&dir, "user: u\npassword: p\n", 0o644);
    let err = resolve(
        &[&smtp[..], &["--alert.smtp.credentials", &open]].concat(),
        Alerts::default(),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("readable by others"), "{err}");
    for bad in [
        "user: u\n",
        "user: u\npassword: p\nhost: x\n",
        "user: u\npassword: \"a\\nb\"\n",
    ] {
        let file = credentials(&dir, bad, 0o600);
        let err = resolve(
            &[&smtp[..], &["--alert.smtp.credentials", &file]].concat(),
            Alerts::default(),
        )
        .expect_err(bad);
        assert!(
            err.to_string().starts_with("--alert.smtp.credentials"),
            "{err}"
        );
    }
}
