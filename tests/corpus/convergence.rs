//! Convergence on schema pairs written by others (../shared/corpus): the plan reconcile
//! prints must take a database to the desired state, and whatever it cannot take there must
//! have been reported.
//!
//! Per pair: the current side goes into database A, the desired side into B. B is pulled to
//! YAML, loaded and canonicalised on an empty scratch database (what `reconcile plan` does),
//! A is planned against it, and the `sql` rendering of the plan runs with psql twice (both
//! runs must succeed: steps are idempotent). Then a second plan must have no additive
//! changes, and every remaining difference between A and B (their introspected models,
//! diffed and compared object by object) must be a finding the first plan reported.
//!
//! Suites: the pgschema diff cases, the real application schemas' older → newer versions,
//! the same schemas rebuilt from an empty database, and the migra fixtures. Each prints
//! `suite: passed/total`; a case may only fail if it is in [`OUT_OF_SCOPE`] with its reason.
//!
//! With `CI=true` a missing corpus fails; elsewhere the tests say loudly that they skipped.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reconcile::diff;
use reconcile::introspect::{self, Introspected, Scope};
use reconcile::model::{ObjectId, QualifiedName, Schema, Table};
use reconcile::pipeline;
use reconcile::plan::{self, HazardCode, Plan};
use reconcile::render;

/// Cases running at once, over all suites of this process (each holds three databases).
static POOL: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Cases expected to fail, and why. Only object kinds outside this issue may appear here
/// (views, functions, triggers, policies, grants, partitions), and only when the rest of
/// the plan still works.
// Empty: partitioned tables and partitions are managed (migra/partitioning, pagila's payment,
// lago's enriched_events converge).
const OUT_OF_SCOPE: &[(&str, &str)] = &[];

/// One pair: SQL files (in order) for the current and the desired side.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    old: Vec<PathBuf>,
    new: Vec<PathBuf>,
    /// Lines containing this text are left out of every file (an unavailable extension).
    drop_lines_matching: Option<&'static str>,
}

/// A case that is listed but not run, with the reason.
type NotRun = (String, String);

/// Every pgschema diff case whose two sides load on PostgreSQL 15, per pgschema.json.
fn pgschema_cases(corpus: &Path) -> (Vec<Case>, Vec<NotRun>) {
    let suite = corpus.join("peer-suites");
    let index = read_index(&suite.join("pgschema.json"));
    let mut cases = Vec::new();
    let mut not_run = Vec::new();
    for (key, sides) in index {
        let Some(key) = key.strip_prefix("pgschema:") else {
            continue;
        };
        let (old, new) = (status(&sides, "old"), status(&sides, "new"));
        let name = format!("pgschema/{key}");
        if !matches!(old.as_str(), "ok" | "empty") || new != "ok" {
            not_run.push((
                name,
                format!("does not load on PostgreSQL 15 (old: {old}; new: {new})"),
            ));
            continue;
        }
        let dir = suite.join("pgschema/diff").join(key);
        let setup: Vec<PathBuf> = Some(dir.join("setup.sql"))
            .filter(|p| p.is_file())
            .into_iter()
            .collect();
        cases.push(Case {
            name,
            old: [setup.clone(), vec![dir.join("old.sql")]].concat(),
            new: [setup, vec![dir.join("new.sql")]].concat(),
            drop_lines_matching: None,
        });
    }
    (cases, not_run)
}

/// The older → newer versions of the real application schemas.
fn real_world_cases(corpus: &Path) -> Vec<Case> {
    let rw = corpus.join("real-world");
    let pair = |name: &str, old: PathBuf, new: PathBuf| Case {
        name: name.to_owned(),
        old: vec![old],
        new: vec![new],
        drop_lines_matching: None,
    };
    let lago = |old: &str| Case {
        drop_lines_matching: Some("pg_partman"),
        ..pair(
            &format!("lago {old}→2026-08"),
            version(&rw.join("lago"), &format!("structure_{old}")),
            version(&rw.join("lago"), "structure_2026-08"),
        )
    };
    vec![
        pair(
            "pagila 2024-10→2026-07",
            version(&rw.join("pagila"), "pagila-schema_2024-10"),
            version(&rw.join("pagila"), "pagila-schema_2026-07"),
        ),
        pair(
            "danbooru 2025-07→2026-03",
            version(&rw.join("danbooru"), "structure_2025-07"),
            version(&rw.join("danbooru"), "structure_2026-03"),
        ),
        lago("2025-08"),
        lago("2026-02"),
    ]
}

