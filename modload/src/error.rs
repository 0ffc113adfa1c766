//! The errors that stop modload.

use crate::tree::TreeError;
use std::path::PathBuf;

/// Errors that stop modload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the modules tree is for kernel {tree}, but the running kernel is {running}: refusing to load (build the image with the running kernel's modules, or use --dry-run)")]
    OtherKernel { tree: String, running: String },
    #[error("no modules for the running kernel {running} in {dir} (found: {found}): the image was built for another kernel", dir = .dir.display())]
    NoTree {
        running: String,
        dir: PathBuf,
        found: String,
    },
    #[error("cannot read the module tree")]
    Tree(#[source] TreeError),
    #[error("cannot read the alias list {path}", path = .path.display())]
    Aliases {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the uevent socket (hotplug disabled)")]
    Uevent(#[source] std::io::Error),
    #[error("cannot take the readiness fd from init")]
    Ready(#[source] nodistro_common::sys::FdError),
}
