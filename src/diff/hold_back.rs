//! Changes that depend on a change held back are held back with it.
//!
//! A column that is not added (a possible rename, D150) or not brought to its desired type or
//! collation (D110, D114, D115 are findings) is not what the desired state's indexes, keys,
//! checks and foreign keys over it were written for: built anyway, they fail ("column does
//! not exist"), or succeed on the wrong type and drift later. So every additive change that
//! uses such a column — on its table, or a foreign key from elsewhere that references it — is
//! taken out of the plan and named in the finding that holds it back.
//!
//! A widening (`varchar(40)` → `varchar(80)`, `integer` → `bigint`) holds nothing back:
//! whatever is built over the narrower type stays right once the column is widened (the
//! ALTER rebuilds its indexes), and every value it checks today is a value of the new type.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Code, Diff, TypeChange, classify_type_change};
use crate::model::{ConstraintKind, Ident, IndexTarget, ObjectId, QualifiedName, Schema};
use crate::normalise::equivalence::column_references;

/// Findings on a column after which anything using the column must wait.
const HOLDS_BACK: [Code; 4] = [
    Code::PossibleRename,
    Code::ColumnType,
    Code::Generated,
    Code::ColumnCollation,
];

/// The columns a change reads, by table; `None` for a table when they cannot be told (an
/// expression with a whole-row reference): every column of it may be meant.
type Uses = BTreeMap<QualifiedName, Option<BTreeSet<String>>>;

pub(super) fn dependants(out: &mut Diff, live: &Schema, desired: &Schema) {
    fn type_of<'s>(schema: &'s Schema, table: &QualifiedName, column: &Ident) -> Option<&'s str> {
        schema
            .tables
            .get(table)
            .and_then(|t| t.column(column.as_str()))
            .map(|c| c.data_type.as_str())
    }
    let widening = |table: &QualifiedName, column: &Ident| {
        matches!((type_of(live, table, column), type_of(desired, table, column)), (Some(from), Some(to))
            if classify_type_change(from, to) == TypeChange::Widening)
    };
    let mut held: BTreeMap<&QualifiedName, BTreeMap<&str, usize>> = BTreeMap::new();
    for (i, finding) in out.findings.iter().enumerate() {
        if let ObjectId::Column { table, column } = &finding.object
            && HOLDS_BACK.contains(&finding.code)
            && !(finding.code == Code::ColumnType && widening(table, column))
        {
            held.entry(table)
                .or_default()
                .entry(column.as_str())
                .or_insert(i);
        }
    }
    if held.is_empty() {
        return;
    }
    let mut notes: BTreeMap<usize, Vec<ObjectId>> = BTreeMap::new();
    let mut kept = Vec::with_capacity(out.additive.len());
    for change in std::mem::take(&mut out.additive) {
        let holding: BTreeSet<usize> = with_parents(uses(&change), live, desired)
            .iter()
            .filter_map(|(table, columns)| Some((held.get(table)?, columns)))
            .flat_map(|(held_columns, columns)| {
                held_columns
                    .iter()
                    .filter(|(column, _)| {
                        columns.as_ref().is_none_or(|used| used.contains(**column))
                    })
                    .map(|(_, finding)| *finding)
                    .collect::<Vec<_>>()
            })
            .collect();
        match holding.first() {
            // Named once, in the first finding that holds it back.
            Some(first) => notes.entry(*first).or_default().push(change.object()),
            None => kept.push(change),
        }
    }
    // A partition's index or key joins its parent's: both or neither.
    let held_objects: BTreeSet<ObjectId> = notes.values().flatten().cloned().collect();
    kept.retain(|change| match change {
        Change::AttachPartitionIndex {
            table,
            index,
            partition,
            partition_index,
        } => ![
            ObjectId::index(table, index),
            ObjectId::constraint(table, index),
            ObjectId::index(partition, partition_index),
            ObjectId::constraint(partition, partition_index),
        ]
        .iter()
        .any(|o| held_objects.contains(o)),
        _ => true,
    });
    out.additive = kept;
    for (i, objects) in notes {
        let names: Vec<String> = objects.iter().map(ToString::to_string).collect();
        let finding = &mut out.findings[i];
        finding.message.push_str(&format!(
            "; held back with it, since they use the column: {}",
            names.join(", ")
        ));
    }
}

