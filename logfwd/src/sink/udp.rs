//! A remote syslog server over UDP: one record per datagram, sent with
//! sendmmsg.

use super::{Encoding, Transport};
use crate::core::format::{Format, Origin};
use crate::core::queue::Frame;
use rustix::io::Errno;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};
use std::io::{self, IoSlice};
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

/// A remote syslog server over UDP: one record per datagram.
pub struct Udp {
    addr: SocketAddr,
    socket: Option<UdpSocket>,
    format: Format,
    origin: Origin,
}

impl Udp {
    pub fn new(addr: SocketAddr, format: Format, origin: Origin) -> Self {
        Udp {
            addr,
            socket: None,
            format,
            origin,
        }
    }
}

impl Transport for Udp {
    fn send(&mut self, batch: &[Frame], _: Option<Instant>) -> Result<(), (usize, io::Error)> {
        let encoding = self.encoding();
        let socket = match &self.socket {
            Some(s) => s,
            None => {
                let any: SocketAddr = if self.addr.is_ipv4() {
                    (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                // Connected: cheaper sends, and the kernel reports a closed
                // port (ICMP) so records wait instead of going nowhere.
                let s = UdpSocket::bind(any).and_then(|s| s.connect(self.addr).map(|()| s));
                self.socket.insert(s.map_err(|e| (0, e))?)
            }
        };
        // One sendmmsg for the whole batch instead of a syscall per record.
        let msgs: Vec<Vec<u8>> = batch.iter().map(|f| encoding.wire(f)).collect();
        let iovs: Vec<[IoSlice<'_>; 1]> = msgs.iter().map(|m| [IoSlice::new(m)]).collect();
        let mut ctls: Vec<SendAncillaryBuffer<'_, '_, '_>> = iovs
            .iter()
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut hdrs: Vec<MMsgHdr<'_>> = iovs
            .iter()
            .zip(ctls.iter_mut())
            .map(|(iov, ctl)| MMsgHdr::new(iov, ctl))
            .collect();
        let mut sent = 0;
        while sent < hdrs.len() {
            match rustix::net::sendmmsg(socket, &mut hdrs[sent..], SendFlags::empty()) {
                Ok(0) => return Err((sent, io::ErrorKind::WriteZero.into())),
                Ok(n) => sent += n,
                // Larger than a datagram can be: nothing will make it fit.
                Err(Errno::MSGSIZE) => sent += 1,
                Err(Errno::INTR) => {}
                Err(e) => {
                    self.socket = None;
                    return Err((sent, e.into()));
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("udp://{}", self.addr)
    }

    fn encoding(&self) -> Encoding {
        Encoding::Datagram(self.format, self.origin.clone())
    }
}
