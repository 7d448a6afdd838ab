//! Partition keys and bounds in the server's words.
//!
//! Tables are built on the scratch server as plain tables: a partition's parent may not be
//! built in the same transaction (or at all, when it is unchanged), and how a column, key or
//! index prints does not depend on partitioning. A key (`range (created_at)` →
//! `RANGE (created_at)`) and a bound (`FROM ('2026-01-01')` over a timestamptz key →
//! `FROM ('2026-01-01 00:00:00+00')`) print according to the parent's key columns alone, so
//! each parent whose key or partitions' bounds need printing is built as a small unit: its key
//! columns with their types, its key, and one empty partition per bound — once for all the
//! parents that share a key and key column types and whose bounds are written alike.

use std::collections::{BTreeMap, BTreeSet};

use super::scratch::canonicalise_once;
use super::{CanonError, Rejection, Scratch};
use crate::kinds;
use crate::model::{Column, Ident, ObjectId, PartitionOf, QualifiedName, Schema, Table};
use compact_str::CompactString;

/// Tables per scratch transaction (each relation built holds a lock until the rollback).
const TABLES_PER_TRANSACTION: usize = 250;

/// Keys and bounds as the server prints them, by table.
#[derive(Debug, Default)]
pub(super) struct Printed {
    pub keys: BTreeMap<QualifiedName, String>,
    pub bounds: BTreeMap<QualifiedName, String>,
    /// Tables whose key or bound the server rejected, with its error (they keep their text
    /// as written).
    pub unverified: Vec<Rejection>,
}

/// `table` without its partitioning, as the scratch server builds it.
pub(super) fn strip(table: &mut Table) {
    table.partition_by = None;
    table.partition_of = None;
}

/// What decides how a parent's key and its partitions' bounds print: the schema (for names in
/// a key expression), the key's text, and the types and collations of the columns it uses
/// (of every column when the key has an expression).
type Signature = (Ident, String, Vec<(Ident, CompactString, Option<String>)>);

fn signature(name: &QualifiedName, parent: &Table) -> Option<Signature> {
    let key = parent.partition_by.clone()?;
    let used = key_columns(&key);
    let columns = parent
        .columns
        .iter()
        .filter(|c| {
            used.as_ref()
                .is_none_or(|u| u.iter().any(|n| n == c.name.as_str()))
        })
        .map(|c| {
            (
                c.name.clone(),
                c.data_type.clone(),
                c.collation().map(str::to_owned),
            )
        })
        .collect();
    Some((name.schema.clone(), key, columns))
}

/// The columns a partition key names, or `None` when it has an expression (any column may
/// be meant) or does not parse (the server will say).
fn key_columns(key: &str) -> Option<Vec<String>> {
    use pg_query::NodeEnum;
    let parsed = pg_query::parse(
        &format!("CREATE TABLE t () PARTITION BY {key}"),
        pg_query::ParserOptions::DEFAULT,
    )
    .ok()?;
    let stmt = parsed
        .protobuf
        .stmts
        .first()?
        .stmt
        .as_ref()?
        .node
        .as_ref()?;
    let NodeEnum::CreateStmt(create) = stmt else {
        return None;
    };
    create
        .partspec
        .as_ref()?
        .part_params
        .iter()
        .map(|p| match &p.node {
            Some(NodeEnum::PartitionElem(e)) if e.expr.is_none() && !e.name.is_empty() => {
                Some(e.name.clone())
            }
            _ => None,
        })
        .collect()
}

/// One unit: a parent's key columns and key, with an empty partition for each of its bounds.
struct Unit {
    /// The desired parent it stands for, and what its printing depends on.
    parent: QualifiedName,
    signature: Signature,
    name: QualifiedName,
    /// Whether the parent's own key is to be printed.
    key: bool,
    /// (desired partition, its bound as written, its unit name).
    partitions: Vec<(QualifiedName, String, QualifiedName)>,
}

