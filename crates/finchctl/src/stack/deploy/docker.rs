//! Docker and Compose steps on a stack's host: which Compose to call (from [`requirements`]),
//! which daemon (`--docker.host`), and which library holds the compose file.
//!
//! `sudo` resets the environment, so the daemon's address travels as an argument of `env`
//! (`sudo -n -- env DOCKER_HOST=… docker …`) rather than in the session's environment. Compose
//! gets the library's compose file by path: its relative volume paths resolve against the
//! file's own directory, so no step needs to `cd`.
//!
//! [`requirements`]: super::requirements

use super::requirements::Compose;
use crate::stack::compose;
use crate::target::Step;

/// The Compose project name: containers, the network and the labels Compose sets say `finch`.
pub const PROJECT: &str = "finch";

/// The socket a host's own Docker daemon listens on.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How to reach Docker and Compose for one stack on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docker {
    /// The Compose the host has.
    pub compose: Compose,
    /// `--docker.host`: the daemon's address, or none for the host's own default.
    pub host: Option<String>,
    /// The library directory on the host.
    pub library: String,
}

// === impl Docker ===

impl Docker {
    /// Docker for the stack in `library`.
    pub fn new(compose: Compose, host: Option<String>, library: impl Into<String>) -> Docker {
        Docker {
            compose,
            host,
            library: library.into(),
        }
    }

    /// The daemon's Unix socket on the host: the path of a `unix://` `--docker.host`, else the
    /// default (a TCP or SSH daemon address has no socket to mount).
    pub fn socket(&self) -> &str {
        self.host
            .as_deref()
            .and_then(|h| h.strip_prefix("unix://"))
            .unwrap_or(DEFAULT_SOCKET)
    }

    /// The path of a file of the library on the host.
    pub fn path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.library.trim_end_matches('/'))
    }

    /// `docker ARGS…`, run as root, against the daemon.
    pub fn docker<S: AsRef<str>>(&self, name: &str, args: &[S]) -> Step {
        let mut argv = self.env();
        argv.push("docker".to_owned());
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Step::run(name, argv)
    }

    /// Compose on the library's compose file in project `finch`: `… -p finch -f LIB/… ARGS…`.
    pub fn compose<S: AsRef<str>>(&self, name: &str, args: &[S]) -> Step {
        let mut argv = self.env();
        argv.extend(self.compose.argv().iter().map(|a| (*a).to_owned()));
        argv.extend([
            "-p".to_owned(),
            PROJECT.to_owned(),
            "-f".to_owned(),
            self.path(compose::PATH),
        ]);
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Step::run(name, argv)
    }

    /// A fixed script run as root with `DOCKER_HOST` set, and `$COMPOSE` holding the Compose
    /// command line for the library's file, used unquoted (`$COMPOSE ps`; the library's path
    /// has no white space, see `HostArgs`). `args` are the script's `$1…`.
    pub fn script<S: Into<String>>(
        &self,
        name: &str,
        script: &str,
        args: impl IntoIterator<Item = S>,
    ) -> Step {
        let mut argv = self.env();
        argv.push(format!(
            "COMPOSE={} -p {PROJECT} -f {}",
            self.compose.argv().join(" "),
            self.path(compose::PATH)
        ));
        argv.extend(["sh".to_owned(), "-c".to_owned(), script.to_owned()]);
        argv.push(crate::target::plan::SCRIPT_NAME.to_owned());
        argv.extend(args.into_iter().map(Into::into));
        Step::run(name, argv)
    }

    /// `env DOCKER_HOST=…` when a daemon was named, `env` alone otherwise.
    fn env(&self) -> Vec<String> {
        let mut argv = vec!["env".to_owned()];
        if let Some(host) = &self.host {
            argv.push(format!("DOCKER_HOST={host}"));
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_travels_through_sudo_as_an_env_argument() {
        let docker = Docker::new(
            Compose::Standalone,
            Some("unix:///run/test docker.sock".into()),
            "/var/lib/finch/",
        );
        assert_eq!(
            docker.compose("Up", &["up", "-d"]).command_line(false),
            "sudo -n -- env 'DOCKER_HOST=unix:///run/test docker.sock' docker-compose -p finch -f /var/lib/finch/docker-compose.yaml up -d"
        );
        assert_eq!(
            docker.docker("Images", &["images"]).command_line(true),
            "env 'DOCKER_HOST=unix:///run/test docker.sock' docker images"
        );
        assert_eq!(docker.socket(), "/run/test docker.sock");
    }

    #[test]
    fn the_default_daemon_needs_no_address() {
        let docker = Docker::new(Compose::Plugin, None, "/srv/finch");
        assert_eq!(
            docker.compose("Down", &["down"]).command_line(true),
            "env docker compose -p finch -f /srv/finch/docker-compose.yaml down"
        );
        assert_eq!(docker.socket(), DEFAULT_SOCKET);
        let tcp = Docker::new(Compose::Plugin, Some("tcp://10.0.0.1:2375".into()), "/l");
        assert_eq!(tcp.socket(), DEFAULT_SOCKET);
    }
}
