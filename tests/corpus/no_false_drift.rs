//! Zero false drift over schemas written by others (../shared/corpus): load each into a
//! fresh database, pull it to YAML, load that YAML, and require the two models to be equal.
//!
//! With `CI=true` a missing corpus fails; elsewhere the tests say loudly that they skipped.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reconcile::introspect::Scope;
use reconcile::kinds::function::RoutineKind;

/// One schema to prove: a name, the SQL files to load in order, and lines to leave out.
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) drop_lines_matching: Option<&'static str>,
}

pub(crate) fn newest(dir: &Path, prefix: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".sql"))
        })
        .collect();
    files.sort();
    files
        .pop()
        .unwrap_or_else(|| panic!("no {prefix}*.sql in {}", dir.display()))
}

pub(crate) fn real_world_cases(corpus: &Path) -> Vec<Case> {
    let rw = corpus.join("real-world");
    let case = |name: &str, file: PathBuf| Case {
        name: name.to_owned(),
        files: vec![file],
        drop_lines_matching: None,
    };
    vec![
        case("pagila", newest(&rw.join("pagila"), "pagila-schema")),
        case("chinook", rw.join("chinook/chinook-schema.sql")),
        case(
            "supabase-auth",
            rw.join("supabase-auth/auth_migrations_concat.sql"),
        ),
        case("danbooru", newest(&rw.join("danbooru"), "structure")),
        Case {
            drop_lines_matching: Some("pg_partman"),
            ..case("lago", newest(&rw.join("lago"), "structure"))
        },
    ]
}

/// Every pgschema case whose desired side (`new.sql`) loads on PostgreSQL 15, per the
/// corpus' own pgschema.json, plus the real application dumps.
pub(crate) fn pgschema_cases(corpus: &Path) -> (Vec<Case>, Vec<(String, String)>) {
    let index =
        std::fs::read_to_string(corpus.join("peer-suites/pgschema.json")).expect("pgschema.json");
    let mut cases = Vec::new();
    let mut not_loadable = Vec::new();
    let index: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&index).expect("pgschema.json is a JSON object");
    for (key, sides) in index {
        let Some(key) = key.strip_prefix("pgschema:") else {
            continue;
        };
        let new_status = sides["new"].as_str().unwrap_or("missing").to_owned();
        let dir = corpus.join("peer-suites/pgschema/diff").join(key);
        if new_status == "ok" {
            let setup = dir.join("setup.sql");
            let mut files: Vec<PathBuf> = setup.is_file().then_some(setup).into_iter().collect();
            files.push(dir.join("new.sql"));
            cases.push(Case {
                name: format!("pgschema/{key}"),
                files,
                drop_lines_matching: None,
            });
        } else {
            not_loadable.push((key.to_owned(), new_status));
        }
    }
    let dumps = corpus.join("peer-suites/pgschema/dump");
    if let Ok(entries) = std::fs::read_dir(&dumps) {
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for dir in names {
            let file = dir.join("pgdump.sql");
            if file.is_file() {
                cases.push(Case {
                    name: format!(
                        "pgschema-dump/{}",
                        dir.file_name().unwrap().to_string_lossy()
                    ),
                    files: vec![file],
                    drop_lines_matching: None,
                });
            }
        }
    }
    (cases, not_loadable)
}

