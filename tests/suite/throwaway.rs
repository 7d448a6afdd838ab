//! Tests of the throwaway PostgreSQL cluster (`src/throwaway.rs`) and of the
//! shared test harness (`tests/common/mod.rs`). Everything runs against real
//! PostgreSQL servers.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reconcile::throwaway::Cluster;
use sqlx::Connection;

/// Upper bound for waiting on asynchronous cleanup (not a timing assertion:
/// it only keeps a broken cleanup from hanging the test run).
const PATIENCE: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn accepts_connections(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// Is `pid` a live (non-zombie) process?
fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Live processes whose command line mentions `needle` (the postmaster has
/// `-D <dir>/data`, the reaper has the directory among its arguments).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) && pid_alive(pid) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

fn postmaster_pid(data_dir: &Path) -> u32 {
    let pid_file = std::fs::read_to_string(data_dir.join("postmaster.pid")).unwrap();
    pid_file.lines().next().unwrap().trim().parse().unwrap()
}

/// Waits until the cluster is gone without a trace: directory removed,
/// postmaster dead, no process (server or reaper) referring to the
/// directory, port closed.
fn assert_cleaned_up(dir: &Path, pid: u32, port: u16) {
    wait_until(&format!("{} is removed", dir.display()), || !dir.exists());
    wait_until(&format!("postmaster {pid} exits"), || !pid_alive(pid));
    wait_until("no process refers to the cluster directory", || {
        processes_mentioning(dir).is_empty()
    });
    wait_until(&format!("port {port} is closed"), || {
        !accepts_connections(port)
    });
}

#[tokio::test]
async fn cluster_runs_postgres_and_drop_removes_it() {
    // Async callers start clusters on a blocking thread.
    let cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .unwrap()
        .unwrap();
    let port = cluster.port();
    let dir = cluster.dir().to_path_buf();
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    assert!(cluster.data_dir().starts_with(&dir));
    assert!(cluster.bindir().join("initdb").is_file());
    assert_eq!(
        cluster.url("postgres"),
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );

    let mut conn = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    let (version,): (String,) = sqlx::query_as("SELECT version()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(version.starts_with("PostgreSQL "), "{version}");
    let (max_connections,): (String,) = sqlx::query_as("SHOW max_connections")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(max_connections.parse::<u32>().unwrap() >= 100);
    conn.close().await.unwrap();

    let pid = postmaster_pid(cluster.data_dir());
    assert!(pid_alive(pid));
    assert!(!processes_mentioning(&dir).is_empty());

    drop(cluster);
    // Drop is synchronous: the directory is gone when it returns.
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
    assert_cleaned_up(&dir, pid, port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_dbs_are_distinct_and_usable_in_parallel() {
    let a = common::fresh_db();
    let b = common::fresh_db();
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);

    async fn fill(db: &common::TestDb, table: &'static str) -> String {
        let mut conn = db.connect().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (id int PRIMARY KEY); \
             INSERT INTO {table} SELECT generate_series(1, 1000);"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        let (current,): (String,) = sqlx::query_as("SELECT current_database()::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        current
    }
    let (in_a, in_b) = tokio::join!(fill(&a, "only_in_a"), fill(&b, "only_in_b"));
    assert_eq!(in_a, a.name);
    assert_eq!(in_b, b.name);

    let mut conn_b = b.connect().await;
    let (seen,): (Option<String>,) = sqlx::query_as("SELECT to_regclass('only_in_a')::text")
        .fetch_one(&mut conn_b)
        .await
        .unwrap();
    assert_eq!(seen, None, "a table of database a is visible in database b");

    let name_a = a.name.clone();
    drop(a);
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name_a)
        .fetch_one(&mut conn_b)
        .await
        .unwrap();
    assert_eq!(left, 0, "dropping a TestDb drops its database");
}

#[test]
fn psql_helpers_run_sql_and_report_errors() {
    let db = common::fresh_db();
    assert_eq!(
        db.psql("CREATE TABLE t (x int, y text); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
            .unwrap(),
        ""
    );
    assert_eq!(
        db.psql("SELECT x, y FROM t ORDER BY x").unwrap(),
        "1|a\n2|b\n"
    );
    let err = db.psql("SELECT * FROM missing_table").unwrap_err();
    assert!(err.contains("missing_table"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sql");
    std::fs::write(&good, "CREATE VIEW v AS SELECT sum(x) AS s FROM t;\n").unwrap();
    db.psql_file(&good).unwrap();
    assert_eq!(db.psql("SELECT s FROM v").unwrap(), "3\n");

    // ON_ERROR_STOP: the statement after the error does not run.
    let bad = dir.path().join("bad.sql");
    std::fs::write(&bad, "SELECT 1/0;\nCREATE TABLE after_error ();\n").unwrap();
    let err = db.psql_file(&bad).unwrap_err();
    assert!(err.contains("division by zero"), "{err}");
    assert_eq!(
        db.psql("SELECT to_regclass('after_error') IS NULL")
            .unwrap(),
        "t\n"
    );
}

#[test]
fn replace_database_keeps_the_rest_of_the_url() {
    assert_eq!(
        common::replace_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t_1"),
        "postgres://u:p@h:5432/t_1?sslmode=disable"
    );
    assert_eq!(
        common::replace_database("postgres://h", "t_1"),
        "postgres://h/t_1"
    );
}

// ---------------------------------------------------------------------------
// Cleanup when the owning process dies without running destructors.
//
// The tests below re-run this test binary as a child process that starts a
// cluster (kept in a static, like the harness does), reports where it is and
// then dies in various ways. The reaper must clean up every time.

const CHILD_ENV: &str = "RECONCILE_THROWAWAY_TEST_CHILD";
const CHILD_TEST: &str = "child_process_holding_a_cluster";

/// The child test's name as the harness filters it (`--exact`): with its module path, less
/// the crate's name.
fn child_test_path() -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{CHILD_TEST}"),
        None => CHILD_TEST.to_owned(),
    }
}

/// Not a test by itself: the body of the child process of the tests below.
#[test]
#[ignore = "helper run in a child process by the reaper tests"]
fn child_process_holding_a_cluster() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    // A background job of a non-interactive shell inherits SIGINT ignored;
    // a process in a terminal would not.
    // SAFETY: restoring the default disposition of SIGINT.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    static HELD: OnceLock<Cluster> = OnceLock::new();
    let cluster = HELD.get_or_init(|| Cluster::start().unwrap());
    // Leading newline: libtest may have printed "test name ... " already.
    println!();
    println!("CLUSTER_DIR={}", cluster.dir().display());
    println!("CLUSTER_PORT={}", cluster.port());
    println!("CLUSTER_PID={}", postmaster_pid(cluster.data_dir()));
    println!("CLUSTER_READY");
    if mode == "exit" {
        // Like the end of a test process: statics are not dropped.
        std::process::exit(0);
    }
    // Wait to be killed. Should the parent test process die first (its end
    // of our stdin closes), or nobody kill us, exit anyway: no stray child
    // outlives the test run (the reaper then cleans up as in the exit case).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(PATIENCE);
    std::process::exit(1);
}

struct ChildCluster {
    dir: PathBuf,
    port: u16,
    pid: u32,
}

/// Starts the child process; returns it (still running, in its own process
/// group) and what it reported about its cluster.
fn spawn_child(mode: &str) -> (std::process::Child, ChildCluster) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(child_test_path())
        .args(["--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, mode)
        // Kept open (in the returned Child) while the child should live.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut dir, mut port, mut pid) = (None, None, None);
    let mut transcript = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(v) = line.strip_prefix("CLUSTER_DIR=") {
            dir = Some(PathBuf::from(v));
        } else if let Some(v) = line.strip_prefix("CLUSTER_PORT=") {
            port = Some(v.parse().unwrap());
        } else if let Some(v) = line.strip_prefix("CLUSTER_PID=") {
            pid = Some(v.parse().unwrap());
        } else if line == "CLUSTER_READY" {
            break;
        }
    }
    match (dir, port, pid) {
        (Some(dir), Some(port), Some(pid)) => {
            assert!(dir.is_dir());
            assert!(pid_alive(pid));
            (child, ChildCluster { dir, port, pid })
        }
        _ => {
            let status = child.wait().unwrap();
            panic!("child did not report its cluster ({status}):\n{transcript}");
        }
    }
}

#[test]
fn reaper_cleans_up_after_kill_9() {
    let (mut child, cluster) = spawn_child("kill");
    child.kill().unwrap(); // SIGKILL: no destructor, no handler runs
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert_cleaned_up(&cluster.dir, cluster.pid, cluster.port);
}

#[test]
fn reaper_cleans_up_after_ctrl_c() {
    let (mut child, cluster) = spawn_child("sigint");
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground
    // process group (the child is the leader of its own group).
    let pgid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) on a process group we created.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    assert_cleaned_up(&cluster.dir, cluster.pid, cluster.port);
}

#[test]
fn reaper_cleans_up_after_exit_with_cluster_in_a_static() {
    let (mut child, cluster) = spawn_child("exit");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_cleaned_up(&cluster.dir, cluster.pid, cluster.port);
}
