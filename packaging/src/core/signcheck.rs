//! What `nodistro build --sign-key KEY --sign-cert CERT` checks before and
//! after it runs osslsigncode (sans-IO): the PEM blocks the two files
//! hold, and what the signer's messages mean, each as one line a person
//! can act on.

/// What a `--sign-key` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPem {
    /// A private key the signer reads without asking anything.
    Plain,
    /// A passphrase-protected key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or the
    /// older `Proc-Type: 4,ENCRYPTED` header): OpenSSL asks for the
    /// passphrase on the terminal.
    Encrypted,
}

/// Why a key or certificate file cannot be used (the file's path is added
/// by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("is a certificate, not a private key (are --sign-key and --sign-cert swapped?)")]
    CertNotKey,
    #[error("is a private key, not a certificate (are --sign-key and --sign-cert swapped?)")]
    KeyNotCert,
    #[error("holds no PEM private key (\"-----BEGIN PRIVATE KEY-----\")")]
    NoKey,
    #[error("holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")]
    NoCert,
}

fn has(text: &[u8], needle: &str) -> bool {
    text.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `-----BEGIN <anything> PRIVATE KEY-----`, or the bare PKCS#8 one.
fn has_private_key(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.starts_with(b"-----BEGIN ") && line.ends_with(b"PRIVATE KEY-----")
    })
}

/// Check the `--sign-key` file's contents.
pub fn key_pem(text: &[u8]) -> Result<KeyPem, PemError> {
    if !has_private_key(text) {
        return Err(if has(text, "-----BEGIN CERTIFICATE-----") {
            PemError::CertNotKey
        } else {
            PemError::NoKey
        });
    }
    if has(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(text, "Proc-Type: 4,ENCRYPTED") {
        Ok(KeyPem::Encrypted)
    } else {
        Ok(KeyPem::Plain)
    }
}

/// Check the `--sign-cert` file's contents.
pub fn cert_pem(text: &[u8]) -> Result<(), PemError> {
    if has(text, "-----BEGIN CERTIFICATE-----") {
        Ok(())
    } else if has_private_key(text) {
        Err(PemError::KeyNotCert)
    } else {
        Err(PemError::NoCert)
    }
}

/// What a failed signer said, told from its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerFailure {
    /// The key is not the certificate's.
    Mismatch,
    /// The key could not be read (wrong passphrase, unknown format).
    KeyUnreadable,
    /// The certificate could not be read.
    CertUnreadable,
    /// Anything else: the signer's own first line.
    Other(String),
}

/// An OpenSSL error-queue line (`4070D458017F0000:error:0688010A:...`).
fn openssl_queue_line(line: &str) -> bool {
    line.split_once(":error:")
        .is_some_and(|(id, _)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Classify what osslsigncode printed (2.5 writes its errors on stdout,
/// 2.9 on stderr: give both), in OpenSSL 3's wording.
pub fn signer_failure(output: &str) -> SignerFailure {
    if output.contains("key values mismatch")
        || output.contains("Failed to checking the consistency of a private key")
    {
        SignerFailure::Mismatch
    } else if output.contains("Failed to decode private key")
        || output.contains("Failed to read private key")
    {
        SignerFailure::KeyUnreadable
    } else if output.contains("No certificate found")
        || output.contains("Failed to read certificate")
    {
        SignerFailure::CertUnreadable
    } else {
        let first = output
            .lines()
            .map(str::trim)
            .find(|l| {
                !l.is_empty() && !openssl_queue_line(l) && !l.starts_with("Enter PEM pass phrase")
            })
            .unwrap_or("no message");
        SignerFailure::Other(first.chars().take(300).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
    const RSA: &str =
        "-----BEGIN RSA PRIVATE KEY-----\r\nMIIE\r\n-----END RSA PRIVATE KEY-----\r\n";
    const PKCS8_ENC: &str =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n";
    const LEGACY_ENC: &str = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMIIE\n-----END RSA PRIVATE KEY-----\n";
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n";

    #[test]
    fn keys() {
        assert_eq!(key_pem(PLAIN.as_bytes()), Ok(KeyPem::Plain));
        assert_eq!(key_pem(RSA.as_bytes()), Ok(KeyPem::Plain));
        assert_eq!(key_pem(PKCS8_ENC.as_bytes()), Ok(KeyPem::Encrypted));
        assert_eq!(key_pem(LEGACY_ENC.as_bytes()), Ok(KeyPem::Encrypted));
        assert_eq!(key_pem(CERT.as_bytes()), Err(PemError::CertNotKey));
        assert_eq!(key_pem(b"\x30\x82\x04\xa4"), Err(PemError::NoKey));
        assert_eq!(key_pem(b""), Err(PemError::NoKey));
        // A key and its certificate in one file is a key.
        let both = format!("{PLAIN}{CERT}");
        assert_eq!(key_pem(both.as_bytes()), Ok(KeyPem::Plain));
    }

    #[test]
    fn certs() {
        assert_eq!(cert_pem(CERT.as_bytes()), Ok(()));
        assert_eq!(cert_pem(PLAIN.as_bytes()), Err(PemError::KeyNotCert));
        assert_eq!(cert_pem(b"hello"), Err(PemError::NoCert));
    }

    /// osslsigncode 2.9's output as captured on Debian 12 (OpenSSL 3.0).
    #[test]
    fn signer_messages() {
        let mismatch = "Failed to checking the consistency of a private key: other.key\n          with a public key in any X509 certificate: /usr/share/ovmf/PkKek-1-snakeoil.pem\n\nCreating a new signature failed\n40605DA2A77F0000:error:05800074:x509 certificate routines:X509_check_private_key:key values mismatch:../crypto/x509/x509_cmp.c:403:\nFailed\n";
        assert_eq!(signer_failure(mismatch), SignerFailure::Mismatch);
        let nopass = "Enter PEM pass phrase:\nFailed to decode private key file: /k.key (Wrong password?)\nFailed to read key or certificates\n4000E9F6A87F0000:error:04800068:PEM routines:pem_read_bio_key_legacy:bad password read:../crypto/pem/pem_pkey.c:159:\n";
        assert_eq!(signer_failure(nopass), SignerFailure::KeyUnreadable);
        let nocert = "No certificate found\nFailed to read key or certificates\n4070D458017F0000:error:068000A8:asn1 encoding routines:asn1_check_tlen:wrong tag\n";
        assert_eq!(signer_failure(nocert), SignerFailure::CertUnreadable);
        assert_eq!(
            signer_failure("4070D458017F0000:error:0688010A:x\nUnrecognized file type\nFailed\n"),
            SignerFailure::Other("Unrecognized file type".into())
        );
        assert_eq!(
            signer_failure(""),
            SignerFailure::Other("no message".into())
        );
    }
}
