//! Rollback guides (`reconcile rollback`, `reconcile::rollback`).
//!
//! The acceptance test drives the whole loop on real PostgreSQL: a database's model and
//! catalog are recorded, `reconcile apply` adds a schema, an extension, an enum, a sequence,
//! tables, columns, indexes (built CONCURRENTLY), constraints (primary, unique, check, foreign
//! keys — some added NOT VALID and validated) and row-level security; `reconcile rollback
//! --run ID` prints the guide, psql runs it, and the database is back to its earlier model and
//! catalog. Running the guide a second time changes nothing (every statement is IF EXISTS).
//!
//! The unit tables show `guide_for_sql` on one statement of each kind: the inverse it gives,
//! or the reason a statement cannot be inverted — never a statement silently left out.

use crate::common;

use common::{assert_exit, text};

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::TestDb;
use reconcile::rollback::{self, Action, Guide};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------
// guide_for_sql on single statements.

fn guide(sql: &str) -> Guide {
    rollback::guide_for_sql("test.sql", sql)
}

/// The inverse SQL of a one-statement text (panics unless it is exactly one inverse).
fn inverse_of(sql: &str) -> String {
    let g = guide(sql);
    match g.entries.as_slice() {
        [e] => match &e.action {
            Action::Inverse { sql, .. } => sql.clone(),
            other => panic!("{sql}: not an inverse: {other:?}"),
        },
        other => panic!("{sql}: {} entries: {other:#?}", other.len()),
    }
}

