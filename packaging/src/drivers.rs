//! `--drivers`: named driver selections, so a first image boots on the
//! machines people use without naming a module.
//!
//! - `vm` (the default): virtio over PCI and MMIO, the common emulated and
//!   cloud NICs and disks, the ACPI power button and what Firecracker's
//!   Ctrl-Alt-Del needs ([`VM_DRIVERS`]).
//! - `rpi` (the default of `--format rpi`): the Raspberry Pi's SD card,
//!   USB and Ethernet ([`RPI_DRIVERS`]).
//! - `none`: only the kernel's built-in drivers.
//! - `all`: every module of the kernel.
//! - `host`: the drivers of the devices of the machine running the build
//!   (its `/sys/bus/*/devices/*/modalias`).
//!
//! Drivers a kernel builds in need nothing; drivers it lacks are skipped
//! with one line (a cloud kernel has no e1000).

use std::path::Path;

/// The `vm` selection, by module name.
pub const VM_DRIVERS: &[&str] = &[
    // virtio over PCI and over MMIO (microvm, Firecracker)
    "virtio_pci",
    "virtio_mmio",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "virtio_console",
    "virtio_rng",
    "vmw_vsock_virtio_transport",
    // emulated NICs (QEMU, VMware)
    "e1000",
    "e1000e",
    "vmxnet3",
    // AWS, GCP
    "ena",
    "nvme",
    "gve",
    // Hyper-V / Azure
    "hv_vmbus",
    "hv_netvsc",
    "hv_storvsc",
    // Xen
    "xen_netfront",
    "xen_blkfront",
    // ACPI power button as an input event device
    "button",
    "evdev",
    // Firecracker's Ctrl-Alt-Del is a keyboard event on the i8042
    "i8042",
    "atkbd",
];

/// Added to [`VM_DRIVERS`] for aarch64: QEMU `virt` without firmware
/// (`-kernel`) has no ACPI; its power button is a GPIO key (PL061, built
/// in) described by the device tree, which `gpio_keys` turns into
/// KEY_POWER on an event device.
pub const VM_DRIVERS_AARCH64: &[&str] = &["gpio_keys"];

/// The `rpi` selection, by module name (Debian's arm64 kernel; the
/// mailbox, clocks, pin control, UARTs, DMA and the Pi 4's PCIe are built
/// in).
pub const RPI_DRIVERS: &[&str] = &[
    // SD card: the Pi 3's SDHOST and Arasan (bcm2835, sdhci-iproc), the
    // Pi 4's EMMC2 (sdhci-iproc)
    "bcm2835",
    "sdhci_iproc",
    // USB: the Pi 3's DWC2 host; the Pi 4's VL805 xHCI on PCIe, whose
    // firmware load the reset controller triggers
    "dwc2",
    "xhci_pci",
    "reset_raspberrypi",
    // Ethernet: LAN9514 (Pi 3B), LAN7515 (Pi 3B+), GENET and its PHY and
    // MDIO (Pi 4, 400, CM4), Cadence GEM (Pi 5's RP1, for kernels with
    // its device tree)
    "smsc95xx",
    "lan78xx",
    "genet",
    "broadcom",
    "mdio_bcm_unimac",
    "macb",
    // the SoC's random number generator (its watchdog, bcm2835_wdt, is
    // left to --module: loading it reset QEMU's raspi3b)
    "bcm2835_rng",
];

/// The `vm` selection of an architecture. The x86-only drivers are left
/// out of aarch64's (they would be skipped as missing, one line each).
pub fn vm_drivers(arch: crate::core::arch::Arch) -> impl Iterator<Item = &'static str> {
    let x86_only = [
        "i8042",
        "atkbd",
        "hv_vmbus",
        "hv_netvsc",
        "hv_storvsc",
        "xen_netfront",
        "xen_blkfront",
    ];
    let aarch64 = arch == crate::core::arch::Arch::Aarch64;
    VM_DRIVERS
        .iter()
        .copied()
        .filter(move |d| !aarch64 || !x86_only.contains(d))
        .chain(
            if aarch64 { VM_DRIVERS_AARCH64 } else { &[] }
                .iter()
                .copied(),
        )
}

/// `--drivers vm|none|all|host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drivers {
    Vm,
    Rpi,
    None,
    All,
    Host,
}

impl Drivers {
    pub fn name(self) -> &'static str {
        match self {
            Drivers::Vm => "vm",
            Drivers::Rpi => "rpi",
            Drivers::None => "none",
            Drivers::All => "all",
            Drivers::Host => "host",
        }
    }
}

impl std::str::FromStr for Drivers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vm" => Ok(Drivers::Vm),
            "rpi" => Ok(Drivers::Rpi),
            "none" => Ok(Drivers::None),
            "all" => Ok(Drivers::All),
            "host" => Ok(Drivers::Host),
            other => Err(format!(
                "unknown driver selection {other:?}: use vm (the default), rpi, none, all or host, or name modules with --module / a target's aliases with --modaliases FILE"
            )),
        }
    }
}

/// The modaliases of the devices of this machine: every
/// `/sys/bus/*/devices/*/modalias` under `sys` (cheaper than a walk of
/// /sys, and the same devices).
pub fn host_modaliases(sys: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for bus in std::fs::read_dir(sys.join("bus"))?.flatten() {
        let Ok(devices) = std::fs::read_dir(bus.path().join("devices")) else {
            continue;
        };
        for dev in devices.flatten() {
            if let Ok(a) = std::fs::read_to_string(dev.path().join("modalias")) {
                let a = a.trim();
                if !a.is_empty() {
                    out.push(a.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_and_bad_ones_name_the_choices() {
        assert_eq!("vm".parse(), Ok(Drivers::Vm));
        assert_eq!("none".parse(), Ok(Drivers::None));
        assert_eq!("all".parse(), Ok(Drivers::All));
        assert_eq!("host".parse(), Ok(Drivers::Host));
        let e = "cloud".parse::<Drivers>().expect_err("unknown");
        assert!(e.contains("\"cloud\"") && e.contains("vm") && e.contains("--module"));
        assert_eq!("rpi".parse(), Ok(Drivers::Rpi));
        for d in [
            Drivers::Vm,
            Drivers::Rpi,
            Drivers::None,
            Drivers::All,
            Drivers::Host,
        ] {
            assert_eq!(d.name().parse(), Ok(d));
        }
    }

    #[test]
    fn vm_list_has_what_the_qemu_machines_need() {
        for m in ["virtio_pci", "virtio_mmio", "virtio_net", "e1000", "evdev"] {
            assert!(VM_DRIVERS.contains(&m), "{m}");
        }
    }

    #[test]
    fn host_modaliases_reads_the_bus_tree() {
        let root = std::env::temp_dir().join(format!("nodistro-sys-{}", std::process::id()));
        let dev = root.join("bus/pci/devices/0000:00:01.0");
        std::fs::create_dir_all(&dev).expect("mkdir");
        std::fs::write(dev.join("modalias"), "pci:v00008086d0000100Esv\n").expect("write");
        std::fs::create_dir_all(root.join("bus/cpu/devices/cpu0")).expect("mkdir");
        let got = host_modaliases(&root);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(got.expect("read"), vec!["pci:v00008086d0000100Esv"]);
    }
}
