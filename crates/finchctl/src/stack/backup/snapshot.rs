//! What the host's backup step sends: a tar of the library (without the live databases and,
//! unless `--backup.data`, without the services' data) whose `.finch-backup/` directory holds
//! the consistent copies `finch backup` made and the registry's agent count. [`Snapshot`]
//! reads it into manifest entries, putting each copy at its database's path.

use std::collections::BTreeMap;
use std::io::Read;

use super::manifest::{Entry, Kind};
use crate::stack::deploy::library::sha256_hex;

/// The staging directory in the library, on the host.
pub const STAGE: &str = ".finch-backup";
/// The registry's copy in the stage, and where it belongs in the library.
pub const REGISTRY: (&str, &str) = (".finch-backup/finch.db", "finch.db");
/// Grafana's database's copy in the stage, and where it belongs.
pub const GRAFANA: (&str, &str) = (".finch-backup/grafana.db", "grafana/grafana.db");
/// The stage's file holding `finch backup`'s `agents N`.
pub const AGENTS: &str = ".finch-backup/agents";

/// The library as the host sent it.
#[derive(Clone, Default)]
pub struct Snapshot {
    /// The entries, parents before children.
    pub entries: Vec<Entry>,
    /// Each file's contents.
    pub contents: BTreeMap<String, Vec<u8>>,
    /// The agents in the registry's copy.
    pub agents: Option<u64>,
}

/// The host's tar cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the library the host sent: {0}")]
pub struct SnapshotError(String);

// === impl Snapshot ===

impl Snapshot {
    /// Reads the host's tar; entries other than directories and regular files (links,
    /// sockets) are left out.
    pub fn parse(tar_bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let err = |e: std::io::Error| SnapshotError(e.to_string());
        let mut snapshot = Snapshot::default();
        let mut archive = tar::Archive::new(tar_bytes);
        for entry in archive.entries().map_err(err)? {
            let mut entry = entry.map_err(err)?;
            let raw = entry.path().map_err(err)?.to_string_lossy().into_owned();
            let path = raw
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_owned();
            if path.is_empty() || path == "." || path == STAGE {
                continue;
            }
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => Kind::Dir,
                tar::EntryType::Regular | tar::EntryType::GNUSparse => Kind::File,
                _ => continue,
            };
            let (mode, uid, gid) = (
                header.mode().map_err(err)?,
                header.uid().map_err(err)?,
                header.gid().map_err(err)?,
            );
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(err)?;
            if path == AGENTS {
                let text = String::from_utf8_lossy(&data);
                snapshot.agents = text
                    .trim()
                    .strip_prefix("agents ")
                    .and_then(|n| n.parse().ok());
                continue;
            }
            let path = [REGISTRY, GRAFANA]
                .iter()
                .find(|(staged, _)| *staged == path)
                .map_or(path, |(_, real)| (*real).to_owned());
            let sha256 = if kind == Kind::File {
                sha256_hex(&data)
            } else {
                String::new()
            };
            snapshot.entries.push(Entry {
                size: data.len() as u64,
                path: path.clone(),
                kind,
                // Nothing in the archive is for others (the library is 0700 anyway).
                mode: mode & 0o7770,
                uid,
                gid,
                sha256,
            });
            if kind == Kind::File {
                snapshot.contents.insert(path, data);
            }
        }
        Ok(snapshot)
    }

    /// Whether the library holds `path`.
    pub fn has(&self, path: &str) -> bool {
        self.entries.iter().any(|e| e.path == path)
    }

    /// How many files lie under `dir`.
    pub fn files_under(&self, dir: &str) -> usize {
        self.entries
            .iter()
            .filter(|e| {
                e.kind == Kind::File && e.path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
            })
            .count()
    }
}
