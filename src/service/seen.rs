//! What a server remembers between requests of the store it reads: the live families and
//! active users its bearer checks read. A read races a change by the *epoch*: what was
//! read is kept only if the epoch did not move while it was being read, and a moved epoch
//! forgets what it made stale.
//!
//! - On a shared store (PostgreSQL) a change notice (a family revoked, a user changed or
//!   deleted, on any server) moves the epoch and forgets what it names; a lost notice
//!   stream forgets everything.
//! - On redb (one server: every write comes through it) the epoch is the store's version,
//!   which every commit moves: any write forgets everything.

use crate::clock::UnixMillis;
use std::collections::HashMap;
use std::sync::Mutex;

use storage::{Change, UserRecord};

/// Entries kept at most (past it, everything is forgotten: it is only a cache).
const CAP: usize = 10_000;

#[derive(Default)]
struct Inner {
    epoch: u64,
    /// Family id -> (user id, expiry as read, sign-in time).
    families: HashMap<String, (String, UnixMillis, UnixMillis)>,
    users: HashMap<String, UserRecord>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Seen {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seen")
    }
}

impl Seen {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The epoch to give [`Seen::remember`] for a read that starts now.
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// On a store with a version (redb): moves the epoch to `version`, forgetting
    /// everything read at an older one. (Versions only grow.)
    pub(crate) fn at_version(&self, version: u64) {
        let mut g = self.lock();
        if version > g.epoch {
            g.epoch = version;
            g.families.clear();
            g.users.clear();
        }
    }

    /// The user of family `sid` and the family's sign-in time, when both are
    /// remembered, the family is `sub`'s and lives at `now`.
    pub(crate) fn lookup(
        &self,
        sid: &str,
        sub: &str,
        now: UnixMillis,
    ) -> Option<(UserRecord, UnixMillis)> {
        let g = self.lock();
        let (user_id, expires_at, signed_in_at) = g.families.get(sid)?;
        if user_id != sub || *expires_at <= now {
            return None;
        }
        g.users.get(sub).cloned().map(|u| (u, *signed_in_at))
    }

    /// Keeps what a read that started at `epoch` found, unless a change arrived since.
    pub(crate) fn remember(
        &self,
        epoch: u64,
        sid: &str,
        expires_at: UnixMillis,
        signed_in_at: UnixMillis,
        user: &UserRecord,
    ) {
        let mut g = self.lock();
        if g.epoch != epoch {
            return;
        }
        if g.families.len() >= CAP || g.users.len() >= CAP {
            g.families.clear();
            g.users.clear();
        }
        g.families
            .insert(sid.to_owned(), (user.id.clone(), expires_at, signed_in_at));
        g.users.insert(user.id.clone(), user.clone());
    }

    /// Forgets what `change` made stale.
    pub(crate) fn forget(&self, change: &Change) {
        let mut g = self.lock();
        g.epoch += 1;
        match change {
            Change::Family(id) => {
                g.families.remove(id);
            }
            Change::User(id) => {
                g.users.remove(id);
            }
            Change::Keys => {}
            Change::Lost => {
                g.families.clear();
                g.users.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserRecord {
        UserRecord {
            num: 1,
            username: Some(id.into()),
            ..UserRecord::new(id.into(), UnixMillis::from_millis(0))
        }
    }

    #[test]
    fn a_change_forgets_and_a_read_that_raced_it_is_not_kept() {
        let at = UnixMillis::from_millis;
        let s = Seen::default();
        let e = s.epoch();
        s.remember(e, "f", at(100), at(7), &user("u"));
        assert_eq!(s.lookup("f", "u", at(50)).map(|(_, t)| t), Some(at(7)));
        assert!(s.lookup("f", "u", at(100)).is_none(), "expired");
        assert!(s.lookup("f", "someone-else", at(50)).is_none());
        s.forget(&Change::Family("f".into()));
        assert!(s.lookup("f", "u", at(50)).is_none());
        // A read that began before a notice arrived is not kept.
        let e = s.epoch();
        s.forget(&Change::User("u".into()));
        s.remember(e, "f", at(100), at(7), &user("u"));
        assert!(s.lookup("f", "u", at(50)).is_none());
        let e = s.epoch();
        s.remember(e, "f", at(100), at(7), &user("u"));
        s.forget(&Change::Lost);
        assert!(s.lookup("f", "u", at(50)).is_none());
    }

    #[test]
    fn on_a_versioned_store_any_commit_forgets_everything() {
        let at = UnixMillis::from_millis;
        let s = Seen::default();
        s.at_version(3);
        let e = s.epoch();
        s.remember(e, "f", at(100), at(7), &user("u"));
        s.at_version(3);
        assert!(s.lookup("f", "u", at(50)).is_some(), "no commit since");
        s.at_version(4);
        assert!(s.lookup("f", "u", at(50)).is_none());
        // A read that began at 4 while a commit made 5 is not kept; an older version
        // does not take the epoch back.
        let e = s.epoch();
        s.at_version(5);
        s.remember(e, "f", at(100), at(7), &user("u"));
        assert!(s.lookup("f", "u", at(50)).is_none());
        s.at_version(4);
        assert_eq!(s.epoch(), 5);
    }
}
