//! The flags that decide what the stack's files say, shared by `service render` and
//! `service deploy` (and `service update` for the stack group): the TLS mode and the stack
//! settings. Parsing does no I/O; [`TlsModeArgs::resolve`] and [`StackArgs::images`] read the
//! files the flags name and report errors that name the flag.

use std::path::{Path, PathBuf};

use clap::Args;
use time::OffsetDateTime;

use crate::cli::Context;
use crate::cli::args::CustomTlsArgs;
use crate::output::Problem;
use crate::stack::database_change::DatabaseChange;
use crate::stack::{
    CertificatePair, Database, Existing, Generated, Images, Ports, PublishedPort, Replicas,
    Retention, StackSettings, TlsMode, tls,
};

/// How Traefik gets its certificate: self-signed unless one of these is given.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsModeArgs {
    /// Get the certificate from Let's Encrypt (needs --service.letsencrypt.email)
    #[arg(long = "service.letsencrypt", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub letsencrypt: Option<bool>,
    /// The e-mail address for Let's Encrypt
    #[arg(long = "service.letsencrypt.email", value_name = "EMAIL")]
    pub letsencrypt_email: Option<String>,
    /// A certificate of your own.
    #[command(flatten)]
    pub custom: CustomTlsArgs,
}

/// The stack's own settings.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// How long logs, metrics and profiles are kept: hours, days or weeks (72h, 30d, 2w);
    /// default 72h, or on a deployed stack what it has
    #[arg(long = "stack.retention", value_name = "DURATION")]
    pub retention: Option<Retention>,
    /// A YAML file mapping service names to image references, overriding the pinned images
    #[arg(long = "stack.images", value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// Where the host publishes Traefik's HTTP port: a port, or ADDR:PORT for one address
    /// ([::1]:8080 for IPv6); default 80, or on a deployed stack what it has
    #[arg(long = "stack.http-port", value_name = "[ADDR:]PORT")]
    pub http_port: Option<PublishedPort>,
    /// Where the host publishes Traefik's HTTPS port: a port, or ADDR:PORT for one address
    /// ([::1]:8443 for IPv6); default 443, or on a deployed stack what it has
    #[arg(long = "stack.https-port", value_name = "[ADDR:]PORT")]
    pub https_port: Option<PublishedPort>,
    /// Finch's database: an external PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DB, with
    /// sslmode and sslrootcert as libpq reads them; a CA file on this workstation is uploaded),
    /// or sqlite://finch.db; default SQLite in the library, or on a deployed stack what it has
    #[arg(long = "stack.database", value_name = "URI")]
    pub database: Option<String>,
    /// How many Finch containers serve the stack behind Traefik's load balancer, 1 to 8 (more
    /// than one needs PostgreSQL); default 1, or on a deployed stack what it has
    #[arg(long = "stack.replicas", value_name = "N")]
    pub replicas: Option<Replicas>,
}

// === impl TlsModeArgs ===

impl TlsModeArgs {
    /// The TLS mode for `host`: reads a custom certificate's files, or keeps `existing`'s
    /// self-signed certificate while it serves the host.
    pub fn resolve(
        &self,
        host: &str,
        existing: &Existing,
        now: OffsetDateTime,
    ) -> anyhow::Result<TlsMode> {
        let letsencrypt = self.letsencrypt.unwrap_or(false);
        let custom = self.custom.customtls.unwrap_or(false);
        if letsencrypt && custom {
            return Err(usage(
                "--service.letsencrypt and --service.customtls exclude each other",
                "choose one way for Traefik to get its certificate",
            ));
        }
        if !letsencrypt && self.letsencrypt_email.is_some() {
            return Err(usage(
                "--service.letsencrypt.email needs --service.letsencrypt",
                "add --service.letsencrypt, or drop the e-mail address",
            ));
        }
        if !custom && (self.custom.customtls_cert.is_some() || self.custom.customtls_key.is_some())
        {
            return Err(usage(
                "--service.customtls.cert and --service.customtls.key need --service.customtls",
                "add --service.customtls",
            ));
        }
        if letsencrypt {
            let Some(email) = &self.letsencrypt_email else {
                return Err(usage(
                    "--service.letsencrypt needs --service.letsencrypt.email",
                    "give the address Let's Encrypt writes to about the certificate",
                ));
            };
            tls::check_email(email).map_err(|e| usage(&e.to_string(), "give a real address"))?;
            return Ok(TlsMode::LetsEncrypt {
                email: email.clone(),
            });
        }
        if custom {
            let (Some(cert), Some(key)) = (&self.custom.customtls_cert, &self.custom.customtls_key)
            else {
                return Err(usage(
                    "--service.customtls needs --service.customtls.cert and --service.customtls.key",
                    "give both PEM files",
                ));
            };
            return Ok(TlsMode::Custom(CertificatePair {
                cert_pem: read_pem(cert, "--service.customtls.cert", "CERTIFICATE")?,
                key_pem: read_pem(key, "--service.customtls.key", "PRIVATE KEY")?,
            }));
        }
        Ok(TlsMode::SelfSigned(existing.self_signed(host, now)?))
    }
}

