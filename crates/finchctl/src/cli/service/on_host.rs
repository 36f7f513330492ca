//! The first round trip of every command on a deployed stack (register, deregister, both
//! rotations, clients): Docker and Compose, the library's `finch.json` and Traefik's
//! certificate, and the operators' CA files, read in one plan; then the second plan that
//! changes the host. A library laid out by 1.x reads the same way: the paths, `finch.json`'s
//! keys and the CA files are 1.x's.
//!
//! A dry run reads nothing: the host name comes from the target and the changes are shown
//! for a placeholder `finch.json`.

use clap::Args;
use serde_json::Value;

use super::host_args::HostArgs;
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, transport};
use crate::output::Problem;
use crate::profile::{Profile, Stack};
use crate::stack::deploy::requirements::{self, Compose};
use crate::stack::deploy::{Docker, Library, library};
use crate::stack::{compose, finch_json, operators, tls};
use crate::target::fleet::{self, Fleet};
use crate::target::report::Reporter;
use crate::target::{Plan, TargetSpec};

/// What the dry run pretends `finch.json` holds.
const DRY_RUN_FINCH_JSON: &str = r#"{"secret":"dry-run"}"#;

/// The flags of every command on a deployed stack: the host, step reporting and dry run, the
/// library and the Docker daemon.
#[derive(Debug, Clone, Args)]
pub struct OnHostArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The library and the Docker daemon.
    #[command(flatten)]
    pub host: HostArgs,
}

/// A deployed stack as read from its host.
#[derive(Debug)]
pub struct OnHost {
    /// The target as given.
    pub target: TargetSpec,
    /// The fleet of that one target.
    pub fleet: Fleet,
    /// Step reporting.
    pub reporter: Reporter,
    /// Docker and Compose for the stack.
    pub docker: Docker,
    /// The library's files ([`finch_json::PATH`], Traefik's certificate, the compose file).
    pub library: Library,
    /// The output of [`operators::list_step`].
    pub clients: String,
}

// === impl OnHost ===

impl OnHost {
    /// Reads the stack on `target`; fails, naming the library, when there is none.
    pub async fn read(
        args: &OnHostArgs,
        data_on_stdout: bool,
        cx: &Context,
    ) -> anyhow::Result<OnHost> {
        let (target, run, host) = (&args.target, &args.run, &args.host);
        let spec = TargetSpec::parse(&target.target).map_err(|e| Problem::usage(e.to_string()))?;
        let fleet = transport::fleet(std::slice::from_ref(&target.target), run, &target.ssh, cx)?;
        let reporter = transport::reporter(run, &fleet, data_on_stdout, cx);
        // Checked before connecting: a bad flag is a usage error, whatever the host has.
        host.docker(Compose::Plugin)?;
        let mut plan = Plan::new();
        plan.push(requirements::step())
            .push(library::step(
                &host.library,
                &[finch_json::PATH, tls::CERT_PATH, compose::PATH],
            ))
            .push(operators::list_step(&host.library));
        let (ok, error) = fleet::outcome(fleet.run(&plan, &reporter).await?);
        if let Some(error) = error {
            return Err(error);
        }
        let output = |name: &str| {
            ok.iter()
                .flat_map(|(_, r)| &r.steps)
                .find(|s| s.name == name)
                .map(|s| s.stdout.clone())
                .unwrap_or_default()
        };
        let (compose, library) = if fleet.dry_run {
            let mut library = Library {
                present: true,
                ..Library::default()
            };
            library.files.insert(
                finch_json::PATH.to_owned(),
                DRY_RUN_FINCH_JSON.as_bytes().to_vec(),
            );
            (Compose::Plugin, library)
        } else {
            let compose = requirements::from_probe(&target.target, &output(requirements::STEP))?;
            let library = Library::parse(&output(library::STEP))?;
            if !library.files.contains_key(finch_json::PATH) {
                return Err(Problem::failed(format!(
                    "no stack in {} on {}: it has no {}",
                    host.library,
                    target.target,
                    finch_json::PATH
                ))
                .hint(format!(
                    "deploy one with `finchctl service deploy {}`, or give its library with --service.library",
                    target.target
                ))
                .into());
            }
            (compose, library)
        };
        Ok(OnHost {
            docker: host.docker(compose)?,
            clients: output(operators::LIST_STEP),
            target: spec,
            fleet,
            reporter,
            library,
        })
    }

