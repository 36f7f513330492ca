//! What an installed agent looks like on its host, read by one root step that changes
//! nothing: whether it is installed, its RID and stack (from the config), whether the service
//! manager has it running, whether it runs exactly the service file, binary and config on disk
//! (the activation's fingerprint, see [`crate::agent_install::plan`]), Alloy's version, the
//! claims of its token and, when asked, whether Alloy's ports listen.
//!
//! The step does not need the platform first: it receives the layout of every platform and
//! picks its own with `uname -s`, so `agent enroll` and `agent doctor` read platform and agent
//! in one connection. The token itself never leaves the host: only its middle part, the
//! claims, is printed, and [`AgentHealth::token_expiry`] decodes `exp` from it.

use base64::Engine as _;

use crate::agent_install::layout::Layout;
use crate::agent_install::plan::{ARGS, CONFIG_FIELDS, FINGERPRINT, LISTENING, activation_args};
use crate::agent_install::platform::Os;
use crate::target::Step;

/// The step's name, to find its output in a run.
pub const STEP: &str = "Read the installed agent";

/// Picks the platform's arguments (`$1` is the ports to check, then six per platform, in
/// [`PLATFORMS`] order).
const SELECT: &str = r#"ports=$1; shift
case $(uname -s) in
Linux) ;;
Darwin) shift 6 ;;
FreeBSD) shift 12 ;;
*) echo installed=no; exit 0 ;;
esac
"#;

/// Prints `key=value` lines; never the token, only its claims.
const REPORT: &str = r#"if [ ! -e "$cfg" ] && [ ! -e "$file" ]; then echo installed=no; exit 0; fi
echo installed=yes
if [ -r "$cfg" ]; then
echo "rid=$(rid "$cfg")"
echo "stack=$(stack "$cfg")"
tok=$(sed -n 's/^[[:space:]]*bearer_token[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$cfg" | head -n 1)
echo "claims=$(printf '%s' "$tok" | cut -d. -f2)"
fi
if running; then echo running=yes; else echo running=no; fi
if same; then echo current=yes; else echo current=no; fi
if [ -x "$bin" ]; then echo "version=$("$bin" --version 2>/dev/null | head -n 1)"; fi
for p in $ports; do
if listening "$p"; then echo "port.$p=listening"; else echo "port.$p=free"; fi
done"#;

/// The platforms, in the order [`SELECT`] expects their arguments.
const PLATFORMS: [Os; 3] = [Os::Linux, Os::Darwin, Os::FreeBsd];

/// What the step found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentHealth {
    /// A config or service file is there.
    pub installed: bool,
    /// The RID in the installed config.
    pub rid: Option<String>,
    /// The host the config sends to (the stack).
    pub stack: Option<String>,
    /// The service manager has Alloy up.
    pub running: bool,
    /// Alloy was started with exactly the service file, binary and config on disk.
    pub current: bool,
    /// `alloy --version`'s first line.
    pub version: Option<String>,
    /// The token's claims (base64url JSON), not the token.
    claims: Option<String>,
    /// Each checked port and whether something listens on it.
    pub ports: Vec<(u16, bool)>,
}

// === impl AgentHealth ===

impl AgentHealth {
    /// The read-only step for the agent under `prefix`, checking `ports` when given.
    pub fn step(prefix: Option<&str>, ports: &[u16]) -> Step {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let mut args = vec![ports.join(" ")];
        for os in PLATFORMS {
            args.extend(activation_args(&Layout::new(os, prefix)));
        }
        Step::script(
            STEP,
            format!("{SELECT}{ARGS}{FINGERPRINT}{LISTENING}{CONFIG_FIELDS}{REPORT}"),
            args,
        )
    }

    /// Reads the step's output.
    ///
    /// ```
    /// use finchctl::agent_install::health::AgentHealth;
    /// let h = AgentHealth::parse("installed=yes\nrid=rid:x\nrunning=yes\ncurrent=no\nport.12345=listening\n");
    /// assert!(h.installed && h.running && !h.current);
    /// assert_eq!(h.rid.as_deref(), Some("rid:x"));
    /// assert_eq!(h.ports, vec![(12345, true)]);
    /// ```
    pub fn parse(output: &str) -> Self {
        let mut health = AgentHealth::default();
        for line in output.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let text = (!value.is_empty()).then(|| value.to_owned());
            match key {
                "installed" => health.installed = value == "yes",
                "rid" => health.rid = text,
                "stack" => health.stack = text,
                "claims" => health.claims = text,
                "running" => health.running = value == "yes",
                "current" => health.current = value == "yes",
                "version" => health.version = text,
                _ => {
                    if let Some(port) = key.strip_prefix("port.").and_then(|p| p.parse().ok()) {
                        health.ports.push((port, value == "listening"));
                    }
                }
            }
        }
        health
    }

    /// Whether Alloy runs what is installed: up, and started with these very files.
    pub fn runs_current(&self) -> bool {
        self.installed && self.running && self.current
    }

    /// The token's `exp` (seconds since the epoch), when the config holds a readable JWT.
    ///
    /// ```
    /// use finchctl::agent_install::health::AgentHealth;
    /// // {"exp":1700000000}
    /// let h = AgentHealth::parse("claims=eyJleHAiOjE3MDAwMDAwMDB9\n");
    /// assert_eq!(h.token_expiry(), Some(1_700_000_000));
    /// assert_eq!(AgentHealth::parse("claims=not-base64!\n").token_expiry(), None);
    /// ```
    pub fn token_expiry(&self) -> Option<i64> {
        let claims = self.claims.as_deref()?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims.trim_end_matches('='))
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
        value.get("exp")?.as_i64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_agent_reads_as_not_installed() {
        let h = AgentHealth::parse("installed=no\n");
        assert!(!h.installed && !h.runs_current());
        assert_eq!(h.token_expiry(), None);
    }

    #[test]
    fn the_step_passes_every_platforms_layout_in_select_order() {
        let step = AgentHealth::step(Some("/opt/a"), &[12345, 3100]);
        let crate::target::Action::Script { args, .. } = step.action else {
            panic!("a script")
        };
        assert_eq!(args.len(), 1 + 6 * PLATFORMS.len());
        assert_eq!(args[0], "12345 3100");
        assert_eq!(args[2], "/etc/systemd/system/alloy-opt-a.service");
        assert!(args[8].starts_with("/Library/LaunchDaemons/"));
        assert_eq!(args[14], "/usr/local/etc/rc.d/alloy_opt_a");
    }

    #[test]
    fn claims_without_exp_or_garbage_have_no_expiry() {
        // {"sub":"x"}
        assert_eq!(
            AgentHealth::parse("claims=eyJzdWIiOiJ4In0\n").token_expiry(),
            None
        );
        assert_eq!(AgentHealth::parse("claims=e30\n").token_expiry(), None);
    }
}
