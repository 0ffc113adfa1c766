//! `nodistro run` as `docker run` users expect it: SIGTERM, SIGINT and
//! SIGHUP power the guest off through its power button and the app's exit
//! status comes back as the runner's; a guest that ignores the button is
//! killed after the grace period; SIGKILL of the runner takes its QEMU with
//! it; an app that cannot start is named with what is missing, and the run
//! exits 127.

use nodistro_tests::qemu::{app_image, build_image, Image};
use nodistro_tests::runner::{gone_within, Runner};
use nodistro_tests::{release_bin, require_program, run_ok, TempDir};
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(180);

/// The status init reported in its last "all stopped (app status N)".
fn reported_status(console: &str) -> i32 {
    let line = console
        .lines()
        .rfind(|l| l.contains("init: all stopped (app status "))
        .unwrap_or_else(|| panic!("no 'all stopped' line from init:\n{console}"));
    let n = line
        .rsplit("app status ")
        .next()
        .and_then(|t| t.trim_end().strip_suffix(')'))
        .expect("status digits");
    n.parse().expect("a number")
}

/// Boot the demo image without a NIC, wait until the app runs and init
/// holds the power button, send `sig`; the guest powers off and the
/// runner's exit code is the app's status as init reported it.
fn stop_with(img: &Image, sig: Signal) {
    let mut r = Runner::start(img.path(), &["--nic", "none", "--grace", "90"]);
    r.wait_console("app /app/demo-app started", BOOT);
    r.wait_console("init: power button on", BOOT);
    let qemu = r.qemu_pid().expect("the runner's QEMU");
    r.signal(sig);
    let st = r.wait(Duration::from_secs(120));
    let (console, msgs) = (r.console(), r.messages());
    assert!(
        msgs.contains("pressing the guest's power button"),
        "{sig:?}:\n{msgs}"
    );
    assert!(
        console.contains("reboot: Power down"),
        "{sig:?}: no clean power-off:\n{console}"
    );
    let status = reported_status(&console);
    assert_eq!(st.code(), Some(status), "{sig:?}: the app's status\n{msgs}");
    assert!(
        msgs.contains(&format!("the app's status was {status}")),
        "{msgs}"
    );
    assert!(
        gone_within(qemu, Duration::from_secs(5)),
        "QEMU {qemu} left"
    );
}

#[test]
fn stop_signals_power_the_guest_off_and_pass_the_apps_status_on() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let img = app_image("demo-app", &[], &[], &[]);
    for sig in [Signal::TERM, Signal::INT, Signal::HUP] {
        stop_with(&img, sig);
    }
}

#[test]
fn sigkill_of_the_runner_takes_its_qemu_along() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let img = app_image("demo-app", &[], &[], &[]);
    let r = Runner::start(img.path(), &["--nic", "none"]);
    r.wait_console("Linux version", BOOT);
    let qemu = r.qemu_pid().expect("the runner's QEMU");
    r.signal(Signal::KILL);
    assert!(
        gone_within(qemu, Duration::from_secs(10)),
        "QEMU {qemu} outlived its runner"
    );
}

/// marker-init as the init (`markerhang=1`) never answers the button.
#[test]
fn a_guest_that_ignores_the_power_button_is_killed_after_the_grace() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let marker = release_bin("marker-init");
    let img = build_image(&[
        "--app",
        marker.to_str().expect("utf-8"),
        "--drivers",
        "none",
    ]);
    let mut r = Runner::start(
        img.path(),
        &[
            "--nic",
            "none",
            "--grace",
            "3",
            "--append",
            "rdinit=/app/marker-init",
            "--append",
            "markerhang=1",
        ],
    );
    r.wait_console("NODISTRO-MARKER", BOOT);
    let qemu = r.qemu_pid().expect("the runner's QEMU");
    // A storm: one press, one kill.
    for _ in 0..50 {
        r.signal(Signal::TERM);
    }
    let st = r.wait(Duration::from_secs(60));
    let msgs = r.messages();
    assert_eq!(st.code(), Some(128 + 15), "{msgs}");
    assert_eq!(
        msgs.matches("pressing the guest's power button").count(),
        1,
        "{msgs}"
    );
    assert!(
        msgs.contains("did not power off within 3 s of SIGTERM"),
        "{msgs}"
    );
    assert!(
        gone_within(qemu, Duration::from_secs(5)),
        "QEMU {qemu} left"
    );
}

/// A C program built here with gcc (`static_` adds -static).
fn cc(dir: &Path, name: &str, src: &str, static_: bool) -> PathBuf {
    require_program("gcc", "gcc");
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).expect("write C source");
    let out = dir.join(name);
    let mut cmd = Command::new("gcc");
    cmd.args(["-O2", "-o"]).arg(&out).arg(&c);
    if static_ {
        cmd.arg("-static");
    }
    run_ok(&mut cmd);
    out
}

fn run_to_end(img: &Image, append: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["--nic", "none", "--timeout", "240"];
    for a in append {
        args.extend(["--append", a]);
    }
    let mut r = Runner::start(img.path(), &args);
    let st = r.wait(Duration::from_secs(300));
    (st.code(), r.console(), r.messages())
}

#[test]
fn the_apps_exit_code_and_signal_become_the_runners() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let tmp = TempDir::new("runner-exit");
    let app = cc(
        tmp.path(),
        "exiter",
        "#include <signal.h>\n#include <stdlib.h>\nint main(int c, char **v) {\n  if (c > 1) raise(SIGABRT);\n  return 7;\n}\n",
        true,
    );
    let app = app.to_str().expect("utf-8");
    let img = build_image(&["--app", app, "--drivers", "none"]);
    let (code, console, msgs) = run_to_end(&img, &[]);
    assert_eq!(code, Some(7), "{msgs}\n{console}");
    assert!(msgs.contains("the app's status was 7"), "{msgs}");
    let img = build_image(&["--app", app, "--drivers", "none", "--arg", "abort"]);
    let (code, console, msgs) = run_to_end(&img, &[]);
    assert_eq!(code, Some(128 + 6), "SIGABRT: {msgs}\n{console}");
}

#[test]
fn an_app_that_cannot_start_is_named_and_the_run_exits_127() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let tmp = TempDir::new("runner-nostart");
    // Dynamically linked, packed as a plain file: no loader in the image.
    let dynamic = cc(
        tmp.path(),
        "dyn",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
        false,
    );
    let plain = tmp.path().join("notexec");
    std::fs::write(&plain, b"not a program\n").expect("write");
    let img = app_image(
        "demo-app",
        &[],
        &[],
        &[
            "--drivers",
            "none",
            "--file",
            &format!("{}:/app/dyn", dynamic.display()),
            "--file",
            &format!("{}:/app/notexec", plain.display()),
        ],
    );
    let (code, console, msgs) = run_to_end(&img, &["init.app=/app/dyn"]);
    assert!(
        console
            .contains("cannot start /app/dyn: interpreter /lib64/ld-linux-x86-64.so.2 not found"),
        "{console}"
    );
    assert_eq!(code, Some(127), "{msgs}");
    let (code, console, msgs) = run_to_end(&img, &["init.app=/app/notexec"]);
    assert!(
        console.contains("cannot start /app/notexec: not executable (mode 0644)"),
        "{console}"
    );
    assert_eq!(code, Some(127), "{msgs}");
    let (code, console, _) = run_to_end(&img, &["init.app=/app/nothing-here"]);
    assert!(
        console.contains("cannot start /app/nothing-here: not found in the image"),
        "{console}"
    );
    assert_eq!(code, Some(127));
}
