//! Log sources: where an agent reads logs from, in input, stored and rendered forms.
//!
//! A [`LogSource`] holds the decoded value the renderer needs: a file path or glob, or an event
//! channel. It has two spellings:
//!
//! - The **input form** clients send ([`LogSource::parse`], and [`fmt::Display`] back):
//!   `journal://`, `docker://`, `file://<path>`, `event://<channel>`. Everything after `file://` or
//!   `event://` is taken literally: globs keep `?`, `#`, `%` and `[...]`, and Windows channels keep
//!   `/` and spaces (`event://Microsoft-Windows-Sysmon/Operational`). 1.x parsed these as URLs and
//!   cut them at `?`, `#` or `/`.
//! - The **stored form** of the `log_sources` column ([`LogSource::to_stored`],
//!   [`LogSource::from_stored`]), which Finch 1.x must still read: 1.x parses each entry with Go's
//!   `net/url` and uses `url.Path` of files and `url.Host` of events, so the characters Go would
//!   split on or refuse there are percent-encoded.

use std::collections::HashSet;
use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_decode_str};

use crate::Node;
use crate::error::{InputError, excerpt};
use crate::field::Field;

/// One place an agent collects logs from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// The systemd journal (`journal://`, stored as `journal:` like 1.x).
    Journal,
    /// Docker container logs (`docker://`, stored as `docker:`).
    Docker,
    /// Files matching an absolute path or glob (`file:///var/log/*.log`).
    File(String),
    /// A Windows event log channel (`event://Microsoft-Windows-Sysmon/Operational`).
    Event(String),
}

/// A stored log source string that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored log source {0:?} is not readable")]
pub struct StoredFormError(pub String);

/// Longest file path or event channel accepted, in bytes: Linux's `PATH_MAX`, well above the
/// 255 characters of a Windows channel name.
pub const MAX_LOG_SOURCE_LEN: usize = 4096;

/// The bounds of a file path or event channel.
const LOG_SOURCE: Field = Field {
    name: "log source",
    max: MAX_LOG_SOURCE_LEN,
};

/// What a stored file path escapes: what Go's `url.Parse` would take as the start of a query
/// (`?`) or fragment (`#`) or as an escape (`%`), what it refuses (control characters), and
/// what is not valid in a URL path. Glob characters Go accepts in a path (`*`, `[`, `]`, `{`,
/// `}`, `!`, `^`) and `/` stay readable. Non-ASCII is always escaped, as UTF-8.
const STORED_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'|');

/// What a stored event channel escapes: everything but the characters Go's `url.Parse` accepts
/// unescaped in a host name (letters, digits, `-._~` and the sub-delimiters). `:` is escaped too,
/// as Go would read a port after it.
const STORED_CHANNEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Validates log sources for an agent on `node` and returns them in the given order, each once.
pub fn parse_log_sources(entries: &[String], node: Node) -> Result<Vec<LogSource>, InputError> {
    if entries.is_empty() {
        return Err(InputError::LogSourcesRequired);
    }
    let mut seen = HashSet::with_capacity(entries.len());
    let mut sources = Vec::with_capacity(entries.len());
    for entry in entries {
        let source = LogSource::parse(entry)?;
        if let Some(needs) = source.needs_node().filter(|&needs| needs != node) {
            return Err(InputError::LogSourceNode {
                entry: excerpt(entry),
                node,
                needs,
            });
        }
        if seen.insert(source.clone()) {
            sources.push(source);
        }
    }
    Ok(sources)
}

// === impl LogSource ===

