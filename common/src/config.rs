//! `/etc/nodistro.conf`: `key=value` lines, `#` comments, keys may repeat
//! (`init.arg`, `init.env`). The kernel command line overrides the file with
//! the same key names: a key given on the command line replaces every value
//! the file had for it.
//!
//! Bad lines never stop a boot: [`Config::parse`] keeps the good lines and
//! returns a warning for each bad one, for the caller to print.

use crate::cmdline::Cmdline;
use std::fmt;

/// An ordered list of key/value entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String)>,
}

/// A line of the configuration that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: {} ({:?}); line ignored",
            crate::CONFIG_PATH,
            self.line,
            self.reason,
            self.text
        )
    }
}

/// A value that cannot be written into the configuration file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("configuration key {0:?} is not a plain name (letters, digits, '.', '_', '-')")]
    BadKey(String),
    #[error("configuration value for {0} contains a newline; values are one line each")]
    Newline(String),
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A number of seconds as configuration gives it: `5`, `2.5`, `0.125`
/// (at most nine decimals; no sign, exponent, `inf` or `nan`). Parsed
/// without floating point, whose parsing and printing code would cost the
/// runtime binary about 25 KB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub std::time::Duration);

impl std::str::FromStr for Seconds {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty())
            || !digits(whole)
            || !digits(frac)
            || frac.len() > 9
        {
            return Err(());
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| ())?
        };
        let nanos = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(9)
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
        Ok(Seconds(std::time::Duration::new(secs, nanos)))
    }
}

impl fmt::Display for Seconds {
    /// `5`, `2.5`, `0.125`: what [`Seconds::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.subsec_nanos();
        if nanos == 0 {
            return write!(f, "{}", self.0.as_secs());
        }
        let frac = format!("{nanos:09}");
        write!(f, "{}.{}", self.0.as_secs(), frac.trim_end_matches('0'))
    }
}

