//! How a sink's records become bytes: each queued frame (a record's
//! compact form) formatted for the console, a datagram or an RFC 6587
//! octet-counted stream, and the notice of dropped records.

use crate::clock::boot_ms_of;
use crate::core::format::{self, Format, Origin};
use crate::core::queue::Frame;
use crate::core::record::{Record, Source, View, FACILITY_SYSLOG};

/// How a sink's records become bytes.
#[derive(Debug, Clone)]
pub enum Encoding {
    /// The console's line ([`format::console`]) and a newline.
    Console,
    /// One message per datagram.
    Datagram(Format, Origin),
    /// RFC 6587 octet counting, for a stream.
    OctetCounted(Format, Origin),
}

impl Encoding {
    /// The queued form of `r`.
    pub fn encode(&self, r: &Record) -> Frame {
        Frame {
            bytes: r.to_compact().into_boxed_slice(),
            drops: r.drops,
        }
    }

    /// The bytes to write for a queued frame.
    pub fn wire(&self, f: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        self.wire_into(&f.bytes, &mut Scratch::default(), &mut out);
        out
    }

    /// The bytes to write for a queued frame's compact form, appended to
    /// `out`; `scratch` is reused between calls (no allocation per record
    /// once it has grown).
    pub fn wire_into(&self, compact: &[u8], scratch: &mut Scratch, out: &mut Vec<u8>) {
        let r = View::from_compact(compact);
        match self {
            Encoding::Console => {
                let r = r.into_record();
                out.extend_from_slice(format::console(&r, boot_ms_of(r.time_us)).as_bytes());
                out.push(b'\n');
            }
            Encoding::Datagram(f, o) => {
                scratch.text.clear();
                format::remote_into(*f, &r, o, &mut scratch.stamp, &mut scratch.text);
                out.extend_from_slice(scratch.text.as_bytes());
            }
            Encoding::OctetCounted(f, o) => {
                scratch.text.clear();
                format::remote_into(*f, &r, o, &mut scratch.stamp, &mut scratch.text);
                format::octet_frame(scratch.text.as_bytes(), out);
            }
        }
    }
}

/// What [`Encoding::wire_into`] keeps between records: one record's text
/// and the last second's timestamp.
#[derive(Debug, Default)]
pub struct Scratch {
    pub text: String,
    pub stamp: format::Stamp,
}

/// The notice a sink sends where it dropped `n` records.
pub fn drop_notice(n: u64, now_us: u64) -> Record {
    let mut notice = Record::new(
        Source::Internal,
        FACILITY_SYSLOG,
        4,
        "logfwd",
        format!("{n} messages lost: buffer full (logfwd.buffer; is the console or the remote slow or down?)"),
    );
    notice.time_us = now_us;
    notice.drops = n;
    notice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let o = Origin {
            hostname: "box".into(),
        };
        let mut r = Record::new(Source::App, 1, 6, "t", "hi".into());
        r.time_us = 1_795_521_601_500_000;
        let line = "<14>1 2026-11-24T12:00:01.500000Z box t - - - hi";
        let e = Encoding::Datagram(Format::Rfc5424, o.clone());
        let f = e.encode(&r);
        assert_eq!(e.wire(&f), line.as_bytes());
        assert!(f.bytes.len() < line.len() / 2, "queued smaller than sent");
        let e = Encoding::OctetCounted(Format::Rfc5424, o);
        let f = e.encode(&r);
        assert_eq!(e.wire(&f), format!("{} {line}", line.len()).as_bytes());
        assert_eq!(f.drops, 0);
        let f = Encoding::Console.encode(&drop_notice(7, 0));
        assert_eq!(f.drops, 7, "a notice stays a count when put back");
        let text = String::from_utf8_lossy(&Encoding::Console.wire(&f)).into_owned();
        assert!(
            text.contains("] logfwd: warning: 7 messages lost"),
            "{text}"
        );
    }
}
