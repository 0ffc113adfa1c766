//! The RFC 2131 DHCPv4 client as a sans-IO state machine: fed received
//! frames and the time (`now`, milliseconds on any monotonic clock), it
//! returns [`Action`]s (frames to send, a lease to apply, a lease to remove,
//! lines to log) and the time it next wants to be woken.

use crate::core::lease::{self, Lease};
use crate::core::msg::{self as m, Msg};
use crate::core::{arp, frame};
use std::net::Ipv4Addr;

/// Where a DHCP message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Broadcast,
    /// Unicast to the server (RENEWING, RELEASE), to the MAC its replies
    /// came from (the broadcast MAC until one came in a frame).
    Unicast(Ipv4Addr, [u8; 6]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A DHCP message (UDP payload) to send from `src`.
    Send {
        payload: Vec<u8>,
        src: Ipv4Addr,
        dest: Dest,
    },
    /// Configure this lease (first time or renewed: the shell diffs).
    Apply(Lease),
    /// Remove this lease's configuration.
    Deconfigure(Lease),
    /// An ARP frame (probe or announcement, RFC 5227) to send as is.
    Arp([u8; arp::FRAME_LEN]),
    Log(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Selecting,
    Requesting,
    Rebooting,
    /// ARP-probing the acknowledged address before using it.
    Probing,
    Bound,
    Renewing,
    Rebinding,
    Stopped,
}

/// What identifies this client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub mac: [u8; 6],
    /// Option 61; default: hardware type 1 + MAC.
    pub client_id: Vec<u8>,
    /// Option 12 sent to the server.
    pub hostname: Option<String>,
    /// INIT-REBOOT: ask for this address first.
    pub remembered: Option<Ipv4Addr>,
    /// Window for the three ARP probes before a new address is used, ms
    /// (0: no probing).
    pub probe_ms: u64,
}

impl ClientConfig {
    pub fn new(mac: [u8; 6]) -> Self {
        let mut client_id = vec![1];
        client_id.extend_from_slice(&mac);
        ClientConfig {
            mac,
            client_id,
            hostname: None,
            remembered: None,
            probe_ms: 0,
        }
    }
}

const SEC: u64 = 1000;
/// Whatever the server's times say, at most one REQUEST a second: a lease
/// of 2 s once gave T1 = T2 = 0 and a rebinding loop (29,529 Kea lease
/// allocations in 14 s).
pub const REQUEST_FLOOR: u64 = SEC;
/// After a DHCPDECLINE, wait this long before DISCOVER (RFC 2131 3.1.5).
pub const DECLINE_WAIT: u64 = 10 * SEC;
/// REQUEST retransmissions before going back to DISCOVER.
const MAX_REQUESTS: u32 = 4;
/// After a DHCPNAK the search starts again at once; after the 2nd, 3rd ...
/// in a row (no lease in between) it waits 1 s, 2 s ... up to this: a
/// server that NAKs everything once got 108,226 REQUESTs (and as many
/// console lines) in 30 s.
pub const NAK_WAIT_MAX: u64 = 64 * SEC;

pub struct Client {
    cfg: ClientConfig,
    state: State,
    xid: u32,
    rng: u64,
    attempts: u32,
    /// When this exchange started (the `secs` field) and the REQUEST went
    /// out (lease times count from there, RFC 2131 4.4.1).
    started: u64,
    request_sent: u64,
    next: Option<u64>,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    lease: Option<Lease>,
    bound_at: u64,
    /// Source (IP, MAC) of the frame being handled, while it is.
    frame_from: Option<(Ipv4Addr, [u8; 6])>,
    /// The MAC the lease's server replies from, once seen.
    server_mac: Option<[u8; 6]>,
    /// The acknowledged lease being probed, and probes sent.
    probing: Option<(Lease, Vec<String>)>,
    probes: u32,
    /// Since when the lease held across a link return is being confirmed
    /// (INIT-REBOOT): its ACK is said on the console with the delay.
    confirming: Option<u64>,
    /// DHCPNAKs in a row since the last lease.
    naks: u32,
}

