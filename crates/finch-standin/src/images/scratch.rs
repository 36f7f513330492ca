//! [`ScratchImage`]: an image `FROM scratch` holding binaries and the libraries `ldd` lists for
//! them, built with `docker import` and delivered as a `docker save` archive, as
//! `finchctl service deploy --stack.image-archive` takes it.
//!
//! No registry is needed: everything in the image comes from this machine. Archives are cached
//! in a directory under a name that hashes their contents, so a rebuilt binary makes a new image
//! and an unchanged one costs nothing; building an image's new archive removes its older ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

/// Where images are built and cached: the daemon that builds them and the archive directory.
#[derive(Debug, Clone)]
pub struct Builder {
    /// The `DOCKER_HOST` of the daemon that imports and saves the images.
    docker_host: String,
    /// The directory of the archives (and of the digest memos).
    cache: PathBuf,
}

impl Builder {
    /// Images built on the daemon at `docker_host`, cached in `cache` (created when missing).
    pub fn new(docker_host: impl Into<String>, cache: impl Into<PathBuf>) -> Self {
        Self {
            docker_host: docker_host.into(),
            cache: cache.into(),
        }
    }

    /// The archive directory.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// `docker ARGS` on the builder's daemon, to completion; its stdout.
    pub fn docker(&self, args: &[&str]) -> anyhow::Result<String> {
        output(self.command("docker").args(args))
    }

    /// `program` with `DOCKER_HOST` set to the builder's daemon and no stdin.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null());
        command
    }
}

/// An image `FROM scratch`: binaries with their libraries, files, directories and symlinks,
/// an entrypoint and a command, and `PATH` set as in Debian's images.
#[derive(Debug, Clone)]
pub struct ScratchImage {
    /// `name`; the tag is the content hash.
    name: String,
    entries: Vec<Entry>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

/// One thing in an image's root.
#[derive(Debug, Clone)]
enum Entry {
    /// A file copied from this machine; `strip` drops a binary's debug info (a debug build of
    /// finch is 150 MB, a quarter of that without it, and every container copies its image).
    File {
        source: PathBuf,
        dest: String,
        strip: bool,
    },
    /// A directory with its mode.
    Dir { dest: String, mode: u32 },
    /// A symbolic link at `dest` to `target`.
    Symlink { dest: String, target: String },
}

/// The `PATH` of every scratch image: Debian's default, so compose commands find `bash`.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ScratchImage {
    /// An image called `name` (a stand-in's name says it is one), with a world-writable `/tmp`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            entries: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
        }
        .dir("/tmp", 0o1777)
    }

    /// Copies a binary to `dest` in the image without its debug info, with every library
    /// `ldd` lists for it.
    pub fn binary(mut self, source: &Path, dest: &str) -> anyhow::Result<Self> {
        for library in libraries(source)? {
            let dest = library.to_string_lossy().into_owned();
            if !self.has(&dest) {
                self = self.entry(Entry::File {
                    source: library,
                    dest,
                    strip: false,
                });
            }
        }
        Ok(self.entry(Entry::File {
            source: source.to_owned(),
            dest: dest.to_owned(),
            strip: true,
        }))
    }

    /// Copies the named programs of this machine's `PATH` to `/usr/bin`, with their libraries.
    pub fn tools(mut self, names: &[&str]) -> anyhow::Result<Self> {
        for name in names {
            let source = which(name)?;
            self = self.binary(&source, &format!("/usr/bin/{name}"))?;
        }
        Ok(self)
    }

    /// Copies a plain file to `dest` in the image.
    pub fn file(self, source: &Path, dest: &str) -> Self {
        self.entry(Entry::File {
            source: source.to_owned(),
            dest: dest.to_owned(),
            strip: false,
        })
    }

    /// A directory with `mode`.
    pub fn dir(self, dest: &str, mode: u32) -> Self {
        self.entry(Entry::Dir {
            dest: dest.to_owned(),
            mode,
        })
    }

    /// A symbolic link at `dest` pointing to `target`.
    pub fn symlink(self, dest: &str, target: &str) -> Self {
        self.entry(Entry::Symlink {
            dest: dest.to_owned(),
            target: target.to_owned(),
        })
    }

    /// The entrypoint, as the exec form of a Dockerfile's.
    pub fn entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The command (the entrypoint's default arguments), as the exec form of a Dockerfile's.
    pub fn cmd(mut self, argv: &[&str]) -> Self {
        self.cmd = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    fn has(&self, path: &str) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::File { dest, .. } | Entry::Dir { dest, .. } | Entry::Symlink { dest, .. } => {
                dest == path
            }
        })
    }

    /// Builds the image (or finds it cached): its reference `name:HASH` and the archive.
    pub fn archive(&self, builder: &Builder) -> anyhow::Result<(String, PathBuf)> {
        let cache = builder.cache();
        std::fs::create_dir_all(cache)
            .with_context(|| format!("cannot create the image cache {}", cache.display()))?;
        let mut hash = Sha256::new();
        for entry in &self.entries {
            // What the entry is, then what a copied file holds.
            hash.update(format!("{entry:?}\0"));
            if let Entry::File { source, .. } = entry {
                hash.update(file_digest(cache, source)?);
            }
        }
        for (key, value) in self.changes()? {
            hash.update(format!("{key} {value}\0"));
        }
        let tag = content_tag(&hash.finalize());
        let reference = format!("{}:{tag}", self.name);
        let archive = cache.join(format!("{}-{tag}.tar", self.name.replace('/', "_")));
        if !archive.exists() {
            self.build(builder, &reference, &archive)
                .with_context(|| format!("cannot build the image {reference}"))?;
        }
        Ok((reference, archive))
    }

    /// The Dockerfile instructions `docker import --change` applies.
    fn changes(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        let json = |argv: &Vec<String>| serde_json::to_string(argv);
        let mut changes = vec![
            ("ENV", format!("PATH={PATH}")),
            ("ENTRYPOINT", json(&self.entrypoint)?),
        ];
        if !self.cmd.is_empty() {
            changes.push(("CMD", json(&self.cmd)?));
        }
        Ok(changes)
    }

    /// `docker import` of a root filesystem, then `docker save` (atomically) to `archive`.
    fn build(&self, builder: &Builder, reference: &str, archive: &Path) -> anyhow::Result<()> {
        let root = tempfile::tempdir().context("cannot create a temporary image root")?;
        for entry in &self.entries {
            place(root.path(), entry)?;
        }
        let rootfs = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
        output(
            Command::new("tar")
                .arg("-C")
                .arg(root.path())
                .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
                .arg(rootfs.path())
                .arg("."),
        )?;
        let mut import = vec!["import".to_owned()];
        for (key, value) in self.changes()? {
            import.push("--change".to_owned());
            import.push(format!("{key} {value}"));
        }
        import.push(rootfs.path().to_string_lossy().into_owned());
        import.push(reference.to_owned());
        output(builder.command("docker").args(&import))?;
        // Unique per process: two builds may make the same image at once.
        let partial = archive.with_extension(format!("tar.{}.partial", std::process::id()));
        builder.docker(&["save", "-o", &partial.to_string_lossy(), reference])?;
        std::fs::rename(&partial, archive)
            .with_context(|| format!("cannot move {} in place", archive.display()))?;
        self.prune(builder, archive);
        Ok(())
    }

    /// Removes this image's older archives and, where no container uses them, their images:
    /// every rebuilt binary makes a new one, and the cache would only grow. Best effort.
    fn prune(&self, builder: &Builder, current: &Path) {
        let prefix = format!("{}-", self.name.replace('/', "_"));
        let Some(Ok(entries)) = current.parent().map(std::fs::read_dir) else {
            return;
        };
        for path in entries.filter_map(|entry| Some(entry.ok()?.path())) {
            let Some(tag) = path
                .file_name()
                .and_then(|name| name.to_str()?.strip_prefix(&prefix)?.strip_suffix(".tar"))
            else {
                continue;
            };
            if path != current && tag.bytes().all(|b| b.is_ascii_hexdigit()) {
                let _ = std::fs::remove_file(&path);
                let _ = builder
                    .command("docker")
                    .args(["rmi", &format!("{}:{tag}", self.name)])
                    .output();
            }
        }
    }
}

