//! The records kept in the store. They are plain data, encoded by `codec` (postcard; JSON
//! in stores of schema 1 and 2); the service decides what they mean.

use serde::{Deserialize, Serialize};

use crate::rows::{sweep, Kind, Records, RecordsMut, Sweep};
use crate::time::UnixMillis;
use crate::StoreError;

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Normal account.
    Active,
    /// Created through a family that wants a verification step first (`v0`).
    Unverified,
    /// Switched off by an administrator.
    Disabled,
    /// Blocked by an administrator (families that tell blocked from disabled say so).
    Blocked,
}

/// One user. The same record serves every route family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Opaque id (`sub` of every token), 32 lowercase hex digits.
    pub id: String,
    /// Small integer id, unique and never reused (the `v0` family shows it).
    pub num: u64,
    /// Email as given at sign-up; uniqueness is case-insensitive.
    pub email: Option<String>,
    /// Username as given at sign-up; uniqueness is case-insensitive.
    pub username: Option<String>,
    /// Display name (`toolkit`), if any.
    pub display_name: Option<String>,
    /// Given names (`v0`), if any.
    pub first_name: Option<String>,
    /// Surname (`v0`), if any.
    pub last_name: Option<String>,
    /// Role claim of the user's tokens.
    pub role: String,
    /// Password hash as a PHC string; `None` for passwordless accounts.
    pub password_hash: Option<String>,
    /// Account state.
    pub state: AccountState,
    /// Creation time, Unix milliseconds.
    pub created_at: UnixMillis,
    /// Last change, Unix milliseconds.
    pub updated_at: UnixMillis,
    /// Last successful sign-in, Unix milliseconds.
    pub last_login_at: Option<UnixMillis>,
    /// TOTP second factor, pending or enabled (absent in records of older versions).
    #[serde(default)]
    pub mfa: Option<MfaRecord>,
    /// Whether the email was proven by a code mailed to it (schema 2; migrated from 1 as
    /// "proven" for passwordless accounts, which only a mailed code could have made).
    #[serde(default)]
    pub email_verified: bool,
}

/// A user's TOTP second factor.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaRecord {
    /// The TOTP secret, sealed (AEAD) with the server's key file: the store alone does not
    /// give it away.
    pub sealed_secret: String,
    /// `false` while enrolment waits for its first code.
    pub enabled: bool,
    /// The last TOTP time step accepted for this user (a code is accepted once).
    pub last_step: u64,
    /// When the secret was made, Unix milliseconds.
    pub enrolled_at: UnixMillis,
    /// Keyed hashes (hex) of the unused recovery codes.
    #[serde(default)]
    pub recovery: Vec<String>,
}

impl std::fmt::Debug for MfaRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A mailed session code, keyed by the keyed hash (HMAC) of the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCodeRecord {
    /// The address it was mailed to, as given.
    pub email: String,
    /// When it was made, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When it stops working, Unix milliseconds.
    pub expires_at: UnixMillis,
    /// Wrong MFA codes given with it so far.
    pub mfa_failures: u32,
}

/// A sign-in whose first factor was right and whose second is still to come (the
/// `toolkit` dialect's `mfaPendingCredential`), keyed by the SHA-256 of the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPendingRecord {
    /// The account.
    pub user_id: String,
    /// Methods of the first factor (`pwd`).
    pub amr: Vec<String>,
    /// When it was made, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When it stops working, Unix milliseconds.
    pub expires_at: UnixMillis,
    /// Wrong second factors given with it so far.
    pub failures: u32,
}

/// An OpenID Connect authorization: a code waiting for its exchange (keyed by the code's
/// SHA-256), or, once exchanged, the grant a refresh family was issued under (keyed by
/// the SHA-256 of `family:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The client it was given to.
    pub client_id: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The account.
    pub user_id: String,
    /// When the person signed in, Unix milliseconds (`auth_time`).
    pub auth_time: UnixMillis,
    /// How they signed in (`amr`).
    pub amr: Vec<String>,
    /// The client's `nonce`, echoed in the id token.
    pub nonce: Option<String>,
    /// The redirect URI the code was sent to (the exchange must name it); empty for a
    /// family's grant.
    pub redirect_uri: String,
    /// The PKCE challenge (S256), if the client sent one.
    pub code_challenge: Option<String>,
    /// When it was made, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When the store may forget it, Unix milliseconds.
    pub expires_at: UnixMillis,
    /// Once the code was exchanged: the family its tokens belong to (revoked when the
    /// code comes back).
    pub redeemed: Option<String>,
}

