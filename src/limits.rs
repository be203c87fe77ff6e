//! Attempt limits, in memory, time as a parameter:
//!
//! - [`Lockouts`]: failed attempts (wrong passwords, wrong second factors) per account and
//!   per source. A source that reaches the limit for an account is refused for that
//!   account; the owner elsewhere is not. The total per account is bounded too: past it,
//!   only sources that signed in to the account before may still try. Limits are
//!   *atomic*: an attempt takes its place before it is checked ([`Attempt`]), so N
//!   attempts sent at once check at most the limit.
//! - [`Quota`]: events per key in a sliding window (mails per address and source).
//! - [`IpBuckets`]: a token bucket per source over the credential routes.
//!
//! Unknown accounts are keyed like known ones (by a digest of the login), so a lockout
//! looks the same whether the account exists or not. Every table is bounded: entries that
//! carry no information any more are pruned, and past a hard cap the oldest go.

use crate::clock::UnixMillis;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use storage::{AttemptEnd, AttemptRules, Store, StoreError};

/// `d` in milliseconds (saturating): the in-memory tables count in them.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Entries kept at most in each table.
const CAP: usize = 200_000;
/// Sources remembered per account as having signed in to it.
const KNOWN_SOURCES: usize = 16;
/// How long a source that signed in stays known.
const KNOWN_FOR_MS: i64 = 30 * 86_400_000;

/// Where a request comes from, as the limits count it: the client's IPv4 address, or
/// its IPv6 /64 (one subscriber's prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source([u8; 16]);

impl Source {
    /// The source of a client address (IPv4-mapped IPv6 counts as IPv4).
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(v4.to_ipv6_mapped().octets()),
                None => {
                    let mut o = v6.octets();
                    o.iter_mut().skip(8).for_each(|b| *b = 0);
                    Source(o)
                }
            },
        }
    }

    /// For tests and the command line, where there is no network source.
    pub const LOCAL: Source = Source([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
}

/// Seconds from `now` until `t` (the tables' milliseconds), at least one: a `Retry-After`.
fn secs_until(now: i64, t: i64) -> u64 {
    UnixMillis::from_millis(now)
        .secs_until(UnixMillis::from_millis(t))
        .max(1)
}

/// Failures within a window, attempts under way, and a lock.
#[derive(Debug, Default)]
struct Counter {
    failures: VecDeque<i64>,
    in_flight: u32,
    locked_until: i64,
}

impl Counter {
    fn prune(&mut self, now: i64, window: i64) {
        while self.failures.front().is_some_and(|f| now - f >= window) {
            self.failures.pop_front();
        }
    }

    /// Failures plus attempts whose outcome is not known yet.
    fn pending(&self) -> usize {
        self.failures.len() + self.in_flight as usize
    }

    fn idle(&self, now: i64, window: i64) -> bool {
        self.in_flight == 0
            && self.locked_until <= now
            && self.failures.back().is_none_or(|f| now - f >= window)
    }
}

#[derive(Debug, Default)]
struct Account {
    all: Counter,
    /// Sources that signed in to this account, with when they last did.
    known: Vec<(Source, i64)>,
}

#[derive(Debug, Default)]
struct Tables {
    pairs: HashMap<(String, Source), Counter>,
    accounts: HashMap<String, Account>,
}

/// What holds an account back now ([`Lockouts::status`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LockoutStatus {
    /// Sources locked out of the account.
    pub sources_locked: usize,
    /// When the last of those locks ends (Unix ms).
    pub until: Option<UnixMillis>,
    /// Failed attempts against the account within the window, from anywhere.
    pub recent_failures: usize,
    /// Until when sources that never signed in to it may not try (Unix ms).
    pub new_sources_refused_until: Option<UnixMillis>,
}

impl LockoutStatus {
    /// Whether anything holds the account back.
    pub fn any(&self) -> bool {
        self.sources_locked > 0 || self.new_sources_refused_until.is_some()
    }
}

