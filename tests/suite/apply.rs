//! `reconcile apply` and `reconcile history` against real PostgreSQL.
//!
//! Apply is the one command that changes a production database, so its promises are each
//! shown here by driving the binary the way a deploy job does:
//!
//! * it is idempotent — a second run executes nothing and is recorded as a no-op;
//! * concurrent runs are serialised by the advisory lock — one applies, the others find
//!   nothing to do, and their recorded runs never overlap;
//! * a step that cannot get its table lock times out, is retried, and succeeds once the lock
//!   is free, without other tables' steps being retried;
//! * a crash at any step — the process killed with SIGKILL, or its backend terminated —
//!   leaves every transactional batch all there or not there at all, and the next apply
//!   converges; an INVALID index left by a killed concurrent build is dropped and rebuilt;
//! * a reviewed plan file is applied only while the database is as it was reviewed, and a
//!   hand-edited file cannot smuggle in a destructive statement;
//! * passwords never reach stdout, stderr or the history tables, also when runs fail;
//! * `--dry-run` changes nothing, and `history` lists the recorded runs.
//!
//! Every test gets fresh databases from the harness (`tests/common`) plus a second empty one
//! for `--dev-url`, so no invocation starts a throwaway cluster of its own. Waits are bounded
//! hang guards, never timing assertions: the tests wait for events (a stderr line, a backend
//! state in `pg_stat_activity`) rather than for durations.

use crate::common;

use common::text;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::TestDb;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");

/// Hang guard for one reconcile invocation: a run still going after this is killed (exit
/// code `None`), which fails the test.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Hang guard for an awaited event (a stderr line, a backend state).
const PATIENCE: Duration = Duration::from_secs(120);

/// The database most tests start from: two tables with rows.
const BEHIND: &str = "
    CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
    INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric NOT NULL);
    INSERT INTO orders SELECT g, g % 200 + 1, g FROM generate_series(1, 500) g;
";

/// What most tests want: about seven steps over three tables — a new table, new columns, a
/// check added NOT VALID and validated, an index built CONCURRENTLY on an existing table, and
/// a foreign key from the new table.
const DESIRED: &str = "
tables:
  customers:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true }
      email: text
    indexes:
      - { columns: [email] }
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      customer_id: { type: bigint, not_null: true }
      amount: { type: numeric, not_null: true }
      status: { type: text, not_null: true, default: \"'new'\" }
    checks:
      orders_amount_check: amount >= 0
  invoices:
    columns:
      id: { type: bigint, primary_key: true }
      order_id: { type: bigint, not_null: true, references: orders }
      total: numeric
";

// ---------------------------------------------------------------------------------------
// Harness: a target database, a dev database and a desired state; running the binary.

/// A target database (set up by SQL), an empty `--dev-url` database and a schema folder.
struct Fixture {
    db: TestDb,
    dev: TestDb,
    schema: tempfile::TempDir,
    /// The URL reconcile is given for the target (`db.url` unless a test changes it).
    url: String,
    /// The URL reconcile is given for the dev database.
    dev_url: String,
}

impl Fixture {
    fn new(setup: &str, desired: &str) -> Self {
        let db = common::fresh_db();
        db.psql(setup)
            .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
        let dev = common::fresh_db();
        let schema = tempfile::tempdir().expect("a schema folder");
        let fixture = Fixture {
            url: db.url.clone(),
            dev_url: dev.url.clone(),
            db,
            dev,
            schema,
        };
        fixture.set_desired(desired);
        fixture
    }

    fn set_desired(&self, yaml: &str) {
        std::fs::write(self.schema.path().join("schema.yaml"), yaml).expect("write schema.yaml");
    }

    /// `reconcile <args> --database-url … --dev-url … --schema …`, with no ambient settings.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(BIN);
        command
            .args(args)
            .args(["--color", "never", "--database-url", &self.url])
            .args(["--dev-url", &self.dev_url])
            .arg("--schema")
            .arg(self.schema.path())
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .env_remove("RECONCILE_FAULT_PAUSE_AFTER_STEP")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        assert_cmd::Command::from_std(self.command(args))
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    }

    /// Starts reconcile with extra environment, its stderr readable line by line.
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        Running::start(command)
    }

    /// `reconcile plan --format json`, which must exit 0, 2 or 3.
    fn plan_json(&self) -> Value {
        let output = self.run(&["plan", "--format", "json"]);
        assert!(
            matches!(output.status.code(), Some(0 | 2 | 3)),
            "plan failed: {}",
            streams(&output)
        );
        serde_json::from_slice(&output.stdout).expect("the plan is JSON")
    }

    /// Asserts that `reconcile plan` finds the database in sync (exit 0).
    fn assert_in_sync(&self) {
        assert_exit(&self.run(&["plan"]), 0);
    }

    /// Runs SQL as the superuser; trimmed `psql -A -t` output.
    fn query(&self, sql: &str) -> String {
        self.db
            .psql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    }

    /// The result of a query returning one JSON value.
    fn json(&self, sql: &str) -> Value {
        let text = self.query(sql);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{sql}: {e}: {text}"))
    }

    /// `reconcile.runs`, oldest first, as JSON objects (every column).
    fn runs(&self) -> Vec<Value> {
        array(self.json("SELECT coalesce(json_agg(r ORDER BY r.id), '[]') FROM reconcile.runs r"))
    }

    /// `reconcile.steps` of one run, by step number, as JSON objects (every column).
    fn steps_of(&self, run: &Value) -> Vec<Value> {
        array(self.json(&format!(
            "SELECT coalesce(json_agg(s ORDER BY s.number), '[]') FROM reconcile.steps s \
             WHERE s.run_id = {}",
            run["id"]
        )))
    }

    fn history_exists(&self) -> bool {
        self.query("SELECT to_regnamespace('reconcile') IS NOT NULL") == "t"
    }

    fn snapshot(&self) -> String {
        let snapshot = self.query(CATALOG_SNAPSHOT);
        assert!(snapshot.contains("schema public "), "{snapshot}");
        snapshot
    }

    /// Waits until reconcile's work session sleeps in the fault-injection pause; its pid.
    fn paused_backend(&self) -> String {
        eventually("reconcile's backend to sleep in the fault pause", || {
            let pid = self.query(
                "SELECT pid FROM pg_stat_activity \
                  WHERE datname = current_database() AND application_name = 'reconcile' \
                    AND state = 'active' AND query LIKE '%pg_sleep%'",
            );
            (!pid.is_empty()).then_some(pid)
        })
    }

    /// Waits until no reconcile session is connected to the target any more.
    fn wait_for_no_sessions(&self) {
        eventually("reconcile's sessions to end", || {
            let n = self.query(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE datname = current_database() AND application_name = 'reconcile'",
            );
            (n == "0").then_some(())
        });
    }
}

