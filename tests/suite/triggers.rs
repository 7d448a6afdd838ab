//! Triggers (issue 14) against real PostgreSQL, through the binary as a user runs it.
//!
//! Every shape a trigger can have — timing (BEFORE, AFTER, INSTEAD OF on a view), events
//! (INSERT, UPDATE OF columns, DELETE, TRUNCATE), `WHEN`, row or statement level, transition
//! tables, constraint triggers with their deferrability, disabled / replica / always — is
//! pulled from one database and applied to an empty one, and comes back with the same
//! `pg_get_triggerdef` and enabled state; a trigger running a function of the database's own
//! is skipped with its reason (functions are not managed yet). A changed trigger is replaced
//! in place (H013) and `rollback --run` prints the old definition back; a changed constraint
//! trigger is a finding (D167) whose suggestion runs as written; an extra trigger is D166; a
//! trigger whose function the desired state lacks is an error at its line.
//!
//! [`Fixture`] is shared with the materialized view tests.

use crate::common;

use std::process::Output;

use assert_cmd::Command;
use common::{TestDb, assert_exit, text};
use serde_json::Value;

/// A database to plan against, an empty `--dev-url` database and a schema folder.
pub(crate) struct Fixture {
    pub db: TestDb,
    pub dev: TestDb,
    pub schema: tempfile::TempDir,
}

impl Fixture {
    /// A database set up with `live` (SQL) and an empty schema folder.
    pub fn new(live: &str) -> Self {
        let db = common::fresh_db();
        db.psql(live).unwrap_or_else(|e| panic!("setup: {e}"));
        Fixture {
            db,
            dev: common::fresh_db(),
            schema: tempfile::tempdir().expect("schema folder"),
        }
    }

    /// Writes a file of the desired state.
    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.schema.path().join(file), text).expect("write the desired state");
    }

    /// `reconcile ARGS` against the database, with the dev database and the schema folder.
    pub fn run(&self, args: &[&str]) -> Output {
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
            .output()
            .expect("run reconcile")
    }

    /// `plan --format json`, with the exit code it must have.
    pub fn plan_json(&self, exit: i32, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "--format", "json"];
        args.extend_from_slice(extra);
        let output = self.run(&args);
        assert_exit(&output, exit);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&output.stdout)))
    }

    pub fn query(&self, sql: &str) -> String {
        query(&self.db, sql)
    }
}

