//! The A/B disk of `--format disk` (issue 24), sans-IO: what goes on the
//! ESP, how large it is, the data partition's ext4 (host `mke2fs`
//! arguments) and the configuration lines and modules the device needs.
//! The layout's names are the device's contract, in
//! [`nodistro_update::core::layout`].
//!
//! ```text
//! ESP (FAT16, FAT32 above 512 MiB)
//!   /EFI/BOOT/BOOTX64.EFI    the factory image (what the firmware boots
//!                            first, and whenever it lost its boot entries)
//!   /EFI/nodistro/A.EFI      slot A: the same UKI
//!   /EFI/nodistro/B.EFI      slot B: absent until the first update
//!   free space               at least one slot
//! data (ext4, label nodistro-data; with --data-size) mounted at /data
//! ```

use nodistro_update::core::layout::{self, Slot};
use std::ffi::OsString;
use std::path::Path;

const MIB: u64 = 1 << 20;

/// The smallest default slot.
pub const MIN_DEFAULT_SLOT: u64 = 64 * MIB;

/// The modules the `update` tool needs to reach the ESP and the firmware's
/// variables (those the kernel has as modules; built-in ones need nothing).
pub const UPDATE_MODULES: [&str; 5] = ["vfat", "fat", "nls_cp437", "nls_ascii", "efivarfs"];
/// The data partition's file system module.
pub const DATA_MODULE: &str = "ext4";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AbError {
    #[error("--slot-size {slot} bytes is smaller than the UKI ({uki} bytes): give at least {min}M, or leave --slot-size out (default: twice the UKI, at least 64M)", min = uki.div_ceil(MIB))]
    SlotTooSmall { slot: u64, uki: u64 },
}

fn round_mib(n: u64) -> u64 {
    n.div_ceil(MIB) * MIB
}

/// `--slot-size`, or its default: twice the UKI rounded up to a MiB, at
/// least 64 MiB (room for the next releases to grow). Refused below the
/// UKI.
pub fn slot_size(given: Option<u64>, uki: u64) -> Result<u64, AbError> {
    match given {
        Some(slot) if slot < uki => Err(AbError::SlotTooSmall { slot, uki }),
        Some(slot) => Ok(slot),
        None => Ok((2 * round_mib(uki)).max(MIN_DEFAULT_SLOT)),
    }
}

/// The ESP's size: the fallback, two slots, and the file system's own
/// room (FATs, directories; a cluster's slack per file), in whole MiB.
pub fn esp_size(uki: u64, slot: u64) -> u64 {
    let content = round_mib(uki) + 2 * round_mib(slot);
    round_mib(content + content / 128 + 2 * MIB)
}

/// The ESP's files: the fallback path and slot A, both the UKI.
pub fn esp_files(efi_boot_file: &str) -> [String; 2] {
    [
        efi_boot_file.to_string(),
        format!("{}/{}", layout::SLOT_DIR, Slot::A.file()),
    ]
}

/// The configuration line that mounts the data partition.
pub fn data_mount_line() -> String {
    format!("LABEL={}:{}:ext4", layout::DATA_LABEL, layout::DATA_MOUNT)
}

/// Whether the user's `--config` lines already mount something at /data
/// (`init.mount=DEVICE:MOUNTPOINT[:...]`).
pub fn user_mounts_data(config: &[String]) -> bool {
    config
        .iter()
        .filter_map(|c| c.strip_prefix("init.mount="))
        .filter_map(|v| v.split(':').nth(1))
        .any(|m| m.trim_end_matches('/') == layout::DATA_MOUNT)
}

