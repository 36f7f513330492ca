//! The stack's assets: every file a deploy uploads into the library directory, rendered from
//! one [`StackSettings`] by one pure function, [`render`].
//!
//! [`render`] reads no clock, disk or network: the values a stack keeps for life (id, token
//! secret, proxy secret, Grafana password, the self-signed certificate) come in through
//! [`StackSettings`], made once by [`Generated::fresh`] and [`tls::self_signed`] and kept ever
//! after by [`Existing`], so the same settings always give the same bytes. That is what makes a
//! repeat deploy change nothing and lets golden tests cover every file. `service render` writes
//! the result to a directory; deploy and update upload it.
//!
//! Each file belongs to the services that read it; the compose file labels every service with a
//! hash of its own files and image ([`compose`]), so a changed file recreates only the
//! containers that read it. The library layout is Finch 1.x's (a 1.x library upgrades in place),
//! with Grafana's provisioning in a directory of its own.

pub mod alerts;
pub mod alloy;
pub mod backup;
pub mod compose;
pub mod database;
pub mod database_change;
pub mod deploy;
pub mod doctor;
pub mod existing;
pub mod finch_json;
pub mod generated;
pub mod grafana;
pub mod images;
pub mod operators;
pub mod period;
pub mod ports;
pub mod retention;
pub mod secret;
pub mod storage;
pub mod tls;
pub mod traefik;

#[cfg(test)]
mod tests;

pub use alerts::Alerts;
pub use database::{Database, Replicas};
pub use existing::Existing;
pub use generated::Generated;
pub use images::{Images, Service};
pub use ports::{Ports, PublishedPort};
pub use retention::Retention;
pub use tls::{CertificatePair, TlsMode};

/// The library directory a deploy uses unless told otherwise (1.x's fixed path).
pub const DEFAULT_LIBRARY: &str = "/var/lib/finch";

/// Everything a rendered stack depends on.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// The stack's public host name or IP (`--service.host`), already checked by [`check_host`].
    pub host: String,
    /// How Traefik gets its certificate.
    pub tls: TlsMode,
    /// How long logs, metrics and profiles are kept.
    pub retention: Retention,
    /// The image of each service.
    pub images: Images,
    /// Where the host publishes Traefik's HTTP and HTTPS entry points.
    pub ports: Ports,
    /// The values the stack keeps for life.
    pub generated: Generated,
    /// The database `finch.json` names (SQLite unless `--stack.database` said otherwise).
    pub database: Database,
    /// How many Finch containers serve the stack, behind Traefik's load balancer.
    pub replicas: Replicas,
    /// The Docker daemon's socket on the host, mounted into Alloy (`--docker.host`).
    pub docker_socket: String,
    /// Where alerts go (`--alert.*`).
    pub alerts: Alerts,
}

/// One file of the stack, as deploy uploads it.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The path relative to the library directory, `/`-separated.
    pub path: String,
    /// The contents.
    pub contents: Vec<u8>,
    /// The file mode on the host.
    pub mode: u32,
    /// The owner on the host: the user the reading container runs as.
    pub owner: Owner,
    /// Whether the file holds a secret (a key, the token secret, a password): never printed,
    /// never shown in a dry run.
    pub secret: bool,
}

/// A numeric owner on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Root: Traefik, Finch and Alloy run as root in their containers.
pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
/// The user of the Grafana image.
pub const GRAFANA_USER: Owner = Owner { uid: 472, gid: 472 };
/// The user Loki, Mimir and Pyroscope run as (the Loki image's own, set for the others).
pub const STORAGE_USER: Owner = Owner {
    uid: 10001,
    gid: 10001,
};

/// Why the stack cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// `--service.host` is not a host name or IP address.
    #[error(
        "--service.host {0:?} is not a host name or IP address (letters, digits, '-' and '.', \
         or an IPv4 or IPv6 address)"
    )]
    BadHost(String),
    /// The database cannot serve the replicas.
    #[error(transparent)]
    Database(#[from] database::DatabaseError),
    /// A YAML or JSON document could not be written.
    #[error("cannot write {path}: {reason}")]
    Serialize {
        /// The file.
        path: &'static str,
        /// Why.
        reason: String,
    },
}

// === impl RenderedFile ===

impl RenderedFile {
    fn new(path: &str, contents: impl Into<Vec<u8>>, owner: Owner) -> RenderedFile {
        RenderedFile {
            path: path.to_owned(),
            contents: contents.into(),
            mode: 0o400,
            owner,
            secret: false,
        }
    }

    fn secret(mut self) -> RenderedFile {
        self.secret = true;
        self
    }
}

impl std::fmt::Debug for RenderedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A secret file's contents never reach a log.
        let contents = if self.secret {
            "REDACTED".to_owned()
        } else {
            format!("{} bytes", self.contents.len())
        };
        f.debug_struct("RenderedFile")
            .field("path", &self.path)
            .field("contents", &contents)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &self.owner)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Renders every file of the stack, the compose file last (it hashes the others).
pub fn render(settings: &StackSettings) -> Result<Vec<RenderedFile>, StackError> {
    check_host(&settings.host)?;
    settings.replicas.check(&settings.database)?;
    let mut files = vec![finch_json::render(settings)?];
    files.extend(settings.database.render());
    files.extend(traefik::render(settings)?);
    files.extend(tls::render(&settings.tls));
    files.extend(storage::render(settings.retention));
    files.extend(grafana::render(settings)?);
    files.push(alloy::render(settings));
    let compose = compose::render(settings, &files)?;
    files.push(compose);
    Ok(files)
}

/// Checks a service host: a DNS name (labels of letters, digits and `-`) or an IP address.
/// Everything rendered quotes its values anyway; this keeps certificates, routes and the
/// profile's stack name meaningful.
pub fn check_host(host: &str) -> Result<(), StackError> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() <= 253 && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(StackError::BadHost(host.to_owned()))
    }
}

/// A string as a double-quoted YAML (and JSON) scalar: JSON's escaping is valid YAML.
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}
