//! The DHCPv6 message codec (RFC 8415 sections 8 and 21), hand-written for
//! the options the client sends and reads. [`parse`] checks the framing of
//! every option (nested ones included) once and keeps only what passes the
//! checks; anything malformed is an error and changes nothing.

use crate::core::wire::{addr, be32};
use std::net::Ipv6Addr;

pub const SOLICIT: u8 = 1;
pub const ADVERTISE: u8 = 2;
pub const REQUEST: u8 = 3;
pub const RENEW: u8 = 5;
pub const REBIND: u8 = 6;
pub const REPLY: u8 = 7;
pub const RELEASE: u8 = 8;
pub const INFORMATION_REQUEST: u8 = 11;

pub const OPT_CLIENTID: u16 = 1;
pub const OPT_SERVERID: u16 = 2;
pub const OPT_IA_NA: u16 = 3;
pub const OPT_IAADDR: u16 = 5;
pub const OPT_ORO: u16 = 6;
pub const OPT_PREFERENCE: u16 = 7;
pub const OPT_ELAPSED_TIME: u16 = 8;
pub const OPT_STATUS_CODE: u16 = 13;
pub const OPT_DNS_SERVERS: u16 = 23;
pub const OPT_DOMAIN_LIST: u16 = 24;
pub const OPT_INFORMATION_REFRESH_TIME: u16 = 32;
pub const OPT_NTP_SERVER: u16 = 56;
const NTP_SUBOPTION_SRV_ADDR: u16 = 1;

pub const STATUS_SUCCESS: u16 = 0;
pub const STATUS_NO_BINDING: u16 = 3;

/// Servers and domains kept from one reply.
pub const MAX_ITEMS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dhcp6Error {
    #[error("DHCPv6 message shorter than its 4-byte header")]
    Short,
    #[error("DHCPv6 option {0} runs past the end of the message")]
    Truncated(u16),
    #[error("DHCPv6 option {0} has a bad length")]
    Length(u16),
}

/// Iterate `(code, body)` over an options area; Err on broken framing.
pub fn options(mut b: &[u8]) -> Result<Vec<(u16, &[u8])>, Dhcp6Error> {
    let mut v = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(Dhcp6Error::Truncated(0));
        }
        let code = u16::from_be_bytes([b[0], b[1]]);
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let body = b.get(4..4 + len).ok_or(Dhcp6Error::Truncated(code))?;
        v.push((code, body));
        b = &b[4 + len..];
    }
    Ok(v)
}

/// An address a server may hand out or name as a service.
pub fn global_unicast(a: &Ipv6Addr) -> bool {
    !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_unicast_link_local())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaAddr {
    pub addr: Ipv6Addr,
    pub preferred: u32,
    pub valid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaNa {
    pub iaid: u32,
    pub t1: u32,
    pub t2: u32,
    pub addrs: Vec<IaAddr>,
    pub status: u16,
}

/// A decoded server message, sanitised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub ty: u8,
    pub xid: u32,
    pub server_id: Option<Vec<u8>>,
    pub client_id: Option<Vec<u8>>,
    pub status: u16,
    pub status_text: String,
    pub preference: u8,
    pub ia_na: Vec<IaNa>,
    pub dns: Vec<Ipv6Addr>,
    pub domains: Vec<String>,
    pub ntp: Vec<Ipv6Addr>,
    pub info_refresh: Option<u32>,
    pub warnings: Vec<String>,
}

