//! finchctl's target tests over the kit's real sshd ([`finch_testkit::sshd`]): running the real
//! `finchctl` binary with its own HOME, under the harness's deadline.

#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;

pub use finch_testkit::sshd::*;

/// What a finchctl run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the finchctl binary with `args`, a HOME of `home`, under [`DEADLINE`].
pub async fn finchctl(home: &Path, args: &[&str]) -> Run {
    finchctl_within(home, args, DEADLINE).await
}

/// Runs the finchctl binary with `args`, a HOME of `home`, under `deadline`.
pub async fn finchctl_within(home: &Path, args: &[&str], deadline: std::time::Duration) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(deadline, cmd.output())
        .await
        .expect("finchctl finished within the deadline")
        .expect("finchctl runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn config_arg(client: &Client) -> String {
    client.dir.path().join("config").display().to_string()
}

/// `finchctl <kind> doctor <args…> --ssh.config <the client's config>`.
pub async fn doctor(client: &Client, home: &Path, kind: &str, args: &[&str]) -> Run {
    let cfg = config_arg(client);
    let mut all = vec![kind, "doctor"];
    all.extend_from_slice(args);
    all.extend(["--ssh.config", cfg.as_str()]);
    finchctl(home, &all).await
}
