//! The operator's mTLS credentials: the client RID, the per-client CA and the client certificate.
//!
//! The RID is derived from the machine id exactly as Finch 1.x derives it, because the server
//! stores each client's CA as `certs.d/<RID>.pem`: an operator who switches from 1.x must keep
//! addressing the same file. Every client gets its own single-use CA whose private key is
//! dropped as soon as the client certificate is signed, so revoking a client is deleting one
//! file on the server. Keys are written as SEC1 `EC PRIVATE KEY` PEM, the form 1.x writes and
//! reads; keys in PKCS#8 are accepted on load.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

/// Where the machine id is looked up, in order (as 1.x does on Linux).
pub const DEFAULT_MACHINE_ID_PATHS: [&str; 2] = ["/var/lib/dbus/machine-id", "/etc/machine-id"];

/// The prefix of every finchctl client RID.
pub const RID_PREFIX: &str = "rid:finchctl:";

/// How long a CA and a client certificate are valid: 1.x's 90 days, so that the server, which
/// checks validity on every call, treats both generations alike.
pub const CERTIFICATE_LIFETIME: Duration = Duration::days(90);

/// How close to expiry a certificate must be before commands warn about it.
pub const EXPIRY_WARNING: Duration = Duration::days(14);

/// What can go wrong while making or reading credentials.
#[derive(Debug, thiserror::Error)]
pub enum MtlsError {
    /// No machine id file exists.
    #[error(
        "no machine id found (looked in {tried}); create one with `systemd-machine-id-setup` \
         or `dbus-uuidgen --ensure=/etc/machine-id`"
    )]
    NoMachineId {
        /// The paths that were tried, comma-separated.
        tried: String,
    },
    /// A machine id file exists but cannot be read or is empty.
    #[error("cannot read machine id {path}: {reason}")]
    BadMachineId {
        /// The file.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// Certificate or key generation failed.
    #[error("cannot generate certificates: {0}")]
    Generate(String),
    /// A stored certificate cannot be parsed.
    #[error("the client certificate is not a valid PEM certificate: {0}")]
    BadCertificate(String),
}

/// A freshly generated client identity: the CA certificate to place on the server and the
/// client certificate and key to keep locally. The CA key is gone by the time this exists.
pub struct ClientCredentials {
    /// The CA certificate (PEM), uploaded as `certs.d/<RID>.pem`.
    pub ca_pem: String,
    /// The client certificate (PEM), signed by the CA.
    pub cert_pem: String,
    /// The client key, SEC1 `EC PRIVATE KEY` PEM.
    pub key_pem: String,
}

