//! [`Store`]: the one handle the server holds, whichever backend keeps the data. Reads
//! and writes are closures over the domain traits ([`Read`], [`Write`]); how a write
//! reaches the disk (redb's group commit, a retried PostgreSQL transaction) is the
//! backend's own business.

use crate::UnixMillis;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::commit::{Abort, Committer, Job, Refused};
use crate::pg::PgStore;
use crate::shared::{AttemptEnd, AttemptRules, AttemptStatus, Change};
use crate::store::RedbStore;
use crate::tx::{Read, Write};
use crate::{Backup, StoreError};

/// The store. Cheap to clone; clones share the backend.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// redb's group-commit thread, started at the first [`Store::commit`].
    committer: OnceLock<Result<Committer, std::io::Error>>,
}

enum Backend {
    Redb(RedbStore),
    Postgres(PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.backend {
            Backend::Redb(r) => r.fmt(f),
            Backend::Postgres(p) => p.fmt(f),
        }
    }
}

impl Store {
    fn new(backend: Backend) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                committer: OnceLock::new(),
            }),
        }
    }

    /// Opens the redb store at `path`, creating it (and every table) when it does not
    /// exist, and migrating an older schema. Fails with [`StoreError::Locked`] when
    /// another process has it open.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        RedbStore::open(path).map(|r| Store::new(Backend::Redb(r)))
    }

    /// [`Store::open`] with redb's page cache bounded to `cache_bytes` (what a server
    /// keeps in memory of the file: `storage.cache_size`).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        RedbStore::open_with_cache(path, cache_bytes).map(|r| Store::new(Backend::Redb(r)))
    }

    /// Gives a redb file's free pages back (after a bulk import), when this is the last
    /// handle of the store and no group commit ran; returns whether it did. (PostgreSQL
    /// reclaims its own space.)
    pub fn compact(self) -> Result<bool, StoreError> {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(false);
        };
        if inner.committer.get().is_some() {
            return Ok(false);
        }
        match inner.backend {
            Backend::Redb(mut r) => r.compact(),
            Backend::Postgres(_) => Ok(false),
        }
    }

    /// Opens an existing redb store without creating or migrating anything (for the
    /// commands). Fails when there is no file, when another process holds it, or when
    /// its schema is not this latchkey's.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        RedbStore::open_existing(path).map(|r| Store::new(Backend::Redb(r)))
    }

    /// Connects to the PostgreSQL database at `url` with at most `pool_size` connections,
    /// making its tables when they are missing (a newer schema is refused).
    pub fn connect(url: &str, pool_size: usize) -> Result<Store, StoreError> {
        PgStore::connect(url, pool_size).map(|p| Store::new(Backend::Postgres(p)))
    }

    /// Whether several servers may share this store (PostgreSQL), or one holds it (redb).
    pub fn shared(&self) -> bool {
        matches!(self.inner.backend, Backend::Postgres(_))
    }

    /// Where the data is (a path, or a URL without its password), for messages.
    pub fn describe(&self) -> String {
        match &self.inner.backend {
            Backend::Redb(r) => r.path().display().to_string(),
            Backend::Postgres(p) => p.describe().to_owned(),
        }
    }

    /// Calls `f` with every change committed by any server sharing the store, and with
    /// [`Change::Lost`] when changes may have been missed; nothing for redb (one server
    /// sees its own writes).
    pub fn subscribe(&self, f: impl Fn(&Change) + Send + Sync + 'static) {
        if let Backend::Postgres(p) = &self.inner.backend {
            p.subscribe(f);
        }
    }

    /// A number that changes with every commit, when this process makes them all (redb,
    /// whose file is locked to it): taken before a read, it tells later whether anything
    /// that read saw may have changed since. `None` when other servers write too
    /// (PostgreSQL).
    pub fn version(&self) -> Option<u64> {
        match &self.inner.backend {
            Backend::Redb(r) => Some(r.version()),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether [`Store::subscribe`] is being told every change now: only then may a
    /// server keep what it read (redb: always, nobody else writes).
    pub fn changes_known(&self) -> bool {
        match &self.inner.backend {
            Backend::Redb(_) => true,
            Backend::Postgres(p) => p.live(),
        }
    }

    /// Whether this store counts attempts against accounts itself (so every server
    /// sharing it sees the same counts): PostgreSQL does, a redb server counts in memory.
    pub fn counts_attempts(&self) -> bool {
        self.shared()
    }

    fn pg(&self) -> Result<&PgStore, StoreError> {
        match &self.inner.backend {
            Backend::Postgres(p) => Ok(p),
            Backend::Redb(_) => Err(StoreError::Unsupported(
                "a redb server counts attempts in its own memory",
            )),
        }
    }

    /// Takes a place for attempt `id` of `source` against `account`; `Ok(Err(t))`: not
    /// before `t` (Unix ms). See [`Store::counts_attempts`].
    pub fn attempt_begin(
        &self,
        rules: &AttemptRules,
        id: &str,
        account: &str,
        source: &[u8],
        now: UnixMillis,
    ) -> Result<Result<(), UnixMillis>, StoreError> {
        self.pg()?.attempt_begin(rules, id, account, source, now)
    }

    /// Resolves attempt `id`; returns whether its source is locked out now.
    pub fn attempt_end(
        &self,
        rules: &AttemptRules,
        id: &str,
        account: &str,
        source: &[u8],
        now: UnixMillis,
        end: AttemptEnd,
    ) -> Result<bool, StoreError> {
        self.pg()?.attempt_end(rules, id, account, source, now, end)
    }

    /// Whether `source` signed in to `account` lately.
    pub fn attempt_knows(
        &self,
        rules: &AttemptRules,
        account: &str,
        source: &[u8],
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.pg()?.attempt_knows(rules, account, source, now)
    }

    /// Drops every failure and lock of `account`.
    pub fn attempt_clear(&self, account: &str) -> Result<(), StoreError> {
        self.pg()?.attempt_clear(account)
    }

    /// What holds `account` back now.
    pub fn attempt_status(
        &self,
        rules: &AttemptRules,
        account: &str,
        now: UnixMillis,
    ) -> Result<AttemptStatus, StoreError> {
        self.pg()?.attempt_status(rules, account, now)
    }

    /// Removes attempts, locks and known sources that no longer count.
    pub fn attempt_sweep(&self, rules: &AttemptRules, now: UnixMillis) -> Result<u64, StoreError> {
        self.pg()?.attempt_sweep(rules, now)
    }

    /// Runs `f` over a consistent snapshot.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&dyn Read) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.inner.backend {
            Backend::Redb(r) => r.read(|tx| f(tx)),
            Backend::Postgres(p) => p.read(f),
        }
    }

    /// Runs `f` in one transaction of its own, committed (durably) only when it returns
    /// `Ok`; on `Err` nothing of it remains. `f` may run more than once (a backend may
    /// retry a transaction that met a concurrent one): it must have no other effect.
    pub fn write<T, E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&mut dyn Write) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.inner.backend {
            Backend::Redb(r) => r.write(|tx| f(tx)),
            Backend::Postgres(p) => p.write(f),
        }
    }

    /// Runs `job` as one request's writes, committed with other requests' where the
    /// backend batches them; resolves once they are durable, or failed (nothing of them
    /// then remains). Dropping the future before it resolves lets the backend skip the
    /// job if it has not started. Refused when the backend's queue is full.
    pub async fn commit(&self, job: Job) -> Result<Result<(), Abort>, Refused> {
        match &self.inner.backend {
            Backend::Redb(r) => {
                let committer = self
                    .inner
                    .committer
                    .get_or_init(|| Committer::start(r.clone()));
                match committer {
                    Ok(c) => c.submit(job).await,
                    Err(_) => Err(Refused::Stopped),
                }
            }
            Backend::Postgres(p) => p.commit(job).await,
        }
    }

    /// Whether the store takes writes: its last commit reached the disk (cheap; load
    /// balancers ask often).
    pub fn healthy(&self) -> bool {
        if let Backend::Postgres(p) = &self.inner.backend {
            return p.healthy();
        }
        match self.inner.committer.get() {
            Some(Ok(c)) => c.healthy(),
            Some(Err(_)) => false,
            None => true,
        }
    }

    /// Writes a consistent copy of the store to the new file `dest` (mode 0600) while it
    /// stays in use, and checks the copy by opening it.
    pub fn backup(&self, dest: &Path) -> Result<Backup, StoreError> {
        match &self.inner.backend {
            Backend::Redb(r) => r.backup(dest),
            Backend::Postgres(_) => Err(StoreError::Unsupported(
                "a PostgreSQL store is backed up with the database's own tools (pg_dump)",
            )),
        }
    }

    /// Bytes the store takes on disk.
    pub fn size_bytes(&self) -> u64 {
        match &self.inner.backend {
            Backend::Redb(r) => r.file_size(),
            Backend::Postgres(p) => p.size_bytes(),
        }
    }
}
