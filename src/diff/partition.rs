//! Partitioned tables and partitions: what is particular to them among tables.
//!
//! * A partition's columns are its parent's: they are compared only where the partition's
//!   column differs from its parent's on either side (a default of its own, say); a column
//!   added to or dropped from the parent is the parent's difference.
//! * A new partition is created `PARTITION OF` its parent, with the columns it overrides.
//! * A new index, primary key, unique constraint or foreign key on a partitioned table that
//!   already exists is built the way teams do it by hand, so that writes never wait for a
//!   build: the parent's index `ON ONLY` the parent (catalog only, no rows), each
//!   partition's index built concurrently (for a key: a concurrent unique index turned into
//!   the partition's constraint), then attached to the parent's. A foreign key is added
//!   `NOT VALID` and validated on each partition, then added to the parent, which adopts the
//!   partitions' keys without a scan. A partition's own index or key that already is what
//!   the parent's needs (and the desired state does not keep as the partition's own) is
//!   attached instead of built again — which is also how an interrupted plan resumes.
//! * A changed partition key or bound, a partition of another parent, or a partition
//!   detached, attached or dropped is a finding, with the SQL a human would run.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Change, Code, Diff, Finding, Severity};
use crate::ident::default_object_name;
use crate::model::{
    Column, Constraint, ConstraintKind, Ident, Index, IndexTarget, ObjectId, PartitionOf,
    QualifiedName, Schema, Table,
};

/// The partition trees of both sides, and the names taken, for one diff.
pub(super) struct Partitions<'a> {
    live: &'a Schema,
    desired: &'a Schema,
    /// Live partitions of each live partitioned table, in name order.
    live_children: BTreeMap<&'a QualifiedName, Vec<&'a QualifiedName>>,
    /// Relation and constraint names per schema, (schema, name), built on first use (most
    /// diffs never need them): names chosen for partitions' indexes must not collide with
    /// any. Borrowed and hashed: at 10,000 tables there are ~100,000.
    taken: Option<HashSet<(&'a str, &'a str)>>,
    /// Names chosen so far in this diff.
    chosen: BTreeSet<QualifiedName>,
    /// Partitions' indexes attached to their parents' (not in the model).
    attached: &'a BTreeSet<QualifiedName>,
}

impl<'a> Partitions<'a> {
    pub(super) fn new(
        live: &'a Schema,
        desired: &'a Schema,
        attached: &'a BTreeSet<QualifiedName>,
    ) -> Self {
        Self {
            live,
            desired,
            live_children: live.partition_children(),
            taken: None,
            chosen: BTreeSet::new(),
            attached,
        }
    }