/// `uses`, with what a partition's change uses counted on its parents too: a partition's
/// columns are its parent's, and a finding on one is reported on the parent.
fn with_parents(mut uses: Uses, live: &Schema, desired: &Schema) -> Uses {
    let parent = |table: &QualifiedName| {
        [live, desired]
            .iter()
            .find_map(|s| s.tables.get(table)?.partition_of.as_ref())
            .map(|p| p.parent.clone())
    };
    let tables: Vec<QualifiedName> = uses.keys().cloned().collect();
    for table in tables {
        let columns = uses[&table].clone();
        let mut next = parent(&table);
        let mut depth = 0;
        while let Some(p) = next {
            depth += 1;
            if depth > 32 {
                break;
            }
            let entry = uses
                .entry(p.clone())
                .or_insert_with(|| Some(BTreeSet::new()));
            match (entry.as_mut(), &columns) {
                (Some(known), Some(columns)) => known.extend(columns.iter().cloned()),
                _ => *entry = None,
            }
            next = parent(&p);
        }
    }
    uses
}

fn uses(change: &Change) -> Uses {
    let mut out = Uses::new();
    let mut add = |table: &QualifiedName, columns: Option<BTreeSet<String>>| {
        let entry = out
            .entry(table.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry.as_mut(), columns) {
            (Some(known), Some(columns)) => known.extend(columns),
            _ => *entry = None,
        }
    };
    let names = |list: &[Ident]| -> BTreeSet<String> {
        list.iter().map(|c| c.as_str().to_owned()).collect()
    };
    match change {
        Change::AddColumn { table, column } => {
            if let Some(expression) = &column.generated() {
                add(table, column_references(expression));
            }
        }
        Change::CreateIndex { table, index, .. } => {
            let mut used = Some(names(&index.include));
            for key in &index.keys {
                let key_uses = match &key.target {
                    IndexTarget::Column(c) => Some(BTreeSet::from([c.as_str().to_owned()])),
                    IndexTarget::Expression(e) => column_references(e),
                };
                used = used.zip(key_uses).map(|(mut a, b)| {
                    a.extend(b);
                    a
                });
            }
            if let Some(predicate) = &index.predicate {
                used = used.zip(column_references(predicate)).map(|(mut a, b)| {
                    a.extend(b);
                    a
                });
            }
            add(table, used);
        }
        Change::AddConstraint {
            table, constraint, ..
        } => match &constraint.kind {
            ConstraintKind::PrimaryKey { columns, include }
            | ConstraintKind::Unique {
                columns, include, ..
            } => {
                let mut used = names(columns);
                used.extend(names(include));
                add(table, Some(used));
            }
            ConstraintKind::Check { expression, .. } => add(table, column_references(expression)),
            ConstraintKind::ForeignKey(fk) => {
                add(table, Some(names(&fk.columns)));
                add(&fk.references, Some(names(&fk.referenced_columns)));
            }
            ConstraintKind::Exclusion { .. } => add(table, None),
        },
        Change::Create(created) => {
            for (table, column) in created.columns_used() {
                add(&table, Some(BTreeSet::from([column.as_str().to_owned()])));
            }
        }
        Change::Replace(replaced) => {
            for (table, column) in replaced.columns_used() {
                add(&table, Some(BTreeSet::from([column.as_str().to_owned()])));
            }
        }
        Change::CreateSchema { .. }
        | Change::CreateExtension { .. }
        | Change::CreateEnum { .. }
        | Change::AddEnumValue { .. }
        | Change::CreateTable { .. }
        | Change::EnableRowLevelSecurity { .. }
        | Change::AttachPartitionIndex { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Finding, Severity};
    use crate::model::{Constraint, Index, IndexKey};

    fn qn(n: &str) -> QualifiedName {
        QualifiedName::new(Ident::new("public").unwrap(), Ident::new(n).unwrap())
    }

    fn id(n: &str) -> Ident {
        Ident::new(n).unwrap()
    }

    fn unique(table: &str, column: &str) -> Change {
        Change::AddConstraint {
            table: qn(table),
            name: id(&format!("{table}_{column}_key")),
            constraint: Constraint {
                kind: ConstraintKind::Unique {
                    columns: vec![id(column)],
                    include: vec![],
                    nulls_not_distinct: false,
                },
                deferrable: false,
                initially_deferred: false,
            },
            new_table: false,
        }
    }

    fn index_on(table: &str, expression: &str) -> Change {
        Change::CreateIndex {
            table: qn(table),
            name: id("i"),
            index: Index {
                unique: false,
                method: "btree".into(),
                keys: vec![IndexKey {
                    target: IndexTarget::Expression(expression.into()),
                    opclass: None,
                    collation: None,
                    descending: false,
                    nulls_first: false,
                }],
                include: vec![],
                predicate: None,
                nulls_not_distinct: false,
            },
            new_table: false,
        }
    }

    #[test]
    fn what_uses_a_held_back_column_waits_and_is_named() {
        let mut out = Diff {
            additive: vec![
                unique("accounts", "user_login"),
                unique("accounts", "email"),
                index_on("accounts", "lower(user_login)"),
                index_on("accounts", "accounts.* IS NOT NULL"),
                index_on("other", "lower(user_login)"),
            ],
            findings: vec![Finding::new(
                Code::PossibleRename,
                Severity::Risky,
                ObjectId::column(&qn("accounts"), &id("user_login")),
                "possibly renamed",
            )],
        };
        dependants(&mut out, &Schema::default(), &Schema::default());
        let kept: Vec<String> = out
            .additive
            .iter()
            .map(|c| c.object().to_string())
            .collect();
        assert_eq!(
            kept,
            [
                "constraint accounts_email_key on public.accounts",
                "index i on public.other"
            ]
        );
        assert!(
            out.findings[0].message.ends_with(
                "held back with it, since they use the column: constraint \
                 accounts_user_login_key on public.accounts, index i on public.accounts, index \
                 i on public.accounts"
            ),
            "{}",
            out.findings[0].message
        );
    }

    #[test]
    fn a_widening_holds_nothing_back() {
        let table = |data_type: &str| {
            let mut schema = Schema::default();
            schema.tables.insert(
                qn("accounts"),
                crate::model::Table {
                    columns: vec![crate::model::Column::new(id("slug"), data_type)],
                    ..Default::default()
                },
            );
            schema
        };
        let finding = || {
            Finding::new(
                Code::ColumnType,
                Severity::Risky,
                ObjectId::column(&qn("accounts"), &id("slug")),
                "type differs",
            )
        };
        let mut widened = Diff {
            additive: vec![unique("accounts", "slug")],
            findings: vec![finding()],
        };
        dependants(
            &mut widened,
            &table("character varying(40)"),
            &table("character varying(80)"),
        );
        assert_eq!(widened.additive.len(), 1);
        let mut converted = Diff {
            additive: vec![unique("accounts", "slug")],
            findings: vec![finding()],
        };
        dependants(&mut converted, &table("text"), &table("integer"));
        assert!(converted.additive.is_empty());
    }

    #[test]
    fn other_findings_hold_nothing_back() {
        let mut out = Diff {
            additive: vec![unique("accounts", "user_login")],
            findings: vec![Finding::new(
                Code::ColumnDefault,
                Severity::Risky,
                ObjectId::column(&qn("accounts"), &id("user_login")),
                "default differs",
            )],
        };
        dependants(&mut out, &Schema::default(), &Schema::default());
        assert_eq!(out.additive.len(), 1);
    }
}
