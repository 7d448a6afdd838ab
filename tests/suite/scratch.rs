//! The scratch database is opened only when something must be built (issue 16, item 17).
//!
//! An in-sync `plan` used to start a throwaway PostgreSQL (or connect to `--dev-url`) before
//! knowing whether anything needed building — 1.1 s of a 1.3 s plan. Now canonicalisation
//! asks for the connection (`canon::Scratch`) only when it has something to build, and a
//! desired state whose every object is in the live catalog as written needs nothing.
//!
//! The proof that nothing was opened: the scratch database given is one that cannot be
//! reached (`--dev-url` on port 1, or `RECONCILE_PG_BINDIR` pointing nowhere), and the run
//! still succeeds. The proof that skipping the server changes nothing: the result without a
//! server equals the result with one, on a schema with every kind of prerequisite.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_exit, text};
use reconcile::canon::{self, CanonError};
use reconcile::introspect::{self, Scope};
use sqlx::PgConnection;

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");
const TIMEOUT: Duration = Duration::from_secs(120);
/// Nothing listens on port 1.
const UNREACHABLE: &str = "postgres://nobody@127.0.0.1:1/none";

/// Every kind of object canonicalisation builds besides tables: schemas, an extension, an
/// enum, a domain with a check, a composite type, a standalone and an owned sequence.
const SQL: &str = "\
CREATE EXTENSION pgcrypto;
CREATE SCHEMA billing;
CREATE TYPE billing.status AS ENUM ('new', 'paid');
CREATE DOMAIN billing.amount AS numeric(12,2) CHECK (VALUE >= 0);
CREATE TYPE billing.money_pair AS (net billing.amount, gross billing.amount);
CREATE SEQUENCE billing.invoice_no START 1000 INCREMENT 5;
CREATE TABLE billing.invoices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number bigint NOT NULL DEFAULT nextval('billing.invoice_no'),
    status billing.status NOT NULL DEFAULT 'new',
    total billing.amount NOT NULL DEFAULT 0,
    tags text[] NOT NULL DEFAULT '{}',
    note varchar(200) CHECK (note <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_open ON billing.invoices (created_at DESC) WHERE status = 'new';
CREATE TABLE public.counters (id serial PRIMARY KEY, kind text NOT NULL DEFAULT 'a' CHECK (kind IN ('a', 'b')));
";

/// A scratch source that must never be asked for.
struct Unreachable {
    asked: bool,
}

impl canon::Scratch for Unreachable {
    async fn connection(&mut self) -> Result<&mut PgConnection, CanonError> {
        self.asked = true;
        Err(CanonError::NoScratch(
            "this test has no scratch database".into(),
        ))
    }
}

/// The live database's model, and the desired state a user would write for it (pulled as
/// YAML, loaded back).
async fn in_sync_pair(db: &common::TestDb) -> (reconcile::model::Schema, reconcile::model::Schema) {
    db.psql(SQL).expect("the schema builds");
    let mut conn = db.connect().await;
    let everything = Scope {
        schemas: None,
        ignore: Vec::new(),
    };
    let pulled = introspect::schema(&mut conn, &everything)
        .await
        .expect("introspect")
        .schema;
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(&pulled)
        .into_iter()
        .map(|(name, text)| (PathBuf::from("pulled").join(name), text))
        .collect();
    let desired = reconcile::load::from_sources(&files).expect("the pulled YAML loads");
    let live = introspect::schema(&mut conn, &Scope::of(&desired, &[]))
        .await
        .expect("introspect in the desired scope")
        .schema;
    (live, desired)
}

/// In sync: the canonical desired state comes out without asking for a server, and it is
/// the one the server gives.
#[tokio::test]
async fn in_sync_canonicalisation_needs_no_server_and_agrees_with_one() {
    let db = common::fresh_db();
    let (live, desired) = in_sync_pair(&db).await;

    let mut none = Unreachable { asked: false };
    let without = canon::canonicalise_against(&desired, Some(&live), &mut none)
        .await
        .expect("nothing to build");
    assert!(!none.asked, "the scratch database was asked for");
    let aligned = canon::align_live(live.clone(), &without.schema, &mut none)
        .await
        .expect("nothing to align");
    assert!(!none.asked, "alignment asked for the scratch database");
    assert_eq!(aligned, live);

    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    let with = canon::canonicalise_against(&desired, Some(&live), &mut conn)
        .await
        .expect("canonicalise on a real scratch database");
    assert_eq!(without.schema, with.schema);
    assert_eq!(without.unverified, with.unverified);
}

/// A column typed with the row type of a table the scratch server does not build (it is
/// unchanged): a new table with such a column, and a new one on a table that exists. The
/// table is built beside them as a stand-in, so they are checked like any column; they
/// were "type does not exist" (hazard H012) before. The stand-in is not part of the result.
#[tokio::test]
async fn columns_of_an_unchanged_tables_row_type_are_checked() {
    let db = common::fresh_db();
    let live = build_target(
        &db,
        "CREATE TABLE point2 (x integer, y integer, label text COLLATE \"C\");
         CREATE TABLE shapes (id integer);",
    )
    .await;
    let mut desired = live.clone();
    let name = |table: &str| {
        live.tables
            .keys()
            .find(|n| n.name.as_str() == table)
            .expect("a table of the target")
            .clone()
    };
    let column = |name: &str, data_type: &str| {
        reconcile::model::Column::new(
            reconcile::model::Ident::new(name).expect("an identifier"),
            data_type,
        )
    };
    desired
        .tables
        .get_mut(&name("shapes"))
        .expect("shapes")
        .columns
        .push(column("corner", "point2"));
    let mut traces = name("shapes");
    traces.name = reconcile::model::Ident::new("traces").expect("an identifier");
    desired.tables.insert(
        traces.clone(),
        reconcile::model::Table {
            columns: vec![column("id", "integer"), column("points", "point2[]")],
            ..Default::default()
        },
    );

    let scratch = common::fresh_db();
    let mut scratch_conn = scratch.connect().await;
    let canonical = canon::canonicalise_against(&desired, Some(&live), &mut scratch_conn)
        .await
        .expect("canonicalise on a real scratch database");
    assert!(
        canonical.unverified.is_empty(),
        "{:#?}",
        canonical.unverified
    );
    let data_type = |table: &reconcile::model::QualifiedName, column: &str| {
        canonical.schema.tables[table]
            .column(column)
            .map(|c| c.data_type.to_string())
    };
    assert_eq!(
        data_type(&name("shapes"), "corner").as_deref(),
        Some("point2")
    );
    assert_eq!(data_type(&traces, "points").as_deref(), Some("point2[]"));
    // The stand-in is not what the desired state says of the table: that is unchanged.
    assert_eq!(
        canonical.schema.tables[&name("point2")],
        live.tables[&name("point2")]
    );
}

/// Something to build (a changed default, a new domain): the server is asked for, and its
/// absence is an error naming the scratch database, never a silently uncanonicalised plan.
#[tokio::test]
async fn something_to_build_asks_for_the_server() {
    let db = common::fresh_db();
    let (live, desired) = in_sync_pair(&db).await;

    let mut changed = desired.clone();
    let table = changed
        .tables
        .values_mut()
        .find(|t| t.columns.iter().any(|c| c.name.as_str() == "note"))
        .expect("the invoices table");
    let note = table
        .columns
        .iter_mut()
        .find(|c| c.name.as_str() == "note")
        .expect("note");
    note.default = Some("'none'".to_owned());
    let mut none = Unreachable { asked: false };
    let error = canon::canonicalise_against(&changed, Some(&live), &mut none)
        .await
        .expect_err("a changed default needs the server");
    assert!(none.asked);
    assert!(matches!(error, CanonError::NoScratch(_)), "{error}");

    let mut new_domain = desired.clone();
    let (name, domain) = new_domain
        .domains
        .iter()
        .next()
        .map(|(n, d)| (n.clone(), d.clone()))
        .expect("a domain");
    let mut renamed = name.clone();
    renamed.name = reconcile::model::Ident::new("amount_two").expect("an identifier");
    new_domain.domains.insert(renamed, domain);
    let mut none = Unreachable { asked: false };
    let error = canon::canonicalise_against(&new_domain, Some(&live), &mut none)
        .await
        .expect_err("a new domain needs the server");
    assert!(none.asked && matches!(error, CanonError::NoScratch(_)));
}

/// `reconcile ARGS --database-url URL --schema DIR`, nothing from the environment.
fn reconcile(url: &str, schema: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .args(["--color", "never", "--database-url", url, "--schema"])
        .arg(schema)
        .env_remove("DATABASE_URL")
        .env_remove("RECONCILE_DEV_URL")
        .env_remove("RECONCILE_PG_BINDIR")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    assert_cmd::Command::from_std(command)
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile")
}

/// Regression (issue 16 item 17): an in-sync `plan`, `verify` and `apply` open no scratch
/// database — neither `--dev-url` (unreachable here) nor a throwaway (no server binaries
/// here). With drift, the unreachable `--dev-url` is reported by name.
#[test]
fn in_sync_runs_open_no_scratch_database() {
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let schema = tempfile::tempdir().expect("a schema folder");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/schema/sales.yaml"),
        schema.path().join("sales.yaml"),
    )
    .expect("the example schema");
    let applied = reconcile(
        &db.url,
        schema.path(),
        &["apply", "--dev-url", &dev.url],
        &[],
    );
    assert_exit(&applied, 0);

    for command in ["plan", "verify"] {
        let output = reconcile(
            &db.url,
            schema.path(),
            &[command, "--dev-url", UNREACHABLE],
            &[],
        );
        assert_exit(&output, 0);
        let output = reconcile(
            &db.url,
            schema.path(),
            &[command],
            &[("RECONCILE_PG_BINDIR", "/nonexistent/reconcile-test")],
        );
        assert_exit(&output, 0);
    }
    let output = reconcile(
        &db.url,
        schema.path(),
        &["apply", "--dev-url", UNREACHABLE],
        &[],
    );
    assert_exit(&output, 0);
    assert!(
        text(&output.stderr).contains("nothing to apply"),
        "{}",
        text(&output.stderr)
    );

    // Drift: now the scratch database is needed, and its absence is named.
    let yaml = std::fs::read_to_string(schema.path().join("sales.yaml")).expect("read");
    let drifted = yaml.replace(
        "      full_name: text\n",
        "      full_name: text\n      nickname: { type: text, default: \"'none'\" }\n",
    );
    assert_ne!(yaml, drifted);
    std::fs::write(schema.path().join("sales.yaml"), drifted).expect("write");
    let output = reconcile(
        &db.url,
        schema.path(),
        &["plan", "--dev-url", UNREACHABLE],
        &[],
    );
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("scratch database") && stderr.contains("--dev-url / RECONCILE_DEV_URL"),
        "{stderr}"
    );
}

