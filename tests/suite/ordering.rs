//! Step ordering, end to end: desired states whose objects depend on each other (a chain of
//! foreign keys declared out of order across files, mutual and self-referencing foreign keys,
//! enums and new enum labels used by new columns and defaults, indexes, checks, keys and
//! generated columns on newly added columns) must give SQL that `psql -v ON_ERROR_STOP=1`
//! runs cleanly — twice — from an empty database and from a partial one that already has
//! some of the tables (with rows), after which `reconcile plan` reports the database in sync.
//!
//! Exit codes alone prove little, so each test also checks the end state in the catalog
//! (foreign keys present and validated, enum labels in the desired order, indexes valid) and
//! the behaviour it implies (defaults filled in, violating rows rejected).
//!
//! The desired states live in `tests/fixtures/ordering/<scenario>/`; the partial databases
//! are the SQL constants next to the tests that use them.

use crate::common;

use common::text;

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use common::TestDb;

/// The desired-state folder of one scenario.
fn fixture(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ordering")
        .join(scenario)
}

/// `reconcile plan` of `scenario` against `db`, canonicalising on `dev` (so no extra
/// PostgreSQL is started).
fn plan(db: &TestDb, dev: &TestDb, scenario: &str, args: &[&str]) -> Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .args([
            "plan",
            "--color",
            "never",
            "--database-url",
            &db.url,
            "--dev-url",
            &dev.url,
        ])
        .arg("--schema")
        .arg(fixture(scenario))
        .args(args)
        .output()
        .expect("run reconcile")
}

/// A fresh database in which `setup` has run (nothing for an empty `setup`).
fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    if !setup.is_empty() {
        db.psql(setup)
            .unwrap_or_else(|e| panic!("setting up the partial database failed: {e}"));
    }
    db
}

/// The plan as SQL; it must have steps pending (exit 2) and no findings.
fn plan_sql(db: &TestDb, dev: &TestDb, scenario: &str, args: &[&str]) -> String {
    let mut all = vec!["--format", "sql"];
    all.extend_from_slice(args);
    let output = plan(db, dev, scenario, &all);
    let sql = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{scenario}: plan should exit 2 (additive changes pending)\nstderr: {}\n{sql}",
        text(&output.stderr)
    );
    assert!(
        !sql.contains("-- Findings"),
        "{scenario}: unexpected findings\n{sql}"
    );
    sql
}

/// Runs `sql` with `psql -v ON_ERROR_STOP=1 -X -q -f`, failing the test with the script.
fn run_script(db: &TestDb, sql: &str, what: &str) {
    let file = tempfile::Builder::new()
        .prefix("reconcile-plan-")
        .suffix(".sql")
        .tempfile()
        .expect("temporary SQL file");
    std::fs::write(file.path(), sql).expect("write the plan");
    if let Err(e) = db.psql_file(file.path()) {
        panic!("{what} failed: {e}\n--- the script:\n{sql}");
    }
}

/// Plans `scenario` against `db` as SQL, runs the SQL twice with psql, and checks that a new
/// plan reports the database in sync. Returns the SQL.
fn converge(db: &TestDb, scenario: &str, args: &[&str]) -> String {
    let dev = common::fresh_db();
    let sql = plan_sql(db, &dev, scenario, args);
    run_script(db, &sql, &format!("{scenario}: the first run of the plan"));
    run_script(db, &sql, &format!("{scenario}: the second run of the plan"));
    assert_in_sync(db, &dev, scenario);
    sql
}

fn assert_in_sync(db: &TestDb, dev: &TestDb, scenario: &str) {
    let again = plan(db, dev, scenario, &[]);
    let stdout = text(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{scenario}: after the plan ran, plan should be in sync\nstderr: {}\n{stdout}",
        text(&again.stderr)
    );
    assert!(stdout.contains("In sync"), "{scenario}: {stdout}");
}

