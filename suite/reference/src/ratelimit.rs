//! Rate limits per the spec's `x-qlik-tier` (authorize is tier 1, token and revoke tier
//! 2): a fixed window per tier and per caller, configurable in the fixture, with per-client
//! overrides. Over the limit the caller's whole tier answers 429 until the window ends
//! (qlik.dev/apis/rest/rate-limiting, notes section 2).
//!
//! The caller is the client when the request names a known one (notes ambiguity 15), else
//! the peer address. A client's counters are single atomics, so the token hot path takes
//! no lock here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::store::lock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    One = 0,
    Two = 1,
}

/// One window's counter: window number in the high 32 bits, hits in the low 32.
struct Window(AtomicU64);

impl Window {
    fn new() -> Window {
        Window(AtomicU64::new(0))
    }

    /// Counts a hit; `Err(seconds until the window ends)` when over `limit`.
    fn hit(&self, window: u64, limit: u64, retry_after: u64) -> Result<(), u64> {
        let w = window & 0xFFFF_FFFF;
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (cw, count) = (cur >> 32, cur & 0xFFFF_FFFF);
            let count = if cw == w { count } else { 0 };
            if count >= limit {
                return Err(retry_after);
            }
            let next = (w << 32) | (count + 1);
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }
}

/// (window number, hits) for tier 1 and tier 2.
type PeerWindows = [(u64, u64); 2];

pub(crate) struct RateLimiter {
    window_seconds: u64,
    default_limits: [u64; 2],
    /// Per client: [tier1, tier2] counters and limits.
    clients: Box<[([Window; 2], [u64; 2])]>,
    /// Callers without a known client, by address; `None` when the address is unknown
    /// (an in-process router without connection info).
    peers: Mutex<HashMap<Option<IpAddr>, PeerWindows>>,
}

impl RateLimiter {
    pub fn new(window_seconds: u64, tier1: u64, tier2: u64, clients: &[(u64, u64)]) -> Self {
        RateLimiter {
            window_seconds,
            default_limits: [tier1, tier2],
            clients: clients
                .iter()
                .map(|&(t1, t2)| ([Window::new(), Window::new()], [t1, t2]))
                .collect(),
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn window(&self, now_s: u64) -> (u64, u64) {
        let w = now_s / self.window_seconds;
        let retry = (w + 1) * self.window_seconds - now_s;
        (w, retry.max(1))
    }

    /// `cap` lowers the configured limit (`u64::MAX` leaves it).
    pub fn check_client(&self, client: u32, tier: Tier, now_s: u64, cap: u64) -> Result<(), u64> {
        let (w, retry) = self.window(now_s);
        let (windows, limits) = &self.clients[client as usize];
        windows[tier as usize].hit(w, limits[tier as usize].min(cap), retry)
    }

    pub fn check_peer(
        &self,
        peer: Option<IpAddr>,
        tier: Tier,
        now_s: u64,
        cap: u64,
    ) -> Result<(), u64> {
        let (w, retry) = self.window(now_s);
        let limit = self.default_limits[tier as usize].min(cap);
        let mut m = lock(&self.peers);
        let slot = &mut m.entry(peer).or_insert([(w, 0); 2])[tier as usize];
        if slot.0 != w {
            *slot = (w, 0);
        }
        if slot.1 >= limit {
            return Err(retry);
        }
        slot.1 += 1;
        Ok(())
    }

    /// Forgets peers whose windows are over, bounding the map by recent callers.
    pub fn purge(&self, now_s: u64) {
        let (w, _) = self.window(now_s);
        lock(&self.peers).retain(|_, s| s[0].0 == w || s[1].0 == w);
    }
}
