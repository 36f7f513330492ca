//! The stack's database (`database` in `finch.json`): SQLite in the library, as 1.x, or an
//! external PostgreSQL that `--stack.database` names, and how many Finch replicas serve it
//! (`--stack.replicas`).
//!
//! A PostgreSQL URI is read as libpq users write it. `sslrootcert` names a file, and the file
//! must be where Finch runs, in its container: when the URI names a file on the workstation,
//! finchctl reads it and renders it into the library as [`ROOT_CERT_PATH`], and `finch.json`
//! says where the container sees it (the library is mounted at [`CONTAINER_LIBRARY`]). A path
//! already under [`CONTAINER_LIBRARY`] is the container's own and stays as written; `system`
//! (libpq's "the system's trusted roots") stays too. A later deploy without the flag keeps the
//! URI and the certificate, as it keeps every value of `finch.json`.
//!
//! Several replicas need PostgreSQL: a SQLite file serves one Finch, so more than one replica
//! with SQLite is refused.

use std::path::Path;

use super::{ROOT, RenderedFile};

/// Where the finch containers mount the library (`docs/configuration.md`).
pub const CONTAINER_LIBRARY: &str = "/var/lib/finch";
/// Where a CA file named by `sslrootcert` goes in the library.
pub const ROOT_CERT_PATH: &str = "postgres/root.crt";
/// The most replicas: each holds up to 11 connections (a pool of 10 and a listener), and 8
/// stay inside PostgreSQL's default `max_connections` of 100.
pub const MAX_REPLICAS: u8 = 8;

/// The `sslmode` values libpq knows.
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// The database `finch.json` names, with the file it needs in the library.
#[derive(Clone, PartialEq, Eq)]
pub struct Database {
    /// The URI as `finch.json` holds it (paths as the container sees them).
    pub uri: String,
    /// The CA certificate `sslrootcert` names, rendered as [`ROOT_CERT_PATH`].
    pub root_cert: Option<Vec<u8>>,
}

/// How many Finch containers serve the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas(u8);

/// Why `--stack.database` or `--stack.replicas` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// Neither SQLite nor PostgreSQL.
    #[error(
        "--stack.database {0}: not a postgres:// or postgresql:// URI (or sqlite://finch.db for the library's SQLite file)"
    )]
    Scheme(String),
    /// No host: the container would look for a socket of its own.
    #[error("--stack.database {0}: names no host; give the PostgreSQL server's address")]
    NoHost(String),
    /// `localhost` inside the finch container is the container itself.
    #[error(
        "--stack.database {0}: {1} inside the finch container is the container itself, not the host; give the address the stack's containers reach PostgreSQL at"
    )]
    Loopback(String, String),
    /// An `sslmode` libpq does not know.
    #[error(
        "--stack.database {0}: sslmode={1} is not one of disable, allow, prefer, require, verify-ca, verify-full"
    )]
    SslMode(String, String),
    /// The file `sslrootcert` names cannot be read.
    #[error("--stack.database: cannot read sslrootcert {path}: {reason}")]
    RootCert {
        /// The path on the workstation.
        path: String,
        /// Why.
        reason: String,
    },
    /// Replicas out of range or not a number.
    #[error("--stack.replicas {0:?} is not a whole number from 1 to {MAX_REPLICAS}")]
    Replicas(String),
    /// Several replicas on SQLite.
    #[error(
        "--stack.replicas {0} needs PostgreSQL: the stack's database is SQLite ({1}), which serves one Finch"
    )]
    ReplicasNeedPostgres(u8, String),
}

// === impl Database ===

impl Database {
    /// The database of a deployed stack: its `finch.json` URI and the CA file it left.
    pub fn kept(uri: &str, root_cert: Option<Vec<u8>>) -> Database {
        let root_cert = root_cert.filter(|_| uri.contains(&container_root_cert()));
        Database {
            uri: uri.to_owned(),
            root_cert,
        }
    }

