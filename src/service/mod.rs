//! The service: executes the families' [`Operation`]s against the store, the signer and
//! the password hasher. The only module that combines them; the only place that reads the
//! clock. Every operation's writes happen in one store transaction, run on a blocking
//! thread; a failure anywhere leaves nothing behind.

mod accounts;
pub mod admin;
pub mod audit;
mod codes;
mod events;
pub mod groups;
mod introspect;
mod mfa;
pub mod oidc;
mod parts;
pub mod passkeys;
pub mod policy;
pub mod portal;
mod principal;
mod recovery;
mod refresh;
mod seen;
mod session;
mod upstream;
mod visits;

pub use codes::{normalize_code, CODE_LEN};
pub use parts::quota_address;
pub use principal::{Door, Principal};
use std::time::Duration;
pub use upstream::{Identity, IdentityView, UpstreamRefusal};

use crate::clock::UnixMillis;
use refresh::Issue;
pub use refresh::{parse_refresh_token, REFRESH_TOKEN_LEN};

use std::sync::Arc;

use protocol::{Failure, Operation, Outcome, Transport, UserOp, UserView};
use storage::{AccountState, Store, StoreError, UserRecord, Write};

use events::Event;

use crate::clock::Clock;
use crate::config::Checked;
use crate::limits::{Lockouts, Source};
use crate::mail::Mailer;
use crate::password::Hasher;
use crate::primitives::sha256;
use crate::secrets::ServerKey;
use crate::signer::keys::KeyRing;
use crate::signer::{Claims, PublicKeys};

/// Why a write closure gave up: the store broke, or something inside the server failed
/// (logged where it happened). Either way the closure's writes are thrown away. A
/// *refusal* is not an `Abort`: it is the closure's value, `Ok(Err(failure))`, and it
/// commits (see `storage::Store::commit`).
#[derive(Debug)]
pub(crate) enum Abort {
    /// The store failed.
    Store(StoreError),
    /// Something else failed (randomness, signing, sealing); already logged.
    Internal,
    /// The closure panicked (contained by the store).
    Panicked,
}

impl From<Abort> for storage::Abort {
    fn from(a: Abort) -> Self {
        match a {
            Abort::Store(e) => storage::Abort::Store(e),
            Abort::Internal => storage::Abort::Internal,
            Abort::Panicked => storage::Abort::Panicked,
        }
    }
}

impl From<storage::Abort> for Abort {
    fn from(a: storage::Abort) -> Self {
        match a {
            storage::Abort::Store(e) => Abort::Store(e),
            storage::Abort::Internal => Abort::Internal,
            storage::Abort::Panicked => Abort::Panicked,
        }
    }
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

/// Inside a write closure, an internal failure gives up the closure's writes.
impl From<Failure> for Abort {
    fn from(_: Failure) -> Self {
        Abort::Internal
    }
}

/// How long the entry of a spent refresh token is kept: presented again within this
/// time it is recognised (tolerated within `tokens.reuse_interval`, theft after: the
/// family is revoked); later it is unknown, refused like any unknown token. Without a
/// bound, a client that stays signed in for years would add an entry every rotation.
pub const SPENT_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What one sweep transaction removes at most, of each kind.
pub const SWEEP_BATCH: usize = 1000;

/// Sweep transactions in a row at most, once a minute: up to 100,000 of each kind a
/// minute (about 1,700 rotations a second, sustained, before spent entries outgrow it).
pub const SWEEP_ROUNDS: usize = 100;

/// The failure for a store error: a database that cannot be reached is a 503 to retry
/// (and `/healthz` says so), anything else an internal error.
pub(crate) fn store_failure(e: StoreError) -> Failure {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "the store is unavailable");
        Failure::Transport(Transport::Overloaded { retry_after: 1 })
    } else {
        internal("store", e)
    }
}

/// The lockouts `cfg` sets: counted in `store` when several servers share it, else in
/// this process's memory.
pub fn lockouts(cfg: &Checked, store: &Store) -> Lockouts {
    let l = &cfg.limits;
    let lockouts = Lockouts::new(
        l.lockout_failures,
        l.lockout_failures_total,
        l.lockout_window,
        l.lockout_duration,
    );
    if store.counts_attempts() {
        lockouts.in_store(store.clone())
    } else {
        lockouts
    }
}

