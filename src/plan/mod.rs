//! Additive changes → an ordered list of executable steps. Pure: no database, no I/O.
//!
//! Each [`Change`] becomes one or more drafts (SQL, transaction shape, locks, hazards) that
//! declare what they *provide* and *require* ([`Key`]s). The keys become edges of a petgraph
//! dependency graph, which [`order`] sorts topologically, breaking ties by a stable key so the
//! same inputs always give the same plan, byte for byte. Only [`Change`]s reach this module —
//! findings have no way in.
//!
//! That is enforced by types, and these examples fail to compile (checked by `cargo test`):
//! a finding cannot be converted into a step,
//!
//! ```compile_fail
//! fn promote(finding: reconcile::diff::Finding) -> reconcile::plan::Step {
//!     finding.into()
//! }
//! ```
//!
//! nor can a step be assembled from arbitrary SQL outside this crate (`Step` is
//! `#[non_exhaustive]`; [`build`] is the only constructor):
//!
//! ```compile_fail
//! use reconcile::plan::{Step, StepKind, Transaction};
//! let step = Step {
//!     number: 1,
//!     kind: StepKind::AddColumn,
//!     object: "column public.t.c".parse().unwrap(),
//!     sql: "ALTER TABLE t DROP COLUMN c".to_owned(),
//!     transaction: Transaction::Grouped,
//!     locks: Vec::new(),
//!     hazards: Vec::new(),
//!     depends_on: Vec::new(),
//! };
//! ```

mod fingerprint;
mod generate;
pub(crate) mod guard;
mod order;
mod partition;
pub(crate) mod refs;

/// Stages of the natural order; dependencies still decide, these only break ties.
pub(crate) mod stage {
    pub const CATALOG: u8 = 0;
    pub const NEW_TABLES: u8 = 1;
    pub const SHORT_LOCKS: u8 = 2;
    pub const INDEX_BUILDS: u8 = 3;
    pub const KEYS: u8 = 4;
    pub const FOREIGN_KEYS: u8 = 5;
    pub const VALIDATIONS: u8 = 6;
    /// Views and what else reads tables: after the tables, columns and keys they read.
    pub const VIEWS: u8 = 7;
    /// Privileges and owners: after the objects they are on.
    pub const PRIVILEGES: u8 = 8;
}
mod step;

pub use fingerprint::fingerprint;
pub(crate) use generate::Builder as StepBuilder;
pub use step::{Hazard, HazardCode, LockLevel, Step, StepKind, TableLock, Transaction};

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Serialize;

use crate::diff::{Change, Diff, Finding};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};

/// What the planner needs to know about the database besides the diff.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The live model the diff was made against.
    pub live: &'a Schema,
    /// `reltuples` per table (-1: never analysed); only used in hazard messages.
    pub estimated_rows: &'a BTreeMap<QualifiedName, f64>,
    /// Build indexes on existing tables with CREATE INDEX CONCURRENTLY (the default).
    pub concurrently: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Never executed; carried so every renderer shows them next to the steps.
    pub findings: Vec<Finding>,
    /// Fingerprint of the live model the plan was made against (see [`fingerprint`]).
    pub fingerprint: String,
}

/// A run of steps that execute together: in one transaction, or alone outside any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// Indexes into [`Plan::steps`].
    pub steps: Range<usize>,
    pub transactional: bool,
}

impl Plan {
    /// Groups steps into transactions: consecutive [`Transaction::Grouped`] steps that lock
    /// the same pre-existing tables share one short transaction (never many tables at once);
    /// [`Transaction::Alone`] steps commit on their own; [`Transaction::Outside`] steps run
    /// outside any transaction.
    pub fn batches(&self) -> Vec<Batch> {
        let mut out: Vec<Batch> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let joins = step.transaction == Transaction::Grouped
                && out.last().is_some_and(|b| {
                    let last = &self.steps[b.steps.end - 1];
                    b.transactional
                        && last.transaction == Transaction::Grouped
                        && locked_tables(last) == locked_tables(step)
                });
            if joins {
                if let Some(b) = out.last_mut() {
                    b.steps.end = i + 1;
                }
            } else {
                out.push(Batch {
                    steps: i..i + 1,
                    transactional: step.transaction != Transaction::Outside,
                });
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

fn locked_tables(step: &Step) -> Vec<&QualifiedName> {
    let mut tables: Vec<&QualifiedName> = step.locks.iter().map(|l| &l.table).collect();
    tables.sort();
    tables.dedup();
    tables
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the desired state has a dependency cycle that no ordering can satisfy: {}",
        objects.join(" → ")
    )]
    Cycle { objects: Vec<String> },
}

/// Something a step creates or changes that other steps may need first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Key {
    Schema(Ident),
    /// Any new extension: types, tables and indexes may use extension types, functions and
    /// operator classes we cannot attribute without the server, so they follow all of them.
    Extensions,
    Type(QualifiedName),
    EnumLabel(QualifiedName, String),
    Sequence(QualifiedName),
    Table(QualifiedName),
    /// Every column added to the table by the plan (an index or check may use any of them).
    NewColumns(QualifiedName),
    /// One column added by the plan (a generated column follows the columns it reads).
    Column(QualifiedName, String),
    /// A primary key or unique constraint/index of the table (what a foreign key needs).
    Keys(QualifiedName),
    Constraint(QualifiedName, Ident),
    /// An index, by its schema-qualified name.
    Index(QualifiedName),
    /// The INVALID leftover of an index is gone.
    InvalidIndexDropped(QualifiedName),
    /// A partitioned table's new index (or key's index) exists `ON ONLY` the table: its
    /// partitions' indexes can be attached to it. [`Key::Index`] of it says it is complete.
    IndexShell(QualifiedName),
    /// Every new index and key of a partitioned table exists on it, so a partition created
    /// now gets them from PostgreSQL.
    PartitionShell(QualifiedName),
    /// The constraints added NOT VALID to the table are validated.
    Validated(QualifiedName),
    /// The sequences the plan attaches to the table's columns (`OWNED BY`) are attached.
    OwnedSequences(QualifiedName),
    /// Every function, procedure and aggregate of this name (an expression names a function,
    /// not one of its overloads).
    Function(QualifiedName),
    /// One function, procedure or aggregate, by name and argument types (what pg_depend
    /// records).
    Routine(QualifiedName, Vec<String>),
    /// An object of a registered kind exists (a policy, say): what needs it by name — its
    /// comment — follows the step that creates it.
    Object(ObjectId),
    /// Every policy the plan creates on the table: row-level security is switched on after
    /// them, so the table is never left denying every row in between.
    Policies(QualifiedName),
}

