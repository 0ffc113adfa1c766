//! ICMP echo, sans-IO: the request `ping` sends on a raw socket and the
//! classification of what comes back (an IPv4 packet with its header).

use std::net::Ipv4Addr;

/// Internet checksum (RFC 1071).
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request with 56 bytes of payload.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend((0..56u8).map(|i| i.wrapping_add(0x10)));
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// What a received packet means for the ping with identifier `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Echo {
        seq: u16,
        ttl: u8,
        from: Ipv4Addr,
        bytes: usize,
    },
    /// Destination unreachable / time exceeded about one of our requests.
    Error {
        seq: u16,
        from: Ipv4Addr,
        what: &'static str,
    },
}

/// Classify a packet read from a raw ICMP socket; `None`: not ours.
pub fn parse(pkt: &[u8], id: u16) -> Option<Reply> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if ihl < 20 || pkt.first()? >> 4 != 4 {
        return None;
    }
    let ttl = *pkt.get(8)?;
    let from = Ipv4Addr::new(*pkt.get(12)?, *pkt.get(13)?, *pkt.get(14)?, *pkt.get(15)?);
    let icmp = pkt.get(ihl..)?;
    let (ty, code) = (*icmp.first()?, *icmp.get(1)?);
    let id_seq = |b: &[u8]| -> Option<(u16, u16)> {
        Some((
            u16::from_be_bytes([*b.get(4)?, *b.get(5)?]),
            u16::from_be_bytes([*b.get(6)?, *b.get(7)?]),
        ))
    };
    match ty {
        0 => {
            let (rid, seq) = id_seq(icmp)?;
            (rid == id).then_some(Reply::Echo {
                seq,
                ttl,
                from,
                bytes: icmp.len(),
            })
        }
        3 | 11 => {
            // The original IP header and 8 bytes of our request follow.
            let orig = icmp.get(8..)?;
            let oihl = usize::from(*orig.first()? & 0x0f) * 4;
            let req = orig.get(oihl..)?;
            let (rid, seq) = id_seq(req)?;
            if *req.first()? != 8 || rid != id {
                return None;
            }
            let what = match (ty, code) {
                (11, _) => "time to live exceeded",
                (_, 0) => "network unreachable",
                (_, 1) => "host unreachable",
                (_, 3) => "port unreachable",
                (_, 13) => "administratively prohibited",
                _ => "destination unreachable",
            };
            Some(Reply::Error { seq, from, what })
        }
        _ => None,
    }
}

/// What a reply says about request `seq` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The line to print.
    pub line: String,
    /// The round trip, when it is the echo reply.
    pub rtt_us: Option<u64>,
}

/// `reply`, received `us` after request `seq` went out: its answer or an
/// error about it; `None` when it is about another request.
pub fn answer(to: Ipv4Addr, seq: u16, reply: &Reply, us: u64) -> Option<Answer> {
    match *reply {
        Reply::Echo {
            seq: s,
            ttl,
            from,
            bytes,
        } if s == seq => Some(Answer {
            line: format!(
                "{bytes} bytes from {from}: seq {seq} ttl {ttl} time {} ms\n",
                ms(us)
            ),
            rtt_us: Some(us),
        }),
        Reply::Error { seq: s, from, what } if s == seq => Some(Answer {
            line: format!("{to}: seq {seq}: {what} (from {from})\n"),
            rtt_us: None,
        }),
        _ => None,
    }
}

/// The summary line after the tries.
pub fn summary(to: Ipv4Addr, sent: u32, got: u32, rtts_us: &[u64]) -> String {
    let loss = sent
        .saturating_sub(got)
        .saturating_mul(100)
        .checked_div(sent)
        .unwrap_or(0);
    let mut s = format!("{to}: {sent} sent, {got} received, {loss}% loss");
    if let (Some(min), Some(max)) = (rtts_us.iter().min(), rtts_us.iter().max()) {
        let avg = rtts_us.iter().sum::<u64>() / rtts_us.len() as u64;
        s += &format!(
            ", rtt min/avg/max {} / {} / {} ms",
            ms(*min),
            ms(avg),
            ms(*max)
        );
    }
    s
}

/// Microseconds as `1.234`.
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_header(src: [u8; 4], ttl: u8, len: usize) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 1, 0, 0];
        h[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
        h.extend(src);
        h.extend([10, 0, 2, 15]);
        h
    }

    #[test]
    fn request_has_a_valid_checksum() {
        let r = echo_request(0x1234, 3);
        assert_eq!(r.len(), 64);
        assert_eq!(checksum(&r), 0);
        assert_eq!(&r[4..8], &[0x12, 0x34, 0, 3]);
    }

    #[test]
    fn replies_and_errors() {
        let mut reply = echo_request(0x1234, 3);
        reply[0] = 0;
        let pkt = [ip_header([10, 0, 2, 2], 255, reply.len()), reply].concat();
        assert_eq!(
            parse(&pkt, 0x1234),
            Some(Reply::Echo {
                seq: 3,
                ttl: 255,
                from: Ipv4Addr::new(10, 0, 2, 2),
                bytes: 64
            })
        );
        assert_eq!(parse(&pkt, 0x9999), None, "someone else's ping");
        let req = echo_request(0x1234, 4);
        let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
        err.extend(ip_header([10, 0, 2, 15], 64, req.len()));
        err.extend(&req[..8]);
        let pkt = [ip_header([10, 0, 2, 2], 64, err.len()), err].concat();
        assert_eq!(
            parse(&pkt, 0x1234),
            Some(Reply::Error {
                seq: 4,
                from: Ipv4Addr::new(10, 0, 2, 2),
                what: "host unreachable"
            })
        );
        for cut in 0..pkt.len() {
            let _ = parse(&pkt[..cut], 0x1234);
        }
        assert_eq!(parse(&[0x60; 40], 1), None);
    }

    #[test]
    fn answers_of_this_request_only() {
        let to = Ipv4Addr::new(10, 0, 2, 2);
        let echo = Reply::Echo {
            seq: 2,
            ttl: 64,
            from: to,
            bytes: 64,
        };
        assert_eq!(
            answer(to, 2, &echo, 1500),
            Some(Answer {
                line: "64 bytes from 10.0.2.2: seq 2 ttl 64 time 1.500 ms\n".into(),
                rtt_us: Some(1500)
            })
        );
        assert_eq!(answer(to, 3, &echo, 1500), None, "a late answer");
        let err = Reply::Error {
            seq: 3,
            from: Ipv4Addr::new(10, 0, 2, 1),
            what: "host unreachable",
        };
        assert_eq!(
            answer(to, 3, &err, 9),
            Some(Answer {
                line: "10.0.2.2: seq 3: host unreachable (from 10.0.2.1)\n".into(),
                rtt_us: None
            })
        );
    }

    #[test]
    fn summary_line() {
        assert_eq!(
            summary(Ipv4Addr::new(10, 0, 2, 2), 4, 3, &[1000, 2500, 1500]),
            "10.0.2.2: 4 sent, 3 received, 25% loss, rtt min/avg/max 1.000 / 1.666 / 2.500 ms"
        );
        assert_eq!(
            summary(Ipv4Addr::new(192, 0, 2, 1), 4, 0, &[]),
            "192.0.2.1: 4 sent, 0 received, 100% loss"
        );
    }
}