/// `sql` is one statement without an automatic inverse, for a reason that says `reason`.
fn assert_manual(sql: &str, reason: &str) {
    let g = guide(sql);
    assert_eq!(g.entries.len(), 1, "{sql}: {g:#?}");
    match &g.entries[0].action {
        Action::Manual { reason: r } => assert!(r.contains(reason), "{sql}: {r}"),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn creations_are_inverted_with_drop_if_exists() {
    let cases = [
        (
            "CREATE TABLE public.leads (id bigint PRIMARY KEY)",
            "DROP TABLE IF EXISTS public.leads",
        ),
        (
            "CREATE TABLE IF NOT EXISTS t (a int)",
            "DROP TABLE IF EXISTS t",
        ),
        (
            "CREATE TABLE \"Odd Name\".\"My Table\" (a int)",
            "DROP TABLE IF EXISTS \"Odd Name\".\"My Table\"",
        ),
        (
            "ALTER TABLE public.leads ADD COLUMN IF NOT EXISTS email text NOT NULL DEFAULT ''",
            "ALTER TABLE IF EXISTS public.leads DROP COLUMN IF EXISTS email",
        ),
        (
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS leads_email_idx ON public.leads (email)",
            "DROP INDEX CONCURRENTLY IF EXISTS public.leads_email_idx",
        ),
        (
            "CREATE UNIQUE INDEX leads_key ON leads USING btree (a, b) WHERE a > 0",
            "DROP INDEX IF EXISTS leads_key",
        ),
        (
            "ALTER TABLE public.leads ADD CONSTRAINT leads_fk FOREIGN KEY (c) REFERENCES companies (id) NOT VALID",
            "ALTER TABLE IF EXISTS public.leads DROP CONSTRAINT IF EXISTS leads_fk",
        ),
        (
            "ALTER TABLE leads ADD CONSTRAINT leads_check CHECK (a > 0)",
            "ALTER TABLE IF EXISTS leads DROP CONSTRAINT IF EXISTS leads_check",
        ),
        (
            "ALTER TABLE leads ADD CONSTRAINT leads_key UNIQUE USING INDEX leads_key",
            "ALTER TABLE IF EXISTS leads DROP CONSTRAINT IF EXISTS leads_key",
        ),
        (
            "CREATE TYPE public.lead_status AS ENUM ('new', 'won')",
            "DROP TYPE IF EXISTS public.lead_status",
        ),
        (
            "CREATE TYPE pair AS (a int, b int)",
            "DROP TYPE IF EXISTS pair",
        ),
        (
            "CREATE TYPE span AS RANGE (subtype = int4)",
            "DROP TYPE IF EXISTS span",
        ),
        (
            "CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%')",
            "DROP DOMAIN IF EXISTS app.email",
        ),
        (
            "CREATE SEQUENCE IF NOT EXISTS public.invoice_numbers START 1000",
            "DROP SEQUENCE IF EXISTS public.invoice_numbers",
        ),
        (
            "ALTER SEQUENCE public.s OWNED BY public.t.id",
            "ALTER SEQUENCE IF EXISTS public.s OWNED BY NONE",
        ),
        (
            "CREATE SCHEMA IF NOT EXISTS billing",
            "DROP SCHEMA IF EXISTS billing",
        ),
        (
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
            "DROP EXTENSION IF EXISTS pgcrypto",
        ),
        (
            "CREATE FUNCTION public.add(a int, b int DEFAULT 1, OUT c int) LANGUAGE sql AS 'SELECT a + b'",
            "DROP FUNCTION IF EXISTS public.add(int, int)",
        ),
        (
            "CREATE PROCEDURE p(text) LANGUAGE sql AS ''",
            "DROP PROCEDURE IF EXISTS p(text)",
        ),
        (
            "CREATE VIEW public.active AS SELECT 1",
            "DROP VIEW IF EXISTS public.active",
        ),
        (
            "CREATE MATERIALIZED VIEW mv AS SELECT 1",
            "DROP MATERIALIZED VIEW IF EXISTS mv",
        ),
        (
            "CREATE TABLE t2 AS SELECT 1 AS a",
            "DROP TABLE IF EXISTS t2",
        ),
        (
            "ALTER TABLE public.leads ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE IF EXISTS public.leads DISABLE ROW LEVEL SECURITY",
        ),
        (
            "ALTER TABLE leads FORCE ROW LEVEL SECURITY",
            "ALTER TABLE IF EXISTS leads NO FORCE ROW LEVEL SECURITY",
        ),
        (
            "CREATE POLICY own ON public.leads USING (true)",
            "DROP POLICY IF EXISTS own ON public.leads",
        ),
        (
            "COMMENT ON COLUMN public.leads.\"Email\" IS 'Where we write'",
            "COMMENT ON COLUMN public.leads.\"Email\" IS NULL",
        ),
        (
            "COMMENT ON POLICY own ON public.leads IS 'x'",
            "COMMENT ON POLICY own ON public.leads IS NULL",
        ),
        (
            "CREATE TRIGGER audit AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION f()",
            "DROP TRIGGER IF EXISTS audit ON leads",
        ),
        (
            "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
            "ALTER TYPE mood RENAME VALUE 'blue' TO 'sad'",
        ),
        (
            "GRANT SELECT ON public.leads TO reporting",
            "REVOKE select ON public.leads FROM reporting",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(inverse_of(sql), expected, "{sql}");
    }
}

/// reconcile's guarded steps: the real statement inside the DO block is inverted; the
/// catalog guard query needs nothing. Also through a second DO wrapper (the
/// error-tolerating one).
#[test]
fn do_blocks_are_looked_into() {
    let guarded = "DO $reconcile$\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = 'public.t'::pg_catalog.regclass AND conname = 't_fk') THEN\n    ALTER TABLE public.t ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES public.u (id) NOT VALID;\n  END IF;\nEND\n$reconcile$";
    assert_eq!(
        inverse_of(guarded),
        "ALTER TABLE IF EXISTS public.t DROP CONSTRAINT IF EXISTS t_fk"
    );
    let g = guide(guarded);
    assert!(
        g.entries[0]
            .original
            .starts_with("ALTER TABLE public.t ADD CONSTRAINT t_fk"),
        "{:?}",
        g.entries[0]
    );
    let tolerant = format!(
        "DO $reconcile_t$\nBEGIN\n  {};\nEXCEPTION WHEN OTHERS THEN\n  RAISE WARNING 'reconcile: % was not created: %', 'x', SQLERRM;\nEND\n$reconcile_t$",
        guarded.replace('\n', "\n  ")
    );
    assert_eq!(
        inverse_of(&tolerant),
        "ALTER TABLE IF EXISTS public.t DROP CONSTRAINT IF EXISTS t_fk"
    );
    let enum_type = "DO $reconcile$ BEGIN IF NOT EXISTS (SELECT 1) THEN CREATE TYPE public.s AS ENUM ('a'); END IF; END $reconcile$";
    assert_eq!(inverse_of(enum_type), "DROP TYPE IF EXISTS public.s");
    // Only queries: nothing to undo, but listed.
    let g = guide("DO $$ BEGIN PERFORM 1; END $$");
    assert!(matches!(g.entries[0].action, Action::NothingToUndo { .. }));
    // Dynamic SQL cannot be known.
    let g = guide("DO $$ BEGIN EXECUTE 'CREATE TABLE ' || 'x (a int)'; END $$");
    assert!(
        matches!(&g.entries[0].action, Action::Manual { reason } if reason.contains("computed at run time")),
        "{g:#?}"
    );
}

/// What has no automatic inverse is listed with the reason; what needs none says so.
#[test]
fn what_cannot_be_inverted_is_listed_with_the_reason() {
    let manual = [
        (
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh'",
            "cannot drop an enum label",
        ),
        ("INSERT INTO t VALUES (1)", "INSERT added rows"),
        ("UPDATE t SET a = 1", "previous values are not recorded"),
        ("DELETE FROM t", "removed rows"),
        ("TRUNCATE t", "removed rows"),
        ("DROP TABLE t", "a DROP cannot be reversed"),
        ("ALTER TABLE t DROP COLUMN a", "a DROP cannot be reversed"),
        (
            "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            "previous state is not recorded",
        ),
        (
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1",
            "previous state is not recorded",
        ),
        ("ALTER TABLE t RENAME TO u", "rename it back"),
        ("CREATE INDEX ON t (a)", "no name in the SQL"),
        ("ALTER TABLE t ADD UNIQUE (a)", "no name in the SQL"),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", "earlier definition"),
        (
            "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "DROP FUNCTION IF EXISTS f()",
        ),
        ("ALTER SEQUENCE s RESTART 5", "not recorded"),
        ("COMMENT ON TABLE t IS NULL", "its text is not recorded"),
        ("CREATE ROLE r", "no automatic inverse"),
    ];
    for (sql, reason) in manual {
        assert_manual(sql, reason);
    }
    let nothing = [
        "ALTER TABLE t VALIDATE CONSTRAINT c",
        "SELECT 1",
        "SET lock_timeout = '3s'",
        "BEGIN",
    ];
    for sql in nothing {
        let g = guide(sql);
        assert!(
            matches!(g.entries[0].action, Action::NothingToUndo { .. }),
            "{sql}: {g:#?}"
        );
    }
    let g = guide("CREATE TABLE (");
    assert!(
        matches!(&g.entries[0].action, Action::Manual { reason } if reason.contains("does not parse")),
        "{g:#?}"
    );
}

/// A migration: reverse order, one entry per statement (and per ALTER TABLE subcommand),
/// origins with statement numbers and lines; an enum label added to a type created in the
/// same SQL needs no inverse.
#[test]
fn a_migration_is_inverted_in_reverse_order() {
    let sql = "-- migration 0005\nCREATE TYPE s AS ENUM ('a');\nALTER TYPE s ADD VALUE 'b';\n\
               CREATE TABLE t (id int PRIMARY KEY, st s);\n\
               ALTER TABLE t ADD COLUMN x int, ADD CONSTRAINT t_x CHECK (x > 0);\n\
               INSERT INTO t VALUES (1, 'a');\n";
    let g = guide(sql);
    let lines: Vec<String> = g
        .entries
        .iter()
        .map(|e| match &e.action {
            Action::Inverse { sql, .. } => format!("{} | {sql}", e.origin),
            Action::Manual { .. } => format!("{} | manual", e.origin),
            Action::NothingToUndo { .. } => format!("{} | nothing", e.origin),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "statement 5 (line 6) | manual",
            "statement 4 (line 5) | ALTER TABLE IF EXISTS t DROP CONSTRAINT IF EXISTS t_x",
            "statement 4 (line 5) | ALTER TABLE IF EXISTS t DROP COLUMN IF EXISTS x",
            "statement 3 (line 4) | DROP TABLE IF EXISTS t",
            "statement 2 (line 3) | nothing",
            "statement 1 (line 2) | DROP TYPE IF EXISTS s",
        ]
    );
    let mut text = Vec::new();
    rollback::render_text(&g, &mut text).expect("render");
    let text = String::from_utf8(text).expect("UTF-8");
    assert!(
        text.contains("reconcile NEVER executes this script"),
        "{text}"
    );
    assert!(
        text.contains("-- DESTRUCTIVE. Review every statement"),
        "{text}"
    );
    assert!(
        flat(&text).contains("DESTRUCTIVE: drops the table and every row in it"),
        "{text}"
    );
    assert!(
        flat(&text).contains("CANNOT BE UNDONE AUTOMATICALLY: INSERT added rows"),
        "{text}"
    );
    assert!(
        text.lines()
            .all(|l| l.chars().count() <= 100 || !l.starts_with("--")),
        "long comment lines: {text}"
    );
    // Every line is a comment or one of the inverse statements.
    let statements: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty())
        .collect();
    assert_eq!(statements.len(), 4, "{text}");
    assert!(statements.iter().all(|s| s.ends_with(';')), "{text}");
    // A comment cannot be broken out of by a line break in the original.
    let g = guide("CREATE TABLE \"a\rb\" (x int)");
    let mut text = Vec::new();
    rollback::render_text(&g, &mut text).expect("render");
    let text = String::from_utf8(text).expect("UTF-8");
    let outside_comments: Vec<&str> = text
        .split(['\n', '\r'])
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    // Only the statement itself, whose quoted name holds the carriage return.
    assert_eq!(
        outside_comments,
        ["DROP TABLE IF EXISTS \"a", "b\";"],
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// The acceptance test on real PostgreSQL.

const BEFORE: &str = "
    CREATE TYPE mood AS ENUM ('ok', 'sad');
    CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, mood mood);
    INSERT INTO customers SELECT g, 'customer ' || g, 'ok' FROM generate_series(1, 50) g;
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric NOT NULL);
    INSERT INTO orders SELECT g, g % 50 + 1, g FROM generate_series(1, 100) g;
";

const DESIRED_PUBLIC: &str = "
extensions: [pgcrypto]
enums:
  mood: [ok, sad]
  order_status: [new, paid, shipped]
sequences:
  invoice_numbers: { start: 1000 }
tables:
  customers:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true }
      mood: mood
      email: text
      token: { type: uuid, default: gen_random_uuid() }
    unique:
      - [name]
    indexes:
      - { columns: [email] }
    row_level_security: true
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      customer_id: { type: bigint, not_null: true, references: customers }
      amount: { type: numeric, not_null: true }
      status: { type: order_status, not_null: true, default: \"'new'\" }
    checks:
      orders_amount_check: amount >= 0
  invoices:
    columns:
      id: { type: bigint, primary_key: true }
      number: { type: bigint, not_null: true, default: \"nextval('invoice_numbers')\" }
      order_id: { type: bigint, not_null: true, references: orders }
      total: { type: numeric, check: total >= 0 }
    unique:
      - [number]
    indexes:
      - { columns: [order_id] }
";

const DESIRED_BILLING: &str = "
schema: billing
tables:
  ledger:
    columns:
      id: { type: bigint, identity: always, primary_key: true }
      invoice_id: { type: bigint, references: public.invoices(id) }
      note: text
";

/// Every object DDL could create, by definition (no xmin: a dropped-and-gone column leaves
/// catalog rows rewritten but the definitions equal), outside the history schema.
const CATALOG: &str = "
    WITH ns AS (
        SELECT oid, nspname FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'reconcile')
          AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    )
    SELECT x FROM (
        SELECT 'schema ' || nspname FROM ns
        UNION ALL
        SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
               || ' force=' || c.relforcerowsecurity
        FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' '
               || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
               || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace IN (SELECT oid FROM ns) AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' '
               || pg_get_constraintdef(oid) || ' validated=' || convalidated
        FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'index ' || pg_get_indexdef(indexrelid) || ' valid=' || indisvalid
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'type ' || oid::regtype FROM pg_type WHERE typnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'label ' || enumtypid::regtype || ' ' || enumlabel || ' ' || enumsortorder
        FROM pg_enum
        UNION ALL
        SELECT 'sequence ' || seqrelid::regclass || ' ' || seqstart || ' ' || seqincrement
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        WHERE c.relnamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'function ' || oid::regprocedure FROM pg_proc
        WHERE pronamespace IN (SELECT oid FROM ns)
        UNION ALL
        SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension
        UNION ALL
        SELECT 'policy ' || polrelid::regclass || ' ' || polname FROM pg_policy
    ) objects(x)
    ORDER BY x;
";

struct Fixture {
    db: TestDb,
    dev: TestDb,
    schema: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let db = common::fresh_db();
        db.psql(BEFORE).unwrap_or_else(|e| panic!("setup: {e}"));
        let schema = tempfile::tempdir().expect("schema folder");
        std::fs::write(schema.path().join("public.yaml"), DESIRED_PUBLIC).expect("write");
        std::fs::write(schema.path().join("billing.yaml"), DESIRED_BILLING).expect("write");
        Fixture {
            db,
            dev: common::fresh_db(),
            schema,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("reconcile")
            .expect("binary")
            .current_dir(std::env::temp_dir())
            .args(args)
            .args(["--color", "never", "--database-url", &self.db.url])
            .args(["--dev-url", &self.dev.url])
            .arg("--schema")
            .arg(self.schema.path())
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    }

    fn query(&self, sql: &str) -> String {
        self.db
            .psql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    }

    /// reconcile's own model of the live database (`plan --format json`, `models.live`).
    fn model(&self) -> Value {
        let output = self.run(&["plan", "--format", "json", "--fail-on", "none"]);
        assert_exit(&output, 0);
        let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        doc["models"]["live"].clone()
    }
}

/// The comment text of a script with its line wrapping undone, for `contains` checks.
fn flat(script: &str) -> String {
    script
        .lines()
        .map(|l| l.trim_start_matches("--").trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_script(db: &TestDb, script: &str) {
    let file = tempfile::Builder::new()
        .suffix(".sql")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), script).expect("write");
    db.psql_file(Path::new(file.path()))
        .unwrap_or_else(|e| panic!("the rollback script failed: {e}\n{script}"));
}

#[test]
fn rollback_of_a_run_restores_the_earlier_model() {
    let f = Fixture::new();
    let model_before = f.model();
    let catalog_before = f.query(CATALOG);
    assert!(
        catalog_before.contains("relation customers r"),
        "{catalog_before}"
    );

    let apply = f.run(&["apply"]);
    assert_exit(&apply, 0);
    let run_id = f.query("SELECT max(id) FROM reconcile.runs");
    // The run did what the test is about.
    let executed = f.query(&format!(
        "SELECT string_agg(sql, E'\\n' ORDER BY number) FROM reconcile.steps WHERE run_id = {run_id}"
    ));
    for needle in [
        "CREATE SCHEMA IF NOT EXISTS billing",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "CREATE TYPE public.order_status AS ENUM",
        "CREATE SEQUENCE IF NOT EXISTS public.invoice_numbers",
        "CREATE TABLE IF NOT EXISTS public.invoices",
        "ADD COLUMN IF NOT EXISTS email",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_email_idx",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS customers_name_key",
        "UNIQUE USING INDEX customers_name_key",
        "FOREIGN KEY (customer_id)",
        "NOT VALID",
        "VALIDATE CONSTRAINT orders_amount_check",
        "ENABLE ROW LEVEL SECURITY",
    ] {
        assert!(
            executed.contains(needle),
            "no {needle:?} in the run:\n{executed}"
        );
    }
    assert_ne!(f.query(CATALOG), catalog_before);
    // Data written to the added objects since.
    f.query("INSERT INTO invoices (id, order_id, total) VALUES (1, 1, 10)");
    f.query("UPDATE customers SET email = 'a@example.com' WHERE id = 1");

    let output = f.run(&["rollback", "--run", &run_id]);
    assert_exit(&output, 0);
    let script = text(&output.stdout);
    assert!(
        script.starts_with(&format!("-- Rollback guide for run {run_id}")),
        "{script}"
    );
    assert!(
        script.contains("reconcile NEVER executes this script"),
        "{script}"
    );
    assert!(
        script.contains("DROP INDEX CONCURRENTLY IF EXISTS public.customers_email_idx;"),
        "{script}"
    );
    assert!(
        script.contains("DROP TABLE IF EXISTS public.invoices;"),
        "{script}"
    );
    assert!(
        script.contains("DROP TYPE IF EXISTS public.order_status;"),
        "{script}"
    );
    assert!(
        script.contains("DROP SEQUENCE IF EXISTS public.invoice_numbers;"),
        "{script}"
    );
    assert!(
        script.contains("DROP SCHEMA IF EXISTS billing;"),
        "{script}"
    );
    assert!(
        script.contains("DROP EXTENSION IF EXISTS pgcrypto;"),
        "{script}"
    );
    assert!(script.contains("DISABLE ROW LEVEL SECURITY;"), "{script}");
    assert!(
        flat(&script).contains("nothing to undo: VALIDATE CONSTRAINT has no inverse"),
        "{script}"
    );
    // Reverse order: the foreign key into invoices goes before the table, the table before
    // the sequence its default uses, and the schema's table before the schema.
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in\n{script}"))
    };
    assert!(at("DROP TABLE IF EXISTS billing.ledger") < at("DROP SCHEMA IF EXISTS billing"));
    assert!(
        at("DROP CONSTRAINT IF EXISTS ledger_invoice_id_fkey")
            < at("DROP TABLE IF EXISTS public.invoices")
    );
    assert!(
        at("DROP CONSTRAINT IF EXISTS customers_name_key")
            < at("DROP INDEX CONCURRENTLY IF EXISTS public.customers_name_key")
    );
    assert!(
        at("DROP TABLE IF EXISTS public.invoices")
            < at("DROP SEQUENCE IF EXISTS public.invoice_numbers")
    );
    assert!(at("DROP COLUMN IF EXISTS status") < at("DROP TYPE IF EXISTS public.order_status"));

    run_script(&f.db, &script);
    assert_eq!(
        f.query(CATALOG),
        catalog_before,
        "the catalog is not back:\n{script}"
    );
    assert_eq!(f.model(), model_before, "the model is not back");
    // The rows that were there before are still there.
    assert_eq!(f.query("SELECT count(*) FROM customers"), "50");
    assert_eq!(f.query("SELECT count(*) FROM orders"), "100");

    // Running the guide again changes nothing and fails nowhere.
    run_script(&f.db, &script);
    assert_eq!(f.query(CATALOG), catalog_before);

    // JSON: the same guide as data.
    let output = f.run(&["rollback", "--run", &run_id, "--format", "json"]);
    assert_exit(&output, 0);
    let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["never_executed"], true);
    assert_eq!(doc["source"], format!("run {run_id}"));
    let entries = doc["entries"].as_array().expect("entries");
    let inverse_sql: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "inverse")
        .filter_map(|e| e["sql"].as_str())
        .collect();
    let script_sql: Vec<&str> = script
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty())
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert_eq!(inverse_sql, script_sql);
    assert_eq!(doc["inverses"].as_u64(), Some(inverse_sql.len() as u64));
    assert!(
        entries
            .iter()
            .all(|e| e["origin"].as_str().is_some_and(|o| o.starts_with("step ")))
    );
}

