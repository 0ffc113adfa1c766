//! Router advertisements (RFC 4861 section 4.2) with the options netcfg
//! follows: prefix information, MTU, RDNSS and DNSSL (RFC 8106). Sans-IO:
//! [`decode`] checks every length once and sanitises what it keeps; a
//! message that breaks the framing is rejected whole (the caller keeps its
//! previous state). The kernel does SLAAC and the default route itself;
//! netcfg reads RAs for the M/O flags, DNS and the console lines.

use crate::core::wire::{addr, be32};
use std::net::Ipv6Addr;

pub const TYPE_RS: u8 = 133;
pub const TYPE_RA: u8 = 134;
const OPT_PREFIX: u8 = 3;
const OPT_MTU: u8 = 5;
const OPT_RDNSS: u8 = 25;
const OPT_DNSSL: u8 = 31;
/// Servers and domains kept from one RA (the rest is dropped, noted).
pub const MAX_ITEMS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    pub prefix: Ipv6Addr,
    pub len: u8,
    pub on_link: bool,
    pub autonomous: bool,
    /// Seconds; u32::MAX is infinite.
    pub valid: u32,
    pub preferred: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ra {
    pub hop_limit: u8,
    pub managed: bool,
    pub other: bool,
    /// Seconds as default router; 0: not a default router.
    pub router_lifetime: u16,
    pub prefixes: Vec<Prefix>,
    pub mtu: Option<u32>,
    /// (server, lifetime seconds); lifetime 0 withdraws it.
    pub rdnss: Vec<(Ipv6Addr, u32)>,
    pub dnssl: Vec<(String, u32)>,
    /// What was dropped or sanitised, for the console.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    #[error("not a router advertisement (type {0})")]
    NotRa(u8),
    #[error("router advertisement shorter than 16 bytes")]
    Short,
    #[error("router advertisement with code {0} (must be 0)")]
    Code(u8),
    #[error("router advertisement option {ty} has a bad length")]
    OptionLength { ty: u8 },
}

/// A usable unicast DNS server address.
fn usable(a: &Ipv6Addr) -> bool {
    !(a.is_unspecified() || a.is_loopback() || a.is_multicast())
}

/// The IP hop limit every Neighbor Discovery message is sent with; one
/// that arrives with less was forwarded, so it comes from off the link.
pub const LINK_HOP_LIMIT: u8 = 255;

/// RFC 4861 section 6.1.2's checks of where an RA came from, made on what
/// the socket says of the IPv6 header: a link-local source and an IP hop
/// limit of 255 (`None`: the kernel did not say). The error is the
/// console line's reason.
pub fn from_this_link(src: &Ipv6Addr, hop_limit: Option<u8>) -> Result<(), String> {
    if !src.is_unicast_link_local() {
        return Err(format!("RA from non-link-local {src} ignored"));
    }
    match hop_limit {
        Some(LINK_HOP_LIMIT) => Ok(()),
        Some(h) => Err(format!(
            "RA from {src} with IP hop limit {h} ignored (not {LINK_HOP_LIMIT}: it was routed here)"
        )),
        None => Err(format!(
            "RA from {src} ignored: its IP hop limit is unknown"
        )),
    }
}

