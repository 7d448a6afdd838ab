//! One generator per change kind: the SQL of its step(s), their transaction shape, locks,
//! hazards, and the keys they provide and require.

use super::guard;
use super::partition::{self, Trees};
use super::refs;
use super::step::{Hazard, HazardCode, LockLevel, StepKind, TableLock, Transaction};
use super::{Context, Draft, Key};
use crate::ddl;
use crate::diff::{Change, EnumPosition};
use crate::ident::quote_literal;
use crate::model::{
    Column, Constraint, ConstraintKind, Ident, Index, IndexKey, IndexTarget, ObjectId,
    QualifiedName, Table,
};

use super::stage::{
    CATALOG, FOREIGN_KEYS, INDEX_BUILDS, KEYS, NEW_TABLES, SHORT_LOCKS, VALIDATIONS,
};

pub(super) fn drafts(changes: &[Change], context: &Context) -> Vec<Draft> {
    let mut out = Vec::with_capacity(changes.len());
    // The live partition trees, read only when a change concerns partitions.
    let trees = std::cell::OnceCell::new();
    for (position, change) in changes.iter().enumerate() {
        let first = out.len();
        generate(change, context, &trees, &mut out);
        for draft in &mut out[first..] {
            draft.sort_key.3 = position;
        }
    }
    out
}

/// Builds one draft step: SQL, transaction shape, locks, hazards, and the keys it provides
/// and requires.
pub(crate) struct Builder {
    draft: Draft,
}

impl Builder {
    pub(crate) fn new(
        kind: StepKind,
        stage: u8,
        table: Option<&QualifiedName>,
        object: ObjectId,
    ) -> Self {
        let table_key = table.map(QualifiedName::quoted).unwrap_or_default();
        Self {
            draft: Draft {
                kind,
                sort_key: (stage, table_key, kind, 0, object.to_string()),
                object,
                sql: String::new(),
                transaction: Transaction::Grouped,
                locks: Vec::new(),
                hazards: Vec::new(),
                provides: Vec::new(),
                requires: Vec::new(),
                index: None,
                previous: None,
            },
        }
    }

    pub(crate) fn sql(mut self, sql: String) -> Self {
        self.draft.sql = sql;
        self
    }

    pub(crate) fn transaction(mut self, t: Transaction) -> Self {
        self.draft.transaction = t;
        self
    }

    pub(crate) fn lock(mut self, table: &QualifiedName, level: LockLevel) -> Self {
        self.draft.locks.push(TableLock {
            table: table.clone(),
            level,
        });
        self
    }

    pub(crate) fn hazard(mut self, code: HazardCode, message: String) -> Self {
        self.draft.hazards.push(Hazard { code, message });
        self
    }

    pub(crate) fn provides(mut self, key: Key) -> Self {
        self.draft.provides.push(key);
        self
    }

    pub(crate) fn requires(mut self, key: Key) -> Self {
        self.draft.requires.push(key);
        self
    }

    /// The statement that puts back what a replace step replaces (for rollback guides).
    pub(crate) fn previous(mut self, sql: String) -> Self {
        self.draft.previous = Some(sql);
        self
    }

    pub(crate) fn index(mut self, name: QualifiedName) -> Self {
        self.draft.index = Some(name);
        self
    }

    pub(crate) fn requires_all(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.draft.requires.extend(keys);
        self
    }

    pub(crate) fn push(self, out: &mut Vec<Draft>) {
        out.push(self.draft);
    }
}

/// `~1,234 rows`, or why there is no number.
pub(super) fn rows(context: &Context, table: &QualifiedName) -> String {
    match context.estimated_rows.get(table) {
        Some(n) if *n >= 0.0 => {
            let n = n.round() as u64;
            let digits = n.to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            format!("table has ~{grouped} rows")
        }
        _ => "row count unknown (table never analysed)".to_owned(),
    }
}

fn may_have_rows(context: &Context, table: &QualifiedName) -> bool {
    context.estimated_rows.get(table).is_none_or(|n| *n != 0.0)
}

