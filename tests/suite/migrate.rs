//! `reconcile migrate` against real PostgreSQL, driven through the binary as a deploy job
//! would: several files per date apply in (date, number) order; a failing file stops the run
//! with its error recorded and the earlier files committed; edited, duplicate and badly named
//! files are refused; `-- reconcile:no-transaction` runs CREATE INDEX CONCURRENTLY; baseline,
//! dry-run, status JSON and the shared advisory lock do what docs/migrations.md says. (A real
//! series, supabase/auth's, is in the corpus target: `tests/corpus/migrate_series.rs`.)

use crate::common;

use std::process::Stdio;

use common::migrate::{BIN, Fixture, TIMEOUT, assert_exit, show, status_json, stderr, stdout};
use serde_json::Value;

fn states(json: &Value) -> Vec<(String, String)> {
    json["migrations"]
        .as_array()
        .expect("a migrations array")
        .iter()
        .map(|m| {
            (
                m["file"].as_str().unwrap_or_default().to_owned(),
                m["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Order, failure, retry.

#[test]
fn several_files_per_date_apply_in_date_then_number_order() {
    let f = Fixture::new();
    f.write(
        "20220314_001_create_log.sql",
        "CREATE TABLE log (n serial PRIMARY KEY, what text NOT NULL);",
    );
    f.write(
        "20220314_002_second.sql",
        "INSERT INTO log (what) VALUES ('2');",
    );
    // 10 after 9 although "10" sorts before "9" as text.
    f.write(
        "20220314_9_third.sql",
        "INSERT INTO log (what) VALUES ('9');",
    );
    f.write(
        "20220314_10_fourth.sql",
        "INSERT INTO log (what) VALUES ('10');",
    );
    f.write(
        "20220315_001_next_day.sql",
        "INSERT INTO log (what) VALUES ('next day');",
    );
    let out = f.run(&["apply"]);
    assert_exit(&out, 0);
    assert_eq!(
        f.sql("SELECT string_agg(what, ',' ORDER BY n) FROM log"),
        "2,9,10,next day"
    );
    assert_eq!(
        f.sql("SELECT string_agg(version, ',' ORDER BY id) FROM reconcile.migrations"),
        "20220314_1,20220314_2,20220314_9,20220314_10,20220315_1"
    );
}

#[test]
fn a_failing_file_stops_the_run_is_recorded_and_is_retried_once_fixed() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);\n");
    let broken = "-- creates b, then fails\nCREATE TABLE b (id int);\n\nINSERT INTO\n  no_such_table VALUES (1);\n";
    f.write("002_b.sql", broken);
    f.write("003_c.sql", "CREATE TABLE c (id int);\n");

    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("002_b.sql:5:"),
        "file:line of the error: {err}"
    );
    assert!(err.contains("42P01"), "SQLSTATE: {err}");
    assert!(err.contains("no_such_table"), "server message: {err}");
    assert!(err.contains("1 file(s) applied before it"), "{err}");

    // 001 committed, 002 rolled back but recorded as failed, 003 untouched.
    assert!(f.exists("a"));
    assert!(
        !f.exists("b"),
        "the failed file's transaction must roll back"
    );
    assert!(!f.exists("c"), "files after the failure must not run");
    assert_eq!(f.tracked(), ["001_a.sql|t|1", "002_b.sql|f|1"]);
    assert_eq!(
        f.sql(
            "SELECT sqlstate || '|' || error_line || '|' || (error LIKE '%no_such_table%') \
             FROM reconcile.migrations WHERE NOT success"
        ),
        "42P01|5|true"
    );

    // status: failed (pending again, with the error), exit 2.
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(2));
    assert_eq!(
        states(&json),
        [
            ("001_a.sql".into(), "applied".into()),
            ("002_b.sql".into(), "failed".into()),
            ("003_c.sql".into(), "pending".into())
        ]
    );
    assert_eq!(json["migrations"][1]["error"]["sqlstate"], "42P01");
    assert_eq!(json["migrations"][1]["error"]["line"], 5);
    let text = f.run(&["status"]);
    assert!(stdout(&text).contains("002_b.sql:5:"), "{}", show(&text));

    // Fixed, the next apply continues from there.
    f.write("002_b.sql", "CREATE TABLE b (id int);\n");
    let out = f.run(&["apply"]);
    assert_exit(&out, 0);
    assert!(f.exists("b") && f.exists("c"));
    assert_eq!(
        f.tracked(),
        [
            "001_a.sql|t|1",
            "002_b.sql|f|1",
            "002_b.sql|t|2",
            "003_c.sql|t|2"
        ]
    );
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(0), "{json}");
}

