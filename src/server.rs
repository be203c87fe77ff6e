//! The public listener's requests: bounded bodies, the per-IP limit of credential routes,
//! and dispatch. (The accept loop, containment and shutdown are [`crate::http`]'s.)
//!
//! A request reaches a family through the protocol-adapter table: `table.resolve` picks
//! the family and route by mount prefix, the family decodes an operation, the service
//! runs it, the family renders the answer. Nothing else is routed here but `/healthz` and
//! the two well-known key sets.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use protocol::table::{Family, Resolved, Table};
use protocol::Transport;
use protocol::{Failure, Reply};
use serde_json::json;
use tracing::Instrument as _;

use crate::access::Decision;
use crate::config::Cidr;
use crate::i18n::Lang;
use crate::limits::Source;
use crate::portal::{PageRequest, Portal};
use crate::service::audit::Context;
use crate::service::Service;

/// Why the server's routes could not be set up.
#[derive(Debug)]
pub enum AppError {
    /// The families' mounts clash.
    Mount(protocol::table::MountError),
    /// An upstream's client could not be made (its CA file, the platform's roots).
    Upstream(crate::outbound::OutboundError),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Mount(e) => write!(f, "{e}"),
            AppError::Upstream(e) => write!(f, "upstream: {e}"),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Mount(e) => Some(e),
            AppError::Upstream(e) => Some(e),
        }
    }
}

impl From<protocol::table::MountError> for AppError {
    fn from(e: protocol::table::MountError) -> Self {
        AppError::Mount(e)
    }
}

/// Everything a request handler needs.
#[derive(Debug)]
pub struct App {
    /// The service.
    pub service: Service,
    /// The mounted families.
    pub table: Table,
    max_body: u64,
    timeout: Duration,
    /// `GET /openapi.json`, made once from the table.
    openapi: serde_json::Value,
    /// The sign-in pages, unless switched off.
    pub portal: Option<Portal>,
    /// Cross-origin requests from browser apps (CORS).
    cors: Cors,
}

/// Who may call which endpoint from a page of another origin (CORS): discovery and the
/// key sets anyone; the token, userinfo and revocation endpoints the origins of the
/// OpenID Connect clients (their redirect URIs' and `allowed_origins`). Never with
/// credentials (cookies): a browser app authenticates with its tokens.
#[derive(Debug)]
struct Cors {
    /// Every client's origins, sorted.
    origins: Vec<String>,
    /// The revocation endpoint's path (the `oauth` family's, when mounted).
    revoke: Option<String>,
    /// Whether the OpenID Connect endpoints are on.
    oidc: bool,
}

/// What CORS allows a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CorsPolicy {
    /// Any origin (public documents).
    Anyone,
    /// The clients' origins; the methods a preflight may name.
    Clients(&'static str),
}

impl Cors {
    fn policy(&self, path: &str) -> Option<CorsPolicy> {
        match path {
            "/.well-known/jwks.json" | "/.well-known/paserk.json" => Some(CorsPolicy::Anyone),
            crate::portal::oidc::DISCOVERY if self.oidc => Some(CorsPolicy::Anyone),
            "/oidc/token" if self.oidc => Some(CorsPolicy::Clients("POST")),
            "/oidc/userinfo" if self.oidc => Some(CorsPolicy::Clients("GET, POST")),
            p if self.revoke.as_deref() == Some(p) && self.oidc => {
                Some(CorsPolicy::Clients("POST"))
            }
            _ => None,
        }
    }

    /// The `Access-Control-Allow-Origin` for a request of `origin` under `policy`.
    fn allow(&self, policy: CorsPolicy, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match policy {
            CorsPolicy::Anyone => Some(HeaderValue::from_static("*")),
            CorsPolicy::Clients(_) => {
                let o = origin?.to_str().ok()?;
                self.origins
                    .binary_search_by(|x| x.as_str().cmp(o))
                    .ok()
                    .and_then(|_| HeaderValue::from_str(o).ok())
            }
        }
    }

