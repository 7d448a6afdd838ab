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

/// Regression (issue 16, item 2): with `schema/auth.yaml` present and `--ignore-schema auth`,
/// `plan` listed steps in `auth` and `apply` ran them, then failed "still pending" on every run
/// (the schema is never read back). A file describing an ignored schema is now an error at its
/// `schema:` line, for every command that loads the desired state, before any connection.
#[test]
fn a_desired_state_for_an_ignored_schema_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("a schema folder");
    std::fs::write(
        dir.path().join("public.yaml"),
        "tables:\n  t:\n    columns:\n      id: bigint\n",
    )
    .expect("write public.yaml");
    std::fs::write(
        dir.path().join("auth.yaml"),
        "# Supabase's auth, pulled by mistake\nschema: auth\ntables:\n  users:\n    columns:\n      id: uuid\n",
    )
    .expect("write auth.yaml");
    for command in ["plan", "verify", "apply"] {
        let output = Command::cargo_bin("reconcile")
            .expect("binary")
            .args([
                command,
                "--color",
                "never",
                "--ignore-schema",
                "auth",
                "--schema",
            ])
            .arg(dir.path())
            .env(
                "DATABASE_URL",
                "postgres://nobody:secret-password@127.0.0.1:1/none",
            )
            .output()
            .expect("run reconcile");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("auth.yaml:2:1") && stderr.contains("--ignore-schema auth"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("cannot connect"), "{command}: {stderr}");
    }
}

/// `--schema` (a folder of YAML) beside `--schema-name` (a PostgreSQL schema) confused users:
/// the folder option is `--schema-dir` now, takes one file too, and the old spelling still
/// works without being advertised.
#[test]
fn schema_dir_takes_a_folder_or_one_file_and_the_old_spelling_still_works() {
    let db = common::fresh_db();
    db.psql("CREATE TABLE t (id bigint PRIMARY KEY);")
        .expect("setup");
    let dev = common::fresh_db();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("public.yaml");
    std::fs::write(
        &file,
        "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not YAML").expect("write");
    let plan = |option: &str, path: &Path| {
        Command::cargo_bin("reconcile")
            .expect("binary")
            .args(["plan", "--color", "never", "--database-url", &db.url])
            .args(["--dev-url", &dev.url, option])
            .arg(path)
            .output()
            .expect("run reconcile")
    };
    for (option, path) in [
        ("--schema-dir", dir.path().to_path_buf()),
        ("--schema-dir", file.clone()),
        ("--schema", dir.path().to_path_buf()),
    ] {
        let output = plan(option, &path);
        common::assert_exit(&output, 0);
    }
    let output = plan("--schema-dir", &dir.path().join("notes.txt"));
    common::assert_exit(&output, 1);
    assert!(
        common::text(&output.stderr).contains("not a .yaml or .yml file"),
        "{}",
        common::text(&output.stderr)
    );

    let help = Command::cargo_bin("reconcile")
        .expect("binary")
        .args(["plan", "--help"])
        .output()
        .expect("run reconcile");
    let help = common::text(&help.stdout);
    assert!(help.contains("--schema-dir <PATH>"), "{help}");
    assert!(
        !help.contains("--schema <"),
        "the old spelling is advertised: {help}"
    );
}
