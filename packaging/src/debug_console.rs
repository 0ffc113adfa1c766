//! `nodistro build --console`: put the debug console (`/bin/console`) in the
//! image. A nodistro-box built with its `console` feature holds it (then
//! `/bin/console` is one more link, like every tool the box lists); the
//! default box does not (the console costs about 137 KB, more than the
//! box's headroom under busybox-static), so the standalone `console` binary
//! next to nodistro-box is packed. Images built without either have no
//! console at all: `init.debug=console` on a kernel command line cannot
//! open one.

use crate::image::{Image, ImageError};
use std::path::{Path, PathBuf};

/// Why the console cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("--console: nodistro-box has no console and {} is missing: build it (cargo build --release -p nodistro-console), or the box with --features console", .0.display())]
    Missing(PathBuf),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Add the standalone `console` of the tools directory as `/bin/console`.
pub fn add_standalone(img: &mut Image, tools: &Path) -> Result<(), ConsoleError> {
    let alone = tools.join("console");
    if !alone.is_file() {
        return Err(ConsoleError::Missing(alone));
    }
    img.add_file("bin/console", &alone)?;
    Ok(())
}
