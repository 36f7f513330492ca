//! Several `finch` processes on one real PostgreSQL: what one replica changes, the others apply
//! within a second; a host name registered through two at once has one winner; an outage of the
//! database leaves `/auth` answering for the agents it knew and heals without a restart; and a
//! Finch 1.x SQLite registry moves to PostgreSQL and back with its agents' tokens still working.
//!
//! Tests are skipped (with a printed reason) where PostgreSQL is not installed, unless `CI` is
//! set. Timings are printed, never asserted.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use finch_testkit::legacy::{FINCH_1X_SCHEMA, sqlite3, token_minted_like_1x};
use finch_testkit::postgres::{self, PgDatabase};
use finch_testkit::{
    DEADLINE, FinchProcess, Library, OPERATOR, Pki, Replica, SECRET, eventually, header, http,
    quantile, revocation_delay,
};

/// How many times the timed and raced steps run.
const TRIES: usize = 100;

fn finch() -> &'static Path {
    env!("CARGO_BIN_EXE_finch").as_ref()
}

/// A database, a library on it with an enrolled operator, and two replicas.
async fn two_replicas() -> Option<(PgDatabase, Library, Replica, Replica)> {
    let db = postgres::database().await?;
    let library = Library::with_database(&db.uri);
    let pki = Pki::new(OPERATOR);
    library.enroll(OPERATOR, &pki.ca_pem);
    let cert = header(&[&pki.client()]);
    let a = Replica::spawn(finch(), &library, &cert).await;
    let b = Replica::spawn(finch(), &library, &cert).await;
    Some((db, library, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_takes_effect_on_the_other() {
    let Some((_db, library, mut a, mut b)) = two_replicas().await else {
        return;
    };
    let client = http();
    let mut delays = Vec::with_capacity(TRIES);
    for i in 0..TRIES {
        // Both ways round: each replica is the writer half of the time.
        let delay = if i % 2 == 0 {
            revocation_delay(&mut a, &b, &library, &client, &format!("host-{i}")).await
        } else {
            revocation_delay(&mut b, &a, &library, &client, &format!("host-{i}")).await
        };
        delays.push(delay);
    }
    println!(
        "cross-replica revocation over {TRIES} tries: p50 {:?}, p99 {:?}, max {:?}",
        quantile(&delays, 0.5),
        quantile(&delays, 0.99),
        quantile(&delays, 1.0)
    );
    assert_eq!(a.count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_name_registered_through_both_replicas_has_one_winner() {
    let Some((_db, _library, mut a, mut b)) = two_replicas().await else {
        return;
    };
    for i in 0..TRIES {
        let hostname = format!("race-{i}");
        let (first, second) = tokio::join!(a.register(&hostname), b.register(&hostname));
        let winners = [&first, &second].iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "{hostname}: {first:?} {second:?}");
        let loser = first.err().or(second.err()).unwrap();
        assert_eq!(loser.code(), tonic::Code::AlreadyExists, "{loser:?}");
    }
    assert_eq!(a.count().await.unwrap(), TRIES);
    assert_eq!(b.count().await.unwrap(), TRIES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_known_agents_and_heals_without_a_restart() {
    let Some((db, library, mut a, mut b)) = two_replicas().await else {
        return;
    };
    let client = http();
    let rid = a.register("known").await.unwrap();
    let known = library.bearer(&rid);
    b.await_auth(&client, &known, 200).await;
    let unknown = library.bearer("rid:finch:0123456789abcdef:agent:unknown");

    db.stop();
    for replica in [&a, &b] {
        assert_eq!(replica.auth(&client, &known).await, 200);
        assert_eq!(replica.auth(&client, &unknown).await, 401);
        assert_eq!(replica.health(&client).await, 500);
    }
    for replica in [&mut a, &mut b] {
        let listed = replica.count().await.unwrap_err();
        assert_eq!(listed.code(), tonic::Code::Unavailable, "{listed:?}");
    }

    db.start();
    let started = std::time::Instant::now();
    for replica in [&mut a, &mut b] {
        let healed = eventually(DEADLINE, || async {
            (replica.health(&client).await == 200).then_some(())
        })
        .await;
        assert!(healed.is_some(), "{}", replica.process.stderr());
        assert_eq!(replica.count().await.unwrap(), 1);
    }
    // Changes flow between the replicas again: announced, or found by the poll.
    let delay = revocation_delay(&mut b, &a, &library, &client, "after").await;
    println!(
        "healthy again {:?} after the database started; a revocation then took {delay:?}",
        started.elapsed()
    );
    for replica in [&mut a, &mut b] {
        assert!(replica.process.child.try_wait().unwrap().is_none());
    }
}

/// Runs `finch migrate` with `args`; returns stdout, failing the test with stderr unless it
/// exits as `success` says.
fn migrate(args: &[&str], success: bool) -> String {
    let output = Command::new(finch())
        .arg("migrate")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.success(),
        success,
        "finch migrate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Starts `finch` on `library` and checks that each 1.x token in `tokens` passes `/auth`.
async fn tokens_pass(library: &Library, tokens: &[String]) {
    let process = FinchProcess::spawn(finch(), &library.config_path(), &[]);
    let url = format!("http://{}/auth/loki", process.address("Auth"));
    let client = http();
    for token in tokens {
        let status =
            finch_testkit::auth_status(&client, &url, Some(token), "POST", "/loki/api/v1/push")
                .await;
        assert_eq!(status, 200, "{}", process.stderr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1x_registry_moves_to_postgres_and_back_with_its_tokens() {
    let Some(db) = postgres::database().await else {
        return;
    };
    // A 1.x SQLite file with a few agents, one seen already.
    let old = Library::new();
    sqlite3(&old.database_path(), FINCH_1X_SCHEMA);
    let rids: Vec<String> = (0..3)
        .map(|i| format!("rid:finch:0123456789abcdef:agent:00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    for (i, rid) in rids.iter().enumerate() {
        sqlite3(
            &old.database_path(),
            &format!(
                "INSERT INTO agents (created_at, updated_at, hostname, log_sources, metrics, \
                 resource_id, tags, last_seen) VALUES ('2026-02-05 10:11:12.123456789+01:00', \
                 '2026-02-05 10:11:12+01:00', 'old-{i}', '[\"journal:\"]', 1, '{rid}', \
                 '[\"env=prod\"]', CASE WHEN {i} = 0 THEN '2026-03-01 08:00:00+00:00' END);"
            ),
        );
    }
    let tokens: Vec<String> = rids
        .iter()
        .map(|rid| token_minted_like_1x(SECRET, rid))
        .collect();
    let sqlite_uri = format!("sqlite://{}", old.database_path().display());

    let out = migrate(&["--from", &sqlite_uri, "--to", &db.uri], true);
    assert!(out.contains("copied 3 agents, verified"), "{out}");
    let on_postgres = Library::with_database(&db.uri);
    tokens_pass(&on_postgres, &tokens).await;

    // Back into the old file: refused while it holds agents, unless replacing them.
    let out = migrate(&["--from", &db.uri, "--to", &sqlite_uri], false);
    assert!(out.contains("--replace"), "{out}");
    let out = migrate(&["--from", &db.uri, "--to", &sqlite_uri, "--replace"], true);
    assert!(out.contains("copied 3 agents, verified"), "{out}");
    // And into a fresh one.
    let fresh = Library::new();
    let fresh_uri = format!("sqlite://{}", fresh.database_path().display());
    let out = migrate(&["--from", &db.uri, "--to", &fresh_uri], true);
    assert!(out.contains("copied 3 agents, verified"), "{out}");
    tokens_pass(&fresh, &tokens).await;

    let store = fresh.open_store().await;
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 3);
    assert_eq!(agents[0].labels, ["env=prod"]);
    assert_eq!(
        agents[0].last_seen,
        Some(time::macros::datetime!(2026-03-01 08:00:00 UTC))
    );
    assert_eq!(
        agents[0].created_at,
        Some(time::macros::datetime!(2026-02-05 10:11:12.123456 +01:00))
    );
    store.close().await;
}
