//! The plan that brings a host's library and containers to a rendered stack: directories with
//! their owners and modes, only the files that changed (and the removal of those a render no
//! longer writes), a new operator's CA, image archives when an image is missing, `compose up`
//! and one readiness wait.
//!
//! Built from what [`Library`] found on the host, so a repeat with nothing changed uploads
//! nothing and `compose up` finds every container's definition (config-hash labels included)
//! unchanged: no container is recreated.

use std::collections::BTreeMap;

use super::{Docker, Library};
use crate::stack::{GRAFANA_USER, Owner, ROOT, RenderedFile, STORAGE_USER, Service};
use crate::target::{Plan, Step, Upload};

/// The name of the readiness step, to find its output in a run.
pub const READY_STEP: &str = "Wait for every container to be healthy";

/// How long the readiness step waits: Loki and Mimir replay their write-ahead logs first, and
/// the health checks' `start_period` is 60 s.
pub const READY_DEADLINE_SECS: u64 = 180;

/// Directories no rendered file lies in: the services' data.
const DATA_DIRS: [(&str, Owner); 5] = [
    ("grafana", GRAFANA_USER),
    ("loki/data", STORAGE_USER),
    ("mimir/data", STORAGE_USER),
    ("pyroscope/data", STORAGE_USER),
    ("alloy/data", ROOT),
];

/// Where operator CAs live in the library: `<RID>.pem` each, beside the TLS pair.
pub const CERTS_DIR: &str = "traefik/etc/certs.d";

/// `$1` is the library (created 0700 when missing; an existing one keeps its mode), then
/// triples of directory, mode and owner, parents first.
const DIRS_SCRIPT: &str = r#"set -e
lib=$1
shift
if [ ! -d "$lib" ]; then mkdir -p -- "$lib"; chmod 0700 -- "$lib"; fi
while [ "$#" -ge 3 ]; do
  mkdir -p -- "$lib/$1"
  chown -- "$3" "$lib/$1"
  chmod -- "$2" "$lib/$1"
  shift 3
done"#;

/// `$1` is the library: removes the database, Grafana's database and every operator CA.
const RESET_SCRIPT: &str = r#"lib=$1
rm -f -- "$lib/finch.db" "$lib/finch.db-wal" "$lib/finch.db-shm" "$lib/grafana/grafana.db"
if [ -d "$lib/traefik/etc/certs.d" ]; then
  find "$lib/traefik/etc/certs.d" -maxdepth 1 -type f -name '*.pem' ! -name cert.pem ! -name key.pem -exec rm -f -- {} +
fi
exit 0"#;

/// `$1` a library's path, `$2…` the files to remove, relative to it.
const REMOVE_SCRIPT: &str = r#"lib=$1
shift
for f; do rm -f -- "$lib/$f"; done"#;

/// `$1` an uploaded archive: loaded, then removed.
const LOAD_SCRIPT: &str = r#"trap 'rm -f -- "$1"' EXIT
docker load -i "$1""#;

/// `$1` the deadline in seconds, `$2…` the containers. Prints `ready`, or per failing
/// container `failing <name> <state>` and its last log lines as `log <line>`. Exits 0 either
/// way: the caller names the failures.
const READY_SCRIPT: &str = r#"end=$(( $(date +%s) + $1 ))
shift
while :; do
  failing=
  for c; do
    s=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c" 2>/dev/null) || s=missing
    case $s in healthy|running) ;; *) failing="$failing $c:$s" ;; esac
  done
  if [ -z "$failing" ]; then echo ready; exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then break; fi
  sleep 1
done
for f in $failing; do
  echo "failing ${f%%:*} ${f#*:}"
  docker logs --tail 20 "${f%%:*}" 2>&1 | sed 's/^/log /'
done
exit 0"#;

/// What the plan brings onto the host.
#[derive(Debug)]
pub struct Apply<'a> {
    /// Docker on the host, with the library's path.
    pub docker: &'a Docker,
    /// Every rendered file.
    pub files: &'a [RenderedFile],
    /// What the library holds now.
    pub library: &'a Library,
    /// `--stack.reset`: remove the database, Grafana's database and the operators' CAs first.
    pub reset: bool,
    /// A new operator's CA: its RID and certificate.
    pub operator: Option<(String, String)>,
    /// Image archives to load (given only when an image the stack names is missing): name and
    /// contents.
    pub archives: &'a [(String, Vec<u8>)],
}

/// A failing container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// The container.
    pub container: String,
    /// Its state or health.
    pub state: String,
    /// Its last log lines.
    pub logs: Vec<String>,
}

// === impl Apply ===

