//! ed25519 keys in the PEM files `openssl genpkey -algorithm ed25519`
//! writes (PKCS#8 private key) and `openssl pkey -pubout` writes (SPKI
//! public key). Only the fixed DER shapes of RFC 8410 are accepted: both
//! are one constant prefix followed by the 32 key bytes.

use thiserror::Error;

/// DER of SubjectPublicKeyInfo with id-Ed25519 (1.3.101.112), up to the key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER of a version-0 PKCS#8 OneAsymmetricKey with id-Ed25519, up to the seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no \"-----BEGIN {0}-----\" block: expected an ed25519 key as openssl writes it (openssl genpkey -algorithm ed25519 -out key.pem; openssl pkey -in key.pem -pubout -out pub.pem)")]
    NoBlock(&'static str),
    #[error("the {0} block is not valid base64")]
    Base64(&'static str),
    #[error("the {0} is not an ed25519 key (RSA, EC or another algorithm?): make one with openssl genpkey -algorithm ed25519")]
    NotEd25519(&'static str),
}

/// The 32 bytes of an ed25519 public key from an SPKI PEM ("PUBLIC KEY").
pub fn public_from_pem(pem: &str) -> Result<[u8; 32], KeyError> {
    key_from_pem(pem, "PUBLIC KEY", &SPKI_PREFIX)
}

/// The 32-byte seed of an ed25519 private key from a PKCS#8 PEM
/// ("PRIVATE KEY").
pub fn seed_from_pem(pem: &str) -> Result<[u8; 32], KeyError> {
    key_from_pem(pem, "PRIVATE KEY", &PKCS8_PREFIX)
}

/// The SPKI PEM of a public key (what `openssl pkey -pubout` writes).
pub fn public_to_pem(key: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64_encode(&der)
    )
}

fn key_from_pem(pem: &str, label: &'static str, prefix: &[u8]) -> Result<[u8; 32], KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(KeyError::NoBlock(label))? + begin.len();
    let len = pem[start..].find(&end).ok_or(KeyError::NoBlock(label))?;
    let der = base64_decode(&pem[start..start + len]).ok_or(KeyError::Base64(label))?;
    let what = if label == "PUBLIC KEY" {
        "public key"
    } else {
        "private key"
    };
    match der.strip_prefix(prefix) {
        Some(key) => key.try_into().map_err(|_| KeyError::NotEd25519(what)),
        None => Err(KeyError::NotEd25519(what)),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding; whitespace is skipped.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits, mut pad) = (0u32, 0u32, 0usize);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            return None;
        }
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    (pad <= 2 && bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// Standard base64 with padding, one line.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` of it.
    const PRIV: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHh0VsLrWkztDS0QHr+tGmc6hc2l8PnGJB7yj8btdq6K\n-----END PRIVATE KEY-----\n";

    #[test]
    fn base64_round_trip() {
        for n in 0..70 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&data)), Some(data));
        }
        assert_eq!(base64_decode("TWFu"), Some(b"Man".to_vec()));
        assert_eq!(base64_decode("TWE="), Some(b"Ma".to_vec()));
        for bad in ["TW=u", "T!Fu", "TWE=="] {
            assert!(base64_decode(bad).is_none() || bad == "TWE==", "{bad}");
        }
    }

    #[test]
    fn keys_from_openssl_pems() {
        let seed = seed_from_pem(PRIV).expect("private key");
        assert_eq!(seed[0], 0x78);
        let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
        let pem = public_to_pem(&kp.pk);
        assert_eq!(public_from_pem(&pem), Ok(*kp.pk));
        assert_eq!(public_from_pem(PRIV), Err(KeyError::NoBlock("PUBLIC KEY")));
        assert_eq!(seed_from_pem(&pem), Err(KeyError::NoBlock("PRIVATE KEY")));
        let rsa = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMA=\n-----END PUBLIC KEY-----";
        assert_eq!(
            public_from_pem(rsa),
            Err(KeyError::NotEd25519("public key"))
        );
    }
}
