//! Randomness, digests and encodings: the leaf of the module graph. Every other module
//! may use it; it uses none of them.

use base64::Engine as _;
use ring::rand::SecureRandom as _;

/// The system's random number generator failed (it does not, on any supported system,
/// but the error is not swallowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness;

impl std::fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system's random number generator failed")
    }
}

impl std::error::Error for NoRandomness {}

/// `N` bytes from the system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| NoRandomness)?;
    Ok(b)
}

/// A new random id: 128 bits as 32 lowercase hex digits.
pub fn random_id() -> Result<String, NoRandomness> {
    Ok(hex(&random_bytes::<16>()?))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 15));
    }
    s
}

/// Whether `text` is [`hex`] of `bytes`, without allocating, in time that depends only
/// on the lengths (a stored token hash against the hash of what was presented).
pub fn is_hex_of(text: &str, bytes: &[u8]) -> bool {
    // The digit of a nibble, without a branch on it: 'a' - '0' - 10 = 39.
    let digit = |n: u8| b'0' + n + 39 * u8::from(n > 9);
    let text = text.as_bytes();
    if text.len() != bytes.len() * 2 {
        return false;
    }
    let mut diff = 0u8;
    for (pair, b) in text.chunks_exact(2).zip(bytes) {
        if let [hi, lo] = pair {
            diff |= (hi ^ digit(b >> 4)) | (lo ^ digit(b & 15));
        }
    }
    diff == 0
}

/// Decodes hex (either case); `None` unless every character is a hex digit and there
/// is an even number of them.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding: no padding, canonical trailing bits only.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_decode(&hex(&all)), Some(all.clone()));
        assert_eq!(hex_decode(&hex(&all).to_uppercase()), Some(all));
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
        for bad in ["0", "zz", "0g", "é1"] {
            assert_eq!(hex_decode(bad), None, "{bad}");
        }
        assert_eq!(hex_decode(""), Some(vec![]));
    }

    #[test]
    fn is_hex_of_matches_hex_exactly() {
        let all: Vec<u8> = (0..=255).collect();
        assert!(is_hex_of(&hex(&all), &all));
        assert!(is_hex_of("", &[]));
        // Upper case is not what `hex` writes; every single digit changed is refused.
        assert!(!is_hex_of("0FA0", &[0x0f, 0xa0]));
        let text = hex(&all);
        for i in 0..text.len() {
            let mut changed = text.clone().into_bytes();
            changed[i] = if changed[i] == b'0' { b'1' } else { b'0' };
            assert!(
                !is_hex_of(std::str::from_utf8(&changed).unwrap(), &all),
                "{i}"
            );
        }
        assert!(!is_hex_of("0fa", &[0x0f, 0xa0]), "short");
        assert!(!is_hex_of("0fa000", &[0x0f, 0xa0]), "long");
    }

    #[test]
    fn b64url_is_strict() {
        assert_eq!(b64url(b"\xff\xfe"), "__4");
        assert_eq!(b64url_decode("__4"), Some(vec![0xff, 0xfe]));
        assert_eq!(b64url_decode("__4="), None, "padding");
        assert_eq!(b64url_decode("__5"), None, "non-canonical trailing bits");
    }

    #[test]
    fn ids_are_fresh() {
        let a = random_id().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_id().unwrap());
        assert_eq!(sha256(b"abc")[0], 0xba);
    }
}