/// An enum label added to an existing type is listed as impossible to undo (not dropped
/// silently), and the rest of the run is still undone.
#[test]
fn an_added_enum_label_is_listed_as_irreversible() {
    let f = Fixture::new();
    std::fs::write(
        f.schema.path().join("public.yaml"),
        "enums:\n  mood: [ok, sad, meh]\ntables:\n  customers:\n    columns:\n      id: { type: bigint, primary_key: true }\n      name: { type: text, not_null: true }\n      mood: mood\n      nickname: text\n  orders:\n    columns:\n      id: { type: bigint, primary_key: true }\n      customer_id: { type: bigint, not_null: true }\n      amount: { type: numeric, not_null: true }\n",
    )
    .expect("write");
    std::fs::remove_file(f.schema.path().join("billing.yaml")).expect("rm");
    assert_exit(&f.run(&["apply"]), 0);
    let run_id = f.query("SELECT max(id) FROM reconcile.runs");
    let output = f.run(&["rollback", "--run", &run_id]);
    assert_exit(&output, 0);
    let script = text(&output.stdout);
    assert!(
        flat(&script).contains("CANNOT BE UNDONE AUTOMATICALLY: PostgreSQL cannot drop an enum label: label 'meh' stays in public.mood"),
        "{script}"
    );
    assert!(
        script.contains("DROP COLUMN IF EXISTS nickname;"),
        "{script}"
    );
    assert!(text(&output.stderr).contains("cannot be undone automatically"));
    run_script(&f.db, &script);
    assert_eq!(
        f.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'nickname'"),
        "0"
    );
}

