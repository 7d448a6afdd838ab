//! Partition keys and bounds in the server's words.
//!
//! Tables are built on the scratch server as plain tables: a partition's parent may not be
//! built in the same transaction (or at all, when it is unchanged), and how a column, key or
//! index prints does not depend on partitioning. A key (`range (created_at)` →
//! `RANGE (created_at)`) and a bound (`FROM ('2026-01-01')` over a timestamptz key →
//! `FROM ('2026-01-01 00:00:00+00')`) print according to the parent's key columns alone, so
//! each parent whose key or partitions' bounds need printing is built once as a small unit:
//! its columns with their types, its key, and one empty partition per bound to print.

use std::collections::BTreeMap;

use super::scratch::canonicalise_once;
use super::{CanonError, Scratch};
use crate::model::{Column, Ident, ObjectId, PartitionOf, QualifiedName, Schema, Table};

/// Tables per scratch transaction (each relation built holds a lock until the rollback).
const TABLES_PER_TRANSACTION: usize = 250;

/// Keys and bounds as the server prints them, by table.
#[derive(Debug, Default)]
pub(super) struct Printed {
    pub keys: BTreeMap<QualifiedName, String>,
    pub bounds: BTreeMap<QualifiedName, String>,
    /// Tables whose key or bound the server rejected, with its message (they keep their text
    /// as written).
    pub unverified: Vec<(ObjectId, String)>,
}

/// `table` without its partitioning, as the scratch server builds it.
pub(super) fn strip(table: &mut Table) {
    table.partition_by = None;
    table.partition_of = None;
}

/// One unit: a parent's columns and key, with empty partitions for the bounds to print.
struct Unit {
    /// The desired parent it stands for.
    parent: QualifiedName,
    name: QualifiedName,
    /// Whether the parent's own key is to be printed.
    key: bool,
    /// (desired partition, its unit name).
    partitions: Vec<(QualifiedName, QualifiedName)>,
}

/// Prints every key and bound of `desired` that is not already the live table's.
pub(super) async fn print(
    desired: &Schema,
    live: Option<&Schema>,
    prerequisites: &Schema,
    scratch: &mut impl Scratch,
) -> Result<Printed, CanonError> {
    let live_table = |name: &QualifiedName| live.and_then(|l| l.tables.get(name));
    let mut keys: BTreeMap<&QualifiedName, bool> = BTreeMap::new();
    let mut bounds: BTreeMap<&QualifiedName, Vec<&QualifiedName>> = BTreeMap::new();
    for (name, table) in &desired.tables {
        if let Some(key) = &table.partition_by
            && live_table(name).and_then(|l| l.partition_by.as_ref()) != Some(key)
        {
            keys.insert(name, true);
        }
        if let Some(p) = &table.partition_of
            && live_table(name).and_then(|l| l.partition_of.as_ref()) != Some(p)
            && desired
                .tables
                .get(&p.parent)
                .is_some_and(Table::is_partitioned)
        {
            keys.entry(&p.parent).or_insert(false);
            bounds.entry(&p.parent).or_default().push(name);
        }
    }
    if keys.is_empty() {
        return Ok(Printed::default());
    }
    let mut units = Vec::new();
    let mut counter = 0usize;
    let mut fresh = |schema: &Ident| loop {
        counter += 1;
        let candidate = QualifiedName::new(
            schema.clone(),
            Ident::from_catalog(format!("reconcile_partition_{counter:06}")),
        );
        if !desired.tables.contains_key(&candidate) && !desired.sequences.contains_key(&candidate) {
            break candidate;
        }
    };
    for (parent, print_key) in &keys {
        // Every partition of a parent with one to print is built with it, so that the server
        // checks the new bounds against the others (overlaps), in one transaction as far as
        // the lock budget allows.
        let children: Vec<&QualifiedName> = match bounds.remove(*parent) {
            Some(_) => desired
                .tables
                .iter()
                .filter(|(_, t)| {
                    t.partition_of
                        .as_ref()
                        .is_some_and(|p| &p.parent == *parent)
                })
                .map(|(name, _)| name)
                .collect(),
            None => Vec::new(),
        };
        let mut chunks: Vec<&[&QualifiedName]> =
            children.chunks(TABLES_PER_TRANSACTION - 1).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let name = fresh(&parent.schema);
            let partitions = chunk
                .iter()
                .map(|c| ((*c).clone(), fresh(&parent.schema)))
                .collect();
            units.push(Unit {
                parent: (*parent).clone(),
                name,
                key: *print_key && i == 0,
                partitions,
            });
        }
    }
    let mut printed = Printed::default();
    let mut batch: Vec<Unit> = Vec::new();
    let mut size = 0;
    for unit in units {
        let tables = 1 + unit.partitions.len();
        if size + tables > TABLES_PER_TRANSACTION && !batch.is_empty() {
            build(
                std::mem::take(&mut batch),
                desired,
                prerequisites,
                scratch,
                &mut printed,
            )
            .await?;
            size = 0;
        }
        size += tables;
        batch.push(unit);
    }
    if !batch.is_empty() {
        build(batch, desired, prerequisites, scratch, &mut printed).await?;
    }
    Ok(printed)
}

/// Builds `units` in one scratch transaction and reads their keys and bounds back.
async fn build(
    units: Vec<Unit>,
    desired: &Schema,
    prerequisites: &Schema,
    scratch: &mut impl Scratch,
    printed: &mut Printed,
) -> Result<(), CanonError> {
    let mut subset = prerequisites.clone();
    for unit in &units {
        let parent = &desired.tables[&unit.parent];
        // Only what decides how the key and bounds print: the columns' types and collations.
        let columns = parent
            .columns
            .iter()
            .map(|c| Column {
                collation: c.collation.clone(),
                ..Column::new(c.name.clone(), c.data_type.clone())
            })
            .collect();
        subset.tables.insert(
            unit.name.clone(),
            Table {
                columns,
                partition_by: parent.partition_by.clone(),
                ..Table::default()
            },
        );
        for (partition, unit_name) in &unit.partitions {
            let Some(p) = &desired.tables[partition].partition_of else {
                continue;
            };
            subset.tables.insert(
                unit_name.clone(),
                Table {
                    partition_of: Some(Box::new(PartitionOf {
                        parent: unit.name.clone(),
                        bound: p.bound.clone(),
                    })),
                    ..Table::default()
                },
            );
        }
    }
    let got = canonicalise_once(&subset, scratch.connection().await?).await?;
    let failed = |name: &QualifiedName| {
        got.unverified
            .iter()
            .find(|(object, _)| object.table() == Some(name))
            .map(|(_, message)| message.clone())
    };
    for unit in units {
        if let Some(message) = failed(&unit.name) {
            printed
                .unverified
                .push((ObjectId::Table(unit.parent.clone()), message));
            continue;
        }
        if unit.key
            && let Some(key) = got
                .schema
                .tables
                .get(&unit.name)
                .and_then(|t| t.partition_by.clone())
        {
            printed.keys.insert(unit.parent.clone(), key);
        }
        for (partition, unit_name) in unit.partitions {
            if let Some(message) = failed(&unit_name) {
                printed
                    .unverified
                    .push((ObjectId::Table(partition), message));
                continue;
            }
            if let Some(p) = got
                .schema
                .tables
                .get(&unit_name)
                .and_then(|t| t.partition_of.as_ref())
            {
                printed.bounds.insert(partition, p.bound.clone());
            }
        }
    }
    Ok(())
}
