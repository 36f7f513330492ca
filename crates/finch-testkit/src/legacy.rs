//! What Finch 1.x leaves behind, made here independently of Finch's own code: its SQLite
//! `agents` table ([`FINCH_1X_SCHEMA`], filled with [`sqlite3`], the operator's own tool) and
//! its agent tokens ([`token_minted_like_1x`]). Tests of opening, migrating and copying a 1.x
//! registry start from these.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::SECRET;

/// The `agents` table exactly as Finch 1.x's GORM created it, from before the `tags` rename and
/// with the basic-auth columns of early 2026 still present.
pub const FINCH_1X_SCHEMA: &str = r#"
CREATE TABLE `agents` (`id` integer PRIMARY KEY AUTOINCREMENT,`created_at` datetime,`updated_at` datetime,`active` numeric NOT NULL DEFAULT true,`hostname` text NOT NULL,`last_seen` datetime DEFAULT NULL,`log_sources` text NOT NULL DEFAULT "[]",`metrics` numeric NOT NULL DEFAULT false,`metrics_targets` text NOT NULL DEFAULT "[]",`profiles` numeric NOT NULL DEFAULT false,`registered_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,`resource_id` text NOT NULL,`tags` text,`node` text NOT NULL DEFAULT "unix",`username` text,`password` text,`password_hash` text,CONSTRAINT `uni_agents_hostname` UNIQUE (`hostname`),CONSTRAINT `uni_agents_resource_id` UNIQUE (`resource_id`));
CREATE UNIQUE INDEX `uidx_agents_resource_id` ON `agents`(`resource_id`);
"#;

/// Runs `sql` on `database` with the `sqlite3` command-line tool, as an operator would.
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

/// An agent token minted the way Finch 1.x does (golang-jwt, MapClaims, HS256, raw secret
/// bytes) with the kit's [`SECRET`], as an `Authorization` value.
pub fn token_minted_like_1x(rid: &str) -> String {
    use hmac::{Hmac, Mac};
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now + 365 * 24 * 3600;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"exp":{exp},"iat":{now},"iss":"finch","rid":"{rid}","sub":"agent"}}"#
    ));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("Bearer {header}.{claims}.{signature}")
}