pub(crate) fn query(db: &TestDb, sql: &str) -> String {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// Every trigger that is not the server's own: table, name, enabled state, definition.
const TRIGGERS: &str = "SELECT tgrelid::regclass || ' ' || quote_ident(tgname) || ' ' || tgenabled::text \
     || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1";

/// The findings of a JSON plan as `(code, object)`.
fn findings(plan: &Value) -> Vec<(String, String)> {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_owned(),
                f["object"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The suggestion of the finding with `code`.
fn suggestion(plan: &Value, code: &str) -> String {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == code)
        .and_then(|f| f["suggestion"].as_str())
        .unwrap_or_else(|| panic!("no {code} with a suggestion in {plan:#}"))
        .to_owned()
}

const SHAPES: &str = r#"
CREATE EXTENSION moddatetime;
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Lines" (
    id bigint PRIMARY KEY, qty integer, note text, updated_at timestamptz, search tsvector
);
CREATE TABLE public.audit (id bigint, at timestamptz);
CREATE VIEW public.lines AS SELECT id, qty FROM "Sales"."Order Lines";
CREATE TRIGGER "Touch" BEFORE UPDATE ON "Sales"."Order Lines"
    FOR EACH ROW EXECUTE FUNCTION moddatetime(updated_at);
CREATE TRIGGER fts BEFORE UPDATE OF note, qty ON "Sales"."Order Lines"
    FOR EACH ROW WHEN (NEW.note IS DISTINCT FROM OLD.note)
    EXECUTE FUNCTION tsvector_update_trigger(search, 'pg_catalog.english', note);
CREATE TRIGGER fts_insert BEFORE INSERT ON "Sales"."Order Lines"
    FOR EACH ROW WHEN (NEW.note IS NOT NULL)
    EXECUTE FUNCTION tsvector_update_trigger(search, 'pg_catalog.english', note);
CREATE TRIGGER gone AFTER DELETE ON "Sales"."Order Lines" REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE TRIGGER trunc AFTER TRUNCATE ON public.audit
    FOR EACH STATEMENT EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE CONSTRAINT TRIGGER "check it" AFTER INSERT OR UPDATE ON public.audit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE TRIGGER lines_insert INSTEAD OF INSERT ON public.lines
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE TRIGGER off BEFORE INSERT ON public.audit
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
ALTER TABLE public.audit DISABLE TRIGGER off;
CREATE TRIGGER replica AFTER INSERT ON public.audit
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
ALTER TABLE public.audit ENABLE REPLICA TRIGGER replica;
CREATE TRIGGER always AFTER UPDATE ON public.audit
    FOR EACH ROW EXECUTE FUNCTION moddatetime(at);
ALTER TABLE public.audit ENABLE ALWAYS TRIGGER always;
CREATE FUNCTION own() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER own_function AFTER INSERT ON public.audit FOR EACH ROW EXECUTE FUNCTION own();
"#;

/// The done-when of issue 14 for triggers, on a schema of every shape: pulled, applied to an
/// empty database, every trigger comes back with the same definition and state.
#[test]
fn every_trigger_shape_comes_back_from_its_pulled_form() {
    let source = Fixture::new(SHAPES);
    let out = tempfile::tempdir().expect("out folder");
    let out_dir = out.path().to_str().expect("UTF-8 path");
    let pull = source.run(&["pull", "--out", out_dir, "-v"]);
    assert_exit(&pull, 0);
    let stderr = text(&pull.stderr);
    // Its function is declared too (functions are a kind): managed, not skipped.
    assert!(!stderr.contains("own_function"), "{stderr}");
    let pulled = std::fs::read_to_string(out.path().join("public.sql")).expect("public.sql");
    assert!(
        pulled.contains("ALTER TABLE public.audit DISABLE TRIGGER off;"),
        "{pulled}"
    );
    assert!(pulled.contains("CREATE TRIGGER own_function"), "{pulled}");

    // An empty database, planned and applied towards what was pulled.
    let target = Fixture::new("");
    for entry in std::fs::read_dir(out.path())
        .expect("pulled files")
        .flatten()
    {
        std::fs::copy(entry.path(), target.schema.path().join(entry.file_name())).expect("copy");
    }
    let plan = target.plan_json(2, &[]);
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "create_trigger").count(),
        11,
        "{plan:#}"
    );
    assert_exit(&target.run(&["apply"]), 0);

    let expected: Vec<String> = source.query(TRIGGERS).lines().map(str::to_owned).collect();
    assert_eq!(expected.len(), 11, "{expected:#?}");
    let got: Vec<String> = target.query(TRIGGERS).lines().map(str::to_owned).collect();
    assert_eq!(got, expected);

    // Nothing left to do, and nothing reported.
    let output = target.run(&["plan"]);
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains("In sync"),
        "{}",
        text(&output.stdout)
    );
}

const LIVE: &str = r#"
CREATE EXTENSION moddatetime;
CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric, note text, updated_at timestamptz);
INSERT INTO orders SELECT g, g, 'n' || g FROM generate_series(1, 100) g;
CREATE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION moddatetime(updated_at);
CREATE TRIGGER guard BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
ALTER TABLE orders DISABLE TRIGGER guard;
CREATE CONSTRAINT TRIGGER late AFTER INSERT ON orders DEFERRABLE
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
"#;

const TABLE: &str = "extensions: [moddatetime]
tables:
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      amount: numeric
      note: text
      updated_at: timestamp with time zone
";

/// The live triggers as they are.
const SAME: &str = "
CREATE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION moddatetime(updated_at);
CREATE TRIGGER guard BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
ALTER TABLE orders DISABLE TRIGGER guard;
CREATE CONSTRAINT TRIGGER late AFTER INSERT ON orders DEFERRABLE
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
";

#[test]
fn live_triggers_declared_as_they_are_are_in_sync() {
    let f = Fixture::new(LIVE);
    f.write("public.yaml", TABLE);
    f.write("triggers.sql", SAME);
    let output = f.run(&["plan"]);
    assert_exit(&output, 0);
}

