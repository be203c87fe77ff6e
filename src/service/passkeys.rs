//! Passkeys: WebAuthn credentials as a first factor that needs no second one (user
//! verification required), on `webauthn-rs`.
//!
//! A ceremony (registration or sign-in) starts with a challenge whose state is kept in
//! the store under the SHA-256 of a random ceremony id: single use (the finish deletes it
//! whatever the outcome), 5 minutes. A sign-in names no account: the authenticator picks
//! a discoverable credential, its id finds the passkey, and the `userHandle` it returns
//! must be the handle of the passkey's account. The signature counter may not go
//! backwards. Every refusal is the one [`Failure::InvalidPasskey`]: which check failed
//! is logged, never told.

use crate::clock::UnixMillis;
use std::time::Duration;

use protocol::{Failure, Outcome, PasskeyView};
use serde_json::Value;
use storage::{
    CeremonyRecord, PasskeyRecord, Records as _, RecordsMut as _, StoreError, UserRecord,
};
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::events::Event;
use super::policy::{
    account_key, another_way_in, decide, signed_in_recently, Decision, Factor, PASSKEY_AMR,
};
use super::principal::Principal;
use super::refresh::{new_opaque_token, Issue};
use super::{internal, refused, store_failure, Service};
use crate::config::PasskeySettings;
use crate::limits::Source;
use crate::primitives::{b64url, b64url_decode, sha256};

/// How long a ceremony may take, milliseconds (what the options tell browsers too).
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);
/// Longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most passkeys one account may hold.
pub const MAX_PER_ACCOUNT: usize = 32;
/// Longest credential id, bytes (WebAuthn L3 §5.1: at most 1023).
pub const MAX_CREDENTIAL_ID: usize = 1023;

/// The relying party: `webauthn-rs` configured from `[passkeys]`.
pub fn relying_party(p: &PasskeySettings) -> Result<Webauthn, WebauthnError> {
    let first = p.origins.first().ok_or(WebauthnError::Configuration)?;
    let mut b = WebauthnBuilder::new(&p.rp_id, first)?.rp_name(&p.rp_name);
    for o in p.origins.iter().skip(1) {
        b = b.append_allowed_origin(o);
    }
    b.build()
}

/// The WebAuthn user handle of an account: derived from its id (ids of imported accounts
/// are not UUIDs), the same on every node, no secret in it.
pub fn user_handle(user_id: &str) -> Uuid {
    let h = sha256(format!("latchkey passkey user handle v1\0{user_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(h.get(..16).unwrap_or(&[0; 16]));
    Uuid::from_bytes(b)
}

/// A passkey as the families show it.
pub fn passkey_view(p: &PasskeyRecord) -> PasskeyView {
    PasskeyView {
        id: b64url(&p.id),
        name: p.name.clone(),
        created_at: p.created_at.millis(),
        last_used_at: p.last_used_at.map(UnixMillis::millis),
    }
}

/// A name for a passkey: trimmed, 1 to [`MAX_NAME_CHARS`] characters, none of them a
/// control or an invisible one (bidi overrides included: the rule of every name shown).
pub fn checked_name(name: &str) -> Option<String> {
    protocol::fields::plain_text(name, MAX_NAME_CHARS).map(str::to_owned)
}

/// The origins a ceremony may come from, as browsers serialise them (RFC 6454: scheme,
/// lower-case host, port when not the default; no path, no trailing slash).
pub fn serialized_origins(p: &PasskeySettings) -> Vec<String> {
    p.origins
        .iter()
        .map(|o| o.origin().ascii_serialization())
        .collect()
}

/// The checks of WebAuthn L3 §7.1 step 9-10 / §7.2 step 13-14 that `webauthn-rs` makes
/// loosely: the client data's `origin` is one of `origins` exactly (compared as strings,
/// as the browser wrote it: an upper-case host or a trailing slash is another origin),
/// and the ceremony did not run in a cross-origin frame (`crossOrigin` absent or false,
/// no `topOrigin`).
pub fn client_data_ok(credential: &Value, origins: &[String]) -> Result<(), &'static str> {
    let data = credential
        .pointer("/response/clientDataJSON")
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .ok_or("client data is not base64url")?;
    let data: Value = serde_json::from_slice(&data).map_err(|_| "client data is not JSON")?;
    let origin = data
        .get("origin")
        .and_then(Value::as_str)
        .ok_or("client data without an origin")?;
    if !origins.iter().any(|o| o == origin) {
        return Err("origin is not exactly one of passkeys.origins");
    }
    match data.get("crossOrigin") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => return Err("a cross-origin ceremony"),
    }
    if data.get("topOrigin").is_some() {
        return Err("a ceremony in a frame of another origin");
    }
    Ok(())
}

