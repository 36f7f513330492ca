//! How finchctl decides to trust a stack's server certificate.
//!
//! Three modes, chosen per stack: normal web-PKI verification against the system roots with the
//! service name as the server name (Let's Encrypt and custom-certificate stacks); a pin, the
//! SHA-256 of the server certificate's DER, for self-signed stacks (Traefik's default
//! certificate has CN `TRAEFIK DEFAULT CERT` and a random host name, so host-name verification
//! cannot work there); and no verification at all for `--tls.skip-verify`, kept for 1.x habits.
//! In every mode the handshake signature itself is still checked.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// The prefix of a pin value.
pub const PIN_PREFIX: &str = "sha256/";

/// The SHA-256 of a server certificate's DER, written `sha256/<base64>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ServerPin([u8; 32]);

/// A pin that did not match: what was expected and what the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinMismatch {
    /// The stored pin.
    pub expected: ServerPin,
    /// The pin of the certificate the server presented.
    pub presented: ServerPin,
}

/// How the server certificate is checked.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Web-PKI verification with the service name as server name.
    WebPki(Arc<WebPkiServerVerifier>),
    /// The certificate must hash to this pin; expiry and host name are not checked.
    Pinned(ServerPin),
    /// Anything is accepted (`--tls.skip-verify`).
    SkipVerify,
}

/// The rustls verifier for [`Trust`]; records a pin mismatch so the caller can explain it.
#[derive(Debug)]
pub struct FinchVerifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
    mismatch: Arc<Mutex<Option<PinMismatch>>>,
}

/// A pin value that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid server pin {0:?}: expected sha256/<base64 of 32 bytes>")]
pub struct InvalidPin(pub String);

// === impl ServerPin ===

impl ServerPin {
    /// The pin of a DER certificate.
    ///
    /// ```
    /// let pin = finchctl::client::ServerPin::of(b"not really a certificate");
    /// assert!(pin.to_string().starts_with("sha256/"));
    /// assert_eq!(pin.to_string().parse::<finchctl::client::ServerPin>().unwrap(), pin);
    /// ```
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
}

impl std::str::FromStr for ServerPin {
    type Err = InvalidPin;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s
            .strip_prefix(PIN_PREFIX)
            .and_then(|b64| BASE64.decode(b64.trim()).ok())
            .ok_or_else(|| InvalidPin(s.to_owned()))?;
        let hash: [u8; 32] = bytes.try_into().map_err(|_| InvalidPin(s.to_owned()))?;
        Ok(Self(hash))
    }
}

impl std::fmt::Display for ServerPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PIN_PREFIX}{}", BASE64.encode(self.0))
    }
}

impl std::fmt::Debug for ServerPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

// === impl FinchVerifier ===

impl FinchVerifier {
    /// A verifier for `trust`, using `provider` for signatures.
    pub fn new(trust: Trust, provider: Arc<CryptoProvider>) -> Self {
        Self {
            trust,
            provider,
            mismatch: Arc::default(),
        }
    }

    /// Where a pin mismatch is recorded when a handshake is refused for one.
    pub fn mismatch_slot(&self) -> Arc<Mutex<Option<PinMismatch>>> {
        self.mismatch.clone()
    }

    /// Web-PKI verification against the system's root certificates.
    pub fn system_roots(provider: Arc<CryptoProvider>) -> Result<Trust, String> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A single unparsable system root is no reason to refuse the others.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err("no usable root certificates found on this system; install \
                        ca-certificates, or pin the stack's certificate"
                .into());
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map(Trust::WebPki)
            .map_err(|e| e.to_string())
    }
}

impl ServerCertVerifier for FinchVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            Trust::WebPki(inner) => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            Trust::Pinned(expected) => {
                let presented = ServerPin::of(end_entity);
                if presented == *expected {
                    return Ok(ServerCertVerified::assertion());
                }
                if let Ok(mut slot) = self.mismatch.lock() {
                    *slot = Some(PinMismatch {
                        expected: *expected,
                        presented,
                    });
                }
                Err(rustls::Error::General(format!(
                    "the server certificate does not match the pinned {expected} (got {presented})"
                )))
            }
            Trust::SkipVerify => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
