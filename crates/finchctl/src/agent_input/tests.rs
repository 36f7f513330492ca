use super::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn expected_file_spec() -> AgentInput {
    AgentInput {
        hostname: Some("web-1".into()),
        node: Some("unix".into()),
        rid: Some("rid:finch:x:agent:y".into()),
        journal: Some(true),
        docker: Some(false),
        files: Some(vec![
            "/var/log/*.log".into(),
            "/var/log/nginx/access.log".into(),
        ]),
        events: None,
        metrics: Some(true),
        metrics_targets: Some(vec!["http://localhost:9100/metrics".into()]),
        profiles: Some(true),
        labels: Some(vec!["env=prod".into(), "edge".into()]),
        hosts: None,
    }
}

#[test]
fn an_enroll_file_names_hostnames_per_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(
        &path,
        "logs:\n  journal:\n    enable: true\nhosts:\n  root@10.0.0.2: db-1\n",
    )
    .unwrap();
    let spec = AgentInput::from_file(&path).unwrap();
    assert_eq!(spec.journal, Some(true));
    let hosts = spec.hosts.unwrap();
    assert_eq!(hosts.get("root@10.0.0.2").map(String::as_str), Some("db-1"));
}

#[test]
fn agent_files_in_yaml_json_and_toml_use_1x_keys() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(
        dir.path(),
        "agent.yml",
        "hostname: web-1\nrid: rid:finch:x:agent:y\nagent:\n  node: unix\nlogs:\n  journal:\n    enable: true\n  docker:\n    enable: false\n  files:\n    - /var/log/*.log\n    - /var/log/nginx/access.log\nmetrics:\n  enable: true\n  targets:\n    - http://localhost:9100/metrics\nprofiles:\n  enable: true\nlabels:\n  - env=prod\n  - edge\n",
    );
    let json = write(
        dir.path(),
        "agent.json",
        r#"{"hostname":"web-1","rid":"rid:finch:x:agent:y","agent":{"node":"unix"},
            "logs":{"journal":{"enable":true},"docker":{"enable":false},
                    "files":["/var/log/*.log","/var/log/nginx/access.log"]},
            "metrics":{"enable":true,"targets":["http://localhost:9100/metrics"]},
            "profiles":{"enable":true},"labels":["env=prod","edge"]}"#,
    );
    let toml = write(
        dir.path(),
        "agent.toml",
        "hostname = \"web-1\"\nrid = \"rid:finch:x:agent:y\"\nlabels = [\"env=prod\", \"edge\"]\n[agent]\nnode = \"unix\"\n[logs]\nfiles = [\"/var/log/*.log\", \"/var/log/nginx/access.log\"]\n[logs.journal]\nenable = true\n[logs.docker]\nenable = false\n[metrics]\nenable = true\ntargets = [\"http://localhost:9100/metrics\"]\n[profiles]\nenable = true\n",
    );
    for path in [yaml, json, toml] {
        assert_eq!(
            AgentInput::from_file(&path).unwrap(),
            expected_file_spec(),
            "{path:?}"
        );
    }
}

#[test]
fn agent_file_errors_name_the_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write(dir.path(), "agent.ini", "x");
    let err = AgentInput::from_file(&ini).unwrap_err();
    assert!(err.usage);
    assert!(err.message.starts_with("--agent.file "), "{}", err.message);
    assert!(err.message.contains("*.yaml"), "{}", err.message);

    let bad = write(dir.path(), "agent.json", "{ nope");
    let err = AgentInput::from_file(&bad).unwrap_err();
    assert!(err.message.contains("agent.json"), "{}", err.message);

    let err = AgentInput::from_file(&dir.path().join("missing.yaml")).unwrap_err();
    assert!(err.message.contains("missing.yaml"), "{}", err.message);
}

