//! The resolve step: parsed flags plus the environment become what a command acts on.
//!
//! A gRPC command names a stack; [`Context::connect`] finds it in finch.json, warns when its
//! certificate is about to expire, picks how to verify the server (pin, web PKI or
//! `--tls.skip-verify`) and opens the channel. Every failure here carries the command that
//! fixes it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tonic::transport::Channel;

use crate::cli::GlobalArgs;
use crate::client::{self, ClientError, ConnectConfig, ServerPin, Verification};
use crate::environment::Environment;
use crate::mtls;
use crate::output::{Output, Problem};
use crate::profile::{Profile, Stack};
use crate::target::CancellationToken;

/// Everything a command needs besides its own flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// The process environment.
    pub env: Environment,
    /// The global flags.
    pub global: GlobalArgs,
    /// Where data and messages go.
    pub output: Output,
    /// Cancelled by Ctrl-C: running steps stop on their hosts.
    pub cancel: CancellationToken,
}

// === impl Context ===

impl Context {
    /// A context for one run.
    pub fn new(env: Environment, global: GlobalArgs, output: Output) -> Self {
        Self {
            env,
            global,
            output,
            cancel: CancellationToken::new(),
        }
    }

    /// The deadline of each call.
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_secs(self.global.rpc_timeout)
    }

    /// Whether server verification is off (flag or `FINCH_SKIP_TLS_VERIFY`).
    pub fn skip_tls_verify(&self) -> bool {
        self.global
            .tls_skip_verify
            .unwrap_or_else(|| self.env.skip_tls_verify())
    }

    /// Where finch.json lives.
    pub fn profile_path(&self) -> anyhow::Result<PathBuf> {
        Ok(Profile::locate(
            self.env.finch_config.as_deref(),
            self.env.home.as_deref(),
        )?)
    }

    /// The profile file.
    pub fn load_profile(&self) -> anyhow::Result<Profile> {
        Ok(Profile::load(&self.profile_path()?)?)
    }

    /// The stack called `service`, with an expiry warning on stderr when due.
    pub fn stack(&self, service: &str) -> anyhow::Result<(Profile, Stack)> {
        let profile = self.load_profile()?;
        let Some(stack) = profile.stack(service)? else {
            let known = profile.names();
            let known = if known.is_empty() {
                "it has no stacks".to_owned()
            } else {
                format!("it has {}", known.join(", "))
            };
            return Err(Problem::failed(format!(
                "stack {service:?} not found in {} ({known})",
                profile.path().display()
            ))
            .hint(format!(
                "register this workstation with `finchctl service register [user@]{}`",
                mtls::service_host(service)
            ))
            .into());
        };
        if let Some(warning) =
            mtls::expiry_warning(service, &stack.cert_pem, time::OffsetDateTime::now_utc())
        {
            self.output.warn(&warning);
        }
        Ok((profile, stack))
    }

    /// `<RID>/<release>`, or `finchctl/<release>` when this machine has no id (the user agent
    /// is informational; it must not stop a command).
    pub fn user_agent(&self) -> String {
        match mtls::local_rid(&self.env.machine_id_paths) {
            Ok(rid) => format!("{rid}/{}", crate::RELEASE),
            Err(_) => format!("finchctl/{}", crate::RELEASE),
        }
    }

    /// Opens a channel to the stack `service`.
    pub async fn connect(&self, service: &str) -> anyhow::Result<Channel> {
        let (profile, stack) = self.stack(service)?;
        let verification = if self.skip_tls_verify() {
            Verification::Skip
        } else if let Some(pin) = &stack.server_pin {
            let pin: ServerPin = pin.parse().map_err(|e| {
                Problem::failed(format!(
                    "{}: stack {service:?}: {e}",
                    profile.path().display()
                ))
                .hint(format!("re-pin with `finchctl service pin {service}`"))
            })?;
            Verification::Pinned(pin)
        } else {
            Verification::WebPki
        };
        let config = ConnectConfig {
            service: service.to_owned(),
            cert_pem: stack.cert_pem,
            key_pem: stack.key_pem,
            verification: verification.clone(),
            user_agent: self.user_agent(),
            timeout: self.rpc_timeout(),
        };
        client::connect(&config)
            .await
            .map_err(|e| connect_problem(e, service, &verification).into())
    }

    /// Maps a failed call to an error with a hint.
    pub fn rpc_error(&self, service: &str, what: &str, status: tonic::Status) -> anyhow::Error {
        rpc_problem(service, what, &status, self.global.rpc_timeout).into()
    }
}

fn connect_problem(err: ClientError, service: &str, verification: &Verification) -> Problem {
    let host = mtls::service_host(service);
    let message = err.to_string();
    match err {
        ClientError::PinMismatch { .. } => Problem::failed(message).hint(format!(
            "if the stack's certificate changed on purpose (a redeploy, or Traefik restarted with a \
             new self-signed certificate), trust the new one with `finchctl service pin {service}`; \
             otherwise someone may be intercepting the connection"
        )),
        ClientError::Connect { ref reason, .. }
            if *verification == Verification::WebPki && reason.contains("certificate") =>
        {
            Problem::failed(message).hint(format!(
                "a self-signed stack needs its certificate pinned: run `finchctl service pin {service}` \
                 (or pass --tls.skip-verify, as with 1.x)"
            ))
        }
        ClientError::Connect { .. } => Problem::failed(message).hint(format!(
            "check that {host} resolves and that its port {} is reachable, or raise --rpc.timeout",
            client::ServiceAddress::parse(service)
                .map(|a| a.port)
                .unwrap_or(client::DEFAULT_PORT)
        )),
        ClientError::BadCredentials { .. } => Problem::failed(message).hint(format!(
            "renew the credentials with `finchctl service rotate-certificate {host}`"
        )),
        ClientError::BadAddress(_) | ClientError::NoRoots { .. } => Problem::failed(message),
    }
}

fn rpc_problem(service: &str, what: &str, status: &tonic::Status, timeout: u64) -> Problem {
    use tonic::Code;
    let host = mtls::service_host(service);
    let detail = if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{:?}: {}", status.code(), status.message())
    };
    let problem = Problem::failed(format!("cannot {what} on {service}: {detail}"));
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => problem.hint(format!(
            "the service refused this workstation's client certificate; renew it with \
             `finchctl service rotate-certificate {host}`, or register with `finchctl service register {host}`"
        )),
        Code::NotFound => problem.hint(format!(
            "list the agents with `finchctl agent list {service}`"
        )),
        Code::DeadlineExceeded => problem.hint(format!(
            "the service did not answer within {timeout}s; raise --rpc.timeout"
        )),
        Code::Unavailable => problem.hint(format!(
            "check that the stack on {host} is running (`finchctl service doctor {host}`)"
        )),
        _ => problem,
    }
}

/// Writes `bytes` to `path` with mode 0600 (atomically), naming the flag on failure.
pub fn write_private(path: &std::path::Path, bytes: &[u8], flag: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    crate::profile::write_atomic(path, |f| f.write_all(bytes))
        .with_context(|| format!("{flag}: cannot write {}", path.display()))
}