/// The five real application schemas (newest versions) rebuilt from nothing: what a pull of
/// each, planned against an empty database, gives back — privileges, default privileges and
/// owners included (compared like everything else, see [`differing_objects`]).
fn rebuild_cases(corpus: &Path) -> Vec<Case> {
    let rw = corpus.join("real-world");
    let rebuild = |name: &str, file: PathBuf| Case {
        name: format!("rebuild {name}"),
        old: Vec::new(),
        new: vec![file],
        drop_lines_matching: None,
    };
    vec![
        rebuild(
            "pagila 2026-07",
            version(&rw.join("pagila"), "pagila-schema_2026-07"),
        ),
        rebuild("chinook", rw.join("chinook/chinook-schema.sql")),
        rebuild(
            "supabase-auth",
            rw.join("supabase-auth/auth_migrations_concat.sql"),
        ),
        rebuild(
            "danbooru 2026-03",
            version(&rw.join("danbooru"), "structure_2026-03"),
        ),
        Case {
            drop_lines_matching: Some("pg_partman"),
            ..rebuild(
                "lago 2026-08",
                version(&rw.join("lago"), "structure_2026-08"),
            )
        },
    ]
}

/// The migra fixtures (`a.sql` current, `b.sql` desired) whose sides load, per migra.json.
fn migra_cases(corpus: &Path) -> (Vec<Case>, Vec<NotRun>) {
    let suite = corpus.join("peer-suites");
    let mut cases = Vec::new();
    let mut not_run = Vec::new();
    for (key, sides) in read_index(&suite.join("migra.json")) {
        let Some(key) = key.strip_prefix("migra:") else {
            continue;
        };
        let (a, b) = (status(&sides, "a"), status(&sides, "b"));
        let name = format!("migra/{key}");
        if a != "ok" || b != "ok" {
            not_run.push((
                name,
                format!("does not load on PostgreSQL 15 (a: {a}; b: {b})"),
            ));
            continue;
        }
        let dir = suite.join("migra-fixtures").join(key);
        cases.push(Case {
            name,
            old: vec![dir.join("a.sql")],
            new: vec![dir.join("b.sql")],
            drop_lines_matching: None,
        });
    }
    (cases, not_run)
}

/// The role migra's `rls` fixture grants policies to.
const MIGRA_ROLE: &str = "schemainspect_test_role";

/// Creates a role on our own throwaway cluster (roles are cluster-wide, so never on a
/// `DATABASE_URL` server); `Err` says why the role is not there.
fn create_role(role: &str) -> Result<(), String> {
    if common::cluster().is_none() {
        return Err(format!(
            "needs the role {role}, not created on a DATABASE_URL server"
        ));
    }
    common::fresh_db()
        .psql(&format!(
            "DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        ))
        .map(drop)
        .map_err(|e| format!("needs the role {role}, which could not be created: {e}"))
}

fn read_index(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn status(sides: &serde_json::Value, side: &str) -> String {
    sides[side].as_str().unwrap_or("missing").to_owned()
}

/// The one file in `dir` whose name starts with `prefix` and ends in `.sql`.
fn version(dir: &Path, prefix: &str) -> PathBuf {
    let matching: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".sql"))
        })
        .collect();
    match matching.as_slice() {
        [one] => one.clone(),
        _ => panic!(
            "expected one {prefix}*.sql in {}, found {matching:?}",
            dir.display()
        ),
    }
}

/// Runs the SQL files into `db`, leaving out lines that contain `drop`.
fn load(db: &common::TestDb, files: &[PathBuf], drop: Option<&str>) -> Result<(), String> {
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let kept: String = text
            .lines()
            .filter(|l| drop.is_none_or(|d| !l.contains(d)))
            .map(|l| format!("{l}\n"))
            .collect();
        db.psql(&kept)
            .map_err(|e| format!("loading {}: {e}", file.display()))?;
    }
    Ok(())
}

/// What a converged case did, for the summary line.
struct Converged {
    steps: usize,
    findings: usize,
    /// Objects left pending because they use something outside this issue (a function): the
    /// scratch server could not build them, their steps carried H012 and were skipped with a
    /// warning, and everything else converged.
    set_aside: Vec<ObjectId>,
}

