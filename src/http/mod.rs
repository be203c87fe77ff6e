//! Serving HTTP, shared by the public listener ([`crate::server`]) and the admin listener
//! ([`crate::admin`]): the accept loop (HTTP/1.1 keep-alive and h2c), graceful shutdown,
//! a request's containment (panics become 500s, slow handlers time out), and turning a
//! [`Reply`] into a response. `cli::serve` composes the listeners.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use protocol::{Failure, Reply, Transport};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::config::Cidr;
use crate::limits::Source;

mod guard;

pub use guard::Guarded;

/// What bounds a listener's connections.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// A request head must arrive whole within this of its first byte.
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one source (IPv4 address, IPv6 /64) may hold open at once; a further
    /// one is closed as soon as it is accepted, so one client cannot take every slot.
    pub per_source: usize,
    /// Peers the per-source bound does not apply to: the trusted proxies, which carry
    /// many clients' connections.
    pub exempt: std::sync::Arc<[Cidr]>,
}

/// The connections each source holds open.
#[derive(Debug, Default)]
struct PerSource(std::sync::Mutex<HashMap<Source, usize>>);

/// One connection's place in its source's count, given back when it closes.
struct SourceSlot {
    table: std::sync::Arc<PerSource>,
    source: Source,
}

impl PerSource {
    /// A place for a connection of `source`, unless it holds `cap` already.
    fn take(table: &std::sync::Arc<PerSource>, source: Source, cap: usize) -> Option<SourceSlot> {
        let mut t = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(source).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            table: table.clone(),
            source,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.remove(&self.source);
            }
        }
    }
}

/// Turns a reply into a response (JSON content type when there is a body).
pub fn to_response(reply: Reply) -> Response<Full<Bytes>> {
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
    // A reply's header replaces the default of its name (Content-Type); a name the
    // reply gives twice (Set-Cookie) is sent twice.
    let mut given: Vec<http::HeaderName> = Vec::new();
    for (k, v) in reply.headers {
        if given.contains(&k) {
            h.append(k, v);
        } else {
            given.push(k.clone());
            h.insert(k, v);
        }
    }
    resp
}

/// Polls a future, turning a panic inside it into `Err` instead of unwinding further.
/// (Once it has panicked it is never polled again: it answers `Ready(Err)`.)
struct CatchUnwind<F: Future + Unpin>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = std::pin::Pin::new(&mut self.0);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

/// Runs `fut` in place (in the connection's own task: no task per request), turning a
/// panic in it into [`Failure::Transport(Transport::Internal)`] (a 500) instead of a dropped connection, and
/// stopping it after `timeout` ([`Failure::Transport(Transport::Timeout)`]). If the client goes away, hyper drops
/// this future and the work with it (a store transaction already handed to the committer
/// still commits or aborts whole).
///
/// `fut` must be `Unpin`: a handler boxed where it is made (`Box::pin(async { .. })`).
/// A request's future holds the state of every door (about 9 KB); boxed at once, it is
/// written into its box and never copied again as the futures around it move (the
/// connection's slot, this one, the timeout).
pub async fn contained<T, F>(fut: F, timeout: Duration) -> Result<T, Failure>
where
    F: Future<Output = T> + Send + Unpin,
{
    match tokio::time::timeout(timeout, CatchUnwind(fut)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(())) => {
            tracing::error!(panic = true, "request handler failed");
            Err(Failure::Transport(Transport::Internal))
        }
        Err(_) => Err(Failure::Transport(Transport::Timeout)),
    }
}

/// Serves connections of `listener` with `handler` until `shutdown` turns true, then
/// lets in-flight requests finish (up to 30 s). At most `bounds.max_connections` are
/// open at once (the next is accepted when one closes), at most `bounds.per_source` of
/// one source, and each is [`Guarded`].
pub async fn serve<F, Fut>(
    listener: TcpListener,
    handler: F,
    bounds: Bounds,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let slots = std::sync::Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let per_source = std::sync::Arc::new(PerSource::default());
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
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
                let exempt = bounds.exempt.iter().any(|c| c.contains(peer.ip()));
                let source_slot = if exempt {
                    None
                } else {
                    match PerSource::take(&per_source, Source::of(peer.ip()), bounds.per_source) {
                        Some(s) => Some(s),
                        None => {
                            // Closed at once: its global slot goes back with it.
                            tracing::debug!(%peer, "connection closed: its source holds server.max_connections_per_source");
                            continue;
                        }
                    }
                };
                tracing::debug!(%peer, "connection accepted");
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let svc = service_fn(move |req| handler(req, peer));
                let io = Guarded::new(stream, bounds.header_timeout, bounds.idle_timeout);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(slot);
                    drop(source_slot);
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

/// Resolves on SIGINT or SIGTERM.
///
/// The handlers are installed when this is called (not when the future is first
/// polled), so a signal that comes right after start-up is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Reads a request's body, at most `max` bytes: a body declared or found longer is
/// refused as [`Transport::PayloadTooLarge`] (before reading, when its `Content-Length`
/// says so), one that stops arriving as [`Transport::Timeout`]. Every door of both
/// listeners reads its body here.
pub async fn read_body(
    headers: &http::HeaderMap,
    body: Incoming,
    max: u64,
) -> Result<Bytes, Failure> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(Failure::Transport(Transport::PayloadTooLarge));
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Failure::Transport(Transport::PayloadTooLarge))
        }
        Err(_) => Err(Failure::Transport(Transport::Timeout)),
    }
}
