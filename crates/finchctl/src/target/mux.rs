//! Runs a step as a session of the host's OpenSSH master, over the master's control socket.
//!
//! A step used to be an `ssh -o ControlMaster=no` process: about 7 ms of CPU and 10 to 20 ms to
//! start a client whose only work was to hand its stdin, stdout and stderr to the master, ten
//! times for a fresh host (docs/performance.md). finchctl now does that part itself, in
//! OpenSSH's multiplexing protocol (`PROTOCOL.mux`, through the `openssh-mux-client` crate that
//! the `openssh` crate's native mux uses): a hello, a new session carrying the command line, the
//! three ends of local pipes passed with `SCM_RIGHTS`, then the exit message when the command
//! ends. The master holds the connection, the user's options and the authentication, so a
//! session never prompts.
//!
//! Stopping a step keeps the order of [`crate::target::process`]: close its stdin (the wrapper
//! on the host then kills the step, see [`crate::target::run`]), give it the grace period to
//! end ([`crate::target::process::end_in_order`]), then hang up the control connection, on
//! which the master closes the channel and the pipes.

use std::borrow::Cow;
use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use openssh_mux_client::{Connection, NonZeroByteSlice, Session, SessionStatus};
use tokio::net::unix::pipe;

use crate::target::process::{end_in_order, feed_then_close, read_all};
use crate::target::{Limits, Outcome};

/// Why a session could not run or report its end.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// A local pipe for the session's stdio.
    #[error("cannot create a pipe for the session: {0}")]
    Pipe(#[source] std::io::Error),
    /// A NUL byte cannot travel in the protocol's strings (nor in a shell command line).
    #[error("the command line contains a NUL byte")]
    Nul,
    /// The master refused the request, or the control socket failed.
    #[error("the ssh master: {0}")]
    Master(#[from] openssh_mux_client::Error),
    /// The master is gone (killed, or its connection to the host dropped) before the command
    /// ended.
    #[error("the connection ended before the command did")]
    Lost,
}

/// The pipes of one session: the ends finchctl keeps and the ends the master gets.
struct Pipes {
    stdin: pipe::Sender,
    stdout: pipe::Receiver,
    stderr: pipe::Receiver,
    remote: [OwnedFd; 3],
}

/// Runs `line` as a new session of the master listening on `control`, feeding `stdin` when
/// given (an open, empty stdin otherwise), to its end or until `limits` stop it.
pub async fn exec(
    control: &Path,
    line: &str,
    stdin: Option<&[u8]>,
    limits: &Limits,
) -> Result<Outcome, MuxError> {
    let command = NonZeroByteSlice::new(line.as_bytes()).ok_or(MuxError::Nul)?;
    let Pipes {
        stdin: input,
        stdout,
        stderr,
        remote,
    } = Pipes::new().map_err(MuxError::Pipe)?;
    let stdout = tokio::spawn(read_all(Some(stdout)));
    let stderr = tokio::spawn(read_all(Some(stderr)));
    // A command keeps an open, empty stdin until it ends; an upload's is closed after the data.
    let mut open_stdin = Some(input);
    let feed = stdin.map(|data| (data, open_stdin.take()));
    let session = async move {
        let request = Session::builder().cmd(Cow::Borrowed(command)).build();
        let fds = remote.each_ref().map(AsRawFd::as_raw_fd);
        let established = Connection::connect(control)
            .await?
            .open_new_session(&request, &fds)
            .await?;
        // The master holds its own copies now; ours would keep stdout and stderr from ending.
        drop(remote);
        feed_then_close(feed).await;
        // The exit status can reach the master before the last of the output has gone into
        // the pipes, and a master whose control connection closes drops what it has not
        // written yet. Reading the exit message closes that connection, so it waits until
        // the master has closed both pipes, which it does once the session is over (as
        // OpenSSH's own client holds the connection until the master ends it).
        let (stdout, stderr) = tokio::join!(stdout, stderr);
        let exit = match established.wait().await {
            Ok(SessionStatus::Exited { exit_value }) => exit_value,
            // No terminal was asked for, so no terminal can fail to be allocated.
            Ok(SessionStatus::TtyAllocFail(_)) => None,
            Err((err, _)) => return Err(MuxError::Master(err)),
        };
        Ok((exit, stdout.unwrap_or_default(), stderr.unwrap_or_default()))
    };
    // Past the grace, dropping the session hangs up on the master (and its output is lost).
    let ((exit, stdout, stderr), stopped) =
        match end_in_order(std::pin::pin!(session), &mut open_stdin, limits).await {
            Ok(ended) => (ended?, None),
            Err((stop, ended)) => (ended.and_then(Result::ok).unwrap_or_default(), Some(stop)),
        };
    // No exit status: a signal ended the command, or the master itself is gone.
    if exit.is_none() && stopped.is_none() && !alive(control).await {
        return Err(MuxError::Lost);
    }
    Ok(Outcome {
        // The master reports an exit status; a command that a signal ended has none.
        code: exit.and_then(|code| i32::try_from(code).ok()),
        stdout,
        stderr,
        stopped,
        recorded: false,
    })
}

/// Whether the master on `control` still answers.
async fn alive(control: &Path) -> bool {
    match Connection::connect(control).await {
        Ok(mut connection) => connection.send_alive_check().await.is_ok(),
        Err(_) => false,
    }
}

/// Asks the master on `control` to stop listening: it removes the socket and exits once no
/// session is left (what `ssh -O stop` asks, without starting an `ssh`).
pub async fn stop_master(control: &Path) -> Result<(), MuxError> {
    let mut connection = Connection::connect(control).await?;
    connection.request_stop_listening().await?;
    Ok(())
}

// === impl Pipes ===

impl Pipes {
    /// Three pipes. The master's ends stay blocking, as the protocol expects of passed fds;
    /// finchctl's become non-blocking for tokio.
    fn new() -> std::io::Result<Self> {
        let (stdin_remote, stdin): (PipeReader, PipeWriter) = std::io::pipe()?;
        let (stdout, stdout_remote) = std::io::pipe()?;
        let (stderr, stderr_remote) = std::io::pipe()?;
        Ok(Self {
            stdin: pipe::Sender::from_owned_fd(stdin.into())?,
            stdout: pipe::Receiver::from_owned_fd(stdout.into())?,
            stderr: pipe::Receiver::from_owned_fd(stderr.into())?,
            remote: [
                stdin_remote.into(),
                stdout_remote.into(),
                stderr_remote.into(),
            ],
        })
    }
}
