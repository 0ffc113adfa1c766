//! init as the real PID 1 of the Debian kernel under QEMU: the boot
//! timeline, the app started after modload's coldplug, a bad command-line
//! value reported and ignored, then a clean power-off on the ACPI power
//! button (`system_powerdown`) and a reboot on Ctrl-Alt-Del (`sendkey`),
//! each stopping the app before the helpers.
//!
//! The image carries the `button` module (the ACPI power button's input
//! device) and `evdev` (its /dev/input/event* node); modload's coldplug and
//! uevent watch load both.

use nodistro_tests::qemu::{app_image, build_image, BootOpts, Guest, Image, Nic, Outcome};
use nodistro_tests::release_bin;
use std::time::Duration;

fn image() -> Image {
    // No NIC in these boots: netcfg would only wait for its timeout.
    app_image(
        "demo-app",
        &["button", "evdev"],
        &["init.helpers=modload,logfwd"],
        &[],
    )
}

fn boot(img: &Image) -> Guest {
    let g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("hostname=initqemu")
            .append("init.grace=soon")
            .timeout(Duration::from_secs(150)),
    );
    for needle in [
        "init: mounts done in",
        "init: starting modload",
        "init: modload: coldplug-done",
        "init: starting logfwd",
        "init: app /app/demo-app started",
        "init: boot summary: mounts",
        "init: power button on /dev/input/event",
    ] {
        g.expect_line(needle, Duration::from_secs(90));
    }
    let c = g.console();
    assert!(c.contains("init: host name initqemu, lo up"), "{c}");
    assert!(
        c.contains("init.grace=\"soon\" is not a number of seconds"),
        "bad value not reported:\n{c}"
    );
    g
}

/// Each needle appears, in this order, on the console.
fn assert_in_order(console: &str, needles: &[&str]) {
    let mut from = 0;
    for n in needles {
        match console[from..].find(n) {
            Some(i) => from += i + n.len(),
            None => panic!("{n:?} missing or out of order in:\n{console}"),
        }
    }
}

#[test]
fn powers_off_on_the_power_button_and_reboots_on_ctrl_alt_del() {
    let img = image();

    let mut g = boot(&img);
    g.monitor("system_powerdown").expect("monitor");
    let outcome = g.wait_exit(Duration::from_secs(60));
    let c = g.console();
    assert_eq!(outcome, Outcome::PoweredOff, "console:\n{c}");
    assert_in_order(
        &c,
        &[
            "init: boot summary",
            "init: power button pressed",
            "init: shutdown (power-off): stopping the app",
            "init: app (pid",
            "init: stopping the helpers",
            "init: all stopped",
            "init: power-off",
            "reboot: Power down",
        ],
    );
    assert!(!c.contains("Kernel panic"), "{c}");

    let mut g = boot(&img);
    g.monitor("sendkey ctrl-alt-delete").expect("monitor");
    let outcome = g.wait_exit(Duration::from_secs(60));
    let c = g.console();
    assert_eq!(outcome, Outcome::Rebooted, "console:\n{c}");
    assert_in_order(
        &c,
        &[
            "init: boot summary",
            "init: SIGINT (2): shutting down",
            "init: shutdown (reboot): stopping the app",
            "init: stopping the helpers",
            "init: reboot",
            "reboot: Restarting system",
        ],
    );
}

/// The app exits by itself (a bad argument given on the kernel command
/// line): init prints its status and follows `init.on_exit`, also given on
/// the command line, after stopping the helpers.
#[test]
fn app_exit_follows_the_exit_policy_from_the_command_line() {
    let app = release_bin("demo-app");
    let img = build_image(&["--app", app.to_str().expect("utf-8 path")]);
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("init.helpers=logfwd")
            .append("init.arg=--bogus")
            .append("init.on_exit=reboot")
            .timeout(Duration::from_secs(120)),
    );
    let outcome = g.wait_exit(Duration::from_secs(110));
    let c = g.console();
    assert_eq!(outcome, Outcome::Rebooted, "console:\n{c}");
    assert_in_order(
        &c,
        &[
            "init: starting logfwd",
            "init: app /app/demo-app started",
            "init: app (pid",
            ") ended: exit status 2",
            "init: shutdown (reboot): stopping the app",
            "init: stopping the helpers",
            "init: all stopped (app status 2)",
            "init: reboot",
            "reboot: Restarting system",
        ],
    );
    assert!(
        !c.contains("starting modload"),
        "init.helpers ignored:\n{c}"
    );
}
