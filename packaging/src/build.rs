//! `nodistro build`: pack the runtime tools, the app, extra files and kernel
//! modules into a reproducible initramfs (cpio newc, gzip/zstd/none).

use crate::arch::Arch;
use crate::bootable::{DataSize, Format};
use crate::compress::{Compression, Encoder};
use crate::drivers::{self, Drivers};
use crate::elf::{self, AppKind};
use crate::etcfiles::{self, User, UserError};
use crate::image::{Image, ImageError, Node, Source};
use crate::modules::{self, ModuleSelection, ModulesError};
use argh::FromArgs;
use nodistro_common::{report, Config, MULTICALL_NAME};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const TOOL: &str = "nodistro build";

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

/// The runtime tools a full nodistro-box holds. An image links the ones
/// the box given lists (`nodistro-box --list`, see [`crate::boxtools`]).
pub const TOOLS: [&str; 5] = ["init", "modload", "netcfg", "logfwd", "console"];

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

/// The update tool's name in a box's `--list` and in /bin.
pub const UPDATE_TOOL: &str = "update";

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

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("app {} not found; give the path of your static executable with --app", .0.display())]
    AppMissing(PathBuf),
    #[error("no app: give --app PATH (an executable) or --from-oci PATH (an OCI image)")]
    NoApp,
    #[error("--app and --from-oci both name the app; give one")]
    TwoApps,
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
    #[error("--from-oci {}", .path.display())]
    OciRun {
        path: PathBuf,
        #[source]
        source: crate::oci::runspec::RunSpecError,
    },
    #[error("--from-oci {}: the app {app} needs {needs}, which the image does not hold", .path.display())]
    OciLacks {
        path: PathBuf,
        app: String,
        needs: String,
    },
    #[error("app {} is dynamically linked: it needs its interpreter {interpreter} and {libraries} libraries ({bytes} bytes with /etc/ld.so.cache); pass --allow-dynamic to pack them, or link it statically (Rust: RUSTFLAGS=\"-C target-feature=+crt-static\"; Go: CGO_ENABLED=0; C: -static)", .path.display())]
    Dynamic {
        path: PathBuf,
        interpreter: String,
        libraries: usize,
        bytes: u64,
    },
    #[error("app {} is dynamically linked (interpreter {interpreter}), and --allow-dynamic could not pack what it needs; link it statically (Go: CGO_ENABLED=0; C: -static), or", .path.display())]
    DynamicUnresolved {
        path: PathBuf,
        interpreter: String,
        #[source]
        source: Box<crate::dynlink::ResolveError>,
    },
    #[error("cannot pack what app {} needs", .path.display())]
    Libraries {
        path: PathBuf,
        #[source]
        source: Box<crate::dynlink::ResolveError>,
    },
    #[error("app {} is not an x86-64 executable ({what}); build it for x86-64", .path.display())]
    AppArch { path: PathBuf, what: String },
    #[error("app {} is a script for {interpreter}, which the image does not have; add the interpreter with --file and pass --allow-dynamic, or use a static executable", .path.display())]
    Script { path: PathBuf, interpreter: String },
    #[error("app {} is not an executable (not ELF, no #! line); pass --allow-dynamic to pack it anyway", .0.display())]
    NotExecutable(PathBuf),
    #[error("{} not found in {}: build it (scripts/build-box.sh, or cargo build --release -p nodistro-box) or point --tools-dir at the directory holding it", MULTICALL_NAME, .0.display())]
    ToolsMissing(PathBuf),
    #[error("--{flag} {value:?} is not {expected}")]
    BadOption {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("--level {level} is out of range for {kind:?} (use {min}..={max})")]
    BadLevel {
        level: i32,
        kind: Compression,
        min: i32,
        max: i32,
    },
    #[error(transparent)]
    Console(#[from] crate::debug_console::ConsoleError),
    #[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds between 0 and 4294967295")]
    BadEpoch(String),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("--ca-certs {}: not found; give the path of a PEM bundle, or install ca-certificates for the default {}", .0.display(), DEFAULT_CA_BUNDLE)]
    CaMissing(PathBuf),
    #[error("--ca-certs {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----); give a PEM bundle such as {}", .0.display(), DEFAULT_CA_BUNDLE)]
    CaNotPem(PathBuf),
    #[error("cannot read the host's devices for --drivers host (is /sys mounted?); use --modaliases FILE instead")]
    HostDevices(#[source] io::Error),
    #[error("{what} {} is {found}, not {arch}: {fix}", .path.display())]
    WrongArch {
        what: &'static str,
        path: PathBuf,
        found: String,
        arch: &'static str,
        fix: String,
    },
    #[error("app {} is dynamically linked: an {arch} image takes a static app (target-feature=+crt-static, README \"arm64\")", .path.display())]
    CrossDynamic { path: PathBuf, arch: &'static str },
    #[error("cannot fetch Debian's {0} kernel")]
    Fetch(&'static str, #[source] crate::debkernel::FetchError),
    #[error("cannot pack this nodistro-box")]
    Box(#[source] crate::boxtools::BoxError),
    #[error("cannot write the configuration file")]
    Config(#[source] nodistro_common::config::RenderError),
    #[error("cannot assemble the image")]
    Image(#[source] ImageError),
    #[error("cannot select kernel modules")]
    Modules(#[source] ModulesError),
    #[error("cannot create the output {}: choose a writable -o path", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("output {} exists and is not a regular file; choose another -o path", .0.display())]
    NotAFile(PathBuf),
    #[error("--update-key is only for --format uki or disk (an image the update tool can replace), not {0}")]
    UpdateKeyFormat(&'static str),
    #[error("cannot read --update-key {}: give the ed25519 public key as openssl writes it (openssl pkey -in key.pem -pubout -out pub.pem)", .path.display())]
    UpdateKeyRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("--update-key {}", .path.display())]
    UpdateKey {
        path: PathBuf,
        #[source]
        source: nodistro_update::core::keys::KeyError,
    },
    #[error("--update-key needs the update tool, which {} does not hold (tools: {}): build the standalone one (cargo build --release -p nodistro-update) or the box with --features update", .path.display(), .tools.join(","))]
    NoUpdateTool { path: PathBuf, tools: Vec<String> },
    #[error("cannot write the output {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl From<ImageError> for BuildError {
    fn from(e: ImageError) -> Self {
        BuildError::Image(e)
    }
}

/// What a finished build produced.
#[derive(Debug)]
pub struct Built {
    pub output: PathBuf,
    pub entries: usize,
    pub modules: usize,
    pub uncompressed: u64,
    pub compressed: u64,
    /// What the user should know (kernel chosen, drivers skipped).
    pub notes: Vec<String>,
}

/// Run the subcommand; returns the exit code.
pub fn main(args: BuildArgs) -> i32 {
    let start = std::time::Instant::now();
    if let Err(e) = update_key(&args) {
        return report::fail(TOOL, &e, 1);
    }
    let signing = args.sign_key.is_some() || args.sign_cert.is_some();
    if args.format == Format::Oci {
        if signing {
            return nodistro_common::report::fail(
                "nodistro build",
                &crate::sign::SignError::NotUefi,
                1,
            );
        }
        return crate::oci::build::main(&args, start);
    }
    if args.format != Format::Initramfs || args.kernel.is_some() || signing {
        return crate::bootable::main(args, start);
    }
    main_initramfs(&args, start)
}

/// Build the initramfs (`--format initramfs`); returns the exit code.
pub fn main_initramfs(args: &BuildArgs, start: std::time::Instant) -> i32 {
    match build(args) {
        Ok(b) => {
            for n in &b.notes {
                eprintln!("{TOOL}: {n}");
            }
            eprintln!(
                "{TOOL}: wrote {} ({} entries, {} modules, {} bytes of cpio, {} bytes written) in {:.2} s",
                b.output.display(),
                b.entries,
                b.modules,
                b.uncompressed,
                b.compressed,
                start.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => report::fail(TOOL, &e, 1),
    }
}

fn split_pair<'a>(
    flag: &'static str,
    value: &'a str,
    sep: char,
    expected: &'static str,
) -> Result<(&'a str, &'a str), BuildError> {
    match value.split_once(sep) {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a, b)),
        _ => Err(BuildError::BadOption {
            flag,
            value: value.to_string(),
            expected,
        }),
    }
}

/// The mtime for every entry: SOURCE_DATE_EPOCH, or 0.
pub fn epoch_from_env() -> Result<u32, BuildError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<u32>().map_err(|_| BuildError::BadEpoch(v)),
        Err(_) => Ok(0),
    }
}

/// Check the app; for a dynamically linked one, what `--allow-dynamic`
/// packs (and without the flag, the refusal saying what it would).
fn check_app(
    args: &BuildArgs,
    path: &Path,
    app_image: &str,
) -> Result<Option<crate::dynamic::Plan>, BuildError> {
    let path = &path.to_path_buf();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BuildError::AppMissing(path.clone()))
        }
        Err(source) => {
            return Err(BuildError::Image(ImageError::Read {
                path: path.clone(),
                source,
            }))
        }
    };
    let arch = target_arch(args);
    if bytes.starts_with(b"\x7fELF") {
        let found = Arch::of_elf(&bytes).map_or_else(|what| what, |a| a.name().to_string());
        if found != arch.name() {
            return Err(BuildError::WrongArch {
                what: "app",
                path: path.clone(),
                found,
                arch: arch.name(),
                fix: match arch {
                    Arch::X86_64 => "build it for x86_64, or pass --arch aarch64 for an aarch64 app".into(),
                    Arch::Aarch64 => "build it with cargo build --target aarch64-unknown-linux-gnu (README, \"arm64\"), or drop --arch aarch64".into(),
                },
            });
        }
        if arch != Arch::X86_64 && matches!(elf::classify(&bytes), AppKind::Dynamic { .. }) {
            return Err(BuildError::CrossDynamic {
                path: path.clone(),
                arch: arch.name(),
            });
        }
    }
    let err = match elf::classify(&bytes) {
        AppKind::Static => return Ok(None),
        AppKind::Dynamic { interpreter } => {
            let info = match elf::dyn_info(&bytes) {
                elf::ElfCheck::Usable(i) => i,
                elf::ElfCheck::WrongArch(what) | elf::ElfCheck::Bad(what) => {
                    return Err(BuildError::AppArch {
                        path: path.clone(),
                        what,
                    })
                }
            };
            let plan = crate::dynamic::plan(
                path,
                app_image,
                info,
                args.gconv,
                Path::new("/etc/ld.so.cache"),
            );
            return match (plan, args.allow_dynamic) {
                (Ok(p), true) => Ok(Some(p)),
                (Err(source), true) => Err(BuildError::Libraries {
                    path: path.clone(),
                    source: Box::new(source),
                }),
                (Ok(p), false) => Err(BuildError::Dynamic {
                    path: path.clone(),
                    interpreter,
                    libraries: p.libraries(),
                    bytes: p.bytes(),
                }),
                (Err(source), false) => Err(BuildError::DynamicUnresolved {
                    path: path.clone(),
                    interpreter,
                    source: Box::new(source),
                }),
            };
        }
        AppKind::Script { interpreter } => BuildError::Script {
            path: path.clone(),
            interpreter,
        },
        AppKind::Unknown => BuildError::NotExecutable(path.clone()),
    };
    if args.allow_dynamic {
        eprintln!(
            "{TOOL}: warning: {}; packing it anyway (--allow-dynamic)",
            report::chain(&err)
        );
        Ok(None)
    } else {
        Err(err)
    }
}