/// Parses the authenticator's JSON answer (the one parser of untrusted WebAuthn input).
pub fn parse_registration(v: &Value) -> Option<RegisterPublicKeyCredential> {
    serde_json::from_value(v.clone()).ok()
}

/// Parses the authenticator's JSON assertion.
pub fn parse_assertion(v: &Value) -> Option<PublicKeyCredential> {
    serde_json::from_value(v.clone()).ok()
}

fn refuse(why: &str) -> Failure {
    tracing::info!(target: "latchkey::audit", event = "passkey_refused", why, "passkey refused");
    Failure::InvalidPasskey
}

/// The options as sent: discoverable credentials required (`webauthn-rs` asks for
/// `discouraged`; a sign-in without a username needs them).
fn creation_options(public_key: Value) -> Value {
    let mut v = public_key;
    if let Some(sel) = v
        .get_mut("authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        sel.insert("residentKey".into(), Value::from("required"));
        sel.insert("requireResidentKey".into(), Value::from(true));
    }
    v
}

/// A new ceremony id and the hash it is stored under.
fn new_ceremony() -> Result<(String, [u8; 32]), Failure> {
    let (id, _) = new_opaque_token()?;
    let hash = sha256(id.as_bytes());
    Ok((id, hash))
}

fn ceremony_hash(id: &str) -> Option<[u8; 32]> {
    (id.len() <= 128).then(|| sha256(id.as_bytes()))
}

impl Service {
    fn relying(&self) -> Result<&Webauthn, Failure> {
        self.inner.webauthn.as_ref().ok_or(Failure::InvalidPasskey)
    }

    /// Starts registering a passkey for the caller's account, whose session must have
    /// signed in recently ([`signed_in_recently`], the rule of a password change without
    /// the current password): a stolen access token cannot plant a passkey that outlives
    /// it.
    pub(super) async fn passkey_register_start(
        &self,
        caller: &Principal,
    ) -> Result<Outcome, Failure> {
        if !signed_in_recently(caller.signed_in_at, self.now()) {
            return Err(Failure::ReauthRequired);
        }
        self.passkey_register_start_for(&caller.user).await
    }

    /// Starts registering a passkey for `user` (signed in: checked by the caller).
    async fn passkey_register_start_for(&self, user: &UserRecord) -> Result<Outcome, Failure> {
        let rp = self.relying()?;
        let existing = self
            .inner
            .store
            .read(|r| r.passkeys_of(&user.id))
            .map_err(store_failure)?;
        if existing.len() >= MAX_PER_ACCOUNT {
            return Err(refuse("too many passkeys"));
        }
        let exclude: Vec<CredentialID> = existing
            .iter()
            .map(|p| CredentialID::from(p.id.clone()))
            .collect();
        let name = user
            .email
            .clone()
            .or_else(|| user.username.clone())
            .unwrap_or_else(|| user.id.clone());
        let display = user.display_name.clone().unwrap_or_else(|| name.clone());
        let (ccr, state) = rp
            .start_passkey_registration(user_handle(&user.id), &name, &display, Some(exclude))
            .map_err(|e| internal("passkey registration", e))?;
        let public_key =
            serde_json::to_value(&ccr.public_key).map_err(|e| internal("passkey options", e))?;
        let state = serde_json::to_string(&state).map_err(|e| internal("passkey state", e))?;
        self.begin_ceremony(Some(user.id.clone()), state, creation_options(public_key))
            .await
    }

    async fn begin_ceremony(
        &self,
        user_id: Option<String>,
        state: String,
        public_key: Value,
    ) -> Result<Outcome, Failure> {
        let (ceremony, hash) = new_ceremony()?;
        let now = self.now();
        let rec = CeremonyRecord {
            user_id,
            state,
            created_at: now,
            expires_at: (now + CEREMONY_TTL),
        };
        self.write(move |w, _, _| {
            w.put(&hash, &rec)?;
            Ok(Ok(()))
        })
        .await?;
        Ok(Outcome::PasskeyChallenge {
            ceremony,
            public_key,
        })
    }

    /// Finishes a registration for the caller's account.
    pub(super) async fn passkey_register_finish(
        &self,
        caller: &Principal,
        ceremony: String,
        name: Option<String>,
        credential: Value,
    ) -> Result<Outcome, Failure> {
        self.passkey_register_finish_for(&caller.user, ceremony, name, credential)
            .await
    }

