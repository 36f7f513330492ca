//! [`Replica`]: one `finch` process of several on one database, seen from its ports: gRPC as
//! Traefik forwards an enrolled operator's calls, `/auth` as Traefik asks it, `/healthz`. The
//! replica tests and the cross-replica benchmark measure how soon a change made through one
//! replica takes effect on another ([`revocation_delay`]).

use std::path::Path;
use std::time::{Duration, Instant};

use finch_api::agent_service_client::AgentServiceClient;
use finch_api::{DeregisterAgentRequest, ListAgentsRequest};
use tonic::transport::Channel;

use crate::control_plane::AgentClient;
use crate::{DEADLINE, FinchProcess, Headers, Library, auth_status, registration};

/// A running `finch` replica and clients of its ports.
pub struct Replica {
    /// The process.
    pub process: FinchProcess,
    /// An operator's gRPC client of its control plane.
    pub agents: AgentClient,
    /// Its `/auth/loki` URL.
    pub auth_url: String,
    /// Its `/healthz` URL.
    pub healthz_url: String,
}

// === impl Replica ===

impl Replica {
    /// Starts `binary` on `library`'s `finch.json`; gRPC calls carry `operator_cert` (the
    /// header of a certificate whose CA `library` has enrolled).
    pub async fn spawn(binary: &Path, library: &Library, operator_cert: &str) -> Replica {
        let process = FinchProcess::spawn(binary, &library.config_path(), &[]);
        let channel = Channel::from_shared(format!("http://{}", process.address("gRPC")))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let headers = Headers {
            cert: Some(operator_cert.to_owned()),
            ..Headers::default()
        };
        Replica {
            auth_url: format!("http://{}/auth/loki", process.address("Auth")),
            healthz_url: format!("http://{}/healthz", process.address("Healthz")),
            agents: AgentServiceClient::with_interceptor(channel, headers),
            process,
        }
    }

    /// What `/auth` answers a Loki push carrying `authorization`.
    pub async fn auth(&self, client: &reqwest::Client, authorization: &str) -> u16 {
        auth_status(
            client,
            &self.auth_url,
            Some(authorization),
            "POST",
            "/loki/api/v1/push",
        )
        .await
    }

    /// Registers `hostname` (journal logs, metrics) and returns its resource id.
    pub async fn register(&mut self, hostname: &str) -> Result<String, tonic::Status> {
        let response = self.agents.register_agent(registration(hostname)).await?;
        Ok(response.into_inner().rid)
    }

    /// Deregisters `rid`.
    pub async fn deregister(&mut self, rid: &str) -> Result<(), tonic::Status> {
        let request = DeregisterAgentRequest {
            rid: rid.to_owned(),
        };
        self.agents.deregister_agent(request).await.map(drop)
    }

    /// How many agents `ListAgents` returns.
    pub async fn count(&mut self) -> Result<usize, tonic::Status> {
        let listed = self.agents.list_agents(ListAgentsRequest {}).await?;
        Ok(listed.into_inner().agents.len())
    }

    /// What `/healthz` answers.
    pub async fn health(&self, client: &reqwest::Client) -> u16 {
        client
            .get(&self.healthz_url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Asks `/auth` until it answers `status` to `authorization`, under [`DEADLINE`]; returns
    /// how long that took.
    pub async fn await_auth(
        &self,
        client: &reqwest::Client,
        authorization: &str,
        status: u16,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if self.auth(client, authorization).await == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < DEADLINE,
                "/auth of {} never answered {status}; stderr: {}",
                self.auth_url,
                self.process.stderr()
            );
            tokio::task::yield_now().await;
        }
    }
}

/// Registers `hostname` through `writer`, waits until `reader` lets its token through, then
/// deregisters it through `writer` and returns how long `reader` went on letting it through.
pub async fn revocation_delay(
    writer: &mut Replica,
    reader: &Replica,
    library: &Library,
    client: &reqwest::Client,
    hostname: &str,
) -> Duration {
    let rid = writer.register(hostname).await.unwrap();
    let token = library.bearer(&rid);
    reader.await_auth(client, &token, 200).await;
    writer.deregister(&rid).await.unwrap();
    reader.await_auth(client, &token, 401).await
}

/// The `q` quantile (0 to 1) of `samples`, by the nearest-rank method.
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}
