//! /proc text to console tables, sans-IO: `ps`, `free`, `uptime`, `mounts`,
//! `df`, `lsmod`. Every function takes the files' contents as strings and
//! returns lines that fit 80 columns; malformed input is skipped.

use crate::core::width::fit;

/// One process, from /proc/PID/{stat,status,cmdline}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub state: char,
    pub rss_kib: Option<u64>,
    pub command: String,
}

/// Parse one process's files. `None` when `stat` is malformed.
pub fn proc_of(stat: &str, status: &str, cmdline: &[u8]) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat.get(..open)?.trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    let rss_kib = status.lines().find_map(|l| {
        let v = l.strip_prefix("VmRSS:")?;
        v.split_whitespace().next()?.parse().ok()
    });
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let command = if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    };
    Some(Proc {
        pid,
        state,
        rss_kib,
        command,
    })
}

pub fn ps(procs: &[Proc]) -> String {
    let mut out = String::from("  PID S   RSS(KiB) COMMAND\n");
    for p in procs {
        let rss = p.rss_kib.map_or("-".to_string(), |r| r.to_string());
        out += &fit(&format!(
            "{:5} {} {:>10} {}",
            p.pid, p.state, rss, p.command
        ));
        out.push('\n');
    }
    out
}

fn meminfo_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// `free` from /proc/meminfo, in KiB.
pub fn free(meminfo: &str) -> String {
    let g = |k| meminfo_kib(meminfo, k);
    let (Some(total), Some(free)) = (g("MemTotal"), g("MemFree")) else {
        return "free: /proc/meminfo is not readable as expected\n".into();
    };
    let cache =
        g("Buffers").unwrap_or(0) + g("Cached").unwrap_or(0) + g("SReclaimable").unwrap_or(0);
    let avail = g("MemAvailable").unwrap_or(free + cache);
    let used = total.saturating_sub(free).saturating_sub(cache);
    let mut out = format!(
        "{:6} {:>11} {:>11} {:>11} {:>11} {:>11}\n",
        "KiB", "total", "used", "free", "buff/cache", "available"
    );
    out += &format!(
        "{:6} {total:>11} {used:>11} {free:>11} {cache:>11} {avail:>11}\n",
        "Mem:"
    );
    if let (Some(st), Some(sf)) = (g("SwapTotal"), g("SwapFree")) {
        out += &format!(
            "{:6} {st:>11} {:>11} {sf:>11}\n",
            "Swap:",
            st.saturating_sub(sf)
        );
    }
    out
}

/// `H:MM:SS` or `D days, H:MM:SS`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} days, {h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

/// `uptime` from /proc/uptime and /proc/loadavg.
pub fn uptime(uptime: &str, loadavg: &str) -> String {
    let up = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.split('.').next())
        .and_then(|s| s.parse::<u64>().ok());
    let l: Vec<&str> = loadavg.split_whitespace().collect();
    let mut out = match up {
        Some(s) => format!("up {}", duration(s)),
        None => "up ?".into(),
    };
    if l.len() >= 4 {
        out += &format!(", load {} {} {}", l[0], l[1], l[2]);
        if let Some((_, total)) = l[3].split_once('/') {
            out += &format!(", {total} tasks");
        }
    }
    out.push('\n');
    out
}

/// /proc/mounts escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// (source, mount point, type, options) of each /proc/mounts line.
pub fn mount_list(mounts: &str) -> Vec<(String, String, String, String)> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| (unescape(f[0]), unescape(f[1]), f[2].into(), f[3].into()))
        })
        .collect()
}

pub fn mounts(text: &str) -> String {
    let mut out = format!(
        "{:<20} {:<10} {:<12} OPTIONS\n",
        "MOUNT POINT", "TYPE", "SOURCE"
    );
    for (src, mnt, ty, opts) in mount_list(text) {
        out += &fit(&format!("{mnt:<20} {ty:<10} {src:<12} {opts}"));
        out.push('\n');
    }
    out
}

/// One file system's figures for `df`, in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub mount: String,
    pub fstype: String,
    pub total_kib: u64,
    pub free_kib: u64,
    pub avail_kib: u64,
}

