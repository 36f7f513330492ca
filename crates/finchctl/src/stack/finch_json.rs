//! `finch.json`, as `finch` reads it (`crates/finch/src/config.rs`, `docs/configuration.md`):
//! 1.x's keys, plus `proxy_secret` so that the control plane only answers calls that came
//! through Traefik. 1.x's `profiler` is left out: this version reads and ignores it.

use serde::Serialize;

use super::{ROOT, RenderedFile, StackError, StackSettings};

/// The file's path in the library.
pub const PATH: &str = "finch.json";

#[derive(Serialize)]
struct FinchJson<'a> {
    created_at: &'a str,
    database: &'a str,
    hostname: &'a str,
    id: &'a str,
    secret: &'a str,
    proxy_secret: &'a str,
}

/// Renders `finch.json` (a secret: it holds the token secret).
pub fn render(settings: &StackSettings) -> Result<RenderedFile, StackError> {
    let generated = &settings.generated;
    let json = FinchJson {
        created_at: &generated.created_at,
        database: &generated.database,
        hostname: &settings.host,
        id: &generated.id,
        secret: &generated.secret,
        proxy_secret: &generated.proxy_secret,
    };
    let mut text = serde_json::to_string_pretty(&json).map_err(|e| StackError::Serialize {
        path: PATH,
        reason: e.to_string(),
    })?;
    text.push('\n');
    Ok(RenderedFile::new(PATH, text, ROOT).secret())
}