#[test]
fn statements_split_by_the_parser_run_one_by_one() {
    let f = Fixture::new();
    f.write(
        "001_functions.sql",
        "CREATE TABLE t (s text); -- a comment; with a semicolon\n\
         /* a block; comment */\n\
         CREATE FUNCTION add_row(x text) RETURNS void LANGUAGE plpgsql AS $body$\n\
         BEGIN\n\
           INSERT INTO t VALUES (x || ';');\n\
         END\n\
         $body$;\n\
         SELECT add_row('a;b');\n\
         INSERT INTO t VALUES ('c;d'), ($$e;f$$);\n",
    );
    let out = f.run(&["apply"]);
    assert_exit(&out, 0);
    assert_eq!(
        f.sql("SELECT string_agg(s, ' ' ORDER BY s) FROM t"),
        "a;b; c;d e;f"
    );
}

// ---------------------------------------------------------------------------------------
// Refusals.

#[test]
fn duplicate_versions_are_refused_naming_both_files_and_the_next_free_number() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write("002_b.sql", "CREATE TABLE b (id int);");
    f.write("002_c.sql", "CREATE TABLE c (id int);");
    let out = f.run(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("duplicate version 2: used by 002_b.sql, 002_c.sql"),
        "{}",
        show(&out)
    );
    assert!(
        text.contains("rename 002_c.sql to 003_c.sql"),
        "{}",
        show(&out)
    );

    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("duplicate version 2"),
        "{}",
        show(&out)
    );
    assert!(!f.exists("a"), "nothing may run");
    assert!(f.tracked().is_empty());
}

#[test]
fn mixed_and_bad_names_are_refused_with_a_rename() {
    let f = Fixture::new();
    f.write("001_a.sql", "SELECT 1;");
    f.write("002_b.sql", "SELECT 1;");
    f.write("V3__c.sql", "SELECT 1;");
    f.write("add_users.sql", "SELECT 1;");
    f.write("README.md", "not a migration");
    let out = f.run(&["check"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("V3__c.sql: mixes naming conventions"),
        "{text}"
    );
    assert!(
        text.contains("add_users.sql: not a migration file name"),
        "{text}"
    );
    assert!(text.contains("e.g. to 00"), "{text}");
    assert!(!text.contains("README"), "{text}");
}

#[test]
fn check_reports_syntax_errors_with_file_and_line_and_passes_good_folders() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);\n");
    f.write(
        "002_b.sql",
        "CREATE TABLE b (id int);\n\nCREATE TABLE c (id int,);\n",
    );
    let out = f.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("002_b.sql:3: syntax error"),
        "{}",
        show(&out)
    );
    // apply refuses before running anything.
    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("002_b.sql:3: syntax error"),
        "{}",
        show(&out)
    );
    assert!(!f.exists("a"));

    f.write("002_b.sql", "CREATE TABLE b (id int);\n");
    let out = f.run(&["check"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("ok: 2 migration file(s) checked"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_file_edited_after_apply_is_changed_and_blocks_apply_unless_allowed() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write("002_b.sql", "CREATE TABLE b (id int);");
    assert_exit(&f.run(&["apply"]), 0);

    f.write("001_a.sql", "CREATE TABLE a (id bigint);");
    f.write("003_c.sql", "CREATE TABLE c (id int);");
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(3), "changed files exit 3: {json}");
    assert_eq!(
        states(&json),
        [
            ("001_a.sql".into(), "changed".into()),
            ("002_b.sql".into(), "applied".into()),
            ("003_c.sql".into(), "pending".into())
        ]
    );
    assert_ne!(
        json["migrations"][0]["checksum"],
        json["migrations"][0]["recorded_checksum"]
    );

    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("001_a.sql (version 1)"),
        "{}",
        show(&out)
    );
    assert!(stderr(&out).contains("--allow-changed"), "{}", show(&out));
    assert!(!f.exists("c"));

    // check sees it too, given the database.
    let out = f.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("changed since it was applied"),
        "{}",
        show(&out)
    );

    let out = f.run(&["apply", "--allow-changed"]);
    assert_exit(&out, 0);
    assert!(f.exists("c"));
    assert_eq!(
        f.sql("SELECT format_type(atttypid, -1) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attname = 'id'"),
        "integer",
        "a changed file is never re-run"
    );
}

