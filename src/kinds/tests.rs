//! The registry walk: every registered kind, checked for what the compiler cannot check.

use std::path::PathBuf;

use super::{Kind, Visitor, visit_all};
use crate::diff::{self, Change, Diff};
use crate::model::{ObjectId, Schema};
use crate::plan::Draft;

/// A schema holding only `objects` of kind `K` (and the schema they live in).
fn schema_with<K: Kind>(name: &K::Key, object: Option<&K::Object>) -> Schema {
    let mut schema = Schema::default();
    schema.schemas.insert(K::schema_of(name).clone());
    if let Some(object) = object {
        K::objects_mut(&mut schema).insert(name.clone(), object.clone());
    }
    schema
}

fn steps_of<K: Kind>(name: &K::Key, object: &K::Object) -> Vec<Draft> {
    let mut out = Vec::new();
    K::steps(name, object, &mut out);
    out
}

struct Complete {
    problems: Vec<String>,
}

impl Complete {
    fn check<K: Kind>(&mut self) -> Result<(), String> {
        let (name, [first, second]) = K::samples();
        let kind = K::NAME;
        if first == second {
            return Err(format!("{kind}: its two samples are equal"));
        }

        // Its identity prints and reads back.
        for id in [K::id(&name), K::extra_id(&name)] {
            let text = id.to_string();
            if text.parse::<ObjectId>().as_ref() != Ok(&id) {
                return Err(format!("{kind}: `{text}` does not read back as {id:?}"));
            }
        }

        // Its codes are documented.
        let docs = include_str!("../../docs/plan.md");
        for code in [K::DIFFERS, K::EXTRA] {
            if !docs.contains(&format!("| {} |", code.as_str())) {
                return Err(format!("{kind}: {code} is not in docs/plan.md"));
            }
        }

        // Its catalog query is one SELECT over the schemas in scope.
        let parsed = pg_query::parse(K::CATALOG.sql, pg_query::ParserOptions::DEFAULT)
            .map_err(|e| format!("{kind}: the catalog query does not parse: {e}"))?;
        if parsed.protobuf.stmts.len() != 1 || !K::CATALOG.sql.contains("$1") {
            return Err(format!(
                "{kind}: the catalog query must be one statement over $1 (the schemas in scope)"
            ));
        }

        // What it plans is additive, and a rollback guide can undo it; what it suggests by
        // hand is a DROP (which only findings carry).
        for object in [&first, &second] {
            for draft in steps_of::<K>(&name, object) {
                let statements = crate::classify::classify(&draft.sql)
                    .map_err(|e| format!("{kind}: `{}` does not parse: {e}", draft.sql))?;
                // The one statement off the additive list a plan may run: the owner of an
                // object the same plan creates (see `classify::Kind::is_additive`).
                let allowed = |v: &crate::classify::Statement| {
                    draft.kind() == crate::plan::StepKind::SetOwner
                        && matches!(v.kind, crate::classify::Kind::AlterOwner { .. })
                };
                if let Some(v) = statements
                    .iter()
                    .flat_map(|s| s.violations())
                    .find(|v| !allowed(v))
                {
                    return Err(format!("{kind}: a step runs `{}`", v.text));
                }
                let guide = crate::rollback::guide_for_sql("step", &draft.sql);
                if guide.manual() > 0 || guide.inverses() == 0 {
                    return Err(format!(
                        "{kind}: the rollback guide cannot undo `{}`: {:?}",
                        draft.sql, guide.entries
                    ));
                }
            }
        }
        // Extra objects are reported with the DROP a human would run (owners never are).
        let nothing = schema_with::<K>(&name, None);
        let one = schema_with::<K>(&name, Some(&first));
        let extra_finding = K::extra(&name, &first, &one, &nothing);
        if extra_finding.is_some() {
            let drop = crate::classify::classify(&K::drop(&name))
                .map_err(|e| format!("{kind}: its DROP does not parse: {e}"))?;
            if drop.iter().all(|s| s.is_plannable()) {
                return Err(format!("{kind}: its DROP is classified as additive"));
            }
        }

        // The diff rule: missing → created, different → DIFFERS, extra → EXTRA.
        let options = diff::Options::default();
        let other = schema_with::<K>(&name, Some(&second));
        let created = diff::diff(&nothing, &one, &options);
        if !matches!(created.additive.as_slice(), [Change::Create(c)] if c.object() == K::id(&name))
            || !created.findings.is_empty()
        {
            return Err(format!(
                "{kind}: a missing object is not one creation: {created:?}"
            ));
        }
        let codes = |d: &Diff| d.findings.iter().map(|f| f.code).collect::<Vec<_>>();
        let changed = diff::diff(&one, &other, &options);
        if K::replacement(&name, &first, &second).is_some() {
            // Replaced in place, with the previous definition to put back; with
            // --no-replace, a finding.
            let [Change::Replace(replaced)] = changed.additive.as_slice() else {
                return Err(format!(
                    "{kind}: a replaceable change is not replaced: {changed:?}"
                ));
            };
            let mut drafts = Vec::new();
            replaced.steps(&mut drafts);
            for draft in &drafts {
                let statements = crate::classify::classify(&draft.sql)
                    .map_err(|e| format!("{kind}: `{}` does not parse: {e}", draft.sql))?;
                // A replace may be a DO block of several (a trigger's, which also sets when
                // it fires): one of them is the replace.
                if !statements.iter().all(|s| s.is_plannable())
                    || !statements
                        .iter()
                        .flat_map(|s| s.flatten())
                        .any(|s| s.kind.is_replace())
                {
                    return Err(format!("{kind}: `{}` is not a replace", draft.sql));
                }
                if draft.previous.is_none() {
                    return Err(format!(
                        "{kind}: a replace step does not keep what it replaces"
                    ));
                }
            }
            let held = diff::diff(
                &one,
                &other,
                &diff::Options {
                    replace: false,
                    ..diff::Options::default()
                },
            );
            if !held.additive.is_empty() || codes(&held) != [K::DIFFERS] {
                return Err(format!(
                    "{kind}: --no-replace does not give {}: {held:?}",
                    K::DIFFERS
                ));
            }
        } else if !changed.additive.is_empty() || codes(&changed) != [K::DIFFERS] {
            return Err(format!(
                "{kind}: a different object is not {}: {changed:?}",
                K::DIFFERS
            ));
        }
        let extra = diff::diff(&one, &nothing, &options);
        let expected = Vec::from_iter(extra_finding.map(|f| f.code));
        if !extra.additive.is_empty() || codes(&extra) != expected {
            return Err(format!(
                "{kind}: an extra object is not {expected:?}: {extra:?}"
            ));
        }
        if diff::diff(&one, &one, &options) != Diff::default() {
            return Err(format!("{kind}: an object differs from itself"));
        }

        // Pulled, it loads back the same (kinds declared in SQL need the server: checked in
        // `every_kind_reads_back_what_it_creates`).
        // Kinds written inside a table's YAML (policies, a column's comment) are pulled with
        // their table, which the sample model does not have: their round trips are in
        // tests/suite (policies.rs).
        let sql_only = K::pull_sql(&name, &first).is_some() || K::id(&name).table().is_some();
        for object in [&first, &second].into_iter().filter(|_| !sql_only) {
            let schema = schema_with::<K>(&name, Some(object));
            let files: Vec<(PathBuf, String)> = crate::pull::render(&schema)
                .into_iter()
                .map(|(file, text)| (PathBuf::from(file), text))
                .collect();
            let loaded = crate::load::from_sources(&files)
                .map_err(|e| format!("{kind}: the pulled YAML does not load: {e}\n{files:?}"))?;
            if K::objects(&loaded).get(&name) != Some(object) {
                return Err(format!(
                    "{kind}: pulled and loaded back, {object:?} became {:?}\n{files:?}",
                    K::objects(&loaded).get(&name)
                ));
            }
        }
        Ok(())
    }
}

