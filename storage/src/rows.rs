//! The table layer: the few primitives each backend implements once ([`Rows`],
//! [`RowsMut`]: keyed rows, multimap and unique indexes, an expiry index, paged scans,
//! atomic counters), and record kinds written once above them ([`Kind`], [`Records`],
//! [`RecordsMut`]).
//!
//! A new record kind is one record type that implements [`Kind`] (its table's name, its
//! index entries, its expiry) and one line of `records::KINDS`: both backends keep it, a
//! backup and `store copy` carry it, the sweeper removes it when it expires, and the
//! conformance suite runs the primitives on both. The hot, specialised tables (users,
//! families, refresh tokens) keep their own columns and code in each backend.

use crate::UnixMillis;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{decode, encode};
use crate::StoreError;

/// A row: its key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The primitives of one backend, inside a read (or a write, which reads what it wrote).
/// Tables and indexes are named; keys and values are bytes.
pub trait Rows {
    /// The value of `key` in `table`.
    fn row(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// At most `limit` rows of `table` in key order, after `after` (from the first when
    /// `None`).
    fn rows_after(
        &self,
        table: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError>;
    /// The keys an entry of the multimap `index` points to, in key order.
    fn indexed(&self, index: &str, entry: &[u8]) -> Result<Vec<Vec<u8>>, StoreError>;
    /// The key an entry of the unique `index` points to.
    fn unique(&self, index: &str, entry: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// At most `limit` keys of `table` due at or before `now`, soonest first.
    fn due(
        &self,
        table: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(UnixMillis, Vec<u8>)>, StoreError>;
    /// The counter `name` (0 until first counted).
    fn counter(&self, name: &str) -> Result<u64, StoreError>;
    /// Everything the layer holds, for a backup or a copy: every row, index entry, due
    /// entry and counter, as [`Raw`] items.
    fn export_raw(
        &self,
        f: &mut dyn FnMut(Raw) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// The primitives of one backend, inside a write.
pub trait RowsMut: Rows {
    /// Sets `key` of `table` to `value`.
    fn put_row(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key` of `table`; whether it was there.
    fn delete_row(&mut self, table: &str, key: &[u8]) -> Result<bool, StoreError>;
    /// Adds `key` under `entry` of the multimap `index`.
    fn index_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError>;
    /// Removes `key` from under `entry` of the multimap `index`.
    fn index_remove(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError>;
    /// Claims `entry` of the unique `index` for `key`: refused with
    /// [`StoreError::Taken`] when another key holds it (on PostgreSQL, also when another
    /// transaction claimed it meanwhile: a constraint decides).
    fn unique_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError>;
    /// Gives `entry` of the unique `index` up.
    fn unique_remove(&mut self, index: &str, entry: &[u8]) -> Result<(), StoreError>;
    /// `key` of `table` is due at `at`.
    fn due_add(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError>;
    /// `key` of `table` is no longer due at `at`.
    fn due_remove(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError>;
    /// Adds `by` to the counter `name` (atomically: two transactions never read the same
    /// value); its new value.
    fn counter_add(&mut self, name: &str, by: u64) -> Result<u64, StoreError>;
    /// Sets the counter `name` to `value` (a copy's).
    fn counter_set(&mut self, name: &str, value: u64) -> Result<(), StoreError>;

    /// Writes an item of another store's [`Rows::export_raw`] as it is.
    fn import_raw(&mut self, item: &Raw) -> Result<(), StoreError> {
        match item {
            Raw::Row { table, key, value } => self.put_row(table, key, value),
            Raw::Index { index, entry, key } => self.index_add(index, entry, key),
            Raw::Unique { index, entry, key } => self.unique_add(index, entry, key),
            Raw::Due { table, at, key } => self.due_add(table, *at, key),
            Raw::Counter { name, value } => self.counter_set(name, *value),
        }
    }
}

/// One thing the table layer holds, as a backup or a copy carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// A row.
    Row {
        /// Its table.
        table: String,
        /// Its key.
        key: Vec<u8>,
        /// Its value.
        value: Vec<u8>,
    },
    /// A multimap index entry.
    Index {
        /// The index.
        index: String,
        /// The entry.
        entry: Vec<u8>,
        /// The key it points to.
        key: Vec<u8>,
    },
    /// A unique index entry.
    Unique {
        /// The index.
        index: String,
        /// The entry.
        entry: Vec<u8>,
        /// The key it points to.
        key: Vec<u8>,
    },
    /// A due entry.
    Due {
        /// The table.
        table: String,
        /// When.
        at: UnixMillis,
        /// The key.
        key: Vec<u8>,
    },
    /// A counter.
    Counter {
        /// Its name.
        name: String,
        /// Its value.
        value: u64,
    },
}

/// A kind of record kept by the table layer, under a key its writer chooses.
pub trait Kind: Serialize + DeserializeOwned {
    /// The kind's table: one name per kind, listed in `records::KINDS`, never reused.
    const TABLE: &'static str;
    /// The record's entries in multimap indexes: `(index, entry)`.
    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        Vec::new()
    }
    /// The record's entries in unique indexes: `(index, entry)`.
    fn uniques(&self) -> Vec<(&'static str, Vec<u8>)> {
        Vec::new()
    }
    /// When the record goes (the sweeper removes it then), if ever.
    fn expires_at(&self) -> Option<UnixMillis> {
        None
    }
}

/// A kind's sweep: removes at most `limit` of its records due at `now`; how many.
pub type Sweep = fn(&mut dyn RowsMut, UnixMillis, usize) -> Result<usize, StoreError>;

/// Removes at most `limit` records of kind `K` due at or before `now`, with their index
/// entries: the [`Sweep`] of every kind (`records::KINDS` lists them).
pub fn sweep<K: Kind>(
    w: &mut dyn RowsMut,
    now: UnixMillis,
    limit: usize,
) -> Result<usize, StoreError> {
    let due = w.due(K::TABLE, now, limit)?;
    for (_, key) in &due {
        w.delete::<K>(key)?;
    }
    Ok(due.len())
}

/// Removes what each of `kinds` has due at or before `now`, at most `limit` of each.
pub(crate) fn sweep_kinds(
    w: &mut dyn RowsMut,
    kinds: &[(&str, Sweep)],
    now: UnixMillis,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for (_, sweep) in kinds {
        n += sweep(w, now, limit)?;
    }
    Ok(n)
}

/// Typed reads of the record kinds, written once over [`Rows`].
pub trait Records: Rows {
    /// The record of kind `K` at `key`.
    fn get<K: Kind>(&self, key: &[u8]) -> Result<Option<K>, StoreError> {
        self.row(K::TABLE, key)?.map(|v| decode(&v)).transpose()
    }

    /// The records of kind `K` under `entry` of the multimap `index`, in key order.
    fn find<K: Kind>(&self, index: &str, entry: &[u8]) -> Result<Vec<(Vec<u8>, K)>, StoreError> {
        let mut out = Vec::new();
        for key in self.indexed(index, entry)? {
            if let Some(v) = self.get::<K>(&key)? {
                out.push((key, v));
            }
        }
        Ok(out)
    }

    /// The record of kind `K` that holds `entry` of the unique `index`.
    fn find_unique<K: Kind>(
        &self,
        index: &str,
        entry: &[u8],
    ) -> Result<Option<(Vec<u8>, K)>, StoreError> {
        let Some(key) = self.unique(index, entry)? else {
            return Ok(None);
        };
        Ok(self.get::<K>(&key)?.map(|v| (key, v)))
    }

    /// At most `limit` records of kind `K` in key order, after `after`.
    fn scan<K: Kind>(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, K)>, StoreError> {
        self.rows_after(K::TABLE, after, limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, decode(&v)?)))
            .collect()
    }
}

impl<T: Rows + ?Sized> Records for T {}

/// Typed writes of the record kinds, written once over [`RowsMut`]: a record and its
/// index and due entries change together.
pub trait RecordsMut: RowsMut {
    /// Puts `rec` at `key` (replacing what was there, and its index entries).
    fn put<K: Kind>(&mut self, key: &[u8], rec: &K) -> Result<(), StoreError> {
        let old = self.get::<K>(key)?;
        let uniques = rec.uniques();
        if let Some(old) = &old {
            unlink(self, key, old, &uniques)?;
        }
        for (index, entry) in &uniques {
            if old
                .as_ref()
                .is_some_and(|o| o.uniques().contains(&(index, entry.clone())))
            {
                continue;
            }
            self.unique_add(index, entry, key)?;
        }
        for (index, entry) in rec.indexes() {
            self.index_add(index, &entry, key)?;
        }
        if let Some(at) = rec.expires_at() {
            self.due_add(K::TABLE, at, key)?;
        }
        self.put_row(K::TABLE, key, &encode(rec)?)
    }

    /// Removes the record of kind `K` at `key`, with its index entries; what it was.
    fn delete<K: Kind>(&mut self, key: &[u8]) -> Result<Option<K>, StoreError> {
        let Some(old) = self.get::<K>(key)? else {
            return Ok(None);
        };
        unlink(self, key, &old, &[])?;
        self.delete_row(K::TABLE, key)?;
        Ok(Some(old))
    }
}

impl<T: RowsMut + ?Sized> RecordsMut for T {}

/// Removes the index and due entries of `old` at `key`, but the unique entries in `keep`.
fn unlink<K: Kind, W: RowsMut + ?Sized>(
    w: &mut W,
    key: &[u8],
    old: &K,
    keep: &[(&'static str, Vec<u8>)],
) -> Result<(), StoreError> {
    for (index, entry) in old.uniques() {
        if !keep.contains(&(index, entry.clone())) {
            w.unique_remove(index, &entry)?;
        }
    }
    for (index, entry) in old.indexes() {
        w.index_remove(index, &entry, key)?;
    }
    if let Some(at) = old.expires_at() {
        w.due_remove(K::TABLE, at, key)?;
    }
    Ok(())
}
