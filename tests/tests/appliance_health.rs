//! Health checks (issue 14, point 3): an app that answers two checks and
//! then stops answering is stopped by init after `init.health_failures`
//! failed checks in a row, with the reason on the console, and restarted
//! under `init.on_exit=restart`; the new instance passes again. A clean
//! power-off ends the boot.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Nic, Outcome};
use std::time::Duration;

#[test]
fn a_wedged_app_is_restarted() {
    let img = app_image(
        "health-app",
        &["button", "evdev"],
        &["init.helpers=modload,logfwd", "init.on_exit=restart"],
        &[],
    );
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("init.health=http://127.0.0.1:8080/healthz")
            .append("init.health_interval=1")
            .append("init.health_timeout=1")
            .append("init.health_failures=3")
            .append("healthapp_answers=2")
            .timeout(Duration::from_secs(150)),
    );
    let t = Duration::from_secs(90);
    for needle in [
        "init: health check http://127.0.0.1:8080/healthz every 1000 ms, 3 failures stop the app",
        "init: app /app/health-app started",
        "health-app: wedged after 2 answers",
        "init: health check http://127.0.0.1:8080/healthz failed (no answer within 1000 ms): 1 of 3 in a row",
        "init: health check http://127.0.0.1:8080/healthz failed 3 times in a row (no answer within 1000 ms): stopping the app",
        "ended: killed by signal 15 (SIGTERM)",
        "init: restarting app in",
    ] {
        g.expect_line(needle, t);
    }
    let after = g.console_len();
    if let Err(e) = g.wait_for_from(after, "init: app /app/health-app started", t) {
        panic!("not restarted: {e}");
    }
    if let Err(e) = g.wait_for_from(after, "health-app: wedged after 2 answers", t) {
        panic!("the restarted app was not checked: {e}");
    }
    assert_eq!(g.power_button(Duration::from_secs(60)), Outcome::PoweredOff);
    // The reason also went to the system log: logfwd's copy of the line
    // (app "init", pid 1) carries the same text.
    let c = g.console();
    let line = "health check http://127.0.0.1:8080/healthz failed 3 times in a row";
    assert!(c.matches(line).count() >= 2, "not in the logs:\n{c}");
}