// ---------------------------------------------------------------------------------------
// Outside a transaction.

#[test]
fn no_transaction_files_run_create_index_concurrently() {
    let f = Fixture::new();
    f.write(
        "001_t.sql",
        "CREATE TABLE t (id int, v text);\nINSERT INTO t SELECT g, g::text FROM generate_series(1, 100) g;\n",
    );
    f.write(
        "002_idx.sql",
        "-- builds without blocking writes\n-- reconcile:no-transaction\n\
         CREATE INDEX CONCURRENTLY t_v_idx ON t (v);\n\
         CREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n",
    );
    let out = f.run(&["apply"]);
    assert_exit(&out, 0);
    assert_eq!(
        f.sql("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass AND indisvalid"),
        "2"
    );
    assert_eq!(f.tracked(), ["001_t.sql|t|1", "002_idx.sql|t|1"]);
}

#[test]
fn concurrently_without_the_header_is_refused_suggesting_it() {
    let f = Fixture::new();
    f.write("001_t.sql", "CREATE TABLE t (id int);\n");
    f.write(
        "002_idx.sql",
        "\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n",
    );
    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("002_idx.sql:2:"), "{err}");
    assert!(err.contains("-- reconcile:no-transaction"), "{err}");
    assert!(!f.exists("t_id_idx"));
    let out = f.run(&["check"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("-- reconcile:no-transaction"),
        "{}",
        show(&out)
    );
}

// ---------------------------------------------------------------------------------------
// baseline, dry-run, status, lock.

#[test]
fn baseline_marks_files_as_applied_without_running_them() {
    let f = Fixture::new();
    // The database already has what 001 and 002 create.
    f.sql("CREATE TABLE a (id int); CREATE TABLE b (id int);");
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write("002_b.sql", "CREATE TABLE b (id int);");
    f.write("003_c.sql", "CREATE TABLE c (id int);");

    let out = f.run(&["baseline", "9"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("no migration file has version `9`"),
        "{}",
        show(&out)
    );
    assert!(f.tracked().is_empty());

    let out = f.run(&["baseline", "002"]);
    assert_exit(&out, 0);
    assert_eq!(f.tracked(), ["001_a.sql|t|1", "002_b.sql|t|1"]);
    assert_eq!(
        f.sql("SELECT bool_and(baselined) FROM reconcile.migrations"),
        "t"
    );
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(2));
    assert_eq!(json["migrations"][0]["baselined"], true);
    assert_eq!(json["migrations"][2]["state"], "pending");
    let text = stdout(&f.run(&["status"]));
    let line = text
        .lines()
        .find(|l| l.contains("001_a.sql"))
        .unwrap_or_default();
    assert!(line.contains("applied*"), "{text}");
    assert!(
        text.contains("* baselined: marked as applied, never run"),
        "{text}"
    );

    let out = f.run(&["apply"]);
    assert_exit(&out, 0);
    assert_eq!(
        f.tracked(),
        ["001_a.sql|t|1", "002_b.sql|t|1", "003_c.sql|t|2"]
    );
    assert!(f.exists("c"));
}

