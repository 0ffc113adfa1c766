//! The DHCP message (RFC 2131 section 2, options RFC 2132), encoded and
//! decoded by hand. Sans-IO.
//!
//! Why not dhcproto (which the tests still use, as an independent
//! implementation to check this one against): it costs +245 KB in the
//! stripped static binary (it pulls hickory-proto, url, idna), and with it
//! the multicall binary went over its budget (busybox-static's
//! 1,982,256 B: 1,998,072 B measured on 2026-11-24). This file is a few KB.

use std::net::Ipv4Addr;

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;
pub const DECLINE: u8 = 4;
pub const RELEASE: u8 = 7;

pub const OPT_SUBNET_MASK: u8 = 1;
pub const OPT_ROUTER: u8 = 3;
pub const OPT_DNS: u8 = 6;
pub const OPT_HOSTNAME: u8 = 12;
pub const OPT_DOMAIN: u8 = 15;
pub const OPT_MTU: u8 = 26;
pub const OPT_BROADCAST: u8 = 28;
pub const OPT_NTP: u8 = 42;
pub const OPT_REQUESTED_IP: u8 = 50;
pub const OPT_LEASE_TIME: u8 = 51;
pub const OPT_OVERLOAD: u8 = 52;
pub const OPT_MSG_TYPE: u8 = 53;
pub const OPT_SERVER_ID: u8 = 54;
pub const OPT_PARAMS: u8 = 55;
pub const OPT_MAX_SIZE: u8 = 57;
pub const OPT_T1: u8 = 58;
pub const OPT_T2: u8 = 59;
pub const OPT_CLIENT_ID: u8 = 61;
pub const OPT_RAPID_COMMIT: u8 = 80;
pub const OPT_DOMAIN_SEARCH: u8 = 119;
pub const OPT_CLASSLESS_ROUTES: u8 = 121;

const COOKIE: [u8; 4] = [99, 130, 83, 99];
const HEADER: usize = 236;

/// A DHCP message. Options keep their order; a code given several times is
/// one option with the data concatenated (RFC 3396).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub op: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    pub opts: Vec<(u8, Vec<u8>)>,
}

impl Default for Msg {
    fn default() -> Self {
        let z = Ipv4Addr::UNSPECIFIED;
        Msg {
            op: 0,
            xid: 0,
            secs: 0,
            flags: 0,
            ciaddr: z,
            yiaddr: z,
            siaddr: z,
            giaddr: z,
            chaddr: [0; 16],
            opts: Vec::new(),
        }
    }
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

impl Msg {
    /// A BOOTREQUEST from `mac` (Ethernet).
    pub fn request(xid: u32, mac: [u8; 6], ciaddr: Ipv4Addr) -> Msg {
        let mut chaddr = [0; 16];
        chaddr[..6].copy_from_slice(&mac);
        Msg {
            op: 1,
            xid,
            ciaddr,
            chaddr,
            ..Msg::default()
        }
    }

    pub fn push(&mut self, code: u8, data: impl Into<Vec<u8>>) {
        self.opts.push((code, data.into()));
    }

    pub fn opt(&self, code: u8) -> Option<&[u8]> {
        self.opts
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }

    pub fn msg_type(&self) -> Option<u8> {
        match self.opt(OPT_MSG_TYPE) {
            Some([t]) => Some(*t),
            _ => None,
        }
    }

    /// A single address (exactly 4 bytes).
    pub fn ip(&self, code: u8) -> Option<Ipv4Addr> {
        match self.opt(code) {
            Some(d) if d.len() == 4 => Some(ip_at(d, 0)),
            _ => None,
        }
    }

    /// A list of addresses (a non-empty multiple of 4 bytes).
    pub fn ips(&self, code: u8) -> Option<Vec<Ipv4Addr>> {
        let d = self.opt(code)?;
        (!d.is_empty() && d.len() % 4 == 0)
            .then(|| (0..d.len()).step_by(4).map(|i| ip_at(d, i)).collect())
    }

