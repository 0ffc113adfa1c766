//! Issue 7's main command: `nodistro demo --check` builds the demo image
//! against the Debian kernel, boots it under QEMU with a virtio-net NIC
//! (modload loads virtio_pci then virtio_net, netcfg leases 10.0.2.15 from
//! QEMU's DHCP server), fetches the page over the forwarded port, powers the
//! guest off through the monitor, and exits 0 only if every step held.

use nodistro_tests::qemu::free_port;
use nodistro_tests::{release_bin, require_program};
use std::process::Command;

#[test]
fn demo_check_serves_the_page_and_powers_off() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    // The demo finds demo-app and the runtime tools next to nodistro.
    release_bin("demo-app");
    let port = free_port();
    let out = Command::new(release_bin("nodistro"))
        .args(["demo", "--check", "--timeout", "120", "--port"])
        .arg(port.to_string())
        .output()
        .expect("run nodistro demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = {
        let start = stdout.len().saturating_sub(4000);
        stdout.get(start..).unwrap_or(&stdout).to_string()
    };
    assert!(
        out.status.success(),
        "nodistro demo --check failed ({}):\n{stderr}\nconsole tail:\n{tail}",
        out.status
    );
    // The page, printed by the demo on its own line.
    assert!(
        stdout.lines().any(|l| l == "Hello from nodistro"),
        "no page on stdout:\n{tail}"
    );
    assert!(stderr.contains("every step held"), "{stderr}");
    // The boot as the console shows it: the drivers, the lease, the app,
    // then the power-off.
    for needle in [
        "Run /init as init process",
        "virtio_net",
        "10.0.2.15",
        "init: app /app/demo-app started",
        "reboot: Power down",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} not on the console:\n{tail}"
        );
    }
    // modload found the virtio-net device only once virtio_pci was loaded.
    let pci = stdout.find("loaded virtio_pci ");
    let net = stdout.find("loaded virtio_net ");
    assert!(
        pci.is_some() && pci < net,
        "modload did not load virtio_pci, then virtio_net:\n{tail}"
    );
}
