//! The PostgreSQL backend: any number of latchkey nodes on one database.
//!
//! - **Tables** hold the same records as redb (encoded by [`crate::codec`]) beside the
//!   columns the database must see: the normalized email and username and the username's
//!   skeleton (unique constraints), expiry times (indexed, for the sweeper), owners.
//! - **Writes** run the service's plans in `REPEATABLE READ` transactions (one snapshot);
//!   a plan whose rows were changed by a transaction that committed meanwhile
//!   (serialization failure, deadlock, a unique index taken meanwhile) runs again from the
//!   start. Plans are re-runnable, and decide only on rows they write (see `Write`). The
//!   attempt counters, which decide on rows they do not write, run `SERIALIZABLE`.
//! - **Round trips**: `BEGIN` goes out with a plan's first statement; writes whose answer
//!   the plan does not need go out with its next statement or with the `COMMIT`, all
//!   pipelined on the connection (see `Access::later`).
//! - **Changes** that other nodes must see at once (a family revoked, a user changed or
//!   deleted, the signing keys) are announced with `NOTIFY latchkey` inside the
//!   transaction (delivered on commit); [`PgStore::subscribe`] hands them to the server.
//! - **Blocking**: the service's plans and reads are synchronous closures. Each pooled
//!   connection has a single-threaded runtime of its own, which the thread holding the
//!   connection runs while it waits ([`pool`]): a statement's request and answer do not
//!   cross threads. A caller on a server thread gives that thread up while it waits
//!   (`block_in_place`); plans committed from requests run on blocking threads.
//!
//! The SQL sticks to what CockroachDB and YugabyteDB also speak (no `ctid`, no
//! `DELETE ... LIMIT`, sequences avoided, `ON CONFLICT` upserts), except `LISTEN`/`NOTIFY`,
//! which CockroachDB lacks: there no change is announced, [`PgStore::live`] stays false
//! (so nodes cache nothing they read) and signing keys are only polled. (The
//! `enable_seqscan` setting and `fillfactor` are PostgreSQL's too: the setting is asked
//! for only where the database has it.) Only PostgreSQL is tested.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod pool;

use pool::{Lease, Pool};
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::IsolationLevel;

use crate::UnixMillis;

use crate::codec::{decode, encode, fold, skeleton};
use crate::commit::{Abort, Job, Refused, MAX_QUEUE};
use crate::records::{parse_proof_key, proof_key};
use crate::records::{
    FamilyRecord, GrantRecord, MfaPendingRecord, PasskeyRecord, ProofPurpose, ProofRecord,
    RefreshEntry, SessionCodeRecord, SigningKeyRecord, UserRecord,
};
use crate::tx::{Item, Read, RefreshChain, Write};
use crate::{StoreError, Unique, SCHEMA_VERSION};

/// How long a request waits for a connection when all are busy.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(5);

/// How often a plan is tried when it keeps meeting concurrent transactions.
const MAX_TRIES: u32 = 30;

use crate::shared::{AttemptEnd, AttemptRules, AttemptStatus, Change};
use attempts::is_duplicate_object;
use schema::SCHEMA;

/// The hour (Unix ms, rounded down) a family expires in: what its expiry index holds.
/// A rotation moves `expires_at` but seldom the hour, and an update that changes no
/// indexed column is a heap-only (HOT) update, which writes no index entry at all. The
/// sweep reads the index up to the current hour and checks `expires_at` itself.
fn expires_hour(at: i64) -> i64 {
    at - at.rem_euclid(3_600_000)
}

/// The channel of change notices.
const CHANNEL: &str = "latchkey";

impl Change {
    /// The notice text of this change.
    fn notice(&self) -> String {
        match self {
            Change::Family(id) => format!("f:{id}"),
            Change::User(id) => format!("u:{id}"),
            Change::Keys => "k".into(),
            Change::Lost => "lost".into(),
        }
    }

