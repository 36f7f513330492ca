//! How Traefik gets its certificate: a self-signed one that finchctl makes for the service host
//! (and the operator's profile pins, so no client ever needs `--tls.skip-verify`), one from
//! Let's Encrypt, or the operator's own. Self-signed and custom certificates are files in
//! `traefik/etc/certs.d/`; Let's Encrypt's live in Traefik's `acme.json` there.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::{Duration, OffsetDateTime};

use super::{ROOT, RenderedFile};

/// The certificate's path in the library (1.x's).
pub const CERT_PATH: &str = "traefik/etc/certs.d/cert.pem";
/// The key's path in the library (1.x's).
pub const KEY_PATH: &str = "traefik/etc/certs.d/key.pem";

/// How long a self-signed certificate lasts. Clients pin it, so a renewal means re-pinning:
/// five years keeps that rare, and a repeat deploy renews it a month before it ends.
pub const SELF_SIGNED_LIFETIME: Duration = Duration::days(5 * 365);
/// A self-signed certificate closer than this to its end is replaced rather than kept.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Traefik's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// A certificate finchctl made for the service host.
    SelfSigned(CertificatePair),
    /// Let's Encrypt over the HTTP-01 challenge; the address receives expiry notices.
    LetsEncrypt {
        /// The ACME account's e-mail address.
        email: String,
    },
    /// The operator's own certificate.
    Custom(CertificatePair),
}

/// A certificate chain and its key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificatePair {
    /// The certificate (and any intermediates).
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

/// Why a certificate could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen failed.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    /// The e-mail address for Let's Encrypt is not one.
    #[error(
        "--service.letsencrypt.email {0:?} is not an e-mail address; Let's Encrypt needs one \
         it can write to about the certificate"
    )]
    BadEmail(String),
}

impl std::fmt::Debug for CertificatePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificatePair")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"REDACTED")
            .finish()
    }
}

/// The certificate files of `tls` (none for Let's Encrypt).
pub fn render(tls: &TlsMode) -> Vec<RenderedFile> {
    match tls {
        TlsMode::SelfSigned(pair) | TlsMode::Custom(pair) => vec![
            RenderedFile::new(CERT_PATH, pair.cert_pem.clone(), ROOT),
            RenderedFile::new(KEY_PATH, pair.key_pem.clone(), ROOT).secret(),
        ],
        TlsMode::LetsEncrypt { .. } => Vec::new(),
    }
}

/// Makes a P-256 certificate for `host` (a DNS name or an IP address), valid from `now`.
pub fn self_signed(host: &str, now: OffsetDateTime) -> Result<CertificatePair, TlsError> {
    let fail = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, host);
    params.distinguished_name = name;
    params.subject_alt_names = vec![match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(host.try_into().map_err(fail)?),
    }];
    params.not_before = now;
    params.not_after = now + SELF_SIGNED_LIFETIME;
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok(CertificatePair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Whether a kept self-signed certificate still serves `host`: it names the host and has more
/// than [`RENEW_BEFORE`] left at `now`.
pub fn still_serves(cert_pem: &str, host: &str, now: OffsetDateTime) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    let ends = cert.validity().not_after.to_datetime();
    let names_host = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|san| {
            san.value.general_names.iter().any(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => {
                    dns.eq_ignore_ascii_case(host)
                }
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    host.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                        std::net::IpAddr::V4(v4) => v4.octets().as_slice() == *bytes,
                        std::net::IpAddr::V6(v6) => v6.octets().as_slice() == *bytes,
                    })
                }
                _ => false,
            })
        });
    names_host && ends - now > RENEW_BEFORE
}

/// Checks the address Let's Encrypt writes to: one `@`, something on both sides, a dot in the
/// domain, no spaces or quotes.
pub fn check_email(email: &str) -> Result<(), TlsError> {
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && email
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"\"'\\<>,;".contains(c))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(TlsError::BadEmail(email.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_serves_its_host_until_near_its_end() {
        let now = OffsetDateTime::now_utc();
        for host in ["finch.example.com", "192.0.2.7", "2001:db8::1"] {
            let pair = self_signed(host, now).expect("generates");
            assert!(pair.key_pem.contains("PRIVATE KEY"));
            assert!(still_serves(&pair.cert_pem, host, now), "{host}");
            assert!(!still_serves(&pair.cert_pem, "other.example.com", now));
            let late = now + SELF_SIGNED_LIFETIME - Duration::days(29);
            assert!(!still_serves(&pair.cert_pem, host, late));
        }
        assert!(!still_serves("not a certificate", "h", now));
    }

    #[test]
    fn emails() {
        for good in ["ops@example.org", "a.b+c@mail.example.co.uk"] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ops",
            "@example.org",
            "ops@",
            "ops@localhost",
            "o ps@example.org",
            "a@b@c.d",
            "\"x\"@e.org",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
