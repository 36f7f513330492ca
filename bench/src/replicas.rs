//! `finch-bench replicas`: how soon a deregistration through one `finch` replica is refused by
//! another on the same database.
//!
//! Starts two `finch` processes (the release binary given) on one database: a throw-away
//! PostgreSQL server (the test kit's), or one SQLite file that both open. Each try registers an
//! agent through one replica, waits until the other lets its token through, deregisters it
//! through the first and asks the second's `/auth` until it refuses: the time from the
//! deregistration's answer to the first refusal. The replicas take turns as the writer. On
//! PostgreSQL the change is announced (LISTEN/NOTIFY); on SQLite the other replica finds it by
//! polling the change version.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use finch_testkit::postgres::PgDatabase;
use finch_testkit::{Library, OPERATOR, Pki, Replica, header, http, quantile, revocation_delay};

/// The goal for a change made through one replica to take effect on the others.
const GOAL: Duration = Duration::from_secs(1);

/// Options of `finch-bench replicas`.
#[derive(Debug, Args)]
pub struct ReplicasArgs {
    /// The `finch` binary to run (the release build).
    #[arg(long)]
    finch: PathBuf,
    /// The database both replicas share.
    #[arg(long, value_enum, default_value_t = Backend::Postgres)]
    database: Backend,
    /// How many deregistrations to time.
    #[arg(long, default_value_t = 100)]
    tries: u32,
}

/// A database the benchmarks run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A SQLite file in the library directory.
    Sqlite,
    /// A database on a throw-away PostgreSQL server on loopback.
    Postgres,
}

// === impl Backend ===

impl Backend {
    /// A throw-away PostgreSQL server with an empty database, for [`Backend::Postgres`].
    pub async fn server(self) -> anyhow::Result<Option<PgDatabase>> {
        match self {
            Backend::Sqlite => Ok(None),
            Backend::Postgres => postgres_database().await.map(Some),
        }
    }
}

/// A throw-away PostgreSQL server with an empty database.
pub async fn postgres_database() -> anyhow::Result<PgDatabase> {
    finch_testkit::postgres::database()
        .await
        .context("PostgreSQL is not installed: run scripts/setup")
}

pub async fn run(args: ReplicasArgs) -> anyhow::Result<()> {
    let server = args.database.server().await?;
    let library = match &server {
        Some(db) => Library::with_database(&db.uri),
        None => Library::new(),
    };
    let pki = Pki::new(OPERATOR);
    library.enroll(OPERATOR, &pki.ca_pem);
    let cert = header(&[&pki.client()]);
    let mut a = Replica::spawn(&args.finch, &library, &cert).await;
    let mut b = Replica::spawn(&args.finch, &library, &cert).await;
    let client = http();
    let mut delays = Vec::new();
    for i in 0..args.tries {
        let hostname = format!("replica-{i:04}");
        let delay = if i % 2 == 0 {
            revocation_delay(&mut a, &b, &library, &client, &hostname).await
        } else {
            revocation_delay(&mut b, &a, &library, &client, &hostname).await
        };
        delays.push(delay);
    }
    let ms = |q: f64| format!("{:.1}", quantile(&delays, q).as_secs_f64() * 1000.0);
    println!(
        "| cross-replica revocation, {:?} | {} | {} | {} | {} | < {} ms | {:.3} |",
        args.database,
        args.tries,
        ms(0.5),
        ms(0.99),
        ms(1.0),
        GOAL.as_millis(),
        quantile(&delays, 0.99).as_secs_f64() / GOAL.as_secs_f64()
    );
    Ok(())
}
