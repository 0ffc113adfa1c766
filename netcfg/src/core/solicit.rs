//! When to send router solicitations (RFC 4861 section 6.3.7): at most
//! [`RS_COUNT`], [`RS_INTERVAL_MS`] apart, until a router advertises; and
//! the same again when the link comes back (cable, VM migration: maybe
//! another network), so the prefixes, routers and DNS servers are learned
//! again without waiting for the next unsolicited RA. Sans-IO: fed the
//! time in milliseconds.

/// Router solicitations per round.
pub const RS_COUNT: u32 = 3;
/// Between two solicitations.
pub const RS_INTERVAL_MS: u64 = 4000;
/// After a failed send (the link-local address still tentative).
pub const RS_RETRY_MS: u64 = 250;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solicit {
    sent: u32,
    next: u64,
    heard: bool,
    /// When the link came back, until a router is heard after that.
    returned_at: Option<u64>,
}

impl Default for Solicit {
    fn default() -> Self {
        Solicit::new()
    }
}

impl Solicit {
    /// The first solicitation is due at once.
    pub fn new() -> Self {
        Solicit {
            sent: 0,
            next: 0,
            heard: false,
            returned_at: None,
        }
    }

    /// Whether a router has been heard since the start or the link's
    /// last return.
    pub fn heard(&self) -> bool {
        self.heard
    }

    /// Whether a solicitation should go out now.
    pub fn due(&self, now: u64) -> bool {
        self.next_timeout().is_some_and(|t| now >= t)
    }

    /// When [`Solicit::due`] next becomes true, if ever.
    pub fn next_timeout(&self) -> Option<u64> {
        (!self.heard && self.sent < RS_COUNT).then_some(self.next)
    }

    /// A solicitation went out at `now`.
    pub fn sent(&mut self, now: u64) {
        self.sent += 1;
        self.next = now.saturating_add(RS_INTERVAL_MS);
    }

    /// Sending failed at `now`: try again shortly (not counted).
    pub fn send_failed(&mut self, now: u64) {
        self.next = now.saturating_add(RS_RETRY_MS);
    }

    /// A valid router advertisement arrived at `now`. After a link return,
    /// the first one is worth a console line: returned with it.
    pub fn router_heard(&mut self, now: u64) -> Option<String> {
        self.heard = true;
        let since = self.returned_at.take()?;
        Some(format!(
            "router heard again {} ms after the link came back",
            now.saturating_sub(since)
        ))
    }

    /// The carrier came back at `now`: solicit again from the start.
    pub fn link_returned(&mut self, now: u64) {
        *self = Solicit {
            returned_at: Some(now),
            ..Solicit::new()
        };
        self.next = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_solicitations_until_a_router_is_heard() {
        let mut s = Solicit::new();
        assert!(s.due(0));
        s.send_failed(0);
        assert!(!s.due(100));
        assert!(s.due(RS_RETRY_MS));
        let mut times = Vec::new();
        let mut now = RS_RETRY_MS;
        while let Some(t) = s.next_timeout() {
            now = now.max(t);
            times.push(now);
            s.sent(now);
        }
        assert_eq!(times, [250, 4250, 8250]);
        assert!(!s.due(u64::MAX));
        // Heard at start-up: no line (nothing came back).
        assert_eq!(s.router_heard(9000), None);
    }

    #[test]
    fn link_return_solicits_again_and_says_when_a_router_answered() {
        let mut s = Solicit::new();
        s.sent(0);
        assert_eq!(s.router_heard(300), None);
        assert_eq!(s.next_timeout(), None, "no more once heard");
        s.link_returned(60_000);
        assert!(s.due(60_000));
        assert!(!s.heard());
        s.sent(60_000);
        assert_eq!(s.next_timeout(), Some(64_000));
        assert_eq!(
            s.router_heard(60_420).as_deref(),
            Some("router heard again 420 ms after the link came back")
        );
        // Said once per return.
        assert_eq!(s.router_heard(61_000), None);
        assert_eq!(s.next_timeout(), None);
        // A return with no router on the new link: three tries, then quiet.
        s.link_returned(100_000);
        for t in [100_000, 104_000, 108_000] {
            assert!(s.due(t));
            s.sent(t);
        }
        assert_eq!(s.next_timeout(), None);
    }
}
