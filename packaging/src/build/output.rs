//! Writing the initramfs: the compressed archive to a file (the output
//! appears only complete) or into memory for the boot image formats.

use super::args::BuildArgs;
use super::assemble::assemble;
use super::error::BuildError;
use super::inputs::epoch_from_env;
use super::TOOL;
use crate::compress::{Compression, Encoder};
use crate::image::ImageError;
use nodistro_common::report;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// What a finished build produced.
#[derive(Debug)]
pub struct Built {
    pub output: PathBuf,
    pub entries: usize,
    pub modules: usize,
    pub uncompressed: u64,
    pub compressed: u64,
    /// What the user should know (kernel chosen, drivers skipped).
    pub notes: Vec<String>,
}

/// Build the initramfs (`--format initramfs`); returns the exit code.
pub fn main_initramfs(args: &BuildArgs, start: std::time::Instant) -> i32 {
    match build(args) {
        Ok(b) => {
            for n in &b.notes {
                eprintln!("{TOOL}: {n}");
            }
            eprintln!(
                "{TOOL}: wrote {} ({} entries, {} modules, {} bytes of cpio, {} bytes written) in {:.2} s",
                b.output.display(),
                b.entries,
                b.modules,
                b.uncompressed,
                b.compressed,
                start.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => report::fail(TOOL, &e, 1),
    }
}

/// The compression and its checked level.
fn checked_level(args: &BuildArgs) -> Result<(Compression, i32), BuildError> {
    let kind = args.compression;
    let level = args.level.unwrap_or(kind.default_level());
    let range = kind.level_range();
    if kind != Compression::None && !range.contains(&level) {
        return Err(BuildError::BadLevel {
            level,
            kind,
            min: *range.start(),
            max: *range.end(),
        });
    }
    Ok((kind, level))
}

/// The compressed archive in memory, and how many modules it holds (for
/// the boot image formats, which embed it).
pub fn archive_bytes(args: &BuildArgs) -> Result<(Vec<u8>, usize), BuildError> {
    let (kind, level) = checked_level(args)?;
    let mtime = epoch_from_env()?;
    let (img, modules, notes) = assemble(args)?;
    let write_err = |source| BuildError::Write {
        path: PathBuf::from("(initramfs in memory)"),
        source,
    };
    let enc = Encoder::new(Vec::new(), kind, level).map_err(write_err)?;
    let (enc, _) = img.write(enc, mtime)?;
    let bytes = enc.finish().map_err(write_err)?;
    for n in &notes {
        eprintln!("{TOOL}: {n}");
    }
    Ok((bytes, modules))
}

/// Build and write the archive; the output appears only when complete.
pub fn build(args: &BuildArgs) -> Result<Built, BuildError> {
    let (kind, level) = checked_level(args)?;
    let mtime = epoch_from_env()?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("initramfs.{}", kind.suffix())));
    if std::fs::metadata(&output).is_ok_and(|m| !m.is_file()) {
        return Err(BuildError::NotAFile(output));
    }
    let tmp = crate::tempout::TempOutput::beside(&output);
    let file = File::create(&tmp.path).map_err(|source| BuildError::Create {
        path: output.clone(),
        source,
    })?;
    // The output is opened first: an unwritable -o fails before the work
    // (and before the lines module selection prints).
    let (img, modules, notes) = assemble(args)?;
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    let enc =
        Encoder::new(BufWriter::with_capacity(1 << 20, file), kind, level).map_err(write_err)?;
    let (enc, uncompressed) = img.write(enc, mtime).map_err(|e| match e {
        ImageError::Write(crate::core::cpio::CpioError::Io(source)) => write_err(source),
        other => BuildError::Image(other),
    })?;
    let mut buf = enc.finish().map_err(write_err)?;
    buf.flush().map_err(write_err)?;
    let file = buf.into_inner().map_err(|e| write_err(e.into_error()))?;
    let compressed = file.metadata().map_err(write_err)?.len();
    drop(file);
    tmp.rename_to(&output).map_err(write_err)?;
    Ok(Built {
        output,
        entries: img.nodes().len(),
        modules,
        uncompressed,
        compressed,
        notes,
    })
}
