//! What a redb server remembers of the portal sessions it read: forward-auth asks about
//! the same cookie for every request a browser makes to an app behind the proxy (each
//! image and script of a page), and the pages ask on every visit.
//!
//! An entry is what one read transaction found for a cookie (its family, its account,
//! the account's groups), kept under the store's version taken before that read. The
//! store's version changes with every commit (redb's file is locked to this server:
//! every write comes through it), so an entry stands only while nothing at all was
//! written since it was read: a revocation, a disabled account or a membership removed
//! counts at the next request, as without the cache. What depends on the time (the
//! session's end, its renewal) and on the account (its state) is still decided by the
//! policy at every request, from the entry. A shared store (PostgreSQL) has no version,
//! and no such cache.
//!
//! Only live sessions are kept, under the hash the store keys them by (never the
//! cookie), at most [`CAP`] of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use storage::{FamilyRecord, UserRecord};

/// Entries kept at most (past it, everything is forgotten: it is only a cache).
const CAP: usize = 10_000;

/// One cookie's session as one read found it.
#[derive(Debug)]
pub(crate) struct Visit {
    pub(crate) family: FamilyRecord,
    pub(crate) user: UserRecord,
    pub(crate) groups: Vec<String>,
}

#[derive(Default)]
struct Inner {
    /// The store's version every entry was read at.
    version: u64,
    entries: HashMap<[u8; 32], Arc<Visit>>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Visits {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Visits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Visits")
    }
}

impl Visits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves on to `version` (entries of an older one are forgotten); false when
    /// `version` is itself older than what is kept (a caller that read it earlier).
    fn at(g: &mut Inner, version: u64) -> bool {
        if version > g.version {
            g.entries.clear();
            g.version = version;
        }
        version == g.version
    }

    /// The session kept for `hash`, if it was read at the store's `version` (now).
    pub(crate) fn get(&self, hash: &[u8; 32], version: u64) -> Option<Arc<Visit>> {
        let mut g = self.lock();
        if !Self::at(&mut g, version) {
            return None;
        }
        g.entries.get(hash).cloned()
    }

    /// Keeps what a read that began at the store's `version` found, unless the store
    /// has changed since (`now`, its version after the read).
    pub(crate) fn keep(&self, hash: [u8; 32], version: u64, now: u64, visit: Arc<Visit>) {
        if version != now {
            return;
        }
        let mut g = self.lock();
        if !Self::at(&mut g, version) {
            return;
        }
        if g.entries.len() >= CAP {
            g.entries.clear();
        }
        g.entries.insert(hash, visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMillis;

    fn visit(user: &str) -> Arc<Visit> {
        let at = UnixMillis::from_millis(0);
        let user = UserRecord::new(user.into(), at);
        Arc::new(Visit {
            family: FamilyRecord {
                id: "f".into(),
                user_id: user.id.clone(),
                amr: vec!["pwd".into()],
                created_at: at,
                rotated_at: at,
                expires_at: at,
                current_token: String::new(),
                revoked: None,
            },
            user,
            groups: vec!["family".into()],
        })
    }

    #[test]
    fn an_entry_stands_only_at_the_version_it_was_read_at() {
        let v = Visits::default();
        v.keep([1; 32], 5, 5, visit("alice"));
        assert_eq!(
            v.get(&[1; 32], 5).map(|e| e.user.id.clone()),
            Some("alice".into())
        );
        assert!(v.get(&[2; 32], 5).is_none(), "another cookie");
        // A commit since: forgotten, and not found again at the old version either.
        assert!(v.get(&[1; 32], 6).is_none());
        assert!(v.get(&[1; 32], 5).is_none());
    }

    #[test]
    fn a_read_that_a_commit_overtook_is_not_kept() {
        let v = Visits::default();
        v.keep([1; 32], 5, 6, visit("alice"));
        assert!(v.get(&[1; 32], 5).is_none());
        assert!(v.get(&[1; 32], 6).is_none());
        // Once at 6, a read of 5 (begun earlier) neither enters nor empties it.
        v.keep([2; 32], 6, 6, visit("bob"));
        v.keep([3; 32], 5, 5, visit("carol"));
        assert!(v.get(&[3; 32], 5).is_none());
        assert!(v.get(&[2; 32], 6).is_some());
        assert!(v.get(&[3; 32], 6).is_none());
    }

    #[test]
    fn the_cap_bounds_it() {
        let v = Visits::default();
        for i in 0..=CAP {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            v.keep(h, 1, 1, visit("alice"));
        }
        assert!(v.lock().entries.len() <= CAP);
    }
}