    fn parse(s: &str) -> Option<Change> {
        match s.split_once(':') {
            Some(("f", id)) => Some(Change::Family(id.to_owned())),
            Some(("u", id)) => Some(Change::User(id.to_owned())),
            _ if s == "k" => Some(Change::Keys),
            _ => None,
        }
    }
}

type Subscriber = Box<dyn Fn(&Change) + Send + Sync>;

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    rt: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    /// The URL without its password, for messages.
    shown: String,
    healthy: AtomicBool,
    /// Whether change notices are being received (the listening connection is up).
    live: AtomicBool,
    /// Whether the database has `pg_notify` (CockroachDB has not: no notices, no caches).
    notices: AtomicBool,
    /// Whether the database has the `enable_seqscan` setting (CockroachDB has not).
    seqscan_setting: AtomicBool,
    in_flight: AtomicUsize,
    subscribers: Mutex<Vec<Subscriber>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A runtime may not be dropped inside another's async context; let it go quietly.
        if let Some(rt) = self.rt.lock().ok().and_then(|mut g| g.take()) {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.inner.shown)
            .finish()
    }
}

/// `url` without its password.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = url.get(scheme + 3..at).unwrap_or("");
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}{user}@{}",
                url.get(..scheme + 3).unwrap_or(""),
                url.get(at + 1..).unwrap_or("")
            )
        }
        _ => url.to_owned(),
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    if e.as_db_error().is_none() || e.code().is_some_and(crate::error::gone) {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Database(Box::new(e))
    }
}

