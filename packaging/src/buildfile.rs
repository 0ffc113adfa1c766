//! `nodistro build -f nodistro.toml`: the build's settings in one file.
//!
//! The file is turned into the flags it stands for and put in front of the
//! command line's, so one parser (argh's `BuildArgs`) reads both and the
//! same settings give the same image whichever way they are written.
//! Flags given on the command line override the file: a single-valued
//! flag replaces the file's key, a repeatable one (`--arg`, `--env`,
//! `--file`, `--config`, `--module`) adds to the file's list, after it
//! (as Cargo's `--config` joins arrays and LinuxKit appends a later
//! file's lists). Paths in the file are relative to its directory.
//!
//! [`keys`] is the table of keys and flags, [`parse`] reads the TOML; this
//! module checks each value with the flag's own parser (so a bad value is
//! reported at its line), merges with the command line and reads the file.

// The core's modules by their old paths.
pub use crate::core::buildfile::{keys, parse};

use crate::build::args::BuildArgs;
use argh::FromArgs;
use parse::{FileError, Problem, Setting};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Why the build file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BuildFileError {
    #[error("cannot read the build file {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{error}", .path.display())]
    Invalid { path: PathBuf, error: FileError },
    #[error("-f is given {0} times; give one build file (flags override it)")]
    Twice(usize),
    #[error("the build file's path {0:?} is not UTF-8")]
    NotUtf8Path(OsString),
}

/// The settings of a build file's text, each value checked by its flag's
/// parser. `dir` is the file's directory.
pub fn settings(text: &str, dir: &Path) -> Result<Vec<Setting>, FileError> {
    let settings = parse::parse(text, dir)?;
    for s in &settings {
        check(s)?;
    }
    Ok(settings)
}

/// Parse `s` as `nodistro build` would (with a stand-in `--app` when it
/// is not the app), so a bad value names its line and key.
fn check(s: &Setting) -> Result<(), FileError> {
    let tokens = s.tokens();
    let mut argv: Vec<&str> = Vec::with_capacity(4);
    if s.key.flag != "app" {
        argv.extend(["--app", "app"]);
    }
    argv.extend(tokens.iter().map(String::as_str));
    match BuildArgs::from_args(&["nodistro build"], &argv) {
        Ok(_) => Ok(()),
        Err(e) => {
            let msg = e.output.trim();
            let prefix = format!(
                "Error parsing option '{}' with value '{}': ",
                tokens[0],
                s.value.as_deref().unwrap_or("")
            );
            let why = msg.strip_prefix(&prefix).unwrap_or(msg);
            Err(FileError {
                line: s.line,
                problem: Problem::Value {
                    key: s.name.clone(),
                    why: format!(
                        "{:?}: {}",
                        s.value.as_deref().unwrap_or(""),
                        why.split_whitespace().collect::<Vec<_>>().join(" ")
                    ),
                },
            })
        }
    }
}

/// What the command line (after `nodistro build`) says: the flags it
/// gives and where `-f` is.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// Long names of the flags given, in order.
    pub flags: Vec<String>,
    /// Indexes of each `-f`/`--build-file` token.
    pub build_file: Vec<usize>,
    /// `--help` or `help` is there.
    pub help: bool,
}

/// Read the flags of `rest` (a flag that takes a value skips it).
pub fn scan(rest: &[&str]) -> CommandLine {
    let mut c = CommandLine::default();
    let mut i = 0;
    while i < rest.len() {
        let t = rest[i];
        if t == "--" {
            break;
        }
        if t == "--help" || t == "help" {
            c.help = true;
        } else if let Some(flag) = keys::flag_name(t) {
            if flag == "build-file" {
                c.build_file.push(i);
            }
            if !keys::is_switch_flag(flag) {
                i += 1;
            }
            c.flags.push(flag.to_string());
        }
        i += 1;
    }
    c
}

/// The file's tokens that the command line's `flags` leave: repeatable
/// keys all, single-valued ones unless a flag replaces them.
pub fn merge(file: &[Setting], flags: &[String]) -> Vec<String> {
    let given = |f: &str| flags.iter().any(|g| g == f);
    file.iter()
        .filter(|s| {
            s.key.kind.is_repeatable()
                || !(given(s.key.flag) || s.key.replaced_by.iter().any(|r| given(r)))
        })
        .flat_map(Setting::tokens)
        .collect()
}

/// `nodistro build`'s arguments (`args[0]` the program, `args[1]`
/// "build") with `-f FILE` replaced by the flags the file stands for, in
/// front of the command line's. Other arguments pass unchanged, as do
/// those with `--help` or with `-f` lacking its value (argh reports it).
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, BuildFileError> {
    if args.len() < 3 || args[1] != "build" {
        return Ok(args);
    }
    // A token that is not UTF-8 is neither a flag nor -f's value here;
    // the argument parser refuses it with its name.
    let rest: Vec<&str> = args[2..].iter().map(|a| a.to_str().unwrap_or("")).collect();
    let cmd = scan(&rest);
    match cmd.build_file.as_slice() {
        [] => return Ok(args),
        [_] => {}
        many => return Err(BuildFileError::Twice(many.len())),
    }
    let at = cmd.build_file[0];
    if cmd.help || at + 1 >= rest.len() {
        return Ok(args);
    }
    let value = &args[2 + at + 1];
    let path = PathBuf::from(
        value
            .to_str()
            .ok_or_else(|| BuildFileError::NotUtf8Path(value.clone()))?,
    );
    let bytes = std::fs::read(&path).map_err(|source| BuildFileError::Read {
        path: path.clone(),
        source,
    })?;
    let invalid = |error| BuildFileError::Invalid {
        path: path.clone(),
        error,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        invalid(FileError {
            line: bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1,
            problem: Problem::NotUtf8,
        })
    })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let file = settings(text, dir).map_err(invalid)?;
    let mut out: Vec<OsString> = args[..2].to_vec();
    out.extend(merge(&file, &cmd.flags).into_iter().map(OsString::from));
    out.extend(
        (args[2..].iter().enumerate())
            .filter(|(i, _)| *i != at && *i != at + 1)
            .map(|(_, a)| a.clone()),
    );
    Ok(out)
}

#[cfg(test)]
mod tests;
