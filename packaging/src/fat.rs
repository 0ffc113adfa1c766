//! A FAT16/FAT32 file-system image writer (sans-IO: files in, image bytes
//! out) for EFI system partitions and El Torito EFI images.
//!
//! Only what a boot image needs: 8.3 names (no long-name entries), files
//! and directories, one timestamp for everything (SOURCE_DATE_EPOCH), a
//! volume serial derived from the content, so the same files give the same
//! bytes. 512-byte sectors, two FATs.
//!
//! [`build`] writes a FAT16 volume just large enough: one reserved sector,
//! a 512-entry root directory, the smallest cluster size that keeps the
//! cluster count in FAT16's range (4,085 to 65,524), small images padded
//! up to that minimum. UEFI firmware reads FAT12, FAT16 and FAT32 alike.
//!
//! [`build_sized`] writes a volume of a given size whose free clusters a
//! running system fills (the A/B disk's ESP, where the device writes the
//! next slot with Linux's vfat): FAT16 up to 512 MiB, FAT32 above (32
//! reserved sectors with FSInfo and the boot sector's backup, the root
//! directory a cluster chain), only the used head returned so the free
//! space stays a hole in the disk image.

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
    #[error("the FAT volume is too small: at least 2 MiB")]
    TooSmall,
    #[error("the files need {need} bytes, more than the {total}-byte FAT volume holds")]
    Full { need: u64, total: u64 },
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
    first_cluster: u32,
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

fn dir_entry(name: &[u8; 11], attr: u8, cluster: u32, size: u32, dt: (u16, u16)) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = attr;
    let (date, time) = dt;
    e[14..16].copy_from_slice(&time.to_le_bytes());
    e[16..18].copy_from_slice(&date.to_le_bytes());
    e[18..20].copy_from_slice(&date.to_le_bytes());
    e[22..24].copy_from_slice(&time.to_le_bytes());
    e[24..26].copy_from_slice(&date.to_le_bytes());
    // The high half is FAT32's (zero on FAT16).
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// The image holding `files` (path with `/` separators, contents): FAT16,
/// just large enough (at least FAT16's minimum cluster count).
pub fn build(files: &[(&str, &[u8])], opts: &FatOptions<'_>) -> Result<Vec<u8>, FatError> {
    let fs = lay_out(files, opts, None)?;
    let mut img = fs.head;
    img.resize(fs.total as usize, 0);
    Ok(img)
}

/// A file system of a fixed size whose tail is free space.
#[derive(Debug, PartialEq, Eq)]
pub struct SizedFat {
    /// The first bytes of the volume: boot sector, FATs, directories and
    /// files. The rest, up to [`SizedFat::total`], is zeros (free
    /// clusters): leave it a hole in the disk image.
    pub head: Vec<u8>,
    /// The volume's size in bytes.
    pub total: u64,
    /// Bytes of free clusters.
    pub free: u64,
    /// FAT32 (else FAT16).
    pub fat32: bool,
}

/// Above this a sized volume is FAT32 (mkfs.fat's threshold, and what the
/// UEFI specification asks of a disk's ESP); below it FAT16.
pub const FAT32_FROM: u64 = 512 << 20;

/// The image holding `files` in a volume of `total_bytes` (rounded down to
/// a sector), the space the files do not take left free for the running
/// system to write in (Linux's vfat): FAT16 up to [`FAT32_FROM`], FAT32
/// above.
pub fn build_sized(
    files: &[(&str, &[u8])],
    opts: &FatOptions<'_>,
    total_bytes: u64,
) -> Result<SizedFat, FatError> {
    lay_out(files, opts, Some(total_bytes))
}

/// Where things are on the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    fat32: bool,
    /// Sectors per cluster.
    spc: usize,
    reserved: usize,
    fat_sectors: usize,
    /// FAT16's fixed root directory (0 on FAT32: the root is a cluster chain).
    root_sectors: usize,
    clusters: usize,
    total_sectors: usize,
}

impl Geometry {
    fn data_start(&self) -> usize {
        self.reserved + 2 * self.fat_sectors + self.root_sectors
    }

