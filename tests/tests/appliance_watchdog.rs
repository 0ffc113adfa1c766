//! The hardware watchdog (issue 14, point 4) on QEMU's i6300esb with the
//! watchdog action set to reset (and QEMU's reboot action set back to
//! reset, so a reset shows as a second boot on the console):
//! - a healthy app keeps the machine up well past the watchdog timeout,
//!   then a clean power-off whose shutdown outlasts the timeout (the app
//!   ignores SIGTERM) does not trigger it: the machine powers off;
//! - an app that fails its health checks start after start beyond
//!   `init.health_restarts` makes init stop petting: the machine resets.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Image, Nic, Outcome};
use std::time::Duration;

fn image() -> Image {
    app_image(
        "health-app",
        &["button", "evdev", "i6300esb"],
        &[
            "init.helpers=modload,logfwd",
            "init.on_exit=restart",
            "init.watchdog=3",
            "init.health=http://127.0.0.1:8080/",
            "init.health_interval=1",
            "init.health_timeout=1",
        ],
        &[],
    )
}

fn boot(img: &Image, append: &[&str]) -> Guest {
    let mut opts = BootOpts::new(img.path())
        .nic(Nic::None)
        .watchdog()
        .timeout(Duration::from_secs(150));
    for a in append {
        opts = opts.append(a);
    }
    let g = Guest::boot(opts);
    g.expect_line(
        "init: watchdog /dev/watchdog armed: timeout 3 s, pet every 1500 ms while healthy",
        Duration::from_secs(90),
    );
    g
}

const BOOT: &str = "Linux version";

#[test]
fn healthy_stays_up_clean_power_off_is_not_reset() {
    let img = image();
    let mut g = boot(&img, &["healthapp_ignore_term=1", "init.grace=6"]);
    // 12 answered checks, one a second: four watchdog timeouts.
    g.expect_line("health-app: answered 12", Duration::from_secs(60));
    assert_eq!(g.console().matches(BOOT).count(), 1, "{}", g.console());
    // The app ignores SIGTERM: init waits init.grace (6 s, two watchdog
    // timeouts) before SIGKILL, petting all along, then disarms.
    let outcome = g.power_button(Duration::from_secs(60));
    let c = g.console();
    assert_eq!(outcome, Outcome::PoweredOff, "{c}");
    assert_eq!(c.matches(BOOT).count(), 1, "{c}");
    assert!(c.contains("init: watchdog disarmed"), "{c}");
}

#[test]
fn an_app_failing_beyond_the_policy_gets_the_machine_reset() {
    let img = image();
    let g = boot(
        &img,
        &[
            "healthapp_answers=0",
            "init.health_failures=2",
            "init.health_restarts=1",
        ],
    );
    let t = Duration::from_secs(60);
    for needle in [
        "failed 2 times in a row (no answer within 1000 ms): stopping the app",
        "init: the machine is unhealthy: no longer petting the watchdog",
    ] {
        g.expect_line(needle, t);
    }
    let from = g.console_len();
    if let Err(e) = g.wait_for_from(from, BOOT, t) {
        panic!("no second boot after the watchdog timeout: {e}");
    }
    assert!(!g.console().contains("init: watchdog disarmed"));
}
