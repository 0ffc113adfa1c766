//! `nodistro ls`: list an initramfs archive (cpio newc; gzip, zstd or not
//! compressed), one line per entry: mode, size, path (and link target).

use crate::compress::{self, Compression};
use crate::core::cpio::{self, CpioError, ReadEntry};
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
    #[error("cannot write the listing")]
    Output(#[source] io::Error),
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

/// What receives each entry as it is read.
type Visit<'a> = dyn FnMut(ReadEntry) -> Result<(), LsError> + 'a;

/// One cpio archive, up to and including its trailer.
fn read_one(path: &Path, r: &mut dyn BufRead, visit: &mut Visit) -> Result<(), LsError> {
    let mut reader = cpio::Reader::new(r);
    while let Some(e) = reader
        .next_entry()
        .map_err(|e| LsError::Cpio(path.to_path_buf(), e))?
    {
        visit(e)?;
    }
    Ok(())
}

/// Every archive in a decompressed stream, to its end.
fn read_all(path: &Path, r: &mut dyn BufRead, visit: &mut Visit) -> Result<(), LsError> {
    while skip_zeros(r).map_err(|e| LsError::Cpio(path.to_path_buf(), e.into()))? {
        read_one(path, r, visit)?;
    }
    Ok(())
}

/// Every entry of an initramfs read as the kernel reads one: cpio
/// archives one after another, each uncompressed or inside its own gzip
/// member or zstd frame, NUL padding between them (early microcode
/// prepended to a compressed image, for instance), handed to `visit` as it
/// is read (memory stays bounded whatever the archive holds). `path` is
/// for messages.
pub fn visit_from(path: &Path, mut input: impl BufRead, visit: &mut Visit) -> Result<(), LsError> {
    let format = |e| LsError::Format(path.to_path_buf(), e);
    let mut segments = 0;
    while skip_zeros(&mut input).map_err(format)? {
        segments += 1;
        let kind = compress::detect(input.fill_buf().map_err(format)?)
            .map_err(|m| format(io::Error::new(io::ErrorKind::InvalidData, m)))?;
        match kind {
            Compression::None => read_one(path, &mut input, visit)?,
            Compression::Gzip => {
                let member = flate2::bufread::GzDecoder::new(&mut input);
                read_all(path, &mut BufReader::new(member), visit)?;
            }
            Compression::Zstd => {
                let frame = zstd::stream::read::Decoder::with_buffer(&mut input)
                    .map_err(format)?
                    .single_frame();
                read_all(path, &mut BufReader::new(frame), visit)?;
            }
        }
    }
    if segments == 0 {
        return Err(format(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is empty (no cpio archive)",
        )));
    }
    Ok(())
}

/// Every entry, collected (see [`visit_from`]).
pub fn list_from(path: &Path, input: impl BufRead) -> Result<Vec<ReadEntry>, LsError> {
    let mut out = Vec::new();
    visit_from(path, input, &mut |e| {
        out.push(e);
        Ok(())
    })?;
    Ok(out)
}

/// Every entry of the archive at `path`.
pub fn list(path: &PathBuf) -> Result<Vec<ReadEntry>, LsError> {
    let file = File::open(path).map_err(|e| LsError::Open(path.clone(), e))?;
    list_from(path, BufReader::with_capacity(1 << 16, file))
}

/// Print the listing of `input` to `out`; returns the exit code. A reader
/// that went away (`nodistro ls img | head`) is a clean end, as in ripgrep.
pub fn print(path: &Path, input: impl BufRead, out: &mut dyn Write) -> i32 {
    let res = visit_from(path, input, &mut |e| {
        writeln!(out, "{}", format_entry(&e)).map_err(LsError::Output)
    })
    .and_then(|()| out.flush().map_err(LsError::Output));
    match res {
        Ok(()) => 0,
        Err(LsError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => report::fail(TOOL, &e, 1),
    }
}

/// Run the subcommand; returns the exit code.
pub fn main(args: LsArgs) -> i32 {
    match File::open(&args.file) {
        Ok(file) => print(
            &args.file,
            BufReader::with_capacity(1 << 16, file),
            &mut io::BufWriter::new(io::stdout().lock()),
        ),
        Err(e) => report::fail(TOOL, &LsError::Open(args.file.clone(), e), 1),
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

    /// Writes `ok` lines, then fails every write with `kind`.
    struct Closing {
        ok: usize,
        kind: io::ErrorKind,
    }

    impl Write for Closing {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(self.kind.into());
            }
            self.ok -= b.iter().filter(|&&c| c == b'\n').count().min(self.ok);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Issue 15 defect 9: `nodistro ls FILE | head` exited 1 when head
    /// closed the pipe.
    #[test]
    fn broken_pipe_is_a_clean_end_other_write_errors_are_not() {
        let img = archive(&["a", "b", "c"]);
        let p = Path::new("test.img");
        let mut head = Closing {
            ok: 1,
            kind: io::ErrorKind::BrokenPipe,
        };
        assert_eq!(print(p, &img[..], &mut head), 0);
        let mut full = Closing {
            ok: 1,
            kind: io::ErrorKind::StorageFull,
        };
        assert_eq!(print(p, &img[..], &mut full), 1);
        let mut lines = Vec::new();
        assert_eq!(print(p, &img[..], &mut lines), 0);
        assert_eq!(lines.iter().filter(|&&c| c == b'\n').count(), 3);
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
