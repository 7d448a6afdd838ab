//! The real application schemas rebuilt from their pulled state: each is loaded into one
//! database, pulled to YAML, and that YAML planned and applied (the plan's psql script) on an
//! empty database. Every table comes back — every partition with its bound and every
//! partitioned table with its key (issue 15: pagila's `payment` and its 55 partitions, lago's
//! `enriched_events`).

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use reconcile::introspect::{self, Scope};
use reconcile::model::{QualifiedName, Schema};
use reconcile::pipeline;

use super::no_false_drift::{Case, real_world_cases};

/// Per table: its key and its parent and bound, as the catalog prints them.
type Partitioning = BTreeMap<QualifiedName, (Option<String>, Option<(QualifiedName, String)>)>;

fn partitioning(schema: &Schema) -> Partitioning {
    schema
        .tables
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                (
                    t.partition_by.clone(),
                    t.partition_of
                        .as_ref()
                        .map(|p| (p.parent.clone(), p.bound.clone())),
                ),
            )
        })
        .collect()
}

fn load(db: &common::TestDb, case: &Case) -> Result<(), String> {
    for file in &case.files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let kept: String = text
            .lines()
            .filter(|l| case.drop_lines_matching.is_none_or(|d| !l.contains(d)))
            .map(|l| format!("{l}\n"))
            .collect();
        db.psql(&kept)
            .map_err(|e| format!("loading {}: {e}", file.display()))?;
    }
    Ok(())
}

/// Rebuilds one schema; the number of partitions it has.
async fn rebuild(case: &Case) -> Result<usize, String> {
    let (a, b, scratch) = (common::fresh_db(), common::fresh_db(), common::fresh_db());
    load(&a, case)?;
    let original = {
        let mut conn = a.connect().await;
        introspect::schema(&mut conn, &Scope::default())
            .await
            .map_err(|e| e.to_string())?
    };
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(&original.schema)
        .into_iter()
        .map(|(name, text)| (PathBuf::from("pulled").join(name), text))
        .collect();
    let desired = reconcile::load::from_sources_located(&files).map_err(|e| e.to_string())?;
    let drift = {
        let mut conn = b.connect().await;
        let mut scratch = scratch.connect().await;
        pipeline::drift(
            desired.schema,
            &desired.sql,
            &mut conn,
            None,
            &mut scratch,
            &pipeline::Options::default(),
        )
        .await
        .map_err(|e| format!("planning: {e}"))?
    };
    let mut script = Vec::new();
    reconcile::render::sql::render(&drift.report("plan", "rebuild"), &mut script)
        .map_err(|e| e.to_string())?;
    let script = String::from_utf8(script).map_err(|e| e.to_string())?;
    b.psql(&script)
        .map_err(|e| format!("the plan failed on the empty database: {e}"))?;
    let rebuilt = {
        let mut conn = b.connect().await;
        introspect::schema(&mut conn, &Scope::default())
            .await
            .map_err(|e| e.to_string())?
    };
    let (want, got) = (
        partitioning(&original.schema),
        partitioning(&rebuilt.schema),
    );
    let wrong: Vec<String> = want
        .iter()
        .filter(|(name, w)| got.get(*name) != Some(*w))
        .map(|(name, w)| format!("{name}: {w:?}, rebuilt as {:?}", got.get(name)))
        .collect();
    if !wrong.is_empty() {
        return Err(format!("not rebuilt as pulled:\n  {}", wrong.join("\n  ")));
    }
    Ok(want.values().filter(|(_, of)| of.is_some()).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_world_schemas_rebuild_with_every_partition() {
    let Some(corpus) = crate::corpus_dir("the rebuild tests") else {
        return;
    };
    let cases = real_world_cases(&corpus);
    assert_eq!(cases.len(), 5, "the five real-world schemas");
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(3));
    let mut handles = Vec::new();
    for case in cases {
        let semaphore = semaphore.clone();
        handles.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("semaphore");
            let result = rebuild(&case).await;
            (case.name, result)
        }));
    }
    let mut partitions = BTreeMap::new();
    let mut failures = Vec::new();
    for handle in handles {
        let (name, result) = handle.await.expect("case task");
        match result {
            Ok(n) => {
                partitions.insert(name, n);
            }
            Err(e) => failures.push(format!("=== {name}\n{e}")),
        }
    }
    eprintln!("rebuilt with every table, partition and bound: {partitions:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        partitions.get("pagila"),
        Some(&55),
        "pagila's payment partitions"
    );
    assert_eq!(
        partitions.get("lago"),
        Some(&1),
        "lago's enriched_events_default"
    );
}
