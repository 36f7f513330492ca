//! The archive's `manifest.json`: what the archive holds (every entry's path, kind, mode,
//! owner, size and SHA-256), where it came from (the stack's id and host name, its name in the
//! profile, the images and finchctl's release) and what the registry held (its agents).
//!
//! A restore checks every entry against it before anything on the host changes, so a damaged
//! or tampered archive is refused, not half restored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's own format; a restore refuses others.
pub const FORMAT: u32 = 1;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// When the backup was taken, RFC 3339.
    pub created_at: String,
    /// The finchctl release that took it.
    pub finchctl: String,
    /// The stack's id (`finch.json`).
    pub id: String,
    /// The stack's host name (`finch.json`).
    pub hostname: String,
    /// The stack's name in the operator's profile when it was backed up.
    pub service_name: String,
    /// The registry's backend: `sqlite` or `postgres`.
    pub database: String,
    /// The agents the registry held at the backup's instant.
    pub agents: u64,
    /// Whether Loki's, Mimir's, Pyroscope's and Alloy's data are in (`--backup.data`).
    pub data: bool,
    /// The image of each service, from the compose file.
    pub images: BTreeMap<String, String>,
    /// Every entry, paths relative to the library.
    pub entries: Vec<Entry>,
}

/// One entry of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path relative to the library, `/`-separated, without `.` or `..` parts.
    pub path: String,
    /// A directory or a file.
    pub kind: Kind,
    /// The mode bits (`0o600`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u64,
    /// Owner gid.
    pub gid: u64,
    /// A file's size in bytes (0 for a directory).
    pub size: u64,
    /// A file's SHA-256, hex (empty for a directory).
    pub sha256: String,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// Why an archive does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The manifest is of another format.
    #[error("the manifest is of format {0}; this finchctl reads format {FORMAT}")]
    Format(u32),
    /// An entry's path could escape the library.
    #[error("the entry {0:?} is not a plain relative path")]
    BadPath(String),
    /// A file differs from its checksum.
    #[error("{path} does not match its checksum (sha256 {found}, the manifest says {expected})")]
    Checksum {
        /// The file.
        path: String,
        /// Its SHA-256.
        found: String,
        /// The manifest's.
        expected: String,
    },
    /// An entry is not in the manifest, or twice in the archive.
    #[error("{0} is in the archive but not in its manifest")]
    Unlisted(String),
    /// A manifest entry is missing from the archive.
    #[error("{0} is in the manifest but not in the archive")]
    Missing(String),
}

// === impl Manifest ===

impl Manifest {
    /// Checks the format and that every path stays inside the library.
    pub fn check(&self) -> Result<(), ManifestError> {
        if self.format != FORMAT {
            return Err(ManifestError::Format(self.format));
        }
        match self.entries.iter().find(|e| !plain_path(&e.path)) {
            Some(bad) => Err(ManifestError::BadPath(bad.path.clone())),
            None => Ok(()),
        }
    }

    /// The manifest's entry of `path`.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The files' total size in bytes.
    pub fn size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

// === impl Entry ===

impl Entry {
    /// Checks a file's contents against the entry.
    pub fn verify(&self, contents: &[u8]) -> Result<(), ManifestError> {
        let found = crate::stack::deploy::library::sha256_hex(contents);
        if self.kind == Kind::File && found == self.sha256 && contents.len() as u64 == self.size {
            return Ok(());
        }
        Err(ManifestError::Checksum {
            path: self.path.clone(),
            found,
            expected: self.sha256.clone(),
        })
    }
}

/// Whether `path` is relative and has no empty, `.` or `..` part.
pub fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &[u8]) -> Entry {
        Entry {
            path: path.to_owned(),
            kind: Kind::File,
            mode: 0o400,
            uid: 0,
            gid: 0,
            size: contents.len() as u64,
            sha256: crate::stack::deploy::library::sha256_hex(contents),
        }
    }

    #[test]
    fn only_plain_relative_paths_pass() {
        for good in ["finch.json", "traefik/etc/certs.d/cert.pem", "a/.b"] {
            assert!(plain_path(good), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/"] {
            assert!(!plain_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_changed_byte_fails_the_checksum() {
        let entry = file("finch.json", b"{\"secret\":\"s\"}");
        assert_eq!(entry.verify(b"{\"secret\":\"s\"}"), Ok(()));
        let err = entry.verify(b"{\"secret\":\"t\"}").unwrap_err();
        assert!(
            err.to_string().contains("finch.json does not match"),
            "{err}"
        );
    }

    #[test]
    fn the_format_and_paths_are_checked() {
        let mut manifest = Manifest {
            format: FORMAT,
            created_at: "2026-01-01T00:00:00Z".into(),
            finchctl: "test".into(),
            id: "0123456789abcdef".into(),
            hostname: "h".into(),
            service_name: "h".into(),
            database: "sqlite".into(),
            agents: 0,
            data: false,
            images: BTreeMap::new(),
            entries: vec![file("finch.json", b"{}")],
        };
        assert_eq!(manifest.check(), Ok(()));
        assert_eq!(manifest.size(), 2);
        let json = serde_json::to_string(&manifest).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), manifest);
        manifest.entries.push(file("../escape", b""));
        assert!(matches!(manifest.check(), Err(ManifestError::BadPath(_))));
        manifest.format = 2;
        assert_eq!(manifest.check(), Err(ManifestError::Format(2)));
    }
}
