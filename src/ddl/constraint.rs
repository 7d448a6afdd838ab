//! Constraint definitions: primary key, unique, check, foreign key, exclusion.

use crate::model::{Constraint, ConstraintKind, Ident, QualifiedName};

fn columns(list: &[Ident]) -> String {
    list.iter()
        .map(Ident::quoted)
        .collect::<Vec<_>>()
        .join(", ")
}

fn include(list: &[Ident]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!(" INCLUDE ({})", columns(list))
    }
}

/// The text after `CONSTRAINT name`.
pub fn constraint_body(c: &Constraint) -> String {
    let mut sql = match &c.kind {
        ConstraintKind::PrimaryKey {
            columns: cols,
            include: inc,
        } => {
            format!("PRIMARY KEY ({}){}", columns(cols), include(inc))
        }
        ConstraintKind::Unique {
            columns: cols,
            include: inc,
            nulls_not_distinct,
        } => format!(
            "UNIQUE{} ({}){}",
            if *nulls_not_distinct {
                " NULLS NOT DISTINCT"
            } else {
                ""
            },
            columns(cols),
            include(inc)
        ),
        ConstraintKind::Check {
            expression,
            no_inherit,
        } => format!(
            "CHECK ({expression}){}",
            if *no_inherit { " NO INHERIT" } else { "" }
        ),
        ConstraintKind::ForeignKey(fk) => format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}){} ON UPDATE {} ON DELETE {}",
            columns(&fk.columns),
            fk.references.quoted(),
            columns(&fk.referenced_columns),
            if fk.match_full { " MATCH FULL" } else { "" },
            fk.on_update.sql(),
            fk.on_delete.sql()
        ),
        ConstraintKind::Exclusion { definition } => definition.clone(),
    };
    if c.deferrable {
        sql.push_str(" DEFERRABLE");
        if c.initially_deferred {
            sql.push_str(" INITIALLY DEFERRED");
        }
    }
    sql
}

pub fn add_constraint(table: &QualifiedName, name: &Ident, c: &Constraint) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        table.quoted(),
        name.quoted(),
        constraint_body(c)
    )
}
