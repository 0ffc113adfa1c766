//! Chaos (issue 26, items 1-4): the whole appliance under QEMU while its
//! network and its peers fail.
//! - link flap: the NIC's cable out for 20 s (`set_link off`) and back;
//!   netcfg sees the carrier go and come back, confirms its lease
//!   (INIT-REBOOT) and the app answers through the forward again;
//! - syslog server (rsyslog on the host, TCP) away for 60 s while the app
//!   logs 10 lines a second: nothing lost within `logfwd.buffer`, once
//!   each and in order; a longer outage overflows the buffer and the
//!   count of dropped lines arrives in one notice;
//! - crash loops: an app that exits at once is restarted with a growing,
//!   capped delay; helpers killed again and again come back with growing
//!   delays while PID 1, the health check and the watchdog hold.
//!
//! The DHCP server's NAK after a range change (item 2) runs against
//! dnsmasq in `netcfg_dnsmasq.rs`. No timing is asserted here: the events
//! are, with generous timeouts; each test prints its figures
//! (BENCHMARKS.md, "Chaos").

use nodistro_tests::logfwd::{free_port, lost_in, Received, Rsyslog};
use nodistro_tests::qemu::{app_image, build_demo_image, BootOpts, Guest, Nic, Outcome};
use nodistro_tests::TempDir;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(90);

/// Console lines containing `needle`.
fn lines_with<'a>(console: &'a str, needle: &str) -> Vec<&'a str> {
    console.lines().filter(|l| l.contains(needle)).collect()
}

/// The `[  12.345]` stamp of a timeline line, in ms.
fn stamp_ms(line: &str) -> Option<u64> {
    let inner = line.split_once('[')?.1.split_once(']')?.0.trim();
    let (s, ms) = inner.split_once('.')?;
    Some(s.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?)
}

