//! Test app for health checks: an HTTP server on 127.0.0.1 and every
//! address, port `healthapp_port` (default 8080), answering `200 OK` to
//! the first `healthapp_answers` requests (default: all), then accepting
//! connections without ever answering (a wedged app). It prints one line
//! per answer. With `healthapp_ignore_term=1` it ignores SIGTERM (a slow
//! stop). The settings come from the environment (kernel command-line
//! words init passes on).
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::TcpListener;

fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let port = env_num("healthapp_port").unwrap_or(8080);
    let answers = env_num("healthapp_answers").unwrap_or(u64::MAX);
    if env_num("healthapp_ignore_term") == Some(1) {
        // SAFETY: SIG_IGN installs no handler code; no other thread runs.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    }
    let listener = match TcpListener::bind(("0.0.0.0", port as u16)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("health-app: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    println!("health-app: listening on {port}, answering {answers} requests");
    let mut served = 0u64;
    while served < answers {
        let Ok((mut s, _)) = listener.accept() else {
            continue;
        };
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        served += 1;
        println!("health-app: answered {served}");
    }
    println!("health-app: wedged after {served} answers");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
