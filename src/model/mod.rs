//! The one schema model that both producers fill: the YAML loader (desired state) and the
//! catalog introspector (live state).
//!
//! Everything is keyed by name in sorted maps, so two models compare with `==`, iterate in a
//! stable order and render deterministically. Types and expressions are kept as the text
//! PostgreSQL itself prints (`format_type`, `pg_get_expr` under `search_path = public`);
//! [`crate::normalise`] and [`crate::canon`] bring user-written text to that form.

mod object_id;
mod sequence;

use std::collections::{BTreeMap, BTreeSet};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub use crate::ident::{Ident, QualifiedName};
pub use crate::kinds::aggregate::Aggregate;
pub use crate::kinds::composite::{CompositeAttribute, CompositeType};
pub use crate::kinds::default_privilege::{DefaultGrant, DefaultKey};
pub use crate::kinds::domain::Domain;
pub use crate::kinds::function::{Function, Routine, RoutineKind, Uses};
pub use crate::kinds::grant::{Grant, GrantKey};
pub use crate::kinds::materialized_view::MaterializedView;
pub use crate::kinds::owner::Owner;
pub use crate::kinds::policy::{Policy, PolicyCommand, PolicyKey};
pub use crate::kinds::privilege::{Grantee, Origins, Privilege, Securable};
pub use crate::kinds::sequence::Sequence;
pub use crate::kinds::trigger::{Firing, Trigger, TriggerKey};
pub use crate::kinds::view::View;
pub use object_id::{ObjectId, ParseObjectIdError};
pub use sequence::{SequenceOptions, SequenceType};

/// A whole database (or the part of it reconcile manages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Schemas (namespaces) that must exist.
    pub schemas: BTreeSet<Ident>,
    pub extensions: BTreeMap<Ident, Extension>,
    pub enums: BTreeMap<QualifiedName, EnumType>,
    pub domains: BTreeMap<QualifiedName, Domain>,
    /// Composite types (`CREATE TYPE t AS (...)`).
    pub composites: BTreeMap<QualifiedName, CompositeType>,
    /// Standalone sequences, including those OWNED BY a column (serial and pg_dump style);
    /// identity sequences belong to their column instead.
    pub sequences: BTreeMap<QualifiedName, Sequence>,
    pub tables: BTreeMap<QualifiedName, Table>,
    /// Views, declared in `.sql` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<QualifiedName, View>,
    /// Materialized views with their indexes, declared in `.sql` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub materialized_views: BTreeMap<QualifiedName, MaterializedView>,
    /// Triggers (on tables and views), declared in `.sql` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub triggers: BTreeMap<TriggerKey, Trigger>,
    /// Privileges beyond PostgreSQL's defaults, one per (object, grantee, privilege).
    /// (Empty maps are left out of the JSON: models without privileges serialize, and
    /// fingerprint, as they did before there were any.)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grants: BTreeMap<GrantKey, Grant>,
    /// `ALTER DEFAULT PRIVILEGES ... IN SCHEMA`, one per (role, schema, kind, grantee,
    /// privilege).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub default_privileges: BTreeMap<DefaultKey, DefaultGrant>,
    /// Owners: all of them when read from a database; in a desired state, those it names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<ObjectId, Owner>,
    /// Where a desired state names the roles and routines it needs the database to have (not
    /// part of the model's value: see [`Origins`]).
    #[serde(skip)]
    pub origins: Origins,
    /// Functions and procedures, declared in `.sql` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub functions: BTreeMap<Routine, Function>,
    /// Aggregates, declared in `.sql` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aggregates: BTreeMap<Routine, Aggregate>,
    /// Row-level security policies, by table and name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<PolicyKey, Policy>,
    /// Comments (`COMMENT ON`), by the object they are on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub comments: BTreeMap<ObjectId, String>,
}

impl Schema {
    /// The partitions of each partitioned table, in name order. A partition that is its own
    /// ancestor is left out: no catalog has such a cycle, but a model built by hand (or by a
    /// test's generator) may, and every walk down the tree would recurse without end.
    pub fn partition_children(&self) -> BTreeMap<&QualifiedName, Vec<&QualifiedName>> {
        let mut children: BTreeMap<&QualifiedName, Vec<&QualifiedName>> = BTreeMap::new();
        for (name, table) in &self.tables {
            if let Some(p) = &table.partition_of
                && !self.own_ancestor(name)
            {
                children.entry(&p.parent).or_default().push(name);
            }
        }
        children
    }