    fn children(&self, table: &QualifiedName) -> Vec<&'a QualifiedName> {
        self.live_children.get(table).cloned().unwrap_or_default()
    }

    /// The live partitions under `table` that hold rows (not partitioned themselves), at
    /// every level.
    fn leaves(&self, table: &QualifiedName) -> Vec<&'a QualifiedName> {
        self.descendants(table)
            .into_iter()
            .filter(|t| !self.live.tables[*t].is_partitioned())
            .collect()
    }

    /// Every live partition under `table`, at every level.
    fn descendants(&self, table: &QualifiedName) -> Vec<&'a QualifiedName> {
        let mut out = Vec::new();
        for child in self.children(table) {
            out.push(child);
            out.extend(self.descendants(child));
        }
        out
    }

    /// A name for an object PostgreSQL would name `name1_name2_label` (its own choice when
    /// it creates a partition's index for the parent's), with a number after the label while
    /// the name is taken in the schema.
    fn choose(&mut self, table: &QualifiedName, name2: Option<&str>, label: &str) -> Ident {
        let (live, desired, attached) = (self.live, self.desired, self.attached);
        let taken = self
            .taken
            .get_or_insert_with(|| taken_names(live, desired, attached));
        let mut n = 0;
        loop {
            let label = if n == 0 {
                label.to_owned()
            } else {
                format!("{label}{n}")
            };
            let name = Ident::from_catalog(default_object_name(table.name.as_str(), name2, &label));
            if !taken.contains(&(table.schema.as_str(), name.as_str())) {
                let qualified = QualifiedName::new(table.schema.clone(), name.clone());
                if self.chosen.insert(qualified) {
                    return name;
                }
            }
            n += 1;
        }
    }

    /// Whether `table` is partitioned in the database and in the desired state with the same
    /// key: only then is a new index or key built partition by partition.
    pub(super) fn partitioned_alike(&self, table: &QualifiedName) -> bool {
        match (self.live.tables.get(table), self.desired.tables.get(table)) {
            (Some(l), Some(d)) => l.is_partitioned() && l.partition_by == d.partition_by,
            _ => false,
        }
    }

    /// A new index on an existing partitioned table: the parent's `ON ONLY` (the planner
    /// writes it so for a table partitioned in the database), each partition's, attached.
    pub(super) fn index(
        &mut self,
        table: &QualifiedName,
        name: &Ident,
        index: &Index,
        out: &mut Diff,
    ) {
        out.additive.push(Change::CreateIndex {
            table: table.clone(),
            name: name.clone(),
            index: index.clone(),
            new_table: false,
        });
        for child in self.children(table) {
            let partition_index = match self.adoptable_index(child, index) {
                Some(own) => own.clone(),
                None => {
                    let chosen = self.choose(child, Some(&index_name_part(index)), "idx");
                    if self.live.tables[child].is_partitioned() {
                        self.index(child, &chosen, index, out);
                    } else {
                        out.additive.push(Change::CreateIndex {
                            table: child.clone(),
                            name: chosen.clone(),
                            index: index.clone(),
                            new_table: false,
                        });
                    }
                    chosen
                }
            };
            out.additive.push(Change::AttachPartitionIndex {
                table: table.clone(),
                index: name.clone(),
                partition: child.clone(),
                partition_index,
            });
        }
    }

    /// A live partition's own index that is exactly `index` and that the desired state does
    /// not keep as the partition's own: it is attached to the parent's instead of building
    /// another (and so is not reported as extra).
    fn adoptable_index(&self, partition: &QualifiedName, index: &Index) -> Option<&'a Ident> {
        let kept = self.desired.tables.get(partition);
        self.live.tables[partition]
            .indexes
            .iter()
            .find(|(n, i)| *i == index && kept.is_none_or(|k| !k.indexes.contains_key(*n)))
            .map(|(n, _)| n)
    }

    /// Whether `name`, an index of the live partition `table` that the desired state does
    /// not have, is to be attached to a new index of its parent (see [`Self::index`]).
    pub(super) fn index_adopted(&self, table: &QualifiedName, name: &Ident) -> bool {
        let Some(parent) = self.live_parent(table) else {
            return false;
        };
        let (Some(live_parent), Some(desired_parent)) = (
            self.live.tables.get(parent),
            self.desired.tables.get(parent),
        ) else {
            return false;
        };
        desired_parent.indexes.iter().any(|(n, i)| {
            !live_parent.indexes.contains_key(n)
                && !live_parent.indexes.values().any(|l| l == i)
                && self.adoptable_index(table, i) == Some(name)
        })
    }

    /// Likewise for a partition's own primary key, unique constraint or foreign key.
    pub(super) fn constraint_adopted(&self, table: &QualifiedName, name: &Ident) -> bool {
        let Some(parent) = self.live_parent(table) else {
            return false;
        };
        let (Some(live_parent), Some(desired_parent)) = (
            self.live.tables.get(parent),
            self.desired.tables.get(parent),
        ) else {
            return false;
        };
        desired_parent.constraints.iter().any(|(n, c)| {
            !live_parent.constraints.contains_key(n)
                && matches!(
                    c.kind,
                    ConstraintKind::PrimaryKey { .. }
                        | ConstraintKind::Unique { .. }
                        | ConstraintKind::ForeignKey(_)
                )
                && self.adoptable_constraint(table, c) == Some(name)
        })
    }

    fn live_parent(&self, table: &QualifiedName) -> Option<&'a QualifiedName> {
        self.live
            .tables
            .get(table)?
            .partition_of
            .as_ref()
            .map(|p| &p.parent)
    }

    fn adoptable_constraint(
        &self,
        partition: &QualifiedName,
        constraint: &Constraint,
    ) -> Option<&'a Ident> {
        let kept = self.desired.tables.get(partition);
        self.live.tables[partition]
            .constraints
            .iter()
            .find(|(n, c)| *c == constraint && kept.is_none_or(|k| !k.constraints.contains_key(*n)))
            .map(|(n, _)| n)
    }

    /// A new primary key, unique constraint or foreign key on an existing partitioned table,
    /// or a finding saying why it cannot be added without blocking.
    pub(super) fn constraint(
        &mut self,
        table: &QualifiedName,
        name: &Ident,
        constraint: &Constraint,
        out: &mut Diff,
    ) {
        if let Some(reason) = self.blocked(table, constraint) {
            out.findings.push(Finding::new(
                Code::ConstraintDefinition,
                Severity::Risky,
                ObjectId::constraint(table, name),
                format!("not added: {reason}"),
            ));
            return;
        }
        out.additive.push(Change::AddConstraint {
            table: table.clone(),
            name: name.clone(),
            constraint: constraint.clone(),
            new_table: false,
        });
        if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
            // Each partition's own, validated; the parent's then adopts them (PostgreSQL
            // attaches a partition's foreign key that matches the parent's).
            let columns: Vec<&str> = fk.columns.iter().map(Ident::as_str).collect();
            for leaf in self.leaves(table) {
                if self.adoptable_constraint(leaf, constraint).is_some() {
                    continue;
                }
                let chosen = self.choose(leaf, Some(&columns.join("_")), "fkey");
                out.additive.push(Change::AddConstraint {
                    table: leaf.clone(),
                    name: chosen,
                    constraint: constraint.clone(),
                    new_table: false,
                });
            }
            return;
        }
        self.key_parts(table, name, constraint, out);
    }

    fn key_parts(
        &mut self,
        table: &QualifiedName,
        name: &Ident,
        constraint: &Constraint,
        out: &mut Diff,
    ) {
        for child in self.children(table) {
            let partition_index = match self.adoptable_constraint(child, constraint) {
                Some(own) => own.clone(),
                None => {
                    let chosen = match &constraint.kind {
                        ConstraintKind::PrimaryKey { .. } => self.choose(child, None, "pkey"),
                        ConstraintKind::Unique {
                            columns, include, ..
                        } => {
                            let part: Vec<&str> =
                                columns.iter().chain(include).map(Ident::as_str).collect();
                            self.choose(child, Some(&part.join("_")), "key")
                        }
                        _ => return,
                    };
                    out.additive.push(Change::AddConstraint {
                        table: child.clone(),
                        name: chosen.clone(),
                        constraint: constraint.clone(),
                        new_table: false,
                    });
                    if self.live.tables[child].is_partitioned() {
                        self.key_parts(child, &chosen, constraint, out);
                    }
                    chosen
                }
            };
            out.additive.push(Change::AttachPartitionIndex {
                table: table.clone(),
                index: name.clone(),
                partition: child.clone(),
                partition_index,
            });
        }
    }

    /// Why a key cannot be added to the partitioned `table` partition by partition.
    fn blocked(&self, table: &QualifiedName, constraint: &Constraint) -> Option<String> {
        let ConstraintKind::PrimaryKey { columns, .. } = &constraint.kind else {
            return None;
        };
        let live = &self.live.tables[table];
        let nullable: Vec<String> = columns
            .iter()
            .filter(|c| live.column(c.as_str()).is_some_and(|c| !c.not_null))
            .map(Ident::quoted)
            .collect();
        if !nullable.is_empty() {
            return Some(format!(
                "on a partitioned table a primary key can be added partition by partition only \
                 over NOT NULL columns, and {} is nullable in the database (SET NOT NULL scans \
                 every partition under an ACCESS EXCLUSIVE lock; run it by hand first)",
                nullable.join(", ")
            ));
        }
        for partition in self.descendants(table) {
            let Some((pk, own)) = self.live.tables[partition].primary_key() else {
                continue;
            };
            let adopted =
                own == constraint && self.adoptable_constraint(partition, constraint) == Some(pk);
            if !adopted {
                return Some(format!(
                    "partition {partition} already has primary key {pk}, which differs; a \
                     table has only one"
                ));
            }
        }
        None
    }
}

