//! rtnetlink, hand-written for the few requests the runtime sends (link up
//! and MTU here; netcfg adds address and route bodies): the message and
//! attribute encoder, the acknowledgement parser and a blocking socket that
//! sends one request and waits for its ack.
//!
//! Why not netlink-packet-route: measured in a stripped static binary
//! (opt-level z, fat LTO), netlink-packet-route with a blocking netlink
//! socket costs +520 KB, more than netcfg's whole share of the multicall
//! binary's budget. This encoder is a few KB. The builders and the parser
//! are pure functions; [`parse_ack`] reads kernel bytes and has a fuzz
//! target (netcfg/fuzz `netlink_ack`).

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::os::fd::OwnedFd;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLMSG_ERROR: u16 = 2;
/// The netlink header: len u32, type u16, flags u16, seq u32, pid u32.
const HEADER: usize = 16;

/// Append one route attribute (len, type, data, padding to 4 bytes).
pub fn attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() & 3 != 0 {
        buf.push(0);
    }
}

/// A whole request: header (with NLM_F_REQUEST | NLM_F_ACK) + `body`.
pub fn message(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER + body.len());
    m.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// RTM_NEWLINK body: set IFF_UP on `index`, and the MTU if given.
pub fn link_body(index: u32, mtu: Option<u32>) -> Vec<u8> {
    let mut b = vec![0u8, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&1u32.to_ne_bytes()); // flags IFF_UP
    b.extend_from_slice(&1u32.to_ne_bytes()); // change IFF_UP
    if let Some(m) = mtu {
        attr(&mut b, 4, &m.to_ne_bytes()); // IFLA_MTU
    }
    b
}

/// The result in an acknowledgement for `seq` among the messages in `buf`:
/// Some(0) ok, Some(errno) (positive), None if `buf` holds no ack for
/// `seq`. Never panics: lengths come from the kernel (or a fuzzer).
pub fn parse_ack(mut buf: &[u8], seq: u32) -> Option<i32> {
    while buf.len() >= HEADER {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        let s = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
        if len < HEADER || len > buf.len() {
            return None;
        }
        if ty == NLMSG_ERROR && s == seq && len >= HEADER + 4 {
            let e = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            // -i32::MIN overflows; no real errno is that large anyway.
            return Some(e.saturating_neg());
        }
        // The next message starts at the aligned length, which may lie
        // past the end when the last message's padding is missing.
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

/// A blocking NETLINK_ROUTE socket.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub fn open() -> std::io::Result<Self> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None,
        )?;
        net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// Send one request and wait for its acknowledgement; a negative ack
    /// becomes the io::Error of its errno.
    pub fn request(&mut self, ty: u16, body: &[u8]) -> std::io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let flags = match ty {
            RTM_NEWADDR | RTM_NEWROUTE => NLM_F_CREATE | NLM_F_REPLACE,
            _ => 0,
        };
        net::send(
            &self.fd,
            &message(ty, flags, self.seq, body),
            net::SendFlags::empty(),
        )?;
        let mut buf = vec![0u8; 8192];
        loop {
            let (n, _) = net::recv(&self.fd, &mut buf[..], net::RecvFlags::empty())?;
            match parse_ack(&buf[..n.min(buf.len())], self.seq) {
                Some(0) => return Ok(()),
                Some(e) => return Err(std::io::Error::from_raw_os_error(e)),
                None => continue,
            }
        }
    }

    /// Set IFF_UP on interface `index` (and its MTU if given).
    pub fn link_up(&mut self, index: u32, mtu: Option<u32>) -> std::io::Result<()> {
        self.request(RTM_NEWLINK, &link_body(index, mtu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(seq: u32, errno: i32) -> Vec<u8> {
        let mut a = message(NLMSG_ERROR, 0, seq, &errno.to_ne_bytes());
        a.extend_from_slice(&[0; 16]); // the echoed request header
        let len = a.len() as u32;
        a[0..4].copy_from_slice(&len.to_ne_bytes());
        a
    }

    #[test]
    fn acks() {
        let a = ack(9, -17);
        assert_eq!(parse_ack(&a, 9), Some(17));
        assert_eq!(parse_ack(&a, 8), None);
        assert_eq!(parse_ack(&a[..10], 9), None);
        let mut bad = a.clone();
        bad[0] = 0xff; // length past the end
        assert_eq!(parse_ack(&bad, 9), None);
        // A success ack after another message.
        let mut two = message(RTM_NEWLINK, 0, 3, &link_body(1, None));
        two.extend(ack(4, 0));
        assert_eq!(parse_ack(&two, 4), Some(0));
    }

    /// Issue 15 defect 3: a message whose length is not a multiple of 4 at
    /// the end of the buffer (17 bytes, nlmsg_len 17) sliced past the end.
    #[test]
    fn unpadded_last_message_is_no_ack() {
        let mut m = message(RTM_NEWLINK, 0, 1, &[0]);
        assert_eq!(m.len(), 17);
        assert_eq!(parse_ack(&m, 2), None);
        m.extend_from_slice(&[0; 2]);
        assert_eq!(parse_ack(&m, 2), None);
    }

    /// Issue 15 defect 3: -i32::MIN overflowed (a panic in debug builds).
    #[test]
    fn errno_of_i32_min_does_not_overflow() {
        assert_eq!(parse_ack(&ack(1, i32::MIN), 1), Some(i32::MAX));
    }

    #[test]
    fn link_up_layout() {
        let m = message(RTM_NEWLINK, 0, 1, &link_body(1, None));
        assert_eq!(m.len(), 32);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 32);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(i32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 1);
        assert_eq!(&m[24..32], &[1, 0, 0, 0, 1, 0, 0, 0]);
        let mtu = link_body(2, Some(1400));
        assert_eq!(mtu.len(), 16 + 8);
    }
}
