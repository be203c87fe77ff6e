//! A whole store copied into another, either backend into either (`latchkey store copy`):
//! everything the source exports ([`Read::export`]) written into an empty destination in
//! transactions of [`BATCH`] items, then the counters, then a count of both.

use crate::records::UserRecord;
use crate::tx::Item;
use crate::{Store, StoreError};

/// Items written per transaction.
const BATCH: usize = 5000;

/// What a copy wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Users.
    pub users: u64,
    /// Refresh families.
    pub families: u64,
    /// Everything (users, keys, families, token entries, codes, challenges).
    pub items: u64,
}

/// Copies everything in `from` into `to`, which must be empty; `progress` hears how many
/// items are written so far. Nothing may write to `from` meanwhile (the counts are
/// compared at the end). A copy that fails leaves `to` partly written: empty it (or
/// remove the file) before trying again.
pub fn copy(from: &Store, to: &Store, progress: &mut dyn FnMut(u64)) -> Result<Copied, StoreError> {
    let empty = to.read(|r| {
        Ok::<_, StoreError>(r.user_count()? == 0 && r.family_count()? == 0 && r.keys()?.is_empty())
    })?;
    if !empty {
        return Err(StoreError::NotEmpty(to.describe()));
    }
    let mut batch: Vec<Item> = Vec::new();
    let mut items = 0u64;
    let mut next_num = 1;
    let mut check = None;
    from.read(|r| {
        r.export(&mut |item| {
            match item {
                Item::NextUserNum(n) => next_num = n,
                Item::ServerKeyCheck(c) => check = Some(c),
                other => {
                    batch.push(other);
                    if batch.len() >= BATCH {
                        items += write(to, &mut batch)?;
                        progress(items);
                    }
                }
            }
            Ok(())
        })
    })?;
    items += write(to, &mut batch)?;
    progress(items);
    to.write(|w| {
        if next_num > 1 {
            w.allocate_user_nums(next_num - 1)?;
        }
        if let Some(c) = &check {
            w.set_server_key_check(c)?;
        }
        Ok::<_, StoreError>(())
    })?;
    let count = |s: &Store| s.read(|r| Ok::<_, StoreError>((r.user_count()?, r.family_count()?)));
    let (source, copy) = (count(from)?, count(to)?);
    for (what, a, b) in [("users", source.0, copy.0), ("families", source.1, copy.1)] {
        if a != b {
            return Err(StoreError::CopyMismatch {
                what,
                source: a,
                copy: b,
            });
        }
    }
    Ok(Copied {
        users: copy.0,
        families: copy.1,
        items,
    })
}

/// Writes `batch` in one transaction and empties it; how many items it held.
fn write(to: &Store, batch: &mut Vec<Item>) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let users: Vec<UserRecord> = batch
        .iter()
        .filter_map(|i| match i {
            Item::User(u) => Some(u.clone()),
            _ => None,
        })
        .collect();
    to.write(|w| {
        if !users.is_empty() {
            w.insert_users(&users).map_err(|(_, e)| e)?;
        }
        for item in batch.iter() {
            match item {
                Item::Key(k) => w.put_key(k)?,
                Item::Family(f) => w.put_family(f)?,
                Item::Refresh(h, e) => w.put_refresh(h, e)?,
                Item::SessionCode(h, c) => w.put_session_code(h, c)?,
                Item::MfaPending(h, m) => w.put_mfa_pending(h, m)?,
                Item::Proof(p, s, r) => w.put_proof(*p, s, r)?,
                Item::Grant(h, g) => w.put_grant(h, g)?,
                Item::Passkey(p) => w.insert_passkey(p)?,
                Item::Raw(r) => w.import_raw(r)?,
                Item::User(_) | Item::NextUserNum(_) | Item::ServerKeyCheck(_) => {}
            }
        }
        Ok::<_, StoreError>(())
    })?;
    let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
    batch.clear();
    Ok(n)
}
