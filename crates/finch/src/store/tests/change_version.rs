//! The change version: what moves it (every write, whoever the writer) and what does not
//! (`last_seen`), and the snapshots and versions that writes and reads return.

use time::macros::datetime;

use super::{TestDb, on_both_backends, rid, snapshot, spec};
use crate::agents::{AgentChanges, AgentRid, LogSource};
use crate::store::DirectoryRow;

on_both_backends!(
    change_version_counts_writes_but_not_last_seen,
    last_seen_marks_for_many_agents_and_seconds_land_on_the_right_rows,
    foreign_writes_bump_the_version,
    directory_snapshot_reads_rows_and_version_together,
    concurrent_inserts_all_land_each_with_its_own_version,
    last_seen_never_moves_backwards,
    directory_rows_reads_the_named_visible_agents,
    imported_records_keep_their_ids_and_times_and_move_the_version,
);

async fn imported_records_keep_their_ids_and_times_and_move_the_version(db: TestDb) {
    let store = db.open().await;
    for hostname in ["one", "two"] {
        let rid = rid();
        store.insert_agent(&rid, &spec(hostname)).await.unwrap();
        let seen = datetime!(2026-03-01 12:00:00.123456 UTC);
        store.record_last_seen(&[(rid, seen)]).await.unwrap();
    }
    let agents = store.list_agents().await.unwrap();
    let before = store.change_version().await.unwrap();
    store.import_agents(&agents, true).await.unwrap();
    assert_eq!(store.list_agents().await.unwrap(), agents);
    assert!(store.change_version().await.unwrap() > before);
    // Writes through the store go on bumping one version each.
    let (_, version) = store.insert_agent(&rid(), &spec("three")).await.unwrap();
    assert_eq!(store.change_version().await.unwrap(), version);
    assert!(store.import_agents(&agents, false).await.is_err());
    store.close().await;
}

async fn last_seen_never_moves_backwards(db: TestDb) {
    let (a, b) = (db.open().await, db.open().await);
    let rid = rid();
    a.insert_agent(&rid, &spec("web-1")).await.unwrap();
    let later = datetime!(2026-03-01 12:00:05 UTC);
    let earlier = datetime!(2026-03-01 12:00:01 UTC);
    a.record_last_seen(&[(rid.clone(), later)]).await.unwrap();
    // Another writer's older batch, committed last.
    b.record_last_seen(&[(rid.clone(), earlier)]).await.unwrap();
    assert_eq!(a.get_agent(&rid).await.unwrap().last_seen, Some(later));
    // Within one batch, the latest mark of an agent wins, whatever the order of the parts.
    let latest = datetime!(2026-03-01 12:00:09 UTC);
    b.record_last_seen_in_parts([[(rid.clone(), latest)], [(rid.clone(), earlier)]])
        .await
        .unwrap();
    assert_eq!(a.get_agent(&rid).await.unwrap().last_seen, Some(latest));
    // A later mark still lands.
    let next = datetime!(2026-03-01 12:01:00 UTC);
    b.record_last_seen(&[(rid.clone(), next)]).await.unwrap();
    assert_eq!(a.get_agent(&rid).await.unwrap().last_seen, Some(next));
    a.close().await;
    b.close().await;
}

async fn directory_rows_reads_the_named_visible_agents(db: TestDb) {
    let store = db.open().await;
    let (one, two) = (rid(), rid());
    store.insert_agent(&one, &spec("one")).await.unwrap();
    store.insert_agent(&two, &spec("two")).await.unwrap();
    db.execute("INSERT INTO agents (hostname, resource_id) VALUES ('hidden', '')")
        .await;
    let asked = [one.to_string(), rid().to_string(), String::new()];
    let rows = store.directory_rows(&asked).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].rid, one);
    assert!(rows[0].metrics);
    store.close().await;
}

