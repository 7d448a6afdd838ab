//! `verify/` assertions: the library (`reconcile::assertions`) and `reconcile verify`.
//!
//! An assertion is one read-only query that returns no rows when its invariant holds. The
//! tests show each verdict (pass, fail with the first offending rows, error with file, line
//! and SQLSTATE), the checks made before connecting (one statement per file, a query and
//! nothing that writes — also not in a WITH), that the read-only transaction stops a write
//! the parser cannot see (a function that inserts), the exit codes and their precedence
//! (1 error > 4 failed assertion > 3 drift > 2 pending > 0), the JSON and Markdown forms,
//! and that the assertions shipped in `verify/` pass on the example schema and catch a
//! crafted bad database.

use crate::common;

use common::{assert_exit, text};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::TestDb;
use reconcile::assertions::{self, Outcome};

const TIMEOUT: Duration = Duration::from_secs(120);

const DESIRED: &str = "
tables:
  accounts:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
      note: text
";

const IN_SYNC: &str = "
    CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
    INSERT INTO accounts
    SELECT i, 'user' || i || '@example.com', CASE WHEN i % 2 = 0 THEN 'even' END
    FROM generate_series(1, 7) AS i;
";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary schema folder");
    std::fs::write(dir.path().join("schema.yaml"), yaml).expect("write schema.yaml");
    dir
}

/// A folder of assertion files `(name, sql)`.
fn verify_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary verify folder");
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).expect("write assertion");
    }
    dir
}

fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    db.psql(setup)
        .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    db
}

/// `reconcile verify` in `cwd` (a folder without `verify/` unless the test wants one).
fn verify_in(cwd: &Path, url: &str, dev: &TestDb, schema: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .current_dir(cwd)
        .args(["verify", "--color", "never", "--database-url", url])
        .args(["--dev-url", &dev.url])
        .arg("--schema")
        .arg(schema)
        .args(args)
        .env_remove("RECONCILE_DEV_URL")
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile")
}

/// `reconcile verify --verify-dir DIR` from a neutral working directory.
fn verify(url: &str, dev: &TestDb, schema: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--verify-dir", dir.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    verify_in(&std::env::temp_dir(), url, dev, schema, &all)
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&output.stdout)))
}

const PASSING: (&str, &str) = (
    "a_no_empty_emails.sql",
    "-- No account has an empty email.\nSELECT id FROM accounts WHERE email = '';\n",
);
const FAILING: (&str, &str) = (
    "b_notes_present.sql",
    "-- Every account has a note.\n-- (fails: odd ids have none)\n\nSELECT id, email, note\n  FROM accounts\n WHERE note IS NULL OR id > 0\n ORDER BY id;\n",
);

// ---------------------------------------------------------------------------------------
// The library.

/// Values of any type come back as PostgreSQL's text form, NULL as `None`; rows are cut at
/// `max_rows` and the total is counted; a passing assertion has no rows; a query error is
/// that assertion's error (with SQLSTATE and the file line it points at) and the others
/// still run.
#[tokio::test]
async fn library_runs_assertions_and_decodes_any_type() {
    let db = database(&format!(
        "{IN_SYNC} CREATE TYPE mood AS ENUM ('ok', 'sad');"
    ));
    let dir = verify_dir(&[
        PASSING,
        (
            "b_types.sql",
            "SELECT 1::int AS i, NULL::text AS n, '\\x0102'::bytea AS b, '{\"k\": [1, 2]}'::jsonb AS j,\n\
             ARRAY[1, NULL, 3] AS a, 12.50::numeric(6,2) AS num, 'sad'::mood AS e,\n\
             '2024-02-29 12:00:00+00'::timestamptz AT TIME ZONE 'UTC' AS ts, true AS t, '' AS empty",
        ),
        (
            "c_many.sql",
            "SELECT g FROM generate_series(1, 10) AS g ORDER BY g",
        ),
        (
            "d_broken.sql",
            "-- a typo on line 3\nSELECT id\n  FROM acounts\n WHERE false",
        ),
        ("e_after_error.sql", "SELECT 1 AS still_runs"),
    ]);
    let loaded = assertions::load_dir(dir.path()).expect("valid assertions");
    let names: Vec<&str> = loaded.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a_no_empty_emails.sql",
            "b_types.sql",
            "c_many.sql",
            "d_broken.sql",
            "e_after_error.sql"
        ]
    );
    let mut conn = db.connect().await;
    let results = assertions::run(&mut conn, &loaded, 3).await.expect("run");
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].outcome, Outcome::Passed);

    let Outcome::Failed {
        columns,
        rows,
        total_rows,
    } = &results[1].outcome
    else {
        panic!("{:?}", results[1]);
    };
    assert_eq!(
        columns,
        &["i", "n", "b", "j", "a", "num", "e", "ts", "t", "empty"]
    );
    assert_eq!(*total_rows, 1);
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        rows[0],
        vec![
            s("1"),
            None,
            s("\\x0102"),
            s("{\"k\": [1, 2]}"),
            s("{1,NULL,3}"),
            s("12.50"),
            s("sad"),
            s("2024-02-29 12:00:00"),
            s("t"),
            s(""),
        ]
    );

    let Outcome::Failed {
        rows, total_rows, ..
    } = &results[2].outcome
    else {
        panic!("{:?}", results[2]);
    };
    assert_eq!(*total_rows, 10);
    assert_eq!(rows, &[vec![s("1")], vec![s("2")], vec![s("3")]]);

    let Outcome::Error {
        sqlstate,
        message,
        line,
    } = &results[3].outcome
    else {
        panic!("{:?}", results[3]);
    };
    assert_eq!(sqlstate.as_deref(), Some("42P01"));
    assert!(message.contains("acounts"), "{message}");
    assert_eq!(*line, 3, "the error points at the FROM line");
    assert_eq!(results[3].line, 2, "the statement starts on line 2");

    assert!(
        results[4].failed(),
        "an assertion after an error still runs: {:?}",
        results[4]
    );
    // The connection is usable afterwards and no transaction is left open.
    let open: String = sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
        .fetch_one(&mut conn)
        .await
        .expect("query after run");
    assert_eq!(open, "off", "run left its read-only transaction open");
}

