//! The plans of agent deploy, update and teardown, for each platform.
//!
//! An install changes nothing before the binary is verified: the host's download step checks
//! the checksum before it installs anything (and creates only the directories it installs
//! into), and a binary fetched on the workstation was checked there before the plan runs.
//! Safe to repeat: every file is rewritten atomically with the same contents, and the last
//! step ([`ACTIVATE_STEP`]) reloads the service manager and restarts Alloy only when the
//! service file, binary, config or the user's groups differ from what it saw last time (or
//! Alloy is not running). It prints `restarted` or `unchanged`.

use bytes::Bytes;

use crate::agent_install::layout::Layout;
use crate::agent_install::platform::{Os, Platform};
use crate::agent_install::release::Release;
use crate::agent_install::service_files;
use crate::target::{Plan, Step, Upload};

/// The name of the activation step, to read its answer.
pub const ACTIVATE_STEP: &str = "Start Alloy if anything changed";
/// The name of teardown's first step, which prints `<rid> <service>` from the installed config.
pub const READ_RID_STEP: &str = "Read the agent's RID";
/// The ports Alloy needs free (its UI and the local log push API; 1.x's required pair).
pub const PORTS: [u16; 2] = [12345, 3100];

/// Where the binary comes from.
#[derive(Debug, Clone)]
pub enum BinarySource {
    /// Downloaded and verified on the host.
    Download(Release),
    /// Uploaded from the workstation (verified there, or `--alloy.binary`).
    Upload(Bytes),
    /// `--skip.binaries`: the installed one stays.
    Keep,
}

/// What an install puts on a host.
#[derive(Debug, Clone)]
pub struct Install {
    /// The host's platform.
    pub platform: Platform,
    /// The paths and names.
    pub layout: Layout,
    /// The binary.
    pub binary: BinarySource,
    /// The agent config, or none to keep the installed one (`--skip.config`).
    pub config: Option<Vec<u8>>,
    /// `--check.ports`: refuse when Alloy's ports are taken (unless by this agent).
    pub check_ports: bool,
}

/// The activation scripts' arguments: service name, service file, binary, config, stamp,
/// user (also what [`crate::agent_install::health`] reads, per platform).
pub(crate) const ARGS: &str = "svc=$1 file=$2 bin=$3 cfg=$4 stamp=$5 user=$6\n";

/// `$sum` fingerprints what Alloy runs with; `same` says whether it ran with exactly that
/// when last started, `running` whether the service manager has it up.
pub(crate) const FINGERPRINT: &str = r#"sum=$( { cat "$file" "$bin" "$cfg"; id -G "$user"; } 2>/dev/null | cksum)
same() { [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; }
running() {
case $(uname -s) in
Linux) systemctl is-active --quiet "$svc.service" ;;
Darwin) launchctl print "system/$svc" >/dev/null 2>&1 ;;
*) service "$svc" status >/dev/null 2>&1 ;;
esac
}
"#;

/// Shared tail: remember what runs now.
const ACTIVATE_TAIL: &str = r#"printf '%s\n' "$sum" > "$stamp"
echo restarted"#;

/// systemd reloads its whole configuration on `daemon-reload` (and on `enable` without
/// `--no-reload`), one reload at a time for every agent on the host: only a unit it loaded
/// before and whose file changed needs one; a new unit is loaded when it is first started.
const ACTIVATE_SYSTEMD: &str = r#"if same && running; then echo unchanged; exit 0; fi
if [ "$(systemctl show -p NeedDaemonReload --value "$svc.service")" = yes ]; then systemctl daemon-reload; fi
systemctl enable --quiet --no-reload "$svc.service"
systemctl restart "$svc.service"
"#;

const ACTIVATE_LAUNCHD: &str = r#"if same && running; then echo unchanged; exit 0; fi
launchctl bootout "system/$svc" >/dev/null 2>&1 || true
launchctl bootstrap system "$file"
launchctl kickstart -k "system/$svc"
"#;

const ACTIVATE_RC: &str = r#"sysrc "${svc}_enable=YES" >/dev/null
if same && running; then echo unchanged; exit 0; fi
service "$svc" restart
"#;

