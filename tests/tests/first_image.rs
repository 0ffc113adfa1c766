//! Issue 10, "the first image just works": a static Go program packed with
//! `nodistro build --app PROG --ca-certs` and nothing else boots on the
//! machines `nodistro run` offers, gets on the network with the default
//! drivers and finds its user, its host names and the CA pool in /etc; an
//! image without modules on a machine without a NIC starts its app at once,
//! as the `--user` it was built with, with /etc/hosts naming the host given
//! by `hostname=`.

use nodistro_packaging::qemu::Machine;
use nodistro_tests::qemu::{build_image, BootOpts, Guest, Nic, Outcome};
use nodistro_tests::{release_bin, require_program, workspace_root};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// tests/go/lookups built static with Debian's Go (once per test process).
fn go_lookups() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let go = require_program("go", "golang-go");
            let dir = workspace_root().join("target/first-image");
            let out = dir.join("lookups");
            let res = Command::new(go)
                .current_dir(workspace_root().join("tests/go/lookups"))
                .args(["build", "-o"])
                .arg(&out)
                .arg("main.go")
                .env("CGO_ENABLED", "0")
                .env("GOCACHE", dir.join("gocache"))
                .env("GO111MODULE", "off")
                .output()
                .map_err(|e| format!("cannot run go: {e}"))?;
            if res.status.success() {
                Ok(out)
            } else {
                Err(format!(
                    "go build failed: {}",
                    String::from_utf8_lossy(&res.stderr)
                ))
            }
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Console lines that say a helper was restarted or failed.
fn assert_no_restarts(g: &Guest, what: &str) {
    let console = g.console();
    for bad in ["restarting", "ended:", "another kernel", "error"] {
        assert!(
            !console
                .lines()
                .any(|l| l.contains("] init:") && l.contains(bad)
                    || l.contains("] modload:") && l.contains(bad)
                    || l.contains("] netcfg:") && l.contains(bad)),
            "{what}: {bad:?} on the console:\n{}",
            g.console_tail(4000)
        );
    }
}

/// The number after `prefix` on the console.
fn number_after(console: &str, prefix: &str) -> Option<u64> {
    let at = console.find(prefix)? + prefix.len();
    let digits: String = console[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn go_app_with_no_flags_on_pc_e1000_q35_and_microvm() {
    let app = go_lookups().display().to_string();
    let img = build_image(&["--app", &app, "--ca-certs"]);
    let machines = [
        ("pc + virtio", Machine::Pc, Nic::Virtio),
        ("pc + e1000", Machine::Pc, Nic::E1000),
        ("q35", Machine::Q35, Nic::Virtio),
        ("microvm", Machine::Microvm, Nic::Virtio),
    ];
    for (what, machine, nic) in machines {
        let mut g = Guest::boot(
            BootOpts::new(img.path())
                .machine(machine)
                .nic(nic)
                .forward(80),
        );
        let t = Duration::from_secs(90);
        for line in [
            "init: netcfg: online eth0 10.0.2.15",
            "lookups: user nobody uid=65534 gid=65534",
            "lookups: host localhost=127.0.0.1",
            "lookups: ca certificates=",
            "lookups: serving on :80",
        ] {
            if let Err(e) = g.wait_for(line, t) {
                panic!("{what}: {e}");
            }
        }
        let certs = number_after(&g.console(), "lookups: ca certificates=");
        assert!(
            certs.is_some_and(|n| n > 0),
            "{what}: {certs:?} CA certificates"
        );
        let page = g
            .http_poll(80, "/", "uid=65534", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(page.contains("localhost=127.0.0.1"), "{what}: {page}");
        assert_no_restarts(&g, what);
        assert_eq!(
            g.power_button(Duration::from_secs(30)),
            Outcome::PoweredOff,
            "{what}: {}",
            g.console_tail(2000)
        );
    }
}

/// Milliseconds of the first console line containing `needle` (init's
/// timeline stamp `[   2.811] ...`).
fn stamp_ms(console: &str, needle: &str) -> Option<u64> {
    let line = console.lines().find(|l| l.contains(needle))?;
    let inside = line
        .trim_start()
        .strip_prefix('[')?
        .split(']')
        .next()?
        .trim();
    let (s, ms) = inside.split_once('.')?;
    Some(s.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?)
}

#[test]
fn no_modules_no_nic_app_at_once_as_its_user() {
    let app = release_bin("whoami-app").display().to_string();
    let img = build_image(&[
        "--app",
        &app,
        "--drivers",
        "none",
        "--user",
        "app:1000:1000",
    ]);
    // hostname= on the kernel command line: init rewrites /etc/hosts.
    let g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("hostname=web1"),
    );
    for line in [
        "whoami: uid=1000 gid=1000 name=app",
        "whoami: hosts 127.0.1.1 web1",
    ] {
        g.expect_line(line, Duration::from_secs(90));
    }
    let console = g.console();
    assert_eq!(
        console.matches("uses its built-in drivers only").count(),
        1,
        "modload says it once:\n{}",
        g.console_tail(3000)
    );
    assert_eq!(
        console.matches("no network interface yet").count(),
        1,
        "netcfg says it once:\n{}",
        g.console_tail(3000)
    );
    // init's first line comes after its mounts; their time is in it.
    let start = stamp_ms(&console, "] init: mounts done")
        .map(|t| t.saturating_sub(number_after(&console, "init: mounts done in ").unwrap_or(0)));
    let app_at = stamp_ms(&console, "] init: app /app/whoami-app started");
    if let (Some(s), Some(a)) = (start, app_at) {
        eprintln!(
            "no modules, no NIC: app started {} ms after init",
            a.saturating_sub(s)
        );
        // Where the time went (shown with --nocapture, and on failure).
        for l in console.lines().filter(|l| {
            l.contains("] init:") || l.contains("] modload:") || l.contains("] netcfg:")
        }) {
            eprintln!("  {l}");
        }
    }
    // No readiness wait ran out: the app followed netcfg's word at once.
    assert!(
        !console.contains("not ready after"),
        "a readiness wait ran out:\n{}",
        g.console_tail(3000)
    );
    // The app follows netcfg's readiness at once, which comes at once (no
    // "not ready after" above). How long that takes is printed, not
    // asserted (the project keeps timing out of tests): 146-458 ms from
    // init's start on this 2-core host when it is not saturated; guest time
    // under TCG stretches with the host's load (3,186 ms seen while the
    // kernel itself took 31 s to reach /init).
    let order = [
        "init: netcfg: online none",
        "init: app /app/whoami-app started",
    ];
    let at: Vec<Option<usize>> = order.iter().map(|n| console.find(n)).collect();
    assert!(
        matches!((at[0], at[1]), (Some(r), Some(a)) if r < a) && start.is_some(),
        "the app did not follow netcfg's readiness:\n{}",
        g.console_tail(3000)
    );
    assert_no_restarts(&g, "no modules, no NIC");
    // The ACPI button and evdev are modules in this kernel: an image with
    // none has no power button; dropping the guest ends QEMU.
}
