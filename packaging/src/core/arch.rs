//! The architectures images are built for (`--arch`): what differs between
//! them, in one place (sans-IO). x86_64 is the default when the build
//! machine is one; aarch64 images are cross-built (README, "arm64").

/// An image's CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;

impl Arch {
    /// The machine running this program (x86_64 on anything else).
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// The name `--arch` takes and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Debian's name (`dpkg --print-architecture`).
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// ELF `e_machine`.
    pub fn e_machine(self) -> u16 {
        match self {
            Arch::X86_64 => EM_X86_64,
            Arch::Aarch64 => EM_AARCH64,
        }
    }

    /// Debian's kernel metapackage of this architecture.
    pub fn kernel_package(self) -> &'static str {
        match self {
            Arch::X86_64 => "linux-image-amd64",
            Arch::Aarch64 => "linux-image-arm64",
        }
    }

    /// The QEMU system emulator and its Debian package.
    pub fn qemu(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
            Arch::Aarch64 => ("qemu-system-aarch64", "qemu-system-arm"),
        }
    }

    /// The removable-media boot file UEFI firmware looks for.
    pub fn efi_boot_file(self) -> &'static str {
        match self {
            Arch::X86_64 => "EFI/BOOT/BOOTX64.EFI",
            Arch::Aarch64 => "EFI/BOOT/BOOTAA64.EFI",
        }
    }

    /// systemd's EFI stub in Debian's systemd-boot-efi of this architecture.
    pub fn efi_stub(self) -> &'static str {
        match self {
            Arch::X86_64 => "/usr/lib/systemd/boot/efi/linuxx64.efi.stub",
            Arch::Aarch64 => "/usr/lib/systemd/boot/efi/linuxaa64.efi.stub",
        }
    }

    /// The serial console of QEMU's machines of this architecture.
    pub fn serial_console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }

    /// What to run to build a nodistro-box (and demo app) for it.
    pub fn box_hint(self) -> &'static str {
        match self {
            Arch::X86_64 => "scripts/build-box.sh",
            Arch::Aarch64 => "scripts/build-box.sh --arch aarch64",
        }
    }

    /// The architecture of an ELF file's bytes, `Err` with what it is
    /// when it is none of ours (or not ELF at all).
    pub fn of_elf(bytes: &[u8]) -> Result<Arch, String> {
        if bytes.len() < 20 || !bytes.starts_with(b"\x7fELF") {
            return Err("not an ELF file".into());
        }
        let (class, data) = (bytes[4], bytes[5]);
        let machine = if data == 2 {
            u16::from_be_bytes([bytes[18], bytes[19]])
        } else {
            u16::from_le_bytes([bytes[18], bytes[19]])
        };
        match (class, data, machine) {
            (2, 1, EM_X86_64) => Ok(Arch::X86_64),
            (2, 1, EM_AARCH64) => Ok(Arch::Aarch64),
            _ => Err(format!(
                "ELF {} {}, {}",
                match class {
                    1 => "32-bit",
                    2 => "64-bit",
                    _ => "of unknown class",
                },
                if data == 2 {
                    "big-endian"
                } else {
                    "little-endian"
                },
                machine_name(machine)
            )),
        }
    }

    /// The architecture of a kernel image QEMU boots with `-kernel`: an
    /// x86 bzImage (`HdrS` at 0x202), an arm64 `Image` (`ARM\x64` at 56),
    /// or an ELF vmlinux. None when it is none of these (a compressed
    /// arm64 vmlinuz, say).
    pub fn of_kernel(bytes: &[u8]) -> Option<Arch> {
        if bytes.get(0x202..0x206) == Some(b"HdrS") {
            return Some(Arch::X86_64);
        }
        if bytes.get(56..60) == Some(b"ARM\x64") {
            return Some(Arch::Aarch64);
        }
        Arch::of_elf(bytes).ok()
    }
}

/// A person's name for an ELF machine number.
pub fn machine_name(machine: u16) -> String {
    match machine {
        3 => "i386".into(),
        8 => "MIPS".into(),
        20 => "PowerPC".into(),
        21 => "PowerPC64".into(),
        22 => "s390".into(),
        40 => "ARM (32-bit)".into(),
        EM_X86_64 => "x86_64".into(),
        EM_AARCH64 => "aarch64".into(),
        243 => "RISC-V".into(),
        m => format!("machine {m}"),
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => Err(format!("unknown architecture {s:?}: use x86_64 or aarch64")),
        }
    }
}

/// The binary kernel package a metapackage's `apt-cache show` record
/// depends on (`Depends: linux-image-6.1.0-57-arm64 (= 6.1.192-3)` gives
/// `linux-image-6.1.0-57-arm64`): the current kernel, never a hard-coded
/// version.
pub fn kernel_dependency(show: &str, prefix: &str) -> Option<String> {
    let deps = show.lines().find_map(|l| l.strip_prefix("Depends:"))?;
    deps.split([',', '|'])
        .map(|d| d.split_whitespace().next().unwrap_or_default())
        .map(|d| d.split(':').next().unwrap_or(d))
        .find(|d| d.starts_with(prefix) && d.len() > prefix.len())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = class;
        b[5] = data;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b
    }

    #[test]
    fn elf_machines() {
        assert_eq!(Arch::of_elf(&elf(2, 1, 62)), Ok(Arch::X86_64));
        assert_eq!(Arch::of_elf(&elf(2, 1, 183)), Ok(Arch::Aarch64));
        let e = Arch::of_elf(&elf(1, 1, 40)).expect_err("refused");
        assert_eq!(e, "ELF 32-bit little-endian, ARM (32-bit)");
        assert_eq!(
            Arch::of_elf(b"#!/bin/sh\n").expect_err("refused"),
            "not an ELF file"
        );
        assert!(Arch::of_elf(&[]).is_err());
    }

    #[test]
    fn kernel_images() {
        let mut bz = vec![0u8; 0x300];
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        assert_eq!(Arch::of_kernel(&bz), Some(Arch::X86_64));
        let mut image = vec![0u8; 64];
        image[56..60].copy_from_slice(b"ARM\x64");
        assert_eq!(Arch::of_kernel(&image), Some(Arch::Aarch64));
        assert_eq!(Arch::of_kernel(&elf(2, 1, 62)), Some(Arch::X86_64));
        assert_eq!(Arch::of_kernel(b"\x1f\x8b gzip"), None);
        assert_eq!(Arch::of_kernel(&[]), None);
    }

    #[test]
    fn names() {
        assert_eq!("arm64".parse::<Arch>(), Ok(Arch::Aarch64));
        assert_eq!("amd64".parse::<Arch>(), Ok(Arch::X86_64));
        assert!("riscv64"
            .parse::<Arch>()
            .expect_err("refused")
            .contains("x86_64 or aarch64"));
        assert_eq!(Arch::Aarch64.debian(), "arm64");
    }

    #[test]
    fn current_kernel_package() {
        let show = "Package: linux-image-arm64\nVersion: 6.1.192-3\nDepends: linux-image-6.1.0-57-arm64 (= 6.1.192-3)\nDescription: x\n";
        assert_eq!(
            kernel_dependency(show, "linux-image-").as_deref(),
            Some("linux-image-6.1.0-57-arm64")
        );
        let alt = "Depends: foo, linux-image-6.12.9-arm64:arm64 (= 1) | linux-image-x\n";
        assert_eq!(
            kernel_dependency(alt, "linux-image-").as_deref(),
            Some("linux-image-6.12.9-arm64")
        );
        assert_eq!(kernel_dependency("Package: x\n", "linux-image-"), None);
    }
}
