//! `service doctor`'s stack checks: Docker, Compose, the ports Traefik publishes, disk space at
//! the library, each container of a deployed stack, and the TLS and operator certificates'
//! expiry, each a [`Check`] that is required or not.
//!
//! The host is probed by one root script ([`probe_step`]) that prints one fact per line
//! (`docker ok 20.10.24`, `port 443 free`, `disk <KiB free> <dir>`,
//! `container finch running healthy`); [`parse`] reads
//! them and [`checks`] judges them, so every judgement is a pure function the unit tests cover.
//! The ports are read from `/proc/net/tcp*` rather than `ss`, which minimal hosts lack (1.x's
//! `ss` check also never got its port number), and a port in use counts as fine when the
//! stack's own Traefik publishes it.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::deploy::Docker;
use super::deploy::requirements::Compose;
use crate::mtls;
use crate::target::Step;

/// The name of the probe step.
pub const STEP: &str = "Check Docker, ports, disk and containers";

/// Free space below which the library's disk fails the check (images and a day of data).
pub const MIN_FREE_BYTES: u64 = 1 << 30;
/// Free space below which it warns (a few weeks of a small fleet's logs and metrics).
pub const LOW_FREE_BYTES: u64 = 5 << 30;

/// `$1` is the library, then the ports to check. Prints the facts [`parse`] reads.
const PROBE: &str = r#"lib=$1
shift
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ]; then echo "docker ok $v"
elif command -v docker >/dev/null 2>&1; then echo "docker down"
else echo "docker missing"
fi
for p; do
h=$(printf ':%04X' "$p")
if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h="$h" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }'; then
if docker port traefik 2>/dev/null | grep -q ":$p\$"; then echo "port $p traefik"; else echo "port $p taken"; fi
else echo "port $p free"
fi
done
d=$lib
while [ ! -d "$d" ]; do d=$(dirname -- "$d"); done
echo "disk $(df -Pk -- "$d" | awk 'NR == 2 { print $4 }') $d"
if [ -f "$lib/docker-compose.yaml" ]; then
for c in $(sed -n 's/^ *container_name: *["'\'']\{0,1\}\([A-Za-z0-9_.-]*\).*$/\1/p' "$lib/docker-compose.yaml"); do
s=$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c" 2>/dev/null) || s='missing none'
echo "container $c $s"
done
fi
exit 0"#;

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// `ok <version>`, `down` or `missing`.
    pub docker: String,
    /// Each port and `free`, `traefik` or `taken`.
    pub ports: Vec<(u16, String)>,
    /// Free bytes on the library's file system, and the directory measured.
    pub disk: Option<(u64, String)>,
    /// Each container of the compose file, its state and its health (`none` without a check).
    pub containers: Vec<(String, String, String)>,
}

/// One check of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`docker`, `port 443`, `container finch`).
    pub check: String,
    /// The verdict.
    pub status: Status,
    /// Whether a failure makes the doctor fail.
    pub required: bool,
    /// What was found, and for a failure what to do.
    pub detail: String,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Fine for now; act soon.
    Warn,
    /// Not fine.
    Fail,
    /// Not applicable here (no stack deployed, not registered).
    Skip,
}

/// Everything [`checks`] judges besides the probe.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The Compose the host has, or why not.
    pub compose: Result<Compose, String>,
    /// Traefik's certificate file in the library, when there is one.
    pub tls_cert_pem: Option<String>,
    /// Whether the library holds a stack (`finch.json`).
    pub deployed: bool,
    /// This workstation's client certificate for the stack, when the profile has one.
    pub operator_cert_pem: Option<String>,
}

// === impl Status ===

impl Status {
    /// The word shown in tables.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

// === impl Check ===

impl Check {
    fn new(check: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status,
            required: true,
            detail: detail.into(),
        }
    }

    /// Whether this check makes the doctor fail.
    pub fn failed(&self) -> bool {
        self.required && self.status == Status::Fail
    }
}

/// The probe for the stack in `docker`'s library, checking `ports`; run as root.
pub fn probe_step(docker: &Docker, ports: &[u16]) -> Step {
    let mut args = vec![docker.library.clone()];
    args.extend(ports.iter().map(u16::to_string));
    docker.script(STEP, PROBE, args)
}

/// Reads the probe's output; lines it does not know are skipped.
pub fn parse(stdout: &str) -> Probe {
    let mut probe = Probe::default();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["docker", rest @ ..] => probe.docker = rest.join(" "),
            ["port", port, state] => {
                if let Ok(port) = port.parse() {
                    probe.ports.push((port, (*state).to_owned()));
                }
            }
            ["disk", kib, dir @ ..] => {
                let bytes = kib.parse::<u64>().ok().and_then(|k| k.checked_mul(1024));
                probe.disk = bytes.map(|b| (b, dir.join(" ")));
            }
            ["container", name, state, health] => probe.containers.push((
                (*name).to_owned(),
                (*state).to_owned(),
                (*health).to_owned(),
            )),
            _ => {}
        }
    }
    probe
}

