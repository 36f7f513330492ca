use super::*;
use crate::agents::{AgentChanges, AgentSpec, LogSource};
use crate::registry::Registry;

fn spec(hostname: &str) -> AgentSpec {
    crate::agents::journal_only(hostname)
}

/// A store in memory; the directory is the library `Store::open` wants, held for as long.
async fn memory_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open("sqlite://:memory:", dir.path())
        .await
        .expect("store");
    (dir, store)
}

async fn directory_and_registry(store: &Store) -> (Directory, Registry) {
    let directory = Directory::load(store, "svc").await.expect("directory");
    let registry = Registry::new(store.clone(), directory.clone(), "svc".into());
    (directory, registry)
}

#[tokio::test]
async fn own_writes_need_no_reload_and_foreign_writes_get_one() {
    let (_dir, store) = memory_store().await;
    let (directory, registry) = directory_and_registry(&store).await;
    let own = registry.register(&spec("own")).await.expect("register");
    assert!(directory.lookup(own.rid.as_str()).is_some());
    assert!(!directory.refresh(&store).await.expect("refresh"));

    // Written past the registry, as a second Finch sharing the database would.
    let foreign = AgentRid::mint("svc");
    store
        .insert_agent(&foreign, &spec("foreign"))
        .await
        .expect("insert");
    assert!(directory.lookup(foreign.as_str()).is_none());
    assert!(directory.refresh(&store).await.expect("refresh"));
    assert!(directory.lookup(foreign.as_str()).is_some());
    assert!(!directory.refresh(&store).await.expect("refresh"));
}

#[tokio::test]
async fn a_reload_applies_foreign_changes_in_place_and_keeps_liveness_marks() {
    let (_dir, store) = memory_store().await;
    let (directory, registry) = directory_and_registry(&store).await;
    let kept = registry.register(&spec("kept")).await.expect("register");
    let gone = registry.register(&spec("gone")).await.expect("register");
    let entry = directory.lookup(kept.rid.as_str()).expect("kept");
    assert!(entry.claim_seen_mark(1000, 30));
    drop(entry);

    // Past the registry: one agent deleted, one gains metrics, one appears.
    store.delete_agent(&gone.rid).await.expect("delete");
    let changes = AgentChanges {
        log_sources: vec![LogSource::Journal],
        metrics: true,
        metrics_targets: Vec::new(),
        profiles: false,
        labels: Vec::new(),
    };
    store
        .update_agent(&kept.rid, &changes)
        .await
        .expect("update");
    let foreign = AgentRid::mint("svc");
    store
        .insert_agent(&foreign, &spec("foreign"))
        .await
        .expect("insert");
    assert!(directory.refresh(&store).await.expect("refresh"));

    assert!(directory.lookup(gone.rid.as_str()).is_none());
    assert!(directory.lookup(foreign.as_str()).is_some());
    let entry = directory.lookup(kept.rid.as_str()).expect("kept");
    assert!(entry.metrics());
    assert!(
        !entry.claim_seen_mark(1010, 30),
        "the mark survived the reload"
    );
    drop(entry);
    assert_eq!(directory.len(), 2);

    // A second foreign deletion: the epochs flipped back are still told apart.
    store.delete_agent(&foreign).await.expect("delete");
    assert!(directory.refresh(&store).await.expect("refresh"));
    assert!(directory.lookup(foreign.as_str()).is_none());
    assert_eq!(directory.len(), 1);
}

#[tokio::test]
async fn a_failed_reload_removes_nothing_and_the_next_one_removes_what_is_gone() {
    use sqlx::Connection as _;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open("sqlite://finch.db", dir.path())
        .await
        .expect("store");
    let (directory, registry) = directory_and_registry(&store).await;
    let mut rids = Vec::new();
    for host in ["a", "b", "c"] {
        rids.push(registry.register(&spec(host)).await.expect("register").rid);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("finch.db"));
    let mut other_writer = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    let mut write = async |sql: &str, rid: &AgentRid| {
        sqlx::query(sql)
            .bind(rid.as_str())
            .execute(&mut other_writer)
            .await
            .expect("write");
    };

    // b is deleted and c unreadable: the reload applies a, then fails on c.
    write("DELETE FROM agents WHERE resource_id = ?", &rids[1]).await;
    write(
        "UPDATE agents SET metrics = 'maybe' WHERE resource_id = ?",
        &rids[2],
    )
    .await;
    assert!(directory.refresh(&store).await.is_err());
    assert_eq!(directory.len(), 3);

    write(
        "UPDATE agents SET metrics = 1 WHERE resource_id = ?",
        &rids[2],
    )
    .await;
    assert!(directory.refresh(&store).await.expect("refresh"));
    assert!(directory.lookup(rids[0].as_str()).is_some());
    assert!(directory.lookup(rids[1].as_str()).is_none());
    assert!(directory.lookup(rids[2].as_str()).expect("c").metrics());
    assert_eq!(directory.len(), 2);
}

