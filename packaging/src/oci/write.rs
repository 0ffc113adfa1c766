//! `nodistro build --format oci`: the image as an oci-archive (an OCI image
//! layout in one tarball, what `podman load`, `skopeo copy
//! oci-archive:...` and containerd's import read). One gzip layer holds the
//! image's files (no device nodes: the runtime makes /dev); the config's
//! Entrypoint is nodistro's init in container mode. Reproducible: every
//! entry is owned by 0:0 with one mtime, documents are written with sorted
//! keys, so the same inputs give the same bytes and the same image ID.

use crate::core::oci::locate::{sha256_hex, ARCH};
use crate::image::{Image, Node, Source};
use serde_json::json;
use std::io::{self, Write};

/// What `--format oci` writes by default.
pub const DEFAULT_OUTPUT: &str = "image.oci.tar";

/// The Entrypoint: init as PID 1 of the container, reading the image's
/// configuration file, supervising the helpers the image holds.
pub fn entrypoint(helpers: &[&str]) -> Vec<String> {
    let mut e: Vec<String> = [
        "/init",
        "--namespace",
        "--config",
        nodistro_common::CONFIG_PATH,
    ]
    .map(String::from)
    .to_vec();
    for h in helpers {
        e.push("--helper".into());
        e.push(format!("{h}=/bin/{h}"));
    }
    e
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u32) -> tar::Header {
    owned(kind, mode, size, mtime, (0, 0))
}

fn owned(kind: tar::EntryType, mode: u32, size: u64, mtime: u32, owner: (u32, u32)) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(u64::from(mtime));
    h.set_uid(u64::from(owner.0));
    h.set_gid(u64::from(owner.1));
    h
}

/// The image's files as one tar stream (sorted, parents first).
pub fn layer_tar(img: &Image, mtime: u32) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, node) in img.nodes() {
        let owner = img.owner(path);
        match node {
            Node::Dir { mode } => {
                let mut h = owned(tar::EntryType::Directory, *mode, 0, mtime, owner);
                b.append_data(&mut h, format!("{path}/"), io::empty())?;
            }
            Node::File { source, mode } => {
                let data = match source {
                    Source::Bytes(d) => std::borrow::Cow::Borrowed(&d[..]),
                    Source::Path(p) => std::borrow::Cow::Owned(std::fs::read(p)?),
                };
                let size = data.len() as u64;
                let mut h = owned(tar::EntryType::Regular, *mode, size, mtime, owner);
                b.append_data(&mut h, path, &data[..])?;
            }
            Node::Symlink { target } => {
                let mut h = owned(tar::EntryType::Symlink, 0o777, 0, mtime, owner);
                b.append_link(&mut h, path, target)?;
            }
            // /dev/console: the container runtime provides /dev.
            Node::CharDev { .. } => {}
        }
    }
    b.into_inner()
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    /// `sha256:...` of the config: the image ID podman and docker show.
    pub image_id: String,
    pub layer_bytes: u64,
}

/// Write the oci-archive of `img` to `out`.
pub fn archive<W: Write>(
    img: &Image,
    entrypoint: &[String],
    ref_name: &str,
    mtime: u32,
    out: W,
) -> io::Result<(W, Written)> {
    let tar = layer_tar(img, mtime)?;
    let diff_id = format!("sha256:{}", sha256_hex(&tar));
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar)?;
    drop(tar);
    let layer = gz.finish()?;
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let config = serde_json::to_vec(&json!({
        "architecture": ARCH,
        "os": "linux",
        "config": {
            "Entrypoint": entrypoint,
            "Env": [format!("PATH={}", crate::core::oci::runspec::DEFAULT_PATH)],
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created_by": "nodistro build --format oci" }],
    }))?;
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    }))?;
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": ref_name },
            "platform": { "architecture": ARCH, "os": "linux" },
        }],
    }))?;
    let blobs: Vec<(String, &[u8])> = vec![
        (config_digest.clone(), &config[..]),
        (layer_digest, &layer[..]),
        (manifest_digest, &manifest[..]),
    ];
    let out = write_layout(out, blobs, &index, mtime)?;
    Ok((
        out,
        Written {
            image_id: config_digest,
            layer_bytes: layer.len() as u64,
        },
    ))
}

/// The oci-archive's tar: the blobs (sorted by digest) under
/// blobs/sha256, then index.json and oci-layout.
fn write_layout<W: Write>(
    out: W,
    mut blobs: Vec<(String, &[u8])>,
    index: &[u8],
    mtime: u32,
) -> io::Result<W> {
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    blobs.sort();
    let mut b = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0, mtime);
        b.append_data(&mut h, dir, io::empty())?;
    }
    for (digest, data) in &blobs {
        let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64, mtime);
        b.append_data(&mut h, name, *data)?;
    }
    for (name, data) in [("index.json", index), ("oci-layout", &layout[..])] {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64, mtime);
        b.append_data(&mut h, name, data)?;
    }
    b.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{layers, locate, runspec::ImageConfig, tarlayer};

    #[test]
    fn the_archive_reads_back_as_an_image_with_the_same_files() {
        let mut img = Image::new();
        img.add("bin", Node::Dir { mode: 0o755 }).expect("dir");
        img.add(
            "bin/tool",
            Node::File {
                source: Source::Bytes(b"\x7fELF tool".to_vec()),
                mode: 0o755,
            },
        )
        .expect("file");
        img.add(
            "init",
            Node::Symlink {
                target: "bin/tool".into(),
            },
        )
        .expect("link");
        img.add("dev/console", Node::console()).expect("console");
        let ep = entrypoint(&["logfwd"]);
        let (bytes, w) = archive(&img, &ep, "latest", 7, Vec::new()).expect("write");
        let (again, _) = archive(&img, &ep, "latest", 7, Vec::new()).expect("write");
        assert_eq!(bytes, again, "reproducible");
        // Read back with the --from-oci readers.
        let files: std::collections::HashMap<String, Vec<u8>> = tarlayer::entries(0, &bytes)
            .expect("outer tar")
            .into_iter()
            .filter_map(|e| match e.item {
                layers::Item::File { data, .. } => Some((e.path, data)),
                _ => None,
            })
            .collect();
        let mut get = |n: &str| Ok(files.get(n).cloned());
        let plan = locate::plan(&mut get).expect("plan");
        assert_eq!(plan.config.architecture().to_string(), "amd64");
        let cfg = ImageConfig::from_oci(plan.config.config().as_ref());
        assert_eq!(cfg.entrypoint, ep);
        let blob = files.get(&plan.layers[0].name).expect("layer blob");
        assert_eq!(blob.len() as u64, w.layer_bytes);
        let tar = tarlayer::tar_bytes(1, blob).expect("gunzip");
        let mut root = layers::Rootfs::new();
        root.apply(1, tarlayer::entries(1, &tar).expect("entries"))
            .expect("apply");
        assert_eq!(root.read("init"), Some(&b"\x7fELF tool"[..]));
        assert!(!root.nodes().contains_key("dev/console"));
    }
}
