//! The `finch` command line: `finch run` with Finch 1.x's flags, and `finch version`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::{LogFormat, LogLevel};

/// Where gRPC listens by default: loopback, because Traefik on the same host (or the container
/// network, where the image passes 0.0.0.0) is the only intended client.
pub const DEFAULT_GRPC_ADDRESS: &str = "127.0.0.1:3000";
/// The dashboard listener's default.
pub const DEFAULT_HTTP_ADDRESS: &str = "127.0.0.1:3001";
/// The ForwardAuth listener's default.
pub const DEFAULT_AUTH_ADDRESS: &str = "127.0.0.1:3002";
/// The health and metrics listener's default.
pub const DEFAULT_HEALTHZ_ADDRESS: &str = "127.0.0.1:3003";
/// Where `finchctl service deploy` puts `finch.json`.
pub const DEFAULT_CONFIG_FILE: &str = "/var/lib/finch/finch.json";

/// Finch: agent registry, ForwardAuth for agent writes, control plane and dashboard of a
/// self-hosted observability stack.
#[derive(Debug, Parser)]
#[command(name = "finch", disable_version_flag = true)]
pub struct Cli {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: gRPC, dashboard, ForwardAuth and healthz listeners.
    Run(RunArgs),
    /// Write a new library's finch.json (fresh id and secret, mode 0600) and print its path.
    Init(InitArgs),
    /// Copy every agent from one database to another (SQLite and PostgreSQL, either way),
    /// keeping resource ids and so the agents' tokens; the copy is verified.
    Migrate(MigrateArgs),
    /// Write a consistent copy of the agent registry (or of another SQLite database, such as
    /// Grafana's) to a new SQLite file while Finch runs, check it and print `agents N`.
    Backup(BackupArgs),
    /// Print the release and commit.
    Version,
}

/// `finch run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Address of the gRPC control plane (h2c), `host:port`.
    #[arg(long = "server.grpc-address", default_value = DEFAULT_GRPC_ADDRESS, value_name = "ADDR")]
    pub grpc_address: String,

    /// Address of the dashboard (HTTP and WebSocket), `host:port`.
    #[arg(long = "server.http-address", default_value = DEFAULT_HTTP_ADDRESS, value_name = "ADDR")]
    pub http_address: String,

    /// Address of the ForwardAuth server (`/auth`), `host:port`.
    #[arg(long = "server.auth-address", default_value = DEFAULT_AUTH_ADDRESS, value_name = "ADDR")]
    pub auth_address: String,

    /// Address of `/healthz` and `/metrics`, `host:port`.
    #[arg(long = "server.healthz-address", default_value = DEFAULT_HEALTHZ_ADDRESS, value_name = "ADDR")]
    pub healthz_address: String,

    /// Least severe level logged.
    #[arg(
        long = "server.log-level",
        value_enum,
        default_value = "info",
        value_name = "LEVEL"
    )]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(
        long = "server.log-format",
        value_enum,
        default_value = "structured",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    /// Absolute path of finch.json; its directory is the library directory.
    #[arg(long = "stack.config-file", default_value = DEFAULT_CONFIG_FILE, value_name = "PATH")]
    pub config_file: PathBuf,
}

/// `finch init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write finch.json; it must not exist yet.
    #[arg(long = "stack.config-file", default_value = DEFAULT_CONFIG_FILE, value_name = "PATH")]
    pub config_file: PathBuf,

    /// The stack's public host name or IP; the service id is derived from it.
    #[arg(long = "stack.hostname", default_value = DEFAULT_INIT_HOSTNAME, value_name = "HOST")]
    pub hostname: String,

    /// The database URI; a relative SQLite path is inside the library directory.
    #[arg(long = "stack.database", default_value = DEFAULT_INIT_DATABASE, value_name = "URI")]
    pub database: String,
}

/// `finch migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The database to copy from, as `database` in finch.json; a relative SQLite path is
    /// relative to the current directory.
    #[arg(long = "from", value_name = "URI")]
    pub from: String,

    /// The database to copy to; it must hold no agents unless `--replace` is given.
    #[arg(long = "to", value_name = "URI")]
    pub to: String,

    /// Delete the agents the target already holds and copy in their place (in one transaction).
    #[arg(long = "replace")]
    pub replace: bool,
}

/// `finch init`'s host name: a library made by hand is usually a developer's own machine.
pub const DEFAULT_INIT_HOSTNAME: &str = "localhost";
/// `finch init`'s database: SQLite beside finch.json, as `finchctl service deploy` sets it up.
pub const DEFAULT_INIT_DATABASE: &str = "sqlite://finch.db";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_match_1x() {
        let cli = Cli::try_parse_from(["finch", "run"]).expect("parses");
        let Some(Command::Run(args)) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.grpc_address, "127.0.0.1:3000");
        assert_eq!(args.http_address, "127.0.0.1:3001");
        assert_eq!(args.auth_address, "127.0.0.1:3002");
        assert_eq!(args.healthz_address, "127.0.0.1:3003");
        assert_eq!(args.log_level, LogLevel::Info);
        assert_eq!(args.log_format, LogFormat::Structured);
        assert_eq!(args.config_file, PathBuf::from("/var/lib/finch/finch.json"));
    }

    #[test]
    fn run_flags_use_dotted_names() {
        let cli = Cli::try_parse_from([
            "finch",
            "run",
            "--server.grpc-address",
            "0.0.0.0:3000",
            "--server.http-address=0.0.0.0:3001",
            "--server.auth-address",
            "0.0.0.0:3002",
            "--server.healthz-address",
            "0.0.0.0:3003",
            "--server.log-level",
            "debug",
            "--server.log-format",
            "json",
            "--stack.config-file",
            "/etc/finch/finch.json",
        ])
        .expect("parses");
        let Some(Command::Run(args)) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.http_address, "0.0.0.0:3001");
        assert_eq!(args.log_level, LogLevel::Debug);
        assert_eq!(args.log_format, LogFormat::Json);
    }

    #[test]
    fn unknown_log_level_and_format_are_usage_errors() {
        assert!(Cli::try_parse_from(["finch", "run", "--server.log-level", "trace"]).is_err());
        assert!(Cli::try_parse_from(["finch", "run", "--server.log-format", "text"]).is_err());
    }

    #[test]
    fn version_spellings() {
        assert!(
            Cli::try_parse_from(["finch", "-v"])
                .expect("parses")
                .version
        );
        assert!(
            Cli::try_parse_from(["finch", "--version"])
                .expect("parses")
                .version
        );
        assert!(matches!(
            Cli::try_parse_from(["finch", "version"])
                .expect("parses")
                .command,
            Some(Command::Version)
        ));
    }
}

/// `finch backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The library's finch.json, whose `database` is the registry to copy (SQLite or
    /// PostgreSQL).
    #[arg(long = "config", value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,

    /// Copy this SQLite database file (Grafana's) instead of the registry.
    #[arg(long = "sqlite", value_name = "FILE")]
    pub sqlite: Option<PathBuf>,

    /// The copy to write: a new SQLite file (it must not exist).
    #[arg(long = "to", value_name = "FILE")]
    pub to: PathBuf,
}
