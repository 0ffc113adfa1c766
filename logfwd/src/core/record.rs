//! One log record, whatever its source, and the syslog names of its
//! facility and severity.

use std::borrow::Cow;

/// 10000-01-01T00:00:00Z in µs: RFC 5424 timestamps have four-digit
/// years, so a sender's time at or past it is replaced by reception time.
pub const TIME_LIMIT_US: u64 = 253_402_300_800 * 1_000_000;

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Kernel,
    Syslog,
    App,
    /// logfwd's own notices (drops, overruns).
    Internal,
}

/// A log record in the form every sink formats from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub source: Source,
    /// 0..=23 (kern, user, ..., local7).
    pub facility: u8,
    /// 0 (emerg) ..= 7 (debug).
    pub severity: u8,
    /// Wall-clock time the record was received, µs since the Unix epoch.
    pub time_us: u64,
    /// Host name the sender gave, if any (sinks use the machine's otherwise).
    // Records wait in queues in their compact form (`to_compact`); the
    // ring holds them as they are (boxed strings: 16 bytes each, not 24).
    pub hostname: Option<Box<str>>,
    pub app: Box<str>,
    pub pid: Option<Box<str>>,
    pub msgid: Option<Box<str>>,
    /// RFC 5424 structured data as the sender gave it (`[id k="v"]...`).
    pub sd: Option<Box<str>>,
    pub msg: String,
    /// For a queue's drop notice: how many records it reports lost.
    pub drops: u64,
}

impl Record {
    /// A record with the given origin and text; the rest defaulted.
    pub fn new(source: Source, facility: u8, severity: u8, app: &str, msg: String) -> Self {
        Record {
            source,
            facility,
            severity,
            time_us: 0,
            hostname: None,
            app: app.into(),
            pid: None,
            msgid: None,
            sd: None,
            msg,
            drops: 0,
        }
    }
}

/// A record borrowed from its compact form or from a [`Record`]: what the
/// formatters read, so that a queued record is formatted without first
/// becoming a `Record` (no allocation when its text is valid UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View<'a> {
    pub source: Source,
    pub facility: u8,
    pub severity: u8,
    pub time_us: u64,
    pub hostname: Option<Cow<'a, str>>,
    pub app: Cow<'a, str>,
    pub pid: Option<Cow<'a, str>>,
    pub msgid: Option<Cow<'a, str>>,
    pub sd: Option<Cow<'a, str>>,
    pub msg: Cow<'a, str>,
}

impl Record {
    /// The record as a [`View`] borrowing its fields.
    pub fn view(&self) -> View<'_> {
        fn b(s: &Option<Box<str>>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        View {
            source: self.source,
            facility: self.facility,
            severity: self.severity,
            time_us: self.time_us,
            hostname: b(&self.hostname),
            app: Cow::Borrowed(&self.app),
            pid: b(&self.pid),
            msgid: b(&self.msgid),
            sd: b(&self.sd),
            msg: Cow::Borrowed(&self.msg),
        }
    }

    /// Compact form of a record ([`View::write_compact`]).
    pub fn to_compact(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.msg.len() + self.app.len() + 20);
        self.view().write_compact(&mut out);
        out
    }

    /// The record [`Record::to_compact`] wrote. Never fails: what is
    /// missing from truncated input is left empty.
    pub fn from_compact(b: &[u8]) -> Record {
        View::from_compact(b).into_record()
    }
}

