//! Backup and restore of a stack's library: the host steps, the archive and its manifest.
//!
//! A backup holds what a restore needs to bring the same stack back on any host:
//! `finch.json` (id, token secret, proxy secret), the agent registry, the operators' CAs and
//! the TLS material (`traefik/etc/certs.d`), Grafana's data directory with its database and
//! admin password, and the rendered configuration; `--backup.data` adds the Loki, Mimir,
//! Pyroscope and Alloy data. The two databases are never copied as files, which they may be
//! mid-write: `finch backup` in the `finch` container writes consistent copies first
//! ([`TAKE_SCRIPT`]), and the archive holds those in their place.
//!
//! A restore unpacks the checked archive into the library ([`PUT_SCRIPT`]); a deploy then
//! brings the stack up with the library's lifelong values, as after a teardown that kept the
//! data.

pub mod archive;
pub mod manifest;
pub mod snapshot;

pub use archive::{Archive, ArchiveError};
pub use manifest::{Entry, Kind, Manifest};
pub use snapshot::Snapshot;

use crate::stack::Service;
use crate::stack::deploy::Docker;
use crate::target::Step;

/// The name of the backup step, to find its output in a run.
pub const TAKE_STEP: &str = "Copy the registry and Grafana's database, then send the library";

/// The services' data directories, in the archive only with `--backup.data`.
pub const DATA_DIRS: [&str; 4] = ["loki/data", "mimir/data", "pyroscope/data", "alloy/data"];

/// Where the library is inside the `finch` container.
const CONTAINER_LIBRARY: &str = "/var/lib/finch";

/// `$1` the library, `$2` `data` or `config`, `$3` the finch container, `$4` the library inside
/// it, `$5…` the data directories. Makes the consistent copies in `.finch-backup/` (0700),
/// then prints the library as a base64 tar: every entry except the live databases, earlier
/// stages and (without `data`) the data directories, plus the copies. GNU tar's exit 1 means
/// a file changed while read: the data directories of running services do.
const TAKE_SCRIPT: &str = r#"set -e
lib=$1 what=$2 finch=$3 inside=$4
shift 4
cd -- "$lib"
rm -rf -- .finch-backup
mkdir -m 0700 .finch-backup
trap 'rm -rf -- "$lib/.finch-backup"' EXIT
docker exec "$finch" /usr/local/bin/finch backup --config "$inside/finch.json" --to "$inside/.finch-backup/finch.db" > .finch-backup/agents
chmod 0600 .finch-backup/finch.db
if [ -f grafana/grafana.db ]; then
  docker exec "$finch" /usr/local/bin/finch backup --sqlite "$inside/grafana/grafana.db" --to "$inside/.finch-backup/grafana.db" >/dev/null
  chown --reference=grafana/grafana.db .finch-backup/grafana.db
  chmod --reference=grafana/grafana.db .finch-backup/grafana.db
fi
prune="-path ./finch.db -o -path ./finch.db-* -o -path ./grafana/grafana.db -o -path ./grafana/grafana.db-* -o -path ./.finch-*"
if [ "$what" != data ]; then for d; do prune="$prune -o -path ./$d"; done; fi
set -f
{
  if { find . -mindepth 1 \( $prune \) -prune -o -print
    find ./.finch-backup -type f -print; } | tar -cf - --numeric-owner --no-recursion -T -
  then s=0; else s=$?; fi
  echo "$s" > .finch-backup.status
} | base64
s=$(cat .finch-backup.status); rm -f .finch-backup.status
if [ "$s" -gt 1 ]; then echo "tar failed with $s" >&2; exit 1; fi"#;

/// `$1` the library, `$2` the uploaded payload, `$3` `replace` or `new`, `$4` `data` or
/// `config`, `$5…` the data directories. Over a stack (`replace`), first removes what the
/// archive replaces wholesale: the databases with their journals, the operators' CAs and the
/// TLS material, and the data directories when the archive has them. Then unpacks the payload
/// with its modes and numeric owners, and removes it.
const PUT_SCRIPT: &str = r#"set -e
lib=$1 payload=$2 how=$3 what=$4
shift 4
trap 'rm -f -- "$payload"' EXIT
cd -- "$lib"
if [ "$how" = replace ]; then
  rm -f -- finch.db finch.db-wal finch.db-shm finch.db-journal grafana/grafana.db grafana/grafana.db-wal grafana/grafana.db-shm grafana/grafana.db-journal
  rm -rf -- traefik/etc/certs.d
  if [ "$what" = data ]; then for d; do rm -rf -- "$d"; done; fi
fi
tar -xpf "$payload" --numeric-owner --no-overwrite-dir -C "$lib""#;

/// The step that makes the consistent copies and sends the library (base64 of a tar).
pub fn take_step(docker: &Docker, data: bool) -> Step {
    let mut args = vec![
        docker.library.clone(),
        if data { "data" } else { "config" }.to_owned(),
        Service::Finch.name().to_owned(),
        CONTAINER_LIBRARY.to_owned(),
    ];
    args.extend(DATA_DIRS.iter().map(|d| (*d).to_owned()));
    docker.script(TAKE_STEP, TAKE_SCRIPT, args)
}

/// The step that unpacks `payload` (a path on the host) into the library.
pub fn put_step(docker: &Docker, payload: &str, replace: bool, data: bool) -> Step {
    let mut args = vec![
        docker.library.clone(),
        payload.to_owned(),
        if replace { "replace" } else { "new" }.to_owned(),
        if data { "data" } else { "config" }.to_owned(),
    ];
    args.extend(DATA_DIRS.iter().map(|d| (*d).to_owned()));
    Step::script("Unpack the archive into the library", PUT_SCRIPT, args)
}
