//! Privileges, default privileges and owners against a real PostgreSQL:
//!
//! * a database with grants on every kind of object, revoked PUBLIC defaults, default
//!   privileges and owners pulls to YAML that loads back to the same model (no false drift),
//!   and rebuilding an empty database from that YAML gives back every grant and owner;
//! * a missing privilege is granted, an extra one (or an extra grant option, a revoked
//!   default, an extra default privilege, another owner) is a finding with the SQL a human
//!   would run — and applying never revokes it;
//! * a grant to a role the server lacks is an error at plan time naming the role and its
//!   file:line; wrong privileges are load errors with their line;
//! * privileges on views and materialized views (declared in `.sql` files) are granted after
//!   the view, reported when extra, pulled and loaded back; a grant on a view the desired
//!   state lacks is an error at its file:line;
//! * `owner:` is applied only to objects the plan creates, and a plan file whose owner step was
//!   pointed at an existing object is refused.
//!
//! Roles are cluster-wide: they are made (idempotently) only on the tests' own throwaway
//! cluster, never on a `DATABASE_URL` server, where these tests say they skipped.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{TestDb, assert_exit, text};
use reconcile::introspect::{self, Scope};
use reconcile::model::Schema;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");

/// The roles these tests grant to.
const ROLES: &[&str] = &[
    "priv_anon",
    "priv_authenticated",
    "priv_service",
    "priv_owner",
];

/// Makes the roles on our own cluster; `false` (with a note) on a `DATABASE_URL` server.
pub(super) fn roles_made(test: &str) -> bool {
    if common::cluster().is_none() {
        eprintln!(
            "{test}: skipped: it creates roles, which are never made on a DATABASE_URL server"
        );
        return false;
    }
    let sql: String = ROLES
        .iter()
        .map(|role| {
            format!(
                "DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object OR \
                 unique_violation THEN NULL; END $$;\n"
            )
        })
        .collect();
    common::fresh_db()
        .psql(&sql)
        .unwrap_or_else(|e| panic!("creating the test roles: {e}"));
    true
}

pub(super) fn run_sql(db: &TestDb, sql: &str) {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{e}\n--- SQL:\n{sql}"));
}

/// `reconcile <args> --database-url DB --dev-url DEV --schema-dir DIR`.
pub(super) fn reconcile(db: &TestDb, dev: &TestDb, dir: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(BIN);
    command
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
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env_remove("RECONCILE_DEV_URL")
        .stdin(Stdio::null());
    assert_cmd::Command::from_std(command)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("run reconcile")
}

pub(super) fn write_yaml(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("public.yaml");
    std::fs::write(&path, yaml).expect("write the YAML");
    path
}

pub(super) async fn read(db: &TestDb) -> Schema {
    let mut conn = db.connect().await;
    introspect::schema(&mut conn, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("introspecting {}: {e}", db.name))
        .schema
}

