//! The packager's cache directory: unpacked kernels, Debian's kernels and
//! firmware of other architectures, the demo's initramfs.

use std::path::PathBuf;

/// Where the packager caches what it unpacks or fetches: `$XDG_CACHE_HOME/nodistro`,
/// `$HOME/.cache/nodistro`, or the temporary directory.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = env("XDG_CACHE_HOME") {
        PathBuf::from(x).join("nodistro")
    } else if let Some(h) = env("HOME") {
        PathBuf::from(h).join(".cache/nodistro")
    } else {
        std::env::temp_dir().join("nodistro-cache")
    }
}