#[test]
fn unknown_runs_and_migrations_are_errors() {
    let f = Fixture::new();
    let output = f.run(&["rollback", "--run", "7"]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("no history tables"),
        "{}",
        text(&output.stderr)
    );

    std::fs::write(f.schema.path().join("public.yaml"), "tables: {}\n").expect("write");
    std::fs::remove_file(f.schema.path().join("billing.yaml")).expect("rm");
    assert_exit(&f.run(&["apply"]), 0);
    let output = f.run(&["rollback", "--run", "999"]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("run 999 is not in"),
        "{}",
        text(&output.stderr)
    );

    let output = f.run(&[
        "rollback",
        "--migration",
        "0005",
        "--migrations",
        "no-such-migrations-folder",
    ]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr)
            .contains("cannot read the migrations folder no-such-migrations-folder"),
        "{}",
        text(&output.stderr)
    );
    // A usage error: 1, like every error (2 would read as "changes pending").
    let output = f.run(&["rollback"]);
    assert_exit(&output, 1);
}

// ---------------------------------------------------------------------------------------
// `reconcile rollback --migration VERSION`.

/// A migration that creates a table and adds a column and an index to an existing table.
const MIGRATION: &str = "-- notes about customers, and their e-mail
CREATE TABLE notes (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers,
    body text NOT NULL
);
ALTER TABLE customers ADD COLUMN email text;
CREATE INDEX customers_email_idx ON customers (email);
";

