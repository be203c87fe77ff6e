//! The OpenID Connect provider's endpoints (OIDC Core 1.0, authorization code flow):
//! discovery, `/oidc/authorize` (a page: sign-in on the portal, consent), `/oidc/token`,
//! `/oidc/userinfo`, `/oidc/logout` (RP-initiated logout 1.0). The keys are in the JWKS.
//!
//! An unknown client or an unregistered `redirect_uri` gets an error page and never a
//! redirect; every other refusal of an authorization request goes back to the client
//! (RFC 6749 §4.1.2.1) with `state` and `iss` (RFC 9207).

use std::collections::BTreeMap;

use http::{header, HeaderValue, Method, StatusCode};
use protocol::{Failure, Reply, Transport};
use serde_json::json;

use super::{pages, PageRequest, Portal};
use protocol::oidc::{check_authorize, AuthzRequest, Refusal, SCOPES};

use crate::config::OidcClientSettings;
use crate::service::oidc::Authorization;
use crate::service::policy::{self, Wanted, ACR_ONE_FACTOR, ACR_TWO_FACTORS};
use crate::service::Service;

/// The discovery document's path.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
/// Where the endpoints live.
pub const PREFIX: &str = "/oidc";

/// Whether `path` is one of the provider's.
pub fn owns(path: &str) -> bool {
    path == DISCOVERY
        || path
            .strip_prefix(PREFIX)
            .is_some_and(|r| r.starts_with('/'))
}

/// Whether a request to `path` checks a credential (the per-IP bucket counts it).
pub fn checks_credential(method: &Method, path: &str) -> bool {
    method == Method::POST && path == "/oidc/token"
}

/// An RFC 6749 §5.2 error.
fn token_error(status: StatusCode, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
    .no_store()
}

/// Handles one provider request.
pub async fn handle(svc: &Service, portal: &Portal, req: PageRequest<'_>) -> Reply {
    let get_or_post = req.method == Method::GET || req.method == Method::POST;
    match req.rest {
        DISCOVERY if req.method == Method::GET => discovery(svc),
        "/oidc/authorize" if get_or_post => authorize(svc, portal, &req).await,
        "/oidc/token" if req.method == Method::POST => token(svc, &req).await,
        "/oidc/userinfo" if get_or_post => userinfo(svc, &req),
        "/oidc/logout" if get_or_post => logout(svc, portal, &req).await,
        DISCOVERY => Reply::method_not_allowed(&[Method::GET]),
        "/oidc/token" => Reply::method_not_allowed(&[Method::POST]),
        "/oidc/authorize" | "/oidc/userinfo" | "/oidc/logout" => {
            Reply::method_not_allowed(&[Method::GET, Method::POST])
        }
        _ => Reply::not_found(),
    }
}

fn discovery(svc: &Service) -> Reply {
    let cfg = svc.config();
    let base = &cfg.server.public_url;
    let mut doc = json!({
        "issuer": cfg.tokens.issuer,
        "authorization_endpoint": format!("{base}{PREFIX}/authorize"),
        "token_endpoint": format!("{base}{PREFIX}/token"),
        "userinfo_endpoint": format!("{base}{PREFIX}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}{PREFIX}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce",
            "amr", "acr", "at_hash", "email", "email_verified", "name", "preferred_username",
            "groups"],
        "acr_values_supported": [ACR_ONE_FACTOR, ACR_TWO_FACTORS],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": true,
    });
    if let (Some((_, mount)), Some(d)) = (
        cfg.mounts.iter().find(|(n, _)| *n == "oauth"),
        doc.as_object_mut(),
    ) {
        let m = mount.trim_end_matches('/');
        d.insert(
            "introspection_endpoint".into(),
            json!(format!("{base}{m}/oauth/introspect")),
        );
        d.insert(
            "revocation_endpoint".into(),
            json!(format!("{base}{m}/oauth/revoke")),
        );
        for k in [
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            d.insert(k.into(), json!(["client_secret_basic"]));
        }
    }
    Reply::json(StatusCode::OK, &doc).with(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )
}

