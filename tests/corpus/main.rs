//! The tests over schemas written by others (`../shared/corpus`, see its README), as a test
//! binary of their own so that a missing corpus cannot pass unnoticed: with `CI=true` (as
//! `.ci/run` sets) a missing corpus fails every test here; elsewhere each test prints a
//! `SKIPPED` banner straight to the terminal (past the test harness' output capture) and
//! returns.
//!
//! - `no_false_drift`: each schema loaded, pulled to YAML, loaded again — the same model.
//! - `convergence`: plan → psql twice → plan again is empty, over old → new pairs.
//! - `migrate_series`: supabase/auth's 70 migrations through `reconcile migrate`.
//! - `rebuild`: each real-world schema rebuilt on an empty database from its pulled YAML;
//!   triggers and materialized views rebuilt from the pulled state, same definitions.
//! - `rebuilt`: policies, row-level security and comments built from the pulled state come back.
//! - `pulled_yaml_schema`: every YAML file `pull` writes validates against the JSON Schema.

use std::io::Write as _;
use std::path::{Path, PathBuf};

#[path = "../common/mod.rs"]
mod common;

mod convergence;
mod migrate_series;
mod no_false_drift;
mod pulled_yaml_schema;
mod rebuild;
mod rebuilt;

/// The corpus folder; `None` (after a loud line on stderr) when it is missing outside CI.
/// `what` names the tests that did not run.
fn corpus_dir(what: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the corpus is missing at {} and CI=true: it must be there",
            dir.display()
        );
    }
    // Not `eprintln!`: the test harness captures that and shows it only for failing tests.
    // One write, so that the harness' own lines do not cut into it.
    let banner = format!(
        "\n########## SKIPPED: corpus not found at {} — {what} did not run ##########\n",
        dir.display()
    );
    let _ = std::io::stderr().write_all(banner.as_bytes());
    None
}