/// A passkey (a WebAuthn credential) of an account, keyed by its credential id: a
/// credential id belongs to one account only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRecord {
    /// The credential id, as the authenticator made it.
    pub id: Vec<u8>,
    /// The account.
    pub user_id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was registered, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When it last signed in, Unix milliseconds.
    pub last_used_at: Option<UnixMillis>,
    /// The credential as the relying-party library keeps it (public key, signature
    /// counter, flags), JSON. Public data: no secret of the account is in it.
    pub credential: String,
}

/// A WebAuthn ceremony under way (single use, minutes), keyed by the SHA-256 of its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyRecord {
    /// The account registering a passkey; `None` for a sign-in (the credential names it).
    pub user_id: Option<String>,
    /// The relying-party library's state of the ceremony (its challenge), JSON.
    pub state: String,
    /// When it was started, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When it stops working, Unix milliseconds.
    pub expires_at: UnixMillis,
}

impl Kind for CeremonyRecord {
    const TABLE: &'static str = "ceremony";

    fn expires_at(&self) -> Option<UnixMillis> {
        Some(self.expires_at)
    }
}

/// A group of users (access rules and apps name it), keyed by its name: 1 to 64 of
/// `a-z 0-9 _ -`, lower case (names compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Its name, lower case.
    pub name: String,
    /// What it is for, if said.
    pub description: Option<String>,
    /// When it was made.
    pub created_at: UnixMillis,
}

impl Kind for GroupRecord {
    const TABLE: &'static str = "group";
}

impl GroupRecord {
    /// `name` as groups are named (lower case), when it is one: 1 to 64 of
    /// `a-z 0-9 _ -` once lowered. The one rule, for the admin API, the command line and
    /// the configuration's access rules alike.
    pub fn normal_name(name: &str) -> Option<String> {
        let n = name.to_ascii_lowercase();
        let ok = (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        ok.then_some(n)
    }
}

/// A user's membership of a group, keyed by [`MemberRecord::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The group's name.
    pub group: String,
    /// The member.
    pub user_id: String,
    /// When it was added.
    pub added_at: UnixMillis,
}

impl MemberRecord {
    /// The key of `user_id`'s membership of `group`.
    pub fn key(group: &str, user_id: &str) -> Vec<u8> {
        format!("{group}\0{user_id}").into_bytes()
    }

    /// The group and the user of a [`MemberRecord::key`].
    fn parts(key: &[u8]) -> Option<(&str, &str)> {
        std::str::from_utf8(key).ok()?.split_once('\0')
    }
}

impl Kind for MemberRecord {
    const TABLE: &'static str = "member";

    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            (MEMBER_BY_USER, self.user_id.as_bytes().to_vec()),
            (MEMBER_BY_GROUP, self.group.as_bytes().to_vec()),
        ]
    }
}

/// The memberships of a user.
const MEMBER_BY_USER: &str = "member_by_user";
/// The members of a group.
const MEMBER_BY_GROUP: &str = "member_by_group";

