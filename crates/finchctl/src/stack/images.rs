//! Every image the stack runs, pinned here and nowhere else, and the per-service overrides of
//! `--stack.images` (for mirrors and hosts without a registry).
//!
//! The pins never go below the versions Finch 1.x ran (Grafana 13.1.1, Loki 3.7.4, Mimir 3.1.4,
//! Pyroscope 2.2.0, Traefik 3.7.10, Alloy 1.18.0), so deploying over a 1.x stack never
//! downgrades a service's data. Every configuration key the stack renders was checked against the
//! reference of the pinned version:
//!
//! | service | pinned | reference checked |
//! | --- | --- | --- |
//! | Traefik | 3.7.15 | Traefik 3.7 static and dynamic configuration; loaded by the Traefik 3.7.15 binary in the tests |
//! | Grafana | 13.1.1 | Grafana provisioning (datasources, dashboards, alerting file provisioning) |
//! | Loki | 3.7.8 | Loki 3.7 configuration reference |
//! | Mimir | 3.1.4 | Mimir 3.1 configuration parameters |
//! | Pyroscope | 2.2.0 | Pyroscope 2.x configuration parameters |
//! | Alloy | 1.18.0 | Alloy 1.x component reference |
//! | Finch | this release | `docs/configuration.md` |

use std::collections::BTreeMap;

/// The Alloy release pinned with the stack: the server's Alloy image and every agent's binary
/// (unless `--alloy.version` names another). A macro, so the image pin below is built from it.
macro_rules! alloy_version {
    () => {
        "v1.18.0"
    };
}
/// The pinned Alloy release, as its tag.
pub const ALLOY_VERSION: &str = alloy_version!();

/// The registry path of this project's own image; the tag is the finchctl release.
pub const FINCH_IMAGE_REPOSITORY: &str = "ghcr.io/finch-observability/finch";

/// The pinned image of every service but Finch (whose tag follows this release).
const PINS: [(Service, &str); 6] = [
    (Service::Traefik, "docker.io/library/traefik:v3.7.15"),
    (Service::Grafana, "docker.io/grafana/grafana:13.1.1"),
    (Service::Loki, "docker.io/grafana/loki:3.7.8"),
    (Service::Mimir, "docker.io/grafana/mimir:3.1.4"),
    (Service::Pyroscope, "docker.io/grafana/pyroscope:2.2.0"),
    (
        Service::Alloy,
        concat!("docker.io/grafana/alloy:", alloy_version!()),
    ),
];

/// A service of the stack, named as in the compose file and in `--stack.images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// The proxy in front of everything.
    Traefik,
    /// This project's service.
    Finch,
    /// Dashboards and alerts.
    Grafana,
    /// Logs.
    Loki,
    /// Metrics.
    Mimir,
    /// Profiles.
    Pyroscope,
    /// The server's own collector.
    Alloy,
}

/// The image reference of each service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    by_service: BTreeMap<Service, String>,
}

/// Why `--stack.images` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// The file is not a YAML mapping of strings.
    #[error("--stack.images: not a YAML mapping of service names to image references: {0}")]
    Parse(String),
    /// A key names no service.
    #[error("--stack.images: unknown service {key:?} (the services are {known})")]
    UnknownService {
        /// The key.
        key: String,
        /// The service names.
        known: String,
    },
    /// A value is not an image reference.
    #[error(
        "--stack.images: {service}: {reference:?} is not an image reference \
         (like registry.example.com/grafana/loki:3.7.8 or name@sha256:<digest>)"
    )]
    BadReference {
        /// The service.
        service: &'static str,
        /// The value.
        reference: String,
    },
}

// === impl Service ===

impl Service {
    /// Every service, in the compose file's order.
    pub const ALL: [Service; 7] = [
        Service::Traefik,
        Service::Finch,
        Service::Grafana,
        Service::Loki,
        Service::Mimir,
        Service::Pyroscope,
        Service::Alloy,
    ];

