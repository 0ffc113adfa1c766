//! The one syscall without a safe wrapper: delete_module(2) for `rmmod`.
#![allow(unsafe_code)]

use std::ffi::CStr;

/// Unload module `name` (O_NONBLOCK: fail instead of waiting while in use).
pub fn delete_module(name: &CStr) -> std::io::Result<()> {
    // SAFETY: the kernel reads `name`, a NUL-terminated string that outlives
    // the call, and writes no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