/// The names of the groups `user_id` is a member of, sorted. From the index's keys alone
/// (every forward-auth request asks): no record is read.
pub fn groups_of<R: Records + ?Sized>(r: &R, user_id: &str) -> Result<Vec<String>, StoreError> {
    let mut names: Vec<String> = r
        .indexed(MEMBER_BY_USER, user_id.as_bytes())?
        .iter()
        .filter_map(|k| MemberRecord::parts(k).map(|(g, _)| g.to_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// The ids of the members of `group`, from the index's keys alone.
pub fn members_of<R: Records + ?Sized>(r: &R, group: &str) -> Result<Vec<String>, StoreError> {
    Ok(r.indexed(MEMBER_BY_GROUP, group.as_bytes())?
        .iter()
        .filter_map(|k| MemberRecord::parts(k).map(|(_, u)| u.to_owned()))
        .collect())
}

/// Removes every row of the table layer that belongs to `user_id` (the user is going):
/// memberships and linked identities. Both backends' user deletion calls it, so no door
/// can leave one behind.
pub(crate) fn drop_user_rows<W: RecordsMut + ?Sized>(
    w: &mut W,
    user_id: &str,
) -> Result<(), StoreError> {
    for (key, _) in w.find::<MemberRecord>(MEMBER_BY_USER, user_id.as_bytes())? {
        w.delete::<MemberRecord>(&key)?;
    }
    for (key, _) in w.find::<IdentityRecord>(IDENTITY_BY_USER, user_id.as_bytes())? {
        w.delete::<IdentityRecord>(&key)?;
    }
    Ok(())
}

/// An account's identity at an upstream OpenID Provider (`[[upstream]]`): the upstream's
/// `sub` signs this account in. Keyed by [`IdentityRecord::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// The upstream's id (`[[upstream]] id`).
    pub upstream: String,
    /// The upstream's `sub` for this person.
    pub subject: String,
    /// The account it signs in.
    pub user_id: String,
    /// The email the upstream gave when last used, if any (shown, never trusted).
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: UnixMillis,
    /// When it last signed in.
    pub last_used_at: Option<UnixMillis>,
    /// The groups its `groups_claim` made the account a member of (and only those are
    /// removed when the claim stops naming them).
    pub claimed_groups: Vec<String>,
}

impl IdentityRecord {
    /// The key of `subject` at `upstream` (an upstream id has no NUL).
    pub fn key(upstream: &str, subject: &str) -> Vec<u8> {
        format!("{upstream}\0{subject}").into_bytes()
    }
}

impl Kind for IdentityRecord {
    const TABLE: &'static str = "identity";

    fn indexes(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![(IDENTITY_BY_USER, self.user_id.as_bytes().to_vec())]
    }
}

/// The linked identities of a user.
const IDENTITY_BY_USER: &str = "identity_by_user";

/// The identities linked to `user_id`, by upstream and subject.
pub fn identities_of<R: Records + ?Sized>(
    r: &R,
    user_id: &str,
) -> Result<Vec<IdentityRecord>, StoreError> {
    Ok(
        r.find::<IdentityRecord>(IDENTITY_BY_USER, user_id.as_bytes())?
            .into_iter()
            .map(|(_, i)| i)
            .collect(),
    )
}

/// A sign-in through an upstream under way (single use, minutes), keyed by the SHA-256
/// of its `state`: what the callback checks the upstream's answer against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamFlowRecord {
    /// The upstream's id.
    pub upstream: String,
    /// The `nonce` the id token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Hex SHA-256 of the browser's flow cookie: the state works only in that browser.
    pub binding: String,
    /// Where to go afterwards (checked when the flow began).
    pub rd: Option<String>,
    /// The signed-in account to link the identity to; `None`: a sign-in.
    pub link_user: Option<String>,
    /// When it began.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
}

impl Kind for UpstreamFlowRecord {
    const TABLE: &'static str = "upstream_flow";

    fn expires_at(&self) -> Option<UnixMillis> {
        Some(self.expires_at)
    }
}

/// Removes `group` and every membership of it; whether it was there.
pub fn delete_group<W: RecordsMut + ?Sized>(w: &mut W, group: &str) -> Result<bool, StoreError> {
    for (key, _) in w.find::<MemberRecord>(MEMBER_BY_GROUP, group.as_bytes())? {
        w.delete::<MemberRecord>(&key)?;
    }
    Ok(w.delete::<GroupRecord>(group.as_bytes())?.is_some())
}

/// Every record kind of the table layer (see [`crate::rows`]): one line per kind. The
/// sweeper removes what each has due.
pub(crate) const KINDS: &[(&str, Sweep)] = &[
    (CeremonyRecord::TABLE, sweep::<CeremonyRecord>),
    (GroupRecord::TABLE, sweep::<GroupRecord>),
    (MemberRecord::TABLE, sweep::<MemberRecord>),
    (IdentityRecord::TABLE, sweep::<IdentityRecord>),
    (UpstreamFlowRecord::TABLE, sweep::<UpstreamFlowRecord>),
    (crate::AuditRecord::TABLE, sweep::<crate::AuditRecord>),
    (crate::DeliveryRecord::TABLE, sweep::<crate::DeliveryRecord>),
    (
        crate::FailedDeliveryRecord::TABLE,
        sweep::<crate::FailedDeliveryRecord>,
    ),
];

/// What a mailed proof code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofPurpose {
    /// The account's own email (asked for by a signed-in session); subject: the user id.
    VerifyEmail,
    /// A password reset; subject: the user id.
    ResetPassword,
    /// A new address for the account (the record's `email`); subject: the user id.
    ChangeEmail,
    /// The index of a live email-verification code, for the dialects that send the code
    /// alone: subject: the keyed hash of the code; the record's `email`: the account's
    /// address. It finds the account; the account's own proof decides.
    VerifyEmailCode,
    /// The index of a live reset code (as `VerifyEmailCode`).
    ResetPasswordCode,
}

/// A code mailed to prove something for one subject (a user id), keyed by purpose and
/// subject: one live code per purpose and subject; a new one replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRecord {
    /// Hex of the keyed hash of the code.
    pub code_hash: String,
    /// The address the code was mailed to (what it proves).
    pub email: String,
    /// When it was made, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When it stops working, Unix milliseconds.
    pub expires_at: UnixMillis,
    /// Wrong codes given so far.
    pub failures: u32,
}

/// Why a family stopped being usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When, Unix milliseconds.
    pub at: UnixMillis,
    /// Why: `reuse`, `logout`, `user_deleted`, `user_disabled`, ...
    pub reason: String,
}

