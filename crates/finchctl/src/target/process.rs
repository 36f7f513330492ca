//! Drives one local child process under a step's limits: the local target's `sh` (an SSH step
//! is a session of the master instead, [`crate::target::mux`], which ends a step in the same
//! order), and the `ssh` or `sh` of a streamed command, which shares [`spawn`].
//!
//! The child gets its own process group, so Ctrl-C reaches finchctl alone and finchctl ends
//! the step in order: it closes the child's stdin (the wrapper on the host then kills the
//! step, see [`crate::target::run`]), gives it [`GRACE`] to finish, then kills it.

use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Command;

use crate::target::{Limits, Outcome, Stop, TargetError};

/// How long a stopped step gets to end after its stdin closed, before it is killed. Enough for
/// the host to deliver SIGTERM and for the wrapper's own KILL after 5 s to be moot.
pub const GRACE: Duration = Duration::from_secs(10);

/// Runs `cmd` to its end or until `limits` stop it, feeding `stdin` when given.
pub async fn drive(
    cmd: Command,
    program: &str,
    stdin: Option<&[u8]>,
    limits: &Limits,
) -> Result<Outcome, TargetError> {
    let mut child = spawn(cmd, program)?;
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));
    // A command keeps an open, empty stdin until it ends; an upload's is closed after the data.
    let mut open_stdin = child.stdin.take();
    let feed = stdin.map(|data| (data, open_stdin.take()));
    let ended = {
        let wait = std::pin::pin!(async {
            feed_then_close(feed).await;
            child.wait().await
        });
        end_in_order(wait, &mut open_stdin, limits).await
    };
    let (status, stopped) = match ended {
        Ok(status) => (status, None),
        Err((stop, Some(status))) => (status, Some(stop)),
        Err((stop, None)) => {
            let _ = child.start_kill();
            (child.wait().await, Some(stop))
        }
    };
    let status = status.map_err(|source| TargetError::Io {
        context: format!("waiting for {program}"),
        source,
    })?;
    Ok(Outcome {
        code: status.code(),
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
        stopped,
        recorded: false,
    })
}

/// Writes a step's stdin data, when it has some, then closes its stdin. A write error means the
/// command ended early: its exit status says why.
pub async fn feed_then_close(feed: Option<(&[u8], Option<impl AsyncWrite + Unpin>)>) {
    if let Some((data, Some(mut input))) = feed {
        let _ = input.write_all(data).await;
        let _ = input.shutdown().await;
    }
}

/// Awaits `end`, a step's end, until `limits` stop the step. A stopped step has its open stdin
/// closed (the host's wrapper then ends it) and [`GRACE`] more to end: the error says why it
/// was stopped, with what `end` gave if it ended within the grace.
pub async fn end_in_order<F: Future>(
    mut end: Pin<&mut F>,
    open_stdin: &mut Option<impl Sized>,
    limits: &Limits,
) -> Result<F::Output, (Stop, Option<F::Output>)> {
    let stop = tokio::select! {
        output = &mut end => return Ok(output),
        () = tokio::time::sleep(limits.timeout) => Stop::TimedOut,
        () = limits.cancel.cancelled() => Stop::Cancelled,
    };
    drop(open_stdin.take());
    Err((stop, tokio::time::timeout(GRACE, end).await.ok()))
}

/// Starts `cmd` with piped stdin, stdout and stderr, in a process group of its own (so Ctrl-C
/// reaches finchctl alone), killed if finchctl drops it.
pub fn spawn(mut cmd: Command, program: &str) -> Result<tokio::process::Child, TargetError> {
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd.spawn().map_err(|source| TargetError::Spawn {
        program: program.to_owned(),
        source,
    })
}

/// Everything `pipe` yields until its end (nothing when there is no pipe).
pub async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut buf).await;
    }
    buf
}

/// A reader's bytes, or what it had when a stray process kept the pipe open past [`GRACE`].
async fn collect(task: tokio::task::JoinHandle<Vec<u8>>) -> Vec<u8> {
    match tokio::time::timeout(GRACE, task).await {
        Ok(Ok(bytes)) => bytes,
        _ => Vec::new(),
    }
}
