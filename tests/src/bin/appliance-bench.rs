//! Boots two appliance images alternately under QEMU (same kernel, same
//! QEMU options, same app) and prints, side by side with ratios:
//! - time from QEMU start to the first HTTP answer on the forwarded port;
//! - time from the kernel running /init to the app starting (console);
//! - guest memory in use once the app answers (sysrq-m's Mem-Info).
//!
//! Usage: appliance-bench RUNS NAME=IMAGE NAME=IMAGE [-- KERNEL-ARG...]
//! (run by bench/appliance.sh, which builds the images).

use nodistro_tests::qemu::{BootOpts, Guest};
use nodistro_tests::stats::median_min_max as stats;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Sample {
    answer_ms: f64,
    handover_ms: Option<f64>,
    mem_kib: Option<u64>,
}

/// Seconds of the kernel's `[    1.234567]` stamp on the line holding
/// `needle`.
fn stamp_of(console: &str, needle: &str) -> Option<f64> {
    let line = console.lines().find(|l| l.contains(needle))?;
    let open = line.find('[')?;
    let close = line[open..].find(']')? + open;
    line[open + 1..close].trim().parse().ok()
}

/// When the app started, in seconds since boot: nodistro's init timeline
/// line, or the busybox image's `BB-APP-START <uptime>` line.
fn app_start(console: &str) -> Option<f64> {
    if let Some(s) = stamp_of(console, "init: app ") {
        return Some(s);
    }
    let line = console.lines().find(|l| l.contains("BB-APP-START "))?;
    line.split_whitespace().last()?.parse().ok()
}

/// Memory in use (KiB) from sysrq-m: RAM pages - reserved - free.
fn mem_in_use(console: &str) -> Option<u64> {
    let start = console.rfind("Mem-Info:")?;
    let text = &console[start..];
    let num_before = |suffix: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.contains(suffix))?;
        let before = line[..line.find(suffix)?].trim_end();
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let ram = num_before(" pages RAM")?;
    let reserved = num_before(" pages reserved").unwrap_or(0);
    let free: u64 = text
        .split(|c: char| c.is_whitespace())
        .find_map(|w| w.strip_prefix("free:"))?
        .parse()
        .ok()?;
    Some((ram - reserved).saturating_sub(free) * 4)
}

fn one_run(img: &str, extra: &[String]) -> Result<Sample, String> {
    let mut opts = BootOpts::new(std::path::Path::new(img))
        .forward(8080)
        .append("sysrq_always_enabled")
        .timeout(Duration::from_secs(120));
    for a in extra {
        opts = opts.append(a);
    }
    let g = Guest::boot(opts);
    let addr = SocketAddr::from(([127, 0, 0, 1], g.host_port(8080)));
    let t0 = Instant::now();
    // Short attempts: a request sent before the guest has its address is
    // stuck in slirp's SYN retries; a new connection is quicker.
    let answer_ms = loop {
        match nodistro_packaging::qemu::http::get(addr, "/", Duration::from_millis(300)) {
            Ok(r) if r.body.contains("Hello from nodistro") => {
                break g.elapsed().as_secs_f64() * 1000.0;
            }
            _ if t0.elapsed() > Duration::from_secs(100) => {
                return Err(format!(
                    "{img}: no answer within 100 s; console tail:\n{}",
                    g.console_tail(2000)
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let before = g.console().len();
    let mem_kib = g
        .monitor("sendkey alt-sysrq-m")
        .ok()
        .and_then(|_| g.wait_for("pages reserved", Duration::from_secs(10)).ok())
        .and_then(|()| {
            std::thread::sleep(Duration::from_millis(300));
            mem_in_use(&g.console()[before..])
        });
    let c = g.console();
    let handover_ms = match (stamp_of(&c, "Run /init as init process"), app_start(&c)) {
        (Some(a), Some(b)) => Some((b - a) * 1000.0),
        _ => None,
    };
    Ok(Sample {
        answer_ms,
        handover_ms,
        mem_kib,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (main_args, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (&args[..], Vec::new()),
    };
    let usage = "usage: appliance-bench RUNS NAME=IMAGE NAME=IMAGE [-- KERNEL-ARG...]";
    let (Some(runs), [a, b]) = (
        main_args.first().and_then(|r| r.parse::<usize>().ok()),
        main_args.get(1..).unwrap_or(&[]),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let images: Vec<(&str, &str)> = [a, b]
        .iter()
        .map(|s| s.split_once('=').unwrap_or((s.as_str(), s.as_str())))
        .collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(), Vec::new()];
    for run in 1..=runs {
        for (i, (name, img)) in images.iter().enumerate() {
            match one_run(img, &extra) {
                Ok(s) => {
                    println!(
                        "run {run:2} {name:9} first answer {:7.0} ms  /init->app {:>7}  memory in use {:>9}",
                        s.answer_ms,
                        s.handover_ms.map_or("?".into(), |v| format!("{v:.0} ms")),
                        s.mem_kib.map_or("?".into(), |v| format!("{v} KiB")),
                    );
                    samples[i].push(s);
                }
                Err(e) => {
                    eprintln!("run {run} {name}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    println!();
    println!(
        "{:32} {:>24} {:>24} {:>7}",
        "median (min-max) over runs", images[0].0, images[1].0, "ratio"
    );
    type Pick = fn(&Sample) -> Option<f64>;
    let metrics: [(&str, Pick); 3] = [
        ("QEMU start -> first answer, ms", |s| Some(s.answer_ms)),
        ("/init -> app start, ms", |s| s.handover_ms),
        ("memory in use, KiB", |s| s.mem_kib.map(|v| v as f64)),
    ];
    for (label, pick) in metrics {
        let st: Vec<_> = samples
            .iter()
            .map(|v| stats(v.iter().filter_map(pick).collect()))
            .collect();
        let cell = |s: &Option<(f64, f64, f64)>| {
            s.map_or("?".to_string(), |(m, lo, hi)| {
                format!("{m:.0} ({lo:.0}-{hi:.0})")
            })
        };
        let ratio = match (st[0], st[1]) {
            (Some((x, _, _)), Some((y, _, _))) if y > 0.0 => format!("{:.2}", x / y),
            _ => "?".into(),
        };
        println!(
            "{label:32} {:>24} {:>24} {ratio:>7}",
            cell(&st[0]),
            cell(&st[1])
        );
    }
    // The goal: the first image answers sooner in every run. Runs are
    // paired (booted one after the other, so under the same machine load).
    let wins = samples[0]
        .iter()
        .zip(&samples[1])
        .filter(|(x, y)| x.answer_ms < y.answer_ms)
        .count();
    println!(
        "\nruns where {} answered first: {wins} of {}",
        images[0].0,
        samples[0].len().min(samples[1].len())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_console_figures() {
        let c = "[    1.500000] Run /init as init process\n[   2.250] init: app /app/demo-app started (pid 9)\n";
        assert_eq!(stamp_of(c, "Run /init"), Some(1.5));
        assert_eq!(app_start(c), Some(2.25));
        assert_eq!(app_start("BB-APP-START 3.25\n"), Some(3.25));
        let m = "[ 9.1] sysrq: Show Memory\n[ 9.1] Mem-Info:\n[ 9.1] active_anon:10 inactive_anon:0\n[ 9.1]  free:1000 free_pcp:5 free_cma:0\n[ 9.2] 65406 pages RAM\n[ 9.2] 0 pages HighMem/MovableOnly\n[ 9.2] 406 pages reserved\n";
        assert_eq!(mem_in_use(m), Some((65406 - 406 - 1000) * 4));
    }
}
