//! The decisions of one interface's IPv6 loop (`crate::v6`), fed what it
//! knows and the time: when a oneshot run is done, what an RA starts in
//! the DHCPv6 client, how long to sleep.

/// How long the loop looks at the kernel's addresses every 200 ms after
/// it starts (SLAAC and DAD run without telling it).
pub const WATCH_ADDRESSES_MS: u64 = 30_000;
/// The longest sleep.
const MAX_WAIT_MS: u64 = 86_400_000;

/// With `oneshot`, an interface with a usable address is done once it has
/// heard what it asked for: an RA (auto6; `ip=dhcp6` asks for no RA), and
/// DHCPv6's answer when DHCPv6 was asked for or an RA started it.
pub fn oneshot_done(dhcp6_mode: bool, client_idle: bool, ra_seen: bool, dhcp_done: bool) -> bool {
    let dhcp_wanted = dhcp6_mode || !client_idle;
    let heard = ra_seen || dhcp6_mode;
    heard && (dhcp_done || !dhcp_wanted)
}

/// What an RA's M/O flags start in the DHCPv6 client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// M (managed): addresses from DHCPv6.
    Stateful,
    /// O (other config): DNS and NTP only.
    Stateless,
}

/// The client is `stateful` already, or `idle`: what an RA with these
/// flags starts (M wins over O; nothing twice).
pub fn ra_starts(managed: bool, other: bool, stateful: bool, idle: bool) -> Option<Start> {
    if managed && !stateful {
        Some(Start::Stateful)
    } else if other && idle {
        Some(Start::Stateless)
    } else {
        None
    }
}

/// Milliseconds to sleep at `now`: until the earliest of `timeouts`, at
/// most 200 ms while no address is `online` or early on (the kernel adds
/// addresses unannounced), at most until the oneshot `deadline`.
pub fn wait_ms(now: u64, timeouts: &[Option<u64>], online: bool, deadline: Option<u64>) -> u64 {
    let mut wake = timeouts.iter().flatten().copied().min().unwrap_or(u64::MAX);
    if !online || now < WATCH_ADDRESSES_MS {
        wake = wake.min(now + 200);
    }
    if let Some(d) = deadline {
        wake = wake.min(d);
    }
    wake.saturating_sub(now).min(MAX_WAIT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneshot_is_done_when_what_was_asked_is_heard() {
        // auto6: an RA, and DHCPv6 only if the RA started it.
        assert!(!oneshot_done(false, true, false, false));
        assert!(oneshot_done(false, true, true, false));
        assert!(!oneshot_done(false, false, true, false));
        assert!(oneshot_done(false, false, true, true));
        // ip=dhcp6: no RA needed, DHCPv6's answer is.
        assert!(!oneshot_done(true, false, false, false));
        assert!(oneshot_done(true, false, false, true));
    }

    #[test]
    fn ra_flags_start_the_client_once() {
        assert_eq!(ra_starts(true, true, false, true), Some(Start::Stateful));
        assert_eq!(ra_starts(true, false, true, false), None);
        assert_eq!(ra_starts(false, true, false, true), Some(Start::Stateless));
        assert_eq!(ra_starts(false, true, false, false), None);
        assert_eq!(ra_starts(false, false, false, true), None);
    }

    #[test]
    fn sleeps_until_the_earliest_wake() {
        assert_eq!(wait_ms(40_000, &[Some(41_000), None], true, None), 1000);
        assert_eq!(wait_ms(40_000, &[None], true, None), MAX_WAIT_MS);
        assert_eq!(wait_ms(40_000, &[Some(50_000)], false, None), 200);
        assert_eq!(wait_ms(1000, &[Some(5000)], true, None), 200);
        assert_eq!(wait_ms(40_000, &[None], true, Some(40_050)), 50);
        assert_eq!(wait_ms(40_000, &[Some(39_000)], true, None), 0);
    }
}