/// Polls `check` until it gives a value; panics after [`PATIENCE`].
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a JSON array, got {other}"),
    }
}

fn streams(output: &Output) -> String {
    format!(
        "exit status {} (signal or hang guard if no code)\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// Asserts the exit code, showing both streams when it differs.
fn assert_exit(output: &Output, expected: i32) {
    assert_eq!(output.status.code(), Some(expected), "{}", streams(output));
}

/// A reconcile process whose stderr is read line by line while it runs.
struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: String,
    stdout: JoinHandle<String>,
}

impl Running {
    fn start(mut command: std::process::Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start reconcile");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        Running {
            child,
            lines,
            stderr: String::new(),
            stdout,
        }
    }

    /// Reads stderr up to a line containing `needle`; panics (killing the process) if the
    /// process ends first or [`PATIENCE`] passes.
    fn wait_for_line(&mut self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push_str(&line);
                    self.stderr.push('\n');
                    if line.contains(needle) {
                        return;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no stderr line with {needle:?}; stderr so far:\n{}",
                        self.stderr
                    );
                }
            }
        }
    }

    /// SIGKILL.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL reconcile");
    }

    /// Waits for the process (killing it after [`TIMEOUT`]); its exit status and streams.
    fn finish(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for reconcile") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for line in self.lines.iter() {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
        Output {
            status,
            stdout: self.stdout.join().expect("stdout reader").into_bytes(),
            stderr: self.stderr.into_bytes(),
        }
    }
}

/// A session of the test's own, holding a lock or a transaction open while reconcile runs.
struct Session {
    runtime: tokio::runtime::Runtime,
    conn: sqlx::PgConnection,
}

impl Session {
    fn open(db: &TestDb) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let conn = runtime.block_on(db.connect());
        Session { runtime, conn }
    }

    fn execute(&mut self, sql: &str) {
        self.runtime
            .block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut self.conn))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Every object DDL could create or change, one per line, with the catalog row's `xmin`
/// so that even an in-place change shows; indexes with their validity. The history schema
/// is left out (tests look at it separately).
const CATALOG_SNAPSHOT: &str = "
    WITH ns AS (
        SELECT oid FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'reconcile')
    )
    SELECT x FROM (
        SELECT 'schema ' || nspname || ' ' || xmin FROM pg_namespace WHERE nspname <> 'reconcile'
        UNION ALL
        SELECT 'relation ' || oid::regclass || ' ' || relkind::text || ' ' || xmin
        FROM pg_class WHERE relnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'column ' || attrelid::regclass || '.' || attname || ' '
               || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' || a.xmin
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace IN (SELECT oid FROM ns) AND attnum > 0
        UNION ALL
        SELECT 'default ' || adrelid::regclass || ' ' || pg_get_expr(adbin, adrelid)
        FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
        WHERE c.relnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) || ' '
               || convalidated || ' ' || xmin
        FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'index ' || indexrelid::regclass || ' ' || indisvalid || ' ' || i.xmin
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace IN (SELECT oid FROM ns)
    ) objects(x)
    ORDER BY x;
";

// ---------------------------------------------------------------------------------------
// Idempotence, concurrency, lock contention.

/// Applying twice: the second run executes nothing (the catalog is untouched) and is
/// recorded as a no-op run without step rows.
#[test]
fn second_apply_is_a_recorded_no_op() {
    let f = Fixture::new(BEHIND, DESIRED);
    let planned = array(f.plan_json()["steps"].clone()).len();
    assert!(planned >= 6, "the fixture plans several steps");

    assert_exit(&f.run(&["apply"]), 0);
    f.assert_in_sync();
    let before = f.snapshot();
    let second = f.run(&["apply"]);
    assert_exit(&second, 0);
    assert!(
        text(&second.stderr).contains("nothing to apply"),
        "{}",
        streams(&second)
    );
    assert_eq!(f.snapshot(), before, "the second apply changed the catalog");

    let runs = f.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["outcome"], "applied");
    assert_eq!(runs[0]["steps_executed"], planned);
    assert_eq!(f.steps_of(&runs[0]).len(), planned);
    assert_eq!(runs[1]["outcome"], "no-op");
    assert_eq!(runs[1]["steps_planned"], 0);
    assert_eq!(runs[1]["steps_executed"], 0);
    assert!(!runs[1]["finished_at"].is_null(), "{runs:#?}");
    assert!(f.steps_of(&runs[1]).is_empty(), "{runs:#?}");
}

/// Eight applies started at once: the advisory lock lets one execute the steps; the others
/// wait, then find nothing to do. All exit 0, and the recorded runs never overlap in time.
/// The plan includes a CREATE INDEX CONCURRENTLY on an existing table, which must not wait
/// for the applies queued behind the lock.
#[test]
fn concurrent_applies_run_one_at_a_time() {
    concurrent_applies(&[]);
}

/// The same without concurrent index builds (`--no-concurrently`).
#[test]
fn concurrent_applies_without_concurrent_index_builds_run_one_at_a_time() {
    concurrent_applies(&["--no-concurrently"]);
}

