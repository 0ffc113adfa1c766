//! `nodistro ls`: list an initramfs archive (cpio newc; gzip, zstd or not
//! compressed), one line per entry: mode, size, path (and link target).

use crate::compress::{self, Compression};
use crate::cpio::{self, CpioError, ReadEntry};
use argh::FromArgs;
use nodistro_common::report;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

const TOOL: &str = "nodistro ls";

/// list an initramfs archive: mode, size, path
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "ls")]
pub struct LsArgs {
    /// the archive (cpio newc, gzip- or zstd-compressed or not)
    #[argh(positional)]
    pub file: PathBuf,
}

/// Why listing failed.
#[derive(Debug, thiserror::Error)]
pub enum LsError {
    #[error("cannot open {}", .0.display())]
    Open(PathBuf, #[source] io::Error),
    #[error("cannot read {}", .0.display())]
    Format(PathBuf, #[source] io::Error),
    #[error("{} is damaged", .0.display())]
    Cpio(PathBuf, #[source] CpioError),
}

/// `ls -l` style type and permission letters.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & cpio::S_IFMT {
        cpio::S_IFDIR => 'd',
        cpio::S_IFLNK => 'l',
        cpio::S_IFCHR => 'c',
        cpio::S_IFBLK => 'b',
        cpio::S_IFIFO => 'p',
        cpio::S_IFSOCK => 's',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        let bit = 1 << (8 - i);
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (special, set, i) {
            (true, true, 8) => 't',
            (true, false, 8) => 'T',
            (true, true, _) => 's',
            (true, false, _) => 'S',
            (false, true, _) => c,
            (false, false, _) => '-',
        });
    }
    s
}

/// One listing line.
pub fn format_entry(e: &ReadEntry) -> String {
    let h = &e.header;
    let size = match h.mode & cpio::S_IFMT {
        cpio::S_IFCHR | cpio::S_IFBLK => format!("{},{}", h.rdevmajor, h.rdevminor),
        _ => h.filesize.to_string(),
    };
    match &e.link {
        Some(t) => format!("{} {:>10} {} -> {}", mode_string(h.mode), size, h.name, t),
        None => format!("{} {:>10} {}", mode_string(h.mode), size, h.name),
    }
}

/// Skip NUL padding; `false` at the end of the input.
fn skip_zeros(r: &mut dyn BufRead) -> io::Result<bool> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let n = buf.iter().take_while(|&&b| b == 0).count();
        let more = n < buf.len();
        r.consume(n);
        if more {
            return Ok(true);
        }
    }
}

/// One cpio archive, up to and including its trailer.
fn read_one(path: &Path, r: &mut dyn BufRead, out: &mut Vec<ReadEntry>) -> Result<(), LsError> {
    let mut reader = cpio::Reader::new(r);
    while let Some(e) = reader
        .next_entry()
        .map_err(|e| LsError::Cpio(path.to_path_buf(), e))?
    {
        out.push(e);
    }
    Ok(())
}

/// Every archive in a decompressed stream, to its end.
fn read_all(path: &Path, r: &mut dyn BufRead, out: &mut Vec<ReadEntry>) -> Result<(), LsError> {
    while skip_zeros(r).map_err(|e| LsError::Cpio(path.to_path_buf(), e.into()))? {
        read_one(path, r, out)?;
    }
    Ok(())
}

/// Every entry of an initramfs read as the kernel reads one: cpio
/// archives one after another, each uncompressed or inside its own gzip
/// member or zstd frame, NUL padding between them (early microcode
/// prepended to a compressed image, for instance). `path` is for messages.
pub fn list_from(path: &Path, mut input: impl BufRead) -> Result<Vec<ReadEntry>, LsError> {
    let format = |e| LsError::Format(path.to_path_buf(), e);
    let mut out = Vec::new();
    let mut segments = 0;
    while skip_zeros(&mut input).map_err(format)? {
        segments += 1;
        let kind = compress::detect(input.fill_buf().map_err(format)?)
            .map_err(|m| format(io::Error::new(io::ErrorKind::InvalidData, m)))?;
        match kind {
            Compression::None => read_one(path, &mut input, &mut out)?,
            Compression::Gzip => {
                let member = flate2::bufread::GzDecoder::new(&mut input);
                read_all(path, &mut BufReader::new(member), &mut out)?;
            }
            Compression::Zstd => {
                let frame = zstd::stream::read::Decoder::with_buffer(&mut input)
                    .map_err(format)?
                    .single_frame();
                read_all(path, &mut BufReader::new(frame), &mut out)?;
            }
        }
    }
    if segments == 0 {
        return Err(format(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is empty (no cpio archive)",
        )));
    }
    Ok(out)
}

