//! The round trip without a database (DESIGN invariant 6): for generated canonical models
//! (`tests/common/generate.rs`), `load(pull(model)) == model`.
//!
//! `pull` writes every model as the YAML users write, choosing shorthands (`serial`,
//! `primary_key: true`, default names left out, short references and owners) exactly when they
//! read back the same; the loader must read each file back to the model it came from, or a
//! pulled schema shows drift against the very database it was pulled from. The models are
//! what the catalog could hold — hostile names (quotes, dots, spaces, line breaks, keywords,
//! names of built-in types, 63 bytes), every column, constraint and index option, enums
//! (also without labels), domains, composites (also without attributes), standalone, owned
//! and serial sequences, several schemas, an unmanaged `public`, types and tables of schemas
//! the model does not describe. A failure prints the difference and the pulled files.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use reconcile::ident::parse_dotted;
use reconcile::model::{
    Column, ConstraintKind, Domain, EnumType, IndexTarget, QualifiedName, Schema, Table,
};

use crate::common::drift::model_difference;
use crate::common::generate::{self, LONG_NAME};

fn pulled(model: &Schema) -> Vec<(PathBuf, String)> {
    reconcile::pull::render(model)
        .into_iter()
        .map(|(name, text)| (PathBuf::from("pulled").join(name), text))
        .collect()
}

