//! Database URIs as `finch.json` holds them.
//!
//! The rules are Finch 1.x's, so that an existing `finch.json` keeps naming the same file:
//! `sqlite://finch.db` is relative to the library directory, `sqlite:///abs/file.db` is absolute,
//! a target ending in `:memory:` is an in-memory database, and `postgres://` URIs pass through
//! untouched. One deliberate difference: 1.x silently dropped the host part of
//! `sqlite://dir/file.db` (giving `/file.db`); here it resolves to `<library>/dir/file.db`.
//!
//! The URI is split by hand rather than with a URL parser because `sqlite://:memory:` is not a
//! valid URL (an empty host with the port `memory:`) yet is a spelling operators use.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// An in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL connection URI.
    Postgres(String),
}

/// A database URI that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// A `postgres://` URI that PostgreSQL's connection options refuse. Holds the URI with any
    /// password masked, and the reason.
    #[error("invalid postgres database URI {uri}: {reason}: fix `database` in finch.json")]
    InvalidPostgres {
        /// The URI, password masked.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URI names neither a host nor a path (Finch 1.x's wording). Holds the URI with any
    /// password masked.
    #[error("no database target specified in URI: {0}")]
    NoTarget(String),
    /// The scheme is neither `sqlite` nor `postgres`/`postgresql` (Finch 1.x's wording).
    #[error("unsupported database scheme: {0}")]
    UnsupportedScheme(String),
    /// The path of a `sqlite://` URI is not UTF-8 once percent-decoded.
    #[error(
        "database path {0:?} is not valid UTF-8 once percent-decoded: fix `database` in finch.json"
    )]
    InvalidPath(String),
    /// The directory that should hold the SQLite file does not exist. Finch does not create it,
    /// because a missing directory usually means a wrong path or an unmounted volume.
    #[error(
        "database directory {} does not exist: create it or fix `database` in finch.json",
        .0.display()
    )]
    MissingDirectory(PathBuf),
}

/// The parts of a URI that decide the target, as Go's `net/url` splits them.
struct UriParts<'a> {
    /// Lowercased scheme; empty when the URI has none.
    scheme: String,
    /// The host (with port), without user info.
    host: &'a str,
    /// The path, still percent-encoded.
    path: &'a str,
}

// === impl DatabaseTarget ===

impl DatabaseTarget {
    /// Parses `uri`, resolving relative SQLite paths against `library_dir`.
    ///
    /// ```
    /// # use std::path::{Path, PathBuf};
    /// # use finch::store::DatabaseTarget;
    /// let target = DatabaseTarget::parse("sqlite://finch.db", Path::new("/var/lib/finch"));
    /// assert_eq!(target, Ok(DatabaseTarget::SqliteFile(PathBuf::from("/var/lib/finch/finch.db"))));
    /// ```
    pub fn parse(uri: &str, library_dir: &Path) -> Result<Self, UriError> {
        let parts = UriParts::split(uri);
        if parts.host.is_empty() && parts.path.is_empty() {
            return Err(UriError::NoTarget(mask_password(uri)));
        }
        match parts.scheme.as_str() {
            "sqlite" => sqlite_target(parts.host, parts.path, library_dir),
            "postgres" | "postgresql" => Ok(DatabaseTarget::Postgres(uri.to_owned())),
            _ => Err(UriError::UnsupportedScheme(parts.scheme)),
        }
    }
}

/// Resolves the host and path of a `sqlite://` URI.
fn sqlite_target(host: &str, path: &str, library_dir: &Path) -> Result<DatabaseTarget, UriError> {
    let host = decode(host)?;
    let path = decode(path)?;
    if format!("{host}{path}").ends_with(":memory:") {
        return Ok(DatabaseTarget::SqliteMemory);
    }
    let file = if host.is_empty() {
        // `sqlite:///abs/file.db`: the path is absolute already.
        PathBuf::from(path)
    } else {
        // `sqlite://finch.db` or `sqlite://dir/file.db`: relative to the library directory.
        let mut file = library_dir.join(host);
        let rest = path.trim_start_matches('/');
        if !rest.is_empty() {
            file.push(rest);
        }
        file
    };
    Ok(DatabaseTarget::SqliteFile(file))
}

/// Percent-decodes one part of a URI.
fn decode(part: &str) -> Result<String, UriError> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| UriError::InvalidPath(part.to_owned()))
}