/// The YAML tables the `.sql` statements below build on.
const LEAN_YAML: &str = "\
schema: public
tables:
  accounts:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true, default: \"''\" }
      email: { type: text, check: \"email <> ''\" }
      secret: text
      created_at: { type: timestamptz, not_null: true, default: now() }
    indexes:
      - { name: accounts_email_idx, columns: [email] }
  members:
    columns:
      id: { type: bigint, identity: always, primary_key: true }
      account_id: { type: bigint, references: accounts }
      role: { type: varchar(20), collation: C }
";

/// Statements a lean table (only the columns a statement names, no keys) serves: named
/// columns, `*`, a NATURAL join, a trigger with a WHEN on a column and `UPDATE OF`.
const LEAN_SQL: &str = "\
CREATE VIEW account_emails AS SELECT a.id, upper(a.email) AS email FROM accounts a WHERE a.secret IS NULL;
CREATE VIEW everything AS SELECT * FROM accounts;
CREATE VIEW roles AS SELECT id, m.role FROM accounts NATURAL JOIN members m;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER accounts_touch BEFORE UPDATE OF email ON accounts FOR EACH ROW
  WHEN (OLD.secret IS DISTINCT FROM NEW.secret) EXECUTE FUNCTION touch();
";

/// A statement a lean table cannot serve: the view groups by the primary key (functional
/// dependency), which a lean table lacks.
const WHOLE_SQL: &str = "\
CREATE VIEW account_names AS SELECT a.id, a.name, count(m.id) AS members
  FROM accounts a LEFT JOIN members m ON m.account_id = a.id GROUP BY a.id;
";

/// Builds `statements` over [`LEAN_YAML`] the way plan does, and the same objects whole on a
/// database of their own; what the statements declared must read back the same.
async fn build_like_a_database(statements: &str) -> reconcile::canon::sql::SqlBuilt {
    let files = vec![
        (PathBuf::from("schema/tables.yaml"), LEAN_YAML.to_owned()),
        (PathBuf::from("schema/objects.sql"), statements.to_owned()),
    ];
    let located = reconcile::load::from_sources_located(&files).expect("the files load");
    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    let built = canon::sql::build(&located.schema, &located.sql, &mut conn)
        .await
        .expect("build on the scratch database");
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);

    let direct = common::fresh_db();
    let yaml_as_sql = "\
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL DEFAULT '',
  email text CHECK (email <> ''), secret text, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX accounts_email_idx ON accounts (email);
CREATE TABLE members (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint REFERENCES accounts, role varchar(20) COLLATE \"C\");
";
    direct
        .psql(&format!("{yaml_as_sql}{statements}"))
        .expect("the objects build whole");
    let mut conn = direct.connect().await;
    let live = introspect::schema(&mut conn, &Scope::default())
        .await
        .expect("introspect")
        .schema;
    assert!(!built.schema.views.is_empty());
    assert_eq!(built.schema.views, live.views);
    assert_eq!(built.schema.triggers, live.triggers);
    assert_eq!(built.schema.functions, live.functions);
    built
}

/// The `.sql` statements are built over lean copies of the YAML tables they name (at 1,000
/// tables, building them whole took seconds) and read back as if built over the whole
/// tables; a statement that needs more of a table than its lean copy has gets everything
/// built whole, with the same result.
#[tokio::test]
async fn sql_statements_build_over_lean_tables_and_whole_ones_when_needed() {
    let lean = build_like_a_database(LEAN_SQL).await;
    assert!(!lean.whole, "the lean tables were not enough: {lean:#?}");
    let everything = lean
        .schema
        .views
        .iter()
        .find(|(name, _)| name.name.as_str() == "everything")
        .expect("the view `everything`");
    assert!(
        format!("{:?}", everything.1).contains("created_at"),
        "`*` lost columns: {everything:?}"
    );

    let whole = build_like_a_database(&format!("{LEAN_SQL}{WHOLE_SQL}")).await;
    assert!(
        whole.whole,
        "a view grouping by the key built over lean tables"
    );
    assert_eq!(whole.schema.views.len(), lean.schema.views.len() + 1);
}

// ---------------------------------------------------------------------------------------
// `.sql` statements the target has as written are taken from its catalog (canon::unchanged).

/// The tables, created on the target and declared in pulled YAML.
const UNCHANGED_TABLES: &str = "\
CREATE TABLE accounts (id bigint PRIMARY KEY, code varchar(20) NOT NULL, name text NOT NULL,
  updated_at timestamptz);
