//! The HTTP/1.1 a static file server, object store or CDN speaks, as far as
//! fetching one file needs: `http://HOST[:PORT]/PATH` URLs, a GET request,
//! and the response head (status, Content-Length, chunked or not).
//! Integrity comes from the signed manifest, not the transport. The head
//! parser is the one init shares ([`nodistro_common::http`]).

use nodistro_common::http::clip;

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = s.strip_prefix("http://").ok_or_else(|| {
            format!("{s:?} is not an http:// URL (https is not supported: the manifest's signature protects the download)")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse()
                    .map_err(|_| format!("{s:?}: port {p:?} is not a number"))?,
            ),
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ok = |c: char| c.is_ascii_alphanumeric() || ".-:_".contains(c);
        if host.is_empty() || !host.chars().all(ok) {
            return Err(format!("{s:?}: {host:?} is not a host name or address"));
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(format!(
                "{s:?}: the path holds spaces or control characters"
            ));
        }
        Ok(Url {
            host: host.into(),
            port,
            path: path.into(),
        })
    }

    /// `name` in the same directory (after the last `/` of the path).
    pub fn sibling(&self, name: &str) -> Url {
        let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
        Url {
            path: format!("{dir}{name}"),
            ..self.clone()
        }
    }

    pub fn display(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.path)
    }
}

/// The request for `url`.
pub fn get_request(url: &Url) -> Vec<u8> {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: nodistro-update\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.path, url.port
    )
    .into_bytes()
}

/// A response head (status, reason, Content-Length, chunked or not).
pub use nodistro_common::http::Head;

/// The longest head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// The head at the start of `buf` ([`nodistro_common::http::parse_head`]),
/// and the bytes it took; `Ok(None)` while incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let head = nodistro_common::http::parse_head(buf, MAX_HEAD).map_err(|e| e.to_string())?;
    Ok(head.map(|h| {
        let len = h.len;
        (h, len)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://10.0.2.2:8000/rel/manifest").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("10.0.2.2", 8000, "/rel/manifest")
        );
        assert_eq!(u.sibling("v2.efi").path, "/rel/v2.efi");
        assert_eq!(Url::parse("http://example.com").expect("url").path, "/");
        assert_eq!(
            Url::parse("http://[fd00::1]:81/x/").expect("v6").host,
            "fd00::1"
        );
        assert_eq!(
            Url::parse("http://h/dir/")
                .expect("url")
                .sibling("manifest")
                .path,
            "/dir/manifest"
        );
        for bad in [
            "https://h/",
            "http://h:x/",
            "http:///p",
            "http://h/a b",
            "ftp://h",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        let r = String::from_utf8(get_request(&u)).expect("text");
        assert!(
            r.starts_with("GET /rel/manifest HTTP/1.1\r\nHost: 10.0.2.2:8000\r\n"),
            "{r}"
        );
    }

    /// The shared parser's cases are in common; here the update tool's
    /// words for each refusal and the bytes a head takes.
    #[test]
    fn heads() {
        let raw = b"HTTP/1.0 200 OK\r\ncontent-length: 12\r\n\r\nbody";
        let (h, n) = parse_head(raw).expect("ok").expect("complete");
        assert_eq!(
            (h.status, h.content_length, n),
            (200, Some(12), raw.len() - 4)
        );
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert_eq!(
            parse_head(b"SSH-2.0\r\n\r\n"),
            Err("not an HTTP/1.x response: \"SSH-2.0\"".into())
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err("Content-Length \"-1\" is not a number".into())
        );
        assert_eq!(
            parse_head(&vec![b'a'; MAX_HEAD + 1]),
            Err("the response head is over 16384 bytes".into())
        );
    }
}

/// A push from `nodistro update --to`: `POST /update?port=N HTTP/1.1`; the
/// release is then fetched from the pusher's address on port N
/// (`/manifest` and the image beside it). `Ok(None)` while incomplete.
pub fn parse_push(buf: &[u8]) -> Result<Option<u16>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(format!("the request head is over {MAX_HEAD} bytes"))
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let line = head.lines().next().unwrap_or_default();
    let mut w = line.split(' ');
    let (method, target) = (w.next().unwrap_or_default(), w.next().unwrap_or_default());
    if method != "POST" {
        return Err(format!(
            "{:?}: only POST /update?port=N is served",
            clip(line)
        ));
    }
    let port = target
        .strip_prefix("/update?port=")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("{:?}: expected POST /update?port=N", clip(line)))?;
    Ok(Some(port))
}

/// A short plain-text response.
pub fn response(status: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod push_tests {
    use super::*;

    #[test]
    fn pushes() {
        assert_eq!(
            parse_push(b"POST /update?port=8123 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok(Some(8123))
        );
        assert_eq!(parse_push(b"POST /update?port=8123 HTTP/1.1\r\n"), Ok(None));
        for bad in [
            &b"GET /update?port=1 HTTP/1.1\r\n\r\n"[..],
            b"POST /update?port=0 HTTP/1.1\r\n\r\n",
            b"POST /update?port=x HTTP/1.1\r\n\r\n",
            b"POST /other HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse_push(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let r = String::from_utf8(response(409, "Conflict", "refused\n")).expect("text");
        assert!(
            r.starts_with("HTTP/1.1 409 Conflict\r\n")
                && r.ends_with("Content-Length: 8\r\nConnection: close\r\n\r\nrefused\n"),
            "{r}"
        );
    }
}
