//! Server-side canonicalisation of a desired state.
//!
//! Only PostgreSQL knows that `'{}'` for a jsonb column is stored as `'{}'::jsonb`, that
//! `price > 0` on a numeric column reads back as `(price > (0)::numeric)`, or which operator
//! class is the default for a column. So the desired state is built, statement by statement,
//! inside a transaction on an empty scratch database, read back with the same introspection
//! the live side uses, and the transaction is rolled back. What comes back is the desired
//! state in the server's own words, which makes comparison with the live catalog exact.
//!
//! Building is the expensive part (about a millisecond per relation), so as little as
//! possible is built: nothing for tables equal to the live ones once the spellings proven
//! equal locally are adopted (`normalise::equivalence`); for the rest, each new or changed
//! column, check and index is built once, on a small table of its own that has only the
//! columns the object uses, and shared by every table that adds the same object — how an
//! object prints depends on its text and the types of those columns, not on the table.
//!
//! A statement the scratch server rejects (an extension it lacks, a function that lives only
//! in the real database) does not stop the rest: that object keeps its text as written and is
//! listed in [`Canonical::unverified`].

mod adopt;
mod align;
mod foreign_keys;
mod partition;
mod policies;
mod probe;
mod scratch;
pub mod sql;
mod unchanged;
mod units;

use std::collections::{BTreeMap, BTreeSet};

use compact_str::CompactString;
use sqlx::PgConnection;

use crate::introspect::IntrospectError;
use crate::kinds;
use crate::model::{ConstraintKind, ObjectId, QualifiedName, Schema, Table};

pub use adopt::{adopt_live_spellings, adopt_live_spellings_of};
pub use align::align_live;
use probe::{probe, unprobe};
use scratch::canonicalise_once;
pub use unchanged::{Preparation, prepare_until};
use units::{Part, Units};

#[derive(Debug, Clone)]
pub struct Canonical {
    pub schema: Schema,
    /// Objects the scratch server could not create, with its error.
    pub unverified: Vec<Rejection>,
    /// The new or changed parts of tables (a column, a check, an index) that the scratch
    /// server rejected when each was built alone: the precise object behind a table's
    /// entry in [`Canonical::unverified`].
    pub rejected_parts: Vec<Rejection>,
}

/// An object the scratch server would not create, and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub object: ObjectId,
    pub error: ServerError,
}

/// A server error, as much of it as helps a person fix the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ServerError {
    pub fn of(error: &sqlx::Error) -> Self {
        match error.as_database_error() {
            Some(db) => {
                let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
                ServerError {
                    sqlstate: db.code().map(|c| c.into_owned()),
                    message: db.message().to_owned(),
                    detail: pg.and_then(|p| p.detail()).map(str::to_owned),
                    hint: pg.and_then(|p| p.hint()).map(str::to_owned),
                }
            }
            None => ServerError {
                sqlstate: None,
                message: error.to_string(),
                detail: None,
                hint: None,
            },
        }
    }

    /// Whether the error says the scratch server lacks something the target may well have —
    /// a function, type, collation or extension that the desired state does not declare — as
    /// opposed to a desired state no PostgreSQL would accept (a default of the wrong type, a
    /// check on a missing column).
    pub fn environmental(&self) -> bool {
        matches!(
            self.sqlstate.as_deref(),
            // undefined_function, undefined_object, undefined_file (an extension's control
            // file), invalid_schema_name, and undefined_table: the loader checks that every
            // table the desired state refers to is declared or outside it, so a table the
            // scratch server lacks is one it could not build for one of the other reasons,
            // or one outside the desired state that the target has
            Some("42883" | "42704" | "58P01" | "3F000" | "42P01")
        )
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "; DETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; HINT: {hint}")?;
        }
        Ok(())
    }
}

/// Where the scratch database comes from: an open connection, or something that opens one on
/// first use — a plan with nothing to build never needs a server.
pub trait Scratch: Send {
    fn connection(
        &mut self,
    ) -> impl std::future::Future<Output = Result<&mut PgConnection, CanonError>> + Send;
}

