//! Password hashes made elsewhere, kept by `latchkey user import`: bcrypt, Argon2, scrypt,
//! PBKDF2-SHA256 and Firebase's modified scrypt. Each is parsed strictly and its costs
//! are checked against `password.import_limits` before any work is done, at import and at
//! every verification (an imported hash asking for gigabytes is refused, not computed).
//! Verified with RustCrypto's crates (and `bcrypt`); the first successful sign-in re-hashes
//! the password with latchkey's own scrypt (`Verdict::needs_rehash`).
//!
//! The forms accepted:
//!
//! - bcrypt: `$2a$`, `$2b$`, `$2y$` + two-digit cost (the crypt form);
//! - Argon2: `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (also `argon2i`, `argon2d`);
//! - scrypt: `$scrypt$ln=..,r=..,p=..$salt$hash` (latchkey's own form);
//! - PBKDF2-SHA256: `$pbkdf2-sha256$i=..,l=..$salt$hash` (PHC, standard base64) and
//!   passlib's `$pbkdf2-sha256$<rounds>$<salt>$<hash>` (its `.`-for-`+` base64);
//! - Firebase: `$firebase-scrypt$hash=..$salt=..$sk=..$ss=..$r=..$m=..` (the hash, the
//!   user's salt, the project's signer key and salt separator in standard base64, rounds
//!   and mem_cost; the form WorkOS's importer also reads).

use base64::Engine as _;
use scrypt::password_hash::{PasswordHash, PasswordVerifier};
use subtle::ConstantTimeEq as _;

use crate::config::ImportLimits;

/// Why a stored hash is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a form this version knows.
    Unknown(String),
    /// A known form, written wrong.
    Malformed(&'static str),
    /// It asks for more than `password.import_limits` allow.
    TooCostly(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unknown(what) => write!(
                f,
                "{what} is not a hash form latchkey reads (bcrypt, argon2, scrypt, pbkdf2-sha256, firebase-scrypt)"
            ),
            Refusal::Malformed(what) => write!(f, "malformed hash: {what}"),
            Refusal::TooCostly(what) => {
                write!(f, "{what}, more than password.import_limits allow")
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The hash algorithms latchkey verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// scrypt (latchkey's own).
    Scrypt,
    /// Argon2 (id, i or d).
    Argon2,
    /// bcrypt.
    Bcrypt,
    /// PBKDF2 with HMAC-SHA-256.
    Pbkdf2Sha256,
    /// Firebase's modified scrypt.
    FirebaseScrypt,
}

/// A stored hash, parsed and within limits: ready to verify.
enum Parsed<'a> {
    Phc(Scheme, PasswordHash<'a>),
    Bcrypt(&'a str),
    Pbkdf2 {
        rounds: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Firebase(Box<Firebase>),
}

/// Firebase's parameters for one user.
struct Firebase {
    hash: Vec<u8>,
    salt: Vec<u8>,
    signer_key: Vec<u8>,
    salt_separator: Vec<u8>,
    rounds: u32,
    mem_cost: u8,
}

/// KiB an scrypt computation holds: 128·r·N bytes (plus 128·r·p, small).
fn scrypt_kib(log_n: u8, r: u32) -> u64 {
    let n = 1u64.checked_shl(u32::from(log_n)).unwrap_or(u64::MAX);
    n.saturating_mul(u64::from(r)).saturating_mul(128) / 1024
}

fn check_scrypt(log_n: u8, r: u32, p: u32, limits: &ImportLimits) -> Result<(), Refusal> {
    if log_n == 0 || log_n >= 64 || r == 0 || p == 0 {
        return Err(Refusal::Malformed("scrypt parameters out of range"));
    }
    let kib = scrypt_kib(log_n, r);
    if kib > limits.memory_kib {
        return Err(Refusal::TooCostly(format!(
            "scrypt with N = 2^{log_n}, r = {r} needs {} MiB",
            kib / 1024
        )));
    }
    if p > limits.parallelism {
        return Err(Refusal::TooCostly(format!("scrypt with p = {p}")));
    }
    Ok(())
}

fn b64_std(s: &str) -> Result<Vec<u8>, Refusal> {
    let s = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .map_err(|_| Refusal::Malformed("bad base64"))
}

/// passlib's base64: `.` for `+`, no padding.
fn b64_passlib(s: &str) -> Result<Vec<u8>, Refusal> {
    b64_std(&s.replace('.', "+"))
}

fn parse<'a>(hash: &'a str, limits: &ImportLimits) -> Result<Parsed<'a>, Refusal> {
    let scheme = hash
        .strip_prefix('$')
        .and_then(|h| h.split('$').next())
        .ok_or_else(|| Refusal::Unknown("a value without a leading `$`".into()))?;
    match scheme {
        "2a" | "2b" | "2y" => parse_bcrypt(hash, limits),
        "argon2id" | "argon2i" | "argon2d" => {
            let phc = PasswordHash::new(hash).map_err(|_| Refusal::Malformed("argon2"))?;
            let params = argon2::Params::try_from(&phc)
                .map_err(|_| Refusal::Malformed("argon2 parameters"))?;
            if u64::from(params.m_cost()) > limits.memory_kib {
                return Err(Refusal::TooCostly(format!(
                    "argon2 with m = {} KiB",
                    params.m_cost()
                )));
            }
            if params.t_cost() > limits.argon2_passes {
                return Err(Refusal::TooCostly(format!(
                    "argon2 with t = {}",
                    params.t_cost()
                )));
            }
            if params.p_cost() > limits.parallelism {
                return Err(Refusal::TooCostly(format!(
                    "argon2 with p = {}",
                    params.p_cost()
                )));
            }
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(Refusal::Malformed("argon2 without salt or hash"));
            }
            Ok(Parsed::Phc(Scheme::Argon2, phc))
        }
        "scrypt" => {
            let phc = PasswordHash::new(hash).map_err(|_| Refusal::Malformed("scrypt"))?;
            let p = scrypt::Params::try_from(&phc)
                .map_err(|_| Refusal::Malformed("scrypt parameters"))?;
            check_scrypt(p.log_n(), p.r(), p.p(), limits)?;
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(Refusal::Malformed("scrypt without salt or hash"));
            }
            Ok(Parsed::Phc(Scheme::Scrypt, phc))
        }
        "pbkdf2-sha256" => parse_pbkdf2(hash, limits),
        "firebase-scrypt" => parse_firebase(hash, limits),
        "2x" => Err(Refusal::Unknown(
            "`$2x$` (the broken bcrypt of crypt_blowfish before 1.1)".into(),
        )),
        other => Err(Refusal::Unknown(format!("`${other}$`"))),
    }
}

