//! Lean probes: the part of a changed table the scratch server has to print (what differs
//! from the live table, and the columns those parts use), and putting the rest back.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ConstraintKind, Table};
use crate::normalise::equivalence;

/// The parts of `desired` the scratch server has to print: the columns that differ from the
/// live ones or that a differing object uses (with their types, so expressions can refer to
/// them) — with defaults, generated expressions and identities only where they differ from
/// the live column — and only the constraints and indexes that differ from the live ones.
/// Each left-out part is already in the server's words (it equals the live text) and
/// [`unprobe`] puts it back. A probe has a fraction of the table's columns and relations, and
/// each relation built costs the scratch server about a millisecond.
pub(super) fn probe(desired: &Table, live: &Table) -> Table {
    let mut probe = desired.clone();
    for column in probe.columns.iter_mut() {
        let Some(l) = live.column(column.name.as_str()) else {
            continue;
        };
        if l.default == column.default {
            column.default = None;
        }
        if l.generated() == column.generated() {
            column.set_generated(None);
        }
        if l.identity() == column.identity() {
            column.set_identity(None);
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
        .filter_map(|c| c.generated())
        .collect();
    for text in generated {
        needed.extend(equivalence::column_references(text)?);
    }
    Some(needed)
}

/// Puts back into a canonicalised probe what [`probe`] left out.
pub(super) fn unprobe(canonical: &mut Table, desired: &Table) {
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
                if column.generated().is_none() {
                    column.set_generated(d.generated().map(str::to_owned));
                }
                if column.identity().is_none() {
                    column.set_identity(d.identity().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, Constraint, Ident};

    fn column(name: &str, data_type: &str) -> Column {
        Column::new(Ident::new(name).unwrap(), data_type)
    }

    fn check(expression: &str) -> Constraint {
        Constraint {
            kind: ConstraintKind::Check {
                expression: expression.to_owned(),
                no_inherit: false,
            },
            deferrable: false,
            initially_deferred: false,
        }
    }

    fn names(table: &Table) -> Vec<&str> {
        table.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_probe_holds_what_differs_and_the_columns_it_reads() {
        let live = Table {
            columns: vec![
                column("id", "bigint"),
                column("price", "numeric"),
                column("name", "text"),
            ],
            ..Table::default()
        };
        let mut desired = live.clone();
        desired.columns[2].default = Some("'x'".into());
        desired.columns.push(column("note", "text"));
        desired
            .constraints
            .insert(Ident::new("positive").unwrap(), check("price > 0"));
        let probed = probe(&desired, &live);
        assert_eq!(names(&probed), ["price", "name", "note"]);
        assert_eq!(probed.constraints.len(), 1);
        // An unchanged default stays out; the changed one is in.
        assert_eq!(probed.columns[1].default.as_deref(), Some("'x'"));
    }

    #[test]
    fn an_expression_whose_columns_cannot_be_told_keeps_every_column() {
        let live = Table {
            columns: vec![column("a", "integer"), column("b", "integer")],
            ..Table::default()
        };
        let mut desired = live.clone();
        desired.constraints.insert(
            Ident::new("odd").unwrap(),
            // A whole-row reference: any column may be meant.
            check("t.* IS NOT NULL AND a > 0"),
        );
        assert_eq!(names(&probe(&desired, &live)), ["a", "b"]);
    }

    #[test]
    fn unprobe_puts_back_what_the_probe_left_out_in_desired_order() {
        let live = Table {
            columns: vec![column("id", "bigint"), column("price", "numeric")],
            ..Table::default()
        };
        let mut desired = live.clone();
        desired.columns[0].default = Some("1".into());
        desired
            .constraints
            .insert(Ident::new("kept").unwrap(), check("id > 0"));
        let mut printed = probe(&desired, &live);
        // The server prints the probe's default its own way.
        printed.columns[0].default = Some("(1)::bigint".into());
        unprobe(&mut printed, &desired);
        assert_eq!(names(&printed), ["id", "price"]);
        assert_eq!(printed.columns[0].default.as_deref(), Some("(1)::bigint"));
        assert_eq!(printed.constraints.len(), 1);
    }
}
