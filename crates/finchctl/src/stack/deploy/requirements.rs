//! Docker and Compose on the host: probed as the connecting user before anything changes, and
//! which Compose to call, the `docker compose` plugin or Debian 12's and Ubuntu 22.04's
//! standalone `docker-compose`.

use crate::output::Problem;
use crate::target::Step;

/// The name of the probe step, to find its output in a run.
pub const STEP: &str = "Check Docker and Compose";

/// One word: `no-docker`, `plugin`, `standalone` or `no-compose`. `docker compose version`
/// and `docker-compose version` need no running daemon.
const PROBE: &str = r#"if ! command -v docker >/dev/null 2>&1; then echo no-docker
elif docker compose version >/dev/null 2>&1; then echo plugin
elif command -v docker-compose >/dev/null 2>&1; then echo standalone
else echo no-compose
fi"#;

/// What the host's packages provide Docker and Compose from.
const INSTALL_HINT: &str = "install them from the distribution's packages (Debian 12, Ubuntu 22.04: `sudo apt-get install docker.io docker-compose`) or Docker's own docker-ce with its compose plugin, then deploy again";

/// How Compose is called on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compose {
    /// `docker compose`, the CLI plugin.
    Plugin,
    /// `docker-compose`, the standalone program.
    Standalone,
}

/// The probe, run as the connecting user (it changes nothing).
pub fn step() -> Step {
    Step::script(STEP, PROBE, Vec::<String>::new()).as_user()
}

/// The Compose the probe found on `target`, or why the stack cannot run there.
pub fn from_probe(target: &str, output: &str) -> Result<Compose, Problem> {
    match output.trim() {
        "plugin" => Ok(Compose::Plugin),
        "standalone" => Ok(Compose::Standalone),
        "no-docker" => Err(
            Problem::failed(format!("Docker is not installed on {target}")).hint(INSTALL_HINT)
        ),
        "no-compose" => Err(Problem::failed(format!(
            "Docker Compose is not installed on {target} (neither `docker compose` nor `docker-compose`)"
        ))
        .hint(INSTALL_HINT)),
        other => Err(Problem::failed(format!(
            "cannot tell whether {target} has Docker and Compose: the probe printed {other:?}"
        ))),
    }
}

// === impl Compose ===

impl Compose {
    /// The command line prefix that runs Compose.
    pub fn argv(self) -> &'static [&'static str] {
        match self {
            Compose::Plugin => &["docker", "compose"],
            Compose::Standalone => &["docker-compose"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_names_the_compose_to_call() {
        assert_eq!(from_probe("h", "plugin\n").ok(), Some(Compose::Plugin));
        assert_eq!(
            from_probe("h", "standalone").ok(),
            Some(Compose::Standalone)
        );
        assert_eq!(Compose::Plugin.argv(), ["docker", "compose"]);
        assert_eq!(Compose::Standalone.argv(), ["docker-compose"]);
    }

    #[test]
    fn a_host_without_docker_or_compose_gets_the_install_hint() {
        for (output, message) in [
            ("no-docker", "Docker is not installed on h"),
            ("no-compose", "Docker Compose is not installed on h"),
        ] {
            let problem = from_probe("h", output).err().map(|p| (p.message, p.hint));
            let (got, hint) = problem.unwrap_or_default();
            assert!(got.starts_with(message), "{got}");
            assert!(hint.is_some_and(|h| h.contains("apt-get install docker.io docker-compose")));
        }
        assert!(from_probe("h", "").is_err());
    }
}