impl Config {
    /// Parse the file's text; bad lines are skipped and reported.
    pub fn parse(text: &str) -> (Self, Vec<Warning>) {
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) if valid_key(k.trim()) => {
                    entries.push((k.trim().to_string(), v.to_string()));
                }
                Some(_) => warnings.push(Warning {
                    line: i + 1,
                    text: raw.to_string(),
                    reason: "key is not a plain name",
                }),
                None => warnings.push(Warning {
                    line: i + 1,
                    text: raw.to_string(),
                    reason: "no '=' on the line",
                }),
            }
        }
        (Config { entries }, warnings)
    }

    /// Build from entries (for the packager and tests).
    pub fn from_entries<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Config {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Write the file's text. Fails on keys or values the parser would not
    /// read back identically.
    pub fn render(&self) -> Result<String, RenderError> {
        let mut out = String::from("# nodistro configuration, written by `nodistro build`.\n# Any key here can be overridden on the kernel command line.\n");
        for (k, v) in &self.entries {
            if !valid_key(k) {
                return Err(RenderError::BadKey(k.clone()));
            }
            if v.contains('\n') || v.contains('\r') {
                return Err(RenderError::Newline(k.clone()));
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            out.push('\n');
        }
        Ok(out)
    }

    /// Replace the file's values with those the command line gives for the
    /// same keys. Only `key=value` words with a `.` in the key (tool-scoped
    /// keys such as `init.app`, `logfwd.remote`) and the keys listed in
    /// `plain_keys` (such as `ip`, `hostname`) are taken.
    pub fn override_with(&mut self, cmdline: &Cmdline, plain_keys: &[&str]) {
        let mut overridden: Vec<&str> = Vec::new();
        for p in cmdline.params() {
            let Some(v) = &p.value else { continue };
            let scoped = p.key.contains('.');
            if !(scoped || plain_keys.contains(&p.key.as_str())) || !valid_key(&p.key) {
                continue;
            }
            if !overridden.contains(&p.key.as_str()) {
                self.entries.retain(|(k, _)| k != &p.key);
                overridden.push(&p.key);
            }
            self.entries.push((p.key.clone(), v.clone()));
        }
    }

    /// Load `/etc/nodistro.conf` (missing is fine) and apply `/proc/cmdline`.
    /// Returns the configuration, the command line and human-readable
    /// warnings to print.
    pub fn load_system(plain_keys: &[&str]) -> (Config, Cmdline, Vec<String>) {
        Self::load_from(crate::CONFIG_PATH, "/proc/cmdline", plain_keys)
    }

    /// [`Config::load_system`] with other paths (tests, `--namespace` mode).
    pub fn load_from(
        config_path: &str,
        cmdline_path: &str,
        plain_keys: &[&str],
    ) -> (Config, Cmdline, Vec<String>) {
        let mut warnings = Vec::new();
        let (mut cfg, bad) = match std::fs::read_to_string(config_path) {
            Ok(text) => Config::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), vec![]),
            Err(e) => {
                warnings.push(format!("cannot read {config_path}: {e}; using defaults"));
                (Config::default(), vec![])
            }
        };
        warnings.extend(bad.iter().map(|w| w.to_string()));
        let cmdline = match std::fs::read_to_string(cmdline_path) {
            Ok(text) => Cmdline::parse(&text),
            Err(e) => {
                warnings.push(format!(
                    "cannot read {cmdline_path}: {e}; no command-line overrides"
                ));
                Cmdline::default()
            }
        };
        cfg.override_with(&cmdline, plain_keys);
        (cfg, cmdline, warnings)
    }

    /// The last value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean: `1/yes/true/on` or `0/no/false/off`. Anything else is
    /// `Err(value)` so the caller can say which value it did not understand.
    pub fn get_bool(&self, key: &str) -> Option<Result<bool, String>> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "1" | "yes" | "true" | "on" => Ok(true),
                "0" | "no" | "false" | "off" => Ok(false),
                _ => Err(v.to_string()),
            })
    }

    /// A number parsed with `FromStr`; `Err(value)` when it does not parse.
    pub fn get_parsed<T: std::str::FromStr>(&self, key: &str) -> Option<Result<T, String>> {
        self.get(key)
            .map(|v| v.trim().parse::<T>().map_err(|_| v.to_string()))
    }

    /// Append an entry.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.push((key.into(), value.into()));
    }

    /// All entries in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_bad_lines_and_keeps_good_ones() {
        let (c, w) =
            Config::parse("# c\ninit.app=/app/x\n\ngarbage\ninit.arg=a=b\nbad key=1\ninit.arg=\n");
        assert_eq!(c.get("init.app"), Some("/app/x"));
        assert_eq!(c.get_all("init.arg").collect::<Vec<_>>(), ["a=b", ""]);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].line, 4);
        assert!(w[0].to_string().contains("no '='"));
    }

    #[test]
    fn render_round_trips() {
        let c = Config::from_entries([
            ("init.app", "/app/x"),
            ("init.arg", " spaced "),
            ("init.arg", "#x"),
        ]);
        let text = c.render().expect("renders");
        let (back, w) = Config::parse(&text);
        assert!(w.is_empty());
        assert_eq!(back, c);
        let bad = Config::from_entries([("init.arg", "a\nb")]);
        assert!(matches!(bad.render(), Err(RenderError::Newline(_))));
    }

    #[test]
    fn cmdline_overrides_replace_all_values() {
        let (mut c, _) =
            Config::parse("init.arg=a\ninit.arg=b\nlogfwd.remote=udp://1.2.3.4:514\nip=dhcp\n");
        let cl = Cmdline::parse(
            "console=ttyS0 init.arg=z ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off quiet",
        );
        c.override_with(&cl, &["ip"]);
        assert_eq!(c.get_all("init.arg").collect::<Vec<_>>(), ["z"]);
        assert_eq!(c.get("logfwd.remote"), Some("udp://1.2.3.4:514"));
        assert_eq!(
            c.get("ip"),
            Some("10.0.0.2::10.0.0.1:255.255.255.0::eth0:off")
        );
        assert_eq!(c.get("console"), None);
    }

    #[test]
    fn typed_getters() {
        let (c, _) = Config::parse("a=yes\nb=maybe\nn=42\nm=x\n");
        assert_eq!(c.get_bool("a"), Some(Ok(true)));
        assert_eq!(c.get_bool("b"), Some(Err("maybe".into())));
        assert_eq!(c.get_parsed::<u32>("n"), Some(Ok(42)));
        assert_eq!(c.get_parsed::<u32>("m"), Some(Err("x".into())));
        assert_eq!(c.get_parsed::<u32>("none"), None);
    }

    #[test]
    fn seconds_without_floating_point() {
        use std::time::Duration;
        let p = |t: &str| t.parse::<Seconds>().map(|s| s.0);
        assert_eq!(p("5"), Ok(Duration::from_secs(5)));
        assert_eq!(p("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(p(".125"), Ok(Duration::from_millis(125)));
        assert_eq!(p("0.000000001"), Ok(Duration::from_nanos(1)));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "inf",
            "nan",
            "1.2.3",
            " 1",
            "0.0000000001",
            "99999999999999999999",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(Seconds(Duration::from_millis(2500)).to_string(), "2.5");
        assert_eq!(Seconds(Duration::from_secs(10)).to_string(), "10");
    }
}
