//! Alignment of the live state: live objects that differ from the desired ones only in how a
//! hand-written statement was stored are re-parsed once by the scratch server, so that both
//! sides are compared in the same (re-parsed) form.

use super::{CanonError, Scratch, prerequisites_of, scratch::canonicalise_once};
use crate::kinds;
use crate::model::{ObjectId, Schema};

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
    let objects = kinds::differing_texts(&live, desired);
    if tables.is_empty() && objects.is_empty() {
        return Ok(live);
    }
    // The differing tables, without foreign keys (whose text does not change and whose
    // targets are not built), and every type they might use.
    let mut subset = prerequisites_of(&live);
    kinds::leave_out_unbuilt_tables(&mut subset, &|_| false);
    for name in &tables {
        let mut table = live.tables[name].clone();
        table
            .constraints
            .retain(|_, c| !matches!(c.kind, crate::model::ConstraintKind::ForeignKey(_)));
        // Built plain: a partition's parent is not built with it (see `partition`).
        super::partition::strip(&mut table);
        subset.tables.insert(name.clone(), table);
    }
    kinds::function::leave_out_uncalled(&mut subset, &[]);
    let mut rebuilt = canonicalise_once(&subset, scratch.connection().await?).await?;
    drop(subset);
    let failed: std::collections::BTreeSet<&ObjectId> =
        rebuilt.unverified.iter().map(|r| &r.object).collect();
    for name in &tables {
        let touched_by_failure = failed.iter().any(|o| o.table() == Some(name));
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
            table.partition_by = current.partition_by.take();
            table.partition_of = current.partition_of.take();
            *current = table;
        }
    }
    let rebuilt_objects: Vec<ObjectId> = objects
        .into_iter()
        .filter(|o| !failed.contains(o))
        .collect();
    kinds::replace_from(&mut live, &mut rebuilt.schema, &rebuilt_objects);
    Ok(live)
}

/// Whether something both tables have — a column, constraint or index of the same name —
/// is printed differently (only those can be re-parse artefacts; a missing or extra object
/// is a real difference and needs no server to tell).
fn texts_differ(live: &crate::model::Table, desired: &crate::model::Table) -> bool {
    live.columns.iter().enumerate().any(|(i, c)| {
        desired
            .column_near(c.name.as_str(), i)
            .is_some_and(|d| d.default != c.default || d.generated() != c.generated())
    }) || live
        .constraints
        .iter()
        .any(|(n, c)| desired.constraints.get(n).is_some_and(|d| d != c))
        || live
            .indexes
            .iter()
            .any(|(n, i)| desired.indexes.get(n).is_some_and(|d| d != i))
}

#[cfg(test)]
mod tests {
    use super::texts_differ;
    use crate::model::{Column, Ident, Table};

    #[test]
    fn only_what_both_sides_have_can_differ_in_text() {
        let mut live = Table {
            columns: vec![Column::new(Ident::new("a").unwrap(), "integer")],
            ..Table::default()
        };
        let mut desired = live.clone();
        desired
            .columns
            .push(Column::new(Ident::new("b").unwrap(), "integer"));
        assert!(
            !texts_differ(&live, &desired),
            "a missing column is no re-parse artefact"
        );
        live.columns[0].default = Some("0".into());
        desired.columns[0].default = Some("(0)".into());
        assert!(texts_differ(&live, &desired));
    }
}
