//! `reconcile pull --out DIR` next to files already there (issue 16, item 6): a file whose
//! content differs — hand edits, comments — is never overwritten without `--force`, the
//! refusal names every such file, and nothing at all is written when one is refused. Pulling
//! again into an unchanged folder is fine.

use crate::common;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use common::{assert_exit, text};

fn pull(url: &str, out: &Path, extra: &[&str]) -> Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .args(["pull", "--database-url", url, "--out"])
        .arg(out)
        .args(extra)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run reconcile pull")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn pull_never_overwrites_a_hand_edited_file_without_force() {
    let db = common::fresh_db();
    db.psql(
        "CREATE TABLE t (id bigint PRIMARY KEY);
         CREATE SCHEMA app;
         CREATE TABLE app.a (id bigint PRIMARY KEY);",
    )
    .expect("setup");
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("schema");
    assert_exit(&pull(&db.url, &out, &[]), 0);
    let public = out.join("public.yaml");
    let app = out.join("app.yaml");
    let pulled_app = read(&app);

    // Pulling again over identical files is not an overwrite.
    let again = pull(&db.url, &out, &[]);
    assert_exit(&again, 0);
    assert!(
        text(&again.stderr).contains("0 written, 2 unchanged"),
        "{}",
        text(&again.stderr)
    );

    // A hand edit in one file, a table added in the database (the other file would change)
    // and a new schema (a new file) — the edit is refused, and so nothing is written.
    let edited = format!("# Orders live here; see ADR 12.\n{}", read(&public));
    std::fs::write(&public, &edited).expect("edit public.yaml");
    db.psql("CREATE TABLE app.b (id bigint); CREATE SCHEMA extra;")
        .expect("change the database");
    let refused = pull(&db.url, &out, &[]);
    assert_exit(&refused, 1);
    let stderr = text(&refused.stderr);
    for expected in [
        "would overwrite 2 file(s)",
        public.to_str().expect("UTF-8"),
        app.to_str().expect("UTF-8"),
        "Nothing was written",
        "--force",
    ] {
        assert!(stderr.contains(expected), "no `{expected}`: {stderr}");
    }
    assert_eq!(read(&public), edited, "the edited file was overwritten");
    assert_eq!(
        read(&app),
        pulled_app,
        "a file was written despite the refusal"
    );
    assert!(
        !out.join("extra.yaml").exists(),
        "a new file was written despite the refusal"
    );

    let forced = pull(&db.url, &out, &["--force"]);
    assert_exit(&forced, 0);
    assert!(
        !read(&public).contains("ADR 12"),
        "--force did not overwrite"
    );
    assert!(read(&app).contains("b:"), "{}", read(&app));
    assert!(out.join("extra.yaml").exists());
}
