//! `nodistro update --to http://DEVICE:PORT`: push a release to a device in
//! development (gokrazy's workflow), behind the same signature check as a
//! pulled one. The release is published (as `nodistro publish` does) into
//! a temporary directory this command serves over HTTP for the time of the
//! push; the device (`update.listen=PORT`) is asked with `POST
//! /update?port=N`, fetches the manifest and image from this machine's
//! address, judges them like a pulled release, and answers with its line:
//! 200 installed (it reboots into a trial boot), 409 refused.

use crate::publish::{self, PublishArgs};
use argh::FromArgs;
use nodistro_update::core::http::{self, Url};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOOL: &str = "nodistro update";
/// How long the device may take to fetch, check and install.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// push a release to a device in development (its update.listen port):
/// published and served from here for the time of the push, checked by
/// the device like a pulled one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "update")]
pub struct UpdateArgs {
    /// the device: http://HOST:PORT (its update.listen port)
    #[argh(option)]
    pub to: String,
    /// the ed25519 private key the device's --update-key trusts
    #[argh(option)]
    pub key: PathBuf,
    /// the release's UKI (nodistro build --format uki)
    #[argh(option)]
    pub image: PathBuf,
    /// the release's version (higher than the device's)
    #[argh(option)]
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("--to {0}")]
    To(String),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error("cannot serve the release: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot reach the device at {url} (is update.listen set on it?): {source}")]
    Device {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the device at {url} answered {what}")]
    Answer { url: String, what: String },
    #[error("the device refused the release: {0}")]
    Refused(String),
}

/// Serve the files of `dir` (GET /NAME) until the process ends.
fn serve(dir: PathBuf) -> Result<u16, PushError> {
    let listener = TcpListener::bind(("0.0.0.0", 0)).map_err(PushError::Serve)?;
    let port = listener.local_addr().map_err(PushError::Serve)?.port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || serve_one(s, &dir));
        }
    });
    Ok(port)
}

fn serve_one(mut s: TcpStream, dir: &Path) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 2048];
    let n = s.read(&mut buf).unwrap_or(0);
    let req = String::from_utf8_lossy(&buf[..n]);
    let name = req
        .strip_prefix("GET /")
        .and_then(|r| r.split(' ').next())
        .filter(|n| nodistro_update::core::manifest::valid_name(n));
    let Some(bytes) = name.and_then(|n| std::fs::read(dir.join(n)).ok()) else {
        let _ = s.write_all(&http::response(404, "Not Found", "not here\n"));
        return;
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(&bytes));
}

/// Ask the device at `to`; its answer's body.
fn ask(to: &Url, port: u16) -> Result<String, PushError> {
    let shown = to.display();
    let device = |source| PushError::Device {
        url: shown.clone(),
        source,
    };
    let addr = (to.host.as_str(), to.port)
        .to_socket_addrs()
        .map_err(device)?
        .next()
        .ok_or_else(|| device(std::io::Error::other("no address")))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(device)?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(device)?;
    let req = format!(
        "POST /update?port={port} HTTP/1.1\r\nHost: {}:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        to.host, to.port
    );
    s.write_all(req.as_bytes()).map_err(device)?;
    let mut answer = Vec::new();
    s.take(64 * 1024).read_to_end(&mut answer).map_err(device)?;
    let (head, used) = match http::parse_head(&answer) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Err(PushError::Answer {
                url: shown,
                what: "nothing complete (it closed the connection)".into(),
            })
        }
        Err(what) => return Err(PushError::Answer { url: shown, what }),
    };
    let body = String::from_utf8_lossy(&answer[used..]).trim().to_string();
    match head.status {
        200 => Ok(body),
        409 => Err(PushError::Refused(body)),
        s => Err(PushError::Answer {
            url: shown,
            what: format!("{s} {}: {body}", head.reason),
        }),
    }
}

fn push(args: &UpdateArgs) -> Result<String, PushError> {
    let to = Url::parse(&args.to).map_err(PushError::To)?;
    let dir = std::env::temp_dir().join(format!("nodistro-push-{}", std::process::id()));
    let published = publish::publish(&PublishArgs {
        key: args.key.clone(),
        image: args.image.clone(),
        version: args.version.clone(),
        output: dir.clone(),
    });
    let result = published
        .map_err(PushError::from)
        .and_then(|_| serve(dir.clone()))
        .and_then(|port| ask(&to, port));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Run the subcommand; returns the exit code.
pub fn main(args: UpdateArgs) -> i32 {
    match push(&args) {
        Ok(line) => {
            println!("{TOOL}: {line}");
            0
        }
        Err(e) => nodistro_common::report::fail(TOOL, &e, 1),
    }
}