/// Whether `e` means the transaction met a concurrent one and should run again.
fn retryable(e: &StoreError) -> bool {
    let code = match e {
        StoreError::Database(e) => e.code(),
        _ => None,
    };
    matches!(
        code,
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// A byte of jitter (not a secret, not random: a Weyl sequence that only spreads the
/// retries of transactions that met).
fn rand_byte() -> u8 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let [_, _, _, b] = NEXT.fetch_add(0x9E37_79B9, Ordering::Relaxed).to_le_bytes();
    b
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn u64_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The TLS connector: rustls with the platform's trust store (the same as for mail).
/// Without TLS (`sslmode=disable`) the trust store is not even read: a connector with
/// no roots stands in, never used. With none named, libpq's default (`prefer`): TLS if the
/// server offers it.
fn tls(
    mode: tokio_postgres::config::SslMode,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Setup(format!("TLS: {e}")))?;
    let config = match mode {
        tokio_postgres::config::SslMode::Disable => {
            builder.with_root_certificates(rustls::RootCertStore::empty())
        }
        // TLS when the server offers it, verified like any other: without a trust store
        // the handshake fails, it never goes on unverified.
        tokio_postgres::config::SslMode::Prefer => match builder.clone().with_platform_verifier() {
            Ok(b) => b,
            Err(_) => builder.with_root_certificates(rustls::RootCertStore::empty()),
        },
        _ => builder
            .with_platform_verifier()
            .map_err(|e| StoreError::Setup(format!("TLS: {e}")))?,
    }
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Parses `url` (`postgres://user:password@host:port/db?sslmode=...`). `sslmode=require`
/// and `verify-full` both mean TLS with the server's certificate verified (latchkey never
/// sends credentials over TLS it has not verified); `disable` means plain TCP; none
/// means `prefer` (TLS, verified, when the server offers it; plain TCP when it does not).
fn parse(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let normalized = url.replace("sslmode=verify-full", "sslmode=require");
    let mut config: tokio_postgres::Config = normalized
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Setup(e.to_string()))?;
    if config.get_application_name().is_none() {
        config.application_name("latchkey");
    }
    config.connect_timeout(Duration::from_secs(5));
    config.keepalives(true);
    // A peer that vanished (no RST: a cable, a firewall) is noticed in about a minute.
    config.keepalives_idle(Duration::from_secs(30));
    Ok(config)
}

impl PgStore {
    /// Connects to the database at `url` with at most `pool_size` connections, makes the
    /// tables when they are missing, and checks the schema version (a newer one is
    /// refused). Starts the change listener and the health probe.
    pub fn connect(url: &str, pool_size: usize) -> Result<PgStore, StoreError> {
        let config = parse(url)?;
        let tls = tls(config.get_ssl_mode())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("latchkey-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Setup(format!("cannot start its runtime: {e}")))?;
        let handle = rt.handle().clone();
        let pool = Pool::new(config.clone(), tls, pool_size.max(2), handle.clone());
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                rt: Mutex::new(Some(rt)),
                handle,
                shown: shown(url),
                healthy: AtomicBool::new(true),
                live: AtomicBool::new(false),
                notices: AtomicBool::new(false),
                seqscan_setting: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                subscribers: Mutex::new(Vec::new()),
            }),
        };
        store.migrate()?;
        if store
            .count("SELECT count(*) FROM pg_catalog.pg_settings WHERE name = 'enable_seqscan'")?
            > 0
        {
            store.inner.seqscan_setting.store(true, Ordering::Release);
        }
        if store.count("SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = 'pg_notify'")? > 0 {
            store.inner.notices.store(true, Ordering::Release);
            store.start_listener(config);
        } else {
            tracing::warn!(
                "the database has no LISTEN/NOTIFY: nodes see each other's changes only by \
                 reading them (no caching of sessions; signing keys every tokens.key_poll)"
            );
        }
        store.start_probe();
        Ok(store)
    }

    /// A connection of the pool (see [`pool`]), or the reason there is none.
    fn conn(&self) -> Result<Lease<'_>, StoreError> {
        self.inner
            .pool
            .get(WAIT_FOR_CONNECTION)
            .map_err(|e| self.failed(e))
    }

    /// The count a `SELECT count(*) ...` of the catalog answers (what the database
    /// speaks: PostgreSQL has `pg_notify` and `enable_seqscan`, CockroachDB neither).
    fn count(&self, sql: &'static str) -> Result<i64, StoreError> {
        let c = self.conn()?;
        let conn: &pool::Conn = &c;
        conn.run(async {
            let row = conn.client.query_one(sql, &[]).await.map_err(db)?;
            Ok(row.get::<_, i64>(0))
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut tries: u32 = 0;
        loop {
            tries += 1;
            match self.migrate_once() {
                // Nodes starting together race to create the tables: try again.
                Err(e) if tries < 5 && (retryable(&e) || is_duplicate_object(&e)) => {
                    std::thread::sleep(Duration::from_millis(50 * u64::from(tries)));
                }
                r => return r,
            }
        }
    }

    fn migrate_once(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let conn: &pool::Conn = &c;
        let (version, complete) = conn.run(async {
            let version: Option<i64> = match conn
                .client
                .query_opt(
                    "SELECT num FROM latchkey_meta WHERE name = 'schema_version'",
                    &[],
                )
                .await
            {
                Ok(row) => row.map(|r| r.get(0)),
                Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
                Err(e) => return Err(db(e)),
            };
            // Tables added within a schema version (the last one made is named here) are
            // made by the same idempotent script.
            let complete = conn
                .client
                .query_one(
                    "SELECT to_regclass('latchkey_families_expires_hour') IS NOT NULL",
                    &[],
                )
                .await
                .map_err(db)?
                .get::<_, bool>(0);
            Ok((version, complete))
        })?;
        match version {
            Some(v) if u64_of(v) > SCHEMA_VERSION => return Err(StoreError::TooNew(u64_of(v))),
            Some(v) if u64_of(v) == SCHEMA_VERSION && complete => return Ok(()),
            // Older versions of this backend do not exist yet: the first one is current.
            _ => {}
        }
        // Until the `COMMIT` answers, the connection is closed if anything goes wrong.
        c.in_doubt = true;
        let conn: &pool::Conn = &c;
        conn.run(async {
            let client = &conn.client;
            client.batch_execute("BEGIN").await.map_err(db)?;
            client.batch_execute(SCHEMA).await.map_err(db)?;
            client
                .execute(
                    "INSERT INTO latchkey_meta (name, num) VALUES ('schema_version', $1) \
                     ON CONFLICT (name) DO UPDATE SET num = excluded.num",
                    &[&i64_of(SCHEMA_VERSION)],
                )
                .await
                .map_err(db)?;
            client
                .execute(
                    "INSERT INTO latchkey_meta (name, num) VALUES ('next_user_num', 1) \
                     ON CONFLICT (name) DO NOTHING",
                    &[],
                )
                .await
                .map_err(db)?;
            client.batch_execute("COMMIT").await.map_err(db)
        })?;
        c.in_doubt = false;
        Ok(())
    }

    /// Where the data is, without the password (for messages).
    pub fn describe(&self) -> &str {
        &self.inner.shown
    }

    /// Runs `f` over the database outside a transaction (each read sees what is
    /// committed when it runs).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&dyn Read) -> Result<T, E>,
    ) -> Result<T, E> {
        self.with_client(|a| f(a))
    }

    fn with_client<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Access<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        pool::blocking(|| {
            let c = self.conn()?;
            f(&Access::new(&c, self))
        })
    }

    /// Runs the plan `f` in a `REPEATABLE READ` transaction (one snapshot), committed
    /// when it returns `Ok`; run again from the start when a row it writes was changed by
    /// a transaction that committed meanwhile (first writer wins). A plan's decision must
    /// therefore rest on rows it writes, or on a unique constraint (see [`Write`]).
    ///
    /// Not `SERIALIZABLE`: its predicate locks are taken per index page, and unrelated
    /// rotations of different families on the same pages failed each other (six times in
    /// ten under the benchmark's load).
    pub fn write<T, E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&mut dyn Write) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(IsolationLevel::RepeatableRead, |a| f(a))
    }

    /// Runs `f` in a transaction of isolation `level`, committed when it returns `Ok`,
    /// run again from the start when a statement met a concurrent transaction.
    ///
    /// Round trips are what a plan costs here: `BEGIN` goes out with the plan's first
    /// statement, and the writes whose answer the plan does not need go out with the next
    /// statement or with the `COMMIT` (see [`Access::later`]).
    fn transaction<T, E: From<StoreError>>(
        &self,
        level: IsolationLevel,
        mut f: impl FnMut(&mut Access<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let begin = match level {
            IsolationLevel::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            _ => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        };
        pool::blocking(|| self.transaction_tries(begin, level, &mut f))
    }

    /// [`PgStore::transaction`]'s runs of `f`, until one commits or may not run again.
    fn transaction_tries<T, E: From<StoreError>>(
        &self,
        begin: &'static str,
        level: IsolationLevel,
        f: &mut impl FnMut(&mut Access<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tries = 0;
        loop {
            if tries > 0 {
                // Transactions that met stay apart a little before they meet again.
                let jitter = u64::from(rand_byte()) % (2 * u64::from(tries.min(10)) + 1);
                std::thread::sleep(Duration::from_millis(jitter));
            }
            tries += 1;
            let mut c = self.conn()?;
            // Until the transaction is known to have ended (committed or rolled back), the
            // connection must not go back to the pool: dropped (a panic, a statement that
            // never answered), it is closed, and the database rolls back what it held.
            c.in_doubt = true;
            let (step, ended) = self.attempt(&c, begin, level, tries < MAX_TRIES, f);
            c.in_doubt = !ended;
            drop(c);
            match step {
                Step::Done(r) => return r,
                Step::Again => continue,
            }
        }
    }

    /// One run of a transaction's plan on `conn`: what came of it, and whether the
    /// transaction ended (the connection is clean).
    fn attempt<T, E: From<StoreError>>(
        &self,
        conn: &pool::Conn,
        begin: &'static str,
        level: IsolationLevel,
        may_retry: bool,
        f: &mut impl FnMut(&mut Access<'_>) -> Result<T, E>,
    ) -> (Step<T, E>, bool) {
        let mut access = Access::new(conn, self);
        access.later(begin, Vec::new());
        if matches!(level, IsolationLevel::Serializable)
            && self.inner.seqscan_setting.load(Ordering::Acquire)
        {
            // Every statement finds its rows by key. A sequential scan (which the planner
            // picks on small tables) would take a predicate lock on the whole table, and
            // every such transaction would conflict with every other. (Set here, not at
            // connection: poolers such as PgBouncer refuse start-up options.)
            access.later("SET LOCAL enable_seqscan = off", Vec::new());
        }
        let value = match f(&mut access) {
            Ok(v) if !access.failed.get() => v,
            outcome => {
                let again = access.retry.get();
                let ended = access.rollback();
                // A statement met a concurrent transaction: the plan runs again.
                if again && may_retry {
                    return (Step::Again, ended);
                }
                // A plan that went on after a failed statement: nothing was written.
                let e = outcome.err().unwrap_or_else(|| StoreError::Aborted.into());
                return (Step::Done(Err(e)), ended);
            }
        };
        let told = access.told.take();
        match access.exec("COMMIT", &[]) {
            Ok(_) => {
                self.inner.healthy.store(true, Ordering::Release);
                for change in &told {
                    self.tell(change);
                }
                (Step::Done(Ok(value)), true)
            }
            Err(e) => {
                // Whatever the answer, the transaction is over (or its connection is
                // closed with it).
                let ended = !e.is_unavailable() && access.rollback();
                if may_retry && retryable(&e) {
                    return (Step::Again, ended);
                }
                (Step::Done(Err(self.failed(e).into())), ended)
            }
        }
    }

    /// Marks the store unhealthy when `e` says the database is gone.
    fn failed(&self, e: StoreError) -> StoreError {
        if e.is_unavailable() {
            self.inner.healthy.store(false, Ordering::Release);
        }
        e
    }

    /// Runs `job` in a transaction of its own on a blocking thread, tried again when it
    /// meets a concurrent transaction (the database batches the commits' flushes itself).
    pub async fn commit(&self, mut job: Job) -> Result<Result<(), Abort>, Refused> {
        if self.inner.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUE {
            self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        let (done, wait) = oneshot::channel::<Result<(), Abort>>();
        let this = self.clone();
        self.inner.handle.spawn_blocking(move || {
            // Nobody waits any more: the request timed out or went away.
            if !done.is_closed() {
                let result = this.run_job(&mut job);
                let _ = done.send(result);
            }
            this.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        wait.await.map_err(|_| Refused::Stopped)
    }

    fn run_job(&self, job: &mut Job) -> Result<(), Abort> {
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = self.write(|w| match catch_unwind(AssertUnwindSafe(|| job(w))) {
                Ok(r) => r,
                Err(_) => Err(Abort::Panicked),
            });
            match outcome {
                Err(Abort::Store(e)) if tries < MAX_TRIES && retryable(&e) => continue,
                Err(Abort::Store(e)) => return Err(Abort::Store(self.failed(e))),
                r => return r,
            }
        }
    }

    /// The database's size in bytes (0 where the database cannot say).
    pub fn size_bytes(&self) -> u64 {
        let Ok(c) = self.conn() else {
            return 0;
        };
        let conn: &pool::Conn = &c;
        conn.run(async {
            let row = conn
                .client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await
                .map_err(db)?;
            Ok(u64_of(row.get(0)))
        })
        .unwrap_or(0)
    }

    /// Whether the database answered the last statement and the last probe.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    /// Whether change notices are being received: while they are not, nothing learnt
    /// from the store may be kept.
    pub fn live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Calls `f` with every change another node (or this one) commits, and with
    /// [`Change::Lost`] when notices may have been missed.
    pub fn subscribe(&self, f: impl Fn(&Change) + Send + Sync + 'static) {
        if let Ok(mut s) = self.inner.subscribers.lock() {
            s.push(Box::new(f));
        }
    }

    fn tell(&self, change: &Change) {
        if let Ok(s) = self.inner.subscribers.lock() {
            for f in s.iter() {
                f(change);
            }
        }
    }

    /// Asks the database every second whether it answers, so `/healthz` follows it both
    /// ways without waiting for a request to fail.
    fn start_probe(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.handle.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let store = PgStore {
                    inner: inner.clone(),
                };
                // Connections are driven by the thread that holds one: a blocking one.
                let asked = tokio::task::spawn_blocking(move || {
                    let c = store.inner.pool.get(Duration::from_secs(2))?;
                    let conn: &pool::Conn = &c;
                    conn.run(async { conn.client.simple_query("SELECT 1").await.map_err(db) })
                });
                let ok = matches!(
                    tokio::time::timeout(Duration::from_secs(2), asked).await,
                    Ok(Ok(Ok(_)))
                );
                inner.healthy.store(ok, Ordering::Release);
            }
        });
    }

    /// One connection of its own that `LISTEN`s; on any loss it tells the subscribers
    /// ([`Change::Lost`]) and connects again.
    fn start_listener(&self, config: tokio_postgres::Config) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.handle.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let store = PgStore { inner };
                if let Err(e) = store.listen(&config).await {
                    tracing::warn!(error = %e, "database change notices lost; listening again");
                }
                store.inner.live.store(false, Ordering::Release);
                store.tell(&Change::Lost);
                drop(store);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    async fn listen(&self, config: &tokio_postgres::Config) -> Result<(), StoreError> {
        use futures_util::StreamExt as _;
        let (client, mut connection) = config
            .connect(tls(config.get_ssl_mode())?)
            .await
            .map_err(db)?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let pump = tokio::spawn(stream.for_each(move |m| {
            let _ = tx.send(m);
            std::future::ready(())
        }));
        let listening = client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(db);
        if let Err(e) = listening {
            pump.abort();
            return Err(e);
        }
        // Anything learnt before this point may be stale.
        self.tell(&Change::Lost);
        self.inner.live.store(true, Ordering::Release);
        while let Some(message) = rx.recv().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if let Some(change) = Change::parse(n.payload()) {
                        self.tell(&change);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    pump.abort();
                    return Err(db(e));
                }
            }
        }
        pump.abort();
        Ok(())
    }
}

