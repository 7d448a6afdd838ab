//! SQL that creates model objects, one generator per object kind.
//!
//! Every identifier goes through [`crate::ident`]'s quoting; types, expressions and
//! definitions were validated by the loader (or printed by the server) before they got here.
//! The statements assume `search_path = public`, the setting under which the model's type and
//! expression text was produced. [`create_all`] orders them so an empty database accepts them.

mod constraint;
mod index;
mod table;
mod types;

pub use constraint::{add_constraint, constraint_body};
pub use index::{create_index, create_index_on_only};
pub use table::{column_definition, create_table, enable_rls};
pub use types::{create_enum, create_extension, create_schema, identity_options, sequence_options};

use crate::kinds::{self, Kind, Visitor};
use crate::model::{ConstraintKind, ObjectId, Schema};

/// One statement and the object it creates (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub object: ObjectId,
    pub sql: String,
}

/// Everything in `schema` as CREATE statements, in an order an empty database accepts:
/// schemas, extensions, types, sequences, tables (with keys and checks), sequence ownership,
/// indexes, foreign keys, row-level security.
pub fn create_all(schema: &Schema) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut push = |object: ObjectId, sql: String| out.push(Statement { object, sql });
    for name in &schema.schemas {
        push(ObjectId::Schema(name.clone()), create_schema(name));
    }
    for (name, ext) in &schema.extensions {
        push(
            ObjectId::Extension(name.clone()),
            create_extension(name, ext),
        );
    }
    for (name, e) in &schema.enums {
        push(ObjectId::Type(name.clone()), create_enum(name, e));
    }
    struct Creates<'a> {
        schema: &'a Schema,
        out: &'a mut Vec<Statement>,
    }
    impl Visitor for Creates<'_> {
        fn visit<K: Kind>(&mut self) {
            for (name, object) in K::objects(self.schema) {
                self.out.push(Statement {
                    object: K::id(name),
                    sql: K::create(name, object),
                });
            }
        }
    }
    kinds::visit_all(&mut Creates {
        schema,
        out: &mut out,
    });
    let mut push = |object: ObjectId, sql: String| out.push(Statement { object, sql });
    // A partition after its parent (a partition's depth is its parent's plus one).
    let mut tables: Vec<_> = schema.tables.iter().collect();
    tables.sort_by_cached_key(|(name, t)| (partition_depth(schema, t), (*name).clone()));
    for (name, t) in tables {
        push(ObjectId::Table(name.clone()), create_table(name, t));
    }
    for (name, s) in &schema.sequences {
        if let Some((table, column)) = &s.owned_by {
            push(
                ObjectId::SequenceOwnership(name.clone()),
                kinds::sequence::owned_by(name, table, column),
            );
        }
    }
    for (table_name, t) in &schema.tables {
        for (index_name, index) in &t.indexes {
            push(
                ObjectId::index(table_name, index_name),
                create_index(table_name, index_name, index, false),
            );
        }
    }
    for (table_name, t) in &schema.tables {
        for (constraint_name, c) in &t.constraints {
            if matches!(c.kind, ConstraintKind::ForeignKey(_)) {
                push(
                    ObjectId::constraint(table_name, constraint_name),
                    add_constraint(table_name, constraint_name, c),
                );
            }
        }
        if let Some(sql) = enable_rls(table_name, t) {
            push(ObjectId::RowLevelSecurity(table_name.clone()), sql);
        }
    }
    out
}

/// How many partitioned tables `table` sits under (0 for a table that is no partition).
fn partition_depth<'s>(schema: &'s Schema, mut table: &'s crate::model::Table) -> usize {
    let mut depth = 0;
    while let Some(parent) = table
        .partition_of
        .as_ref()
        .and_then(|p| schema.tables.get(&p.parent))
    {
        depth += 1;
        table = parent;
        if depth > schema.tables.len() {
            break;
        }
    }
    depth
}
