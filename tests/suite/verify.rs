//! `reconcile verify`, the read-only drift audit for schedules and CI gates.
//!
//! Scripts branch on its exit code, so each code is shown by a test: 0 in sync, 2 additive
//! changes pending, 3 other drift (and how `--fail-on` changes that), 1 for errors (bad YAML
//! before any connection, an unreachable database), each with a message naming the problem.
//! The machine-readable outputs (`--format json`, `--out FILE`) are checked as documents.
//!
//! Verify is meant to run against production at any time, so the tests also show that it
//! changes nothing (a catalog snapshot is identical before and after; it works on a database
//! whose sessions are read-only) and takes no lock that blocks writes: it completes while
//! another session holds an open write transaction, and even while another session holds
//! EXCLUSIVE, which conflicts with every table lock except ACCESS SHARE.

use crate::common;

use common::{assert_exit, text};

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::TestDb;
use sqlx::Connection as _;

/// Long enough for any verify on a loaded machine; a verify blocked by a lock hits it and
/// is killed (exit code `None`), failing the test without a timing assertion.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The desired state of most tests: one table.
const DESIRED: &str = "
tables:
  accounts:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
      balance: { type: \"numeric(12,2)\", not_null: true, default: 0 }
    indexes:
      - { columns: [email] }
";

/// The live table `DESIRED` describes, with rows.
const IN_SYNC: &str = "
    CREATE TABLE accounts (
        id bigint PRIMARY KEY,
        email text NOT NULL,
        balance numeric(12,2) NOT NULL DEFAULT 0
    );
    CREATE INDEX accounts_email_idx ON accounts (email);
    INSERT INTO accounts VALUES (1, 'a@example.com', 10), (2, 'b@example.com', 20);
";

/// `DESIRED` minus the index and the balance column: additive changes only.
const BEHIND: &str = "
    CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
    INSERT INTO accounts VALUES (1, 'a@example.com'), (2, 'b@example.com');
";

/// A folder holding `yaml` as its only desired-state file.
fn schema_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary schema folder");
    std::fs::write(dir.path().join("schema.yaml"), yaml).expect("write schema.yaml");
    dir
}

/// A fresh database in which `setup` has run.
fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    db.psql(setup)
        .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    db
}

/// `reconcile verify --schema <schema> --database-url <url> [--dev-url <dev>] <args>`.
fn verify(url: &str, dev: Option<&TestDb>, schema: &Path, args: &[&str]) -> Output {
    let mut command = Command::cargo_bin("reconcile").expect("the reconcile binary");
    command
        .args(["verify", "--color", "never", "--database-url", url])
        .arg("--schema")
        .arg(schema)
        .args(args)
        .env_remove("RECONCILE_DEV_URL")
        .timeout(TIMEOUT);
    if let Some(dev) = dev {
        command.args(["--dev-url", &dev.url]);
    }
    command.output().expect("run reconcile")
}

fn query(db: &TestDb, sql: &str) -> String {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// Every object of the database that DDL could create or change, one per line: schemas
/// (including temporary ones, which persist once created), relations, columns, defaults,
/// constraints, types, enum labels, functions and extensions. Catalog rows carry their
/// `xmin`, so even an in-place rewrite of a definition shows.
const CATALOG_SNAPSHOT: &str = "
    WITH ns AS (
        SELECT oid FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    )
    SELECT x FROM (
        SELECT 'schema ' || nspname || ' ' || xmin FROM pg_namespace
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
        FROM pg_attrdef
        UNION ALL
        SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) || ' '
               || convalidated || ' ' || xmin
        FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'type ' || oid::regtype || ' ' || xmin
        FROM pg_type WHERE typnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'label ' || enumtypid::regtype || ' ' || enumlabel FROM pg_enum
        UNION ALL
        SELECT 'function ' || oid::regprocedure
        FROM pg_proc WHERE pronamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension
    ) objects(x)
    ORDER BY x;
";

fn snapshot(db: &TestDb) -> String {
    let snapshot = query(db, CATALOG_SNAPSHOT);
    assert!(
        snapshot.contains("schema public "),
        "a snapshot without public:\n{snapshot}"
    );
    snapshot
}

// ---------------------------------------------------------------------------------------
// Exit codes.

/// In sync → 0. Without `--dev-url`, verify canonicalises on its own throwaway PostgreSQL.
#[test]
fn in_sync_exits_0() {
    let db = database(IN_SYNC);
    let schema = schema_dir(DESIRED);
    let output = verify(&db.url, None, schema.path(), &[]);
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains("In sync"),
        "{}",
        text(&output.stdout)
    );
}

