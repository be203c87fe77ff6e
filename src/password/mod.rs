//! Passwords: scrypt hashes in PHC string form, computed on blocking threads (never on
//! the reactor), `threads` at a time, with at most `queue` more waiting: beyond that the
//! request is shed at once ([`HashError::Overloaded`], a 503 with `Retry-After`) instead
//! of queueing without bound. The weak-password policy is
//! `protocol::input::is_weak_password` (pure, so families can report it with other errors).
//!
//! Hashes made elsewhere and imported (bcrypt, Argon2, PBKDF2, Firebase's scrypt) verify
//! too, within `password.import_limits` ([`imported`]), and are reported for re-hashing.
//!
//! Unknown users cost one scrypt too ([`Hasher::verify`] with `None` checks against a
//! dummy hash), so timing does not tell whether an account exists. Hashes made with other
//! parameters keep verifying and are reported for upgrade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::Secret;
use scrypt::password_hash::{PasswordHash, PasswordHasher, SaltString};
use tokio::sync::Semaphore;

pub mod imported;

use crate::config::{self, ImportLimits};
use crate::limits::Source;
use crate::primitives::{random_bytes, NoRandomness};

/// Outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The password matched.
    pub ok: bool,
    /// It matched, and the stored hash uses other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// Errors of the hashing machinery (never of a wrong password).
#[derive(Debug)]
pub enum HashError {
    /// Every hashing thread is busy and the queue is full: shed this request.
    Overloaded,
    /// The parameters, a salt or a stored hash were refused by the hash crate.
    Hash(scrypt::password_hash::Error),
    /// The scrypt parameters are out of range.
    Params(scrypt::errors::InvalidParams),
    /// The system's random number generator failed.
    Randomness(NoRandomness),
    /// The hashing thread died (a panic in the hash crate).
    Thread(tokio::task::JoinError),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashError::Overloaded => f.write_str("password hashing queue full"),
            HashError::Hash(e) => write!(f, "password hashing failed: {e}"),
            HashError::Params(e) => write!(f, "scrypt parameters refused: {e}"),
            HashError::Randomness(e) => e.fmt(f),
            HashError::Thread(e) => write!(f, "hashing thread failed: {e}"),
        }
    }
}

impl std::error::Error for HashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HashError::Hash(e) => Some(e),
            HashError::Params(e) => Some(e),
            HashError::Randomness(e) => Some(e),
            HashError::Thread(e) => Some(e),
            HashError::Overloaded => None,
        }
    }
}

impl From<scrypt::password_hash::Error> for HashError {
    fn from(e: scrypt::password_hash::Error) -> Self {
        HashError::Hash(e)
    }
}

impl From<NoRandomness> for HashError {
    fn from(e: NoRandomness) -> Self {
        HashError::Randomness(e)
    }
}

/// Who holds places in the hasher: in total and per source.
#[derive(Debug, Default)]
struct Places {
    total: usize,
    by_source: HashMap<Source, usize>,
}