/// Prints every key and bound of `desired` that is not already the live table's.
///
/// A parent with a key or a bound to print is built with all its partitions (so the server
/// checks new bounds against the others: overlaps show), unless every bound it needs was
/// printed already for another parent of the same [`Signature`] — 300 monthly-partitioned
/// tables written alike need one build, not 300.
pub(super) async fn print(
    desired: &Schema,
    live: Option<&Schema>,
    prerequisites: &Schema,
    scratch: &mut impl Scratch,
) -> Result<Printed, CanonError> {
    let live_table = |name: &QualifiedName| live.and_then(|l| l.tables.get(name));
    let mut keys: BTreeMap<&QualifiedName, bool> = BTreeMap::new();
    let mut bounds: BTreeMap<&QualifiedName, Vec<&QualifiedName>> = BTreeMap::new();
    let mut children: BTreeMap<&QualifiedName, Vec<&QualifiedName>> = BTreeMap::new();
    for (name, table) in &desired.tables {
        if let Some(key) = &table.partition_by
            && live_table(name).and_then(|l| l.partition_by.as_ref()) != Some(key)
        {
            keys.insert(name, true);
        }
        let Some(p) = &table.partition_of else {
            continue;
        };
        children.entry(&p.parent).or_default().push(name);
        if live_table(name).and_then(|l| l.partition_of.as_ref()) != Some(p)
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
    let bound_of = |name: &QualifiedName| {
        desired.tables[name]
            .partition_of
            .as_ref()
            .map(|p| p.bound.clone())
            .unwrap_or_default()
    };
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
    let mut covered: BTreeMap<Signature, BTreeSet<String>> = BTreeMap::new();
    // (partition, signature, bound as written): filled in from whichever unit printed it.
    let mut wanted: Vec<(QualifiedName, Signature, String)> = Vec::new();
    for (parent, print_key) in &keys {
        let Some(signature) = signature(parent, &desired.tables[*parent]) else {
            continue;
        };
        let needed = bounds.remove(*parent).unwrap_or_default();
        for partition in &needed {
            wanted.push(((*partition).clone(), signature.clone(), bound_of(partition)));
        }
        let done = covered.entry(signature.clone()).or_default();
        let new_text = needed.iter().any(|p| !done.contains(&bound_of(p)));
        if !*print_key && !new_text {
            continue;
        }
        let all: &[&QualifiedName] = if new_text {
            children.get(*parent).map(Vec::as_slice).unwrap_or_default()
        } else {
            &[]
        };
        done.extend(all.iter().map(|p| bound_of(p)));
        let mut chunks: Vec<&[&QualifiedName]> = all.chunks(TABLES_PER_TRANSACTION - 1).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let name = fresh(&parent.schema);
            let partitions = chunk
                .iter()
                .map(|c| ((*c).clone(), bound_of(c), fresh(&parent.schema)))
                .collect();
            units.push(Unit {
                parent: (*parent).clone(),
                signature: signature.clone(),
                name,
                key: *print_key && i == 0,
                partitions,
            });
        }
    }
    let mut printed = Printed::default();
    let mut texts: BTreeMap<(Signature, String), String> = BTreeMap::new();
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
                (&mut printed, &mut texts),
            )
            .await?;
            size = 0;
        }
        size += tables;
        batch.push(unit);
    }
    if !batch.is_empty() {
        build(
            batch,
            desired,
            prerequisites,
            scratch,
            (&mut printed, &mut texts),
        )
        .await?;
    }
    for (partition, signature, bound) in wanted {
        if let Some(text) = texts.get(&(signature, bound)) {
            printed.bounds.insert(partition, text.clone());
        }
    }
    Ok(printed)
}

