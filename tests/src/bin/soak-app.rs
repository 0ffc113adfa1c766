//! The soak test's app (issue 26, point 6): a syslog flood and a meter.
//!
//! - prints `soak seq=N` on stdout, RATE lines a second (first argument,
//!   default 100): init hands stdout to logfwd, which forwards it;
//! - every INTERVAL seconds (second argument, default 30) writes one line
//!   straight to /dev/console: `SOAK-STATS t=SECS seq=N` and, for init
//!   and each helper found in /proc by name, ` NAME=RSS_KIB/FDS`.

use std::io::Write;
use std::time::{Duration, Instant};

const WATCHED: [&str; 4] = ["init", "modload", "netcfg", "logfwd"];

/// The `Rss:` of /proc/PID/smaps_rollup in KiB: a walk of the page
/// tables. (VmRSS in /proc/PID/status lags for threaded processes: the
/// kernel batches each thread's counts, netcfg showed 4 KiB there.)
fn rss_kib(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Rss:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// RSS in KiB and the number of open fds of `pid`.
fn meter(pid: &str) -> Option<(u64, usize)> {
    let rss = rss_kib(pid)?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

fn stats(t: u64, seq: u64) -> String {
    let mut line = format!("SOAK-STATS t={t} seq={seq}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return line;
    };
    let mut found: Vec<(String, u64, usize)> = Vec::new();
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let name = if pid == "1" { "init" } else { comm.trim() };
        if WATCHED.contains(&name) {
            if let Some((rss, fds)) = meter(&pid) {
                found.push((name.to_string(), rss, fds));
            }
        }
    }
    found.sort();
    for (name, rss, fds) in found {
        line.push_str(&format!(" {name}={rss}/{fds}"));
    }
    line
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(100)
        .max(1);
    let interval: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(30)
        .max(1);
    let start = Instant::now();
    let mut console = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/console")
        .ok();
    let mut out = std::io::stdout();
    let mut seq = 0u64;
    let mut next_stats = 0u64;
    loop {
        let t = start.elapsed().as_secs();
        if t >= next_stats {
            if let Some(c) = console.as_mut() {
                // One write(2), so no other writer splits the line.
                let _ = c.write_all(format!("{}\n", stats(t, seq)).as_bytes());
            }
            next_stats = t + interval;
        }
        // One second's lines, spread over the second.
        for _ in 0..rate {
            seq += 1;
            let _ = writeln!(out, "soak seq={seq}");
            let _ = out.flush();
            std::thread::sleep(Duration::from_micros(1_000_000 / rate));
        }
    }
}
