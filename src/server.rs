//! The HTTP server: hyper 1.x on tokio, HTTP/1.1 (keep-alive) and HTTP/2 (h2c), bounded
//! bodies, a per-request timeout, panics turned into 500s, graceful shutdown.
//!
//! A request reaches a family through the protocol-adapter table: `table.resolve` picks
//! the family and route by mount prefix, the family decodes an operation, the service
//! runs it, the family renders the answer. Nothing else is routed here but `/healthz` and
//! the two well-known key sets.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use protocol::table::{Family, Resolved, Table};
use protocol::{Failure, Reply};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::service::Service;

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
}

impl App {
    /// Builds the app from the service and its configuration.
    pub fn new(service: Service) -> Result<App, String> {
        let cfg = service.config();
        let pairs: Vec<(&str, &str)> = cfg.mounts.iter().map(|(n, p)| (*n, p.as_str())).collect();
        let table = Table::new(
            &pairs,
            &cfg.raw.server.public_url,
            cfg.raw.password.min_length,
        )?;
        let openapi = protocol::openapi::document(&table, "/", env!("CARGO_PKG_VERSION"));
        Ok(App {
            openapi,
            max_body: cfg.raw.server.max_body,
            timeout: Duration::from_secs(cfg.raw.server.request_timeout),
            table,
            service,
        })
    }
}

pub(crate) fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let has_body = !reply.body.is_empty();
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    if has_body {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    for (k, v) in reply.headers {
        h.insert(k, v);
    }
    resp
}

/// A generic error for requests that belong to no family.
fn plain_error(status: StatusCode, code: &str) -> Reply {
    Reply::json(status, &json!({"error": code}))
}

fn reject(family: Option<&'static Family>, f: Failure) -> Reply {
    match family {
        Some(fam) => (fam.reject)(f),
        None => match f {
            Failure::PayloadTooLarge => {
                plain_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            Failure::Timeout => plain_error(StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            _ => plain_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        },
    }
}

/// Serves `GET` routes that are the server's own (health, key sets).
fn builtin(app: &App, method: &Method, path: &str) -> Option<Reply> {
    let body = match path {
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
fn forward_bearer(headers: &http::HeaderMap, cookie: &str) -> protocol::Bearer {
    let from_header = protocol::input::parse_bearer(headers);
    if from_header != protocol::Bearer::Missing || cookie.is_empty() {
        return from_header;
    }
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

/// `GET /auth/forward`: 200 with `X-Auth-User`, `X-Auth-Email`, `X-Auth-Role` (and
/// `X-Auth-Username`) for a token latchkey accepts, 401 otherwise. For reverse proxies.
async fn forward_auth(app: &App, headers: &http::HeaderMap) -> Reply {
    let bearer = forward_bearer(headers, &app.service.config().raw.forward_auth.cookie);
    let given = !matches!(bearer, protocol::Bearer::Missing);
    match app
        .service
        .execute(protocol::Operation::CurrentUser { bearer })
        .await
    {
        Ok(protocol::Outcome::User(u)) => {
            let mut r = Reply::empty(StatusCode::OK)
                .with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            for (name, value) in [
                ("x-auth-user", Some(u.id)),
                ("x-auth-email", u.email),
                ("x-auth-username", u.username),
                ("x-auth-role", Some(u.role)),
            ] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
                    r = r.with(http::HeaderName::from_static(name), v);
                }
            }
            r
        }
        Err(Failure::Overloaded { .. } | Failure::Internal) => {
            plain_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        _ => plain_error(
            StatusCode::UNAUTHORIZED,
            if given {
                "invalid_token"
            } else {
                "missing_token"
            },
        )
        .bearer_challenge(given),
    }
}

async fn dispatch(app: Arc<App>, req: Request<Incoming>, peer: IpAddr, trace: &mut Trace) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if path == "/auth/forward" {
        trace.route = "forward_auth";
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return Reply::method_not_allowed(&[Method::GET, Method::HEAD]);
        }
        return forward_auth(&app, &parts.headers).await;
    }
    if let Some(r) = builtin(&app, &parts.method, path) {
        trace.route = "builtin";
        return r;
    }
    let (family, route, ctx, rest) = match app.table.resolve(&parts.method, path) {
        Resolved::Route {
            family,
            route,
            ctx,
            rest,
        } => (family, route, ctx, rest),
        Resolved::MethodNotAllowed(allow) => return Reply::method_not_allowed(&allow),
        Resolved::NotFound => return Reply::not_found(),
    };
    trace.family = family.name;
    trace.route = route.name;
    if route.credential {
        if let Err(f) = app.service.rate_limit(peer) {
            return (family.reject)(f);
        }
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body) {
        return (family.reject)(Failure::PayloadTooLarge);
    }
    let limit = usize::try_from(app.max_body).unwrap_or(usize::MAX);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return (family.reject)(Failure::PayloadTooLarge)
        }
        Err(_) => return (family.reject)(Failure::Timeout),
    };
    let request = protocol::Request {
        ctx,
        method: &parts.method,
        path: rest,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &bytes,
    };
    let call = match (family.decode)(route, &request) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let result = app.service.execute(call.op).await;
    (family.render)(ctx, call.view, result)
}

