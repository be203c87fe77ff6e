//! Real clients, unmodified: Authlib (OAuth2 password and refresh grants), PyJWT through
//! the JWKS, pyseto through PASERK. They live in a Python virtualenv under
//! `target/tmp`, made on first use from `tests/interop/requirements.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::*;

static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

fn python() -> PathBuf {
    let mut guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref() {
        return p.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reqs = root.join("tests/interop/requirements.txt");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let py = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&reqs).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
        let out = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&reqs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    *guard = Some(py.clone());
    py
}

async fn run_clients(format: &str, algorithm: &str) {
    let s = Server::start(&format!("[tokens]\nformat = \"{format}\"\nalgorithm = \"{algorithm}\"\nissuer = \"https://auth.interop.test\"\n")).await;
    let py = tokio::task::spawn_blocking(python).await.unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/clients.py");
    let base = s.base.clone();
    let alg = algorithm.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .args([base.as_str(), alg.as_str(), "https://auth.interop.test"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{algorithm}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("interop ok"));
}

#[tokio::test]
async fn authlib_and_pyjwt_with_eddsa() {
    run_clients("jwt", "EdDSA").await;
}

#[tokio::test]
async fn authlib_and_pyjwt_with_es256() {
    run_clients("jwt", "ES256").await;
}

#[tokio::test]
async fn authlib_and_pyseto_with_v4_public() {
    run_clients("paseto", "v4.public").await;
}