impl Scratch for PgConnection {
    async fn connection(&mut self) -> Result<&mut PgConnection, CanonError> {
        Ok(self)
    }
}

/// Whether every schema-level object of `prerequisites` (what is built before tables) is in
/// `live` as it is: then none needs the server to say how it prints.
fn prerequisites_match(prerequisites: &Schema, live: Option<&Schema>) -> bool {
    fn all_in<K: Ord, V: PartialEq>(wanted: &BTreeMap<K, V>, live: &BTreeMap<K, V>) -> bool {
        wanted.iter().all(|(k, v)| live.get(k) == Some(v))
    }
    live.is_some_and(|live| {
        all_in(&prerequisites.extensions, &live.extensions)
            && all_in(&prerequisites.enums, &live.enums)
            && kinds::all_in(prerequisites, live)
    })
}

/// What is built before tables, and what every scratch transaction builds: schemas,
/// extensions, enums and the objects of every registered kind.
pub(crate) fn prerequisites_of(schema: &Schema) -> Schema {
    let mut prerequisites = Schema {
        schemas: schema.schemas.clone(),
        extensions: schema.extensions.clone(),
        enums: schema.enums.clone(),
        ..Schema::default()
    };
    kinds::copy_all(schema, &mut prerequisites);
    prerequisites
}

