//! `ls`, `cat`, `hexdump`: the files' IO (the text from core::files).

use super::Console;
use std::io::Read;

impl Console {
    pub(super) fn ls(&self, dir: &str) {
        let rd = match std::fs::read_dir(dir) {
            Ok(d) => d,
            Err(e) => {
                let mut t = format!("error: {dir}: {e}\n");
                if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
                    t = format!("{dir} is not a directory (try cat or hexdump)\n");
                }
                self.out(&t);
                return;
            }
        };
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let mut entries = Vec::new();
        let mut more = 0usize;
        for e in rd.flatten() {
            if entries.len() >= 2000 {
                more += 1;
                continue;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else if ft.is_char_device() {
                'c'
            } else if ft.is_block_device() {
                'b'
            } else if ft.is_fifo() {
                'p'
            } else if ft.is_socket() {
                's'
            } else {
                '-'
            };
            entries.push(crate::core::files::Entry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind,
                mode: m.permissions().mode() & 0o777,
                size: m.len(),
                target: ft
                    .is_symlink()
                    .then(|| std::fs::read_link(e.path()).ok())
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned()),
            });
        }
        let mut t = crate::core::files::ls(&mut entries);
        if more > 0 {
            t += &format!("... and {more} more entries\n");
        }
        self.out(&t);
    }

    fn open_file(&self, path: &str) -> Option<std::fs::File> {
        match std::fs::File::open(path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                self.out(&format!("{path} is a directory (try ls)\n"));
                None
            }
            Ok(f) => Some(f),
            Err(e) => {
                self.out(&format!("error: {path}: {e}\n"));
                None
            }
        }
    }

    pub(super) fn cat(&self, path: &str) {
        let Some(f) = self.open_file(path) else {
            return;
        };
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Vec::new();
        if let Err(e) = f
            .take(crate::core::files::CAT_MAX as u64 + 1)
            .read_to_end(&mut bytes)
        {
            self.out(&format!("error: {path}: {e}\n"));
            return;
        }
        self.out(&crate::core::files::cat(path, &bytes, size));
    }

    pub(super) fn hexdump(&self, path: &str, offset: u64, len: u64) {
        let Some(mut f) = self.open_file(path) else {
            return;
        };
        use std::io::{Seek, SeekFrom};
        if f.seek(SeekFrom::Start(offset)).is_err() {
            // /proc and /sys files may not seek: skip by reading.
            let mut skip = (&mut f).take(offset.min(1 << 20));
            let _ = std::io::copy(&mut skip, &mut std::io::sink());
        }
        let mut bytes = Vec::new();
        let _ = f.take(len).read_to_end(&mut bytes);
        self.out(&crate::core::files::hexdump(&bytes, offset));
    }
}