/// The image's architecture: `--arch`, else this machine's.
pub fn target_arch(args: &BuildArgs) -> Arch {
    args.arch.unwrap_or_else(Arch::host)
}

/// The box must be of the image's architecture (checked before it is
/// asked for its tools, which a foreign box cannot answer here).
fn check_box_arch(args: &BuildArgs, box_path: &Path) -> Result<(), BuildError> {
    let arch = target_arch(args);
    let bytes = std::fs::read(box_path).map_err(|source| {
        BuildError::Image(ImageError::Read {
            path: box_path.into(),
            source,
        })
    })?;
    let found = Arch::of_elf(&bytes).map_or_else(|what| what, |a| a.name().to_string());
    // A box of this machine is asked for its tools: anything else that
    // runs here (a wrapper script) answers for itself.
    let runs_here = arch == Arch::host() && !bytes.starts_with(b"\x7fELF");
    if found == arch.name() || runs_here {
        return Ok(());
    }
    Err(BuildError::WrongArch {
        what: "nodistro-box",
        path: box_path.into(),
        found,
        arch: arch.name(),
        fix: format!(
            "build one with {} and pass its directory as --tools-dir",
            arch.box_hint()
        ),
    })
}

/// The kernel and module tree of a foreign `--arch` when none is given
/// (`--modules-dir`, `--kernel-version`): Debian's, fetched and cached.
/// None for this machine's architecture (its /boot and /lib/modules).
pub fn foreign_kernel(args: &BuildArgs) -> Result<Option<crate::debkernel::DebKernel>, BuildError> {
    let arch = target_arch(args);
    if arch == Arch::host() || args.modules_dir.is_some() {
        return Ok(None);
    }
    crate::debkernel::fetch(arch)
        .map(Some)
        .map_err(|e| BuildError::Fetch(arch.debian(), e))
}