    fn own_ancestor(&self, table: &QualifiedName) -> bool {
        let mut seen = BTreeSet::new();
        let mut next = Some(table);
        while let Some(name) = next {
            if !seen.insert(name) {
                return name == table;
            }
            next = self
                .tables
                .get(name)
                .and_then(|t| t.partition_of.as_ref())
                .map(|p| &p.parent);
        }
        false
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The schema the extension's objects live in.
    pub schema: Ident,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    /// Labels in sort order (the order matters to PostgreSQL).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// In attribute order; the order is part of the table's shape.
    pub columns: Vec<Column>,
    pub constraints: BTreeMap<Ident, Constraint>,
    /// Indexes that do not back a constraint (those belong to their constraint).
    pub indexes: BTreeMap<Ident, Index>,
    pub row_level_security: bool,
    pub force_row_level_security: bool,
    /// A partitioned table's `PARTITION BY` clause as `pg_get_partkeydef` prints it
    /// (`RANGE (payment_date)`); `None` for a table that is not partitioned.
    // Left out of JSON when absent: plans and fingerprints of unpartitioned schemas read as
    // before partitions were modelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// A partition's parent and bound. Its columns are the parent's (PostgreSQL keeps a copy
    /// in the partition's catalog rows, and so does the model); only where a partition's
    /// column differs from its parent's — its own default, an added NOT NULL — does the
    /// desired state say so (see [`Table::inherited_column`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<Box<PartitionOf>>,
}

/// Where a partition sits: the partitioned table it belongs to and the rows it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    /// `FOR VALUES ...` or `DEFAULT`, as `pg_get_expr(relpartbound)` prints it.
    pub bound: String,
}

impl PartitionOf {
    pub fn is_default(&self) -> bool {
        self.bound.eq_ignore_ascii_case("DEFAULT")
    }
}

impl Table {
    /// The column a new partition gets for its parent's `column`: everything but the
    /// identity, which PostgreSQL 15 does not give partitions (their rows are numbered by the
    /// parent's sequence when inserted through the parent).
    pub fn inherited_column(column: &Column) -> Column {
        column.clone().with_identity(None)
    }

    pub fn is_partitioned(&self) -> bool {
        self.partition_by.is_some()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name.as_str() == name)
    }

    /// [`Self::column`], looking first at `position`: a table compared with another copy of
    /// itself nearly always lists its columns in the same order, and a search per column
    /// makes comparing two tables quadratic in their width.
    pub fn column_near(&self, name: &str, position: usize) -> Option<&Column> {
        match self.columns.get(position) {
            Some(c) if c.name.as_str() == name => Some(c),
            _ => self.column(name),
        }
    }

    pub fn primary_key(&self) -> Option<(&Ident, &Constraint)> {
        self.constraints
            .iter()
            .find(|(_, c)| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "ColumnForm")]
pub struct Column {
    pub name: Ident,
    /// Canonical type text, e.g. `character varying(255)`, `integer[]`, `lead_status`:
    /// inline up to 24 bytes (nearly every type), no allocation for each of ~450,000 columns.
    pub data_type: CompactString,
    pub not_null: bool,
    pub default: Option<String>,
    /// The identity, generation expression and collation, which few columns have, in one box
    /// that only they allocate: inline, the three made every column 136 bytes instead of 88
    /// (the models of 10,000 tables hold 450,000 columns). `None` whenever all three are.
    rare: Option<Box<RareParts>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RareParts {
    identity: Option<Identity>,
    /// Expression of a `GENERATED ALWAYS AS (...) STORED` column.
    generated: Option<String>,
    /// Only when it differs from the type's default collation.
    collation: Option<String>,
}

impl Column {
    pub fn new(name: Ident, data_type: impl Into<CompactString>) -> Self {
        Self {
            name,
            data_type: data_type.into(),
            not_null: false,
            default: None,
            rare: None,
        }
    }

