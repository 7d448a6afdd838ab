//! Differences reconcile reports and never executes.
//!
//! Each has a stable code (CI allows or denies by code, so codes are never reused), a
//! severity, and — where one exists — the SQL a human *could* run, as [`Suggestion`]: plain
//! text that nothing in the crate executes or turns into a plan step.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::ObjectId;

/// How bad acting on (or ignoring) the difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Resolving it by hand loses data (dropping a column, narrowing a type, ...).
    Destructive,
    /// Resolving it changes behaviour, takes strong locks, or may fail on existing rows.
    Risky,
    /// No effect on data or behaviour (e.g. the same index under another name).
    Cosmetic,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Destructive => "destructive",
            Severity::Risky => "risky",
            Severity::Cosmetic => "cosmetic",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable finding codes. The number is the contract; the name documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    ExtraTable,
    ExtraColumn,
    ExtraIndex,
    ExtraConstraint,
    ExtraEnumValue,
    ExtraType,
    ExtraSequence,
    ExtraExtension,
    ExtraSchema,
    ColumnType,
    Nullability,
    ColumnDefault,
    Identity,
    Generated,
    ColumnCollation,
    IndexDefinition,
    ConstraintDefinition,
    EnumOrder,
    DomainDefinition,
    CompositeDefinition,
    SequenceDefinition,
    ExtensionSchema,
    UnmanagedTable,
    PartitionKey,
    PartitionBound,
    PartitionMembership,
    ExtraPartition,
    RowLevelSecurityDisabled,
    ForceRowLevelSecurityDisabled,
    PossibleRename,
    ConstraintNamedDifferently,
    IndexNamedDifferently,
    ExtraView,
    ViewDefinition,
    NameTaken,
    ExtraTrigger,
    TriggerDefinition,
    ExtraMaterializedView,
    MaterializedViewDefinition,
    ExtraGrant,
    GrantOption,
    RevokedDefault,
    ExtraDefaultPrivilege,
    Owner,
    ExtraFunction,
    FunctionDefinition,
    ExtraAggregate,
    AggregateDefinition,
    ExtraPolicy,
    PolicyDefinition,
    Comment,
}

