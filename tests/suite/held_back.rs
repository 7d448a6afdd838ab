//! Property (issue 16, item 8): whatever a plan holds back — a possible rename (D150), a type
//! change (D110) — the steps it does plan run on the database the earlier steps leave. A
//! desired state of small tables with checks, unique keys, indexes (also on expressions) and
//! foreign keys is built; the live database is the same after renames, type changes and
//! dropped objects; the plan's SQL must run with psql, twice, on that database.

use crate::common;

use std::path::PathBuf;

use proptest::prelude::*;
use reconcile::model::{
    Column, Constraint, ConstraintKind, FkAction, ForeignKey, Ident, Index, IndexKey, IndexTarget,
    QualifiedName, Schema, Table,
};

const TYPES: [&str; 6] = [
    "integer",
    "bigint",
    "text",
    "character varying(20)",
    "numeric",
    "boolean",
];

fn id(name: &str) -> Ident {
    Ident::new(name).expect("a valid name")
}

fn qn(name: &str) -> QualifiedName {
    QualifiedName::new(id("public"), id(name))
}

/// A check over a column that only makes sense for its type.
fn check_for(column: &str, data_type: &str) -> String {
    match data_type {
        "integer" | "bigint" | "numeric" => format!("{column} >= 0"),
        "boolean" => format!("{column} IS NOT NULL"),
        _ => format!("length({column}) > 0"),
    }
}

/// An index key over a column that only makes sense for its type.
fn key_for(column: &str, data_type: &str) -> IndexTarget {
    match data_type {
        "text" | "character varying(20)" => IndexTarget::Expression(format!("lower({column})")),
        _ => IndexTarget::Column(id(column)),
    }
}

fn constraint(kind: ConstraintKind) -> Constraint {
    Constraint {
        kind,
        deferrable: false,
        initially_deferred: false,
    }
}

/// A generated column: its type (an index into `TYPES`) and whether it gets a check, a unique
/// key, an index.
type ColumnShape = (usize, bool, bool, bool);

/// `tables`: per table, its columns and whether the table references the first one.
fn desired(tables: &[(Vec<ColumnShape>, bool)]) -> Schema {
    let mut schema = Schema::default();
    schema.schemas.insert(id("public"));
    for (t, (columns, references_first)) in tables.iter().enumerate() {
        let name = format!("t{t}");
        let mut table = Table::default();
        let mut pk = Column::new(id("id"), "bigint");
        pk.not_null = true;
        table.columns.push(pk);
        table.constraints.insert(
            id(&format!("{name}_pkey")),
            constraint(ConstraintKind::PrimaryKey {
                columns: vec![id("id")],
                include: vec![],
            }),
        );
        for (c, (ty, check, unique, index)) in columns.iter().enumerate() {
            let column = format!("c{c}");
            let data_type = TYPES[*ty % TYPES.len()];
            table.columns.push(Column::new(id(&column), data_type));
            if *check {
                table.constraints.insert(
                    id(&format!("{name}_{column}_check")),
                    constraint(ConstraintKind::Check {
                        expression: check_for(&column, data_type),
                        no_inherit: false,
                    }),
                );
            }
            if *unique {
                table.constraints.insert(
                    id(&format!("{name}_{column}_key")),
                    constraint(ConstraintKind::Unique {
                        columns: vec![id(&column)],
                        include: vec![],
                        nulls_not_distinct: false,
                    }),
                );
            }
            if *index {
                table.indexes.insert(
                    id(&format!("{name}_{column}_idx")),
                    Index {
                        unique: false,
                        method: "btree".into(),
                        keys: vec![IndexKey {
                            target: key_for(&column, data_type),
                            opclass: None,
                            collation: None,
                            descending: false,
                            nulls_first: false,
                        }],
                        include: vec![],
                        predicate: None,
                        nulls_not_distinct: false,
                    },
                );
            }
        }
        if *references_first && t > 0 {
            table.columns.push(Column::new(id("t0_id"), "bigint"));
            table.constraints.insert(
                id(&format!("{name}_t0_id_fkey")),
                constraint(ConstraintKind::ForeignKey(ForeignKey {
                    columns: vec![id("t0_id")],
                    references: qn("t0"),
                    referenced_columns: vec![id("id")],
                    on_delete: FkAction::NoAction,
                    on_update: FkAction::NoAction,
                    match_full: false,
                })),
            );
        }
        schema.tables.insert(qn(&name), table);
    }
    schema
}

#[derive(Debug, Clone)]
enum Mutation {
    Rename(usize, usize),
    Retype(usize, usize, usize),
    DropConstraints(usize),
    DropIndexes(usize),
}

