//! Peers for the logfwd tests: an rsyslog receiver on loopback writing the
//! fields of every record it gets to a file, and a logfwd process.

use crate::{require_program, TempDir};
use rustix::process::Pid;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::free_port;

/// One record as rsyslog saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub hostname: String,
    pub app: String,
    pub procid: String,
    pub facility: u8,
    pub severity: u8,
    /// RFC 5424 structured data (`-` when none).
    pub sd: String,
    pub msg: String,
}

/// A child killed with SIGKILL and reaped on drop.
pub use crate::ChildGuard as Proc;

/// rsyslogd in the foreground with imudp and imtcp on 127.0.0.1:`port`,
/// writing `host|app|procid|facility|severity|structured-data|msg` lines to a file in its
/// directory. No imuxsock, no imklog: the host's /dev/log and logs are
/// untouched.
pub struct Rsyslog {
    pub port: u16,
    pub out: PathBuf,
    dir: PathBuf,
    proc: Option<Proc>,
}

impl Rsyslog {
    pub fn start(dir: &TempDir, port: u16) -> Rsyslog {
        let mut r = Rsyslog {
            port,
            out: dir.path().join("received.log"),
            dir: dir.path().to_path_buf(),
            proc: None,
        };
        r.restart();
        r
    }

    /// (Re)start on the same port, appending to the same file.
    pub fn restart(&mut self) {
        let rsyslogd = require_program("rsyslogd", "rsyslog");
        let work = self.dir.join("rsyslog-work");
        let _ = std::fs::create_dir_all(&work);
        let conf = self.dir.join("rsyslog.conf");
        let text = format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{port}")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string" string="%hostname%|%app-name%|%procid%|%syslogfacility%|%syslogseverity%|%structured-data%|%msg%\n")
if $inputname == "imudp" or $inputname == "imtcp" then {{
  action(type="omfile" file="{out}" template="fields")
}}
"#,
            work = work.display(),
            port = self.port,
            out = self.out.display()
        );
        std::fs::write(&conf, text).expect("write rsyslog.conf");
        let log = std::fs::File::create(self.dir.join("rsyslogd.stderr")).expect("create log");
        let child = Command::new(rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rsyslogd");
        let mut p = Proc(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(p.alive(), "rsyslogd exited at start: {}", self.stderr());
            assert!(Instant::now() < end, "rsyslogd does not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.proc = Some(p);
    }

    /// Stop (SIGTERM: rsyslog writes out what it has) and wait.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            assert!(
                p.terminate(Duration::from_secs(10)),
                "rsyslogd does not stop"
            );
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap_or_default()
    }

    /// Records written so far.
    pub fn received(&self) -> Vec<Received> {
        let text = std::fs::read(&self.out).unwrap_or_default();
        String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| {
                let mut f = l.splitn(7, '|');
                Some(Received {
                    hostname: f.next()?.to_string(),
                    app: f.next()?.to_string(),
                    procid: f.next()?.to_string(),
                    facility: f.next()?.parse().ok()?,
                    severity: f.next()?.parse().ok()?,
                    sd: f.next()?.to_string(),
                    msg: f.next()?.to_string(),
                })
            })
            .collect()
    }

    /// Wait until `done(records)` holds (or `limit` passes); the records.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let mut got = Vec::new();
        crate::poll_until(limit, Duration::from_millis(100), || {
            got = self.received();
            done(&got)
        });
        got
    }
}

/// The logfwd under test: `NODISTRO_LOGFWD_BIN` if set (a debug build while
/// iterating), else the workspace's release binary.
pub fn logfwd_bin() -> PathBuf {
    std::env::var_os("NODISTRO_LOGFWD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::release_bin("logfwd"))
}

/// Start logfwd with `args` (plus `--no-console --socket DIR/log`, and
/// `--no-kmsg` unless `args` name a `--kmsg` file), stderr to
/// DIR/logfwd.stderr; wait for its socket.
pub fn start_logfwd(dir: &Path, args: &[&str], cmd: impl FnOnce(&mut Command)) -> (Proc, PathBuf) {
    let sock = dir.join("log");
    let err = std::fs::File::create(dir.join("logfwd.stderr")).expect("create stderr file");
    let mut c = Command::new(logfwd_bin());
    c.arg("--socket")
        .arg(&sock)
        .args(["--no-console", "--config", "/nonexistent"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    if !args.contains(&"--kmsg") {
        c.arg("--no-kmsg");
    }
    cmd(&mut c);
    let mut p = Proc(c.spawn().expect("start logfwd"));
    let made = crate::poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
        assert!(
            p.alive(),
            "logfwd exited at start: {}",
            std::fs::read_to_string(dir.join("logfwd.stderr")).unwrap_or_default()
        );
        sock.exists()
    });
    assert!(made, "logfwd does not create {}", sock.display());
    (p, sock)
}

/// Resident memory of a process in KiB.
pub fn vm_rss_kib(pid: Pid) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.as_raw_nonzero()))
        .expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Ask logfwd for a ring dump (SIGUSR1) and wait for it on its stderr
/// (`dir/logfwd.stderr`); returns the dump's text.
pub fn ring_dump(lf: &crate::ChildGuard, dir: &Path) -> String {
    let path = dir.join("logfwd.stderr");
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    let before = read().len();
    lf.signal(rustix::process::Signal::USR1);
    let mut dump = String::new();
    crate::wait_until(Duration::from_secs(10), "no ring dump", || {
        let text = read();
        dump = text.get(before..).unwrap_or_default().to_string();
        dump.contains("logfwd: end of ring dump")
    });
    dump
}

/// The remote sink's queued count in a ring dump ("remote queued N").
pub fn remote_queued(dump: &str) -> u64 {
    dump.split_once("remote queued ")
        .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The count in logfwd's "N messages lost" notices.
pub fn lost_in(r: &Received) -> Option<u64> {
    if r.app != "logfwd" {
        return None;
    }
    r.msg.trim().split_once(" messages lost")?.0.parse().ok()
}