    /// The name in the compose file and in `--stack.images`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Traefik => "traefik",
            Service::Finch => "finch",
            Service::Grafana => "grafana",
            Service::Loki => "loki",
            Service::Mimir => "mimir",
            Service::Pyroscope => "pyroscope",
            Service::Alloy => "alloy",
        }
    }

    fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

// === impl Images ===

impl Images {
    /// The pinned images; Finch's tag is `release`.
    pub fn pinned(release: &str) -> Images {
        let mut by_service: BTreeMap<Service, String> = PINS
            .iter()
            .map(|(service, image)| (*service, (*image).to_owned()))
            .collect();
        by_service.insert(
            Service::Finch,
            format!("{FINCH_IMAGE_REPOSITORY}:{release}"),
        );
        Images { by_service }
    }

    /// Applies the overrides of a `--stack.images` file (YAML: service name → reference).
    /// An empty file overrides nothing.
    pub fn with_overrides(mut self, yaml: &str) -> Result<Images, ImagesError> {
        let overrides: Option<BTreeMap<String, String>> = if yaml.trim().is_empty() {
            None
        } else {
            serde_norway::from_str(yaml).map_err(|e| ImagesError::Parse(e.to_string()))?
        };
        for (key, reference) in overrides.unwrap_or_default() {
            let Some(service) = Service::from_name(&key) else {
                let known: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
                return Err(ImagesError::UnknownService {
                    key,
                    known: known.join(", "),
                });
            };
            if !is_reference(&reference) {
                return Err(ImagesError::BadReference {
                    service: service.name(),
                    reference,
                });
            }
            self.by_service.insert(service, reference);
        }
        Ok(self)
    }

    /// The image of `service`.
    pub fn get(&self, service: Service) -> &str {
        // Both constructors fill every service.
        self.by_service.get(&service).map_or("", String::as_str)
    }
}

/// A plausible image reference: the characters of `[registry/]name[:tag][@digest]`, nothing
/// that could break out of the compose file or a shell.
fn is_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= 512
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b))
        && reference
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_a_pin() {
        let images = Images::pinned("2.0.0");
        for service in Service::ALL {
            assert!(!images.get(service).is_empty(), "{service:?}");
        }
        assert_eq!(
            images.get(Service::Finch),
            "ghcr.io/finch-observability/finch:2.0.0"
        );
    }

    #[test]
    fn an_override_replaces_only_its_service() {
        let images = Images::pinned("2.0.0")
            .with_overrides("loki: mirror.example.com/loki:3.7.8\n")
            .expect("valid");
        assert_eq!(images.get(Service::Loki), "mirror.example.com/loki:3.7.8");
        assert_eq!(
            images.get(Service::Mimir),
            Images::pinned("2.0.0").get(Service::Mimir)
        );
    }

    #[test]
    fn an_unknown_service_is_named() {
        let err = Images::pinned("2.0.0")
            .with_overrides("lokki: loki:3\n")
            .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "--stack.images: unknown service \"lokki\" (the services are traefik, finch, \
             grafana, loki, mimir, pyroscope, alloy)"
        );
    }

    #[test]
    fn a_bad_reference_or_document_is_refused() {
        let bad = Images::pinned("x").with_overrides("loki: \"loki:3 ; rm -rf /\"\n");
        assert!(
            matches!(
                bad,
                Err(ImagesError::BadReference {
                    service: "loki",
                    ..
                })
            ),
            "{bad:?}"
        );
        let bad = Images::pinned("x").with_overrides("- loki\n");
        assert!(matches!(bad, Err(ImagesError::Parse(_))), "{bad:?}");
        for empty in ["", "\n", "# nothing yet\n", "~\n"] {
            let images = Images::pinned("x").with_overrides(empty).expect(empty);
            assert_eq!(images, Images::pinned("x"));
        }
    }
}