CREATE TABLE members (id bigint PRIMARY KEY, account_id bigint, code varchar(20), role text);
";

/// The objects as people write them — not as PostgreSQL prints them: schema-qualified names,
/// no `::text` on the varchar comparison, `CREATE` instead of `CREATE OR REPLACE`, options in
/// another order, a view over a view, a trigger naming its function with its schema.
const UNCHANGED_OBJECTS: &str = "\
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE FUNCTION add_one(x integer) RETURNS integer IMMUTABLE LANGUAGE sql AS 'SELECT x + 1';
CREATE VIEW public.account_members AS
  SELECT a.id, a.name, m.role
  FROM public.accounts a JOIN public.members m ON m.code = a.code
  WHERE m.role IS NOT NULL;
CREATE VIEW member_roles AS SELECT am.id, am.role FROM public.account_members am;
CREATE VIEW account_codes AS SELECT a.code AS c FROM accounts a;
CREATE TRIGGER accounts_touch BEFORE UPDATE ON public.accounts
  FOR EACH ROW EXECUTE FUNCTION public.touch();
";

/// The target (tables and objects built from the texts above), and the desired state: the
/// tables' pulled YAML beside `objects` as a `.sql` file.
async fn unchanged_pair(
    db: &common::TestDb,
    objects: &str,
    edit_yaml: impl Fn(String) -> String,
) -> (reconcile::model::Schema, reconcile::load::Located) {
    let live = build_target(db, &format!("{UNCHANGED_TABLES}{UNCHANGED_OBJECTS}")).await;
    let located = desired_files(&live, objects, edit_yaml);
    (live, located)
}

