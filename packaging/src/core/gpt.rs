//! GUID partition tables (sans-IO): the protective MBR, the primary header
//! and entry array at the start of the disk, the backup array and header at
//! its end, with their CRC-32s (UEFI spec 2.10, chapter 5).
//!
//! Partitions start on 1 MiB boundaries. The disk GUID and each partition's
//! GUID are derived from a content hash the caller gives (the same image
//! gives the same GUIDs), shaped as version-4 GUIDs.

use crate::core::digest::{crc32, fnv128};

pub const SECTOR: u64 = 512;
/// 128 entries of 128 bytes: 32 sectors.
const ENTRIES: usize = 128;
const ENTRY_SIZE: usize = 128;
const ARRAY_SECTORS: u64 = (ENTRIES * ENTRY_SIZE) as u64 / SECTOR;
/// Partition alignment: 1 MiB.
pub const ALIGN: u64 = 2048;

/// A GUID in its on-disk byte order (the first three fields little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Parse the textual form `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`.
    pub fn parse(s: &str) -> Option<Guid> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        if hex.len() != 32 || s.len() != 36 {
            return None;
        }
        let mut v = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            v[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        let mut g = v;
        g[..4].reverse();
        g[4..6].reverse();
        g[6..8].reverse();
        Some(Guid(g))
    }

    /// A version-4-shaped GUID from hash bits.
    pub fn from_hash(h: u128) -> Guid {
        let mut g = h.to_le_bytes();
        g[7] = (g[7] & 0x0f) | 0x40;
        g[8] = (g[8] & 0x3f) | 0x80;
        Guid(g)
    }

    /// The textual form, upper case (as sfdisk prints it).
    pub fn to_text(self) -> String {
        let g = self.0;
        format!(
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
        )
    }
}

/// The EFI system partition's type.
pub const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// "Linux filesystem data".
pub const LINUX_DATA_TYPE: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// One partition of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub type_guid: Guid,
    pub guid: Guid,
    pub name: String,
    pub first_lba: u64,
    pub last_lba: u64,
}

/// A whole disk: its size, GUID and partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub sectors: u64,
    pub disk_guid: Guid,
    pub partitions: Vec<Partition>,
}

impl Layout {
    /// The disk size in bytes.
    pub fn bytes(&self) -> u64 {
        self.sectors * SECTOR
    }
}

/// Lay out partitions of the given sizes in bytes (each rounded up to
/// 1 MiB), named, of the given types, after the primary table; `seed` is
/// the content hash GUIDs come from.
pub fn layout(parts: &[(&str, &str, u64)], seed: u128) -> Layout {
    let mut next = ALIGN;
    let mut partitions = Vec::new();
    for (i, (type_text, name, bytes)) in parts.iter().enumerate() {
        let sectors = bytes.div_ceil(SECTOR).div_ceil(ALIGN).max(1) * ALIGN;
        let type_guid = Guid::parse(type_text).unwrap_or(Guid([0; 16]));
        let seed_bytes = seed.to_le_bytes();
        let guid = Guid::from_hash(fnv128(&[
            b"partition",
            &seed_bytes,
            &(i as u64).to_le_bytes(),
        ]));
        partitions.push(Partition {
            type_guid,
            guid,
            name: (*name).to_string(),
            first_lba: next,
            last_lba: next + sectors - 1,
        });
        next += sectors;
    }
    // The backup array and header, then round the disk to 1 MiB.
    let sectors = (next + ARRAY_SECTORS + 1).div_ceil(ALIGN) * ALIGN;
    Layout {
        sectors,
        disk_guid: Guid::from_hash(fnv128(&[b"disk", &seed.to_le_bytes()])),
        partitions,
    }
}

fn entry_array(l: &Layout) -> Vec<u8> {
    let mut a = vec![0u8; ENTRIES * ENTRY_SIZE];
    for (i, p) in l.partitions.iter().take(ENTRIES).enumerate() {
        let e = &mut a[i * ENTRY_SIZE..(i + 1) * ENTRY_SIZE];
        e[..16].copy_from_slice(&p.type_guid.0);
        e[16..32].copy_from_slice(&p.guid.0);
        e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
        e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
        for (j, u) in p.name.encode_utf16().take(36).enumerate() {
            e[56 + 2 * j..58 + 2 * j].copy_from_slice(&u.to_le_bytes());
        }
    }
    a
}

