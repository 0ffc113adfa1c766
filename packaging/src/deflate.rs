//! Raw deflate of one block with zlib's classic match finder.
//!
//! flate2's backend, zlib-rs, follows zlib-ng: at levels 4-8 it hashes 4
//! bytes (and level 6 uses the "medium" strategy), so it misses the 3-byte
//! matches that kernel modules are full of, and its level 6 output is
//! ~1.6 % larger than GNU gzip -6 on the Debian module tree. zlib-rs's
//! level 9 uses the classic 3-byte rolling hash with lazy matching; tuned
//! down to zlib's own parameters for the requested level (zlib's
//! `deflateTune`), it gives gzip's ratio at zlib-rs's speed: on 100 MB of
//! modules, 26,535,550 B in 3.2 s against gzip -6's 26,555,700 B in 4.0 s
//! (zlib-rs level 6: 26,948,523 B); with memLevel 6 (smaller deflate
//! blocks), 26,383,682 B.
//!
//! `deflateTune` is not in zlib-rs's stable API, only in the one its own C
//! API crate (libz-rs-sys) uses, behind the `__internal-api` feature: the
//! workspace pins the exact zlib-rs version for that reason. The one
//! `unsafe` call turns the initialised `z_stream` into zlib-rs's stream
//! type, as libz-rs-sys does.
#![allow(unsafe_code)]

use std::io;
use zlib_rs::c_api::z_stream;
use zlib_rs::deflate::{self, DeflateConfig, DeflateStream, Method, Strategy};
use zlib_rs::{DeflateFlush, ReturnCode};

/// zlib 1.3's configuration table (good, lazy, nice, chain) for the lazy
/// levels 4 to 8 (level 9 is the same in zlib-rs and zlib).
const CLASSIC: [(usize, usize, usize, usize); 5] = [
    (4, 4, 16, 16),
    (8, 16, 32, 32),
    (8, 16, 128, 128),
    (8, 32, 128, 256),
    (32, 128, 258, 1024),
];

/// An initialised deflate stream, ended on drop. Boxed so that it never
/// moves after `init`.
struct Stream(Box<z_stream>);

fn err(what: &str, rc: ReturnCode) -> io::Error {
    io::Error::other(format!("deflate {what} failed ({rc:?})"))
}

impl Stream {
    fn new(level: u32) -> io::Result<Self> {
        let level = level.min(9) as usize;
        let classic = level.checked_sub(4).and_then(|i| CLASSIC.get(i)).copied();
        let config = DeflateConfig {
            level: if classic.is_some() { 9 } else { level as i32 },
            method: Method::Deflated,
            window_bits: -15, // raw deflate: the gzip framing is ours
            // 4K symbols per deflate block instead of 16K: Huffman tables
            // follow the mix of code, relocations and strings in .ko files
            // more closely (-0.8 % on the module tree, same speed).
            mem_level: 6,
            strategy: Strategy::Default,
        };
        let mut s = Stream(Box::default());
        let rc = deflate::init(&mut s.0, config);
        if rc != ReturnCode::Ok {
            // Drop sees no state and ends nothing.
            return Err(err("init", rc));
        }
        if let Some((good, lazy, nice, chain)) = classic {
            let rc = deflate::tune(s.get()?, good, lazy, nice, chain);
            if rc != ReturnCode::Ok {
                return Err(err("tune", rc));
            }
        }
        Ok(s)
    }

    fn get(&mut self) -> io::Result<&mut DeflateStream<'static>> {
        // SAFETY: `self.0` is a boxed z_stream that `deflate::init`
        // initialised (Stream::new returns only then) and that only Drop
        // ends; the pointer comes from a unique borrow of it, so the
        // returned reference is the only access while it lives. Its
        // next_in/next_out pointers are set by `deflate_block` to buffers
        // that outlive every `deflate` call made through this reference.
        unsafe { DeflateStream::from_stream_mut(&mut *self.0) }
            .ok_or_else(|| io::Error::other("deflate stream is not initialised"))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Ok(s) = self.get() {
            let _ = deflate::end(s);
        }
    }
}

/// Raw-deflate `data` at `level` (0-9), primed with `dict` (the previous
/// block's last 32 KiB), ended with a sync flush, or with the final block
/// when `last`.
pub fn deflate_block(level: u32, dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut s = Stream::new(level)?;
    if !dict.is_empty() {
        let rc = deflate::set_dictionary(s.get()?, dict);
        if rc != ReturnCode::Ok {
            return Err(err("set_dictionary", rc));
        }
    }
    let flush = if last {
        DeflateFlush::Finish
    } else {
        DeflateFlush::SyncFlush
    };
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    let in_len = u32::try_from(data.len()).map_err(|_| io::Error::other("block too large"))?;
    s.0.next_in = data.as_ptr();
    s.0.avail_in = in_len;
    let mut written = 0usize;
    loop {
        let room = out.len() - written;
        s.0.next_out = out[written..].as_mut_ptr();
        s.0.avail_out = u32::try_from(room).map_err(|_| io::Error::other("block too large"))?;
        let rc = deflate::deflate(s.get()?, flush);
        written += room - s.0.avail_out as usize;
        match rc {
            ReturnCode::StreamEnd => break,
            ReturnCode::Ok | ReturnCode::BufError
                if !last && s.0.avail_in == 0 && s.0.avail_out > 0 =>
            {
                break
            }
            ReturnCode::Ok | ReturnCode::BufError if s.0.avail_out == 0 => {
                out.resize(out.len() * 2, 0);
            }
            other => return Err(err("deflate", other)),
        }
    }
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate_raw(parts: &[&[u8]]) -> Vec<u8> {
        let joined = parts.concat();
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&joined[..])
            .read_to_end(&mut out)
            .expect("valid deflate");
        out
    }

    #[test]
    fn blocks_chain_into_one_stream_at_every_level() {
        let data: Vec<u8> = (0..40_000u32)
            .flat_map(|i| format!("{} {}\n", i % 977, i * 31 % 13).into_bytes())
            .collect();
        let (a, b) = data.split_at(data.len() / 2);
        for level in 0..=9 {
            let first = deflate_block(level, &[], a, false).expect("first");
            let dict = &a[a.len() - 32 * 1024..];
            let second = deflate_block(level, dict, b, true).expect("second");
            assert!(inflate_raw(&[&first, &second]) == data, "level {level}");
        }
        let empty = deflate_block(6, b"abc", b"", true).expect("empty last block");
        assert!(inflate_raw(&[&empty]).is_empty());
    }

    #[test]
    fn classic_level_6_beats_zlib_rs_level_6_on_binary_data() {
        // A real kernel module: relocations and symbol tables.
        let dir = std::path::Path::new("/lib/modules");
        let ko = std::fs::read_dir(dir)
            .ok()
            .and_then(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).max())
            .map(|k| k.join("kernel/fs/ext4/ext4.ko"))
            .and_then(|p| std::fs::read(p).ok())
            .unwrap_or_else(|| panic!("no kernel modules: install linux-image-amd64"));
        let ours = deflate_block(6, &[], &ko, true).expect("deflate").len();
        let mut c = flate2::Compress::new(flate2::Compression::new(6), false);
        let mut theirs = Vec::with_capacity(ko.len() + 1024);
        c.compress_vec(&ko, &mut theirs, flate2::FlushCompress::Finish)
            .expect("flate2");
        assert!(ours < theirs.len(), "{ours} vs {}", theirs.len());
    }
}
