//! Log sources: where an agent reads logs from, in input, stored and rendered forms.

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

impl LogSource {
    /// The form kept in the `log_sources` column, readable by Finch 1.x.
    pub fn to_stored(&self) -> String {
        match self {
            LogSource::Journal => "journal:".to_owned(),
            LogSource::Docker => "docker:".to_owned(),
            LogSource::File(path) => format!("file://{path}"),
            LogSource::Event(name) => format!("event://{name}"),
        }
    }

    /// Reads a value of the `log_sources` column, including the forms Finch 1.x wrote.
    pub fn from_stored(value: &str) -> Result<Self, StoredFormError> {
        match value {
            "journal:" | "journal://" => Ok(LogSource::Journal),
            "docker:" | "docker://" => Ok(LogSource::Docker),
            _ => Err(StoredFormError(value.to_owned())),
        }
    }
}