fn access_exclusive(table: &QualifiedName) -> String {
    format!(
        "takes an ACCESS EXCLUSIVE lock on {table} (briefly, but it queues behind running \
         queries and blocks everything queued after it)"
    )
}

/// Keys for the user types and sequences a column needs first.
fn column_requirements(column: &Column) -> Vec<Key> {
    let mut keys = Vec::new();
    if let Some(t) = refs::type_name(&column.data_type) {
        keys.push(Key::Type(t));
    }
    for expression in column
        .default
        .as_deref()
        .into_iter()
        .chain(column.generated())
    {
        keys.extend(refs::sequences(expression).into_iter().map(Key::Sequence));
        keys.extend(refs::functions(expression).into_iter().map(Key::Function));
    }
    keys
}

/// Keys for the functions a constraint or index calls (they must exist first).
fn function_requirements<'a>(expressions: impl IntoIterator<Item = &'a str>) -> Vec<Key> {
    expressions
        .into_iter()
        .flat_map(refs::functions)
        .map(Key::Function)
        .collect()
}

fn table_requirements(name: &QualifiedName, table: &Table) -> Vec<Key> {
    let mut keys = vec![Key::Schema(name.schema.clone()), Key::Extensions];
    for column in &table.columns {
        keys.extend(column_requirements(column));
    }
    keys
}

