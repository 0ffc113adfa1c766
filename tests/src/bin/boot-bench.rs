//! The boot's stages, before and after overlapping them (issue 16): boots
//! one image on QEMU's `pc` and `microvm` machines, alternating
//! `init.sequential=on` (before: modload, logfwd, netcfg one after the
//! other) and the overlapped start (after), and prints from init's
//! timeline on the console, median (min-max) over the runs, side by side:
//! /init -> modload's coldplug-done, /init -> netcfg online, /init -> app
//! start (/init: init's first timeline line less the mounts it reports),
//! and the floor of the same boot: the kernel's own driver init on
//! the way to the NIC (the union of the intervals modload's `loaded X in
//! N ms` lines cover, for every module loaded by the time the NIC driver's
//! load returned) plus one DHCP exchange (netcfg's `(in N ms)` on its
//! lease line: link up, the exchange and the ARP probe).
//!
//! Usage: boot-bench RUNS IMAGE [NIC-DRIVER]   (default virtio_net; run by
//! bench/boot.sh, which builds the image)

use nodistro_common::bootlog::stamp;
use nodistro_packaging::qemu::Machine;
use nodistro_tests::qemu::{BootOpts, Guest};
use nodistro_tests::stats::median_min_max;
use std::time::Duration;

/// One boot's figures, in ms.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    /// Since the kernel ran /init.
    coldplug: f64,
    online: f64,
    app: f64,
    /// Durations: driver init before the NIC exists; the DHCP exchange.
    drivers: f64,
    dhcp: f64,
}

impl Sample {
    fn floor(&self) -> f64 {
        self.drivers + self.dhcp
    }
}

/// The stamp (ms) of the first line holding `needle`.
fn at(console: &str, needle: &str) -> Result<u64, String> {
    console
        .lines()
        .find(|l| l.contains(needle))
        .and_then(stamp)
        .map(|(ms, _)| ms)
        .ok_or_else(|| format!("no {needle:?} on the console"))
}

/// A timeline line's text without a kernel line that the console put on
/// the same line (`... in 30 ms[    2.344169] input: ...`).
fn ours(rest: &str) -> &str {
    rest.split('[').next().unwrap_or(rest).trim_end()
}