/// A moment is a `BIGINT` of milliseconds in every table.
impl tokio_postgres::types::ToSql for UnixMillis {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.millis().to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> tokio_postgres::types::FromSql<'a> for UnixMillis {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<UnixMillis, Box<dyn std::error::Error + Sync + Send>> {
        i64::from_sql(ty, raw).map(UnixMillis::from_millis)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

/// A statement's parameter, owned: for statements sent later.
type Param = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;

/// The owned parameters of a statement sent later.
macro_rules! owned {
    ($($p:expr),* $(,)?) => { vec![$(Box::new($p) as Param),*] };
}

mod access;
mod attempts;
mod rows;
mod schema;

/// What came of one run of a transaction's plan.
enum Step<T, E> {
    /// The answer: committed, or refused.
    Done(Result<T, E>),
    /// The plan met a concurrent transaction and runs again.
    Again,
}

/// A statement put off until the next one is sent (see [`Access::later`]).
struct Later {
    sql: &'static str,
    params: Vec<Param>,
}

/// The domain operations over one connection, in a transaction or not.
struct Access<'a> {
    c: &'a pool::Conn,
    store: &'a PgStore,
    /// Set when a statement met a concurrent transaction: the whole plan must run again.
    retry: std::cell::Cell<bool>,
    /// Set when any statement failed: the transaction cannot commit.
    failed: std::cell::Cell<bool>,
    /// Whether a statement went out since the transaction began.
    sent: std::cell::Cell<bool>,
    /// Statements put off, sent (in order) before the next one.
    later: std::cell::RefCell<Vec<Later>>,
    /// The changes this transaction announces: this node's subscribers hear them as soon
    /// as it commits (read-your-writes), before the database's notice comes back.
    told: std::cell::RefCell<Vec<Change>>,
}

