//! Test support: the real `latchkey` binary on an ephemeral port with a temporary store,
//! and a small HTTP client on hyper.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
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
    /// Extra environment of the server process.
    pub env: Vec<(String, String)>,
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

pub fn merge(base: &mut toml::Table, over: toml::Table) {
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
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\nkey_file = \"{}\"\n[password]\nscrypt = {{ log_n = 10, r = 8, p = 1 }}\n[log]\nformat = \"human\"\n",
        dir.join("store.redb").display(),
        dir.join("store.redb.key").display()
    ))
    .unwrap();
    // A test that names its backend gets it; the others get the run's.
    let names_backend = toml::from_str::<toml::Table>(extra)
        .ok()
        .is_some_and(|t| t.get("storage").and_then(|s| s.get("backend")).is_some());
    if on_postgres() && !names_backend {
        let url = storage::testing::new_database().unwrap();
        merge(
            &mut base,
            toml::from_str(&format!(
                "[storage]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 8\n"
            ))
            .unwrap(),
        );
    }
    merge(&mut base, toml::from_str(extra).unwrap());
    toml::to_string(&base).unwrap()
}

/// `extra` with the redb backend asked for: for the tests of the store file itself,
/// which run on redb whatever backend the run tests.
pub fn redb(extra: &str) -> String {
    let mut t: toml::Table = toml::from_str(extra).unwrap();
    merge(
        &mut t,
        toml::from_str("[storage]\nbackend = \"redb\"\n").unwrap(),
    );
    toml::to_string(&t).unwrap()
}