/// Puts one entry into the image's root at `root`.
fn place(root: &Path, entry: &Entry) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let at = |dest: &str| -> anyhow::Result<PathBuf> {
        let target = root.join(dest.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        Ok(target)
    };
    match entry {
        Entry::File {
            source,
            dest,
            strip,
        } => {
            let target = at(dest)?;
            std::fs::copy(source, &target)
                .with_context(|| format!("cannot copy {}", source.display()))?;
            if *strip {
                output(Command::new("strip").arg("--strip-debug").arg(&target))?;
            }
        }
        Entry::Dir { dest, mode } => {
            let target = at(dest)?;
            std::fs::create_dir_all(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))
                .with_context(|| format!("cannot set the mode of {}", target.display()))?;
        }
        Entry::Symlink { dest, target } => {
            let link = at(dest)?;
            std::os::unix::fs::symlink(target, &link)
                .with_context(|| format!("cannot create the symlink {}", link.display()))?;
        }
    }
    Ok(())
}

/// Runs a prepared command to completion; its stdout, or an error with its stderr.
fn output(command: &mut Command) -> anyhow::Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The SHA-256 of a file's contents in hex, remembered in the cache under the file's path, size
/// and modification time: hashing a debug build's binaries (hundreds of megabytes) took a
/// minute on every run, and they rarely change between runs.
fn file_digest(cache: &Path, source: &Path) -> anyhow::Result<String> {
    let meta =
        std::fs::metadata(source).with_context(|| format!("cannot read {}", source.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    let key = format!("{}\0{}\0{modified}", source.display(), meta.len());
    let memo = cache
        .join("digests")
        .join(content_tag(&Sha256::digest(key.as_bytes())));
    if let Ok(digest) = std::fs::read_to_string(&memo) {
        return Ok(digest);
    }
    let contents =
        std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
    let digest: String = Sha256::digest(&contents)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let memos = cache.join("digests");
    std::fs::create_dir_all(&memos)
        .with_context(|| format!("cannot create {}", memos.display()))?;
    write_atomically(&memo, digest.as_bytes())?;
    Ok(digest)
}

/// Writes `contents` to a temporary file beside `path`, then renames it into place.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&partial, contents)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("cannot move {} in place", path.display()))
}

/// The tag of content with this SHA-256 digest: its first 16 hex digits.
pub(crate) fn content_tag(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A program on this machine's `PATH`.
fn which(name: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .with_context(|| format!("{name} is not on PATH"))
}

/// The libraries `ldd` lists for a binary (none for a static one), the loader included.
fn libraries(binary: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd")?;
    // A static binary makes ldd fail with "not a dynamic executable".
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}
