//! Why a program could not start, in words that name the missing piece:
//! execve's ENOENT says the same for a missing program and a missing ELF
//! interpreter (or `#!` interpreter). The reading of the program's first
//! bytes is sans-IO ([`interpreter`], [`explain`]); [`diagnose`] is the
//! small IO shell init calls when a spawn fails.

/// How many bytes of the program are read: PT_INTERP lies in the first
/// page of every ELF linker output.
pub const HEAD_BYTES: usize = 4096;

/// The interpreter a program names: an ELF's PT_INTERP, or a script's
/// `#!` line (`script` true). `None` for a static ELF or unknown bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interp {
    pub path: String,
    pub script: bool,
}

/// The interpreter `head` (a program's first bytes) asks for.
pub fn interpreter(head: &[u8]) -> Option<Interp> {
    if let Some(line) = head.strip_prefix(b"#!") {
        let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
        let text = std::str::from_utf8(&line[..end]).ok()?;
        let path = text.split_whitespace().next()?;
        return Some(Interp {
            path: path.to_string(),
            script: true,
        });
    }
    let elf = Elf::parse(head)?;
    let (off, size) = elf.interp?;
    let bytes = head.get(off..off.checked_add(size)?)?;
    let bytes = bytes.split(|&b| b == 0).next()?;
    let path = std::str::from_utf8(bytes).ok()?;
    (!path.is_empty()).then(|| Interp {
        path: path.to_string(),
        script: false,
    })
}

/// The parts of an ELF header this needs.
struct Elf {
    machine: u16,
    /// PT_INTERP's file offset and size.
    interp: Option<(usize, usize)>,
}

impl Elf {
    fn parse(h: &[u8]) -> Option<Elf> {
        if h.get(..4)? != b"\x7fELF" {
            return None;
        }
        let wide = match h.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let le = match h.get(5)? {
            1 => true,
            2 => false,
            _ => return None,
        };
        let u16_at = |o: usize| -> Option<u16> {
            let b: [u8; 2] = h.get(o..o + 2)?.try_into().ok()?;
            Some(if le {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            })
        };
        let u32_at = |o: usize| -> Option<u32> {
            let b: [u8; 4] = h.get(o..o + 4)?.try_into().ok()?;
            Some(if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            })
        };
        let u64_at = |o: usize| -> Option<u64> {
            let b: [u8; 8] = h.get(o..o + 8)?.try_into().ok()?;
            Some(if le {
                u64::from_le_bytes(b)
            } else {
                u64::from_be_bytes(b)
            })
        };
        let word = |o: usize| -> Option<usize> {
            if wide {
                usize::try_from(u64_at(o)?).ok()
            } else {
                usize::try_from(u32_at(o)?).ok()
            }
        };
        let machine = u16_at(18)?;
        let (phoff, phentsize, phnum) = if wide {
            (word(32)?, u16_at(54)?, u16_at(56)?)
        } else {
            (word(28)?, u16_at(42)?, u16_at(44)?)
        };
        let mut interp = None;
        for i in 0..usize::from(phnum) {
            let ph = phoff.checked_add(i.checked_mul(usize::from(phentsize))?)?;
            let Some(kind) = u32_at(ph) else { break };
            if kind == PT_INTERP {
                interp = if wide {
                    Some((word(ph + 8)?, word(ph + 32)?))
                } else {
                    Some((word(ph + 4)?, word(ph + 16)?))
                };
                break;
            }
        }
        Some(Elf { machine, interp })
    }
}

const PT_INTERP: u32 = 3;

/// The architecture this init was built for, as ELF's e_machine.
const OUR_MACHINE: u16 = if cfg!(target_arch = "aarch64") {
    183
} else if cfg!(target_arch = "riscv64") {
    243
} else {
    62
};

fn machine_name(m: u16) -> String {
    match m {
        3 => "i386".into(),
        40 => "32-bit ARM".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        243 => "RISC-V".into(),
        m => format!("machine {m}"),
    }
}