/// One query's rows (`psql -A -t`), trimmed; panics on SQL errors.
fn query(db: &TestDb, sql: &str) -> String {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// Every foreign key as `table constraint -> referenced`, with ` NOT VALID` when unvalidated.
fn foreign_keys(db: &TestDb) -> Vec<String> {
    query(
        db,
        "SELECT conrelid::regclass || ' ' || conname || ' -> ' || confrelid::regclass \
                || CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END \
         FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// No constraint is left NOT VALID and no index INVALID.
fn assert_all_valid(db: &TestDb) {
    assert_eq!(
        query(
            db,
            "SELECT string_agg(conname, ', ') FROM pg_constraint \
             WHERE NOT convalidated AND connamespace NOT IN \
                   ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)"
        ),
        "",
        "constraints left NOT VALID"
    );
    assert_eq!(
        query(
            db,
            "SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index \
             WHERE NOT indisvalid OR NOT indisready"
        ),
        "",
        "indexes left INVALID"
    );
}

/// `sql` must fail with an error containing `expected`.
fn assert_rejected(db: &TestDb, sql: &str, expected: &str) {
    match db.psql(sql) {
        Ok(out) => panic!("{sql} should fail with {expected:?}, but gave {out:?}"),
        Err(e) => assert!(
            e.contains(expected),
            "{sql}: expected {expected:?}, got {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// A chain of six tables: t1 → t2 → t3 → t4 → t5 → t6, declared t5, t3, t1 in a.yaml and
// t2, t4, t6 in b.yaml.

const CHAIN_FKS: [&str; 5] = [
    "t1 t1_t2_id_fkey -> t2",
    "t2 t2_t3_id_fkey -> t3",
    "t3 t3_t4_id_fkey -> t4",
    "t4 t4_t5_id_fkey -> t5",
    "t5 t5_t6_id_fkey -> t6",
];

/// Rows along the whole chain insert; a dangling reference does not.
fn assert_chain_works(db: &TestDb) {
    query(
        db,
        "INSERT INTO t6 (id) VALUES (100); INSERT INTO t5 VALUES (100, 100); \
         INSERT INTO t4 VALUES (100, 100); INSERT INTO t3 VALUES (100, 100); \
         INSERT INTO t2 VALUES (100, 100); INSERT INTO t1 VALUES (100, 100);",
    );
    assert_rejected(
        db,
        "INSERT INTO t1 VALUES (101, 999)",
        "violates foreign key constraint \"t1_t2_id_fkey\"",
    );
    // t3 → t4 is ON DELETE CASCADE.
    query(
        db,
        "DELETE FROM t1 WHERE id = 100; DELETE FROM t2 WHERE id = 100; \
         DELETE FROM t4 WHERE id = 100;",
    );
    assert_eq!(query(db, "SELECT count(*) FROM t3 WHERE id = 100"), "0");
}

#[test]
fn chain_declared_out_of_order_across_files_from_empty() {
    let db = database("");
    converge(&db, "chain", &[]);
    assert_eq!(foreign_keys(&db), CHAIN_FKS);
    assert_all_valid(&db);
    assert_chain_works(&db);
}

/// t6, t4 (without its foreign-key column) and t2 (with the column, without the key) exist
/// with rows; t1, t3, t5 are new.
const CHAIN_PARTIAL: &str = "
    CREATE TABLE t6 (id bigint PRIMARY KEY, label text NOT NULL DEFAULT '');
    INSERT INTO t6 VALUES (1, 'one'), (2, 'two');
    CREATE TABLE t4 (id bigint PRIMARY KEY);
    INSERT INTO t4 VALUES (1), (2);
    CREATE TABLE t2 (id bigint PRIMARY KEY, t3_id bigint);
    INSERT INTO t2 VALUES (1, NULL), (2, NULL);
";

#[test]
fn chain_declared_out_of_order_across_files_from_partial() {
    let db = database(CHAIN_PARTIAL);
    converge(&db, "chain", &[]);
    assert_eq!(foreign_keys(&db), CHAIN_FKS);
    assert_all_valid(&db);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(id || ':' || label, ',' ORDER BY id) FROM t6"
        ),
        "1:one,2:two"
    );
    assert_eq!(
        query(&db, "SELECT count(*) FROM t4 WHERE t5_id IS NULL"),
        "2"
    );
    assert_chain_works(&db);
}

// ---------------------------------------------------------------------------------------
// Mutual foreign keys: a.b_id → b, b.a_id → a (ON DELETE SET NULL).

fn assert_mutual_works(db: &TestDb) {
    assert_eq!(
        foreign_keys(db),
        ["a a_b_id_fkey -> b", "b b_a_id_fkey -> a"]
    );
    assert_all_valid(db);
    query(
        db,
        "INSERT INTO a VALUES (10, NULL); INSERT INTO b VALUES (20, 10); \
         UPDATE a SET b_id = 20 WHERE id = 10;",
    );
    assert_rejected(db, "INSERT INTO b VALUES (21, 999)", "b_a_id_fkey");
    query(
        db,
        "UPDATE a SET b_id = NULL WHERE id = 10; DELETE FROM a WHERE id = 10",
    );
    assert_eq!(query(db, "SELECT a_id IS NULL FROM b WHERE id = 20"), "t");
}

#[test]
fn mutual_foreign_keys_from_empty() {
    let db = database("");
    converge(&db, "mutual", &[]);
    assert_mutual_works(&db);
}

#[test]
fn mutual_foreign_keys_from_partial() {
    let db = database("CREATE TABLE a (id bigint PRIMARY KEY); INSERT INTO a VALUES (1), (2);");
    converge(&db, "mutual", &[]);
    assert_mutual_works(&db);
    assert_eq!(query(&db, "SELECT count(*) FROM a WHERE b_id IS NULL"), "2");
}

// ---------------------------------------------------------------------------------------
// A self-referencing foreign key (employees.manager_id → employees), referenced in turn by
// teams.lead_id, declared first.

fn assert_self_reference_works(db: &TestDb) {
    assert_eq!(
        foreign_keys(db),
        [
            "employees employees_manager_id_fkey -> employees",
            "teams teams_lead_id_fkey -> employees",
        ]
    );
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'employees_manager_id_idx'"
        ),
        "1"
    );
    query(
        db,
        "INSERT INTO employees VALUES (100, 'chief', NULL), (101, 'deputy', 100); \
         INSERT INTO teams VALUES (1, 101);",
    );
    assert_rejected(
        db,
        "INSERT INTO employees VALUES (102, 'orphan', 999)",
        "employees_manager_id_fkey",
    );
    query(db, "DELETE FROM employees WHERE id = 100");
    assert_eq!(
        query(
            db,
            "SELECT manager_id IS NULL FROM employees WHERE id = 101"
        ),
        "t"
    );
}

#[test]
fn self_referencing_foreign_key_from_empty() {
    let db = database("");
    converge(&db, "self_reference", &[]);
    assert_self_reference_works(&db);
}

/// employees exists with a manager hierarchy in its rows but no foreign key or index yet.
const SELF_REFERENCE_PARTIAL: &str = "
    CREATE TABLE employees (id bigint PRIMARY KEY, name text NOT NULL, manager_id bigint);
    INSERT INTO employees VALUES (1, 'boss', NULL), (2, 'worker', 1), (3, 'intern', 2);
";

#[test]
fn self_referencing_foreign_key_from_partial() {
    let db = database(SELF_REFERENCE_PARTIAL);
    converge(&db, "self_reference", &[]);
    assert_self_reference_works(&db);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(id || ':' || coalesce(manager_id::text, '-'), ',' ORDER BY id) FROM employees WHERE id < 100"
        ),
        "1:-,2:1,3:2"
    );
}