fn header(l: &Layout, my_lba: u64, other_lba: u64, array_lba: u64, array_crc: u32) -> Vec<u8> {
    let mut h = vec![0u8; SECTOR as usize];
    h[..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&my_lba.to_le_bytes());
    h[32..40].copy_from_slice(&other_lba.to_le_bytes());
    h[40..48].copy_from_slice(&(2 + ARRAY_SECTORS).to_le_bytes());
    h[48..56].copy_from_slice(&(l.sectors - 2 - ARRAY_SECTORS).to_le_bytes());
    h[56..72].copy_from_slice(&l.disk_guid.0);
    h[72..80].copy_from_slice(&array_lba.to_le_bytes());
    h[80..84].copy_from_slice(&(ENTRIES as u32).to_le_bytes());
    h[84..88].copy_from_slice(&(ENTRY_SIZE as u32).to_le_bytes());
    h[88..92].copy_from_slice(&array_crc.to_le_bytes());
    let crc = crc32(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The first 34 sectors: protective MBR, primary header, entry array.
pub fn head(l: &Layout) -> Vec<u8> {
    let mut out = vec![0u8; SECTOR as usize];
    let p = &mut out[446..462];
    p[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    p[4] = 0xEE;
    p[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    p[8..12].copy_from_slice(&1u32.to_le_bytes());
    let size = (l.sectors - 1).min(u64::from(u32::MAX)) as u32;
    p[12..16].copy_from_slice(&size.to_le_bytes());
    out[510] = 0x55;
    out[511] = 0xAA;
    let array = entry_array(l);
    let crc = crc32(&array);
    out.extend(header(l, 1, l.sectors - 1, 2, crc));
    out.extend(array);
    out
}

/// The last 33 sectors: backup entry array and backup header.
pub fn tail(l: &Layout) -> Vec<u8> {
    let array = entry_array(l);
    let crc = crc32(&array);
    let array_lba = l.sectors - 1 - ARRAY_SECTORS;
    let mut out = array;
    out.extend(header(l, l.sectors - 1, 1, array_lba, crc));
    out
}

/// Byte offset of [`tail`] on the disk.
pub fn tail_offset(l: &Layout) -> u64 {
    (l.sectors - 1 - ARRAY_SECTORS) * SECTOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_round_trip() {
        let g = Guid::parse(ESP_TYPE).expect("parses");
        assert_eq!(&g.0[..4], &[0x28, 0x73, 0x2A, 0xC1]);
        assert_eq!(g.to_text(), ESP_TYPE);
        assert!(Guid::parse("nope").is_none());
        let h = Guid::from_hash(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        assert_eq!(h.to_text().as_bytes()[14], b'4');
    }

    #[test]
    fn layout_is_aligned_and_checksummed() {
        let l = layout(
            &[
                (ESP_TYPE, "EFI System", 13 << 20),
                (LINUX_DATA_TYPE, "data", 100 << 20),
            ],
            42,
        );
        assert_eq!(l.partitions[0].first_lba, 2048);
        assert_eq!(l.partitions[1].first_lba % ALIGN, 0);
        assert_eq!(l.partitions[1].first_lba, 2048 + 13 * 2048);
        assert!(l.partitions[1].last_lba < l.sectors - 34);
        assert_eq!(l.sectors % ALIGN, 0);
        assert_ne!(l.partitions[0].guid, l.partitions[1].guid);
        assert_eq!(
            l,
            layout(
                &[
                    (ESP_TYPE, "EFI System", 13 << 20),
                    (LINUX_DATA_TYPE, "data", 100 << 20)
                ],
                42
            )
        );
        let h = head(&l);
        assert_eq!(h.len(), 34 * 512);
        assert_eq!(&h[512..520], b"EFI PART");
        let mut hdr = h[512..604].to_vec();
        let crc = u32::from_le_bytes([hdr[16], hdr[17], hdr[18], hdr[19]]);
        hdr[16..20].fill(0);
        assert_eq!(crc32(&hdr), crc);
        let t = tail(&l);
        assert_eq!(t.len(), 33 * 512);
        assert_eq!(tail_offset(&l) + t.len() as u64, l.bytes());
        assert_eq!(&t[32 * 512..32 * 512 + 8], b"EFI PART");
        // Both arrays are the same bytes.
        assert_eq!(&h[1024..], &t[..32 * 512]);
    }
}
