//! Webhooks (Standard Webhooks): the audit log is the outbox.
//!
//! An audit event is written in the transaction of the change it records; each endpoint
//! keeps, in the store, the id of the last event it has taken (its fan-out counter).
//! The deliverer of every node:
//!
//! 1. **fans out**: for each endpoint, the events after its counter become delivery
//!    records (one per type it wants), and the counter moves past them, in one
//!    transaction. Two nodes cannot both take the same events: the counter is moved by
//!    an atomic add, and a node whose add does not land exactly where it read rolls back;
//! 2. **claims** due deliveries: each is moved (deleted and written again) to the end of
//!    a lease of [`LEASE`]; the delete is the claim, which one transaction only can make;
//! 3. **delivers** them, at most [`CONCURRENCY`] at once, each within the outbound
//!    client's 10 s, then settles: done (deleted), or due again after the endpoint's
//!    next `retry_schedule` wait, or failed for good once the schedule is spent (kept
//!    for `latchkey webhooks status` as long as the audit log).
//!
//! A crash between the commit and a delivery loses nothing: the event, or its delivery
//! record, is in the store, and a lease that ends unsettled makes it due again (at
//! least once). Memory is bounded by one batch; a receiver that never answers costs one
//! task for 10 s per attempt, never a request's time.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use storage::{
    AuditRecord, DeliveryRecord, FailedDeliveryRecord, Kind as _, Records as _, RecordsMut as _,
    Store, StoreError,
};

use crate::clock::{Clock, UnixMillis};
use crate::config::WebhookSettings;
use crate::outbound::Outbound;
use crate::service::admin::AdminError;

/// How long a claimed delivery is its node's before it is due again: longer than an
/// attempt (10 s) and its settling.
pub const LEASE: Duration = Duration::from_secs(30);
/// Deliveries in flight at once, per node.
pub const CONCURRENCY: usize = 16;
/// Deliveries claimed in one transaction: all in flight at once, so that none waits
/// out its lease.
pub const BATCH: usize = CONCURRENCY;
/// Events one fan-out transaction takes.
const FANOUT: usize = 500;

/// The webhook types an audit event is delivered as (besides `audit.<event>`).
pub fn types_of(event: &str) -> Vec<String> {
    let kind = match event {
        "user_created" => Some("user.created"),
        "user_deleted" => Some("user.deleted"),
        "user_disabled" | "user_blocked" => Some("user.disabled"),
        "user_enabled" | "user_unblocked" => Some("user.enabled"),
        "email_changed" | "email_proven" | "password_changed" | "password_reset"
        | "mfa_enabled" | "mfa_disabled" | "mfa_reset" | "role_changed" | "account_cleaned"
        | "passkey_added" | "passkey_removed" | "upstream_linked" | "upstream_unlinked" => {
            Some("user.updated")
        }
        "sign_in" => Some("session.signed_in"),
        "sign_out" | "signed_out_everywhere" => Some("session.signed_out"),
        "group_member_added" => Some("group.member_added"),
        "group_member_removed" => Some("group.member_removed"),
        _ => None,
    };
    kind.into_iter()
        .map(str::to_owned)
        .chain(std::iter::once(format!("audit.{event}")))
        .collect()
}

/// The body of the message of type `kind` about event `e`: Standard Webhooks' `type`,
/// `timestamp` and `data` (the account, who acted, the event's detail).
pub fn body(e: &AuditRecord, kind: &str) -> String {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or_else(|_| json!({}));
    let user = e
        .user
        .as_ref()
        .map(|id| json!({"id": id, "email": e.email, "username": e.username}));
    json!({
        "type": kind,
        "timestamp": crate::clock::rfc3339(e.at),
        "data": {
            "event_id": e.id.to_string(),
            "event": e.event,
            "user": user,
            "actor": e.actor,
            "door": e.door,
            "detail": detail,
        },
    })
    .to_string()
}

/// The `webhook-id` of the message of type `kind` about event `id` (the same for every
/// attempt: receivers use it to drop repeats).
pub fn message_id(id: u64, kind: &str) -> String {
    format!("msg_{id}_{kind}")
}

