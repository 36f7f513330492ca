//! The steps a plan runs, through the library on a real OpenSSH server on loopback (see
//! `ssh/mod.rs`): what one command brings back over the master (all of its output too), secret uploads, a hostile
//! directory name, root without sudo, sudo that wants a password, `--run.cmd-timeout` and
//! cancelling.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod ssh;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use finchctl::target::report::{Reporter, RunFormat};
use finchctl::target::run::{PlanError, PlanRun, run_plan};
use finchctl::target::{
    CancellationToken, Limits, Plan, Ssh, SshOptions, Step, Target, TargetSpec, Upload,
};
use ssh::{Client, PASSWORD_SUDO_USER, SUDO_USER, Sshd, doctor, wait_for};

/// Runs `plan` on `alias` through the library, quietly.
async fn run_on(
    client: &Client,
    alias: &str,
    plan: &Plan,
    timeout: Duration,
) -> Result<PlanRun, PlanError> {
    let limits = Limits {
        timeout,
        cancel: CancellationToken::new(),
    };
    run_with(client, alias, plan, &limits).await
}

/// Runs `plan` on `alias` under `limits`, quietly.
async fn run_with(
    client: &Client,
    alias: &str,
    plan: &Plan,
    limits: &Limits,
) -> Result<PlanRun, PlanError> {
    let options = SshOptions {
        config: Some(client.dir.path().join("config")),
        ..SshOptions::default()
    };
    let mut target = Ssh::new(TargetSpec::parse(alias).unwrap(), options);
    let reporter = Reporter::new(RunFormat::Quiet, true, false, true);
    tokio::time::timeout(
        ssh::DEADLINE,
        run_plan(&mut target, plan, limits, &reporter),
    )
    .await
    .expect("the plan ended within the deadline")
}

fn secret_upload(dest: &str, contents: Vec<u8>, owner: &str) -> Plan {
    let mut plan = Plan::new();
    plan.push(Step::upload(
        "Upload the secret",
        Upload {
            dest: dest.to_owned(),
            contents: contents.into(),
            mode: 0o640,
            owner: Some(owner.to_owned()),
        },
    ));
    plan
}

/// One command at a time on a connected target, as the plan code sees it.
#[tokio::test]
async fn a_command_brings_back_its_output_exit_code_or_signal_through_the_master() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, SUDO_USER));
    let options = SshOptions {
        config: Some(client.dir.path().join("config")),
        ..SshOptions::default()
    };
    let mut target = Ssh::new(TargetSpec::parse("web").unwrap(), options);
    let identity = target.connect().await.unwrap();
    assert_eq!(identity.user.as_deref(), Some(SUDO_USER));
    let limits = Limits {
        timeout: ssh::DEADLINE,
        cancel: CancellationToken::new(),
    };

    let out = target
        .exec(
            "cat; echo out; echo err >&2; exit 3",
            Some(b"in\n"),
            &limits,
        )
        .await
        .unwrap();
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout, b"in\nout\n");
    assert_eq!(out.stderr, b"err\n");

    // The output is all there even when the exit status reaches the master with it, before
    // the master has written it into the pipes (a master whose control connection closes
    // drops what it has not written yet).
    // Twenty sessions at once, fifteen times, make that likely.
    let mut short = 0;
    for _ in 0..15 {
        let sessions = (0..20).map(|_| target.exec("echo out; echo err >&2", None, &limits));
        short += futures_util::future::join_all(sessions)
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(|out| {
                (out.code, &out.stdout[..], &out.stderr[..]) != (Some(0), b"out\n", b"err\n")
            })
            .count();
    }
    assert_eq!(short, 0, "sessions that came back without all their output");

    // Without data, stdin stays open (and empty) until the command ends.
    let out = target
        .exec("sleep 1; echo done", None, &limits)
        .await
        .unwrap();
    assert_eq!((out.code, out.stdout.as_slice()), (Some(0), &b"done\n"[..]));

    // A shell that a signal ends has no exit status to report.
    let out = target.exec("kill -KILL $$", None, &limits).await.unwrap();
    assert_eq!(out.code, None, "{out:?}");

    // Closing asks the master to stop: it ends at once, not a ControlPersist later.
    let config = client.dir.path().join("config").display().to_string();
    let masters = move || {
        all_cmdlines()
            .iter()
            .filter(|c| c.contains("ControlMaster=yes") && c.contains(config.as_str()))
            .count()
    };
    assert_eq!(masters(), 1);
    target.close().await;
    wait_for("the master to end", || masters() == 0);
    let err = target.exec("true", None, &limits).await.unwrap_err();
    assert!(err.to_string().contains("web"), "{err}");
}

