//! How records become bytes, and the keys under which values are unique: one definition
//! for every backend.
//!
//! Records are postcard (serde's compact binary format: no field names, varints) behind
//! a one-byte tag. Stores of schema 1 and 2 kept JSON, which begins with `{`: [`decode`]
//! still reads it, for the migration that rewrites them. postcard has no optional
//! fields: a record that changes shape bumps the schema version and migrates.

use serde::{de::DeserializeOwned, Serialize};

use crate::StoreError;

/// The first byte of a postcard record.
const POSTCARD: u8 = 1;

/// Why a record could not be encoded or decoded.
#[derive(Debug)]
pub enum CodecError {
    /// A postcard record that does not decode (or a value postcard cannot encode).
    Postcard(postcard::Error),
    /// A JSON record (schema 1 and 2) that does not decode.
    Json(serde_json::Error),
    /// Neither format: the bytes begin with this.
    Unknown(Option<u8>),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Postcard(e) => e.fmt(f),
            CodecError::Json(e) => e.fmt(f),
            CodecError::Unknown(Some(b)) => write!(f, "unknown record format (first byte {b})"),
            CodecError::Unknown(None) => f.write_str("empty record"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Postcard(e) => Some(e),
            CodecError::Json(e) => Some(e),
            CodecError::Unknown(_) => None,
        }
    }
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(v, vec![POSTCARD]).map_err(|e| StoreError::Encode(CodecError::Postcard(e)))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&POSTCARD, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(CodecError::Postcard(e)))
        }
        Some((b'{', _)) => {
            serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(CodecError::Json(e)))
        }
        other => Err(StoreError::Corrupt(CodecError::Unknown(
            other.map(|(b, _)| *b),
        ))),
    }
}

/// Whether `bytes` is a record of schema 1 or 2 (JSON), which the migration rewrites.
pub(crate) fn is_legacy(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// The key under which an email or username is unique: case-insensitive. (Usernames
/// arrive already enforced by RFC 8265's UsernameCaseMapped profile; emails have an
/// ASCII local part.)
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The key under which look-alike usernames collide: the UTS #39 confusable skeleton of
/// the folded name, so `раypal` (Cyrillic а) meets `paypal`.
pub fn skeleton(name: &str) -> String {
    unicode_security::confusable_detection::skeleton(&fold(name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{AccountState, MfaRecord, UserRecord};
    use crate::UnixMillis;

    fn user() -> UserRecord {
        UserRecord {
            id: "0123456789abcdef0123456789abcdef".into(),
            num: 7,
            email: Some("ann@example.com".into()),
            username: Some("ann".into()),
            display_name: None,
            first_name: None,
            last_name: None,
            role: "user".into(),
            password_hash: Some("$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA".into()),
            state: AccountState::Active,
            created_at: UnixMillis::from_millis(1_700_000_000_000),
            updated_at: UnixMillis::from_millis(1_700_000_000_000),
            last_login_at: None,
            mfa: Some(MfaRecord {
                sealed_secret: "sealed".into(),
                enabled: true,
                last_step: 3,
                enrolled_at: UnixMillis::from_millis(5),
                recovery: vec!["r".into()],
            }),
            email_verified: true,
        }
    }

    #[test]
    fn records_round_trip_and_json_of_older_stores_still_reads() {
        let u = user();
        let bytes = encode(&u).unwrap();
        assert_eq!(bytes.first(), Some(&POSTCARD));
        assert!(!is_legacy(&bytes));
        assert_eq!(decode::<UserRecord>(&bytes).unwrap(), u);
        let json = serde_json::to_vec(&u).unwrap();
        assert!(is_legacy(&json));
        assert_eq!(decode::<UserRecord>(&json).unwrap(), u);
        // JSON of schema 1: no email_verified, no mfa.
        let old = br#"{"id":"x","num":1,"email":null,"username":"x","display_name":null,
            "first_name":null,"last_name":null,"role":"user","password_hash":null,
            "state":"active","created_at":1,"updated_at":1,"last_login_at":null}"#;
        let d: UserRecord = decode(old).unwrap();
        assert!(!d.email_verified && d.mfa.is_none());
        // Half a record, an unknown tag, nothing: errors, not panics.
        assert!(decode::<UserRecord>(&bytes[..bytes.len() / 2]).is_err());
        assert!(decode::<UserRecord>(&[9, 1, 2]).is_err());
        assert!(decode::<UserRecord>(&[]).is_err());
    }
}