fn mutate(live: &mut Schema, mutation: &Mutation) {
    let tables: Vec<QualifiedName> = live.tables.keys().cloned().collect();
    let table = |i: usize| tables[i % tables.len()].clone();
    match *mutation {
        Mutation::Rename(t, c) => {
            let table = live.tables.get_mut(&table(t)).expect("a table");
            let position = 1 + c % (table.columns.len() - 1);
            let old = format!("old_{}", table.columns[position].name);
            table.columns[position].name = id(&old);
            // What used the column now uses its old name, as the database would show it.
            let from = table.columns[position].name.clone();
            rename_uses(table, &from);
        }
        Mutation::Retype(t, c, ty) => {
            let table = live.tables.get_mut(&table(t)).expect("a table");
            let position = 1 + c % (table.columns.len() - 1);
            let column = table.columns[position].name.as_str().to_owned();
            if column.starts_with("old_") || column == "t0_id" {
                return;
            }
            table.columns[position].data_type = TYPES[ty % TYPES.len()].into();
            // The live objects over it fit its live type (the database could not hold them
            // otherwise): they are left out, so the plan wants to add them.
            table
                .constraints
                .retain(|name, _| !name.as_str().contains(&column));
            table
                .indexes
                .retain(|name, _| !name.as_str().contains(&column));
        }
        Mutation::DropConstraints(t) => {
            let table = live.tables.get_mut(&table(t)).expect("a table");
            table
                .constraints
                .retain(|_, c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
        }
        Mutation::DropIndexes(t) => {
            live.tables
                .get_mut(&table(t))
                .expect("a table")
                .indexes
                .clear();
        }
    }
}

/// After a rename, the live table's constraints and indexes that used the column are gone
/// with it in this model (simpler than renaming inside expressions): the plan must add them
/// back only once the column exists.
fn rename_uses(table: &mut Table, renamed: &Ident) {
    let old = renamed.as_str().trim_start_matches("old_").to_owned();
    table
        .constraints
        .retain(|name, _| !name.as_str().contains(&format!("_{old}_")));
    table
        .indexes
        .retain(|name, _| !name.as_str().contains(&format!("_{old}_")));
}

fn scenario() -> impl Strategy<Value = (Schema, Vec<Mutation>)> {
    let column = (0..TYPES.len(), any::<bool>(), any::<bool>(), any::<bool>());
    let table = (prop::collection::vec(column, 1..4), any::<bool>());
    let mutation = prop_oneof![
        3 => (0..3usize, 0..4usize).prop_map(|(t, c)| Mutation::Rename(t, c)),
        3 => (0..3usize, 0..4usize, 0..TYPES.len()).prop_map(|(t, c, ty)| Mutation::Retype(t, c, ty)),
        1 => (0..3usize).prop_map(Mutation::DropConstraints),
        1 => (0..3usize).prop_map(Mutation::DropIndexes),
    ];
    (
        prop::collection::vec(table, 1..4),
        prop::collection::vec(mutation, 1..4),
    )
        .prop_map(|(tables, mutations)| (desired(&tables), mutations))
}

/// Creates `live` on a fresh database and runs the plan towards `desired` with psql, twice.
fn plan_runs(desired: &Schema, live: &Schema) -> Result<(), String> {
    let db = common::fresh_db();
    let scratch = common::fresh_db();
    let setup: String = reconcile::ddl::create_all(live)
        .iter()
        .map(|s| format!("{};\n", s.sql))
        .collect();
    db.psql(&setup)
        .map_err(|e| format!("the live state does not build: {e}\n{setup}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let script = runtime.block_on(async {
        let mut target = db.connect().await;
        let mut scratch = scratch.connect().await;
        let drift = reconcile::pipeline::drift(
            desired.clone(),
            &[],
            &mut target,
            None,
            &mut scratch,
            &reconcile::pipeline::Options::default(),
        )
        .await
        .map_err(|e| format!("planning: {e}"))?;
        let mut out = Vec::new();
        reconcile::render::sql::render(&drift.report("plan", "db"), &mut out)
            .map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    })?;
    let file = tempfile::Builder::new()
        .suffix(".sql")
        .tempfile()
        .map_err(|e| e.to_string())?;
    std::fs::write(file.path(), &script).map_err(|e| e.to_string())?;
    let path = PathBuf::from(file.path());
    for run in ["first", "second"] {
        db.psql_file(&path)
            .map_err(|e| format!("the {run} run of the plan failed: {e}\n{script}"))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_planned_step_runs_whatever_is_held_back((desired, mutations) in scenario()) {
        let mut live = desired.clone();
        for m in &mutations {
            mutate(&mut live, m);
        }
        if let Err(e) = plan_runs(&desired, &live) {
            prop_assert!(false, "{mutations:?}\n{e}");
        }
    }
}
