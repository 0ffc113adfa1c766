//! `nodistro publish`: a release for the device's `update` tool (issue
//! 24). The UKI is copied into the output directory and a manifest
//! (version, arch, image, size, sha256; [`nodistro_update::core::manifest`])
//! signed with the ed25519 key is written beside it, the manifest last:
//! each file appears only complete (a temporary name, renamed), so a
//! server never shows a manifest whose image is not all there.
//!
//! Any static HTTP server, object store or CDN serves the directory.

use crate::tempout::TempOutput;
use argh::FromArgs;
use nodistro_update::core::{keys, manifest};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const TOOL: &str = "nodistro publish";

/// publish a release for the update tool: copy the UKI into a directory
/// and write beside it a manifest (version, size, sha256) signed with your
/// ed25519 key; serve the directory over HTTP
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "publish")]
pub struct PublishArgs {
    /// the ed25519 private key (PKCS#8 PEM, as `openssl genpkey -algorithm
    /// ed25519` writes it) whose public half the images carry
    /// (--update-key)
    #[argh(option)]
    pub key: PathBuf,
    /// the release's UKI (nodistro build --format uki); its file name is
    /// kept (letters, digits, '.', '_', '-')
    #[argh(option)]
    pub image: PathBuf,
    /// the release's version, a whole number from 1 (devices install only
    /// a version higher than theirs)
    #[argh(option)]
    pub version: String,
    /// the directory to write the image and the manifest into (created
    /// if missing)
    #[argh(option, short = 'o')]
    pub output: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read the key {}: give the ed25519 private key (openssl genpkey -algorithm ed25519 -out key.pem)", .path.display())]
    KeyRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key {}", .path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: keys::KeyError,
    },
    #[error("--version {0:?} is not a whole number from 1")]
    Version(String),
    #[error("the image name {0:?} is not a plain file name (letters, digits, '.', '_', '-'; not starting with '.'): rename the file")]
    Name(String),
    #[error("cannot read the image {}: build one with nodistro build --format uki", .path.display())]
    ImageRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the image {} is not a UKI: {why} (nodistro build --format uki writes one; a disk image is not a release)", .path.display())]
    NotPe { path: PathBuf, why: String },
    #[error("cannot write into {}: choose a writable -o directory", .path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The architecture (`x86_64`, `aarch64`) of a PE file from its first
/// bytes (at least the PE header's): MZ, the PE signature at `e_lfanew`,
/// the machine type after it.
pub fn pe_arch(head: &[u8]) -> Result<&'static str, String> {
    if !head.starts_with(b"MZ") {
        return Err("no MZ header".into());
    }
    let at = head
        .get(0x3c..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("too short for a PE file")?;
    let pe = at
        .checked_add(6)
        .and_then(|end| head.get(at..end))
        .ok_or("no PE header where the MZ header points")?;
    if &pe[..4] != b"PE\0\0" {
        return Err("no PE signature where the MZ header points".into());
    }
    match u16::from_le_bytes([pe[4], pe[5]]) {
        0x8664 => Ok("x86_64"),
        0xaa64 => Ok("aarch64"),
        m => Err(format!("PE machine type {m:#06x} is not x86_64 or aarch64")),
    }
}

/// `--version`: a whole number from 1, digits only.
pub fn parse_version(v: &str) -> Result<u64, PublishError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(PublishError::Version(v.to_string())),
    }
}

/// What was published.
#[derive(Debug)]
pub struct Published {
    pub manifest: manifest::Manifest,
    pub dir: PathBuf,
}

