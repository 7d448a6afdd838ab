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

use crate::{ddl, diff, plan};
use crate::introspect::{self, IntrospectError, Scope};
use crate::model::Schema;

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
pub async fn canonicalise(
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
    let changes = diff::diff(&empty, desired, &diff::Options { rename_hints: false });
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
        canonical
            .sequences
            .entry(k.clone())
            .or_insert_with(|| v.clone());
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