fn concurrent_applies(options: &[&str]) {
    let f = Fixture::new(BEHIND, DESIRED);
    let planned = array(f.plan_json()["steps"].clone()).len();

    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| f.run(&[&["apply"], options].concat())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("apply thread"))
            .collect()
    });
    for output in &outputs {
        assert_exit(output, 0);
    }
    let nothing = outputs
        .iter()
        .filter(|o| text(&o.stderr).contains("nothing to apply"))
        .count();
    assert_eq!(nothing, 7, "seven runs should have found nothing to do");
    f.assert_in_sync();

    let runs = f.runs();
    assert_eq!(runs.len(), 8, "{runs:#?}");
    let applied: Vec<&Value> = runs.iter().filter(|r| r["outcome"] == "applied").collect();
    assert_eq!(applied.len(), 1, "{runs:#?}");
    assert_eq!(applied[0]["steps_executed"], planned);
    assert_eq!(f.steps_of(applied[0]).len(), planned);
    for run in runs.iter().filter(|r| r["outcome"] != "applied") {
        assert_eq!(run["outcome"], "no-op", "{runs:#?}");
        assert_eq!(run["steps_executed"], 0);
        assert!(f.steps_of(run).is_empty());
    }
    // Mutual exclusion: each run finished before the next one started.
    let overlaps = f.query(
        "SELECT count(*) FROM reconcile.runs a JOIN reconcile.runs b ON a.id < b.id \
          WHERE b.started_at < a.finished_at",
    );
    assert_eq!(overlaps, "0", "recorded runs overlap: {runs:#?}");
}

const CONTENDED_SETUP: &str = "
    CREATE TABLE alpha (id bigint PRIMARY KEY);
    CREATE TABLE bravo (id bigint PRIMARY KEY);
    CREATE TABLE charlie (id bigint PRIMARY KEY);
    INSERT INTO alpha SELECT generate_series(1, 10);
    INSERT INTO bravo SELECT generate_series(1, 10);
    INSERT INTO charlie SELECT generate_series(1, 10);
";

const CONTENDED_DESIRED: &str = "
tables:
  alpha:
    columns:
      id: { type: bigint, primary_key: true }
      note: text
  bravo:
    columns:
      id: { type: bigint, primary_key: true }
      note: text
  charlie:
    columns:
      id: { type: bigint, primary_key: true }
      note: text
";