/// A GUID-shaped text of 16 hash bytes (for mke2fs `-U` and `hash_seed=`).
fn uuid_text(h: u128) -> String {
    let b = h.to_be_bytes();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The ext4 block size of the data partition.
pub const DATA_BLOCK: u64 = 4096;

/// `mke2fs` arguments that format `bytes` at `offset` in `image` as the
/// data partition's ext4, reproducibly: the UUID and directory hash seed
/// from `seed` (the build's content hash), root owned by 0:0, the inode
/// tables and journal written now (no lazy init left for the device),
/// nothing discarded (the image's holes stay). Run with
/// `E2FSPROGS_FAKE_TIME` = SOURCE_DATE_EPOCH for the timestamps.
pub fn mke2fs_args(image: &Path, offset: u64, bytes: u64, seed: u128) -> Vec<OsString> {
    let uuid = uuid_text(crate::core::digest::fnv128(&[
        b"data-uuid",
        &seed.to_le_bytes(),
    ]));
    let hash = uuid_text(crate::core::digest::fnv128(&[
        b"data-hash",
        &seed.to_le_bytes(),
    ]));
    let mut a: Vec<OsString> = [
        "-t",
        "ext4",
        "-F",
        "-q",
        "-b",
        "4096",
        "-L",
        layout::DATA_LABEL,
        "-U",
        &uuid,
        "-E",
        &format!(
            "offset={offset},hash_seed={hash},root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,nodiscard"
        ),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    a.push(image.into());
    a.push(format!("{}k", bytes / DATA_BLOCK * 4).into());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_sizes() {
        assert_eq!(slot_size(None, 20 * MIB), Ok(64 * MIB));
        assert_eq!(slot_size(None, 40 * MIB + 1), Ok(82 * MIB));
        assert_eq!(slot_size(Some(30 * MIB), 20 * MIB), Ok(30 * MIB));
        let e = slot_size(Some(10 * MIB), 20 * MIB + 5).expect_err("small");
        assert_eq!(
            e.to_string(),
            "--slot-size 10485760 bytes is smaller than the UKI (20971525 bytes): give at least 21M, or leave --slot-size out (default: twice the UKI, at least 64M)"
        );
    }

    #[test]
    fn esp_holds_fallback_and_two_slots() {
        let (uki, slot) = (20 * MIB + 7, 64 * MIB);
        let esp = esp_size(uki, slot);
        assert_eq!(esp % MIB, 0);
        assert!(esp >= 21 * MIB + 128 * MIB);
        assert!(esp < 160 * MIB, "{esp}");
        // The sized FAT that fat::build makes of it has a free slot after A.
        let img = vec![1u8; uki as usize];
        let names = esp_files("EFI/BOOT/BOOTX64.EFI");
        assert_eq!(names[1], "EFI/nodistro/A.EFI");
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &img[..])).collect();
        let opts = |size| crate::core::fat::FatOptions {
            size: Some(size),
            ..crate::core::fat::FatOptions::new("ESP", 0, 2048)
        };
        let fs = crate::core::fat::build(&files, &opts(esp)).expect("fits");
        assert!(fs.free >= slot, "{} free", fs.free);
        // Large slots: FAT32, still room for B.
        let esp = esp_size(uki, 400 * MIB);
        let fs = crate::core::fat::build(&files, &opts(esp)).expect("fits");
        assert!(fs.fat32 && fs.free >= 400 * MIB);
    }

    #[test]
    fn data_mount() {
        assert_eq!(data_mount_line(), "LABEL=nodistro-data:/data:ext4");
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!user_mounts_data(&c(&["init.mount=/dev/vdb:/srv"])));
        assert!(user_mounts_data(&c(&["x=1", "init.mount=/dev/vdb:/data/"])));
        assert!(user_mounts_data(&c(&["init.mount=LABEL=x:/data:xfs"])));
        assert!(!user_mounts_data(&c(&["init.mount=/dev/vdb:/data/logs"])));
    }

    #[test]
    fn mke2fs_is_reproducible() {
        let a = mke2fs_args(Path::new("/d.img"), 1 << 20, 64 << 20, 42);
        assert_eq!(a, mke2fs_args(Path::new("/d.img"), 1 << 20, 64 << 20, 42));
        assert_ne!(a, mke2fs_args(Path::new("/d.img"), 1 << 20, 64 << 20, 43));
        let line: Vec<String> = a.iter().map(|s| s.to_string_lossy().into()).collect();
        assert_eq!(line[line.len() - 1], "65536k");
        assert_eq!(line[line.len() - 2], "/d.img");
        let uuid = &line[9];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(line[11].starts_with("offset=1048576,hash_seed="));
    }
}
