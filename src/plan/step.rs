//! What one plan step is: SQL plus everything a reviewer or the executor needs to know to
//! run it safely (transaction shape, locks, hazards).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ObjectId, QualifiedName};

/// What a step does. Every kind adds; see [`crate::diff::Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    CreateSchema,
    CreateExtension,
    CreateType,
    AddEnumValue,
    CreateDomain,
    CreateSequence,
    CreateTable,
    AddColumn,
    SetSequenceOwner,
    CreateIndex,
    /// The unique index behind a new primary key or unique constraint on an existing table.
    CreateKeyIndex,
    /// `ADD CONSTRAINT ... USING INDEX`: turns a key index into the constraint.
    AttachKey,
    AddConstraint,
    /// `ADD CONSTRAINT ... NOT VALID`: takes effect for new rows only, with a short lock.
    AddConstraintNotValid,
    /// Checks existing rows against a NOT VALID constraint without blocking writes.
    ValidateConstraint,
    EnableRowLevelSecurity,
    /// `ALTER INDEX ... ATTACH PARTITION`: a partition's index (or key) becomes part of its
    /// partitioned table's index, once built.
    AttachPartitionIndex,
    /// `DROP INDEX CONCURRENTLY` of an index left INVALID by a failed concurrent build (it
    /// holds no data and is ours); the only DROP reconcile runs. Followed by its rebuild.
    DropInvalidIndex,
    /// A definition swapped in place (`CREATE OR REPLACE`, `ALTER POLICY`, `COMMENT ON`);
    /// the step carries the previous definition ([`Step::previous`]).
    Replace,
    CreateView,
    CreateMaterializedView,
    CreateFunction,
    CreateAggregate,
    CreateTrigger,
    /// `GRANT` of a privilege (or of its grant option).
    Grant,
    /// `ALTER DEFAULT PRIVILEGES ... GRANT`.
    AlterDefaultPrivileges,
    /// `ALTER ... OWNER TO` of an object the same plan creates.
    SetOwner,
    /// `CREATE POLICY` (row-level security), in a guard.
    CreatePolicy,
    /// `COMMENT ON` an object that has no comment yet (a changed comment is a
    /// [`StepKind::Replace`]).
    Comment,
}

/// Table-level locks, weakest first (PostgreSQL's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LockLevel {
    #[serde(rename = "SHARE UPDATE EXCLUSIVE")]
    ShareUpdateExclusive,
    #[serde(rename = "SHARE")]
    Share,
    #[serde(rename = "SHARE ROW EXCLUSIVE")]
    ShareRowExclusive,
    #[serde(rename = "ACCESS EXCLUSIVE")]
    AccessExclusive,
}

impl LockLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LockLevel::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockLevel::Share => "SHARE",
            LockLevel::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockLevel::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// Whether the lock stops concurrent INSERT/UPDATE/DELETE.
    pub fn blocks_writes(self) -> bool {
        self >= LockLevel::Share
    }
}

impl fmt::Display for LockLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lock the step takes on a table that exists before the plan runs (locks on objects the
/// plan itself creates hurt nobody and are not listed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableLock {
    pub table: QualifiedName,
    pub level: LockLevel,
}

/// How a step relates to transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transaction {
    /// May share a transaction with neighbouring steps that lock the same tables.
    Grouped,
    /// Must commit before later steps run (a new enum label is unusable until committed).
    Alone,
    /// Cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`).
    Outside,
}

/// Stable hazard codes. The number is the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HazardCode {
    AccessExclusiveLock,
    BuildsIndex,
    ValidatesByScan,
    NotNullWithoutDefault,
    RewritesTable,
    SetsNotNull,
    IndexBuiltUnderLock,
    EnumLabelCommit,
    RebuildsInvalidIndex,
    LocksReferencedTable,
    IndexBlocksWrites,
    Unverified,
    ReplacesDefinition,
    PolicyAccess,
    DefaultPartitionScan,
    /// Creating a materialized view runs its query (with the planner's estimate).
    PopulatesMaterializedView,
    PartitionedTableLock,
}

impl HazardCode {
    pub const ALL: [HazardCode; 17] = [
        HazardCode::AccessExclusiveLock,
        HazardCode::BuildsIndex,
        HazardCode::ValidatesByScan,
        HazardCode::NotNullWithoutDefault,
        HazardCode::RewritesTable,
        HazardCode::SetsNotNull,
        HazardCode::IndexBuiltUnderLock,
        HazardCode::EnumLabelCommit,
        HazardCode::RebuildsInvalidIndex,
        HazardCode::LocksReferencedTable,
        HazardCode::IndexBlocksWrites,
        HazardCode::Unverified,
        HazardCode::ReplacesDefinition,
        HazardCode::PolicyAccess,
        HazardCode::DefaultPartitionScan,
        HazardCode::PopulatesMaterializedView,
        HazardCode::PartitionedTableLock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HazardCode::AccessExclusiveLock => "H001",
            HazardCode::BuildsIndex => "H002",
            HazardCode::ValidatesByScan => "H003",
            HazardCode::NotNullWithoutDefault => "H004",
            HazardCode::RewritesTable => "H005",
            HazardCode::SetsNotNull => "H006",
            HazardCode::IndexBuiltUnderLock => "H007",
            HazardCode::EnumLabelCommit => "H008",
            HazardCode::RebuildsInvalidIndex => "H009",
            HazardCode::LocksReferencedTable => "H010",
            HazardCode::IndexBlocksWrites => "H011",
            HazardCode::Unverified => "H012",
            HazardCode::ReplacesDefinition => "H013",
            HazardCode::PolicyAccess => "H014",
            HazardCode::DefaultPartitionScan => "H015",
            HazardCode::PopulatesMaterializedView => "H016",
            HazardCode::PartitionedTableLock => "H017",
        }
    }
}

impl fmt::Display for HazardCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for HazardCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HazardCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HazardCode::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown hazard code {text}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hazard {
    pub code: HazardCode,
    pub message: String,
}

/// One executable step. Built only by [`super::build`] from additive changes; the struct is
/// `#[non_exhaustive]` so no code outside this crate can assemble one from other SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// 1-based position in the plan.
    pub number: usize,
    pub kind: StepKind,
    /// e.g. `index leads_status_idx on public.leads`.
    pub object: ObjectId,
    /// One statement, idempotent on its own (IF NOT EXISTS or a catalog-guarded DO block).
    pub sql: String,
    pub transaction: Transaction,
    pub locks: Vec<TableLock>,
    pub hazards: Vec<Hazard>,
    /// Numbers of the steps this one must follow.
    pub depends_on: Vec<usize>,
    /// The index a step builds or drops (schema-qualified), so the executor can clean up
    /// after a failed concurrent build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<QualifiedName>,
    /// For a replace step: the statement that puts back the definition it replaces (what a
    /// rollback guide prints; never run by reconcile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

impl Step {
    /// The strongest lock the step takes on a pre-existing table.
    pub fn strongest_lock(&self) -> Option<LockLevel> {
        self.locks.iter().map(|l| l.level).max()
    }
}

#[cfg(test)]
mod tests {
    use super::HazardCode;

    #[test]
    fn hazard_codes_are_documented() {
        let docs = include_str!("../../docs/plan.md");
        for code in HazardCode::ALL {
            assert!(
                docs.contains(&format!("| {code} |")),
                "{code} is missing from docs/plan.md"
            );
        }
    }
}
