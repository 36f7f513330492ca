//! POSIX shell quoting: every argument of a step is quoted here, once, so a path with a space,
//! a quote or `$(…)` reaches the command as one literal word on any POSIX shell.
//!
//! Words made only of characters no shell treats specially stay bare (the commands read as a
//! person would type them, which keeps the documentation output legible); anything else is
//! wrapped in single quotes, with each `'` written as `'\''`.

/// Quotes one word for a POSIX shell.
///
/// ```
/// use finchctl::target::quote::quote;
/// assert_eq!(quote("/etc/finch"), "/etc/finch");
/// assert_eq!(quote("a b'c$(x)"), r#"'a b'\''c$(x)'"#);
/// assert_eq!(quote(""), "''");
/// ```
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_plain) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quotes each word and joins them with spaces: a command line that runs `words` as argv.
///
/// ```
/// use finchctl::target::quote::join;
/// assert_eq!(join(["mkdir", "-p", "/srv/a b"]), "mkdir -p '/srv/a b'");
/// ```
pub fn join<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | ':' | '=' | '@' | ',' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sh -c 'printf %s\\n "$@"' sh <quoted words>` and returns the words sh saw.
    fn through_sh(words: &[&str]) -> Vec<String> {
        let line = format!("printf '%s\\n' {}", join(words));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .output()
            .expect("sh runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn hostile_words_reach_the_command_unchanged() {
        let words = [
            "a b'c$(x)",
            "`id`",
            "$HOME",
            "semi;colon",
            "glob*?[x]",
            "back\\slash",
            "'",
            "''",
            "~user",
            "#comment",
            "new\tline",
        ];
        assert_eq!(through_sh(&words), words);
    }

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(join(["chmod", "0600", "/a/b.c"]), "chmod 0600 /a/b.c");
        assert_eq!(quote("root:root"), "root:root");
    }
}