/// A plain trigger's definition and a trigger's enabled state change in place; the previous
/// ones are kept, and `rollback --run` prints them back (running its guide restores the
/// catalog); `--no-replace` reports both instead.
#[test]
fn a_changed_trigger_is_replaced_in_place_and_rollback_prints_the_old_one() {
    let f = Fixture::new(LIVE);
    let before = f.query(TRIGGERS);
    f.write("public.yaml", TABLE);
    f.write(
        "triggers.sql",
        &SAME
            .replace(
                "touch BEFORE UPDATE ON",
                "touch BEFORE UPDATE OF amount, note ON",
            )
            .replace("ALTER TABLE orders DISABLE TRIGGER guard;", ""),
    );

    let held = f.plan_json(3, &["--no-replace"]);
    assert_eq!(
        findings(&held),
        [
            (
                "D167".to_owned(),
                "trigger guard on public.orders".to_owned()
            ),
            (
                "D167".to_owned(),
                "trigger touch on public.orders".to_owned()
            ),
        ],
        "{held:#}"
    );
    assert_eq!(held["steps"], serde_json::json!([]));

    let plan = f.plan_json(2, &[]);
    let steps = plan["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{plan:#}");
    for step in steps {
        assert_eq!(step["kind"], "replace");
        assert_eq!(step["hazards"][0]["code"], "H013");
        assert_eq!(step["locks"][0]["level"], "SHARE ROW EXCLUSIVE", "{step:#}");
    }
    assert_eq!(
        steps[0]["sql"],
        "ALTER TABLE public.orders ENABLE TRIGGER guard"
    );
    assert_eq!(
        steps[0]["previous"],
        "ALTER TABLE public.orders DISABLE TRIGGER guard"
    );
    assert_eq!(
        steps[1]["sql"],
        "CREATE OR REPLACE TRIGGER touch BEFORE UPDATE OF amount, note ON orders FOR EACH ROW \
         EXECUTE FUNCTION moddatetime('updated_at')"
    );

    assert_exit(&f.run(&["apply"]), 0);
    let after = f.query(TRIGGERS);
    assert!(
        after.contains("orders guard O CREATE TRIGGER guard"),
        "{after}"
    );
    assert!(
        after.contains("BEFORE UPDATE OF amount, note ON public.orders"),
        "{after}"
    );
    assert_exit(&f.run(&["plan"]), 0);

    let run_id = f.query("SELECT max(id) FROM reconcile.runs");
    let output = f.run(&["rollback", "--run", &run_id]);
    assert_exit(&output, 0);
    let guide = text(&output.stdout);
    assert!(
        guide.contains(
            "CREATE OR REPLACE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE \
             FUNCTION moddatetime('updated_at');"
        ),
        "{guide}"
    );
    assert!(
        guide.contains("ALTER TABLE public.orders DISABLE TRIGGER guard;"),
        "{guide}"
    );
    f.db.psql(&guide)
        .unwrap_or_else(|e| panic!("the guide failed: {e}\n{guide}"));
    assert_eq!(f.query(TRIGGERS), before);
}

/// A disabled trigger whose definition changes stays disabled (CREATE OR REPLACE TRIGGER
/// enables it; the step disables it again in the same block), and both come back on rollback.
#[test]
fn replacing_a_disabled_trigger_keeps_it_disabled() {
    let f = Fixture::new(LIVE);
    let before = f.query(TRIGGERS);
    f.write("public.yaml", TABLE);
    f.write(
        "triggers.sql",
        &SAME.replace(
            "guard BEFORE UPDATE ON orders",
            "guard BEFORE UPDATE OF note ON orders",
        ),
    );
    let plan = f.plan_json(2, &[]);
    let sql = plan["steps"][0]["sql"].as_str().expect("a step");
    assert!(sql.starts_with("DO $reconcile$"), "{sql}");
    assert!(sql.contains("DISABLE TRIGGER guard"), "{sql}");
    assert_exit(&f.run(&["apply"]), 0);
    let after = f.query(TRIGGERS);
    assert!(
        after.contains("orders guard D CREATE TRIGGER guard BEFORE UPDATE OF note"),
        "{after}"
    );
    assert_exit(&f.run(&["plan"]), 0);
    let run_id = f.query("SELECT max(id) FROM reconcile.runs");
    let guide = text(&f.run(&["rollback", "--run", &run_id]).stdout);
    f.db.psql(&guide)
        .unwrap_or_else(|e| panic!("the guide failed: {e}\n{guide}"));
    assert_eq!(f.query(TRIGGERS), before);
}

