//! `finch.json`, as `finch` reads it (`crates/finch/src/config.rs`, `docs/configuration.md`):
//! 1.x's keys, plus `proxy_secret` so that the control plane only answers calls that came
//! through Traefik, `https_port` when `--stack.https-port` publishes HTTPS elsewhere than 443 (so
//! that the URLs finch hands out carry the port; left out at 443, so a 1.x stack's file stays as
//! it was), and a secret rotation's `previous_secret` and `previous_secret_until`
//! while an earlier render or `service rotate-secret` left them. 1.x's `profiler` is left out:
//! this version reads and ignores it.

use serde::Serialize;

use super::{ROOT, RenderedFile, StackError, StackSettings};

/// The file's path in the library.
pub const PATH: &str = "finch.json";

/// The keys in the order [`render`] writes them; a rotation writes them in this order too, so a
/// deploy after it finds the same bytes and recreates nothing.
pub const KEY_ORDER: [&str; 9] = [
    "created_at",
    "database",
    "hostname",
    "https_port",
    "id",
    "secret",
    "proxy_secret",
    "previous_secret",
    "previous_secret_until",
];

#[derive(Serialize)]
struct FinchJson<'a> {
    created_at: &'a str,
    database: &'a str,
    hostname: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    https_port: Option<u16>,
    id: &'a str,
    secret: &'a str,
    proxy_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_until: Option<&'a str>,
}

/// Renders `finch.json` (a secret: it holds the token secret).
pub fn render(settings: &StackSettings) -> Result<RenderedFile, StackError> {
    let generated = &settings.generated;
    let json = FinchJson {
        created_at: &generated.created_at,
        database: &settings.database.uri,
        hostname: &settings.host,
        https_port: Some(settings.ports.https.port).filter(|port| *port != 443),
        id: &generated.id,
        secret: &generated.secret,
        proxy_secret: &generated.proxy_secret,
        previous_secret: generated.previous_secret.as_ref().map(|(s, _)| s.as_str()),
        previous_secret_until: generated.previous_secret.as_ref().map(|(_, u)| u.as_str()),
    };
    let mut text = serde_json::to_string_pretty(&json).map_err(|e| StackError::Serialize {
        path: PATH,
        reason: e.to_string(),
    })?;
    text.push('\n');
    Ok(RenderedFile::new(PATH, text, ROOT).secret())
}