/// The `webhook-signature` of a message: `v1,` and the base64 of the HMAC-SHA256 of
/// `id.timestamp.body` with the endpoint's key.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// `{"endpoints": [{"url", "pending", "failed"}]}` (`latchkey webhooks status`).
/// Pending: the messages waiting (or under way), and the events its fan-out has not
/// looked at yet (each may make a message).
pub fn status(store: &Store, hooks: &[WebhookSettings]) -> Result<Value, AdminError> {
    store.read(|r| {
        let last = storage::last_audit_id(r)?;
        let mut out = Vec::new();
        for h in hooks {
            let (pending, failed) = storage::delivery_counts(r, &h.id)?;
            let unseen = match r.counter(&init_counter(&h.id))? {
                0 => 0,
                _ => last.saturating_sub(r.counter(&storage::fanout_counter(&h.id))?),
            };
            let pending = u64::try_from(pending)
                .unwrap_or(u64::MAX)
                .saturating_add(unseen);
            out.push(json!({"url": h.url.as_str(), "pending": pending, "failed": failed}));
        }
        Ok(json!({ "endpoints": out }))
    })
}

fn init_counter(endpoint: &str) -> String {
    format!("webhook_init:{endpoint}")
}

/// Starts each new endpoint's fan-out at the end of the audit log (it gets what happens
/// from now on, not the whole log), once: a restart keeps where it was.
pub fn start_endpoints(store: &Store, hooks: &[WebhookSettings]) -> Result<(), StoreError> {
    store.write(|w| {
        for h in hooks {
            if w.counter(&init_counter(&h.id))? == 0 {
                let last = storage::last_audit_id(w)?;
                w.counter_set(&storage::fanout_counter(&h.id), last)?;
                w.counter_set(&init_counter(&h.id), 1)?;
            }
        }
        Ok(())
    })
}

/// Why an attempt failed.
#[derive(Debug)]
pub enum AttemptError {
    /// The endpoint is no longer in the configuration.
    Unconfigured,
    /// The receiver answered this non-2xx status.
    Status(u16),
    /// No answer (in time).
    Outbound(crate::outbound::OutboundError),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Unconfigured => f.write_str("the endpoint is no longer configured"),
            AttemptError::Status(s) => write!(f, "status {s}"),
            AttemptError::Outbound(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AttemptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AttemptError::Outbound(e) => Some(e),
            _ => None,
        }
    }
}

/// One claimed delivery, with what it sends.
struct Claimed {
    rec: DeliveryRecord,
    body: String,
    at: UnixMillis,
}

/// The deliverer of one node.
pub struct Deliverer {
    store: Store,
    hooks: Vec<WebhookSettings>,
    http: Outbound,
    clock: Arc<dyn Clock>,
    /// How long failed messages are kept (the audit log's retention).
    keep: Duration,
    wake: Arc<tokio::sync::Notify>,
}

