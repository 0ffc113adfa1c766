//! Datagrams from the `/dev/log` socket: RFC 3164 (what glibc `syslog()`
//! sends), RFC 5424 (`logger --rfc5424`) or anything else. Nothing is
//! dropped: what does not parse is kept whole as the message, invalid UTF-8
//! is replaced, NUL bytes and trailing newlines removed.
//!
//! A small hand-written parser (syslog_loose cost 107 KB of the runtime
//! binary, with nom and chrono): `<PRI>`, then RFC 5424 if a version
//! follows, else RFC 3164 (`Mmm dd hh:mm:ss [host] tag[pid]: msg`).

use crate::core::record::{Record, Source, FACILITY_USER, TIME_LIMIT_US};
use nodistro_common::civil::days_from_civil;

/// Severity given to a datagram without a `<PRI>` (RFC 3164 4.3.3: user.notice).
const DEFAULT_SEVERITY: u8 = 5;

/// The fields of one datagram, borrowed from its text.
#[derive(Debug, Default, PartialEq)]
struct Parsed<'a> {
    pri: Option<u8>,
    time_us: Option<i64>,
    hostname: Option<&'a str>,
    app: Option<&'a str>,
    procid: Option<&'a str>,
    msgid: Option<&'a str>,
    sd: Option<String>,
    msg: &'a str,
}

/// Parse one datagram received at `now_us` (µs since the epoch).
pub fn parse_datagram(raw: &[u8], now_us: u64) -> Record {
    let text = String::from_utf8_lossy(raw);
    let text = text.replace('\0', "");
    let text = text.trim_end_matches(['\n', '\r']);
    let m = parse(text);
    let pri = m.pri.unwrap_or(FACILITY_USER << 3 | DEFAULT_SEVERITY);
    let mut r = Record::new(
        Source::Syslog,
        pri >> 3,
        pri & 7,
        m.app.unwrap_or("-"),
        m.msg.trim_start_matches('\u{feff}').to_string(),
    );
    r.hostname = m.hostname.map(Into::into);
    r.pid = m.procid.map(Into::into);
    r.msgid = m.msgid.map(Into::into);
    r.sd = m.sd.map(Into::into);
    // Only a timestamp with its own year (RFC 5424), after 1970's first
    // year and before year 10000 is believed; RFC 3164 dates have no year:
    // reception time.
    let parsed_us = m
        .time_us
        .filter(|&t| t > 365 * 86_400 * 1_000_000 && (t as u64) < TIME_LIMIT_US);
    r.time_us = parsed_us.map_or(now_us, |t| t as u64);
    r
}

fn parse(text: &str) -> Parsed<'_> {
    let whole = Parsed {
        msg: text,
        ..Parsed::default()
    };
    let input = text.trim();
    let (pri, rest) = match pri(input) {
        Some((p, rest)) => (Some(p), rest),
        None if input.starts_with('<') => return whole,
        None => (None, input),
    };
    if pri.is_some() {
        if let Some(m) = rfc5424(rest) {
            return Parsed { pri, ..m };
        }
    }
    match rfc3164(rest) {
        Some(m) => Parsed { pri, ..m },
        // A priority but no time stamp: the rest is the message.
        None if pri.is_some() => Parsed {
            pri,
            msg: rest.trim_start_matches(' '),
            ..Parsed::default()
        },
        None => whole,
    }
}

/// `<N>` with N in 0..=191 (facility 0-23, severity 0-7).
fn pri(s: &str) -> Option<(u8, &str)> {
    let body = s.strip_prefix('<')?;
    let end = body.find('>')?;
    let digits = &body[..end];
    if !(1..=3).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u8 = digits.parse().ok().filter(|&n| n <= 191)?;
    Some((n, &body[end + 1..]))
}

/// The next space-separated word and what follows it (leading spaces of
/// `s` skipped; none left: `None`).
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// `-` is RFC 5424's NILVALUE.
fn nil(w: &str) -> Option<&str> {
    (w != "-").then_some(w)
}

/// RFC 5424: `VERSION SP TIMESTAMP SP HOST SP APP SP PROCID SP MSGID SP SD [SP MSG]`.
fn rfc5424(s: &str) -> Option<Parsed<'_>> {
    let (version, rest) = word(s)?;
    if !(1..=2).contains(&version.len()) || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !rest.starts_with(' ') {
        return None;
    }
    let (ts, rest) = word(rest)?;
    let time_us = match ts {
        "-" => None,
        t => Some(rfc3339_us(t)?),
    };
    let (host, rest) = word(rest)?;
    let (app, rest) = word(rest)?;
    let (procid, rest) = word(rest)?;
    let (msgid, rest) = word(rest)?;
    let rest = rest.trim_start_matches(' ');
    let (sd, msg) = if let Some(after) = rest.strip_prefix('-') {
        (None, after)
    } else if rest.starts_with('[') {
        match structured_data(rest) {
            Some((sd, after)) => (sd, after),
            // Not structured data after all: it stays in the message.
            None => (None, rest),
        }
    } else {
        (None, rest)
    };
    Some(Parsed {
        pri: None,
        time_us,
        hostname: nil(host),
        app: nil(app),
        procid: nil(procid),
        msgid: nil(msgid),
        sd,
        msg: msg.trim_start_matches(' '),
    })
}

