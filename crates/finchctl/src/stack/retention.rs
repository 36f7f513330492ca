//! `--stack.retention`: how long Loki, Mimir and Pyroscope keep what agents send.
//!
//! Written as a whole number of hours, days or weeks (`72h`, `30d`, `2w`) and rendered in hours,
//! a form all three services read. At least a day: Loki applies retention per daily index table,
//! so anything shorter would be rounded up without saying so.

use std::fmt;
use std::str::FromStr;

/// The default: 1.x's fixed 72 hours, long enough to look back over a weekend.
pub const DEFAULT_RETENTION: &str = "72h";

/// The shortest retention accepted, in hours.
const MIN_HOURS: u64 = 24;
/// The longest, in hours (ten years): beyond this the number is a typo.
const MAX_HOURS: u64 = 24 * 3650;

/// A retention period, in whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    hours: u64,
}

/// Why a retention cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a retention period: write a whole number of hours, days or weeks \
     from 24h to 3650d, like 72h, 30d or 2w"
)]
pub struct RetentionError(String);

// === impl Retention ===

impl Retention {
    /// The period in hours.
    pub fn hours(self) -> u64 {
        self.hours
    }
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { hours: 72 }
    }
}

impl FromStr for Retention {
    type Err = RetentionError;

    fn from_str(text: &str) -> Result<Retention, RetentionError> {
        let units = [("h", 1), ("d", 24), ("w", 24 * 7)];
        let hours = super::period::parse(text, &units, MIN_HOURS..=MAX_HOURS)
            .ok_or_else(|| RetentionError(text.to_owned()))?;
        Ok(Retention { hours })
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}h", self.hours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_become_hours() {
        let parse = |s: &str| s.parse::<Retention>().map(|r| r.to_string());
        assert_eq!(parse("72h"), Ok("72h".into()));
        assert_eq!(parse("30d"), Ok("720h".into()));
        assert_eq!(parse("2w"), Ok("336h".into()));
        assert_eq!(
            parse(DEFAULT_RETENTION),
            Ok(Retention::default().to_string())
        );
    }

    #[test]
    fn nonsense_is_refused_with_the_value() {
        for bad in [
            "",
            "h",
            "12h",
            "72",
            "-1d",
            "1.5d",
            "7 d",
            "3y",
            "99999999999999999999w",
            "1e3h",
            "72ħ",
        ] {
            let err = bad.parse::<Retention>().expect_err(bad);
            assert!(
                err.to_string().starts_with(&format!("{bad:?} is not")),
                "{err}"
            );
        }
    }
}
