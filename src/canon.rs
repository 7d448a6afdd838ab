//! Server-side canonicalisation of a desired state.
//!
//! Only PostgreSQL knows that `'{}'` for a jsonb column is stored as `'{}'::jsonb`, that
//! `price > 0` on a numeric column reads back as `(price > (0)::numeric)`, or which operator
//! class is the default for a column. So the desired state is built, statement by statement,
//! inside a transaction on an empty scratch database, read back with the same introspection
//! the live side uses, and the transaction is rolled back. What comes back is the desired
//! state in the server's own words, which makes comparison with the live catalog exact.
//!
//! A statement the scratch server rejects (an extension it lacks, a function that lives only
//! in the real database) does not stop the rest: that object keeps its text as written and is
//! listed in [`Canonical::unverified`].

use sqlx::{Connection, PgConnection};

use crate::introspect::{self, IntrospectError, Scope};
use crate::model::Schema;
use crate::{ddl, diff, plan};

#[derive(Debug, Clone)]
pub struct Canonical {
    pub schema: Schema,
    /// Objects the scratch server could not create: (object, server message).
    pub unverified: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("while canonicalising the desired state on the scratch database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Introspect(#[from] IntrospectError),
}

/// Canonicalises `desired` on `scratch`, which must be an empty database.
///
/// Two passes: the server's printed form of an expression is not always a fixpoint — `x IN
/// ('a', 'b')` on a varchar column prints as `x = ANY ((ARRAY['a'::varchar, ...])::text[])`,
/// which, parsed again, prints as `x = ANY (ARRAY[('a'::varchar)::text, ...])`. Text reconcile
/// writes is stored in the second form, so the desired state is compared in that form too.
pub async fn canonicalise(
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<Canonical, CanonError> {
    let first = canonicalise_once(desired, scratch).await?;
    let mut second = canonicalise_once(&first.schema, scratch).await?;
    second.unverified = first.unverified;
    Ok(second)
}

/// Brings the live objects that differ from `desired` to the same re-parsed form (see
/// [`canonicalise`]): a database built from hand-written SQL stores the first form, which
/// would otherwise show as drift although it means the same. Objects that compare equal, or
/// that the scratch server cannot build, are left as they are.
pub async fn align_live(
    live: &Schema,
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<Schema, CanonError> {
    let tables: Vec<_> = live
        .tables
        .iter()
        .filter(|(name, t)| desired.tables.get(*name).is_some_and(|d| d != *t))
        .map(|(name, _)| name.clone())
        .collect();
    let domains: Vec<_> = live
        .domains
        .iter()
        .filter(|(name, d)| desired.domains.get(*name).is_some_and(|w| w != *d))
        .map(|(name, _)| name.clone())
        .collect();
    if tables.is_empty() && domains.is_empty() {
        return Ok(live.clone());
    }
    // The differing tables, without foreign keys (whose text does not change and whose
    // targets are not built), and every type they might use.
    let mut subset = Schema {
        schemas: live.schemas.clone(),
        extensions: live.extensions.clone(),
        enums: live.enums.clone(),
        domains: live.domains.clone(),
        composites: live.composites.clone(),
        sequences: live.sequences.clone(),
        tables: Default::default(),
    };
    for sequence in subset.sequences.values_mut() {
        sequence.owned_by = None;
    }
    for name in &tables {
        let mut table = live.tables[name].clone();
        table
            .constraints
            .retain(|_, c| !matches!(c.kind, crate::model::ConstraintKind::ForeignKey(_)));
        subset.tables.insert(name.clone(), table);
    }
    let rebuilt = canonicalise_once(&subset, scratch).await?;
    let failed: std::collections::BTreeSet<&str> =
        rebuilt.unverified.iter().map(|(o, _)| o.as_str()).collect();
    let mut aligned = live.clone();
    for name in &tables {
        let touched_by_failure = failed.iter().any(|o| o.ends_with(&format!(" {name}")));
        if touched_by_failure {
            continue;
        }
        if let Some(mut table) = rebuilt.schema.tables.get(name).cloned() {
            for (cname, c) in &live.tables[name].constraints {
                if matches!(c.kind, crate::model::ConstraintKind::ForeignKey(_)) {
                    table.constraints.insert(cname.clone(), c.clone());
                }
            }
            aligned.tables.insert(name.clone(), table);
        }
    }
    for name in &domains {
        if !failed.contains(format!("domain {name}").as_str())
            && let Some(domain) = rebuilt.schema.domains.get(name)
        {
            aligned.domains.insert(name.clone(), domain.clone());
        }
    }
    Ok(aligned)
}

async fn canonicalise_once(
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<Canonical, CanonError> {
    let mut tx = scratch.begin().await?;
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await?;
    let mut unverified = Vec::new();
    for statement in statements(desired) {
        sqlx::query("SAVEPOINT reconcile_canon")
            .execute(&mut *tx)
            .await?;
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement.sql.clone()))
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT reconcile_canon")
                    .execute(&mut *tx)
                    .await?;
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT reconcile_canon")
                    .execute(&mut *tx)
                    .await?;
                unverified.push((statement.object, e.to_string()));
            }
        }
    }
    let scope = Scope::of(desired, &[]);
    let read = introspect::read_in_transaction(&mut tx, &scope).await;
    tx.rollback().await?;
    let mut schema = read?.schema;
    restore_unverified(desired, &mut schema);
    Ok(Canonical { schema, unverified })
}

/// The desired state as statements for an empty database, in the planner's dependency order
/// (so a domain over a table's row type follows the table); the simple fixed order of
/// [`ddl::create_all`] if the planner finds a cycle, which the server will then report.
fn statements(desired: &Schema) -> Vec<ddl::Statement> {
    let empty = Schema::default();
    let rows = std::collections::BTreeMap::new();
    let changes = diff::diff(
        &empty,
        desired,
        &diff::Options {
            rename_hints: false,
        },
    );
    let context = plan::Context {
        live: &empty,
        estimated_rows: &rows,
        concurrently: false,
    };
    match plan::build(&changes, &context) {
        Ok(plan) => plan
            .steps
            .into_iter()
            .map(|s| ddl::Statement {
                object: s.object,
                sql: s.sql,
            })
            .collect(),
        Err(_) => ddl::create_all(desired),
    }
}

/// Objects that did not make it into the scratch database keep their desired form, so a
/// rejected statement never makes an object disappear from the plan.
fn restore_unverified(desired: &Schema, canonical: &mut Schema) {
    canonical.schemas.extend(desired.schemas.iter().cloned());
    for (k, v) in &desired.extensions {
        canonical
            .extensions
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &desired.enums {
        canonical
            .enums
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &desired.composites {
        canonical
            .composites
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &desired.domains {
        canonical
            .domains
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &desired.sequences {
        let got = canonical
            .sequences
            .entry(k.clone())
            .or_insert_with(|| v.clone());
        // The sequence was built but its OWNED BY failed with its table.
        if got.owned_by.is_none() {
            got.owned_by = v.owned_by.clone();
        }
    }
    for (name, table) in &desired.tables {
        let Some(got) = canonical.tables.get_mut(name) else {
            canonical.tables.insert(name.clone(), table.clone());
            continue;
        };
        for (k, v) in &table.constraints {
            got.constraints
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &table.indexes {
            got.indexes.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}
