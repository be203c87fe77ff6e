//! The redb store: every table definition, the schema version, and typed access.

use crate::UnixMillis;
use std::path::{Path, PathBuf};

use crate::codec::{decode, encode, fold, is_legacy, skeleton};
use crate::records::{parse_proof_key, proof_key};
use crate::records::{
    FamilyRecord, GrantRecord, MfaPendingRecord, PasskeyRecord, ProofPurpose, ProofRecord,
    RefreshEntry, SessionCodeRecord, SigningKeyRecord, UserRecord,
};
use crate::rows::{KeyValue, Raw, Rows, RowsMut};
use crate::tx::{Item, Read, Write};
use crate::{Backup, StoreError, Unique};
use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, TableDefinition, WriteTransaction,
};

/// Version of the layout below. Bump it, and add a step to [`migrate`], whenever a table
/// or a record changes incompatibly.
pub const SCHEMA_VERSION: u64 = 3;

// ---- every table of the store, in one place -------------------------------------------
/// Small counters and settings: `schema_version`, `next_user_num`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Settings that are bytes: `server_key_check` (what the server key says of itself).
const META_BYTES: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_bytes");
/// User id -> [`UserRecord`] (postcard, see `codec`; so are the records below).
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Lowercased email -> user id.
const USER_BY_EMAIL: TableDefinition<&str, &str> = TableDefinition::new("users_by_email");
/// Lowercased username -> user id.
const USER_BY_NAME: TableDefinition<&str, &str> = TableDefinition::new("users_by_name");
/// Confusable skeleton (UTS #39) of a username -> user id: look-alikes collide.
const USER_BY_SKELETON: TableDefinition<&str, &str> = TableDefinition::new("users_by_skeleton");
/// SHA-256 of an MFA pending credential -> [`MfaPendingRecord`].
const MFA_PENDING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mfa_pending");
/// SHA-256 of an OpenID Connect code (or of `family:<id>`) -> [`GrantRecord`].
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
/// Credential id -> [`PasskeyRecord`].
const PASSKEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("passkeys");
/// User id -> credential ids of that user's passkeys.
const USER_PASSKEYS: MultimapTableDefinition<&str, &[u8]> =
    MultimapTableDefinition::new("user_passkeys");
/// The table layer (`rows`): (table, key) -> value, for every record kind it keeps.
const ROWS: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("rows");
/// The table layer's multimap indexes: (index, entry) -> keys.
const ROW_INDEX: MultimapTableDefinition<(&str, &[u8]), &[u8]> =
    MultimapTableDefinition::new("row_index");
/// The table layer's unique indexes: (index, entry) -> key.
const ROW_UNIQUE: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("row_unique");
/// The table layer's expiry index: (table, time, key).
const ROW_DUE: TableDefinition<(&str, i64, &[u8]), ()> = TableDefinition::new("row_due");
/// The table layer's counters.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// `<purpose>:<subject>` -> [`ProofRecord`].
const PROOFS: TableDefinition<&str, &[u8]> = TableDefinition::new("proofs");
/// Integer user number -> user id.
const USER_BY_NUM: TableDefinition<u64, &str> = TableDefinition::new("users_by_num");
/// Family id -> [`FamilyRecord`].
const FAMILIES: TableDefinition<&str, &[u8]> = TableDefinition::new("families");
/// User id -> ids of that user's families.
const USER_FAMILIES: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("user_families");
/// SHA-256 of a refresh token -> [`RefreshEntry`].
const REFRESH: TableDefinition<&[u8], &[u8]> = TableDefinition::new("refresh_tokens");
/// Family id -> hashes of every token issued in it (to sweep them with the family).
const FAMILY_TOKENS: MultimapTableDefinition<&str, &[u8]> =
    MultimapTableDefinition::new("family_tokens");
/// Key id -> [`SigningKeyRecord`].
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("signing_keys");
/// Keyed hash of a session code -> [`SessionCodeRecord`].
const SESSION_CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_codes");
/// Lowercased email -> keyed hashes of the codes mailed to it.
const EMAIL_CODES: MultimapTableDefinition<&str, &[u8]> =
    MultimapTableDefinition::new("email_codes");
/// (kind, time, key) of everything that goes at a time: the sweeper reads only what is
/// due, in time order, never a whole table. Kinds below.
const EXPIRIES: TableDefinition<(u8, i64, &[u8]), ()> = TableDefinition::new("expiries");
/// A family (key: its id), at its `expires_at`.
const DUE_FAMILY: u8 = 0;
/// A session code (key: its hash), at its `expires_at`.
const DUE_SESSION_CODE: u8 = 1;
/// An MFA pending credential (key: its hash), at its `expires_at`.
const DUE_MFA_PENDING: u8 = 2;
/// A proof (key: `proof_key`), at its `expires_at`.
const DUE_PROOF: u8 = 3;
/// A spent refresh token's entry (key: its hash), at its `spent_at`.
const DUE_SPENT: u8 = 4;
/// An OpenID Connect grant (key: its hash), at its `expires_at`.
const DUE_GRANT: u8 = 5;
// Kind 6 was a WebAuthn ceremony's: ceremonies are a record kind of the table layer now.

/// Calls `$m!(table NAME)` or `$m!(multimap NAME)` for every table above: the one list
/// that creating the tables and copying a store (backup) go through.
macro_rules! every_table {
    ($m:ident) => {
        $m!(table META);
        $m!(table META_BYTES);
        $m!(table USERS);
        $m!(table USER_BY_EMAIL);
        $m!(table USER_BY_NAME);
        $m!(table USER_BY_SKELETON);
        $m!(table USER_BY_NUM);
        $m!(table MFA_PENDING);
        $m!(table GRANTS);
        $m!(table PASSKEYS);
        $m!(multimap USER_PASSKEYS);
        $m!(table PROOFS);
        $m!(table FAMILIES);
        $m!(multimap USER_FAMILIES);
        $m!(table REFRESH);
        $m!(multimap FAMILY_TOKENS);
        $m!(table KEYS);
        $m!(table SESSION_CODES);
        $m!(multimap EMAIL_CODES);
        $m!(table EXPIRIES);
        $m!(table ROWS);
        $m!(multimap ROW_INDEX);
        $m!(table ROW_UNIQUE);
        $m!(table ROW_DUE);
        $m!(table COUNTERS);
    };
}

