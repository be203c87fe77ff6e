//! The domain interface ([`Read`], [`Write`]) over one connection: the typed tables'
//! statements, and the export a copy reads.

use super::*;

/// Rows an export reads at once.
pub(super) const PAGE: i64 = 5000;

/// What an export hands each row of a table to: its key and its record's bytes.
type EachRow<'f, K> = &'f mut dyn FnMut(K, &[u8]) -> Result<(), StoreError>;

impl Access<'_> {
    /// Every row of `table` in `key` order, a page at a time: `(key, record)` to `f`.
    fn each_by_text(
        &self,
        table: &str,
        key: &str,
        f: EachRow<'_, String>,
    ) -> Result<(), StoreError> {
        let sql =
            format!("SELECT {key}, record FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT $2");
        let mut after = String::new();
        loop {
            let rows = self.rows(&sql, &[&after, &PAGE])?;
            for r in &rows {
                after = r.get(0);
                f(after.clone(), r.get::<_, &[u8]>(1))?;
            }
            if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
                return Ok(());
            }
        }
    }

    /// As [`Access::each_by_text`], for a table keyed by bytes (its `key` column).
    fn each_by_bytes(
        &self,
        table: &str,
        key: &str,
        f: EachRow<'_, Vec<u8>>,
    ) -> Result<(), StoreError> {
        let sql =
            format!("SELECT {key}, record FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT $2");
        let mut after: Vec<u8> = Vec::new();
        loop {
            let rows = self.rows(&sql, &[&after, &PAGE])?;
            for r in &rows {
                after = r.get(0);
                f(after.clone(), r.get::<_, &[u8]>(1))?;
            }
            if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
                return Ok(());
            }
        }
    }
}