#[test]
fn flags_given_override_the_file_and_others_do_not() {
    let file = expected_file_spec();
    let flags = AgentInput {
        docker: Some(true),
        labels: Some(vec![]),
        ..AgentInput::default()
    };
    let merged = file.clone().overlay(flags);
    assert_eq!(merged.docker, Some(true));
    assert_eq!(merged.labels, Some(vec![]));
    assert_eq!(merged.journal, file.journal);
    assert_eq!(merged.files, file.files);
}

#[test]
fn log_source_uris_round_trip_as_1x_builds_them() {
    let settings = AgentSettings {
        journal: true,
        docker: true,
        files: vec!["/var/log/syslog".into()],
        events: vec!["Microsoft-Windows-Sysmon/Operational".into()],
        ..AgentSettings::default()
    };
    let sources = settings.log_sources();
    assert_eq!(
        sources,
        [
            "journal://",
            "docker://",
            "file:///var/log/syslog",
            "event://Microsoft-Windows-Sysmon/Operational"
        ]
    );
    let back = AgentSettings::from_service(vec![], &sources, false, vec![], false);
    assert_eq!(back, settings);
}

#[test]
fn apply_changes_only_given_fields_and_metrics_targets_enable_metrics() {
    let mut settings = AgentSettings {
        labels: vec!["a=b".into()],
        journal: true,
        files: vec!["/var/log/x".into()],
        ..AgentSettings::default()
    };
    let before = settings.clone();
    settings.apply(&AgentInput {
        metrics_targets: Some(vec!["http://localhost:9100/metrics".into()]),
        ..AgentInput::default()
    });
    assert!(settings.metrics);
    assert_eq!(settings.labels, before.labels);
    assert_eq!(settings.files, before.files);
    assert!(settings.journal);

    // An explicit metrics=false wins over targets.
    settings.apply(&AgentInput {
        metrics: Some(false),
        metrics_targets: Some(vec!["http://x/metrics".into()]),
        ..AgentInput::default()
    });
    assert!(!settings.metrics);
}

#[test]
fn validation_names_the_flag() {
    let none = AgentSettings::default();
    assert!(
        none.validate()
            .unwrap_err()
            .message
            .contains("at least one log source")
    );
    let relative = AgentSettings {
        files: vec!["var/log".into()],
        ..AgentSettings::default()
    };
    assert!(
        relative
            .validate()
            .unwrap_err()
            .message
            .starts_with("--agent.logs.files")
    );
    let target = AgentSettings {
        journal: true,
        metrics_targets: vec!["localhost:9100".into()],
        ..AgentSettings::default()
    };
    assert!(
        target
            .validate()
            .unwrap_err()
            .message
            .starts_with("--agent.metrics.targets")
    );
    let label = AgentSettings {
        journal: true,
        labels: vec!["=x".into()],
        ..AgentSettings::default()
    };
    assert!(
        label
            .validate()
            .unwrap_err()
            .message
            .starts_with("--agent.labels")
    );
    assert!(validate_node("windows").is_ok());
    assert!(validate_node("mac").is_err());
}

#[test]
fn the_stored_form_the_service_returns_is_read() {
    let stored = [
        "journal:".to_owned(),
        "docker:".to_owned(),
        "file:///var/log/a%20b%3F.log".to_owned(),
        "file://localhost/var/log/x".to_owned(),
        "event://Microsoft-Windows-Sysmon%2FOperational".to_owned(),
        "event://System".to_owned(),
        "unknown://x".to_owned(),
    ];
    let settings = AgentSettings::from_service(vec![], &stored, false, vec![], false);
    assert!(settings.journal && settings.docker);
    assert_eq!(settings.files, ["/var/log/a b?.log", "/var/log/x"]);
    assert_eq!(
        settings.events,
        ["Microsoft-Windows-Sysmon/Operational", "System"]
    );
    // Sent back in the input form, which the service takes literally.
    assert_eq!(
        settings.log_sources(),
        [
            "journal://",
            "docker://",
            "file:///var/log/a b?.log",
            "file:///var/log/x",
            "event://Microsoft-Windows-Sysmon/Operational",
            "event://System"
        ]
    );
}
