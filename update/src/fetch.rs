//! One GET over plain TCP: the manifest into memory (bounded), the image
//! streamed into a file through a fixed buffer while its SHA-256 is
//! computed, never more than the manifest's size.

use crate::core::http::{self, Url};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use thiserror::Error;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A server silent this long has gone away.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The streaming buffer: the whole of the download's memory.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("cannot reach {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: the server answered {status} {reason}")]
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("{url}: {what}")]
    Protocol { url: String, what: String },
    #[error("{url}: the download is larger than the {limit} bytes expected")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the download ended after {got} of {want} bytes")]
    Truncated { url: String, got: u64, want: u64 },
    #[error("{url}: reading the download failed: {source}")]
    Read {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the download failed: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },
}

struct Response {
    stream: TcpStream,
    /// Body bytes read with the head.
    early: Vec<u8>,
    length: Option<u64>,
}

fn open(url: &Url, limit: u64) -> Result<Response, FetchError> {
    let shown = url.display();
    let connect_err = |source| FetchError::Connect {
        url: shown.clone(),
        source,
    };
    let addrs = crate::resolve::addresses(&url.host, url.port).map_err(connect_err)?;
    let mut last = std::io::Error::other("the host name has no address");
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| connect_err(last))?;
    let read_err = |source| FetchError::Read {
        url: shown.clone(),
        source,
    };
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(read_err)?;
    stream
        .write_all(&http::get_request(url))
        .map_err(read_err)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head, used) = loop {
        let n = stream.read(&mut chunk).map_err(read_err)?;
        if n == 0 {
            return Err(FetchError::Protocol {
                url: shown,
                what: "the server closed the connection before answering".into(),
            });
        }
        buf.extend_from_slice(&chunk[..n]);
        let parsed = http::parse_head(&buf).map_err(|what| FetchError::Protocol {
            url: shown.clone(),
            what,
        })?;
        if let Some(h) = parsed {
            break h;
        }
    };
    if head.status != 200 {
        return Err(FetchError::Status {
            url: shown,
            status: head.status,
            reason: head.reason,
        });
    }
    if head.chunked {
        return Err(FetchError::Protocol {
            url: shown,
            what: "the server sent a chunked response: serve releases as static files (with a Content-Length)".into(),
        });
    }
    if let Some(len) = head.content_length.filter(|&l| l > limit) {
        let _ = len;
        return Err(FetchError::TooLarge { url: shown, limit });
    }
    Ok(Response {
        stream,
        early: buf.split_off(used),
        length: head.content_length,
    })
}

/// Stream the body into `sink`: at most `limit` bytes, exactly `want` if
/// given. Returns the byte count and SHA-256.
fn body(
    url: &Url,
    mut r: Response,
    limit: u64,
    want: Option<u64>,
    sink: &mut dyn Write,
) -> Result<(u64, [u8; 32]), FetchError> {
    let shown = url.display();
    let want = want.or(r.length);
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut pending = std::mem::take(&mut r.early);
    loop {
        let n = if pending.is_empty() {
            match r.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(FetchError::Read { url: shown, source }),
            }
        } else {
            let n = pending.len().min(buf.len());
            buf[..n].copy_from_slice(&pending[..n]);
            pending.drain(..n);
            n
        };
        if n == 0 {
            break;
        }
        got += n as u64;
        if got > limit || want.is_some_and(|w| got > w) {
            return Err(FetchError::TooLarge {
                url: shown,
                limit: want.unwrap_or(limit).min(limit),
            });
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])
            .map_err(|source| FetchError::Write { source })?;
        if want == Some(got) {
            break;
        }
    }
    if let Some(w) = want.filter(|&w| got < w) {
        return Err(FetchError::Truncated {
            url: shown,
            got,
            want: w,
        });
    }
    Ok((got, hasher.finalize().into()))
}

/// A small document (the manifest), up to `limit` bytes.
pub fn get_small(url: &Url, limit: u64) -> Result<Vec<u8>, FetchError> {
    let r = open(url, limit)?;
    let mut out = Vec::new();
    body(url, r, limit, None, &mut out)?;
    Ok(out)
}

/// The file at `url` into `sink`: exactly `size` bytes; returns its SHA-256.
pub fn get_into(url: &Url, size: u64, sink: &mut dyn Write) -> Result<[u8; 32], FetchError> {
    let r = open(url, size)?;
    if r.length.is_some_and(|l| l < size) {
        return Err(FetchError::Truncated {
            url: url.display(),
            got: r.length.unwrap_or(0),
            want: size,
        });
    }
    body(url, r, size, Some(size), sink).map(|(_, h)| h)
}
