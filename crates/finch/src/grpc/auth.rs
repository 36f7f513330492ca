//! Authentication of every gRPC call: proxy attestation, then the operator's client certificate.
//!
//! Traefik checks that the client holds the certificate's key (TLS `RequestClientCert`) and
//! passes the certificate on; Finch checks the chain against the operator's own CA,
//! `<certs_dir>/<CN>.pem`, read on every call so that deleting the file revokes the operator at
//! once. The CN is checked against the finchctl id form before it names a file (1.x let it walk
//! out of the directory). Every CA certificate in that file is a trust anchor, intermediates come
//! from the header, and the leaf must carry the `clientAuth` extended key usage.
//!
//! Proxy attestation closes 1.x's replay hole: when `finch.json` has `proxy_secret`, Traefik adds
//! it as [`PROXY_SECRET_HEADER`] on the gRPC route and a call without it is refused, so a
//! neighbour that reaches the port directly cannot present a (public) certificate.

use std::path::{Path, PathBuf};

use http::HeaderMap;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::auth_failure::AuthFailure;
use super::client_cert::{operator_cn, parse_header};

/// The header Traefik adds on the gRPC route when `proxy_secret` is configured.
pub const PROXY_SECRET_HEADER: &str = "x-finch-proxy-secret";

/// Largest CA file read: a few certificates in PEM are a few KiB.
const MAX_CA_FILE_LEN: u64 = 256 * 1024;

/// Who an authenticated call comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The client certificate's common name, `rid:finchctl:<id>`.
    pub cn: String,
}

/// Checks calls against the operators' CA files and the optional proxy secret.
#[derive(Clone)]
pub struct Authenticator {
    certs_dir: PathBuf,
    proxy_secret: Option<Vec<u8>>,
}

// === impl Authenticator ===

impl Authenticator {
    /// An authenticator reading CA files from `certs_dir`, requiring `proxy_secret` if given.
    pub fn new(certs_dir: PathBuf, proxy_secret: Option<String>) -> Authenticator {
        Authenticator {
            certs_dir,
            proxy_secret: proxy_secret.map(String::into_bytes),
        }
    }

    /// Authenticates a call from its request headers, reading the operator's CA file.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Operator, AuthFailure> {
        self.check_proxy_secret(headers)?;
        let chain = parse_header(headers)?;
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err(AuthFailure::MissingHeader);
        };
        // The CN is checked here, before it becomes part of a path.
        let cn = operator_cn(leaf)?;
        let ca_pem = read_ca_file(&self.certs_dir, &cn).await?;
        verify_chain(&cn, leaf, intermediates, &ca_pem, UnixTime::now())?;
        Ok(Operator { cn })
    }

    fn check_proxy_secret(&self, headers: &HeaderMap) -> Result<(), AuthFailure> {
        let Some(expected) = &self.proxy_secret else {
            return Ok(());
        };
        let given = headers
            .get(PROXY_SECRET_HEADER)
            .ok_or(AuthFailure::ProxySecretMissing)?;
        if constant_time_eq(given.as_bytes(), expected) {
            Ok(())
        } else {
            Err(AuthFailure::ProxySecretWrong)
        }
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("certs_dir", &self.certs_dir)
            .field(
                "proxy_secret",
                &self.proxy_secret.as_ref().map(|_| "REDACTED"),
            )
            .finish()
    }
}

/// Compares in time independent of where the inputs differ (the length may leak; the secret's
/// length is not the secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn read_ca_file(certs_dir: &Path, cn: &str) -> Result<Vec<u8>, AuthFailure> {
    let path = certs_dir.join(format!("{cn}.pem"));
    let unusable = |reason: String| AuthFailure::CaUnusable {
        cn: cn.to_owned(),
        reason,
    };
    let metadata = match tokio::fs::metadata(&path).await {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuthFailure::CaMissing { cn: cn.to_owned() });
        }
        Err(e) => return Err(unusable(e.to_string())),
    };
    if !metadata.is_file() || metadata.len() > MAX_CA_FILE_LEN {
        return Err(unusable("not a regular file of at most 256 KiB".into()));
    }
    tokio::fs::read(&path)
        .await
        .map_err(|e| unusable(e.to_string()))
}

