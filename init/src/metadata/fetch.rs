//! The IO of per-instance settings over HTTP: one request on a fresh TCP
//! connection within a deadline ([`get`]), and EC2's IMDSv2 flow on top
//! ([`imds`]): a session token from `PUT /latest/api/token`, then
//! meta-data and user-data with it.

use super::http::{self, parse_response, Response};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One request; the error is a short reason for the console.
pub fn get(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<Response, String> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let late = || format!("no answer from {addr} in time");
    if left().is_zero() {
        return Err(late());
    }
    let mut s = TcpStream::connect_timeout(&addr, left()).map_err(|e| format!("{addr}: {e}"))?;
    let host = addr.ip().to_string();
    let _ = s.set_write_timeout(Some(left().max(Duration::from_millis(1))));
    s.write_all(&http::request(method, &host, path, headers))
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let t = left();
        if t.is_zero() {
            return Err(late());
        }
        let _ = s.set_read_timeout(Some(t));
        let (n, eof) = match s.read(&mut chunk) {
            Ok(0) => (0, true),
            Ok(n) => (n, false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late())
            }
            Err(e) => return Err(format!("{addr}: {e}")),
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_response(&buf, eof) {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => {}
            Err(e) => return Err(format!("{method} {path}: {e}")),
        }
    }
}

/// What a metadata service gave: meta-data text (`key: value` lines) and
/// user-data, each when present.
pub struct Fetched {
    pub meta: String,
    pub user_data: Option<Vec<u8>>,
}

/// IMDSv2 at `addr`: token, then `local-hostname`, `instance-id` and
/// user-data (404 means absent).
pub fn imds(addr: SocketAddr, deadline: Instant) -> Result<Fetched, String> {
    let t = get(
        addr,
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "300")],
        deadline,
    )?;
    let token = String::from_utf8_lossy(&t.body).trim().to_string();
    if t.status != 200
        || token.is_empty()
        || token.len() > 512
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "no IMDSv2 session token (HTTP status {})",
            t.status
        ));
    }
    let auth = [("X-aws-ec2-metadata-token", token.as_str())];
    let mut meta = String::new();
    for key in ["instance-id", "local-hostname"] {
        let r = get(
            addr,
            "GET",
            &format!("/latest/meta-data/{key}"),
            &auth,
            deadline,
        )?;
        match r.status {
            200 => {
                let v = String::from_utf8_lossy(&r.body);
                meta.push_str(&format!(
                    "{key}: {}\n",
                    v.lines().next().unwrap_or_default()
                ));
            }
            404 => {}
            s => return Err(format!("GET /latest/meta-data/{key}: HTTP status {s}")),
        }
    }
    let r = get(addr, "GET", "/latest/user-data", &auth, deadline)?;
    let user_data = match r.status {
        200 => Some(r.body),
        404 => None,
        s => return Err(format!("GET /latest/user-data: HTTP status {s}")),
    };
    Ok(Fetched { meta, user_data })
}
