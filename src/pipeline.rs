//! The drift pipeline: introspect → canonicalise → align → diff → plan, assembled once.
//!
//! `plan`, `verify`, `apply`, `shadow` and the convergence tests all need the same answer to
//! "what separates this database from the desired state?". Assembled by hand in each, the
//! copies drifted apart (apply once planned against the live model before alignment). This
//! module is the one assembly; callers differ only in where the desired state and the
//! connections come from and in what they do with the [`Drift`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sqlx::PgConnection;

use crate::canon::{self, CanonError, Rejection, Scratch, ServerError};
use crate::diff;
use crate::introspect::{self, IntrospectError, Introspected, Scope, Skipped};
use crate::load::SqlStatement;
use crate::model::{ObjectId, QualifiedName, Schema};
use crate::plan::{self, Plan, PlanError};
use crate::render::Report;

/// How to plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Report a missing column beside an extra one of the same type as a possible rename.
    pub rename_hints: bool,
    /// Build indexes on existing tables with `CREATE INDEX CONCURRENTLY`.
    pub concurrently: bool,
    /// Schemas never read nor changed (the user's `--ignore-schema`, reconcile's history).
    pub ignore_schemas: Vec<String>,
    /// Replace definitions PostgreSQL swaps in place (`--no-replace` turns each into a
    /// finding).
    pub replace: bool,
    /// Objects whose drift is not reported (`ignore_objects` of `reconcile.toml`, e.g.
    /// `public.tmp_*`): matched against the schema-qualified name of the object or of the
    /// table it belongs to.
    pub ignore_objects: Vec<glob::Pattern>,
}

impl Options {
    /// Whether drift of `object` is left out of the report.
    pub fn ignores(&self, object: &crate::model::ObjectId) -> bool {
        let Some(name) = object.owner_name() else {
            return false;
        };
        let text = format!("{}.{}", name.schema.as_str(), name.name.as_str());
        self.ignore_objects.iter().any(|p| p.matches(&text))
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rename_hints: true,
            concurrently: true,
            ignore_schemas: Vec::new(),
            replace: true,
            ignore_objects: Vec::new(),
        }
    }
}

/// What separates a database from the desired state.
#[derive(Debug)]
pub struct Drift {
    /// The live state aligned to the desired state's spellings (what is shown as "live").
    pub aligned: Schema,
    /// The desired state in the server's words.
    pub desired: Schema,
    pub plan: Plan,
    /// What the catalog read left out, and why.
    pub skipped: Vec<Skipped>,
    /// The scope the catalog was read in (read it again with this to verify an apply).
    pub scope: Scope,
    /// `reltuples` per table, for hazard messages.
    pub estimated_rows: BTreeMap<QualifiedName, f64>,
    /// INVALID indexes left by failed concurrent builds.
    pub invalid_indexes: BTreeSet<QualifiedName>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Introspect(#[from] IntrospectError),
    #[error(transparent)]
    Canon(#[from] CanonError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the fingerprint thread failed: {0}")]
    Fingerprint(String),
    /// Roles the desired state names and the target lacks (reconcile creates none), each at
    /// the place the desired state names it.
    #[error("the desired state names roles the target database does not have")]
    MissingOnTarget(#[source] crate::load::LoadErrors),
    /// Views and routines the desired state names (grants, owners) and does not declare.
    #[error(
        "the desired state names views or routines (under grants: or owners:) it does not declare"
    )]
    UndeclaredViews(#[source] crate::load::LoadErrors),
    /// Objects of the desired state that PostgreSQL itself rejects (a default of the wrong
    /// type, a check on a column that does not exist): an error in the input, never a step.
    #[error(
        "PostgreSQL rejects {} object(s) of the desired state: {}",
        .0.len(),
        .0.iter().map(|r| format!("{}: {}", r.object, r.error)).collect::<Vec<_>>().join("; ")
    )]
    Rejected(Vec<Rejection>),
    /// Statements of the desired state's `.sql` files that PostgreSQL rejects.
    #[error(
        "PostgreSQL rejects {} statement(s) of the desired state: {}",
        .0.len(),
        .0.iter().map(|(s, e)| format!("{}: {e}", s.origin())).collect::<Vec<_>>().join("; ")
    )]
    SqlRejected(Vec<(SqlStatement, ServerError)>),
}