async fn change_version_counts_writes_but_not_last_seen(db: TestDb) {
    let store = db.open().await;
    let v0 = store.change_version().await.unwrap();
    let rid = rid();
    let (_, v1) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    assert_eq!(v1.0, v0.0 + 1);
    let changes = AgentChanges {
        log_sources: vec![LogSource::Journal],
        metrics: true,
        metrics_targets: Vec::new(),
        profiles: true,
        labels: vec!["a".to_owned()],
    };
    let (_, v2) = store.update_agent(&rid, &changes).await.unwrap();
    assert_eq!(v2.0, v1.0 + 1);
    assert_eq!(store.change_version().await.unwrap(), v2);

    // Microseconds: the precision both databases keep.
    let seen_at = datetime!(2026-03-01 12:00:00.123456 UTC);
    store
        .record_last_seen(&[(rid.clone(), seen_at)])
        .await
        .unwrap();
    assert_eq!(store.change_version().await.unwrap(), v2);
    assert_eq!(
        store.get_agent(&rid).await.unwrap().last_seen,
        Some(seen_at)
    );
    store.record_last_seen(&[]).await.unwrap();

    let v3 = store.delete_agent(&rid).await.unwrap();
    assert_eq!(v3.0, v2.0 + 1);
    assert_eq!(snapshot(&store).await.0, v3);
    store.close().await;
}

async fn last_seen_marks_for_many_agents_and_seconds_land_on_the_right_rows(db: TestDb) {
    let store = db.open().await;
    let mut marks = Vec::new();
    // Many agents, spread over two seconds, plus an unknown id.
    for i in 0..1_100 {
        let rid = rid();
        store
            .insert_agent(&rid, &spec(&format!("host-{i}")))
            .await
            .unwrap();
        let at = datetime!(2026-03-01 12:00:00 UTC) + time::Duration::seconds(i % 2);
        marks.push((rid, at));
    }
    // An id written by hand, with the characters JSON escapes.
    let odd = AgentRid::parse(r#"agent "odd" \ one"#).unwrap();
    store.insert_agent(&odd, &spec("odd")).await.unwrap();
    marks.push((odd, datetime!(2026-03-01 12:00:01 UTC)));
    marks.push((rid(), datetime!(2026-03-01 12:00:00 UTC)));
    // In parts, as the liveness writer hands over a large batch.
    store
        .record_last_seen_in_parts(marks.chunks(300))
        .await
        .unwrap();
    for (rid, at) in &marks[..1_101] {
        assert_eq!(store.get_agent(rid).await.unwrap().last_seen, Some(*at));
    }
    store.close().await;
}

async fn foreign_writes_bump_the_version(db: TestDb) {
    let store = db.open().await;
    let (_, v1) = store.insert_agent(&rid(), &spec("web-1")).await.unwrap();
    db.execute("DELETE FROM agents WHERE hostname = 'web-1'")
        .await;
    assert_eq!(store.change_version().await.unwrap().0, v1.0 + 1);
    assert!(store.list_agents().await.unwrap().is_empty());
    // The operator's insert of a row without a resource id counts, but stays out of the
    // directory.
    db.execute("INSERT INTO agents (hostname, resource_id) VALUES ('manual', '')")
        .await;
    let (version, rows) = snapshot(&store).await;
    assert_eq!(version.0, v1.0 + 2);
    assert!(rows.is_empty());
    // So does a change of a field the directory reads.
    db.execute("UPDATE agents SET metrics = true WHERE hostname = 'manual'")
        .await;
    assert_eq!(store.change_version().await.unwrap().0, v1.0 + 3);
    store.close().await;
}

async fn directory_snapshot_reads_rows_and_version_together(db: TestDb) {
    let store = db.open().await;
    let web = rid();
    store.insert_agent(&web, &spec("web-1")).await.unwrap();
    let mut quiet = spec("db-1");
    quiet.metrics = false;
    quiet.profiles = true;
    let db_rid = rid();
    let (_, version) = store.insert_agent(&db_rid, &quiet).await.unwrap();
    let (read, rows) = snapshot(&store).await;
    assert_eq!(read, version);
    assert_eq!(
        rows,
        [
            DirectoryRow {
                rid: web,
                metrics: true,
                profiles: false,
            },
            DirectoryRow {
                rid: db_rid,
                metrics: false,
                profiles: true,
            },
        ]
    );
    store.close().await;
}

async fn concurrent_inserts_all_land_each_with_its_own_version(db: TestDb) {
    let store = db.open().await;
    let v0 = store.change_version().await.unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            store
                .insert_agent(&rid(), &spec(&format!("host-{i}")))
                .await
        });
    }
    let mut versions = Vec::new();
    while let Some(done) = writers.join_next().await {
        versions.push(done.unwrap().unwrap().1.0);
    }
    versions.sort_unstable();
    let expected: Vec<i64> = (1..=16).map(|n| v0.0 + n).collect();
    assert_eq!(versions, expected, "each write sees its own version");
    store.close().await;
}