/// Every relation and constraint name of both sides, and the partitions' attached indexes.
fn taken_names<'a>(
    live: &'a Schema,
    desired: &'a Schema,
    attached: &'a BTreeSet<QualifiedName>,
) -> HashSet<(&'a str, &'a str)> {
    let pair = |q: &'a QualifiedName| (q.schema.as_str(), q.name.as_str());
    let mut taken: HashSet<(&str, &str)> = attached.iter().map(pair).collect();
    for schema in [live, desired] {
        for (name, table) in &schema.tables {
            taken.insert(pair(name));
            let in_schema = |n: &'a Ident| (name.schema.as_str(), n.as_str());
            taken.extend(table.indexes.keys().map(in_schema));
            taken.extend(table.constraints.keys().map(in_schema));
        }
        taken.extend(schema.sequences.keys().map(pair));
    }
    taken
}

/// PostgreSQL's middle part of an index name: its columns (`expr` for an expression),
/// included columns too.
fn index_name_part(index: &Index) -> String {
    let mut parts: Vec<&str> = index
        .keys
        .iter()
        .map(|k| match &k.target {
            IndexTarget::Column(c) => c.as_str(),
            IndexTarget::Expression(_) => "expr",
        })
        .collect();
    parts.extend(index.include.iter().map(Ident::as_str));
    parts.join("_")
}