/// PostgreSQL cannot replace a constraint trigger: a changed one is D167, nothing runs, and
/// the suggestion — run as written — brings the database to the desired state.
#[test]
fn a_changed_constraint_trigger_is_a_finding_whose_suggestion_runs_as_written() {
    let f = Fixture::new(LIVE);
    f.write("public.yaml", TABLE);
    f.write(
        "triggers.sql",
        &SAME.replace(
            "late AFTER INSERT ON orders DEFERRABLE",
            "late AFTER INSERT OR UPDATE ON orders DEFERRABLE INITIALLY DEFERRED",
        ),
    );
    let plan = f.plan_json(3, &[]);
    assert_eq!(
        findings(&plan),
        [(
            "D167".to_owned(),
            "trigger late on public.orders".to_owned()
        )]
    );
    assert_eq!(plan["steps"], serde_json::json!([]));
    let fix = suggestion(&plan, "D167");
    assert!(fix.contains("DROP TRIGGER late ON public.orders;"), "{fix}");
    f.db.psql(&fix)
        .unwrap_or_else(|e| panic!("the suggestion failed: {e}\n{fix}"));
    assert_exit(&f.run(&["plan"]), 0);
}

/// A trigger the desired state does not have is D166 with the DROP; a missing one is created
/// (after the column its `UPDATE OF` names, which the same plan adds).
#[test]
fn an_extra_trigger_is_reported_and_a_missing_one_created_after_its_column() {
    let f = Fixture::new(LIVE);
    f.write("public.yaml", &format!("{TABLE}      status: text\n"));
    f.write(
        "triggers.sql",
        &format!(
            "{}\nCREATE TRIGGER status_touch BEFORE UPDATE OF status ON orders FOR EACH ROW \
             EXECUTE FUNCTION moddatetime(updated_at);\n",
            SAME.replace(
                "CREATE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION moddatetime(updated_at);",
                ""
            )
        ),
    );
    let plan = f.plan_json(3, &[]);
    assert_eq!(
        findings(&plan),
        [(
            "D166".to_owned(),
            "trigger touch on public.orders".to_owned()
        )]
    );
    assert_eq!(
        suggestion(&plan, "D166"),
        "DROP TRIGGER touch ON public.orders"
    );
    let objects: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["object"].as_str())
        .collect();
    assert_eq!(
        objects,
        [
            "column public.orders.status",
            "trigger status_touch on public.orders"
        ]
    );
    let output = f.run(&["apply", "--fail-on", "none"]);
    assert_exit(&output, 0);
    assert!(
        f.query(TRIGGERS)
            .contains("status_touch O CREATE TRIGGER status_touch"),
        "{}",
        f.query(TRIGGERS)
    );
}

/// The trigger's function must be there when the trigger is built: a function the desired
/// state does not declare is an error at the trigger's line; one it declares but reconcile
/// does not manage yet makes the trigger unmanageable — an error naming why, never a trigger
/// left out in silence.
#[test]
fn a_trigger_whose_function_is_not_managed_is_an_error_at_its_line() {
    let f = Fixture::new(LIVE);
    f.write("public.yaml", TABLE);
    f.write(
        "triggers.sql",
        &format!(
            "{SAME}\nCREATE TRIGGER audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_it();\n"
        ),
    );
    let output = f.run(&["plan"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("function audit_it() does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("triggers.sql:9:1"), "{stderr}");

    // Declared beside it, the function is managed, and so is the trigger: created after it.
    f.write(
        "functions.sql",
        "CREATE FUNCTION audit_it() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n",
    );
    let plan = f.plan_json(2, &[]);
    let steps: Vec<(String, String)> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().expect("kind").to_owned(),
                s["object"].as_str().expect("object").to_owned(),
            )
        })
        .collect();
    let position = |object: &str| {
        steps
            .iter()
            .position(|(_, o)| o == object)
            .unwrap_or_else(|| panic!("no step for {object}: {steps:?}"))
    };
    assert!(
        position("function public.audit_it()") < position("trigger audit on public.orders"),
        "{steps:?}"
    );
}
