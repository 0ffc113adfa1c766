//! Output formats: the console's short human line, RFC 5424, RFC 3164, and
//! RFC 6587 octet-counting framing for TCP.

use crate::core::record::{Record, View, SEVERITY_NAMES};
use nodistro_common::civil::civil_from_days;
use std::fmt::Write;

/// Wire format for the remote server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc5424,
    Rfc3164,
}

/// Identity of this machine, used when a record does not carry its own.
#[derive(Debug, Clone)]
pub struct Origin {
    pub hostname: String,
}

/// Broken-down UTC time: (year, month, day, hour, minute, second, µs).
fn utc(time_us: u64) -> (i64, u32, u32, u64, u64, u64, u64) {
    let secs = time_us / 1_000_000;
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    (y, mo, d, s / 3600, s / 60 % 60, s % 60, time_us % 1_000_000)
}

/// `1 YYYY-MM-DDTHH:MM:SS.uuuuuuZ ` for a time before year 10000: the
/// version and timestamp of an RFC 5424 header. Records of the same second
/// differ only in µs, so the date and time of day are worked out once per
/// second.
#[derive(Debug, Clone)]
pub struct Stamp {
    secs: u64,
    text: [u8; 30],
}

impl Default for Stamp {
    fn default() -> Self {
        Stamp {
            secs: u64::MAX,
            text: [0; 30],
        }
    }
}

