//! Which forwarded requests an agent token may make: the ingestion endpoints, nothing else.
//!
//! Traefik's ForwardAuth tells us the original request in `X-Forwarded-Method` and
//! `X-Forwarded-Uri`, the latter *after* the router stripped its prefix (`/mimir/api/v1/push`
//! arrives as `/api/v1/push`). Every push endpoint of the three backends has a path of its own,
//! so the path alone names the signal. Matching is exact on the path (the query is ignored):
//! anything else, a query API, a trailing slash, a `..` or a percent-encoded variant, is refused.
//!
//! | signal   | method | forwarded path (after strip-prefix) | what sends it |
//! |----------|--------|-------------------------------------|---------------|
//! | logs     | POST   | `/loki/api/v1/push`                 | Alloy `loki.write`, Promtail |
//! | logs     | POST   | `/api/prom/push`                    | legacy Loki push |
//! | logs     | POST   | `/otlp/v1/logs`                     | OTLP/HTTP logs |
//! | metrics  | POST   | `/api/v1/push`                      | Prometheus remote write (Alloy, Prometheus agent) |
//! | metrics  | POST   | `/otlp/v1/metrics`                  | OTLP/HTTP metrics |
//! | profiles | POST   | `/ingest`                           | Pyroscope ingest API |
//! | profiles | POST   | `/push.v1.PusherService/Push`       | Alloy `pyroscope.write` (Connect) |

/// The kinds of data an agent pushes, one per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Loki.
    Logs,
    /// Mimir.
    Metrics,
    /// Pyroscope.
    Profiles,
}

const PUSH_ENDPOINTS: [(&str, Signal); 7] = [
    ("/loki/api/v1/push", Signal::Logs),
    ("/api/prom/push", Signal::Logs),
    ("/otlp/v1/logs", Signal::Logs),
    ("/api/v1/push", Signal::Metrics),
    ("/otlp/v1/metrics", Signal::Metrics),
    ("/ingest", Signal::Profiles),
    ("/push.v1.PusherService/Push", Signal::Profiles),
];

/// The signal a forwarded request pushes, or `None` when it is not an ingestion request.
pub fn push_signal(method: &str, uri: &str) -> Option<Signal> {
    if method != "POST" {
        return None;
    }
    let path = uri.split_once('?').map_or(uri, |(path, _)| path);
    PUSH_ENDPOINTS
        .iter()
        .find(|(endpoint, _)| *endpoint == path)
        .map(|(_, signal)| *signal)
}

// === impl Signal ===

impl Signal {
    /// The backend's name as used in routes (`/auth/<name>`).
    pub fn backend(self) -> &'static str {
        match self {
            Signal::Logs => "loki",
            Signal::Metrics => "mimir",
            Signal::Profiles => "pyroscope",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_endpoints_name_their_signal() {
        assert_eq!(push_signal("POST", "/loki/api/v1/push"), Some(Signal::Logs));
        assert_eq!(
            push_signal("POST", "/api/v1/push?x=1"),
            Some(Signal::Metrics)
        );
        assert_eq!(
            push_signal("POST", "/push.v1.PusherService/Push"),
            Some(Signal::Profiles)
        );
        assert_eq!(
            push_signal("POST", "/ingest?name=app.cpu&from=1"),
            Some(Signal::Profiles)
        );
    }

    #[test]
    fn queries_and_variants_are_not_pushes() {
        for (method, uri) in [
            ("GET", "/loki/api/v1/query_range?query={}"),
            ("GET", "/prometheus/api/v1/query?query=up"),
            ("POST", "/prometheus/api/v1/query"),
            ("GET", "/api/v1/push"),
            ("POST", "/api/v1/push/"),
            ("POST", "/api/v1/../v1/push"),
            ("POST", "/api/v1/%70ush"),
            ("POST", "//api/v1/push"),
            ("POST", "/querier.v1.QuerierService/SelectMergeProfile"),
            ("POST", ""),
            ("post", "/api/v1/push"),
        ] {
            assert_eq!(push_signal(method, uri), None, "{method} {uri}");
        }
    }
}