#[tokio::test]
async fn ids_of_another_form_are_kept_verbatim_and_never_collide() {
    let (_dir, store) = memory_store().await;
    let uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let minted = AgentRid::parse(&format!("rid:finch:svc:agent:{uuid}")).expect("rid");
    let others = [
        format!("rid:finch:svc:agent:{}", uuid.to_uppercase()),
        format!("rid:finch:svc:agent:{}", uuid.replace('-', "")),
        format!("rid:finch:other:agent:{uuid}"),
        "agent-7".to_owned(),
    ];
    for (i, rid) in std::iter::once(minted.as_str().to_owned())
        .chain(others.iter().cloned())
        .enumerate()
    {
        let rid = AgentRid::parse(&rid).expect("rid");
        store
            .insert_agent(&rid, &spec(&format!("host-{i}")))
            .await
            .expect("insert");
    }
    let directory = Directory::load(&store, "svc").await.expect("directory");
    assert_eq!(directory.len(), 5);
    let key = directory.lookup(minted.as_str()).expect("minted").key();
    assert!(matches!(key.0, Id::Minted(_)));
    assert_eq!(directory.rid_of(&key), minted.as_str());
    for rid in &others {
        let key = directory.lookup(rid).expect("other").key();
        assert!(matches!(key.0, Id::Other(_)), "{rid}");
        assert_eq!(directory.rid_of(&key), *rid);
    }
    assert!(directory.lookup("rid:finch:svc:agent:").is_none());
    assert!(directory.lookup("").is_none());
}

#[test]
fn seen_marks_are_claimed_once_per_interval() {
    let slot = Slot {
        last_marked: AtomicU32::new(NEVER_MARKED),
        metrics: true,
        profiles: false,
        epoch: false,
    };
    assert!(slot.claim_seen_mark(1000, 30));
    assert!(!slot.claim_seen_mark(1000, 30));
    assert!(!slot.claim_seen_mark(1029, 30));
    assert!(slot.claim_seen_mark(1030, 30));
}

#[test]
fn an_entry_takes_no_more_than_a_uuid_and_eight_bytes() {
    assert_eq!(std::mem::size_of::<Slot>(), 8);
    assert_eq!(std::mem::size_of::<(Uuid, Slot)>(), 24);
}

/// Waits for `done` under a deadline.
async fn until(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "not within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn changes_by_sql_on_postgres_reach_a_watching_directory_by_announcement() {
    use sqlx::Connection as _;
    let Some(db) = finch_testkit::postgres::database().await else {
        return;
    };
    let open = || Store::open(&db.uri, std::path::Path::new("/"));
    let (store, other) = (open().await.expect("store"), open().await.expect("store"));
    let kept = AgentRid::mint("svc");
    store
        .insert_agent(&kept, &spec("kept"))
        .await
        .expect("insert");
    let directory = Directory::load(&store, "svc").await.expect("directory");
    let shutdown = tokio_util::sync::CancellationToken::new();
    // A poll too slow to matter: only the announcements can make this test pass in time.
    let watcher = directory.spawn_watcher(
        store.clone(),
        std::time::Duration::from_secs(3600),
        shutdown.clone(),
    );
    let added = AgentRid::mint("svc");
    other
        .insert_agent(&added, &spec("added"))
        .await
        .expect("insert");
    until(|| directory.lookup(added.as_str()).is_some()).await;
    let mut psql = sqlx::PgConnection::connect(&db.uri).await.expect("connect");
    sqlx::query("DELETE FROM agents WHERE resource_id = $1")
        .bind(kept.as_str())
        .execute(&mut psql)
        .await
        .expect("delete");
    until(|| directory.lookup(kept.as_str()).is_none()).await;
    assert!(directory.lookup(added.as_str()).is_some());
    shutdown.cancel();
    watcher.await.expect("watcher");
}
