//! The server key: 256 random bits in a file beside the store (`<storage.path>.key`, or
//! `storage.key_file`), made on first start with mode 0600. It is deliberately NOT in the
//! store, so a copy of the store file alone does not give away what it protects:
//!
//! - session codes are stored as HMAC-SHA-256 under a key derived from it (a stolen store
//!   cannot be brute-forced offline for live codes);
//! - TOTP secrets are sealed with ChaCha20-Poly1305 under another derived key, bound to
//!   their user id.

use std::path::{Path, PathBuf};

use ring::{aead, hkdf, hmac};
use zeroize::Zeroize as _;

use crate::primitives::{b64url, b64url_decode, hex, hex_decode, random_bytes, NoRandomness};

/// Keys derived from the server key. The master bytes are not kept.
pub struct ServerKey {
    code_mac: hmac::Key,
    form_mac: hmac::Key,
    successor_mac: hmac::Key,
    seal: aead::LessSafeKey,
    legacy_code_mac: hmac::Key,
    legacy_seal: aead::LessSafeKey,
    check: [u8; 32],
    id: String,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// What can go wrong with the server key and what it protects.
#[derive(Debug)]
pub enum SecretsError {
    /// The key file could not be read or written.
    Io {
        /// The key file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The key file does not hold 64 hex digits.
    Malformed(PathBuf),
    /// The system's random number generator failed.
    Randomness(NoRandomness),
    /// A sealed value is not one this server made.
    Sealed(&'static str),
    /// The key file can be read by other users than its owner.
    Readable(PathBuf),
}

impl std::fmt::Display for SecretsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SecretsError::Malformed(p) => write!(f, "{}: not 64 hex digits", p.display()),
            SecretsError::Randomness(e) => e.fmt(f),
            SecretsError::Sealed(why) => f.write_str(why),
            SecretsError::Readable(p) => write!(
                f,
                "the server key file {} can be read by other users: make it private \
                 (chmod 600 {0}) and start again",
                p.display()
            ),
        }
    }
}

impl std::error::Error for SecretsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretsError::Io { source, .. } => Some(source),
            SecretsError::Randomness(e) => Some(e),
            SecretsError::Malformed(_) | SecretsError::Sealed(_) | SecretsError::Readable(_) => {
                None
            }
        }
    }
}

impl From<NoRandomness> for SecretsError {
    fn from(e: NoRandomness) -> Self {
        SecretsError::Randomness(e)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A length for HKDF output that is not a key of ring's own types.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand of `prk` for `info`, as 32 raw bytes.
fn expand32(prk: &hkdf::Prk, info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit (255 * 32): this cannot fail.
    if let Ok(okm) = prk.expand(&[info], Len(32)) {
        let _ = okm.fill(&mut out);
    }
    out
}

impl ServerKey {
    /// Loads the key file; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<ServerKey>, SecretsError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(SecretsError::Readable(path.to_path_buf()));
                }
            }
        }
        let mut text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path)(e)),
        };
        let master = hex_decode(text.trim()).filter(|k| k.len() == 32);
        text.zeroize();
        let mut master = master.ok_or_else(|| SecretsError::Malformed(path.to_path_buf()))?;
        let key = ServerKey::from_master(&master);
        master.zeroize();
        Ok(Some(key))
    }

    /// Makes a new key file (mode 0600; refused when one exists).
    pub fn create(path: &Path) -> Result<ServerKey, SecretsError> {
        let mut master = random_bytes::<32>()?;
        let mut text = hex(&master);
        let written = write_private(path, &text);
        text.zeroize();
        written?;
        tracing::info!(path = %path.display(), "created the server key file; back it up with the store");
        let key = ServerKey::from_master(&master);
        master.zeroize();
        Ok(key)
    }

    /// Derives the purpose keys from 32 master bytes: HKDF-SHA-256 (RFC 5869) with a
    /// label per purpose. Keys of the first release (derived with a bare HMAC) are kept to
    /// open what they sealed.
    pub fn from_master(master: &[u8]) -> ServerKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"latchkey server key").extract(master);
        let mac_bytes = expand32(&prk, b"code mac v2");
        let mut seal_bytes = expand32(&prk, b"seal v2");
        let check = expand32(&prk, b"key check v2");
        let form_bytes = expand32(&prk, b"form token v1");
        let code_mac = hmac::Key::new(hmac::HMAC_SHA256, &mac_bytes);
        let form_mac = hmac::Key::new(hmac::HMAC_SHA256, &form_bytes);
        let successor_mac =
            hmac::Key::new(hmac::HMAC_SHA256, &expand32(&prk, b"refresh successor v1"));
        let seal = seal_key(&seal_bytes);
        seal_bytes.zeroize();
        // The first release's derivation.
        let root = hmac::Key::new(hmac::HMAC_SHA256, master);
        let legacy_mac = hmac::sign(&root, b"latchkey session-code mac v1");
        let legacy_seal = hmac::sign(&root, b"latchkey totp seal v1");
        ServerKey {
            code_mac,
            form_mac,
            successor_mac,
            seal,
            legacy_code_mac: hmac::Key::new(hmac::HMAC_SHA256, legacy_mac.as_ref()),
            legacy_seal: seal_key(legacy_seal.as_ref()),
            id: hex(check.get(..4).unwrap_or_default()),
            check,
        }
    }

    /// What this key says of itself, kept in the store to recognise the key that sealed
    /// its data (never the key, nor anything it could be found from).
    pub fn check(&self) -> [u8; 32] {
        self.check
    }

    /// A short id of this key (the first bytes of [`ServerKey::check`]), written on the
    /// values it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The keyed hash under which a code is stored.
    pub fn code_hash(&self, normalized_code: &str) -> [u8; 32] {
        mac32(&self.code_mac, normalized_code.as_bytes())
    }

    /// The token a page's forms carry against cross-site requests, bound to `binding`
    /// (the browser's pre-login cookie, or its session).
    pub fn form_token(&self, binding: &[u8]) -> [u8; 32] {
        mac32(&self.form_mac, binding)
    }

    /// The secret of the refresh token that replaces `presented` when it is rotated: a
    /// MAC of the token under a key of its own, so the same rotation answered again (a
    /// retry, a racing tab, an answer lost in an outage) hands out the same token, and
    /// nobody without the server key and the presented token can know it. The store keeps
    /// neither.
    pub fn refresh_successor(&self, presented: &str) -> [u8; 32] {
        mac32(&self.successor_mac, presented.as_bytes())
    }

    /// The keyed hash the first release stored a code under (recovery codes made then
    /// still verify).
    pub fn legacy_code_hash(&self, normalized_code: &str) -> [u8; 32] {
        mac32(&self.legacy_code_mac, normalized_code.as_bytes())
    }

    /// Seals `plain` bound to `context` (the user id): `v2.<key id>.` and base64url of
    /// nonce and ciphertext.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, SecretsError> {
        let nonce_bytes = random_bytes::<12>()?;
        let mut buf = plain.to_vec();
        self.seal
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce_bytes),
                aead::Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretsError::Sealed("sealing failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        buf.zeroize();
        Ok(format!("v2.{}.{}", self.id, b64url(&out)))
    }

    /// Opens what [`ServerKey::seal`] (or the first release) sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretsError> {
        let (key, body) = match sealed.strip_prefix("v2.") {
            Some(rest) => {
                let (id, body) = rest
                    .split_once('.')
                    .ok_or(SecretsError::Sealed("sealed value without a key id"))?;
                if id != self.id {
                    return Err(SecretsError::Sealed(
                        "sealed with another server key (wrong key file?)",
                    ));
                }
                (&self.seal, body)
            }
            None => (&self.legacy_seal, sealed),
        };
        let raw =
            b64url_decode(body).ok_or(SecretsError::Sealed("sealed value is not base64url"))?;
        let (nonce, ct) = raw
            .split_at_checked(12)
            .ok_or(SecretsError::Sealed("sealed value too short"))?;
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SecretsError::Sealed("bad nonce"))?;
        let mut buf = ct.to_vec();
        let plain = key
            .open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| {
                SecretsError::Sealed(
                    "sealed value does not open with this server key (wrong key file?)",
                )
            })?;
        Ok(plain.to_vec())
    }
}