    /// Finishes a registration for `user` (signed in: checked by the caller): the ceremony is
    /// spent whatever the outcome; the credential must be new to every account.
    async fn passkey_register_finish_for(
        &self,
        user: &UserRecord,
        ceremony: String,
        name: Option<String>,
        credential: Value,
    ) -> Result<Outcome, Failure> {
        self.relying()?;
        let name = match name {
            Some(n) => checked_name(&n).ok_or_else(|| refuse("bad name"))?,
            None => "Passkey".to_owned(),
        };
        let hash = ceremony_hash(&ceremony).ok_or_else(|| refuse("bad ceremony"))?;
        let reg = parse_registration(&credential);
        let client_data = client_data_ok(&credential, &self.inner.passkey_origins);
        let now = self.now();
        let user_id = user.id.clone();
        let added = self
            .write(move |w, svc, events| {
                let Some(c) = w.get::<CeremonyRecord>(&hash)? else {
                    return Ok(Err(refuse("unknown or spent ceremony")));
                };
                w.delete::<CeremonyRecord>(&hash)?;
                if c.expires_at <= now || c.user_id.as_deref() != Some(user_id.as_str()) {
                    return Ok(Err(refuse("expired ceremony, or another account's")));
                }
                let Some(reg) = &reg else {
                    return Ok(Err(refuse("malformed credential")));
                };
                if let Err(why) = client_data {
                    return Ok(Err(refuse(why)));
                }
                let Ok(state) = serde_json::from_str::<PasskeyRegistration>(&c.state) else {
                    return Ok(Err(refuse("unreadable ceremony")));
                };
                let passkey = match svc.relying()?.finish_passkey_registration(reg, &state) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(refuse(&e.to_string()))),
                };
                if passkey.cred_id().len() > MAX_CREDENTIAL_ID {
                    return Ok(Err(refuse("credential id over 1023 bytes")));
                }
                let rec = PasskeyRecord {
                    id: passkey.cred_id().to_vec(),
                    user_id: user_id.clone(),
                    name: name.clone(),
                    created_at: now,
                    last_used_at: None,
                    credential: serde_json::to_string(&passkey)
                        .map_err(|e| internal("passkey", e))?,
                };
                match w.insert_passkey(&rec) {
                    Ok(()) => {
                        events.push(Event::PasskeyAdded {
                            user: rec.user_id.clone(),
                            passkey: b64url(&rec.id),
                        });
                        Ok(Ok(rec))
                    }
                    Err(StoreError::CredentialTaken) => {
                        Ok(Err(refuse("credential registered already")))
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        Ok(Outcome::Passkey(passkey_view(&added)))
    }

    /// Starts a sign-in with a passkey: no account is named.
    pub async fn passkey_login_start(&self) -> Result<Outcome, Failure> {
        let rp = self.relying()?;
        let (rcr, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| internal("passkey sign-in", e))?;
        let public_key =
            serde_json::to_value(&rcr.public_key).map_err(|e| internal("passkey options", e))?;
        let state = serde_json::to_string(&state).map_err(|e| internal("passkey state", e))?;
        self.begin_ceremony(None, state, public_key).await
    }

    /// Finishes a sign-in with a passkey: the account's lockout, state and the assertion
    /// (signature, origin, relying party, user verification, user handle, counter), then a
    /// new family whose tokens say `amr: ["hwk"]`.
    pub(super) async fn passkey_login_finish(
        &self,
        ceremony: String,
        credential: Value,
        source: Source,
        issue: Issue,
    ) -> Result<Outcome, Failure> {
        self.relying()?;
        let hash = ceremony_hash(&ceremony).ok_or_else(|| refuse("bad ceremony"))?;
        let assertion = parse_assertion(&credential)
            .filter(|a| a.get_credential_id().len() <= MAX_CREDENTIAL_ID);
        let client_data = client_data_ok(&credential, &self.inner.passkey_origins);
        let now = self.now();
        // The account the credential names takes the attempt's place in its lockout.
        let owner = match &assertion {
            Some(a) => self
                .inner
                .store
                .read(|r| r.passkey(a.get_credential_id()))
                .map_err(store_failure)?
                .map(|p| p.user_id),
            None => None,
        };
        let attempt = match &owner {
            Some(id) => Some(
                self.inner
                    .guards
                    .lockouts
                    .begin(&account_key(id), source, now)
                    .map_err(refused)?,
            ),
            None => None,
        };
        let result = self
            .write(move |w, svc, events| {
                let Some(c) = w.get::<CeremonyRecord>(&hash)? else {
                    return Ok(Err(refuse("unknown or spent ceremony")));
                };
                w.delete::<CeremonyRecord>(&hash)?;
                if c.expires_at <= now || c.user_id.is_some() {
                    return Ok(Err(refuse("expired ceremony, or a registration's")));
                }
                let Some(a) = &assertion else {
                    return Ok(Err(refuse(
                        "malformed credential, or its id over 1023 bytes",
                    )));
                };
                if let Err(why) = client_data {
                    return Ok(Err(refuse(why)));
                }
                let Ok(state) = serde_json::from_str::<DiscoverableAuthentication>(&c.state) else {
                    return Ok(Err(refuse("unreadable ceremony")));
                };
                let Some(mut rec) = w.passkey(a.get_credential_id())? else {
                    return Ok(Err(refuse("unknown credential")));
                };
                let Some(mut user) = w.user(&rec.user_id)? else {
                    return Ok(Err(refuse("no such account")));
                };
                let rp = svc.relying()?;
                match rp.identify_discoverable_authentication(a) {
                    Ok((handle, _)) if handle == user_handle(&user.id) => {}
                    _ => return Ok(Err(refuse("user handle of another account"))),
                }
                let Ok(mut passkey) = serde_json::from_str::<Passkey>(&rec.credential) else {
                    return Ok(Err(refuse("unreadable passkey")));
                };
                let done = match rp.finish_discoverable_authentication_v2(a, state, &passkey) {
                    Ok(d) => d,
                    Err(e) => return Ok(Err(refuse(&e.to_string()))),
                };
                let amr = match decide(&svc.inner.key, &mut user, Factor::Passkey, None, now)? {
                    Decision::SignedIn(amr) => amr,
                    Decision::Refused(f) => return Ok(Err(f)),
                    Decision::SecondFactorNeeded => return Ok(Err(Failure::MfaRequired)),
                };
                passkey.update_credential(&done);
                rec.credential =
                    serde_json::to_string(&passkey).map_err(|e| internal("passkey", e))?;
                rec.last_used_at = Some(now);
                w.update_passkey(&rec)?;
                user.updated_at = now;
                w.update_user(&user)?;
                events.push(Event::signed_in(&user.id, PASSKEY_AMR, &amr));
                Ok(Ok(svc.start_session(w, &user, amr, now, issue)?))
            })
            .await;
        if result == Err(Failure::InvalidPasskey) {
            self.emit(&[Event::SignInFailed {
                method: PASSKEY_AMR,
            }]);
        }
        self.settle(attempt, &result);
        result
    }

    /// The passkeys of an account, oldest first.
    pub fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyView>, Failure> {
        let all = self
            .inner
            .store
            .read(|r| r.passkeys_of(user_id))
            .map_err(store_failure)?;
        Ok(all.iter().map(passkey_view).collect())
    }

    /// Renames a passkey of the caller's account.
    pub(super) async fn passkey_rename(
        &self,
        caller: &Principal,
        id: String,
        name: String,
    ) -> Result<Outcome, Failure> {
        self.passkey_rename_for(&caller.user.id, &id, &name).await
    }

    /// Renames passkey `id` (base64url) of account `user_id`.
    async fn passkey_rename_for(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
    ) -> Result<Outcome, Failure> {
        let name = checked_name(name).ok_or(Failure::InvalidPasskey)?;
        let id = b64url_decode(id).ok_or(Failure::PasskeyNotFound)?;
        let user_id = user_id.to_owned();
        let rec = self
            .write(move |w, _, _| {
                let mut rec = match w.passkey(&id)? {
                    Some(p) if p.user_id == user_id => p,
                    _ => return Ok(Err(Failure::PasskeyNotFound)),
                };
                rec.name = name.clone();
                w.update_passkey(&rec)?;
                Ok(Ok(rec))
            })
            .await?;
        Ok(Outcome::Passkey(passkey_view(&rec)))
    }

    /// Removes a passkey of the caller's account.
    pub(super) async fn passkey_delete(
        &self,
        caller: &Principal,
        id: String,
    ) -> Result<Outcome, Failure> {
        self.passkey_delete_for(&caller.user.id, &id).await
    }

    /// Removes passkey `id` (base64url) of account `user_id`, unless it is the account's
    /// last way in.
    async fn passkey_delete_for(&self, user_id: &str, id: &str) -> Result<Outcome, Failure> {
        let id = b64url_decode(id).ok_or(Failure::PasskeyNotFound)?;
        let owner = user_id.to_owned();
        let now = self.now();
        let codes = self.mailed_codes_on();
        self.write(move |w, _, events| {
            match w.passkey(&id)? {
                Some(p) if p.user_id == owner => {}
                _ => return Ok(Err(Failure::PasskeyNotFound)),
            }
            // The account is written too: on a shared store, two removals of an
            // account's last two passkeys cannot both pass this check.
            let Some(mut user) = w.user(&owner)? else {
                return Ok(Err(Failure::PasskeyNotFound));
            };
            let others = w.passkeys_of(&owner)?.len().saturating_sub(1);
            let identities = storage::identities_of(w, &owner)?.len();
            if !another_way_in(&user, others, identities, codes) {
                return Ok(Err(Failure::LastSignInMethod));
            }
            w.delete_passkey(&id)?;
            user.updated_at = now;
            w.update_user(&user)?;
            events.push(Event::PasskeyRemoved {
                user: owner.clone(),
            });
            Ok(Ok(Outcome::Done))
        })
        .await
    }
}
