//! `--alert.silence`: how long an agent may send no metrics before its alert fires.
//!
//! Written as a whole number of minutes, hours or days (`15m`, `2h`, `1d`), and rendered in
//! the largest unit that divides it, a form PromQL reads. At least five minutes: agents
//! scrape every 15 s, and a query sees a sample for five minutes after it was written, so
//! anything shorter could not be told apart from a slow push. At most six days: the rule
//! looks back a week for agents that were alive.

use std::fmt;
use std::str::FromStr;

/// The default: a reboot or an upgrade of an agent's host stays under it, a dead host does not.
pub const DEFAULT_SILENCE: &str = "15m";

/// The shortest silence accepted, in minutes.
const MIN_MINUTES: u64 = 5;
/// The longest, in minutes: below the rule's one-week look-back.
const MAX_MINUTES: u64 = 6 * 24 * 60;

/// A silence period, in whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Silence {
    minutes: u64,
}

/// Why a silence cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a silence period: write a whole number of minutes, hours or days \
     from 5m to 6d, like 15m, 2h or 1d"
)]
pub struct SilenceError(String);

// === impl Silence ===

impl Silence {
    /// The period in minutes.
    pub fn minutes(self) -> u64 {
        self.minutes
    }
}

impl Default for Silence {
    fn default() -> Silence {
        Silence { minutes: 15 }
    }
}

impl FromStr for Silence {
    type Err = SilenceError;

    fn from_str(text: &str) -> Result<Silence, SilenceError> {
        let units = [("m", 1), ("h", 60), ("d", 24 * 60)];
        let minutes = crate::stack::period::parse(text, &units, MIN_MINUTES..=MAX_MINUTES)
            .ok_or_else(|| SilenceError(text.to_owned()))?;
        Ok(Silence { minutes })
    }
}

impl fmt::Display for Silence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.minutes;
        if m.is_multiple_of(24 * 60) {
            write!(f, "{}d", m / (24 * 60))
        } else if m.is_multiple_of(60) {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_become_the_largest_that_divides() {
        let parse = |s: &str| s.parse::<Silence>().map(|r| r.to_string());
        assert_eq!(parse("15m"), Ok("15m".into()));
        assert_eq!(parse("90m"), Ok("90m".into()));
        assert_eq!(parse("120m"), Ok("2h".into()));
        assert_eq!(parse("24h"), Ok("1d".into()));
        assert_eq!(parse(DEFAULT_SILENCE), Ok(Silence::default().to_string()));
    }

    #[test]
    fn nonsense_is_refused_with_the_value() {
        for bad in [
            "",
            "m",
            "4m",
            "7d",
            "15",
            "-1h",
            "1.5h",
            "15 m",
            "1w",
            "9999999999999999999d",
        ] {
            let err = bad.parse::<Silence>().expect_err(bad);
            assert!(
                err.to_string().starts_with(&format!("{bad:?} is not")),
                "{err}"
            );
        }
    }
}
