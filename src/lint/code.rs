//! The stable codes `reconcile lint` reports, with their severity, a one-line title and the
//! safer alternative.
//!
//! CI allows or denies by code (`-- reconcile:allow D101 ...`, `--allow L020`), so a code never
//! changes meaning. Where the planner reports the same risk, lint reuses the planner's code —
//! a `D1xx` finding ([`crate::diff::Code`]) or an `H0xx` hazard ([`crate::plan::HazardCode`]) —
//! so one code means one thing across the tool. Risks only hand-written SQL can have get an
//! `L0xx` code of their own; they are documented in `docs/lint.md`.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::diff::Code as FindingCode;
use crate::plan::HazardCode;

/// Whether a diagnostic fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Loses data, breaks running code, or cannot work as written: fails the run.
    Error,
    /// Locks, rewrites or re-run hazards: reported; fails only with `--deny-warnings`.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lint rule. The string form ([`Code::as_str`]) is the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    DropTable,
    DropColumn,
    DropIndex,
    DropConstraint,
    DropType,
    DropSequence,
    DropExtension,
    AlterColumnType,
    SetNotNull,
    Rename,
    NotNullWithoutDefault,
    RewritesTable,
    IndexBuiltUnderLock,
    EnumLabelUsedBeforeCommit,
    IndexBlocksWrites,
    DropSchema,
    Truncate,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
    DropOtherObject,
    DropClusterObject,
    Unchecked,
    ValidatesUnderLock,
    MissingIfNotExists,
    MissingLockTimeout,
    CannotRunInTransaction,
    TransactionControl,
    UnusedAllow,
    BadDirective,
    Revoke,
    RevokeDefaultPrivileges,
    DisableRowLevelSecurity,
    AlterPolicy,
    PolicyAllowsEveryRow,
    DetachPartitionLocks,
    AttachPartitionScans,
    PartitionedIndexConcurrently,
    SecurityDefinerSearchPath,
    RefreshBlocksReads,
    DisableTrigger,
    ChangeOwner,
}

