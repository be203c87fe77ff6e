//! `latchkey user import FILE`: bulk-loads users from JSON lines
//! (`{"email","username","display_name","password_hash","role"}`, a PHC scrypt hash) in
//! large write transactions, with a progress line on stderr.
//!
//! Every line of a batch is checked before the batch is written; a malformed line, or one
//! whose email or username is taken, stops the import with its line number, and nothing of
//! that batch is written (earlier batches stay imported; the message says how many).

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::time::Instant;

use protocol::input::{valid_email, valid_username};
use scrypt::password_hash::PasswordHash;
use serde::Deserialize;
use storage::{Store, StoreError, Unique, UserRecord};

use crate::clock::Clock;

/// Users per write transaction.
pub const BATCH: usize = 20_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    email: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    password_hash: String,
    role: Option<String>,
}

fn check(line: &str) -> Result<Line, String> {
    let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if l.email.is_none() && l.username.is_none() {
        return Err("needs an email or a username".into());
    }
    if l.email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err("email is not a valid address".into());
    }
    if l.username.as_deref().is_some_and(|u| !valid_username(u)) {
        return Err("username must be 1 to 64 characters without `@` or spaces".into());
    }
    const WANTED: &str =
        "this version imports PHC scrypt hashes ($scrypt$ln=..,r=..,p=..$salt$hash; \
                          see the README for a recipe)";
    let scheme = l
        .password_hash
        .strip_prefix('$')
        .and_then(|h| h.split('$').next())
        .unwrap_or("");
    let named = match scheme {
        "2a" | "2b" | "2y" | "2x" => Some("bcrypt"),
        "argon2id" | "argon2i" | "argon2d" => Some("Argon2"),
        "pbkdf2-sha256" | "pbkdf2-sha512" | "pbkdf2" => Some("PBKDF2"),
        "1" | "5" | "6" => Some("crypt(3)"),
        _ => None,
    };
    if let Some(name) = named {
        return Err(format!("password_hash is a {name} hash; {WANTED}"));
    }
    let hash = PasswordHash::new(&l.password_hash)
        .map_err(|_| format!("password_hash is not a PHC string; {WANTED}"))?;
    if hash.algorithm.as_str() != "scrypt" || scrypt::Params::try_from(&hash).is_err() {
        return Err(format!("password_hash is not an scrypt hash; {WANTED}"));
    }
    if l.role.as_deref().is_some_and(str::is_empty) {
        return Err("role is empty".into());
    }
    Ok(l)
}

/// Imports `path` into `store`; returns a summary, or the error with its line number.
pub fn import(store: &Store, path: &Path, clock: &dyn Clock) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let started = Instant::now();
    let mut imported = 0usize;
    let mut batch: Vec<(usize, Line)> = Vec::with_capacity(BATCH);
    let mut lines = BufReader::new(file).lines().enumerate();
    let progress = |n: usize| {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        eprint!("\rimported {n} users ({:.0}/s)   ", n as f64 / secs);
        let _ = std::io::stderr().flush();
    };
    loop {
        let next = lines.next();
        if let Some((i, line)) = &next {
            let line = line.as_ref().map_err(|e| format!("line {}: {e}", i + 1))?;
            if !line.trim().is_empty() {
                let l = check(line).map_err(|e| {
                    format!("line {}: {e}; {imported} users imported before it", i + 1)
                })?;
                batch.push((i + 1, l));
            }
        }
        if batch.len() >= BATCH || (next.is_none() && !batch.is_empty()) {
            imported += write_batch(store, std::mem::take(&mut batch), clock.now_ms())
                .map_err(|e| format!("{e}; {imported} users imported before it"))?;
            progress(imported);
        }
        if next.is_none() {
            break;
        }
    }
    eprintln!();
    Ok(format!(
        "imported {imported} users in {:.1} s\n",
        started.elapsed().as_secs_f64()
    ))
}

/// An import error message (the store's errors become messages too).
struct Failed(String);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed(e.to_string())
    }
}

fn write_batch(store: &Store, batch: Vec<(usize, Line)>, now: i64) -> Result<usize, String> {
    let n = batch.len();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(crate::primitives::random_id().map_err(|e| e.to_string())?);
    }
    let line_of: Vec<usize> = batch.iter().map(|(ln, _)| *ln).collect();
    store
        .write(|w| {
            let first = w.allocate_user_nums(n as u64)?;
            let users: Vec<UserRecord> = batch
                .iter()
                .zip(&ids)
                .enumerate()
                .map(|(k, ((_, l), id))| UserRecord {
                    num: first + k as u64,
                    email: l.email.clone(),
                    username: l.username.clone(),
                    display_name: l.display_name.clone(),
                    role: l.role.clone().unwrap_or_else(|| "user".into()),
                    password_hash: Some(l.password_hash.clone()),
                    ..UserRecord::new(id.clone(), now)
                })
                .collect();
            w.insert_users(&users).map_err(|(i, e)| {
                let line = line_of.get(i).copied().unwrap_or(0);
                Failed(match e {
                    StoreError::Conflict(Unique::Email) => {
                        format!("line {line}: email already taken")
                    }
                    StoreError::Conflict(Unique::Username) => {
                        format!("line {line}: username already taken")
                    }
                    e => format!("line {line}: {e}"),
                })
            })
        })
        .map(|()| n)
        .map_err(|Failed(m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_and_refuses_bad_lines_with_nothing_of_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let hash =
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        let good: String = (0..5)
            .map(|i| format!("{{\"email\":\"u{i}@example.com\",\"username\":\"u{i}\",\"password_hash\":\"{hash}\"}}\n"))
            .collect();
        let f = dir.path().join("ok.jsonl");
        std::fs::write(&f, &good).unwrap();
        assert!(import(&store, &f, &crate::clock::SystemClock)
            .unwrap()
            .starts_with("imported 5 users"));
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 5);

        let bad = format!(
            "{}{{\"email\":\"x@example.com\",\"password_hash\":\"plain\"}}\n",
            good.replace("u0@", "v0@")
                .replace("\"u0\"", "\"v0\"")
                .lines()
                .next()
                .unwrap()
                .to_owned()
                + "\n"
        );
        std::fs::write(&f, bad).unwrap();
        let e = import(&store, &f, &crate::clock::SystemClock).unwrap_err();
        assert!(e.starts_with("line 2: password_hash"), "{e}");
        assert_eq!(
            store.read(|r| r.user_count()).unwrap(),
            5,
            "nothing of the failed batch"
        );

        std::fs::write(&f, format!("{{\"email\":\"new@example.com\",\"password_hash\":\"{hash}\"}}\n{{\"username\":\"U3\",\"password_hash\":\"{hash}\"}}\n")).unwrap();
        let e = import(&store, &f, &crate::clock::SystemClock).unwrap_err();
        assert!(e.starts_with("line 2: username already taken"), "{e}");
        assert_eq!(store.read(|r| r.user_count()).unwrap(), 5);
        assert!(store
            .read(|r| r.user_id_by_email("new@example.com"))
            .unwrap()
            .is_none());
    }
}