/// Another session holds ACCESS EXCLUSIVE on `bravo` until apply has retried its step
/// twice: that step times out, is retried and succeeds once the lock is gone; the steps on
/// the other tables run once each.
#[test]
fn a_step_blocked_by_a_table_lock_is_retried_until_the_lock_is_free() {
    let f = Fixture::new(CONTENDED_SETUP, CONTENDED_DESIRED);
    let mut blocker = Session::open(&f.db);
    blocker.execute("BEGIN; LOCK TABLE bravo IN ACCESS EXCLUSIVE MODE");

    let mut run = f.spawn(&["apply", "--lock-timeout", "1s", "--retries", "8"], &[]);
    run.wait_for_line("hit a lock timeout");
    run.wait_for_line("retry 2 ");
    blocker.execute("COMMIT");
    let output = run.finish();
    assert_exit(&output, 0);
    f.assert_in_sync();

    let runs = f.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["outcome"], "applied");
    let steps = f.steps_of(&runs[0]);
    assert_eq!(steps.len(), 3, "{steps:#?}");
    for step in &steps {
        let object = step["object"].as_str().expect("object");
        let attempts = step["attempts"].as_i64().expect("attempts");
        assert_eq!(step["outcome"], "applied", "{steps:#?}");
        if object.contains("bravo") {
            assert!(
                attempts >= 3,
                "the blocked step ran {attempts} time(s): {steps:#?}"
            );
        } else {
            assert_eq!(attempts, 1, "{object} was retried: {steps:#?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Crashes at every step.

/// How the apply dies while paused after a step.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// SIGKILL of the reconcile process.
    Kill,
    /// `pg_terminate_backend` of its work session.
    Terminate,
}

/// A query answering whether a step's effect is in the catalog (`t` / `f`).
fn probe(step: &Value) -> String {
    let kind = step["kind"].as_str().expect("kind");
    let object = step["object"].as_str().expect("object");
    let rest = |prefix: &str| {
        object
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{kind} step on {object:?}: expected {prefix:?}"))
    };
    let constraint = |prefix: &str| {
        rest(prefix)
            .split_once(" on ")
            .unwrap_or_else(|| panic!("no table in {object:?}"))
    };
    match kind {
        "create_table" => format!("SELECT to_regclass('{}') IS NOT NULL", rest("table ")),
        "add_column" => {
            let (table, column) = rest("column ").rsplit_once('.').expect("table.column");
            format!(
                "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('{table}') \
                 AND attname = '{column}' AND NOT attisdropped)"
            )
        }
        "add_constraint" | "add_constraint_not_valid" => {
            let (name, table) = constraint("constraint ");
            format!(
                "SELECT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass('{table}') \
                 AND conname = '{name}')"
            )
        }
        "validate_constraint" => {
            let (name, table) = constraint("validation of constraint ");
            format!(
                "SELECT coalesce((SELECT convalidated FROM pg_constraint \
                 WHERE conrelid = to_regclass('{table}') AND conname = '{name}'), false)"
            )
        }
        "create_index" => {
            let index = step["index"]
                .as_str()
                .expect("the index of a create_index step");
            format!(
                "SELECT coalesce((SELECT indisvalid FROM pg_index \
                 WHERE indexrelid = to_regclass('{index}')), false)"
            )
        }
        other => panic!("no catalog probe for a {other} step ({object})"),
    }
}

/// Whether each step's effect is in the database, in step order.
fn probe_all(f: &Fixture, steps: &[Value]) -> Vec<bool> {
    let sql: String = steps.iter().map(|s| probe(s) + ";\n").collect();
    f.query(&sql).lines().map(|l| l == "t").collect()
}

/// Step numbers of each batch and whether it runs in a transaction.
fn batches(plan: &Value) -> Vec<(Vec<u64>, bool)> {
    array(plan["batches"].clone())
        .iter()
        .map(|b| {
            let steps = array(b["steps"].clone())
                .iter()
                .map(|n| n.as_u64().expect("a step number"))
                .collect();
            (steps, b["transactional"].as_bool().expect("transactional"))
        })
        .collect()
}

/// For each step k: start apply with a fault pause after step k, crash it there, check
/// that batches before k's are all there, k's batch is all there (a committed concurrent
/// index) or all absent (an uncommitted transaction), later ones absent, and that history
/// says no more than happened; then a plain apply converges and plan is in sync.
fn crash_after_each_step(crash: Crash) {
    let plan = Fixture::new(BEHIND, DESIRED).plan_json();
    let steps = array(plan["steps"].clone());
    let kinds: Vec<&str> = steps.iter().filter_map(|s| s["kind"].as_str()).collect();
    for kind in [
        "create_table",
        "add_column",
        "add_constraint_not_valid",
        "validate_constraint",
        "create_index",
        "add_constraint",
    ] {
        assert!(
            kinds.contains(&kind),
            "the fixture should plan a {kind} step: {kinds:?}"
        );
    }
    let batches = batches(&plan);
    assert!(
        batches.iter().any(|(_, t)| !t),
        "a CONCURRENTLY step: {batches:?}"
    );
    assert!(
        batches.iter().any(|(s, t)| *t && s.len() > 1),
        "{batches:?}"
    );

    for k in 1..=steps.len() as u64 {
        let context = format!("{crash:?} after step {k}");
        let f = Fixture::new(BEHIND, DESIRED);
        // The server notices a vanished client within 100 ms even while the session
        // sleeps, so a SIGKILLed run's open transaction ends promptly (rolled back) instead
        // of at the end of the 60 s pause.
        f.query(&format!(
            "ALTER DATABASE \"{}\" SET client_connection_check_interval = '100ms'",
            f.db.name
        ));
        let mut run = f.spawn(
            &["apply"],
            &[("RECONCILE_FAULT_PAUSE_AFTER_STEP", &format!("{k}:60000"))],
        );
        run.wait_for_line(&format!("fault injection: pausing after step {k}"));
        let pid = f.paused_backend();
        let output = match crash {
            Crash::Kill => {
                run.kill();
                let output = run.finish();
                assert_eq!(
                    output.status.code(),
                    None,
                    "{context}: {}",
                    streams(&output)
                );
                output
            }
            Crash::Terminate => {
                assert_eq!(f.query(&format!("SELECT pg_terminate_backend({pid})")), "t");
                let output = run.finish();
                assert_exit(&output, 1);
                assert!(
                    text(&output.stderr).contains(&format!("while applying step {k} ")),
                    "{context}: {}",
                    streams(&output)
                );
                output
            }
        };
        f.wait_for_no_sessions();

        // The catalog: whole batches only.
        let batch_of = |n: u64| {
            batches
                .iter()
                .position(|(members, _)| members.contains(&n))
                .expect("every step is in a batch")
        };
        let crashed = batch_of(k);
        let expected: Vec<bool> = steps
            .iter()
            .map(|step| {
                let n = step["number"].as_u64().expect("number");
                let b = batch_of(n);
                b < crashed || (b == crashed && !batches[b].1 && n <= k)
            })
            .collect();
        assert_eq!(
            probe_all(&f, &steps),
            expected,
            "{context}: which steps' objects exist (batches {batches:?})\n{}",
            streams(&output)
        );

        // History claims exactly the committed batches, plus the failure it saw.
        let runs = f.runs();
        assert_eq!(runs.len(), 1, "{context}: {runs:#?}");
        let recorded = f.steps_of(&runs[0]);
        let committed: Vec<u64> = batches[..crashed]
            .iter()
            .flat_map(|(members, _)| members.iter().copied())
            .collect();
        let applied: Vec<u64> = recorded
            .iter()
            .filter(|s| s["outcome"] == "applied")
            .map(|s| s["number"].as_u64().expect("number"))
            .collect();
        assert_eq!(applied, committed, "{context}: {recorded:#?}");
        let failed: Vec<&Value> = recorded
            .iter()
            .filter(|s| s["outcome"] != "applied")
            .collect();
        match crash {
            Crash::Kill => {
                assert_eq!(runs[0]["outcome"], "running", "{context}: {runs:#?}");
                assert!(failed.is_empty(), "{context}: {recorded:#?}");
            }
            Crash::Terminate => {
                assert_eq!(runs[0]["outcome"], "failed", "{context}: {runs:#?}");
                assert_eq!(failed.len(), 1, "{context}: {recorded:#?}");
                assert_eq!(failed[0]["number"], k, "{context}: {recorded:#?}");
                assert!(failed[0]["error"].is_string(), "{context}: {recorded:#?}");
            }
        }

        // Without the fault, the next apply converges.
        let again = f.run(&["apply"]);
        assert_exit(&again, 0);
        f.assert_in_sync();
        assert!(
            probe_all(&f, &steps).iter().all(|p| *p),
            "{context}: after the second apply"
        );
    }
}

#[test]
fn sigkill_after_any_step_leaves_whole_batches_and_the_next_apply_converges() {
    crash_after_each_step(Crash::Kill);
}

#[test]
fn terminated_backend_after_any_step_leaves_whole_batches_and_the_next_apply_converges() {
    crash_after_each_step(Crash::Terminate);
}

const ACCOUNTS: &str = "
    CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
    INSERT INTO accounts SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 1000) g;
";

const ACCOUNTS_INDEXED: &str = "
tables:
  accounts:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
    indexes:
      - { columns: [email] }
";

fn index_validity(f: &Fixture, index: &str) -> String {
    f.query(&format!(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{index}')"
    ))
}

/// Apply killed in the middle of a CREATE INDEX CONCURRENTLY (waiting for an open write
/// transaction, after the index entry exists) leaves an INVALID index. The next plan drops
/// it (H009) and builds it again; after the next apply it is valid.
#[test]
fn an_invalid_index_left_by_a_killed_concurrent_build_is_rebuilt() {
    let f = Fixture::new(ACCOUNTS, ACCOUNTS_INDEXED);
    let index = "public.accounts_email_idx";
    let mut writer = Session::open(&f.db);
    writer.execute("BEGIN; INSERT INTO accounts VALUES (0, 'writer@example.com')");

    let mut run = f.spawn(&["apply", "--lock-timeout", "10m"], &[]);
    let pid = eventually("the concurrent build to wait for the writer", || {
        let pid = f.query(
            "SELECT pid FROM pg_stat_activity \
              WHERE datname = current_database() AND application_name = 'reconcile' \
                AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'",
        );
        (!pid.is_empty() && index_validity(&f, index) == "f").then_some(pid)
    });
    run.kill();
    let output = run.finish();
    assert_eq!(output.status.code(), None, "{}", streams(&output));
    // The server ends the orphaned build (as it would on its own once it notices).
    f.query(&format!("SELECT pg_terminate_backend({pid})"));
    f.wait_for_no_sessions();
    writer.execute("ROLLBACK");
    assert_eq!(
        index_validity(&f, index),
        "f",
        "the killed build left an INVALID index"
    );

    let plan = f.plan_json();
    let steps = array(plan["steps"].clone());
    let position = |kind: &str| {
        steps
            .iter()
            .position(|s| s["kind"] == kind && s["index"] == index)
            .unwrap_or_else(|| panic!("no {kind} step for {index}: {steps:#?}"))
    };
    let drop = position("drop_invalid_index");
    assert!(drop < position("create_index"), "{steps:#?}");
    assert!(
        array(steps[drop]["hazards"].clone())
            .iter()
            .any(|h| h["code"] == "H009"),
        "{:#?}",
        steps[drop]
    );

    assert_exit(&f.run(&["apply"]), 0);
    assert_eq!(index_validity(&f, index), "t");
    f.assert_in_sync();
}

/// A unique index that cannot be built (duplicates) fails the apply without leaving an
/// INVALID index behind; once the data is fixed, the next apply builds it.
#[test]
fn a_failed_concurrent_build_leaves_no_invalid_index() {
    let f = Fixture::new(
        &format!("{ACCOUNTS} INSERT INTO accounts VALUES (1001, 'user1@example.com');"),
        &ACCOUNTS_INDEXED.replace("[email] }", "[email], unique: true }"),
    );
    let index = "public.accounts_email_idx";
    let output = f.run(&["apply"]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("could not create unique index"),
        "{}",
        streams(&output)
    );
    assert_eq!(
        index_validity(&f, index),
        "",
        "the failed build left an index"
    );
    let runs = f.runs();
    assert_eq!(runs.last().expect("a run")["outcome"], "failed");

    f.query("DELETE FROM accounts WHERE id = 1001");
    assert_exit(&f.run(&["apply"]), 0);
    assert_eq!(index_validity(&f, index), "t");
    f.assert_in_sync();
}

/// A run that fails part-way records as executed the steps whose batches committed before
/// the failure, matching its step rows.
#[test]
fn a_failed_run_counts_the_steps_it_committed() {
    // Existing rows violate the check, so its validation fails after the other batches.
    let f = Fixture::new(BEHIND, &DESIRED.replace("amount >= 0", "amount < 0"));
    assert_exit(&f.run(&["apply"]), 1);
    let runs = f.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["outcome"], "failed");
    let committed = f
        .steps_of(&runs[0])
        .iter()
        .filter(|s| s["outcome"] == "applied")
        .count();
    assert!(
        committed > 0,
        "the fixture commits steps before the failure"
    );
    assert_eq!(runs[0]["steps_executed"], committed, "{runs:#?}");
}

