//! Which database a command talks to (issue 16, items 3 and 10).
//!
//! * A command that reads or writes a real database (`apply`, `verify`, `migrate apply`,
//!   `migrate baseline`, `migrate status`, `history`, `pull`, `rollback --run`) must be told
//!   which one: without `--database-url`, `DATABASE_URL` or the libpq `PG*` variables it exits
//!   1 and says how to name one. It used to fall back to an empty throwaway PostgreSQL and
//!   exit 0, so a deploy job whose `DATABASE_URL` secret was missing went green.
//! * `plan` keeps previewing against an empty throwaway (the README's first command).
//! * Only `postgres://` and `postgresql://` URLs are accepted, for every option that takes
//!   one; a `mysql://` URL used to be tried as a PostgreSQL server on port 5432. Messages name
//!   the option and what a valid URL looks like, and never echo the password.
//!
//! Every run has `DATABASE_URL`, the `PG*` variables and `RECONCILE_DEV_URL` removed from its
//! environment.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_exit, text};

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");
const TIMEOUT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "hunter2-do-not-print";

const SCHEMA: &str = "\
tables:
  accounts:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
";

/// A project folder: `schema/` and `migrations/`, as a user would have.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a project folder");
    std::fs::create_dir(dir.path().join("schema")).expect("schema/");
    std::fs::write(dir.path().join("schema/app.yaml"), SCHEMA).expect("schema/app.yaml");
    std::fs::create_dir(dir.path().join("migrations")).expect("migrations/");
    std::fs::write(
        dir.path().join("migrations/V1__accounts.sql"),
        "CREATE TABLE accounts (id bigint PRIMARY KEY);\n",
    )
    .expect("a migration");
    dir
}

/// `reconcile ARGS` in `dir`, with no database named anywhere in the environment.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .stdin(Stdio::null());
    for var in [
        "DATABASE_URL",
        "RECONCILE_DEV_URL",
        "RECONCILE_SHADOW_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSERVICE",
        "PGPASSWORD",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    assert_cmd::Command::from_std(command)
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile")
}

/// Regression (issue 16 item 3): `apply` with no database named applied to a throwaway and
/// exited 0. Now every command that reads or writes a real database exits 1, says which
/// options name one, and starts no throwaway PostgreSQL.
#[test]
fn commands_on_a_real_database_refuse_to_run_without_one() {
    let dir = project();
    let commands: &[&[&str]] = &[
        &["apply"],
        &["verify"],
        &["migrate", "apply"],
        &["migrate", "baseline", "1"],
        &["migrate", "status"],
        &["history"],
        &["pull", "--out", "pulled"],
        &["rollback", "--run", "1"],
    ];
    for args in commands {
        let output = run_in(dir.path(), args);
        let stderr = text(&output.stderr);
        assert_exit(&output, 1);
        assert!(
            stderr.contains("needs a database, and none was named"),
            "{args:?}: {stderr}"
        );
        for option in ["--database-url", "DATABASE_URL", "PGHOST"] {
            assert!(stderr.contains(option), "{args:?} names {option}: {stderr}");
        }
        assert!(
            !stderr.contains("throwaway PostgreSQL on port"),
            "{args:?} started a throwaway: {stderr}"
        );
        assert!(
            text(&output.stdout).is_empty(),
            "{args:?} printed a result: {}",
            text(&output.stdout)
        );
    }
    assert!(
        !dir.path().join("pulled").exists(),
        "pull wrote files from a database nobody named"
    );
}

/// An empty `DATABASE_URL` (a CI secret that is not set expands to "") names no database.
#[test]
fn an_empty_database_url_is_no_database() {
    let dir = project();
    let mut command = Command::new(BIN);
    command
        .current_dir(dir.path())
        .args(["--color", "never", "apply"])
        .env("DATABASE_URL", "")
        .stdin(Stdio::null());
    for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"] {
        command.env_remove(var);
    }
    let output = assert_cmd::Command::from_std(command)
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile");
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("needs a database"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("set but empty: is the CI secret that sets it missing?"),
        "{}",
        text(&output.stderr)
    );
}

