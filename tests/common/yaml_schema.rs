//! Desired-state YAML checked against the JSON Schema `reconcile schema-json` writes, the way
//! an editor checks it: the YAML read as plain data (YAML 1.2 booleans, as the loader reads
//! them), then validated.

/// A validator for the schema this build generates.
pub fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&reconcile::load::json_schema::generate())
        .expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the generated schema is a valid JSON Schema")
}

/// The YAML as JSON, or why it is not YAML an editor could check (a syntax error, two
/// documents, a duplicate key: the loader's business, before any schema).
pub fn as_json(text: &str) -> Result<serde_json::Value, String> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: None,
    };
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, options)
        .map_err(|e| e.to_string())
}

/// Every error the schema finds in the YAML `text` (empty: valid), each with where.
pub fn errors(validator: &jsonschema::Validator, text: &str) -> Result<Vec<String>, String> {
    let instance = as_json(text)?;
    Ok(validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect())
}

/// The `.yaml`/`.yml` files under `dir`, recursively, sorted; none when `dir` is not there.
pub fn yaml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("a readable folder entry").path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
    out
}
