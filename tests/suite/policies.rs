//! Row-level security policies and comments (issue 15, items 2 and 4), end to end through
//! the binary against a real server.
//!
//! What a team running Supabase-style security needs to trust: a missing policy is created
//! (guarded, before row-level security is switched on, so the table never denies every row
//! in between), a changed one is altered in place with the previous definition kept and a
//! hazard saying whether access widens or narrows, what `ALTER POLICY` cannot express and
//! extra policies are findings with the SQL a human would run, and comments are set,
//! replaced or reported. `--no-replace` turns every replace into a finding; `pull` writes
//! policies and comments and they load back identically; a second run changes nothing.

use crate::common;

use common::{TestDb, assert_exit, text};

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Roles are the cluster's, shared by every test database: created once, tolerating a
/// concurrent test creating them at the same time.
const ROLES: &str = "
DO $$ BEGIN CREATE ROLE reconcile_pol_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE reconcile_pol_writer; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
";

fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    db.psql(&format!("{ROLES}\n{setup}"))
        .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    db
}

fn query(db: &TestDb, sql: &str) -> String {
    db.psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// A schema folder holding `files` (name, content).
fn schema_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary schema folder");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("write a schema file");
    }
    dir
}

/// `reconcile <command> --database-url <db> --dev-url <dev> --schema-dir <dir> <args>`.
fn run(command: &str, db: &TestDb, dev: &TestDb, dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .args([command, "--color", "never", "--database-url", &db.url])
        .args(["--dev-url", &dev.url])
        .arg("--schema-dir")
        .arg(dir)
        .args(args)
        .env_remove("RECONCILE_DEV_URL")
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile")
}

