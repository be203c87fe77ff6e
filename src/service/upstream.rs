//! Sign-in through an upstream OpenID Provider, once its id token is checked (the
//! `upstream` module talks to the provider; this is the account side): which account an
//! identity signs in ([`super::policy::link_identity`]), the account's own policy
//! ([`super::policy::decide`] with [`Factor::Upstream`]), the memberships a
//! `groups_claim` sets, and the linked identities an account page lists, links and
//! unlinks. Nothing is created or linked when the answer is a refusal: every refusal is
//! decided before the plan's first write.

use std::collections::BTreeSet;

use crate::clock::UnixMillis;
use crate::config::{LinkRule, UpstreamSettings};
use protocol::{Failure, Outcome};
use storage::{
    GroupRecord, IdentityRecord, MemberRecord, Records as _, RecordsMut as _, StoreError,
    UpstreamFlowRecord, UserRecord, Write,
};

use super::events::Event;
use super::mfa::put_pending;
use super::policy::{
    another_way_in, decide, link_identity, live_family, may_act, Decision, Factor, Linking,
    UPSTREAM_AMR,
};
use super::principal::Principal;
use super::refresh::Issue;
use super::{new_id, store_failure, Service};
use crate::primitives::sha256;

/// An identity an upstream vouched for: its id token verified, its claims read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The upstream's id (`[[upstream]] id`).
    pub upstream: String,
    /// Its `sub`.
    pub subject: String,
    /// Its email, if it gave one.
    pub email: Option<String>,
    /// Whether it says it verified that email.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Its `amr` says `mfa`.
    pub mfa: bool,
    /// The groups its `groups_claim` names (`None`: no `groups_claim` configured).
    pub groups: Option<Vec<String>>,
}

/// Why an identity signs nobody in (nothing was created or linked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamRefusal {
    /// An account here holds the identity's email, but it may not be linked on the
    /// upstream's word: sign in the usual way and link from the account page.
    LinkFromAccount,
    /// No account here, and this upstream does not sign strangers up.
    NoAccount,
    /// The identity is linked to another account.
    LinkedElsewhere,
}

/// A linked identity, as the account page, the admin API and `user show` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityView {
    /// The upstream's id.
    pub upstream: String,
    /// Its subject there.
    pub subject: String,
    /// The email it last gave.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: UnixMillis,
    /// When it last signed in.
    pub last_used_at: Option<UnixMillis>,
}

fn view_of(i: IdentityRecord) -> IdentityView {
    IdentityView {
        upstream: i.upstream,
        subject: i.subject,
        email: i.email,
        linked_at: i.linked_at,
        last_used_at: i.last_used_at,
    }
}

/// The store key of a flow's `state`.
fn flow_key(state: &str) -> [u8; 32] {
    let mut text = b"latchkey upstream state\0".to_vec();
    text.extend_from_slice(state.as_bytes());
    sha256(&text)
}

/// Sets the memberships `groups_claim` asks for: of `wanted`, the groups that exist
/// here; the ones it set before and no longer names go. Memberships an admin gave are
/// neither counted as its own nor removed.
fn sync_groups(
    w: &mut dyn Write,
    ident: &mut IdentityRecord,
    wanted: &[String],
    now: UnixMillis,
) -> Result<(), StoreError> {
    let mut want = BTreeSet::new();
    for name in wanted.iter().filter_map(|g| GroupRecord::normal_name(g)) {
        if w.get::<GroupRecord>(name.as_bytes())?.is_some() {
            want.insert(name);
        }
    }
    let user = ident.user_id.clone();
    for g in &want {
        let key = MemberRecord::key(g, &user);
        if w.get::<MemberRecord>(&key)?.is_none() {
            let m = MemberRecord {
                group: g.clone(),
                user_id: user.clone(),
                added_at: now,
            };
            w.put(&key, &m)?;
            ident.claimed_groups.push(g.clone());
        }
    }
    let (keep, gone): (Vec<String>, Vec<String>) = std::mem::take(&mut ident.claimed_groups)
        .into_iter()
        .partition(|g| want.contains(g));
    for g in gone {
        w.delete::<MemberRecord>(&MemberRecord::key(&g, &user))?;
    }
    ident.claimed_groups = keep;
    ident.claimed_groups.sort();
    ident.claimed_groups.dedup();
    Ok(())
}

