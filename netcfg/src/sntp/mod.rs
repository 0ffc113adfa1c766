//! The SNTP client (RFC 4330): a thread of netcfg, because netcfg learns
//! the servers (DHCPv4 option 42, DHCPv6 option 56) and already holds
//! init's readiness line, which `init.wait_time=on` holds back until the
//! first sync. Servers from `ntp=` (cmdline, `ADDR`, `ADDR:PORT`,
//! `[V6]:PORT`) come first. The first believed answer steps the clock,
//! later ones slew it (a jump over 0.5 s steps again); the RTC is set
//! after a step. Answers older than the image's build time are refused
//! (as systemd-timesyncd does).

pub mod clock;
pub mod learned;

use crate::core::sntp as packet;
use crate::core::sntp_poll::{Adjust, Schedule};
use crate::shared::{Options, Shared};
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::net::{IpAddr, SocketAddr};

/// Parse `ntp=`: comma-separated `ADDR`, `ADDR:PORT`, `[V6]:PORT`, `V6`.
pub fn parse_servers(v: &str) -> (Vec<SocketAddr>, Vec<String>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match s
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| s.parse::<IpAddr>().ok().map(|a| SocketAddr::new(a, 123)))
        {
            Some(a) if a.port() != 0 && out.len() < 8 => out.push(a),
            _ => bad.push(format!(
                "ntp={s:?} is not ADDR, ADDR:PORT or [IPV6]:PORT (names are not resolved); ignored"
            )),
        }
    }
    (out, bad)
}

/// The build time below which no answer is believed: the compile-time
/// SOURCE_DATE_EPOCH if set, this release's date otherwise, or the
/// binary's own mtime if later.
pub fn floor() -> i64 {
    const RELEASE: i64 = 1_793_491_200; // 2026-11-01
    let built = option_env!("SOURCE_DATE_EPOCH")
        .and_then(|s| s.parse().ok())
        .unwrap_or(RELEASE);
    let exe = std::fs::metadata("/proc/self/exe")
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    built.max(RELEASE).max(exe)
}

fn wait(fd: &std::os::fd::OwnedFd, stop: &std::os::fd::OwnedFd, ms: u64) -> (bool, bool) {
    let ts = Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    let mut fds = [
        PollFd::new(fd, PollFlags::IN),
        PollFd::new(stop, PollFlags::IN),
    ];
    let _ = poll(&mut fds, Some(&ts));
    (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
}

/// Ask `server` once; the sample if believed.
fn query(
    server: SocketAddr,
    stop: &std::os::fd::OwnedFd,
    timeout_ms: u64,
    floor: i64,
) -> Result<packet::Sample, String> {
    let fam = if server.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = net::socket_with(
        fam,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    let nonce = {
        let mut b = [0u8; 8];
        let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE);
        u64::from_ne_bytes(b)
    };
    let t1 = clock::now_ns();
    net::sendto(
        &fd,
        &packet::request(nonce),
        net::SendFlags::empty(),
        &server,
    )
    .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let end = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms);
    let mut buf = [0u8; 128];
    loop {
        let left = end
            .saturating_duration_since(std::time::Instant::now())
            .as_millis() as u64;
        if left == 0 {
            return Err(format!("no answer from {server} within {timeout_ms} ms"));
        }
        let (readable, stopped) = wait(&fd, stop, left);
        if stopped {
            return Err("stopping".into());
        }
        if !readable {
            continue;
        }
        if let Ok((n, _, Some(from))) = net::recvfrom(&fd, &mut buf[..], net::RecvFlags::DONTWAIT) {
            let t4 = clock::now_ns();
            let from: Option<SocketAddr> = from.try_into().ok();
            if from != Some(server) {
                continue;
            }
            // A garbage reply is final for this request: say why.
            return packet::parse(&buf[..n.min(buf.len())], nonce, t1, t4, floor)
                .map_err(|e| format!("{server}: {e}"));
        }
    }
}

/// Wait up to `ms` for the stop pipe; true if it fired.
fn stopped_for(stop: &std::os::fd::OwnedFd, ms: u64) -> bool {
    let ts = Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    let mut fds = [PollFd::new(stop, PollFlags::IN)];
    poll(&mut fds, Some(&ts)).is_ok_and(|n| n > 0)
}

