//! What several nodes on one store share, whichever backend keeps it: the notices of
//! changes other nodes must see, and the attempt counters of the account lockout. Only
//! PostgreSQL has either; these are the types the `Store` speaks of them in.

use crate::time::UnixMillis;

/// A change other nodes must see at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A family was written (revoked, rotated, made).
    Family(String),
    /// A user was changed or deleted.
    User(String),
    /// The signing keys changed.
    Keys,
    /// Notices may have been missed (the listening connection was lost): forget
    /// everything learnt from the store.
    Lost,
}

/// The limits of attempts against an account, as a store that counts them applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRules {
    /// Failures of one source against one account that lock that source out.
    pub per_source: u64,
    /// Failures against one account, from all sources, past which only known sources try.
    pub total: u64,
    /// The window failures are counted in, ms.
    pub window_ms: i64,
    /// How long a lock lasts, ms.
    pub duration_ms: i64,
    /// How long a source that signed in stays known, ms.
    pub known_for_ms: i64,
    /// How long a place taken and not resolved still counts (a server that died), ms.
    pub pending_ms: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The password or code was wrong.
    Failed,
    /// It was right.
    Succeeded,
    /// Nobody knows (the request went away): the place is given back.
    Abandoned,
}

/// What holds an account back now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptStatus {
    /// Sources locked out of it.
    pub sources_locked: u64,
    /// When the last of those locks ends (Unix ms).
    pub until: Option<UnixMillis>,
    /// Failures within the window, from all sources.
    pub recent_failures: u64,
    /// Until when sources that never signed in to it may not try (Unix ms).
    pub new_sources_refused_until: Option<UnixMillis>,
}
