//! The library on a host, read in one round trip: named files (for [`Existing`] and any other
//! caller) and a checksum of every file the stack owns, so a repeat deploy uploads only what
//! changed and removes what a newer render no longer writes.
//!
//! The step prints a small framed format on stdout: `library present|absent`, then
//! `sum <sha256> <path>` per owned file, then per named file `file <path>`, its contents in
//! base64 and `end`. Base64 lines are multiples of four characters, so `end` never appears
//! inside one. The step always exits 0 once it has started printing, so no run format shows
//! its output (the report prints a step's output only when it fails), and [`Library`]'s
//! `Debug` never shows contents.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::stack::tls::{CERT_PATH, KEY_PATH};
use crate::stack::{
    CertificatePair, Existing, Ports, PublishedPort, RenderedFile, Replicas, Retention, TlsMode,
    database, finch_json, grafana,
};
use crate::target::Step;

/// The name of the read step, to find its output in a run.
pub const STEP: &str = "Read the library";

/// Directories whose every file a render writes: a file in them that the render no longer
/// writes is stale. (`traefik/etc/certs.d` is not among them: it also holds the operators'
/// CAs and Let's Encrypt's `acme.json`.)
pub const OWNED_DIRS: [&str; 7] = [
    "traefik/etc/conf.d",
    "postgres",
    "grafana/provisioning",
    "loki/etc",
    "mimir/etc",
    "pyroscope/etc",
    "alloy/etc",
];

/// Files a render writes outside [`OWNED_DIRS`] (the certificate pair only in some TLS modes,
/// the SMTP password only with `--alert.smtp.credentials`).
pub const OWNED_FILES: [&str; 7] = [
    finch_json::PATH,
    crate::stack::compose::PATH,
    crate::stack::traefik::STATIC_PATH,
    grafana::PASSWORD_PATH,
    grafana::SMTP_PASSWORD_PATH,
    CERT_PATH,
    KEY_PATH,
];

/// The files [`Existing`] is made of.
pub const EXISTING_FILES: [&str; 5] = [
    finch_json::PATH,
    grafana::PASSWORD_PATH,
    CERT_PATH,
    KEY_PATH,
    database::ROOT_CERT_PATH,
];

/// The files deploy and update read: [`EXISTING_FILES`], Traefik's static configuration (the
/// Let's Encrypt address), Loki's (the retention), the compose file (the published ports, the
/// replicas and Grafana's SMTP server) and the rest of [`crate::stack::alerts::FILES`] (where
/// alerts go).
pub const KEPT_FILES: [&str; 11] = [
    finch_json::PATH,
    grafana::PASSWORD_PATH,
    CERT_PATH,
    KEY_PATH,
    database::ROOT_CERT_PATH,
    crate::stack::traefik::STATIC_PATH,
    crate::stack::storage::LOKI_PATH,
    crate::stack::compose::PATH,
    grafana::contact_points::PATH,
    grafana::alerts::PATH,
    grafana::SMTP_PASSWORD_PATH,
];

/// `$1` is the library, `$2` the number of owned paths, then the owned paths, then the files
/// to read. Run as root: the files belong to the containers' users and are 0400.
const SCRIPT: &str = r#"lib=$1 n=$2
shift 2
if ! cd -- "$lib" 2>/dev/null; then echo 'library absent'; exit 0; fi
echo 'library present'
i=0
for p; do
  i=$((i + 1))
  if [ "$i" -gt "$n" ]; then break; fi
  if [ -d "$p" ]; then find "$p" -type f -exec sha256sum -- {} + 2>/dev/null
  elif [ -f "$p" ]; then sha256sum -- "$p" 2>/dev/null
  fi
done | sed -n 's/^\([0-9a-f]\{64\}\)  /sum \1 /p'
shift "$n"
for f; do
  if [ -f "$f" ] && b=$(base64 < "$f"); then printf 'file %s\n%s\nend\n' "$f" "$b"; fi
done
exit 0"#;

/// What the read step found.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Library {
    /// Whether the library directory exists.
    pub present: bool,
    /// The SHA-256 (hex) of each owned file, by path relative to the library.
    pub sums: BTreeMap<String, String>,
    /// The contents of each named file that exists (may be secret: never printed).
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The output of the read step is not in its format.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the library listing: {0}")]
pub struct LibraryError(String);

/// The step that reads `library`: checksums of the owned files and the contents of `files`.
pub fn step(library: &str, files: &[&str]) -> Step {
    let owned: Vec<&str> = OWNED_DIRS.iter().chain(&OWNED_FILES).copied().collect();
    let mut args = vec![library.to_owned(), owned.len().to_string()];
    args.extend(owned.iter().chain(files).map(|p| (*p).to_owned()));
    Step::script(STEP, SCRIPT, args)
}

