//! Booting a whole image (`nodistro run --image`): what the file is (told
//! by its bytes, sans-IO), which firmware boots it, and the temporary files
//! a boot needs (a private copy of OVMF's variable store; a FAT disk
//! around a bare UKI), removed when the boot is over.

use super::{Machine, QemuSpec};
use crate::core::arch::Arch;
use std::path::{Path, PathBuf};

/// OVMF's paths in Debian's ovmf package.
pub const OVMF_CODE: &str = "OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "OVMF_VARS_4M.fd";
pub const OVMF_DIR: &str = "/usr/share/OVMF";
/// The aarch64 UEFI firmware (EDK II's ArmVirtQemu) of `qemu-efi-aarch64`.
pub const AAVMF_CODE: &str = "AAVMF_CODE.fd";
pub const AAVMF_VARS: &str = "AAVMF_VARS.fd";
pub const AAVMF_DIR: &str = "/usr/share/AAVMF";
/// AAVMF's variables with Debian's snakeoil PK/KEK/db enrolled and Secure
/// Boot on (the same snakeoil key and certificate as OVMF's).
pub const AAVMF_VARS_SNAKEOIL: &str = "AAVMF_VARS.snakeoil.fd";
/// The Secure Boot build (SMM on q35) and variables that hold Debian's
/// snakeoil test key in PK, KEK and db, with Secure Boot on
/// (/usr/share/ovmf/PkKek-1-snakeoil.{key,pem}, passphrase "snakeoil").
pub const OVMF_CODE_SECBOOT: &str = "OVMF_CODE_4M.secboot.fd";
pub const OVMF_VARS_SNAKEOIL: &str = "OVMF_VARS_4M.snakeoil.fd";
/// Debian's snakeoil key pair (package ovmf) that those variables trust.
pub const SNAKEOIL_KEY: &str = "/usr/share/ovmf/PkKek-1-snakeoil.key";
pub const SNAKEOIL_CERT: &str = "/usr/share/ovmf/PkKek-1-snakeoil.pem";
pub const SNAKEOIL_PASSPHRASE: &str = "snakeoil";

/// What an image file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// A Unified Kernel Image (a PE file).
    Uki,
    /// A partitioned disk (GPT or MBR).
    Disk,
    /// An ISO 9660 image (hybrid or not).
    Iso,
    /// An initramfs (cpio, compressed or not): booted with a kernel.
    Initramfs,
}

/// How many leading bytes [`detect`] wants (the ISO 9660 volume
/// descriptor is at 32 KiB).
pub const DETECT_LEN: usize = 0x8006;

/// Tell the kind from the file's first bytes.
pub fn detect(head: &[u8]) -> Option<ImageKind> {
    if head.get(0x8001..0x8006) == Some(b"CD001".as_slice()) {
        return Some(ImageKind::Iso);
    }
    if head.get(512..520) == Some(b"EFI PART".as_slice()) {
        return Some(ImageKind::Disk);
    }
    if head.starts_with(b"MZ") {
        return Some(ImageKind::Uki);
    }
    if head.starts_with(b"070701") || crate::compress::detect(head).is_ok() {
        return Some(ImageKind::Initramfs);
    }
    if head.get(510..512) == Some([0x55, 0xAA].as_slice()) {
        return Some(ImageKind::Disk);
    }
    None
}

/// `--firmware`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS, QEMU's default.
    Bios,
    /// OVMF (EDK II) on q35.
    Uefi,
}

impl std::str::FromStr for Firmware {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bios" => Ok(Firmware::Bios),
            "uefi" => Ok(Firmware::Uefi),
            _ => Err(format!("unknown firmware {s:?}: use bios or uefi")),
        }
    }
}

/// The firmware an image boots with by default: SeaBIOS for an ISO, OVMF
/// for the rest.
pub fn default_firmware(kind: ImageKind) -> Firmware {
    match kind {
        ImageKind::Iso | ImageKind::Initramfs => Firmware::Bios,
        ImageKind::Uki | ImageKind::Disk => Firmware::Uefi,
    }
}

/// OVMF's code (read-only) and this boot's own variable store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
    /// The Secure Boot build: q35 with SMM, the variable store writable
    /// only from SMM (`cfi.pflash01` `secure=on`).
    pub secure_boot: bool,
}

