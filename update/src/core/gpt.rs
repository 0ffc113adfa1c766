//! Finding the ESP in a disk's GPT (the primary header at LBA 1).

use crate::core::efi::Partition;

/// C12A7328-F81F-11D2-BA4B-00A0C93EC93B in on-disk byte order.
pub const ESP_TYPE: [u8; 16] = [
    0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
];

/// How many bytes of the disk [`find_esp`] wants (header and 128 entries
/// of 128 bytes at LBA 2, for 512-byte sectors).
pub const HEAD_BYTES: usize = 512 * 34;

/// The first ESP in the GPT at the start of `disk` (sector size `sector`).
pub fn find_esp(disk: &[u8], sector: usize) -> Option<Partition> {
    let h = disk.get(sector..sector + 92)?;
    if &h[0..8] != b"EFI PART" {
        return None;
    }
    let le64 = |b: &[u8]| b.try_into().ok().map(u64::from_le_bytes);
    let le32 = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
    let entries_lba = le64(&h[72..80])?;
    let count = le32(&h[80..84])?.min(256) as usize;
    let size = le32(&h[84..88])? as usize;
    if size < 128 {
        return None;
    }
    let start = usize::try_from(entries_lba).ok()?.checked_mul(sector)?;
    (0..count).find_map(|i| {
        let e = disk.get(start + i * size..start + i * size + 128)?;
        if e[0..16] != ESP_TYPE {
            return None;
        }
        let first = le64(&e[32..40])?;
        let last = le64(&e[40..48])?;
        Some(Partition {
            number: i as u32 + 1,
            first_lba: first,
            sectors: last.checked_sub(first)? + 1,
            guid: e[16..32].try_into().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_esp_entry() {
        let mut d = vec![0u8; HEAD_BYTES];
        d[512..520].copy_from_slice(b"EFI PART");
        d[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        d[512 + 80..512 + 84].copy_from_slice(&128u32.to_le_bytes());
        d[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        // Entry 2 is the ESP.
        let e = 1024 + 128;
        d[e..e + 16].copy_from_slice(&ESP_TYPE);
        d[e + 16..e + 32].copy_from_slice(&[9; 16]);
        d[e + 32..e + 40].copy_from_slice(&2048u64.to_le_bytes());
        d[e + 40..e + 48].copy_from_slice(&4095u64.to_le_bytes());
        let p = find_esp(&d, 512).expect("esp");
        assert_eq!(
            (p.number, p.first_lba, p.sectors, p.guid),
            (2, 2048, 2048, [9; 16])
        );
        assert_eq!(find_esp(&d[..600], 512), None);
        d[512] = b'X';
        assert_eq!(find_esp(&d, 512), None);
    }
}
