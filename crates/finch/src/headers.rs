//! Reading a request's headers by name, whichever HTTP implementation parsed them.
//!
//! The gRPC listener hands its layers an `http::HeaderMap` (tonic runs on hyper); the ForwardAuth
//! listener parses request heads with httparse in its own buffer and never builds a map
//! ([`crate::forward_auth::http1`]). The auth decision and the request logs only ever ask for a
//! few headers by name, so they take either through [`Headers`].

use http::HeaderMap;

/// A request's headers, looked up by name.
pub trait Headers {
    /// The first value of the header `name` (given in lowercase), as it was sent.
    fn value(&self, name: &str) -> Option<&[u8]>;

    /// The first value of the header `name` as text: `None` when the header is missing or its
    /// value is not [`visible_text`].
    fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(visible_text)
    }
}

impl Headers for HeaderMap {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|value| value.as_bytes())
    }
}

impl Headers for [httparse::Header<'_>] {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }
}

/// `value` as text if it is visible ASCII, spaces and tabs included: what
/// `http::HeaderValue::to_str` accepts.
pub fn visible_text(value: &[u8]) -> Option<&str> {
    // No early exit, so that the check runs over whole vectors of bytes: tokens are long.
    let visible = value.iter().fold(true, |visible, &byte| {
        visible & ((b' '..=b'~').contains(&byte) | (byte == b'\t'))
    });
    if visible {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parsed_headers_are_found_by_name_in_any_case_first_value_first() {
        let headers = [
            httparse::Header {
                name: "X-Forwarded-Uri",
                value: b"/loki/api/v1/push",
            },
            httparse::Header {
                name: "x-forwarded-uri",
                value: b"/second",
            },
        ];
        assert_eq!(headers.text("x-forwarded-uri"), Some("/loki/api/v1/push"));
        assert_eq!(headers.text("authorization"), None);
    }

    proptest! {
        /// Header values read as text exactly when `http` reads them as text.
        #[test]
        fn visible_text_agrees_with_header_values(value in vec(any::<u8>(), 0..40)) {
            let Ok(header_value) = HeaderValue::from_bytes(&value) else {
                // Not a header value at all (CR, LF, NUL): httparse refuses those too.
                return Ok(());
            };
            prop_assert_eq!(visible_text(&value), header_value.to_str().ok());
        }
    }
}
