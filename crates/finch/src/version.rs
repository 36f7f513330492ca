//! The release and commit this binary was built from.

/// The release, from `git describe` at build time (or the crate version).
pub const RELEASE: &str = env!("FINCH_BUILD_RELEASE");

/// The full commit hash at build time, or `unknown`.
pub const COMMIT: &str = env!("FINCH_BUILD_COMMIT");

/// Adds `X-Finch-Release` and `X-Finch-Commit` to a response, as 1.x does on gRPC, the dashboard
/// and healthz. A value that is not a valid header (a release name set from outside) is left out.
pub fn add_headers(headers: &mut http::HeaderMap) {
    for (name, value) in [("x-finch-release", RELEASE), ("x-finch-commit", COMMIT)] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
}

/// The text `finch version` prints.
pub fn banner(color: bool) -> String {
    let (start, end) = if color {
        ("\x1b[34m", "\x1b[0m")
    } else {
        ("", "")
    };
    format!(
        "{start}{art}{end}\nRelease: {RELEASE}\nCommit:  {COMMIT}\n",
        art = concat!(
            " _____ _            _     \n",
            "|  ___(_)_ __   ___| |__  \n",
            "| |_  | | '_ \\ / __| '_ \\ \n",
            "|  _| | | | | | (__| | | |\n",
            "|_|   |_|_| |_|\\___|_| |_|",
        )
    )
}
