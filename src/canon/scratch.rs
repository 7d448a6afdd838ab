//! The scratch session: builds a model on the empty scratch database inside a transaction
//! that is always rolled back, and reads it back with the live side's introspection.

use sqlx::{Connection, PgConnection};

use super::{CanonError, Canonical, Rejection, ServerError};
use crate::introspect::{self, Scope};
use crate::kinds;
use crate::model::Schema;
use crate::{ddl, diff, plan};

/// Refuses a scratch database that already has tables, views, sequences or types in the
/// schemas about to be built: existing objects would be read back as if they were desired.
pub(super) async fn check_empty(
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<(), CanonError> {
    let schemas: Vec<String> = desired
        .schemas
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let found: Option<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
         UNION ALL \
         SELECT n.nspname || '.' || t.typname FROM pg_catalog.pg_type t \
           JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
          WHERE n.nspname = ANY ($1::text[]) AND t.typtype IN ('e', 'd') \
         LIMIT 1",
    )
    .bind(&schemas)
    .fetch_optional(&mut *scratch)
    .await?;
    match found {
        Some(object) => Err(CanonError::NotEmpty {
            what: format!("it has {object}"),
        }),
        None => Ok(()),
    }
}

pub(super) async fn canonicalise_once(
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<Canonical, CanonError> {
    check_empty(desired, scratch).await?;
    let mut tx = scratch.begin().await?;
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await?;
    // Literals (a partition's bound over a timestamptz key) are read, and printed, under the
    // same settings as the live catalog is.
    sqlx::query(introspect::PRINTING_SETTINGS)
        .execute(&mut *tx)
        .await?;
    let statements = statements(desired);
    let failed = run_all(&mut tx, statements.iter().map(|s| s.sql.as_str())).await?;
    let mut unverified = Vec::new();
    for (index, error) in failed {
        unverified.push(Rejection {
            object: statements[index].object.clone(),
            error,
        });
    }
    let scope = Scope::of(desired, &[]);
    // Only what was built is read back (a few queries instead of every kind's): the scratch
    // database was empty, and what reconcile does not manage is not asked about here.
    let leave_out = introspect::LeaveOut {
        kinds: kinds::not_read_back(kinds::Built::Objects(desired)),
        unmanaged: true,
    };
    let read = introspect::read_in_transaction_of(&mut tx, &scope, leave_out).await;
    tx.rollback().await?;
    let mut schema = read?.schema;
    restore_unverified(desired, &mut schema);
    Ok(Canonical {
        schema,
        unverified,
        rejected_parts: Vec::new(),
    })
}

/// Runs `statements` in the transaction; returns the ones the server rejected (by index) with
/// its error. Fast path: everything in one round trip (this is the scratch database, where a
/// multi-statement query is harmless). Only if the server rejects something do we go
/// statement by statement, each under a savepoint, to learn which ones it rejects.
pub(super) async fn run_all<'s>(
    tx: &mut PgConnection,
    statements: impl Iterator<Item = &'s str> + Clone,
) -> Result<Vec<(usize, ServerError)>, CanonError> {
    if statements.clone().next().is_none() || run_at_once(tx, statements.clone()).await? {
        return Ok(Vec::new());
    }
    let mut failed = Vec::new();
    for (index, statement) in statements.enumerate() {
        if let Err(error) = run_one(tx, statement).await? {
            failed.push((index, error));
        }
    }
    Ok(failed)
}

/// Runs `statements` in one round trip under a savepoint: `true` when the server took them
/// all, `false` (and the transaction as before) when it rejected one.
pub(super) async fn run_at_once<'s>(
    tx: &mut PgConnection,
    statements: impl Iterator<Item = &'s str>,
) -> Result<bool, CanonError> {
    sqlx::query("SAVEPOINT reconcile_canon_all")
        .execute(&mut *tx)
        .await?;
    let script: String = statements.map(|s| format!("{s};\n")).collect();
    if sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut *tx)
        .await
        .is_ok()
    {
        sqlx::query("RELEASE SAVEPOINT reconcile_canon_all")
            .execute(&mut *tx)
            .await?;
        return Ok(true);
    }
    sqlx::query("ROLLBACK TO SAVEPOINT reconcile_canon_all")
        .execute(&mut *tx)
        .await?;
    Ok(false)
}

/// One statement under a savepoint: `Ok(Err(..))` when the server rejects it (and the
/// transaction goes on as if it had not run).
pub(super) async fn run_one(
    tx: &mut PgConnection,
    statement: &str,
) -> Result<Result<(), ServerError>, CanonError> {
    sqlx::query("SAVEPOINT reconcile_canon")
        .execute(&mut *tx)
        .await?;
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut *tx)
        .await
    {
        Ok(_) => {
            sqlx::query("RELEASE SAVEPOINT reconcile_canon")
                .execute(&mut *tx)
                .await?;
            Ok(Ok(()))
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT reconcile_canon")
                .execute(&mut *tx)
                .await?;
            Ok(Err(ServerError::of(&e)))
        }
    }
}

/// The desired state as statements for an empty database, in the planner's dependency order
/// (so a domain over a table's row type follows the table); the simple fixed order of
/// [`ddl::create_all`] if the planner finds a cycle, which the server will then report.
pub(super) fn statements(desired: &Schema) -> Vec<ddl::Statement> {
    let empty = Schema::default();
    let rows = std::collections::BTreeMap::new();
    let changes = diff::diff(
        &empty,
        desired,
        &diff::Options {
            rename_hints: false,
            ..Default::default()
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
    kinds::restore_all(desired, canonical);
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