/// Proves one pair; `Err` says what went wrong.
async fn converge(case: &Case) -> Result<Converged, String> {
    let (a, b, scratch) = (common::fresh_db(), common::fresh_db(), common::fresh_db());
    load(&a, &case.old, case.drop_lines_matching).map_err(|e| format!("current side: {e}"))?;
    load(&b, &case.new, case.drop_lines_matching).map_err(|e| format!("desired side: {e}"))?;
    let live_b = read(&b, &Scope::default()).await?;
    let loaded = pulled(&live_b.schema)?;
    // What `reconcile plan` does, through the same library function.
    let mut scratch_conn = scratch.connect().await;
    let drift = {
        let mut a_conn = a.connect().await;
        pipeline::drift(
            loaded.schema,
            &loaded.sql,
            &mut a_conn,
            None,
            &mut scratch_conn,
            &pipeline::Options::default(),
        )
        .await
        .map_err(|e| format!("planning: {e}"))?
    };
    let script = sql_script(&drift)?;
    run_twice(&a, &script)?;
    let after = read(&a, &drift.scope).await?;
    let set_aside = pending_after_apply(&after, &drift.desired, &drift.plan)?;
    // Both sides in the server's re-parsed words, as `reconcile plan` compares them.
    let aligned_after = align(&after.schema, &drift.desired, &mut scratch_conn).await?;
    let aligned_b = align(&live_b.schema, &drift.desired, &mut scratch_conn).await?;
    unreported_differences(
        &aligned_after,
        &aligned_b,
        &drift.plan,
        &set_aside,
        &options(&after),
    )?;
    Ok(Converged {
        steps: drift.plan.steps.len(),
        findings: drift.plan.findings.len(),
        set_aside,
    })
}

fn options(live: &Introspected) -> diff::Options {
    diff::Options {
        unmanaged_tables: live.unmanaged_tables.clone(),
        ..diff::Options::default()
    }
}

async fn read(db: &common::TestDb, scope: &Scope) -> Result<Introspected, String> {
    let mut conn = db.connect().await;
    introspect::schema(&mut conn, scope)
        .await
        .map_err(|e| format!("introspecting {}: {e}", db.name))
}

/// B's model → YAML → loaded: the desired state as a user who pulled B would write it.
fn pulled(b: &Schema) -> Result<reconcile::load::Located, String> {
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(b)
        .into_iter()
        .map(|(name, text)| (PathBuf::from("pulled").join(name), text))
        .collect();
    reconcile::load::from_sources_located(&files)
        .map_err(|e| format!("the files pulled from the desired side do not load:\n{e}"))
}

/// `live` with the objects that differ from `desired` re-parsed once by the server
/// (what `reconcile plan` does before diffing; see `canon::align_live`).
async fn align(
    live: &Schema,
    desired: &Schema,
    scratch: &mut sqlx::PgConnection,
) -> Result<Schema, String> {
    reconcile::canon::align_live(live.clone(), desired, scratch)
        .await
        .map_err(|e| format!("aligning with the scratch database: {e}"))
}

