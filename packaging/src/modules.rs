//! Kernel module selection for the image (filled in once
//! `nodistro_modload::tree` lands).

use crate::image::Image;
use std::path::PathBuf;

/// Which modules the user asked for.
#[derive(Debug, Clone, Default)]
pub struct ModuleSelection {
    pub all: bool,
    pub names: Vec<String>,
    pub modaliases: Option<PathBuf>,
    pub kernel_version: Option<String>,
    pub modules_dir: Option<PathBuf>,
}

impl ModuleSelection {
    /// Whether any module is wanted.
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.modaliases.is_none()
    }
}

/// Errors selecting modules.
#[derive(Debug, thiserror::Error)]
pub enum ModulesError {
    #[error("kernel module selection is not available in this build yet")]
    Unavailable,
}

/// Add the selected modules (with dependencies, firmware and index files)
/// to the image; returns how many modules went in.
pub fn add_modules(_img: &mut Image, sel: &ModuleSelection) -> Result<usize, ModulesError> {
    if sel.is_empty() {
        return Ok(0);
    }
    Err(ModulesError::Unavailable)
}