/// RFC 3164: `TIMESTAMP SP [HOST SP] TAG[PID]: MSG` (the host is absent in
/// what local senders write). Without a timestamp: `None`.
fn rfc3164(s: &str) -> Option<Parsed<'_>> {
    let s = s.trim_start_matches(' ');
    let rest = bsd_timestamp(s).or_else(|| {
        let (w, rest) = word(s)?;
        rfc3339_us(w).map(|_| rest)
    })?;
    let mut m = Parsed::default();
    let rest = match word(rest) {
        // `tag:` or `tag[pid]:` right after the time: no host name.
        Some((w, after)) if w.ends_with(':') => {
            (m.app, m.procid) = tag(&w[..w.len() - 1]);
            m.msg = after.trim_start_matches(' ');
            return Some(m);
        }
        Some((w, after)) if tag(w).1.is_some() => {
            (m.app, m.procid) = tag(w);
            after
        }
        Some((host, after)) => {
            m.hostname = nil(host);
            match tag_word(after) {
                Some((t, after)) => {
                    (m.app, m.procid) = tag(t);
                    after
                }
                None => after,
            }
        }
        None => rest,
    };
    let rest = rest.trim_start_matches(' ');
    m.msg = rest
        .strip_prefix(':')
        .unwrap_or(rest)
        .trim_start_matches(' ');
    Some(m)
}

/// The tag word after a host name: up to white space or `:`.
fn tag_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    let end = s
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// `app[pid]` -> (app, pid); anything else is the app name alone.
fn tag(w: &str) -> (Option<&str>, Option<&str>) {
    if let Some((app, pid)) = w.strip_suffix(']').and_then(|t| t.split_once('[')) {
        if !pid.is_empty() && !pid.contains(['[', ']']) {
            return ((!app.is_empty()).then_some(app), Some(pid));
        }
    }
    (nil(w).filter(|w| !w.is_empty()), None)
}

/// `Mmm dd hh:mm:ss` (day space-padded or not); returns what follows.
fn bsd_timestamp(s: &str) -> Option<&str> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (month, rest) = (s.get(..3)?, s.get(3..)?);
    if !MONTHS.contains(&month) {
        return None;
    }
    let rest = rest.strip_prefix(' ')?.trim_start_matches(' ');
    let (day, rest) = rest.split_once(' ')?;
    let time = rest.get(..8)?;
    let ok_day = (1..=2).contains(&day.len()) && day.bytes().all(|b| b.is_ascii_digit());
    let ok_time = time.bytes().enumerate().all(|(i, b)| match i {
        2 | 5 => b == b':',
        _ => b.is_ascii_digit(),
    });
    (ok_day && ok_time).then(|| &rest[8..])
}

/// Digits of `s[at..at + n]` as a number.
fn num(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = s.get(at..at + n)?;
    d.iter().try_fold(0i64, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + i64::from(b - b'0'))
    })
}

