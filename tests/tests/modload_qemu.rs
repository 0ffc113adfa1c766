//! modload as init's coldplug and hotplug helper in the Debian kernel under
//! QEMU (TCG): the virtio-net device's alias appears only once virtio_pci is
//! loaded, so coldplug must load virtio_pci, look again and load virtio_net;
//! then a NIC hot-added through the QEMU monitor (an e1000) gets its driver
//! from `modload --watch` listening to kernel uevents.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Image};
use std::time::Duration;

fn pos(console: &str, needle: &str) -> usize {
    console
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the console:\n{console}"))
}

fn image() -> Image {
    image_with(&[])
}

/// The test image (virtio and e1000 drivers, modload as the only helper)
/// with more `nodistro build` arguments.
fn image_with(extra: &[&str]) -> Image {
    app_image(
        "demo-app",
        &["virtio_pci", "virtio_net", "e1000"],
        &["init.helpers=modload"],
        extra,
    )
}

/// Boot `img` with `append` on the kernel command line; returns once init
/// reports coldplug done.
fn boot_until_coldplug_done(img: &Image, append: &str) -> Guest {
    let g = Guest::boot(
        BootOpts::new(img.path())
            .append(append)
            .timeout(Duration::from_secs(150)),
    );
    g.expect_line("init: modload: coldplug-done", Duration::from_secs(90));
    g
}

#[test]
fn coldplug_loads_virtio_pci_then_virtio_net_and_hotplug_loads_e1000() {
    let img = image();
    // A module parameter from the kernel command line (`-` for `_`).
    let g = boot_until_coldplug_done(&img, "virtio-net.napi_tx=1");
    let c = g.console();
    let pci = pos(&c, "modload: loaded virtio_pci in ");
    let net = pos(&c, "modload: loaded virtio_net in ");
    let net_line = c[net..].lines().next().unwrap_or_default();
    assert!(net_line.ends_with("ms (napi_tx=1)"), "{net_line}");
    let summary = pos(&c, "modload: coldplug: ");
    assert!(pci < net && net < summary, "order wrong:\n{c}");
    // The dependencies came first.
    assert!(pos(&c, "modload: loaded virtio_ring in ") < pci, "{c}");
    assert!(pos(&c, "modload: loaded failover in ") < net, "{c}");
    assert!(!c.contains("modload: cannot load"), "{c}");
    // The image's .bin files (written by nodistro build) were used.
    assert!(!c.contains("using the text files"), "{c}");
    assert!(
        !c.contains("modload: loaded e1000"),
        "e1000 has no device yet:\n{c}"
    );
    let line = c[summary..].lines().next().unwrap_or_default();
    assert!(line.contains(" 0 failed"), "{line}");
    eprintln!("{line}");

    // Hotplug: a new PCI NIC, driver loaded from the uevent.
    for cmd in [
        "netdev_add user,id=hp0",
        "device_add e1000,netdev=hp0,id=hpnic",
    ] {
        let out = g.monitor(cmd).unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(!out.contains("Error"), "{cmd}: {out}");
    }
    if let Err(e) = g.wait_for("modload: loaded e1000 in ", Duration::from_secs(60)) {
        panic!("hot-added e1000 got no driver: {e}");
    }
}

/// A parameter value the kernel rejects fails that module alone, with the
/// reason on the console; coldplug still completes and reports the failure.
#[test]
fn a_rejected_module_is_reported_and_coldplug_goes_on() {
    let img = image();
    let g = boot_until_coldplug_done(&img, "virtio_pci.force_legacy=maybe");
    let c = g.console();
    let fail = pos(&c, "modload: cannot load virtio_pci: the kernel refused ");
    let line = c[fail..].lines().next().unwrap_or_default();
    assert!(line.contains("virtio_pci.ko: invalid argument"), "{line}");
    // Its dependencies loaded; what needs it never appeared.
    assert!(c.contains("modload: loaded virtio_ring in "), "{c}");
    assert!(!c.contains("modload: loaded virtio_net"), "{c}");
    let summary = pos(&c, "modload: coldplug: ");
    let line = c[summary..].lines().next().unwrap_or_default();
    assert!(line.contains(" 1 failed"), "{line}");
}

/// kmod's configuration in the image: an `options` line of
/// /etc/modprobe.d reaches the kernel with the module, and a `blacklist`
/// line keeps the driver of a present device (an e1000 NIC) from loading.
#[test]
fn modprobe_d_options_and_blacklist_take_effect() {
    let tmp = nodistro_tests::TempDir::new("modload-qemu-modprobe-d");
    let conf = tmp.path().join("nodistro-test.conf");
    std::fs::write(
        &conf,
        "# read by modload as kmod would\noptions virtio_net napi_tx=1\nblacklist e1000\n",
    )
    .expect("write");
    let file = format!("{}:/etc/modprobe.d/nodistro-test.conf", conf.display());
    let img = image_with(&["--file", &file]);
    let g = Guest::boot(
        BootOpts::new(img.path())
            .user_nic("blk0", "e1000", "restrict=on")
            .timeout(Duration::from_secs(150)),
    );
    g.expect_line("init: modload: coldplug-done", Duration::from_secs(90));
    let c = g.console();
    let net = pos(&c, "modload: loaded virtio_net in ");
    let line = c[net..].lines().next().unwrap_or_default();
    assert!(line.ends_with("ms (napi_tx=1)"), "{line}");
    let bl = pos(&c, "modload: not loading e1000 for pci:v00008086d0000100E");
    assert!(
        c[bl..]
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with(": blacklisted"),
        "{c}"
    );
    assert!(!c.contains("modload: loaded e1000"), "{c}");
    assert!(!c.contains("modload: cannot load"), "{c}");
    assert!(
        !c.contains("using the text files"),
        "the image's .bin files were used:\n{c}"
    );
}