/// Only additive changes → 2, and verify ran none of them: the catalog is unchanged, no
/// schema appeared, and the scratch database is still empty.
#[test]
fn additive_changes_exit_2_and_verify_changes_nothing() {
    let db = database(BEHIND);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let before = snapshot(&db);
    assert!(
        before.contains("column accounts.email text true"),
        "{before}"
    );
    let dev_before = snapshot(&dev);

    let output = verify(&db.url, Some(&dev), schema.path(), &[]);
    assert_exit(&output, 2);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("ADD COLUMN IF NOT EXISTS balance"),
        "{stdout}"
    );
    assert!(stdout.contains("accounts_email_idx"), "{stdout}");

    assert_eq!(snapshot(&db), before, "verify changed the database");
    assert_eq!(
        snapshot(&dev),
        dev_before,
        "verify left objects in the scratch database"
    );
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
        ),
        "information_schema,public"
    );
    assert_eq!(query(&db, "SELECT count(*) FROM accounts"), "2");
}

/// An extra column is destructive drift → 3 under the default `--fail-on any` and under
/// `--fail-on destructive`; `--fail-on none` reports it and exits 0.
#[test]
fn extra_column_exits_3_unless_fail_on_none() {
    let db = database(&format!(
        "{IN_SYNC} ALTER TABLE accounts ADD COLUMN legacy integer;"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let output = verify(&db.url, Some(&dev), schema.path(), &[]);
    assert_exit(&output, 3);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("D101"), "{stdout}");
    assert!(stdout.contains("legacy"), "{stdout}");

    assert_exit(
        &verify(
            &db.url,
            Some(&dev),
            schema.path(),
            &["--fail-on", "destructive"],
        ),
        3,
    );
    let report_only = verify(&db.url, Some(&dev), schema.path(), &["--fail-on", "none"]);
    assert_exit(&report_only, 0);
    assert!(
        text(&report_only.stdout).contains("D101"),
        "{}",
        text(&report_only.stdout)
    );
}

/// An extra index is a risky (not destructive) finding: `--fail-on any` → 3,
/// `--fail-on destructive` → 0 with nothing pending, 2 with a change pending.
#[test]
fn risky_finding_with_fail_on_destructive_exits_0_or_2() {
    let db = database(&format!(
        "{IN_SYNC} CREATE INDEX accounts_balance_idx ON accounts (balance);"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let any = verify(&db.url, Some(&dev), schema.path(), &[]);
    assert_exit(&any, 3);
    assert!(text(&any.stdout).contains("D102"), "{}", text(&any.stdout));
    assert_exit(
        &verify(
            &db.url,
            Some(&dev),
            schema.path(),
            &["--fail-on", "destructive"],
        ),
        0,
    );

    let with_new_column =
        schema_dir(&DESIRED.replace("    indexes:", "      nickname: text\n    indexes:"));
    let pending = verify(
        &db.url,
        Some(&dev),
        with_new_column.path(),
        &["--fail-on", "destructive"],
    );
    assert_exit(&pending, 2);
    assert!(
        text(&pending.stdout).contains("nickname"),
        "{}",
        text(&pending.stdout)
    );
}

/// Bad YAML → 1 with the file, line and column, before any connection (the database URL
/// points at a closed port and is never tried).
#[test]
fn bad_yaml_exits_1_before_connecting() {
    let schema = schema_dir(
        "tables:\n  accounts:\n    columns:\n      id: { type: bigint, primary_key: true\n",
    );
    let output = verify(
        "postgres://nobody:secret-password@127.0.0.1:1/none",
        None,
        schema.path(),
        &[],
    );
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.contains("schema.yaml:4:"),
        "no file:line in {stderr}"
    );
    assert!(
        !stderr.contains("cannot connect"),
        "tried to connect: {stderr}"
    );
    assert!(
        !stderr.contains("secret-password"),
        "password leaked: {stderr}"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

/// An unreachable database → 1, naming the target (without its password).
#[test]
fn unreachable_database_exits_1() {
    let schema = schema_dir(DESIRED);
    let output = verify(
        "postgres://nobody:secret-password@127.0.0.1:1/none",
        None,
        schema.path(),
        &[],
    );
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("cannot connect to 127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret-password"),
        "password leaked: {stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Machine-readable output.

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&output.stdout)))
}

#[test]
fn json_output_is_versioned_and_complete() {
    let behind = database(BEHIND);
    let drifted = database(&format!(
        "{IN_SYNC} ALTER TABLE accounts ADD COLUMN legacy integer;"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let output = verify(
        &behind.url,
        Some(&dev),
        schema.path(),
        &["--format", "json"],
    );
    assert_exit(&output, 2);
    let pending = json(&output);
    assert_eq!(pending["format_version"], 1);
    assert_eq!(pending["command"], "verify");
    assert_eq!(pending["status"], "pending");
    let steps = pending["steps"].as_array().expect("steps is an array");
    assert!(
        steps
            .iter()
            .any(|s| s["sql"].as_str().is_some_and(|sql| sql.contains("balance"))),
        "{pending:#}"
    );
    assert_eq!(pending["findings"], serde_json::json!([]));

    let output = verify(
        &drifted.url,
        Some(&dev),
        schema.path(),
        &["--format", "json"],
    );
    assert_exit(&output, 3);
    let drift = json(&output);
    assert_eq!(drift["format_version"], 1);
    assert_eq!(drift["status"], "drift");
    assert_eq!(drift["steps"], serde_json::json!([]));
    let findings = drift["findings"].as_array().expect("findings is an array");
    assert_eq!(findings.len(), 1, "{drift:#}");
    assert_eq!(findings[0]["code"], "D101");
    assert_eq!(findings[0]["severity"], "destructive");
}

/// The fingerprint identifies the live state a report was made against: different
/// databases give different fingerprints.
#[test]
fn json_fingerprints_tell_live_states_apart() {
    let behind = database(BEHIND);
    let in_sync = database(IN_SYNC);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let fingerprint = |db: &TestDb| {
        let output = verify(
            &db.url,
            Some(&dev),
            schema.path(),
            &["--format", "json", "--fail-on", "none"],
        );
        assert_exit(&output, 0);
        json(&output)["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_owned()
    };
    let (a, b) = (fingerprint(&behind), fingerprint(&in_sync));
    assert!(a.starts_with("sha256:"), "{a}");
    assert_ne!(a, b, "two different databases have the same fingerprint");
}

/// `--out FILE` writes the report there (nothing on stdout) and says so on stderr; the exit
/// code is the same as without it.
#[test]
fn out_writes_the_report_to_a_file() {
    let db = database(BEHIND);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("drift.json");

    let output = verify(
        &db.url,
        Some(&dev),
        schema.path(),
        &[
            "--format",
            "json",
            "--out",
            path.to_str().expect("UTF-8 path"),
        ],
    );
    assert_exit(&output, 2);
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(
        text(&output.stderr).contains("drift.json"),
        "{}",
        text(&output.stderr)
    );
    let written = std::fs::read(&path).expect("--out wrote the file");
    let document: serde_json::Value = serde_json::from_slice(&written).expect("JSON file");
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["status"], "pending");
}

// ---------------------------------------------------------------------------------------
// Read-only and lock-free.

/// Verify in a blocking thread (the test's runtime keeps serving the other session).
async fn verify_in_background(url: String, dev: String, schema: std::path::PathBuf) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("reconcile")
            .expect("the reconcile binary")
            .args([
                "verify",
                "--color",
                "never",
                "--database-url",
                &url,
                "--dev-url",
                &dev,
            ])
            .arg("--schema")
            .arg(&schema)
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    })
    .await
    .expect("the verify thread")
}

