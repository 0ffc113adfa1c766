//! The FAT16/FAT32 file-system image writer (sans-IO: files in, image
//! bytes out) for EFI system partitions, El Torito EFI images, the A/B
//! disk's ESP and the Raspberry Pi's boot partition: one [`build`], its
//! [`FatOptions`] saying the type, the size and the room to leave free.
//!
//! Only what a boot image needs: files and directories, one timestamp for
//! everything (SOURCE_DATE_EPOCH), a volume serial derived from the
//! content, so the same files give the same bytes. A name that is a valid
//! 8.3 name in one case (`BOOTX64.EFI`, `config.txt`) gets a short entry
//! only (lower case through the NT case bits Linux and mtools honour);
//! any other (`bcm2837-rpi-3-b.dtb`) gets VFAT long-name entries before a
//! `~N` short alias. 512-byte sectors, two FATs.
//!
//! FAT16: one reserved sector, a 512-entry root directory. FAT32 (the
//! Raspberry Pi's boot partition by convention, and what the UEFI
//! specification asks of a large ESP): 32 reserved sectors with the FSInfo
//! sector and the boot sector's backup, the root directory a cluster chain.
//! UEFI firmware reads FAT12, FAT16 and FAT32 alike.
//!
//! The volume's size: just large enough ([`FatOptions::size`] None) for
//! the files and [`FatOptions::free`], the cluster size the smallest that
//! keeps the cluster count in range (FAT16: 4,085 to 65,524, small images
//! padded up to that minimum; FAT32: 512-byte clusters, at least 65,525 of
//! them, 32 MiB); or a given size whose free clusters a running system
//! fills (the A/B disk's ESP, where the device writes the next slot with
//! Linux's vfat): FAT16 up to [`FAT32_FROM`], FAT32 above, the cluster size
//! mkfs.fat's. Only the used head of the volume is laid out
//! ([`Fat::head`]), so the free space can stay a hole in a disk image.

use crate::core::digest::fnv128;

const SECTOR: usize = 512;
const ROOT_ENTRIES: usize = 512;
const MIN_CLUSTERS: usize = 4_200; // above FAT12's 4,084, with margin
const MAX_CLUSTERS: usize = 65_524;
/// FAT32 starts at 65,525 clusters; a margin above it.
const MIN_CLUSTERS32: usize = 65_600;
const MAX_CLUSTERS32: usize = 0x0FFF_FFF5;
const RESERVED32: usize = 32;
const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_LFN: u8 = 0x0F;
/// NT case bits (directory entry byte 12): base, extension in lower case.
const CASE_LOWER_BASE: u8 = 0x08;
const CASE_LOWER_EXT: u8 = 0x10;
/// The longest long name VFAT holds.
const MAX_LONG_NAME: usize = 255;

/// Above this a sized volume is FAT32 (mkfs.fat's threshold, and what the
/// UEFI specification asks of a disk's ESP); below it FAT16.
pub const FAT32_FROM: u64 = 512 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FatError {
    #[error(
        "{0:?} is not a file name FAT can hold (up to 255 characters, none of \\ / : * ? \" < > |, not . or ..)"
    )]
    Name(String),
    #[error("{0:?} is given twice, or as both a file and a directory")]
    Duplicate(String),
    #[error("the root directory holds more than {} entries", ROOT_ENTRIES - 1)]
    RootFull,
    #[error("the files need more than FAT16's 2 GiB, or the volume is too large")]
    TooLarge,
    #[error("the FAT volume is too small: FAT16 needs more than 2 MiB, FAT32 more than 33 MiB")]
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
    /// FAT32 instead of FAT16 (a volume of a [`FatOptions::size`] above
    /// [`FAT32_FROM`] is FAT32 anyway).
    pub fat32: bool,
    /// Bytes to leave free beyond the files (room to edit a config file
    /// or add one on the card): the volume grows to hold them, or a sized
    /// one must.
    pub free: u64,
    /// The volume's size in bytes (rounded down to a sector); None: just
    /// large enough.
    pub size: Option<u64>,
}