pub(super) fn query(db: &TestDb, sql: &str) -> String {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// Every kind of privilege, a revoked PUBLIC default on a type and a function, default
/// privileges for two roles, objects with another owner, and a partitioned table (whose
/// privileges were once left out of the catalog read: a plan granted them again and again).
const EVERYTHING: &str = "
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE SEQUENCE counter;
CREATE TABLE profiles (id bigserial PRIMARY KEY, email text, mood mood, points positive);
CREATE FUNCTION add_points(n integer, label varchar(10)) RETURNS integer LANGUAGE sql AS 'SELECT n';
GRANT USAGE ON SCHEMA public TO priv_anon, priv_authenticated;
GRANT CREATE ON SCHEMA public TO PUBLIC;
GRANT SELECT ON profiles TO priv_anon;
GRANT SELECT, INSERT, UPDATE ON profiles TO priv_authenticated;
GRANT ALL ON profiles TO priv_service WITH GRANT OPTION;
GRANT UPDATE (email) ON profiles TO priv_anon;
GRANT USAGE, SELECT ON SEQUENCE profiles_id_seq TO priv_authenticated;
GRANT USAGE ON SEQUENCE counter TO priv_anon;
REVOKE USAGE ON TYPE mood FROM PUBLIC;
GRANT USAGE ON TYPE mood TO priv_authenticated;
GRANT USAGE ON DOMAIN positive TO priv_anon;
REVOKE EXECUTE ON FUNCTION add_points(integer, varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION add_points(integer, varchar) TO priv_authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO priv_anon;
ALTER DEFAULT PRIVILEGES FOR ROLE priv_owner IN SCHEMA public
  GRANT USAGE ON SEQUENCES TO priv_authenticated WITH GRANT OPTION;
CREATE SCHEMA app AUTHORIZATION priv_owner;
CREATE TABLE app.items (id integer PRIMARY KEY);
ALTER TABLE app.items OWNER TO priv_owner;
CREATE TABLE app.legacy (id integer);
GRANT SELECT ON app.items TO PUBLIC;
GRANT USAGE ON SCHEMA app TO priv_service;
CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
GRANT SELECT ON events TO priv_anon;
GRANT INSERT ON events_2026 TO priv_service;
";

/// Pull → load gives back the same model, grants, default privileges and owners included;
/// and an empty database planned and applied from the pulled YAML ends up with the same
/// privileges, default privileges and owners — but for PUBLIC's default privileges that the
/// original revoked, which reconcile reports (it never revokes) and nothing else.
#[tokio::test]
async fn pulled_privileges_load_back_and_rebuild_the_same() {
    if !roles_made("pulled_privileges_load_back_and_rebuild_the_same") {
        return;
    }
    let a = common::fresh_db();
    run_sql(&a, EVERYTHING);
    let mut conn = a.connect().await;
    let trip = common::drift::round_trip(&mut conn, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(diff) = trip.difference() {
        panic!("false drift:\n{diff}");
    }
    let live = &trip.live.schema;
    assert!(live.grants.len() >= 20, "{:#?}", live.grants);
    assert_eq!(
        live.default_privileges.len(),
        2,
        "{:#?}",
        live.default_privileges
    );
    let yaml: String = trip.files.iter().map(|(_, t)| t.as_str()).collect();
    for expected in [
        "profiles: { priv_anon: [select], priv_authenticated: [select, insert, update], \
         priv_service: all with grant option }",
        "email: { priv_anon: [update] }",
        // PUBLIC's list is whole: the default USAGE is in it (left out, it would revoke it).
        "schema: { public: all, priv_anon: [usage], priv_authenticated: [usage] }",
        "mood: { public: [], priv_authenticated: [usage] }",
        "\"add_points(integer, character varying)\": { public: [], priv_authenticated: [execute] }",
        "priv_owner:\n    sequences: { priv_authenticated: [usage with grant option] }",
        "owners:\n  schema: pg_database_owner",
        "owner: postgres\n\nowners:\n  schema: priv_owner\n  tables:\n    items: priv_owner",
        "items: { public: [select] }",
        // A partitioned table's privileges, and its partition's own (SELECT by the default
        // privileges above).
        "events: { priv_anon: [select] }",
        "events_2026: { priv_anon: [select], priv_service: [insert] }",
    ] {
        assert!(yaml.contains(expected), "no {expected:?} in\n{yaml}");
    }

    // Rebuild: an empty database (with the function, which reconcile does not create).
    let b = common::fresh_db();
    let dev = common::fresh_db();
    run_sql(
        &b,
        "CREATE FUNCTION add_points(n integer, label varchar(10)) RETURNS integer \
         LANGUAGE sql AS 'SELECT n';",
    );
    let dir = tempfile::tempdir().expect("a folder");
    for (name, content) in &trip.files {
        let file = name.file_name().expect("a file name");
        std::fs::write(dir.path().join(file), content).expect("write the pulled YAML");
    }
    let applied = reconcile(&b, &dev, dir.path(), &["apply"]);
    assert_exit(&applied, 0);
    // PUBLIC's default privilege on the type and function reconcile created (the function
    // by hand, here) is not revoked — reconcile never revokes — but reported.
    let again = reconcile(&b, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&again, 3);
    let again: Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(again["steps"], Value::Array(vec![]), "{again:#}");
    let reported: Vec<(&str, &str)> = again["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reported,
        [
            (
                "D180",
                "grant EXECUTE to PUBLIC on function public.add_points(integer, character varying)"
            ),
            ("D180", "grant USAGE to PUBLIC on type public.mood"),
        ]
    );
    // reconcile's own history schema aside.
    let mut conn = b.connect().await;
    let scope = Scope::named(["public".to_owned(), "app".to_owned()], &[]);
    let rebuilt = introspect::schema(&mut conn, &scope)
        .await
        .expect("introspect")
        .schema;
    let mut expected = live.grants.clone();
    expected.retain(|_, grant| *grant != reconcile::model::Grant::Revoked);
    assert_eq!(rebuilt.grants, expected);
    assert_eq!(rebuilt.default_privileges, live.default_privileges);
    assert_eq!(rebuilt.owners, live.owners);
}

const DRIFT_SETUP: &str = "
CREATE TABLE t (id integer PRIMARY KEY, email text);
GRANT SELECT, INSERT, DELETE ON t TO priv_authenticated;
GRANT SELECT ON t TO priv_service WITH GRANT OPTION;
CREATE FUNCTION f() RETURNS integer LANGUAGE sql AS 'SELECT 1';
REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT DELETE ON TABLES TO priv_anon;
";

const DRIFT_DESIRED: &str = "
tables:
  t:
    columns:
      id: { type: integer, primary_key: true }
      email: text
grants:
  schema: { priv_anon: [usage] }
  tables:
    t: { priv_anon: [select], priv_authenticated: [select, insert], priv_service: [select, update with grant option] }
  columns:
    t:
      email: { priv_anon: [update] }
default_privileges:
  priv_owner:
    tables: { priv_anon: [select] }
";

/// Missing privileges are granted (a grant option too); what the database has beyond the
/// desired state is reported with the REVOKE a human would run, and stays after apply.
#[tokio::test]
async fn missing_privileges_are_granted_and_extra_ones_reported() {
    if !roles_made("missing_privileges_are_granted_and_extra_ones_reported") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(&db, DRIFT_SETUP);
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(dir.path(), DRIFT_DESIRED);
    let output = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&output, 3);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["sql"].as_str().expect("sql"))
        .collect();
    assert_eq!(
        steps,
        [
            "GRANT USAGE ON SCHEMA public TO priv_anon",
            "ALTER DEFAULT PRIVILEGES FOR ROLE priv_owner IN SCHEMA public GRANT SELECT ON \
             TABLES TO priv_anon",
            "GRANT SELECT ON TABLE public.t TO priv_anon",
            "GRANT UPDATE ON TABLE public.t TO priv_service WITH GRANT OPTION",
            "GRANT UPDATE (email) ON TABLE public.t TO priv_anon",
        ],
        "{plan:#}"
    );
    let findings: Vec<(String, String)> = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        // The function the grants are on is itself not declared (D162, functions are a
        // kind of their own): this test is about its privileges.
        .filter(|f| f["code"] != "D162")
        .map(|f| {
            (
                f["code"].as_str().expect("code").to_owned(),
                f["suggestion"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            (
                "D183".to_owned(),
                "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public REVOKE DELETE ON \
                 TABLES FROM priv_anon"
                    .to_owned()
            ),
            (
                "D180".to_owned(),
                "REVOKE DELETE ON TABLE public.t FROM priv_authenticated".to_owned()
            ),
            (
                "D182".to_owned(),
                "GRANT EXECUTE ON FUNCTION public.f() TO PUBLIC".to_owned()
            ),
            (
                "D181".to_owned(),
                "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM priv_service".to_owned()
            ),
        ],
        "{plan:#}"
    );

    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    let has = |role: &str, privilege: &str| {
        query(
            &db,
            &format!("SELECT has_table_privilege('{role}', 'public.t', '{privilege}')"),
        )
    };
    assert_eq!(has("priv_anon", "SELECT"), "t");
    assert_eq!(has("priv_service", "UPDATE WITH GRANT OPTION"), "t");
    // Never revoked.
    assert_eq!(has("priv_authenticated", "DELETE"), "t");
    assert_eq!(has("priv_service", "SELECT WITH GRANT OPTION"), "t");
    assert_eq!(
        query(
            &db,
            "SELECT has_column_privilege('priv_anon', 'public.t', 'email', 'UPDATE')"
        ),
        "t"
    );
    // What remains is reported, and nothing is left to run.
    assert_exit(&reconcile(&db, &dev, dir.path(), &["plan"]), 3);
    let again = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    let again: Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(again["steps"], Value::Array(vec![]), "{again:#}");
}

/// A grant to a role the server does not have stops the plan (exit 1) before anything
/// runs, naming the role and where the YAML names it.
#[test]
fn a_grant_to_a_missing_role_is_an_error_naming_the_role_and_line() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    let path = write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\ngrants:\n  tables:\n    t: { \
         priv_nobody_has_this_role: [select] }\n",
    );
    for command in [&["plan"][..], &["apply"][..]] {
        let output = reconcile(&db, &dev, dir.path(), command);
        assert_exit(&output, 1);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("role priv_nobody_has_this_role does not exist in the target database"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{}:7:", path.display())),
            "{stderr}"
        );
        assert!(
            stderr.contains("CREATE ROLE priv_nobody_has_this_role"),
            "{stderr}"
        );
    }
    assert_eq!(
        query(&db, "SELECT count(*) FROM pg_class WHERE relname = 't'"),
        "0"
    );
}

fn load_error(yaml: &str) -> String {
    let files = vec![(PathBuf::from("schema/public.yaml"), yaml.to_owned())];
    match reconcile::load::from_sources(&files) {
        Ok(schema) => panic!("loaded: {schema:#?}"),
        Err(e) => e.to_string(),
    }
}

/// Wrong privileges and grants on what the desired state does not declare are load errors
/// with their file and line, saying what the object takes.
#[test]
fn wrong_privileges_are_load_errors_with_their_line() {
    const TABLE: &str = "tables:\n  t:\n    columns:\n      id: integer\n";
    for (grants, line, message) in [
        (
            "grants:\n  tables:\n    t: { anon: [selct] }\n",
            7,
            "unknown privilege `selct`",
        ),
        (
            "grants:\n  tables:\n    t: { anon: [execute] }\n",
            7,
            "execute cannot be granted on tables",
        ),
        (
            "grants:\n  tables:\n    nowhere: { anon: [select] }\n",
            7,
            "grants: no table public.nowhere in the desired state",
        ),
        (
            "grants:\n  columns:\n    t:\n      nope: { anon: [select] }\n",
            8,
            "grants: table public.t has no column \"nope\"",
        ),
        (
            "grants:\n  tables:\n    t: { public: [select with grant option] }\n",
            7,
            "PUBLIC cannot hold a grant option",
        ),
        (
            "grants:\n  tables:\n    t: { PUBLIC: [select] }\n",
            7,
            "write PUBLIC (every role) in lower case",
        ),
        (
            "grants:\n  views:\n    v: { anon: [execute] }\n",
            7,
            "execute cannot be granted on tables",
        ),
        (
            "grants:\n  functions:\n    \"f(integer\": { anon: [execute] }\n",
            7,
            "has no argument list in parentheses",
        ),
        (
            "default_privileges:\n  owner:\n    tables: { anon: [usage] }\n",
            7,
            "usage cannot be granted on tables",
        ),
        (
            "owners:\n  tables:\n    nowhere: someone\n",
            7,
            "owners: no table public.nowhere in the desired state",
        ),
    ] {
        let error = load_error(&format!("{TABLE}{grants}"));
        assert!(
            error.contains(&format!("schema/public.yaml:{line}:")),
            "{grants}: not at line {line}:\n{error}"
        );
        assert!(
            error.contains(message),
            "{grants}: no {message:?} in\n{error}"
        );
    }
}

const OWNED_SETUP: &str = "CREATE TABLE old (id integer);";

const OWNED_DESIRED: &str = "
owner: priv_owner
tables:
  old:
    columns:
      id: integer
  fresh:
    columns:
      id: integer
";

/// `owner:` sets the owner of the table the plan creates, and reports (never changes) the
/// owner of the one that exists.
#[tokio::test]
async fn owner_is_set_only_on_objects_the_plan_creates() {
    if !roles_made("owner_is_set_only_on_objects_the_plan_creates") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(&db, OWNED_SETUP);
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(dir.path(), OWNED_DESIRED);
    let output = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&output, 3);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["create_table", "set_owner"], "{plan:#}");
    assert_eq!(plan["steps"][1]["object"], "owner of table public.fresh");
    assert_eq!(plan["findings"][0]["code"], "D184", "{plan:#}");
    assert_eq!(plan["findings"][0]["object"], "owner of table public.old");
    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    let owner = |table: &str| {
        query(
            &db,
            &format!("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = '{table}'"),
        )
    };
    assert_eq!(owner("fresh"), "priv_owner");
    assert_ne!(owner("old"), "priv_owner");
    let model = read(&db).await;
    let fresh = reconcile::model::ObjectId::Table(reconcile::model::QualifiedName::new(
        reconcile::model::Ident::new("public").expect("a name"),
        reconcile::model::Ident::new("fresh").expect("a name"),
    ));
    assert_eq!(
        model.owners.get(&fresh).map(|o| o.role.as_str()),
        Some("priv_owner")
    );
}