    /// The headers of an answer to `origin` under `policy` (a preflight's too).
    fn headers(
        &self,
        mut r: Reply,
        policy: CorsPolicy,
        origin: Option<&HeaderValue>,
        preflight: bool,
    ) -> Reply {
        if let CorsPolicy::Clients(_) = policy {
            r = r.with(header::VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allowed) = self.allow(policy, origin) else {
            return r;
        };
        r = r.with(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if preflight {
            let methods = match policy {
                CorsPolicy::Anyone => "GET",
                CorsPolicy::Clients(m) => m,
            };
            r = r
                .with(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(methods),
                )
                .with(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("authorization, content-type"),
                )
                .with(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("600"),
                );
        } else {
            r = r.with(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("www-authenticate, retry-after"),
            );
        }
        r
    }
}

impl App {
    /// Builds the app from the service and its configuration.
    pub fn new(service: Service) -> Result<App, AppError> {
        let cfg = service.config();
        let pairs: Vec<(&str, &str)> = cfg.mounts.iter().map(|(n, p)| (*n, p.as_str())).collect();
        let table =
            protocol::families::mount(&pairs, &cfg.server.public_url, cfg.password.min_length)?;
        let openapi = protocol::openapi::document(&table, "/", env!("CARGO_PKG_VERSION"));
        let mut origins: Vec<String> = cfg
            .oidc_clients
            .iter()
            .flat_map(|c| c.origins.iter().cloned())
            .collect();
        origins.sort();
        origins.dedup();
        let cors = Cors {
            origins,
            revoke: cfg
                .mounts
                .iter()
                .find(|(n, _)| *n == "oauth")
                .map(|(_, m)| format!("{}/oauth/revoke", m.trim_end_matches('/'))),
            oidc: cfg.portal.is_some() && !cfg.oidc_clients.is_empty(),
        };
        Ok(App {
            cors,
            openapi,
            portal: match &cfg.portal {
                Some(p) => {
                    let callbacks = format!(
                        "{}{}/upstream",
                        cfg.server.public_url.trim_end_matches('/'),
                        p.path
                    );
                    let upstreams = crate::upstream::Upstreams::new(&cfg.upstreams, &callbacks)
                        .map_err(AppError::Upstream)?;
                    Some(Portal::new(p, cfg.language, upstreams))
                }
                None => None,
            },
            max_body: cfg.server.max_body,
            timeout: cfg.server.request_timeout,
            table,
            service,
        })
    }
}

/// Whether a request is a browser's asking for a page (`Accept` names `text/html`).
fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|a| a.contains("text/html")))
}

/// A generic error for requests that belong to no family.
fn plain_error(status: StatusCode, code: &str) -> Reply {
    Reply::json(status, &json!({"error": code}))
}

fn reject(family: Option<&'static Family>, f: Failure) -> Reply {
    match family {
        Some(fam) => (fam.reject)(f),
        None => match f {
            Failure::Transport(Transport::PayloadTooLarge) => {
                plain_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            Failure::Transport(Transport::Timeout) => {
                plain_error(StatusCode::SERVICE_UNAVAILABLE, "timeout")
            }
            _ => plain_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        },
    }
}

/// Serves `GET` routes that are the server's own (health, key sets).
fn builtin(app: &App, method: &Method, path: &str) -> Option<Reply> {
    let body = match path {
        "/healthz" if !app.service.healthy() => {
            return Some(
                Reply::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"status": "unavailable"}),
                )
                .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            )
        }
        "/healthz" => json!({"status": "ok"}),
        "/.well-known/jwks.json" => json!({"keys": app.service.public_keys().jwks}),
        "/.well-known/paserk.json" => json!({"keys": app.service.public_keys().paserks}),
        "/openapi.json" => app.openapi.clone(),
        _ => return None,
    };
    if method != Method::GET && method != Method::HEAD {
        return Some(Reply::method_not_allowed(&[Method::GET]));
    }
    let reply = Reply::json(StatusCode::OK, &body);
    Some(if path == "/healthz" {
        reply.with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
    } else {
        reply.with(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )
    })
}

/// What one request did, for the request log line.
struct Trace {
    family: &'static str,
    route: &'static str,
}

/// The access token of a forward-auth request: the bearer header, or the configured cookie.
fn forward_bearer(headers: &http::HeaderMap, cookie: Option<&str>) -> protocol::Bearer {
    let from_header = protocol::input::parse_bearer(headers);
    let Some(cookie) = cookie.filter(|_| from_header == protocol::Bearer::Missing) else {
        return from_header;
    };
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, t)) = pair.trim().split_once('=') {
                if k == cookie {
                    let t = t.trim_matches('"');
                    let mut h = http::HeaderMap::new();
                    if let Ok(hv) = HeaderValue::from_str(&format!("Bearer {t}")) {
                        h.insert(header::AUTHORIZATION, hv);
                    }
                    return protocol::input::parse_bearer(&h);
                }
            }
        }
    }
    protocol::Bearer::Missing
}

