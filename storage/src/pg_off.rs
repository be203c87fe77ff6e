//! A build without PostgreSQL (`--no-default-features`): the backend cannot be had.
//! [`PgStore`] has no value, so every method below is unreachable; `connect` says why.

use crate::commit::{Abort, Job, Refused};
use crate::shared::{AttemptRules, AttemptStatus, Change};
use crate::tx::{Read, Write};
use crate::StoreError;
use crate::UnixMillis;

/// No PostgreSQL store can exist in this build.
#[derive(Clone, Debug)]
pub enum PgStore {}

impl PgStore {
    /// Refused: this build has no PostgreSQL.
    pub fn connect(_url: &str, _pool_size: usize) -> Result<PgStore, StoreError> {
        Err(StoreError::Unsupported(
            "this latchkey was built without PostgreSQL (the `postgres` feature)",
        ))
    }

    pub fn describe(&self) -> &str {
        match *self {}
    }

    pub fn read<T, E: From<StoreError>>(
        &self,
        _f: impl FnOnce(&dyn Read) -> Result<T, E>,
    ) -> Result<T, E> {
        match *self {}
    }

    pub fn write<T, E: From<StoreError>>(
        &self,
        _f: impl FnMut(&mut dyn Write) -> Result<T, E>,
    ) -> Result<T, E> {
        match *self {}
    }

    pub async fn commit(&self, _job: Job) -> Result<Result<(), Abort>, Refused> {
        match *self {}
    }

    pub fn size_bytes(&self) -> u64 {
        match *self {}
    }

    pub fn healthy(&self) -> bool {
        match *self {}
    }

    pub fn live(&self) -> bool {
        match *self {}
    }

    pub fn subscribe(&self, _f: impl Fn(&Change) + Send + Sync + 'static) {
        match *self {}
    }

    pub fn attempt_begin(
        &self,
        _r: &AttemptRules,
        _id: &str,
        _account: &str,
        _source: &[u8],
        _now: UnixMillis,
    ) -> Result<Result<(), UnixMillis>, StoreError> {
        match *self {}
    }

    pub fn attempt_end(
        &self,
        _r: &AttemptRules,
        _id: &str,
        _account: &str,
        _source: &[u8],
        _now: UnixMillis,
        _end: crate::shared::AttemptEnd,
    ) -> Result<bool, StoreError> {
        match *self {}
    }

    pub fn attempt_knows(
        &self,
        _r: &AttemptRules,
        _account: &str,
        _source: &[u8],
        _now: UnixMillis,
    ) -> Result<bool, StoreError> {
        match *self {}
    }

    pub fn attempt_clear(&self, _account: &str) -> Result<(), StoreError> {
        match *self {}
    }

    pub fn attempt_status(
        &self,
        _r: &AttemptRules,
        _account: &str,
        _now: UnixMillis,
    ) -> Result<AttemptStatus, StoreError> {
        match *self {}
    }

    pub fn attempt_sweep(&self, _r: &AttemptRules, _now: UnixMillis) -> Result<u64, StoreError> {
        match *self {}
    }
}
