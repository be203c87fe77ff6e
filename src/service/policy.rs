//! The account policy: every rule about whether an account may act, and with what proof,
//! defined once. Every door (the four families, the portal, OIDC, passkeys, recovery, the
//! admin API) calls these; none keeps a copy. This module imports no door.
//!
//! - [`may_act`]: which account states may sign in or act (an unverified account may
//!   when the proof activates it).
//! - [`decide`]: the sign-in pipeline. A door checks its [`Factor`] (a password, a
//!   mailed code, a passkey, the second step of a pending sign-in) and asks here what
//!   follows: refused (why), a second factor needed, or signed in (with the `amr`).
//! - [`second_factor`]: a TOTP code (once) or a recovery code (spent).
//! - [`signed_in_recently`]: the freshness a sensitive change asks for.
//! - [`mailbox_owner_wins`]: an address proven for the first time takes the account.
//! - [`account_key`], [`lockout_key`]: what the lockout counts.
//! - [`revoke_all`], [`end_session`], [`live_family`]: sessions.
//! - [`acr_of`], [`meets_acr`], [`fresh_enough`], [`silent_logout`]: what an app may be
//!   told about a sign-in (OpenID Connect's `acr`, `prompt=login`, `max_age`,
//!   `id_token_hint`, and RP-initiated logout).

use std::time::Duration;

use crate::clock::UnixMillis;
use protocol::Failure;
use storage::{
    AccountState, FamilyRecord, RecordsMut as _, Revocation, StoreError, UserRecord, Write,
};

use super::codes::normalize;
use super::{internal, Abort};
use crate::primitives::{hex, sha256};
use crate::secrets::ServerKey;
use crate::totp;

/// The `amr` values a second factor adds to a sign-in's.
pub(super) const MFA_AMR: [&str; 2] = ["otp", "mfa"];
/// The `amr` of a passkey sign-in (RFC 8176: proof of possession of a hardware-secured
/// key; user verification is required, so it stands alone).
pub const PASSKEY_AMR: &str = "hwk";
/// The `amr` of a sign-in through an upstream OpenID Provider (an external proof).
pub const UPSTREAM_AMR: &str = "ext";
/// Wrong second factors (or codes) a pending sign-in or a mailed code survives.
pub const MAX_MFA_FAILURES: u32 = 5;
/// Characters of a recovery code (5 bits each: 50 bits).
pub const RECOVERY_LEN: usize = 10;
/// How recent a sign-in must be to change the password without the current one (an
/// account that has none, or the identity-toolkit dialect), or to add a passkey.
pub const RECENT_SIGN_IN: Duration = Duration::from_secs(5 * 60);
/// How long after an app sent a browser to the login page a sign-in made there counts
/// as the fresh one the app asked for (`prompt=login`, `max_age`).
pub const LOGIN_STAMP_LIFE: Duration = Duration::from_secs(10 * 60);