pub fn df(list: &[Usage]) -> String {
    let mut out = format!(
        "{:<20} {:<9} {:>11} {:>11} {:>11} {:>4}\n",
        "MOUNTED ON", "TYPE", "KiB", "USED", "AVAIL", "USE%"
    );
    for u in list {
        let used = u.total_kib.saturating_sub(u.free_kib);
        let pct = if u.total_kib == 0 {
            "-".to_string()
        } else {
            format!("{}%", (used * 100).div_ceil(u.total_kib))
        };
        out += &fit(&format!(
            "{:<20} {:<9} {:>11} {:>11} {:>11} {:>4}",
            u.mount, u.fstype, u.total_kib, used, u.avail_kib, pct
        ));
        out.push('\n');
    }
    out
}

/// Module names in /proc/modules.
pub fn module_names(modules: &str) -> Vec<&str> {
    modules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// `lsmod` from /proc/modules.
pub fn lsmod(modules: &str) -> String {
    let mut out = format!("{:<24} {:>9} USED BY\n", "MODULE", "SIZE");
    for l in modules.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let by = f[3].trim_end_matches(',').replace(',', " ");
        let by = if by == "-" { String::new() } else { by };
        out += &fit(format!("{:<24} {:>9} {} {by}", f[0], f[1], f[2]).trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(s: &str) -> bool {
        s.lines().all(|l| l.chars().count() <= 80)
    }

    #[test]
    fn ps_from_proc_files() {
        let p = proc_of(
            "93 (demo app) S 1 93 93 0 -1",
            "Name:\tdemo\nVmRSS:\t    1234 kB\n",
            b"/app/demo-app\0--port\08080\0",
        )
        .expect("test input");
        assert_eq!(p.pid, 93);
        assert_eq!(p.state, 'S');
        assert_eq!(p.rss_kib, Some(1234));
        assert_eq!(p.command, "/app/demo-app --port 8080");
        let k = proc_of("2 (kthreadd) S 0 0", "Name:\tkthreadd\n", b"").expect("test input");
        assert_eq!((k.command.as_str(), k.rss_kib), ("[kthreadd]", None));
        let long = Proc {
            command: "x".repeat(300),
            ..p.clone()
        };
        let t = ps(&[p, k, long]);
        assert!(
            t.contains("   93 S       1234 /app/demo-app --port 8080"),
            "{t}"
        );
        assert!(t.contains("    2 S          - [kthreadd]"), "{t}");
        assert!(fits(&t), "{t}");
        assert!(proc_of("garbage", "", b"").is_none());
        assert!(proc_of("x) (y", "", b"").is_none());
    }

    #[test]
    fn free_uptime() {
        let m = "MemTotal:  250000 kB\nMemFree:  200000 kB\nMemAvailable: 220000 kB\nBuffers: 1000 kB\nCached: 9000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n";
        let f = free(m);
        assert!(
            f.contains("Mem:        250000       40000      200000       10000      220000"),
            "{f}"
        );
        assert!(fits(&f));
        assert!(free("").contains("not readable"));
        assert_eq!(
            uptime("3723.45 1.0\n", "0.10 0.20 0.30 1/45 99\n"),
            "up 1:02:03, load 0.10 0.20 0.30, 45 tasks\n"
        );
        assert_eq!(duration(90061), "1 days, 1:01:01");
        assert_eq!(uptime("", ""), "up ?\n");
    }

    #[test]
    fn mounts_df_lsmod() {
        let m = mounts("proc /proc proc rw,nosuid 0 0\nnone /my\\040dir tmpfs rw 0 0\nshort\n");
        assert!(
            m.contains("/proc                proc       proc         rw,nosuid"),
            "{m}"
        );
        assert!(m.contains("/my dir"));
        assert_eq!(m.lines().count(), 3);
        let d = df(&[Usage {
            mount: "/run".into(),
            fstype: "tmpfs".into(),
            total_kib: 1000,
            free_kib: 750,
            avail_kib: 750,
        }]);
        assert!(
            d.contains("/run                 tmpfs            1000         250         750  25%"),
            "{d}"
        );
        let l = lsmod(
            "virtio_net 61440 0 - Live 0x0\nnet_failover 20480 1 virtio_net, Live 0x0\nbad\n",
        );
        assert!(
            l.contains("net_failover                 20480 1 virtio_net"),
            "{l}"
        );
        assert_eq!(l.lines().count(), 3);
        assert_eq!(module_names("a 1 0 - Live\nb 2 0 - Live\n"), ["a", "b"]);
    }
}
