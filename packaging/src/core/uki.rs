//! Unified Kernel Images (sans-IO): systemd's EFI stub with the kernel, the
//! initramfs, the command line and an os-release as PE sections, in the
//! order ukify writes them (`.osrel`, `.cmdline`, `.uname`, `.initrd`,
//! `.linux`).
//!
//! The kernel is checked first: it must be an x86 bzImage built with
//! CONFIG_EFI_STUB (a PE image whose setup header offers the 64-bit EFI
//! handover, which systemd 252's stub uses), and the command line must fit
//! the kernel's `cmdline_size`.

use crate::core::pe::{self, NewSection, PeError};

/// Where Debian's systemd-boot-efi puts the stub.
pub const DEFAULT_STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
/// The Debian package that ships it.
pub const STUB_PACKAGE: &str = "systemd-boot-efi";

/// The default kernel command line of an image: both consoles (the last
/// one, the serial port, becomes /dev/console) and an immediate reboot on
/// panic (a VM with `-no-reboot` exits instead of hanging).
pub const DEFAULT_CMDLINE: &str = "console=tty0 console=ttyS0,115200 panic=-1";

/// What the kernel's setup header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    /// The release (`6.1.0-57-amd64`), the first word of the version string.
    pub release: Option<String>,
    /// The longest command line the kernel takes, NUL excluded.
    pub cmdline_max: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UkiError {
    #[error("is not an x86 bzImage (no HdrS setup header)")]
    NotBzImage,
    #[error("has no EFI stub (CONFIG_EFI_STUB is off: no PE header or no 64-bit EFI handover); use a kernel built with CONFIG_EFI_STUB=y, such as Debian's linux-image-amd64, or --format initramfs")]
    NoEfiStub,
    #[error("the command line is {len} bytes, more than the {max} the kernel accepts; shorten --cmdline")]
    CmdlineTooLong { len: usize, max: usize },
    #[error("the EFI stub cannot take the sections")]
    Stub(#[source] PeError),
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Check that `kernel` is a bzImage with an EFI stub; read its release and
/// command-line limit (Documentation/arch/x86/boot.rst).
pub fn inspect_kernel(kernel: &[u8]) -> Result<KernelInfo, UkiError> {
    // An arm64 Image (Documentation/arch/arm64/booting.rst): its EFI stub
    // is a PE header behind the MZ magic; no release in the header, and
    // the arm64 COMMAND_LINE_SIZE of 2048 bytes.
    if kernel.get(56..60) == Some(b"ARM\x64".as_slice()) {
        let is_pe = kernel.starts_with(b"MZ")
            && le32(kernel, 0x3c)
                .and_then(|p| kernel.get(p as usize..p as usize + 4))
                .is_some_and(|sig| sig == b"PE\0\0");
        if !is_pe {
            return Err(UkiError::NoEfiStub);
        }
        return Ok(KernelInfo {
            release: None,
            cmdline_max: 2047,
        });
    }
    if kernel.get(0x202..0x206) != Some(b"HdrS".as_slice()) {
        return Err(UkiError::NotBzImage);
    }
    let version = le16(kernel, 0x206).ok_or(UkiError::NotBzImage)?;
    let is_pe = kernel.starts_with(b"MZ")
        && le32(kernel, 0x3c)
            .and_then(|p| kernel.get(p as usize..p as usize + 4))
            .is_some_and(|sig| sig == b"PE\0\0");
    // xloadflags bit 3: XLF_EFI_HANDOVER_64; handover_offset at 0x264.
    let handover = version >= 0x20b
        && le16(kernel, 0x236).is_some_and(|f| f & (1 << 3) != 0)
        && le32(kernel, 0x264).is_some_and(|o| o != 0);
    if !is_pe || !handover {
        return Err(UkiError::NoEfiStub);
    }
    let cmdline_max = if version >= 0x206 {
        le32(kernel, 0x238).map_or(255, |v| v as usize)
    } else {
        255
    };
    let release = le16(kernel, 0x20e)
        .filter(|&p| p != 0)
        .and_then(|p| kernel.get(p as usize + 0x200..))
        .and_then(|s| {
            let end = s.iter().position(|&b| b == 0 || b == b' ')?;
            std::str::from_utf8(&s[..end]).ok().map(str::to_string)
        })
        .filter(|r| !r.is_empty());
    Ok(KernelInfo {
        release,
        cmdline_max,
    })
}

/// The `.osrel` section: who made the image and what it runs.
pub fn os_release(app: &str, release: Option<&str>) -> String {
    let mut s = String::from("NAME=nodistro\nID=nodistro\n");
    s.push_str(&format!(
        "PRETTY_NAME=\"nodistro {}\"\n",
        app.replace('"', "")
    ));
    s.push_str(&format!("VERSION_ID={}\n", env!("CARGO_PKG_VERSION")));
    if let Some(r) = release {
        s.push_str(&format!("KERNEL_RELEASE={r}\n"));
    }
    s
}

/// Everything a UKI is made of.
#[derive(Debug, Clone, Copy)]
pub struct UkiParts<'a> {
    pub stub: &'a [u8],
    pub kernel: &'a [u8],
    pub initrd: &'a [u8],
    pub cmdline: &'a str,
    pub osrel: &'a str,
    /// PE TimeDateStamp (SOURCE_DATE_EPOCH).
    pub timestamp: u32,
}

/// Assemble the UKI.
pub fn assemble(p: &UkiParts<'_>) -> Result<Vec<u8>, UkiError> {
    let info = inspect_kernel(p.kernel)?;
    if p.cmdline.len() > info.cmdline_max {
        return Err(UkiError::CmdlineTooLong {
            len: p.cmdline.len(),
            max: info.cmdline_max,
        });
    }
    let uname = info.release.clone().unwrap_or_default();
    let mut sections = vec![
        NewSection {
            name: ".osrel",
            data: p.osrel.as_bytes(),
        },
        NewSection {
            name: ".cmdline",
            data: p.cmdline.as_bytes(),
        },
    ];
    if !uname.is_empty() {
        sections.push(NewSection {
            name: ".uname",
            data: uname.as_bytes(),
        });
    }
    sections.push(NewSection {
        name: ".initrd",
        data: p.initrd,
    });
    sections.push(NewSection {
        name: ".linux",
        data: p.kernel,
    });
    pe::add_sections(p.stub, &sections, p.timestamp).map_err(UkiError::Stub)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal bzImage header: HdrS, version 2.15, an EFI handover.
    fn fake_kernel(pe: bool, handover: bool) -> Vec<u8> {
        let mut k = vec![0u8; 0x1000];
        if pe {
            k[..2].copy_from_slice(b"MZ");
            k[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
            k[0x80..0x84].copy_from_slice(b"PE\0\0");
        }
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        k[0x20e..0x210].copy_from_slice(&0x300u16.to_le_bytes());
        k[0x500..0x514].copy_from_slice(b"6.1.0-57-amd64 (deb)");
        if handover {
            k[0x236..0x238].copy_from_slice(&(1u16 << 3).to_le_bytes());
            k[0x264..0x268].copy_from_slice(&0x190u32.to_le_bytes());
        }
        k[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
        k
    }

    #[test]
    fn reads_release_and_limit() {
        let info = inspect_kernel(&fake_kernel(true, true)).expect("ok");
        assert_eq!(info.release.as_deref(), Some("6.1.0-57-amd64"));
        assert_eq!(info.cmdline_max, 2047);
    }

    #[test]
    fn arm64_images() {
        let mut k = vec![0u8; 0x200];
        k[56..60].copy_from_slice(b"ARM\x64");
        assert_eq!(inspect_kernel(&k), Err(UkiError::NoEfiStub));
        k[..2].copy_from_slice(b"MZ");
        k[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        k[0x40..0x44].copy_from_slice(b"PE\0\0");
        let info = inspect_kernel(&k).expect("an arm64 Image with its EFI stub");
        assert_eq!(info.release, None);
        assert_eq!(info.cmdline_max, 2047);
    }

    #[test]
    fn refuses_kernels_without_stub() {
        assert_eq!(
            inspect_kernel(&fake_kernel(false, true)),
            Err(UkiError::NoEfiStub)
        );
        assert_eq!(
            inspect_kernel(&fake_kernel(true, false)),
            Err(UkiError::NoEfiStub)
        );
        assert_eq!(inspect_kernel(b"\x7fELF"), Err(UkiError::NotBzImage));
        assert_eq!(inspect_kernel(&[]), Err(UkiError::NotBzImage));
    }

    #[test]
    fn refuses_long_cmdline() {
        let stub = crate::core::pe::test_stub().expect("systemd-boot-efi installed");
        let k = fake_kernel(true, true);
        let long = "x".repeat(2048);
        let parts = UkiParts {
            stub: &stub,
            kernel: &k,
            initrd: b"",
            cmdline: &long,
            osrel: "",
            timestamp: 0,
        };
        assert_eq!(
            assemble(&parts).err(),
            Some(UkiError::CmdlineTooLong {
                len: 2048,
                max: 2047
            })
        );
    }

    /// Real data: the Debian kernel has the stub; the UKI has the sections
    /// in ukify's order and is the same twice.
    #[test]
    fn assembles_the_installed_kernel() {
        let stub = crate::core::pe::test_stub().expect("systemd-boot-efi installed");
        let vmlinuz = crate::kernel::find_kernel().expect("a /boot/vmlinuz-*");
        let k = std::fs::read(&vmlinuz).expect("read kernel");
        let info = inspect_kernel(&k).expect("Debian kernel has an EFI stub");
        assert_eq!(
            info.release.as_deref(),
            crate::kernel::release_of(&vmlinuz).as_deref()
        );
        let osrel = os_release("demo", info.release.as_deref());
        let parts = UkiParts {
            stub: &stub,
            kernel: &k,
            initrd: b"initrd bytes",
            cmdline: DEFAULT_CMDLINE,
            osrel: &osrel,
            timestamp: 7,
        };
        let a = assemble(&parts).expect("uki");
        assert_eq!(a, assemble(&parts).expect("uki again"));
        let pe = goblin::pe::PE::parse(&a).expect("parses");
        let names: Vec<&str> = pe.sections.iter().filter_map(|s| s.name().ok()).collect();
        assert!(
            names.ends_with(&[".osrel", ".cmdline", ".uname", ".initrd", ".linux"]),
            "{names:?}"
        );
    }
}
