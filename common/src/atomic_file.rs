//! Replacing a file so readers see the old content or the new, never half:
//! write a temporary file in the same directory, then rename it over.

use std::io;
use std::path::{Path, PathBuf};

/// Write `data` to `path` through `<path>.tmp-<pid>-<thread>` and a rename.
/// The directory must exist; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let tmp = PathBuf::from(tmp);
    let res = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("nodistro-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let p = dir.join("f");
        write_atomic(&p, b"one").expect("first write");
        write_atomic(&p, b"two").expect("second write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
        // A missing directory fails and leaves nothing.
        assert!(write_atomic(&dir.join("no/such"), b"x").is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
