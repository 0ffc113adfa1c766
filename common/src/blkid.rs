//! Filesystem superblock probes, the way blkid reads them, sans-IO: the
//! first [`PROBE_BYTES`] of a block device in, the filesystem type, label
//! and UUID out. ext2/3/4, xfs, btrfs, vfat (FAT12/16/32) and iso9660.
//!
//! Every read is bounds-checked: a short or corrupt buffer gives `None`
//! (no filesystem recognised), never a panic.

/// How many bytes from the start of a device [`probe`] looks at: enough for
/// the btrfs superblock at 64 KiB.
pub const PROBE_BYTES: usize = 0x10000 + 0x1000;

/// A recognised filesystem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    Vfat,
    Iso9660,
}

impl FsType {
    /// blkid's name for it.
    pub fn name(self) -> &'static str {
        match self {
            FsType::Ext2 => "ext2",
            FsType::Ext3 => "ext3",
            FsType::Ext4 => "ext4",
            FsType::Xfs => "xfs",
            FsType::Btrfs => "btrfs",
            FsType::Vfat => "vfat",
            FsType::Iso9660 => "iso9660",
        }
    }

    /// The kernel filesystem that mounts it: ext4 mounts ext2 and ext3.
    pub fn mount_type(self) -> &'static str {
        match self {
            FsType::Ext2 | FsType::Ext3 => "ext4",
            t => t.name(),
        }
    }
}

/// What a superblock says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub fstype: FsType,
    pub label: Option<String>,
    pub uuid: Option<String>,
}

fn get(data: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    data.get(at..at.checked_add(len)?)
}

