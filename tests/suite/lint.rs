//! `reconcile lint`: which statements get which codes (a table of destructive, risky and safe
//! statements, each linted as its own file), where diagnostics point, how allow directives
//! work, and the command line — every output format as a snapshot, and the exit codes —
//! on the fixture folders under tests/fixtures/lint. Only the default file list involves a
//! database: given one, `lint` checks the pending migrations only.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use reconcile::lint::{self, Code, Diagnostic, Options, Severity};

/// `SET lock_timeout` first, so a case is about its statement and not about L021.
const LT: &str = "SET lock_timeout = '2s';\n";

fn codes(sql: &str) -> BTreeSet<String> {
    let diagnostics = lint::lint_source("case.sql", sql, &Options::default())
        .unwrap_or_else(|e| panic!("{sql}\n  does not lint: {e}"));
    diagnostics.iter().map(|d| d.code.to_string()).collect()
}

fn lint_one(sql: &str) -> Vec<Diagnostic> {
    lint::lint_source("case.sql", sql, &Options::default()).expect("lints")
}

#[test]
fn statements_get_exactly_their_codes() {
    let cases: Vec<(String, &[&str])> = vec![
        // Destructive: errors.
        ("DROP TABLE users;".into(), &["D100", "L021"]),
        (format!("{LT}DROP TABLE users;"), &["D100"]),
        (
            format!("{LT}DROP TABLE IF EXISTS a, app.b CASCADE;"),
            &["D100"],
        ),
        (
            format!("{LT}ALTER TABLE users DROP COLUMN email;"),
            &["D101"],
        ),
        (
            format!("{LT}ALTER TABLE users DROP COLUMN a, DROP COLUMN IF EXISTS b;"),
            &["D101"],
        ),
        ("DROP INDEX users_email;".into(), &["D102", "L021"]),
        (
            "-- reconcile:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS users_email;".into(),
            &["D102"],
        ),
        (
            "DROP INDEX CONCURRENTLY users_email;".into(),
            &["D102", "L022"],
        ),
        (
            format!("{LT}ALTER TABLE users DROP CONSTRAINT users_email_key;"),
            &["D103"],
        ),
        ("DROP TYPE mood;".into(), &["D105"]),
        ("DROP DOMAIN IF EXISTS positive_int;".into(), &["D105"]),
        ("DROP SEQUENCE order_seq;".into(), &["D106"]),
        ("DROP EXTENSION pgcrypto;".into(), &["D107"]),
        (
            format!("{LT}ALTER TABLE users ALTER COLUMN id TYPE bigint;"),
            &["D110"],
        ),
        (
            format!("{LT}ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            &["D111"],
        ),
        (
            "ALTER TABLE users RENAME TO people;".into(),
            &["D150", "L021"],
        ),
        (
            format!("{LT}ALTER TABLE users RENAME COLUMN email TO mail;"),
            &["D150"],
        ),
        (
            format!("{LT}ALTER TABLE users RENAME CONSTRAINT a TO b;"),
            &["D150"],
        ),
        (
            "ALTER INDEX users_email RENAME TO users_mail;".into(),
            &["D150"],
        ),
        (
            "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';".into(),
            &["D150"],
        ),
        ("DROP SCHEMA legacy CASCADE;".into(), &["L001"]),
        (format!("{LT}TRUNCATE users;"), &["L002"]),
        ("DELETE FROM users;".into(), &["L003"]),
        ("UPDATE users SET email = lower(email);".into(), &["L004"]),
        ("DROP VIEW active_users;".into(), &["L005"]),
        ("DROP FUNCTION IF EXISTS touch(int);".into(), &["L005"]),
        ("DROP ROLE app_reader;".into(), &["L006"]),
        ("DROP DATABASE scratch;".into(), &["L006", "L022"]),
        // DML with a WHERE, and data-modifying CTEs.
        ("DELETE FROM users WHERE id = 1;".into(), &[]),
        (
            "UPDATE users SET email = lower(email) WHERE id BETWEEN 1 AND 1000;".into(),
            &[],
        ),
        (
            "WITH gone AS (DELETE FROM users RETURNING id) \
             INSERT INTO archive SELECT id FROM gone;"
                .into(),
            &["L003"],
        ),
        (
            "WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING id) \
             INSERT INTO archive SELECT id FROM gone;"
                .into(),
            &[],
        ),
        (
            "WITH a AS (UPDATE users SET seen = true RETURNING id) SELECT count(*) FROM a;".into(),
            &["L004"],
        ),
        (
            "INSERT INTO audit (msg) VALUES ('DROP TABLE users');".into(),
            &[],
        ),
        ("-- DROP TABLE users;\nSELECT 1;".into(), &[]),
        // DO blocks run at migration time: their statements are checked.
        (
            format!(
                "{LT}DO $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'old') THEN\n    \
                 DROP TABLE old;\n  END IF;\nEND\n$$;"
            ),
            &["D100"],
        ),
        (
            "DO $$ BEGIN EXECUTE 'DELETE FROM sessions'; END $$;".into(),
            &["L003"],
        ),
        (
            "DO $$ BEGIN EXECUTE 'TRUNCATE ' || quote_ident('sessions'); END $$;".into(),
            &["L007"],
        ),
        (
            format!("{LT}DO $$ BEGIN CREATE INDEX users_email ON users (email); END $$;"),
            &["H011"],
        ),
        (
            "DO $$ BEGIN CREATE INDEX CONCURRENTLY i ON users (email); END $$;".into(),
            &["L022"],
        ),
        (
            "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_type WHERE typname = 'mood') THEN\n    \
             CREATE TYPE mood AS ENUM ('happy', 'sad');\n  END IF;\nEND\n$$;"
                .into(),
            &[],
        ),
        ("DO LANGUAGE plperl $$ print 1 $$;".into(), &["L007"]),
        // Function bodies do not run at migration time: not inspected.
        (
            "CREATE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  \
             DROP TABLE sessions;\n  DELETE FROM users;\nEND\n$$;"
                .into(),
            &[],
        ),
        // Creating things.
        (
            "CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY);".into(),
            &[],
        ),
        ("CREATE TABLE t (id bigint PRIMARY KEY);".into(), &["L020"]),
        ("CREATE SCHEMA app;".into(), &["L020"]),
        ("CREATE SCHEMA IF NOT EXISTS app;".into(), &[]),
        ("CREATE SEQUENCE order_seq;".into(), &["L020"]),
        ("CREATE EXTENSION pgcrypto;".into(), &["L020"]),
        (
            "CREATE TABLE IF NOT EXISTS app_copy AS SELECT * FROM users;".into(),
            &[],
        ),
        // Indexes.
        (
            "CREATE INDEX IF NOT EXISTS users_email ON users (email);".into(),
            &["H011"],
        ),
        (
            "CREATE INDEX users_email ON users (email);".into(),
            &["H011", "L020"],
        ),
        (
            "CREATE UNIQUE INDEX ON users (lower(email));".into(),
            &["H011", "L020"],
        ),
        (
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);".into(),
            &["L022"],
        ),
        (
            "-- reconcile:no-transaction\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);"
                .into(),
            &[],
        ),
        (
            "-- reconcile:no-transaction\nBEGIN;\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);\nCOMMIT;"
                .into(),
            &["L022"],
        ),
        ("REINDEX INDEX CONCURRENTLY users_email;".into(), &["L022"]),
        // Constraints.
        (
            format!(
                "{LT}ALTER TABLE orders ADD CONSTRAINT orders_user_fk \
                 FOREIGN KEY (user_id) REFERENCES users (id);"
            ),
            &["L010"],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD CONSTRAINT orders_user_fk \
                 FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"
            ),
            &[],
        ),
        (
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;".into(),
            &[],
        ),
        (
            format!("{LT}ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0);"),
            &["L010"],
        ),
        (
            format!("{LT}ALTER TABLE orders ADD CONSTRAINT orders_pk PRIMARY KEY (id);"),
            &["H007"],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD CONSTRAINT orders_pk PRIMARY KEY USING INDEX orders_pk_idx;"
            ),
            &[],
        ),
        // Columns.
        (
            format!("{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;"),
            &[],
        ),
        (
            format!("{LT}ALTER TABLE orders ADD COLUMN note text;"),
            &["L020"],
        ),
        (
            format!("{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL;"),
            &["H004"],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new';"
            ),
            &[],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS created_at timestamptz \
                 NOT NULL DEFAULT now();"
            ),
            &[],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid();"
            ),
            &["H005"],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS seen timestamptz \
                 DEFAULT (clock_timestamp() + interval '1 day');"
            ),
            &["H005"],
        ),
        (
            format!("{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS n bigserial;"),
            &["H005"],
        ),
        (
            format!(
                "{LT}ALTER TABLE orders ADD COLUMN IF NOT EXISTS id2 bigint GENERATED ALWAYS AS IDENTITY;"
            ),
            &["H005"],
        ),
        (
            "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;".into(),
            &["L021"],
        ),
        (
            "SET lock_timeout = 0;\nALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;".into(),
            &["L021"],
        ),
        (
            "ALTER TABLE IF EXISTS users ENABLE ROW LEVEL SECURITY;".into(),
            &["L021"],
        ),
        // Enum labels used in the transaction that adds them.
        (
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';\n\
             UPDATE people SET mood = 'meh' WHERE mood IS NULL;"
                .into(),
            &["H008"],
        ),
        (
            "-- reconcile:no-transaction\nALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';\n\
             UPDATE people SET mood = 'meh' WHERE mood IS NULL;"
                .into(),
            &[],
        ),
        // Transaction control in a file the runner wraps.
        (
            "BEGIN;\nCREATE TABLE IF NOT EXISTS t (id int);\nCOMMIT;".into(),
            &["L023"],
        ),
        // A multi-statement file building on a table it creates: nothing is risky.
        (
            "CREATE TABLE IF NOT EXISTS t (id int);\n\
             ALTER TABLE t ADD COLUMN IF NOT EXISTS n int NOT NULL;\n\
             ALTER TABLE t ADD COLUMN IF NOT EXISTS u uuid DEFAULT gen_random_uuid();\n\
             CREATE INDEX IF NOT EXISTS t_n ON t (n);\n\
             ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (id);\n\
             ALTER TABLE t ADD CONSTRAINT t_n_positive CHECK (n > 0);"
                .into(),
            &[],
        ),
        // Allow directives.
        (
            format!("{LT}-- reconcile:allow D100 replaced by people (#12)\nDROP TABLE users;"),
            &[],
        ),
        (
            format!("{LT}DROP TABLE users; -- reconcile:allow D100 replaced by people (#12)"),
            &[],
        ),
        (
            "-- reconcile:allow D100,L021 one-off cleanup\nDROP TABLE users;".into(),
            &[],
        ),
        (
            format!(
                "{LT}-- Users moved to people.\n-- reconcile:allow D100 replaced (#12)\n\
                 -- another comment line\nDROP TABLE users;"
            ),
            &[],
        ),
        (
            format!("{LT}-- reconcile:allow D101 wrong code\nDROP TABLE users;"),
            &["D100", "L030"],
        ),
        (
            format!("{LT}-- reconcile:allow D100\nDROP TABLE users;"),
            &["D100", "L031"],
        ),
        (
            format!("{LT}-- reconcile:allow D100 too far away\n\nDROP TABLE users;"),
            &["D100", "L030"],
        ),
        (
            "-- reconcile:allow D999 no such code\nSELECT 1;".into(),
            &["L031"],
        ),
        (
            "SELECT 1; -- reconcile:allow D100 nothing here".into(),
            &["L030"],
        ),
        (
            "SELECT 1;\n-- reconcile:no-transaction\nSELECT 2;".into(),
            &["L031"],
        ),
    ];
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (sql, expected) in &cases {
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        let got = codes(sql);
        if got != expected {
            failures.push(format!(
                "{sql}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn diagnostics_point_at_the_first_token_of_the_statement() {
    let sql = "SET lock_timeout = '1s';\n\n-- drop the old table\n/* really */\n   DROP TABLE old;\n\
               UPDATE t\n  SET a = 1;\n";
    let found: Vec<(usize, usize, Code)> = lint_one(sql)
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect();
    assert_eq!(
        found,
        vec![
            (5, 4, Code::parse("D100").unwrap()),
            (6, 1, Code::parse("L004").unwrap())
        ]
    );
    let d = &lint_one(sql)[0];
    assert_eq!(d.statement, "DROP TABLE old;");
    assert_eq!(d.severity, Severity::Error);
    assert!(d.message.contains("old"), "{}", d.message);
    assert!(!d.help.is_empty());
}

#[test]
fn an_allow_covers_one_statement_only() {
    let sql = "SET lock_timeout = '1s';\n-- reconcile:allow D100 first one is fine\n\
               DROP TABLE a;\nDROP TABLE b;\n";
    let mut linter = lint::Linter::new(Options::default());
    linter.lint("m.sql", sql).expect("lints");
    let report = linter.finish();
    let left: Vec<(usize, String)> = report
        .diagnostics
        .iter()
        .map(|d| (d.line, d.code.to_string()))
        .collect();
    assert_eq!(left, vec![(4, "D100".to_owned())]);
    assert_eq!(report.allowed.len(), 1);
    assert_eq!(report.allowed[0].line, 3);
    assert_eq!(report.allowed[0].reason, "first one is fine");
}

#[test]
fn tables_created_by_earlier_files_are_new() {
    let mut linter = lint::Linter::new(Options::default());
    linter
        .lint(
            "1.sql",
            "CREATE TABLE IF NOT EXISTS app.events (id bigint);",
        )
        .expect("lints");
    linter
        .lint(
            "2.sql",
            "CREATE INDEX IF NOT EXISTS events_id ON app.events (id);\n\
             CREATE INDEX IF NOT EXISTS users_id ON users (id);",
        )
        .expect("lints");
    let report = linter.finish();
    let found: Vec<(&str, usize, String)> = report
        .diagnostics
        .iter()
        .map(|d| (d.file.as_str(), d.line, d.code.to_string()))
        .collect();
    assert_eq!(found, vec![("2.sql", 2, "H011".to_owned())]);
    assert_eq!(report.statements, 3);
}

#[test]
fn options_ignore_codes() {
    let options = Options {
        ignore: vec![Code::parse("L020").unwrap()],
    };
    let found = lint::lint_source("m.sql", "CREATE TABLE t (id int);", &options).unwrap();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let err = lint::lint_source(
        "m.sql",
        "SELECT 1;\nCREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN;\n",
        &Options::default(),
    )
    .expect_err("does not parse");
    let text = err.to_string();
    assert!(text.starts_with("m.sql:3:1: syntax error: "), "{text}");
    // The scanner fails on an unterminated string: the parser's snippet locates it.
    let err = lint::lint_source(
        "m.sql",
        "SELECT 1;\n\nSELECT 'abc\nFROM t;\n",
        &Options::default(),
    )
    .expect_err("does not parse");
    assert_eq!(
        err.to_string(),
        "m.sql:3:8: syntax error: unterminated quoted string at or near \"'abc…\""
    );
}

/// Random sequences of SQL fragments and noise — statements cut anywhere, stray quotes,
/// directives, DO bodies — give diagnostics or a syntax error, never a panic, and every
/// diagnostic points inside the text.
#[test]
fn random_fragments_never_panic() {
    use proptest::prelude::*;
    const FRAGMENTS: &[&str] = &[
        "DROP TABLE t",
        "ALTER TABLE t DROP COLUMN c",
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "UPDATE t SET a = 1",
        " WHERE a = 2",
        ";",
        "\n",
        "\n\n",
        "-- reconcile:allow D100 why",
        "-- reconcile:allow",
        "-- reconcile:no-transaction\n",
        "/* c */",
        "/*",
        "'",
        "$$",
        "DO $$ BEGIN ",
        " END $$",
        "EXECUTE 'DELETE FROM t';",
        "BEGIN",
        "COMMIT",
        "ALTER TYPE m ADD VALUE 'x'",
        "'x'",
        "é",
        "\0",
        "SET lock_timeout = 0",
    ];
    let strategy = proptest::collection::vec(0..FRAGMENTS.len(), 0..24);
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest::proptest!(config, |(picks in strategy)| {
        let sql: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
        if let Ok(found) = lint::lint_source("p.sql", &sql, &Options::default()) {
            let lines = sql.split('\n').count();
            for d in found {
                prop_assert!(d.line >= 1 && d.line <= lines, "{sql:?}: {d:?}");
                prop_assert!(d.column >= 1);
            }
        }
    });
}

// ---- The command line ----

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// Runs `reconcile lint ARGS` in tests/fixtures/lint: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .current_dir(fixtures())
        .arg("lint")
        .args(args)
        .args(["--color", "never"])
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .env_remove("PGSERVICE")
        .output()
        .expect("runs the binary");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

#[test]
fn cli_text_output() {
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, 3, "errors found: {stderr}");
    insta::assert_snapshot!("cli_text", stdout);
}

#[test]
fn cli_json_output() {
    let (code, stdout, stderr) = run(&["--format", "json"]);
    assert_eq!(code, 3, "errors found: {stderr}");
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(parsed["format_version"], 1);
    assert_eq!(parsed["status"], "errors");
    insta::assert_snapshot!("cli_json", stdout);
}

#[test]
fn cli_github_output() {
    let (code, stdout, stderr) = run(&["--format", "github"]);
    assert_eq!(code, 3, "errors found: {stderr}");
    for line in stdout.lines() {
        assert!(
            line.starts_with("::error file=migrations/") || line.starts_with("::warning file="),
            "{line}"
        );
        assert!(!line.contains('\r'));
    }
    insta::assert_snapshot!("cli_github", stdout);
}

#[test]
fn cli_exit_codes() {
    // Clean files.
    let (code, stdout, _) = run(&[
        "migrations/0001_create_users.sql",
        "migrations/0004_index_concurrently.sql",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("0 errors, 0 warnings in 2 files"),
        "{stdout}"
    );
    // Warnings only: success, unless warnings are denied.
    let (code, stdout, _) = run(&["warnings"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 errors, "), "{stdout}");
    assert!(!stdout.contains(", 0 warnings"), "{stdout}");
    let (code, _, _) = run(&["warnings", "--deny-warnings"]);
    assert_eq!(code, 3);
    // ... and `--allow` switches the codes off.
    let (code, stdout, _) = run(&[
        "warnings",
        "--deny-warnings",
        "--allow",
        "H011",
        "--allow",
        "L020",
        "--allow",
        "L021",
    ]);
    assert_eq!(code, 0, "{stdout}");
    // A syntax error: exit 1, with file:line and the parser's message.
    let (code, stdout, stderr) = run(&["broken"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stderr.contains("broken/0001_typo.sql:4:1: syntax error: syntax error at or near"),
        "{stderr}"
    );
    // Nothing to read: exit 1.
    let (code, _, stderr) = run(&["--migrations", "no-such-folder"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no-such-folder"), "{stderr}");
    let (code, _, _) = run(&["no-such-file.sql"]);
    assert_eq!(code, 1);
}

#[test]
fn cli_output_is_deterministic() {
    assert_eq!(run(&["--format", "json"]), run(&["--format", "json"]));
}

/// Runs `reconcile ARGS` in `dir` with no database in the environment, plus `env`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .args(args)
        .args(["--color", "never"]);
    for var in [
        "DATABASE_URL",
        "RUST_LOG",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSERVICE",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("runs the binary");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

/// Given a database, `lint` without FILES checks only the migrations still to run there; an
/// applied file's destructive statement is history, not a finding. Without one, every file.
#[test]
fn cli_default_is_the_pending_migrations_given_a_database() {
    let db = common::fresh_db();
    let project = tempfile::tempdir().expect("project folder");
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).expect("mkdir");
    std::fs::write(
        migrations.join("001_drop_legacy.sql"),
        "SET lock_timeout = '2s';\nDROP TABLE legacy;\n",
    )
    .expect("write");
    std::fs::write(
        migrations.join("002_fresh.sql"),
        "SET lock_timeout = '2s';\nCREATE TABLE fresh (id int PRIMARY KEY);\n",
    )
    .expect("write");
    // 001 is recorded as applied (without running it).
    let (code, _, stderr) = run_in(
        project.path(),
        &["migrate", "baseline", "1", "--database-url", &db.url],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");

    // No database: every file, and 001's DROP TABLE fails the run.
    let (code, stdout, stderr) = run_in(project.path(), &["lint"], &[]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.contains("D100"), "{stdout}");
    assert!(
        stderr.contains("note: no database given (--database-url, DATABASE_URL or PG*): linting all 2 migration file(s) in migrations"),
        "{stderr}"
    );

    // A database, by flag or by DATABASE_URL: only 002, which is clean.
    for (args, env) in [
        (vec!["lint", "--database-url", db.url.as_str()], vec![]),
        (vec!["lint"], vec![("DATABASE_URL", db.url.as_str())]),
    ] {
        let (code, stdout, stderr) = run_in(project.path(), &args, &env);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(!stdout.contains("D100"), "{stdout}");
        assert!(stdout.contains("in 1 file"), "{stdout}");
        assert!(
            stderr.contains("note: linting the 1 pending migration file(s) of migrations (of 2;"),
            "{stderr}"
        );
    }

    // A named database that cannot be reached is an error, not a silent fallback.
    let (code, _, stderr) = run_in(
        project.path(),
        &[
            "lint",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/nowhere",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot reach it"), "{stderr}");

    // FILES still win: the applied file can be linted on purpose.
    let (code, stdout, _) = run_in(
        project.path(),
        &[
            "lint",
            "migrations/001_drop_legacy.sql",
            "--database-url",
            &db.url,
        ],
        &[],
    );
    assert_eq!(code, 3, "{stdout}");
}

/// Regression (issue 16, item 14): without a database, `lint` linted the `.down.sql` files
/// too ("all 5 migration files" for 4 migrations), and their DROPs failed the run; down files
/// never run, so only the files `migrate apply` would run are linted — also for a folder
/// given as FILES. A down file named on purpose is still linted.
#[test]
fn down_files_are_not_linted() {
    let project = tempfile::tempdir().expect("project folder");
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).expect("mkdir");
    for (name, sql) in [
        (
            "001_users.up.sql",
            "CREATE TABLE IF NOT EXISTS users (id int);\n",
        ),
        ("001_users.down.sql", "DROP TABLE users;\n"),
        (
            "002_orders.sql",
            "CREATE TABLE IF NOT EXISTS orders (id int);\n",
        ),
        ("V3__x.sql", "CREATE TABLE IF NOT EXISTS x (id int);\n"),
        ("U3__x.sql", "DROP TABLE x;\n"),
        ("notes.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n"),
    ] {
        std::fs::write(migrations.join(name), sql).expect("write");
    }
    let (code, stdout, stderr) = run_in(project.path(), &["lint"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("in 4 files"), "{stdout}");
    assert!(
        stderr.contains(
            "linting all 4 migration file(s) in migrations (2 down files skipped: they never run)"
        ),
        "{stderr}"
    );
    let (code, stdout, stderr) = run_in(project.path(), &["lint", "migrations"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("in 4 files"), "{stdout}");
    let (code, stdout, _) = run_in(
        project.path(),
        &["lint", "migrations/001_users.down.sql"],
        &[],
    );
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains("D100"), "{stdout}");
}

/// Regression (issue 16, item 14): `lint` stopped at the first file that does not parse.
/// Every file is linted; each one that does not parse is reported with file:line:column and
/// the parser's message, after the report of the others, and the exit code is 1.
#[test]
fn every_file_is_linted_and_every_syntax_error_reported() {
    let project = tempfile::tempdir().expect("project folder");
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).expect("mkdir");
    for (name, sql) in [
        (
            "001_typo.sql",
            "SET lock_timeout = '2s';\nCREAT TABLE a (id int);\n",
        ),
        (
            "002_drop.sql",
            "SET lock_timeout = '2s';\nDROP TABLE legacy;\n",
        ),
        (
            "003_open.sql",
            "SET lock_timeout = '2s';\n\nSELECT 'never closed\nFROM t;\n",
        ),
        ("004_latin1.sql", "SET lock_timeout = '2s';\n-- caf\u{e9}\n"),
        ("005_fine.sql", "CREATE TABLE IF NOT EXISTS b (id int);\n"),
    ] {
        std::fs::write(migrations.join(name), sql).expect("write");
    }
    // Not UTF-8: the é above, written as Latin-1.
    let mut latin1 = b"SET lock_timeout = '2s';\n-- caf".to_vec();
    latin1.extend([0xe9, b'\n']);
    std::fs::write(migrations.join("004_latin1.sql"), latin1).expect("write");

    for format in ["text", "json", "github"] {
        let (code, stdout, stderr) = run_in(project.path(), &["lint", "--format", format], &[]);
        assert_eq!(code, 1, "{format}: {stdout}{stderr}");
        // The files that parse were linted: 002's DROP is reported.
        assert!(stdout.contains("D100"), "{format}: {stdout}");
        assert!(
            stderr.contains(
                "error: migrations/001_typo.sql:2:1: syntax error: syntax error at or near \"CREAT\""
            ),
            "{format}: {stderr}"
        );
        assert!(
            stderr.contains(
                "error: migrations/003_open.sql:3:8: syntax error: unterminated quoted string at or near \"'never closed…\""
            ),
            "{format}: {stderr}"
        );
        assert!(
            stderr.contains("error: migrations/004_latin1.sql:2:7: not UTF-8 text"),
            "{format}: {stderr}"
        );
        match format {
            "text" => assert!(
                stdout.contains("lint: 1 error, 0 warnings in 2 files (3 statements); 3 files could not be parsed"),
                "{stdout}"
            ),
            "json" => {
                let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
                assert_eq!(doc["status"], "errors");
                assert_eq!(doc["summary"]["files"], 2);
                let unparsed: Vec<(String, u64)> = doc["syntax_errors"]
                    .as_array()
                    .expect("syntax_errors")
                    .iter()
                    .map(|e| {
                        (
                            e["file"].as_str().unwrap_or_default().to_owned(),
                            e["line"].as_u64().unwrap_or_default(),
                        )
                    })
                    .collect();
                assert_eq!(
                    unparsed,
                    [
                        ("migrations/001_typo.sql".to_owned(), 2),
                        ("migrations/003_open.sql".to_owned(), 3),
                        ("migrations/004_latin1.sql".to_owned(), 2),
                    ]
                );
            }
            _ => assert!(
                stdout.contains(
                    "::error file=migrations/001_typo.sql,line=2,col=1,title=syntax error::syntax error at or near \"CREAT\""
                ),
                "{stdout}"
            ),
        }
    }
}

/// Issue 15 item 5 / issue 14 item 6: the statements of views, functions, triggers,
/// materialized views, partitions, policies, privileges, comments and owners — each risky
/// form with its code, and the safe form beside it with none.
#[test]
fn statements_of_the_new_kinds_get_exactly_their_codes() {
    let nt = "-- reconcile:no-transaction\n";
    let cases: Vec<(String, &[&str])> = vec![
        // Row-level security: switched off (L040), or on (nothing but the lock).
        (
            format!("{LT}ALTER TABLE todos DISABLE ROW LEVEL SECURITY;"),
            &["L040"],
        ),
        (
            format!("{LT}ALTER TABLE todos NO FORCE ROW LEVEL SECURITY;"),
            &["L040"],
        ),
        (
            format!("{LT}ALTER TABLE todos ENABLE ROW LEVEL SECURITY;"),
            &[],
        ),
        (
            format!("{LT}ALTER TABLE todos FORCE ROW LEVEL SECURITY;"),
            &[],
        ),
        (
            "ALTER TABLE todos ENABLE ROW LEVEL SECURITY;".into(),
            &["L021"],
        ),
        // Policies: every row (L042), altered (L041), CREATE/ALTER lock the table (L021).
        (
            format!("{LT}CREATE POLICY p ON todos FOR SELECT TO anon USING (true);"),
            &["L042"],
        ),
        (
            format!("{LT}CREATE POLICY p ON todos FOR INSERT WITH CHECK (true);"),
            &["L042"],
        ),
        (
            format!("{LT}CREATE POLICY p ON todos AS RESTRICTIVE USING (true);"),
            &[],
        ),
        (
            format!("{LT}CREATE POLICY p ON todos TO authenticated USING (owner = current_user);"),
            &[],
        ),
        (
            "CREATE POLICY p ON todos USING (owner = current_user);".into(),
            &["L021"],
        ),
        (
            "CREATE TABLE IF NOT EXISTS todos (owner text);\n\
             CREATE POLICY p ON todos USING (owner = current_user);"
                .into(),
            &[],
        ),
        (format!("{LT}ALTER POLICY p ON todos TO PUBLIC;"), &["L041"]),
        (
            format!("{LT}ALTER POLICY p ON todos USING (true);"),
            &["L041", "L042"],
        ),
        (
            format!("{LT}ALTER POLICY p ON todos RENAME TO q;"),
            &["D150"],
        ),
        (format!("{LT}DROP POLICY p ON todos;"), &["L005"]),
        // Privileges and comments: granting and commenting are safe; revoking is D180/D183.
        ("GRANT SELECT ON todos TO anon;".into(), &[]),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon;".into(),
            &[],
        ),
        ("REVOKE SELECT ON todos FROM anon;".into(), &["D180"]),
        ("COMMENT ON TABLE todos IS 'What to do';".into(), &[]),
        ("COMMENT ON POLICY p ON todos IS NULL;".into(), &[]),
        // Owners (L049).
        (
            format!("{LT}ALTER TABLE todos OWNER TO app_owner;"),
            &["L049"],
        ),
        (
            "ALTER FUNCTION touch() OWNER TO app_owner;".into(),
            &["L049"],
        ),
        ("ALTER SCHEMA app OWNER TO app_owner;".into(), &["L049"]),
        (
            "CREATE TABLE IF NOT EXISTS todos (id bigint);\nALTER TABLE todos OWNER TO app_owner;"
                .into(),
            &[],
        ),
        (
            "CREATE VIEW v AS SELECT 1 AS a;\nALTER TABLE v OWNER TO app_owner;\n\
             CREATE SEQUENCE IF NOT EXISTS s;\nALTER SEQUENCE s OWNER TO app_owner;"
                .into(),
            &[],
        ),
        // Views, functions, triggers: replacing in place is the safe form of drop-and-create.
        ("CREATE OR REPLACE VIEW v AS SELECT 1 AS a;".into(), &[]),
        ("DROP VIEW v;".into(), &["L005"]),
        (
            "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;".into(),
            &[],
        ),
        ("DROP FUNCTION f();".into(), &["L005"]),
        (
            "CREATE OR REPLACE TRIGGER tr BEFORE UPDATE ON todos FOR EACH ROW \
             EXECUTE FUNCTION touch();"
                .into(),
            &[],
        ),
        ("DROP TRIGGER tr ON todos;".into(), &["L005"]),
        // SECURITY DEFINER needs its own search_path (L046).
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;"
                .into(),
            &["L046"],
        ),
        (
            "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;"
                .into(),
            &["L046"],
        ),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER \
             SET search_path = pg_catalog, pg_temp AS $$ SELECT 1 $$;"
                .into(),
            &[],
        ),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY INVOKER AS $$ SELECT 1 $$;"
                .into(),
            &[],
        ),
        ("ALTER FUNCTION f() SECURITY DEFINER;".into(), &["L046"]),
        (
            "ALTER FUNCTION f() SECURITY DEFINER SET search_path = '';".into(),
            &[],
        ),
        // Triggers switched off (L048); switched on, nothing.
        (
            format!("{LT}ALTER TABLE todos DISABLE TRIGGER tr;"),
            &["L048"],
        ),
        (
            format!("{LT}ALTER TABLE todos DISABLE TRIGGER ALL;"),
            &["L048"],
        ),
        (
            format!("{LT}ALTER TABLE todos DISABLE TRIGGER USER;"),
            &["L048"],
        ),
        (format!("{LT}ALTER TABLE todos ENABLE TRIGGER tr;"), &[]),
        // Materialized views: a refresh blocks reads (L047) unless CONCURRENTLY.
        (format!("{LT}REFRESH MATERIALIZED VIEW totals;"), &["L047"]),
        (
            "REFRESH MATERIALIZED VIEW totals;".into(),
            &["L021", "L047"],
        ),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY totals;".into(), &[]),
        (
            "CREATE MATERIALIZED VIEW totals AS SELECT 1 AS n;\nREFRESH MATERIALIZED VIEW totals;"
                .into(),
            &[],
        ),
        // Partitions: DETACH without CONCURRENTLY (L043), CONCURRENTLY in a transaction
        // (L022), ATTACH of a table with rows and no CHECK (L044).
        (
            format!("{LT}ALTER TABLE events DETACH PARTITION events_2024;"),
            &["L043"],
        ),
        (
            format!("{nt}{LT}ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"),
            &[],
        ),
        (
            format!("{LT}ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"),
            &["L022"],
        ),
        (
            format!(
                "{LT}ALTER TABLE events ATTACH PARTITION events_2024 \
                 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
            ),
            &["L044"],
        ),
        (
            format!(
                "{LT}ALTER TABLE events_2024 ADD CONSTRAINT bound \
                 CHECK (at >= '2024-01-01' AND at < '2025-01-01') NOT VALID;\n\
                 ALTER TABLE events_2024 VALIDATE CONSTRAINT bound;\n\
                 ALTER TABLE events ATTACH PARTITION events_2024 \
                 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
            ),
            &[],
        ),
        (
            "CREATE TABLE IF NOT EXISTS events_2024 (at date);\n\
             ALTER TABLE events ATTACH PARTITION events_2024 \
             FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
                .into(),
            &[],
        ),
        // An index on a partitioned table: CONCURRENTLY fails (L045); ON ONLY plus each
        // partition's concurrent build and ATTACH is the way.
        (
            format!(
                "{nt}CREATE TABLE IF NOT EXISTS events (at date) PARTITION BY RANGE (at);\n\
                 CREATE INDEX CONCURRENTLY IF NOT EXISTS events_at ON events (at);"
            ),
            &["L045"],
        ),
        (
            format!(
                "{nt}CREATE INDEX IF NOT EXISTS events_at ON ONLY events (at);\n\
                 CREATE INDEX CONCURRENTLY IF NOT EXISTS events_2024_at ON events_2024 (at);\n\
                 ALTER INDEX events_at ATTACH PARTITION events_2024_at;"
            ),
            &[],
        ),
        (
            "CREATE INDEX IF NOT EXISTS events_at ON events (at);".into(),
            &["H011"],
        ),
    ];
    for (sql, expected) in cases {
        let expected: BTreeSet<String> = expected.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(codes(&sql), expected, "{sql}");
    }
}
