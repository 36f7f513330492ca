//! `finchctl service render DIR`: writes exactly the files a deploy with the same flags would
//! upload into the library, for review and for tests, without connecting anywhere.
//!
//! Like deploy, it keeps what a stack keeps for life: when DIR already holds a rendered stack,
//! its id, secrets, Grafana password and self-signed certificate are read back and used again,
//! so rendering twice changes only what the flags changed. Files are written atomically with the
//! modes a deploy gives them; owners are a deploy's business.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use time::OffsetDateTime;

use super::alert_args::AlertArgs;
use super::stack_args::{self, StackArgs, TlsModeArgs};
use crate::cli::Context;
use crate::output::Problem;
use crate::stack::{self, Alerts, CertificatePair, Existing, RenderedFile, StackSettings};

/// Flags of `service render`.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The directory to write the stack's files into (created if missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The stack's host name or IP address
    #[arg(long = "service.host", value_name = "HOST")]
    pub host: String,
    /// How Traefik gets its certificate.
    #[command(flatten)]
    pub tls: TlsModeArgs,
    /// Retention and images.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Where alerts go.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// Renders the stack into `args.dir`.
pub fn run(args: &RenderArgs, cx: &Context) -> anyhow::Result<()> {
    let dir = &args.dir;
    if dir.exists() && !dir.is_dir() {
        return Err(
            Problem::usage(format!("{} is not a directory", dir.display()))
                .hint("name a directory to render the stack into")
                .into(),
        );
    }
    stack::check_host(&args.host).map_err(|e| Problem::usage(e.to_string()))?;
    let now = OffsetDateTime::now_utc();
    let existing = read_existing(dir)?;
    let generated = existing
        .generated(&args.host, now)
        .with_context(|| format!("{}", dir.join(stack::finch_json::PATH).display()))?;
    let kept_replicas = read_optional(&dir.join(stack::compose::PATH))?
        .and_then(|compose| stack::compose::replicas(&compose));
    let (database, replicas) = args
        .stack
        .database_or(&existing, &generated, kept_replicas)?;
    let settings = StackSettings {
        host: args.host.clone(),
        tls: args.tls.resolve(&args.host, &existing, now)?,
        retention: args.stack.retention_or(None),
        images: args.stack.images()?,
        ports: args.stack.ports()?,
        generated,
        database,
        replicas,
        // The host's own daemon: deploy mounts the one --docker.host names.
        docker_socket: stack::deploy::docker::DEFAULT_SOCKET.to_owned(),
        alerts: args.alerts.resolve(read_alerts(dir)?, &args.host)?,
    };
    let files = stack::render(&settings)?;
    stack_args::warn_database_change(cx, &existing, &settings, &format!("in {}", dir.display()));
    write(dir, &files)?;
    let mut listing = String::new();
    for file in &files {
        listing.push_str(&file.path);
        listing.push('\n');
    }
    crate::output::stdout(&listing)?;
    let verb = if existing.finch_json.is_some() {
        "Kept"
    } else {
        "Generated"
    };
    cx.output.status(
        verb,
        &format!(
            "the stack's id, secrets and Grafana password in {}",
            dir.display()
        ),
    );
    cx.output.status(
        "Rendered",
        &format!(
            "{} files for {} into {}",
            files.len(),
            args.host,
            dir.display()
        ),
    );
    Ok(())
}

/// Reads what an earlier render left in `dir`.
fn read_existing(dir: &Path) -> anyhow::Result<Existing> {
    let cert = read_optional(&dir.join(stack::tls::CERT_PATH))?;
    let key = read_optional(&dir.join(stack::tls::KEY_PATH))?;
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Ok(Existing {
        finch_json: read_optional(&dir.join(stack::finch_json::PATH))?,
        grafana_password: read_optional(&dir.join(stack::grafana::PASSWORD_PATH))?.map(text),
        certificate: match (cert, key) {
            (Some(cert), Some(key)) => Some(CertificatePair {
                cert_pem: text(cert),
                key_pem: text(key),
            }),
            _ => None,
        },
        database_root_cert: read_optional(&dir.join(stack::database::ROOT_CERT_PATH))?,
    })
}

/// Where alerts went in an earlier render in `dir`.
fn read_alerts(dir: &Path) -> anyhow::Result<Alerts> {
    let mut files = std::collections::BTreeMap::new();
    for path in stack::alerts::FILES {
        if let Some(bytes) = read_optional(&dir.join(path))? {
            files.insert(path, bytes);
        }
    }
    Ok(Alerts::kept(|path| files.get(path).map(Vec::as_slice)))
}

fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes every file atomically with its mode, and removes the files an earlier render wrote
/// when this one has none: the certificate pair (a switch to Let's Encrypt), the database's CA
/// file, the contact points and the SMTP password (alerts no longer sent that way).
fn write(dir: &Path, files: &[RenderedFile]) -> anyhow::Result<()> {
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::profile::write_atomic(&path, |f| {
            std::io::Write::write_all(f, &file.contents)?;
            f.set_permissions(std::fs::Permissions::from_mode(file.mode))
        })?;
    }
    for stale in [
        stack::tls::CERT_PATH,
        stack::tls::KEY_PATH,
        stack::grafana::contact_points::PATH,
        stack::grafana::SMTP_PASSWORD_PATH,
        stack::database::ROOT_CERT_PATH,
    ] {
        if !files.iter().any(|f| f.path == stale) {
            let path = dir.join(stale);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            }
        }
    }
    Ok(())
}
