//! Command line and configuration: `/etc/nodistro.conf` and the kernel
//! command line give the defaults (`logfwd.*` keys), command-line options
//! override them. Bad configuration values fall back to the default with a
//! warning; bad command-line values are errors.

use crate::core::format::Format;
use crate::core::record::parse_severity;
use argh::FromArgs;
use nodistro_common::Config;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Collect kernel, syslog and app logs; forward them to the console and a
/// remote syslog server without blocking the programs that log. SIGUSR1
/// dumps the recent records on the console; SIGTERM delivers what it can
/// (3 s at most) and exits.
#[derive(FromArgs, Debug, Default)]
pub struct Args {
    /// unix datagram socket to receive syslog on (default /dev/log)
    #[argh(option)]
    pub socket: Option<PathBuf>,
    /// remote syslog server: udp://IP:PORT or tcp://IP:PORT (numeric IP)
    #[argh(option)]
    pub remote: Option<String>,
    /// do not read kernel messages from /dev/kmsg
    #[argh(switch)]
    pub no_kmsg: bool,
    /// do not write records to the console (stderr)
    #[argh(switch)]
    pub no_console: bool,
    /// remote message format: rfc5424 (default) or rfc3164
    #[argh(option)]
    pub format: Option<String>,
    /// forward only records at least this severe (emerg..debug or 0-7; default debug)
    #[argh(option)]
    pub min_severity: Option<String>,
    /// messages buffered per sink while it cannot keep up, at most N KiB;
    /// beyond, the oldest are dropped and counted (default 10000)
    #[argh(option)]
    pub buffer: Option<usize>,
    /// read kernel records from PATH instead of /dev/kmsg (a file of
    /// records in the /dev/kmsg format is read to its end)
    #[argh(option)]
    pub kmsg: Option<PathBuf>,
    /// where logfwd remembers the last kernel record it forwarded, so that
    /// a restart does not send the kernel log again (default /run/logfwd)
    #[argh(option)]
    pub state_dir: Option<PathBuf>,
    /// configuration file (default /etc/nodistro.conf; the kernel command line still overrides)
    #[argh(option)]
    pub config: Option<PathBuf>,
}

/// Where the remote sink sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

/// Resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub socket: PathBuf,
    pub remote: Option<Remote>,
    pub kmsg: bool,
    /// Where kernel records are read from.
    pub kmsg_path: PathBuf,
    /// Holds `kmsg.seq`, the last kernel record handed to the sinks.
    pub state_dir: PathBuf,
    pub console: bool,
    pub format: Format,
    pub min_severity: u8,
    /// Records per sink queue; bytes are bounded at `buffer` × [`BYTES_PER_SLOT`].
    pub buffer: usize,
    /// Bytes of console lines kept for SIGUSR1 dumps.
    pub ring_bytes: usize,
}

/// Byte budget per buffer slot.
pub const BYTES_PER_SLOT: usize = 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            socket: PathBuf::from(nodistro_common::protocol::logfwd::SYSLOG_SOCKET),
            remote: None,
            kmsg: true,
            kmsg_path: PathBuf::from("/dev/kmsg"),
            state_dir: PathBuf::from(nodistro_common::protocol::logfwd::STATE_DIR_DEFAULT),
            console: true,
            format: Format::Rfc5424,
            min_severity: 7,
            buffer: 10_000,
            ring_bytes: 256 * 1024,
        }
    }
}

/// A setting that could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptError {
    #[error(
        "remote {0:?} is not udp://IP:PORT or tcp://IP:PORT (numeric IP address, no host names)"
    )]
    Remote(String),
    #[error("format {0:?} is not rfc5424 or rfc3164")]
    Format(String),
    #[error("severity {0:?} is not one of emerg, alert, crit, err, warning, notice, info, debug (or 0-7)")]
    Severity(String),
    #[error("{0} is {1:?}: expected a number of at least 1")]
    Number(&'static str, String),
    #[error("{0} is {1:?}: expected on or off")]
    Bool(&'static str, String),
}

pub fn parse_remote(s: &str) -> Result<Remote, OptError> {
    let bad = || OptError::Remote(s.to_string());
    let (scheme, addr) = s.trim().split_once("://").ok_or_else(bad)?;
    let addr: SocketAddr = addr.trim_end_matches('/').parse().map_err(|_| bad())?;
    match scheme.to_ascii_lowercase().as_str() {
        "udp" => Ok(Remote::Udp(addr)),
        "tcp" => Ok(Remote::Tcp(addr)),
        _ => Err(bad()),
    }
}

pub fn parse_format(s: &str) -> Result<Format, OptError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "rfc5424" | "5424" => Ok(Format::Rfc5424),
        "rfc3164" | "3164" | "bsd" => Ok(Format::Rfc3164),
        _ => Err(OptError::Format(s.to_string())),
    }
}

fn severity(s: &str) -> Result<u8, OptError> {
    parse_severity(s).ok_or_else(|| OptError::Severity(s.to_string()))
}

fn positive(what: &'static str, s: &str) -> Result<usize, OptError> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(OptError::Number(what, s.to_string())),
    }
}

fn boolean(what: &'static str, v: Result<bool, String>) -> Result<bool, OptError> {
    v.map_err(|s| OptError::Bool(what, s))
}