/// The answer of forward-auth for `u`, a member of `groups` (read once per request):
/// latchkey's `X-Auth-*` headers, and the trusted-header convention (`Remote-User`, `-Email`, `-Name`,
/// `-Groups`: Authelia's and Authentik's) that Grafana, Gitea, Nextcloud and Immich read.
/// `Remote-Name` and `Remote-Groups` are sent even when empty.
fn forward_ok(u: &storage::UserRecord, groups: &[String]) -> Reply {
    let groups = groups.join(",");
    let mut r = Reply::empty(StatusCode::OK)
        .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let name = u.display_name.as_deref().unwrap_or("");
    for (header, value) in [
        ("x-auth-user", Some(u.id.as_str())),
        ("x-auth-email", u.email.as_deref()),
        ("x-auth-username", u.username.as_deref()),
        ("x-auth-role", Some(u.role.as_str())),
        ("remote-user", u.username.as_deref().or(u.email.as_deref())),
        ("remote-email", u.email.as_deref()),
        ("remote-name", Some(name)),
        ("remote-groups", Some(groups.as_str())),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
            r = r.with(http::HeaderName::from_static(header), v);
        }
    }
    r
}

/// The URL a proxy says the browser asked for: `X-Forwarded-Proto` + `X-Forwarded-Host`
/// + `X-Forwarded-Uri`, or `X-Original-URL`.
fn original_url(headers: &http::HeaderMap) -> Option<String> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let (Some(proto), Some(host), Some(uri)) = (
        get("x-forwarded-proto"),
        get("x-forwarded-host"),
        get("x-forwarded-uri"),
    ) {
        return Some(format!("{proto}://{host}{uri}"));
    }
    get("x-original-url").map(str::to_owned)
}

/// The request a proxy asks about, from `X-Forwarded-Method`, `-Host`, `-Uri` (or
/// `X-Original-Method` + `X-Original-URL`): host (lower case, no port), path and query,
/// method. What is missing reads as empty (a rule about it does not match).
fn forwarded(headers: &http::HeaderMap) -> (String, String, String) {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let method = match get("x-forwarded-method") {
        "" => get("x-original-method"),
        m => m,
    }
    .to_ascii_uppercase();
    let (host, path) = match (get("x-forwarded-host"), get("x-forwarded-uri")) {
        ("", _) => match url::Url::parse(get("x-original-url")) {
            Ok(u) => {
                let q = u.query().map(|q| format!("?{q}")).unwrap_or_default();
                (
                    u.host_str().unwrap_or("").to_owned(),
                    format!("{}{q}", u.path()),
                )
            }
            Err(_) => (String::new(), String::new()),
        },
        (h, p) => (h.to_owned(), p.to_owned()),
    };
    // A port is no part of the name (`app.example.com:8443`); IPv6 literals keep theirs.
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            h.to_owned()
        }
        _ => host,
    };
    (
        host.trim_end_matches('.').to_ascii_lowercase(),
        path,
        method,
    )
}

/// Who forward-auth is asked about: the user, how it signed in, and for a portal session
/// its cookie (to renew, and to sign out from the refusal page).
struct Asker {
    user: storage::UserRecord,
    groups: Vec<String>,
    amr: Vec<String>,
    cookie: Option<String>,
    renewed: Option<storage::UnixMillis>,
}

