//! `service rotate-secret`: the new `finch.json` after a token-secret rotation.
//!
//! The old secret moves to `previous_secret` with the end of `--secret.grace` as
//! `previous_secret_until`, so `finch` keeps accepting agent tokens it signed until then
//! (`docs/configuration.md`); with no grace both keys go and the old tokens stop at once, as in
//! 1.x. Every other key is kept as it was (a 1.x `profiler`, a PostgreSQL `database`), so the
//! rewrite works on a 1.x library too. Pure: the caller reads the file, brings the clock and
//! the new secret, and uploads the result.

use std::fmt;
use std::str::FromStr;

use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::finch_json::KEY_ORDER;

/// The key of the current secret.
const SECRET: &str = "secret";
/// The key of the secret before the last rotation.
pub const PREVIOUS_SECRET: &str = "previous_secret";
/// The key of the end of its grace (RFC 3339).
pub const PREVIOUS_SECRET_UNTIL: &str = "previous_secret_until";

/// The default grace: none, as 1.x (a rotation after a leak must end the old tokens at once).
pub const DEFAULT_GRACE: &str = "0s";

/// The longest grace accepted (a year: agent tokens live 365 days, so a longer grace keeps the
/// old secret alive past every token it signed).
const MAX_GRACE: Duration = Duration::days(365);

/// How long tokens signed with the old secret keep working after a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace(Duration);

/// Why a grace cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a grace period: write a whole number of seconds, minutes, hours, days or \
     weeks up to 365d, like 0s, 30m, 48h or 7d"
)]
pub struct GraceError(String);

/// Why `finch.json` cannot be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The file is not a JSON object.
    #[error("the host's finch.json is not a JSON object: {0}")]
    NotJson(String),
    /// The file has no secret to rotate.
    #[error("the host's finch.json has no secret: it is not a Finch configuration")]
    NoSecret,
    /// The clock cannot be written.
    #[error("cannot write the end of the grace: {0}")]
    Clock(String),
}

/// A rotated `finch.json`.
pub struct Rotated {
    /// The new file, pretty-printed.
    pub finch_json: Vec<u8>,
    /// When the old secret's grace ends, if there is one.
    pub grace_until: Option<OffsetDateTime>,
    /// Whether an earlier rotation's grace was still running: tokens of the secret before the
    /// old one stop now.
    pub ended_earlier_grace: bool,
}

// === impl Grace ===

impl Grace {
    /// The grace as a duration.
    pub fn duration(self) -> Duration {
        self.0
    }

    /// No grace.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for Grace {
    type Err = GraceError;

    fn from_str(text: &str) -> Result<Grace, GraceError> {
        let bad = || GraceError(text.to_owned());
        let split = text.len().checked_sub(1).ok_or_else(bad)?;
        let (number, unit) = text.split_at_checked(split).ok_or_else(bad)?;
        let seconds_per_unit: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds_per_unit))
            .map(Duration::seconds)
            .filter(|d| *d <= MAX_GRACE)
            .map(Grace)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Grace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.whole_seconds())
    }
}

// === impl Rotated ===

impl fmt::Debug for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotated")
            .field("finch_json", &"REDACTED")
            .field("grace_until", &self.grace_until)
            .field("ended_earlier_grace", &self.ended_earlier_grace)
            .finish()
    }
}

/// `finch_json` with `new_secret` as its secret and, for a non-zero `grace`, the old secret
/// accepted for agent tokens until `now + grace` (to the second, rounded up).
pub fn rotate(
    finch_json: &[u8],
    new_secret: &str,
    grace: Grace,
    now: OffsetDateTime,
) -> Result<Rotated, RotationError> {
    let mut doc: Map<String, Value> =
        serde_json::from_slice(finch_json).map_err(|e| RotationError::NotJson(e.to_string()))?;
    let old = match doc.get(SECRET) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(RotationError::NoSecret),
    };
    let ended_earlier_grace = earlier_grace_running(&doc, now);
    doc.insert(SECRET.to_owned(), Value::from(new_secret));
    let grace_until = if grace.is_zero() {
        doc.remove(PREVIOUS_SECRET);
        doc.remove(PREVIOUS_SECRET_UNTIL);
        None
    } else {
        let until = ceil_to_second(now) + grace.duration();
        let text = until
            .format(&Rfc3339)
            .map_err(|e| RotationError::Clock(e.to_string()))?;
        doc.insert(PREVIOUS_SECRET.to_owned(), Value::from(old));
        doc.insert(PREVIOUS_SECRET_UNTIL.to_owned(), Value::from(text));
        Some(until)
    };
    let mut text = serde_json::to_string_pretty(&InRenderOrder(&doc))
        .map_err(|e| RotationError::NotJson(e.to_string()))?;
    text.push('\n');
    Ok(Rotated {
        finch_json: text.into_bytes(),
        grace_until,
        ended_earlier_grace,
    })
}

