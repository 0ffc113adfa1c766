//! arm64 images (issue 23): the aarch64 box and demo app cross-built by
//! `scripts/build-box.sh --arch aarch64`, packed with Debian's arm64 kernel
//! modules by `nodistro build --arch aarch64`, booted on
//! qemu-system-aarch64 `-M virt` under TCG; and the refusals of a build
//! whose pieces are of the wrong architecture, one line each.

use nodistro_packaging::arch::Arch;
use nodistro_tests::qemu::{aarch64_tools, build_image_logged, BootOpts, Guest, Outcome};
use nodistro_tests::{nodistro, release_bin, require_program, run_ok, workspace_root, TempDir};
use std::path::{Path, PathBuf};
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
fn aarch64_uki_disk_and_iso_boot_through_aavmf_answer_and_power_off() {
    let dir = aarch64_tools();
    let app = dir.join("demo-app");
    let (dir_s, app_s) = (dir.display().to_string(), app.display().to_string());
    for format in ["uki", "disk", "iso"] {
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

/// The aarch64 ISO with a fixed epoch at `out`.
fn build_iso(out: &Path) {
    let dir = aarch64_tools();
    let o = Command::new(release_bin("nodistro"))
        .args(["build", "--arch", "aarch64", "--tools-dir"])
        .arg(&dir)
        .arg("--app")
        .arg(dir.join("demo-app"))
        .args(["--format", "iso", "-o"])
        .arg(out)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run nodistro build");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn aarch64_iso_is_uefi_only_with_an_esp_and_reproducible() {
    require_program("xorriso", "xorriso");
    require_program("sfdisk", "fdisk");
    require_program("mdir", "mtools");
    let t = TempDir::new("aarch64-iso");
    let (a, b) = (t.path().join("a.iso"), t.path().join("b.iso"));
    build_iso(&a);
    build_iso(&b);
    assert!(
        std::fs::read(&a).expect("read") == std::fs::read(&b).expect("read"),
        "two builds of the ISO differ"
    );
    // xorriso's own report: one El Torito image, for UEFI; no BIOS one.
    let report = run_ok(
        Command::new("xorriso")
            .arg("-indev")
            .arg(&a)
            .args(["-report_el_torito", "plain"]),
    );
    let report = String::from_utf8_lossy(&report.stdout);
    let images: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("El Torito boot img"))
        .collect();
    assert_eq!(images.len(), 1, "{report}");
    assert!(images[0].contains("UEFI"), "{report}");
    // On a USB stick: a GPT whose EFI system partition is that image,
    // holding BOOTAA64.EFI.
    let dump = run_ok(Command::new("sfdisk").arg("--dump").arg(&a));
    let dump = String::from_utf8_lossy(&dump.stdout);
    let esp = dump
        .lines()
        .find(|l| l.contains("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"))
        .unwrap_or_else(|| panic!("no EFI system partition:\n{dump}"));
    let start: u64 = esp
        .split("start=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{esp}"));
    let listing = run_ok(
        Command::new("mdir")
            .arg("-i")
            .arg(format!("{}@@{}", a.display(), start * 512))
            .arg("::/EFI/BOOT"),
    );
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("BOOTAA64 EFI"), "{listing}");
}