    /// The host's `finch.json`.
    pub fn finch_json(&self) -> &[u8] {
        self.library
            .files
            .get(finch_json::PATH)
            .map_or(&[][..], Vec::as_slice)
    }

    /// The stack's host name: `hostname` in `finch.json` (the target's host in a dry run).
    pub fn hostname(&self) -> anyhow::Result<String> {
        if self.fleet.dry_run {
            return Ok(self.target.host.clone());
        }
        let doc: Value = serde_json::from_slice(self.finch_json()).map_err(|e| {
            Problem::failed(format!("the host's finch.json is not valid JSON: {e}"))
        })?;
        match doc.get("hostname").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => Ok(name.to_owned()),
            _ => Err(Problem::failed("the host's finch.json has no hostname").into()),
        }
    }

    /// The name the profile gives this stack, as deploy names it: its host name, with the
    /// port Traefik publishes HTTPS on when that is not 443.
    pub fn service_name(&self) -> anyhow::Result<String> {
        let https = self
            .library
            .files
            .get(compose::PATH)
            .and_then(|c| published_port(c, 443))
            .unwrap_or(443);
        Ok(super::operator::service_name(&self.hostname()?, https))
    }

    /// The profile's entry for this stack, found by host name (any port), if any.
    pub fn profile_stack(&self, profile: &Profile) -> anyhow::Result<Option<Stack>> {
        let host = self.hostname()?;
        let exact = self.service_name()?;
        let names = profile.names();
        let name = names.iter().find(|n| **n == exact).or_else(|| {
            names
                .iter()
                .find(|n| crate::mtls::service_host(n) == host.as_str())
        });
        match name {
            Some(name) => Ok(profile.stack(name)?),
            None => Ok(None),
        }
    }

    /// Runs the changing plan on the host.
    pub async fn apply(&self, plan: &Plan) -> anyhow::Result<()> {
        let (_, error) = fleet::outcome(self.fleet.run(plan, &self.reporter).await?);
        error.map_or(Ok(()), Err)
    }
}

/// The host port the compose file publishes Traefik's `port` on (`[ADDR:]PORT:port`).
pub fn published_port(compose_yaml: &[u8], port: u16) -> Option<u16> {
    let doc: serde_norway::Value = serde_norway::from_slice(compose_yaml).ok()?;
    let ports = doc
        .get("services")?
        .get("traefik")?
        .get("ports")?
        .as_sequence()?;
    ports.iter().filter_map(|p| p.as_str()).find_map(|p| {
        let (published, container) = p.rsplit_once(':')?;
        if container.trim_end_matches("/tcp") != port.to_string() {
            return None;
        }
        published.rsplit(':').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_come_from_traefiks_published_ports() {
        let compose = |ports: &str| {
            format!("services:\n  traefik:\n    image: t\n    ports: {ports}\n").into_bytes()
        };
        assert_eq!(
            published_port(&compose(r#"["80:80", "443:443"]"#), 443),
            Some(443)
        );
        assert_eq!(
            published_port(
                &compose(r#"["127.0.0.1:8080:80", "127.0.0.1:8443:443"]"#),
                443
            ),
            Some(8443)
        );
        assert_eq!(
            published_port(&compose(r#"["127.0.0.1:8080:80"]"#), 80),
            Some(8080)
        );
        assert_eq!(published_port(&compose(r#"["80:80"]"#), 443), None);
        assert_eq!(published_port(b"not: [yaml", 443), None);
    }
}
