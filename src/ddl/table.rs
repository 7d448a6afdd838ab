//! Tables with their columns, keys and checks; sequence ownership; row-level security.

use super::constraint::constraint_body;
use super::types::identity_options;
use crate::model::{Column, ConstraintKind, QualifiedName, Table};

pub fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", c.name.quoted(), c.data_type);
    if let Some(collation) = &c.collation() {
        sql.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(identity) = &c.identity() {
        let kind = if identity.always {
            "ALWAYS"
        } else {
            "BY DEFAULT"
        };
        sql.push_str(&format!(
            " GENERATED {kind} AS IDENTITY ({})",
            identity_options(&identity.options)
        ));
    }
    if let Some(generated) = &c.generated() {
        sql.push_str(&format!(" GENERATED ALWAYS AS ({generated}) STORED"));
    }
    if let Some(default) = &c.default {
        sql.push_str(&format!(" DEFAULT ({default})"));
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

/// What a partition says about a column it gets from its parent: its own default and
/// NOT NULL (`WITH OPTIONS`; the type and the rest are the parent's).
fn column_override(c: &Column) -> String {
    let mut sql = format!("{} WITH OPTIONS", c.name.quoted());
    if let Some(default) = &c.default {
        sql.push_str(&format!(" DEFAULT ({default})"));
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

/// CREATE TABLE with every column and every constraint except foreign keys (which need
/// their target first and are added afterwards). A partition is created `PARTITION OF` its
/// parent, its columns (those it overrides) as options; a partitioned table ends with its
/// `PARTITION BY`.
pub fn create_table(name: &QualifiedName, t: &Table) -> String {
    let column = if t.partition_of.is_some() {
        column_override
    } else {
        column_definition
    };
    let mut parts: Vec<String> = t.columns.iter().map(column).collect();
    for (constraint_name, c) in &t.constraints {
        if !matches!(c.kind, ConstraintKind::ForeignKey(_)) {
            parts.push(format!(
                "CONSTRAINT {} {}",
                constraint_name.quoted(),
                constraint_body(c)
            ));
        }
    }
    let list = if parts.is_empty() {
        String::new()
    } else {
        format!(" (\n    {}\n)", parts.join(",\n    "))
    };
    let by = t
        .partition_by
        .as_ref()
        .map(|key| format!(" PARTITION BY {key}"))
        .unwrap_or_default();
    match &t.partition_of {
        Some(p) => format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {}{list} {}{by}",
            name.quoted(),
            p.parent.quoted(),
            p.bound
        ),
        None if parts.is_empty() => format!("CREATE TABLE IF NOT EXISTS {} (){by}", name.quoted()),
        None => format!("CREATE TABLE IF NOT EXISTS {}{list}{by}", name.quoted()),
    }
}

pub fn enable_rls(name: &QualifiedName, t: &Table) -> Option<String> {
    match (t.row_level_security, t.force_row_level_security) {
        (false, false) => None,
        (true, false) => Some(format!(
            "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
            name.quoted()
        )),
        (false, true) => Some(format!(
            "ALTER TABLE {} FORCE ROW LEVEL SECURITY",
            name.quoted()
        )),
        (true, true) => Some(format!(
            "ALTER TABLE {} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
            name.quoted()
        )),
    }
}
