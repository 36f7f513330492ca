//! The agent host's platform, read by an unprivileged probe before anything changes: the
//! operating system and architecture name Alloy's release asset, and the init system decides
//! whether (and how) Alloy can run as a service there.

use std::fmt;

use crate::output::Problem;
use crate::target::Step;

/// The name of the probe step, to find its output in a run.
pub const STEP: &str = "Read the platform";

/// Prints `<kernel> <machine> <init>`: `uname -s`, `uname -m`, and `systemd` when systemd is
/// PID 1 (its documented test), else PID 1's name.
const PROBE: &str = r#"if [ -d /run/systemd/system ]; then init=systemd
else init=$(ps -o comm= -p 1 2>/dev/null | tr -d ' ' || true); fi
printf '%s %s %s\n' "$(uname -s)" "$(uname -m)" "${init:-unknown}""#;

/// An operating system Alloy is deployed to, with its service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Os {
    /// Linux with systemd.
    Linux,
    /// macOS with launchd.
    Darwin,
    /// FreeBSD with rc.d.
    FreeBsd,
}

/// A CPU architecture, named as in Alloy's release assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// 64-bit ARM.
    Arm64,
}

/// Where an agent is deployed: `linux-amd64`, `darwin-arm64`, `freebsd-amd64`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Platform {
    /// The operating system.
    pub os: Os,
    /// The architecture.
    pub arch: Arch,
}

/// The platforms Alloy publishes release binaries for (FreeBSD on amd64 only).
pub const SUPPORTED: [Platform; 5] = [
    Platform::new(Os::Linux, Arch::Amd64),
    Platform::new(Os::Linux, Arch::Arm64),
    Platform::new(Os::Darwin, Arch::Amd64),
    Platform::new(Os::Darwin, Arch::Arm64),
    Platform::new(Os::FreeBsd, Arch::Amd64),
];

// === impl Os ===

impl Os {
    /// The name in release assets and in `--agent.platform`.
    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Darwin => "darwin",
            Os::FreeBsd => "freebsd",
        }
    }
}

// === impl Platform ===

impl Platform {
    /// A platform.
    pub const fn new(os: Os, arch: Arch) -> Self {
        Self { os, arch }
    }

    /// Parses `--agent.platform` (`linux-amd64`, …).
    ///
    /// ```
    /// use finchctl::agent_install::platform::{Arch, Os, Platform};
    /// let p = Platform::parse("freebsd-amd64").unwrap();
    /// assert_eq!((p.os, p.arch), (Os::FreeBsd, Arch::Amd64));
    /// assert!(Platform::parse("freebsd-arm64").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, String> {
        SUPPORTED
            .into_iter()
            .find(|p| p.to_string() == raw)
            .ok_or_else(|| {
                let known: Vec<String> = SUPPORTED.iter().map(ToString::to_string).collect();
                format!(
                    "{raw:?} is not a platform Alloy is released for (one of {})",
                    known.join(", ")
                )
            })
    }

    /// The probe, run as the connecting user (it changes nothing).
    pub fn probe() -> Step {
        Step::script(STEP, PROBE, Vec::<String>::new()).as_user()
    }

    /// The platform the probe found on `target`, or why an agent cannot be deployed there.
    pub fn from_probe(target: &str, output: &str) -> Result<Self, Problem> {
        let words: Vec<&str> = output.split_whitespace().collect();
        let [kernel, machine, init] = words[..] else {
            return Err(Problem::failed(format!(
                "cannot tell the platform of {target}: the probe printed {output:?}"
            )));
        };
        let os = match kernel {
            "Linux" => Os::Linux,
            "Darwin" => Os::Darwin,
            "FreeBSD" => Os::FreeBsd,
            other => {
                return Err(Problem::failed(format!(
                    "{target} runs {other}: agent deploy supports Linux (systemd), macOS and FreeBSD"
                ))
                .hint("on Windows, follow docs/agents.md's PowerShell steps"));
            }
        };
        let arch = match machine {
            "x86_64" | "amd64" => Arch::Amd64,
            "aarch64" | "arm64" => Arch::Arm64,
            other => {
                return Err(Problem::failed(format!(
                    "{target} is a {kernel} {other} machine: Alloy is released for amd64 and arm64"
                )));
            }
        };
        if os == Os::Linux && init != "systemd" {
            return Err(Problem::failed(format!(
                "{target} runs Linux without systemd (its init is {init:?}): agent deploy installs Alloy as a systemd service, nothing was changed"
            ))
            .hint("deploy to a host booted with systemd, or run Alloy there by hand (docs/agents.md)"));
        }
        let platform = Platform::new(os, arch);
        if !SUPPORTED.contains(&platform) {
            return Err(Problem::failed(format!(
                "{target} is {platform}: Alloy publishes no release binary for it"
            )));
        }
        Ok(platform)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arch = match self.arch {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        };
        write!(f, "{}-{arch}", self.os.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_names_the_platform() {
        let linux = Platform::from_probe("h", "Linux x86_64 systemd\n").ok();
        assert_eq!(linux, Some(Platform::new(Os::Linux, Arch::Amd64)));
        let mac = Platform::from_probe("h", "Darwin arm64 launchd").ok();
        assert_eq!(mac, Some(Platform::new(Os::Darwin, Arch::Arm64)));
        let bsd = Platform::from_probe("h", "FreeBSD amd64 init").ok();
        assert_eq!(bsd, Some(Platform::new(Os::FreeBsd, Arch::Amd64)));
    }

    #[test]
    fn linux_without_systemd_is_refused_naming_its_init() {
        let err = Platform::from_probe("h", "Linux x86_64 openrc-init").err();
        let message = err.map(|p| p.message).unwrap_or_default();
        assert!(message.contains("without systemd"), "{message}");
        assert!(message.contains("\"openrc-init\""), "{message}");
        for bad in [
            "",
            "Linux",
            "SunOS i86pc init",
            "Linux riscv64 systemd",
            "FreeBSD arm64 init",
        ] {
            assert!(Platform::from_probe("h", bad).is_err(), "{bad}");
        }
    }
}
