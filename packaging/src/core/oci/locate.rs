//! From an image's top documents to its config and layer blobs (sans-IO:
//! the blobs come through a `get` function): the OCI image layout
//! (`index.json`, nested indexes, the linux/amd64 manifest) or `docker
//! save`'s `manifest.json`. Every blob named by a digest is checked
//! against it.

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use sha2::{Digest, Sha256};

/// JSON documents (index, manifest, config) are small; a bigger one is
/// not an image.
pub const MAX_DOCUMENT: usize = 8 << 20;
/// Nested indexes followed, at most.
const MAX_DEPTH: usize = 4;

/// The architecture an image must be for (`uname -m` x86_64 in OCI words).
pub const ARCH: &str = "amd64";

/// Which layout the image came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Oci,
    DockerSave,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Oci => "OCI image layout",
            Layout::DockerSave => "docker save archive",
        }
    }
}

/// A layer to read: where its blob is, and the digest the blob must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    pub name: String,
    pub digest: Option<String>,
}

/// The image's config and its layers, bottom first.
#[derive(Debug)]
pub struct Plan {
    pub layout: Layout,
    pub config: ImageConfiguration,
    pub layers: Vec<LayerRef>,
}

/// Why the image cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("neither index.json (an OCI image layout or oci-archive) nor manifest.json (a docker save archive) is there")]
    NotAnImage,
    #[error("{0} is missing from the image")]
    Missing(String),
    #[error("{what} does not parse")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} does not parse")]
    Spec {
        what: String,
        #[source]
        source: oci_spec::OciSpecError,
    },
    #[error("{0} is over {MAX_DOCUMENT} bytes: not an image document")]
    TooLarge(String),
    #[error(
        "{name}: its sha256 is {actual}, not the {expected} the image names (corrupt or tampered)"
    )]
    Digest {
        name: String,
        expected: String,
        actual: String,
    },
    #[error("digest {0:?} is not sha256:<64 hex digits>")]
    BadDigest(String),
    #[error("{0:?} is not a path inside the archive")]
    BadName(String),
    #[error("the index lists no image manifest")]
    NoManifest,
    #[error("the image is for {found}, not linux/{ARCH}; pull or build the linux/{ARCH} variant")]
    WrongPlatform { found: String },
    #[error("indexes nest deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("manifest.json lists no image")]
    EmptyDockerManifest,
    #[error("the config's rootfs lists {diff_ids} layers but the manifest {layers}")]
    LayerCount { diff_ids: usize, layers: usize },
}

/// The blob store: `Ok(None)` when `name` is not there.
pub type Get<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, std::io::Error> + 'a;

/// Hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256:HEX` as a blob path, checked to be that and nothing else.
pub fn blob_path(digest: &str) -> Result<String, LocateError> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(format!("blobs/sha256/{hex}"))
        }
        _ => Err(LocateError::BadDigest(digest.into())),
    }
}

/// Check `data` against `digest` (`sha256:HEX`).
pub fn verify(name: &str, digest: &str, data: &[u8]) -> Result<(), LocateError> {
    blob_path(digest)?;
    let actual = format!("sha256:{}", sha256_hex(data));
    if actual != digest {
        return Err(LocateError::Digest {
            name: name.into(),
            expected: digest.into(),
            actual,
        });
    }
    Ok(())
}

/// A name inside the archive: relative, no `..`.
pub fn archive_name(name: &str) -> Result<String, LocateError> {
    let parts: Vec<&str> = name
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if name.starts_with('/') || parts.is_empty() || parts.contains(&"..") {
        return Err(LocateError::BadName(name.into()));
    }
    Ok(parts.join("/"))
}

fn fetch(get: &mut Get, name: &str) -> Result<Vec<u8>, LocateError> {
    match get(name) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(LocateError::Missing(name.into())),
        Err(_) => Err(LocateError::Missing(name.into())),
    }
}

fn document(get: &mut Get, name: &str) -> Result<Vec<u8>, LocateError> {
    let d = fetch(get, name)?;
    if d.len() > MAX_DOCUMENT {
        return Err(LocateError::TooLarge(name.into()));
    }
    Ok(d)
}

fn blob(get: &mut Get, d: &Descriptor, what: &str) -> Result<Vec<u8>, LocateError> {
    let digest = d.digest().to_string();
    let name = blob_path(&digest)?;
    let data = document(get, &name)?;
    verify(&format!("{what} {digest}"), &digest, &data)?;
    Ok(data)
}

/// Find the image in the store `get` reads.
pub fn plan(get: &mut Get) -> Result<Plan, LocateError> {
    if let Some(index) = get("index.json").ok().flatten() {
        if index.len() > MAX_DOCUMENT {
            return Err(LocateError::TooLarge("index.json".into()));
        }
        let index = ImageIndex::from_reader(&index[..]).map_err(|source| LocateError::Spec {
            what: "index.json".into(),
            source,
        })?;
        return oci_plan(get, index, 0);
    }
    if let Some(m) = get("manifest.json").ok().flatten() {
        if m.len() > MAX_DOCUMENT {
            return Err(LocateError::TooLarge("manifest.json".into()));
        }
        return docker_plan(get, &m);
    }
    Err(LocateError::NotAnImage)
}

