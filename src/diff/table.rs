//! Tables: new tables, and the columns, constraints, indexes and row-level security of
//! existing ones. What is particular to partitioned tables and partitions is in
//! [`super::partition`].

use std::collections::BTreeSet;

use super::partition::{self, Partitions};
use super::{Change, Code, Diff, Finding, Options, Severity, TypeChange, column_type};
use crate::ddl;
use crate::model::{Column, ConstraintKind, Ident, ObjectId, QualifiedName, Schema, Table};

pub(super) fn tables(live: &Schema, desired: &Schema, options: &Options, out: &mut Diff) {
    let mut partitions = Partitions::new(live, desired, &options.partition_indexes);
    for (name, wanted) in &desired.tables {
        match live.tables.get(name) {
            None if options.unmanaged_tables.contains(name) => out.findings.push(Finding::new(
                Code::UnmanagedTable,
                Severity::Risky,
                ObjectId::Table(name.clone()),
                "exists in the database as a table reconcile does not manage (an inheritance \
                 child, or a partition of a table outside the schemas read): neither created \
                 nor compared",
            )),
            None => match crate::kinds::relation_kind(live, name) {
                Some(taken_by) => out.findings.push(crate::kinds::name_taken(
                    ObjectId::Table(name.clone()),
                    taken_by,
                )),
                None => new_table(name, wanted, Models { live, desired }, &partitions, out),
            },
            // Most tables of a large schema are in sync; equal models have nothing to report.
            Some(existing) if existing == wanted => {}
            Some(existing) => existing_table(
                Models { live, desired },
                name,
                existing,
                wanted,
                options,
                &mut partitions,
                out,
            ),
        }
    }
    for (name, table) in &live.tables {
        if !desired.tables.contains_key(name) && desired.schemas.contains(&name.schema) {
            if let Some(p) = &table.partition_of {
                out.findings.push(partition::extra_partition(name, p, live));
                continue;
            }
            out.findings.push(
                Finding::new(
                    Code::ExtraTable,
                    Severity::Destructive,
                    ObjectId::Table(name.clone()),
                    format!(
                        "in the database, not in the desired state{}",
                        owned_sequences(live, name, None)
                    ),
                )
                .suggest(format!("DROP TABLE {}", name.quoted())),
            );
        }
    }
}

