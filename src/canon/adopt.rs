//! Spelling adoption: a desired expression proven locally (pg_query trees) to mean what the
//! live catalog prints takes the live spelling, so its table needs no scratch build at all.

use crate::model::{ConstraintKind, Schema};
use crate::normalise::equivalence;

/// Spells every expression of `desired` that [`equivalence`] proves to be the live one as
/// the live catalog spells it, in place (a copy of every changed table would double the
/// desired model's memory). Tables that then equal their live copy need no scratch build at
/// all; the rest are built as before.
pub fn adopt_live_spellings(desired: &mut Schema, live: &Schema) {
    adopt_live_spellings_of(desired, live, |_| true);
}

/// [`adopt_live_spellings`] for the tables `chosen` picks. Adopting twice changes nothing
/// (an adopted expression is the live one; another was proven different), so a caller that
/// adopted once only needs to adopt the tables added since.
pub fn adopt_live_spellings_of(
    desired: &mut Schema,
    live: &Schema,
    chosen: impl Fn(&crate::model::QualifiedName) -> bool,
) {
    for (name, table) in desired.tables.iter_mut() {
        if chosen(name)
            && let Some(live_table) = live.tables.get(name)
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
        let mut generated = column.take_generated();
        adopt(
            &mut generated,
            &l.generated().map(str::to_owned),
            &|t, o| equivalence::same_expression(t, o, &types),
        );
        column.set_generated(generated);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, Ident, QualifiedName, Table};

    #[test]
    fn a_spelling_proven_equal_takes_the_live_text_and_a_different_one_does_not() {
        let name = QualifiedName::new(Ident::new("public").unwrap(), Ident::new("t").unwrap());
        let with_default = |default: &str| {
            let mut c = Column::new(Ident::new("data").unwrap(), "jsonb");
            c.default = Some(default.to_owned());
            Table {
                columns: vec![c],
                ..Table::default()
            }
        };
        let mut live = Schema::default();
        live.tables
            .insert(name.clone(), with_default("'{}'::jsonb"));
        let mut desired = Schema::default();
        desired.tables.insert(name.clone(), with_default("'{}'"));
        adopt_live_spellings(&mut desired, &live);
        assert_eq!(desired.tables[&name], live.tables[&name]);

        desired.tables.insert(name.clone(), with_default("'[]'"));
        adopt_live_spellings(&mut desired, &live);
        assert_eq!(
            desired.tables[&name].columns[0].default.as_deref(),
            Some("'[]'")
        );
    }
}