impl Read for Access<'_> {
    fn export(&self, f: &mut dyn FnMut(Item) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let next = self
            .row(
                "SELECT num FROM latchkey_meta WHERE name = 'next_user_num'",
                &[],
            )?
            .map_or(1, |r| u64_of(r.get(0)));
        f(Item::NextUserNum(next))?;
        if let Some(check) = self.server_key_check()? {
            f(Item::ServerKeyCheck(check))?;
        }
        let mut after: i64 = -1;
        loop {
            let rows = self.rows(
                "SELECT num, record FROM latchkey_users WHERE num > $1 ORDER BY num LIMIT $2",
                &[&after, &PAGE],
            )?;
            for r in &rows {
                after = r.get(0);
                f(Item::User(decode(r.get::<_, &[u8]>(1))?))?;
            }
            if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
                break;
            }
        }
        self.each_by_text("latchkey_keys", "kid", &mut |_, v| f(Item::Key(decode(v)?)))?;
        self.each_by_text("latchkey_families", "id", &mut |_, v| {
            f(Item::Family(decode(v)?))
        })?;
        self.each_by_bytes("latchkey_refresh", "hash", &mut |k, v| {
            f(Item::Refresh(k, decode(v)?))
        })?;
        self.each_by_bytes("latchkey_session_codes", "hash", &mut |k, v| {
            f(Item::SessionCode(k, decode(v)?))
        })?;
        self.each_by_bytes("latchkey_mfa_pending", "hash", &mut |k, v| {
            f(Item::MfaPending(k, decode(v)?))
        })?;
        self.each_by_bytes("latchkey_grants", "hash", &mut |k, v| {
            f(Item::Grant(k, decode(v)?))
        })?;
        self.each_by_bytes("latchkey_passkeys", "id", &mut |_, v| {
            f(Item::Passkey(decode(v)?))
        })?;
        self.each_by_text(
            "latchkey_proofs",
            "key",
            &mut |k, v| match parse_proof_key(&k) {
                Some((purpose, subject)) => f(Item::Proof(purpose, subject, decode(v)?)),
                None => Ok(()),
            },
        )?;
        crate::rows::Rows::export_raw(self, &mut |raw| f(Item::Raw(raw)))
    }

    fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.record("SELECT record FROM latchkey_users WHERE id = $1", &[&id])
    }

    fn user_id_by_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        self.text(
            "SELECT id FROM latchkey_users WHERE email_key = $1",
            &[&fold(email)],
        )
    }

    fn user_id_by_username(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.text(
            "SELECT id FROM latchkey_users WHERE name_key = $1",
            &[&fold(name)],
        )
    }

    fn user_id_by_num(&self, num: u64) -> Result<Option<String>, StoreError> {
        self.text(
            "SELECT id FROM latchkey_users WHERE num = $1",
            &[&i64_of(num)],
        )
    }

    fn users(&self, after: Option<u64>, limit: usize) -> Result<Vec<UserRecord>, StoreError> {
        let after = after.map_or(-1, i64_of);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.records(
            "SELECT record FROM latchkey_users WHERE num > $1 ORDER BY num LIMIT $2",
            &[&after, &limit],
        )
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM latchkey_users")
    }

    fn family_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM latchkey_families")
    }

    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        self.record("SELECT record FROM latchkey_families WHERE id = $1", &[&id])
    }

    fn family_ids_of_user(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .rows(
                "SELECT id FROM latchkey_families WHERE user_id = $1 ORDER BY id",
                &[&user_id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn refresh(&self, hash: &[u8]) -> Result<Option<RefreshEntry>, StoreError> {
        self.record(
            "SELECT record FROM latchkey_refresh WHERE hash = $1",
            &[&hash],
        )
    }

    fn refresh_chain(&self, hash: &[u8]) -> Result<Option<RefreshChain>, StoreError> {
        let Some(row) = self.row(
            "SELECT r.record, f.record, u.record FROM latchkey_refresh r \
             LEFT JOIN latchkey_families f ON f.id = r.family_id \
             LEFT JOIN latchkey_users u ON u.id = f.user_id WHERE r.hash = $1",
            &[&hash],
        )?
        else {
            return Ok(None);
        };
        let part = |i: usize| row.get::<_, Option<&[u8]>>(i);
        Ok(Some(RefreshChain {
            entry: decode(part(0).unwrap_or_default())?,
            family: part(1).map(decode).transpose()?,
            user: part(2).map(decode).transpose()?,
        }))
    }

    fn keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut out: Vec<SigningKeyRecord> =
            self.records("SELECT record FROM latchkey_keys", &[])?;
        out.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(out)
    }

    fn session_code(&self, hash: &[u8]) -> Result<Option<SessionCodeRecord>, StoreError> {
        self.record(
            "SELECT record FROM latchkey_session_codes WHERE hash = $1",
            &[&hash],
        )
    }

    fn conflict(&self, user: &UserRecord) -> Result<Option<Unique>, StoreError> {
        if let Some(email) = &user.email {
            let taken = self.row(
                "SELECT 1 FROM latchkey_users WHERE email_key = $1",
                &[&fold(email)],
            )?;
            if taken.is_some() {
                return Ok(Some(Unique::Email));
            }
        }
        if let Some(name) = &user.username {
            let taken = self.row(
                "SELECT 1 FROM latchkey_users WHERE name_key = $1 OR skeleton = $2",
                &[&fold(name), &skeleton(name)],
            )?;
            if taken.is_some() {
                return Ok(Some(Unique::Username));
            }
        }
        Ok(None)
    }

    fn server_key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .row(
                "SELECT bytes FROM latchkey_meta WHERE name = 'server_key_check'",
                &[],
            )?
            .and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
    }

    fn holds_sealed_data(&self) -> Result<bool, StoreError> {
        Ok(self
            .row(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM latchkey_session_codes) \
                 OR EXISTS (SELECT 1 FROM latchkey_proofs) \
                 OR EXISTS (SELECT 1 FROM latchkey_users WHERE has_mfa)",
                &[],
            )?
            .is_some())
    }

    fn any_sealed_totp(&self) -> Result<Option<(String, String)>, StoreError> {
        let u: Option<UserRecord> = self.record(
            "SELECT record FROM latchkey_users WHERE has_mfa LIMIT 1",
            &[],
        )?;
        Ok(u.and_then(|u| u.mfa.map(|m| (u.id, m.sealed_secret))))
    }

    fn users_with_mfa(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.records(
            "SELECT record FROM latchkey_users WHERE has_mfa ORDER BY id",
            &[],
        )
    }

    fn mfa_pending(&self, hash: &[u8]) -> Result<Option<MfaPendingRecord>, StoreError> {
        self.record(
            "SELECT record FROM latchkey_mfa_pending WHERE hash = $1",
            &[&hash],
        )
    }

    fn grant(&self, hash: &[u8]) -> Result<Option<GrantRecord>, StoreError> {
        self.record(
            "SELECT record FROM latchkey_grants WHERE hash = $1",
            &[&hash],
        )
    }

    fn passkey(&self, id: &[u8]) -> Result<Option<PasskeyRecord>, StoreError> {
        self.record("SELECT record FROM latchkey_passkeys WHERE id = $1", &[&id])
    }

    fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        let mut out: Vec<PasskeyRecord> = self.records(
            "SELECT record FROM latchkey_passkeys WHERE user_id = $1",
            &[&user_id],
        )?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    fn proof(
        &self,
        purpose: ProofPurpose,
        subject: &str,
    ) -> Result<Option<ProofRecord>, StoreError> {
        self.record(
            "SELECT record FROM latchkey_proofs WHERE key = $1",
            &[&proof_key(purpose, subject)],
        )
    }

    fn session_code_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM latchkey_session_codes")
    }

    fn schema_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .row(
                "SELECT num FROM latchkey_meta WHERE name = 'schema_version'",
                &[],
            )?
            .map(|r| u64_of(r.get(0)))
            .unwrap_or(0))
    }
}

