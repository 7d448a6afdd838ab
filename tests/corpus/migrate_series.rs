//! A real migration series — supabase/auth's 70 migrations, from the corpus — through
//! `reconcile migrate` as a deploy job would run it: applied in version order, each file
//! recorded with its checksum, and a second apply is a no-op.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::common::migrate::{Fixture, assert_exit, show, status_json, stderr};

/// Cuts the concatenation back into its files (`-- ===== source: migrations/<name>` starts
/// each). The preamble before the first file (`CREATE SCHEMA IF NOT EXISTS auth;`, standing
/// in for the templated schema name) goes at the top of the first file.
fn split_series(concat: &str, dir: &Path) -> Vec<String> {
    const MARK: &str = "-- ===== source: migrations/";
    let mut preamble = String::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in concat.split_inclusive('\n') {
        if let Some(name) = line.trim_end().strip_prefix(MARK) {
            files.push((name.to_owned(), String::new()));
        } else if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
        } else if !line.starts_with("--") {
            preamble.push_str(line);
        }
    }
    if let Some((_, first)) = files.first_mut() {
        *first = format!("{preamble}{first}");
    }
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).expect("write a series file");
    }
    files.into_iter().map(|(name, _)| name).collect()
}

fn leading_number(name: &str) -> u64 {
    name.split('_').next().unwrap().parse().unwrap()
}

#[test]
fn supabase_auth_series_applies_in_order_and_a_second_apply_is_a_no_op() {
    let Some(corpus) = crate::corpus_dir("the real-series migrate test") else {
        return;
    };
    let corpus = corpus.join("real-world/supabase-auth/auth_migrations_concat.sql");
    let f = Fixture::new();
    let concat = std::fs::read_to_string(&corpus).expect("read the corpus");
    let mut names = split_series(&concat, f.path());
    assert_eq!(names.len(), 70, "the series has 70 files");
    names.sort_by_key(|n| leading_number(n));
    assert_eq!(names[0], "00_init_auth_schema.up.sql");
    assert!(!f.exists("auth.users"));

    let out = f.run(&["apply"]);
    assert_exit(&out, 0);

    // Every file recorded, in version order, in one batch, with the file's checksum.
    let rows: Vec<Vec<String>> = f
        .sql("SELECT file, version, checksum, success, batch, baselined FROM reconcile.migrations ORDER BY id")
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 70);
    for (row, name) in rows.iter().zip(&names) {
        assert_eq!(&row[0], name);
        assert_eq!(row[1], leading_number(name).to_string());
        let bytes = std::fs::read(f.path().join(name)).unwrap();
        let checksum: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(row[2], checksum, "{name}");
        assert_eq!(&row[3..], ["t", "1", "f"], "{name}");
    }
    assert_eq!(
        f.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'"),
        "1"
    );
    for table in [
        "auth.users",
        "auth.identities",
        "auth.sessions",
        "auth.flow_state",
    ] {
        assert!(f.exists(table), "{table} was not created");
    }

    // Nothing is pending: status exits 0, a second apply runs and records nothing.
    let (json, status_code) = status_json(&f);
    assert_eq!(status_code, Some(0));
    assert_eq!(json["counts"]["applied"], 70);
    let again = f.run(&["apply"]);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("nothing to apply"),
        "{}",
        show(&again)
    );
    assert_eq!(
        f.sql("SELECT count(*), max(batch) FROM reconcile.migrations"),
        "70|1"
    );
}