fn generate<'c>(
    change: &Change,
    context: &Context<'c>,
    trees: &std::cell::OnceCell<Trees<'c>>,
    out: &mut Vec<Draft>,
) {
    let object = change.object();
    let trees = || trees.get_or_init(|| Trees::new(context));
    match change {
        Change::CreateSchema { name } => {
            Builder::new(StepKind::CreateSchema, CATALOG, None, object)
                .sql(ddl::create_schema(name))
                .provides(Key::Schema(name.clone()))
                .push(out);
        }
        Change::CreateExtension { name, extension } => {
            Builder::new(StepKind::CreateExtension, CATALOG, None, object)
                .sql(ddl::create_extension(name, extension))
                .requires(Key::Schema(extension.schema.clone()))
                .provides(Key::Extensions)
                .push(out);
        }
        Change::CreateEnum { name, definition } => {
            Builder::new(StepKind::CreateType, CATALOG, None, object)
                .sql(guard::unless_exists(
                    &guard::type_exists(name),
                    &ddl::create_enum(name, definition),
                ))
                .requires(Key::Schema(name.schema.clone()))
                .provides(Key::Type(name.clone()))
                .push(out);
        }
        Change::AddEnumValue {
            type_name,
            value,
            position,
        } => {
            let (clause, anchor) = match position {
                EnumPosition::Before(v) => (format!(" BEFORE {}", quote_literal(v)), Some(v)),
                EnumPosition::After(v) => (format!(" AFTER {}", quote_literal(v)), Some(v)),
                EnumPosition::End => (String::new(), None),
            };
            let mut b = Builder::new(StepKind::AddEnumValue, CATALOG, None, object)
                .sql(format!(
                    "ALTER TYPE {} ADD VALUE IF NOT EXISTS {}{clause}",
                    type_name.quoted(),
                    quote_literal(value)
                ))
                .transaction(Transaction::Alone)
                .hazard(
                    HazardCode::EnumLabelCommit,
                    "the new label is usable only after its transaction commits, and \
                     PostgreSQL cannot remove it later"
                        .to_owned(),
                )
                .provides(Key::Type(type_name.clone()))
                .provides(Key::EnumLabel(type_name.clone(), value.clone()));
            if let Some(anchor) = anchor {
                b = b.requires(Key::EnumLabel(type_name.clone(), anchor.clone()));
            }
            b.push(out);
        }
        Change::Create(created) => {
            let first = out.len();
            created.steps(out);
            // Locks on relations the plan itself creates hurt nobody and are not listed.
            for draft in &mut out[first..] {
                draft
                    .locks
                    .retain(|l| crate::kinds::relation_kind(context.live, &l.table).is_some());
            }
        }
        Change::Replace(replaced) => replaced.steps(out),
        Change::CreateTable { name, definition } => {
            let mut b = Builder::new(StepKind::CreateTable, NEW_TABLES, Some(name), object)
                .sql(ddl::create_table(name, definition))
                .requires_all(table_requirements(name, definition))
                .provides(Key::Table(name.clone()))
                // Its row type, which a domain or another table's column may use.
                .provides(Key::Type(name.clone()))
                .provides(Key::Keys(name.clone()));
            if let Some(p) = &definition.partition_of {
                b = partition::create_partition(b, name, &p.parent, context, trees());
            }
            b.push(out);
        }
        Change::AddColumn { table, column } => add_column(table, column, context, object, out),
        Change::CreateIndex {
            table,
            name,
            index,
            new_table: false,
        } if partition::is_partitioned(context, table) => {
            partition::index_on_only(table, name, index, trees(), object, out);
        }
        Change::CreateIndex {
            table,
            name,
            index,
            new_table,
        } => create_index(table, name, index, *new_table, context, object, out),
        Change::AddConstraint {
            table,
            name,
            constraint,
            new_table: false,
        } if partition::is_partitioned(context, table)
            && partition::built_by_partition(constraint) =>
        {
            if matches!(constraint.kind, ConstraintKind::ForeignKey(_)) {
                let on = Target {
                    table,
                    name,
                    partitions: Some(trees()),
                };
                add_constraint(on, constraint, false, context, object, out);
            } else {
                partition::key_on_only(table, name, constraint, trees(), object, out);
            }
        }
        Change::AddConstraint {
            table,
            name,
            constraint,
            new_table,
        } => {
            let on = Target {
                table,
                name,
                partitions: None,
            };
            add_constraint(on, constraint, *new_table, context, object, out);
        }
        Change::AttachPartitionIndex {
            table,
            index,
            partition,
            partition_index,
        } => partition::attach((table, index), (partition, partition_index), object, out),
        Change::EnableRowLevelSecurity {
            table,
            enable,
            force,
            new_table,
        } => {
            let mut actions = Vec::new();
            if *enable {
                actions.push("ENABLE ROW LEVEL SECURITY");
            }
            if *force {
                actions.push("FORCE ROW LEVEL SECURITY");
            }
            let stage = if *new_table { NEW_TABLES } else { SHORT_LOCKS };
            let mut b = Builder::new(StepKind::EnableRowLevelSecurity, stage, Some(table), object)
                .sql(format!(
                    "ALTER TABLE {} {}",
                    table.quoted(),
                    actions.join(", ")
                ))
                .requires(Key::Table(table.clone()))
                // The table's new policies first: switched on before them, row-level
                // security would deny every row to every role but the owner meanwhile.
                .requires(Key::Policies(table.clone()));
            if !new_table {
                let mut who = Vec::new();
                if *enable {
                    who.push(format!(
                        "roles other than the owner of {table} (and BYPASSRLS roles) see and \
                         write only the rows its policies allow, none where no policy applies"
                    ));
                }
                if *force {
                    who.push("the owner too is held to the policies".to_owned());
                }
                b = b
                    .lock(table, LockLevel::AccessExclusive)
                    .hazard(HazardCode::AccessExclusiveLock, access_exclusive(table))
                    .hazard(
                        HazardCode::PolicyAccess,
                        format!("{}; from the commit on", who.join("; ")),
                    );
            }
            b.push(out);
        }
    }
}