fn sql_script(drift: &pipeline::Drift) -> Result<String, String> {
    let mut out = Vec::new();
    render::sql::render(&drift.report("plan", "A"), &mut out)
        .map_err(|e| format!("rendering SQL: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("the SQL script is not UTF-8: {e}"))
}

/// Runs the plan's script on `a` twice; both runs must succeed.
fn run_twice(a: &common::TestDb, script: &str) -> Result<(), String> {
    for run in ["first", "second"] {
        a.psql(script).map_err(|stderr| {
            format!(
                "the {run} psql run of the plan failed:\n{stderr}{}",
                failing_statement(script, &stderr)
            )
        })?;
    }
    Ok(())
}

/// The script lines around the line psql's error names (`psql:FILE:LINE: ERROR: ...`).
fn failing_statement(script: &str, stderr: &str) -> String {
    let line = stderr
        .split("psql:")
        .filter_map(|s| s.split(':').nth(1)?.trim().parse::<usize>().ok())
        .next();
    let Some(line) = line else {
        return format!("--- plan:\n{script}");
    };
    let lines: Vec<&str> = script.lines().collect();
    let from = line.saturating_sub(8);
    let to = (line + 2).min(lines.len());
    let excerpt = lines.get(from..to).unwrap_or_default().join("\n");
    format!("--- plan lines {}..{to}:\n{excerpt}", from + 1)
}

/// After the plan ran, planning again must find nothing additive to do — except objects
/// whose step the first plan marked H012 (the scratch server could not build them: they use
/// a function, which is outside this issue); those are returned, set aside.
fn pending_after_apply(
    after: &Introspected,
    desired: &Schema,
    plan: &Plan,
) -> Result<Vec<ObjectId>, String> {
    let again = diff::diff(&after.schema, desired, &options(after));
    let unverified_steps: BTreeSet<&ObjectId> = plan
        .steps
        .iter()
        .filter(|s| s.hazards.iter().any(|h| h.code == HazardCode::Unverified))
        .map(|s| &s.object)
        .collect();
    let (set_aside, pending): (Vec<ObjectId>, Vec<ObjectId>) = again
        .additive
        .iter()
        .map(|c| c.object())
        .partition(|o| unverified_steps.contains(o));
    if pending.is_empty() {
        if set_aside.is_empty() {
            return Ok(set_aside);
        }
        // Everything the H012 steps would have done is set aside with them (e.g. the
        // ownership of a set-aside table's serial sequence is a D133 then, not additive).
        return Ok(unverified_steps.into_iter().cloned().collect());
    }
    let context = plan::Context {
        live: &after.schema,
        estimated_rows: &after.estimated_rows,
        concurrently: true,
    };
    let steps = plan::build(&again, &context)
        .map(|p| {
            p.steps
                .iter()
                .map(|s| format!("{};", s.sql))
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|e| vec![e.to_string()]);
    Err(format!(
        "not converged: after applying the plan, a second plan still has {} additive changes:\n{}",
        again.additive.len(),
        steps.join("\n")
    ))
}

/// Every difference left between A (after the plan) and B must be a finding of `plan`:
/// each finding of a fresh diff, by (code, object), and — so that what the diff does not
/// look at is caught too — each object whose model differs (column order aside), by name.
fn unreported_differences(
    after: &Schema,
    b: &Schema,
    plan: &Plan,
    set_aside: &[ObjectId],
    options: &diff::Options,
) -> Result<(), String> {
    let remaining = diff::diff(after, b, options);
    // A set-aside table also leaves its serial sequence without an owner.
    let owner_set_aside = |object: &ObjectId| match object {
        ObjectId::Sequence(name) => set_aside.contains(&ObjectId::SequenceOwnership(name.clone())),
        _ => false,
    };
    let set_aside_covers =
        |object: &ObjectId| set_aside.iter().any(|s| covers(object, s)) || owner_set_aside(object);
    let reported: BTreeSet<(&str, &ObjectId)> = plan
        .findings
        .iter()
        .map(|f| (f.code.as_str(), &f.object))
        .collect();
    // A table reported as a partition the desired state wants on its own (D172) keeps
    // following its parent until a human detaches it: a column the plan added to the parent
    // is added to it too (the finding says so).
    let still_a_partition = |object: &ObjectId| {
        plan.findings.iter().any(|f| {
            f.code == diff::Code::PartitionMembership && object.table() == f.object.table()
        })
    };
    let mut unreported: Vec<String> = remaining
        .additive
        .iter()
        .map(|c| c.object())
        .filter(|o| !set_aside.contains(o))
        .map(|o| format!("missing in A, never planned: {o}"))
        .collect();
    unreported.extend(
        remaining
            .findings
            .iter()
            .filter(|f| !reported.contains(&(f.code.as_str(), &f.object)))
            .filter(|f| !owner_set_aside(&f.object))
            .filter(|f| !still_a_partition(&f.object))
            .map(|f| format!("{} {}: {}", f.code, f.object, f.message)),
    );
    unreported.extend(
        differing_objects(after, b)
            .into_iter()
            .filter(|object| !plan.findings.iter().any(|f| covers(object, &f.object)))
            // A sequence owned by a column that a finding drops goes with it (that finding
            // names it).
            .filter(|object| {
                let ObjectId::Sequence(name) = object else {
                    return true;
                };
                let Some((table, column)) =
                    after.sequences.get(name).and_then(|s| s.owned_by.clone())
                else {
                    return true;
                };
                !plan.findings.iter().any(|f| {
                    f.object == ObjectId::Table(table.clone())
                        || f.object == ObjectId::column(&table, &column)
                })
            })
            .filter(|object| !set_aside_covers(object))
            .map(|object| format!("{object} differs in the models, and no finding names it")),
    );
    if unreported.is_empty() {
        return Ok(());
    }
    Err(format!(
        "A and B still differ in ways the first plan did not report:\n  {}",
        unreported.join("\n  ")
    ))
}

/// Whether something about `part` (a finding's object, say) is about `object` or a part of it.
fn covers(object: &ObjectId, part: &ObjectId) -> bool {
    match object {
        ObjectId::Type(name) => part == object || *part == ObjectId::Domain(name.clone()),
        // A materialized view's indexes are reported as a table's are (D102, D120, ...).
        ObjectId::Table(name) | ObjectId::MaterializedView(name) => {
            part == object || part.table() == Some(name)
        }
        // A comment goes with its object: a finding that drops the object reports it.
        ObjectId::Comment(on) => part == object || covers(on, part) || part == on.as_ref(),
        _ => part == object,
    }
}

/// The objects that are not the same in `a` and `b` (enums, composites and domains as
/// types; materialized views and triggers too; privileges, default privileges and owners
/// by their own names). Column order is left aside: added columns go last, and PostgreSQL
/// cannot reorder columns.
fn differing_objects(a: &Schema, b: &Schema) -> Vec<ObjectId> {
    let mut out: Vec<ObjectId> = a
        .schemas
        .symmetric_difference(&b.schemas)
        .map(|s| ObjectId::Schema(s.clone()))
        .collect();
    out.extend(differing(&a.extensions, &b.extensions).map(ObjectId::Extension));
    out.extend(differing(&a.enums, &b.enums).map(ObjectId::Type));
    out.extend(differing(&a.composites, &b.composites).map(ObjectId::Type));
    out.extend(differing(&a.domains, &b.domains).map(ObjectId::Type));
    out.extend(differing(&a.sequences, &b.sequences).map(ObjectId::Sequence));
    let (a_tables, b_tables) = (columns_by_name(&a.tables), columns_by_name(&b.tables));
    out.extend(differing(&a_tables, &b_tables).map(ObjectId::Table));
    out.extend(
        differing(&a.materialized_views, &b.materialized_views).map(ObjectId::MaterializedView),
    );
    out.extend(
        differing(&a.triggers, &b.triggers).map(|key| ObjectId::Trigger {
            table: key.table,
            name: key.name,
        }),
    );
    out.extend(
        differing(&a.policies, &b.policies).map(|key| ObjectId::Policy {
            table: key.table,
            name: key.name,
        }),
    );
    // The privileges of an object only one side has are that object's difference.
    out.extend(
        differing(&a.grants, &b.grants)
            .filter(|key| holds(a, &key.on) && holds(b, &key.on))
            .map(ObjectId::from),
    );
    out.extend(differing(&a.default_privileges, &b.default_privileges).map(ObjectId::from));
    out.extend(
        differing(&a.owners, &b.owners)
            // B's owners where the objects are B's: an object only A has is reported itself.
            .filter(|on| b.owners.contains_key(on) && a.owners.contains_key(on))
            .map(|on| ObjectId::Owner(Box::new(on))),
    );
    out.extend(differing(&a.comments, &b.comments).map(|on| ObjectId::Comment(Box::new(on))));
    out
}

/// Whether the model has the object a privilege is on (routines are not modelled: yes).
fn holds(model: &Schema, on: &ObjectId) -> bool {
    match on {
        ObjectId::Schema(s) => model.schemas.contains(s),
        ObjectId::Table(t) => model.tables.contains_key(t),
        ObjectId::Column { table, column } => model
            .tables
            .get(table)
            .is_some_and(|t| t.column(column.as_str()).is_some()),
        ObjectId::Sequence(s) => model.sequences.contains_key(s),
        ObjectId::View(v) => model.views.contains_key(v),
        ObjectId::Type(t) => model.enums.contains_key(t) || model.composites.contains_key(t),
        ObjectId::Domain(t) => model.domains.contains_key(t),
        _ => true,
    }
}

/// The keys whose values differ or that only one side has.
fn differing<'m, K: Ord + Clone, V: PartialEq>(
    a: &'m BTreeMap<K, V>,
    b: &'m BTreeMap<K, V>,
) -> impl Iterator<Item = K> + 'm {
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).cloned()
}

