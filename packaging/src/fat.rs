//! A FAT16 file-system image writer (sans-IO: files in, image bytes out)
//! for EFI system partitions and El Torito EFI images.
//!
//! Only what a boot image needs: 8.3 names (no long-name entries), files
//! and directories, one timestamp for everything (SOURCE_DATE_EPOCH), a
//! volume serial derived from the content, so the same files give the same
//! bytes. 512-byte sectors, one reserved sector, two FATs, a 512-entry
//! root directory; the cluster size is the smallest that keeps the cluster
//! count in FAT16's range (4,085 to 65,524), and small images are padded up
//! to that minimum. UEFI firmware reads FAT12, FAT16 and FAT32 alike;
//! FAT16 covers images up to 2 GiB, far more than a UKI.

use crate::digest::fnv128;

const SECTOR: usize = 512;
const ROOT_ENTRIES: usize = 512;
const MIN_CLUSTERS: usize = 4_200; // above FAT12's 4,084, with margin
const MAX_CLUSTERS: usize = 65_524;
const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_VOLUME: u8 = 0x08;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FatError {
    #[error(
        "{0:?} is not an 8.3 name (up to 8 letters, digits or _-~ then an optional . and up to 3)"
    )]
    Name(String),
    #[error("{0:?} is given twice, or as both a file and a directory")]
    Duplicate(String),
    #[error("the root directory holds more than {} entries", ROOT_ENTRIES - 1)]
    RootFull,
    #[error("the files need more than FAT16's 2 GiB")]
    TooLarge,
}

/// Options of the file system.
#[derive(Debug, Clone, Copy)]
pub struct FatOptions<'a> {
    /// The volume label (up to 11 characters, upper-cased).
    pub label: &'a str,
    /// Seconds since 1970 for every timestamp (clamped to 1980..2107).
    pub mtime: u32,
    /// Sectors before the file system on its disk (the partition's start
    /// LBA; 0 for a whole-device or El Torito image).
    pub hidden_sectors: u32,
}

/// A directory of the image being laid out.
#[derive(Default)]
struct Dir {
    name: [u8; 11],
    parent: usize,
    entries: Vec<Entry>,
    first_cluster: u16,
}

#[derive(Clone, Copy)]
enum Entry {
    Dir(usize),
    File(usize),
}

/// Upper-case 8.3 name in directory-entry form.
fn short_name(component: &str) -> Result<[u8; 11], FatError> {
    let bad = || FatError::Name(component.to_string());
    let (base, ext) = match component.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (component, ""),
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || "_-~!#$%&'(){}^@".contains(c);
    if base.is_empty()
        || base.len() > 8
        || ext.len() > 3
        || (component.contains('.') && ext.is_empty())
        || !base.chars().all(ok)
        || !ext.chars().all(ok)
    {
        return Err(bad());
    }
    let mut n = [b' '; 11];
    for (i, c) in base.bytes().enumerate() {
        n[i] = c.to_ascii_uppercase();
    }
    for (i, c) in ext.bytes().enumerate() {
        n[8 + i] = c.to_ascii_uppercase();
    }
    Ok(n)
}

/// DOS (date, time) of a Unix time, clamped to what FAT can hold.
pub fn dos_datetime(secs: u32) -> (u16, u16) {
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if year < 1980 {
        return ((1 << 5) | 1, 0);
    }
    if year > 2107 {
        return ((127 << 9) | (12 << 5) | 31, (23 << 11) | (59 << 5) | 29);
    }
    let date = (((year - 1980) as u16) << 9) | ((month as u16) << 5) | day as u16;
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    let time = ((h as u16) << 11) | ((m as u16) << 5) | (s as u16 / 2);
    (date, time)
}