impl<'a> FatOptions<'a> {
    /// A FAT16 volume just large enough for the files.
    pub fn new(label: &'a str, mtime: u32, hidden_sectors: u32) -> FatOptions<'a> {
        FatOptions {
            label,
            mtime,
            hidden_sectors,
            fat32: false,
            free: 0,
            size: None,
        }
    }
}

/// A laid-out volume.
#[derive(Debug, PartialEq, Eq)]
pub struct Fat {
    /// The first bytes of the volume: boot sector, FATs, directories and
    /// files. The rest, up to [`Fat::total`], is zeros (free clusters):
    /// leave it a hole in a disk image, or see [`Fat::into_image`].
    pub head: Vec<u8>,
    /// The volume's size in bytes.
    pub total: u64,
    /// Bytes of free clusters.
    pub free: u64,
    /// FAT32 (else FAT16).
    pub fat32: bool,
}

impl Fat {
    /// The whole volume, its free clusters as zeros.
    pub fn into_image(self) -> Vec<u8> {
        let mut img = self.head;
        img.resize(self.total as usize, 0);
        img
    }
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

    /// A volume of `clusters` clusters of `spc` sectors.
    fn fitted(fat32: bool, spc: usize, clusters: usize) -> Geometry {
        let entry_bytes = if fat32 { 4 } else { 2 };
        let fat_sectors = ((clusters + 2) * entry_bytes).div_ceil(SECTOR);
        let (reserved, root_sectors) = if fat32 {
            (RESERVED32, 0)
        } else {
            (1, ROOT_ENTRIES * 32 / SECTOR)
        };
        Geometry {
            fat32,
            spc,
            reserved,
            fat_sectors,
            root_sectors,
            clusters,
            total_sectors: reserved + 2 * fat_sectors + root_sectors + clusters * spc,
        }
    }