/// The failure for an attempt that may not take its place.
pub(crate) fn refused(r: crate::limits::Refused) -> Failure {
    match r {
        crate::limits::Refused::Wait(retry_after) => Failure::LockedOut { retry_after },
        crate::limits::Refused::Store(e) => store_failure(e),
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "{what}");
    Failure::Transport(Transport::Internal)
}

impl From<Abort> for Failure {
    fn from(a: Abort) -> Self {
        match a {
            Abort::Store(e) => store_failure(e),
            Abort::Internal => Failure::Transport(Transport::Internal),
            Abort::Panicked => internal("store", "a write closure panicked"),
        }
    }
}

/// What a write closure answers: `Err` gives up its writes; `Ok(Err(failure))` is a
/// refusal whose writes (if any: a revocation it must record) commit.
pub(crate) type Step<T> = Result<Result<T, Failure>, Abort>;

struct Inner {
    cfg: Checked,
    store: Store,
    clock: Arc<dyn Clock>,
    /// The server key: HMAC of codes, sealing of TOTP secrets.
    key: ServerKey,
    metrics: Arc<crate::metrics::Metrics>,
    /// Access tokens: signing and verifying them.
    tokens: parts::Tokens,
    /// The guards of credential checks.
    guards: parts::Guards,
    /// Outgoing mail.
    mail: parts::Outgoing,
    /// The WebAuthn relying party; `None`: passkeys are off.
    webauthn: Option<webauthn_rs::Webauthn>,
    /// The origins passkey ceremonies may come from, serialised (compared exactly).
    passkey_origins: Vec<String>,
    /// When each (account, app) refusal was last recorded (see
    /// [`Service::access_refused`]).
    denials: std::sync::Mutex<std::collections::HashMap<[u8; 32], UnixMillis>>,
    /// Told when audit events were written (the webhook deliverer wakes up).
    audited: Arc<tokio::sync::Notify>,
    /// The portal sessions read since the store last changed (redb only).
    visits: visits::Visits,
}

/// Why the service could not start.
#[derive(Debug)]
pub enum StartError {
    /// The signing keys could not be loaded or made.
    Keys(crate::signer::KeyError),
    /// The password hasher's settings were refused.
    Hasher(crate::password::HashError),
    /// The server key file could not be read or made.
    ServerKey(crate::secrets::SecretsError),
    /// The committer thread could not be started.
    Thread(std::io::Error),
    /// The store failed.
    Store(StoreError),
    /// The key file is missing, and the store holds data sealed with a server key.
    MissingServerKey(std::path::PathBuf),
    /// The key file is not the key this store's data was sealed with.
    WrongServerKey(std::path::PathBuf),
    /// The passkey relying party could not be set up.
    Passkeys(webauthn_rs::prelude::WebauthnError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Keys(e) => e.fmt(f),
            StartError::Hasher(e) => e.fmt(f),
            StartError::ServerKey(e) => e.fmt(f),
            StartError::Thread(e) => write!(f, "cannot start the committer thread: {e}"),
            StartError::Store(e) => e.fmt(f),
            StartError::Passkeys(e) => write!(f, "passkeys: {e}"),
            StartError::MissingServerKey(p) => write!(
                f,
                "the server key file {} is missing, but the store holds data sealed with a \
                 server key (TOTP secrets, codes): restore that file from the backup of the \
                 store (latchkey backup --with-key); a new key would lock every TOTP user out",
                p.display()
            ),
            StartError::WrongServerKey(p) => write!(
                f,
                "the server key file {} is not the key this store's data was sealed with: \
                 use the key file that belongs to this store (on every node: the same file)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Keys(e) => Some(e),
            StartError::Hasher(e) => Some(e),
            StartError::ServerKey(e) => Some(e),
            StartError::Thread(e) => Some(e),
            StartError::Store(e) => Some(e),
            StartError::Passkeys(e) => Some(e),
            StartError::MissingServerKey(_) | StartError::WrongServerKey(_) => None,
        }
    }
}

impl From<crate::signer::KeyError> for StartError {
    fn from(e: crate::signer::KeyError) -> Self {
        StartError::Keys(e)
    }
}

impl From<crate::password::HashError> for StartError {
    fn from(e: crate::password::HashError) -> Self {
        StartError::Hasher(e)
    }
}

impl From<crate::secrets::SecretsError> for StartError {
    fn from(e: crate::secrets::SecretsError) -> Self {
        StartError::ServerKey(e)
    }
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::Store(e)
    }
}