/// The pid of the ssh master that `config` (a test client's own ssh config) started.
fn master_pid(config: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        (cmdline.contains("ControlMaster=yes") && cmdline.contains(config))
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn a_master_that_dies_under_a_step_is_an_error_naming_the_host() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, "root"));
    let config = client.dir.path().join("config");
    let options = SshOptions {
        config: Some(config.clone()),
        ..SshOptions::default()
    };
    let mut target = Ssh::new(TargetSpec::parse("web").unwrap(), options);
    target.connect().await.unwrap();
    let limits = Limits {
        timeout: ssh::DEADLINE,
        cancel: CancellationToken::new(),
    };
    let master = master_pid(config.to_str().unwrap()).expect("the master runs");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let watched = pid_file.clone();
    // The master is killed once the step runs on the host.
    let killer = tokio::task::spawn_blocking(move || {
        wait_for("the step to write its pid", || {
            std::fs::read_to_string(&watched).is_ok_and(|p| p.ends_with('\n'))
        });
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &master.to_string()])
            .status();
        assert!(killed.unwrap().success());
    });
    let line = format!(
        "echo $$ > {}; exec sleep 60",
        finchctl::target::quote::quote(pid_file.to_str().unwrap())
    );
    let err = target.exec(&line, None, &limits).await.unwrap_err();
    killer.await.unwrap();
    let message = err.to_string();
    assert!(message.contains("web"), "{message}");
    assert!(message.contains("connection ended"), "{message}");
    target.close().await;
    let sleeper = std::fs::read_to_string(&pid_file).unwrap();
    let _ = std::process::Command::new("kill")
        .arg(sleeper.trim())
        .status();
}

#[tokio::test]
async fn a_secret_upload_lands_with_mode_and_owner_and_never_in_argv() {
    let client = Client::new();
    let sshd = Sshd::builder().log_level("DEBUG3").start(&client);
    client.config(&Client::host("web", &sshd, SUDO_USER));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("secret");
    std::fs::write(&dest, "old contents").unwrap();
    let secret = "finch-secret-3f1c9a7e";
    // Large enough that the upload lasts while /proc is sampled.
    let mut contents = secret.as_bytes().to_vec();
    contents.resize(32 << 20, b'x');

    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let (mut saw_upload, mut saw_secret) = (false, false);
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                for cmdline in all_cmdlines() {
                    saw_upload |= cmdline.contains(".finch-upload.");
                    saw_secret |= cmdline.contains(secret);
                }
            }
            (saw_upload, saw_secret)
        })
    };
    let result = run_on(
        &client,
        "web",
        &secret_upload(
            dest.to_str().unwrap(),
            contents.clone(),
            "finch-test-sudo:finch-test-sudo",
        ),
        ssh::DEADLINE,
    )
    .await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (saw_upload, saw_secret) = sampler.join().unwrap();
    result.map_err(|e| e.error).unwrap();
    assert!(saw_upload, "the sampler never saw the upload running");
    assert!(!saw_secret, "the secret appeared in a process's argv");
    assert!(!sshd.log().contains(secret));

    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), uid_of(SUDO_USER));
    assert_eq!(std::fs::read(&dest).unwrap(), contents);
    assert_eq!(leftovers(dir.path()), ["secret"]);

    // A failed upload (an owner that does not exist) leaves the old file as it was.
    let failed = run_on(
        &client,
        "web",
        &secret_upload(dest.to_str().unwrap(), b"new".to_vec(), "no-such-user-x"),
        ssh::DEADLINE,
    )
    .await
    .unwrap_err();
    let message = format!("{:#}", failed.error);
    assert!(
        message.contains("\"Upload the secret\" on web exited with 1"),
        "{message}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), contents);
    assert_eq!(leftovers(dir.path()), ["secret"]);
}

fn all_cmdlines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

fn uid_of(user: &str) -> u32 {
    ssh::run("id", &["-u", user]).trim().parse().unwrap()
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_hostile_directory_name_works_for_mkdir_upload_chown_and_rm() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, SUDO_USER));
    let base = tempfile::tempdir().unwrap();
    let odd = base.path().join("a b'c$(x)");
    let odd_str = odd.to_str().unwrap().to_owned();
    let file = format!("{odd_str}/config");
    let mut plan = Plan::new();
    plan.push(Step::run("Create the directory", ["mkdir", "-p", &odd_str]))
        .push(Step::upload(
            "Upload the config",
            Upload {
                dest: file.clone(),
                contents: b"hello".to_vec().into(),
                mode: 0o600,
                owner: None,
            },
        ))
        .push(Step::run(
            "Hand it over",
            ["chown", "-R", &format!("{SUDO_USER}:{SUDO_USER}"), &odd_str],
        ));
    run_on(&client, "web", &plan, ssh::DEADLINE)
        .await
        .map_err(|e| e.error)
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
    assert_eq!(std::fs::metadata(&odd).unwrap().uid(), uid_of(SUDO_USER));
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), uid_of(SUDO_USER));
    // Nothing was made of the pieces a broken quoting would produce.
    assert_eq!(leftovers(base.path()), ["a b'c$(x)"]);

    let mut plan = Plan::new();
    plan.push(Step::run("Remove the directory", ["rm", "-rf", &odd_str]));
    run_on(&client, "web", &plan, ssh::DEADLINE)
        .await
        .map_err(|e| e.error)
        .unwrap();
    assert!(!odd.exists());
    assert!(leftovers(base.path()).is_empty());
}