/// RFC 3339 (`2026-11-24T12:00:01.5Z`, `...+01:00`) as µs since the epoch.
fn rfc3339_us(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let (y, mo, d) = (num(b, 0, 4)?, num(b, 5, 2)?, num(b, 8, 2)?);
    let (h, mi, sec) = (num(b, 11, 2)?, num(b, 14, 2)?, num(b, 17, 2)?);
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut at = 19;
    let mut micros = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let six = num(b, at, digits.min(6))?;
        micros = six * 10i64.pow(6 - digits.min(6) as u32);
        at += digits;
    }
    let offset_s = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        &sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let (oh, om) = (num(b, at + 1, 2)?, num(b, at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Some(secs * 1_000_000 + micros)
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

/// RFC 5424 structured data: one or more `[ID NAME="VALUE" ...]` elements
/// (escapes kept as sent). Returns the elements that are valid on the way
/// out, written back in wire form (none: `None`), and what follows; `None`
/// if `s` is not structured data.
fn structured_data(mut s: &str) -> Option<(Option<String>, &str)> {
    let mut out = String::new();
    while let Some(body) = s.strip_prefix('[') {
        let id_end = body.find([' ', ']'])?;
        let id = &body[..id_end];
        let mut rest = &body[id_end..];
        let mut element = format!("[{id}");
        let mut valid = sd_name(id);
        loop {
            rest = rest.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let (name, after) = rest.split_once("=\"")?;
            let value_len = quoted_len(after)?;
            let value = &after[..value_len];
            valid &= sd_name(name) && sd_value(value) && !value.contains(['\n', '\r']);
            element.push_str(&format!(" {name}=\"{value}\""));
            rest = &after[value_len + 1..];
        }
        if valid {
            out.push_str(&element);
            out.push(']');
        }
        s = rest;
    }
    Some(((!out.is_empty()).then_some(out), s))
}

/// Length of a PARAM-VALUE up to its closing unescaped `"`.
fn quoted_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Some(i),
            _ => {}
        }
    }
    None
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

    #[test]
    fn timestamps_with_offsets_and_fractions() {
        let t = |s: &str| rfc3339_us(s);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2026-11-24T12:00:01.5Z"), Some(1_795_521_601_500_000));
        assert_eq!(
            t("2026-11-24T14:00:01.500000+02:00"),
            t("2026-11-24T12:00:01.5Z")
        );
        assert_eq!(
            t("2026-11-24T11:30:01.5-00:30"),
            t("2026-11-24T12:00:01.5Z")
        );
        assert_eq!(
            t("2000-02-29T00:00:00.123456789z"),
            Some(951_782_400_123_456)
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-11-24 12:00:01Z",
            "2026-11-24T12:00:01",
            "2026-11-24T12:00:01.Z",
            "2026-11-24T12:00:01+0200",
            "x",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn tag_without_pid_and_without_time() {
        // logger's local format: no host, tag without pid.
        let r = parse_datagram(b"<13>Nov 24 12:00:01 root: hello: world", 42);
        assert_eq!(
            (&*r.app, r.pid.as_deref(), r.hostname.as_deref()),
            ("root", None, None)
        );
        assert_eq!(r.msg, "hello: world");
        // No PRI at all: user.notice, the header still read.
        let r = parse_datagram(b"Nov  4 01:02:03 h t[9]: m", 42);
        assert_eq!((r.facility, r.severity, &*r.app), (1, 5, "t"));
        // A PRI but no time stamp: the rest is the message.
        let r = parse_datagram(b"<11>just text", 42);
        assert_eq!(
            (r.facility, r.severity, &*r.app, &*r.msg),
            (1, 3, "-", "just text")
        );
        // A malformed SD stays in the message.
        let r = parse_datagram(b"<14>1 - h a - - [broken sd", 42);
        assert_eq!((r.sd.as_deref(), &*r.msg), (None, "[broken sd"));
    }

    /// syslog_loose (the parser this one replaced) agrees on what
    /// well-formed senders write.
    #[test]
    fn agrees_with_syslog_loose() {
        let cases = [
            "<30>Nov 24 12:00:01 myd[123]: started ok",
            "<13>Nov 24 12:00:01 box1 tagx[7]: hi there",
            "<13>Nov  4 12:00:01 box1 tagx: hi: there",
            "<86>Nov 24 12:00:01 sshd[1]: a [b] c",
            "<165>1 2026-11-24T12:00:01.5Z host2 app3 99 ID47 [ex@1 a=\"b\"] msg body",
            "<14>1 2026-11-24T12:00:01+01:00 h a - - [x@1 k=\"v\"][y@2 k=\"a\\\"b\"] text",
            "<14>1 - - - - - - text",
            "<191>1 2026-11-24T12:00:01Z h a p m - ",
            "not syslog at all",
        ];
        let utc = chrono::FixedOffset::east_opt(0);
        for c in cases {
            let theirs = syslog_loose::parse_message_with_year_tz(
                c,
                |_| 1970,
                utc,
                syslog_loose::Variant::Either,
            );
            let ours = parse(c);
            let pri = theirs
                .facility
                .zip(theirs.severity)
                .map(|(f, s)| (f as u8) << 3 | s as u8);
            assert_eq!(ours.pri, pri, "{c}");
            assert_eq!(ours.app, theirs.appname, "{c}");
            assert_eq!(ours.hostname, theirs.hostname.filter(|h| *h != "-"), "{c}");
            let pid = theirs.procid.map(|p| p.to_string());
            assert_eq!(ours.procid.map(str::to_string), pid, "{c}");
            assert_eq!(ours.msgid, theirs.msgid, "{c}");
            assert_eq!(ours.msg.trim(), theirs.msg.trim(), "{c}");
            let t = theirs.timestamp.map(|t| t.timestamp_micros());
            if c.starts_with("<1") && c.as_bytes()[c.find('>').unwrap_or(0) + 1] == b'1' {
                assert_eq!(ours.time_us, t, "{c}");
            }
            let sd: String = theirs
                .structured_data
                .iter()
                .map(|e| e.to_string())
                .collect();
            assert_eq!(ours.sd.unwrap_or_default(), sd, "{c}");
        }
    }
}