/// The server key of `store`: the key file at `path`, checked against what the store
/// recorded of the key that sealed its data; made only for a store that holds nothing
/// sealed (a node never creates a server key for a store sealed with another one).
fn open_server_key(store: &Store, path: &std::path::Path) -> Result<ServerKey, StartError> {
    let recorded = store.read(|r| r.server_key_check())?;
    let key = match ServerKey::load(path)? {
        Some(key) => {
            match &recorded {
                Some(c) if c.as_slice() != key.check().as_slice() => {
                    return finish_rotation(path, c)
                        .ok_or_else(|| StartError::WrongServerKey(path.to_path_buf()))
                }
                Some(_) => return Ok(key),
                None => {}
            }
            // A store older than the check: the key must open what the store sealed.
            let sealed = store.read(|r| r.any_sealed_totp())?;
            if let Some((user_id, secret)) = sealed {
                if key.open(&secret, &user_id).is_err() {
                    return Err(StartError::WrongServerKey(path.to_path_buf()));
                }
            }
            key
        }
        None => {
            if recorded.is_some() || store.read(|r| r.holds_sealed_data())? {
                return Err(StartError::MissingServerKey(path.to_path_buf()));
            }
            ServerKey::create(path)?
        }
    };
    let check = key.check();
    store.write(|w| w.set_server_key_check(&check))?;
    Ok(key)
}

/// Where a server-key rotation writes the new key before the store is switched to it.
fn next_key_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".new");
    std::path::PathBuf::from(p)
}

/// A rotation stopped between switching the store and renaming the key file: the store
/// already belongs to `<key file>.new`. Finishes it, when that is so.
fn finish_rotation(path: &std::path::Path, recorded: &[u8]) -> Option<ServerKey> {
    let next = next_key_path(path);
    let key = ServerKey::load(&next).ok()??;
    if key.check().as_slice() != recorded {
        return None;
    }
    std::fs::rename(&next, path).ok()?;
    tracing::warn!(path = %path.display(), "finished an interrupted server key rotation");
    Some(key)
}

/// What [`rotate_server_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerKeyRotation {
    /// TOTP secrets sealed again under the new key.
    pub resealed: usize,
    /// Accounts whose recovery codes were removed (keyed hashes no new key can check).
    pub recovery_removed: usize,
    /// Pending codes and credentials dropped (session codes, proofs, MFA steps).
    pub pending_dropped: u64,
}

/// Replaces the server key of `store` (no server may hold it): a new key file is written
/// beside the old (`.new`), every TOTP secret is sealed again under it and the store
/// records it, in one transaction; then the new file takes the old one's name. A crash
/// in between is finished at the next start. Pending codes are dropped and recovery codes
/// removed: they are keyed hashes, which no other key can check (their owners make new
/// ones with their authenticator).
pub fn rotate_server_key(
    store: &Store,
    path: &std::path::Path,
) -> Result<ServerKeyRotation, StartError> {
    let old = open_server_key(store, path)?;
    let next_path = next_key_path(path);
    let _ = std::fs::remove_file(&next_path);
    let new = ServerKey::create(&next_path)?;
    let done = store.write(|w| {
        let mut resealed = 0;
        let mut recovery_removed = 0;
        for mut user in w.users_with_mfa()? {
            let Some(mfa) = user.mfa.as_mut() else {
                continue;
            };
            let mut plain = old.open(&mfa.sealed_secret, &user.id)?;
            let sealed = new.seal(&plain, &user.id);
            zeroize::Zeroize::zeroize(&mut plain);
            mfa.sealed_secret = sealed?;
            if !mfa.recovery.is_empty() {
                mfa.recovery.clear();
                recovery_removed += 1;
            }
            w.update_user(&user)?;
            resealed += 1;
        }
        let pending_dropped = w.drop_pending_codes()?;
        w.set_server_key_check(&new.check())?;
        Ok::<_, StartError>(ServerKeyRotation {
            resealed,
            recovery_removed,
            pending_dropped,
        })
    });
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_file(&next_path);
            return Err(e);
        }
    };
    std::fs::rename(&next_path, path).map_err(|source| {
        StartError::ServerKey(crate::secrets::SecretsError::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    tracing::warn!(target: "latchkey::audit", event = "server_key_rotated", resealed = done.resealed, recovery_removed = done.recovery_removed);
    Ok(done)
}

/// Whole seconds of `d` as `i64` (saturating).
pub(crate) fn secs_i64(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
    /// The language of the mails it sends (see [`Service::speaking`]).
    lang: crate::i18n::Lang,
    /// Who calls, through which door, from where (see [`Service::at`]): what the audit
    /// events of its writes say.
    ctx: Arc<audit::Context>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.inner.store)
            .finish()
    }
}