/// A plan file whose owner step was rewritten to take an existing table from its owner is
/// refused before anything runs; the untouched file applies.
#[test]
fn a_plan_file_whose_owner_step_takes_an_existing_object_is_refused() {
    if !roles_made("a_plan_file_whose_owner_step_takes_an_existing_object_is_refused") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    run_sql(&db, OWNED_SETUP);
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(dir.path(), OWNED_DESIRED);
    let file = dir.path().join("plan.json");
    let output = reconcile(
        &db,
        &dev,
        dir.path(),
        &[
            "plan",
            "--format",
            "json",
            "--out",
            file.to_str().expect("utf-8"),
        ],
    );
    assert_exit(&output, 3);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("the plan file"))
        .expect("JSON");
    let owner_step = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .position(|s| s["kind"] == "set_owner")
        .expect("an owner step");
    let sql = plan["steps"][owner_step]["sql"]
        .as_str()
        .expect("sql")
        .to_owned();
    let edits = [
        ("the statement", sql.replace("public.fresh", "public.old")),
        ("the object", sql.clone()),
        (
            "a plain ALTER",
            "ALTER TABLE public.old OWNER TO priv_owner".to_owned(),
        ),
    ];
    for (i, (what, new_sql)) in edits.iter().enumerate() {
        let mut tampered = plan.clone();
        tampered["steps"][owner_step]["sql"] = Value::String(new_sql.clone());
        if *what == "the object" {
            tampered["steps"][owner_step]["object"] = "owner of table public.old".into();
        }
        let edited = dir.path().join(format!("edited{i}.json"));
        std::fs::write(&edited, tampered.to_string()).expect("write");
        let output = reconcile(
            &db,
            &dev,
            dir.path(),
            &["apply", edited.to_str().expect("utf-8")],
        );
        assert_exit(&output, 1);
        assert!(
            text(&output.stderr).contains("edited by hand"),
            "{what}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(
        query(&db, "SELECT count(*) FROM pg_class WHERE relname = 'fresh'"),
        "0"
    );
    assert_exit(
        &reconcile(
            &db,
            &dev,
            dir.path(),
            &["apply", file.to_str().expect("utf-8")],
        ),
        0,
    );
    assert_eq!(
        query(
            &db,
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'fresh'"
        ),
        "priv_owner"
    );
}

