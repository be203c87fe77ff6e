//! The key ring: which keys exist in the store, which one signs, rotation, and building
//! the configured [`Signer`] from them. [`KeyRing::verify`] is the one way the service
//! verifies an access token: signature, then every rule, with a cache of verified tokens
//! that forgets everything whenever the keys change.

use crate::clock::UnixMillis;
use std::sync::{Arc, RwLock};

use storage::{SigningKeyRecord, Store};

use super::cache::TokenCache;
use super::idtoken::{self, IdAlg, IdSigner};
use super::jwt::{EdDsa, Es256, Hs256, JwsKey, Jwt};
use super::paseto::{V4Local, V4Public};
use super::{Claims, KeyError, Rules, Signer, TokenAlg, VerifyError};

/// `n` seconds as a span (none when negative).
fn secs(n: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(n).unwrap_or(0))
}

/// Makes a new key of `alg`: `(kid, secret)`.
pub fn generate(alg: TokenAlg) -> Result<(String, Vec<u8>), KeyError> {
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
) -> Result<Arc<dyn Signer>, KeyError> {
    Ok(match alg {
        TokenAlg::JwtEdDsa => Arc::new(Jwt::<EdDsa>::from_records(records, access_ttl)?),
        TokenAlg::JwtEs256 => Arc::new(Jwt::<Es256>::from_records(records, access_ttl)?),
        TokenAlg::JwtHs256 => Arc::new(Jwt::<Hs256>::from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Public => Arc::new(V4Public::from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Local => Arc::new(V4Local::from_records(records, access_ttl)?),
    })
}

/// A verifier for the keys of `alg` in `records` that sign no more (after
/// `tokens.algorithm` changed), or `None` when there is none.
pub fn build_verifier(
    alg: TokenAlg,
    records: &[SigningKeyRecord],
    access_ttl: i64,
) -> Result<Option<Arc<dyn Signer>>, KeyError> {
    if !records.iter().any(|r| r.alg == alg.id()) {
        return Ok(None);
    }
    Ok(Some(match alg {
        TokenAlg::JwtEdDsa => Arc::new(Jwt::<EdDsa>::verifier_from_records(records, access_ttl)?),
        TokenAlg::JwtEs256 => Arc::new(Jwt::<Es256>::verifier_from_records(records, access_ttl)?),
        TokenAlg::JwtHs256 => Arc::new(Jwt::<Hs256>::verifier_from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Public => Arc::new(V4Public::verifier_from_records(records, access_ttl)?),
        TokenAlg::PasetoV4Local => Arc::new(V4Local::verifier_from_records(records, access_ttl)?),
    }))
}

/// A new key record: of the access-token algorithm `alg`, or of an id-token algorithm.
fn new_record(
    alg: Result<TokenAlg, IdAlg>,
    now_ms: UnixMillis,
) -> Result<SigningKeyRecord, KeyError> {
    let ((kid, secret), name) = match alg {
        Ok(a) => (generate(a)?, a.id()),
        Err(a) => (idtoken::generate(a)?, a.id()),
    };
    Ok(SigningKeyRecord {
        kid,
        alg: name.into(),
        secret,
        created_at: now_ms,
        retired_at: None,
    })
}

/// Every algorithm that must have a key that signs: `alg`'s, and each of `id_algs`.
fn wanted(alg: TokenAlg, id_algs: &[IdAlg]) -> Vec<Result<TokenAlg, IdAlg>> {
    let mut all = vec![Ok(alg)];
    all.extend(id_algs.iter().map(|a| Err(*a)));
    all
}

fn stored_name(a: Result<TokenAlg, IdAlg>) -> &'static str {
    match a {
        Ok(t) => t.id(),
        Err(i) => i.id(),
    }
}

/// Removes the key `kid` at once: no token it signed verifies any more. When it was the
/// key that signs for `alg` (or for one of `id_algs`), a new one is made in the same
/// transaction. Returns whether the key existed.
pub fn revoke(
    store: &Store,
    alg: TokenAlg,
    id_algs: &[IdAlg],
    kid: &str,
    now_ms: UnixMillis,
) -> Result<bool, KeyError> {
    store.write(|w| {
        let keys = w.keys()?;
        let Some(k) = keys.iter().find(|k| k.kid == kid) else {
            return Ok(false);
        };
        let replace = wanted(alg, id_algs)
            .into_iter()
            .find(|a| k.retired_at.is_none() && k.alg == stored_name(*a));
        w.delete_key(kid)?;
        if let Some(a) = replace {
            w.put_key(&new_record(a, now_ms)?)?;
        }
        Ok(true)
    })
}

/// Retires every signing key (of any algorithm) and adds a new one of `alg` and of each
/// of `id_algs`, in one transaction; also drops keys that can no longer verify anything.
/// With `only_if_missing`, only adds the keys of those algorithms that have none that
/// signs (a first start, or OpenID Connect switched on) and retires nothing. Returns the
/// new access-token key's id, if one was made.
pub fn rotate(
    store: &Store,
    alg: TokenAlg,
    id_algs: &[IdAlg],
    now_ms: UnixMillis,
    access_ttl: i64,
    only_if_missing: bool,
) -> Result<Option<String>, KeyError> {
    store.write(|w| {
        let keys = w.keys()?;
        let signs = |a: Result<TokenAlg, IdAlg>| {
            keys.iter()
                .any(|k| k.alg == stored_name(a) && k.retired_at.is_none())
        };
        if only_if_missing {
            let mut made = None;
            for a in wanted(alg, id_algs) {
                if !signs(a) {
                    let rec = new_record(a, now_ms)?;
                    if a.is_ok() {
                        made = Some(rec.kid.clone());
                    }
                    w.put_key(&rec)?;
                }
            }
            return Ok(made);
        }
        for mut k in keys {
            match k.retired_at {
                None => {
                    k.retired_at = Some(now_ms);
                    w.put_key(&k)?;
                }
                // Retired long enough that every token it signed has expired (one minute of
                // margin for clock skew): nothing can need it any more.
                Some(t) if t + secs(access_ttl + 60) < now_ms => w.delete_key(&k.kid)?,
                Some(_) => {}
            }
        }
        let mut made = None;
        for a in wanted(alg, id_algs) {
            let rec = new_record(a, now_ms)?;
            if a.is_ok() {
                made = Some(rec.kid.clone());
            }
            w.put_key(&rec)?;
        }
        Ok(made)
    })
}

/// The live signer, the verifiers of keys of other algorithms that still verify (after
/// `tokens.algorithm` changed), and the key generation (which moves on at every reload).
#[derive(Debug)]
struct Current {
    signer: Arc<dyn Signer>,
    former: Vec<Arc<dyn Signer>>,
    /// The id-token keys.
    id: Arc<IdSigner>,
    generation: u64,
    /// What the loaded keys were: id, algorithm, retirement.
    loaded: Vec<(String, String, Option<UnixMillis>)>,
}

fn fingerprint(records: &[SigningKeyRecord]) -> Vec<(String, String, Option<UnixMillis>)> {
    records
        .iter()
        .map(|k| (k.kid.clone(), k.alg.clone(), k.retired_at))
        .collect()
}

/// A signer, and the verifiers of the keys of other algorithms.
type Loaded = (Arc<dyn Signer>, Vec<Arc<dyn Signer>>);

/// The signer of `alg` and the verifiers of every other algorithm with keys in `records`.
fn load(alg: TokenAlg, records: &[SigningKeyRecord], access_ttl: i64) -> Result<Loaded, KeyError> {
    let signer = build(alg, records, access_ttl)?;
    let mut former = Vec::new();
    for other in TokenAlg::ALL.into_iter().filter(|a| *a != alg) {
        if let Some(v) = build_verifier(other, records, access_ttl)? {
            former.push(v);
        }
    }
    Ok((signer, former))
}

/// The live signer, rebuilt from the store after a rotation, and the cache of tokens it
/// verified.
#[derive(Debug)]
pub struct KeyRing {
    alg: TokenAlg,
    id_algs: Vec<IdAlg>,
    access_ttl: i64,
    issuer: String,
    current: RwLock<Current>,
    cache: TokenCache,
}

impl KeyRing {
    /// Makes sure a key of `alg`, and one of each of `id_algs`, signs (generating them
    /// on first start) and loads the ring. Tokens must carry `issuer`; up to `cache_size`
    /// verified tokens are remembered.
    pub fn open(
        store: &Store,
        alg: TokenAlg,
        id_algs: &[IdAlg],
        issuer: &str,
        now_ms: UnixMillis,
        access_ttl: i64,
        cache_size: usize,
    ) -> Result<KeyRing, KeyError> {
        rotate(store, alg, id_algs, now_ms, access_ttl, true)?;
        let records = store.read(|r| r.keys())?;
        let (signer, former) = load(alg, &records, access_ttl)?;
        let id = Arc::new(IdSigner::from_records(&records, access_ttl)?);
        Ok(KeyRing {
            alg,
            id_algs: id_algs.to_vec(),
            access_ttl,
            issuer: issuer.to_owned(),
            current: RwLock::new(Current {
                signer,
                former,
                id,
                generation: 0,
                loaded: fingerprint(&records),
            }),
            cache: TokenCache::new(cache_size),
        })
    }

    fn current(&self) -> (Arc<dyn Signer>, Vec<Arc<dyn Signer>>, u64) {
        let g = self.current.read().unwrap_or_else(|e| e.into_inner());
        (g.signer.clone(), g.former.clone(), g.generation)
    }

    /// The current signer.
    pub fn signer(&self) -> Arc<dyn Signer> {
        self.current().0
    }

    /// The public keys that verify live tokens, of every algorithm, id tokens' too.
    pub fn public_keys(&self, now: UnixMillis) -> super::PublicKeys {
        let now = now.secs();
        let (signer, former, _) = self.current();
        let mut all = signer.public_keys(now);
        for v in former {
            let more = v.public_keys(now);
            all.jwks.extend(more.jwks);
            all.paserks.extend(more.paserks);
        }
        all.jwks.extend(self.id().jwks(now));
        all
    }

    fn id(&self) -> Arc<IdSigner> {
        let g = self.current.read().unwrap_or_else(|e| e.into_inner());
        g.id.clone()
    }

    /// Signs an id token's `claims` with the key of `alg`.
    pub fn sign_id(&self, alg: IdAlg, claims: &serde_json::Value) -> Result<String, KeyError> {
        self.id().sign(alg, claims)
    }

    /// The claims of an id token this server signed (signature only, at `now`).
    pub fn verify_id(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> Result<serde_json::Value, VerifyError> {
        self.id().verify(token, now.secs())
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        self.signer().sign(claims)
    }

    /// Verifies an access token: signature with a live key, then every rule (issuer,
    /// `exp`, `nbf`, `iat`) at `now`. A token verified before under the same keys skips
    /// the signature check; its claims are checked again.
    pub fn verify(&self, token: &str, now: UnixMillis) -> Result<Claims, VerifyError> {
        self.verify_under(token, &Rules::new(&self.issuer, now))
    }

    /// As [`KeyRing::verify`], but an expired token passes: for RFC 7009 revocation only.
    pub fn verify_allowing_expired(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> Result<Claims, VerifyError> {
        self.verify_under(token, &Rules::allowing_expired(&self.issuer, now))
    }

    fn verify_under(&self, token: &str, rules: &Rules<'_>) -> Result<Claims, VerifyError> {
        if let Some(hit) = self.cache.get(token, rules.now()) {
            return hit.check(rules);
        }
        let (signer, former, generation) = self.current();
        let unchecked = match signer.verify_signature(token, rules.now()) {
            Ok(u) => u,
            // Perhaps a token of a key of the former algorithm, still live: the verifier
            // bound to that algorithm decides (each holds only its own keys).
            Err(e) => former
                .iter()
                .find_map(|v| v.verify_signature(token, rules.now()).ok())
                .ok_or(e)?,
        };
        self.cache.put(token, &unchecked, rules.now(), generation);
        unchecked.check(rules)
    }

    /// Verified tokens remembered now.
    pub fn cached(&self) -> usize {
        self.cache.entries()
    }

    /// Rotates: a new key signs from now on; the old ones verify until their tokens expire.
    pub fn rotate(&self, store: &Store, now_ms: UnixMillis) -> Result<String, KeyError> {
        let kid = rotate(
            store,
            self.alg,
            &self.id_algs,
            now_ms,
            self.access_ttl,
            false,
        )?
        .unwrap_or_default();
        self.reload(store)?;
        Ok(kid)
    }

    /// Revokes the key `kid` (see [`revoke`]) and reloads; returns whether it existed.
    pub fn revoke(&self, store: &Store, kid: &str, now_ms: UnixMillis) -> Result<bool, KeyError> {
        let existed = revoke(store, self.alg, &self.id_algs, kid, now_ms)?;
        self.reload(store)?;
        Ok(existed)
    }

    /// Reloads the keys from the store; the cache of verified tokens starts over.
    pub fn reload(&self, store: &Store) -> Result<(), KeyError> {
        let records = store.read(|r| r.keys())?;
        self.load_records(&records)
    }

    /// Reloads the keys when the store's differ from the loaded ones (another server
    /// rotated or revoked one); returns whether they did.
    pub fn reload_if_changed(&self, store: &Store) -> Result<bool, KeyError> {
        let records = store.read(|r| r.keys())?;
        let same = {
            let g = self.current.read().unwrap_or_else(|e| e.into_inner());
            g.loaded == fingerprint(&records)
        };
        if same {
            return Ok(false);
        }
        self.load_records(&records)?;
        Ok(true)
    }

    fn load_records(&self, records: &[SigningKeyRecord]) -> Result<(), KeyError> {
        let (signer, former) = load(self.alg, records, self.access_ttl)?;
        let id = Arc::new(IdSigner::from_records(records, self.access_ttl)?);
        let mut g = self.current.write().unwrap_or_else(|e| e.into_inner());
        g.signer = signer;
        g.former = former;
        g.id = id;
        g.loaded = fingerprint(records);
        g.generation += 1;
        // Under the write lock: no verification can start under the old keys meanwhile.
        self.cache.reset(g.generation);
        Ok(())
    }
}
