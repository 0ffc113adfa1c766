//! The DHCPv6 client state machine (RFC 8415 section 18), sans-IO: fed
//! server messages and the time in milliseconds, it returns actions.
//! Stateless: Information-request, refreshed after the information refresh
//! time. Stateful: Solicit, Request, then Renew at T1, Rebind at T2,
//! expiry at the valid lifetime, Release at stop. Retransmissions follow
//! section 15 (RT doubling up to MRT with +-10% jitter).
//!
//! Simplification: the first acceptable Advertise is taken (no collection
//! over the first RT; one server per link is the case here).

use super::msg::{self, Builder, Reply};
use std::net::Ipv6Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease6 {
    pub addr: Ipv6Addr,
    pub preferred: u32,
    pub valid: u32,
    pub t1: u32,
    pub t2: u32,
    pub server_id: Vec<u8>,
}

/// DNS, domains and NTP servers from a reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info6 {
    pub dns: Vec<Ipv6Addr>,
    pub domains: Vec<String>,
    pub ntp: Vec<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action6 {
    /// Send to All_DHCP_Relay_Agents_and_Servers (ff02::1:2) port 547.
    Send(Vec<u8>),
    /// Configure (or refresh the lifetimes of) this address.
    Bound(Lease6),
    /// The address's valid lifetime ran out, or it was released: remove.
    Unbound(Lease6),
    Info(Info6),
    Log(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Information,
    Solicit,
    Request,
    Bound,
    Renew,
    Rebind,
    /// Stateless information received; refresh at `next`.
    Informed,
}

/// One message exchange's retransmission parameters (section 7.6), ms.
#[derive(Debug, Clone, Copy)]
struct Params {
    irt: u64,
    mrt: u64,
    /// Max tries (0: unlimited).
    mrc: u32,
}

const SOL: Params = Params {
    irt: 1000,
    mrt: 3_600_000,
    mrc: 0,
};
const REQ: Params = Params {
    irt: 1000,
    mrt: 30_000,
    mrc: 10,
};
const REN: Params = Params {
    irt: 10_000,
    mrt: 600_000,
    mrc: 0,
};
const INF: Params = Params {
    irt: 1000,
    mrt: 3_600_000,
    mrc: 0,
};
/// Default and minimum information refresh time (section 21.23), s.
const IRT_DEFAULT: u32 = 86_400;
const IRT_MINIMUM: u32 = 600;

pub struct Client6 {
    duid: Vec<u8>,
    iaid: u32,
    rng: u64,
    state: State,
    xid: u32,
    /// Start of this exchange (for the elapsed-time option).
    started: u64,
    rt: u64,
    tries: u32,
    params: Params,
    next: Option<u64>,
    server_id: Option<Vec<u8>>,
    offered: Option<Ipv6Addr>,
    lease: Option<Lease6>,
    bound_at: u64,
    info: Option<Info6>,
}

/// DUID-LL (type 3, hardware type 1) from a MAC address.
pub fn duid_ll(mac: [u8; 6]) -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&mac);
    d
}

fn secs_ms(s: u32) -> Option<u64> {
    (s != u32::MAX).then_some(u64::from(s) * 1000)
}

impl Client6 {
    pub fn new(duid: Vec<u8>, iaid: u32, seed: u64) -> Self {
        Client6 {
            duid,
            iaid,
            rng: seed | 1,
            state: State::Idle,
            xid: 0,
            started: 0,
            rt: 0,
            tries: 0,
            params: SOL,
            next: None,
            server_id: None,
            offered: None,
            lease: None,
            bound_at: 0,
            info: None,
        }
    }

    pub fn lease(&self) -> Option<&Lease6> {
        self.lease.as_ref()
    }

    /// Stateful (IA_NA) or stateless already running.
    pub fn stateful(&self) -> bool {
        matches!(
            self.state,
            State::Solicit | State::Request | State::Bound | State::Renew | State::Rebind
        )
    }

    pub fn idle(&self) -> bool {
        self.state == State::Idle
    }

    fn rand(&mut self) -> u64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// `t` +- 10%.
    fn jitter(&mut self, t: u64) -> u64 {
        let span = t / 5;
        if span == 0 {
            return t;
        }
        t - t / 10 + self.rand() % (span + 1)
    }

