//! `nodistro build`: pack the runtime tools, the app, extra files and kernel
//! modules into a reproducible initramfs (cpio newc, gzip/zstd/none).

use crate::compress::{Compression, Encoder};
use crate::elf::{self, AppKind};
use crate::image::{Image, ImageError, Node, Source};
use crate::modules::{self, ModuleSelection, ModulesError};
use argh::FromArgs;
use nodistro_common::{report, Config, MULTICALL_NAME};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const TOOL: &str = "nodistro build";

/// The runtime tools installed as symlinks to the multicall binary.
pub const TOOLS: [&str; 4] = ["init", "modload", "netcfg", "logfwd"];

/// build an initramfs: the nodistro runtime, your static app, extra files
/// and kernel modules, as a reproducible cpio archive
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "build")]
pub struct BuildArgs {
    /// the app to run (a static executable); goes to /app/<name>
    #[argh(option)]
    pub app: PathBuf,
    /// output file (default: initramfs.cpio.gz, .cpio.zst or .cpio)
    #[argh(option, short = 'o')]
    pub output: Option<PathBuf>,
    /// an argument for the app (repeatable, in order)
    #[argh(option)]
    pub arg: Vec<String>,
    /// an environment variable NAME=value for the app (repeatable)
    #[argh(option)]
    pub env: Vec<String>,
    /// an extra file or directory SRC:DEST to copy into the image (repeatable)
    #[argh(option)]
    pub file: Vec<String>,
    /// a configuration line KEY=VALUE for /etc/nodistro.conf (repeatable),
    /// e.g. logfwd.remote=udp://10.0.2.2:514 or ip=dhcp
    #[argh(option)]
    pub config: Vec<String>,
    /// the machine's host name (configuration key hostname)
    #[argh(option)]
    pub hostname: Option<String>,
    /// gzip (default), zstd or none
    #[argh(option, default = "Compression::Gzip")]
    pub compression: Compression,
    /// compression level (gzip 0-9, default 6; zstd 1-19, default 3)
    #[argh(option)]
    pub level: Option<i32>,
    /// directory holding nodistro-box (default: the directory of this
    /// nodistro executable)
    #[argh(option)]
    pub tools_dir: Option<PathBuf>,
    /// kernel modules to include: none (default) or all
    #[argh(option, default = "AllModules::None")]
    pub modules: AllModules,
    /// a kernel module to include, with its dependencies (repeatable)
    #[argh(option)]
    pub module: Vec<String>,
    /// a file of modaliases captured on the target (cat /sys/**/modalias):
    /// include the modules that match them
    #[argh(option)]
    pub modaliases: Option<PathBuf>,
    /// kernel version whose modules to use (default: the newest under
    /// /lib/modules)
    #[argh(option)]
    pub kernel_version: Option<String>,
    /// the modules tree to use (default: /lib/modules/<kernel version>)
    #[argh(option)]
    pub modules_dir: Option<PathBuf>,
    /// where firmware files the modules declare are looked up (default
    /// /lib/firmware)
    #[argh(option)]
    pub firmware_dir: Option<PathBuf>,
    /// pack the app even if it is dynamically linked or a script (you then
    /// add its loader, libraries or interpreter with --file)
    #[argh(switch)]
    pub allow_dynamic: bool,
    /// include the debug console (/bin/console; turned on by
    /// init.debug=console): root for whoever holds the serial line
    #[argh(switch)]
    pub console: bool,
}

/// `--modules none|all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllModules {
    None,
    All,
}

