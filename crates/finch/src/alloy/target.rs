//! Metrics targets as `prometheus.scrape` needs them: address, scheme, path, query parameters
//! and credentials, read from the stored URL.
//!
//! 1.x kept only host and path, so `https` targets were scraped over plain http and query
//! parameters were lost; here each part of the URL lands in the attribute that carries it.

use url::Url;

use crate::agents::target_names_path;

/// One scrape target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScrapeTarget {
    /// `host[:port]` as the URL gives it (IPv6 hosts in brackets).
    pub(crate) address: String,
    /// `http` or `https`.
    pub(crate) scheme: String,
    /// The path, when the stored URL names one (otherwise Alloy's default `/metrics`).
    pub(crate) metrics_path: Option<String>,
    /// Query parameters in order, repeated keys grouped.
    pub(crate) params: Vec<(String, Vec<String>)>,
    /// Username and password from the URL's userinfo.
    pub(crate) basic_auth: Option<(String, String)>,
}

/// A stored target that does not parse as an http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored metrics target is not a usable URL")]
pub struct TargetError;

// === impl ScrapeTarget ===

impl ScrapeTarget {
    /// Reads a stored metrics target.
    pub(crate) fn parse(stored: &str) -> Result<ScrapeTarget, TargetError> {
        let url = Url::parse(stored).map_err(|_| TargetError)?;
        let scheme = url.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(TargetError);
        }
        let host = url.host_str().ok_or(TargetError)?;
        let address = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let metrics_path = target_names_path(stored).then(|| url.path().to_owned());
        let mut params: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in url.query_pairs() {
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.push(value.into_owned()),
                None => params.push((key.into_owned(), vec![value.into_owned()])),
            }
        }
        let basic_auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
            (
                decode(url.username()),
                url.password().map(decode).unwrap_or_default(),
            )
        });
        Ok(ScrapeTarget {
            address,
            scheme,
            metrics_path,
            params,
            basic_auth,
        })
    }
}

fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_target_has_only_an_address() {
        let target = ScrapeTarget::parse("http://127.0.0.1:9100").expect("valid");
        assert_eq!(target.address, "127.0.0.1:9100");
        assert_eq!(target.scheme, "http");
        assert_eq!(target.metrics_path, None);
        assert!(target.params.is_empty() && target.basic_auth.is_none());
    }

    #[test]
    fn https_target_keeps_scheme_path_query_and_credentials() {
        let target = ScrapeTarget::parse(
            "https://u%40x:p%3As@app.example.com:8443/stats?format=prom&x=1&x=2",
        )
        .expect("valid");
        assert_eq!(target.address, "app.example.com:8443");
        assert_eq!(target.scheme, "https");
        assert_eq!(target.metrics_path.as_deref(), Some("/stats"));
        assert_eq!(
            target.params,
            [
                ("format".to_owned(), vec!["prom".to_owned()]),
                ("x".to_owned(), vec!["1".to_owned(), "2".to_owned()])
            ]
        );
        assert_eq!(target.basic_auth, Some(("u@x".into(), "p:s".into())));
    }

    #[test]
    fn ipv6_host_keeps_brackets_and_default_port_is_implicit() {
        let target = ScrapeTarget::parse("https://[::1]/metrics").expect("valid");
        assert_eq!(target.address, "[::1]");
        assert_eq!(target.metrics_path.as_deref(), Some("/metrics"));
    }

    #[test]
    fn unusable_targets_are_errors() {
        for stored in ["", "not a url", "ftp://h/x", "file:///x"] {
            assert_eq!(ScrapeTarget::parse(stored), Err(TargetError), "{stored:?}");
        }
    }
}