impl Service {
    /// The checked `[[upstream]]` of `id`.
    pub fn upstream(&self, id: &str) -> Option<&UpstreamSettings> {
        self.inner.cfg.upstreams.iter().find(|u| u.id == id)
    }

    /// Records a flow under way, found again by its `state`.
    pub async fn upstream_begin(
        &self,
        state: &str,
        flow: UpstreamFlowRecord,
    ) -> Result<(), Failure> {
        let key = flow_key(state);
        self.write(move |w, _, _| {
            w.put(&key, &flow)?;
            Ok(Ok(()))
        })
        .await
    }

    /// Takes the flow of `state` (once: a replayed state finds nothing), if it has not
    /// expired.
    pub async fn upstream_take(&self, state: &str) -> Result<Option<UpstreamFlowRecord>, Failure> {
        let key = flow_key(state);
        let now = self.now();
        self.write(move |w, _, _| {
            let flow = w.delete::<UpstreamFlowRecord>(&key)?;
            Ok(Ok(flow.filter(|f| f.expires_at > now)))
        })
        .await
    }

    /// Signs in the account `who` names by the linking rules: a browser session, or a
    /// pending sign-in when the account's second factor is wanted. A refusal writes
    /// nothing.
    pub async fn upstream_sign_in(
        &self,
        who: Identity,
    ) -> Result<Result<Outcome, UpstreamRefusal>, Failure> {
        let Some(up) = self.upstream(&who.upstream).cloned() else {
            return Err(super::internal("upstream", "no such upstream"));
        };
        let now = self.now();
        self.write(move |w, svc, events| {
            let key = IdentityRecord::key(&who.upstream, &who.subject);
            let mut linked = w.get::<IdentityRecord>(&key)?;
            if linked
                .as_ref()
                .is_some_and(|i| w.user(&i.user_id).ok().flatten().is_none())
            {
                // Its account is gone (removed with it; never left behind).
                w.delete::<IdentityRecord>(&key)?;
                linked = None;
            }
            let holder = match &who.email {
                Some(e) if linked.is_none() => match w.user_id_by_email(e)? {
                    Some(id) => w.user(&id)?,
                    None => None,
                },
                _ => None,
            };
            let linking = link_identity(
                linked.as_ref().map(|i| i.user_id.as_str()),
                holder.as_ref(),
                who.email_verified,
                up.link == LinkRule::VerifiedEmail,
                up.signup,
            );
            let (mut user, how) = match linking {
                Linking::Linked(id) => match w.user(&id)? {
                    Some(u) => (u, None),
                    None => return Ok(Ok(Err(UpstreamRefusal::NoAccount))),
                },
                Linking::ByEmail(_) => match holder {
                    Some(u) => (u, Some("email")),
                    None => return Ok(Ok(Err(UpstreamRefusal::NoAccount))),
                },
                Linking::LinkFromAccount => return Ok(Ok(Err(UpstreamRefusal::LinkFromAccount))),
                Linking::NoAccount => return Ok(Ok(Err(UpstreamRefusal::NoAccount))),
                Linking::SignUp => {
                    let mut u = UserRecord {
                        email: who.email.clone(),
                        email_verified: who.email_verified && who.email.is_some(),
                        display_name: who.name.clone(),
                        ..UserRecord::new(new_id()?, now)
                    };
                    u.num = w.allocate_user_num()?;
                    (u, Some("signup"))
                }
            };
            // The account's own policy, before anything is written.
            let factor = Factor::Upstream {
                mfa: up.trust_mfa && who.mfa,
            };
            let decision = decide(&svc.inner.key, &mut user, factor, None, now)?;
            if let Decision::Refused(f) = decision {
                return Ok(Err(f));
            }
            if how == Some("signup") {
                w.insert_user(&user)?;
            }
            let mut ident = linked.unwrap_or_else(|| IdentityRecord {
                upstream: who.upstream.clone(),
                subject: who.subject.clone(),
                user_id: user.id.clone(),
                email: None,
                linked_at: now,
                last_used_at: None,
                claimed_groups: Vec::new(),
            });
            ident.email = who.email.clone();
            ident.last_used_at = Some(now);
            if let Some(groups) = &who.groups {
                sync_groups(w, &mut ident, groups, now)?;
            }
            w.put(&key, &ident)?;
            if let Some(how) = how {
                events.push(Event::UpstreamLinked {
                    user: user.id.clone(),
                    upstream: who.upstream.clone(),
                    how,
                });
            }
            match decision {
                Decision::SignedIn(amr) => {
                    w.update_user(&user)?;
                    events.push(Event::signed_in(&user.id, UPSTREAM_AMR, &amr));
                    Ok(Ok(Ok(svc.start_session(
                        w,
                        &user,
                        amr,
                        now,
                        Issue::Browser,
                    )?)))
                }
                // The second factor is asked next, on a pending sign-in.
                _ => Ok(Ok(Ok(put_pending(
                    w,
                    &user,
                    vec![UPSTREAM_AMR.into()],
                    now,
                )?))),
            }
        })
        .await
    }

