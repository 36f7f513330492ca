//! finchctl: the operator's tool for a Finch stack.
//!
//! The binary is a thin `main`; everything lives here so tests reach it. [`cli`] holds the
//! command tree (parsed by clap with no I/O) and each command's `run`, which resolves the parsed
//! flags against the environment ([`environment`]), the profile file ([`profile`]) and the
//! credentials ([`mtls`]), then talks to the stack through [`client`], or runs plans on hosts
//! through [`target`]. [`stack`] renders the files a deploy uploads; [`agent_install`] builds the
//! plans that install Alloy agents. [`output`] owns what
//! reaches stdout and stderr, so every command prints data, warnings and errors the same way.

pub mod agent_input;
pub mod agent_install;
pub mod cli;
pub mod client;
pub mod environment;
pub mod mtls;
pub mod output;
pub mod profile;
pub mod stack;
pub mod target;

/// This build's release, `FINCH_RELEASE` at build time or the crate version.
pub const RELEASE: &str = match option_env!("FINCH_RELEASE") {
    Some(release) => release,
    None => env!("CARGO_PKG_VERSION"),
};

/// This build's commit, `FINCH_COMMIT` at build time or `unknown`.
pub const COMMIT: &str = match option_env!("FINCH_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};