/// The JSON plan (any exit code but an error's).
fn plan(db: &TestDb, dev: &TestDb, dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = run("plan", db, dev, dir, &all);
    assert!(
        matches!(output.status.code(), Some(0 | 2 | 3)),
        "plan failed: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)))
}

fn apply(db: &TestDb, dev: &TestDb, dir: &Path, args: &[&str]) {
    let output = run("apply", db, dev, dir, args);
    assert_exit(&output, 0);
}

fn steps(plan: &Value) -> Vec<Value> {
    plan["steps"].as_array().cloned().unwrap_or_default()
}

fn findings(plan: &Value) -> Vec<Value> {
    plan["findings"].as_array().cloned().unwrap_or_default()
}

fn step(steps: &[Value], kind: &str, object: &str) -> Value {
    steps
        .iter()
        .find(|s| s["kind"] == kind && s["object"] == object)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} step on {object}: {steps:#?}"))
}

fn finding(findings: &[Value], code: &str, object: &str) -> Value {
    findings
        .iter()
        .find(|f| f["code"] == code && f["object"] == object)
        .cloned()
        .unwrap_or_else(|| panic!("no {code} on {object}: {findings:#?}"))
}

fn hazard(step: &Value, code: &str) -> String {
    step["hazards"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["code"] == code)
        .and_then(|h| h["message"].as_str())
        .unwrap_or_else(|| panic!("no {code} on {step:#}"))
        .to_owned()
}

/// The second plan after an apply: nothing to do and nothing to report.
fn assert_converged(db: &TestDb, dev: &TestDb, dir: &Path) {
    let again = plan(db, dev, dir, &[]);
    assert!(
        steps(&again).is_empty() && findings(&again).is_empty(),
        "a second plan is not empty: {again:#}"
    );
}

const TODOS: &str = "
CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
INSERT INTO todos VALUES (1, 'alice', false), (2, 'bob', true);
";

/// The desired state of most tests: `todos` with two policies, row-level security on and
/// forced, and comments on the table, a column and a policy.
const DESIRED: &str = r#"
tables:
  todos:
    comment: "What people have to do"
    row_level_security: true
    force_row_level_security: true
    columns:
      id: { type: bigint, primary_key: true, comment: "The number" }
      owner: { type: text, not_null: true }
      done: { type: boolean, not_null: true, default: false }
    policies:
      own rows:
        for: select
        to: [reconcile_pol_reader]
        using: "owner = current_user"
        comment: "Readers see their own rows"
      write own:
        for: insert
        to: reconcile_pol_writer
        check: "owner = current_user AND NOT done"
"#;

/// `todos` with the given policies (YAML, 6 spaces in) and table comment.
fn desired_with(policies: &str, table_comment: &str) -> String {
    format!(
        r#"
tables:
  todos:
    comment: "{table_comment}"
    columns:
      id: {{ type: bigint, primary_key: true }}
      owner: {{ type: text, not_null: true }}
      done: {{ type: boolean, not_null: true, default: false }}
    policies:
{policies}
"#
    )
}

#[test]
fn missing_policies_are_created_before_row_level_security_is_switched_on() {
    let db = database(TODOS);
    let dev = common::fresh_db();
    let dir = schema_dir(&[("schema.yaml", DESIRED)]);
    let p = plan(&db, &dev, dir.path(), &[]);
    assert!(findings(&p).is_empty(), "{p:#}");
    let all = steps(&p);
    let own = step(&all, "create_policy", "policy \"own rows\" on public.todos");
    let sql = own["sql"].as_str().expect("sql");
    assert!(
        sql.contains("IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy")
            && sql.contains(
                "CREATE POLICY \"own rows\" ON public.todos AS PERMISSIVE FOR SELECT TO \
                 reconcile_pol_reader USING ((owner = CURRENT_USER))"
            ),
        "{sql}"
    );
    assert!(
        hazard(&own, "H014").contains("lets role(s) reconcile_pol_reader read"),
        "{own:#}"
    );
    let write = step(
        &all,
        "create_policy",
        "policy \"write own\" on public.todos",
    );
    assert!(
        write["sql"].as_str().expect("sql").contains(
            "FOR INSERT TO reconcile_pol_writer WITH CHECK (((owner = CURRENT_USER) AND (NOT done)))"
        ),
        "{write:#}"
    );
    // Switched on after both policies, with what that does to who sees which rows.
    let rls = step(
        &all,
        "enable_row_level_security",
        "row-level security on public.todos",
    );
    assert_eq!(
        rls["sql"],
        "ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY"
    );
    for policy in [&own, &write] {
        assert!(
            policy["number"].as_u64() < rls["number"].as_u64()
                && rls["depends_on"]
                    .as_array()
                    .expect("depends_on")
                    .contains(&policy["number"]),
            "{rls:#}"
        );
    }
    let access = hazard(&rls, "H014");
    assert!(
        access.contains("none where no policy applies") && access.contains("the owner too"),
        "{access}"
    );
    hazard(&rls, "H001");
    // Comments, the policy's after the policy.
    let table = step(&all, "comment", "comment on table public.todos");
    assert_eq!(
        table["sql"],
        "COMMENT ON TABLE public.todos IS 'What people have to do'"
    );
    step(&all, "comment", "comment on column public.todos.id");
    let on_policy = step(
        &all,
        "comment",
        "comment on policy \"own rows\" on public.todos",
    );
    assert!(
        on_policy["depends_on"]
            .as_array()
            .expect("depends_on")
            .contains(&own["number"]),
        "{on_policy:#}"
    );

    apply(&db, &dev, dir.path(), &[]);
    assert_eq!(
        query(
            &db,
            "SELECT polname || ' ' || polcmd::text || ' ' || pg_get_expr(polqual, polrelid) \
             FROM pg_policy WHERE polname = 'own rows'"
        ),
        "own rows r (owner = CURRENT_USER)"
    );
    assert_eq!(
        query(
            &db,
            "SELECT relrowsecurity::text || relforcerowsecurity::text FROM pg_class \
             WHERE oid = 'todos'::regclass"
        ),
        "truetrue"
    );
    assert_eq!(
        query(
            &db,
            "SELECT obj_description('todos'::regclass, 'pg_class') || '/' || \
             col_description('todos'::regclass, 1)"
        ),
        "What people have to do/The number"
    );
    assert_converged(&db, &dev, dir.path());
    // The policy does what it says: the reader sees only its own rows (none here).
    db.psql("GRANT SELECT ON todos TO reconcile_pol_reader")
        .expect("grant");
    assert_eq!(
        query(
            &db,
            "SET ROLE reconcile_pol_reader; SELECT count(*) FROM todos; RESET ROLE;"
        ),
        "0"
    );
}

/// A live `todos` with policy "own rows" for reconcile_pol_reader.
const WITH_POLICY: &str = "
CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
CREATE POLICY \"own rows\" ON todos FOR SELECT TO reconcile_pol_reader USING (owner = current_user);
COMMENT ON TABLE todos IS 'Old text';
";

#[test]
fn a_changed_policy_is_altered_in_place_keeping_the_previous_definition() {
    let db = database(WITH_POLICY);
    let dev = common::fresh_db();
    let dir = schema_dir(&[(
        "schema.yaml",
        &desired_with(
            "      own rows:\n        for: select\n        to: [reconcile_pol_reader, reconcile_pol_writer]\n        using: \"owner = current_user AND NOT done\"\n",
            "Old text",
        ),
    )]);
    let p = plan(&db, &dev, dir.path(), &[]);
    assert!(findings(&p).is_empty(), "{p:#}");
    let all = steps(&p);
    assert_eq!(all.len(), 1, "{p:#}");
    let replace = step(&all, "replace", "policy \"own rows\" on public.todos");
    assert_eq!(
        replace["sql"],
        "ALTER POLICY \"own rows\" ON public.todos TO reconcile_pol_reader, reconcile_pol_writer \
         USING (((owner = CURRENT_USER) AND (NOT done)))"
    );
    let previous = replace["previous"]
        .as_str()
        .expect("the previous definition");
    assert_eq!(
        previous,
        "ALTER POLICY \"own rows\" ON public.todos TO reconcile_pol_reader USING ((owner = CURRENT_USER))"
    );
    let access = hazard(&replace, "H014");
    assert!(
        access.starts_with("WIDENS access: roles added reconcile_pol_writer")
            && access.contains("CHANGES access: the USING expression changes"),
        "{access}"
    );
    hazard(&replace, "H013");

    // --no-replace: a finding instead, nothing planned.
    let held = plan(&db, &dev, dir.path(), &["--no-replace"]);
    assert!(steps(&held).is_empty(), "{held:#}");
    let f = finding(
        &findings(&held),
        "D143",
        "policy \"own rows\" on public.todos",
    );
    assert_eq!(f["suggestion"], replace["sql"]);
    assert!(
        f["message"]
            .as_str()
            .expect("message")
            .contains("WIDENS access: roles added reconcile_pol_writer"),
        "{f:#}"
    );

    apply(&db, &dev, dir.path(), &[]);
    assert_converged(&db, &dev, dir.path());
    // The kept definition puts the old policy back.
    db.psql(previous).expect("the previous definition runs");
    assert_eq!(
        query(
            &db,
            "SELECT pg_get_expr(polqual, polrelid) || ' ' || array_length(polroles, 1) \
             FROM pg_policy WHERE polname = 'own rows'"
        ),
        "(owner = CURRENT_USER) 1"
    );

    // Every role instead of one widens access, and says so.
    let wider = schema_dir(&[(
        "schema.yaml",
        &desired_with(
            "      own rows:\n        for: select\n        using: \"owner = current_user\"\n",
            "Old text",
        ),
    )]);
    let p = plan(&db, &dev, wider.path(), &[]);
    let replace = step(&steps(&p), "replace", "policy \"own rows\" on public.todos");
    assert_eq!(
        hazard(&replace, "H014"),
        "WIDENS access: roles added every role (PUBLIC); from the commit on"
    );
}

#[test]
fn a_removed_role_narrows_access() {
    let db = database(
        "CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
         CREATE POLICY \"own rows\" ON todos FOR SELECT TO reconcile_pol_reader, reconcile_pol_writer USING (owner = current_user);
         COMMENT ON TABLE todos IS 'Old text';",
    );
    let dev = common::fresh_db();
    let dir = schema_dir(&[(
        "schema.yaml",
        &desired_with(
            "      own rows:\n        for: select\n        to: reconcile_pol_reader\n        using: \"owner = current_user\"\n",
            "Old text",
        ),
    )]);
    let p = plan(&db, &dev, dir.path(), &[]);
    let replace = step(&steps(&p), "replace", "policy \"own rows\" on public.todos");
    assert_eq!(
        hazard(&replace, "H014"),
        "narrows access: roles removed reconcile_pol_writer; from the commit on"
    );
}

#[test]
fn what_alter_policy_cannot_change_and_extra_policies_are_findings() {
    let db = database(
        "CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
         COMMENT ON TABLE todos IS 'Old text';
         CREATE POLICY readers ON todos FOR SELECT USING (true);
         CREATE POLICY limits ON todos AS RESTRICTIVE USING (NOT done);
         CREATE POLICY checked ON todos FOR UPDATE USING (true) WITH CHECK (owner = current_user);
         CREATE POLICY leftover ON todos TO reconcile_pol_writer USING (true);",
    );
    let dev = common::fresh_db();
    let dir = schema_dir(&[(
        "schema.yaml",
        &desired_with(
            "      readers:\n        using: \"true\"\n      limits:\n        using: \"NOT done\"\n      checked:\n        for: update\n        using: \"true\"\n",
            "Old text",
        ),
    )]);
    let p = plan(&db, &dev, dir.path(), &[]);
    assert!(steps(&p).is_empty(), "{p:#}");
    let all = findings(&p);
    assert_eq!(all.len(), 4, "{p:#}");
    for name in ["readers", "limits", "checked"] {
        let f = finding(&all, "D143", &format!("policy {name} on public.todos"));
        let suggestion = f["suggestion"].as_str().expect("a suggestion");
        assert!(
            suggestion.starts_with(&format!("BEGIN;\nDROP POLICY {name} ON public.todos;\n"))
                && suggestion.contains(&format!("\nCREATE POLICY {name} ON public.todos"))
                && suggestion.ends_with("COMMIT"),
            "{f:#}"
        );
    }
    let extra = finding(&all, "D142", "policy leftover on public.todos");
    assert_eq!(extra["severity"], "risky");
    assert_eq!(extra["suggestion"], "DROP POLICY leftover ON public.todos");
    // The suggestions run as written, and then nothing differs.
    let script: String = all
        .iter()
        .map(|f| format!("{};\n", f["suggestion"].as_str().expect("a suggestion")))
        .collect();
    db.psql(&script)
        .unwrap_or_else(|e| panic!("the suggestions do not run: {e}\n{script}"));
    assert_converged(&db, &dev, dir.path());
}

#[test]
fn comments_are_set_replaced_and_reported() {
    let db = database(
        "CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL, done boolean NOT NULL DEFAULT false);
         CREATE INDEX todos_owner_idx ON todos (owner);
         CREATE SEQUENCE tickets;
         COMMENT ON TABLE todos IS 'Old text';
         COMMENT ON INDEX todos_owner_idx IS 'Nobody wrote this down';",
    );
    let dev = common::fresh_db();
    let dir = schema_dir(&[(
        "schema.yaml",
        r#"
tables:
  todos:
    comment: "It's new"
    columns:
      id: { type: bigint, primary_key: true }
      owner: { type: text, not_null: true, comment: "Who does it" }
      done: { type: boolean, not_null: true, default: false }
    indexes:
      - { columns: [owner] }
sequences:
  tickets: {}
comments:
  sequence public.tickets: "Ticket numbers"
  schema public: "Our tables"
"#,
    )]);
    let p = plan(&db, &dev, dir.path(), &[]);
    let all = steps(&p);
    assert_eq!(all.len(), 4, "{p:#}");
    let replace = step(&all, "replace", "comment on table public.todos");
    assert_eq!(
        replace["sql"],
        "COMMENT ON TABLE public.todos IS 'It''s new'"
    );
    assert_eq!(
        replace["previous"],
        "COMMENT ON TABLE public.todos IS 'Old text'"
    );
    hazard(&replace, "H013");
    for (object, sql) in [
        (
            "comment on column public.todos.owner",
            "COMMENT ON COLUMN public.todos.owner IS 'Who does it'",
        ),
        (
            "comment on sequence public.tickets",
            "COMMENT ON SEQUENCE public.tickets IS 'Ticket numbers'",
        ),
        (
            "comment on schema public",
            "COMMENT ON SCHEMA public IS 'Our tables'",
        ),
    ] {
        assert_eq!(step(&all, "comment", object)["sql"], sql);
    }
    // A comment only the database has is reported, with the statement that removes it.
    let extra = finding(
        &findings(&p),
        "D145",
        "comment on index todos_owner_idx on public.todos",
    );
    assert_eq!(extra["severity"], "cosmetic");
    assert_eq!(
        extra["suggestion"],
        "COMMENT ON INDEX public.todos_owner_idx IS NULL"
    );
    assert_eq!(findings(&p).len(), 1, "{p:#}");

    // --no-replace: the changed comment is a finding too.
    let held = plan(&db, &dev, dir.path(), &["--no-replace"]);
    let f = finding(&findings(&held), "D145", "comment on table public.todos");
    assert_eq!(f["severity"], "cosmetic");
    assert_eq!(f["suggestion"], replace["sql"]);
    assert!(
        !steps(&held).iter().any(|s| s["kind"] == "replace"),
        "{held:#}"
    );

    apply(&db, &dev, dir.path(), &["--fail-on", "none"]);
    assert_eq!(
        query(&db, "SELECT obj_description('todos'::regclass, 'pg_class')"),
        "It's new"
    );
    let again = plan(&db, &dev, dir.path(), &[]);
    assert!(steps(&again).is_empty(), "{again:#}");
    assert_eq!(findings(&again).len(), 1, "{again:#}");
    // The kept text puts the old comment back.
    db.psql(replace["previous"].as_str().expect("previous"))
        .expect("previous runs");
    assert_eq!(
        query(&db, "SELECT obj_description('todos'::regclass, 'pg_class')"),
        "Old text"
    );
}

#[test]
fn policies_and_comments_in_sql_files() {
    let db = database(TODOS);
    let dev = common::fresh_db();
    let dir = schema_dir(&[
        (
            "schema.yaml",
            "tables:\n  todos:\n    row_level_security: true\n    columns:\n      id: { type: bigint, primary_key: true }\n      owner: { type: text, not_null: true }\n      done: { type: boolean, not_null: true, default: false }\n",
        ),
        (
            "security.sql",
            "CREATE POLICY \"own rows\" ON todos FOR SELECT TO reconcile_pol_reader USING (owner = current_user);\n\
             COMMENT ON POLICY \"own rows\" ON todos IS 'Readers see their own rows';\n\
             COMMENT ON COLUMN todos.done IS 'Finished';\n",
        ),
    ]);
    let p = plan(&db, &dev, dir.path(), &[]);
    assert!(findings(&p).is_empty(), "{p:#}");
    let all = steps(&p);
    step(&all, "create_policy", "policy \"own rows\" on public.todos");
    step(
        &all,
        "comment",
        "comment on policy \"own rows\" on public.todos",
    );
    step(&all, "comment", "comment on column public.todos.done");
    apply(&db, &dev, dir.path(), &[]);
    assert_converged(&db, &dev, dir.path());
}

#[test]
fn a_policy_for_a_role_the_server_lacks_is_an_error_naming_the_file() {
    let db = database(TODOS);
    let dev = common::fresh_db();
    let dir = schema_dir(&[(
        "schema.yaml",
        &desired_with(
            "      own rows:\n        to: reconcile_pol_nobody\n        using: \"true\"\n",
            "x",
        ),
    )]);
    let output = run("plan", &db, &dev, dir.path(), &[]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("schema.yaml") && stderr.contains("reconcile_pol_nobody"),
        "{stderr}"
    );
}

/// The live state of the pull round trip: policies of every shape (quoted names, roles,
/// PUBLIC, RESTRICTIVE, each command, a sub-query on another table, a cast to an enum) and
/// comments on every managed kind of object.
const EVERYTHING: &str = r#"
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'The application';
CREATE TYPE app.mood AS ENUM ('ok', 'meh');
COMMENT ON TYPE app.mood IS 'How it went';
CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%');
COMMENT ON DOMAIN app.email IS 'An address';
CREATE TABLE app.members (org bigint, uid text, PRIMARY KEY (org, uid));
CREATE TABLE app."Todo items" (
    id bigint PRIMARY KEY,
    org bigint NOT NULL,
    owner text NOT NULL CONSTRAINT owner_not_empty CHECK (owner <> ''),
    done boolean NOT NULL DEFAULT false,
    mood app.mood
);
CREATE INDEX todo_owner ON app."Todo items" (owner);
CREATE SEQUENCE app.tickets;
CREATE VIEW app.open_items AS SELECT id, owner FROM app."Todo items" WHERE NOT done;
COMMENT ON VIEW app.open_items IS 'What is left';
COMMENT ON COLUMN app.open_items.owner IS 'Whose';
COMMENT ON TABLE app."Todo items" IS E'Line one\nline ''two'' \\ end';
COMMENT ON COLUMN app."Todo items".owner IS 'Who does it';
COMMENT ON INDEX app.todo_owner IS 'For the owner lookups';
COMMENT ON CONSTRAINT owner_not_empty ON app."Todo items" IS 'Somebody';
COMMENT ON CONSTRAINT "Todo items_pkey" ON app."Todo items" IS 'By number';
COMMENT ON SEQUENCE app.tickets IS 'Ticket numbers';
ALTER TABLE app."Todo items" ENABLE ROW LEVEL SECURITY;
ALTER TABLE app."Todo items" FORCE ROW LEVEL SECURITY;
CREATE POLICY "Own rows" ON app."Todo items" FOR SELECT TO reconcile_pol_reader, reconcile_pol_writer
    USING (owner = current_user AND EXISTS (SELECT 1 FROM app.members m WHERE m.org = "Todo items".org AND m.uid = current_user));
COMMENT ON POLICY "Own rows" ON app."Todo items" IS 'Members see their rows';
CREATE POLICY writes ON app."Todo items" FOR INSERT WITH CHECK (owner = current_user);
CREATE POLICY "not done" ON app."Todo items" AS RESTRICTIVE FOR UPDATE TO reconcile_pol_writer
    USING (NOT done) WITH CHECK (mood IS DISTINCT FROM 'meh'::app.mood);
CREATE POLICY everything ON app."Todo items" USING (true) WITH CHECK (org > 0);
CREATE POLICY deletes ON app.members FOR DELETE TO reconcile_pol_writer USING (uid = session_user);
"#;

/// Pulled, every policy and comment is written; planned against the database it came from,
/// nothing differs; built on an empty database and pulled again, the same files come back.
#[test]
fn pulled_policies_and_comments_load_back_identically() {
    let db = database(EVERYTHING);
    let dev = common::fresh_db();
    let pulled = tempfile::tempdir().expect("pull folder");
    let out = pulled.path().join("schema");
    pull_into(&db, &dev, &out);
    let files = read_all(&out);
    let yaml: String = files.iter().map(|(_, text)| text.as_str()).collect();
    for needle in [
        "policies:",
        "Own rows",
        "as: restrictive",
        "for: delete",
        "Members see their rows",
        "comments:",
        "For the owner lookups",
    ] {
        assert!(yaml.contains(needle), "{needle} is not pulled:\n{yaml}");
    }
    assert_converged(&db, &dev, &out);

    // Built from the pulled files on an empty database, pulled again: the same files.
    let copy = database("");
    apply(&copy, &dev, &out, &[]);
    assert_converged(&copy, &dev, &out);
    let again = pulled.path().join("again");
    pull_into(&copy, &dev, &again);
    assert_eq!(read_all(&again), files);
    let policies = "SELECT string_agg(format('%s %s %s %s %s %s %s', polrelid::regclass, polname, \
                    polcmd, polpermissive, polroles::regrole[], pg_get_expr(polqual, polrelid), \
                    pg_get_expr(polwithcheck, polrelid)), E'\\n' ORDER BY polrelid::regclass::text, polname) \
                    FROM pg_policy";
    assert_eq!(query(&copy, policies), query(&db, policies));
    let descriptions = "SELECT string_agg(description, E'\\n' ORDER BY description) \
                        FROM pg_description WHERE objoid >= 16384";
    assert_eq!(query(&copy, descriptions), query(&db, descriptions));
}

/// `reconcile pull --out out` from `db`, which must succeed.
fn pull_into(db: &TestDb, dev: &TestDb, out: &Path) {
    let empty = schema_dir(&[]);
    let output = run(
        "pull",
        db,
        dev,
        empty.path(),
        &["--out", out.to_str().expect("utf-8 path")],
    );
    assert_exit(&output, 0);
}

/// Every file under `dir` with its text, by path relative to `dir`, sorted.
fn read_all(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read the folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .display()
                    .to_string();
                out.push((relative, std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// Partitioned tables and partitions are tables: their policies are managed like any other
/// (pulled, compared, reported when extra) and never listed as skipped; only an inheritance
/// child's, a table reconcile leaves out, is.
#[test]
fn policies_on_partitioned_tables_and_partitions_are_managed() {
    let db = database(
        "CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, tenant text NOT NULL,
             PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
         CREATE TABLE public.events_2026 PARTITION OF public.events
             FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;
         CREATE POLICY tenant_rows ON public.events TO reconcile_pol_reader
             USING (tenant = current_setting('app.tenant'));
         ALTER TABLE public.events_2026 ENABLE ROW LEVEL SECURITY;
         CREATE POLICY this_year ON public.events_2026 FOR SELECT USING (at >= '2026-01-01');
         CREATE TABLE public.legacy (id int);
         CREATE TABLE public.legacy_child (note text) INHERITS (public.legacy);
         CREATE POLICY child_rows ON public.legacy_child USING (id > 0);",
    );
    let dev = common::fresh_db();
    let pulled = tempfile::tempdir().expect("pull folder");
    let out = pulled.path().join("schema");
    pull_into(&db, &dev, &out);
    let yaml: String = read_all(&out).into_iter().map(|(_, text)| text).collect();
    for needle in ["tenant_rows:", "this_year:"] {
        assert!(yaml.contains(needle), "{needle} is not pulled:\n{yaml}");
    }
    assert!(!yaml.contains("child_rows"), "{yaml}");

    let report = plan(&db, &dev, &out, &[]);
    let skipped: Vec<String> = report["skipped"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["object"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        skipped.iter().any(|s| s.contains("child_rows")),
        "the inheritance child's policy is not listed: {skipped:?}"
    );
    assert!(
        !skipped
            .iter()
            .any(|s| s.contains("tenant_rows") || s.contains("this_year")),
        "a managed policy is listed as skipped: {skipped:?}"
    );
    assert!(
        steps(&report).is_empty()
            && findings(&report)
                .iter()
                .all(|f| !f["object"].as_str().unwrap_or_default().contains("events")),
        "the pulled state is not in sync: {report:#}"
    );

    // The partition's policy removed from the desired state: an extra policy, never dropped.
    let edited = schema_dir(&[]);
    for (name, text) in read_all(&out) {
        let text = text.replace("this_year", "renamed_in_yaml");
        let path = edited.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(path, text).expect("write");
    }
    let report = plan(&db, &dev, edited.path(), &[]);
    finding(
        &findings(&report),
        "D142",
        "policy this_year on public.events_2026",
    );
    step(
        &steps(&report),
        "create_policy",
        "policy renamed_in_yaml on public.events_2026",
    );
}
