//! A bounded cache of verified access tokens, keyed by the whole token string, so a
//! token presented again skips the signature check. It holds [`Unchecked`] claims: every
//! hit is checked against the rules again (so an entry never outlives the token's `exp`),
//! and the caller still checks revocation and the account's state in the store: the cache
//! saves only cryptography.
//!
//! Entries belong to a key generation: when the key ring changes (rotation, a revoked
//! key, a reload), the generation moves on and every entry goes, including one being
//! added by a verification that started under the old keys.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Unchecked;

/// Longest token worth remembering.
const MAX_CACHED_TOKEN: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    map: HashMap<Box<str>, Unchecked>,
}

/// Verified tokens, at most `cap` of them.
#[derive(Debug)]
pub struct TokenCache {
    cap: usize,
    inner: Mutex<Inner>,
}

impl TokenCache {
    /// A cache of `cap` entries; 0 switches it off.
    pub fn new(cap: usize) -> TokenCache {
        TokenCache {
            cap,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of `token`, if it was verified before under the current keys and has
    /// not expired at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Unchecked> {
        if self.cap == 0 {
            return None;
        }
        let mut inner = self.inner();
        match inner.map.get(token) {
            Some(c) if c.exp() > now => Some(c.clone()),
            Some(_) => {
                inner.map.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remembers a token that just verified under the keys of `generation`; a token of
    /// an older generation is not remembered.
    pub fn put(&self, token: &str, claims: &Unchecked, now: i64, generation: u64) {
        if self.cap == 0 || token.len() > MAX_CACHED_TOKEN {
            return;
        }
        let mut inner = self.inner();
        if inner.generation != generation {
            return;
        }
        if inner.map.len() >= self.cap {
            inner.map.retain(|_, c| c.exp() > now);
            if inner.map.len() >= self.cap {
                // Still full of live tokens: forget an arbitrary half.
                let drop: Vec<Box<str>> =
                    inner.map.keys().take(self.cap / 2 + 1).cloned().collect();
                for k in drop {
                    inner.map.remove(&k);
                }
            }
        }
        inner.map.insert(token.into(), claims.clone());
    }

    /// Forgets everything and starts `generation`.
    pub fn reset(&self, generation: u64) {
        let mut inner = self.inner();
        inner.map.clear();
        inner.generation = generation;
    }

    /// Entries now.
    pub fn entries(&self) -> usize {
        self.inner().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::Claims;

    fn claims(exp: i64) -> Unchecked {
        Unchecked(Claims {
            iss: "i".into(),
            sub: "s".into(),
            iat: 0,
            exp,
            nbf: None,
            jti: "j".into(),
            sid: "f".into(),
            role: "user".into(),
            amr: vec![],
        })
    }

    #[test]
    fn bounded_and_never_past_exp() {
        let c = TokenCache::new(4);
        c.put("a", &claims(100), 0, 0);
        assert_eq!(c.get("a", 99).map(|x| x.exp()), Some(100));
        assert_eq!(c.get("a", 100), None, "expired entries are gone");
        assert_eq!(c.entries(), 0);
        for i in 0..10 {
            c.put(&format!("t{i}"), &claims(1000), 0, 0);
            assert!(c.entries() <= 4);
        }
        let off = TokenCache::new(0);
        off.put("a", &claims(100), 0, 0);
        assert_eq!(off.get("a", 0), None);
    }

    #[test]
    fn a_new_generation_forgets_and_refuses_stale_puts() {
        let c = TokenCache::new(4);
        c.put("a", &claims(100), 0, 0);
        c.reset(1);
        assert_eq!(c.get("a", 0), None);
        c.put("b", &claims(100), 0, 0);
        assert_eq!(c.get("b", 0), None, "verified under the old keys");
        c.put("b", &claims(100), 0, 1);
        assert!(c.get("b", 0).is_some());
    }
}
