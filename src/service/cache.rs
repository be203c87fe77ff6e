//! A bounded cache of verified access tokens, keyed by the whole token string, so a
//! token presented again skips the signature check. An entry never outlives the token's
//! `exp` (the claims are checked again on every hit), and the caller still checks
//! revocation and the account's state in the store: the cache saves only cryptography.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::signer::Claims;

/// Verified tokens, at most `cap` of them.
#[derive(Debug)]
pub struct TokenCache {
    cap: usize,
    map: Mutex<HashMap<Box<str>, Claims>>,
}

impl TokenCache {
    /// A cache of `cap` entries; 0 switches it off.
    pub fn new(cap: usize) -> TokenCache {
        TokenCache {
            cap,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of `token`, if it was verified before and has not expired at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Claims> {
        if self.cap == 0 {
            return None;
        }
        let mut map = self.map();
        match map.get(token) {
            Some(c) if c.exp > now => Some(c.clone()),
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remembers a token that just verified.
    pub fn put(&self, token: &str, claims: &Claims, now: i64) {
        if self.cap == 0 || token.len() > 4096 {
            return;
        }
        let mut map = self.map();
        if map.len() >= self.cap {
            map.retain(|_, c| c.exp > now);
            if map.len() >= self.cap {
                // Still full of live tokens: forget an arbitrary half.
                let drop: Vec<Box<str>> = map.keys().take(self.cap / 2 + 1).cloned().collect();
                for k in drop {
                    map.remove(&k);
                }
            }
        }
        map.insert(token.into(), claims.clone());
    }

    /// Entries now.
    pub fn entries(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "i".into(),
            sub: "s".into(),
            iat: 0,
            exp,
            nbf: None,
            jti: "j".into(),
            sid: "f".into(),
            role: "user".into(),
            amr: vec![],
        }
    }

    #[test]
    fn bounded_and_never_past_exp() {
        let c = TokenCache::new(4);
        c.put("a", &claims(100), 0);
        assert_eq!(c.get("a", 99).map(|x| x.exp), Some(100));
        assert_eq!(c.get("a", 100), None, "expired entries are gone");
        assert_eq!(c.entries(), 0);
        for i in 0..10 {
            c.put(&format!("t{i}"), &claims(1000), 0);
            assert!(c.entries() <= 4);
        }
        let off = TokenCache::new(0);
        off.put("a", &claims(100), 0);
        assert_eq!(off.get("a", 0), None);
    }
}