impl Stamp {
    fn at(&mut self, time_us: u64) -> [u8; 30] {
        fn put(t: &mut [u8; 30], end: usize, mut n: u64, width: usize) {
            for i in (end - width..end).rev() {
                t[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        let secs = time_us / 1_000_000;
        if self.secs != secs {
            let (y, mo, d, h, mi, s, _) = utc(time_us);
            let t = &mut self.text;
            *t = *b"1 0000-00-00T00:00:00.000000Z ";
            put(t, 6, y.clamp(0, 9999) as u64, 4);
            put(t, 9, u64::from(mo), 2);
            put(t, 12, u64::from(d), 2);
            put(t, 15, h, 2);
            put(t, 18, mi, 2);
            put(t, 21, s, 2);
            self.secs = secs;
        }
        let mut t = self.text;
        put(&mut t, 28, time_us % 1_000_000, 6);
        t
    }
}

/// An RFC 5424 header field: printable ASCII without spaces, at most `max`
/// characters, `-` when empty.
fn field(out: &mut String, value: Option<&str>, max: usize) {
    let v = value.unwrap_or("");
    // The usual case, whole: already printable ASCII and short enough.
    if !v.is_empty() && v.len() <= max && printable_ascii(v.as_bytes()) && !v.contains(' ') {
        out.push_str(v);
        return;
    }
    let start = out.len();
    for c in v.chars().take(max) {
        out.push(if c.is_ascii_graphic() { c } else { '_' });
    }
    if out.len() == start {
        out.push('-');
    }
}

/// `n` in decimal, at least `width` digits (zero-padded, at most 20).
fn push_num(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while n > 0 || i > digits.len() - width.clamp(1, 20) {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

/// Whether `s` is printable ASCII only (0x20..=0x7e), eight bytes at a
/// time: the usual message, copied whole.
pub fn printable_ascii(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        // A byte below 0x20 borrows into its high bit; a byte of 0x7f or
        // more carries into it (or has it set).
        let low = x.wrapping_sub(ONES * 0x20) & !x;
        let high = x.wrapping_add(ONES) | x;
        if (low | high) & HIGH != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&b| (0x20..0x7f).contains(&b))
}

fn pri(out: &mut String, facility: u8, severity: u8) {
    out.push('<');
    push_num(out, u64::from(facility) * 8 + u64::from(severity & 7), 1);
    out.push('>');
}

/// `<PRI>1 2026-11-24T12:00:01.123456Z HOST APP PID MSGID SD MSG` (SD: the
/// sender's structured data, `-` when none). Control characters but tab in
/// MSG are written `\xNN`, as on the console: no input puts a control
/// character (a newline, a terminal escape) into a forwarded line.
pub fn rfc5424(r: &Record, origin: &Origin) -> String {
    let mut out = String::with_capacity(r.msg.len() + 96);
    rfc5424_into(&r.view(), origin, &mut Stamp::default(), &mut out);
    out
}

/// [`rfc5424`], appended to `out`.
pub fn rfc5424_into(r: &View<'_>, origin: &Origin, stamp: &mut Stamp, out: &mut String) {
    pri(out, r.facility, r.severity);
    if r.time_us < crate::core::record::TIME_LIMIT_US {
        let t = stamp.at(r.time_us);
        out.push_str(std::str::from_utf8(&t).unwrap_or("1 - "));
    } else {
        // Past year 9999 (a kernel record's time from a damaged file):
        // RFC 5424's NILVALUE rather than a timestamp receivers reject.
        out.push_str("1 - ");
    }
    field(
        out,
        Some(r.hostname.as_deref().unwrap_or(&origin.hostname)),
        255,
    );
    out.push(' ');
    field(out, Some(&r.app), 48);
    out.push(' ');
    field(out, r.pid.as_deref(), 128);
    out.push(' ');
    field(out, r.msgid.as_deref(), 32);
    out.push(' ');
    // Structured data is passed on as sent, unless a control character in
    // it would reach the receiver's line.
    let sd =
        r.sd.as_deref()
            .filter(|sd| !sd.chars().any(char::is_control));
    out.push_str(sd.unwrap_or("-"));
    out.push(' ');
    escape_controls(out, &r.msg);
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `<PRI>Nov 24 12:00:01 HOST APP[PID]: MSG` (time in UTC).
pub fn rfc3164(r: &Record, origin: &Origin) -> String {
    let mut out = String::with_capacity(r.msg.len() + 64);
    rfc3164_into(&r.view(), origin, &mut out);
    out
}

/// [`rfc3164`], appended to `out`.
pub fn rfc3164_into(r: &View<'_>, origin: &Origin, out: &mut String) {
    let (_, mo, d, h, mi, s, _) = utc(r.time_us);
    let month = MONTHS[(mo as usize - 1) % 12];
    pri(out, r.facility, r.severity);
    let _ = write!(out, "{month} {d:2} {h:02}:{mi:02}:{s:02} ");
    field(
        out,
        Some(r.hostname.as_deref().unwrap_or(&origin.hostname)),
        255,
    );
    out.push(' ');
    // RFC 3164 tags are alphanumeric, at most 32 characters.
    let start = out.len();
    for c in r.app.chars().take(32) {
        let ok = c.is_ascii_graphic() && c != ':' && c != '[';
        out.push(if ok { c } else { '_' });
    }
    if out.len() == start {
        out.push('-');
    }
    if let Some(pid) = &r.pid {
        out.push('[');
        field(out, Some(pid), 128);
        out.push(']');
    }
    out.push_str(": ");
    escape_controls(out, &r.msg);
}

/// Format for the remote sink.
pub fn remote(format: Format, r: &Record, origin: &Origin) -> String {
    let mut out = String::with_capacity(r.msg.len() + 96);
    remote_into(format, &r.view(), origin, &mut Stamp::default(), &mut out);
    out
}

/// [`remote`], appended to `out`.
pub fn remote_into(
    format: Format,
    r: &View<'_>,
    origin: &Origin,
    stamp: &mut Stamp,
    out: &mut String,
) {
    match format {
        Format::Rfc5424 => rfc5424_into(r, origin, stamp, out),
        Format::Rfc3164 => rfc3164_into(r, origin, out),
    }
}

/// RFC 6587 octet counting: `LEN SP MSG`, appended to `out`.
pub fn octet_frame(msg: &[u8], out: &mut Vec<u8>) {
    let mut len = String::new();
    push_num(&mut len, msg.len() as u64, 1);
    out.extend_from_slice(len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg);
}

/// The console's line: `[  12.345] app[pid]: err: text` (ms since boot; the
/// severity is shown when it is warning or worse). Control characters are
/// shown as `\xNN` so nothing in a message can drive the terminal.
pub fn console(r: &Record, since_boot_ms: u64) -> String {
    let mut out = String::with_capacity(r.msg.len() + 40);
    let _ = write!(
        out,
        "[{:4}.{:03}] ",
        since_boot_ms / 1000,
        since_boot_ms % 1000,
    );
    // The tag and pid come from the sender as much as the message does.
    escape_controls(&mut out, &r.app);
    if let Some(pid) = &r.pid {
        out.push('[');
        escape_controls(&mut out, pid);
        out.push(']');
    }
    out.push_str(": ");
    if r.severity <= 4 {
        out.push_str(SEVERITY_NAMES[usize::from(r.severity & 7)]);
        out.push_str(": ");
    }
    escape_controls(&mut out, &r.msg);
    out
}

/// Append `s` with control characters but tab shown as `\xNN`.
fn escape_controls(out: &mut String, s: &str) {
    // The usual case, whole: printable ASCII; or else no C0 control, DEL,
    // nor a character starting with byte 0xC2 (U+0080..U+00BF holds the
    // C1 controls).
    if printable_ascii(s.as_bytes()) || s.bytes().all(|b| b >= 0x20 && b != 0x7f && b != 0xc2) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(out, "\\x{:02x}", u32::from(c) & 0xff);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::Source;

    fn rec() -> Record {
        let mut r = Record::new(Source::App, 1, 3, "demo app", "disk full".into());
        r.pid = Some("42".into());
        r.time_us = 1_795_521_601_500_000; // 2026-11-24T12:00:01.5Z
        r
    }

    fn origin() -> Origin {
        Origin {
            hostname: "box".into(),
        }
    }

    #[test]
    fn rfc5424_line() {
        assert_eq!(
            rfc5424(&rec(), &origin()),
            "<11>1 2026-11-24T12:00:01.500000Z box demo_app 42 - - disk full"
        );
        let mut r = rec();
        r.hostname = Some("other".into());
        r.pid = None;
        r.app = "".into();
        assert_eq!(
            rfc5424(&r, &origin()),
            "<11>1 2026-11-24T12:00:01.500000Z other - - - - disk full"
        );
        r.sd = Some("[a@1 k=\"v\"]".into());
        assert_eq!(
            rfc5424(&r, &origin()),
            "<11>1 2026-11-24T12:00:01.500000Z other - - - [a@1 k=\"v\"] disk full"
        );
    }

    #[test]
    fn rfc3164_line() {
        let mut r = rec();
        r.time_us -= 23 * 86_400_000_000;
        assert_eq!(
            rfc3164(&r, &origin()),
            "<11>Nov  1 12:00:01 box demo_app[42]: disk full"
        );
    }

    #[test]
    fn stamp_follows_the_second() {
        let mut stamp = Stamp::default();
        let mut at = |us: u64| String::from_utf8_lossy(&stamp.at(us)).into_owned();
        let t = 1_795_521_601_500_000; // 2026-11-24T12:00:01.5Z
        assert_eq!(at(t), "1 2026-11-24T12:00:01.500000Z ");
        assert_eq!(at(t + 7), "1 2026-11-24T12:00:01.500007Z ");
        assert_eq!(at(t + 500_000), "1 2026-11-24T12:00:02.000000Z ");
        assert_eq!(at(t - 86_400_000_000), "1 2026-11-23T12:00:01.500000Z ");
        assert_eq!(at(0), "1 1970-01-01T00:00:00.000000Z ");
    }

    #[test]
    fn printable_ascii_matches_bytewise() {
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut s = vec![b'a'; 17];
                s[at] = b;
                let want = (0x20..0x7f).contains(&b);
                assert_eq!(printable_ascii(&s), want, "byte {b:#x} at {at}");
                assert_eq!(
                    printable_ascii(&s[..at + 1]),
                    want,
                    "byte {b:#x} last of {}",
                    at + 1
                );
            }
        }
        assert!(printable_ascii(b""));
        assert_eq!(crate::core::record::lossy(b"ok"), "ok");
        assert_eq!(crate::core::record::lossy(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn numbers_and_fast_paths() {
        for (n, w, want) in [
            (0, 1, "0"),
            (7, 2, "07"),
            (123_456, 6, "123456"),
            (42, 1, "42"),
        ] {
            let mut s = String::new();
            push_num(&mut s, n, w);
            assert_eq!(s, want);
        }
        // C1 controls (U+0080..U+009F) and DEL take the slow path.
        let mut s = String::new();
        escape_controls(&mut s, "a\u{85}b\u{7f}c\u{a0}é");
        assert_eq!(s, "a\\x85b\\x7fc\u{a0}é");
        let mut s = String::new();
        field(&mut s, Some("ok-host"), 255);
        field(&mut s, Some("x y"), 255);
        field(&mut s, Some("abcdef"), 3);
        field(&mut s, Some(""), 3);
        assert_eq!(s, "ok-hostx_yabc-");
    }

    #[test]
    fn octet_counting() {
        let mut out = b"x".to_vec();
        octet_frame("héllo".as_bytes(), &mut out);
        assert_eq!(out, "x6 héllo".as_bytes());
    }

    /// Issue 15 defect 7: a local sender put raw escapes on the console
    /// through the tag or the pid (`<13>Nov 24 12:00:01 h \x1b[2J: hi`).
    #[test]
    fn tag_and_pid_cannot_drive_the_terminal() {
        let mut r = rec();
        r.app = "\x1b[2J".into();
        r.pid = Some("1\x1b]0;x\x07".into());
        let line = console(&r, 1);
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        assert_eq!(line, "[   0.001] \\x1b[2J[1\\x1b]0;x\\x07]: err: disk full");
        let wire = rfc3164(&r, &origin());
        assert!(!wire.chars().any(|c| c.is_control()), "{wire:?}");
        assert!(wire.ends_with(" __2J[1_]0;x_]: disk full"), "{wire}");
        let from_socket =
            crate::core::syslog::parse_datagram(b"<13>Nov 24 12:00:01 h \x1b[2J: hi", 42);
        let line = console(&from_socket, 1);
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }

    #[test]
    fn console_line_escapes_controls() {
        let mut r = rec();
        r.msg = "a\x1b[2Jb\tc".into();
        assert_eq!(
            console(&r, 12_345),
            "[  12.345] demo app[42]: err: a\\x1b[2Jb\tc"
        );
        r.severity = 6;
        r.pid = None;
        r.msg = "ok".into();
        assert_eq!(console(&r, 5), "[   0.005] demo app: ok");
    }
}
