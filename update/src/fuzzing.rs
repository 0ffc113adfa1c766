//! Fuzz harness: every parser of outside bytes the `update` tool has, in
//! one function: a server's manifest (checked against a key, and its body
//! parsed as if signed), HTTP response heads, `update.url` values, the
//! firmware's variables (load options, BootOrder, nodistro's state), a
//! disk's GPT, /etc/hosts and PEM keys. None may panic. The cargo-fuzz
//! target (update/fuzz) calls it; a stable test runs it over the kept
//! corpus and mutations.

use crate::core::{efi, gpt, http, keys, manifest, slots};

/// Feed `data` to every parser of outside input.
#[doc(hidden)]
pub fn update_inputs(data: &[u8]) {
    let key = [9u8; 32];
    let _ = manifest::parse_verified(data, &key);
    let _ = manifest::parse_body_for_fuzzing(data);
    let _ = http::parse_head(data);
    let _ = efi::decode_load_option(data);
    let _ = efi::u16_list(data);
    let _ = slots::State::parse(data);
    let _ = gpt::find_esp(data, 512);
    let _ = gpt::find_esp(data, 4096);
    let text = String::from_utf8_lossy(data);
    let _ = http::Url::parse(&text);
    let _ = keys::public_from_pem(&text);
    let _ = keys::seed_from_pem(&text);
    let _ = keys::base64_decode(&text);
    let _ = nodistro_common::hosts::lookup(&text, "releases");
    let _ = http::parse_push(data);
    let _ = efi::pci_chain(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_and_mutations() {
        let m = manifest::Manifest {
            version: 2,
            arch: "x86_64".into(),
            image: "v2.efi".into(),
            size: 10,
            sha256: [1; 32],
        };
        let signed = m.signed(&[3; 32]);
        let p = efi::Partition {
            number: 1,
            first_lba: 2048,
            sectors: 100,
            guid: [2; 16],
        };
        let opt = efi::encode_load_option(
            "nodistro A",
            &efi::pci_prefix(&[(4, 0)]),
            &p,
            "\\EFI\\nodistro\\A.EFI",
        );
        let seeds: Vec<Vec<u8>> = vec![
            signed.into_bytes(),
            m.body().into_bytes(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            opt,
            b"default b\na 1\nb 2\ntrying b\nfailed 3\n".to_vec(),
            b"http://10.0.2.2:8000/rel/manifest".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n".to_vec(),
        ];
        let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        for i in
            nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "update_inputs", &refs)
        {
            update_inputs(&i);
        }
        nodistro_common::fuzzing::mutations(&seeds, 4000, b"\n :=/\r\x00\x04\x7f", |_, m| {
            update_inputs(m)
        });
    }
}