const MIGRATION_DOWN: &str = "DROP INDEX customers_email_idx;
ALTER TABLE customers DROP COLUMN email;
DROP TABLE notes;
";

/// `migrate apply` runs the migration; `rollback --migration` prints its guide (with the
/// project's down migration commented out after it); psql runs the guide, and the database
/// is back to its earlier model and catalog. A version never applied says so in the header.
#[test]
fn rollback_of_a_migration_restores_the_earlier_model() {
    let f = Fixture::new();
    let folder = tempfile::tempdir().expect("migrations folder");
    let dir = folder.path().to_str().expect("UTF-8 path").to_owned();
    std::fs::write(folder.path().join("001_notes.sql"), MIGRATION).expect("write");
    std::fs::write(folder.path().join("001_notes.down.sql"), MIGRATION_DOWN).expect("write");
    let model_before = f.model();
    let catalog_before = f.query(CATALOG);

    assert_exit(&f.run(&["migrate", "--migrations", &dir, "apply"]), 0);
    let catalog_applied = f.query(CATALOG);
    assert_ne!(catalog_applied, catalog_before);
    assert!(
        catalog_applied.contains("customers_email_idx"),
        "{catalog_applied}"
    );
    f.query("INSERT INTO notes VALUES (1, 1, 'hello')");
    // A later file, never applied.
    std::fs::write(
        folder.path().join("002_later.sql"),
        "CREATE TABLE later (id int PRIMARY KEY);\n",
    )
    .expect("write");

    let output = f.run(&["rollback", "--migration", "001", "--migrations", &dir]);
    assert_exit(&output, 0);
    let script = text(&output.stdout);
    assert!(
        script.starts_with("-- Rollback guide for migration 001_notes.sql"),
        "{script}"
    );
    for needle in [
        "DROP INDEX IF EXISTS customers_email_idx;",
        "ALTER TABLE IF EXISTS customers DROP COLUMN IF EXISTS email;",
        "DROP TABLE IF EXISTS notes;",
    ] {
        assert!(script.contains(needle), "no {needle:?} in\n{script}");
    }
    let flat_script = flat(&script);
    assert!(
        flat_script.contains("Version 1 (001_notes.sql) was applied to"),
        "{script}"
    );
    assert!(
        flat_script.contains("The project's own down migration:"),
        "{script}"
    );
    // The down migration is there, but only as comments.
    assert!(script.contains("\n-- DROP TABLE notes;\n"), "{script}");
    let statements: Vec<&str> = script
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty())
        .collect();
    assert_eq!(
        statements,
        [
            "DROP INDEX IF EXISTS customers_email_idx;",
            "ALTER TABLE IF EXISTS customers DROP COLUMN IF EXISTS email;",
            "DROP TABLE IF EXISTS notes;",
        ],
        "{script}"
    );

    run_script(&f.db, &script);
    assert_eq!(
        f.query(CATALOG),
        catalog_before,
        "the catalog is not back:\n{script}"
    );
    assert_eq!(f.model(), model_before, "the model is not back");
    assert_eq!(f.query("SELECT count(*) FROM customers"), "50");
    // Again: nothing fails, nothing changes.
    run_script(&f.db, &script);
    assert_eq!(f.query(CATALOG), catalog_before);

    // Never applied: said in the header, not an error.
    let output = f.run(&["rollback", "--migration", "2", "--migrations", &dir]);
    assert_exit(&output, 0);
    let later = flat(&text(&output.stdout));
    assert!(
        later.contains("NOT APPLIED: version 2 (002_later.sql) has never been applied to"),
        "{later}"
    );
    assert!(later.contains("DROP TABLE IF EXISTS later"), "{later}");

    // JSON carries the down migration as data.
    let output = f.run(&[
        "rollback",
        "--migration",
        "001_notes.sql",
        "--migrations",
        &dir,
        "--format",
        "json",
    ]);
    assert_exit(&output, 0);
    let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["source"], "migration 001_notes.sql");
    assert_eq!(doc["down_migration"]["sql"], MIGRATION_DOWN);
    assert_eq!(doc["down_migration"]["never_executed"], true);

    // An unknown version is an error naming the folder.
    let output = f.run(&["rollback", "--migration", "9", "--migrations", &dir]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("no migration file has version `9`"),
        "{}",
        text(&output.stderr)
    );
}