#[test]
fn dry_run_lists_the_files_and_executes_nothing() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write(
        "002_b.sql",
        "-- reconcile:no-transaction\nCREATE TABLE b (id int);",
    );
    let out = f.run(&["apply", "--dry-run"]);
    assert_exit(&out, 2);
    let text = stdout(&out);
    assert!(
        text.contains("would run 001_a.sql (1 statement(s), one transaction)"),
        "{text}"
    );
    assert!(
        text.contains("would run 002_b.sql (1 statement(s), no transaction)"),
        "{text}"
    );
    assert!(!f.exists("a") && !f.exists("b"));
    assert!(
        !f.exists("reconcile.migrations"),
        "a dry run creates nothing, not even the tracking table"
    );
}

#[test]
fn status_json_lists_every_state_including_missing_files() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write("002_b.sql", "CREATE TABLE b (id int);");
    f.write("002_b.down.sql", "DROP TABLE b;");
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(2), "pending exits 2");
    assert_eq!(json["counts"]["pending"], 2);
    assert_exit(&f.run(&["apply"]), 0);

    std::fs::remove_file(f.path().join("001_a.sql")).unwrap();
    f.write("003_c.sql", "CREATE TABLE c (id int);");
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(3), "missing exits 3: {json}");
    let entries = json["migrations"].as_array().unwrap();
    assert_eq!(
        states(&json),
        [
            ("002_b.sql".into(), "applied".into()),
            ("003_c.sql".into(), "pending".into()),
            ("001_a.sql".into(), "missing".into())
        ]
    );
    let applied = &entries[0];
    for key in [
        "version",
        "file",
        "state",
        "checksum",
        "recorded_checksum",
        "applied_at",
        "execution_time_ms",
        "batch",
        "applied_by",
        "baselined",
        "error",
        "down_file",
    ] {
        assert!(applied.get(key).is_some(), "{key} missing in {applied}");
    }
    assert_eq!(applied["version"], "2");
    assert_eq!(applied["down_file"], "002_b.down.sql");
    assert_eq!(applied["batch"], 1);
    assert!(applied["applied_at"].as_str().unwrap().ends_with('Z'));
    assert!(applied["applied_by"].as_str().unwrap().contains('@'));
    assert_eq!(entries[1]["applied_at"], Value::Null);
    assert_eq!(entries[2]["checksum"], Value::Null);
    assert_eq!(
        json["counts"],
        serde_json::json!({"applied": 1, "pending": 1, "changed": 0, "failed": 0, "missing": 1})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_the_lock_the_declarative_apply_takes() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    let mut holder = f.db.connect().await;
    // The key of src/apply/lock.rs: namespace 'reco', hash of the database name.
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_database()))")
            .bind(reconcile::apply::lock::NAMESPACE)
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert!(locked);
    let out = tokio::task::spawn_blocking({
        let url = f.db.url.clone();
        let dir = f.path().to_path_buf();
        move || {
            let mut command = std::process::Command::new(BIN);
            command
                .args(["--database-url", &url, "migrate", "--migrations"])
                .arg(dir)
                .args(["apply", "--wait-lock", "300ms"])
                .env_remove("DATABASE_URL")
                .stdin(Stdio::null());
            assert_cmd::Command::from_std(command)
                .timeout(TIMEOUT)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("holds the apply lock"),
        "{}",
        show(&out)
    );
    assert!(!f.exists("a"));
    drop(holder);
}

// ---------------------------------------------------------------------------------------
// The library API other commands (`reconcile shadow`) call.

#[tokio::test(flavor = "multi_thread")]
async fn the_library_reports_runs_and_failures_and_releases_the_lock() {
    use reconcile::migrate::{self, ApplyOptions, Silent};
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("002_b.sql", "SELECT 1;\nSELECT 1 / 0;\n");
    f.write("003_c.sql", "CREATE TABLE c (id int);\n");
    let migrations = migrate::discover(f.path()).expect("discover");
    assert_eq!(migrations.files.len(), 3);

    let mut conn = f.db.connect().await;
    let options = ApplyOptions::default();
    let report = migrate::apply(&mut conn, &migrations, &options, &mut Silent)
        .await
        .expect("apply runs");
    assert_eq!(report.batch, Some(1));
    assert_eq!(report.pending.len(), 3);
    let ran: Vec<&str> = report.applied.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(ran, ["001_a.sql"]);
    let failure = report.failure.expect("002 fails");
    assert_eq!(failure.file, "002_b.sql");
    assert_eq!(failure.line, Some(2));
    assert_eq!(failure.sqlstate.as_deref(), Some("22012"));
    assert_eq!(failure.message, "division by zero");
    assert_eq!(failure.statement.as_deref(), Some("SELECT 1 / 0"));
    assert!(
        failure
            .to_string()
            .contains("002_b.sql:2: division by zero (SQLSTATE 22012)")
    );

    // The lock is released: another session can take it at once.
    let mut other = f.db.connect().await;
    let free: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_database()))")
            .bind(reconcile::apply::lock::NAMESPACE)
            .fetch_one(&mut other)
            .await
            .unwrap();
    assert!(free, "migrate::apply must release the advisory lock");
    drop(other);

    let entries = migrate::status(&mut conn, &migrations, &options.history_schema)
        .await
        .unwrap();
    let states: Vec<&str> = entries.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["applied", "failed", "pending"]);

    let dry = migrate::apply(
        &mut conn,
        &migrations,
        &ApplyOptions {
            dry_run: true,
            ..ApplyOptions::default()
        },
        &mut Silent,
    )
    .await
    .unwrap();
    assert!(dry.dry_run && dry.applied.is_empty() && dry.batch.is_none());
    let due: Vec<(&str, bool)> = dry
        .pending
        .iter()
        .map(|p| (p.file.as_str(), p.retry_of_failed))
        .collect();
    assert_eq!(due, [("002_b.sql", true), ("003_c.sql", false)]);
}

