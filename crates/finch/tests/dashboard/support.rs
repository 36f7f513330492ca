//! The real service, started through the kit with a hand-moved dashboard clock and short
//! dashboard intervals, and a WebSocket client for its dashboard.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use finch::agents::Agent;
use finch::dashboard::clock::{Clock, ManualClock};
use finch::dashboard::{DashboardSettings, DashboardState};
use finch::registry::Registry;
use finch::run::{Listeners, Service, ServiceOptions};
use finch::tokens::{Role, TokenKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use finch_testkit::{DEADLINE, SECRET, eventually};
use finch_testkit::{Library, labelled_spec};

/// A running service whose dashboard the tests use.
pub struct Server {
    /// The dashboard's address.
    pub addr: SocketAddr,
    pub hostname: String,
    pub registry: Registry,
    pub clock: Arc<ManualClock>,
    pub tokens: TokenKey,
    pub service: Service,
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
        let library = Library::with(|config| {
            options.hostname.clone_into(&mut config.hostname);
            config.dashboard_page_size = Some(options.page_size);
        });
        let mut settings = DashboardSettings::from_config(&library.config());
        settings.revalidate_every = options.revalidate_every;
        settings.refresh_interval = options.refresh_interval;
        settings.liveness_refresh = options.liveness_refresh;
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let mut listeners = Listeners::bind_loopback().await.unwrap();
        if let Some(addr) = options.bind {
            // The previous server on this port may still be letting go of it.
            listeners.http = eventually(DEADLINE, || async { TcpListener::bind(addr).await.ok() })
                .await
                .expect("the port is free again");
        }
        let service_options = ServiceOptions {
            dashboard_clock: clock.clone(),
            dashboard_settings: Some(settings),
        };
        let service = library.start_with(listeners, service_options).await;
        Server {
            addr: service.addresses().http,
            hostname: options.hostname.to_owned(),
            registry: service.registry().clone(),
            clock,
            tokens: library.tokens(),
            service,
            library,
        }
    }

    /// Stops the service as a signal would: open WebSockets close with "going away".
    pub async fn stop(self) {
        self.service.stop().await;
    }

    /// How many WebSockets follow agent changes right now.
    pub fn live_subscriptions(&self) -> usize {
        self.service.dashboard().live_subscriptions()
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
        wait_for_subscriptions(self.service.dashboard(), n).await;
    }
}

/// Waits until exactly `n` of `dashboard`'s WebSocket subscriptions are alive.
pub async fn wait_for_subscriptions(dashboard: &DashboardState, n: usize) {
    let reached = eventually(DEADLINE, || async {
        (dashboard.live_subscriptions() == n).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "expected {n} live subscriptions, have {}",
        dashboard.live_subscriptions()
    );
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
