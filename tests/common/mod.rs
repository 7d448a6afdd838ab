//! Shared integration-test harness, a module of each test target (`tests/suite`,
//! `tests/corpus`).
//!
//! * One PostgreSQL server per test process: a throwaway cluster
//!   ([`reconcile::throwaway::Cluster`]) started lazily on first use, or, if
//!   `DATABASE_URL` is set, that server (the database in the URL is only used
//!   to run `CREATE DATABASE` / `DROP DATABASE`).
//! * [`fresh_db`] creates a new, uniquely named, empty database for one test,
//!   so tests run in parallel; dropping the [`TestDb`] drops the database.
//!
//! The throwaway cluster lives in a `static` and is therefore never dropped;
//! its reaper process stops it and deletes its directory when the test
//! process exits (see `src/throwaway.rs`).
//!
//! `fresh_db()` and `Drop` are synchronous and safe to call from plain
//! `#[test]`s and from `#[tokio::test]`s of either flavour: the SQL runs on a
//! short-lived thread with its own current-thread tokio runtime.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod drift;
pub mod generate;
pub mod migrate;
pub mod yaml_schema;

use reconcile::throwaway::{self, Cluster};
use sqlx::Connection;

/// The server the tests of this process use.
enum Server {
    /// Our own throwaway cluster.
    Throwaway(Cluster),
    /// `DATABASE_URL`: connect there to create and drop databases.
    External { admin_url: String },
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Server::External {
            admin_url: url.trim().to_string(),
        },
        _ => {
            Server::Throwaway(Cluster::start().unwrap_or_else(|e| {
                panic!("could not start a throwaway PostgreSQL for tests: {e}")
            }))
        }
    })
}

/// The throwaway cluster of this test process, or `None` when the tests use
/// `DATABASE_URL`. Starts the cluster if needed.
pub fn cluster() -> Option<&'static Cluster> {
    match server() {
        Server::Throwaway(cluster) => Some(cluster),
        Server::External { .. } => None,
    }
}

/// URL of `database` on the test server.
pub fn url_for(database: &str) -> String {
    match server() {
        Server::Throwaway(cluster) => cluster.url(database),
        Server::External { admin_url } => replace_database(admin_url, database),
    }
}

/// URL of the administrative database (`postgres` on the throwaway cluster,
/// the `DATABASE_URL` itself otherwise).
pub fn admin_url() -> String {
    match server() {
        Server::Throwaway(cluster) => cluster.url("postgres"),
        Server::External { admin_url } => admin_url.clone(),
    }
}

/// A database created for one test; dropped (`WITH (FORCE)`) on drop.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL of the database.
    pub url: String,
    /// Database name (`t_<pid>_<counter>_<random>`, needs no quoting).
    pub name: String,
}

/// Creates a new empty database with a unique name on the test server.
/// Panics (failing the test) if the server cannot be reached.
pub fn fresh_db() -> TestDb {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_u32()
    );
    let url = url_for(&name);
    admin_sql(format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("could not create test database {name}: {e}"));
    TestDb { url, name }
}

impl TestDb {
    /// Runs the SQL file with `psql -X -q -v ON_ERROR_STOP=1 -f PATH`;
    /// `Err` holds psql's stderr (and the exit status) on failure.
    pub fn psql_file(&self, path: &Path) -> Result<(), String> {
        let output = Command::new(psql_bin())
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url)
            .arg("-f")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not run psql ({}): {e}", psql_bin().display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "psql failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// Runs SQL text (any number of statements, executed one by one as from
    /// a file, stopping at the first error) and returns psql's stdout in
    /// unaligned, tuples-only form (`-A -t`): one line per row, columns
    /// separated by `|`, e.g. `"1|a\n2|b\n"`. `Err` holds psql's stderr.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let file = tempfile::Builder::new()
            .prefix("reconcile-test-")
            .suffix(".sql")
            .tempfile()
            .map_err(|e| format!("could not create a temporary SQL file: {e}"))?;
        std::fs::write(file.path(), sql)
            .map_err(|e| format!("could not write {}: {e}", file.path().display()))?;
        let output = Command::new(psql_bin())
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url)
            .arg("-f")
            .arg(file.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not run psql ({}): {e}", psql_bin().display()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "psql failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// A new single connection to this database (panics on failure). Use it
    /// from the test's own tokio runtime; close it or let it drop.
    pub async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("could not connect to {}: {e}", self.url))
    }

    /// A small connection pool on this database (panics on failure), for
    /// code under test that wants a pool.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("could not connect to {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // FORCE terminates connections the test may still hold open.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = admin_sql(sql) {
            // Never panic in drop (it may run during unwinding).
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on the administrative database, on a separate thread
/// with its own runtime, so that callers inside a tokio runtime are fine.
fn admin_sql(sql: String) -> Result<(), String> {
    let url = admin_url();
    std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("could not build a tokio runtime: {e}"))?;
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| format!("could not connect to {url}: {e}"))?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "admin SQL thread panicked".to_string())?
}

/// `psql` from the cluster's bindir (or the discovered PostgreSQL bindir),
/// else `psql` on `PATH`.
pub fn psql_bin() -> PathBuf {
    static PSQL: OnceLock<PathBuf> = OnceLock::new();
    PSQL.get_or_init(|| {
        let bindir = match cluster() {
            Some(cluster) => Some(cluster.bindir().to_path_buf()),
            None => throwaway::find_bindir().ok(),
        };
        bindir
            .map(|dir| dir.join("psql"))
            .filter(|psql| psql.is_file())
            .unwrap_or_else(|| PathBuf::from("psql"))
    })
    .clone()
}

/// `url` with its database (path) replaced by `database`, query kept.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{}", &base[..path_start], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() as u32
}

/// A process's output as text (lossy: a test should show whatever came out).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a command's exit code, showing both streams when it differs (a `None` code means
/// it was killed, e.g. by a test's hang guard).
pub fn assert_exit(output: &std::process::Output, expected: i32) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}