/// Total length of the union of `[start, end]` intervals.
fn union_len(mut iv: Vec<(u64, u64)>) -> u64 {
    iv.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(u64, u64)> = None;
    for (s, e) in iv {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

/// `N` of a trailing `in N ms` / `(in N ms)`.
fn trailing_ms(line: &str) -> Option<u64> {
    let m = line.trim_end().trim_end_matches(')').strip_suffix(" ms")?;
    m.rsplit(' ').next()?.parse().ok()
}

fn parse(console: &str, nic_driver: &str) -> Result<Sample, String> {
    // /init's start: its first line, less the mounts it reports. Not the
    // kernel's `Run /init` line: the kernel stamps its lines with its
    // sched clock, the tools with CLOCK_BOOTTIME, and under TCG on a busy
    // host the two drift apart (the TSC gets marked unstable).
    let mounts = console
        .lines()
        .find(|l| l.contains("init: mounts done in "))
        .ok_or("no init: mounts done line on the console")?;
    let init = stamp(mounts)
        .and_then(|(t, rest)| Some(t.saturating_sub(trailing_ms(ours(rest))?)))
        .ok_or_else(|| format!("bad init: mounts done line {mounts:?}"))?;
    let since = |needle: &str| at(console, needle).map(|t| t.saturating_sub(init) as f64);
    let nic_line = format!("modload: loaded {nic_driver} in ");
    let nic = at(console, &nic_line)?;
    let mut loads = Vec::new();
    for line in console.lines() {
        let Some((t, rest)) = stamp(line) else {
            continue;
        };
        if let Some(what) = ours(rest).strip_prefix("modload: loaded ") {
            if let (Some(d), true) = (trailing_ms(what), t <= nic) {
                loads.push((t.saturating_sub(d), t));
            }
        }
    }
    let dhcp = console
        .lines()
        .filter_map(|l| stamp(l).map(|(_, r)| ours(r)))
        .find(|r| r.starts_with("netcfg: ") && r.contains(" router ") && r.ends_with(" ms)"))
        .and_then(trailing_ms)
        .ok_or("no netcfg lease line on the console")?;
    Ok(Sample {
        coldplug: since("init: modload: coldplug-done")?,
        online: since("init: netcfg: online")?,
        app: since("init: app /app/")?,
        drivers: union_len(loads) as f64,
        dhcp: dhcp as f64,
    })
}

fn one_run(img: &str, machine: Machine, sequential: bool, nic: &str) -> Result<Sample, String> {
    let mut opts = BootOpts::new(std::path::Path::new(img))
        .machine(machine)
        .timeout(Duration::from_secs(120));
    if sequential {
        opts = opts.append("init.sequential=on");
    }
    let g = Guest::boot(opts);
    g.wait_for("init: boot summary", Duration::from_secs(100))?;
    // The lease line can follow init's summary by a few lines.
    g.wait_for(" router ", Duration::from_secs(10))?;
    parse(&g.console(), nic).map_err(|e| format!("{e}\n{}", g.console_tail(3000)))
}

fn cell(v: &[f64]) -> String {
    median_min_max(v.to_vec()).map_or("?".into(), |(m, lo, hi)| {
        format!("{m:.0} ({lo:.0}-{hi:.0})")
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(runs), Some(img)) = (
        args.first().and_then(|r| r.parse::<usize>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: boot-bench RUNS IMAGE [NIC-DRIVER]");
        std::process::exit(2);
    };
    let nic = args.get(2).map_or("virtio_net", String::as_str);
    let machines = [("pc", Machine::Pc), ("microvm", Machine::Microvm)];
    // samples[machine][0: sequential, 1: overlapped]
    let mut samples: Vec<[Vec<Sample>; 2]> = vec![Default::default(), Default::default()];
    let mut failed = 0;
    for run in 1..=runs {
        for (m, (mname, machine)) in machines.iter().enumerate() {
            for (k, sequential) in [true, false].into_iter().enumerate() {
                match one_run(img, *machine, sequential, nic) {
                    Ok(s) => {
                        println!(
                            "run {run:2} {mname:7} {:10} coldplug {:5.0}  online {:5.0}  app {:5.0}  floor {:5.0} (drivers {:4.0} + dhcp {:4.0}) ms",
                            if sequential { "sequential" } else { "overlapped" },
                            s.coldplug, s.online, s.app, s.floor(), s.drivers, s.dhcp
                        );
                        samples[m][k].push(s);
                    }
                    Err(e) => {
                        // Counted and shown; the other runs still tell.
                        eprintln!("run {run} {mname} sequential={sequential}: {e}");
                        println!(
                            "run {run:2} {mname:7} sequential={sequential}: not read (stderr)"
                        );
                        failed += 1;
                    }
                }
            }
        }
    }
    if failed > 0 {
        println!("\n{failed} boots could not be read (see stderr); left out");
    }
    type Pick = fn(&Sample) -> f64;
    let rows: [(&str, Pick); 7] = [
        ("/init -> coldplug-done", |s| s.coldplug),
        ("/init -> online", |s| s.online),
        ("/init -> app start", |s| s.app),
        ("floor: driver init + DHCP", Sample::floor),
        ("  driver init (NIC path)", |s| s.drivers),
        ("  DHCP exchange (netcfg)", |s| s.dhcp),
        ("app start - floor", |s| s.app - s.floor()),
    ];
    for (m, (mname, _)) in machines.iter().enumerate() {
        println!();
        println!("| {mname}, {runs} runs each, ms: median (min-max) | before: `init.sequential=on` | after: overlapped | after/before |");
        println!("|---|---:|---:|---:|");
        for (label, pick) in rows {
            let v: Vec<Vec<f64>> = samples[m]
                .iter()
                .map(|s| s.iter().map(pick).collect())
                .collect();
            let med = |x: &[f64]| median_min_max(x.to_vec()).map(|t| t.0);
            let ratio = match (med(&v[0]), med(&v[1])) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
                _ => "?".into(),
            };
            println!("| {label} | {} | {} | {ratio} |", cell(&v[0]), cell(&v[1]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ: &str = "\
[    2.015311] Run /init as init process
[   2.030] init: mounts done in 15 ms[    2.031000] random: crng init done
[   2.102] init: starting modload
[   2.300] modload: loaded virtio_pci in 100 ms[    2.290000] input: Power Button as /x
[   2.310] modload: loaded button in 50 ms
[   2.400] modload: loaded virtio_net in 20 ms
[   2.450] modload: loaded evdev in 40 ms
[   2.521] init: modload: coldplug-done
[   2.873] netcfg: eth0 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3 lease 86400s (in 262 ms)[    2.8 x
[   2.874] init: netcfg: online eth0 10.0.2.15/24
[   2.882] init: app /app/demo-app started (pid 98)
";

    #[test]
    fn figures_from_the_timeline() {
        let s = parse(SEQ, "virtio_net").expect("parse");
        assert_eq!(
            s,
            Sample {
                coldplug: 506.0,
                online: 859.0,
                app: 867.0,
                // [2200, 2310] and [2380, 2400]; evdev came after the NIC.
                drivers: 130.0,
                dhcp: 262.0,
            }
        );
        assert_eq!(s.floor(), 392.0);
        assert!(parse(SEQ, "e1000").is_err());
    }

    #[test]
    fn union_of_intervals() {
        assert_eq!(union_len(vec![]), 0);
        assert_eq!(
            union_len(vec![(5, 10), (0, 3), (8, 12), (20, 21)]),
            3 + 7 + 1
        );
    }
}
