//! Issue 7's variants, each a real boot of the demo image on the Debian
//! kernel under QEMU: an e1000 NIC with DHCP and logfwd shipping the
//! kernel's and the app's logs to a syslog receiver on the host (10.0.2.2
//! from the guest, 127.0.0.1 here), and a static `ip=` instead of DHCP.

use nodistro_tests::logfwd::{free_port, Rsyslog};
use nodistro_tests::qemu::{build_demo_image, BootOpts, Guest, Nic, Outcome};
use nodistro_tests::TempDir;
use std::time::Duration;

/// The demo app's page through the forwarded port 8080.
fn fetch_the_page(g: &Guest) {
    let body = g
        .http_poll(8080, "/", "Hello from nodistro", Duration::from_secs(100))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body.trim_end(), "Hello from nodistro");
}

fn power_off(g: &mut Guest) {
    let outcome = g.power_button(Duration::from_secs(60));
    assert_eq!(
        outcome,
        Outcome::PoweredOff,
        "after system_powerdown; console tail:\n{}",
        g.console_tail(3000)
    );
}

#[test]
fn e1000_dhcp_with_logs_to_the_host() {
    let img = build_demo_image();
    // A real rsyslog on 127.0.0.1 (10.0.2.2 from inside the guest).
    let dir = TempDir::new("appliance-rsyslog");
    let rx = Rsyslog::start(&dir, free_port());
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::E1000)
            .forward(8080)
            .append(&format!("logfwd.remote=udp://10.0.2.2:{}", rx.port))
            .append("hostname=e1000-demo")
            .timeout(Duration::from_secs(150)),
    );
    fetch_the_page(&g);
    let c = g.console();
    assert!(c.contains("e1000"), "no e1000 driver on the console:\n{c}");
    assert!(
        c.contains("10.0.2.15"),
        "no DHCP lease on the console:\n{c}"
    );
    // The app logs one line per request on stdout: init pipes it to
    // logfwd, which sends it to the host; kernel messages travel too (from
    // /dev/kmsg), e1000's among them; records carry the host name given
    // on the kernel command line. The page poller may give up on a slow
    // first attempt (the app then logs that request as failed), so the
    // served request is not always number 1.
    let app = |r: &nodistro_tests::logfwd::Received| {
        r.app == "demo-app"
            && r.hostname == "e1000-demo"
            && r.msg.starts_with("request ")
            && r.msg.contains(" from ")
    };
    let kernel =
        |r: &nodistro_tests::logfwd::Received| r.app == "kernel" && r.msg.contains("e1000");
    let got = rx.wait_for(Duration::from_secs(20), |rs| {
        rs.iter().any(app) && rs.iter().any(kernel)
    });
    assert!(
        got.iter().any(app) && got.iter().any(kernel),
        "rsyslog did not get both the app's request line and e1000's kernel messages; got {} records, the last: {:?}\nconsole tail:\n{}",
        got.len(),
        got.iter().rev().take(8).collect::<Vec<_>>(),
        g.console_tail(3000)
    );
    power_off(&mut g);
}

#[test]
fn virtio_with_a_static_address() {
    let img = build_demo_image();
    // Not the address QEMU's DHCP server would lease: the forward reaches
    // the guest only if the static configuration was applied.
    let addr = std::net::Ipv4Addr::new(10, 0, 2, 77);
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::Virtio)
            .forward(8080)
            .guest_addr(addr)
            .append("ip=10.0.2.77::10.0.2.2:255.255.255.0:static-demo:eth0:off")
            .timeout(Duration::from_secs(150)),
    );
    fetch_the_page(&g);
    let c = g.console();
    assert!(
        c.contains("10.0.2.77"),
        "static address not on the console:\n{c}"
    );
    assert!(
        !c.contains("10.0.2.15"),
        "the guest leased 10.0.2.15 although ip= was static:\n{c}"
    );
    power_off(&mut g);
}
