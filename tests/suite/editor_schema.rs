//! The JSON Schema of the desired-state YAML, for editors (issue 17, item 5): the committed
//! copies are what the binary generates; the repository's own YAML validates; the schema
//! rejects the bad-YAML cases a schema can judge (unknown keys, wrong types, unknown words)
//! and accepts those only the loader can (a bad type name, a missing table); its word lists
//! are words the loader accepts; `pull` and `init` write it beside the YAML their modeline
//! points at. The corpus' pulled YAML is validated in the `corpus` target.

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::yaml_schema::{self, yaml_files};
use common::{assert_exit, text};
use reconcile::load::json_schema;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reconcile(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("reconcile")
        .expect("the reconcile binary")
        .current_dir(cwd)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("RECONCILE_DEV_URL")
        .output()
        .expect("run reconcile")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_committed_schema_is_what_schema_json_writes() {
    let generated = json_schema::generate();
    let stdout = reconcile(root(), &["schema-json"]);
    assert_exit(&stdout, 0);
    assert_eq!(text(&stdout.stdout), generated);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("s.json");
    let written = reconcile(
        dir.path(),
        &["schema-json", "--out", out.to_str().expect("UTF-8")],
    );
    assert_exit(&written, 0);
    assert_eq!(read(&out), generated);
    for committed in [
        "docs/reconcile.schema.json",
        "examples/project/schema/reconcile.schema.json",
    ] {
        assert!(
            read(&root().join(committed)) == generated,
            "{committed} is stale: the loader's types changed. Regenerate it with \
             `cargo run -- schema-json --out {committed}` and commit it"
        );
    }
    // A folder that is not there is an error naming it, not a panic.
    let nowhere = reconcile(
        dir.path(),
        &["schema-json", "--out", "no/such/folder/s.json"],
    );
    assert_exit(&nowhere, 1);
    assert!(
        text(&nowhere.stderr).contains("cannot write no/such/folder/s.json"),
        "{}",
        text(&nowhere.stderr)
    );
}

#[test]
fn the_repositorys_desired_state_yaml_validates() {
    let validator = yaml_schema::validator();
    let mut files = yaml_files(&root().join("schema"));
    files.extend(yaml_files(&root().join("examples/project/schema")));
    for fixtures in ["roundtrip", "plan", "ordering"] {
        files.extend(yaml_files(&root().join("tests/fixtures").join(fixtures)));
    }
    assert!(files.len() >= 20, "found only {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        match yaml_schema::errors(&validator, &read(file)) {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => failures.push(format!("{}: {errors:#?}", file.display())),
            Err(e) => failures.push(format!("{}: not YAML: {e}", file.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bad-YAML cases (`tests/fixtures/bad_yaml`) the schema rejects: a key or value whose shape
/// is wrong, or a word the resolver does not know.
const SCHEMA_REJECTS: &[&str] = &[
    "columns_at_top_level",
    "columns_not_indented",
    "duplicate_enum_value",
    "empty_column_name",
    "empty_file",
    "empty_schema_name",
    "enum_value_too_long",
    "file_is_a_scalar",
    "flow_mapping_unquoted_comma",
    "generated_with_default",
    "identity_and_generated",
    "identity_with_default",
    "index_key_column_and_expression",
    "key_without_columns",
    "not_null_is_a_number",
    "not_null_is_a_sentence",
    "not_null_yaml11_yes",
    "only_comments",
    "primary_key_repeats_column",
    "row_level_security_string",
    "table_body_is_list",
    "tables_is_a_list",
    "unknown_column_key_not_nul",
    "unknown_fk_action",
    "unknown_identity_kind",
    "unknown_index_order",
    "unknown_match_type",
    "unknown_nulls_order",
    "unknown_table_key",
    "unknown_top_level_key",
];

/// Cases that are not YAML an editor could check against a schema: the parser refuses them
/// first (syntax, tabs, duplicate keys, several documents, no file at all).
const NOT_YAML: &[&str] = &[
    "duplicate_column_key",
    "duplicate_table_in_one_file",
    "flow_sequence_not_closed",
    "key_indented_wrong",
    "multiple_documents",
    "no_yaml_files",
    "not_utf8",
    "quoted_string_not_closed",
    "tabs_for_indentation",
    "yaml_syntax_error",
];

/// The bad-YAML catalogue, case by case: what the schema can judge it rejects; what only the
/// loader can (a type PostgreSQL does not know, a column that is not there, an expression
/// that is two) it accepts — so a schema grown too strict fails here as well as one grown
/// too lax. A new case must be put in one of the lists (or neither: accepted).
#[test]
fn the_schema_rejects_the_bad_yaml_cases_a_schema_can_judge() {
    let validator = yaml_schema::validator();
    let cases = root().join("tests/fixtures/bad_yaml");
    let mut names: Vec<String> = std::fs::read_dir(&cases)
        .expect("the bad_yaml fixtures")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut wrong = Vec::new();
    let (mut rejected, mut not_yaml, mut accepted) = (Vec::new(), Vec::new(), Vec::new());
    for name in &names {
        let files = yaml_files(&cases.join(name));
        let mut errors = Vec::new();
        let mut parse_error = None;
        for file in &files {
            let Ok(text) = std::fs::read_to_string(file) else {
                parse_error = Some("not UTF-8".to_owned());
                continue;
            };
            match yaml_schema::errors(&validator, &text) {
                Ok(found) => errors.extend(found),
                Err(e) => parse_error = Some(e),
            }
        }
        if files.is_empty() {
            parse_error = Some("no YAML file".to_owned());
        }
        let verdict = match (&parse_error, errors.is_empty()) {
            (Some(_), _) => {
                not_yaml.push(name.clone());
                NOT_YAML.contains(&name.as_str())
            }
            (None, false) => {
                rejected.push(format!("{name}: {}", errors.join("; ")));
                SCHEMA_REJECTS.contains(&name.as_str())
            }
            (None, true) => {
                accepted.push(name.clone());
                !SCHEMA_REJECTS.contains(&name.as_str()) && !NOT_YAML.contains(&name.as_str())
            }
        };
        if !verdict {
            wrong.push(format!(
                "{name}: parse error {parse_error:?}, schema errors {errors:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "cases the lists classify otherwise:\n{}\n\nrejected by the schema:\n{}\n\nnot YAML:\n{}\n\naccepted:\n{}",
        wrong.join("\n"),
        rejected.join("\n"),
        not_yaml.join("\n"),
        accepted.join("\n")
    );
    eprintln!(
        "bad_yaml: {} rejected by the schema, {} not YAML, {} left to the loader",
        rejected.len(),
        not_yaml.len(),
        accepted.len()
    );
}

/// A one-file desired state with `word` where a definition of the schema says words go.
fn with_word(definition: &str, word: &str) -> Vec<String> {
    let table = |extra: &str| {
        format!(
            "tables:\n  t:\n    columns:\n      id: {{ type: bigint, primary_key: true }}\n{extra}"
        )
    };
    let word = serde_json::to_string(word).expect("a JSON string is a YAML string");
    match definition {
        "ForeignKeyAction" => vec![
            table(&format!(
                "      up: {{ type: bigint, references: {{ table: t, on_delete: {word} }} }}\n"
            )),
            table(&format!(
                "      up: {{ type: bigint, references: {{ table: t, on_update: {word} }} }}\n"
            )),
        ],
        "MatchType" => vec![table(&format!(
            "      up: {{ type: bigint, references: {{ table: t, match: {word} }} }}\n"
        ))],
        "IdentityKind" => vec![
            format!(
                "tables:\n  t:\n    columns:\n      id: {{ type: bigint, identity: {word} }}\n"
            ),
            format!(
                "tables:\n  t:\n    columns:\n      id: {{ type: bigint, identity: {{ generated: {word} }} }}\n"
            ),
        ],
        "IndexOrder" => vec![table(&format!(
            "    indexes:\n      - columns: [{{ column: id, order: {word} }}]\n"
        ))],
        "NullsOrder" => vec![table(&format!(
            "    indexes:\n      - columns: [{{ column: id, nulls: {word} }}]\n"
        ))],
        "PolicyCommand" => vec![table(&format!(
            "    policies:\n      p: {{ for: {word} }}\n"
        ))],
        "PolicyKind" => vec![table(&format!(
            "    policies:\n      p: {{ as: {word} }}\n"
        ))],
        // Each privilege is taken by some kind of object; `all` by every one.
        "Privilege" => [
            "schema",
            "tables: { t",
            "sequences: { s",
            "types: { e",
            "functions: { \"f()\"",
        ]
        .iter()
        .map(|on| {
            let grant = match on.split_once(": { ") {
                Some((section, name)) => {
                    format!("  {section}: {{ {name}: {{ app_user: [{word}] }} }}\n")
                }
                None => format!("  schema: {{ app_user: [{word}] }}\n"),
            };
            format!(
                "enums:\n  e: [a]\nsequences:\n  s: {{}}\n{}grants:\n{grant}",
                table("")
            )
        })
        .collect(),
        other => panic!("no template for the schema's word list {other}: add one"),
    }
}

fn loads(yaml: &str) -> Result<(), String> {
    reconcile::load::from_sources(&[(PathBuf::from("t.yaml"), yaml.to_owned())])
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The word lists the schema offers (for completion) are words the loader accepts, and the
/// spellings it allows besides (any case, `set null`) too; a word outside them is refused by
/// both. A negative control: the validator really rejects (a misspelt key, a wrong type).
#[test]
fn the_schemas_words_are_words_the_loader_accepts() {
    let validator = yaml_schema::validator();
    let schema: serde_json::Value = serde_json::from_str(&json_schema::generate()).expect("JSON");
    let mut checked = Vec::new();
    for (name, definition) in schema["definitions"].as_object().expect("definitions") {
        let listed = definition["enum"]
            .as_array()
            .or_else(|| definition["anyOf"][0]["enum"].as_array());
        let Some(listed) = listed else { continue };
        let lenient = definition["anyOf"][1]["pattern"].is_string();
        for word in listed {
            let word = word.as_str().expect("a word");
            let mut spellings = vec![word.to_owned()];
            if lenient {
                spellings.push(word.to_uppercase());
            }
            if name == "ForeignKeyAction" {
                spellings.push(word.replace('_', " "));
            }
            if name == "Privilege" {
                spellings.push(format!("{word} WITH GRANT OPTION"));
            }
            for spelling in spellings {
                let documents = with_word(name, &spelling);
                assert!(
                    documents.iter().any(|d| loads(d).is_ok()),
                    "{name}: the schema offers {spelling:?}, the loader refuses it:\n{:?}",
                    documents.iter().map(|d| loads(d)).collect::<Vec<_>>()
                );
                for document in &documents {
                    assert_eq!(
                        yaml_schema::errors(&validator, document),
                        Ok(vec![]),
                        "{name}: {document}"
                    );
                }
            }
            checked.push(format!("{name}.{word}"));
        }
        // Outside the list: both refuse.
        for document in with_word(name, "sometimes") {
            assert!(
                loads(&document).is_err(),
                "{name}: the loader took {document}"
            );
            let errors = yaml_schema::errors(&validator, &document).expect("YAML");
            assert!(!errors.is_empty(), "{name}: the schema took {document}");
        }
    }
    assert!(checked.len() >= 30, "{checked:?}");

    // The validator is no rubber stamp: a typo'd key and a wrong type are errors, each at
    // the node where an editor underlines it.
    let typo = "tables:\n  t:\n    columns:\n      id: { type: bigint, not_nul: true }\n";
    let errors = yaml_schema::errors(&validator, typo).expect("YAML");
    assert!(
        errors.iter().any(|e| e.contains("/tables/t/columns/id")),
        "{errors:?}"
    );
    assert!(loads(typo).is_err());
    let wrong_type = "tables:\n  t:\n    columns: [id]\n";
    let errors = yaml_schema::errors(&validator, wrong_type).expect("YAML");
    assert!(
        errors.iter().any(|e| e.contains("/tables/t/columns")),
        "{errors:?}"
    );
    assert!(loads(wrong_type).is_err());
}

/// `pull` writes the schema beside the files whose first line names it (what editors
/// resolve relative to the file), and keeps it current without `--force`: it is generated,
/// and an old one would flag what this reconcile accepts. The files validate against it.
#[test]
fn pull_writes_the_schema_its_modeline_names_and_keeps_it_current() {
    let db = common::fresh_db();
    db.psql(
        "CREATE TYPE mood AS ENUM ('happy', 'sad');
         CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             boss bigint REFERENCES people ON DELETE SET NULL, mood mood NOT NULL);
         CREATE INDEX ON people (mood DESC NULLS LAST);
         CREATE SCHEMA app; CREATE TABLE app.t (id int);",
    )
    .expect("setup");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("schema");
    let pull = |extra: &[&str]| {
        let mut args = vec!["pull", "--database-url", db.url.as_str(), "--out"];
        args.push(out.to_str().expect("UTF-8"));
        args.extend(extra);
        reconcile(dir.path(), &args)
    };
    let first = pull(&[]);
    assert_exit(&first, 0);
    assert!(
        text(&first.stderr).contains("; wrote reconcile.schema.json, which editors read"),
        "{}",
        text(&first.stderr)
    );
    let schema_file = out.join(json_schema::FILE_NAME);
    assert_eq!(read(&schema_file), json_schema::generate());
    let validator = yaml_schema::validator();
    let pulled = yaml_files(&out);
    assert_eq!(pulled.len(), 2, "{pulled:?}");
    for file in &pulled {
        let yaml = read(file);
        assert_eq!(yaml.lines().next(), Some(json_schema::MODELINE), "{yaml}");
        assert_eq!(yaml_schema::errors(&validator, &yaml), Ok(vec![]), "{yaml}");
    }

    // An older schema is replaced, with a word about it; the YAML is left alone.
    std::fs::write(&schema_file, "{}\n").expect("an old schema");
    let again = pull(&[]);
    assert_exit(&again, 0);
    assert!(
        text(&again.stderr).contains("0 written, 2 unchanged); updated reconcile.schema.json"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(read(&schema_file), json_schema::generate());
    let unchanged = pull(&[]);
    assert!(
        !text(&unchanged.stderr).contains("reconcile.schema.json"),
        "{}",
        text(&unchanged.stderr)
    );
}

/// `init` writes the schema beside the example desired state, whose first line names it.
#[test]
fn init_writes_the_schema_beside_the_example() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    assert_exit(&reconcile(dir.path(), &["init", "app"]), 0);
    let schema = dir.path().join("app/schema");
    assert_eq!(
        read(&schema.join(json_schema::FILE_NAME)),
        json_schema::generate()
    );
    let app = read(&schema.join("app.yaml"));
    assert_eq!(app.lines().next(), Some(json_schema::MODELINE));
    assert_eq!(
        yaml_schema::errors(&yaml_schema::validator(), &app),
        Ok(vec![])
    );
}
