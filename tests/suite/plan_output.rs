//! Plan output is reviewed as text in pull requests, so it must be stable: snapshots of every
//! format for a realistic drift (tests/fixtures/plan/saas), and byte-identical output when
//! the same inputs are planned twice or the YAML files are renamed and reordered.
//!
//! Diff, plan and render are pure, so these tests need no database: the "live" side is a
//! YAML description of the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reconcile::diff;
use reconcile::model::{QualifiedName, Schema};
use reconcile::plan::{self, Context};
use reconcile::render::{self, Format, Report};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plan/saas")
        .join(name)
}

fn load(dir: &Path) -> Schema {
    reconcile::load::from_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn estimated_rows() -> BTreeMap<QualifiedName, f64> {
    let name = |s: &str| {
        let (schema, table) = s.split_once('.').unwrap_or(("public", s));
        QualifiedName::new(
            reconcile::model::Ident::new(schema).unwrap(),
            reconcile::model::Ident::new(table).unwrap(),
        )
    };
    BTreeMap::from([
        (name("accounts"), 12_500.0),
        (name("users"), 1_234_567.0),
        (name("audit_log"), -1.0),
    ])
}

/// Every format for `desired` planned against the fixture's live side.
fn render_all(desired: &Schema) -> BTreeMap<&'static str, String> {
    let live = load(&fixture("live"));
    let rows = estimated_rows();
    let diff = diff::diff(&live, desired, &diff::Options::default());
    let plan = plan::build(
        &diff,
        &Context {
            live: &live,
            estimated_rows: &rows,
            concurrently: true,
        },
    )
    .expect("the saas fixture plans");
    let report = Report {
        command: "plan",
        target: "db.example.com:5432/app",
        plan: &plan,
        live: &live,
        desired,
        skipped: &[],
    };
    [
        ("text", Format::Text),
        ("sql", Format::Sql),
        ("json", Format::Json),
        ("markdown", Format::Markdown),
    ]
    .into_iter()
    .map(|(name, format)| {
        let mut out = Vec::new();
        render::render(format, &report, false, &mut out).expect("render to memory");
        (name, String::from_utf8(out).expect("utf-8"))
    })
    .collect()
}

#[test]
fn every_format_matches_its_snapshot() {
    let outputs = render_all(&load(&fixture("desired")));
    for (name, text) in outputs {
        insta::assert_snapshot!(format!("saas_plan_{name}"), text);
    }
}

#[test]
fn colour_codes_only_when_asked() {
    let live = load(&fixture("live"));
    let desired = load(&fixture("desired"));
    let diff = diff::diff(&live, &desired, &diff::Options::default());
    let rows = BTreeMap::new();
    let plan = plan::build(
        &diff,
        &Context {
            live: &live,
            estimated_rows: &rows,
            concurrently: true,
        },
    )
    .expect("plans");
    let report = Report {
        command: "plan",
        target: "t",
        plan: &plan,
        live: &live,
        desired: &desired,
        skipped: &[],
    };
    let mut plain = Vec::new();
    let mut coloured = Vec::new();
    render::text::render(&report, false, &mut plain).expect("render");
    render::text::render(&report, true, &mut coloured).expect("render");
    assert!(!plain.contains(&0x1b), "no escape codes without colour");
    assert!(coloured.contains(&0x1b), "escape codes with colour");
}

#[test]
fn same_inputs_give_byte_identical_plans() {
    let desired = load(&fixture("desired"));
    assert_eq!(render_all(&desired), render_all(&desired));
}

/// The desired state split differently across files with other names, tables and keys in
/// another order, must plan identically.
#[test]
fn renamed_and_reordered_yaml_files_give_the_same_plan() {
    let original = render_all(&load(&fixture("desired")));
    let dir = tempfile::tempdir().expect("temp dir");
    let public = std::fs::read_to_string(fixture("desired/public.yaml")).expect("fixture");
    let billing = std::fs::read_to_string(fixture("desired/billing.yaml")).expect("fixture");
    // Move `projects` (the last table) to the front of the tables map.
    let (head, projects) = public
        .split_once("  projects:\n")
        .expect("fixture has a projects table");
    let (before_tables, tables) = head.split_once("tables:\n").expect("fixture has tables");
    let reordered = format!("{before_tables}tables:\n  projects:\n{projects}{tables}");
    std::fs::write(dir.path().join("00-zz-last-alphabetically.yaml"), billing).expect("write");
    std::fs::write(dir.path().join("zz-public-renamed.yaml"), reordered).expect("write");
    let reloaded = load(dir.path());
    assert_eq!(reloaded, load(&fixture("desired")), "same model");
    assert_eq!(render_all(&reloaded), original);
}
