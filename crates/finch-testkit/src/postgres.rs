//! A throw-away PostgreSQL server for one test, on a loopback port, with a database of its own:
//! the store's suite runs on it, and so do the tests and benchmarks of several replicas, which
//! also stop and start it to show an outage.
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, from `scripts/setup`). When
//! they are missing the test is skipped with a printed reason, unless `CI` is set, where that is
//! a failure. `initdb` runs once per machine and version into a template directory under the
//! system's temp dir (a few seconds); each server starts from a copy of it (a fraction of a
//! second) and is stopped when dropped. PostgreSQL refuses to run as root, so when the tests do,
//! the server runs as the `postgres` user the package creates.
//!
//! A server of [`database_reachable_at`] also listens on an address of this machine that
//! containers reach (a Docker network's gateway), for a stack deployed with `--stack.database`.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection as _;
use tempfile::TempDir;

/// Where Debian installs each PostgreSQL version.
const PG_LIB: &str = "/usr/lib/postgresql";

/// Bumped when the template's `initdb` options change, so an old template is not reused.
const TEMPLATE_REVISION: u32 = 1;

/// Settings for a server whose data may be lost: no fsync, and no more than tests need.
const SERVER_OPTIONS: &str = "-c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=100";

/// The role a [`database_reachable_at`] server lets in from elsewhere than the loopback.
const REMOTE_ROLE: &str = "finch";

/// A running server and one database on it, stopped and deleted when dropped.
pub struct PgDatabase {
    /// Connection URI of the test's database.
    pub uri: String,
    /// With [`database_reachable_at`]: the URI others use, with the address, the role
    /// `finch` and its password.
    pub remote_uri: Option<String>,
    server: PgServer,
}

/// A running server in a temporary directory.
struct PgServer {
    bin: PathBuf,
    dir: TempDir,
    owner: Option<Owner>,
    port: u16,
    /// `listen_addresses`.
    listen: String,
}

/// The user the server runs as, when the tests run as root.
#[derive(Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// Starts a server and creates a database with a random name on it; `None` (after printing why)
/// when PostgreSQL is not installed and `CI` is unset.
pub async fn database() -> Option<PgDatabase> {
    let server = PgServer::start(find_or_skip()?, None);
    Some(create_database(server, None).await)
}

/// As [`database`], with the server also listening on `address` (one of this machine's, such
/// as a Docker network's gateway) and letting in clients from `clients` (a CIDR) as the role
/// `finch`, with a password, owner of the database: [`PgDatabase::remote_uri`].
pub async fn database_reachable_at(address: std::net::IpAddr, clients: &str) -> Option<PgDatabase> {
    let server = PgServer::start(find_or_skip()?, Some((address, clients)));
    let password = uuid::Uuid::new_v4().simple().to_string();
    let mut database = create_database(server, Some(&password)).await;
    let name = database
        .uri
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap_or_default()
        .to_owned();
    database.remote_uri = Some(format!(
        "postgres://{REMOTE_ROLE}:{password}@{address}:{}/{name}?sslmode=disable",
        database.server.port
    ));
    Some(database)
}

/// The binaries, or `None` after printing why the test is skipped (a failure with `CI` set).
fn find_or_skip() -> Option<PathBuf> {
    let bin = find_binaries();
    if bin.is_none() {
        let reason = format!("PostgreSQL binaries not found under {PG_LIB}/<version>/bin");
        assert!(
            std::env::var_os("CI").is_none(),
            "{reason}: run scripts/setup"
        );
        eprintln!("skipped: {reason} (run scripts/setup)");
    }
    bin
}

/// Creates a database with a random name on `server`; with a password, owned by the role
/// `finch`, made with it.
async fn create_database(server: PgServer, password: Option<&str>) -> PgDatabase {
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let name = format!("finch_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    let mut statements = Vec::new();
    if let Some(password) = password {
        statements.push(format!(
            "CREATE ROLE {REMOTE_ROLE} LOGIN PASSWORD '{password}'"
        ));
        statements.push(format!("CREATE DATABASE {name} OWNER {REMOTE_ROLE}"));
    } else {
        statements.push(format!("CREATE DATABASE {name}"));
    }
    for statement in statements {
        sqlx::raw_sql(&statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    }
    let _ = conn.close().await;
    PgDatabase {
        uri: format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            server.port
        ),
        remote_uri: None,
        server,
    }
}

// === impl PgDatabase ===

impl PgDatabase {
    /// The server's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.dir.path().join("log")).unwrap_or_default()
    }

    /// Stops the server (fast shutdown: every connection is closed), keeping its data.
    pub fn stop(&self) {
        run(
            self.server.pg_ctl().args(["-m", "fast", "-w", "stop"]),
            None,
        );
    }

    /// Starts the stopped server again, on the same port.
    pub fn start(&self) {
        assert!(
            self.server.start_on(self.server.port),
            "the test PostgreSQL server did not start again: {}",
            self.log()
        );
    }
}

