//! The key ring: which keys exist in the store, which one signs, rotation, and building
//! the configured [`Signer`] from them.

use std::sync::{Arc, RwLock};

use storage::{SigningKeyRecord, Store, StoreError};

use super::jwt::{EdDsa, Es256, Hs256, JwsKey, Jwt};
use super::paseto::{V4Local, V4Public};
use super::Signer;
use crate::config::TokenAlg;

/// Makes a new key of `alg`: `(kid, secret)`.
pub fn generate(alg: TokenAlg) -> Result<(String, Vec<u8>), String> {
    match alg {
        TokenAlg::JwtEdDsa => EdDsa::generate(),
        TokenAlg::JwtEs256 => Es256::generate(),
        TokenAlg::JwtHs256 => Hs256::generate(),
        TokenAlg::PasetoV4Public => V4Public::generate(),
        TokenAlg::PasetoV4Local => V4Local::generate(),
    }
}

/// Builds the signer for `alg` from the stored keys.
pub fn build(
    alg: TokenAlg,
    records: &[SigningKeyRecord],
    access_ttl: i64,
) -> Result<Arc<dyn Signer>, String> {
    Ok(match alg {
        TokenAlg::JwtEdDsa => Arc::new(Jwt::<EdDsa>::from_records(records, access_ttl)?),
        TokenAlg::JwtEs256 => Arc::new(Jwt::<Es256>::from_records(records, access_ttl)?),
        TokenAlg::JwtHs256 => Arc::new(Jwt::<Hs256>::from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Public => Arc::new(V4Public::from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Local => Arc::new(V4Local::from_records(records, access_ttl)?),
    })
}

/// Key-ring errors.
#[derive(Debug)]
pub enum KeyError {
    /// The store failed.
    Store(StoreError),
    /// A key could not be made or loaded.
    Key(String),
}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> Self {
        KeyError::Store(e)
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Store(e) => e.fmt(f),
            KeyError::Key(e) => write!(f, "signing key: {e}"),
        }
    }
}

/// Retires every signing key (of any algorithm) and adds a new one of `alg`, in one
/// transaction; also drops keys that can no longer verify anything. With
/// `only_if_missing`, does nothing when a key of `alg` already signs.
pub fn rotate(
    store: &Store,
    alg: TokenAlg,
    now_ms: i64,
    access_ttl: i64,
    only_if_missing: bool,
) -> Result<Option<String>, KeyError> {
    store.write(|w| {
        let keys = w.keys()?;
        let active_same = keys
            .iter()
            .any(|k| k.alg == alg.id() && k.retired_at.is_none());
        if only_if_missing && active_same {
            return Ok(None);
        }
        for mut k in keys {
            match k.retired_at {
                None => {
                    k.retired_at = Some(now_ms);
                    w.put_key(&k)?;
                }
                // Retired long enough that every token it signed has expired (one minute of
                // margin for clock skew): nothing can need it any more.
                Some(t) if t + (access_ttl + 60) * 1000 < now_ms => w.delete_key(&k.kid)?,
                Some(_) => {}
            }
        }
        let (kid, secret) = generate(alg).map_err(KeyError::Key)?;
        w.put_key(&SigningKeyRecord {
            kid: kid.clone(),
            alg: alg.id().into(),
            secret,
            created_at: now_ms,
            retired_at: None,
        })?;
        Ok(Some(kid))
    })
}

/// The live signer, rebuilt from the store after a rotation.
#[derive(Debug)]
pub struct KeyRing {
    alg: TokenAlg,
    access_ttl: i64,
    current: RwLock<Arc<dyn Signer>>,
}

impl KeyRing {
    /// Makes sure a key of `alg` signs (generating one on first start) and loads the ring.
    pub fn open(
        store: &Store,
        alg: TokenAlg,
        now_ms: i64,
        access_ttl: i64,
    ) -> Result<KeyRing, KeyError> {
        rotate(store, alg, now_ms, access_ttl, true)?;
        let records = store.read(|r| r.keys())?;
        let signer = build(alg, &records, access_ttl).map_err(KeyError::Key)?;
        Ok(KeyRing {
            alg,
            access_ttl,
            current: RwLock::new(signer),
        })
    }

    /// The current signer.
    pub fn signer(&self) -> Arc<dyn Signer> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rotates: a new key signs from now on; the old ones verify until their tokens expire.
    pub fn rotate(&self, store: &Store, now_ms: i64) -> Result<String, KeyError> {
        let kid = rotate(store, self.alg, now_ms, self.access_ttl, false)?.unwrap_or_default();
        self.reload(store)?;
        Ok(kid)
    }

    /// Reloads the keys from the store.
    pub fn reload(&self, store: &Store) -> Result<(), KeyError> {
        let records = store.read(|r| r.keys())?;
        let signer = build(self.alg, &records, self.access_ttl).map_err(KeyError::Key)?;
        match self.current.write() {
            Ok(mut g) => *g = signer,
            Err(poisoned) => *poisoned.into_inner() = signer,
        }
        Ok(())
    }
}