/// The lockout key of an account.
pub(super) fn account_key(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The lockout key of a sign-in: the account when it exists, else the login as typed
/// (canonical when it can be), so unknown accounts are counted and locked the same way.
/// The key is fixed-size whatever the login's length (a digest of it), so the in-memory
/// lockout table stays small however long the logins an attacker sends.
pub(super) fn lockout_key(user: Option<&UserRecord>, login: &str) -> String {
    match user {
        Some(u) => account_key(&u.id),
        None => format!("login:{}", hex(&sha256(login.to_lowercase().as_bytes()))),
    }
}

/// Whether a refusal is a wrong credential, which counts toward the lockout of the
/// account and the source it came from (a wrong password, second factor, passkey or
/// code), unlike a refusal that says nothing of the credential (a disabled account, a
/// full queue).
pub(super) fn counts_toward_lockout(f: &Failure) -> bool {
    matches!(
        f,
        Failure::InvalidCredentials
            | Failure::InvalidMfaCode
            | Failure::InvalidPasskey
            | Failure::InvalidCode
            | Failure::InvalidSessionCode
    )
}

/// Whether an account in `state` may sign in or act. `activate`: the proof at hand
/// activates an unverified account (a password at a door that allows it, a mailed code,
/// a reset code), so that account may.
pub(super) fn may_act(state: AccountState, activate: bool) -> Result<(), Failure> {
    match state {
        AccountState::Active => Ok(()),
        AccountState::Unverified if activate => Ok(()),
        AccountState::Unverified => Err(Failure::Unverified),
        AccountState::Disabled => Err(Failure::Disabled),
        AccountState::Blocked => Err(Failure::Blocked),
    }
}

/// Whether the account has a confirmed second factor.
pub(super) fn mfa_enabled(u: &UserRecord) -> bool {
    u.mfa.as_ref().is_some_and(|m| m.enabled)
}

/// Whether `family` is a live session of `user_id`.
pub(super) fn live_family(family: &FamilyRecord, user_id: &str, now: UnixMillis) -> bool {
    family.is_live(now) && family.user_id == user_id
}

/// Whether a session that signed in at `signed_in_at` did so within
/// [`RECENT_SIGN_IN`] of `now`.
pub fn signed_in_recently(signed_in_at: UnixMillis, now: UnixMillis) -> bool {
    signed_in_at >= now - RECENT_SIGN_IN
}

/// Whether an account keeps a way in without the one about to go: a password, a
/// passkey, a linked identity (counts without the one going), or a proven address while
/// mailed sign-in codes are on (`codes`). Removing a passkey and unlinking an identity
/// both ask.
pub(super) fn another_way_in(
    user: &UserRecord,
    passkeys: usize,
    identities: usize,
    codes: bool,
) -> bool {
    user.password_hash.is_some()
        || passkeys > 0
        || identities > 0
        || (codes && user.email.is_some() && user.email_verified)
}

/// Which account an upstream identity signs in, by the linking rules (API.md Part 3):
/// what the store holds is read by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Linking {
    /// The identity is linked to this account.
    Linked(String),
    /// Link the identity to this account, whose proven address the upstream verified.
    ByEmail(String),
    /// An account holds the address but may not be linked so (never proven here, or the
    /// upstream did not verify it, or `link = "none"`): sign in the usual way and link
    /// from the account page. Nothing is created.
    LinkFromAccount,
    /// Nobody here: a new account.
    SignUp,
    /// Nobody here and sign-up is off.
    NoAccount,
}

/// The linking rules: an identity already linked signs its account in; else one whose
/// verified upstream email is an account's **proven** address here is linked to it (only
/// with `by_email`); an address held here but never proven is never linked on the
/// upstream's word (the account may be a pre-hijacker's); else a stranger signs up only
/// with `signup`.
pub(super) fn link_identity(
    linked: Option<&str>,
    holder: Option<&UserRecord>,
    email_verified_upstream: bool,
    by_email: bool,
    signup: bool,
) -> Linking {
    if let Some(id) = linked {
        return Linking::Linked(id.to_owned());
    }
    match holder {
        Some(u) if by_email && email_verified_upstream && u.email_verified => {
            Linking::ByEmail(u.id.clone())
        }
        Some(_) => Linking::LinkFromAccount,
        None if signup => Linking::SignUp,
        None => Linking::NoAccount,
    }
}

/// The first proof of a sign-in, already checked by its door.
#[derive(Debug, Clone, Copy)]
pub(super) enum Factor<'a> {
    /// The account's password; `activate`: the door lets it activate an unverified
    /// account.
    Password { activate: bool },
    /// A code mailed to the account's address (it proves the address: it activates).
    MailedCode,
    /// A passkey with user verification: two factors in one.
    Passkey,
    /// The second step of a sign-in whose first factor (`amr`) was accepted earlier.
    SecondStep { amr: &'a [String] },
    /// An identity an upstream OpenID Provider vouched for (`[[upstream]]`); `mfa`: its
    /// second factor counts here (`trust_mfa`, and the upstream's `amr` says `mfa`).
    Upstream { mfa: bool },
}

impl Factor<'_> {
    fn activates(self) -> bool {
        match self {
            Factor::Password { activate } => activate,
            Factor::MailedCode => true,
            Factor::Passkey | Factor::SecondStep { .. } | Factor::Upstream { .. } => false,
        }
    }

    fn amr(self) -> Vec<String> {
        match self {
            Factor::Password { .. } => vec!["pwd".into()],
            Factor::MailedCode => vec!["otp".into()],
            Factor::Passkey => vec![PASSKEY_AMR.into()],
            Factor::SecondStep { amr } => amr.to_vec(),
            Factor::Upstream { mfa: false } => vec![UPSTREAM_AMR.into()],
            Factor::Upstream { mfa: true } => vec![UPSTREAM_AMR.into(), "mfa".into()],
        }
    }
}

