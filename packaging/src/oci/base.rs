//! `nodistro build --from-oci`: an OCI image's root filesystem as the
//! base of the image, and how init runs the app it holds (the IO shell:
//! the image's files in).

use crate::build::args::BuildArgs;
use crate::build::config::AppRun;
use crate::build::error::BuildError;
use crate::core::elf::{self, AppKind};
use crate::core::oci::runspec::{self, RunSpec};
use crate::image::{Image, Node};
use std::path::Path;

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
fn check_app(
    path: &Path,
    root: &crate::core::oci::layers::Rootfs,
    spec: &RunSpec,
) -> Result<(), BuildError> {
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