/// The columns of `table`, a partition of `parent`, that are not what the partition gets
/// from its parent: what `CREATE TABLE ... PARTITION OF` must say.
pub(super) fn overrides(table: &Table, parent: &Table) -> Vec<Column> {
    table
        .columns
        .iter()
        .filter(|c| {
            parent
                .column(c.name.as_str())
                .is_none_or(|p| Table::inherited_column(p) != **c)
        })
        .cloned()
        .collect()
}

/// Copies of a partition's two sides for comparing columns: a column that only one side has
/// is the parent's difference, and one that is what its parent gives it on both sides
/// follows the parent and is not compared here.
pub(super) fn columns_to_compare(
    existing: &Table,
    wanted: &Table,
    live_parent: Option<&Table>,
    desired_parent: Option<&Table>,
) -> (Table, Table) {
    let follows = |column: &Column, parent: Option<&Table>| {
        parent
            .and_then(|p| p.column(column.name.as_str()))
            .is_some_and(|p| Table::inherited_column(p) == *column)
    };
    let keep = |name: &str| {
        let (Some(l), Some(w)) = (existing.column(name), wanted.column(name)) else {
            return false;
        };
        !(follows(l, live_parent) && follows(w, desired_parent))
    };
    let reduced = |t: &Table| Table {
        columns: t
            .columns
            .iter()
            .filter(|c| keep(c.name.as_str()))
            .cloned()
            .collect(),
        ..Table::default()
    };
    (reduced(existing), reduced(wanted))
}