/// `GET /auth/forward`, for reverse proxies: who asks (a bearer token, or a portal
/// session), then the access rules over the original request (see [`crate::access`]):
/// 200 with the `X-Auth-*` and `Remote-*` headers when allowed; when a sign-in is needed
/// 401, or for a browser a redirect to the login page (`?redirect=401`: a 401 that carries
/// the `Location`, for nginx, whose `auth_request` relays no redirect); for a session
/// that has one factor where two are wanted the same to the step-up page (a bearer token:
/// 401 `insufficient_user_authentication`, RFC 9470); 403 when refused (a browser gets a
/// page naming the app and who is signed in).
async fn forward_auth(
    app: &App,
    headers: &http::HeaderMap,
    query: Option<&str>,
    client: IpAddr,
) -> Reply {
    let svc = &app.service.at(Context {
        ip: Some(client),
        ..Context::default()
    });
    let bearer = forward_bearer(headers, svc.config().forward_auth_cookie.as_deref());
    let given = !matches!(bearer, protocol::Bearer::Missing);
    let mut asker = None;
    if !given {
        if let Some(portal) = &app.portal {
            if let Some((v, cookie)) = portal.visitor(svc, headers).await {
                asker = Some(Asker {
                    user: v.principal.user,
                    groups: v.groups,
                    amr: v.principal.amr,
                    cookie: Some(cookie),
                    renewed: v.renewed,
                });
            }
        }
    }
    if asker.is_none() && given {
        let unavailable =
            || plain_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
        match svc.authenticate(bearer) {
            Ok(caller) => {
                let Ok(groups) = svc.groups_of(&caller.user.id) else {
                    return unavailable();
                };
                asker = Some(Asker {
                    user: caller.user,
                    groups,
                    amr: caller.amr,
                    cookie: None,
                    renewed: None,
                })
            }
            Err(
                Failure::Transport(Transport::Overloaded { .. })
                | Failure::Transport(Transport::Internal),
            ) => return unavailable(),
            Err(_) => {}
        }
    }
    let (host, path, method) = forwarded(headers);
    let target = crate::access::Target {
        host: &host,
        path: &path,
        method: &method,
        ip: client,
    };
    let who = asker.as_ref().map(|a| crate::access::Who {
        id: &a.user.id,
        email: a.user.email.as_deref(),
        username: a.user.username.as_deref(),
        groups: &a.groups,
        two_factors: crate::access::two_factors(&a.amr),
    });
    let verdict = svc.config().access.decide(&target, who.as_ref());
    svc.metrics()
        .access(verdict.policy.name(), verdict.decision.name());
    let browser = wants_html(headers);
    let nginx = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "redirect" && v == "401")
    });
    // To a portal page, for a browser: a 302, or for nginx a 401 that carries it.
    let send_to = |refused: Reply, page: &str| -> Reply {
        let (Some(portal), true, Some(original)) = (&app.portal, browser, original_url(headers))
        else {
            return refused;
        };
        let public = &svc.config().server.public_url;
        let url = portal.page_url(public, page, Some(&original));
        let Ok(location) = HeaderValue::from_str(&url) else {
            return refused;
        };
        if nginx {
            refused.with(header::LOCATION, location)
        } else {
            Reply::empty(StatusCode::FOUND)
                .with(header::LOCATION, location)
                .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
        }
    };
    let rule = verdict.rule.map_or(0, |i| i + 1);
    match (verdict.decision, asker) {
        (Decision::Allow, Some(a)) => {
            let mut r = forward_ok(&a.user, &a.groups);
            if let (Some(expires_at), Some(portal), Some(cookie)) =
                (a.renewed, &app.portal, a.cookie.as_deref())
            {
                r = r.with(
                    header::SET_COOKIE,
                    portal.session_cookie(cookie, expires_at, svc.now()),
                );
            }
            r
        }
        // A bypass lets through whoever comes, with nobody's headers.
        (Decision::Allow, None) => Reply::empty(StatusCode::OK)
            .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (Decision::SignIn, _) => {
            let refused = plain_error(
                StatusCode::UNAUTHORIZED,
                if given {
                    "invalid_token"
                } else {
                    "missing_token"
                },
            )
            .bearer_challenge(given);
            send_to(refused, "/login")
        }
        (Decision::StepUp, Some(a)) => {
            tracing::info!(target: "latchkey::audit", event = "access_step_up", user = %a.user.id, host = %host, rule);
            if a.cookie.is_none() {
                // RFC 9470: the token's sign-in had one factor; the client must get one
                // of two.
                return Reply::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "insufficient_user_authentication"}),
                )
                .with(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        r#"Bearer error="insufficient_user_authentication", acr_values="mfa""#,
                    ),
                );
            }
            send_to(
                plain_error(StatusCode::UNAUTHORIZED, "step_up_required"),
                "/stepup",
            )
        }
        (Decision::Deny | Decision::StepUp, a) => {
            match &a {
                Some(a) => svc.access_refused(&a.user.id, &host, rule),
                None => {
                    tracing::info!(target: "latchkey::audit", event = "access_denied", user = "-", host = %host, path = %path, rule)
                }
            }
            match (&app.portal, browser, &a) {
                (Some(portal), true, Some(a)) => {
                    let who = a
                        .user
                        .email
                        .as_deref()
                        .or(a.user.username.as_deref())
                        .unwrap_or(&a.user.id);
                    let app_name = if host.is_empty() {
                        "this app"
                    } else {
                        host.as_str()
                    };
                    portal.refused_page(svc, headers, app_name, who, a.cookie.as_deref())
                }
                _ => plain_error(StatusCode::FORBIDDEN, "access_denied"),
            }
        }
    }
}

