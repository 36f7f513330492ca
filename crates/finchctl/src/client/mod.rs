//! The gRPC client: TLS (rustls) to `<service>:443` with the stack's client certificate.
//!
//! Traefik terminates TLS in front of Finch, asks for the client certificate and forwards it to
//! Finch, which checks it against the CA file named after our RID; so this module's job is to
//! present that certificate, to decide whether to trust Traefik's certificate ([`verifier`]),
//! and to give every call a deadline. TLS is done by our own connector rather than tonic's so
//! that the verifier can be ours (pinning) and the handshake error can be explained.

mod verifier;

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Channel, Endpoint};

pub use verifier::{FinchVerifier, InvalidPin, PIN_PREFIX, PinMismatch, ServerPin, Trust};

/// The port Traefik serves the control plane on, when the service name names none.
pub const DEFAULT_PORT: u16 = 443;

/// The default deadline of each call: 1.x's fixed 15 s, now changeable with `--rpc.timeout`.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything needed to reach one stack.
pub struct ConnectConfig {
    /// The service name: `host`, `host:port`, `[v6]:port` or a bare IPv6 literal.
    pub service: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The client key, PEM (SEC1 or PKCS#8).
    pub key_pem: String,
    /// How the server certificate is checked.
    pub verification: Verification,
    /// The user agent, `<RID>/<release>`.
    pub user_agent: String,
    /// The deadline for connecting and for each call.
    pub timeout: Duration,
}

/// The operator's choice of server verification, before it becomes a [`Trust`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// System roots and host name.
    WebPki,
    /// The stored pin.
    Pinned(ServerPin),
    /// `--tls.skip-verify`.
    Skip,
}

/// Where a service name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    /// The host name or IP literal, without brackets.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service name is not `host[:port]`.
    #[error("invalid service name {0:?}: expected host[:port]")]
    BadAddress(String),
    /// The stored certificate or key cannot be used.
    #[error("the client credentials for {service} are unusable: {reason}")]
    BadCredentials {
        /// The service.
        service: String,
        /// Why.
        reason: String,
    },
    /// No trust roots.
    #[error("cannot verify {service}: {reason}")]
    NoRoots {
        /// The service.
        service: String,
        /// Why.
        reason: String,
    },
    /// The server presented a certificate other than the pinned one.
    #[error(
        "the server certificate of {service} changed: the pinned certificate is {}, the server presented {}",
        .mismatch.expected, .mismatch.presented
    )]
    PinMismatch {
        /// The service.
        service: String,
        /// The two pins.
        mismatch: PinMismatch,
    },
    /// TCP, TLS or HTTP/2 failed.
    #[error("cannot connect to {service}: {reason}")]
    Connect {
        /// The service.
        service: String,
        /// The error chain.
        reason: String,
    },
}

// === impl ServiceAddress ===

