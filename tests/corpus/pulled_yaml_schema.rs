//! Every YAML file `reconcile pull` writes for the corpus validates against the JSON Schema
//! `reconcile schema-json` writes (issue 17, item 5): an editor never flags what reconcile
//! itself wrote. Each schema is loaded into a fresh database, read, rendered as `pull`
//! renders it, and each file checked.
//!
//! With `CI=true` a missing corpus fails; elsewhere the test says loudly that it skipped.

use crate::common;
use crate::no_false_drift::{Case, load_case, pgschema_cases, real_world_cases};

use std::sync::Arc;

use reconcile::introspect::Scope;

/// Loads a case into a fresh database and validates its pulled YAML; the number of files.
async fn check(case: &Case, validator: &jsonschema::Validator) -> Result<usize, String> {
    let db = common::fresh_db();
    load_case(case, &db)?;
    let mut conn = db.connect().await;
    let live = reconcile::introspect::schema(&mut conn, &Scope::default())
        .await
        .map_err(|e| format!("introspection failed: {e}"))?;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, text) in reconcile::pull::render(&live.schema) {
        if !name.ends_with(".yaml") {
            continue;
        }
        checked += 1;
        match common::yaml_schema::errors(validator, &text) {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => failures.push(format!("{name}:\n  {}", errors.join("\n  "))),
            Err(e) => failures.push(format!("{name}: not YAML: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(failures.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_pulled_yaml_file_validates_against_the_json_schema() {
    let Some(corpus) = crate::corpus_dir("the pulled-YAML schema test") else {
        return;
    };
    let (mut cases, _) = pgschema_cases(&corpus);
    cases.extend(real_world_cases(&corpus));
    assert!(
        cases.len() >= 195,
        "expected the whole corpus, found {}",
        cases.len()
    );
    let validator = Arc::new(common::yaml_schema::validator());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(4));
    let mut handles = Vec::new();
    for case in cases {
        let (semaphore, validator) = (semaphore.clone(), validator.clone());
        handles.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("semaphore");
            let result = check(&case, &validator).await;
            (case.name, result)
        }));
    }
    let (mut schemas, mut files, mut failures) = (0, 0, Vec::new());
    for handle in handles {
        let (name, result) = handle.await.expect("case task");
        match result {
            Ok(n) => {
                schemas += 1;
                files += n;
            }
            Err(e) => failures.push(format!("=== {name}\n{e}")),
        }
    }
    eprintln!("pulled YAML: {files} files of {schemas} schemas valid against the JSON Schema");
    assert!(
        failures.is_empty(),
        "{} schemas' pulled YAML is not valid against the JSON Schema:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
