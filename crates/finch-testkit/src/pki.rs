//! [`Pki`]: an operator's CA and client certificates, made by finchctl's own recipe
//! ([`finchctl::mtls::ca_params`], [`finchctl::mtls::client_params`]), and variants of them for
//! the refusal tests (another CA, expired, serverAuth only, an intermediate).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use finchctl::mtls::{self, ClientCredentials};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use crate::SERVICE_HOST;

/// An operator's CA, as finchctl makes one, keeping its key so that tests can issue more.
pub struct Pki {
    /// The operator RID (the CN of its client certificates).
    pub cn: String,
    /// The CA certificate, as installed in `certs.d/<RID>.pem`.
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

// === impl Pki ===

impl Pki {
    /// A fresh CA for operator `cn`, valid from now for finchctl's lifetime.
    pub fn new(cn: &str) -> Pki {
        let key = KeyPair::generate().unwrap();
        let params = mtls::ca_params(SERVICE_HOST, OffsetDateTime::now_utc()).unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            cn: cn.to_owned(),
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A client certificate (DER) for `cn`, valid now; `edit` changes the params first.
    pub fn client_with(&self, cn: &str, edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        self.sign(cn, edit).0.der().to_vec()
    }

    /// The operator's valid client certificate (DER).
    pub fn client(&self) -> Vec<u8> {
        self.client_with(&self.cn, |_| {})
    }

    /// The operator's credentials as finchctl keeps them (PEM certificate and SEC1 key), the
    /// client certificate issued at `issued`.
    pub fn credentials_at(&self, issued: OffsetDateTime) -> ClientCredentials {
        let (cert, key) = self.sign(&self.cn, |params| {
            params.not_before = issued;
            params.not_after = issued + mtls::CERTIFICATE_LIFETIME;
        });
        ClientCredentials {
            ca_pem: self.ca_pem.clone(),
            cert_pem: cert.pem(),
            key_pem: mtls::pkcs8_to_sec1_pem(&key.serialize_der()).unwrap(),
        }
    }

    /// An intermediate CA under this CA, and a client certificate issued by it (both DER).
    pub fn chain(&self) -> (Vec<u8>, Vec<u8>) {
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate().unwrap();
        let mut params = mtls::ca_params("finch intermediate", now - Duration::days(1)).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        let intermediate = params.signed_by(&key, &self.issuer).unwrap().der().to_vec();
        let issuer = Issuer::new(params, key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = mtls::client_params(&self.cn, now)
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap()
            .der()
            .to_vec();
        (leaf, intermediate)
    }

    fn sign(
        &self,
        cn: &str,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> (rcgen::Certificate, KeyPair) {
        let mut params = mtls::client_params(cn, OffsetDateTime::now_utc()).unwrap();
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        (params.signed_by(&key, &self.issuer).unwrap(), key)
    }
}

/// The header value Traefik's `passTLSClientCert` sends for `chain` (leaf first): base64 DER
/// joined by `,`.
pub fn header(chain: &[&[u8]]) -> String {
    chain
        .iter()
        .map(|der| STANDARD.encode(der))
        .collect::<Vec<_>>()
        .join(",")
}
