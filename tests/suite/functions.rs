//! Functions, procedures and aggregates (issue 14), end to end through the binary: declared in
//! `.sql` files, created in dependency order on an empty database (the rendered script runs
//! twice with psql, then the database is in sync), replaced in place when `CREATE OR REPLACE`
//! can express a change (with the previous definition kept for `rollback --run`), reported —
//! never run — when it cannot, and the same plan whether tables are declared in YAML or SQL.

use crate::common;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use common::{TestDb, assert_exit, text};
use serde_json::Value;

fn reconcile(db: &TestDb, dev: &TestDb, schema: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .args(args)
        .args([
            "--color",
            "never",
            "--database-url",
            &db.url,
            "--dev-url",
            &dev.url,
        ])
        .arg("--schema-dir")
        .arg(schema)
        .output()
        .expect("run reconcile")
}

/// A desired-state folder with these files.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("write");
    }
    dir
}

fn json_plan(db: &TestDb, dev: &TestDb, schema: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["plan", "--format", "json"];
    args.extend(extra);
    let output = reconcile(db, dev, schema, &args);
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "plan JSON: {e}\nstdout:\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    (output.status.code(), doc)
}

fn sql_plan(db: &TestDb, dev: &TestDb, schema: &Path) -> String {
    let output = reconcile(db, dev, schema, &["plan", "--format", "sql"]);
    assert_exit(&output, 2);
    text(&output.stdout)
}