    /// The geometry of a volume of `sectors`.
    fn sized(sectors: usize, fat32: bool) -> Result<Geometry, FatError> {
        let (reserved, root_sectors, entry) = if fat32 {
            (RESERVED32, 0, 4)
        } else {
            (1, ROOT_ENTRIES * 32 / SECTOR, 2)
        };
        let mut spc = if fat32 {
            // 4 KiB clusters up to 8 GiB, then larger (mkfs.fat's steps);
            // smaller when a small volume would have too few.
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
            let geo = Geometry {
                fat32,
                spc,
                reserved,
                fat_sectors,
                root_sectors,
                clusters,
                total_sectors: sectors,
            };
            if fat32 && clusters < 65_525 {
                if spc == 1 {
                    return Err(FatError::TooSmall);
                }
                spc /= 2;
            } else if clusters > if fat32 { MAX_CLUSTERS32 } else { MAX_CLUSTERS } {
                spc *= 2;
                if spc > 64 {
                    return Err(FatError::TooLarge);
                }
            } else if !fat32 && clusters < MIN_CLUSTERS {
                return Err(FatError::TooSmall);
            } else {
                return Ok(geo);
            }
        }
    }
}

/// One directory entry's names: the short (8.3) entry, its NT case bits,
/// and the long name when the short one cannot say it.
#[derive(Clone)]
struct Names {
    short: [u8; 11],
    case: u8,
    long: Option<Vec<u16>>,
    /// The name as given, upper-cased: what two entries may not share.
    key: String,
}

impl Names {
    /// Directory entries (32 bytes each) the name takes.
    fn slots(&self) -> usize {
        1 + self.long.as_ref().map_or(0, |l| l.len().div_ceil(13))
    }
}

/// A directory of the image being laid out.
#[derive(Default)]
struct Dir {
    names: Option<Names>,
    parent: usize,
    entries: Vec<Entry>,
    first_cluster: u32,
}

#[derive(Clone, Copy)]
enum Entry {
    Dir(usize),
    File(usize),
}

const SHORT_OK: &str = "_-~!#$%&'(){}^@";

/// Upper-case 8.3 name in directory-entry form and its NT case bits, when
/// `component` is one (each part in one case).
fn short_name(component: &str) -> Option<([u8; 11], u8)> {
    let (base, ext) = match component.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (component, ""),
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || SHORT_OK.contains(c);
    if base.is_empty()
        || base.len() > 8
        || ext.len() > 3
        || (component.contains('.') && ext.is_empty())
        || !base.chars().all(ok)
        || !ext.chars().all(ok)
    {
        return None;
    }
    let case_of = |part: &str, bit: u8| -> Option<u8> {
        let lower = part.chars().any(|c| c.is_ascii_lowercase());
        let upper = part.chars().any(|c| c.is_ascii_uppercase());
        match (lower, upper) {
            (true, true) => None,
            (true, false) => Some(bit),
            _ => Some(0),
        }
    };
    let case = case_of(base, CASE_LOWER_BASE)? | case_of(ext, CASE_LOWER_EXT)?;
    let mut n = [b' '; 11];
    for (i, c) in base.bytes().enumerate() {
        n[i] = c.to_ascii_uppercase();
    }
    for (i, c) in ext.bytes().enumerate() {
        n[8 + i] = c.to_ascii_uppercase();
    }
    Some((n, case))
}

/// The names of `component` in a directory whose entries already have the
/// short names `taken`: its own 8.3 name, else a long name and a `~N`
/// alias not taken yet.
fn names(component: &str, taken: &[[u8; 11]]) -> Result<Names, FatError> {
    let bad = || FatError::Name(component.to_string());
    let key = component.to_uppercase();
    if let Some((short, case)) = short_name(component) {
        return Ok(Names {
            short,
            case,
            long: None,
            key,
        });
    }
    let long: Vec<u16> = component.encode_utf16().collect();
    if component.is_empty()
        || component == "."
        || component == ".."
        || long.len() > MAX_LONG_NAME
        || component
            .chars()
            .any(|c| c < ' ' || "\\/:*?\"<>|".contains(c))
    {
        return Err(bad());
    }
    // The alias: the name's letters and digits, upper-cased, the first six
    // of the base, then ~N; the first three of the extension.
    let clean = |s: &str| -> Vec<u8> {
        s.bytes()
            .filter(|b| *b != b' ' && *b != b'.')
            .map(|b| {
                if b.is_ascii_alphanumeric() || SHORT_OK.as_bytes().contains(&b) {
                    b.to_ascii_uppercase()
                } else {
                    b'_'
                }
            })
            .collect()
    };
    let (base, ext) = match component.rsplit_once('.') {
        Some((b, e)) if !b.is_empty() => (clean(b), clean(e)),
        _ => (clean(component), Vec::new()),
    };
    for n in 1..1_000_000u32 {
        let tail = format!("~{n}");
        let keep = 8 - tail.len();
        let mut short = [b' '; 11];
        let stem: Vec<u8> = base.iter().copied().take(keep.min(6)).collect();
        let stem = if stem.is_empty() { b"_".to_vec() } else { stem };
        for (i, b) in stem.iter().chain(tail.as_bytes()).enumerate() {
            short[i] = *b;
        }
        for (i, b) in ext.iter().take(3).enumerate() {
            short[8 + i] = *b;
        }
        if !taken.contains(&short) {
            return Ok(Names {
                short,
                case: 0,
                long: Some(long),
                key,
            });
        }
    }
    Err(bad())
}

/// The checksum of a short name that its long-name entries carry.
fn lfn_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// The long-name entries of `long`, in on-disk order (last part first).
fn lfn_entries(long: &[u16], short: &[u8; 11]) -> Vec<[u8; 32]> {
    let sum = lfn_checksum(short);
    let parts = long.len().div_ceil(13);
    let mut out = Vec::with_capacity(parts);
    for p in (0..parts).rev() {
        let mut e = [0u8; 32];
        e[0] = (p + 1) as u8 | if p + 1 == parts { 0x40 } else { 0 };
        e[11] = ATTR_LFN;
        e[13] = sum;
        let chunk: Vec<u16> = (0..13)
            .map(|i| match long.get(p * 13 + i) {
                Some(&c) => c,
                None if p * 13 + i == long.len() => 0,
                None => 0xFFFF,
            })
            .collect();
        let spots = (1..11)
            .step_by(2)
            .chain((14..26).step_by(2))
            .chain((28..32).step_by(2));
        for (at, c) in spots.zip(chunk) {
            e[at..at + 2].copy_from_slice(&c.to_le_bytes());
        }
        out.push(e);
    }
    out
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
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[22..24].copy_from_slice(&time.to_le_bytes());
    e[24..26].copy_from_slice(&date.to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// The volume holding `files` (path with `/` separators, contents), as
/// `opts` say.
pub fn build(files: &[(&str, &[u8])], opts: &FatOptions<'_>) -> Result<Fat, FatError> {
    let mut tree = Tree::of(files)?;
    // The root's entries and the volume label.
    let root_slots = tree.slots(&tree.dirs[0]) + 1;
    // Sizes in bytes of everything that takes clusters, in allocation
    // order: (FAT32's root,) directories, files.
    let dir_bytes: Vec<usize> = tree
        .dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if i == 0 {
                root_slots * 32
            } else {
                (tree.slots(d) + 2) * 32
            }
        })
        .collect();
    let geo = geometry(files, opts, &dir_bytes)?;
    if !geo.fat32 && root_slots > ROOT_ENTRIES {
        return Err(FatError::RootFull);
    }
    let fat = tree.allocate(&geo, &dir_bytes);
    let next = fat.len();
    let used = next - 2;
    let mut img = vec![0u8; (geo.data_start() + used * geo.spc) * SECTOR];

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
    boot_sector(
        &mut img,
        &geo,
        opts,
        tree.dirs[0].first_cluster,
        &label,
        serial,
    );
    if geo.fat32 {
        fsinfo(&mut img, &geo, used, next);
    }
    write_fats(&mut img, &geo, &fat);
    tree.write_dirs(&mut img, &geo, &label, dt);
    for (f, (_, data)) in files.iter().enumerate() {
        if tree.file_clusters[f] != 0 {
            let at = cluster_at(&geo, tree.file_clusters[f]);
            img[at..at + data.len()].copy_from_slice(data);
        }
    }
    Ok(Fat {
        head: img,
        total: geo.total_sectors as u64 * SECTOR as u64,
        free: (geo.clusters - used) as u64 * (geo.spc * SECTOR) as u64,
        fat32: geo.fat32,
    })
}

/// The directory tree of a volume: its directories (the root first) and
/// its files' names, sizes and (once allocated) first clusters.
struct Tree {
    dirs: Vec<Dir>,
    file_names: Vec<Names>,
    file_sizes: Vec<usize>,
    /// Each file's first cluster (0: empty), set by [`Tree::allocate`].
    file_clusters: Vec<u32>,
}

impl Tree {
    /// The tree of `files`, their names made unique in each directory.
    fn of(files: &[(&str, &[u8])]) -> Result<Tree, FatError> {
        let mut t = Tree {
            dirs: vec![Dir::default()],
            file_names: Vec::new(),
            file_sizes: files.iter().map(|(_, d)| d.len()).collect(),
            file_clusters: Vec::new(),
        };
        for (fi, (path, _)) in files.iter().enumerate() {
            let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
            let Some((last, parents)) = comps.split_last() else {
                return Err(FatError::Name((*path).to_string()));
            };
            let mut cur = 0;
            for c in parents {
                cur = t.subdir(cur, c, path)?;
            }
            let key = last.to_uppercase();
            let existing: Vec<Names> = t.dirs[cur]
                .entries
                .iter()
                .map(|e| t.entry_names(e))
                .collect();
            if existing.iter().any(|n| n.key == key) {
                return Err(FatError::Duplicate((*path).to_string()));
            }
            let taken: Vec<[u8; 11]> = existing.iter().map(|n| n.short).collect();
            t.file_names.push(names(last, &taken)?);
            t.dirs[cur].entries.push(Entry::File(fi));
        }
        Ok(t)
    }