    /// The geometry of a volume of `sectors`.
    fn sized(sectors: usize) -> Result<Geometry, FatError> {
        let fat32 = sectors as u64 * SECTOR as u64 > FAT32_FROM;
        let (reserved, root_sectors, entry) = if fat32 {
            (32, 0, 4)
        } else {
            (1, ROOT_ENTRIES * 32 / SECTOR, 2)
        };
        let mut spc = if fat32 {
            // 4 KiB clusters up to 8 GiB, then larger (mkfs.fat's steps).
            match sectors as u64 * SECTOR as u64 {
                n if n <= 8 << 30 => 8,
                n if n <= 16 << 30 => 16,
                n if n <= 32 << 30 => 32,
                _ => 64,
            }
        } else {
            1
        };
        loop {
            let overhead = reserved + root_sectors;
            let room = sectors.checked_sub(overhead).ok_or(FatError::TooSmall)?;
            // Sized for every sector as a cluster: a little too large,
            // which a FAT may be.
            let fat_sectors = ((room / spc + 2) * entry).div_ceil(SECTOR);
            let data = room
                .checked_sub(2 * fat_sectors)
                .ok_or(FatError::TooSmall)?;
            let clusters = data / spc;
            let fits = if fat32 {
                (65_525..=0x0FFF_FFF5).contains(&clusters)
            } else {
                clusters <= MAX_CLUSTERS
            };
            if fits {
                if !fat32 && clusters < MIN_CLUSTERS {
                    return Err(FatError::TooSmall);
                }
                return Ok(Geometry {
                    fat32,
                    spc,
                    reserved,
                    fat_sectors,
                    root_sectors,
                    clusters,
                    total_sectors: sectors,
                });
            }
            spc *= 2;
            if spc > 64 || fat32 && clusters < 65_525 {
                return Err(FatError::TooLarge);
            }
        }
    }
}