fn dir_entry(name: &[u8; 11], attr: u8, cluster: u16, size: u32, dt: (u16, u16)) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = attr;
    let (date, time) = dt;
    e[14..16].copy_from_slice(&time.to_le_bytes());
    e[16..18].copy_from_slice(&date.to_le_bytes());
    e[18..20].copy_from_slice(&date.to_le_bytes());
    e[22..24].copy_from_slice(&time.to_le_bytes());
    e[24..26].copy_from_slice(&date.to_le_bytes());
    e[26..28].copy_from_slice(&cluster.to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// The image holding `files` (path with `/` separators, contents).
pub fn build(files: &[(&str, &[u8])], opts: &FatOptions<'_>) -> Result<Vec<u8>, FatError> {
    // The directory tree.
    let mut dirs = vec![Dir::default()];
    let mut names: Vec<[u8; 11]> = Vec::new();
    for (fi, (path, _)) in files.iter().enumerate() {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((last, parents)) = comps.split_last() else {
            return Err(FatError::Name((*path).to_string()));
        };
        let mut cur = 0;
        for c in parents {
            let n = short_name(c)?;
            let found = dirs[cur].entries.iter().find_map(|e| match e {
                Entry::Dir(d) if dirs[*d].name == n => Some(Ok(*d)),
                Entry::File(f) if names[*f] == n => {
                    Some(Err(FatError::Duplicate((*path).to_string())))
                }
                _ => None,
            });
            cur = match found {
                Some(r) => r?,
                None => {
                    dirs.push(Dir {
                        name: n,
                        parent: cur,
                        ..Dir::default()
                    });
                    let d = dirs.len() - 1;
                    dirs[cur].entries.push(Entry::Dir(d));
                    d
                }
            };
        }
        let n = short_name(last)?;
        let clash = dirs[cur].entries.iter().any(|e| match e {
            Entry::Dir(d) => dirs[*d].name == n,
            Entry::File(f) => names[*f] == n,
        });
        if clash {
            return Err(FatError::Duplicate((*path).to_string()));
        }
        names.push(n);
        dirs[cur].entries.push(Entry::File(fi));
    }
    if dirs[0].entries.len() + 1 > ROOT_ENTRIES {
        return Err(FatError::RootFull);
    }
    // Sizes in bytes of everything that takes clusters, in allocation order.
    let dir_bytes = |d: &Dir| (d.entries.len() + 2) * 32;
    let mut spc = 1usize;
    let clusters = loop {
        let cs = spc * SECTOR;
        let need: usize = dirs[1..]
            .iter()
            .map(|d| dir_bytes(d).div_ceil(cs))
            .chain(files.iter().map(|(_, data)| data.len().div_ceil(cs)))
            .sum();
        if need <= MAX_CLUSTERS {
            break need.max(MIN_CLUSTERS);
        }
        spc *= 2;
        if spc > 64 {
            return Err(FatError::TooLarge);
        }
    };
    let cs = spc * SECTOR;
    let fat_sectors = ((clusters + 2) * 2).div_ceil(SECTOR);
    let root_sectors = ROOT_ENTRIES * 32 / SECTOR;
    let reserved = 1;
    let data_start = reserved + 2 * fat_sectors + root_sectors;
    let total = data_start + clusters * spc;
    let mut img = vec![0u8; total * SECTOR];

    // Allocate clusters: directories first, then files, each contiguous.
    let mut fat = vec![0u16; clusters + 2];
    fat[0] = 0xFFF8;
    fat[1] = 0xFFFF;
    let mut next = 2usize;
    let mut alloc = |len: usize, fat: &mut Vec<u16>| -> u16 {
        let n = len.div_ceil(cs);
        if n == 0 {
            return 0;
        }
        let first = next;
        for (c, slot) in fat.iter_mut().enumerate().skip(first).take(n) {
            *slot = if c + 1 == first + n {
                0xFFFF
            } else {
                (c + 1) as u16
            };
        }
        next += n;
        first as u16
    };
    for d in dirs.iter_mut().skip(1) {
        let len = dir_bytes(d);
        d.first_cluster = alloc(len, &mut fat);
    }
    let file_clusters: Vec<u16> = files
        .iter()
        .map(|(_, data)| alloc(data.len(), &mut fat))
        .collect();

    let dt = dos_datetime(opts.mtime);
    let mut label = [b' '; 11];
    for (i, c) in opts.label.bytes().take(11).enumerate() {
        label[i] = c.to_ascii_uppercase();
    }
    let mut hash_input: Vec<&[u8]> = vec![&label];
    for (p, d) in files {
        hash_input.push(p.as_bytes());
        hash_input.push(d);
    }
    let serial = fnv128(&hash_input) as u32;

    // Boot sector with the BPB.
    let bs = &mut img[..SECTOR];
    bs[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    bs[3..11].copy_from_slice(b"NODISTRO");
    bs[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    bs[13] = spc as u8;
    bs[14..16].copy_from_slice(&(reserved as u16).to_le_bytes());
    bs[16] = 2;
    bs[17..19].copy_from_slice(&(ROOT_ENTRIES as u16).to_le_bytes());
    if total < 0x10000 {
        bs[19..21].copy_from_slice(&(total as u16).to_le_bytes());
    } else {
        bs[32..36].copy_from_slice(&(total as u32).to_le_bytes());
    }
    bs[21] = 0xF8;
    bs[22..24].copy_from_slice(&(fat_sectors as u16).to_le_bytes());
    bs[24..26].copy_from_slice(&63u16.to_le_bytes());
    bs[26..28].copy_from_slice(&255u16.to_le_bytes());
    bs[28..32].copy_from_slice(&opts.hidden_sectors.to_le_bytes());
    bs[36] = 0x80;
    bs[38] = 0x29;
    bs[39..43].copy_from_slice(&serial.to_le_bytes());
    bs[43..54].copy_from_slice(&label);
    bs[54..62].copy_from_slice(b"FAT16   ");
    // Not bootable from BIOS: halt forever.
    bs[62..65].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
    bs[510] = 0x55;
    bs[511] = 0xAA;

    // The two FATs.
    let fat_bytes: Vec<u8> = fat.iter().flat_map(|v| v.to_le_bytes()).collect();
    for copy in 0..2 {
        let at = (reserved + copy * fat_sectors) * SECTOR;
        img[at..at + fat_bytes.len()].copy_from_slice(&fat_bytes);
    }

    let cluster_at = |c: u16| (data_start + (usize::from(c) - 2) * spc) * SECTOR;
    let entry_of = |e: &Entry| -> [u8; 32] {
        match *e {
            Entry::Dir(d) => dir_entry(&dirs[d].name, ATTR_DIR, dirs[d].first_cluster, 0, dt),
            Entry::File(f) => dir_entry(
                &names[f],
                ATTR_ARCHIVE,
                file_clusters[f],
                files[f].1.len() as u32,
                dt,
            ),
        }
    };
    // The root directory: the volume label, then the entries.
    let root_at = (reserved + 2 * fat_sectors) * SECTOR;
    let mut at = root_at;
    img[at..at + 32].copy_from_slice(&dir_entry(&label, ATTR_VOLUME, 0, 0, dt));
    at += 32;
    for e in &dirs[0].entries {
        img[at..at + 32].copy_from_slice(&entry_of(e));
        at += 32;
    }
    // Subdirectories: ".", "..", then the entries.
    for d in &dirs[1..] {
        let mut at = cluster_at(d.first_cluster);
        let parent = if d.parent == 0 {
            0
        } else {
            dirs[d.parent].first_cluster
        };
        let mut dot = [b' '; 11];
        dot[0] = b'.';
        img[at..at + 32].copy_from_slice(&dir_entry(&dot, ATTR_DIR, d.first_cluster, 0, dt));
        dot[1] = b'.';
        img[at + 32..at + 64].copy_from_slice(&dir_entry(&dot, ATTR_DIR, parent, 0, dt));
        at += 64;
        for e in &d.entries {
            img[at..at + 32].copy_from_slice(&entry_of(e));
            at += 32;
        }
    }
    for (f, (_, data)) in files.iter().enumerate() {
        if file_clusters[f] != 0 {
            let at = cluster_at(file_clusters[f]);
            img[at..at + data.len()].copy_from_slice(data);
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FatOptions<'static> {
        FatOptions {
            label: "NODISTRO",
            mtime: 1_700_000_000,
            hidden_sectors: 0,
        }
    }

    #[test]
    fn names() {
        assert_eq!(&short_name("bootx64.efi").expect("ok"), b"BOOTX64 EFI");
        assert_eq!(&short_name("EFI").expect("ok"), b"EFI        ");
        for bad in ["toolongname", "a.efix", "sp ace", "x.", ".x", "a.b.c"] {
            assert!(short_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        // 2023-11-14 22:13:20 UTC.
        let (d, t) = dos_datetime(1_700_000_000);
        assert_eq!(d, ((2023 - 1980) << 9) | (11 << 5) | 14);
        assert_eq!(t, (22 << 11) | (13 << 5) | 10);
        assert_eq!(dos_datetime(0), ((1 << 5) | 1, 0));
    }

    #[test]
    fn layout_and_reproducibility() {
        let big = vec![7u8; 100_000];
        let files: [(&str, &[u8]); 3] = [
            ("EFI/BOOT/BOOTX64.EFI", &big),
            ("EFI/BOOT/empty", b""),
            ("readme.txt", b"hello"),
        ];
        let img = build(&files, &opts()).expect("builds");
        assert_eq!(img, build(&files, &opts()).expect("again"));
        assert_eq!(&img[510..512], &[0x55, 0xAA]);
        assert_eq!(&img[54..62], b"FAT16   ");
        let spc = img[13] as usize;
        let fat_sectors = u16::from_le_bytes([img[22], img[23]]) as usize;
        let total = u16::from_le_bytes([img[19], img[20]]) as usize;
        assert_eq!(img.len(), total * SECTOR);
        let data_start = 1 + 2 * fat_sectors + 32;
        let clusters = (total - data_start) / spc;
        assert!((4085..=65524).contains(&clusters), "{clusters}");
        // The file's data is where its directory entry says.
        let other = build(&files[..2], &opts()).expect("builds");
        assert_ne!(img[39..43], other[39..43], "serial follows the content");
        let root = (1 + 2 * fat_sectors) * SECTOR;
        assert_eq!(&img[root..root + 11], b"NODISTRO   ");
        assert_eq!(&img[root + 32..root + 43], b"EFI        ");
        assert_eq!(&img[root + 64..root + 75], b"README  TXT");
        let readme_cluster = u16::from_le_bytes([img[root + 90], img[root + 91]]) as usize;
        let at = (data_start + (readme_cluster - 2) * spc) * SECTOR;
        assert_eq!(&img[at..at + 5], b"hello");
    }

    #[test]
    fn refuses_bad_trees() {
        let f: [(&str, &[u8]); 2] = [("A/B", b"1"), ("A/B/C", b"2")];
        assert_eq!(build(&f, &opts()), Err(FatError::Duplicate("A/B/C".into())));
        let f: [(&str, &[u8]); 2] = [("a", b"1"), ("A", b"2")];
        assert_eq!(build(&f, &opts()), Err(FatError::Duplicate("A".into())));
        let f: [(&str, &[u8]); 1] = [("", b"1")];
        assert!(build(&f, &opts()).is_err());
    }
}