    /// Links `who` to the signed-in account `caller` (its sign-in recent: the door
    /// checked when the flow began): refused when it is linked to another account.
    pub async fn upstream_link(
        &self,
        caller: &str,
        who: Identity,
    ) -> Result<Result<(), UpstreamRefusal>, Failure> {
        let now = self.now();
        let caller = caller.to_owned();
        self.write(move |w, _, events| {
            let Some(user) = w.user(&caller)? else {
                return Ok(Err(Failure::TokenInvalid));
            };
            if let Err(f) = may_act(user.state, false) {
                return Ok(Err(f));
            }
            let key = IdentityRecord::key(&who.upstream, &who.subject);
            match w.get::<IdentityRecord>(&key)? {
                Some(i) if i.user_id != caller && w.user(&i.user_id)?.is_some() => {
                    return Ok(Ok(Err(UpstreamRefusal::LinkedElsewhere)))
                }
                Some(i) if i.user_id == caller => return Ok(Ok(Ok(()))),
                _ => {}
            }
            let ident = IdentityRecord {
                upstream: who.upstream.clone(),
                subject: who.subject.clone(),
                user_id: caller.clone(),
                email: who.email.clone(),
                linked_at: now,
                last_used_at: None,
                claimed_groups: Vec::new(),
            };
            w.put(&key, &ident)?;
            events.push(Event::UpstreamLinked {
                user: caller.clone(),
                upstream: who.upstream.clone(),
                how: "account",
            });
            Ok(Ok(Ok(())))
        })
        .await
    }

    /// Unlinks the caller's identity at `upstream`, unless it is the account's last way
    /// in. The memberships its `groups_claim` set go with it.
    pub async fn upstream_unlink(&self, caller: &Principal, upstream: &str) -> Result<(), Failure> {
        let (user_id, session) = (caller.user.id.clone(), caller.session.clone());
        let upstream = upstream.to_owned();
        let codes = self.mailed_codes_on();
        let now = self.now();
        self.write(move |w, _, events| {
            if !w
                .family(&session)?
                .is_some_and(|f| live_family(&f, &user_id, now))
            {
                return Ok(Err(Failure::TokenInvalid));
            }
            let Some(mut user) = w.user(&user_id)? else {
                return Ok(Err(Failure::TokenInvalid));
            };
            let all = storage::identities_of(w, &user_id)?;
            let Some(ident) = all.iter().find(|i| i.upstream == upstream) else {
                // Not linked (any more): nothing to do.
                return Ok(Ok(()));
            };
            let passkeys = w.passkeys_of(&user_id)?.len();
            if !another_way_in(&user, passkeys, all.len() - 1, codes) {
                return Ok(Err(Failure::LastSignInMethod));
            }
            for g in &ident.claimed_groups {
                w.delete::<MemberRecord>(&MemberRecord::key(g, &user_id))?;
            }
            w.delete::<IdentityRecord>(&IdentityRecord::key(&ident.upstream, &ident.subject))?;
            // Written too: two unlinks of an account's last two ways in cannot both pass.
            user.updated_at = now;
            w.update_user(&user)?;
            events.push(Event::UpstreamUnlinked {
                user: user_id.clone(),
                upstream: upstream.clone(),
            });
            Ok(Ok(()))
        })
        .await
    }

    /// The identities linked to `user_id`, by upstream.
    pub fn identities_of(&self, user_id: &str) -> Result<Vec<IdentityView>, Failure> {
        let all = self
            .inner
            .store
            .read(|r| storage::identities_of(r, user_id))
            .map_err(store_failure)?;
        Ok(all.into_iter().map(view_of).collect())
    }

    /// Tells of a sign-in through `upstream` that failed for `reason`.
    pub fn upstream_failed(&self, upstream: &str, reason: &'static str) {
        self.emit(&[Event::UpstreamFailed {
            upstream: upstream.to_owned(),
            reason,
        }]);
    }
}