/// The one-file redb store. Cheap to clone; clones share the open database.
#[derive(Clone)]
pub struct RedbStore {
    db: std::sync::Arc<Database>,
    path: PathBuf,
    /// Write transactions ended with a commit (attempted) through this handle and its
    /// clones: see [`RedbStore::version`].
    version: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
    /// Opens the store at `path`, creating it (and every table) when it does not exist,
    /// and migrating an older schema. Fails with [`StoreError::Locked`] when another
    /// process has it open.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_cache(path, COMMAND_CACHE_BYTES)
    }

    /// [`RedbStore::open`] with at most `cache_bytes` of redb's page cache (a server's
    /// `storage.cache_size`: the pages it reads and writes most, kept in memory).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<RedbStore, StoreError> {
        let db = open_db(path, true, cache_bytes)?;
        let mut store = RedbStore {
            db: std::sync::Arc::new(db),
            path: path.to_path_buf(),
            version: Default::default(),
        };
        let migrated = store.write(|w| {
            // Creating every table up front lets read transactions assume they exist.
            macro_rules! create {
                (table $t:ident) => {
                    w.tx.open_table($t)?;
                };
                (multimap $t:ident) => {
                    w.tx.open_multimap_table($t)?;
                };
            }
            every_table!(create);
            let mut meta = w.tx.open_table(META)?;
            let version = meta.get("schema_version")?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v > SCHEMA_VERSION => return Err(StoreError::TooNew(v)),
                Some(v) if v < SCHEMA_VERSION => {
                    drop(meta);
                    migrate(w, v)?;
                    return Ok(true);
                }
                Some(_) => {}
            }
            Ok(false)
        })?;
        if migrated {
            // A migration rewrites every record: give the old pages back.
            let _ = store.compact()?;
        }
        Ok(store)
    }

    /// Gives the file's free pages back (after a migration or a bulk import). Only when
    /// this is the one handle of the store; otherwise nothing is done. Returns whether
    /// it compacted.
    pub fn compact(&mut self) -> Result<bool, StoreError> {
        match std::sync::Arc::get_mut(&mut self.db) {
            Some(db) => {
                while db.compact()? {}
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Opens an existing store without changing it: no table is created, nothing is
    /// migrated (for the read-only commands). Fails when there is no file, when another
    /// process holds it, or when its schema is not this latchkey's.
    pub fn open_existing(path: &Path) -> Result<RedbStore, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let db = open_db(path, false, COMMAND_CACHE_BYTES)?;
        let store = RedbStore {
            db: std::sync::Arc::new(db),
            path: path.to_path_buf(),
            version: Default::default(),
        };
        match store.read(|r| r.schema_version())? {
            v if v > SCHEMA_VERSION => Err(StoreError::TooNew(v)),
            v if v < SCHEMA_VERSION => Err(StoreError::Outdated(v)),
            _ => Ok(store),
        }
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.db.begin_read().map_err(StoreError::from)?;
        f(&Reader { tx })
    }

    /// Runs `f` in one write transaction. Its writes are committed (durably: fsync) only
    /// when it returns `Ok`; on `Err` nothing of it remains.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.db.begin_write().map_err(StoreError::from)?;
        let mut w = Writer { tx };
        match f(&mut w) {
            Ok(v) => {
                let committed = w.tx.commit();
                // After the commit is visible, before its writer is answered; a failed
                // commit counts too (what it left is not known).
                self.version
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                committed.map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                w.tx.abort().map_err(StoreError::from)?;
                Err(e)
            }
        }
    }

    /// A number that changes with every commit made through this store, taken before a
    /// read begins: while it has not changed, nothing that read saw has changed either
    /// (the file is locked to this process: every write to it comes through here).
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Writes a consistent copy of the store to `dest` (a new file, mode 0600) while
    /// the store stays in use: every table is read in one read transaction (a snapshot)
    /// and written in one transaction of the copy; the copy is then opened again and its
    /// user count checked before it takes its name, which it takes only if no file has
    /// it. A live redb file copied with `cp` is not a backup (pages of unfinished writes).
    pub fn backup(&self, dest: &Path) -> Result<Backup, StoreError> {
        let file_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::File { path, source }
        };
        if dest.exists() {
            return Err(StoreError::Exists(dest.to_path_buf()));
        }
        let mut partial = dest.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        // create_new: two backups to one name cannot write one file.
        let file = private_file(&partial).map_err(file_error(&partial))?;
        let copied = self.copy_into(file, &partial).and_then(|users| {
            // A hard link never replaces a file that appeared meanwhile (rename would).
            std::fs::hard_link(&partial, dest).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    StoreError::Exists(dest.to_path_buf())
                } else {
                    StoreError::File {
                        path: dest.to_path_buf(),
                        source: e,
                    }
                }
            })?;
            Ok(users)
        });
        let _ = std::fs::remove_file(&partial);
        let users = copied?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The new name survives a crash only once its directory is on disk.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(file_error(dir))?;
        }
        let bytes = std::fs::metadata(dest).map_err(file_error(dest))?.len();
        Ok(Backup { users, bytes })
    }

    /// Copies every table into the new file `file` (at `path`), then checks the copy.
    fn copy_into(&self, file: std::fs::File, path: &Path) -> Result<u64, StoreError> {
        let copy = redb::Builder::new().create_file(file)?;
        let r = self.db.begin_read()?;
        let users = r.open_table(USERS)?.len()?;
        let w = copy.begin_write()?;
        macro_rules! copy {
            (table $t:ident) => {{
                let src = r.open_table($t)?;
                let mut dst = w.open_table($t)?;
                for item in src.iter()? {
                    let (k, v) = item?;
                    dst.insert(k.value(), v.value())?;
                }
            }};
            (multimap $t:ident) => {{
                let src = r.open_multimap_table($t)?;
                let mut dst = w.open_multimap_table($t)?;
                for item in src.iter()? {
                    let (k, vs) = item?;
                    for v in vs {
                        dst.insert(k.value(), v?.value())?;
                    }
                }
            }};
        }
        every_table!(copy);
        w.commit()?;
        drop(copy);
        // Check the copy as a restore would meet it.
        let check = RedbStore::open_existing(path)?;
        let copied = check.read(|r| r.user_count())?;
        if copied != users {
            return Err(StoreError::Damaged {
                path: path.to_path_buf(),
                why: format!("the copy holds {copied} users, the store {users}"),
            });
        }
        Ok(users)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the store file in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// The page cache of a store a command opens (an import, a copy, a backup: short-lived
/// work over the whole file): redb's own default, a bound it reaches only on a big store.
pub const COMMAND_CACHE_BYTES: usize = 1024 * 1024 * 1024;

/// Opens (or, with `create`, creates) the redb file with a page cache of at most
/// `cache_bytes`. An existing file that is empty is refused (redb would silently start a
/// new store in it), and redb's panics on a damaged file become an error naming the file.
fn open_db(path: &Path, create: bool, cache_bytes: usize) -> Result<Database, StoreError> {
    let damaged = |why: String| StoreError::Damaged {
        path: path.to_path_buf(),
        why,
    };
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() == 0 {
            return Err(damaged("the file is empty".into()));
        }
    }
    let opened = std::panic::catch_unwind(|| {
        if create && !path.exists() {
            // A new store is private from its first byte, whatever the umask: it holds
            // the signing keys.
            let file = private_file(path)
                .map_err(|e| redb::DatabaseError::Storage(redb::StorageError::Io(e)))?;
            redb::Builder::new()
                .set_cache_size(cache_bytes)
                .create_file(file)
        } else if create {
            tighten(path);
            redb::Builder::new()
                .set_cache_size(cache_bytes)
                .create(path)
        } else {
            redb::Builder::new().set_cache_size(cache_bytes).open(path)
        }
    });
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
            Err(StoreError::Locked(path.to_path_buf()))
        }
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(why)))) => {
            Err(damaged(why))
        }
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "redb could not read it".into());
            Err(damaged(why))
        }
    }
}

