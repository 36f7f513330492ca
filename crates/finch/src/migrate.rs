//! `finch migrate`: copies a registry from one database to another (SQLite to PostgreSQL when a
//! team moves to several replicas, and back), so that every agent keeps working.
//!
//! An agent's token names its resource id and is signed with `finch.json`'s secret, so copying
//! the resource ids verbatim (with host names, settings, registration times and last marks) is
//! what keeps the tokens in the field valid: the target serves them once Finch runs on it with
//! the same `finch.json`. The copy is one transaction on the target; a target that already holds
//! agents is refused unless `--replace` says to delete them; the copy is read back and compared
//! before the command reports success.

use std::path::Path;

use anyhow::{Context as _, bail};
use time::OffsetDateTime;

use crate::agents::Agent;
use crate::cli::MigrateArgs;
use crate::config::redact_uri;
use crate::store::{DatabaseTarget, Store};

/// What a migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Agents copied (and found again in the target).
    pub agents: usize,
    /// Agents the target held before and that were deleted (`--replace`).
    pub replaced: usize,
}

/// Copies every agent from `--from` to `--to`; relative SQLite paths are relative to the
/// current directory.
pub async fn migrate(args: &MigrateArgs) -> anyhow::Result<Migrated> {
    let here = std::env::current_dir().context("cannot read the current directory")?;
    let from = DatabaseTarget::parse(&args.from, &here)
        .with_context(|| format!("--from {}", redact_uri(&args.from)))?;
    let to = DatabaseTarget::parse(&args.to, &here)
        .with_context(|| format!("--to {}", redact_uri(&args.to)))?;
    if from == to {
        bail!("--from and --to name the same database: give two different ones");
    }
    let source = open(&args.from, &here, "--from").await?;
    let target = open(&args.to, &here, "--to").await?;
    let copied = copy(&source, &target, args.replace).await;
    source.close().await;
    target.close().await;
    copied
}

/// Opens one side, naming the flag and the URI (without its password) on failure.
async fn open(uri: &str, here: &Path, flag: &str) -> anyhow::Result<Store> {
    Store::open(uri, here)
        .await
        .with_context(|| format!("cannot open {flag} {}", redact_uri(uri)))
}

/// The copy itself, between two opened stores.
pub(crate) async fn copy(
    source: &Store,
    target: &Store,
    replace: bool,
) -> anyhow::Result<Migrated> {
    let present = target
        .list_agent_summaries()
        .await
        .context("cannot read the agents of --to")?
        .len();
    if present > 0 && !replace {
        bail!(
            "--to already holds {present} agents: pass --replace to delete them and copy \
             --from's in their place"
        );
    }
    let agents = source
        .list_agents()
        .await
        .context("cannot read the agents of --from")?;
    target
        .import_agents(&agents, replace)
        .await
        .context("cannot write the agents to --to (nothing was written)")?;
    let copied = target
        .list_agents()
        .await
        .context("cannot read the copied agents back from --to")?;
    verify(&agents, &copied)?;
    Ok(Migrated {
        agents: agents.len(),
        replaced: present,
    })
}

/// Checks that `copied` holds exactly `agents`. Times are compared to the microsecond, the
/// finest both databases keep; a registration time the source lacked was filled by the target.
fn verify(agents: &[Agent], copied: &[Agent]) -> anyhow::Result<()> {
    if agents.len() != copied.len() {
        bail!(
            "the copy holds {} agents where {} were copied: the target was changed meanwhile",
            copied.len(),
            agents.len()
        );
    }
    let mut sorted: Vec<&Agent> = copied.iter().collect();
    sorted.sort_by(|a, b| a.rid.as_str().cmp(b.rid.as_str()));
    for agent in agents {
        let found = sorted
            .binary_search_by(|c| c.rid.as_str().cmp(agent.rid.as_str()))
            .map(|i| sorted[i])
            .ok();
        let same = found.is_some_and(|c| same_record(agent, c));
        if !same {
            bail!(
                "agent {} ({}) differs in the copy: {found:?}",
                agent.rid,
                agent.hostname
            );
        }
    }
    Ok(())
}

/// Whether `copy` is `original` as the target can store it.
fn same_record(original: &Agent, copy: &Agent) -> bool {
    let micros = |at: Option<OffsetDateTime>| at.map(|t| t.unix_timestamp_nanos() / 1_000);
    let registered = original.registered_at.is_none()
        || micros(original.registered_at) == micros(copy.registered_at);
    original.rid == copy.rid
        && original.hostname == copy.hostname
        && original.node == copy.node
        && original.log_sources == copy.log_sources
        && original.metrics == copy.metrics
        && original.metrics_targets == copy.metrics_targets
        && original.profiles == copy.profiles
        && original.labels == copy.labels
        && micros(original.created_at) == micros(copy.created_at)
        && micros(original.last_seen) == micros(copy.last_seen)
        && registered
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::agents::{AgentRid, journal_only};

    /// Two SQLite files in a temporary directory, and the args naming them.
    fn files(dir: &Path, replace: bool) -> MigrateArgs {
        MigrateArgs {
            from: format!("sqlite://{}", dir.join("from.db").display()),
            to: format!("sqlite://{}", dir.join("to.db").display()),
            replace,
        }
    }

    async fn seed(uri: &str, dir: &Path, hostnames: &[&str]) -> Vec<Agent> {
        let store = Store::open(uri, dir).await.unwrap();
        for hostname in hostnames {
            let rid = AgentRid::mint("test-id");
            store
                .insert_agent(&rid, &journal_only(hostname))
                .await
                .unwrap();
            let seen = datetime!(2026-03-01 12:00:00.123456789 UTC);
            store.record_last_seen(&[(rid, seen)]).await.unwrap();
        }
        let agents = store.list_agents().await.unwrap();
        store.close().await;
        agents
    }

    #[tokio::test]
    async fn copies_every_agent_and_refuses_a_target_with_agents_unless_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let args = files(dir.path(), false);
        let agents = seed(&args.from, dir.path(), &["web-1", "web-2"]).await;
        let done = migrate(&args).await.unwrap();
        assert_eq!(
            done,
            Migrated {
                agents: 2,
                replaced: 0
            }
        );
        let target = Store::open(&args.to, dir.path()).await.unwrap();
        assert_eq!(target.list_agents().await.unwrap(), agents);
        target.close().await;

        let refused = migrate(&args).await.unwrap_err();
        assert!(format!("{refused:#}").contains("--replace"), "{refused:#}");
        let done = migrate(&files(dir.path(), true)).await.unwrap();
        assert_eq!(
            done,
            Migrated {
                agents: 2,
                replaced: 2
            }
        );
    }

    #[tokio::test]
    async fn refuses_to_copy_a_database_onto_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = files(dir.path(), true);
        args.to = args.from.clone();
        let refused = migrate(&args).await.unwrap_err();
        assert!(refused.to_string().contains("same database"), "{refused}");
    }
}
