//! `nodistro build --sign-key KEY.pem --sign-cert CERT.pem`: the UKI (the
//! image itself with `--format uki`, the one on the disk's or the ISO's
//! EFI system partition otherwise) is signed with Authenticode (SHA-256,
//! PKCS#7) by osslsigncode (Debian package osslsigncode), so firmware with
//! Secure Boot on starts it when CERT, or a certificate above it, is in
//! its `db`; sbsigntool's `sbverify --cert CERT` accepts it.
//!
//! Why not sbsign: its signature carries the signing time (PKCS#9
//! signingTime, read from the clock), so two builds differed. osslsigncode
//! takes that time as `-time`: the build's SOURCE_DATE_EPOCH (0 without
//! one), as the PE timestamp; with RSA PKCS#1 v1.5 (deterministic) the
//! same inputs give the same bytes. Firmware does not check that time. The
//! key and certificate are checked before the slow part of the build
//! ([`Signer::prepare`]); what the signer says when it fails is turned
//! into one line ([`crate::core::signcheck`]).

use crate::core::signcheck::{self, KeyPem, PemError, SignerFailure};
use crate::tempout::temp_beside;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The signing tool (and its Debian package's name).
pub const SIGNER: &str = "osslsigncode";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("--sign-key needs --sign-cert (the certificate of that key), and --sign-cert needs --sign-key")]
    Half,
    #[error("--sign-key and --sign-cert sign a UKI: use --format uki, disk or iso")]
    NotUefi,
    #[error("cannot read the signing key {}", .0.display())]
    KeyRead(PathBuf, #[source] std::io::Error),
    #[error("cannot read the certificate {}", .0.display())]
    CertRead(PathBuf, #[source] std::io::Error),
    #[error("the signing key {}", .0.display())]
    KeyBad(PathBuf, #[source] PemError),
    #[error("the certificate {}", .0.display())]
    CertBad(PathBuf, #[source] PemError),
    #[error("the signing key {} is protected by a passphrase and there is no terminal to ask it on: run the build on a terminal, or decrypt the key first (openssl pkey -in KEY -out PLAIN.key)", .0.display())]
    EncryptedNoTerminal(PathBuf),
    #[error("osslsigncode not found: install the Debian package osslsigncode (apt-get install osslsigncode)")]
    NoSigner,
    #[error("the signing key {} does not match the certificate {} (sign with the key the certificate was made for)", .key.display(), .cert.display())]
    Mismatch { key: PathBuf, cert: PathBuf },
    #[error("cannot read the signing key {} (a wrong passphrase, or a key type OpenSSL does not know)", .0.display())]
    KeyUnreadable(PathBuf),
    #[error("cannot read the certificate {} (OpenSSL finds no X.509 certificate in it)", .0.display())]
    CertUnreadable(PathBuf),
    #[error("osslsigncode failed: {0}")]
    Failed(String),
    #[error("cannot run osslsigncode")]
    Run(#[source] std::io::Error),
    #[error("cannot write the temporary file {}", .0.display())]
    Temp(PathBuf, #[source] std::io::Error),
}

/// A key and certificate checked and ready to sign with.
#[derive(Debug, Clone)]
pub struct Signer {
    key: PathBuf,
    cert: PathBuf,
}

/// `name` in one of $PATH's directories.
fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether OpenSSL can ask for a passphrase (it opens /dev/tty).
fn have_terminal() -> bool {
    std::fs::File::open("/dev/tty").is_ok()
}

impl Signer {
    /// `--sign-key` and `--sign-cert` as given: None when neither is.
    pub fn prepare(key: Option<&Path>, cert: Option<&Path>) -> Result<Option<Signer>, SignError> {
        let (key, cert) = match (key, cert) {
            (None, None) => return Ok(None),
            (Some(k), Some(c)) => (k, c),
            _ => return Err(SignError::Half),
        };
        let k = std::fs::read(key).map_err(|e| SignError::KeyRead(key.to_path_buf(), e))?;
        let kind = signcheck::key_pem(&k).map_err(|e| SignError::KeyBad(key.to_path_buf(), e))?;
        let c = std::fs::read(cert).map_err(|e| SignError::CertRead(cert.to_path_buf(), e))?;
        signcheck::cert_pem(&c).map_err(|e| SignError::CertBad(cert.to_path_buf(), e))?;
        if kind == KeyPem::Encrypted && !have_terminal() {
            return Err(SignError::EncryptedNoTerminal(key.to_path_buf()));
        }
        if in_path(SIGNER).is_none() {
            return Err(SignError::NoSigner);
        }
        Ok(Some(Signer {
            key: key.to_path_buf(),
            cert: cert.to_path_buf(),
        }))
    }

    /// Sign `efi` with the signing time `time` (seconds since 1970: the
    /// build's SOURCE_DATE_EPOCH); the temporary files go beside `output`
    /// and are removed.
    pub fn sign(&self, efi: &[u8], time: u32, output: &Path) -> Result<Vec<u8>, SignError> {
        let unsigned = Scratch(temp_beside(output, "unsigned.efi"));
        let signed = Scratch(temp_beside(output, "signed.efi"));
        std::fs::write(&unsigned.0, efi).map_err(|e| SignError::Temp(unsigned.0.clone(), e))?;
        // stdin stays the caller's: OpenSSL asks an encrypted key's
        // passphrase on /dev/tty.
        let out = Command::new(SIGNER)
            .arg("sign")
            .arg("-certs")
            .arg(&self.cert)
            .arg("-key")
            .arg(&self.key)
            .args(["-h", "sha256", "-time", &time.to_string(), "-in"])
            .arg(&unsigned.0)
            .arg("-out")
            .arg(&signed.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => SignError::NoSigner,
                _ => SignError::Run(e),
            })?;
        if !out.status.success() {
            let said = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Err(match signcheck::signer_failure(&said) {
                SignerFailure::Mismatch => SignError::Mismatch {
                    key: self.key.clone(),
                    cert: self.cert.clone(),
                },
                SignerFailure::KeyUnreadable => SignError::KeyUnreadable(self.key.clone()),
                SignerFailure::CertUnreadable => SignError::CertUnreadable(self.cert.clone()),
                SignerFailure::Other(line) => SignError::Failed(line),
            });
        }
        std::fs::read(&signed.0).map_err(|e| SignError::Temp(signed.0.clone(), e))
    }
}

/// A temporary file removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