fn lay_out(
    files: &[(&str, &[u8])],
    opts: &FatOptions<'_>,
    total_bytes: Option<u64>,
) -> Result<SizedFat, FatError> {
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
    // Sizes in bytes of everything that takes clusters, in allocation order.
    let dir_bytes = |d: &Dir| (d.entries.len() + 2) * 32;
    // FAT32's root: the label and the entries, in clusters.
    let root_bytes = (dirs[0].entries.len() + 1) * 32;
    let need = |cs: usize, fat32: bool| -> usize {
        let root = if fat32 { root_bytes.div_ceil(cs) } else { 0 };
        root + dirs[1..]
            .iter()
            .map(|d| dir_bytes(d).div_ceil(cs))
            .chain(files.iter().map(|(_, data)| data.len().div_ceil(cs)))
            .sum::<usize>()
    };
    let geo = match total_bytes {
        Some(t) => {
            let sectors = usize::try_from(t / SECTOR as u64).map_err(|_| FatError::TooLarge)?;
            let g = Geometry::sized(sectors)?;
            if need(g.spc * SECTOR, g.fat32) > g.clusters {
                return Err(FatError::Full {
                    need: need(g.spc * SECTOR, g.fat32) as u64 * (g.spc * SECTOR) as u64,
                    total: t,
                });
            }
            g
        }
        None => {
            let mut spc = 1usize;
            let clusters = loop {
                let n = need(spc * SECTOR, false);
                if n <= MAX_CLUSTERS {
                    break n.max(MIN_CLUSTERS);
                }
                spc *= 2;
                if spc > 64 {
                    return Err(FatError::TooLarge);
                }
            };
            let fat_sectors = ((clusters + 2) * 2).div_ceil(SECTOR);
            let root_sectors = ROOT_ENTRIES * 32 / SECTOR;
            Geometry {
                fat32: false,
                spc,
                reserved: 1,
                fat_sectors,
                root_sectors,
                clusters,
                total_sectors: 1 + 2 * fat_sectors + root_sectors + clusters * spc,
            }
        }
    };
    if !geo.fat32 && dirs[0].entries.len() + 1 > ROOT_ENTRIES {
        return Err(FatError::RootFull);
    }
    let spc = geo.spc;
    let cs = spc * SECTOR;
    let data_start = geo.data_start();

    // Allocate clusters: FAT32's root, directories, then files, each
    // contiguous.
    let eoc: u32 = if geo.fat32 { 0x0FFF_FFFF } else { 0xFFFF };
    let mut fat: Vec<u32> = vec![0; 2];
    fat[0] = if geo.fat32 { 0x0FFF_FFF8 } else { 0xFFF8 };
    fat[1] = eoc;
    let alloc = |len: usize, fat: &mut Vec<u32>| -> u32 {
        let n = len.div_ceil(cs);
        if n == 0 {
            return 0;
        }
        let first = fat.len();
        for c in first..first + n {
            fat.push(if c + 1 == first + n {
                eoc
            } else {
                c as u32 + 1
            });
        }
        first as u32
    };
    let root_cluster = if geo.fat32 {
        alloc(root_bytes, &mut fat)
    } else {
        0
    };
    for d in dirs.iter_mut().skip(1) {
        let len = dir_bytes(d);
        d.first_cluster = alloc(len, &mut fat);
    }
    let file_clusters: Vec<u32> = files
        .iter()
        .map(|(_, data)| alloc(data.len(), &mut fat))
        .collect();
    let used = fat.len() - 2;
    let head_sectors = data_start + used * spc;
    let mut img = vec![0u8; head_sectors * SECTOR];

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
    let total = geo.total_sectors;
    let bs = &mut img[..SECTOR];
    bs[3..11].copy_from_slice(b"NODISTRO");
    bs[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    bs[13] = spc as u8;
    bs[14..16].copy_from_slice(&(geo.reserved as u16).to_le_bytes());
    bs[16] = 2;
    if !geo.fat32 {
        bs[17..19].copy_from_slice(&(ROOT_ENTRIES as u16).to_le_bytes());
    }
    if total < 0x10000 && !geo.fat32 {
        bs[19..21].copy_from_slice(&(total as u16).to_le_bytes());
    } else {
        bs[32..36].copy_from_slice(&(total as u32).to_le_bytes());
    }
    bs[21] = 0xF8;
    bs[24..26].copy_from_slice(&63u16.to_le_bytes());
    bs[26..28].copy_from_slice(&255u16.to_le_bytes());
    bs[28..32].copy_from_slice(&opts.hidden_sectors.to_le_bytes());
    // Where the extended BPB (drive, signature, serial, label, type) is.
    let ext = if geo.fat32 {
        bs[..3].copy_from_slice(&[0xEB, 0x58, 0x90]);
        bs[36..40].copy_from_slice(&(geo.fat_sectors as u32).to_le_bytes());
        bs[44..48].copy_from_slice(&root_cluster.to_le_bytes());
        // FSInfo in sector 1, the boot sector's backup in sector 6.
        bs[48..50].copy_from_slice(&1u16.to_le_bytes());
        bs[50..52].copy_from_slice(&6u16.to_le_bytes());
        64
    } else {
        bs[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
        bs[22..24].copy_from_slice(&(geo.fat_sectors as u16).to_le_bytes());
        36
    };
    bs[ext] = 0x80;
    bs[ext + 2] = 0x29;
    bs[ext + 3..ext + 7].copy_from_slice(&serial.to_le_bytes());
    bs[ext + 7..ext + 18].copy_from_slice(&label);
    bs[ext + 18..ext + 26].copy_from_slice(if geo.fat32 { b"FAT32   " } else { b"FAT16   " });
    // Not bootable from BIOS: halt forever.
    bs[ext + 26..ext + 29].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
    bs[510] = 0x55;
    bs[511] = 0xAA;
    let free_clusters = geo.clusters - used;
    if geo.fat32 {
        let info = &mut img[SECTOR..2 * SECTOR];
        info[..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
        info[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
        info[488..492].copy_from_slice(&(free_clusters as u32).to_le_bytes());
        info[492..496].copy_from_slice(&(fat.len() as u32).to_le_bytes());
        info[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());
        img.copy_within(..2 * SECTOR, 6 * SECTOR);
    }

    // The two FATs.
    let fat_bytes: Vec<u8> = if geo.fat32 {
        fat.iter().flat_map(|v| v.to_le_bytes()).collect()
    } else {
        fat.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect()
    };
    for copy in 0..2 {
        let at = (geo.reserved + copy * geo.fat_sectors) * SECTOR;
        img[at..at + fat_bytes.len()].copy_from_slice(&fat_bytes);
    }

    let cluster_at = |c: u32| (data_start + (c as usize - 2) * spc) * SECTOR;
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
    let root_at = if geo.fat32 {
        cluster_at(root_cluster)
    } else {
        (geo.reserved + 2 * geo.fat_sectors) * SECTOR
    };
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
        // ".." of a directory in the root is cluster 0, on FAT32 too.
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
    Ok(SizedFat {
        head: img,
        total: total as u64 * SECTOR as u64,
        free: free_clusters as u64 * cs as u64,
        fat32: geo.fat32,
    })
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

    /// The BPB fields the kernel's vfat reads: (sectors per cluster,
    /// reserved, FAT sectors, root entries, total sectors).
    fn bpb(img: &[u8]) -> (usize, usize, usize, usize, usize) {
        let u16_at = |i: usize| u16::from_le_bytes([img[i], img[i + 1]]) as usize;
        let u32_at =
            |i: usize| u32::from_le_bytes([img[i], img[i + 1], img[i + 2], img[i + 3]]) as usize;
        let fat = match u16_at(22) {
            0 => u32_at(36),
            n => n,
        };
        let total = match u16_at(19) {
            0 => u32_at(32),
            n => n,
        };
        (img[13] as usize, u16_at(14), fat, u16_at(17), total)
    }

    #[test]
    fn sized_fat16_leaves_the_rest_free() {
        let uki = vec![9u8; 3 << 20];
        let files: [(&str, &[u8]); 2] =
            [("EFI/BOOT/BOOTX64.EFI", &uki), ("EFI/nodistro/A.EFI", &uki)];
        let fs = build_sized(&files, &opts(), 200 << 20).expect("fits");
        assert!(!fs.fat32);
        assert_eq!(fs.total, 200 << 20);
        assert_eq!(&fs.head[54..62], b"FAT16   ");
        let (spc, reserved, fat, root, total) = bpb(&fs.head);
        assert_eq!((reserved, root, total), (1, 512, 409_600));
        let clusters = (total - reserved - 2 * fat - 32) / spc;
        assert!((4085..=65524).contains(&clusters), "{clusters}");
        assert!(
            fat * 512 / 2 >= clusters + 2,
            "the FAT covers every cluster"
        );
        // Two files of 3 MiB and one directory cluster each for EFI,
        // BOOT and nodistro are used; the rest is free.
        let cs = (spc * 512) as u64;
        assert_eq!(fs.free, (clusters as u64 - 3 - 2 * (3 << 20) / cs) * cs);
        assert!(fs.free > 190 << 20);
        // Only the used part comes back.
        assert!(fs.head.len() < (8 << 20), "{}", fs.head.len());
        assert_eq!(fs, build_sized(&files, &opts(), 200 << 20).expect("again"));
        assert!(matches!(
            build_sized(&files, &opts(), 5 << 20),
            Err(FatError::Full { .. })
        ));
        assert_eq!(
            build_sized(&files, &opts(), 1 << 20),
            Err(FatError::TooSmall)
        );
    }

    #[test]
    fn sized_fat32_above_512_mib() {
        let uki = vec![5u8; 100_000];
        let files: [(&str, &[u8]); 2] = [("EFI/BOOT/BOOTX64.EFI", &uki), ("x.txt", b"x")];
        let fs = build_sized(&files, &opts(), 600 << 20).expect("fits");
        assert!(fs.fat32);
        let img = &fs.head;
        assert_eq!(&img[82..90], b"FAT32   ");
        assert_eq!(&img[71..82], b"NODISTRO   ");
        let (spc, reserved, fat, root, total) = bpb(img);
        assert_eq!((spc, reserved, root, total), (8, 32, 0, 600 << 11));
        let clusters = (total - reserved - 2 * fat) / spc;
        assert!(clusters >= 65_525 && fat * 128 >= clusters + 2);
        // FSInfo, and the backup of the boot sector and FSInfo.
        assert_eq!(&img[512..516], b"RRaA");
        assert_eq!(&img[512 + 484..512 + 488], b"rrAa");
        assert_eq!(img[..1024], img[6 * 512..7 * 512 + 512]);
        let free = u32::from_le_bytes([img[1000], img[1001], img[1002], img[1003]]);
        assert_eq!(u64::from(free) * 4096, fs.free);
        // The root is cluster 2: its label, then EFI and X.TXT.
        let root_at = (reserved + 2 * fat) * 512;
        assert_eq!(&img[root_at..root_at + 11], b"NODISTRO   ");
        assert_eq!(&img[root_at + 32..root_at + 43], b"EFI        ");
        assert_eq!(&img[root_at + 64..root_at + 75], b"X       TXT");
        // FAT[2] (the root) ends its chain.
        let fat_at = reserved * 512;
        assert_eq!(&img[fat_at + 8..fat_at + 12], &0x0FFF_FFFFu32.to_le_bytes());
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