    /// The subdirectory `c` of directory `cur`, made when new; a file of
    /// that name makes `path` a duplicate.
    fn subdir(&mut self, cur: usize, c: &str, path: &str) -> Result<usize, FatError> {
        let key = c.to_uppercase();
        let found = self.dirs[cur].entries.iter().find_map(|e| match e {
            Entry::Dir(d) if self.dirs[*d].names.as_ref().is_some_and(|n| n.key == key) => {
                Some(Ok(*d))
            }
            Entry::File(f) if self.file_names[*f].key == key => {
                Some(Err(FatError::Duplicate(path.to_string())))
            }
            _ => None,
        });
        if let Some(r) = found {
            return r;
        }
        let taken: Vec<[u8; 11]> = self.dirs[cur]
            .entries
            .iter()
            .map(|e| self.entry_names(e).short)
            .collect();
        let n = names(c, &taken)?;
        self.dirs.push(Dir {
            names: Some(n),
            parent: cur,
            ..Dir::default()
        });
        let d = self.dirs.len() - 1;
        self.dirs[cur].entries.push(Entry::Dir(d));
        Ok(d)
    }

    fn entry_names(&self, e: &Entry) -> Names {
        match e {
            Entry::Dir(d) => self.dirs[*d].names.clone().unwrap_or_else(|| Names {
                short: [b' '; 11],
                case: 0,
                long: None,
                key: String::new(),
            }),
            Entry::File(f) => self.file_names[*f].clone(),
        }
    }

    /// The directory entries `d` holds (long name slots included).
    fn slots(&self, d: &Dir) -> usize {
        d.entries.iter().map(|e| self.entry_names(e).slots()).sum()
    }