type SortKey = (u8, String, StepKind, usize, String);

/// A step before ordering.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    kind: StepKind,
    object: ObjectId,
    pub(crate) sql: String,
    transaction: Transaction,
    locks: Vec<TableLock>,
    hazards: Vec<Hazard>,
    provides: Vec<Key>,
    requires: Vec<Key>,
    index: Option<QualifiedName>,
    /// A replace step's statement that restores what it replaces.
    pub(crate) previous: Option<String>,
    /// Tie-break for the ordering: stage, then table, then kind, then the change's position
    /// in the diff (which follows the desired state: columns in declared order), then object.
    sort_key: SortKey,
}

impl Draft {
    #[cfg(test)]
    pub(crate) fn kind(&self) -> StepKind {
        self.kind
    }
}

/// What the planner may additionally know about the database and the desired state.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Schema-qualified names of INVALID indexes left by failed concurrent builds. A planned
    /// index of that name is dropped concurrently first — the one DROP reconcile runs, a
    /// step kind of its own with hazard H009 — since `IF NOT EXISTS` would skip it forever.
    pub invalid_indexes: BTreeSet<QualifiedName>,
    /// Objects the scratch server could not build, by the object name steps carry, with the
    /// server's message (see [`crate::canon::Canonical::unverified`]). Their steps turn an
    /// error into a WARNING (hazard H012), so one object that needs something reconcile does
    /// not manage cannot stop the rest of the plan.
    pub unverified: BTreeMap<ObjectId, String>,
    /// The fingerprint of the live model as read, when [`Context::live`] is no longer that
    /// model (`plan` aligns it in place, see [`crate::canon::align_live`]); without it the
    /// fingerprint is taken of `Context::live`.
    pub live_fingerprint: Option<String>,
}

/// Builds the ordered plan for `diff`'s additive changes.
pub fn build(diff: &Diff, context: &Context) -> Result<Plan, PlanError> {
    build_with(diff, context, &Extras::default())
}

/// [`build`] with what else is known about the database (see [`Extras`]).
pub fn build_with(diff: &Diff, context: &Context, extras: &Extras) -> Result<Plan, PlanError> {
    let mut drafts = generate::drafts(&diff.additive, context);
    generate::forget_locks_on_new_tables(&mut drafts);
    generate::rebuild_invalid(&mut drafts, &extras.invalid_indexes);
    generate::tolerate_unverified(&mut drafts, &extras.unverified);
    let steps = order::order(drafts)?;
    Ok(Plan {
        steps,
        findings: diff.findings.clone(),
        fingerprint: extras
            .live_fingerprint
            .clone()
            .unwrap_or_else(|| fingerprint(context.live)),
    })
}

/// The additive changes alone, for callers that plan a single change (tests, docs).
pub fn build_changes(changes: &[Change], context: &Context) -> Result<Vec<Step>, PlanError> {
    let mut drafts = generate::drafts(changes, context);
    generate::forget_locks_on_new_tables(&mut drafts);
    order::order(drafts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CompositeAttribute, CompositeType};

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new(Ident::new("public").unwrap(), Ident::new(n).unwrap())
    }

    fn composite(n: &str, attribute_type: &str) -> Change {
        Change::Create(crate::kinds::Created::Composite(
            name(n),
            CompositeType {
                attributes: vec![CompositeAttribute {
                    name: Ident::new("x").unwrap(),
                    data_type: attribute_type.to_owned(),
                    collation: None,
                }],
            },
        ))
    }

    #[test]
    fn an_unbreakable_cycle_is_an_error_naming_its_objects() {
        let live = Schema::default();
        let rows = BTreeMap::new();
        let context = Context {
            live: &live,
            estimated_rows: &rows,
            concurrently: true,
        };
        let changes = [
            composite("a", "b"),
            composite("b", "a"),
            composite("c", "integer"),
        ];
        let err = build_changes(&changes, &context).unwrap_err();
        assert_eq!(
            err,
            PlanError::Cycle {
                objects: vec!["type public.a".to_owned(), "type public.b".to_owned()]
            }
        );
        assert!(
            err.to_string().contains("type public.a → type public.b"),
            "{err}"
        );
    }

    #[test]
    fn a_type_precedes_the_type_that_uses_it_whatever_the_input_order() {
        let live = Schema::default();
        let rows = BTreeMap::new();
        let context = Context {
            live: &live,
            estimated_rows: &rows,
            concurrently: true,
        };
        let changes = [composite("a", "zz[]"), composite("zz", "integer")];
        let steps = build_changes(&changes, &context).unwrap();
        let objects: Vec<String> = steps.iter().map(|s| s.object.to_string()).collect();
        assert_eq!(objects, ["type public.zz", "type public.a"]);
        assert_eq!(steps[1].depends_on, [1]);
    }
}
