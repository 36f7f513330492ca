//! HTTP on loopback: a client with a timeout, and ForwardAuth calls as Traefik makes them.

use std::time::Duration;

/// How long one loopback HTTP call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP client for loopback tests.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .unwrap()
}

/// A push as Traefik forwards it to `/auth`: GET with the agent's bearer token and the original
/// method and (prefix-stripped) URI.
pub async fn forward_auth(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> reqwest::Response {
    let mut request = client
        .get(url)
        .header("X-Forwarded-Method", method)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", crate::SERVICE_HOST)
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-For", "192.0.2.10")
        .header("X-Forwarded-Uri", uri);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// The status `/auth` at `url` gives a forwarded push or query.
pub async fn auth_status(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> u16 {
    forward_auth(client, url, authorization, method, uri)
        .await
        .status()
        .as_u16()
}
