//! An output file that appears only complete: written under a temporary
//! name beside it, renamed into place at the end, removed if the build
//! fails before that.

use std::path::{Path, PathBuf};

/// `.<output name>.<what>-<pid>` in the output's directory (the same file
/// system, so the final rename is atomic).
pub fn temp_beside(output: &Path, what: &str) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    dir.join(format!(".{name}.{what}-{}", std::process::id()))
}

/// The temporary file of `output`; removed on drop unless
/// [`TempOutput::rename_to`] put it in place.
pub struct TempOutput {
    pub path: PathBuf,
    keep: bool,
}

impl TempOutput {
    /// The temporary name for `output` (nothing is created yet).
    pub fn beside(output: &Path) -> TempOutput {
        TempOutput {
            path: temp_beside(output, "tmp"),
            keep: false,
        }
    }

    /// Rename the finished file to `output`.
    pub fn rename_to(mut self, output: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, output)?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_name_is_hidden_beside_the_output() {
        let pid = std::process::id();
        assert_eq!(
            temp_beside(Path::new("out/disk.img"), "tmp"),
            PathBuf::from(format!("out/.disk.img.tmp-{pid}"))
        );
        assert_eq!(
            temp_beside(Path::new("a.iso"), "staging"),
            PathBuf::from(format!("./.a.iso.staging-{pid}"))
        );
    }

    #[test]
    fn removed_unless_renamed() {
        let dir = std::env::temp_dir().join(format!("nodistro-tempout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let out = dir.join("x.img");
        let t = TempOutput::beside(&out);
        std::fs::write(&t.path, b"x").expect("write");
        let p = t.path.clone();
        drop(t);
        assert!(!p.exists());
        let t = TempOutput::beside(&out);
        std::fs::write(&t.path, b"y").expect("write");
        t.rename_to(&out).expect("rename");
        assert_eq!(std::fs::read(&out).expect("read"), b"y");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