/// The read-only transaction refuses writes the parser check cannot see: a SELECT calling a
/// function that inserts is an error (SQLSTATE 25006), and nothing was written.
#[tokio::test]
async fn a_write_hidden_in_a_function_is_refused_by_the_read_only_transaction() {
    let db = database(
        "CREATE TABLE audit (n int);
         CREATE FUNCTION sneaky() RETURNS SETOF int LANGUAGE sql
           AS 'INSERT INTO audit VALUES (1) RETURNING n';",
    );
    let dir = verify_dir(&[("sneaky.sql", "SELECT * FROM sneaky()")]);
    let loaded = assertions::load_dir(dir.path()).expect("a SELECT passes the parser check");
    let mut conn = db.connect().await;
    let results = assertions::run(&mut conn, &loaded, 5).await.expect("run");
    let Outcome::Error { sqlstate, .. } = &results[0].outcome else {
        panic!("the write was not refused: {:?}", results[0]);
    };
    assert_eq!(sqlstate.as_deref(), Some("25006"), "{:?}", results[0]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

/// Files that are not exactly one read-only query are rejected when loading, naming the
/// file and line: several statements, none, a DELETE, an INSERT hidden in a WITH.
#[test]
fn load_dir_rejects_what_is_not_one_query() {
    let cases = [
        (
            "two.sql",
            "SELECT 1;\n-- second\nSELECT 2;\n",
            "two.sql:3: contains 2 statements",
        ),
        (
            "none.sql",
            "-- only a comment\n",
            "none.sql:1: contains no statement",
        ),
        (
            "delete.sql",
            "-- header\n\nDELETE FROM accounts",
            "delete.sql:3: is not a query (DELETE)",
        ),
        (
            "cte.sql",
            "WITH x AS (INSERT INTO accounts VALUES (9, 'x') RETURNING id)\nSELECT * FROM x",
            "cte.sql:1: runs INSERT inside its WITH clause",
        ),
        (
            "ddl.sql",
            "CREATE TABLE t (a int)",
            "ddl.sql:1: is not a query",
        ),
        ("syntax.sql", "\n\nSELEC 1", "syntax.sql:3: does not parse"),
    ];
    for (name, sql, expected) in cases {
        let dir = verify_dir(&[(name, sql)]);
        let error = assertions::load_dir(dir.path())
            .expect_err(name)
            .to_string();
        assert!(error.contains(expected), "{name}: {error}");
    }
    // Other files are ignored; an empty folder is no assertions.
    let dir = verify_dir(&[("README.md", "not SQL"), ("notes.txt", "DELETE")]);
    assert_eq!(assertions::load_dir(dir.path()).expect("ok"), Vec::new());
}

// ---------------------------------------------------------------------------------------
// `reconcile verify`.

/// In sync and every assertion passes → 0; one fails → 4 with the file, its description and
/// the first N offending rows (`--assertion-rows`), NULL shown as NULL.
#[test]
fn failing_assertion_exits_4_with_offending_rows() {
    let db = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let passing = verify_dir(&[PASSING]);
    let output = verify(&db.url, &dev, schema.path(), passing.path(), &[]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("pass  a_no_empty_emails.sql"), "{stdout}");
    assert!(
        stdout.contains("Assertions: 1 passed, 0 failed, 0 errors"),
        "{stdout}"
    );

    let both = verify_dir(&[PASSING, FAILING]);
    let output = verify(
        &db.url,
        &dev,
        schema.path(),
        both.path(),
        &["--assertion-rows", "2"],
    );
    assert_exit(&output, 4);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("FAIL  b_notes_present.sql"), "{stdout}");
    assert!(stdout.contains("Every account has a note."), "{stdout}");
    assert!(
        stdout.contains("b_notes_present.sql:4: 7 offending rows, first 2 shown"),
        "{stdout}"
    );
    assert!(
        stdout.contains("id=1, email=user1@example.com, note=NULL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("id=2, email=user2@example.com, note=even"),
        "{stdout}"
    );
    assert!(!stdout.contains("id=3,"), "more rows than asked: {stdout}");
    assert!(stdout.contains("In sync"), "{stdout}");
    assert!(
        stdout.contains("Assertions: 1 passed, 1 failed, 0 errors"),
        "{stdout}"
    );
}

/// JSON: the drift fields are unchanged (format_version 1, `status` is still the drift
/// status) and an `assertions` object carries the verdicts and rows (NULL as null).
#[test]
fn json_carries_assertion_results() {
    let db = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let both = verify_dir(&[PASSING, FAILING]);
    let output = verify(
        &db.url,
        &dev,
        schema.path(),
        both.path(),
        &["--format", "json"],
    );
    assert_exit(&output, 4);
    let doc = json(&output);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["status"], "in_sync");
    let a = &doc["assertions"];
    assert_eq!(a["status"], "failed");
    assert_eq!(a["passed"], 1);
    assert_eq!(a["failed"], 1);
    assert_eq!(a["errors"], 0);
    let results = a["results"].as_array().expect("results");
    assert_eq!(results[0]["name"], "a_no_empty_emails.sql");
    assert_eq!(results[0]["status"], "passed");
    assert_eq!(results[1]["status"], "failed");
    assert_eq!(results[1]["line"], 4);
    assert_eq!(results[1]["description"], "Every account has a note.");
    assert_eq!(
        results[1]["columns"],
        serde_json::json!(["id", "email", "note"])
    );
    assert_eq!(results[1]["total_rows"], 7);
    let rows = results[1]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5, "default --assertion-rows is 5");
    assert_eq!(rows[0], serde_json::json!(["1", "user1@example.com", null]));

    // `plan` has no assertions field at all.
    let plan = Command::cargo_bin("reconcile")
        .expect("binary")
        .current_dir(std::env::temp_dir())
        .args(["plan", "--format", "json", "--database-url", &db.url])
        .args(["--dev-url", &dev.url])
        .arg("--schema")
        .arg(schema.path())
        .timeout(TIMEOUT)
        .output()
        .expect("run");
    assert_exit(&plan, 0);
    assert!(json(&plan).get("assertions").is_none());
}

