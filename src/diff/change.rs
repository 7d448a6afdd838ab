//! The closed set of changes reconcile may make.
//!
//! Every variant *adds* something; there is no variant that could drop, retype, rename or
//! tighten an existing object. The planner turns these, and only these, into SQL — so
//! "reconcile never executes a destructive statement" holds by construction: a destructive
//! difference is a [`super::Finding`], a different type with no path to a step.

use serde::Serialize;

use crate::kinds::{Created, Replaced};
use crate::model::{
    Column, Constraint, EnumType, Extension, Ident, Index, ObjectId, QualifiedName, Table,
};

/// Where a new enum label goes relative to an existing (or earlier added) one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumPosition {
    Before(String),
    After(String),
    /// At the end (the type had no label we keep).
    End,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    CreateSchema {
        name: Ident,
    },
    CreateExtension {
        name: Ident,
        extension: Extension,
    },
    CreateEnum {
        name: QualifiedName,
        definition: EnumType,
    },
    AddEnumValue {
        type_name: QualifiedName,
        value: String,
        position: EnumPosition,
    },
    /// A missing object of a kind registered in [`crate::kinds`] (domains, composite types,
    /// sequences, ...).
    Create(Created),
    /// A definition PostgreSQL swaps in place, of a kind registered as replaceable (views,
    /// functions, triggers, policies, comments): never a DROP, and the previous definition
    /// goes with the step so a rollback guide can put it back.
    Replace(Replaced),
    /// A new table with its columns, keys, checks and exclusions inline; its foreign keys and
    /// indexes come as their own changes.
    CreateTable {
        name: QualifiedName,
        definition: Table,
    },
    AddColumn {
        table: QualifiedName,
        column: Column,
    },
    CreateIndex {
        table: QualifiedName,
        name: Ident,
        index: Index,
        /// The table is created by the same plan (so it is empty and nobody uses it).
        new_table: bool,
    },
    AddConstraint {
        table: QualifiedName,
        name: Ident,
        constraint: Constraint,
        new_table: bool,
    },
    EnableRowLevelSecurity {
        table: QualifiedName,
        enable: bool,
        force: bool,
        new_table: bool,
    },
    /// `ALTER INDEX index ATTACH PARTITION partition_index`: the index (or key) a partition
    /// got for a new index or key of its partitioned table becomes part of it. The parent's
    /// index is created `ON ONLY` the partitioned table (see [`Change::CreateIndex`] and
    /// [`Change::AddConstraint`] on a table that is partitioned in the database), the
    /// partition's is built concurrently; once every partition's is attached, the parent's
    /// is valid.
    AttachPartitionIndex {
        /// The partitioned table and its index (or key constraint) name.
        table: QualifiedName,
        index: Ident,
        /// The partition and the name of its index (or key constraint).
        partition: QualifiedName,
        partition_index: Ident,
    },
}

impl Change {
    /// The object the change creates.
    pub fn object(&self) -> ObjectId {
        match self {
            Change::CreateSchema { name } => ObjectId::Schema(name.clone()),
            Change::CreateExtension { name, .. } => ObjectId::Extension(name.clone()),
            Change::CreateEnum { name, .. } => ObjectId::Type(name.clone()),
            Change::AddEnumValue {
                type_name, value, ..
            } => ObjectId::EnumValue {
                type_name: type_name.clone(),
                value: value.clone(),
            },
            Change::Create(created) => created.object(),
            Change::Replace(replaced) => replaced.object(),
            Change::CreateTable { name, .. } => ObjectId::Table(name.clone()),
            Change::AddColumn { table, column } => ObjectId::column(table, &column.name),
            Change::CreateIndex { table, name, .. } => ObjectId::index(table, name),
            Change::AddConstraint { table, name, .. } => ObjectId::constraint(table, name),
            Change::EnableRowLevelSecurity { table, .. } => {
                ObjectId::RowLevelSecurity(table.clone())
            }
            Change::AttachPartitionIndex {
                table,
                index,
                partition,
                partition_index,
            } => ObjectId::IndexAttachment {
                index: QualifiedName::new(table.schema.clone(), index.clone()),
                partition_index: QualifiedName::new(
                    partition.schema.clone(),
                    partition_index.clone(),
                ),
            },
        }
    }
}
