//! `--stack.http-port` and `--stack.https-port`: where the host publishes Traefik's entry
//! points, as `[ADDR:]PORT`.
//!
//! The default is every address on 80 and 443, what a public stack needs. An address limits
//! publishing to one interface of the host (`127.0.0.1:8443` keeps a stack private to the host,
//! as the tests run it); an IPv6 address stands in brackets (`[::1]:8443`), the form URLs and
//! Compose use, so the port is never ambiguous. Inside the containers the ports stay 80 and 443.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The default of `--stack.http-port`: HTTP's own port, for Let's Encrypt and the redirect.
pub const DEFAULT_HTTP_PORT: &str = "80";
/// The default of `--stack.https-port`: HTTPS's own port, so URLs need none.
pub const DEFAULT_HTTPS_PORT: &str = "443";

/// A port the host publishes, on one address or on all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    /// The host address, or `None` for every address.
    pub address: Option<IpAddr>,
    /// The port, never 0.
    pub port: u16,
}

/// Both of Traefik's published ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Where plain HTTP (the redirect and Let's Encrypt's challenge) is published.
    pub http: PublishedPort,
    /// Where HTTPS is published.
    pub https: PublishedPort,
}

/// Why a published port cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Not `[ADDR:]PORT` with a port from 1 to 65535.
    #[error("{0:?} is not [ADDR:]PORT with a port from 1 to 65535, like 443 or 127.0.0.1:8443")]
    Port(String),
    /// The address is not an IP address.
    #[error("{text:?}: {address:?} is not an IP address (like 127.0.0.1 or [::1])")]
    Address {
        /// The whole value.
        text: String,
        /// The address part.
        address: String,
    },
    /// An IPv6 address without brackets.
    #[error("{0:?}: write an IPv6 address in brackets, like [::1]:8443")]
    Brackets(String),
}

// === impl PublishedPort ===

impl PublishedPort {
    /// The compose `ports` entry publishing this port for the container's `target`.
    pub fn compose_mapping(self, target: u16) -> String {
        format!("{self}:{target}")
    }
}

impl FromStr for PublishedPort {
    type Err = PortError;

    fn from_str(text: &str) -> Result<PublishedPort, PortError> {
        let bad_port = || PortError::Port(text.to_owned());
        let (address, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, port) = rest.split_once("]:").ok_or_else(bad_port)?;
            let address = match inside.parse::<IpAddr>() {
                Ok(address @ IpAddr::V6(_)) => address,
                _ => {
                    return Err(PortError::Address {
                        text: text.to_owned(),
                        address: inside.to_owned(),
                    });
                }
            };
            (Some(address), port)
        } else if let Some((address, port)) = text.rsplit_once(':') {
            if address.contains(':') {
                return Err(PortError::Brackets(text.to_owned()));
            }
            let address =
                address
                    .parse::<std::net::Ipv4Addr>()
                    .map_err(|_| PortError::Address {
                        text: text.to_owned(),
                        address: address.to_owned(),
                    })?;
            (Some(IpAddr::V4(address)), port)
        } else {
            (None, text)
        };
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_port());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(bad_port)?;
        Ok(PublishedPort { address, port })
    }
}

impl fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            None => write!(f, "{}", self.port),
            Some(IpAddr::V4(address)) => write!(f, "{address}:{}", self.port),
            Some(IpAddr::V6(address)) => write!(f, "[{address}]:{}", self.port),
        }
    }
}

// === impl Ports ===

impl Ports {
    /// Whether both would be published on the same port of a same address.
    pub fn overlap(self) -> bool {
        self.http.port == self.https.port
            && (self.http.address.is_none()
                || self.https.address.is_none()
                || self.http.address == self.https.address)
    }
}

impl Default for Ports {
    fn default() -> Ports {
        Ports {
            http: PublishedPort {
                address: None,
                port: 80,
            },
            https: PublishedPort {
                address: None,
                port: 443,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PublishedPort, PortError> {
        text.parse()
    }

    #[test]
    fn ports_parse_with_and_without_an_address_and_print_back() {
        for text in [
            "80",
            "443",
            "65535",
            "1",
            "127.0.0.1:8443",
            "[::1]:8443",
            "[2001:db8::1]:443",
        ] {
            assert_eq!(parse(text).expect(text).to_string(), text);
        }
        let port = parse("127.0.0.1:8443").unwrap();
        assert_eq!(port.address, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(port.port, 8443);
        assert_eq!(port.compose_mapping(443), "127.0.0.1:8443:443");
        assert_eq!(parse("443").unwrap().compose_mapping(443), "443:443");
        assert_eq!(
            parse("[::1]:80").unwrap().compose_mapping(80),
            "[::1]:80:80"
        );
    }

    #[test]
    fn bad_ports_are_refused_with_the_reason() {
        for text in [
            "",
            "0",
            "65536",
            "-1",
            "+80",
            "80a",
            "http",
            "127.0.0.1:",
            "[::1]",
            "[::1]:0",
        ] {
            assert_eq!(parse(text), Err(PortError::Port(text.to_owned())), "{text}");
        }
        assert_eq!(
            parse("localhost:80").unwrap_err().to_string(),
            "\"localhost:80\": \"localhost\" is not an IP address (like 127.0.0.1 or [::1])"
        );
        assert!(matches!(
            parse("[127.0.0.1]:80"),
            Err(PortError::Address { .. })
        ));
        assert!(matches!(
            parse("300.1.1.1:80"),
            Err(PortError::Address { .. })
        ));
        assert_eq!(
            parse("::1:8443").unwrap_err().to_string(),
            "\"::1:8443\": write an IPv6 address in brackets, like [::1]:8443"
        );
    }

    #[test]
    fn overlapping_ports_are_found() {
        let ports = |http: &str, https: &str| Ports {
            http: parse(http).unwrap(),
            https: parse(https).unwrap(),
        };
        assert!(!Ports::default().overlap());
        assert!(ports("8443", "8443").overlap());
        assert!(ports("8443", "127.0.0.1:8443").overlap());
        assert!(ports("127.0.0.1:8443", "127.0.0.1:8443").overlap());
        assert!(!ports("127.0.0.1:8443", "127.0.0.2:8443").overlap());
        assert!(!ports("127.0.0.1:8080", "127.0.0.1:8443").overlap());
    }

    #[test]
    fn parsing_never_panics_on_odd_input() {
        for text in [
            "[",
            "]",
            "[]:",
            "[]:80",
            ":",
            ":80",
            "[::1]:80:80",
            "1:2:3",
            "[:::80",
        ] {
            let _ = parse(text);
        }
    }
}