// ---------------------------------------------------------------------------------------
// An enum (declared after the tables) used by a column of a new table, an array column, and
// a new NOT NULL column of an existing table whose default names a label; a partial index
// on that column compares with another label.

fn assert_enum_columns_work(db: &TestDb) {
    assert_eq!(
        query(db, "SELECT enum_range(NULL::ticket_status)::text"),
        "{open,waiting,closed}"
    );
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "SELECT pg_get_expr(indpred, indrelid) FROM pg_index \
             WHERE indexrelid = 'jobs_state_idx'::regclass"
        ),
        "(state <> 'closed'::ticket_status)"
    );
    assert_eq!(
        query(db, "INSERT INTO tickets (id) VALUES (100) RETURNING status"),
        "open"
    );
    assert_eq!(
        query(db, "INSERT INTO jobs (id) VALUES (100) RETURNING state"),
        "waiting"
    );
    assert_rejected(
        db,
        "INSERT INTO tickets VALUES (101, 'lost')",
        "invalid input value for enum ticket_status",
    );
}

#[test]
fn enum_used_by_new_table_and_new_column_from_empty() {
    let db = database("");
    converge(&db, "enum_columns", &[]);
    assert_enum_columns_work(&db);
}

#[test]
fn enum_used_by_new_table_and_new_column_from_partial() {
    let db = database(
        "CREATE TABLE jobs (id bigint PRIMARY KEY); INSERT INTO jobs VALUES (1), (2), (3);",
    );
    converge(&db, "enum_columns", &[]);
    assert_enum_columns_work(&db);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(DISTINCT state::text, ',') FROM jobs WHERE id < 100"
        ),
        "waiting"
    );
}

