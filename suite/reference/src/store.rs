//! Server-side state: codes, tokens, token families, sessions and assertion `jti`s.
//!
//! Tokens are 256 random bits, base64url, handed out once and kept only as SHA-256 digests
//! (a memory dump or log cannot replay them). Maps are sharded behind `RwLock`s keyed by
//! those digests; the digest is already uniform, so the map hashes its first 8 bytes.
//! Code redemption, refresh rotation and family revocation take the `families` mutex, which
//! makes them atomic with respect to each other; client_credentials never touches it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::scope::ScopeSet;

pub(crate) type Hash = [u8; 32];

/// Marks tokens issued to a client for itself (client_credentials), with no user.
pub(crate) const NO_USER: u32 = u32::MAX;

/// A fresh random token (256 bits, RFC 6749 10.10, RFC 6750 5.2) and its digest.
pub(crate) fn new_token() -> (String, Hash) {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let text = URL_SAFE_NO_PAD.encode(raw);
    let h = hash_token(&text);
    (text, h)
}

pub(crate) fn hash_token(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// Hashes a SHA-256 digest key by taking 8 of its bytes: uniform already, and not
/// attacker-steerable without breaking SHA-256.
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Keys are [u8; 32]; `Hash for [u8; N]` writes the bytes in one call.
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(b);
    }
    fn write_usize(&mut self, _: usize) {}
}

type DigestMap<V> = HashMap<Hash, V, BuildHasherDefault<DigestHasher>>;

const SHARDS: usize = 64;

pub(crate) struct Sharded<V> {
    shards: Box<[RwLock<DigestMap<V>>]>,
}

impl<V> Sharded<V> {
    fn new() -> Self {
        Sharded {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(DigestMap::default()))
                .collect(),
        }
    }
    fn shard(&self, key: &Hash) -> &RwLock<DigestMap<V>> {
        // Byte 31 is independent of the bytes the map hashes.
        &self.shards[key[31] as usize % SHARDS]
    }
    pub fn insert(&self, key: Hash, v: V) {
        lock_w(self.shard(&key)).insert(key, v);
    }
    pub fn remove(&self, key: &Hash) -> Option<V> {
        lock_w(self.shard(key)).remove(key)
    }
    pub fn get<R>(&self, key: &Hash, f: impl FnOnce(&V) -> R) -> Option<R> {
        lock_r(self.shard(key)).get(key).map(f)
    }
    pub fn update<R>(&self, key: &Hash, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        lock_w(self.shard(key)).get_mut(key).map(f)
    }
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock_r(s).len()).sum()
    }
    /// Drops entries `keep` refuses, one shard at a time so requests interleave.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for s in self.shards.iter() {
            let mut m = lock_w(s);
            m.retain(|_, v| keep(v));
            if m.capacity() > 64 && m.len() < m.capacity() / 4 {
                m.shrink_to_fit();
            }
        }
    }
}