impl ServiceAddress {
    /// Parses a service name; a port in it overrides 443.
    ///
    /// ```
    /// use finchctl::client::ServiceAddress;
    /// let a = ServiceAddress::parse("[::1]:8443").unwrap();
    /// assert_eq!((a.host.as_str(), a.port), ("::1", 8443));
    /// assert_eq!(a.authority(), "[::1]:8443");
    /// assert_eq!(ServiceAddress::parse("finch.example.com").unwrap().port, 443);
    /// ```
    pub fn parse(service: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadAddress(service.to_owned());
        let (host, port) = if let Some(rest) = service.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (host, DEFAULT_PORT),
                _ => {
                    let port = after.strip_prefix(':').ok_or_else(bad)?;
                    (host, port.parse().map_err(|_| bad())?)
                }
            }
        } else if service.matches(':').count() > 1 {
            // A bare IPv6 literal.
            (service, DEFAULT_PORT)
        } else if let Some((host, port)) = service.split_once(':') {
            (host, port.parse().map_err(|_| bad())?)
        } else {
            (service, DEFAULT_PORT)
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// `host:port`, with IPv6 literals bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The crypto provider used everywhere: ring, as rcgen uses it too.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Opens a channel to the stack, completing the TLS handshake before returning so that
/// certificate problems are reported here, with their fix.
pub async fn connect(config: &ConnectConfig) -> Result<Channel, ClientError> {
    let address = ServiceAddress::parse(&config.service)?;
    let provider = provider();
    let trust = match &config.verification {
        Verification::WebPki => {
            FinchVerifier::system_roots(provider.clone()).map_err(|reason| {
                ClientError::NoRoots {
                    service: config.service.clone(),
                    reason,
                }
            })?
        }
        Verification::Pinned(pin) => Trust::Pinned(*pin),
        Verification::Skip => Trust::SkipVerify,
    };
    let verifier = Arc::new(FinchVerifier::new(trust, provider.clone()));
    let mismatch = verifier.mismatch_slot();
    let tls = tls_config(config, provider, verifier)?;

    let server_name = ServerName::try_from(address.host.clone())
        .map_err(|_| ClientError::BadAddress(config.service.clone()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let host = address.host.clone();
    let port = address.port;
    let connect = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        let host = host.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });

    let authority = address.authority();
    let connect_error = |reason: String| ClientError::Connect {
        service: config.service.clone(),
        reason,
    };
    // The URI's scheme only tells tonic how to dial; our connector always speaks TLS. The
    // origin makes requests carry `:scheme https` and the service's authority.
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|_| ClientError::BadAddress(config.service.clone()))?
        .origin(
            format!("https://{authority}")
                .parse()
                .map_err(|_| ClientError::BadAddress(config.service.clone()))?,
        )
        .user_agent(config.user_agent.clone())
        .map_err(|_| connect_error(format!("invalid user agent {:?}", config.user_agent)))?
        .timeout(config.timeout)
        .connect_timeout(config.timeout);

    match endpoint.connect_with_connector(connect).await {
        Ok(channel) => Ok(channel),
        Err(err) => {
            if let Some(mismatch) = mismatch.lock().ok().and_then(|mut m| m.take()) {
                return Err(ClientError::PinMismatch {
                    service: config.service.clone(),
                    mismatch,
                });
            }
            Err(connect_error(error_chain(&err)))
        }
    }
}

/// Connects without verifying and returns the pin of the certificate the server presents:
/// trust on first use, for `service pin`.
pub async fn fetch_server_pin(service: &str, timeout: Duration) -> Result<ServerPin, ClientError> {
    let address = ServiceAddress::parse(service)?;
    let provider = provider();
    let verifier = Arc::new(FinchVerifier::new(Trust::SkipVerify, provider.clone()));
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Connect {
            service: service.to_owned(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let server_name = ServerName::try_from(address.host.clone())
        .map_err(|_| ClientError::BadAddress(service.to_owned()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((address.host.as_str(), address.port)).await?;
        connector.connect(server_name, tcp).await
    };
    let connect_error = |reason: String| ClientError::Connect {
        service: service.to_owned(),
        reason,
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|e| connect_error(e.to_string()))?;
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .ok_or_else(|| connect_error("the server presented no certificate".into()))?;
    Ok(ServerPin::of(cert))
}

fn tls_config(
    config: &ConnectConfig,
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: Arc<FinchVerifier>,
) -> Result<rustls::ClientConfig, ClientError> {
    let bad = |reason: String| ClientError::BadCredentials {
        service: config.service.clone(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(config.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("cert: {e}")))?;
    if certs.is_empty() {
        return Err(bad("cert: no PEM certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(config.key_pem.as_bytes())
        .map_err(|e| bad(format!("key: {e}")))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    // gRPC needs HTTP/2, and Traefik picks it by ALPN.
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tls)
}

/// An error and its sources, `a: b: c`, without repeats.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// A request with its deadline set, so the server sees `grpc-timeout` too.
pub fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
