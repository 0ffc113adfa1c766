//! A remote syslog server over TCP with RFC 6587 octet counting: connect
//! with a bounded wait, notice a server that closed or stopped reading,
//! write whole frames and say how many were delivered.

use super::{Encoding, Scratch, StallReport, Transport};
use crate::core::format::{Format, Origin};
use crate::core::queue::Frame;
use nodistro_common::timeline;
use rustix::io::Errno;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A remote syslog server over TCP with RFC 6587 octet counting.
pub struct Tcp {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    format: Format,
    origin: Origin,
    /// The batch's frames, back to back (kept between batches).
    buf: Vec<u8>,
    /// End offset of each frame in `buf`.
    ends: Vec<usize>,
    /// One record's formatted text, the last timestamp.
    scratch: Scratch,
    stall: StallReport,
}

impl Tcp {
    pub fn new(addr: SocketAddr, format: Format, origin: Origin) -> Self {
        Tcp {
            addr,
            stream: None,
            format,
            origin,
            buf: Vec::new(),
            ends: Vec::new(),
            scratch: Scratch::default(),
            stall: StallReport::default(),
        }
    }

    fn connect(&mut self, give_up: Option<Instant>) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            // Never wait past the shutdown deadline for a connection.
            let limit = give_up.map_or(CONNECT_TIMEOUT, |d| {
                d.saturating_duration_since(Instant::now())
                    .clamp(Duration::from_millis(10), CONNECT_TIMEOUT)
            });
            let s = TcpStream::connect_timeout(&self.addr, limit)?;
            s.set_nodelay(true)?;
            s.set_write_timeout(Some(Duration::from_millis(500)))?;
            self.stream = Some(s);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))
    }
}

/// Whether the server closed or reset the connection (it never sends;
/// anything it did send is read and discarded).
fn peer_gone(s: &TcpStream) -> bool {
    use rustix::net::RecvFlags;
    let mut b = [0u8; 256];
    loop {
        match rustix::net::recv(s, &mut b, RecvFlags::DONTWAIT) {
            Ok((0, _)) => return true,
            Ok(_) => continue,
            Err(Errno::AGAIN) => return false,
            Err(Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

impl Transport for Tcp {
    fn send(
        &mut self,
        batch: &[Frame],
        give_up: Option<Instant>,
    ) -> Result<(), (usize, io::Error)> {
        if self.stream.as_ref().is_some_and(peer_gone) {
            self.stream = None;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        let encoding = self.encoding();
        for f in batch {
            encoding.wire_into(&f.bytes, &mut self.scratch, &mut buf);
            ends.push(buf.len());
        }
        let what = self.describe();
        let mut stall = std::mem::take(&mut self.stall);
        let result = self
            .connect(give_up)
            .map_err(|e| (0, e))
            .and_then(|stream| {
                let mut written = 0;
                while written < buf.len() {
                    match stream.write(&buf[written..]) {
                        Ok(0) => return Err((written, io::ErrorKind::WriteZero.into())),
                        Ok(n) => {
                            written += n;
                            stall.progress();
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock
                                    | io::ErrorKind::TimedOut
                                    | io::ErrorKind::Interrupted
                            ) && give_up.is_none_or(|d| Instant::now() < d) =>
                        {
                            if let Some(line) = stall.no_progress(Instant::now(), &what) {
                                timeline::log("logfwd", &line);
                            }
                        }
                        Err(e) => return Err((written, e)),
                    }
                }
                Ok(())
            });
        if result.is_ok() {
            if let Some(line) = stall.delivered(&what) {
                timeline::log("logfwd", &line);
            }
        }
        self.stall = stall;
        self.buf = buf;
        let result = result.map_err(|(written, e)| {
            self.stream = None;
            (ends.iter().take_while(|&&end| end <= written).count(), e)
        });
        self.ends = ends;
        result
    }

    fn describe(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    fn encoding(&self) -> Encoding {
        Encoding::OctetCounted(self.format, self.origin.clone())
    }
}