/// What the account policy decides about a sign-in whose first factor was right.
#[derive(Debug)]
pub(super) enum Decision {
    /// Refused: the account may not sign in, or the second factor is wrong.
    Refused(Failure),
    /// The account has a second factor and none was given.
    SecondFactorNeeded,
    /// Signed in with these `amr` values. The record is updated (activated, a spent
    /// recovery code or TOTP step, the time of this sign-in); the door writes it.
    SignedIn(Vec<String>),
}

/// The sign-in pipeline: the account's state, then its second factor (`second`, when the
/// request carries one), for a first `factor` the door has checked. On
/// [`Decision::SignedIn`], `user` is updated for the door to write.
pub(super) fn decide(
    key: &ServerKey,
    user: &mut UserRecord,
    factor: Factor<'_>,
    second: Option<&str>,
    now: UnixMillis,
) -> Result<Decision, Abort> {
    if let Err(refusal) = may_act(user.state, factor.activates()) {
        return Ok(Decision::Refused(refusal));
    }
    let mut amr = factor.amr();
    let wants_second = match factor {
        Factor::Passkey | Factor::Upstream { mfa: true } => false,
        Factor::SecondStep { .. } => true,
        Factor::Upstream { mfa: false } => mfa_enabled(user),
        Factor::Password { .. } | Factor::MailedCode => mfa_enabled(user),
    };
    if wants_second {
        let Some(given) = second else {
            return Ok(Decision::SecondFactorNeeded);
        };
        let now_s = u64::try_from(now.secs()).unwrap_or(0);
        if !second_factor(key, user, given, now_s)? {
            return Ok(Decision::Refused(Failure::InvalidMfaCode));
        }
        for m in MFA_AMR {
            if !amr.iter().any(|a| a == m) {
                amr.push(m.into());
            }
        }
    }
    if user.state == AccountState::Unverified {
        user.state = AccountState::Active;
        user.updated_at = now;
    }
    user.last_login_at = Some(now);
    Ok(Decision::SignedIn(amr))
}

/// The keyed hash a recovery code of `user_id` is stored under.
pub(super) fn recovery_hash(key: &ServerKey, user_id: &str, normalized: &str) -> String {
    hex(&key.code_hash(&format!("recovery:{user_id}:{normalized}")))
}

/// The hash the first release stored a recovery code under.
fn legacy_recovery_hash(key: &ServerKey, user_id: &str, normalized: &str) -> String {
    hex(&key.legacy_code_hash(&format!("recovery:{user_id}:{normalized}")))
}

/// Checks a second factor for a user with TOTP on: a TOTP code (accepted once), or else
/// one of the user's recovery codes (spent by its use). Updates the record on success.
pub(super) fn second_factor(
    key: &ServerKey,
    u: &mut UserRecord,
    given: &str,
    now_s: u64,
) -> Result<bool, Abort> {
    use subtle::ConstantTimeEq as _;
    let id = u.id.clone();
    let Some(mfa) = u.mfa.as_mut().filter(|m| m.enabled) else {
        return Ok(false);
    };
    if given.len() == totp::DIGITS && given.bytes().all(|b| b.is_ascii_digit()) {
        let secret = key.open(&mfa.sealed_secret, &id).map_err(|e| {
            internal("mfa secret", e);
            Abort::Internal
        })?;
        return Ok(match totp::check(&secret, given, now_s, mfa.last_step) {
            Some(step) => {
                mfa.last_step = step;
                true
            }
            None => false,
        });
    }
    let Some(n) = normalize(given, RECOVERY_LEN) else {
        return Ok(false);
    };
    let h = recovery_hash(key, &id, &n);
    let old = legacy_recovery_hash(key, &id, &n);
    let mut found = None;
    for (i, stored) in mfa.recovery.iter().enumerate() {
        let eq = stored.as_bytes().ct_eq(h.as_bytes()) | stored.as_bytes().ct_eq(old.as_bytes());
        if bool::from(eq) {
            found = Some(i);
        }
    }
    Ok(match found {
        Some(i) => {
            mfa.recovery.remove(i);
            true
        }
        None => false,
    })
}

