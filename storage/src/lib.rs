//! latchkey's persistent state: the records (users, refresh-token families, signing keys),
//! the domain interface over them ([`Read`], [`Write`]), and the backends that keep them:
//! the one-file [redb] store (the default) and PostgreSQL (several servers on one
//! database).
//!
//! [`Store`] is the handle: reads run over a snapshot, writes in one transaction that
//! commits only when the closure returns `Ok`: a request that fails half-way leaves the
//! store exactly as it was.
//!
//! Secrets the server hands out (refresh tokens) are stored as SHA-256 hashes only; this
//! crate never sees the tokens themselves.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod codec;
mod commit;
mod copy;
mod error;
mod events;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(not(feature = "postgres"))]
#[path = "pg_off.rs"]
mod pg;
mod records;
mod rows;
mod shared;
mod store;
#[cfg(all(feature = "testing", feature = "postgres"))]
pub mod testing;
mod time;
mod tx;

pub use backend::Store;
pub use codec::{skeleton, CodecError};
pub use commit::{Abort, Job, Refused, MAX_QUEUE};
pub use copy::{copy, Copied};
pub use error::{Backup, Found, StoreError, Unique};
pub use events::{
    append_audit, audit_page, delivery_counts, fanout_counter, last_audit_id, prune_audit,
    recent_audit, AuditQuery, AuditRecord, DeliveryRecord, FailedDeliveryRecord,
};
pub use records::{
    delete_group, groups_of, identities_of, members_of, AccountState, CeremonyRecord, FamilyRecord,
    GrantRecord, GroupRecord, IdentityRecord, MemberRecord, MfaPendingRecord, MfaRecord,
    PasskeyRecord, ProofPurpose, ProofRecord, RefreshEntry, Revocation, SessionCodeRecord,
    SigningKeyRecord, UpstreamFlowRecord, UserRecord,
};
pub use rows::{Kind, Raw, Records, RecordsMut, Rows, RowsMut};
pub use shared::{AttemptEnd, AttemptRules, AttemptStatus, Change};
pub use store::SCHEMA_VERSION;
pub use time::UnixMillis;
pub use tx::{Item, Read, RefreshChain, Write};
