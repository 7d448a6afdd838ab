//! Tables with their columns, keys and checks; sequence ownership; row-level security.

use super::constraint::constraint_body;
use super::types::identity_options;
use crate::model::{Column, ConstraintKind, QualifiedName, Table};

pub fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", c.name.quoted(), c.data_type);
    if let Some(collation) = &c.collation {
        sql.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(identity) = &c.identity {
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
    if let Some(generated) = &c.generated {
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

/// CREATE TABLE with every column and every constraint except foreign keys (which need
/// their target first and are added afterwards).
pub fn create_table(name: &QualifiedName, t: &Table) -> String {
    let mut parts: Vec<String> = t.columns.iter().map(column_definition).collect();
    for (constraint_name, c) in &t.constraints {
        if !matches!(c.kind, ConstraintKind::ForeignKey(_)) {
            parts.push(format!(
                "CONSTRAINT {} {}",
                constraint_name.quoted(),
                constraint_body(c)
            ));
        }
    }
    if parts.is_empty() {
        return format!("CREATE TABLE IF NOT EXISTS {} ()", name.quoted());
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    {}\n)",
        name.quoted(),
        parts.join(",\n    ")
    )
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