/// The parameters of a request: the query, and for a POST the form body too (a name
/// given in both, or twice, is refused).
fn params(req: &PageRequest<'_>) -> Option<BTreeMap<String, String>> {
    let mut p = protocol::input::parse_form(req.query.unwrap_or_default().as_bytes()).ok()?;
    if req.method == Method::POST {
        if !super::is_form(req.headers) {
            return None;
        }
        for (k, v) in protocol::input::parse_form(req.body).ok()? {
            if p.insert(k, v).is_some() {
                return None;
            }
        }
    }
    Some(p)
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let mut u = url::Url::parse(uri).ok()?;
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Some(u.to_string())
}

/// A redirect of the browser (302 for a GET, 303 after a POST).
fn redirect(method: &Method, to: &str) -> Reply {
    let status = if method == Method::POST {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    Reply::empty(status)
        .with(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/")),
        )
        .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
        .with(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        )
}

/// An authorization request with its client and redirect URI known good.
struct Authz<'a> {
    svc: &'a Service,
    portal: &'a Portal,
    client_name: &'a str,
    redirect_uri: String,
    state: Option<String>,
    form_post: bool,
    req: &'a PageRequest<'a>,
}

impl Authz<'_> {
    /// Sends the browser back to the client with `pairs`, `state` and `iss`: in the
    /// redirect URI's query, or (`response_mode=form_post`) as a form posted to it.
    fn back(&self, pairs: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        let iss = self.svc.config().tokens.issuer.clone();
        all.push(("iss", &iss));
        if self.form_post {
            let l = self.req.lang;
            let content = pages::form_post(
                l,
                &self.portal.settings().path,
                self.client_name,
                &self.redirect_uri,
                &all,
            );
            return self
                .portal
                .page(self.req, StatusCode::OK, &l.t("back-title"), None, content)
                .with(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
        }
        match with_query(&self.redirect_uri, &all) {
            Some(to) => redirect(self.req.method, &to),
            None => Reply::empty(StatusCode::BAD_REQUEST),
        }
    }

    fn error(&self, error: &'static str, description: &str) -> Reply {
        self.svc.oidc_refused("authorization");
        self.back(&[("error", error), ("error_description", description)])
    }
}