/// A place in the hasher, given back when the request leaves it (done or cancelled).
struct Admitted {
    places: Arc<Mutex<Places>>,
    source: Source,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut p = self.places.lock().unwrap_or_else(|e| e.into_inner());
        p.total = p.total.saturating_sub(1);
        if let Some(n) = p.by_source.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                p.by_source.remove(&self.source);
            }
        }
    }
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Hasher {
    params: scrypt::Params,
    permits: Arc<Semaphore>,
    /// Requests running or waiting, in total and per source.
    places: Arc<Mutex<Places>>,
    /// Most requests running or waiting at once: threads + queue.
    capacity: usize,
    threads: usize,
    dummy: Arc<String>,
    /// Bounds on stored hashes (at least what the configured scrypt needs).
    limits: Arc<ImportLimits>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

fn random_salt() -> Result<SaltString, HashError> {
    Ok(SaltString::encode_b64(&random_bytes::<16>()?)?)
}

fn hash_with(params: scrypt::Params, password: &Secret) -> Result<String, HashError> {
    let salt = random_salt()?;
    Ok(scrypt::Scrypt
        .hash_password_customized(password.0.as_bytes(), None, None, params, &salt)?
        .to_string())
}

impl Hasher {
    /// A hasher with the configured scrypt parameters, running at most `threads` hashes
    /// at once with at most `queue` more waiting.
    pub fn new(cfg: &config::Scrypt, threads: usize, queue: usize) -> Result<Hasher, HashError> {
        let params = scrypt::Params::new(cfg.log_n, cfg.r, cfg.p, scrypt::Params::RECOMMENDED_LEN)
            .map_err(HashError::Params)?;
        // A hash of nothing anybody knows, with the configured parameters: verifying
        // against it costs one scrypt and always fails. Built, not computed: no start-up cost.
        let salt = random_salt()?;
        let out = random_bytes::<{ scrypt::Params::RECOMMENDED_LEN }>()?;
        let output = scrypt::password_hash::Output::new(&out)?;
        let dummy = format!(
            "$scrypt$ln={},r={},p={}${}${}",
            cfg.log_n,
            cfg.r,
            cfg.p,
            salt.as_str(),
            output.b64_encode(&mut [0u8; 64])?
        );
        PasswordHash::new(&dummy)?;
        let threads = threads.max(1);
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(threads)),
            places: Arc::new(Mutex::new(Places::default())),
            capacity: threads + queue,
            threads,
            dummy: Arc::new(dummy),
            limits: Arc::new(widened(ImportLimits::default(), params)),
        })
    }

    /// The same hasher, bounding stored hashes by `limits` (never below what its own
    /// scrypt parameters need).
    pub fn with_import_limits(mut self, limits: ImportLimits) -> Hasher {
        self.limits = Arc::new(widened(limits, self.params));
        self
    }

    /// Requests waiting for a hashing thread now.
    pub fn queued(&self) -> usize {
        let p = self.places.lock().unwrap_or_else(|e| e.into_inner());
        p.total.saturating_sub(self.threads)
    }

    /// Takes a place for `source`, or refuses: when every place is taken, or when
    /// `source` holds its share already. An eighth of the places is kept for sources that
    /// hold none; the rest is shared among the sources holding places. So one source (or
    /// a few) cannot keep the others from being hashed, and a lone busy source still has
    /// seven eighths of the queue.
    fn admit(&self, source: Source) -> Result<Admitted, HashError> {
        let mut p = self.places.lock().unwrap_or_else(|e| e.into_inner());
        let held = p.by_source.get(&source).copied().unwrap_or(0);
        let holders = p.by_source.len() + usize::from(held == 0);
        let reserve = (self.capacity / 8).max(1);
        let share = (self.capacity.saturating_sub(reserve) / holders).max(1);
        if p.total >= self.capacity || held >= share {
            return Err(HashError::Overloaded);
        }
        p.total += 1;
        *p.by_source.entry(source).or_insert(0) += 1;
        Ok(Admitted {
            places: self.places.clone(),
            source,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        source: Source,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _admitted = self.admit(source)?;
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Overloaded)?;
        // The permit travels with the computation: if the request is abandoned meanwhile,
        // the thread stays counted until the hash it started is done.
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(HashError::Thread)
    }

    /// Hashes a new password (PHC string) for a request from `source`.
    pub async fn hash(&self, password: Secret, source: Source) -> Result<String, HashError> {
        let params = self.params;
        self.blocking(source, move || hash_with(params, &password))
            .await?
    }

    /// Hashes a new password on this thread (the command line, with no server running).
    pub fn hash_here(&self, password: &Secret) -> Result<String, HashError> {
        hash_with(self.params, password)
    }

    /// Checks `password` against `stored` (a PHC string), or against a dummy hash when
    /// there is no stored hash (unknown user): the cost is the same either way.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
        source: Source,
    ) -> Result<Verdict, HashError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.as_str().to_owned());
        let params = self.params;
        let limits = self.limits.clone();
        self.blocking(source, move || {
            let ok = match imported::verify(password.0.as_bytes(), &phc, &limits) {
                Ok(ok) => ok && known,
                Err(refusal) => {
                    tracing::warn!(%refusal, "a stored password hash was refused");
                    false
                }
            };
            let needs_rehash = ok && !made_with(&phc, params);
            Verdict { ok, needs_rehash }
        })
        .await
    }
}

