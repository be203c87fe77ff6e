//! TOTP (RFC 6238) with `totp-rs`: SHA-1, 6 digits, 30-second steps, one step of skew
//! either way. [`check`] returns the time step that matched, so the caller can refuse any
//! step at or before the last one accepted for the user (a code works once).

use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Secret, TotpUrlError, TOTP};

/// Step length, seconds.
pub const STEP: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

fn totp(
    secret: &[u8],
    digits: usize,
    issuer: Option<String>,
    account: String,
) -> Result<TOTP, TotpUrlError> {
    TOTP::new(
        Algorithm::SHA1,
        digits,
        1,
        STEP,
        secret.to_vec(),
        issuer,
        account,
    )
}

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, crate::primitives::NoRandomness> {
    Ok(crate::primitives::random_bytes::<SECRET_LEN>()?.to_vec())
}

/// The secret in base32 (what authenticator apps take by hand).
pub fn base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// `otpauth://totp/<issuer>:<account>?secret=...&issuer=<issuer>` for authenticator apps.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> Result<String, TotpUrlError> {
    Ok(totp(secret, DIGITS, Some(issuer.to_owned()), account.to_owned())?.get_url())
}

/// The step that `code` matches at `now` (Unix seconds), within one step of skew and
/// strictly after `last_step`; `None` otherwise.
pub fn check(secret: &[u8], code: &str, now: u64, last_step: u64) -> Option<u64> {
    check_digits(secret, code, now, last_step, DIGITS)
}

fn check_digits(secret: &[u8], code: &str, now: u64, last_step: u64, digits: usize) -> Option<u64> {
    if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, digits, None, String::new()).ok()?;
    let current = now / STEP;
    let mut found = None;
    // Every candidate is computed and compared in constant time, whatever matches.
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = t.generate(step * STEP);
        let eq: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if eq && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: (time, 8-digit code).
    const RFC6238_SHA1: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        let t = totp(SEED, 8, None, String::new()).unwrap();
        for (time, code) in RFC6238_SHA1 {
            assert_eq!(t.generate(time), code, "t={time}");
            assert_eq!(check_digits(SEED, code, time, 0, 8), Some(time / STEP));
        }
    }

    #[test]
    fn skew_replay_and_format() {
        let t = totp(SEED, 6, None, String::new()).unwrap();
        let now = 1_700_000_000;
        let step = now / STEP;
        let code = t.generate(now);
        assert_eq!(check(SEED, &code, now, 0), Some(step));
        // One step either way is accepted; two are not.
        assert_eq!(check(SEED, &t.generate(now - STEP), now, 0), Some(step - 1));
        assert_eq!(check(SEED, &t.generate(now + STEP), now, 0), Some(step + 1));
        assert_eq!(check(SEED, &t.generate(now - 2 * STEP), now, 0), None);
        assert_eq!(check(SEED, &t.generate(now + 2 * STEP), now, 0), None);
        // Once a step is used, it and every earlier one are refused.
        assert_eq!(check(SEED, &code, now, step), None);
        assert_eq!(check(SEED, &t.generate(now - STEP), now, step), None);
        assert_eq!(
            check(SEED, &t.generate(now + STEP), now, step),
            Some(step + 1)
        );
        for bad in ["", "12345", "1234567", "12345a", " 123456"] {
            assert_eq!(check(SEED, bad, now, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn otpauth_url_for_authenticator_apps() {
        let url = otpauth_url(SEED, "latchkey", "a@example.com").unwrap();
        assert!(
            url.starts_with("otpauth://totp/latchkey:a%40example.com?secret="),
            "{url}"
        );
        assert!(url.contains(&format!("secret={}", base32(SEED))));
        assert!(url.contains("issuer=latchkey"));
        assert_eq!(base32(SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
