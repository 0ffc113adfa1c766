//! Where an A/B disk keeps things: the contract between `nodistro build
//! --format disk` (which lays the disk out) and the device (which fills the
//! slots and points the firmware at them).
//!
//! The ESP holds the factory image at the removable-media path
//! (`/EFI/BOOT/BOOTX64.EFI` or `BOOTAA64.EFI`: what the firmware boots the
//! first time, and whenever it lost its boot entries), and the two slots
//! `/EFI/nodistro/A.EFI` (the factory image again) and `/EFI/nodistro/B.EFI`
//! (empty until the first update). Each slot has its UEFI boot entry,
//! created by the device on its first boot.

/// The slots' directory on the ESP (no leading `/`).
pub const SLOT_DIR: &str = "EFI/nodistro";

/// The data partition's ext4 label; `--data-size` mounts it at [`DATA_MOUNT`].
pub const DATA_LABEL: &str = "nodistro-data";
/// Where the data partition is mounted by default.
pub const DATA_MOUNT: &str = "/data";

/// One of the two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    /// The slot's file name in [`SLOT_DIR`].
    pub fn file(self) -> &'static str {
        match self {
            Slot::A => "A.EFI",
            Slot::B => "B.EFI",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// The slot's path as the firmware spells it (`\EFI\nodistro\A.EFI`).
    pub fn efi_path(self) -> String {
        format!("\\{}\\{}", SLOT_DIR.replace('/', "\\"), self.file())
    }
}