    pub fn u32(&self, code: u8) -> Option<u32> {
        let d: [u8; 4] = self.opt(code)?.try_into().ok()?;
        Some(u32::from_be_bytes(d))
    }

    pub fn u16(&self, code: u8) -> Option<u16> {
        let d: [u8; 2] = self.opt(code)?.try_into().ok()?;
        Some(u16::from_be_bytes(d))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(300);
        m.extend_from_slice(&[self.op, 1, 6, 0]);
        m.extend_from_slice(&self.xid.to_be_bytes());
        m.extend_from_slice(&self.secs.to_be_bytes());
        m.extend_from_slice(&self.flags.to_be_bytes());
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            m.extend_from_slice(&a.octets());
        }
        m.extend_from_slice(&self.chaddr);
        m.resize(HEADER, 0); // sname, file
        m.extend_from_slice(&COOKIE);
        for (code, data) in &self.opts {
            // Long options are split (RFC 3396); empty ones (rapid commit)
            // still go out once.
            let mut chunks = data.chunks(255).peekable();
            if chunks.peek().is_none() {
                m.extend_from_slice(&[*code, 0]);
            }
            for c in chunks {
                m.extend_from_slice(&[*code, c.len() as u8]);
                m.extend_from_slice(c);
            }
        }
        m.push(255);
        // BOOTP relays and old servers expect at least 300 bytes (RFC 1542).
        if m.len() < 300 {
            m.resize(300, 0);
        }
        m
    }

    /// Decode; every option length must stay inside the packet and the list
    /// must end with option 255.
    pub fn decode(b: &[u8]) -> Result<Msg, &'static str> {
        if b.len() < HEADER + 4 {
            return Err("shorter than the fixed header");
        }
        if b[HEADER..HEADER + 4] != COOKIE {
            return Err("no DHCP magic cookie");
        }
        if b[2] as usize > 16 {
            return Err("hardware address longer than 16 bytes");
        }
        let mut chaddr = [0; 16];
        chaddr.copy_from_slice(&b[28..44]);
        let mut msg = Msg {
            op: b[0],
            xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            secs: u16::from_be_bytes([b[8], b[9]]),
            flags: u16::from_be_bytes([b[10], b[11]]),
            ciaddr: ip_at(b, 12),
            yiaddr: ip_at(b, 16),
            siaddr: ip_at(b, 20),
            giaddr: ip_at(b, 24),
            chaddr,
            opts: Vec::new(),
        };
        read_options(&b[HEADER + 4..], &mut msg.opts, true)?;
        // Option overload (RFC 2131 4.1, option 52): more options in the
        // file field (1), the sname field (2) or both (3), read in that
        // order after the options field.
        match msg.opt(OPT_OVERLOAD) {
            None => {}
            Some([v @ 1..=3]) => {
                let v = *v;
                if v & 1 != 0 {
                    read_options(&b[108..HEADER], &mut msg.opts, false)?;
                }
                if v & 2 != 0 {
                    read_options(&b[44..108], &mut msg.opts, false)?;
                }
            }
            Some(_) => return Err("option overload (52) value is not 1, 2 or 3"),
        }
        Ok(msg)
    }
}

/// Options from `b` into `opts` (a code given again extends the first,
/// RFC 3396). `terminated`: the list must end with option 255 (the options
/// field); else the end of `b` ends it too (the overloaded file/sname).
fn read_options(
    b: &[u8],
    opts: &mut Vec<(u8, Vec<u8>)>,
    terminated: bool,
) -> Result<(), &'static str> {
    let mut i = 0;
    loop {
        match b.get(i) {
            None if terminated => return Err("options not terminated (truncated)"),
            None | Some(255) => return Ok(()),
            Some(0) => i += 1,
            Some(&code) => {
                let len = usize::from(*b.get(i + 1).ok_or("option length past the end")?);
                let data = b
                    .get(i + 2..i + 2 + len)
                    .ok_or("option length past the end")?;
                match opts.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, d)) => d.extend_from_slice(data),
                    None => opts.push((code, data.to_vec())),
                }
                i += 2 + len;
            }
        }
    }
}