impl Visitor for Complete {
    fn visit<K: Kind>(&mut self) {
        if let Err(problem) = self.check::<K>() {
            self.problems.push(problem);
        }
    }
}

#[test]
fn every_kind_is_complete() {
    let mut complete = Complete {
        problems: Vec::new(),
    };
    visit_all(&mut complete);
    assert!(complete.problems.is_empty(), "{:#?}", complete.problems);
}

/// Creates both samples of every kind on a real server with the kind's own steps and reads
/// them back with its catalog query: DDL and catalog reader must agree, in the canonical form.
#[test]
fn every_kind_reads_back_what_it_creates() {
    let cluster = crate::throwaway::Cluster::start().expect("a throwaway PostgreSQL");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    struct ReadBack<'a> {
        cluster: &'a crate::throwaway::Cluster,
        runtime: &'a tokio::runtime::Runtime,
        problems: Vec<String>,
        databases: usize,
    }
    impl Visitor for ReadBack<'_> {
        fn visit<K: Kind>(&mut self) {
            let (name, samples) = K::samples();
            // Each sample through the plan's own steps, and — for kinds declared in SQL —
            // through what `pull` writes.
            let runs = samples.iter().flat_map(|object| {
                let pulled = K::pull_sql(&name, object).is_some();
                [(object, false)]
                    .into_iter()
                    .chain(pulled.then_some((object, true)))
            });
            for (object, pulled) in runs {
                self.databases += 1;
                let database = format!("kinds_{}", self.databases);
                let result = self.runtime.block_on(read_back::<K>(
                    self.cluster,
                    &database,
                    &name,
                    object,
                    pulled,
                ));
                match result {
                    Ok(read) if read.as_ref() == Some(object) => {}
                    Ok(read) => self.problems.push(format!(
                        "{}: created {object:?}, read back {read:?}",
                        K::NAME
                    )),
                    Err(e) => self.problems.push(format!("{}: {e}", K::NAME)),
                }
            }
        }
    }
    let mut walk = ReadBack {
        cluster: &cluster,
        runtime: &runtime,
        problems: Vec::new(),
        databases: 0,
    };
    visit_all(&mut walk);
    assert!(walk.problems.is_empty(), "{:#?}", walk.problems);
}