impl Apply<'_> {
    /// The plan.
    pub fn plan(&self) -> Plan {
        let docker = self.docker;
        let mut plan = Plan::new();
        if self.reset {
            plan.push(Step::script(
                "Remove the database, Grafana's database and the operators' CAs (--stack.reset)",
                RESET_SCRIPT,
                [docker.library.clone()],
            ));
        }
        plan.push(self.directories());
        for file in self.library.changed(self.files) {
            plan.push(Step::upload(
                format!("Upload {}", file.path),
                Upload {
                    dest: docker.path(&file.path),
                    contents: file.contents.clone().into(),
                    mode: file.mode,
                    owner: Some(owner(file.owner)),
                },
            ));
        }
        let stale = self.library.stale(self.files);
        if !stale.is_empty() {
            let mut args = vec![docker.library.clone()];
            args.extend(stale);
            plan.push(Step::script(
                "Remove files this release no longer writes",
                REMOVE_SCRIPT,
                args,
            ));
        }
        if let Some((rid, ca_pem)) = &self.operator {
            plan.push(Step::upload(
                "Upload this workstation's operator CA",
                Upload {
                    dest: docker.path(&format!("{CERTS_DIR}/{rid}.pem")),
                    contents: ca_pem.clone().into_bytes().into(),
                    mode: 0o400,
                    owner: Some(owner(ROOT)),
                },
            ));
        }
        for (index, (name, contents)) in self.archives.iter().enumerate() {
            let dest = docker.path(&format!(".image-archive-{index}.tar"));
            plan.push(Step::upload(
                format!("Upload the image archive {name}"),
                Upload {
                    dest: dest.clone(),
                    contents: contents.clone().into(),
                    mode: 0o600,
                    owner: Some(owner(ROOT)),
                },
            ));
            plan.push(docker.script(
                &format!("Load the image archive {name}"),
                LOAD_SCRIPT,
                [dest],
            ));
        }
        plan.push(docker.compose(
            "Start the stack",
            &["up", "-d", "--remove-orphans", "--no-build"],
        ));
        plan.push(readiness(docker));
        plan
    }

    /// One step for every directory: the parents of the rendered files (owned as the files)
    /// and the data directories.
    fn directories(&self) -> Step {
        let mut dirs: BTreeMap<String, Owner> = BTreeMap::new();
        for file in self.files {
            let mut path = file.path.as_str();
            while let Some((parent, _)) = path.rsplit_once('/') {
                dirs.entry(parent.to_owned()).or_insert(file.owner);
                path = parent;
            }
        }
        for (dir, user) in DATA_DIRS {
            dirs.insert(dir.to_owned(), user);
        }
        let mut args = vec![self.docker.library.clone()];
        for (dir, user) in dirs {
            args.extend([dir, "0700".to_owned(), owner(user)]);
        }
        Step::script("Create the library's directories", DIRS_SCRIPT, args)
    }
}

/// The readiness step for every container of the stack.
pub fn readiness(docker: &Docker) -> Step {
    let mut args = vec![READY_DEADLINE_SECS.to_string()];
    args.extend(containers());
    docker.script(READY_STEP, READY_SCRIPT, args)
}

/// Every container of the stack: the services and the health-check sidecars.
pub fn containers() -> Vec<String> {
    let mut names: Vec<String> = Service::ALL.iter().map(|s| s.name().to_owned()).collect();
    names.extend(
        crate::stack::compose::SIDECARS
            .iter()
            .map(|s| format!("hc-{s}")),
    );
    names
}

/// The failing containers in the readiness step's output; empty when every one is ready.
pub fn failing(stdout: &str) -> Vec<Failing> {
    let mut failing: Vec<Failing> = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("failing ") {
            let (container, state) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            failing.push(Failing {
                container: container.to_owned(),
                state: state.to_owned(),
                logs: Vec::new(),
            });
        } else if let (Some(log), Some(last)) = (line.strip_prefix("log "), failing.last_mut()) {
            last.logs.push(log.to_owned());
        }
    }
    failing
}

fn owner(owner: Owner) -> String {
    format!("{}:{}", owner.uid, owner.gid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::deploy::requirements::Compose;

    fn docker() -> Docker {
        Docker::new(Compose::Standalone, None, "/var/lib/finch")
    }

    #[test]
    fn a_new_host_gets_every_file_and_a_repeat_none() {
        let files = crate::stack::tests::sample_files();
        let fresh = Library::default();
        let docker = docker();
        let apply = Apply {
            docker: &docker,
            files: &files,
            library: &fresh,
            reset: false,
            operator: None,
            archives: &[],
        };
        let uploads = |plan: &Plan| {
            plan.steps
                .iter()
                .filter(|s| s.name.starts_with("Upload "))
                .count()
        };
        assert_eq!(uploads(&apply.plan()), files.len());
        let same = Library {
            present: true,
            sums: files
                .iter()
                .map(|f| {
                    (
                        f.path.clone(),
                        super::super::library::sha256_hex(&f.contents),
                    )
                })
                .collect(),
            files: BTreeMap::new(),
        };
        let repeat = Apply {
            library: &same,
            ..apply
        };
        let plan = repeat.plan();
        assert_eq!(uploads(&plan), 0);
        let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Create the library's directories",
                "Start the stack",
                READY_STEP
            ]
        );
    }

    #[test]
    fn directories_get_their_readers_as_owners() {
        let files = crate::stack::tests::sample_files();
        let docker = docker();
        let library = Library::default();
        let apply = Apply {
            docker: &docker,
            files: &files,
            library: &library,
            reset: false,
            operator: None,
            archives: &[],
        };
        let line = apply.directories().command_line(true);
        for expected in [
            "loki/data 0700 10001:10001",
            "grafana 0700 472:472",
            "grafana/provisioning 0700 472:472",
            "traefik/etc/conf.d 0700 0:0",
        ] {
            assert!(line.contains(expected), "{expected} in {line}");
        }
    }

    #[test]
    fn readiness_names_each_failing_container_with_its_logs() {
        assert!(failing("ready\n").is_empty());
        let found = failing("failing loki unhealthy\nlog a\nlog b\nfailing mimir missing\n");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].logs, ["a", "b"]);
        assert_eq!(found[1].state, "missing");
        assert!(containers().contains(&"hc-loki".to_owned()));
    }
}