    fn begin(&mut self, state: State, params: Params, now: u64) -> Vec<Action6> {
        self.state = state;
        self.params = params;
        self.xid = (self.rand() & 0xff_ffff) as u32;
        self.started = now;
        self.tries = 0;
        self.rt = 0;
        self.transmit(now)
    }

    fn message(&self, now: u64) -> Vec<u8> {
        let elapsed = ((now.saturating_sub(self.started)) / 10).min(0xffff) as u16;
        let ty = match self.state {
            State::Information | State::Informed | State::Idle => msg::INFORMATION_REQUEST,
            State::Solicit => msg::SOLICIT,
            State::Request => msg::REQUEST,
            State::Renew | State::Bound => msg::RENEW,
            State::Rebind => msg::REBIND,
        };
        let mut b = Builder::new(ty, self.xid)
            .opt(msg::OPT_CLIENTID, &self.duid)
            .opt(msg::OPT_ELAPSED_TIME, &elapsed.to_be_bytes())
            .opt(msg::OPT_ORO, &msg::oro());
        if matches!(ty, msg::REQUEST | msg::RENEW) {
            if let Some(s) = &self.server_id {
                b = b.opt(msg::OPT_SERVERID, s);
            }
        }
        let addrs: Vec<Ipv6Addr> = match ty {
            msg::REQUEST => self.offered.into_iter().collect(),
            msg::RENEW | msg::REBIND => self.lease.iter().map(|l| l.addr).collect(),
            _ => vec![],
        };
        if ty != msg::INFORMATION_REQUEST {
            b = b.opt(msg::OPT_IA_NA, &msg::ia_na_body(self.iaid, &addrs));
        }
        b.finish()
    }

    fn transmit(&mut self, now: u64) -> Vec<Action6> {
        let p = self.params;
        if p.mrc != 0 && self.tries >= p.mrc {
            // Request gave up: start over from Solicit.
            let mut a = vec![Action6::Log("no reply to Request; soliciting again".into())];
            a.extend(self.begin(State::Solicit, SOL, now));
            return a;
        }
        self.rt = if self.tries == 0 {
            self.jitter(p.irt)
        } else {
            let d = self.rt * 2;
            if d > p.mrt {
                self.jitter(p.mrt)
            } else {
                self.jitter(d)
            }
        };
        self.tries += 1;
        let mut deadline = now + self.rt;
        // Renew runs until T2, Rebind until the valid lifetime ends.
        if let Some(l) = &self.lease {
            let limit = match self.state {
                State::Renew => secs_ms(l.t2),
                State::Rebind => secs_ms(l.valid),
                _ => None,
            };
            if let Some(t) = limit {
                deadline = deadline.min(self.bound_at + t).max(now + 1);
            }
        }
        self.next = Some(deadline);
        vec![Action6::Send(self.message(now))]
    }

    /// Stateless: ask for DNS/NTP (Information-request).
    pub fn start_stateless(&mut self, now: u64) -> Vec<Action6> {
        self.begin(State::Information, INF, now)
    }

    /// Stateful: ask for an address (Solicit).
    pub fn start_stateful(&mut self, now: u64) -> Vec<Action6> {
        self.begin(State::Solicit, SOL, now)
    }

    pub fn next_timeout(&self) -> Option<u64> {
        self.next
    }

    pub fn handle_timeout(&mut self, now: u64) -> Vec<Action6> {
        match self.next {
            Some(t) if now >= t => {}
            _ => return vec![],
        }
        match (self.state, self.lease.clone()) {
            (State::Idle, _) => {
                self.next = None;
                vec![]
            }
            (State::Informed, _) => self.begin(State::Information, INF, now),
            (State::Bound, Some(_)) => self.begin(State::Renew, REN, now),
            (State::Renew, Some(l)) if secs_ms(l.t2).is_some_and(|t| now >= self.bound_at + t) => {
                let mut a = vec![Action6::Log(format!(
                    "no reply to Renew for {}; rebinding",
                    l.addr
                ))];
                a.extend(self.begin(State::Rebind, REN, now));
                a
            }
            (State::Rebind, Some(l))
                if secs_ms(l.valid).is_some_and(|t| now >= self.bound_at + t) =>
            {
                self.lease = None;
                let mut a = vec![
                    Action6::Log(format!("lease of {} expired", l.addr)),
                    Action6::Unbound(l),
                ];
                a.extend(self.begin(State::Solicit, SOL, now));
                a
            }
            _ => self.transmit(now),
        }
    }