/// Builds `units` in one scratch transaction and reads their keys and bounds back.
async fn build(
    units: Vec<Unit>,
    desired: &Schema,
    prerequisites: &Schema,
    scratch: &mut impl Scratch,
    (printed, texts): (&mut Printed, &mut BTreeMap<(Signature, String), String>),
) -> Result<(), CanonError> {
    let mut subset = prerequisites.clone();
    for unit in &units {
        let parent = &desired.tables[&unit.parent];
        // Only what decides how the key and bounds print: the key columns' types and
        // collations.
        let columns = unit
            .signature
            .2
            .iter()
            .map(|(name, data_type, collation)| {
                Column::new(name.clone(), data_type.clone()).with_collation(collation.clone())
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
        for (_, bound, unit_name) in &unit.partitions {
            subset.tables.insert(
                unit_name.clone(),
                Table {
                    partition_of: Some(Box::new(PartitionOf {
                        parent: unit.name.clone(),
                        bound: bound.clone(),
                    })),
                    ..Table::default()
                },
            );
        }
    }
    kinds::function::leave_out_uncalled(&mut subset, &[]);
    let got = canonicalise_once(&subset, scratch.connection().await?).await?;
    // The server's message names the scratch units ("partition reconcile_partition_000003
    // would overlap ..."): a person needs the tables of the desired state.
    let mut real_names: Vec<(String, String)> = Vec::new();
    for unit in &units {
        real_names.push((quoted_name(&unit.name), quoted_name(&unit.parent)));
        for (partition, _, unit_name) in &unit.partitions {
            real_names.push((quoted_name(unit_name), quoted_name(partition)));
        }
    }
    let in_desired_words = |text: &str| {
        real_names
            .iter()
            .fold(text.to_owned(), |text, (unit, real)| {
                text.replace(unit, real)
            })
    };
    let failed = |name: &QualifiedName| {
        got.unverified
            .iter()
            .find(|r| r.object.table() == Some(name))
            .map(|r| {
                let mut error = r.error.clone();
                error.message = in_desired_words(&error.message);
                error.detail = error.detail.as_deref().map(in_desired_words);
                error.hint = error.hint.as_deref().map(in_desired_words);
                error
            })
    };
    for unit in units {
        if let Some(error) = failed(&unit.name) {
            printed.unverified.push(Rejection {
                object: ObjectId::Table(unit.parent.clone()),
                error,
            });
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
        for (partition, bound, unit_name) in unit.partitions {
            if let Some(error) = failed(&unit_name) {
                printed.unverified.push(Rejection {
                    object: ObjectId::Table(partition),
                    error,
                });
                continue;
            }
            if let Some(p) = got
                .schema
                .tables
                .get(&unit_name)
                .and_then(|t| t.partition_of.as_ref())
            {
                texts.insert((unit.signature.clone(), bound), p.bound.clone());
            }
        }
    }
    Ok(())
}

/// A table's name as the server quotes it in a message: `"name"`.
fn quoted_name(name: &QualifiedName) -> String {
    format!("\"{}\"", name.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[(&str, &str)], key: &str) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(n, t)| Column::new(Ident::new(*n).unwrap(), *t))
                .collect(),
            partition_by: Some(key.to_owned()),
            ..Table::default()
        }
    }

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new(Ident::new("public").unwrap(), Ident::new(n).unwrap())
    }

    #[test]
    fn a_key_names_its_columns_unless_it_has_an_expression() {
        assert_eq!(
            key_columns("RANGE (created_at, id)"),
            Some(vec!["created_at".to_owned(), "id".to_owned()])
        );
        assert_eq!(key_columns("LIST (lower(region))"), None);
        assert_eq!(key_columns("nonsense ("), None);
    }

    #[test]
    fn parents_keyed_alike_print_alike_whatever_their_other_columns() {
        let a = table(
            &[("id", "bigint"), ("at", "timestamp with time zone")],
            "RANGE (at)",
        );
        let b = table(
            &[("at", "timestamp with time zone"), ("note", "text")],
            "RANGE (at)",
        );
        let c = table(&[("at", "date")], "RANGE (at)");
        assert_eq!(signature(&name("a"), &a), signature(&name("b"), &b));
        assert_ne!(signature(&name("a"), &a), signature(&name("c"), &c));
        // An expression key may read any column: all of them count.
        let d = table(&[("at", "date"), ("x", "text")], "RANGE ((at + 1))");
        assert_eq!(signature(&name("d"), &d).map(|s| s.2.len()), Some(2));
    }
}