fn dump(files: &[(PathBuf, String)]) -> String {
    files
        .iter()
        .map(|(path, text)| format!("--- {}\n{text}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pulls `model`, loads the files back; what went wrong, if anything.
fn round_trip(model: &Schema) -> Result<(), String> {
    let files = pulled(model);
    let loaded = reconcile::load::from_sources(&files)
        .map_err(|e| format!("the pulled YAML does not load:\n{e}\n{}", dump(&files)))?;
    if let Some(difference) = model_difference(model, &loaded, ("-model ", "+yaml  ")) {
        return Err(format!(
            "load(pull(model)) differs from the model:\n{difference}\n{}",
            dump(&files)
        ));
    }
    // Pulling what was loaded writes the same files (pull is a function of the model).
    let again = pulled(&loaded);
    if again != files {
        return Err(format!(
            "pulling the loaded model again writes other files:\n{}\n--- instead of\n{}",
            dump(&again),
            dump(&files)
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    })]

    #[test]
    fn load_of_pull_is_the_model(model in generate::schema()) {
        round_trip(&model).map_err(TestCaseError::fail)?;
    }
}

/// The generator produces the shapes the property is about, and the pulled files use both
/// the short and the long forms — or the property would pass without testing them.
#[test]
fn generator_covers_the_round_trip_shapes() {
    let mut runner = TestRunner::deterministic();
    let strategy = generate::schema();
    let mut seen = BTreeSet::new();
    let cases = 256;
    for _ in 0..cases {
        let model = strategy
            .new_tree(&mut runner)
            .expect("the generator draws a model")
            .current();
        let yaml: String = pulled(&model).into_iter().map(|(_, t)| t).collect();
        let mut saw = |what: &'static str, yes: bool| {
            if yes {
                seen.insert(what);
            }
        };
        saw(
            "unmanaged public",
            !model.schemas.iter().any(|s| s.as_str() == "public"),
        );
        saw("several schemas", model.schemas.len() > 2);
        saw("extension", !model.extensions.is_empty());
        saw(
            "enum without labels",
            model.enums.values().any(|e| e.values.is_empty()),
        );
        saw(
            "domain with checks",
            model.domains.values().any(|d| !d.checks.is_empty()),
        );
        saw(
            "domain collation",
            model.domains.values().any(|d| d.collation.is_some()),
        );
        saw(
            "composite without attributes",
            model.composites.values().any(|c| c.attributes.is_empty()),
        );
        saw(
            "composite collation",
            model
                .composites
                .values()
                .any(|c| c.attributes.iter().any(|a| a.collation.is_some())),
        );
        saw("serial", yaml.contains("serial"));
        saw(
            "owned sequence",
            model.sequences.values().any(|s| s.owned_by.is_some()),
        );
        saw("owned_by long form", yaml.contains("owned_by: {"));
        saw(
            "owned_by short form",
            yaml.contains("owned_by: ") && !yaml.contains("owned_by: {"),
        );
        saw(
            "sequence options",
            model.sequences.values().any(|s| !s.options.is_default()),
        );
        saw(
            "public type hidden by a built-in",
            yaml.contains("public.text") || yaml.contains("public.name"),
        );
        saw("quoted keyword type", yaml.contains("\\\"integer\\\""));
        saw("type of an unmanaged schema", yaml.contains("auth.factor"));
        saw(
            "type of an unmanaged public",
            yaml.contains("public.citext"),
        );
        saw("63-byte name", yaml.contains(LONG_NAME));
        saw("name with a line break", yaml.contains("line\\nbreak"));
        saw("qualified collation", yaml.contains("collation: { schema:"));
        saw(
            "qualified opclass",
            model.tables.values().any(|t| {
                t.indexes.values().any(|i| {
                    i.keys.iter().any(|k| {
                        k.opclass
                            .as_deref()
                            .and_then(parse_dotted)
                            .is_some_and(|parts| parts.len() == 2)
                    })
                })
            }),
        );
        saw(
            "trigram opclass",
            yaml.contains("gin_trgm_ops") || yaml.contains("gist_trgm_ops"),
        );
        saw("opclass long form", yaml.contains("opclass: {"));
        saw(
            "column primary key shorthand",
            yaml.contains("primary_key: true"),
        );
        saw("table primary key", yaml.contains("    primary_key:"));
        saw(
            "row level security",
            yaml.contains("row_level_security: true"),
        );
        saw(
            "force row level security",
            yaml.contains("force_row_level_security: true"),
        );
        saw("exclusion", yaml.contains("exclusions:"));
        saw("external foreign key", yaml.contains("auth.users(id)"));
        saw(
            "long foreign key target",
            yaml.contains("references: { table:"),
        );
        for (table_name, table) in &model.tables {
            saw("table without columns", table.columns.is_empty());
            for column in &table.columns {
                saw(
                    "identity with options",
                    column
                        .identity()
                        .as_ref()
                        .is_some_and(|i| !i.options.is_default()),
                );
                saw("identity", column.identity().is_some());
                saw("generated column", column.generated().is_some());
                saw("column default", column.default.is_some());
                saw("column collation", column.collation().is_some());
            }
            for constraint in table.constraints.values() {
                saw(
                    "deferrable",
                    constraint.deferrable && !constraint.initially_deferred,
                );
                saw("initially deferred", constraint.initially_deferred);
                match &constraint.kind {
                    ConstraintKind::PrimaryKey { include, .. } => {
                        saw("primary key include", !include.is_empty());
                    }
                    ConstraintKind::Unique {
                        include,
                        nulls_not_distinct,
                        ..
                    } => {
                        saw("unique include", !include.is_empty());
                        saw("unique nulls not distinct", *nulls_not_distinct);
                    }
                    ConstraintKind::Check { no_inherit, .. } => {
                        saw("check no inherit", *no_inherit);
                    }
                    ConstraintKind::ForeignKey(fk) => {
                        saw("foreign key match full", fk.match_full);
                        saw(
                            "foreign key across schemas",
                            fk.references.schema != table_name.schema,
                        );
                    }
                    ConstraintKind::Exclusion { .. } => {}
                }
            }
            for index in table.indexes.values() {
                saw("index include", !index.include.is_empty());
                saw("partial index", index.predicate.is_some());
                saw("index nulls not distinct", index.nulls_not_distinct);
                saw("unique index", index.unique);
                saw("non-btree index", index.method != "btree");
                for key in &index.keys {
                    saw(
                        "expression key",
                        matches!(key.target, IndexTarget::Expression(_)),
                    );
                    saw("descending key", key.descending);
                    saw("nulls first ascending", key.nulls_first && !key.descending);
                    saw("nulls last descending", !key.nulls_first && key.descending);
                    saw("key opclass", key.opclass.is_some());
                    saw("key collation", key.collation.is_some());
                }
            }
        }
    }
    let missing: Vec<&str> = EXPECTED
        .iter()
        .copied()
        .filter(|w| !seen.contains(w))
        .collect();
    assert!(
        missing.is_empty(),
        "not generated in {cases} cases: {missing:?}"
    );
}

const EXPECTED: &[&str] = &[
    "unmanaged public",
    "several schemas",
    "extension",
    "enum without labels",
    "domain with checks",
    "domain collation",
    "composite without attributes",
    "composite collation",
    "serial",
    "owned sequence",
    "owned_by long form",
    "owned_by short form",
    "sequence options",
    "public type hidden by a built-in",
    "quoted keyword type",
    "type of an unmanaged schema",
    "type of an unmanaged public",
    "63-byte name",
    "name with a line break",
    "qualified collation",
    "qualified opclass",
    "opclass long form",
    "column primary key shorthand",
    "table primary key",
    "row level security",
    "force row level security",
    "exclusion",
    "external foreign key",
    "long foreign key target",
    "table without columns",
    "identity with options",
    "identity",
    "generated column",
    "column default",
    "column collation",
    "deferrable",
    "initially deferred",
    "primary key include",
    "unique include",
    "unique nulls not distinct",
    "check no inherit",
    "foreign key match full",
    "foreign key across schemas",
    "index include",
    "partial index",
    "index nulls not distinct",
    "unique index",
    "non-btree index",
    "expression key",
    "descending key",
    "nulls first ascending",
    "nulls last descending",
    "key opclass",
    "key collation",
];

/// The comparison is not vacuous: a model with text the catalog would never print (a
/// collation without its quotes) does not survive the round trip, and the failure names it.
#[test]
fn negative_control_non_canonical_text_is_caught() {
    let mut runner = TestRunner::deterministic();
    let strategy = generate::schema();
    let mut model = loop {
        let model = strategy.new_tree(&mut runner).expect("a model").current();
        if model.tables.values().any(|t| !t.columns.is_empty()) {
            break model;
        }
    };
    assert_eq!(round_trip(&model), Ok(()));
    let column = model
        .tables
        .values_mut()
        .find_map(|t| t.columns.first_mut())
        .expect("a column");
    column.set_collation(Some("Not Quoted".to_owned()));
    let error = round_trip(&model).expect_err("a non-canonical collation drifts");
    assert!(
        error.contains("-model") && error.contains("Not Quoted"),
        "{error}"
    );
}

#[test]
fn the_long_name_is_the_longest_postgres_keeps() {
    assert_eq!(LONG_NAME.len(), 63);
}

// ---------------------------------------------------------------------------------------------
// What the property found, pinned.

fn name(schema: &str, name: &str) -> QualifiedName {
    QualifiedName::new(generate::ident(schema), generate::ident(name))
}

fn assert_round_trip(model: &Schema) {
    if let Err(e) = round_trip(model) {
        panic!("{e}");
    }
}

/// A column of `app` typed with the `public` domain `id` (printed `id`) while `app` has a
/// type `id` too: the loader looks an unqualified name up in the file's schema first, so
/// pull wrote `id` and it loaded as `app.id`. Pull now writes `public.id` there.
#[test]
fn a_public_type_named_like_a_type_of_the_file_schema_round_trips() {
    let mut model = Schema {
        schemas: ["public", "app"].into_iter().map(generate::ident).collect(),
        ..Schema::default()
    };
    model.domains.insert(
        name("public", "id"),
        Domain {
            data_type: "integer".into(),
            default: None,
            not_null: false,
            collation: None,
            checks: Default::default(),
        },
    );
    model
        .enums
        .insert(name("app", "id"), EnumType { values: vec![] });
    model.tables.insert(
        name("app", "t"),
        Table {
            columns: vec![
                Column::new(generate::ident("x"), "id"),
                Column::new(generate::ident("y"), "app.id"),
            ],
            ..Table::default()
        },
    );
    assert_round_trip(&model);
}

/// The file's header comment named the schema raw: a line break in the name ended the
/// comment and the rest of the name became YAML (here, a syntax error; in general, any YAML).
#[test]
fn a_schema_name_with_a_line_break_round_trips() {
    let mut model = Schema::default();
    let schema = "x\ntables: { injected: { columns: {} } }";
    model.schemas.insert(generate::ident(schema));
    model.tables.insert(name(schema, "t"), Table::default());
    assert_round_trip(&model);
}
