//! Schemas, extensions, enum and composite types, domains and sequences.

use crate::ident::quote_literal;
use crate::model::{
    CompositeType, Domain, EnumType, Extension, Ident, QualifiedName, Sequence, SequenceOptions,
};

pub fn create_schema(name: &Ident) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", name.quoted())
}

pub fn create_extension(name: &Ident, ext: &Extension) -> String {
    format!(
        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
        name.quoted(),
        ext.schema.quoted()
    )
}

pub fn create_enum(name: &QualifiedName, e: &EnumType) -> String {
    let labels: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    format!(
        "CREATE TYPE {} AS ENUM ({})",
        name.quoted(),
        labels.join(", ")
    )
}

pub fn create_composite(name: &QualifiedName, c: &CompositeType) -> String {
    let attributes: Vec<String> = c
        .attributes
        .iter()
        .map(|a| {
            let mut s = format!("{} {}", a.name.quoted(), a.data_type);
            if let Some(collation) = &a.collation {
                s.push_str(&format!(" COLLATE {collation}"));
            }
            s
        })
        .collect();
    format!(
        "CREATE TYPE {} AS ({})",
        name.quoted(),
        attributes.join(", ")
    )
}

pub fn create_domain(name: &QualifiedName, d: &Domain) -> String {
    let mut sql = format!("CREATE DOMAIN {} AS {}", name.quoted(), d.data_type);
    if let Some(collation) = &d.collation {
        sql.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(default) = &d.default {
        sql.push_str(&format!(" DEFAULT ({default})"));
    }
    if d.not_null {
        sql.push_str(" NOT NULL");
    }
    for (check, expr) in &d.checks {
        sql.push_str(&format!(" CONSTRAINT {} CHECK ({expr})", check.quoted()));
    }
    sql
}

/// The option clauses of CREATE SEQUENCE.
pub fn sequence_options(o: &SequenceOptions) -> String {
    format!("AS {} {}", o.data_type.sql(), identity_options(o))
}

/// The option clauses of an identity column (its type is the column's).
pub fn identity_options(o: &SequenceOptions) -> String {
    format!(
        "INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        o.increment,
        o.min_value,
        o.max_value,
        o.start,
        o.cache,
        if o.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

pub fn create_sequence(name: &QualifiedName, s: &Sequence) -> String {
    format!(
        "CREATE SEQUENCE IF NOT EXISTS {} {}",
        name.quoted(),
        sequence_options(&s.options)
    )
}
