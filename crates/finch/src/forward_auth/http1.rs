//! One ForwardAuth connection: HTTP/1.1 request heads in, answers out, nothing else.
//!
//! A ForwardAuth check is a request head without a body, and its answer is a status line and a
//! header or two. Served by hyper, the machinery around that (a header map and a request built
//! per check, a dispatcher, reference-counted buffers, a timer reset per request) took more CPU
//! than the decision itself; see `docs/performance.md`. Here a connection reads into one buffer,
//! parses each head in place with httparse (the parser hyper uses), lets the decision read the
//! parsed headers directly ([`crate::headers::Headers`]), and writes the answers of everything
//! it has read in one system call.
//!
//! What it speaks: HTTP/1.1 and HTTP/1.0 requests without a body, with keep-alive (HTTP/1.1
//! unless the request says `Connection: close`, HTTP/1.0 when it says `Connection: keep-alive`)
//! and pipelining (answers in the order of the requests). What it refuses, answering and then
//! closing the connection, since the rest of the stream can no longer be framed or trusted:
//!
//! - a malformed head, or any other protocol (an HTTP/2 preface): 400;
//! - a head longer than [`MAX_HEAD`] bytes or with more than [`MAX_HEADERS`] headers: 431;
//! - a request that announces a body (`Transfer-Encoding`, or a `Content-Length` other than 0):
//!   400. No ForwardAuth client sends one for a check.
//!
//! A head must be complete within [`Limits::header_read`] (10 s) of the moment the connection
//! started waiting for it (slow clients cannot hold connections open by trickling bytes), and a
//! keep-alive connection may stay idle between requests for [`Limits::idle`] (120 s). Those
//! deadlines cost no timer work per request: one timer per connection fires at the earliest
//! possible deadline and is moved on if the connection made progress since. A stop closes a
//! connection as soon as it waits for a request; answers already computed are written first. A
//! connection closed by us after a refusal, or with requests left unread, lingers briefly
//! ([`linger`]) so that the client reads the last answer.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{AGENT_HEADER, Answer};
use crate::serve::HEADER_READ_TIMEOUT;

/// The longest request head accepted, in bytes (nginx's default limit for all header lines).
pub const MAX_HEAD: usize = 32 * 1024;

/// The most header fields a request may have. A check carries the headers of the agent's push
/// plus Traefik's `X-Forwarded-*`: a dozen or two.
pub const MAX_HEADERS: usize = 64;

/// How long a connection may wait for what it reads.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From the start of a wait for a request head to its end; also how long a peer may take to
    /// read the answers it is owed.
    pub header_read: Duration,
    /// Between the requests of a keep-alive connection.
    pub idle: Duration,
}

impl Limits {
    /// The auth listener's: the header read timeout of every Finch listener, and an idle
    /// timeout longer than Traefik's own for the connections it keeps (Go's default, 90 s), so
    /// that Traefik is the one that closes them in the usual case.
    pub const DEFAULT: Limits = Limits {
        header_read: HEADER_READ_TIMEOUT,
        idle: Duration::from_secs(120),
    };
}