    /// The database `--stack.database` names; `read` reads a file on the workstation.
    pub fn from_flag(
        uri: &str,
        read: impl Fn(&Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<Database, DatabaseError> {
        let masked = mask_password(uri);
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| DatabaseError::Scheme(masked.clone()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                return Ok(Database {
                    uri: uri.to_owned(),
                    root_cert: None,
                });
            }
            "postgres" | "postgresql" => {}
            _ => return Err(DatabaseError::Scheme(masked)),
        }
        let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority_path.split('/').next().unwrap_or_default();
        let host = host_of(authority);
        let params: Vec<(&str, &str)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        if host.is_empty() && param("host").is_none() {
            return Err(DatabaseError::NoHost(masked));
        }
        if is_loopback(host) {
            return Err(DatabaseError::Loopback(masked, host.to_owned()));
        }
        if let Some(mode) = param("sslmode").filter(|m| !SSL_MODES.contains(m)) {
            return Err(DatabaseError::SslMode(masked, mode.to_owned()));
        }
        let Some(cert) = param("sslrootcert").filter(|c| is_workstation_file(c)) else {
            return Ok(Database {
                uri: uri.to_owned(),
                root_cert: None,
            });
        };
        let path = percent_decode(cert);
        let contents = read(Path::new(&path)).map_err(|e| DatabaseError::RootCert {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| match *k {
                "sslrootcert" => format!("{k}={}", container_root_cert()),
                _ if v.is_empty() => (*k).to_owned(),
                _ => format!("{k}={v}"),
            })
            .collect();
        Ok(Database {
            uri: format!("{scheme}://{authority_path}?{}", query.join("&")),
            root_cert: Some(contents),
        })
    }

    /// Whether it is SQLite (one Finch only).
    pub fn is_sqlite(&self) -> bool {
        self.uri
            .split_once("://")
            .is_some_and(|(s, _)| s.eq_ignore_ascii_case("sqlite"))
    }

    /// The URI with its password masked, for messages.
    pub fn masked(&self) -> String {
        mask_password(&self.uri)
    }

    /// The files the database needs in the library.
    pub fn render(&self) -> Vec<RenderedFile> {
        self.root_cert
            .iter()
            .map(|cert| RenderedFile::new(ROOT_CERT_PATH, cert.clone(), ROOT))
            .collect()
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URI may carry a password.
        f.debug_struct("Database")
            .field("uri", &self.masked())
            .field("root_cert", &self.root_cert.as_ref().map(Vec::len))
            .finish()
    }
}

// === impl Replicas ===

impl Replicas {
    /// One Finch, as every stack before replicas.
    pub const ONE: Replicas = Replicas(1);

    /// How many.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The finch services' names: `finch`, then `finch-2`, `finch-3`, … (the first keeps 1.x's
    /// name, so a stack going from one replica to several recreates nothing it had).
    pub fn names(self) -> Vec<String> {
        (1..=self.0)
            .map(|i| match i {
                1 => "finch".to_owned(),
                i => format!("finch-{i}"),
            })
            .collect()
    }

    /// Refuses several replicas on SQLite.
    pub fn check(self, database: &Database) -> Result<(), DatabaseError> {
        if self.0 > 1 && database.is_sqlite() {
            return Err(DatabaseError::ReplicasNeedPostgres(
                self.0,
                database.masked(),
            ));
        }
        Ok(())
    }
}

impl Default for Replicas {
    fn default() -> Replicas {
        Replicas::ONE
    }
}

impl std::str::FromStr for Replicas {
    type Err = DatabaseError;

    fn from_str(s: &str) -> Result<Replicas, DatabaseError> {
        match s.trim().parse::<u8>() {
            Ok(n) if (1..=MAX_REPLICAS).contains(&n) => Ok(Replicas(n)),
            _ => Err(DatabaseError::Replicas(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the container reads the CA file from.
fn container_root_cert() -> String {
    format!("{CONTAINER_LIBRARY}/{ROOT_CERT_PATH}")
}

/// Whether an `sslrootcert` value names a file on the workstation: not libpq's `system`, and
/// not a path in the container's library.
fn is_workstation_file(value: &str) -> bool {
    value != "system" && !percent_decode(value).starts_with(&format!("{CONTAINER_LIBRARY}/"))
}

/// The host of `user:password@host:port` (an IPv6 address without its brackets).
fn host_of(authority: &str) -> &str {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `%XX` escapes decoded (a path in a URI query may carry them).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URI with the password of its user info replaced by `REDACTED`.
pub fn mask_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:REDACTED@{host}{tail}")
        }
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_file(_: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    #[test]
    fn a_postgres_uri_passes_and_a_workstation_ca_moves_into_the_library() {
        let plain = Database::from_flag("postgres://finch:pw@db.internal:5432/finch", no_file)
            .expect("valid");
        assert_eq!(plain.uri, "postgres://finch:pw@db.internal:5432/finch");
        assert!(plain.render().is_empty() && !plain.is_sqlite());
        let read = |p: &Path| {
            assert_eq!(p, Path::new("/home/me/ca dir/root.pem"));
            Ok(b"PEM".to_vec())
        };
        let tls = Database::from_flag(
            "postgresql://finch:pw@db:5432/finch?sslmode=verify-full&sslrootcert=/home/me/ca%20dir/root.pem&application_name=f",
            read,
        )
        .expect("valid");
        assert_eq!(
            tls.uri,
            "postgresql://finch:pw@db:5432/finch?sslmode=verify-full&sslrootcert=/var/lib/finch/postgres/root.crt&application_name=f"
        );
        let files = tls.render();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, ROOT_CERT_PATH);
        assert_eq!(files[0].contents, b"PEM");
        // What finch.json then says is kept with the file, and stays as written.
        let again = Database::from_flag(&tls.uri, no_file).expect("container path");
        assert_eq!(again.uri, tls.uri);
        assert_eq!(
            Database::kept(&tls.uri, Some(b"PEM".to_vec())),
            Database {
                uri: tls.uri.clone(),
                root_cert: Some(b"PEM".to_vec())
            }
        );
        assert_eq!(
            Database::kept("sqlite://finch.db", Some(b"PEM".to_vec())).root_cert,
            None
        );
        let system =
            Database::from_flag("postgres://db/finch?sslrootcert=system", no_file).expect("ok");
        assert!(system.root_cert.is_none());
    }

    #[test]
    fn bad_uris_are_refused_with_the_password_masked() {
        for (uri, expected) in [
            ("mysql://u:pw@db/finch", "not a postgres://"),
            ("postgres:///finch", "names no host"),
            ("postgres://u:pw@localhost/finch", "the container itself"),
            (
                "postgres://u:pw@127.0.0.1:5432/finch",
                "the container itself",
            ),
            ("postgres://u:pw@[::1]:5432/finch", "the container itself"),
            ("postgres://u:pw@db/finch?sslmode=strict", "sslmode=strict"),
            (
                "postgres://u:pw@db/finch?sslrootcert=/nope.pem",
                "/nope.pem",
            ),
        ] {
            let error = Database::from_flag(uri, no_file)
                .expect_err(uri)
                .to_string();
            assert!(error.contains(expected), "{uri}: {error}");
            assert!(!error.contains("pw@"), "{error}");
        }
        let debug = format!(
            "{:?}",
            Database::from_flag("postgres://u:pw@db/f", no_file).expect("ok")
        );
        assert!(!debug.contains("pw@"), "{debug}");
    }

    #[test]
    fn replicas_are_named_bounded_and_need_postgres() {
        let two: Replicas = "2".parse().expect("2");
        assert_eq!(two.names(), ["finch", "finch-2"]);
        assert_eq!(Replicas::ONE.names(), ["finch"]);
        for bad in ["0", "9", "two", "-1"] {
            assert!(bad.parse::<Replicas>().is_err(), "{bad}");
        }
        let sqlite = Database::kept("sqlite://finch.db", None);
        let error = two.check(&sqlite).expect_err("refused").to_string();
        assert!(error.contains("needs PostgreSQL"), "{error}");
        assert!(Replicas::ONE.check(&sqlite).is_ok());
        let postgres = Database::kept("postgres://u:pw@db/f", None);
        assert!(two.check(&postgres).is_ok());
    }
}
