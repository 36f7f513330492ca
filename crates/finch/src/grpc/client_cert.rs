//! The client-certificate header as Traefik sends it, and the operator identity in it.
//!
//! Traefik's `passTLSClientCert` with `pem: true` puts the certificate the client presented in
//! `X-Forwarded-Tls-Client-Cert` as base64 DER without PEM delimiters: one line, or several
//! certificates joined by `,` (leaf first, then intermediates). Traefik up to 2.9.3 also
//! URL-escaped the value, and some proxies fold long values over lines. [`parse_header`] accepts
//! all of these and nothing else; [`operator_cn`] then reads the leaf's common name and checks it
//! is a finchctl client id before anything uses it as a file name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::auth_failure::AuthFailure;

/// The header Traefik fills with the client's certificate chain.
pub const CLIENT_CERT_HEADER: &str = "x-forwarded-tls-client-cert";

/// Largest header value accepted, in bytes: a leaf plus three intermediates with RSA-4096 keys
/// is about 10 KiB of base64; anything larger is refused before any decoding. It stays below
/// hyper's default HTTP/2 header-list limit (16 KiB, answered with HTTP 431) so that this bound,
/// not the transport's, is what a too-long chain meets.
pub const MAX_CLIENT_CERT_HEADER_LEN: usize = 12 * 1024;

/// Most certificates accepted in one header: the leaf and up to three intermediates.
const MAX_CHAIN_LEN: usize = 4;

/// The prefix of every finchctl client id (`rid:finchctl:<id>`).
pub const OPERATOR_CN_PREFIX: &str = "rid:finchctl:";

/// Longest id after the prefix. finchctl uses 16 characters; the margin allows other tooling.
const MAX_OPERATOR_ID_LEN: usize = 64;

/// Reads the certificate chain from `headers`: leaf first, then any intermediates, as DER.
pub fn parse_header(headers: &HeaderMap) -> Result<Vec<CertificateDer<'static>>, AuthFailure> {
    let mut values = headers.get_all(CLIENT_CERT_HEADER).iter();
    let value = values.next().ok_or(AuthFailure::MissingHeader)?;
    if values.next().is_some() {
        return Err(AuthFailure::RepeatedHeader);
    }
    if value.len() > MAX_CLIENT_CERT_HEADER_LEN {
        return Err(AuthFailure::HeaderTooLarge(value.len()));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthFailure::HeaderNotText)?
        .trim();
    let decoded;
    let text = if text.contains('%') {
        decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|_| AuthFailure::HeaderNotText)?;
        &*decoded
    } else {
        text
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(AuthFailure::MissingHeader);
    }
    let parts: Vec<&str> = compact.split(',').collect();
    if parts.len() > MAX_CHAIN_LEN {
        return Err(AuthFailure::ChainTooLong(parts.len()));
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            if part.is_empty() {
                return Err(AuthFailure::NotBase64 { index });
            }
            STANDARD
                .decode(part)
                .map(CertificateDer::from)
                .map_err(|_| AuthFailure::NotBase64 { index })
        })
        .collect()
}

/// The leaf's subject common name, if it is a finchctl client id (`rid:finchctl:` plus 1 to 64
/// letters and digits). Only such a name can become a file name, so no `/`, `..` or NUL ever
/// reaches the filesystem.
pub fn operator_cn(leaf: &CertificateDer<'_>) -> Result<String, AuthFailure> {
    let (rest, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| AuthFailure::BadCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(AuthFailure::BadCertificate(
            "trailing data after the certificate".into(),
        ));
    }
    let mut names = cert.subject().iter_common_name();
    let cn = names.next().ok_or(AuthFailure::NoCommonName)?;
    if names.next().is_some() {
        return Err(AuthFailure::CommonNameInvalid(
            "several common names".into(),
        ));
    }
    let cn = cn
        .as_str()
        .map_err(|_| AuthFailure::CommonNameInvalid("not a text string".into()))?;
    if is_operator_cn(cn) {
        Ok(cn.to_owned())
    } else {
        Err(AuthFailure::CommonNameInvalid(
            cn.chars().take(100).collect(),
        ))
    }
}

