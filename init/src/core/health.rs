//! Health checks of the app, sans-IO: the `init.health*` keys, the state
//! that turns check results into "restart the app" and "the machine is no
//! longer healthy" (for the watchdog), and the HTTP status line parser.
//!
//! - `init.health=http://127.0.0.1:PORT/PATH` (a 2xx or 3xx answer passes)
//!   or `tcp:PORT` (an accepted connection passes); loopback only.
//! - `init.health_interval` (seconds, default 5): time between checks, the
//!   first one an interval after the app starts.
//! - `init.health_timeout` (seconds, default 2): one check's time limit.
//! - `init.health_failures` (default 3): consecutive failures that make
//!   init stop the app (SIGTERM, SIGKILL after `init.grace`); the exit
//!   policy (`init.on_exit`) then applies.
//! - `init.health_restarts` (default 3): app starts in a row that never
//!   passed a check before the machine counts as unhealthy (the watchdog
//!   is no longer pet).

use nodistro_common::config::Seconds;
use nodistro_common::Config;
use std::time::Duration;

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Http { port: u16, path: String },
    Tcp { port: u16 },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Http { port, path } => write!(f, "http://127.0.0.1:{port}{path}"),
            Check::Tcp { port } => write!(f, "tcp:{port}"),
        }
    }
}

/// The health check configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    pub check: Check,
    pub interval: Duration,
    pub timeout: Duration,
    pub failures: u32,
    pub restarts: u32,
}

/// Parse `init.health`'s value.
pub fn parse_check(v: &str) -> Option<Check> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
    if let Some(p) = v.strip_prefix("tcp:") {
        return port(p).map(|port| Check::Tcp { port });
    }
    let rest = v
        .strip_prefix("http://127.0.0.1:")
        .or_else(|| v.strip_prefix("http://localhost:"))?;
    let (p, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let clean = path.bytes().all(|b| b.is_ascii_graphic());
    Some(Check::Http {
        port: port(p)?,
        path: path.to_string(),
    })
    .filter(|_| clean && path.len() <= 1024)
}

/// `init.health` and its companions; `None` without `init.health`.
pub fn from_config(cfg: &Config) -> (Option<HealthSpec>, Vec<String>) {
    let mut warn = Vec::new();
    let Some(v) = cfg.get("init.health").filter(|v| !v.is_empty()) else {
        return (None, warn);
    };
    let Some(check) = parse_check(v) else {
        warn.push(format!(
            "init.health={v:?} is not http://127.0.0.1:PORT/PATH or tcp:PORT; no health checks"
        ));
        return (None, warn);
    };
    let mut secs = |key: &str, default: u64| match cfg.get_parsed::<Seconds>(key) {
        Some(Ok(Seconds(s)))
            if (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&s) =>
        {
            s
        }
        None => Duration::from_secs(default),
        Some(_) => {
            warn.push(format!(
                "{key}={:?} is not a number of seconds (0.1 to 3600); using {default}",
                cfg.get(key).unwrap_or_default()
            ));
            Duration::from_secs(default)
        }
    };
    let interval = secs("init.health_interval", 5);
    let timeout = secs("init.health_timeout", 2);
    let mut count = |key: &str, default: u32| match cfg.get_parsed::<u32>(key) {
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        None => default,
        Some(_) => {
            warn.push(format!(
                "{key}={:?} is not a count (1 to 1000); using {default}",
                cfg.get(key).unwrap_or_default()
            ));
            default
        }
    };
    let failures = count("init.health_failures", 3);
    let restarts = count("init.health_restarts", 3);
    (
        Some(HealthSpec {
            check,
            interval,
            timeout,
            failures,
            restarts,
        }),
        warn,
    )
}

/// The status code of an HTTP/1.x response's first line.
pub fn http_status(resp: &[u8]) -> Result<u16, String> {
    let line = resp.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
    let proto = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    if !proto.starts_with(b"HTTP/1.") || code.len() != 3 {
        return Err("the answer is not HTTP/1.x".into());
    }
    std::str::from_utf8(code)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "the answer has no status code".into())
}

/// What a check result means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Failed, not yet enough times in a row (count so far).
    Failed(u32),
    /// Failed `init.health_failures` times in a row: stop the app.
    Restart,
}

/// Check results in, verdicts out. Time is a `Duration` since an
/// arbitrary origin.
#[derive(Debug)]
pub struct Monitor {
    pub spec: HealthSpec,
    next: Option<Duration>,
    fails: u32,
    passed_since_start: bool,
    starts: u32,
    starts_without_pass: u32,
}

