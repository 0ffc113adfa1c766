//! `update.listen=PORT` (off by default): a development machine pushes a
//! release with `nodistro update --to http://DEVICE:PORT` (gokrazy's
//! workflow). The pusher serves a published directory and asks with
//! `POST /update?port=N`; the device fetches `/manifest` from the pusher's
//! address on port N and judges it exactly as a pulled one (signature,
//! version, failed versions), then answers with the outcome's line: 200
//! when installed (the machine reboots next), 409 when refused.

use crate::core::http::{self, Url};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// A push waiting for its check: where to fetch from, whom to answer.
pub struct Push {
    pub url: Url,
    pub stream: TcpStream,
}

/// Listen on `port` in a thread of its own, handing each valid push to `tx`.
pub fn listen(port: u16, tx: Sender<Push>) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(p) = accept(stream) {
                if tx.send(p).is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}

fn accept(mut stream: TcpStream) -> Option<Push> {
    let peer = stream.peer_addr().ok()?.ip();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let port = loop {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        match http::parse_push(&buf) {
            Ok(Some(port)) => break port,
            Ok(None) => continue,
            Err(e) => {
                let _ = stream.write_all(&http::response(400, "Bad Request", &format!("{e}\n")));
                return None;
            }
        }
    };
    let url = Url {
        host: peer.to_string(),
        port,
        path: format!("/{}", crate::core::manifest::FILE),
    };
    Some(Push { url, stream })
}

/// Answer a push with the check's line.
pub fn answer(mut p: Push, installed: bool, report: &str) {
    let (status, reason) = if installed {
        (200, "OK")
    } else {
        (409, "Conflict")
    };
    let _ = p
        .stream
        .write_all(&http::response(status, reason, &format!("{report}\n")));
}