/// Whether `cn` matches `^rid:finchctl:[A-Za-z0-9]{1,64}$`.
///
/// ```
/// use finch::grpc::is_operator_cn;
///
/// assert!(is_operator_cn("rid:finchctl:0123456789abcdef"));
/// assert!(!is_operator_cn("rid:finchctl:../../etc/passwd"));
/// assert!(!is_operator_cn("rid:finchctl:"));
/// ```
pub fn is_operator_cn(cn: &str) -> bool {
    cn.strip_prefix(OPERATOR_CN_PREFIX).is_some_and(|id| {
        (1..=MAX_OPERATOR_ID_LEN).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(CLIENT_CERT_HEADER, value.parse().expect("header value"));
        map
    }

    #[test]
    fn operator_cn_form() {
        for good in ["rid:finchctl:a", "rid:finchctl:0123456789abcdefXYZ"] {
            assert!(is_operator_cn(good), "{good}");
        }
        let long = format!("rid:finchctl:{}", "a".repeat(65));
        for bad in [
            "",
            "rid:finchctl:",
            "rid:finchctl:../x",
            "rid:finchctl:a/b",
            "rid:finchctl:a.b",
            "rid:finchctl:a b",
            "rid:finch:abc",
            "RID:finchctl:abc",
            "rid:finchctl:ä",
            long.as_str(),
        ] {
            assert!(!is_operator_cn(bad), "{bad}");
        }
    }

    #[test]
    fn missing_repeated_and_empty_headers() {
        assert_eq!(
            parse_header(&HeaderMap::new()),
            Err(AuthFailure::MissingHeader)
        );
        assert_eq!(
            parse_header(&headers("  ")),
            Err(AuthFailure::MissingHeader)
        );
        let mut map = headers("AAAA");
        map.append(CLIENT_CERT_HEADER, "AAAA".parse().expect("value"));
        assert_eq!(parse_header(&map), Err(AuthFailure::RepeatedHeader));
    }

    #[test]
    fn chain_escaping_and_line_breaks_are_undone() {
        // "hello" and "world!" in base64, standing in for DER.
        let plain = parse_header(&headers("aGVsbG8=,d29ybGQh")).expect("chain");
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[0].as_ref(), b"hello");
        assert_eq!(plain[1].as_ref(), b"world!");
        let escaped = parse_header(&headers("aGVs%0AbG8%3D%2Cd29y%20bGQh")).expect("escaped");
        assert_eq!(escaped, plain);
        let folded = parse_header(&headers(" aGVsbG8=, d29ybGQh ")).expect("folded");
        assert_eq!(folded, plain);
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            parse_header(&headers("not base64!")),
            Err(AuthFailure::NotBase64 { index: 0 })
        );
        assert_eq!(
            parse_header(&headers("aGVsbG8=,,")),
            Err(AuthFailure::NotBase64 { index: 1 })
        );
        assert_eq!(
            parse_header(&headers("%ZZ%")),
            Err(AuthFailure::NotBase64 { index: 0 })
        );
        assert_eq!(
            parse_header(&headers("%C3%28")),
            Err(AuthFailure::HeaderNotText)
        );
        assert_eq!(
            parse_header(&headers("a,b,c,d,e")),
            Err(AuthFailure::ChainTooLong(5))
        );
        let huge = "A".repeat(MAX_CLIENT_CERT_HEADER_LEN + 1);
        assert_eq!(
            parse_header(&headers(&huge)),
            Err(AuthFailure::HeaderTooLarge(huge.len()))
        );
    }

    #[test]
    fn garbage_der_has_no_common_name() {
        let der = CertificateDer::from(b"hello".to_vec());
        assert!(matches!(
            operator_cn(&der),
            Err(AuthFailure::BadCertificate(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_is_handled(value in "[ -~]{0,200}") {
            let mut map = HeaderMap::new();
            if let Ok(v) = value.parse() {
                map.insert(CLIENT_CERT_HEADER, v);
                let _ = parse_header(&map);
            }
        }
    }
}