/// Creates the user when missing, in the groups that read the journal, the log files and the
/// Docker socket where those groups exist (`--user-group` gives it a group of its own, so
/// nothing assumes a `root` group); an existing user joins only the groups it lacks. The
/// account files are rewritten once for a new user and not at all on a repeat.
const USER_LINUX: &str = r#"set -e
user=$1 home=$2
groups=
for g in systemd-journal adm docker; do
if getent group "$g" >/dev/null 2>&1; then groups="${groups:+$groups,}$g"; fi
done
if ! id "$user" >/dev/null 2>&1; then
shell=$(command -v nologin || echo /bin/false)
useradd --system --user-group --no-create-home --home-dir "$home" --shell "$shell" ${groups:+--groups "$groups"} "$user"
exit 0
fi
member=" $(id -Gn "$user") "
missing=
IFS=,
for g in $groups; do
case $member in *" $g "*) ;; *) missing="${missing:+$missing,}$g" ;; esac
done
if [ -n "$missing" ]; then usermod -a -G "$missing" "$user"; fi"#;

const USER_FREEBSD: &str = r#"set -e
if ! id "$1" >/dev/null 2>&1; then pw useradd -n "$1" -d "$2" -s /usr/sbin/nologin -c "Grafana Alloy (Finch agent)"; fi"#;

/// `$1` config dir, `$2` data dir, `$3` storage, `$4` user, `$5` the binary's directory.
const DIRECTORIES: &str = r#"set -e
mkdir -p "$1" "$2" "$3" "$5"
chmod 0755 "$1"
chown "$4" "$2" "$3"
chmod 0750 "$2" "$3""#;

/// `listening PORT`: whether something listens on the TCP port, with each platform's tool.
pub(crate) const LISTENING: &str = r#"listening() {
case $(uname -s) in
Linux) l=$(ss -Htln "sport = :$1" 2>/dev/null) ;;
FreeBSD) l=$(sockstat -46 -l -q -P tcp -p "$1" 2>/dev/null) ;;
*) l=$(lsof -nP -iTCP:"$1" -sTCP:LISTEN 2>/dev/null) ;;
esac
[ -n "$l" ]
}
"#;

/// `$1` the stamp (present when this agent is installed: its own ports do not count), then
/// the ports.
const PORTS_FREE: &str = r#"stamp=$1; shift
if [ -e "$stamp" ]; then exit 0; fi
busy=
for p in "$@"; do
if listening "$p"; then busy="$busy $p"; fi
done
if [ -n "$busy" ]; then echo "Alloy's ports are in use:$busy" >&2; exit 1; fi"#;

/// `rid CONFIG` and `stack CONFIG`: the agent's RID and the host its config sends to, read
/// from the installed config (never the token).
pub(crate) const CONFIG_FIELDS: &str = r#"rid() { sed -n 's/^[[:space:]]*"rid"[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
stack() { sed -n 's|^[[:space:]]*url[[:space:]]*=[[:space:]]*"https://\([^/"]*\)/.*|\1|p' "$1" | head -n 1; }
"#;

/// Prints `<rid> <service host>` from the installed config, or nothing.
const READ_RID: &str = r#"if [ -r "$1" ]; then printf '%s %s\n' "$(rid "$1")" "$(stack "$1")"; fi"#;

const REMOVE_SYSTEMD: &str = r#"systemctl disable --now "$1.service" >/dev/null 2>&1 || true
rm -f "$2"
systemctl daemon-reload
systemctl reset-failed "$1.service" >/dev/null 2>&1 || true"#;

const REMOVE_LAUNCHD: &str = r#"launchctl bootout "system/$1" >/dev/null 2>&1 || true
rm -f "$2""#;

const REMOVE_RC: &str = r#"if [ -e "$2" ]; then service "$1" stop >/dev/null 2>&1 || true; fi
sysrc -x "$1_enable" >/dev/null 2>&1 || true
rm -f "$2""#;

const REMOVE_USER_LINUX: &str = r#"if id "$1" >/dev/null 2>&1; then userdel "$1"; fi
if getent group "$1" >/dev/null 2>&1; then groupdel "$1"; fi"#;

const REMOVE_USER_FREEBSD: &str = r#"if id "$1" >/dev/null 2>&1; then pw userdel -n "$1"; fi"#;

// === impl Install ===