impl std::str::FromStr for AllModules {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(AllModules::None),
            "all" => Ok(AllModules::All),
            other => Err(format!(
                "{other:?} is not none or all (name single modules with --module)"
            )),
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("app {} not found; give the path of your static executable with --app", .0.display())]
    AppMissing(PathBuf),
    #[error("app {} is dynamically linked (needs {interpreter} and its libraries, which the image does not have); link it statically (Rust: RUSTFLAGS=\"-C target-feature=+crt-static\"; Go: CGO_ENABLED=0; C: -static) or add the loader and libraries with --file and pass --allow-dynamic", .path.display())]
    Dynamic { path: PathBuf, interpreter: String },
    #[error("app {} is a script for {interpreter}, which the image does not have; add the interpreter with --file and pass --allow-dynamic, or use a static executable", .path.display())]
    Script { path: PathBuf, interpreter: String },
    #[error("app {} is not an executable (not ELF, no #! line); pass --allow-dynamic to pack it anyway", .0.display())]
    NotExecutable(PathBuf),
    #[error("{} not found in {}: build it (cargo build --release -p nodistro-box) or point --tools-dir at the directory holding it", MULTICALL_NAME, .0.display())]
    ToolsMissing(PathBuf),
    #[error("--{flag} {value:?} is not {expected}")]
    BadOption {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("--level {level} is out of range for {kind:?} (use {min}..={max})")]
    BadLevel {
        level: i32,
        kind: Compression,
        min: i32,
        max: i32,
    },
    #[error(transparent)]
    Console(#[from] crate::debug_console::ConsoleError),
    #[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds between 0 and 4294967295")]
    BadEpoch(String),
    #[error("cannot write the configuration file")]
    Config(#[source] nodistro_common::config::RenderError),
    #[error("cannot assemble the image")]
    Image(#[source] ImageError),
    #[error("cannot select kernel modules")]
    Modules(#[source] ModulesError),
    #[error("cannot create the output {}: choose a writable -o path", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("output {} exists and is not a regular file; choose another -o path", .0.display())]
    NotAFile(PathBuf),
    #[error("cannot write the output {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl From<ImageError> for BuildError {
    fn from(e: ImageError) -> Self {
        BuildError::Image(e)
    }
}

/// What a finished build produced.
#[derive(Debug)]
pub struct Built {
    pub output: PathBuf,
    pub entries: usize,
    pub modules: usize,
    pub uncompressed: u64,
    pub compressed: u64,
}

/// Run the subcommand; returns the exit code.
pub fn main(args: BuildArgs) -> i32 {
    let start = std::time::Instant::now();
    match build(&args) {
        Ok(b) => {
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

fn split_pair<'a>(
    flag: &'static str,
    value: &'a str,
    sep: char,
    expected: &'static str,
) -> Result<(&'a str, &'a str), BuildError> {
    match value.split_once(sep) {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a, b)),
        _ => Err(BuildError::BadOption {
            flag,
            value: value.to_string(),
            expected,
        }),
    }
}

/// The mtime for every entry: SOURCE_DATE_EPOCH, or 0.
pub fn epoch_from_env() -> Result<u32, BuildError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<u32>().map_err(|_| BuildError::BadEpoch(v)),
        Err(_) => Ok(0),
    }
}

fn check_app(args: &BuildArgs) -> Result<(), BuildError> {
    let path = &args.app;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BuildError::AppMissing(path.clone()))
        }
        Err(source) => {
            return Err(BuildError::Image(ImageError::Read {
                path: path.clone(),
                source,
            }))
        }
    };
    let err = match elf::classify(&bytes) {
        AppKind::Static => return Ok(()),
        AppKind::Dynamic { interpreter } => BuildError::Dynamic {
            path: path.clone(),
            interpreter,
        },
        AppKind::Script { interpreter } => BuildError::Script {
            path: path.clone(),
            interpreter,
        },
        AppKind::Unknown => BuildError::NotExecutable(path.clone()),
    };
    if args.allow_dynamic {
        eprintln!(
            "{TOOL}: warning: {}; packing it anyway (--allow-dynamic)",
            report::chain(&err)
        );
        Ok(())
    } else {
        Err(err)
    }
}