#[test]
fn history_schema_and_statement_timeout_flags_are_honoured() {
    let f = Fixture::new();
    f.write("001_a.sql", "CREATE TABLE a (id int);");
    f.write("002_slow.sql", "SELECT pg_sleep(30);");
    let out = f.run(&[
        "--history-schema",
        "ops",
        "apply",
        "--statement-timeout",
        "200ms",
    ]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("57014"),
        "statement timeout: {}",
        show(&out)
    );
    assert!(f.exists("ops.migrations"));
    assert!(!f.exists("reconcile.migrations"));
    assert_eq!(
        f.sql("SELECT string_agg(file || ':' || success, ',' ORDER BY id) FROM ops.migrations"),
        "001_a.sql:true,002_slow.sql:false"
    );
    // status reads the same schema and shows the recorded SQLSTATE.
    let out = f.run(&["--history-schema", "ops", "status"]);
    assert_exit(&out, 2);
    assert!(stdout(&out).contains("57014"), "{}", show(&out));
}

/// The success row commits with the file: when COMMIT itself fails (a deferred foreign key),
/// neither the file's objects nor a success row remain, and the failure is recorded.
#[test]
fn a_file_whose_commit_fails_leaves_no_success_row() {
    let f = Fixture::new();
    f.write(
        "001_deferred.sql",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO child VALUES (1);\n",
    );
    let out = f.run(&["apply"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("23503"), "{}", show(&out));
    assert!(!f.exists("parent") && !f.exists("child"));
    assert_eq!(f.tracked(), ["001_deferred.sql|f|1"]);
}

/// Two deploy jobs at once: the advisory lock serialises them, every file runs once.
#[test]
fn concurrent_applies_run_each_file_once() {
    let f = Fixture::new();
    for n in 1..=6 {
        f.write(
            &format!("{n:03}_t{n}.sql"),
            &format!("CREATE TABLE t{n} (id int);\nSELECT pg_sleep(0.05);\n"),
        );
    }
    let spawn = || {
        let mut command = std::process::Command::new(BIN);
        command
            .args(["--color", "never", "--database-url", &f.db.url, "migrate"])
            .arg("--migrations")
            .arg(f.path())
            .arg("apply")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("spawn reconcile")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait for reconcile");
        assert_exit(&out, 0);
    }
    let rows = f.tracked();
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.iter().all(|r| r.ends_with("|t|1")), "{rows:?}");
}
