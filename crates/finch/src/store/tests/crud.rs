//! Writing and reading agents: the round trip, duplicates, unknown ids and unreadable rows.

use time::OffsetDateTime;

use super::{TestDb, on_both_backends, rid, spec};
use crate::agents::{AgentChanges, AgentRid, LogSource, Node};
use crate::store::StoreError;

on_both_backends!(
    round_trip_insert_get_update_delete_list,
    file_and_event_sources_round_trip,
    duplicates_are_already_exists,
    unknown_agents_are_not_found,
    summaries_list_ids_and_host_names_in_registration_order,
    unreadable_stored_log_source_is_corrupt,
    health_check_passes,
);

async fn round_trip_insert_get_update_delete_list(db: TestDb) {
    let store = db.open().await;
    let rid = rid();
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let (inserted, _) = store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    assert_eq!(inserted.rid, rid);
    assert_eq!(inserted.hostname, "web-1");
    assert_eq!(
        inserted.log_sources,
        [LogSource::Journal, LogSource::Docker]
    );
    assert_eq!(inserted.labels, ["env=prod", "edge"]);
    assert!(inserted.created_at.is_some_and(|t| t > before));
    assert!(inserted.registered_at.is_some_and(|t| t > before));
    assert_eq!(inserted.last_seen, None);
    assert_eq!(store.get_agent(&rid).await.unwrap(), inserted);

    let changes = AgentChanges {
        log_sources: vec![LogSource::Docker],
        metrics: false,
        metrics_targets: Vec::new(),
        profiles: true,
        labels: Vec::new(),
    };
    let (updated, _) = store.update_agent(&rid, &changes).await.unwrap();
    assert_eq!(updated.log_sources, [LogSource::Docker]);
    assert!(!updated.metrics && updated.profiles);
    assert!(updated.metrics_targets.is_empty() && updated.labels.is_empty());
    assert_eq!(updated.hostname, "web-1");
    assert_eq!(updated.created_at, inserted.created_at);
    assert_eq!(store.get_agent(&rid).await.unwrap(), updated);

    let other = super::rid();
    let mut windows = spec("win-1");
    windows.node = Node::Windows;
    store.insert_agent(&other, &windows).await.unwrap();
    let listed = store.list_agents().await.unwrap();
    let rids: Vec<&AgentRid> = listed.iter().map(|a| &a.rid).collect();
    assert_eq!(rids, [&rid, &other], "registration order");
    assert_eq!(listed[1].node, Node::Windows);

    store.delete_agent(&rid).await.unwrap();
    assert!(matches!(
        store.get_agent(&rid).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_agents().await.unwrap().len(), 1);
    store.close().await;
}

async fn file_and_event_sources_round_trip(db: TestDb) {
    let store = db.open().await;
    let mut windows = spec("win-1");
    windows.node = Node::Windows;
    windows.log_sources = vec![
        LogSource::Event("Microsoft-Windows-Sysmon/Operational".to_owned()),
        LogSource::File("C:/ProgramData/app/*.log".to_owned()),
    ];
    let mut unix = spec("web-1");
    unix.log_sources = vec![LogSource::File("/var/log/*.log".to_owned())];
    for spec in [windows, unix] {
        let rid = rid();
        let (inserted, _) = store.insert_agent(&rid, &spec).await.unwrap();
        assert_eq!(inserted.log_sources, spec.log_sources);
        assert_eq!(
            store.get_agent(&rid).await.unwrap().log_sources,
            spec.log_sources
        );
    }
    store.close().await;
}

async fn duplicates_are_already_exists(db: TestDb) {
    let store = db.open().await;
    let first = rid();
    store.insert_agent(&first, &spec("web-1")).await.unwrap();
    let version = store.change_version().await.unwrap();
    assert!(matches!(
        store.insert_agent(&rid(), &spec("web-1")).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.insert_agent(&first, &spec("web-2")).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.change_version().await.unwrap(), version);
    assert_eq!(store.list_agents().await.unwrap().len(), 1);
    store.close().await;
}

async fn unknown_agents_are_not_found(db: TestDb) {
    let store = db.open().await;
    store.insert_agent(&rid(), &spec("web-1")).await.unwrap();
    let unknown = rid();
    let changes = AgentChanges {
        log_sources: vec![LogSource::Journal],
        metrics: false,
        metrics_targets: Vec::new(),
        profiles: false,
        labels: Vec::new(),
    };
    assert!(matches!(
        store.get_agent(&unknown).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_agent(&unknown, &changes).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_agent(&unknown).await,
        Err(StoreError::NotFound)
    ));
    store.close().await;
}

async fn summaries_list_ids_and_host_names_in_registration_order(db: TestDb) {
    let store = db.open().await;
    let first = rid();
    let second = rid();
    store.insert_agent(&first, &spec("web-1")).await.unwrap();
    store.insert_agent(&second, &spec("db-1")).await.unwrap();
    let summaries = store.list_agent_summaries().await.unwrap();
    let listed: Vec<(&str, &str)> = summaries
        .iter()
        .map(|s| (s.rid.as_str(), s.hostname.as_str()))
        .collect();
    assert_eq!(
        listed,
        [(first.as_str(), "web-1"), (second.as_str(), "db-1")]
    );
    store.close().await;
}

async fn unreadable_stored_log_source_is_corrupt(db: TestDb) {
    let store = db.open().await;
    let rid = rid();
    store.insert_agent(&rid, &spec("web-1")).await.unwrap();
    db.execute("UPDATE agents SET log_sources = '[\"gopher:\"]';")
        .await;
    match store.get_agent(&rid).await {
        Err(StoreError::Corrupt { rid: bad, reason }) => {
            assert_eq!(bad, rid.as_str());
            assert!(reason.contains("gopher:"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    store.close().await;
}

async fn health_check_passes(db: TestDb) {
    let store = db.open().await;
    store.health_check().await.unwrap();
    store.close().await;
}
