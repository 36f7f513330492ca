//! Metrics targets: extra Prometheus endpoints an agent scrapes, as `http` or `https` URLs.
//!
//! A target is parsed with the `url` crate and stored as its serialisation, so scheme, userinfo,
//! port, path and query all survive (1.x scraped `https` targets over plain http). One exception
//! keeps the stored text true to the input and readable by 1.x: the `url` crate gives every http
//! URL a path, `http://h:9100` becoming `http://h:9100/`, and 1.x (and any renderer) would then
//! scrape `/` instead of Alloy's default `/metrics`. A path the client did not give is therefore
//! left out of the stored text; [`target_names_path`] tells a renderer which case it has.

use std::borrow::Cow;
use std::collections::HashSet;

use url::{Position, Url};

use crate::error::{InputError, excerpt};
use crate::field::Field;

/// Longest metrics target accepted, in bytes.
pub const MAX_METRICS_TARGET_LEN: usize = 4096;

/// The bounds of a metrics target.
const METRICS_TARGET: Field = Field {
    name: "metrics target",
    max: MAX_METRICS_TARGET_LEN,
};

/// Validates metrics targets and returns their stored forms, first occurrences first; a target
/// given twice (in any spelling the parser normalises alike) is kept once.
///
/// ```
/// use finch_agent_spec::parse_metrics_targets;
///
/// let targets = parse_metrics_targets(&[
///     "HTTPS://App.example.com:8443/stats?format=prom".into(),
///     "http://127.0.0.1:9100".into(),
///     "http://127.0.0.1:9100".into(),
/// ])
/// .unwrap();
/// assert_eq!(
///     targets,
///     ["https://app.example.com:8443/stats?format=prom", "http://127.0.0.1:9100"]
/// );
/// ```
pub fn parse_metrics_targets(targets: &[String]) -> Result<Vec<String>, InputError> {
    let mut seen = HashSet::with_capacity(targets.len());
    let mut stored = Vec::with_capacity(targets.len());
    for target in targets {
        let target = parse_metrics_target(target)?;
        if seen.insert(target.clone()) {
            stored.push(target);
        }
    }
    Ok(stored)
}

/// Validates one metrics target and returns its stored form.
pub fn parse_metrics_target(target: &str) -> Result<String, InputError> {
    // The url crate silently drops tabs and newlines anywhere in its input; refuse them instead.
    METRICS_TARGET.check(target, || quoted(target))?;
    let url = Url::parse(target).map_err(|err| InputError::MetricsTargetInvalid {
        target: quoted(target),
        reason: err.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(InputError::MetricsTargetScheme {
            target: quoted(target),
            scheme: excerpt(url.scheme()),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(InputError::MetricsTargetHost(quoted(target)));
    }
    if url.path() == "/" && !target_names_path(target) {
        return Ok(format!(
            "{}{}",
            &url[..Position::BeforePath],
            &url[Position::AfterPath..]
        ));
    }
    Ok(url.into())
}

/// Whether a target (as given or as stored) names a path. When it does not, a renderer leaves
/// `metrics_path` unset so that Alloy scrapes its default `/metrics`.
///
/// ```
/// use finch_agent_spec::target_names_path;
///
/// assert!(!target_names_path("http://127.0.0.1:9100"));
/// assert!(!target_names_path("http://127.0.0.1:9100?x=1"));
/// assert!(target_names_path("http://127.0.0.1:9100/"));
/// assert!(target_names_path("https://app:8443/stats"));
/// ```
pub fn target_names_path(target: &str) -> bool {
    // The url crate's own reading: after `scheme:` and any slashes, the authority runs to the
    // first `/`, `\`, `?` or `#`; a path starts with a slash or backslash.
    let (_, rest) = authority_and_rest(target);
    rest.starts_with(['/', '\\'])
}

/// Splits a URL-ish text into the part up to the end of its authority and the rest.
fn authority_and_rest(target: &str) -> (&str, &str) {
    let start = match target.find(':') {
        Some(colon) => {
            let after = &target[colon + 1..];
            target.len() - after.trim_start_matches(['/', '\\']).len()
        }
        None => 0,
    };
    let end = target[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(target.len(), |i| start + i);
    target.split_at(end)
}

/// `target` cut for an error message, with any userinfo (which may hold a password) replaced by
/// `***`: error texts reach clients and logs.
fn quoted(target: &str) -> String {
    excerpt(&without_userinfo(target))
}

fn without_userinfo(target: &str) -> Cow<'_, str> {
    let (head, rest) = authority_and_rest(target);
    let Some(at) = head.rfind('@') else {
        return Cow::Borrowed(target);
    };
    let start = match head.find("//") {
        Some(slashes) if slashes < at => slashes + 2,
        _ => 0,
    };
    Cow::Owned(format!("{}***{}{rest}", &head[..start], &head[at..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
