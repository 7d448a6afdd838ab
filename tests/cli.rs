//! The command line: bad desired state exits 1 with a positioned error, before any
//! connection is attempted.

use std::path::Path;

use assert_cmd::Command;

#[test]
fn bad_yaml_exits_1_with_position_and_never_connects() {
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
            "{} tried to connect: {stderr}",
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