/// Every entry of the archive at `path`.
pub fn list(path: &PathBuf) -> Result<Vec<ReadEntry>, LsError> {
    let file = File::open(path).map_err(|e| LsError::Open(path.clone(), e))?;
    list_from(path, BufReader::with_capacity(1 << 16, file))
}

/// Run the subcommand; returns the exit code.
pub fn main(args: LsArgs) -> i32 {
    match list(&args.file) {
        Ok(entries) => {
            let mut out = io::stdout().lock();
            for e in &entries {
                if writeln!(out, "{}", format_entry(e)).is_err() {
                    return 1;
                }
            }
            0
        }
        Err(e) => report::fail(TOOL, &e, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(names: &[&str]) -> Vec<u8> {
        let mut w = cpio::Writer::new(Vec::new());
        for n in names {
            let h = cpio::Header {
                mode: cpio::S_IFREG | 0o644,
                nlink: 1,
                filesize: 3,
                name: n.to_string(),
                ..cpio::Header::default()
            };
            w.entry(&h, &mut &b"abc"[..]).expect("entry");
        }
        w.finish().expect("trailer").0
    }

    fn compressed(kind: Compression, data: &[u8]) -> Vec<u8> {
        let mut e = compress::Encoder::new(Vec::new(), kind, kind.default_level()).expect("enc");
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    fn names(bytes: &[u8]) -> Result<Vec<String>, LsError> {
        let entries = list_from(Path::new("test.img"), bytes)?;
        Ok(entries.into_iter().map(|e| e.header.name).collect())
    }

    #[test]
    fn concatenated_segments_like_the_kernel() {
        // Uncompressed microcode-style archive, padding, a gzip member
        // holding two archives, a zstd frame.
        let mut img = archive(&["kernel/x86/microcode/GenuineIntel.bin"]);
        img.extend([0u8; 512]);
        let mut two = archive(&["a"]);
        two.extend([0u8; 8]);
        two.extend(archive(&["b"]));
        img.extend(compressed(Compression::Gzip, &two));
        img.extend(compressed(Compression::Zstd, &archive(&["c", "d"])));
        assert_eq!(
            names(&img).expect("lists"),
            ["kernel/x86/microcode/GenuineIntel.bin", "a", "b", "c", "d"]
        );
    }

    #[test]
    fn damaged_segments_are_errors() {
        let good = compressed(Compression::Gzip, &archive(&["a"]));
        assert!(matches!(
            names(&good[..good.len() - 9]),
            Err(LsError::Cpio(..))
        ));
        // An archive cut inside a gzip member: the kernel refuses it too.
        let arch = archive(&["a", "b"]);
        let mut split = compressed(Compression::Gzip, &arch[..100]);
        split.extend(compressed(Compression::Gzip, &arch[100..]));
        assert!(names(&split).is_err());
        assert!(matches!(names(b""), Err(LsError::Format(..))));
        assert!(matches!(names(b"\0\0\0\0"), Err(LsError::Format(..))));
        let mut junk = archive(&["a"]);
        junk.extend(b"garbage");
        assert!(matches!(names(&junk), Err(LsError::Format(..))));
    }

    #[test]
    fn modes_like_ls() {
        assert_eq!(mode_string(cpio::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(cpio::S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(cpio::S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(cpio::S_IFCHR | 0o600), "crw-------");
        assert_eq!(mode_string(cpio::S_IFLNK | 0o777), "lrwxrwxrwx");
    }
}
