//! The README's exit-code table, command by command, on real PostgreSQL: every code a
//! command documents is produced here by the situation the README names, and a usage error
//! (a typo in a CI step) exits 1 for every command — never 2, which reads as "changes
//! pending" (issue 16, item 4).
//!
//! Each test builds a project folder (`schema/`, `verify/`, `migrations/`) and runs the
//! binary in it, with `DATABASE_URL` / `RECONCILE_DEV_URL` naming fresh test databases, so
//! no command starts a throwaway server of its own.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::{TestDb, text};

const TIMEOUT: Duration = Duration::from_secs(300);

/// The desired state of every test: one table.
const DESIRED: &str = "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n      name: text\n";
const IN_SYNC: &str = "CREATE TABLE t (id bigint PRIMARY KEY, name text);";
/// A column missing: one additive step.
const BEHIND: &str = "CREATE TABLE t (id bigint PRIMARY KEY);";
/// An extra column: a finding (non-additive drift).
const DRIFTED: &str = "CREATE TABLE t (id bigint PRIMARY KEY, name text, extra integer);";

/// A project folder and the databases its commands use.
struct Project {
    dir: tempfile::TempDir,
    dev: TestDb,
}

impl Project {
    fn new() -> Self {
        let project = Project {
            dir: tempfile::tempdir().expect("project folder"),
            dev: common::fresh_db(),
        };
        project.write("schema/public.yaml", DESIRED);
        project
    }

    fn write(&self, path: &str, content: &str) -> &Self {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        self
    }