/// Decode an ICMPv6 message (without the IPv6 header) as an RA.
// long: one arm per RA option, each length-checked as RFC 4861 says.
pub fn decode(b: &[u8]) -> Result<Ra, RaError> {
    match b.first() {
        None => return Err(RaError::Short),
        Some(&TYPE_RA) => {}
        Some(&t) => return Err(RaError::NotRa(t)),
    }
    if b.len() < 16 {
        return Err(RaError::Short);
    }
    if b[1] != 0 {
        return Err(RaError::Code(b[1]));
    }
    let mut ra = Ra {
        hop_limit: b[4],
        managed: b[5] & 0x80 != 0,
        other: b[5] & 0x40 != 0,
        router_lifetime: u16::from_be_bytes([b[6], b[7]]),
        ..Ra::default()
    };
    let mut opts = &b[16..];
    while !opts.is_empty() {
        if opts.len() < 2 {
            return Err(RaError::OptionLength { ty: opts[0] });
        }
        let (ty, len) = (opts[0], usize::from(opts[1]) * 8);
        if len == 0 || len > opts.len() {
            return Err(RaError::OptionLength { ty });
        }
        let o = &opts[..len];
        opts = &opts[len..];
        match ty {
            OPT_PREFIX => {
                if len != 32 {
                    return Err(RaError::OptionLength { ty });
                }
                let p = Prefix {
                    len: o[2],
                    on_link: o[3] & 0x80 != 0,
                    autonomous: o[3] & 0x40 != 0,
                    valid: be32(&o[4..]),
                    preferred: be32(&o[8..]),
                    prefix: addr(&o[16..]),
                };
                if p.len > 128 {
                    ra.warnings.push(format!(
                        "prefix {}/{} ignored: length over 128",
                        p.prefix, p.len
                    ));
                } else if p.preferred > p.valid {
                    ra.warnings.push(format!(
                        "prefix {}/{} ignored: preferred lifetime {} > valid {}",
                        p.prefix, p.len, p.preferred, p.valid
                    ));
                } else if p.prefix.is_multicast() || p.prefix.is_unicast_link_local() {
                    ra.warnings
                        .push(format!("prefix {}/{} ignored: not global", p.prefix, p.len));
                } else if ra.prefixes.len() >= MAX_ITEMS {
                    ra.warnings
                        .push(format!("prefix {}/{} ignored: too many", p.prefix, p.len));
                } else {
                    ra.prefixes.push(p);
                }
            }
            OPT_MTU => {
                if len != 8 {
                    return Err(RaError::OptionLength { ty });
                }
                let m = be32(&o[4..]);
                if (1280..=65535).contains(&m) {
                    ra.mtu = Some(m);
                } else {
                    ra.warnings.push(format!("MTU {m} ignored: out of range"));
                }
            }
            OPT_RDNSS => {
                // RFC 8106: length 3 + 2 per address (units of 8 bytes).
                if len < 24 || !(len - 8).is_multiple_of(16) {
                    return Err(RaError::OptionLength { ty });
                }
                let life = be32(&o[4..]);
                let mut dropped = 0;
                for a in o[8..].chunks_exact(16).map(addr) {
                    if !usable(&a) {
                        ra.warnings.push(format!("DNS server {a} ignored"));
                    } else if ra.rdnss.len() >= MAX_ITEMS {
                        dropped += 1;
                    } else if !ra.rdnss.iter().any(|(x, _)| *x == a) {
                        ra.rdnss.push((a, life));
                    }
                }
                if dropped > 0 {
                    ra.warnings.push(format!(
                        "{dropped} more DNS servers ignored (keeping {MAX_ITEMS})"
                    ));
                }
            }
            OPT_DNSSL => {
                if len < 16 {
                    return Err(RaError::OptionLength { ty });
                }
                let life = be32(&o[4..]);
                let (names, bad) = domain_list(&o[8..], true);
                if bad {
                    ra.warnings
                        .push("DNS search list has a malformed name; rest ignored".into());
                }
                for n in names {
                    if ra.dnssl.len() >= MAX_ITEMS {
                        ra.warnings
                            .push(format!("search domain {n} ignored: too many"));
                    } else if !ra.dnssl.iter().any(|(x, _)| *x == n) {
                        ra.dnssl.push((n, life));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(ra)
}

/// Uncompressed DNS names (RFC 1035 labels, each name ending in a zero
/// label), as validated dotted names. `padded`: trailing zero bytes are
/// padding (DNSSL). Returns the names and whether anything was malformed.
pub fn domain_list(mut b: &[u8], padded: bool) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    while !b.is_empty() {
        if padded && b.iter().all(|&x| x == 0) {
            break;
        }
        let mut name = String::new();
        loop {
            let Some((&l, rest)) = b.split_first() else {
                return (names, true);
            };
            let l = usize::from(l);
            if l == 0 {
                b = rest;
                break;
            }
            if l > 63 || l > rest.len() {
                return (names, true);
            }
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(&String::from_utf8_lossy(&rest[..l]));
            b = &rest[l..];
        }
        match crate::core::lease::valid_name(&name, 253) {
            Some(n) => names.push(n),
            None => return (names, true),
        }
    }
    (names, false)
}

/// A router solicitation (no source link-layer option: it may be sent
/// from the unspecified address while the link-local one is tentative).
pub fn solicitation() -> [u8; 8] {
    [TYPE_RS, 0, 0, 0, 0, 0, 0, 0]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn only_link_local_sources_with_hop_limit_255_are_from_this_link() {
        let ll: Ipv6Addr = "fe80::1".parse().expect("a");
        assert_eq!(from_this_link(&ll, Some(255)), Ok(()));
        let e = from_this_link(&ll, Some(64)).expect_err("forwarded");
        assert!(e.contains("hop limit 64"), "{e}");
        assert!(from_this_link(&ll, Some(254)).is_err());
        assert!(from_this_link(&ll, None).is_err());
        let global: Ipv6Addr = "2001:db8::1".parse().expect("a");
        let e = from_this_link(&global, Some(255)).expect_err("not link-local");
        assert!(e.contains("non-link-local 2001:db8::1"), "{e}");
    }

    /// An RA with the given flags and options (test helper, also used by
    /// the fuzz seeds).
    pub fn ra(flags: u8, lifetime: u16, opts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![TYPE_RA, 0, 0, 0, 64, flags];
        b.extend_from_slice(&lifetime.to_be_bytes());
        b.extend_from_slice(&[0; 8]);
        for o in opts {
            b.extend_from_slice(o);
        }
        b
    }

    pub fn prefix(p: &str, len: u8, valid: u32, pref: u32) -> Vec<u8> {
        let mut o = vec![OPT_PREFIX, 4, len, 0xc0];
        o.extend_from_slice(&valid.to_be_bytes());
        o.extend_from_slice(&pref.to_be_bytes());
        o.extend_from_slice(&[0; 4]);
        o.extend_from_slice(&p.parse::<Ipv6Addr>().expect("addr").octets());
        o
    }

    pub fn rdnss(life: u32, servers: &[Ipv6Addr]) -> Vec<u8> {
        let mut o = vec![OPT_RDNSS, (1 + 2 * servers.len()) as u8, 0, 0];
        o.extend_from_slice(&life.to_be_bytes());
        for s in servers {
            o.extend_from_slice(&s.octets());
        }
        o
    }

    pub fn dnssl(life: u32, names: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for n in names {
            for l in n.split('.') {
                body.push(l.len() as u8);
                body.extend_from_slice(l.as_bytes());
            }
            body.push(0);
        }
        while !(body.len() + 8).is_multiple_of(8) {
            body.push(0);
        }
        let mut o = vec![OPT_DNSSL, ((body.len() + 8) / 8) as u8, 0, 0];
        o.extend_from_slice(&life.to_be_bytes());
        o.extend_from_slice(&body);
        o
    }

    #[test]
    fn flags_prefix_dns_and_search() {
        let s: Ipv6Addr = "fd00:81::1".parse().expect("addr");
        let b = ra(
            0xc0,
            1800,
            &[
                prefix("fd00:81::", 64, 7200, 3600),
                rdnss(600, &[s]),
                dnssl(600, &["one.test", "two.test"]),
                vec![OPT_MTU, 1, 0, 0, 0, 0, 0x05, 0xdc],
            ],
        );
        let r = decode(&b).expect("decodes");
        assert!(r.managed && r.other);
        assert_eq!(r.router_lifetime, 1800);
        assert_eq!(r.prefixes.len(), 1);
        assert_eq!(r.prefixes[0].len, 64);
        assert_eq!(r.rdnss, vec![(s, 600)]);
        assert_eq!(
            r.dnssl,
            vec![("one.test".into(), 600), ("two.test".into(), 600)]
        );
        assert_eq!(r.mtu, Some(1500));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn hostile_advertisements() {
        // Prefix length out of range, lifetimes 0 and 0xffffffff.
        let r = decode(&ra(
            0,
            0,
            &[
                prefix("2001:db8::", 200, 10, 10),
                prefix("2001:db8:1::", 64, 0, 0),
                prefix("2001:db8:2::", 64, u32::MAX, u32::MAX),
                prefix("2001:db8:3::", 64, 10, 20),
            ],
        ))
        .expect("decodes");
        assert_eq!(r.prefixes.len(), 2);
        assert_eq!(r.prefixes[1].valid, u32::MAX);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        // RDNSS with 100 servers: the option length byte allows 127 units;
        // only MAX_ITEMS are kept.
        let many: Vec<Ipv6Addr> = (1..=100u16)
            .map(|i| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i))
            .collect();
        let r = decode(&ra(0, 0, &[rdnss(u32::MAX, &many)])).expect("decodes");
        assert_eq!(r.rdnss.len(), MAX_ITEMS);
        assert!(r.warnings[0].contains("92 more"));
        // Broken framing: zero-length option, option past the end.
        assert!(decode(&ra(0, 0, &[vec![OPT_RDNSS, 0, 0, 0]])).is_err());
        let mut b = ra(0, 0, &[rdnss(1, &many[..1])]);
        b.truncate(b.len() - 1);
        assert!(decode(&b).is_err());
        assert_eq!(decode(&[TYPE_RS]), Err(RaError::NotRa(TYPE_RS)));
        // A bad name in DNSSL keeps the good ones before it.
        let mut o = dnssl(5, &["ok.test"]);
        o.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        o[1] += 1;
        o[17] = 70; // a label longer than 63 in the second name
        let r = decode(&ra(0, 0, &[o])).expect("decodes");
        assert_eq!(r.dnssl, vec![("ok.test".into(), 5)]);
    }
}