impl Deliverer {
    /// A deliverer for `hooks`; `wake` is told when events were written.
    pub fn new(
        store: Store,
        hooks: Vec<WebhookSettings>,
        clock: Arc<dyn Clock>,
        keep: Duration,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<Deliverer, crate::outbound::OutboundError> {
        Ok(Deliverer {
            store,
            hooks,
            http: Outbound::new(None, true)?,
            clock,
            keep,
            wake,
        })
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        let this = Arc::new(self);
        loop {
            let busy = match this.clone().round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery round failed");
                    0
                }
            };
            if busy == 0 {
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), this.wake.notified()).await;
            }
        }
    }

    /// One round: fan out, claim, deliver, settle. How much it did.
    async fn round(self: Arc<Self>) -> Result<usize, StoreError> {
        let me = self.clone();
        let (fanned, claimed) = tokio::task::spawn_blocking(move || {
            let now = me.clock.now();
            let fanned = me.fan_out(now)?;
            Ok::<_, StoreError>((fanned, me.claim(now)?))
        })
        .await
        .map_err(|e| StoreError::Setup(e.to_string()))??;
        if claimed.is_empty() {
            return Ok(fanned);
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for c in claimed {
            let (me, limit) = (self.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = me.deliver(&c).await;
                (c, result)
            });
        }
        let mut done = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Ok(x) = r {
                done.push(x);
            }
        }
        let n = done.len();
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.settle(done))
            .await
            .map_err(|e| StoreError::Setup(e.to_string()))??;
        Ok(fanned + n)
    }

    /// Turns the events after each endpoint's counter into its deliveries.
    fn fan_out(&self, now: UnixMillis) -> Result<usize, StoreError> {
        let mut n = 0;
        for h in &self.hooks {
            let taken = self.store.write(|w| {
                let name = storage::fanout_counter(&h.id);
                let from = w.counter(&name)?;
                let events = w.scan::<AuditRecord>(Some(&AuditRecord::key(from)), FANOUT)?;
                let Some(last) = events.last().map(|(_, e)| e.id) else {
                    return Ok(0);
                };
                for (_, e) in &events {
                    for kind in types_of(&e.event).into_iter().filter(|k| h.wants(k)) {
                        let d = DeliveryRecord {
                            endpoint: h.id.clone(),
                            audit_id: e.id,
                            kind,
                            attempts: 0,
                            due_at: now,
                            created_at: now,
                            last_error: None,
                        };
                        w.put(&d.key(), &d)?;
                    }
                }
                // Another node that took these meanwhile moved the counter first: this
                // add then lands elsewhere, and the whole transaction is undone.
                if w.counter_add(&name, last - from)? != last {
                    return Err(StoreError::Taken(name));
                }
                Ok(events.len())
            });
            match taken {
                Ok(k) => n += k,
                Err(StoreError::Taken(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Claims at most [`BATCH`] due deliveries: each moves to the end of its lease.
    fn claim(&self, now: UnixMillis) -> Result<Vec<Claimed>, StoreError> {
        self.store.write(|w| {
            let mut out = Vec::new();
            for (key, mut d) in w.scan::<DeliveryRecord>(None, BATCH)? {
                if d.due_at > now {
                    break;
                }
                // The delete is the claim: a node that lost the race deletes nothing.
                if !w.delete_row(DeliveryRecord::TABLE, &key)? {
                    continue;
                }
                for (index, entry) in d.indexes() {
                    w.index_remove(index, &entry, &key)?;
                }
                let Some(e) = w.get::<AuditRecord>(&AuditRecord::key(d.audit_id))? else {
                    // Pruned before it could be sent: nothing left to tell.
                    continue;
                };
                d.attempts += 1;
                d.due_at = now + LEASE;
                w.put(&d.key(), &d)?;
                out.push(Claimed {
                    body: body(&e, &d.kind),
                    rec: d,
                    at: now,
                });
            }
            Ok(out)
        })
    }

    /// One attempt: `Ok` on a 2xx answer.
    async fn deliver(&self, c: &Claimed) -> Result<(), AttemptError> {
        let Some(h) = self.hooks.iter().find(|h| h.id == c.rec.endpoint) else {
            return Err(AttemptError::Unconfigured);
        };
        let id = message_id(c.rec.audit_id, &c.rec.kind);
        let ts = self.clock.now().secs();
        let sig = signature(&h.key, &id, ts, &c.body);
        let headers = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", sig.as_str()),
        ];
        match self.http.post_json(&h.url, &c.body, &headers).await {
            Ok(a) if a.status.is_success() => Ok(()),
            Ok(a) => Err(AttemptError::Status(a.status.as_u16())),
            Err(e) => Err(AttemptError::Outbound(e)),
        }
    }

    /// Settles the attempts: done, due again after the next wait, or failed for good.
    fn settle(&self, done: Vec<(Claimed, Result<(), AttemptError>)>) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.write(|w| {
            for (c, result) in &done {
                let key = c.rec.key();
                // A lease that ran out was claimed again elsewhere: that claim settles.
                if c.at + LEASE <= now || !w.delete_row(DeliveryRecord::TABLE, &key)? {
                    continue;
                }
                for (index, entry) in c.rec.indexes() {
                    w.index_remove(index, &entry, &key)?;
                }
                let Err(why) = result else { continue };
                let mut d = c.rec.clone();
                d.last_error = Some(why.to_string().chars().take(300).collect());
                let schedule = self
                    .hooks
                    .iter()
                    .find(|h| h.id == d.endpoint)
                    .map_or(&[][..], |h| &h.retry_schedule[..]);
                let wait = usize::try_from(d.attempts)
                    .ok()
                    .and_then(|a| schedule.get(a.saturating_sub(1)));
                match wait {
                    Some(wait) => {
                        d.due_at = now + *wait;
                        w.put(&d.key(), &d)?;
                    }
                    None => {
                        tracing::warn!(endpoint = %d.endpoint, event = d.audit_id, kind = %d.kind, error = ?d.last_error, "a webhook message failed for good");
                        let f = FailedDeliveryRecord {
                            failed_at: now,
                            expires_at: now + self.keep,
                            delivery: d,
                        };
                        let mut k = f.delivery.endpoint.as_bytes().to_vec();
                        k.extend_from_slice(&f.delivery.key());
                        w.put(&k, &f)?;
                    }
                }
            }
            Ok(())
        })
    }
}