/// A directory of symlinks to the tools the steps use, without sudo.
fn path_without_sudo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in [
        "sh", "id", "mkdir", "cat", "mktemp", "wc", "chmod", "chown", "mv", "rm", "dirname",
        "timeout", "uname", "ps", "sleep", "kill",
    ] {
        let found = ssh::run("sh", &["-c", &format!("command -v {tool}")]);
        let found = found.trim();
        if !found.is_empty() && found.starts_with('/') {
            std::os::unix::fs::symlink(found, dir.path().join(tool)).unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn root_works_without_sudo_on_the_path() {
    let client = Client::new();
    let tools = path_without_sudo();
    let sshd = Sshd::builder()
        .path(tools.path().display().to_string())
        .start(&client);
    client.config(&Client::host("web", &sshd, "root"));
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("made by root");
    let mut plan = Plan::new();
    plan.push(
        Step::script(
            "Look for sudo",
            "command -v sudo || echo none",
            Vec::<String>::new(),
        )
        .as_user(),
    )
    .push(Step::run(
        "Create a directory",
        ["mkdir", made.to_str().unwrap()],
    ));
    let run = run_on(&client, "web", &plan, ssh::DEADLINE)
        .await
        .map_err(|e| e.error)
        .unwrap();
    assert_eq!(run.steps[0].stdout.trim(), "none");
    assert!(made.is_dir());
    assert!(run.identity.unwrap().root);
}

#[tokio::test]
async fn sudo_that_needs_a_password_gets_a_clear_error() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, PASSWORD_SUDO_USER));
    let mut plan = Plan::new();
    plan.push(Step::run(
        "Create the data directory",
        ["mkdir", "-p", "/nonexistent-x/y"],
    ));
    let err = run_on(&client, "web", &plan, ssh::DEADLINE)
        .await
        .unwrap_err();
    let problem = err
        .error
        .downcast_ref::<finchctl::output::Problem>()
        .unwrap();
    assert_eq!(
        problem.message,
        format!(
            "step \"Create the data directory\" on web needs root, and sudo asks {PASSWORD_SUDO_USER} for a password"
        )
    );
    assert!(
        problem.hint.as_deref().unwrap().contains("NOPASSWD"),
        "{problem:?}"
    );

    // The doctor reports it and fails.
    let home = tempfile::tempdir().unwrap();
    let out = doctor(&client, home.path(), "agent", &["web"]).await;
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.contains("needs a password"), "{out:#?}");
    assert!(
        out.stderr.contains("web: cannot run root steps"),
        "{out:#?}"
    );
}

/// A step that writes its pid to `$1`, then sleeps far past any test.
fn wait_forever(pid_file: &Path) -> Plan {
    let mut plan = Plan::new();
    plan.push(Step::script(
        "Wait forever",
        r#"echo $$ > "$1"; exec sleep 600"#,
        [pid_file.to_str().unwrap()],
    ));
    plan
}

/// Waits until the process whose pid is in `pid_file` is gone (or a zombie waiting for a
/// reaper that is not ours).
fn wait_gone(pid_file: &Path) {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .expect("a pid in the pid file");
    let stat = format!("/proc/{pid}/stat");
    wait_for("the remote sleep to end", || {
        std::fs::read_to_string(&stat)
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    });
}

#[tokio::test]
async fn cmd_timeout_kills_the_remote_step_and_names_it() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, SUDO_USER));
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let err = run_on(
        &client,
        "web",
        &wait_forever(&pid_file),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    let message = format!("{:#}", err.error);
    assert!(message.contains("\"Wait forever\" on web"), "{message}");
    assert!(message.contains("--run.cmd-timeout"), "{message}");
    assert_eq!(
        err.steps[0].status,
        finchctl::target::report::StepStatus::TimedOut
    );
    wait_gone(&pid_file);
}

#[tokio::test]
async fn cancelling_stops_the_remote_step() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, "root"));
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let limits = Limits {
        timeout: ssh::DEADLINE,
        cancel: CancellationToken::new(),
    };
    let cancel = limits.cancel.clone();
    let watched = pid_file.clone();
    // Ctrl-C's path: the token is cancelled once the step runs on the host.
    let canceller = tokio::task::spawn_blocking(move || {
        wait_for("the step to write its pid", || {
            std::fs::read_to_string(&watched).is_ok_and(|p| p.ends_with('\n'))
        });
        cancel.cancel();
    });
    let err = run_with(&client, "web", &wait_forever(&pid_file), &limits)
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert!(
        err.error.is::<finchctl::target::run::Interrupted>(),
        "{:#}",
        err.error
    );
    wait_gone(&pid_file);
}