/// Another session has inserted a row and keeps its transaction open (ROW EXCLUSIVE on the
/// table); verify completes with the right code, and the writer commits afterwards.
#[tokio::test]
async fn verify_runs_beside_an_open_write_transaction() {
    let db = database(BEHIND);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let mut writer = db.connect().await;
    let mut tx = writer.begin().await.expect("BEGIN");
    sqlx::query("INSERT INTO accounts VALUES (3, 'c@example.com')")
        .execute(&mut *tx)
        .await
        .expect("INSERT");
    sqlx::query("LOCK TABLE accounts IN ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .expect("LOCK");

    let output =
        verify_in_background(db.url.clone(), dev.url.clone(), schema.path().to_owned()).await;
    assert_exit(&output, 2);

    sqlx::query("INSERT INTO accounts VALUES (4, 'd@example.com')")
        .execute(&mut *tx)
        .await
        .expect("the writer can still write after verify");
    tx.commit().await.expect("COMMIT");
    writer.close().await.expect("close");
    assert_eq!(query(&db, "SELECT count(*) FROM accounts"), "4");
}

/// EXCLUSIVE conflicts with every table lock but ACCESS SHARE: verify completing while
/// another session holds it proves verify takes nothing that would block writers.
#[tokio::test]
async fn verify_needs_no_lock_stronger_than_access_share() {
    let db = database(&format!(
        "{IN_SYNC} ALTER TABLE accounts ADD COLUMN legacy integer;"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);

    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.expect("BEGIN");
    sqlx::query("LOCK TABLE accounts IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .expect("LOCK");

    let output =
        verify_in_background(db.url.clone(), dev.url.clone(), schema.path().to_owned()).await;
    assert_exit(&output, 3);
    assert!(
        text(&output.stdout).contains("legacy"),
        "{}",
        text(&output.stdout)
    );

    tx.rollback().await.expect("ROLLBACK");
    holder.close().await.expect("close");
}

/// On a database whose sessions are read-only (`default_transaction_read_only`), verify
/// still works: it never needs to write.
#[test]
fn verify_works_on_a_read_only_database() {
    let db = database(BEHIND);
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    query(
        &db,
        &format!(
            "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
            db.name
        ),
    );
    assert_eq!(query(&db, "SHOW default_transaction_read_only"), "on");
    let before = snapshot(&db);

    let output = verify(&db.url, Some(&dev), schema.path(), &[]);
    assert_exit(&output, 2);
    assert_eq!(snapshot(&db), before);
}

/// Canonicalising on a database that already has objects would read them back as if they
/// were desired — e.g. `--dev-url` set to the target itself. That is an error, not a
/// silently wrong verdict.
#[test]
fn a_dev_database_that_is_not_empty_is_refused() {
    let db = database(BEHIND);
    let schema = schema_dir(DESIRED);
    let before = snapshot(&db);
    let output = verify(&db.url, Some(&db), schema.path(), &[]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the scratch database is not empty"),
        "{stderr}"
    );
    assert_eq!(snapshot(&db), before, "verify changed the database");
}

/// Regression (issue 16, item 1): a schema the desired state does not describe was invisible
/// to the audit — `verify` said "in sync" and exited 0 with a whole `sales` schema of tables
/// beside it. Every schema that is not described and not ignored is now a finding (D108) with
/// what it holds; `--ignore-schema` takes it out; reconcile's own history schema (after an
/// apply) is never reported, but a table of someone else's in it is.
#[test]
fn a_schema_the_desired_state_does_not_describe_is_drift() {
    let db = database(&format!(
        "{IN_SYNC}
        CREATE SCHEMA sales;
        CREATE TABLE sales.leads (id int);
        CREATE VIEW sales.recent AS SELECT id FROM sales.leads;
        CREATE SCHEMA empty_one;"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let output = verify(
        &db.url,
        Some(&dev),
        schema.path(),
        &["--format", "json", "--no-assertions"],
    );
    assert_exit(&output, 3);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let findings: Vec<(&str, &str, &str, &str)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap(),
                f["object"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let (code, object, severity, message) = findings[1];
    assert_eq!(
        (code, object, severity),
        ("D108", "schema sales", "destructive")
    );
    assert!(message.contains("1 table, 1 view"), "{message}");
    assert!(message.contains("--ignore-schema sales"), "{message}");
    assert_eq!(
        (findings[0].0, findings[0].1, findings[0].2),
        ("D108", "schema empty_one", "cosmetic")
    );

    let ignored = verify(
        &db.url,
        Some(&dev),
        schema.path(),
        &[
            "--no-assertions",
            "--ignore-schema",
            "sales",
            "--ignore-schema",
            "empty_one",
        ],
    );
    assert_exit(&ignored, 0);

    // reconcile's own history schema, as an apply leaves it, is not drift.
    let history = common::fresh_db();
    history
        .psql(&format!("{IN_SYNC} CREATE SCHEMA reconcile; CREATE TABLE reconcile.runs (id bigint); CREATE TABLE reconcile.steps (run_id bigint);"))
        .expect("history-like schema");
    assert_exit(
        &verify(
            &history.url,
            Some(&dev),
            schema.path(),
            &["--no-assertions"],
        ),
        0,
    );
    history
        .psql("CREATE TABLE reconcile.notes (id int)")
        .expect("a table of someone else's");
    assert_exit(
        &verify(
            &history.url,
            Some(&dev),
            schema.path(),
            &["--no-assertions"],
        ),
        3,
    );
}

/// Regression (issue 16, item 13): dropping a `bigserial` table from the desired state gave a
/// D106 `DROP SEQUENCE` for its sequence, printed first, which fails (the table's column owns
/// it). The sequence goes with the table's `DROP TABLE` (named in that finding), and the
/// suggestions run as written, in the order printed.
#[test]
fn suggestions_run_as_written_in_the_order_printed() {
    let db = database(&format!(
        "{IN_SYNC}
        CREATE TABLE audit (id bigserial PRIMARY KEY, note text);
        CREATE SEQUENCE shared_counter;
        ALTER TABLE accounts ADD COLUMN legacy_no bigint DEFAULT nextval('shared_counter');"
    ));
    let dev = common::fresh_db();
    let schema = schema_dir(DESIRED);
    let output = verify(
        &db.url,
        Some(&dev),
        schema.path(),
        &["--format", "json", "--no-assertions"],
    );
    assert_exit(&output, 3);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let findings = report["findings"].as_array().expect("findings");
    let codes: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    assert!(
        !codes.contains(&("D106", "sequence public.audit_id_seq")),
        "the owned sequence has a finding of its own: {codes:?}"
    );
    let table = findings
        .iter()
        .find(|f| f["object"] == "table public.audit")
        .expect("the extra table");
    assert!(
        table["message"]
            .as_str()
            .unwrap()
            .contains("drops the sequence public.audit_id_seq it owns too"),
        "{table:#}"
    );
    let counter = findings
        .iter()
        .find(|f| f["object"] == "sequence public.shared_counter")
        .expect("the extra sequence");
    assert!(
        counter["suggestion"]
            .as_str()
            .unwrap()
            .contains("first change the default of column public.accounts.legacy_no"),
        "{counter:#}"
    );
    // The column's own suggestion (drop it) comes first in the printed order, then the rest.
    let script: String = findings
        .iter()
        .filter_map(|f| f["suggestion"].as_str())
        .map(|s| format!("{s};\n"))
        .collect();
    db.psql(&script)
        .unwrap_or_else(|e| panic!("the suggestions do not run in order: {e}\n{script}"));
}

/// Regression (issue 16, item 13, second half): a D110 type change ignored the views that
/// read the column, so its `ALTER COLUMN ... TYPE` failed ("cannot alter type of a column
/// used by a view"). The suggestion drops those views (and the views that read them) first
/// and creates them again after, and it runs as written.
#[test]
fn a_type_change_suggestion_carries_the_views_that_read_the_column() {
    let db = database(
        "CREATE TABLE orders (id bigint PRIMARY KEY, qty text, note text);
         INSERT INTO orders VALUES (1, '3', 'a');
         CREATE VIEW order_qty AS SELECT id, qty FROM orders;
         CREATE VIEW big_orders AS SELECT id FROM order_qty WHERE qty > '1';
         CREATE VIEW order_notes AS SELECT id, note FROM orders;",
    );
    let dev = common::fresh_db();
    let dir = tempfile::tempdir().expect("schema folder");
    std::fs::write(
        dir.path().join("schema.yaml"),
        "tables:\n  orders:\n    columns:\n      id: { type: bigint, primary_key: true }\n      qty: integer\n      note: text\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("views.sql"),
        "CREATE VIEW order_qty AS SELECT id, qty FROM orders;\n\
         CREATE VIEW big_orders AS SELECT id FROM order_qty WHERE qty > 1;\n\
         CREATE VIEW order_notes AS SELECT id, note FROM orders;\n",
    )
    .expect("write");
    let output = verify(
        &db.url,
        Some(&dev),
        dir.path(),
        &["--format", "json", "--no-assertions"],
    );
    assert_exit(&output, 3);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let retype = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "D110")
        .unwrap_or_else(|| panic!("no D110: {report:#}"));
    let suggestion = retype["suggestion"].as_str().expect("a suggestion");
    let position = |what: &str| {
        suggestion
            .find(what)
            .unwrap_or_else(|| panic!("{what} is not in:\n{suggestion}"))
    };
    assert!(position("DROP VIEW public.big_orders") < position("DROP VIEW public.order_qty"));
    assert!(position("DROP VIEW public.order_qty") < position("ALTER TABLE"));
    assert!(position("ALTER TABLE") < position("CREATE VIEW public.order_qty"));
    assert!(position("CREATE VIEW public.order_qty") < position("CREATE VIEW public.big_orders"));
    assert!(!suggestion.contains("order_notes"), "{suggestion}");
    db.psql(suggestion)
        .unwrap_or_else(|e| panic!("the suggestion does not run: {e}\n{suggestion}"));
}
