//! The warm scratch server (`src/throwaway/warm.rs`, issue 16 item 18): what users run — no
//! `--dev-url` — reuses one scratch PostgreSQL between runs instead of an `initdb` and a
//! start per run, and it is stopped once idle.
//!
//! Each test has a scratch home of its own (`RECONCILE_SCRATCH_DIR`, a temporary folder) and
//! a short idle time, and waits (bounded) for its server to stop before it ends. Runs are the
//! release or debug binary, as a user runs it; no timing is asserted: reuse is seen in the
//! server's process id, the rebuild in the data directory.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, text};

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");
const TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopped server may take to go (idle time + a poll + the stop itself).
const STOP_DEADLINE: Duration = Duration::from_secs(60);

const SCHEMA: &str = "\
enums:
  mood: [calm, busy]
tables:
  notes:
    columns:
      id: { type: bigint, identity: always, primary_key: true }
      body: { type: text, not_null: true, default: \"''\" }
      mood: { type: mood, not_null: true, default: \"'calm'\" }
      tags: { type: \"varchar(20)[]\", not_null: true, default: \"'{}'\" }
    checks:
      body_short: length(body) < 1000
";

struct Home {
    /// Holds the scratch home `scratch/`, which reconcile creates.
    dir: tempfile::TempDir,
    schema: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let schema = tempfile::tempdir().expect("a schema folder");
        std::fs::write(schema.path().join("notes.yaml"), SCHEMA).expect("notes.yaml");
        let dir = tempfile::tempdir().expect("a folder for the scratch home");
        // As root the server runs as the postgres OS user, which must pass through.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod");
        Home { dir, schema }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    fn data(&self) -> PathBuf {
        self.home().join(format!("pg{}", major())).join("data")
    }

    /// `reconcile plan` with no database named: the target and the scratch database are both
    /// databases of the warm server.
    fn plan(&self, idle: u64) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(["plan", "--color", "never", "--format", "sql", "--schema"])
            .arg(self.schema.path())
            .env("RECONCILE_SCRATCH_DIR", self.home())
            .env("RECONCILE_SCRATCH_IDLE", idle.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "DATABASE_URL",
            "RECONCILE_DEV_URL",
            "RECONCILE_PG_BINDIR",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSERVICE",
        ] {
            command.env_remove(var);
        }
        command
    }

    fn run(&self, idle: u64) -> Output {
        assert_cmd::Command::from_std(self.plan(idle))
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    }

    /// The running server's process id (first line of `postmaster.pid`).
    fn server_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Waits for the server to stop by itself; fails the test if it does not.
    fn wait_stopped(&self) {
        let start = Instant::now();
        while self.data().join("postmaster.pid").exists() {
            assert!(
                start.elapsed() < STOP_DEADLINE,
                "the warm scratch server in {} was not stopped after being idle",
                self.home().display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Home {
    /// A failed test must not leave a server behind: stop it (the directory goes next).
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let bindir = reconcile::throwaway::find_bindir().expect("server binaries");
            let mut stop = if unsafe_is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bindir.join("pg_ctl"));
                c
            } else {
                Command::new(bindir.join("pg_ctl"))
            };
            let _ = stop
                .args(["stop", "-m", "immediate", "-D"])
                .arg(self.data())
                .current_dir("/")
                .output();
        }
    }
}

fn unsafe_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn major() -> u32 {
    let bindir = reconcile::throwaway::find_bindir().expect("server binaries");
    reconcile::throwaway::warm::major_of(&bindir).expect("their version")
}

/// Whether process `pid` is still there a while after its pid file went (it exits just after).
fn alive(pid: i32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// The plan every run must print (the same, whoever started the server).
fn expected_plan(output: &Output) -> String {
    assert_exit(output, 2);
    let sql = text(&output.stdout);
    assert!(sql.contains("CREATE TABLE"), "{sql}");
    sql
}

/// Regression (issue 16 item 18): every plan without `--dev-url` ran `initdb` and started a
/// server. Now the second run reuses the first one's server (same process), concurrent runs
/// share it (each with a database of its own) and print the same plan, and once idle it is
/// stopped — and started again, without a new `initdb`, by the next run.
#[test]
fn the_scratch_server_is_reused_shared_and_stopped_when_idle() {
    let home = Home::new();
    let first = expected_plan(&home.run(3));
    let pid = home.server_pid().expect("a running warm server");
    let version_file = std::fs::metadata(home.data().join("PG_VERSION")).expect("PG_VERSION");

    let second = home.run(3);
    assert_eq!(expected_plan(&second), first);
    assert_eq!(home.server_pid(), Some(pid), "the server was not reused");

    let children: Vec<Child> = (0..4)
        .map(|_| home.plan(3).spawn().expect("spawn reconcile"))
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait for reconcile");
        assert_eq!(expected_plan(&output), first, "{}", text(&output.stderr));
    }
    assert_eq!(home.server_pid(), Some(pid), "concurrent runs restarted it");

    home.wait_stopped();
    assert!(!alive(pid), "postmaster {pid} is still running");

    let again = home.run(3);
    assert_eq!(expected_plan(&again), first);
    let restarted = home.server_pid().expect("started again");
    assert_ne!(restarted, pid);
    let after = std::fs::metadata(home.data().join("PG_VERSION")).expect("PG_VERSION");
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&after),
        std::os::unix::fs::MetadataExt::ino(&version_file),
        "the data directory was made anew instead of reused"
    );
    home.wait_stopped();
}

/// `kill -9` of runs at different moments leaves nothing that stops the next run: their locks
/// and databases are released with them.
#[test]
fn runs_killed_with_sigkill_leave_the_server_usable() {
    let home = Home::new();
    let first = expected_plan(&home.run(5));
    for delay_ms in [0, 50, 150, 300] {
        let mut child = home.plan(5).spawn().expect("spawn reconcile");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
    let output = home.run(5);
    assert_eq!(expected_plan(&output), first, "{}", text(&output.stderr));
    home.wait_stopped();
}

/// A data directory the server cannot start from (here: its control file is gone, as after a
/// crash with durability off) is rebuilt, and the run succeeds.
#[test]
fn a_damaged_data_directory_is_rebuilt() {
    let home = Home::new();
    let first = expected_plan(&home.run(2));
    home.wait_stopped();
    std::fs::remove_file(home.data().join("global/pg_control")).expect("remove pg_control");
    let output = home.run(2);
    assert_eq!(expected_plan(&output), first, "{}", text(&output.stderr));
    assert!(home.data().join("global/pg_control").exists());
    home.wait_stopped();
}

/// With `RECONCILE_SCRATCH_IDLE=0` no server is kept: a private cluster per run, as before.
#[test]
fn idle_zero_keeps_no_server() {
    let home = Home::new();
    let output = home.run(0);
    expected_plan(&output);
    assert!(
        !home.data().exists(),
        "a warm server was made although it is turned off"
    );
}

/// The installed version matching the target's is preferred; an unknown one falls back to
/// the default binaries.
#[test]
fn a_matching_installed_version_is_preferred() {
    let m = major();
    let (dir, got) = reconcile::throwaway::warm::bindir_for(Some(m)).expect("binaries");
    assert_eq!(got, m);
    assert!(dir.join("initdb").exists());
    let (_, fallback) = reconcile::throwaway::warm::bindir_for(Some(4)).expect("binaries");
    assert_eq!(
        fallback, m,
        "PostgreSQL 4 is not installed: the default is used"
    );
}
