//! The values a stack keeps for life: its id, token secret, proxy secret, Grafana admin
//! password, creation time and database. Made once, by [`Generated::fresh`], and read back from
//! an existing library by [`Generated::keep`] ever after, so a repeat deploy or render changes
//! none of them (1.x replaced the secret on every deploy, and every agent stopped).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The database of a new stack: SQLite beside `finch.json` (1.x's).
pub const DEFAULT_DATABASE: &str = "sqlite://finch.db";

/// Random bytes in the token and proxy secrets: 256 bits, HS256's key size.
const SECRET_BYTES: usize = 32;
/// Random bytes in the Grafana password (192 bits, 32 characters).
const PASSWORD_BYTES: usize = 24;

/// The stack's lifelong values.
#[derive(Clone, PartialEq, Eq)]
pub struct Generated {
    /// The service id: the first 16 hex digits of SHA-256 of the host name, as 1.x makes it.
    pub id: String,
    /// The HMAC key of every token (base64 of 32 random bytes; the text is the key).
    pub secret: String,
    /// The header value Traefik adds on the gRPC route (`proxy_secret` in `finch.json`).
    pub proxy_secret: String,
    /// Grafana's admin password.
    pub grafana_password: String,
    /// When the stack was made, RFC 3339.
    pub created_at: String,
    /// The database URI.
    pub database: String,
    /// A secret rotation's grace: the previous secret and when its grace ends (RFC 3339),
    /// kept as `service rotate-secret` wrote them so a deploy inside the grace does not end it.
    pub previous_secret: Option<(String, String)>,
}

/// Why the values could not be made or read back.
#[derive(Debug, thiserror::Error)]
pub enum GeneratedError {
    /// The system's random source failed.
    #[error("the system's random number generator failed")]
    Random,
    /// The clock cannot be written as RFC 3339.
    #[error("cannot write the current time: {0}")]
    Clock(String),
    /// An existing `finch.json` cannot be read.
    #[error("the existing finch.json is not valid: {0}")]
    Existing(String),
}

/// The keys of an existing `finch.json` that a new render keeps.
#[derive(Deserialize)]
struct Existing {
    id: String,
    secret: String,
    created_at: String,
    database: String,
    #[serde(default)]
    proxy_secret: Option<String>,
    #[serde(default)]
    previous_secret: Option<String>,
    #[serde(default)]
    previous_secret_until: Option<String>,
}

// === impl Generated ===

impl Generated {
    /// New values for a new stack on `host`, made at `now`.
    pub fn fresh(host: &str, now: OffsetDateTime) -> Result<Generated, GeneratedError> {
        let rng = SystemRandom::new();
        Ok(Generated {
            id: stack_id(host),
            secret: STANDARD.encode(random::<SECRET_BYTES>(&rng)?),
            proxy_secret: STANDARD.encode(random::<SECRET_BYTES>(&rng)?),
            grafana_password: URL_SAFE_NO_PAD.encode(random::<PASSWORD_BYTES>(&rng)?),
            created_at: now
                .format(&Rfc3339)
                .map_err(|e| GeneratedError::Clock(e.to_string()))?,
            database: DEFAULT_DATABASE.to_owned(),
            previous_secret: None,
        })
    }

    /// The values of an existing stack: its `finch.json` and, when there is one, its Grafana
    /// password file. What the existing files lack (a 1.x stack has no proxy secret and kept
    /// Grafana at admin/admin) comes from `fresh`.
    pub fn keep(
        finch_json: &[u8],
        grafana_password: Option<&str>,
        fresh: Generated,
    ) -> Result<Generated, GeneratedError> {
        let existing: Existing = serde_json::from_slice(finch_json)
            .map_err(|e| GeneratedError::Existing(e.to_string()))?;
        for (key, value) in [
            ("id", &existing.id),
            ("secret", &existing.secret),
            ("created_at", &existing.created_at),
            ("database", &existing.database),
        ] {
            if value.is_empty() {
                return Err(GeneratedError::Existing(format!("{key} is empty")));
            }
        }
        let password = grafana_password.map(str::trim).filter(|p| !p.is_empty());
        Ok(Generated {
            id: existing.id,
            secret: existing.secret,
            proxy_secret: existing
                .proxy_secret
                .filter(|p| !p.is_empty())
                .unwrap_or(fresh.proxy_secret),
            grafana_password: password.map_or(fresh.grafana_password, str::to_owned),
            created_at: existing.created_at,
            database: existing.database,
            previous_secret: existing
                .previous_secret
                .filter(|p| !p.is_empty())
                .zip(existing.previous_secret_until.filter(|u| !u.is_empty())),
        })
    }
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("id", &self.id)
            .field("secret", &"REDACTED")
            .field("proxy_secret", &"REDACTED")
            .field("grafana_password", &"REDACTED")
            .field("created_at", &self.created_at)
            .field(
                "previous_secret_until",
                &self.previous_secret.as_ref().map(|(_, until)| until),
            )
            // A PostgreSQL URI may carry a password.
            .field(
                "database",
                &if self.database.contains('@') {
                    "REDACTED"
                } else {
                    self.database.as_str()
                },
            )
            .finish()
    }
}

