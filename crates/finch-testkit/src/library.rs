//! [`Library`]: a temporary library directory whose `finch.json` is written by the production
//! writer, and the real service started over it through [`finch::run::Service`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use finch::agents::{Agent, AgentRid};
use finch::config::FinchConfig;
use finch::run::{Listeners, Service, ServiceOptions, open_store};
use finch::store::Store;
use finch::tokens::TokenKey;
use time::OffsetDateTime;

use crate::{CREATED_AT, SECRET, SERVICE_HOST, SERVICE_ID, agent_spec};

/// A temporary library directory holding `finch.json`; removed on drop.
pub struct Library {
    dir: tempfile::TempDir,
    config: FinchConfig,
}

// === impl Library ===

impl Library {
    /// A library with the kit's id, host name and secret and `sqlite://finch.db`.
    pub fn new() -> Library {
        Library::with(|_| {})
    }

    /// A library whose database is `database`.
    pub fn with_database(database: &str) -> Library {
        Library::with(|config| database.clone_into(&mut config.database))
    }

    /// A library whose configuration `edit` changes before it is written.
    pub fn with(edit: impl FnOnce(&mut FinchConfig)) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let mut config = FinchConfig {
            created_at: CREATED_AT.to_owned(),
            database: "sqlite://finch.db".to_owned(),
            hostname: SERVICE_HOST.to_owned(),
            https_port: finch::config::DEFAULT_HTTPS_PORT,
            id: SERVICE_ID.to_owned(),
            secret: SECRET.to_owned(),
            profiler: Some("http://pyroscope:4040".to_owned()),
            proxy_secret: None,
            dashboard_page_size: None,
            previous_secret: None,
            library_dir: dir.path().to_owned(),
        };
        edit(&mut config);
        config
            .write_new(&dir.path().join(finch::config::FILE_NAME))
            .unwrap();
        std::fs::create_dir_all(config.certs_dir()).unwrap();
        Library { dir, config }
    }

    /// The library directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<library>/finch.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join(finch::config::FILE_NAME)
    }

    /// `<library>/finch.db`.
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("finch.db")
    }

    /// The configuration, as `finch run` loads it from the file.
    pub fn config(&self) -> FinchConfig {
        FinchConfig::load(&self.config_path()).unwrap()
    }

    /// Where operators' CA files go (created with the library).
    pub fn certs_dir(&self) -> PathBuf {
        self.config.certs_dir()
    }

    /// Installs `ca_pem` as the trust anchor of operator `rid`, as finchctl does at enrolment.
    pub fn enroll(&self, rid: &str, ca_pem: &str) {
        std::fs::write(self.certs_dir().join(format!("{rid}.pem")), ca_pem).unwrap();
    }

    /// The token key of this library's secret.
    pub fn tokens(&self) -> TokenKey {
        TokenKey::new(self.config.secret.as_bytes())
    }

    /// `Bearer <fresh agent token for rid>`.
    pub fn bearer(&self, rid: &str) -> String {
        let token = self.tokens().mint_agent(rid, OffsetDateTime::now_utc());
        format!("Bearer {}", token.token)
    }

    /// Opens the library's store, as the service does.
    pub async fn open_store(&self) -> Store {
        open_store(&self.config()).await.unwrap()
    }

    /// Stores an agent directly in the database, before a service starts.
    pub async fn seed_agent(&self, hostname: &str, metrics: bool, profiles: bool) -> AgentRid {
        let store = self.open_store().await;
        let rid = AgentRid::mint(&self.config.id);
        store
            .insert_agent(&rid, &agent_spec(hostname, metrics, profiles))
            .await
            .unwrap();
        store.close().await;
        rid
    }

    /// Starts the whole service in this process through the production [`Service::start`], on
    /// loopback port 0 for every listener.
    pub async fn start(&self) -> Service {
        let listeners = Listeners::bind_loopback().await.unwrap();
        self.start_with(listeners, ServiceOptions::default()).await
    }

    /// Starts the service through the production [`Service::start_with`] on `listeners`, with
    /// `options` (the dashboard's clock and intervals).
    pub async fn start_with(&self, listeners: Listeners, options: ServiceOptions) -> Service {
        let config = Arc::new(self.config());
        let store = open_store(&config).await.unwrap();
        Service::start_with(config, store, listeners, options)
            .await
            .unwrap()
    }
}

impl Default for Library {
    fn default() -> Self {
        Library::new()
    }
}

/// Registers an agent through the running service's registry.
pub async fn register(service: &Service, hostname: &str, metrics: bool, profiles: bool) -> Agent {
    service
        .registry()
        .register(&agent_spec(hostname, metrics, profiles))
        .await
        .unwrap()
}
