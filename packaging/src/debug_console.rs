//! `nodistro build --console`: put the debug console (`/bin/console`) in the
//! image. nodistro-box carries it only when built with its `console` Cargo
//! feature (it costs about 126 KB, all of the box's headroom under
//! busybox-static); then `/bin/console` is one more link to the box.
//! Otherwise the standalone `console` binary next to nodistro-box is
//! packed. Images built without `--console` have no console at all, so
//! `init.debug=console` on a kernel command line cannot open one: even a
//! box holding it gets no `/bin/console` link then (build.rs skips
//! [`TOOL`] when linking the box's tools).

use crate::image::{Image, ImageError, Node};
use std::path::{Path, PathBuf};

/// Why the console cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("--console: {} has no console and {} is missing: build it (cargo build --release -p nodistro-console) or nodistro-box with --features console", .0.display(), .1.display())]
    Missing(PathBuf, PathBuf),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The console's tool name in a box's `--list`.
pub const TOOL: &str = "console";

/// Add `/bin/console`: a link to the box when it holds the console
/// (`box_tools`, from `nodistro-box --list`), else the standalone binary;
/// returns where it comes from (for the build's report).
pub fn add(
    img: &mut Image,
    tools: &Path,
    box_path: &Path,
    box_tools: &[String],
) -> Result<&'static str, ConsoleError> {
    if box_tools.iter().any(|t| t == TOOL) {
        img.add(
            "bin/console",
            Node::Symlink {
                target: nodistro_common::MULTICALL_NAME.into(),
            },
        )?;
        return Ok("in nodistro-box");
    }
    let alone = tools.join("console");
    if !alone.is_file() {
        return Err(ConsoleError::Missing(box_path.into(), alone));
    }
    img.add_file("bin/console", &alone)?;
    Ok("standalone binary")
}
