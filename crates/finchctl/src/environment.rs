//! The process environment finchctl reads, captured once in `main`.
//!
//! Commands take this struct instead of calling `std::env`, so tests run the same code with
//! their own values and nothing ever calls `set_var`.

use std::ffi::OsString;
use std::path::PathBuf;

/// `1` or `true` (any case) skips server certificate verification, as in 1.x.
pub const ENV_SKIP_TLS_VERIFY: &str = "FINCH_SKIP_TLS_VERIFY";
/// Any value turns colour off (<https://no-color.org>).
pub const ENV_NO_COLOR: &str = "NO_COLOR";

/// The environment variables and paths finchctl depends on.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$FINCH_CONFIG`: the directory that holds finch.json.
    pub finch_config: Option<PathBuf>,
    /// `$FINCH_SKIP_TLS_VERIFY`.
    pub skip_tls_verify: Option<OsString>,
    /// Whether `$NO_COLOR` is set (to anything non-empty).
    pub no_color: bool,
    /// Where the machine id is looked up.
    pub machine_id_paths: Vec<PathBuf>,
    /// `$PATH`, for finding a browser opener.
    pub path: Option<OsString>,
}

// === impl Environment ===

impl Environment {
    /// Reads the real process environment.
    pub fn from_process() -> Self {
        Self {
            home: std::env::var_os("HOME").map(PathBuf::from),
            finch_config: std::env::var_os(crate::profile::ENV_FINCH_CONFIG).map(PathBuf::from),
            skip_tls_verify: std::env::var_os(ENV_SKIP_TLS_VERIFY),
            no_color: std::env::var_os(ENV_NO_COLOR).is_some_and(|v| !v.is_empty()),
            machine_id_paths: crate::mtls::default_machine_id_paths(),
            path: std::env::var_os("PATH"),
        }
    }

    /// Whether `FINCH_SKIP_TLS_VERIFY` asks to skip verification (`1` or `true`, any case).
    pub fn skip_tls_verify(&self) -> bool {
        self.skip_tls_verify
            .as_ref()
            .and_then(|v| v.to_str())
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn skip_tls_verify_accepts_1_and_true_only() {
        let env = |v: &str| Environment {
            skip_tls_verify: Some(v.into()),
            ..Environment::default()
        };
        assert!(env("1").skip_tls_verify());
        assert!(env("TRUE").skip_tls_verify());
        assert!(env("true").skip_tls_verify());
        assert!(!env("yes").skip_tls_verify());
        assert!(!env("0").skip_tls_verify());
        assert!(!Environment::default().skip_tls_verify());
    }
}
