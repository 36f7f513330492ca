//! [`ChangeFeed`]: the changes to `agents` PostgreSQL announces, as they commit.
//!
//! The change-version trigger (`schema.rs`) notifies [`CHANGE_CHANNEL`] with the version and the
//! resource ids of every change, whichever replica or `psql` session made it. A feed is one
//! dedicated connection (not from the pool, which would hand it to others) that `LISTEN`s on the
//! channel. Notifications sent while no feed listened are lost: after a lost connection the
//! caller opens a new feed and then re-reads what changed meanwhile, in that order, so that no
//! change falls between the two.

use serde::Deserialize;
use sqlx::postgres::{PgListener, PgPool};

use super::error::map_sqlx;
use super::schema::CHANGE_CHANNEL;
use crate::store::error::StoreError;
use crate::store::records::{ChangeNotice, ChangeVersion};

/// A live subscription to the changes of `agents`.
pub struct ChangeFeed {
    listener: PgListener,
}

/// The notification payload the trigger writes.
#[derive(Deserialize)]
struct Payload {
    version: Option<i64>,
    rids: Option<Vec<String>>,
}

// === impl ChangeFeed ===

impl ChangeFeed {
    /// Connects with the pool's options and starts listening.
    pub(super) async fn open(pool: &PgPool) -> Result<ChangeFeed, StoreError> {
        let mut listener = PgListener::connect_with(pool).await.map_err(map_sqlx)?;
        listener.listen(CHANGE_CHANNEL).await.map_err(map_sqlx)?;
        Ok(ChangeFeed { listener })
    }

    /// The next change; `None` when the connection was lost, after which notifications may have
    /// been missed and this feed is done.
    ///
    /// Not cancel-safe: a caller that stops waiting must drop the feed.
    pub async fn next(&mut self) -> Result<Option<ChangeNotice>, StoreError> {
        match self.listener.try_recv().await {
            Ok(Some(notification)) => Ok(Some(parse(notification.payload()))),
            Ok(None) => Ok(None),
            Err(e) => Err(map_sqlx(e)),
        }
    }
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

/// Reads a payload; anything but a version with its ids is [`ChangeNotice::Unknown`].
fn parse(payload: &str) -> ChangeNotice {
    match serde_json::from_str::<Payload>(payload) {
        Ok(Payload {
            version: Some(version),
            rids: Some(rids),
        }) => ChangeNotice::Agents {
            version: ChangeVersion(version),
            rids,
        },
        _ => ChangeNotice::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_as_notices_and_anything_else_as_unknown() {
        assert_eq!(
            parse(r#"{"version" : 7, "rids" : ["a","b"]}"#),
            ChangeNotice::Agents {
                version: ChangeVersion(7),
                rids: vec!["a".to_owned(), "b".to_owned()],
            }
        );
        for unknown in [
            r#"{"version" : 8, "rids" : null}"#,
            r#"{"version" : null, "rids" : []}"#,
            "not json",
            "",
        ] {
            assert_eq!(parse(unknown), ChangeNotice::Unknown, "{unknown}");
        }
    }
}