/// The target's model once `sql` has built it.
async fn build_target(db: &common::TestDb, sql: &str) -> reconcile::model::Schema {
    db.psql(sql).expect("the target builds");
    let mut conn = db.connect().await;
    introspect::schema(&mut conn, &Scope::default())
        .await
        .expect("introspect")
        .schema
}

/// The desired state: `live`'s tables pulled as YAML (edited), beside `objects` as a `.sql`
/// file.
fn desired_files(
    live: &reconcile::model::Schema,
    objects: &str,
    edit_yaml: impl Fn(String) -> String,
) -> reconcile::load::Located {
    let mut files: Vec<(PathBuf, String)> = reconcile::pull::render(live)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".yaml"))
        .map(|(name, text)| (PathBuf::from("schema").join(name), edit_yaml(text)))
        .collect();
    files.push((PathBuf::from("schema/objects.sql"), objects.to_owned()));
    reconcile::load::from_sources_located(&files).expect("the files load")
}

/// In sync, written by hand: nothing is built, and what is taken from the catalog is what
/// the scratch server gives for the same statements.
#[tokio::test]
async fn statements_the_target_has_as_written_need_no_scratch_server() {
    let db = common::fresh_db();
    let (live, desired) = unchanged_pair(&db, UNCHANGED_OBJECTS, |y| y).await;

    let mut none = Unreachable { asked: false };
    let taken = canon::sql::build_against(&desired.schema, &desired.sql, Some(&live), &mut none)
        .await
        .expect("nothing to build");
    assert!(!none.asked, "the scratch database was asked for");

    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    let built = canon::sql::build(&desired.schema, &desired.sql, &mut conn)
        .await
        .expect("the statements build on a scratch database");
    assert_eq!(built.schema.views.len(), 3);
    assert_eq!(taken.schema.views, built.schema.views);
    assert_eq!(taken.schema.functions, built.schema.functions);
    assert_eq!(taken.schema.triggers, built.schema.triggers);

    // The whole pipeline: in sync, without a scratch server.
    let mut target = db.connect().await;
    let drift = reconcile::pipeline::drift(
        desired.schema.clone(),
        &desired.sql,
        &mut target,
        None,
        &mut none,
        &reconcile::pipeline::Options {
            rename_hints: true,
            concurrently: true,
            ignore_schemas: Vec::new(),
            replace: true,
            ignore_objects: Vec::new(),
        },
    )
    .await
    .expect("plan without a scratch server");
    assert!(!none.asked, "the pipeline asked for the scratch database");
    assert!(
        drift.plan.steps.is_empty() && drift.plan.findings.is_empty(),
        "{:#?}",
        drift.plan
    );
}

