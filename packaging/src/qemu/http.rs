//! A minimal HTTP/1.0 GET over a plain TCP connection to a numeric address,
//! enough to check that an appliance answers (no DNS, no TLS, no deps).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Parse a whole HTTP/1.x response (status line, headers, body).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .ok_or_else(|| format!("no end of headers in {} bytes of response", raw.len()))?;
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    Ok(Response {
        status,
        body: body.to_string(),
    })
}

/// One GET of `path` on `addr`; reads until the server closes.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Response, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("HTTP exchange with {addr} failed: {e}");
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(io)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw)
}

/// Retry [`get`] until a 200 response whose body contains `expect`, or the
/// deadline; the error names the last failure.
pub fn poll(
    addr: SocketAddr,
    path: &str,
    expect: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let deadline = Instant::now() + timeout;
    loop {
        // Short attempts: a request sent before the guest has its address
        // waits in slirp's SYN retries; a fresh connection is quicker.
        let err = match get(addr, path, Duration::from_millis(700)) {
            Ok(r) if r.status == 200 && r.body.contains(expect) => return Ok(r),
            Ok(r) => format!("got status {} with body {:?}", r.status, r.body),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer containing {expect:?} from http://{addr}{path} within {:.0} s; last: {err}",
                timeout.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response() {
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello").expect("ok");
        assert_eq!(
            r,
            Response {
                status: 200,
                body: "hello".into()
            }
        );
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_err());
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn gets_from_a_real_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().expect("accept");
            let mut buf = [0u8; 512];
            let n = c.read(&mut buf).expect("read");
            assert!(buf[..n].starts_with(b"GET /x HTTP/1.0\r\n"));
            c.write_all(b"HTTP/1.0 200 OK\r\n\r\nHello from test")
                .expect("write");
        });
        let r = poll(addr, "/x", "Hello", Duration::from_secs(5)).expect("poll");
        assert_eq!(r.body, "Hello from test");
        t.join().expect("server thread");
    }
}