/// Without a database, the guide is printed from the file alone (no throwaway is started).
#[test]
fn rollback_of_a_migration_needs_no_database() {
    let folder = tempfile::tempdir().expect("migrations folder");
    std::fs::write(folder.path().join("V1__notes.sql"), MIGRATION).expect("write");
    let output = Command::cargo_bin("reconcile")
        .expect("binary")
        .args(["rollback", "--migration", "V1", "--migrations"])
        .arg(folder.path())
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGDATABASE")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGSERVICE")
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile");
    assert_exit(&output, 0);
    let script = text(&output.stdout);
    assert!(script.contains("DROP TABLE IF EXISTS notes;"), "{script}");
    assert!(!flat(&script).contains("applied to"), "{script}");
}

/// Issue 15 item 5 / issue 14 item 6: each statement of the new kinds has the inverse a person
/// would run — DROP for a creation (a function by its argument types), REVOKE for a GRANT,
/// IS NULL for a comment, DETACH for an ATTACH, the opposite switch for row-level security
/// and triggers — and what its text cannot undo (an ALTER POLICY, a DETACH, a replace) says
/// what to do instead.
#[test]
fn the_new_kinds_have_their_inverses() {
    let cases = [
        (
            "CREATE POLICY \"own rows\" ON public.todos TO anon USING (owner = current_user)",
            "DROP POLICY IF EXISTS \"own rows\" ON public.todos",
        ),
        (
            "GRANT SELECT, INSERT ON TABLE public.todos TO anon",
            "REVOKE select, insert ON public.todos FROM anon",
        ),
        (
            "GRANT EXECUTE ON FUNCTION public.f(integer) TO authenticated",
            "REVOKE execute ON FUNCTION public.f(int) FROM authenticated",
        ),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE select ON TABLES FROM anon",
        ),
        (
            "COMMENT ON COLUMN public.todos.owner IS 'Who'",
            "COMMENT ON COLUMN public.todos.owner IS NULL",
        ),
        (
            "CREATE VIEW public.open_todos AS SELECT 1 AS a",
            "DROP VIEW IF EXISTS public.open_todos",
        ),
        (
            "CREATE MATERIALIZED VIEW public.totals AS SELECT 1 AS n",
            "DROP MATERIALIZED VIEW IF EXISTS public.totals",
        ),
        (
            "CREATE FUNCTION public.f(a integer, b text) RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "DROP FUNCTION IF EXISTS public.f(int, text)",
        ),
        (
            "CREATE TRIGGER touch BEFORE UPDATE ON public.todos FOR EACH ROW \
             EXECUTE FUNCTION suppress_redundant_updates_trigger()",
            "DROP TRIGGER IF EXISTS touch ON public.todos",
        ),
        (
            "ALTER TABLE public.events ATTACH PARTITION public.events_2024 \
             FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "ALTER TABLE public.events DETACH PARTITION public.events_2024",
        ),
        (
            "CREATE TABLE public.events_2025 PARTITION OF public.events \
             FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
            "DROP TABLE IF EXISTS public.events_2025",
        ),
        (
            "ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE IF EXISTS public.todos DISABLE ROW LEVEL SECURITY",
        ),
        (
            "ALTER TABLE public.todos DISABLE TRIGGER touch",
            "ALTER TABLE IF EXISTS public.todos ENABLE TRIGGER touch",
        ),
        (
            "ALTER TABLE public.todos DISABLE TRIGGER ALL",
            "ALTER TABLE IF EXISTS public.todos ENABLE TRIGGER ALL",
        ),
        (
            "ALTER TABLE public.todos ENABLE TRIGGER USER",
            "ALTER TABLE IF EXISTS public.todos DISABLE TRIGGER USER",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(inverse_of(sql), expected, "{sql}");
    }
    let manual = [
        (
            "ALTER POLICY \"own rows\" ON public.todos TO PUBLIC USING (true)",
            "restore them with ALTER POLICY",
        ),
        (
            "ALTER TABLE public.events DETACH PARTITION public.events_2024",
            "ATTACH PARTITION public.events_2024 FOR VALUES",
        ),
        (
            "CREATE OR REPLACE TRIGGER touch BEFORE UPDATE ON public.todos FOR EACH ROW \
             EXECUTE FUNCTION suppress_redundant_updates_trigger()",
            "earlier trigger",
        ),
        (
            "CREATE OR REPLACE VIEW public.open_todos AS SELECT 1 AS a",
            "restore its earlier definition",
        ),
    ];
    for (sql, reason) in manual {
        assert_manual(sql, reason);
    }
}

