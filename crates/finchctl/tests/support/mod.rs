//! Running the real `finchctl` binary with its own HOME and FINCH_CONFIG ([`Dir`]), against
//! the real service behind a real Traefik from the test kit ([`staged`]).

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

use finch_testkit::Stage;
use finchctl::profile::{Profile, Stack};

/// The RID the test operator's credentials are issued to.
pub const TEST_RID: &str = "rid:finchctl:0123456789abcdef";

/// The real service behind a real Traefik with [`TEST_RID`] enrolled, and a [`Dir`] whose
/// profile lists it with the operator's credentials (pinned or not); `None` when Traefik is
/// missing outside CI.
pub async fn staged(pinned: bool) -> Option<(Stage, Dir)> {
    let stage = Stage::start(TEST_RID).await?;
    let stack = stage.stack(&stage.credentials, pinned).await;
    Some((stage, Dir::new().with_stacks(&[stack])))
}

/// A temp HOME with a FINCH_CONFIG directory inside, and a way to run finchctl there.
pub struct Dir {
    pub root: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
    pub path_prefix: Option<PathBuf>,
}

/// What a finchctl run produced.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Dir {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Dir {
            root,
            extra_env: Vec::new(),
            path_prefix: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn profile_path(&self) -> PathBuf {
        self.config_dir().join("finch.json")
    }

    /// Writes finch.json with `stacks`.
    pub fn with_stacks(self, stacks: &[Stack]) -> Self {
        let mut profile = Profile::load(&self.profile_path()).unwrap();
        for s in stacks {
            profile.upsert(s);
        }
        profile.save().unwrap();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs `finchctl agent COMMAND SVC --agent.rid RID` with `flags` after them.
    pub async fn agent(&self, command: &str, svc: &str, rid: &str, flags: &[&str]) -> Outcome {
        let args = [&["agent", command, svc, "--agent.rid", rid], flags].concat();
        self.run(&args).await
    }

    /// Runs finchctl with `args` in this directory.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(prefix) = &self.path_prefix {
            let mut p = prefix.as_os_str().to_owned();
            p.push(":");
            p.push(&path);
            path = p;
        }
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"));
        command
            .args(args)
            .current_dir(self.root.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.root.path().join("home"))
            .env("FINCH_CONFIG", self.config_dir());
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        let out = command.output().await.unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success:\n{self:#?}");
        &self.stdout
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code:\n{self:#?}");
        self
    }

    /// The first JSON document on stdout: a failed run in JSON prints its error after its data.
    #[track_caller]
    pub fn first_json(&self) -> serde_json::Value {
        serde_json::Deserializer::from_str(&self.stdout)
            .into_iter()
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("stdout does not start with JSON:\n{self:#?}"))
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