/// The number after `word` in `line` (`restarting app in 400 ms`).
fn number_after(line: &str, word: &str) -> Option<u64> {
    line.split_once(word)?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn link_flap_keeps_the_lease_and_the_app_answers_again() {
    let img = build_demo_image();
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .forward(8080)
            .restrict()
            .timeout(Duration::from_secs(300)),
    );
    if let Err(e) = g.http_poll(8080, "/", "Hello from nodistro", T) {
        panic!("no first answer: {e}");
    }
    g.expect_line("netcfg: eth0 10.0.2.15/24", T);

    let before = g.console_len();
    g.set_link(false).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = g.wait_for_from(before, "netcfg: eth0: carrier lost", T) {
        panic!("carrier loss not seen: {e}");
    }
    // The scenario: 20 s without a cable.
    std::thread::sleep(Duration::from_secs(20));
    let back = g.console_len();
    let on = Instant::now();
    g.set_link(true).unwrap_or_else(|e| panic!("{e}"));
    let wait = |needle: &str| {
        if let Err(e) = g.wait_for_from(back, needle, T) {
            panic!("{e}");
        }
    };
    wait("netcfg: eth0: carrier back; confirming the lease");
    wait("netcfg: eth0: lease on 10.0.2.15 confirmed (INIT-REBOOT), address kept");
    let confirmed = on.elapsed();
    if let Err(e) = g.http_poll(8080, "/", "Hello from nodistro", T) {
        panic!("the app does not answer after the link came back: {e}");
    }
    let answered = on.elapsed();
    // IPv6: QEMU's user network advertises fec0::/64.
    wait("netcfg: eth0: carrier back; soliciting routers");
    wait("netcfg: eth0: router heard again");
    let c = g.console();
    let after = c.get(back..).unwrap_or(&c);
    eprintln!(
        "link flap: lease confirmed {} ms, app answering {} ms after set_link on (host clock); netcfg:\n{}",
        confirmed.as_millis(),
        answered.as_millis(),
        lines_with(after, "netcfg").join("\n")
    );
    assert!(!after.contains("netcfg: eth0: removed"), "{after}");
    assert!(!after.contains("DHCPNAK"), "{after}");
    // One report per condition.
    assert_eq!(lines_with(&c, "carrier lost").len(), 1, "{c}");
    assert_eq!(lines_with(&c, "carrier back; confirming").len(), 1, "{c}");
    assert_eq!(lines_with(&c, "carrier back; soliciting").len(), 1, "{c}");
    assert_eq!(lines_with(&c, "router heard again").len(), 1, "{c}");
    assert_eq!(
        g.power_button(T),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
}

/// The tick numbers in the records, in arrival order.
fn ticks(got: &[Received]) -> Vec<u64> {
    got.iter()
        .filter(|r| r.app.contains("chaos-app"))
        .filter_map(|r| number_after(&r.msg, "tick "))
        .collect()
}

/// The last tick the console shows (logfwd's console sink).
fn last_console_tick(g: &Guest) -> u64 {
    let c = g.console_tail(4000);
    lines_with(&c, "chaos-app: tick ")
        .iter()
        .filter_map(|l| number_after(l, "tick "))
        .max()
        .unwrap_or(0)
}

#[test]
fn syslog_server_away_nothing_lost_within_the_buffer_then_drops_counted() {
    let dir = TempDir::new(&format!("chaos-syslog-{}", std::process::id()));
    let mut rs = Rsyslog::start(&dir, free_port());
    let img = app_image(
        "chaos-app",
        nodistro_packaging::demo::DEMO_MODULES,
        &["logfwd.buffer=800"],
        &[],
    );
    // logfwd reaches the host's loopback at 10.0.2.2 (no restrict: a
    // refused connection must look like one, which guestfwd cannot do).
    let remote = format!("logfwd.remote=tcp://10.0.2.2:{}", rs.port);
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .append(&remote)
            .append("chaosapp_mode=tick")
            .timeout(Duration::from_secs(480)),
    );
    let got = rs.wait_for(T, |got| ticks(got).len() >= 30);
    assert!(
        ticks(&got).len() >= 30,
        "no ticks at rsyslog: {}",
        g.console_tail(3000)
    );

    // The boot's own "Network is unreachable" report is before this.
    let steady = g.console_len();
    // Outage 1: 60 s, 600 lines, within the buffer of 800.
    let outage = |rs: &mut Rsyslog, secs: u64| {
        let from = g.console_len();
        rs.stop();
        let stopped_at = last_console_tick(&g);
        // What the server wrote before it died: a line logfwd wrote into
        // the connection after that, while the server was going, is lost
        // without a trace (plain TCP syslog has no acknowledgement).
        let last_rx = ticks(&rs.received()).into_iter().max().unwrap_or(0);
        if let Err(e) = g.wait_for_from(from, "messages wait in the buffer, retrying", T) {
            panic!("logfwd did not notice the server going: {e}");
        }
        std::thread::sleep(Duration::from_secs(secs));
        let restarted_at = last_console_tick(&g);
        let mark = rs.received().len();
        let back = Instant::now();
        rs.restart();
        if let Err(e) = g.wait_for_from(from, "delivering again", T) {
            panic!("logfwd did not deliver again: {e}");
        }
        // Everything up to the restart has arrived once a later tick has.
        let got = rs.wait_for(T, |got| {
            ticks(&got[mark..])
                .last()
                .is_some_and(|&n| n > restarted_at)
        });
        let delivered_again = back.elapsed();
        (
            stopped_at,
            restarted_at,
            mark,
            got,
            delivered_again,
            last_rx,
        )
    };
    // Ticks missing between the first and the last received, and those of
    // them that were in flight when the server died (just after the last
    // it wrote, at most one: one line every 100 ms).
    let gaps = |seq: &[u64], last_rx: u64, stopped_at: u64| {
        let have: std::collections::BTreeSet<u64> = seq.iter().copied().collect();
        let missing: Vec<u64> = (seq[0]..=seq[seq.len() - 1])
            .filter(|n| !have.contains(n))
            .collect();
        let in_flight = missing
            .iter()
            .filter(|&&n| n > last_rx && n <= stopped_at + 1)
            .count();
        assert!(in_flight <= 1, "{in_flight} lines in flight: {missing:?}");
        (missing, in_flight)
    };
    let (s1, r1, mark1, got, back1, rx1) = outage(&mut rs, 60);
    let seq = ticks(&got);
    assert!(
        seq.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {seq:?}"
    );
    let (missing, lost1) = gaps(&seq, rx1, s1);
    assert_eq!(
        missing.len(),
        lost1,
        "every tick arrives across the 60 s outage (ticks {s1}..{r1} waited) but one in flight: {missing:?}"
    );
    assert!(
        got[mark1..].iter().all(|r| lost_in(r).is_none()),
        "nothing counted lost"
    );
    eprintln!(
        "syslog outage 1: ticks {s1}..{r1} ({} lines) buffered, 0 dropped, {lost1} lost in flight as the server died; backlog delivered {} ms after the restart",
        r1 - s1,
        back1.as_millis()
    );

    // Outage 2: 100 s, 1,000 lines: the oldest beyond 800 records go.
    let mark_all = got.len();
    let (s2, r2, _, got, _, rx2) = outage(&mut rs, 100);
    let seq = ticks(&got);
    let later = &got[mark_all..];
    let lost: u64 = later.iter().filter_map(lost_in).sum();
    let notices = later.iter().filter(|r| lost_in(r).is_some()).count();
    let (missing, _) = gaps(&seq, rx1, s1);
    let missing: Vec<u64> = missing.into_iter().filter(|&n| n > r1).collect();
    // The one in flight (if any) is next to the dropped ones: told apart
    // only by the count.
    let lost2 = (missing.len() as u64).saturating_sub(lost);
    assert!(
        lost2 <= 1,
        "{lost2} lines lost uncounted (after {rx2}): {missing:?}"
    );
    eprintln!(
        "syslog outage 2: ticks {s2}..{r2} ({} lines) while away, buffer 800: ticks {:?}..{:?} ({}) missing, {lost} records counted lost in {notices} notice(s), {lost2} lost in flight as the server died",
        r2 - s2,
        missing.first(),
        missing.last(),
        missing.len()
    );
    assert!(
        seq.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {seq:?}"
    );
    assert!(!missing.is_empty(), "1,000 lines cannot fit in 800");
    assert_eq!(notices, 1, "one notice for the one overflow");
    // The oldest of the outage went: the missing ticks are one run
    // inside it, and the newest arrived.
    assert_eq!(
        missing.last().map(|&l| l - missing[0] + 1),
        Some(missing.len() as u64),
        "{missing:?}"
    );
    assert!(
        missing[0] > r1 && missing[missing.len() - 1] < r2,
        "{missing:?}"
    );
    assert!(seq.last().is_some_and(|&l| l > r2));

    // One report per outage, not one per retry.
    let c = g.console();
    let c = c.get(steady..).unwrap_or(&c);
    assert_eq!(
        lines_with(c, "retrying").len(),
        2,
        "{}",
        lines_with(c, "logfwd").join("\n")
    );
    assert_eq!(lines_with(c, "delivering again").len(), 2);
    assert_eq!(
        g.power_button(T),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
}

#[test]
fn crash_looping_app_restarts_with_capped_backoff() {
    let img = app_image(
        "chaos-app",
        &["button", "evdev"],
        &["init.helpers=modload,logfwd", "init.on_exit=restart"],
        &[],
    );
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("chaosapp_mode=exit")
            .timeout(Duration::from_secs(300)),
    );
    // 100 ms doubling: 25.6 s after 9 starts, then the cap, twice.
    let capped = "init: restarting app in 30000 ms";
    g.expect_line(capped, Duration::from_secs(150));
    let from = g.console_len();
    if let Err(e) = g.wait_for_from(from, capped, Duration::from_secs(90)) {
        panic!("the cap does not hold: {e}");
    }
    let c = g.console();
    let delays: Vec<u64> = lines_with(&c, "init: restarting app in ")
        .iter()
        .filter_map(|l| number_after(l, "restarting app in "))
        .collect();
    let want: Vec<u64> = (0..9).map(|i| 100 << i).chain([30_000, 30_000]).collect();
    assert_eq!(delays, want, "doubling from 100 ms, capped at 30 s");
    let starts: Vec<u64> = lines_with(&c, "init: app /app/chaos-app started")
        .iter()
        .filter_map(|l| stamp_ms(l))
        .collect();
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("app crash loop: delays {delays:?} ms; start-to-start gaps {gaps:?} ms");
    for (gap, delay) in gaps.iter().zip(&delays) {
        assert!(
            gap + 5 >= *delay,
            "started before its delay: {gaps:?} {delays:?}"
        );
    }
    // PID 1 is alive and shuts down cleanly in the middle of a wait.
    assert_eq!(
        g.power_button(T),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
}

#[test]
fn helpers_killed_again_and_again_come_back_health_and_watchdog_hold() {
    let mut modules = nodistro_packaging::demo::DEMO_MODULES.to_vec();
    modules.push("i6300esb");
    let img = app_image(
        "chaos-app",
        &modules,
        &[
            "init.on_exit=restart",
            "init.watchdog=3",
            "init.health=tcp:8080",
            "init.health_interval=1",
            "init.health_timeout=1",
        ],
        &[],
    );
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .forward(8080)
            .restrict()
            .append("chaosapp_mode=kill")
            .append("chaosapp_rounds=4")
            .watchdog()
            .timeout(Duration::from_secs(400)),
    );
    g.expect_line("init: watchdog /dev/watchdog armed", T);
    g.expect_line("chaos-app: all helpers back", Duration::from_secs(300));
    // netcfg, killed 4 times, left the network working.
    if let Err(e) = g.http_poll(8080, "/", "ok", T) {
        panic!("no answer after the helper kills: {e}");
    }
    let c = g.console();
    for helper in ["logfwd", "netcfg", "modload"] {
        let delays: Vec<u64> = lines_with(&c, &format!("init: restarting {helper} in "))
            .iter()
            .filter_map(|l| number_after(l, "in "))
            .collect();
        let back: Vec<u64> = lines_with(&c, &format!("chaos-app: {helper} back as pid"))
            .iter()
            .filter_map(|l| number_after(l, " after "))
            .collect();
        eprintln!("{helper}: restart delays {delays:?} ms; back (pid seen) after {back:?} ms");
        assert_eq!(
            delays.len(),
            4,
            "{helper}: {}",
            lines_with(&c, helper).join("\n")
        );
        assert_eq!(
            back.len(),
            4,
            "{helper}:\n{}",
            lines_with(&c, "chaos-app: ").join("\n")
        );
        assert!(
            delays.windows(2).all(|w| w[0] <= w[1]) && delays.iter().all(|&d| d <= 30_000),
            "{helper}: growing and capped: {delays:?}"
        );
    }
    assert_eq!(c.matches("Linux version").count(), 1, "no watchdog reset");
    assert!(!c.contains("the machine is unhealthy"), "{c}");
    let failed = lines_with(&c, "health check");
    assert!(failed.iter().all(|l| !l.contains("failed")), "{failed:?}");
    let outcome = g.power_button(T);
    let c = g.console();
    assert_eq!(outcome, Outcome::PoweredOff, "{}", g.console_tail(3000));
    assert!(
        c.contains("init: watchdog disarmed"),
        "{}",
        g.console_tail(3000)
    );
}
