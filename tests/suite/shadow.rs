//! `reconcile shadow`, the pull-request rehearsal, on real PostgreSQL: the Markdown report of
//! a rehearsal (snapshot, timings off), a failing migration (exit 5, file:line, the files not
//! run), drift left (exit 2 / 3, `--fail-on-drift`), a failed assertion (exit 4), a missing
//! desired-state folder, `--shadow-url` (an empty database is used, a non-empty one refused),
//! and that no throwaway cluster survives the command: after success, after a failure, and
//! after SIGINT / SIGTERM arriving while a migration runs.
//!
//! Every run gets its own TMPDIR (a test-owned folder), so the throwaway clusters it starts
//! (`reconcile-pg-*` directories, `postgres -D <dir>/data` processes) can be found afterwards.

use crate::common;

use common::{assert_exit, text};

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;

const TIMEOUT: Duration = Duration::from_secs(300);

/// A project folder (`migrations/`, `schema/`, `verify/`) and a TMPDIR of its own.
struct Project {
    dir: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("reconcile-shadow-test-")
            .tempdir()
            .expect("temporary folder");
        // The server runs as the postgres OS user when the tests run as root: it must be able
        // to reach the cluster directory inside this folder.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        Project {
            dir: tempfile::tempdir().expect("project folder"),
            tmp,
        }
    }

    fn write(&self, path: &str, text: &str) -> &Self {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reconcile"));
        command
            .current_dir(self.dir.path())
            .arg("shadow")
            .args(["--color", "never"])
            .args(args)
            .env("TMPDIR", self.tmp.path());
        for var in [
            "DATABASE_URL",
            "RECONCILE_DEV_URL",
            "RECONCILE_SHADOW_URL",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSERVICE",
            "PGPASSWORD",
        ] {
            command.env_remove(var);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::from_std(self.command(args))
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile");
        self.assert_no_cluster_left();
        output
    }

    /// No cluster directory in this TMPDIR, and no process started from one.
    fn assert_no_cluster_left(&self) {
        let left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .expect("read TMPDIR")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("reconcile-pg-"))
            .collect();
        assert!(left.is_empty(), "cluster directories left behind: {left:?}");
        let processes = processes_mentioning(self.tmp.path());
        assert!(
            processes.is_empty(),
            "processes of a throwaway cluster still running: {processes:?}"
        );
    }
}

