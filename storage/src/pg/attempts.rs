//! The attempt counters of the account lockout, when several nodes share the database:
//! each decision one serializable transaction over `latchkey_attempts`,
//! `latchkey_locks` and `latchkey_known`.

use super::*;

impl PgStore {
    /// Takes a place for an attempt of `source` against `account` (see
    /// [`crate::AttemptRules`]), as one serializable transaction: `Ok(Err(t))` when the
    /// source may not try before `t` (Unix ms).
    pub fn attempt_begin(
        &self,
        r: &AttemptRules,
        id: &str,
        account: &str,
        source: &[u8],
        now: UnixMillis,
    ) -> Result<Result<(), UnixMillis>, StoreError> {
        let now = now.millis();
        self.transaction(IsolationLevel::Serializable, |a| {
            let lock = a.row(
                "SELECT until FROM latchkey_locks WHERE account = $1 AND source = $2",
                &[&account, &source],
            )?;
            let lock_until: i64 = lock.map_or(0, |row| row.get(0));
            if lock_until > now {
                return Ok(Err(UnixMillis::from_millis(lock_until)));
            }
            // Failures since the last lock began (a lock forgives what led to it).
            let since = (now - r.window_ms).max(lock_until - r.duration_ms);
            let pair = a.count_of(
                "SELECT count(*) FROM latchkey_attempts WHERE account = $1 AND source = $2 \
                 AND ((failed AND at > $3) OR (NOT failed AND at > $4))",
                &[&account, &source, &since, &(now - r.pending_ms)],
            )?;
            if pair >= r.per_source {
                return Ok(Err(UnixMillis::from_millis(now + 1000)));
            }
            let known = a
                .row(
                    "SELECT 1 FROM latchkey_known WHERE account = $1 AND source = $2 AND at > $3",
                    &[&account, &source, &(now - r.known_for_ms)],
                )?
                .is_some();
            if !known {
                let row = a.row(
                    "SELECT count(*), min(CASE WHEN failed THEN at END) FROM latchkey_attempts \
                     WHERE account = $1 AND ((failed AND at > $2) OR (NOT failed AND at > $3))",
                    &[&account, &(now - r.window_ms), &(now - r.pending_ms)],
                )?;
                let (total, oldest): (i64, Option<i64>) =
                    row.map_or((0, None), |row| (row.get(0), row.get(1)));
                if u64_of(total) >= r.total {
                    let until = oldest.unwrap_or(now) + r.window_ms;
                    return Ok(Err(UnixMillis::from_millis(until)));
                }
            }
            a.exec(
                "INSERT INTO latchkey_attempts (id, account, source, at, failed) \
                 VALUES ($1, $2, $3, $4, false)",
                &[&id, &account, &source, &now],
            )?;
            Ok(Ok(()))
        })
    }

    /// Resolves the attempt `id`; returns whether its source is locked out now.
    pub fn attempt_end(
        &self,
        r: &AttemptRules,
        id: &str,
        account: &str,
        source: &[u8],
        now: UnixMillis,
        end: AttemptEnd,
    ) -> Result<bool, StoreError> {
        let now = now.millis();
        self.transaction(IsolationLevel::Serializable, |a| match end {
            AttemptEnd::Abandoned => {
                a.exec("DELETE FROM latchkey_attempts WHERE id = $1", &[&id])?;
                Ok(false)
            }
            AttemptEnd::Succeeded => {
                a.exec(
                    "DELETE FROM latchkey_attempts WHERE id = $1 OR \
                         (account = $2 AND source = $3 AND failed)",
                    &[&id, &account, &source],
                )?;
                a.exec(
                    "INSERT INTO latchkey_known (account, source, at) VALUES ($1, $2, $3) \
                         ON CONFLICT (account, source) DO UPDATE SET at = excluded.at",
                    &[&account, &source, &now],
                )?;
                Ok(false)
            }
            AttemptEnd::Failed => {
                a.exec(
                    "UPDATE latchkey_attempts SET failed = true, at = $2 WHERE id = $1",
                    &[&id, &now],
                )?;
                let lock_until: i64 = a
                    .row(
                        "SELECT until FROM latchkey_locks WHERE account = $1 AND source = $2",
                        &[&account, &source],
                    )?
                    .map_or(0, |row| row.get(0));
                let since = (now - r.window_ms).max(lock_until - r.duration_ms);
                let failures = a.count_of(
                    "SELECT count(*) FROM latchkey_attempts WHERE account = $1 \
                         AND source = $2 AND failed AND at > $3",
                    &[&account, &source, &since],
                )?;
                if failures < r.per_source {
                    return Ok(false);
                }
                a.exec(
                    "INSERT INTO latchkey_locks (account, source, until) VALUES ($1, $2, $3) \
                         ON CONFLICT (account, source) DO UPDATE SET until = excluded.until",
                    &[&account, &source, &(now + r.duration_ms)],
                )?;
                Ok(true)
            }
        })
    }

