//! 200 dashboards open while agents come and go 50 times a second: the server stays up, every
//! subscription ends with its connection, and every page ends on the final list.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use finch::agents::AgentRid;
use finch::tokens::Role;
use tokio::task::JoinSet;

use crate::support::{DEADLINE, Options, Received, Server, eventually, hostnames};

const CLIENTS: usize = 200;
const CHANGES_PER_SECOND: u64 = 50;
const CHANGES: usize = 150; // three seconds of churn

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_through_churn() {
    let server = Server::start(Options {
        page_size: 200,
        refresh_interval: Duration::from_millis(250),
        revalidate_every: Duration::from_secs(30),
        ..Options::default()
    })
    .await;
    for i in 0..10 {
        server.register(&format!("seed-{i:02}")).await;
    }
    let token = server.token(Role::Viewer, &[]);
    let latest: Vec<Arc<Mutex<Option<Vec<String>>>>> =
        (0..CLIENTS).map(|_| Arc::new(Mutex::new(None))).collect();
    let mut readers = JoinSet::new();
    for slot in &latest {
        let mut client = server.ws(&token).await;
        let slot = Arc::clone(slot);
        readers.spawn(async move {
            loop {
                match client.next().await {
                    Received::Json(value) if value["type"] == "agents" => {
                        *slot.lock().unwrap() = Some(hostnames(&value));
                    }
                    Received::Json(_) => {}
                    Received::Closed(frame) => return frame,
                }
            }
        });
    }
    server.wait_for_subscriptions(CLIENTS).await;

    // Churn: register, and remove the oldest churned agent every other step.
    let mut ticker = tokio::time::interval(Duration::from_millis(1000 / CHANGES_PER_SECOND));
    let mut churned: Vec<AgentRid> = Vec::new();
    for step in 0..CHANGES {
        ticker.tick().await;
        if step % 3 == 2 && !churned.is_empty() {
            let rid = churned.remove(0);
            server.registry.deregister(&rid).await.unwrap();
        } else {
            let agent = server.register(&format!("churn-{step:03}")).await;
            churned.push(agent.rid);
        }
    }
    let expected: Vec<String> = server
        .registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.hostname)
        .collect();
    assert!(expected.len() < 200, "the final list fits on one page");

    let all_right = eventually(DEADLINE, || {
        let latest = latest.clone();
        let expected = expected.clone();
        async move {
            latest
                .iter()
                .all(|slot| slot.lock().unwrap().as_ref() == Some(&expected))
                .then_some(())
        }
    })
    .await;
    let wrong = latest
        .iter()
        .filter(|slot| slot.lock().unwrap().as_ref() != Some(&expected))
        .count();
    assert!(
        all_right.is_some(),
        "{wrong} of {CLIENTS} clients are not on the final list"
    );
    assert!(readers.len() == CLIENTS, "no client was disconnected");
    assert_eq!(server.live_subscriptions(), CLIENTS);

    // The server still answers, and every subscription ends with its connection.
    let response = reqwest::get(server.url("/login")).await.unwrap();
    assert_eq!(response.status(), 200);
    readers.abort_all();
    while readers.join_next().await.is_some() {}
    server.wait_for_subscriptions(0).await;
}
