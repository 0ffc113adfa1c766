//! UEFI boot variables as efivarfs shows them: `Boot####` load options
//! (UEFI 2.10 §3.1.3) with a hard-drive media device path to a file on the
//! ESP, `BootOrder`/`BootNext`/`BootCurrent`, and the 4-byte attribute
//! prefix every efivarfs file carries.

/// EFI_GLOBAL_VARIABLE, as efivarfs spells it in file names.
pub const GLOBAL: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// nodistro's vendor GUID (its own variables).
pub const NODISTRO: &str = "6e6f6469-7374-726f-8a1c-4f0d2b5e9a31";
/// NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS.
pub const ATTR_NV_BS_RT: u32 = 0x7;
/// LOAD_OPTION_ACTIVE.
const LOAD_OPTION_ACTIVE: u32 = 1;

/// The efivarfs file name of variable `name` under `guid`.
pub fn var_file(name: &str, guid: &str) -> String {
    format!("{name}-{guid}")
}

/// `Boot0003`.
pub fn boot_var(n: u16) -> String {
    format!("Boot{n:04X}")
}

/// The number of a `Boot####` file name under [`GLOBAL`] (not BootOrder etc.).
pub fn boot_number(file: &str) -> Option<u16> {
    let name = file.strip_suffix(GLOBAL)?.strip_suffix('-')?;
    let hex = name.strip_prefix("Boot")?;
    (hex.len() == 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u16::from_str_radix(hex, 16).ok())
        .flatten()
}

