//! A layer blob (tar, tar+gzip or tar+zstd, told by its first bytes) as
//! [`LayerEntry`]s, read from memory (sans-IO: no files, no clock).

use super::layers::{Item, LayerEntry};
use std::borrow::Cow;
use std::io::{self, Read};

/// A layer's uncompressed size at most (what an initramfs entry can hold
/// in all, and far beyond any image nodistro boots).
pub const MAX_LAYER_BYTES: u64 = 4 << 30;

/// Why a layer blob cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("layer {layer}: not a tar stream (plain, gzip or zstd)")]
    Read {
        layer: usize,
        #[source]
        source: io::Error,
    },
    #[error("layer {layer}: entry name {name:?} is not UTF-8")]
    NotUtf8 { layer: usize, name: String },
    #[error(
        "layer {layer}: uncompressed it is over the {MAX_LAYER_BYTES} bytes an image can hold"
    )]
    TooLarge { layer: usize },
}

/// Compression of a blob, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Tar,
    Gzip,
    Zstd,
}

pub fn packing(blob: &[u8]) -> Packing {
    if blob.starts_with(&[0x1f, 0x8b]) {
        Packing::Gzip
    } else if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Packing::Zstd
    } else {
        Packing::Tar
    }
}

/// The uncompressed tar stream of a blob (the blob itself when it is
/// plain tar).
pub fn tar_bytes(layer: usize, blob: &[u8]) -> Result<Cow<'_, [u8]>, TarError> {
    tar_bytes_within(layer, blob, MAX_LAYER_BYTES)
}

/// [`tar_bytes`] with another bound (the fuzz harness keeps it small).
pub fn tar_bytes_within(layer: usize, blob: &[u8], max: u64) -> Result<Cow<'_, [u8]>, TarError> {
    let read_err = |source| TarError::Read { layer, source };
    let mut out = Vec::new();
    let limit = max + 1;
    match packing(blob) {
        Packing::Tar => return Ok(Cow::Borrowed(blob)),
        Packing::Gzip => {
            flate2::read::MultiGzDecoder::new(blob)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(read_err)?;
        }
        Packing::Zstd => {
            zstd::stream::read::Decoder::new(blob)
                .map_err(read_err)?
                .take(limit)
                .read_to_end(&mut out)
                .map_err(read_err)?;
        }
    }
    if out.len() as u64 > max {
        return Err(TarError::TooLarge { layer });
    }
    Ok(Cow::Owned(out))
}

/// Every entry of the tar stream `tar`, in order.
pub fn entries(layer: usize, tar: &[u8]) -> Result<Vec<LayerEntry>, TarError> {
    let read_err = |source| TarError::Read { layer, source };
    let utf8 = |b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| TarError::NotUtf8 {
            layer,
            name: String::from_utf8_lossy(b).into_owned(),
        })
    };
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let path = utf8(&entry.path_bytes())?;
        let mode = entry.header().mode().map_err(read_err)?;
        let id = |v: io::Result<u64>| v.ok().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        let owner = (id(entry.header().uid()), id(entry.header().gid()));
        let link = || entry.link_name_bytes().map(|b| b.into_owned());
        let kind = entry.header().entry_type();
        let item = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(read_err)?;
                Item::File { data, mode }
            }
            tar::EntryType::Directory => Item::Dir { mode },
            tar::EntryType::Symlink => Item::Symlink {
                target: utf8(&link().unwrap_or_default())?,
            },
            tar::EntryType::Link => Item::Hardlink {
                target: utf8(&link().unwrap_or_default())?,
            },
            tar::EntryType::Char => Item::Special {
                what: "character device",
            },
            tar::EntryType::Block => Item::Special {
                what: "block device",
            },
            tar::EntryType::Fifo => Item::Special { what: "FIFO" },
            // PAX and GNU long-name records are folded into the next
            // entry by the reader; anything else carries no file.
            _ => continue,
        };
        out.push(LayerEntry { path, item, owner });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().expect("tar")
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h
    }

    #[test]
    fn reads_files_dirs_links_and_long_names() {
        let long = format!("d/{}", "x".repeat(150));
        let t = tar_of(|b| {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut h, "d/", &[][..]).expect("dir");
            let mut h = header(tar::EntryType::Regular, 0o4755, 2);
            b.append_data(&mut h, &long, &b"hi"[..]).expect("file");
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, "d/l", "../etc").expect("link");
            let mut h = header(tar::EntryType::Char, 0o600, 0);
            b.append_data(&mut h, "dev/null", &[][..]).expect("dev");
        });
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&t).expect("gz");
            e.finish().expect("gz")
        };
        assert_eq!(packing(&gz), Packing::Gzip);
        let e = entries(1, &tar_bytes(1, &gz).expect("gunzip")).expect("entries");
        assert_eq!(e.len(), 4);
        assert_eq!(e[1].path, long);
        assert_eq!(
            e[1].item,
            Item::File {
                data: b"hi".to_vec(),
                mode: 0o4755
            }
        );
        assert_eq!(
            e[2].item,
            Item::Symlink {
                target: "../etc".into()
            }
        );
        assert!(matches!(e[3].item, Item::Special { .. }));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(tar_bytes(2, b"\x1f\x8bnot really gzip").is_err());
        let mut bad = vec![b'a'; 512];
        bad[100..108].copy_from_slice(b"zzzzzzzz");
        assert!(entries(2, &bad).is_err());
    }
}
