//! `nodistro build`'s flags: [`BuildArgs`] and the types of its values,
//! and what follows from the flags alone (the target architecture, the
//! driver selection, whether a data partition is mounted).

use crate::compress::Compression;
use crate::core::arch::Arch;
use crate::drivers::Drivers;
use argh::FromArgs;
use std::path::{Path, PathBuf};

/// The build machine's CA bundle (Debian's ca-certificates), the default of
/// `--ca-certs`.
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `--ca-certs` takes an optional value, which argh cannot express: a bare
/// `--ca-certs` (last, or followed by an option: `-o`, `--app`) gets an empty value,
/// meaning the default bundle. Applied to `nodistro build`'s arguments
/// before parsing.
pub fn optional_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        let bare = a == "--ca-certs"
            && it
                .peek()
                .is_none_or(|n| n.to_string_lossy().starts_with('-'));
        out.push(a);
        if bare {
            out.push(std::ffi::OsString::new());
        }
    }
    out
}

/// build an initramfs: the nodistro runtime, your app (static, or dynamic
/// with --allow-dynamic), extra files
/// and kernel modules, as a reproducible cpio archive
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "build")]
pub struct BuildArgs {
    /// the app to run (a static executable, or see --allow-dynamic); goes
    /// to /app/<name>
    #[argh(option)]
    pub app: Option<PathBuf>,
    /// take the app from an OCI image instead of --app: an OCI image layout
    /// directory, an oci-archive or a docker save tarball; its layers
    /// become the image's files and its config's Entrypoint, Cmd, Env,
    /// WorkingDir and User say how init runs the app (--arg replaces Cmd,
    /// --env adds, --user replaces User)
    #[argh(option)]
    pub from_oci: Option<PathBuf>,
    /// output file (default: initramfs.cpio.gz, .cpio.zst or .cpio)
    #[argh(option, short = 'o')]
    pub output: Option<PathBuf>,
    /// read the settings from this build file (TOML, its keys the names of
    /// these flags: app, args, env, files, modules...; paths relative to
    /// it); flags given here override it, repeatable ones add to its lists
    #[argh(option, short = 'f')]
    pub build_file: Option<PathBuf>,
    /// an argument for the app (repeatable, in order)
    #[argh(option)]
    pub arg: Vec<String>,
    /// an environment variable NAME=value for the app (repeatable)
    #[argh(option)]
    pub env: Vec<String>,
    /// an extra file or directory SRC:DEST to copy into the image (repeatable)
    #[argh(option)]
    pub file: Vec<String>,
    /// a configuration line KEY=VALUE for /etc/nodistro.conf (repeatable),
    /// e.g. logfwd.remote=udp://10.0.2.2:514 or ip=dhcp
    #[argh(option)]
    pub config: Vec<String>,
    /// the machine's host name (configuration key hostname)
    #[argh(option)]
    pub hostname: Option<String>,
    /// gzip (default), zstd or none
    #[argh(option, default = "Compression::Gzip")]
    pub compression: Compression,
    /// compression level (gzip 0-9, default 6; zstd 1-19, default 3)
    #[argh(option)]
    pub level: Option<i32>,
    /// the image's architecture: x86_64 or aarch64 (default: this
    /// machine's); another one's app and box are cross-built
    /// (scripts/build-box.sh --arch aarch64) and its kernel and modules are
    /// Debian's, fetched into the cache with apt-get download
    #[argh(option)]
    pub arch: Option<Arch>,
    /// directory holding nodistro-box (default: $NODISTRO_TOOLS_DIR, else
    /// the static musl box of scripts/build-box.sh in this nodistro's
    /// cargo target directory, else this nodistro executable's directory)
    #[argh(option)]
    pub tools_dir: Option<PathBuf>,
    /// drivers to include: vm (default: virtio over PCI and MMIO, e1000,
    /// e1000e, vmxnet3, ena, nvme, gve, Hyper-V, Xen, the power button),
    /// rpi (default of --format rpi: the Raspberry Pi's SD card, USB and
    /// Ethernet),
    /// none (the kernel's built-in drivers only), all, or host (the devices
    /// of this machine); --module and --modaliases add to it
    #[argh(option)]
    pub drivers: Option<Drivers>,
    /// kernel modules to include: none or all (older spelling of --drivers)
    #[argh(option)]
    pub modules: Option<AllModules>,
    /// a kernel module to include, with its dependencies (repeatable)
    #[argh(option)]
    pub module: Vec<String>,
    /// a file of modaliases captured on the target (cat /sys/**/modalias):
    /// include the modules that match them
    #[argh(option)]
    pub modaliases: Option<PathBuf>,
    /// kernel version whose modules to use (default: the newest under
    /// /lib/modules)
    #[argh(option)]
    pub kernel_version: Option<String>,
    /// the modules tree to use (default: /lib/modules/<kernel version>)
    #[argh(option)]
    pub modules_dir: Option<PathBuf>,
    /// where firmware files the modules declare are looked up (default
    /// /lib/firmware)
    #[argh(option)]
    pub firmware_dir: Option<PathBuf>,
    /// run the app as this user NAME[:UID[:GID]] (uid default 1000, gid
    /// default the uid), added to /etc/passwd and /etc/group
    #[argh(option)]
    pub user: Option<String>,
    /// put a CA bundle at /etc/ssl/certs/ca-certificates.crt: this PEM file,
    /// or with no value the build machine's bundle
    #[argh(option)]
    pub ca_certs: Option<String>,
    /// pack a dynamically linked app with its ELF interpreter, the
    /// libraries it needs (found as ld.so finds them) and an
    /// /etc/ld.so.cache; a script or other file is packed as it is
    #[argh(switch)]
    pub allow_dynamic: bool,
    /// with --allow-dynamic: also pack glibc's gconv modules (iconv), which
    /// are packed by themselves only when the app calls iconv_open
    #[argh(switch)]
    pub gconv: bool,
    /// what to write: initramfs (default), uki (a Unified Kernel Image),
    /// disk (a raw GPT disk with an EFI system partition), iso (a hybrid
    /// BIOS/UEFI ISO), rpi (with --arch aarch64: a Raspberry Pi SD-card
    /// image) or oci (an oci-archive for podman, Docker, Kubernetes: init
    /// in container mode runs the app)
    #[argh(option, default = "Format::Initramfs")]
    pub format: Format,
    /// the kernel for uki/disk/iso (default: the newest /boot/vmlinuz-*);
    /// the modules come from the same release
    #[argh(option)]
    pub kernel: Option<PathBuf>,
    /// the kernel command line of a uki/disk/iso (default: "console=tty0
    /// console=ttyS0,115200 panic=-1")
    #[argh(option)]
    pub cmdline: Option<String>,
    /// with --format disk: add a data partition of this size (bytes, or
    /// K/M/G/T, e.g. 1G), formatted ext4 (label nodistro-data, host
    /// mke2fs, package e2fsprogs) and mounted at /data; with --format uki
    /// and --update-key (a release for such a disk): mount it
    #[argh(option)]
    pub data_size: Option<DataSize>,
    /// with --format disk: the size of each of the ESP's two update slots
    /// (default: twice the UKI rounded up to a MiB, at least 64M)
    #[argh(option)]
    pub slot_size: Option<DataSize>,
    /// with --format uki or disk: the ed25519 public key (PEM, as `openssl
    /// pkey -pubout` writes it) whose signed releases the image's update
    /// tool installs; put at /etc/nodistro/update.pub
    #[argh(option)]
    pub update_key: Option<PathBuf>,
    /// the release version this image carries (update.version=N, a whole
    /// number from 1): the update tool installs only higher ones
    #[argh(option)]
    pub update_version: Option<UpdateVersion>,
    /// systemd's EFI stub (default:
    /// /usr/lib/systemd/boot/efi/linuxx64.efi.stub, package systemd-boot-efi)
    #[argh(option)]
    pub efi_stub: Option<PathBuf>,
    /// sign the UKI (of --format uki, disk or iso) for Secure Boot with
    /// this PEM private key (Authenticode, by osslsigncode)
    #[argh(option)]
    pub sign_key: Option<PathBuf>,
    /// the PEM certificate of --sign-key, put in the signature; firmware
    /// that trusts it (in its db) starts the image under Secure Boot
    #[argh(option)]
    pub sign_cert: Option<PathBuf>,
    /// directory holding isolinux.bin, isohdpfx.bin and ldlinux.c32
    /// (default: where Debian's isolinux and syslinux-common put them)
    #[argh(option)]
    pub isolinux_dir: Option<PathBuf>,
    /// include the debug console (/bin/console; turned on by
    /// init.debug=console): root for whoever holds the serial line
    #[argh(switch)]
    pub console: bool,
}

