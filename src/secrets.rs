//! The server key: 256 random bits in a file beside the store (`<storage.path>.key`, or
//! `storage.key_file`), made on first start with mode 0600. It is deliberately NOT in the
//! store, so a copy of the store file alone does not give away what it protects:
//!
//! - session codes are stored as HMAC-SHA-256 under a key derived from it (a stolen store
//!   cannot be brute-forced offline for live codes);
//! - TOTP secrets are sealed with ChaCha20-Poly1305 under another derived key, bound to
//!   their user id.

use std::path::{Path, PathBuf};

use ring::aead;
use ring::hmac;

use crate::primitives::{b64url, b64url_decode, hex, hex_decode, random_bytes, NoRandomness};

/// Keys derived from the server key.
pub struct ServerKey {
    code_mac: hmac::Key,
    seal: aead::LessSafeKey,
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
}

impl std::fmt::Display for SecretsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SecretsError::Malformed(p) => write!(f, "{}: not 64 hex digits", p.display()),
            SecretsError::Randomness(e) => e.fmt(f),
            SecretsError::Sealed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SecretsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretsError::Io { source, .. } => Some(source),
            SecretsError::Randomness(e) => Some(e),
            SecretsError::Malformed(_) | SecretsError::Sealed(_) => None,
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

impl ServerKey {
    /// Loads the key file, or makes it (0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<ServerKey, SecretsError> {
        let master = match std::fs::read_to_string(path) {
            Ok(text) => hex_decode(text.trim())
                .filter(|k| k.len() == 32)
                .ok_or_else(|| SecretsError::Malformed(path.to_path_buf()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random_bytes::<32>()?;
                write_private(path, &hex(&key))?;
                tracing::info!(path = %path.display(), "created the server key file; back it up with the store");
                key.to_vec()
            }
            Err(e) => return Err(io(path)(e)),
        };
        Ok(ServerKey::from_master(&master))
    }

    /// Derives the purpose keys from 32 master bytes.
    pub fn from_master(master: &[u8]) -> ServerKey {
        let root = hmac::Key::new(hmac::HMAC_SHA256, master);
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let code_mac = hmac::Key::new(
            hmac::HMAC_SHA256,
            derive(b"latchkey session-code mac v1").as_ref(),
        );
        let seal_bytes = derive(b"latchkey totp seal v1");
        // A 32-byte key is always accepted by ChaCha20-Poly1305.
        let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, seal_bytes.as_ref())
            .unwrap_or_else(|_| unreachable_key());
        ServerKey {
            code_mac,
            seal: aead::LessSafeKey::new(unbound),
        }
    }

    /// The keyed hash under which a session code is stored.
    pub fn code_hash(&self, normalized_code: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.code_mac, normalized_code.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Seals `plain` bound to `context` (the user id): base64url(nonce || ciphertext).
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
        Ok(b64url(&out))
    }

    /// Opens what [`ServerKey::seal`] sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretsError> {
        let raw =
            b64url_decode(sealed).ok_or(SecretsError::Sealed("sealed value is not base64url"))?;
        let (nonce, ct) = raw
            .split_at_checked(12)
            .ok_or(SecretsError::Sealed("sealed value too short"))?;
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SecretsError::Sealed("bad nonce"))?;
        let mut buf = ct.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| {
                SecretsError::Sealed(
                    "sealed value does not open with this server key (wrong key file?)",
                )
            })?;
        Ok(plain.to_vec())
    }
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
        let a = ServerKey::load_or_create(&p).unwrap();
        let b = ServerKey::load_or_create(&p).unwrap();
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
        assert!(ServerKey::load_or_create(&p).is_err());
    }
}
