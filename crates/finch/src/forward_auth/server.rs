//! The ForwardAuth listener: plain HTTP/1.1, each connection on one of a few single-threaded
//! runtimes, one per CPU.
//!
//! Every agent write waits on this port, and an answer itself is cheap (a signature check and a
//! map lookup, see [`super`]). Served like the other listeners (axum on the shared
//! work-stealing runtime), most of a request's CPU went to the serving around it: threads woken
//! across cores to run a task another thread's I/O made ready, routing, a boxed body per
//! response. Here each worker accepts on a socket of its own (all bound to the port with
//! `SO_REUSEPORT`, see [`crate::run::Listeners`]), so the kernel hands a new connection to one
//! worker, which serves it until it closes: its accept, reads, decisions and writes never leave
//! that thread. That matters for Traefik, whose ForwardAuth client keeps only two idle
//! connections per auth server and so opens a new one for most checks under load. Each
//! connection speaks the little HTTP/1.1 a check needs ([`super::http1`]).
//!
//! HTTP/2 is not offered here: Traefik's ForwardAuth speaks HTTP/1.1, as Finch 1.x's auth
//! server did.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::{Handle, Runtime};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ForwardAuth;
use super::http1::{Limits, serve_connection};
use crate::serve::{drained, logged, next_connection};

/// The name of the listener in logs.
const NAME: &str = "Auth";

/// How many auth workers (and listening sockets) to run: one per CPU the process may use.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Serves `/auth` on `sockets` (one per worker, bound to the same port) until `shutdown`, then
/// drains each for at most `drain`.
pub async fn serve(
    sockets: Vec<TcpListener>,
    auth: ForwardAuth,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let auth = Arc::new(auth);
    let workers = Workers::start(sockets.len());
    let mut served = Vec::with_capacity(sockets.len());
    for (index, socket) in sockets.into_iter().enumerate() {
        // A tokio socket belongs to the runtime that registered it: take it out of this one, to
        // be registered again on its worker's, where its wake-ups then happen.
        match socket.into_std() {
            Ok(socket) => served.push(workers.handle(index).spawn(accept_on_worker(
                socket,
                Arc::clone(&auth),
                shutdown.clone(),
                drain,
            ))),
            Err(error) => {
                tracing::warn!(server = NAME, %error, "cannot hand a socket to an auth worker");
            }
        }
    }
    for accepting in served {
        let _ = accepting.await;
    }
    workers.stop().await;
}

/// Accepts and serves connections on `socket` on the runtime this runs on; on `shutdown`, stops
/// accepting and gives the open connections at most `drain` to write what they owe.
async fn accept_on_worker(
    socket: std::net::TcpListener,
    auth: Arc<ForwardAuth>,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let listener = match TcpListener::from_std(socket) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(server = NAME, %error, "cannot register an auth socket");
            return;
        }
    };
    let connections = TaskTracker::new();
    while let Some((stream, peer)) = next_connection(NAME, &listener, &shutdown).await {
        let auth = Arc::clone(&auth);
        let stop = shutdown.clone();
        connections.spawn(async move {
            let connection = serve_connection(stream, peer, &*auth, Limits::DEFAULT, &stop);
            logged(NAME, connection).await;
        });
    }
    drop(listener);
    connections.close();
    drained(NAME, drain, connections.wait()).await;
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
    /// all, the sockets are served on the calling runtime.
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

    /// The runtime for the `n`th socket.
    fn handle(&self, n: usize) -> &Handle {
        &self.handles[n % self.handles.len()]
    }

    /// Stops every worker, dropping what is still running on it, and waits for its thread.
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