/// Markdown and SQL outputs carry the results too.
#[test]
fn markdown_and_sql_carry_assertion_results() {
    let db = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let both = verify_dir(&[PASSING, FAILING]);
    let md = verify(
        &db.url,
        &dev,
        schema.path(),
        both.path(),
        &["--format", "markdown"],
    );
    assert_exit(&md, 4);
    let md = text(&md.stdout);
    assert!(
        md.contains("Assertions: 1 passed, 1 failed, 0 errors"),
        "{md}"
    );
    assert!(
        md.contains("| `b_notes_present.sql` | ❌ **fail** | 7 offending rows, first 5 shown |"),
        "{md}"
    );
    assert!(md.contains("| id | email | note |"), "{md}");
    assert!(md.contains("| 1 | user1@example.com | *NULL* |"), "{md}");

    let sql = verify(
        &db.url,
        &dev,
        schema.path(),
        both.path(),
        &["--format", "sql"],
    );
    assert_exit(&sql, 4);
    let sql = text(&sql.stdout);
    assert!(sql.contains("--   FAIL  b_notes_present.sql"), "{sql}");
    for line in sql.lines().filter(|l| l.contains("b_notes")) {
        assert!(line.starts_with("--"), "not a comment: {line}");
    }
}

/// An assertion that cannot run → 1, with file, line, SQLSTATE and message on stderr, and
/// the report still printed.
#[test]
fn sql_error_in_an_assertion_exits_1() {
    let db = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let dir = verify_dir(&[
        FAILING,
        (
            "broken.sql",
            "-- header\nSELECT id,\n       no_such_column\n  FROM accounts",
        ),
    ]);
    let output = verify(&db.url, &dev, schema.path(), dir.path(), &[]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("broken.sql:3"), "{stderr}");
    assert!(stderr.contains("SQLSTATE 42703"), "{stderr}");
    assert!(stderr.contains("no_such_column"), "{stderr}");
    let stdout = text(&output.stdout);
    assert!(stdout.contains("ERROR broken.sql"), "{stdout}");
    assert!(stdout.contains("FAIL  b_notes_present.sql"), "{stdout}");
}