// === impl ClientCredentials ===

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The client RID for a machine id: `rid:finchctl:` plus the first 16 lowercase hex characters
/// of HMAC-SHA256 keyed by the machine id over `"finchctl"` (1.x's `machineid.ProtectedID`).
///
/// ```
/// assert_eq!(
///     finchctl::mtls::client_rid("0123456789abcdef0123456789abcdef"),
///     "rid:finchctl:b953e167a0d52c13",
/// );
/// ```
pub fn client_rid(machine_id: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(machine_id.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(b"finchctl");
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{RID_PREFIX}{}", &hex[..16])
}

/// Reads the machine id from the first of `paths` that exists, trimmed.
pub fn machine_id(paths: &[PathBuf]) -> Result<String, MtlsError> {
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let id = text.trim();
                if id.is_empty() {
                    return Err(MtlsError::BadMachineId {
                        path: path.clone(),
                        reason: "the file is empty; regenerate it with `systemd-machine-id-setup`"
                            .into(),
                    });
                }
                return Ok(id.to_owned());
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                return Err(MtlsError::BadMachineId {
                    path: path.clone(),
                    reason: err.to_string(),
                });
            }
        }
    }
    Err(MtlsError::NoMachineId {
        tried: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The default machine id paths as owned paths.
pub fn default_machine_id_paths() -> Vec<PathBuf> {
    DEFAULT_MACHINE_ID_PATHS.iter().map(PathBuf::from).collect()
}

/// This machine's client RID: from `paths` on Linux, from `IOPlatformUUID` on macOS (as 1.x).
pub fn local_rid(paths: &[PathBuf]) -> Result<String, MtlsError> {
    #[cfg(target_os = "macos")]
    let id = {
        let _ = paths;
        macos_machine_id()
    };
    #[cfg(not(target_os = "macos"))]
    let id = machine_id(paths);
    id.map(|id| client_rid(&id))
}

/// The `IOPlatformUUID` from `ioreg -rd1 -c IOPlatformExpertDevice` output.
pub fn parse_ioreg_platform_uuid(output: &str) -> Option<String> {
    output
        .lines()
        .find(|line| line.contains("\"IOPlatformUUID\""))
        .and_then(|line| line.split_once('='))
        .map(|(_, value)| value.trim().trim_matches('"').trim().to_owned())
        .filter(|id| !id.is_empty())
}

#[cfg(target_os = "macos")]
fn macos_machine_id() -> Result<String, MtlsError> {
    let bad = |reason: String| MtlsError::BadMachineId {
        path: PathBuf::from("ioreg"),
        reason,
    };
    let output = std::process::Command::new("ioreg")
        .args(["-rd1", "-c", "IOPlatformExpertDevice"])
        .output()
        .map_err(|e| bad(e.to_string()))?;
    parse_ioreg_platform_uuid(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| bad("no IOPlatformUUID in its output".into()))
}

/// Generates a CA for `service_host` and a client certificate for `rid`, valid from `now` for
/// [`CERTIFICATE_LIFETIME`]. The CA key is dropped before this returns.
pub fn generate(
    service_host: &str,
    rid: &str,
    now: OffsetDateTime,
) -> Result<ClientCredentials, MtlsError> {
    let fail = |e: rcgen::Error| MtlsError::Generate(e.to_string());

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let ca = ca_params(service_host, now)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;

    let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let client = client_params(rid, now)?;
    let issuer = Issuer::new(ca, ca_key);
    let client_cert = client.signed_by(&client_key, &issuer).map_err(fail)?;
    // The CA key lives only inside `issuer`; dropping it here is the point of the design.
    drop(issuer);

    Ok(ClientCredentials {
        ca_pem: ca_cert.pem(),
        cert_pem: client_cert.pem(),
        key_pem: pkcs8_to_sec1_pem(&client_key.serialize_der())?,
    })
}

/// The operator CA's certificate as [`generate`] makes it: CN `service_host`, may sign
/// certificates, valid from `now` for [`CERTIFICATE_LIFETIME`]. Public so that tests build
/// variants of the same shape (another CA, an expired one) instead of a second recipe.
pub fn ca_params(service_host: &str, now: OffsetDateTime) -> Result<CertificateParams, MtlsError> {
    let mut ca = CertificateParams::default();
    ca.distinguished_name = common_name(service_host);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now;
    ca.not_after = now + CERTIFICATE_LIFETIME;
    ca.serial_number = Some(random_serial()?);
    Ok(ca)
}

/// The client certificate as [`generate`] makes it: CN `rid`, clientAuth, valid from `now` for
/// [`CERTIFICATE_LIFETIME`].
pub fn client_params(rid: &str, now: OffsetDateTime) -> Result<CertificateParams, MtlsError> {
    let mut client = CertificateParams::default();
    client.distinguished_name = common_name(rid);
    client.is_ca = IsCa::NoCa;
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client.use_authority_key_identifier_extension = true;
    client.not_before = now;
    client.not_after = now + CERTIFICATE_LIFETIME;
    client.serial_number = Some(random_serial()?);
    Ok(client)
}

/// Re-encodes a PKCS#8 P-256 key as SEC1 `EC PRIVATE KEY` PEM (with the curve OID, which Go's
/// `x509.ParseECPrivateKey` needs).
pub fn pkcs8_to_sec1_pem(pkcs8_der: &[u8]) -> Result<String, MtlsError> {
    let key = p256::SecretKey::from_pkcs8_der(pkcs8_der)
        .map_err(|e| MtlsError::Generate(format!("cannot decode the generated key: {e}")))?;
    let pem = key
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| MtlsError::Generate(format!("cannot encode the key as SEC1: {e}")))?;
    Ok(pem.to_string())
}

/// When the first certificate in `cert_pem` stops being valid.
pub fn not_after(cert_pem: &str) -> Result<OffsetDateTime, MtlsError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| MtlsError::BadCertificate(e.to_string()))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| MtlsError::BadCertificate(e.to_string()))?;
    Ok(cert.validity().not_after.to_datetime())
}

/// A warning for stderr when `cert_pem` (the client certificate of `service`) expires within
/// [`EXPIRY_WARNING`] of `now`, naming the command that renews it.
pub fn expiry_warning(service: &str, cert_pem: &str, now: OffsetDateTime) -> Option<String> {
    let expires = match not_after(cert_pem) {
        Ok(t) => t,
        Err(err) => return Some(format!("cannot read the certificate of {service}: {err}")),
    };
    let host = service_host(service);
    let renew = format!("renew it with `finchctl service rotate-certificate {host}`");
    let date = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| expires.to_string());
    if expires <= now {
        Some(format!(
            "the client certificate for {service} expired at {date}; the service refuses it; {renew}"
        ))
    } else if expires - now <= EXPIRY_WARNING {
        let days = (expires - now).whole_days();
        Some(format!(
            "the client certificate for {service} expires at {date} (in {days} days); {renew}"
        ))
    } else {
        None
    }
}

/// The host part of a service name (`host`, `host:port`, `[v6]:port` or a bare IPv6 literal).
pub fn service_host(service: &str) -> &str {
    if let Some(rest) = service.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match service.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => service,
    }
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A random positive 128-bit serial, as 1.x uses.
fn random_serial() -> Result<SerialNumber, MtlsError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| MtlsError::Generate("the system random source failed".into()))?;
    // Clear the top bit so the DER INTEGER is positive, and keep the first byte non-zero so
    // the encoding is minimal.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
