//! The plan model: what a command wants done on a host, as a list of named steps.
//!
//! A step is a command (argv, quoted here), a fixed shell script with quoted positional
//! arguments, or an upload. Plans say whether a step needs root; the runner adds `sudo -n`
//! only when the remote user is not root, so root works on a host without the sudo package.
//! The plan knows nothing about where it runs: local, SSH and dry-run targets take the same
//! [`Plan`].

use std::fmt;

use bytes::Bytes;

use crate::target::quote;

/// The `sh -c` script that installs an upload: contents arrive on stdin (never in argv, so a
/// secret does not show in `ps`), land in a 0700 directory beside the destination (same file
/// system, so the final rename is atomic), are checked for length (a cut-off stream fails and
/// leaves the old file), then get mode and owner and are renamed into place.
const UPLOAD_SCRIPT: &str = r#"set -e
dest=$1 mode=$2 owner=$3 size=$4
tmp=$(mktemp -d "$(dirname -- "$dest")/.finch-upload.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
cat > "$tmp/file"
got=$(wc -c < "$tmp/file")
if [ "$got" -ne "$size" ]; then echo "upload cut short: $got of $size bytes" >&2; exit 1; fi
chmod "$mode" "$tmp/file"
if [ -n "$owner" ]; then chown "$owner" "$tmp/file"; fi
mv -f -- "$tmp/file" "$dest""#;

/// The `$0` of the scripts finchctl runs, so they are recognisable in `ps` on the host.
pub const SCRIPT_NAME: &str = "finchctl";

/// What to run on a target, in order. The first failing step stops the plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The steps.
    pub steps: Vec<Step>,
}

/// One named step.
#[derive(Clone)]
pub struct Step {
    /// What the step does, for people ("Create the data directory").
    pub name: String,
    /// What runs.
    pub action: Action,
    /// Whether the step needs root (then it runs under `sudo -n` for other users).
    pub as_root: bool,
}

/// What a step runs.
#[derive(Clone)]
pub enum Action {
    /// A command and its arguments, each quoted.
    Argv(Vec<String>),
    /// A fixed script run by `sh -c`, with arguments given as its quoted positional parameters.
    /// The script is code the plan wrote; values go in `args`, never into `script`.
    Script {
        /// The script's text.
        script: String,
        /// `$1`, `$2`, … of the script.
        args: Vec<String>,
    },
    /// File contents installed atomically at `dest`.
    Upload(Upload),
}

/// A file to install on the target.
#[derive(Clone)]
pub struct Upload {
    /// The absolute path on the target.
    pub dest: String,
    /// The contents (may be a secret: never printed, never on a command line).
    pub contents: Bytes,
    /// The mode, in octal (`0600`).
    pub mode: u32,
    /// `user[:group]` for chown, or none to keep the uploading user's.
    pub owner: Option<String>,
}

// === impl Plan ===

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step.
    pub fn push(&mut self, step: Step) -> &mut Self {
        self.steps.push(step);
        self
    }
}

// === impl Step ===

impl Step {
    /// A command run as root, argv quoted.
    pub fn run<S: Into<String>>(
        name: impl Into<String>,
        argv: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            name: name.into(),
            action: Action::Argv(argv.into_iter().map(Into::into).collect()),
            as_root: true,
        }
    }

    /// A fixed script run as root, with quoted arguments.
    pub fn script<S: Into<String>>(
        name: impl Into<String>,
        script: impl Into<String>,
        args: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            name: name.into(),
            action: Action::Script {
                script: script.into(),
                args: args.into_iter().map(Into::into).collect(),
            },
            as_root: true,
        }
    }

    /// An upload, done as root.
    pub fn upload(name: impl Into<String>, upload: Upload) -> Self {
        Self {
            name: name.into(),
            action: Action::Upload(upload),
            as_root: true,
        }
    }

    /// The same step, run as the connecting user.
    pub fn as_user(mut self) -> Self {
        self.as_root = false;
        self
    }

    /// The command line this step runs for a user (`root` says whether it is root): the exact
    /// text the documentation format prints, and the text the host's shell parses.
    pub fn command_line(&self, root: bool) -> String {
        let sudo = if self.as_root && !root {
            "sudo -n -- "
        } else {
            ""
        };
        let body = match &self.action {
            Action::Argv(argv) => quote::join(argv),
            Action::Script { script, args } => script_line(script, args),
            Action::Upload(u) => script_line(
                UPLOAD_SCRIPT,
                &[
                    u.dest.clone(),
                    format!("{:04o}", u.mode),
                    u.owner.clone().unwrap_or_default(),
                    u.contents.len().to_string(),
                ],
            ),
        };
        format!("{sudo}{body}")
    }

    /// What the documentation format shows: the command, or for an upload what lands where
    /// (the script is the same for every upload, and the contents are never shown).
    pub fn describe(&self, root: bool) -> String {
        match &self.action {
            Action::Upload(u) => {
                let sudo = if self.as_root && !root {
                    "sudo -n "
                } else {
                    ""
                };
                let owner = u
                    .owner
                    .as_deref()
                    .map(|o| format!(", owner {o}"))
                    .unwrap_or_default();
                format!(
                    "{sudo}upload {} bytes on stdin to {} (mode {:04o}{owner})",
                    u.contents.len(),
                    quote::quote(&u.dest),
                    u.mode
                )
            }
            _ => self.command_line(root),
        }
    }

    /// The bytes the step reads on stdin: an upload's contents, nothing otherwise.
    pub fn stdin(&self) -> Option<&[u8]> {
        match &self.action {
            Action::Upload(u) => Some(&u.contents),
            _ => None,
        }
    }
}

/// Hand-written so an upload's contents never reach a log or an error.
impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("command", &self.describe(false))
            .field("as_root", &self.as_root)
            .finish()
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Argv(argv) => f.debug_tuple("Argv").field(argv).finish(),
            Action::Script { args, .. } => f.debug_struct("Script").field("args", args).finish(),
            Action::Upload(u) => f.debug_tuple("Upload").field(u).finish(),
        }
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("dest", &self.dest)
            .field("bytes", &self.contents.len())
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// `sh -c <script> finchctl <args…>`, all quoted.
fn script_line(script: &str, args: &[String]) -> String {
    let mut words = vec!["sh", "-c", script, SCRIPT_NAME];
    words.extend(args.iter().map(String::as_str));
    quote::join(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_only_for_non_root_and_root_steps() {
        let step = Step::run("make dir", ["mkdir", "-p", "/a b"]);
        assert_eq!(step.command_line(true), "mkdir -p '/a b'");
        assert_eq!(step.command_line(false), "sudo -n -- mkdir -p '/a b'");
        assert_eq!(step.as_user().command_line(false), "mkdir -p '/a b'");
    }

    #[test]
    fn upload_contents_stay_out_of_lines_and_debug() {
        let step = Step::upload(
            "secret",
            Upload {
                dest: "/etc/finch/secret".into(),
                contents: Bytes::from_static(b"hunter2"),
                mode: 0o600,
                owner: Some("root:root".into()),
            },
        );
        for text in [
            step.command_line(false),
            step.describe(true),
            format!("{step:?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert_eq!(
            step.describe(true),
            "upload 7 bytes on stdin to /etc/finch/secret (mode 0600, owner root:root)"
        );
    }
}
