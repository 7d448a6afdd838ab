//! Schemas, extensions, enum types, and the option clauses of sequences and identities.

use crate::ident::quote_literal;
use crate::model::{EnumType, Extension, Ident, QualifiedName, SequenceOptions};

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
