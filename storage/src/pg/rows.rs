//! The table layer's primitives on PostgreSQL: five tables of their own
//! (`latchkey_rows`, `latchkey_row_index`, `latchkey_row_unique`, `latchkey_row_due`,
//! `latchkey_counters`), keyed by the kind's table or index name. A unique entry is a
//! primary key: two transactions that claim it at once cannot both commit.

use super::access::PAGE;
use super::{i64_of, u64_of, Access, Param};
use crate::rows::{KeyValue, Raw, Rows, RowsMut};
use crate::StoreError;
use crate::UnixMillis;

impl Rows for Access<'_> {
    fn row(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .row(
                "SELECT value FROM latchkey_rows WHERE tbl = $1 AND key = $2",
                &[&table, &key],
            )?
            .map(|r| r.get(0)))
    }

    fn rows_after(
        &self,
        table: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            Some(a) => self.rows(
                "SELECT key, value FROM latchkey_rows WHERE tbl = $1 AND key > $2 \
                 ORDER BY key LIMIT $3",
                &[&table, &a, &limit],
            )?,
            None => self.rows(
                "SELECT key, value FROM latchkey_rows WHERE tbl = $1 ORDER BY key LIMIT $2",
                &[&table, &limit],
            )?,
        };
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn indexed(&self, index: &str, entry: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .rows(
                "SELECT key FROM latchkey_row_index WHERE idx = $1 AND entry = $2 ORDER BY key",
                &[&index, &entry],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn unique(&self, index: &str, entry: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .row(
                "SELECT key FROM latchkey_row_unique WHERE idx = $1 AND entry = $2",
                &[&index, &entry],
            )?
            .map(|r| r.get(0)))
    }

    fn due(
        &self,
        table: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(UnixMillis, Vec<u8>)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .rows(
                "SELECT at, key FROM latchkey_row_due WHERE tbl = $1 AND at <= $2 \
                 ORDER BY at, key LIMIT $3",
                &[&table, &now, &limit],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self
            .row(
                "SELECT value FROM latchkey_counters WHERE name = $1",
                &[&name],
            )?
            .map_or(0, |r| u64_of(r.get(0))))
    }

    fn export_raw(
        &self,
        f: &mut dyn FnMut(Raw) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Each table a page at a time, in its primary key's order.
        let mut after: (String, Vec<u8>) = (String::new(), Vec::new());
        loop {
            let rows = self.rows(
                "SELECT tbl, key, value FROM latchkey_rows WHERE (tbl, key) > ($1, $2) \
                 ORDER BY tbl, key LIMIT $3",
                &[&after.0, &after.1, &PAGE],
            )?;
            for r in &rows {
                after = (r.get(0), r.get(1));
                f(Raw::Row {
                    table: after.0.clone(),
                    key: after.1.clone(),
                    value: r.get(2),
                })?;
            }
            if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
                break;
            }
        }
        for r in self.rows("SELECT idx, entry, key FROM latchkey_row_index", &[])? {
            f(Raw::Index {
                index: r.get(0),
                entry: r.get(1),
                key: r.get(2),
            })?;
        }
        for r in self.rows("SELECT idx, entry, key FROM latchkey_row_unique", &[])? {
            f(Raw::Unique {
                index: r.get(0),
                entry: r.get(1),
                key: r.get(2),
            })?;
        }
        for r in self.rows("SELECT tbl, at, key FROM latchkey_row_due", &[])? {
            f(Raw::Due {
                table: r.get(0),
                at: r.get(1),
                key: r.get(2),
            })?;
        }
        for r in self.rows("SELECT name, value FROM latchkey_counters", &[])? {
            f(Raw::Counter {
                name: r.get(0),
                value: u64_of(r.get(1)),
            })?;
        }
        Ok(())
    }
}

impl RowsMut for Access<'_> {
    fn put_row(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.later(
            "INSERT INTO latchkey_rows (tbl, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value",
            owned![table.to_owned(), key.to_vec(), value.to_vec()],
        );
        Ok(())
    }

    fn delete_row(&mut self, table: &str, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM latchkey_rows WHERE tbl = $1 AND key = $2",
            &[&table, &key],
        )? > 0)
    }

    fn index_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        self.later(
            "INSERT INTO latchkey_row_index (idx, entry, key) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            owned![index.to_owned(), entry.to_vec(), key.to_vec()],
        );
        Ok(())
    }

    fn index_remove(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_row_index WHERE idx = $1 AND entry = $2 AND key = $3",
            owned![index.to_owned(), entry.to_vec(), key.to_vec()],
        );
        Ok(())
    }

    fn unique_add(&mut self, index: &str, entry: &[u8], key: &[u8]) -> Result<(), StoreError> {
        // The primary key decides, also between two nodes claiming the entry at once.
        let n = self.exec(
            "INSERT INTO latchkey_row_unique (idx, entry, key) VALUES ($1, $2, $3) \
             ON CONFLICT (idx, entry) DO UPDATE SET key = excluded.key \
             WHERE latchkey_row_unique.key = excluded.key",
            &[&index, &entry, &key],
        )?;
        if n == 0 {
            return Err(StoreError::Taken(index.to_owned()));
        }
        Ok(())
    }

    fn unique_remove(&mut self, index: &str, entry: &[u8]) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_row_unique WHERE idx = $1 AND entry = $2",
            owned![index.to_owned(), entry.to_vec()],
        );
        Ok(())
    }

    fn due_add(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError> {
        let at = at.millis();
        self.later(
            "INSERT INTO latchkey_row_due (tbl, at, key) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            owned![table.to_owned(), at, key.to_vec()],
        );
        Ok(())
    }

    fn due_remove(&mut self, table: &str, at: UnixMillis, key: &[u8]) -> Result<(), StoreError> {
        let at = at.millis();
        self.later(
            "DELETE FROM latchkey_row_due WHERE tbl = $1 AND at = $2 AND key = $3",
            owned![table.to_owned(), at, key.to_vec()],
        );
        Ok(())
    }

    fn counter_add(&mut self, name: &str, by: u64) -> Result<u64, StoreError> {
        let by = i64_of(by);
        Ok(self
            .row(
                "INSERT INTO latchkey_counters (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = latchkey_counters.value + $2 \
                 RETURNING value",
                &[&name, &by],
            )?
            .map_or(0, |r| u64_of(r.get(0))))
    }

    fn counter_set(&mut self, name: &str, value: u64) -> Result<(), StoreError> {
        self.later(
            "INSERT INTO latchkey_counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            owned![name.to_owned(), i64_of(value)],
        );
        Ok(())
    }
}
