//! The portal: sign-in pages for people in browsers, under `[portal] path` (`/ui`).
//!
//! Every page runs the same service operations as the API families (the account policy
//! is the service's: lockout, states, the second factor); what the portal adds is the
//! browser's side: forms, the session cookie, safe redirects (`rd`), and the defences a
//! page needs (a form token bound to the browser, the `Origin` check, the headers).
//!
//! Cookies: `latchkey_session` (the session, see `service::portal`), `latchkey_csrf` (a
//! random value a signed-out browser's forms are bound to), `latchkey_mfa` (a sign-in
//! waiting for its second step: 5 minutes). All `HttpOnly`, `SameSite=Lax`, `Secure`
//! when the public URL is https.

mod admin;
pub mod oidc;
mod pages;
pub mod rd;
mod upstream;

use crate::clock::UnixMillis;
use std::collections::BTreeMap;

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use maud::Markup;
use protocol::{Failure, Operation, Outcome, Reauth, SecondFactor, Secret, Transport, UserOp};

use crate::config::PortalSettings;
use crate::i18n::{Arg, Lang};
use crate::limits::Source;
use crate::service::portal::Visitor;
use crate::service::Service;
use pages::Frame;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "latchkey_session";
/// The cookie that binds a sign-in through an upstream to the browser that began it.
const UPSTREAM_COOKIE: &str = "latchkey_upstream";
/// Its name where the deployment allows the `__Host-` prefix (https, no `cookie_domain`):
/// a browser keeps such a cookie only when this host set it with `Secure`, `Path=/` and
/// no `Domain`, so no sibling subdomain can toss one in.
pub const HOST_SESSION_COOKIE: &str = "__Host-latchkey_session";
/// The signed-out browser's cookie the forms are bound to.
const CSRF_COOKIE: &str = "latchkey_csrf";
/// A sign-in waiting for its second factor.
const MFA_COOKIE: &str = "latchkey_mfa";
/// The password typed on the sign-up page, sealed, until the mailed code proves the
/// address (`latchkey_signup`: the address, then the sealed password).
const SIGNUP_COOKIE: &str = "latchkey_signup";
/// The language the visitor chose with the pages' switch (a code: `de`).
const LANG_COOKIE: &str = "latchkey_lang";
/// How long the switch's choice is kept, seconds (a year).
const LANG_SECS: u64 = 365 * 24 * 3600;
/// How long a sign-up waits for its code, seconds.
const SIGNUP_SECS: u64 = 900;
/// How long the second step may take, seconds (the service's pending credential's life).
const MFA_STEP_SECS: u64 = 300;

/// Where a cookie goes.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// The portal's pages only (`Path=<portal path>`).
    Portal,
    /// Every path, and the hosts of `cookie_domain` when set (the session).
    Site,
    /// Every path of this host alone (no `Domain`).
    Host,
}

/// The portal of a server: its settings and the headers every page carries.
#[derive(Debug)]
pub struct Portal {
    settings: PortalSettings,
    /// The upstream OpenID Providers its login page offers.
    upstreams: crate::upstream::Upstreams,
    csp: HeaderValue,
    /// The language of a visitor whose browser asks for none of the catalogs'.
    default_lang: Lang,
}

/// One request to the portal (or to the OIDC endpoints), as the server read it.
#[derive(Debug)]
pub struct PageRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The whole path.
    pub path: &'a str,
    /// The language of the pages (see [`Portal::language`]).
    pub lang: Lang,
    /// The path below the portal's prefix (`/login`); for the OIDC endpoints, the whole
    /// path.
    pub rest: &'a str,
    /// The query string.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body (bounded by `server.max_body`).
    pub body: &'a [u8],
    /// The client, as the limits count it.
    pub source: Source,
}

/// A portal answer: the page (or redirect) and the cookies it sets.
type Page = protocol::Reply;