/// "; dropping it drops the sequence X it owns too", for a table (or one column of it) that
/// owns sequences: their DROP goes with it, so they get no finding of their own.
fn owned_sequences(live: &Schema, table: &QualifiedName, column: Option<&Ident>) -> String {
    let owned: Vec<String> = live
        .sequences
        .iter()
        .filter(|(_, s)| {
            s.owned_by
                .as_ref()
                .is_some_and(|(t, c)| t == table && column.is_none_or(|column| c == column))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    match owned.as_slice() {
        [] => String::new(),
        [one] => format!("; dropping it drops the sequence {one} it owns too"),
        many => format!(
            "; dropping it drops the sequences it owns too: {}",
            many.join(", ")
        ),
    }
}

fn new_table(
    name: &QualifiedName,
    wanted: &Table,
    models: Models<'_>,
    partitions: &Partitions,
    out: &mut Diff,
) {
    let mut definition = wanted.clone();
    if let Some(p) = &wanted.partition_of {
        if models.live.tables.contains_key(&p.parent) && !partitions.partitioned_alike(&p.parent) {
            out.findings.push(partition::not_created(name, p));
            return;
        }
        // A partition gets its parent's columns; only what differs is said.
        if let Some(parent) = models.desired.tables.get(&p.parent) {
            definition.columns = partition::overrides(wanted, parent);
        }
    }
    definition
        .constraints
        .retain(|_, c| !matches!(c.kind, ConstraintKind::ForeignKey(_)));
    definition.indexes.clear();
    definition.row_level_security = false;
    definition.force_row_level_security = false;
    out.additive.push(Change::CreateTable {
        name: name.clone(),
        definition,
    });
    for (cname, c) in &wanted.constraints {
        if matches!(c.kind, ConstraintKind::ForeignKey(_)) {
            out.additive.push(Change::AddConstraint {
                table: name.clone(),
                name: cname.clone(),
                constraint: c.clone(),
                new_table: true,
            });
        }
    }
    for (iname, index) in &wanted.indexes {
        out.additive.push(Change::CreateIndex {
            table: name.clone(),
            name: iname.clone(),
            index: index.clone(),
            new_table: true,
        });
    }
    if wanted.row_level_security || wanted.force_row_level_security {
        out.additive.push(Change::EnableRowLevelSecurity {
            table: name.clone(),
            enable: wanted.row_level_security,
            force: wanted.force_row_level_security,
            new_table: true,
        });
    }
}

fn column_object(table: &QualifiedName, column: &Ident) -> ObjectId {
    ObjectId::column(table, column)
}

/// Both models, for rules that look beyond the table at hand (views that read a column).
#[derive(Clone, Copy)]
struct Models<'a> {
    live: &'a Schema,
    desired: &'a Schema,
}

fn existing_table(
    models: Models<'_>,
    name: &QualifiedName,
    existing: &Table,
    wanted: &Table,
    options: &Options,
    partitions: &mut Partitions,
    out: &mut Diff,
) {
    partition::differences(name, existing, wanted, (models.live, models.desired), out);
    // On a partitioned table a new primary key needs its columns NOT NULL already (see
    // `Partitions::constraint`): a nullable one is reported, not set by the key.
    let new_primary_key = wanted.primary_key().filter(|(pk, _)| {
        existing.primary_key().is_none()
            && !existing.constraints.contains_key(*pk)
            && !existing.is_partitioned()
    });
    match (&existing.partition_of, &wanted.partition_of) {
        (Some(have), Some(want)) => {
            let (existing, wanted) = partition::columns_to_compare(
                existing,
                wanted,
                models.live.tables.get(&have.parent),
                models.desired.tables.get(&want.parent),
            );
            columns(models, name, &existing, &wanted, None, options, out);
        }
        _ => columns(
            models,
            name,
            existing,
            wanted,
            new_primary_key.map(|(_, c)| &c.kind),
            options,
            out,
        ),
    }
    constraints(name, existing, wanted, partitions, out);
    table_indexes(name, existing, wanted, Some(partitions), out);
    row_level_security(name, existing, wanted, out);
}

/// A new index or key on a table that is partitioned in the database but not as the
/// desired state says: not built (the partitioning difference comes first).
fn partitioning_differs(object: ObjectId, table: &QualifiedName) -> Finding {
    Finding::new(
        Code::PartitionKey,
        Severity::Risky,
        object,
        format!(
            "not built: {table} is partitioned differently in the database (see the finding on \
             the table)"
        ),
    )
}

fn columns(
    models: Models<'_>,
    name: &QualifiedName,
    existing: &Table,
    wanted: &Table,
    new_primary_key: Option<&ConstraintKind>,
    options: &Options,
    out: &mut Diff,
) {
    let missing: Vec<&Column> = wanted
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| existing.column_near(c.name.as_str(), *i).is_none())
        .map(|(_, c)| c)
        .collect();
    let mut extra: Vec<Option<&Column>> = existing
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| wanted.column_near(c.name.as_str(), *i).is_none())
        .map(|(_, c)| c)
        .map(Some)
        .collect();
    for column in missing {
        let partner = options
            .rename_hints
            .then(|| {
                extra
                    .iter_mut()
                    .find(|e| e.is_some_and(|e| e.data_type == column.data_type))
            })
            .flatten()
            .and_then(Option::take);
        match partner {
            Some(old) => out.findings.push(
                Finding::new(
                    Code::PossibleRename,
                    Severity::Risky,
                    column_object(name, &column.name),
                    format!(
                        "missing, and column {} of the same type ({}) is not in the desired \
                         state: possibly renamed. Not added, so the data is not split across \
                         two columns; rename it by hand, or drop or declare {} (or plan with \
                         --no-rename-hints) to have {} added",
                        old.name.quoted(),
                        column.data_type,
                        old.name.quoted(),
                        column.name.quoted()
                    ),
                )
                .suggest(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    name.quoted(),
                    old.name.quoted(),
                    column.name.quoted()
                )),
            ),
            None => out.additive.push(Change::AddColumn {
                table: name.clone(),
                column: column.clone(),
            }),
        }
    }
    for column in extra.into_iter().flatten() {
        out.findings.push(
            Finding::new(
                Code::ExtraColumn,
                Severity::Destructive,
                column_object(name, &column.name),
                format!(
                    "in the database ({}), not in the desired state{}",
                    column.data_type,
                    owned_sequences(models.live, name, Some(&column.name))
                ),
            )
            .suggest(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                name.quoted(),
                column.name.quoted()
            )),
        );
    }
    let primary_key_columns: BTreeSet<&Ident> = match new_primary_key {
        Some(ConstraintKind::PrimaryKey { columns, .. }) => columns.iter().collect(),
        _ => BTreeSet::new(),
    };
    for (position, have) in existing.columns.iter().enumerate() {
        if let Some(want) = wanted.column_near(have.name.as_str(), position) {
            column_attributes(models, name, have, want, &primary_key_columns, out);
        }
    }
}

