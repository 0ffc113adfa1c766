//! Datagrams from the `/dev/log` socket: RFC 3164 (what glibc `syslog()`
//! sends), RFC 5424 (`logger --rfc5424`) or anything else. Nothing is
//! dropped: what syslog_loose cannot parse is kept whole as the message,
//! invalid UTF-8 is replaced, NUL bytes and trailing newlines removed.

use crate::record::{Record, Source, FACILITY_USER, TIME_LIMIT_US};
use syslog_loose::{ProcId, Variant};

/// Severity given to a datagram without a `<PRI>` (RFC 3164 4.3.3: user.notice).
const DEFAULT_SEVERITY: u8 = 5;

/// Parse one datagram received at `now_us` (µs since the epoch).
pub fn parse_datagram(raw: &[u8], now_us: u64) -> Record {
    let text = String::from_utf8_lossy(raw);
    let text = text.replace('\0', "");
    let text = text.trim_end_matches(['\n', '\r']);
    // A fixed year: the timestamp is only used when it carries its own
    // year (RFC 5424); RFC 3164 dates without a year get reception time.
    // A fixed zone keeps chrono's local-time database code out of the binary.
    let utc = chrono::FixedOffset::east_opt(0);
    let m = syslog_loose::parse_message_with_year_tz(text, |_| 1970, utc, Variant::Either);
    let mut r = Record::new(
        Source::Syslog,
        m.facility.map_or(FACILITY_USER, |f| f as u8),
        m.severity.map_or(DEFAULT_SEVERITY, |s| s as u8),
        m.appname.unwrap_or("-"),
        m.msg.trim_start_matches('\u{feff}').to_string(),
    );
    r.hostname = m.hostname.filter(|h| *h != "-").map(Into::into);
    r.pid = m.procid.map(|p| match p {
        ProcId::PID(n) => n.to_string().into(),
        ProcId::Name(s) => s.into(),
    });
    r.msgid = m.msgid.map(Into::into);
    r.sd = structured_data(&m.structured_data);
    let parsed_us = m
        .timestamp
        .map(|t| t.timestamp_micros())
        .filter(|&t| t > 365 * 86_400 * 1_000_000 && (t as u64) < TIME_LIMIT_US);
    r.time_us = parsed_us.map_or(now_us, |t| t as u64);
    r
}

/// An SD-NAME (RFC 5424 6.3.2): 1-32 printable ASCII characters but
/// `=`, space, `]` and `"`.
fn sd_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b']' | b'"'))
}

/// A PARAM-VALUE as it stands between quotes on the wire: `"`, `]` and `\`
/// only escaped (syslog_loose keeps the escapes).
fn sd_value(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"' | ']') => return false,
            _ => {}
        }
    }
    !escaped
}

/// The sender's structured data, as it came (the elements syslog_loose
/// found, each written back in its wire form); elements that would not be
/// valid on the way out are left out.
fn structured_data(elements: &[syslog_loose::StructuredElement<&str>]) -> Option<Box<str>> {
    use std::fmt::Write;
    let mut out = String::new();
    for e in elements {
        let valid = sd_name(e.id)
            && e.params
                .iter()
                .all(|(k, v)| sd_name(k) && sd_value(v) && !v.contains(['\n', '\r']));
        if valid {
            let _ = write!(out, "{e}");
        }
    }
    (!out.is_empty()).then(|| out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_style_local_message() {
        // glibc syslog() over /dev/log: no host name.
        let r = parse_datagram(b"<30>Nov 24 12:00:01 myd[123]: started ok", 42);
        assert_eq!((r.facility, r.severity), (3, 6));
        assert_eq!(&*r.app, "myd");
        assert_eq!(r.pid.as_deref(), Some("123"));
        assert_eq!(r.msg, "started ok");
        assert_eq!(r.time_us, 42);
    }

    #[test]
    fn rfc3164_with_hostname() {
        let r = parse_datagram(b"<13>Nov 24 12:00:01 box1 tagx[7]: hi there\n", 42);
        assert_eq!(r.hostname.as_deref(), Some("box1"));
        assert_eq!(&*r.app, "tagx");
        assert_eq!(r.pid.as_deref(), Some("7"));
        assert_eq!(r.msg, "hi there");
    }

    #[test]
    fn rfc5424() {
        let r = parse_datagram(
            b"<165>1 2026-11-24T12:00:01.5Z host2 app3 99 ID47 [ex@1 a=\"b\"] \xef\xbb\xbfmsg body",
            42,
        );
        assert_eq!((r.facility, r.severity), (20, 5));
        assert_eq!(r.hostname.as_deref(), Some("host2"));
        assert_eq!(&*r.app, "app3");
        assert_eq!(r.pid.as_deref(), Some("99"));
        assert_eq!(r.msgid.as_deref(), Some("ID47"));
        assert_eq!(r.msg, "msg body");
        assert_eq!(r.time_us, 1_795_521_601_500_000);
        assert_eq!(r.sd.as_deref(), Some("[ex@1 a=\"b\"]"));
    }

    #[test]
    fn structured_data_as_sent() {
        let r = parse_datagram(
            br#"<14>1 2026-11-24T12:00:01Z h a - - [zoo@123 tiger="hungry" note="say \"hi\" \] \\"][m@1 k="v"] text"#,
            42,
        );
        assert_eq!(
            r.sd.as_deref(),
            Some(r#"[zoo@123 tiger="hungry" note="say \"hi\" \] \\"][m@1 k="v"]"#)
        );
        assert_eq!(r.msg, "text");
        let r = parse_datagram(b"<14>1 2026-11-24T12:00:01Z h a - - - text", 42);
        assert_eq!(r.sd, None);
        let r = parse_datagram(b"<13>Nov 24 12:00:01 myd[1]: [not sd] x", 42);
        assert_eq!(r.sd, None);
    }

    #[test]
    fn sd_validity() {
        assert!(sd_name("zoo@123"));
        assert!(!sd_name("a b") && !sd_name("a=b") && !sd_name("") && !sd_name(&"x".repeat(33)));
        assert!(sd_value(r#"say \"hi\" \] \\"#));
        assert!(!sd_value(r#"a"b"#) && !sd_value("a]b") && !sd_value("ends\\"));
    }

    /// Issue 15 defect 7: year 12226 gave `12226-11-25T...`, which
    /// receivers reject; reception time is used instead.
    #[test]
    fn five_digit_years_get_reception_time() {
        let r = parse_datagram(b"<43>Nov 25 12226 12:04:02 h app: hi", 42);
        assert_eq!(r.time_us, 42);
        let r = parse_datagram(b"<43>1 12226-11-25T12:04:02Z h app - - - hi", 42);
        assert_eq!(r.time_us, 42);
        let r = parse_datagram(b"<43>1 9999-11-25T12:04:02Z h app - - - hi", 42);
        assert!(r.time_us > 42 && r.time_us < TIME_LIMIT_US);
    }

    #[test]
    fn garbage_is_kept_not_dropped() {
        let r = parse_datagram(b"\x00\x01\xff\xfebinary\x7f", 42);
        assert_eq!(r.severity, DEFAULT_SEVERITY);
        assert!(r.msg.contains("binary"));
        assert!(r.msg.contains('\u{fffd}'));
        let r = parse_datagram(b"", 42);
        assert_eq!(r.msg, "");
        let r = parse_datagram(b"<999>oops", 42);
        assert!(r.msg.contains("oops"));
        let r = parse_datagram(b"plain words only", 42);
        assert_eq!(r.msg, "plain words only");
    }
}
