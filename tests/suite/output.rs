//! What the command line prints, and where: a closed pipe stops the printing and nothing
//! else (issue 16, item 7); `-q` leaves only errors on stderr while the report still goes to
//! stdout or `--out`, and `pull` summarises what it did not pull by kind (item 11).
//!
//! A closed pipe is made deterministic here: the child's stream is the write end of a pipe
//! whose read end is closed before the child starts, so its first write fails with EPIPE —
//! what `| head` does to a long output, without the race.

use crate::common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{TestDb, assert_exit, text};

/// One table; the databases below are in sync with it or one column behind.
const DESIRED: &str = "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n      name: text\n";
const BEHIND: &str = "CREATE TABLE t (id bigint PRIMARY KEY);";

fn schema_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("schema folder");
    std::fs::write(dir.path().join("public.yaml"), DESIRED).expect("write");
    dir
}

fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    db.psql(setup)
        .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    db
}

/// `reconcile ARGS --schema DIR` against `db`, scratch work on `dev`.
fn reconcile(db: &TestDb, dev: &TestDb, schema: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reconcile"));
    command
        .args(["--color", "never"])
        .args(args)
        .arg("--schema")
        .arg(schema)
        .env("DATABASE_URL", &db.url)
        .env("RECONCILE_DEV_URL", &dev.url)
        .stdin(Stdio::null());
    command
}

/// The write end of a pipe nobody reads: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Runs `command` with stdout on a closed pipe; returns the exit status and stderr.
fn with_closed_stdout(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reconcile");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    (status.code(), stderr)
}

fn run(mut command: Command) -> Output {
    command.output().expect("run reconcile")
}

/// The bug: `reconcile apply 2>&1 | head -2` panicked (exit 101) at the first line printed
/// after the reader had gone — before any step ran. Now both streams closed only silence it:
/// the apply runs every step, records its outcome and exits 0.
#[test]
fn an_apply_with_both_streams_closed_runs_to_the_end_and_records_it() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    let pipe = closed_pipe();
    let status = reconcile(&db, &dev, schema.path(), &["apply"])
        .stdout(pipe.try_clone().expect("clone the pipe"))
        .stderr(pipe)
        .status()
        .expect("run reconcile apply");
    assert_eq!(status.code(), Some(0), "{status}");
    let columns = db
        .psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0")
        .expect("read columns");
    assert_eq!(columns.trim(), "id,name", "the step did not run");
    let outcome = db
        .psql(
            "SELECT outcome || ' ' || steps_executed FROM reconcile.runs ORDER BY id DESC LIMIT 1",
        )
        .expect("read history");
    assert_eq!(
        outcome.trim(),
        "applied 1",
        "the run was not recorded as applied"
    );
}

/// `plan`, `verify` and `history` whose reader went away exit quietly with their own exit
/// code: no "error: Broken pipe", no panic.
#[test]
fn reports_on_a_closed_stdout_exit_quietly_with_their_code() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    for (args, code) in [
        (&["plan"][..], 2),
        (&["plan", "--format", "json"], 2),
        (&["verify"], 2),
    ] {
        let (status, stderr) = with_closed_stdout(reconcile(&db, &dev, schema.path(), args));
        assert_eq!(status, Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?} printed on stderr");
    }
    let applied = run(reconcile(&db, &dev, schema.path(), &["apply", "-q"]));
    assert_exit(&applied, 0);
    let (status, stderr) = with_closed_stdout(reconcile(&db, &dev, schema.path(), &["history"]));
    assert_eq!(status, Some(0), "history: {stderr}");
    assert_eq!(stderr, "", "history printed on stderr");
}

/// `pull` writes its files and exits 0 when its stderr (where it reports) is closed.
#[test]
fn pull_with_a_closed_stderr_writes_its_files() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    let out = tempfile::tempdir().expect("out folder");
    let out_dir = out.path().to_str().expect("a UTF-8 path");
    let status = reconcile(&db, &dev, schema.path(), &["pull", "--out", out_dir])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("run reconcile pull");
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(out.path().join("public.yaml").is_file());
}

/// The bug: `apply -q` printed the whole plan and its progress. `-q` means only errors on
/// stderr — and for apply, whose plan shown beforehand is progress, nothing on stdout.
#[test]
fn a_quiet_apply_prints_nothing() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    let output = run(reconcile(&db, &dev, schema.path(), &["apply", "-q"]));
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout), "", "stdout");
    assert_eq!(text(&output.stderr), "", "stderr");
    let again = run(reconcile(&db, &dev, schema.path(), &["apply", "-q"]));
    assert_exit(&again, 0);
    assert_eq!(text(&again.stderr), "", "a no-op apply, stderr");
}

