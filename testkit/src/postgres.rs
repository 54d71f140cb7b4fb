//! A throwaway PostgreSQL cluster for the tests: `initdb` into a private directory, the
//! server on a free loopback port with its socket in that directory, one fresh database per
//! test. One cluster per test process, started on first use; the server dies with the
//! process (parent-death signal) and its directory is removed by the next process that
//! starts one. `fsync` is off: a commit survives the server's crash (a test's `stop`), not
//! the machine's. (`synchronous_commit` stays on: off, an immediate stop loses the last
//! commits, which a test that restarts its server would see as lost rows.)
//!
//! As root (CI), the server and `initdb` run as the `postgres` user that Debian's package
//! creates, since PostgreSQL refuses to run as root.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Cluster {
    bin: PathBuf,
    pub port: u16,
    dir: PathBuf,
    /// fsync on: commits as durable as a production server's (for benchmarks).
    durable: bool,
    /// The server's process id (it is killed when the test process ends).
    pid: std::sync::atomic::AtomicU32,
    run_as: Option<(u32, u32)>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL binaries' directory: `$TAPBRIDGE_PG_BIN`, else Debian's newest.
fn binaries() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("TAPBRIDGE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// The shared cluster, or why there is none. Panics under `CI=true` if PostgreSQL is missing.
pub fn cluster() -> Result<&'static Cluster, String> {
    let c = CLUSTER.get_or_init(start);
    match c {
        Ok(c) => Ok(c),
        Err(why) => {
            assert!(!crate::ci(), "CI=true and {why}");
            Err(why.clone())
        }
    }
}

/// A new, empty database of the shared cluster: its URL. `None` (after saying why) when
/// PostgreSQL is not installed outside CI.
pub fn fresh_database() -> Option<String> {
    match cluster() {
        Ok(c) => Some(c.create_database()),
        Err(why) => {
            eprintln!("SKIPPED: {why} (apt-get install postgresql)");
            None
        }
    }
}

fn start() -> Result<Cluster, String> {
    Cluster::start_private()
}

impl Cluster {
    /// A cluster of its own (for a test that stops and starts its server), removed when
    /// dropped.
    pub fn start_private() -> Result<Cluster, String> {
        Cluster::start_with(false)
    }

    /// A cluster of its own that syncs every commit to disk, as a production server does:
    /// the one to measure against.
    pub fn start_durable() -> Result<Cluster, String> {
        Cluster::start_with(true)
    }

    fn start_with(durable: bool) -> Result<Cluster, String> {
        let bin = binaries().ok_or("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin)")?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user().ok_or("running as root and there is no `postgres` user")?)
        } else {
            None
        };
        let root = std::env::temp_dir().join("tapbridge-pg");
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        // Clusters of test processes that are gone.
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                let pid = e
                    .file_name()
                    .to_str()
                    .and_then(|n| n.split('-').next())
                    .and_then(|n| n.parse::<i32>().ok());
                if let Some(pid) = pid
                    && unsafe { libc::kill(pid, 0) } != 0
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = root.join(format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).ok();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok();
        if let Some((uid, gid)) = run_as {
            chown(&dir, uid, gid)?;
        }
        let data = dir.join("data");
        let out = command(&bin.join("initdb"), run_as)
            .args([
                "-D",
                path(&data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ])
            .args(["--locale=C.UTF-8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Cluster {
            bin,
            port: free_port(),
            dir,
            durable,
            pid: Default::default(),
            run_as,
        };
        cluster.serve()?;
        Ok(cluster)
    }

    /// Starts the server (again) on the cluster's port and waits until it answers.
    pub fn serve(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = self.run_as {
            chown(&self.dir.join("server.log"), uid, gid)?;
        }
        let mut server = command(&self.bin.join("postgres"), self.run_as);
        server
            .args([
                "-D",
                path(&data),
                "-p",
                &self.port.to_string(),
                "-k",
                path(&self.dir),
            ])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(if self.durable {
                ["-c", "fsync=on", "-c", "full_page_writes=on"]
            } else {
                ["-c", "fsync=off", "-c", "full_page_writes=off"]
            })
            .args(["-c", "max_connections=400", "-c", "shared_buffers=64MB"])
            .stdout(Stdio::null())
            .stderr(log);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            server.pre_exec(|| {
                // The server dies with the test process, however that ends.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // Spawned from a thread that lives as long as the process: the parent-death signal
        // follows the spawning thread, not the process.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = server.spawn();
            let _ = tx.send(child.map(|c| c.id()).map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        });
        let pid = rx
            .recv()
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("postgres: {e}"))?;
        self.pid.store(pid, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                return Err(format!("PostgreSQL did not start: {log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops the server at once (as a crash would: `immediate`), sessions cut.
    pub fn stop(&self) {
        let _ = command(&self.bin.join("pg_ctl"), self.run_as)
            .args([
                "-D",
                path(&self.dir.join("data")),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The URL of database `name` (user `postgres`, trust authentication, TCP on loopback).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn ready(&self) -> bool {
        self.psql("postgres", "SELECT 1").is_ok()
    }

    /// Runs SQL through `psql` on database `db`.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new empty database; its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(&name)
    }

    /// Every file of the cluster's data directory, after a checkpoint wrote what the server
    /// held in memory (WAL included).
    pub fn data_files(&self) -> Vec<PathBuf> {
        let _ = self.psql("postgres", "CHECKPOINT");
        let mut out = Vec::new();
        let mut stack = vec![self.dir.join("data")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Whether the server runs as another user (root → `postgres`).
    pub fn runs_as(&self) -> Option<(u32, u32)> {
        self.run_as
    }
}

fn command(program: &Path, run_as: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(program);
    if let Some((uid, gid)) = run_as {
        c.uid(uid).gid(gid);
        c.env("HOME", "/tmp");
        c.current_dir("/tmp");
    }
    c
}

fn postgres_user() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or NULL; read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Private clusters go with their test; the shared one lives as long as the process.
impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
