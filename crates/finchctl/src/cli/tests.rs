//! Every flag's spellings, parsed with `try_parse_from` (no I/O), as ripgrep tests its flags.

use super::agent::AgentCommand;
use super::args::RunFormat;
use super::service::ServiceCommand;
use super::*;
use clap::CommandFactory;
use clap::error::ErrorKind;

fn parse(args: &[&str]) -> Cli {
    let mut all = vec!["finchctl"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all) {
        Ok(cli) => cli,
        Err(err) => panic!("{args:?} should parse: {err}"),
    }
}

fn parse_err(args: &[&str]) -> ErrorKind {
    let mut all = vec!["finchctl"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all) {
        Ok(cli) => panic!("{args:?} should not parse: {cli:?}"),
        Err(err) => err.kind(),
    }
}

fn agent(args: &[&str]) -> AgentCommand {
    let mut all = vec!["agent"];
    all.extend_from_slice(args);
    match parse(&all).command {
        Command::Agent(c) => c,
        other => panic!("{other:?}"),
    }
}

fn service(args: &[&str]) -> ServiceCommand {
    let mut all = vec!["service"];
    all.extend_from_slice(args);
    match parse(&all).command {
        Command::Service(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn debug_assert() {
    Cli::command().debug_assert();
}

#[test]
fn no_command_prints_help() {
    assert_eq!(
        parse_err(&[]),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
}

#[test]
fn version_flag_exists() {
    // 1.x read --version but never defined it (B10).
    assert_eq!(parse_err(&["--version"]), ErrorKind::DisplayVersion);
    assert!(matches!(parse(&["version"]).command, Command::Version(_)));
}

#[test]
fn test_tls_skip_verify() {
    let g = parse(&["version"]).global;
    assert_eq!(g.tls_skip_verify, None);
    let g = parse(&["--tls.skip-verify", "version"]).global;
    assert_eq!(g.tls_skip_verify, Some(true));
    let g = parse(&["version", "--tls.skip-verify=false"]).global;
    assert_eq!(g.tls_skip_verify, Some(false));
    let g = parse(&["agent", "list", "svc", "--tls.skip-verify=true"]).global;
    assert_eq!(g.tls_skip_verify, Some(true));
    assert_eq!(
        parse_err(&["--tls.skip-verify=maybe", "version"]),
        ErrorKind::InvalidValue
    );
}

#[test]
fn test_run_cmd_timeout() {
    assert_eq!(parse(&["version"]).global.cmd_timeout, 300);
    assert_eq!(
        parse(&["--run.cmd-timeout", "60", "version"])
            .global
            .cmd_timeout,
        60
    );
    assert_eq!(
        parse(&["service", "deploy", "h", "--run.cmd-timeout=5"])
            .global
            .cmd_timeout,
        5
    );
    assert_eq!(
        parse_err(&["--run.cmd-timeout", "-1", "version"]),
        ErrorKind::UnknownArgument
    );
}

#[test]
fn test_rpc_timeout() {
    assert_eq!(parse(&["version"]).global.rpc_timeout, 15);
    assert_eq!(
        parse(&["agent", "list", "s", "--rpc.timeout", "2"])
            .global
            .rpc_timeout,
        2
    );
    assert_eq!(
        parse_err(&["--rpc.timeout=0", "version"]),
        ErrorKind::ValueValidation
    );
}

#[test]
fn test_run_format_and_dry_run() {
    let ServiceCommand::Deploy(a) = service(&["deploy", "root@host:22"]) else {
        panic!()
    };
    assert_eq!(a.target.target, "root@host:22");
    assert_eq!(a.run.format, RunFormat::Progress);
    assert_eq!(a.run.dry_run, None);
    for (value, expected) in [
        ("documentation", RunFormat::Documentation),
        ("json", RunFormat::Json),
        ("quiet", RunFormat::Quiet),
        ("progress", RunFormat::Progress),
    ] {
        let ServiceCommand::Update(a) = service(&["update", "h", "--run.format", value]) else {
            panic!()
        };
        assert_eq!(a.run.format, expected);
    }
    let ServiceCommand::Teardown(a) = service(&["teardown", "h", "--run.dry-run"]) else {
        panic!()
    };
    assert_eq!(a.run.dry_run, Some(true));
    assert_eq!(
        parse_err(&["service", "register", "h", "--run.format", "xml"]),
        ErrorKind::InvalidValue
    );
}

#[test]
fn test_service_deploy_flags() {
    let ServiceCommand::Deploy(a) = service(&[
        "deploy",
        "h",
        "--service.host",
        "finch.example.com",
        "--service.letsencrypt",
        "--service.letsencrypt.email",
        "ops@example.com",
        "--service.customtls=false",
        "--service.customtls.cert",
        "c.pem",
        "--service.customtls.key=k.pem",
    ]) else {
        panic!()
    };
    assert_eq!(a.host.as_deref(), Some("finch.example.com"));
    assert_eq!(a.tls.letsencrypt, Some(true));
    assert_eq!(a.tls.letsencrypt_email.as_deref(), Some("ops@example.com"));
    assert_eq!(a.tls.custom.customtls, Some(false));
    assert_eq!(
        a.tls.custom.customtls_cert.unwrap(),
        std::path::Path::new("c.pem")
    );
    assert_eq!(
        a.tls.custom.customtls_key.unwrap(),
        std::path::Path::new("k.pem")
    );
    assert_eq!(a.rollout.stack.retention_or(None).to_string(), "72h");
}

#[test]
fn test_service_render_and_stack_flags() {
    let ServiceCommand::Render(a) = service(&[
        "render",
        "out",
        "--service.host=finch.example.com",
        "--stack.retention",
        "30d",
        "--stack.images=images.yaml",
        "--service.letsencrypt",
        "--service.letsencrypt.email=ops@example.org",
    ]) else {
        panic!()
    };
    assert_eq!(a.dir, std::path::Path::new("out"));
    assert_eq!(a.host, "finch.example.com");
    assert_eq!(a.stack.retention_or(None).hours(), 720);
    assert_eq!(a.stack.images.unwrap(), std::path::Path::new("images.yaml"));
    assert_eq!(a.tls.letsencrypt, Some(true));
    assert_eq!(
        parse_err(&["service", "render", "out"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&[
            "service",
            "render",
            "out",
            "--service.host=h",
            "--stack.retention=3y"
        ]),
        ErrorKind::ValueValidation
    );
    for cmd in ["deploy", "update"] {
        let parsed = service(&[cmd, "h", "--stack.retention=2w", "--stack.images=i.yaml"]);
        let stack = match parsed {
            ServiceCommand::Deploy(a) => a.rollout.stack,
            ServiceCommand::Update(a) => a.rollout.stack,
            _ => panic!(),
        };
        assert_eq!(stack.retention_or(None).hours(), 336);
    }
}

#[test]
fn test_stack_ports() {
    let ServiceCommand::Render(a) = service(&["render", "out", "--service.host=h"]) else {
        panic!()
    };
    assert_eq!(a.stack.ports().unwrap(), crate::stack::Ports::default());
    for cmd in ["deploy", "update"] {
        let parsed = service(&[
            cmd,
            "h",
            "--stack.http-port=127.0.0.1:8080",
            "--stack.https-port",
            "[::1]:8443",
        ]);
        let stack = match parsed {
            ServiceCommand::Deploy(a) => a.rollout.stack,
            ServiceCommand::Update(a) => a.rollout.stack,
            _ => panic!(),
        };
        let ports = stack.ports().unwrap();
        assert_eq!(ports.http.to_string(), "127.0.0.1:8080");
        assert_eq!(ports.https.to_string(), "[::1]:8443");
    }
    for bad in ["0", "65536", "localhost:80", "::1:443", "80x"] {
        let flag = format!("--stack.https-port={bad}");
        assert_eq!(
            parse_err(&["service", "render", "out", "--service.host=h", &flag]),
            ErrorKind::ValueValidation,
            "{bad}"
        );
    }
    let ServiceCommand::Render(a) = service(&[
        "render",
        "out",
        "--service.host=h",
        "--stack.http-port=8443",
        "--stack.https-port=127.0.0.1:8443",
    ]) else {
        panic!()
    };
    assert_eq!(
        a.stack.ports().unwrap_err().to_string(),
        "--stack.http-port 8443 and --stack.https-port 127.0.0.1:8443 publish the same port"
    );
}

#[test]
fn test_service_update_teardown_deregister_flags() {
    let ServiceCommand::Update(a) = service(&[
        "update",
        "h",
        "--service.customtls",
        "--service.customtls.cert=c",
        "--service.customtls.key=k",
    ]) else {
        panic!()
    };
    assert_eq!(a.tls.customtls, Some(true));
    let ServiceCommand::Teardown(a) = service(&["teardown", "h", "--service.host=x"]) else {
        panic!()
    };
    assert_eq!(a.host.as_deref(), Some("x"));
    let ServiceCommand::Deregister(a) = service(&["deregister", "h"]) else {
        panic!()
    };
    assert_eq!(a.client_rid, None);
    let ServiceCommand::Deregister(a) =
        service(&["deregister", "h", "--client.rid", "rid:finchctl:0"])
    else {
        panic!()
    };
    assert_eq!(a.client_rid.as_deref(), Some("rid:finchctl:0"));
    for cmd in ["register", "rotate-certificate", "rotate-secret"] {
        service(&[cmd, "user@host", "--run.dry-run=true"]);
    }
}

#[test]
fn test_output_spellings() {
    use crate::output::OutputFormat::*;
    let format = |args: &[&str]| {
        let mut all = vec!["service", "info", "svc"];
        all.extend_from_slice(args);
        parse(&all).command.output_format()
    };
    assert_eq!(format(&[]), Table);
    assert_eq!(format(&["--output", "json"]), Json);
    assert_eq!(format(&["--output=yaml"]), Yaml);
    assert_eq!(format(&["-o", "table"]), Table);
    assert_eq!(format(&["--output.json"]), Json);
    assert_eq!(format(&["--output.json=false"]), Table);
    assert_eq!(format(&["--output.yaml"]), Yaml);
    assert_eq!(
        parse_err(&["service", "info", "s", "--output.json", "--output.yaml"]),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        parse_err(&["service", "info", "s", "--output", "json", "--output.json"]),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        parse_err(&["service", "info", "s", "--output", "xml"]),
        ErrorKind::InvalidValue
    );
    // Every reporting command takes it.
    for cmd in [
        vec!["agent", "list", "s"],
        vec!["agent", "describe", "s", "--agent.rid", "r"],
        vec!["agent", "register", "s"],
        vec!["agent", "edit", "s"],
        vec!["agent", "config", "s", "--agent.rid", "r"],
        vec!["agent", "deregister", "s", "--agent.rid", "r"],
        vec!["service", "dashboard", "s"],
        vec!["service", "pin", "s"],
    ] {
        let mut args = cmd.clone();
        args.push("--output.json");
        assert_eq!(parse(&args).command.output_format(), Json, "{cmd:?}");
    }
    // The doctors take --output.json (1.x) and --output.
    assert_eq!(
        parse(&["service", "doctor", "h", "--output.json"])
            .command
            .output_format(),
        Json
    );
    assert_eq!(
        parse(&["agent", "doctor", "h", "--output", "yaml"])
            .command
            .output_format(),
        Yaml
    );
}

#[test]
fn test_service_dashboard_flags() {
    let ServiceCommand::Dashboard(a) = service(&["dashboard", "svc"]) else {
        panic!()
    };
    assert_eq!(a.session_timeout, 1800);
    assert_eq!(a.role, super::service::dashboard::Role::Viewer);
    assert!(a.scope.is_empty());
    assert_eq!(a.web, None);
    let ServiceCommand::Dashboard(a) = service(&[
        "dashboard",
        "svc",
        "--web",
        "--permission.session-timeout",
        "60",
        "--permission.role=admin",
        "--permission.scope",
        "web-1,rid:finch:x",
        "--permission.scope=db-1",
    ]) else {
        panic!()
    };
    assert_eq!(a.web, Some(true));
    assert_eq!(a.session_timeout, 60);
    assert_eq!(a.role, super::service::dashboard::Role::Admin);
    assert_eq!(a.scope, ["web-1", "rid:finch:x", "db-1"]);
    assert_eq!(
        parse_err(&["service", "dashboard", "s", "--permission.role", "root"]),
        ErrorKind::InvalidValue
    );
}

#[test]
fn test_agent_register_flags() {
    let AgentCommand::Register(a) = agent(&["register", "svc"]) else {
        panic!()
    };
    assert_eq!(a.hostname, None);
    assert_eq!(a.node, None);
    assert_eq!(a.config, std::path::Path::new("finch-agent.cfg"));
    assert_eq!(a.spec.journal, None);
    assert_eq!(a.spec.files, None);
    let AgentCommand::Register(a) = agent(&[
        "register",
        "svc",
        "--agent.hostname",
        "web-1",
        "--agent.logs.journal",
        "--agent.logs.docker=false",
        "--agent.logs.files",
        "/var/log/a.log,/var/log/b.log",
        "--agent.logs.files=/var/log/c.log",
        "--agent.logs.events",
        "Application",
        "--agent.metrics",
        "--agent.metrics.targets",
        "http://localhost:9100/metrics",
        "--agent.profiles=true",
        "--agent.labels",
        "env=prod,edge",
        "--agent.node",
        "windows",
        "--agent.config",
        "out.cfg",
        "--agent.file",
        "agent.yaml",
    ]) else {
        panic!()
    };
    assert_eq!(a.hostname.as_deref(), Some("web-1"));
    assert_eq!(a.spec.journal, Some(true));
    assert_eq!(a.spec.docker, Some(false));
    assert_eq!(
        a.spec.files.unwrap(),
        ["/var/log/a.log", "/var/log/b.log", "/var/log/c.log"]
    );
    assert_eq!(a.spec.events.unwrap(), ["Application"]);
    assert_eq!(a.spec.metrics, Some(true));
    assert_eq!(
        a.spec.metrics_targets.unwrap(),
        ["http://localhost:9100/metrics"]
    );
    assert_eq!(a.spec.profiles, Some(true));
    assert_eq!(a.spec.labels.unwrap(), ["env=prod", "edge"]);
    assert_eq!(a.node.as_deref(), Some("windows"));
    assert_eq!(a.config, std::path::Path::new("out.cfg"));
    assert_eq!(a.spec.file.unwrap(), std::path::Path::new("agent.yaml"));
    assert_eq!(
        parse_err(&["agent", "register", "s", "--agent.node", "mac"]),
        ErrorKind::InvalidValue
    );
    // A list flag takes one value per occurrence, so the service name is never swallowed.
    let AgentCommand::Register(a) = agent(&["register", "--agent.logs.files", "/var/log/x", "svc"])
    else {
        panic!()
    };
    assert_eq!(a.service.service, "svc");
}

#[test]
fn test_agent_edit_flags() {
    let AgentCommand::Edit(a) = agent(&["edit", "svc"]) else {
        panic!()
    };
    assert_eq!(a.rid, None);
    assert_eq!(a.spec.input(), crate::agent_input::AgentInput::default());
    let AgentCommand::Edit(a) = agent(&[
        "edit",
        "svc",
        "--agent.rid",
        "rid:finch:s:agent:1",
        "--agent.logs.journal=false",
        "--agent.labels=",
    ]) else {
        panic!()
    };
    assert_eq!(a.rid.as_deref(), Some("rid:finch:s:agent:1"));
    assert_eq!(a.spec.journal, Some(false));
    assert_eq!(a.spec.labels.as_deref(), Some(&[String::new()][..]));
    // Edit cannot change host name or node.
    assert_eq!(
        parse_err(&["agent", "edit", "s", "--agent.hostname", "x"]),
        ErrorKind::UnknownArgument
    );
    assert_eq!(
        parse_err(&["agent", "edit", "s", "--agent.node", "unix"]),
        ErrorKind::UnknownArgument
    );
}

#[test]
fn test_agent_rid_required_where_1x_required_it() {
    for cmd in ["describe", "config", "deregister"] {
        assert_eq!(
            parse_err(&["agent", cmd, "svc"]),
            ErrorKind::MissingRequiredArgument,
            "{cmd}"
        );
    }
    let AgentCommand::Config(a) = agent(&["config", "s", "--agent.rid=r"]) else {
        panic!()
    };
    assert_eq!(a.config, std::path::Path::new("finch-agent.cfg"));
}

#[test]
fn test_agent_ssh_flags() {
    let AgentCommand::Deploy(a) = agent(&["deploy", "h", "--agent.config", "a.cfg"]) else {
        panic!()
    };
    assert_eq!(
        a.install.alloy.alloy_version,
        crate::stack::images::ALLOY_VERSION
    );
    assert_eq!(
        a.install.alloy.alloy_mirror,
        crate::agent_install::release::DEFAULT_MIRROR
    );
    let AgentCommand::Deploy(a) = agent(&[
        "deploy",
        "h",
        "--agent.rid=r",
        "--agent.service=s",
        "--alloy.binary=/tmp/alloy",
        "--agent.prefix=/opt/a",
        "--agent.platform=darwin-arm64",
        "--check.ports",
    ]) else {
        panic!()
    };
    assert_eq!(
        (a.install.rid.as_deref(), a.install.service.as_deref()),
        (Some("r"), Some("s"))
    );
    assert_eq!(
        a.install.alloy.platform.map(|p| p.to_string()).as_deref(),
        Some("darwin-arm64")
    );
    assert_eq!(a.install.alloy.check_ports, Some(true));
    for (flags, kind) in [
        (&["--agent.rid=r"][..], ErrorKind::MissingRequiredArgument),
        (
            &["--agent.config=c", "--agent.rid=r", "--agent.service=s"],
            ErrorKind::ArgumentConflict,
        ),
        (
            &["--agent.config=c", "--agent.platform=sunos-sparc"],
            ErrorKind::ValueValidation,
        ),
    ] {
        let mut args = vec!["agent", "deploy", "h"];
        args.extend_from_slice(flags);
        assert_eq!(parse_err(&args), kind, "{flags:?}");
    }
    assert_eq!(
        parse_err(&["agent", "deploy", "h"]),
        ErrorKind::MissingRequiredArgument
    );
    let AgentCommand::Update(a) = agent(&[
        "update",
        "h",
        "--skip.config",
        "--skip.binaries=false",
        "--alloy.version",
        "v1.18.0",
    ]) else {
        panic!()
    };
    assert_eq!(a.install.skip_config, Some(true));
    assert_eq!(a.install.alloy.skip_binaries, Some(false));
    assert_eq!(a.install.alloy.alloy_version, "v1.18.0");
    assert_eq!(
        parse_err(&["agent", "update", "h"]),
        ErrorKind::MissingRequiredArgument
    );
    agent(&["teardown", "h", "--run.format=quiet"]);
    let AgentCommand::Doctor(a) = agent(&["doctor", "h", "--check.ports", "--check.optionals"])
    else {
        panic!()
    };
    assert_eq!((a.check_ports, a.check_optionals), (Some(true), Some(true)));
}

#[test]
fn test_target_flags() {
    use crate::target::HostKeyCheck;
    let AgentCommand::Teardown(a) = agent(&[
        "teardown",
        "web",
        "--ssh.option",
        "Port=2222",
        "--ssh.option=User=deploy",
        "--ssh.host-key-check",
        "no",
        "--ssh.config",
        "cfg",
        "--run.parallel",
        "3",
    ]) else {
        panic!()
    };
    assert_eq!(a.target.ssh.ssh_options, ["Port=2222", "User=deploy"]);
    assert_eq!(a.target.ssh.host_key_check, HostKeyCheck::No);
    assert_eq!(
        a.target.ssh.ssh_config.as_deref(),
        Some(std::path::Path::new("cfg"))
    );
    assert_eq!(a.run.parallel, 3);
    let AgentCommand::Teardown(a) = agent(&["teardown", "web"]) else {
        panic!()
    };
    assert_eq!(a.target.ssh.host_key_check, HostKeyCheck::AcceptNew);
    assert_eq!(a.run.parallel, crate::target::fleet::DEFAULT_PARALLEL);
    for bad in [
        &["--ssh.option", "Port"][..],
        &["--ssh.option", "=x"],
        &["--ssh.option", "Proxy Command=x"],
        &["--ssh.host-key-check", "ask"],
        &["--run.parallel", "0"],
    ] {
        let mut args = vec!["agent", "teardown", "web"];
        args.extend_from_slice(bad);
        assert!(
            matches!(
                parse_err(&args),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ),
            "{bad:?}"
        );
    }
    // The doctors take several targets; the other SSH commands one.
    let ServiceCommand::Doctor(a) = service(&["doctor", "a", "b", "--ssh.host-key-check=yes"])
    else {
        panic!()
    };
    assert_eq!(a.targets.targets, ["a", "b"]);
    assert_eq!(
        parse_err(&["service", "teardown", "a", "b"]),
        ErrorKind::UnknownArgument
    );
}

#[test]
fn test_completion_and_manpages() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(matches!(
            parse(&["completion", shell]).command,
            Command::Completion(_)
        ));
    }
    assert_eq!(parse_err(&["completion", "tcsh"]), ErrorKind::InvalidValue);
    assert!(matches!(
        parse(&["manpages", "/tmp/x"]).command,
        Command::Manpages(_)
    ));
    // Hidden from help.
    let help = Cli::command().render_help().to_string();
    assert!(!help.contains("manpages"), "{help}");
}

#[test]
fn the_command_tree_is_1x_plus_render_pin_clients_logs_backup_restore_and_enroll() {
    let command = Cli::command();
    let names = |c: &clap::Command| -> Vec<String> {
        c.get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect()
    };
    let service = command.find_subcommand("service").unwrap();
    assert_eq!(
        names(service),
        [
            "deploy",
            "update",
            "render",
            "teardown",
            "register",
            "deregister",
            "clients",
            "info",
            "dashboard",
            "rotate-certificate",
            "rotate-secret",
            "backup",
            "restore",
            "doctor",
            "logs",
            "pin"
        ]
    );
    let agent = command.find_subcommand("agent").unwrap();
    assert_eq!(
        names(agent),
        [
            "register",
            "deregister",
            "list",
            "describe",
            "edit",
            "config",
            "deploy",
            "update",
            "teardown",
            "doctor",
            "enroll"
        ]
    );
}

#[test]
fn test_service_logs_flags() {
    let cli = parse(&[
        "service",
        "logs",
        "root@h",
        "loki",
        "grafana",
        "-f",
        "--tail",
        "5",
        "--since=1h30m",
    ]);
    let Command::Service(ServiceCommand::Logs(args)) = cli.command else {
        panic!("not logs");
    };
    assert_eq!(args.services, ["loki", "grafana"]);
    assert!(args.follow);
    assert_eq!(args.tail, Some(5));
    assert_eq!(args.since.as_deref(), Some("1h30m"));
    let cli = parse(&["service", "logs", "root@h", "--follow"]);
    let Command::Service(ServiceCommand::Logs(args)) = cli.command else {
        panic!("not logs");
    };
    assert!(args.follow && args.services.is_empty() && args.tail.is_none());
    assert_eq!(
        parse_err(&["service", "logs", "root@h", "--since", "1d"]),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        parse_err(&["service", "logs", "root@h", "--tail", "x"]),
        ErrorKind::ValueValidation
    );
}

#[test]
fn test_agent_enroll() {
    let Command::Agent(AgentCommand::Enroll(a)) = parse(&[
        "agent",
        "enroll",
        "finch.example.com",
        "root@web-1",
        "web-2",
        "--agent.logs.journal",
        "--agent.prefix",
        "/opt/agents/{host}",
        "--alloy.binary",
        "/tmp/alloy",
        "--run.parallel",
        "20",
        "--output",
        "json",
    ])
    .command
    else {
        panic!("agent enroll")
    };
    assert_eq!(a.service, "finch.example.com");
    assert_eq!(a.targets, ["root@web-1", "web-2"]);
    assert_eq!(a.spec.journal, Some(true));
    assert_eq!(a.alloy.prefix.as_deref(), Some("/opt/agents/{host}"));
    assert_eq!(a.run.parallel, 20);
    assert_eq!(
        parse_err(&["agent", "enroll", "finch.example.com"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&["agent", "enroll", "svc", "h", "--agent.config", "x"]),
        ErrorKind::UnknownArgument
    );
}

#[test]
fn test_agent_doctor_agent_flags() {
    let Command::Agent(AgentCommand::Doctor(a)) = parse(&[
        "agent",
        "doctor",
        "web-1",
        "--check.ports",
        "--agent.prefix",
        "/opt/a",
        "--agent.service",
        "finch.example.com",
    ])
    .command
    else {
        panic!("agent doctor")
    };
    assert_eq!(a.check_ports, Some(true));
    assert_eq!(a.prefix.as_deref(), Some("/opt/a"));
    assert_eq!(a.service.as_deref(), Some("finch.example.com"));
}

#[test]
fn test_service_pin_flags() {
    let ServiceCommand::Pin(a) = service(&["pin", "finch.example.com"]) else {
        panic!()
    };
    assert_eq!((a.pin, a.unset), (None, None));
    let ServiceCommand::Pin(a) = service(&["pin", "svc", "--server.pin", "sha256/AAAA"]) else {
        panic!()
    };
    assert_eq!(a.pin.as_deref(), Some("sha256/AAAA"));
    let ServiceCommand::Pin(a) = service(&["pin", "svc", "--unset"]) else {
        panic!()
    };
    assert_eq!(a.unset, Some(true));
    assert_eq!(
        parse_err(&["service", "pin", "s", "--unset", "--server.pin=sha256/AAAA"]),
        ErrorKind::ArgumentConflict
    );
}
