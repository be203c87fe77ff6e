//! The audit log and the webhook deliveries, as record kinds of the table layer.
//!
//! - [`AuditRecord`]: one event, keyed by its id (big-endian, so key order is id order,
//!   and ids are given in commit order: the counter that gives them is part of the
//!   writing transaction). Indexed by user and by day; pruned oldest first
//!   ([`prune_audit`]).
//! - [`DeliveryRecord`]: one webhook message for one endpoint, keyed by when it is due
//!   (so the due ones come first) and what it is. Claiming one moves it (a delete that
//!   only one transaction can make, and an insert at its lease's end).
//! - [`FailedDeliveryRecord`]: a message whose retries ran out, kept for the status.

use serde::{Deserialize, Serialize};

use crate::rows::{Kind, Records, RecordsMut};
use crate::time::UnixMillis;
use crate::StoreError;

/// One audit event (API.md Part 3, "Events"), keyed by [`AuditRecord::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its id: given in commit order, never reused.
    pub id: u64,
    /// When.
    pub at: UnixMillis,
    /// The event's name (`sign_in`, `user_created`, ...).
    pub event: String,
    /// The account it is about.
    pub user: Option<String>,
    /// Who did it: a user id, `admin-api`, `cli`.
    pub actor: Option<String>,
    /// The door (`oauth`, `portal`, `admin`, ...).
    pub door: Option<String>,
    /// The client's address (after `trusted_proxies`).
    pub ip: Option<String>,
    /// The event's detail: a JSON object, never a secret.
    pub detail: String,
    /// The account's email and username when it happened (webhooks tell them, also of a
    /// deleted account).
    pub email: Option<String>,
    /// See `email`.
    pub username: Option<String>,
}

const AUDIT_BY_USER: &str = "audit_by_user";
const AUDIT_BY_DAY: &str = "audit_by_day";
const AUDIT_IDS: &str = "audit";
const DAY_MS: i64 = 86_400_000;

impl AuditRecord {
    /// The key of event `id`.
    pub fn key(id: u64) -> [u8; 8] {
        id.to_be_bytes()
    }

    fn day(at: UnixMillis) -> [u8; 8] {
        u64::try_from(at.millis() / DAY_MS)
            .unwrap_or(0)
            .to_be_bytes()
    }
}

impl Kind for AuditRecord {
    const TABLE: &'static str = "audit";

    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut v = vec![(AUDIT_BY_DAY, Self::day(self.at).to_vec())];
        if let Some(u) = &self.user {
            v.push((AUDIT_BY_USER, u.as_bytes().to_vec()));
        }
        v
    }
}

/// Writes `rec` with the next id (inside the caller's transaction); the id.
pub fn append_audit<W: RecordsMut + ?Sized>(
    w: &mut W,
    mut rec: AuditRecord,
) -> Result<u64, StoreError> {
    rec.id = w.counter_add(AUDIT_IDS, 1)?;
    w.put(&AuditRecord::key(rec.id), &rec)?;
    Ok(rec.id)
}

/// The id of the last event written (0: none yet).
pub fn last_audit_id<R: Records + ?Sized>(r: &R) -> Result<u64, StoreError> {
    r.counter(AUDIT_IDS)
}

/// What an audit query asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery<'a> {
    /// Only this account's events.
    pub user: Option<&'a str>,
    /// Only events of this name.
    pub event: Option<&'a str>,
    /// Only events at or after this time.
    pub since: Option<UnixMillis>,
    /// Only events after this id (a cursor).
    pub after: u64,
}

