//! Console lines stamped with the time since the kernel started, in the
//! kernel's own `[seconds.millis]` style, so that init's timeline lines sit
//! naturally between kernel messages on a serial console.

use std::io::Write;

/// Milliseconds since boot (CLOCK_BOOTTIME: the clock the kernel's own
/// printk timestamps follow closely).
pub fn since_boot_ms() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

/// `[   1.234] tool: message`
pub fn format_line(ms: u64, tool: &str, msg: &str) -> String {
    format!("[{:4}.{:03}] {tool}: {msg}", ms / 1000, ms % 1000)
}

/// Write one stamped line to stderr (the console for tools started by init).
/// Errors writing to the console are ignored: there is nowhere else to say.
pub fn log(tool: &str, msg: &str) {
    // One write(2) per line: stderr is unbuffered and `writeln!` would issue
    // the text and the newline separately, letting other processes' lines
    // land in between on a shared console.
    let mut line = format_line(since_boot_ms(), tool, msg);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    keep(line.as_bytes());
}

pub use crate::protocol::init::TIMELINE_FILE;
/// The copy stops growing at this size.
const TIMELINE_MAX: u64 = 256 * 1024;

fn keep(line: &[u8]) {
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(TIMELINE_FILE) {
        if f.metadata().is_ok_and(|m| m.len() < TIMELINE_MAX) {
            let _ = f.write_all(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format() {
        assert_eq!(format_line(1234, "init", "hi"), "[   1.234] init: hi");
        assert_eq!(format_line(5, "x", "y"), "[   0.005] x: y");
        assert_eq!(format_line(12_345_678, "x", "y"), "[12345.678] x: y");
    }

    #[test]
    fn clock_moves_forward() {
        let a = since_boot_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(since_boot_ms() >= a + 4);
    }
}
