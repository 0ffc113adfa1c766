//! What a local sender (or the kernel) can hand logfwd as one function of
//! untrusted bytes: a `/dev/log` datagram parsed and written out in every
//! format, and the same bytes as a /dev/kmsg record. None may panic. The
//! cargo-fuzz target (logfwd/fuzz) calls it, and a unit test runs it on
//! stable over many mutations of real datagrams, so CI exercises the fuzz
//! harness too.

use crate::format::{self, Origin};
use crate::kmsg::KmsgParser;
use crate::record::Record;

/// Feed `data` to the syslog parser (then every formatter and the compact
/// queue form) and to the kmsg parser.
#[doc(hidden)]
pub fn receive_everything(data: &[u8]) {
    let r = crate::syslog::parse_datagram(data, 1_700_000_000_000_000);
    let origin = Origin {
        hostname: "h".into(),
    };
    let _ = format::rfc5424(&r, &origin);
    let _ = format::rfc3164(&r, &origin);
    let _ = format::console(&r, 1);
    let back = Record::from_compact(&r.to_compact());
    assert_eq!(back.msg, r.msg);
    let _ = KmsgParser::resuming(0).parse(data, 1);
}

/// Datagrams as real senders write them: the unit test's seeds.
#[cfg(test)]
pub(crate) const SEEDS: &[&[u8]] = &[
    b"<30>Nov 24 12:00:01 myd[123]: started ok",
    b"<13>Nov  4 12:00:01 box1 tagx[7]: hi there\n",
    b"<13>Nov 24 12:00:01 user: plain",
    b"<165>1 2026-11-24T12:00:01.5+02:00 host2 app3 99 ID47 [ex@1 a=\"b\" c=\"d\\\"e\"][x@2] \xef\xbb\xbfmsg",
    b"<14>1 - - - - - - text",
    b"6,123,456789,-;kernel line\n SUBSYSTEM=pci\n",
];

#[cfg(test)]
mod tests {
    #[test]
    fn mutated_datagrams_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..30_000 {
            let mut m = super::SEEDS[i % super::SEEDS.len()].to_vec();
            for _ in 0..1 + rnd() % 8 {
                let at = (rnd() as usize) % m.len().max(1);
                match rnd() % 5 {
                    0 if !m.is_empty() => m[at] = rnd() as u8,
                    1 if !m.is_empty() => m[at] = b" []\"\\=:-<>T.Z+0"[rnd() as usize % 15],
                    2 => m.truncate(at),
                    _ => m.insert(at.min(m.len()), rnd() as u8),
                }
            }
            super::receive_everything(&m);
        }
    }
}
