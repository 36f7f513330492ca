//! `finch.json`: the service's one configuration file, as Finch 1.x and `finchctl` write it.
//!
//! The directory that holds the file is the *library directory*: relative SQLite paths and the
//! operators' CA files (`traefik/etc/certs.d/`) are resolved against it. Keys and error texts are
//! 1.x's; unknown keys are ignored so that files written by either version load in the other.
//! Keys this version adds are optional and listed in `docs/configuration.md`. A new file is
//! written by [`FinchConfig::write_new`] (`finch init`), the one writer of the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod public_url;
mod writer;

pub use writer::{WriteError, service_id};

/// The configuration file's name inside the library directory.
pub const FILE_NAME: &str = "finch.json";

/// The loaded configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct FinchConfig {
    /// When the stack was created, verbatim (finchctl writes RFC 3339).
    pub created_at: String,
    /// The database URI, e.g. `sqlite://finch.db`.
    pub database: String,
    /// The stack's public host name or IP.
    pub hostname: String,
    /// The port the stack publishes HTTPS on (`https_port`), part of every public URL unless it
    /// is [`DEFAULT_HTTPS_PORT`]. New in 2.x; 1.x ignores the key.
    pub https_port: u16,
    /// The service id, embedded in agent resource ids.
    pub id: String,
    /// The HMAC key of every token: the raw bytes of this text (not base64-decoded).
    pub secret: String,
    /// The Pyroscope server for self-profiling, if configured.
    pub profiler: Option<String>,
    /// The shared secret Traefik adds to gRPC requests as `X-Finch-Proxy-Secret`; when set, the
    /// control plane refuses calls without it. New in 2.x; 1.x ignores the key.
    pub proxy_secret: Option<String>,
    /// Agents per dashboard page (`dashboard_page_size`); `None` means
    /// [`DEFAULT_DASHBOARD_PAGE_SIZE`]. New in 2.x; 1.x ignores the key.
    pub dashboard_page_size: Option<u32>,
    /// The secret before the last rotation, still accepted on agent tokens for a grace
    /// (`previous_secret` and `previous_secret_until`). New in 2.x; 1.x ignores the keys.
    pub previous_secret: Option<PreviousSecret>,
    /// The directory that holds `finch.json`.
    pub library_dir: PathBuf,
}

/// The secret a rotation replaced and the end of its grace: agent tokens it signed pass `/auth`
/// while the clock is before `until`, so agents can be renewed without an outage.
#[derive(Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    /// The previous HMAC key, raw bytes of this text as [`FinchConfig::secret`].
    pub secret: String,
    /// When the grace ends (`previous_secret_until`, RFC 3339). A past instant means no grace.
    pub until: OffsetDateTime,
}

/// The HTTPS port unless `https_port` says otherwise: HTTPS's own, which URLs leave out, as in
/// 1.x, whose URLs never carry a port.
pub const DEFAULT_HTTPS_PORT: u16 = 443;

/// Agents per dashboard page unless `dashboard_page_size` says otherwise: 1.x's fixed 5 kept
/// a page readable on a laptop without scrolling; 2.x keeps it as the default.
pub const DEFAULT_DASHBOARD_PAGE_SIZE: u32 = 5;

/// The largest `dashboard_page_size` accepted: every page is rendered and sent on each change,
/// so a page stays a screenful rather than the whole fleet.
pub const MAX_DASHBOARD_PAGE_SIZE: u32 = 200;

