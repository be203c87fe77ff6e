//! Mailed and shown codes: how they are made, typed and hashed. A code is 60 random bits
//! written as 12 characters of Crockford's base32 (`0-9 A-Z` without `I L O U`), shown as
//! `XXXX-XXXX-XXXX`; typing is forgiving (case, hyphens, spaces, `O`/`I`/`L` read as
//! `0`/`1`/`1`). Only keyed hashes of codes are stored. A leaf: imports no door.

use protocol::Failure;

use super::internal;
use crate::primitives::hex;

/// The purpose name an email-verification code is hashed under.
pub(super) const VERIFY_EMAIL: &str = "verify_email";

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a session code (5 bits each: 60 bits).
pub const CODE_LEN: usize = 12;

/// A new code: (as shown, normalized).
pub fn new_code() -> Result<(String, String), Failure> {
    let bytes = crate::primitives::random_bytes::<8>().map_err(|e| internal("randomness", e))?;
    let mut bits = u64::from_le_bytes(bytes);
    let mut plain = String::with_capacity(CODE_LEN);
    for _ in 0..CODE_LEN {
        let i = usize::try_from(bits & 31).unwrap_or(0);
        plain.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
        bits >>= 5;
    }
    let shown = grouped(&plain, 4);
    Ok((shown, plain))
}

/// `plain` in groups of `n` characters joined by hyphens, as codes are shown.
pub(super) fn grouped(plain: &str, n: usize) -> String {
    let chars: Vec<char> = plain.chars().collect();
    chars
        .chunks(n)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalizes a typed session code, or `None` when it cannot be one.
pub fn normalize_code(typed: &str) -> Option<String> {
    normalize(typed, CODE_LEN)
}

pub(super) fn normalize(typed: &str, len: usize) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let mut out = String::with_capacity(len);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == len).then_some(out)
}

/// The keyed hash under which a proof code for `purpose` of `user_id` is stored (bound to
/// the account).
pub(super) fn proof_hash(
    key: &crate::secrets::ServerKey,
    purpose: &str,
    user_id: &str,
    normalized: &str,
) -> String {
    hex(&key.code_hash(&format!("proof:{purpose}:{user_id}:{normalized}")))
}

/// The keyed hash that indexes a live proof code for `purpose` (the code alone finds it).
pub(super) fn index_hash(
    key: &crate::secrets::ServerKey,
    purpose: &str,
    normalized: &str,
) -> String {
    hex(&key.code_hash(&format!("index:{purpose}:{normalized}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_60_bits_in_an_unambiguous_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let (shown, plain) = new_code().unwrap();
            assert_eq!(shown.len(), 14);
            assert_eq!(plain.len(), CODE_LEN);
            assert!(!plain.contains(['I', 'L', 'O', 'U']));
            assert_eq!(normalize_code(&shown).as_deref(), Some(plain.as_str()));
            assert_eq!(
                normalize_code(&shown.to_lowercase()).as_deref(),
                Some(plain.as_str())
            );
            seen.insert(plain);
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            normalize_code("abcd efgh jkmn").as_deref(),
            Some("ABCDEFGHJKMN")
        );
        assert_eq!(
            normalize_code("OIL0-0000-0000").as_deref(),
            Some("011000000000")
        );
        for bad in [
            "",
            "ABCD-EFGH-JKM",
            "ABCD-EFGH-JKMNP",
            "ABCD-EFGH-JKMU",
            "ÄBCD-EFGH-JKMN",
        ] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }
}
