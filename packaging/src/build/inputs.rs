//! What the flags name, read and checked before the image is assembled:
//! the app, the box and its tools directory, the kernel's architecture,
//! the update key, the CA bundle, SOURCE_DATE_EPOCH.

use super::args::{target_arch, BuildArgs, Format, DEFAULT_CA_BUNDLE};
use super::error::BuildError;
use super::TOOL;
use crate::core::arch::Arch;
use crate::core::elf::{self, AppKind};
use crate::etcfiles;
use crate::image::ImageError;
use nodistro_common::{report, MULTICALL_NAME};
use std::io;
use std::path::{Path, PathBuf};

/// The mtime for every entry: SOURCE_DATE_EPOCH, or 0.
pub fn epoch_from_env() -> Result<u32, BuildError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<u32>().map_err(|_| BuildError::BadEpoch(v)),
        Err(_) => Ok(0),
    }
}

/// Check the app; for a dynamically linked one, what `--allow-dynamic`
/// packs (and without the flag, the refusal saying what it would).
pub fn check_app(
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
    check_app_arch(args, path, &bytes)?;
    let err = match elf::classify(&bytes) {
        AppKind::Static => return Ok(None),
        AppKind::Dynamic { interpreter } => {
            return dynamic_plan(args, path, app_image, &bytes, interpreter)
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

/// An ELF app must be of the image's architecture, and static unless the
/// image is this (x86-64) machine's.
fn check_app_arch(args: &BuildArgs, path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let arch = target_arch(args);
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(());
    }
    let found = Arch::of_elf(bytes).map_or_else(|what| what, |a| a.name().to_string());
    if found != arch.name() {
        return Err(BuildError::WrongArch {
            what: "app",
            path: path.to_path_buf(),
            found,
            arch: arch.name(),
            fix: match arch {
                Arch::X86_64 => "build it for x86_64, or pass --arch aarch64 for an aarch64 app".into(),
                Arch::Aarch64 => "build it with cargo build --target aarch64-unknown-linux-gnu (README, \"arm64\"), or drop --arch aarch64".into(),
            },
        });
    }
    if arch != Arch::X86_64 && matches!(elf::classify(bytes), AppKind::Dynamic { .. }) {
        return Err(BuildError::CrossDynamic {
            path: path.to_path_buf(),
            arch: arch.name(),
        });
    }
    Ok(())
}

/// A dynamically linked app: what `--allow-dynamic` packs, or without
/// the flag the refusal saying what it would.
fn dynamic_plan(
    args: &BuildArgs,
    path: &Path,
    app_image: &str,
    bytes: &[u8],
    interpreter: String,
) -> Result<Option<crate::dynamic::Plan>, BuildError> {
    let path = path.to_path_buf();
    let info = match elf::dyn_info(bytes) {
        elf::ElfCheck::Usable(i) => i,
        elf::ElfCheck::WrongArch(what) | elf::ElfCheck::Bad(what) => {
            return Err(BuildError::AppArch { path, what })
        }
    };
    let plan = crate::dynamic::plan(
        &path,
        app_image,
        info,
        args.gconv,
        Path::new("/etc/ld.so.cache"),
    );
    match (plan, args.allow_dynamic) {
        (Ok(p), true) => Ok(Some(p)),
        (Err(source), true) => Err(BuildError::Libraries {
            path,
            source: Box::new(source),
        }),
        (Ok(p), false) => Err(BuildError::Dynamic {
            path,
            interpreter,
            libraries: p.libraries(),
            bytes: p.bytes(),
        }),
        (Err(source), false) => Err(BuildError::DynamicUnresolved {
            path,
            interpreter,
            source: Box::new(source),
        }),
    }
}

/// The box must be of the image's architecture (checked before it is
/// asked for its tools, which a foreign box cannot answer here).
pub fn check_box_arch(args: &BuildArgs, box_path: &Path) -> Result<(), BuildError> {
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

pub fn tools_dir(args: &BuildArgs) -> PathBuf {
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

/// The `--update-key` PEM, checked to be an ed25519 public key, and the
/// format to be one the update tool can replace.
pub fn update_key(args: &BuildArgs) -> Result<Option<Vec<u8>>, BuildError> {
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

/// The CA bundle's path when `--ca-certs` is given, checked to be PEM.
pub fn ca_bundle(args: &BuildArgs, notes: &mut Vec<String>) -> Result<Option<PathBuf>, BuildError> {
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
