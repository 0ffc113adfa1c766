//! `nodistro ls`: list an initramfs archive (cpio newc; gzip, zstd or not
//! compressed), one line per entry: mode, size, path (and link target).

use crate::compress;
use crate::cpio::{self, CpioError, ReadEntry};
use argh::FromArgs;
use nodistro_common::report;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

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

/// Every entry of the archive at `path`.
pub fn list(path: &PathBuf) -> Result<Vec<ReadEntry>, LsError> {
    let file = File::open(path).map_err(|e| LsError::Open(path.clone(), e))?;
    let input = compress::decoder(BufReader::with_capacity(1 << 16, file))
        .map_err(|e| LsError::Format(path.clone(), e))?;
    let mut r = cpio::Reader::new(input);
    let mut out = Vec::new();
    while let Some(e) = r.next_entry().map_err(|e| LsError::Cpio(path.clone(), e))? {
        out.push(e);
    }
    Ok(out)
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

    #[test]
    fn modes_like_ls() {
        assert_eq!(mode_string(cpio::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(cpio::S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(cpio::S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(cpio::S_IFCHR | 0o600), "crw-------");
        assert_eq!(mode_string(cpio::S_IFLNK | 0o777), "lrwxrwxrwx");
    }
}