async fn read_back<K: Kind>(
    cluster: &crate::throwaway::Cluster,
    database: &str,
    name: &K::Key,
    object: &K::Object,
    pulled: bool,
) -> Result<Option<K::Object>, String> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .map_err(|e| e.to_string())?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let mut conn = sqlx::PgConnection::connect(&cluster.url(database))
        .await
        .map_err(|e| e.to_string())?;
    if !K::SAMPLE_SETUP.is_empty() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(K::SAMPLE_SETUP))
            .execute(&mut admin)
            .await
            .map_err(|e| format!("{e}\n{}", K::SAMPLE_SETUP))?;
    }
    let mut script = format!(
        "CREATE SCHEMA {};\n{};\n",
        K::schema_of(name).quoted(),
        K::sample_context()
    );
    let statements: Vec<String> = match K::pull_sql(name, object).filter(|_| pulled) {
        Some(sql) => vec![sql],
        None => steps_of::<K>(name, object)
            .into_iter()
            .map(|d| d.sql)
            .collect(),
    };
    for statement in statements {
        script.push_str(&statement);
        script.push_str(";\n");
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(script.clone()))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("{e}\n{script}"))?;
    let scope = crate::introspect::Scope::named([K::schema_of(name).as_str().to_owned()], &[]);
    let read = crate::introspect::schema(&mut conn, &scope)
        .await
        .map_err(|e| e.to_string())?;
    Ok(K::objects(&read.schema).get(name).cloned())
}

#[test]
fn paired_walks_both_maps_in_key_order_once() {
    use std::collections::BTreeMap;
    let left: BTreeMap<u32, &str> = [(1, "a"), (3, "c"), (4, "d")].into();
    let right: BTreeMap<u32, char> = [(2, 'B'), (3, 'C'), (5, 'E')].into();
    let got: Vec<(u32, Option<&str>, Option<char>)> = super::paired(&left, &right)
        .map(|(k, a, b)| (*k, a.copied(), b.copied()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("a"), None),
            (2, None, Some('B')),
            (3, Some("c"), Some('C')),
            (4, Some("d"), None),
            (5, None, Some('E')),
        ]
    );
    let empty: BTreeMap<u32, &str> = BTreeMap::new();
    assert_eq!(super::paired(&empty, &right).count(), 3);
    assert_eq!(super::paired(&left, &BTreeMap::<u32, ()>::new()).count(), 3);
}