/// Compact form of a record, for the thousands that wait in a sink's
/// queue: `time_us` (8 bytes LE), source, facility, severity, then
/// hostname, app, pid, msgid and structured data as LEB128 `len + 1`
/// (0: none) and their bytes, then the message to the end. About 20 bytes
/// plus the text, in one allocation.
impl<'a> View<'a> {
    /// Append the compact form to `out`.
    pub fn write_compact(&self, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, s: Option<&str>) {
            let mut n = s.map_or(0, |s| s.len() as u64 + 1);
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
            out.extend_from_slice(s.unwrap_or("").as_bytes());
        }
        out.extend_from_slice(&self.time_us.to_le_bytes());
        let source = match self.source {
            Source::Kernel => 0,
            Source::Syslog => 1,
            Source::App => 2,
            Source::Internal => 3,
        };
        out.extend_from_slice(&[source, self.facility, self.severity]);
        field(out, self.hostname.as_deref());
        field(out, Some(&self.app));
        field(out, self.pid.as_deref());
        field(out, self.msgid.as_deref());
        field(out, self.sd.as_deref());
        out.extend_from_slice(self.msg.as_bytes());
    }

    /// Read a compact form, borrowing from `b`. Never fails: what is
    /// missing from truncated input is left empty, invalid UTF-8 replaced.
    pub fn from_compact(b: &'a [u8]) -> View<'a> {
        let mut pos = 0;
        let mut take = |n: usize| {
            let start = pos.min(b.len());
            pos = pos.saturating_add(n).min(b.len());
            &b[start..pos]
        };
        let mut time = [0u8; 8];
        let t = take(8);
        time[..t.len()].copy_from_slice(t);
        let head = take(3);
        let at = |i: usize| head.get(i).copied().unwrap_or(0);
        let source = match at(0) {
            0 => Source::Kernel,
            1 => Source::Syslog,
            2 => Source::App,
            _ => Source::Internal,
        };
        let mut field = || -> Option<Cow<'a, str>> {
            let mut n: u64 = 0;
            for shift in (0..64).step_by(7) {
                let Some(&byte) = take(1).first() else { break };
                n |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            let len = usize::try_from(n.checked_sub(1)?).unwrap_or(usize::MAX);
            Some(lossy(take(len)))
        };
        let hostname = field();
        let app = field().unwrap_or_default();
        let pid = field();
        let msgid = field();
        let sd = field();
        let msg = lossy(take(usize::MAX));
        View {
            source,
            facility: at(1),
            severity: at(2),
            time_us: u64::from_le_bytes(time),
            hostname,
            app,
            pid,
            msgid,
            sd,
            msg,
        }
    }

    /// An owned record with these fields.
    pub fn into_record(self) -> Record {
        let boxed = |s: Option<Cow<'_, str>>| s.map(|s| Box::from(&*s));
        let mut r = Record::new(
            self.source,
            self.facility,
            self.severity,
            &self.app,
            self.msg.into_owned(),
        );
        r.time_us = self.time_us;
        r.hostname = boxed(self.hostname);
        r.pid = boxed(self.pid);
        r.msgid = boxed(self.msgid);
        r.sd = boxed(self.sd);
        r
    }
}

pub const FACILITY_KERN: u8 = 0;
pub const FACILITY_USER: u8 = 1;
pub const FACILITY_DAEMON: u8 = 3;
pub const FACILITY_SYSLOG: u8 = 5;

pub const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// `err`, `error`, `warn`, `3`... to a severity number.
pub fn parse_severity(s: &str) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    if let Ok(n) = s.parse::<u8>() {
        return (n < 8).then_some(n);
    }
    let alias = match s.as_str() {
        "error" => "err",
        "warn" => "warning",
        "panic" => "emerg",
        other => other,
    };
    SEVERITY_NAMES
        .iter()
        .position(|n| *n == alias)
        .map(|i| i as u8)
}

/// Bytes as text, borrowed when valid UTF-8 (checked with the standard
/// library's fast validation first), invalid sequences replaced otherwise.
pub fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trip() {
        let mut r = Record::new(Source::Syslog, 20, 5, "app3", "héllo | world".into());
        r.time_us = 1_795_521_601_500_000;
        r.hostname = Some("host2".into());
        r.pid = Some("99".into());
        r.sd = Some("[a@1 k=\"v\"]".into());
        r.msg.push_str(&"x".repeat(300));
        let c = r.to_compact();
        assert!(c.len() < r.msg.len() + 40, "{}", c.len());
        assert_eq!(Record::from_compact(&c), r);
        let k = Record::new(Source::Kernel, 0, 6, "", String::new());
        assert_eq!(Record::from_compact(&k.to_compact()), k);
        // Truncated or foreign input: a record all the same, no panic.
        for n in 0..c.len() {
            let _ = Record::from_compact(&c[..n]);
        }
        let _ = Record::from_compact(&[0xff; 40]);
    }

    #[test]
    fn severities() {
        assert_eq!(parse_severity("err"), Some(3));
        assert_eq!(parse_severity("Warn"), Some(4));
        assert_eq!(parse_severity("7"), Some(7));
        assert_eq!(parse_severity("8"), None);
        assert_eq!(parse_severity("loud"), None);
    }
}
