//! Finch 1.x's on-disk state, made the way 1.x made it, for the tests that show it carries
//! over: its `agents` table ([`FINCH_1X_SCHEMA`], filled with the `sqlite3` tool, [`sqlite3`])
//! and its agent tokens ([`token_minted_like_1x`], built here independently of Finch's own token
//! code).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use time::OffsetDateTime;

/// The `agents` table exactly as Finch 1.x's GORM created it, from before the `tags` rename and
/// with the basic-auth columns of early 2026 still present.
pub const FINCH_1X_SCHEMA: &str = r#"
CREATE TABLE `agents` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,`updated_at` datetime,`active` numeric NOT NULL DEFAULT true,`hostname` text NOT NULL,`last_seen` datetime DEFAULT NULL,`log_sources` text NOT NULL DEFAULT "[]",`metrics` numeric NOT NULL DEFAULT false,`metrics_targets` text NOT NULL DEFAULT "[]",`profiles` numeric NOT NULL DEFAULT false,`registered_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,`resource_id` text NOT NULL,`tags` text,`node` text NOT NULL DEFAULT "unix",`username` text,`password` text,`password_hash` text,CONSTRAINT `uni_agents_hostname` UNIQUE (`hostname`),CONSTRAINT `uni_agents_resource_id` UNIQUE (`resource_id`));
CREATE UNIQUE INDEX `uidx_agents_resource_id` ON `agents`(`resource_id`);
"#;

/// Runs `sql` on `database` with the `sqlite3` tool (as an operator would), with a busy timeout.
pub fn sqlite3(database: &Path, sql: &str) {
    // A busy timeout, as any careful operator would set: finch may be writing at that moment.
    let output = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(database)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line tool is installed (scripts/setup)");
    assert!(
        output.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `Bearer <token>`: an agent token for `rid` minted the way Finch 1.x does (golang-jwt,
/// MapClaims, HS256, the raw bytes of `secret`), valid for 365 days from now.
pub fn token_minted_like_1x(secret: &str, rid: &str) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now + 365 * 24 * 3600;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"exp":{exp},"iat":{now},"iss":"finch","rid":"{rid}","sub":"agent"}}"#
    ));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("Bearer {header}.{claims}.{signature}")
}
