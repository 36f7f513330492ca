//! The session cookie, `dashboard_token`, as Finch 1.x sets it: the raw dashboard JWT, `Path=/`,
//! `HttpOnly`, `SameSite=Strict`, no expiry (a browser-session cookie: the token's own `exp`
//! ends the session), and `Secure` when the request came over HTTPS.

use http::{HeaderMap, HeaderValue, header};

/// The cookie's name.
pub const COOKIE_NAME: &str = "dashboard_token";

/// The `Set-Cookie` value that stores `token`.
pub fn set(token: &str, https: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        secure(https)
    ))
    .ok()
}

/// The `Set-Cookie` value that removes the cookie (same attributes, empty, `Max-Age=0`).
pub fn clear(https: bool) -> HeaderValue {
    let value = format!(
        "{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        secure(https)
    );
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("dashboard_token=; Path=/; Max-Age=0"))
}

/// The session token in the request's cookies, if any (the first non-empty one).
pub fn read(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"'))
}

fn secure(https: bool) -> &'static str {
    if https { "; Secure" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; dashboard_token=abc.def"),
        );
        assert_eq!(read(&headers), Some("abc.def"));
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("dashboard_token=x"),
        );
        assert_eq!(read(&headers), Some("x"));
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("dashboard_token="));
        assert_eq!(read(&headers), None);
    }

    #[test]
    fn attributes() {
        assert_eq!(
            set("t", false).expect("value"),
            "dashboard_token=t; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            set("t", true).expect("value"),
            "dashboard_token=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            clear(true),
            "dashboard_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(set("bad\nvalue", false).is_none());
    }
}
