//! One WebSocket connection: its writer task and its session loop.
//!
//! The writer owns the sink and sends what the bounded outbox gives it, each send under
//! [`WRITE_TIMEOUT`]; it ends after a close frame, on a write error, or when the outbox closes.
//! The session loop owns the stream, the subscription to agent changes and the per-connection
//! state (page, search). It `select!`s over client frames, agent changes, the refresh timer,
//! pings, token re-checks, shutdown, and the writer's end; whichever way it ends, it drops the
//! subscription and its outbox, and the writer is given [`CLOSE_GRACE`] to flush a close frame
//! before it is aborted.
//!
//! Agent changes only mark the page dirty; a refresh (agents, then stats) follows at most once
//! per refresh interval. The page is also marked dirty every liveness interval, since
//! `last_seen` moves without any change event. A lagging subscription (`Lagged`) is a missed burst, which the same
//! refresh resyncs.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};
use tracing::{Instrument as _, Span};

use super::actions::{self, Viewer, clean_search};
use super::protocol::{ClientMessage, ServerMessage};
use crate::dashboard::auth::Session;
use crate::dashboard::{DashboardState, Subscription};

/// Frames waiting for the writer. A page needs three per refresh; more than this waiting means
/// the client stopped reading.
const OUTBOX_CAPACITY: usize = 32;

/// The longest one frame may take to reach the client's socket buffer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the writer may take to flush a close frame after the session ended.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Client messages allowed in a burst, and refilled per second: a person clicks a few times a
/// second at most; a script that sends more is cut off.
const RATE_BURST: f64 = 20.0;
const RATE_PER_SECOND: f64 = 10.0;

/// Close codes (RFC 6455).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_INVALID: u16 = 1007;
const CLOSE_POLICY: u16 = 1008;

/// Serves one upgraded connection until it ends.
pub async fn run(socket: WebSocket, state: DashboardState, session: Session) {
    let span = tracing::debug_span!("dashboard.ws", role = %session.claims.role);
    serve(socket, state, session, span.clone())
        .instrument(span)
        .await;
}

async fn serve(socket: WebSocket, state: DashboardState, session: Session, span: Span) {
    let (sink, stream) = socket.split();
    let (outbox, queued) = mpsc::channel(OUTBOX_CAPACITY);
    let mut writer = tokio::spawn(write_loop(sink, queued).instrument(span));
    // Subscribe before the first page is read, so no change falls between the two.
    let subscription = state.subscribe();
    let mut loop_state = SessionLoop::new(state, session, outbox);
    let reason = loop_state.run(stream, subscription).await;
    tracing::debug!(reason, "dashboard WebSocket ended");
    drop(loop_state);
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut queued: mpsc::Receiver<Message>) {
    while let Some(message) = queued.recv().await {
        let closing = matches!(message, Message::Close(_));
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
            Ok(Ok(())) if !closing => {}
            _ => break,
        }
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
}

/// The per-connection state of the session loop.
struct SessionLoop {
    state: DashboardState,
    session: Session,
    viewer: Viewer,
    outbox: mpsc::Sender<Message>,
    page: u32,
    search: String,
    dirty: bool,
    next_refresh: Instant,
    last_heard: Instant,
    allowance: f64,
    allowance_at: Instant,
}

/// Why the loop should stop, for the debug log.
type Ended = &'static str;

// === impl SessionLoop ===

impl SessionLoop {
    fn new(state: DashboardState, session: Session, outbox: mpsc::Sender<Message>) -> Self {
        let now = Instant::now();
        SessionLoop {
            viewer: Viewer::from_claims(&session.claims),
            state,
            session,
            outbox,
            page: 1,
            search: String::new(),
            dirty: false,
            next_refresh: now,
            last_heard: now,
            allowance: RATE_BURST,
            allowance_at: now,
        }
    }

