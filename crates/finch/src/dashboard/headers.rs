//! The security headers every dashboard route sends (Finch 1.x's set), and whether a request
//! came over HTTPS.
//!
//! Finch itself serves plain HTTP behind Traefik, which terminates TLS and says so with
//! `X-Forwarded-Proto: https`; that header decides `Strict-Transport-Security` and the cookie's
//! `Secure` attribute. Both only tighten what the browser does, so trusting the header costs
//! nothing.
//!
//! The content security policy is 1.x's without `'unsafe-inline'`: our scripts and styles are
//! files under `/dashboard/assets/`, so inline ones are never needed and an injected one never
//! runs.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue};

use crate::version;

/// The content security policy of every page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// HSTS for a year, subdomains included, as 1.x sends over HTTPS.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Whether the request arrived over HTTPS (at Traefik).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Adds the security and version headers to the response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let https = is_https(request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    version::add_headers(headers);
    if https {
        headers.insert("strict-transport-security", HeaderValue::from_static(HSTS));
    }
    response
}