fn parse_bcrypt<'a>(hash: &'a str, limits: &ImportLimits) -> Result<Parsed<'a>, Refusal> {
    // $2b$12$ + 22 characters of salt + 31 of hash.
    let cost: u32 = hash
        .get(4..6)
        .and_then(|c| c.parse().ok())
        .ok_or(Refusal::Malformed("bcrypt cost"))?;
    if hash.len() != 60 || hash.as_bytes().get(6) != Some(&b'$') {
        return Err(Refusal::Malformed("bcrypt is 60 characters"));
    }
    if !(4..=31).contains(&cost) {
        return Err(Refusal::Malformed("bcrypt cost out of range"));
    }
    if cost > limits.bcrypt_cost {
        return Err(Refusal::TooCostly(format!("bcrypt with cost {cost}")));
    }
    Ok(Parsed::Bcrypt(hash))
}

fn parse_pbkdf2<'a>(hash: &'a str, limits: &ImportLimits) -> Result<Parsed<'a>, Refusal> {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, params, salt, digest] = parts.as_slice() else {
        return Err(Refusal::Malformed("pbkdf2-sha256 has four `$` fields"));
    };
    let (rounds, salt, digest) = if let Ok(rounds) = params.parse::<u32>() {
        (rounds, b64_passlib(salt)?, b64_passlib(digest)?)
    } else {
        let mut rounds = None;
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("i", v)) => rounds = v.parse::<u32>().ok(),
                Some(("l", _)) => {}
                _ => return Err(Refusal::Malformed("pbkdf2-sha256 parameters")),
            }
        }
        let rounds = rounds.ok_or(Refusal::Malformed("pbkdf2-sha256 without i="))?;
        (rounds, b64_std(salt)?, b64_std(digest)?)
    };
    if rounds == 0 || salt.is_empty() || !(16..=64).contains(&digest.len()) {
        return Err(Refusal::Malformed("pbkdf2-sha256 rounds, salt or length"));
    }
    if rounds > limits.pbkdf2_rounds {
        return Err(Refusal::TooCostly(format!(
            "pbkdf2-sha256 with {rounds} rounds"
        )));
    }
    Ok(Parsed::Pbkdf2 {
        rounds,
        salt,
        hash: digest,
    })
}

