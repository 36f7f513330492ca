//! Why a gRPC call was refused: [`AuthFailure`], shared by the header reader
//! ([`super::client_cert`]) and the chain check ([`super::auth`]), and logged by the layer.
//!
//! It stands alone so that neither of those two modules has to reach into the other for it.

/// Why a call was refused. Clients only ever see `Unauthenticated "permission denied"`; this is
/// the precise reason for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Proxy attestation is configured and the call lacks the header.
    #[error("proxy secret header missing")]
    ProxySecretMissing,
    /// Proxy attestation is configured and the header does not match.
    #[error("proxy secret header does not match")]
    ProxySecretWrong,
    /// No `x-forwarded-tls-client-cert` header (or an empty one).
    #[error("no client certificate in metadata")]
    MissingHeader,
    /// The header appears more than once.
    #[error("client certificate header given more than once")]
    RepeatedHeader,
    /// The header is larger than any certificate chain Finch accepts.
    #[error("client certificate header too large ({0} bytes)")]
    HeaderTooLarge(usize),
    /// The header is not text (after any percent-decoding).
    #[error("client certificate header is not text")]
    HeaderNotText,
    /// More certificates than a client chain needs.
    #[error("client certificate chain too long ({0} certificates)")]
    ChainTooLong(usize),
    /// An entry of the chain is not standard base64.
    #[error("client certificate {index} in the header is not base64")]
    NotBase64 {
        /// Position in the chain, 0 for the leaf.
        index: usize,
    },
    /// The leaf is not an X.509 certificate.
    #[error("failed to parse client certificate: {0}")]
    BadCertificate(String),
    /// The leaf has no subject common name.
    #[error("client certificate has no common name")]
    NoCommonName,
    /// The common name is not `rid:finchctl:<letters and digits>`.
    #[error("client certificate common name {0:?} is not a finchctl id")]
    CommonNameInvalid(String),
    /// No CA file for that operator: never enrolled, or revoked by deleting the file.
    #[error("no CA certificate for client {cn}")]
    CaMissing {
        /// The client's CN.
        cn: String,
    },
    /// The CA file exists but cannot be read or holds no usable CA certificate.
    #[error("failed to read CA certificate for client {cn}: {reason}")]
    CaUnusable {
        /// The client's CN.
        cn: String,
        /// What is wrong with the file.
        reason: String,
    },
    /// The chain does not verify: another CA, expired, not yet valid, bad signature.
    #[error("client certificate is not valid: {reason}")]
    NotValid {
        /// What the verifier said.
        reason: String,
    },
    /// The leaf does not name `clientAuth` among its extended key usages.
    #[error("client certificate is not valid: it lacks the clientAuth extended key usage")]
    NotClientAuth,
}
