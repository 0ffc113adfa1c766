//! Fuzz harnesses: what a hostile local sender or a damaged file can hand
//! logfwd. The cargo-fuzz targets (logfwd/fuzz) call these; a stable test
//! runs them over the kept corpora (`nodistro_common::fuzzing::inputs`).

use crate::core::format::{self, Format, Origin};
use crate::core::kmsg::{split_records, KmsgParser};
use crate::core::lines::{split_long, LineSplitter};
use crate::core::record::{Record, TIME_LIMIT_US};
use crate::core::syslog::parse_datagram;

/// No control character but tab.
fn clean(line: &str) -> bool {
    !line.chars().any(|c| c.is_control() && c != '\t')
}

/// Every way a record leaves: compact queue form, console line, RFC 5424
/// and RFC 3164. None may panic, the queue form reads back the same, and
/// no line carries a control character (terminal escapes, newlines).
fn forward(r: &Record) {
    assert_eq!(
        &Record::from_compact(&r.to_compact()),
        r,
        "compact round trip"
    );
    let line = format::console(r, 12_345);
    assert!(clean(&line), "console line {line:?}");
    let origin = Origin {
        hostname: "box".into(),
    };
    let compact = r.to_compact();
    for f in [Format::Rfc5424, Format::Rfc3164] {
        let wire = format::remote(f, r, &origin);
        // What the TCP sink writes straight from the queued form.
        let mut framed = Vec::new();
        crate::sink::Encoding::OctetCounted(f, origin.clone()).wire_into(
            &compact,
            &mut crate::sink::Scratch::default(),
            &mut framed,
        );
        let mut want = Vec::new();
        format::octet_frame(wire.as_bytes(), &mut want);
        assert_eq!(framed, want, "{f:?} from the compact form");
        assert!(clean(&wire), "{f:?} line {wire:?}");
        if f == Format::Rfc5424 {
            // Four-digit years or none: receivers reject anything else.
            let stamp = wire.split(' ').nth(1).unwrap_or_default();
            assert!(
                stamp == "-" || stamp.as_bytes().get(4) == Some(&b'-'),
                "{wire}"
            );
        }
    }
}

/// A datagram on /dev/log, parsed and formatted every way.
#[doc(hidden)]
pub fn syslog(data: &[u8]) {
    let now = 1_795_521_601_500_000;
    let r = parse_datagram(data, now);
    assert!(r.time_us < TIME_LIMIT_US, "time {}", r.time_us);
    forward(&r);
}

/// Reads of /dev/kmsg (or a `--kmsg` file holding many records).
#[doc(hidden)]
pub fn kmsg(data: &[u8]) {
    let mut p = KmsgParser::default();
    let _ = p.parse(data, 0);
    for rec in split_records(data) {
        if let Ok(k) = p.parse(rec, u64::MAX / 2) {
            assert!(k.record.facility <= 23 && k.record.severity <= 7);
            forward(&k.record);
        }
    }
}

/// The app's stdout as a byte stream, in two reads cut where the first
/// byte says: bounded lines, valid UTF-8, no newline inside one.
#[doc(hidden)]
pub fn lines(data: &[u8]) {
    let max = 16 + usize::from(data.first().copied().unwrap_or(0) % 64);
    let cut = usize::from(data.get(1).copied().unwrap_or(0)).min(data.len());
    let mut s = LineSplitter::new(max);
    let mut out = Vec::new();
    s.feed(&data[..cut], &mut out);
    s.feed(&data[cut..], &mut out);
    out.extend(s.finish());
    for l in out {
        // Replacement characters may add bytes: 3 per invalid byte.
        assert!(l.text.len() <= 3 * max, "{} > 3 * {max}", l.text.len());
        assert!(!l.text.contains('\n'));
        for piece in split_long(l.into_message(), max) {
            assert!(piece.len() <= max.max(4 + crate::core::lines::CONT_MARK.len()) * 3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodistro_common::fuzzing::inputs;

    const DIR: &str = env!("CARGO_MANIFEST_DIR");

    #[test]
    fn syslog_corpus() {
        let seeds: &[&[u8]] = &[
            b"<13>Nov 24 12:00:01 h \x1b[2J: hi",
            b"<43>Nov 25 12226 12:04:02 h app: hi",
            b"<165>1 2026-11-24T12:00:01.5Z host2 app3 99 ID47 [ex@1 a=\"b\"] msg",
        ];
        for i in inputs(DIR, "syslog", seeds) {
            syslog(&i);
        }
    }

    #[test]
    fn kmsg_corpus() {
        let seeds: &[&[u8]] = &[b"6,1,100,-;hello\n SUBSYSTEM=x\n2048,2,5,c;y\n"];
        for i in inputs(DIR, "kmsg", seeds) {
            kmsg(&i);
        }
    }

    #[test]
    fn lines_corpus() {
        let seeds: &[&[u8]] = &[b"\x05\x03one\ntwo\r\n\xe2\x82\xacthree"];
        for i in inputs(DIR, "lines", seeds) {
            lines(&i);
        }
    }

    /// Datagrams as real senders write them, mutated 30,000 ways (a
    /// stand-in for the fuzzer that runs on stable).
    #[test]
    fn mutated_datagrams_never_panic() {
        const SEEDS: &[&[u8]] = &[
            b"<30>Nov 24 12:00:01 myd[123]: started ok",
            b"<13>Nov  4 12:00:01 box1 tagx[7]: hi there\n",
            b"<13>Nov 24 12:00:01 user: plain",
            b"<165>1 2026-11-24T12:00:01.5+02:00 host2 app3 99 ID47 [ex@1 a=\"b\" c=\"d\\\"e\"][x@2] \xef\xbb\xbfmsg",
            b"<14>1 - - - - - - text",
            b"6,123,456789,-;kernel line\n SUBSYSTEM=pci\n",
        ];
        // Half the replaced and inserted bytes are ones the formats give
        // meaning to.
        let special = b" []\"\\=:-<>T.Z+0";
        nodistro_common::fuzzing::mutations(SEEDS, 30_000, special, |_, m| {
            syslog(m);
            kmsg(m);
        });
        syslog(&[]);
        kmsg(&[]);
    }
}
