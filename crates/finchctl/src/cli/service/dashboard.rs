//! `finchctl service dashboard`: issues a dashboard login from `DashboardService`.
//!
//! By default only the token is printed, as in 1.x. `--web` opens the login page with the
//! token in the URL *fragment* (`#token=`), which browsers never send to a server, so the token
//! stays out of Traefik's access log (1.x put it in the query string).
//!
//! The service names its login page with the port of `finch.json`'s `https_port`; a 1.x service
//! (or one whose `finch.json` predates the key) names it by its host name alone
//! (`https://{hostname}/login`). The operator knows the port either way: the service name it
//! connected through carries it (`--stack.https-port`), so a URL without a port gets that one
//! ([`reachable_url`]), whatever release the service runs.

use clap::Args;
use finch_api::dashboard_service_client::DashboardServiceClient;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::{DEFAULT_PORT, ServiceAddress, request};
use crate::output::{Output, OutputFormat, Problem};

/// The default session length in seconds (1.x's 30 minutes).
pub const DEFAULT_SESSION_TIMEOUT: i32 = 1800;

/// Roles a dashboard login can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Read only.
    Viewer,
    /// Day-to-day operations.
    Operator,
    /// Everything.
    Admin,
}

/// Flags of `service dashboard`.
#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// Open the dashboard in the browser instead of printing the token
    #[arg(long = "web", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub web: Option<bool>,
    /// Session length in seconds
    #[arg(long = "permission.session-timeout", default_value_t = DEFAULT_SESSION_TIMEOUT, value_name = "SECONDS", allow_negative_numbers = true)]
    pub session_timeout: i32,
    /// The login's role
    #[arg(
        long = "permission.role",
        value_enum,
        default_value = "viewer",
        value_name = "ROLE"
    )]
    pub role: Role,
    /// Agents the login may see (RIDs or host names; comma-separated or repeated; default all)
    #[arg(long = "permission.scope", value_delimiter = ',', value_name = "AGENT")]
    pub scope: Vec<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema.
#[derive(Debug, Serialize)]
pub struct DashboardLogin {
    /// The login token.
    pub token: String,
    /// When it expires.
    pub expires_at: String,
    /// The login page.
    pub dashboard_url: String,
}

// === impl Role ===

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Requests a login, then prints the token or opens the browser.
pub async fn run(args: &DashboardArgs, cx: &Context) -> anyhow::Result<()> {
    if args.session_timeout <= 0 {
        return Err(Problem::usage(format!(
            "--permission.session-timeout: {} is not a positive number of seconds",
            args.session_timeout
        ))
        .into());
    }
    let service = &args.service.service;
    let channel = cx.connect(service).await?;
    let message = finch_api::GetDashboardTokenRequest {
        session_timeout: Some(args.session_timeout),
        role: args.role.as_str().to_owned(),
        scope: args
            .scope
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect(),
    };
    let reply = DashboardServiceClient::new(channel)
        .get_dashboard_token(request(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, "get a dashboard token", s))?
        .into_inner();
    let login = DashboardLogin {
        token: reply.token,
        expires_at: reply.expires_at,
        dashboard_url: reachable_url(&reply.dashboard_url, service),
    };
    let format = args.output.format();
    if args.web == Some(true) {
        open_browser(&login)?;
        cx.output.status("Opened", &login.dashboard_url);
        if format == OutputFormat::Table {
            return Ok(());
        }
    }
    Output { format }.data(&login, || format!("{}\n", login.token))
}

/// The login page as this workstation reaches it: `dashboard_url` with the port of `service`
/// when that is not 443 and the URL names none. The host stays the one the service named: the
/// dashboard's WebSocket accepts only pages served under it, and a Let's Encrypt stack routes
/// only requests for it. A URL that names a port, is not `https`, or cannot be read, is left as
/// it came.
fn reachable_url(dashboard_url: &str, service: &str) -> String {
    let Ok(address) = ServiceAddress::parse(service) else {
        return dashboard_url.to_owned();
    };
    let Ok(uri) = dashboard_url.parse::<http::Uri>() else {
        return dashboard_url.to_owned();
    };
    let (Some(authority), Some(path)) = (uri.authority(), uri.path_and_query()) else {
        return dashboard_url.to_owned();
    };
    if address.port == DEFAULT_PORT
        || uri.scheme_str() != Some("https")
        || authority.port().is_some()
    {
        return dashboard_url.to_owned();
    }
    format!("https://{}:{}{path}", authority.host(), address.port)
}

fn open_browser(login: &DashboardLogin) -> anyhow::Result<()> {
    let url = format!("{}#token={}", login.dashboard_url, login.token);
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(opener)
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Problem::failed(format!("{opener} exited with {s}"))
            .hint("run without --web and paste the token into the login page")
            .into()),
        Err(e) => Err(Problem::failed(format!("cannot run {opener}: {e}"))
            .hint("run without --web and paste the token into the login page")
            .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_url_gets_the_port_the_operator_reaches_the_stack_at() {
        let url = "https://127.0.0.1/login";
        assert_eq!(
            reachable_url(url, "127.0.0.1:8443"),
            "https://127.0.0.1:8443/login"
        );
        assert_eq!(
            reachable_url("https://[2001:db8::1]/login", "[2001:db8::1]:8443"),
            "https://[2001:db8::1]:8443/login"
        );
        // The service's own host name stays, whatever address the operator connected to.
        assert_eq!(
            reachable_url("https://finch.example.com/login", "10.0.0.5:8443"),
            "https://finch.example.com:8443/login"
        );
        // Port 443, a URL that names its port, another scheme or no URL: left as they came.
        assert_eq!(reachable_url(url, "127.0.0.1"), url);
        assert_eq!(reachable_url(url, "127.0.0.1:443"), url);
        assert_eq!(
            reachable_url("https://h.example:9443/login", "h.example:8443"),
            "https://h.example:9443/login"
        );
        assert_eq!(
            reachable_url("http://h.example/login", "h.example:8443"),
            "http://h.example/login"
        );
        assert_eq!(reachable_url("", "h.example:8443"), "");
        assert_eq!(reachable_url(url, "bad name:x"), url);
    }
}