/// What the scratch server rejected for a reason in the desired state itself (not for lack of
/// something the target may have): the precise part (a column, check or index built alone)
/// where one is known, else the object.
fn rejections(canonical: &canon::Canonical) -> Vec<Rejection> {
    let mut out: Vec<Rejection> = canonical
        .rejected_parts
        .iter()
        .filter(|r| !r.error.environmental())
        .cloned()
        .collect();
    let named_tables: BTreeSet<QualifiedName> = out
        .iter()
        .filter_map(|r| r.object.table().cloned())
        .collect();
    out.extend(
        canonical
            .unverified
            .iter()
            .filter(|r| !r.error.environmental())
            .filter(|r| r.object.table().is_none_or(|t| !named_tables.contains(t)))
            .cloned(),
    );
    out.sort_by_cached_key(|r| r.object.to_string());
    out.dedup();
    out
}

impl Drift {
    /// The renderers' view of it.
    pub fn report<'a>(&'a self, command: &'a str, target: &'a str) -> Report<'a> {
        Report {
            command,
            target,
            plan: &self.plan,
            live: &self.aligned,
            desired: &self.desired,
            skipped: &self.skipped,
        }
    }
}

/// The scope the desired state is compared in.
pub fn scope(desired: &Schema, options: &Options) -> Scope {
    Scope::of(desired, &options.ignore_schemas)
}

/// Plans `desired` against the database behind `target`.
///
/// `read` is the catalog already read (say, while the files were parsed) with the scope it was
/// read in; it is used when that scope is the desired state's, and the catalog is read again
/// otherwise. The scratch database is asked for only when something must be built there.
pub async fn drift(
    desired: Schema,
    sql: &[SqlStatement],
    target: &mut PgConnection,
    read: Option<(Scope, Introspected)>,
    scratch: &mut impl Scratch,
    options: &Options,
) -> Result<Drift, PipelineError> {
    let scope = scope(&desired, options);
    let live = match read {
        Some((guessed, live)) if guessed == scope => live,
        _ => read_catalog(target, None, &scope).await?,
    };
    let mut drift = drift_from(desired, sql, live, scope, scratch, options).await?;
    // Creating a materialized view runs its query: its step says what the planner expects
    // that to cost here (one EXPLAIN per materialized view the plan creates).
    crate::kinds::materialized_view::estimate_costs(
        &mut drift.plan,
        &drift.aligned,
        &drift.desired,
        target,
    )
    .await;
    Ok(drift)
}

