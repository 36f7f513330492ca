//! Writing `finch.json`: the one writer of the file, used by `finch init`, the scripts (through
//! `finch init`) and the test kit, so that a new key is added in one place.
//!
//! A fresh file gets what `finchctl service deploy` gives a new stack: the id is the first 16
//! hex characters of SHA-256 over the host name, and the secret is base64 text of 32 random
//! bytes (finch signs with the text itself, see [`FinchConfig::secret`]). The file is private
//! (mode 0600) and appears whole or not at all (a temporary file renamed into place).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::{DEFAULT_HTTPS_PORT, FinchConfig};

/// Random bytes behind a fresh secret: 256 bits, the HMAC-SHA256 key size.
const SECRET_BYTES: usize = 32;

/// Why a fresh `finch.json` could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The operating system gave no random bytes for the secret.
    #[error("cannot draw random bytes for the secret: {0}")]
    Random(String),
    /// The file already exists; it holds the secret every token is signed with.
    #[error("{} already exists; remove it first to start a new library", .0.display())]
    Exists(PathBuf),
    /// Writing or renaming failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The file's keys, as 1.x names them; optional keys are left out when unset.
#[derive(Serialize)]
struct FileConfig<'a> {
    created_at: &'a str,
    database: &'a str,
    hostname: &'a str,
    #[serde(skip_serializing_if = "is_default_https_port")]
    https_port: u16,
    id: &'a str,
    secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profiler: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dashboard_page_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_until: Option<String>,
}

// === impl FinchConfig ===

impl FinchConfig {
    /// A new library's configuration for `hostname` and `database`, in `library_dir`, created
    /// `now`, with a fresh random secret.
    pub fn generate(
        library_dir: PathBuf,
        hostname: &str,
        database: &str,
        now: OffsetDateTime,
    ) -> Result<FinchConfig, WriteError> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| WriteError::Random(e.to_string()))?;
        let created_at = now
            .to_offset(time::UtcOffset::UTC)
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            // The description has only fields every UTC date has.
            .expect("an RFC 3339 UTC timestamp formats");
        Ok(FinchConfig {
            created_at,
            database: database.to_owned(),
            hostname: hostname.to_owned(),
            https_port: DEFAULT_HTTPS_PORT,
            id: service_id(hostname),
            secret: STANDARD.encode(secret),
            profiler: None,
            proxy_secret: None,
            dashboard_page_size: None,
            previous_secret: None,
            library_dir,
        })
    }

    /// The file's text: the keys [`FinchConfig::load`] reads, pretty-printed.
    pub fn to_json(&self) -> String {
        let file = FileConfig {
            created_at: &self.created_at,
            database: &self.database,
            hostname: &self.hostname,
            https_port: self.https_port,
            id: &self.id,
            secret: &self.secret,
            profiler: self.profiler.as_deref(),
            proxy_secret: self.proxy_secret.as_deref(),
            dashboard_page_size: self.dashboard_page_size,
            previous_secret: self.previous_secret.as_ref().map(|p| p.secret.as_str()),
            previous_secret_until: self.previous_secret.as_ref().map(|p| rfc3339(p.until)),
        };
        // Only strings and numbers: serialising cannot fail.
        let mut text = serde_json::to_string_pretty(&file).expect("finch.json serialises");
        text.push('\n');
        text
    }

    /// Writes the file to `path` (usually `<library_dir>/finch.json`), mode 0600, refusing to
    /// replace an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), WriteError> {
        if path.exists() {
            return Err(WriteError::Exists(path.to_owned()));
        }
        write_atomically(path, self.to_json().as_bytes())
    }
}

/// Whether `https_port` is left out: a file without it means 443, and one that 1.x wrote stays
/// byte for byte as it was.
fn is_default_https_port(port: &u16) -> bool {
    *port == DEFAULT_HTTPS_PORT
}

/// `at` in RFC 3339 and UTC, as `previous_secret_until` is read back.
fn rfc3339(at: OffsetDateTime) -> String {
    // The instants written here come from the clock or from a parsed RFC 3339 time, so the year
    // is one RFC 3339 can spell; UTC leaves no offset seconds it could not.
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("an RFC 3339 timestamp formats")
}

/// The service id for `hostname`: the first 16 hex characters of its SHA-256, as finchctl makes
/// it.
///
/// ```
/// assert_eq!(finch::config::service_id("localhost").len(), 16);
/// ```
pub fn service_id(hostname: &str) -> String {
    let digest = Sha256::digest(hostname.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to a private temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(source) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_file_loads_back_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = FinchConfig::generate(
            dir.path().to_owned(),
            "finch.example.com",
            "sqlite://finch.db",
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("generates");
        assert!(!config.to_json().contains("https_port"), "443 is left out");
        config.https_port = 8443;
        config.proxy_secret = Some("behind \"traefik\"\n".into());
        config.previous_secret = Some(crate::config::PreviousSecret {
            secret: "b2xkLXNlY3JldA==".into(),
            until: OffsetDateTime::UNIX_EPOCH + time::Duration::nanoseconds(1_500_000_000),
        });
        let path = dir.path().join(crate::config::FILE_NAME);
        config.write_new(&path).expect("writes");
        assert_eq!(FinchConfig::load(&path).expect("loads"), config);
        assert_eq!(config.created_at, "1970-01-01T00:00:00Z");
        assert_eq!(STANDARD.decode(&config.secret).expect("base64").len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            config.write_new(&path),
            Err(WriteError::Exists(_))
        ));
    }

    #[test]
    fn the_id_is_the_hash_prefix_of_the_host_name() {
        assert_eq!(service_id("localhost"), "49960de5880e8c68");
    }
}
