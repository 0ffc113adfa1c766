//! The two module-loading system calls, which neither std nor rustix wrap.
#![allow(unsafe_code)]

use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `finit_module` flag (Linux 6.4+): the file is compressed and the kernel
/// decompresses it. Older kernels answer EINVAL.
pub const MODULE_INIT_COMPRESSED_FILE: libc::c_uint = 4;

fn result(ret: libc::c_long) -> Result<(), Errno> {
    if ret == 0 {
        Ok(())
    } else {
        let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        Err(Errno::from_raw_os_error(code))
    }
}

/// `finit_module(fd, params, flags)`: load the module in an open file.
pub fn finit_module(fd: BorrowedFd<'_>, params: &CStr, flags: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: the kernel only reads from `fd` (open for the whole call: it is
    // borrowed) and from `params`, a NUL-terminated string that outlives the
    // call; it writes no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            fd.as_raw_fd(),
            params.as_ptr(),
            flags,
        )
    };
    result(ret)
}

/// `init_module(image, len, params)`: load a module image from memory (used
/// after decompressing in userspace).
pub fn init_module(image: &[u8], params: &CStr) -> Result<(), Errno> {
    // SAFETY: `image` is a live slice and its length is passed with it;
    // `params` is NUL-terminated and outlives the call; the kernel only reads
    // both.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len() as libc::c_ulong,
            params.as_ptr(),
        )
    };
    result(ret)
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