/// A user's row: the columns the database checks, and the record.
struct UserRow {
    email_key: Option<String>,
    name_key: Option<String>,
    skeleton: Option<String>,
    record: Vec<u8>,
}

fn user_row(user: &UserRecord) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        email_key: user.email.as_deref().map(fold),
        name_key: user.username.as_deref().map(fold),
        skeleton: user.username.as_deref().map(skeleton),
        record: encode(user)?,
    })
}

impl Write for Access<'_> {
    fn allocate_user_num(&mut self) -> Result<u64, StoreError> {
        self.allocate_user_nums(1)
    }

    fn allocate_user_nums(&mut self, n: u64) -> Result<u64, StoreError> {
        let n = i64_of(n);
        let row = self.row(
            "UPDATE latchkey_meta SET num = num + $1 WHERE name = 'next_user_num' \
             RETURNING num - $1",
            &[&n],
        )?;
        Ok(row.map(|r| u64_of(r.get(0))).unwrap_or(1))
    }

    fn insert_users(&mut self, users: &[UserRecord]) -> Result<(), (usize, StoreError)> {
        for (i, user) in users.iter().enumerate() {
            self.insert_user(user).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    fn insert_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        if let Some(taken) = self.conflict(user)? {
            return Err(StoreError::Conflict(taken));
        }
        let row = user_row(user)?;
        // A unique index taken meanwhile fails the transaction; the plan runs again and
        // `conflict` names what is taken.
        self.later(
            "INSERT INTO latchkey_users (id, num, email_key, name_key, skeleton, has_mfa, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            owned![
                user.id.clone(),
                i64_of(user.num),
                row.email_key,
                row.name_key,
                row.skeleton,
                user.mfa.is_some(),
                row.record,
            ],
        );
        Ok(())
    }

    fn update_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let record = encode(user)?;
        self.later(
            "UPDATE latchkey_users SET has_mfa = $2, record = $3 WHERE id = $1",
            owned![user.id.clone(), user.mfa.is_some(), record],
        );
        self.notify(&Change::User(user.id.clone()))
    }

    fn change_email(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let key = user.email.as_deref().map(fold);
        if let Some(k) = &key {
            let taken = self.row(
                "SELECT 1 FROM latchkey_users WHERE email_key = $1 AND id <> $2",
                &[k, &user.id],
            )?;
            if taken.is_some() {
                return Err(StoreError::Conflict(Unique::Email));
            }
        }
        let record = encode(user)?;
        self.later(
            "UPDATE latchkey_users SET email_key = $2, has_mfa = $3, record = $4 WHERE id = $1",
            owned![user.id.clone(), key, user.mfa.is_some(), record],
        );
        self.notify(&Change::User(user.id.clone()))
    }

    fn delete_user(&mut self, id: &str) -> Result<bool, StoreError> {
        crate::records::drop_user_rows(self, id)?;
        self.later(
            "DELETE FROM latchkey_passkeys WHERE user_id = $1",
            owned![id.to_owned()],
        );
        let n = self.exec("DELETE FROM latchkey_users WHERE id = $1", &[&id])?;
        self.notify(&Change::User(id.to_owned()))?;
        Ok(n > 0)
    }

    fn drop_pending_codes(&mut self) -> Result<u64, StoreError> {
        let mut n = 0;
        for t in [
            "latchkey_session_codes",
            "latchkey_proofs",
            "latchkey_mfa_pending",
        ] {
            n += self.exec(&format!("DELETE FROM {t}"), &[])?;
        }
        Ok(n)
    }

    fn set_server_key_check(&mut self, check: &[u8]) -> Result<(), StoreError> {
        self.later(
            "INSERT INTO latchkey_meta (name, bytes) VALUES ('server_key_check', $1) \
             ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes",
            owned![check.to_vec()],
        );
        // Servers look at the keys, the server key's check among them, when told.
        self.notify(&Change::Keys)
    }

    fn put_mfa_pending(&mut self, hash: &[u8], rec: &MfaPendingRecord) -> Result<(), StoreError> {
        let record = encode(rec)?;
        self.later(
            "INSERT INTO latchkey_mfa_pending (hash, expires_at, record) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at, \
             record = excluded.record",
            owned![hash.to_vec(), rec.expires_at, record],
        );
        Ok(())
    }

    fn delete_mfa_pending(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_mfa_pending WHERE hash = $1",
            owned![hash.to_vec()],
        );
        Ok(())
    }

    fn put_grant(&mut self, hash: &[u8], rec: &GrantRecord) -> Result<(), StoreError> {
        let record = encode(rec)?;
        self.later(
            "INSERT INTO latchkey_grants (hash, expires_at, record) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at, \
             record = excluded.record",
            owned![hash.to_vec(), rec.expires_at, record],
        );
        Ok(())
    }

    fn delete_grant(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_grants WHERE hash = $1",
            owned![hash.to_vec()],
        );
        Ok(())
    }

    fn insert_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError> {
        let record = encode(rec)?;
        // The primary key decides, also between two nodes registering one id at once.
        let n = self.exec(
            "INSERT INTO latchkey_passkeys (id, user_id, record) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
            &[&rec.id, &rec.user_id, &record],
        )?;
        if n == 0 {
            return Err(StoreError::CredentialTaken);
        }
        Ok(())
    }

    fn update_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError> {
        let record = encode(rec)?;
        self.later(
            "UPDATE latchkey_passkeys SET record = $2 WHERE id = $1",
            owned![rec.id.clone(), record],
        );
        Ok(())
    }

    fn delete_passkey(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM latchkey_passkeys WHERE id = $1", &[&id])? > 0)
    }

    fn put_proof(
        &mut self,
        purpose: ProofPurpose,
        subject: &str,
        rec: &ProofRecord,
    ) -> Result<(), StoreError> {
        let record = encode(rec)?;
        self.later(
            "INSERT INTO latchkey_proofs (key, expires_at, record) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, \
             record = excluded.record",
            owned![proof_key(purpose, subject), rec.expires_at, record],
        );
        Ok(())
    }

    fn delete_proof(&mut self, purpose: ProofPurpose, subject: &str) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_proofs WHERE key = $1",
            owned![proof_key(purpose, subject)],
        );
        Ok(())
    }

    fn sweep_challenges(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let a = self.exec(
            "DELETE FROM latchkey_mfa_pending WHERE hash IN \
             (SELECT hash FROM latchkey_mfa_pending WHERE expires_at <= $1 LIMIT $2)",
            &[&now, &limit],
        )?;
        let b = self.exec(
            "DELETE FROM latchkey_proofs WHERE key IN \
             (SELECT key FROM latchkey_proofs WHERE expires_at <= $1 LIMIT $2)",
            &[&now, &limit],
        )?;
        let c = self.exec(
            "DELETE FROM latchkey_grants WHERE hash IN \
             (SELECT hash FROM latchkey_grants WHERE expires_at <= $1 LIMIT $2)",
            &[&now, &limit],
        )?;
        let kinds = crate::rows::sweep_kinds(
            self,
            crate::records::KINDS,
            UnixMillis::from_millis(now),
            usize::try_from(limit).unwrap_or(0),
        )?;
        Ok(usize::try_from(a + b + c).unwrap_or(usize::MAX) + kinds)
    }

    fn put_family(&mut self, family: &FamilyRecord) -> Result<(), StoreError> {
        let record = encode(family)?;
        self.later(
            "INSERT INTO latchkey_families (id, user_id, expires_at, expires_hour, record) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             expires_at = excluded.expires_at, expires_hour = excluded.expires_hour, \
             record = excluded.record",
            owned![
                family.id.clone(),
                family.user_id.clone(),
                family.expires_at,
                expires_hour(family.expires_at.millis()),
                record
            ],
        );
        if family.revoked.is_some() {
            self.notify(&Change::Family(family.id.clone()))?;
        }
        Ok(())
    }

    fn put_refresh(&mut self, hash: &[u8], entry: &RefreshEntry) -> Result<(), StoreError> {
        let record = encode(entry)?;
        self.later(
            "INSERT INTO latchkey_refresh (hash, family_id, issued_at, spent_at, record) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO UPDATE SET \
             spent_at = excluded.spent_at, record = excluded.record",
            owned![
                hash.to_vec(),
                entry.family_id.clone(),
                entry.issued_at,
                entry.spent_at,
                record
            ],
        );
        Ok(())
    }

    fn sweep_spent_refresh(
        &mut self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let before = before.millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let n = self.exec(
            "DELETE FROM latchkey_refresh WHERE hash IN \
             (SELECT hash FROM latchkey_refresh WHERE spent_at < $1 LIMIT $2)",
            &[&before, &limit],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn sweep_families(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids: Vec<String> = self
            .rows(
                "SELECT id FROM latchkey_families WHERE expires_hour <= $1 AND expires_at < $2 \
                 LIMIT $3",
                &[&expires_hour(now), &now, &limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        self.exec(
            "DELETE FROM latchkey_refresh WHERE family_id = ANY($1)",
            &[&ids],
        )?;
        self.exec("DELETE FROM latchkey_families WHERE id = ANY($1)", &[&ids])?;
        Ok(ids.len())
    }

    fn put_session_code(
        &mut self,
        hash: &[u8],
        code: &SessionCodeRecord,
    ) -> Result<(), StoreError> {
        let record = encode(code)?;
        self.later(
            "INSERT INTO latchkey_session_codes (hash, email_key, expires_at, record) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO UPDATE SET \
             expires_at = excluded.expires_at, record = excluded.record",
            owned![hash.to_vec(), fold(&code.email), code.expires_at, record],
        );
        Ok(())
    }

    fn delete_session_code(&mut self, hash: &[u8]) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM latchkey_session_codes WHERE hash = $1",
            &[&hash],
        )? > 0)
    }

    fn delete_session_codes_of(&mut self, email: &str) -> Result<usize, StoreError> {
        let n = self.exec(
            "DELETE FROM latchkey_session_codes WHERE email_key = $1",
            &[&fold(email)],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn sweep_session_codes(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError> {
        let now = now.millis();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let n = self.exec(
            "DELETE FROM latchkey_session_codes WHERE hash IN \
             (SELECT hash FROM latchkey_session_codes WHERE expires_at <= $1 LIMIT $2)",
            &[&now, &limit],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn put_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let record = encode(key)?;
        self.later(
            "INSERT INTO latchkey_keys (kid, record) VALUES ($1, $2) \
             ON CONFLICT (kid) DO UPDATE SET record = excluded.record",
            owned![key.kid.clone(), record],
        );
        self.notify(&Change::Keys)
    }

    fn delete_key(&mut self, kid: &str) -> Result<(), StoreError> {
        self.later(
            "DELETE FROM latchkey_keys WHERE kid = $1",
            owned![kid.to_owned()],
        );
        self.notify(&Change::Keys)
    }
}
