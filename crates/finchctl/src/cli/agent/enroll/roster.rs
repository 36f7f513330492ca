//! The pure half of `agent enroll`: who each host is (its agent hostname and install prefix)
//! and what a run does with it, given what the host and the service said.
//!
//! A host is **enrolled and healthy**, and skipped, when the service has an agent of its
//! hostname, the config installed on the host carries that agent's RID, and Alloy runs exactly
//! the service file, binary and config on disk (the activation fingerprint). A host whose
//! hostname the service knows but that is not healthy gets a fresh config of that same agent
//! (re-registering would be refused: hostnames are unique). Any other host is registered.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::agent_install::health::AgentHealth;
use crate::agent_install::layout::check_prefix;
use crate::output::Problem;
use crate::target::TargetSpec;

/// What `--agent.prefix` may contain to give each host a directory of its own.
pub const HOST_PLACEHOLDER: &str = "{host}";

/// One host of the run, resolved before anything connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The target as given.
    pub target: String,
    /// The agent's hostname in Finch.
    pub hostname: String,
    /// The install prefix, `{host}` filled in.
    pub prefix: Option<String>,
}

/// What a run does with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Enrolled and healthy: nothing to do.
    Skip {
        /// Its RID.
        rid: String,
    },
    /// Registered, but the host does not run it as installed: a fresh config of this agent.
    Repair {
        /// Its RID.
        rid: String,
    },
    /// Not registered: register, then install.
    Register,
}

/// Resolves each target's hostname (its `hosts` entry in `--agent.file`, else the target's
/// host) and prefix; refuses two hosts with one hostname or one prefix.
pub fn members(
    targets: &[TargetSpec],
    hosts: Option<&BTreeMap<String, String>>,
    prefix: Option<&str>,
) -> Result<Vec<Member>, Problem> {
    if let Some(hosts) = hosts {
        let given: HashSet<&str> = targets.iter().map(|t| t.raw.as_str()).collect();
        if let Some(stray) = hosts.keys().find(|k| !given.contains(k.as_str())) {
            return Err(Problem::usage(format!(
                "--agent.file: hosts names {stray:?}, which is not one of the targets given"
            )));
        }
    }
    let mut seen_names = HashSet::new();
    let mut seen_prefixes = HashSet::new();
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let hostname = hosts
            .and_then(|h| h.get(&t.raw))
            .cloned()
            .unwrap_or_else(|| t.host.clone());
        let prefix = prefix.map(|p| p.replace(HOST_PLACEHOLDER, &t.host));
        if let Some(p) = &prefix {
            check_prefix(p).map_err(|e| Problem::usage(format!("{}: {e}", t.raw)))?;
            if !seen_prefixes.insert(p.clone()) {
                return Err(Problem::usage(format!(
                    "two targets would install into {p}: put {HOST_PLACEHOLDER} in --agent.prefix to give each host its own directory"
                )));
            }
        }
        if !seen_names.insert(hostname.clone()) {
            return Err(Problem::usage(format!(
                "two targets have the agent hostname {hostname:?}: name them apart under hosts in --agent.file"
            )));
        }
        out.push(Member {
            target: t.raw.clone(),
            hostname,
            prefix,
        });
    }
    Ok(out)
}

/// What to do with `hostname`, given the service's agents (hostname → RID) and the host.
///
/// ```
/// use std::collections::HashMap;
/// use finchctl::agent_install::health::AgentHealth;
/// use finchctl::cli::agent::enroll::roster::{Decision, decide};
/// let known = HashMap::from([("web-1".to_owned(), "rid:a".to_owned())]);
/// let healthy = AgentHealth::parse("installed=yes\nrid=rid:a\nrunning=yes\ncurrent=yes\n");
/// assert_eq!(decide("web-1", &healthy, &known), Decision::Skip { rid: "rid:a".into() });
/// assert_eq!(decide("web-2", &healthy, &known), Decision::Register);
/// ```
pub fn decide(hostname: &str, health: &AgentHealth, known: &HashMap<String, String>) -> Decision {
    match known.get(hostname) {
        Some(rid) if health.runs_current() && health.rid.as_deref() == Some(rid) => {
            Decision::Skip { rid: rid.clone() }
        }
        Some(rid) => Decision::Repair { rid: rid.clone() },
        None => Decision::Register,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(raw: &[&str]) -> Vec<TargetSpec> {
        raw.iter()
            .map(|r| TargetSpec::parse(r).expect("target"))
            .collect()
    }

    #[test]
    fn hostnames_come_from_the_target_unless_the_file_names_them() {
        let hosts = BTreeMap::from([("root@10.0.0.2".to_owned(), "db-1".to_owned())]);
        let m = members(
            &specs(&["deploy@web-1:2222", "root@10.0.0.2"]),
            Some(&hosts),
            Some("/opt/agents/{host}"),
        )
        .expect("members");
        assert_eq!(m[0].hostname, "web-1");
        assert_eq!(m[0].prefix.as_deref(), Some("/opt/agents/web-1"));
        assert_eq!(m[1].hostname, "db-1");
        assert_eq!(m[1].prefix.as_deref(), Some("/opt/agents/10.0.0.2"));
    }

    #[test]
    fn clashes_and_strays_are_refused() {
        assert!(members(&specs(&["a", "b"]), None, Some("/opt/one")).is_err());
        assert!(members(&specs(&["u@a", "v@a"]), None, None).is_err());
        let stray = BTreeMap::from([("c".to_owned(), "x".to_owned())]);
        assert!(members(&specs(&["a"]), Some(&stray), None).is_err());
        assert!(members(&specs(&["a"]), None, Some("relative/{host}")).is_err());
    }

    #[test]
    fn a_known_but_unhealthy_host_is_repaired_with_its_own_rid() {
        let known = HashMap::from([("web-1".to_owned(), "rid:a".to_owned())]);
        let stopped = AgentHealth::parse("installed=yes\nrid=rid:a\nrunning=no\ncurrent=yes\n");
        let other = AgentHealth::parse("installed=yes\nrid=rid:b\nrunning=yes\ncurrent=yes\n");
        let changed = AgentHealth::parse("installed=yes\nrid=rid:a\nrunning=yes\ncurrent=no\n");
        for health in [stopped, other, changed, AgentHealth::default()] {
            assert_eq!(
                decide("web-1", &health, &known),
                Decision::Repair {
                    rid: "rid:a".into()
                }
            );
        }
    }
}
