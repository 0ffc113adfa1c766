//! The README's Firecracker recipe, checked on QEMU's microvm machine (the
//! same device model: virtio-mmio, no PCI): the boot arguments are read
//! from the README's `"boot_args"` line itself, the initramfs carries the
//! modules the README names, and the demo app answers through a forward.

use nodistro_packaging::demo::{GREETING, GUEST_PORT};
use nodistro_packaging::qemu::Machine;
use nodistro_tests::qemu::{build_image, kernel_release, BootOpts, Guest};
use nodistro_tests::{release_bin, workspace_root};
use std::time::Duration;

/// The value of `"boot_args": "..."` in README.md.
fn readme_boot_args() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.contains("\"boot_args\":"))
        .expect("README.md has a Firecracker \"boot_args\" line");
    line.split('"')
        .nth(3)
        .expect("\"boot_args\": \"...\"")
        .to_string()
}

#[test]
fn readme_firecracker_args_boot_on_microvm() {
    let args = readme_boot_args();
    for needed in ["reboot=k", "i8042.nomux", "console=ttyS0"] {
        assert!(args.contains(needed), "{needed} missing from {args}");
    }
    let app = release_bin("demo-app").display().to_string();
    let release = kernel_release();
    let img = build_image(&[
        "--app",
        &app,
        "--kernel-version",
        &release,
        "--module",
        "virtio_mmio",
        "--module",
        "virtio_net",
    ]);
    let mut opts = BootOpts::new(img.path())
        .machine(Machine::Microvm)
        .forward(GUEST_PORT)
        .timeout(Duration::from_secs(240));
    for a in args.split_whitespace() {
        opts = opts.append(a);
    }
    let g = Guest::boot(opts);
    let body = g
        .http_poll(GUEST_PORT, "/", GREETING, Duration::from_secs(200))
        .unwrap_or_else(|e| panic!("microvm with the README's boot_args: {e}"));
    assert!(body.contains(GREETING));
    let c = g.console();
    // The launcher's own arguments come first; the README's end the line.
    assert!(
        c.lines()
            .any(|l| l.contains("Kernel command line: ") && l.trim_end().ends_with(&args)),
        "{c}"
    );
}