/// `--update-version`: a whole number from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateVersion(pub u64);

impl std::str::FromStr for UpdateVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<u64>() {
            Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(UpdateVersion(n)),
            _ => Err(format!(
                "{s:?} is not a whole number from 1 (the release's version)"
            )),
        }
    }
}

/// `--modules none|all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllModules {
    None,
    All,
}

impl std::str::FromStr for AllModules {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(AllModules::None),
            "all" => Ok(AllModules::All),
            other => Err(format!(
                "{other:?} is not none or all (name single modules with --module)"
            )),
        }
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Initramfs,
    Uki,
    Disk,
    Iso,
    /// A Raspberry Pi SD-card image (aarch64): [`crate::rpi`].
    Rpi,
    /// An OCI image (oci-archive) for podman, Docker, Kubernetes:
    /// [`crate::oci::write`].
    Oci,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "initramfs" => Ok(Format::Initramfs),
            "uki" => Ok(Format::Uki),
            "disk" => Ok(Format::Disk),
            "iso" => Ok(Format::Iso),
            "rpi" => Ok(Format::Rpi),
            "oci" => Ok(Format::Oci),
            _ => Err(format!(
                "{s:?} is not initramfs, uki, disk, iso, rpi or oci"
            )),
        }
    }
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Initramfs => "initramfs",
            Format::Uki => "uki",
            Format::Disk => "disk",
            Format::Iso => "iso",
            Format::Rpi => "rpi",
            Format::Oci => "oci",
        }
    }

    /// The default output file name.
    pub fn default_output(self) -> &'static str {
        match self {
            Format::Initramfs => "initramfs.cpio.gz",
            Format::Uki => "image.efi",
            Format::Disk => "disk.img",
            Format::Iso => "image.iso",
            Format::Rpi => "rpi.img",
            Format::Oci => crate::oci::write::DEFAULT_OUTPUT,
        }
    }
}