// ---------------------------------------------------------------------------------------
// Columns typed with the row types of a table and of a view declared in a `.sql` file.

fn assert_row_types_work(db: &TestDb) {
    assert_eq!(
        query(
            db,
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' \
             ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid = 'shapes'::regclass AND attnum > 0 AND NOT attisdropped"
        ),
        "id bigint, origin points, corners points[], summary point_labels"
    );
    assert_eq!(
        query(
            db,
            "INSERT INTO shapes VALUES (100, ROW(1, 'a'), ARRAY[ROW(2, 'b')::points], \
             ROW('c', 3)) RETURNING (origin).label || (corners[1]).x || (summary).label"
        ),
        "a2c"
    );
}

#[test]
fn row_types_of_a_table_and_a_view_from_empty() {
    let db = database("");
    let sql = converge(&db, "row_types", &[]);
    let position = |what: &str| {
        sql.find(what)
            .unwrap_or_else(|| panic!("no `{what}` in the plan:\n{sql}"))
    };
    assert!(position("CREATE VIEW public.point_labels") < position("public.shapes ("));
    assert_row_types_work(&db);
}

/// The table and the view exist, unchanged; `shapes` exists without the columns typed with
/// them. Before, these columns could not be built on the scratch server (`type "points" does
/// not exist`, hazard H012), the table and the view not being built there.
#[test]
fn row_types_of_a_table_and_a_view_from_partial() {
    let db = database(
        "CREATE TABLE points (x integer, label text);
         CREATE VIEW point_labels AS SELECT label, x FROM points;
         CREATE TABLE shapes (id bigint PRIMARY KEY); INSERT INTO shapes VALUES (1);",
    );
    let sql = converge(&db, "row_types", &[]);
    assert!(!sql.contains("H012"), "{sql}");
    assert_row_types_work(&db);
}

// ---------------------------------------------------------------------------------------
// An existing enum gains labels at the start, in the middle and at the end; the new labels
// are used at once by defaults (a new column of an existing table, a new table) and a check.

fn assert_enum_new_labels_work(db: &TestDb) {
    assert_eq!(
        query(db, "SELECT enum_range(NULL::mood)::text"),
        "{awful,sad,ok,happy,ecstatic}"
    );
    assert_eq!(foreign_keys(db), ["diary diary_person_id_fkey -> people"]);
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "INSERT INTO people (id) VALUES (100) RETURNING mood || ' ' || best_mood"
        ),
        "ok ecstatic"
    );
    assert_eq!(
        query(
            db,
            "INSERT INTO diary (id, person_id) VALUES (1, 100) RETURNING mood"
        ),
        "awful"
    );
    assert_rejected(
        db,
        "INSERT INTO people VALUES (101, 'sad', 'awful')",
        "people_best_mood_check",
    );
}

#[test]
fn new_enum_labels_used_by_defaults_from_empty() {
    let db = database("");
    converge(&db, "enum_new_label", &[]);
    assert_enum_new_labels_work(&db);
}

/// mood has two of the five labels; people exists with rows and neither mood column.
const ENUM_NEW_LABEL_PARTIAL: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE TABLE people (id bigint PRIMARY KEY);
    INSERT INTO people VALUES (1), (2);
";

#[test]
fn new_enum_labels_used_by_defaults_from_partial() {
    let db = database(ENUM_NEW_LABEL_PARTIAL);
    let sql = converge(&db, "enum_new_label", &[]);
    // ALTER TYPE ... ADD VALUE: a label is usable only once its transaction committed.
    assert!(
        sql.contains("ADD VALUE IF NOT EXISTS 'ok' AFTER 'sad'"),
        "{sql}"
    );
    assert_enum_new_labels_work(&db);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(id || ':' || mood || ':' || best_mood, ',' ORDER BY id) FROM people WHERE id < 100"
        ),
        "1:ok:ecstatic,2:ok:ecstatic"
    );
}

