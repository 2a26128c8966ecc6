//! The framework-agnostic core types: a [`UiRequest`] in, a [`UiResponse`] out.
//!
//! The adapters (the tower service, actix-web later) only convert their own
//! request and response types to and from these.

use std::net::SocketAddr;

/// One HTTP request, as the UI sees it.
#[derive(Debug, Clone, Default)]
pub struct UiRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path as received (percent-encoded), with or without the UI's prefix:
    /// an adapter that strips the prefix (axum's `nest_service`) may pass the rest.
    pub path: String,
    /// The query string without the `?` (percent-encoded), empty when none.
    pub query: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (only POST actions read it).
    pub body: Vec<u8>,
    /// The client's address, when the server knows it.
    pub peer: Option<SocketAddr>,
}

impl UiRequest {
    /// A request with this method and target (`/path?query`).
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self { method: method.to_owned(), path: path.to_owned(), query: query.to_owned(), ..Self::default() }
    }

    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets the client address.
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_pairs(self.query.as_bytes()).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct UiResponse {
    /// The status code.
    pub status: u16,
    /// The headers, security headers included.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl UiResponse {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: vec![("content-type", content_type.to_owned())], body: body.into() }
    }

    pub(crate) fn html(status: u16, body: String) -> Self {
        Self::new(status, "text/html; charset=utf-8", body)
    }

    pub(crate) fn json(status: u16, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{\"error\":\"cannot serialize\"}".to_vec());
        Self::new(status, "application/json", body)
    }

    pub(crate) fn text(status: u16, body: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body.to_owned())
    }

    pub(crate) fn redirect(location: String) -> Self {
        let mut r = Self::text(303, "See Other");
        r.headers.push(("location", location));
        r
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What [`percent_encode`] leaves as it is: the unreserved characters of RFC 3986.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Decodes the `%XX` escapes of a path segment (`+` stays a plus); invalid
/// escapes are kept as they are, invalid UTF-8 is replaced.
pub(crate) fn percent_decode(s: &[u8]) -> String {
    percent_encoding::percent_decode(s).decode_utf8_lossy().into_owned()
}

/// Encodes everything but unreserved characters, for query values and path segments.
pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The pairs of an `application/x-www-form-urlencoded` text (a query or a form body).
pub(crate) fn form_pairs(s: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(s).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms_and_escapes() {
        assert_eq!(
            form_pairs(b"a=1&b=x+y%21&c&d=%zz%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz%4".into())
            ]
        );
        assert_eq!(percent_decode(b"a%2Fb+c"), "a/b+c");
        assert_eq!(percent_encode("a b/<é>"), "a%20b%2F%3C%C3%A9%3E");
    }
}
