//! The archive file on the workstation: a gzip-compressed tar (tar + flate2, the format and
//! crates cargo itself uses for `.crate` files) holding `manifest.json` first, then the
//! library's entries under `library/`, with their modes and numeric owners.
//!
//! [`write`] writes it 0600 beside its final path and renames it into place, so a crash
//! leaves no half archive under the name. [`read`] checks everything before it returns:
//! the manifest's format and paths, every file's size and SHA-256, nothing missing and nothing
//! extra, gzip's CRC of the whole stream and nothing after it. (A few bits of the file carry
//! nothing, such as gzip's time stamp or a deflate block's padding: a change there changes no
//! byte that is restored.) [`Archive::payload`] is the plain tar a restore unpacks on the host.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;

use super::manifest::{Entry, Kind, Manifest, ManifestError};

/// The manifest's name in the archive.
pub const MANIFEST: &str = "manifest.json";
/// The directory of the library's entries in the archive.
const LIBRARY: &str = "library/";

/// A checked archive: its manifest and each entry with its contents (empty for directories),
/// in the manifest's order.
#[derive(Clone)]
pub struct Archive {
    /// The manifest.
    pub manifest: Manifest,
    /// The entries' contents, by path.
    pub contents: BTreeMap<String, Vec<u8>>,
}

/// Why an archive cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The archive is not a readable gzip-compressed tar, or has no manifest first.
    #[error("{path} is damaged or not a Finch backup: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The contents do not match the manifest.
    #[error("{path} does not match its manifest: {source}")]
    Mismatch {
        /// The file.
        path: String,
        /// What differs.
        source: ManifestError,
    },
}

// === impl Archive ===

impl Archive {
    /// The plain tar of the library's entries, as `tar -x` on the host unpacks it into the
    /// library (parents before children, modes and numeric owners kept).
    pub fn payload(&self) -> std::io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in &self.manifest.entries {
            let contents = self
                .contents
                .get(&entry.path)
                .map_or(&[][..], Vec::as_slice);
            append(&mut builder, entry, &entry.path, contents)?;
        }
        builder.into_inner()
    }
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The contents hold the stack's secrets.
        f.debug_struct("Archive")
            .field("manifest.entries", &self.manifest.entries.len())
            .finish()
    }
}

/// Writes `archive` to `path`, 0600, atomically; returns its size in bytes.
pub fn write(path: &Path, archive: &Archive) -> Result<u64, ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600, in the same directory so the rename is atomic.
    let mut temp = tempfile::Builder::new()
        .prefix(".finch-backup.")
        .tempfile_in(dir)
        .map_err(io)?;
    {
        let gzip = GzEncoder::new(temp.as_file_mut(), Compression::default());
        let mut builder = tar::Builder::new(gzip);
        let manifest = serde_json::to_vec_pretty(&archive.manifest)
            .map_err(|e| io(std::io::Error::other(e)))?;
        let header = Entry {
            path: MANIFEST.to_owned(),
            kind: Kind::File,
            mode: 0o600,
            uid: 0,
            gid: 0,
            size: manifest.len() as u64,
            sha256: String::new(),
        };
        append(&mut builder, &header, MANIFEST, &manifest).map_err(io)?;
        for entry in &archive.manifest.entries {
            let contents = archive
                .contents
                .get(&entry.path)
                .map_or(&[][..], Vec::as_slice);
            append(
                &mut builder,
                entry,
                &format!("{LIBRARY}{}", entry.path),
                contents,
            )
            .map_err(io)?;
        }
        builder.into_inner().and_then(|g| g.finish()).map_err(io)?;
    }
    temp.as_file().sync_all().map_err(io)?;
    let file = temp.persist(path).map_err(|e| io(e.error))?;
    file.metadata().map(|m| m.len()).map_err(io)
}

/// Reads and checks the archive at `path`.
pub fn read(path: &Path) -> Result<Archive, ArchiveError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ArchiveError::Io {
        path: name.clone(),
        source,
    })?;
    let damaged = |reason: String| ArchiveError::Damaged {
        path: name.clone(),
        reason,
    };
    let mismatch = |source| ArchiveError::Mismatch {
        path: name.clone(),
        source,
    };
    let mut rest = bytes.as_slice();
    let mut tar = tar::Archive::new(GzDecoder::new(&mut rest));
    let mut manifest: Option<Manifest> = None;
    let mut contents = BTreeMap::new();
    for entry in tar.entries().map_err(|e| damaged(e.to_string()))? {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let entry_path = entry
            .path()
            .map_err(|e| damaged(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| damaged(e.to_string()))?;
        let Some(manifest) = &manifest else {
            if entry_path != MANIFEST {
                return Err(damaged(format!(
                    "it starts with {entry_path:?}, not {MANIFEST}"
                )));
            }
            let parsed: Manifest =
                serde_json::from_slice(&data).map_err(|e| damaged(format!("{MANIFEST}: {e}")))?;
            parsed.check().map_err(mismatch)?;
            manifest = Some(parsed);
            continue;
        };
        let path = entry_path
            .strip_prefix(LIBRARY)
            .map(|p| p.trim_end_matches('/').to_owned())
            .ok_or_else(|| mismatch(ManifestError::Unlisted(entry_path.clone())))?;
        let listed = manifest
            .entry(&path)
            .ok_or_else(|| mismatch(ManifestError::Unlisted(path.clone())))?;
        if listed.kind == Kind::File {
            listed.verify(&data).map_err(mismatch)?;
        }
        if contents.insert(path.clone(), data).is_some() {
            return Err(mismatch(ManifestError::Unlisted(path)));
        }
    }
    // Read to the end, so gzip's checksum of the whole stream is checked, and refuse
    // anything after it.
    let mut gzip = tar.into_inner();
    std::io::copy(&mut gzip, &mut std::io::sink()).map_err(|e| damaged(e.to_string()))?;
    drop(gzip);
    if !rest.is_empty() {
        return Err(damaged(format!("{} bytes follow its end", rest.len())));
    }
    let manifest = manifest.ok_or_else(|| damaged(format!("it has no {MANIFEST}")))?;
    if let Some(missing) = manifest
        .entries
        .iter()
        .find(|e| !contents.contains_key(&e.path))
    {
        return Err(mismatch(ManifestError::Missing(missing.path.clone())));
    }
    Ok(Archive { manifest, contents })
}

/// Appends one entry as `name`, with the entry's kind, mode and owner.
fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &Entry,
    name: &str,
    contents: &[u8],
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(entry.mode);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(0);
    match entry.kind {
        Kind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, format!("{name}/"), &[][..])
        }
        Kind::File => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(contents.len() as u64);
            builder.append_data(&mut header, name, contents)
        }
    }
}

#[cfg(test)]
mod tests;