/// Publish; the manifest is written last.
pub fn publish(args: &PublishArgs) -> Result<Published, PublishError> {
    let pem = std::fs::read_to_string(&args.key).map_err(|source| PublishError::KeyRead {
        path: args.key.clone(),
        source,
    })?;
    let seed = keys::seed_from_pem(&pem).map_err(|source| PublishError::Key {
        path: args.key.clone(),
        source,
    })?;
    let version = parse_version(&args.version)?;
    let name = args
        .image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !manifest::valid_name(&name) || name == manifest::FILE {
        return Err(PublishError::Name(name));
    }
    let read_err = |source| PublishError::ImageRead {
        path: args.image.clone(),
        source,
    };
    let mut src = std::fs::File::open(&args.image).map_err(read_err)?;
    let mut head = Vec::with_capacity(4096);
    (&mut src)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    let arch = pe_arch(&head).map_err(|why| PublishError::NotPe {
        path: args.image.clone(),
        why,
    })?;
    let dir = &args.output;
    let out_err = |source| PublishError::Output {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(out_err)?;
    let image_path = dir.join(&name);
    let (size, sha256) = copy_hashed(args, src, &head, &image_path)?;
    let m = manifest::Manifest {
        version,
        arch: arch.to_string(),
        image: name,
        size,
        sha256,
    };
    let manifest_path = dir.join(manifest::FILE);
    let tmp = TempOutput::beside(&manifest_path);
    let mut out = std::fs::File::create(&tmp.path).map_err(out_err)?;
    out.write_all(m.signed(&seed).as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(out_err)?;
    drop(out);
    tmp.rename_to(&manifest_path).map_err(out_err)?;
    // The renames themselves, on disk.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(Published {
        manifest: m,
        dir: dir.clone(),
    })
}

/// Copy the image (`head`, its first bytes, already read from `src`) to
/// `dest`, hashed in the same pass with bounded memory: its size and
/// SHA-256.
fn copy_hashed(
    args: &PublishArgs,
    mut src: std::fs::File,
    head: &[u8],
    dest: &Path,
) -> Result<(u64, [u8; 32]), PublishError> {
    let read_err = |source| PublishError::ImageRead {
        path: args.image.clone(),
        source,
    };
    let out_err = |source| PublishError::Output {
        path: args.output.clone(),
        source,
    };
    let tmp = TempOutput::beside(dest);
    let mut out = std::fs::File::create(&tmp.path).map_err(out_err)?;
    let mut hash = Sha256::new();
    let mut size = head.len() as u64;
    hash.update(head);
    out.write_all(head).map_err(out_err)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(out_err)?;
        size += n as u64;
    }
    out.sync_all().map_err(out_err)?;
    drop(out);
    tmp.rename_to(dest).map_err(out_err)?;
    Ok((size, hash.finalize().into()))
}

/// Run the subcommand; returns the exit code.
pub fn main(args: PublishArgs) -> i32 {
    match publish(&args) {
        Ok(p) => {
            println!(
                "published version {} ({} B, sha256 {}) to {}",
                p.manifest.version,
                p.manifest.size,
                manifest::hex(&p.manifest.sha256),
                display(&p.dir)
            );
            0
        }
        Err(e) => nodistro_common::report::fail(TOOL, &e, 1),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(machine: u16) -> Vec<u8> {
        let mut v = vec![0u8; 0x100];
        v[..2].copy_from_slice(b"MZ");
        v[0x3c] = 0x80;
        v[0x80..0x84].copy_from_slice(b"PE\0\0");
        v[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
        v
    }

    #[test]
    fn pe_machine_types() {
        assert_eq!(pe_arch(&pe(0x8664)), Ok("x86_64"));
        assert_eq!(pe_arch(&pe(0xaa64)), Ok("aarch64"));
        assert!(pe_arch(&pe(0x14c)).is_err_and(|e| e.contains("0x014c")));
        assert!(pe_arch(b"\x7fELF").is_err());
        assert!(pe_arch(b"MZ").is_err());
        let mut far = pe(0x8664);
        far[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(pe_arch(&far).is_err());
        far[0x3c..0x40].copy_from_slice(&0x10u32.to_le_bytes());
        assert!(pe_arch(&far).is_err_and(|e| e.contains("signature")));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("7").ok(), Some(7));
        for bad in ["0", "", "-1", "+2", "1.0", "x", "99999999999999999999999"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }
}