    /// Allocate clusters: (FAT32's root,) directories, then files, each
    /// contiguous. Returns the FAT's entries.
    fn allocate(&mut self, geo: &Geometry, dir_bytes: &[usize]) -> Vec<u32> {
        let cs = geo.spc * SECTOR;
        let eoc: u32 = if geo.fat32 { 0x0FFF_FFFF } else { 0xFFFF };
        let mut fat: Vec<u32> = vec![if geo.fat32 { 0x0FFF_FFF8 } else { 0xFFF8 }, eoc];
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
        for (i, d) in self
            .dirs
            .iter_mut()
            .enumerate()
            .skip(usize::from(!geo.fat32))
        {
            d.first_cluster = alloc(dir_bytes[i], &mut fat);
        }
        self.file_clusters = self
            .file_sizes
            .iter()
            .map(|&len| alloc(len, &mut fat))
            .collect();
        fat
    }

    /// An entry's raw slots: its long name's, then its short entry.
    fn raw_entries(&self, e: &Entry, dt: (u16, u16)) -> Vec<[u8; 32]> {
        let n = self.entry_names(e);
        let mut short = match *e {
            Entry::Dir(d) => dir_entry(&n.short, ATTR_DIR, self.dirs[d].first_cluster, 0, dt),
            Entry::File(f) => dir_entry(
                &n.short,
                ATTR_ARCHIVE,
                self.file_clusters[f],
                self.file_sizes[f] as u32,
                dt,
            ),
        };
        short[12] = n.case;
        let mut out = n
            .long
            .as_ref()
            .map(|l| lfn_entries(l, &n.short))
            .unwrap_or_default();
        out.push(short);
        out
    }

