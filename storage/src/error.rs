//! What the store's callers see besides the records: its errors, and the answers of a
//! lookup that may find several users or collide with a unique index.

use std::path::PathBuf;

use crate::records::UserRecord;
use crate::SCHEMA_VERSION;

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    /// Users in the copy.
    pub users: u64,
    /// Bytes of the copy.
    pub bytes: u64,
}

/// What an administrator's key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No user.
    None,
    /// One user.
    One(Box<UserRecord>),
    /// Several users (by different kinds of key).
    Several(usize),
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing what was asked):
    /// the request may be tried again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            #[cfg(feature = "postgres")]
            StoreError::Database(e) => {
                e.is_closed() || e.as_db_error().is_none() || e.code().is_some_and(gone)
            }
            _ => false,
        }
    }
}

/// Whether a database's answer says it is not there right now, rather than that it
/// refuses what was asked: shutting down (57P01 `admin_shutdown`, 57P02
/// `crash_shutdown`), starting up or recovering (57P03 `cannot_connect_now`), a lost or
/// refused connection (class 08), too many connections (53300), a standby that cannot
/// write yet during a failover (25006 `read_only_sql_transaction`). Each is a 503 with
/// `Retry-After` that clients and load balancers retry, never a 500.
/// Whether a connection error says the TLS handshake failed on the certificate.
fn untrusted_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("tls") && (t.contains("certificate") || t.contains("handshake"))
}

#[cfg(feature = "postgres")]
pub(crate) fn gone(code: &tokio_postgres::error::SqlState) -> bool {
    let c = code.code();
    matches!(c, "57P01" | "57P02" | "57P03" | "53300" | "25006") || c.starts_with("08")
}

/// Which unique index a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// The email is taken.
    Email,
    /// The username is taken.
    Username,
}

