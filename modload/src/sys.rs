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
