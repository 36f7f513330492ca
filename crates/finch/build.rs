//! Records the release and commit the binary was built from, for `finch version`, the
//! `x-finch-*` response headers and `finch_build_info`. Outside a git checkout (a source tarball,
//! a container build without `.git`) they fall back to the crate version and `unknown`, or to the
//! `FINCH_RELEASE` and `FINCH_COMMIT` environment variables when a release build sets them.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FINCH_RELEASE");
    println!("cargo:rerun-if-env-changed=FINCH_COMMIT");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    let release = std::env::var("FINCH_RELEASE")
        .ok()
        .or_else(|| git(&["describe", "--tags", "--dirty"]))
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "dev".into()));
    let commit = std::env::var("FINCH_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FINCH_BUILD_RELEASE={release}");
    println!("cargo:rustc-env=FINCH_BUILD_COMMIT={commit}");
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}