/// A new random id: 128 bits as 32 lowercase hex digits.
pub(crate) fn new_id() -> Result<String, Failure> {
    crate::primitives::random_id().map_err(|e| internal("randomness", e))
}

impl Service {
    /// Opens the service over an open store: loads (or makes) the signing keys and the
    /// server key; mail goes out as configured.
    pub fn new(cfg: Checked, store: Store, clock: Arc<dyn Clock>) -> Result<Service, StartError> {
        let mailer = Mailer::new(&cfg.mail, cfg.brand());
        Service::with_mailer(cfg, store, clock, mailer)
    }

    /// [`Service::new`] with another mailer (an [`Outbox`](crate::mail::Outbox) for
    /// in-process tests).
    pub fn with_mailer(
        cfg: Checked,
        store: Store,
        clock: Arc<dyn Clock>,
        mailer: Mailer,
    ) -> Result<Service, StartError> {
        let t = &cfg.tokens;
        let keys = KeyRing::open(
            &store,
            t.alg,
            &cfg.id_token_algs(),
            &t.issuer,
            clock.now(),
            t.key_window_secs(),
            t.cache_size,
        )?;
        let pw = &cfg.password;
        let hasher = Hasher::new(&pw.scrypt, pw.hash_threads, pw.hash_queue)?
            .with_import_limits(pw.import_limits.clone());
        let guards = parts::Guards::new(&cfg, hasher, lockouts(&cfg, &store));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let mail = parts::Outgoing::new(&cfg, mailer, metrics.clone());
        let key = open_server_key(&store, &cfg.storage.key_file)?;
        let webauthn = cfg
            .passkeys
            .as_ref()
            .map(passkeys::relying_party)
            .transpose()
            .map_err(StartError::Passkeys)?;
        let passkey_origins = cfg
            .passkeys
            .as_ref()
            .map(passkeys::serialized_origins)
            .unwrap_or_default();
        let seen = Arc::new(seen::Seen::default());
        let tokens = parts::Tokens::new(&cfg, keys, seen.clone());
        {
            let keys_changed = tokens.changed.clone();
            store.subscribe(move |change| {
                seen.forget(change);
                if matches!(change, storage::Change::Keys | storage::Change::Lost) {
                    keys_changed.notify_one();
                }
            });
        }
        let lang = cfg.language;
        Ok(Service {
            inner: Arc::new(Inner {
                cfg,
                store,
                clock,
                key,
                metrics,
                tokens,
                guards,
                mail,
                webauthn,
                passkey_origins,
                denials: std::sync::Mutex::new(std::collections::HashMap::new()),
                audited: Arc::new(tokio::sync::Notify::new()),
                visits: visits::Visits::default(),
            }),
            lang,
            ctx: Arc::new(audit::Context::default()),
        })
    }

    /// Follows what other servers sharing the store change: the signing keys (every
    /// `tokens.key_poll`, and at once on a change notice), and the server key (a
    /// rotation elsewhere). Returns only when the store's server key is no longer this
    /// server's: it must stop, or it would seal with a key the store does not know.
    pub async fn watch_store(&self) -> String {
        let poll = self.inner.cfg.tokens.key_poll;
        loop {
            let _ = tokio::time::timeout(poll, self.inner.tokens.changed.notified()).await;
            let this = self.clone();
            let checked = tokio::task::spawn_blocking(move || this.check_store()).await;
            match checked {
                Ok(Ok(())) => {}
                Ok(Err(Some(stop))) => return stop,
                Ok(Err(None)) | Err(_) => {}
            }
        }
    }

