//! Finding the distribution kernel and preparing it for a fast TCG boot.
//!
//! Under QEMU's TCG, decompressing the kernel costs about 4 s of every boot.
//! A Debian `vmlinuz` is a bzImage holding an xz stream (magic
//! `FD 37 7A 58 5A 00`) of the ELF `vmlinux`; QEMU boots that ELF directly
//! through its PVH entry note. [`boot_kernel`] extracts it once into a cache
//! keyed by the vmlinuz's path, size and mtime, and returns it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The xz stream header magic.
const XZ_MAGIC: &[u8] = &[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];
/// An ELF file starts with this.
const ELF_MAGIC: &[u8] = b"\x7fELF";

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("no kernel found as /boot/vmlinuz-*: install one (apt-get install linux-image-amd64) or pass --kernel")]
    NotFound,
    #[error("cannot read the kernel {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("cannot run `xz` to decompress {}: install xz-utils, or pass --raw-kernel", .0.display())]
    XzSpawn(PathBuf, #[source] std::io::Error),
    #[error("`xz -dc` failed on the stream inside {} ({}); pass --raw-kernel to boot it as it is", .0.display(), .1)]
    Xz(PathBuf, String),
    #[error("the xz stream inside {} did not decompress to an ELF vmlinux; pass --raw-kernel", .0.display())]
    NotElf(PathBuf),
    #[error("no aarch64 kernel to boot")]
    Foreign(#[source] Box<crate::debkernel::FetchError>),
    #[error("cannot write the uncompressed kernel cache {}", .0.display())]
    Cache(PathBuf, #[source] std::io::Error),
}

/// Compare two version strings the way `sort -V` roughly does: runs of
/// digits compare as numbers, everything else byte by byte.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, sa), (db, sb)) in ca.iter().zip(cb.iter()) {
        let ord = if *da && *db {
            let (ta, tb) = (sa.trim_start_matches('0'), sb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then(ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// The newest `vmlinuz-*` among `names` (file names in /boot).
pub fn newest_vmlinuz<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .filter(|n| n.starts_with("vmlinuz-"))
        .max_by(|a, b| version_cmp(a, b))
}

/// The newest `/boot/vmlinuz-*` on this machine.
pub fn find_kernel() -> Result<PathBuf, KernelError> {
    let dir = Path::new("/boot");
    let entries = std::fs::read_dir(dir).map_err(|_| KernelError::NotFound)?;
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    newest_vmlinuz(names.iter().map(String::as_str))
        .map(|n| dir.join(n))
        .ok_or(KernelError::NotFound)
}

/// The kernel release (`6.1.0-56-amd64`) from a `vmlinuz-<release>` path.
pub fn release_of(vmlinuz: &Path) -> Option<String> {
    let name = vmlinuz.file_name()?.to_str()?;
    name.strip_prefix("vmlinuz-").map(str::to_string)
}

/// Offset of the first xz stream inside a bzImage.
pub fn find_xz_stream(image: &[u8]) -> Option<usize> {
    image.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC)
}

pub use crate::cache::cache_dir;

/// Cache file name for a vmlinuz: its name, size and mtime, so a kernel
/// upgrade in place gives a new entry.
pub fn cache_key(vmlinuz: &Path, size: u64, mtime_secs: i64) -> String {
    let name = vmlinuz
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernel".into());
    // The whole path matters too: hash it into the name (FNV-1a).
    let mut h: u64 = 0xcbf29ce484222325;
    for b in vmlinuz.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    format!("{name}-{size}-{mtime_secs}-{h:016x}.vmlinux")
}

/// The kernel to hand to QEMU for `vmlinuz`: the cached uncompressed ELF
/// when the file is an xz bzImage (extracting it on first use), otherwise
/// the file itself (already an ELF, or another compression).
pub fn boot_kernel(vmlinuz: &Path) -> Result<PathBuf, KernelError> {
    use std::os::unix::fs::MetadataExt;
    let read = |e| KernelError::Read(vmlinuz.to_path_buf(), e);
    let meta = std::fs::metadata(vmlinuz).map_err(read)?;
    let cached = cache_dir().join(cache_key(vmlinuz, meta.size(), meta.mtime()));
    if cached.is_file() {
        return Ok(cached);
    }
    let image = std::fs::read(vmlinuz).map_err(read)?;
    // An ELF, or an arm64 Image (uncompressed; its bytes may hold the xz
    // magic of its own decompressor): booted as it is.
    if image.starts_with(ELF_MAGIC)
        || crate::core::arch::Arch::of_kernel(&image) == Some(crate::core::arch::Arch::Aarch64)
    {
        return Ok(vmlinuz.to_path_buf());
    }
    let Some(offset) = find_xz_stream(&image) else {
        return Ok(vmlinuz.to_path_buf());
    };
    let elf = xz_decompress(vmlinuz, &image[offset..])?;
    if !elf.starts_with(ELF_MAGIC) {
        return Err(KernelError::NotElf(vmlinuz.to_path_buf()));
    }
    write_atomic(&cached, &elf).map_err(|e| KernelError::Cache(cached.clone(), e))?;
    Ok(cached)
}

/// `xz -dc --single-stream` (ignores the bzImage's trailing bytes).
fn xz_decompress(vmlinuz: &Path, stream: &[u8]) -> Result<Vec<u8>, KernelError> {
    use std::io::Write;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| KernelError::XzSpawn(vmlinuz.to_path_buf(), e))?;
    let mut stdin = child.stdin.take();
    let feed = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.as_mut().map(|i| i.write_all(stream)));
        let out = child.wait_with_output();
        (writer.join(), out)
    });
    match feed {
        (_, Err(e)) => Err(KernelError::XzSpawn(vmlinuz.to_path_buf(), e)),
        (_, Ok(out)) if !out.status.success() => Err(KernelError::Xz(
            vmlinuz.to_path_buf(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
        (_, Ok(out)) => Ok(out.stdout),
    }
}

/// Write through a temporary file and a rename: concurrent boots never see
/// a half-written kernel.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    nodistro_common::atomic_file::write_atomic(path, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_by_version() {
        let names = [
            "config-6.1.0-9-amd64",
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-56-amd64",
            "vmlinuz-5.10.0-30-amd64",
            "System.map-6.1.0-99-amd64",
        ];
        assert_eq!(newest_vmlinuz(names), Some("vmlinuz-6.1.0-56-amd64"));
        assert_eq!(newest_vmlinuz(["initrd.img"]), None);
    }

    #[test]
    fn finds_the_xz_magic() {
        let mut img = vec![0u8; 100];
        img.extend_from_slice(XZ_MAGIC);
        img.extend_from_slice(b"rest");
        assert_eq!(find_xz_stream(&img), Some(100));
        assert_eq!(find_xz_stream(&[0xFD, 0x37, 0x7A]), None);
    }

    #[test]
    fn cache_key_changes_with_size_mtime_and_path() {
        let a = cache_key(Path::new("/boot/vmlinuz-6.1"), 10, 20);
        assert!(a.starts_with("vmlinuz-6.1-10-20-"));
        assert_ne!(a, cache_key(Path::new("/boot/vmlinuz-6.1"), 11, 20));
        assert_ne!(a, cache_key(Path::new("/boot/vmlinuz-6.1"), 10, 21));
        assert_ne!(a, cache_key(Path::new("/other/vmlinuz-6.1"), 10, 20));
    }

    #[test]
    fn release_from_path() {
        assert_eq!(
            release_of(Path::new("/boot/vmlinuz-6.1.0-56-amd64")).as_deref(),
            Some("6.1.0-56-amd64")
        );
    }

    /// Real data: the Debian kernel on this machine decompresses to an ELF.
    #[test]
    fn extracts_the_installed_kernel() {
        let Ok(vmlinuz) = find_kernel() else {
            panic!("no /boot/vmlinuz-*: install linux-image-amd64 (scripts/setup.sh does)");
        };
        let k = boot_kernel(&vmlinuz).expect("extract");
        let head = std::fs::read(&k).expect("read cache");
        assert!(head.starts_with(ELF_MAGIC), "{} is not an ELF", k.display());
        // Second call hits the cache.
        assert_eq!(boot_kernel(&vmlinuz).expect("cached"), k);
    }
}
