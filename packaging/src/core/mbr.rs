//! MBR (DOS) partition tables (sans-IO): the first sector of a disk whose
//! firmware reads only MBR, the Raspberry Pi's (its boot ROM and
//! bootcode.bin look for a FAT partition in the MBR's four entries).
//!
//! Partitions are given by start and length in 512-byte sectors; the CHS
//! fields are filled from the LBA with the 255-head, 63-sector geometry
//! (or saturated past cylinder 1023), which nothing modern reads. The disk
//! signature (bytes 440..444, the `PARTUUID=xxxxxxxx-01` prefix Linux
//! shows) is the caller's, derived from the content.

pub const SECTOR: u64 = 512;
/// FAT32 with LBA addressing.
pub const TYPE_FAT32_LBA: u8 = 0x0C;
/// Linux.
pub const TYPE_LINUX: u8 = 0x83;

/// One primary partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbrPartition {
    pub kind: u8,
    pub bootable: bool,
    pub first_lba: u32,
    pub sectors: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MbrError {
    #[error("an MBR holds at most 4 primary partitions, not {0}")]
    TooMany(usize),
    #[error("partition {0} is empty, starts in the MBR's own sector or runs past 2 TiB")]
    Bounds(usize),
    #[error("partitions {0} and {1} overlap")]
    Overlap(usize, usize),
}

/// The CHS address of an LBA (255 heads, 63 sectors a track), saturated
/// at cylinder 1023 as partitioning tools write it.
pub fn chs(lba: u32) -> [u8; 3] {
    let (heads, spt) = (255u32, 63u32);
    let c = lba / (heads * spt);
    if c > 1023 {
        return [0xFE, 0xFF, 0xFF];
    }
    let h = (lba / spt) % heads;
    let s = lba % spt + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8) << 6), c as u8]
}

/// The 512-byte MBR holding `parts` and the disk signature `disk_id`.
pub fn mbr(parts: &[MbrPartition], disk_id: u32) -> Result<[u8; 512], MbrError> {
    if parts.len() > 4 {
        return Err(MbrError::TooMany(parts.len()));
    }
    for (i, p) in parts.iter().enumerate() {
        if p.first_lba == 0 || p.sectors == 0 || p.first_lba.checked_add(p.sectors).is_none() {
            return Err(MbrError::Bounds(i + 1));
        }
        for (j, q) in parts.iter().enumerate().skip(i + 1) {
            let (a0, a1) = (
                u64::from(p.first_lba),
                u64::from(p.first_lba) + u64::from(p.sectors),
            );
            let (b0, b1) = (
                u64::from(q.first_lba),
                u64::from(q.first_lba) + u64::from(q.sectors),
            );
            if a0 < b1 && b0 < a1 {
                return Err(MbrError::Overlap(i + 1, j + 1));
            }
        }
    }
    let mut s = [0u8; 512];
    s[440..444].copy_from_slice(&disk_id.to_le_bytes());
    for (i, p) in parts.iter().enumerate() {
        let e = &mut s[446 + 16 * i..446 + 16 * (i + 1)];
        e[0] = if p.bootable { 0x80 } else { 0 };
        e[1..4].copy_from_slice(&chs(p.first_lba));
        e[4] = p.kind;
        e[5..8].copy_from_slice(&chs(p.first_lba + p.sectors - 1));
        e[8..12].copy_from_slice(&p.first_lba.to_le_bytes());
        e[12..16].copy_from_slice(&p.sectors.to_le_bytes());
    }
    s[510] = 0x55;
    s[511] = 0xAA;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fat_partition() {
        let p = MbrPartition {
            kind: TYPE_FAT32_LBA,
            bootable: true,
            first_lba: 2048,
            sectors: 131_072,
        };
        let s = mbr(&[p], 0x1234_5678).expect("valid");
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert_eq!(&s[440..444], &[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(s[446], 0x80);
        assert_eq!(s[446 + 4], 0x0C);
        assert_eq!(&s[446 + 8..446 + 12], &2048u32.to_le_bytes());
        assert_eq!(&s[446 + 12..446 + 16], &131_072u32.to_le_bytes());
        // 2048 = head 32, sector 33, cylinder 0 (what fdisk writes).
        assert_eq!(&s[447..450], &[32, 33, 0]);
        assert!(s[462..510].iter().all(|b| *b == 0), "one entry only");
    }

    #[test]
    fn chs_saturates() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(63), [1, 1, 0]);
        // Cylinder 256: its high bits go to the sector byte.
        assert_eq!(chs(256 * 255 * 63), [0, 1 | 0x40, 0]);
        assert_eq!(chs(u32::MAX), [0xFE, 0xFF, 0xFF]);
    }

    #[test]
    fn refuses_bad_tables() {
        let p = |first_lba, sectors| MbrPartition {
            kind: TYPE_LINUX,
            bootable: false,
            first_lba,
            sectors,
        };
        assert_eq!(mbr(&[p(2048, 10); 5], 0), Err(MbrError::TooMany(5)));
        assert_eq!(mbr(&[p(0, 10)], 0), Err(MbrError::Bounds(1)));
        assert_eq!(mbr(&[p(2048, 0)], 0), Err(MbrError::Bounds(1)));
        assert_eq!(mbr(&[p(u32::MAX, 2)], 0), Err(MbrError::Bounds(1)));
        assert_eq!(
            mbr(&[p(2048, 100), p(2100, 100)], 0),
            Err(MbrError::Overlap(1, 2))
        );
        assert!(mbr(&[p(2048, 100), p(2148, 100)], 0).is_ok());
    }
}