/// A refresh-token family: one sign-in and every token rotated out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyRecord {
    /// Family id (`sid` claim), 32 lowercase hex digits.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Authentication methods of the sign-in that started it (`amr` claim).
    pub amr: Vec<String>,
    /// Start of the family, Unix milliseconds.
    pub created_at: UnixMillis,
    /// Last rotation, Unix milliseconds.
    pub rotated_at: UnixMillis,
    /// The family's newest token stops working at this time, Unix milliseconds.
    pub expires_at: UnixMillis,
    /// Hex SHA-256 of the family's current (newest, unspent) refresh token.
    pub current_token: String,
    /// Set once the family is revoked; a revoked family never comes back.
    pub revoked: Option<Revocation>,
}

impl UserRecord {
    /// A new account made at `now`: active, role `user`, no name, email, password or
    /// second factor, number 0 until the store allocates one. Callers set what they know
    /// with struct-update syntax.
    pub fn new(id: String, now: UnixMillis) -> UserRecord {
        UserRecord {
            id,
            num: 0,
            email: None,
            username: None,
            display_name: None,
            first_name: None,
            last_name: None,
            role: "user".into(),
            password_hash: None,
            state: AccountState::Active,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            mfa: None,
            email_verified: false,
        }
    }
}

impl FamilyRecord {
    /// Whether the family still stands for a signed-in session at `now` (Unix ms): not
    /// revoked and not expired. The one definition every door uses.
    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.revoked.is_none() && now < self.expires_at
    }
}

/// What the store knows of one refresh token, keyed by the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshEntry {
    /// The family it belongs to.
    pub family_id: String,
    /// When it was issued, Unix milliseconds.
    pub issued_at: UnixMillis,
    /// When it was rotated out (spent), Unix milliseconds; `None` while it is current.
    pub spent_at: Option<UnixMillis>,
    /// Times it was presented again, spent, within the reuse interval (tolerated, bounded).
    #[serde(default)]
    pub replays: u32,
}

impl RefreshEntry {
    /// The entry of a token just issued in family `family_id` at `now` (Unix ms): current,
    /// never replayed.
    pub fn issued(family_id: &str, now: UnixMillis) -> RefreshEntry {
        RefreshEntry {
            family_id: family_id.to_owned(),
            issued_at: now,
            spent_at: None,
            replays: 0,
        }
    }
}

/// A signing key. `alg` fixes the algorithm the key may be used with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// Key id: the JWT `kid`, or the PASERK id for PASETO keys.
    pub kid: String,
    /// `jwt:EdDSA`, `jwt:ES256`, `jwt:HS256`, `paseto:v4.public` or `paseto:v4.local`.
    pub alg: String,
    /// Secret key material (PKCS#8 document, or raw secret for symmetric keys).
    pub secret: Vec<u8>,
    /// Creation time, Unix milliseconds.
    pub created_at: UnixMillis,
    /// When the key stopped signing, Unix milliseconds; it still verifies for one
    /// access-token lifetime after that.
    pub retired_at: Option<UnixMillis>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// The store key of the proof of `purpose` for `subject`.
pub(crate) fn proof_key(purpose: ProofPurpose, subject: &str) -> String {
    format!("{}:{subject}", purpose_name(purpose))
}

const PURPOSES: [ProofPurpose; 5] = [
    ProofPurpose::VerifyEmail,
    ProofPurpose::ResetPassword,
    ProofPurpose::ChangeEmail,
    ProofPurpose::VerifyEmailCode,
    ProofPurpose::ResetPasswordCode,
];

fn purpose_name(purpose: ProofPurpose) -> &'static str {
    match purpose {
        ProofPurpose::VerifyEmail => "verify_email",
        ProofPurpose::ResetPassword => "reset_password",
        ProofPurpose::ChangeEmail => "change_email",
        ProofPurpose::VerifyEmailCode => "verify_email_code",
        ProofPurpose::ResetPasswordCode => "reset_password_code",
    }
}

/// The purpose and subject a [`proof_key`] was made of.
pub(crate) fn parse_proof_key(key: &str) -> Option<(ProofPurpose, String)> {
    let (name, subject) = key.split_once(':')?;
    let purpose = PURPOSES.into_iter().find(|p| purpose_name(*p) == name)?;
    Some((purpose, subject.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_keys_name_their_purpose_and_parse_back() {
        for p in PURPOSES {
            let key = proof_key(p, "abc:def");
            assert_eq!(parse_proof_key(&key), Some((p, "abc:def".to_owned())));
        }
        assert_eq!(
            proof_key(ProofPurpose::VerifyEmail, "u1"),
            "verify_email:u1"
        );
        assert_eq!(parse_proof_key("nope:u1"), None);
    }
}