/// Each of these may print differently from the target, or must be built for another
/// statement: the statements go to the scratch server (here unreachable, so asking for it is
/// an error) instead of being taken from the catalog.
#[tokio::test]
async fn statements_that_may_differ_are_built() {
    type Case = (&'static str, String, fn(String) -> String);
    let cases: [Case; 4] = [
        (
            "a view reads a column whose type the desired state changes",
            UNCHANGED_OBJECTS.to_owned(),
            |yaml| {
                let edited = yaml
                    .replace("varchar(20)", "varchar(40)")
                    .replace("character varying(20)", "character varying(40)");
                assert!(
                    edited != yaml || !yaml.contains("code"),
                    "no varchar column in {yaml}"
                );
                edited
            },
        ),
        (
            "a cast that changes a view's column type (varchar to text)",
            UNCHANGED_OBJECTS.replace(
                "SELECT a.code AS c FROM accounts a",
                "SELECT (a.code)::text AS c FROM accounts a",
            ),
            |yaml| yaml,
        ),
        (
            "a statement that alters a trigger the target has",
            format!(
                "{UNCHANGED_OBJECTS}ALTER TABLE public.accounts DISABLE TRIGGER accounts_touch;\n"
            ),
            |yaml| yaml,
        ),
        (
            "a function body that differs",
            UNCHANGED_OBJECTS.replace(
                "NEW.updated_at := now();",
                "NEW.updated_at := now() - interval '1 second';",
            ),
            |yaml| yaml,
        ),
    ];
    for (what, objects, edit) in cases {
        let db = common::fresh_db();
        let (live, desired) = unchanged_pair(&db, &objects, edit).await;
        let mut none = Unreachable { asked: false };
        let result =
            canon::sql::build_against(&desired.schema, &desired.sql, Some(&live), &mut none).await;
        assert!(
            none.asked && result.is_err(),
            "{what}: taken from the catalog without a build"
        );
    }
}

/// A table that differs from the target's only in what does not change how a statement
/// reading it prints (an index here): its views and triggers are still taken from the catalog.
#[tokio::test]
async fn a_table_changed_only_in_an_index_keeps_its_statements_from_the_catalog() {
    let db = common::fresh_db();
    let live = build_target(
        &db,
        &format!(
            "{UNCHANGED_TABLES}{UNCHANGED_OBJECTS}CREATE INDEX accounts_name_idx ON accounts (name);\n"
        ),
    )
    .await;
    // Pulled without its name: PostgreSQL's own choice for it.
    let index = "    indexes:\n      - { columns: [name] }\n";
    let desired = desired_files(&live, UNCHANGED_OBJECTS, |yaml| {
        if yaml.contains("accounts:") {
            assert!(yaml.contains(index), "the index is pulled as {yaml}");
        }
        yaml.replace(index, "")
    });
    let accounts = reconcile::model::QualifiedName::new(
        reconcile::model::Ident::new("public").unwrap(),
        reconcile::model::Ident::new("accounts").unwrap(),
    );
    assert_ne!(
        desired.schema.tables.get(&accounts),
        live.tables.get(&accounts),
        "the desired accounts table lacks the index"
    );
    let mut none = Unreachable { asked: false };
    let taken = canon::sql::build_against(&desired.schema, &desired.sql, Some(&live), &mut none)
        .await
        .expect("nothing to build");
    assert!(!none.asked, "the scratch database was asked for");
    assert_eq!(taken.schema.views, live.views);
    assert_eq!(taken.schema.triggers, live.triggers);
}

/// A changed view over an unchanged one: the unchanged one is built too (the changed one
/// cannot be built without it), and the result is the full build's.
#[tokio::test]
async fn what_a_built_statement_uses_is_built_with_it() {
    let db = common::fresh_db();
    let objects = UNCHANGED_OBJECTS.replace(
        "SELECT am.id, am.role FROM public.account_members am",
        "SELECT am.id, am.role, am.name FROM public.account_members am",
    );
    let (live, desired) = unchanged_pair(&db, &objects, |y| y).await;
    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    let shortcut = canon::sql::build_against(&desired.schema, &desired.sql, Some(&live), &mut conn)
        .await
        .expect("build what differs");
    assert!(shortcut.rejected.is_empty(), "{:?}", shortcut.rejected);
    let full = canon::sql::build(&desired.schema, &desired.sql, &mut conn)
        .await
        .expect("build everything");
    assert_eq!(shortcut.schema.views, full.schema.views);
    assert_eq!(shortcut.schema.functions, full.schema.functions);
    assert_eq!(shortcut.schema.triggers, full.schema.triggers);
    assert_ne!(
        shortcut.schema.views, live.views,
        "the changed view came from the catalog"
    );
}

/// Hundreds of statements (enough to be parsed and matched on every core at once): those the
/// target has as written still need no server, and one that differs among them still does.
#[tokio::test]
async fn hundreds_of_statements_are_matched_as_a_few_are() {
    let mut objects = String::new();
    for i in 0..200 {
        objects.push_str(&format!(
            "CREATE FUNCTION public.level_{i}(x integer) RETURNS integer IMMUTABLE \
             LANGUAGE sql AS 'SELECT x + {i}';\n\
             CREATE VIEW public.codes_{i} AS SELECT a.id, a.code FROM accounts a \
             WHERE a.id > {i};\n"
        ));
    }
    let db = common::fresh_db();
    let live = build_target(&db, &format!("{UNCHANGED_TABLES}{objects}")).await;
    let desired = |objects: &str| desired_files(&live, objects, |yaml| yaml);

    let same = desired(&objects);
    assert_eq!(same.sql.len(), 400);
    let mut none = Unreachable { asked: false };
    let taken = canon::sql::build_against(&same.schema, &same.sql, Some(&live), &mut none)
        .await
        .expect("nothing to build");
    assert!(!none.asked, "the scratch database was asked for");
    assert_eq!(taken.schema.views.len(), 200);
    assert_eq!(taken.schema.functions.len(), 200);

    let changed = desired(&objects.replace("SELECT x + 137'", "SELECT x + 1370'"));
    let mut none = Unreachable { asked: false };
    let result =
        canon::sql::build_against(&changed.schema, &changed.sql, Some(&live), &mut none).await;
    assert!(
        none.asked && result.is_err(),
        "a changed function among 400 statements was taken from the catalog"
    );
}