fn id_of(key: &[u8]) -> u64 {
    key.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// At most `limit` events that `q` asks for, oldest first.
pub fn audit_page<R: Records + ?Sized>(
    r: &R,
    q: &AuditQuery<'_>,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let fits =
        |e: &AuditRecord| q.event.is_none_or(|n| e.event == n) && q.since.is_none_or(|s| e.at >= s);
    let mut out = Vec::new();
    if let Some(user) = q.user {
        for key in r.indexed(AUDIT_BY_USER, user.as_bytes())? {
            if id_of(&key) <= q.after {
                continue;
            }
            if let Some(e) = r.get::<AuditRecord>(&key)?.filter(|e| fits(e)) {
                out.push(e);
                if out.len() >= limit {
                    break;
                }
            }
        }
        return Ok(out);
    }
    // Where to start: after the cursor, and not before the first event of `since`'s day
    // (days without events are stepped over, from the oldest event's to the newest's).
    let mut after = q.after;
    if let Some(since) = q.since {
        let oldest = r.scan::<AuditRecord>(None, 1)?.first().map(|(_, e)| e.at);
        let newest = r
            .get::<AuditRecord>(&AuditRecord::key(last_audit_id(r)?))?
            .map(|e| e.at);
        if let (Some(oldest), Some(newest)) = (oldest, newest) {
            let mut day = since.max(oldest).millis() / DAY_MS;
            while day <= newest.millis() / DAY_MS {
                let entry = AuditRecord::day(UnixMillis::from_millis(day * DAY_MS));
                if let Some(first) = r.indexed(AUDIT_BY_DAY, &entry)?.first() {
                    after = after.max(id_of(first).saturating_sub(1));
                    break;
                }
                day += 1;
            }
        }
    }
    let mut cursor = AuditRecord::key(after).to_vec();
    loop {
        let page = r.scan::<AuditRecord>(Some(&cursor), 500)?;
        let full = page.len() == 500;
        for (key, e) in page {
            cursor = key;
            if fits(&e) {
                out.push(e);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// At most `n` of `user_id`'s events (only those named `event`, when given), newest
/// first: the user's index keys are read whole (small), the records from the newest
/// back, only until `n` are found.
pub fn recent_audit<R: Records + ?Sized>(
    r: &R,
    user_id: &str,
    event: Option<&str>,
    n: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut out = Vec::new();
    for key in r.indexed(AUDIT_BY_USER, user_id.as_bytes())?.iter().rev() {
        if out.len() >= n {
            break;
        }
        if let Some(e) = r.get::<AuditRecord>(key)? {
            if event.is_none_or(|x| e.event == x) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Removes at most `limit` events older than `before`, oldest first; how many.
pub fn prune_audit<W: RecordsMut + ?Sized>(
    w: &mut W,
    before: UnixMillis,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for (key, e) in w.scan::<AuditRecord>(None, limit)? {
        if e.at >= before {
            break;
        }
        w.delete::<AuditRecord>(&key)?;
        n += 1;
    }
    Ok(n)
}

/// One webhook message for one endpoint, keyed by [`DeliveryRecord::key`]: due first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The endpoint's id (a digest of its URL).
    pub endpoint: String,
    /// The audit event it tells.
    pub audit_id: u64,
    /// Its type (`user.created`, `audit.sign_in`, ...).
    pub kind: String,
    /// Attempts made so far (a claim counts one).
    pub attempts: u32,
    /// When it is due (next attempt, or the end of a claim's lease).
    pub due_at: UnixMillis,
    /// When it was made.
    pub created_at: UnixMillis,
    /// What the last attempt met.
    pub last_error: Option<String>,
}

const DELIVERY_BY_ENDPOINT: &str = "delivery_by_endpoint";

impl DeliveryRecord {
    /// Its key: due time, then audit id, then type and endpoint.
    pub fn key(&self) -> Vec<u8> {
        let mut k = u64::try_from(self.due_at.millis())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        k.extend_from_slice(&self.audit_id.to_be_bytes());
        k.extend_from_slice(self.kind.as_bytes());
        k.push(0);
        k.extend_from_slice(self.endpoint.as_bytes());
        k
    }
}

impl Kind for DeliveryRecord {
    const TABLE: &'static str = "delivery";

    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![(DELIVERY_BY_ENDPOINT, self.endpoint.as_bytes().to_vec())]
    }
}

/// A message whose retries ran out (kept `expires_at`, for `webhooks status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedDeliveryRecord {
    /// The delivery as it was last.
    pub delivery: DeliveryRecord,
    /// When it failed for good.
    pub failed_at: UnixMillis,
    /// When it is forgotten.
    pub expires_at: UnixMillis,
}

const FAILED_BY_ENDPOINT: &str = "failed_by_endpoint";

impl Kind for FailedDeliveryRecord {
    const TABLE: &'static str = "delivery_failed";

    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![(
            FAILED_BY_ENDPOINT,
            self.delivery.endpoint.as_bytes().to_vec(),
        )]
    }

    fn expires_at(&self) -> Option<UnixMillis> {
        Some(self.expires_at)
    }
}

/// Pending and failed messages of `endpoint`.
pub fn delivery_counts<R: Records + ?Sized>(
    r: &R,
    endpoint: &str,
) -> Result<(usize, usize), StoreError> {
    Ok((
        r.indexed(DELIVERY_BY_ENDPOINT, endpoint.as_bytes())?.len(),
        r.indexed(FAILED_BY_ENDPOINT, endpoint.as_bytes())?.len(),
    ))
}

/// The name of the counter of `endpoint`'s fan-out: the last audit id it has taken.
pub fn fanout_counter(endpoint: &str) -> String {
    format!("webhook:{endpoint}")
}