/// Replaces the password of `user:password@host` URIs with `***`, so errors never show it.
pub(in crate::store) fn mask_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => uri.to_owned(),
    }
}

// === impl UriParts ===

impl<'a> UriParts<'a> {
    /// Splits `uri` into scheme, host and path the way Go's `url.Parse` does for the URIs that
    /// matter here. A URI without `//` after the scheme (`sqlite:finch.db`) has neither host
    /// nor path, as in Go, where the rest is "opaque".
    fn split(uri: &'a str) -> Self {
        let (scheme, rest) = match uri.split_once(':') {
            Some((scheme, rest)) if is_scheme(scheme) => (scheme.to_ascii_lowercase(), rest),
            _ => (String::new(), uri),
        };
        // Query and fragment never name the target.
        let rest = rest.find(['?', '#']).map_or(rest, |end| &rest[..end]);
        if let Some(hier) = rest.strip_prefix("//") {
            let authority_end = hier.find('/').unwrap_or(hier.len());
            let (authority, path) = hier.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            UriParts { scheme, host, path }
        } else if scheme.is_empty() || rest.starts_with('/') {
            UriParts {
                scheme,
                host: "",
                path: rest,
            }
        } else {
            UriParts {
                scheme,
                host: "",
                path: "",
            }
        }
    }
}

/// Whether `s` is a URI scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn parse(uri: &str) -> Result<DatabaseTarget, UriError> {
        DatabaseTarget::parse(uri, Path::new("/var/lib/finch"))
    }

    fn file(path: &str) -> Result<DatabaseTarget, UriError> {
        Ok(DatabaseTarget::SqliteFile(PathBuf::from(path)))
    }

    #[test]
    fn relative_file_is_in_the_library_dir() {
        assert_eq!(parse("sqlite://finch.db"), file("/var/lib/finch/finch.db"));
    }

    #[test]
    fn absolute_file_is_used_as_is() {
        assert_eq!(parse("sqlite:///abs/file.db"), file("/abs/file.db"));
        assert_eq!(
            parse("sqlite:///abs/my%20dir/f.db"),
            file("/abs/my dir/f.db")
        );
    }

    #[test]
    fn host_and_path_keep_the_directory_unlike_1x() {
        assert_eq!(
            parse("sqlite://dir/file.db"),
            file("/var/lib/finch/dir/file.db")
        );
        assert_eq!(
            parse("sqlite://dir/sub/file.db"),
            file("/var/lib/finch/dir/sub/file.db")
        );
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert_eq!(
            parse("sqlite://finch.db?_busy_timeout=1#x"),
            file("/var/lib/finch/finch.db")
        );
    }

    #[test]
    fn memory_targets() {
        for uri in [
            "sqlite:///:memory:",
            "sqlite://:memory:",
            "SQLITE://:memory:",
            "sqlite:///tmp/:memory:",
        ] {
            assert_eq!(parse(uri), Ok(DatabaseTarget::SqliteMemory), "{uri}");
        }
    }

    #[test]
    fn postgres_uris_pass_through() {
        for uri in [
            "postgres://finch:secret@db:5432/finch?sslmode=disable",
            "postgresql://db/finch",
        ] {
            assert_eq!(parse(uri), Ok(DatabaseTarget::Postgres(uri.to_owned())));
        }
    }

    #[test]
    fn empty_target_is_refused() {
        for uri in ["sqlite://", "sqlite:", "sqlite:finch.db", ""] {
            let err = parse(uri).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("no database target specified in URI: {uri}")
            );
        }
    }

    #[test]
    fn empty_target_error_masks_the_password() {
        let err = parse("postgres://finch:secret@").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no database target specified in URI: postgres://finch:***@"
        );
    }

    #[test]
    fn unsupported_schemes_are_named() {
        assert_eq!(
            parse("psql://x").unwrap_err().to_string(),
            "unsupported database scheme: psql"
        );
        assert_eq!(
            parse("MySQL://x/db").unwrap_err().to_string(),
            "unsupported database scheme: mysql"
        );
        assert_eq!(
            parse("invalid_db_url"),
            Err(UriError::UnsupportedScheme(String::new()))
        );
        assert_eq!(
            parse("invalid_db_url").unwrap_err().to_string(),
            "unsupported database scheme: "
        );
    }

    #[test]
    fn undecodable_path_is_refused() {
        assert!(matches!(
            parse("sqlite:///bad%FF.db"),
            Err(UriError::InvalidPath(_))
        ));
    }
}
