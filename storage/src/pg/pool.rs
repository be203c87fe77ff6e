//! The backend's connections, each driven by the thread that holds it.
//!
//! A pool that spawns each connection's I/O on a runtime's worker (deadpool's way) makes
//! every statement cross threads twice each way: the caller hands its request to the
//! worker, which writes it; the answer wakes the worker, which wakes the caller. On a
//! small machine those wake-ups cost as much CPU as latchkey's own work on a rotation.
//! Here each connection has a single-threaded runtime of its own, and whoever holds the
//! connection runs that runtime while it waits: it writes its statements and reads the
//! answers on its own thread.
//!
//! A connection in the pool is not driven: what the server sent meanwhile (a notice, the
//! end of the connection) is read when it is next taken, and a connection found closed
//! then is replaced before anyone uses it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db;
use crate::StoreError;

/// At most this many connections, each opened when first needed.
pub(super) struct Pool {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    max: usize,
    /// One permit per connection: whoever holds one may take an idle connection or open
    /// a new one. Waiters are served first come, first served.
    permits: Semaphore,
    idle: Mutex<Vec<Conn>>,
    /// The backend's runtime, whose timer bounds the wait for a permit.
    handle: Handle,
}

/// How long opening a connection may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// How long a statement may wait for the database's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The database is out of reach for this reason.
fn gone(why: &str) -> StoreError {
    StoreError::Unavailable(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        why.to_owned(),
    )))
}

/// A connection and the runtime that drives it.
pub(super) struct Conn {
    /// Always `Some` until dropped (see `Drop`).
    rt: Option<Runtime>,
    pub(super) client: Client,
    /// The statements this connection prepared, by their SQL.
    statements: Mutex<HashMap<String, Statement>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A runtime may not wait for its tasks inside another runtime's async context;
        // the connection's task is simply dropped (the server sees the socket close).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Conn {
    /// Runs `fut` to completion on this thread, driving the connection meanwhile, or
    /// gives up after [`ANSWER_WITHIN`]: a database that accepts connections but never
    /// answers must not hold a request's thread (and its place in the queue) forever.
    pub(super) fn run<T: Send>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        let Some(rt) = &self.rt else {
            return Err(gone("the connection is closed"));
        };
        drive(|| {
            rt.block_on(async {
                tokio::time::timeout(ANSWER_WITHIN, fut)
                    .await
                    .unwrap_or_else(|_| {
                        Err(gone(&format!(
                            "no answer within {} s",
                            ANSWER_WITHIN.as_secs()
                        )))
                    })
            })
        })
    }

    /// `sql` prepared on this connection, once.
    pub(super) async fn prepare(&self, sql: &str) -> Result<Statement, StoreError> {
        let known = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(st) = known {
            return Ok(st);
        }
        let st = self.client.prepare(sql).await.map_err(db)?;
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Whether the connection still works, once what the server sent meanwhile is read.
    fn alive(&self) -> bool {
        // Two turns: the first lets the runtime poll the socket, the second lets the
        // connection's task read what it found (the end of the connection, say).
        let turns = self.run(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            Ok(())
        });
        turns.is_ok() && !self.client.is_closed()
    }
}

/// Runs `block_on` (which waits on a runtime) from synchronous code, wherever that
/// code runs.
fn drive<T: Send>(block_on: impl FnOnce() -> T + Send) -> T {
    match Handle::try_current() {
        // On a server's worker: its other tasks go on on another thread meanwhile (on a
        // thread that already gave its place up, or a blocking one, this just runs).
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(block_on)
        }
        // A single-threaded runtime cannot give its thread up: wait on another.
        Ok(_) => std::thread::scope(|s| match s.spawn(block_on).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => block_on(),
    }
}

/// Runs `f`, which waits on the database, without holding up a server's other tasks:
/// on a server's worker, its tasks move to another thread once for everything `f` waits
/// on (the waits inside then just run; see [`drive`]).
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A connection taken from the pool. It goes back when dropped, unless it is
/// [`Lease::in_doubt`] (a transaction that did not end: the connection is closed, and
/// the database rolls back what it held) or closed; its permit goes back either way.
pub(super) struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    /// Set while a transaction is open on the connection.
    pub(super) in_doubt: bool,
    /// Dropped after the connection went back (fields drop after `Drop::drop`).
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match &self.conn {
            Some(c) => c,
            None => unreachable!("a lease holds its connection until dropped"),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.in_doubt && !conn.client.is_closed() {
                self.pool.idle().push(conn);
            }
        }
    }
}

impl Pool {
    /// A pool of at most `max` connections; `handle` is a runtime with a timer.
    pub(super) fn new(
        config: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        max: usize,
        handle: Handle,
    ) -> Pool {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Pool {
            config,
            tls,
            max,
            permits: Semaphore::new(max),
            idle: Mutex::new(Vec::new()),
            handle,
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A working connection: an idle one, or a new one; when all are taken, the first
    /// that comes back within `wait` (first come, first served).
    pub(super) fn get(&self, wait: Duration) -> Result<Lease<'_>, StoreError> {
        let handle = &self.handle;
        let permit = drive(|| {
            handle.block_on(async { tokio::time::timeout(wait, self.permits.acquire()).await })
        });
        let Ok(Ok(permit)) = permit else {
            return Err(gone(&format!(
                "all {} database connections stayed busy for {} s",
                self.max,
                wait.as_secs()
            )));
        };
        loop {
            let found = self.idle().pop();
            let conn = match found {
                Some(conn) if conn.alive() => conn,
                // Closed while idle: dropped, and the next one is tried.
                Some(_) => continue,
                None => self.connect()?,
            };
            return Ok(Lease {
                pool: self,
                conn: Some(conn),
                in_doubt: false,
                _permit: permit,
            });
        }
    }

    /// A new connection, its I/O a task on a runtime of its own.
    fn connect(&self) -> Result<Conn, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Setup(format!("cannot start a connection's runtime: {e}")))?;
        let opened = drive(|| {
            rt.block_on(async {
                tokio::time::timeout(CONNECT_WITHIN, self.config.connect(self.tls.clone())).await
            })
        });
        let (client, connection) = match opened {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                rt.shutdown_background();
                return Err(db(e));
            }
            Err(_) => {
                rt.shutdown_background();
                return Err(gone(&format!(
                    "no connection within {} s",
                    CONNECT_WITHIN.as_secs()
                )));
            }
        };
        rt.spawn(connection);
        Ok(Conn {
            rt: Some(rt),
            client,
            statements: Mutex::new(HashMap::new()),
        })
    }
}