    /// One look at the store: `Err(Some(why))` when this server must stop.
    fn check_store(&self) -> Result<(), Option<String>> {
        match self.inner.tokens.keys.reload_if_changed(&self.inner.store) {
            Ok(true) => tracing::info!("signing keys changed in the store: reloaded"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot look at the signing keys");
                return Err(None);
            }
        }
        let check = self.inner.store.read(|r| r.server_key_check());
        match check {
            Ok(Some(c)) if c.as_slice() != self.inner.key.check().as_slice() => Err(Some(format!(
                "the store's server key changed (latchkey server-key rotate): this server's \
                 key file {} no longer fits; copy the new one here and start again",
                self.inner.cfg.storage.key_file.display()
            ))),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot look at the store");
                Err(None)
            }
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Checked {
        &self.inner.cfg
    }

    /// Whether mailed sign-in codes are on (the `session` family is mounted): a proven
    /// address is then a way in.
    pub fn mailed_codes_on(&self) -> bool {
        self.inner.cfg.mounts.iter().any(|(n, _)| *n == "session")
    }

    /// The metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The live gauges for a metrics scrape.
    pub fn gauges(&self) -> crate::metrics::Gauges {
        crate::metrics::Gauges {
            hash_queue: self.inner.guards.hasher.queued() as u64,
            store_bytes: self.inner.store.size_bytes(),
            users: self.inner.store.read(|r| r.user_count()).unwrap_or(0),
            token_cache: self.inner.tokens.keys.cached() as u64,
        }
    }

    /// The failure for a hashing error: shed load is a 503 to retry, anything else internal.
    fn hash_failure(&self, e: crate::password::HashError) -> Failure {
        match e {
            crate::password::HashError::Overloaded => {
                self.inner.metrics.shed();
                Failure::Transport(Transport::Overloaded { retry_after: 1 })
            }
            e => internal("hash", e),
        }
    }

    /// Verified access tokens in the cache now.
    pub fn token_cache_len(&self) -> usize {
        self.inner.tokens.keys.cached()
    }

    /// The password hasher.
    pub fn hasher(&self) -> &Hasher {
        &self.inner.guards.hasher
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.tokens.keys
    }

    /// The service sending its mails in `lang` (a request's language: the portal's
    /// pages, an API call's `Accept-Language`). Everything else is shared.
    pub fn speaking(&self, lang: crate::i18n::Lang) -> Service {
        Service {
            inner: self.inner.clone(),
            lang,
            ctx: self.ctx.clone(),
        }
    }

    /// This service for a call `ctx` describes (its door, its client's address, who
    /// acts): the audit events of its writes say so.
    pub fn at(&self, ctx: audit::Context) -> Service {
        Service {
            inner: self.inner.clone(),
            lang: self.lang,
            ctx: Arc::new(ctx),
        }
    }

    /// Told each time this node writes audit events (the webhook deliverer waits on it).
    pub fn audited(&self) -> Arc<tokio::sync::Notify> {
        self.inner.audited.clone()
    }

    /// The clock the service reads.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// The call's context (see [`Service::at`]).
    pub fn context(&self) -> &audit::Context {
        &self.ctx
    }

    /// Now, from the service's clock.
    pub fn now(&self) -> UnixMillis {
        self.inner.clock.now()
    }

    /// Takes one request of `source` from its bucket (credential routes), or says how
    /// many seconds to wait.
    pub fn rate_limit(&self, source: Source) -> Result<(), Failure> {
        self.inner.guards.rate_limit(source, self.now())
    }

    /// Removes expired refresh families, session codes and challenges, and entries of
    /// refresh tokens spent more than [`SPENT_KEPT`] ago; the server calls it once a
    /// minute. Each transaction removes at most [`SWEEP_BATCH`] of each kind, and another
    /// follows while one kind filled its batch, up to [`SWEEP_ROUNDS`]: other writers get
    /// their turn in between, and a steady load of rotations (a spent entry each) cannot
    /// outgrow the sweep. Returns (families and spent entries, codes).
    pub async fn sweep(&self) -> Result<(usize, usize), StoreError> {
        let store = self.inner.store.clone();
        let now = self.now();
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.inner.guards.lockouts.sweep(now)?;
            let (mut families, mut codes) = (0, 0);
            for _ in 0..SWEEP_ROUNDS {
                let retention = this.inner.cfg.audit.retention;
                let counts = store.write(|w| {
                    Ok::<_, StoreError>([
                        w.sweep_families(now, SWEEP_BATCH)?,
                        w.sweep_spent_refresh(now - SPENT_KEPT, SWEEP_BATCH)?,
                        w.sweep_session_codes(now, SWEEP_BATCH)?,
                        w.sweep_challenges(now, SWEEP_BATCH)?,
                        audit::prune(w, now, retention, SWEEP_BATCH)?,
                    ])
                })?;
                let [f, r, c, ch, _] = counts;
                families += f + r;
                codes += c + ch;
                if counts.iter().all(|n| *n < SWEEP_BATCH) {
                    break;
                }
            }
            Ok((families, codes))
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "sweep thread failed");
            Ok((0, 0))
        })
    }

    /// The public keys for the well-known endpoints.
    pub fn public_keys(&self) -> PublicKeys {
        self.inner.tokens.keys.public_keys(self.now())
    }

    /// Runs `op` for `caller`, a signed-in user authenticated at the edge (an access
    /// token, the portal's cookie).
    pub async fn act(
        &self,
        caller: &Principal,
        op: UserOp,
        source: Source,
    ) -> Result<Outcome, Failure> {
        match op {
            UserOp::CurrentUser => Ok(Outcome::User(view(&caller.user))),
            UserOp::DeleteAccount => self.delete_account(caller).await,
            UserOp::VerifyEmailStart => self.verify_email_start(caller, source).await,
            UserOp::VerifyEmail { code } => self.verify_email(caller, code, source).await,
            UserOp::ChangePassword {
                reauth,
                new_password,
                fresh_tokens,
            } => {
                self.change_password(caller, reauth, new_password, fresh_tokens, source)
                    .await
            }
            UserOp::ChangeEmailStart { email } => {
                self.change_email_start(caller, email, source).await
            }
            UserOp::ChangeEmailConfirm { code } => self.change_email_confirm(caller, code).await,
            UserOp::TotpEnroll => self.totp_enroll(caller).await,
            UserOp::TotpConfirm { code } => {
                self.mfa_change(caller, code, mfa::MfaAction::Confirm, source)
                    .await
            }
            UserOp::TotpDisable { code } => {
                self.mfa_change(caller, code, mfa::MfaAction::Disable, source)
                    .await
            }
            UserOp::RecoveryCodes { code } => {
                self.mfa_change(caller, code, mfa::MfaAction::Regenerate, source)
                    .await
            }
            UserOp::PasskeyRegisterStart => self.passkey_register_start(caller).await,
            UserOp::PasskeyRegisterFinish {
                ceremony,
                name,
                credential,
            } => {
                self.passkey_register_finish(caller, ceremony, name, credential)
                    .await
            }
            UserOp::PasskeyList => Ok(Outcome::Passkeys(self.passkeys_of(&caller.user.id)?)),
            UserOp::PasskeyRename { id, name } => self.passkey_rename(caller, id, name).await,
            UserOp::PasskeyDelete { id } => self.passkey_delete(caller, id).await,
        }
    }

    /// Runs one operation for a request from `source` (the client, as the limits count
    /// it).
    pub async fn execute(&self, op: Operation, source: Source) -> Result<Outcome, Failure> {
        self.run(op, source, Issue::Tokens).await
    }

    /// Runs a sign-in operation for a browser: a finished sign-in opens a portal session
    /// in the sign-in's own commit ([`Outcome::Session`], its cookie) instead of issuing
    /// tokens.
    pub async fn sign_in_browser(&self, op: Operation, source: Source) -> Result<Outcome, Failure> {
        self.run(op, source, Issue::Browser).await
    }

    async fn run(&self, op: Operation, source: Source, issue: Issue) -> Result<Outcome, Failure> {
        match op {
            Operation::SignUp { user, sign_in } => self.sign_up(user, sign_in, source).await,
            Operation::PasswordSignIn {
                login,
                password,
                client,
                activate,
                second,
            } => {
                if let Some(c) = &client {
                    self.check_client(c, false)?;
                }
                self.password_sign_in(login, password, activate, second, source, issue)
                    .await
            }
            Operation::MfaFinalize { pending, code } => {
                self.mfa_finalize(pending, code, source, issue).await
            }
            Operation::Refresh {
                refresh_token,
                client,
            } => {
                if let Some(c) = &client {
                    self.check_client(c, false)?;
                }
                self.refresh(refresh_token).await
            }
            Operation::AsUser { bearer, op } => {
                let caller = self.authenticate(bearer)?;
                self.act(&caller, op, source).await
            }
            Operation::RequestCode { email } => self.request_code(email, source).await,
            Operation::RedeemCode { code, mfa_code } => {
                self.redeem_code(code, mfa_code, source, issue).await
            }
            Operation::VerifyEmailCode { code } => self.verify_email_code(code).await,
            Operation::ForgotPassword { email } => self.forgot_password(email, source).await,
            Operation::ResetPassword {
                email,
                code,
                new_password,
            } => self.reset_password(email, code, new_password, source).await,
            Operation::Logout { refresh_token } => self.logout(refresh_token).await,
            Operation::Introspect {
                token,
                hint,
                client,
            } => self.introspect(&token, hint.as_deref(), &client),
            Operation::Revoke { token, client } => self.revoke(token, &client).await,
            Operation::PasskeyLoginStart => self.passkey_login_start().await,
            Operation::PasskeyLoginFinish {
                ceremony,
                credential,
            } => {
                self.passkey_login_finish(ceremony, credential, source, issue)
                    .await
            }
        }
    }

    /// Checks client credentials: an `[oauth]` client's; with `or_oidc` (introspection,
    /// revocation), also an OpenID Connect client's that has a secret.
    fn check_client(&self, c: &protocol::ClientCredentials, or_oidc: bool) -> Result<(), Failure> {
        self.inner.guards.check_client(c, or_oidc)
    }

    /// Runs the plan `f` in a write transaction, grouped with other requests' writes (one
    /// commit, one fsync, for the group); resolves once its writes are durable. `f` may
    /// run more than once (see `committer`): it must not have effects outside the
    /// transaction. Each run gets an empty list for the [`Event`]s of what it did; the
    /// committed run's are applied after the commit. A refusal (`Ok(Err(failure))`)
    /// commits what `f` wrote (and its events) and is returned as `Err`.
    async fn write<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Write, &Service, &mut Vec<Event>) -> Step<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        let this = self.clone();
        let job: storage::Job = Box::new(move |w| {
            let mut events = Vec::new();
            let v = f(w, &this, &mut events).map_err(storage::Abort::from)?;
            // The audit log is written in the plan's own transaction.
            if this.inner.cfg.audit.enabled {
                let entries = events.iter().flat_map(audit::entries).collect();
                audit::write_entries(w, &this.ctx, entries, this.now())
                    .map_err(|e| storage::Abort::from(Abort::from(e)))?;
            }
            if let Ok(mut g) = out.lock() {
                *g = Some((v, events));
            }
            Ok(())
        });
        match self.inner.store.commit(job).await {
            Ok(Ok(())) => {}
            Ok(Err(abort)) => return Err(Abort::from(abort).into()),
            Err(storage::Refused::Full) => {
                self.inner.metrics.shed();
                return Err(Failure::Transport(Transport::Overloaded { retry_after: 1 }));
            }
            Err(storage::Refused::Stopped) => {
                return Err(internal("store", "the store's writer stopped"))
            }
        }
        let done = slot.lock().ok().and_then(|mut g| g.take());
        let (value, events) = done.ok_or_else(|| internal("write", "no result"))?;
        self.applied(&events);
        if self.inner.cfg.audit.enabled && events.iter().any(|e| !audit::entries(e).is_empty()) {
            self.inner.audited.notify_one();
        }
        value
    }

    /// Whether the service can serve: the store's last write reached it. (Cheap: load
    /// balancers ask often.)
    pub fn healthy(&self) -> bool {
        self.inner.store.healthy()
    }

    /// Signs an access token for `user` in family `sid`.
    fn access_token(
        &self,
        user: &UserRecord,
        sid: &str,
        amr: &[String],
        now_ms: UnixMillis,
    ) -> Result<(String, Claims), Failure> {
        self.inner.tokens.sign(user, sid, amr, now_ms)
    }
}

/// What a user looks like to the families.
pub(crate) fn view(u: &UserRecord) -> UserView {
    UserView {
        id: u.id.clone(),
        num: u.num,
        email: u.email.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        role: u.role.clone(),
        state: match u.state {
            AccountState::Active => "active",
            AccountState::Unverified => "unverified",
            AccountState::Disabled => "disabled",
            AccountState::Blocked => "blocked",
        },
        created_at: u.created_at.millis(),
        updated_at: u.updated_at.millis(),
        last_login_at: u.last_login_at.map(UnixMillis::millis),
        mfa_enabled: u.mfa.as_ref().is_some_and(|m| m.enabled),
        email_verified: u.email_verified,
    }
}
