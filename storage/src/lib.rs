//! latchkey's persistent state: the records (users, refresh-token families, signing keys)
//! and the one-file [redb] store that holds them.
//!
//! Every table is defined in [`store`], in one place. Reads go through [`Reader`], writes
//! through [`Writer`] inside [`Store::write`], which commits only when the closure returns
//! `Ok`: a request that fails half-way leaves the store exactly as it was.
//!
//! Secrets the server hands out (refresh tokens) are stored as SHA-256 hashes only; this
//! crate never sees the tokens themselves.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod records;
mod store;

pub use records::{
    AccountState, FamilyRecord, MfaPendingRecord, MfaRecord, ProofPurpose, ProofRecord,
    RefreshEntry, Revocation, SessionCodeRecord, SigningKeyRecord, UserRecord,
};
pub use store::{Backup, Found, Reader, Store, StoreError, Unique, Writer, SCHEMA_VERSION};
