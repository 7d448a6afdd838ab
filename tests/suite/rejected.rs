//! Regression (issue 16, item 5): a desired state PostgreSQL itself rejects — an enum default
//! that is no label, an integer default `'abc'`, a check on a column that does not exist, a
//! foreign key from `bigint` to a `uuid` key — used to plan as if it were fine (a WARN with
//! an internal "at line 128", exit 2, "no findings"), and `apply` printed "done" for steps the
//! server skipped. It is an error in the desired state: `plan`, `verify` and `apply` exit 1
//! naming the YAML file:line of the object with the server's message, and nothing changes.

use crate::common;

use std::path::Path;

use assert_cmd::Command;
use common::{TestDb, assert_exit, text};

const LIVE: &str = "
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE people (id bigint PRIMARY KEY, name text);
    CREATE TABLE accounts (id uuid PRIMARY KEY);
";

/// The live objects as they are, plus the bad object of one case.
fn desired(bad: &str) -> String {
    format!(
        "enums:
  mood: [happy, sad]
tables:
  accounts:
    columns:
      id: {{ type: uuid, primary_key: true }}
  people:
    columns:
      id: {{ type: bigint, primary_key: true }}
      name: text
{bad}"
    )
}

fn run(command: &str, db: &TestDb, dev: &TestDb, schema: &Path) -> std::process::Output {
    Command::cargo_bin("reconcile")
        .expect("binary")
        .args([command, "--color", "never"])
        .args(if command == "verify" {
            &["--no-assertions"][..]
        } else {
            &[]
        })
        .args(["--database-url", &db.url, "--dev-url", &dev.url])
        .arg("--schema-dir")
        .arg(schema)
        .output()
        .expect("run reconcile")
}

#[test]
fn a_desired_state_the_server_rejects_is_an_error_at_its_line() {
    let cases = [
        (
            "enum default that is no label",
            "      feeling: { type: mood, default: \"'zzz'\" }\n",
            "column public.people.feeling",
            "schema.yaml:11:7",
            "22P02",
        ),
        (
            "integer default 'abc'",
            "  scores:\n    columns:\n      points: { type: integer, default: \"'abc'\" }\n",
            "column public.scores.points",
            "schema.yaml:13:7",
            "22P02",
        ),
        (
            "check on a missing column",
            "    checks:\n      people_age_check: age > 0\n",
            "constraint people_age_check on public.people",
            "schema.yaml:7:3",
            "42703",
        ),
        (
            "foreign key from bigint to a uuid key",
            "  sessions:\n    columns:\n      id: { type: bigint, primary_key: true }\n      account_id: { type: bigint, references: accounts }\n",
            "sessions",
            "schema.yaml:11:3",
            "42804",
        ),
    ];
    for (case, bad, object, at, sqlstate) in cases {
        let db = common::fresh_db();
        db.psql(LIVE).expect("setup");
        let dev = common::fresh_db();
        let dir = tempfile::tempdir().expect("schema folder");
        std::fs::write(dir.path().join("schema.yaml"), desired(bad)).expect("write");
        let before = db
            .psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
            .expect("count");
        for command in ["plan", "verify", "apply"] {
            let output = run(command, &db, &dev, dir.path());
            let stderr = text(&output.stderr);
            assert_exit(&output, 1);
            assert!(
                stderr.contains(at)
                    && stderr.contains("PostgreSQL rejects")
                    && stderr.contains(object)
                    && stderr.contains(&format!("SQLSTATE {sqlstate}")),
                "{case}, {command}: expected {object} at {at} with SQLSTATE {sqlstate}:\n{stderr}"
            );
            assert!(!stderr.contains("at line"), "{case}: {stderr}");
            // The line is shown under the error, read again from the file (the loader keeps
            // no texts).
            let line: usize = at
                .rsplit(':')
                .nth(1)
                .and_then(|l| l.parse().ok())
                .expect("line");
            let written = desired(bad);
            let shown = written.lines().nth(line - 1).expect("the line").trim();
            assert!(
                stderr.contains(&format!("{line} | ")) && stderr.contains(shown),
                "{case}, {command}: expected line {line} ({shown}) shown:\n{stderr}"
            );
        }
        let after = db
            .psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
            .expect("count");
        assert_eq!(before, after, "{case}: apply changed the database");
    }
}
