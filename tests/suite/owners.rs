//! Owners of views, materialized views, functions, procedures and aggregates, and privileges
//! on materialized views, against a real PostgreSQL:
//!
//! * each of those owned by another role than the schema's `owner:` is a finding (D184) with
//!   the `ALTER ... OWNER TO` a human would run, `verify` says drift, and `apply` never runs it;
//! * the ones a plan creates get the schema's `owner:` (or their `owners:` exception) in a
//!   guarded step after their creation — also from a plan file — and the plan after is empty;
//! * (privileges on materialized views are granted, reported and pulled: `privileges`);
//! * `pull` writes all of it, and the plan against the database it was pulled from is empty,
//!   and rebuilding an empty database from it gives the same owners and privileges;
//! * a view or routine named under `owners:` that no `.sql` file declares is an error at its
//!   line, and an owner is set only on an object the plan creates.
//!
//! Roles are made only on the tests' own throwaway cluster (see `privileges`).

use crate::common;
use crate::privileges::{query, read, reconcile, roles_made, run_sql, write_yaml};

use std::path::{Path, PathBuf};

use common::{TestDb, assert_exit, text};
use serde_json::Value;

/// The objects of the `.sql` files: a view and a materialized view over a YAML table, a
/// function with an overload, a procedure and an aggregate.
const DECLARED: &str = "
CREATE VIEW public.v AS SELECT id FROM public.t;
CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM public.t;
CREATE FUNCTION public.f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x';
CREATE FUNCTION public.f(x integer, y text) RETURNS integer LANGUAGE sql AS 'SELECT x';
CREATE PROCEDURE public.p(x integer) LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE public.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
";

/// Each object of [`DECLARED`]: what plans call it, and how `ALTER ... OWNER TO` names it.
const OBJECTS: [(&str, &str); 6] = [
    ("view public.v", "VIEW public.v"),
    ("materialized view public.mv", "MATERIALIZED VIEW public.mv"),
    ("function public.f(integer)", "FUNCTION public.f(integer)"),
    (
        "function public.f(integer, text)",
        "FUNCTION public.f(integer, text)",
    ),
    ("procedure public.p(integer)", "PROCEDURE public.p(integer)"),
    (
        "aggregate public.total(integer)",
        "AGGREGATE public.total(integer)",
    ),
];

/// The owner of every object of [`DECLARED`] in `db`, one `name|owner` line each.
fn owners(db: &TestDb) -> String {
    query(
        db,
        "SELECT relname || '|' || pg_get_userbyid(relowner) FROM pg_class \
         WHERE relname IN ('v', 'mv') AND relnamespace = 'public'::regnamespace \
         UNION ALL \
         SELECT proname || '(' || oidvectortypes(proargtypes) || ')|' || pg_get_userbyid(proowner) \
         FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
    )
}

/// A desired state: `yaml` as public.yaml and [`DECLARED`] as declared.sql.
fn desired(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(dir.path(), yaml);
    std::fs::write(dir.path().join("declared.sql"), DECLARED).expect("write the SQL");
    dir
}

fn plan_json(db: &TestDb, dev: &TestDb, dir: &Path, exit: i32) -> Value {
    let output = reconcile(db, dev, dir, &["plan", "--format", "json"]);
    assert_exit(&output, exit);
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The D184 findings of a plan: object → suggestion.
fn owner_findings(plan: &Value) -> Vec<(String, String)> {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "D184")
        .map(|f| {
            (
                f["object"].as_str().expect("object").to_owned(),
                f["suggestion"].as_str().expect("suggestion").to_owned(),
            )
        })
        .collect()
}

const TABLE_OWNED: &str = "owner: priv_owner\ntables:\n  t:\n    columns:\n      id: integer\n";

