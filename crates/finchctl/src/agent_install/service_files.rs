//! Our own service definitions for Alloy: the systemd unit, the launchd plist and the rc.d
//! script, rendered from a [`Layout`] (golden tests in `golden/`).
//!
//! Alloy runs as the agent's unprivileged user where the platform allows (systemd and rc.d);
//! the user's groups, not the unit, give it the journal and the Docker socket (see
//! [`crate::agent_install::plan`]). The systemd unit adds the sandboxing that costs Alloy
//! nothing: it writes only its storage directory.

use crate::agent_install::layout::Layout;
use crate::agent_install::platform::Os;

/// The service definition for the layout's platform.
pub fn render(layout: &Layout) -> String {
    match layout.os {
        Os::Linux => systemd_unit(layout),
        Os::Darwin => launchd_plist(layout),
        Os::FreeBsd => rc_script(layout),
    }
}

/// The systemd unit.
fn systemd_unit(l: &Layout) -> String {
    let command = l.command().join(" ");
    format!(
        "# Installed by finchctl agent deploy; replaced by agent update, removed by agent teardown.
[Unit]
Description=Grafana Alloy, the Finch agent ({service})
Documentation=https://grafana.com/docs/alloy/latest/
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={user}
Environment=HOSTNAME=%H
WorkingDirectory={data}
ExecStart={command}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=5s
TimeoutStopSec=20s
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=read-only
ReadWritePaths={data}

[Install]
WantedBy=multi-user.target
",
        service = l.service,
        user = l.user,
        data = l.data_dir,
    )
}

/// The launchd plist (a daemon in the system domain).
fn launchd_plist(l: &Layout) -> String {
    let arguments: String = l
        .command()
        .iter()
        .map(|a| format!("    <string>{}</string>\n", xml_escape(a)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Installed by finchctl agent deploy; replaced by agent update, removed by agent teardown. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{label}</string>
  <key>ProgramArguments</key>
  <array>
{arguments}  </array>
  <key>WorkingDirectory</key>
  <string>{data}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>StandardOutPath</key>
  <string>/var/log/{service}.log</string>
  <key>StandardErrorPath</key>
  <string>/var/log/{service}.log</string>
</dict>
</plist>
"#,
        label = l.launchd_label(),
        data = xml_escape(&l.data_dir),
        service = l.service,
    )
}

/// The rc.d script: `daemon(8)` supervises Alloy as the agent's user, restarts it when it
/// exits, and writes its output to `/var/log/<service>.log`.
fn rc_script(l: &Layout) -> String {
    let name = l.rc_name();
    let command = l.command().join(" ");
    format!(
        r#"#!/bin/sh
#
# Installed by finchctl agent deploy; replaced by agent update, removed by agent teardown.
#
# PROVIDE: {name}
# REQUIRE: LOGIN NETWORKING
# KEYWORD: shutdown

. /etc/rc.subr

name="{name}"
rcvar="{name}_enable"

load_rc_config "$name"
: "${{{name}_enable:=NO}}"

# The pidfile holds daemon(8)'s own pid: rc.subr checks it against `command`, and stopping
# the supervisor stops Alloy (a killed child alone would be restarted).
pidfile="/var/run/${{name}}.pid"
{name}_chdir="{data}"
command="/usr/sbin/daemon"
command_args="-f -r -P ${{pidfile}} -u {user} -o /var/log/{service}.log {command}"

run_rc_command "$1"
"#,
        data = l.data_dir,
        user = l.user,
        service = l.service,
    )
}

/// Escapes the five XML specials.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Compares with `golden/<name>`; `SNAPSHOTS=overwrite` rewrites it.
    fn assert_golden(name: &str, text: String) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/agent_install/golden")
            .join(name);
        snapbox::Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .normalize_paths(false)
            .eq(
                text,
                snapbox::Data::read_from(&path, Some(snapbox::data::DataFormat::Text)).raw(),
            );
    }

    #[test]
    fn systemd_unit_is_golden() {
        assert_golden("alloy.service", render(&Layout::new(Os::Linux, None)));
    }

    #[test]
    fn launchd_plist_is_golden() {
        assert_golden("alloy.plist", render(&Layout::new(Os::Darwin, None)));
    }

    #[test]
    fn rc_script_is_golden() {
        assert_golden("alloy.rc", render(&Layout::new(Os::FreeBsd, None)));
    }

    #[test]
    fn a_prefix_names_its_own_service_and_paths() {
        let unit = render(&Layout::new(Os::Linux, Some("/srv/a1")));
        assert!(unit.contains("User=alloy-srv-a1\n"), "{unit}");
        assert!(
            unit.contains(
                "ExecStart=/srv/a1/usr/bin/alloy run --storage.path=/srv/a1/var/lib/alloy/data"
            ),
            "{unit}"
        );
    }
}