/// The hex SHA-256 of some contents, as `sha256sum` prints it.
pub fn sha256_hex(contents: &[u8]) -> String {
    Sha256::digest(contents)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `path` (relative to the library) is a file the stack owns.
pub fn owned(path: &str) -> bool {
    OWNED_FILES.contains(&path)
        || OWNED_DIRS
            .iter()
            .any(|d| path.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
}

// === impl Library ===

impl Library {
    /// Parses the read step's stdout.
    pub fn parse(stdout: &str) -> Result<Library, LibraryError> {
        let mut lines = stdout.lines();
        let present = match lines.next().map(str::trim) {
            Some("library present") => true,
            Some("library absent") => return Ok(Library::default()),
            other => return Err(LibraryError(format!("unexpected first line {other:?}"))),
        };
        let mut library = Library {
            present,
            ..Library::default()
        };
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("sum ") {
                let (sum, path) = rest
                    .split_once(' ')
                    .ok_or_else(|| LibraryError(format!("bad checksum line {line:?}")))?;
                let path = path.strip_prefix("./").unwrap_or(path);
                library.sums.insert(path.to_owned(), sum.to_owned());
            } else if let Some(path) = line.strip_prefix("file ") {
                let mut encoded = String::new();
                loop {
                    match lines.next() {
                        Some("end") => break,
                        Some(chunk) => encoded.push_str(chunk.trim()),
                        None => return Err(LibraryError(format!("{path} is cut short"))),
                    }
                }
                let contents = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| LibraryError(format!("{path}: {e}")))?;
                library.files.insert(path.to_owned(), contents);
            } else if !line.trim().is_empty() {
                return Err(LibraryError(format!("unexpected line {line:?}")));
            }
        }
        Ok(library)
    }

    /// The values an earlier deploy left for the next render.
    pub fn existing(&self) -> Existing {
        let text = |path: &str| {
            self.files
                .get(path)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        Existing {
            finch_json: self.files.get(finch_json::PATH).cloned(),
            grafana_password: text(grafana::PASSWORD_PATH),
            certificate: match (text(CERT_PATH), text(KEY_PATH)) {
                (Some(cert_pem), Some(key_pem)) => Some(CertificatePair { cert_pem, key_pem }),
                _ => None,
            },
            database_root_cert: self.files.get(database::ROOT_CERT_PATH).cloned(),
        }
    }

    /// How many Finch containers the compose file runs (`finch`, `finch-2`, …).
    pub fn replicas(&self) -> Option<Replicas> {
        crate::stack::compose::replicas(self.files.get(crate::stack::compose::PATH)?)
    }

    /// The stack's host name, from its `finch.json`.
    pub fn hostname(&self) -> Option<String> {
        let json: serde_json::Value =
            serde_json::from_slice(self.files.get(finch_json::PATH)?).ok()?;
        json.get("hostname")?.as_str().map(str::to_owned)
    }

    /// Where Traefik is published, from the compose file (`[ADDR:]PORT:80` and `…:443`).
    pub fn ports(&self) -> Option<Ports> {
        let yaml: serde_norway::Value =
            serde_norway::from_slice(self.files.get(crate::stack::compose::PATH)?).ok()?;
        let ports = yaml
            .get("services")?
            .get("traefik")?
            .get("ports")?
            .as_sequence()?;
        let published = |target: &str| {
            ports
                .iter()
                .filter_map(|p| p.as_str()?.strip_suffix(target))
                .find_map(|p| p.parse::<PublishedPort>().ok())
        };
        Some(Ports {
            http: published(":80")?,
            https: published(":443")?,
        })
    }

    /// Where an earlier deploy sent alerts.
    pub fn alerts(&self) -> crate::stack::Alerts {
        crate::stack::Alerts::kept(|path| self.files.get(path).map(Vec::as_slice))
    }

    /// The retention in Loki's configuration (`retention_period: 720h`).
    pub fn retention(&self) -> Option<Retention> {
        let loki = std::str::from_utf8(self.files.get(crate::stack::storage::LOKI_PATH)?).ok()?;
        loki.lines()
            .find_map(|l| l.trim().strip_prefix("retention_period:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The TLS mode the library was deployed with: its certificate pair (self-signed when
    /// the certificate is its own issuer, else custom), or Let's Encrypt with the address in
    /// Traefik's static configuration.
    pub fn tls_mode(&self) -> Option<TlsMode> {
        if let Some(pair) = self.existing().certificate {
            let self_issued = x509_parser::pem::parse_x509_pem(pair.cert_pem.as_bytes())
                .ok()
                .and_then(|(_, pem)| {
                    pem.parse_x509()
                        .ok()
                        .map(|c| c.issuer().as_raw() == c.subject().as_raw())
                })?;
            return Some(if self_issued {
                TlsMode::SelfSigned(pair)
            } else {
                TlsMode::Custom(pair)
            });
        }
        let yaml: serde_norway::Value =
            serde_norway::from_slice(self.files.get(crate::stack::traefik::STATIC_PATH)?).ok()?;
        let email = yaml
            .get("certificatesResolvers")?
            .get("letsencrypt")?
            .get("acme")?
            .get("email")?
            .as_str()?;
        Some(TlsMode::LetsEncrypt {
            email: email.to_owned(),
        })
    }

    /// The rendered files whose contents differ from the host's (all of them on a new host).
    pub fn changed<'a>(&self, rendered: &'a [RenderedFile]) -> Vec<&'a RenderedFile> {
        rendered
            .iter()
            .filter(|f| self.sums.get(&f.path) != Some(&sha256_hex(&f.contents)))
            .collect()
    }

    /// The owned files on the host that `rendered` no longer writes.
    pub fn stale(&self, rendered: &[RenderedFile]) -> Vec<String> {
        let keep: BTreeSet<&str> = rendered.iter().map(|f| f.path.as_str()).collect();
        self.sums
            .keys()
            .filter(|p| owned(p) && !keep.contains(p.as_str()))
            .cloned()
            .collect()
    }
}

/// Hand-written: the files may hold secrets.
impl fmt::Debug for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Library")
            .field("present", &self.present)
            .field("sums", &self.sums.len())
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::ROOT;

    #[test]
    fn an_absent_library_is_empty() {
        let library = Library::parse("library absent\n").expect("parse");
        assert_eq!(library, Library::default());
        assert!(Library::parse("").is_err());
    }

    #[test]
    fn sums_and_files_come_back() {
        let secret = base64::engine::general_purpose::STANDARD.encode(b"hunter2\n");
        let out = format!(
            "library present\nsum {} ./loki/etc/loki.yaml\nsum {} finch.json\nfile grafana/admin-password\n{secret}\nend\n",
            "a".repeat(64),
            "b".repeat(64)
        );
        let library = Library::parse(&out).expect("parse");
        assert!(library.present);
        assert_eq!(library.sums.len(), 2);
        assert!(library.sums.contains_key("loki/etc/loki.yaml"));
        let existing = library.existing();
        assert_eq!(existing.grafana_password.as_deref(), Some("hunter2\n"));
        assert!(!format!("{library:?}").contains("hunter2"));
        assert!(Library::parse("library present\nfile x\nAAAA\n").is_err());
    }

    #[test]
    fn only_changed_files_upload_and_only_owned_ones_are_stale() {
        let same = RenderedFile::new("loki/etc/loki.yaml", "a", ROOT);
        let new = RenderedFile::new("mimir/etc/mimir.yaml", "b", ROOT);
        let library = Library {
            present: true,
            sums: BTreeMap::from([
                (same.path.clone(), sha256_hex(b"a")),
                ("alloy/etc/old.config".to_owned(), sha256_hex(b"x")),
                ("traefik/etc/certs.d/rid.pem".to_owned(), sha256_hex(b"x")),
            ]),
            files: BTreeMap::new(),
        };
        let rendered = [same, new];
        let changed: Vec<&str> = library
            .changed(&rendered)
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(changed, ["mimir/etc/mimir.yaml"]);
        assert_eq!(library.stale(&rendered), ["alloy/etc/old.config"]);
    }

    #[test]
    fn ports_and_retention_come_back_from_the_library() {
        let compose = "services:\n  traefik:\n    ports:\n    - 127.0.0.1:8080:80\n    - 127.0.0.1:8443:443\n";
        let library = Library {
            present: true,
            sums: BTreeMap::new(),
            files: BTreeMap::from([(
                crate::stack::compose::PATH.to_owned(),
                compose.as_bytes().to_vec(),
            )]),
        };
        let ports = library.ports().expect("ports");
        assert_eq!(library.replicas(), None);
        let replicated = Library {
            files: BTreeMap::from([(
                crate::stack::compose::PATH.to_owned(),
                b"services:\n  finch: {}\n  finch-2: {}\n  finch-3: {}\n  hc-loki: {}\n".to_vec(),
            )]),
            ..Library::default()
        };
        assert_eq!(replicated.replicas().map(Replicas::get), Some(3));
        assert_eq!(ports.https.to_string(), "127.0.0.1:8443");
        assert_eq!(ports.http.to_string(), "127.0.0.1:8080");
        assert_eq!(Library::default().ports(), None);
        let loki = "limits_config:\n  retention_period: 720h\n";
        let library = Library {
            files: BTreeMap::from([(
                crate::stack::storage::LOKI_PATH.to_owned(),
                loki.as_bytes().to_vec(),
            )]),
            ..Library::default()
        };
        assert_eq!(library.retention().map(Retention::hours), Some(720));
    }

    #[test]
    fn every_rendered_file_is_owned() {
        for file in crate::stack::tests::sample_files() {
            assert!(owned(&file.path), "{} is not covered", file.path);
        }
    }
}
