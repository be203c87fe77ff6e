//! Test support: the real `latchkey` binary on an ephemeral port with a temporary store,
//! and a small HTTP client on hyper.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// Basic credentials of the default client `web:change-me`.
pub const WEB_CLIENT: &str = "Basic d2ViOmNoYW5nZS1tZQ==";

/// Every signer choice: (format, algorithm).
pub const SIGNERS: [(&str, &str); 5] = [
    ("jwt", "EdDSA"),
    ("jwt", "ES256"),
    ("jwt", "HS256"),
    ("paseto", "v4.public"),
    ("paseto", "v4.local"),
];

/// A running server.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub base: String,
    /// The admin API's base URL, when `admin.token` is set.
    pub admin: Option<String>,
    child: Option<Child>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The test config: cheap scrypt, port 0, store in the temp dir; `extra` (TOML) is
/// merged over it.
pub fn config_text(dir: &Path, extra: &str) -> String {
    let mut base: toml::Table = toml::from_str(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n[password]\nscrypt = {{ log_n = 10, r = 8, p = 1 }}\n",
        dir.join("store.redb").display()
    ))
    .unwrap();
    merge(&mut base, toml::from_str(extra).unwrap());
    toml::to_string(&base).unwrap()
}

impl Server {
    /// Starts the binary with the test config plus `extra` TOML.
    pub async fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth.toml"), config_text(dir.path(), extra)).unwrap();
        Self::start_in(dir).await
    }

    /// Starts the binary on an existing directory (its auth.toml and store).
    pub async fn start_in(dir: tempfile::TempDir) -> Server {
        let mut s = Server {
            dir,
            base: String::new(),
            admin: None,
            child: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        s.spawn();
        s
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("auth.toml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        self.admin = None;
        if let Some(admin) = line.trim().strip_prefix("latchkey admin listening on ") {
            self.admin = Some(admin.to_string());
            line.clear();
            reader.read_line(&mut line).unwrap();
        }
        let addr = line
            .trim()
            .strip_prefix("latchkey listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "server did not start: {line:?}\n{}",
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                )
            });
        self.base = addr.to_string();
        self.child = Some(child);
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let status = child.wait().unwrap();
            assert!(status.success(), "server exited with {status}");
        }
    }

    /// Stops and starts again on the same store and config.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs the binary's command line with this server's config.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Full::new(body.into())).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
            .await
            .expect("request timed out")
            .unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    pub async fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.send(Method::POST, path, &h, body.to_string()).await
    }

    pub async fn post_form(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        self.send(Method::POST, path, &h, body.to_string()).await
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `Authorization: Bearer <t>`.
pub fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// Signs up `name` (email `name@example.com`) through the oauth family.
pub async fn oauth_signup(s: &Server, name: &str, password: &str) -> Value {
    s.post_json(
        "/users",
        &[],
        &serde_json::json!({"email": format!("{name}@example.com"), "password": password, "role": "user", "user_name": name}),
    )
    .await
    .expect(201)
}

/// Password grant in the seed's JSON dialect.
pub async fn oauth_login(s: &Server, name: &str, password: &str) -> Resp {
    s.post_json(
        "/auth/token",
        &[("authorization", WEB_CLIENT)],
        &serde_json::json!({"grant_type": "password", "user_name": name, "password": password}),
    )
    .await
}
