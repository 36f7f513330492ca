//! The flags of every command that works on a deployed stack: where its library is on the
//! host (`--service.library`) and which Docker daemon runs it (`--docker.host`). Parsing does
//! no I/O; [`HostArgs::docker`] checks the values and makes the [`Docker`] the plans use.

use clap::Args;

use crate::output::Problem;
use crate::stack::DEFAULT_LIBRARY;
use crate::stack::deploy::Docker;
use crate::stack::deploy::requirements::Compose;

/// `--service.library` and `--docker.host`.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    /// The stack's library directory on the host: its configuration, secrets and data
    #[arg(long = "service.library", value_name = "DIR", default_value = DEFAULT_LIBRARY)]
    pub library: String,
    /// The Docker daemon on the host, passed as DOCKER_HOST to every docker and compose step
    /// (default: the host's own daemon)
    #[arg(long = "docker.host", value_name = "URI")]
    pub docker_host: Option<String>,
}

// === impl HostArgs ===

impl HostArgs {
    /// The Docker steps' maker for a host with `compose`; refuses a library that is not an
    /// absolute path without white space, and a daemon address with white space.
    pub fn docker(&self, compose: Compose) -> Result<Docker, Problem> {
        let library = self.library.trim_end_matches('/');
        if !self.library.starts_with('/') || library.is_empty() || has_space(library) {
            return Err(Problem::usage(format!(
                "--service.library {:?} is not an absolute directory path without white space",
                self.library
            ))
            .hint("give a directory such as /var/lib/finch"));
        }
        if let Some(host) = self
            .docker_host
            .as_ref()
            .filter(|h| h.is_empty() || has_space(h))
        {
            return Err(Problem::usage(format!(
                "--docker.host {host:?} is not a Docker daemon address"
            ))
            .hint("give an address as DOCKER_HOST takes it, such as unix:///run/docker.sock"));
        }
        Ok(Docker::new(compose, self.docker_host.clone(), library))
    }
}

fn has_space(text: &str) -> bool {
    text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        host: HostArgs,
    }

    #[test]
    fn defaults_and_spellings() {
        let cli = Cli::try_parse_from(["x"]).expect("parse");
        assert_eq!(cli.host.library, DEFAULT_LIBRARY);
        assert_eq!(cli.host.docker_host, None);
        let cli = Cli::try_parse_from([
            "x",
            "--service.library",
            "/srv/finch/",
            "--docker.host=unix:///run/d.sock",
        ])
        .expect("parse");
        let docker = cli.host.docker(Compose::Plugin).expect("valid");
        assert_eq!(docker.library, "/srv/finch");
        assert_eq!(docker.socket(), "/run/d.sock");
    }

    #[test]
    fn bad_paths_and_addresses_are_refused() {
        for (library, host) in [
            ("relative", None),
            ("/", None),
            ("/a b", None),
            ("/ok", Some("unix:///a b")),
        ] {
            let args = HostArgs {
                library: library.into(),
                docker_host: host.map(Into::into),
            };
            assert!(args.docker(Compose::Plugin).is_err(), "{library} {host:?}");
        }
    }
}