/// The rollback guide of a GRANT is the REVOKE, marked as such; of default privileges, their
/// REVOKE; of an owner step, the object back to the role running the guide.
#[test]
fn rollback_guides_revoke_what_was_granted() {
    use reconcile::rollback::{Action, guide_for_sql};
    let inverse = |sql: &str| -> (String, String) {
        let guide = guide_for_sql("step", sql);
        match &guide.entries[..] {
            [entry] => match &entry.action {
                Action::Inverse { sql, impact, .. } => (sql.clone(), impact.clone()),
                other => panic!("{sql}: {other:?}"),
            },
            other => panic!("{sql}: {other:?}"),
        }
    };
    let (sql, impact) = inverse("GRANT SELECT, INSERT ON TABLE public.t TO anon WITH GRANT OPTION");
    assert_eq!(sql, "REVOKE select, insert ON public.t FROM anon");
    assert!(impact.contains("revokes"), "{impact}");
    let (sql, _) = inverse(
        "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA public GRANT SELECT ON TABLES TO anon",
    );
    assert!(
        sql.starts_with("ALTER DEFAULT PRIVILEGES")
            && sql.contains("REVOKE select ON TABLES FROM anon"),
        "{sql}"
    );
    let (sql, _) = inverse("ALTER TABLE public.t OWNER TO app");
    assert_eq!(sql, "ALTER TABLE public.t OWNER TO CURRENT_USER");
    // The owner steps of views, materialized views and routines the plan creates.
    for (owned, back) in [
        (
            "ALTER MATERIALIZED VIEW public.mv OWNER TO app",
            "ALTER MATERIALIZED VIEW public.mv OWNER TO CURRENT_USER",
        ),
        (
            "ALTER FUNCTION public.f(integer, text) OWNER TO app",
            "ALTER FUNCTION public.f(int, text) OWNER TO CURRENT_USER",
        ),
        (
            "ALTER AGGREGATE public.tally(*) OWNER TO app",
            "ALTER AGGREGATE public.tally(*) OWNER TO CURRENT_USER",
        ),
    ] {
        assert_eq!(inverse(owned).0, back);
    }
}

