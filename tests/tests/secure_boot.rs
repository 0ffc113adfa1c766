//! UEFI Secure Boot (issue 24): `nodistro build --sign-key --sign-cert`
//! signs the UKI with Authenticode, `nodistro run --secure-boot` boots
//! OVMF's Secure Boot build with Debian's snakeoil keys enrolled.
//!
//! The oracles are the peers: sbverify (sbsigntool) checks the signature
//! against the certificate, OVMF enforces it (a signed UKI boots, the
//! unsigned one is refused), and the kernel says Secure Boot is on (and
//! then loads only signed modules: the demo app's page comes through
//! virtio_net, which lockdown let in).

use nodistro_packaging::demo::{GREETING, GUEST_PORT};
use nodistro_packaging::qemu::image::{SNAKEOIL_CERT, SNAKEOIL_KEY};
use nodistro_packaging::qemu::EXIT_NO_BOOT;
use nodistro_tests::qemu::{BootOpts, Guest, Nic, Outcome};
use nodistro_tests::{release_bin, require_program, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const EPOCH: &str = "1700000000";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `nodistro build` of the demo app with EXTRA, at a fixed
/// SOURCE_DATE_EPOCH.
fn nodistro_build(extra: &[&str]) -> Output {
    nodistro_tests::build_demo_app(extra, EPOCH)
}

fn build(format: &str, out: &Path, extra: &[&str]) {
    let mut args = vec!["--format", format, "-o", out.to_str().expect("utf-8")];
    args.extend(extra);
    let r = nodistro_build(&args);
    assert!(
        r.status.success() && out.is_file(),
        "nodistro build {args:?}: {}",
        text(&r)
    );
}

/// sbverify --cert CERT FILE: whether it accepts the signature.
fn sbverify(cert: &str, file: &Path) -> (bool, String) {
    let out = Command::new(require_program("sbverify", "sbsigntool"))
        .args(["--cert", cert])
        .arg(file)
        .output()
        .expect("run sbverify");
    (out.status.success(), text(&out))
}

/// Copy FILE out of the FAT image IMG (mtools).
fn fat_file(img: &Path, file: &str, to: &Path) {
    let out = Command::new(require_program("mcopy", "mtools"))
        .arg("-n")
        .arg("-i")
        .arg(img)
        .arg(format!("::{file}"))
        .arg(to)
        .output()
        .expect("run mcopy");
    assert!(out.status.success(), "mcopy {file}: {}", text(&out));
}

#[test]
fn signed_uki_boots_under_secure_boot_and_unsigned_is_refused() {
    let dir = TempDir::new("secboot");
    let key = nodistro_tests::snakeoil_plain_key(dir.path());
    let k = key.to_str().expect("utf-8");
    let sign = ["--sign-key", k, "--sign-cert", SNAKEOIL_CERT];

    // Signed, twice: the same bytes; sbverify accepts it with the
    // snakeoil certificate, and not with another one.
    let (a, b, plain) = (
        dir.path().join("a.efi"),
        dir.path().join("b.efi"),
        dir.path().join("unsigned.efi"),
    );
    let t = Instant::now();
    build("uki", &a, &sign);
    eprintln!("signed UKI built in {:.1} s", t.elapsed().as_secs_f64());
    build("uki", &b, &sign);
    build("uki", &plain, &[]);
    let (sa, sb, su) = (
        std::fs::read(&a).expect("read"),
        std::fs::read(&b).expect("read"),
        std::fs::read(&plain).expect("read"),
    );
    assert!(sa == sb, "two signed builds differ");
    eprintln!(
        "unsigned UKI {} bytes, signed {} bytes (+{})",
        su.len(),
        sa.len(),
        sa.len() - su.len()
    );
    let (ok, msg) = sbverify(SNAKEOIL_CERT, &a);
    assert!(ok, "sbverify refused the signed UKI: {msg}");
    let (ok, msg) = sbverify(SNAKEOIL_CERT, &plain);
    assert!(!ok, "sbverify accepted the unsigned UKI: {msg}");
    let other = other_pair(&dir);
    let (ok, msg) = sbverify(other.1.to_str().expect("utf-8"), &a);
    assert!(!ok, "sbverify accepted another certificate: {msg}");

    // OVMF with Secure Boot on and the snakeoil keys boots it; the kernel
    // says Secure Boot is on and still loads Debian's signed modules (the
    // page comes through virtio_net); the power button powers off.
    let t = Instant::now();
    let mut g = Guest::boot(
        BootOpts::image(&a)
            .secure_boot()
            .restrict()
            .forward(GUEST_PORT)
            .timeout(Duration::from_secs(500)),
    );
    g.expect_line("secureboot: Secure boot enabled", Duration::from_secs(300));
    let body = g
        .http_poll(GUEST_PORT, "/", GREETING, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("no page under Secure Boot: {e}"));
    assert!(body.contains(GREETING), "{body}");
    eprintln!("Secure Boot: page after {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(
        g.power_button(Duration::from_secs(60)),
        Outcome::PoweredOff,
        "console tail:\n{}",
        g.console_tail(2000)
    );
    let console = g.console();
    for bad in [
        "unsigned module loading is restricted",
        "module verification failed",
        "Loading of unsigned module",
    ] {
        assert!(!console.contains(bad), "{bad:?} on the console");
    }

    // The unsigned UKI: the firmware refuses it, and `nodistro run` says
    // so in one line and exits 126.
    let t = Instant::now();
    let out = Command::new(release_bin("nodistro"))
        .args(["run", "--secure-boot", "--nic", "none", "--timeout", "400"])
        .arg("--image")
        .arg(&plain)
        .output()
        .expect("run nodistro run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_NO_BOOT), "{}", text(&out));
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("nodistro run"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains("the firmware refused to start the image")
            && said[0].contains("--sign-key"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Access Denied"),
        "the firmware's own words: {}",
        text(&out)
    );
    eprintln!(
        "unsigned image refused after {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Signed, but by a key the firmware's db does not hold: refused too.
    let stranger = dir.path().join("stranger.efi");
    build(
        "uki",
        &stranger,
        &[
            "--sign-key",
            other.0.to_str().expect("utf-8"),
            "--sign-cert",
            other.1.to_str().expect("utf-8"),
        ],
    );
    let (ok, msg) = sbverify(other.1.to_str().expect("utf-8"), &stranger);
    assert!(ok, "sbverify with its own certificate: {msg}");
    let mut g = Guest::boot(
        BootOpts::image(&stranger)
            .secure_boot()
            .nic(Nic::None)
            .timeout(Duration::from_secs(300)),
    );
    assert_eq!(
        g.wait_exit(Duration::from_secs(300)),
        Outcome::NoBoot { denied: true },
        "console tail:\n{}",
        g.console_tail(2000)
    );
    assert!(!g.console().contains("Linux version"), "the kernel ran");
}

/// A self-signed key pair that no firmware here trusts.
fn other_pair(dir: &TempDir) -> (PathBuf, PathBuf) {
    let (key, cert) = (dir.path().join("other.key"), dir.path().join("other.pem"));
    if !cert.is_file() {
        let out = Command::new(require_program("openssl", "openssl"))
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .args(["/CN=not trusted", "-days", "3650", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl req: {}", text(&out));
    }
    (key, cert)
}

/// `--format disk` and `--format iso` sign the UKI on their EFI system
/// partition; both boot under Secure Boot (the ISO through OVMF's El
/// Torito support).
#[test]
fn disk_and_iso_carry_the_signed_uki() {
    let dir = TempDir::new("secboot-media");
    let key = nodistro_tests::snakeoil_plain_key(dir.path());
    let sign = [
        "--sign-key",
        key.to_str().expect("utf-8"),
        "--sign-cert",
        SNAKEOIL_CERT,
    ];
    let disk = dir.path().join("app.img");
    build("disk", &disk, &sign);
    // The ESP starts at sector 2048 (gpt::ALIGN); mtools takes an offset.
    let esp = dir.path().join("esp.img");
    let bytes = std::fs::read(&disk).expect("read");
    std::fs::write(&esp, &bytes[2048 * 512..]).expect("write");
    let efi = dir.path().join("disk-bootx64.efi");
    fat_file(&esp, "/EFI/BOOT/BOOTX64.EFI", &efi);
    let (ok, msg) = sbverify(SNAKEOIL_CERT, &efi);
    assert!(ok, "disk's UKI: {msg}");
    boot_secure(&disk, "the signed disk");

    let iso = dir.path().join("app.iso");
    build("iso", &iso, &sign);
    let fat = dir.path().join("efiboot.img");
    let out = Command::new(require_program("xorriso", "xorriso"))
        .args(["-osirrox", "on", "-indev"])
        .arg(&iso)
        .args(["-extract", "/EFI/efiboot.img"])
        .arg(&fat)
        .output()
        .expect("run xorriso");
    assert!(out.status.success(), "xorriso: {}", text(&out));
    let efi = dir.path().join("iso-bootx64.efi");
    fat_file(&fat, "/EFI/BOOT/BOOTX64.EFI", &efi);
    let (ok, msg) = sbverify(SNAKEOIL_CERT, &efi);
    assert!(ok, "ISO's UKI: {msg}");
    boot_secure(&iso, "the signed ISO");
}

/// Boot IMAGE under Secure Boot (UEFI, snakeoil keys) to the demo page,
/// with the kernel saying Secure Boot is on; power it off.
fn boot_secure(image: &Path, what: &str) {
    let mut g = Guest::boot(
        BootOpts::image(image)
            .secure_boot()
            .restrict()
            .forward(GUEST_PORT)
            .timeout(Duration::from_secs(500)),
    );
    if let Err(e) = g.wait_for("secureboot: Secure boot enabled", Duration::from_secs(300)) {
        panic!("{what}: {e}");
    }
    g.http_poll(GUEST_PORT, "/", GREETING, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{what}: no page: {e}"));
    assert_eq!(
        g.power_button(Duration::from_secs(60)),
        Outcome::PoweredOff,
        "{what}: console tail:\n{}",
        g.console_tail(2000)
    );
}

/// NODISTRO ARGS expecting failure: one stderr line holding every NEEDLE,
/// and no output file.
fn fails_with(out_file: &Path, args: &[&str], needles: &[&str]) {
    eprintln!("{args:?}");
    nodistro_tests::one_line_failure(&nodistro_build(args), needles);
    assert!(!out_file.exists(), "{args:?} left {}", out_file.display());
    let dir = out_file.parent().expect("a directory");
    let name = out_file.file_name().expect("a name").to_string_lossy();
    let temps: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}.")))
        .collect();
    assert!(temps.is_empty(), "{args:?} left {temps:?}");
}

/// `--format uki -o OUT EXTRA`.
fn uki_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--format", "uki", "-o", out];
    a.extend_from_slice(extra);
    a
}

#[test]
fn bad_signing_input_is_one_line() {
    let dir = TempDir::new("secboot-bad");
    let key = nodistro_tests::snakeoil_plain_key(dir.path());
    let k = key.to_str().expect("utf-8");
    let (other_key, other_cert) = other_pair(&dir);
    let ok_ = other_key.to_str().expect("utf-8");
    let oc = other_cert.to_str().expect("utf-8");
    let out = dir.path().join("out.efi");
    let o = out.to_str().expect("utf-8");
    fails_with(
        &out,
        &uki_args(
            o,
            &[
                "--sign-key",
                "/nonexistent/db.key",
                "--sign-cert",
                SNAKEOIL_CERT,
            ],
        ),
        &[
            "cannot read the signing key /nonexistent/db.key",
            "No such file",
        ],
    );
    fails_with(
        &out,
        &uki_args(o, &["--sign-key", k]),
        &["--sign-key needs --sign-cert"],
    );
    fails_with(
        &out,
        &uki_args(o, &["--sign-key", ok_, "--sign-cert", SNAKEOIL_CERT]),
        &["does not match the certificate", ok_, SNAKEOIL_CERT],
    );
    fails_with(
        &out,
        &uki_args(o, &["--sign-key", k, "--sign-cert", oc]),
        &["does not match the certificate"],
    );
    fails_with(
        &out,
        &uki_args(o, &["--sign-key", SNAKEOIL_CERT, "--sign-cert", k]),
        &["is a certificate, not a private key", "swapped"],
    );
    fails_with(
        &out,
        &["-o", o, "--sign-key", k, "--sign-cert", SNAKEOIL_CERT],
        &["sign a UKI: use --format uki, disk or iso"],
    );
    let oci = dir.path().join("out.tar");
    fails_with(
        &oci,
        &[
            "--format",
            "oci",
            "-o",
            oci.to_str().expect("utf-8"),
            "--sign-key",
            k,
            "--sign-cert",
            SNAKEOIL_CERT,
        ],
        &["sign a UKI: use --format uki, disk or iso"],
    );
    // A key with a passphrase and no terminal to ask it on (setsid: no
    // controlling terminal, whoever runs the test).
    let r = Command::new(require_program("setsid", "util-linux"))
        .arg("--wait")
        .arg(release_bin("nodistro"))
        .arg("build")
        .arg("--app")
        .arg(release_bin("demo-app"))
        .args(uki_args(
            o,
            &["--sign-key", SNAKEOIL_KEY, "--sign-cert", SNAKEOIL_CERT],
        ))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run setsid nodistro build");
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("protected by a passphrase") && err.contains("openssl pkey"),
        "{err}"
    );
    assert!(!out.exists());
    // The runner: --secure-boot needs an image and UEFI.
    let r = Command::new(release_bin("nodistro"))
        .args(["run", "--secure-boot", "--initrd", "/nonexistent.img"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(125), "{err}");
    assert!(
        err.contains("--secure-boot and --ovmf-vars are for --image"),
        "{err}"
    );
    let fake = dir.path().join("fake.efi");
    std::fs::write(&fake, b"MZ fake").expect("write");
    let f = fake.to_str().expect("utf-8");
    for (args, needle) in [
        (
            ["--firmware", "bios"],
            "--secure-boot needs UEFI firmware: drop --firmware bios",
        ),
        (
            ["--ovmf-vars", "/nonexistent/vars.fd"],
            "OVMF variable store /nonexistent/vars.fd not found",
        ),
    ] {
        let r = Command::new(release_bin("nodistro"))
            .args(["run", "--secure-boot", "--image", f])
            .args(args)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(125), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