fn objects(doc: &Value, what: &str) -> Vec<String> {
    doc[what]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| s["object"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn position(steps: &[String], object: &str) -> usize {
    steps
        .iter()
        .position(|s| s == object)
        .unwrap_or_else(|| panic!("no step for {object}: {steps:#?}"))
}

const TABLES_YAML: &str = "domains:
  positive_amount:
    type: numeric
    checks:
      positive_amount_check: is_positive(VALUE)
tables:
  tickets:
    columns:
      id: { type: bigint, primary_key: true }
      code: { type: text, default: next_code() }
      price: { type: positive_amount }
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      code: { type: text, not_null: true, default: next_code() }
      amount: { type: numeric, not_null: true }
    checks:
      orders_amount_check: is_positive(amount)
    indexes:
      - { name: orders_code_idx, columns: [{ expression: normalised(code) }] }
";

const FUNCTIONS_SQL: &str = "
-- Called by a column default, a check and an index expression of the YAML table.
CREATE FUNCTION next_code() RETURNS text LANGUAGE sql VOLATILE
    AS $$ SELECT 'C' || floor(random() * 1000)::text $$;
CREATE FUNCTION is_positive(n numeric) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT
    RETURN n > 0;
CREATE FUNCTION normalised(t text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $body$ SELECT lower($$x$$ || t) $body$;

-- Overloads, a procedure, security definer, SET, parallel safety, cost and rows.
CREATE FUNCTION area(r numeric) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 3.14159 * r * r $$;
CREATE FUNCTION area(w integer, h integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE
    AS $$ SELECT w * h $$;
CREATE FUNCTION order_ids() RETURNS SETOF bigint LANGUAGE sql STABLE SECURITY DEFINER
    COST 5 ROWS 20 SET search_path = pg_catalog, public
    AS $$ SELECT id FROM public.orders $$;
CREATE PROCEDURE bump(INOUT n integer, step integer DEFAULT 1) LANGUAGE plpgsql
    AS $$ BEGIN n := n + step; END $$;

-- A SQL-standard body reads the YAML table: it is created after it.
CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT count(*) FROM orders;
END;

-- An aggregate over a function, and a view calling it.
CREATE FUNCTION concat_step(acc text, x text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN acc IS NULL THEN x ELSE acc || ',' || x END $$;
CREATE AGGREGATE joined(text) (SFUNC = concat_step, STYPE = text, PARALLEL = SAFE);
CREATE VIEW order_codes AS SELECT joined(code) AS codes FROM orders;
";

/// On an empty database: every function before what calls it (column default, check, index
/// expression, view), the `BEGIN ATOMIC` function after the table it reads; nothing is left
/// to the H012 warning path (the scratch server builds the table with its functions); the
/// script runs twice; then the database is in sync and behaves as declared.
#[test]
fn functions_come_before_what_calls_them_and_converge_on_an_empty_database() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let schema = folder(&[("public.yaml", TABLES_YAML), ("public.sql", FUNCTIONS_SQL)]);
    let (code, doc) = json_plan(&db, &dev, schema.path(), &[]);
    assert_eq!(code, Some(2), "{doc:#}");
    let steps = objects(&doc, "steps");
    let table = position(&steps, "table public.orders");
    for function in [
        "function public.next_code()",
        "function public.is_positive(numeric)",
        "function public.normalised(text)",
    ] {
        assert!(position(&steps, function) < table, "{steps:#?}");
    }
    // A table and a domain no SQL statement names, calling functions the SQL files declare.
    let domain = position(&steps, "domain public.positive_amount");
    assert!(position(&steps, "function public.is_positive(numeric)") < domain);
    let tickets = position(&steps, "table public.tickets");
    assert!(position(&steps, "function public.next_code()") < tickets);
    assert!(domain < tickets);
    assert!(position(&steps, "function public.order_count()") > table);
    let view = position(&steps, "view public.order_codes");
    assert!(position(&steps, "aggregate public.joined(text)") < view);
    assert!(
        position(&steps, "function public.concat_step(text, text)")
            < position(&steps, "aggregate public.joined(text)")
    );
    for (name, kind) in [
        ("function public.area(numeric)", "create_function"),
        ("function public.area(integer, integer)", "create_function"),
        ("procedure public.bump(integer, integer)", "create_function"),
        ("aggregate public.joined(text)", "create_aggregate"),
    ] {
        let step = &doc["steps"][position(&steps, name)];
        assert_eq!(step["kind"], kind, "{step:#}");
    }
    let hazards: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["hazards"].as_array().unwrap())
        .filter_map(|h| h["code"].as_str())
        .collect();
    assert!(!hazards.contains(&"H012"), "{doc:#}");
    assert_eq!(doc["findings"].as_array().map(Vec::len), Some(0), "{doc:#}");

    let script = sql_plan(&db, &dev, schema.path());
    db.psql(&script)
        .unwrap_or_else(|e| panic!("first run: {e}\n{script}"));
    db.psql(&script)
        .unwrap_or_else(|e| panic!("second run: {e}\n{script}"));
    let again = reconcile(&db, &dev, schema.path(), &["plan"]);
    assert_exit(&again, 0);

    // As declared: the default, the check, the overloads, the procedure, the settings.
    let query = |sql: &str| db.psql(sql).expect("query").trim().to_owned();
    query("INSERT INTO orders (id, amount) VALUES (1, 5), (2, 7)");
    assert!(query("SELECT code FROM orders WHERE id = 1").starts_with('C'));
    assert!(
        db.psql("INSERT INTO orders (id, amount) VALUES (3, -1)")
            .is_err()
    );
    assert!(
        db.psql("INSERT INTO tickets (id, price) VALUES (1, 0)")
            .is_err()
    );
    query("INSERT INTO tickets (id, price) VALUES (2, 3)");
    assert!(query("SELECT code FROM tickets WHERE id = 2").starts_with('C'));
    assert_eq!(query("SELECT area(2, 3), round(area(1.0), 2)"), "6|3.14");
    assert_eq!(query("CALL bump(41)"), "42");
    assert_eq!(query("SELECT order_count()"), "2");
    assert_eq!(
        query(
            "SELECT prosecdef, proconfig::text, procost, prorows FROM pg_proc \
             WHERE proname = 'order_ids'"
        ),
        "t|{\"search_path=pg_catalog, public\"}|5|20"
    );
    assert_eq!(
        query("SELECT proparallel FROM pg_proc WHERE proname = 'joined'"),
        "s"
    );
    assert_eq!(query("SELECT count(*) FROM order_codes"), "1");
}

/// The same desired state, tables written in YAML or as `CREATE TABLE` in SQL: the same
/// plan, byte for byte.
#[test]
fn tables_in_yaml_or_in_sql_give_the_same_plan() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let yaml = folder(&[("public.yaml", TABLES_YAML), ("public.sql", FUNCTIONS_SQL)]);
    let tables_sql = "CREATE DOMAIN positive_amount AS numeric
    CONSTRAINT positive_amount_check CHECK (is_positive(VALUE));
CREATE TABLE tickets (id bigint PRIMARY KEY, code text DEFAULT next_code(), price positive_amount);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    code text NOT NULL DEFAULT next_code(),
    amount numeric NOT NULL,
    CONSTRAINT orders_amount_check CHECK (is_positive(amount))
);
CREATE INDEX orders_code_idx ON orders (normalised(code));
";
    let sql = folder(&[("tables.sql", tables_sql), ("public.sql", FUNCTIONS_SQL)]);
    for format in ["sql", "text", "json"] {
        let from_yaml = reconcile(&db, &dev, yaml.path(), &["plan", "--format", format]);
        let from_sql = reconcile(&db, &dev, sql.path(), &["plan", "--format", format]);
        assert_exit(&from_yaml, 2);
        assert_exit(&from_sql, 2);
        assert_eq!(
            text(&from_yaml.stdout),
            text(&from_sql.stdout),
            "--format {format}"
        );
    }
}

const LIVE: &str = "
CREATE TABLE items (id bigint PRIMARY KEY, price numeric NOT NULL DEFAULT 0);
CREATE FUNCTION price_of(id bigint) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price FROM items WHERE items.id = price_of.id $$;
CREATE FUNCTION dummy(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;
CREATE VIEW priced AS SELECT id, price_of(id) AS price FROM items;
CREATE AGGREGATE total(numeric) (SFUNC = numeric_add, STYPE = numeric);
";

const ITEMS_YAML: &str = "tables:
  items:
    columns:
      id: { type: bigint, primary_key: true }
      price: { type: numeric, not_null: true, default: '0' }
";

fn live() -> TestDb {
    let db = common::fresh_db();
    db.psql(LIVE).expect("live schema");
    db
}

/// A new body is a replace step (H013) carrying the previous definition; `apply` runs it,
/// `rollback --run` prints the previous definition back, and running that guide restores it.
/// With `--no-replace` the same change is a finding (D163) instead.
#[test]
fn a_changed_body_is_replaced_in_place_and_rollback_puts_the_old_one_back() {
    let (db, dev) = (live(), common::fresh_db());
    let desired = folder(&[
        ("public.yaml", ITEMS_YAML),
        (
            "public.sql",
            "CREATE FUNCTION price_of(id bigint) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT price * 2 FROM items WHERE items.id = price_of.id $$;
CREATE FUNCTION dummy(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;
CREATE VIEW priced AS SELECT id, price_of(id) AS price FROM items;
CREATE AGGREGATE total(numeric) (SFUNC = numeric_add, STYPE = numeric, INITCOND = '0');
",
        ),
    ]);
    let (code, doc) = json_plan(&db, &dev, desired.path(), &[]);
    assert_eq!(code, Some(2), "{doc:#}");
    let steps = doc["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{doc:#}");
    let replace = steps
        .iter()
        .find(|s| s["object"] == "function public.price_of(bigint)")
        .expect("the function's step");
    assert_eq!(replace["kind"], "replace");
    assert_eq!(replace["hazards"][0]["code"], "H013");
    let sql = replace["sql"].as_str().unwrap();
    assert!(
        sql.starts_with("CREATE OR REPLACE FUNCTION public.price_of(id bigint)")
            && sql.contains("SELECT price * 2 FROM"),
        "{sql}"
    );
    assert!(
        replace["previous"]
            .as_str()
            .unwrap()
            .contains("SELECT price FROM items")
    );
    let aggregate = steps
        .iter()
        .find(|s| s["object"] == "aggregate public.total(numeric)")
        .expect("the aggregate's step");
    assert!(
        aggregate["sql"]
            .as_str()
            .unwrap()
            .starts_with("CREATE OR REPLACE AGGREGATE public.total(numeric) (")
    );

    // --no-replace: findings, no steps.
    let (code, held) = json_plan(&db, &dev, desired.path(), &["--no-replace"]);
    assert_eq!(code, Some(3), "{held:#}");
    assert_eq!(held["steps"].as_array().map(Vec::len), Some(0));
    let codes: Vec<&str> = held["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["D165", "D163"], "{held:#}");

    let apply = reconcile(&db, &dev, desired.path(), &["apply"]);
    assert_exit(&apply, 0);
    let query = |sql: &str| db.psql(sql).expect("query").trim().to_owned();
    query("INSERT INTO items VALUES (1, 10)");
    assert_eq!(query("SELECT price FROM priced"), "20");
    assert_exit(&reconcile(&db, &dev, desired.path(), &["plan"]), 0);

    let run = query("SELECT max(id) FROM reconcile.runs");
    let guide = reconcile(&db, &dev, desired.path(), &["rollback", "--run", &run]);
    assert_exit(&guide, 0);
    let script = text(&guide.stdout);
    assert!(
        script.contains("SELECT price FROM items WHERE items.id = price_of.id"),
        "{script}"
    );
    db.psql(&script)
        .unwrap_or_else(|e| panic!("the guide does not run: {e}\n{script}"));
    assert_eq!(query("SELECT price FROM priced"), "10");
    assert_eq!(
        query("SELECT agginitval IS NULL FROM pg_aggregate WHERE aggfnoid = 'total'::regproc"),
        "t"
    );
}

/// A function whose result type changes cannot be replaced in place: a finding (D163) with
/// the DROP and CREATE a human would run and what uses the function — never a step. An extra
/// function is D162, an extra aggregate D164.
#[test]
fn a_changed_result_type_is_a_finding_naming_what_uses_the_function() {
    let (db, dev) = (live(), common::fresh_db());
    let desired = folder(&[
        ("public.yaml", ITEMS_YAML),
        (
            "public.sql",
            "CREATE FUNCTION price_of(id bigint) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT price::text FROM items WHERE items.id = price_of.id $$;
CREATE VIEW priced AS SELECT id, price_of(id) AS price FROM items;
",
        ),
    ]);
    let (code, doc) = json_plan(&db, &dev, desired.path(), &[]);
    assert_eq!(code, Some(3), "{doc:#}");
    let findings = doc["findings"].as_array().expect("findings");
    let by_code = |code: &str| {
        findings
            .iter()
            .filter(|f| f["code"] == code)
            .map(|f| f["object"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_code("D163"), ["function public.price_of(bigint)"]);
    assert_eq!(by_code("D162"), ["function public.dummy(integer)"]);
    assert_eq!(by_code("D164"), ["aggregate public.total(numeric)"]);
    let changed = findings.iter().find(|f| f["code"] == "D163").unwrap();
    let suggestion = changed["suggestion"].as_str().unwrap();
    assert!(
        suggestion.contains("Used by (drop them first, create them again after): view public.priced")
            && suggestion.contains("DROP FUNCTION public.price_of(bigint);\nCREATE FUNCTION public.price_of(id bigint)\n RETURNS text"),
        "{suggestion}"
    );
    // The view's definition reads a text column now: the view cannot follow either (D161),
    // and nothing runs.
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["sql"].as_str())
        .collect();
    assert!(steps.iter().all(|s| !s.contains("price_of")), "{steps:#?}");
}

/// A desired view calling a desired function, on a database that has neither: the function
/// first. And the pulled state of a database with all the kinds plans nothing against it.
#[test]
fn pull_writes_functions_that_load_back_identically() {
    let (db, dev) = (live(), common::fresh_db());
    db.psql(
        "CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE FUNCTION app.cheer(m app.mood DEFAULT 'ok', VARIADIC extra text[] DEFAULT '{}')
    RETURNS TABLE(word text, n integer) LANGUAGE plpgsql STRICT LEAKPROOF
    SET work_mem = '8MB' SET search_path = ''
    AS $f$ BEGIN RETURN QUERY SELECT m::text || $$!$$, 1; END $f$;
CREATE PROCEDURE app.noop() LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
CREATE AGGREGATE app.pct(float8 ORDER BY anyelement)
    (SFUNC = ordered_set_transition, STYPE = internal, FINALFUNC = percentile_disc_final,
     FINALFUNC_EXTRA);
CREATE AGGREGATE app.cnt(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');
",
    )
    .expect("more objects");
    let out = tempfile::tempdir().expect("temp dir");
    let pull = Command::cargo_bin("reconcile")
        .expect("binary")
        .args([
            "pull",
            "--database-url",
            &db.url,
            "--dev-url",
            &dev.url,
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run pull");
    assert_exit(&pull, 0);
    let app = std::fs::read_to_string(out.path().join("app.sql")).expect("app.sql");
    for needle in [
        "CREATE FUNCTION app.cheer(m app.mood DEFAULT 'ok'::app.mood, VARIADIC extra text[] DEFAULT '{}'::text[])",
        "CREATE PROCEDURE app.noop()",
        "CREATE AGGREGATE app.pct(double precision ORDER BY anyelement) (",
        "CREATE AGGREGATE app.cnt(*) (",
    ] {
        assert!(app.contains(needle), "no {needle:?} in\n{app}");
    }
    let plan = reconcile(&db, &dev, out.path(), &["plan"]);
    assert_exit(&plan, 0);

    // From nothing: the pulled files build the same database.
    let empty = common::fresh_db();
    let script = sql_plan(&empty, &dev, out.path());
    empty
        .psql(&script)
        .unwrap_or_else(|e| panic!("{e}\n{script}"));
    assert_exit(&reconcile(&empty, &dev, out.path(), &["plan"]), 0);
}

/// Overloads are separate objects: a new one is created, a changed one replaced, an extra one
/// reported, each by its argument types — the others are left alone. Renaming an input
/// argument or dropping a default is something `CREATE OR REPLACE` refuses: D163.
#[test]
fn overloads_are_told_apart_by_their_argument_types() {
    let db = common::fresh_db();
    db.psql(
        "CREATE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;
CREATE FUNCTION f(x text) RETURNS text LANGUAGE sql AS $$ SELECT x $$;
CREATE FUNCTION g(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a $$;
CREATE FUNCTION h(a integer DEFAULT 1) RETURNS integer LANGUAGE sql AS $$ SELECT a $$;",
    )
    .expect("live functions");
    let dev = common::fresh_db();
    let desired = folder(&[(
        "public.sql",
        "CREATE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x + 1 $$;
CREATE FUNCTION f(x integer, y integer) RETURNS integer LANGUAGE sql AS $$ SELECT x + y $$;
CREATE FUNCTION g(b integer) RETURNS integer LANGUAGE sql AS $$ SELECT b $$;
CREATE FUNCTION h(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a $$;",
    )]);
    let (code, doc) = json_plan(&db, &dev, desired.path(), &[]);
    assert_eq!(code, Some(3), "{doc:#}");
    let mut steps: Vec<(String, String)> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["object"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    steps.sort();
    assert_eq!(
        steps,
        [
            (
                "function public.f(integer)".to_owned(),
                "replace".to_owned()
            ),
            (
                "function public.f(integer, integer)".to_owned(),
                "create_function".to_owned()
            ),
        ],
        "{doc:#}"
    );
    let mut findings: Vec<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    findings.sort();
    assert_eq!(
        findings,
        [
            ("D162".to_owned(), "function public.f(text)".to_owned()),
            ("D163".to_owned(), "function public.g(integer)".to_owned()),
            ("D163".to_owned(), "function public.h(integer)".to_owned()),
        ],
        "{doc:#}"
    );

    let apply = reconcile(&db, &dev, desired.path(), &["apply"]);
    assert_exit(&apply, 0);
    let query = |sql: &str| db.psql(sql).expect("query").trim().to_owned();
    assert_eq!(
        query("SELECT f(1), f(1, 2), f('t'::text), g(4), h()"),
        "2|3|t|4|1"
    );
    // What is left is only what needs a DROP: running apply again changes nothing.
    let (code, again) = json_plan(&db, &dev, desired.path(), &[]);
    assert_eq!(code, Some(3), "{again:#}");
    assert_eq!(
        again["steps"].as_array().map(Vec::len),
        Some(0),
        "{again:#}"
    );
}

/// A function whose argument and result are a YAML table's row type names the table only as
/// a type: the scratch build still has the table (regression: "type activity does not
/// exist", pgschema dependency/issue_300), and the plan creates the function after it.
#[test]
fn a_function_on_a_yaml_tables_row_type_is_built_and_comes_after_the_table() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let schema = folder(&[
        (
            "public.yaml",
            "tables:
  activity:
    columns:
      id: { type: bigint, primary_key: true }
      title: text
  other:
    columns:
      id: bigint
",
        ),
        (
            "public.sql",
            "CREATE FUNCTION touch(a activity) RETURNS activity LANGUAGE sql
    AS $$ SELECT a.id, upper(a.title) $$;",
        ),
    ]);
    let (code, doc) = json_plan(&db, &dev, schema.path(), &[]);
    assert_eq!(code, Some(2), "{doc:#}");
    let steps = objects(&doc, "steps");
    assert!(
        position(&steps, "table public.activity")
            < position(&steps, "function public.touch(activity)"),
        "{steps:#?}"
    );
    let script = sql_plan(&db, &dev, schema.path());
    db.psql(&script).unwrap_or_else(|e| panic!("{e}\n{script}"));
    assert_exit(&reconcile(&db, &dev, schema.path(), &["plan"]), 0);
    assert_eq!(
        db.psql("SELECT (touch(ROW(1, 'x')::activity)).title")
            .expect("query")
            .trim(),
        "X"
    );
}

/// A procedure wanted where the database has a function of the same name and argument types
/// (PostgreSQL keeps one routine per signature): not created — its guard would skip it
/// forever — but D136, next to the function's own D162.
#[test]
fn a_procedure_where_a_function_has_its_signature_is_not_created() {
    let db = common::fresh_db();
    db.psql("CREATE FUNCTION f(x integer) RETURNS void LANGUAGE sql AS $$ SELECT 1 $$;")
        .expect("live function");
    let dev = common::fresh_db();
    let desired = folder(&[(
        "public.sql",
        "CREATE PROCEDURE f(x integer) LANGUAGE sql AS $$ SELECT 1 $$;",
    )]);
    let (code, doc) = json_plan(&db, &dev, desired.path(), &[]);
    assert_eq!(code, Some(3), "{doc:#}");
    assert_eq!(doc["steps"].as_array().map(Vec::len), Some(0), "{doc:#}");
    let findings: Vec<(&str, &str)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    assert_eq!(
        findings,
        [
            ("D162", "function public.f(integer)"),
            ("D136", "procedure public.f(integer)"),
        ],
        "{doc:#}"
    );
}