/// Revokes every live family of `user_id` inside the caller's transaction. Returns how
/// many.
pub(super) fn revoke_all(
    w: &mut dyn Write,
    user_id: &str,
    reason: &str,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    revoke_all_but(w, user_id, None, reason, now)
}

/// [`revoke_all`], but the family `keep` (the session that asked).
pub(super) fn revoke_all_but(
    w: &mut dyn Write,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in w.family_ids_of_user(user_id)? {
        if keep == Some(id.as_str()) {
            continue;
        }
        if let Some(mut f) = w.family(&id)? {
            if end_session(w, &mut f, reason, now)? {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Ends the session `family` for `reason` inside the caller's transaction, unless it
/// has ended already. Returns whether it ended now.
pub(super) fn end_session(
    w: &mut dyn Write,
    family: &mut FamilyRecord,
    reason: &str,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    if family.revoked.is_some() {
        return Ok(false);
    }
    family.revoked = Some(Revocation {
        at: now,
        reason: reason.into(),
    });
    w.put_family(family)?;
    Ok(true)
}

/// What [`mailbox_owner_wins`] removed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Claimed {
    /// Sessions revoked.
    pub revoked: usize,
    /// Whether anything was set up without the proof (a password, a second factor,
    /// passkeys, sessions).
    pub removed: bool,
}

/// An address proven for the first time (a mailed code, a reset code) takes the
/// account: whatever was set up without that proof (password, second factor, passkeys,
/// linked upstream identities, sessions) goes; the account keeps its id. Call only when `!user.email_verified`;
/// marks the address proven. The door writes `user`.
pub(super) fn mailbox_owner_wins(
    w: &mut dyn Write,
    user: &mut UserRecord,
    reason: &str,
    now: UnixMillis,
) -> Result<Claimed, StoreError> {
    let revoked = revoke_all(w, &user.id, reason, now)?;
    let passkeys = w.passkeys_of(&user.id)?;
    for p in &passkeys {
        w.delete_passkey(&p.id)?;
    }
    let identities = storage::identities_of(w, &user.id)?;
    for i in &identities {
        for g in &i.claimed_groups {
            w.delete::<storage::MemberRecord>(&storage::MemberRecord::key(g, &user.id))?;
        }
        w.delete::<storage::IdentityRecord>(&storage::IdentityRecord::key(
            &i.upstream,
            &i.subject,
        ))?;
    }
    let removed = user.password_hash.is_some()
        || user.mfa.is_some()
        || revoked > 0
        || !passkeys.is_empty()
        || !identities.is_empty();
    user.password_hash = None;
    user.mfa = None;
    user.email_verified = true;
    user.updated_at = now;
    Ok(Claimed { revoked, removed })
}

/// The `acr` of a sign-in with one factor.
pub const ACR_ONE_FACTOR: &str = "urn:latchkey:loa:1";
/// The `acr` of a sign-in with two factors: a second factor after the first (`amr`
/// `mfa`), or a passkey with user verification (`hwk`: something held, and the PIN or
/// biometric that unlocked it).
pub const ACR_TWO_FACTORS: &str = "urn:latchkey:loa:2";

/// The `acr` (Authentication Context Class Reference) of a sign-in made with `amr`.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa" || m == PASSKEY_AMR) {
        ACR_TWO_FACTORS
    } else {
        ACR_ONE_FACTOR
    }
}

/// Whether a sign-in made with `amr` counts two factors (what `two_factor` access rules,
/// step-up, `require_mfa` and the admin pages ask for).
pub fn two_factors(amr: &[String]) -> bool {
    acr_of(amr) == ACR_TWO_FACTORS
}

/// Whether a sign-in made with `amr` meets an app's essential `acr` values (none asked:
/// it does).
pub fn meets_acr(amr: &[String], wanted: Option<&[String]>) -> bool {
    wanted.is_none_or(|vs| vs.iter().any(|x| x == acr_of(amr)))
}

/// What an app asks of the sign-in it will be handed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted<'a> {
    /// `prompt=login`: a sign-in made for this request.
    pub login: bool,
    /// `max_age`, seconds: a sign-in at most this old.
    pub max_age: Option<u64>,
    /// When this very request sent the browser to the login page (a stamp the server
    /// made for it).
    pub sent_to_login_at: Option<UnixMillis>,
    /// The user an `id_token_hint` names.
    pub hinted: Option<&'a str>,
}

