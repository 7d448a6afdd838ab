//! The command line: bad desired state exits 1 with a positioned error. `plan` opens the
//! connection (read-only) while the files are parsed; its errors never replace the file's.

use crate::common;

use std::path::Path;

use assert_cmd::Command;

#[test]
fn bad_yaml_exits_1_with_its_position_not_a_connection_error() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_yaml");
    let mut cases: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("bad_yaml fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "expected the bad-YAML catalogue");
    // Inputs the loader still accepts (listed in tests/bad_yaml.rs as known gaps).
    let accepted = [
        "empty_collation",
        "enum_and_table_same_name",
        "identity_increment_zero",
        "primary_key_repeats_column",
        "sequence_min_above_max",
    ];
    for case in cases {
        if case
            .file_name()
            .is_some_and(|n| accepted.iter().any(|a| n == *a))
        {
            continue;
        }
        // Port 1 on loopback: a connection attempt would fail with "cannot connect".
        let output = Command::cargo_bin("reconcile")
            .expect("binary")
            .args(["plan", "--color", "never", "--schema"])
            .arg(&case)
            .env(
                "DATABASE_URL",
                "postgres://nobody:secret-password@127.0.0.1:1/none",
            )
            .output()
            .expect("run reconcile");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            case.display()
        );
        assert!(stderr.contains("error:"), "{}: {stderr}", case.display());
        assert!(
            !stderr.contains("cannot connect"),
            "{} reported the connection instead of the file: {stderr}",
            case.display()
        );
        assert!(
            !stderr.contains("secret-password"),
            "password leaked: {stderr}"
        );
    }
}

#[test]
fn connection_errors_never_show_the_password() {
    let output = Command::cargo_bin("reconcile")
        .expect("binary")
        .args(["pull", "--out"])
        .arg(std::env::temp_dir().join("reconcile-cli-never-written"))
        .env(
            "DATABASE_URL",
            "postgres://nobody:secret-password@127.0.0.1:1/none",
        )
        .output()
        .expect("run reconcile");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to 127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret-password"),
        "password leaked: {stderr}"
    );
}

/// `plan` reads the catalog while the YAML is parsed, in the schemas the files' `schema:` lines
/// name. Here the files also name `ext` (an extension's schema), which the guess misses: the
/// catalog is read again in the right scope, and the database is seen as in sync.
#[test]
fn the_catalog_is_read_again_when_the_files_name_more_schemas() {
    let db = common::fresh_db();
    db.psql(
        "CREATE SCHEMA ext;
         CREATE EXTENSION pgcrypto SCHEMA ext;
         CREATE TABLE public.t (id bigint PRIMARY KEY);",
    )
    .expect("setup");
    let dev = common::fresh_db();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("public.yaml"),
        "schema: public\nextensions:\n  - { name: pgcrypto, schema: ext }\ntables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n",
    )
    .expect("write");
    let output = Command::cargo_bin("reconcile")
        .expect("binary")
        .args(["plan", "--color", "never", "-v", "--database-url", &db.url])
        .args(["--dev-url", &dev.url, "--schema"])
        .arg(dir.path())
        .output()
        .expect("run reconcile");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.matches("introspected").count(),
        2,
        "read once on the guess, once in the files' schemas: {stderr}"
    );
}
