//! What happened, told once. A plan (the closure a door hands to `Service::write`)
//! returns the events of what it did in the list it is given (a fresh one for each run:
//! a plan that runs again starts over), and the service applies them once its
//! transaction has committed: the metrics, the audit log line, the lockouts a change
//! clears. Events of a refusal that commits (a family revoked on reuse) are applied too;
//! a plan whose writes are thrown away tells nothing. What is refused before any write
//! (a wrong password) is told with `Service::emit`.
//!
//! This is where the audit log and webhooks will read from: an event is the record of a
//! change, made beside the change.

use protocol::Failure;

use super::policy::{account_key, counts_toward_lockout};
use super::Service;

/// One thing that happened to an account or a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A sign-in succeeded with `method` (`pwd`, `otp`, `hwk`); `mfa`: with a second
    /// factor.
    SignedIn {
        user: String,
        method: &'static str,
        mfa: bool,
    },
    /// A first factor was refused (wrong password, unknown or spent code, a passkey
    /// that did not verify).
    SignInFailed { method: &'static str },
    /// A second factor was refused.
    SecondFactorFailed {
        user: Option<String>,
        method: &'static str,
    },
    /// Repeated failures locked sign-ins from this source out.
    LockedOut,
    /// `count` sessions ended for `cause` (a reset, a deletion, a proven address).
    Revoked { cause: &'static str, count: usize },
    /// A browser signed in to the portal with `method` (`pwd`, `otp`, `hwk`).
    PortalSignedIn { user: String, method: &'static str },
    /// OpenID Connect: an authorization gave a code (`grant`: `authorization`), or a
    /// code or a refresh token gave tokens (`authorization_code`, `refresh_token`).
    OidcGranted {
        grant: &'static str,
        client: String,
        user: String,
    },
    /// OpenID Connect: a request was refused (`what` as for `OidcGranted`'s `grant`).
    OidcRefused { what: &'static str },
    /// A refresh token was rotated.
    Rotated,
    /// One session ended: `cause` `reuse` (a spent refresh token presented again: theft),
    /// `code_reuse` (an OpenID Connect code came back), `rfc7009` (revoked by its
    /// client), `logout` (signed out in the portal).
    SessionEnded {
        cause: &'static str,
        family: String,
        user: Option<String>,
        client: Option<String>,
    },
    /// An address never proven before was proven (`by`: `a mailed code`, `a reset
    /// code`): what was set up without the proof is gone (the mailbox owner wins).
    EmailClaimed { user: String, by: &'static str },
    /// The account's address changed to one a mailed code proved.
    EmailChanged { user: String, had_address: bool },
    /// The account's address was proven by a mailed code (from its own session, or the
    /// code given alone).
    EmailVerified { user: String },
    /// The password was reset by a mailed code.
    PasswordReset { user: String, revoked: usize },
    /// The second factor changed: `change` is `mfa_enabled`, `mfa_disabled` or
    /// `mfa_recovery_codes_renewed`.
    SecondFactorChanged { user: String, change: &'static str },
    /// The current password given to change it was wrong.
    PasswordChangeFailed { user: String },
    /// The password was changed; `revoked` other sessions ended.
    PasswordChanged { user: String, revoked: usize },
    /// A passkey was added to the account.
    PasskeyAdded { user: String, passkey: String },
    /// A passkey was removed by its owner.
    PasskeyRemoved { user: String },
    /// The account deleted itself.
    AccountDeleted { user: String },
    /// An upstream identity was linked to the account (`how`: `email` by the linking
    /// rule, `account` from the account page, `signup` with a new account).
    UpstreamLinked {
        user: String,
        upstream: String,
        how: &'static str,
    },
    /// An upstream identity was unlinked by the account's owner.
    UpstreamUnlinked { user: String, upstream: String },
    /// An account was made (`how`: `signup`, `code`, `upstream`; the admin operations
    /// record `admin` themselves).
    UserCreated { user: String, how: &'static str },
    /// The account signed out `sessions` of its sessions (the session family's logout).
    SignedOut { user: String, sessions: usize },
    /// Forward-auth refused a signed-in user the app at `host` (`rule`: its number; 0:
    /// the default policy).
    AccessDenied {
        user: String,
        host: String,
        rule: usize,
    },
    /// A sign-in through an upstream failed (`reason`: what went wrong, never a secret).
    UpstreamFailed {
        upstream: String,
        reason: &'static str,
    },
}

impl Event {
    /// A sign-in with `method` whose session says `amr`.
    pub(crate) fn signed_in(user: &str, method: &'static str, amr: &[String]) -> Event {
        Event::SignedIn {
            user: user.to_owned(),
            method,
            mfa: amr.iter().any(|a| a == "mfa"),
        }
    }
}

impl Service {
    /// Tells that `user` was refused the app at `host` (by rule `rule`; 0: the default
    /// policy, or an OpenID Connect client's groups). The audit log records it once a
    /// minute per account and app at most, so that a browser retrying cannot make the
    /// store write at its pace.
    pub fn access_refused(&self, user: &str, host: &str, rule: usize) {
        let now = self.now();
        let key = crate::primitives::sha256(format!("{user}\0{host}").as_bytes());
        let fresh = match self.inner.denials.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, at| now.since(*at) < std::time::Duration::from_secs(60));
                }
                match seen.get(&key) {
                    Some(at) if now.since(*at) < std::time::Duration::from_secs(60) => false,
                    _ => {
                        seen.insert(key, now);
                        true
                    }
                }
            }
            Err(_) => true,
        };
        let e = Event::AccessDenied {
            user: user.to_owned(),
            host: host.to_owned(),
            rule,
        };
        if fresh {
            self.emit(&[e]);
        } else {
            self.applied(&[e]);
        }
    }

    /// Settles a sign-in's place in the lockout: a success clears the source's failures,
    /// a wrong credential counts (and may lock the source out); other refusals (a
    /// disabled account, a full queue) count neither way.
    pub(crate) fn settle<T>(
        &self,
        attempt: Option<crate::limits::Attempt<'_>>,
        result: &Result<T, Failure>,
    ) {
        let Some(attempt) = attempt else { return };
        let now = self.now();
        match result {
            Ok(_) => attempt.succeeded(now),
            Err(f) if counts_toward_lockout(f) => {
                if attempt.failed(now) {
                    self.emit(&[Event::LockedOut]);
                }
            }
            Err(_) => {}
        }
    }

    /// Tells `events` that no plan made (a refusal before any write): what
    /// [`Service::applied`] does, and their audit entries in a write of their own, in the
    /// background (the answer does not wait for it).
    pub(crate) fn emit(&self, events: &[Event]) {
        self.applied(events);
        self.audit_in_background(events);
    }

    /// Applies `events`: metrics, audit log lines, lockouts.
    pub(crate) fn applied(&self, events: &[Event]) {
        let m = &self.inner.metrics;
        for e in events {
            match e {
                Event::SignedIn { user, method, mfa } => {
                    m.sign_in(method, "ok");
                    tracing::info!(target: "latchkey::audit", event = "sign_in", method, mfa, user = %user);
                }
                Event::UpstreamLinked {
                    user,
                    upstream,
                    how,
                } => {
                    tracing::info!(target: "latchkey::audit", event = "upstream_linked", upstream = %upstream, how, user = %user);
                }
                Event::UpstreamUnlinked { user, upstream } => {
                    tracing::info!(target: "latchkey::audit", event = "upstream_unlinked", upstream = %upstream, user = %user);
                }
                Event::UserCreated { user, how } => {
                    tracing::info!(target: "latchkey::audit", event = "user_created", how, user = %user);
                }
                Event::SignedOut { user, sessions } => {
                    tracing::info!(target: "latchkey::audit", event = "sign_out", sessions, user = %user);
                }
                Event::AccessDenied { user, host, rule } => {
                    tracing::info!(target: "latchkey::audit", event = "access_denied", user = %user, host = %host, rule);
                }
                Event::UpstreamFailed { upstream, reason } => {
                    m.sign_in(super::policy::UPSTREAM_AMR, "failed");
                    tracing::info!(target: "latchkey::audit", event = "sign_in_failed", door = "upstream", upstream = %upstream, reason);
                }
                Event::SignInFailed { method } => {
                    m.sign_in(method, "failed");
                    tracing::info!(target: "latchkey::audit", event = "sign_in_failed", method);
                }
                Event::SecondFactorFailed { user, method } => {
                    m.sign_in(method, "failed");
                    match user {
                        Some(user) => {
                            tracing::info!(target: "latchkey::audit", event = "mfa_failed", method, user = %user)
                        }
                        None => {
                            tracing::info!(target: "latchkey::audit", event = "mfa_failed", method)
                        }
                    }
                }
                Event::LockedOut => {
                    m.lockout();
                    tracing::warn!(target: "latchkey::audit", event = "lockout", "sign-in locked for this source after repeated failures");
                }
                Event::PortalSignedIn { user, method } => {
                    m.portal_sign_in(method);
                    tracing::info!(target: "latchkey::audit", event = "portal_sign_in", method, user = %user);
                }
                Event::OidcGranted {
                    grant,
                    client,
                    user,
                } => {
                    m.oidc(grant, "ok");
                    if *grant == "authorization" {
                        tracing::info!(target: "latchkey::audit", event = "oidc_authorized", client = %client, user = %user);
                    } else {
                        tracing::info!(target: "latchkey::audit", event = "oidc_token", grant, client = %client, user = %user);
                    }
                }
                Event::OidcRefused { what } => m.oidc(what, "failed"),
                Event::Rotated => m.rotation(),
                Event::Revoked { cause, count } => {
                    for _ in 0..*count {
                        m.revoked(cause);
                    }
                }
                Event::SessionEnded {
                    cause,
                    family,
                    user,
                    client,
                } => {
                    m.revoked(cause);
                    let user = user.as_deref().unwrap_or("");
                    let client = client.as_deref().unwrap_or("");
                    match *cause {
                        "logout" => {
                            tracing::info!(target: "latchkey::audit", event = "session_ended", user = %user, family = %family)
                        }
                        "reuse" => {
                            tracing::warn!(target: "latchkey::audit", event = "family_revoked", cause, family = %family, user = %user, "refresh token reuse: family revoked")
                        }
                        "code_reuse" => {
                            tracing::warn!(target: "latchkey::audit", event = "family_revoked", cause, family = %family, "an authorization code came back: its tokens are revoked")
                        }
                        _ => {
                            tracing::info!(target: "latchkey::audit", event = "family_revoked", cause, family = %family, client = %client)
                        }
                    }
                }
                Event::EmailClaimed { user, by } => {
                    self.inner.guards.lockouts.clear(&account_key(user));
                    tracing::warn!(target: "latchkey::audit", event = "email_proven", reset = true, user = %user, "an address never proven was proven by {by}: the account's earlier credentials and sessions were removed");
                }
                Event::EmailChanged { user, had_address } => {
                    tracing::info!(target: "latchkey::audit", event = "email_changed", user = %user, had_address);
                }
                Event::EmailVerified { user } => {
                    tracing::info!(target: "latchkey::audit", event = "email_proven", reset = false, user = %user);
                }
                Event::PasswordReset { user, revoked } => {
                    self.inner.guards.lockouts.clear(&account_key(user));
                    for _ in 0..*revoked {
                        m.revoked("password_reset");
                    }
                    tracing::info!(target: "latchkey::audit", event = "password_reset", user = %user, revoked);
                }
                Event::SecondFactorChanged { user, change } => {
                    tracing::info!(target: "latchkey::audit", event = change, user = %user);
                }
                Event::PasswordChangeFailed { user } => {
                    tracing::info!(target: "latchkey::audit", event = "password_change_failed", user = %user);
                }
                Event::PasswordChanged { user, revoked } => {
                    for _ in 0..*revoked {
                        m.revoked("password_changed");
                    }
                    tracing::info!(target: "latchkey::audit", event = "password_changed", user = %user, revoked);
                }
                Event::PasskeyAdded { user, passkey } => {
                    tracing::info!(target: "latchkey::audit", event = "passkey_added", user = %user, passkey = %passkey);
                }
                Event::PasskeyRemoved { user } => {
                    tracing::info!(target: "latchkey::audit", event = "passkey_removed", user = %user);
                }
                Event::AccountDeleted { user } => {
                    tracing::info!(target: "latchkey::audit", event = "account_deleted", user = %user);
                }
            }
        }
    }
}
