//! The store's domain interface: every read and write the service needs, as methods of
//! two traits. A backend implements them over its own transactions (redb's read and
//! write transactions, a PostgreSQL transaction); the service sees only `&dyn Read` and
//! `&mut dyn Write`, handed to it by [`crate::Store`].

use crate::records::{
    FamilyRecord, GrantRecord, MfaPendingRecord, PasskeyRecord, ProofPurpose, ProofRecord,
    RefreshEntry, SessionCodeRecord, SigningKeyRecord, UserRecord,
};
use crate::UnixMillis;
use crate::{Found, StoreError, Unique};

/// A refresh token's entry with what it hangs from (see [`Read::refresh_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshChain {
    /// The token's entry.
    pub entry: RefreshEntry,
    /// Its family, unless swept.
    pub family: Option<FamilyRecord>,
    /// The family's user, unless deleted.
    pub user: Option<UserRecord>,
}

/// Reads, in a snapshot or inside a write transaction.
pub trait Read: crate::rows::Rows {
    /// The user with this id.
    fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// The id of the user with this email (case-insensitive).
    fn user_id_by_email(&self, email: &str) -> Result<Option<String>, StoreError>;

    /// The id of the user with this username (case-insensitive).
    fn user_id_by_username(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// The id of the user with this integer number.
    fn user_id_by_num(&self, num: u64) -> Result<Option<String>, StoreError>;

    /// The users `key` names: by id, number, email or username, or with an `id:`,
    /// `num:`, `email:` or `username:` prefix by that alone. A key that names two
    /// users (a user numbered 1 and a user named "1") is [`Found::Several`]: the
    /// caller asks for a prefix instead of guessing.
    fn find_user(&self, key: &str) -> Result<Found, StoreError> {
        let (kind, value) = match key.split_once(':') {
            Some((k @ ("id" | "num" | "email" | "username"), v)) => (Some(k), v),
            _ => (None, key),
        };
        let wants = |k: &str| kind.is_none_or(|w| w == k);
        let mut ids: Vec<String> = Vec::new();
        if wants("id") && self.user(value)?.is_some() {
            ids.push(value.to_owned());
        }
        if wants("num") {
            if let Ok(n) = value.parse::<u64>() {
                ids.extend(self.user_id_by_num(n)?);
            }
        }
        if wants("email") && value.contains('@') {
            ids.extend(self.user_id_by_email(value)?);
        }
        if wants("username") && !value.contains('@') {
            ids.extend(self.user_id_by_username(value)?);
        }
        ids.sort();
        ids.dedup();
        match ids.as_slice() {
            [] => Ok(Found::None),
            [id] => Ok(self
                .user(id)?
                .map_or(Found::None, |u| Found::One(Box::new(u)))),
            more => Ok(Found::Several(more.len())),
        }
    }
    /// Users in the order they were made (by number), after number `after`, at
    /// most `limit`.
    fn users(&self, after: Option<u64>, limit: usize) -> Result<Vec<UserRecord>, StoreError>;

    /// Number of users.
    fn user_count(&self) -> Result<u64, StoreError>;

    /// Number of refresh families (live or not yet swept).
    fn family_count(&self) -> Result<u64, StoreError>;

    /// The family with this id.
    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError>;

    /// Ids of every family of a user (live or not yet swept).
    fn family_ids_of_user(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// What is known of the refresh token with this SHA-256 hash.
    fn refresh(&self, hash: &[u8]) -> Result<Option<RefreshEntry>, StoreError>;

    /// What a rotation of the refresh token with this hash reads: its entry, the entry's
    /// family and the family's user (a database answers it in one statement).
    fn refresh_chain(&self, hash: &[u8]) -> Result<Option<RefreshChain>, StoreError> {
        let Some(entry) = self.refresh(hash)? else {
            return Ok(None);
        };
        let family = self.family(&entry.family_id)?;
        let user = match &family {
            Some(f) => self.user(&f.user_id)?,
            None => None,
        };
        Ok(Some(RefreshChain {
            entry,
            family,
            user,
        }))
    }

    /// Every signing key, oldest first.
    fn keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// The session code with this keyed hash.
    fn session_code(&self, hash: &[u8]) -> Result<Option<SessionCodeRecord>, StoreError>;

    /// Which unique index `user`'s email or username would collide with, if any.
    fn conflict(&self, user: &UserRecord) -> Result<Option<Unique>, StoreError>;

    /// What the server key that sealed this store's data says of itself, if any
    /// key ever did.
    fn server_key_check(&self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Whether anything in the store was sealed or keyed with a server key: TOTP
    /// secrets, recovery codes, codes, proofs (for stores older than the check).
    fn holds_sealed_data(&self) -> Result<bool, StoreError>;

    /// Some user's sealed TOTP secret, with the user's id (to try a server key on).
    fn any_sealed_totp(&self) -> Result<Option<(String, String)>, StoreError>;

    /// Every user with a second factor (sealed TOTP secret), in id order.
    fn users_with_mfa(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// The MFA pending credential with this hash.
    fn mfa_pending(&self, hash: &[u8]) -> Result<Option<MfaPendingRecord>, StoreError>;

    /// The OpenID Connect grant with this hash (a code's, or a family's).
    fn grant(&self, hash: &[u8]) -> Result<Option<GrantRecord>, StoreError>;

    /// The passkey with this credential id.
    fn passkey(&self, id: &[u8]) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Every passkey of a user, oldest first.
    fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The live proof of `purpose` for `subject`, if any.
    fn proof(
        &self,
        purpose: ProofPurpose,
        subject: &str,
    ) -> Result<Option<ProofRecord>, StoreError>;

    /// Number of session codes in the store (live or not yet swept).
    fn session_code_count(&self) -> Result<u64, StoreError>;

    /// The store's schema version.
    fn schema_version(&self) -> Result<u64, StoreError>;

    /// Everything the store holds, item by item, for a copy to another store: the
    /// counters first, then users (by number) and the rest.
    fn export(&self, f: &mut dyn FnMut(Item) -> Result<(), StoreError>) -> Result<(), StoreError>;
}

/// One thing a store holds (see [`Read::export`]).
#[derive(Debug, Clone)]
pub enum Item {
    /// The number the next user gets.
    NextUserNum(u64),
    /// What the server key says of itself.
    ServerKeyCheck(Vec<u8>),
    /// A user.
    User(UserRecord),
    /// A signing key.
    Key(SigningKeyRecord),
    /// A refresh family.
    Family(FamilyRecord),
    /// A refresh token's entry, by the token's hash.
    Refresh(Vec<u8>, RefreshEntry),
    /// A session code, by its keyed hash.
    SessionCode(Vec<u8>, SessionCodeRecord),
    /// An MFA pending credential, by its hash.
    MfaPending(Vec<u8>, MfaPendingRecord),
    /// A proof, by its purpose and subject.
    Proof(ProofPurpose, String, ProofRecord),
    /// An OpenID Connect grant, by its hash.
    Grant(Vec<u8>, GrantRecord),
    /// A passkey.
    Passkey(PasskeyRecord),
    /// Something the table layer holds (see [`crate::rows`]).
    Raw(crate::rows::Raw),
}

/// Writes, inside one transaction: all of them commit together, or none does.
///
/// A *plan* (the closure a caller commits) reads, decides and writes. It may run more
/// than once (redb re-runs a batch's plans one by one after a failure; PostgreSQL re-runs
/// a plan a concurrent transaction got in the way of), so it has no effect outside the
/// transaction. On PostgreSQL it sees one snapshot and is run again when a row it
/// *writes* was changed meanwhile: a decision must rest on rows the plan writes (a sign-in
/// writes its user's `last_login_at`, a rotation its family, a redemption deletes its
/// code) or on a unique constraint, never on a row it only reads.
pub trait Write: Read + crate::rows::RowsMut {
    /// Hands out the next integer user number (never reused, even after deletion).
    fn allocate_user_num(&mut self) -> Result<u64, StoreError>;

    /// Hands out `n` consecutive user numbers; returns the first.
    fn allocate_user_nums(&mut self, n: u64) -> Result<u64, StoreError>;

    /// Inserts many new users at once (bulk import), opening each table once. On a taken
    /// email or username, returns the index of the user at fault and the conflict; the
    /// caller's transaction is then aborted.
    fn insert_users(&mut self, users: &[UserRecord]) -> Result<(), (usize, StoreError)>;

    /// Inserts a new user. Fails with [`StoreError::Conflict`] when its email or username
    /// is taken (case-insensitively), having written nothing.
    fn insert_user(&mut self, user: &UserRecord) -> Result<(), StoreError>;

    /// Replaces an existing user record. Email and username must not change here.
    fn update_user(&mut self, user: &UserRecord) -> Result<(), StoreError>;

    /// Replaces an existing user record whose email changed: the old address is freed and
    /// the new one taken. [`StoreError::Conflict`] when another account has it.
    fn change_email(&mut self, user: &UserRecord) -> Result<(), StoreError>;

    /// Removes a user with its passkeys, and frees its email, username and number index
    /// entries (the number itself is never handed out again). Returns whether the user
    /// existed.
    fn delete_user(&mut self, id: &str) -> Result<bool, StoreError>;

    /// Removes every pending code and credential (session codes, proofs, MFA pending
    /// credentials): what a new server key could not check. Returns how many.
    fn drop_pending_codes(&mut self) -> Result<u64, StoreError>;

    /// Records what the server key says of itself (see `server_key_check`).
    fn set_server_key_check(&mut self, check: &[u8]) -> Result<(), StoreError>;

    /// Inserts or replaces an MFA pending credential.
    fn put_mfa_pending(&mut self, hash: &[u8], rec: &MfaPendingRecord) -> Result<(), StoreError>;

    /// Removes an MFA pending credential.
    fn delete_mfa_pending(&mut self, hash: &[u8]) -> Result<(), StoreError>;

    /// Inserts or replaces an OpenID Connect grant.
    fn put_grant(&mut self, hash: &[u8], rec: &GrantRecord) -> Result<(), StoreError>;

    /// Removes an OpenID Connect grant.
    fn delete_grant(&mut self, hash: &[u8]) -> Result<(), StoreError>;

    /// Inserts a new passkey. Fails with [`StoreError::CredentialTaken`]
    /// when its credential id is taken, by this account or another, having written
    /// nothing.
    fn insert_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError>;

    /// Replaces an existing passkey (its name, counter, last use); the id and the
    /// account do not change.
    fn update_passkey(&mut self, rec: &PasskeyRecord) -> Result<(), StoreError>;

    /// Removes a passkey. Returns whether it existed.
    fn delete_passkey(&mut self, id: &[u8]) -> Result<bool, StoreError>;

    /// Inserts or replaces the proof of `purpose` for `subject`.
    fn put_proof(
        &mut self,
        purpose: ProofPurpose,
        subject: &str,
        rec: &ProofRecord,
    ) -> Result<(), StoreError>;

    /// Removes the proof of `purpose` for `subject`.
    fn delete_proof(&mut self, purpose: ProofPurpose, subject: &str) -> Result<(), StoreError>;

    /// Removes MFA pending credentials, proofs, OpenID Connect grants and WebAuthn
    /// ceremonies that expired before `now`, at most `limit` of each; returns how many
    /// went.
    fn sweep_challenges(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError>;

    /// Inserts or replaces a family.
    fn put_family(&mut self, family: &FamilyRecord) -> Result<(), StoreError>;

    /// Inserts or replaces what is known of the refresh token with this hash.
    fn put_refresh(&mut self, hash: &[u8], entry: &RefreshEntry) -> Result<(), StoreError>;

    /// Removes every family whose tokens all expired before `now` (revoked or not), with
    /// their token hashes. Returns how many families went.
    fn sweep_families(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError>;

    /// Removes entries of refresh tokens spent before `before`, at most `limit`: a family
    /// that lives for years keeps only its recent history. Returns how many went.
    fn sweep_spent_refresh(
        &mut self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<usize, StoreError>;

    /// Inserts or replaces a session code.
    fn put_session_code(&mut self, hash: &[u8], code: &SessionCodeRecord)
        -> Result<(), StoreError>;

    /// Removes a session code. Returns whether it existed.
    fn delete_session_code(&mut self, hash: &[u8]) -> Result<bool, StoreError>;

    /// Removes every session code mailed to `email`; returns how many.
    fn delete_session_codes_of(&mut self, email: &str) -> Result<usize, StoreError>;

    /// Removes session codes that expired before `now`, at most `limit`.
    fn sweep_session_codes(&mut self, now: UnixMillis, limit: usize) -> Result<usize, StoreError>;

    /// Inserts or replaces a signing key.
    fn put_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// Removes a signing key.
    fn delete_key(&mut self, kid: &str) -> Result<(), StoreError>;
}
