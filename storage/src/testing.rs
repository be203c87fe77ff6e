//! A throwaway PostgreSQL server for tests (feature `testing`): Debian's `postgresql`
//! package, `initdb` in a temporary directory as a non-root user, a free port; stopped
//! and removed when the test process ends. `LK_TEST_PG=postgres://user@host:port`
//! points the tests at a server of your own instead. Every test gets a database of its
//! own ([`new_database`]).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The server every test of this process shares: its base URL, or why there is none.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(1);

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `cmd` as the `postgres` user when we are root (initdb refuses root).
fn as_owner(bin: PathBuf, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// A PostgreSQL cluster of the tests' own: its data directory, port and tools.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    root: bool,
}

impl Cluster {
    /// `initdb` in a new directory and a server started on a free port.
    fn create(name: &str) -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL is needed for these tests: scripts/test installs it (apt-get install postgresql)",
        )?;
        let root = is_root();
        let dir = std::env::temp_dir().join(format!("latchkey-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if root {
            let ok = Command::new("chown")
                .arg("postgres")
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(
                    "cannot hand the test database's directory to the postgres user".into(),
                );
            }
        }
        let out = as_owner(bin.join("initdb"), root)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "latchkey", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Cluster {
            port: free_port()?,
            bin,
            dir,
            root,
        };
        cluster.start()?;
        // When this process ends, however it ends, the server stops and its files go.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf {dir}",
            pid = std::process::id(),
            stop = cluster.stop_command(),
            dir = cluster.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &stop])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        Ok(cluster)
    }

    /// A cluster for one test alone (one that stops and starts its server).
    pub fn private(name: &str) -> Result<Cluster, String> {
        Cluster::create(name)
    }

    /// The server's base URL (`postgres://user@host:port`).
    pub fn url(&self) -> String {
        format!("postgres://latchkey@127.0.0.1:{}", self.port)
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=on \
             -c synchronous_commit=on -c shared_buffers=128MB",
            self.port,
            self.dir.display()
        );
        let out = as_owner(self.bin.join("pg_ctl"), self.root)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &opts, "-w", "-l"])
            .arg(self.dir.join("log"))
            .arg("start")
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the test database did not start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn stop_command(&self) -> String {
        format!(
            "{owner}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1",
            owner = if self.root {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.dir.join("data").display(),
        )
    }

    /// Stops the server at once (as a crash would: `-m immediate`).
    pub fn stop(&self) -> Result<(), String> {
        let ok = Command::new("sh")
            .args(["-c", &self.stop_command()])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err("pg_ctl stop failed".into())
        }
    }

    /// Freezes every process of the server (SIGSTOP): connections stay open, nothing
    /// answers — a database that hangs. [`Cluster::resume`] thaws it.
    pub fn pause(&self) -> Result<(), String> {
        self.signal("STOP")
    }

    /// Thaws what [`Cluster::pause`] froze.
    pub fn resume(&self) -> Result<(), String> {
        self.signal("CONT")
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        let pid = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid"))
            .map_err(|e| e.to_string())?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let ok = Command::new("sh")
            .args(["-c", &format!("kill -{sig} $(pgrep -P {pid}) {pid}")])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err(format!("cannot send SIG{sig} to the test database"))
        }
    }

    /// Ends every other connection to the server (`pg_terminate_backend`, as an
    /// administrator or a failover would): a statement under way is answered SQLSTATE
    /// 57P01. Returns how many were ended.
    pub fn terminate_connections(&self) -> Result<usize, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-d"])
            .arg(format!("{}/postgres", self.url()))
            .args([
                "-c",
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
            ])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("psql said: {e}"))
    }

    /// A new, empty database on this server; its URL.
    pub fn new_database(&self) -> Result<String, String> {
        database_on(&self.url())
    }
}

fn start() -> Result<String, String> {
    if let Ok(url) = std::env::var("LK_TEST_PG") {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let cluster = Cluster::create("shared")?;
    Ok(cluster.url())
}

/// Writes `version` as the schema version of the redb store at `path` (to test what a
/// store from a newer or older latchkey meets).
pub fn set_redb_schema_version(path: &std::path::Path, version: u64) -> Result<(), String> {
    crate::store::set_schema_version(path, version).map_err(|e| e.to_string())
}

/// The test server's base URL (`postgres://user@host:port`), started on first use.
pub fn server() -> Result<&'static str, String> {
    SERVER.get_or_init(start).as_deref().map_err(|e| e.clone())
}

/// A new, empty database on the test server; its URL.
pub fn new_database() -> Result<String, String> {
    database_on(server()?)
}

fn database_on(base: &str) -> Result<String, String> {
    let name = format!(
        "lk_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("{base}/postgres");
    let create = format!("CREATE DATABASE {name}");
    // On a thread of its own: the caller may be inside a runtime already.
    let made = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("the test database: {e}"))?;
            let driver = tokio::spawn(conn);
            let r = client
                .batch_execute(&create)
                .await
                .map_err(|e| e.to_string());
            drop(client);
            let _ = driver.await;
            r
        })
    })
    .join()
    .map_err(|_| "creating a test database panicked".to_string())?;
    made?;
    Ok(format!("{base}/{name}"))
}
