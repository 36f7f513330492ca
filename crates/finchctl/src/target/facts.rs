//! The transport facts of the doctor commands: OS, kernel, architecture, init system, user and
//! sudo, read by a plan of unprivileged probes (so a doctor never needs root to report).

use serde::Serialize;

use crate::target::run::PlanRun;
use crate::target::{Plan, Step};

const OS: &str = "Read the OS";
const KERNEL: &str = "Read the kernel";
const ARCH: &str = "Read the architecture";
const INIT: &str = "Find the init system";
const USER: &str = "Read the user";
const SUDO: &str = "Check sudo";

/// What sudo can do for the connecting user.
pub const SUDO_ROOT: &str = "not needed (root)";
/// Sudo works without a password.
pub const SUDO_PASSWORDLESS: &str = "passwordless";

/// What a doctor reports about one host.
#[derive(Debug, Clone, Serialize)]
pub struct TransportFacts {
    /// The target.
    pub target: String,
    /// The distribution's name (`PRETTY_NAME`), or the kernel's.
    pub os: String,
    /// Kernel name and release.
    pub kernel: String,
    /// Machine architecture.
    pub arch: String,
    /// systemd, openrc, launchd or the name of PID 1.
    pub init: String,
    /// The connecting user.
    pub user: String,
    /// `not needed (root)`, `passwordless`, `needs a password` or `missing`.
    pub sudo: String,
    /// Whether finchctl can run root steps there.
    pub ok: bool,
}

/// The probes, all run as the connecting user.
pub fn plan() -> Plan {
    let mut plan = Plan::new();
    plan.push(
        Step::script(
            OS,
            r#"if [ -r /etc/os-release ]; then . /etc/os-release && printf '%s\n' "${PRETTY_NAME:-$NAME}"; else uname -s; fi"#,
            Vec::<String>::new(),
        )
        .as_user(),
    )
    .push(Step::run(KERNEL, ["uname", "-sr"]).as_user())
    .push(Step::run(ARCH, ["uname", "-m"]).as_user())
    .push(
        Step::script(
            INIT,
            r#"if [ -d /run/systemd/system ]; then echo systemd; elif command -v rc-service >/dev/null 2>&1; then echo openrc; elif [ "$(uname -s)" = Darwin ]; then echo launchd; else ps -o comm= -p 1 2>/dev/null || echo unknown; fi"#,
            Vec::<String>::new(),
        )
        .as_user(),
    )
    .push(Step::run(USER, ["id", "-un"]).as_user())
    .push(
        Step::script(
            SUDO,
            r#"if [ "$(id -u)" = 0 ]; then echo "not needed (root)"; elif ! command -v sudo >/dev/null 2>&1; then echo missing; elif sudo -n true 2>/dev/null; then echo passwordless; else echo "needs a password"; fi"#,
            Vec::<String>::new(),
        )
        .as_user(),
    );
    plan
}

/// The facts a run of [`plan`] found.
pub fn from_run(target: &str, run: &PlanRun) -> TransportFacts {
    let fact = |name: &str| {
        run.steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.stdout.trim().to_owned())
            .unwrap_or_default()
    };
    let sudo = fact(SUDO);
    TransportFacts {
        target: target.to_owned(),
        os: fact(OS),
        kernel: fact(KERNEL),
        arch: fact(ARCH),
        init: fact(INIT),
        user: fact(USER),
        ok: sudo == SUDO_ROOT || sudo == SUDO_PASSWORDLESS,
        sudo,
    }
}

/// The facts as a table, one row per target.
pub fn table(facts: &[TransportFacts]) -> String {
    let rows: Vec<Vec<String>> = facts
        .iter()
        .map(|f| {
            vec![
                f.target.clone(),
                f.os.clone(),
                f.kernel.clone(),
                f.arch.clone(),
                f.init.clone(),
                f.user.clone(),
                f.sudo.clone(),
            ]
        })
        .collect();
    crate::output::table(
        Some(&["TARGET", "OS", "KERNEL", "ARCH", "INIT", "USER", "SUDO"]),
        &rows,
    )
}
