//! The local equivalence rules (src/normalise/equivalence.rs) against the real server: for
//! each expression as a person writes it, PostgreSQL stores and prints it, and the rules must
//! recognise the printed form as the written one — and must not recognise it as a slightly
//! different written one. If PostgreSQL printed something the rules do not expect, the first
//! test fails here rather than as false drift (or, worse, a missed difference) in a plan.

mod common;

use reconcile::introspect::{self, Scope};
use reconcile::model::{ConstraintKind, Ident, QualifiedName, Schema};
use reconcile::normalise::equivalence::{ColumnTypes, same_default, same_expression};

const TABLE: &str = "CREATE TYPE record_status AS ENUM ('draft', 'active');
CREATE TABLE t (
    id bigint,
    status record_status DEFAULT 'active',
    amount numeric(12,2) DEFAULT 0,
    code varchar(32) DEFAULT 'x',
    name text DEFAULT '',
    currency char(3) DEFAULT 'EUR',
    priority smallint DEFAULT 0,
    d date DEFAULT '2020-01-01',
    ts timestamptz DEFAULT now(),
    tags text[] DEFAULT '{}',
    attrs jsonb DEFAULT '{}',
    retention interval DEFAULT '30 days',
    note text DEFAULT 'it''s'
);";

/// (column, written default) as in the table above.
const DEFAULTS: &[(&str, &str)] = &[
    ("status", "'active'"),
    ("amount", "0"),
    ("code", "'x'"),
    ("name", "''"),
    ("currency", "'EUR'"),
    ("priority", "0"),
    ("d", "'2020-01-01'"),
    ("ts", "now()"),
    ("tags", "'{}'"),
    ("attrs", "'{}'"),
    ("retention", "'30 days'"),
    ("note", "'it''s'"),
];

/// Check expressions written by hand that the rules claim to recognise.
const CHECKS: &[&str] = &[
    "status = 'active'",
    "'active' = status",
    "amount >= 0",
    "char_length(code) > 0",
    "priority BETWEEN 0 AND 9",
    "d > '2020-01-01' OR d IS NULL",
    "name <> ''",
    "code = 'x' AND amount > 0",
    "ts IS NOT NULL",
    "NOT (priority < 0)",
];

/// Written forms the rules do not claim: they go to the scratch server, which is correct but
/// slower. Listed so that a new rule shows up here as a deliberate change.
const LEFT_TO_THE_SERVER: &[&str] = &[
    "status IN ('draft', 'active')",
    "amount > 0.5 * priority",
    "priority > -1",
];

async fn live_model(db: &common::TestDb, sql: &str) -> Schema {
    db.psql(sql).expect("fixture loads");
    let mut conn = db.connect().await;
    let scope = Scope {
        schemas: Some(vec!["public".into()]),
        ignore: vec![],
    };
    introspect::schema(&mut conn, &scope)
        .await
        .expect("introspection")
        .schema
}

fn table_name() -> QualifiedName {
    QualifiedName::new(Ident::new("public").unwrap(), Ident::new("t").unwrap())
}

#[tokio::test]
async fn printed_defaults_are_recognised_as_written() {
    let db = common::fresh_db();
    let model = live_model(&db, TABLE).await;
    let table = &model.tables[&table_name()];
    for (column, written) in DEFAULTS {
        let live = table.column(column).expect("column");
        let printed = live.default.as_deref().expect("default");
        assert!(
            same_default(printed, written, &live.data_type),
            "{column}: server printed {printed:?} for {written:?} ({})",
            live.data_type
        );
    }
    // Another value is never the same default.
    for (column, written) in DEFAULTS {
        let live = table.column(column).expect("column");
        let printed = live.default.as_deref().expect("default");
        let other = if let Some(rest) = written.strip_prefix('\'') {
            format!("'zz{rest}")
        } else if *written == "now()" {
            "clock_timestamp()".to_owned()
        } else {
            "7".to_owned()
        };
        assert!(
            !same_default(printed, &other, &live.data_type),
            "{column}: {printed:?} wrongly equal to {other:?}"
        );
    }
}

#[tokio::test]
async fn printed_checks_are_recognised_as_written() {
    let db = common::fresh_db();
    let mut sql = String::from(TABLE);
    for (i, check) in CHECKS.iter().chain(LEFT_TO_THE_SERVER).enumerate() {
        sql.push_str(&format!(
            "\nALTER TABLE t ADD CONSTRAINT c{i:02} CHECK ({check});"
        ));
        sql.push_str(&format!(
            "\nCREATE INDEX i{i:02} ON t (id) WHERE {};",
            // Index predicates must be immutable: now() and casts to date are not.
            if check.contains("ts ") || check.contains("d >") {
                "id > 0"
            } else {
                check
            }
        ));
    }
    let model = live_model(&db, &sql).await;
    let table = &model.tables[&table_name()];
    let types: ColumnTypes<'_> = table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    let printed_check = |i: usize| -> String {
        let name = format!("c{i:02}");
        match &table
            .constraints
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .expect("check")
            .1
            .kind
        {
            ConstraintKind::Check { expression, .. } => expression.clone(),
            other => panic!("{other:?}"),
        }
    };
    let printed_predicate = |i: usize| -> String {
        let name = format!("i{i:02}");
        let index = table
            .indexes
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .expect("index")
            .1;
        index.predicate.clone().expect("predicate")
    };
    for (i, written) in CHECKS.iter().enumerate() {
        let printed = printed_check(i);
        assert!(
            same_expression(&printed, written, &types),
            "check: server printed {printed:?} for {written:?}"
        );
        if !(written.contains("ts ") || written.contains("d >")) {
            let printed = printed_predicate(i);
            assert!(
                same_expression(&printed, written, &types),
                "predicate: server printed {printed:?} for {written:?}"
            );
        }
        // Every written form differs from every other check's printed form.
        for (j, other) in CHECKS.iter().enumerate() {
            if i != j {
                assert!(
                    !same_expression(&printed_check(j), written, &types),
                    "{written:?} wrongly equal to the printed form of {other:?}"
                );
            }
        }
    }
    for (k, written) in LEFT_TO_THE_SERVER.iter().enumerate() {
        let printed = printed_check(CHECKS.len() + k);
        assert!(
            printed == *written || !same_expression(&printed, written, &types),
            "{written:?} is now recognised locally ({printed:?}): move it to CHECKS"
        );
    }
}
