//! `~/.config/finch.json`: the stacks this workstation can reach and their client credentials.
//!
//! The file keeps Finch 1.x's shape, `{ "stacks": [ { "name", "cert", "key" } ] }` with base64
//! PEM values, so that 1.x and this finchctl can share it. We add one optional key per stack,
//! `server_pin` (`sha256/<base64>` of the server certificate's DER), which 1.x ignores; keys we
//! do not know are kept as they were. Every write is atomic (a temp file in the same directory,
//! then rename), mode 0600, after copying the previous file to `finch.json~`: the file holds
//! private keys, and a crash mid-write must never cost the operator access to a stack.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The environment variable naming the directory that holds `finch.json`.
pub const ENV_FINCH_CONFIG: &str = "FINCH_CONFIG";
/// The directory under `$HOME` used when `FINCH_CONFIG` is unset.
pub const DEFAULT_CONFIG_DIR: &str = ".config";
/// The file name, as 1.x.
pub const FILE_NAME: &str = "finch.json";

/// What can go wrong with the profile file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Neither `FINCH_CONFIG` nor `HOME` is set.
    #[error(
        "cannot find finch.json: neither FINCH_CONFIG nor HOME is set; set FINCH_CONFIG to a directory"
    )]
    NoLocation,
    /// Reading or writing failed.
    #[error("{path}: {err}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        err: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path}: not a valid finch.json ({err}); fix it or restore {path}~")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        err: serde_json::Error,
    },
    /// A stack entry holds a value that is not base64 PEM.
    #[error("{path}: stack {name:?} has an invalid {field}: {reason}")]
    BadEntry {
        /// The file.
        path: PathBuf,
        /// The stack name.
        name: String,
        /// `cert` or `key`.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// The loaded profile file and where it lives.
#[derive(Debug, Clone)]
pub struct Profile {
    path: PathBuf,
    file: ProfileFile,
}

/// One stack's credentials, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct Stack {
    /// The service name: the host name (optionally with a port) the stack is reached at.
    pub name: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The client key, PEM (SEC1 as 1.x writes it; PKCS#8 is accepted too).
    pub key_pem: String,
    /// The pinned server certificate, `sha256/<base64>`, when the stack has one.
    pub server_pin: Option<String>,
}

/// The on-disk shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ProfileFile {
    #[serde(default)]
    stacks: Vec<StackEntry>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct StackEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cert: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    key: String,
    /// Finch 2 addition; 1.x ignores it (and drops it when it rewrites the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server_pin: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

// === impl Profile ===

impl Profile {
    /// Where finch.json lives: `$FINCH_CONFIG/finch.json`, else `$HOME/.config/finch.json`.
    pub fn locate(
        finch_config: Option<&Path>,
        home: Option<&Path>,
    ) -> Result<PathBuf, ProfileError> {
        match (finch_config, home) {
            (Some(dir), _) if !dir.as_os_str().is_empty() => Ok(dir.join(FILE_NAME)),
            (_, Some(home)) if !home.as_os_str().is_empty() => {
                Ok(home.join(DEFAULT_CONFIG_DIR).join(FILE_NAME))
            }
            _ => Err(ProfileError::NoLocation),
        }
    }

    /// Loads the file at `path`; a missing file (or directory) is an empty profile.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| ProfileError::Parse {
                path: path.to_owned(),
                err,
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => ProfileFile::default(),
            Err(err) => {
                return Err(ProfileError::Io {
                    path: path.to_owned(),
                    err,
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of all stacks, in file order.
    pub fn names(&self) -> Vec<String> {
        self.file.stacks.iter().map(|s| s.name.clone()).collect()
    }

    /// The stack called `name`, decoded; `None` when there is none.
    pub fn stack(&self, name: &str) -> Result<Option<Stack>, ProfileError> {
        let Some(entry) = self.file.stacks.iter().find(|s| s.name == name) else {
            return Ok(None);
        };
        let decode = |field: &'static str, value: &str| {
            let bytes = BASE64
                .decode(value.trim())
                .map_err(|e| self.bad_entry(name, field, format!("not base64 ({e})")))?;
            String::from_utf8(bytes).map_err(|_| self.bad_entry(name, field, "not PEM text".into()))
        };
        Ok(Some(Stack {
            name: entry.name.clone(),
            cert_pem: decode("cert", &entry.cert)?,
            key_pem: decode("key", &entry.key)?,
            server_pin: entry.server_pin.clone(),
        }))
    }

    /// Adds `stack`, replacing an entry of the same name (1.x removes it and appends).
    pub fn upsert(&mut self, stack: &Stack) {
        let previous = self.file.stacks.iter().position(|s| s.name == stack.name);
        let extra = previous
            .map(|i| self.file.stacks.remove(i).extra)
            .unwrap_or_default();
        self.file.stacks.push(StackEntry {
            name: stack.name.clone(),
            cert: BASE64.encode(stack.cert_pem.as_bytes()),
            key: BASE64.encode(stack.key_pem.as_bytes()),
            server_pin: stack.server_pin.clone(),
            extra,
        });
    }

    /// Removes the stack called `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.file.stacks.len();
        self.file.stacks.retain(|s| s.name != name);
        before != self.file.stacks.len()
    }

    /// Sets or clears the server pin of stack `name`; returns whether the stack exists.
    pub fn set_pin(&mut self, name: &str, pin: Option<String>) -> bool {
        match self.file.stacks.iter_mut().find(|s| s.name == name) {
            Some(entry) => {
                entry.server_pin = pin;
                true
            }
            None => false,
        }
    }

    /// Writes the profile: creates the directory (0700) when missing, copies the current file
    /// to `finch.json~`, then replaces the file atomically with mode 0600.
    pub fn save(&self) -> Result<(), ProfileError> {
        let mut bytes =
            serde_json::to_vec_pretty(&self.file).map_err(|err| ProfileError::Parse {
                path: self.path.clone(),
                err,
            })?;
        bytes.push(b'\n');
        self.save_with(|out| out.write_all(&bytes))
    }

    /// [`Profile::save`] with the body written by `write`, so tests can make the write fail.
    fn save_with(
        &self,
        write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<(), ProfileError> {
        let dir = parent_dir(&self.path);
        create_private_dir(dir)?;
        match std::fs::read(&self.path) {
            Ok(previous) => {
                write_atomic(&backup_path(&self.path), |f| f.write_all(&previous))?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(ProfileError::Io {
                    path: self.path.clone(),
                    err,
                });
            }
        }
        write_atomic(&self.path, write)
    }

    fn bad_entry(&self, name: &str, field: &'static str, reason: String) -> ProfileError {
        ProfileError::BadEntry {
            path: self.path.clone(),
            name: name.to_owned(),
            field,
            reason,
        }
    }
}

// === impl Stack ===

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field("server_pin", &self.server_pin)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

// === impl StackEntry ===

impl std::fmt::Debug for StackEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackEntry")
            .field("name", &self.name)
            .field("server_pin", &self.server_pin)
            .finish_non_exhaustive()
    }
}

/// The backup written before each change: `finch.json~`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("~");
    PathBuf::from(name)
}

/// Writes a file atomically with mode 0600: a temp file in the same directory, filled by
/// `write`, flushed to disk and renamed over `path`. On any error the temp file is removed and
/// `path` is untouched.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), ProfileError> {
    let io = |err| ProfileError::Io {
        path: path.to_owned(),
        err,
    };
    let dir = parent_dir(path);
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".finchctl-")
        .tempfile_in(dir)
        .map_err(io)?;
    write(tmp.as_file_mut()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing parents with mode 0700 (1.x panicked instead, B7).
fn create_private_dir(dir: &Path) -> Result<(), ProfileError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| ProfileError::Io {
        path: dir.to_owned(),
        err,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
