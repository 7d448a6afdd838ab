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

use sqlx::{Connection, PgConnection};

use crate::introspect::{self, IntrospectError, Scope};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ConstraintKind, QualifiedName, Schema, Table};
use crate::normalise::equivalence;
use crate::{ddl, diff, plan};

#[derive(Debug, Clone)]
pub struct Canonical {
    pub schema: Schema,
    /// Objects the scratch server could not create: (object, server message).
    pub unverified: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    /// The scratch database could not be had (no local PostgreSQL, `--dev-url` unreachable).
    #[error(
        "the desired state needs a scratch database to be canonicalised, and none could be opened"
    )]
    NoScratch(#[source] Box<dyn std::error::Error + Send + Sync>),
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
}

/// Where the scratch database comes from. Canonicalisation asks for it only when something
/// must be built: a desired state whose every object is already in the live catalog, as
/// written, is canonical as it stands, and a plan that finds nothing to build starts no
/// server (issue 16, item 17).
pub trait Scratch: Send {
    /// The scratch connection, opened (or its server started) on first use.
    fn connection(&mut self) -> impl Future<Output = Result<&mut PgConnection, CanonError>> + Send;
}

impl Scratch for PgConnection {
    async fn connection(&mut self) -> Result<&mut PgConnection, CanonError> {
        Ok(self)
    }
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
    mut desired: Schema,
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<Canonical, CanonError> {
    if let Some(live) = live {
        adopt_live_spellings(&mut desired, live);
    }
    // What each table needs: nothing when it is identical to the live one (the live text
    // came from the server, so it is canonical already); a probe of the parts that differ
    // when the live database has it; the whole table when it is new.
    let mut build: BTreeMap<QualifiedName, Table> = BTreeMap::new();
    let mut probed: BTreeSet<QualifiedName> = BTreeSet::new();
    for (name, table) in &desired.tables {
        match live.and_then(|l| l.tables.get(name)) {
            Some(l) if l == table => {}
            Some(l) => {
                build.insert(name.clone(), probe(table, l));
                probed.insert(name.clone());
            }
            None => {
                build.insert(name.clone(), table.clone());
            }
        }
    }
    let prerequisites = Schema {
        schemas: desired.schemas.clone(),
        extensions: desired.extensions.clone(),
        enums: desired.enums.clone(),
        domains: desired.domains.clone(),
        composites: desired.composites.clone(),
        sequences: desired.sequences.clone(),
        tables: BTreeMap::new(),
    };
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
                scratch.connection().await?,
            )
            .await?,
        )
    };
    // A rejected object is reported under its own table's name: such a table is built as a
    // probe instead, so the report names it.
    let unit_named_in = |object: &str| {
        unit_names
            .iter()
            .copied()
            .find(|unit| object.contains(unit.name.as_str()))
    };
    let rejected: BTreeSet<&QualifiedName> = printed
        .iter()
        .flat_map(|p| &p.unverified)
        .filter_map(|(object, _)| unit_named_in(object))
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
                .filter(|(object, _)| unit_named_in(object).is_none())
                .cloned()
                .collect(),
        },
        // Nothing to build, and every schema, type and sequence is in the live catalog as
        // written: that text came from the server, so it is canonical already.
        None if names.is_empty() && live.is_some_and(|l| all_live(&prerequisites, l)) => {
            Canonical {
                schema: prerequisites.clone(),
                unverified: Vec::new(),
            }
        }
        _ => {
            let scratch = scratch.connection().await?;
            build_in_chunks(&names, &build, &probed, &prerequisites, scratch).await?
        }
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
                        table.columns.push(crate::model::Column {
                            name: name.clone(),
                            ..c.clone()
                        });
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
        let scratch = scratch.connection().await?;
        let got = build_in_chunks(&fallback, &build, &probed, &prerequisites, scratch).await?;
        merge(&mut result, got);
    }
    for (name, sequence) in &desired.sequences {
        if let Some(got) = result.schema.sequences.get_mut(name)
            && got.owned_by.is_none()
        {
            got.owned_by = sequence.owned_by.clone();
        }
    }
    for (name, table) in desired.tables {
        match result.schema.tables.get_mut(&name) {
            None => {
                result.schema.tables.insert(name, table);
            }
            Some(got) => {
                if probed.contains(&name) || split.contains_key(&name) {
                    unprobe(got, &table);
                }
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
    Ok(result)
}

/// Whether every object of `prerequisites` (no tables) is in `live` exactly as written.
fn all_live(prerequisites: &Schema, live: &Schema) -> bool {
    fn within<K: Ord, V: PartialEq>(ours: &BTreeMap<K, V>, theirs: &BTreeMap<K, V>) -> bool {
        ours.iter().all(|(k, v)| theirs.get(k) == Some(v))
    }
    prerequisites.schemas.is_subset(&live.schemas)
        && within(&prerequisites.extensions, &live.extensions)
        && within(&prerequisites.enums, &live.enums)
        && within(&prerequisites.domains, &live.domains)
        && within(&prerequisites.composites, &live.composites)
        && within(&prerequisites.sequences, &live.sequences)
}

/// Tables built in one scratch transaction. Every relation built (a table, its TOAST table,
/// each index, an identity sequence) holds a lock until the rollback, and the server's
/// shared lock table has room for `max_locks_per_transaction` × `max_connections` locks
/// (6,400 by default), shared with every other session.
const TABLES_PER_TRANSACTION: usize = 300;

/// Builds the named tables (and the prerequisites) in transactions of at most
/// [`TABLES_PER_TRANSACTION`] tables.
async fn build_in_chunks(
    names: &[&QualifiedName],
    build: &BTreeMap<QualifiedName, Table>,
    probed: &BTreeSet<QualifiedName>,
    prerequisites: &Schema,
    scratch: &mut PgConnection,
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
        // OWNED BY a table that is not built cannot be checked either.
        for sequence in subset.sequences.values_mut() {
            if sequence
                .owned_by
                .as_ref()
                .is_some_and(|(table, _)| !in_chunk.contains(table) || probed.contains(table))
            {
                sequence.owned_by = None;
            }
        }
        let got = canonicalise_to_fixpoint(&subset, scratch).await?;
        match &mut result {
            None => result = Some(got),
            Some(so_far) => merge(so_far, got),
        }
    }
    Ok(result.expect("at least one transaction"))
}

fn merge(so_far: &mut Canonical, got: Canonical) {
    so_far.schema.tables.extend(got.schema.tables);
    for failure in got.unverified {
        if !so_far.unverified.contains(&failure) {
            so_far.unverified.push(failure);
        }
    }
}

/// What one unit table prints for the probe it came from.
#[derive(Debug, Clone)]
enum Part {
    /// A column, and its name in the unit table.
    Column {
        name: crate::model::Ident,
        printed_as: crate::model::Ident,
    },
    Constraint(crate::model::Ident),
    Index(crate::model::Ident),
}

/// Small tables, each holding one changed object and the columns it uses, shared by every
/// probe with the same object over the same columns.
#[derive(Default)]
struct Units {
    tables: BTreeMap<QualifiedName, Table>,
    by_shape: BTreeMap<String, QualifiedName>,
    /// Plain columns (no identity, not generated) read nothing but their own type: they share
    /// tables, one column per distinct definition, under names of their own.
    packed: BTreeMap<String, (QualifiedName, crate::model::Ident)>,
    packing: BTreeMap<crate::model::Ident, QualifiedName>,
}

/// Columns per shared table (PostgreSQL allows 1,600).
const COLUMNS_PER_TABLE: usize = 1000;

impl Units {
    /// The shared table and column that print `column` (added if it is the first of its kind).
    fn pack(
        &mut self,
        schema: &crate::model::Ident,
        column: &crate::model::Column,
        desired: &Schema,
    ) -> Option<(QualifiedName, Part)> {
        let anonymous = crate::model::Column {
            name: crate::model::Ident::from_catalog(String::new()),
            ..column.clone()
        };
        let key = format!(
            "{}\u{0}{}",
            schema.as_str(),
            serde_json::to_string(&anonymous).ok()?
        );
        let (unit, printed_as) = match self.packed.get(&key) {
            Some(found) => found.clone(),
            None => {
                let unit = match self.packing.get(schema) {
                    Some(unit) if self.tables[unit].columns.len() < COLUMNS_PER_TABLE => {
                        unit.clone()
                    }
                    _ => {
                        let unit = self.fresh_name(schema, desired);
                        self.tables.insert(unit.clone(), Table::default());
                        self.packing.insert(schema.clone(), unit.clone());
                        unit
                    }
                };
                let columns = &mut self.tables.get_mut(&unit).expect("just added").columns;
                let printed_as = crate::model::Ident::from_catalog(format!("c{}", columns.len()));
                columns.push(crate::model::Column {
                    name: printed_as.clone(),
                    ..column.clone()
                });
                self.packed.insert(key, (unit.clone(), printed_as.clone()));
                (unit, printed_as)
            }
        };
        let part = Part::Column {
            name: column.name.clone(),
            printed_as,
        };
        Some((unit, part))
    }

    /// The units of `probe` (a changed table's probe, or a new table), or `None` when it must
    /// be built whole: it has an exclusion constraint, or an expression whose columns cannot
    /// be told or that names the table itself. Foreign keys are left out.
    fn split(
        &mut self,
        name: &QualifiedName,
        probe: &Table,
        table: &Table,
        live: &Table,
        desired: &Schema,
    ) -> Option<Vec<(QualifiedName, Part)>> {
        let mut parts = Vec::new();
        let mut wanted: Vec<(Part, Table)> = Vec::new();
        for column in &probe.columns {
            let name_of = column.name.as_str();
            if live.column(name_of).is_some() && live.column(name_of) == table.column(name_of) {
                continue;
            }
            if column.generated.is_none() && column.identity.is_none() {
                parts.push(self.pack(&name.schema, column, desired)?);
                continue;
            }
            let mut table = Table::default();
            if let Some(expression) = &column.generated {
                let uses = references(name, expression)?;
                table.columns = helpers(probe, &uses, Some(column.name.as_str()));
            }
            table.columns.push(column.clone());
            let part = Part::Column {
                name: column.name.clone(),
                printed_as: column.name.clone(),
            };
            wanted.push((part, table));
        }
        for (constraint_name, constraint) in &probe.constraints {
            let mut uses: BTreeSet<String> = BTreeSet::new();
            match &constraint.kind {
                ConstraintKind::PrimaryKey { columns, include }
                | ConstraintKind::Unique {
                    columns, include, ..
                } => uses.extend(columns.iter().chain(include).map(|c| c.as_str().to_owned())),
                ConstraintKind::Check { expression, .. } => uses = references(name, expression)?,
                // Built from structured fields, a foreign key needs no canonical form; it is
                // put back as written.
                ConstraintKind::ForeignKey(_) => continue,
                ConstraintKind::Exclusion { .. } => return None,
            }
            let mut table = Table {
                columns: helpers(probe, &uses, None),
                ..Table::default()
            };
            table
                .constraints
                .insert(constraint_name.clone(), constraint.clone());
            wanted.push((Part::Constraint(constraint_name.clone()), table));
        }
        for (index_name, index) in &probe.indexes {
            let mut uses: BTreeSet<String> = index
                .include
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect();
            for key in &index.keys {
                match &key.target {
                    crate::model::IndexTarget::Column(c) => {
                        uses.insert(c.as_str().to_owned());
                    }
                    crate::model::IndexTarget::Expression(text) => {
                        uses.extend(references(name, text)?)
                    }
                }
            }
            if let Some(predicate) = &index.predicate {
                uses.extend(references(name, predicate)?);
            }
            let mut table = Table {
                columns: helpers(probe, &uses, None),
                ..Table::default()
            };
            table.indexes.insert(index_name.clone(), index.clone());
            wanted.push((Part::Index(index_name.clone()), table));
        }
        for (part, mut table) in wanted {
            // The object's own name never changes how it prints; a unit names it after itself
            // (index and key names share the schema's namespace).
            let object = crate::model::Ident::from_catalog("object".into());
            rename_only(&mut table.constraints, &object);
            rename_only(&mut table.indexes, &object);
            let key = format!(
                "{}\u{0}{}",
                name.schema.as_str(),
                serde_json::to_string(&table).ok()?
            );
            let unit = match self.by_shape.get(&key) {
                Some(unit) => unit.clone(),
                None => {
                    let unit = self.fresh_name(&name.schema, desired);
                    let own =
                        crate::model::Ident::from_catalog(format!("{}_key", unit.name.as_str()));
                    rename_only(&mut table.constraints, &own);
                    rename_only(&mut table.indexes, &own);
                    self.by_shape.insert(key, unit.clone());
                    self.tables.insert(unit.clone(), table);
                    unit
                }
            };
            parts.push((unit, part));
        }
        Some(parts)
    }

    /// A table name in `schema` that no desired table has.
    fn fresh_name(&self, schema: &crate::model::Ident, desired: &Schema) -> QualifiedName {
        (self.tables.len()..)
            .map(|i| {
                QualifiedName::new(
                    schema.clone(),
                    crate::model::Ident::from_catalog(format!("reconcile_probe_{i:06}")),
                )
            })
            .find(|candidate| !desired.tables.contains_key(candidate))
            .expect("an unused name")
    }
}

/// Gives the only entry of `objects` (if any) the name `to`.
fn rename_only<V>(objects: &mut BTreeMap<crate::model::Ident, V>, to: &crate::model::Ident) {
    if let Some((_, value)) = objects.pop_first() {
        objects.insert(to.clone(), value);
    }
}

/// The columns an expression of table `name` reads; `None` when that cannot be told, or when
/// it names the table itself (a unit table has another name).
fn references(name: &QualifiedName, expression: &str) -> Option<BTreeSet<String>> {
    let found = equivalence::column_references(expression)?;
    (!found.contains(name.name.as_str())).then_some(found)
}

/// The columns of `probe` named in `uses` (but not `except`), as plain typed columns: only
/// their types, collations and nullability can change how an object over them prints.
fn helpers(
    probe: &Table,
    uses: &BTreeSet<String>,
    except: Option<&str>,
) -> Vec<crate::model::Column> {
    probe
        .columns
        .iter()
        .filter(|c| uses.contains(c.name.as_str()) && Some(c.name.as_str()) != except)
        .map(|c| crate::model::Column {
            default: None,
            identity: None,
            generated: None,
            ..c.clone()
        })
        .collect()
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

/// The parts of `desired` the scratch server has to print: the columns that differ from the
/// live ones or that a differing object uses (with their types, so expressions can refer to
/// them) — with defaults, generated expressions and identities only where they differ from
/// the live column — and only the constraints and indexes that differ from the live ones.
/// Each left-out part is already in the server's words (it equals the live text) and
/// [`unprobe`] puts it back. A probe has a fraction of the table's columns and relations, and
/// each relation built costs the scratch server about a millisecond.
fn probe(desired: &Table, live: &Table) -> Table {
    let mut probe = desired.clone();
    for column in probe.columns.iter_mut() {
        let Some(l) = live.column(column.name.as_str()) else {
            continue;
        };
        if l.default == column.default {
            column.default = None;
        }
        if l.generated == column.generated {
            column.generated = None;
        }
        if l.identity == column.identity {
            column.identity = None;
        }
    }
    probe
        .constraints
        .retain(|name, c| live.constraints.get(name) != Some(c));
    probe
        .indexes
        .retain(|name, i| live.indexes.get(name) != Some(i));
    if let Some(needed) = needed_columns(desired, live, &probe) {
        probe.columns.retain(|c| needed.contains(c.name.as_str()));
    }
    probe
}

/// The columns a probe must have: those that differ from the live ones and every column its
/// constraints, indexes and generated expressions use; `None` (all of them) when an
/// expression's columns cannot be told.
fn needed_columns(desired: &Table, live: &Table, probe: &Table) -> Option<BTreeSet<String>> {
    use crate::model::IndexTarget;
    let mut needed: BTreeSet<String> = desired
        .columns
        .iter()
        .filter(|c| live.column(c.name.as_str()) != Some(*c))
        .map(|c| c.name.as_str().to_owned())
        .collect();
    let mut expressions: Vec<&str> = Vec::new();
    let names = |list: &[crate::model::Ident], needed: &mut BTreeSet<String>| {
        needed.extend(list.iter().map(|n| n.as_str().to_owned()));
    };
    for constraint in probe.constraints.values() {
        match &constraint.kind {
            ConstraintKind::PrimaryKey { columns, include }
            | ConstraintKind::Unique {
                columns, include, ..
            } => {
                names(columns, &mut needed);
                names(include, &mut needed);
            }
            ConstraintKind::Check { expression, .. } => expressions.push(expression),
            ConstraintKind::ForeignKey(fk) => names(&fk.columns, &mut needed),
            ConstraintKind::Exclusion { .. } => return None,
        }
    }
    for index in probe.indexes.values() {
        for key in &index.keys {
            match &key.target {
                IndexTarget::Column(name) => {
                    needed.insert(name.as_str().to_owned());
                }
                IndexTarget::Expression(text) => expressions.push(text),
            }
        }
        names(&index.include, &mut needed);
        expressions.extend(index.predicate.as_deref());
    }
    for text in expressions {
        needed.extend(equivalence::column_references(text)?);
    }
    // A generated column reads other columns; those never are generated themselves.
    let generated: Vec<&str> = probe
        .columns
        .iter()
        .filter(|c| needed.contains(c.name.as_str()))
        .filter_map(|c| c.generated.as_deref())
        .collect();
    for text in generated {
        needed.extend(equivalence::column_references(text)?);
    }
    Some(needed)
}

/// Puts back into a canonicalised probe what [`probe`] left out.
fn unprobe(canonical: &mut Table, desired: &Table) {
    let mut printed: BTreeMap<String, crate::model::Column> =
        std::mem::take(&mut canonical.columns)
            .into_iter()
            .map(|c| (c.name.as_str().to_owned(), c))
            .collect();
    canonical.columns = desired
        .columns
        .iter()
        .map(|d| match printed.remove(d.name.as_str()) {
            None => d.clone(),
            Some(mut column) => {
                if column.default.is_none() {
                    column.default = d.default.clone();
                }
                if column.generated.is_none() {
                    column.generated = d.generated.clone();
                }
                if column.identity.is_none() {
                    column.identity = d.identity.clone();
                }
                column
            }
        })
        .collect();
    for (name, c) in &desired.constraints {
        canonical
            .constraints
            .entry(name.clone())
            .or_insert_with(|| c.clone());
    }
    for (name, i) in &desired.indexes {
        canonical
            .indexes
            .entry(name.clone())
            .or_insert_with(|| i.clone());
    }
}

/// Spells every expression of `desired` that [`equivalence`] proves to be the live one as
/// the live catalog spells it, in place (a copy of every changed table would double the
/// desired model's memory). Tables that then equal their live copy need no scratch build at
/// all; the rest are built as before.
pub fn adopt_live_spellings(desired: &mut Schema, live: &Schema) {
    for (name, table) in desired.tables.iter_mut() {
        if let Some(live_table) = live.tables.get(name)
            && live_table != table
        {
            adopt_table(table, live_table);
        }
    }
}

fn adopt_table(table: &mut crate::model::Table, live: &crate::model::Table) {
    use crate::model::IndexTarget;
    let types: equivalence::ColumnTypes<'_> = live
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            table
                .column_near(c.name.as_str(), *i)
                .is_some_and(|d| d.data_type == c.data_type)
        })
        .map(|(_, c)| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    let adopt =
        |ours: &mut Option<String>, theirs: &Option<String>, same: &dyn Fn(&str, &str) -> bool| {
            if let (Some(o), Some(t)) = (ours.as_ref(), theirs.as_ref())
                && o != t
                && same(t, o)
            {
                *ours = Some(t.clone());
            }
        };
    for (position, column) in table.columns.iter_mut().enumerate() {
        let Some(l) = live.column_near(column.name.as_str(), position) else {
            continue;
        };
        if l.data_type == column.data_type {
            let ty = l.data_type.as_str();
            adopt(&mut column.default, &l.default, &|t, o| {
                equivalence::same_default(t, o, ty)
            });
        }
        adopt(&mut column.generated, &l.generated, &|t, o| {
            equivalence::same_expression(t, o, &types)
        });
    }
    for (cname, constraint) in table.constraints.iter_mut() {
        let Some(l) = live.constraints.get(cname) else {
            continue;
        };
        if let (
            ConstraintKind::Check {
                expression,
                no_inherit,
            },
            ConstraintKind::Check {
                expression: live_expression,
                no_inherit: live_no_inherit,
            },
        ) = (&mut constraint.kind, &l.kind)
            && no_inherit == live_no_inherit
            && expression != live_expression
            && equivalence::same_expression(live_expression, expression, &types)
        {
            *expression = live_expression.clone();
        }
    }
    for (iname, index) in table.indexes.iter_mut() {
        let Some(l) = live.indexes.get(iname) else {
            continue;
        };
        if index == l {
            continue;
        }
        let mut candidate = index.clone();
        adopt(&mut candidate.predicate, &l.predicate, &|t, o| {
            equivalence::same_expression(t, o, &types)
        });
        if candidate.keys.len() == l.keys.len() {
            for (key, live_key) in candidate.keys.iter_mut().zip(&l.keys) {
                if let (IndexTarget::Expression(ours), IndexTarget::Expression(theirs)) =
                    (&mut key.target, &live_key.target)
                    && ours != theirs
                    && equivalence::same_expression(theirs, ours, &types)
                {
                    *ours = theirs.clone();
                }
            }
        }
        // Only whole-index adoption: a half-adopted index would print neither way.
        if candidate == *l {
            *index = candidate;
        }
    }
}

/// Whether any printed expression has the array shapes whose printed form is not a fixpoint.
fn needs_second_pass(schema: &Schema) -> bool {
    let suspicious =
        |text: &str| text.contains("ARRAY[") || text.contains("ANY (") || text.contains("ALL (");
    let tables = schema.tables.values().any(|t| {
        t.columns.iter().any(|c| {
            c.default.as_deref().is_some_and(suspicious)
                || c.generated.as_deref().is_some_and(suspicious)
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
    let domains = schema.domains.values().any(|d| {
        d.default.as_deref().is_some_and(suspicious) || d.checks.values().any(|c| suspicious(c))
    });
    tables || domains
}

/// Brings the live objects that differ from `desired` to the same re-parsed form (see
/// [`canonicalise`]): a database built from hand-written SQL stores the first form, which
/// would otherwise show as drift although it means the same. Objects that compare equal, or
/// that the scratch server cannot build, are left as they are. The model is changed in place
/// (a copy would cost as much memory as the model itself); keep a clone, or its
/// [`crate::plan::fingerprint`], if the model as read is needed later.
pub async fn align_live(
    mut live: Schema,
    desired: &Schema,
    scratch: &mut impl Scratch,
) -> Result<Schema, CanonError> {
    let tables: Vec<_> = live
        .tables
        .iter()
        .filter(|(name, t)| {
            desired
                .tables
                .get(*name)
                .is_some_and(|d| texts_differ(t, d))
        })
        .map(|(name, _)| name.clone())
        .collect();
    let domains: Vec<_> = live
        .domains
        .iter()
        .filter(|(name, d)| desired.domains.get(*name).is_some_and(|w| w != *d))
        .map(|(name, _)| name.clone())
        .collect();
    if tables.is_empty() && domains.is_empty() {
        return Ok(live);
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
    let mut rebuilt = canonicalise_once(&subset, scratch.connection().await?).await?;
    drop(subset);
    let failed: std::collections::BTreeSet<&str> =
        rebuilt.unverified.iter().map(|(o, _)| o.as_str()).collect();
    for name in &tables {
        let touched_by_failure = failed.iter().any(|o| o.ends_with(&format!(" {name}")));
        if touched_by_failure {
            continue;
        }
        if let (Some(mut table), Some(current)) = (
            rebuilt.schema.tables.remove(name),
            live.tables.get_mut(name),
        ) {
            for (cname, c) in &current.constraints {
                if matches!(c.kind, crate::model::ConstraintKind::ForeignKey(_)) {
                    table.constraints.insert(cname.clone(), c.clone());
                }
            }
            *current = table;
        }
    }
    for name in &domains {
        if !failed.contains(format!("domain {name}").as_str())
            && let Some(domain) = rebuilt.schema.domains.remove(name)
        {
            live.domains.insert(name.clone(), domain);
        }
    }
    Ok(live)
}

/// Whether something both tables have — a column, constraint or index of the same name —
/// is printed differently (only those can be re-parse artefacts; a missing or extra object
/// is a real difference and needs no server to tell).
fn texts_differ(live: &crate::model::Table, desired: &crate::model::Table) -> bool {
    live.columns.iter().enumerate().any(|(i, c)| {
        desired
            .column_near(c.name.as_str(), i)
            .is_some_and(|d| d.default != c.default || d.generated != c.generated)
    }) || live
        .constraints
        .iter()
        .any(|(n, c)| desired.constraints.get(n).is_some_and(|d| d != c))
        || live
            .indexes
            .iter()
            .any(|(n, i)| desired.indexes.get(n).is_some_and(|d| d != i))
}

/// Refuses a scratch database that already has tables, views, sequences or types in the
/// schemas about to be built: existing objects would be read back as if they were desired.
async fn check_empty(desired: &Schema, scratch: &mut PgConnection) -> Result<(), CanonError> {
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

async fn canonicalise_once(
    desired: &Schema,
    scratch: &mut PgConnection,
) -> Result<Canonical, CanonError> {
    check_empty(desired, scratch).await?;
    let mut tx = scratch.begin().await?;
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await?;
    let statements = statements(desired);
    // Fast path: everything in one round trip (this is the scratch database, where a
    // multi-statement query is harmless). Only if the server rejects something do we go
    // statement by statement, each under a savepoint, to learn which objects it rejects.
    sqlx::query("SAVEPOINT reconcile_canon_all")
        .execute(&mut *tx)
        .await?;
    let script: String = statements.iter().map(|s| format!("{};\n", s.sql)).collect();
    let mut unverified = Vec::new();
    if sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut *tx)
        .await
        .is_ok()
    {
        sqlx::query("RELEASE SAVEPOINT reconcile_canon_all")
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("ROLLBACK TO SAVEPOINT reconcile_canon_all")
            .execute(&mut *tx)
            .await?;
        for statement in statements {
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