impl Portal {
    /// The portal `settings` describe, in `default_lang` where a browser asks for no
    /// language of the catalogs.
    pub fn new(
        settings: &PortalSettings,
        default_lang: Lang,
        upstreams: crate::upstream::Upstreams,
    ) -> Portal {
        let img = match settings
            .logo_url
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
        {
            Some(u) => format!("'self' {}", u.origin().ascii_serialization()),
            None => "'self'".to_owned(),
        };
        // Scripts: only the portal's own passkey script (no inline code); it talks to
        // the portal alone. (No `form-action`: browsers apply it to the redirects after
        // a sign-in form, which go to `rd` and to OpenID Connect clients.)
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src {img}; script-src 'self'; \
             connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
        );
        Portal {
            csp: HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
            settings: settings.clone(),
            default_lang,
            upstreams,
        }
    }

    /// The language of a visitor's pages: the one chosen with the pages' switch, else
    /// the best match of `Accept-Language`, else `portal.default_language`.
    pub fn language(&self, headers: &HeaderMap) -> Lang {
        if let Some(l) = only_cookie(headers, LANG_COOKIE).and_then(Lang::from_code) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Lang::negotiate(accept, self.default_lang)
    }

    /// The settings.
    pub fn settings(&self) -> &PortalSettings {
        &self.settings
    }

    /// The part of `path` below the portal's prefix, when the portal serves it.
    pub fn owns<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.settings.path.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// Whether a POST to `rest` checks a credential (the per-IP bucket counts it).
    pub fn checks_credential(method: &Method, rest: &str) -> bool {
        // A sign-in through an upstream: its start writes a flow and may ask the
        // upstream; its callback exchanges a code and checks an id token.
        if rest.starts_with("/upstream/") {
            return true;
        }
        method == Method::POST
            && matches!(
                rest,
                "/login"
                    | "/signup"
                    | "/code"
                    | "/code/verify"
                    | "/mfa"
                    | "/stepup"
                    | "/forgot"
                    | "/reset"
                    | "/password"
                    | "/passkey/login/start"
                    | "/passkey/login/finish"
            )
    }

    /// Where `rd` may send a browser, by the rule of [`rd::safe_rd`].
    pub fn safe_rd(&self, rd: &str) -> Option<String> {
        rd::safe_rd(
            rd,
            &rd::Targets {
                public_host: &self.settings.public_host,
                cookie_domain: self.settings.cookie_domain.as_deref(),
            },
        )
    }

    /// The login page's URL on the public URL, with `rd` when it may be followed.
    pub fn login_url(&self, public_url: &str, rd: Option<&str>) -> String {
        self.page_url(public_url, "/login", rd)
    }

    /// The URL of the portal's `page` (`/stepup`) on the public URL, with `rd` when it may
    /// be followed.
    pub fn page_url(&self, public_url: &str, page: &str, rd: Option<&str>) -> String {
        let mut u = format!("{public_url}{}{page}", self.settings.path);
        if let Some(rd) = rd.and_then(|r| self.safe_rd(r)) {
            u.push_str("?rd=");
            u.extend(form_urlencoded::byte_serialize(rd.as_bytes()));
        }
        u
    }

    /// The session cookie's name in this deployment ([`HOST_SESSION_COOKIE`] where the
    /// prefix is possible, [`SESSION_COOKIE`] elsewhere).
    pub fn session_name(&self) -> &'static str {
        if self.settings.secure && self.settings.cookie_domain.is_none() {
            HOST_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The visitor of a request's session cookie, with the cookie. A request that
    /// carries several session cookies has none: which one the browser sent first is
    /// for a sibling site to choose (cookie tossing), so none is believed.
    pub async fn visitor(&self, svc: &Service, headers: &HeaderMap) -> Option<(Visitor, String)> {
        let c = only_cookie(headers, self.session_name())?;
        if !crate::service::portal::is_session_syntax(c) {
            return None;
        }
        let v = svc.portal_visitor(c).await.ok()?;
        Some((v, c.to_owned()))
    }

    /// A `Set-Cookie` value with the portal's attributes, for `scope`.
    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>, scope: Scope) -> String {
        let s = &self.settings;
        let mut c = format!("{name}={value}; HttpOnly; SameSite=Lax");
        match scope {
            Scope::Portal => {
                c.push_str("; Path=");
                c.push_str(&s.path);
            }
            Scope::Site => {
                c.push_str("; Path=/");
                if let Some(d) = &s.cookie_domain {
                    c.push_str("; Domain=");
                    c.push_str(d);
                }
            }
            Scope::Host => c.push_str("; Path=/"),
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if s.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// The `Set-Cookie` of a session that ends at `expires_at`, seen at `now`.
    pub fn session_cookie(
        &self,
        value: &str,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> HeaderValue {
        let age = expires_at.since(now).as_secs();
        header_value(&self.cookie(self.session_name(), value, Some(age), Scope::Site))
    }

    /// The `Set-Cookie` that ends the browser's session cookie.
    pub fn clear_session(&self) -> HeaderValue {
        self.clear(self.session_name(), Scope::Site)
    }

    fn clear(&self, name: &str, scope: Scope) -> HeaderValue {
        header_value(&self.cookie(name, "", Some(0), scope))
    }

    /// Adds the headers every page carries.
    fn secure_headers(&self, r: Page) -> Page {
        r.with(header::CONTENT_SECURITY_POLICY, self.csp.clone())
            .with(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))
            .with(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            )
            .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
    }

    fn html(&self, status: StatusCode, markup: Markup) -> Page {
        let mut r = Page::empty(status);
        r.body = markup.into_string().into_bytes();
        self.secure_headers(r).with(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )
    }

    fn page(
        &self,
        req: &PageRequest<'_>,
        status: StatusCode,
        title: &str,
        error: Option<&str>,
        content: Markup,
    ) -> Page {
        self.framed(req, status, title, error, None, false, content)
    }

    #[allow(clippy::too_many_arguments)]
    fn framed(
        &self,
        req: &PageRequest<'_>,
        status: StatusCode,
        title: &str,
        error: Option<&str>,
        notice: Option<&str>,
        wide: bool,
        content: Markup,
    ) -> Page {
        let here = req.here(&self.settings.path);
        let frame = Frame {
            portal: &self.settings,
            title,
            error,
            notice,
            wide,
            lang: req.lang,
            here: &here,
        };
        self.html(status, pages::layout(&frame, content))
    }

    /// A 303 to `to`, with the headers every page carries.
    pub fn see_other(&self, to: &str) -> Page {
        self.secure_headers(Page::empty(StatusCode::SEE_OTHER))
            .with(header::LOCATION, header_value(to))
    }

    fn trouble(&self, req: &PageRequest<'_>, status: StatusCode, message: &str) -> Page {
        self.page(
            req,
            status,
            &req.lang.t("trouble-title"),
            None,
            pages::trouble(req.lang, &self.settings.path, message),
        )
    }

    fn forbidden(&self, req: &PageRequest<'_>) -> Page {
        self.trouble(req, StatusCode::FORBIDDEN, &req.lang.t("form-other-site"))
    }

    /// The page of a browser that forward-auth refuses (issue 25): which app, who is
    /// signed in, and a way to sign out (to sign in as someone else). 403.
    pub fn refused_page(
        &self,
        svc: &Service,
        headers: &HeaderMap,
        app: &str,
        who: &str,
        cookie: Option<&str>,
    ) -> Page {
        let path = format!("{}/login", self.settings.path);
        let req = PageRequest {
            method: &Method::GET,
            path: &path,
            lang: self.language(headers),
            rest: "/login",
            query: None,
            headers,
            body: &[],
            source: Source::LOCAL,
        };
        let csrf = cookie.map(|c| svc.form_token(&format!("session:{c}")));
        let l = req.lang;
        let content = pages::refused(l, &self.settings.path, app, who, csrf.as_deref());
        self.page(
            &req,
            StatusCode::FORBIDDEN,
            &l.t("refused-title"),
            None,
            content,
        )
    }

    /// The language switch (`/lang?to=de&back=/ui/login`): keeps the choice in a cookie
    /// and sends the browser back to the page it was on (a path of this server only).
    fn switch_language(&self, req: &PageRequest<'_>) -> Page {
        let Some(form) = fields(req) else {
            return self.trouble(req, StatusCode::BAD_REQUEST, &req.lang.t("form-unreadable"));
        };
        let Some(lang) = form.get("to").and_then(|c| Lang::from_code(c)) else {
            return self.trouble(req, StatusCode::NOT_FOUND, &req.lang.t("no-such-page"));
        };
        let back = form
            .get("back")
            .map(String::as_str)
            .filter(|b| local_path(b))
            .map_or_else(|| format!("{}/login", self.settings.path), str::to_owned);
        let cookie = self.cookie(LANG_COOKIE, lang.code(), Some(LANG_SECS), Scope::Host);
        self.see_other(&back)
            .with(header::SET_COOKIE, header_value(&cookie))
    }
}

/// Whether `to` is a path on this server, fit for a `Location`: `/`, not `//` (another
/// host), visible ASCII only.
fn local_path(to: &str) -> bool {
    to.starts_with('/')
        && !to.starts_with("//")
        && !to.contains('\\')
        && to.bytes().all(|b| b.is_ascii_graphic())
}

impl PageRequest<'_> {
    /// Where the language switch brings this page back to: itself when a GET shows it,
    /// else the sign-in page (which sends a signed-in browser on).
    fn here(&self, portal_path: &str) -> String {
        match (self.method == Method::GET, self.query) {
            (true, Some(q)) => format!("{}?{q}", self.path),
            (true, None) => self.path.to_owned(),
            (false, _) => format!("{portal_path}/login"),
        }
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The values of cookie `name` the browser sent (a browser may send several of one name
/// when sites above this host set one too): at most 4 are looked at.
pub fn cookies<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == name && out.len() < 4 {
                    out.push(val.trim_matches('"'));
                }
            }
        }
    }
    out
}

/// The value of cookie `name` when the browser sent exactly one of that name.
fn only_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    match cookies(headers, name).as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// The first value of cookie `name` of a cookie's syntax (256 bits, base64url).
fn token_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers, name)
        .into_iter()
        .find(|c| crate::service::portal::is_session_syntax(c))
}