impl<'a> Access<'a> {
    fn new(c: &'a pool::Conn, store: &'a PgStore) -> Access<'a> {
        Access {
            c,
            store,
            retry: std::cell::Cell::new(false),
            failed: std::cell::Cell::new(false),
            sent: std::cell::Cell::new(false),
            later: std::cell::RefCell::new(Vec::new()),
            told: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl Access<'_> {
    fn seen(&self, e: StoreError) -> StoreError {
        self.failed.set(true);
        if retryable(&e) {
            self.retry.set(true);
        }
        self.store.failed(e)
    }

    /// Puts off a write whose answer the plan does not need: it goes out with the next
    /// statement (or the `COMMIT`), in order, in the same round trip. Its failure is
    /// that statement's failure (and the transaction's: see `failed`). Only for writes
    /// whose errors the plan does not interpret; a unique violation still runs the plan
    /// again, which then finds the row that is in the way.
    fn later(&self, sql: &'static str, params: Vec<Param>) {
        self.later.borrow_mut().push(Later { sql, params });
    }

    /// Sends what was put off, then `sql`, in one round trip: its rows and the number of
    /// rows it changed.
    fn send(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(Vec<tokio_postgres::Row>, u64), StoreError> {
        use futures_util::TryStreamExt as _;
        let later = self.later.take();
        self.sent.set(true);
        let conn = self.c;
        let c = &conn.client;
        conn.run(async move {
            // Prepared first (cached after a statement's first use), so that what
            // follows goes out in order without waiting for an answer.
            let mut statements = Vec::with_capacity(later.len());
            for l in &later {
                statements.push(conn.prepare(l.sql).await?);
            }
            let st = conn.prepare(sql).await?;
            let args: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> = later
                .iter()
                .map(|l| {
                    l.params
                        .iter()
                        .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect()
                })
                .collect();
            // Polled in order: each request is written before the next.
            let before = futures_util::future::join_all(
                statements.iter().zip(&args).map(|(st, a)| c.execute(st, a)),
            );
            let this = async {
                let rows = c.query_raw(&st, params.iter().copied()).await?;
                let mut rows = std::pin::pin!(rows);
                let mut out = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    out.push(row);
                }
                Ok::<_, tokio_postgres::Error>((out, rows.rows_affected().unwrap_or(0)))
            };
            let (before, this) = futures_util::future::join(before, this).await;
            for r in before {
                r.map_err(db)?;
            }
            this.map_err(db)
        })
        .map_err(|e| self.seen(e))
    }

    /// Ends the transaction without writing: whether the connection is clean again.
    fn rollback(&self) -> bool {
        if !self.sent.get() {
            // Nothing went out, not even the `BEGIN`.
            self.later.take();
            return true;
        }
        self.later.take();
        let c = self.c;
        c.run(async { c.client.batch_execute("ROLLBACK").await.map_err(db) })
            .is_ok()
    }

    fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        Ok(self.send(sql, params)?.0)
    }

    fn row(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        Ok(self.send(sql, params)?.0.into_iter().next())
    }

    fn exec(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        Ok(self.send(sql, params)?.1)
    }

    fn record<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<T>, StoreError> {
        self.row(sql, params)?
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn records<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, params)?
            .iter()
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn text(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<String>, StoreError> {
        Ok(self.row(sql, params)?.map(|r| r.get(0)))
    }

    fn count_of(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        Ok(self
            .row(sql, params)?
            .map(|r| u64_of(r.get::<_, i64>(0)))
            .unwrap_or(0))
    }

    fn count(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(self
            .row(sql, &[])?
            .map(|r| u64_of(r.get::<_, i64>(0)))
            .unwrap_or(0))
    }

    /// Announces `change` to every node when this transaction commits.
    fn notify(&self, change: &Change) -> Result<(), StoreError> {
        self.told.borrow_mut().push(change.clone());
        if !self.store.inner.notices.load(Ordering::Acquire) {
            return Ok(());
        }
        self.later("SELECT pg_notify($1, $2)", owned![CHANNEL, change.notice()]);
        Ok(())
    }
}
