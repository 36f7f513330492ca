//! Alloy string literals.
//!
//! Every value the renderer takes from outside (host names, labels, paths, channels, URLs, the
//! token) goes through [`string`], so no input can end a string early or start a block. Alloy's
//! scanner takes Go's escapes (`\"`, `\\`, `\n`, `\t`, `\uXXXX`, ...) and refuses a raw newline
//! inside `"..."`; everything below U+0020, DEL and the C1 controls are therefore escaped.

use std::fmt::Write as _;

/// `value` as a double-quoted Alloy string.
///
/// ```
/// assert_eq!(finch::alloy::string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
/// assert_eq!(finch::alloy::string("x\u{1}"), r#""x\u0001""#);
/// ```
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads an Alloy string literal back the way Alloy's scanner and Go's unquoting do, for the
    /// escapes [`string`] writes; `None` if the literal is not exactly one well-formed string.
    pub(crate) fn unquote(literal: &str) -> Option<String> {
        let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' | '\n' => return None,
                '\\' => match chars.next()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn plain_text_is_only_quoted() {
        assert_eq!(string("web-1.example.com"), "\"web-1.example.com\"");
        assert_eq!(string(""), "\"\"");
        assert_eq!(string("ünï cödé ✓"), "\"ünï cödé ✓\"");
    }

    #[test]
    fn injection_stays_one_string() {
        let evil = "x\" } evil { \"";
        let literal = string(evil);
        assert_eq!(literal, r#""x\" } evil { \"""#);
        assert_eq!(unquote(&literal).as_deref(), Some(evil));
    }

    #[test]
    fn control_characters_are_escaped() {
        let literal = string("a\u{0}b\u{7f}c\u{85}d\re\tf");
        assert_eq!(literal, r#""a\u0000b\u007fc\u0085d\re\tf""#);
        assert!(!literal.chars().any(char::is_control));
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips(value in ".*") {
            let literal = string(&value);
            proptest::prop_assert!(!literal.chars().any(char::is_control));
            proptest::prop_assert_eq!(unquote(&literal), Some(value));
        }
    }
}