/// How the firmware is chosen (`nodistro run`'s `--firmware`,
/// `--ovmf-dir`, `--ovmf-vars`, `--secure-boot`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmwareOpts {
    /// None: the image's [`default_firmware`] (UEFI with `secure_boot`).
    pub firmware: Option<Firmware>,
    /// Where OVMF's files are (default [`OVMF_DIR`]).
    pub ovmf_dir: Option<PathBuf>,
    /// The variable store to boot with a copy of (default: OVMF's empty
    /// one, or the snakeoil one with `secure_boot`): one with your own
    /// keys enrolled (virt-fw-vars).
    pub vars: Option<PathBuf>,
    /// OVMF's Secure Boot build.
    pub secure_boot: bool,
    /// A persistent variable store used in place (created from the
    /// template above when the file does not exist), so the boot entries
    /// the guest or the firmware write survive across runs; None: a
    /// private copy per boot.
    pub efi_vars: Option<PathBuf>,
}

/// How the image is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A virtio disk (writable: the app may use its data partition).
    Disk,
    /// A CD-ROM, read-only (IDE; SCSI on virt).
    Cdrom,
}

/// The image QEMU boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootImage {
    pub path: PathBuf,
    pub media: Media,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read the image {}: build one with nodistro build --format uki|disk|iso", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("{} is not a UKI, disk, ISO or initramfs (nodistro build --format uki|disk|iso writes those)", .0.display())]
    Unknown(PathBuf),
    #[error("{} is a {kind}, with no BIOS boot loader: boot it with --firmware uefi", .path.display())]
    NeedsUefi { path: PathBuf, kind: &'static str },
    #[error("OVMF firmware {} not found: install the Debian package ovmf (apt-get install ovmf), or point --ovmf-dir at a directory holding OVMF_CODE_4M.fd and OVMF_VARS_4M.fd", .0.display())]
    OvmfMissing(PathBuf),
    #[error("AAVMF firmware {} not found: install the Debian package qemu-efi-aarch64 (apt-get install qemu-efi-aarch64), or point --ovmf-dir at a directory holding AAVMF_CODE.fd and AAVMF_VARS.fd", .0.display())]
    AavmfMissing(PathBuf),
    #[error("OVMF variable store {} not found (--ovmf-vars)", .0.display())]
    VarsMissing(PathBuf),
    #[error("--secure-boot needs UEFI firmware: drop --firmware bios")]
    SecureBootBios,
    #[error(
        "aarch64 machines have no BIOS: drop --firmware bios (its images boot through UEFI, AAVMF)"
    )]
    BiosArch,
    #[error("--efi-vars needs UEFI firmware: drop --firmware bios")]
    EfiVarsBios,
    #[error("cannot use {} as the UEFI variable store (--efi-vars): give a file path (it is created from the template when missing)", .0.display())]
    EfiVars(PathBuf, #[source] std::io::Error),
    #[error("cannot write the temporary file {}", .0.display())]
    Temp(PathBuf, #[source] std::io::Error),
    #[error("{} is an initramfs: boot it with --initrd", .0.display())]
    Initramfs(PathBuf),
    #[error("cannot wrap the UKI in a FAT image")]
    Fat(#[source] crate::core::fat::FatError),
}

/// Temporary files of one boot, removed on drop.
#[derive(Debug, Default)]
pub struct BootFiles(Vec<PathBuf>);

impl Drop for BootFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn temp_path(what: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "nodistro-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The persistent store `path`: used as it is when it exists, else made
/// a copy of `template` (written beside it, renamed into place).
fn persistent_vars(path: &Path, template: &Path) -> Result<(), ImageError> {
    let err = |e| ImageError::EfiVars(path.to_path_buf(), e);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => return Ok(()),
        Ok(_) => {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            )))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    let tmp = crate::tempout::TempOutput::beside(path);
    std::fs::copy(template, &tmp.path).map_err(err)?;
    tmp.rename_to(path).map_err(err)
}

/// The kind of the image at `path`.
pub fn kind_of(path: &Path) -> Result<ImageKind, ImageError> {
    use std::io::Read;
    let read = |e| ImageError::Read(path.to_path_buf(), e);
    let mut head = Vec::with_capacity(DETECT_LEN);
    std::fs::File::open(path)
        .map_err(read)?
        .take(DETECT_LEN as u64)
        .read_to_end(&mut head)
        .map_err(read)?;
    detect(&head).ok_or_else(|| ImageError::Unknown(path.to_path_buf()))
}

/// A spec that boots the UKI, disk or ISO at `path` (see
/// [`default_firmware`]), and the temporary files it needs. The caller
/// sets the NIC, forwards, memory, monitor.
pub fn image_spec(path: &Path, fw: &FirmwareOpts) -> Result<(QemuSpec, BootFiles), ImageError> {
    image_spec_for(path, fw, Arch::X86_64)
}

/// [`image_spec`] for an image of `arch`: aarch64 images boot on `virt`
/// through AAVMF (`qemu-efi-aarch64`; `ovmf_dir` then names the directory
/// of AAVMF_CODE.fd and AAVMF_VARS.fd).
pub fn image_spec_for(
    path: &Path,
    fw: &FirmwareOpts,
    arch: Arch,
) -> Result<(QemuSpec, BootFiles), ImageError> {
    let kind = kind_of(path)?;
    let firmware = firmware_for(kind, fw, arch)?;
    let mut files = BootFiles::default();
    let (image, kind_name) = boot_image(path, kind, arch, &mut files)?;
    let mut spec = QemuSpec::new(PathBuf::new(), PathBuf::new());
    spec.kernel = None;
    spec.initrd = None;
    spec.image = Some(image);
    match firmware {
        Firmware::Bios if kind != ImageKind::Iso => {
            return Err(ImageError::NeedsUefi {
                path: path.to_path_buf(),
                kind: kind_name,
            })
        }
        Firmware::Bios => {}
        Firmware::Uefi => {
            let ovmf = uefi_firmware(fw, arch, &mut files)?;
            spec.set_machine(match arch {
                Arch::X86_64 => Machine::Q35,
                Arch::Aarch64 => Machine::Virt,
            });
            spec.ovmf = Some(ovmf);
        }
    }
    Ok((spec, files))
}

/// The firmware to boot an image of `kind` with: `--firmware`, else the
/// image's default (UEFI for Secure Boot and on aarch64).
fn firmware_for(kind: ImageKind, fw: &FirmwareOpts, arch: Arch) -> Result<Firmware, ImageError> {
    Ok(match (fw.firmware, fw.secure_boot) {
        (Some(Firmware::Bios), true) => return Err(ImageError::SecureBootBios),
        (Some(Firmware::Bios), false) if arch == Arch::Aarch64 => return Err(ImageError::BiosArch),
        (Some(Firmware::Bios), false) if fw.efi_vars.is_some() => {
            return Err(ImageError::EfiVarsBios)
        }
        (Some(f), _) => f,
        (None, true) => Firmware::Uefi,
        // aarch64 has UEFI (AAVMF) only, its ISO too.
        (None, false) if arch == Arch::Aarch64 => Firmware::Uefi,
        (None, false) => default_firmware(kind),
    })
}

/// The drive QEMU boots from and what the image is called in messages: a
/// UKI is put on a FAT file system (a temporary file in `files`).
fn boot_image(
    path: &Path,
    kind: ImageKind,
    arch: Arch,
    files: &mut BootFiles,
) -> Result<(BootImage, &'static str), ImageError> {
    Ok(match kind {
        ImageKind::Iso => (
            BootImage {
                path: path.to_path_buf(),
                media: Media::Cdrom,
            },
            "ISO",
        ),
        ImageKind::Initramfs => return Err(ImageError::Initramfs(path.to_path_buf())),
        ImageKind::Disk => (
            BootImage {
                path: path.to_path_buf(),
                media: Media::Disk,
            },
            "UEFI disk (an EFI system partition only)",
        ),
        ImageKind::Uki => {
            // Firmware boots /EFI/BOOT/BOOTX64.EFI from a FAT file system.
            let uki = std::fs::read(path).map_err(|e| ImageError::Read(path.to_path_buf(), e))?;
            let fs = crate::core::fat::build(
                &[(arch.efi_boot_file(), &uki)],
                &crate::core::fat::FatOptions::new("UKI", 0, 0),
            )
            .map_err(ImageError::Fat)?
            .into_image();
            let p = temp_path("uki-esp.img");
            files.0.push(p.clone());
            std::fs::write(&p, fs).map_err(|e| ImageError::Temp(p.clone(), e))?;
            (
                BootImage {
                    path: p,
                    media: Media::Disk,
                },
                "UKI",
            )
        }
    })
}

/// The UEFI firmware's code and variables (a copy of the template in
/// `files`, or the persistent `--efi-vars`).
fn uefi_firmware(fw: &FirmwareOpts, arch: Arch, files: &mut BootFiles) -> Result<Ovmf, ImageError> {
    let (dir, code, vars) = match (arch, fw.secure_boot) {
        // AAVMF has one build: Secure Boot is the snakeoil
        // variables' (keys enrolled, enforcement on); no SMM.
        (Arch::Aarch64, true) => (AAVMF_DIR, AAVMF_CODE, AAVMF_VARS_SNAKEOIL),
        (Arch::Aarch64, false) => (AAVMF_DIR, AAVMF_CODE, AAVMF_VARS),
        (Arch::X86_64, true) => (OVMF_DIR, OVMF_CODE_SECBOOT, OVMF_VARS_SNAKEOIL),
        (Arch::X86_64, false) => (OVMF_DIR, OVMF_CODE, OVMF_VARS),
    };
    let missing = |p: PathBuf| match arch {
        Arch::X86_64 => ImageError::OvmfMissing(p),
        Arch::Aarch64 => ImageError::AavmfMissing(p),
    };
    let dir = fw.ovmf_dir.as_deref().unwrap_or(Path::new(dir));
    let code = dir.join(code);
    if !code.is_file() {
        return Err(missing(code));
    }
    let template = match &fw.vars {
        Some(v) if !v.is_file() => return Err(ImageError::VarsMissing(v.clone())),
        Some(v) => v.clone(),
        None => dir.join(vars),
    };
    if !template.is_file() {
        return Err(missing(template));
    }
    let vars = match &fw.efi_vars {
        Some(p) => {
            persistent_vars(p, &template)?;
            p.clone()
        }
        None => {
            let vars = temp_path("ovmf-vars.fd");
            files.0.push(vars.clone());
            std::fs::copy(&template, &vars).map_err(|e| ImageError::Temp(vars.clone(), e))?;
            vars
        }
    };
    Ok(Ovmf {
        code,
        vars,
        secure_boot: fw.secure_boot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kinds() {
        let mut iso = vec![0u8; DETECT_LEN];
        iso[512..520].copy_from_slice(b"EFI PART");
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(detect(&iso), Some(ImageKind::Iso), "hybrid ISO is an ISO");
        iso[0x8001] = 0;
        assert_eq!(detect(&iso), Some(ImageKind::Disk));
        assert_eq!(detect(b"MZ\x90\0"), Some(ImageKind::Uki));
        assert_eq!(detect(b"070701000"), Some(ImageKind::Initramfs));
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Some(ImageKind::Initramfs));
        assert_eq!(detect(b"hello world"), None);
        assert_eq!(detect(&[]), None);
    }

    #[test]
    fn persistent_vars_are_made_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("nodistro-efivars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (template, vars) = (dir.join("template.fd"), dir.join("vars.fd"));
        std::fs::write(&template, b"template").expect("write");
        persistent_vars(&vars, &template).expect("made");
        assert_eq!(std::fs::read(&vars).expect("read"), b"template");
        // What the firmware wrote is kept: the template is not copied again.
        std::fs::write(&vars, b"written by OVMF").expect("write");
        persistent_vars(&vars, &template).expect("reused");
        assert_eq!(std::fs::read(&vars).expect("read"), b"written by OVMF");
        let e = persistent_vars(&dir, &template).expect_err("a directory");
        assert!(e.to_string().contains("--efi-vars"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn firmware_defaults_and_parse() {
        assert_eq!(default_firmware(ImageKind::Iso), Firmware::Bios);
        assert_eq!(default_firmware(ImageKind::Disk), Firmware::Uefi);
        assert_eq!("uefi".parse(), Ok(Firmware::Uefi));
        assert!("coreboot".parse::<Firmware>().is_err());
    }

    #[test]
    fn aarch64_isos_boot_through_uefi_only() {
        let path = temp_path("test.iso");
        let mut iso = vec![0u8; DETECT_LEN];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        std::fs::write(&path, &iso).expect("write");
        let bios = FirmwareOpts {
            firmware: Some(Firmware::Bios),
            ovmf_dir: None,
            vars: None,
            secure_boot: false,
            efi_vars: None,
        };
        let refused = image_spec_for(&path, &bios, Arch::Aarch64).map(|_| ());
        let dir = std::env::temp_dir();
        let default = FirmwareOpts {
            firmware: None,
            ovmf_dir: Some(dir.clone()),
            ..bios
        };
        // The default is UEFI: AAVMF is looked for (in an empty place here).
        let uefi = image_spec_for(&path, &default, Arch::Aarch64).map(|_| ());
        let _ = std::fs::remove_file(&path);
        assert!(matches!(refused, Err(ImageError::BiosArch)), "{refused:?}");
        assert!(
            matches!(&uefi, Err(ImageError::AavmfMissing(p)) if p.starts_with(&dir)),
            "{uefi:?}"
        );
    }
}