/// `pid: command line` of every process whose command line mentions `path`.
fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// The report with the live-state fingerprint (a hash of the catalog model) replaced.
fn normalised(report: &str) -> String {
    report
        .split('\n')
        .map(|line| match line.find("sha256:") {
            Some(i) => format!("{}sha256:[fingerprint]", &line[..i]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const CUSTOMERS: &str = "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);\n";

const ORDERS: &str = "-- Orders, with an index for the foreign key.
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
";

/// What the two migrations create, plus a column they do not: one additive step left.
const DESIRED: &str = "tables:
  customers:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true }
      email: text
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      customer_id: { type: bigint, not_null: true, references: customers }
    indexes:
      - { name: orders_customer_id_idx, columns: [customer_id] }
";

const NAMED: &str = "-- Every customer has a name.
SELECT id, name FROM customers WHERE name = '';
";

const KEYED: &str = "-- Every table in public has a primary key.
SELECT c.relname AS table_name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
ORDER BY 1;
";

fn project() -> Project {
    let p = Project::new();
    p.write("migrations/001_customers.sql", CUSTOMERS)
        .write("migrations/002_orders.sql", ORDERS)
        .write("schema/public.yaml", DESIRED)
        .write("verify/customers_have_names.sql", NAMED)
        .write("verify/tables_have_primary_keys.sql", KEYED);
    p
}

#[test]
fn rehearsal_report_in_markdown() {
    let p = project();
    let output = p.run(&["--format", "markdown", "--no-timings"]);
    // One additive step left: 2.
    assert_exit(&output, 2);
    let report = text(&output.stdout);
    insta::assert_snapshot!("rehearsal_markdown", normalised(&report));
    // The progress lines go to stderr, not into the report.
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[2/2] 002_orders.sql ..."), "{stderr}");

    // Deterministic: the same inputs give the same bytes.
    let again = p.run(&["--format", "markdown", "--no-timings"]);
    assert_eq!(text(&again.stdout), report);

    // With timings (the default), durations are shown; --out infers the format.
    let output = p.run(&["--out", "report.md"]);
    assert_exit(&output, 2);
    let written = std::fs::read_to_string(p.dir.path().join("report.md")).expect("report.md");
    assert!(
        written.starts_with("### reconcile shadow: 2 migrations applied"),
        "{written}"
    );
    assert!(
        written.contains("| # | file | result | took |"),
        "{written}"
    );
    assert!(written.contains("| total | "), "{written}");

    // JSON: the same facts as data.
    let output = p.run(&["--format", "json", "--no-timings"]);
    assert_exit(&output, 2);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["command"], "shadow");
    assert_eq!(doc["migrations"]["status"], "applied");
    assert_eq!(doc["migrations"]["files"][1]["file"], "002_orders.sql");
    assert_eq!(doc["migrations"]["files"][1]["outcome"], "applied");
    assert_eq!(
        doc["migrations"]["files"][1]["duration_ms"],
        serde_json::Value::Null
    );
    assert_eq!(doc["drift"]["status"], "pending");
    assert_eq!(doc["drift"]["summary"]["steps"], 1);
    assert_eq!(doc["assertions"]["status"], "passed");
    assert_eq!(doc["assertions"]["passed"], 2);

    // Text.
    let output = p.run(&["--no-timings"]);
    assert_exit(&output, 2);
    let report = text(&output.stdout);
    assert!(
        report.contains("    2. applied  002_orders.sql"),
        "{report}"
    );
    assert!(
        report.contains("ALTER TABLE public.customers ADD COLUMN IF NOT EXISTS email text;"),
        "{report}"
    );
    assert!(
        report.contains("Result: 2 migrations applied; 1 step pending; 2 assertions passed."),
        "{report}"
    );
}

#[test]
fn in_sync_with_passing_assertions_exits_0() {
    let p = project();
    p.write(
        "schema/public.yaml",
        &DESIRED.replace("      email: text\n", ""),
    );
    // A --database-url (here one nobody listens on) is never used: the rehearsal runs on a
    // throwaway PostgreSQL, and a note says so.
    let output = p.run(&[
        "--format",
        "markdown",
        "--no-timings",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/production",
    ]);
    assert_exit(&output, 0);
    let report = text(&output.stdout);
    assert!(
        report.starts_with(
            "### reconcile shadow: 2 migrations applied; no drift left; 2 assertions passed"
        ),
        "{report}"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("`reconcile shadow` never connects to --database-url"),
        "{stderr}"
    );
}

#[test]
fn a_failing_migration_exits_5_and_lists_the_files_not_run() {
    let p = project();
    p.write(
        "migrations/003_backfill.sql",
        "ALTER TABLE customers ADD COLUMN email text;\n-- a typo in the table name\nUPDATE customer\n   SET email = name;\n",
    )
    .write("migrations/004_later.sql", "CREATE TABLE later (id int PRIMARY KEY);\n")
    .write("migrations/005_last.sql", "SELECT 1;\n");
    let output = p.run(&["--format", "markdown", "--no-timings"]);
    assert_exit(&output, 5);
    let report = text(&output.stdout);
    insta::assert_snapshot!("failed_migration_markdown", report);
    for needle in [
        "#### ❌ `migrations/003_backfill.sql:3` failed",
        "SQLSTATE `42P01`: relation \"customer\" does not exist",
        "Not run: `004_later.sql`, `005_last.sql`.",
        "| 3 | `003_backfill.sql` | ❌ **failed** |",
    ] {
        assert!(report.contains(needle), "no {needle:?} in:\n{report}");
    }
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "migrations/003_backfill.sql:3: relation \"customer\" does not exist (SQLSTATE 42P01)"
        ),
        "{stderr}"
    );

    let output = p.run(&["--format", "json", "--no-timings"]);
    assert_exit(&output, 5);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["migrations"]["status"], "failed");
    assert_eq!(doc["migrations"]["failure"]["line"], 3);
    assert_eq!(doc["migrations"]["failure"]["sqlstate"], "42P01");
    assert_eq!(
        doc["migrations"]["not_run"],
        serde_json::json!(["004_later.sql", "005_last.sql"])
    );
    assert_eq!(doc["drift"]["status"], "skipped");
    assert_eq!(doc["assertions"], serde_json::Value::Null);
}