/// An efivarfs file's bytes: attributes then data.
pub fn with_attributes(attrs: u32, data: &[u8]) -> Vec<u8> {
    let mut v = attrs.to_le_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

/// The data of an efivarfs file (after its attributes).
pub fn data(file: &[u8]) -> Option<&[u8]> {
    file.get(4..)
}

/// A list of u16 (BootOrder) from its bytes.
pub fn u16_list(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

pub fn u16_bytes(list: &[u16]) -> Vec<u8> {
    list.iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// Where a slot's file is: the ESP partition as the HD() node names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// 1-based GPT entry number.
    pub number: u32,
    pub first_lba: u64,
    pub sectors: u64,
    /// The partition's unique GUID, in its on-disk byte order.
    pub guid: [u8; 16],
}

/// A load option (`Boot####`): description and, for an HD()/File() path,
/// the partition and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOption {
    pub active: bool,
    pub description: String,
    pub partition: Option<Partition>,
    pub file: Option<String>,
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A NUL-terminated UCS-2 string at the start of `b`: (text, bytes used).
fn read_ucs2(b: &[u8]) -> Option<(String, usize)> {
    let mut units = Vec::new();
    for (i, c) in b.chunks_exact(2).enumerate() {
        let u = u16::from_le_bytes([c[0], c[1]]);
        if u == 0 {
            return Some((String::from_utf16_lossy(&units), (i + 1) * 2));
        }
        units.push(u);
    }
    None
}

/// The device path nodes of a PCI disk: `PciRoot(0x0)` then one
/// `Pci(dev,fn)` per bridge level down to the device (`pci` from the root).
/// A full path lets firmware that orders boot entries by device (OVMF with
/// QEMU's `bootindex`) keep the slots' entries with their disk.
pub fn pci_prefix(pci: &[(u8, u8)]) -> Vec<u8> {
    if pci.is_empty() {
        return Vec::new();
    }
    // ACPI: HID PNP0A03 (EISA-encoded), UID 0.
    let mut v = vec![0x02, 0x01, 12, 0];
    v.extend_from_slice(&0x0A03_41D0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    for &(dev, func) in pci {
        v.extend_from_slice(&[0x01, 0x01, 6, 0, func, dev]);
    }
    v
}

/// The PCI devices from the root bus down in a sysfs device path
/// (`/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio1/block/vda`):
/// (device, function) of each; empty unless the path is on root bus 0 of
/// domain 0 and its disk is a virtio one (the only kind whose firmware
/// path is just PCI nodes).
pub fn pci_chain(sysfs: &str) -> Vec<(u8, u8)> {
    let mut parts = sysfs.split('/').skip_while(|p| *p != "pci0000:00");
    if parts.next().is_none() || !sysfs.contains("/virtio") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in parts {
        let Some(rest) = p.strip_prefix("0000:") else {
            break;
        };
        let Some((_bus, df)) = rest.split_once(':') else {
            break;
        };
        let Some((d, f)) = df.split_once('.') else {
            break;
        };
        match (u8::from_str_radix(d, 16), u8::from_str_radix(f, 16)) {
            (Ok(d), Ok(f)) if d < 32 && f < 8 => out.push((d, f)),
            _ => break,
        }
    }
    out
}

/// The bytes of an active load option booting `file` (`\EFI\...`) on `p`,
/// its device path starting with `prefix` ([`pci_prefix`]; empty: the
/// short form, HD() first, which firmware resolves by partition GUID).
pub fn encode_load_option(description: &str, prefix: &[u8], p: &Partition, file: &str) -> Vec<u8> {
    let mut path = prefix.to_vec();
    path.extend_from_slice(&[0x04, 0x01, 42, 0]);
    path.extend_from_slice(&p.number.to_le_bytes());
    path.extend_from_slice(&p.first_lba.to_le_bytes());
    path.extend_from_slice(&p.sectors.to_le_bytes());
    path.extend_from_slice(&p.guid);
    path.extend_from_slice(&[0x02, 0x02]); // GPT, GUID signature
    let name = ucs2(file);
    let len = (4 + name.len()) as u16;
    path.extend_from_slice(&[0x04, 0x04]);
    path.extend_from_slice(&len.to_le_bytes());
    path.extend_from_slice(&name);
    path.extend_from_slice(&[0x7f, 0xff, 0x04, 0x00]);
    let mut out = LOAD_OPTION_ACTIVE.to_le_bytes().to_vec();
    out.extend_from_slice(&(path.len() as u16).to_le_bytes());
    out.extend_from_slice(&ucs2(description));
    out.extend_from_slice(&path);
    out
}

/// A load option's description and HD()/File() nodes (other nodes skipped).
pub fn decode_load_option(data: &[u8]) -> Option<LoadOption> {
    let attrs = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
    let path_len = u16::from_le_bytes(data.get(4..6)?.try_into().ok()?) as usize;
    let (description, used) = read_ucs2(data.get(6..)?)?;
    let mut path = data.get(6 + used..6 + used + path_len)?;
    let mut opt = LoadOption {
        active: attrs & LOAD_OPTION_ACTIVE != 0,
        description,
        partition: None,
        file: None,
    };
    while path.len() >= 4 {
        let (ty, sub) = (path[0], path[1]);
        let len = u16::from_le_bytes([path[2], path[3]]) as usize;
        if len < 4 || len > path.len() {
            return None;
        }
        let node = &path[4..len];
        match (ty, sub) {
            (0x7f, 0xff) => break,
            (0x04, 0x01) if node.len() >= 38 => {
                opt.partition = Some(Partition {
                    number: u32::from_le_bytes(node[0..4].try_into().ok()?),
                    first_lba: u64::from_le_bytes(node[4..12].try_into().ok()?),
                    sectors: u64::from_le_bytes(node[12..20].try_into().ok()?),
                    guid: node[20..36].try_into().ok()?,
                })
            }
            (0x04, 0x04) => opt.file = read_ucs2(node).map(|(s, _)| s),
            _ => {}
        }
        path = &path[len..];
    }
    Some(opt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_option_round_trip() {
        let p = Partition {
            number: 1,
            first_lba: 2048,
            sectors: 409600,
            guid: [0x11; 16],
        };
        let b = encode_load_option("nodistro A", &[], &p, "\\EFI\\nodistro\\A.EFI");
        // efibootmgr's layout: attrs, path length, description, path.
        assert_eq!(&b[0..4], &[1, 0, 0, 0]);
        let o = decode_load_option(&b).expect("decodes");
        assert!(o.active);
        assert_eq!(o.description, "nodistro A");
        assert_eq!(o.partition, Some(p));
        assert_eq!(o.file.as_deref(), Some("\\EFI\\nodistro\\A.EFI"));
        for cut in 0..b.len() {
            let _ = decode_load_option(&b[..cut]);
        }
    }

    #[test]
    fn pci_paths() {
        let p = "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio1/block/vda";
        assert_eq!(pci_chain(p), vec![(0x1c, 0), (0, 0)]);
        assert_eq!(
            pci_chain("/sys/devices/pci0000:00/0000:00:04.0/virtio2/block/vda"),
            vec![(4, 0)]
        );
        assert!(pci_chain("/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1").is_empty());
        assert!(
            pci_chain("/sys/devices/platform/a003e00.virtio_mmio/virtio0/block/vda").is_empty()
        );
        let pre = pci_prefix(&[(4, 0)]);
        assert_eq!(
            pre,
            [2, 1, 12, 0, 0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0, 1, 1, 6, 0, 0, 4]
        );
        let part = Partition {
            number: 1,
            first_lba: 2048,
            sectors: 8,
            guid: [3; 16],
        };
        let b = encode_load_option("nodistro B", &pre, &part, "\\EFI\\nodistro\\B.EFI");
        let o = decode_load_option(&b).expect("decodes");
        assert_eq!(
            (o.partition, o.file.as_deref()),
            (Some(part), Some("\\EFI\\nodistro\\B.EFI"))
        );
    }

    #[test]
    fn names() {
        assert_eq!(boot_var(0x1a), "Boot001A");
        assert_eq!(boot_number(&var_file("Boot001A", GLOBAL)), Some(0x1a));
        assert_eq!(boot_number(&var_file("BootOrder", GLOBAL)), None);
        assert_eq!(boot_number(&var_file("Boot0001", NODISTRO)), None);
        assert_eq!(u16_list(&u16_bytes(&[3, 1, 0x100])), vec![3, 1, 0x100]);
    }
}
