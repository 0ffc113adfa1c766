//! Userspace decompression of `.ko.gz`, `.ko.xz` and `.ko.zst` modules, for
//! kernels that cannot decompress them (no `MODULE_INIT_COMPRESSED_FILE`,
//! before Linux 6.4 or without CONFIG_MODULE_DECOMPRESS). Sans-IO: bytes in,
//! bytes out, with a bound on the output so a corrupt or hostile file cannot
//! exhaust memory. Pure Rust decoders: flate2 (zlib-rs), lzma-rs, ruzstd.
//!
//! The decoders cost about 100 KB of code, so they are linked only into the
//! binaries that turn them on with [`enable`]: the standalone `modload` and
//! the packager (which stores the modules of an image uncompressed; the
//! initramfs is compressed as a whole). nodistro-box never calls [`enable`],
//! so link-time optimisation leaves [`decode`] and the three decoders out;
//! there [`decompress`] says that the box has no decoder.

use std::io::{self, Read, Write};
use std::sync::OnceLock;

/// A module decoder: [`decode`], once [`enable`]d.
type Decoder = fn(Compression, &[u8], usize) -> Result<Vec<u8>, DecompressError>;

/// The decoder [`decompress`] uses; unset in nodistro-box.
// Global on purpose: `enable()` is a link-time switch (a binary that never
// calls it links no decoder), not state a caller could pass.
static DECODER: OnceLock<Decoder> = OnceLock::new();

/// Link the userspace decoders into this binary and use them (idempotent).
pub fn enable() {
    let _ = DECODER.set(decode);
}

/// Decompress with the decoders if this binary [`enable`]d them.
pub fn decompress(
    comp: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    dispatch(DECODER.get(), comp, input, limit)
}

fn dispatch(
    decoder: Option<&Decoder>,
    comp: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    match decoder {
        Some(decode) => decode(comp, input, limit),
        None => Err(DecompressError::NotLinked { algo: comp.name() }),
    }
}

/// Largest decompressed module accepted (the biggest Debian module,
/// amdgpu, is about 20 MiB uncompressed).
pub const MAX_MODULE_SIZE: usize = 64 << 20;

/// How a module file is compressed, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    /// `.gz`, `.xz`, `.zst`; `None` for anything else (a plain `.ko`).
    pub fn of(path: &str) -> Option<Self> {
        if path.ends_with(".gz") {
            Some(Compression::Gzip)
        } else if path.ends_with(".xz") {
            Some(Compression::Xz)
        } else if path.ends_with(".zst") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// Why compressed data did not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("the {algo} data ends early (truncated file?)")]
    Truncated { algo: &'static str },
    #[error("corrupt {algo} data (damaged file?)")]
    Corrupt {
        algo: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{algo} checksum mismatch: the data is corrupt (damaged file?)")]
    Checksum { algo: &'static str },
    #[error("it decompresses to more than {} MiB, the most modload accepts (corrupt or hostile file?)", .limit >> 20)]
    TooLarge { limit: usize },
    #[error("this nodistro-box has no {algo} decoder (images from nodistro build hold modules uncompressed: rebuild the image, or run the standalone modload)")]
    NotLinked { algo: &'static str },
}

/// A writer that refuses to grow past `limit` bytes.
struct Bounded {
    out: Vec<u8>,
    limit: usize,
    over: bool,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > self.limit {
            self.over = true;
            return Err(io::Error::other("decompressed size limit reached"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Read all of `r` into memory, at most `limit` bytes.
fn read_bounded(
    algo: &'static str,
    mut r: impl Read,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    (&mut r)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| decode_error(algo, e))?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

/// Whether an error (or one it wraps, ruzstd puts its own errors inside
/// io::Error) is an input that ended early.
fn ends_early(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::UnexpectedEof {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                if ends_early(inner) {
                    return true;
                }
            }
        }
        cur = err.source();
    }
    false
}

/// A decoder's error: the input ended early, or it is corrupt.
fn decode_error(
    algo: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> DecompressError {
    if ends_early(&e) {
        DecompressError::Truncated { algo }
    } else {
        DecompressError::Corrupt {
            algo,
            source: Box::new(e),
        }
    }
}

/// Decompress a whole module file held in memory; the output is at most
/// `limit` bytes.
pub fn decode(comp: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let algo = comp.name();
    match comp {
        Compression::Gzip => {
            let out = read_bounded(algo, flate2::read::GzDecoder::new(input), limit)?;
            // GzDecoder stops at the end of the deflate stream; the trailer
            // (CRC32 + size) is checked there, but an empty input reads as
            // nothing at all.
            if out.is_empty() && input.len() < 18 {
                return Err(DecompressError::Truncated { algo });
            }
            Ok(out)
        }
        Compression::Xz => {
            let mut w = Bounded {
                out: Vec::new(),
                limit,
                over: false,
            };
            let mut r = io::BufReader::new(input);
            match lzma_rs::xz_decompress(&mut r, &mut w) {
                Ok(()) => Ok(w.out),
                Err(_) if w.over => Err(DecompressError::TooLarge { limit }),
                Err(lzma_rs::error::Error::IoError(e)) => Err(decode_error(algo, e)),
                Err(lzma_rs::error::Error::XzError(m)) if m.contains("CRC") => {
                    Err(DecompressError::Checksum { algo })
                }
                Err(e) => Err(DecompressError::Corrupt {
                    algo,
                    source: Box::new(e),
                }),
            }
        }
        Compression::Zstd => {
            // The window is a buffer ruzstd allocates: bounded too.
            let window = u64::try_from(limit.max(MAX_MODULE_SIZE)).unwrap_or(u64::MAX);
            let mut dec =
                ruzstd::decoding::StreamingDecoder::new_with_max_window_size(input, window)
                    .map_err(|e| decode_error(algo, e))?;
            let out = read_bounded(algo, &mut dec, limit)?;
            let frame = dec.into_frame_decoder();
            if !frame.is_finished() {
                return Err(DecompressError::Truncated { algo });
            }
            if let (Some(want), Some(got)) = (
                frame.get_checksum_from_data(),
                frame.get_calculated_checksum(),
            ) {
                if want != got {
                    return Err(DecompressError::Checksum { algo });
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_from_the_file_name() {
        assert_eq!(Compression::of("a/virtio_net.ko.xz"), Some(Compression::Xz));
        assert_eq!(Compression::of("a/b.ko.zst"), Some(Compression::Zstd));
        assert_eq!(Compression::of("a/b.ko.gz"), Some(Compression::Gzip));
        assert_eq!(Compression::of("a/b.ko"), None);
    }

    #[test]
    fn without_the_decoders_a_compressed_module_is_refused_with_the_reason() {
        let e = dispatch(None, Compression::Xz, b"\xfd7zXZ\0", 1 << 20).expect_err("no decoder");
        assert!(matches!(e, DecompressError::NotLinked { algo: "xz" }));
        assert!(e.to_string().contains("no xz decoder"), "{e}");
        let d: Decoder = decode;
        let e = dispatch(Some(&d), Compression::Xz, b"\xfd7zXZ\0", 1 << 20).expect_err("cut");
        assert!(
            matches!(
                e,
                DecompressError::Truncated { .. } | DecompressError::Corrupt { .. }
            ),
            "{e}"
        );
    }
}