/// A GRANT on a routine the database does not have (reconcile does not create routines yet)
/// is attempted and skipped with a warning (H012); the rest of the plan applies, and apply
/// names the grant as still pending.
#[test]
fn a_grant_on_a_missing_routine_is_attempted_and_skipped_with_a_warning() {
    if !roles_made("a_grant_on_a_missing_routine_is_attempted_and_skipped_with_a_warning") {
        return;
    }
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\ngrants:\n  tables:\n    t: { priv_anon: \
         [select] }\n  functions:\n    \"nowhere(integer)\": { priv_anon: [execute] }\n",
    );
    let output = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&output, 2);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let step = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["object"] == "grant EXECUTE to priv_anon on function public.nowhere(integer)")
        .unwrap_or_else(|| panic!("no step for the routine: {plan:#}"));
    assert_eq!(step["hazards"][0]["code"], "H012", "{step:#}");
    assert!(
        step["hazards"][0]["message"]
            .as_str()
            .expect("message")
            .contains("function public.nowhere(integer) is not in the target database"),
        "{step:#}"
    );
    // The rest applies; the skipped grant is named as still pending (a step that did not
    // happen is never reported as done: exit 2, the run recorded as partial).
    let applied = reconcile(&db, &dev, dir.path(), &["apply"]);
    assert_exit(&applied, 2);
    let stderr = text(&applied.stderr);
    assert!(
        stderr.contains("still pending")
            && stderr.contains("grant EXECUTE to priv_anon on function public.nowhere(integer)"),
        "{stderr}"
    );
    assert_eq!(
        query(
            &db,
            "SELECT has_table_privilege('priv_anon', 'public.t', 'SELECT')"
        ),
        "t"
    );
}

