//! Steps particular to partitioned tables: a new partition, and the parent's side of a new
//! index, key or foreign key on a partitioned table that already has partitions (the
//! partitions' side — their concurrent builds and validations — are ordinary steps on
//! ordinary tables; the diff lays out which, see `diff::partition`).
//!
//! Ordering, through keys: the parent's `ON ONLY` index or `ONLY` key comes first (catalog
//! only: the partitioned table holds no rows) and provides [`Key::IndexShell`]; each
//! partition's index is built, then attached to it ([`Key::Index`] of the parent's index is
//! provided by the attachments, so what needs the finished index waits for all of them). A
//! partition created by the same plan waits for the parent's shells ([`Key::PartitionShell`]),
//! and PostgreSQL gives it the parent's indexes and keys as it is created. A foreign key on
//! the parent waits until every partition's own copy is validated ([`Key::Validated`]), so
//! adding it adopts them instead of scanning.

use std::collections::BTreeMap;

use super::generate::{Builder, rows};
use super::guard;
use super::stage::{INDEX_BUILDS, KEYS, SHORT_LOCKS};
use super::step::{HazardCode, LockLevel, StepKind, Transaction};
use super::{Context, Draft, Key};
use crate::ddl;
use crate::ident::quote_literal;
use crate::model::{Constraint, ConstraintKind, Ident, Index, ObjectId, QualifiedName, Table};

/// The live partition trees, built once per plan when a change needs them.
pub(super) struct Trees<'a> {
    children: BTreeMap<&'a QualifiedName, Vec<&'a QualifiedName>>,
    live: &'a crate::model::Schema,
}

impl<'a> Trees<'a> {
    pub(super) fn new(context: &Context<'a>) -> Self {
        Self {
            children: context.live.partition_children(),
            live: context.live,
        }
    }

    fn children(&self, table: &QualifiedName) -> &[&'a QualifiedName] {
        self.children
            .get(table)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every live partition under `table`, at every level.
    fn descendants(&self, table: &QualifiedName) -> Vec<&'a QualifiedName> {
        let mut out = Vec::new();
        for child in self.children(table) {
            out.push(*child);
            out.extend(self.descendants(child));
        }
        out
    }

    fn leaves(&self, table: &QualifiedName) -> Vec<&'a QualifiedName> {
        self.descendants(table)
            .into_iter()
            .filter(|t| !self.live.tables[*t].is_partitioned())
            .collect()
    }

    /// The live DEFAULT partition of `parent`, other than `except`.
    fn default_partition(
        &self,
        parent: &QualifiedName,
        except: &QualifiedName,
    ) -> Option<&'a QualifiedName> {
        self.children(parent).iter().copied().find(|c| {
            *c != except
                && self.live.tables[*c]
                    .partition_of
                    .as_ref()
                    .is_some_and(|p| p.is_default())
        })
    }
}

/// Whether `table` exists in the database as a partitioned table: then a new index or key on
/// it is built partition by partition.
pub(super) fn is_partitioned(context: &Context, table: &QualifiedName) -> bool {
    context
        .live
        .tables
        .get(table)
        .is_some_and(Table::is_partitioned)
}

/// A new table that is a partition: `CREATE TABLE ... PARTITION OF`, after the parent's new
/// indexes and keys (which it then gets as it is created). On an existing parent it takes an
/// ACCESS EXCLUSIVE lock on it, and, when the parent has a DEFAULT partition, on that one too,
/// which PostgreSQL scans to prove none of its rows belong to the new partition.
pub(super) fn create_partition(
    b: Builder,
    name: &QualifiedName,
    parent: &QualifiedName,
    context: &Context,
    trees: &Trees,
) -> Builder {
    let mut b = b
        .requires(Key::Table(parent.clone()))
        .requires(Key::PartitionShell(parent.clone()));
    if !context.live.tables.contains_key(parent) {
        return b;
    }
    b = b.lock(parent, LockLevel::AccessExclusive).hazard(
        HazardCode::AccessExclusiveLock,
        format!(
            "creating a partition takes an ACCESS EXCLUSIVE lock on {parent} (briefly, but it \
             queues behind running queries and blocks everything queued after it)"
        ),
    );
    if let Some(default) = trees.default_partition(parent, name) {
        b = b
            .lock(default, LockLevel::AccessExclusive)
            .transaction(Transaction::Alone)
            .hazard(
                HazardCode::DefaultPartitionScan,
                format!(
                    "{parent} has a DEFAULT partition, {default} ({}): creating {name} scans \
                     it under an ACCESS EXCLUSIVE lock to prove none of its rows belong to \
                     {name}, and fails if some do — move those rows out of {default} first",
                    rows(context, default)
                ),
            );
    }
    b
}