// === impl StackArgs ===

impl StackArgs {
    /// The images: the pins, with `--stack.images`' overrides.
    pub fn images(&self) -> anyhow::Result<Images> {
        let pinned = Images::pinned(crate::RELEASE);
        let Some(path) = &self.images else {
            return Ok(pinned);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::failed(format!(
                "--stack.images: cannot read {}: {e}",
                path.display()
            ))
        })?;
        Ok(pinned.with_overrides(&text)?)
    }

    /// The retention: the flag's, else `kept` (a deployed stack's), else the default.
    pub fn retention_or(&self, kept: Option<Retention>) -> Retention {
        self.retention.or(kept).unwrap_or_default()
    }

    /// Traefik's published ports, refused when both would take the same port.
    pub fn ports(&self) -> anyhow::Result<Ports> {
        self.ports_or(None)
    }

    /// Traefik's published ports: each flag's, else `kept`'s (a deployed stack's), else the
    /// default; refused when both would take the same port.
    pub fn ports_or(&self, kept: Option<Ports>) -> anyhow::Result<Ports> {
        let base = kept.unwrap_or_default();
        let ports = Ports {
            http: self.http_port.unwrap_or(base.http),
            https: self.https_port.unwrap_or(base.https),
        };
        if ports.overlap() {
            return Err(usage(
                &format!(
                    "--stack.http-port {} and --stack.https-port {} publish the same port",
                    ports.http, ports.https
                ),
                "give each its own port",
            ));
        }
        Ok(ports)
    }

    /// The database and the replicas: each flag's, else what `existing` (a deployed stack,
    /// whose values are `generated`) has, else SQLite and one replica. Several replicas on
    /// SQLite are refused.
    pub fn database_or(
        &self,
        existing: &Existing,
        generated: &Generated,
        kept_replicas: Option<Replicas>,
    ) -> anyhow::Result<(Database, Replicas)> {
        let database = match &self.database {
            Some(uri) => Database::from_flag(uri, |path| std::fs::read(path))
                .map_err(|e| usage(&e.to_string(), "see `finchctl service deploy --help`"))?,
            None => existing.database(generated),
        };
        let replicas = self.replicas.or(kept_replicas).unwrap_or_default();
        replicas.check(&database).map_err(|e| {
            usage(
                &e.to_string(),
                "give --stack.database postgres://… as well, or --stack.replicas 1",
            )
        })?;
        Ok((database, replicas))
    }
}

/// Reads a PEM file a flag names (1.x skipped a missing one silently and deployed without it).
fn read_pem(path: &Path, flag: &str, label: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::failed(format!("{flag}: cannot read {}: {e}", path.display())))?;
    if !text.contains("-----BEGIN ") || !text.contains(label) {
        return Err(
            Problem::failed(format!("{flag}: {} holds no PEM {label}", path.display())).into(),
        );
    }
    Ok(text)
}

/// Warns, before anything changes, when `settings` move the stack `existing` holds (`on HOST`
/// or `in DIR`, as `place` says) to another database: its agents stay behind unless copied.
pub fn warn_database_change(
    cx: &Context,
    existing: &Existing,
    settings: &StackSettings,
    place: &str,
) {
    if let Some(change) = DatabaseChange::of(existing, settings) {
        cx.output.warn(&change.warning(place));
    }
}

fn usage(message: &str, hint: &str) -> anyhow::Error {
    Problem::usage(message).hint(hint).into()
}
