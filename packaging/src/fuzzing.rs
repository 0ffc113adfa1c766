//! Fuzz harness: an initramfs image as `nodistro ls` reads it (cpio newc
//! archives, each plain or in a gzip member or zstd frame). The cargo-fuzz
//! target (packaging/fuzz) calls this; a stable test runs it over the kept
//! corpus.

use crate::cpio::{self, Reader};
use std::path::Path;

/// Read every entry of `data` as a bare cpio stream and as an image; no
/// panic, names and link targets within PATH_MAX.
#[doc(hidden)]
pub fn cpio(data: &[u8]) {
    let mut r = Reader::new(data);
    while let Ok(Some(e)) = r.next_entry() {
        assert!(e.header.name.len() < cpio::PATH_MAX);
        assert!(e.link.as_ref().is_none_or(|l| l.len() <= cpio::PATH_MAX));
    }
    let _ = crate::ls::visit_from(Path::new("fuzz.img"), data, &mut |e| {
        let _ = crate::ls::format_entry(&e);
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use crate::cpio::{Header, Writer, S_IFLNK, S_IFREG};

    #[test]
    fn cpio_corpus() {
        let mut w = Writer::new(Vec::new());
        let file = Header {
            mode: S_IFREG | 0o644,
            nlink: 1,
            filesize: 3,
            name: "etc/x".into(),
            ..Header::default()
        };
        w.entry(&file, &mut &b"abc"[..]).expect("entry");
        let link = Header {
            mode: S_IFLNK | 0o777,
            filesize: 1,
            name: "l".into(),
            ..file
        };
        w.entry(&link, &mut &b"x"[..]).expect("link");
        let (archive, _) = w.finish().expect("trailer");
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "cpio", &[&archive]) {
            super::cpio(&i);
        }
    }
}
