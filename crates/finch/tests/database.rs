//! The running `finch` against its SQLite database: a Finch 1.x database opens and its agents
//! authenticate, a foreign writer's delete is seen within a second, health reflects a read-only
//! database, and `/metrics` counts decisions.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use finch_testkit::legacy::{FINCH_1X_SCHEMA, sqlite3, token_minted_like_1x};
use finch_testkit::{FinchProcess, Library, SECRET, eventually, forward_auth, http};

const RID_METRICS: &str = "rid:finch:0123456789abcdef:agent:1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b";
const RID_EMPTY_LISTS: &str =
    "rid:finch:0123456789abcdef:agent:6fa459ea-ee8a-4ca4-894e-db77e160355e";
const RID_NULL_LISTS: &str =
    "rid:finch:0123456789abcdef:agent:16fd2706-8baf-433b-82eb-8c7fada847da";

#[tokio::test]
async fn a_finch_1x_database_opens_migrates_and_its_agents_authenticate() {
    let library = Library::new();
    let database = library.database_path();
    sqlite3(&database, FINCH_1X_SCHEMA);
    sqlite3(
        &database,
        &format!(
            "INSERT INTO agents (created_at, updated_at, active, hostname, log_sources, metrics, metrics_targets, profiles, resource_id, tags, node, username, password, password_hash) VALUES \
             ('2026-02-05 10:11:12.123456789+01:00', '2026-02-05 10:11:12.123456789+01:00', 1, 'metrics-host', '[\"journal:\",\"file:///var/log/syslog\"]', 1, '[\"http://localhost:9100/metrics\"]', 0, '{RID_METRICS}', '[\"env=prod\"]', 'unix', 'u', 'p', 'h'), \
             ('2026-03-01 08:00:00+00:00', '2026-03-01 08:00:00+00:00', 1, 'empty-lists', '', 0, '', 0, '{RID_EMPTY_LISTS}', '', 'unix', NULL, NULL, NULL), \
             ('2026-03-02 08:00:00+00:00', '2026-03-02 08:00:00+00:00', 1, 'null-lists', '[]', 0, '[]', 1, '{RID_NULL_LISTS}', NULL, 'windows', NULL, NULL, NULL);"
        ),
    );

    let finch = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    let base = format!("http://{}", finch.address("Auth"));
    let client = http();
    let push = |route: &'static str, rid: &'static str, uri: &'static str| {
        let client = client.clone();
        let url = format!("{base}{route}");
        async move {
            forward_auth(
                &client,
                &url,
                Some(&token_minted_like_1x(SECRET, rid)),
                "POST",
                uri,
            )
            .await
            .status()
        }
    };
    assert_eq!(push("/auth", RID_METRICS, "/loki/api/v1/push").await, 200);
    assert_eq!(push("/auth/mimir", RID_METRICS, "/api/v1/push").await, 200);
    assert_eq!(
        push("/auth/loki", RID_EMPTY_LISTS, "/loki/api/v1/push").await,
        200
    );
    assert_eq!(
        push("/auth/mimir", RID_EMPTY_LISTS, "/api/v1/push").await,
        403
    );
    assert_eq!(
        push(
            "/auth/pyroscope",
            RID_NULL_LISTS,
            "/push.v1.PusherService/Push"
        )
        .await,
        200
    );
    drop(finch);

    // The migration renamed tags → labels and dropped the basic-auth columns; the rows read back.
    let store = library.open_store().await;
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 3);
    assert_eq!(agents[0].labels, ["env=prod"]);
    assert_eq!(agents[0].metrics_targets, ["http://localhost:9100/metrics"]);
    assert!(agents[1].log_sources.is_empty() && agents[1].labels.is_empty());
    assert!(agents[2].labels.is_empty() && agents[2].metrics_targets.is_empty());
    store.close().await;
    let output = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(&database)
        .arg("SELECT name FROM pragma_table_info('agents') ORDER BY cid;")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let columns = String::from_utf8_lossy(&output.stdout);
    let columns: Vec<&str> = columns.lines().collect();
    assert_eq!(columns.len(), 14, "{columns:?}");
    assert!(columns.contains(&"labels") && !columns.contains(&"tags"));
    assert!(
        !columns
            .iter()
            .any(|c| ["username", "password", "password_hash"].contains(c))
    );
}

#[tokio::test]
async fn a_row_deleted_by_sqlite3_is_refused_within_one_second() {
    let library = Library::new();
    let rid = library.seed_agent("doomed", false, false).await;

    let finch = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    let url = format!("http://{}/auth/loki", finch.address("Auth"));
    let token = library.bearer(rid.as_str());
    let client = http();
    assert_eq!(
        forward_auth(&client, &url, Some(&token), "POST", "/loki/api/v1/push")
            .await
            .status(),
        200
    );
    sqlite3(
        &library.database_path(),
        &format!("DELETE FROM agents WHERE resource_id = '{}';", rid.as_str()),
    );
    let deleted_at = Instant::now();
    let refused = eventually(Duration::from_secs(1), || {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        async move {
            let status = forward_auth(&client, &url, Some(&token), "POST", "/loki/api/v1/push")
                .await
                .status();
            (status == 401).then_some(())
        }
    })
    .await;
    assert!(
        refused.is_some(),
        "still allowed {:?} after the foreign delete",
        deleted_at.elapsed()
    );
    drop(finch);
}

#[tokio::test]
async fn healthz_follows_the_database_and_metrics_count_decisions() {
    let library = Library::new();
    let rid = library.seed_agent("counted", false, false).await;
    let finch = FinchProcess::spawn(
        env!("CARGO_BIN_EXE_finch").as_ref(),
        &library.config_path(),
        &[],
    );
    let healthz = format!("http://{}/healthz", finch.address("Healthz"));
    let auth = format!("http://{}/auth/loki", finch.address("Auth"));
    let client = http();

    let response = client.get(&healthz).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-finch-release"));
    assert!(response.headers().contains_key("x-finch-commit"));
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(client.head(&healthz).send().await.unwrap().status(), 200);
    assert_eq!(client.post(&healthz).send().await.unwrap().status(), 405);

    let token = library.bearer(rid.as_str());
    for _ in 0..3 {
        assert_eq!(
            forward_auth(&client, &auth, Some(&token), "POST", "/loki/api/v1/push")
                .await
                .status(),
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(
            forward_auth(&client, &auth, None, "POST", "/loki/api/v1/push")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        forward_auth(&client, &auth, Some(&token), "GET", "/loki/api/v1/query")
            .await
            .status(),
        403
    );

    let metrics = client
        .get(format!("http://{}/metrics", finch.address("Healthz")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"finch_auth_requests_total{result="allowed",reason="ok"} 3"#,
        r#"finch_auth_requests_total{result="unauthorized",reason="missing_header"} 2"#,
        r#"finch_auth_requests_total{result="forbidden",reason="not_a_push"} 1"#,
        "finch_auth_request_duration_seconds_count 6",
        "finch_directory_agents 1",
        "finch_build_info{",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in:\n{metrics}"
        );
    }

    // A read-only database file fails the write probe.
    std::fs::set_permissions(
        library.database_path(),
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let status = eventually(Duration::from_secs(10), || {
        let client = client.clone();
        let healthz = healthz.clone();
        async move {
            let status = client.get(&healthz).send().await.unwrap().status();
            (status == 500).then_some(status)
        }
    })
    .await;
    assert_eq!(status.map(|s| s.as_u16()), Some(500));
    assert_eq!(client.head(&healthz).send().await.unwrap().status(), 500);
}
