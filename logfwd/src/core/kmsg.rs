//! The kernel's `/dev/kmsg` record format (Documentation/ABI/testing/dev-kmsg):
//! one `read` returns one record, `prio,seq,usec,flags[,...];message\n`,
//! followed by zero or more ` KEY=value\n` continuation lines (device
//! dictionary). Non-printable bytes and the backslash itself arrive as
//! `\xNN`; [`unescape`] turns them back into the bytes the driver printed
//! (`ACPI: \x5c_SB_.LNKB` is `ACPI: \_SB_.LNKB`), so the sink escapes a
//! control byte once, its own way, and UTF-8 text arrives as text.

use std::borrow::Cow;

use crate::core::record::{Record, Source};

/// Why a record was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsgError {
    #[error("kernel record has no ';' between header and message")]
    NoSeparator,
    #[error("kernel record header {0:?} is not prio,seq,usec,flags")]
    BadHeader(String),
}

/// Parses records and tracks sequence numbers to count records the kernel
/// overwrote before we read them.
#[derive(Debug, Default)]
pub struct KmsgParser {
    next_seq: Option<u64>,
    /// Records up to this sequence number were forwarded before a restart.
    resume_after: Option<u64>,
    /// Records missed (sequence gaps), total.
    pub lost: u64,
}

/// One parsed kernel record.
#[derive(Debug, PartialEq, Eq)]
pub struct KmsgRecord {
    pub record: Record,
    pub seq: u64,
    /// Records skipped just before this one (a sequence gap).
    pub gap: u64,
    /// Forwarded already by an earlier logfwd (see [`KmsgParser::resuming`]):
    /// not to be forwarded again.
    pub seen: bool,
    /// ` KEY=value` continuation lines (e.g. `SUBSYSTEM=pci`).
    pub dict: Vec<(String, String)>,
}

impl KmsgParser {
    /// A parser for a logfwd that forwarded every record up to `seq`
    /// before it was restarted: those records come back marked
    /// [`KmsgRecord::seen`], and a gap after `seq` counts as lost.
    pub fn resuming(seq: u64) -> Self {
        KmsgParser {
            next_seq: seq.checked_add(1),
            resume_after: Some(seq),
            lost: 0,
        }
    }

    /// Parse one record as returned by one `read(2)` of /dev/kmsg.
    /// `boot_wall_us` is the wall-clock time of boot (µs since the epoch),
    /// used to turn the kernel's since-boot timestamp into wall time.
    pub fn parse(&mut self, raw: &[u8], boot_wall_us: u64) -> Result<KmsgRecord, KmsgError> {
        let text = String::from_utf8_lossy(raw);
        let (header, rest) = text.split_once(';').ok_or(KmsgError::NoSeparator)?;
        let bad = || KmsgError::BadHeader(header.chars().take(64).collect());
        let mut fields = header.split(',');
        let mut num = || -> Result<u64, KmsgError> {
            fields
                .next()
                .and_then(|f| f.trim().parse::<u64>().ok())
                .ok_or_else(bad)
        };
        let prio = num()?;
        let seq = num()?;
        let usec = num()?;
        let mut lines = rest.split('\n');
        let msg = unescape_str(lines.next().unwrap_or(""));
        let dict = lines
            .filter_map(|l| l.strip_prefix(' '))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape_str(v)))
            .collect();
        let seen = self.resume_after.is_some_and(|last| seq <= last);
        let gap = match self.next_seq {
            Some(expected) if seq > expected && !seen => seq - expected,
            _ => 0,
        };
        self.lost += gap;
        if !seen {
            self.resume_after = None;
            self.next_seq = seq.checked_add(1);
        }
        // Facilities above 23 cannot be expressed in syslog: clamp to user.
        // (Compared before narrowing: `as u8` wrapped 256 << 3 to kern.)
        let facility = match prio >> 3 {
            f @ 0..=23 => f as u8,
            _ => crate::core::record::FACILITY_USER,
        };
        let mut record = Record::new(Source::Kernel, facility, (prio & 7) as u8, "kernel", msg);
        record.time_us = boot_wall_us.saturating_add(usec);
        Ok(KmsgRecord {
            record,
            seq,
            gap,
            seen,
            dict,
        })
    }
}

