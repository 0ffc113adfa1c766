//! Issue 12: the debug console, driven over the serial line of a QEMU boot
//! (the test holds QEMU's stdin, which is the guest's ttyS0 input).
//!
//! One boot with `init.debug=console init.break=network` covers the stop
//! point (`net` shows no address until `continue`, then the app answers),
//! the commands (`devices`, `net`, `ping`, `modprobe`/`lsmod`, `log`,
//! `timeline`, `report`), bad input (unknown commands, wrong arguments, a
//! binary `cat`, an unreachable `ping`, a flood) and `poweroff`. A second
//! boot without the console checks that typed input changes nothing.

use nodistro_tests::qemu::{build_image, kernel_release, BootOpts, Guest, Outcome};
use nodistro_tests::release_bin;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn image() -> nodistro_tests::qemu::Image {
    let app = release_bin("demo-app").display().to_string();
    let release = kernel_release();
    let mut args = vec!["--app", &app, "--kernel-version", &release];
    for m in nodistro_packaging::demo::DEMO_MODULES {
        args.extend(["--module", m]);
    }
    // In the image, loaded by nothing but `modprobe dummy`.
    args.extend(["--module", "dummy", "--console"]);
    build_image(&args)
}

/// Type `line` + Enter; return what the console printed until `until`,
/// once the prompt came back after it.
fn run(g: &Guest, line: &str, until: &str) -> String {
    let from = g.console_len();
    g.type_text(&format!("{line}\r"));
    g.wait_for_from(from, until, T)
        .unwrap_or_else(|e| panic!("`{line}`: {e}"));
    let text = g.console();
    let start = from.min(text.len());
    let at = start + text[start..].find(until).unwrap_or(0) + until.len();
    g.wait_for_from(at, "# ", T)
        .unwrap_or_else(|e| panic!("`{line}`: no prompt after the output: {e}"));
    let text = g.console();
    // The terminal turns each \n into \r\n.
    text[start.min(text.len())..].replace("\r\n", "\n")
}

