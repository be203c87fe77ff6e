//! Groups: who is in which (access rules and apps name them). The operations are the
//! admin API's and the command line's: store-level functions (the command line runs them
//! on the store when no server holds it) and their [`Service`] wrappers, off the reactor.
//! Memberships live in the store (both backends, backups, copies); a user's go with it.

use serde_json::{json, Value};
use storage::{GroupRecord, MemberRecord, Records as _, RecordsMut as _, Store};

use super::admin::{one, AdminError};
use super::audit::{record, Context};
use super::Service;
use crate::clock::UnixMillis;

/// The name as stored, or why it is none.
fn name_of(name: &str) -> Result<String, AdminError> {
    GroupRecord::normal_name(name).ok_or(AdminError::InvalidGroupName)
}

/// Every group, by name: `{"groups": [{"name","description","members"}]}` (members: how
/// many).
pub fn list(store: &Store) -> Result<Value, AdminError> {
    store.read(|r| {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = r.scan::<GroupRecord>(after.as_deref(), 500)?;
            let full = page.len() == 500;
            for (key, g) in page {
                let members = storage::members_of(r, &g.name)?.len();
                out.push(json!({"name": g.name, "description": g.description, "members": members}));
                after = Some(key);
            }
            if !full {
                break;
            }
        }
        Ok(json!({ "groups": out }))
    })
}

/// One group with its members: `{"name","description","members":[{"id","email","username"}]}`.
pub fn show(store: &Store, name: &str) -> Result<Value, AdminError> {
    let name = name_of(name)?;
    store.read(|r| {
        let g = r
            .get::<GroupRecord>(name.as_bytes())?
            .ok_or(AdminError::NoSuchGroup)?;
        let mut members = Vec::new();
        for id in storage::members_of(r, &g.name)? {
            if let Some(u) = r.user(&id)? {
                members.push(json!({"id": u.id, "email": u.email, "username": u.username}));
            }
        }
        Ok(json!({"name": g.name, "description": g.description, "members": members}))
    })
}

/// Makes a group (`name` lowered); refused when one has that name.
pub fn create(
    store: &Store,
    name: &str,
    description: Option<String>,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<Value, AdminError> {
    let name = name_of(name)?;
    let description = description.filter(|d| !d.trim().is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 200)
    {
        return Err(AdminError::BadRequest(
            "a description is at most 200 characters".into(),
        ));
    }
    let rec = GroupRecord {
        name: name.clone(),
        description,
        created_at: now,
    };
    store.write(|w| {
        if w.get::<GroupRecord>(name.as_bytes())?.is_some() {
            return Err(AdminError::GroupExists);
        }
        w.put(name.as_bytes(), &rec)?;
        record(w, audit, "group_created", None, json!({"group": name}), now)?;
        Ok(())
    })?;
    tracing::info!(target: "latchkey::audit", event = "group_created", group = %name);
    Ok(json!({"name": rec.name, "description": rec.description, "members": 0}))
}

/// Removes a group and every membership of it, at once.
pub fn delete(
    store: &Store,
    name: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<Value, AdminError> {
    let name = name_of(name)?;
    store.write(|w| {
        if !storage::delete_group(w, &name)? {
            return Err(AdminError::NoSuchGroup);
        }
        record(w, audit, "group_deleted", None, json!({"group": name}), now)?;
        Ok(())
    })?;
    tracing::info!(target: "latchkey::audit", event = "group_deleted", group = %name);
    Ok(json!({ "deleted": name }))
}

/// The user `key` names, once group `name` is known to exist.
fn group_and_user(
    w: &mut dyn storage::Write,
    name: &str,
    key: &str,
) -> Result<storage::UserRecord, AdminError> {
    if w.get::<GroupRecord>(name.as_bytes())?.is_none() {
        return Err(AdminError::NoSuchGroup);
    }
    one(w.find_user(key)?)
}

/// Adds the user of `key` to the group (nothing when it is a member already): whether it
/// was added.
pub fn add(
    store: &Store,
    name: &str,
    key: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<bool, AdminError> {
    let name = name_of(name)?;
    store.write(|w| {
        let u = group_and_user(w, &name, key)?;
        let k = MemberRecord::key(&name, &u.id);
        if w.get::<MemberRecord>(&k)?.is_some() {
            return Ok(false);
        }
        let m = MemberRecord {
            group: name.clone(),
            user_id: u.id.clone(),
            added_at: now,
        };
        w.put(&k, &m)?;
        let d = json!({"group": name});
        record(w, audit, "group_member_added", Some(&u), d, now)?;
        tracing::info!(target: "latchkey::audit", event = "group_member_added", group = %name, user = %u.id);
        Ok(true)
    })
}

/// Removes the user of `key` from the group (nothing when it is no member): whether it
/// was removed.
pub fn remove(
    store: &Store,
    name: &str,
    key: &str,
    now: UnixMillis,
    audit: Option<&Context>,
) -> Result<bool, AdminError> {
    let name = name_of(name)?;
    store.write(|w| {
        let u = group_and_user(w, &name, key)?;
        let gone = w
            .delete::<MemberRecord>(&MemberRecord::key(&name, &u.id))?
            .is_some();
        if gone {
            let d = json!({"group": name});
            record(w, audit, "group_member_removed", Some(&u), d, now)?;
            tracing::info!(target: "latchkey::audit", event = "group_member_removed", group = %name, user = %u.id);
        }
        Ok(gone)
    })
}

impl Service {
    /// The names of the groups of `user_id`, sorted: what apps are told.
    pub fn groups_of(&self, user_id: &str) -> Result<Vec<String>, protocol::Failure> {
        self.inner
            .store
            .read(|r| storage::groups_of(r, user_id))
            .map_err(super::store_failure)
    }

    /// [`create`], off the reactor.
    pub async fn admin_group_create(
        &self,
        name: String,
        description: Option<String>,
    ) -> Result<Value, AdminError> {
        let (store, now, a) = (self.store().clone(), self.now(), self.audit_context());
        blocking(move || create(&store, &name, description, now, a.as_ref())).await
    }

    /// [`delete`], off the reactor.
    pub async fn admin_group_delete(&self, name: String) -> Result<Value, AdminError> {
        // Nothing caches memberships: every decision reads them, on every node.
        let (store, now, a) = (self.store().clone(), self.now(), self.audit_context());
        blocking(move || delete(&store, &name, now, a.as_ref())).await
    }

    /// [`add`] or [`remove`], off the reactor.
    pub async fn admin_group_member(
        &self,
        name: String,
        key: String,
        member: bool,
    ) -> Result<Value, AdminError> {
        let (store, now, a) = (self.store().clone(), self.now(), self.audit_context());
        let changed = blocking(move || match member {
            true => add(&store, &name, &key, now, a.as_ref()),
            false => remove(&store, &name, &key, now, a.as_ref()),
        })
        .await?;
        Ok(json!({ "changed": changed }))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(AdminError::Thread)?
}

#[cfg(test)]
mod tests {
    use storage::GroupRecord;

    #[test]
    fn names_are_lowered_and_bounded() {
        assert_eq!(GroupRecord::normal_name("Staff").as_deref(), Some("staff"));
        assert_eq!(
            GroupRecord::normal_name("home_lab-2").as_deref(),
            Some("home_lab-2")
        );
        for bad in ["", "a b", "ünï", "a.b", "a/b", &"x".repeat(65)] {
            assert!(GroupRecord::normal_name(bad).is_none(), "{bad}");
        }
    }
}
