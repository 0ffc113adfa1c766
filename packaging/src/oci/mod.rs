//! OCI images in and out of `nodistro build`.
//!
//! In (`--from-oci PATH`): an OCI image layout directory, the same as a
//! tarball (`oci-archive`, what `skopeo copy ... oci-archive:` and `podman
//! save --format oci-archive` write) or a `docker save` tarball. The
//! sans-IO parts are in [`crate::core::oci`] (re-exported here):
//! [`locate`] (index, manifest, config, digests), [`tarlayer`] (a layer
//! blob's tar entries), [`layers`] (applying them with whiteouts),
//! [`runspec`] (Entrypoint, Cmd, Env, WorkingDir, User as init's
//! settings). This file is their IO: the directory or tarball; [`base`]
//! makes the image the base of a build.
//!
//! Out (`--format oci`): [`build`], writing with [`write`].

pub mod base;
pub mod build;
pub mod write;

// The core's modules by their old paths.
pub use crate::core::oci::{layers, locate, runspec, tarlayer};

use layers::{LayerError, Rootfs};
use locate::{Layout, LocateError};
use runspec::ImageConfig;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use tarlayer::TarError;

/// Why `--from-oci` failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("--from-oci {}: cannot read it; give an OCI image layout directory, an oci-archive or a docker save tarball", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("--from-oci {}: not an image", .path.display())]
    Locate {
        path: PathBuf,
        #[source]
        source: LocateError,
    },
    #[error("--from-oci {}", .path.display())]
    Tar {
        path: PathBuf,
        #[source]
        source: TarError,
    },
    #[error("--from-oci {}", .path.display())]
    Layer {
        path: PathBuf,
        #[source]
        source: LayerError,
    },
}

/// The image's root filesystem and what its config says to run.
#[derive(Debug)]
pub struct Loaded {
    pub layout: Layout,
    pub rootfs: Rootfs,
    pub config: ImageConfig,
    pub layers: usize,
}

/// Where the image's files are: a directory, or a tarball's files in
/// memory (symlinks kept by name: docker save links repeated layers).
enum Store {
    Dir(PathBuf),
    Tar {
        files: HashMap<String, Vec<u8>>,
        links: HashMap<String, String>,
    },
}

impl Store {
    fn open(path: &Path) -> Result<Store, OciError> {
        let open_err = |source| OciError::Open {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(open_err)?.is_dir() {
            return Ok(Store::Dir(path.to_path_buf()));
        }
        let bytes = std::fs::read(path).map_err(open_err)?;
        let tar_err = |source| OciError::Tar {
            path: path.to_path_buf(),
            source,
        };
        let tar = tarlayer::tar_bytes(0, &bytes).map_err(tar_err)?;
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        for e in tarlayer::entries(0, &tar).map_err(tar_err)? {
            let Ok(name) = locate::archive_name(&e.path) else {
                continue;
            };
            match e.item {
                layers::Item::File { data, .. } => {
                    files.insert(name, data);
                }
                layers::Item::Symlink { target } | layers::Item::Hardlink { target } => {
                    let base = match name.rsplit_once('/') {
                        Some((dir, _)) if !target.starts_with('/') => format!("{dir}/{target}"),
                        _ => target,
                    };
                    links.insert(name, base);
                }
                _ => {}
            }
        }
        Ok(Store::Tar { files, links })
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let name = match locate::archive_name(name) {
            Ok(n) => n,
            Err(_) => return Ok(None),
        };
        match self {
            Store::Dir(d) => match std::fs::read(d.join(&name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Store::Tar { files, links } => {
                let mut n = name;
                for _ in 0..8 {
                    if let Some(d) = files.get(&n) {
                        return Ok(Some(d.clone()));
                    }
                    match links.get(&n).map(|t| {
                        locate::archive_name(
                            crate::core::dynlink::normalize(t).trim_start_matches('/'),
                        )
                    }) {
                        Some(Ok(t)) => n = t,
                        _ => return Ok(None),
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Read the image at `path`: its layers applied in order, each checked
/// against the digests the image names (the blob's, and the config's
/// `rootfs.diff_ids` for the uncompressed tar).
pub fn load(path: &Path) -> Result<Loaded, OciError> {
    let store = Store::open(path)?;
    let locate_err = |source| OciError::Locate {
        path: path.to_path_buf(),
        source,
    };
    let mut get = |n: &str| store.get(n);
    let plan = locate::plan(&mut get).map_err(locate_err)?;
    let mut rootfs = Rootfs::new();
    let diff_ids = plan.config.rootfs().diff_ids().clone();
    for (i, (layer, diff_id)) in plan.layers.iter().zip(&diff_ids).enumerate() {
        let n = i + 1;
        let blob = store
            .get(&layer.name)
            .ok()
            .flatten()
            .ok_or_else(|| locate_err(LocateError::Missing(layer.name.clone())))?;
        if let Some(d) = &layer.digest {
            locate::verify(&format!("layer {n}"), d, &blob).map_err(locate_err)?;
        }
        let tar = tarlayer::tar_bytes(n, &blob).map_err(|source| OciError::Tar {
            path: path.to_path_buf(),
            source,
        })?;
        locate::verify(&format!("layer {n} (uncompressed)"), diff_id, &tar).map_err(locate_err)?;
        let entries = tarlayer::entries(n, &tar).map_err(|source| OciError::Tar {
            path: path.to_path_buf(),
            source,
        })?;
        rootfs.apply(n, entries).map_err(|source| OciError::Layer {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(Loaded {
        layout: plan.layout,
        config: ImageConfig::from_oci(plan.config.config().as_ref()),
        layers: plan.layers.len(),
        rootfs,
    })
}