/// Whether this run tests the PostgreSQL backend (`LK_TEST_BACKEND=postgres`):
/// every server a test starts keeps its data in a database of its own on the test
/// PostgreSQL server. Tests of the redb file itself ask for it in their configuration.
pub fn on_postgres() -> bool {
    std::env::var("LK_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

impl Server {
    /// Makes group `name` through the admin API (`token`); one that exists is fine.
    pub async fn group(&self, token: &str, name: &str) {
        let r = self
            .admin_req_json(
                Method::POST,
                "/admin/groups",
                token,
                &serde_json::json!({"name": name}),
            )
            .await;
        assert!(matches!(r.status.as_u16(), 201 | 409), "{}", r.status);
    }

    /// Starts the binary with the test config plus `extra` TOML.
    pub async fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth.toml"), config_text(dir.path(), extra)).unwrap();
        Self::start_in(dir).await
    }

    /// Starts the binary with the test config plus `extra` TOML and environment `env`.
    pub async fn start_with_env(extra: &str, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth.toml"), config_text(dir.path(), extra)).unwrap();
        Self::start_in_with_env(dir, env).await
    }

    /// Starts the binary on an existing directory (its auth.toml and store).
    pub async fn start_in(dir: tempfile::TempDir) -> Server {
        Self::start_in_with_env(dir, &[]).await
    }

    pub async fn start_in_with_env(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            dir,
            base: String::new(),
            admin: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
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
        // `FD_LIMIT` or `UMASK` in the environment: run under `ulimit -n` (file
        // descriptors) or `umask`.
        let setting = |name: &str| self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let mut shell = Vec::new();
        if let Some(n) = setting("FD_LIMIT") {
            shell.push(format!("ulimit -n {n}"));
        }
        if let Some(n) = setting("FD_SOFT_LIMIT") {
            shell.push(format!("ulimit -Sn {n}"));
        }
        if let Some(m) = setting("UMASK") {
            shell.push(format!("umask {m}"));
        }
        let mut cmd = if shell.is_empty() {
            Command::new(BIN)
        } else {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{} && exec \"$0\" \"$@\"", shell.join(" && ")))
                .arg(BIN);
            c
        };
        let mut child = cmd
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .env("RUST_LOG", "debug")
            .envs(
                self.env
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "FD_LIMIT" | "FD_SOFT_LIMIT" | "UMASK"))
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
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

    /// SIGKILL from a shared reference (a server other tasks still send requests to);
    /// the process is reaped when the `Server` goes.
    pub fn kill_now(&self) {
        if let Some(child) = &self.child {
            Command::new("kill")
                .args(["-KILL", &child.id().to_string()])
                .status()
                .unwrap();
        }
    }

    /// Waits at most `within` for the server to exit by itself; its exit status.
    pub fn wait_exit(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("a running server");
        let until = std::time::Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > until {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("the server did not exit within {within:?}\n{}", self.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The store this server's configuration names, opened from the test (the server
    /// stopped, for redb).
    pub fn open_store(&self) -> storage::Store {
        let cfg: toml::Table =
            toml::from_str(&std::fs::read_to_string(self.config_path()).unwrap()).unwrap();
        let st = &cfg["storage"];
        match st.get("backend").and_then(|b| b.as_str()) {
            Some("postgres") => storage::Store::connect(st["url"].as_str().unwrap(), 2).unwrap(),
            _ => storage::Store::open(std::path::Path::new(st["path"].as_str().unwrap())).unwrap(),
        }
    }

    /// Kills the server (SIGKILL: no shutdown at all, as in a power cut for the process).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts again after `stop` or `kill`.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Stops and starts again on the same store and config.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs the binary's command line with this server's config.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        cli_with_input(&self.config_path(), args, "")
    }

    /// Runs the command line with `input` on its standard input (not a terminal).
    pub fn cli_with_input(&self, args: &[&str], input: &str) -> (i32, String, String) {
        cli_with_input(&self.config_path(), args, input)
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

    /// A JSON POST with `access` as its bearer token.
    pub async fn post_bearer(&self, path: &str, access: &str, body: &Value) -> Resp {
        self.post_json(path, &[("authorization", &bearer(access))], body)
            .await
    }

    /// `GET /session/me` with `access`: the user, or a panic with the answer.
    pub async fn session_me(&self, access: &str) -> Value {
        self.get("/session/me", &[("authorization", &bearer(access))])
            .await
            .expect(200)
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

/// Runs the command line with `--config config` and `input` on its standard input.
pub fn cli_with_input(config: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The command may exit before reading (a refusal): a broken pipe is fine.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of the line `name   value` of a command's output (`user show`).
pub fn line_value(out: &str, name: &str) -> Option<String> {
    out.lines().find_map(|l| {
        l.strip_prefix(name)?
            .strip_prefix(' ')
            .map(|v| v.trim().to_string())
    })
}

/// Now, Unix milliseconds (for TOTP codes the tests compute).
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
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

impl Server {
    /// A request to the admin API, with `token` as bearer when given.
    pub async fn admin_req(&self, method: Method, path: &str, token: Option<&str>) -> Resp {
        self.admin_send(method, path, token, None).await
    }

    /// A request to the admin API with a JSON body.
    pub async fn admin_req_json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Resp {
        self.admin_send(method, path, Some(token), Some(body)).await
    }

    async fn admin_send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let url = format!("{}{path}", self.admin.as_ref().expect("admin API is off"));
        let mut req = Request::builder().method(method).uri(url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let resp = self
            .client
            .request(req.body(Full::new(bytes)).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

static VENV: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);

/// The Python of a virtualenv under `target/tmp` holding `tests/interop/requirements.txt`
/// (real clients and a real SMTP server): made by `scripts/test`, or here on first use.
/// A failure is remembered: every test that needs it fails with the same one line, and
/// pip is not run again.
pub fn python() -> PathBuf {
    let mut guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let made = guard.get_or_insert_with(make_venv);
    match made {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn make_venv() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reqs = root.join("tests/interop/requirements.txt");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let py = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    let wanted = std::fs::read_to_string(&reqs).map_err(|e| e.to_string())?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(py);
    }
    let venv_ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !venv_ok {
        return Err("python3 -m venv failed: scripts/test installs python3-venv".into());
    }
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
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "pip could not install tests/interop/requirements.txt (is PyPI reachable?): {last}"
        ));
    }
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    Ok(py)
}

static NODE_MODULES: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);

/// A directory under `target/tmp` holding `tests/interop/package.json`'s packages (real
/// relying-party libraries from npm), installed from its lock file by `scripts/test`, or
/// here on first use. Scripts that use them are copied in and run from there.
pub fn node_modules() -> PathBuf {
    let mut guard = NODE_MODULES.lock().unwrap_or_else(|e| e.into_inner());
    match guard.get_or_insert_with(make_node_modules) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn make_node_modules() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-node");
    let lock = std::fs::read_to_string(src.join("package-lock.json")).map_err(|e| e.to_string())?;
    let stamp = dir.join("installed-lock.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(src.join(f), dir.join(f)).map_err(|e| e.to_string())?;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("npm: {e} (Node.js and npm are needed for the interop tests)"))?;
    if !out.status.success() {
        return Err(format!(
            "npm ci in {} failed (is the npm registry reachable?): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(&stamp, lock).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Runs `tests/interop/<script>` with `args` and returns its trimmed stdout.
pub fn py(script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let out = Command::new(python())
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A free TCP port on loopback (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server (aiosmtpd, `tests/interop/smtp_sink.py`) on a free port. It refuses
/// recipients at `refused.example` with 550 and keeps every accepted message.
pub struct Smtp {
    child: Option<Child>,
    pub port: u16,
    pub maildir: tempfile::TempDir,
}

impl Smtp {
    /// Starts the sink; `extra` are its options (`--starttls CERT KEY`, `--auth U P`, ...).
    pub fn start(extra: &[&str]) -> Smtp {
        let py = python();
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/smtp_sink.py");
        let mut child = Command::new(py)
            .arg(script)
            .arg(port.to_string())
            .arg(maildir.path())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "SMTP sink did not start");
        Smtp {
            child: Some(child),
            port,
            maildir,
        }
    }

    /// The `[mail]` section that points latchkey at this server.
    pub fn config(&self, tls: &str) -> String {
        format!("[mail]\ntransport = \"smtp\"\nfrom = \"latchkey test <auth@latchkey.test>\"\nsmtp = {{ host = \"127.0.0.1\", port = {}, tls = \"{tls}\" }}\n", self.port)
    }

    /// Envelopes of the messages received so far, in order: (file stem, recipients).
    fn received(&self) -> Vec<(String, Value)> {
        let mut names: Vec<String> = std::fs::read_dir(self.maildir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let stem = n.trim_end_matches(".eml").to_string();
                let env = std::fs::read_to_string(self.maildir.path().join(format!("{stem}.json")))
                    .unwrap();
                (stem, serde_json::from_str(&env).unwrap())
            })
            .collect()
    }

    /// How many messages went to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.received()
            .iter()
            .filter(|(_, e)| e["to"].as_array().unwrap().iter().any(|r| r == to))
            .count()
    }

    /// The `n`-th message (1-based) to `to`, parsed by Python's MIME parser, waiting for it
    /// up to 10 s. Its envelope is under `"envelope"`.
    pub async fn wait_mail(&self, to: &str, n: usize) -> Value {
        for _ in 0..200 {
            let mine: Vec<(String, Value)> = self
                .received()
                .into_iter()
                .filter(|(_, e)| e["to"].as_array().unwrap().iter().any(|r| r == to))
                .collect();
            if let Some((stem, envelope)) = mine.get(n - 1) {
                let file = self.maildir.path().join(format!("{stem}.eml"));
                let mut parsed: Value =
                    serde_json::from_str(&py("read_mail.py", &[file.to_str().unwrap()])).unwrap();
                parsed["envelope"] = envelope.clone();
                return parsed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no message {n} to {to} arrived");
    }

    /// Stops the server (connections to its port are refused from then on).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The session code in a mail's text: the one `XXXX-XXXX-XXXX` group.
pub fn session_code_of(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    text.split_whitespace()
        .find(|w| w.len() == 14 && w.chars().filter(|c| *c == '-').count() == 2)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}

/// The service in-process, on a real store in a temp dir, with a [`FakeClock`] and an
/// [`Outbox`] for mail: for the time-dependent rules, tested without sleeping. (The
/// wire is tested against the real binary.)
pub struct InProcess {
    pub svc: latchkey::service::Service,
    pub clock: latchkey::clock::FakeClock,
    pub outbox: latchkey::mail::Outbox,
    _dir: tempfile::TempDir,
}

/// 2027-01-01T00:00:00Z, in Unix milliseconds: where fake clocks start.
pub const T0: i64 = 1_798_761_600_000;

impl InProcess {
    /// A service with the test defaults (cheap scrypt) changed by `adjust`.
    pub fn new(adjust: impl FnOnce(&mut latchkey::config::Config)) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = latchkey::config::Config::default();
        raw.storage.path = dir.path().join("store.redb");
        raw.password.scrypt.log_n = 10;
        adjust(&mut raw);
        let cfg = raw.validate().unwrap();
        let store = storage::Store::open(&cfg.storage.path).unwrap();
        let clock = latchkey::clock::FakeClock::at(latchkey::clock::UnixMillis::from_millis(T0));
        let outbox = latchkey::mail::Outbox::default();
        let mailer = latchkey::mail::Mailer::to_outbox(&cfg.mail, cfg.brand(), outbox.clone());
        let svc = latchkey::service::Service::with_mailer(
            cfg,
            store,
            std::sync::Arc::new(clock.clone()),
            mailer,
        )
        .unwrap();
        InProcess {
            svc,
            clock,
            outbox,
            _dir: dir,
        }
    }

    /// Now, on the fake clock (Unix milliseconds).
    pub fn now_ms(&self) -> i64 {
        latchkey::clock::Clock::now(&self.clock).millis()
    }

    /// Moves the fake clock forward.
    pub fn advance(&self, secs: f64) {
        self.clock.advance(Duration::from_secs_f64(secs));
    }

    /// Runs one operation.
    pub async fn run(
        &self,
        op: protocol::Operation,
    ) -> Result<protocol::Outcome, protocol::Failure> {
        self.svc.execute(op, latchkey::limits::Source::LOCAL).await
    }

    /// Signs up `name` (email `name@example.com`) with `password` and signs in: tokens.
    pub async fn sign_up(&self, name: &str, password: &str) -> protocol::Tokens {
        let user = protocol::NewUser {
            email: Some(format!("{name}@example.com")),
            username: Some(name.to_string()),
            password: Some(protocol::Secret(password.to_string())),
            ..protocol::NewUser::default()
        };
        match self
            .run(protocol::Operation::SignUp {
                user,
                sign_in: true,
            })
            .await
        {
            Ok(protocol::Outcome::Tokens(t)) => t,
            other => panic!("sign-up: {other:?}"),
        }
    }

    /// A password sign-in.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<protocol::Outcome, protocol::Failure> {
        self.run(protocol::Operation::PasswordSignIn {
            login: login.to_string(),
            password: protocol::Secret(password.to_string()),
            client: None,
            activate: false,
            second: protocol::SecondFactor::Inline(None),
        })
        .await
    }

    /// Rotates a refresh token.
    pub async fn refresh(&self, token: &str) -> Result<protocol::Outcome, protocol::Failure> {
        self.run(protocol::Operation::Refresh {
            refresh_token: token.to_string(),
            client: None,
        })
        .await
    }

    /// The current user of an access token.
    pub async fn me(&self, access: &str) -> Result<protocol::Outcome, protocol::Failure> {
        self.run(protocol::Operation::as_user(
            protocol::Bearer::Token(access.to_string()),
            protocol::UserOp::CurrentUser,
        ))
        .await
    }

    /// The session code of the `n`-th (1-based) message to `to` in the outbox.
    pub fn code_to(&self, to: &str, n: usize) -> String {
        let mail = self
            .outbox
            .messages()
            .into_iter()
            .filter(|m| m.to == to)
            .nth(n - 1)
            .unwrap_or_else(|| panic!("no message {n} to {to}"));
        mail.text
            .split_whitespace()
            .find(|w| w.len() == 14 && w.chars().filter(|c| *c == '-').count() == 2)
            .unwrap_or_else(|| panic!("no code in {}", mail.text))
            .to_string()
    }
}

/// The tokens of an outcome, or a panic saying what came instead.
#[track_caller]
pub fn tokens(r: Result<protocol::Outcome, protocol::Failure>) -> protocol::Tokens {
    match r {
        Ok(protocol::Outcome::Tokens(t)) => t,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// The TOTP code of `secret` (base32, as enrolment shows it) at `ms` (Unix milliseconds),
/// from totp-rs as an authenticator app computes it.
pub fn totp_at(secret_b32: &str, ms: i64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    )
    .generate(u64::try_from(ms / 1000).unwrap())
}

/// A real nginx (Debian's package) on a free loopback port, stopped when dropped.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// nginx with one server on `127.0.0.1:<port>` whose body (locations) is `server`.
    pub async fn start(server: &str) -> Nginx {
        Self::start_http("", server).await
    }

    /// nginx with `http` in its `http` block (an `upstream`, say) and one server whose
    /// body is `server`.
    pub async fn start_http(http: &str, server: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"worker_processes 1;
daemon off;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
{http}
  server {{
    listen 127.0.0.1:{port};
{server}
  }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is needed (scripts/test installs it)");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .spawn()
            .unwrap();
        let log = dir.path().join("error.log");
        // Owned at once, so it is stopped (Drop) whatever happens next.
        let n = Nginx {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}