async fn authorize(svc: &Service, portal: &Portal, req: &PageRequest<'_>) -> Reply {
    let l = req.lang;
    let Some(p) = params(req) else {
        return portal.trouble(req, StatusCode::BAD_REQUEST, &l.t("oidc-unreadable"));
    };
    let checked = match check_authorize(&p, &svc.config().oidc_clients) {
        Ok(c) => c,
        Err(Refusal::Page(msg)) => {
            svc.oidc_refused("authorization");
            // What is wrong is for the app's developer: named as the specification does.
            let msg = l.tf("oidc-invalid", &[("detail", msg.into())]);
            return portal.trouble(req, StatusCode::BAD_REQUEST, &msg);
        }
        Err(Refusal::Back {
            redirect_uri,
            form_post,
            client_name,
            state,
            error,
            description,
        }) => {
            let a = Authz {
                svc,
                portal,
                client_name: &client_name,
                redirect_uri,
                state,
                form_post,
                req,
            };
            return a.error(error, description);
        }
    };
    let AuthzRequest {
        client,
        redirect_uri,
        form_post,
        state,
        scope,
        nonce,
        challenge,
        none,
        login,
        consent,
        max_age,
        acr_values,
    } = checked;
    let get = |k: &str| p.get(k).map(String::as_str);
    let a = Authz {
        svc,
        portal,
        client_name: &client.name,
        redirect_uri,
        state,
        form_post,
        req,
    };
    // OIDC Core §3.1.2.1: the hint names whom the client expects; one this server did
    // not sign is an invalid request.
    let hinted = match get("id_token_hint") {
        None => None,
        Some(h) => match svc.id_token_hint(h) {
            Some(hint) => Some(hint.sub),
            None => {
                return a.error(
                    "invalid_request",
                    "id_token_hint is not an id token this server signed",
                )
            }
        },
    };
    let now = svc.now();
    let found = portal.visitor(svc, req.headers).await;
    // The request as it goes to the login page and comes back (what a stamp is bound to).
    let binding: Vec<(&str, &str)> = p
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "login_after" | "csrf" | "decision"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&binding)
        .finish();
    // When this very request sent the browser to the login page: only from a stamp this
    // server made for it (a forged or borrowed one is no stamp at all).
    let login_after = get("login_after").and_then(|s| svc.login_stamp_time(s, &query));
    let wanted = Wanted {
        login,
        max_age,
        sent_to_login_at: login_after,
        hinted: hinted.as_deref(),
    };
    let fresh_enough = |v: &crate::service::portal::Visitor| {
        policy::fresh_enough(&wanted, &v.user().id, v.principal.signed_in_at, now)
    };
    let (v, cookie) = match found {
        Some((v, c)) if fresh_enough(&v) => (v, c),
        other => {
            if none {
                return a.error("login_required", "no sign-in on this browser");
            }
            // To the login page, and back here with the same request and a stamp of
            // this moment sealed to it.
            let stamp = svc.login_stamp(now, &query);
            let rd = format!(
                "{PREFIX}/authorize?{query}&login_after={}",
                form_urlencoded::byte_serialize(stamp.as_bytes()).collect::<String>()
            );
            let s = portal.settings();
            let mut login = format!("{}/login?", s.path);
            if other.is_some() {
                login.push_str("prompt=login&");
            }
            login.push_str("rd=");
            login.extend(form_urlencoded::byte_serialize(rd.as_bytes()));
            return portal.see_other(&login);
        }
    };
    // Who may use this app (issue 25): told only now, after the sign-in, so a stranger
    // learns nothing. A member whose sign-in has one factor where two are wanted steps up.
    let who = crate::access::Who {
        id: &v.user().id,
        email: v.user().email.as_deref(),
        username: v.user().username.as_deref(),
        groups: &v.groups,
        two_factors: crate::access::two_factors(&v.principal.amr),
    };
    match crate::access::oidc_decision(client.allowed_groups.as_deref(), client.require_mfa, &who).0
    {
        crate::access::Decision::Allow => {}
        crate::access::Decision::StepUp if none => {
            return a.error("interaction_required", "the app requires a second factor")
        }
        crate::access::Decision::StepUp => {
            let rd = format!("{PREFIX}/authorize?{query}");
            let mut to = format!("{}/stepup?rd=", portal.settings().path);
            to.extend(form_urlencoded::byte_serialize(rd.as_bytes()));
            return portal.see_other(&to);
        }
        _ => {
            svc.access_refused(&v.user().id, &format!("oidc:{}", client.id), 0);
            return a.error("access_denied", "this account may not use this app");
        }
    }
    // An essential acr the sign-in does not meet is a failed authentication (OIDC Core
    // §5.5.1.1); the id token's acr says what was met.
    if !policy::meets_acr(&v.principal.amr, acr_values.as_deref()) {
        return a.error(
            "access_denied",
            "this sign-in does not meet the acr the app requires",
        );
    }
    let needs_consent = client.consent || consent;
    if needs_consent {
        let decided = req.method == Method::POST
            && super::same_origin(portal.settings(), req.headers)
            && svc.form_token_ok(
                &format!("session:{cookie}"),
                get("csrf").unwrap_or_default(),
            );
        match (decided, get("decision")) {
            (true, Some("allow")) => {}
            (true, _) => return a.error("access_denied", "the person did not allow it"),
            (false, _) if none => {
                return a.error("consent_required", "the person must allow this app first")
            }
            (false, _) => {
                let csrf = svc.form_token(&format!("session:{cookie}"));
                let hidden: Vec<(String, String)> = p
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "decision"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let content = pages::consent(
                    l,
                    &client.name,
                    v.user()
                        .username
                        .as_deref()
                        .or(v.user().email.as_deref())
                        .unwrap_or(&v.user().id),
                    &scope,
                    &csrf,
                    &hidden,
                );
                let title = l.tf("consent-title", &[("app", client.name.as_str().into())]);
                return portal.page(req, StatusCode::OK, &title, None, content);
            }
        }
    }
    let code = match svc
        .oidc_code(
            &v,
            Authorization {
                client_id: client.id.clone(),
                redirect_uri: a.redirect_uri.clone(),
                scope,
                nonce,
                code_challenge: challenge,
            },
        )
        .await
    {
        Ok(c) => c,
        Err(_) => return a.error("server_error", "the code could not be made; try again"),
    };
    let mut r = a.back(&[("code", &code)]);
    if let Some(expires_at) = v.renewed {
        r = r.with(
            header::SET_COOKIE,
            portal.session_cookie(&cookie, expires_at, now),
        );
    }
    r
}