fn parse_firebase<'a>(hash: &'a str, limits: &ImportLimits) -> Result<Parsed<'a>, Refusal> {
    let mut fields = std::collections::HashMap::new();
    for part in hash.split('$').skip(2) {
        let (k, v) = part
            .split_once('=')
            .ok_or(Refusal::Malformed("firebase-scrypt fields are key=value"))?;
        if fields.insert(k, v).is_some() {
            return Err(Refusal::Malformed("firebase-scrypt field given twice"));
        }
    }
    let field = |k: &str| {
        fields.get(k).copied().ok_or(Refusal::Malformed(
            "firebase-scrypt needs hash, salt, sk, ss, r, m",
        ))
    };
    let rounds: u32 = field("r")?
        .parse()
        .map_err(|_| Refusal::Malformed("firebase-scrypt r"))?;
    let mem_cost: u8 = field("m")?
        .parse()
        .map_err(|_| Refusal::Malformed("firebase-scrypt m"))?;
    check_scrypt(mem_cost, rounds, 1, limits)?;
    let fb = Firebase {
        hash: b64_std(field("hash")?)?,
        salt: b64_std(field("salt")?)?,
        signer_key: b64_std(field("sk")?)?,
        salt_separator: b64_std(field("ss")?)?,
        rounds,
        mem_cost,
    };
    if fb.signer_key.is_empty() || fb.hash.len() != fb.signer_key.len() || fb.hash.len() > 1024 {
        return Err(Refusal::Malformed(
            "firebase-scrypt hash and signer key differ in length",
        ));
    }
    Ok(Parsed::Firebase(Box::new(fb)))
}

/// The scheme of `hash` if it is a well-formed hash within `limits`.
pub fn check(hash: &str, limits: &ImportLimits) -> Result<Scheme, Refusal> {
    Ok(match parse(hash, limits)? {
        Parsed::Phc(s, _) => s,
        Parsed::Bcrypt(_) => Scheme::Bcrypt,
        Parsed::Pbkdf2 { .. } => Scheme::Pbkdf2Sha256,
        Parsed::Firebase(_) => Scheme::FirebaseScrypt,
    })
}

/// Whether `password` matches `hash` (checked against `limits` first).
pub fn verify(password: &[u8], hash: &str, limits: &ImportLimits) -> Result<bool, Refusal> {
    Ok(match parse(hash, limits)? {
        Parsed::Phc(Scheme::Argon2, phc) => argon2::Argon2::default()
            .verify_password(password, &phc)
            .is_ok(),
        Parsed::Phc(_, phc) => scrypt::Scrypt.verify_password(password, &phc).is_ok(),
        Parsed::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
        Parsed::Pbkdf2 { rounds, salt, hash } => {
            let mut out = vec![0u8; hash.len()];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut out);
            bool::from(out.ct_eq(&hash))
        }
        Parsed::Firebase(fb) => bool::from(firebase_hash(password, &fb)?.ct_eq(&fb.hash)),
    })
}

