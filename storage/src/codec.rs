//! How records become bytes, and the keys under which values are unique: one definition
//! for every backend.

use serde::{de::DeserializeOwned, Serialize};

use crate::records::ProofPurpose;
use crate::StoreError;

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(StoreError::Encode)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(StoreError::Corrupt)
}

/// The key under which an email or username is unique: case-insensitive. (Usernames
/// arrive already enforced by RFC 8265's UsernameCaseMapped profile; emails have an
/// ASCII local part.)
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The key under which look-alike usernames collide: the UTS #39 confusable skeleton of
/// the folded name, so `раypal` (Cyrillic а) meets `paypal`.
pub(crate) fn skeleton(name: &str) -> String {
    unicode_security::confusable_detection::skeleton(&fold(name)).collect()
}

pub(crate) fn proof_key(purpose: ProofPurpose, subject: &str) -> String {
    let p = match purpose {
        ProofPurpose::VerifyEmail => "verify_email",
    };
    format!("{p}:{subject}")
}