    /// The directories' contents: the root (the volume label first), then
    /// each subdirectory ("." and ".." first).
    fn write_dirs(&self, img: &mut [u8], geo: &Geometry, label: &[u8; 11], dt: (u16, u16)) {
        // The root directory: the volume label, then the entries.
        let mut at = if geo.fat32 {
            cluster_at(geo, self.dirs[0].first_cluster)
        } else {
            (geo.reserved + 2 * geo.fat_sectors) * SECTOR
        };
        img[at..at + 32].copy_from_slice(&dir_entry(label, ATTR_VOLUME, 0, 0, dt));
        at += 32;
        for e in &self.dirs[0].entries {
            for raw in self.raw_entries(e, dt) {
                img[at..at + 32].copy_from_slice(&raw);
                at += 32;
            }
        }
        // Subdirectories: ".", "..", then the entries.
        for d in &self.dirs[1..] {
            let mut at = cluster_at(geo, d.first_cluster);
            // ".." of a directory in the root names cluster 0, FAT32 too.
            let parent = if d.parent == 0 {
                0
            } else {
                self.dirs[d.parent].first_cluster
            };
            let mut dot = [b' '; 11];
            dot[0] = b'.';
            img[at..at + 32].copy_from_slice(&dir_entry(&dot, ATTR_DIR, d.first_cluster, 0, dt));
            dot[1] = b'.';
            img[at + 32..at + 64].copy_from_slice(&dir_entry(&dot, ATTR_DIR, parent, 0, dt));
            at += 64;
            for e in &d.entries {
                for raw in self.raw_entries(e, dt) {
                    img[at..at + 32].copy_from_slice(&raw);
                    at += 32;
                }
            }
        }
    }
}

/// The byte offset of cluster `c` in the volume.
fn cluster_at(geo: &Geometry, c: u32) -> usize {
    (geo.data_start() + (c as usize - 2) * geo.spc) * SECTOR
}

/// The volume's geometry: `opts.size`'s, checked to hold the directories
/// (`dir_bytes`), the files and the free room asked for; else the
/// smallest that holds them.
fn geometry(
    files: &[(&str, &[u8])],
    opts: &FatOptions<'_>,
    dir_bytes: &[usize],
) -> Result<Geometry, FatError> {
    // Clusters of `cs` bytes the directories and files take.
    let need = |cs: usize, fat32: bool| -> usize {
        dir_bytes[usize::from(!fat32)..]
            .iter()
            .map(|b| b.div_ceil(cs))
            .chain(files.iter().map(|(_, data)| data.len().div_ceil(cs)))
            .sum::<usize>()
    };
    let free_clusters =
        |cs: usize| usize::try_from(opts.free.div_ceil(cs as u64)).unwrap_or(usize::MAX);
    match opts.size {
        Some(t) => {
            let sectors = usize::try_from(t / SECTOR as u64).map_err(|_| FatError::TooLarge)?;
            let g = Geometry::sized(sectors, opts.fat32 || t > FAT32_FROM)?;
            let cs = g.spc * SECTOR;
            let n = need(cs, g.fat32).saturating_add(free_clusters(cs));
            if n > g.clusters {
                return Err(FatError::Full {
                    need: n as u64 * cs as u64,
                    total: t,
                });
            }
            Ok(g)
        }
        None => {
            let (min_clusters, max_clusters) = if opts.fat32 {
                (MIN_CLUSTERS32, MAX_CLUSTERS32)
            } else {
                (MIN_CLUSTERS, MAX_CLUSTERS)
            };
            let mut spc = 1usize;
            let clusters = loop {
                let cs = spc * SECTOR;
                let n = need(cs, opts.fat32).saturating_add(free_clusters(cs));
                if n <= max_clusters {
                    break n.max(min_clusters);
                }
                spc *= 2;
                if spc > 64 {
                    return Err(FatError::TooLarge);
                }
            };
            Ok(Geometry::fitted(opts.fat32, spc, clusters))
        }
    }
}

/// The boot sector with the BPB (not bootable from BIOS).
fn boot_sector(
    img: &mut [u8],
    geo: &Geometry,
    opts: &FatOptions<'_>,
    root_cluster: u32,
    label: &[u8; 11],
    serial: u32,
) {
    let total = geo.total_sectors;
    let bs = &mut img[..SECTOR];
    bs[..3].copy_from_slice(&[0xEB, if geo.fat32 { 0x58 } else { 0x3C }, 0x90]);
    bs[3..11].copy_from_slice(b"NODISTRO");
    bs[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    bs[13] = geo.spc as u8;
    bs[14..16].copy_from_slice(&(geo.reserved as u16).to_le_bytes());
    bs[16] = 2;
    bs[21] = 0xF8;
    bs[24..26].copy_from_slice(&63u16.to_le_bytes());
    bs[26..28].copy_from_slice(&255u16.to_le_bytes());
    bs[28..32].copy_from_slice(&opts.hidden_sectors.to_le_bytes());
    // The extended BPB: FAT16's at 36, FAT32's at 64.
    let ext = if geo.fat32 {
        bs[32..36].copy_from_slice(&(total as u32).to_le_bytes());
        bs[36..40].copy_from_slice(&(geo.fat_sectors as u32).to_le_bytes());
        bs[44..48].copy_from_slice(&root_cluster.to_le_bytes());
        bs[48..50].copy_from_slice(&1u16.to_le_bytes()); // FSInfo
        bs[50..52].copy_from_slice(&6u16.to_le_bytes()); // backup boot sector
        64
    } else {
        bs[17..19].copy_from_slice(&(ROOT_ENTRIES as u16).to_le_bytes());
        if total < 0x10000 {
            bs[19..21].copy_from_slice(&(total as u16).to_le_bytes());
        } else {
            bs[32..36].copy_from_slice(&(total as u32).to_le_bytes());
        }
        bs[22..24].copy_from_slice(&(geo.fat_sectors as u16).to_le_bytes());
        36
    };
    bs[ext] = 0x80;
    bs[ext + 2] = 0x29;
    bs[ext + 3..ext + 7].copy_from_slice(&serial.to_le_bytes());
    bs[ext + 7..ext + 18].copy_from_slice(label);
    bs[ext + 18..ext + 26].copy_from_slice(if geo.fat32 { b"FAT32   " } else { b"FAT16   " });
    // Not bootable from BIOS: halt forever.
    bs[ext + 26..ext + 29].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
    bs[510] = 0x55;
    bs[511] = 0xAA;
}

/// FAT32's FSInfo (sector 1), then the backups of it and the boot sector
/// (sectors 6 and 7): `used` clusters, the next free one `next`.
fn fsinfo(img: &mut [u8], geo: &Geometry, used: usize, next: usize) {
    let fsinfo = &mut img[SECTOR..2 * SECTOR];
    fsinfo[..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
    fsinfo[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
    fsinfo[488..492].copy_from_slice(&((geo.clusters - used) as u32).to_le_bytes());
    fsinfo[492..496].copy_from_slice(&(next as u32).to_le_bytes());
    fsinfo[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());
    img.copy_within(..2 * SECTOR, 6 * SECTOR);
}

/// The two FATs.
fn write_fats(img: &mut [u8], geo: &Geometry, fat: &[u32]) {
    let fat_bytes: Vec<u8> = if geo.fat32 {
        fat.iter().flat_map(|v| v.to_le_bytes()).collect()
    } else {
        fat.iter().flat_map(|v| (*v as u16).to_le_bytes()).collect()
    };
    for copy in 0..2 {
        let at = (geo.reserved + copy * geo.fat_sectors) * SECTOR;
        img[at..at + fat_bytes.len()].copy_from_slice(&fat_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FatOptions<'static> {
        FatOptions {
            label: "NODISTRO",
            mtime: 1_700_000_000,
            hidden_sectors: 0,
            fat32: false,
            free: 0,
            size: None,
        }
    }

    /// The whole image of a volume just large enough.
    fn image(files: &[(&str, &[u8])], o: &FatOptions<'_>) -> Result<Vec<u8>, FatError> {
        build(files, o).map(Fat::into_image)
    }

    #[test]
    fn short_and_long_names() {
        assert_eq!(
            short_name("bootx64.efi").expect("ok"),
            (*b"BOOTX64 EFI", CASE_LOWER_BASE | CASE_LOWER_EXT)
        );
        assert_eq!(short_name("EFI").expect("ok"), (*b"EFI        ", 0));
        assert_eq!(
            short_name("README.txt").expect("ok"),
            (*b"README  TXT", CASE_LOWER_EXT)
        );
        for long in [
            "toolongname",
            "a.efix",
            "sp ace",
            "x.",
            ".x",
            "a.b.c",
            "Mixed.txt",
        ] {
            assert!(short_name(long).is_none(), "{long}");
            let n = names(long, &[]).expect("a long name");
            assert!(n.long.is_some(), "{long}");
        }
        for bad in ["", ".", "..", "a:b", "a*", "q?", &"x".repeat(256)] {
            assert!(names(bad, &[]).is_err(), "{bad}");
        }
        // Aliases are unique in their directory.
        let a = names("bcm2837-rpi-3-b.dtb", &[]).expect("ok");
        assert_eq!(&a.short, b"BCM283~1DTB");
        let b = names("bcm2837-rpi-3-b-plus.dtb", &[a.short]).expect("ok");
        assert_eq!(&b.short, b"BCM283~2DTB");
    }

    #[test]
    fn long_name_entries() {
        let short = *b"BCM283~1DTB";
        let long: Vec<u16> = "bcm2837-rpi-3-b.dtb".encode_utf16().collect();
        let e = lfn_entries(&long, &short);
        assert_eq!(e.len(), 2);
        // The last part first, flagged 0x40; both carry the checksum.
        assert_eq!(e[0][0], 0x42);
        assert_eq!(e[1][0], 0x01);
        assert!(e
            .iter()
            .all(|x| x[11] == ATTR_LFN && x[13] == lfn_checksum(&short)));
        // Part 1 holds the first 13 characters: "bcm2837-rpi-3".
        assert_eq!(e[1][1], b'b');
        assert_eq!(e[1][30], b'3');
        // Part 2: "-b.dtb", the terminator, then 0xFFFF padding.
        assert_eq!(e[0][1], b'-');
        assert_eq!(&e[0][14..16], &[b'b', 0]);
        assert_eq!(&e[0][16..18], &[0, 0]);
        assert_eq!(&e[0][18..20], &[0xFF, 0xFF]);
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
        let img = image(&files, &opts()).expect("builds");
        assert_eq!(img, image(&files, &opts()).expect("again"));
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
        let other = image(&files[..2], &opts()).expect("builds");
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
    fn fat32_layout() {
        let big = vec![3u8; 70_000];
        let files: [(&str, &[u8]); 3] = [
            ("config.txt", b"arm_64bit=1\n"),
            ("bcm2837-rpi-3-b.dtb", &big),
            ("overlays/README", b"x"),
        ];
        let o = FatOptions {
            fat32: true,
            hidden_sectors: 2048,
            free: 40 << 20,
            ..opts()
        };
        let img = image(&files, &o).expect("builds");
        assert_eq!(img, image(&files, &o).expect("again"));
        assert_eq!(&img[82..90], b"FAT32   ");
        assert_eq!(u16::from_le_bytes([img[14], img[15]]), 32);
        assert_eq!(u16::from_le_bytes([img[17], img[18]]), 0, "no fixed root");
        let total = u32::from_le_bytes([img[32], img[33], img[34], img[35]]) as usize;
        assert_eq!(img.len(), total * SECTOR);
        let fat_sectors = u32::from_le_bytes([img[36], img[37], img[38], img[39]]) as usize;
        let clusters = total - 32 - 2 * fat_sectors;
        assert!(clusters >= 65_525, "{clusters}");
        assert_eq!(&img[28..32], &2048u32.to_le_bytes());
        // 40 MiB asked free: more than FAT32's minimum size needs.
        let free = u32::from_le_bytes([img[1000], img[1001], img[1002], img[1003]]) as usize;
        assert!(free * 512 >= 40 << 20, "{free} clusters free");
        assert_eq!(
            free,
            clusters - 1 - 137 - 1 - 1 - 1,
            "root, the dtb, the config, the directory, the readme"
        );
        // FSInfo and the backups.
        assert_eq!(&img[512..516], b"RRaA");
        assert_eq!(&img[512 + 484..512 + 488], b"rrAa");
        assert_eq!(img[..1024], img[6 * 512..8 * 512]);
        // The root (cluster 2): label, config.txt, the long name's two
        // entries then its alias, the directory.
        let root = (32 + 2 * fat_sectors) * SECTOR;
        assert_eq!(&img[root..root + 11], b"NODISTRO   ");
        assert_eq!(&img[root + 32..root + 43], b"CONFIG  TXT");
        assert_eq!(img[root + 32 + 12], CASE_LOWER_BASE | CASE_LOWER_EXT);
        assert_eq!(img[root + 64], 0x42);
        assert_eq!(&img[root + 128..root + 139], b"BCM283~1DTB");
        assert_eq!(&img[root + 160..root + 171], b"OVERLAYS   ");
    }

    fn sized(size: u64) -> FatOptions<'static> {
        FatOptions {
            size: Some(size),
            ..opts()
        }
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
        let fs = build(&files, &sized(200 << 20)).expect("fits");
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
        assert_eq!(fs, build(&files, &sized(200 << 20)).expect("again"));
        assert!(matches!(
            build(&files, &sized(5 << 20)),
            Err(FatError::Full { .. })
        ));
        assert_eq!(build(&files, &sized(1 << 20)), Err(FatError::TooSmall));
    }

    #[test]
    fn sized_fat32_above_512_mib() {
        let uki = vec![5u8; 100_000];
        let files: [(&str, &[u8]); 2] = [("EFI/BOOT/BOOTX64.EFI", &uki), ("x.txt", b"x")];
        let fs = build(&files, &sized(600 << 20)).expect("fits");
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
    fn sized_fat32_asked_for_and_long_names() {
        // The Pi's card at a fixed size: FAT32 below 512 MiB when asked
        // for, long names, the free room checked.
        let big = vec![3u8; 70_000];
        let files: [(&str, &[u8]); 2] = [("config.txt", b"x"), ("bcm2837-rpi-3-b.dtb", &big)];
        let o = FatOptions {
            fat32: true,
            free: 8 << 20,
            ..sized(64 << 20)
        };
        let fs = build(&files, &o).expect("fits");
        assert!(fs.fat32 && fs.total == 64 << 20 && fs.free >= 8 << 20);
        let (spc, reserved, fat, root, total) = bpb(&fs.head);
        assert_eq!((reserved, root, total), (32, 0, 64 << 11));
        assert!((total - reserved - 2 * fat) / spc >= 65_525);
        let root_at = (reserved + 2 * fat) * 512;
        assert_eq!(fs.head[root_at + 64], 0x42, "the long name's last part");
        assert_eq!(&fs.head[root_at + 128..root_at + 139], b"BCM283~1DTB");
        assert!(matches!(
            build(
                &files,
                &FatOptions {
                    free: 80 << 20,
                    ..o
                }
            ),
            Err(FatError::Full { .. })
        ));
        assert_eq!(
            build(
                &files,
                &FatOptions {
                    size: Some(16 << 20),
                    ..o
                }
            ),
            Err(FatError::TooSmall)
        );
        // The whole image is the head and zeros.
        let head = fs.head.clone();
        let img = fs.into_image();
        assert_eq!(img.len(), 64 << 20);
        assert_eq!(img[..head.len()], head[..]);
        assert!(img[head.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn refuses_bad_trees() {
        let f: [(&str, &[u8]); 2] = [("A/B", b"1"), ("A/B/C", b"2")];
        assert_eq!(image(&f, &opts()), Err(FatError::Duplicate("A/B/C".into())));
        let f: [(&str, &[u8]); 2] = [("a", b"1"), ("A", b"2")];
        assert_eq!(image(&f, &opts()), Err(FatError::Duplicate("A".into())));
        let f: [(&str, &[u8]); 1] = [("", b"1")];
        assert!(image(&f, &opts()).is_err());
    }
}
