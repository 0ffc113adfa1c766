//! The IO of one health check ([`crate::health`]): a TCP connection to
//! 127.0.0.1, and for HTTP one `GET` whose status line is read, all within
//! the check's time limit.

use crate::health::{http_status, Check};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Run `check`; the error says why it failed, for the console.
pub fn run(check: &Check, timeout: Duration) -> Result<(), String> {
    let end = Instant::now() + timeout;
    let (port, path) = match check {
        Check::Tcp { port } => (*port, None),
        Check::Http { port, path } => (*port, Some(path.as_str())),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    let Some(path) = path else { return Ok(()) };
    let left = || {
        end.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let _ = s.set_write_timeout(Some(left()));
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 256];
    let mut n = 0;
    while n < buf.len() && !buf[..n].contains(&b'\n') {
        if Instant::now() >= end {
            return Err(format!("no answer within {} ms", timeout.as_millis()));
        }
        let _ = s.set_read_timeout(Some(left()));
        match s.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no answer within {} ms", timeout.as_millis()))
            }
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
    match http_status(&buf[..n])? {
        200..=399 => Ok(()),
        code => Err(format!("HTTP status {code}")),
    }
}