impl Client {
    /// A client; call [`Client::start`] to send the first message. `seed`
    /// feeds xids and retransmission jitter (any random value).
    pub fn new(cfg: ClientConfig, seed: u64) -> Self {
        Client {
            cfg,
            state: State::Stopped,
            xid: 0,
            rng: seed | 1,
            attempts: 0,
            started: 0,
            request_sent: 0,
            next: None,
            offer: None,
            lease: None,
            bound_at: 0,
            frame_from: None,
            server_mac: None,
            probing: None,
            probes: 0,
            confirming: None,
            naks: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// When [`Client::handle_timeout`] wants to be called next: the
    /// state's timer, and the held lease's expiry whatever the state (a
    /// search after a link return must not outlive the lease).
    pub fn next_timeout(&self) -> Option<u64> {
        let exp = self.lease.as_ref().map(|_| self.deadlines().2);
        match (self.next, exp) {
            (Some(n), Some(e)) => Some(n.min(e)),
            (n, e) => n.or(e),
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: jitter and xids, not cryptography.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// RFC 2131 4.1: 4 s, 8 s, 16 s ... up to 64 s, each +-1 s at random.
    fn backoff(&mut self) -> u64 {
        let base = (4 * SEC) << self.attempts.min(4);
        self.attempts += 1;
        base - SEC + self.random() % (2 * SEC + 1)
    }

    pub fn start(&mut self, now: u64) -> Vec<Action> {
        match self.cfg.remembered.take() {
            Some(addr) => {
                self.new_exchange(State::Rebooting, now);
                self.offer = Some((addr, Ipv4Addr::UNSPECIFIED));
                vec![self.request(now)]
            }
            None => self.discover(now),
        }
    }

    fn new_exchange(&mut self, state: State, now: u64) {
        self.state = state;
        self.xid = self.random() as u32;
        self.attempts = 0;
        self.started = now;
    }

    fn discover(&mut self, now: u64) -> Vec<Action> {
        self.new_exchange(State::Selecting, now);
        self.offer = None;
        self.confirming = None;
        vec![self.send_discover(now)]
    }

    fn send_discover(&mut self, now: u64) -> Action {
        self.request_sent = now;
        self.next = Some(now + self.backoff());
        let mut m = self.message(m::DISCOVER, Ipv4Addr::UNSPECIFIED, now);
        m.push(m::OPT_RAPID_COMMIT, []);
        self.send(m, Ipv4Addr::UNSPECIFIED, Dest::Broadcast)
    }

    /// The REQUEST of the current state (SELECTING/INIT-REBOOT/RENEWING/
    /// REBINDING), with its retransmission timer.
    fn request(&mut self, now: u64) -> Action {
        self.request_sent = now;
        let ciaddr = match (&self.lease, self.state) {
            (Some(l), State::Renewing | State::Rebinding) => l.addr,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let mut m = self.message(m::REQUEST, ciaddr, now);
        let mut dest = Dest::Broadcast;
        match self.state {
            State::Requesting | State::Rebooting => {
                self.next = Some(now + self.backoff());
                if let Some((addr, server)) = self.offer {
                    m.push(m::OPT_REQUESTED_IP, addr.octets());
                    if self.state == State::Requesting {
                        m.push(m::OPT_SERVER_ID, server.octets());
                    }
                }
            }
            _ => {
                // RENEWING/REBINDING: retry at half the time left to T2 /
                // expiry, at least 60 s (RFC 2131 4.4.5).
                let (_, t2, exp) = self.deadlines();
                let until = if self.state == State::Renewing {
                    t2
                } else {
                    exp
                };
                let retry = until.min(now + (until.saturating_sub(now) / 2).max(60 * SEC));
                self.next = Some(retry.max(now + REQUEST_FLOOR));
                if self.state == State::Renewing {
                    if let Some(l) = &self.lease {
                        dest = self.unicast(l.server);
                    }
                }
            }
        }
        self.send(m, ciaddr, dest)
    }

    fn message(&self, ty: u8, ciaddr: Ipv4Addr, now: u64) -> Msg {
        let mut m = Msg::request(self.xid, self.cfg.mac, ciaddr);
        m.secs = ((now.saturating_sub(self.started)) / SEC).min(0xffff) as u16;
        m.push(m::OPT_MSG_TYPE, [ty]);
        m.push(m::OPT_CLIENT_ID, self.cfg.client_id.clone());
        if ty != m::RELEASE && ty != m::DECLINE {
            m.push(m::OPT_MAX_SIZE, 1500u16.to_be_bytes());
            m.push(
                m::OPT_PARAMS,
                [
                    m::OPT_SUBNET_MASK,
                    m::OPT_ROUTER,
                    m::OPT_DNS,
                    m::OPT_HOSTNAME,
                    m::OPT_DOMAIN,
                    m::OPT_MTU,
                    m::OPT_BROADCAST,
                    m::OPT_LEASE_TIME,
                    m::OPT_T1,
                    m::OPT_T2,
                    m::OPT_DOMAIN_SEARCH,
                    m::OPT_CLASSLESS_ROUTES,
                    m::OPT_NTP,
                ],
            );
            if let Some(h) = &self.cfg.hostname {
                m.push(m::OPT_HOSTNAME, h.as_bytes());
            }
        }
        m
    }

    fn unicast(&self, server: Ipv4Addr) -> Dest {
        Dest::Unicast(server, self.server_mac.unwrap_or(frame::BROADCAST_MAC))
    }

    fn send(&self, m: Msg, src: Ipv4Addr, dest: Dest) -> Action {
        Action::Send {
            payload: m.encode(),
            src,
            dest,
        }
    }

    /// (T1, T2, expiry) in `now` units.
    fn deadlines(&self) -> (u64, u64, u64) {
        let at = |ms: u64| self.bound_at.saturating_add(ms);
        match &self.lease {
            Some(l) if l.lease_secs == u32::MAX => (u64::MAX, u64::MAX, u64::MAX),
            Some(l) => (at(l.t1_ms), at(l.t2_ms), at(u64::from(l.lease_secs) * SEC)),
            None => (u64::MAX, u64::MAX, u64::MAX),
        }
    }

    /// The next timer while bound: the earliest deadline, but no REQUEST
    /// sooner than [`REQUEST_FLOOR`] after the last one.
    fn bound_timer(&self) -> u64 {
        let (t1, t2, exp) = self.deadlines();
        t1.min(t2)
            .max(self.request_sent.saturating_add(REQUEST_FLOOR))
            .min(exp)
    }

    /// Call when `now >= next_timeout()`.
    pub fn handle_timeout(&mut self, now: u64) -> Vec<Action> {
        let (t1, t2, exp) = self.deadlines();
        let searching = !matches!(
            self.state,
            State::Bound | State::Renewing | State::Rebinding | State::Stopped
        );
        if searching && self.lease.is_some() && now >= exp {
            // The lease kept through a link return or a failed
            // confirmation ran out before any server answered.
            let mut v = vec![Action::Log("lease expired; address removed".into())];
            v.extend(self.lease.take().map(Action::Deconfigure));
            v.extend(self.discover(now));
            return v;
        }
        if self.next.is_none_or(|n| now < n) {
            return vec![];
        }
        match self.state {
            State::Selecting => vec![self.send_discover(now)],
            State::Requesting | State::Rebooting if self.attempts < MAX_REQUESTS => {
                vec![self.request(now)]
            }
            State::Requesting | State::Rebooting => {
                let mut v = vec![Action::Log("no DHCPACK; starting over".into())];
                v.extend(self.discover(now));
                v
            }
            State::Bound | State::Renewing | State::Rebinding if now >= exp => {
                let mut v = vec![Action::Log("lease expired; address removed".into())];
                v.extend(self.lease.take().map(Action::Deconfigure));
                v.extend(self.discover(now));
                v
            }
            State::Bound | State::Renewing if now >= t2 => {
                self.new_exchange(State::Rebinding, now);
                vec![Action::Log("rebinding (T2)".into()), self.request(now)]
            }
            State::Bound if now >= t1 => {
                self.new_exchange(State::Renewing, now);
                vec![self.request(now)]
            }
            State::Renewing | State::Rebinding => vec![self.request(now)],
            State::Bound => {
                self.next = Some(self.bound_timer());
                vec![]
            }
            State::Probing => self.probe(now),
            State::Stopped => vec![],
        }
    }

    /// The link came back (cable, VM migration): confirm the lease with
    /// INIT-REBOOT (RFC 2131 3.2), keeping it applied meanwhile; without a
    /// lease, start the search again at once.
    pub fn link_returned(&mut self, now: u64) -> Vec<Action> {
        match (&self.lease, self.state) {
            (_, State::Stopped) => vec![],
            (Some(l), _) => {
                let addr = l.addr;
                self.new_exchange(State::Rebooting, now);
                self.offer = Some((addr, Ipv4Addr::UNSPECIFIED));
                self.confirming = Some(now);
                vec![self.request(now)]
            }
            (None, _) => self.discover(now),
        }
    }

    /// Stop: DHCPRELEASE to the server and remove the configuration.
    pub fn stop(&mut self, now: u64) -> Vec<Action> {
        let mut v = Vec::new();
        if let Some(l) = self.lease.take() {
            self.xid = self.random() as u32;
            let mut m = self.message(m::RELEASE, l.addr, now);
            m.push(m::OPT_SERVER_ID, l.server.octets());
            v.push(self.send(m, l.addr, self.unicast(l.server)));
            v.push(Action::Deconfigure(l));
        }
        self.state = State::Stopped;
        self.next = None;
        v
    }

    /// Feed one received Ethernet frame. `verify_udp` is false when the
    /// kernel says the checksum was never filled in (offload on veth etc.).
    pub fn handle_frame(&mut self, bytes: &[u8], verify_udp: bool, now: u64) -> Vec<Action> {
        let d = match frame::parse(bytes, verify_udp) {
            Ok(d) => d,
            // Not DHCP to port 68: the socket sees all IPv4 on the link.
            Err(frame::FrameError::WrongPort | frame::FrameError::NotUdp) => return vec![],
            Err(e) => return vec![Action::Log(format!("dropped a frame: {e}"))],
        };
        // The core saw the server's MAC here: the shell needs not parse
        // the frame again (with checksums that offload leaves unfilled).
        self.frame_from = Some((d.src_ip, d.src_mac));
        let actions = self.handle_payload(d.payload, d.src_ip, now);
        self.frame_from = None;
        actions
    }

    /// Feed one UDP payload from the server port.
    pub fn handle_payload(&mut self, bytes: &[u8], sender: Ipv4Addr, now: u64) -> Vec<Action> {
        let log = |s: String| vec![Action::Log(s)];
        if matches!(self.state, State::Stopped | State::Bound | State::Probing) {
            return vec![];
        }
        let m = match Msg::decode(bytes) {
            Ok(m) => m,
            Err(e) => return log(format!("malformed DHCP message from {sender} dropped: {e}")),
        };
        if m.op != 2 {
            return vec![];
        }
        if m.xid != self.xid {
            return log(format!(
                "reply from {sender} for another transaction (xid {:#x}) dropped",
                m.xid
            ));
        }
        if m.chaddr[..6] != self.cfg.mac {
            return log(format!("reply from {sender} for another MAC dropped"));
        }
        let Some(ty) = m.msg_type() else {
            return log(format!(
                "reply from {sender} without a message type dropped"
            ));
        };
        match (ty, self.state) {
            (m::OFFER, State::Selecting) => match lease::from_reply(&m, sender) {
                Ok((l, _)) => {
                    self.offer = Some((l.addr, l.server));
                    self.state = State::Requesting;
                    self.attempts = 0;
                    vec![self.request(now)]
                }
                Err(e) => log(format!("offer from {sender} dropped: {e}")),
            },
            (m::ACK, State::Selecting) if m.opt(m::OPT_RAPID_COMMIT).is_none() => log(format!(
                "DHCPACK from {sender} without rapid commit dropped"
            )),
            (m::ACK, _) => self.ack(&m, sender, now),
            (m::NAK, State::Selecting) => vec![],
            (m::NAK, _) => {
                let server = self.offer.map(|o| o.1).unwrap_or(Ipv4Addr::UNSPECIFIED);
                let from = m.ip(m::OPT_SERVER_ID).unwrap_or(sender);
                if self.state == State::Requesting && from != server {
                    return log(format!(
                        "DHCPNAK from {from}, not our server {server}; ignored"
                    ));
                }
                self.nak(from, now)
            }
            _ => vec![],
        }
    }

    /// A DHCPNAK to our REQUEST: the lease goes; DISCOVER again at once
    /// the first time, after a growing pause when NAKs keep coming. Said
    /// on the 1st, 2nd, 4th, 8th ... NAK in a row.
    fn nak(&mut self, from: Ipv4Addr, now: u64) -> Vec<Action> {
        self.naks = self.naks.saturating_add(1);
        let n = self.naks;
        let wait = match n {
            1 => 0,
            _ => (SEC << (n - 2).min(6)).min(NAK_WAIT_MAX),
        };
        let mut v = Vec::new();
        if n.is_power_of_two() {
            v.push(Action::Log(if wait == 0 {
                format!("DHCPNAK from {from}; starting over")
            } else {
                format!(
                    "DHCPNAK from {from} ({n} in a row); asking again in {} s",
                    wait / SEC
                )
            }));
        }
        v.extend(self.lease.take().map(Action::Deconfigure));
        if wait == 0 {
            v.extend(self.discover(now));
        } else {
            self.new_exchange(State::Selecting, now);
            self.offer = None;
            self.confirming = None;
            self.next = Some(now + wait);
        }
        v
    }

    fn ack(&mut self, m: &Msg, sender: Ipv4Addr, now: u64) -> Vec<Action> {
        let (l, warnings) = match lease::from_reply(m, sender) {
            Ok(x) => x,
            Err(e) => return vec![Action::Log(format!("DHCPACK from {sender} dropped: {e}"))],
        };
        if matches!(self.state, State::Renewing | State::Rebinding)
            && self.lease.as_ref().is_some_and(|old| old.addr != l.addr)
        {
            // A new address on renewal: remove the old one first.
            if let Some(old) = self.lease.take() {
                let mut v = vec![Action::Deconfigure(old)];
                v.extend(self.bind(l, warnings, now));
                return v;
            }
        }
        let new_addr = self.lease.as_ref().is_none_or(|old| old.addr != l.addr);
        if self.cfg.probe_ms > 0 && new_addr {
            // RFC 5227: make sure nobody else uses it first.
            self.state = State::Probing;
            self.probes = 0;
            self.probing = Some((l, warnings));
            return self.probe(now);
        }
        self.bind(l, warnings, now)
    }

    /// The next ARP probe, or after the last one's wait, the binding
    /// (with an announcement).
    fn probe(&mut self, now: u64) -> Vec<Action> {
        let Some((l, _)) = &self.probing else {
            return vec![];
        };
        let addr = l.addr;
        if self.probes < arp::PROBES {
            self.probes += 1;
            self.next = Some(now + (self.cfg.probe_ms / u64::from(arp::PROBES)).max(1));
            return vec![Action::Arp(arp::probe(self.cfg.mac, addr))];
        }
        let Some((l, warnings)) = self.probing.take() else {
            return vec![];
        };
        let mut v = self.bind(l, warnings, now);
        v.push(Action::Arp(arp::announce(self.cfg.mac, addr)));
        v
    }

    /// Feed one received ARP frame: while probing, a host that has the
    /// address (or probes for it) makes the client decline it and look
    /// for another after [`DECLINE_WAIT`].
    pub fn handle_arp(&mut self, frame: &[u8], now: u64) -> Vec<Action> {
        let Some((l, _)) = self
            .probing
            .as_ref()
            .filter(|_| self.state == State::Probing)
        else {
            return vec![];
        };
        let Some(mac) = arp::conflict(frame, self.cfg.mac, l.addr) else {
            return vec![];
        };
        let (addr, server) = (l.addr, l.server);
        self.probing = None;
        let mut m = self.message(m::DECLINE, Ipv4Addr::UNSPECIFIED, now);
        m.push(m::OPT_REQUESTED_IP, addr.octets());
        m.push(m::OPT_SERVER_ID, server.octets());
        let decline = self.send(m, Ipv4Addr::UNSPECIFIED, Dest::Broadcast);
        let hw: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        self.new_exchange(State::Selecting, now);
        self.offer = None;
        self.next = Some(now + DECLINE_WAIT);
        vec![
            Action::Log(format!(
                "{addr} is in use by {} (ARP); declined, asking again in {} s",
                hw.join(":"),
                DECLINE_WAIT / SEC
            )),
            decline,
        ]
    }

    fn bind(&mut self, l: Lease, warnings: Vec<String>, now: u64) -> Vec<Action> {
        let mut v: Vec<Action> = warnings.into_iter().map(Action::Log).collect();
        if let Some(since) = self.confirming.take() {
            let kept = self.lease.as_ref().is_some_and(|old| old.addr == l.addr);
            let what = if kept { "kept" } else { "replaced" };
            v.push(Action::Log(format!(
                "lease on {} confirmed (INIT-REBOOT), address {what}, {} ms after the link came back",
                l.addr,
                now.saturating_sub(since)
            )));
        }
        self.state = State::Bound;
        self.naks = 0;
        self.bound_at = self.request_sent.min(now);
        self.offer = Some((l.addr, l.server));
        self.cfg.remembered = None;
        match self.frame_from {
            Some((ip, mac)) if ip == l.server => self.server_mac = Some(mac),
            _ if self
                .lease
                .as_ref()
                .is_some_and(|old| old.server == l.server) => {}
            _ => self.server_mac = None,
        }
        self.lease = Some(l.clone());
        self.next = Some(self.bound_timer());
        v.push(Action::Apply(l));
        v
    }
}

#[cfg(test)]
mod tests;