/// Findings about how a table is partitioned and what it is a partition of.
pub(super) fn differences(
    name: &QualifiedName,
    existing: &Table,
    wanted: &Table,
    (live, desired): (&Schema, &Schema),
    out: &mut Diff,
) {
    let object = ObjectId::Table(name.clone());
    if existing.partition_by != wanted.partition_by {
        let show = |key: &Option<String>| match key {
            Some(k) => format!("partitioned by {k}"),
            None => "not partitioned".to_owned(),
        };
        out.findings.push(Finding::new(
            Code::PartitionKey,
            Severity::Risky,
            object.clone(),
            format!(
                "{} in the database, {} in the desired state: PostgreSQL cannot change this in \
                 place; create the table anew as desired, move the rows and swap the names",
                show(&existing.partition_by),
                show(&wanted.partition_by)
            ),
        ));
    }
    match (&existing.partition_of, &wanted.partition_of) {
        (None, None) => {}
        (Some(have), Some(want)) if have.parent == want.parent => {
            if have.bound != want.bound {
                out.findings.push(
                    Finding::new(
                        Code::PartitionBound,
                        Severity::Risky,
                        object,
                        format!(
                            "a partition of {} for {} in the database, {} in the desired state",
                            have.parent,
                            describe_bound(&have.bound),
                            describe_bound(&want.bound)
                        ),
                    )
                    .suggest(format!(
                        "{};\n{}",
                        detach(name, have, live),
                        attach(name, want)
                    )),
                );
            }
        }
        (Some(have), Some(want)) => out.findings.push(
            Finding::new(
                Code::PartitionMembership,
                Severity::Risky,
                object,
                format!(
                    "a partition of {} in the database, of {} in the desired state",
                    have.parent, want.parent
                ),
            )
            .suggest(format!(
                "{};\n{}",
                detach(name, have, live),
                attach(name, want)
            )),
        ),
        (Some(have), None) => {
            // Columns the plan adds to the parent reach its partitions, this one too.
            let added: Vec<String> = match (
                live.tables.get(&have.parent),
                desired.tables.get(&have.parent),
            ) {
                (Some(l), Some(d)) => d
                    .columns
                    .iter()
                    .filter(|c| l.column(c.name.as_str()).is_none())
                    .map(|c| c.name.quoted())
                    .collect(),
                _ => Vec::new(),
            };
            let also = if added.is_empty() {
                String::new()
            } else {
                format!(
                    "; while it is one, the columns the plan adds to {} ({}) are added to it too",
                    have.parent,
                    added.join(", ")
                )
            };
            out.findings.push(
                Finding::new(
                    Code::PartitionMembership,
                    Severity::Risky,
                    object,
                    format!(
                        "a partition of {} ({}) in the database, a table of its own in the \
                         desired state{also}",
                        have.parent,
                        describe_bound(&have.bound)
                    ),
                )
                .suggest(detach(name, have, live)),
            );
        }
        (None, Some(want)) => out.findings.push(
            Finding::new(
                Code::PartitionMembership,
                Severity::Risky,
                object,
                format!(
                    "a table of its own in the database, a partition of {} ({}) in the desired \
                     state (attaching scans its rows against the bound under SHARE UPDATE \
                     EXCLUSIVE on {}, unless a matching CHECK constraint proves them)",
                    want.parent,
                    describe_bound(&want.bound),
                    want.parent
                ),
            )
            .suggest(attach(name, want)),
        ),
    }
}

/// A live partition the desired state does not have.
pub(super) fn extra_partition(
    name: &QualifiedName,
    partition: &PartitionOf,
    live: &Schema,
) -> Finding {
    Finding::new(
        Code::ExtraPartition,
        Severity::Destructive,
        ObjectId::Table(name.clone()),
        format!(
            "a partition of {} ({}) in the database, not in the desired state",
            partition.parent,
            describe_bound(&partition.bound)
        ),
    )
    .suggest(format!(
        "{};\nDROP TABLE {}",
        detach(name, partition, live),
        name.quoted()
    ))
}