    /// Whether `source` signed in to `account` within `r.known_for_ms`.
    pub fn attempt_knows(
        &self,
        r: &AttemptRules,
        account: &str,
        source: &[u8],
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let now = now.millis();
        self.with_client(|a| {
            Ok(a.row(
                "SELECT 1 FROM latchkey_known WHERE account = $1 AND source = $2 AND at > $3",
                &[&account, &source, &(now - r.known_for_ms)],
            )?
            .is_some())
        })
    }

    /// Drops every failure and lock of `account` (an administrator's enable or unblock).
    pub fn attempt_clear(&self, account: &str) -> Result<(), StoreError> {
        self.transaction(IsolationLevel::Serializable, |a| {
            a.exec(
                "DELETE FROM latchkey_attempts WHERE account = $1 AND failed",
                &[&account],
            )?;
            a.exec("DELETE FROM latchkey_locks WHERE account = $1", &[&account])?;
            Ok(())
        })
    }

    /// What holds `account` back now.
    pub fn attempt_status(
        &self,
        r: &AttemptRules,
        account: &str,
        now: UnixMillis,
    ) -> Result<AttemptStatus, StoreError> {
        let now = now.millis();
        self.with_client(|a| {
            let locks = a.row(
                "SELECT count(*), max(until) FROM latchkey_locks WHERE account = $1 AND until > $2",
                &[&account, &now],
            )?;
            let (sources_locked, until): (i64, Option<i64>) =
                locks.map_or((0, None), |row| (row.get(0), row.get(1)));
            let fails = a.row(
                "SELECT count(*), min(at) FROM latchkey_attempts \
                 WHERE account = $1 AND failed AND at > $2",
                &[&account, &(now - r.window_ms)],
            )?;
            let (recent, oldest): (i64, Option<i64>) =
                fails.map_or((0, None), |row| (row.get(0), row.get(1)));
            Ok(AttemptStatus {
                sources_locked: u64_of(sources_locked),
                until: until.map(UnixMillis::from_millis),
                recent_failures: u64_of(recent),
                new_sources_refused_until: (u64_of(recent) >= r.total)
                    .then(|| oldest.map(|o| UnixMillis::from_millis(o + r.window_ms)))
                    .flatten(),
            })
        })
    }

    /// Removes what no longer counts: failures past the window, places older than
    /// `r.pending_ms`, locks long over, sources not seen for `r.known_for_ms`.
    pub fn attempt_sweep(&self, r: &AttemptRules, now: UnixMillis) -> Result<u64, StoreError> {
        let now = now.millis();
        self.transaction(IsolationLevel::Serializable, |a| {
            let mut n = a.exec(
                "DELETE FROM latchkey_attempts WHERE (failed AND at < $1) OR \
                 (NOT failed AND at < $2)",
                &[&(now - r.window_ms), &(now - r.pending_ms)],
            )?;
            n += a.exec(
                "DELETE FROM latchkey_locks WHERE until < $1",
                &[&(now - r.window_ms)],
            )?;
            n += a.exec(
                "DELETE FROM latchkey_known WHERE at < $1",
                &[&(now - r.known_for_ms)],
            )?;
            Ok(n)
        })
    }
}

pub(super) fn is_duplicate_object(e: &StoreError) -> bool {
    match e {
        StoreError::Database(e) => matches!(
            e.code(),
            Some(c) if *c == SqlState::DUPLICATE_TABLE || *c == SqlState::DUPLICATE_OBJECT
        ),
        _ => false,
    }
}
