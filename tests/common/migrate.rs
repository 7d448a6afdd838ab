//! `reconcile migrate` run as a deploy job would, on a fresh database and migrations folder:
//! shared by the migrate tests of the suite and the real series of the corpus target.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_reconcile");

/// Hang guard for one invocation, never a timing assertion.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// A fresh database and an empty migrations folder.
pub struct Fixture {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            db: super::fresh_db(),
            dir: tempfile::tempdir().expect("a migrations folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, sql: &str) {
        std::fs::write(self.path().join(name), sql).expect("write a migration");
    }

    /// `reconcile --database-url … migrate --migrations DIR <args>`, no ambient settings.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(BIN);
        command
            .args([
                "--color",
                "never",
                "--database-url",
                &self.db.url,
                "migrate",
            ])
            .arg("--migrations")
            .arg(self.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .stdin(Stdio::null());
        assert_cmd::Command::from_std(command)
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    }

    pub fn sql(&self, sql: &str) -> String {
        self.db
            .psql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    }

    pub fn exists(&self, relation: &str) -> bool {
        self.sql(&format!("SELECT to_regclass('{relation}') IS NOT NULL")) == "t"
    }

    /// `file|success|batch` per tracking row, oldest first.
    pub fn tracked(&self) -> Vec<String> {
        if !self.exists("reconcile.migrations") {
            return Vec::new();
        }
        self.sql("SELECT file || '|' || CASE WHEN success THEN 't' ELSE 'f' END || '|' || batch FROM reconcile.migrations ORDER BY id")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

pub fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(code(out), Some(expected), "{}", show(out));
    assert!(
        !stderr(out).contains("panicked"),
        "reconcile panicked: {}",
        show(out)
    );
}

pub fn status_json(f: &Fixture) -> (Value, Option<i32>) {
    let out = f.run(&["status", "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status JSON does not parse ({e}): {}", show(&out)));
    (json, code(&out))
}
