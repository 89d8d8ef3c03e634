//! The HTTP/1.1 of the listener, without a socket: where a request head ends, what it says (parsed by httparse, the
//! parser hyper uses, already in our dependency tree through ureq), how its body is framed, and a response as bytes.
//! Every function here is pure, so every limit is tested with plain bytes.

use std::net::SocketAddr;
use std::sync::Arc;

/// The most headers a request head may have: Cabourotte's Go client sends five, curl three. httparse needs a fixed
/// array; one more is `431`.
pub const HEADERS: usize = 32;

/// A request head, parsed: only what the routes and the framing need, copied out of the connection's buffer (whose
/// size bounds it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `POST`, `HEAD`... as sent (a method is case-sensitive).
    pub method: String,
    /// The request target without its query (`/push`).
    pub path: String,
    /// Every header, its name in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Who sent it.
    pub peer: SocketAddr,
}

impl Head {
    /// The value of header `name` (lower case), if it was sent exactly once; `Err` when sent more than once.
    pub fn header(&self, name: &str) -> Result<Option<&[u8]>, Twice> {
        let mut values = self.headers.iter().filter(|(header, _)| header == name).map(|(_, value)| value.as_slice());
        let first = values.next();
        match values.next() {
            Some(_) => Err(Twice),
            None => Ok(first),
        }
    }

    /// Whether the request is `HEAD`: answered like `GET`, without the body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// A header that must be sent at most once was sent twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Twice;

/// Where the head that starts `buffer` ends (the index just after its blank line), looking only at bytes from
/// `from` on (less the two before it, where a line end may have begun): each byte is looked at about once however the
/// head arrives, so a client dripping a head byte by byte costs no more than one sending it at once. httparse accepts
/// bare `\n` line ends, so this does too.
pub fn end_of_head(buffer: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(2);
    (start..buffer.len()).find_map(|index| match &buffer[index..] {
        [b'\n', b'\n', ..] => Some(index + 2),
        [b'\n', b'\r', b'\n', ..] => Some(index + 3),
        _ => None,
    })
}

/// Parses a complete head (`end_of_head` found its end). `Ok(None)`: httparse wants more (the blank line was one of
/// the empty lines a client may send before its request line).
pub fn parse_head(bytes: &[u8], peer: SocketAddr) -> Result<Option<Head>, Response> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Response::message(431, &format!("more than {HEADERS} headers")));
        }
        Err(error) => return Err(Response::message(400, &format!("not an HTTP/1.1 request: {error}"))),
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(Response::message(400, "not an HTTP/1.1 request"));
    };
    let path = target.split('?').next().unwrap_or_default().to_string();
    let headers =
        request.headers.iter().map(|header| (header.name.to_ascii_lowercase(), header.value.to_vec())).collect();
    Ok(Some(Head { method: method.to_string(), path, headers, peer }))
}

/// How many body bytes follow `head`, for a route that reads a body of at most `limit` bytes: its `Content-Length`.
/// Without one, a body cannot be read (`411`: chunked transfer coding is not accepted, Cabourotte's exporter sends the
/// length); more than one, or one that is not a plain number, is `400`; one above `limit` is `413`, and nothing of
/// the body is read. The number is never trusted to size anything but that comparison.
pub fn body_length(head: &Head, limit: usize) -> Result<usize, Response> {
    if head.headers.iter().any(|(name, _)| name == "transfer-encoding") {
        return Err(Response::message(411, "Transfer-Encoding is not accepted: send Content-Length"));
    }
    let length = head
        .header("content-length")
        .map_err(|Twice| Response::message(400, "Content-Length is given more than once"))?
        .ok_or_else(|| Response::message(411, "a body needs Content-Length"))?;
    if length.is_empty() || !length.iter().all(u8::is_ascii_digit) {
        return Err(Response::message(400, "Content-Length is not a number"));
    }
    // Saturating: a number past usize::MAX is as much over the limit as usize::MAX is.
    let value =
        length.iter().fold(0usize, |value, digit| value.saturating_mul(10).saturating_add(usize::from(digit - b'0')));
    if value > limit {
        return Err(Response::message(
            413,
            &format!("the body is larger than {}, the most this route reads", size(limit)),
        ));
    }
    Ok(value)
}

/// `1 MiB`, `8 KiB`, `12 bytes`.
pub fn size(bytes: usize) -> String {
    match bytes {
        _ if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) => format!("{} MiB", bytes >> 20),
        _ if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} bytes"),
    }
}

/// A response: every one is complete (`Content-Length`) and closes the connection, so that a connection serves one
/// request and a pipelined second one is never read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// More headers (`Allow`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body, shared: the metrics text is not copied for each scrape.
    pub body: Arc<str>,
}