/// Whether a state-changing request may come from where it says it comes from: not
/// cross-site by `Sec-Fetch-Site`, and an `Origin` (when sent) that is the public URL's
/// or the `Host` the browser addressed. `Origin: null` passes only with
/// `Sec-Fetch-Site: same-origin` (a same-origin form on a `no-referrer` page).
fn same_origin(p: &PortalSettings, headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site == Some("cross-site") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return site == Some("same-origin");
    }
    if origin.eq_ignore_ascii_case(&p.public_origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Whether the body is a form (`application/x-www-form-urlencoded`, parameters allowed).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The fields of a form body, or of the query for a GET.
fn fields(req: &PageRequest<'_>) -> Option<BTreeMap<String, String>> {
    if req.method == Method::POST {
        if !is_form(req.headers) {
            return None;
        }
        protocol::input::parse_form(req.body).ok()
    } else {
        protocol::input::parse_form(req.query.unwrap_or_default().as_bytes()).ok()
    }
}

/// What a failure tells the person (in `l`), and the status of the page that says it.
fn explain(l: Lang, f: Failure) -> (StatusCode, String) {
    let (status, id) = match f {
        Failure::InvalidCredentials => (StatusCode::UNAUTHORIZED, "error-credentials"),
        Failure::LockedOut { retry_after }
        | Failure::Transport(Transport::RateLimited { retry_after }) => {
            let minutes = retry_after.div_ceil(60).max(1);
            let msg = l.tf("error-wait", &[("minutes", Arg::Count(minutes))]);
            return (StatusCode::TOO_MANY_REQUESTS, msg);
        }
        Failure::Disabled => (StatusCode::FORBIDDEN, "error-disabled"),
        Failure::Blocked => (StatusCode::FORBIDDEN, "error-blocked"),
        Failure::Unverified => (StatusCode::FORBIDDEN, "error-unverified"),
        Failure::InvalidMfaCode => (StatusCode::UNAUTHORIZED, "error-mfa-code"),
        Failure::InvalidSessionCode | Failure::InvalidCode => {
            (StatusCode::UNAUTHORIZED, "error-code")
        }
        Failure::InvalidMfaPending => (StatusCode::UNAUTHORIZED, "error-mfa-pending"),
        Failure::WeakPassword => (StatusCode::BAD_REQUEST, "error-weak-password"),
        Failure::ReauthRequired => (StatusCode::UNAUTHORIZED, "error-current-password"),
        Failure::InvalidEmail => (StatusCode::BAD_REQUEST, "error-email"),
        Failure::MailUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "error-mail"),
        Failure::MfaNotPending | Failure::MfaAlreadyEnabled | Failure::MfaNotEnabled => {
            (StatusCode::CONFLICT, "error-done-already")
        }
        Failure::Transport(Transport::Overloaded { .. })
        | Failure::Transport(Transport::Timeout) => (StatusCode::SERVICE_UNAVAILABLE, "error-busy"),
        Failure::MissingToken | Failure::TokenInvalid | Failure::TokenExpired => {
            (StatusCode::UNAUTHORIZED, "error-signed-out")
        }
        Failure::InvalidPasskey => (StatusCode::BAD_REQUEST, "error-passkey"),
        Failure::PasskeyNotFound => (StatusCode::NOT_FOUND, "error-passkey-unknown"),
        Failure::LastSignInMethod => (StatusCode::CONFLICT, "error-last-method"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    };
    (status, l.t(id))
}

/// A file the portal serves as it is (the style sheet, the passkey script).
fn asset(req: &PageRequest<'_>, body: &[u8], content_type: &'static str) -> Page {
    if req.method != Method::GET && req.method != Method::HEAD {
        return Page::method_not_allowed(&[Method::GET]);
    }
    let mut r = Page::empty(StatusCode::OK);
    r.body = body.to_vec();
    r.with(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
        .with(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        )
        .with(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )
}

/// Handles one portal request.
pub async fn handle(svc: &Service, portal: &Portal, req: PageRequest<'_>) -> Page {
    let s = &portal.settings;
    // Mails the visit sends are in the language of its pages.
    let svc = &svc.speaking(req.lang);
    let l = req.lang;
    match req.rest {
        "/style.css" => return asset(&req, include_bytes!("style.css"), "text/css; charset=utf-8"),
        "/theme.css" => match &s.accent {
            Some(accent) => {
                return asset(
                    &req,
                    pages::theme_css(accent).as_bytes(),
                    "text/css; charset=utf-8",
                )
            }
            None => return portal.trouble(&req, StatusCode::NOT_FOUND, &l.t("no-such-page")),
        },
        "/logo" => match &s.logo {
            Some((bytes, kind)) => return asset(&req, bytes, kind),
            None => return portal.trouble(&req, StatusCode::NOT_FOUND, &l.t("no-such-page")),
        },
        "/lang" if req.method == Method::GET => return portal.switch_language(&req),
        "/lang" => return Page::method_not_allowed(&[Method::GET]),
        "/passkey.js" => {
            return asset(
                &req,
                include_bytes!("passkey.js"),
                "text/javascript; charset=utf-8",
            )
        }
        "/form_post.js" => {
            return asset(
                &req,
                include_bytes!("form_post.js"),
                "text/javascript; charset=utf-8",
            )
        }
        _ => {}
    }
    // The per-IP bucket counts the forms that check a credential, as it counts the API's
    // credential routes.
    if Portal::checks_credential(req.method, req.rest) {
        if let Err(f) = svc.rate_limit(req.source) {
            let (status, msg) = explain(l, f);
            let page = portal.trouble(&req, status, &msg);
            return match f {
                Failure::Transport(Transport::RateLimited { retry_after }) => {
                    page.retry_after(retry_after)
                }
                _ => page,
            };
        }
    }
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    // The passkey ceremonies are the script's: JSON in, JSON out.
    if req.rest.starts_with("/passkey/") {
        return passkey_json(svc, portal, &req).await;
    }
    let Some(form) = fields(&req) else {
        return portal.trouble(&req, StatusCode::BAD_REQUEST, &l.t("form-unreadable"));
    };
    let field = |k: &str| form.get(k).map(String::as_str);
    let rd = field("rd").and_then(|r| portal.safe_rd(r));
    if post && !same_origin(s, req.headers) {
        return portal.forbidden(&req);
    }
    let mut flow = Flow {
        svc,
        portal,
        req: &req,
        rd,
        form: &form,
        credential: None,
        set: Vec::new(),
        retry_after: std::sync::atomic::AtomicU64::new(0),
    };
    if let Some(page) = flow.upstream_route(get, post).await {
        return flow.finish(page);
    }
    if let Some(page) = flow.admin_route(get, post).await {
        return flow.finish(page);
    }
    let page = match (req.rest, get, post) {
        ("" | "/", true, _) => portal.see_other(&format!("{}/account", s.path)),
        ("/login", true, _) => flow.login_page(None, StatusCode::OK).await,
        ("/login", _, true) => flow.password().await,
        ("/signup", true, _) => flow.signup_page(None, StatusCode::OK),
        ("/signup", _, true) => flow.signup().await,
        ("/code", true, _) => flow.code_page(None, StatusCode::OK),
        ("/code", _, true) => flow.request_code().await,
        ("/code/verify", _, true) => flow.redeem_code().await,
        ("/mfa", true, _) => flow.mfa_page(None, StatusCode::OK),
        ("/stepup", true, _) => flow.step_up_page(None, StatusCode::OK).await,
        ("/stepup", _, true) => flow.step_up().await,
        ("/mfa", _, true) => flow.second_factor().await,
        ("/forgot", true, _) => flow.forgot_page(None, StatusCode::OK),
        ("/forgot", _, true) => flow.forgot().await,
        ("/reset", _, true) => flow.reset().await,
        ("/logout", true, _) | ("/logout", _, true) => flow.logout().await,
        ("/account", true, _) => flow.account(None, None, StatusCode::OK).await,
        ("/sessions/end", _, true) => flow.end_session().await,
        ("/password", _, true) => flow.change_password().await,
        ("/totp/enroll", _, true) => flow.totp_enroll().await,
        ("/totp/confirm", _, true) => flow.totp_confirm().await,
        ("/totp/disable", _, true) => flow.totp_disable().await,
        ("/passkeys/rename", _, true) => flow.passkey_rename().await,
        ("/passkeys/remove", _, true) => flow.passkey_remove().await,
        (
            "" | "/" | "/login" | "/signup" | "/code" | "/mfa" | "/forgot" | "/account" | "/logout"
            | "/stepup",
            false,
            false,
        ) => Page::method_not_allowed(&[Method::GET, Method::POST]),
        ("/code/verify" | "/reset" | "/sessions/end" | "/password", _, _)
        | ("/totp/enroll" | "/totp/confirm" | "/totp/disable", _, _)
        | ("/passkeys/rename" | "/passkeys/remove", _, _) => {
            Page::method_not_allowed(&[Method::POST])
        }
        _ => portal.trouble(&req, StatusCode::NOT_FOUND, &l.t("no-such-page")),
    };
    flow.finish(page)
}

/// A request of the passkey script: a same-origin JSON POST whose string members are
/// read as a form's fields, and whose `credential` is the authenticator's answer.
async fn passkey_json(svc: &Service, portal: &Portal, req: &PageRequest<'_>) -> Page {
    if req.method != Method::POST {
        return Page::method_not_allowed(&[Method::POST]);
    }
    let refuse = |status: StatusCode, msg: &str| {
        portal.secure_headers(Page::json(status, &serde_json::json!({"error": msg})))
    };
    if !same_origin(&portal.settings, req.headers) {
        return refuse(StatusCode::FORBIDDEN, &req.lang.t("request-other-site"));
    }
    let Ok(mut body) = protocol::input::parse_json_object(req.body) else {
        return refuse(StatusCode::BAD_REQUEST, &req.lang.t("request-unreadable"));
    };
    let credential = body.remove("credential");
    let form: BTreeMap<String, String> = body
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
        .collect();
    let rd = form.get("rd").and_then(|r| portal.safe_rd(r));
    let mut flow = Flow {
        svc,
        portal,
        req,
        rd,
        form: &form,
        credential,
        set: Vec::new(),
        retry_after: std::sync::atomic::AtomicU64::new(0),
    };
    let page = flow.passkey().await;
    flow.finish(page)
}

/// One request's walk through the pages.
struct Flow<'a> {
    svc: &'a Service,
    portal: &'a Portal,
    req: &'a PageRequest<'a>,
    /// Where to go after signing in (checked).
    rd: Option<String>,
    form: &'a BTreeMap<String, String>,
    /// The WebAuthn answer a passkey request carries.
    credential: Option<serde_json::Value>,
    /// Cookies to set.
    set: Vec<HeaderValue>,
    /// `Retry-After` of a refusal that says to come back later (the server holds such
    /// an answer up to a second, as it does the API's).
    /// (0: none.)
    retry_after: std::sync::atomic::AtomicU64,
}

impl Flow<'_> {
    /// `page` with what the walk decided on the way: its cookies, and when to come back.
    fn finish(self, mut page: Page) -> Page {
        let secs = self.retry_after.into_inner();
        if secs > 0 {
            page = page.retry_after(secs);
        }
        for c in self.set {
            page = page.with(header::SET_COOKIE, c);
        }
        page
    }

    fn path(&self) -> &str {
        &self.portal.settings.path
    }

    /// Sets a cookie of the portal's pages (`Path=` the portal), for `secs` seconds or
    /// this browser session.
    fn set_cookie(&mut self, name: &str, value: &str, secs: Option<u64>) {
        let cookie = self.portal.cookie(name, value, secs, Scope::Portal);
        self.set.push(header_value(&cookie));
    }

    fn field(&self, k: &str) -> &str {
        self.form.get(k).map_or("", String::as_str)
    }

    /// The signed-out browser's form token, making its cookie when it has none.
    fn pre_login_token(&mut self) -> Result<String, Page> {
        let cookie = match token_cookie(self.req.headers, CSRF_COOKIE) {
            Some(c) => c.to_owned(),
            None => {
                let c = self
                    .svc
                    .new_browser_secret()
                    .map_err(|f| self.failure_page(f))?;
                self.set_cookie(CSRF_COOKIE, &c, None);
                c
            }
        };
        Ok(self.svc.form_token(&format!("pre:{cookie}")))
    }

    /// Whether the form carries the token of the signed-out browser's cookie.
    fn pre_login_ok(&self) -> bool {
        cookies(self.req.headers, CSRF_COOKIE).into_iter().any(|c| {
            self.svc
                .form_token_ok(&format!("pre:{c}"), self.field("csrf"))
        })
    }

    fn session_token(&self, cookie: &str) -> String {
        self.svc.form_token(&format!("session:{cookie}"))
    }

    /// What a failure tells the person (see [`explain`]), noting when to come back.
    fn explain(&self, f: Failure) -> (StatusCode, String) {
        if let Failure::LockedOut { retry_after }
        | Failure::Transport(Transport::RateLimited { retry_after })
        | Failure::Transport(Transport::Overloaded { retry_after }) = f
        {
            self.retry_after
                .store(retry_after.max(1), std::sync::atomic::Ordering::Relaxed);
        }
        explain(self.lang(), f)
    }

    fn failure_page(&self, f: Failure) -> Page {
        let (status, msg) = self.explain(f);
        self.portal.trouble(self.req, status, &msg)
    }

    fn lang(&self) -> Lang {
        self.req.lang
    }

    fn page(&self, status: StatusCode, title: &str, error: Option<&str>, content: Markup) -> Page {
        self.portal.page(self.req, status, title, error, content)
    }

    fn forbidden(&self) -> Page {
        self.portal.forbidden(self.req)
    }

    fn rd_or_account(&self) -> String {
        self.rd
            .clone()
            .unwrap_or_else(|| format!("{}/account", self.path()))
    }

    fn with_rd(&self, page: &str) -> String {
        let mut u = format!("{}{page}", self.path());
        if let Some(rd) = &self.rd {
            u.push_str("?rd=");
            u.extend(form_urlencoded::byte_serialize(rd.as_bytes()));
        }
        u
    }

    async fn login_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        // A browser signed in already goes on, unless it came back to sign in again.
        if error.is_none() && self.field("prompt") != "login" {
            if let Some((v, cookie)) = self.portal.visitor(self.svc, self.req.headers).await {
                self.renewed(&v, &cookie);
                return self.portal.see_other(&self.rd_or_account());
            }
        }
        let csrf = match self.pre_login_token() {
            Ok(t) => t,
            Err(p) => return p,
        };
        let l = self.lang();
        let content = pages::login(
            l,
            &pages::Login {
                path: self.path(),
                csrf: &csrf,
                rd: self.rd.as_deref(),
                login: self.field("username"),
                error: error.is_some(),
                passkeys: self.svc.config().passkeys.is_some(),
                signup: self.portal.settings.signup,
                upstreams: &self.upstream_buttons(),
            },
        );
        // What the step before did (issue 28, item 2): a reset lands here.
        let notice = match (error, self.field("done")) {
            (None, "reset") => Some(l.t("done-reset")),
            _ => None,
        };
        self.portal.framed(
            self.req,
            status,
            &l.t("login-title"),
            error,
            notice.as_deref(),
            false,
            content,
        )
    }

    fn code_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        let csrf = match self.pre_login_token() {
            Ok(t) => t,
            Err(p) => return p,
        };
        let l = self.lang();
        let content = pages::code(l, self.path(), &csrf, self.rd.as_deref());
        self.page(status, &l.t("code-title"), error, content)
    }

    fn signup_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        if !self.portal.settings.signup {
            return self.portal.trouble(
                self.req,
                StatusCode::NOT_FOUND,
                &self.lang().t("signup-off"),
            );
        }
        let csrf = match self.pre_login_token() {
            Ok(t) => t,
            Err(p) => return p,
        };
        let min = self.svc.config().password.min_length;
        let l = self.lang();
        let content = pages::signup(
            l,
            self.path(),
            &csrf,
            self.rd.as_deref(),
            self.field("email"),
            min,
        );
        self.page(status, &l.t("signup-title"), error, content)
    }

    /// A sign-up: the password (if any) checked against the policy, then a code mailed to
    /// the address, answered alike whether or not an account has it (the code signs its
    /// owner in, or makes the account). The password waits, sealed, in this browser.
    async fn signup(&mut self) -> Page {
        if !self.portal.settings.signup {
            return self.portal.trouble(
                self.req,
                StatusCode::NOT_FOUND,
                &self.lang().t("signup-off"),
            );
        }
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let email = self.field("email").trim().to_owned();
        if !protocol::input::valid_email(&email) {
            let (status, msg) = self.explain(Failure::InvalidEmail);
            return self.signup_page(Some(&msg), status);
        }
        let password = self.field("password").to_owned();
        if !password.is_empty() {
            let min = self.svc.config().password.min_length;
            let weak = protocol::input::is_weak_password(&password, min, &[&email])
                || protocol::input::prepare_password(&password).is_none();
            if weak {
                let msg = self.lang().tf("signup-weak", &[("min", min.into())]);
                return self.signup_page(Some(&msg), StatusCode::BAD_REQUEST);
            }
        }
        let op = Operation::RequestCode {
            email: email.clone(),
        };
        if let Err(f) = self.svc.execute(op, self.req.source).await {
            let (status, msg) = self.explain(f);
            return self.signup_page(Some(&msg), status);
        }
        if password.is_empty() {
            self.set
                .push(self.portal.clear(SIGNUP_COOKIE, Scope::Portal));
        } else {
            let sealed = match self
                .svc
                .seal_for_browser(&password, &format!("signup:{email}"))
            {
                Ok(s) => s,
                Err(f) => return self.failure_page(f),
            };
            let value = format!("{}.{sealed}", crate::primitives::b64url(email.as_bytes()));
            self.set_cookie(SIGNUP_COOKIE, &value, Some(SIGNUP_SECS));
        }
        self.portal.see_other(&self.with_rd("/code"))
    }

    /// After a mailed code signed `token`'s browser in: the password the sign-up page
    /// sealed for this address, set when the account has none. What became of it, as the
    /// account page's `done` says it.
    async fn finish_signup(&mut self, token: &str) -> Option<&'static str> {
        let value = only_cookie(self.req.headers, SIGNUP_COOKIE)?.to_owned();
        self.set
            .push(self.portal.clear(SIGNUP_COOKIE, Scope::Portal));
        let (address, sealed) = value.split_once('.')?;
        let email = String::from_utf8(crate::primitives::b64url_decode(address)?).ok()?;
        let password = self
            .svc
            .open_from_browser(sealed, &format!("signup:{email}"))?;
        let v = self.svc.portal_visitor(token).await.ok()?;
        if !v
            .user()
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        {
            return None;
        }
        if v.has_password() {
            return Some("signup-existing");
        }
        let op = UserOp::ChangePassword {
            reauth: Reauth::RecentSignIn,
            new_password: Secret(password),
            fresh_tokens: false,
        };
        match self.svc.act(&v.principal, op, self.req.source).await {
            Ok(_) => Some("signup"),
            Err(_) => Some("signup-no-password"),
        }
    }

    fn mfa_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        if only_cookie(self.req.headers, MFA_COOKIE).is_none() {
            return self.portal.see_other(&self.with_rd("/login"));
        }
        let csrf = match self.pre_login_token() {
            Ok(t) => t,
            Err(p) => return p,
        };
        let l = self.lang();
        let content = pages::mfa(l, self.path(), &csrf, self.rd.as_deref());
        self.page(status, &l.t("mfa-title"), error, content)
    }

    fn forgot_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        let csrf = match self.pre_login_token() {
            Ok(t) => t,
            Err(p) => return p,
        };
        let l = self.lang();
        let content = pages::forgot(l, self.path(), &csrf);
        self.page(status, &l.t("forgot-title"), error, content)
    }

    /// Sets the cookie of a portal session a sign-in just opened and sends the browser
    /// on.
    fn signed_in(
        &mut self,
        user_id: &str,
        cookie: &str,
        expires_at: i64,
        method: &'static str,
    ) -> Page {
        self.svc.portal_signed_in(user_id, method);
        let now = self.svc.now();
        if self.portal.settings.cookie_domain.is_some() {
            // A host-only cookie of the same name (left from before `cookie_domain` was
            // set) would stand beside the new one, and two session cookies are none.
            self.set
                .push(self.portal.clear(SESSION_COOKIE, Scope::Host));
        }
        self.set.push(
            self.portal
                .session_cookie(cookie, UnixMillis::from_millis(expires_at), now),
        );
        self.set.push(self.portal.clear(MFA_COOKIE, Scope::Portal));
        self.portal.see_other(&self.rd_or_account())
    }

    async fn password(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let op = Operation::PasswordSignIn {
            login: self.field("username").trim().to_owned(),
            password: Secret(self.field("password").to_owned()),
            client: None,
            activate: false,
            second: SecondFactor::Later,
        };
        match self.svc.sign_in_browser(op, self.req.source).await {
            Ok(Outcome::Session {
                user,
                token,
                expires_at,
            }) => self.signed_in(&user.id, &token, expires_at, "pwd"),
            Ok(Outcome::MfaPending { credential, .. }) => self.second_factor_next(&credential),
            Ok(_) => self.failure_page(Failure::Transport(Transport::Internal)),
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.login_page(Some(&msg), status).await
            }
        }
    }

    /// Sends the browser to the second-factor page of the pending sign-in `credential`.
    fn second_factor_next(&mut self, credential: &str) -> Page {
        let value = format!("p.{credential}");
        self.set_cookie(MFA_COOKIE, &value, Some(MFA_STEP_SECS));
        self.portal.see_other(&self.with_rd("/mfa"))
    }

    async fn request_code(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let email = self.field("email").trim().to_owned();
        if !protocol::input::valid_email(&email) {
            let (status, msg) = self.explain(Failure::InvalidEmail);
            return self.login_page(Some(&msg), status).await;
        }
        match self
            .svc
            .execute(Operation::RequestCode { email }, self.req.source)
            .await
        {
            Ok(_) => self.portal.see_other(&self.with_rd("/code")),
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.login_page(Some(&msg), status).await
            }
        }
    }

    async fn redeem_code(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let code = self.field("code").trim().to_owned();
        let op = Operation::RedeemCode {
            code: code.clone(),
            mfa_code: None,
        };
        match self.svc.sign_in_browser(op, self.req.source).await {
            Ok(Outcome::Session {
                user,
                token,
                expires_at,
            }) => {
                let page = self.signed_in(&user.id, &token, expires_at, "code");
                match self.finish_signup(&token).await {
                    // The account page says what became of the sign-up.
                    Some(done) if self.rd.is_none() => self
                        .portal
                        .see_other(&format!("{}/account?done={done}", self.path())),
                    _ => page,
                }
            }
            Ok(Outcome::MfaRequired) => {
                let Some(normalized) = crate::service::normalize_code(&code) else {
                    return self.failure_page(Failure::InvalidSessionCode);
                };
                let value = format!("c.{normalized}");
                self.set_cookie(MFA_COOKIE, &value, Some(MFA_STEP_SECS));
                self.portal.see_other(&self.with_rd("/mfa"))
            }
            Ok(_) => self.failure_page(Failure::Transport(Transport::Internal)),
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.code_page(Some(&msg), status)
            }
        }
    }

    async fn second_factor(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let pending = only_cookie(self.req.headers, MFA_COOKIE).map(str::to_owned);
        let mfa_code = self.field("mfa_code").trim().to_owned();
        let (op, method) = match pending.as_deref().and_then(|p| p.split_once('.')) {
            Some(("p", credential)) => (
                Operation::MfaFinalize {
                    pending: credential.to_owned(),
                    code: mfa_code,
                },
                "pwd",
            ),
            Some(("c", code)) => (
                Operation::RedeemCode {
                    code: code.to_owned(),
                    mfa_code: Some(mfa_code),
                },
                "code",
            ),
            _ => return self.portal.see_other(&self.with_rd("/login")),
        };
        match self.svc.sign_in_browser(op, self.req.source).await {
            Ok(Outcome::Session {
                user,
                token,
                expires_at,
            }) => self.signed_in(&user.id, &token, expires_at, method),
            Ok(_) => self.failure_page(Failure::Transport(Transport::Internal)),
            Err(f @ (Failure::InvalidMfaCode | Failure::LockedOut { .. })) => {
                let (status, msg) = self.explain(f);
                self.mfa_page(Some(&msg), status)
            }
            Err(f) => {
                self.set.push(self.portal.clear(MFA_COOKIE, Scope::Portal));
                let (status, msg) = self.explain(f);
                self.login_page(Some(&msg), status).await
            }
        }
    }

    async fn forgot(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let email = self.field("email").trim().to_owned();
        if !protocol::input::valid_email(&email) {
            let (status, msg) = self.explain(Failure::InvalidEmail);
            return self.forgot_page(Some(&msg), status);
        }
        match self
            .svc
            .execute(
                Operation::ForgotPassword {
                    email: email.clone(),
                },
                self.req.source,
            )
            .await
        {
            Ok(_) => {
                let csrf = match self.pre_login_token() {
                    Ok(t) => t,
                    Err(p) => return p,
                };
                let l = self.lang();
                let content = pages::reset(l, self.path(), &csrf, &email);
                self.page(StatusCode::OK, &l.t("reset-title"), None, content)
            }
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.forgot_page(Some(&msg), status)
            }
        }
    }

    async fn reset(&mut self) -> Page {
        if !self.pre_login_ok() {
            return self.forbidden();
        }
        let email = self.field("email").trim().to_owned();
        let op = Operation::ResetPassword {
            email: Some(email.clone()),
            code: self.field("code").trim().to_owned(),
            new_password: Secret(self.field("new_password").to_owned()),
        };
        match self.svc.execute(op, self.req.source).await {
            Ok(_) => self
                .portal
                .see_other(&format!("{}/login?done=reset", self.path())),
            Err(f) => {
                let (status, msg) = self.explain(f);
                let csrf = match self.pre_login_token() {
                    Ok(t) => t,
                    Err(p) => return p,
                };
                let l = self.lang();
                let content = pages::reset(l, self.path(), &csrf, &email);
                self.page(status, &l.t("reset-title"), Some(&msg), content)
            }
        }
    }

    /// The visitor of a signed-in page, and its session cookie.
    async fn signed_in_visitor(&mut self) -> Option<(Visitor, String)> {
        let (v, cookie) = self.portal.visitor(self.svc, self.req.headers).await?;
        self.renewed(&v, &cookie);
        Some((v, cookie))
    }

    /// Whether the form carries the token of session `cookie`.
    fn session_ok(&self, cookie: &str) -> bool {
        self.svc
            .form_token_ok(&format!("session:{cookie}"), self.field("csrf"))
    }

    /// Sends the session cookie again when the visit renewed it.
    fn renewed(&mut self, v: &Visitor, cookie: &str) {
        if let Some(expires_at) = v.renewed {
            let now = self.svc.now();
            self.set
                .push(self.portal.session_cookie(cookie, expires_at, now));
        }
    }

    /// A signed-in POST: the visitor, when its form token is right.
    async fn signed_in_post(&mut self) -> Result<(Visitor, String), Page> {
        let Some((v, cookie)) = self.signed_in_visitor().await else {
            return Err(self.portal.see_other(&format!("{}/login", self.path())));
        };
        if !self.session_ok(&cookie) {
            return Err(self.forbidden());
        }
        let csrf = self.session_token(&cookie);
        Ok((v, csrf))
    }

    /// Step-up: a session of one factor that an app wants two of gives its second here
    /// (not the password again). Without a second factor enrolled: how to add one.
    async fn step_up_page(&mut self, error: Option<&str>, status: StatusCode) -> Page {
        let Some((v, cookie)) = self.signed_in_visitor().await else {
            return self.portal.see_other(&self.with_rd("/login"));
        };
        if error.is_none() && crate::access::two_factors(&v.principal.amr) {
            return self.portal.see_other(&self.rd_or_account());
        }
        let csrf = self.session_token(&cookie);
        let enrolled = v.principal.user.mfa.as_ref().is_some_and(|m| m.enabled);
        // One of the account's passkeys signs in anew, with two factors (its sign-in asks
        // the signed-out form token).
        let has_passkey = self.svc.config().passkeys.is_some()
            && self
                .svc
                .passkeys_of(&v.user().id)
                .is_ok_and(|p| !p.is_empty());
        let passkey = match has_passkey {
            true => match self.pre_login_token() {
                Ok(t) => Some(t),
                Err(p) => return p,
            },
            false => None,
        };
        let l = self.lang();
        let content = pages::step_up(
            l,
            self.path(),
            &csrf,
            self.rd.as_deref(),
            enrolled,
            passkey.as_deref(),
        );
        let status = if enrolled || passkey.is_some() {
            status
        } else {
            StatusCode::FORBIDDEN
        };
        self.page(status, &l.t("stepup-title"), error, content)
    }

    async fn step_up(&mut self) -> Page {
        let (v, _) = match self.signed_in_post().await {
            Ok(x) => x,
            Err(p) => return p,
        };
        if crate::access::two_factors(&v.principal.amr) {
            return self.portal.see_other(&self.rd_or_account());
        }
        let code = self.field("mfa_code").to_owned();
        match self.svc.step_up(&v.principal, code, self.req.source).await {
            Ok(()) => self.portal.see_other(&self.rd_or_account()),
            Err(f) => {
                let (status, msg) = self.explain(f);
                self.step_up_page(Some(&msg), status).await
            }
        }
    }

    async fn logout(&mut self) -> Page {
        let to = self
            .rd
            .clone()
            .unwrap_or_else(|| format!("{}/login", self.path()));
        let Some((v, cookie)) = self.signed_in_visitor().await else {
            self.set.push(self.portal.clear_session());
            return self.portal.see_other(&to);
        };
        if !self.session_ok(&cookie) {
            return self.forbidden();
        }
        if let Err(f) = self
            .svc
            .end_session(&v.user().id, &v.principal.session)
            .await
        {
            return self.failure_page(f);
        }
        self.set.clear();
        self.set.push(self.portal.clear_session());
        self.portal.see_other(&to)
    }

    async fn account(
        &mut self,
        notice: Option<&str>,
        error: Option<&str>,
        status: StatusCode,
    ) -> Page {
        let Some((v, cookie)) = self.signed_in_visitor().await else {
            return self.portal.see_other(&format!("{}/login", self.path()));
        };
        let csrf = self.session_token(&cookie);
        let l = self.lang();
        let done = match self.field("done") {
            d @ ("password" | "totp-off" | "session" | "passkey" | "passkey-renamed"
            | "passkey-removed" | "signup" | "signup-existing" | "signup-no-password"
            | "upstream-linked" | "upstream-unlinked") => Some(l.t(&format!("done-{d}"))),
            _ => None,
        };
        let notice = notice.or(done.as_deref());
        let sessions = match self.svc.sessions_of(&v.user().id) {
            Ok(s) => s,
            Err(f) => return self.failure_page(f),
        };
        let has_password = v.has_password();
        let passkeys = match self.svc.passkeys_of(&v.user().id) {
            Ok(p) => p,
            Err(f) => return self.failure_page(f),
        };
        let content = pages::account(
            l,
            &pages::Account {
                passkeys: self
                    .svc
                    .config()
                    .passkeys
                    .is_some()
                    .then_some(passkeys.as_slice()),
                path: self.path(),
                csrf: &csrf,
                username: v.user().username.as_deref(),
                email: v.user().email.as_deref(),
                email_verified: v.user().email_verified,
                totp: v.view().mfa_enabled,
                has_password,
                sessions: &sessions,
                current: &v.principal.session,
                upstreams: self.upstream_links(&v.user().id, &csrf).as_ref(),
                sign_ins: &self.svc.recent_sign_ins(&v.user().id, 5),
            },
        );
        self.portal.framed(
            self.req,
            status,
            &l.t("account-title"),
            error,
            notice,
            true,
            content,
        )
    }

    async fn end_session(&mut self) -> Page {
        let (v, _) = match self.signed_in_post().await {
            Ok(x) => x,
            Err(p) => return p,
        };
        let id = self.field("id").to_owned();
        if let Err(f) = self.svc.end_session(&v.user().id, &id).await {
            return self.failure_page(f);
        }
        self.portal
            .see_other(&format!("{}/account?done=session", self.path()))
    }

    /// An action of the account page: the signed-in visitor of a POST (its form token
    /// checked) runs `op` with an access token of its session, as the API's routes do.
    /// `Ok`: what the operation answered, and the session's form token; `Err`: the page
    /// to answer instead (sign-in, 403, or the account page with what went wrong; a wrong
    /// current password reads as such).
    async fn account_action(&mut self, op: UserOp) -> Result<(Outcome, String), Page> {
        let (v, csrf) = self.signed_in_post().await?;
        let result = self.svc.act(&v.principal, op, self.req.source).await;
        match result {
            Ok(outcome) => Ok((outcome, csrf)),
            Err(f) => {
                let f = match f {
                    Failure::InvalidCredentials => Failure::ReauthRequired,
                    f => f,
                };
                let (status, msg) = self.explain(f);
                Err(self.account(None, Some(&msg), status).await)
            }
        }
    }

    async fn change_password(&mut self) -> Page {
        let current = self.field("current_password").to_owned();
        let new_password = Secret(self.field("new_password").to_owned());
        let reauth = Reauth::Password((!current.is_empty()).then_some(Secret(current)));
        let op = UserOp::ChangePassword {
            reauth,
            new_password,
            fresh_tokens: false,
        };
        match self.account_action(op).await {
            Ok(_) => self
                .portal
                .see_other(&format!("{}/account?done=password", self.path())),
            Err(page) => page,
        }
    }

    async fn totp_enroll(&mut self) -> Page {
        match self.account_action(UserOp::TotpEnroll).await {
            Ok((
                Outcome::TotpEnrollment {
                    secret,
                    otpauth_url,
                },
                csrf,
            )) => {
                let l = self.lang();
                let qr = qr_svg(&otpauth_url, &l.t("totp-qr"));
                let content =
                    pages::totp_setup(l, self.path(), &csrf, &secret, &otpauth_url, qr.as_deref());
                self.page(StatusCode::OK, &l.t("totp-title"), None, content)
            }
            Ok(_) => self.failure_page(Failure::Transport(Transport::Internal)),
            Err(page) => page,
        }
    }

    async fn totp_confirm(&mut self) -> Page {
        let code = self.field("code").trim().to_owned();
        match self.account_action(UserOp::TotpConfirm { code }).await {
            Ok((Outcome::MfaEnabled { recovery_codes }, _)) => {
                let l = self.lang();
                let content = pages::recovery_codes(l, self.path(), &recovery_codes);
                self.page(StatusCode::OK, &l.t("totp-on-title"), None, content)
            }
            Ok(_) => self.failure_page(Failure::Transport(Transport::Internal)),
            Err(page) => page,
        }
    }

    async fn passkey_rename(&mut self) -> Page {
        let id = self.field("id").to_owned();
        let name = self.field("name").to_owned();
        match self
            .account_action(UserOp::PasskeyRename { id, name })
            .await
        {
            Ok(_) => self
                .portal
                .see_other(&format!("{}/account?done=passkey-renamed", self.path())),
            Err(page) => page,
        }
    }

    async fn passkey_remove(&mut self) -> Page {
        let id = self.field("id").to_owned();
        match self.account_action(UserOp::PasskeyDelete { id }).await {
            Ok(_) => self
                .portal
                .see_other(&format!("{}/account?done=passkey-removed", self.path())),
            Err(page) => page,
        }
    }

    /// A passkey request's answer: JSON `{"location"}` to go on to, or `{"error"}`.
    fn json_answer(&self, status: StatusCode, body: &serde_json::Value) -> Page {
        self.portal.secure_headers(Page::json(status, body))
    }

    fn json_failure(&self, f: Failure) -> Page {
        let (status, msg) = self.explain(f);
        self.json_answer(status, &serde_json::json!({"error": msg}))
    }

    fn json_options(&self, result: Result<Outcome, Failure>) -> Page {
        match result {
            Ok(Outcome::PasskeyChallenge {
                ceremony,
                public_key,
            }) => self.json_answer(
                StatusCode::OK,
                &serde_json::json!({"ceremony": ceremony, "publicKey": public_key}),
            ),
            Ok(_) => self.json_failure(Failure::Transport(Transport::Internal)),
            Err(f) => self.json_failure(f),
        }
    }

    /// The passkey ceremonies of the sign-in page (signed out: the browser's form
    /// token) and of the account page (signed in: the session's).
    async fn passkey(&mut self) -> Page {
        let credential = self.credential.take().unwrap_or(serde_json::Value::Null);
        let ceremony = self.field("ceremony").to_owned();
        match self.req.rest {
            "/passkey/login/start" | "/passkey/login/finish" => {
                if !self.pre_login_ok() {
                    return self.json_failure(Failure::InvalidPasskey);
                }
                if self.req.rest.ends_with("/start") {
                    let r = self.svc.passkey_login_start().await;
                    return self.json_options(r);
                }
                let op = Operation::PasskeyLoginFinish {
                    ceremony,
                    credential,
                };
                match self.svc.sign_in_browser(op, self.req.source).await {
                    Ok(Outcome::Session {
                        user,
                        token,
                        expires_at,
                    }) => {
                        let page = self.signed_in(&user.id, &token, expires_at, "hwk");
                        match page.status {
                            StatusCode::SEE_OTHER => self.json_answer(
                                StatusCode::OK,
                                &serde_json::json!({"location": self.rd_or_account()}),
                            ),
                            _ => self.json_failure(Failure::Transport(Transport::Internal)),
                        }
                    }
                    Ok(_) => self.json_failure(Failure::Transport(Transport::Internal)),
                    Err(f) => self.json_failure(f),
                }
            }
            "/passkey/register/start" | "/passkey/register/finish" => {
                let Some((v, cookie)) = self.signed_in_visitor().await else {
                    return self.json_failure(Failure::MissingToken);
                };
                if !self.session_ok(&cookie) {
                    return self.json_failure(Failure::InvalidPasskey);
                }
                let op = if self.req.rest.ends_with("/start") {
                    UserOp::PasskeyRegisterStart
                } else {
                    let name = self.field("name").trim().to_owned();
                    UserOp::PasskeyRegisterFinish {
                        ceremony,
                        name: (!name.is_empty()).then_some(name),
                        credential,
                    }
                };
                match self.svc.act(&v.principal, op, self.req.source).await {
                    Err(Failure::ReauthRequired) => self.json_answer(
                        StatusCode::UNAUTHORIZED,
                        &serde_json::json!({"error": self.lang().t("passkeys-fresh-sign-in")}),
                    ),
                    Ok(Outcome::Passkey(_)) => self.json_answer(
                        StatusCode::OK,
                        &serde_json::json!({"location": format!("{}/account?done=passkey", self.path())}),
                    ),
                    r => self.json_options(r),
                }
            }
            _ => self.json_answer(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": self.lang().t("no-such-page")}),
            ),
        }
    }

    async fn totp_disable(&mut self) -> Page {
        let code = self.field("code").trim().to_owned();
        match self.account_action(UserOp::TotpDisable { code }).await {
            Ok(_) => self
                .portal
                .see_other(&format!("{}/account?done=totp-off", self.path())),
            Err(page) => page,
        }
    }
}

