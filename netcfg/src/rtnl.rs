//! rtnetlink, hand-written for the five requests netcfg sends: link up (and
//! MTU), address add/delete, route add/delete, each acknowledged.
//!
//! Why not netlink-packet-route: measured in a stripped static binary
//! (opt-level z, fat LTO), netlink-packet-route with a blocking netlink
//! socket costs +520 KB, more than netcfg's whole share of the multicall
//! binary's budget (under busybox-static's 1,982,256 B). This encoder is a
//! few KB. The message builders are pure functions, unit-tested for layout.

use crate::lease::Route;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const AF_INET: u8 = 2;
const RTPROT_DHCP: u8 = 16;
const RT_TABLE_MAIN: u8 = 254;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

fn attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() & 3 != 0 {
        buf.push(0);
    }
}

/// A whole netlink message: header + `body`.
pub fn message(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + body.len());
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// RTM_NEWLINK body: set IFF_UP, and the MTU if given.
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

/// RTM_NEWADDR/DELADDR body. `lifetime` (valid = preferred, seconds,
/// u32::MAX forever) only for NEWADDR.
pub fn addr_body(
    index: u32,
    addr: Ipv4Addr,
    prefix: u8,
    brd: Option<Ipv4Addr>,
    lifetime: Option<u32>,
) -> Vec<u8> {
    let mut b = vec![AF_INET, prefix, 0, RT_SCOPE_UNIVERSE];
    b.extend_from_slice(&index.to_ne_bytes());
    attr(&mut b, 2, &addr.octets()); // IFA_LOCAL
    attr(&mut b, 1, &addr.octets()); // IFA_ADDRESS
    if let Some(brd) = brd {
        attr(&mut b, 4, &brd.octets()); // IFA_BROADCAST
    }
    if let Some(t) = lifetime {
        let mut ci = Vec::with_capacity(16);
        ci.extend_from_slice(&t.to_ne_bytes()); // preferred
        ci.extend_from_slice(&t.to_ne_bytes()); // valid
        ci.extend_from_slice(&[0; 8]);
        attr(&mut b, 6, &ci); // IFA_CACHEINFO
    }
    b
}

/// RTM_NEWROUTE/DELROUTE body for a route on interface `index`.
pub fn route_body(index: u32, r: &Route, src: Option<Ipv4Addr>) -> Vec<u8> {
    let scope = if r.gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    let mut b = vec![
        AF_INET,
        r.prefix,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_DHCP,
        scope,
        RTN_UNICAST,
    ];
    b.extend_from_slice(&0u32.to_ne_bytes());
    if r.prefix > 0 {
        attr(&mut b, 1, &r.dest.octets()); // RTA_DST
    }
    attr(&mut b, 4, &index.to_ne_bytes()); // RTA_OIF
    if let Some(g) = r.gateway {
        attr(&mut b, 5, &g.octets()); // RTA_GATEWAY
    }
    if let Some(s) = src {
        attr(&mut b, 7, &s.octets()); // RTA_PREFSRC
    }
    b
}

/// The result in an acknowledgement for `seq`: Some(0) ok, Some(errno),
/// None if the buffer holds no ack for `seq`.
pub fn parse_ack(mut buf: &[u8], seq: u32) -> Option<i32> {
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        let s = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
        if len < 16 || len > buf.len() {
            return None;
        }
        if ty == NLMSG_ERROR && s == seq && len >= 20 {
            return Some(-i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]));
        }
        buf = &buf[(len + 3) & !3..];
        if buf.len() < 16 {
            break;
        }
    }
    None
}

/// A non-blocking NETLINK_ROUTE socket subscribed to link changes
/// (RTMGRP_LINK): readable when any interface's state changes.
pub fn link_events() -> std::io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::bind(&fd, &SocketAddrNetlink::new(0, 1))?;
    Ok(fd)
}

/// A NETLINK_ROUTE socket.
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

    /// Send one request and wait for its acknowledgement.
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
            match parse_ack(&buf[..n], self.seq) {
                Some(0) => return Ok(()),
                Some(e) => return Err(std::io::Error::from_raw_os_error(e)),
                None => continue,
            }
        }
    }

    pub fn link_up(&mut self, index: u32, mtu: Option<u32>) -> std::io::Result<()> {
        self.request(RTM_NEWLINK, &link_body(index, mtu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_message_layout() {
        let b = addr_body(
            3,
            Ipv4Addr::new(10, 0, 0, 5),
            24,
            Some(Ipv4Addr::new(10, 0, 0, 255)),
            Some(120),
        );
        // ifaddrmsg 8 + LOCAL 8 + ADDRESS 8 + BROADCAST 8 + CACHEINFO 20
        assert_eq!(b.len(), 52);
        assert_eq!(&b[..4], &[2, 24, 0, 0]);
        assert_eq!(&b[8..16], &[8, 0, 2, 0, 10, 0, 0, 5]);
        assert_eq!(&b[32..36], &[20, 0, 6, 0]);
        let m = message(RTM_NEWADDR, NLM_F_CREATE, 7, &b);
        assert_eq!(m.len(), 68);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 68);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 0x405);
    }

    #[test]
    fn default_route_has_no_destination() {
        let r = Route {
            dest: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
            gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
        };
        let b = route_body(3, &r, None);
        assert_eq!(&b[..8], &[2, 0, 0, 0, 254, 16, 0, 1]);
        assert_eq!(b.len(), 12 + 8 + 8);
        let onlink = Route {
            dest: Ipv4Addr::new(172, 16, 0, 0),
            prefix: 12,
            gateway: None,
        };
        let b = route_body(3, &onlink, Some(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(b[6], RT_SCOPE_LINK);
        assert_eq!(b.len(), 12 + 8 + 8 + 8);
    }

    #[test]
    fn acks() {
        let mut ack = message(NLMSG_ERROR, 0, 9, &(-17i32).to_ne_bytes());
        ack.extend_from_slice(&[0; 16]); // the echoed request header
        let len = ack.len() as u32;
        ack[0..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(parse_ack(&ack, 9), Some(17));
        assert_eq!(parse_ack(&ack, 8), None);
        assert_eq!(parse_ack(&ack[..10], 9), None);
        let mut bad = ack.clone();
        bad[0] = 0xff; // length past the end
        assert_eq!(parse_ack(&bad, 9), None);
    }
}