fn column_attributes(
    models: Models<'_>,
    table: &QualifiedName,
    have: &Column,
    want: &Column,
    primary_key_columns: &BTreeSet<&Ident>,
    out: &mut Diff,
) {
    if have == want {
        return;
    }
    let object = column_object(table, &have.name);
    let alter = format!(
        "ALTER TABLE {} ALTER COLUMN {}",
        table.quoted(),
        have.name.quoted()
    );
    if have.data_type != want.data_type {
        let change = column_type::classify(&have.data_type, &want.data_type);
        let (severity, what, using) = match change {
            TypeChange::Widening => (Severity::Risky, "a widening", ""),
            TypeChange::Narrowing => (
                Severity::Destructive,
                "a narrowing: existing values may not fit",
                "",
            ),
            TypeChange::Conversion => (
                Severity::Destructive,
                "a conversion: existing values may not convert",
                " USING ",
            ),
        };
        let using = if using.is_empty() {
            String::new()
        } else {
            format!("{using}{}::{}", have.name.quoted(), want.data_type)
        };
        out.findings.push(
            Finding::new(
                Code::ColumnType,
                severity,
                object.clone(),
                format!(
                    "type is {} in the database, {} in the desired state ({what})",
                    have.data_type, want.data_type
                ),
            )
            .suggest({
                let change = format!("{alter} TYPE {}{using}", want.data_type);
                match crate::kinds::view::around_type_change(
                    models.live,
                    models.desired,
                    table,
                    &have.name,
                ) {
                    // ALTER COLUMN TYPE fails while a view reads the column.
                    Some((before, after)) => format!("{before}{change};{after}"),
                    None => change,
                }
            }),
        );
    }
    let set_by_new_primary_key =
        want.not_null && !have.not_null && primary_key_columns.contains(&have.name);
    if have.not_null != want.not_null && !set_by_new_primary_key {
        let (message, sql) = if want.not_null {
            (
                "nullable in the database, NOT NULL in the desired state (SET NOT NULL scans \
                 the table under an ACCESS EXCLUSIVE lock and fails on NULLs)",
                format!("{alter} SET NOT NULL"),
            )
        } else {
            (
                "NOT NULL in the database, nullable in the desired state",
                format!("{alter} DROP NOT NULL"),
            )
        };
        out.findings.push(
            Finding::new(Code::Nullability, Severity::Risky, object.clone(), message).suggest(sql),
        );
    }
    if have.default != want.default && have.identity().is_none() && want.identity().is_none() {
        let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".to_owned());
        let sql = match &want.default {
            Some(d) => format!("{alter} SET DEFAULT {d}"),
            None => format!("{alter} DROP DEFAULT"),
        };
        out.findings.push(
            Finding::new(
                Code::ColumnDefault,
                Severity::Risky,
                object.clone(),
                format!(
                    "default is {} in the database, {} in the desired state",
                    show(&have.default),
                    show(&want.default)
                ),
            )
            .suggest(sql),
        );
    }
    if have.identity() != want.identity() {
        let describe = |c: &Column| match &c.identity() {
            None => "not an identity column".to_owned(),
            Some(i) => format!(
                "GENERATED {} AS IDENTITY ({})",
                if i.always { "ALWAYS" } else { "BY DEFAULT" },
                ddl::identity_options(&i.options)
            ),
        };
        let sql = match (&have.identity(), &want.identity()) {
            (Some(_), None) => format!("{alter} DROP IDENTITY"),
            (None, Some(_)) => format!("{alter} ADD {}", describe(want)),
            _ => format!(
                "{alter} SET GENERATED {}",
                if want.identity().as_ref().is_some_and(|i| i.always) {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                }
            ),
        };
        out.findings.push(
            Finding::new(
                Code::Identity,
                Severity::Risky,
                object.clone(),
                format!(
                    "{} in the database; {} in the desired state",
                    describe(have),
                    describe(want)
                ),
            )
            .suggest(sql),
        );
    }
    if have.generated() != want.generated() {
        let show = |g: Option<&str>| {
            g.map_or("not generated".to_owned(), |g| {
                format!("GENERATED ALWAYS AS ({g})")
            })
        };
        out.findings.push(Finding::new(
            Code::Generated,
            Severity::Destructive,
            object.clone(),
            format!(
                "{} in the database; {} in the desired state (PostgreSQL 15 can only change \
                 this by dropping and re-adding the column)",
                show(have.generated()),
                show(want.generated())
            ),
        ));
    }
    if have.collation() != want.collation() {
        let show = |c: Option<&str>| c.unwrap_or("default").to_owned();
        out.findings.push(
            Finding::new(
                Code::ColumnCollation,
                Severity::Risky,
                object,
                format!(
                    "collation is {} in the database, {} in the desired state",
                    show(have.collation()),
                    show(want.collation())
                ),
            )
            .suggest(format!(
                "{alter} TYPE {} COLLATE {}",
                want.data_type,
                want.collation().unwrap_or("\"default\"")
            )),
        );
    }
}

