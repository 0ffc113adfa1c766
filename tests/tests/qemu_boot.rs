//! The foundation: an image packed by `nodistro build` boots the Debian
//! kernel under QEMU (TCG); a tiny static test init (tests/src/bin/
//! marker-init.rs, run with `rdinit=`) prints a marker carrying a token we
//! put on the kernel command line and powers off; `nodistro run` and the
//! harness both see a clean power-off, and a panic is told apart.

use nodistro_tests::qemu::{boot_marker, build_image, Outcome};
use nodistro_tests::{release_bin, require_program};
use std::time::Duration;

fn token() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), t)
}

#[test]
fn marker_init_boots_and_powers_off() {
    let marker = release_bin("marker-init");
    let img = build_image(&["--app", marker.to_str().expect("utf-8 path")]);
    let (mut g, line) = boot_marker(&img, &token());
    let outcome = g.wait_exit(Duration::from_secs(30));
    assert_eq!(
        outcome,
        Outcome::PoweredOff,
        "console tail:\n{}",
        g.console_tail(2000)
    );
    // The console is the kernel's: the marker came after the kernel handed
    // over to our init, and before the power-off.
    let c = g.console();
    let run = c.find("Run /app/marker-init as init process");
    let mark = c.find(&line);
    let down = c.find("reboot: Power down");
    assert!(
        run.is_some() && run < mark && mark < down,
        "unexpected console order:\n{c}"
    );
}

/// `nodistro run` itself: exit 0 on a clean power-off, non-zero with a
/// message on a kernel panic (no init at the given path).
#[test]
fn nodistro_run_exit_status() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let marker = release_bin("marker-init");
    let img = build_image(&["--app", marker.to_str().expect("utf-8 path")]);
    let nodistro = release_bin("nodistro");
    let tok = token();
    let run = |extra: &[&str]| {
        std::process::Command::new(&nodistro)
            .args(["run", "--nic", "none", "--timeout", "90", "--initrd"])
            .arg(img.path())
            .args(extra)
            .output()
            .expect("run nodistro")
    };
    let ok = run(&[
        "--append",
        "rdinit=/app/marker-init",
        "--append",
        &format!("markertoken={tok}"),
    ]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(
        ok.status.success(),
        "nodistro run: {}\n{stderr}\n{stdout}",
        ok.status
    );
    assert!(stdout.contains(&format!("token={tok}")), "{stdout}");
    assert!(stderr.contains("powered off cleanly"), "{stderr}");

    // No init anywhere: the kernel panics; `nodistro run` must say so.
    let bad = run(&["--append", "rdinit=/nope", "--append", "init=/nope"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        bad.status.code(),
        Some(nodistro_packaging::qemu::EXIT_PANIC),
        "{stderr}"
    );
    assert!(stderr.contains("panicked"), "{stderr}");
    assert!(String::from_utf8_lossy(&bad.stdout).contains("Kernel panic"));

    // A guest that stays up: --timeout kills QEMU, exits 124 and says so.
    let hang = std::process::Command::new(&nodistro)
        .args(["run", "--nic", "none", "--timeout", "4", "--initrd"])
        .arg(img.path())
        .args([
            "--append",
            "rdinit=/app/marker-init",
            "--append",
            "markerhang=1",
        ])
        .output()
        .expect("run nodistro");
    let stderr = String::from_utf8_lossy(&hang.stderr);
    assert_eq!(hang.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
}
