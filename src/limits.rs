//! Attempt limits, in memory, time as a parameter:
//!
//! - [`Lockouts`]: failed sign-ins per account (per login string for unknown accounts, so
//!   a lockout looks the same whether the account exists or not). `max` failures within
//!   `window` lock sign-in for `duration`; a success clears the count.
//! - [`IpBuckets`]: a token bucket per client IP over the credential routes.
//!
//! Both are bounded in memory: entries that carry no information any more are pruned, and
//! past a hard cap the oldest are dropped.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::ms;

/// Entries kept at most in each table.
const CAP: usize = 200_000;

#[derive(Debug, Default)]
struct Account {
    failures: VecDeque<i64>,
    locked_until: i64,
}

/// Failed sign-ins per account.
#[derive(Debug)]
pub struct Lockouts {
    max: usize,
    window_ms: i64,
    duration_ms: i64,
    table: Mutex<HashMap<String, Account>>,
}

fn secs_until(now: i64, t: i64) -> u64 {
    u64::try_from((t - now + 999) / 1000).unwrap_or(1).max(1)
}

impl Lockouts {
    /// `max` failures within `window` lock for `duration`.
    pub fn new(max: u32, window: Duration, duration: Duration) -> Lockouts {
        Lockouts {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            window_ms: ms(window),
            duration_ms: ms(duration),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `key` may try again, if it is locked.
    pub fn locked(&self, key: &str, now: i64) -> Option<u64> {
        let t = self.table();
        t.get(key)
            .filter(|a| a.locked_until > now)
            .map(|a| secs_until(now, a.locked_until))
    }

    /// Records a failure; returns whether `key` is locked now.
    pub fn fail(&self, key: &str, now: i64) -> bool {
        let mut t = self.table();
        if t.len() >= CAP && !t.contains_key(key) {
            let window = self.window_ms;
            t.retain(|_, a| {
                a.locked_until > now || a.failures.back().is_some_and(|f| now - f < window)
            });
            if t.len() >= CAP {
                // Still full of live entries: forget an eighth of those not locked now, so
                // the next new keys do not each pay for a full scan.
                let drop: Vec<String> = t
                    .iter()
                    .filter(|(_, a)| a.locked_until <= now)
                    .take(CAP / 8)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in drop {
                    t.remove(&k);
                }
            }
        }
        let a = t.entry(key.to_owned()).or_default();
        while a
            .failures
            .front()
            .is_some_and(|f| now - f >= self.window_ms)
        {
            a.failures.pop_front();
        }
        a.failures.push_back(now);
        if a.failures.len() >= self.max {
            a.failures.clear();
            a.locked_until = now.saturating_add(self.duration_ms);
            return true;
        }
        false
    }

    /// Clears `key` (successful sign-in, or an administrator's unblock).
    pub fn clear(&self, key: &str) {
        self.table().remove(key);
    }
}

/// At most `max` events per key within a sliding window (mails per address per hour).
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

    /// Records an event for `key`, or says in how many seconds one is allowed again.
    pub fn take(&self, key: &str, now: i64) -> Result<(), u64> {
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

/// Token buckets per client IP.
#[derive(Debug)]
pub struct IpBuckets {
    per_minute: f64,
    table: Mutex<HashMap<IpAddr, (f64, i64)>>,
}

impl IpBuckets {
    /// `per_minute` requests per minute per IP, bursting to the same number; 0 = off.
    pub fn new(per_minute: u32) -> IpBuckets {
        IpBuckets {
            per_minute: f64::from(per_minute),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip`, or says in how many seconds one will be there.
    pub fn take(&self, ip: IpAddr, now: i64) -> Result<(), u64> {
        if self.per_minute <= 0.0 {
            return Ok(());
        }
        let rate_per_ms = self.per_minute / 60_000.0;
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() >= CAP && !t.contains_key(&ip) {
            // A bucket that has refilled is the same as no bucket.
            let full = self.per_minute;
            t.retain(|_, (tokens, last)| *tokens + (now - *last) as f64 * rate_per_ms < full);
            if t.len() >= CAP {
                return Err(1);
            }
        }
        let (tokens, last) = t.entry(ip).or_insert((self.per_minute, now));
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

    #[test]
    fn lockout_counts_within_the_window_and_expires() {
        let l = Lockouts::new(3, Duration::from_secs(60), Duration::from_secs(120));
        assert!(!l.fail("a", 0));
        assert!(!l.fail("a", 30_000));
        // The first failure falls out of the window: still two.
        assert!(!l.fail("a", 61_000));
        assert_eq!(l.locked("a", 61_000), None);
        assert!(l.fail("a", 62_000));
        assert_eq!(l.locked("a", 62_000), Some(120));
        assert_eq!(l.locked("a", 62_000 + 119_500), Some(1));
        assert_eq!(l.locked("a", 62_000 + 120_000), None);
        assert_eq!(l.locked("b", 62_000), None);
        l.fail("b", 0);
        l.fail("b", 0);
        l.clear("b");
        assert!(!l.fail("b", 0));
    }

    #[test]
    fn quota_slides() {
        let q = Quota::new(2, Duration::from_secs(3600));
        assert!(q.take("a", 0).is_ok());
        assert!(q.take("a", 1_000).is_ok());
        assert_eq!(q.take("a", 2_000), Err(3598));
        assert!(q.take("b", 2_000).is_ok());
        assert!(q.take("a", 3_600_000).is_ok());
    }

    #[test]
    fn buckets_refill() {
        let b = IpBuckets::new(60); // one per second, burst 60
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..60 {
            b.take(ip, 0).unwrap();
        }
        assert_eq!(b.take(ip, 0), Err(1));
        assert_eq!(b.take(ip, 1_000), Ok(()));
        assert!(b.take("::1".parse().unwrap(), 1_000).is_ok());
        assert!(IpBuckets::new(0).take(ip, 0).is_ok());
    }
}