impl LogSource {
    /// Reads the input form a client sends. Schemes match in any case; `journal:` and `docker:`
    /// (the stored forms) are accepted too.
    ///
    /// ```
    /// use finch_agent_spec::LogSource;
    ///
    /// assert_eq!(LogSource::parse("JOURNAL://"), Ok(LogSource::Journal));
    /// assert_eq!(
    ///     LogSource::parse("file:///var/log/app-??.log"),
    ///     Ok(LogSource::File("/var/log/app-??.log".into()))
    /// );
    /// assert_eq!(
    ///     LogSource::parse("event://Windows PowerShell"),
    ///     Ok(LogSource::Event("Windows PowerShell".into()))
    /// );
    /// assert!(LogSource::parse("file://var/log/x").is_err()); // relative
    /// ```
    pub fn parse(entry: &str) -> Result<Self, InputError> {
        let invalid = || InputError::LogSourceInvalid(excerpt(entry));
        let (scheme, rest) = entry.split_once(':').ok_or_else(invalid)?;
        if !is_scheme(scheme) {
            return Err(invalid());
        }
        let scheme_is = |name: &str| scheme.eq_ignore_ascii_case(name);
        let bare = rest.is_empty() || rest == "//";
        let source = if scheme_is("journal") && bare {
            LogSource::Journal
        } else if scheme_is("docker") && bare {
            LogSource::Docker
        } else if scheme_is("file") {
            let path = rest.strip_prefix("//").ok_or_else(invalid)?;
            LOG_SOURCE.check(path, || excerpt(entry))?;
            if path.is_empty() {
                return Err(InputError::FilePathRequired(excerpt(entry)));
            }
            if !path.starts_with('/') && !is_drive_path(path) {
                return Err(InputError::FilePathRelative(excerpt(entry)));
            }
            LogSource::File(path.to_owned())
        } else if scheme_is("event") {
            let channel = rest.strip_prefix("//").ok_or_else(invalid)?;
            LOG_SOURCE.check(channel, || excerpt(entry))?;
            if channel.is_empty() {
                return Err(InputError::EventChannelRequired(excerpt(entry)));
            }
            LogSource::Event(channel.to_owned())
        } else if scheme_is("journal") || scheme_is("docker") {
            return Err(invalid());
        } else {
            return Err(InputError::LogSourceScheme {
                entry: excerpt(entry),
                scheme: excerpt(scheme),
            });
        };
        Ok(source)
    }

    /// The node an agent must run on to read this source, if it matters: journal and docker are
    /// unix-only, event logs and drive paths (`C:\...`) Windows-only.
    pub fn needs_node(&self) -> Option<Node> {
        match self {
            LogSource::Journal | LogSource::Docker => Some(Node::Unix),
            LogSource::Event(_) => Some(Node::Windows),
            LogSource::File(path) if is_drive_path(path) => Some(Node::Windows),
            LogSource::File(_) => None,
        }
    }

    /// The form kept in the `log_sources` column, readable by Finch 1.x: `journal:`, `docker:`,
    /// `file://` plus the path and `event://` plus the channel, escaped so that Go's `url.Parse`
    /// gives back exactly the path as `url.Path` and, for channels Go accepts as a host at all,
    /// exactly the channel as `url.Host`.
    ///
    /// Go refuses escaped ASCII in a host, so channels with `/`, spaces or `:` are stored
    /// escaped, which 1.x cannot parse (it truncated or dropped them anyway). A Windows drive
    /// path is stored as RFC 8089 has it, `file:///C:/...`; 1.x never handled those either.
    ///
    /// ```
    /// use finch_agent_spec::LogSource;
    ///
    /// assert_eq!(LogSource::Journal.to_stored(), "journal:");
    /// assert_eq!(
    ///     LogSource::File("/var/log/a b?.log".into()).to_stored(),
    ///     "file:///var/log/a%20b%3F.log"
    /// );
    /// assert_eq!(
    ///     LogSource::Event("Microsoft-Windows-Sysmon/Operational".into()).to_stored(),
    ///     "event://Microsoft-Windows-Sysmon%2FOperational"
    /// );
    /// ```
    pub fn to_stored(&self) -> String {
        match self {
            LogSource::Journal => "journal:".to_owned(),
            LogSource::Docker => "docker:".to_owned(),
            LogSource::File(path) => stored_path(path),
            LogSource::Event(channel) => {
                let mut stored = String::from("event://");
                stored.extend(percent_encoding::utf8_percent_encode(
                    channel,
                    STORED_CHANNEL,
                ));
                stored
            }
        }
    }

