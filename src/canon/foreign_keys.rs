//! Foreign keys need no canonical form (their text is built from structured fields), so the
//! scratch build leaves most of them out — but PostgreSQL also refuses a foreign key whose
//! column types have no equality operator with the referenced key's (`bigint` referencing a
//! `uuid` key), and such a desired state must fail at plan time, not half-way through an
//! apply. Each distinct pair of type lists among the new or changed foreign keys is built once,
//! as two small tables, and what the server rejects names every foreign key of that shape.

use std::collections::BTreeMap;

use super::{CanonError, Rejection, Scratch, build_in_chunks, prerequisites_of};
use crate::model::{
    Column, Constraint, ConstraintKind, ForeignKey, Ident, ObjectId, QualifiedName, Schema, Table,
};
use compact_str::CompactString;

/// The column types of one foreign key and of the key it references.
type Shape = (Vec<CompactString>, Vec<CompactString>);

/// The foreign keys of `desired` that `live` does not have as they are, whose every column
/// type is known on both sides, by shape.
fn shapes(desired: &Schema, live: Option<&Schema>) -> BTreeMap<Shape, Vec<ObjectId>> {
    let mut out: BTreeMap<Shape, Vec<ObjectId>> = BTreeMap::new();
    for (table_name, table) in &desired.tables {
        let live_table = live.and_then(|l| l.tables.get(table_name));
        for (name, constraint) in &table.constraints {
            let ConstraintKind::ForeignKey(fk) = &constraint.kind else {
                continue;
            };
            if live_table.is_some_and(|t| t.constraints.get(name) == Some(constraint)) {
                continue;
            }
            let Some(referenced) = desired.tables.get(&fk.references) else {
                continue;
            };
            let types = |t: &Table, columns: &[Ident]| -> Option<Vec<CompactString>> {
                columns
                    .iter()
                    .map(|c| t.column(c.as_str()).map(|c| c.data_type.clone()))
                    .collect()
            };
            let (Some(from), Some(to)) = (
                types(table, &fk.columns),
                types(referenced, &fk.referenced_columns),
            ) else {
                continue;
            };
            if from == to {
                continue;
            }
            out.entry((from, to))
                .or_default()
                .push(ObjectId::constraint(table_name, name));
        }
    }
    out
}

/// Builds every shape of new or changed foreign key whose column types differ from the
/// referenced ones, and returns a rejection for each foreign key whose shape the server
/// refuses. Builds nothing (and opens no scratch database) when there is none.
pub(super) async fn check(
    desired: &Schema,
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<Vec<Rejection>, CanonError> {
    let shapes = shapes(desired, live);
    if shapes.is_empty() {
        return Ok(Vec::new());
    }
    let schema = desired
        .schemas
        .first()
        .cloned()
        .unwrap_or_else(|| Ident::from_catalog("public".into()));
    let fresh = |i: usize, side: &str| {
        (0..)
            .map(|n| {
                QualifiedName::new(
                    schema.clone(),
                    Ident::from_catalog(format!("reconcile_fk_{side}_{i}_{n}")),
                )
            })
            .find(|name| !desired.tables.contains_key(name))
            .expect("an unused name")
    };
    let mut tables: BTreeMap<QualifiedName, Table> = BTreeMap::new();
    let mut referencing: BTreeMap<QualifiedName, Vec<ObjectId>> = BTreeMap::new();
    for (i, ((from, to), keys)) in shapes.into_iter().enumerate() {
        let column = |n: usize, data_type: &CompactString| {
            Column::new(Ident::from_catalog(format!("c{n}")), data_type.clone())
        };
        let names = |count: usize| -> Vec<Ident> {
            (0..count)
                .map(|n| Ident::from_catalog(format!("c{n}")))
                .collect()
        };
        let (to_name, from_name) = (fresh(i, "key"), fresh(i, "ref"));
        let mut key_table = Table {
            columns: to.iter().enumerate().map(|(n, t)| column(n, t)).collect(),
            ..Table::default()
        };
        key_table.constraints.insert(
            Ident::from_catalog(format!("{}_key", to_name.name.as_str())),
            Constraint {
                kind: ConstraintKind::Unique {
                    columns: names(to.len()),
                    include: Vec::new(),
                    nulls_not_distinct: false,
                },
                deferrable: false,
                initially_deferred: false,
            },
        );
        let mut ref_table = Table {
            columns: from.iter().enumerate().map(|(n, t)| column(n, t)).collect(),
            ..Table::default()
        };
        ref_table.constraints.insert(
            Ident::from_catalog(format!("{}_fkey", from_name.name.as_str())),
            Constraint {
                kind: ConstraintKind::ForeignKey(ForeignKey {
                    columns: names(from.len()),
                    references: to_name.clone(),
                    referenced_columns: names(to.len()),
                    on_delete: Default::default(),
                    on_update: Default::default(),
                    match_full: false,
                }),
                deferrable: false,
                initially_deferred: false,
            },
        );
        tables.insert(to_name, key_table);
        referencing.insert(from_name.clone(), keys);
        tables.insert(from_name, ref_table);
    }
    let names: Vec<&QualifiedName> = tables.keys().collect();
    let prerequisites = prerequisites_of(desired);
    let none_probed = Default::default();
    let built = build_in_chunks(
        &names,
        &tables,
        &none_probed,
        &prerequisites,
        desired,
        scratch,
    )
    .await?;
    let mut out = Vec::new();
    for rejection in built.unverified {
        let Some(keys) = rejection.object.table().and_then(|t| referencing.get(t)) else {
            continue;
        };
        out.extend(keys.iter().map(|key| Rejection {
            object: key.clone(),
            error: rejection.error.clone(),
        }));
    }
    Ok(out)
}