/// What a connection asks of the request it has read: the answer to a request for a path with
/// headers, from a peer, at a time (the same time dates the answer: one clock read a request).
/// [`super::ForwardAuth`] implements it beside its decision; tests answer with fixed values.
pub trait Answering {
    /// The answer to a request for `path` (without its query) with `headers` from `peer`, read
    /// `at`.
    fn answer(
        &self,
        path: &str,
        headers: &[httparse::Header<'_>],
        peer: SocketAddr,
        at: SystemTime,
    ) -> Answer;
}

/// How long, and for how many bytes, a connection closed by us still reads what the client
/// sends; see [`linger`].
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// The read buffer a connection starts with; it grows up to [`MAX_HEAD`] for a long head.
const INITIAL_BUFFER: usize = 4096;

/// Why a connection ended other than by the peer closing it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not an acceptable request (and was told so).
    #[error("refused request: {0}")]
    Refused(&'static str),
    /// The peer took too long to send a request head, or stayed idle too long.
    #[error("timed out waiting for a request")]
    TimedOut,
}

/// Serves requests on `stream` from `peer`, each answered by `auth`, until the peer closes it, a
/// refusal or a timeout closes it, or `stop` fires while it waits for a request.
pub async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    auth: &impl Answering,
    limits: Limits,
    stop: &CancellationToken,
) -> Result<(), ConnectionError> {
    let mut buffer = vec![0; INITIAL_BUFFER];
    let mut filled = 0;
    let mut answers = Vec::with_capacity(256);
    let mut waits = Waits::new(limits);
    let timer = tokio::time::sleep_until(waits.deadline(filled));
    tokio::pin!(timer);
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        // Answer every complete request already read.
        let mut consumed = 0;
        let mut close = None;
        while close.is_none() {
            match next_request(&buffer[consumed..filled], auth, peer, &mut answers) {
                Parsed::Answered { length, keep_alive } => {
                    consumed += length;
                    if !keep_alive {
                        close = Some(Ok(()));
                    }
                }
                Parsed::Partial => break,
                Parsed::Refused(reason) => close = Some(Err(ConnectionError::Refused(reason))),
            }
        }
        if consumed > 0 {
            buffer.copy_within(consumed..filled, 0);
            filled -= consumed;
            waits.answered(filled);
        }
        if filled == buffer.len() && buffer.len() >= MAX_HEAD {
            refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &mut answers);
            close = Some(Err(ConnectionError::Refused("request head too large")));
        }
        if !answers.is_empty() {
            write_answers(&mut stream, &answers, limits.header_read).await?;
            answers.clear();
        }
        if let Some(ended) = close {
            if ended.is_err() || filled > 0 {
                linger(&mut stream, &mut buffer).await;
            }
            return ended;
        }
        if filled == buffer.len() {
            buffer.resize((buffer.len() * 2).min(MAX_HEAD), 0);
        }
        // The timer only ever moves earlier here (a head began: its own, shorter, deadline).
        let deadline = waits.deadline(filled);
        if deadline < timer.deadline() {
            timer.as_mut().reset(deadline);
        }

        let read = tokio::select! {
            biased;
            read = stream.read(&mut buffer[filled..]) => read?,
            () = &mut timer => {
                let deadline = waits.deadline(filled);
                if Instant::now() >= deadline {
                    return Err(ConnectionError::TimedOut);
                }
                timer.as_mut().reset(deadline);
                continue;
            }
            () = &mut stopped => return Ok(()),
        };
        if read == 0 {
            return Ok(());
        }
        waits.read(filled);
        filled += read;
    }
}

/// Writes `answers`, allowing a peer that does not read them `deadline`.
async fn write_answers(
    stream: &mut TcpStream,
    answers: &[u8],
    deadline: Duration,
) -> Result<(), ConnectionError> {
    let rest = match stream.try_write(answers) {
        Ok(written) if written == answers.len() => return Ok(()),
        Ok(written) => &answers[written..],
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => answers,
        Err(error) => return Err(error.into()),
    };
    match tokio::time::timeout(deadline, stream.write_all(rest)).await {
        Ok(written) => Ok(written?),
        Err(_elapsed) => Err(ConnectionError::TimedOut),
    }
}

/// Closes our side of `stream` after its last answer and reads (and drops) what the client
/// still sends, for at most [`LINGER`] or [`LINGER_BYTES`]. Closed with input unread, the
/// socket would answer the client with a reset, which can destroy our last answer before the
/// client reads it: a client told why it was refused should get to read why.
async fn linger(stream: &mut TcpStream, buffer: &mut [u8]) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            match stream.read(buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => dropped += read,
            }
        }
    })
    .await;
}

/// When the current wait for a request began, to tell its deadline. The clock is read once per
/// read from the socket.
struct Waits {
    limits: Limits,
    /// The last read from the socket, or the accept.
    last_read: Instant,
    /// The last answer, or the accept: the start of an idle wait.
    idle_since: Instant,
    /// The first read of the head in the buffer, if there is one.
    head_since: Instant,
    /// Whether a request was answered: the wait between requests is then an idle keep-alive.
    answered: bool,
}

impl Waits {
    fn new(limits: Limits) -> Waits {
        let now = Instant::now();
        Waits {
            limits,
            last_read: now,
            idle_since: now,
            head_since: now,
            answered: false,
        }
    }