#[test]
fn console_stop_point_commands_bad_input_and_poweroff() {
    let img = image();
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .forward(8080)
            .restrict()
            .serial_input()
            .append("init.debug=console")
            .append("init.break=network"),
    );
    g.wait_for("init: boot paused before netcfg", T)
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_for("# ", T).unwrap_or_else(|e| panic!("{e}"));

    // Stop point: the link is there, without an address, until `continue`.
    let net = run(&g, "net", "dns:");
    assert!(net.contains("eth0: "), "{net}");
    assert!(net.contains("    no IPv4 address"), "{net}");
    assert!(!net.contains("10.0.2.15"), "{net}");
    run(&g, "continue", "asked init to go on");
    g.wait_for("init: boot resumed", T)
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_for("init: app /app/demo-app started", T)
        .unwrap_or_else(|e| panic!("{e}"));
    g.http_poll(8080, "/", "Hello from nodistro", T)
        .unwrap_or_else(|e| panic!("{e}"));
    g.wait_for("  full lists: devices", T)
        .unwrap_or_else(|e| panic!("{e}"));
    let boot = g.console();
    assert!(
        boot.contains("bring-up report:"),
        "the report at the end of the boot"
    );

    let dev = run(&g, "devices", " without");
    assert!(
        dev.contains("virtio-pci") || dev.contains("virtio_net"),
        "{dev}"
    );
    assert!(dev.contains("no driver ("), "{dev}");

    let net = run(&g, "net", "dns:");
    // (operstate turns "up" only when the kernel's link watch runs.)
    let eth0 = net.lines().find(|l| l.starts_with("eth0: ")).unwrap_or("");
    assert!(eth0.contains(" carrier mtu 1500"), "{net}");
    assert!(net.contains("    inet 10.0.2.15/24\n"), "{net}");
    assert!(
        net.contains("dhcp bound from 10.0.2.2, lease 86400 s"),
        "{net}"
    );
    assert!(net.contains("    10.0.2.0/24 dev eth0"), "{net}");

    let ping = run(&g, "ping 10.0.2.2", "10.0.2.2: 4 sent");
    assert!(ping.contains("bytes from 10.0.2.2: seq 1"), "{ping}");
    assert!(!ping.contains(", 0 received"), "{ping}");

    let m = run(&g, "modprobe dummy", "dummy: ");
    assert!(m.contains("dummy: loaded in"), "{m}");
    let ls = run(&g, "lsmod", "virtio_net");
    assert!(ls.lines().any(|l| l.starts_with("dummy ")), "{ls}");
    run(&g, "rmmod dummy", "dummy: removed");
    let ls = run(&g, "lsmod", "virtio_net");
    assert!(!ls.lines().any(|l| l.starts_with("dummy ")), "{ls}");

    let renew = run(&g, "dhcp renew eth0", "eth0: ");
    assert!(renew.contains("eth0: dhcp bound from 10.0.2.2"), "{renew}");
    run(&g, "uptime", ", load ");
    run(&g, "free", "Mem:");
    let df = run(&g, "df", "USE%");
    let df = df + &run(&g, "mounts", "OPTIONS");
    assert!(df.contains("/run"), "{df}");
    run(&g, "hexdump /init 0 16", "|.ELF");
    let r = run(
        &g,
        "run /bin/nodistro-box",
        "[/bin/nodistro-box: exit status: 2]",
    );
    assert!(r.contains("run me as one of"), "{r}");
    let from = g.console_len();
    g.type_text("exit\rps\r");
    g.wait_for_from(from, "press Enter for a new prompt", T)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = g.console();
    let at = from + text[from..].find("press Enter").unwrap_or(0);
    g.wait_for_from(at, "# ", T)
        .unwrap_or_else(|e| panic!("Enter opens the prompt again: {e}"));
    assert!(
        !g.console()[from..].contains("RSS(KiB)"),
        "closed: ps ignored"
    );

    let log = run(&g, "log", "logfwd: end of ring dump");
    assert!(log.contains("logfwd: ring dump"), "{log}");
    let tl = run(&g, "timeline", "app /app/demo-app");
    assert!(tl.contains("paused before netcfg"), "{tl}");
    let rep = run(&g, "report", "  full lists:");
    assert!(rep.contains("  slowest stages:\n"), "{rep}");

    // Bad input: a short error and the prompt again, every time.
    let e = run(&g, "frobnicate --now", "(type help)");
    assert!(e.contains("error: unknown command \"frobnicate\""), "{e}");
    run(&g, "kill", "usage: kill [-SIG] PID");
    run(&g, "ping nowhere.example", "is not an IPv4 address");
    run(&g, "hexdump /init 0 999999", "LEN up to 4096");
    let c = run(&g, "cat /bin/nodistro-box", "for the rest]");
    assert!(c.contains("binary data"), "{c}");
    let c = run(&g, "cat /proc/kallsyms", "for the rest]");
    assert!(c.contains("[cut after 16384 bytes"), "{c}");
    // Nobody answers 10.0.2.99 (restrict=on: QEMU forwards no ICMP).
    let p = run(&g, "ping 10.0.2.99", "% loss");
    assert!(p.contains("10.0.2.99: "), "{p}");
    assert!(p.contains(" 0 received, 100% loss"), "{p}");
    run(&g, &"x".repeat(4000), "line too long");
    run(
        &g,
        &format!("{}\x15help", "y".repeat(300)),
        "keys: Backspace",
    );
    let ps = run(&g, "ps", "/app/demo-app");
    assert!(
        ps.lines().any(|l| l.starts_with("    1 S")),
        "PID 1 lives: {ps}"
    );
    g.http_poll(8080, "/", "Hello from nodistro", T)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!g.console().contains("app (pid"), "the app never ended");

    g.type_text("poweroff\r");
    assert_eq!(
        g.wait_exit(T),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(2000)
    );
    assert!(
        !g.console().contains("grace period over"),
        "every helper stopped on SIGTERM: {}",
        g.console_tail(2000)
    );
}