#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("while canonicalising the desired state on the scratch database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Introspect(#[from] IntrospectError),
    #[error(
        "the scratch database is not empty ({what}); canonicalisation builds the desired state \
         there and reads it back, so it needs an empty database — give --dev-url an empty one \
         (never the target)"
    )]
    NotEmpty { what: String },
    /// The scratch database could not be had (no local PostgreSQL, `--dev-url` unreachable).
    #[error(
        "the desired state needs a scratch database to be canonicalised, and none could be opened"
    )]
    NoScratch(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Canonicalises `desired` on `scratch`, which must be an empty database.
///
/// Two passes where needed: the server's printed form of an expression is not always a
/// fixpoint — `x IN ('a', 'b')` on a varchar column prints as
/// `x = ANY ((ARRAY['a'::varchar, ...])::text[])`, which, parsed again, prints as
/// `x = ANY (ARRAY[('a'::varchar)::text, ...])`. Text reconcile writes is stored in the second
/// form, so the desired state is compared in that form too. The known cases all involve
/// array expressions, so the second pass only runs when the first printed one.
pub async fn canonicalise(
    desired: &Schema,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    canonicalise_against(desired, None, scratch).await
}

/// [`canonicalise`], skipping every table that is already identical, as written, to the same
/// table in `live`: the live text came from the server, so it is canonical already, and
/// building thousands of unchanged tables on the scratch server is most of the cost of a plan.
/// Foreign keys to skipped tables are left out of the build (their text is built from
/// structured fields and needs no canonical form) and put back afterwards.
pub async fn canonicalise_against(
    desired: &Schema,
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    canonicalise_owned(desired.clone(), live, scratch).await
}

/// [`canonicalise_against`], taking the desired state: its unchanged tables (most of them)
/// move into the result instead of being copied.
pub async fn canonicalise_owned(
    desired: Schema,
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    canonicalise_in(desired, live, None, scratch).await
}

/// [`canonicalise_owned`], with what the target has that the desired state may name without
/// declaring (its roles, its functions: see `policies`).
pub async fn canonicalise_in(
    mut desired: Schema,
    live: Option<&Schema>,
    environment: Option<&crate::introspect::Environment>,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    if let Some(live) = live {
        adopt_live_spellings(&mut desired, live);
    }
    canonicalise_adopted(desired, live, environment, scratch).await
}

/// [`canonicalise_in`] for a desired state whose live spellings were adopted already (see
/// [`adopt_live_spellings`]).
pub async fn canonicalise_adopted(
    mut desired: Schema,
    live: Option<&Schema>,
    environment: Option<&crate::introspect::Environment>,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    // What each table needs: nothing when it is identical to the live one (the live text
    // came from the server, so it is canonical already); a probe of the parts that differ
    // when the live database has it; the whole table when it is new.
    let mut build: BTreeMap<QualifiedName, Table> = BTreeMap::new();
    let mut probed: BTreeSet<QualifiedName> = BTreeSet::new();
    for (name, table) in &desired.tables {
        // Built as plain tables: keys and bounds are printed on their own (`partition`).
        match live.and_then(|l| l.tables.get(name)) {
            Some(l) if l == table => {}
            Some(l) => {
                let mut probed_table = probe(table, l);
                partition::strip(&mut probed_table);
                build.insert(name.clone(), probed_table);
                probed.insert(name.clone());
            }
            None => {
                let mut whole = table.clone();
                partition::strip(&mut whole);
                build.insert(name.clone(), whole);
            }
        }
    }
    let prerequisites = prerequisites_of(&desired);
    let partitioning = partition::print(&desired, live, &prerequisites, scratch).await?;
    // A changed object prints the same wherever it is, given the columns it uses: each is
    // built once, on a small table of its own, however many tables it is added to.
    let mut units = Units::default();
    let mut split: BTreeMap<QualifiedName, Vec<(QualifiedName, Part)>> = BTreeMap::new();
    let nothing = Table::default();
    for (name, built) in &build {
        let live_table = live.and_then(|l| l.tables.get(name)).unwrap_or(&nothing);
        let table = &desired.tables[name];
        if let Some(parts) = units.split(name, built, table, live_table, &desired) {
            split.insert(name.clone(), parts);
        }
    }
    let names: Vec<&QualifiedName> = build.keys().filter(|n| !split.contains_key(*n)).collect();
    tracing::info!(
        "scratch build: {} tables whole, {} small tables for the objects of {} new or changed tables",
        names.len(),
        units.tables.len(),
        split.len()
    );
    let unit_names: Vec<&QualifiedName> = units.tables.keys().collect();
    let printed = if unit_names.is_empty() {
        None
    } else {
        let none_probed = BTreeSet::new();
        Some(
            build_in_chunks(
                &unit_names,
                &units.tables,
                &none_probed,
                &prerequisites,
                &desired,
                scratch,
            )
            .await?,
        )
    };
    // A rejected object is reported under its own table's name: such a table is built as a
    // probe instead, so the report names it.
    let unit_named_in = |object: &ObjectId| {
        object
            .table()
            .and_then(|table| unit_names.iter().copied().find(|unit| *unit == table))
    };
    let rejected_units: BTreeMap<&QualifiedName, &ServerError> = printed
        .iter()
        .flat_map(|p| &p.unverified)
        .filter_map(|r| Some((unit_named_in(&r.object)?, &r.error)))
        .collect();
    let rejected: BTreeSet<&QualifiedName> = rejected_units.keys().copied().collect();
    // Each part built alone on a unit table names exactly what the server rejected.
    let rejected_parts: Vec<Rejection> = split
        .iter()
        .flat_map(|(table, parts)| {
            parts.iter().filter_map(|(unit, part)| {
                let error = rejected_units.get(unit)?;
                Some(Rejection {
                    object: part.object(table),
                    error: (*error).clone(),
                })
            })
        })
        .collect();
    let mut result = match &printed {
        // Every transaction builds the prerequisites (schemas, types, sequences): when only
        // units were built, theirs are the result.
        Some(printed) if names.is_empty() => Canonical {
            schema: Schema {
                tables: BTreeMap::new(),
                ..printed.schema.clone()
            },
            unverified: printed
                .unverified
                .iter()
                .filter(|r| unit_named_in(&r.object).is_none())
                .cloned()
                .collect(),
            rejected_parts: Vec::new(),
        },
        // Nothing new or changed: the desired state is the live one, in the server's words
        // already, and the scratch server is not needed at all.
        None if names.is_empty() && prerequisites_match(&prerequisites, live) => Canonical {
            schema: prerequisites.clone(),
            unverified: Vec::new(),
            rejected_parts: Vec::new(),
        },
        _ => build_in_chunks(&names, &build, &probed, &prerequisites, &desired, scratch).await?,
    };
    let printed = printed.map(|p| p.schema).unwrap_or_default();
    let mut fallback: BTreeSet<&QualifiedName> = split
        .iter()
        .filter(|(_, parts)| parts.iter().any(|(unit, _)| rejected.contains(unit)))
        .map(|(name, _)| name)
        .collect();
    // A table referring to one that cannot be built cannot be built either (its foreign key
    // fails with it): it is built with it, so the report names that key too.
    loop {
        let more: Vec<&QualifiedName> = split
            .keys()
            .filter(|name| !fallback.contains(name))
            .filter(|name| {
                desired.tables[*name].constraints.values().any(|c| {
                    matches!(&c.kind, ConstraintKind::ForeignKey(fk) if fallback.contains(&fk.references))
                })
            })
            .collect();
        if more.is_empty() {
            break;
        }
        fallback.extend(more);
    }
    for (name, parts) in &split {
        if fallback.contains(name) {
            continue;
        }
        let mut table = Table::default();
        for (unit, part) in parts {
            let unit = &printed.tables[unit];
            match part {
                Part::Column { name, printed_as } => {
                    if let Some(c) = unit.column(printed_as.as_str()) {
                        table.columns.push(c.renamed(name.clone()));
                    }
                }
                Part::Constraint(constraint) => {
                    if let Some(c) = unit.constraints.values().next() {
                        table.constraints.insert(constraint.clone(), c.clone());
                    }
                }
                Part::Index(index) => {
                    if let Some(i) = unit.indexes.values().next() {
                        table.indexes.insert(index.clone(), i.clone());
                    }
                }
            }
        }
        table.row_level_security = build[name].row_level_security;
        table.force_row_level_security = build[name].force_row_level_security;
        result.schema.tables.insert(name.clone(), table);
    }
    if !fallback.is_empty() {
        let fallback: Vec<&QualifiedName> = fallback.into_iter().collect();
        let got = build_in_chunks(
            &fallback,
            &build,
            &probed,
            &prerequisites,
            &desired,
            scratch,
        )
        .await?;
        merge(&mut result, got);
    }
    kinds::restore_all_from(&mut desired, &mut result.schema);
    let foreign_key_rejections = foreign_keys::check(&desired, live, scratch).await?;
    for (name, table) in desired.tables {
        match result.schema.tables.get_mut(&name) {
            None => {
                result.schema.tables.insert(name, table);
            }
            Some(got) => {
                if probed.contains(&name) || split.contains_key(&name) {
                    unprobe(got, &table);
                }
                got.partition_by = table.partition_by.clone();
                got.partition_of = table.partition_of.clone();
                for (cname, c) in &table.constraints {
                    if matches!(c.kind, ConstraintKind::ForeignKey(_)) {
                        got.constraints
                            .entry(cname.clone())
                            .or_insert_with(|| c.clone());
                    }
                }
            }
        }
    }
    for (name, key) in partitioning.keys {
        if let Some(table) = result.schema.tables.get_mut(&name) {
            table.partition_by = Some(key);
        }
    }
    for (name, bound) in partitioning.bounds {
        if let Some(p) = result
            .schema
            .tables
            .get_mut(&name)
            .and_then(|t| t.partition_of.as_mut())
        {
            p.bound = bound;
        }
    }
    result.unverified.extend(partitioning.unverified);
    result.rejected_parts = rejected_parts;
    result.rejected_parts.extend(foreign_key_rejections);
    let found = policies::canonicalise(&mut result.schema, live, environment, scratch).await?;
    result.unverified.extend(found.unverified);
    result.rejected_parts.extend(found.rejected);
    Ok(result)
}

/// Tables built in one scratch transaction. Every relation built (a table, its TOAST table,
/// each index, an identity sequence) holds a lock until the rollback, and the server's
/// shared lock table has room for `max_locks_per_transaction` × `max_connections` locks
/// (6,400 by default), shared with every other session.
const TABLES_PER_TRANSACTION: usize = 300;

/// Builds the named tables (and the prerequisites) in transactions of at most
/// [`TABLES_PER_TRANSACTION`] tables.
///
/// `desired` is the whole desired state: a table or view whose row type a built column uses
/// (`x a`) and that the transaction does not build is built as a stand-in (see
/// [`row_type_stand_ins`]).
async fn build_in_chunks(
    names: &[&QualifiedName],
    build: &BTreeMap<QualifiedName, Table>,
    probed: &BTreeSet<QualifiedName>,
    prerequisites: &Schema,
    desired: &Schema,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    let chunks: Vec<&[&QualifiedName]> = if names.is_empty() {
        vec![&[]]
    } else {
        names.chunks(TABLES_PER_TRANSACTION).collect()
    };
    let mut result: Option<Canonical> = None;
    for chunk in chunks {
        let in_chunk: BTreeSet<&QualifiedName> = chunk.iter().copied().collect();
        let mut subset = prerequisites.clone();
        for name in chunk {
            let mut table = build[*name].clone();
            // A foreign key's text is built from structured fields and needs no canonical
            // form; one whose target is not built here (unchanged, probed without its keys,
            // or in another transaction) cannot be built, so it is left out and put back.
            table.constraints.retain(|_, c| match &c.kind {
                ConstraintKind::ForeignKey(fk) => {
                    in_chunk.contains(&fk.references) && !probed.contains(&fk.references)
                }
                _ => true,
            });
            subset.tables.insert((*name).clone(), table);
        }
        // What refers to a table that is not built (an OWNED BY) cannot be checked either.
        kinds::leave_out_unbuilt_tables(&mut subset, &|table| {
            in_chunk.contains(table) && !probed.contains(table)
        });
        kinds::function::leave_out_uncalled(&mut subset, &[]);
        let stand_ins = row_type_stand_ins(&subset, desired);
        let stand_in_names: BTreeSet<QualifiedName> = stand_ins.keys().cloned().collect();
        subset.tables.extend(stand_ins);
        let mut got = canonicalise_to_fixpoint(&subset, scratch.connection().await?).await?;
        got.schema
            .tables
            .retain(|name, _| !stand_in_names.contains(name));
        got.unverified
            .retain(|r| r.object.table().is_none_or(|t| !stand_in_names.contains(t)));
        match &mut result {
            None => result = Some(got),
            Some(so_far) => merge(so_far, got),
        }
    }
    Ok(result.expect("at least one transaction"))
}

/// The relations whose row types the columns of `subset` use (`x a`, `y a[]`) that `subset`
/// does not build, as tables with the columns' names and types only (what the row type is
/// made of; none for a materialized view, whose columns the model does not list), and so on
/// for their columns: without them the columns typed with them cannot be built (`type "a"
/// does not exist`). A row type prints as its relation's name, whatever the relation is.
/// They are taken out of what the build gives back.
fn row_type_stand_ins(subset: &Schema, desired: &Schema) -> BTreeMap<QualifiedName, Table> {
    use crate::model::{Column, Ident};
    let row_type = |name: &QualifiedName| -> Option<Vec<(Ident, CompactString, Option<&str>)>> {
        if let Some(table) = desired.tables.get(name) {
            return Some(
                table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone(), c.collation()))
                    .collect(),
            );
        }
        if let Some(view) = desired.views.get(name) {
            return Some(
                view.columns
                    .iter()
                    .map(|(n, t)| (n.clone(), CompactString::from(t.as_str()), None))
                    .collect(),
            );
        }
        desired.materialized_views.contains_key(name).then(Vec::new)
    };
    let mut out: BTreeMap<QualifiedName, Table> = BTreeMap::new();
    let mut pending: Vec<CompactString> = subset
        .tables
        .values()
        .flat_map(|t| t.columns.iter().map(|c| c.data_type.clone()))
        .collect();
    while let Some(data_type) = pending.pop() {
        let Some(name) = crate::plan::refs::type_name(&data_type) else {
            continue;
        };
        if subset.tables.contains_key(&name) || out.contains_key(&name) {
            continue;
        }
        let Some(columns) = row_type(&name) else {
            continue;
        };
        pending.extend(columns.iter().map(|(_, t, _)| t.clone()));
        let columns = columns
            .into_iter()
            .map(|(n, t, collation)| Column::new(n, t).with_collation(collation.map(str::to_owned)))
            .collect();
        out.insert(
            name,
            Table {
                columns,
                ..Table::default()
            },
        );
    }
    out
}

