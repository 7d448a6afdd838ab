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

use std::path::PathBuf;

use reconcile::model::{Column, Domain, EnumType, QualifiedName, Schema, Table};

use crate::common::drift::model_difference;
use crate::common::generate;

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
    let mut model = Schema::default();
    model.schemas = ["public", "app"].into_iter().map(generate::ident).collect();
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