/// The client a trusted proxy sent a request for without saying who in a way that can
/// be read: never the proxy itself (every client behind it would share its limits, and a
/// source the proxy's address is known to would skip the account's total lockout), but
/// one unknown client, `::`, that no real peer is.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the
/// rightmost address of `X-Forwarded-For` that is not itself a trusted proxy (the peer
/// when there is no header or only trusted hops; [`UNKNOWN_CLIENT`] when a hop that
/// matters cannot be read).
pub fn client_ip(peer: IpAddr, headers: &http::HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return UNKNOWN_CLIENT;
        };
        hops.extend(v.split(','));
    }
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return UNKNOWN_CLIENT;
        };
        if !is_trusted(ip) {
            return ip;
        }
    }
    peer
}

/// A way in on the public listener. Every door is mounted alike: [`mount`] decides which
/// one owns a request, [`Door::reject`] answers its refusals in its own format,
/// [`crate::http::read_body`] reads its body under `server.max_body`, and `dispatch`
/// hands it to the door's handler (drawing on the source's bucket where the door checks
/// a credential).
enum Door<'a> {
    /// `GET /auth/forward`, for reverse proxies.
    Forward,
    /// `/healthz`, the key sets, `/openapi.json`: answered as they are.
    Builtin(Reply),
    /// A browser at `/`: to the sign-in page.
    Root,
    /// The OpenID provider's endpoints (`/.well-known/openid-configuration`, `/oidc/*`).
    Oidc(&'a Portal),
    /// The portal's pages below its path (`rest`: the path below it).
    Portal(&'a Portal, &'a str),
    /// A route of a family, by the adapter table.
    Family {
        family: &'static Family,
        route: &'static protocol::table::Route,
        ctx: &'a protocol::Ctx,
        rest: &'a str,
    },
}

impl Door<'_> {
    /// The family and the route, for the request log line.
    fn trace(&self) -> Trace {
        let (family, route) = match self {
            Door::Forward => ("-", "forward_auth"),
            Door::Builtin(_) => ("-", "builtin"),
            Door::Root => ("-", "root"),
            Door::Oidc(_) => ("oidc", "oidc"),
            Door::Portal(..) => ("portal", "page"),
            Door::Family { family, route, .. } => (family.name, route.name),
        };
        Trace { family, route }
    }

    /// Whether the door reads a body.
    fn takes_body(&self) -> bool {
        matches!(self, Door::Oidc(_) | Door::Portal(..) | Door::Family { .. })
    }

    /// A refusal in the door's own format.
    fn reject(&self, f: Failure) -> Reply {
        match self {
            Door::Family { family, .. } => (family.reject)(f),
            _ => match f {
                Failure::Transport(t) => {
                    let r = plain_error(t.status(), t.code());
                    match t.retry_after() {
                        Some(s) => r.retry_after(s),
                        None => r,
                    }
                }
                f => plain_error(f.default_answer().0, f.default_answer().1),
            },
        }
    }
}

/// The door that owns a request, or the answer when none does (404, 405).
fn mount<'a>(
    app: &'a App,
    method: &Method,
    path: &'a str,
    headers: &http::HeaderMap,
) -> Result<Door<'a>, Reply> {
    if path == "/auth/forward" {
        if method != Method::GET && method != Method::HEAD {
            return Err(Reply::method_not_allowed(&[Method::GET, Method::HEAD]));
        }
        return Ok(Door::Forward);
    }
    if let Some(r) = builtin(app, method, path) {
        return Ok(Door::Builtin(r));
    }
    if let Some(portal) = &app.portal {
        // A person who types the server's address lands on the sign-in page (an API
        // client still gets the JSON 404).
        let get = method == Method::GET || method == Method::HEAD;
        if path == "/" && get && wants_html(headers) {
            return Ok(Door::Root);
        }
        let oidc_on = !app.service.config().oidc_clients.is_empty();
        if oidc_on && crate::portal::oidc::owns(path) {
            return Ok(Door::Oidc(portal));
        }
        if let Some(rest) = portal.owns(path) {
            return Ok(Door::Portal(portal, rest));
        }
    }
    match app.table.resolve(method, path) {
        Resolved::Route {
            family,
            route,
            ctx,
            rest,
        } => Ok(Door::Family {
            family,
            route,
            ctx,
            rest,
        }),
        Resolved::MethodNotAllowed(allow) => Err(Reply::method_not_allowed(&allow)),
        Resolved::NotFound => Err(Reply::not_found()),
    }
}

