//! Says which commit and which day a binary was built from, for `latchkey --version`
//! (never `LATCHKEY_*` names: cargo also sets these when it runs tests, and the servers
//! those start would read them as configuration): `BUILT_FROM_COMMIT` (from `.git`, read directly: no git needed; `unknown` outside a
//! clone) and `BUILT_ON_DATE` (`SOURCE_DATE_EPOCH` when set, for reproducible
//! builds; else today, UTC). Runs again only when the checked-out commit moves.

use std::path::{Path, PathBuf};

fn main() {
    let git = git_dir(Path::new(".git"));
    let commit = git
        .as_deref()
        .and_then(commit_of)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILT_FROM_COMMIT={commit}");
    println!("cargo:rustc-env=BUILT_ON_DATE={}", build_date());
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
    // Only files that exist: cargo runs a build script again, and rebuilds the crate,
    // every time when one it watches is missing.
    if let Some(git) = &git {
        let mut watch = vec![git.join("HEAD"), git.join("packed-refs")];
        if let Some(r) = head_ref(git) {
            watch.push(git.join(r));
        }
        for path in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The repository's git directory: `.git`, or where a `.git` file (a worktree) points.
fn git_dir(dot_git: &Path) -> Option<PathBuf> {
    if dot_git.is_dir() {
        return Some(dot_git.to_path_buf());
    }
    let text = std::fs::read_to_string(dot_git).ok()?;
    let dir = text.strip_prefix("gitdir:")?.trim();
    Some(PathBuf::from(dir))
}

/// The ref `HEAD` names (`refs/heads/main`), when it names one.
fn head_ref(git: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    Some(head.strip_prefix("ref:")?.trim().to_owned())
}

/// The commit `HEAD` is at, abbreviated to 12 hex digits.
fn commit_of(git: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let full = match head_ref(git) {
        Some(r) => std::fs::read_to_string(git.join(&r)).ok().or_else(|| {
            let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
            packed.lines().find_map(|l| {
                let (hash, name) = l.split_once(' ')?;
                (name == r).then(|| hash.to_owned())
            })
        })?,
        None => head,
    };
    let full = full.trim();
    (full.len() >= 12 && full.bytes().all(|b| b.is_ascii_hexdigit())).then(|| full[..12].to_owned())
}

/// The build's day, `YYYY-MM-DD`, UTC.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