fn merge(so_far: &mut Canonical, got: Canonical) {
    so_far.schema.tables.extend(got.schema.tables);
    for failure in got.unverified {
        if !so_far.unverified.contains(&failure) {
            so_far.unverified.push(failure);
        }
    }
    so_far.rejected_parts.extend(got.rejected_parts);
}

/// One scratch build, and a second one when the first printed expressions whose printed form
/// is not a fixpoint (see [`canonicalise`]).
async fn canonicalise_to_fixpoint(
    subset: &Schema,
    scratch: &mut PgConnection,
) -> Result<Canonical, CanonError> {
    let first = canonicalise_once(subset, scratch).await?;
    if !needs_second_pass(&first.schema) {
        return Ok(first);
    }
    let mut second = canonicalise_once(&first.schema, scratch).await?;
    second.unverified = first.unverified;
    Ok(second)
}

/// Whether any printed expression has the array shapes whose printed form is not a fixpoint.
fn needs_second_pass(schema: &Schema) -> bool {
    let suspicious =
        |text: &str| text.contains("ARRAY[") || text.contains("ANY (") || text.contains("ALL (");
    let tables = schema.tables.values().any(|t| {
        t.columns.iter().any(|c| {
            c.default.as_deref().is_some_and(suspicious) || c.generated().is_some_and(suspicious)
        }) || t.constraints.values().any(|c| match &c.kind {
            ConstraintKind::Check { expression, .. } => suspicious(expression),
            ConstraintKind::Exclusion { definition } => suspicious(definition),
            _ => false,
        }) || t.indexes.values().any(|i| {
            i.predicate.as_deref().is_some_and(suspicious)
                || i.keys.iter().any(|k| match &k.target {
                    crate::model::IndexTarget::Expression(e) => suspicious(e),
                    crate::model::IndexTarget::Column(_) => false,
                })
        })
    });
    tables || kinds::any_printed_text(schema, &suspicious)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, Domain, Ident};

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new(Ident::new("public").unwrap(), Ident::new(n).unwrap())
    }

    #[test]
    fn a_second_pass_only_for_the_array_shapes() {
        let mut schema = Schema::default();
        let mut t = Table::default();
        let mut c = Column::new(Ident::new("a").unwrap(), "text");
        c.default = Some("'x'::text".into());
        t.columns.push(c);
        schema.tables.insert(name("t"), t);
        assert!(!needs_second_pass(&schema));
        schema.domains.insert(
            name("d"),
            Domain {
                data_type: "text".into(),
                default: None,
                not_null: false,
                collation: None,
                checks: [(
                    Ident::new("in_list").unwrap(),
                    "(VALUE = ANY (ARRAY['a'::text, 'b'::text]))".into(),
                )]
                .into(),
            },
        );
        assert!(
            needs_second_pass(&schema),
            "a domain check is printed text too"
        );
    }

    #[test]
    fn nothing_to_build_when_every_prerequisite_is_live() {
        let mut desired = Schema::default();
        desired.domains.insert(
            name("d"),
            Domain {
                data_type: "integer".into(),
                default: None,
                not_null: false,
                collation: None,
                checks: Default::default(),
            },
        );
        let prerequisites = prerequisites_of(&desired);
        assert!(!prerequisites_match(&prerequisites, None));
        assert!(!prerequisites_match(
            &prerequisites,
            Some(&Schema::default())
        ));
        assert!(prerequisites_match(&prerequisites, Some(&desired)));
    }
}