// ---------------------------------------------------------------------------------------
// A run with the new kinds (issue 15 item 5, issue 14 item 6), undone end to end.

const KINDS_ROLES: &str = "
DO $$ BEGIN CREATE ROLE rb_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE rb_writer; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
";

const KINDS_BEFORE: &str = "
CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY \"own rows\" ON todos FOR SELECT TO rb_reader USING (owner = current_user);
COMMENT ON TABLE todos IS 'Old text';
CREATE VIEW open_todos AS SELECT id FROM todos WHERE NOT done;
INSERT INTO todos VALUES (1, 'alice', false), (2, 'bob', true);
";

const KINDS_TABLES: &str = "
tables:
  todos:
    comment: New text
    row_level_security: true
    columns:
      id: { type: bigint, primary_key: true }
      owner: { type: text, not_null: true, comment: Who }
      done: { type: boolean, not_null: true, default: false }
  events:
    partition_by: RANGE (at)
    columns:
      id: { type: bigint, not_null: true }
      at: { type: date, not_null: true }
  events_2026:
    partition_of: events
    bound: FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
grants:
  tables:
    todos: { rb_reader: [select], rb_writer: [select, insert] }
";

const KINDS_SQL: &str = "
CREATE POLICY \"own rows\" ON todos FOR SELECT TO rb_reader, rb_writer USING (owner = current_user);
CREATE POLICY \"write own\" ON todos FOR INSERT TO rb_writer WITH CHECK (owner = current_user);
CREATE VIEW open_todos AS SELECT id, owner FROM todos WHERE NOT done;
CREATE VIEW done_todos AS SELECT id FROM todos WHERE done;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION touch();
";

