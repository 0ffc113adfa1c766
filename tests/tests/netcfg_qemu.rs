//! netcfg in a real boot: the Debian kernel under QEMU with a virtio NIC,
//! QEMU's user-mode DHCP server leasing 10.0.2.15. The console must show
//! the lease line (router, DNS), init's readiness line, and at power-off
//! the DHCPRELEASE path removing the address.

use nodistro_tests::qemu::{build_demo_image, BootOpts, Guest, Outcome};
use nodistro_tests::require_program;
use std::time::Duration;

#[test]
fn leases_from_qemu_user_network_and_releases_at_power_off() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let img = build_demo_image();
    let mut g = Guest::boot(BootOpts::new(img.path()).timeout(Duration::from_secs(120)));
    let wait = |needle: &str| {
        g.wait_for(needle, Duration::from_secs(90))
            .unwrap_or_else(|e| panic!("{needle:?}: {e}\n{}", g.console_tail(3000)));
    };
    wait("netcfg: eth0 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3 lease 86400s (in ");
    wait("init: netcfg: online eth0 10.0.2.15/24");
    let outcome = g.power_button(Duration::from_secs(60));
    assert_eq!(outcome, Outcome::PoweredOff, "{}", g.console_tail(3000));
    let c = g.console();
    assert!(
        c.contains("netcfg: eth0: removed 10.0.2.15/24"),
        "no release at power-off:\n{}",
        g.console_tail(3000)
    );
    assert!(!c.contains("netcfg: error"), "{c}");
}
