//! `nodistro build --format oci`: the image written as an oci-archive
//! (the IO shell: the file out). `--from-oci`, an OCI image as the base
//! of any format, is [`super::base`].

use crate::build::args::{app_name, BuildArgs};
use crate::build::assemble::assemble;
use crate::build::error::BuildError;
use crate::build::inputs::epoch_from_env;
use nodistro_common::report;

const TOOL: &str = "nodistro build";

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
    let mtime = epoch_from_env()?;
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
    let (img, _, mut notes) = assemble(args)?;
    let helpers: Vec<&str> = ["logfwd"]
        .into_iter()
        .filter(|h| img.contains(&format!("bin/{h}")))
        .collect();
    let entrypoint = super::write::entrypoint(&helpers);
    let name = app_name(args);
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