/// `plan` without a database still previews the schema against an empty throwaway
/// PostgreSQL, and says so.
#[test]
fn plan_still_previews_against_a_throwaway() {
    let dir = project();
    let output = run_in(dir.path(), &["plan"]);
    assert_exit(&output, 2);
    assert!(
        text(&output.stderr).contains("no --database-url or DATABASE_URL given"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("accounts"),
        "{}",
        text(&output.stdout)
    );
}

/// Regression (issue 16 item 10): a `mysql://` URL was parsed as a PostgreSQL server on
/// host:5432. Each option that takes a URL refuses any scheme but postgres:// and
/// postgresql://, names itself, shows what a valid URL looks like, never echoes the password,
/// and tries no connection.
#[test]
fn non_postgresql_urls_are_refused_by_every_option() {
    let dir = project();
    let url = format!("mysql://root:{PASSWORD}@db.invalid/app");
    let target = format!("postgres://nobody:{PASSWORD}@127.0.0.1:1/none");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--database-url", &url, "apply"],
            "--database-url / DATABASE_URL",
        ),
        (
            vec!["--database-url", &url, "plan"],
            "--database-url / DATABASE_URL",
        ),
        (
            vec!["--database-url", &url, "migrate", "status"],
            "--database-url / DATABASE_URL",
        ),
        (
            vec!["--database-url", &target, "--dev-url", &url, "plan"],
            "--dev-url / RECONCILE_DEV_URL",
        ),
        (
            vec!["--database-url", &target, "--dev-url", &url, "apply"],
            "--dev-url / RECONCILE_DEV_URL",
        ),
        (
            vec!["shadow", "--shadow-url", &url],
            "--shadow-url / RECONCILE_SHADOW_URL",
        ),
    ];
    for (args, option) in cases {
        let output = run_in(dir.path(), &args);
        let stderr = text(&output.stderr);
        assert_exit(&output, 1);
        assert!(
            stderr.contains(option),
            "{args:?}: the message names {option}: {stderr}"
        );
        assert!(
            stderr.contains("`mysql://`") && stderr.contains("postgres://USER:PASSWORD@HOST"),
            "{args:?}: the message says what was wrong and what is right: {stderr}"
        );
        assert!(
            !stderr.contains(PASSWORD) && !text(&output.stdout).contains(PASSWORD),
            "{args:?}: the password leaked: {stderr}"
        );
        assert!(
            !stderr.contains("cannot connect"),
            "{args:?}: a connection was tried: {stderr}"
        );
    }
}

/// Both PostgreSQL schemes are accepted (the connection then fails: nothing listens on port
/// 1), and other malformed values are refused with the option's name and no password.
#[test]
fn postgresql_schemes_pass_and_other_malformed_urls_are_named() {
    let dir = project();
    for scheme in ["postgres", "postgresql", "POSTGRES"] {
        let url = format!("{scheme}://nobody:{PASSWORD}@127.0.0.1:1/none");
        let output = run_in(dir.path(), &["--database-url", &url, "history"]);
        let stderr = text(&output.stderr);
        assert_exit(&output, 1);
        assert!(
            stderr.contains("cannot connect to 127.0.0.1:1/none"),
            "{scheme}: {stderr}"
        );
        assert!(!stderr.contains(PASSWORD), "{scheme}: {stderr}");
    }
    let malformed = [
        (format!("host=db password={PASSWORD}"), "key=value"),
        ("localhost:5432/app".to_owned(), "is not a URL"),
        (
            format!("postgres://u:{PASSWORD}@h:99999/db"),
            "invalid port number",
        ),
        (
            format!("postgres://u:{PASSWORD}@h/db?sslmode=sometimes"),
            "sometimes",
        ),
    ];
    for (url, why) in malformed {
        let output = run_in(dir.path(), &["--database-url", &url, "history"]);
        let stderr = text(&output.stderr);
        assert_exit(&output, 1);
        assert!(
            stderr.contains("--database-url / DATABASE_URL") && stderr.contains(why),
            "{why}: {stderr}"
        );
        assert!(!stderr.contains(PASSWORD), "{why}: {stderr}");
        assert!(!stderr.contains("cannot connect"), "{why}: {stderr}");
    }
}