/// The bug: `plan -q --out FILE` printed "wrote the plan". The report itself still goes to
/// stdout or the file; errors are still printed.
#[test]
fn a_quiet_plan_writes_its_report_and_only_errors() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    let out = tempfile::tempdir().expect("out folder");
    let file = out.path().join("plan.json");
    let file = file.to_str().expect("a UTF-8 path");
    let output = run(reconcile(
        &db,
        &dev,
        schema.path(),
        &["plan", "-q", "--out", file],
    ));
    assert_exit(&output, 2);
    assert_eq!(text(&output.stderr), "", "stderr");
    assert!(
        std::fs::read_to_string(file)
            .expect("the plan file")
            .contains("\"steps\""),
        "the plan was not written"
    );

    let output = run(reconcile(&db, &dev, schema.path(), &["plan", "-q"]));
    assert_exit(&output, 2);
    assert!(text(&output.stdout).contains("ADD COLUMN"), "no report");
    assert_eq!(text(&output.stderr), "", "stderr");

    std::fs::write(
        schema.path().join("public.yaml"),
        "tables:\n  t:\n    colums: {}\n",
    )
    .expect("write");
    let output = run(reconcile(&db, &dev, schema.path(), &["plan", "-q"]));
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("error:"),
        "the error was silenced"
    );
}

/// The bug: `pull` printed one timestamped WARN line per object it does not manage (≈90 for
/// pagila). Now one line per kind with its count; each object at `-v`; nothing at `-q`.
#[test]
fn pull_summarises_what_it_skips_by_kind() {
    let db = database(
        "CREATE TABLE t (id bigint PRIMARY KEY);
         CREATE TABLE child_one () INHERITS (t);
         CREATE TABLE child_two () INHERITS (t);
         CREATE TABLE child_three () INHERITS (t);
         CREATE FUNCTION f1() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
         CREATE FUNCTION f2() RETURNS int LANGUAGE sql AS 'SELECT 2';
         CREATE TRIGGER fires_on_insert BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f1();",
    );
    let (dev, schema) = (common::fresh_db(), schema_dir());
    let out = tempfile::tempdir().expect("out folder");
    let out_dir = out.path().to_str().expect("a UTF-8 path");
    let pull = |extra: &[&str]| {
        let mut args = vec!["pull", "--out", out_dir];
        args.extend_from_slice(extra);
        let output = run(reconcile(&db, &dev, schema.path(), &args));
        assert_exit(&output, 0);
        text(&output.stderr)
    };

    let stderr = pull(&[]);
    assert!(
        stderr.contains("3 object(s) not pulled"),
        "no summary: {stderr}"
    );
    assert!(
        stderr.contains(
            "  table: 3 (tables that inherit from another table (INHERITS, not a partition) are \
             not managed yet)"
        ),
        "{stderr}"
    );
    // Functions and the trigger running one are managed: pulled, not summarised.
    assert!(
        !stderr.contains("function") && !stderr.contains("trigger"),
        "{stderr}"
    );
    let pulled = std::fs::read_to_string(out.path().join("public.sql")).expect("public.sql");
    assert!(
        pulled.contains("CREATE FUNCTION public.f1()")
            && pulled.contains("CREATE FUNCTION public.f2()")
            && pulled.contains("fires_on_insert"),
        "{pulled}"
    );
    assert!(
        !stderr.contains("child_one") && !stderr.contains("WARN"),
        "objects listed without -v: {stderr}"
    );

    let stderr = pull(&["-v"]);
    for object in ["table public.child_one", "table public.child_three"] {
        assert!(
            stderr.contains(object),
            "-v does not list {object}: {stderr}"
        );
    }

    assert_eq!(pull(&["-q"]), "", "-q");
}

