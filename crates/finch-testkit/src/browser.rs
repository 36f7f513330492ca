//! Headless Chromium (Debian's `chromium`, driven through `chromedriver` over WebDriver) using
//! the dashboard as a person would: the one browser driver of `finch`'s dashboard tests and of
//! the deployed stack's end-to-end test, so both read the page the same way.
//!
//! [`Browser::available`] is the discovery: Debian's paths, which `scripts/setup` installs;
//! `FINCH_SKIP_BROWSER_TESTS=1` skips on a machine without them. Screenshots go to
//! `target/test-artifacts/<name>/`, which CI keeps.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
pub use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::{DEADLINE, eventually};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A Chromium session with a profile and a download directory of its own.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    downloads: PathBuf,
    artifacts: PathBuf,
    _profile: tempfile::TempDir,
    _downloads: tempfile::TempDir,
}

impl Browser {
    /// Whether the browser tests run: `false` (after saying so) when `FINCH_SKIP_BROWSER_TESTS`
    /// is set; a missing Chromium or chromedriver otherwise fails the test.
    pub fn available() -> bool {
        if std::env::var_os("FINCH_SKIP_BROWSER_TESTS").is_some() {
            eprintln!("FINCH_SKIP_BROWSER_TESTS is set: skipping the Chromium test");
            return false;
        }
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "Chromium and chromedriver are required (Debian chromium, chromium-driver: scripts/setup)"
        );
        true
    }

    /// Starts chromedriver and a headless Chromium with `args` added to the kit's own; its
    /// screenshots go to `target/test-artifacts/<artifacts>/`.
    pub async fn start(artifacts: &str, args: &[String]) -> Browser {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts (install Debian's chromium-driver: scripts/setup)");
        let webdriver = format!("http://127.0.0.1:{port}");
        let status = format!("{webdriver}/status");
        let ready = eventually(DEADLINE, || {
            let status = status.clone();
            async move {
                reqwest::get(&status)
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
            }
        })
        .await;
        assert!(
            ready.is_some(),
            "chromedriver did not answer on {webdriver}"
        );

        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let mut chromium_args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .map(str::to_owned)
        .to_vec();
        chromium_args.push(format!("--user-data-dir={}", profile.path().display()));
        chromium_args.extend(args.iter().cloned());
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": chromium_args,
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "safebrowsing.enabled": false,
                },
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-artifacts")
            .join(artifacts);
        std::fs::create_dir_all(&artifacts).unwrap();
        let artifacts = artifacts.canonicalize().unwrap();
        Browser {
            client,
            driver,
            downloads: downloads.path().to_owned(),
            artifacts,
            _profile: profile,
            _downloads: downloads,
        }
    }

    /// Where [`Browser::screenshot`] writes.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }

    /// Saves the page as `<name>.png` in the artifacts directory and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// The host names of the agents the page lists, in order.
    pub async fn hostnames(&self) -> Vec<String> {
        let value = self
            .js("return Array.from(document.querySelectorAll('.agent-hostname')).map(e => e.textContent);")
            .await;
        serde_json::from_value(value).unwrap_or_default()
    }

    /// Waits until the page shows exactly `expected` agents, in order.
    pub async fn wait_for_agents(&self, expected: &[&str], step: &str) {
        let found = eventually(DEADLINE, || async {
            (self.hostnames().await == expected).then_some(())
        })
        .await;
        if found.is_none() {
            self.screenshot(&format!("failed-{step}")).await;
            panic!(
                "{step}: expected {expected:?}, the page shows {:?}",
                self.hostnames().await
            );
        }
    }

    /// Waits until `script` returns true, for the kit's [`DEADLINE`].
    pub async fn wait_until(&self, script: &str, step: &str) {
        self.wait_until_within(DEADLINE, script, step).await;
    }

    /// Waits until `script` returns true, for at most `deadline`; a screenshot of the page
    /// named after `step` is kept when it never does.
    pub async fn wait_until_within(&self, deadline: Duration, script: &str, step: &str) {
        let ok = eventually(deadline, || async {
            (self.js(script).await == Value::Bool(true)).then_some(())
        })
        .await;
        if ok.is_none() {
            self.screenshot(&format!("failed-{step}")).await;
            panic!("{step}: `{script}` never became true");
        }
    }

    /// Searches the dashboard for `term`, which no agent matches yet, waits until the list says
    /// so, and marks the page: [`Browser::assert_not_reloaded`] then tells whether what follows
    /// (an agent registered live, a reconnect) reloaded it.
    pub async fn search_for_none(&self, term: &str) {
        self.type_into("#search", term).await;
        self.wait_until(
            &format!(
                "return document.querySelector('#agents .empty')?.textContent === \
                 'No agents found matching \"{term}\"';"
            ),
            "empty search",
        )
        .await;
        self.js("window.__finchNoReload = true; return true;").await;
    }

    /// Asserts that the page marked by [`Browser::search_for_none`] was not reloaded since.
    pub async fn assert_not_reloaded(&self) {
        assert_eq!(
            self.js("return window.__finchNoReload === true;").await,
            Value::Bool(true),
            "the page was reloaded"
        );
    }

    /// The path of the page's URL.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Types `text` into the element `css` selects, after clearing it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Presses and releases `key` wherever the focus is, as a keyboard would.
    pub async fn press(&self, key: Key) {
        let key: char = key.into();
        self.type_chars("keyboard", [key]).await;
    }

    /// Types `text` wherever the focus is, one key at a time.
    pub async fn type_text(&self, text: &str) {
        self.type_chars("typing", text.chars()).await;
    }

    async fn type_chars(&self, source: &str, keys: impl IntoIterator<Item = char>) {
        for key in keys {
            let actions = KeyActions::new(source.to_owned())
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
            self.client.perform_actions(actions).await.unwrap();
        }
    }

    /// Waits for a finished download whose name starts with `prefix` and ends with
    /// `.<extension>`, and returns its text.
    pub async fn downloaded(&self, prefix: &str, extension: &str) -> String {
        let downloads = self.downloads.clone();
        let text = eventually(DEADLINE, || {
            let downloads = downloads.clone();
            async move {
                std::fs::read_dir(&downloads)
                    .ok()?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| {
                        p.extension().is_some_and(|e| e == extension)
                            && p.file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                    })
                    .and_then(|p| std::fs::read_to_string(p).ok())
            }
        })
        .await;
        match text {
            Some(text) => text,
            None => {
                self.screenshot("failed-download").await;
                panic!("no {prefix}*.{extension} was downloaded");
            }
        }
    }

    /// Ends the session and chromedriver.
    pub async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}