fn add_column(
    table: &QualifiedName,
    column: &Column,
    context: &Context,
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let mut b = Builder::new(StepKind::AddColumn, SHORT_LOCKS, Some(table), object)
        .sql(format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
            table.quoted(),
            ddl::column_definition(column)
        ))
        .lock(table, LockLevel::AccessExclusive)
        .hazard(HazardCode::AccessExclusiveLock, access_exclusive(table))
        .requires(Key::Table(table.clone()))
        .requires(Key::Extensions)
        .requires_all(column_requirements(column))
        .requires_all(
            column
                .generated()
                .iter()
                .flat_map(|g| refs::column_names(g))
                .filter(|c| c != column.name.as_str())
                .map(|c| Key::Column(table.clone(), c)),
        )
        .provides(Key::NewColumns(table.clone()))
        .provides(Key::Column(table.clone(), column.name.as_str().to_owned()));
    let fills_itself =
        column.default.is_some() || column.identity().is_some() || column.generated().is_some();
    if column.not_null && !fills_itself && may_have_rows(context, table) {
        b = b.hazard(
            HazardCode::NotNullWithoutDefault,
            format!(
                "adds a NOT NULL column without a default: fails unless {table} is empty ({})",
                rows(context, table)
            ),
        );
    }
    let rewrite = if column.identity().is_some() {
        Some("an identity column")
    } else if column.generated().is_some() {
        Some("a stored generated column")
    } else if column
        .default
        .as_deref()
        .is_some_and(refs::calls_volatile_function)
    {
        Some("a volatile default")
    } else {
        None
    };
    if let Some(why) = rewrite {
        b = b.hazard(
            HazardCode::RewritesTable,
            format!(
                "{why} makes PostgreSQL rewrite {table} under the ACCESS EXCLUSIVE lock ({})",
                rows(context, table)
            ),
        );
    }
    b.push(out);
}

fn index_name(table: &QualifiedName, name: &Ident) -> QualifiedName {
    QualifiedName::new(table.schema.clone(), name.clone())
}

fn create_index(
    table: &QualifiedName,
    name: &Ident,
    index: &Index,
    new_table: bool,
    context: &Context,
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let concurrently = context.concurrently && !new_table;
    let stage = if new_table { NEW_TABLES } else { INDEX_BUILDS };
    let mut b = Builder::new(StepKind::CreateIndex, stage, Some(table), object)
        .sql(ddl::create_index(table, name, index, concurrently))
        .requires(Key::Table(table.clone()))
        .requires(Key::NewColumns(table.clone()))
        .requires(Key::Extensions)
        .requires_all(function_requirements(
            index
                .keys
                .iter()
                .filter_map(|k| match &k.target {
                    IndexTarget::Expression(e) => Some(e.as_str()),
                    IndexTarget::Column(_) => None,
                })
                .chain(index.predicate.as_deref()),
        ))
        .provides(Key::Index(index_name(table, name)))
        .index(index_name(table, name));
    if index.unique && index.predicate.is_none() {
        b = b.provides(Key::Keys(table.clone()));
    }
    if !new_table {
        b = index_build_hazards(b, table, concurrently, context);
    }
    b.push(out);
}

fn index_build_hazards(
    b: Builder,
    table: &QualifiedName,
    concurrently: bool,
    context: &Context,
) -> Builder {
    if concurrently {
        b.transaction(Transaction::Outside)
            .lock(table, LockLevel::ShareUpdateExclusive)
            .hazard(
                HazardCode::BuildsIndex,
                format!(
                    "builds an index concurrently ({}): reads and writes continue; if it fails \
                     it leaves an INVALID index behind",
                    rows(context, table)
                ),
            )
    } else {
        b.lock(table, LockLevel::Share)
            .hazard(
                HazardCode::BuildsIndex,
                format!("builds an index ({})", rows(context, table)),
            )
            .hazard(
                HazardCode::IndexBlocksWrites,
                format!("writes to {table} wait until the index is built (--no-concurrently)"),
            )
    }
}

/// The table and name of a new constraint; with the live partition trees when the table is
/// partitioned in the database and the constraint is a foreign key, added to the parent once
/// every partition has its own (see [`partition::foreign_key`]).
struct Target<'a, 't> {
    table: &'a QualifiedName,
    name: &'a Ident,
    partitions: Option<&'a Trees<'t>>,
}