/// `--data-size`: a byte count with an optional K, M, G or T suffix
/// (powers of 1024; `MiB` and `MB` read the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize(pub u64);

impl std::str::FromStr for DataSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a size: use bytes or a number with K, M, G or T, e.g. 512M or 2G")
        };
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = t[..digits].parse().map_err(|_| bad())?;
        let unit = t[digits..].trim().to_ascii_uppercase();
        let shift = match unit.as_str() {
            "" | "B" => 0,
            "K" | "KB" | "KIB" => 10,
            "M" | "MB" | "MIB" => 20,
            "G" | "GB" | "GIB" => 30,
            "T" | "TB" | "TIB" => 40,
            _ => return Err(bad()),
        };
        let v = n.checked_mul(1u64 << shift).ok_or_else(bad)?;
        if v == 0 || v > (1u64 << 50) {
            return Err(format!("{s:?} is out of range (1 byte to 1 PiB)"));
        }
        Ok(DataSize(v))
    }
}

/// The image's architecture: `--arch`, else this machine's.
pub fn target_arch(args: &BuildArgs) -> Arch {
    args.arch.unwrap_or_else(Arch::host)
}

/// The app's name (for messages and the UKI's os-release).
pub fn app_name(args: &BuildArgs) -> String {
    args.app
        .as_deref()
        .or(args.from_oci.as_deref())
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether the image mounts a data partition: `--format disk --data-size`,
/// or a release UKI (`--update-key`) for such a disk.
pub fn data_partition(args: &BuildArgs) -> bool {
    args.data_size.is_some()
        && (args.format == Format::Disk
            || (args.format == Format::Uki && args.update_key.is_some()))
}

/// The driver selection: `--drivers`, else `--modules`, else `vm` unless
/// modules are named (`--module`, `--modaliases`), which then replace it.
pub fn driver_selection(args: &BuildArgs) -> Drivers {
    match (args.drivers, args.modules) {
        (Some(d), _) => d,
        (None, Some(AllModules::All)) => Drivers::All,
        (None, Some(AllModules::None)) => Drivers::None,
        (None, None) if !args.module.is_empty() || args.modaliases.is_some() => Drivers::None,
        (None, None) if args.format == Format::Rpi => Drivers::Rpi,
        (None, None) => Drivers::Vm,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("512M".parse(), Ok(DataSize(512 << 20)));
        assert_eq!("2G".parse(), Ok(DataSize(2 << 30)));
        assert_eq!("1GiB".parse(), Ok(DataSize(1 << 30)));
        assert_eq!("4096".parse(), Ok(DataSize(4096)));
        for bad in ["", "M", "12X", "-1G", "1.5G", "0", "99999999999T"] {
            assert!(bad.parse::<DataSize>().is_err(), "{bad}");
        }
        let e = "abc".parse::<DataSize>().expect_err("bad");
        assert!(e.contains("\"abc\" is not a size"), "{e}");
    }

    #[test]
    fn formats() {
        assert_eq!("uki".parse(), Ok(Format::Uki));
        assert!("qcow2".parse::<Format>().is_err());
    }
}
