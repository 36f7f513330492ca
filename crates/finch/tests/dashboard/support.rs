//! A dashboard server on loopback with a hand-moved clock, and a WebSocket client for it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use finch::agents::Agent;
use finch::dashboard::clock::{Clock, ManualClock};
use finch::dashboard::{DashboardSettings, DashboardState, router};
use finch::directory::Directory;
use finch::registry::Registry;
use finch::serve::serve;
use finch::tokens::{Role, TokenKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub use finch_testkit::{DEADLINE, SECRET, eventually};
use finch_testkit::{Library, labelled_spec};

/// A running dashboard.
pub struct Server {
    pub addr: SocketAddr,
    pub hostname: String,
    pub registry: Registry,
    pub state: DashboardState,
    pub clock: Arc<ManualClock>,
    pub tokens: TokenKey,
    pub shutdown: CancellationToken,
    pub library: Library,
}

/// Options for [`Server::start`].
pub struct Options {
    pub hostname: &'static str,
    pub page_size: u32,
    pub revalidate_every: Duration,
    pub refresh_interval: Duration,
    pub liveness_refresh: Duration,
    /// Listen here instead of a fresh port (to stand in for a restarted server).
    pub bind: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: "finch.example.com",
            page_size: 5,
            revalidate_every: Duration::from_millis(100),
            refresh_interval: Duration::from_millis(100),
            liveness_refresh: Duration::from_secs(30),
            bind: None,
        }
    }
}

impl Server {
    pub async fn start(options: Options) -> Server {
        let library = Library::with(|config| options.hostname.clone_into(&mut config.hostname));
        let config = library.config();
        let store = library.open_store().await;
        let directory = Directory::load(&store, &config.id).await.unwrap();
        let registry = Registry::new(store, directory, config.id.clone());
        let tokens = library.tokens();
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let shutdown = CancellationToken::new();
        let mut settings = DashboardSettings::from_config(&config);
        settings.page_size = options.page_size;
        settings.revalidate_every = options.revalidate_every;
        settings.refresh_interval = options.refresh_interval;
        settings.liveness_refresh = options.liveness_refresh;
        let state = DashboardState::new(
            Arc::new(config),
            registry.clone(),
            tokens.clone(),
            shutdown.clone(),
        )
        .with_clock(clock.clone())
        .with_settings(settings);
        let listener = match options.bind {
            None => TcpListener::bind("127.0.0.1:0").await.unwrap(),
            // The previous server on this port may still be letting go of it.
            Some(addr) => eventually(DEADLINE, || async { TcpListener::bind(addr).await.ok() })
                .await
                .expect("the port is free again"),
        };
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            "HTTP",
            listener,
            router(state.clone()),
            shutdown.clone(),
            Duration::from_secs(1),
        ));
        Server {
            addr,
            hostname: options.hostname.to_owned(),
            registry,
            state,
            clock,
            tokens,
            shutdown,
            library,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A dashboard token valid for 30 minutes from the server's clock.
    pub fn token(&self, role: Role, scope: &[&str]) -> String {
        let scope: Vec<String> = scope.iter().map(|s| (*s).to_owned()).collect();
        self.tokens
            .mint_dashboard(role, &scope, time::Duration::minutes(30), self.clock.now())
            .token
    }

    pub async fn register(&self, hostname: &str) -> Agent {
        self.registry
            .register(&labelled_spec(hostname))
            .await
            .unwrap()
    }

    /// Opens `/ws` with the session cookie and an Origin on the configured host name.
    pub async fn ws(&self, token: &str) -> WsClient {
        let origin = format!("http://{}", self.hostname);
        self.ws_with_origin(token, Some(&origin)).await.unwrap()
    }

    pub async fn ws_with_origin(
        &self,
        token: &str,
        origin: Option<&str>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "cookie",
            format!("dashboard_token={token}").parse().unwrap(),
        );
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient { stream })
    }

    /// Waits until exactly `n` WebSocket subscriptions are alive.
    pub async fn wait_for_subscriptions(&self, n: usize) {
        let state = self.state.clone();
        let reached = eventually(DEADLINE, || {
            let state = state.clone();
            async move { (state.live_subscriptions() == n).then_some(()) }
        })
        .await;
        assert!(
            reached.is_some(),
            "expected {n} live subscriptions, have {}",
            self.state.live_subscriptions()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A dashboard WebSocket client.
pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a read returned.
#[derive(Debug)]
pub enum Received {
    Json(Value),
    Closed(Option<CloseFrame>),
}

impl WsClient {
    pub async fn send(&mut self, value: Value) {
        self.stream
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    /// The next JSON message or close, under the deadline.
    pub async fn next(&mut self) -> Received {
        let read = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return Received::Json(serde_json::from_str(text.as_str()).unwrap());
                    }
                    Some(Ok(Message::Close(frame))) => return Received::Closed(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Received::Closed(None),
                }
            }
        })
        .await;
        read.expect("no WebSocket message before the deadline")
    }

    /// The next JSON message; panics on close.
    pub async fn json(&mut self) -> Value {
        match self.next().await {
            Received::Json(value) => value,
            Received::Closed(frame) => panic!("connection closed: {frame:?}"),
        }
    }

    /// Skips messages until one of type `kind`.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let value = self.json().await;
            if value["type"] == kind {
                return value;
            }
        }
    }

    /// Reads the greeting (stats, endpoints, agents) and returns it.
    pub async fn greeting(&mut self) -> (Value, Value, Value) {
        let stats = self.json().await;
        let endpoints = self.json().await;
        let agents = self.json().await;
        assert_eq!(stats["type"], "stats");
        assert_eq!(endpoints["type"], "endpoints");
        assert_eq!(agents["type"], "agents");
        (stats, endpoints, agents)
    }

    /// Skips messages until the connection closes, and returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            if let Received::Closed(frame) = self.next().await {
                return frame;
            }
        }
    }
}

/// Hostnames of an `agents` message.
pub fn hostnames(agents: &Value) -> Vec<String> {
    agents["data"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["hostname"].as_str().unwrap().to_owned())
        .collect()
}