/// Judges what the probe and the library showed, at `now`.
pub fn checks(probe: &Probe, inputs: &Inputs, now: OffsetDateTime) -> Vec<Check> {
    let mut checks = vec![docker(&probe.docker), compose(&inputs.compose)];
    checks.extend(
        probe
            .ports
            .iter()
            .map(|(port, state)| port_check(*port, state)),
    );
    checks.push(disk(probe.disk.as_ref()));
    if inputs.deployed {
        checks.extend(
            probe
                .containers
                .iter()
                .map(|(name, state, health)| container(name, state, health)),
        );
    } else {
        checks.push(Check::new(
            "stack",
            Status::Skip,
            "no stack deployed in the library",
        ));
    }
    checks.push(certificate(
        "tls certificate",
        inputs.tls_cert_pem.as_deref(),
        now,
        "none in the library (Let's Encrypt keeps its own and renews it)",
        "deploy again to renew a self-signed one, or update with a new custom one",
    ));
    checks.push(certificate(
        "operator certificate",
        inputs.operator_cert_pem.as_deref(),
        now,
        "this workstation is not registered with the stack",
        "renew it with `finchctl service rotate-certificate`",
    ));
    checks
}

fn docker(found: &str) -> Check {
    match found.split_once(' ') {
        Some(("ok", version)) => {
            Check::new("docker", Status::Ok, format!("Docker Engine {version}"))
        }
        _ if found == "down" => Check::new(
            "docker",
            Status::Fail,
            "installed, but the daemon does not answer: start it (`systemctl start docker`) or give --docker.host",
        ),
        _ => Check::new(
            "docker",
            Status::Fail,
            "not installed: `finchctl service deploy --docker.install` installs it from the distribution's packages",
        ),
    }
}

fn compose(found: &Result<Compose, String>) -> Check {
    match found {
        Ok(Compose::Plugin) => Check::new("compose", Status::Ok, "the docker compose plugin"),
        Ok(Compose::Standalone) => {
            Check::new("compose", Status::Ok, "the standalone docker-compose")
        }
        Err(why) => Check::new("compose", Status::Fail, why.clone()),
    }
}

fn port_check(port: u16, state: &str) -> Check {
    let name = format!("port {port}");
    match state {
        "free" => Check::new(name, Status::Ok, "free"),
        "traefik" => Check::new(name, Status::Ok, "published by the stack's Traefik"),
        _ => Check::new(
            name,
            Status::Fail,
            "in use by another program: stop it, or publish Traefik elsewhere with --stack.http-port/--stack.https-port",
        ),
    }
}

fn disk(found: Option<&(u64, String)>) -> Check {
    let Some((bytes, dir)) = found else {
        return Check::new(
            "disk",
            Status::Fail,
            "cannot read the free space at the library",
        );
    };
    let gib = *bytes as f64 / f64::from(1u32 << 30);
    let detail = format!("{gib:.1} GiB free at {dir}");
    let status = if *bytes < MIN_FREE_BYTES {
        Status::Fail
    } else if *bytes < LOW_FREE_BYTES {
        Status::Warn
    } else {
        Status::Ok
    };
    Check::new("disk", status, detail)
}

fn container(name: &str, state: &str, health: &str) -> Check {
    let check = format!("container {name}");
    match (state, health) {
        ("running", "healthy" | "none") => {
            Check::new(check, Status::Ok, format!("{state}, {health}"))
        }
        ("running", "starting") => {
            Check::new(check, Status::Warn, "running, health check starting")
        }
        ("missing", _) => Check::new(
            check,
            Status::Fail,
            "no such container: run `finchctl service update` to bring the stack back",
        ),
        _ => Check::new(
            check,
            Status::Fail,
            format!("{state}, {health}: see `docker logs {name}`"),
        ),
    }
}

fn certificate(
    check: &str,
    pem: Option<&str>,
    now: OffsetDateTime,
    absent: &str,
    renew: &str,
) -> Check {
    let Some(pem) = pem else {
        return Check::new(check, Status::Skip, absent);
    };
    let expires = match mtls::not_after(pem) {
        Ok(t) => t,
        Err(err) => return Check::new(check, Status::Fail, err.to_string()),
    };
    let date = expires
        .format(&Rfc3339)
        .unwrap_or_else(|_| expires.to_string());
    if expires <= now {
        Check::new(check, Status::Fail, format!("expired at {date}: {renew}"))
    } else if expires - now <= mtls::EXPIRY_WARNING {
        let days = (expires - now).whole_days();
        Check::new(
            check,
            Status::Warn,
            format!("expires at {date} (in {days} days): {renew}"),
        )
    } else {
        Check::new(check, Status::Ok, format!("valid until {date}"))
    }
}

#[cfg(test)]
mod tests;
