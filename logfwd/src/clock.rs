//! The clocks logfwd reads (the core is given their values): wall time
//! for records, ms since boot for console lines.

use nodistro_common::timeline;

/// Current wall-clock time in µs since the epoch (0 if the clock is before 1970).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// ms since boot at which a record with wall time `t` arrived.
pub fn boot_ms_of(time_us: u64) -> u64 {
    let age_ms = now_us().saturating_sub(time_us) / 1000;
    timeline::since_boot_ms().saturating_sub(age_ms)
}