    /// Bytes were read into a buffer holding `buffered` bytes.
    fn read(&mut self, buffered: usize) {
        self.last_read = Instant::now();
        if buffered == 0 {
            self.head_since = self.last_read;
        }
    }

    /// Requests were answered; `buffered` bytes of the next head are left.
    fn answered(&mut self, buffered: usize) {
        self.answered = true;
        self.idle_since = self.last_read;
        if buffered > 0 {
            self.head_since = self.last_read;
        }
    }

    /// The deadline with `buffered` bytes of a head waiting: the header read limit from the
    /// head's first read; with none, the idle limit since the last answer, or the header read
    /// limit for a new connection's first request.
    fn deadline(&self, buffered: usize) -> Instant {
        if buffered > 0 {
            self.head_since + self.limits.header_read
        } else if self.answered {
            self.idle_since + self.limits.idle
        } else {
            self.idle_since + self.limits.header_read
        }
    }
}

/// What the buffer held.
enum Parsed {
    /// A complete request of `length` bytes, answered.
    Answered { length: usize, keep_alive: bool },
    /// Not a complete head yet.
    Partial,
    /// Not an acceptable request: refused with an answer, the connection must close.
    Refused(&'static str),
}

/// Parses the request at the start of `input` and, when it is complete, appends its answer to
/// `answers`.
fn next_request(
    input: &[u8],
    auth: &impl Answering,
    peer: SocketAddr,
    answers: &mut Vec<u8>,
) -> Parsed {
    if input.is_empty() {
        return Parsed::Partial;
    }
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let length = match request.parse_with_uninit_headers(input, &mut headers) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, answers);
            return Parsed::Refused("too many headers");
        }
        Err(_) => {
            refuse(StatusCode::BAD_REQUEST, answers);
            return Parsed::Refused("malformed request head");
        }
    };
    let headers: &[httparse::Header<'_>] = request.headers;
    if announces_body(headers) {
        refuse(StatusCode::BAD_REQUEST, answers);
        return Parsed::Refused("request with a body");
    }
    let keep_alive = keeps_alive(request.version.unwrap_or(1), headers);
    let path = request.path.unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
    let at = SystemTime::now();
    let answer = auth.answer(path, headers, peer, at);
    encode(&answer, keep_alive, at, answers);
    Parsed::Answered { length, keep_alive }
}

/// Whether the request says a body follows its head.
fn announces_body(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("transfer-encoding")
            || (header.name.eq_ignore_ascii_case("content-length")
                && header.value.trim_ascii() != b"0")
    })
}

/// Whether the connection stays open after this request (RFC 9112, section 9.3).
fn keeps_alive(minor_version: u8, headers: &[httparse::Header<'_>]) -> bool {
    let mut close = false;
    let mut keep_alive = false;
    for header in headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("connection"))
    {
        for option in header.value.split(|&byte| byte == b',') {
            let option = option.trim_ascii();
            close |= option.eq_ignore_ascii_case(b"close");
            keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    !close && (minor_version >= 1 || keep_alive)
}

/// Appends the response for `answer`.
fn encode(answer: &Answer, keep_alive: bool, at: SystemTime, out: &mut Vec<u8>) {
    status_line(answer.status, out);
    if let Some(agent) = &answer.agent {
        out.extend_from_slice(AGENT_HEADER.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(agent.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    end_of_head(keep_alive, at, out);
}

/// Appends an answer with `status` to a request that is refused before any decision; the
/// connection closes after it.
fn refuse(status: StatusCode, out: &mut Vec<u8>) {
    status_line(status, out);
    end_of_head(false, SystemTime::now(), out);
}

fn status_line(status: StatusCode, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The headers every answer ends with: no body, the date, and whether the connection closes.
fn end_of_head(keep_alive: bool, at: SystemTime, out: &mut Vec<u8>) {
    out.extend_from_slice(b"content-length: 0\r\ndate: ");
    append_date(at, out);
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

thread_local! {
    /// The `Date` value of the current second, formatted once per second per auth worker.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn append_date(now: SystemTime, out: &mut Vec<u8>) {
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with_borrow_mut(|(formatted_second, formatted)| {
        if *formatted_second != second {
            *formatted = httpdate::fmt_http_date(now);
            *formatted_second = second;
        }
        out.extend_from_slice(formatted.as_bytes());
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