async fn dispatch(app: &App, req: Request<Incoming>, client: IpAddr, trace: &mut Trace) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let source = Source::of(client);
    let door = match mount(app, &parts.method, path, &parts.headers) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    *trace = door.trace();
    let bytes = if door.takes_body() {
        match crate::http::read_body(&parts.headers, body, app.max_body).await {
            Ok(b) => b,
            Err(f) => return door.reject(f),
        }
    } else {
        Bytes::new()
    };
    let page = |portal: &Portal, rest| PageRequest {
        method: &parts.method,
        path,
        lang: portal.language(&parts.headers),
        rest,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &bytes,
        source,
    };
    let (family, route, ctx, rest) = match door {
        Door::Forward => return forward_auth(app, &parts.headers, parts.uri.query(), client).await,
        Door::Builtin(reply) => return reply,
        Door::Root => {
            return match &app.portal {
                Some(portal) => portal.see_other(&format!("{}/login", portal.settings().path)),
                None => Reply::not_found(),
            }
        }
        Door::Oidc(portal) => {
            if crate::portal::oidc::checks_credential(&parts.method, path) {
                if let Err(Failure::Transport(Transport::RateLimited { retry_after })) =
                    app.service.rate_limit(source)
                {
                    return Reply::json(
                        StatusCode::TOO_MANY_REQUESTS,
                        &json!({"error": "slow_down", "error_description": "too many requests"}),
                    )
                    .retry_after(retry_after);
                }
            }
            let svc = app.service.at(Context::at("oidc", client));
            return crate::portal::oidc::handle(&svc, portal, page(portal, path)).await;
        }
        Door::Portal(portal, rest) => {
            let svc = app.service.at(Context::at("portal", client));
            return crate::portal::handle(&svc, portal, page(portal, rest)).await;
        }
        Door::Family {
            family,
            route,
            ctx,
            rest,
        } => (family, route, ctx, rest),
    };
    let request = protocol::Request {
        ctx,
        method: &parts.method,
        path: rest,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &bytes,
    };
    let call = match (route.decode)(&request) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    // The bucket counts requests that would check a credential: a malformed one is
    // answered without drawing on it (and costs next to nothing).
    if route.credential {
        if let Err(f) = app.service.rate_limit(source) {
            return (family.reject)(f);
        }
    }
    // Mails an API call sends are in its `Accept-Language` (a browser app's fetch sends
    // the browser's), else the default language.
    let svc = app.service.at(Context::at(family.name, client));
    let result = match parts.headers.get(http::header::ACCEPT_LANGUAGE) {
        Some(accept) => {
            let lang = Lang::negotiate(accept.to_str().ok(), app.service.config().language);
            svc.speaking(lang).execute(call.op, source).await
        }
        None => svc.execute(call.op, source).await,
    };
    call.answer.reply(family, ctx, result)
}

/// How long a refusal to come back later (429, 503) is held before it is sent: a client
/// that retries at once is slowed to about one try a second per connection, so refusing
/// costs far less than the work it protects (tested by the overload benchmark).
const REFUSAL_HOLD: Duration = Duration::from_secs(1);

/// The time to hold `reply` before sending it: up to its `Retry-After`, at most
/// [`REFUSAL_HOLD`]; none for other replies.
fn hold_for(reply: &Reply) -> Option<Duration> {
    if reply.status != StatusCode::TOO_MANY_REQUESTS
        && reply.status != StatusCode::SERVICE_UNAVAILABLE
    {
        return None;
    }
    let retry_after = reply
        .headers
        .iter()
        .find(|(k, _)| k == header::RETRY_AFTER)
        .and_then(|(_, v)| v.to_str().ok()?.parse::<u64>().ok())?;
    Some(Duration::from_secs(retry_after).min(REFUSAL_HOLD))
}

