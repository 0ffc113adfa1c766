//! Hybrid ISO images: ISOLINUX for BIOS, an El Torito EFI image (a FAT
//! file system holding the UKI as /EFI/BOOT/BOOTX64.EFI) for UEFI, and
//! isohybrid MBR + GPT so the same file boots from a USB stick.
//!
//! xorriso writes the ISO 9660 part: measured on the demo image it takes
//! well under a second (BENCHMARKS.md), and ISO 9660 + Rock Ridge + El
//! Torito + the isohybrid MBR/GPT is a large format to re-implement for
//! no gain. What nodistro decides is sans-IO ([`isolinux_cfg`],
//! [`xorriso_args`]) and unit-tested; [`write`] stages the files and runs
//! xorriso with SOURCE_DATE_EPOCH, which makes its volume dates, file dates
//! and UUID fixed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian packages and paths of the ISOLINUX files.
pub const ISOLINUX_FILES: [(&str, &str); 3] = [
    ("isolinux.bin", "/usr/lib/ISOLINUX/isolinux.bin"),
    ("isohdpfx.bin", "/usr/lib/ISOLINUX/isohdpfx.bin"),
    ("ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32"),
];

/// The package that ships an ISOLINUX file.
pub fn package_of(file: &str) -> &'static str {
    if file == "ldlinux.c32" {
        "syslinux-common"
    } else {
        "isolinux"
    }
}

/// The volume label.
pub const VOLUME_ID: &str = "NODISTRO";

#[derive(Debug, thiserror::Error)]
pub enum IsoError {
    #[error("ISOLINUX file {} not found: install the Debian package {package} (apt-get install {package}), or point --isolinux-dir at a directory holding isolinux.bin, isohdpfx.bin and ldlinux.c32", .path.display())]
    Missing {
        path: PathBuf,
        package: &'static str,
    },
    #[error("cannot stage the ISO's files in {}", .0.display())]
    Stage(PathBuf, #[source] std::io::Error),
    #[error("cannot run xorriso: install the Debian package xorriso (apt-get install xorriso)")]
    Spawn(#[source] std::io::Error),
    #[error("xorriso failed: {0}")]
    Failed(String),
}

/// ISOLINUX's configuration: boot the kernel at once, console on the
/// first serial port too.
pub fn isolinux_cfg(cmdline: &str) -> String {
    format!(
        "SERIAL 0 115200\nDEFAULT nodistro\nPROMPT 0\nTIMEOUT 0\nLABEL nodistro\n  KERNEL /boot/vmlinuz\n  INITRD /boot/initrd.img\n  APPEND {cmdline}\n"
    )
}

/// xorriso's arguments for a staging directory laid out by [`write`].
pub fn xorriso_args(staging: &Path, isohdpfx: &Path, output: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["-as", "mkisofs", "-quiet", "-o"]
        .iter()
        .map(OsString::from)
        .collect();
    a.push(output.into());
    for s in ["-V", VOLUME_ID, "-R", "-isohybrid-mbr"] {
        a.push(s.into());
    }
    a.push(isohdpfx.into());
    for s in [
        "-c",
        "isolinux/boot.cat",
        "-b",
        "isolinux/isolinux.bin",
        "-no-emul-boot",
        "-boot-load-size",
        "4",
        "-boot-info-table",
        "-eltorito-alt-boot",
        "-e",
        "EFI/efiboot.img",
        "-no-emul-boot",
        "-isohybrid-gpt-basdat",
    ] {
        a.push(s.into());
    }
    a.push(staging.into());
    a
}

/// The ISOLINUX files, from `dir` or from their Debian paths.
pub fn locate_isolinux(dir: Option<&Path>) -> Result<[PathBuf; 3], IsoError> {
    let mut out: [PathBuf; 3] = Default::default();
    for (i, (name, default)) in ISOLINUX_FILES.iter().enumerate() {
        let p = match dir {
            Some(d) => d.join(name),
            None => PathBuf::from(default),
        };
        if !p.is_file() {
            return Err(IsoError::Missing {
                path: p,
                package: package_of(name),
            });
        }
        out[i] = p;
    }
    Ok(out)
}

/// What goes on the ISO.
pub struct IsoParts<'a> {
    pub isolinux: &'a [PathBuf; 3],
    pub kernel: &'a [u8],
    pub initrd: &'a [u8],
    /// The FAT image holding the UKI.
    pub efi_image: &'a [u8],
    pub cmdline: &'a str,
    pub mtime: u32,
}

/// Removes the staging directory on drop.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stage the files in `staging` (created, removed afterwards) and write the
/// ISO to `output`.
pub fn write(parts: &IsoParts<'_>, staging: &Path, output: &Path) -> Result<(), IsoError> {
    let st = Staging(staging.to_path_buf());
    let err = |e| IsoError::Stage(st.0.clone(), e);
    let [isolinux_bin, isohdpfx, ldlinux] = parts.isolinux;
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(parts.mtime));
    let files: [(&str, Vec<u8>); 6] = [
        (
            "isolinux/isolinux.bin",
            std::fs::read(isolinux_bin).map_err(err)?,
        ),
        ("isolinux/ldlinux.c32", std::fs::read(ldlinux).map_err(err)?),
        (
            "isolinux/isolinux.cfg",
            isolinux_cfg(parts.cmdline).into_bytes(),
        ),
        ("boot/vmlinuz", parts.kernel.to_vec()),
        ("boot/initrd.img", parts.initrd.to_vec()),
        ("EFI/efiboot.img", parts.efi_image.to_vec()),
    ];
    std::fs::create_dir_all(&st.0).map_err(err)?;
    for (rel, data) in &files {
        let p = st.0.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        std::fs::write(&p, data).map_err(err)?;
        let f = std::fs::File::options().write(true).open(&p).map_err(err)?;
        f.set_modified(time).map_err(err)?;
    }
    for d in ["", "isolinux", "boot", "EFI"] {
        let f = std::fs::File::open(st.0.join(d)).map_err(err)?;
        f.set_modified(time).map_err(err)?;
    }
    run_xorriso(xorriso_args(&st.0, isohdpfx, output), parts.mtime)
}

