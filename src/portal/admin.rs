//! The administration pages, `/ui/admin` (API.md Part 3, "Administration pages"): for
//! members of `[admin] ui_group` signed in with two factors (a one-factor session is sent
//! to step-up; others get 403; with `ui_group = ""`, 404). Users (search, paging, one
//! user's groups, sessions, passkeys, linked identities, recent events; create with a
//! mailed set-password code, disable, enable, block, unblock, reset the second factor,
//! sign out everywhere, delete after a confirmation), groups (create, delete, members),
//! and the audit log (by user, event, time). Every action runs the admin API's own
//! operation with the admin as its actor, so each is an audit event naming them. The
//! portal's rules hold: the session's form token on every POST, no script, plain forms.

use http::StatusCode;
use maud::{html, Markup};
use serde_json::Value;

use super::pages::{hidden, time};
use super::{Flow, Page};
use crate::i18n::{Arg, Lang};
use crate::service::admin::{AdminError, NewAccount, StateChange};
use crate::service::audit::{AuditArgs, Context, QueryError};
use crate::service::portal::Visitor;
use crate::service::Service;

/// Users a page of the list shows.
const PAGE: usize = 50;

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    }
}

/// The member `k` of `v` (null when absent).
fn at<'v>(v: &'v Value, k: &str) -> &'v Value {
    v.get(k).unwrap_or(&Value::Null)
}

fn enc(x: &str) -> String {
    form_urlencoded::byte_serialize(x.as_bytes()).collect()
}

/// The admin's own service: its actions are recorded as theirs, from their address.
fn as_admin(svc: &Service, v: &Visitor) -> Service {
    let ip = svc.context().ip;
    svc.at(Context {
        door: Some("admin"),
        ip,
        actor: Some(v.user().id.clone()),
    })
}

