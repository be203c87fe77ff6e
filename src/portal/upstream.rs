//! The portal's pages of a sign-in through an upstream OpenID Provider:
//!
//! - `GET /upstream/{id}/start?rd=`: a flow (`state`, `nonce`, PKCE) kept in the store
//!   and bound to this browser by a cookie, then 302 to the upstream. With `link=1` (and
//!   the session's form token, `csrf`), the flow links the identity to the signed-in
//!   account instead, which must have signed in within five minutes.
//! - `GET /upstream/{id}/callback`: the flow taken (once), the browser's cookie checked,
//!   the code exchanged and the id token verified (`crate::upstream`), then the account
//!   policy decides (`Service::upstream_sign_in`, `Service::upstream_link`).
//! - `POST /account/upstream/{id}/unlink`: unlink, unless it is the last way in.
//!
//! Every failure is a page that says so, an audit event, and nothing created or linked.

use http::StatusCode;
use protocol::{Failure, Outcome};
use storage::UpstreamFlowRecord;
use subtle::ConstantTimeEq as _;

use super::pages::UpstreamLink;
use super::{only_cookie, Flow, Page, Scope, UPSTREAM_COOKIE};
use crate::i18n::Arg;
use crate::primitives::{hex, sha256};
use crate::service::policy::signed_in_recently;
use crate::service::UpstreamRefusal;
use crate::upstream::{Provider, UpstreamError, FLOW_LIFE};

/// A page of a failed sign-in through an upstream.
#[derive(Debug, Clone, Copy)]
enum Failed<'e> {
    /// The callback's state is missing, unknown, spent, expired or another browser's.
    State,
    /// The upstream answered `error=`.
    Refused,
    /// Talking to the upstream, or checking what it said, failed.
    Upstream(&'e UpstreamError),
}

impl<'a> Flow<'a> {
    /// The routes under `/upstream/` and `/account/upstream/`, when the request is one.
    pub(super) async fn upstream_route(&mut self, get: bool, post: bool) -> Option<Page> {
        let rest = self.req.rest;
        if let Some(tail) = rest.strip_prefix("/upstream/") {
            let (id, action) = tail.split_once('/')?;
            let page = match (action, get) {
                ("start", true) => self.upstream_start(id).await,
                ("callback", true) => self.upstream_callback(id).await,
                ("start" | "callback", false) => Page::method_not_allowed(&[http::Method::GET]),
                _ => return None,
            };
            return Some(page);
        }
        let id = rest
            .strip_prefix("/account/upstream/")?
            .strip_suffix("/unlink")?;
        Some(match post {
            true => self.upstream_unlink(id).await,
            false => Page::method_not_allowed(&[http::Method::POST]),
        })
    }