/// The `otpauth://` URL as an inline SVG QR code (no script, no external image).
fn qr_svg(url: &str, label: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(192, 192)
        .build();
    let start = svg.find("<svg")?;
    let svg = svg.get(start..)?;
    let label = maud::html! { (label) }.into_string();
    Some(svg.replacen(
        "<svg ",
        &format!("<svg class=\"qr\" role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_told_in_every_language() {
        let failures = [
            Failure::InvalidCredentials,
            Failure::LockedOut { retry_after: 61 },
            Failure::Disabled,
            Failure::Blocked,
            Failure::Unverified,
            Failure::InvalidMfaCode,
            Failure::InvalidCode,
            Failure::InvalidMfaPending,
            Failure::WeakPassword,
            Failure::ReauthRequired,
            Failure::InvalidEmail,
            Failure::MailUnavailable,
            Failure::MfaNotEnabled,
            Failure::Transport(Transport::Timeout),
            Failure::TokenExpired,
            Failure::InvalidPasskey,
            Failure::PasskeyNotFound,
            Failure::LastSignInMethod,
            Failure::Transport(Transport::Internal),
        ];
        for l in Lang::all() {
            for f in failures {
                let (_, text) = explain(l, f);
                assert!(!text.starts_with("error-"), "{f:?} in {}: {text}", l.code());
            }
        }
        let (_, wait) = explain(Lang::EN, Failure::LockedOut { retry_after: 61 });
        assert_eq!(wait, "Too many attempts. Try again in 2 minutes.");
    }

    #[test]
    fn the_switch_sends_back_only_to_this_server() {
        assert!(local_path("/ui/login?rd=https%3A%2F%2Fapp"));
        assert!(!local_path("//evil.example/"));
        assert!(!local_path("https://evil.example/"));
        assert!(!local_path("/\\evil.example"));
        assert!(!local_path("/ui/login\r\nSet-Cookie: x=1"));
        assert!(!local_path(""));
    }
}