/// What can go wrong in the store. redb's own errors are kept as the cause.
#[derive(Debug)]
pub enum StoreError {
    /// Another process holds the store file.
    Locked(PathBuf),
    /// The file is not a whole latchkey store (empty, truncated, or damaged).
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// There is no store file.
    Missing(PathBuf),
    /// The file has an older schema; a server migrates it on start.
    Outdated(u64),
    /// The file was written by a newer latchkey (its schema version is given).
    TooNew(u64),
    /// A unique index already holds the value.
    Conflict(Unique),
    /// A passkey's credential id belongs to an account already.
    CredentialTaken,
    /// An entry of the table layer's unique index (named) belongs to another record.
    Taken(String),
    /// A record could not be decoded: the file is damaged or was changed by hand.
    Corrupt(crate::codec::CodecError),
    /// A record could not be encoded.
    Encode(crate::codec::CodecError),
    /// The file could not be opened or created.
    Open(Box<redb::DatabaseError>),
    /// A transaction could not begin or end.
    Transaction(Box<redb::TransactionError>),
    /// A table could not be opened.
    Table(Box<redb::TableError>),
    /// Reading or writing the file failed.
    Storage(Box<redb::StorageError>),
    /// A commit failed (nothing of it was written).
    Commit(Box<redb::CommitError>),
    /// redb could not compact the file.
    Compact(Box<redb::CompactionError>),
    /// A file beside the store (a backup) could not be made.
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A backup would overwrite this file.
    Exists(PathBuf),
    /// The database refused or failed a statement.
    #[cfg(feature = "postgres")]
    Database(Box<tokio_postgres::Error>),
    /// No database connection could be had: the server is down, unreachable, or refused
    /// the credentials (the cause says which).
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The configured database could not be used (a bad URL, TLS set up wrong).
    Setup(String),
    /// This backend cannot do that.
    Unsupported(&'static str),
    /// A statement of a transaction failed and its plan went on regardless: nothing of
    /// the transaction was written.
    Aborted,
    /// A copy's destination already holds data (named).
    NotEmpty(String),
    /// A finished copy does not hold as many of `what` as its source.
    CopyMismatch {
        /// Users or families.
        what: &'static str,
        /// In the source.
        source: u64,
        /// In the copy.
        copy: u64,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Locked(p) => write!(
                f,
                "the store {} is held by another process (is a server running?)",
                p.display()
            ),
            StoreError::Missing(p) => write!(f, "there is no store at {}", p.display()),
            StoreError::Damaged { path, why } => write!(
                f,
                "{} is not a usable latchkey store ({why}); move it away and restore a backup \
                 (latchkey backup), or delete it to start an empty store",
                path.display()
            ),
            StoreError::Outdated(v) => write!(
                f,
                "the store has schema version {v}; start the server once to migrate it to {SCHEMA_VERSION}"
            ),
            StoreError::TooNew(v) => write!(
                f,
                "the store has schema version {v}, newer than this latchkey ({SCHEMA_VERSION})"
            ),
            StoreError::Conflict(Unique::Email) => f.write_str("email already taken"),
            StoreError::Conflict(Unique::Username) => f.write_str("username already taken"),
            StoreError::CredentialTaken => f.write_str("passkey already registered to an account"),
            StoreError::Taken(index) => write!(f, "the {index} is taken"),
            StoreError::Corrupt(e) => write!(f, "corrupt record: {e}"),
            StoreError::Encode(e) => write!(f, "cannot encode a record: {e}"),
            StoreError::Open(e) => write!(f, "cannot open the store: {e}"),
            StoreError::Transaction(e) => write!(f, "store transaction: {e}"),
            StoreError::Table(e) => write!(f, "store table: {e}"),
            StoreError::Storage(e) => write!(f, "store I/O: {e}"),
            StoreError::Commit(e) => write!(f, "store commit: {e}"),
            StoreError::Compact(e) => write!(f, "store compaction: {e}"),
            StoreError::File { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::Exists(p) => write!(
                f,
                "{} exists; a backup never overwrites a file (choose a new name)",
                p.display()
            ),
            #[cfg(feature = "postgres")]
            StoreError::Database(e) => match e.as_db_error() {
                Some(db) => write!(f, "database: {} ({})", db.message(), db.code().code()),
                None => write!(f, "database: {e}"),
            },
            StoreError::Unavailable(e) => {
                write!(f, "the database is unavailable: {e}")?;
                if untrusted_tls(&e.to_string()) {
                    f.write_str(
                        " (its TLS certificate is not one this machine trusts: give the \
                         database a certificate the system trusts or add its CA to the \
                         system's store; for a database on this machine or a private \
                         network, `?sslmode=disable` in storage.url connects without TLS)",
                    )?;
                }
                Ok(())
            }
            StoreError::Setup(why) => write!(f, "storage.url: {why}"),
            StoreError::Unsupported(what) => f.write_str(what),
            StoreError::Aborted => {
                f.write_str("a statement failed inside a transaction; nothing of it was written")
            }
            StoreError::NotEmpty(to) => write!(
                f,
                "{to} already holds data: a copy goes into an empty store only"
            ),
            StoreError::CopyMismatch { what, source, copy } => write!(
                f,
                "the copy holds {copy} {what}, the source {source}: was a server writing to \
                 the source?"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Corrupt(e) | StoreError::Encode(e) => Some(e),
            StoreError::Open(e) => Some(e.as_ref()),
            StoreError::Transaction(e) => Some(e.as_ref()),
            StoreError::Table(e) => Some(e.as_ref()),
            StoreError::Storage(e) => Some(e.as_ref()),
            StoreError::Commit(e) => Some(e.as_ref()),
            StoreError::Compact(e) => Some(e.as_ref()),
            StoreError::File { source, .. } => Some(source),
            #[cfg(feature = "postgres")]
            StoreError::Database(e) => Some(e.as_ref()),
            StoreError::Unavailable(e) => Some(e.as_ref()),
            StoreError::Setup(_)
            | StoreError::Unsupported(_)
            | StoreError::Aborted
            | StoreError::NotEmpty(_)
            | StoreError::CopyMismatch { .. } => None,
            StoreError::Locked(_)
            | StoreError::Exists(_)
            | StoreError::Damaged { .. }
            | StoreError::Missing(_)
            | StoreError::Outdated(_)
            | StoreError::TooNew(_)
            | StoreError::Conflict(_)
            | StoreError::CredentialTaken
            | StoreError::Taken(_) => None,
        }
    }
}

macro_rules! from_redb {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::$v(Box::new(e)) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError => Open,
    redb::TransactionError => Transaction,
    redb::TableError => Table,
    redb::StorageError => Storage,
    redb::CommitError => Commit,
    redb::CompactionError => Compact
);

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn an_untrusted_certificate_says_what_to_do() {
        let tls = StoreError::Unavailable(Box::new(std::io::Error::other(
            "error performing TLS handshake: invalid peer certificate: UnknownIssuer",
        )));
        let text = tls.to_string();
        assert!(
            text.contains("sslmode=disable") && text.contains("add its CA"),
            "{text}"
        );
        let refused =
            StoreError::Unavailable(Box::new(std::io::Error::other("connection refused")));
        assert!(!refused.to_string().contains("sslmode"));
    }
    use tokio_postgres::error::SqlState;

    #[test]
    fn a_database_going_away_is_unavailable_and_a_refusal_is_not() {
        for gone in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ] {
            assert!(super::gone(&gone), "{}", gone.code());
        }
        for refused in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_TABLE,
        ] {
            assert!(!super::gone(&refused), "{}", refused.code());
        }
    }
}
