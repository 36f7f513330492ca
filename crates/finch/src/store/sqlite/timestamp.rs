//! Timestamps in SQLite `datetime` columns, as Finch 1.x and SQLite itself write them.
//!
//! SQLite has no time type: the columns hold whatever text the writer chose. Finch 1.x (Go, the
//! mattn driver) wrote `2026-02-05 10:11:12.123456789+01:00` in its local zone; SQLite's
//! `CURRENT_TIMESTAMP` default writes `2026-02-05 10:11:12` in UTC; hand edits bring
//! `2026-02-05T10:11:12Z`. Reads are therefore lenient and a value that cannot be understood is
//! `None`, never an error: a timestamp is display data and must not make an agent unreadable.
//! Writes use the mattn form in UTC, so Finch 1.x can still read what this version stores.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The form written: mattn's `2006-01-02 15:04:05.999999999-07:00` with all nine digits, in UTC.
const STORED: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:9][offset_hour sign:mandatory]:[offset_minute]"
);

/// Date and time without offset; seconds and their fraction are optional, as in mattn's list.
const DATE_TIME: &[BorrowedFormatItem<'_>] = format_description!(
    version = 2,
    "[year]-[month]-[day] [hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
);

/// A bare date, read as midnight.
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// Length of `YYYY-MM-DD`, where the time part starts.
const DATE_LEN: usize = 10;

/// Formats `at` for a `datetime` column.
pub(super) fn format(at: OffsetDateTime) -> Result<String, time::error::Format> {
    at.to_offset(UtcOffset::UTC).format(STORED)
}

/// Reads a `datetime` column value (already cast to text); `None` when it is empty or not a
/// timestamp in any known form. Values without an offset are UTC, as mattn reads them.
pub(super) fn parse(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(number) = value.parse::<i64>() {
        return from_unix(number);
    }
    let (local, offset) = split_offset(value)?;
    let local = parse_local(local)?;
    Some(local.assume_offset(offset))
}

/// A Unix time in an integer column: mattn reads 13 digits as milliseconds, else seconds.
fn from_unix(number: i64) -> Option<OffsetDateTime> {
    let nanos = if number.unsigned_abs().to_string().len() == 13 {
        i128::from(number) * 1_000_000
    } else {
        i128::from(number) * 1_000_000_000
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Splits a trailing `Z` or `±HH:MM` (or `±HHMM`, `±HH`) offset off the value.
fn split_offset(value: &str) -> Option<(&str, UtcOffset)> {
    if let Some(local) = value.strip_suffix(['Z', 'z']) {
        return Some((local.trim_end(), UtcOffset::UTC));
    }
    let time_part = value.get(DATE_LEN..).unwrap_or("");
    let Some(sign_at) = time_part.rfind(['+', '-']) else {
        return Some((value, UtcOffset::UTC));
    };
    let sign_at = DATE_LEN + sign_at;
    let (local, offset) = value.split_at(sign_at);
    Some((local.trim_end(), parse_offset(offset)?))
}

/// Parses `±HH:MM`, `±HHMM` or `±HH`.
fn parse_offset(offset: &str) -> Option<UtcOffset> {
    let (negative, digits) = match offset.split_at_checked(1)? {
        ("+", digits) => (false, digits),
        ("-", digits) => (true, digits),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i8>().ok()?, 0),
        4 => (
            digits[..2].parse::<i8>().ok()?,
            digits[2..].parse::<i8>().ok()?,
        ),
        _ => return None,
    };
    let sign = if negative { -1 } else { 1 };
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// Parses the part before the offset: `YYYY-MM-DD`, then optionally ` ` or `T` and a time.
fn parse_local(local: &str) -> Option<PrimitiveDateTime> {
    if local.len() == DATE_LEN {
        return Date::parse(local, DATE)
            .ok()
            .map(|date| date.with_time(Time::MIDNIGHT));
    }
    let normalised = match local.as_bytes().get(DATE_LEN) {
        Some(b'T' | b't') => format!("{} {}", &local[..DATE_LEN], &local[DATE_LEN + 1..]),
        _ => local.to_owned(),
    };
    PrimitiveDateTime::parse(&normalised, DATE_TIME).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn mattn_form_with_offset() {
        assert_eq!(
            parse("2026-02-05 10:11:12.123456789+01:00"),
            Some(datetime!(2026-02-05 10:11:12.123456789 +01:00))
        );
        assert_eq!(
            parse("2026-02-05 10:11:12.5-03:30"),
            Some(datetime!(2026-02-05 10:11:12.5 -03:30))
        );
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(
            parse("2026-02-05T10:11:12Z"),
            Some(datetime!(2026-02-05 10:11:12 UTC))
        );
        assert_eq!(
            parse("2026-02-05T10:11:12.25+02:00"),
            Some(datetime!(2026-02-05 10:11:12.25 +02:00))
        );
    }

    #[test]
    fn current_timestamp_form_is_utc() {
        assert_eq!(
            parse("2026-02-05 10:11:12"),
            Some(datetime!(2026-02-05 10:11:12 UTC))
        );
        assert_eq!(
            parse("2026-02-05 10:11"),
            Some(datetime!(2026-02-05 10:11 UTC))
        );
        assert_eq!(parse("2026-02-05"), Some(datetime!(2026-02-05 0:00 UTC)));
    }

    #[test]
    fn unix_numbers() {
        assert_eq!(
            parse("1770286272"),
            Some(datetime!(2026-02-05 10:11:12 UTC))
        );
        assert_eq!(
            parse("1770286272500"),
            Some(datetime!(2026-02-05 10:11:12.5 UTC))
        );
    }

    #[test]
    fn garbage_is_none() {
        for value in [
            "",
            "  ",
            "yesterday",
            "2026-13-05 10:11:12",
            "2026-02-05 10:11:12+1",
            "2026-02-05 10:11:12 CET",
            "2460000.5",
        ] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn format_is_mattn_utc_and_round_trips() {
        let at = datetime!(2026-02-05 10:11:12.000000042 +01:00);
        let stored = format(at).unwrap();
        assert_eq!(stored, "2026-02-05 09:11:12.000000042+00:00");
        assert_eq!(parse(&stored), Some(at));
    }
}