/// Why `finch.json` could not be loaded. The messages are Finch 1.x's.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The path is relative.
    #[error("configuration file path must be absolute: {}", .0.display())]
    RelativePath(PathBuf),
    /// The file cannot be read.
    #[error("failed to read configuration file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("failed to unmarshal configuration file: {0}")]
    Parse(#[source] serde_json::Error),
    /// A required key is missing or empty. Named by its 1.x (Go) field name.
    #[error("invalid configuration data, missing field: {0}")]
    MissingField(&'static str),
    /// An optional key has a value out of range.
    #[error("invalid configuration data: {key} is {value}, expected {expected}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value found.
        value: u64,
        /// What is accepted.
        expected: &'static str,
    },
    /// An optional key is missing its partner, or has a value that cannot be used.
    #[error("invalid configuration data: {key} {problem}")]
    Invalid {
        /// The key at fault.
        key: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// The file as written; every key optional here so that missing ones get 1.x's message.
#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    profiler: Option<String>,
    #[serde(default)]
    proxy_secret: Option<String>,
    #[serde(default)]
    https_port: Option<serde_json::Value>,
    #[serde(default)]
    dashboard_page_size: Option<u64>,
    #[serde(default)]
    previous_secret: Option<String>,
    #[serde(default)]
    previous_secret_until: Option<String>,
}

// === impl FinchConfig ===

impl FinchConfig {
    /// Reads and validates `path`, which must be absolute.
    pub fn load(path: &Path) -> Result<FinchConfig, ConfigError> {
        if !path.is_absolute() {
            return Err(ConfigError::RelativePath(path.to_owned()));
        }
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let library_dir = path.parent().unwrap_or(Path::new("/")).to_owned();
        FinchConfig::from_json(&text, library_dir)
    }

    /// Parses the file's contents; `library_dir` is where relative paths resolve.
    pub fn from_json(text: &[u8], library_dir: PathBuf) -> Result<FinchConfig, ConfigError> {
        let raw: RawConfig = serde_json::from_slice(text).map_err(ConfigError::Parse)?;
        // 1.x checks in this order and names the Go struct fields.
        let created_at = required(raw.created_at, "CreatedAt")?;
        let database = required(raw.database, "Database")?;
        let hostname = required(raw.hostname, "Hostname")?;
        let id = required(raw.id, "Id")?;
        let secret = required(raw.secret, "Secret")?;
        let previous_secret =
            previous_secret(raw.previous_secret, raw.previous_secret_until, &secret)?;
        Ok(FinchConfig {
            created_at,
            database,
            hostname,
            https_port: https_port(raw.https_port)?,
            id,
            secret,
            profiler: raw.profiler.filter(|p| !p.is_empty()),
            // An empty secret would let every caller "attest"; treat it as not configured.
            proxy_secret: raw.proxy_secret.filter(|p| !p.is_empty()),
            dashboard_page_size: dashboard_page_size(raw.dashboard_page_size)?,
            previous_secret,
            library_dir,
        })
    }

    /// The directory of the operators' CA files: `<library>/traefik/etc/certs.d`.
    pub fn certs_dir(&self) -> PathBuf {
        self.library_dir.join("traefik").join("etc").join("certs.d")
    }
}

/// `https_port`: absent (or `null`) means [`DEFAULT_HTTPS_PORT`]; otherwise a whole number from
/// 1 to 65535. Read as any JSON value so that a string such as `"8443"` gets a message naming the
/// key rather than serde's type error.
fn https_port(value: Option<serde_json::Value>) -> Result<u16, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_HTTPS_PORT);
    };
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|port| *port != 0)
        .ok_or_else(|| ConfigError::Invalid {
            key: "https_port",
            problem: format!(
                "is {value}, expected a port number from 1 to 65535 (443 unless the stack publishes HTTPS elsewhere)"
            ),
        })
}

fn dashboard_page_size(value: Option<u64>) -> Result<Option<u32>, ConfigError> {
    match value {
        None => Ok(None),
        Some(n) if (1..=u64::from(MAX_DASHBOARD_PAGE_SIZE)).contains(&n) => {
            Ok(u32::try_from(n).ok())
        }
        Some(n) => Err(ConfigError::OutOfRange {
            key: "dashboard_page_size",
            value: n,
            expected: "a number from 1 to 200",
        }),
    }
}

/// The previous secret and its grace: both keys or neither (empty counts as absent), a time in
/// RFC 3339, and a secret other than the current one.
fn previous_secret(
    secret: Option<String>,
    until: Option<String>,
    current: &str,
) -> Result<Option<PreviousSecret>, ConfigError> {
    let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
    let secret = secret.filter(|s| !s.is_empty());
    let until = until.filter(|u| !u.is_empty());
    match (secret, until) {
        (None, None) => Ok(None),
        (Some(_), None) => invalid(
            "previous_secret_until",
            "is missing: previous_secret needs the RFC 3339 time its grace ends, or remove previous_secret".into(),
        ),
        (None, Some(_)) => invalid(
            "previous_secret",
            "is missing: previous_secret_until needs the secret whose grace it ends, or remove previous_secret_until".into(),
        ),
        (Some(secret), Some(_)) if secret == current => invalid(
            "previous_secret",
            "is the same as secret: remove previous_secret and previous_secret_until".into(),
        ),
        (Some(secret), Some(until)) => match OffsetDateTime::parse(&until, &Rfc3339) {
            Ok(until) => Ok(Some(PreviousSecret { secret, until })),
            Err(_) => invalid(
                "previous_secret_until",
                format!("is {until:?}, expected an RFC 3339 time such as 2026-01-02T03:04:05Z"),
            ),
        },
    }
}

fn required(value: Option<String>, field: &'static str) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::MissingField(field))
}

