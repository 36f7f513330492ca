//! Headless Chromium (Debian's `chromium`, driven through `chromedriver`) using the dashboard as
//! a person would: sign in through the fragment link, read, search, page, watch an agent
//! appear, download a config, see the session expire, sign in as a viewer, log out.
//! Screenshots of each step go to `target/test-artifacts/dashboard/`. The driver is the kit's
//! ([`finch_testkit::browser`]).

use std::time::Duration;

use finch::tokens::Role;
use finch_testkit::browser::{Browser, Key};
use serde_json::json;

use crate::support::{Options, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_dashboard_in_chromium() {
    if !Browser::available() {
        return;
    }
    let server = Server::start(Options {
        hostname: "127.0.0.1",
        page_size: 2,
        ..Options::default()
    })
    .await;
    for host in ["web-01", "web-02", "db-01"] {
        server.register(host).await;
    }
    // web-01 pushed a moment ago (as `/auth` records it); the others never did.
    let web01 = server.registry.list().await.unwrap().remove(0);
    server
        .registry
        .store()
        .record_last_seen(&[(
            web01.rid,
            finch::dashboard::clock::Clock::now(server.clock.as_ref()),
        )])
        .await
        .unwrap();
    let browser = Browser::start("dashboard", &[]).await;
    let result = tokio::time::timeout(Duration::from_secs(120), journey(server, &browser)).await;
    if result.is_err() {
        browser.screenshot("failed-timeout").await;
    }
    browser.stop().await;
    result.expect("the journey finished in time");
}

async fn journey(server: Server, browser: &Browser) {
    sign_in_through_the_fragment(&server, browser).await;
    page_and_search(browser).await;
    live_agent_and_admin_actions(&server, browser).await;
    let server = reconnect_after_a_restart(server, browser).await;
    expiry_viewer_keyboard_and_logout(&server, browser).await;
}

async fn sign_in_through_the_fragment(server: &Server, browser: &Browser) {
    let b = browser;
    // Sign in through the fragment: the token never appears in a request line.
    let admin = server.token(Role::Admin, &[]);
    b.client
        .goto(&server.url(&format!("/login#token={admin}")))
        .await
        .unwrap();
    b.wait_for_agents(&["web-01", "web-02"], "login through the fragment")
        .await;
    assert_eq!(b.path().await, "/dashboard");
    let url = b.client.current_url().await.unwrap();
    assert!(url.fragment().is_none() && url.query().is_none(), "{url}");
    b.wait_until(
        "return document.querySelector('[data-stat=\"total_agents\"]').textContent === '3';",
        "stats",
    )
    .await;
    b.wait_until(
        "return Array.from(document.querySelectorAll('.agent .badge')).map(e => e.textContent).join(',') === 'Active,Never seen' \
         && document.querySelector('[data-stat=\"active_agents\"]').textContent === '1';",
        "liveness badges",
    )
    .await;
    b.screenshot("01-signed-in").await;
}

async fn page_and_search(browser: &Browser) {
    let b = browser;
    // Page.
    b.click("#pagination button[data-page='2']").await;
    b.wait_for_agents(&["db-01"], "page 2").await;
    b.wait_until(
        "return document.getElementById('page-info').textContent === 'Page 2 of 2';",
        "page info",
    )
    .await;
    b.screenshot("02-page-2").await;

    // Search.
    b.type_into("#search", "web-02").await;
    b.wait_for_agents(&["web-02"], "search").await;
    b.screenshot("03-search").await;
}

async fn live_agent_and_admin_actions(server: &Server, browser: &Browser) {
    let b = browser;
    // A new agent appears without reloading.
    b.search_for_none("cache").await;
    let cache = server.register("cache-01").await;
    b.wait_for_agents(&["cache-01"], "live registration").await;
    b.assert_not_reloaded().await;
    b.screenshot("04-new-agent-live").await;

    // An admin downloads the config.
    b.click(&format!(
        "button[data-action='download-config'][data-rid='{}']",
        cache.rid
    ))
    .await;
    let config = b.downloaded("alloy-", "cfg").await;
    assert!(
        config.contains("cache-01") && config.contains("127.0.0.1"),
        "{config}"
    );
    b.screenshot("05-config-downloaded").await;

    // And views a token.
    b.click(&format!(
        "button[data-action='show-token'][data-rid='{}']",
        cache.rid
    ))
    .await;
    b.wait_until(
        "return (document.querySelector('.token-value')?.value || '').split('.').length === 3;",
        "token shown",
    )
    .await;
    b.screenshot("06-token").await;
}

async fn reconnect_after_a_restart(server: Server, browser: &Browser) -> Server {
    let b = browser;
    // The server goes away: the page says the connection is lost, stays, and reconnects to the
    // server that comes back on the same address, keeping its search.
    let addr = server.addr;
    server.stop().await;
    b.wait_until(
        "return document.getElementById('status').textContent.startsWith('Connection lost');",
        "connection lost",
    )
    .await;
    assert_eq!(b.path().await, "/dashboard");
    b.screenshot("07-connection-lost").await;
    let server = Server::start(Options {
        hostname: "127.0.0.1",
        page_size: 2,
        bind: Some(addr),
        ..Options::default()
    })
    .await;
    server.register("cache-02").await;
    b.wait_for_agents(&["cache-02"], "reconnected").await;
    b.wait_until(
        "return document.getElementById('status').classList.contains('hidden');",
        "status cleared",
    )
    .await;
    b.assert_not_reloaded().await;

    server
}

async fn expiry_viewer_keyboard_and_logout(server: &Server, browser: &Browser) {
    let b = browser;
    // The session expires: the page lands on the login page, which says so.
    server.clock.advance(time::Duration::minutes(31));
    b.wait_until(
        "return location.pathname === '/login' && document.getElementById('login-message').textContent.includes('Your session has expired');",
        "expired session",
    )
    .await;
    b.screenshot("08-expired").await;

    // A viewer sees the agents but no token or config buttons.
    let viewer = server.token(Role::Viewer, &[]);
    b.client
        .goto(&server.url(&format!("/login#token={viewer}")))
        .await
        .unwrap();
    b.wait_for_agents(&["cache-02"], "viewer login").await;
    assert_eq!(
        b.js("return document.querySelectorAll('[data-action]').length;")
            .await,
        json!(0)
    );
    b.screenshot("09-viewer").await;

    // On a wall screen the same page scales up.
    b.client.set_window_size(2560, 1440).await.unwrap();
    b.screenshot("10-wall-screen").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // The keyboard reaches everything: the skip link first, then the header, then the search.
    b.press(Key::Tab).await;
    b.wait_until(
        "return document.activeElement.textContent === 'Skip to agents';",
        "skip link",
    )
    .await;
    for _ in 0..3 {
        b.press(Key::Tab).await;
    }
    b.wait_until(
        "return document.activeElement.id === 'search';",
        "search by keyboard",
    )
    .await;
    b.type_text("zzz").await;
    b.wait_until(
        "return document.querySelector('#agents .empty')?.textContent === 'No agents found matching \"zzz\"';",
        "typed search",
    )
    .await;

    // Log out: back on the login page, and the dashboard is closed to this browser.
    b.click("#logout").await;
    b.wait_until("return location.pathname === '/login';", "logout")
        .await;
    b.client.goto(&server.url("/dashboard")).await.unwrap();
    b.wait_until(
        "return location.pathname === '/login' && !!document.getElementById('token');",
        "signed out",
    )
    .await;
    b.screenshot("11-logged-out").await;
}