// ---------------------------------------------------------------------------------------
// An existing table gains columns and, on exactly those columns, checks, a unique key, an
// expression index, a partial index and a multi-column index.

fn assert_new_columns_work(db: &TestDb) {
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
             WHERE tablename = 'orders'"
        ),
        "orders_expr_idx,orders_pkey,orders_placed_at_total_idx,orders_reference_key,orders_total_idx"
    );
    assert_eq!(
        query(
            db,
            "SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname) FROM pg_constraint \
             WHERE conrelid = 'orders'::regclass"
        ),
        "discount_not_above_total:c,orders_pkey:p,orders_reference_key:u,orders_total_check:c"
    );
    assert_rejected(
        db,
        "INSERT INTO orders (id, total, discount) VALUES (100, -1, -5)",
        "orders_total_check",
    );
    assert_rejected(
        db,
        "INSERT INTO orders (id, total, discount) VALUES (100, 1, 2)",
        "discount_not_above_total",
    );
    query(
        db,
        "INSERT INTO orders (id, reference) VALUES (100, '00000000-0000-0000-0000-000000000001')",
    );
    assert_rejected(
        db,
        "INSERT INTO orders (id, reference) VALUES (101, '00000000-0000-0000-0000-000000000001')",
        "orders_reference_key",
    );
}

#[test]
fn indexes_and_checks_on_new_columns_from_empty() {
    let db = database("");
    converge(&db, "new_columns", &[]);
    assert_new_columns_work(&db);
}

/// orders exists with 50 rows and two of its six columns.
const NEW_COLUMNS_PARTIAL: &str = "
    CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO orders (id) SELECT g FROM generate_series(1, 50) g;
";

#[test]
fn indexes_and_checks_on_new_columns_from_partial() {
    let db = database(NEW_COLUMNS_PARTIAL);
    converge(&db, "new_columns", &[]);
    assert_new_columns_work(&db);
    assert_eq!(
        query(
            &db,
            "SELECT count(*) FROM orders WHERE id <= 50 AND total = 0 AND discount = 0"
        ),
        "50"
    );
}

#[test]
fn indexes_and_checks_on_new_columns_from_partial_without_concurrently() {
    let db = database(NEW_COLUMNS_PARTIAL);
    let sql = converge(&db, "new_columns", &["--no-concurrently"]);
    assert!(!sql.contains("CONCURRENTLY"), "{sql}");
    assert_new_columns_work(&db);
}

/// A plan stopped after its first transaction (columns added, checks NOT VALID) is resumed
/// by planning again: the new plan finishes the job.
#[test]
fn a_plan_stopped_after_its_first_transaction_converges() {
    let db = database(NEW_COLUMNS_PARTIAL);
    let dev = common::fresh_db();
    let sql = plan_sql(&db, &dev, "new_columns", &[]);
    let end = sql.find("COMMIT;\n").expect("a transaction in the plan") + "COMMIT;\n".len();
    run_script(
        &db,
        &sql[..end],
        "new_columns: the first transaction of the plan",
    );
    converge(&db, "new_columns", &[]);
    assert_new_columns_work(&db);
}

// ---------------------------------------------------------------------------------------
// Existing tables with rows gain a unique key (customers.code) and foreign keys that need
// it and the primary key.

fn assert_keys_work(db: &TestDb) {
    assert_eq!(
        foreign_keys(db),
        [
            "orders orders_customer_code_fkey -> customers",
            "orders orders_customer_id_fkey -> customers",
        ]
    );
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "SELECT contype FROM pg_constraint WHERE conname = 'customers_code_key'"
        ),
        "u"
    );
    query(
        db,
        "INSERT INTO customers VALUES (100, 'HOOLI'); \
         INSERT INTO orders VALUES (100, 'HOOLI', 100); \
         UPDATE customers SET code = 'HOOLI2' WHERE id = 100;",
    );
    // ON UPDATE CASCADE followed the new code.
    assert_eq!(
        query(db, "SELECT customer_code FROM orders WHERE id = 100"),
        "HOOLI2"
    );
    assert_rejected(
        db,
        "INSERT INTO orders VALUES (101, 'NOBODY', NULL)",
        "orders_customer_code_fkey",
    );
    assert_rejected(
        db,
        "INSERT INTO customers VALUES (101, 'HOOLI2')",
        "customers_code_key",
    );
}

