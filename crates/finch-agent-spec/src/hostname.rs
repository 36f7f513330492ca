//! Agent host names: the name an agent reports under, unique across the fleet.
//!
//! Finch 1.x took any non-empty text. A host name ends up in the `host` label of every log line
//! and sample, in the dashboard and in the UNIQUE column, so it is held to the characters of DNS
//! names (plus `_`, which 1.x users have) and lower-cased: DNS names are case-insensitive, and
//! `Web1` and `web1` must not register as two agents.

use crate::error::{InputError, excerpt};

/// Longest host name accepted: the DNS limit for a full name.
pub const MAX_HOSTNAME_LEN: usize = 253;

/// Trims, checks and lower-cases a host name.
///
/// ```
/// use finch_agent_spec::{parse_hostname, InputError};
///
/// assert_eq!(parse_hostname(" Web-1.Example.com ").unwrap(), "web-1.example.com");
/// assert_eq!(parse_hostname("  "), Err(InputError::HostnameRequired));
/// assert!(parse_hostname("-web").is_err());
/// ```
pub fn parse_hostname(value: &str) -> Result<String, InputError> {
    let name = value.trim();
    if name.is_empty() {
        return Err(InputError::HostnameRequired);
    }
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphanumeric());
    let all_allowed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !starts_well || !all_allowed || name.len() > MAX_HOSTNAME_LEN {
        return Err(InputError::HostnameInvalid(excerpt(name)));
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn empty_or_blank_is_required_with_the_1x_message() {
        for value in ["", " ", "\t\n "] {
            let err = parse_hostname(value).unwrap_err();
            assert_eq!(err, InputError::HostnameRequired);
            assert_eq!(err.to_string(), "hostname is required");
        }
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            parse_hostname("  Web01.EXAMPLE.org\n").unwrap(),
            "web01.example.org"
        );
        assert_eq!(parse_hostname("db_2").unwrap(), "db_2");
        assert_eq!(parse_hostname("1host").unwrap(), "1host");
        assert_eq!(parse_hostname("a").unwrap(), "a");
    }

    #[test]
    fn refuses_bad_characters_and_starts() {
        for value in [
            "web 1", "web/1", "wéb", "web\"1", "-web", ".web", "_web", "web\u{0}", "host:80",
        ] {
            assert_eq!(
                parse_hostname(value),
                Err(InputError::HostnameInvalid(value.trim().to_owned())),
                "{value:?}"
            );
        }
    }

    #[test]
    fn message_quotes_the_value_and_says_how_to_fix_it() {
        let err = parse_hostname("web 1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "hostname \"web 1\" is not valid: use 1 to 253 letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        );
    }

    #[test]
    fn length_limit_is_253() {
        let longest = "a".repeat(MAX_HOSTNAME_LEN);
        assert_eq!(parse_hostname(&longest).unwrap(), longest);
        let too_long = "a".repeat(MAX_HOSTNAME_LEN + 1);
        let err = parse_hostname(&too_long).unwrap_err();
        // The quoted value is cut, so a huge input cannot make a huge error.
        assert_eq!(
            err,
            InputError::HostnameInvalid(format!("{}…", "a".repeat(100)))
        );
    }
}