impl Response {
    /// A response of `status` with a `text/plain` body.
    pub fn text(status: u16, body: impl Into<Arc<str>>) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", headers: Vec::new(), body: body.into() }
    }

    /// A response of `status` with `{"message": MESSAGE}`.
    pub fn message(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "message": message }).to_string();
        Response { status, content_type: "application/json", headers: Vec::new(), body: body.into() }
    }

    /// The same with one more header.
    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Response {
        self.headers.push((name, value));
        self
    }

    /// The status line and headers (the body follows them unless the request was `HEAD`).
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// The reason phrase of the status codes the listener sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 40000))
    }

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes(), peer()).expect("a valid head").expect("complete")
    }

    #[test]
    fn the_end_of_a_head_is_found_once_whatever_the_pieces() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
        assert_eq!(end_of_head(request, 0), Some(27));
        for split in 0..request.len() {
            let early = end_of_head(&request[..split], 0);
            let found = early.or_else(|| end_of_head(request, split));
            assert_eq!(found, Some(27), "read in two pieces at {split}");
        }
        assert_eq!(end_of_head(b"GET / HTTP/1.1\nHost: x\n\nBODY", 0), Some(24), "bare line feeds");
        assert_eq!(end_of_head(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert_eq!(end_of_head(b"", 0), None);
    }

    #[test]
    fn a_head_keeps_the_method_the_path_without_its_query_and_headers_in_lower_case() {
        let parsed = head("POST /push?x=1 HTTP/1.1\r\nAuthorization: Bearer s\r\nContent-Length: 2\r\n\r\n");
        assert_eq!((parsed.method.as_str(), parsed.path.as_str()), ("POST", "/push"));
        assert_eq!(parsed.header("authorization"), Ok(Some(&b"Bearer s"[..])));
        assert_eq!(parsed.header("expect"), Ok(None));
        assert!(head("HEAD /healthz HTTP/1.0\r\n\r\n").is_head());
    }

    #[test]
    fn a_malformed_head_is_400_and_too_many_headers_431() {
        let refused = |text: &str| parse_head(text.as_bytes(), peer()).err().map(|response| response.status);
        assert_eq!(refused("GARBAGE\r\n\r\n"), Some(400));
        assert_eq!(refused("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), Some(400));
        assert_eq!(refused("PRI * HTTP/2.0\r\n\r\n"), Some(400));
        let many: String = (0..=HEADERS).map(|n| format!("X-{n}: y\r\n")).collect();
        assert_eq!(refused(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Some(431));
        let exactly: String = (0..HEADERS).map(|n| format!("X-{n}: y\r\n")).collect();
        assert_eq!(refused(&format!("GET / HTTP/1.1\r\n{exactly}\r\n")), None);
    }

    #[test]
    fn a_body_length_is_a_bounded_number_or_a_refusal() {
        let length = |headers: &str| {
            body_length(&head(&format!("POST /push HTTP/1.1\r\n{headers}\r\n")), 1 << 20).map_err(|r| r.status)
        };
        assert_eq!(length("Content-Length: 0\r\n"), Ok(0));
        assert_eq!(length("Content-Length: 1048576\r\n"), Ok(1 << 20));
        assert_eq!(length("Content-Length: 1048577\r\n"), Err(413));
        assert_eq!(length("Content-Length: 1099511627776\r\n"), Err(413));
        assert_eq!(length("Content-Length: 18446744073709551615\r\n"), Err(413));
        assert_eq!(length("Content-Length: 99999999999999999999999999999999\r\n"), Err(413));
        assert_eq!(length("Content-Length: 0000000000000000000000000012\r\n"), Ok(12), "leading zeros are a number");
        assert_eq!(length("Content-Length: +5\r\n"), Err(400));
        assert_eq!(length("Content-Length: 5, 5\r\n"), Err(400));
        assert_eq!(length("Content-Length: \r\n"), Err(400));
        assert_eq!(length("Content-Length: 5\r\nContent-Length: 5\r\n"), Err(400));
        assert_eq!(length(""), Err(411));
        assert_eq!(length("Transfer-Encoding: chunked\r\n"), Err(411));
        assert_eq!(length("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), Err(411), "no smuggling");
    }

    #[test]
    fn a_response_is_complete_and_closes_the_connection() {
        let response = Response::message(401, "no").with_header("WWW-Authenticate", "Bearer");
        assert_eq!(
            String::from_utf8(response.head_bytes()).expect("ASCII"),
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\
             Cache-Control: no-store\r\nWWW-Authenticate: Bearer\r\n\r\n"
        );
        assert_eq!(&*response.body, r#"{"message":"no"}"#);
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(8 << 10), "8 KiB");
        assert_eq!(size(12), "12 bytes");
    }
}
