//! Live model vs desired model → additive changes and findings. Pure: no database.
//!
//! Additive changes ([`Additive`]) are the only thing that can become SQL; everything that
//! would need a destructive or non-additive statement is a [`Finding`], a different type
//! with a stable code, which no function turns into an executable statement.
//! This first cut works per object: whole missing objects, and missing columns, indexes and
//! constraints of existing tables. (Dependency ordering, guards and hazards: the planner.)

use std::collections::BTreeSet;

use crate::ddl;
use crate::model::{ConstraintKind, Ident, QualifiedName, Schema};

/// A change reconcile may make: it only ever adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Additive {
    pub object: String,
    pub sql: String,
}

/// A difference reconcile reports and never executes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Stable code, e.g. `D101`.
    pub code: &'static str,
    pub object: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub additive: Vec<Additive>,
    pub findings: Vec<Finding>,
}

fn finding(code: &'static str, object: String, message: &str) -> Finding {
    Finding {
        code,
        object,
        message: message.to_owned(),
    }
}

/// Compares `live` with `desired` (both canonical).
pub fn diff(live: &Schema, desired: &Schema) -> Diff {
    let mut out = Diff::default();
    let mut add = |object: String, sql: String| out.additive.push(Additive { object, sql });
    for name in desired.schemas.difference(&live.schemas) {
        add(format!("schema {name}"), ddl::create_schema(name));
    }
    for (name, ext) in &desired.extensions {
        if !live.extensions.contains_key(name) {
            add(
                format!("extension {name}"),
                ddl::create_extension(name, ext),
            );
        }
    }
    for (name, e) in &desired.enums {
        if !live.enums.contains_key(name) {
            add(format!("type {name}"), ddl::create_enum(name, e));
        }
    }
    for (name, c) in &desired.composites {
        if !live.composites.contains_key(name) {
            add(format!("type {name}"), ddl::create_composite(name, c));
        }
    }
    for (name, d) in &desired.domains {
        if !live.domains.contains_key(name) {
            add(format!("domain {name}"), ddl::create_domain(name, d));
        }
    }
    for (name, s) in &desired.sequences {
        if !live.sequences.contains_key(name) {
            add(format!("sequence {name}"), ddl::create_sequence(name, s));
        }
    }
    for (name, table) in &desired.tables {
        match live.tables.get(name) {
            None => add(format!("table {name}"), ddl::create_table(name, table)),
            Some(existing) => {
                for column in &table.columns {
                    if existing.column(column.name.as_str()).is_none() {
                        add(
                            format!("column {name}.{}", column.name.quoted()),
                            format!(
                                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
                                name.quoted(),
                                ddl::column_definition(column)
                            ),
                        );
                    }
                }
                for (cname, c) in &table.constraints {
                    if !matches!(c.kind, ConstraintKind::ForeignKey(_))
                        && !existing.constraints.contains_key(cname)
                    {
                        add(
                            format!("constraint {cname} on {name}"),
                            ddl::add_constraint(name, cname, c),
                        );
                    }
                }
            }
        }
    }
    for (name, s) in &desired.sequences {
        if !live.sequences.contains_key(name)
            && let Some(sql) = ddl::sequence_owned_by(name, s)
        {
            add(format!("sequence {name} ownership"), sql);
        }
    }
    for (name, table) in &desired.tables {
        let existing = live.tables.get(name);
        for (iname, index) in &table.indexes {
            if existing.is_none_or(|t| !t.indexes.contains_key(iname)) {
                add(
                    format!("index {iname} on {name}"),
                    ddl::create_index(name, iname, index, existing.is_some()),
                );
            }
        }
    }
    for (name, table) in &desired.tables {
        let existing = live.tables.get(name);
        for (cname, c) in &table.constraints {
            if matches!(c.kind, ConstraintKind::ForeignKey(_))
                && existing.is_none_or(|t| !t.constraints.contains_key(cname))
            {
                add(
                    format!("constraint {cname} on {name}"),
                    ddl::add_constraint(name, cname, c),
                );
            }
        }
        let rls_missing = table.row_level_security
            && existing.is_none_or(|t| !t.row_level_security)
            || table.force_row_level_security
                && existing.is_none_or(|t| !t.force_row_level_security);
        if rls_missing && let Some(sql) = ddl::enable_rls(name, table) {
            add(format!("row-level security on {name}"), sql);
        }
    }
    out.findings = findings(live, desired);
    out
}

fn findings(live: &Schema, desired: &Schema) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, table) in &live.tables {
        let Some(wanted) = desired.tables.get(name) else {
            if desired.schemas.contains(&name.schema) {
                out.push(finding(
                    "D100",
                    format!("table {name}"),
                    "extra table (not in the desired state)",
                ));
            }
            continue;
        };
        let wanted_columns: BTreeSet<&Ident> = wanted.columns.iter().map(|c| &c.name).collect();
        for column in &table.columns {
            match wanted.column(column.name.as_str()) {
                None if !wanted_columns.contains(&column.name) => out.push(finding(
                    "D101",
                    column_object(name, &column.name),
                    "extra column (not in the desired state)",
                )),
                Some(w) if w.data_type != column.data_type => out.push(Finding {
                    code: "D110",
                    object: column_object(name, &column.name),
                    message: format!(
                        "type is {} but the desired state says {}",
                        column.data_type, w.data_type
                    ),
                }),
                Some(w) if w != column => out.push(finding(
                    "D111",
                    column_object(name, &column.name),
                    "nullability, default, identity, generation or collation differs",
                )),
                _ => {}
            }
        }
        for (iname, index) in &table.indexes {
            match wanted.indexes.get(iname) {
                None => out.push(finding(
                    "D102",
                    format!("index {iname} on {name}"),
                    "extra index",
                )),
                Some(w) if w != index => out.push(finding(
                    "D112",
                    format!("index {iname} on {name}"),
                    "index definition differs",
                )),
                _ => {}
            }
        }
        for (cname, c) in &table.constraints {
            match wanted.constraints.get(cname) {
                None => out.push(finding(
                    "D103",
                    format!("constraint {cname} on {name}"),
                    "extra constraint",
                )),
                Some(w) if w != c => out.push(finding(
                    "D113",
                    format!("constraint {cname} on {name}"),
                    "constraint definition differs",
                )),
                _ => {}
            }
        }
    }
    for (name, e) in &live.enums {
        if let Some(w) = desired.enums.get(name)
            && w != e
        {
            out.push(finding(
                "D120",
                format!("type {name}"),
                "enum values differ",
            ));
        }
    }
    for (name, d) in &live.domains {
        if let Some(w) = desired.domains.get(name)
            && w != d
        {
            out.push(finding(
                "D121",
                format!("domain {name}"),
                "domain definition differs",
            ));
        }
    }
    out.sort();
    out
}

fn column_object(table: &QualifiedName, column: &Ident) -> String {
    format!("column {table}.{}", column.quoted())
}