    /// A copy of `self` named `name`.
    pub fn renamed(&self, name: Ident) -> Self {
        Self {
            name,
            ..self.clone()
        }
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.rare.as_ref()?.identity.as_ref()
    }

    /// Expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub fn generated(&self) -> Option<&str> {
        self.rare.as_ref()?.generated.as_deref()
    }

    /// Only when it differs from the type's default collation.
    pub fn collation(&self) -> Option<&str> {
        self.rare.as_ref()?.collation.as_deref()
    }

    pub fn set_identity(&mut self, identity: Option<Identity>) {
        self.change_rare(|rare| rare.identity = identity);
    }

    pub fn set_generated(&mut self, generated: Option<String>) {
        self.change_rare(|rare| rare.generated = generated);
    }

    pub fn set_collation(&mut self, collation: Option<String>) {
        self.change_rare(|rare| rare.collation = collation);
    }

    pub fn take_generated(&mut self) -> Option<String> {
        let mut taken = None;
        self.change_rare(|rare| taken = rare.generated.take());
        taken
    }

    /// `self` with `identity`, for building columns in one expression.
    pub fn with_identity(mut self, identity: Option<Identity>) -> Self {
        self.set_identity(identity);
        self
    }

    pub fn with_generated(mut self, generated: Option<String>) -> Self {
        self.set_generated(generated);
        self
    }

    pub fn with_collation(mut self, collation: Option<String>) -> Self {
        self.set_collation(collation);
        self
    }

    /// Changes the rare parts, keeping `rare` `None` when all of them are, so that equal
    /// columns compare equal.
    fn change_rare(&mut self, change: impl FnOnce(&mut RareParts)) {
        let mut rare = self.rare.take().unwrap_or_default();
        change(&mut rare);
        if *rare != RareParts::default() {
            self.rare = Some(rare);
        }
    }
}

/// A column as JSON has it (plan files, `--format json`): every part by name, as when the
/// rare parts were fields of their own.
#[derive(Serialize)]
struct ColumnJson<'a> {
    name: &'a Ident,
    data_type: &'a CompactString,
    not_null: bool,
    default: &'a Option<String>,
    identity: Option<&'a Identity>,
    generated: Option<&'a str>,
    collation: Option<&'a str>,
}