impl Code {
    pub const ALL: [Code; 41] = [
        Code::DropTable,
        Code::DropColumn,
        Code::DropIndex,
        Code::DropConstraint,
        Code::DropType,
        Code::DropSequence,
        Code::DropExtension,
        Code::AlterColumnType,
        Code::SetNotNull,
        Code::Rename,
        Code::NotNullWithoutDefault,
        Code::RewritesTable,
        Code::IndexBuiltUnderLock,
        Code::EnumLabelUsedBeforeCommit,
        Code::IndexBlocksWrites,
        Code::DropSchema,
        Code::Truncate,
        Code::DeleteWithoutWhere,
        Code::UpdateWithoutWhere,
        Code::DropOtherObject,
        Code::DropClusterObject,
        Code::Unchecked,
        Code::ValidatesUnderLock,
        Code::MissingIfNotExists,
        Code::MissingLockTimeout,
        Code::CannotRunInTransaction,
        Code::TransactionControl,
        Code::UnusedAllow,
        Code::BadDirective,
        Code::Revoke,
        Code::RevokeDefaultPrivileges,
        Code::DisableRowLevelSecurity,
        Code::AlterPolicy,
        Code::PolicyAllowsEveryRow,
        Code::DetachPartitionLocks,
        Code::AttachPartitionScans,
        Code::PartitionedIndexConcurrently,
        Code::SecurityDefinerSearchPath,
        Code::RefreshBlocksReads,
        Code::DisableTrigger,
        Code::ChangeOwner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::DropTable => FindingCode::ExtraTable.as_str(),
            Code::DropColumn => FindingCode::ExtraColumn.as_str(),
            Code::DropIndex => FindingCode::ExtraIndex.as_str(),
            Code::DropConstraint => FindingCode::ExtraConstraint.as_str(),
            Code::DropType => FindingCode::ExtraType.as_str(),
            Code::DropSequence => FindingCode::ExtraSequence.as_str(),
            Code::DropExtension => FindingCode::ExtraExtension.as_str(),
            Code::AlterColumnType => FindingCode::ColumnType.as_str(),
            Code::SetNotNull => FindingCode::Nullability.as_str(),
            Code::Rename => FindingCode::PossibleRename.as_str(),
            Code::NotNullWithoutDefault => HazardCode::NotNullWithoutDefault.as_str(),
            Code::RewritesTable => HazardCode::RewritesTable.as_str(),
            Code::IndexBuiltUnderLock => HazardCode::IndexBuiltUnderLock.as_str(),
            Code::EnumLabelUsedBeforeCommit => HazardCode::EnumLabelCommit.as_str(),
            Code::IndexBlocksWrites => HazardCode::IndexBlocksWrites.as_str(),
            Code::DropSchema => "L001",
            Code::Truncate => "L002",
            Code::DeleteWithoutWhere => "L003",
            Code::UpdateWithoutWhere => "L004",
            Code::DropOtherObject => "L005",
            Code::DropClusterObject => "L006",
            Code::Unchecked => "L007",
            Code::ValidatesUnderLock => "L010",
            Code::MissingIfNotExists => "L020",
            Code::MissingLockTimeout => "L021",
            Code::CannotRunInTransaction => "L022",
            Code::TransactionControl => "L023",
            Code::UnusedAllow => "L030",
            Code::BadDirective => "L031",
            Code::Revoke => FindingCode::ExtraGrant.as_str(),
            Code::RevokeDefaultPrivileges => FindingCode::ExtraDefaultPrivilege.as_str(),
            Code::DisableRowLevelSecurity => "L040",
            Code::AlterPolicy => "L041",
            Code::PolicyAllowsEveryRow => "L042",
            Code::DetachPartitionLocks => "L043",
            Code::AttachPartitionScans => "L044",
            Code::PartitionedIndexConcurrently => "L045",
            Code::SecurityDefinerSearchPath => "L046",
            Code::RefreshBlocksReads => "L047",
            Code::DisableTrigger => "L048",
            Code::ChangeOwner => "L049",
        }
    }

    /// The code for its string form (`D101`), case-insensitively.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::DropTable
            | Code::DropColumn
            | Code::DropIndex
            | Code::DropConstraint
            | Code::DropType
            | Code::DropSequence
            | Code::DropExtension
            | Code::AlterColumnType
            | Code::SetNotNull
            | Code::Rename
            | Code::DropSchema
            | Code::Truncate
            | Code::DeleteWithoutWhere
            | Code::UpdateWithoutWhere
            | Code::DropClusterObject
            | Code::CannotRunInTransaction
            | Code::BadDirective
            | Code::DisableRowLevelSecurity
            | Code::PartitionedIndexConcurrently => Severity::Error,
            Code::NotNullWithoutDefault
            | Code::RewritesTable
            | Code::IndexBuiltUnderLock
            | Code::EnumLabelUsedBeforeCommit
            | Code::IndexBlocksWrites
            | Code::DropOtherObject
            | Code::Unchecked
            | Code::ValidatesUnderLock
            | Code::MissingIfNotExists
            | Code::MissingLockTimeout
            | Code::TransactionControl
            | Code::UnusedAllow
            | Code::Revoke
            | Code::RevokeDefaultPrivileges
            | Code::AlterPolicy
            | Code::PolicyAllowsEveryRow
            | Code::DetachPartitionLocks
            | Code::AttachPartitionScans
            | Code::SecurityDefinerSearchPath
            | Code::RefreshBlocksReads
            | Code::DisableTrigger
            | Code::ChangeOwner => Severity::Warning,
        }
    }

    /// One line: what the statement does wrong (the docs table and `--format json`).
    pub fn title(self) -> &'static str {
        match self {
            Code::DropTable => "DROP TABLE deletes the table and every row in it",
            Code::DropColumn => "DROP COLUMN deletes the column's data; running code still uses it",
            Code::DropIndex => "DROP INDEX can make queries slow; plain DROP INDEX locks the table",
            Code::DropConstraint => "DROP CONSTRAINT stops enforcing a rule the data relies on",
            Code::DropType => {
                "DROP TYPE/DOMAIN fails while columns use it, or drops them (CASCADE)"
            }
            Code::DropSequence => "DROP SEQUENCE breaks defaults that call nextval on it",
            Code::DropExtension => "DROP EXTENSION drops every object of the extension",
            Code::AlterColumnType => {
                "ALTER COLUMN TYPE rewrites the table under ACCESS EXCLUSIVE and may fail or lose data"
            }
            Code::SetNotNull => {
                "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE and fails on NULLs"
            }
            Code::Rename => "RENAME breaks every query that still uses the old name",
            Code::NotNullWithoutDefault => {
                "NOT NULL column without a default on an existing table fails unless it is empty"
            }
            Code::RewritesTable => {
                "volatile default, identity, serial or stored generated column rewrites the table \
                 under ACCESS EXCLUSIVE"
            }
            Code::IndexBuiltUnderLock => {
                "a primary key, unique or exclusion constraint builds its index under ACCESS \
                 EXCLUSIVE"
            }
            Code::EnumLabelUsedBeforeCommit => {
                "a new enum label is used in the transaction that adds it (unsafe before commit)"
            }
            Code::IndexBlocksWrites => {
                "CREATE INDEX without CONCURRENTLY on an existing table blocks writes while it builds"
            }
            Code::DropSchema => "DROP SCHEMA drops the schema (with CASCADE, everything in it)",
            Code::Truncate => "TRUNCATE deletes every row of the table",
            Code::DeleteWithoutWhere => "DELETE without WHERE deletes every row of the table",
            Code::UpdateWithoutWhere => "UPDATE without WHERE rewrites every row of the table",
            Code::DropOtherObject => {
                "drops a view, function, trigger, policy or other object that code may depend on"
            }
            Code::DropClusterObject => {
                "drops a database, role, tablespace, subscription or everything a role owns"
            }
            Code::Unchecked => {
                "SQL that cannot be checked statically (dynamic EXECUTE, a DO block in another \
                 language or one whose body does not parse)"
            }
            Code::ValidatesUnderLock => {
                "ADD FOREIGN KEY/CHECK without NOT VALID scans an existing table while blocking \
                 writes"
            }
            Code::MissingIfNotExists => {
                "CREATE/ADD COLUMN without IF NOT EXISTS fails when a half-applied migration is re-run"
            }
            Code::MissingLockTimeout => {
                "ACCESS EXCLUSIVE lock on an existing table without `SET lock_timeout` earlier in \
                 the file"
            }
            Code::CannotRunInTransaction => {
                "a statement that cannot run inside a transaction block runs in one"
            }
            Code::TransactionControl => {
                "BEGIN/COMMIT/ROLLBACK in a file the migration runner already wraps in a transaction"
            }
            Code::UnusedAllow => "a `reconcile:allow` directive that allows nothing",
            Code::BadDirective => "a malformed `reconcile:` directive (it is not honoured)",
            Code::Revoke => {
                "REVOKE takes privileges away: what runs as the grantee fails with permission \
                 denied"
            }
            Code::RevokeDefaultPrivileges => {
                "ALTER DEFAULT PRIVILEGES ... REVOKE: objects created from now on lack privileges \
                 code may expect"
            }
            Code::DisableRowLevelSecurity => {
                "DISABLE / NO FORCE ROW LEVEL SECURITY: every role with table privileges sees \
                 and writes every row again"
            }
            Code::AlterPolicy => {
                "ALTER POLICY changes who may see or write which rows; lint cannot see whether \
                 access widens"
            }
            Code::PolicyAllowsEveryRow => {
                "a permissive policy with USING (true) or WITH CHECK (true) lets its roles reach \
                 every row"
            }
            Code::DetachPartitionLocks => {
                "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned \
                 table; the partition's rows leave it"
            }
            Code::AttachPartitionScans => {
                "ATTACH PARTITION of an existing table scans all its rows to check the bound \
                 while holding its ACCESS EXCLUSIVE lock"
            }
            Code::PartitionedIndexConcurrently => {
                "CREATE INDEX CONCURRENTLY on a partitioned table fails: PostgreSQL cannot build \
                 it concurrently"
            }
            Code::SecurityDefinerSearchPath => {
                "a SECURITY DEFINER function without SET search_path runs with its owner's rights \
                 and the caller's search_path"
            }
            Code::RefreshBlocksReads => {
                "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every read of the view \
                 while its query runs"
            }
            Code::DisableTrigger => {
                "DISABLE TRIGGER: writes stop running the trigger (audit, derived data; with ALL, \
                 foreign keys)"
            }
            Code::ChangeOwner => {
                "OWNER TO moves an object's owner rights: the previous owner loses them, the new \
                 one bypasses row-level security and runs its SECURITY DEFINER code"
            }
        }
    }

    /// The safer alternative, for the `help:` line of every diagnostic.
    pub fn help(self) -> &'static str {
        match self {
            Code::DropTable => {
                "stop using the table first, keep a backup (pg_dump -t), then drop it in its own \
                 migration with `-- reconcile:allow D100 <reason>`"
            }
            Code::DropColumn => {
                "deploy code that no longer reads or writes the column, then drop it in a later \
                 migration with `-- reconcile:allow D101 <reason>`"
            }
            Code::DropIndex => {
                "check pg_stat_user_indexes that it is unused, then `DROP INDEX CONCURRENTLY IF \
                 EXISTS ...` in a file with `-- reconcile:no-transaction`"
            }
            Code::DropConstraint => {
                "make sure nothing relies on the rule any more; to replace it, add the new \
                 constraint (NOT VALID, then VALIDATE) before dropping the old one"
            }
            Code::DropType => {
                "move the columns that use it to another type first; never rely on CASCADE"
            }
            Code::DropSequence => {
                "drop the column defaults that call nextval on it first; never rely on CASCADE"
            }
            Code::DropExtension => {
                "drop or migrate the objects that use the extension first; never rely on CASCADE"
            }
            Code::AlterColumnType => {
                "add a new column of the new type, backfill it in batches, switch readers, then \
                 drop the old column (widening varchar(n) or numeric precision does not rewrite: \
                 allow it with `-- reconcile:allow D110 <reason>`)"
            }
            Code::SetNotNull => {
                "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; then \
                 SET NOT NULL (PostgreSQL skips the scan) and drop the check"
            }
            Code::Rename => {
                "expand and contract: add the new name beside the old (a new column kept in sync, \
                 or a view), move readers and writers over, then remove the old name"
            }
            Code::NotNullWithoutDefault => {
                "add the column with a constant DEFAULT, or nullable: backfill, then add NOT NULL \
                 through a validated CHECK"
            }
            Code::RewritesTable => {
                "add the column without the default (or with a constant one), SET DEFAULT \
                 afterwards for new rows, and backfill existing rows in batches"
            }
            Code::IndexBuiltUnderLock => {
                "CREATE UNIQUE INDEX CONCURRENTLY in a `-- reconcile:no-transaction` file, then \
                 ADD CONSTRAINT ... PRIMARY KEY/UNIQUE USING INDEX (exclusion constraints have no \
                 concurrent form: schedule a maintenance window)"
            }
            Code::EnumLabelUsedBeforeCommit => {
                "add the label in its own migration and use it in a later one"
            }
            Code::IndexBlocksWrites => {
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ... in a file with `-- reconcile:no-transaction`"
            }
            Code::DropSchema => {
                "drop the objects in it one by one (each reviewed), then the empty schema without \
                 CASCADE"
            }
            Code::Truncate => {
                "if the data must go, back it up first and allow it with `-- reconcile:allow L002 \
                 <reason>`; never rely on CASCADE"
            }
            Code::DeleteWithoutWhere => {
                "add a WHERE clause; delete large sets in batches, each in a short transaction"
            }
            Code::UpdateWithoutWhere => {
                "add a WHERE clause; update large tables in batches (WHERE id BETWEEN ...), each \
                 in a short transaction"
            }
            Code::DropOtherObject => {
                "check what depends on it; prefer CREATE OR REPLACE to drop-and-create"
            }
            Code::DropClusterObject => "do this by hand, outside schema migrations",
            Code::Unchecked => {
                "write the statements out literally so they can be checked; keep destructive \
                 statements out of dynamic SQL"
            }
            Code::ValidatesUnderLock => {
                "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT ... (reads \
                 and writes continue during the scan)"
            }
            Code::MissingIfNotExists => {
                "CREATE TABLE/INDEX/SCHEMA/SEQUENCE/EXTENSION IF NOT EXISTS, ADD COLUMN IF NOT \
                 EXISTS"
            }
            Code::MissingLockTimeout => {
                "start the file with `SET lock_timeout = '5s';` so a blocked lock fails fast \
                 instead of queueing every query behind it (`reconcile migrate apply` sets one for \
                 you; psql and other runners do not)"
            }
            Code::CannotRunInTransaction => {
                "put the statement in its own file with `-- reconcile:no-transaction` as the \
                 first line, without BEGIN/COMMIT and outside DO blocks"
            }
            Code::TransactionControl => {
                "remove BEGIN/COMMIT (the runner wraps each file in a transaction), or start the \
                 file with `-- reconcile:no-transaction` to manage transactions yourself"
            }
            Code::UnusedAllow => {
                "put the directive directly above (or on the line of) the statement it allows, \
                 with that statement's code, or remove it"
            }
            Code::BadDirective => {
                "write `-- reconcile:allow CODE reason` (a known code and a reason), or \
                 `-- reconcile:no-transaction` before the first statement"
            }
            Code::Revoke => {
                "check that nothing running as the grantee still needs the privilege (the \
                 application, jobs, roles that inherit from it), then allow it with \
                 `-- reconcile:allow D180 <reason>`"
            }
            Code::RevokeDefaultPrivileges => {
                "check what the roles that create objects here expect of new objects, then allow \
                 it with `-- reconcile:allow D183 <reason>`"
            }
            Code::DisableRowLevelSecurity => {
                "keep row-level security on and change the policies instead (a permissive policy \
                 for the role that needs more rows); if it must go, allow it with \
                 `-- reconcile:allow L040 <reason>`"
            }
            Code::AlterPolicy => {
                "compare with the policy's current definition (`\\d+ table` in psql, or \
                 `reconcile plan`, whose H014 hazard says whether access widens) before \
                 allowing it with `-- reconcile:allow L041 <reason>`"
            }
            Code::PolicyAllowsEveryRow => {
                "write the condition that limits the rows (`USING (owner = auth.uid())`); if \
                 every row is meant, say so with `-- reconcile:allow L042 <reason>`"
            }
            Code::DetachPartitionLocks => {
                "`ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY` in a file with \
                 `-- reconcile:no-transaction` (not possible while the table has a default \
                 partition); back up the partition's rows first if they are to go"
            }
            Code::AttachPartitionScans => {
                "first `ADD CONSTRAINT ... CHECK (<the bound>) NOT VALID` on the table and \
                 `VALIDATE CONSTRAINT` it (writes continue), then ATTACH (the scan is skipped), \
                 then drop the check"
            }
            Code::PartitionedIndexConcurrently => {
                "`CREATE INDEX ... ON ONLY parent`, `CREATE INDEX CONCURRENTLY` on each \
                 partition, then `ALTER INDEX parent_index ATTACH PARTITION partition_index` for \
                 each (the parent's index becomes valid once all are attached)"
            }
            Code::SecurityDefinerSearchPath => {
                "add `SET search_path = pg_catalog, pg_temp` (or the schemas it needs, pg_temp \
                 last) and schema-qualify what the body uses"
            }
            Code::RefreshBlocksReads => {
                "`REFRESH MATERIALIZED VIEW CONCURRENTLY` (needs a unique index on the view): \
                 reads continue while it runs"
            }
            Code::DisableTrigger => {
                "keep the trigger and make its function skip what must not happen; if writes \
                 must bypass it, do so in the session (`SET session_replication_role`) and \
                 allow it with `-- reconcile:allow L048 <reason>`"
            }
            Code::ChangeOwner => {
                "check what the previous owner still does with the object and what the new one \
                 may do; create objects as the role that should own them instead"
            }
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_unique_documented_and_parse_back() {
        let docs = include_str!("../../docs/lint.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} used twice");
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert!(
                docs.contains(&format!("| {code} |")),
                "{code} is missing from the table in docs/lint.md"
            );
            assert!(!code.title().is_empty() && !code.help().is_empty());
        }
    }
}