/// Definitions of what the run changes: policies (roles, expressions), comments, views'
/// queries, triggers, functions, privileges, partitions.
const KINDS_CATALOG: &str = "
SELECT x FROM (
    SELECT 'relation ' || oid::regclass || ' ' || relkind::text || ' rls=' || relrowsecurity
           -- A REVOKE leaves the owner's default privileges written out: the same rights.
           || ' acl=' || coalesce(relacl, acldefault('r', relowner))::text
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'policy ' || polrelid::regclass || ' ' || polname || ' ' || polcmd::text || ' '
           || polroles::regrole[]::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '-')
           || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '-')
    FROM pg_policy
    UNION ALL
    SELECT 'comment ' || objoid::regclass || '.' || objsubid || ' ' || description
    FROM pg_description WHERE classoid = 'pg_class'::regclass
    UNION ALL
    SELECT 'view ' || viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT 'function ' || oid::regprocedure FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) objects(x)
ORDER BY x;
";

/// A run that replaces a policy (letting another role in), a comment and a view's query in
/// place, and creates a policy, a view, a function and its trigger, grants, a column's
/// comment and a partitioned table with a partition: its guide puts the replaced definitions
/// back (from the history's `previous`), revokes, drops what was created, and leaves the
/// catalog as it was — policies, comments, views, triggers and privileges included.
#[test]
fn rollback_of_a_run_with_policies_grants_comments_views_triggers_and_partitions() {
    if common::cluster().is_none() {
        eprintln!("skipped: it creates roles, which are never made on a DATABASE_URL server");
        return;
    }
    let db = common::fresh_db();
    db.psql(&format!("{KINDS_ROLES}\n{KINDS_BEFORE}"))
        .unwrap_or_else(|e| panic!("setup: {e}"));
    let dev = common::fresh_db();
    let schema = tempfile::tempdir().expect("schema folder");
    std::fs::write(schema.path().join("schema.yaml"), KINDS_TABLES).expect("write");
    std::fs::write(schema.path().join("security.sql"), KINDS_SQL).expect("write");
    let run = |args: &[&str]| {
        Command::cargo_bin("reconcile")
            .expect("binary")
            .args(args)
            .args(["--color", "never", "--database-url", &db.url])
            .args(["--dev-url", &dev.url])
            .arg("--schema")
            .arg(schema.path())
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    };
    let query = |sql: &str| {
        db.psql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    };
    let before = query(KINDS_CATALOG);
    assert_exit(&run(&["apply"]), 0);
    let after = query(KINDS_CATALOG);
    for needle in [
        "{rb_reader,rb_writer}",
        "write own",
        "New text",
        "Who",
        "done_todos",
        "trigger CREATE TRIGGER touch",
        "events_2026",
        "rb_writer=ar",
    ] {
        assert!(
            after.contains(needle),
            "no {needle:?} after the run:\n{after}"
        );
    }
    let run_id = query("SELECT max(id) FROM reconcile.runs");
    let output = run(&["rollback", "--run", &run_id]);
    assert_exit(&output, 0);
    let script = text(&output.stdout);
    for needle in [
        "ALTER POLICY \"own rows\" ON public.todos TO rb_reader USING ((owner = CURRENT_USER));",
        "COMMENT ON TABLE public.todos IS 'Old text';",
        "COMMENT ON COLUMN public.todos.owner IS NULL;",
        "DROP POLICY IF EXISTS \"write own\" ON public.todos;",
        "DROP VIEW IF EXISTS public.done_todos;",
        // The trigger's step is `pg_get_triggerdef`'s text, which leaves out a schema on
        // the search path.
        "DROP TRIGGER IF EXISTS touch ON ",
        "DROP FUNCTION IF EXISTS public.touch();",
        "DROP TABLE IF EXISTS public.events_2026;",
        "REVOKE insert ON public.todos FROM rb_writer;",
    ] {
        assert!(
            script.contains(needle),
            "no {needle:?} in the guide:\n{script}"
        );
    }
    assert!(
        flat(&script).contains("0 that cannot be undone automatically"),
        "{script}"
    );
    run_script(&db, &script);
    assert_eq!(
        query(KINDS_CATALOG),
        before,
        "the catalog is not back:\n{script}"
    );
    assert_eq!(query("SELECT count(*) FROM todos"), "2");
}