/// A `finch.json` object written with the keys a render writes first, in its order, then any
/// other key (a 1.x `profiler`) in name order.
struct InRenderOrder<'a>(&'a Map<String, Value>);

impl Serialize for InRenderOrder<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let known = KEY_ORDER
            .iter()
            .filter_map(|key| self.0.get_key_value(*key));
        let others = self
            .0
            .iter()
            .filter(|(key, _)| !KEY_ORDER.contains(&key.as_str()));
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in known.chain(others) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Whether `doc` holds a previous secret whose grace has not ended at `now`.
fn earlier_grace_running(doc: &Map<String, Value>, now: OffsetDateTime) -> bool {
    let has_previous = matches!(doc.get(PREVIOUS_SECRET), Some(Value::String(s)) if !s.is_empty());
    let until = match doc.get(PREVIOUS_SECRET_UNTIL) {
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339).ok(),
        _ => None,
    };
    has_previous && until.is_some_and(|u| u > now)
}

/// `t` in UTC, rounded up to a whole second (finch compares whole seconds).
fn ceil_to_second(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    if whole == t {
        whole
    } else {
        whole + Duration::SECOND
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const ONE_X: &[u8] =
        br#"{"created_at":"2025-01-01T00:00:00+01:00","database":"sqlite://finch.db",
        "hostname":"h","id":"0011223344556677","secret":"old","profiler":"http://pyroscope:4040"}"#;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    fn json(bytes: &[u8]) -> Map<String, Value> {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn grace_takes_whole_units_up_to_a_year() {
        for (text, seconds) in [
            ("0s", 0),
            ("30s", 30),
            ("5m", 300),
            ("48h", 172_800),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("365d", 31_536_000),
        ] {
            let grace: Grace = text.parse().unwrap();
            assert_eq!(grace.duration().whole_seconds(), seconds, "{text}");
        }
        for bad in [
            "",
            "s",
            "30",
            "1.5h",
            "-1s",
            "366d",
            "53w",
            "30sec",
            " 30s",
            "9999999999999999w",
        ] {
            let err = bad.parse::<Grace>().unwrap_err();
            assert!(err.to_string().contains("is not a grace period"), "{bad}");
        }
    }

    #[test]
    fn a_grace_keeps_the_old_secret_until_its_end_and_every_other_key() {
        let now = at("2026-01-01T12:00:00.250Z");
        let rotated = rotate(ONE_X, "new", "30s".parse().unwrap(), now).unwrap();
        let doc = json(&rotated.finch_json);
        assert_eq!(doc["secret"], "new");
        assert_eq!(doc["previous_secret"], "old");
        assert_eq!(doc["previous_secret_until"], "2026-01-01T12:00:31Z");
        assert_eq!(rotated.grace_until, Some(at("2026-01-01T12:00:31Z")));
        for key in ["created_at", "database", "hostname", "id", "profiler"] {
            assert_eq!(doc[key], json(ONE_X)[key], "{key}");
        }
        assert!(!rotated.ended_earlier_grace);
        assert!(rotated.finch_json.ends_with(b"}\n"));
    }

    #[test]
    fn no_grace_drops_the_previous_secret() {
        let now = at("2026-01-01T12:00:00Z");
        let first = rotate(ONE_X, "second", "1h".parse().unwrap(), now).unwrap();
        let again = rotate(&first.finch_json, "third", Grace(Duration::ZERO), now).unwrap();
        let doc = json(&again.finch_json);
        assert_eq!(doc["secret"], "third");
        assert!(!doc.contains_key("previous_secret"));
        assert!(!doc.contains_key("previous_secret_until"));
        assert_eq!(again.grace_until, None);
        assert!(again.ended_earlier_grace);
    }

    #[test]
    fn a_second_rotation_inside_a_grace_says_the_older_secret_stops() {
        let now = at("2026-01-01T12:00:00Z");
        let first = rotate(ONE_X, "second", "1h".parse().unwrap(), now).unwrap();
        let inside = rotate(&first.finch_json, "third", "1h".parse().unwrap(), now).unwrap();
        assert!(inside.ended_earlier_grace);
        assert_eq!(json(&inside.finch_json)["previous_secret"], "second");
        let later = now + Duration::hours(2);
        let after = rotate(&first.finch_json, "third", "1h".parse().unwrap(), later).unwrap();
        assert!(!after.ended_earlier_grace);
    }

    #[test]
    fn a_file_without_a_secret_is_refused() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let grace = Grace(Duration::ZERO);
        for bad in [
            &b"["[..],
            b"[]",
            br#"{"id":"x"}"#,
            br#"{"secret":""}"#,
            br#"{"secret":1}"#,
        ] {
            assert!(rotate(bad, "new", grace, now).is_err());
        }
    }

    #[test]
    fn debug_hides_the_file() {
        let rotated = rotate(
            ONE_X,
            "topsecret",
            Grace(Duration::ZERO),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert!(!format!("{rotated:?}").contains("topsecret"));
    }
}
