//! `finch.AgentService`: register, inspect, change and remove agents, and render their configs.
//!
//! Handlers validate with [`AgentInput`], act through the [`crate::registry::Registry`] and map
//! every failure through [`ApiError`]. Codes and messages are Finch 1.x's, except that
//! validation failures are `InvalidArgument` (1.x: `Internal`) and a duplicate hostname is
//! `AlreadyExists` even when two registrations race (the store's UNIQUE constraint decides).

use finch_api::agent_service_server::AgentService;
use finch_api::{
    AgentListItem, DeregisterAgentRequest, DeregisterAgentResponse, GetAgentConfigRequest,
    GetAgentConfigResponse, GetAgentRequest, GetAgentResponse, ListAgentsRequest,
    ListAgentsResponse, RegisterAgentRequest, RegisterAgentResponse, UpdateAgentRequest,
    UpdateAgentResponse,
};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::GrpcState;
use super::error::ApiError;
use super::rfc3339;
use crate::agents::input::AgentInput;
use crate::agents::{Agent, AgentRid};
use crate::alloy::{self, AlloyConfig};

/// The agent service over the shared state.
#[derive(Debug, Clone)]
pub(crate) struct AgentApi {
    pub(crate) state: GrpcState,
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn register_agent(
        &self,
        request: Request<RegisterAgentRequest>,
    ) -> Reply<RegisterAgentResponse> {
        let r = request.into_inner();
        let spec = AgentInput {
            hostname: r.hostname,
            node: r.node,
            log_sources: r.log_sources,
            metrics: r.metrics,
            metrics_targets: r.metrics_targets,
            profiles: r.profiles,
            labels: r.labels,
        }
        .into_spec()
        .map_err(ApiError::from)?;
        let agent = self
            .state
            .registry()
            .register(&spec)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(RegisterAgentResponse {
            rid: agent.rid.into_string(),
        }))
    }

    async fn deregister_agent(
        &self,
        request: Request<DeregisterAgentRequest>,
    ) -> Reply<DeregisterAgentResponse> {
        let rid = AgentRid::parse(&request.into_inner().rid).map_err(ApiError::from)?;
        self.state
            .registry()
            .deregister(&rid)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(DeregisterAgentResponse {}))
    }

    async fn get_agent(&self, request: Request<GetAgentRequest>) -> Reply<GetAgentResponse> {
        let agent = self.agent(&request.into_inner().rid).await?;
        Ok(Response::new(agent_response(agent)))
    }

    async fn list_agents(&self, _: Request<ListAgentsRequest>) -> Reply<ListAgentsResponse> {
        let agents = self
            .state
            .registry()
            .list_summaries()
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(ListAgentsResponse {
            agents: agents
                .into_iter()
                .map(|agent| AgentListItem {
                    rid: agent.rid.into_string(),
                    hostname: agent.hostname,
                })
                .collect(),
        }))
    }

    async fn get_agent_config(
        &self,
        request: Request<GetAgentConfigRequest>,
    ) -> Reply<GetAgentConfigResponse> {
        let agent = self.agent(&request.into_inner().rid).await?;
        // A fresh token in every config, as in 1.x; earlier ones stay valid until they expire
        // or the agent is deregistered.
        let token = self
            .state
            .tokens()
            .mint_agent(agent.rid.as_str(), OffsetDateTime::now_utc());
        // Three `stat`s of a local directory: cheap enough to stay on the async worker.
        let skip_verify = alloy::skip_tls_verify(&self.state.config().certs_dir());
        let config = alloy::render(&AlloyConfig {
            agent: &agent,
            service_url: &self.state.config().public_url(""),
            token: &token,
            skip_verify,
        })
        .map_err(ApiError::from)?;
        Ok(Response::new(GetAgentConfigResponse {
            config: config.into_bytes(),
        }))
    }

    async fn update_agent(
        &self,
        request: Request<UpdateAgentRequest>,
    ) -> Reply<UpdateAgentResponse> {
        let r = request.into_inner();
        // The node is fixed at registration and decides which sources are allowed.
        let agent = self.agent(&r.rid).await?;
        let changes = AgentInput {
            log_sources: r.log_sources,
            metrics: r.metrics,
            metrics_targets: r.metrics_targets,
            profiles: r.profiles,
            labels: r.labels,
            ..AgentInput::default()
        }
        .into_changes(agent.node)
        .map_err(ApiError::from)?;
        self.state
            .registry()
            .update(&agent.rid, &changes)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(UpdateAgentResponse {}))
    }
}

// === impl AgentApi ===

impl AgentApi {
    /// Reads the agent named by `rid`: empty → `InvalidArgument`, unknown → `NotFound`.
    async fn agent(&self, rid: &str) -> Result<Agent, ApiError> {
        let rid = AgentRid::parse(rid)?;
        Ok(self.state.registry().get(&rid).await?)
    }
}

fn agent_response(agent: Agent) -> GetAgentResponse {
    GetAgentResponse {
        resource_id: agent.rid.into_string(),
        hostname: agent.hostname,
        labels: agent.labels,
        log_sources: agent.log_sources.iter().map(|s| s.to_stored()).collect(),
        metrics: agent.metrics,
        metrics_targets: agent.metrics_targets,
        profiles: agent.profiles,
        created_at: agent.created_at.map(rfc3339).unwrap_or_default(),
        node: agent.node.as_str().to_owned(),
    }
}