/// Whether `phc` is a scrypt hash with exactly `params`.
fn made_with(phc: &str, params: scrypt::Params) -> bool {
    PasswordHash::new(phc)
        .ok()
        .filter(|h| h.algorithm.as_str() == "scrypt")
        .and_then(|h| scrypt::Params::try_from(&h).ok())
        .is_some_and(|p| p.log_n() == params.log_n() && p.r() == params.r() && p.p() == params.p())
}

/// `limits`, raised where latchkey's own scrypt `params` need more.
fn widened(mut limits: ImportLimits, params: scrypt::Params) -> ImportLimits {
    let own_kib = (1u64 << params.log_n()) * u64::from(params.r()) * 128 / 1024;
    limits.memory_kib = limits.memory_kib.max(own_kib);
    limits.parallelism = limits.parallelism.max(params.p());
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> config::Scrypt {
        config::Scrypt {
            log_n: 8,
            r: 8,
            p: 1,
        }
    }

    #[tokio::test]
    async fn hash_verify_and_upgrade() {
        let h = Hasher::new(&cheap(), 2, 4).unwrap();
        let l = Source::LOCAL;
        let phc = h.hash(Secret("correct horse".into()), l).await.unwrap();
        assert!(phc.starts_with("$scrypt$ln=8,r=8,p=1$"));
        let v = h
            .verify(Secret("correct horse".into()), Some(phc.clone()), l)
            .await
            .unwrap();
        assert_eq!(
            v,
            Verdict {
                ok: true,
                needs_rehash: false
            }
        );
        let v = h
            .verify(Secret("wrong".into()), Some(phc.clone()), l)
            .await
            .unwrap();
        assert!(!v.ok);
        // Parameters changed in the config: the old hash verifies and asks for an upgrade.
        let stronger = Hasher::new(
            &config::Scrypt {
                log_n: 9,
                r: 8,
                p: 1,
            },
            1,
            0,
        )
        .unwrap();
        let v = stronger
            .verify(Secret("correct horse".into()), Some(phc), l)
            .await
            .unwrap();
        assert_eq!(
            v,
            Verdict {
                ok: true,
                needs_rehash: true
            }
        );
        // Unknown user: the dummy never matches, whatever the password.
        let v = h.verify(Secret(String::new()), None, l).await.unwrap();
        assert!(!v.ok);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overload_is_shed_not_queued() {
        // One thread, one waiting place: of many at once, two are served, the rest shed.
        let h = Hasher::new(
            &config::Scrypt {
                log_n: 14,
                r: 8,
                p: 1,
            },
            1,
            1,
        )
        .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.hash(Secret("x".into()), Source::LOCAL).await
            }));
        }
        let mut ok = 0;
        let mut shed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(HashError::Overloaded) => shed += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // Two places, one kept for another source: this one gets one at a time.
        assert_eq!((ok, shed), (1, 7));
        assert_eq!(h.queued(), 0);
        assert!(
            h.hash(Secret("x".into()), Source::LOCAL).await.is_ok(),
            "capacity comes back"
        );
    }

    #[test]
    fn one_source_cannot_hold_every_place() {
        let h = Hasher::new(&cheap(), 2, 14).unwrap(); // 16 places, 2 kept in reserve
        let src = |i: u8| Source::of(std::net::IpAddr::from([192, 0, 2, i]));
        let take = |s: Source, n: usize| -> Vec<Admitted> {
            (0..n).map(|_| h.admit(s).unwrap()).collect()
        };
        // A lone source gets all but the reserve...
        let a = take(src(1), 14);
        assert!(h.admit(src(1)).is_err());
        // ... and another still gets in: the reserve is for it.
        let b = take(src(2), 2);
        assert!(h.admit(src(1)).is_err(), "full");
        drop(a);
        // Two sources share the 14 others: 7 each.
        let a = take(src(1), 7);
        assert!(h.admit(src(1)).is_err());
        let b2 = take(src(2), 5);
        assert!(h.admit(src(2)).is_err());
        // A third holds none: there is room for it.
        let c = take(src(3), 1);
        drop((a, b, b2, c));
        assert_eq!(h.queued(), 0);
        assert!(h.admit(src(1)).is_ok());
    }
}
