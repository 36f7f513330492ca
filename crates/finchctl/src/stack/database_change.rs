//! A deploy, update or render that names another database than the stack's own.
//!
//! Finch keeps its registry in one database; named another, it serves the agents that one
//! holds (none in a new database), and the agents of the old one stay behind, their tokens
//! refused. Nothing copies them by itself (`finch migrate` does, on purpose), so
//! [`DatabaseChange`] names both databases for a warning before anything changes, with the
//! command that copies the agents. Passwords are masked, as everywhere finchctl prints a URI.

use super::database::{CONTAINER_LIBRARY, mask_password};
use super::{Existing, StackSettings};
use crate::target::quote::quote;

/// The stack's database changing: `from` is the one its `finch.json` names, `to` the one the
/// flags name.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseChange {
    from: String,
    to: String,
}

// === impl DatabaseChange ===

impl DatabaseChange {
    /// The change from `kept` (the `database` of a deployed stack, none for a new stack) to
    /// `next`; none when both name the same database (a relative SQLite path and the absolute
    /// one it means in the finch container are the same).
    pub fn between(kept: Option<&str>, next: &str) -> Option<DatabaseChange> {
        let from = kept?;
        (in_container(from) != in_container(next)).then(|| DatabaseChange {
            from: from.to_owned(),
            to: next.to_owned(),
        })
    }

    /// The change a render of `settings` makes to the stack `existing` holds.
    pub fn of(existing: &Existing, settings: &StackSettings) -> Option<DatabaseChange> {
        let kept = existing
            .finch_json
            .as_ref()
            .map(|_| settings.generated.database.as_str());
        DatabaseChange::between(kept, &settings.database.uri)
    }

    /// The warning for the stack at `place` (`on HOST`, or `in DIR` for a render).
    pub fn warning(&self, place: &str) -> String {
        let (from, to) = (mask_password(&self.from), mask_password(&self.to));
        format!(
            "--stack.database changes the database of the stack {place} from {from} to {to}: \
             Finch will serve only the agents {to} holds (none if it is new), and the agents \
             registered in {from} are not copied, so their tokens are refused; to copy them, run \
             `{}` in the finch container before any agent is registered there, with the \
             passwords filled in (see `finch migrate` in docs/configuration.md)",
            self.migrate_command()
        )
    }

    /// `finch migrate` from the old database to the new one, as the finch container names
    /// them, passwords masked.
    fn migrate_command(&self) -> String {
        let uri = |u: &str| quote(&mask_password(&in_container(u)));
        format!(
            "finch migrate --from {} --to {}",
            uri(&self.from),
            uri(&self.to)
        )
    }
}

impl std::fmt::Debug for DatabaseChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URIs may carry passwords.
        f.debug_struct("DatabaseChange")
            .field("from", &mask_password(&self.from))
            .field("to", &mask_password(&self.to))
            .finish()
    }
}

/// A database URI as the finch container reads it: a relative SQLite path is relative to the
/// library, which the container mounts at [`CONTAINER_LIBRARY`].
fn in_container(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, path))
            if scheme.eq_ignore_ascii_case("sqlite")
                && !path.starts_with('/')
                && !path.starts_with(":memory:") =>
        {
            format!("{scheme}://{CONTAINER_LIBRARY}/{path}")
        }
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: &str = "postgres://finch:s3cret@db.internal:5432/finch?sslmode=require";

    #[test]
    fn only_another_database_of_a_deployed_stack_is_a_change() {
        assert_eq!(DatabaseChange::between(None, PG), None, "a new stack");
        assert_eq!(DatabaseChange::between(Some(PG), PG), None);
        assert_eq!(
            DatabaseChange::between(
                Some("sqlite://finch.db"),
                "sqlite:///var/lib/finch/finch.db"
            ),
            None,
            "the same file, as the container sees it"
        );
        assert!(DatabaseChange::between(Some("sqlite://finch.db"), PG).is_some());
        assert!(DatabaseChange::between(Some(PG), "sqlite://finch.db").is_some());
        let other = "postgres://finch:s3cret@db2.internal:5432/finch?sslmode=require";
        assert!(DatabaseChange::between(Some(PG), other).is_some());
    }

    #[test]
    fn the_warning_names_both_databases_and_the_copy_with_passwords_masked() {
        let change = DatabaseChange::between(Some("sqlite://finch.db"), PG).expect("a change");
        let warning = change.warning("on admin@finch.example.com");
        assert_eq!(
            warning,
            "--stack.database changes the database of the stack on admin@finch.example.com from \
             sqlite://finch.db to postgres://finch:REDACTED@db.internal:5432/finch?sslmode=require: \
             Finch will serve only the agents postgres://finch:REDACTED@db.internal:5432/finch?sslmode=require \
             holds (none if it is new), and the agents registered in sqlite://finch.db are not \
             copied, so their tokens are refused; to copy them, run `finch migrate --from \
             sqlite:///var/lib/finch/finch.db --to \
             'postgres://finch:REDACTED@db.internal:5432/finch?sslmode=require'` in the finch \
             container before any agent is registered there, with the passwords filled in (see \
             `finch migrate` in docs/configuration.md)"
        );
        assert!(!warning.contains("s3cret"));
        assert!(!format!("{change:?}").contains("s3cret"));
    }
}
