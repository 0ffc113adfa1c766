//! The module-loading system calls (through rustix), the running kernel's
//! release, and a read-only file mapping.
#![allow(unsafe_code)]

use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// `finit_module` flag (Linux 6.4+): the file is compressed and the kernel
/// decompresses it. Older kernels answer EINVAL.
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// `finit_module(fd, params, flags)`: load the module in an open file.
pub fn finit_module(fd: BorrowedFd<'_>, params: &CStr, flags: u32) -> Result<(), Errno> {
    rustix::system::finit_module(fd, params, flags as i32)
}

/// `init_module(image, len, params)`: load a module image from memory (used
/// after decompressing in userspace).
pub fn init_module(image: &[u8], params: &CStr) -> Result<(), Errno> {
    rustix::system::init_module(image, params)
}

/// The running kernel's release (`uname -r`).
pub fn running_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// A whole file mapped read-only: the page-cache pages themselves, no copy
/// (modules.alias is 1.3 MB; copying and faulting in a heap buffer cost more
/// than resolving a machine's aliases).
pub struct Mapped {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; shared `&[u8]`
// views of it are as thread-safe as any immutable slice.
unsafe impl Send for Mapped {}
// SAFETY: as above; nothing mutates the mapping through `&Mapped`.
unsafe impl Sync for Mapped {}

impl Mapped {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        use rustix::mm::{mmap, MapFlags, ProtFlags};
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        if len == 0 {
            return Ok(Mapped {
                ptr: std::ptr::NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: a new mapping at an address the kernel chooses (no hint),
        // so no existing memory is affected; read-only and private.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::PRIVATE,
                &file,
                0,
            )?
        };
        let ptr = std::ptr::NonNull::new(ptr.cast::<u8>()).ok_or(Errno::NOMEM)?;
        Ok(Mapped { ptr, len })
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is this value's live mapping (or a dangling
        // pointer with len 0), valid until drop. depmod replaces index files
        // by rename, never rewrites them in place, so the bytes do not change
        // under the slice.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping created in `open`; no slice
            // borrowed from it outlives `self`.
            let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}

/// Bytes of a file: mapped from the page cache, or owned (tests).
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped(Mapped),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// A file's bytes; `None` when it is missing (or unreadable: a warning).
pub(crate) fn read_optional(path: &Path, warnings: &mut Vec<String>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("cannot read {}: {e}; ignoring it", path.display()));
            None
        }
    }
}
