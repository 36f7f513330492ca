//! `finch-stack-images`: builds the stack's images on this machine (see
//! `finch_standin::images`) and prints the `finchctl service deploy` flags that deliver them,
//! one argument per line. The quickstart runs it on a host without a route to a registry.
//!
//! ```text
//! finch-stack-images --cache DIR [--finch BIN] [--standin BIN] [--traefik BIN] [SERVICE...]
//! ```
//!
//! The images are imported into the daemon of `DOCKER_HOST` and saved as archives in DIR;
//! without SERVICE arguments every service's image is built.

use std::path::PathBuf;
use std::process::ExitCode;

use finch_standin::images::{self, Binaries, Builder};

/// The daemon when `DOCKER_HOST` is not set: Docker's own default.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

const USAGE: &str = "usage: finch-stack-images --cache DIR [--finch BIN] [--standin BIN] \
                     [--traefik BIN] [SERVICE...]";

fn main() -> ExitCode {
    let (cache, binaries, services) = match parse(std::env::args().skip(1)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("finch-stack-images: error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let docker_host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_DOCKER_HOST.to_owned());
    let services: Vec<&str> = if services.is_empty() {
        images::SERVICES.to_vec()
    } else {
        services.iter().map(String::as_str).collect()
    };
    match images::build(&Builder::new(docker_host, cache), &binaries, &services) {
        Ok(built) => {
            for (service, reference) in &built.references {
                let kind = if images::is_standin(service) {
                    "a stand-in"
                } else {
                    "the real service"
                };
                eprintln!("finch-stack-images: {service}: {reference} ({kind})");
            }
            for flag in built.flags() {
                println!("{flag}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("finch-stack-images: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The cache, the binaries and the services; `None` for `--help`.
fn parse(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<(PathBuf, Binaries, Vec<String>)>, String> {
    let mut cache = None;
    let mut binaries = Binaries::default();
    let mut services = Vec::new();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--cache" => &mut cache,
            "--finch" => &mut binaries.finch,
            "--standin" => &mut binaries.standin,
            "--traefik" => &mut binaries.traefik,
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            _ => {
                services.push(arg);
                continue;
            }
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        *slot = Some(PathBuf::from(value));
    }
    let cache = cache.ok_or("--cache is required")?;
    Ok(Some((cache, binaries, services)))
}
