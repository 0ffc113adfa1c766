//! rtnetlink bodies for the requests netcfg sends besides link up (address
//! add/delete, route add/delete) and the link-event socket. The encoder,
//! the ack parser and the request socket are `nodistro_common::netlink`,
//! shared with init.

use crate::core::lease::Route;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use nodistro_common::netlink::attr;
pub use nodistro_common::netlink::{
    link_body, message, parse_ack, Netlink, RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK,
    RTM_NEWROUTE,
};

const AF_INET: u8 = 2;
const RTPROT_DHCP: u8 = 16;
const RT_TABLE_MAIN: u8 = 254;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

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
        let m = message(RTM_NEWADDR, 0x400, 7, &b);
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
}