/// Option 121 (RFC 3442): (destination, prefix, gateway) triples; None if
/// the encoding is broken anywhere.
pub fn classless_routes(d: &[u8]) -> Option<Vec<(Ipv4Addr, u8, Ipv4Addr)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let prefix = d[i];
        if prefix > 32 {
            return None;
        }
        let n = usize::from(prefix).div_ceil(8);
        let dst = d.get(i + 1..i + 1 + n)?;
        let gw = d.get(i + 1 + n..i + 5 + n)?;
        let mut a = [0u8; 4];
        a[..n].copy_from_slice(dst);
        out.push((Ipv4Addr::from(a), prefix, ip_at(gw, 0)));
        i += 5 + n;
    }
    Some(out)
}

/// Option 119 (RFC 3397): DNS names in wire format, compression pointers
/// relative to the option's data. None if any name is broken (a pointer
/// outside the data, a loop, a bad label length).
pub fn domain_search(d: &[u8]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let (name, next) = read_name(d, i)?;
        out.push(name);
        i = next;
    }
    Some(out)
}

fn read_name(d: &[u8], mut i: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *d.get(i)?;
        match len {
            0 => return Some((labels.join("."), end.unwrap_or(i + 1))),
            l if l & 0xc0 == 0xc0 => {
                let ptr = usize::from(l & 0x3f) << 8 | usize::from(*d.get(i + 1)?);
                end.get_or_insert(i + 2);
                i = ptr;
            }
            l if l < 64 => {
                let label = d.get(i + 1..i + 1 + usize::from(l))?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                i += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3397_example_and_loops() {
        // "eng.apple.com." then "marketing.apple.com." pointing at "apple.com."
        let mut d = vec![3];
        d.extend_from_slice(b"eng");
        d.push(5);
        d.extend_from_slice(b"apple");
        d.push(3);
        d.extend_from_slice(b"com");
        d.push(0);
        d.push(9);
        d.extend_from_slice(b"marketing");
        d.extend_from_slice(&[0xc0, 4]);
        assert_eq!(
            domain_search(&d),
            Some(vec!["eng.apple.com".into(), "marketing.apple.com".into()])
        );
        assert_eq!(domain_search(&[0xc0, 0]), None, "a pointer to itself");
        assert_eq!(domain_search(&[3, b'a', b'b']), None, "truncated label");
        assert_eq!(domain_search(&[0xc0, 40]), None, "pointer past the end");
    }

    #[test]
    fn round_trip_and_long_options() {
        let mut m = Msg::request(0xdead_beef, [2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 5));
        m.push(OPT_MSG_TYPE, [REQUEST]);
        m.push(OPT_RAPID_COMMIT, []);
        m.push(OPT_HOSTNAME, vec![b'a'; 300]);
        let b = m.encode();
        // 236 fixed + cookie 4 + type 3 + rapid commit 2 + the host name
        // split in two (RFC 3396: 2 + 255, 2 + 45) + end 1.
        assert_eq!(b.len(), 550);
        // A short message is padded to 300 bytes (RFC 1542), zeros after END.
        let mut short = Msg::request(1, [2; 6], Ipv4Addr::UNSPECIFIED);
        short.push(OPT_MSG_TYPE, [DISCOVER]);
        let sb = short.encode();
        assert_eq!(sb.len(), 300);
        let end = sb.iter().rposition(|&x| x == 255).expect("END");
        assert_eq!(end, 240 + 3);
        assert!(sb[end + 1..].iter().all(|&x| x == 0));
        let back = Msg::decode(&b).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(back.msg_type(), Some(REQUEST));
        assert_eq!(back.opt(OPT_RAPID_COMMIT), Some(&[][..]));
    }

    #[test]
    fn bad_lengths() {
        let mut m = Msg::request(1, [2; 6], Ipv4Addr::UNSPECIFIED);
        m.push(OPT_SUBNET_MASK, [255, 255, 0]);
        m.push(OPT_ROUTER, [1, 2, 3, 4, 5]);
        let d = Msg::decode(&m.encode()).expect("decodes");
        assert_eq!(d.ip(OPT_SUBNET_MASK), None);
        assert_eq!(d.ips(OPT_ROUTER), None);
        let mut b = m.encode();
        let end = b.iter().rposition(|&x| x == 255).expect("end");
        b.truncate(end);
        assert!(Msg::decode(&b).is_err());
        b.extend_from_slice(&[12, 200, b'x']);
        assert_eq!(Msg::decode(&b), Err("option length past the end"));
    }

    #[test]
    fn rfc3442_examples() {
        let r = classless_routes(&[0, 10, 0, 0, 1, 24, 192, 168, 7, 10, 0, 0, 2]).expect("valid");
        assert_eq!(
            r,
            vec![
                (Ipv4Addr::UNSPECIFIED, 0, Ipv4Addr::new(10, 0, 0, 1)),
                (
                    Ipv4Addr::new(192, 168, 7, 0),
                    24,
                    Ipv4Addr::new(10, 0, 0, 2)
                ),
            ]
        );
        assert_eq!(classless_routes(&[33, 1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        assert_eq!(classless_routes(&[24, 192, 168]), None);
    }

    /// Option overload (52): options in the file and sname fields, read
    /// after the options field, file first; checked against dhcproto
    /// decoding the same three areas.
    #[test]
    fn option_overload_matches_dhcproto() {
        use dhcproto::v4::{DhcpOptions, Message};
        use dhcproto::{Decodable, Decoder};
        let mut b = Msg::request(7, [2, 0, 0, 0, 0, 1], Ipv4Addr::UNSPECIFIED).encode();
        b[0] = 2;
        // Options field: message type, overload = both; the rest moved.
        let opts = [53u8, 1, 5, 52, 1, 3, 255];
        b.truncate(HEADER + 4);
        b.extend_from_slice(&opts);
        let file = [
            1u8, 4, 255, 255, 255, 0, 3, 4, 10, 0, 0, 1, 51, 4, 0, 0, 0, 120, 255,
        ];
        let sname = [
            6u8, 4, 10, 0, 0, 53, 42, 4, 10, 0, 0, 123, 54, 4, 10, 0, 0, 1, 255,
        ];
        b[108..108 + file.len()].copy_from_slice(&file);
        b[44..44 + sname.len()].copy_from_slice(&sname);
        let ours = Msg::decode(&b).expect("decodes");
        let theirs = Message::decode(&mut Decoder::new(&b)).expect("dhcproto decodes");
        let mut expect = Vec::new();
        for area in [
            theirs.opts().clone(),
            DhcpOptions::decode(&mut Decoder::new(&file)).expect("file"),
            DhcpOptions::decode(&mut Decoder::new(&sname)).expect("sname"),
        ] {
            let mut v: Vec<(u8, Vec<u8>)> = area
                .iter()
                .map(|(code, o)| {
                    let mut e = Vec::new();
                    dhcproto::Encodable::encode(o, &mut dhcproto::Encoder::new(&mut e))
                        .expect("enc");
                    (u8::from(*code), e[2..].to_vec())
                })
                .collect();
            v.sort();
            expect.extend(v);
        }
        let mut got = ours.opts.clone();
        // Same set per area; compare as sorted lists of (code, data).
        got.sort();
        expect.sort();
        assert_eq!(got, expect);
        assert_eq!(ours.ip(OPT_ROUTER), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(ours.ip(OPT_NTP), Some(Ipv4Addr::new(10, 0, 0, 123)));
        let (l, _) = crate::core::lease::from_reply(
            &Msg {
                yiaddr: Ipv4Addr::new(10, 0, 0, 5),
                ..ours
            },
            Ipv4Addr::new(10, 0, 0, 1),
        )
        .expect("a lease from the overloaded reply");
        assert_eq!(l.ntp, vec![Ipv4Addr::new(10, 0, 0, 123)]);
        assert_eq!(l.prefix, 24);
        // A bad overload value is an error, not a guess.
        let mut bad = b.clone();
        bad[HEADER + 4 + 5] = 9;
        assert!(Msg::decode(&bad).is_err());
    }
}
