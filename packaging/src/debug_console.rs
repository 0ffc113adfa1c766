//! `nodistro build --console`: put the debug console (`/bin/console`) in the
//! image. nodistro-box carries it only when built with its `console` Cargo
//! feature (it costs about 137 KB, more than the box's headroom under
//! busybox-static); then `/bin/console` is one more link to the box.
//! Otherwise the standalone `console` binary next to nodistro-box is
//! packed. Images built without `--console` have no console at all, so
//! `init.debug=console` on a kernel command line cannot open one.

use crate::image::{Image, ImageError, Node};
use std::path::{Path, PathBuf};

/// Text only the console's code holds (its banner).
const MARKER: &[u8] = b"nodistro debug console (root on this line";

/// Whether a nodistro-box's bytes carry the console.
pub fn box_has_console(bytes: &[u8]) -> bool {
    bytes.windows(MARKER.len()).any(|w| w == MARKER)
}

/// Why the console cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("--console: {} has no console and {} is missing: build it (cargo build --release -p nodistro-console) or nodistro-box with --features console", .0.display(), .1.display())]
    Missing(PathBuf, PathBuf),
    #[error("--console: cannot read {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Add `/bin/console`; returns where it comes from (for the build's report).
pub fn add(img: &mut Image, tools: &Path, box_path: &Path) -> Result<&'static str, ConsoleError> {
    let bytes = std::fs::read(box_path).map_err(|e| ConsoleError::Read(box_path.into(), e))?;
    if box_has_console(&bytes) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_found_only_where_it_is() {
        let mut b = vec![0u8; 1000];
        assert!(!box_has_console(&b));
        b.extend_from_slice(b"\nnodistro debug console (root on this line; init.debug=console)");
        assert!(box_has_console(&b));
    }
}