/// tests/go/whoami built static for arm64 with Debian's Go.
fn go_whoami_arm64(dir: &Path) -> PathBuf {
    let go = require_program("go", "golang-go");
    let out = dir.join("whoami");
    let res = Command::new(go)
        .current_dir(workspace_root().join("tests/go/whoami"))
        .args(["build", "-o"])
        .arg(&out)
        .arg("main.go")
        .env("CGO_ENABLED", "0")
        .env("GOARCH", "arm64")
        .env(
            "GOCACHE",
            workspace_root().join("target/first-image/gocache-arm64"),
        )
        .env("GO111MODULE", "off")
        .output()
        .expect("run go");
    assert!(
        res.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

#[test]
fn aarch64_app_runs_as_its_user_and_looks_it_up() {
    let dir = aarch64_tools();
    let t = TempDir::new("aarch64-user");
    let app = go_whoami_arm64(t.path());
    let (dir_s, app_s) = (dir.display().to_string(), app.display().to_string());
    let (img, _) = build_image_logged(&[
        "--arch",
        "aarch64",
        "--tools-dir",
        &dir_s,
        "--app",
        &app_s,
        "--user",
        "app:1000:1000",
    ]);
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .arch(Arch::Aarch64)
            .restrict()
            .timeout(BOOT + Duration::from_secs(120)),
    );
    // os/user read /etc/passwd and /etc/group as uid 1000.
    g.expect_line("whoami: uid=1000 gid=1000 name=app", BOOT);
    g.expect_line("whoami: group app", Duration::from_secs(60));
    assert_eq!(
        g.power_button(Duration::from_secs(120)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
}

#[test]
fn aarch64_secure_boot_starts_the_signed_uki_and_refuses_the_unsigned() {
    use nodistro_packaging::qemu::image::{SNAKEOIL_CERT, SNAKEOIL_KEY, SNAKEOIL_PASSPHRASE};
    require_program("sbverify", "sbsigntool");
    let dir = aarch64_tools();
    let t = TempDir::new("aarch64-sb");
    // The snakeoil key (Debian's OVMF and AAVMF enrol the same one)
    // without its passphrase.
    let key = t.path().join("snakeoil.key");
    run_ok(
        Command::new(require_program("openssl", "openssl"))
            .args(["pkey", "-in", SNAKEOIL_KEY, "-passin"])
            .arg(format!("pass:{SNAKEOIL_PASSPHRASE}"))
            .arg("-out")
            .arg(&key),
    );
    let build = |out: &Path, sign: bool| {
        let mut c = Command::new(release_bin("nodistro"));
        c.args(["build", "--arch", "aarch64", "--tools-dir"])
            .arg(&dir)
            .arg("--app")
            .arg(dir.join("demo-app"))
            .args(["--format", "uki", "-o"])
            .arg(out)
            .env("SOURCE_DATE_EPOCH", "1700000000");
        if sign {
            c.arg("--sign-key")
                .arg(&key)
                .args(["--sign-cert", SNAKEOIL_CERT]);
        }
        let o = c.output().expect("run nodistro build");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (signed, plain) = (t.path().join("signed.efi"), t.path().join("plain.efi"));
    build(&signed, true);
    build(&plain, false);
    run_ok(
        Command::new("sbverify")
            .args(["--cert", SNAKEOIL_CERT])
            .arg(&signed),
    );
    // AAVMF with the snakeoil variables: the signed UKI starts, the kernel
    // says Secure Boot is on, the app answers.
    let mut g = Guest::boot(
        BootOpts::image(&signed)
            .arch(Arch::Aarch64)
            .secure_boot()
            .forward(8080)
            .restrict()
            .timeout(BOOT + Duration::from_secs(120)),
    );
    g.expect_line("secureboot: Secure boot enabled", BOOT);
    g.http_poll(8080, "/", "Hello from nodistro", BOOT)
        .unwrap_or_else(|e| panic!("no answer under Secure Boot: {e}"));
    assert_eq!(
        g.power_button(Duration::from_secs(120)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
    // The unsigned one: refused by the firmware, one line, exit 126.
    let out = Command::new(release_bin("nodistro"))
        .args([
            "run",
            "--arch",
            "aarch64",
            "--secure-boot",
            "--nic",
            "none",
            "--timeout",
            "400",
            "--image",
        ])
        .arg(&plain)
        .output()
        .expect("run nodistro run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(nodistro_packaging::qemu::EXIT_NO_BOOT),
        "{err}"
    );
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("nodistro run"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains("the firmware refused to start the image"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Access Denied"),
        "the firmware's own words: {}",
        String::from_utf8_lossy(&out.stdout)
    );
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