#[test]
fn unique_key_and_foreign_keys_from_empty() {
    let db = database("");
    converge(&db, "keys_on_rows", &[]);
    assert_keys_work(&db);
}

/// Both tables exist with rows whose codes already match; no key, no foreign key.
const KEYS_PARTIAL: &str = "
    CREATE TABLE customers (id bigint PRIMARY KEY, code text NOT NULL);
    INSERT INTO customers VALUES (1, 'ACME'), (2, 'INITECH');
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_code text NOT NULL);
    INSERT INTO orders VALUES (10, 'ACME'), (11, 'INITECH'), (12, 'ACME');
";

#[test]
fn unique_key_and_foreign_keys_on_tables_with_rows() {
    let db = database(KEYS_PARTIAL);
    converge(&db, "keys_on_rows", &[]);
    assert_keys_work(&db);
    assert_eq!(
        query(&db, "SELECT count(*) FROM orders WHERE id < 100"),
        "3"
    );
}

// ---------------------------------------------------------------------------------------
// Across schemas: a new schema, an enum and a domain over it, serial columns, and foreign
// keys public → app → public → app.

fn assert_cross_schema_works(db: &TestDb) {
    assert_eq!(
        foreign_keys(db),
        [
            "app.t2 t2_t3_id_fkey -> t3",
            "app.t4 t4_t2_code_fkey -> app.t2",
            "t1 t1_t2_id_fkey -> app.t2",
            "t3 t3_t4_id_fkey -> app.t4",
        ]
    );
    assert_all_valid(db);
    assert_eq!(
        query(db, "SELECT enum_range(NULL::app.level)::text"),
        "{low,high}"
    );
    assert_eq!(
        query(
            db,
            "SELECT pg_get_serial_sequence('app.t4', 'id') || ' ' \
                    || pg_get_serial_sequence('t1', 'id')"
        ),
        "app.t4_id_seq public.t1_id_seq"
    );
    assert_eq!(
        query(db, "INSERT INTO t3 (id) VALUES (100) RETURNING level"),
        "low"
    );
    assert_eq!(
        query(
            db,
            "SELECT typdefault FROM pg_type WHERE typname = 'level_d'"
        ),
        "'high'::app.level"
    );
}

#[test]
fn foreign_keys_across_schemas_from_empty() {
    let db = database("");
    converge(&db, "cross_schema", &[]);
    assert_cross_schema_works(&db);
}

/// app exists with the enum missing a label, t2 without its unique column, t4 with rows.
const CROSS_SCHEMA_PARTIAL: &str = "
    CREATE SCHEMA app;
    CREATE TYPE app.level AS ENUM ('low');
    CREATE TABLE app.t2 (id bigint PRIMARY KEY, t3_id bigint);
    INSERT INTO app.t2 VALUES (1, NULL), (2, NULL);
    CREATE TABLE app.t4 (id serial PRIMARY KEY);
    INSERT INTO app.t4 DEFAULT VALUES;
";

#[test]
fn foreign_keys_across_schemas_from_partial() {
    let db = database(CROSS_SCHEMA_PARTIAL);
    converge(&db, "cross_schema", &[]);
    assert_cross_schema_works(&db);
}

// ---------------------------------------------------------------------------------------
// A stored generated column declared before the new column it is computed from.

fn assert_generated_columns_work(db: &TestDb) {
    assert_all_valid(db);
    assert_eq!(
        query(
            db,
            "INSERT INTO items (id, price) VALUES (100, 5) RETURNING price_with_tax"
        ),
        "6.00"
    );
    assert_eq!(
        query(
            db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'items_price_with_tax_idx'"
        ),
        "1"
    );
}

#[test]
fn generated_column_before_its_source_column_from_empty() {
    let db = database("");
    converge(&db, "generated_columns", &[]);
    assert_generated_columns_work(&db);
}