    /// Reads a value of the `log_sources` column: the forms [`LogSource::to_stored`] writes and
    /// every form Finch 1.x wrote (Go's re-serialised URLs: `journal:`, `docker:`,
    /// `file:///var/log/syslog`, `event://System`, with `%`-escapes).
    ///
    /// The text after `file://` or `event://` is percent-decoded as a whole. Where 1.x stored a
    /// `?`, `#` or `/` that Go had split off (`file:///var/log/a?.log`,
    /// `event://Microsoft-Windows-Sysmon/Operational`), it is read as part of the path or channel,
    /// which is what the operator typed. A file URL's host is dropped (`file://localhost/x`
    /// reads `/x`), as Go and 1.x did.
    ///
    /// ```
    /// use finch_agent_spec::LogSource;
    ///
    /// assert_eq!(LogSource::from_stored("journal:"), Ok(LogSource::Journal));
    /// assert_eq!(
    ///     LogSource::from_stored("file:///var/log/a%20b.log"),
    ///     Ok(LogSource::File("/var/log/a b.log".into()))
    /// );
    /// assert_eq!(LogSource::from_stored("event://System"), Ok(LogSource::Event("System".into())));
    /// ```
    pub fn from_stored(value: &str) -> Result<Self, StoredFormError> {
        let unreadable = || StoredFormError(excerpt(value));
        let (scheme, rest) = value.split_once(':').ok_or_else(unreadable)?;
        let scheme_is = |name: &str| scheme.eq_ignore_ascii_case(name);
        let bare = rest.is_empty() || rest == "//";
        if scheme_is("journal") && bare {
            Ok(LogSource::Journal)
        } else if scheme_is("docker") && bare {
            Ok(LogSource::Docker)
        } else if scheme_is("file") {
            let path = stored_path_part(rest).ok_or_else(unreadable)?;
            decode(path).map(LogSource::File).ok_or_else(unreadable)
        } else if scheme_is("event") {
            let channel = rest.strip_prefix("//").unwrap_or(rest);
            decode(channel).map(LogSource::Event).ok_or_else(unreadable)
        } else {
            Err(unreadable())
        }
    }
}

impl fmt::Display for LogSource {
    /// The input form, which [`LogSource::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogSource::Journal => f.write_str("journal://"),
            LogSource::Docker => f.write_str("docker://"),
            LogSource::File(path) => write!(f, "file://{path}"),
            LogSource::Event(channel) => write!(f, "event://{channel}"),
        }
    }
}

/// Whether `scheme` looks like a URL scheme (`[A-Za-z][A-Za-z0-9+.-]*`) and is not a lone drive
/// letter, so that `/var/log/x` or `C:\x` without `file://` read as "not a log source" rather
/// than as an odd scheme.
fn is_scheme(scheme: &str) -> bool {
    scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Whether `path` is an absolute Windows path with a drive: `C:\...` or `C:/...`.
fn is_drive_path(path: &str) -> bool {
    matches!(path.as_bytes(), [drive, b':', b'\\' | b'/', ..] if drive.is_ascii_alphabetic())
}

/// Whether `text` starts with a drive letter and colon (`C:`).
fn starts_with_drive(text: &str) -> bool {
    matches!(text.as_bytes(), [drive, b':', ..] if drive.is_ascii_alphabetic())
}

/// The stored form of a file path: `file://` and the escaped path. A drive path gets a leading
/// `/` (RFC 8089's `file:///C:/...`); a unix path that would look like one (`/C:/x`) gets its
/// colon escaped instead, so that [`stored_path_part`] can tell the two apart.
fn stored_path(path: &str) -> String {
    let mut stored = String::with_capacity(path.len() + 8);
    stored.push_str("file://");
    let rest = if is_drive_path(path) {
        stored.push('/');
        path
    } else if path.starts_with('/') && starts_with_drive(&path[1..]) {
        stored.push_str(&path[..2]);
        stored.push_str("%3A");
        &path[3..]
    } else {
        path
    };
    stored.extend(percent_encoding::utf8_percent_encode(rest, STORED_PATH));
    stored
}

/// The still-escaped path of a stored file URL, given what follows `file:`.
fn stored_path_part(rest: &str) -> Option<&str> {
    let path = match rest.strip_prefix("//") {
        // `file://C:/x`: Go read `C:` as a host and 1.x stored it so.
        Some(after) if starts_with_drive(after) => return Some(after),
        // The host, if any, is not part of the path (`file://localhost/x`).
        Some(after) => &after[after.find('/')?..],
        // `file:/x`, as newer Go versions re-serialise `file:/x`.
        None if rest.starts_with('/') => rest,
        None => return None,
    };
    match path.strip_prefix('/') {
        Some(drive_path) if starts_with_drive(drive_path) => Some(drive_path),
        _ => Some(path),
    }
}

/// Percent-decodes a stored path or channel; `None` if empty or not UTF-8. A `%` not followed
/// by two hex digits stays as it is.
fn decode(text: &str) -> Option<String> {
    let decoded = percent_decode_str(text).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