/// Loads a case's SQL files into `db`, in order, without the lines it leaves out.
pub(crate) fn load_case(case: &Case, db: &common::TestDb) -> Result<(), String> {
    for file in &case.files {
        let path = match case.drop_lines_matching {
            Some(pattern) => {
                let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
                let kept: Vec<&str> = text.lines().filter(|l| !l.contains(pattern)).collect();
                let tmp = std::env::temp_dir().join(format!(
                    "{}-{}.sql",
                    db.name,
                    case.name.replace('/', "_")
                ));
                std::fs::write(&tmp, kept.join("\n")).map_err(|e| e.to_string())?;
                tmp
            }
            None => file.clone(),
        };
        db.psql_file(&path)
            .map_err(|e| format!("loading {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Loads a case into a fresh database and round-trips it; Err carries the reason.
async fn prove(case: &Case) -> Result<(usize, usize), String> {
    let db = common::fresh_db();
    load_case(case, &db)?;
    let mut conn = db.connect().await;
    let trip = common::drift::round_trip(&mut conn, &Scope::default()).await?;
    match trip.difference() {
        None => Ok((
            reconcile::model::object_count(&trip.live.schema),
            trip.live.skipped.len(),
        )),
        Some(diff) => Err(format!("false drift:\n{diff}")),
    }
}

async fn prove_all(suite: &str, cases: Vec<Case>) {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(4));
    let mut handles = Vec::new();
    for case in cases {
        let semaphore = semaphore.clone();
        handles.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("semaphore");
            let result = prove(&case).await;
            (case.name, result)
        }));
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut objects = 0;
    let mut skipped = 0;
    for handle in handles {
        let (name, result) = handle.await.expect("case task");
        match result {
            Ok((n, s)) => {
                passed += 1;
                objects += n;
                skipped += s;
            }
            Err(e) => failures.push(format!("=== {name}\n{e}")),
        }
    }
    let total = passed + failures.len();
    eprintln!(
        "{suite}: {passed}/{total} schemas free of false drift ({objects} objects compared, {skipped} out-of-scope objects skipped with a reason)"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} {suite} schemas drifted:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_world_schemas_have_no_false_drift() {
    let Some(corpus) = crate::corpus_dir("the no-false-drift tests") else {
        return;
    };
    prove_all("real-world", real_world_cases(&corpus)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pgschema_desired_schemas_have_no_false_drift() {
    let Some(corpus) = crate::corpus_dir("the no-false-drift tests") else {
        return;
    };
    let (cases, not_loadable) = pgschema_cases(&corpus);
    for (name, reason) in &not_loadable {
        eprintln!("pgschema/{name}: not run — new.sql does not load on PostgreSQL 15 ({reason})");
    }
    assert!(
        cases.len() >= 190,
        "expected the pgschema suite, found {} cases",
        cases.len()
    );
    prove_all("pgschema", cases).await;
}

/// Every function, procedure and aggregate of pagila and supabase-auth (none skipped, none
/// belonging to an extension left out by mistake) comes back from the pulled `.sql` files,
/// rebuilt on a scratch server, with the same `pg_get_functiondef` text (an aggregate: the
/// same `CREATE AGGREGATE` rebuilt from pg_aggregate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_world_functions_come_back_from_their_pulled_state() {
    let Some(corpus) = crate::corpus_dir("the pulled-functions tests") else {
        return;
    };
    let cases: Vec<Case> = real_world_cases(&corpus)
        .into_iter()
        .filter(|c| c.name == "pagila" || c.name == "supabase-auth")
        .collect();
    assert_eq!(cases.len(), 2);
    let mut seen = Vec::new();
    for case in &cases {
        let db = common::fresh_db();
        for file in &case.files {
            db.psql_file(file).expect("the corpus schema loads");
        }
        // What the catalog has, by kind: f(unction), p(rocedure), a(ggregate).
        let in_catalog = db
            .psql(
                "SELECT string_agg(kind || '=' || n, ',' ORDER BY kind) FROM (
                    SELECT p.prokind::text AS kind, count(*) AS n FROM pg_catalog.pg_proc p
                    JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace
                    WHERE s.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                            AND d.objid = p.oid AND d.deptype = 'e')
                    GROUP BY 1) k",
            )
            .expect("count routines")
            .trim()
            .to_owned();
        let mut conn = db.connect().await;
        let trip = common::drift::round_trip(&mut conn, &Scope::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let live = &trip.live.schema;
        let count = |kind: RoutineKind| live.functions.keys().filter(|k| k.kind == kind).count();
        let modelled: Vec<String> = [
            ("a", live.aggregates.len()),
            ("f", count(RoutineKind::Function)),
            ("p", count(RoutineKind::Procedure)),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
        assert_eq!(
            modelled.join(","),
            in_catalog,
            "{}: the model has other routines than the catalog",
            case.name
        );
        for (key, function) in &live.functions {
            let back = trip
                .loaded
                .functions
                .get(key)
                .unwrap_or_else(|| panic!("{}: {key} did not come back", case.name));
            assert_eq!(back.definition, function.definition, "{}: {key}", case.name);
        }
        for (key, aggregate) in &live.aggregates {
            let back = trip
                .loaded
                .aggregates
                .get(key)
                .unwrap_or_else(|| panic!("{}: {key} did not come back", case.name));
            assert_eq!(
                back.definition, aggregate.definition,
                "{}: {key}",
                case.name
            );
        }
        assert_eq!(trip.difference(), None, "{}", case.name);
        seen.push(format!("{}: {in_catalog}", case.name));
    }
    eprintln!(
        "routines rebuilt from the pulled state: {}",
        seen.join("; ")
    );
    assert!(
        seen[0].contains("a=1"),
        "pagila has its group_concat aggregate: {seen:?}"
    );
}