/// A new token secret, as a fresh stack gets one (`service rotate-secret`).
pub fn new_secret() -> Result<String, GeneratedError> {
    Ok(STANDARD.encode(random::<SECRET_BYTES>(&SystemRandom::new())?))
}

/// 1.x's service id: the first 16 hex digits of SHA-256 of the host name.
pub fn stack_id(host: &str) -> String {
    let digest = Sha256::digest(host.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], GeneratedError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes).map_err(|_| GeneratedError::Random)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Generated {
        Generated::fresh("finch.example.com", OffsetDateTime::UNIX_EPOCH).expect("fresh")
    }

    #[test]
    fn fresh_values_have_their_sizes_and_differ_each_time() {
        let (a, b) = (fresh(), fresh());
        assert_eq!(a.id, stack_id("finch.example.com"));
        assert_eq!(a.id.len(), 16);
        assert_eq!(STANDARD.decode(&a.secret).expect("base64").len(), 32);
        assert_eq!(a.grafana_password.len(), 32);
        assert_eq!(a.created_at, "1970-01-01T00:00:00Z");
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.proxy_secret, b.proxy_secret);
        assert_ne!(a.grafana_password, b.grafana_password);
    }

    #[test]
    fn a_1x_finch_json_keeps_its_values_and_gains_the_new_ones() {
        let json = br#"{"created_at":"2025-01-01T00:00:00+01:00","database":"sqlite://finch.db",
            "hostname":"h","id":"0011223344556677","secret":"old","profiler":"http://pyroscope:4040"}"#;
        let new = fresh();
        let kept = Generated::keep(json, None, new.clone()).expect("valid");
        assert_eq!(kept.id, "0011223344556677");
        assert_eq!(kept.secret, "old");
        assert_eq!(kept.created_at, "2025-01-01T00:00:00+01:00");
        assert_eq!(kept.proxy_secret, new.proxy_secret);
        assert_eq!(kept.grafana_password, new.grafana_password);
        let again = Generated::keep(json, Some("pw\n"), new).expect("valid");
        assert_eq!(again.grafana_password, "pw");
    }

    #[test]
    fn a_rotations_grace_is_kept() {
        let json = br#"{"created_at":"c","database":"d","hostname":"h","id":"i","secret":"new",
            "previous_secret":"old","previous_secret_until":"2026-01-01T00:00:00Z"}"#;
        let kept = Generated::keep(json, None, fresh()).expect("valid");
        assert_eq!(
            kept.previous_secret,
            Some(("old".to_owned(), "2026-01-01T00:00:00Z".to_owned()))
        );
        assert!(!format!("{kept:?}").contains("\"old\""));
        let half =
            br#"{"created_at":"c","database":"d","id":"i","secret":"s","previous_secret":"old"}"#;
        assert_eq!(
            Generated::keep(half, None, fresh())
                .expect("valid")
                .previous_secret,
            None
        );
    }

    #[test]
    fn a_broken_finch_json_is_refused() {
        for bad in [
            &b"{"[..],
            br#"{"id":"","secret":"s","created_at":"c","database":"d"}"#,
        ] {
            assert!(Generated::keep(bad, None, fresh()).is_err());
        }
    }

    #[test]
    fn debug_hides_the_secrets() {
        let generated = fresh();
        let text = format!("{generated:?}");
        assert!(
            !text.contains(&generated.secret) && text.contains("REDACTED"),
            "{text}"
        );
    }
}