// ---------------------------------------------------------------------------------------
// Reviewed plan files.

const PLANNED_SETUP: &str = "
    CREATE TABLE t (id bigint PRIMARY KEY, a text);
    CREATE INDEX t_a_idx ON t (a);
    INSERT INTO t SELECT g, 'a' || g FROM generate_series(1, 100) g;
";

const PLANNED_DESIRED: &str = "
tables:
  t:
    columns:
      id: { type: bigint, primary_key: true }
      a: text
      b: text
    indexes:
      - { columns: [a] }
    checks:
      t_id_check: id > 0
  u:
    columns:
      id: { type: bigint, primary_key: true }
";

/// `reconcile plan --format json --out FILE` into a new folder; the folder, the file's path
/// and its JSON.
fn write_plan(f: &Fixture) -> (tempfile::TempDir, PathBuf, Value) {
    let dir = tempfile::tempdir().expect("a folder for plan files");
    let path = dir.path().join("plan.json");
    let output = f.run(&[
        "plan",
        "--format",
        "json",
        "--out",
        path.to_str().expect("utf-8"),
    ]);
    assert_exit(&output, 2);
    let plan = serde_json::from_str(&std::fs::read_to_string(&path).expect("the plan file"))
        .expect("the plan file is JSON");
    (dir, path, plan)
}

fn apply_file(f: &Fixture, path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["apply", path.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    f.run(&args)
}

/// A plan file made before someone added a column by hand is refused, naming the change,
/// and nothing runs; `--replan` plans afresh and applies.
#[test]
fn a_stale_plan_file_is_refused_and_replan_applies() {
    let f = Fixture::new(PLANNED_SETUP, PLANNED_DESIRED);
    let (_dir, path, _) = write_plan(&f);
    f.query("ALTER TABLE t ADD COLUMN c integer");
    let before = f.snapshot();

    let refused = apply_file(&f, &path, &[]);
    assert_exit(&refused, 1);
    assert!(
        text(&refused.stderr).contains("column public.t.c was added"),
        "{}",
        streams(&refused)
    );
    assert_eq!(f.snapshot(), before, "a refused plan changed the catalog");
    let runs = f.runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["outcome"], "refused");
    assert!(f.steps_of(&runs[0]).is_empty());

    let replanned = apply_file(&f, &path, &["--replan"]);
    assert_exit(&replanned, 0);
    assert!(
        array(f.plan_json()["steps"].clone()).is_empty(),
        "steps pending after --replan"
    );
    assert_eq!(
        f.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname IN ('b', 'c')"),
        "2"
    );
    assert_eq!(f.runs().last().expect("a run")["outcome"], "applied");
}