/// A new index on an existing partitioned table: created `ON ONLY` the parent, a catalog-only
/// change; it becomes valid when every partition's index is attached.
pub(super) fn index_on_only(
    table: &QualifiedName,
    name: &Ident,
    index: &Index,
    trees: &Trees,
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let qualified = QualifiedName::new(table.schema.clone(), name.clone());
    let mut b = Builder::new(StepKind::CreateIndex, INDEX_BUILDS, Some(table), object)
        .sql(ddl::create_index_on_only(table, name, index))
        .requires(Key::Table(table.clone()))
        .requires(Key::NewColumns(table.clone()))
        .requires(Key::Extensions)
        .provides(Key::IndexShell(qualified.clone()))
        .provides(Key::PartitionShell(table.clone()))
        .lock(table, LockLevel::Share)
        .hazard(
            HazardCode::PartitionedTableLock,
            shell_lock(table, "a SHARE"),
        );
    if trees.children(table).is_empty() {
        b = b.provides(Key::Index(qualified));
        if index.unique && index.predicate.is_none() {
            b = b.provides(Key::Keys(table.clone()));
        }
    } else {
        b = b.hazard(
            HazardCode::BuildsIndex,
            format!(
                "the index is INVALID until each partition's index is built (concurrently) and \
                 attached ({} partitions)",
                trees.children(table).len()
            ),
        );
    }
    b.push(out);
}

/// A new primary key or unique constraint on an existing partitioned table:
/// `ALTER TABLE ONLY ... ADD CONSTRAINT`, catalog only; its index becomes valid when every
/// partition's key is attached.
pub(super) fn key_on_only(
    table: &QualifiedName,
    name: &Ident,
    constraint: &Constraint,
    trees: &Trees,
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let qualified = QualifiedName::new(table.schema.clone(), name.clone());
    let mut b = Builder::new(StepKind::AddConstraint, SHORT_LOCKS, Some(table), object)
        .sql(guard::unless_exists(
            &guard::constraint_exists(table, name),
            &format!(
                "ALTER TABLE ONLY {} ADD CONSTRAINT {} {}",
                table.quoted(),
                name.quoted(),
                ddl::constraint_body(constraint)
            ),
        ))
        .requires(Key::Table(table.clone()))
        .requires(Key::NewColumns(table.clone()))
        .requires(Key::Extensions)
        .provides(Key::Constraint(table.clone(), name.clone()))
        .provides(Key::IndexShell(qualified.clone()))
        .provides(Key::PartitionShell(table.clone()))
        .lock(table, LockLevel::AccessExclusive)
        .hazard(
            HazardCode::PartitionedTableLock,
            shell_lock(table, "an ACCESS EXCLUSIVE"),
        );
    if trees.children(table).is_empty() {
        b = b
            .provides(Key::Index(qualified))
            .provides(Key::Keys(table.clone()));
    }
    b.push(out);
}

fn shell_lock(table: &QualifiedName, level: &str) -> String {
    format!(
        "takes {level} lock on the partitioned table {table} for a catalog-only change (it \
         holds no rows): writes through {table} wait for it briefly"
    )
}

/// A new foreign key on an existing partitioned table, once every partition has its own copy
/// validated: PostgreSQL adopts those, so adding it scans nothing (PostgreSQL 15 cannot add a
/// foreign key `NOT VALID` to a partitioned table).
pub(super) fn foreign_key(b: Builder, table: &QualifiedName, trees: &Trees) -> Builder {
    let mut b = b.lock(table, LockLevel::ShareRowExclusive);
    for partition in trees.descendants(table) {
        b = b.lock(partition, LockLevel::ShareRowExclusive);
    }
    b.requires_all(
        trees
            .leaves(table)
            .into_iter()
            .map(|leaf| Key::Validated(leaf.clone())),
    )
}

/// `ALTER INDEX ... ATTACH PARTITION`, guarded: an index already attached is skipped.
pub(super) fn attach(
    (table, index): (&QualifiedName, &Ident),
    (partition, partition_index): (&QualifiedName, &Ident),
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let parent = QualifiedName::new(table.schema.clone(), index.clone());
    let child = QualifiedName::new(partition.schema.clone(), partition_index.clone());
    let attached = format!(
        "SELECT FROM pg_catalog.pg_inherits WHERE inhrelid = {}::pg_catalog.regclass AND \
         inhparent = {}::pg_catalog.regclass",
        quote_literal(&child.quoted()),
        quote_literal(&parent.quoted())
    );
    Builder::new(
        StepKind::AttachPartitionIndex,
        KEYS,
        Some(partition),
        object,
    )
    .sql(guard::unless_exists(
        &attached,
        &format!(
            "ALTER INDEX {} ATTACH PARTITION {}",
            parent.quoted(),
            child.quoted()
        ),
    ))
    .requires(Key::IndexShell(parent.clone()))
    .requires(Key::Index(child.clone()))
    .requires(Key::Constraint(partition.clone(), partition_index.clone()))
    .provides(Key::Index(parent))
    .provides(Key::Keys(table.clone()))
    .lock(partition, LockLevel::AccessExclusive)
    .hazard(
        HazardCode::AccessExclusiveLock,
        format!(
            "takes an ACCESS EXCLUSIVE lock on the index {child} (briefly, catalog only): \
                 reads and writes of {partition} wait for it"
        ),
    )
    .push(out);
}

/// Whether a constraint on a partitioned table is built partition by partition (keys and
/// foreign keys; a check is added NOT VALID on the parent and validated, as on any table).
pub(super) fn built_by_partition(constraint: &Constraint) -> bool {
    matches!(
        constraint.kind,
        ConstraintKind::PrimaryKey { .. }
            | ConstraintKind::Unique { .. }
            | ConstraintKind::ForeignKey(_)
    )
}
