//! `latchkey backup`: a consistent copy of the store while the server serves (issue 11,
//! item 2). A `cp` of a live redb file can catch half-written pages; a backup is read in
//! one snapshot, checked by opening it, and restores by being put in the store's place.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";
const PW: &str = "correct horse battery";

/// Backups of the redb file (a PostgreSQL store is backed up with pg_dump).
fn admin_config() -> String {
    redb(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
    ))
}

async fn refresh(s: &Server, token: &str) -> Resp {
    s.post_json("/auth/refresh-token", &[], &json!({"refresh_token": token}))
        .await
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A server on a copy of `store` (and `key`), in a directory of its own.
async fn restored(store: &std::path::Path, key: &std::path::Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(store, dir.path().join("store.redb")).unwrap();
    std::fs::copy(key, dir.path().join("store.redb.key")).unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        config_text(dir.path(), &admin_config()),
    )
    .unwrap();
    Server::start_in(dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_under_refresh_load_open_and_restore() {
    // Eight clients on one address rotate as fast as they can: lift the per-source limit.
    let config = format!("{}[limits]\nper_ip_per_minute = 1000000\n", admin_config());
    let s = Arc::new(Server::start_with_env(&config, &[("UMASK", "022")]).await);
    // An idle user whose refresh token is issued before the backups: it must work on the
    // restored store.
    oauth_signup(&s, "idle", PW).await;
    let idle = oauth_login(&s, "idle", PW).await.expect(200);
    // Load: eight clients rotating their refresh tokens as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let rotations = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for i in 0..8 {
        let name = format!("busy{i}");
        oauth_signup(&s, &name, PW).await;
        let mut token = field(
            &oauth_login(&s, &name, PW).await.expect(200),
            "refresh_token",
        );
        let (s, stop, rotations) = (s.clone(), stop.clone(), rotations.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                token = field(&refresh(&s, &token).await.expect(200), "refresh_token");
                rotations.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // (A running server writes backups in storage.backup_dir: the store's directory.)
    let backups = s.dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let mut files = Vec::new();
    for n in 0..5 {
        let before = rotations.load(Ordering::Relaxed);
        let file = backups.join(format!("b{n}.redb"));
        let args = [
            "backup".to_string(),
            file.display().to_string(),
            "--with-key".to_string(),
        ];
        let server = s.clone();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            server.cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(": 9 users"), "{out}");
        assert!(out.contains("server key"), "{out}");
        files.push(file);
        // The server kept serving while the copy was made.
        while rotations.load(Ordering::Relaxed) < before + 20 {
            assert!(
                !load.iter().any(|t| t.is_finished()),
                "a load client failed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert_eq!(
        s.log().matches("event=\"backup\"").count(),
        5,
        "each backup is audited"
    );
    for file in &files {
        let mut key = file.as_os_str().to_owned();
        key.push(".key");
        let key = std::path::PathBuf::from(key);
        #[cfg(unix)]
        {
            assert_eq!(mode(file), 0o600, "the backup holds signing keys");
            assert_eq!(mode(&key), 0o600, "the key copy is private");
        }
        // Each copy opens and serves: the idle user's pre-backup refresh token works.
        let mut r = restored(file, &key).await;
        let t = refresh(&r, &field(&idle, "refresh_token"))
            .await
            .expect(200);
        r.get(
            "/users/me",
            &[("authorization", &bearer(&field(&t, "access_token")))],
        )
        .await
        .expect(200);
        oauth_login(&r, "busy3", PW).await.expect(200);
        r.stop();
    }
    // The original is untouched by the restores.
    refresh(&s, &field(&idle, "refresh_token"))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_backup_without_a_server_never_overwrites() {
    let mut s = Server::start(&redb("")).await;
    oauth_signup(&s, "ann", PW).await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.redb");
    let f = file.to_str().unwrap();
    let (code, out, err) = s.cli(&["backup", f]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 users"), "{out}");
    assert!(
        !dir.path().join("copy.redb.key").exists(),
        "no key unless asked"
    );
    // A second backup to the same name is refused and leaves the first intact.
    let before = std::fs::read(&file).unwrap();
    let (code, _, err) = s.cli(&["backup", f]);
    assert_eq!(code, 1);
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // Nothing half-made is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("copy.redb")]);
    // A directory that does not exist: a clear error naming it.
    let (code, _, err) = s.cli(&["backup", "/nonexistent-dir/x.redb"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent-dir/x.redb"), "{err}");
    // The copy restores.
    let mut r = restored(&file, &s.dir.path().join("store.redb.key")).await;
    oauth_login(&r, "ann", PW).await.expect(200);
    r.stop();
}

#[tokio::test]
async fn the_admin_api_takes_only_absolute_paths_in_the_backup_directory() {
    let s = Server::start(&admin_config()).await;
    let backup = |path: serde_json::Value| {
        let s = &s;
        async move {
            s.admin_req_json(
                http::Method::POST,
                "/admin/backup",
                ADMIN,
                &json!({"path": path}),
            )
            .await
        }
    };
    let r = backup(json!("relative.redb")).await;
    assert_eq!(r.expect(400)["error"], "bad_request");
    // Outside storage.backup_dir (by default the store's directory): refused, also
    // through a link that leads out of it (issue 23: any path the server could reach).
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("x.redb");
    let r = backup(json!(outside)).await;
    let e = r.expect(400);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("storage.backup_dir")
            || e.to_string().contains("storage.backup_dir"),
        "{e}"
    );
    assert!(!outside.exists());
    std::os::unix::fs::symlink(elsewhere.path(), s.dir.path().join("out")).unwrap();
    let r = backup(json!(s.dir.path().join("out").join("y.redb"))).await;
    assert_eq!(r.expect(400)["error"], "bad_request");
    assert!(!elsewhere.path().join("y.redb").exists());
    for sneaky in ["..", "/"] {
        let r = backup(json!(s.dir.path().join(sneaky))).await;
        assert_eq!(r.status, 400, "{sneaky}");
    }
    std::fs::create_dir(s.dir.path().join("backups")).unwrap();
    let file = s.dir.path().join("backups").join("x.redb");
    let v = s
        .admin_req_json(
            http::Method::POST,
            "/admin/backup",
            ADMIN,
            &json!({"path": file}),
        )
        .await
        .expect(200);
    assert_eq!(v["users"], 0);
    let r = s
        .admin_req_json(
            http::Method::POST,
            "/admin/backup",
            ADMIN,
            &json!({"path": file}),
        )
        .await;
    assert_eq!(r.expect(409)["error"], "file_exists");
}

/// A backup over existing files is refused, and the refusal names the store's copy (what
/// the command is for) before its key file; a store copy says how to use it in whole
/// sentences.
#[tokio::test]
async fn a_refused_backup_names_the_store_and_a_copy_says_how_to_use_it() {
    let mut s = Server::start("").await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.redb");
    std::fs::write(&file, "taken").unwrap();
    std::fs::write(dir.path().join("b.redb.key"), "taken").unwrap();
    let (code, _, err) = s.cli(&["backup", file.to_str().unwrap(), "--with-key"]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "{} exists; a backup never overwrites",
            file.display()
        )),
        "{err}"
    );
    let copy = dir.path().join("c.redb");
    let (code, out, err) = s.cli(&["store", "copy", "--to", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\nuse it with the same server key file (") && !out.contains("  "),
        "{out}"
    );
}
