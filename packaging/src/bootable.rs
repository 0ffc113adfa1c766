//! `nodistro build --format uki|disk|iso`: the IO shell around the sans-IO
//! writers ([`crate::core::uki`], [`crate::core::fat`], [`crate::core::gpt`], [`crate::iso`]).
//!
//! One kernel is used for the image and for the modules in its initramfs:
//! `--kernel` (default: the newest /boot/vmlinuz-*) fixes the module
//! version, and a `--kernel-version` or `--modules-dir` for another release
//! is refused. The output appears only complete (written to a temporary
//! file beside it, renamed at the end).

use crate::build::args::{self as build_args, BuildArgs, Format};
use crate::build::error::BuildError;
use crate::build::{inputs, output};
use crate::core::arch::Arch;
use crate::core::fat::{self, FatError, FatOptions};
use crate::core::gpt;
use crate::core::uki::{self, UkiError, UkiParts};
use crate::iso::{self, IsoError, IsoParts};
use crate::kernel::{self, KernelError};
use crate::sign::{SignError, Signer};
use crate::tempout::{temp_beside, TempOutput};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BootableError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot find the kernel")]
    Kernel(#[source] KernelError),
    #[error("cannot read the kernel {}: pass an existing vmlinuz with --kernel", .0.display())]
    KernelRead(PathBuf, #[source] std::io::Error),
    #[error("kernel {}", .0.display())]
    KernelBad(PathBuf, #[source] UkiError),
    #[error("the kernel {} is release {kernel} but the modules would come from {modules} ({via}); use one kernel for both: drop {via} or pass the matching --kernel", .path.display())]
    Mismatch {
        path: PathBuf,
        kernel: String,
        modules: String,
        via: &'static str,
    },
    #[error("systemd's EFI stub {} not found: install the Debian package systemd-boot-efi (apt-get install systemd-boot-efi) or give its path with --efi-stub", .0.display())]
    StubMissing(PathBuf),
    #[error("cannot read the EFI stub {}", .0.display())]
    StubRead(PathBuf, #[source] std::io::Error),
    #[error("cannot build the UKI")]
    Uki(#[source] UkiError),
    #[error("cannot build the FAT file system")]
    Fat(#[source] FatError),
    #[error("cannot build the ISO")]
    Iso(#[source] IsoError),
    #[error("--data-size is only for --format disk, or --format uki with --update-key (a release for a disk that has a data partition: it mounts it)")]
    DataSizeNotDisk,
    #[error("--slot-size is only for --format disk (the A/B disk's ESP)")]
    SlotSizeNotDisk,
    #[error(transparent)]
    Ab(#[from] crate::core::abdisk::AbError),
    #[error("mke2fs not found: --data-size formats the data partition with it; install e2fsprogs (apt-get install e2fsprogs)")]
    Mke2fsMissing,
    #[error("mke2fs failed ({status}) formatting the data partition of {}: {message}", .path.display())]
    Mke2fs {
        path: PathBuf,
        status: String,
        message: String,
    },
    #[error("--cmdline {0:?} contains a newline or NUL; give one line")]
    BadCmdline(String),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Rpi(#[from] crate::rpi::RpiError),
}

/// What a finished image build produced.
#[derive(Debug)]
pub struct BuiltImage {
    pub output: PathBuf,
    pub format: Format,
    pub bytes: u64,
    pub initrd_bytes: u64,
    pub modules: usize,
    pub release: Option<String>,
}

/// `nodistro build` with `--format uki|disk|iso` (or `--kernel` with the
/// initramfs): returns the exit code.
pub fn main(mut args: BuildArgs, start: std::time::Instant) -> i32 {
    let r = if args.format == Format::Initramfs {
        let signing = args.sign_key.is_some() || args.sign_cert.is_some();
        match pin_modules(&mut args).and_then(|()| {
            if signing {
                Err(SignError::NotUefi.into())
            } else {
                Ok(())
            }
        }) {
            Ok(_) => return output::main_initramfs(&args, start),
            Err(e) => Err(e),
        }
    } else {
        build_image(&mut args)
    };
    match r {
        Ok(b) => {
            eprintln!(
                "nodistro build: wrote {} ({:?}, {} bytes; kernel {}, initramfs {} bytes with {} modules) in {:.2} s",
                b.output.display(),
                b.format,
                b.bytes,
                b.release.as_deref().unwrap_or("?"),
                b.initrd_bytes,
                b.modules,
                start.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => nodistro_common::report::fail("nodistro build", &e, 1),
    }
}

/// `program` on PATH, or in /usr/sbin or /sbin (root's tools).
fn find_program(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Format the data partition (`bytes` at `offset` in the image being
/// written, `image`) as ext4 with the host's mke2fs, reproducibly.
fn format_data(
    mke2fs: &Path,
    image: &Path,
    output: &Path,
    offset: u64,
    bytes: u64,
    seed: u128,
    mtime: u32,
) -> Result<(), BootableError> {
    let out = std::process::Command::new(mke2fs)
        .args(crate::core::abdisk::mke2fs_args(image, offset, bytes, seed))
        // Every timestamp; 0 would mean "now" to mke2fs.
        .env("E2FSPROGS_FAKE_TIME", mtime.max(1).to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| BootableError::Mke2fs {
            path: output.to_path_buf(),
            status: "not started".into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(BootableError::Mke2fs {
        path: output.to_path_buf(),
        status: out.status.to_string(),
        message: text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The kernel file: `--kernel` or the newest /boot/vmlinuz-*.
fn kernel_path(args: &BuildArgs) -> Result<PathBuf, BootableError> {
    match &args.kernel {
        Some(k) => Ok(k.clone()),
        None => match inputs::foreign_kernel(args)? {
            Some(k) => Ok(k.vmlinuz),
            None => kernel::find_kernel().map_err(BootableError::Kernel),
        },
    }
}

/// The release a kernel file is (its setup header, else its file name).
fn release_of_file(path: &Path, bytes: &[u8]) -> Option<String> {
    uki::inspect_kernel(bytes)
        .ok()
        .and_then(|i| i.release)
        .or_else(|| kernel::release_of(path))
}

/// Make the modules come from the kernel's release; refuse another one.
/// Returns the release (None when it cannot be told: no check then).
fn check_release(
    args: &mut BuildArgs,
    path: &Path,
    release: Option<&str>,
) -> Result<(), BootableError> {
    let Some(release) = release else {
        return Ok(());
    };
    let given = match (&args.kernel_version, &args.modules_dir) {
        (Some(v), _) => Some((v.clone(), "--kernel-version")),
        (None, Some(d)) => std::fs::canonicalize(d)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .map(|v| (v, "--modules-dir")),
        (None, None) => None,
    };
    match given {
        Some((v, via)) if v != release => Err(BootableError::Mismatch {
            path: path.to_path_buf(),
            kernel: release.to_string(),
            modules: v,
            via,
        }),
        Some(_) => Ok(()),
        None => {
            args.kernel_version = Some(release.to_string());
            Ok(())
        }
    }
}

/// For the initramfs format: with `--kernel`, its modules.
fn pin_modules(args: &mut BuildArgs) -> Result<(), BootableError> {
    let Some(path) = args.kernel.clone() else {
        return Ok(());
    };
    let bytes = std::fs::read(&path).map_err(|e| BootableError::KernelRead(path.clone(), e))?;
    inputs::check_kernel_arch(args, &path)?;
    let release = release_of_file(&path, &bytes);
    check_release(args, &path, release.as_deref())
}

/// Build a UKI, disk or ISO.
pub fn build_image(args: &mut BuildArgs) -> Result<BuiltImage, BootableError> {
    let format = args.format;
    let release = format == Format::Uki && args.update_key.is_some();
    if args.data_size.is_some() && format != Format::Disk && !release {
        return Err(BootableError::DataSizeNotDisk);
    }
    if args.slot_size.is_some() && format != Format::Disk {
        return Err(BootableError::SlotSizeNotDisk);
    }
    if format == Format::Rpi {
        return build_rpi(args);
    }
    let parts = Parts::gather(args)?;
    let output = parts.output.clone();
    // The output's directory must be writable: find out before the build.
    let tmp = TempOutput::beside(&output);
    let create_err = |source| BuildError::Create {
        path: output.clone(),
        source,
    };
    let mut file = std::fs::File::create(&tmp.path).map_err(create_err)?;

    let mtime = inputs::epoch_from_env()?;
    let (initrd, modules) = output::archive_bytes(args)?;
    let efi = parts.uki(args, &initrd, mtime)?;
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    match format {
        // Oci never comes here (build::main hands it to oci::build), nor
        // Rpi (build_rpi).
        Format::Initramfs | Format::Uki | Format::Oci | Format::Rpi => {
            file.write_all(&efi).map_err(write_err)?
        }
        Format::Disk => parts.write_disk(args, &mut file, &tmp.path, &efi, mtime)?,
        Format::Iso => {
            drop(file);
            parts.write_iso(&tmp.path, &efi, &initrd, mtime)?;
            file = std::fs::File::options()
                .append(true)
                .open(&tmp.path)
                .map_err(write_err)?;
        }
    }
    file.sync_all().map_err(write_err)?;
    let bytes = file.metadata().map_err(write_err)?.len();
    drop(file);
    tmp.rename_to(&output).map_err(write_err)?;
    Ok(BuiltImage {
        output,
        format,
        bytes,
        initrd_bytes: initrd.len() as u64,
        modules,
        release: parts.release,
    })
}

/// What a UKI, disk or ISO is made of besides the initramfs, read and
/// checked before anything slow.
struct Parts {
    arch: Arch,
    output: PathBuf,
    cmdline: String,
    /// The host's mke2fs, for a disk's data partition.
    mke2fs: Option<PathBuf>,
    kernel: Vec<u8>,
    release: Option<String>,
    stub: Vec<u8>,
    signer: Option<Signer>,
    /// ISOLINUX's files, for an x86-64 ISO.
    isolinux: Option<[PathBuf; 3]>,
}

impl Parts {
    /// Check the flags and read the kernel, the EFI stub and the rest; the
    /// modules are pinned to the kernel's release.
    fn gather(args: &mut BuildArgs) -> Result<Parts, BootableError> {
        let format = args.format;
        let mke2fs = match args.data_size {
            Some(_) if format == Format::Disk => {
                Some(find_program("mke2fs").ok_or(BootableError::Mke2fsMissing)?)
            }
            _ => None,
        };
        let cmdline = args
            .cmdline
            .clone()
            .unwrap_or_else(|| match build_args::target_arch(args) {
                Arch::X86_64 => uki::DEFAULT_CMDLINE.to_string(),
                // virt's PL011 under AAVMF (no VGA console on virt).
                Arch::Aarch64 => "console=ttyAMA0 panic=-1".to_string(),
            });
        if cmdline.contains(['\n', '\0']) {
            return Err(BootableError::BadCmdline(cmdline));
        }
        let output = args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format.default_output()));
        if std::fs::metadata(&output).is_ok_and(|m| !m.is_file()) {
            return Err(BuildError::NotAFile(output).into());
        }
        let arch = build_args::target_arch(args);
        let (kernel, release) = checked_kernel(args, &cmdline)?;
        let stub = efi_stub(args, arch)?;
        let signer = Signer::prepare(args.sign_key.as_deref(), args.sign_cert.as_deref())?;
        // aarch64's ISO boots through UEFI only: no ISOLINUX.
        let isolinux = if format == Format::Iso && arch == Arch::X86_64 {
            Some(iso::locate_isolinux(args.isolinux_dir.as_deref()).map_err(BootableError::Iso)?)
        } else {
            None
        };
        Ok(Parts {
            arch,
            output,
            cmdline,
            mke2fs,
            kernel,
            release,
            stub,
            signer,
            isolinux,
        })
    }

    /// The UKI around `initrd`, signed with `--sign-key`.
    fn uki(&self, args: &BuildArgs, initrd: &[u8], mtime: u32) -> Result<Vec<u8>, BootableError> {
        let app = build_args::app_name(args);
        let osrel = uki::os_release(&app, self.release.as_deref());
        let efi = uki::assemble(&UkiParts {
            stub: &self.stub,
            kernel: &self.kernel,
            initrd,
            cmdline: &self.cmdline,
            osrel: &osrel,
            timestamp: mtime,
        })
        .map_err(BootableError::Uki)?;
        Ok(match &self.signer {
            Some(s) => s.sign(&efi, mtime, &self.output)?,
            None => efi,
        })
    }

    /// `--format disk`: the GPT, the ESP holding the UKI in its A/B
    /// slots, and with `--data-size` the ext4 data partition, into `file`
    /// (the temporary output at `path`).
    fn write_disk(
        &self,
        args: &BuildArgs,
        file: &mut std::fs::File,
        path: &Path,
        efi: &[u8],
        mtime: u32,
    ) -> Result<(), BootableError> {
        let write_err = |source| BuildError::Write {
            path: self.output.clone(),
            source,
        };
        let uki = efi.len() as u64;
        let slot = crate::core::abdisk::slot_size(args.slot_size.map(|s| s.0), uki)?;
        let names = crate::core::abdisk::esp_files(self.arch.efi_boot_file());
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), efi)).collect();
        let fs = fat::build(
            &files,
            &FatOptions {
                size: Some(crate::core::abdisk::esp_size(uki, slot)),
                ..FatOptions::new("ESP", mtime, gpt::ALIGN as u32)
            },
        )
        .map_err(BootableError::Fat)?;
        let data = args.data_size.map_or(0, |d| d.0);
        let seed = crate::core::digest::fnv128(&[
            &fs.head,
            &fs.total.to_le_bytes(),
            &slot.to_le_bytes(),
            &data.to_le_bytes(),
        ]);
        let mut parts = vec![(gpt::ESP_TYPE, "EFI System", fs.total)];
        if data > 0 {
            parts.push((gpt::LINUX_DATA_TYPE, "data", data));
        }
        let layout = gpt::layout(&parts, seed);
        file.write_all(&gpt::head(&layout)).map_err(write_err)?;
        file.seek(SeekFrom::Start(
            layout.partitions[0].first_lba * gpt::SECTOR,
        ))
        .map_err(write_err)?;
        // The ESP's free clusters and the data partition's unused
        // blocks stay holes: sparse, zero when read.
        file.write_all(&fs.head).map_err(write_err)?;
        file.seek(SeekFrom::Start(gpt::tail_offset(&layout)))
            .map_err(write_err)?;
        file.write_all(&gpt::tail(&layout)).map_err(write_err)?;
        file.set_len(layout.bytes()).map_err(write_err)?;
        eprintln!(
            "nodistro build: ESP {} bytes ({}): {} and slot A ({uki} bytes each), {} bytes free for slot B ({slot}-byte slots)",
            fs.total,
            if fs.fat32 { "FAT32" } else { "FAT16" },
            names[0],
            fs.free
        );
        if let (Some(mke2fs), Some(p)) = (&self.mke2fs, layout.partitions.get(1)) {
            file.sync_all().map_err(write_err)?;
            let bytes = (p.last_lba + 1 - p.first_lba) * gpt::SECTOR;
            format_data(
                mke2fs,
                path,
                &self.output,
                p.first_lba * gpt::SECTOR,
                bytes,
                seed,
                mtime,
            )?;
            eprintln!(
                "nodistro build: data partition {bytes} bytes, ext4 labelled {}, mounted at {}",
                nodistro_update::core::layout::DATA_LABEL,
                nodistro_update::core::layout::DATA_MOUNT
            );
        }
        Ok(())
    }

    /// `--format iso`: the hybrid ISO (x86-64: ISOLINUX and UEFI; else
    /// UEFI only) written to `path`, its ESP holding the UKI.
    fn write_iso(
        &self,
        path: &Path,
        efi: &[u8],
        initrd: &[u8],
        mtime: u32,
    ) -> Result<(), BootableError> {
        let fs = fat::build(
            &[(self.arch.efi_boot_file(), efi)],
            &FatOptions::new("EFIBOOT", mtime, 0),
        )
        .map(fat::Fat::into_image)
        .map_err(BootableError::Fat)?;
        let staging = temp_beside(&self.output, "staging");
        if self.arch != Arch::X86_64 {
            return iso::write_efi(&fs, mtime, &staging, path).map_err(BootableError::Iso);
        }
        let isolinux = self
            .isolinux
            .as_ref()
            .ok_or_else(|| BootableError::Iso(IsoError::Failed("ISOLINUX not located".into())))?;
        iso::write(
            &IsoParts {
                isolinux,
                kernel: &self.kernel,
                initrd,
                efi_image: &fs,
                cmdline: &self.cmdline,
                mtime,
            },
            &staging,
            path,
        )
        .map_err(BootableError::Iso)
    }
}

/// The kernel's bytes, checked to be of the image's architecture and to
/// take `cmdline`, and its release (the modules are pinned to it).
fn checked_kernel(
    args: &mut BuildArgs,
    cmdline: &str,
) -> Result<(Vec<u8>, Option<String>), BootableError> {
    let kpath = kernel_path(args)?;
    inputs::check_kernel_arch(args, &kpath)?;
    let kbytes = std::fs::read(&kpath).map_err(|e| BootableError::KernelRead(kpath.clone(), e))?;
    let info =
        uki::inspect_kernel(&kbytes).map_err(|e| BootableError::KernelBad(kpath.clone(), e))?;
    if cmdline.len() > info.cmdline_max {
        return Err(BootableError::Uki(UkiError::CmdlineTooLong {
            len: cmdline.len(),
            max: info.cmdline_max,
        }));
    }
    let release = info.release.clone().or_else(|| kernel::release_of(&kpath));
    check_release(args, &kpath, release.as_deref())?;
    Ok((kbytes, release))
}

/// systemd's EFI stub: `--efi-stub`, else this machine's, else another
/// architecture's from its Debian package.
fn efi_stub(args: &BuildArgs, arch: Arch) -> Result<Vec<u8>, BootableError> {
    let stub_path = match (&args.efi_stub, arch) {
        (Some(p), _) => p.clone(),
        (None, Arch::X86_64) => PathBuf::from(uki::DEFAULT_STUB),
        // Another architecture's stub: its systemd-boot-efi, fetched.
        (None, a) => crate::debkernel::package_file(a, uki::STUB_PACKAGE, a.efi_stub())
            .map_err(|e| BuildError::Fetch(a.debian(), e))?,
    };
    if !stub_path.is_file() {
        return Err(BootableError::StubMissing(stub_path));
    }
    std::fs::read(&stub_path).map_err(|e| BootableError::StubRead(stub_path.clone(), e))
}

/// `--format rpi`: the Raspberry Pi SD-card image ([`crate::rpi`]).
fn build_rpi(args: &mut BuildArgs) -> Result<BuiltImage, BootableError> {
    use crate::rpi;
    if build_args::target_arch(args) != Arch::Aarch64 {
        return Err(rpi::RpiError::NotAarch64.into());
    }
    if args.sign_key.is_some() || args.sign_cert.is_some() {
        return Err(SignError::NotUefi.into());
    }
    let cmdline = args
        .cmdline
        .clone()
        .unwrap_or_else(|| rpi::DEFAULT_CMDLINE.to_string());
    if cmdline.contains(['\n', '\0']) {
        return Err(BootableError::BadCmdline(cmdline));
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(Format::Rpi.default_output()));
    if std::fs::metadata(&output).is_ok_and(|m| !m.is_file()) {
        return Err(BuildError::NotAFile(output).into());
    }
    // The kernel and what the card needs beside it, before anything slow.
    let kpath = kernel_path(args)?;
    inputs::check_kernel_arch(args, &kpath)?;
    let kbytes = std::fs::read(&kpath).map_err(|e| BootableError::KernelRead(kpath.clone(), e))?;
    let kernel = rpi::kernel_image(&kbytes)?;
    drop(kbytes);
    let release = kernel::release_of(&kpath);
    check_release(args, &kpath, release.as_deref())?;
    let release = release
        .or_else(|| args.kernel_version.clone())
        .unwrap_or_default();
    let dtbs = rpi::read_files(&rpi::dtb_dir(&release)?, rpi::is_pi_dtb)?;
    let (fw_dir, copyright) = rpi::firmware_dir()?;
    let firmware = rpi::read_files(&fw_dir, rpi::is_firmware)?;
    if !firmware.iter().any(|f| f.0 == "bootcode.bin") {
        return Err(rpi::RpiError::NoFirmware(fw_dir).into());
    }
    let copyright = std::fs::read(&copyright).ok();
    let tmp = TempOutput::beside(&output);
    let mut file = std::fs::File::create(&tmp.path).map_err(|source| BuildError::Create {
        path: output.clone(),
        source,
    })?;
    let mtime = inputs::epoch_from_env()?;
    let (initrd, modules) = output::archive_bytes(args)?;
    let initrd_bytes = initrd.len() as u64;
    let files = rpi::boot_files(firmware, dtbs, copyright, kernel, initrd, &cmdline);
    let card = rpi::image(&files, mtime)?;
    drop(files);
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    file.write_all(&card).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    tmp.rename_to(&output).map_err(write_err)?;
    Ok(BuiltImage {
        output,
        format: Format::Rpi,
        bytes: card.len() as u64,
        initrd_bytes,
        modules,
        release: Some(release),
    })
}
