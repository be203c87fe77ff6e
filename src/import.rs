//! `latchkey user import FILE [--format latchkey|firebase] [--dry-run]`: bulk-loads users
//! with their password hashes, all or nothing.
//!
//! - `latchkey`: JSON lines, `{"id"?,"email"?,"username"?,"display_name"?,"role"?,
//!   "email_verified"?,"disabled"?,"password_hash"?}` with a hash in one of the forms of
//!   [`crate::password::imported`] (bcrypt, Argon2, scrypt, PBKDF2-SHA256, Firebase).
//! - `firebase`: the export of `firebase auth:export users.json`
//!   (`{"users":[{"localId","email","emailVerified","passwordHash","salt",
//!   "displayName","createdAt","lastSignedInAt","disabled",...}]}`), with the project's
//!   hash parameters (signer key, salt separator, rounds, mem_cost).
//!
//! Every user is checked first (syntax, hash form and costs within
//! `password.import_limits`, duplicates in the file, names and ids the store has): any
//! refusal stops the import before anything is written, and every refusal is reported
//! with its line (or, for Firebase, the user's position and `localId`). Users then go in
//! large write transactions; if one fails (a name taken meanwhile by a running server),
//! the users written before it are removed again. Source ids are kept as the user id.

use crate::clock::UnixMillis;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Instant;

use base64::Engine as _;
use protocol::fields::Fields;
use serde::Deserialize;
use storage::{AccountState, Store, StoreError, Unique, UserRecord};

use crate::clock::Clock;
use crate::config::ImportLimits;
use crate::password::imported;

/// Users per write transaction. One transaction lays each table out in one go, with
/// leaves nine-tenths full (`storage`'s filling order); users of later transactions fall
/// between those keys and split leaves again. A million users in one: 540 B each in the
/// file, against 1,078 B in four of 250,000.
pub const BATCH: usize = 1_000_000;
/// Refusals listed one by one; beyond, a count.
const LISTED: usize = 50;

/// Firebase's project-wide hash parameters (`firebase auth:import` takes the same).
#[derive(Debug, Clone)]
pub struct FirebaseParams {
    /// `base64_signer_key`.
    pub hash_key: String,
    /// `base64_salt_separator`.
    pub salt_separator: String,
    /// `rounds`.
    pub rounds: u32,
    /// `mem_cost`.
    pub mem_cost: u8,
}

/// What the file is.
#[derive(Debug, Clone)]
pub enum Format {
    /// latchkey's JSON lines.
    Latchkey,
    /// A Firebase Auth export, with its project's hash parameters.
    Firebase(FirebaseParams),
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file's format.
    pub format: Format,
    /// Check and report only; write nothing.
    pub dry_run: bool,
    /// Bounds on the hashes.
    pub limits: ImportLimits,
}

/// Where a user came from in the file, for messages.
#[derive(Debug, Clone)]
enum Place {
    Line(usize),
    Entry(usize, String),
}

impl Place {
    /// Its position in the file.
    fn ordinal(&self) -> usize {
        match self {
            Place::Line(n) | Place::Entry(n, _) => *n,
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Entry(n, id) => write!(f, "user #{n} (localId {id})"),
        }
    }
}

/// A user ready to import (its number is given when written).
struct Candidate {
    place: Place,
    user: UserRecord,
}