    fn provider(&self, id: &str) -> Result<&'a Provider, Page> {
        let portal: &'a super::Portal = self.portal;
        portal.upstreams.get(id).ok_or_else(|| {
            self.portal.trouble(
                self.req,
                StatusCode::NOT_FOUND,
                &self.lang().t("no-such-page"),
            )
        })
    }

    /// The login page's buttons: `(id, name)` of every upstream.
    pub(super) fn upstream_buttons(&self) -> Vec<(String, String)> {
        self.portal
            .upstreams
            .all()
            .iter()
            .map(|p| (p.settings.id.clone(), p.settings.name.clone()))
            .collect()
    }

    /// The account page's upstreams, with the account's identity at each.
    pub(super) fn upstream_links(&self, user_id: &str, csrf: &str) -> Option<Vec<UpstreamLink>> {
        let all = self.portal.upstreams.all();
        if all.is_empty() {
            return None;
        }
        let linked = self.svc.identities_of(user_id).unwrap_or_default();
        Some(
            all.iter()
                .map(|p| {
                    let id = &p.settings.id;
                    let mut start = format!("{}/upstream/{id}/start?link=1&csrf=", self.path());
                    start.extend(form_urlencoded::byte_serialize(csrf.as_bytes()));
                    UpstreamLink {
                        id: id.clone(),
                        name: p.settings.name.clone(),
                        linked: linked.iter().find(|i| i.upstream == *id).cloned(),
                        start,
                    }
                })
                .collect(),
        )
    }

    async fn upstream_start(&mut self, id: &str) -> Page {
        let p = match self.provider(id) {
            Ok(p) => p,
            Err(page) => return page,
        };
        let now = self.svc.now();
        let link_user = if self.field("link") == "1" {
            let Some((v, cookie)) = self.signed_in_visitor().await else {
                return self.portal.see_other(&format!("{}/login", self.path()));
            };
            // A link made in this browser's session, asked for from its own page: a
            // page of another site cannot link an identity of its choosing.
            if !self.session_ok(&cookie) {
                return self.forbidden();
            }
            if !signed_in_recently(v.principal.signed_in_at, now) {
                let (status, msg) = self.explain(Failure::ReauthRequired);
                return self.account(None, Some(&msg), status).await;
            }
            Some(v.user().id.clone())
        } else {
            None
        };
        let started = match p.start().await {
            Ok(s) => s,
            Err(e) => return self.upstream_failed(p, Failed::Upstream(&e)),
        };
        let secret = match self.svc.new_browser_secret() {
            Ok(s) => s,
            Err(f) => return self.failure_page(f),
        };
        let flow = UpstreamFlowRecord {
            upstream: p.settings.id.clone(),
            nonce: started.nonce,
            verifier: started.verifier,
            binding: hex(&sha256(secret.as_bytes())),
            rd: self.rd.clone(),
            link_user,
            created_at: now,
            expires_at: now + FLOW_LIFE,
        };
        if let Err(f) = self.svc.upstream_begin(&started.state, flow).await {
            return self.failure_page(f);
        }
        self.set_cookie(UPSTREAM_COOKIE, &secret, Some(FLOW_LIFE.as_secs()));
        self.portal.see_other(&started.url)
    }

    async fn upstream_callback(&mut self, id: &str) -> Page {
        let p = match self.provider(id) {
            Ok(p) => p,
            Err(page) => return page,
        };
        self.set
            .push(self.portal.clear(UPSTREAM_COOKIE, Scope::Portal));
        let state = self.field("state");
        let flow = match state.is_empty() {
            true => None,
            false => match self.svc.upstream_take(state).await {
                Ok(f) => f,
                Err(f) => return self.failure_page(f),
            },
        };
        let bound = |f: &UpstreamFlowRecord| {
            only_cookie(self.req.headers, UPSTREAM_COOKIE).is_some_and(|c| {
                bool::from(
                    hex(&sha256(c.as_bytes()))
                        .as_bytes()
                        .ct_eq(f.binding.as_bytes()),
                )
            })
        };
        let Some(flow) = flow.filter(|f| f.upstream == id && bound(f)) else {
            return self.upstream_failed(p, Failed::State);
        };
        if !self.field("error").is_empty() {
            return self.upstream_failed(p, Failed::Refused);
        }
        let code = self.field("code").to_owned();
        if code.is_empty() || code.len() > 4096 {
            return self.upstream_failed(p, Failed::Refused);
        }
        let now = self.svc.now().secs();
        let who = match p.finish(&code, &flow.nonce, &flow.verifier, now).await {
            Ok(who) => who,
            Err(e) => return self.upstream_failed(p, Failed::Upstream(&e)),
        };
        self.rd = flow.rd.clone();
        let l = self.lang();
        let name = p.settings.name.clone();
        let refusal = |r: UpstreamRefusal| match r {
            UpstreamRefusal::LinkFromAccount => ("link_from_account", "upstream-link-from-account"),
            UpstreamRefusal::NoAccount => ("no_account", "upstream-no-account"),
            UpstreamRefusal::LinkedElsewhere => ("linked_elsewhere", "upstream-linked-elsewhere"),
        };
        if let Some(user) = &flow.link_user {
            return match self.svc.upstream_link(user, who).await {
                Ok(Ok(())) => self
                    .portal
                    .see_other(&format!("{}/account?done=upstream-linked", self.path())),
                Ok(Err(r)) => {
                    let (reason, msg) = refusal(r);
                    self.svc.upstream_failed(id, reason);
                    let msg = l.tf(msg, &[("name", Arg::Text(&name))]);
                    self.account(None, Some(&msg), StatusCode::CONFLICT).await
                }
                Err(f) => self.failure_page(f),
            };
        }
        match self.svc.upstream_sign_in(who).await {
            Ok(Ok(Outcome::Session {
                user,
                token,
                expires_at,
            })) => self.signed_in(&user.id, &token, expires_at, "ext"),
            Ok(Ok(Outcome::MfaPending { credential, .. })) => self.second_factor_next(&credential),
            Ok(Ok(_)) => self.failure_page(Failure::Transport(protocol::Transport::Internal)),
            Ok(Err(r)) => {
                let (reason, msg) = refusal(r);
                self.svc.upstream_failed(id, reason);
                let msg = l.tf(msg, &[("name", Arg::Text(&name))]);
                self.portal.trouble(self.req, StatusCode::FORBIDDEN, &msg)
            }
            Err(f) => {
                self.svc.upstream_failed(id, "account_refused");
                self.failure_page(f)
            }
        }
    }

    async fn upstream_unlink(&mut self, id: &str) -> Page {
        let (v, _) = match self.signed_in_post().await {
            Ok(x) => x,
            Err(p) => return p,
        };
        match self.svc.upstream_unlink(&v.principal, id).await {
            Ok(()) => self
                .portal
                .see_other(&format!("{}/account?done=upstream-unlinked", self.path())),
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.account(None, Some(&msg), status).await
            }
        }
    }

    /// The page of a failed sign-in: what went wrong (in the log, never a secret), an
    /// audit event, and a page that offers the other ways in.
    fn upstream_failed(&self, p: &Provider, why: Failed<'_>) -> Page {
        let id = &p.settings.id;
        let (reason, status) = match why {
            Failed::State => ("state", StatusCode::BAD_REQUEST),
            Failed::Refused => ("upstream_error", StatusCode::BAD_REQUEST),
            Failed::Upstream(e) => (e.reason(), StatusCode::BAD_GATEWAY),
        };
        if let Failed::Upstream(e) = why {
            tracing::warn!(upstream = %id, reason, error = %e, "a sign-in through an upstream failed");
        }
        self.svc.upstream_failed(id, reason);
        let l = self.lang();
        let msg = l.tf("upstream-failed", &[("name", Arg::Text(&p.settings.name))]);
        self.portal.trouble(self.req, status, &msg)
    }
}
