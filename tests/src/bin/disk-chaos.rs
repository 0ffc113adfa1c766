//! Test app for a full and a failing data disk (issue 26, point 5):
//!
//! 1. writes `/data/unsynced` without fsync (init's shutdown must sync it);
//! 2. fills /data until a write fails, and says with what (ENOSPC);
//! 3. makes ext4 on /spool fail (`trigger_fs_error` in sysfs: with
//!    `errors=remount-ro` the kernel remounts it read-only), then writes
//!    there and says with what (EROFS);
//! 4. goes on printing `disk-chaos: alive N` every 500 ms, so the test
//!    sees logfwd and init still at work, until init stops it.
//!
//! Its lines go to stdout (logfwd puts them on the console as
//! `disk-chaos: LINE`).

use std::io::Write;
use std::time::Duration;

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(28) => "ENOSPC".into(),
        Some(30) => "EROFS".into(),
        Some(5) => "EIO".into(),
        _ => e.to_string(),
    }
}

fn fill(path: &str) -> Result<u64, (u64, std::io::Error)> {
    let mut f = std::fs::File::create(path).map_err(|e| (0, e))?;
    let chunk = vec![0x5au8; 64 << 10];
    let mut n = 0u64;
    loop {
        f.write_all(&chunk).map_err(|e| (n, e))?;
        n += chunk.len() as u64;
        if n > 1 << 30 {
            return Ok(n);
        }
    }
}

fn main() {
    match std::fs::write("/data/unsynced", "kept-by-init-sync\n") {
        Ok(()) => say("wrote /data/unsynced"),
        Err(e) => say(&format!("/data/unsynced: {}", errno(&e))),
    }
    match fill("/data/fill") {
        Ok(n) => say(&format!("/data never filled ({n} bytes)")),
        Err((n, e)) => say(&format!("/data full: {} after {} KiB", errno(&e), n >> 10)),
    }
    match std::fs::write("/sys/fs/ext4/vdb/trigger_fs_error", "disk-chaos test") {
        Ok(()) => say("ext4 error triggered on /spool"),
        Err(e) => say(&format!("cannot trigger an ext4 error: {e}")),
    }
    match std::fs::write("/spool/after-error", "x") {
        Ok(()) => say("/spool write: ok"),
        Err(e) => say(&format!("/spool write: {}", errno(&e))),
    }
    for n in 1..=2000u32 {
        say(&format!("alive {n}"));
        std::thread::sleep(Duration::from_millis(500));
    }
}
