//! Unit tables: each new or changed column, check and index built once, on a small table of
//! its own with only the columns it uses, and shared by every table that adds the same
//! object. How an object prints depends on its text and the types of the columns it reads,
//! not on its table, so 1,247 drifted tables need a handful of small tables, not 1,247 builds.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ConstraintKind, QualifiedName, Schema, Table};
use crate::normalise::equivalence;

/// What one unit table prints for the probe it came from.
#[derive(Debug, Clone)]
pub(super) enum Part {
    /// A column, and its name in the unit table.
    Column {
        name: crate::model::Ident,
        printed_as: crate::model::Ident,
    },
    Constraint(crate::model::Ident),
    Index(crate::model::Ident),
}

impl Part {
    /// The object of `table` this part is.
    pub(super) fn object(&self, table: &QualifiedName) -> crate::model::ObjectId {
        use crate::model::ObjectId;
        match self {
            Part::Column { name, .. } => ObjectId::column(table, name),
            Part::Constraint(name) => ObjectId::constraint(table, name),
            Part::Index(name) => ObjectId::index(table, name),
        }
    }
}

/// Small tables, each holding one changed object and the columns it uses, shared by every
/// probe with the same object over the same columns.
#[derive(Default)]
pub(super) struct Units {
    pub(super) tables: BTreeMap<QualifiedName, Table>,
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
        let anonymous = column.renamed(crate::model::Ident::from_catalog(String::new()));
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
                columns.push(column.renamed(printed_as.clone()));
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
    pub(super) fn split(
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
            if column.generated().is_none() && column.identity().is_none() {
                parts.push(self.pack(&name.schema, column, desired)?);
                continue;
            }
            let mut table = Table::default();
            if let Some(expression) = &column.generated() {
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
        .map(|c| {
            let mut column = c.clone().with_identity(None).with_generated(None);
            column.default = None;
            column
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, Constraint, Ident};

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new(Ident::new("public").unwrap(), Ident::new(n).unwrap())
    }

    fn table(columns: &[(&str, &str)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(n, t)| Column::new(Ident::new(*n).unwrap(), *t))
                .collect(),
            ..Table::default()
        }
    }

    fn with_check(mut t: Table, check: &str) -> Table {
        t.constraints.insert(
            Ident::new("c").unwrap(),
            Constraint {
                kind: ConstraintKind::Check {
                    expression: check.into(),
                    no_inherit: false,
                },
                deferrable: false,
                initially_deferred: false,
            },
        );
        t
    }

    #[test]
    fn the_same_new_column_of_two_tables_is_built_once() {
        let desired = Schema::default();
        let mut units = Units::default();
        let live_a = table(&[("id", "bigint")]);
        let live_b = table(&[("key", "text")]);
        let a = table(&[("id", "bigint"), ("note", "text")]);
        let b = table(&[("key", "text"), ("note", "text")]);
        let parts_a = units
            .split(&name("a"), &a, &a, &live_a, &desired)
            .expect("splits");
        let parts_b = units
            .split(&name("b"), &b, &b, &live_b, &desired)
            .expect("splits");
        assert_eq!(units.tables.len(), 1, "{:?}", units.tables);
        let printed = |parts: &[(QualifiedName, Part)]| match &parts[0].1 {
            Part::Column { printed_as, .. } => (parts[0].0.clone(), printed_as.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(printed(&parts_a), printed(&parts_b));
    }

    #[test]
    fn a_check_is_built_over_only_the_columns_it_reads() {
        let desired = Schema::default();
        let mut units = Units::default();
        let live = table(&[("id", "bigint"), ("price", "numeric"), ("name", "text")]);
        let wanted = with_check(live.clone(), "price > 0");
        let parts = units
            .split(&name("t"), &wanted, &wanted, &live, &desired)
            .expect("splits");
        assert_eq!(parts.len(), 1);
        let unit = &units.tables[&parts[0].0];
        let columns: Vec<&str> = unit.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["price"]);
        assert!(!desired.tables.contains_key(&parts[0].0));
    }

    #[test]
    fn an_expression_naming_its_own_table_is_built_whole() {
        let desired = Schema::default();
        let mut units = Units::default();
        let live = table(&[("price", "numeric")]);
        let wanted = with_check(live.clone(), "t.price > 0");
        assert!(
            units
                .split(&name("t"), &wanted, &wanted, &live, &desired)
                .is_none()
        );
    }
}