/// A desired partition that is not created because its parent is not partitioned in the
/// database as the desired state says (that difference is reported on the parent).
pub(super) fn not_created(name: &QualifiedName, partition: &PartitionOf) -> Finding {
    Finding::new(
        Code::PartitionKey,
        Severity::Risky,
        ObjectId::Table(name.clone()),
        format!(
            "not created: its parent {} is not partitioned in the database as the desired \
             state says (see the finding on {})",
            partition.parent, partition.parent
        ),
    )
}

fn describe_bound(bound: &str) -> String {
    if bound.eq_ignore_ascii_case("DEFAULT") {
        "the default partition".to_owned()
    } else {
        bound.to_owned()
    }
}

/// `DETACH PARTITION ... CONCURRENTLY` when PostgreSQL allows it (not while the parent has a
/// default partition), so writes to the parent continue.
fn detach(name: &QualifiedName, partition: &PartitionOf, live: &Schema) -> String {
    let has_default = live.tables.values().any(|t| {
        t.partition_of
            .as_ref()
            .is_some_and(|p| p.parent == partition.parent && p.is_default())
    });
    format!(
        "ALTER TABLE {} DETACH PARTITION {}{}",
        partition.parent.quoted(),
        name.quoted(),
        if has_default { "" } else { " CONCURRENTLY" }
    )
}

fn attach(name: &QualifiedName, partition: &PartitionOf) -> String {
    format!(
        "ALTER TABLE {} ATTACH PARTITION {} {}",
        partition.parent.quoted(),
        name.quoted(),
        partition.bound
    )
}

/// Whether the plan leaves a desired partition uncreated because its parent exists in the
/// database partitioned otherwise (D170, see `table::new_table`): what would follow its
/// creation (its owner, its privileges) is left out with it.
pub(crate) fn left_uncreated(live: &Schema, desired: &Schema, table: &QualifiedName) -> bool {
    if live.tables.contains_key(table) {
        return false;
    }
    let Some(p) = desired
        .tables
        .get(table)
        .and_then(|t| t.partition_of.as_ref())
    else {
        return false;
    };
    match (live.tables.get(&p.parent), desired.tables.get(&p.parent)) {
        (Some(l), Some(d)) => !(l.is_partitioned() && l.partition_by == d.partition_by),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Column;

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new(
            Ident::from_catalog("public".into()),
            Ident::from_catalog(n.into()),
        )
    }

    fn table(partition_by: Option<&str>, parent: Option<&str>) -> Table {
        Table {
            columns: vec![Column::new(Ident::from_catalog("id".into()), "integer")],
            partition_by: partition_by.map(str::to_owned),
            partition_of: parent.map(|p| {
                Box::new(PartitionOf {
                    parent: name(p),
                    bound: "DEFAULT".into(),
                })
            }),
            ..Table::default()
        }
    }

    /// A live model whose partitions form a cycle (no catalog has one; a generated model
    /// did, and the walks down the tree recursed until the stack overflowed) is diffed, and
    /// the table outside the cycle keeps its place under its parent.
    #[test]
    fn a_partition_cycle_in_the_live_model_ends() {
        let mut live = Schema::default();
        live.tables
            .insert(name("a"), table(Some("LIST (id)"), Some("b")));
        live.tables
            .insert(name("b"), table(Some("LIST (id)"), Some("a")));
        live.tables.insert(name("c"), table(None, Some("a")));
        let mut desired = live.clone();
        for t in desired.tables.values_mut() {
            t.constraints.insert(
                Ident::from_catalog("pk".into()),
                Constraint {
                    kind: ConstraintKind::PrimaryKey {
                        columns: vec![Ident::from_catalog("id".into())],
                        include: Vec::new(),
                    },
                    deferrable: false,
                    initially_deferred: false,
                },
            );
        }
        let attached = BTreeSet::new();
        let partitions = Partitions::new(&live, &desired, &attached);
        assert_eq!(partitions.descendants(&name("a")), vec![&name("c")]);
        assert!(partitions.descendants(&name("b")).is_empty());
        let _ = crate::diff::diff(&live, &desired, &crate::diff::Options::default());
    }
}