/// What reading the file gave.
#[derive(Default)]
struct Loaded {
    users: Vec<Candidate>,
    skipped: usize,
    refused: Vec<(Place, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: Option<String>,
    email: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    password_hash: Option<String>,
    role: Option<String>,
    email_verified: Option<bool>,
    disabled: Option<bool>,
}

#[derive(Deserialize)]
struct Export {
    users: Vec<FirebaseUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirebaseUser {
    local_id: String,
    email: Option<String>,
    email_verified: Option<bool>,
    password_hash: Option<String>,
    salt: Option<String>,
    display_name: Option<String>,
    created_at: Option<String>,
    last_signed_in_at: Option<String>,
    disabled: Option<bool>,
}

/// An id kept from the source: 1 to 128 of `A-Z a-z 0-9 _ -`.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn new_id() -> Result<String, String> {
    crate::primitives::random_id().map_err(|e| e.to_string())
}

/// The user of one line of the latchkey format.
pub(crate) fn from_line(
    text: &str,
    limits: &ImportLimits,
    now: UnixMillis,
) -> Result<UserRecord, String> {
    let l: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    // The checks of every other way in (sign-up, the admin API).
    let fields = Fields {
        email: l.email.filter(|e| !e.is_empty()),
        username: l.username,
        display_name: l.display_name,
        role: Some(l.role.unwrap_or_else(|| "user".into())),
        ..Fields::default()
    }
    .checked()
    .map_err(|e| e.to_string())?;
    let (email, username) = (fields.email, fields.username);
    if email.is_none() && username.is_none() {
        return Err("needs an email or a username".into());
    }
    if let Some(h) = &l.password_hash {
        imported::check(h, limits).map_err(|e| format!("password_hash: {e}"))?;
    }
    let id = match l.id {
        Some(id) if valid_id(&id) => id,
        Some(_) => return Err("id must be 1 to 128 of A-Z a-z 0-9 _ -".into()),
        None => new_id()?,
    };
    Ok(UserRecord {
        email,
        username,
        display_name: fields.display_name,
        role: fields.role.unwrap_or_default(),
        password_hash: l.password_hash,
        email_verified: l.email_verified.unwrap_or(false),
        state: if l.disabled == Some(true) {
            AccountState::Disabled
        } else {
            AccountState::Active
        },
        ..UserRecord::new(id, now)
    })
}

fn read_lines(path: &Path, limits: &ImportLimits, now: UnixMillis) -> Result<Loaded, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Loaded::default();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let place = Place::Line(i + 1);
        match from_line(&line, limits, now) {
            Ok(user) => out.users.push(Candidate { place, user }),
            Err(e) => out.refused.push((place, e)),
        }
    }
    Ok(out)
}

/// Firebase's millisecond strings.
fn ms(v: Option<&str>) -> Option<UnixMillis> {
    v.and_then(|s| s.parse().ok()).map(UnixMillis::from_millis)
}

/// The user of one Firebase export entry; `None`: skipped (no email: a phone-only or
/// federated-only account has no way to sign in here).
fn from_firebase(
    u: FirebaseUser,
    p: &FirebaseParams,
    limits: &ImportLimits,
    now: UnixMillis,
) -> Result<Option<UserRecord>, String> {
    if !valid_id(&u.local_id) {
        return Err("localId must be 1 to 128 of A-Z a-z 0-9 _ -".into());
    }
    let Some(email) = u.email.filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let fields = Fields {
        email: Some(email),
        display_name: u.display_name,
        ..Fields::default()
    }
    .checked()
    .map_err(|e| {
        // Firebase's own spelling of the fields.
        let field = match e.field {
            "display_name" => "displayName",
            other => other,
        };
        format!("{field}: {}", e.why)
    })?;
    let password_hash = match (u.password_hash.filter(|h| !h.is_empty()), u.salt) {
        (None, _) => None,
        (Some(_), None) => return Err("passwordHash without salt".into()),
        (Some(hash), Some(salt)) => {
            let h = firebase_form(&hash, &salt, p);
            imported::check(&h, limits).map_err(|e| format!("passwordHash: {e}"))?;
            Some(h)
        }
    };
    let created_at = ms(u.created_at.as_deref()).unwrap_or(now);
    Ok(Some(UserRecord {
        email: fields.email,
        display_name: fields.display_name,
        password_hash,
        email_verified: u.email_verified.unwrap_or(false),
        state: if u.disabled == Some(true) {
            AccountState::Disabled
        } else {
            AccountState::Active
        },
        last_login_at: ms(u.last_signed_in_at.as_deref()),
        ..UserRecord::new(u.local_id, created_at)
    }))
}

/// The stored form of a Firebase hash (see [`imported`]).
fn firebase_form(hash: &str, salt: &str, p: &FirebaseParams) -> String {
    format!(
        "$firebase-scrypt$hash={hash}$salt={salt}$sk={}$ss={}$r={}$m={}",
        p.hash_key, p.salt_separator, p.rounds, p.mem_cost
    )
}

/// Checks the project's parameters once, before any user: a clear message for a wrong
/// key rather than one refusal per user.
fn check_firebase_params(p: &FirebaseParams, limits: &ImportLimits) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if b64.decode(&p.hash_key).map_or(true, |k| k.is_empty()) {
        return Err("--hash-key must be the project's base64_signer_key".into());
    }
    if b64.decode(&p.salt_separator).is_err() {
        return Err("--salt-separator must be the project's base64_salt_separator".into());
    }
    let probe = firebase_form(&p.hash_key, "AA==", p);
    imported::check(&probe, limits)
        .map(|_| ())
        .map_err(|e| format!("the project's hash parameters: {e}"))
}