impl Options {
    /// Defaults from `cfg` (warnings for bad values, which are ignored),
    /// then `args` on top (errors).
    pub fn resolve(args: &Args, cfg: &Config) -> Result<(Options, Vec<String>), OptError> {
        let mut o = Options::default();
        let mut warnings = Vec::new();
        let mut take = |key: &str, r: Result<(), OptError>| {
            if let Err(e) = r {
                warnings.push(format!("configuration {key}: {e}; using the default"));
            }
        };
        let remote = nodistro_common::protocol::keys::LOGFWD_REMOTE;
        if let Some(v) = cfg.get(remote).filter(|v| !v.trim().is_empty()) {
            take(remote, parse_remote(v).map(|r| o.remote = Some(r)));
        }
        if let Some(v) = cfg.get("logfwd.format") {
            take("logfwd.format", parse_format(v).map(|f| o.format = f));
        }
        if let Some(v) = cfg.get("logfwd.min_severity") {
            take(
                "logfwd.min_severity",
                severity(v).map(|s| o.min_severity = s),
            );
        }
        if let Some(v) = cfg.get("logfwd.buffer") {
            take(
                "logfwd.buffer",
                positive("logfwd.buffer", v).map(|n| o.buffer = n),
            );
        }
        if let Some(v) = cfg.get("logfwd.ring") {
            take(
                "logfwd.ring",
                positive("logfwd.ring", v).map(|n| o.ring_bytes = n),
            );
        }
        if let Some(v) = cfg.get_bool("logfwd.console") {
            take(
                "logfwd.console",
                boolean("logfwd.console", v).map(|b| o.console = b),
            );
        }
        if let Some(v) = cfg.get_bool("logfwd.kmsg") {
            take("logfwd.kmsg", boolean("logfwd.kmsg", v).map(|b| o.kmsg = b));
        }
        if let Some(v) = cfg
            .get(nodistro_common::protocol::logfwd::STATE_DIR_KEY)
            .filter(|v| !v.trim().is_empty())
        {
            o.state_dir = PathBuf::from(v.trim());
        }
        if let Some(p) = &args.state_dir {
            o.state_dir = p.clone();
        }
        if let Some(p) = &args.kmsg {
            o.kmsg_path = p.clone();
        }
        if let Some(p) = &args.socket {
            o.socket = p.clone();
        }
        if let Some(r) = &args.remote {
            o.remote = Some(parse_remote(r)?);
        }
        if let Some(f) = &args.format {
            o.format = parse_format(f)?;
        }
        if let Some(s) = &args.min_severity {
            o.min_severity = severity(s)?;
        }
        if let Some(n) = args.buffer {
            o.buffer = positive("--buffer", &n.to_string())?;
        }
        o.kmsg &= !args.no_kmsg;
        o.console &= !args.no_console;
        Ok((o, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes() {
        let a: SocketAddr = "10.0.2.2:514".parse().expect("addr");
        assert_eq!(parse_remote("udp://10.0.2.2:514"), Ok(Remote::Udp(a)));
        assert_eq!(parse_remote("TCP://10.0.2.2:514/"), Ok(Remote::Tcp(a)));
        assert!(matches!(
            parse_remote("tcp://[::1]:6514"),
            Ok(Remote::Tcp(_))
        ));
        for bad in [
            "logs.example.com:514",
            "udp://logs.example.com:514",
            "http://1.2.3.4:1",
            "udp://1.2.3.4",
        ] {
            assert!(parse_remote(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_then_cli() {
        let (cfg, _) = Config::parse(
            "logfwd.remote=udp://10.0.2.2:514\nlogfwd.format=rfc3164\nlogfwd.min_severity=warning\nlogfwd.console=off\nlogfwd.buffer=50\n",
        );
        let (o, w) = Options::resolve(&Args::default(), &cfg).expect("valid");
        assert!(w.is_empty());
        assert_eq!(o.remote, parse_remote("udp://10.0.2.2:514").ok());
        assert_eq!(o.format, Format::Rfc3164);
        assert_eq!(o.min_severity, 4);
        assert!(!o.console);
        assert_eq!(o.buffer, 50);
        assert_eq!(o.state_dir, PathBuf::from("/run/logfwd"));
        let (cfg, _) = Config::parse("logfwd.state_dir=/var/lib/logfwd\n");
        let (o, _) = Options::resolve(&Args::default(), &cfg).expect("valid");
        assert_eq!(o.state_dir, PathBuf::from("/var/lib/logfwd"));
        let args = Args {
            state_dir: Some("/tmp/s".into()),
            kmsg: Some("/tmp/k".into()),
            ..Args::default()
        };
        let (o, _) = Options::resolve(&args, &cfg).expect("valid");
        assert_eq!(o.state_dir, PathBuf::from("/tmp/s"));
        assert_eq!(o.kmsg_path, PathBuf::from("/tmp/k"));
        assert!(o.kmsg);
        let args = Args {
            remote: Some("tcp://127.0.0.1:1514".into()),
            format: Some("rfc5424".into()),
            no_kmsg: true,
            ..Args::default()
        };
        let (o, _) = Options::resolve(&args, &cfg).expect("valid");
        assert_eq!(o.remote, parse_remote("tcp://127.0.0.1:1514").ok());
        assert_eq!(o.format, Format::Rfc5424);
        assert!(!o.kmsg);
    }

    #[test]
    fn bad_config_falls_back_bad_cli_fails() {
        let (cfg, _) =
            Config::parse("logfwd.remote=syslog.lan\nlogfwd.buffer=0\nlogfwd.console=maybe\n");
        let (o, w) = Options::resolve(&Args::default(), &cfg).expect("config never fails");
        assert_eq!(o, Options::default());
        assert_eq!(w.len(), 3);
        assert!(w[0].contains("logfwd.remote"), "{w:?}");
        let args = Args {
            min_severity: Some("loud".into()),
            ..Args::default()
        };
        assert!(matches!(
            Options::resolve(&args, &Config::default()),
            Err(OptError::Severity(_))
        ));
    }
}