/// Handles one public request: timeout, panic containment, the request log line.
pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    let method = req.method().clone();
    let family = app.table.family_of(req.uri().path());
    let timeout = app.timeout;
    let service = app.service.clone();
    let client = client_ip(
        peer.ip(),
        req.headers(),
        &service.config().server.trusted_proxies,
    );
    // Every line logged for this request (its audit events too) names the client.
    let span = tracing::info_span!("request", client = %client);
    let handler = Box::pin(async move {
        let mut trace = Trace {
            family: "-",
            route: "-",
        };
        // CORS, for the few paths browser apps call from other origins.
        let cors = app
            .cors
            .policy(req.uri().path())
            .map(|policy| (policy, req.headers().get(header::ORIGIN).cloned()));
        let preflight = cors.is_some() && req.method() == Method::OPTIONS;
        let mut reply = if preflight {
            trace.route = "cors_preflight";
            Reply::empty(StatusCode::NO_CONTENT)
        } else {
            dispatch(&app, req, client, &mut trace).await
        };
        if let Some((policy, origin)) = &cors {
            reply = app.cors.headers(reply, *policy, origin.as_ref(), preflight);
        }
        if let Some(hold) = hold_for(&reply) {
            tokio::time::sleep(hold).await;
        }
        (reply, trace)
    });
    let (reply, trace) =
        match crate::http::contained(handler.instrument(span.clone()), timeout).await {
            Ok(done) => done,
            Err(failure) => {
                let trace = Trace {
                    family: family.map_or("-", |f| f.name),
                    route: "-",
                };
                (reject(family, failure), trace)
            }
        };
    let elapsed = start.elapsed();
    service.metrics().request(
        trace.family,
        trace.route,
        reply.status.as_u16(),
        elapsed.as_secs_f64(),
    );
    let _in = span.enter();
    // Never the path's query string, never a header or body: only what routed it.
    tracing::info!(
        target: "latchkey::request",
        method = %method,
        family = trace.family,
        route = trace.route,
        status = reply.status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
    Ok(crate::http::to_response(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = [
            Cidr::parse("127.0.0.1/32").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = |v: &[&str]| {
            let mut h = http::HeaderMap::new();
            for x in v {
                h.append("x-forwarded-for", HeaderValue::from_str(x).unwrap());
            }
            h
        };
        let proxy = ip("127.0.0.1");
        // A client behind one proxy.
        assert_eq!(
            client_ip(proxy, &xff(&["203.0.113.7"]), &trusted),
            ip("203.0.113.7")
        );
        // A forged leftmost entry does not win: the proxies' own hop does.
        assert_eq!(
            client_ip(proxy, &xff(&["1.2.3.4, 203.0.113.7", "10.1.1.1"]), &trusted),
            ip("203.0.113.7")
        );
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &xff(&["1.2.3.4"]), &trusted),
            ip("198.51.100.1")
        );
        // No header, only trusted hops, or garbage: the peer.
        assert_eq!(client_ip(proxy, &xff(&[]), &trusted), proxy);
        assert_eq!(client_ip(proxy, &xff(&["10.0.0.2"]), &trusted), proxy);
        // Garbage from a trusted proxy: the unknown client, never the proxy (issue 23).
        assert_eq!(
            client_ip(proxy, &xff(&["nonsense"]), &trusted),
            UNKNOWN_CLIENT
        );
        assert_eq!(
            client_ip(proxy, &xff(&["1.2.3.4, 203.0.113.7:80"]), &trusted),
            UNKNOWN_CLIENT
        );
        assert_eq!(
            client_ip(proxy, &xff(&["garbage, 203.0.113.7"]), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(client_ip(proxy, &xff(&["1.2.3.4"]), &[]), proxy);
    }

    #[tokio::test]
    async fn panics_and_timeouts_are_contained() {
        use crate::http::contained;
        let r = contained(Box::pin(async { panic!("boom") }), Duration::from_secs(5)).await;
        assert_eq!(r.err(), Some(Failure::Transport(Transport::Internal)));
        let r = contained(std::future::pending::<()>(), Duration::from_millis(20)).await;
        assert_eq!(r.err(), Some(Failure::Transport(Transport::Timeout)));
        assert_eq!(
            contained(Box::pin(async { 7 }), Duration::from_secs(1)).await,
            Ok(7)
        );
        let reply = reject(
            Some(&protocol::oauth::FAMILY),
            Failure::Transport(Transport::Internal),
        );
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reject(None, Failure::Transport(Transport::Timeout)).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
