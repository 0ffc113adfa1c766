//! Helpers of the unit tests (compiled for `cargo test` only).

/// A temporary directory removed on drop (unit tests).
pub(crate) struct TempTree(pub(crate) std::path::PathBuf);

impl TempTree {
    pub(crate) fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        // Deliberate: unit tests run as threads of one process (one pid),
        // so a counter keeps two trees of the same tag apart.
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        TempTree(p)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
