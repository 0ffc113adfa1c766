//! The release manifest `nodistro publish` writes and the device checks:
//! a few `key value` lines, then one `signature` line holding the ed25519
//! signature (base64) of every byte before it.
//!
//! ```text
//! nodistro-update 1
//! version 2
//! arch x86_64
//! image nodistro-2.efi
//! size 23456789
//! sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! signature 1l0c...==
//! ```
//!
//! The signature is checked before any field is read; `image` names a file
//! beside the manifest (a plain name: no `/`, no `..`).

use crate::core::keys;
use thiserror::Error;

/// The first line of every manifest.
pub const MAGIC: &str = "nodistro-update 1";
/// The manifest's file name beside the images.
pub const FILE: &str = "manifest";
/// More than this is not a manifest.
pub const MAX_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub version: u64,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// The image's file name beside the manifest.
    pub image: String,
    pub size: u64,
    pub sha256: [u8; 32],
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("the manifest is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the manifest has no signature line (was it written by nodistro publish?)")]
    Unsigned,
    #[error("the manifest's signature does not match the update key baked into this image (signed by another key, or changed after signing)")]
    BadSignature,
    #[error("manifest line {line}: {what}")]
    Malformed { line: usize, what: String },
}

impl Manifest {
    /// The signed part: every line but the signature.
    pub fn body(&self) -> String {
        format!(
            "{MAGIC}\nversion {}\narch {}\nimage {}\nsize {}\nsha256 {}\n",
            self.version,
            self.arch,
            self.image,
            self.size,
            hex(&self.sha256)
        )
    }

    /// The whole manifest, signed with the ed25519 key of this seed.
    pub fn signed(&self, seed: &[u8; 32]) -> String {
        let body = self.body();
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        let sig = kp.sk.sign(body.as_bytes(), None);
        format!("{body}signature {}\n", keys::base64_encode(&sig[..]))
    }
}

/// The manifest in `text`, if its signature is `key`'s.
pub fn parse_verified(text: &[u8], key: &[u8; 32]) -> Result<Manifest, ManifestError> {
    if text.len() > MAX_BYTES {
        return Err(ManifestError::TooLarge);
    }
    let at = find_signature(text).ok_or(ManifestError::Unsigned)?;
    let (body, sig_line) = text.split_at(at);
    let sig_text = std::str::from_utf8(&sig_line[b"signature ".len()..])
        .map_err(|_| ManifestError::BadSignature)?;
    let sig = keys::base64_decode(sig_text.trim_end_matches('\n'))
        .and_then(|s| ed25519_compact::Signature::from_slice(&s).ok())
        .ok_or(ManifestError::BadSignature)?;
    let pk = ed25519_compact::PublicKey::new(*key);
    pk.verify(body, &sig)
        .map_err(|_| ManifestError::BadSignature)?;
    parse_body(body)
}

/// Where the last line, `signature ...`, starts.
fn find_signature(text: &[u8]) -> Option<usize> {
    let trimmed = text.strip_suffix(b"\n").unwrap_or(text);
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    trimmed[start..].starts_with(b"signature ").then_some(start)
}

/// [`parse_body`] for the fuzz harness (the body as if its signature held).
#[doc(hidden)]
pub fn parse_body_for_fuzzing(body: &[u8]) -> Result<Manifest, ManifestError> {
    parse_body(body)
}