/// Verifies `leaf` of operator `cn` (with `intermediates`) against every CA certificate in
/// `ca_pem` at `now`, for client authentication.
pub fn verify_chain(
    cn: &str,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca_pem: &[u8],
    now: UnixTime,
) -> Result<(), AuthFailure> {
    let unusable = |reason: &str| AuthFailure::CaUnusable {
        cn: cn.to_owned(),
        reason: reason.to_owned(),
    };
    let mut ca_ders = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(ca_pem) {
        let pem = pem.map_err(|_| unusable("not PEM"))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let is_ca = X509Certificate::from_der(&pem.contents)
            .map(|(_, cert)| cert.is_ca())
            .map_err(|_| unusable("a certificate in it does not parse"))?;
        if is_ca {
            ca_ders.push(CertificateDer::from(pem.contents));
        }
    }
    let anchors: Vec<TrustAnchor<'_>> = ca_ders
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .collect();
    if anchors.is_empty() {
        return Err(unusable("it holds no CA certificate"));
    }
    let end_entity = EndEntityCert::try_from(leaf).map_err(|e| AuthFailure::NotValid {
        reason: describe(&e),
    })?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            intermediates,
            now,
            KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(|e| AuthFailure::NotValid {
            reason: describe(&e),
        })?;
    // webpki, like Go, reads a leaf without the extension as "any usage"; an operator
    // certificate must say clientAuth.
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| AuthFailure::BadCertificate(e.to_string()))?;
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth => Ok(()),
        _ => Err(AuthFailure::NotClientAuth),
    }
}

fn describe(error: &webpki::Error) -> String {
    match error {
        webpki::Error::CertExpired { .. } => "certificate has expired".into(),
        webpki::Error::CertNotValidYet { .. } => "certificate is not valid yet".into(),
        webpki::Error::UnknownIssuer => "not issued by the client's CA".into(),
        // Another CA with the same subject name (finchctl names every CA after the stack).
        webpki::Error::InvalidSignatureForPublicKey => "not signed by the client's CA".into(),
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            "it lacks the clientAuth extended key usage".into()
        }
        webpki::Error::CaUsedAsEndEntity => "a CA certificate used as client certificate".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn debug_hides_the_proxy_secret() {
        let auth = Authenticator::new("/x".into(), Some("hunter2".into()));
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    fn self_signed(is_ca: bool) -> rcgen::Certificate {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "rid:finchctl:abc");
        if is_ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        params.self_signed(&key).expect("self-signed")
    }

    #[test]
    fn a_ca_file_without_a_ca_certificate_is_unusable() {
        let leaf = self_signed(false);
        for ca_pem in [leaf.pem(), String::new(), "garbage".to_owned()] {
            let failure = verify_chain(
                "rid:finchctl:abc",
                leaf.der(),
                &[],
                ca_pem.as_bytes(),
                UnixTime::now(),
            )
            .expect_err("no anchor");
            assert_eq!(
                failure,
                AuthFailure::CaUnusable {
                    cn: "rid:finchctl:abc".into(),
                    reason: "it holds no CA certificate".into()
                }
            );
        }
    }

    #[test]
    fn a_ca_certificate_is_no_client_certificate() {
        let ca = self_signed(true);
        let failure = verify_chain(
            "rid:finchctl:abc",
            ca.der(),
            &[],
            ca.pem().as_bytes(),
            UnixTime::now(),
        )
        .expect_err("CA as leaf");
        assert!(
            matches!(failure, AuthFailure::NotValid { .. }),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn proxy_secret_is_checked_first() {
        let auth = Authenticator::new("/nonexistent".into(), Some("s3cret".into()));
        let mut headers = HeaderMap::new();
        assert_eq!(
            auth.authenticate(&headers).await,
            Err(AuthFailure::ProxySecretMissing)
        );
        headers.insert(PROXY_SECRET_HEADER, "wrong".parse().expect("value"));
        assert_eq!(
            auth.authenticate(&headers).await,
            Err(AuthFailure::ProxySecretWrong)
        );
        headers.insert(PROXY_SECRET_HEADER, "s3cret".parse().expect("value"));
        assert_eq!(
            auth.authenticate(&headers).await,
            Err(AuthFailure::MissingHeader)
        );
    }
}
