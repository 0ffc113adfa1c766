//! The overlapped boot (issue 16) in a real boot of the demo image: init
//! starts logfwd first, then modload and netcfg together (netcfg is there
//! before modload's coldplug is done and configures eth0 when its driver
//! makes it appear), and the app only after netcfg's `online` and
//! modload's `coldplug-done`. logfwd forwards over TCP to rsyslog on the
//! host: kernel records from before logfwd started, and from while the
//! network was not up yet, must all arrive. A second boot with
//! `init.sequential=on` shows the old order.

use nodistro_tests::logfwd::{free_port, Received, Rsyslog};
use nodistro_tests::qemu::{build_demo_image, BootOpts, Guest};
use nodistro_tests::{require_program, TempDir};
use std::time::Duration;

/// Position of `needle` on the console, or a panic with the console.
fn at(console: &str, needle: &str) -> usize {
    console
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the console:\n{console}"))
}

/// `a` comes before `b` on the console.
fn before(console: &str, a: &str, b: &str) {
    assert!(
        at(console, a) < at(console, b),
        "{a:?} should come before {b:?}:\n{console}"
    );
}

/// The kernel's own console lines (`[    2.344169] text`, six digits after
/// the point; nodistro's lines have three), wherever they sit on a line
/// (a kernel line can interrupt a tool's), with their stamp in ms.
fn kernel_lines(console: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for line in console.lines() {
        let mut rest = line;
        while let Some(i) = rest.find('[') {
            rest = &rest[i + 1..];
            let Some(close) = rest.find(']') else { break };
            let inner = rest[..close].trim_start();
            let Some((s, frac)) = inner.split_once('.') else {
                continue;
            };
            let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
            if !(digits(s) && digits(frac) && frac.len() == 6) {
                continue;
            }
            let text = rest[close + 1..].split(" [").next().unwrap_or("").trim();
            let ms = s.parse::<u64>().unwrap_or(0) * 1000 + frac[..3].parse::<u64>().unwrap_or(0);
            out.push((ms, text.to_string()));
        }
    }
    out
}

/// The ms stamp of nodistro's timeline line holding `needle`.
fn stamp(console: &str, needle: &str) -> u64 {
    let line = console
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on the console:\n{console}"));
    let inner = line.split('[').nth(1).and_then(|r| r.split(']').next());
    let (s, f) = inner
        .and_then(|i| i.trim().split_once('.'))
        .unwrap_or_else(|| panic!("no stamp on {line:?}"));
    s.parse::<u64>().expect("seconds") * 1000 + f.parse::<u64>().expect("ms")
}

#[test]
fn logfwd_first_netcfg_beside_coldplug_app_after_both() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let dir = TempDir::new(&format!("boot-overlap-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let img = build_demo_image();
    let remote = format!("logfwd.remote=tcp://10.0.2.2:{}", rs.port);
    // A second NIC (e1000, its own user network) whose driver comes later
    // in the coldplug than virtio_net: netcfg configures it too.
    let g = Guest::boot(
        BootOpts::new(img.path())
            .append(&remote)
            .user_nic("n1", "e1000", "net=10.0.3.0/24,restrict=on")
            .timeout(Duration::from_secs(150)),
    );
    let t = Duration::from_secs(90);
    for needle in [
        "init: netcfg: online eth",
        "init: app /app/demo-app started",
        "init: boot summary",
        // Which NIC is eth0 depends on which driver probes first.
        " 10.0.2.15/24 router 10.0.2.2",
        // restrict=on: no router in that lease.
        " 10.0.3.15/24 lease ",
    ] {
        g.wait_for(needle, t)
            .unwrap_or_else(|e| panic!("{e}\n{}", g.console_tail(3000)));
    }
    let c = g.console();
    before(&c, "init: starting logfwd", "init: starting modload");
    before(&c, "init: starting modload", "init: starting netcfg");
    before(&c, "init: starting netcfg", "init: modload: coldplug-done");
    before(
        &c,
        "init: netcfg: online",
        "init: app /app/demo-app started",
    );
    before(
        &c,
        "init: modload: coldplug-done",
        "init: app /app/demo-app",
    );
    assert!(!c.contains("not ready after"), "a helper timed out:\n{c}");
    assert!(!c.contains("netcfg: error"), "{c}");
    assert!(!c.contains("online none"), "no interface seen:\n{c}");

    // Kernel lines from before logfwd started, and from while the network
    // was not up (logfwd buffered them), reach rsyslog over TCP.
    let logfwd_at = stamp(&c, "init: starting logfwd");
    let online_at = stamp(&c, "init: netcfg: online");
    let kernel = kernel_lines(&c);
    let early: Vec<&String> = kernel
        .iter()
        .filter(|(ms, _)| *ms < logfwd_at)
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("Run /init"))
        .collect();
    let offline: Vec<&String> = kernel
        .iter()
        .filter(|(ms, t)| *ms > logfwd_at && *ms < online_at && !t.is_empty())
        .map(|(_, t)| t)
        .collect();
    assert_eq!(early.len(), 1, "{c}");
    assert!(
        !offline.is_empty(),
        "no kernel line between logfwd's start and online:\n{c}"
    );
    // The first 40 characters: rsyslog's field may differ at the end.
    // Lines with a backslash count too: /dev/kmsg escapes it as \x5c and
    // logfwd must forward it as the console printed it.
    let head = |t: &str| t.chars().take(40).collect::<String>();
    let wanted: Vec<String> = early.iter().chain(&offline).map(|t| head(t)).collect();
    assert!(wanted.len() >= 2, "{c}");
    let has =
        |got: &[Received], w: &str| got.iter().any(|r| r.app == "kernel" && r.msg.contains(w));
    let got = rs.wait_for(Duration::from_secs(60), |got| {
        wanted.iter().all(|w| has(got, w))
    });
    for w in &wanted {
        assert!(
            has(&got, w),
            "kernel line {w:?} never reached rsyslog ({} records):\n{}",
            got.len(),
            g.console_tail(3000)
        );
    }
    drop(g);

    // init.sequential=on: the old order, each stage after the other.
    let g = Guest::boot(
        BootOpts::new(img.path())
            .append("init.sequential=on")
            .timeout(Duration::from_secs(150)),
    );
    g.wait_for("init: app /app/demo-app started", t)
        .unwrap_or_else(|e| panic!("{e}\n{}", g.console_tail(3000)));
    let c = g.console();
    before(
        &c,
        "init: init.sequential=on: starting the helpers one after the other",
        "init: starting modload",
    );
    before(&c, "init: modload: coldplug-done", "init: starting logfwd");
    before(&c, "init: starting logfwd", "init: starting netcfg");
    before(&c, "init: netcfg: online eth0", "init: app /app/demo-app");
}

#[test]
fn kernel_lines_are_found_inside_tool_lines() {
    let c = "[    1.997846] Run /init as init process\n\
             [   2.367] modload: loaded x in 30 ms[    2.344169] input: Power Button as /x\n\
             [   2.375] init: starting logfwd\n";
    assert_eq!(
        kernel_lines(c),
        [
            (1997, "Run /init as init process".to_string()),
            (2344, "input: Power Button as /x".to_string())
        ]
    );
    assert_eq!(stamp(c, "init: starting logfwd"), 2375);
}
