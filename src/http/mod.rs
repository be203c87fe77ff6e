//! Serving HTTP, shared by the public listener ([`crate::server`]) and the admin listener
//! ([`crate::admin`]): the accept loop (HTTP/1.1 keep-alive and h2c), graceful shutdown,
//! a request's containment (panics become 500s, slow handlers time out), and turning a
//! [`Reply`] into a response. `cli::serve` composes the listeners.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use protocol::{Failure, Reply};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

mod guard;

pub use guard::Guarded;

/// What bounds a listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// A request head must arrive whole within this of its first byte.
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
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
pub async fn contained<T: Send + 'static>(
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

/// Serves connections of `listener` with `handler` until `shutdown` turns true, then
/// lets in-flight requests finish (up to 30 s). At most `bounds.max_connections` are
/// open at once (the next is accepted when one closes), and each is [`Guarded`].
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