    async fn run(
        &mut self,
        mut stream: SplitStream<WebSocket>,
        mut subscription: Subscription,
    ) -> Ended {
        if let Err(ended) = self.greet().await {
            return ended;
        }
        let settings = self.state.settings().clone();
        let start = Instant::now();
        let mut revalidate =
            interval_at(start + settings.revalidate_every, settings.revalidate_every);
        revalidate.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ping = interval_at(start + settings.ping_every, settings.ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut liveness =
            interval_at(start + settings.liveness_refresh, settings.liveness_refresh);
        liveness.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let shutdown = self.state.shutdown().clone();
        let outbox = self.outbox.clone();
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => {
                    self.close(CLOSE_GOING_AWAY, "Server shutting down").await;
                    Err("shutdown")
                }
                () = outbox.closed() => Err("writer ended"),
                frame = stream.next() => self.on_frame(frame).await,
                event = subscription.events.recv() => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        self.dirty = true;
                        Ok(())
                    }
                    Err(RecvError::Closed) => Err("agent changes closed"),
                },
                () = sleep_until(self.next_refresh), if self.dirty => self.refresh().await,
                _ = revalidate.tick() => self.revalidate().await,
                _ = ping.tick() => self.ping(settings.ping_every).await,
                _ = liveness.tick() => {
                    self.dirty = true;
                    Ok(())
                }
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// The first messages: stats, endpoints, then page 1.
    async fn greet(&mut self) -> Result<(), Ended> {
        if let Some(stats) = actions::stats(&self.state, &self.viewer).await {
            self.send(&stats).await?;
        }
        self.send(&actions::endpoints(&self.state)).await?;
        self.send_agents().await
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Result<(), Ended> {
        let message = match frame {
            None => return Err("client went away"),
            Some(Err(_)) => return Err("read error or message too large"),
            Some(Ok(message)) => message,
        };
        self.last_heard = Instant::now();
        match message {
            Message::Text(text) => {
                if !self.take_allowance() {
                    self.close(CLOSE_POLICY, "Too many messages").await;
                    return Err("rate limited");
                }
                match ClientMessage::decode(text.as_str()) {
                    Ok(message) => self.handle(message).await,
                    Err(_) => {
                        self.close(CLOSE_INVALID, "Invalid message").await;
                        Err("undecodable message")
                    }
                }
            }
            Message::Binary(_) => {
                self.close(CLOSE_UNSUPPORTED, "Binary messages are not supported")
                    .await;
                Err("binary message")
            }
            Message::Close(_) => Err("client closed"),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        }
    }

    async fn handle(&mut self, message: ClientMessage) -> Result<(), Ended> {
        match message {
            ClientMessage::GetAgents { page, search } => {
                if let Some(page) = page.filter(|p| *p >= 1) {
                    self.page = u32::try_from(page).unwrap_or(u32::MAX);
                }
                if let Some(search) = search {
                    self.search = clean_search(&search);
                }
                self.send_agents().await
            }
            ClientMessage::GetToken { rid } => {
                let reply = actions::token(&self.state, &self.viewer, rid).await;
                self.send(&reply).await
            }
            ClientMessage::DownloadConfig { rid } => {
                let reply = actions::config(&self.state, &self.viewer, rid).await;
                self.send(&reply).await
            }
            ClientMessage::Ignored => Ok(()),
        }
    }

    /// Sends the current page. A read that failed (a busy or unreachable store) sends nothing
    /// and marks the page dirty, so the next refresh tries again instead of leaving the client
    /// on a stale page until the next liveness tick.
    async fn send_agents(&mut self) -> Result<(), Ended> {
        match actions::agents(&self.state, &self.viewer, self.page, &self.search).await {
            Some((message, shown)) => {
                self.page = shown;
                self.send(&message).await
            }
            None => {
                self.dirty = true;
                Ok(())
            }
        }
    }

    /// Pushes the current page and the counters after agent changes; either read failing
    /// leaves the page dirty for the next refresh.
    async fn refresh(&mut self) -> Result<(), Ended> {
        self.dirty = false;
        self.next_refresh = Instant::now() + self.state.settings().refresh_interval;
        self.send_agents().await?;
        match actions::stats(&self.state, &self.viewer).await {
            Some(stats) => self.send(&stats).await?,
            None => self.dirty = true,
        }
        Ok(())
    }

    async fn revalidate(&mut self) -> Result<(), Ended> {
        let now = self.state.clock().now().unix_timestamp();
        match self
            .state
            .tokens()
            .verify_dashboard(&self.session.token, now)
        {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::info!(
                    reason = error.as_str(),
                    "dashboard session ended: token no longer valid"
                );
                self.close(CLOSE_NORMAL, "Token expired").await;
                Err("token expired")
            }
        }
    }

    async fn ping(&mut self, every: Duration) -> Result<(), Ended> {
        if self.last_heard.elapsed() > every * 2 {
            return Err("client silent for two ping intervals");
        }
        self.push(Message::Ping(Default::default())).await
    }

    fn take_allowance(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.allowance_at).as_secs_f64() * RATE_PER_SECOND;
        self.allowance = (self.allowance + refill).min(RATE_BURST);
        self.allowance_at = now;
        if self.allowance >= 1.0 {
            self.allowance -= 1.0;
            true
        } else {
            false
        }
    }

    async fn send(&self, message: &ServerMessage) -> Result<(), Ended> {
        match serde_json::to_string(message) {
            Ok(text) => self.push(Message::Text(Utf8Bytes::from(text))).await,
            Err(error) => {
                tracing::error!(%error, "cannot encode a dashboard message");
                Ok(())
            }
        }
    }

    async fn push(&self, message: Message) -> Result<(), Ended> {
        self.outbox.send(message).await.map_err(|_| "writer ended")
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.push(Message::Close(Some(frame))).await;
    }
}