/// A `--kernel` must be of the image's architecture.
pub fn check_kernel_arch(args: &BuildArgs, kernel: &Path) -> Result<(), BuildError> {
    let arch = target_arch(args);
    let bytes = std::fs::read(kernel).map_err(|source| {
        BuildError::Image(ImageError::Read {
            path: kernel.into(),
            source,
        })
    })?;
    // A file that is no kernel image at all is left to the kernel checks
    // that follow (they name what it lacks).
    match Arch::of_kernel(&bytes) {
        Some(a) if a != arch => Err(BuildError::WrongArch {
            what: "kernel",
            path: kernel.into(),
            found: format!("an {} kernel", a.name()),
            arch: arch.name(),
            fix: format!(
                "give an {} kernel ({}), or leave --kernel out",
                arch.name(),
                arch.kernel_package()
            ),
        }),
        _ => Ok(()),
    }
}

fn tools_dir(args: &BuildArgs) -> PathBuf {
    if let Some(d) = &args.tools_dir {
        return d.clone();
    }
    // e.g. the libc-free box: scripts/build-box.sh prints the directory.
    if let Some(d) = std::env::var_os("NODISTRO_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    // The default box (static musl, a third of the glibc one's bytes) when
    // scripts/build-box.sh has built it; else the static glibc box that
    // `cargo build --release` puts beside this executable.
    match musl_box_dir(&exe_dir) {
        Some(d) if d.join(MULTICALL_NAME).is_file() => d,
        _ => exe_dir,
    }
}

/// Where `scripts/build-box.sh` (no switch) puts the default, static musl
/// box for a nodistro in `exe_dir`: the same cargo target directory, the
/// musl triple, the same profile (`target/x86_64-unknown-linux-gnu/release`
/// -> `target/x86_64-unknown-linux-musl/release`). None when `exe_dir` is
/// not a glibc target's profile directory of cargo (an installed nodistro).
pub fn musl_box_dir(exe_dir: &Path) -> Option<PathBuf> {
    let profile = exe_dir.file_name()?;
    let triple = exe_dir.parent()?;
    if !triple
        .file_name()?
        .to_str()?
        .ends_with("-unknown-linux-gnu")
    {
        return None;
    }
    let target = triple.parent()?;
    Some(
        target
            .join(format!("{}-unknown-linux-musl", Arch::host().name()))
            .join(profile),
    )
}

/// How init runs the app: from the flags (`--app`), or from an OCI
/// image's config with the flags on top (`--from-oci`).
#[derive(Debug, Clone, Default)]
pub struct AppRun {
    /// The app's path in the image.
    pub path: String,
    pub args: Vec<String>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// uid and gid.
    pub ids: Option<(u32, u32)>,
}

/// The configuration file's text: the app's settings, then `--hostname`
/// and `--config` lines, then `extra` (what the format needs).
fn config_text(
    args: &BuildArgs,
    run: &AppRun,
    extra: &[(&str, &str)],
) -> Result<String, BuildError> {
    let mut cfg = Config::default();
    cfg.push("init.app", run.path.as_str());
    if let Some((uid, gid)) = run.ids {
        cfg.push("init.uid", uid.to_string());
        cfg.push("init.gid", gid.to_string());
    }
    if let Some(w) = &run.workdir {
        cfg.push("init.workdir", w.as_str());
    }
    for a in &run.args {
        cfg.push("init.arg", a.as_str());
    }
    for e in &run.env {
        split_pair("env", e, '=', "NAME=value")?;
        cfg.push("init.env", e.as_str());
    }
    if let Some(h) = &args.hostname {
        cfg.push("hostname", h.as_str());
    }
    for (k, v) in extra {
        cfg.push(*k, *v);
    }
    for c in &args.config {
        let (k, v) = c.split_once('=').ok_or_else(|| BuildError::BadOption {
            flag: "config",
            value: c.clone(),
            expected: "KEY=VALUE",
        })?;
        cfg.push(k, v);
    }
    cfg.render().map_err(BuildError::Config)
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

/// Where the app and the base of the image come from: a host file (the
/// image starts empty), or an OCI image (its root filesystem is the base).
fn app_source(
    args: &BuildArgs,
    user: Option<&User>,
    notes: &mut Vec<String>,
) -> Result<(AppRun, Option<crate::dynamic::Plan>, Image, Option<PathBuf>), BuildError> {
    let ids = user.map(|u| (u.uid, u.gid));
    match (&args.app, &args.from_oci) {
        (Some(_), Some(_)) => Err(BuildError::TwoApps),
        (None, None) => Err(BuildError::NoApp),
        (Some(app), None) => {
            let name = app
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| BuildError::AppMissing(app.clone()))?;
            let path = format!("/app/{name}");
            let dynamic = check_app(args, app, &path)?;
            let run = AppRun {
                path,
                args: args.arg.clone(),
                env: args.env.clone(),
                workdir: None,
                ids,
            };
            Ok((run, dynamic, Image::new(), Some(app.clone())))
        }
        (None, Some(oci)) => {
            let (run, img) = crate::oci::build::base(args, oci, ids, notes)?;
            Ok((run, None, img, None))
        }
    }
}

/// Assemble the image described by `args` (without writing it).
/// Returns the image, its module count and the lines to print once the
/// archive is written.
pub fn assemble(args: &BuildArgs) -> Result<(Image, usize, Vec<String>), BuildError> {
    let mut extra: Vec<(&str, String)> = Vec::new();
    if args.format == Format::Oci {
        // A container has no kernel log of its own to read.
        extra.push(("logfwd.kmsg", "off".into()));
    }
    if data_partition(args) && !crate::abdisk::user_mounts_data(&args.config) {
        extra.push(("init.mount", crate::abdisk::data_mount_line()));
    }
    if let Some(v) = args.update_version {
        extra.push(("update.version", v.0.to_string()));
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let update_key = update_key(args)?;
    let user = args.user.as_deref().map(User::parse).transpose()?;
    let mut notes = Vec::new();
    let (run, dynamic, mut img, host_app) = app_source(args, user.as_ref(), &mut notes)?;
    let ca = ca_bundle(args, &mut notes)?;
    for d in ["dev", "proc", "sys", "run", "etc", "bin", "app"] {
        img.add(d, Node::Dir { mode: 0o755 })?;
    }
    img.add("tmp", Node::Dir { mode: 0o1777 })?;
    img.add("dev/console", Node::console())?;
    let dir = tools_dir(args);
    let box_path = dir.join(MULTICALL_NAME);
    if !box_path.is_file() {
        return Err(BuildError::ToolsMissing(dir));
    }
    check_box_arch(args, &box_path)?;
    let tools = if target_arch(args) == Arch::host() {
        crate::boxtools::list(&box_path)
    } else {
        crate::boxtools::list_foreign(&box_path)
    }
    .map_err(BuildError::Box)?;
    crate::boxtools::check(&box_path, &tools, &args.config).map_err(BuildError::Box)?;
    // The update tool only with --update-key: the box's, else the
    // standalone binary beside it (the glibc box leaves it out for size).
    let box_has_update = tools.iter().any(|t| t == UPDATE_TOOL);
    if update_key.is_some() && !box_has_update {
        let alone = dir.join(UPDATE_TOOL);
        if !alone.is_file() {
            return Err(BuildError::NoUpdateTool {
                path: box_path,
                tools,
            });
        }
        img.add_file(&format!("bin/{UPDATE_TOOL}"), &alone)?;
    }
    img.add_file(&format!("bin/{MULTICALL_NAME}"), &box_path)?;
    // The console only with --console (debug_console::add links it), the
    // update tool only with --update-key.
    let linked = |t: &&String| {
        *t != crate::debug_console::TOOL && (*t != UPDATE_TOOL || update_key.is_some())
    };
    for t in tools.iter().filter(linked) {
        img.add(
            &format!("bin/{t}"),
            Node::Symlink {
                target: MULTICALL_NAME.into(),
            },
        )?;
    }
    img.add(
        "init",
        Node::Symlink {
            target: format!("bin/{MULTICALL_NAME}"),
        },
    )?;
    if args.console {
        crate::debug_console::add(&mut img, &dir, &box_path, &tools)?;
    }
    if let Some(app) = &host_app {
        img.add_file(&run.path, app)?;
    }
    img.add(
        nodistro_common::CONFIG_PATH,
        Node::File {
            source: Source::Bytes(config_text(args, &run, &extra)?.into_bytes()),
            mode: 0o644,
        },
    )?;
    for f in &args.file {
        // The last ':' splits, so a source path may contain colons.
        let (src, dest) = match f.rsplit_once(':') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => (a, b),
            _ => {
                return Err(BuildError::BadOption {
                    flag: "file",
                    value: f.clone(),
                    expected: "SRC:DEST",
                })
            }
        };
        img.add_tree(dest, Path::new(src))?;
    }
    if let Some(plan) = &dynamic {
        notes.extend(crate::dynamic::add(&mut img, plan, &run.path)?);
    }
    add_etc_files(&mut img, args, user.as_ref(), ca)?;
    if let Some(pem) = update_key {
        img.add(
            nodistro_update::KEY_FILE.trim_start_matches('/'),
            Node::File {
                source: Source::Bytes(pem),
                mode: 0o644,
            },
        )?;
    }
    if !img.replaced().is_empty() {
        notes.push(format!(
            "nodistro's own files replace the OCI image's /{}",
            img.replaced().join(", /")
        ));
    }
    if args.format == Format::Oci {
        return Ok((img, 0, notes));
    }
    let drivers = driver_selection(args);
    let aliases = if drivers == Drivers::Host {
        drivers::host_modaliases(Path::new("/sys")).map_err(BuildError::HostDevices)?
    } else {
        Vec::new()
    };
    // What the image's own features need (the data partition's ext4, the
    // update tool's vfat and efivarfs), whatever the driver selection.
    let mut names = args.module.clone();
    if data_partition(args) {
        names.push(crate::abdisk::DATA_MODULE.to_string());
    }
    if args.update_key.is_some() {
        names.extend(crate::abdisk::UPDATE_MODULES.iter().map(|m| m.to_string()));
    }
    let selection = ModuleSelection {
        all: drivers == Drivers::All,
        names,
        optional: match drivers {
            Drivers::Vm => drivers::vm_drivers(target_arch(args))
                .map(str::to_string)
                .collect(),
            Drivers::Rpi => drivers::RPI_DRIVERS.iter().map(|d| d.to_string()).collect(),
            _ => Vec::new(),
        },
        aliases,
        modaliases: args.modaliases.clone(),
        kernel_version: args.kernel_version.clone(),
        modules_dir: match foreign_kernel(args)? {
            Some(k) => {
                notes.push(format!(
                    "{} kernel {} from Debian ({})",
                    target_arch(args).name(),
                    k.release,
                    k.vmlinuz.display()
                ));
                Some(k.modules_dir)
            }
            None => args.modules_dir.clone(),
        },
        firmware_dir: args.firmware_dir.clone(),
    };
    let (count, module_notes) =
        modules::add_modules(&mut img, &selection).map_err(BuildError::Modules)?;
    notes.extend(module_notes);
    Ok((img, count, notes))
}

/// Whether the image mounts a data partition: `--format disk --data-size`,
/// or a release UKI (`--update-key`) for such a disk.
pub fn data_partition(args: &BuildArgs) -> bool {
    args.data_size.is_some()
        && (args.format == Format::Disk
            || (args.format == Format::Uki && args.update_key.is_some()))
}

/// The `--update-key` PEM, checked to be an ed25519 public key, and the
/// format to be one the update tool can replace.
fn update_key(args: &BuildArgs) -> Result<Option<Vec<u8>>, BuildError> {
    let Some(path) = &args.update_key else {
        return Ok(None);
    };
    if !matches!(args.format, Format::Uki | Format::Disk) {
        return Err(BuildError::UpdateKeyFormat(args.format.name()));
    }
    let pem = std::fs::read(path).map_err(|source| BuildError::UpdateKeyRead {
        path: path.clone(),
        source,
    })?;
    nodistro_update::core::keys::public_from_pem(&String::from_utf8_lossy(&pem)).map_err(
        |source| BuildError::UpdateKey {
            path: path.clone(),
            source,
        },
    )?;
    Ok(Some(pem))
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

/// The CA bundle's path when `--ca-certs` is given, checked to be PEM.
fn ca_bundle(args: &BuildArgs, notes: &mut Vec<String>) -> Result<Option<PathBuf>, BuildError> {
    let Some(given) = &args.ca_certs else {
        return Ok(None);
    };
    let path = PathBuf::from(if given.is_empty() {
        DEFAULT_CA_BUNDLE
    } else {
        given
    });
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BuildError::CaMissing(path)),
        Err(source) => return Err(BuildError::Image(ImageError::Read { path, source })),
    };
    match etcfiles::pem_certificates(&bytes) {
        0 => Err(BuildError::CaNotPem(path)),
        n => {
            notes.push(format!("{n} CA certificates from {}", path.display()));
            Ok(Some(path))
        }
    }
}

