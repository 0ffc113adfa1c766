//! Debian's kernel of another architecture, fetched and cached: `apt-get
//! download` of the package `linux-image-<arch>` currently depends on (no
//! foreign-architecture install), unpacked with `dpkg-deb -x` and indexed
//! with `depmod -b` (the package's postinst would do that) into
//! `~/.cache/nodistro/debian-<arch>/<release>/` (boot/vmlinuz-<release>,
//! lib/modules/<release>/).

use crate::core::arch::{kernel_dependency, Arch};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A kernel unpacked in the cache.
#[derive(Debug, Clone)]
pub struct DebKernel {
    pub release: String,
    pub vmlinuz: PathBuf,
    pub modules_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("apt-cache knows no {0}: dpkg --add-architecture {1} && apt-get update (scripts/setup.sh does it)")]
    Unknown(String, &'static str),
    #[error("{0}'s record names no linux-image-* package to fetch")]
    NoDependency(String),
    #[error("cannot run {0} (install apt, dpkg and kmod)")]
    Spawn(&'static str, #[source] std::io::Error),
    #[error("apt-get download {0} failed: {1}")]
    Download(String, String),
    #[error("cannot unpack {0} with dpkg-deb -x: {1}")]
    Unpack(String, String),
    #[error("depmod -b on {0}'s modules failed: {1}")]
    Depmod(String, String),
    #[error("{0} holds no {1}")]
    NotInPackage(String, String),
    #[error("cannot write the kernel cache {}", .0.display())]
    Cache(PathBuf, #[source] std::io::Error),
}

/// Where `arch`'s kernels are cached.
pub fn cache_root(arch: Arch) -> PathBuf {
    crate::cache::cache_dir().join(format!("debian-{}", arch.debian()))
}

/// The current Debian kernel of `arch`, fetched on first use.
pub fn fetch(arch: Arch) -> Result<DebKernel, FetchError> {
    let meta = format!("{}:{}", arch.kernel_package(), arch.debian());
    let out = run(
        "apt-cache",
        Command::new("apt-cache").args(["show", "--no-all-versions", &meta]),
    )?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(FetchError::Unknown(meta, arch.debian()));
    }
    let show = String::from_utf8_lossy(&out.stdout);
    let pkg = kernel_dependency(&show, "linux-image-").ok_or(FetchError::NoDependency(meta))?;
    let release = pkg.trim_start_matches("linux-image-").to_string();
    let root = cache_root(arch);
    let dir = root.join(&release);
    let found = cached(&dir, &release);
    if found.vmlinuz.is_file() && found.modules_dir.join("modules.dep").is_file() {
        return Ok(found);
    }
    std::fs::create_dir_all(&root).map_err(|e| FetchError::Cache(root.clone(), e))?;
    let tmp = root.join(format!(".{release}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| FetchError::Cache(tmp.clone(), e))?;
    let result = unpack(arch, &pkg, &release, &tmp).and_then(|()| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(tmp.join("root"), &dir).map_err(|e| FetchError::Cache(dir.clone(), e))
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| cached(&dir, &release))
}

fn cached(dir: &Path, release: &str) -> DebKernel {
    DebKernel {
        release: release.to_string(),
        vmlinuz: dir.join(format!("boot/vmlinuz-{release}")),
        modules_dir: dir.join(format!("lib/modules/{release}")),
    }
}

/// A file of Debian's package `pkg` for `arch` (systemd's aarch64 EFI
/// stub from `systemd-boot-efi:arm64`): downloaded and unpacked into the
/// cache on first use, `cache_root(arch)/pkg/` holding the package's tree.
pub fn package_file(arch: Arch, pkg: &str, path: &str) -> Result<PathBuf, FetchError> {
    package_file_of(arch, pkg, &format!("{pkg}:{}", arch.debian()), path)
}

/// [`package_file`] of the package apt knows as `qualified` (the bare
/// name of an Architecture: all package, raspi-firmware), cached in
/// `cache_root(arch)/pkg/`.
pub fn package_file_of(
    arch: Arch,
    pkg: &str,
    qualified: &str,
    path: &str,
) -> Result<PathBuf, FetchError> {
    let root = cache_root(arch);
    let dir = root.join(pkg);
    let file = dir.join(path.trim_start_matches('/'));
    if file.is_file() {
        return Ok(file);
    }
    std::fs::create_dir_all(&root).map_err(|e| FetchError::Cache(root.clone(), e))?;
    let tmp = root.join(format!(".{pkg}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| FetchError::Cache(tmp.clone(), e))?;
    let result = download_unpack(qualified, &tmp).and_then(|()| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(tmp.join("root"), &dir).map_err(|e| FetchError::Cache(dir.clone(), e))
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    if file.is_file() {
        Ok(file)
    } else {
        Err(FetchError::NotInPackage(
            qualified.to_string(),
            path.to_string(),
        ))
    }
}

/// Download `pkg` into `tmp`, unpack it to `tmp/root` and run depmod there.
fn unpack(arch: Arch, pkg: &str, release: &str, tmp: &Path) -> Result<(), FetchError> {
    let qualified = format!("{pkg}:{}", arch.debian());
    download_unpack(&qualified, tmp)?;
    let root = tmp.join("root");
    let out = run(
        "depmod",
        Command::new("depmod").arg("-b").arg(&root).arg(release),
    )?;
    if !out.status.success() {
        return Err(FetchError::Depmod(qualified, last_line(&out.stderr)));
    }
    Ok(())
}

/// `apt-get download QUALIFIED` into `tmp`, `dpkg-deb -x` to `tmp/root`.
fn download_unpack(qualified: &str, tmp: &Path) -> Result<(), FetchError> {
    let qualified = qualified.to_string();
    eprintln!("nodistro: fetching {qualified} (apt-get download) into the cache");
    let out = run(
        "apt-get",
        Command::new("apt-get")
            .args(["download", "-q", &qualified])
            .current_dir(tmp),
    )?;
    if !out.status.success() {
        return Err(FetchError::Download(qualified, last_line(&out.stderr)));
    }
    let deb = std::fs::read_dir(tmp)
        .map_err(|e| FetchError::Cache(tmp.to_path_buf(), e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| FetchError::Download(qualified.clone(), "no .deb written".into()))?;
    let root = tmp.join("root");
    let out = run(
        "dpkg-deb",
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
    )?;
    if !out.status.success() {
        return Err(FetchError::Unpack(qualified, last_line(&out.stderr)));
    }
    let _ = std::fs::remove_file(&deb);
    Ok(())
}

fn run(name: &'static str, cmd: &mut Command) -> Result<std::process::Output, FetchError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| FetchError::Spawn(name, e))
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("W: Download is performed unsandboxed"))
        .unwrap_or("no message")
        .trim()
        .to_string()
}
