//! The demo app: a tiny static HTTP/1.0 server that answers every request
//! with `Hello from nodistro`. It logs one line per request on stdout and
//! errors on stderr, so the log path (app -> init pipe -> logfwd) has
//! something to carry.
//!
//! Usage: `demo-app [--port N] [--message TEXT]` (default port 8080).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn serve(stream: TcpStream, message: &str, count: u64) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers (bounded) so the client sees a clean close.
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let body = format!("{message}\n");
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()?;
    println!("request {count} from {peer}: {}", request_line.trim_end());
    Ok(())
}

fn main() {
    let mut port: u16 = 8080;
    let mut message = String::from("Hello from nodistro");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--port", Some(v)) => match v.parse() {
                Ok(p) => port = p,
                Err(_) => {
                    eprintln!("demo-app: --port {v:?} is not a port number");
                    std::process::exit(2);
                }
            },
            ("--message", Some(v)) => message = v,
            _ => {
                eprintln!("demo-app: usage: demo-app [--port N] [--message TEXT]");
                std::process::exit(2);
            }
        }
    }
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-app: cannot listen on 0.0.0.0:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on 0.0.0.0:{port}");
    let mut count = 0u64;
    for stream in listener.incoming() {
        count += 1;
        match stream {
            Ok(s) => {
                if let Err(e) = serve(s, &message, count) {
                    eprintln!("demo-app: request {count} failed: {e}");
                }
            }
            Err(e) => eprintln!("demo-app: accept failed: {e}"),
        }
    }
}