/// Views, materialized views and routines owned by another role than the schema's `owner:`
/// are D184 with the exact `ALTER ... OWNER TO`; verify says drift; apply changes no owner.
/// (Before, their owners were not read: the plan was empty.)
#[test]
fn views_and_routines_of_another_owner_are_findings_never_changed() {
    if !roles_made("views_and_routines_of_another_owner_are_findings_never_changed") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(
        &db,
        &format!(
            "CREATE TABLE public.t (id integer); ALTER TABLE public.t OWNER TO priv_owner;\n\
             {DECLARED}\n{}",
            OBJECTS
                .iter()
                .map(|(_, sql)| format!("ALTER {sql} OWNER TO priv_service;\n"))
                .collect::<String>()
        ),
    );
    let before = owners(&db);
    let dir = desired(TABLE_OWNED);
    let plan = plan_json(&db, &dev, dir.path(), 3);
    assert_eq!(plan["steps"], Value::Array(Vec::new()), "{plan:#}");
    let mut expected: Vec<(String, String)> = OBJECTS
        .iter()
        .map(|(object, sql)| {
            (
                format!("owner of {object}"),
                format!("ALTER {sql} OWNER TO priv_owner"),
            )
        })
        .collect();
    expected.sort();
    let mut found = owner_findings(&plan);
    found.sort();
    assert_eq!(found, expected, "{plan:#}");
    assert_eq!(
        plan["findings"].as_array().expect("findings").len(),
        OBJECTS.len(),
        "{plan:#}"
    );

    assert_exit(
        &reconcile(&db, &dev, dir.path(), &["verify", "--no-assertions"]),
        3,
    );
    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    assert_eq!(owners(&db), before, "apply changed an owner");
    assert!(before.contains("v|priv_service"), "{before}");

    // Named as exceptions under `owners:`, the same owners are the desired ones.
    let exceptions = format!(
        "{TABLE_OWNED}owners:\n  views: {{ v: priv_service }}\n  materialized_views: {{ mv: \
         priv_service }}\n  functions:\n    \"f(integer)\": priv_service\n    \"f(integer, \
         text)\": priv_service\n  procedures: {{ \"p(integer)\": priv_service }}\n  \
         aggregates: {{ \"total(integer)\": priv_service }}\n"
    );
    let dir = desired(&exceptions);
    assert_exit(&reconcile(&db, &dev, dir.path(), &["plan"]), 0);
}

/// What a plan creates gets the schema's `owner:` (or its `owners:` exception) right after its
/// creation, in a block that checks the object is still the applying role's; the plan after
/// the apply is empty and a second apply runs nothing. A plan file with those steps applies
/// too. (Before, the created views and routines kept the applying role.)
#[test]
fn created_views_and_routines_get_the_schemas_owner() {
    if !roles_made("created_views_and_routines_get_the_schemas_owner") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let yaml = format!(
        "{TABLE_OWNED}owners:\n  functions: {{ \"f(integer, text)\": priv_service }}\n\
         grants:\n  views:\n    v: {{ priv_anon: [select] }}\n"
    );
    let dir = desired(&yaml);
    let plan = plan_json(&db, &dev, dir.path(), 2);
    let steps = plan["steps"].as_array().expect("steps");
    let position = |object: &str| {
        steps
            .iter()
            .position(|s| s["object"] == object)
            .unwrap_or_else(|| panic!("no step for {object}: {plan:#}"))
    };
    for ((object, sql), guard) in OBJECTS.iter().zip([
        "relkind = 'v'",
        "relkind = 'm'",
        "prokind = 'f'",
        "prokind = 'f'",
        "prokind = 'p'",
        "prokind = 'a'",
    ]) {
        let owner = position(&format!("owner of {object}"));
        assert!(
            position(object) < owner,
            "the owner of {object} is set before it is created: {plan:#}"
        );
        assert_eq!(steps[owner]["kind"], "set_owner");
        let step_sql = steps[owner]["sql"].as_str().expect("sql");
        let role = if *object == "function public.f(integer, text)" {
            "priv_service"
        } else {
            "priv_owner"
        };
        assert!(
            step_sql.contains(&format!("ALTER {sql} OWNER TO {role};"))
                && step_sql.contains(guard)
                && step_sql.contains("= current_user"),
            "{step_sql}"
        );
    }
    assert!(
        position("view public.v") < position("grant SELECT to priv_anon on view public.v"),
        "{plan:#}"
    );

    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    assert_eq!(
        owners(&db),
        "f(integer)|priv_owner\nf(integer, text)|priv_service\nmv|priv_owner\n\
         p(integer)|priv_owner\ntotal(integer)|priv_owner\nv|priv_owner"
    );
    assert_exit(&reconcile(&db, &dev, dir.path(), &["plan"]), 0);
    let again = reconcile(&db, &dev, dir.path(), &["apply"]);
    assert_exit(&again, 0);
    assert!(
        text(&again.stderr).contains("nothing to apply"),
        "{}",
        text(&again.stderr)
    );

    // Reviewed as a plan file, the owner steps pass the check that they follow a creation.
    let db = common::fresh_db();
    let file = dir.path().join("plan.json");
    let file = file.to_str().expect("utf-8");
    assert_exit(
        &reconcile(
            &db,
            &dev,
            dir.path(),
            &["plan", "--format", "json", "--out", file],
        ),
        2,
    );
    let applied = reconcile(&db, &dev, dir.path(), &["apply", file]);
    assert_exit(&applied, 0);
    assert!(owners(&db).contains("v|priv_owner"), "{}", owners(&db));
}