impl Code {
    pub const ALL: [Code; 51] = [
        Code::ExtraTable,
        Code::ExtraColumn,
        Code::ExtraIndex,
        Code::ExtraConstraint,
        Code::ExtraEnumValue,
        Code::ExtraType,
        Code::ExtraSequence,
        Code::ExtraExtension,
        Code::ExtraSchema,
        Code::ColumnType,
        Code::Nullability,
        Code::ColumnDefault,
        Code::Identity,
        Code::Generated,
        Code::ColumnCollation,
        Code::IndexDefinition,
        Code::ConstraintDefinition,
        Code::EnumOrder,
        Code::DomainDefinition,
        Code::CompositeDefinition,
        Code::SequenceDefinition,
        Code::ExtensionSchema,
        Code::UnmanagedTable,
        Code::PartitionKey,
        Code::PartitionBound,
        Code::PartitionMembership,
        Code::ExtraPartition,
        Code::RowLevelSecurityDisabled,
        Code::ForceRowLevelSecurityDisabled,
        Code::PossibleRename,
        Code::ConstraintNamedDifferently,
        Code::IndexNamedDifferently,
        Code::ExtraView,
        Code::ViewDefinition,
        Code::NameTaken,
        Code::ExtraTrigger,
        Code::TriggerDefinition,
        Code::ExtraMaterializedView,
        Code::MaterializedViewDefinition,
        Code::ExtraGrant,
        Code::GrantOption,
        Code::RevokedDefault,
        Code::ExtraDefaultPrivilege,
        Code::Owner,
        Code::ExtraFunction,
        Code::FunctionDefinition,
        Code::ExtraAggregate,
        Code::AggregateDefinition,
        Code::ExtraPolicy,
        Code::PolicyDefinition,
        Code::Comment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::ExtraTable => "D100",
            Code::ExtraColumn => "D101",
            Code::ExtraIndex => "D102",
            Code::ExtraConstraint => "D103",
            Code::ExtraEnumValue => "D104",
            Code::ExtraType => "D105",
            Code::ExtraSequence => "D106",
            Code::ExtraExtension => "D107",
            Code::ExtraSchema => "D108",
            Code::ColumnType => "D110",
            Code::Nullability => "D111",
            Code::ColumnDefault => "D112",
            Code::Identity => "D113",
            Code::Generated => "D114",
            Code::ColumnCollation => "D115",
            Code::IndexDefinition => "D120",
            Code::ConstraintDefinition => "D121",
            Code::EnumOrder => "D130",
            Code::DomainDefinition => "D131",
            Code::CompositeDefinition => "D132",
            Code::SequenceDefinition => "D133",
            Code::ExtensionSchema => "D134",
            Code::UnmanagedTable => "D135",
            Code::PartitionKey => "D170",
            Code::PartitionBound => "D171",
            Code::PartitionMembership => "D172",
            Code::ExtraPartition => "D173",
            Code::RowLevelSecurityDisabled => "D140",
            Code::ForceRowLevelSecurityDisabled => "D141",
            Code::PossibleRename => "D150",
            Code::ConstraintNamedDifferently => "D151",
            Code::IndexNamedDifferently => "D152",
            Code::ExtraView => "D160",
            Code::ViewDefinition => "D161",
            Code::NameTaken => "D136",
            Code::ExtraTrigger => "D166",
            Code::TriggerDefinition => "D167",
            Code::ExtraMaterializedView => "D168",
            Code::MaterializedViewDefinition => "D169",
            Code::ExtraGrant => "D180",
            Code::GrantOption => "D181",
            Code::RevokedDefault => "D182",
            Code::ExtraDefaultPrivilege => "D183",
            Code::Owner => "D184",
            Code::ExtraFunction => "D162",
            Code::FunctionDefinition => "D163",
            Code::ExtraAggregate => "D164",
            Code::AggregateDefinition => "D165",
            Code::ExtraPolicy => "D142",
            Code::PolicyDefinition => "D143",
            Code::Comment => "D145",
        }
    }

    /// One line for documentation and `--help`-style listings.
    pub fn title(self) -> &'static str {
        match self {
            Code::ExtraTable => "table in the database, not in the desired state",
            Code::ExtraColumn => "column in the database, not in the desired state",
            Code::ExtraIndex => "index in the database, not in the desired state",
            Code::ExtraConstraint => "constraint in the database, not in the desired state",
            Code::ExtraEnumValue => "enum label in the database, not in the desired state",
            Code::ExtraType => "type or domain in the database, not in the desired state",
            Code::ExtraSequence => "sequence in the database, not in the desired state",
            Code::ExtraExtension => "extension in the database, not in the desired state",
            Code::ExtraSchema => {
                "schema in the database that the desired state does not describe and nothing \
                 ignores"
            }
            Code::ColumnType => "column type differs",
            Code::Nullability => "column nullability differs",
            Code::ColumnDefault => "column default differs",
            Code::Identity => "identity differs",
            Code::Generated => "generated expression differs",
            Code::ColumnCollation => "column collation differs",
            Code::IndexDefinition => "index definition differs under the same name",
            Code::ConstraintDefinition => "constraint definition differs under the same name",
            Code::EnumOrder => "enum labels in a different order",
            Code::DomainDefinition => "domain definition differs",
            Code::CompositeDefinition => "composite type definition differs",
            Code::SequenceDefinition => "sequence options or ownership differ",
            Code::ExtensionSchema => "extension installed in another schema",
            Code::UnmanagedTable => {
                "the table exists in a form reconcile does not manage (an inheritance child, or \
                 a partition of a table outside the schemas read)"
            }
            Code::PartitionKey => "partitioning differs (the key, or partitioned or not)",
            Code::PartitionBound => "partition bound differs",
            Code::PartitionMembership => {
                "a partition of another table, or a partition in one state and a table of its \
                 own in the other"
            }
            Code::ExtraPartition => "partition in the database, not in the desired state",
            Code::RowLevelSecurityDisabled => {
                "row-level security enabled in the database, disabled in the desired state"
            }
            Code::ForceRowLevelSecurityDisabled => {
                "FORCE row-level security in the database, not in the desired state"
            }
            Code::PossibleRename => "missing column next to an extra one of the same type",
            Code::ConstraintNamedDifferently => "the same constraint exists under another name",
            Code::IndexNamedDifferently => "the same index exists under another name",
            Code::ExtraView => "view in the database, not in the desired state",
            Code::NameTaken => {
                "the desired object's name is taken by another kind of relation (or routine) in \
                 the database"
            }
            Code::ViewDefinition => {
                "view definition differs in a way CREATE OR REPLACE VIEW cannot apply"
            }
            Code::ExtraTrigger => "trigger in the database, not in the desired state",
            Code::TriggerDefinition => {
                "trigger definition differs in a way CREATE OR REPLACE TRIGGER cannot apply"
            }
            Code::ExtraMaterializedView => {
                "materialized view in the database, not in the desired state"
            }
            Code::MaterializedViewDefinition => "materialized view definition differs",
            Code::ExtraGrant => "privilege granted in the database, not in the desired state",
            Code::GrantOption => "grant option held in the database, not in the desired state",
            Code::RevokedDefault => {
                "a privilege PUBLIC has by default is revoked in the database, not in the \
                 desired state"
            }
            Code::ExtraDefaultPrivilege => {
                "default privilege in the database, not in the desired state"
            }
            Code::Owner => "owner differs from the one the desired state names",
            Code::ExtraFunction => {
                "function or procedure in the database, not in the desired state"
            }
            Code::FunctionDefinition => {
                "function or procedure definition differs in a way CREATE OR REPLACE cannot apply"
            }
            Code::ExtraAggregate => "aggregate in the database, not in the desired state",
            Code::AggregateDefinition => {
                "aggregate definition differs in a way CREATE OR REPLACE AGGREGATE cannot apply"
            }
            Code::ExtraPolicy => {
                "row-level security policy in the database, not in the desired state"
            }
            Code::PolicyDefinition => {
                "policy differs in a way ALTER POLICY cannot apply (its command, PERMISSIVE or \
                 RESTRICTIVE, or a USING / WITH CHECK clause removed)"
            }
            Code::Comment => {
                "comment in the database that the desired state does not have (or, with \
                 --no-replace, has differently)"
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
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Code::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {text}")))
    }
}

/// SQL a human could run to resolve a finding. Text for reading only: nothing in reconcile
/// executes it, and no conversion to a plan step exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Suggestion(String);

impl Suggestion {
    pub fn new(sql: impl Into<String>) -> Self {
        Self(sql.into())
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// e.g. `column public.leads.score`.
    pub object: ObjectId,
    pub message: String,
    pub suggestion: Option<Suggestion>,
}

impl Finding {
    pub fn new(
        code: Code,
        severity: Severity,
        object: ObjectId,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity,
            object,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn suggest(mut self, sql: impl Into<String>) -> Self {
        self.suggestion = Some(Suggestion::new(sql));
        self
    }

    /// Stable order for output: by the object's name as printed, then code.
    pub(crate) fn sort_key(&self) -> (String, Code, String) {
        (self.object.to_string(), self.code, self.message.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_unique_and_documented() {
        let docs = include_str!("../../docs/plan.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{} used twice", code.as_str());
            assert!(
                docs.contains(&format!("| {} |", code.as_str())),
                "{} is missing from docs/plan.md",
                code.as_str()
            );
        }
    }
}