    /// Release the address (one Release, no wait) and go idle.
    pub fn stop(&mut self, now: u64) -> Vec<Action6> {
        let mut a = Vec::new();
        if let Some(l) = self.lease.take() {
            self.xid = (self.rand() & 0xff_ffff) as u32;
            self.started = now;
            let m = Builder::new(msg::RELEASE, self.xid)
                .opt(msg::OPT_CLIENTID, &self.duid)
                .opt(msg::OPT_SERVERID, &l.server_id)
                .opt(msg::OPT_ELAPSED_TIME, &[0, 0])
                .opt(msg::OPT_IA_NA, &msg::ia_na_body(self.iaid, &[l.addr]))
                .finish();
            a.push(Action6::Send(m));
            a.push(Action6::Log(format!("released {}", l.addr)));
            a.push(Action6::Unbound(l));
        }
        self.state = State::Idle;
        self.next = None;
        a
    }

    /// A message from port 547. Anything not for us or not acceptable
    /// changes nothing; the Log says why when it is for us.
    // long: the client's answer to each reply in each state: one match.
    pub fn handle(&mut self, bytes: &[u8], now: u64) -> Vec<Action6> {
        let r = match msg::parse(bytes) {
            Ok(r) => r,
            Err(e) => {
                return vec![Action6::Log(format!(
                    "malformed DHCPv6 message ignored: {e}"
                ))]
            }
        };
        if r.xid != self.xid || r.client_id.as_deref() != Some(&self.duid[..]) {
            return vec![];
        }
        let Some(server_id) = r.server_id.clone() else {
            return vec![Action6::Log(
                "DHCPv6 reply without a server id ignored".into(),
            )];
        };
        let mut out: Vec<Action6> = r.warnings.iter().map(|w| Action6::Log(w.clone())).collect();
        match (self.state, r.ty) {
            (State::Information, msg::REPLY) => {
                if r.status != msg::STATUS_SUCCESS {
                    out.push(Action6::Log(format!(
                        "information-request refused: status {} {}",
                        r.status, r.status_text
                    )));
                    return out;
                }
                let refresh = r.info_refresh.unwrap_or(IRT_DEFAULT).max(IRT_MINIMUM);
                self.state = State::Informed;
                self.next = secs_ms(refresh).map(|t| now + t);
                out.extend(self.info_from(&r));
            }
            (State::Solicit, msg::ADVERTISE) => match self.usable_ia(&r) {
                Ok((ia_addr, _)) => {
                    self.server_id = Some(server_id);
                    self.offered = Some(ia_addr.addr);
                    out.push(Action6::Log(format!("offered {}", ia_addr.addr)));
                    out.extend(self.begin(State::Request, REQ, now));
                }
                Err(why) => out.push(Action6::Log(format!("advertise ignored: {why}"))),
            },
            (State::Request | State::Renew | State::Rebind, msg::REPLY) => {
                match self.usable_ia(&r) {
                    Ok((a, ia)) => {
                        let pref = a.preferred;
                        let t1 = if ia.t1 == 0 { pref / 2 } else { ia.t1 };
                        let t2 = if ia.t2 == 0 { pref / 5 * 4 } else { ia.t2 };
                        let lease = Lease6 {
                            addr: a.addr,
                            preferred: pref,
                            valid: a.valid,
                            t1: t1.min(a.valid),
                            t2: t2.max(t1).min(a.valid),
                            server_id: server_id.clone(),
                        };
                        if let Some(old) = self.lease.take().filter(|o| o.addr != lease.addr) {
                            out.push(Action6::Unbound(old));
                        }
                        self.server_id = Some(server_id);
                        self.state = State::Bound;
                        self.bound_at = now;
                        self.next = secs_ms(lease.t1).map(|t| now + t.max(1000));
                        self.lease = Some(lease.clone());
                        out.push(Action6::Bound(lease));
                        out.extend(self.info_from(&r));
                    }
                    Err(why) if self.state == State::Request => {
                        out.push(Action6::Log(format!(
                            "reply ignored: {why}; soliciting again"
                        )));
                        out.extend(self.begin(State::Solicit, SOL, now));
                    }
                    Err(why) => {
                        // Renew/Rebind refused (e.g. NoBinding): start over.
                        out.push(Action6::Log(format!(
                            "renewal refused: {why}; soliciting again"
                        )));
                        if let Some(l) = self.lease.take() {
                            out.push(Action6::Unbound(l));
                        }
                        out.extend(self.begin(State::Solicit, SOL, now));
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn info_from(&mut self, r: &Reply) -> Vec<Action6> {
        let info = Info6 {
            dns: r.dns.clone(),
            domains: r.domains.clone(),
            ntp: r.ntp.clone(),
        };
        if self.info.as_ref() == Some(&info) {
            return vec![];
        }
        self.info = Some(info.clone());
        vec![Action6::Info(info)]
    }

    /// Our IA_NA's first acceptable address, or why there is none.
    fn usable_ia(&self, r: &Reply) -> Result<(msg::IaAddr, msg::IaNa), String> {
        if r.status != msg::STATUS_SUCCESS {
            return Err(format!("status {} {}", r.status, r.status_text));
        }
        let ia = r
            .ia_na
            .iter()
            .find(|ia| ia.iaid == self.iaid)
            .ok_or("no address for us")?;
        if ia.status != msg::STATUS_SUCCESS {
            return Err(format!("address status {}", ia.status));
        }
        if ia.t1 > ia.t2 && ia.t2 != 0 {
            return Err(format!("T1 {} > T2 {}", ia.t1, ia.t2));
        }
        let a = ia
            .addrs
            .iter()
            .find(|a| msg::global_unicast(&a.addr) && a.valid > 0 && a.preferred <= a.valid)
            .ok_or("no usable address (lifetimes or scope)")?;
        Ok((a.clone(), ia.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dhcp6::msg::tests::reply;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn sent(a: &[Action6]) -> Vec<u8> {
        a.iter()
            .find_map(|a| match a {
                Action6::Send(m) => Some(m.clone()),
                _ => None,
            })
            .expect("a message sent")
    }

    fn xid(m: &[u8]) -> u32 {
        u32::from_be_bytes([0, m[1], m[2], m[3]])
    }

    fn as_type(mut m: Vec<u8>, ty: u8) -> Vec<u8> {
        m[0] = ty;
        m
    }

    #[test]
    fn solicit_request_renew_rebind_expire_release() {
        let duid = duid_ll(MAC);
        let mut c = Client6::new(duid.clone(), 7, 42);
        let m = sent(&c.start_stateful(0));
        assert_eq!(m[0], msg::SOLICIT);
        // Retransmission backs off around 1 s, 2 s.
        let t1 = c.next_timeout().expect("timer");
        assert!((900..=1100).contains(&t1));
        let m = sent(&c.handle_timeout(t1));
        let adv = as_type(reply(xid(&m), &duid, 7, "fd00::42"), msg::ADVERTISE);
        // Someone else's transaction: ignored.
        assert!(c
            .handle(
                &as_type(reply(xid(&m) ^ 1, &duid, 7, "fd00::42"), msg::ADVERTISE),
                t1
            )
            .is_empty());
        let a = c.handle(&adv, t1 + 5);
        let req = sent(&a);
        assert_eq!(req[0], msg::REQUEST);
        let a = c.handle(&reply(xid(&req), &duid, 7, "fd00::42"), t1 + 10);
        let Some(Action6::Bound(l)) = a.iter().find(|a| matches!(a, Action6::Bound(_))) else {
            panic!("bound expected: {a:?}")
        };
        assert_eq!((l.t1, l.t2, l.preferred, l.valid), (50, 80, 100, 200));
        assert!(a
            .iter()
            .any(|a| matches!(a, Action6::Info(i) if i.domains.len() == 2)));
        let bound = t1 + 10;
        assert_eq!(c.next_timeout(), Some(bound + 50_000));
        let ren = sent(&c.handle_timeout(bound + 50_000));
        assert_eq!(ren[0], msg::RENEW);
        // No answer until T2: Rebind, then expiry at the valid lifetime.
        let mut now = bound + 50_000;
        let mut saw_rebind = false;
        let mut expired = false;
        while now < bound + 210_000 && !expired {
            now = c.next_timeout().expect("timer");
            for a in c.handle_timeout(now) {
                match a {
                    Action6::Send(m) if m[0] == msg::REBIND => saw_rebind = true,
                    Action6::Unbound(_) => expired = true,
                    _ => {}
                }
            }
        }
        assert!(
            saw_rebind && expired,
            "rebind {saw_rebind} expired {expired}"
        );
        assert!(now >= bound + 80_000);
        assert_eq!(c.lease(), None);
        assert!(c.stateful(), "soliciting again");
    }

    #[test]
    fn renew_reply_refreshes_and_release_at_stop() {
        let duid = duid_ll(MAC);
        let mut c = Client6::new(duid.clone(), 7, 1);
        let m = sent(&c.start_stateful(0));
        let req = sent(&c.handle(
            &as_type(reply(xid(&m), &duid, 7, "fd00::42"), msg::ADVERTISE),
            1,
        ));
        c.handle(&reply(xid(&req), &duid, 7, "fd00::42"), 2);
        let ren = sent(&c.handle_timeout(50_002));
        let a = c.handle(&reply(xid(&ren), &duid, 7, "fd00::42"), 50_010);
        assert!(a.iter().any(|a| matches!(a, Action6::Bound(_))));
        assert!(
            !a.iter().any(|a| matches!(a, Action6::Info(_))),
            "info unchanged"
        );
        assert_eq!(c.next_timeout(), Some(100_010));
        let a = c.stop(60_000);
        let rel = sent(&a);
        assert_eq!(rel[0], msg::RELEASE);
        assert!(a.iter().any(|a| matches!(a, Action6::Unbound(_))));
        assert_eq!(c.next_timeout(), None);
    }

    #[test]
    fn stateless_and_hostile_replies() {
        let duid = duid_ll(MAC);
        let mut c = Client6::new(duid.clone(), 7, 3);
        let m = sent(&c.start_stateless(0));
        assert_eq!(m[0], msg::INFORMATION_REQUEST);
        let good = reply(xid(&m), &duid, 7, "fd00::42");
        // Truncated: logged, nothing changes.
        let a = c.handle(&good[..good.len() - 3], 5);
        assert!(matches!(&a[..], [Action6::Log(_)]), "{a:?}");
        // An address that is not usable in a stateful reply.
        let a = c.handle(&good, 6);
        assert!(matches!(a.last(), Some(Action6::Info(_))), "{a:?}");
        assert_eq!(c.next_timeout(), Some(6 + 86_400_000));
        // Stateful with a multicast address: refused, stays soliciting.
        let mut c = Client6::new(duid.clone(), 7, 4);
        let m = sent(&c.start_stateful(0));
        let a = c.handle(
            &as_type(reply(xid(&m), &duid, 7, "ff02::1"), msg::ADVERTISE),
            1,
        );
        assert!(!a.iter().any(|a| matches!(a, Action6::Send(_))), "{a:?}");
        assert!(c.lease().is_none());
    }

    /// The fuzz harness's body on stable: mutations of an Advertise, a
    /// Reply (both answering the harness's own clients) and an RA.
    #[test]
    fn mutated_messages_never_panic() {
        let duid = duid_ll([2, 0, 0, 0, 0, 1]);
        let mut c = Client6::new(duid.clone(), 1, 7);
        let x = xid(&sent(&c.start_stateful(0)));
        let mut i = Client6::new(duid.clone(), 1, 7);
        let xi = xid(&sent(&i.start_stateless(0)));
        let seeds = [
            as_type(reply(x, &duid, 1, "fd00::42"), msg::ADVERTISE),
            reply(x, &duid, 1, "fd00::42"),
            reply(xi, &duid, 1, "fd00::42"),
            crate::core::ra::tests::ra(
                0xc0,
                1800,
                &[
                    crate::core::ra::tests::prefix("fd00::", 64, 7200, 3600),
                    crate::core::ra::tests::rdnss(600, &["fd00::53".parse().expect("a")]),
                    crate::core::ra::tests::dnssl(600, &["a.test", "b.test"]),
                ],
            ),
            b"[fd00::5]::[fd00::1]:64:host:eth0:none".to_vec(),
        ];
        nodistro_common::fuzzing::mutations(&seeds, 20_000, &[], |n, m| {
            crate::fuzzing::receive_ipv6(m);
            // Whatever binds passed the checks.
            let mut c = Client6::new(duid.clone(), 1, 7);
            let _ = c.start_stateful(0);
            for a in c.handle(m, 1) {
                if let Action6::Bound(l) = a {
                    assert!(msg::global_unicast(&l.addr), "mutation {n}: {l:?}");
                }
            }
        });
    }
}