    fn remove(&self, path: &str) {
        let path = self.dir.path().join(path);
        if path.is_dir() {
            std::fs::remove_dir_all(path).expect("remove folder");
        } else {
            std::fs::remove_file(path).expect("remove file");
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `reconcile ARGS` in the project folder against `db` (no database at all with `None`:
    /// neither a URL nor the libpq variables).
    fn run(&self, db: Option<&TestDb>, args: &[&str]) -> Output {
        let mut command = Command::cargo_bin("reconcile").expect("the reconcile binary");
        command
            .current_dir(self.dir.path())
            .args(["--color", "never"])
            .args(args)
            .env("RECONCILE_DEV_URL", &self.dev.url)
            .timeout(TIMEOUT);
        for var in [
            "DATABASE_URL",
            "RECONCILE_SHADOW_URL",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSERVICE",
            "PGPASSWORD",
        ] {
            command.env_remove(var);
        }
        if let Some(db) = db {
            command.env("DATABASE_URL", &db.url);
        }
        command.output().expect("run reconcile")
    }
}

/// A fresh database in which `setup` has run.
fn database(setup: &str) -> TestDb {
    let db = common::fresh_db();
    if !setup.is_empty() {
        db.psql(setup)
            .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    }
    db
}

#[track_caller]
fn expect(output: &Output, code: i32, situation: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{situation}: expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The two reproductions, and a typo in every command: exit 1 with clap's message,
/// before anything connects (no database is named, and none is started).
#[test]
fn usage_errors_exit_1_for_every_command() {
    let project = Project::new();
    let cases: &[&[&str]] = &[
        &["plan", "--bogus"],
        &["verify", "--format", "yaml"],
        &["apply", "--bogus"],
        &["apply", "--wait-lock", "soon"],
        &["history", "--limit", "many"],
        &["pull"],
        &["migrate", "stauts"],
        &["migrate", "status", "--bogus"],
        &["lint", "--allow", "X999"],
        &["shadow", "--fail-on-drift", "some"],
        &["rollback"],
        &["rollback", "--run", "1", "--migration", "1"],
        &["no-such-command"],
        &[],
    ];
    for args in cases {
        let output = project.run(None, args);
        expect(&output, 1, &format!("reconcile {}", args.join(" ")));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("error:") || stderr.contains("Usage:"),
            "reconcile {}: no usage message: {stderr}",
            args.join(" ")
        );
    }
    // Help and version are not errors.
    for args in [&["--help"][..], &["plan", "--help"], &["--version"]] {
        let output = project.run(None, args);
        expect(&output, 0, &format!("reconcile {}", args.join(" ")));
        assert!(!output.stdout.is_empty(), "{args:?} printed nothing");
    }
}

#[test]
fn plan_exits_0_in_sync_2_pending_3_drift_1_on_bad_input() {
    let project = Project::new();
    expect(
        &project.run(Some(&database(IN_SYNC)), &["plan"]),
        0,
        "plan, in sync",
    );
    expect(
        &project.run(Some(&database(BEHIND)), &["plan"]),
        2,
        "plan, a column to add",
    );
    expect(
        &project.run(Some(&database(DRIFTED)), &["plan"]),
        3,
        "plan, an extra column",
    );
    expect(
        &project.run(Some(&database(DRIFTED)), &["plan", "--fail-on", "none"]),
        0,
        "plan --fail-on none, an extra column",
    );
    project.write("schema/public.yaml", "tables:\n  t:\n    colums: {}\n");
    expect(
        &project.run(Some(&database(IN_SYNC)), &["plan"]),
        1,
        "plan, bad YAML",
    );
}

#[test]
fn verify_exits_0_2_3_4_and_1_when_an_assertion_cannot_run() {
    let project = Project::new();
    project.write(
        "verify/has_rows.sql",
        "-- t must be empty\nSELECT id FROM t;\n",
    );
    let in_sync = database(IN_SYNC);
    expect(
        &project.run(Some(&in_sync), &["verify"]),
        0,
        "verify, in sync",
    );
    expect(
        &project.run(Some(&database(BEHIND)), &["verify"]),
        2,
        "verify, a column to add",
    );
    expect(
        &project.run(Some(&database(DRIFTED)), &["verify"]),
        3,
        "verify, an extra column",
    );
    let with_rows = database(&format!("{DRIFTED} INSERT INTO t (id) VALUES (1);"));
    expect(
        &project.run(Some(&with_rows), &["verify"]),
        4,
        "verify, a failed assertion over drift",
    );
    project.write(
        "verify/broken.sql",
        "-- refers to nothing\nSELECT * FROM no_such_table;\n",
    );
    expect(
        &project.run(Some(&in_sync), &["verify"]),
        1,
        "verify, an assertion that cannot run",
    );
}

#[test]
fn apply_exits_0_applied_2_dry_run_3_refused_1_on_a_stale_plan() {
    let project = Project::new();
    let behind = database(BEHIND);
    expect(
        &project.run(Some(&behind), &["apply", "--dry-run"]),
        2,
        "apply --dry-run, a column to add",
    );
    let plan_file = project.path().join("plan.json");
    let plan_file = plan_file.to_str().expect("a UTF-8 path");
    expect(
        &project.run(Some(&behind), &["plan", "--out", plan_file]),
        2,
        "plan --out",
    );
    behind
        .psql("CREATE TABLE unrelated (id integer);")
        .expect("change the database");
    expect(
        &project.run(Some(&behind), &["apply", plan_file]),
        1,
        "apply of a plan made before the database changed",
    );
    expect(&project.run(Some(&behind), &["apply"]), 0, "apply");
    expect(
        &project.run(Some(&behind), &["apply", "--dry-run"]),
        0,
        "apply --dry-run, nothing left",
    );
    expect(
        &project.run(Some(&database(DRIFTED)), &["apply", "--fail-on", "any"]),
        3,
        "apply --fail-on any, an extra column",
    );
}

#[test]
fn shadow_exits_0_2_3_4_5_and_1() {
    let project = Project::new();
    let shadow = |project: &Project, args: &[&str]| {
        let db = common::fresh_db();
        let mut all = vec!["shadow", "--no-timings", "--shadow-url", &db.url];
        all.extend_from_slice(args);
        project.run(None, &all)
    };
    project.write("migrations/001_t.sql", &format!("{IN_SYNC}\n"));
    expect(&shadow(&project, &[]), 0, "shadow, in sync");
    project.write("migrations/001_t.sql", &format!("{BEHIND}\n"));
    expect(&shadow(&project, &[]), 2, "shadow, a column left to add");
    project.write("migrations/001_t.sql", &format!("{DRIFTED}\n"));
    expect(&shadow(&project, &[]), 3, "shadow, an extra column");
    project.write("migrations/002_row.sql", "INSERT INTO t (id) VALUES (1);\n");
    project.write(
        "verify/empty.sql",
        "-- t must be empty\nSELECT id FROM t;\n",
    );
    expect(&shadow(&project, &[]), 4, "shadow, a failed assertion");
    project.write("migrations/003_bad.sql", "SELECT 1 / 0;\n");
    expect(&shadow(&project, &[]), 5, "shadow, a failing migration");
    expect(
        &shadow(&project, &["--migrations", "no-such-folder"]),
        1,
        "shadow, a missing --migrations folder",
    );
}

#[test]
fn migrate_status_apply_and_check_exit_codes() {
    let project = Project::new();
    project.write("migrations/001_t.sql", &format!("{IN_SYNC}\n"));
    let db = database("");
    expect(
        &project.run(None, &["migrate", "check"]),
        0,
        "migrate check, good files",
    );
    expect(
        &project.run(Some(&db), &["migrate", "status"]),
        2,
        "migrate status, one to run",
    );
    expect(
        &project.run(Some(&db), &["migrate", "apply", "--dry-run"]),
        2,
        "migrate apply --dry-run, one to run",
    );
    expect(
        &project.run(Some(&db), &["migrate", "apply"]),
        0,
        "migrate apply",
    );
    expect(
        &project.run(Some(&db), &["migrate", "status"]),
        0,
        "migrate status, all applied",
    );
    project.write(
        "migrations/001_t.sql",
        &format!("{IN_SYNC}\nCOMMENT ON TABLE t IS 'edited';\n"),
    );
    expect(
        &project.run(Some(&db), &["migrate", "status"]),
        3,
        "migrate status, an applied file changed",
    );
    expect(
        &project.run(Some(&db), &["migrate", "check"]),
        1,
        "migrate check, an applied file changed",
    );
    project.write("migrations/001_t.sql", &format!("{IN_SYNC}\n"));
    project.write("migrations/002_bad.sql", "SELECT 1 / 0;\n");
    expect(
        &project.run(Some(&db), &["migrate", "apply"]),
        1,
        "migrate apply, a failing file",
    );
    project.remove("migrations/002_bad.sql");
    project.write("migrations/002_syntax.sql", "SELEC 1;\n");
    expect(
        &project.run(None, &["migrate", "check"]),
        1,
        "migrate check, a syntax error",
    );
}

#[test]
fn lint_exits_0_clean_3_errors_1_unreadable() {
    let project = Project::new();
    project.write("clean.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n");
    project.write("drop.sql", "DROP TABLE t;\n");
    project.write("broken.sql", "SELEC 1;\n");
    expect(&project.run(None, &["lint", "clean.sql"]), 0, "lint, clean");
    expect(&project.run(None, &["lint", "drop.sql"]), 3, "lint, a DROP");
    expect(
        &project.run(None, &["lint", "broken.sql"]),
        1,
        "lint, a syntax error",
    );
    expect(
        &project.run(None, &["lint", "missing.sql"]),
        1,
        "lint, a missing file",
    );
}

#[test]
fn rollback_exits_0_with_a_guide_1_without_the_run_or_version() {
    let project = Project::new();
    project.write("migrations/001_t.sql", &format!("{IN_SYNC}\n"));
    expect(
        &project.run(None, &["rollback", "--migration", "1"]),
        0,
        "rollback --migration 1",
    );
    expect(
        &project.run(None, &["rollback", "--migration", "9"]),
        1,
        "rollback --migration 9 (no such version)",
    );
    let db = database(BEHIND);
    expect(&project.run(Some(&db), &["apply"]), 0, "apply");
    expect(
        &project.run(Some(&db), &["rollback", "--run", "1"]),
        0,
        "rollback --run 1",
    );
    expect(
        &project.run(Some(&db), &["rollback", "--run", "99"]),
        1,
        "rollback --run 99 (no such run)",
    );
}