/// A view whose name a table has in the database is not created (its own finding says why),
/// so it gets no owner step either: a plan sets owners only of what it creates.
#[test]
fn an_object_the_plan_does_not_create_gets_no_owner_step() {
    if !roles_made("an_object_the_plan_does_not_create_gets_no_owner_step") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(
        &db,
        "CREATE TABLE public.t (id integer); CREATE TABLE public.v (id integer);",
    );
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(dir.path(), TABLE_OWNED);
    std::fs::write(
        dir.path().join("v.sql"),
        "CREATE VIEW public.v AS SELECT id FROM public.t;\n",
    )
    .expect("write the SQL");
    let plan = plan_json(&db, &dev, dir.path(), 3);
    let objects: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["object"].as_str().expect("object"))
        .collect();
    assert!(
        !objects.iter().any(|o| o.contains("public.v")),
        "a step for the view that is not created: {plan:#}"
    );
    assert!(
        plan["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["object"] == "view public.v"),
        "{plan:#}"
    );
    // The other way round: a table whose name a view has gets no owner step (before, a step
    // was planned that its guard then skipped, and a plan file with it was refused).
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(
        &db,
        "CREATE TABLE public.t (id integer); CREATE VIEW public.w AS SELECT 1 AS id;",
    );
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(
        dir.path(),
        &format!("{TABLE_OWNED}  w:\n    columns:\n      id: integer\n"),
    );
    let plan = plan_json(&db, &dev, dir.path(), 3);
    assert!(
        !plan["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .any(|s| s["object"] == "owner of table public.w"),
        "{plan:#}"
    );
}

/// Owners of every kind (most by one role, exceptions by another, a routine of another schema
/// with a quoted name and a type of its own) and privileges on views and materialized views:
/// pulled, they plan clean against the database they came from, and an empty database built
/// from them has the same owners and privileges.
#[tokio::test]
async fn pulled_owners_and_materialized_view_grants_plan_clean_and_rebuild_the_same() {
    if !roles_made("pulled_owners_and_materialized_view_grants_plan_clean_and_rebuild_the_same") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(
        &db,
        &format!(
            "CREATE TABLE public.t (id integer);\n{DECLARED}\n\
             CREATE AGGREGATE public.tally(*) (SFUNC = int8inc, STYPE = bigint, INITCOND = '0');\n\
             CREATE SCHEMA \"Odd\" AUTHORIZATION priv_owner;\n\
             CREATE TYPE \"Odd\".mood AS ENUM ('a');\n\
             CREATE FUNCTION \"Odd\".\"Fn\"(m \"Odd\".mood, x varchar(10)) RETURNS integer \
               LANGUAGE sql AS 'SELECT 1';\n\
             ALTER TYPE \"Odd\".mood OWNER TO priv_owner;\n\
             ALTER FUNCTION \"Odd\".\"Fn\"(\"Odd\".mood, varchar) OWNER TO priv_service;\n\
             ALTER TABLE public.t OWNER TO priv_owner;\n\
             ALTER VIEW public.v OWNER TO priv_service;\n\
             ALTER MATERIALIZED VIEW public.mv OWNER TO priv_owner;\n\
             ALTER FUNCTION public.f(integer) OWNER TO priv_owner;\n\
             ALTER FUNCTION public.f(integer, text) OWNER TO priv_service;\n\
             ALTER PROCEDURE public.p(integer) OWNER TO priv_owner;\n\
             ALTER AGGREGATE public.total(integer) OWNER TO priv_owner;\n\
             ALTER AGGREGATE public.tally(*) OWNER TO priv_service;\n\
             GRANT SELECT ON public.mv TO priv_anon;\n\
             GRANT SELECT ON public.v TO priv_anon;\n"
        ),
    );
    let live = read(&db).await;
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(&live)
        .into_iter()
        .map(|(name, text)| (PathBuf::from(name), text))
        .collect();
    let yaml = |schema: &str| {
        files
            .iter()
            .find(|(name, _)| name.to_str() == Some(&format!("{schema}.yaml")))
            .unwrap_or_else(|| panic!("no {schema}.yaml: {files:?}"))
            .1
            .clone()
    };
    let public = yaml("public");
    for expected in [
        "owner: priv_owner",
        "  aggregates:\n    tally(): priv_service",
        "  functions:\n    \"f(integer, text)\": priv_service",
        "  views:\n    v: priv_service",
        "  materialized_views:\n    mv: { priv_anon: [select] }",
    ] {
        assert!(public.contains(expected), "no {expected:?} in\n{public}");
    }
    let odd = yaml("Odd");
    assert!(
        odd.contains(
            "  functions:\n    \"\\\"Fn\\\"(\\\"Odd\\\".mood, character varying)\": priv_service"
        ),
        "{odd}"
    );
    let pulled = tempfile::tempdir().expect("a folder");
    for (name, text) in &files {
        std::fs::write(pulled.path().join(name), text).expect("write the pulled file");
    }
    assert_exit(&reconcile(&db, &dev, pulled.path(), &["plan"]), 0);

    let rebuilt = common::fresh_db();
    assert_exit(&reconcile(&rebuilt, &dev, pulled.path(), &["apply"]), 0);
    let mut again = read(&rebuilt).await;
    // Less reconcile's own history, which the apply made.
    let history = reconcile::model::Ident::new("reconcile").expect("a name");
    again.owners.retain(|on, _| on.schema() != Some(&history));
    assert_eq!(again.owners, live.owners);
    assert_eq!(again.grants, live.grants);
    assert_exit(&reconcile(&rebuilt, &dev, pulled.path(), &["plan"]), 0);
}

/// A view or routine named under `owners:` that no `.sql` file declares is an error at the
/// line naming it (at plan time: the `.sql` files are read after the YAML); one listed under
/// the wrong kind says where it belongs; a routine without its argument types is a load
/// error.
#[test]
fn owners_of_undeclared_views_and_routines_are_errors_at_their_line() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    let path = write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\nowners:\n  views:\n    nowhere: \
         postgres\n  procedures:\n    \"f(integer)\": postgres\n",
    );
    std::fs::write(dir.path().join("declared.sql"), DECLARED).expect("write the SQL");
    let output = reconcile(&db, &dev, dir.path(), &["plan"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    for (message, line) in [
        ("owners: no view public.nowhere in the desired state", 7),
        (
            "owners: no procedure public.f(integer) in the desired state",
            9,
        ),
    ] {
        assert!(
            stderr.contains(message) && stderr.contains(&format!("{}:{line}:", path.display())),
            "{message} at line {line}: {stderr}"
        );
    }
    assert!(
        stderr.contains("declare it as a function: list it under `functions:`"),
        "{stderr}"
    );

    write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\nowners:\n  functions:\n    f: \
         postgres\n",
    );
    let output = reconcile(&db, &dev, dir.path(), &["plan"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("`f` has no argument list") && stderr.contains(":7:"),
        "{stderr}"
    );
}

/// `ALTER ... OWNER TO` and `GRANT` in a desired-state `.sql` file are refused at their line
/// (before, they were built on the scratch server and silently ignored).
#[test]
fn owners_and_grants_in_sql_files_are_refused_at_their_line() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\n",
    );
    let path = dir.path().join("declared.sql");
    std::fs::write(
        &path,
        "CREATE VIEW public.v AS SELECT id FROM public.t;\nALTER VIEW public.v OWNER TO \
         postgres;\nGRANT SELECT ON public.v TO PUBLIC;\n",
    )
    .expect("write the SQL");
    let output = reconcile(&db, &dev, dir.path(), &["plan"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    for (words, line) in [
        ("ALTER VIEW public.v OWNER", 2),
        ("GRANT SELECT ON public.v", 3),
    ] {
        assert!(
            stderr.contains(&format!("`{words} …` is not a declaration"))
                && stderr.contains(&format!("{}:{line}:", path.display())),
            "{words}: {stderr}"
        );
    }
    assert!(stderr.contains("owners are YAML"), "{stderr}");
}

/// The default privileges of the role applying a plan are reported before the apply for the
/// views, materialized views and routines it creates (as for tables), as they are after it —
/// except for the role the plan makes the object's owner, whose privileges are its own.
/// (Before, only tables, sequences and types were predicted.)
#[test]
fn default_privileges_of_created_views_and_routines_are_reported_before_the_apply() {
    if !roles_made("default_privileges_of_created_views_and_routines_are_reported_before_the_apply")
    {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(
        &db,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO priv_anon;\n\
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO priv_anon;",
    );
    let dir = desired(&format!(
        "{TABLE_OWNED}owners:\n  materialized_views: {{ mv: priv_anon }}\n"
    ));
    let extra_grants = |plan: &Value| -> Vec<String> {
        plan["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["code"] == "D180")
            .map(|f| f["object"].as_str().expect("object").to_owned())
            .collect()
    };
    let before = extra_grants(&plan_json(&db, &dev, dir.path(), 3));
    assert_eq!(
        before,
        [
            "grant EXECUTE to priv_anon on function public.f(integer)",
            "grant EXECUTE to priv_anon on function public.f(integer, text)",
            "grant EXECUTE to priv_anon on procedure public.p(integer)",
            "grant SELECT to priv_anon on table public.t",
            "grant SELECT to priv_anon on view public.v",
        ]
    );
    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    assert_eq!(extra_grants(&plan_json(&db, &dev, dir.path(), 3)), before);
}