impl Install {
    /// The steps, in order.
    pub fn plan(&self) -> Plan {
        let l = &self.layout;
        let mut plan = Plan::new();
        if self.check_ports {
            let mut args = vec![l.stamp.clone()];
            args.extend(PORTS.iter().map(u16::to_string));
            plan.push(
                Step::script(
                    "Check Alloy's ports",
                    format!("{LISTENING}{PORTS_FREE}"),
                    args,
                )
                .as_user(),
            );
        }
        if let BinarySource::Download(release) = &self.binary {
            plan.push(release.download_step(self.platform, &l.binary, &l.release_stamp));
        }
        if let Some(step) = user_step(l) {
            plan.push(step);
        }
        let bin_dir = parent(&l.binary);
        plan.push(Step::script(
            "Create the directories",
            DIRECTORIES,
            [&l.config_dir, &l.data_dir, &l.storage, &l.user, &bin_dir],
        ));
        if let BinarySource::Upload(bytes) = &self.binary {
            plan.push(upload(
                "Upload Alloy",
                &l.binary,
                bytes.clone(),
                0o755,
                None,
            ));
        }
        if let Some(config) = &self.config {
            let owner = Some(l.user.clone());
            plan.push(upload(
                "Install the agent config",
                &l.config,
                config.clone().into(),
                0o600,
                owner,
            ));
        }
        let service_file = service_files::render(l).into_bytes();
        plan.push(upload(
            "Install the service definition",
            &l.service_file,
            service_file.into(),
            0o644,
            None,
        ));
        let body = match l.os {
            Os::Linux => ACTIVATE_SYSTEMD,
            Os::Darwin => ACTIVATE_LAUNCHD,
            Os::FreeBsd => ACTIVATE_RC,
        };
        plan.push(Step::script(
            ACTIVATE_STEP,
            format!("set -e\n{ARGS}{FINGERPRINT}{body}{ACTIVATE_TAIL}"),
            activation_args(l),
        ));
        plan
    }
}

/// The steps of teardown: read the RID, stop and remove the service, the files and the user.
pub fn teardown(l: &Layout) -> Plan {
    let mut plan = Plan::new();
    plan.push(Step::script(
        READ_RID_STEP,
        format!("{CONFIG_FIELDS}{READ_RID}"),
        [&l.config],
    ));
    let remove = match l.os {
        Os::Linux => REMOVE_SYSTEMD,
        Os::Darwin => REMOVE_LAUNCHD,
        Os::FreeBsd => REMOVE_RC,
    };
    plan.push(Step::script(
        "Stop and remove the service",
        remove,
        [&manager_name(l), &l.service_file],
    ));
    plan.push(Step::run(
        "Remove Alloy's files",
        ["rm", "-rf", "--", &l.config_dir, &l.data_dir, &l.binary],
    ));
    let remove_user = match l.os {
        Os::Linux => Some(REMOVE_USER_LINUX),
        Os::FreeBsd => Some(REMOVE_USER_FREEBSD),
        Os::Darwin => None,
    };
    if let Some(script) = remove_user {
        plan.push(Step::script("Remove the agent's user", script, [&l.user]));
    }
    plan
}

/// The step that creates the agent's user, where there is one to create.
fn user_step(l: &Layout) -> Option<Step> {
    let script = match l.os {
        Os::Linux => USER_LINUX,
        Os::FreeBsd => USER_FREEBSD,
        Os::Darwin => return None,
    };
    Some(Step::script(
        "Create the agent's user",
        script,
        [&l.user, &l.data_dir],
    ))
}

/// The activation's [`ARGS`] for `l`.
pub(crate) fn activation_args(l: &Layout) -> [String; 6] {
    [
        manager_name(l),
        l.service_file.clone(),
        l.binary.clone(),
        l.config.clone(),
        l.stamp.clone(),
        l.user.clone(),
    ]
}

/// The name the service manager knows the agent by.
fn manager_name(l: &Layout) -> String {
    match l.os {
        Os::Linux => l.service.clone(),
        Os::Darwin => l.launchd_label(),
        Os::FreeBsd => l.rc_name(),
    }
}

fn upload(name: &str, dest: &str, contents: Bytes, mode: u32, owner: Option<String>) -> Step {
    Step::upload(
        name,
        Upload {
            dest: dest.to_owned(),
            contents,
            mode,
            owner,
        },
    )
}

/// The directory of an absolute path.
fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((dir, _)) => dir.to_owned(),
    }
}
