//! arm64 images (issue 23): the aarch64 box and demo app cross-built by
//! `scripts/build-box.sh --arch aarch64`, packed with Debian's arm64 kernel
//! modules by `nodistro build --arch aarch64`, booted on
//! qemu-system-aarch64 `-M virt` under TCG; and the refusals of a build
//! whose pieces are of the wrong architecture, one line each.

use nodistro_packaging::arch::Arch;
use nodistro_tests::qemu::{aarch64_tools, build_image_logged, BootOpts, Guest, Outcome};
use nodistro_tests::{nodistro, release_bin, workspace_root, TempDir};
use std::process::Command;
use std::time::Duration;

/// TCG emulates every arm instruction: generous bounds, events not sleeps.
const BOOT: Duration = Duration::from_secs(240);

#[test]
fn aarch64_demo_gets_a_lease_answers_through_a_forward_and_powers_off() {
    let dir = aarch64_tools();
    let app = dir.join("demo-app");
    let (dir_s, app_s) = (dir.display().to_string(), app.display().to_string());
    let (img, log) =
        build_image_logged(&["--arch", "aarch64", "--tools-dir", &dir_s, "--app", &app_s]);
    assert!(
        log.contains("aarch64 kernel") && log.contains("-arm64"),
        "{log}"
    );
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .arch(Arch::Aarch64)
            .forward(8080)
            .restrict()
            .timeout(BOOT + Duration::from_secs(120)),
    );
    g.expect_line("netcfg: online eth0 10.0.2.15/24", BOOT);
    let body = g
        .http_poll(8080, "/", "Hello from nodistro", Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("no answer through the forward: {e}"));
    assert!(body.contains("Hello from nodistro"), "{body}");
    let console = g.console();
    for line in [
        "Machine model: linux,dummy-virt",
        "modload: loaded virtio_net",
        "init: app /app/demo-app started",
    ] {
        assert!(
            console.contains(line),
            "no {line:?} on the console:\n{}",
            g.console_tail(4000)
        );
    }
    // The power button of virt without firmware: the device tree's GPIO
    // key (gpio_keys, KEY_POWER), which init holds like the ACPI button.
    assert_eq!(
        g.power_button(Duration::from_secs(120)),
        Outcome::PoweredOff
    );
    let console = g.console();
    assert!(
        console.contains("init: power button on /dev/input/event"),
        "{}",
        g.console_tail(3000)
    );
    assert!(
        console.contains("reboot: Power down"),
        "{}",
        g.console_tail(3000)
    );
}

#[test]
fn aarch64_uki_and_disk_boot_through_aavmf_answer_and_power_off() {
    let dir = aarch64_tools();
    let app = dir.join("demo-app");
    let (dir_s, app_s) = (dir.display().to_string(), app.display().to_string());
    for format in ["uki", "disk"] {
        let t = TempDir::new("aarch64-image");
        let out = t.path().join(format!("demo.{format}"));
        let o = nodistro(&[
            "build",
            "--arch",
            "aarch64",
            "--tools-dir",
            &dir_s,
            "--app",
            &app_s,
            "--format",
            format,
            "-o",
            &out.display().to_string(),
        ]);
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{format}: {log}");
        let mut g = Guest::boot(
            BootOpts::image(&out)
                .arch(Arch::Aarch64)
                .forward(8080)
                .restrict()
                .timeout(BOOT + Duration::from_secs(120)),
        );
        // systemd's linuxaa64 stub hands the embedded initramfs over.
        g.expect_line(
            "EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID",
            BOOT,
        );
        g.http_poll(8080, "/", "Hello from nodistro", BOOT)
            .unwrap_or_else(|e| panic!("{format}: no answer through the forward: {e}"));
        // Under firmware virt has ACPI: the ACPI power button, built in,
        // whose evdev handler coldplug finds on /sys/class/input.
        assert_eq!(
            g.power_button(Duration::from_secs(120)),
            Outcome::PoweredOff,
            "{format}"
        );
        let console = g.console();
        assert!(
            console.contains("Power Button"),
            "{format}: {}",
            g.console_tail(3000)
        );
        assert!(
            console.contains("reboot: Power down"),
            "{format}: {}",
            g.console_tail(3000)
        );
    }
}

/// The one line a refused `nodistro` printed (stderr), checked to be one.
fn one_line(args: &[&str]) -> String {
    let out = nodistro(args);
    assert!(!out.status.success(), "nodistro {args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    err
}

#[test]
fn wrong_architecture_pieces_are_refused_in_one_line() {
    let dir = aarch64_tools();
    let arm_app = dir.join("demo-app").display().to_string();
    let arm_dir = dir.display().to_string();
    let x86_app = release_bin("demo-app").display().to_string();
    let x86_dir = release_bin("nodistro-box")
        .parent()
        .expect("a directory")
        .display()
        .to_string();
    let t = TempDir::new("aarch64-refused");
    let out = t.path().join("img").display().to_string();

    // An x86_64 app in an aarch64 image.
    let e = one_line(&[
        "build",
        "--arch",
        "aarch64",
        "--tools-dir",
        &arm_dir,
        "--app",
        &x86_app,
        "-o",
        &out,
    ]);
    assert!(
        e.contains("app ")
            && e.contains("is x86_64, not aarch64")
            && e.contains("aarch64-unknown-linux-gnu"),
        "{e}"
    );
    // An aarch64 app in this machine's (x86_64) image.
    let e = one_line(&[
        "build",
        "--tools-dir",
        &x86_dir,
        "--app",
        &arm_app,
        "-o",
        &out,
    ]);
    assert!(
        e.contains("is aarch64, not x86_64") && e.contains("--arch aarch64"),
        "{e}"
    );
    // This machine's box in an aarch64 image.
    let e = one_line(&[
        "build",
        "--arch",
        "aarch64",
        "--tools-dir",
        &x86_dir,
        "--app",
        &arm_app,
        "-o",
        &out,
    ]);
    assert!(
        e.contains("nodistro-box") && e.contains("scripts/build-box.sh --arch aarch64"),
        "{e}"
    );
    // An arm64 kernel for an x86_64 image.
    let arm_kernel = nodistro_packaging::debkernel::fetch(Arch::Aarch64)
        .unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)))
        .vmlinuz;
    let k = arm_kernel.display().to_string();
    let e = one_line(&[
        "build",
        "--tools-dir",
        &x86_dir,
        "--app",
        &x86_app,
        "--kernel",
        &k,
        "-o",
        &out,
    ]);
    assert!(
        e.contains("is an aarch64 kernel, not x86_64") && e.contains("linux-image-amd64"),
        "{e}"
    );
    // ... and to boot an x86_64 guest with.
    std::fs::write(t.path().join("img"), b"").expect("write");
    let e = one_line(&["run", "--kernel", &k, "--initrd", &out]);
    assert!(
        e.contains("is an aarch64 kernel") && e.contains("--arch aarch64"),
        "{e}"
    );
    // The cross toolchain missing: the package that brings it.
    let o = Command::new(workspace_root().join("scripts/build-box.sh"))
        .args(["--arch", "aarch64"])
        .env("NODISTRO_CROSS_RUSTC", "/nonexistent/rustc")
        .output()
        .expect("run build-box.sh");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("apt-get install rustc-web cargo-web"), "{e}");
}