/// The client of a token request: Basic, or `client_id` (+ `client_secret`) in the body,
/// never both.
fn token_client<'a>(
    svc: &'a Service,
    req: &PageRequest<'_>,
    form: &BTreeMap<String, String>,
) -> Result<&'a OidcClientSettings, Reply> {
    let basic = protocol::input::parse_basic(req.headers);
    let body_id = form.get("client_id");
    let refused = |basic_used: bool| {
        let r = token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if basic_used {
            r.with(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="latchkey""#),
            )
        } else {
            r
        }
    };
    let (id, secret, basic_used) = match (&basic, body_id) {
        (Some(_), Some(_)) if form.contains_key("client_secret") => {
            return Err(token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some(c), _) => (c.id.clone(), c.secrets().collect::<Vec<_>>(), true),
        (None, Some(id)) => (
            id.clone(),
            form.get("client_secret")
                .map(String::as_str)
                .into_iter()
                .collect(),
            false,
        ),
        (None, None) => return Err(refused(false)),
    };
    if let (Some(c), Some(body)) = (&basic, body_id) {
        if &c.id != body {
            return Err(refused(true));
        }
    }
    svc.oidc_client(&id, &secret)
        .map_err(|_| refused(basic_used))
}

async fn token(svc: &Service, req: &PageRequest<'_>) -> Reply {
    if !super::is_form(req.headers) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let Ok(form) = protocol::input::parse_form(req.body) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the form could not be read (a parameter given twice?)",
        );
    };
    let client = match token_client(svc, req, &form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let get = |k: &str| form.get(k).map(String::as_str);
    let result = match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code is missing",
                );
            };
            svc.oidc_exchange(client, code, get("redirect_uri"), get("code_verifier"))
                .await
        }
        Some("refresh_token") => {
            let Some(t) = get("refresh_token") else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is missing",
                );
            };
            svc.oidc_refresh(client, t.to_owned()).await
        }
        Some(_) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )
        }
        None => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            )
        }
    };
    match result {
        Ok(g) => {
            let mut body = json!({
                "access_token": g.tokens.access_token,
                "token_type": "Bearer",
                "expires_in": g.tokens.expires_in,
                "id_token": g.id_token,
                "scope": g.scope,
            });
            if let (true, Some(b)) = (g.offline(), body.as_object_mut()) {
                b.insert("refresh_token".into(), json!(g.tokens.refresh_token));
            }
            Reply::json(StatusCode::OK, &body).no_store()
        }
        Err(
            Failure::InvalidCode
            | Failure::RefreshInvalid
            | Failure::RefreshExpired
            | Failure::InvalidClient,
        ) => token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code or refresh token is invalid, expired, spent, or not this client's",
        ),
        Err(Failure::Transport(Transport::Overloaded { retry_after })) => token_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again",
        )
        .retry_after(retry_after),
        Err(_) => token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "something failed inside the server",
        ),
    }
}