/// What a person is told after execve of `path` failed with `errno`:
/// `head` is the program's first bytes (None: unreadable), `mode` its
/// permission bits, `exists` says whether a path is in the image.
pub fn explain(
    path: &str,
    errno: Option<i32>,
    head: Option<&[u8]>,
    mode: Option<u32>,
    exists: impl Fn(&str) -> bool,
) -> String {
    const ENOENT: i32 = 2;
    const ENOEXEC: i32 = 8;
    const EACCES: i32 = 13;
    let elf = head.and_then(Elf::parse);
    let interp = head.and_then(interpreter);
    let what = match (errno, mode) {
        (Some(ENOENT), None) => "not found in the image".to_string(),
        (Some(ENOENT), Some(_)) => match &interp {
            Some(i) if !exists(&i.path) && i.script => format!(
                "interpreter {} not found (its #! line): add it to the image, or use a static executable",
                i.path
            ),
            Some(i) if !exists(&i.path) => format!(
                "interpreter {} not found: the program is dynamically linked; link it statically, or build the image with nodistro build --allow-dynamic (packs the interpreter and libraries)",
                i.path
            ),
            _ => "a file it needs was not found (No such file or directory)".to_string(),
        },
        (Some(EACCES), Some(m)) if m & 0o111 == 0 => {
            format!("not executable (mode {:04o}): give it the x bit", m & 0o7777)
        }
        (Some(EACCES), _) => "permission denied (not a regular file, or on a noexec mount)".to_string(),
        (Some(ENOEXEC), _) => match &elf {
            Some(e) if e.machine != OUR_MACHINE => format!(
                "an ELF for {}, and this machine is {}: build it for {}",
                machine_name(e.machine),
                machine_name(OUR_MACHINE),
                machine_name(OUR_MACHINE)
            ),
            _ => "not a program this kernel runs (not an ELF executable for this machine, and no #! line)".to_string(),
        },
        (_, _) => return format!("cannot start {path}: {}", describe_errno(errno)),
    };
    format!("cannot start {path}: {what}")
}

fn describe_errno(errno: Option<i32>) -> String {
    match errno {
        Some(e) => std::io::Error::from_raw_os_error(e).to_string(),
        None => "unknown error".into(),
    }
}

/// [`explain`] for a failed spawn of `path`, reading what it needs.
pub fn diagnose(path: &std::path::Path, err: &std::io::Error) -> String {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok().map(|m| m.permissions().mode());
    let mut head = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head))
        .is_ok();
    explain(
        &path.display().to_string(),
        err.raw_os_error(),
        read.then_some(head.as_slice()),
        mode,
        |p| std::path::Path::new(p).exists(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian ELF with one PT_INTERP.
    fn elf64(machine: u16, interp: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 64 + 56];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h[32..40].copy_from_slice(&64u64.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&1u16.to_le_bytes());
        if let Some(i) = interp {
            let off = h.len() as u64;
            h[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
            h[72..80].copy_from_slice(&off.to_le_bytes());
            h[96..104].copy_from_slice(&(i.len() as u64 + 1).to_le_bytes());
            h.extend_from_slice(i.as_bytes());
            h.push(0);
        }
        h
    }

    const LD: &str = "/lib64/ld-linux-x86-64.so.2";

    #[test]
    fn names_the_missing_interpreter() {
        let dynamic = elf64(62, Some(LD));
        assert_eq!(
            interpreter(&dynamic),
            Some(Interp {
                path: LD.into(),
                script: false
            })
        );
        let m = explain("/app/x", Some(2), Some(&dynamic), Some(0o755), |_| false);
        assert!(
            m.starts_with("cannot start /app/x: interpreter /lib64/ld-linux-x86-64.so.2 not found"),
            "{m}"
        );
        assert!(m.contains("--allow-dynamic"), "{m}");
        let m = explain(
            "/app/s",
            Some(2),
            Some(b"#!/bin/sh -e\necho"),
            Some(0o755),
            |_| false,
        );
        assert!(
            m.contains("interpreter /bin/sh not found (its #! line)"),
            "{m}"
        );
        let m = explain("/app/x", Some(2), None, None, |_| true);
        assert_eq!(m, "cannot start /app/x: not found in the image");
        let m = explain("/app/x", Some(2), Some(&dynamic), Some(0o755), |_| true);
        assert!(m.contains("a file it needs was not found"), "{m}");
    }

    #[test]
    fn names_mode_and_architecture() {
        let m = explain(
            "/app/x",
            Some(13),
            Some(&elf64(62, None)),
            Some(0o100644),
            |_| true,
        );
        assert_eq!(
            m,
            "cannot start /app/x: not executable (mode 0644): give it the x bit"
        );
        let arm = elf64(if OUR_MACHINE == 183 { 62 } else { 183 }, None);
        let m = explain("/app/x", Some(8), Some(&arm), Some(0o755), |_| true);
        assert!(m.contains("an ELF for"), "{m}");
        assert!(
            m.contains(&format!("this machine is {}", machine_name(OUR_MACHINE))),
            "{m}"
        );
        let m = explain("/app/x", Some(8), Some(b"hello"), Some(0o755), |_| true);
        assert!(m.contains("not a program this kernel runs"), "{m}");
        let m = explain("/app/x", Some(12), None, Some(0o755), |_| true);
        assert!(m.starts_with("cannot start /app/x: "), "{m}");
    }

    #[test]
    fn truncated_and_hostile_headers_are_no_interpreter() {
        let full = elf64(62, Some(LD));
        for n in 0..full.len() {
            let _ = interpreter(&full[..n]);
        }
        let mut bad = full.clone();
        bad[72..80].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(interpreter(&bad), None);
        let mut bad = full.clone();
        bad[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        bad[32..40].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
        assert_eq!(interpreter(&bad), None);
        assert_eq!(interpreter(b"#!"), None);
        assert_eq!(interpreter(&elf64(62, None)), None, "static");
    }
}