/// Hand-edited plan files smuggling a DROP COLUMN or a REVOKE into a step — as a second
/// statement, as the statement, inside a DO block, through a dynamic EXECUTE — are refused
/// before any connection; nothing runs. The untouched file applies.
#[test]
fn a_plan_file_with_a_smuggled_drop_is_refused() {
    let f = Fixture::new(PLANNED_SETUP, PLANNED_DESIRED);
    let (_dir, path, plan) = write_plan(&f);
    let before = f.snapshot();
    const DROP: &str = "ALTER TABLE public.t DROP COLUMN a";
    const REVOKE: &str = "REVOKE SELECT ON TABLE public.t FROM PUBLIC";
    /// Rewrites a step's SQL.
    type Edit = fn(&str) -> String;
    let edits: [(&str, Edit); 8] = [
        ("second statement", |sql| format!("{sql}; {DROP}")),
        ("replaced", |_| DROP.to_owned()),
        ("DO block", |_| {
            format!("DO $reconcile$ BEGIN {DROP}; END $reconcile$")
        }),
        ("dynamic EXECUTE", |_| {
            format!("DO $reconcile$ BEGIN EXECUTE '{DROP}'; END $reconcile$")
        }),
        ("REVOKE as a second statement", |sql| {
            format!("{sql}; {REVOKE}")
        }),
        ("REVOKE replaced", |_| REVOKE.to_owned()),
        ("REVOKE in a DO block", |_| {
            format!("DO $reconcile$ BEGIN {REVOKE}; END $reconcile$")
        }),
        ("default privileges revoked", |_| {
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM PUBLIC"
                .to_owned()
        }),
    ];
    for (name, edit) in &edits {
        for number in 0..array(plan["steps"].clone()).len() {
            let mut tampered = plan.clone();
            let step = &mut tampered["steps"][number];
            step["sql"] = Value::String(edit(step["sql"].as_str().expect("sql")));
            let file = path.with_extension(format!("{number}.json"));
            std::fs::write(&file, tampered.to_string()).expect("write the edited plan");
            let output = apply_file(&f, &file, &[]);
            assert_exit(&output, 1);
            assert!(
                text(&output.stderr).contains("edited by hand"),
                "{name}, step {}: {}",
                number + 1,
                streams(&output)
            );
        }
    }
    assert_eq!(f.snapshot(), before, "an edited plan changed the catalog");
    assert!(!f.history_exists(), "a refused file reached the database");

    assert_exit(&apply_file(&f, &path, &[]), 0);
    f.assert_in_sync();
}