/// Creates `path` for reading and writing by its owner only (mode 0600 on Unix).
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Makes an existing store file private (0600) when an older version left it readable
/// by others.
fn tighten(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

/// Writes `version` as the store's schema version (for the tests of migrations).
#[cfg(feature = "testing")]
pub(crate) fn set_schema_version(path: &Path, version: u64) -> Result<(), StoreError> {
    let db = open_db(path, false, COMMAND_CACHE_BYTES)?;
    let tx = db.begin_write()?;
    tx.open_table(META)?.insert("schema_version", version)?;
    tx.commit()?;
    Ok(())
}

/// Brings a store of schema version `from` up to [`SCHEMA_VERSION`].
fn migrate(w: &mut Writer, from: u64) -> Result<(), StoreError> {
    // Each version adds one step here, `if from < N { ... }`; they run in order.
    if from < 2 {
        // 2: emails are proven or not; look-alike usernames collide. A passwordless
        // account could only have been made by redeeming a mailed code: proven.
        let users: Vec<UserRecord> = {
            let t = w.tx.open_table(USERS)?;
            let mut out = Vec::new();
            for item in t.iter()? {
                out.push(decode(item?.1.value())?);
            }
            out
        };
        for mut u in users {
            u.email_verified = u.email.is_some() && u.password_hash.is_none();
            if let Some(name) = &u.username {
                w.tx.open_table(USER_BY_SKELETON)?
                    .insert(skeleton(name).as_str(), u.id.as_str())?;
            }
            w.update_user(&u)?;
        }
    }
    if from < 3 {
        // 3: records in postcard rather than JSON; what goes at a time is indexed by it.
        macro_rules! reencode {
            ($t:ident, $rec:ty) => {{
                let legacy: Vec<(_, $rec)> = {
                    let t = w.tx.open_table($t)?;
                    let mut out = Vec::new();
                    for item in t.iter()? {
                        let (k, v) = item?;
                        if is_legacy(v.value()) {
                            out.push((k.value().to_owned(), decode(v.value())?));
                        }
                    }
                    out
                };
                let mut t = w.tx.open_table($t)?;
                for (k, rec) in &legacy {
                    t.insert(&**k, encode(rec)?.as_slice())?;
                }
            }};
        }
        reencode!(USERS, UserRecord);
        reencode!(FAMILIES, FamilyRecord);
        reencode!(REFRESH, RefreshEntry);
        reencode!(KEYS, SigningKeyRecord);
        reencode!(SESSION_CODES, SessionCodeRecord);
        reencode!(MFA_PENDING, MfaPendingRecord);
        reencode!(PROOFS, ProofRecord);
        macro_rules! index {
            ($t:ident, $rec:ty, $kind:expr, $at:expr) => {{
                let due: Vec<(Vec<u8>, UnixMillis)> = {
                    let t = w.tx.open_table($t)?;
                    let mut out = Vec::new();
                    for item in t.iter()? {
                        let (k, v) = item?;
                        let rec: $rec = decode(v.value())?;
                        if let Some(at) = $at(&rec) {
                            let key: &[u8] = k.value().as_ref();
                            out.push((key.to_vec(), at));
                        }
                    }
                    out
                };
                for (key, at) in due {
                    w.due_at($kind, at.millis(), &key)?;
                }
            }};
        }
        index!(FAMILIES, FamilyRecord, DUE_FAMILY, |f: &FamilyRecord| Some(
            f.expires_at
        ));
        index!(REFRESH, RefreshEntry, DUE_SPENT, |e: &RefreshEntry| e
            .spent_at);
        index!(
            SESSION_CODES,
            SessionCodeRecord,
            DUE_SESSION_CODE,
            |c: &SessionCodeRecord| Some(c.expires_at)
        );
        index!(
            MFA_PENDING,
            MfaPendingRecord,
            DUE_MFA_PENDING,
            |c: &MfaPendingRecord| Some(c.expires_at)
        );
        index!(PROOFS, ProofRecord, DUE_PROOF, |c: &ProofRecord| Some(
            c.expires_at
        ));
    }
    w.tx.open_table(META)?
        .insert("schema_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Read access in a snapshot.
pub struct Reader {
    tx: ReadTransaction,
}

/// Read and write access inside one write transaction.
pub struct Writer {
    tx: WriteTransaction,
}

// The read side is the same for both transaction kinds; redb gives them different table
// types, so the methods are written once here and instantiated twice.
macro_rules! read_methods {
    ($t:ty) => {
        impl Read for $t {
            /// The user with this id.
            fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
                let t = self.tx.open_table(USERS)?;
                let v = t.get(id)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// The id of the user with this email (case-insensitive).
            fn user_id_by_email(&self, email: &str) -> Result<Option<String>, StoreError> {
                let t = self.tx.open_table(USER_BY_EMAIL)?;
                let v = t.get(fold(email).as_str())?;
                Ok(v.map(|g| g.value().to_owned()))
            }

            /// The id of the user with this username (case-insensitive).
            fn user_id_by_username(&self, name: &str) -> Result<Option<String>, StoreError> {
                let t = self.tx.open_table(USER_BY_NAME)?;
                let v = t.get(fold(name).as_str())?;
                Ok(v.map(|g| g.value().to_owned()))
            }

            /// The id of the user with this integer number.
            fn user_id_by_num(&self, num: u64) -> Result<Option<String>, StoreError> {
                let t = self.tx.open_table(USER_BY_NUM)?;
                let v = t.get(num)?;
                Ok(v.map(|g| g.value().to_owned()))
            }

            /// Users in the order they were made (by number), after number `after`, at
            /// most `limit`.
            fn users(
                &self,
                after: Option<u64>,
                limit: usize,
            ) -> Result<Vec<UserRecord>, StoreError> {
                let by_num = self.tx.open_table(USER_BY_NUM)?;
                let users = self.tx.open_table(USERS)?;
                let mut out = Vec::new();
                let range = match after {
                    Some(a) => {
                        by_num.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
                    }
                    None => by_num.range::<u64>(..)?,
                };
                for item in range.take(limit) {
                    let (_, id) = item?;
                    if let Some(v) = users.get(id.value())? {
                        out.push(decode(v.value())?);
                    }
                }
                Ok(out)
            }

            /// Number of users.
            fn user_count(&self) -> Result<u64, StoreError> {
                Ok(self.tx.open_table(USERS)?.len()?)
            }

            /// Number of refresh families (live or not yet swept).
            fn family_count(&self) -> Result<u64, StoreError> {
                Ok(self.tx.open_table(FAMILIES)?.len()?)
            }

            /// The family with this id.
            fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
                let t = self.tx.open_table(FAMILIES)?;
                let v = t.get(id)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// Ids of every family of a user (live or not yet swept).
            fn family_ids_of_user(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
                let t = self.tx.open_multimap_table(USER_FAMILIES)?;
                let mut out = Vec::new();
                for v in t.get(user_id)? {
                    out.push(v?.value().to_owned());
                }
                Ok(out)
            }

            /// What is known of the refresh token with this SHA-256 hash.
            fn refresh(&self, hash: &[u8]) -> Result<Option<RefreshEntry>, StoreError> {
                let t = self.tx.open_table(REFRESH)?;
                let v = t.get(hash)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// Every signing key, oldest first.
            fn keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let t = self.tx.open_table(KEYS)?;
                let mut out: Vec<SigningKeyRecord> = Vec::new();
                for item in t.iter()? {
                    let (_, v) = item?;
                    out.push(decode(v.value())?);
                }
                out.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
                Ok(out)
            }

            /// The session code with this keyed hash.
            fn session_code(&self, hash: &[u8]) -> Result<Option<SessionCodeRecord>, StoreError> {
                let t = self.tx.open_table(SESSION_CODES)?;
                let v = t.get(hash)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// Which unique index `user`'s email or username would collide with, if any.
            fn conflict(&self, user: &UserRecord) -> Result<Option<Unique>, StoreError> {
                if let Some(email) = &user.email {
                    if self
                        .tx
                        .open_table(USER_BY_EMAIL)?
                        .get(fold(email).as_str())?
                        .is_some()
                    {
                        return Ok(Some(Unique::Email));
                    }
                }
                if let Some(name) = &user.username {
                    let taken = self
                        .tx
                        .open_table(USER_BY_NAME)?
                        .get(fold(name).as_str())?
                        .is_some()
                        || self
                            .tx
                            .open_table(USER_BY_SKELETON)?
                            .get(skeleton(name).as_str())?
                            .is_some();
                    if taken {
                        return Ok(Some(Unique::Username));
                    }
                }
                Ok(None)
            }

            /// What the server key that sealed this store's data says of itself, if any
            /// key ever did.
            fn server_key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
                let t = self.tx.open_table(META_BYTES)?;
                let v = t.get("server_key_check")?;
                Ok(v.map(|g| g.value().to_vec()))
            }

            /// Whether anything in the store was sealed or keyed with a server key: TOTP
            /// secrets, recovery codes, codes, proofs (for stores older than the check).
            fn holds_sealed_data(&self) -> Result<bool, StoreError> {
                if self.tx.open_table(SESSION_CODES)?.len()? > 0
                    || self.tx.open_table(PROOFS)?.len()? > 0
                {
                    return Ok(true);
                }
                let t = self.tx.open_table(USERS)?;
                for item in t.iter()? {
                    let u: UserRecord = decode(item?.1.value())?;
                    if u.mfa.is_some() {
                        return Ok(true);
                    }
                }
                Ok(false)
            }

            /// Some user's sealed TOTP secret, with the user's id (to try a server key on).
            fn any_sealed_totp(&self) -> Result<Option<(String, String)>, StoreError> {
                let t = self.tx.open_table(USERS)?;
                for item in t.iter()? {
                    let u: UserRecord = decode(item?.1.value())?;
                    if let Some(m) = u.mfa {
                        return Ok(Some((u.id, m.sealed_secret)));
                    }
                }
                Ok(None)
            }

            /// Every user with a second factor (sealed TOTP secret), in id order.
            fn users_with_mfa(&self) -> Result<Vec<UserRecord>, StoreError> {
                let t = self.tx.open_table(USERS)?;
                let mut out = Vec::new();
                for item in t.iter()? {
                    let u: UserRecord = decode(item?.1.value())?;
                    if u.mfa.is_some() {
                        out.push(u);
                    }
                }
                Ok(out)
            }

            /// The MFA pending credential with this hash.
            fn mfa_pending(&self, hash: &[u8]) -> Result<Option<MfaPendingRecord>, StoreError> {
                let t = self.tx.open_table(MFA_PENDING)?;
                let v = t.get(hash)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// The OpenID Connect grant with this hash. (A schema-3 store made before
            /// grants existed has no table for them until a server opens it to write.)
            fn grant(&self, hash: &[u8]) -> Result<Option<GrantRecord>, StoreError> {
                let Some(t) = optional(self.tx.open_table(GRANTS))? else {
                    return Ok(None);
                };
                let v = t.get(hash)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// The passkey with this credential id. (Tables made after schema 3 first
            /// appear when a server opens the store to write: a command reading an older
            /// file finds none.)
            fn passkey(&self, id: &[u8]) -> Result<Option<PasskeyRecord>, StoreError> {
                let Some(t) = optional(self.tx.open_table(PASSKEYS))? else {
                    return Ok(None);
                };
                let v = t.get(id)?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// Every passkey of a user, oldest first.
            fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
                let Some(t) = optional(self.tx.open_multimap_table(USER_PASSKEYS))? else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for id in t.get(user_id)? {
                    if let Some(p) = self.passkey(id?.value())? {
                        out.push(p);
                    }
                }
                out.sort_by(|a: &PasskeyRecord, b| {
                    (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
                });
                Ok(out)
            }

            /// The live proof of `purpose` for `subject`, if any.
            fn proof(
                &self,
                purpose: ProofPurpose,
                subject: &str,
            ) -> Result<Option<ProofRecord>, StoreError> {
                let t = self.tx.open_table(PROOFS)?;
                let v = t.get(proof_key(purpose, subject).as_str())?;
                v.map(|g| decode(g.value())).transpose()
            }

            /// Number of session codes in the store (live or not yet swept).
            fn session_code_count(&self) -> Result<u64, StoreError> {
                Ok(self.tx.open_table(SESSION_CODES)?.len()?)
            }

            /// The store's schema version.
            fn schema_version(&self) -> Result<u64, StoreError> {
                let t = self.tx.open_table(META)?;
                let v = t.get("schema_version")?;
                Ok(v.map(|g| g.value()).unwrap_or(0))
            }

            fn export(
                &self,
                f: &mut dyn FnMut(Item) -> Result<(), StoreError>,
            ) -> Result<(), StoreError> {
                let meta = self.tx.open_table(META)?;
                let next = meta.get("next_user_num")?.map(|g| g.value()).unwrap_or(1);
                f(Item::NextUserNum(next))?;
                if let Some(check) = self.server_key_check()? {
                    f(Item::ServerKeyCheck(check))?;
                }
                let users = self.tx.open_table(USERS)?;
                for item in self.tx.open_table(USER_BY_NUM)?.iter()? {
                    let (_, id) = item?;
                    if let Some(v) = users.get(id.value())? {
                        f(Item::User(decode(v.value())?))?;
                    }
                }
                for item in self.tx.open_table(KEYS)?.iter()? {
                    f(Item::Key(decode(item?.1.value())?))?;
                }
                for item in self.tx.open_table(FAMILIES)?.iter()? {
                    f(Item::Family(decode(item?.1.value())?))?;
                }
                for item in self.tx.open_table(REFRESH)?.iter()? {
                    let (k, v) = item?;
                    f(Item::Refresh(k.value().to_vec(), decode(v.value())?))?;
                }
                for item in self.tx.open_table(SESSION_CODES)?.iter()? {
                    let (k, v) = item?;
                    f(Item::SessionCode(k.value().to_vec(), decode(v.value())?))?;
                }
                for item in self.tx.open_table(MFA_PENDING)?.iter()? {
                    let (k, v) = item?;
                    f(Item::MfaPending(k.value().to_vec(), decode(v.value())?))?;
                }
                if let Some(t) = optional(self.tx.open_table(GRANTS))? {
                    for item in t.iter()? {
                        let (k, v) = item?;
                        f(Item::Grant(k.value().to_vec(), decode(v.value())?))?;
                    }
                }
                for item in self.tx.open_table(PROOFS)?.iter()? {
                    let (k, v) = item?;
                    if let Some((purpose, subject)) = parse_proof_key(k.value()) {
                        f(Item::Proof(purpose, subject, decode(v.value())?))?;
                    }
                }
                if let Some(t) = optional(self.tx.open_table(PASSKEYS))? {
                    for item in t.iter()? {
                        f(Item::Passkey(decode(item?.1.value())?))?;
                    }
                }
                self.export_raw(&mut |raw| f(Item::Raw(raw)))
            }
        }

        impl Rows for $t {
            fn row(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                let Some(t) = optional(self.tx.open_table(ROWS))? else {
                    return Ok(None);
                };
                let v = t.get((table, key))?;
                Ok(v.map(|g| g.value().to_vec()))
            }

            fn rows_after(
                &self,
                table: &str,
                after: Option<&[u8]>,
                limit: usize,
            ) -> Result<Vec<KeyValue>, StoreError> {
                use std::ops::Bound;
                let Some(t) = optional(self.tx.open_table(ROWS))? else {
                    return Ok(Vec::new());
                };
                let empty: &[u8] = &[];
                let start = match after {
                    Some(a) => Bound::Excluded((table, a)),
                    None => Bound::Included((table, empty)),
                };
                let mut out = Vec::new();
                for item in t.range::<(&str, &[u8])>((start, Bound::Unbounded))? {
                    let (k, v) = item?;
                    let (tbl, key) = k.value();
                    if tbl != table || out.len() >= limit {
                        break;
                    }
                    out.push((key.to_vec(), v.value().to_vec()));
                }
                Ok(out)
            }

            fn indexed(&self, index: &str, entry: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
                let Some(t) = optional(self.tx.open_multimap_table(ROW_INDEX))? else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for v in t.get((index, entry))? {
                    out.push(v?.value().to_vec());
                }
                Ok(out)
            }

            fn unique(&self, index: &str, entry: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                let Some(t) = optional(self.tx.open_table(ROW_UNIQUE))? else {
                    return Ok(None);
                };
                let v = t.get((index, entry))?;
                Ok(v.map(|g| g.value().to_vec()))
            }

            fn due(
                &self,
                table: &str,
                now: UnixMillis,
                limit: usize,
            ) -> Result<Vec<(UnixMillis, Vec<u8>)>, StoreError> {
                let now = now.millis();
                let Some(t) = optional(self.tx.open_table(ROW_DUE))? else {
                    return Ok(Vec::new());
                };
                let empty: &[u8] = &[];
                let mut out = Vec::new();
                let end = now.saturating_add(1);
                for item in t.range((table, i64::MIN, empty)..(table, end, empty))? {
                    if out.len() >= limit {
                        break;
                    }
                    let k = item?.0;
                    let (_, at, key) = k.value();
                    out.push((UnixMillis::from_millis(at), key.to_vec()));
                }
                Ok(out)
            }

            fn counter(&self, name: &str) -> Result<u64, StoreError> {
                let Some(t) = optional(self.tx.open_table(COUNTERS))? else {
                    return Ok(0);
                };
                let v = t.get(name)?;
                Ok(v.map(|g| g.value()).unwrap_or(0))
            }

            fn export_raw(
                &self,
                f: &mut dyn FnMut(Raw) -> Result<(), StoreError>,
            ) -> Result<(), StoreError> {
                if let Some(t) = optional(self.tx.open_table(ROWS))? {
                    for item in t.iter()? {
                        let (k, v) = item?;
                        let (table, key) = k.value();
                        f(Raw::Row {
                            table: table.to_owned(),
                            key: key.to_vec(),
                            value: v.value().to_vec(),
                        })?;
                    }
                }
                if let Some(t) = optional(self.tx.open_multimap_table(ROW_INDEX))? {
                    for item in t.iter()? {
                        let (k, keys) = item?;
                        let (index, entry) = k.value();
                        for key in keys {
                            f(Raw::Index {
                                index: index.to_owned(),
                                entry: entry.to_vec(),
                                key: key?.value().to_vec(),
                            })?;
                        }
                    }
                }
                if let Some(t) = optional(self.tx.open_table(ROW_UNIQUE))? {
                    for item in t.iter()? {
                        let (k, v) = item?;
                        let (index, entry) = k.value();
                        f(Raw::Unique {
                            index: index.to_owned(),
                            entry: entry.to_vec(),
                            key: v.value().to_vec(),
                        })?;
                    }
                }
                if let Some(t) = optional(self.tx.open_table(ROW_DUE))? {
                    for item in t.iter()? {
                        let k = item?.0;
                        let (table, at, key) = k.value();
                        f(Raw::Due {
                            table: table.to_owned(),
                            at: UnixMillis::from_millis(at),
                            key: key.to_vec(),
                        })?;
                    }
                }
                if let Some(t) = optional(self.tx.open_table(COUNTERS))? {
                    for item in t.iter()? {
                        let (k, v) = item?;
                        f(Raw::Counter {
                            name: k.value().to_owned(),
                            value: v.value(),
                        })?;
                    }
                }
                Ok(())
            }
        }
    };
}

impl RowsMut for Writer {
    fn put_row(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tx.open_table(ROWS)?.insert((table, key), value)?;
        Ok(())
    }

    fn delete_row(&mut self, table: &str, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tx.open_table(ROWS)?.remove((table, key))?.is_some())
    }

    fn index_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        self.tx
            .open_multimap_table(ROW_INDEX)?
            .insert((index, entry), key)?;
        Ok(())
    }

    fn index_remove(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        self.tx
            .open_multimap_table(ROW_INDEX)?
            .remove((index, entry), key)?;
        Ok(())
    }

    fn unique_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        let mut t = self.tx.open_table(ROW_UNIQUE)?;
        if let Some(held) = t.get((index, entry))? {
            if held.value() != key {
                return Err(StoreError::Taken(index.to_owned()));
            }
        }
        t.insert((index, entry), key)?;
        Ok(())
    }

    fn unique_remove(&mut self, index: &str, entry: &[u8]) -> Result<(), StoreError> {
        self.tx.open_table(ROW_UNIQUE)?.remove((index, entry))?;
        Ok(())
    }

    fn due_add(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError> {
        let at = at.millis();
        self.tx.open_table(ROW_DUE)?.insert((table, at, key), ())?;
        Ok(())
    }

    fn due_remove(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError> {
        let at = at.millis();
        self.tx.open_table(ROW_DUE)?.remove((table, at, key))?;
        Ok(())
    }

    fn counter_add(&mut self, name: &str, by: u64) -> Result<u64, StoreError> {
        let mut t = self.tx.open_table(COUNTERS)?;
        let now = t
            .get(name)?
            .map(|g| g.value())
            .unwrap_or(0)
            .saturating_add(by);
        t.insert(name, now)?;
        Ok(now)
    }

    fn counter_set(&mut self, name: &str, value: u64) -> Result<(), StoreError> {
        self.tx.open_table(COUNTERS)?.insert(name, value)?;
        Ok(())
    }
}

read_methods!(Reader);
read_methods!(Writer);

impl Write for Writer {
    /// Hands out the next integer user number (never reused, even after deletion).
    fn allocate_user_num(&mut self) -> Result<u64, StoreError> {
        let mut t = self.tx.open_table(META)?;
        let next = t.get("next_user_num")?.map(|g| g.value()).unwrap_or(1);
        t.insert("next_user_num", next + 1)?;
        Ok(next)
    }

    /// Hands out `n` consecutive user numbers; returns the first.
    fn allocate_user_nums(&mut self, n: u64) -> Result<u64, StoreError> {
        let mut t = self.tx.open_table(META)?;
        let next = t.get("next_user_num")?.map(|g| g.value()).unwrap_or(1);
        t.insert("next_user_num", next + n)?;
        Ok(next)
    }

    /// Inserts many new users at once (bulk import), opening each table once. On a taken
    /// email or username, returns the index of the user at fault and the conflict; the
    /// caller's transaction is then aborted.
    fn insert_users(&mut self, users: &[UserRecord]) -> Result<(), (usize, StoreError)> {
        let at = |i: usize| move |e: redb::StorageError| (i, StoreError::from(e));
        let open = |e: redb::TableError| (0, StoreError::from(e));
        let id_of = |i: usize| users.get(i).map_or("", |u| u.id.as_str());
        // Each table takes its keys in the filling order: its leaves end up nine-tenths
        // full instead of half.
        let unique: [(_, KeyOf, _); 3] = [
            (
                USER_BY_EMAIL,
                |u| u.email.as_deref().map(fold),
                Unique::Email,
            ),
            (
                USER_BY_NAME,
                |u| u.username.as_deref().map(fold),
                Unique::Username,
            ),
            (
                USER_BY_SKELETON,
                |u| u.username.as_deref().map(skeleton),
                Unique::Username,
            ),
        ];
        for (table, key, conflict) in unique {
            let mut keys: Vec<(String, usize)> = users
                .iter()
                .enumerate()
                .filter_map(|(i, u)| key(u).map(|k| (k, i)))
                .collect();
            keys.sort_unstable();
            let mut t = self.tx.open_table(table).map_err(open)?;
            for (key, i) in in_filling_order(&keys) {
                if t.insert(key.as_str(), id_of(*i)).map_err(at(*i))?.is_some() {
                    return Err((*i, StoreError::Conflict(conflict)));
                }
            }
        }
        let mut nums: Vec<(u64, usize)> =
            users.iter().enumerate().map(|(i, u)| (u.num, i)).collect();
        nums.sort_unstable();
        let mut by_num = self.tx.open_table(USER_BY_NUM).map_err(open)?;
        for (num, i) in in_filling_order(&nums) {
            by_num.insert(*num, id_of(*i)).map_err(at(*i))?;
        }
        drop(by_num);
        let mut ids: Vec<(&str, usize)> = (0..users.len()).map(|i| (id_of(i), i)).collect();
        ids.sort_unstable();
        let mut all = self.tx.open_table(USERS).map_err(open)?;
        for (id, i) in in_filling_order(&ids) {
            let Some(user) = users.get(*i) else { continue };
            let bytes = encode(user).map_err(|e| (*i, e))?;
            all.insert(*id, bytes.as_slice()).map_err(at(*i))?;
        }
        Ok(())
    }

    /// Inserts a new user. Fails with [`StoreError::Conflict`] when its email or username
    /// is taken (case-insensitively), having written nothing.
    fn insert_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        if let Some(taken) = self.conflict(user)? {
            return Err(StoreError::Conflict(taken));
        }
        if let Some(email) = &user.email {
            self.tx
                .open_table(USER_BY_EMAIL)?
                .insert(fold(email).as_str(), user.id.as_str())?;
        }
        if let Some(name) = &user.username {
            self.tx
                .open_table(USER_BY_NAME)?
                .insert(fold(name).as_str(), user.id.as_str())?;
            self.tx
                .open_table(USER_BY_SKELETON)?
                .insert(skeleton(name).as_str(), user.id.as_str())?;
        }
        self.tx
            .open_table(USER_BY_NUM)?
            .insert(user.num, user.id.as_str())?;
        let bytes = encode(user)?;
        self.tx
            .open_table(USERS)?
            .insert(user.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Replaces an existing user record. Email and username must not change here.
    fn update_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let bytes = encode(user)?;
        self.tx
            .open_table(USERS)?
            .insert(user.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    fn change_email(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let old = self.user(&user.id)?.and_then(|u| u.email);
        let mut by_email = self.tx.open_table(USER_BY_EMAIL)?;
        if let Some(new) = &user.email {
            let owner = by_email
                .get(fold(new).as_str())?
                .map(|g| g.value() == user.id);
            if owner == Some(false) {
                return Err(StoreError::Conflict(Unique::Email));
            }
        }
        if let Some(old) = &old {
            by_email.remove(fold(old).as_str())?;
        }
        if let Some(new) = &user.email {
            by_email.insert(fold(new).as_str(), user.id.as_str())?;
        }
        drop(by_email);
        self.update_user(user)
    }

    /// Removes a user and frees its email, username and number index entries (the number
    /// itself is never handed out again). Returns whether the user existed.
    fn delete_user(&mut self, id: &str) -> Result<bool, StoreError> {
        let Some(user) = self.user(id)? else {
            return Ok(false);
        };
        if let Some(email) = &user.email {
            self.tx
                .open_table(USER_BY_EMAIL)?
                .remove(fold(email).as_str())?;
        }
        if let Some(name) = &user.username {
            self.tx
                .open_table(USER_BY_NAME)?
                .remove(fold(name).as_str())?;
            let sk = skeleton(name);
            let mut by_skeleton = self.tx.open_table(USER_BY_SKELETON)?;
            let mine = by_skeleton
                .get(sk.as_str())?
                .is_some_and(|g| g.value() == id);
            if mine {
                by_skeleton.remove(sk.as_str())?;
            }
        }
        for p in self.passkeys_of(id)? {
            self.delete_passkey(&p.id)?;
        }
        crate::records::drop_user_rows(self, id)?;
        self.tx.open_table(USER_BY_NUM)?.remove(user.num)?;
        self.tx.open_table(USERS)?.remove(id)?;
        Ok(true)
    }

    /// Removes every pending code and credential (session codes, proofs, MFA pending
    /// credentials): what a new server key could not check. Returns how many.
    fn drop_pending_codes(&mut self) -> Result<u64, StoreError> {
        let mut n = 0;
        n += self.tx.open_table(SESSION_CODES)?.len()?;
        n += self.tx.open_table(PROOFS)?.len()?;
        n += self.tx.open_table(MFA_PENDING)?.len()?;
        self.tx.delete_table(SESSION_CODES)?;
        self.tx.delete_table(PROOFS)?;
        self.tx.delete_table(MFA_PENDING)?;
        for kind in [DUE_SESSION_CODE, DUE_MFA_PENDING, DUE_PROOF] {
            for (at, key) in self.due_of(kind, i64::MAX, usize::MAX)? {
                self.not_due(kind, at, &key)?;
            }
        }
        self.tx.delete_multimap_table(EMAIL_CODES)?;
        // Every table exists for readers.
        self.tx.open_table(SESSION_CODES)?;
        self.tx.open_table(PROOFS)?;
        self.tx.open_table(MFA_PENDING)?;
        self.tx.open_multimap_table(EMAIL_CODES)?;
        Ok(n)
    }

    /// Records what the server key says of itself (see `server_key_check`).
    fn set_server_key_check(&mut self, check: &[u8]) -> Result<(), StoreError> {
        self.tx
            .open_table(META_BYTES)?
            .insert("server_key_check", check)?;
        Ok(())
    }

    /// Inserts or replaces an MFA pending credential.
    fn put_mfa_pending(&mut self, hash: &[u8], rec: &MfaPendingRecord) -> Result<(), StoreError> {
        if let Some(old) = self.mfa_pending(hash)? {
            self.not_due(DUE_MFA_PENDING, old.expires_at.millis(), hash)?;
        }
        let bytes = encode(rec)?;
        self.tx
            .open_table(MFA_PENDING)?
            .insert(hash, bytes.as_slice())?;
        self.due_at(DUE_MFA_PENDING, rec.expires_at.millis(), hash)
    }

    /// Removes an MFA pending credential.
    fn delete_mfa_pending(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        if let Some(old) = self.mfa_pending(hash)? {
            self.not_due(DUE_MFA_PENDING, old.expires_at.millis(), hash)?;
        }
        self.tx.open_table(MFA_PENDING)?.remove(hash)?;
        Ok(())
    }

    /// Inserts or replaces an OpenID Connect grant.
    fn put_grant(&mut self, hash: &[u8], rec: &GrantRecord) -> Result<(), StoreError> {
        let old = self.grant(hash)?.map(|g| g.expires_at);
        let bytes = encode(rec)?;
        self.tx.open_table(GRANTS)?.insert(hash, bytes.as_slice())?;
        // A code marked redeemed keeps its expiry: its index entry stands.
        match old {
            Some(at) if at == rec.expires_at => Ok(()),
            Some(at) => {
                self.not_due(DUE_GRANT, at.millis(), hash)?;
                self.due_at(DUE_GRANT, rec.expires_at.millis(), hash)
            }
            None => self.due_at(DUE_GRANT, rec.expires_at.millis(), hash),
        }
    }

    /// Removes an OpenID Connect grant.
    fn delete_grant(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        if let Some(old) = self.grant(hash)? {
            self.not_due(DUE_GRANT, old.expires_at.millis(), hash)?;
        }
        self.tx.open_table(GRANTS)?.remove(hash)?;
        Ok(())
    }

    /// Inserts or replaces the proof of `purpose` for `subject`.
    fn put_proof(
        &mut self,
        purpose: ProofPurpose,
        subject: &str,
        rec: &ProofRecord,
    ) -> Result<(), StoreError> {
        let key = proof_key(purpose, subject);
        if let Some(old) = self.proof(purpose, subject)? {
            self.not_due(DUE_PROOF, old.expires_at.millis(), key.as_bytes())?;
        }
        let bytes = encode(rec)?;
        self.tx
            .open_table(PROOFS)?
            .insert(key.as_str(), bytes.as_slice())?;
        self.due_at(DUE_PROOF, rec.expires_at.millis(), key.as_bytes())
    }

    /// Removes the proof of `purpose` for `subject`.
    fn delete_proof(&mut self, purpose: ProofPurpose, subject: &str) -> Result<(), StoreError> {
        let key = proof_key(purpose, subject);
        if let Some(old) = self.proof(purpose, subject)? {
            self.not_due(DUE_PROOF, old.expires_at.millis(), key.as_bytes())?;
        }
        self.tx.open_table(PROOFS)?.remove(key.as_str())?;
        Ok(())
    }

    /// Inserts a new passkey (a taken credential id is a conflict).
    fn insert_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError> {
        if self.passkey(&rec.id)?.is_some() {
            return Err(StoreError::CredentialTaken);
        }
        let bytes = encode(rec)?;
        self.tx
            .open_table(PASSKEYS)?
            .insert(rec.id.as_slice(), bytes.as_slice())?;
        self.tx
            .open_multimap_table(USER_PASSKEYS)?
            .insert(rec.user_id.as_str(), rec.id.as_slice())?;
        Ok(())
    }

    /// Replaces an existing passkey.
    fn update_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError> {
        let bytes = encode(rec)?;
        self.tx
            .open_table(PASSKEYS)?
            .insert(rec.id.as_slice(), bytes.as_slice())?;
        Ok(())
    }

    /// Removes a passkey.
    fn delete_passkey(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let Some(old) = self.passkey(id)? else {
            return Ok(false);
        };
        self.tx
            .open_multimap_table(USER_PASSKEYS)?
            .remove(old.user_id.as_str(), id)?;
        self.tx.open_table(PASSKEYS)?.remove(id)?;
        Ok(true)
    }

    /// Removes MFA pending credentials, proofs, grants and the table layer's records
    /// that expired before `now`, at most `limit` of each kind; returns how many went.
    fn sweep_challenges(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let pending = self.due_of(DUE_MFA_PENDING, now.saturating_add(1), limit)?;
        let proofs = self.due_of(DUE_PROOF, now.saturating_add(1), limit)?;
        let grants = self.due_of(DUE_GRANT, now.saturating_add(1), limit)?;
        let kinds = crate::rows::sweep_kinds(
            self,
            crate::records::KINDS,
            UnixMillis::from_millis(now),
            limit,
        )?;
        let n = pending.len() + proofs.len() + grants.len() + kinds;
        for (at, hash) in grants {
            self.tx.open_table(GRANTS)?.remove(hash.as_slice())?;
            self.not_due(DUE_GRANT, at, &hash)?;
        }
        for (at, hash) in pending {
            self.tx.open_table(MFA_PENDING)?.remove(hash.as_slice())?;
            self.not_due(DUE_MFA_PENDING, at, &hash)?;
        }
        for (at, key) in proofs {
            if let Ok(k) = std::str::from_utf8(&key) {
                self.tx.open_table(PROOFS)?.remove(k)?;
            }
            self.not_due(DUE_PROOF, at, &key)?;
        }
        Ok(n)
    }

    /// Inserts or replaces a family.
    fn put_family(&mut self, family: &FamilyRecord) -> Result<(), StoreError> {
        match self.family(&family.id)? {
            Some(old) if old.expires_at == family.expires_at => {}
            Some(old) => {
                self.not_due(DUE_FAMILY, old.expires_at.millis(), old.id.as_bytes())?;
                self.due_at(DUE_FAMILY, family.expires_at.millis(), family.id.as_bytes())?;
            }
            None => self.due_at(DUE_FAMILY, family.expires_at.millis(), family.id.as_bytes())?,
        }
        let bytes = encode(family)?;
        self.tx
            .open_table(FAMILIES)?
            .insert(family.id.as_str(), bytes.as_slice())?;
        self.tx
            .open_multimap_table(USER_FAMILIES)?
            .insert(family.user_id.as_str(), family.id.as_str())?;
        Ok(())
    }

    /// Inserts or replaces what is known of the refresh token with this hash.
    fn put_refresh(&mut self, hash: &[u8], entry: &RefreshEntry) -> Result<(), StoreError> {
        let was = self.refresh(hash)?.and_then(|e| e.spent_at);
        if was != entry.spent_at {
            if let Some(at) = was {
                self.not_due(DUE_SPENT, at.millis(), hash)?;
            }
            if let Some(at) = entry.spent_at {
                self.due_at(DUE_SPENT, at.millis(), hash)?;
            }
        }
        let bytes = encode(entry)?;
        self.tx
            .open_table(REFRESH)?
            .insert(hash, bytes.as_slice())?;
        self.tx
            .open_multimap_table(FAMILY_TOKENS)?
            .insert(entry.family_id.as_str(), hash)?;
        Ok(())
    }

    /// Removes every family whose tokens all expired before `now` (revoked or not), with
    /// their token hashes. Returns how many families went.
    fn sweep_families(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let dead = self.due_of(DUE_FAMILY, now, limit)?;
        for (at, id) in &dead {
            let id = std::str::from_utf8(id).unwrap_or_default();
            match self.family(id)? {
                Some(f) => self.remove_family(&f)?,
                // An entry without its family (never written so): drop it.
                None => self.not_due(DUE_FAMILY, *at, id.as_bytes())?,
            }
        }
        Ok(dead.len())
    }

    /// Removes entries of refresh tokens spent before `before`, at most `limit`.
    fn sweep_spent_refresh(
        &mut self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let before = before.millis();
        let spent = self.due_of(DUE_SPENT, before, limit)?;
        for (at, hash) in &spent {
            if let Some(e) = self.refresh(hash)? {
                self.tx
                    .open_multimap_table(FAMILY_TOKENS)?
                    .remove(e.family_id.as_str(), hash.as_slice())?;
            }
            self.tx.open_table(REFRESH)?.remove(hash.as_slice())?;
            self.not_due(DUE_SPENT, *at, hash)?;
        }
        Ok(spent.len())
    }

    /// Inserts or replaces a session code.
    fn put_session_code(
        &mut self,
        hash: &[u8],
        code: &SessionCodeRecord,
    ) -> Result<(), StoreError> {
        if let Some(old) = self.session_code(hash)? {
            self.not_due(DUE_SESSION_CODE, old.expires_at.millis(), hash)?;
        }
        let bytes = encode(code)?;
        self.tx
            .open_table(SESSION_CODES)?
            .insert(hash, bytes.as_slice())?;
        self.due_at(DUE_SESSION_CODE, code.expires_at.millis(), hash)?;
        self.tx
            .open_multimap_table(EMAIL_CODES)?
            .insert(fold(&code.email).as_str(), hash)?;
        Ok(())
    }

    /// Removes a session code. Returns whether it existed.
    fn delete_session_code(&mut self, hash: &[u8]) -> Result<bool, StoreError> {
        let Some(code) = self.session_code(hash)? else {
            return Ok(false);
        };
        self.tx.open_table(SESSION_CODES)?.remove(hash)?;
        self.tx
            .open_multimap_table(EMAIL_CODES)?
            .remove(fold(&code.email).as_str(), hash)?;
        self.not_due(DUE_SESSION_CODE, code.expires_at.millis(), hash)?;
        Ok(true)
    }

    /// Removes every session code mailed to `email`; returns how many.
    fn delete_session_codes_of(&mut self, email: &str) -> Result<usize, StoreError> {
        let hashes: Vec<Vec<u8>> = {
            let t = self.tx.open_multimap_table(EMAIL_CODES)?;
            let mut out = Vec::new();
            for v in t.get(fold(email).as_str())? {
                out.push(v?.value().to_vec());
            }
            out
        };
        for h in &hashes {
            self.delete_session_code(h)?;
        }
        Ok(hashes.len())
    }

    /// Removes session codes that expired before `now`, at most `limit`.
    fn sweep_session_codes(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let dead = self.due_of(DUE_SESSION_CODE, now.saturating_add(1), limit)?;
        for (at, h) in &dead {
            if !self.delete_session_code(h)? {
                self.not_due(DUE_SESSION_CODE, *at, h)?;
            }
        }
        Ok(dead.len())
    }

    /// Inserts or replaces a signing key.
    fn put_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let bytes = encode(key)?;
        self.tx
            .open_table(KEYS)?
            .insert(key.kid.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Removes a signing key.
    fn delete_key(&mut self, kid: &str) -> Result<(), StoreError> {
        self.tx.open_table(KEYS)?.remove(kid)?;
        Ok(())
    }
}

/// A table that may not exist yet (a read of a store no server opened to write since
/// the table was added): `None` then.
fn optional<T>(t: Result<T, redb::TableError>) -> Result<Option<T>, StoreError> {
    match t {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Writer {
    /// Records that `key` of `kind` goes at `at`.
    fn due_at(&mut self, kind: u8, at: i64, key: &[u8]) -> Result<(), StoreError> {
        self.tx.open_table(EXPIRIES)?.insert((kind, at, key), ())?;
        Ok(())
    }

    /// Forgets that `key` of `kind` goes at `at`.
    fn not_due(&mut self, kind: u8, at: i64, key: &[u8]) -> Result<(), StoreError> {
        self.tx.open_table(EXPIRIES)?.remove((kind, at, key))?;
        Ok(())
    }

    /// What of `kind` goes before `before`, oldest first, at most `limit`: (time, key).
    fn due_of(
        &self,
        kind: u8,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let t = self.tx.open_table(EXPIRIES)?;
        let empty: &[u8] = &[];
        let mut out = Vec::new();
        for item in t.range((kind, i64::MIN, empty)..(kind, before, empty))? {
            if out.len() >= limit {
                break;
            }
            let (k, ()) = (item?.0, ());
            let (_, at, key) = k.value();
            out.push((at, key.to_vec()));
        }
        Ok(out)
    }

    /// Removes a family, its token entries and what said when they go.
    fn remove_family(&mut self, family: &FamilyRecord) -> Result<(), StoreError> {
        let family_id = family.id.as_str();
        let hashes: Vec<Vec<u8>> = {
            let t = self.tx.open_multimap_table(FAMILY_TOKENS)?;
            let mut out = Vec::new();
            for v in t.get(family_id)? {
                out.push(v?.value().to_vec());
            }
            out
        };
        for h in &hashes {
            if let Some(at) = self.refresh(h)?.and_then(|e| e.spent_at) {
                self.not_due(DUE_SPENT, at.millis(), h)?;
            }
            self.tx.open_table(REFRESH)?.remove(h.as_slice())?;
        }
        self.tx
            .open_multimap_table(FAMILY_TOKENS)?
            .remove_all(family_id)?;
        self.tx
            .open_multimap_table(USER_FAMILIES)?
            .remove(family.user_id.as_str(), family_id)?;
        self.tx.open_table(FAMILIES)?.remove(family_id)?;
        self.not_due(DUE_FAMILY, family.expires_at.millis(), family_id.as_bytes())
    }
}

/// The order in which to insert `n` keys, given in key order, so that redb's B-tree
/// leaves end up mostly full. redb splits a full leaf in half, so keys appended in order
/// leave every leaf behind them half full (and random ones about two-thirds). Three keys
/// in five go first, in order, leaving half-full leaves that each span five-sixths of a
/// leaf's worth of keys; the other two in five then fill those leaves without splitting
/// them (measured: 0.85–0.93 of each leaf instead of 0.5).
fn filling_order(n: usize) -> impl Iterator<Item = usize> {
    (0..n)
        .filter(|i| i % 5 < 3)
        .chain((0..n).filter(|i| i % 5 >= 3))
}

/// The key of a user in one of its unique indexes, if it has one there.
type KeyOf = fn(&UserRecord) -> Option<String>;

/// `sorted`'s items in the filling order.
fn in_filling_order<T>(sorted: &[T]) -> impl Iterator<Item = &T> {
    filling_order(sorted.len()).filter_map(|k| sorted.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, num: u64, email: &str, name: &str) -> UserRecord {
        UserRecord {
            num,
            email: Some(email.into()),
            username: Some(name.into()),
            ..UserRecord::new(id.into(), UnixMillis::from_millis(1))
        }
    }

    #[test]
    fn filling_order_takes_every_key_once() {
        for n in [0, 1, 4, 5, 6, 999] {
            let mut seen: Vec<usize> = filling_order(n).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }

    /// The version moves with every commit, through any clone, and not with a write
    /// that returned an error (nothing of it remains) nor with a read.
    #[test]
    fn the_version_moves_with_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let clone = store.clone();
        let v0 = store.version();
        store
            .write(|w| w.insert_user(&user(&"a".repeat(32), 1, "a@x.test", "a")))
            .unwrap();
        assert_eq!(clone.version(), v0 + 1);
        let failed: Result<(), StoreError> = clone.write(|w| {
            w.insert_user(&user(&"b".repeat(32), 2, "b@x.test", "b"))?;
            Err(StoreError::Unsupported("changed its mind"))
        });
        assert!(failed.is_err());
        store.read(|r| r.user_count()).unwrap();
        assert_eq!(store.version(), v0 + 1);
    }

    /// A bulk import leaves the B-trees' leaves mostly full (appended in order they were
    /// half full: a million users took 1,350 B each in the file, now 540).
    #[test]
    fn a_bulk_insert_fills_the_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let users: Vec<UserRecord> = (0..20_000u64)
            .map(|i| {
                let id = format!(
                    "{:032x}",
                    u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C)
                );
                user(&id, i + 1, &format!("m{i}@example.com"), &format!("m{i}"))
            })
            .collect();
        store
            .write(|w| w.insert_users(&users).map_err(|(_, e)| e))
            .unwrap();
        let r = store.db.begin_read().unwrap();
        let fill = |st: redb::TableStats| {
            (st.stored_bytes() + st.metadata_bytes()) as f64 / (st.leaf_pages() * 4096) as f64
        };
        let tables = [
            fill(r.open_table(USERS).unwrap().stats().unwrap()),
            fill(r.open_table(USER_BY_EMAIL).unwrap().stats().unwrap()),
            fill(r.open_table(USER_BY_NAME).unwrap().stats().unwrap()),
            fill(r.open_table(USER_BY_SKELETON).unwrap().stats().unwrap()),
            fill(r.open_table(USER_BY_NUM).unwrap().stats().unwrap()),
        ];
        assert!(tables.iter().all(|f| *f > 0.8), "{tables:?}");
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        store
            .write(|w| w.insert_user(&user("a", 1, "A@x.org", "alice")))
            .unwrap();
        // Second user: its email index entry is written, then the username collides.
        let err = store
            .write(|w| w.insert_user(&user("b", 2, "b@x.org", "ALICE")))
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::Username)));
        store
            .read(|r| {
                assert!(r.user("b")?.is_none());
                assert!(r.user_id_by_email("b@x.org")?.is_none());
                assert_eq!(r.user_id_by_email("a@X.ORG")?.as_deref(), Some("a"));
                assert_eq!(r.user_count()?, 1);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn schema_version_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            assert!(matches!(RedbStore::open(&path), Err(StoreError::Locked(_))));
            store.write(|w| w.allocate_user_num().map(|_| ())).unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        let v = store.read(|r| r.schema_version()).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(store.write(|w| w.allocate_user_num()).unwrap(), 2);
    }

    #[test]
    fn session_codes_index_and_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let code = |email: &str, exp| SessionCodeRecord {
            email: email.into(),
            created_at: UnixMillis::from_millis(0),
            expires_at: exp,
            mfa_failures: 0,
        };
        store
            .write(|w| {
                w.put_session_code(b"c1", &code("A@x.io", UnixMillis::from_millis(100)))?;
                w.put_session_code(b"c2", &code("a@x.io", UnixMillis::from_millis(1000)))?;
                w.put_session_code(b"c3", &code("b@x.io", UnixMillis::from_millis(1000)))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(
            store
                .write(|w| w.sweep_session_codes(UnixMillis::from_millis(500), 10))
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .write(|w| w.delete_session_codes_of("A@X.IO"))
                .unwrap(),
            1
        );
        store
            .read(|r| {
                assert!(r.session_code(b"c2")?.is_none());
                assert!(r.session_code(b"c3")?.is_some());
                assert_eq!(r.session_code_count()?, 1);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn sweep_removes_expired_families_and_their_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let fam = |id: &str, exp| FamilyRecord {
            id: id.into(),
            user_id: "u".into(),
            amr: vec!["pwd".into()],
            created_at: UnixMillis::from_millis(0),
            rotated_at: UnixMillis::from_millis(0),
            expires_at: exp,
            current_token: String::new(),
            revoked: None,
        };
        let entry = |f: &str| RefreshEntry {
            family_id: f.into(),
            issued_at: UnixMillis::from_millis(0),
            spent_at: None,
            replays: 0,
        };
        store
            .write(|w| {
                w.put_family(&fam("old", UnixMillis::from_millis(10)))?;
                w.put_family(&fam("new", UnixMillis::from_millis(1000)))?;
                w.put_refresh(b"h-old", &entry("old"))?;
                w.put_refresh(b"h-new", &entry("new"))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(
            store
                .write(|w| w.sweep_families(UnixMillis::from_millis(500), 100))
                .unwrap(),
            1
        );
        store
            .read(|r| {
                assert!(r.family("old")?.is_none());
                assert!(r.refresh(b"h-old")?.is_none());
                assert!(r.refresh(b"h-new")?.is_some());
                assert_eq!(r.family_ids_of_user("u")?, vec!["new".to_string()]);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