/// Views and materialized views are declared in `.sql` files and their privileges under
/// `grants: views:` and `grants: materialized_views:`: a missing one is granted after the view
/// is created, the plan after the apply is empty, an extra one is reported (D180, with the
/// REVOKE) and never revoked, and pull writes them so they load back the same. (The ACLs of
/// materialized views were once not read: a plan granted them again and again.)
#[tokio::test]
async fn privileges_on_views_are_granted_reported_and_pulled() {
    if !roles_made("privileges_on_views_are_granted_reported_and_pulled") {
        return;
    }
    for (section, create, kind) in [
        ("views", "CREATE VIEW", "view"),
        (
            "materialized_views",
            "CREATE MATERIALIZED VIEW",
            "materialized view",
        ),
    ] {
        privileges_on_a_view(section, create, kind).await;
    }
}

async fn privileges_on_a_view(section: &str, create: &str, kind: &str) {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    write_yaml(
        dir.path(),
        &format!(
            "tables:\n  t:\n    columns:\n      id: integer\ngrants:\n  {section}:\n    v: {{ \
             priv_anon: [select], priv_service: [select with grant option, insert] }}\n"
        ),
    );
    std::fs::write(
        dir.path().join("views.sql"),
        format!("{create} public.v AS SELECT id FROM public.t;\n"),
    )
    .expect("write the SQL");
    let output = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&output, 2);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["sql"].as_str().expect("sql"))
        .collect();
    let view = steps
        .iter()
        .position(|s| s.contains(create))
        .unwrap_or_else(|| panic!("no {create}: {steps:#?}"));
    let grant = steps
        .iter()
        .position(|s| s.contains("GRANT SELECT ON TABLE public.v TO priv_anon"))
        .unwrap_or_else(|| panic!("no GRANT on the {kind}: {steps:#?}"));
    assert!(
        view < grant,
        "the grant runs before the {kind} exists: {steps:#?}"
    );

    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    assert_eq!(
        query(
            &db,
            "SELECT has_table_privilege('priv_anon', 'public.v', 'SELECT'), \
             has_table_privilege('priv_service', 'public.v', 'SELECT WITH GRANT OPTION'), \
             has_table_privilege('priv_anon', 'public.v', 'INSERT')"
        ),
        "t|t|f"
    );
    assert_exit(&reconcile(&db, &dev, dir.path(), &["plan"]), 0);

    // Pulled, the view's privileges are written and load back the same.
    let live = read(&db).await;
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(&live)
        .into_iter()
        .map(|(name, text)| (PathBuf::from(name), text))
        .collect();
    let yaml = &files
        .iter()
        .find(|(name, _)| name.extension().is_some_and(|e| e == "yaml"))
        .expect("a YAML file")
        .1;
    assert!(
        yaml.contains(&format!(
            "  {section}:\n    v: {{ priv_anon: [select], priv_service: [select with grant \
             option, insert] }}"
        )),
        "{yaml}"
    );
    let pulled = tempfile::tempdir().expect("a folder");
    for (name, text) in &files {
        std::fs::write(pulled.path().join(name), text).expect("write the pulled file");
    }
    assert_exit(&reconcile(&db, &dev, pulled.path(), &["plan"]), 0);

    // Granted by hand, an extra privilege is a finding with its REVOKE, never a step.
    run_sql(&db, "GRANT DELETE ON public.v TO priv_anon;");
    let output = reconcile(&db, &dev, dir.path(), &["plan", "--format", "json"]);
    assert_exit(&output, 3);
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(plan["steps"], Value::Array(Vec::new()), "{plan:#}");
    let finding = &plan["findings"][0];
    assert_eq!(finding["code"], "D180", "{plan:#}");
    assert_eq!(
        finding["object"],
        format!("grant DELETE to priv_anon on {kind} public.v"),
        "{plan:#}"
    );
    assert_eq!(
        finding["suggestion"], "REVOKE DELETE ON TABLE public.v FROM priv_anon",
        "{plan:#}"
    );
    assert_exit(&reconcile(&db, &dev, dir.path(), &["apply"]), 0);
    assert_eq!(
        query(
            &db,
            "SELECT has_table_privilege('priv_anon', 'public.v', 'DELETE')"
        ),
        "t"
    );
}

/// A grant on a view no `.sql` file declares is an error at plan time at the line that names
/// it (views are read after the YAML, so the loader alone cannot tell).
#[test]
fn a_grant_on_an_undeclared_view_is_an_error_at_its_line() {
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let dir = tempfile::tempdir().expect("a folder");
    let path = write_yaml(
        dir.path(),
        "tables:\n  t:\n    columns:\n      id: integer\ngrants:\n  views:\n    nowhere: { \
         public: [select] }\n",
    );
    let output = reconcile(&db, &dev, dir.path(), &["plan"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("grants: no view public.nowhere in the desired state")
            && stderr.contains(&format!("{}:7:", path.display())),
        "{stderr}"
    );
}
