//! Output formats: the console's short human line, RFC 5424, RFC 3164, and
//! RFC 6587 octet-counting framing for TCP.

use crate::record::{Record, SEVERITY_NAMES};
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

/// An RFC 5424 header field: printable ASCII without spaces, at most `max`
/// characters, `-` when empty.
fn field(out: &mut String, value: Option<&str>, max: usize) {
    let start = out.len();
    for c in value.unwrap_or("").chars().take(max) {
        out.push(if c.is_ascii_graphic() { c } else { '_' });
    }
    if out.len() == start {
        out.push('-');
    }
}

fn pri(r: &Record) -> u32 {
    u32::from(r.facility) * 8 + u32::from(r.severity & 7)
}

/// `<PRI>1 2026-11-24T12:00:01.123456Z HOST APP PID MSGID SD MSG` (SD: the
/// sender's structured data, `-` when none). Control characters but tab in
/// MSG are written `\xNN`, as on the console: no input puts a control
/// character (a newline, a terminal escape) into a forwarded line.
pub fn rfc5424(r: &Record, origin: &Origin) -> String {
    let (y, mo, d, h, mi, s, us) = utc(r.time_us);
    let mut out = String::with_capacity(r.msg.len() + 96);
    if r.time_us < crate::record::TIME_LIMIT_US {
        let _ = write!(
            out,
            "<{}>1 {y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z ",
            pri(r)
        );
    } else {
        // Past year 9999 (a kernel record's time from a damaged file):
        // RFC 5424's NILVALUE rather than a timestamp receivers reject.
        let _ = write!(out, "<{}>1 - ", pri(r));
    }
    field(
        &mut out,
        Some(r.hostname.as_deref().unwrap_or(&origin.hostname)),
        255,
    );
    out.push(' ');
    field(&mut out, Some(&r.app), 48);
    out.push(' ');
    field(&mut out, r.pid.as_deref(), 128);
    out.push(' ');
    field(&mut out, r.msgid.as_deref(), 32);
    out.push(' ');
    // Structured data is passed on as sent, unless a control character in
    // it would reach the receiver's line.
    let sd =
        r.sd.as_deref()
            .filter(|sd| !sd.chars().any(char::is_control));
    out.push_str(sd.unwrap_or("-"));
    out.push(' ');
    escape_controls(&mut out, &r.msg);
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `<PRI>Nov 24 12:00:01 HOST APP[PID]: MSG` (time in UTC).
pub fn rfc3164(r: &Record, origin: &Origin) -> String {
    let (_, mo, d, h, mi, s, _) = utc(r.time_us);
    let mut out = String::with_capacity(r.msg.len() + 64);
    let month = MONTHS[(mo as usize - 1) % 12];
    let _ = write!(out, "<{}>{month} {d:2} {h:02}:{mi:02}:{s:02} ", pri(r));
    field(
        &mut out,
        Some(r.hostname.as_deref().unwrap_or(&origin.hostname)),
        255,
    );
    out.push(' ');
    // RFC 3164 tags are alphanumeric, at most 32 characters.
    let tag: String = r
        .app
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' && c != '[' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    out.push_str(if tag.is_empty() { "-" } else { &tag });
    if let Some(pid) = &r.pid {
        out.push('[');
        field(&mut out, Some(pid), 128);
        out.push(']');
    }
    out.push_str(": ");
    escape_controls(&mut out, &r.msg);
    out
}

/// Format for the remote sink.
pub fn remote(format: Format, r: &Record, origin: &Origin) -> String {
    match format {
        Format::Rfc5424 => rfc5424(r, origin),
        Format::Rfc3164 => rfc3164(r, origin),
    }
}

/// RFC 6587 octet counting: `LEN SP MSG`, appended to `out`.
pub fn octet_frame(msg: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
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
    use crate::record::Source;

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
        let from_socket = crate::syslog::parse_datagram(b"<13>Nov 24 12:00:01 h \x1b[2J: hi", 42);
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