fn tools_dir(args: &BuildArgs) -> PathBuf {
    if let Some(d) = &args.tools_dir {
        return d.clone();
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The configuration file's text from the command line.
fn config_text(args: &BuildArgs, app_in_image: &str) -> Result<String, BuildError> {
    let mut cfg = Config::default();
    cfg.push("init.app", app_in_image);
    for a in &args.arg {
        cfg.push("init.arg", a.as_str());
    }
    for e in &args.env {
        split_pair("env", e, '=', "NAME=value")?;
        cfg.push("init.env", e.as_str());
    }
    if let Some(h) = &args.hostname {
        cfg.push("hostname", h.as_str());
    }
    for c in &args.config {
        let (k, v) = c.split_once('=').ok_or_else(|| BuildError::BadOption {
            flag: "config",
            value: c.clone(),
            expected: "KEY=VALUE",
        })?;
        cfg.push(k, v);
    }
    cfg.render().map_err(BuildError::Config)
}

/// Assemble the image described by `args` (without writing it).
pub fn assemble(args: &BuildArgs) -> Result<(Image, usize), BuildError> {
    check_app(args)?;
    let mut img = Image::new();
    for d in ["dev", "proc", "sys", "run", "etc", "bin", "app"] {
        img.add(d, Node::Dir { mode: 0o755 })?;
    }
    img.add("tmp", Node::Dir { mode: 0o1777 })?;
    img.add(
        "dev/console",
        Node::CharDev {
            mode: 0o600,
            major: 5,
            minor: 1,
        },
    )?;
    let tools = tools_dir(args);
    let box_path = tools.join(MULTICALL_NAME);
    if !box_path.is_file() {
        return Err(BuildError::ToolsMissing(tools));
    }
    img.add_file(&format!("bin/{MULTICALL_NAME}"), &box_path)?;
    for t in TOOLS {
        img.add(
            &format!("bin/{t}"),
            Node::Symlink {
                target: MULTICALL_NAME.into(),
            },
        )?;
    }
    img.add(
        "init",
        Node::Symlink {
            target: format!("bin/{MULTICALL_NAME}"),
        },
    )?;
    if args.console {
        crate::debug_console::add(&mut img, &tools, &box_path)?;
    }
    let name = args
        .app
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BuildError::AppMissing(args.app.clone()))?;
    let app_in_image = format!("/app/{name}");
    img.add_file(&app_in_image, &args.app)?;
    img.add(
        nodistro_common::CONFIG_PATH,
        Node::File {
            source: Source::Bytes(config_text(args, &app_in_image)?.into_bytes()),
            mode: 0o644,
        },
    )?;
    for f in &args.file {
        // The last ':' splits, so a source path may contain colons.
        let (src, dest) = match f.rsplit_once(':') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => (a, b),
            _ => {
                return Err(BuildError::BadOption {
                    flag: "file",
                    value: f.clone(),
                    expected: "SRC:DEST",
                })
            }
        };
        img.add_tree(dest, Path::new(src))?;
    }
    let selection = ModuleSelection {
        all: args.modules == AllModules::All,
        names: args.module.clone(),
        modaliases: args.modaliases.clone(),
        kernel_version: args.kernel_version.clone(),
        modules_dir: args.modules_dir.clone(),
        firmware_dir: args.firmware_dir.clone(),
    };
    let count = modules::add_modules(&mut img, &selection).map_err(BuildError::Modules)?;
    Ok((img, count))
}

/// Removes the temporary output unless the build got to the rename.
struct TempOutput {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Build and write the archive; the output appears only when complete.
pub fn build(args: &BuildArgs) -> Result<Built, BuildError> {
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
    let mtime = epoch_from_env()?;
    let (img, modules) = assemble(args)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("initramfs.{}", kind.suffix())));
    if std::fs::metadata(&output).is_ok_and(|m| !m.is_file()) {
        return Err(BuildError::NotAFile(output));
    }
    let file_name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "initramfs".into());
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = TempOutput {
        path: dir.join(format!(".{file_name}.tmp-{}", std::process::id())),
        keep: false,
    };
    let file = File::create(&tmp.path).map_err(|source| BuildError::Create {
        path: output.clone(),
        source,
    })?;
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    let enc =
        Encoder::new(BufWriter::with_capacity(1 << 20, file), kind, level).map_err(write_err)?;
    let (enc, uncompressed) = img.write(enc, mtime).map_err(|e| match e {
        ImageError::Write(crate::cpio::CpioError::Io(source)) => write_err(source),
        other => BuildError::Image(other),
    })?;
    let mut buf = enc.finish().map_err(write_err)?;
    buf.flush().map_err(write_err)?;
    let file = buf.into_inner().map_err(|e| write_err(e.into_error()))?;
    let compressed = file.metadata().map_err(write_err)?.len();
    drop(file);
    std::fs::rename(&tmp.path, &output).map_err(write_err)?;
    tmp.keep = true;
    Ok(Built {
        output,
        entries: img.nodes().len(),
        modules,
        uncompressed,
        compressed,
    })
}