fn add_constraint(
    on: Target,
    constraint: &Constraint,
    new_table: bool,
    context: &Context,
    object: ObjectId,
    out: &mut Vec<Draft>,
) {
    let Target {
        table,
        name,
        partitions,
    } = on;
    let guarded = |body: String| {
        guard::unless_exists(
            &guard::constraint_exists(table, name),
            &format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {body}",
                table.quoted(),
                name.quoted()
            ),
        )
    };
    let validate = |stage_object: &str, b_locks: Builder| {
        // Alone: the scan must not run inside a transaction that already holds a
        // write-blocking lock from the ADD ... NOT VALID or another step on the table.
        b_locks
            .transaction(Transaction::Alone)
            .sql(format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                table.quoted(),
                name.quoted()
            ))
            .lock(table, LockLevel::ShareUpdateExclusive)
            .hazard(
                HazardCode::ValidatesByScan,
                format!(
                    "checks every existing row ({}) under SHARE UPDATE EXCLUSIVE: reads and \
                     writes continue; fails if a row violates {stage_object}",
                    rows(context, table)
                ),
            )
            .requires(Key::Constraint(table.clone(), name.clone()))
            .provides(Key::Validated(table.clone()))
    };
    let calls = match &constraint.kind {
        ConstraintKind::Check { expression, .. } => function_requirements([expression.as_str()]),
        _ => Vec::new(),
    };
    let base = |kind: StepKind, stage: u8, object: ObjectId| {
        Builder::new(kind, stage, Some(table), object)
            .requires(Key::Table(table.clone()))
            .requires(Key::NewColumns(table.clone()))
            .requires(Key::Extensions)
            .requires_all(calls.clone())
            .provides(Key::Constraint(table.clone(), name.clone()))
    };
    match &constraint.kind {
        ConstraintKind::ForeignKey(fk) => {
            let referenced = &fk.references;
            let referenced_exists = context.live.tables.contains_key(referenced);
            // Validated as it is added: on a new table (empty), or on a partitioned table
            // whose partitions all have it validated already.
            let at_once = new_table || partitions.is_some();
            let mut b = base(
                if at_once {
                    StepKind::AddConstraint
                } else {
                    StepKind::AddConstraintNotValid
                },
                FOREIGN_KEYS,
                object.clone(),
            )
            .requires(Key::Table(referenced.clone()))
            .requires(Key::NewColumns(referenced.clone()))
            .requires(Key::Keys(referenced.clone()));
            let body = ddl::constraint_body(constraint);
            if let Some(trees) = partitions {
                b = partition::foreign_key(b.sql(guarded(body)), table, trees);
            } else if new_table {
                b = b.sql(guarded(body));
            } else {
                b = b
                    .sql(guarded(format!("{body} NOT VALID")))
                    .lock(table, LockLevel::ShareRowExclusive);
            }
            if referenced_exists && referenced != table {
                b = b.lock(referenced, LockLevel::ShareRowExclusive);
            }
            if !b.draft.locks.is_empty() {
                let tables: Vec<String> = b.draft.locks.iter().map(|l| l.table.quoted()).collect();
                b = b.hazard(
                    HazardCode::LocksReferencedTable,
                    format!(
                        "takes SHARE ROW EXCLUSIVE on {} (briefly; writes to them wait)",
                        tables.join(" and ")
                    ),
                );
            }
            b.push(out);
            if !at_once {
                validate(
                    "the foreign key",
                    Builder::new(
                        StepKind::ValidateConstraint,
                        VALIDATIONS,
                        Some(table),
                        ObjectId::Validation {
                            table: table.clone(),
                            name: name.clone(),
                        },
                    ),
                )
                .push(out);
            }
        }
        ConstraintKind::Check { .. } if !new_table => {
            base(StepKind::AddConstraintNotValid, SHORT_LOCKS, object.clone())
                .sql(guarded(format!(
                    "{} NOT VALID",
                    ddl::constraint_body(constraint)
                )))
                .lock(table, LockLevel::AccessExclusive)
                .hazard(HazardCode::AccessExclusiveLock, access_exclusive(table))
                .push(out);
            validate(
                "the check",
                Builder::new(
                    StepKind::ValidateConstraint,
                    VALIDATIONS,
                    Some(table),
                    ObjectId::Validation {
                        table: table.clone(),
                        name: name.clone(),
                    },
                ),
            )
            .push(out);
        }
        ConstraintKind::PrimaryKey { columns, include }
        | ConstraintKind::Unique {
            columns, include, ..
        } if !new_table => {
            let nulls_not_distinct = matches!(
                constraint.kind,
                ConstraintKind::Unique {
                    nulls_not_distinct: true,
                    ..
                }
            );
            let index = Index {
                unique: true,
                method: "btree".to_owned(),
                keys: columns
                    .iter()
                    .map(|c| IndexKey {
                        target: IndexTarget::Column(c.clone()),
                        opclass: None,
                        collation: None,
                        descending: false,
                        nulls_first: false,
                    })
                    .collect(),
                include: include.clone(),
                predicate: None,
                nulls_not_distinct,
            };
            let concurrently = context.concurrently;
            let key_index = Builder::new(
                StepKind::CreateKeyIndex,
                INDEX_BUILDS,
                Some(table),
                ObjectId::KeyIndex {
                    table: table.clone(),
                    name: name.clone(),
                },
            )
            .sql(ddl::create_index(table, name, &index, concurrently))
            .requires(Key::Table(table.clone()))
            .requires(Key::NewColumns(table.clone()))
            .provides(Key::Index(index_name(table, name)))
            .index(index_name(table, name));
            index_build_hazards(key_index, table, concurrently, context).push(out);

            let is_primary = matches!(constraint.kind, ConstraintKind::PrimaryKey { .. });
            let mut attributes = String::new();
            if constraint.deferrable {
                attributes.push_str(" DEFERRABLE");
                if constraint.initially_deferred {
                    attributes.push_str(" INITIALLY DEFERRED");
                }
            }
            let mut b = base(StepKind::AttachKey, KEYS, object)
                .sql(guarded(format!(
                    "{} USING INDEX {}{attributes}",
                    if is_primary { "PRIMARY KEY" } else { "UNIQUE" },
                    name.quoted()
                )))
                .requires(Key::Index(index_name(table, name)))
                .provides(Key::Keys(table.clone()))
                .lock(table, LockLevel::AccessExclusive)
                .hazard(HazardCode::AccessExclusiveLock, access_exclusive(table));
            if is_primary {
                let live_table = context.live.tables.get(table);
                let nullable: Vec<String> = columns
                    .iter()
                    .filter(|c| {
                        live_table
                            .and_then(|t| t.column(c.as_str()))
                            .is_some_and(|c| !c.not_null)
                    })
                    .map(|c| c.quoted())
                    .collect();
                if !nullable.is_empty() {
                    b = b.hazard(
                        HazardCode::SetsNotNull,
                        format!(
                            "makes {} NOT NULL, scanning {table} under the ACCESS EXCLUSIVE \
                             lock ({}); fails on NULLs",
                            nullable.join(", "),
                            rows(context, table)
                        ),
                    );
                }
            }
            b.push(out);
        }
        _ => {
            let stage = if new_table { NEW_TABLES } else { SHORT_LOCKS };
            let mut b = base(StepKind::AddConstraint, stage, object)
                .sql(guarded(ddl::constraint_body(constraint)));
            if matches!(
                constraint.kind,
                ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
            ) {
                b = b.provides(Key::Keys(table.clone()));
            }
            if !new_table {
                b = b
                    .lock(table, LockLevel::AccessExclusive)
                    .hazard(HazardCode::AccessExclusiveLock, access_exclusive(table))
                    .hazard(
                        HazardCode::IndexBuiltUnderLock,
                        format!(
                            "builds the constraint's index while holding the ACCESS EXCLUSIVE \
                             lock: reads and writes of {table} wait ({})",
                            rows(context, table)
                        ),
                    );
            }
            b.push(out);
        }
    }
}

