//! Test app for data disks: adds one to the number in the file named by
//! its first argument (0 when absent), writes it back, syncs, and prints
//! `BOOT-COUNT n` (or `BOOT-COUNT error: ...`) on stdout and the console,
//! then exits 0.

use std::io::Write;

fn count(path: &str) -> Result<u64, String> {
    let n = match std::fs::read_to_string(path) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("{path}: {e}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(format!("{path}: {e}")),
    } + 1;
    let mut f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    f.write_all(format!("{n}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(n)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/data/count".into());
    let line = match count(&path) {
        Ok(n) => format!("BOOT-COUNT {n}\n"),
        Err(e) => format!("BOOT-COUNT error: {e}\n"),
    };
    let _ = std::io::stdout().write_all(line.as_bytes());
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = c.write_all(line.as_bytes());
    }
}