impl std::fmt::Debug for FinchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret signs every token and a PostgreSQL URI may hold a password.
        f.debug_struct("FinchConfig")
            .field("created_at", &self.created_at)
            .field("database", &redact_uri(&self.database))
            .field("hostname", &self.hostname)
            .field("https_port", &self.https_port)
            .field("id", &self.id)
            .field("secret", &"REDACTED")
            .field("profiler", &self.profiler)
            .field(
                "proxy_secret",
                &self.proxy_secret.as_ref().map(|_| "REDACTED"),
            )
            .field("dashboard_page_size", &self.dashboard_page_size)
            .field("previous_secret", &self.previous_secret)
            .field("library_dir", &self.library_dir)
            .finish()
    }
}

// === impl PreviousSecret ===

impl std::fmt::Debug for PreviousSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousSecret")
            .field("secret", &"REDACTED")
            .field("until", &self.until)
            .finish()
    }
}

/// A database URI with any password replaced, for logs.
pub fn redact_uri(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = url.set_password(Some("REDACTED"));
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{
        "created_at": "2026-01-02T03:04:05Z",
        "database": "sqlite://finch.db",
        "hostname": "finch.example.com",
        "id": "0123456789abcdef",
        "secret": "c2VjcmV0",
        "profiler": "http://pyroscope:4040",
        "credentials": {"username": "legacy", "password": "ignored"}
    }"#;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("finch.json");
        std::fs::write(&path, text).expect("write finch.json");
        path
    }

    #[test]
    fn loads_a_1x_file_and_ignores_unknown_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = FinchConfig::load(&write(dir.path(), VALID)).expect("valid");
        assert_eq!(config.hostname, "finch.example.com");
        assert_eq!(config.secret, "c2VjcmV0");
        assert_eq!(config.id, "0123456789abcdef");
        assert_eq!(config.library_dir, dir.path());
        assert_eq!(
            config.certs_dir(),
            dir.path().join("traefik/etc/certs.d").as_path()
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = FinchConfig::load(Path::new("/nonexistent/finch.json")).expect_err("missing");
        let text = err.to_string();
        assert!(
            text.starts_with("failed to read configuration file /nonexistent/finch.json: ")
                && text.contains("No such file or directory"),
            "{text}"
        );
    }

    #[test]
    fn relative_path_is_refused() {
        let err = FinchConfig::load(Path::new("finch.json")).expect_err("relative");
        assert_eq!(
            err.to_string(),
            "configuration file path must be absolute: finch.json"
        );
    }

    #[test]
    fn bad_json_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = FinchConfig::load(&write(dir.path(), "{not json")).expect_err("bad json");
        assert!(
            err.to_string()
                .starts_with("failed to unmarshal configuration file: "),
            "{err}"
        );
    }

    #[test]
    fn each_missing_field_is_named_in_1x_order() {
        let full: serde_json::Value = serde_json::from_str(VALID).expect("json");
        for (key, field) in [
            ("created_at", "CreatedAt"),
            ("database", "Database"),
            ("hostname", "Hostname"),
            ("id", "Id"),
            ("secret", "Secret"),
        ] {
            for replacement in [None, Some("")] {
                let mut value = full.clone();
                match replacement {
                    None => {
                        value.as_object_mut().expect("object").remove(key);
                    }
                    Some(empty) => value[key] = empty.into(),
                }
                let err = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
                    .expect_err("missing field");
                assert_eq!(
                    err.to_string(),
                    format!("invalid configuration data, missing field: {field}")
                );
            }
        }
    }

    #[test]
    fn proxy_secret_is_optional_and_empty_means_unset() {
        let config = FinchConfig::from_json(VALID.as_bytes(), PathBuf::from("/x")).expect("valid");
        assert_eq!(config.proxy_secret, None);
        let mut value: serde_json::Value = serde_json::from_str(VALID).expect("json");
        value["proxy_secret"] = "".into();
        let config = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
            .expect("valid");
        assert_eq!(config.proxy_secret, None);
        value["proxy_secret"] = "s3cret-proxy".into();
        let config = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
            .expect("valid");
        assert_eq!(config.proxy_secret.as_deref(), Some("s3cret-proxy"));
        assert!(!format!("{config:?}").contains("s3cret-proxy"));
    }

    #[test]
    fn debug_hides_the_secret_and_database_password() {
        let mut config =
            FinchConfig::from_json(VALID.as_bytes(), PathBuf::from("/x")).expect("valid");
        config.database = "postgres://finch:hunter2@db/finch".into();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("c2VjcmV0") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn https_port_is_optional_and_defaults_to_443() {
        let config = FinchConfig::from_json(VALID.as_bytes(), PathBuf::from("/x")).expect("valid");
        assert_eq!(config.https_port, 443);
        let mut value: serde_json::Value = serde_json::from_str(VALID).expect("json");
        value["https_port"] = serde_json::Value::Null;
        let config = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
            .expect("null means unset");
        assert_eq!(config.https_port, 443);
        for port in [1, 8443, 65535] {
            value["https_port"] = port.into();
            let config = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
                .expect("valid");
            assert_eq!(config.https_port, port);
        }
    }

    #[test]
    fn https_port_out_of_range_or_not_a_number_is_refused() {
        let mut value: serde_json::Value = serde_json::from_str(VALID).expect("json");
        for (bad, shown) in [
            (serde_json::json!(0), "0"),
            (serde_json::json!(65536), "65536"),
            (serde_json::json!(-1), "-1"),
            (serde_json::json!(8443.5), "8443.5"),
            (serde_json::json!("8443"), "\"8443\""),
            (serde_json::json!(""), "\"\""),
        ] {
            value["https_port"] = bad;
            let err = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
                .expect_err("invalid port");
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid configuration data: https_port is {shown}, expected a port number from 1 to 65535 (443 unless the stack publishes HTTPS elsewhere)"
                )
            );
        }
    }

    #[test]
    fn dashboard_page_size_is_optional_and_bounded() {
        let config = FinchConfig::from_json(VALID.as_bytes(), PathBuf::from("/x")).expect("valid");
        assert_eq!(config.dashboard_page_size, None);
        let mut value: serde_json::Value = serde_json::from_str(VALID).expect("json");
        value["dashboard_page_size"] = 25.into();
        let config = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
            .expect("valid");
        assert_eq!(config.dashboard_page_size, Some(25));
        for bad in [0, 201] {
            value["dashboard_page_size"] = bad.into();
            let err = FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
                .expect_err("out of range");
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid configuration data: dashboard_page_size is {bad}, expected a number from 1 to 200"
                )
            );
        }
    }

    fn with_keys(keys: &[(&str, &str)]) -> Result<FinchConfig, ConfigError> {
        let mut value: serde_json::Value = serde_json::from_str(VALID).expect("json");
        for (key, text) in keys {
            value[*key] = (*text).into();
        }
        FinchConfig::from_json(value.to_string().as_bytes(), PathBuf::from("/x"))
    }

    #[test]
    fn previous_secret_is_optional_and_loads_with_its_grace() {
        let config = with_keys(&[]).expect("valid");
        assert_eq!(config.previous_secret, None);
        let config = with_keys(&[("previous_secret", ""), ("previous_secret_until", "")])
            .expect("empty means unset");
        assert_eq!(config.previous_secret, None);
        let config = with_keys(&[
            ("previous_secret", "b2xkLXNlY3JldA=="),
            ("previous_secret_until", "2026-01-02T05:04:05+02:00"),
        ])
        .expect("valid");
        let previous = config.previous_secret.as_ref().expect("configured");
        assert_eq!(previous.secret, "b2xkLXNlY3JldA==");
        assert_eq!(previous.until.unix_timestamp(), 1_767_323_045);
        assert!(!format!("{config:?}").contains("b2xkLXNlY3JldA=="));
        // A grace that has already ended is no error: the old tokens are simply refused.
        with_keys(&[
            ("previous_secret", "b2xkLXNlY3JldA=="),
            ("previous_secret_until", "1970-01-01T00:00:00Z"),
        ])
        .expect("an ended grace is valid");
    }

    #[test]
    fn previous_secret_errors_name_the_key() {
        for (keys, message) in [
            (
                &[("previous_secret", "b2xkLXNlY3JldA==")][..],
                "invalid configuration data: previous_secret_until is missing: previous_secret needs the RFC 3339 time its grace ends, or remove previous_secret",
            ),
            (
                &[("previous_secret_until", "2026-01-02T03:04:05Z")][..],
                "invalid configuration data: previous_secret is missing: previous_secret_until needs the secret whose grace it ends, or remove previous_secret_until",
            ),
            (
                &[
                    ("previous_secret", "c2VjcmV0"),
                    ("previous_secret_until", "2026-01-02T03:04:05Z"),
                ][..],
                "invalid configuration data: previous_secret is the same as secret: remove previous_secret and previous_secret_until",
            ),
            (
                &[
                    ("previous_secret", "b2xkLXNlY3JldA=="),
                    ("previous_secret_until", "2026-01-02 03:04"),
                ][..],
                "invalid configuration data: previous_secret_until is \"2026-01-02 03:04\", expected an RFC 3339 time such as 2026-01-02T03:04:05Z",
            ),
        ] {
            let err = with_keys(keys).expect_err("invalid");
            assert_eq!(err.to_string(), message);
        }
    }
}
