//! Test app for the chaos tests (issue 26). What it does comes from the
//! environment (kernel command-line words init passes on):
//! - `chaosapp_mode=tick`: one line `chaos-app: tick NNNNNN` every 100 ms
//!   (10 a second, on a fixed schedule), numbered from 1, forever;
//! - `chaosapp_mode=exit`: say so and exit 3 at once (a crash loop under
//!   `init.on_exit=restart`);
//! - `chaosapp_mode=kill`: answer TCP connections on port 8080 (a health
//!   check), then `chaosapp_rounds` times (default 4) for each helper of
//!   `chaosapp_kill` (comma list, default `logfwd,netcfg,modload`): find
//!   its pid in /proc, SIGKILL it, and wait until another process of that
//!   name runs (init restarted it); then `chaos-app: all helpers back`.

#![allow(unsafe_code)]

use std::io::Write;
use std::time::{Duration, Instant};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("chaos-app: {line}\n").as_bytes());
    let _ = out.flush();
}

/// Straight to /dev/console, not through logfwd: in kill mode logfwd is
/// SIGKILLed, and lines it had read but not yet written die with it.
fn say_console(line: &str) {
    match std::fs::OpenOptions::new().write(true).open("/dev/console") {
        // One write(2): writeln! writes piece by piece, and other
        // writers' lines land between the pieces.
        Ok(mut c) => {
            let _ = c.write_all(format!("chaos-app: {line}\n").as_bytes());
        }
        Err(_) => say(line),
    }
}

fn main() {
    match env("chaosapp_mode").as_deref() {
        Some("tick") => tick(),
        Some("exit") => {
            say("exiting at once");
            std::process::exit(3);
        }
        Some("kill") => kill_helpers(),
        other => {
            say(&format!("unknown chaosapp_mode {other:?}"));
            std::process::exit(2);
        }
    }
}

fn tick() -> ! {
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        n += 1;
        say(&format!("tick {n:06}"));
        let next = start + Duration::from_millis(100 * n);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// Pids of the processes whose argv[0]'s last component is `name`.
fn pids_of(name: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && pid != 1)
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmd.split(|&b| b == 0).next().unwrap_or_default();
            argv0.rsplit(|&b| b == b'/').next() == Some(name.as_bytes())
        })
        .collect()
}

fn kill_helpers() {
    let listener = match std::net::TcpListener::bind(("0.0.0.0", 8080)) {
        Ok(l) => l,
        Err(e) => {
            say_console(&format!("cannot listen on 8080: {e}"));
            std::process::exit(1);
        }
    };
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        }
    });
    let rounds: u32 = env("chaosapp_rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let helpers = env("chaosapp_kill").unwrap_or_else(|| "logfwd,netcfg,modload".into());
    say_console(&format!(
        "listening on 8080; killing {helpers} {rounds} times each"
    ));
    for round in 1..=rounds {
        for name in helpers.split(',').filter(|n| !n.is_empty()) {
            let Some(&pid) = pids_of(name).first() else {
                say_console(&format!("no {name} running (round {round})"));
                std::process::exit(1);
            };
            // SAFETY: kill(2) on a pid we just read; no memory is touched.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let killed = Instant::now();
            say_console(&format!("killed {name} pid {pid} (round {round})"));
            loop {
                if killed.elapsed() > Duration::from_secs(90) {
                    say_console(&format!("{name} not back after 90 s"));
                    std::process::exit(1);
                }
                if let Some(new) = pids_of(name).into_iter().find(|&p| p != pid) {
                    say_console(&format!(
                        "{name} back as pid {new} after {} ms",
                        killed.elapsed().as_millis()
                    ));
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    say_console("all helpers back");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