impl Serialize for Column {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ColumnJson {
            name: &self.name,
            data_type: &self.data_type,
            not_null: self.not_null,
            default: &self.default,
            identity: self.identity(),
            generated: self.generated(),
            collation: self.collation(),
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
struct ColumnForm {
    name: Ident,
    data_type: CompactString,
    not_null: bool,
    default: Option<String>,
    identity: Option<Identity>,
    generated: Option<String>,
    collation: Option<String>,
}

impl From<ColumnForm> for Column {
    fn from(form: ColumnForm) -> Self {
        Column {
            not_null: form.not_null,
            default: form.default,
            ..Column::new(form.name, form.data_type)
        }
        .with_identity(form.identity)
        .with_generated(form.generated)
        .with_collation(form.collation)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub always: bool,
    pub options: SequenceOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintKind {
    PrimaryKey {
        columns: Vec<Ident>,
        include: Vec<Ident>,
    },
    Unique {
        columns: Vec<Ident>,
        include: Vec<Ident>,
        nulls_not_distinct: bool,
    },
    Check {
        expression: String,
        no_inherit: bool,
    },
    ForeignKey(ForeignKey),
    /// Kept verbatim (`EXCLUDE USING gist (...)`) so it round-trips; not planned yet.
    Exclusion {
        definition: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub columns: Vec<Ident>,
    pub references: QualifiedName,
    pub referenced_columns: Vec<Ident>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    pub match_full: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// The YAML spelling.
    pub fn keyword(self) -> &'static str {
        match self {
            FkAction::NoAction => "no_action",
            FkAction::Restrict => "restrict",
            FkAction::Cascade => "cascade",
            FkAction::SetNull => "set_null",
            FkAction::SetDefault => "set_default",
        }
    }

    pub const ALL: [FkAction; 5] = [
        FkAction::NoAction,
        FkAction::Restrict,
        FkAction::Cascade,
        FkAction::SetNull,
        FkAction::SetDefault,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub unique: bool,
    /// Access method: btree, gin, gist, hash, brin, spgist, or an extension's.
    pub method: String,
    pub keys: Vec<IndexKey>,
    pub include: Vec<Ident>,
    pub predicate: Option<String>,
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    pub target: IndexTarget,
    /// Only when not the default operator class for the type and method.
    pub opclass: Option<String>,
    /// Only when it differs from the column's collation.
    pub collation: Option<String>,
    pub descending: bool,
    /// Effective NULLS FIRST (the default is NULLS FIRST for DESC, NULLS LAST for ASC).
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexTarget {
    Column(Ident),
    Expression(String),
}

/// True when the only differences between the names of the two models' objects are absent —
/// used in tests and by callers that want a quick "same shape" answer.
pub fn object_count(schema: &Schema) -> usize {
    schema.schemas.len()
        + schema.extensions.len()
        + schema.enums.len()
        + schema.domains.len()
        + schema.composites.len()
        + schema.sequences.len()
        + schema.views.len()
        + schema.policies.len()
        + schema.comments.len()
        + schema
            .tables
            .values()
            .map(|t| 1 + t.columns.len() + t.constraints.len() + t.indexes.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::{Column, Ident, Table};

    #[test]
    fn column_near_finds_a_column_wherever_it_is() {
        let table = Table {
            columns: ["a", "b", "c"]
                .iter()
                .map(|n| Column::new(Ident::new(*n).expect("valid name"), "text"))
                .collect(),
            ..Table::default()
        };
        let found = |name: &str, position: usize| {
            table
                .column_near(name, position)
                .map(|c| c.name.as_str().to_owned())
        };
        assert_eq!(found("b", 1).as_deref(), Some("b"));
        assert_eq!(found("b", 0).as_deref(), Some("b"));
        assert_eq!(found("c", 7).as_deref(), Some("c"));
        assert_eq!(found("d", 0), None);
        assert_eq!(found("d", 9), None);
    }

    fn identity() -> super::Identity {
        super::Identity {
            always: true,
            options: super::SequenceOptions::defaults(super::SequenceType::Bigint, 1),
        }
    }

    /// The models of 10,000 tables hold ~450,000 columns: what few of them have stays out of
    /// line (issue 13).
    #[test]
    fn a_column_keeps_its_rare_parts_out_of_line() {
        assert!(
            std::mem::size_of::<Column>() <= 88,
            "Column is {} bytes",
            std::mem::size_of::<Column>()
        );
    }

    #[test]
    fn a_column_whose_rare_parts_are_unset_equals_one_that_never_had_them() {
        let plain = Column::new(Ident::new("id").expect("valid name"), "bigint");
        let mut changed = plain.clone();
        changed.set_identity(Some(identity()));
        changed.set_generated(Some("(1 + 1)".to_owned()));
        changed.set_collation(Some("\"C\"".to_owned()));
        assert_ne!(changed, plain);
        assert_eq!(changed.identity(), Some(&identity()));
        assert_eq!(changed.generated(), Some("(1 + 1)"));
        assert_eq!(changed.collation(), Some("\"C\""));
        changed.set_identity(None);
        assert_ne!(changed, plain);
        assert_eq!(changed.take_generated().as_deref(), Some("(1 + 1)"));
        changed = changed.with_collation(None);
        assert_eq!(changed, plain);
    }

    /// Plan files and `--format json` name every part of a column, as when the rare ones
    /// were fields of their own; both forms read back to the same column.
    #[test]
    fn a_column_in_json_names_every_part_and_reads_back() {
        let plain = Column::new(Ident::new("id").expect("valid name"), "bigint");
        assert_eq!(
            serde_json::to_string(&plain).expect("serialises"),
            r#"{"name":"id","data_type":"bigint","not_null":false,"default":null,"identity":null,"generated":null,"collation":null}"#
        );
        let rich = plain
            .with_identity(Some(identity()))
            .with_collation(Some("\"C\"".to_owned()));
        let json = serde_json::to_string(&rich).expect("serialises");
        assert!(json.contains(r#""collation":"\"C\"""#), "{json}");
        let back: Column = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, rich);
    }
}
