//! `nodistro build` with OCI images: `--from-oci` as the base of any
//! format, `--format oci` as the output (the IO shell: files in and out).

use super::runspec::{self, RunSpec};
use crate::build::{self, AppRun, BuildArgs, BuildError};
use crate::elf::{self, AppKind};
use crate::image::{Image, Node};
use nodistro_common::report;
use std::path::Path;

const TOOL: &str = "nodistro build";

/// The image's root filesystem as the base of the build, and how init
/// runs the app it holds (the flags on top of its config).
pub fn base(
    args: &BuildArgs,
    path: &Path,
    ids: Option<(u32, u32)>,
    notes: &mut Vec<String>,
) -> Result<(AppRun, Image), BuildError> {
    let loaded = super::load(path)?;
    let run_err = |source| BuildError::OciRun {
        path: path.to_path_buf(),
        source,
    };
    let override_args = (!args.arg.is_empty()).then_some(&args.arg[..]);
    let spec = runspec::run_spec(&loaded.config, &loaded.rootfs, override_args).map_err(run_err)?;
    check_app(path, &loaded.rootfs, &spec)?;
    notes.extend(loaded.rootfs.notes.iter().cloned());
    notes.push(format!(
        "{} {}: {} layers, {} entries; runs {}{}",
        loaded.layout.name(),
        path.display(),
        loaded.layers,
        loaded.rootfs.nodes().len(),
        spec.app,
        spec.args
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>(),
    ));
    let mut env = spec.env.clone();
    env.extend(args.env.iter().cloned());
    let run = AppRun {
        path: spec.app,
        args: spec.args,
        env,
        workdir: spec.workdir,
        ids: ids.or(spec.user),
    };
    let (nodes, owners) = loaded.rootfs.into_parts();
    Ok((run, Image::on_base(nodes, owners)))
}

/// The app must run on this machine with what the image holds: an x86-64
/// ELF whose interpreter is in the image, or a script whose interpreter
/// is.
fn check_app(path: &Path, root: &super::layers::Rootfs, spec: &RunSpec) -> Result<(), BuildError> {
    let lacks = |needs: String| BuildError::OciLacks {
        path: path.to_path_buf(),
        app: spec.app.clone(),
        needs,
    };
    let Some(bytes) = root.read(&spec.app) else {
        return Err(lacks("its own file".into()));
    };
    let needs = match elf::classify(bytes) {
        AppKind::Static => None,
        AppKind::Dynamic { interpreter } => Some(interpreter),
        AppKind::Script { interpreter } => {
            let prog = interpreter.split_whitespace().next().unwrap_or_default();
            return match root.lookup(prog) {
                Some((_, Node::File { .. })) => Ok(()),
                _ => Err(lacks(format!("the script interpreter {prog}"))),
            };
        }
        AppKind::Unknown => {
            return Err(BuildError::NotExecutable(
                Path::new(&spec.app).to_path_buf(),
            ))
        }
    };
    if let elf::ElfCheck::WrongArch(what) | elf::ElfCheck::Bad(what) = elf::dyn_info(bytes) {
        return Err(BuildError::AppArch {
            path: Path::new(&spec.app).to_path_buf(),
            what,
        });
    }
    match needs {
        Some(interp) if root.lookup(&interp).is_none() => {
            Err(lacks(format!("the ELF interpreter {interp}")))
        }
        _ => Ok(()),
    }
}

/// `--format oci`: write the oci-archive; returns the exit code.
pub fn main(args: &BuildArgs, start: std::time::Instant) -> i32 {
    match write(args) {
        Ok(lines) => {
            for l in lines {
                eprintln!("{TOOL}: {l}");
            }
            eprintln!("{TOOL}: done in {:.2} s", start.elapsed().as_secs_f64());
            0
        }
        Err(e) => report::fail(TOOL, &e, 1),
    }
}

fn write(args: &BuildArgs) -> Result<Vec<String>, BuildError> {
    if args.kernel.is_some() || args.data_size.is_some() {
        return Err(BuildError::BadOption {
            flag: "format",
            value: "oci".into(),
            expected: "used with --kernel or --data-size (a container runs on its host's kernel)",
        });
    }
    let mtime = build::epoch_from_env()?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| super::write::DEFAULT_OUTPUT.into());
    let tmp = crate::tempout::TempOutput::beside(&output);
    let create_err = |source| BuildError::Create {
        path: output.clone(),
        source,
    };
    let file = std::fs::File::create(&tmp.path).map_err(create_err)?;
    let (img, _, mut notes) = build::assemble(args)?;
    let helpers: Vec<&str> = ["logfwd"]
        .into_iter()
        .filter(|h| img.contains(&format!("bin/{h}")))
        .collect();
    let entrypoint = super::write::entrypoint(&helpers);
    let name = build::app_name(args);
    let ref_name = format!("localhost/{}:latest", name.to_ascii_lowercase());
    let write_err = |source| BuildError::Write {
        path: output.clone(),
        source,
    };
    let (file, w) = super::write::archive(
        &img,
        &entrypoint,
        &ref_name,
        mtime,
        std::io::BufWriter::new(file),
    )
    .map_err(write_err)?;
    file.into_inner()
        .map_err(|e| write_err(e.into_error()))?
        .sync_all()
        .map_err(write_err)?;
    tmp.rename_to(&output).map_err(write_err)?;
    notes.push(format!(
        "wrote {} (oci-archive {ref_name}, image ID {}, {} entries, layer {} bytes); entrypoint {}",
        output.display(),
        w.image_id,
        img.nodes().len(),
        w.layer_bytes,
        entrypoint.join(" ")
    ));
    Ok(notes)
}