/// The El Torito UEFI image's path in a UEFI-only ISO's tree.
pub const EFI_IMAGE: &str = "EFI/efiboot.img";

/// xorriso's arguments for a UEFI-only ISO (aarch64) of the tree
/// `staging` holding the FAT image at [`EFI_IMAGE`]: that image is the El
/// Torito UEFI boot image (what a CD boots) and, through a GPT entry
/// pointing at it, an EFI system partition (what a USB stick boots); no
/// BIOS boot. (An appended partition used as the El Torito image has a
/// load size of 0, which AAVMF does not find.)
pub fn xorriso_args_efi(staging: &Path, output: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["-as", "mkisofs", "-quiet", "-o"]
        .iter()
        .map(OsString::from)
        .collect();
    a.push(output.into());
    for s in [
        "-V",
        VOLUME_ID,
        "-R",
        "-e",
        EFI_IMAGE,
        "-no-emul-boot",
        "-efi-boot-part",
        "--efi-boot-image",
    ] {
        a.push(s.into());
    }
    a.push(staging.into());
    a
}

/// Write a UEFI-only ISO ([`xorriso_args_efi`]) of the FAT image
/// `efi_image` to `output`, staging in `staging` (removed afterwards).
pub fn write_efi(
    efi_image: &[u8],
    mtime: u32,
    staging: &Path,
    output: &Path,
) -> Result<(), IsoError> {
    let st = Staging(staging.to_path_buf());
    let err = |e| IsoError::Stage(st.0.clone(), e);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(mtime));
    let img = st.0.join(EFI_IMAGE);
    let dir = img.parent().unwrap_or(&st.0).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(err)?;
    std::fs::write(&img, efi_image).map_err(err)?;
    for p in [&img, &dir, &st.0] {
        std::fs::File::open(p)
            .and_then(|f| f.set_modified(time))
            .map_err(err)?;
    }
    run_xorriso(xorriso_args_efi(&st.0, output), mtime)
}

/// Run xorriso with SOURCE_DATE_EPOCH (fixed dates and UUIDs).
fn run_xorriso(args: Vec<OsString>, mtime: u32) -> Result<(), IsoError> {
    let out = Command::new("xorriso")
        .args(args)
        .env("SOURCE_DATE_EPOCH", mtime.to_string())
        .env("TZ", "UTC")
        .output()
        .map_err(IsoError::Spawn)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .to_string();
        return Err(IsoError::Failed(format!("{} ({last})", out.status)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_boots_at_once() {
        let c = isolinux_cfg("console=ttyS0 panic=-1");
        assert!(c.contains("DEFAULT nodistro\n"));
        assert!(c.contains("TIMEOUT 0\n"));
        assert!(c.contains("APPEND console=ttyS0 panic=-1\n"));
    }

    #[test]
    fn xorriso_line() {
        let a: Vec<String> =
            xorriso_args(Path::new("/s"), Path::new("/h.bin"), Path::new("/o.iso"))
                .into_iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
        let line = a.join(" ");
        assert!(line.starts_with("-as mkisofs"), "{line}");
        assert!(line.contains("-isohybrid-mbr /h.bin"));
        assert!(line.contains("-b isolinux/isolinux.bin -no-emul-boot"));
        assert!(line
            .contains("-eltorito-alt-boot -e EFI/efiboot.img -no-emul-boot -isohybrid-gpt-basdat"));
        assert!(line.ends_with("/s"));
    }

    #[test]
    fn uefi_only_line() {
        let a: Vec<String> = xorriso_args_efi(Path::new("/t"), Path::new("/o.iso"))
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let line = a.join(" ");
        assert!(line.contains("-e EFI/efiboot.img -no-emul-boot -efi-boot-part --efi-boot-image"));
        assert!(!line.contains("isolinux"), "{line}");
        assert!(line.ends_with("/t"));
    }

    #[test]
    fn missing_files_name_the_package() {
        let e = locate_isolinux(Some(Path::new("/nonexistent"))).expect_err("missing");
        let text = e.to_string();
        assert!(
            text.contains("isolinux.bin") && text.contains("apt-get install isolinux"),
            "{text}"
        );
        assert_eq!(package_of("ldlinux.c32"), "syslinux-common");
    }
}