/// A syntax error is found by the runner before any file runs: also exit 5, nothing ran.
#[test]
fn files_the_runner_refuses_exit_5() {
    let p = project();
    p.write("migrations/003_broken.sql", "SELECT 1;\nCREATE TABLE (;\n");
    let output = p.run(&["--no-timings"]);
    assert_exit(&output, 5);
    let report = text(&output.stdout);
    assert!(
        report.contains("migrations/003_broken.sql:2: syntax error"),
        "{report}"
    );
    assert!(
        report.contains("    1. not run  001_customers.sql"),
        "{report}"
    );
}

#[test]
fn drift_left_exits_3_unless_fail_on_drift_says_otherwise() {
    let p = project();
    // A table the migrations create that the desired state does not have: a finding.
    p.write(
        "migrations/003_legacy.sql",
        "CREATE TABLE legacy (id int PRIMARY KEY);\n",
    );
    let output = p.run(&["--no-timings"]);
    assert_exit(&output, 3);
    let report = text(&output.stdout);
    assert!(
        report.contains("D100 destructive table public.legacy"),
        "{report}"
    );
    let output = p.run(&["--no-timings", "--fail-on-drift", "none"]);
    assert_exit(&output, 0);
    // An extra table is a destructive finding (D100): it fails `destructive` too.
    let output = p.run(&["--no-timings", "--fail-on-drift", "destructive"]);
    assert_exit(&output, 3);
}

#[test]
fn a_failed_assertion_exits_4_over_drift() {
    let p = project();
    p.write(
        "verify/no_orders_without_customers.sql",
        "-- Deliberately failing.\nSELECT 'always' AS why;\n",
    );
    // Drift is pending too (exit 2 alone); the failed assertion wins.
    let output = p.run(&["--no-timings", "--format", "markdown"]);
    assert_exit(&output, 4);
    let report = text(&output.stdout);
    assert!(
        report.contains("`no_orders_without_customers.sql` | ❌ **fail**"),
        "{report}"
    );
    assert!(report.contains("| always |"), "{report}");
    // --no-assertions: back to the drift code.
    let output = p.run(&["--no-timings", "--no-assertions"]);
    assert_exit(&output, 2);
}

#[test]
fn without_a_schema_folder_only_migrations_and_assertions_run() {
    let p = Project::new();
    p.write("migrations/001_customers.sql", CUSTOMERS)
        .write("verify/customers_have_names.sql", NAMED);
    let output = p.run(&["--no-timings", "--format", "markdown"]);
    assert_exit(&output, 0);
    let report = text(&output.stdout);
    assert!(
        report.contains("not checked: there is no desired state at schema (--schema-dir)"),
        "{report}"
    );
    assert!(report.contains("1 passed, 0 failed, 0 errors"), "{report}");
    // An explicit migrations folder that does not exist is an error.
    let output = p.run(&["--migrations", "nowhere"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("--migrations nowhere: no such folder"));
}

#[test]
fn shadow_url_must_name_an_empty_database() {
    let p = project();
    let empty = common::fresh_db();
    let output = p.run(&["--no-timings", "--shadow-url", &empty.url]);
    assert_exit(&output, 2);
    assert!(
        text(&output.stdout).contains("reconcile shadow on 127.0.0.1:"),
        "{}",
        text(&output.stdout)
    );
    // The database is left migrated: a second rehearsal there is refused.
    let output = p.run(&["--shadow-url", &empty.url]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the shadow database is not empty"),
        "{stderr}"
    );
    assert!(stderr.contains("(schema reconcile)"), "{stderr}");
}

/// SIGINT (Ctrl-C) and SIGTERM while a migration runs: the command exits promptly, and the
/// throwaway cluster's processes and directory are gone when it has.
#[test]
fn a_signal_mid_migration_leaves_no_cluster() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let p = project();
        p.write("migrations/003_slow.sql", "SELECT pg_sleep(30);\n");
        let mut child = p
            .command(&["--no-timings"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn reconcile");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    let _ = child.kill();
                    panic!("the slow migration never started")
                });
            if line.contains("003_slow.sql ...") {
                break;
            }
        }
        // The server is running (and sleeping) now.
        assert!(
            !processes_mentioning(p.tmp.path()).is_empty(),
            "no cluster process found under {}",
            p.tmp.path().display()
        );
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        // SAFETY: kill has no memory-safety preconditions; pid is our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("reconcile shadow did not exit within 20 s of signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = reader.join().expect("reader");
        assert_eq!(status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains("the throwaway PostgreSQL was removed"),
            "{stderr}"
        );
        p.assert_no_cluster_left();
    }
}