fn platform_of(d: &Descriptor) -> Option<String> {
    d.platform()
        .as_ref()
        .map(|p| format!("{}/{}", p.os(), p.architecture()))
}

/// The descriptor for linux/amd64, or the only one when none says.
fn choose(index: &ImageIndex) -> Result<&Descriptor, LocateError> {
    let m = index.manifests();
    let want = format!("linux/{ARCH}");
    if let Some(d) = m.iter().find(|d| platform_of(d).as_deref() == Some(&want)) {
        return Ok(d);
    }
    if let Some(d) = m.iter().find(|d| d.platform().is_none()) {
        return Ok(d);
    }
    match m.first() {
        None => Err(LocateError::NoManifest),
        Some(_) => Err(LocateError::WrongPlatform {
            found: m
                .iter()
                .filter_map(platform_of)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn oci_plan(get: &mut Get, index: ImageIndex, depth: usize) -> Result<Plan, LocateError> {
    if depth > MAX_DEPTH {
        return Err(LocateError::TooDeep);
    }
    let d = choose(&index)?;
    if *d.media_type() == MediaType::ImageIndex {
        let data = blob(get, d, "index")?;
        let inner = ImageIndex::from_reader(&data[..]).map_err(|source| LocateError::Spec {
            what: format!("index {}", d.digest()),
            source,
        })?;
        return oci_plan(get, inner, depth + 1);
    }
    let data = blob(get, d, "manifest")?;
    let manifest = ImageManifest::from_reader(&data[..]).map_err(|source| LocateError::Spec {
        what: format!("manifest {}", d.digest()),
        source,
    })?;
    let cdata = blob(get, manifest.config(), "config")?;
    let config = parse_config(&cdata, manifest.config().digest().as_ref())?;
    let layers = manifest
        .layers()
        .iter()
        .map(|l| {
            let digest = l.digest().to_string();
            Ok(LayerRef {
                name: blob_path(&digest)?,
                digest: Some(digest),
            })
        })
        .collect::<Result<Vec<_>, LocateError>>()?;
    finish(Layout::Oci, config, layers)
}

fn parse_config(data: &[u8], what: &str) -> Result<ImageConfiguration, LocateError> {
    ImageConfiguration::from_reader(data).map_err(|source| LocateError::Spec {
        what: format!("config {what}"),
        source,
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

fn docker_plan(get: &mut Get, manifest: &[u8]) -> Result<Plan, LocateError> {
    let images: Vec<DockerImage> =
        serde_json::from_slice(manifest).map_err(|source| LocateError::Json {
            what: "manifest.json".into(),
            source,
        })?;
    let Some(image) = images.into_iter().next() else {
        return Err(LocateError::EmptyDockerManifest);
    };
    let cname = archive_name(&image.config)?;
    let cdata = document(get, &cname)?;
    // Its name is the config's digest (`<hex>.json`, or a blob path).
    let hex = cname
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".json");
    if hex.len() == 64 {
        verify(&cname, &format!("sha256:{hex}"), &cdata)?;
    }
    let config = parse_config(&cdata, &cname)?;
    let layers = image
        .layers
        .iter()
        .map(|l| {
            Ok(LayerRef {
                name: archive_name(l)?,
                digest: None,
            })
        })
        .collect::<Result<Vec<_>, LocateError>>()?;
    finish(Layout::DockerSave, config, layers)
}

fn finish(
    layout: Layout,
    config: ImageConfiguration,
    layers: Vec<LayerRef>,
) -> Result<Plan, LocateError> {
    let arch = config.architecture().to_string();
    let os = config.os().to_string();
    if arch != ARCH || os != "linux" {
        return Err(LocateError::WrongPlatform {
            found: format!("{os}/{arch}"),
        });
    }
    let diff_ids = config.rootfs().diff_ids().len();
    if diff_ids != layers.len() {
        return Err(LocateError::LayerCount {
            diff_ids,
            layers: layers.len(),
        });
    }
    Ok(Plan {
        layout,
        config,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_names_are_checked() {
        let hex = sha256_hex(b"abc");
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(verify("x", &format!("sha256:{hex}"), b"abc").is_ok());
        assert!(matches!(
            verify("x", &format!("sha256:{hex}"), b"abd"),
            Err(LocateError::Digest { .. })
        ));
        assert!(blob_path("sha256:../../etc/passwd").is_err());
        assert!(blob_path("sha512:00").is_err());
        assert!(archive_name("../x").is_err());
        assert!(archive_name("/x").is_err());
        assert_eq!(
            archive_name("./a//b/layer.tar").expect("ok"),
            "a/b/layer.tar"
        );
    }

    #[test]
    fn no_documents_is_not_an_image() {
        let mut get = |_: &str| Ok(None);
        assert!(matches!(plan(&mut get), Err(LocateError::NotAnImage)));
        let mut get = |n: &str| Ok((n == "manifest.json").then(|| b"[]".to_vec()));
        assert!(matches!(
            plan(&mut get),
            Err(LocateError::EmptyDockerManifest)
        ));
        let mut get = |n: &str| Ok((n == "index.json").then(|| b"{nope".to_vec()));
        assert!(matches!(plan(&mut get), Err(LocateError::Spec { .. })));
    }
}