/// Invalid assertion files → 1 before any connection (the URL points at a closed port).
#[test]
fn invalid_assertion_files_exit_1_before_connecting() {
    let schema = schema_dir(DESIRED);
    let dev = common::fresh_db();
    for (name, sql, expected) in [
        (
            "two.sql",
            "SELECT 1;\nSELECT 2;",
            "two.sql:2: contains 2 statements",
        ),
        (
            "write.sql",
            "UPDATE accounts SET note = 'x'",
            "write.sql:1: is not a query (UPDATE)",
        ),
        (
            "cte.sql",
            "WITH x AS (INSERT INTO accounts VALUES (9, 'x') RETURNING id) SELECT * FROM x",
            "cte.sql:1: runs INSERT inside its WITH clause",
        ),
    ] {
        let dir = verify_dir(&[(name, sql)]);
        let output = verify(
            "postgres://nobody:secret@127.0.0.1:1/none",
            &dev,
            schema.path(),
            dir.path(),
            &[],
        );
        assert_exit(&output, 1);
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("cannot connect"), "{stderr}");
    }
}

/// A missing `--verify-dir` folder is an error; a missing default `verify/` is no
/// assertions; `--no-assertions` skips a folder with a failing one.
#[test]
fn folders_default_explicit_and_skipped() {
    let db = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let nowhere = tempfile::tempdir().expect("tmp");
    let missing = nowhere.path().join("no-such-folder");
    let output = verify(&db.url, &dev, schema.path(), &missing, &[]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("no-such-folder"),
        "{}",
        text(&output.stderr)
    );

    // Default folder absent (the working directory has no verify/).
    let output = verify_in(
        nowhere.path(),
        &db.url,
        &dev,
        schema.path(),
        &["--format", "json"],
    );
    assert_exit(&output, 0);
    assert_eq!(json(&output)["assertions"]["status"], "none");

    // Default folder present: used.
    let project = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(project.path().join("verify")).expect("mkdir");
    std::fs::write(project.path().join("verify").join(FAILING.0), FAILING.1).expect("write");
    let output = verify_in(project.path(), &db.url, &dev, schema.path(), &[]);
    assert_exit(&output, 4);

    let output = verify_in(
        project.path(),
        &db.url,
        &dev,
        schema.path(),
        &["--no-assertions", "--format", "json"],
    );
    assert_exit(&output, 0);
    let doc = json(&output);
    assert_eq!(doc["assertions"]["status"], "skipped");
    assert_eq!(doc["assertions"]["results"], serde_json::json!([]));
}

/// Precedence: a failed assertion (4) outranks drift (3) and pending changes (2); with
/// every assertion passing, the drift codes are unchanged.
#[test]
fn failed_assertions_outrank_drift_codes() {
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let failing = verify_dir(&[FAILING]);
    let passing = verify_dir(&[PASSING]);

    let drifted = database(&format!(
        "{IN_SYNC} ALTER TABLE accounts ADD COLUMN legacy int;"
    ));
    assert_exit(
        &verify(&drifted.url, &dev, schema.path(), passing.path(), &[]),
        3,
    );
    let output = verify(
        &drifted.url,
        &dev,
        schema.path(),
        failing.path(),
        &["--format", "json"],
    );
    assert_exit(&output, 4);
    assert_eq!(json(&output)["status"], "drift");

    let behind = database(
        &IN_SYNC
            .replace(", note text", "")
            .replace(", CASE WHEN i % 2 = 0 THEN 'even' END", ""),
    );
    let pending_ok = verify_dir(&[("ok.sql", "SELECT 1 WHERE false")]);
    assert_exit(
        &verify(&behind.url, &dev, schema.path(), pending_ok.path(), &[]),
        2,
    );
    let pending_fail = verify_dir(&[("rows.sql", "SELECT id FROM accounts")]);
    assert_exit(
        &verify(&behind.url, &dev, schema.path(), pending_fail.path(), &[]),
        4,
    );
}

