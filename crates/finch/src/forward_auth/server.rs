//! The ForwardAuth listener: plain HTTP/1.1, each connection on one of a few single-threaded
//! runtimes, one per CPU.
//!
//! Every agent write waits on this port, and an answer itself is cheap (a signature check and a
//! map lookup, see [`super`]). Served like the other listeners (axum on the shared
//! work-stealing runtime), most of a request's CPU went to the serving around it: threads woken
//! across cores to run a task another thread's I/O made ready, routing, a boxed body per
//! response. Here a connection lives on the thread it is handed to, so its reads, its decision and
//! its write never leave that thread; the path is matched by hand; the answer has an empty body.
//!
//! Accepting stays on the main runtime ([`accept_until`], with the other listeners' drain): each
//! accepted socket is moved, round robin, to a worker runtime and registered there. Traefik opens
//! many short connections to the auth server (its ForwardAuth client keeps two idle connections
//! per host), so the hand-over costs one wake-up per connection, not per request.
//!
//! HTTP/2 is not offered here: Traefik's ForwardAuth speaks HTTP/1.1, as Finch 1.x's auth
//! server did.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Empty;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio_util::sync::CancellationToken;

use super::{AGENT_HEADER, ForwardAuth};
use crate::serve::{HEADER_READ_TIMEOUT, accept_until};

/// The name of the listener in logs.
const NAME: &str = "Auth";

/// Serves `/auth` on `listener` until `shutdown`, then drains for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    auth: ForwardAuth,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let auth = Arc::new(auth);
    let workers = Workers::start(worker_count());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut next = 0;
    accept_until(NAME, listener, shutdown, drain, |stream, peer, graceful| {
        let handle = workers.handle(next);
        next = next.wrapping_add(1);
        // A tokio socket belongs to the runtime that registered it: take it out of this one and
        // register it again on the worker's, so that its wake-ups happen there.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(server = NAME, %error, "cannot hand a connection to a worker");
                return;
            }
        };
        handle.spawn(connection(
            stream,
            peer,
            Arc::clone(&auth),
            builder.clone(),
            graceful.watcher(),
        ));
    })
    .await;
    workers.stop().await;
}

/// One connection, on the runtime it was handed to.
async fn connection(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    auth: Arc<ForwardAuth>,
    builder: http1::Builder,
    watcher: Watcher,
) {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(server = NAME, %error, "cannot register a connection");
            return;
        }
    };
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let answer = auth.answer(request.uri().path(), request.headers(), Some(peer));
        let mut response = Response::new(Empty::<Bytes>::new());
        *response.status_mut() = answer.status;
        if let Some(agent) = answer.agent {
            response.headers_mut().insert(AGENT_HEADER, agent);
        }
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(server = NAME, %error, "connection ended with an error");
    }
}

/// One worker per CPU the process may use.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The worker runtimes, each driven by its own thread until stopped.
struct Workers {
    handles: Vec<Handle>,
    threads: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

// === impl Workers ===

impl Workers {
    /// Starts `count` workers. A worker that cannot start is logged and left out; with none at
    /// all, connections are served on the calling runtime.
    fn start(count: usize) -> Workers {
        let stop = CancellationToken::new();
        let mut handles = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            match spawn_worker(index, stop.clone()) {
                Ok((handle, thread)) => {
                    handles.push(handle);
                    threads.push(thread);
                }
                Err(error) => tracing::warn!(
                    server = NAME,
                    worker = index,
                    %error,
                    "cannot start an auth worker thread"
                ),
            }
        }
        if handles.is_empty() {
            handles.push(Handle::current());
        }
        Workers {
            handles,
            threads,
            stop,
        }
    }

    /// The runtime for the `n`th connection.
    fn handle(&self, n: usize) -> &Handle {
        &self.handles[n % self.handles.len()]
    }

    /// Stops every worker, dropping the connections still open on it, and waits for its thread.
    async fn stop(self) {
        self.stop.cancel();
        let threads = self.threads;
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
    }
}

/// A single-threaded runtime, driven on a thread of its own until `stop`.
fn spawn_worker(
    index: usize,
    stop: CancellationToken,
) -> std::io::Result<(Handle, JoinHandle<()>)> {
    let runtime: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let handle = runtime.handle().clone();
    let thread = std::thread::Builder::new()
        .name(format!("finch-auth-{index}"))
        .spawn(move || runtime.block_on(stop.cancelled()))?;
    Ok((handle, thread))
}