fn userinfo(svc: &Service, req: &PageRequest<'_>) -> Reply {
    let form_body = (req.method == Method::POST && super::is_form(req.headers)).then_some(req.body);
    let bearer = protocol::input::parse_bearer_or_form(req.headers, form_body);
    let given = !matches!(bearer, protocol::Bearer::Missing);
    match svc
        .authenticate(bearer)
        .and_then(|caller| svc.oidc_userinfo(&caller))
    {
        Ok(claims) => Reply::json(StatusCode::OK, &claims).no_store(),
        Err(Failure::Transport(Transport::Overloaded { retry_after })) => {
            token_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again")
                .retry_after(retry_after)
        }
        Err(_) => Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": if given { "invalid_token" } else { "invalid_request" },
                    "error_description": "a valid access token of this server's OpenID Connect flow is required"}),
        )
        .bearer_challenge(given),
    }
}

async fn logout(svc: &Service, portal: &Portal, req: &PageRequest<'_>) -> Reply {
    let l = req.lang;
    let refuse = |id: &str| portal.trouble(req, StatusCode::BAD_REQUEST, &l.t(id));
    let Some(p) = params(req) else {
        return refuse("oidc-logout-unreadable");
    };
    let get = |k: &str| p.get(k).map(String::as_str);
    let hint = get("id_token_hint").and_then(|t| svc.id_token_hint(t));
    if get("id_token_hint").is_some() && hint.is_none() {
        return refuse("oidc-logout-unknown");
    }
    let client_id = match (
        hint.as_ref().map(|h| h.client_id.as_str()),
        get("client_id"),
    ) {
        (Some(a), Some(b)) if a != b => return refuse("oidc-logout-contradicts"),
        (Some(a), _) | (None, Some(a)) => Some(a),
        (None, None) => None,
    };
    let client = client_id.and_then(|id| svc.config().oidc_client(id));
    let back = match get("post_logout_redirect_uri") {
        None => None,
        Some(u) => match client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|x| x == u) => Some(u.to_owned()),
            _ => return refuse("oidc-logout-unregistered"),
        },
    };
    let done = |set_cookie: bool| {
        let mut r = match &back {
            Some(u) => {
                let state: Vec<(&str, &str)> =
                    get("state").map(|s| ("state", s)).into_iter().collect();
                redirect(
                    req.method,
                    &with_query(u, &state).unwrap_or_else(|| u.clone()),
                )
            }
            None => portal.see_other(&format!("{}/login", portal.settings().path)),
        };
        if set_cookie {
            r = r.with(header::SET_COOKIE, portal.clear_session());
        }
        r
    };
    let Some((v, cookie)) = portal.visitor(svc, req.headers).await else {
        return done(false);
    };
    // Without asking only when the app's own fresh id token names this person and the
    // request comes from this site (a cross-site GET with an old id token, which any
    // page can send, is asked about: issue 23).
    let same_site = matches!(
        req.headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok()),
        Some("same-origin" | "same-site")
    );
    let hinted = hint.as_ref().map(|h| (h.sub.as_str(), h.fresh));
    let confirmed = policy::silent_logout(hinted, &v.user().id, same_site)
        || (req.method == Method::POST
            && super::same_origin(portal.settings(), req.headers)
            && svc.form_token_ok(
                &format!("session:{cookie}"),
                get("csrf").unwrap_or_default(),
            ));
    if !confirmed {
        let csrf = svc.form_token(&format!("session:{cookie}"));
        let hidden: Vec<(String, String)> = p
            .iter()
            .filter(|(k, _)| k.as_str() != "csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let an_app = l.t("logout-an-app");
        let name = client.map_or(an_app.as_str(), |c| c.name.as_str());
        let content = pages::confirm_logout(l, name, &csrf, &hidden);
        return portal.page(req, StatusCode::OK, &l.t("logout-title"), None, content);
    }
    if let Err(f) = svc.end_session(&v.user().id, &v.principal.session).await {
        let (status, msg) = super::explain(l, f);
        return portal.trouble(req, status, &msg);
    }
    done(true)
}