fn read_firebase(
    path: &Path,
    p: &FirebaseParams,
    limits: &ImportLimits,
    now: UnixMillis,
) -> Result<Loaded, String> {
    check_firebase_params(p, limits)?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let export: Export = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a Firebase export: {e}", path.display()))?;
    drop(bytes);
    let mut out = Loaded::default();
    for (i, u) in export.users.into_iter().enumerate() {
        let place = Place::Entry(i + 1, u.local_id.clone());
        match from_firebase(u, p, limits, now) {
            Ok(Some(user)) => out.users.push(Candidate { place, user }),
            Ok(None) => out.skipped += 1,
            Err(e) => out.refused.push((place, e)),
        }
    }
    Ok(out)
}

/// Refuses users that repeat an earlier one's id, email or username in the file, or that
/// the store already has.
fn check_unique(store: &Store, read: &mut Loaded) -> Result<(), String> {
    let mut ids = HashSet::new();
    let mut emails = HashSet::new();
    let mut names = HashSet::new();
    let mut kept = Vec::with_capacity(read.users.len());
    let taken: Vec<Option<&'static str>> = store
        .read(|r| {
            read.users
                .iter()
                .map(|c| {
                    Ok(if r.user(&c.user.id)?.is_some() {
                        Some("id already taken")
                    } else {
                        match r.conflict(&c.user)? {
                            Some(Unique::Email) => Some("email already taken"),
                            Some(Unique::Username) => Some("username already taken"),
                            None => None,
                        }
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .map_err(|e| format!("reading the store: {e}"))?;
    for (c, taken) in std::mem::take(&mut read.users).into_iter().zip(taken) {
        let email = c.user.email.as_deref().map(str::to_ascii_lowercase);
        let dup = if !ids.insert(c.user.id.clone()) {
            Some("id repeated in the file")
        } else if email.is_some_and(|e| !emails.insert(e)) {
            Some("email repeated in the file")
        } else if c
            .user
            .username
            .as_deref()
            .is_some_and(|n| !names.insert(storage::skeleton(n)))
        {
            // The store's own key: a look-alike in another script is the same name.
            Some("username repeated in the file (or one that looks the same)")
        } else {
            taken
        };
        match dup {
            Some(why) => read.refused.push((c.place, why.into())),
            None => kept.push(c),
        }
    }
    read.users = kept;
    read.refused.sort_by_key(|(place, _)| place.ordinal());
    Ok(())
}

fn report(read: &Loaded) -> String {
    let mut out = String::new();
    for (place, why) in read.refused.iter().take(LISTED) {
        out.push_str(&format!("{place}: {why}\n"));
    }
    if read.refused.len() > LISTED {
        out.push_str(&format!(
            "... and {} more refusals\n",
            read.refused.len() - LISTED
        ));
    }
    out
}

/// Imports `path` into `store`; answers the summary, or every refusal (nothing written).
pub fn import(
    store: &Store,
    path: &Path,
    opts: &Options,
    clock: &dyn Clock,
) -> Result<String, String> {
    let started = Instant::now();
    let now = clock.now();
    let mut read = match &opts.format {
        Format::Latchkey => read_lines(path, &opts.limits, now)?,
        Format::Firebase(p) => read_firebase(path, p, &opts.limits, now)?,
    };
    check_unique(store, &mut read)?;
    let counts = format!(
        "{} users, {} skipped (no email), {} refused",
        read.users.len(),
        read.skipped,
        read.refused.len()
    );
    if !read.refused.is_empty() {
        let what = if opts.dry_run {
            "dry run"
        } else {
            "nothing was imported"
        };
        return Err(format!("{}{what}: {counts}", report(&read)));
    }
    if opts.dry_run {
        return Ok(format!("dry run: would import {counts}\n"));
    }
    let total = read.users.len();
    let users: Vec<UserRecord> = read.users.into_iter().map(|c| c.user).collect();
    let progress = std::io::stderr().is_terminal();
    let mut written = 0usize;
    for batch in users.chunks(BATCH) {
        if let Err(e) = write_batch(store, batch) {
            let undone = undo(store, users.get(..written).unwrap_or_default());
            return Err(format!(
                "{e}; nothing was imported{}",
                undone.map_or_else(
                    |e| format!(" (removing the {written} users written before failed: {e})"),
                    |()| String::new()
                )
            ));
        }
        written += batch.len();
        if progress {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\rimported {written} of {total} users ({:.0}/s)   ",
                written as f64 / secs
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    Ok(format!(
        "imported {total} users ({} skipped without an email, 0 refused) in {:.1} s\n",
        read.skipped,
        started.elapsed().as_secs_f64()
    ))
}

fn write_batch(store: &Store, batch: &[UserRecord]) -> Result<(), String> {
    store
        .write(|w| {
            let first = w.allocate_user_nums(batch.len() as u64)?;
            let users: Vec<UserRecord> = batch
                .iter()
                .enumerate()
                .map(|(k, u)| UserRecord {
                    num: first + k as u64,
                    ..u.clone()
                })
                .collect();
            w.insert_users(&users).map_err(|(i, e)| {
                let who = users.get(i).map_or("?", |u| u.id.as_str());
                Failed(match e {
                    StoreError::Conflict(Unique::Email) => {
                        format!("user {who}: email taken meanwhile")
                    }
                    StoreError::Conflict(Unique::Username) => {
                        format!("user {who}: username taken meanwhile")
                    }
                    e => format!("user {who}: {e}"),
                })
            })
        })
        .map_err(|Failed(m)| m)
}

/// Removes the users of the batches written before a failed one.
fn undo(store: &Store, written: &[UserRecord]) -> Result<(), StoreError> {
    for batch in written.chunks(BATCH) {
        store.write(|w| {
            for u in batch {
                w.delete_user(&u.id)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    Ok(())
}

/// An import error message (the store's errors become messages too).
struct Failed(String);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str =
        "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";

    fn opts(dry_run: bool) -> Options {
        Options {
            format: Format::Latchkey,
            dry_run,
            limits: ImportLimits::default(),
        }
    }

    #[test]
    fn all_or_nothing_with_every_refusal_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let clock = crate::clock::SystemClock;
        let good: String = (0..5)
            .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"username\":\"u{i}\",\"password_hash\":\"{HASH}\"}}\n"))
            .collect();
        let f = dir.path().join("ok.jsonl");
        std::fs::write(&f, &good).unwrap();
        assert!(import(&store, &f, &opts(true), &clock)
            .unwrap()
            .starts_with("dry run: would import 5 users"));
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 0);
        assert!(import(&store, &f, &opts(false), &clock)
            .unwrap()
            .starts_with("imported 5 users"));
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 5);

        let bad = format!(
            "{{\"email\":\"new@example.com\",\"password_hash\":\"{HASH}\"}}\n\
             {{\"email\":\"x@example.com\",\"password_hash\":\"plain\"}}\n\
             \n\
             {{\"username\":\"U3\"}}\n\
             {{\"email\":\"NEW@example.com\"}}\n\
             {{\"email\":\"big@example.com\",\"password_hash\":\"$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY\"}}\n"
        );
        std::fs::write(&f, bad).unwrap();
        let e = import(&store, &f, &opts(false), &clock).unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert!(lines[0].starts_with("line 2: password_hash"), "{e}");
        assert_eq!(lines[1], "line 4: username already taken", "{e}");
        assert_eq!(lines[2], "line 5: email repeated in the file", "{e}");
        assert!(
            lines[3].starts_with("line 6: password_hash") && lines[3].contains("import_limits"),
            "{e}"
        );
        assert!(lines[4].starts_with("nothing was imported: 1 users"), "{e}");
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 5);
        assert!(store
            .read(|r| r.user_id_by_email("new@example.com"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn ids_are_kept_and_a_failed_batch_removes_the_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let users: Vec<UserRecord> = (0..3)
            .map(|i| UserRecord {
                email: Some(format!("k{i}@example.com")),
                ..UserRecord::new(format!("src-id-{i}"), UnixMillis::from_millis(1))
            })
            .collect();
        write_batch(&store, &users[..2]).unwrap();
        assert!(store.read(|r| r.user("src-id-1")).unwrap().is_some());
        // A name taken meanwhile: the batch fails, and what was written goes again.
        let mut clash = users[2].clone();
        clash.email = Some("K0@example.com".into());
        assert!(write_batch(&store, &[clash])
            .unwrap_err()
            .contains("email taken meanwhile"));
        undo(&store, &users[..2]).unwrap();
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 0);
    }
}
