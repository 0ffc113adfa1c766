//! A tiny static init for the boot tests: writes a marker line (with the
//! `markertoken=` value the kernel passes in init's environment) on the
//! console, then powers off with reboot(2) (or stays up with
//! `markerhang=1`). Booted with `rdinit=`.

use std::io::Write;

fn main() {
    let token = std::env::var("markertoken").unwrap_or_else(|_| "none".into());
    let line = format!("NODISTRO-MARKER pid={} token={token}\n", std::process::id());
    // stdout is the console when the kernel found /dev/console; say it there
    // and on /dev/console itself in case it did not.
    let _ = std::io::stdout().write_all(line.as_bytes());
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = c.write_all(line.as_bytes());
    }
    // `markerhang=1` on the kernel command line: stay up (timeout tests).
    if std::env::var("markerhang").is_ok_and(|v| v == "1") {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    rustix::fs::sync();
    if let Err(e) = rustix::system::reboot(rustix::system::RebootCommand::PowerOff) {
        eprintln!("marker-init: reboot(POWER_OFF) failed: {e}");
    }
    // Returning from PID 1 panics the kernel: the test sees that.
}
