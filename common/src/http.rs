//! The HTTP/1.1 response head both HTTP clients of the runtime read, sans
//! IO: init's metadata client (a small answer held whole) and the update
//! tool (a body streamed, up to a whole UKI). Given the bytes received so
//! far, [`parse_head`] finds the end of the head (within a cap), the status
//! line and the headers that delimit the body (Content-Length,
//! Transfer-Encoding); what to do with the body, and the words for each
//! error, stay with each tool.

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// The reason phrase after the status code (may be empty).
    pub reason: String,
    pub content_length: Option<u64>,
    /// A Transfer-Encoding names `chunked`.
    pub chunked: bool,
    /// A Transfer-Encoding other than `identity` is present (the body is
    /// not the plain bytes).
    pub encoded: bool,
    /// The bytes the head took, the blank line included: the body starts
    /// there.
    pub len: usize,
}

/// Why a head was refused. The words are the update tool's; init says
/// its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// No blank line within the cap (the cap).
    #[error("the response head is over {0} bytes")]
    TooLarge(usize),
    /// The status line is not `HTTP/1.x NNN ...`; the line, clipped to 80
    /// characters.
    #[error("not an HTTP/1.x response: {0:?}")]
    NotHttp(String),
    /// The Content-Length value (clipped to 80 characters) is not a number.
    #[error("Content-Length {0:?} is not a number")]
    BadLength(String),
}

/// The head at the start of `buf`, if it ends within `max` bytes;
/// `Ok(None)` while incomplete. Looks at no more than `max` + 4 bytes
/// however much `buf` holds.
pub fn parse_head(buf: &[u8], max: usize) -> Result<Option<Head>, HeadError> {
    let window = &buf[..buf.len().min(max + 4)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > max {
            Err(HeadError::TooLarge(max))
        } else {
            Ok(None)
        };
    };
    if end > max {
        return Err(HeadError::TooLarge(max));
    }
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    let status = (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| code.parse::<u16>().ok())
        .flatten();
    let (true, Some(status)) = (version.starts_with("HTTP/1."), status) else {
        return Err(HeadError::NotHttp(clip(status_line)));
    };
    let mut head = Head {
        status,
        reason: parts.next().unwrap_or_default().to_string(),
        content_length: None,
        chunked: false,
        encoded: false,
        len: end + 4,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse()
                .map_err(|_| HeadError::BadLength(clip(value)))?;
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked |= value.to_ascii_lowercase().contains("chunked");
            head.encoded |= !value.eq_ignore_ascii_case("identity");
        }
    }
    Ok(Some(head))
}

/// `s`, at most 80 characters of it.
pub fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let raw = b"HTTP/1.0 200 OK\r\nServer: x\r\ncontent-length: 12\r\n\r\nbody";
        let h = parse_head(raw, 1024).expect("ok").expect("complete");
        assert_eq!(
            (h.status, h.content_length, h.chunked, h.len),
            (200, Some(12), false, raw.len() - 4)
        );
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\n", 1024), Ok(None));
        let h = parse_head(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n",
            1024,
        )
        .expect("ok")
        .expect("complete");
        assert_eq!(
            (h.status, h.reason.as_str(), h.chunked, h.encoded),
            (404, "Not Found", true, true)
        );
        let h = parse_head(b"HTTP/1.1 204\r\nTransfer-Encoding: Identity\r\n\r\n", 1024)
            .expect("ok")
            .expect("complete");
        assert_eq!((h.status, h.reason.as_str(), h.encoded), (204, "", false));
        let h = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1024)
            .expect("ok")
            .expect("complete");
        assert_eq!((h.chunked, h.encoded), (false, true));
    }

    #[test]
    fn hostile_heads() {
        assert_eq!(
            parse_head(b"SSH-2.0\r\n\r\n", 1024),
            Err(HeadError::NotHttp("SSH-2.0".into()))
        );
        for bad in [&b"HTTP/1.1 20 OK\r\n\r\n"[..], b"HTTP/1.1 +20 OK\r\n\r\n"] {
            assert!(matches!(parse_head(bad, 1024), Err(HeadError::NotHttp(_))));
        }
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 1024),
            Err(HeadError::BadLength("-1".into()))
        );
        assert_eq!(
            parse_head(&vec![b'a'; 1025], 1024),
            Err(HeadError::TooLarge(1024))
        );
        let mut late = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        late.extend(vec![b'a'; 1024]);
        late.extend(b"\r\n\r\n");
        assert_eq!(parse_head(&late, 1024), Err(HeadError::TooLarge(1024)));
        assert!(parse_head(&late, 2048).is_ok());
        let long = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            "x".repeat(200)
        );
        match parse_head(long.as_bytes(), 1024) {
            Err(HeadError::BadLength(v)) => assert_eq!(v.len(), 80),
            other => panic!("{other:?}"),
        }
    }
}