fn addr_list(
    body: &[u8],
    code: u16,
    out: &mut Vec<Ipv6Addr>,
    warn: &mut Vec<String>,
) -> Result<(), Dhcp6Error> {
    if !body.len().is_multiple_of(16) {
        return Err(Dhcp6Error::Length(code));
    }
    for a in body.chunks_exact(16).map(addr) {
        if !global_unicast(&a) && !a.is_unicast_link_local() {
            warn.push(format!("server address {a} ignored"));
        } else if out.len() >= MAX_ITEMS {
            warn.push(format!("server address {a} ignored: too many"));
        } else if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(())
}

fn ia_na(body: &[u8]) -> Result<IaNa, Dhcp6Error> {
    if body.len() < 12 {
        return Err(Dhcp6Error::Length(OPT_IA_NA));
    }
    let mut ia = IaNa {
        iaid: be32(body),
        t1: be32(&body[4..]),
        t2: be32(&body[8..]),
        addrs: Vec::new(),
        status: STATUS_SUCCESS,
    };
    for (code, o) in options(&body[12..])? {
        match code {
            OPT_IAADDR => {
                if o.len() < 24 {
                    return Err(Dhcp6Error::Length(code));
                }
                options(&o[24..])?;
                let a = IaAddr {
                    addr: addr(o),
                    preferred: be32(&o[16..]),
                    valid: be32(&o[20..]),
                };
                if ia.addrs.len() < MAX_ITEMS {
                    ia.addrs.push(a);
                }
            }
            OPT_STATUS_CODE => {
                if o.len() < 2 {
                    return Err(Dhcp6Error::Length(code));
                }
                ia.status = u16::from_be_bytes([o[0], o[1]]);
            }
            _ => {}
        }
    }
    Ok(ia)
}

/// Decode a DHCPv6 message from a server.
pub fn parse(b: &[u8]) -> Result<Reply, Dhcp6Error> {
    if b.len() < 4 {
        return Err(Dhcp6Error::Short);
    }
    let mut r = Reply {
        ty: b[0],
        xid: u32::from_be_bytes([0, b[1], b[2], b[3]]),
        ..Reply::default()
    };
    for (code, o) in options(&b[4..])? {
        match code {
            OPT_CLIENTID | OPT_SERVERID => {
                if o.is_empty() || o.len() > 130 {
                    return Err(Dhcp6Error::Length(code));
                }
                let slot = if code == OPT_CLIENTID {
                    &mut r.client_id
                } else {
                    &mut r.server_id
                };
                *slot = Some(o.to_vec());
            }
            OPT_STATUS_CODE => {
                if o.len() < 2 {
                    return Err(Dhcp6Error::Length(code));
                }
                r.status = u16::from_be_bytes([o[0], o[1]]);
                r.status_text = String::from_utf8_lossy(&o[2..])
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(80)
                    .collect();
            }
            OPT_PREFERENCE => {
                r.preference = *o.first().ok_or(Dhcp6Error::Length(code))?;
            }
            OPT_IA_NA => {
                let ia = ia_na(o)?;
                if r.ia_na.len() < MAX_ITEMS {
                    r.ia_na.push(ia);
                }
            }
            OPT_DNS_SERVERS => addr_list(o, code, &mut r.dns, &mut r.warnings)?,
            OPT_DOMAIN_LIST => {
                let (names, bad) = crate::core::ra::domain_list(o, false);
                if bad {
                    r.warnings
                        .push("domain list has a malformed name; rest ignored".into());
                }
                for n in names {
                    if r.domains.len() < MAX_ITEMS && !r.domains.contains(&n) {
                        r.domains.push(n);
                    }
                }
            }
            OPT_NTP_SERVER => {
                for (sub, s) in options(o)? {
                    if sub == NTP_SUBOPTION_SRV_ADDR {
                        if s.len() != 16 {
                            return Err(Dhcp6Error::Length(code));
                        }
                        addr_list(s, code, &mut r.ntp, &mut r.warnings)?;
                    }
                }
            }
            OPT_INFORMATION_REFRESH_TIME => {
                if o.len() != 4 {
                    return Err(Dhcp6Error::Length(code));
                }
                r.info_refresh = Some(be32(o));
            }
            _ => {}
        }
    }
    Ok(r)
}

/// A message being built: header, then options in order.
pub struct Builder(Vec<u8>);

impl Builder {
    pub fn new(ty: u8, xid: u32) -> Self {
        let x = xid.to_be_bytes();
        Builder(vec![ty, x[1], x[2], x[3]])
    }

    pub fn opt(mut self, code: u16, body: &[u8]) -> Self {
        self.0.extend_from_slice(&code.to_be_bytes());
        self.0
            .extend_from_slice(&(body.len().min(0xffff) as u16).to_be_bytes());
        self.0.extend_from_slice(body);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// An IA_NA option body, with the addresses (lifetimes 0: let the server
/// choose) as IAADDR options.
pub fn ia_na_body(iaid: u32, addrs: &[Ipv6Addr]) -> Vec<u8> {
    let mut b = iaid.to_be_bytes().to_vec();
    b.extend_from_slice(&[0; 8]);
    for a in addrs {
        b.extend_from_slice(&OPT_IAADDR.to_be_bytes());
        b.extend_from_slice(&24u16.to_be_bytes());
        b.extend_from_slice(&a.octets());
        b.extend_from_slice(&[0; 8]);
    }
    b
}

/// The option request option for what the client uses.
pub fn oro() -> Vec<u8> {
    [
        OPT_DNS_SERVERS,
        OPT_DOMAIN_LIST,
        OPT_NTP_SERVER,
        OPT_INFORMATION_REFRESH_TIME,
    ]
    .iter()
    .flat_map(|c| c.to_be_bytes())
    .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A server reply as dnsmasq sends it, built option by option.
    pub fn reply(xid: u32, client: &[u8], iaid: u32, a: &str) -> Vec<u8> {
        let mut addr = a.parse::<Ipv6Addr>().expect("addr").octets().to_vec();
        addr.extend_from_slice(&100u32.to_be_bytes());
        addr.extend_from_slice(&200u32.to_be_bytes());
        let mut ia = iaid.to_be_bytes().to_vec();
        ia.extend_from_slice(&50u32.to_be_bytes());
        ia.extend_from_slice(&80u32.to_be_bytes());
        ia.extend_from_slice(&Builder(vec![]).opt(OPT_IAADDR, &addr).finish());
        let dns: Vec<u8> = "fd00::53".parse::<Ipv6Addr>().expect("a").octets().to_vec();
        let mut ntp = NTP_SUBOPTION_SRV_ADDR.to_be_bytes().to_vec();
        ntp.extend_from_slice(&16u16.to_be_bytes());
        ntp.extend_from_slice(&"fd00::123".parse::<Ipv6Addr>().expect("a").octets());
        Builder::new(REPLY, xid)
            .opt(OPT_SERVERID, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6])
            .opt(OPT_CLIENTID, client)
            .opt(OPT_IA_NA, &ia)
            .opt(OPT_DNS_SERVERS, &dns)
            .opt(OPT_DOMAIN_LIST, b"\x03one\x04test\x00\x03two\x04test\x00")
            .opt(OPT_NTP_SERVER, &ntp)
            .finish()
    }

    #[test]
    fn decodes_a_reply() {
        let b = reply(0xabcdef, &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9], 7, "fd00::42");
        let r = parse(&b).expect("parses");
        assert_eq!((r.ty, r.xid), (REPLY, 0xabcdef));
        assert_eq!(r.ia_na.len(), 1);
        let ia = &r.ia_na[0];
        assert_eq!((ia.iaid, ia.t1, ia.t2), (7, 50, 80));
        assert_eq!(ia.addrs[0].addr, "fd00::42".parse::<Ipv6Addr>().expect("a"));
        assert_eq!((ia.addrs[0].preferred, ia.addrs[0].valid), (100, 200));
        assert_eq!(r.dns.len(), 1);
        assert_eq!(r.domains, ["one.test", "two.test"]);
        assert_eq!(r.ntp, ["fd00::123".parse::<Ipv6Addr>().expect("a")]);
        // Every truncation is an error or a smaller valid message, never a panic.
        for n in 0..b.len() {
            let _ = parse(&b[..n]);
        }
        assert_eq!(
            parse(&b[..b.len() - 1]),
            Err(Dhcp6Error::Truncated(OPT_NTP_SERVER))
        );
    }

    #[test]
    fn builds_a_solicit() {
        let m = Builder::new(SOLICIT, 0x010203)
            .opt(OPT_IA_NA, &ia_na_body(5, &[]))
            .finish();
        assert_eq!(&m[..4], &[1, 1, 2, 3]);
        assert_eq!(&m[4..8], &[0, 3, 0, 12]);
        let back = options(&m[4..]).expect("framing");
        assert_eq!(back[0].1.len(), 12);
    }
}