/// What the `.sql` files declare, built on the scratch server and read back, joins the
/// desired state (in the server's words). Returns the names of the tables the statements
/// declare.
async fn build_sql(
    desired: &mut Schema,
    sql: &[SqlStatement],
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<BTreeSet<QualifiedName>, PipelineError> {
    if sql.is_empty() {
        return Ok(BTreeSet::new());
    }
    let clock = std::time::Instant::now();
    let built = canon::sql::build_against(desired, sql, live, scratch).await?;
    if !built.rejected.is_empty() {
        return Err(PipelineError::SqlRejected(
            built
                .rejected
                .into_iter()
                .map(|(i, error)| (sql[i].clone(), error))
                .collect(),
        ));
    }
    let tables = built.schema.tables.keys().cloned().collect();
    canon::sql::merge(desired, built.schema);
    tracing::info!(
        "built {} SQL statements of the desired state in {:?}",
        sql.len(),
        clock.elapsed()
    );
    Ok(tables)
}

/// The desired state in the server's words, built once for many targets (a fleet): the
/// `.sql` files and every object are built on the scratch server, against no live database.
/// Given to [`drift_from`] (with no SQL statements), each target then builds on the scratch
/// server only what differs from it — a target in sync builds nothing.
pub async fn canonical(
    mut desired: Schema,
    sql: &[SqlStatement],
    scratch: &mut impl Scratch,
) -> Result<Schema, PipelineError> {
    build_sql(&mut desired, sql, None, scratch).await?;
    let undeclared = crate::kinds::privilege::undeclared(&desired);
    if !undeclared.is_empty() {
        return Err(PipelineError::UndeclaredViews(crate::load::LoadErrors(
            undeclared,
        )));
    }
    let origins = desired.origins.clone();
    let canonical = canon::canonicalise_in(desired, None, None, scratch).await?;
    let rejected = rejections(&canonical);
    if !rejected.is_empty() {
        return Err(PipelineError::Rejected(rejected));
    }
    let mut schema = canonical.schema;
    schema.origins = origins;
    Ok(schema)
}

/// [`drift`] on a catalog already read in `scope`.
pub async fn drift_from(
    mut desired: Schema,
    sql: &[SqlStatement],
    mut live: Introspected,
    scope: Scope,
    scratch: &mut impl Scratch,
    options: &Options,
) -> Result<Drift, PipelineError> {
    let missing = crate::kinds::privilege::missing_roles(&desired, &live.roles);
    if !missing.is_empty() {
        return Err(PipelineError::MissingOnTarget(crate::load::LoadErrors(
            missing,
        )));
    }
    let routines: BTreeSet<&ObjectId> = live.skipped.iter().map(|s| &s.object).collect();
    let missing_routines = crate::kinds::privilege::missing_routines(&desired, &routines);
    // The plan's fingerprint is of the model as read, which alignment changes in place; it
    // is hashed on another core while the scratch server builds and canonicalises.
    let as_read = Arc::new(std::mem::take(&mut live.schema));
    let hashing = tokio::task::spawn_blocking({
        let as_read = Arc::clone(&as_read);
        move || plan::fingerprint(&as_read)
    });
    // Spellings proven equal to the live ones first: which statements can be taken from the
    // live catalog depends on which tables are unchanged. Adopting is idempotent, so of the
    // tables the statements add only those are left to adopt (at 10,000 tables a second pass
    // over all of them cost ~0.1 s).
    canon::adopt_live_spellings(&mut desired, &as_read);
    tracing::debug!("adopted the live spellings");
    let from_sql = build_sql(&mut desired, sql, Some(&as_read), scratch).await?;
    canon::adopt_live_spellings_of(&mut desired, &as_read, |name| from_sql.contains(name));
    let undeclared = crate::kinds::privilege::undeclared(&desired);
    if !undeclared.is_empty() {
        return Err(PipelineError::UndeclaredViews(crate::load::LoadErrors(
            undeclared,
        )));
    }
    let clock = std::time::Instant::now();
    let canonical =
        canon::canonicalise_adopted(desired, Some(&as_read), Some(&live.environment), scratch)
            .await;
    let fingerprint = hashing
        .await
        .map_err(|e| PipelineError::Fingerprint(e.to_string()))?;
    let canonical = canonical?;
    let as_read = Arc::try_unwrap(as_read).unwrap_or_else(|shared| (*shared).clone());
    tracing::info!("canonicalised the desired state in {:?}", clock.elapsed());
    let rejected = rejections(&canonical);
    if !rejected.is_empty() {
        return Err(PipelineError::Rejected(rejected));
    }
    for r in &canonical.unverified {
        tracing::warn!(
            "{} could not be checked on the scratch database: {}",
            r.object,
            r.error
        );
    }
    let diff_options = diff::Options {
        rename_hints: options.rename_hints,
        unmanaged_tables: std::mem::take(&mut live.unmanaged_tables),
        partition_indexes: std::mem::take(&mut live.partition_indexes),
        undeclared_schemas: std::mem::take(&mut live.undeclared_schemas),
        replace: options.replace,
        creating_role: live
            .current_role
            .clone()
            .map(crate::model::Ident::from_catalog),
    };
    let clock = std::time::Instant::now();
    let aligned = canon::align_live(as_read, &canonical.schema, scratch).await?;
    tracing::info!("aligned the live state in {:?}", clock.elapsed());
    let clock = std::time::Instant::now();
    let mut result = diff::diff(&aligned, &canonical.schema, &diff_options);
    if !options.ignore_objects.is_empty() {
        result.findings.retain(|f| !options.ignores(&f.object));
    }
    // Alignment changes texts only, not which objects exist or their nullability — what
    // the planner looks up in the live model.
    let context = plan::Context {
        live: &aligned,
        estimated_rows: &live.estimated_rows,
        concurrently: options.concurrently,
    };
    let extras = plan::Extras {
        invalid_indexes: live.invalid_indexes.clone(),
        unverified: canonical
            .unverified
            .iter()
            .map(|r| (r.object.clone(), r.error.to_string()))
            .chain(missing_routines)
            .collect(),
        live_fingerprint: Some(fingerprint),
    };
    let plan = plan::build_with(&result, &context, &extras)?;
    tracing::info!("diffed and planned in {:?}", clock.elapsed());
    Ok(Drift {
        aligned,
        desired: canonical.schema,
        plan,
        skipped: live.skipped,
        scope,
        estimated_rows: live.estimated_rows,
        invalid_indexes: live.invalid_indexes,
    })
}

/// Reads the catalog in `scope`, logging how long it took; in two halves when a second
/// connection to the same database is given (see [`introspect::schema_with`]).
pub async fn read_catalog(
    conn: &mut PgConnection,
    helper: Option<&mut PgConnection>,
    scope: &Scope,
) -> Result<Introspected, IntrospectError> {
    let clock = std::time::Instant::now();
    let live = introspect::schema_with(conn, helper, scope).await?;
    tracing::info!(
        "introspected {} tables in {} catalog queries, {:?}",
        live.schema.tables.len(),
        live.catalog_queries,
        clock.elapsed()
    );
    Ok(live)
}
