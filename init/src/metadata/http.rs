//! A minimal HTTP/1.1 client codec, sans-IO: requests out, one response in
//! (status, a few headers, a body delimited by Content-Length or by the
//! end of the connection), with hard caps on the header and body sizes.
//! The head is parsed by [`nodistro_common::http`], which the update tool
//! shares; the body is held here, whole.

/// Largest response head accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// Largest body accepted (EC2 user-data is at most 16 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// Why a response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the answer is not HTTP/1.x")]
    NotHttp,
    #[error("the answer's headers are larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("the answer is larger than {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("the answer uses chunked transfer encoding, which is not supported")]
    Chunked,
    #[error("the answer's Content-Length is not a number")]
    BadLength,
    #[error("the connection closed before the whole answer arrived")]
    Truncated,
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request: `METHOD PATH HTTP/1.1`, Host, the extra headers, no body.
pub fn request(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" {
        r.push_str("Content-Length: 0\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Parse what has arrived so far. `Ok(None)`: incomplete, read more (or,
/// when `eof`, this is an error). Never reads past the caps.
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    use nodistro_common::http::{parse_head, HeadError};
    if !buf.starts_with(b"HTTP/1.") && (buf.len() >= 7 || eof) {
        return Err(HttpError::NotHttp);
    }
    let head = match parse_head(buf, MAX_HEAD) {
        Ok(Some(h)) => h,
        Ok(None) if eof => return Err(HttpError::Truncated),
        Ok(None) => return Ok(None),
        Err(HeadError::TooLarge(_)) => return Err(HttpError::HeadTooLarge),
        Err(HeadError::NotHttp(_)) => return Err(HttpError::NotHttp),
        Err(HeadError::BadLength(_)) => return Err(HttpError::BadLength),
    };
    if head.encoded {
        return Err(HttpError::Chunked);
    }
    body(head.status, head.content_length, &buf[head.len..], eof)
}

/// The body after the head: `length` bytes of it, or all up to the end of
/// the connection without one.
fn body(
    status: u16,
    length: Option<u64>,
    body: &[u8],
    eof: bool,
) -> Result<Option<Response>, HttpError> {
    let whole = |b: &[u8]| {
        Ok(Some(Response {
            status,
            body: b.to_vec(),
        }))
    };
    match length.map(|n| usize::try_from(n).unwrap_or(usize::MAX)) {
        Some(n) if n > MAX_BODY => Err(HttpError::BodyTooLarge),
        _ if body.len() > MAX_BODY => Err(HttpError::BodyTooLarge),
        Some(n) if body.len() >= n => whole(&body[..n]),
        Some(_) if eof => Err(HttpError::Truncated),
        Some(_) => Ok(None),
        None if eof => whole(body),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r = request(
            "PUT",
            "10.0.2.100",
            "/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", "300")],
        );
        assert_eq!(
            String::from_utf8_lossy(&r),
            "PUT /latest/api/token HTTP/1.1\r\nHost: 10.0.2.100\r\nConnection: close\r\n\
             X-aws-ec2-metadata-token-ttl-seconds: 300\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn responses() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        for n in 0..full.len() {
            assert_eq!(parse_response(&full[..n], false), Ok(None), "{n}");
        }
        assert_eq!(
            parse_response(full, false),
            Ok(Some(Response {
                status: 200,
                body: b"hello".to_vec()
            }))
        );
        assert_eq!(parse_response(&full[..40], true), Err(HttpError::Truncated));
        let close = b"HTTP/1.0 404 Not Found\r\n\r\nnope";
        assert_eq!(parse_response(close, false), Ok(None));
        assert_eq!(
            parse_response(close, true).map(|r| r.map(|r| r.status)),
            Ok(Some(404))
        );
    }

    #[test]
    fn hostile_responses() {
        assert_eq!(
            parse_response(b"SSH-2.0-x\r\n", false),
            Err(HttpError::NotHttp)
        );
        assert_eq!(
            parse_response(&[b'A'; 20_000], false),
            Err(HttpError::NotHttp)
        );
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.extend(vec![b'a'; MAX_HEAD]);
        assert_eq!(parse_response(&big, false), Err(HttpError::HeadTooLarge));
        assert_eq!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n",
                false
            ),
            Err(HttpError::BodyTooLarge)
        );
        let mut flood = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        flood.extend(vec![0u8; MAX_BODY + 1]);
        assert_eq!(parse_response(&flood, false), Err(HttpError::BodyTooLarge));
        assert_eq!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            ),
            Err(HttpError::Chunked)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Err(HttpError::BadLength)
        );
    }
}
