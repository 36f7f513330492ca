//! [`FinchProcess`]: the `finch` binary as a child process on loopback port 0, with its JSON log
//! lines captured, for what only a process shows (signals, exit codes, announced addresses).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// How long a terminated process may take to exit: above finch's own 5 s shutdown deadline.
const EXIT_DEADLINE: Duration = Duration::from_secs(15);

/// A running `finch` with JSON logs captured; killed on drop.
pub struct FinchProcess {
    /// The child.
    pub child: Child,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    stderr: Arc<Mutex<String>>,
    /// The threads reading stdout and stderr; joined once the process has exited, so that
    /// every line it wrote is captured before a test reads the logs.
    readers: Vec<std::thread::JoinHandle<()>>,
}

// === impl FinchProcess ===

impl FinchProcess {
    /// Runs `binary run` on loopback port 0 for every listener with `config`, plus `extra`
    /// flags. `binary` is `env!("CARGO_BIN_EXE_finch")` in finch's own tests.
    pub fn spawn(binary: &Path, config: &Path, extra: &[&str]) -> FinchProcess {
        let mut command = Command::new(binary);
        command
            .arg("run")
            .args(["--server.grpc-address", "127.0.0.1:0"])
            .args(["--server.http-address", "127.0.0.1:0"])
            .args(["--server.auth-address", "127.0.0.1:0"])
            .args(["--server.healthz-address", "127.0.0.1:0"])
            .args(["--server.log-format", "json"])
            .arg("--stack.config-file")
            .arg(config)
            .args(extra);
        FinchProcess::spawn_command(command)
    }

    /// Runs `command`, capturing stdout as JSON log lines and stderr as text.
    pub fn spawn_command(mut command: Command) -> FinchProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&logs);
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                sink.lock().unwrap().push(value);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        FinchProcess {
            child,
            logs,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// The address a server announced, waiting for the announcement under [`DEADLINE`].
    pub fn address(&self, server: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(address) = self.logs.lock().unwrap().iter().find_map(|line| {
                (line["server"] == server && line["address"].is_string())
                    .then(|| line["address"].as_str().unwrap().to_owned())
            }) {
                return address;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "finch never announced the {server} listener; logs: {:?}; stderr: {}",
                self.logs.lock().unwrap(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every captured log line.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.logs.lock().unwrap().clone()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        (self.wait(EXIT_DEADLINE), started.elapsed())
    }

    /// Waits for the process to exit by itself, killing it after `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipes reach end of file with the exit; the readers end with them.
                for reader in self.readers.drain(..) {
                    reader.join().unwrap();
                }
                return status;
            }
            if started.elapsed() > deadline {
                let _ = self.child.kill();
                panic!("finch did not exit within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FinchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
