//! rtnetlink bodies for IPv6 addresses and routes (AF_INET6), beside the
//! IPv4 ones in rtnl.rs. Pure functions, unit-tested for layout.

use std::net::Ipv6Addr;

const AF_INET6: u8 = 10;
const RTPROT_DHCP: u8 = 16;
const RTPROT_STATIC: u8 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTN_UNICAST: u8 = 1;

fn attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() & 3 != 0 {
        buf.push(0);
    }
}

/// RTM_NEWADDR/DELADDR body for an IPv6 address. `lifetimes`
/// (preferred, valid; seconds, u32::MAX forever) only for NEWADDR.
pub fn addr_body(index: u32, addr: Ipv6Addr, prefix: u8, lifetimes: Option<(u32, u32)>) -> Vec<u8> {
    let mut b = vec![AF_INET6, prefix, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    attr(&mut b, 1, &addr.octets()); // IFA_ADDRESS
    if let Some((p, v)) = lifetimes {
        let mut ci = Vec::with_capacity(16);
        ci.extend_from_slice(&p.to_ne_bytes());
        ci.extend_from_slice(&v.to_ne_bytes());
        ci.extend_from_slice(&[0; 8]);
        attr(&mut b, 6, &ci); // IFA_CACHEINFO
    }
    b
}

/// RTM_NEWROUTE/DELROUTE body: `dest/prefix` via `gateway` on `index`.
pub fn route_body(
    index: u32,
    dest: Ipv6Addr,
    prefix: u8,
    gateway: Option<Ipv6Addr>,
    dhcp: bool,
) -> Vec<u8> {
    let proto = if dhcp { RTPROT_DHCP } else { RTPROT_STATIC };
    let mut b = vec![AF_INET6, prefix, 0, 0, RT_TABLE_MAIN, proto, 0, RTN_UNICAST];
    b.extend_from_slice(&0u32.to_ne_bytes());
    if prefix > 0 {
        attr(&mut b, 1, &dest.octets()); // RTA_DST
    }
    attr(&mut b, 4, &index.to_ne_bytes()); // RTA_OIF
    if let Some(g) = gateway {
        attr(&mut b, 5, &g.octets()); // RTA_GATEWAY
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let a: Ipv6Addr = "fd00::5".parse().expect("addr");
        let b = addr_body(3, a, 128, Some((10, 20)));
        // ifaddrmsg 8 + ADDRESS 20 + CACHEINFO 20
        assert_eq!(b.len(), 48);
        assert_eq!(&b[..4], &[10, 128, 0, 0]);
        assert_eq!(&b[8..12], &[20, 0, 1, 0]);
        let g: Ipv6Addr = "fe80::1".parse().expect("addr");
        let r = route_body(3, Ipv6Addr::UNSPECIFIED, 0, Some(g), false);
        // rtmsg 12 + OIF 8 + GATEWAY 20
        assert_eq!(r.len(), 40);
        assert_eq!(r[5], RTPROT_STATIC);
    }
}