fn columns_by_name(tables: &BTreeMap<QualifiedName, Table>) -> BTreeMap<QualifiedName, Table> {
    let mut tables = tables.clone();
    for table in tables.values_mut() {
        table.columns.sort_by(|x, y| x.name.cmp(&y.name));
    }
    tables
}

/// Runs every case of a suite (bounded by [`POOL`]), prints pass/total and each failure,
/// and fails on any failure not listed in [`OUT_OF_SCOPE`].
async fn prove_suite(suite: &str, cases: Vec<Case>, not_run: &[NotRun]) {
    for (name, reason) in not_run {
        eprintln!("{name}: not run — {reason}");
    }
    let mut handles = Vec::new();
    for case in cases {
        handles.push(tokio::spawn(async move {
            let _permit = POOL.acquire().await.expect("the pool is never closed");
            let result = converge(&case).await;
            (case.name, result)
        }));
    }
    let (mut passed, mut steps, mut findings) = (0, 0, 0);
    let (mut expected, mut unexpected) = (Vec::new(), Vec::new());
    for handle in handles {
        let (name, result) = handle.await.expect("case task");
        match (result, out_of_scope(&name)) {
            (Ok(done), reason) => {
                passed += 1;
                if !done.set_aside.is_empty() {
                    eprintln!(
                        "{name}: converged; set aside (they use a function, outside this issue; \
                         skipped with a warning, H012): {}",
                        done.set_aside
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                steps += done.steps;
                findings += done.findings;
                if let Some(reason) = reason {
                    eprintln!("{name}: listed as out of scope ({reason}) but converges now");
                }
            }
            (Err(e), Some(reason)) => {
                expected.push(format!("=== {name} (out of scope: {reason})\n{e}"))
            }
            (Err(e), None) => unexpected.push(format!("=== {name}\n{e}")),
        }
    }
    let total = passed + expected.len() + unexpected.len();
    eprintln!(
        "{suite}: {passed}/{total} passed ({steps} steps applied, {findings} findings reported; \
         {} expected failures, {} unexpected; {} not run)",
        expected.len(),
        unexpected.len(),
        not_run.len()
    );
    for failure in expected.iter().chain(&unexpected) {
        eprintln!("{failure}");
    }
    let names: Vec<&str> = unexpected.iter().filter_map(|f| f.lines().next()).collect();
    assert!(
        unexpected.is_empty(),
        "{} of {total} {suite} pairs did not converge (details above):\n{}",
        unexpected.len(),
        names.join("\n")
    );
}

fn out_of_scope(name: &str) -> Option<&'static str> {
    OUT_OF_SCOPE
        .iter()
        .find(|(case, _)| *case == name)
        .map(|(_, reason)| *reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pgschema_pairs_converge() {
    let Some(corpus) = crate::corpus_dir("the convergence tests") else {
        return;
    };
    let (cases, not_run) = pgschema_cases(&corpus);
    assert!(
        cases.len() >= 190,
        "expected the pgschema suite, found {} cases",
        cases.len()
    );
    prove_suite("pgschema", cases, &not_run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_world_versions_converge() {
    let Some(corpus) = crate::corpus_dir("the convergence tests") else {
        return;
    };
    prove_suite("real-world", real_world_cases(&corpus), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_world_schemas_rebuild_from_nothing() {
    let Some(corpus) = crate::corpus_dir("the convergence tests") else {
        return;
    };
    prove_suite("rebuild", rebuild_cases(&corpus), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migra_pairs_converge() {
    let Some(corpus) = crate::corpus_dir("the convergence tests") else {
        return;
    };
    let (mut cases, mut not_run) = migra_cases(&corpus);
    if let Err(why) = create_role(MIGRA_ROLE) {
        cases.retain(|c| {
            let needs_role = c.name == "migra/rls";
            if needs_role {
                not_run.push((c.name.clone(), why.clone()));
            }
            !needs_role
        });
    }
    prove_suite("migra", cases, &not_run).await;
}