fn secs(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    let a = ns.unsigned_abs();
    format!(
        "{sign}{}.{:06} s",
        a / 1_000_000_000,
        a % 1_000_000_000 / 1000
    )
}

/// The client loop; returns when `shared.stop` fires.
pub fn run(o: &Options, shared: &Shared) {
    let mut c = Client {
        o,
        shared,
        floor: floor(),
        schedule: Schedule::default(),
        said: Vec::new(),
    };
    loop {
        let servers = c.servers();
        let Some(&server) = c
            .schedule
            .server(servers.len())
            .and_then(|i| servers.get(i))
        else {
            if stopped_for(&shared.stop, 500) {
                return;
            }
            continue;
        };
        let sleep_ms = match query(server, &shared.stop, c.schedule.timeout_ms(), c.floor) {
            Ok(s) => c.answer(server, &s),
            Err(e) if e == "stopping" => return,
            Err(e) if e.starts_with("cannot send") => {
                // No address or route yet (DHCP still running): soon again.
                c.say(format!("{e}; clock unchanged"));
                250
            }
            Err(e) => {
                c.say(format!("{e}; clock unchanged"));
                c.schedule.failed()
            }
        };
        if stopped_for(&shared.stop, sleep_ms) {
            return;
        }
    }
}

/// The client's state between questions.
struct Client<'a> {
    o: &'a Options,
    shared: &'a Shared,
    /// No answer older than this (Unix seconds) is believed.
    floor: i64,
    schedule: Schedule,
    /// Console lines said once.
    said: Vec<String>,
}

impl Client<'_> {
    fn say(&mut self, s: String) {
        if self.said.len() < 32 && !self.said.contains(&s) {
            log("netcfg", &format!("time: {s}"));
            self.said.push(s);
        }
    }

    /// `ntp=` first, then the servers DHCP gave.
    fn servers(&self) -> Vec<SocketAddr> {
        let mut servers = self.o.ntp.clone();
        let learned = self.shared.ntp.servers();
        servers.extend(learned.into_iter().filter(|s| !self.o.ntp.contains(s)));
        servers
    }

    /// A believed answer: the clock stepped or slewed (the RTC set after
    /// a step, init told after the first sync); the ms to sleep.
    fn answer(&mut self, server: SocketAddr, s: &packet::Sample) -> u64 {
        let how = match self.schedule.adjust(s.offset_ns) {
            Adjust::Step => clock::step(s.offset_ns).map(|()| "stepped"),
            Adjust::Slew => clock::slew(s.offset_ns).map(|()| "slewing"),
        };
        match how {
            Ok(how) => {
                log(
                    "netcfg",
                    &format!(
                        "time: {how} by {} from {server} (stratum {}, delay {}.{} ms)",
                        secs(s.offset_ns),
                        s.stratum,
                        s.delay_ns / 1_000_000,
                        s.delay_ns / 100_000 % 10
                    ),
                );
                if how == "stepped" {
                    self.set_rtc();
                }
                if self.schedule.clock_set() {
                    self.first_sync();
                }
            }
            Err(e) => self.say(format!("cannot set the clock: {e}")),
        }
        self.schedule.answered()
    }

    fn set_rtc(&mut self) {
        match clock::set_rtc() {
            Ok(true) => self.say("RTC set".into()),
            Ok(false) => self.say("no RTC (/dev/rtc0) to set".into()),
            Err(e) => self.say(format!("cannot set the RTC: {e}")),
        }
    }

    /// The readiness line held for `init.wait_time=on`, if any, goes now.
    fn first_sync(&self) {
        if let Some(line) = self.shared.ready.time_synced() {
            if let Ok(mut n) = self.shared.notifier.lock() {
                n.notify(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_parameter_forms() {
        let (s, bad) =
            parse_servers("10.0.2.2, 10.0.2.2:1123,[fd00::1]:5,fd00::2,pool.ntp.org,1.2.3.4:0");
        assert_eq!(
            s,
            vec![
                "10.0.2.2:123".parse().expect("a"),
                "10.0.2.2:1123".parse().expect("a"),
                "[fd00::1]:5".parse().expect("a"),
                "[fd00::2]:123".parse().expect("a"),
            ]
        );
        assert_eq!(bad.len(), 2);
        assert!(floor() >= 1_793_491_200);
    }
}