impl Flow<'_> {
    /// The routes under `/admin`, when the request is one.
    pub(super) async fn admin_route(&mut self, get: bool, post: bool) -> Option<Page> {
        let rest = self.req.rest.strip_prefix("/admin")?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let (v, cookie) = match self.admin_visitor().await {
            Ok(x) => x,
            Err(page) => return Some(page),
        };
        if post && !self.session_ok(&cookie) {
            return Some(self.forbidden());
        }
        let csrf = self.session_token(&cookie);
        let svc = as_admin(self.svc, &v);
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        let page = match (parts.as_slice(), get, post) {
            ([""], true, _) => self
                .portal
                .see_other(&format!("{}/admin/users", self.path())),
            (["users"], true, _) => self.admin_users(&svc, &csrf),
            (["users", "new"], true, _) => self.admin_new_user(&csrf, None),
            (["users", "new"], _, true) => self.admin_create_user(&svc, &csrf).await,
            (["users", id], true, _) => self.admin_user(&svc, id, &csrf, None).await,
            (["users", id, "delete"], true, _) => self.admin_confirm_delete(&svc, id, &csrf),
            (["users", id, action], _, true) => {
                self.admin_user_action(&svc, id, action, &csrf).await
            }
            (["groups"], true, _) => self.admin_groups(&svc, &csrf, None),
            (["groups"], _, true) => self.admin_create_group(&svc, &csrf).await,
            (["groups", name], true, _) => self.admin_group(&svc, name, &csrf, None),
            (["groups", name, action], _, true) => {
                self.admin_group_action(&svc, name, action, &csrf).await
            }
            (["audit"], true, _) => self.admin_audit(&svc),
            (_, false, false) => Page::method_not_allowed(&[http::Method::GET, http::Method::POST]),
            _ => self.admin_not_found(),
        };
        Some(page)
    }

    /// The visitor, when it may use the admin pages; else the page to answer.
    async fn admin_visitor(&mut self) -> Result<(Visitor, String), Page> {
        let l = self.lang();
        let Some(group) = self.svc.config().admin.ui_group.clone() else {
            return Err(self.admin_not_found());
        };
        let here = self.req.path.to_owned();
        let Some((v, cookie)) = self.signed_in_visitor().await else {
            let to = format!("{}/login?rd={}", self.path(), enc(&here));
            return Err(self.portal.see_other(&to));
        };
        if !v.groups.contains(&group) {
            return Err(self.portal.trouble(
                self.req,
                StatusCode::FORBIDDEN,
                &l.t("admin-not-allowed"),
            ));
        }
        if !crate::service::policy::two_factors(&v.principal.amr) {
            let to = format!("{}/stepup?rd={}", self.path(), enc(&here));
            return Err(self.portal.see_other(&to));
        }
        Ok((v, cookie))
    }

    fn admin_not_found(&self) -> Page {
        self.portal.trouble(
            self.req,
            StatusCode::NOT_FOUND,
            &self.lang().t("no-such-page"),
        )
    }

    fn admin_page(&self, title: &str, error: Option<&str>, body: Markup) -> Page {
        let l = self.lang();
        let path = self.path();
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let content = html! {
            nav class="admin" aria-label=(l.t("admin-nav")) {
                a href={ (path) "/admin/users" } { (l.t("admin-users")) } " · "
                a href={ (path) "/admin/groups" } { (l.t("admin-groups")) } " · "
                a href={ (path) "/admin/audit" } { (l.t("admin-audit")) } " · "
                a href={ (path) "/account" } { (l.t("admin-back")) }
            }
            (body)
        };
        let notice = match self.field("done") {
            d @ ("created" | "changed" | "deleted" | "group-created" | "group-deleted"
            | "member-added" | "member-removed") => Some(l.t(&format!("admin-done-{d}"))),
            _ => None,
        };
        self.portal.framed(
            self.req,
            status,
            title,
            error,
            notice.as_deref(),
            true,
            content,
        )
    }

    fn admin_failure(&self, e: AdminError) -> Page {
        let l = self.lang();
        let (status, msg) = match e {
            AdminError::NotFound | AdminError::NoSuchGroup => {
                (StatusCode::NOT_FOUND, l.t("admin-not-found"))
            }
            AdminError::Conflict(why) => (StatusCode::CONFLICT, why.to_owned()),
            AdminError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            AdminError::InvalidGroupName => (StatusCode::BAD_REQUEST, l.t("admin-bad-group")),
            AdminError::GroupExists => (StatusCode::CONFLICT, l.t("admin-group-exists")),
            e => {
                let (status, _) = super::explain(
                    l,
                    protocol::Failure::Transport(protocol::Transport::Internal),
                );
                tracing::warn!(error = %e, "an admin page's action failed");
                (status, l.t("admin-failed"))
            }
        };
        self.portal.trouble(self.req, status, &msg)
    }

    fn admin_users(&self, svc: &Service, csrf: &str) -> Page {
        let l = self.lang();
        let path = self.path();
        let q = self.field("q").trim().to_lowercase();
        let after = self.field("after").parse::<u64>().ok();
        let _ = csrf;
        // A search reads the users in pages and keeps those that match, up to a page.
        let (mut found, mut next, mut cursor) = (Vec::new(), None, after);
        loop {
            let list = match svc.reads().list_users(cursor, 500) {
                Ok(v) => v,
                Err(e) => return self.admin_failure(e),
            };
            let users = at(&list, "users").as_array().cloned().unwrap_or_default();
            for u in &users {
                let hay = format!("{} {} {}", s(u, "email"), s(u, "username"), s(u, "id"));
                if q.is_empty() || hay.to_lowercase().contains(&q) {
                    found.push(u.clone());
                    if found.len() == PAGE {
                        next = at(u, "num").as_u64();
                        break;
                    }
                }
            }
            cursor = at(&list, "next").as_u64();
            if found.len() == PAGE || cursor.is_none() {
                break;
            }
        }
        let body = html! {
            form method="get" action={ (path) "/admin/users" } class="search" {
                label for="q" { (l.t("admin-search")) }
                input type="search" id="q" name="q" value=(q);
                button type="submit" class="secondary" { (l.t("admin-search-submit")) }
            }
            p { a class="button" href={ (path) "/admin/users/new" } { (l.t("admin-new-user")) } }
            table {
                thead { tr {
                    th scope="col" { (l.t("admin-email")) }
                    th scope="col" { (l.t("admin-username")) }
                    th scope="col" { (l.t("admin-state")) }
                } }
                tbody {
                    @for u in &found {
                        tr {
                            td { a href={ (path) "/admin/users/" (s(u, "id")) } {
                                @if s(u, "email").is_empty() { (s(u, "id")) } @else { (s(u, "email")) }
                            } }
                            td { (s(u, "username")) }
                            td { (s(u, "state")) }
                        }
                    }
                }
            }
            @if found.is_empty() { p { (l.t("admin-none")) } }
            @if let Some(n) = next {
                p { a href={ (path) "/admin/users?q=" (enc(&q)) "&after=" (n) } { (l.t("admin-next")) } }
            }
        };
        self.admin_page(&l.t("admin-users"), None, body)
    }

    fn admin_new_user(&self, csrf: &str, error: Option<&str>) -> Page {
        let l = self.lang();
        let path = self.path();
        let body = html! {
            form method="post" action={ (path) "/admin/users/new" } {
                (hidden(csrf, None))
                label for="email" { (l.t("admin-email")) }
                input type="email" id="email" name="email" required autocomplete="off" value=(self.field("email"));
                label for="username" { (l.t("admin-username-optional")) }
                input type="text" id="username" name="username" autocomplete="off" value=(self.field("username"));
                p class="hint" { (l.t("admin-new-user-hint")) }
                button type="submit" { (l.t("admin-create")) }
            }
        };
        self.admin_page(&l.t("admin-new-user"), error, body)
    }

    async fn admin_create_user(&mut self, svc: &Service, csrf: &str) -> Page {
        let email = self.field("email").trim().to_owned();
        let username = Some(self.field("username").trim().to_owned()).filter(|u| !u.is_empty());
        let new = NewAccount {
            email: Some(email.clone()),
            username,
            display_name: None,
            password: None,
            role: None,
            email_verified: false,
        };
        match svc.admin_create(new).await {
            Ok(u) => {
                // The set-password code goes to the new address (the reset mail).
                let op = protocol::Operation::ForgotPassword { email };
                if let Err(f) = svc.execute(op, self.req.source).await {
                    tracing::warn!(error = ?f, "the set-password mail of a new account failed");
                }
                let to = format!("{}/admin/users/{}?done=created", self.path(), s(&u, "id"));
                self.portal.see_other(&to)
            }
            Err(e @ (AdminError::BadRequest(_) | AdminError::Conflict(_))) => {
                let msg = e.to_string();
                self.admin_new_user(csrf, Some(&msg))
            }
            Err(e) => self.admin_failure(e),
        }
    }

    async fn admin_user(&self, svc: &Service, id: &str, csrf: &str, error: Option<&str>) -> Page {
        let l = self.lang();
        let path = self.path();
        let u = match svc.admin_show(id) {
            Ok(u) => u,
            Err(e) => return self.admin_failure(e),
        };
        let uid = s(&u, "id");
        let sessions = svc.sessions_of(&uid).unwrap_or_default();
        let passkeys = svc.passkeys_of(&uid).unwrap_or_default();
        let recent = svc.recent_events(&uid, 10);
        let action = |name: &str, label: String, class: &str| {
            html! {
                form class="inline" method="post" action={ (path) "/admin/users/" (uid) "/" (name) } {
                    (hidden(csrf, None))
                    button type="submit" class=(class) { (label) }
                }
            }
        };
        let state = s(&u, "state");
        let body = html! {
            dl {
                dt { (l.t("admin-email")) } dd { (s(&u, "email")) }
                dt { (l.t("admin-username")) } dd { (s(&u, "username")) }
                dt { (l.t("admin-state")) } dd { (state) }
                dt { (l.t("admin-second-factor")) } dd {
                    @if at(&u, "mfa_enabled") == true { (l.t("account-two-step-on")) } @else { (l.t("account-two-step-off")) }
                }
                dt { (l.t("admin-groups")) } dd {
                    @for g in at(&u, "groups").as_array().into_iter().flatten() {
                        a href={ (path) "/admin/groups/" (g.as_str().unwrap_or("")) } { (g.as_str().unwrap_or("")) } " "
                    }
                }
                dt { (l.t("admin-linked")) } dd {
                    @for i in at(&u, "identities").as_array().into_iter().flatten() {
                        (s(i, "upstream")) ": " (s(i, "subject")) " "
                    }
                }
            }
            div class="actions" {
                @if state == "disabled" { (action("enable", l.t("admin-enable"), "secondary")) }
                @else if state != "blocked" { (action("disable", l.t("admin-disable"), "secondary")) }
                @if state == "blocked" { (action("unblock", l.t("admin-unblock"), "secondary")) }
                @else { (action("block", l.t("admin-block"), "danger")) }
                @if at(&u, "mfa_enabled") == true { (action("reset-mfa", l.t("admin-reset-mfa"), "secondary")) }
                (action("sign-out", l.t("admin-sign-out"), "secondary"))
                a class="button danger" href={ (path) "/admin/users/" (uid) "/delete" } { (l.t("admin-delete")) }
            }
            h2 { (l.t("account-sessions")) }
            ul class="sessions" {
                @for x in &sessions {
                    li {
                        (l.t("admin-session-since")) " " (time(x.created_at.millis()))
                        ", " (l.t("admin-session-used")) " " (time(x.used_at.millis()))
                        @if let Some(app) = &x.app { " — " (app) }
                    }
                }
            }
            @if sessions.is_empty() { p { (l.t("admin-none")) } }
            h2 { (l.t("passkeys-title")) }
            ul { @for k in &passkeys { li { (k.name) " — " (time(k.created_at)) } } }
            @if passkeys.is_empty() { p { (l.t("admin-none")) } }
            h2 { (l.t("admin-recent-events")) }
            (event_table(l, &recent))
            p { a href={ (path) "/admin/audit?user=" (uid) } { (l.t("admin-all-events")) } }
        };
        let title = match s(&u, "email") {
            e if e.is_empty() => uid.clone(),
            e => e,
        };
        self.admin_page(&title, error, body)
    }

    fn admin_confirm_delete(&self, svc: &Service, id: &str, csrf: &str) -> Page {
        let l = self.lang();
        let path = self.path();
        let u = match svc.admin_show(id) {
            Ok(u) => u,
            Err(e) => return self.admin_failure(e),
        };
        let uid = s(&u, "id");
        let who = [s(&u, "email"), s(&u, "username"), uid.clone()]
            .into_iter()
            .find(|x| !x.is_empty())
            .unwrap_or_default();
        let body = html! {
            p { (l.tf("admin-delete-confirm", &[("who", Arg::Text(&who))])) }
            form method="post" action={ (path) "/admin/users/" (uid) "/delete" } {
                (hidden(csrf, None))
                input type="hidden" name="confirm" value="yes";
                button type="submit" class="danger" { (l.t("admin-delete")) }
            }
            p { a href={ (path) "/admin/users/" (uid) } { (l.t("admin-cancel")) } }
        };
        self.admin_page(&l.t("admin-delete"), None, body)
    }

    async fn admin_user_action(
        &mut self,
        svc: &Service,
        id: &str,
        action: &str,
        csrf: &str,
    ) -> Page {
        let change = match action {
            "disable" => Some(StateChange::Disable),
            "enable" => Some(StateChange::Enable),
            "block" => Some(StateChange::Block),
            "unblock" => Some(StateChange::Unblock),
            "sign-out" => Some(StateChange::RevokeSessions),
            _ => None,
        };
        let result = match (change, action) {
            (Some(c), _) => svc.admin_change(id, c).await.map(|_| "changed"),
            (None, "reset-mfa") => svc.admin_reset_mfa(id).await.map(|_| "changed"),
            (None, "delete") if self.field("confirm") == "yes" => {
                svc.admin_delete(id).await.map(|_| "deleted")
            }
            (None, "delete") => return self.admin_confirm_delete(svc, id, csrf),
            _ => return self.admin_not_found(),
        };
        match result {
            Ok("deleted") => self
                .portal
                .see_other(&format!("{}/admin/users?done=deleted", self.path())),
            Ok(done) => self.portal.see_other(&format!(
                "{}/admin/users/{}?done={done}",
                self.path(),
                enc(id)
            )),
            Err(AdminError::Conflict(why)) => self.admin_user(svc, id, csrf, Some(why)).await,
            Err(e) => self.admin_failure(e),
        }
    }

    fn admin_groups(&self, svc: &Service, csrf: &str, error: Option<&str>) -> Page {
        let l = self.lang();
        let path = self.path();
        let list = match crate::service::groups::list(svc.store()) {
            Ok(v) => v,
            Err(e) => return self.admin_failure(e),
        };
        let body = html! {
            table {
                thead { tr {
                    th scope="col" { (l.t("admin-group")) }
                    th scope="col" { (l.t("admin-members")) }
                    th scope="col" { (l.t("admin-description")) }
                } }
                tbody {
                    @for g in at(&list, "groups").as_array().into_iter().flatten() {
                        tr {
                            td { a href={ (path) "/admin/groups/" (s(g, "name")) } { (s(g, "name")) } }
                            td { (s(g, "members")) }
                            td { (s(g, "description")) }
                        }
                    }
                }
            }
            h2 { (l.t("admin-new-group")) }
            form method="post" action={ (path) "/admin/groups" } {
                (hidden(csrf, None))
                label for="name" { (l.t("admin-group")) }
                input type="text" id="name" name="name" required maxlength="64" autocomplete="off";
                label for="description" { (l.t("admin-description")) }
                input type="text" id="description" name="description" maxlength="200" autocomplete="off";
                button type="submit" { (l.t("admin-create")) }
            }
        };
        self.admin_page(&l.t("admin-groups"), error, body)
    }

    async fn admin_create_group(&mut self, svc: &Service, csrf: &str) -> Page {
        let name = self.field("name").trim().to_owned();
        let description =
            Some(self.field("description").trim().to_owned()).filter(|d| !d.is_empty());
        match svc.admin_group_create(name, description).await {
            Ok(g) => self.portal.see_other(&format!(
                "{}/admin/groups/{}?done=group-created",
                self.path(),
                s(&g, "name")
            )),
            Err(
                e @ (AdminError::InvalidGroupName
                | AdminError::GroupExists
                | AdminError::BadRequest(_)),
            ) => {
                let l = self.lang();
                let msg = match e {
                    AdminError::InvalidGroupName => l.t("admin-bad-group"),
                    AdminError::GroupExists => l.t("admin-group-exists"),
                    e => e.to_string(),
                };
                self.admin_groups(svc, csrf, Some(&msg))
            }
            Err(e) => self.admin_failure(e),
        }
    }

    fn admin_group(&self, svc: &Service, name: &str, csrf: &str, error: Option<&str>) -> Page {
        let l = self.lang();
        let path = self.path();
        let g = match crate::service::groups::show(svc.store(), name) {
            Ok(g) => g,
            Err(e) => return self.admin_failure(e),
        };
        let gname = s(&g, "name");
        let body = html! {
            @if !s(&g, "description").is_empty() { p { (s(&g, "description")) } }
            ul class="members" {
                @for m in at(&g, "members").as_array().into_iter().flatten() {
                    li {
                        a href={ (path) "/admin/users/" (s(m, "id")) } {
                            @if s(m, "email").is_empty() { (s(m, "id")) } @else { (s(m, "email")) }
                        }
                        " "
                        form class="inline" method="post" action={ (path) "/admin/groups/" (gname) "/remove" } {
                            (hidden(csrf, None))
                            input type="hidden" name="user" value=(s(m, "id"));
                            button type="submit" class="danger"
                                aria-label=(l.tf("admin-remove-member", &[("who", Arg::Text(&s(m, "email")))])) {
                                (l.t("admin-remove"))
                            }
                        }
                    }
                }
            }
            h2 { (l.t("admin-add-member")) }
            form method="post" action={ (path) "/admin/groups/" (gname) "/add" } {
                (hidden(csrf, None))
                label for="user" { (l.t("admin-member-key")) }
                input type="text" id="user" name="user" required autocomplete="off";
                button type="submit" { (l.t("admin-add")) }
            }
            h2 { (l.t("admin-delete-group")) }
            form method="post" action={ (path) "/admin/groups/" (gname) "/delete" } {
                (hidden(csrf, None))
                label { input type="checkbox" name="confirm" value="yes" required; " " (l.t("admin-delete-group-confirm")) }
                button type="submit" class="danger" { (l.t("admin-delete")) }
            }
        };
        self.admin_page(
            &l.tf("admin-group-title", &[("name", Arg::Text(&gname))]),
            error,
            body,
        )
    }

    async fn admin_group_action(
        &mut self,
        svc: &Service,
        name: &str,
        action: &str,
        csrf: &str,
    ) -> Page {
        let user = self.field("user").trim().to_owned();
        let (result, done) = match action {
            "add" => (
                svc.admin_group_member(name.to_owned(), user, true).await,
                "member-added",
            ),
            "remove" => (
                svc.admin_group_member(name.to_owned(), user, false).await,
                "member-removed",
            ),
            "delete" if self.field("confirm") == "yes" => (
                svc.admin_group_delete(name.to_owned()).await,
                "group-deleted",
            ),
            _ => return self.admin_not_found(),
        };
        match result {
            Ok(_) if done == "group-deleted" => self
                .portal
                .see_other(&format!("{}/admin/groups?done={done}", self.path())),
            Ok(_) => self.portal.see_other(&format!(
                "{}/admin/groups/{}?done={done}",
                self.path(),
                enc(name)
            )),
            Err(AdminError::NotFound) => {
                let msg = self.lang().t("admin-not-found");
                self.admin_group(svc, name, csrf, Some(&msg))
            }
            Err(e) => self.admin_failure(e),
        }
    }

    fn admin_audit(&self, svc: &Service) -> Page {
        let l = self.lang();
        let path = self.path();
        let opt = |k: &str| Some(self.field(k).trim().to_owned()).filter(|x| !x.is_empty());
        let args = AuditArgs {
            user: opt("user"),
            event: opt("event"),
            since: opt("since"),
            limit: Some(PAGE),
            cursor: opt("cursor"),
        };
        let (events, next, error) = match crate::service::audit::query(svc.store(), &args) {
            Ok(p) => (
                at(&p, "events").as_array().cloned().unwrap_or_default(),
                at(&p, "next").as_str().map(str::to_owned),
                None,
            ),
            Err(QueryError::NotFound) => (Vec::new(), None, Some(l.t("admin-not-found"))),
            Err(QueryError::BadRequest(why)) => (Vec::new(), None, Some(why)),
            Err(e) => return self.admin_failure(AdminError::from(e)),
        };
        let mut more = args.clone();
        more.cursor = next.clone();
        let body = html! {
            form method="get" action={ (path) "/admin/audit" } class="search" {
                label for="user" { (l.t("admin-filter-user")) }
                input type="text" id="user" name="user" value=[args.user.as_deref()] autocomplete="off";
                label for="event" { (l.t("admin-filter-event")) }
                input type="text" id="event" name="event" value=[args.event.as_deref()] autocomplete="off";
                label for="since" { (l.t("admin-filter-since")) }
                input type="text" id="since" name="since" value=[args.since.as_deref()] placeholder="2026-12-01T00:00:00Z" autocomplete="off";
                button type="submit" class="secondary" { (l.t("admin-search-submit")) }
            }
            (event_table(l, &events))
            @if next.is_some() {
                p { a href={ (path) "/admin/audit?" (more.to_query()) } { (l.t("admin-next")) } }
            }
        };
        self.admin_page(&l.t("admin-audit"), error.as_deref(), body)
    }
}

/// Events as a table: time, event, account, actor, door, address.
fn event_table(l: Lang, events: &[Value]) -> Markup {
    html! {
        @if events.is_empty() {
            p { (l.t("admin-none")) }
        } @else {
            div class="scroll" {
                table class="events" {
                    thead { tr {
                        th scope="col" { (l.t("admin-when")) }
                        th scope="col" { (l.t("admin-event")) }
                        th scope="col" { (l.t("admin-who")) }
                        th scope="col" { (l.t("admin-actor")) }
                        th scope="col" { (l.t("admin-door")) }
                        th scope="col" { (l.t("admin-address")) }
                    } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (s(e, "at")) }
                                td { (s(e, "event")) }
                                td { (s(e, "user")) }
                                td { (s(e, "actor")) }
                                td { (s(e, "door")) }
                                td { (s(e, "ip")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
