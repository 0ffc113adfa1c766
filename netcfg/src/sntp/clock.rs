//! The system clock and the RTC: read, step (clock_settime), slew
//! (adjtimex, ADJ_OFFSET_SINGLESHOT) and set /dev/rtc0 (RTC_SET_TIME).
//! adjtimex and the RTC ioctl have no rustix wrapper: raw system calls.
#![allow(unsafe_code)]

use linux_raw_sys::general::{__NR_adjtimex, __NR_ioctl};
use nodistro_common::syscall::syscall6;
use rustix::time::{ClockId, Timespec};
use std::io;
use std::os::fd::AsRawFd;

const NS: i64 = 1_000_000_000;
/// _IOW('p', 0x0a, struct rtc_time)
const RTC_SET_TIME: u32 = 0x4024_700a;
const ADJ_OFFSET_SINGLESHOT: u32 = 0x8001;

/// The realtime clock, Unix ns.
pub fn now_ns() -> i64 {
    let t = rustix::time::clock_gettime(ClockId::Realtime);
    t.tv_sec * NS + t.tv_nsec
}

/// Step the clock by `offset_ns`.
pub fn step(offset_ns: i64) -> io::Result<()> {
    let t = now_ns() + offset_ns;
    let ts = Timespec {
        tv_sec: t.div_euclid(NS),
        tv_nsec: t.rem_euclid(NS),
    };
    rustix::time::clock_settime(ClockId::Realtime, ts).map_err(io::Error::from)
}

/// struct timex (x86_64 and aarch64 layout: LP64).
#[repr(C)]
#[derive(Default)]
struct Timex {
    modes: u32,
    _pad0: i32,
    offset: i64,
    rest: [i64; 24],
}

/// Slew the clock by `offset_ns` (the kernel spreads it at 0.5 ms/s).
pub fn slew(offset_ns: i64) -> io::Result<()> {
    let mut t = Timex {
        modes: ADJ_OFFSET_SINGLESHOT,
        offset: (offset_ns / 1000),
        ..Timex::default()
    };
    // SAFETY: `t` is a live struct timex of the kernel's size (208 bytes on
    // LP64) that the kernel reads and writes during the call only.
    unsafe {
        syscall6(
            __NR_adjtimex,
            [&mut t as *mut Timex as usize, 0, 0, 0, 0, 0],
        )
    }
    .map(drop)
    .map_err(io::Error::from)
}

/// Set /dev/rtc0 (UTC) to the system clock. Ok(false): no RTC.
pub fn set_rtc() -> io::Result<bool> {
    let fd = match rustix::fs::open(
        "/dev/rtc0",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let secs = now_ns().div_euclid(NS);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = nodistro_common::civil::civil_from_days(days);
    // struct rtc_time: sec, min, hour, mday, mon (0-11), year - 1900,
    // wday, yday, isdst.
    let tm: [i32; 9] = [
        (rem % 60) as i32,
        (rem / 60 % 60) as i32,
        (rem / 3600) as i32,
        d as i32,
        m as i32 - 1,
        (y - 1900) as i32,
        0,
        0,
        0,
    ];
    // SAFETY: `tm` is a live struct rtc_time (9 ints) the kernel only reads
    // during the call; `fd` is open.
    unsafe {
        syscall6(
            __NR_ioctl,
            [
                fd.as_raw_fd() as usize,
                RTC_SET_TIME as usize,
                tm.as_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    }
    .map(|_| true)
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timex_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Timex>(), 208);
    }
}