/// Whether the sign-in of `user_id` at `signed_in_at` is fresh enough for `wanted`. A
/// sign-in made after the browser was sent to the login page (at most
/// [`LOGIN_STAMP_LIFE`] ago) satisfies `prompt=login` and `max_age`. Someone else than
/// the hint's user is never handed over silently: only once through the login page.
pub fn fresh_enough(
    wanted: &Wanted<'_>,
    user_id: &str,
    signed_in_at: UnixMillis,
    now: UnixMillis,
) -> bool {
    let after = wanted
        .sent_to_login_at
        .is_some_and(|t| now.since(t) <= LOGIN_STAMP_LIFE && signed_in_at >= t);
    let hint_ok = wanted.hinted.is_none_or(|sub| sub == user_id) || after;
    let login_ok = !wanted.login || after;
    let age_ok = wanted
        .max_age
        .is_none_or(|m| after || now.since(signed_in_at) <= Duration::from_secs(m));
    login_ok && age_ok && hint_ok
}

/// Whether an app may sign `user_id` out without asking: only when its own unexpired id
/// token (`hinted`, `fresh`) names this person and the request comes from this site (a
/// cross-site GET with an old id token, which any page can send, is asked about).
pub fn silent_logout(hinted: Option<(&str, bool)>, user_id: &str, same_site: bool) -> bool {
    hinted.is_some_and(|(sub, fresh)| sub == user_id && fresh && same_site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_login_keys_are_bounded_and_case_folded() {
        let long = "A".repeat(60_000);
        let k = lockout_key(None, &long);
        assert_eq!(k.len(), "login:".len() + 64);
        assert_eq!(k, lockout_key(None, &long.to_lowercase()));
        assert_ne!(k, lockout_key(None, "other"));
    }

    fn amr(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_factors_are_a_second_factor_or_a_verified_passkey() {
        assert_eq!(acr_of(&amr(&["pwd"])), ACR_ONE_FACTOR);
        assert_eq!(acr_of(&amr(&["email"])), ACR_ONE_FACTOR);
        assert_eq!(acr_of(&amr(&["pwd", "otp", "mfa"])), ACR_TWO_FACTORS);
        assert_eq!(acr_of(&amr(&["hwk"])), ACR_TWO_FACTORS);
        assert!(meets_acr(&amr(&["pwd"]), None));
        assert!(!meets_acr(&amr(&["pwd"]), Some(&[ACR_TWO_FACTORS.into()])));
    }

    #[test]
    fn only_a_proof_that_activates_lets_an_unverified_account_in() {
        assert!(may_act(AccountState::Unverified, true).is_ok());
        assert!(matches!(
            may_act(AccountState::Unverified, false),
            Err(Failure::Unverified)
        ));
        assert!(matches!(
            may_act(AccountState::Disabled, true),
            Err(Failure::Disabled)
        ));
        assert!(matches!(
            may_act(AccountState::Blocked, true),
            Err(Failure::Blocked)
        ));
    }

    #[test]
    fn a_second_factor_is_asked_of_an_account_that_has_one() {
        let key = ServerKey::from_master(&[7; 32]);
        let mut u = UserRecord::new("u1".into(), UnixMillis::from_millis(0));
        u.state = AccountState::Unverified;
        let d = decide(
            &key,
            &mut u,
            Factor::MailedCode,
            None,
            UnixMillis::from_millis(5),
        )
        .unwrap();
        assert!(matches!(d, Decision::SignedIn(ref a) if *a == ["otp"]));
        assert_eq!(u.state, AccountState::Active);
        assert_eq!(u.last_login_at, Some(UnixMillis::from_millis(5)));
        u.mfa = Some(storage::MfaRecord {
            sealed_secret: String::new(),
            enabled: true,
            last_step: 0,
            enrolled_at: UnixMillis::from_millis(0),
            recovery: Vec::new(),
        });
        let d = decide(
            &key,
            &mut u,
            Factor::Password { activate: false },
            None,
            UnixMillis::from_millis(6),
        )
        .unwrap();
        assert!(matches!(d, Decision::SecondFactorNeeded));
        let d = decide(
            &key,
            &mut u,
            Factor::Passkey,
            None,
            UnixMillis::from_millis(6),
        )
        .unwrap();
        assert!(matches!(d, Decision::SignedIn(ref a) if *a == ["hwk"]));
        let d = decide(
            &key,
            &mut u,
            Factor::MailedCode,
            Some("ABCDE-FGHJK"),
            UnixMillis::from_millis(6),
        )
        .unwrap();
        assert!(matches!(d, Decision::Refused(Failure::InvalidMfaCode)));
    }

    #[test]
    fn an_upstream_identity_takes_only_a_proven_address() {
        let mut holder = UserRecord::new("u1".into(), UnixMillis::from_millis(0));
        let linked = link_identity(Some("u9"), Some(&holder), true, true, true);
        assert_eq!(linked, Linking::Linked("u9".into()));
        // Never proven here: the account may be a pre-hijacker's.
        let l = link_identity(None, Some(&holder), true, true, true);
        assert_eq!(l, Linking::LinkFromAccount);
        holder.email_verified = true;
        let l = link_identity(None, Some(&holder), true, true, true);
        assert_eq!(l, Linking::ByEmail("u1".into()));
        // The upstream did not verify it, or linking by email is off.
        let l = link_identity(None, Some(&holder), false, true, true);
        assert_eq!(l, Linking::LinkFromAccount);
        let l = link_identity(None, Some(&holder), true, false, true);
        assert_eq!(l, Linking::LinkFromAccount);
        assert_eq!(link_identity(None, None, true, true, true), Linking::SignUp);
        assert_eq!(
            link_identity(None, None, true, true, false),
            Linking::NoAccount
        );
    }

    #[test]
    fn an_upstream_second_factor_counts_only_when_trusted() {
        let key = ServerKey::from_master(&[7; 32]);
        let mut u = UserRecord::new("u1".into(), UnixMillis::from_millis(0));
        u.mfa = Some(storage::MfaRecord {
            sealed_secret: String::new(),
            enabled: true,
            last_step: 0,
            enrolled_at: UnixMillis::from_millis(0),
            recovery: Vec::new(),
        });
        let now = UnixMillis::from_millis(5);
        let d = decide(&key, &mut u, Factor::Upstream { mfa: false }, None, now).unwrap();
        assert!(matches!(d, Decision::SecondFactorNeeded));
        let d = decide(&key, &mut u, Factor::Upstream { mfa: true }, None, now).unwrap();
        assert!(matches!(d, Decision::SignedIn(ref a) if *a == ["ext", "mfa"]));
        assert_eq!(acr_of(&["ext".into(), "mfa".into()]), ACR_TWO_FACTORS);
        u.state = AccountState::Disabled;
        let d = decide(&key, &mut u, Factor::Upstream { mfa: true }, None, now).unwrap();
        assert!(matches!(d, Decision::Refused(Failure::Disabled)));
    }

    #[test]
    fn a_fresh_sign_in_is_one_made_after_the_app_asked() {
        let w = Wanted {
            login: true,
            sent_to_login_at: Some(UnixMillis::from_millis(1_000)),
            ..Wanted::default()
        };
        let at = UnixMillis::from_millis;
        assert!(fresh_enough(&w, "u", at(1_500), at(2_000)));
        assert!(!fresh_enough(&w, "u", at(500), at(2_000)));
        let stale = at(1_000) + LOGIN_STAMP_LIFE + Duration::from_millis(1);
        assert!(!fresh_enough(&w, "u", at(1_500), stale));
        let hinted = Wanted {
            hinted: Some("v"),
            ..Wanted::default()
        };
        assert!(!fresh_enough(&hinted, "u", at(0), at(10)));
        assert!(fresh_enough(&hinted, "v", at(0), at(10)));
        let aged = Wanted {
            max_age: Some(1),
            ..Wanted::default()
        };
        assert!(fresh_enough(&aged, "u", at(0), at(1_000)));
        assert!(!fresh_enough(&aged, "u", at(0), at(1_001)));
        assert!(silent_logout(Some(("u", true)), "u", true));
        assert!(!silent_logout(Some(("u", true)), "u", false));
        assert!(!silent_logout(Some(("u", false)), "u", true));
        assert!(!silent_logout(Some(("v", true)), "u", true));
    }
}