fn parse_body(body: &[u8]) -> Result<Manifest, ManifestError> {
    let bad = |line: usize, what: &str| ManifestError::Malformed {
        line,
        what: what.into(),
    };
    let text = std::str::from_utf8(body).map_err(|_| bad(1, "not text"))?;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if lines.next().map(|(_, l)| l) != Some(MAGIC) {
        return Err(bad(1, &format!("expected {MAGIC:?}")));
    }
    let (mut version, mut arch, mut image, mut size, mut sha) = (None, None, None, None, None);
    for (n, line) in lines {
        let (key, value) = line
            .split_once(' ')
            .ok_or_else(|| bad(n, "expected \"KEY VALUE\""))?;
        let slot_taken = match key {
            "version" => version
                .replace(parse_number(value, n, "version")?)
                .is_some(),
            "arch" => arch.replace(value.to_string()).is_some(),
            "image" => image.replace(parse_name(value, n)?).is_some(),
            "size" => size.replace(parse_number(value, n, "size")?).is_some(),
            "sha256" => sha.replace(parse_sha(value, n)?).is_some(),
            // Later fields, signed like the rest: ignored here.
            _ => false,
        };
        if slot_taken {
            return Err(bad(n, &format!("{key} given twice")));
        }
    }
    let missing = |k: &str| bad(0, &format!("no {k} line"));
    Ok(Manifest {
        version: version.ok_or_else(|| missing("version"))?,
        arch: arch.ok_or_else(|| missing("arch"))?,
        image: image.ok_or_else(|| missing("image"))?,
        size: size.ok_or_else(|| missing("size"))?,
        sha256: sha.ok_or_else(|| missing("sha256"))?,
    })
}

fn parse_number(v: &str, line: usize, what: &str) -> Result<u64, ManifestError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ManifestError::Malformed {
            line,
            what: format!("{what} {v:?} is not a whole number above 0"),
        }),
    }
}

/// A plain file name: letters, digits, `.`, `_`, `-`; not starting with `.`.
pub fn valid_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 100
        && !v.starts_with('.')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn parse_name(v: &str, line: usize) -> Result<String, ManifestError> {
    if valid_name(v) {
        Ok(v.to_string())
    } else {
        Err(ManifestError::Malformed {
            line,
            what: format!("image {v:?} is not a plain file name"),
        })
    }
}

fn parse_sha(v: &str, line: usize) -> Result<[u8; 32], ManifestError> {
    let mut out = [0u8; 32];
    let ok = v.len() == 64
        && v.as_bytes().chunks(2).zip(out.iter_mut()).all(|(pair, o)| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .map(|b| *o = b)
                .is_some()
        });
    if ok {
        Ok(out)
    } else {
        Err(ManifestError::Malformed {
            line,
            what: "sha256 is not 64 hex digits".into(),
        })
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    fn sample() -> Manifest {
        Manifest {
            version: 2,
            arch: "x86_64".into(),
            image: "nodistro-2.efi".into(),
            size: 1234,
            sha256: [0xab; 32],
        }
    }

    fn public() -> [u8; 32] {
        *ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED)).pk
    }

    #[test]
    fn round_trip() {
        let text = sample().signed(&SEED);
        assert!(text.starts_with("nodistro-update 1\nversion 2\n"), "{text}");
        assert_eq!(parse_verified(text.as_bytes(), &public()), Ok(sample()));
        // Without the last newline too.
        let trimmed = text.trim_end();
        assert_eq!(parse_verified(trimmed.as_bytes(), &public()), Ok(sample()));
    }

    #[test]
    fn refusals() {
        let text = sample().signed(&SEED);
        let other = *ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([8; 32])).pk;
        assert_eq!(
            parse_verified(text.as_bytes(), &other),
            Err(ManifestError::BadSignature)
        );
        let changed = text.replace("version 2", "version 9");
        assert_eq!(
            parse_verified(changed.as_bytes(), &public()),
            Err(ManifestError::BadSignature)
        );
        assert_eq!(
            parse_verified(sample().body().as_bytes(), &public()),
            Err(ManifestError::Unsigned)
        );
        assert_eq!(
            parse_verified(&vec![b'a'; 5000], &public()),
            Err(ManifestError::TooLarge)
        );
        for (field, value) in [
            ("image", "../etc/passwd"),
            ("version", "0"),
            ("version", "+3"),
            ("size", "x"),
        ] {
            let mut m = sample().body();
            m = m
                .lines()
                .map(|l| {
                    if l.starts_with(field) {
                        format!("{field} {value}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
            let sig = kp.sk.sign(m.as_bytes(), None);
            let signed = format!("{m}signature {}\n", keys::base64_encode(&sig[..]));
            let e = parse_verified(signed.as_bytes(), &public()).expect_err(value);
            assert!(matches!(e, ManifestError::Malformed { .. }), "{e}");
        }
    }
}