/// Firebase's scrypt: the key scrypt derives from the password and salt‖separator
/// encrypts the project's signer key with AES-256-CTR (zero IV); that is the hash.
fn firebase_hash(password: &[u8], fb: &Firebase) -> Result<Vec<u8>, Refusal> {
    use aes::cipher::{KeyIvInit as _, StreamCipher as _};
    let params = scrypt::Params::new(fb.mem_cost, fb.rounds, 1, 32)
        .map_err(|_| Refusal::Malformed("firebase-scrypt parameters"))?;
    let mut salt = fb.salt.clone();
    salt.extend_from_slice(&fb.salt_separator);
    let mut key = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut key)
        .map_err(|_| Refusal::Malformed("firebase-scrypt"))?;
    let mut out = fb.signer_key.clone();
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &[0u8; 16].into());
    cipher.apply_keystream(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of `firebase/scrypt`'s README (and every port of it).
    const SIGNER_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    const VECTOR: &str =
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";

    fn firebase(hash: &str, m: u8) -> String {
        format!(
            "$firebase-scrypt$hash={hash}$salt=42xEC+ixf3L2lw==$sk={SIGNER_KEY}$ss=Bw==$r=8$m={m}"
        )
    }

    #[test]
    fn the_published_firebase_vector_verifies() {
        let limits = ImportLimits::default();
        let h = firebase(VECTOR, 14);
        assert_eq!(check(&h, &limits), Ok(Scheme::FirebaseScrypt));
        assert_eq!(verify(b"user1password", &h, &limits), Ok(true));
        assert_eq!(verify(b"user1passwore", &h, &limits), Ok(false));
    }

    #[test]
    fn costs_beyond_the_limits_are_refused_before_any_work() {
        let limits = ImportLimits::default();
        // Firebase mem_cost 31: 2^31 blocks of 1 KiB.
        let e = verify(b"x", &firebase(VECTOR, 31), &limits).unwrap_err();
        assert!(matches!(e, Refusal::TooCostly(_)), "{e}");
        // Argon2 asking for 4 GiB.
        let big = "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(matches!(check(big, &limits), Err(Refusal::TooCostly(_))));
        let slow = "$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(matches!(check(slow, &limits), Err(Refusal::TooCostly(_))));
        let scrypt =
            "$scrypt$ln=24,r=8,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(matches!(check(scrypt, &limits), Err(Refusal::TooCostly(_))));
        let pbkdf2 =
            "$pbkdf2-sha256$i=900000000,l=32$c2FsdA$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(matches!(check(pbkdf2, &limits), Err(Refusal::TooCostly(_))));
        let bcrypt = "$2b$31$abcdefghijklmnopqrstuu5Oq3DLZTi4yRZFPSlBqLgH5DUGr1jUe";
        assert!(matches!(check(bcrypt, &limits), Err(Refusal::TooCostly(_))));
    }

    #[test]
    fn each_form_verifies_what_its_own_crate_made() {
        use scrypt::password_hash::{PasswordHasher as _, SaltString};
        let limits = ImportLimits::default();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let argon = argon2::Argon2::default()
            .hash_password(b"pw one", &salt)
            .unwrap()
            .to_string();
        assert_eq!(verify(b"pw one", &argon, &limits), Ok(true));
        assert_eq!(verify(b"pw two", &argon, &limits), Ok(false));
        let bc = bcrypt::hash("pw one", 4).unwrap();
        assert_eq!(check(&bc, &limits), Ok(Scheme::Bcrypt));
        assert_eq!(verify(b"pw one", &bc, &limits), Ok(true));
        assert_eq!(verify(b"pw two", &bc, &limits), Ok(false));
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pw one", b"NaCl-salt", 1000, &mut out);
        let std = base64::engine::general_purpose::STANDARD_NO_PAD;
        let phc = format!(
            "$pbkdf2-sha256$i=1000,l=32${}${}",
            std.encode(b"NaCl-salt"),
            std.encode(out)
        );
        assert_eq!(verify(b"pw one", &phc, &limits), Ok(true));
        let passlib = format!(
            "$pbkdf2-sha256$1000${}${}",
            std.encode(b"NaCl-salt").replace('+', "."),
            std.encode(out).replace('+', ".")
        );
        assert_eq!(verify(b"pw one", &passlib, &limits), Ok(true));
        assert_eq!(verify(b"pw two", &passlib, &limits), Ok(false));
    }

    #[test]
    fn unknown_and_malformed_forms_are_refused() {
        let limits = ImportLimits::default();
        for h in [
            "plain",
            "$1$abc$def",
            "$2x$10$abc",
            "$argon2id$nope",
            "$2b$10$short",
            "$firebase-scrypt$hash=AA",
        ] {
            assert!(check(h, &limits).is_err(), "{h}");
        }
    }
}