/// Failed attempts per account and per source: in memory, or (on a store that several
/// servers share) in the store, so every server counts the same attempts.
#[derive(Debug)]
pub struct Lockouts {
    per_source: usize,
    total: usize,
    window_ms: i64,
    duration_ms: i64,
    tables: Mutex<Tables>,
    shared: Option<Store>,
}

/// Why an attempt may not take its place.
#[derive(Debug)]
pub enum Refused {
    /// Not before this many seconds.
    Wait(u64),
    /// The store that counts attempts failed.
    Store(StoreError),
}

/// How long a place taken and never resolved still counts (a server that died with it).
const PENDING_MS: i64 = 120_000;

/// An attempt that has taken its place: resolve it with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped unresolved (the request went away, or the first factor
/// was right and the second is still to come), it counts as neither.
#[derive(Debug)]
#[must_use = "an attempt holds a place until it is resolved or dropped"]
pub struct Attempt<'a> {
    lockouts: &'a Lockouts,
    account: String,
    source: Source,
    open: bool,
    /// The attempt's row, when the store counts.
    shared_id: Option<String>,
}

impl Lockouts {
    /// `per_source` failures of one source against one account within `window` lock
    /// that pair for `duration`; `total` failures against one account (from anywhere)
    /// within `window` close it to every source that has not signed in to it before.
    pub fn new(per_source: u32, total: u32, window: Duration, duration: Duration) -> Lockouts {
        let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX).max(1);
        Lockouts {
            per_source: n(per_source),
            total: n(total).max(n(per_source)),
            window_ms: ms(window),
            duration_ms: ms(duration),
            tables: Mutex::new(Tables::default()),
            shared: None,
        }
    }

    /// The same limits, counted in `store` (which every server sharing it sees).
    pub fn in_store(mut self, store: Store) -> Lockouts {
        self.shared = Some(store);
        self
    }

    fn rules(&self) -> AttemptRules {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        AttemptRules {
            per_source: n(self.per_source),
            total: n(self.total),
            window_ms: self.window_ms,
            duration_ms: self.duration_ms,
            known_for_ms: KNOWN_FOR_MS,
            pending_ms: PENDING_MS,
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for an attempt of `source` against `account`, or says how many
    /// seconds until one may try again.
    pub fn begin(
        &self,
        account: &str,
        source: Source,
        now: UnixMillis,
    ) -> Result<Attempt<'_>, Refused> {
        let now = now.millis();
        if let Some(store) = &self.shared {
            let id = crate::primitives::random_id()
                .map_err(|e| Refused::Store(StoreError::Setup(e.to_string())))?;
            return match store.attempt_begin(
                &self.rules(),
                &id,
                account,
                &source.0,
                UnixMillis::from_millis(now),
            ) {
                Ok(Ok(())) => Ok(Attempt {
                    lockouts: self,
                    account: account.to_owned(),
                    source,
                    open: true,
                    shared_id: Some(id),
                }),
                Ok(Err(until)) => Err(Refused::Wait(secs_until(now, until.millis()))),
                Err(e) => Err(Refused::Store(e)),
            };
        }
        self.begin_here(account, source, now).map_err(Refused::Wait)
    }

    fn begin_here(&self, account: &str, source: Source, now: i64) -> Result<Attempt<'_>, u64> {
        let mut t = self.tables();
        self.make_room(&mut t, now);
        let window = self.window_ms;
        let key = (account.to_owned(), source);
        let pair = t.pairs.entry(key).or_default();
        pair.prune(now, window);
        if pair.locked_until > now {
            return Err(secs_until(now, pair.locked_until));
        }
        if pair.pending() >= self.per_source {
            // Its places are taken by attempts still being checked.
            return Err(secs_until(now, now.saturating_add(1000)));
        }
        let acct = t.accounts.entry(account.to_owned()).or_default();
        acct.all.prune(now, window);
        acct.known.retain(|(_, at)| now - at < KNOWN_FOR_MS);
        let known = acct.known.iter().any(|(s, _)| *s == source);
        if !known && acct.all.pending() >= self.total {
            let oldest = acct.all.failures.front().copied().unwrap_or(now);
            return Err(secs_until(now, oldest.saturating_add(window)));
        }
        acct.all.in_flight += 1;
        if let Some(pair) = t.pairs.get_mut(&(account.to_owned(), source)) {
            pair.in_flight += 1;
        }
        Ok(Attempt {
            lockouts: self,
            account: account.to_owned(),
            source,
            open: true,
            shared_id: None,
        })
    }

    /// Whether `source` signed in to `account` within the last 30 days.
    pub fn knows(&self, account: &str, source: Source, now: UnixMillis) -> bool {
        let now = now.millis();
        if let Some(store) = &self.shared {
            return store
                .attempt_knows(
                    &self.rules(),
                    account,
                    &source.0,
                    UnixMillis::from_millis(now),
                )
                .unwrap_or(false);
        }
        self.tables().accounts.get(account).is_some_and(|a| {
            a.known
                .iter()
                .any(|(s, at)| *s == source && now - at < KNOWN_FOR_MS)
        })
    }

    /// Forgets what no longer counts, in the store that counts (memory prunes itself).
    pub fn sweep(&self, now: UnixMillis) -> Result<(), StoreError> {
        let now = now.millis();
        match &self.shared {
            Some(store) => store
                .attempt_sweep(&self.rules(), UnixMillis::from_millis(now))
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// What holds `account` back now, for an administrator (`user show`).
    pub fn status(&self, account: &str, now: UnixMillis) -> LockoutStatus {
        let now = now.millis();
        if let Some(store) = &self.shared {
            let s = store
                .attempt_status(&self.rules(), account, UnixMillis::from_millis(now))
                .unwrap_or_default();
            let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
            return LockoutStatus {
                sources_locked: n(s.sources_locked),
                until: s.until,
                recent_failures: n(s.recent_failures),
                new_sources_refused_until: s.new_sources_refused_until,
            };
        }
        let t = self.tables();
        let window = self.window_ms;
        let mut status = LockoutStatus::default();
        for ((a, _), c) in &t.pairs {
            if a == account && c.locked_until > now {
                status.sources_locked += 1;
                status.until = Some(
                    status
                        .until
                        .map_or(UnixMillis::from_millis(c.locked_until), |u| {
                            u.max(UnixMillis::from_millis(c.locked_until))
                        }),
                );
            }
        }
        if let Some(acct) = t.accounts.get(account) {
            let recent: Vec<i64> = acct
                .all
                .failures
                .iter()
                .copied()
                .filter(|f| now - f < window)
                .collect();
            status.recent_failures = recent.len();
            if recent.len() >= self.total {
                status.new_sources_refused_until =
                    recent.first().map(|f| UnixMillis::from_millis(f + window));
            }
        }
        status
    }

    /// Drops every lock and count of `account` (an administrator's enable or unblock).
    pub fn clear(&self, account: &str) {
        if let Some(store) = &self.shared {
            if let Err(e) = store.attempt_clear(account) {
                tracing::error!(error = %e, "cannot clear a lockout");
            }
            return;
        }
        let mut t = self.tables();
        t.pairs.retain(|(a, _), c| a != account || c.in_flight > 0);
        for ((a, _), c) in t.pairs.iter_mut() {
            if a == account {
                c.failures.clear();
                c.locked_until = 0;
            }
        }
        if let Some(acct) = t.accounts.get_mut(account) {
            acct.all.failures.clear();
        }
    }

    /// Keeps the tables under [`CAP`]: entries that carry no information go first, then
    /// an eighth of the rest that are not locked.
    fn make_room(&self, t: &mut Tables, now: i64) {
        let window = self.window_ms;
        if t.pairs.len() >= CAP {
            t.pairs.retain(|_, c| !c.idle(now, window));
            if t.pairs.len() >= CAP {
                let drop: Vec<(String, Source)> = t
                    .pairs
                    .iter()
                    .filter(|(_, c)| c.locked_until <= now && c.in_flight == 0)
                    .take(CAP / 8)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in drop {
                    t.pairs.remove(&k);
                }
            }
        }
        if t.accounts.len() >= CAP {
            t.accounts
                .retain(|_, a| !a.all.idle(now, window) || !a.known.is_empty());
            if t.accounts.len() >= CAP {
                let drop: Vec<String> = t
                    .accounts
                    .iter()
                    .filter(|(_, a)| a.all.in_flight == 0)
                    .take(CAP / 8)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in drop {
                    t.accounts.remove(&k);
                }
            }
        }
    }

    fn resolve(&self, account: &str, source: Source, now: i64, failed: bool) -> bool {
        let mut t = self.tables();
        let mut locked = false;
        if let Some(pair) = t.pairs.get_mut(&(account.to_owned(), source)) {
            pair.in_flight = pair.in_flight.saturating_sub(1);
            if failed {
                pair.failures.push_back(now);
                if pair.failures.len() >= self.per_source {
                    pair.failures.clear();
                    pair.locked_until = now.saturating_add(self.duration_ms);
                    locked = true;
                }
            } else {
                pair.failures.clear();
            }
        }
        if let Some(acct) = t.accounts.get_mut(account) {
            acct.all.in_flight = acct.all.in_flight.saturating_sub(1);
            if failed {
                acct.all.failures.push_back(now);
            } else {
                acct.known.retain(|(s, _)| *s != source);
                acct.known.push((source, now));
                if acct.known.len() > KNOWN_SOURCES {
                    acct.known.remove(0);
                }
            }
        }
        locked
    }

    fn release(&self, account: &str, source: Source) {
        let mut t = self.tables();
        if let Some(pair) = t.pairs.get_mut(&(account.to_owned(), source)) {
            pair.in_flight = pair.in_flight.saturating_sub(1);
        }
        if let Some(acct) = t.accounts.get_mut(account) {
            acct.all.in_flight = acct.all.in_flight.saturating_sub(1);
        }
    }
}

impl Attempt<'_> {
    /// The attempt failed; returns whether its source is locked out of the account now.
    pub fn failed(mut self, now: UnixMillis) -> bool {
        let now = now.millis();
        self.open = false;
        match self.end_shared(now, AttemptEnd::Failed) {
            Some(locked) => locked,
            None => self.lockouts.resolve(&self.account, self.source, now, true),
        }
    }

    /// The attempt succeeded: the source's failures against the account are forgiven and
    /// it is known to the account from now on.
    pub fn succeeded(mut self, now: UnixMillis) {
        let now = now.millis();
        self.open = false;
        if self.end_shared(now, AttemptEnd::Succeeded).is_none() {
            self.lockouts
                .resolve(&self.account, self.source, now, false);
        }
    }

    /// Resolves the attempt in the store that counts it; `None` when counting in memory.
    fn end_shared(&self, now: i64, end: AttemptEnd) -> Option<bool> {
        let (store, id) = (self.lockouts.shared.as_ref()?, self.shared_id.as_deref()?);
        let rules = self.lockouts.rules();
        match store.attempt_end(
            &rules,
            id,
            &self.account,
            &self.source.0,
            UnixMillis::from_millis(now),
            end,
        ) {
            Ok(locked) => Some(locked),
            Err(e) => {
                // The place expires by itself (PENDING_MS); the failure is not counted.
                tracing::error!(error = %e, "cannot record the end of an attempt");
                Some(false)
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.open {
            if self.shared_id.is_some() {
                // The time does not matter to giving a place back.
                let _ = self.end_shared(0, AttemptEnd::Abandoned);
            } else {
                self.lockouts.release(&self.account, self.source);
            }
        }
    }
}

/// At most `max` events per key within a sliding window.
#[derive(Debug)]
pub struct Quota {
    max: usize,
    window_ms: i64,
    table: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Quota {
    /// `max` events per `window`.
    pub fn new(max: u32, window: Duration) -> Quota {
        Quota {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            window_ms: ms(window),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may have an event again, if it may not now.
    pub fn check(&self, key: &str, now: UnixMillis) -> Result<(), u64> {
        let now = now.millis();
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let Some(q) = t.get_mut(key) else {
            return Ok(());
        };
        while q.front().is_some_and(|f| now - f >= self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(secs_until(now, oldest.saturating_add(self.window_ms)));
        }
        Ok(())
    }

    /// Records an event for `key`, or says in how many seconds one is allowed again.
    pub fn take(&self, key: &str, now: UnixMillis) -> Result<(), u64> {
        let now = now.millis();
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() >= CAP && !t.contains_key(key) {
            let window = self.window_ms;
            t.retain(|_, q| q.back().is_some_and(|last| now - last < window));
            if t.len() >= CAP {
                return Err(60);
            }
        }
        let q = t.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|f| now - f >= self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(secs_until(now, oldest.saturating_add(self.window_ms)));
        }
        q.push_back(now);
        Ok(())
    }
}

/// Token buckets per source.
#[derive(Debug)]
pub struct IpBuckets {
    per_minute: f64,
    table: Mutex<HashMap<Source, (f64, i64)>>,
}

impl IpBuckets {
    /// `per_minute` requests per minute per source, bursting to the same number; 0 = off.
    pub fn new(per_minute: u32) -> IpBuckets {
        IpBuckets {
            per_minute: f64::from(per_minute),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `source`, or says in how many seconds one will be there.
    pub fn take(&self, source: Source, now: UnixMillis) -> Result<(), u64> {
        let now = now.millis();
        if self.per_minute <= 0.0 {
            return Ok(());
        }
        let rate_per_ms = self.per_minute / 60_000.0;
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() >= CAP && !t.contains_key(&source) {
            // A bucket that has refilled is the same as no bucket.
            let full = self.per_minute;
            t.retain(|_, (tokens, last)| *tokens + (now - *last) as f64 * rate_per_ms < full);
            if t.len() >= CAP {
                return Err(1);
            }
        }
        let (tokens, last) = t.entry(source).or_insert((self.per_minute, now));
        *tokens = (*tokens + (now - *last).max(0) as f64 * rate_per_ms).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = (1.0 - *tokens) / rate_per_ms;
            Err(((wait_ms / 1000.0).ceil() as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> UnixMillis {
        UnixMillis::from_millis(ms)
    }

    fn waited(r: Refused) -> u64 {
        match r {
            Refused::Wait(s) => s,
            Refused::Store(e) => panic!("{e}"),
        }
    }

    fn src(s: &str) -> Source {
        Source::of(s.parse().unwrap())
    }

    fn lockouts(per_source: u32, total: u32) -> Lockouts {
        Lockouts::new(
            per_source,
            total,
            Duration::from_secs(60),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn a_source_is_locked_out_of_an_account_and_the_owner_elsewhere_is_not() {
        let l = lockouts(3, 100);
        let (a, b) = (src("192.0.2.1"), src("198.51.100.9"));
        assert!(!l.begin("acct", a, at(0)).unwrap().failed(at(0)));
        assert!(!l.begin("acct", a, at(30_000)).unwrap().failed(at(30_000)));
        // The first failure falls out of the window: still two.
        assert!(!l.begin("acct", a, at(61_000)).unwrap().failed(at(61_000)));
        assert!(l.begin("acct", a, at(62_000)).unwrap().failed(at(62_000)));
        assert_eq!(l.begin("acct", a, at(62_000)).err().map(waited), Some(120));
        assert_eq!(
            l.begin("acct", a, at(62_000 + 119_500)).err().map(waited),
            Some(1)
        );
        // Another source, the same account: not locked.
        l.begin("acct", b, at(62_000))
            .unwrap()
            .succeeded(at(62_000));
        // The lock lifts.
        l.begin("acct", a, at(62_000 + 120_000))
            .unwrap()
            .succeeded(at(182_000));
    }

    #[test]
    fn attempts_under_way_hold_their_places() {
        let l = lockouts(3, 100);
        let s = src("192.0.2.1");
        let held: Vec<_> = (0..3).map(|_| l.begin("acct", s, at(0)).unwrap()).collect();
        // A fourth at the same time finds no place, even if it would be right.
        assert!(l.begin("acct", s, at(0)).is_err());
        drop(held);
        // Dropped unresolved: they count as nothing.
        for _ in 0..2 {
            l.begin("acct", s, at(0)).unwrap().failed(at(0));
        }
        l.begin("acct", s, at(0)).unwrap().succeeded(at(0));
        for _ in 0..2 {
            assert!(
                !l.begin("acct", s, at(0)).unwrap().failed(at(0)),
                "forgiven"
            );
        }
    }

    #[test]
    fn the_total_per_account_is_bounded_but_known_sources_still_get_in() {
        let l = lockouts(2, 6);
        let owner = src("203.0.113.5");
        l.begin("acct", owner, at(0)).unwrap().succeeded(at(0));
        // Three attackers, two failures each: the account's total is spent.
        for i in 1..=3 {
            let a = src(&format!("192.0.2.{i}"));
            l.begin("acct", a, at(0)).unwrap().failed(at(0));
            l.begin("acct", a, at(0)).unwrap().failed(at(0));
        }
        // A fourth attacker (a new source) may not try at all...
        assert!(l.begin("acct", src("192.0.2.99"), at(0)).is_err());
        // ... the owner's known source may, and other accounts are untouched.
        l.begin("acct", owner, at(0)).unwrap().succeeded(at(0));
        l.begin("other", src("192.0.2.99"), at(0))
            .unwrap()
            .succeeded(at(0));
        // Once the window passes, new sources may try again.
        l.begin("acct", src("192.0.2.99"), at(60_000))
            .unwrap()
            .succeeded(at(60_000));
    }

    #[test]
    fn ipv6_sources_are_per_64_and_mapped_v4_is_v4() {
        assert_eq!(src("2001:db8:1:2::1"), src("2001:db8:1:2:ffff::9"));
        assert_ne!(src("2001:db8:1:2::1"), src("2001:db8:1:3::1"));
        assert_eq!(src("::ffff:192.0.2.1"), src("192.0.2.1"));
        assert_ne!(src("192.0.2.1"), src("192.0.2.2"));
    }

    #[test]
    fn quota_slides() {
        let q = Quota::new(2, Duration::from_secs(3600));
        assert!(q.take("a", at(0)).is_ok());
        assert!(q.take("a", at(1_000)).is_ok());
        assert_eq!(q.check("a", at(2_000)), Err(3598));
        assert_eq!(q.take("a", at(2_000)), Err(3598));
        assert!(q.take("b", at(2_000)).is_ok());
        assert!(q.take("a", at(3_600_000)).is_ok());
    }

    #[test]
    fn buckets_refill() {
        let b = IpBuckets::new(60); // one per second, burst 60
        let ip = src("127.0.0.1");
        for _ in 0..60 {
            b.take(ip, at(0)).unwrap();
        }
        assert_eq!(b.take(ip, at(0)), Err(1));
        assert_eq!(b.take(ip, at(1_000)), Ok(()));
        assert!(b.take(src("::1"), at(1_000)).is_ok());
        assert!(IpBuckets::new(0).take(ip, at(0)).is_ok());
    }
}