/// `\xNN` (two hex digits) back to the byte; anything else, a lone or
/// malformed `\x` included, stays as it is. Run on the message and on each
/// dictionary value after the record is split into lines, so an escaped
/// newline (`\x0a`) stays inside its message.
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let esc = match raw.get(i..i + 4) {
            Some([b'\\', b'x', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match esc {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn unescape_str(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s.as_bytes())).into_owned()
}

/// The records in one read: /dev/kmsg returns one per read, a file
/// (`logfwd --kmsg PATH`) holds many. A record ends at a newline that is
/// not followed by a continuation line (` KEY=value`).
pub fn split_records(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = (0..rest.len())
            .find(|&i| rest[i] == b'\n' && rest.get(i + 1).is_some_and(|&b| b != b' '))
            .map_or(rest.len(), |i| i + 1);
        let (record, tail) = rest.split_at(end);
        rest = tail;
        Some(record)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_record_with_dictionary() {
        let mut p = KmsgParser::default();
        let r = p
            .parse(
                b"6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n DEVICE=+net:lo\n",
                1_000_000,
            )
            .expect("valid");
        assert_eq!(r.seq, 339);
        assert_eq!(r.record.facility, 0);
        assert_eq!(r.record.severity, 6);
        assert_eq!(r.record.msg, "NET: Registered protocol family 10");
        assert_eq!(r.record.time_us, 6_140_900);
        assert_eq!(&*r.record.app, "kernel");
        assert_eq!(r.dict[0], ("SUBSYSTEM".into(), "net".into()));
        assert_eq!(r.gap, 0);
    }

    #[test]
    fn user_facility_and_extra_header_fields() {
        let mut p = KmsgParser::default();
        // printk from userspace via /dev/kmsg: facility user (1), severity notice.
        let r = p.parse(b"13,5,100,-,caller=T1;hello", 0).expect("valid");
        assert_eq!((r.record.facility, r.record.severity), (1, 5));
        assert_eq!(r.record.msg, "hello");
    }

    #[test]
    fn counts_sequence_gaps() {
        let mut p = KmsgParser::default();
        p.parse(b"6,10,0,-;a\n", 0).expect("valid");
        let r = p.parse(b"6,11,0,-;b\n", 0).expect("valid");
        assert_eq!(r.gap, 0);
        let r = p.parse(b"6,15,0,-;c\n", 0).expect("valid");
        assert_eq!(r.gap, 3);
        assert_eq!(p.lost, 3);
    }

    #[test]
    fn resuming_skips_what_was_forwarded_and_counts_a_gap() {
        let mut p = KmsgParser::resuming(11);
        let seen: Vec<(u64, bool, u64)> = [10, 11, 12, 13]
            .iter()
            .map(|s| {
                let r = p
                    .parse(format!("6,{s},0,-;m\n").as_bytes(), 0)
                    .expect("valid");
                (r.seq, r.seen, r.gap)
            })
            .collect();
        assert_eq!(
            seen,
            [(10, true, 0), (11, true, 0), (12, false, 0), (13, false, 0)]
        );
        assert_eq!(p.lost, 0);
        // The kernel overwrote 12..=14 while no logfwd ran.
        let mut p = KmsgParser::resuming(11);
        let r = p.parse(b"6,15,0,-;m\n", 0).expect("valid");
        assert_eq!((r.seen, r.gap, p.lost), (false, 3, 3));
        // Once past the remembered number, lower numbers are not "seen".
        let r = p.parse(b"6,16,0,-;m\n", 0).expect("valid");
        assert_eq!((r.seen, r.gap), (false, 0));
    }

    #[test]
    fn splits_reads_holding_several_records() {
        let buf = b"6,1,0,-;one\n SUBSYSTEM=x\n6,2,0,-;two\n6,3,0,-;three";
        let parts: Vec<&[u8]> = split_records(buf).collect();
        assert_eq!(
            parts,
            [
                &b"6,1,0,-;one\n SUBSYSTEM=x\n"[..],
                &b"6,2,0,-;two\n"[..],
                &b"6,3,0,-;three"[..]
            ]
        );
        assert_eq!(split_records(b"").count(), 0);
    }

    /// Issue 15 defect 4: priority 2048 (facility 256) wrapped to kern.
    #[test]
    fn escaped_bytes_come_back_as_the_driver_printed_them() {
        assert_eq!(&*unescape(br"ACPI: \x5c_SB_.LNKB"), br"ACPI: \_SB_.LNKB");
        assert_eq!(
            &*unescape(b"caf\\xc3\\xa9 \\x1b[0m"),
            "café \x1b[0m".as_bytes()
        );
        for kept in [&b"\\x"[..], b"\\x5", b"\\xzz", b"end\\", b"\\\\x41"] {
            let want: &[u8] = if kept == b"\\\\x41" { b"\\A" } else { kept };
            assert_eq!(&*unescape(kept), want, "{kept:?}");
        }
        let mut p = KmsgParser::default();
        let r = p
            .parse(b"6,1,5,-;pci \\x5cx\\x0aok\n SUBSYSTEM=a\\x5cb\n", 0)
            .expect("a well-formed record");
        assert_eq!(r.record.msg, "pci \\x\nok");
        assert_eq!(r.dict, vec![("SUBSYSTEM".into(), r"a\b".into())]);
    }

    #[test]
    fn huge_facilities_clamp_to_user() {
        let mut p = KmsgParser::default();
        for prio in [2048u64 + 3, (255 << 3) + 3, u64::MAX] {
            let r = p
                .parse(format!("{prio},1,0,-;x").as_bytes(), 0)
                .expect("parses");
            assert_eq!(
                r.record.facility,
                crate::core::record::FACILITY_USER,
                "{prio}"
            );
        }
        let r = p.parse(b"187,2,0,-;x", 0).expect("parses"); // local7.err
        assert_eq!((r.record.facility, r.record.severity), (23, 3));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let mut p = KmsgParser::default();
        assert_eq!(p.parse(b"no separator", 0), Err(KmsgError::NoSeparator));
        assert!(matches!(
            p.parse(b"x,y;msg", 0),
            Err(KmsgError::BadHeader(_))
        ));
        assert!(p.parse(b"\xff\xfe;\xff", 0).is_err());
    }
}
