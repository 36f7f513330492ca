//! `finch-standin`: one small binary that stands in for the stack's Grafana, Loki, Mimir,
//! Pyroscope and Alloy in the deploy tests, where no registry can supply their images.
//!
//! The role is the first argument (`finch-standin loki`), set as the image's entrypoint; the
//! arguments the compose file passes to the real service follow it and are ignored. Each role
//! listens where the real service does, answers the path the stack's health checks probe, and
//! prints one line per request so a test can see traffic in `docker logs`. The Mimir role runs
//! Debian's Prometheus behind it ([`mimir`]). Invoked as `wget` (a symlink in the Grafana
//! image) it is the client of Grafana's health check ([`wget`]). Tests only: never in a release.

use std::process::ExitCode;

mod mimir;
mod role;
mod serve;
mod wget;

use role::Role;

/// Overrides a role's listen address (tests run roles on `127.0.0.1:0`).
const ENV_LISTEN: &str = "FINCH_STANDIN_LISTEN";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let program = args.first().map(String::as_str).unwrap_or_default();
    if program.rsplit('/').next() == Some("wget") {
        return wget::run(&args[1..]);
    }
    let Some(role) = args.get(1).and_then(|name| Role::from_name(name)) else {
        eprintln!(
            "usage: finch-standin ROLE [ignored arguments...] (ROLE: {}), or invoked as wget URL",
            Role::names()
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("finch-standin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(role)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finch-standin {}: error: {e:#}", role.name());
            ExitCode::FAILURE
        }
    }
}

/// Binds the role's address, then serves until SIGTERM or SIGINT.
async fn run(role: Role) -> anyhow::Result<()> {
    let listen = match std::env::var(ENV_LISTEN) {
        Ok(value) => value
            .parse()
            .map_err(|e| anyhow::anyhow!("{ENV_LISTEN}={value:?} is not an address: {e}"))?,
        Err(_) => role.listen(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!(
        "finch-standin {} listening on {}",
        role.name(),
        listener.local_addr()?
    );
    if role == Role::Mimir {
        mimir::run(listener, serve::shutdown()).await
    } else {
        serve::serve(listener, serve::router(role), serve::shutdown()).await
    }
}
