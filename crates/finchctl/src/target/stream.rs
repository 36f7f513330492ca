//! A command whose output is read while it runs (`service logs`), rather than a plan step
//! collected at its end, with no time limit: it ends by itself, by Ctrl-C, or when the reader
//! stops taking lines (a closed stdout).
//!
//! As with plan steps, the local process (`sh` or `ssh`) gets its own process group and an
//! open stdin; ending the stream closes that stdin, which the command on the host must watch
//! (without a terminal, ssh forwards no signal: only the end of its input reaches the host),
//! then gives it [`GRACE`] to finish before killing it.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::target::fleet::AnyTarget;
use crate::target::process::{GRACE, spawn};
use crate::target::{CancellationToken, TargetError};

/// How a streamed command ended.
#[derive(Debug)]
pub struct Streamed {
    /// Its exit code; none when a signal ended it.
    pub code: Option<i32>,
    /// Its stderr.
    pub stderr: Vec<u8>,
    /// Whether finchctl ended it (Ctrl-C, or the reader stopped).
    pub stopped: bool,
}

/// Runs `line` on `target` (connected), handing each line of its stdout, without the line
/// end, to `on_line` until it ends, `cancel` fires or `on_line` fails. `None` for a dry run.
pub async fn stream(
    target: &AnyTarget,
    line: &str,
    cancel: &CancellationToken,
    mut on_line: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<Option<Streamed>, TargetError> {
    let Some(cmd) = target.session(line)? else {
        return Ok(None);
    };
    let program = if matches!(target, AnyTarget::Ssh(_)) {
        "ssh"
    } else {
        "sh"
    };
    let mut child = spawn(cmd, program)?;
    let stdin = child.stdin.take();
    let mut errors = child.stderr.take();
    let error_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(pipe) = errors.as_mut() {
            let _ = pipe.read_to_end(&mut buf).await;
        }
        buf
    });
    let mut stopped = false;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = tokio::select! {
                read = reader.read_until(b'\n', &mut buf) => read,
                () = cancel.cancelled() => { stopped = true; break; }
            };
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                    if on_line(text).is_err() {
                        stopped = true;
                        break;
                    }
                }
            }
        }
    }
    // The end of its input ends the command on the host.
    drop(stdin);
    let status = match tokio::time::timeout(GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
    .map_err(|source| TargetError::Io {
        context: format!("waiting for {program}"),
        source,
    })?;
    let stderr = tokio::time::timeout(GRACE, error_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Ok(Some(Streamed {
        code: status.code(),
        stderr,
        stopped,
    }))
}