#[test]
fn generated_column_before_its_source_column_from_partial() {
    let db =
        database("CREATE TABLE items (id bigint PRIMARY KEY); INSERT INTO items VALUES (1), (2);");
    converge(&db, "generated_columns", &[]);
    assert_generated_columns_work(&db);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(price || '/' || price_with_tax, ',' ORDER BY id) FROM items WHERE id < 100"
        ),
        "10.00/12.00,10.00/12.00"
    );
}

// ---------------------------------------------------------------------------------------
// Transactions: NOT VALID + VALIDATE exists so that the scan of existing rows runs under
// SHARE UPDATE EXCLUSIVE only. A validation batched into a transaction that already took a
// stronger lock (ADD COLUMN, ADD CONSTRAINT, a foreign key's SHARE ROW EXCLUSIVE) holds that
// lock for the whole scan.

#[test]
fn validations_never_share_a_transaction_with_write_blocking_locks() {
    let cases = [
        ("chain", CHAIN_PARTIAL),
        ("self_reference", SELF_REFERENCE_PARTIAL),
        ("enum_new_label", ENUM_NEW_LABEL_PARTIAL),
        ("new_columns", NEW_COLUMNS_PARTIAL),
        ("keys_on_rows", KEYS_PARTIAL),
        ("cross_schema", CROSS_SCHEMA_PARTIAL),
    ];
    let mut problems = Vec::new();
    for (scenario, setup) in cases {
        let db = database(setup);
        let dev = common::fresh_db();
        let output = plan(&db, &dev, scenario, &["--format", "json"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{scenario}: {}",
            text(&output.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("plan --format json is JSON");
        let steps = json["steps"].as_array().expect("steps");
        let step = |number: &serde_json::Value| {
            steps
                .iter()
                .find(|s| s["number"] == *number)
                .unwrap_or_else(|| panic!("{scenario}: batch names a missing step {number}"))
        };
        for batch in json["batches"].as_array().expect("batches") {
            let members: Vec<&serde_json::Value> = batch["steps"]
                .as_array()
                .expect("batch steps")
                .iter()
                .map(step)
                .collect();
            if !members.iter().any(|s| s["kind"] == "validate_constraint") {
                continue;
            }
            for s in &members {
                for lock in s["locks"].as_array().expect("locks") {
                    if lock["level"] != "SHARE UPDATE EXCLUSIVE" {
                        problems.push(format!(
                            "{scenario}: a validation shares a transaction with step {} ({}), \
                             which takes {} on {}",
                            s["number"], s["object"], lock["level"], lock["table"]
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Regression (issue 16, item 8): a change held back (a possible rename, a type change) used
/// to leave its dependants in the plan — the unique key on the not-yet-renamed `user_login`,
/// the check `qty >= 0` against a text column — and the SQL failed. Now they are held back
/// with it and named in its finding; what does not depend on it is still planned and runs.
#[test]
fn dependants_of_a_held_back_change_are_held_back_with_it() {
    for (scenario, setup, code, held) in [
        (
            "held_back_rename",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, login text NOT NULL UNIQUE);
             INSERT INTO accounts VALUES (1, 'a'), (2, 'b');",
            "D150",
            "constraint accounts_user_login_key on public.accounts",
        ),
        (
            "held_back_type",
            "CREATE TABLE orders (id int PRIMARY KEY, qty text);
             INSERT INTO orders VALUES (1, '3'), (2, 'many');",
            "D110",
            "constraint orders_qty_check on public.orders",
        ),
    ] {
        let db = database(setup);
        let dev = common::fresh_db();
        let output = plan(&db, &dev, scenario, &["--format", "sql"]);
        let sql = text(&output.stdout);
        assert_eq!(output.status.code(), Some(3), "{scenario}: {sql}");
        let finding = sql
            .lines()
            .find(|l| l.contains(code))
            .unwrap_or_else(|| panic!("{scenario}: no {code} finding\n{sql}"));
        assert!(
            finding.contains(&format!(
                "held back with it, since they use the column: {held}"
            )),
            "{scenario}: {finding}"
        );
        assert!(
            !sql.lines()
                .any(|l| l.starts_with("-- Step") && l.contains(held)),
            "{scenario}: {held} is still planned\n{sql}"
        );
        run_script(&db, &sql, &format!("{scenario}: the plan"));
        run_script(&db, &sql, &format!("{scenario}: the plan, again"));
    }
}
