//! `nodistro build --arch aarch64 --format rpi`: an SD-card image for the
//! Raspberry Pi. One MBR partition (the Pi's boot ROM and firmware read
//! only MBR and FAT), FAT32, holding:
//!
//! - the firmware of Debian's `raspi-firmware` (bootcode.bin, start*.elf,
//!   fixup*.dat; non-free-firmware component), fetched with `apt-get
//!   download` into the cache like the arm64 kernel;
//! - the Raspberry Pi device trees of the kernel's package
//!   (`broadcom/bcm27*-rpi-*.dtb`, `bcm2837-rpi-*.dtb`: the upstream names,
//!   which the firmware loads with `upstream_kernel=1`);
//! - `config.txt` (64-bit, the serial UART on, the kernel and the
//!   initramfs), `cmdline.txt`, the kernel (an uncompressed arm64 `Image`:
//!   the Pi 3's firmware does not decompress; named kernel8.img) and the initramfs.
//!
//! What goes where is sans-IO ([`config_txt`], [`cmdline_txt`],
//! [`boot_files`], [`image`]); [`firmware_dir`] and [`dtb_dir`] are the IO.

use crate::core::arch::Arch;
use crate::core::fat::{self, FatError, FatOptions};
use crate::core::mbr::{self, MbrError, MbrPartition};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Debian's package of the Pi's boot firmware (Architecture: all).
pub const FIRMWARE_PACKAGE: &str = "raspi-firmware";
/// Where the package puts the firmware.
pub const FIRMWARE_DIR: &str = "usr/lib/raspi-firmware";
/// The package's licence text, kept on the card beside the firmware.
pub const FIRMWARE_COPYRIGHT: &str = "usr/share/doc/raspi-firmware/copyright";
/// The kernel's and initramfs' names on the boot partition.
pub const KERNEL_NAME: &str = "kernel8.img";
pub const INITRD_NAME: &str = "initrd.img";
/// The command line after the consoles when `--cmdline` is not given.
pub const DEFAULT_CMDLINE: &str = "panic=-1";
/// The boot partition starts at 4 MiB (SD cards' erase-block alignment,
/// as Raspberry Pi OS and Debian's images do).
pub const FIRST_LBA: u32 = 8192;
/// Room left free on the boot partition (to edit config.txt, add an
/// overlay or a file the app reads).
pub const FREE_BYTES: u64 = 8 << 20;
/// The largest kernel accepted from a gzip-compressed `--kernel`.
const MAX_KERNEL: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RpiError {
    #[error("--format rpi is for --arch aarch64 (the Raspberry Pi 3, 4 and 400 run arm64 kernels); add --arch aarch64")]
    NotAarch64,
    #[error("{FIRMWARE_PACKAGE} is not in the apt sources: it is in Debian's non-free-firmware component; run scripts/setup.sh (it adds that component) or add non-free-firmware to the Components of /etc/apt/sources.list.d/debian.sources, then apt-get update")]
    NoFirmwarePackage,
    #[error("cannot fetch the Raspberry Pi firmware")]
    Fetch(#[source] crate::debkernel::FetchError),
    #[error("{} holds no bootcode.bin, start*.elf or fixup*.dat: is {FIRMWARE_PACKAGE} complete?", .0.display())]
    NoFirmware(PathBuf),
    #[error("no Raspberry Pi device trees (bcm*-rpi-*.dtb) for kernel {release}: looked in {}; pass the Debian arm64 kernel (leave --kernel out) or install linux-image-{release}", .dirs.join(", "))]
    NoDtbs { release: String, dirs: Vec<String> },
    #[error("cannot read {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("the kernel is neither an arm64 Image nor a gzip-compressed one")]
    NotImage,
    #[error("the gzip-compressed kernel does not decompress")]
    Gunzip(#[source] std::io::Error),
    #[error("cannot lay out the boot partition")]
    Fat(#[source] FatError),
    #[error("cannot write the partition table")]
    Mbr(#[source] MbrError),
    #[error("the boot partition would be {0} bytes, more than an MBR partition holds")]
    TooLarge(usize),
}

/// config.txt: 64-bit mode, the serial UART on (GPIO 14/15 at 115200),
/// the upstream device-tree names of Debian's kernel, the kernel and the
/// initramfs loaded after it.
pub fn config_txt() -> String {
    format!(
        "# Written by nodistro build --format rpi.\n\
         # Firmware: Debian's raspi-firmware; kernel and device trees: Debian's arm64 kernel.\n\
         arm_64bit=1\n\
         enable_uart=1\n\
         upstream_kernel=1\n\
         kernel={KERNEL_NAME}\n\
         initramfs {INITRD_NAME} followkernel\n"
    )
}

/// cmdline.txt: the screen and the serial line as consoles, the serial
/// line last so it is /dev/console (init's and the app's lines), then the
/// image's command line. The firmware turns `serial0` into the UART
/// enable_uart chose (ttyS0, the mini UART, on a Pi 3 or 4).
pub fn cmdline_txt(cmdline: &str) -> String {
    format!("console=tty1 console=serial0,115200 {}\n", cmdline.trim())
}

/// Is `name` a file of the firmware the Pi's boot needs?
pub fn is_firmware(name: &str) -> bool {
    name == "bootcode.bin"
        || (name.starts_with("start") && name.ends_with(".elf"))
        || (name.starts_with("fixup") && name.ends_with(".dat"))
}

/// Is `name` a Raspberry Pi device tree (`bcm2711-rpi-4-b.dtb`)?
pub fn is_pi_dtb(name: &str) -> bool {
    name.starts_with("bcm") && name.contains("-rpi-") && name.ends_with(".dtb")
}

/// The kernel as the firmware takes it: an arm64 `Image` as it is, a
/// gzip-compressed one (`Image.gz`) decompressed.
pub fn kernel_image(bytes: &[u8]) -> Result<Vec<u8>, RpiError> {
    let is_image = |b: &[u8]| b.get(56..60) == Some(b"ARM\x64".as_slice());
    if is_image(bytes) {
        return Ok(bytes.to_vec());
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(RpiError::NotImage);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_KERNEL)
        .read_to_end(&mut out)
        .map_err(RpiError::Gunzip)?;
    if is_image(&out) {
        Ok(out)
    } else {
        Err(RpiError::NotImage)
    }
}

/// The boot partition's files, sorted by name: the firmware and device
/// trees (name, bytes), the copyright, config.txt, cmdline.txt, the kernel
/// and the initramfs.
pub fn boot_files(
    firmware: Vec<(String, Vec<u8>)>,
    dtbs: Vec<(String, Vec<u8>)>,
    copyright: Option<Vec<u8>>,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
    cmdline: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = firmware.into_iter().chain(dtbs).collect();
    if let Some(c) = copyright {
        files.push(("raspi-firmware.copyright".into(), c));
    }
    files.push(("config.txt".into(), config_txt().into_bytes()));
    files.push(("cmdline.txt".into(), cmdline_txt(cmdline).into_bytes()));
    files.push((KERNEL_NAME.into(), kernel));
    files.push((INITRD_NAME.into(), initrd));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The whole card image: MBR, the gap to [`FIRST_LBA`], the FAT32 boot
/// partition (bootable, type 0x0C). The disk signature comes from the
/// content, so the same files give the same bytes.
pub fn image(files: &[(String, Vec<u8>)], mtime: u32) -> Result<Vec<u8>, RpiError> {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let fs = fat::build(
        &refs,
        &FatOptions {
            label: "RPI-BOOT",
            mtime,
            hidden_sectors: FIRST_LBA,
            fat32: true,
            free: FREE_BYTES,
            size: None,
        },
    )
    .map_err(RpiError::Fat)?
    .into_image();
    let sectors = u32::try_from(fs.len() as u64 / mbr::SECTOR)
        .ok()
        .filter(|s| s.checked_add(FIRST_LBA).is_some())
        .ok_or(RpiError::TooLarge(fs.len()))?;
    let id = crate::core::digest::fnv128(&[b"rpi", &fs]) as u32;
    let table = mbr::mbr(
        &[MbrPartition {
            kind: mbr::TYPE_FAT32_LBA,
            bootable: true,
            first_lba: FIRST_LBA,
            sectors,
        }],
        id,
    )
    .map_err(RpiError::Mbr)?;
    let mut out = vec![0u8; FIRST_LBA as usize * mbr::SECTOR as usize];
    out[..512].copy_from_slice(&table);
    out.extend_from_slice(&fs);
    Ok(out)
}

/// raspi-firmware's files, fetched into the cache on first use: the
/// directory holding the firmware and the copyright file's path.
pub fn firmware_dir() -> Result<(PathBuf, PathBuf), RpiError> {
    let known = std::process::Command::new("apt-cache")
        .args(["show", "--no-all-versions", FIRMWARE_PACKAGE])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| RpiError::Fetch(crate::debkernel::FetchError::Spawn("apt-cache", e)))?;
    let cached = crate::debkernel::cache_root(Arch::Aarch64)
        .join(FIRMWARE_PACKAGE)
        .join(FIRMWARE_DIR)
        .join("bootcode.bin");
    if !cached.is_file() && (!known.status.success() || known.stdout.is_empty()) {
        return Err(RpiError::NoFirmwarePackage);
    }
    // Architecture: all: fetched without an architecture qualifier.
    let boot = crate::debkernel::package_file_of(
        Arch::Aarch64,
        FIRMWARE_PACKAGE,
        FIRMWARE_PACKAGE,
        &format!("{FIRMWARE_DIR}/bootcode.bin"),
    )
    .map_err(RpiError::Fetch)?;
    let dir = boot.parent().map(Path::to_path_buf).unwrap_or_default();
    let root = crate::debkernel::cache_root(Arch::Aarch64).join(FIRMWARE_PACKAGE);
    Ok((dir, root.join(FIRMWARE_COPYRIGHT)))
}

/// The directory of the kernel release's Raspberry Pi device trees: the
/// cached Debian kernel's, else the machine's own package's.
pub fn dtb_dir(release: &str) -> Result<PathBuf, RpiError> {
    let rel = format!("usr/lib/linux-image-{release}/broadcom");
    let dirs = [
        crate::debkernel::cache_root(Arch::Aarch64)
            .join(release)
            .join(&rel),
        Path::new("/").join(&rel),
    ];
    for d in &dirs {
        let has = std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| is_pi_dtb(&e.file_name().to_string_lossy()))
        });
        if has {
            return Ok(d.clone());
        }
    }
    Err(RpiError::NoDtbs {
        release: release.to_string(),
        dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
    })
}

/// The files of `dir` whose names `keep` accepts, sorted.
pub fn read_files(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, RpiError> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| RpiError::Read(dir.to_path_buf(), e))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if keep(&name) && e.path().is_file() {
            let bytes = std::fs::read(e.path()).map_err(|err| RpiError::Read(e.path(), err))?;
            out.push((name, bytes));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_cmdline() {
        let c = config_txt();
        for line in [
            "arm_64bit=1\n",
            "enable_uart=1\n",
            "upstream_kernel=1\n",
            "kernel=kernel8.img\n",
            "initramfs initrd.img followkernel\n",
        ] {
            assert!(c.contains(line), "{line} in {c}");
        }
        assert_eq!(
            cmdline_txt(" panic=-1 "),
            "console=tty1 console=serial0,115200 panic=-1\n"
        );
    }

    #[test]
    fn which_files() {
        for f in ["bootcode.bin", "start.elf", "start4cd.elf", "fixup4x.dat"] {
            assert!(is_firmware(f), "{f}");
        }
        for f in ["LICENCE.broadcom", "start.txt", "config.txt"] {
            assert!(!is_firmware(f), "{f}");
        }
        assert!(is_pi_dtb("bcm2711-rpi-4-b.dtb"));
        assert!(is_pi_dtb("bcm2837-rpi-zero-2-w.dtb"));
        assert!(!is_pi_dtb("bcm2711-rpi-4-b.dts"));
        assert!(!is_pi_dtb("bcm94908.dtb"));
    }

    #[test]
    fn kernels() {
        let mut img = vec![0u8; 128];
        img[56..60].copy_from_slice(b"ARM\x64");
        assert_eq!(kernel_image(&img).expect("image"), img);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &img).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(kernel_image(&gz).expect("gunzipped"), img);
        assert!(matches!(
            kernel_image(b"MZ bzImage"),
            Err(RpiError::NotImage)
        ));
        assert!(matches!(
            kernel_image(&gz[..gz.len() / 2]),
            Err(RpiError::Gunzip(_))
        ));
    }

    #[test]
    fn card_layout() {
        let files = boot_files(
            vec![("bootcode.bin".into(), vec![1; 1000])],
            vec![("bcm2711-rpi-4-b.dtb".into(), vec![2; 3000])],
            None,
            vec![3; 5000],
            vec![4; 7000],
            "panic=-1",
        );
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bcm2711-rpi-4-b.dtb",
                "bootcode.bin",
                "cmdline.txt",
                "config.txt",
                "initrd.img",
                "kernel8.img"
            ]
        );
        let img = image(&files, 1_700_000_000).expect("lays out");
        assert_eq!(img, image(&files, 1_700_000_000).expect("again"));
        assert_eq!(&img[510..512], &[0x55, 0xAA]);
        assert_eq!(img[446 + 4], mbr::TYPE_FAT32_LBA);
        let at = FIRST_LBA as usize * 512;
        assert_eq!(&img[at + 82..at + 90], b"FAT32   ");
        let sectors = u32::from_le_bytes([img[458], img[459], img[460], img[461]]) as usize;
        assert_eq!(img.len(), at + sectors * 512);
        assert_ne!(
            img[440..444],
            image(&files[1..], 1_700_000_000).expect("other")[440..444],
            "the disk signature follows the content"
        );
    }
}
