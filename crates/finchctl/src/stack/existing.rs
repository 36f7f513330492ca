//! What an earlier render or deploy left in a library, and what the next one keeps of it: the
//! lifelong values of `finch.json`, the Grafana password, and a self-signed certificate that
//! still serves the host. Read by whoever has the library (a local directory for
//! `service render`, the host for deploy); decided here, so both keep the same things.

use time::OffsetDateTime;

use super::generated::GeneratedError;
use super::tls::{self, TlsError};
use super::{CertificatePair, Database, Generated};

/// The files of an existing library that matter to the next render; `None` where absent.
#[derive(Debug, Default, Clone)]
pub struct Existing {
    /// `finch.json`.
    pub finch_json: Option<Vec<u8>>,
    /// `grafana/admin-password`.
    pub grafana_password: Option<String>,
    /// `traefik/etc/certs.d/cert.pem` and `key.pem`, when both exist.
    pub certificate: Option<CertificatePair>,
    /// `postgres/root.crt`: the CA of an external PostgreSQL.
    pub database_root_cert: Option<Vec<u8>>,
}

// === impl Existing ===

impl Existing {
    /// The stack's values: kept from `finch.json` when there is one, else new.
    pub fn generated(&self, host: &str, now: OffsetDateTime) -> Result<Generated, GeneratedError> {
        let fresh = Generated::fresh(host, now)?;
        match &self.finch_json {
            Some(json) => Generated::keep(json, self.grafana_password.as_deref(), fresh),
            None => Ok(fresh),
        }
    }

    /// The database `generated` (this library's values) names, with the CA file it left.
    pub fn database(&self, generated: &Generated) -> Database {
        Database::kept(&generated.database, self.database_root_cert.clone())
    }

    /// The self-signed certificate for `host`: the existing one while it still serves the host
    /// (clients have pinned it), else a new one.
    pub fn self_signed(
        &self,
        host: &str,
        now: OffsetDateTime,
    ) -> Result<CertificatePair, TlsError> {
        match &self.certificate {
            Some(pair) if tls::still_serves(&pair.cert_pem, host, now) => Ok(pair.clone()),
            _ => tls::self_signed(host, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_library_gets_new_values_and_a_full_one_keeps_them() {
        let now = OffsetDateTime::now_utc();
        let empty = Existing::default();
        let first = empty.generated("h.example", now).expect("fresh");
        let cert = empty.self_signed("h.example", now).expect("cert");
        let json = format!(
            r#"{{"created_at":"{}","database":"{}","hostname":"h.example","id":"{}","secret":"{}","proxy_secret":"{}"}}"#,
            first.created_at, first.database, first.id, first.secret, first.proxy_secret
        );
        let full = Existing {
            finch_json: Some(json.into_bytes()),
            grafana_password: Some(first.grafana_password.clone()),
            certificate: Some(cert.clone()),
            database_root_cert: None,
        };
        assert_eq!(full.generated("h.example", now).expect("kept"), first);
        assert_eq!(full.self_signed("h.example", now).expect("kept"), cert);
        assert_ne!(full.self_signed("other.example", now).expect("new"), cert);
    }
}