/// The files static programs read themselves; a file the user put in with
/// --file wins.
fn add_etc_files(
    img: &mut Image,
    args: &BuildArgs,
    user: Option<&User>,
    ca: Option<PathBuf>,
) -> Result<(), BuildError> {
    let hostname = args.hostname.as_deref().unwrap_or("nodistro");
    let files = [
        ("etc/passwd", etcfiles::passwd(user)),
        ("etc/group", etcfiles::group(user)),
        ("etc/hosts", nodistro_common::hosts::render(hostname)),
        ("etc/nsswitch.conf", etcfiles::nsswitch()),
        ("etc/os-release", etcfiles::os_release()),
    ];
    for (path, text) in files {
        if !img.contains(path) {
            img.add(
                path,
                Node::File {
                    source: Source::Bytes(text.into_bytes()),
                    mode: 0o644,
                },
            )?;
        }
    }
    if let Some(ca) = ca {
        let dest = etcfiles::CA_BUNDLE.trim_start_matches('/');
        if !img.contains(dest) {
            img.add_file(dest, &ca)?;
        }
    }
    Ok(())
}

/// The compression and its checked level.
fn checked_level(args: &BuildArgs) -> Result<(Compression, i32), BuildError> {
    let kind = args.compression;
    let level = args.level.unwrap_or(kind.default_level());
    let range = kind.level_range();
    if kind != Compression::None && !range.contains(&level) {
        return Err(BuildError::BadLevel {
            level,
            kind,
            min: *range.start(),
            max: *range.end(),
        });
    }
    Ok((kind, level))
}

