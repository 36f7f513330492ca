//! The stack's public URLs: what agents push to and what the dashboard and `finchctl` link to.
//!
//! Every URL Finch hands out for use outside the stack is built here, from `hostname` and
//! `https_port`, so that a stack publishing HTTPS on another port than 443 (`finchctl service
//! deploy --stack.https-port`) gets that port in all of them. At 443 the URLs are 1.x's, with no
//! port; an IPv6 address stands in brackets, as a URL needs.

use std::net::IpAddr;

use super::{DEFAULT_HTTPS_PORT, FinchConfig};

// === impl FinchConfig ===

impl FinchConfig {
    /// `https://<hostname>[:<https_port>]<path>`; `path` is empty or starts with `/`.
    ///
    /// ```
    /// # use std::path::PathBuf;
    /// # use finch::config::FinchConfig;
    /// let json = br#"{"created_at":"x","database":"sqlite://finch.db","hostname":"::1",
    ///     "https_port":8443,"id":"0123456789abcdef","secret":"s"}"#;
    /// let config = FinchConfig::from_json(json, PathBuf::from("/x")).unwrap();
    /// assert_eq!(config.public_url("/login"), "https://[::1]:8443/login");
    /// ```
    pub fn public_url(&self, path: &str) -> String {
        let host = match self.hostname.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]", self.hostname),
            _ => self.hostname.clone(),
        };
        if self.https_port == DEFAULT_HTTPS_PORT {
            format!("https://{host}{path}")
        } else {
            format!("https://{host}:{}{path}", self.https_port)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn config(hostname: &str, https_port: u16) -> FinchConfig {
        let mut config = FinchConfig::generate(
            PathBuf::from("/x"),
            hostname,
            "sqlite://finch.db",
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .expect("generates");
        config.https_port = https_port;
        config
    }

    #[test]
    fn urls_carry_the_port_unless_it_is_443_and_bracket_ipv6() {
        for (hostname, port, path, url) in [
            // 1.x's URLs: no port.
            (
                "finch.example.com",
                443,
                "/login",
                "https://finch.example.com/login",
            ),
            ("192.0.2.7", 443, "/grafana", "https://192.0.2.7/grafana"),
            (
                "finch.example.com",
                8443,
                "/loki/loki/api/v1/push",
                "https://finch.example.com:8443/loki/loki/api/v1/push",
            ),
            ("127.0.0.1", 8443, "", "https://127.0.0.1:8443"),
            ("::1", 443, "/login", "https://[::1]/login"),
            (
                "2001:db8::1",
                8443,
                "/pyroscope",
                "https://[2001:db8::1]:8443/pyroscope",
            ),
        ] {
            assert_eq!(
                config(hostname, port).public_url(path),
                url,
                "{hostname} {port}"
            );
        }
    }
}