/// Takes off the locks (and their ACCESS EXCLUSIVE hazard) that steps declared without
/// knowing the live state — a policy's, a comment's — on tables the plan itself creates:
/// locking a table nobody uses yet hurts nobody, and plans list only what does.
pub(super) fn forget_locks_on_new_tables(drafts: &mut [Draft]) {
    let new: std::collections::BTreeSet<QualifiedName> = drafts
        .iter()
        .filter(|d| d.kind == StepKind::CreateTable)
        .flat_map(|d| d.provides.iter())
        .filter_map(|k| match k {
            Key::Table(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    if new.is_empty() {
        return;
    }
    for draft in drafts.iter_mut() {
        let before = draft.locks.len();
        draft.locks.retain(|l| !new.contains(&l.table));
        if draft.locks.len() < before
            && !draft
                .locks
                .iter()
                .any(|l| l.level == LockLevel::AccessExclusive)
        {
            draft
                .hazards
                .retain(|h| h.code != HazardCode::AccessExclusiveLock);
        }
    }
}

/// Puts a `DROP INDEX CONCURRENTLY` before every planned index build whose name is taken by
/// an INVALID index.
pub(super) fn rebuild_invalid(
    drafts: &mut Vec<Draft>,
    invalid_indexes: &std::collections::BTreeSet<QualifiedName>,
) {
    let mut drops = Vec::new();
    for draft in drafts.iter_mut() {
        let Some(index) = draft.index.clone() else {
            continue;
        };
        if !invalid_indexes.contains(&index) {
            continue;
        }
        draft.requires.push(Key::InvalidIndexDropped(index.clone()));
        let table = draft.locks.first().map(|l| l.table.clone());
        let mut b = Builder::new(
            StepKind::DropInvalidIndex,
            INDEX_BUILDS,
            table.as_ref(),
            ObjectId::InvalidIndex(index.clone()),
        )
        .sql(format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            index.quoted()
        ))
        .transaction(Transaction::Outside)
        .hazard(
            HazardCode::RebuildsInvalidIndex,
            format!(
                "drops the INVALID index {index} left by a failed concurrent build (it holds no \
                 data and serves no query) so that it can be built again"
            ),
        )
        .provides(Key::InvalidIndexDropped(index.clone()))
        .index(index);
        b.draft.sort_key.3 = draft.sort_key.3;
        if let Some(table) = table {
            b = b.lock(&table, LockLevel::ShareUpdateExclusive);
        }
        drops.push(b.draft);
    }
    drafts.extend(drops);
}

/// Wraps the steps of objects the scratch server could not build so that an error becomes a
/// WARNING (see [`super::Extras::unverified`]). CONCURRENTLY steps cannot be wrapped (a DO
/// block is a transaction) and only get the hazard.
pub(super) fn tolerate_unverified(
    drafts: &mut [Draft],
    unverified: &std::collections::BTreeMap<ObjectId, String>,
) {
    for draft in drafts.iter_mut() {
        // A privilege or owner of an object the scratch server could not build either.
        let target = match &draft.object {
            ObjectId::Grant { on, .. } | ObjectId::Owner(on) => Some(&**on),
            _ => None,
        };
        let Some(message) = unverified.get(&draft.object).or_else(|| {
            unverified
                .iter()
                .find(|(object, _)| {
                    draft.object.within(object) || target.is_some_and(|on| on.within(object))
                })
                .map(|(_, message)| message)
        }) else {
            continue;
        };
        if draft.transaction != Transaction::Outside {
            let verbatim = matches!(
                draft.kind,
                StepKind::CreateFunction | StepKind::CreateAggregate
            );
            draft.sql = guard::tolerating_errors(&draft.sql, &draft.object.to_string(), verbatim);
        }
        draft.hazards.push(Hazard {
            code: HazardCode::Unverified,
            message: format!(
                "the scratch database could not build this ({message}); it likely uses \
                 something reconcile does not manage, such as a function. It is attempted, and \
                 skipped with a WARNING if this database rejects it too"
            ),
        });
    }
}