impl Monitor {
    pub fn new(spec: HealthSpec) -> Self {
        Monitor {
            spec,
            next: None,
            fails: 0,
            passed_since_start: false,
            starts: 0,
            starts_without_pass: 0,
        }
    }

    /// The app (re)started at `now`: checks begin an interval later.
    pub fn app_started(&mut self, now: Duration) {
        if self.starts > 0 && !self.passed_since_start {
            self.starts_without_pass += 1;
        }
        self.starts += 1;
        self.passed_since_start = false;
        self.fails = 0;
        self.next = Some(now + self.spec.interval);
    }

    /// The app is not running: no checks until it starts again.
    pub fn app_stopped(&mut self) {
        self.next = None;
    }

    /// When the next check is due.
    pub fn next_check(&self) -> Option<Duration> {
        self.next
    }

    /// A check finished at `now`.
    pub fn result(&mut self, ok: bool, now: Duration) -> Verdict {
        self.next = Some(now + self.spec.interval);
        if ok {
            self.fails = 0;
            self.passed_since_start = true;
            self.starts_without_pass = 0;
            return Verdict::Pass;
        }
        self.fails += 1;
        if self.fails >= self.spec.failures {
            self.next = None;
            Verdict::Restart
        } else {
            Verdict::Failed(self.fails)
        }
    }

    /// False once the app has been started `init.health_restarts` + 1
    /// times in a row without passing a check: restarting does not help.
    pub fn healthy(&self) -> bool {
        self.starts_without_pass < self.spec.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_parse() {
        assert_eq!(
            parse_check("http://127.0.0.1:8080/healthz"),
            Some(Check::Http {
                port: 8080,
                path: "/healthz".into()
            })
        );
        assert_eq!(
            parse_check("http://localhost:80"),
            Some(Check::Http {
                port: 80,
                path: "/".into()
            })
        );
        assert_eq!(parse_check("tcp:5432"), Some(Check::Tcp { port: 5432 }));
        for bad in [
            "tcp:0",
            "tcp:x",
            "http://10.0.0.1:80/",
            "http://127.0.0.1:80/a b",
            "udp:53",
            "",
        ] {
            assert_eq!(parse_check(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_defaults_and_bad_values() {
        let (cfg, _) = Config::parse(
            "init.health=tcp:8080\ninit.health_interval=0.5\ninit.health_failures=0\ninit.health_timeout=x\n",
        );
        let (spec, w) = from_config(&cfg);
        let spec = spec.expect("a spec");
        assert_eq!(spec.interval, Duration::from_millis(500));
        assert_eq!((spec.failures, spec.restarts), (3, 3));
        assert_eq!(spec.timeout, Duration::from_secs(2));
        assert_eq!(w.len(), 2, "{w:?}");
        let (cfg, _) = Config::parse("init.health=ftp://x\n");
        let (spec, w) = from_config(&cfg);
        assert!(spec.is_none() && w.len() == 1);
    }

    #[test]
    fn status_lines() {
        assert_eq!(http_status(b"HTTP/1.1 200 OK\r\n\r\n"), Ok(200));
        assert_eq!(http_status(b"HTTP/1.0 503 Busy\r\n"), Ok(503));
        assert!(http_status(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(http_status(b"HTTP/1.1 2000 OK").is_err());
        assert!(http_status(b"").is_err());
    }

    #[test]
    fn failures_restart_and_repeated_restarts_are_unhealthy() {
        let s = |n| Duration::from_secs(n);
        let (cfg, _) =
            Config::parse("init.health=tcp:1\ninit.health_failures=2\ninit.health_restarts=2\n");
        let mut m = Monitor::new(from_config(&cfg).0.expect("spec"));
        assert_eq!(m.next_check(), None);
        m.app_started(s(0));
        assert_eq!(m.next_check(), Some(s(5)));
        assert_eq!(m.result(false, s(5)), Verdict::Failed(1));
        assert_eq!(m.result(true, s(10)), Verdict::Pass);
        assert_eq!(m.result(false, s(15)), Verdict::Failed(1));
        assert_eq!(m.result(false, s(20)), Verdict::Restart);
        assert_eq!(m.next_check(), None);
        assert!(m.healthy(), "it passed once since its start");
        m.app_stopped();
        m.app_started(s(21));
        assert!(m.healthy());
        assert_eq!(m.result(false, s(26)), Verdict::Failed(1));
        assert_eq!(m.result(false, s(31)), Verdict::Restart);
        m.app_started(s(32));
        assert!(m.healthy(), "one start without a pass");
        m.app_started(s(40));
        assert!(!m.healthy(), "two starts in a row without a pass");
        assert_eq!(m.result(true, s(45)), Verdict::Pass);
        assert!(m.healthy());
    }
}
