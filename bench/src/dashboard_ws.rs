//! The dashboard's agent page as the browser gets it: `get_agents` over the real WebSocket.
//!
//! The store-level rows (`Store::page_agents`) show what the database costs; these add
//! everything a user waits for on top of it: the session check, the JSON of the page and the
//! WebSocket round trip through the service's HTTP listener. Each call sends one `get_agents`
//! and waits for the `agents` message that answers it.
//!
//! The service allows a socket a burst of 20 messages and 10 a second after that (more closes
//! it, as a misbehaving page would be), so the benchmark opens a new session every
//! [`CALLS_PER_SOCKET`] calls, outside the timed part, rather than slowing down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use finch::tokens::{Role, TokenKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one answer may take before the benchmark gives up.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

/// Calls on one socket, inside the service's burst allowance (20).
const CALLS_PER_SOCKET: u32 = 15;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Admin sessions on the dashboard of a running service.
pub struct Dashboard {
    http: SocketAddr,
    origin: String,
    session: String,
}

impl Dashboard {
    /// Sessions on the HTTP listener `http` of the stack named `hostname` (the Origin must name
    /// it), signed with `tokens`.
    pub fn new(http: SocketAddr, hostname: &str, tokens: &TokenKey) -> Dashboard {
        let session = tokens
            .mint_dashboard(
                Role::Admin,
                &[],
                time::Duration::hours(1),
                OffsetDateTime::now_utc(),
            )
            .token;
        Dashboard {
            http,
            origin: format!("http://{hostname}"),
            session,
        }
    }

    /// Asks `count` times for `page` of `search`: how long each answer took, and how many agents
    /// the last one matched.
    pub async fn pages(
        &self,
        search: &str,
        page: u32,
        count: u32,
    ) -> anyhow::Result<(Vec<Duration>, u64)> {
        let ask = json!({"type": "get_agents", "data": {"page": page, "search": search}});
        let ask = ask.to_string();
        let mut calls = Vec::new();
        let mut matched = 0;
        let mut socket = self.open().await?;
        for call in 0..count {
            if call > 0 && call % CALLS_PER_SOCKET == 0 {
                let _ = socket.close(None).await;
                socket = self.open().await?;
            }
            let started = Instant::now();
            socket.send(Message::text(ask.as_str())).await?;
            let agents = next_agents(&mut socket).await?;
            calls.push(started.elapsed());
            matched = agents["total_agents"].as_u64().unwrap_or(0);
        }
        let _ = socket.close(None).await;
        Ok((calls, matched))
    }

    /// Opens `/ws` with the session cookie and waits for the first page the service sends.
    async fn open(&self) -> anyhow::Result<Socket> {
        let mut request = format!("ws://{}/ws", self.http).into_client_request()?;
        let headers = request.headers_mut();
        headers.insert(
            "cookie",
            format!("dashboard_token={}", self.session).parse()?,
        );
        headers.insert("origin", self.origin.parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("opening the dashboard WebSocket")?;
        next_agents(&mut socket).await?;
        Ok(socket)
    }
}

/// Reads until the next `agents` message and returns its data.
async fn next_agents(socket: &mut Socket) -> anyhow::Result<Value> {
    tokio::time::timeout(ANSWER_DEADLINE, async {
        while let Some(message) = socket.next().await {
            let text = match message? {
                Message::Text(text) => text,
                Message::Close(frame) => bail!("the dashboard closed the WebSocket: {frame:?}"),
                _ => continue,
            };
            let mut value: Value = serde_json::from_str(&text)?;
            if value["type"] == "agents" {
                return Ok(value["data"].take());
            }
        }
        bail!("the dashboard closed the WebSocket")
    })
    .await
    .context("no `agents` answer in time")?
}
