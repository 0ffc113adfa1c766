//! The ESP this machine boots from: found by its GPT type on a disk,
//! mounted with the kernel's vfat (modload loads it) while a slot is
//! written, unmounted after.

use crate::core::efi::Partition;
use crate::core::gpt;
use rustix::mount::{MountFlags, UnmountFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the ESP is mounted while a slot is written.
pub const MOUNT: &str = nodistro_common::protocol::update::ESP_MOUNT;

/// The ESP's block device and its place on the disk.
#[derive(Debug, Clone)]
pub struct Esp {
    pub device: String,
    pub partition: Partition,
    /// The disk's device path before HD() ([`crate::core::efi::pci_prefix`]).
    pub prefix: Vec<u8>,
}

/// The first disk's ESP, waiting up to `timeout` for the disk to appear
/// (its driver may still be loading).
pub fn find(timeout: Duration) -> Option<Esp> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(e) = scan() {
            return Some(e);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scan() -> Option<Esp> {
    let mut disks: Vec<String> = std::fs::read_dir("/sys/class/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let base = Path::new("/sys/class/block").join(n);
            !base.join("partition").exists() && !n.starts_with("loop") && !n.starts_with("ram")
        })
        .collect();
    disks.sort();
    disks.into_iter().find_map(|disk| {
        let sector =
            std::fs::read_to_string(format!("/sys/class/block/{disk}/queue/logical_block_size"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(512usize);
        let head = nodistro_common::sys::read_prefix(
            &format!("/dev/{disk}"),
            gpt::HEAD_BYTES.max(sector * 34),
        )?;
        let partition = gpt::find_esp(&head, sector)?;
        let device = partition_device(&disk, partition.number)?;
        let sysfs = std::fs::canonicalize(format!("/sys/class/block/{disk}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let prefix = crate::core::efi::pci_prefix(&crate::core::efi::pci_chain(&sysfs));
        Some(Esp {
            device,
            partition,
            prefix,
        })
    })
}

/// `/dev/vda1` for partition 1 of vda (`nvme0n1p1` for NVMe), as sysfs names it.
fn partition_device(disk: &str, number: u32) -> Option<String> {
    std::fs::read_dir(format!("/sys/class/block/{disk}"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            std::fs::read_to_string(format!("/sys/class/block/{disk}/{n}/partition"))
                .is_ok_and(|p| p.trim() == number.to_string())
        })
        .map(|n| format!("/dev/{n}"))
}

/// The ESP mounted at [`MOUNT`]; unmounted when dropped.
pub struct Mounted {
    pub root: PathBuf,
}

impl Mounted {
    pub fn new(esp: &Esp, prepare: fn(&mut std::process::Command)) -> Result<Mounted, String> {
        nodistro_common::fsmodule::load_filesystem("vfat", prepare)?;
        std::fs::create_dir_all(MOUNT).map_err(|e| format!("cannot create {MOUNT}: {e}"))?;
        rustix::mount::mount(
            esp.device.as_str(),
            MOUNT,
            "vfat",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            Some(c"shortname=mixed,flush"),
        )
        .map_err(|e| format!("cannot mount the ESP {} on {MOUNT}: {e}", esp.device))?;
        Ok(Mounted {
            root: PathBuf::from(MOUNT),
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        rustix::fs::sync();
        let _ = rustix::mount::unmount(MOUNT, UnmountFlags::empty());
    }
}