/// The compressed archive in memory, and how many modules it holds (for
/// the boot image formats, which embed it).
pub fn archive_bytes(args: &BuildArgs) -> Result<(Vec<u8>, usize), BuildError> {
    let (kind, level) = checked_level(args)?;
    let mtime = epoch_from_env()?;
    let (img, modules, notes) = assemble(args)?;
    let write_err = |source| BuildError::Write {
        path: PathBuf::from("(initramfs in memory)"),
        source,
    };
    let enc = Encoder::new(Vec::new(), kind, level).map_err(write_err)?;
    let (enc, _) = img.write(enc, mtime)?;
    let bytes = enc.finish().map_err(write_err)?;
    for n in &notes {
        eprintln!("{TOOL}: {n}");
    }
    Ok((bytes, modules))
}

/// Build and write the archive; the output appears only when complete.
pub fn build(args: &BuildArgs) -> Result<Built, BuildError> {
    let (kind, level) = checked_level(args)?;
    let mtime = epoch_from_env()?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("initramfs.{}", kind.suffix())));
    if std::fs::metadata(&output).is_ok_and(|m| !m.is_file()) {
        return Err(BuildError::NotAFile(output));
    }
    let tmp = crate::tempout::TempOutput::beside(&output);
    let file = File::create(&tmp.path).map_err(|source| BuildError::Create {
        path: output.clone(),
        source,
    })?;
    // The output is opened first: an unwritable -o fails before the work
    // (and before the lines module selection prints).
    let (img, modules, notes) = assemble(args)?;
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    let enc =
        Encoder::new(BufWriter::with_capacity(1 << 20, file), kind, level).map_err(write_err)?;
    let (enc, uncompressed) = img.write(enc, mtime).map_err(|e| match e {
        ImageError::Write(crate::cpio::CpioError::Io(source)) => write_err(source),
        other => BuildError::Image(other),
    })?;
    let mut buf = enc.finish().map_err(write_err)?;
    buf.flush().map_err(write_err)?;
    let file = buf.into_inner().map_err(|e| write_err(e.into_error()))?;
    let compressed = file.metadata().map_err(write_err)?.len();
    drop(file);
    tmp.rename_to(&output).map_err(write_err)?;
    Ok(Built {
        output,
        entries: img.nodes().len(),
        modules,
        uncompressed,
        compressed,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_musl_box_is_looked_for_beside_the_release_dir() {
        let host = Arch::host().name();
        assert_eq!(
            musl_box_dir(Path::new(&format!(
                "/w/target/{host}-unknown-linux-gnu/release"
            ))),
            Some(PathBuf::from(format!(
                "/w/target/{host}-unknown-linux-musl/release"
            )))
        );
        assert_eq!(musl_box_dir(Path::new("/usr/local/bin")), None);
        assert_eq!(musl_box_dir(Path::new("/bin")), None);
    }
}
