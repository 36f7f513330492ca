//! A stack of two Finch replicas on an external PostgreSQL with a CA file (`golden/replicas/`,
//! the files that differ from a self-signed stack's), and the refusal of replicas on SQLite.

use std::collections::BTreeMap;

use super::*;

const URI: &str = "postgres://finch:pw@db.example.com:5432/finch?sslmode=verify-full&sslrootcert=/home/me/root.pem";

fn replicated() -> StackSettings {
    let mut settings = settings(TlsMode::SelfSigned(pair()));
    settings.database =
        Database::from_flag(URI, |_| Ok(b"-----BEGIN CERTIFICATE-----\n".to_vec())).expect("valid");
    settings.replicas = "2".parse().expect("valid");
    settings
}

#[test]
fn two_replicas_on_postgres() {
    let single = rendered(&settings(TlsMode::SelfSigned(pair())));
    let files = rendered(&replicated());
    let differing: BTreeMap<String, RenderedFile> = files
        .into_iter()
        .filter(|(path, file)| single.get(path) != Some(file))
        .collect();
    assert_eq!(
        differing.keys().collect::<Vec<_>>(),
        [
            alloy::PATH,
            compose::PATH,
            finch_json::PATH,
            database::ROOT_CERT_PATH,
            traefik::DYNAMIC_PATH,
            traefik::STATIC_PATH,
        ]
    );
    assert_golden("replicas", &differing);
}

#[test]
fn the_replicated_compose_file_matches_the_schema_and_finch_reads_the_uri() {
    let files = rendered(&replicated());
    let compose: serde_json::Value =
        serde_norway::from_slice(&files[compose::PATH].contents).expect("YAML");
    let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&compose));
    assert_eq!(compose["services"]["finch-2"]["container_name"], "finch-2");
    let config = finch::config::FinchConfig::from_json(
        &files[finch_json::PATH].contents,
        std::path::PathBuf::from(DEFAULT_LIBRARY),
    )
    .expect("finch reads it");
    assert!(
        config
            .database
            .ends_with("sslrootcert=/var/lib/finch/postgres/root.crt"),
        "{}",
        config.database
    );
}

#[test]
fn a_new_ca_file_recreates_the_replicas_alone() {
    let before = replicated();
    let mut after = before.clone();
    after.database.root_cert = Some(b"another CA".to_vec());
    assert_eq!(
        changed(&hashes(&before), &hashes(&after)),
        ["finch", "finch-2"]
    );
}

#[test]
fn replicas_on_sqlite_are_refused() {
    let mut settings = settings(TlsMode::SelfSigned(pair()));
    settings.replicas = "2".parse().expect("valid");
    let error = render(&settings).expect_err("refused").to_string();
    assert!(error.contains("needs PostgreSQL"), "{error}");
}
