//! Test app for A/B updates (issue 24): `update-app VERSION [crash]`.
//! Appends VERSION to /data/history (synced), prints
//! `UPDATE-APP version V history A,B,...` on the console, then stays up,
//! or with `crash` exits 3 a second later (a release whose app fails).

use std::io::Write;

fn console(line: &str) {
    let line = format!("{line}\n");
    let _ = std::io::stdout().write_all(line.as_bytes());
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = c.write_all(line.as_bytes());
    }
}

fn record(version: &str) -> Result<String, String> {
    let path = "/data/history";
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    f.write_all(format!("{version}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{path}: {e}"))?;
    let all = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(all.lines().collect::<Vec<_>>().join(","))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let version = args.get(1).cloned().unwrap_or_else(|| "?".into());
    match record(&version) {
        Ok(h) => console(&format!("UPDATE-APP version {version} history {h}")),
        Err(e) => console(&format!("UPDATE-APP version {version} error {e}")),
    }
    if args.get(2).is_some_and(|a| a == "crash") {
        std::thread::sleep(std::time::Duration::from_secs(1));
        console("UPDATE-APP crashing");
        std::process::exit(3);
    }
    loop {
        std::thread::park();
    }
}