fn le16(data: &[u8], at: usize) -> Option<u16> {
    let b = get(data, at, 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn le32(data: &[u8], at: usize) -> Option<u32> {
    let b = get(data, at, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A label field: up to the first NUL, trailing spaces removed; `None` when
/// empty.
fn label(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let s = String::from_utf8_lossy(&raw[..end]);
    let s = s.trim_end_matches(' ');
    (!s.is_empty()).then(|| s.to_string())
}

/// 16 bytes as `8-4-4-4-12` lowercase hex; `None` when all zero.
fn uuid(raw: &[u8]) -> Option<String> {
    if raw.len() != 16 || raw.iter().all(|b| *b == 0) {
        return None;
    }
    let mut s = String::with_capacity(36);
    for (i, b) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    Some(s)
}

/// Recognise the filesystem at the start of a device. `data` is its first
/// bytes ([`PROBE_BYTES`] or fewer).
pub fn probe(data: &[u8]) -> Option<Probe> {
    xfs(data)
        .or_else(|| btrfs(data))
        .or_else(|| ext(data))
        .or_else(|| iso9660(data))
        .or_else(|| vfat(data))
}

fn ext(data: &[u8]) -> Option<Probe> {
    let sb = get(data, 1024, 1024)?;
    if le16(sb, 0x38)? != 0xEF53 {
        return None;
    }
    let compat = le32(sb, 0x5C)?;
    let incompat = le32(sb, 0x60)?;
    let ro_compat = le32(sb, 0x64)?;
    // A journal device (JOURNAL_DEV) is not a filesystem.
    if incompat & 0x0008 != 0 {
        return None;
    }
    // blkid's rule: features ext3 does not know make it ext4 (ext3 knows
    // FILETYPE, RECOVER, META_BG; SPARSE_SUPER, LARGE_FILE, BTREE_DIR).
    let fstype = if incompat & !0x0016 != 0 || ro_compat & !0x0007 != 0 {
        FsType::Ext4
    } else if compat & 0x0004 != 0 {
        FsType::Ext3
    } else {
        FsType::Ext2
    };
    Some(Probe {
        fstype,
        label: label(get(sb, 0x78, 16)?),
        uuid: uuid(get(sb, 0x68, 16)?),
    })
}

fn xfs(data: &[u8]) -> Option<Probe> {
    let sb = get(data, 0, 512)?;
    if &sb[..4] != b"XFSB" {
        return None;
    }
    // sb_blocksize is a power of two between 512 and 64 KiB.
    let bs = u32::from_be_bytes([sb[4], sb[5], sb[6], sb[7]]);
    if !bs.is_power_of_two() || !(512..=65536).contains(&bs) {
        return None;
    }
    Some(Probe {
        fstype: FsType::Xfs,
        label: label(get(sb, 108, 12)?),
        uuid: uuid(get(sb, 32, 16)?),
    })
}

fn btrfs(data: &[u8]) -> Option<Probe> {
    let sb = get(data, 0x10000, 0x1000)?;
    if get(sb, 0x40, 8)? != b"_BHRfS_M" {
        return None;
    }
    Some(Probe {
        fstype: FsType::Btrfs,
        label: label(get(sb, 0x12B, 256)?),
        uuid: uuid(get(sb, 0x20, 16)?),
    })
}

fn iso9660(data: &[u8]) -> Option<Probe> {
    let pvd = get(data, 0x8000, 2048)?;
    if pvd[0] != 1 || &pvd[1..6] != b"CD001" {
        return None;
    }
    // blkid's UUID: the creation date's digits, `YYYY-MM-DD-HH-MM-SS-CC`.
    let date = get(pvd, 813, 16)?;
    let id = if date.iter().all(u8::is_ascii_digit) && date.iter().any(|d| *d != b'0') {
        let d = String::from_utf8_lossy(date);
        Some(format!(
            "{}-{}-{}-{}-{}-{}-{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[8..10],
            &d[10..12],
            &d[12..14],
            &d[14..16]
        ))
    } else {
        None
    };
    Some(Probe {
        fstype: FsType::Iso9660,
        label: label(get(pvd, 40, 32)?),
        uuid: id,
    })
}

fn vfat(data: &[u8]) -> Option<Probe> {
    let bs = get(data, 0, 512)?;
    if bs[510] != 0x55 || bs[511] != 0xAA {
        return None;
    }
    let sector = le16(bs, 11)?;
    let per_cluster = bs[13];
    let reserved = le16(bs, 14)?;
    let fats = bs[16];
    let sane = matches!(sector, 512 | 1024 | 2048 | 4096)
        && per_cluster.is_power_of_two()
        && reserved > 0
        && matches!(fats, 1 | 2);
    if !sane {
        return None;
    }
    // FAT32 keeps its extended BPB at 0x40, FAT12/16 at 0x24.
    let ext_at = if get(bs, 0x52, 5)? == b"FAT32" {
        0x40
    } else if get(bs, 0x36, 3)? == b"FAT" {
        0x24
    } else {
        return None;
    };
    // Extended boot signature 0x29: volume id and label are valid.
    if bs[ext_at + 2] != 0x29 {
        return Some(Probe {
            fstype: FsType::Vfat,
            label: None,
            uuid: None,
        });
    }
    let id = le32(bs, ext_at + 3)?;
    let lbl = label(get(bs, ext_at + 7, 11)?).filter(|l| l != "NO NAME");
    Some(Probe {
        fstype: FsType::Vfat,
        label: lbl,
        uuid: Some(format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn ext_image(incompat: u32, compat: u32, name: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        put(&mut b, 1024 + 0x38, &0xEF53u16.to_le_bytes());
        put(&mut b, 1024 + 0x5C, &compat.to_le_bytes());
        put(&mut b, 1024 + 0x60, &incompat.to_le_bytes());
        put(&mut b, 1024 + 0x68, &[0x11; 16]);
        put(&mut b, 1024 + 0x78, name);
        b
    }

    #[test]
    fn ext_family_and_fields() {
        let p = probe(&ext_image(0x2C2, 0x3C, b"appdata")).expect("recognised");
        assert_eq!(p.fstype, FsType::Ext4);
        assert_eq!(p.label.as_deref(), Some("appdata"));
        assert_eq!(
            p.uuid.as_deref(),
            Some("11111111-1111-1111-1111-111111111111")
        );
        assert_eq!(
            probe(&ext_image(0x2, 0x4, b"")).expect("recognised").fstype,
            FsType::Ext3
        );
        let e2 = probe(&ext_image(0x2, 0, b"")).expect("recognised");
        assert_eq!((e2.fstype, e2.label), (FsType::Ext2, None));
        assert_eq!(e2.fstype.mount_type(), "ext4");
        assert_eq!(probe(&ext_image(0x8, 0, b"")), None, "journal device");
    }

    #[test]
    fn short_and_empty_buffers_are_not_filesystems() {
        assert_eq!(probe(&[]), None);
        assert_eq!(probe(&[0u8; PROBE_BYTES]), None);
        let img = ext_image(0x2C2, 0, b"x");
        for n in [0, 1, 1024, 1100, 2047] {
            assert_eq!(probe(&img[..n]), None, "{n} bytes");
        }
    }

    #[test]
    fn vfat_label_and_id() {
        let mut b = vec![0u8; 512];
        put(&mut b, 11, &512u16.to_le_bytes());
        b[13] = 4;
        put(&mut b, 14, &1u16.to_le_bytes());
        b[16] = 2;
        put(&mut b, 0x36, b"FAT16   ");
        b[0x26] = 0x29;
        put(&mut b, 0x27, &0x1234_ABCDu32.to_le_bytes());
        put(&mut b, 0x2B, b"CIDATA     ");
        put(&mut b, 510, &[0x55, 0xAA]);
        let p = probe(&b).expect("recognised");
        assert_eq!(p.fstype, FsType::Vfat);
        assert_eq!(p.label.as_deref(), Some("CIDATA"));
        assert_eq!(p.uuid.as_deref(), Some("1234-ABCD"));
        b[11] = 3; // 515-byte sectors: not FAT
        assert_eq!(probe(&b), None);
    }
}
