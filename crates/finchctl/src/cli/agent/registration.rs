//! Whether a stack still knows an agent: asked by teardown (after removing it) and doctor.
//! Anything but a clear answer (no profile for the stack, no connection, an error) is
//! [`Registration::Unknown`], with the reason.

use finch_api::agent_service_client::AgentServiceClient;

use crate::cli::Context;
use crate::client::request;

/// What the stack said about a RID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The stack has the agent.
    Registered,
    /// The stack answered that it has no such agent.
    NotRegistered,
    /// No answer, and why.
    Unknown(String),
}

/// Asks `service` (a stack in finch.json) whether it knows `rid`.
pub async fn registration(rid: &str, service: &str, cx: &Context) -> Registration {
    let channel = match cx.connect(service).await {
        Ok(channel) => channel,
        Err(err) => return Registration::Unknown(format!("{err:#}")),
    };
    let message = finch_api::GetAgentRequest {
        rid: rid.to_owned(),
    };
    match AgentServiceClient::new(channel)
        .get_agent(request(message, cx.rpc_timeout()))
        .await
    {
        Ok(_) => Registration::Registered,
        Err(status) if status.code() == tonic::Code::NotFound => Registration::NotRegistered,
        Err(status) => Registration::Unknown(format!("{}", status.code())),
    }
}

// === impl Registration ===

impl Registration {
    /// `yes`, `no` or `unknown`, for tables and JSON.
    pub fn word(&self) -> &'static str {
        match self {
            Registration::Registered => "yes",
            Registration::NotRegistered => "no",
            Registration::Unknown(_) => "unknown",
        }
    }
}