// === impl PgServer ===

impl PgServer {
    /// Copies the template into a new directory and starts a server on a free loopback port,
    /// trying a few ports in case another test takes the one chosen first.
    /// With `remote`, it also listens on the address and lets in the CIDR's clients as the
    /// role `finch` with its password.
    fn start(bin: PathBuf, remote: Option<(std::net::IpAddr, &str)>) -> PgServer {
        let owner = owner();
        let template = template(&bin, owner);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
        chown(dir.path(), owner);
        let data = dir.path().join("data");
        run(Command::new("cp").arg("-a").arg(&template).arg(&data), None);
        let mut listen = "127.0.0.1".to_owned();
        if let Some((address, clients)) = remote {
            listen.push_str(&format!(",{address}"));
            let hba = data.join("pg_hba.conf");
            let mut rules = std::fs::read_to_string(&hba)
                .unwrap_or_else(|e| panic!("cannot read {hba:?}: {e}"));
            rules.push_str(&format!("host all {REMOTE_ROLE} {clients} scram-sha-256\n"));
            std::fs::write(&hba, rules).unwrap_or_else(|e| panic!("cannot write {hba:?}: {e}"));
        }
        let mut server = PgServer {
            bin,
            dir,
            owner,
            port: 0,
            listen,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.start_on(server.port) {
                return server;
            }
        }
        panic!(
            "the test PostgreSQL server did not start: {}",
            std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Starts the server on `port`; whether it started.
    fn start_on(&self, port: u16) -> bool {
        self.pg_ctl()
            .args(["-w", "-t", "60", "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses={} {SERVER_OPTIONS}",
                self.dir.path().display(),
                self.listen
            ))
            .arg("start")
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"))
            .status
            .success()
    }

    /// `pg_ctl -D <data>`, as the server's owner.
    fn pg_ctl(&self) -> Command {
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .current_dir(self.dir.path());
        as_owner(&mut command, self.owner);
        command
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate: the data is thrown away, so there is nothing to flush.
        let _ = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The newest installed version's `bin` directory that has what the harness runs.
fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(PG_LIB)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The initialised data directory servers are copied from, made on first use. Concurrent first
/// uses each run `initdb` into a directory of their own and the first rename wins.
fn template(bin: &Path, owner: Option<Owner>) -> PathBuf {
    let version = bin
        .parent()
        .and_then(Path::file_name)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let template = std::env::temp_dir().join(format!(
        "finch-test-pg{version}-r{TEMPLATE_REVISION}-u{}",
        owner.map_or(0, |o| o.uid)
    ));
    if template.join("PG_VERSION").is_file() {
        return template;
    }
    let staging = std::env::temp_dir().join(format!(
        "finch-test-pg-staging-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&staging).unwrap_or_else(|e| panic!("cannot create {staging:?}: {e}"));
    chown(&staging, owner);
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&staging)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir(std::env::temp_dir());
    run(&mut initdb, owner);
    if std::fs::rename(&staging, &template).is_err() {
        // Another test made it first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    template
}

/// Runs `command` (as `owner`, if any) and panics with its output when it fails.
fn run(command: &mut Command, owner: Option<Owner>) {
    as_owner(command, owner);
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_owner(command: &mut Command, owner: Option<Owner>) {
    if let Some(Owner { uid, gid }) = owner {
        command.uid(uid).gid(gid);
    }
}

fn chown(path: &Path, owner: Option<Owner>) {
    if let Some(Owner { uid, gid }) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("cannot chown {path:?}: {e}"));
    }
}

/// The `postgres` user when this process runs as root, else `None` (the server runs as us).
fn owner() -> Option<Owner> {
    let running_as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !running_as_root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let owner = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next() != Some("postgres") {
            return None;
        }
        let mut ids = fields.skip(1).map(str::parse::<u32>);
        match (ids.next(), ids.next()) {
            (Some(Ok(uid)), Some(Ok(gid))) => Some(Owner { uid, gid }),
            _ => None,
        }
    });
    assert!(
        owner.is_some(),
        "tests run as root but there is no postgres user to run the server as: run scripts/setup"
    );
    owner
}

/// A loopback port free at the moment.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}
