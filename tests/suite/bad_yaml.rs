//! A catalogue of bad desired-state inputs and the errors the loader prints for them.
//!
//! Every folder under `tests/fixtures/bad_yaml/` is one case: the YAML files in it (possibly
//! several) are loaded with `reconcile::load::from_dir`, which must fail. The rendered errors
//! must point at a real position (except where none exists), fit on one screen, name the file
//! and contain every `# expect: <text>` line written in the case's files; the rendered text is
//! then kept as an insta snapshot `tests/suite/snapshots/suite__bad_yaml__<case>.snap`.
//!
//! Adding a folder adds a case; run with `INSTA_UPDATE=always` once to write its snapshot.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::common::yaml_schema::yaml_files;
use reconcile::load::{LoadErrors, from_dir};

/// Cases whose errors have no position in any file: the file has no YAML node at all, cannot
/// be read as text, or the folder has no YAML file.
const NO_POSITION: &[&str] = &["empty_file", "only_comments", "not_utf8", "no_yaml_files"];

/// Cases whose message must name every YAML file of the case (the error is about both).
const NAMES_EVERY_FILE: &[&str] = &["duplicate_table_across_files"];

/// Cases the loader gets wrong today (see the report of the loader owner); they are skipped by
/// `catalogue` and checked by the ignored test `known_loader_gaps`. Remove a case from here
/// once the loader handles it, and write its snapshot.
const KNOWN_LOADER_GAPS: &[&str] = &[
    // Rejected, but the report takes 57 lines: eight errors of seven lines each.
    "many_errors",
    // Rejected, but without a position.
    "sequence_increment_zero",
    // Accepted by the loader, rejected by PostgreSQL.
    "empty_collation",
    "enum_and_table_same_name",
    "identity_increment_zero",
    "primary_key_repeats_column",
    "sequence_min_above_max",
];

/// The most lines an error report may take: one terminal screen.
const SCREEN_LINES: usize = 40;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures/bad_yaml")
}

/// Every case folder, sorted by name.
fn cases() -> Vec<String> {
    let dir = fixtures();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable fixture entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 case name")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

/// What the case's files say about themselves: the first comment line, and the `# expect:`
/// lines (texts the rendered errors must contain).
fn annotations(files: &[PathBuf]) -> (String, Vec<String>) {
    let mut description = String::new();
    let mut expected = Vec::new();
    for file in files {
        // Lossy: a case may hold a file that is not UTF-8 on purpose.
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for line in String::from_utf8_lossy(&bytes).lines() {
            if let Some(e) = line.strip_prefix("# expect: ") {
                expected.push(e.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("# ")
                && description.is_empty()
            {
                description = d.trim().to_owned();
            }
        }
    }
    (description, expected)
}

/// The errors as a user sees them, with paths relative to the crate root.
fn render(errors: &LoadErrors) -> String {
    let prefix = format!("{}/", manifest_dir().display());
    errors.to_string().replace(&prefix, "")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Loads one case and checks everything except the snapshot; returns the rendered errors.
fn check(case: &str) -> String {
    let dir = fixtures().join(case);
    let files = yaml_files(&dir);
    let (_, expected) = annotations(&files);
    let errors = match from_dir(&dir) {
        Ok(_) => panic!("case {case}: the loader accepted it, but it must be rejected"),
        Err(errors) => errors,
    };
    assert!(!errors.0.is_empty(), "case {case}: Err with no error in it");
    let rendered = render(&errors);

    for error in &errors.0 {
        if NO_POSITION.contains(&case) {
            assert_eq!(
                error.origin.line, 0,
                "case {case}: listed as having no position, but the error has one:\n{rendered}"
            );
        } else {
            assert!(
                error.origin.line > 0 && error.origin.column > 0,
                "case {case}: an error without a position ({}):\n{rendered}",
                error.origin
            );
            assert!(
                error.source_line.is_some(),
                "case {case}: an error at {} without its source line:\n{rendered}",
                error.origin
            );
        }
    }
    let lines = rendered.lines().count();
    assert!(
        lines <= SCREEN_LINES,
        "case {case}: the report takes {lines} lines, more than one screen ({SCREEN_LINES}):\n{rendered}"
    );
    for error in &errors.0 {
        let name = file_name(&error.origin.file);
        assert!(
            rendered.contains(&name),
            "case {case}: the report does not name {name}:\n{rendered}"
        );
    }
    if NAMES_EVERY_FILE.contains(&case) {
        for file in &files {
            let name = file_name(file);
            assert!(
                rendered.contains(&name),
                "case {case}: the report does not name {name}:\n{rendered}"
            );
        }
    }
    for text in &expected {
        assert!(
            rendered.contains(text.as_str()),
            "case {case}: the report does not contain `{text}`:\n{rendered}"
        );
    }
    rendered
}

fn snapshot(case: &str, rendered: &str) {
    let files = yaml_files(&fixtures().join(case));
    let (description, _) = annotations(&files);
    let description = if description.is_empty() {
        format!("tests/fixtures/bad_yaml/{case}")
    } else {
        format!("tests/fixtures/bad_yaml/{case}: {description}")
    };
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => true,
        omit_expression => true,
        description => description,
    }, {
        insta::assert_snapshot!(case.to_owned(), rendered);
    });
}

/// Runs `f` for every case, reporting every failing case rather than only the first.
fn for_each_case(cases: &[String], f: impl Fn(&str)) {
    let mut failed = Vec::new();
    for case in cases {
        if catch_unwind(AssertUnwindSafe(|| f(case))).is_err() {
            failed.push(case.clone());
        }
    }
    assert!(failed.is_empty(), "failing cases: {}", failed.join(", "));
}

#[test]
fn catalogue() {
    let all = cases();
    assert!(
        all.len() >= 30,
        "the catalogue has only {} cases",
        all.len()
    );
    for listed in NO_POSITION
        .iter()
        .chain(NAMES_EVERY_FILE)
        .chain(KNOWN_LOADER_GAPS)
    {
        assert!(
            all.iter().any(|c| c == listed),
            "{listed} is listed in this test but has no folder under tests/fixtures/bad_yaml"
        );
    }
    let active: Vec<String> = all
        .into_iter()
        .filter(|c| !KNOWN_LOADER_GAPS.contains(&c.as_str()))
        .collect();
    for_each_case(&active, |case| snapshot(case, &check(case)));
}

/// Every snapshot belongs to a case that still exists.
#[test]
fn no_orphan_snapshots() {
    let cases: BTreeSet<String> = cases().into_iter().collect();
    // Where insta keeps them: `snapshots/` beside this file, named by the module path.
    let dir = manifest_dir()
        .join(Path::new(file!()).parent().expect("a folder"))
        .join("snapshots");
    let prefix = format!("{}__", module_path!().replace("::", "__"));
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the snapshots folder {}: {e}", dir.display()));
    let orphans: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter_map(|n| {
            n.strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(".snap"))
                .map(str::to_owned)
        })
        .filter(|case| !cases.contains(case) || KNOWN_LOADER_GAPS.contains(&case.as_str()))
        .collect();
    assert!(
        orphans.is_empty(),
        "snapshots without an active case (delete them): {}",
        orphans.join(", ")
    );
}

/// The cases the loader does not handle yet; run with `--ignored` after fixing the loader.
#[test]
#[ignore = "known loader gaps, see KNOWN_LOADER_GAPS"]
fn known_loader_gaps() {
    let gaps: Vec<String> = KNOWN_LOADER_GAPS.iter().map(|c| (*c).to_owned()).collect();
    for_each_case(&gaps, |case| {
        check(case);
    });
}
