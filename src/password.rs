//! Passwords: scrypt hashes in PHC string form, computed on blocking threads (never on
//! the reactor) under a bound of one hash per core. The weak-password policy is
//! `protocol::input::is_weak_password` (pure, so families can report it with other errors).
//!
//! Unknown users cost one scrypt too ([`Hasher::verify`] with `None` checks against a
//! dummy hash), so timing does not tell whether an account exists. Hashes made with other
//! parameters keep verifying and are reported for upgrade.

use std::sync::Arc;

use protocol::Secret;
use ring::rand::SecureRandom;
use scrypt::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::config;

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
pub struct HashError(pub String);

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "password hashing failed: {}", self.0)
    }
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Hasher {
    params: scrypt::Params,
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

fn random_salt() -> Result<SaltString, HashError> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| HashError("no randomness".into()))?;
    SaltString::encode_b64(&bytes).map_err(|e| HashError(e.to_string()))
}

impl Hasher {
    /// A hasher with the configured scrypt parameters, running at most `concurrency`
    /// hashes at once.
    pub fn new(cfg: &config::Scrypt, concurrency: usize) -> Result<Hasher, HashError> {
        let params = scrypt::Params::new(cfg.log_n, cfg.r, cfg.p, scrypt::Params::RECOMMENDED_LEN)
            .map_err(|e| HashError(e.to_string()))?;
        // A hash of nothing anybody knows, with the configured parameters: verifying
        // against it costs one scrypt and always fails. Built, not computed: no start-up cost.
        let salt = random_salt()?;
        let mut out = [0u8; scrypt::Params::RECOMMENDED_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut out)
            .map_err(|_| HashError("no randomness".into()))?;
        let output =
            scrypt::password_hash::Output::new(&out).map_err(|e| HashError(e.to_string()))?;
        let dummy = format!(
            "$scrypt$ln={},r={},p={}${}${}",
            cfg.log_n,
            cfg.r,
            cfg.p,
            salt.as_str(),
            output
                .b64_encode(&mut [0u8; 64])
                .map_err(|e| HashError(e.to_string()))?
        );
        PasswordHash::new(&dummy).map_err(|e| HashError(e.to_string()))?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError("hasher closed".into()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| HashError(e.to_string()))
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: Secret) -> Result<String, HashError> {
        let params = self.params;
        self.blocking(move || {
            let salt = random_salt()?;
            scrypt::Scrypt
                .hash_password_customized(password.0.as_bytes(), None, None, params, &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored` (a PHC string), or against a dummy hash when
    /// there is no stored hash (unknown user): the cost is the same either way.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
    ) -> Result<Verdict, HashError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.as_str().to_owned());
        let params = self.params;
        self.blocking(move || {
            let Ok(hash) = PasswordHash::new(&phc) else {
                return Err(HashError("stored hash is not a PHC string".into()));
            };
            let ok = scrypt::Scrypt
                .verify_password(password.0.as_bytes(), &hash)
                .is_ok()
                && known;
            let needs_rehash = ok
                && scrypt::Params::try_from(&hash)
                    .map(|p| {
                        p.log_n() != params.log_n() || p.r() != params.r() || p.p() != params.p()
                    })
                    .unwrap_or(true);
            Ok(Verdict { ok, needs_rehash })
        })
        .await?
    }
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
        let h = Hasher::new(&cheap(), 2).unwrap();
        let phc = h.hash(Secret("correct horse".into())).await.unwrap();
        assert!(phc.starts_with("$scrypt$ln=8,r=8,p=1$"));
        let v = h
            .verify(Secret("correct horse".into()), Some(phc.clone()))
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
            .verify(Secret("wrong".into()), Some(phc.clone()))
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
        )
        .unwrap();
        let v = stronger
            .verify(Secret("correct horse".into()), Some(phc))
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
        let v = h.verify(Secret(String::new()), None).await.unwrap();
        assert!(!v.ok);
    }
}
