//! Where an agent's files go on its host, and the names of its service and user.
//!
//! The default layout keeps 1.x's paths (`/etc/alloy/alloy.config`, `/var/lib/alloy`, the
//! binary in `/usr/bin` on Linux and `/usr/local/bin` elsewhere), so a deploy over a 1.x agent
//! replaces it in place. `--agent.prefix DIR` moves every file under DIR and gives the service
//! and its user a name of their own, so several agents can share one host (tests do).

use crate::agent_install::platform::Os;

/// The service and user name of the default layout (1.x's service name).
pub const DEFAULT_NAME: &str = "alloy";
/// The reverse-DNS prefix of the launchd label.
const LAUNCHD_DOMAIN: &str = "io.github.finch-observability";
/// Linux's limit on user names (useradd refuses longer ones).
const MAX_USER: usize = 32;

/// The paths and names of one agent install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The operating system (paths and the service file differ).
    pub os: Os,
    /// The service's name: `alloy`, or `alloy-<prefix>`.
    pub service: String,
    /// The user Alloy runs as (root on macOS, see [`Layout::user`]).
    pub user: String,
    /// The Alloy binary.
    pub binary: String,
    /// The directory of the config.
    pub config_dir: String,
    /// The agent config (holds the token: 0600, owned by the agent's user).
    pub config: String,
    /// Alloy's working directory.
    pub data_dir: String,
    /// Alloy's `--storage.path`.
    pub storage: String,
    /// The systemd unit, launchd plist or rc script.
    pub service_file: String,
    /// What the last activation saw of unit, binary and config (restart only on change).
    pub stamp: String,
    /// The release asset and checksum the binary came from (skip an unchanged download).
    pub release_stamp: String,
}

// === impl Layout ===

impl Layout {
    /// The layout on `os`, under `prefix` (absolute, checked by [`check_prefix`]) when given.
    ///
    /// ```
    /// use finchctl::agent_install::layout::Layout;
    /// use finchctl::agent_install::platform::Os;
    /// let l = Layout::new(Os::Linux, Some("/opt/agents/a1"));
    /// assert_eq!(l.service, "alloy-opt-agents-a1");
    /// assert_eq!(l.config, "/opt/agents/a1/etc/alloy/alloy.config");
    /// assert_eq!(l.service_file, "/etc/systemd/system/alloy-opt-agents-a1.service");
    /// ```
    pub fn new(os: Os, prefix: Option<&str>) -> Self {
        let root = prefix.unwrap_or("").trim_end_matches('/');
        let service = match prefix {
            None => DEFAULT_NAME.to_owned(),
            Some(p) => {
                let words: Vec<&str> = p
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                format!("{DEFAULT_NAME}-{}", words.join("-"))
            }
        };
        let bin_dir = match os {
            Os::Linux => "/usr/bin",
            Os::Darwin | Os::FreeBsd => "/usr/local/bin",
        };
        let config_dir = format!("{root}/etc/alloy");
        let data_dir = format!("{root}/var/lib/alloy");
        let service_file = match os {
            Os::Linux => format!("/etc/systemd/system/{service}.service"),
            Os::Darwin => format!("/Library/LaunchDaemons/{LAUNCHD_DOMAIN}.{service}.plist"),
            Os::FreeBsd => format!("/usr/local/etc/rc.d/{}", service.replace('-', "_")),
        };
        let user = match os {
            // Creating a user on macOS means picking a free uid with dscl; the launchd job
            // runs as root there, as launchd's own daemons do.
            Os::Darwin => "root".to_owned(),
            Os::Linux | Os::FreeBsd => service.chars().take(MAX_USER).collect(),
        };
        Self {
            os,
            binary: format!("{root}{bin_dir}/alloy"),
            config: format!("{config_dir}/alloy.config"),
            storage: format!("{data_dir}/data"),
            stamp: format!("{data_dir}/.finch-installed"),
            release_stamp: format!("{data_dir}/.finch-release"),
            config_dir,
            data_dir,
            service_file,
            user,
            service,
        }
    }

    /// The launchd label (macOS).
    pub fn launchd_label(&self) -> String {
        format!("{LAUNCHD_DOMAIN}.{}", self.service)
    }

    /// The rc.d name (FreeBSD: `rc.subr` names may not contain `-`).
    pub fn rc_name(&self) -> String {
        self.service.replace('-', "_")
    }

    /// Alloy's command line: the same on every platform.
    pub fn command(&self) -> Vec<String> {
        vec![
            self.binary.clone(),
            "run".to_owned(),
            format!("--storage.path={}", self.storage),
            "--disable-reporting=true".to_owned(),
            self.config.clone(),
        ]
    }
}

/// Checks `--agent.prefix`: an absolute path of plain characters (it lands unquoted in unit
/// files), other than `/`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let plain = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    if !prefix.starts_with('/')
        || prefix.trim_end_matches('/').is_empty()
        || !plain
        || prefix.split('/').any(|p| p == "..")
    {
        return Err(format!(
            "--agent.prefix: {prefix:?} is not an absolute directory of letters, digits and / . _ - (and not / itself)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_are_1x_paths() {
        let l = Layout::new(Os::Linux, None);
        assert_eq!(
            (
                l.binary.as_str(),
                l.config.as_str(),
                l.data_dir.as_str(),
                l.user.as_str()
            ),
            (
                "/usr/bin/alloy",
                "/etc/alloy/alloy.config",
                "/var/lib/alloy",
                "alloy"
            )
        );
        let mac = Layout::new(Os::Darwin, None);
        assert_eq!(mac.binary, "/usr/local/bin/alloy");
        assert_eq!(mac.user, "root");
        let bsd = Layout::new(Os::FreeBsd, Some("/srv/a-1"));
        assert_eq!(bsd.service_file, "/usr/local/etc/rc.d/alloy_srv_a_1");
    }

    #[test]
    fn prefixes_are_plain_absolute_directories() {
        assert!(check_prefix("/opt/agent-1").is_ok());
        for bad in ["", "/", "//", "relative", "/a b", "/a/../b", "/a\"b"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