/// Polls a future, turning a panic inside it into `Err` instead of unwinding further.
/// (Once it has panicked it is never polled again: it answers `Ready(Err)`.)
struct CatchUnwind<F: Future>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

/// Runs `fut` in place (in the connection's own task: no task per request), turning a
/// panic in it into [`Failure::Internal`] (a 500) instead of a dropped connection, and
/// stopping it after `timeout` ([`Failure::Timeout`]). If the client goes away, hyper drops
/// this future and the work with it (a store transaction already handed to the committer
/// still commits or aborts whole).
pub(crate) async fn contained<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
    timeout: Duration,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, CatchUnwind(Box::pin(fut))).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(())) => {
            tracing::error!(panic = true, "request handler failed");
            Err(Failure::Internal)
        }
        Err(_) => Err(Failure::Timeout),
    }
}

/// Handles one public request: timeout, panic containment, the request log line.
async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    let method = req.method().clone();
    let family = app.table.family_of(req.uri().path());
    let timeout = app.timeout;
    let service = app.service.clone();
    let handler = async move {
        let mut trace = Trace {
            family: "-",
            route: "-",
        };
        let reply = dispatch(app, req, peer.ip(), &mut trace).await;
        (reply, trace)
    };
    let (reply, trace) = match contained(handler, timeout).await {
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
    // Never the path's query string, never a header or body: only what routed it.
    tracing::info!(
        target: "latchkey::request",
        method = %method,
        family = trace.family,
        route = trace.route,
        status = reply.status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
    Ok(to_response(reply))
}

/// Serves connections of `listener` with `handler` until `shutdown` turns true, then
/// lets in-flight requests finish (up to 30 s).
async fn serve<F, Fut>(listener: TcpListener, handler: F, mut shutdown: watch::Receiver<bool>)
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer): (_, SocketAddr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                tracing::debug!(%peer, "connection accepted");
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let svc = service_fn(move |req| handler(req, peer));
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 30 s");
    }
}

/// Serves the public listener (and the admin listener, when given) until `shutdown`
/// resolves, then lets in-flight requests finish (up to 30 s each) and returns.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    admin: Option<(TcpListener, crate::admin::Admin)>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_loop(app.service.clone()));
    let admin_task = admin.map(|(l, admin)| {
        let admin = Arc::new(admin);
        let handler = move |req, peer| crate::admin::handle(admin.clone(), req, peer);
        tokio::spawn(serve(l, handler, stop_rx.clone()))
    });
    let public_app = app.clone();
    let handler = move |req, peer| handle(public_app.clone(), req, peer);
    let public_task = tokio::spawn(serve(listener, handler, stop_rx));
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    let _ = public_task.await;
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    sweeper.abort();
}

/// Removes expired refresh families and session codes once a minute.
async fn sweep_loop(service: Service) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let store = service.store().clone();
        let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        let swept = tokio::task::spawn_blocking(move || {
            store.write(|w| {
                Ok::<_, storage::StoreError>((
                    w.sweep_families(now, 1000)?,
                    w.sweep_session_codes(now, 1000)?,
                ))
            })
        });
        match swept.await {
            Ok(Ok((f, c))) if f + c > 0 => tracing::info!(
                families = f,
                codes = c,
                "swept expired refresh families and session codes"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "sweep failed"),
            _ => {}
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_and_timeouts_are_contained() {
        let r = contained(async { panic!("boom") }, Duration::from_secs(5)).await;
        assert_eq!(r.err(), Some(Failure::Internal));
        let r = contained(std::future::pending::<()>(), Duration::from_millis(20)).await;
        assert_eq!(r.err(), Some(Failure::Timeout));
        assert_eq!(contained(async { 7 }, Duration::from_secs(1)).await, Ok(7));
        let reply = reject(Some(&protocol::oauth::FAMILY), Failure::Internal);
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reject(None, Failure::Timeout).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