fn backed_by_index(kind: &ConstraintKind) -> bool {
    matches!(
        kind,
        ConstraintKind::PrimaryKey { .. }
            | ConstraintKind::Unique { .. }
            | ConstraintKind::Exclusion { .. }
    )
}

fn constraints(
    name: &QualifiedName,
    existing: &Table,
    wanted: &Table,
    partitions: &mut Partitions,
    out: &mut Diff,
) {
    let object = |c: &Ident| ObjectId::constraint(name, c);
    let mut renamed: BTreeSet<&Ident> = BTreeSet::new();
    for (cname, c) in &wanted.constraints {
        match existing.constraints.get(cname) {
            Some(have) if have != c => out.findings.push(
                Finding::new(
                    Code::ConstraintDefinition,
                    Severity::Risky,
                    object(cname),
                    format!(
                        "is {} in the database, {} in the desired state",
                        ddl::constraint_body(have),
                        ddl::constraint_body(c)
                    ),
                )
                .suggest(format!(
                    "ALTER TABLE {t} DROP CONSTRAINT {n};\n{}",
                    ddl::add_constraint(name, cname, c),
                    t = name.quoted(),
                    n = cname.quoted()
                )),
            ),
            Some(_) => {}
            None => {
                let twin = existing.constraints.iter().find(|(n, have)| {
                    *have == c && !wanted.constraints.contains_key(*n) && !renamed.contains(n)
                });
                if let Some((old, _)) = twin {
                    renamed.insert(old);
                    out.findings.push(
                        Finding::new(
                            Code::ConstraintNamedDifferently,
                            Severity::Cosmetic,
                            object(cname),
                            format!("the database has the same constraint named {old}"),
                        )
                        .suggest(format!(
                            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                            name.quoted(),
                            old.quoted(),
                            cname.quoted()
                        )),
                    );
                } else if let (ConstraintKind::PrimaryKey { .. }, Some((pk, _))) =
                    (&c.kind, existing.primary_key())
                {
                    out.findings.push(Finding::new(
                        Code::ConstraintDefinition,
                        Severity::Risky,
                        object(cname),
                        format!(
                            "the table already has primary key {pk}, which differs; a table \
                             has only one"
                        ),
                    ));
                } else if backed_by_index(&c.kind) && existing.indexes.contains_key(cname) {
                    out.findings.push(Finding::new(
                        Code::ConstraintDefinition,
                        Severity::Risky,
                        object(cname),
                        format!("an index named {cname} already exists on the table"),
                    ));
                } else if existing.is_partitioned()
                    && matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey { .. }
                            | ConstraintKind::Unique { .. }
                            | ConstraintKind::ForeignKey(_)
                    )
                {
                    if partitions.partitioned_alike(name) {
                        partitions.constraint(name, cname, c, out);
                    } else {
                        out.findings.push(partitioning_differs(object(cname), name));
                    }
                } else {
                    out.additive.push(Change::AddConstraint {
                        table: name.clone(),
                        name: cname.clone(),
                        constraint: c.clone(),
                        new_table: false,
                    });
                }
            }
        }
    }
    for (cname, have) in &existing.constraints {
        if !wanted.constraints.contains_key(cname)
            && !renamed.contains(cname)
            && !partitions.constraint_adopted(name, cname)
        {
            out.findings.push(
                Finding::new(
                    Code::ExtraConstraint,
                    Severity::Risky,
                    object(cname),
                    format!(
                        "{} is in the database, not in the desired state",
                        ddl::constraint_body(have)
                    ),
                )
                .suggest(format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    name.quoted(),
                    cname.quoted()
                )),
            );
        }
    }
}

/// The indexes of a relation (a table's, or a materialized view's given as a table with only
/// indexes): missing → built, extra or different → a finding.
pub(crate) fn indexes(name: &QualifiedName, existing: &Table, wanted: &Table, out: &mut Diff) {
    table_indexes(name, existing, wanted, None, out);
}