/// `2026-11-02T09:15:00Z`: RFC 3339, UTC, seconds.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The bug: `history` printed times with no time zone (in the session's TimeZone), while
/// `migrate status` prints UTC with `Z`. Every time the CLI prints is RFC 3339 UTC now — here
/// with the database's TimeZone set to +05:30, where a local time would show.
#[tokio::test(flavor = "multi_thread")]
async fn times_are_rfc3339_utc_whatever_the_session_time_zone() {
    let (db, dev, schema) = (database(BEHIND), common::fresh_db(), schema_dir());
    db.psql(&format!(
        "ALTER DATABASE \"{}\" SET timezone TO 'Asia/Kolkata'",
        db.name
    ))
    .expect("set the time zone");
    let blocking = |args: Vec<&'static str>| {
        let command = reconcile(&db, &dev, schema.path(), &args);
        tokio::task::block_in_place(|| run(command))
    };
    assert_exit(&blocking(vec!["apply", "-q"]), 0);
    let expected = db
        .psql("SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM reconcile.runs")
        .expect("read the run");
    let expected = expected.trim();
    assert!(is_rfc3339_utc(expected), "{expected}");

    let json = blocking(vec!["history", "--format", "json"]);
    assert_exit(&json, 0);
    let runs: serde_json::Value = serde_json::from_slice(&json.stdout).expect("history JSON");
    assert_eq!(runs[0]["started"], expected, "{runs:#}");
    let table = blocking(vec!["history"]);
    assert_exit(&table, 0);
    let table = text(&table.stdout);
    assert!(table.contains("started (UTC)"), "{table}");
    assert!(table.contains(expected), "{table}");

    // The holder of the apply lock, named while another apply waits for it.
    let mut holder = db.connect().await;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_database()))")
            .bind(reconcile::apply::lock::NAMESPACE)
            .fetch_one(&mut holder)
            .await
            .expect("take the lock");
    assert!(locked);
    let waiting = blocking(vec!["apply", "--wait-lock", "300ms"]);
    assert_exit(&waiting, 1);
    let stderr = text(&waiting.stderr);
    let since = stderr
        .split("connected since ")
        .nth(1)
        .unwrap_or_else(|| panic!("the holder is not named: {stderr}"));
    assert!(is_rfc3339_utc(&since[..20]), "{stderr}");
    drop(holder);
}

/// The bug: a server error ended with sqlx's "at line 334" (PostgreSQL's C source line) and
/// its text came two or three times ("caused by: … caused by: …"). Now the server's message
/// comes once, after the step it concerns, with SQLSTATE, the object and DETAIL; the history
/// row says the same.
#[test]
fn a_server_error_is_printed_once_with_sqlstate_and_detail() {
    let db = database("CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t VALUES (-1);");
    let (dev, schema) = (common::fresh_db(), schema_dir());
    std::fs::write(
        schema.path().join("public.yaml"),
        "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n    checks:\n      t_positive: id > 0\n",
    )
    .expect("write");
    let output = run(reconcile(&db, &dev, schema.path(), &["apply"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    let message = "check constraint \"t_positive\" of relation \"t\" is violated by some row";
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    for expected in [
        "error: while applying step ",
        "SQLSTATE 23514, table public.t, constraint t_positive",
    ] {
        assert!(stderr.contains(expected), "no `{expected}`:\n{stderr}");
    }
    for unwanted in [" at line ", "error returned from database", "caused by"] {
        assert!(!stderr.contains(unwanted), "`{unwanted}`:\n{stderr}");
    }
    let recorded = db
        .psql("SELECT error FROM reconcile.runs ORDER BY id DESC LIMIT 1")
        .expect("read the history");
    assert!(recorded.contains(message), "{recorded}");
    assert!(!recorded.contains(" at line "), "{recorded}");

    // DETAIL, as the server sent it.
    let db = database(
        "CREATE TABLE t (id bigint PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'a');",
    );
    std::fs::write(
        schema.path().join("public.yaml"),
        "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n      name: text\n    unique:\n      - [name]\n",
    )
    .expect("write");
    let output = run(reconcile(&db, &dev, schema.path(), &["apply", "-q"]));
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("SQLSTATE 23505")
            && stderr.contains("\n  detail: Key (name)=(a) is duplicated."),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("could not create unique index").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains(" at line "), "{stderr}");
}

/// A connection the server refuses: its message once, with SQLSTATE.
#[test]
fn a_refused_connection_names_the_server_message_once() {
    let missing = common::url_for("reconcile_no_such_database");
    let output = Command::new(env!("CARGO_BIN_EXE_reconcile"))
        .args(["history", "--database-url", &missing])
        .output()
        .expect("run reconcile");
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: cannot connect to "), "{stderr}");
    let message = "database \"reconcile_no_such_database\" does not exist";
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    assert!(stderr.contains("SQLSTATE 3D000"), "{stderr}");
    assert!(!stderr.contains(" at line "), "{stderr}");
}