fn mac32(key: &hmac::Key, data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn seal_key(bytes: &[u8]) -> aead::LessSafeKey {
    // A 32-byte key is always accepted by ChaCha20-Poly1305.
    let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, bytes)
        .unwrap_or_else(|_| unreachable_key());
    aead::LessSafeKey::new(unbound)
}

fn unreachable_key() -> aead::UnboundKey {
    // CHACHA20_POLY1305 takes exactly 32 bytes and HMAC-SHA-256 gives exactly 32.
    #[allow(clippy::panic)]
    {
        panic!("32-byte ChaCha20-Poly1305 key refused")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), SecretsError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), SecretsError> {
    std::fs::write(path, format!("{text}\n")).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let k = ServerKey::from_master(&[7u8; 32]);
        let s = k.seal(b"secret", "user-a").unwrap();
        assert_eq!(k.open(&s, "user-a").unwrap(), b"secret");
        assert!(k.open(&s, "user-b").is_err(), "bound to its user");
        assert!(
            ServerKey::from_master(&[8u8; 32])
                .open(&s, "user-a")
                .is_err(),
            "other key"
        );
        assert_ne!(k.seal(b"secret", "user-a").unwrap(), s, "fresh nonce");
        assert!(s.starts_with(&format!("v2.{}.", k.id())), "{s}");
        // What the first release sealed (no version) still opens.
        let root = hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]);
        let v1 = seal_key(hmac::sign(&root, b"latchkey totp seal v1").as_ref());
        let mut buf = b"old secret".to_vec();
        v1.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key([1u8; 12]),
            aead::Aad::from(b"user-a"),
            &mut buf,
        )
        .unwrap();
        let mut blob = vec![1u8; 12];
        blob.extend_from_slice(&buf);
        assert_eq!(k.open(&b64url(&blob), "user-a").unwrap(), b"old secret");
        // A value sealed under another key says so.
        let other = ServerKey::from_master(&[8u8; 32]);
        let e = other.open(&s, "user-a").unwrap_err().to_string();
        assert!(e.contains("another server key"), "{e}");
        assert_eq!(k.code_hash("ABC"), k.code_hash("ABC"));
        assert_ne!(
            k.code_hash("ABC"),
            ServerKey::from_master(&[8u8; 32]).code_hash("ABC")
        );
    }

    #[test]
    fn key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.redb.key");
        assert!(ServerKey::load(&p).unwrap().is_none());
        let a = ServerKey::create(&p).unwrap();
        assert!(ServerKey::create(&p).is_err(), "never overwritten");
        let b = ServerKey::load(&p).unwrap().unwrap();
        assert_eq!(a.check(), b.check());
        assert_eq!(a.code_hash("x"), b.code_hash("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&p, "zz").unwrap();
        assert!(ServerKey::load(&p).is_err());
    }
}