/// A step relabelled `drop_invalid_index` may only drop the INVALID index it names, never a
/// valid one.
#[test]
fn a_plan_file_cannot_relabel_a_drop_of_a_valid_index() {
    let f = Fixture::new(PLANNED_SETUP, PLANNED_DESIRED);
    let (_dir, path, plan) = write_plan(&f);
    let relabel = |index: Option<&str>| {
        let mut tampered = plan.clone();
        let step = &mut tampered["steps"][0];
        step["kind"] = "drop_invalid_index".into();
        step["transaction"] = "outside".into();
        step["sql"] = "DROP INDEX CONCURRENTLY public.t_a_idx".into();
        match index {
            Some(index) => step["index"] = index.into(),
            None => {
                step.as_object_mut().expect("a step").remove("index");
            }
        }
        tampered
    };
    for (name, tampered) in [
        ("no index named", relabel(None)),
        ("another index named", relabel(Some("public.no_such_idx"))),
    ] {
        let file = path.with_extension("relabelled.json");
        std::fs::write(&file, tampered.to_string()).expect("write the edited plan");
        let output = apply_file(&f, &file, &[]);
        assert_ne!(
            output.status.code(),
            Some(0),
            "{name}: {}",
            streams(&output)
        );
        assert_eq!(
            index_validity(&f, "public.t_a_idx"),
            "t",
            "{name}: the valid index t_a_idx was dropped\n{}",
            streams(&output)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Secrets, dry runs, history.

const PASSWORD: &str = "S3cretPassw0rd";
const WRONG_PASSWORD: &str = "Wr0ngPassw0rdX";

/// A login role with a password, dropped again (after its objects are reassigned) on drop.
struct PasswordRole {
    name: String,
    db_url: String,
}

impl Drop for PasswordRole {
    fn drop(&mut self) {
        let sql = format!(
            "REASSIGN OWNED BY {0} TO CURRENT_USER; DROP OWNED BY {0}; DROP ROLE {0};",
            self.name
        );
        let _ = std::process::Command::new(common::psql_bin())
            .args(["-X", "-q", "-d", &self.db_url, "-c", &sql])
            .output();
    }
}

/// `url` with its user and password replaced.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// Makes the fixture's databases owned by a new password role and points reconcile at them
/// as that role. On the harness's own cluster (trust authentication), passwords are then
/// required for this role, so that a wrong password really fails.
fn connect_with_password(f: &mut Fixture) -> PasswordRole {
    let role = PasswordRole {
        name: format!("{}_owner", f.db.name),
        db_url: f.db.url.clone(),
    };
    f.query(&format!(
        "CREATE ROLE {0} LOGIN PASSWORD '{PASSWORD}';
         ALTER DATABASE \"{1}\" OWNER TO {0};
         ALTER DATABASE \"{2}\" OWNER TO {0};
         ALTER TABLE t OWNER TO {0};",
        role.name, f.db.name, f.dev.name
    ));
    f.url = with_credentials(&f.db.url, &role.name, PASSWORD);
    f.dev_url = with_credentials(&f.dev.url, &role.name, PASSWORD);
    if common::cluster().is_some() {
        let hba = f.query("SHOW hba_file");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        let rule = format!("host all {} all scram-sha-256\n", role.name);
        std::fs::write(&hba, format!("{rule}{rules}")).expect("write pg_hba.conf");
        f.query("SELECT pg_reload_conf()");
        let wrong = with_credentials(&f.db.url, &role.name, WRONG_PASSWORD);
        eventually("password authentication for the role", || {
            let output = std::process::Command::new(common::psql_bin())
                .args(["-X", "-d", &wrong, "-c", "SELECT 1"])
                .output()
                .expect("run psql");
            (!output.status.success()).then_some(())
        });
    }
    role
}

const SECRET_SETUP: &str = "
    CREATE TABLE t (id bigint PRIMARY KEY, qty integer);
    INSERT INTO t VALUES (1, 5), (2, -1);
";

const SECRET_DESIRED: &str = "
tables:
  t:
    columns:
      id: { type: bigint, primary_key: true }
      qty: integer
      note: text
";

/// With a password in the URL, neither stdout, stderr nor any column of the history
/// tables ever contains it: on success, on a failing step, with a wrong password, for an
/// unreachable database, and with debug logging on.
#[test]
fn passwords_never_reach_output_or_history() {
    let mut f = Fixture::new(SECRET_SETUP, SECRET_DESIRED);
    let role = connect_with_password(&mut f);
    let mut outputs = Vec::new();

    let applied = f.run(&["apply", "-vv"]);
    assert_exit(&applied, 0);
    outputs.push(applied);
    outputs.push(f.run(&["plan", "-vv"]));
    outputs.push(f.run(&["history", "-vv"]));
    outputs.push(f.run(&["history", "--format", "json"]));

    // A failing step: the new check does not hold for row 2.
    f.set_desired(
        &SECRET_DESIRED.replace("qty: integer", "qty: { type: integer, check: qty > 0 }"),
    );
    let failed = f.run(&["apply", "-vv"]);
    assert_exit(&failed, 1);
    assert!(
        text(&failed.stderr).contains("violated"),
        "{}",
        streams(&failed)
    );
    outputs.push(failed);

    let correct = f.url.clone();
    f.url = with_credentials(&f.db.url, &role.name, WRONG_PASSWORD);
    let wrong = f.run(&["apply", "-vv"]);
    if common::cluster().is_some() {
        assert_exit(&wrong, 1);
        assert!(
            text(&wrong.stderr).contains("password authentication failed"),
            "{}",
            streams(&wrong)
        );
    }
    outputs.push(wrong);
    f.url = common::replace_database(&correct, "no_such_database_here");
    let missing = f.run(&["apply", "-vv"]);
    assert_exit(&missing, 1);
    outputs.push(missing);
    f.url = correct;

    for output in &outputs {
        for secret in [PASSWORD, WRONG_PASSWORD] {
            assert!(
                !text(&output.stdout).contains(secret) && !text(&output.stderr).contains(secret),
                "a password leaked:\n{}",
                streams(output)
            );
        }
    }
    let runs = f.runs();
    assert_eq!(
        runs.iter()
            .map(|r| r["outcome"].clone())
            .collect::<Vec<_>>(),
        ["applied", "failed"],
        "{runs:#?}"
    );
    let failed_steps = f.steps_of(&runs[1]);
    assert!(
        failed_steps.iter().any(|s| s["error"].is_string()),
        "{failed_steps:#?}"
    );
    let history = format!(
        "{}\n{}",
        f.query("SELECT json_agg(r)::text FROM reconcile.runs r"),
        f.query("SELECT json_agg(s)::text FROM reconcile.steps s")
    );
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(
            !history.contains(secret),
            "a password in the history: {history}"
        );
    }
}

/// A database URL given where the plan file belongs (`reconcile apply $DATABASE_URL`) is
/// refused without echoing its password.
#[test]
fn a_url_mistaken_for_the_plan_file_is_not_echoed() {
    let url = format!("postgres://someone:{PASSWORD}@127.0.0.1:1/none");
    let output = assert_cmd::Command::new(BIN)
        .args(["apply", &url, "--color", "never"])
        .env_remove("DATABASE_URL")
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile");
    assert_exit(&output, 1);
    assert!(
        !text(&output.stderr).contains(PASSWORD),
        "a password leaked:\n{}",
        streams(&output)
    );
}

/// `--dry-run` takes the lock and plans but executes nothing: the catalog is unchanged, no
/// history is written, and the exit code says whether steps are pending (2) or not (0).
#[test]
fn dry_run_executes_nothing() {
    let f = Fixture::new(BEHIND, DESIRED);
    let before = f.snapshot();
    let output = f.run(&["apply", "--dry-run"]);
    assert_exit(&output, 2);
    assert!(
        text(&output.stderr).contains("nothing was executed"),
        "{}",
        streams(&output)
    );
    assert_eq!(f.snapshot(), before, "--dry-run changed the catalog");
    assert!(!f.history_exists(), "--dry-run created the history tables");

    assert_exit(&f.run(&["apply"]), 0);
    assert_exit(&f.run(&["apply", "--dry-run"]), 0);
    assert_eq!(f.runs().len(), 1, "--dry-run recorded a run");
}

/// `reconcile history` lists the runs newest first, as a table and as JSON, with failures
/// and their first error line; before any run it says there are none.
#[test]
fn history_lists_the_runs() {
    let f = Fixture::new(BEHIND, DESIRED);
    let empty = f.run(&["history"]);
    assert_exit(&empty, 0);
    assert!(
        text(&empty.stdout).contains("no runs recorded"),
        "{}",
        streams(&empty)
    );
    let empty = f.run(&["history", "--format", "json"]);
    assert_exit(&empty, 0);
    assert_eq!(
        serde_json::from_slice::<Value>(&empty.stdout).expect("JSON"),
        Value::Array(vec![])
    );

    assert_exit(&f.run(&["apply"]), 0);
    assert_exit(&f.run(&["apply"]), 0);
    // A check that existing rows violate: the run fails at its validation.
    f.set_desired(&DESIRED.replace(
        "amount >= 0\n",
        "amount >= 0\n      orders_negative_check: amount < 0\n",
    ));
    assert_exit(&f.run(&["apply"]), 1);

    let listed = f.run(&["history", "--format", "json"]);
    assert_exit(&listed, 0);
    let runs = array(serde_json::from_slice(&listed.stdout).expect("history JSON"));
    let outcomes: Vec<&str> = runs.iter().filter_map(|r| r["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["failed", "no-op", "applied"], "{runs:#?}");
    let ids: Vec<i64> = runs.iter().filter_map(|r| r["id"].as_i64()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not newest first: {ids:?}"
    );
    assert!(runs[0]["error"].is_string(), "{runs:#?}");
    assert!(runs[1]["error"].is_null(), "{runs:#?}");
    assert_eq!(runs[2]["steps_executed"], runs[2]["steps_planned"]);
    for run in &runs {
        assert_eq!(run["tool_version"], env!("CARGO_PKG_VERSION"));
        assert!(
            run["applied_by"].as_str().is_some_and(|a| a.contains('@')),
            "{run}"
        );
        assert!(run["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{run}");
    }

    let table = f.run(&["history"]);
    assert_exit(&table, 0);
    let table = text(&table.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("outcome"), "{table}");
    let position = |word: &str| {
        lines
            .iter()
            .skip(1)
            .position(|l| l.split_whitespace().any(|w| w == word))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no {word} run listed:\n{table}"))
    };
    assert!(position("failed") < position("no-op") && position("no-op") < position("applied"));
    assert!(
        lines[position("failed") + 1].contains("orders_negative_check"),
        "the failed run's error is not shown:\n{table}"
    );

    let limited = f.run(&["history", "--limit", "1", "--format", "json"]);
    assert_exit(&limited, 0);
    let limited = array(serde_json::from_slice(&limited.stdout).expect("history JSON"));
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["id"], runs[0]["id"]);
}

/// The history tables are reconcile's, not the application's: `pull` leaves them out, so a
/// schema pulled after an apply does not start managing them.
#[test]
fn pull_leaves_the_history_schema_out() {
    let f = Fixture::new(BEHIND, DESIRED);
    assert_exit(&f.run(&["apply"]), 0);
    let out = tempfile::tempdir().expect("temp dir");
    let pulled = f.run(&["pull", "--out", out.path().to_str().expect("utf-8 path")]);
    assert_exit(&pulled, 0);
    let mut files: Vec<String> = std::fs::read_dir(out.path())
        .expect("pulled files")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}", streams(&pulled));
    assert!(
        // reconcile.schema.json is the JSON Schema for editors, not a PostgreSQL schema.
        !files
            .iter()
            .any(|f| f.starts_with("reconcile") && f != reconcile::load::json_schema::FILE_NAME),
        "history schema pulled: {files:?}"
    );
    let named = tempfile::tempdir().expect("temp dir");
    let asked = f.run(&[
        "pull",
        "--out",
        named.path().to_str().expect("utf-8 path"),
        "--schema-name",
        "reconcile",
    ]);
    assert_exit(&asked, 0);
    assert!(
        named.path().join("reconcile.yaml").exists(),
        "naming the history schema pulls it: {}",
        streams(&asked)
    );
}

/// A database written by hand stores `status IN ('a', 'b')` on a varchar column in a form the
/// server prints differently once re-parsed, so planning aligns the live model before
/// diffing. `plan` and `apply` must still agree: the steps a fresh `apply` runs are the ones
/// `plan` printed, no false finding appears, and the reviewed plan file is accepted by a
/// database in the same state (its fingerprint is of the catalog as read, not as aligned).
#[test]
fn plan_and_apply_agree_on_a_database_that_needs_alignment() {
    const SETUP: &str = "
        CREATE TABLE tickets (
            id bigint PRIMARY KEY,
            status varchar(10) NOT NULL CONSTRAINT tickets_status_check CHECK (status IN ('open', 'closed'))
        );
    ";
    const WANTED: &str = "
tables:
  tickets:
    columns:
      id: { type: bigint, primary_key: true }
      status: { type: varchar(10), not_null: true }
      note: text
    checks:
      tickets_status_check: status IN ('open', 'closed')
";
    let f = Fixture::new(SETUP, WANTED);
    let twin = Fixture::new(SETUP, WANTED);
    let stored = f.query(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tickets_status_check'",
    );
    assert!(
        stored.contains("::text[]"),
        "the check should be stored in the form that needs alignment: {stored}"
    );

    let (_dir, path, planned) = write_plan(&f);
    assert!(
        array(planned["findings"].clone()).is_empty(),
        "the hand-written check was reported as drift: {:#}",
        planned["findings"]
    );
    let planned_sql: Vec<String> = array(planned["steps"].clone())
        .iter()
        .map(|s| s["sql"].as_str().expect("sql").to_owned())
        .collect();
    assert_eq!(planned_sql.len(), 1, "{planned_sql:?}");

    // A fresh apply runs exactly those steps.
    assert_exit(&f.run(&["apply"]), 0);
    let run = f.runs().pop().expect("a run");
    let applied_sql: Vec<String> = f
        .steps_of(&run)
        .iter()
        .map(|s| s["sql"].as_str().expect("sql").to_owned())
        .collect();
    assert_eq!(applied_sql, planned_sql);

    // The reviewed file fits a database in the state it was planned against.
    let copied = twin.schema.path().join("plan.json");
    std::fs::copy(&path, &copied).expect("copy the plan file");
    let applied = apply_file(&twin, &copied, &[]);
    assert_exit(&applied, 0);
    twin.assert_in_sync();
}

/// Regression (issue 16, item 5): a step the scratch server could not check (it calls a
/// function the desired state does not declare, hazard H012) and that the target rejects too
/// used to be reported "done" (its guard turned the error into a WARNING), and the run
/// "applied". It is reported as skipped — in the progress, the history (step `skipped`, run
/// `partial`) and the exit code (2: changes still pending) — and the rest is applied.
#[test]
fn a_step_the_database_declines_is_reported_skipped_never_done() {
    let f = Fixture::new(
        "CREATE TABLE people (id bigint PRIMARY KEY, name text);",
        "
tables:
  people:
    columns:
      id: { type: bigint, primary_key: true }
      name: text
      nickname: text
    checks:
      people_name_nice: is_nice(name)
",
    );
    let output = f.run(&["apply"]);
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("skipped"), "{}", streams(&output));
    assert!(
        !stderr.contains("constraint people_name_nice on public.people done"),
        "{}",
        streams(&output)
    );
    let run = f.runs().pop().expect("a run");
    assert_eq!(run["outcome"], "partial", "{run:#}");
    let steps = f.steps_of(&run);
    let outcome_of = |object: &str| {
        steps
            .iter()
            .find(|s| s["object"] == object)
            .map(|s| s["outcome"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        outcome_of("constraint people_name_nice on public.people").as_deref(),
        Some("skipped"),
        "{steps:#?}"
    );
    assert_eq!(
        outcome_of("column public.people.nickname").as_deref(),
        Some("applied"),
        "{steps:#?}"
    );
    assert_eq!(
        f.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'people'::regclass AND attname = 'nickname'"),
        "1"
    );
}