/// [`indexes`], with the partition trees when the relation is a table (a partitioned
/// table's new index is built partition by partition; a partition's index its parent's
/// adopts is not extra).
fn table_indexes(
    name: &QualifiedName,
    existing: &Table,
    wanted: &Table,
    mut partitions: Option<&mut Partitions>,
    out: &mut Diff,
) {
    let object = |i: &Ident| ObjectId::index(name, i);
    let index_name = |i: &Ident| QualifiedName::new(name.schema.clone(), i.clone()).quoted();
    let mut renamed: BTreeSet<&Ident> = BTreeSet::new();
    for (iname, index) in &wanted.indexes {
        match existing.indexes.get(iname) {
            Some(have) if have != index => out.findings.push(
                Finding::new(
                    Code::IndexDefinition,
                    Severity::Risky,
                    object(iname),
                    format!(
                        "differs: the database has {}",
                        ddl::create_index(name, iname, have, false)
                    ),
                )
                .suggest(format!(
                    "{} -- under a new name, then:\nDROP INDEX CONCURRENTLY {}",
                    ddl::create_index(name, iname, index, true),
                    index_name(iname)
                )),
            ),
            Some(_) => {}
            None => {
                let twin = existing.indexes.iter().find(|(n, have)| {
                    *have == index && !wanted.indexes.contains_key(*n) && !renamed.contains(n)
                });
                if let Some((old, _)) = twin {
                    renamed.insert(old);
                    out.findings.push(
                        Finding::new(
                            Code::IndexNamedDifferently,
                            Severity::Cosmetic,
                            object(iname),
                            format!("the database has the same index named {old}; not built twice"),
                        )
                        .suggest(format!(
                            "ALTER INDEX {} RENAME TO {}",
                            index_name(old),
                            iname.quoted()
                        )),
                    );
                } else if existing
                    .constraints
                    .get(iname)
                    .is_some_and(|c| backed_by_index(&c.kind))
                {
                    out.findings.push(Finding::new(
                        Code::IndexDefinition,
                        Severity::Risky,
                        object(iname),
                        format!("the name {iname} is taken by a constraint's index"),
                    ));
                } else if existing.is_partitioned() {
                    match partitions.as_deref_mut() {
                        Some(p) if p.partitioned_alike(name) => p.index(name, iname, index, out),
                        _ => out.findings.push(partitioning_differs(object(iname), name)),
                    }
                } else {
                    out.additive.push(Change::CreateIndex {
                        table: name.clone(),
                        name: iname.clone(),
                        index: index.clone(),
                        new_table: false,
                    });
                }
            }
        }
    }
    for (iname, have) in &existing.indexes {
        if !wanted.indexes.contains_key(iname)
            && !renamed.contains(iname)
            && !partitions
                .as_deref()
                .is_some_and(|p| p.index_adopted(name, iname))
        {
            out.findings.push(
                Finding::new(
                    Code::ExtraIndex,
                    Severity::Risky,
                    object(iname),
                    format!(
                        "in the database, not in the desired state: {}",
                        ddl::create_index(name, iname, have, false)
                    ),
                )
                .suggest(format!("DROP INDEX CONCURRENTLY {}", index_name(iname))),
            );
        }
    }
}

fn row_level_security(name: &QualifiedName, existing: &Table, wanted: &Table, out: &mut Diff) {
    let enable = wanted.row_level_security && !existing.row_level_security;
    let force = wanted.force_row_level_security && !existing.force_row_level_security;
    if enable || force {
        out.additive.push(Change::EnableRowLevelSecurity {
            table: name.clone(),
            enable,
            force,
            new_table: false,
        });
    }
    let object = ObjectId::Table(name.clone());
    if existing.row_level_security && !wanted.row_level_security {
        out.findings.push(
            Finding::new(
                Code::RowLevelSecurityDisabled,
                Severity::Risky,
                object.clone(),
                "row-level security is enabled in the database, disabled in the desired state",
            )
            .suggest(format!(
                "ALTER TABLE {} DISABLE ROW LEVEL SECURITY",
                name.quoted()
            )),
        );
    }
    if existing.force_row_level_security && !wanted.force_row_level_security {
        out.findings.push(
            Finding::new(
                Code::ForceRowLevelSecurityDisabled,
                Severity::Risky,
                object,
                "row-level security is forced in the database, not in the desired state",
            )
            .suggest(format!(
                "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY",
                name.quoted()
            )),
        );
    }
}