// A poisoned lock only means another request panicked mid-update; the maps hold plain
// data that stays consistent per entry, so keep serving rather than turning every later
// request into a 500.
fn lock_w<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock_r<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AccessKind {
    /// From client_credentials, impersonation, the code or refresh grant.
    Regular,
    /// From token exchange (purpose websocket or webresource): not exchangeable again.
    Exchanged,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AccessRecord {
    pub expires_ms: u64,
    pub scope: ScopeSet,
    /// 0 when the token belongs to no family (client_credentials, impersonation).
    pub family: u64,
    pub client: u32,
    pub user: u32,
    pub kind: AccessKind,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RefreshRecord {
    pub expires_ms: u64,
    pub family: u64,
    pub client: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct CodeRecord {
    pub expires_ms: u64,
    pub client: u32,
    pub user: u32,
    pub scope: ScopeSet,
    pub redirect_uri: Box<str>,
    pub challenge: Box<str>,
    pub auth_time: u64,
    /// `Some(family)` once redeemed: a replay revokes that family (RFC 6749 4.1.2).
    pub redeemed: Option<u64>,
}

/// Everything issued from one authorization code: its access tokens and the chain of
/// refresh tokens (RFC 9700 4.14.2 reuse detection revokes the whole family).
#[derive(Debug)]
pub(crate) struct Family {
    pub user: u32,
    /// The scope of the grant, which refresh tokens keep (RFC 6749 6).
    pub scope: ScopeSet,
    pub auth_time: u64,
    /// The only refresh token that may be used next.
    pub current_refresh: Option<Hash>,
    pub access: Vec<Hash>,
    pub refresh: Vec<Hash>,
    pub revoked: bool,
    pub expires_ms: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub user: u32,
    /// When the user last actively authenticated, for `max_age` (OIDC Core 3.1.2.1).
    pub auth_time: u64,
    pub expires_ms: u64,
    /// Binds the consent form to this session (CSRF).
    pub csrf: String,
    /// Consent given per client (consent_method required).
    pub consents: Vec<(u32, ScopeSet)>,
}

pub(crate) struct Store {
    pub access: Sharded<AccessRecord>,
    pub refresh: Sharded<RefreshRecord>,
    pub codes: Sharded<CodeRecord>,
    pub sessions: Sharded<Session>,
    pub families: Mutex<HashMap<u64, Family>>,
    next_family: AtomicU64,
    /// (client, jti) of accepted assertions until their `exp` (RFC 7523 3 single use).
    jtis: Mutex<HashMap<(u32, Box<str>), u64>>,
    /// Live access tokens per client, for the client's own tokens (lock-free hot path).
    client_counts: Box<[AtomicU64]>,
    /// Live access tokens per (client, user).
    user_counts: Mutex<HashMap<(u32, u32), u64>>,
    /// Each fixture user's status, which the users API may change while the server runs;
    /// kept per server (not in the shared registry) so two servers of one fixture never
    /// see each other's changes.
    users_active: Box<[AtomicBool]>,
}

/// Sizes of the stores, for observing that purging keeps memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    pub access_tokens: usize,
    pub refresh_tokens: usize,
    pub codes: usize,
    pub sessions: usize,
    pub families: usize,
    pub assertion_jtis: usize,
}

impl Store {
    pub fn new(clients: usize, users_active: impl IntoIterator<Item = bool>) -> Store {
        Store {
            access: Sharded::new(),
            refresh: Sharded::new(),
            codes: Sharded::new(),
            sessions: Sharded::new(),
            families: Mutex::new(HashMap::new()),
            next_family: AtomicU64::new(1),
            jtis: Mutex::new(HashMap::new()),
            client_counts: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            user_counts: Mutex::new(HashMap::new()),
            users_active: users_active.into_iter().map(AtomicBool::new).collect(),
        }
    }

    /// Whether the user may sign in and hold tokens now (spec POST /oauth/token 403 "user
    /// is disabled").
    pub fn user_active(&self, user: u32) -> bool {
        self.users_active
            .get(user as usize)
            .is_some_and(|a| a.load(Ordering::Relaxed))
    }

    pub fn set_user_active(&self, user: u32, active: bool) {
        if let Some(a) = self.users_active.get(user as usize) {
            a.store(active, Ordering::Relaxed);
        }
    }

    /// Revokes every grant of `user`: unredeemed codes and the families (refresh and access
    /// tokens) issued from her codes.
    pub fn revoke_grants_of(&self, user: u32) {
        self.codes.retain(|c| c.user != user);
        let mut fams = lock(&self.families);
        let ids: Vec<u64> = fams
            .iter()
            .filter(|(_, f)| f.user == user && !f.revoked)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.revoke_family(&mut fams, id);
        }
    }

    pub fn new_family_id(&self) -> u64 {
        self.next_family.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserves one token under the (user, client) cap; false when the cap is reached
    /// (spec 403 "maximum number of tokens", notes ambiguity 15).
    pub fn reserve(&self, client: u32, user: u32, cap: u64) -> bool {
        if user == NO_USER {
            let c = &self.client_counts[client as usize];
            if c.fetch_add(1, Ordering::Relaxed) >= cap {
                c.fetch_sub(1, Ordering::Relaxed);
                return false;
            }
            true
        } else {
            let mut m = lock(&self.user_counts);
            let n = m.entry((client, user)).or_insert(0);
            if *n >= cap {
                return false;
            }
            *n += 1;
            true
        }
    }

    pub fn release(&self, client: u32, user: u32) {
        if user == NO_USER {
            let _ = self.client_counts[client as usize].fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |n| n.checked_sub(1),
            );
        } else {
            let mut m = lock(&self.user_counts);
            if let Some(n) = m.get_mut(&(client, user)) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&(client, user));
                }
            }
        }
    }

    /// Removes one access token, keeping the cap's count right.
    pub fn remove_access(&self, h: &Hash) -> Option<AccessRecord> {
        let r = self.access.remove(h)?;
        self.release(r.client, r.user);
        Some(r)
    }

    /// Revokes a family: all its access and refresh tokens go, and the family stays as a
    /// tombstone until it would have expired, so later reuse is still recognised.
    pub fn revoke_family(&self, families: &mut HashMap<u64, Family>, id: u64) {
        if let Some(f) = families.get_mut(&id) {
            f.revoked = true;
            f.current_refresh = None;
            for h in f.access.drain(..) {
                self.remove_access(&h);
            }
            for h in f.refresh.drain(..) {
                self.refresh.remove(&h);
            }
        }
    }

    /// Records a `jti`; false if it was already used and has not expired.
    pub fn use_jti(&self, client: u32, jti: &str, exp_ms: u64, now_ms: u64) -> bool {
        let mut m = lock(&self.jtis);
        match m.get(&(client, jti.into())) {
            Some(&exp) if exp > now_ms => false,
            _ => {
                m.insert((client, jti.into()), exp_ms);
                true
            }
        }
    }

    /// Drops everything expired, so memory is bounded by what is live.
    pub fn purge(&self, now_ms: u64) {
        let mut released: Vec<(u32, u32)> = Vec::new();
        self.access.retain(|r| {
            if r.expires_ms > now_ms {
                true
            } else {
                released.push((r.client, r.user));
                false
            }
        });
        for (c, u) in released {
            self.release(c, u);
        }
        self.refresh.retain(|r| r.expires_ms > now_ms);
        self.codes.retain(|r| r.expires_ms > now_ms);
        self.sessions.retain(|r| r.expires_ms > now_ms);
        {
            let mut fams = lock(&self.families);
            fams.retain(|_, f| f.expires_ms > now_ms);
            for f in fams.values_mut() {
                // Expired members were purged above; forget their digests too.
                if f.access.len() > 16 {
                    f.access.retain(|h| self.access.get(h, |_| ()).is_some());
                }
            }
        }
        lock(&self.jtis).retain(|_, exp| *exp > now_ms);
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            access_tokens: self.access.len(),
            refresh_tokens: self.refresh.len(),
            codes: self.codes.len(),
            sessions: self.sessions.len(),
            families: lock(&self.families).len(),
            assertion_jtis: lock(&self.jtis).len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every issued access token costs one table slot of key plus record; the benchmark's
    /// resident-memory figure after a million tokens follows this size.
    #[test]
    fn token_records_stay_compact() {
        assert_eq!(std::mem::size_of::<AccessRecord>(), 48);
        assert_eq!(std::mem::size_of::<(Hash, AccessRecord)>(), 80);
    }
}
