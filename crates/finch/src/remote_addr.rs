//! The client address recorded in request logs.
//!
//! Finch sits behind Traefik, so the TCP peer is the proxy. Like Finch 1.x, logs name the first
//! non-empty of `X-Forwarded-For` (the whole value, a list included), then `X-Real-Ip`, then the
//! peer's IP. This is for logs only: nothing decides access by it.

use std::net::SocketAddr;

use crate::headers::Headers;

/// The address to log for a request with `headers` from `peer`.
pub fn remote_addr<H: Headers + ?Sized>(headers: &H, peer: Option<SocketAddr>) -> String {
    for name in ["x-forwarded-for", "x-real-ip"] {
        if let Some(value) = headers.text(name)
            && !value.trim().is_empty()
        {
            return value.trim().to_owned();
        }
    }
    match peer {
        Some(SocketAddr::V4(addr)) => addr.ip().to_string(),
        Some(SocketAddr::V6(addr)) => format!("[{}]", addr.ip()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn prefers_forwarded_for_then_real_ip_then_peer() {
        let peer = Some("127.0.0.1:5000".parse().expect("addr"));
        assert_eq!(
            remote_addr(
                &headers(&[
                    ("x-forwarded-for", "1.2.3.4, 5.6.7.8"),
                    ("x-real-ip", "9.9.9.9")
                ]),
                peer
            ),
            "1.2.3.4, 5.6.7.8"
        );
        assert_eq!(
            remote_addr(&headers(&[("x-real-ip", "9.9.9.9")]), peer),
            "9.9.9.9"
        );
        assert_eq!(remote_addr(&HeaderMap::new(), peer), "127.0.0.1");
    }

    #[test]
    fn ipv6_peer_keeps_brackets() {
        let peer = Some("[::1]:54321".parse().expect("addr"));
        assert_eq!(remote_addr(&HeaderMap::new(), peer), "[::1]");
    }
}