// ---------------------------------------------------------------------------------------
// The assertions shipped in verify/.

const SHIPPED: [&str; 5] = [
    "foreign_keys_have_indexes.sql",
    "no_invalid_indexes.sql",
    "no_unvalidated_constraints.sql",
    "row_level_security_has_policies.sql",
    "tables_have_primary_keys.sql",
];

fn statuses(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["assertions"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The example schema (`schema/`), applied to a fresh database with `reconcile apply`,
/// passes every shipped assertion.
#[test]
fn shipped_assertions_pass_on_the_example_schema() {
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let apply = Command::cargo_bin("reconcile")
        .expect("binary")
        .current_dir(std::env::temp_dir())
        .args(["apply", "--color", "never", "--database-url", &db.url])
        .args(["--dev-url", &dev.url])
        .arg("--schema")
        .arg(repo().join("schema"))
        .timeout(TIMEOUT)
        .output()
        .expect("run apply");
    assert_exit(&apply, 0);

    let output = verify(
        &db.url,
        &dev,
        &repo().join("schema"),
        &repo().join("verify"),
        &["--format", "json"],
    );
    assert_exit(&output, 0);
    let doc = json(&output);
    let expected: Vec<(String, String)> = SHIPPED
        .iter()
        .map(|n| (n.to_string(), "passed".to_owned()))
        .collect();
    assert_eq!(statuses(&doc), expected, "{doc:#}");
}

/// A database that breaks each invariant makes each shipped assertion fail, naming the
/// object — and only the bad objects.
#[test]
fn shipped_assertions_catch_a_bad_database() {
    let db = database(
        "CREATE TABLE parents (id bigint PRIMARY KEY);
         CREATE TABLE good_children (
             id bigint PRIMARY KEY,
             parent_id bigint REFERENCES parents,
             other_id bigint
         );
         CREATE INDEX good_children_parent_idx ON good_children (parent_id, other_id);
         CREATE TABLE bad_children (id bigint PRIMARY KEY, parent_id bigint REFERENCES parents);
         CREATE INDEX bad_children_partial_idx ON bad_children (parent_id) WHERE parent_id > 0;
         CREATE TABLE keyless (a int, b int);
         INSERT INTO keyless VALUES (1, 1), (1, 1);
         ALTER TABLE parents ADD CONSTRAINT positive CHECK (id > 0) NOT VALID;
         CREATE TABLE locked (id bigint PRIMARY KEY);
         ALTER TABLE locked ENABLE ROW LEVEL SECURITY;
         CREATE TABLE guarded (id bigint PRIMARY KEY);
         ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
         CREATE POLICY everyone ON guarded USING (true);
         CREATE TABLE exposed (id bigint PRIMARY KEY);
         CREATE POLICY nobody ON exposed USING (false);",
    );
    // A failed concurrent build leaves an INVALID index (psql runs it outside a transaction).
    let failed = db.psql("CREATE UNIQUE INDEX CONCURRENTLY keyless_a_idx ON keyless (a);");
    assert!(
        failed.is_err(),
        "the duplicate rows should make the build fail"
    );
    let dev = common::fresh_db();
    let schema = schema_dir("tables: {}\n");
    let output = verify(
        &db.url,
        &dev,
        schema.path(),
        &repo().join("verify"),
        &["--format", "json", "--fail-on", "none"],
    );
    assert_exit(&output, 4);
    let doc = json(&output);
    let expected: Vec<(String, String)> = SHIPPED
        .iter()
        .map(|n| (n.to_string(), "failed".to_owned()))
        .collect();
    assert_eq!(statuses(&doc), expected, "{doc:#}");
    let results = doc["assertions"]["results"].as_array().expect("results");
    let rows = |i: usize| results[i]["rows"].to_string();
    assert_eq!(results[0]["total_rows"], 1, "{}", rows(0));
    assert!(
        rows(0).contains("bad_children_parent_id_fkey"),
        "{}",
        rows(0)
    );
    assert!(rows(1).contains("keyless_a_idx"), "{}", rows(1));
    assert!(rows(2).contains("positive"), "{}", rows(2));
    assert_eq!(results[3]["total_rows"], 2, "{}", rows(3));
    assert!(
        rows(3).contains("exposed") && rows(3).contains("locked") && !rows(3).contains("guarded"),
        "{}",
        rows(3)
    );
    assert_eq!(results[4]["total_rows"], 1, "{}", rows(4));
    assert!(rows(4).contains("keyless"), "{}", rows(4));
}
