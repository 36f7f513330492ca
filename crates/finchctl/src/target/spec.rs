//! Parsing a target: `[user@]host[:port]` as in 1.x, or any `Host` alias of `~/.ssh/config`.
//!
//! The four local names of 1.x (`localhost`, `local`, `127.0.0.1`, `::1`) select the local
//! shell; anything else goes to `ssh`, which resolves aliases, users and ports itself. A port
//! turns the destination into an `ssh://` URI, the only form in which `ssh` takes one.

use crate::target::TargetError;

/// The host names that mean "this machine" (1.x's list).
pub const LOCAL_NAMES: [&str; 4] = ["localhost", "local", "127.0.0.1", "::1"];

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The target as written, used as its name in output.
    pub raw: String,
    /// The user, when given.
    pub user: Option<String>,
    /// The host name, address or ssh alias.
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

// === impl TargetSpec ===

impl TargetSpec {
    /// Parses `[user@]host[:port]`; IPv6 addresses with a port go in brackets.
    ///
    /// ```
    /// use finchctl::target::TargetSpec;
    /// let t = TargetSpec::parse("deploy@[2001:db8::1]:2222").unwrap();
    /// assert_eq!((t.user.as_deref(), t.host.as_str(), t.port), (Some("deploy"), "2001:db8::1", Some(2222)));
    /// assert_eq!(t.destination(), "ssh://deploy@[2001:db8::1]:2222");
    /// assert!(TargetSpec::parse("localhost").unwrap().is_local());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let invalid = |reason: &str| TargetError::Invalid {
            target: raw.to_owned(),
            reason: reason.to_owned(),
        };
        if raw.is_empty() || raw.starts_with('-') || raw.chars().any(char::is_whitespace) {
            return Err(invalid(
                "expected [user@]host[:port] or an ssh config alias",
            ));
        }
        let (user, rest) = match raw.rsplit_once('@') {
            Some(("", _)) => return Err(invalid("the user before @ is empty")),
            Some((u, rest)) => (Some(u.to_owned()), rest),
            None => (None, raw),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| invalid("missing ] after the IPv6 address"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(invalid("expected :port after ]")),
                },
            }
        } else if rest.matches(':').count() > 1 {
            (rest, None) // a bare IPv6 address
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(&format!("{p:?} is not a port number")))
            })
            .transpose()?;
        Ok(Self {
            raw: raw.to_owned(),
            user,
            host: host.to_owned(),
            port,
        })
    }

    /// Whether the target is this machine (the local shell, no SSH).
    pub fn is_local(&self) -> bool {
        LOCAL_NAMES.contains(&self.host.as_str()) && self.port.is_none()
    }

    /// The destination argument for `ssh`.
    pub fn destination(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        match self.port {
            Some(port) if self.host.contains(':') => format!("ssh://{user}[{}]:{port}", self.host),
            Some(port) => format!("ssh://{user}{}:{port}", self.host),
            None => format!("{user}{}", self.host),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = TargetSpec::parse("root@example.com:2222").unwrap();
        assert_eq!(t.destination(), "ssh://root@example.com:2222");
        let t = TargetSpec::parse("web-1").unwrap();
        assert_eq!(
            (t.user.clone(), t.port, t.destination()),
            (None, None, "web-1".into())
        );
        assert!(TargetSpec::parse("::1").unwrap().is_local());
        assert!(TargetSpec::parse("root@local").unwrap().is_local());
        assert!(!TargetSpec::parse("127.0.0.1:2222").unwrap().is_local());
    }

    #[test]
    fn bad_targets_say_why() {
        for bad in [
            "",
            "@host",
            "host:x",
            "host:0",
            "-oProxyCommand=x",
            "[::1",
            "a b",
        ] {
            let err = TargetSpec::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid target"), "{bad}: {err}");
        }
    }
}