#[test]
fn console_off_typed_input_changes_nothing() {
    let img = image();
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .forward(8080)
            .restrict()
            .serial_input(),
    );
    g.wait_for("init: app /app/demo-app started", T)
        .unwrap_or_else(|e| panic!("{e}"));
    let from = g.console_len();
    g.type_text("help\rpoweroff\rreboot\rmarker-xyzzy\r");
    // The terminal echoes what arrives; nothing else happens. A log line
    // written meanwhile can land inside the echo ("marker-xyz[   2.534]
    // init: ...\nzy"): look at the echo without the log lines.
    let echoed = nodistro_tests::poll_until(T, Duration::from_millis(50), || {
        echo_only(&g.console()[from..]).contains("marker-xyzzy")
    });
    assert!(
        echoed,
        "marker-xyzzy not echoed after {T:?}: {}",
        g.console_tail(2000)
    );
    g.http_poll(8080, "/", "Hello from nodistro", T)
        .unwrap_or_else(|e| panic!("{e}"));
    let after = g.console()[from..].to_string();
    assert!(!after.contains("# "), "no prompt: {after}");
    assert!(!after.contains("commands ("), "no help: {after}");
    assert!(
        !after.contains("shutdown"),
        "typed poweroff did nothing: {after}"
    );
    assert!(!g.console().contains("debug console"));
    assert_eq!(g.power_button(T), Outcome::PoweredOff);
}

#[test]
fn only_images_built_with_console_carry_it() {
    let app = release_bin("demo-app").display().to_string();
    let ls = |img: &nodistro_tests::qemu::Image| {
        let out = std::process::Command::new(release_bin("nodistro"))
            .arg("ls")
            .arg(img.path())
            .output()
            .expect("nodistro ls");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = ls(&build_image(&["--app", &app]));
    assert!(!plain.contains(" bin/console"), "{plain}");
    let debug = ls(&build_image(&["--app", &app, "--console"]));
    let line = debug
        .lines()
        .find(|l| l.ends_with(" bin/console") || l.contains(" bin/console -> "))
        .unwrap_or_else(|| panic!("no bin/console in\n{debug}"));
    // The default box has no console: the standalone binary is packed;
    // a box holding it (the libc-free box, every tool) gets a link, and
    // only with --console (the `plain` image above has none).
    let listed = std::process::Command::new(release_bin("nodistro-box"))
        .arg("--list")
        .output()
        .expect("nodistro-box --list");
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|t| t == "console")
    {
        assert!(line.contains(" bin/console -> nodistro-box"), "{line}");
    } else {
        assert!(line.starts_with("-rwxr-xr-x"), "{line}");
    }
}

/// The console without timeline lines (`[   1.234] who: ...` and the
/// kernel's `[    1.234567] ...`, each up to its newline), wherever they
/// start: what is left is what the terminal echoed.
fn echo_only(console: &str) -> String {
    let mut out = String::with_capacity(console.len());
    let mut rest = console;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let stamp = tail.find(']').map(|end| &tail[..end]).filter(|t| {
            let t = t.trim_start();
            !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        });
        rest = match stamp {
            Some(_) => tail.find('\n').map_or("", |nl| &tail[nl + 1..]),
            None => {
                out.push('[');
                tail
            }
        };
    }
    out.push_str(rest);
    out
}

#[test]
fn echo_only_drops_log_lines_that_split_the_echo() {
    let c = "help\nmarker-xyz[   2.534] init: boot summary\nzy\n[    3.29] k\n[x] kept";
    assert_eq!(echo_only(c), "help\nmarker-xyzzy\n[x] kept");
}
