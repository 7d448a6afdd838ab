//! The local equivalence rules (src/normalise/equivalence.rs) against the real server: for
//! each expression as a person writes it, PostgreSQL stores and prints it, and the rules must
//! recognise the printed form as the written one — and must not recognise it as a slightly
//! different written one. If PostgreSQL printed something the rules do not expect, the first
//! test fails here rather than as false drift (or, worse, a missed difference) in a plan.

use crate::common;

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

// ---------------------------------------------------------------------------------------------
// Canonicalisation object by object (src/canon.rs): a changed or new table is not built whole
// on the scratch server; each changed column, check and index is built once on a small table of
// its own, shared by every table that adds the same object. Whatever is built, the result must
// be what PostgreSQL stores when the desired state is created as written.

const CANON_ENUM: &str = "CREATE TYPE record_status AS ENUM ('draft', 'active');";

/// t1 and t2 of the desired state, as SQL (`{t}` is the table): the same additions to two
/// tables, so that they share the objects built for them.
const CANON_CHANGED_TABLE_SQL: &str = "
CREATE TABLE {t} (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    status record_status NOT NULL DEFAULT 'active',
    attrs jsonb NOT NULL DEFAULT '{}',
    amount numeric(12,2) DEFAULT 0 CONSTRAINT {t}_amount_check CHECK (amount >= 0),
    code varchar(32),
    name_len integer GENERATED ALWAYS AS (length(name)) STORED,
    seq bigint GENERATED BY DEFAULT AS IDENTITY (START 10),
    CONSTRAINT {t}_code_check CHECK (code <> 'z' AND status = 'active')
);
CREATE INDEX {t}_named_idx ON {t} (name) WHERE code IS NOT NULL;
CREATE INDEX {t}_lower_idx ON {t} (lower(name));
";

/// t3 of the desired state, as SQL: a new table.
const CANON_NEW_TABLE_SQL: &str = "
CREATE TABLE t3 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    t1_id bigint NOT NULL REFERENCES t1 (id),
    label varchar(20) NOT NULL DEFAULT 'x',
    at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT t3_label_key UNIQUE (label, t1_id)
);
CREATE INDEX t3_at_idx ON t3 (t1_id, at DESC);
";

/// The desired state, as SQL: what the server stores for it is the oracle.
fn canon_desired_sql() -> String {
    format!(
        "{CANON_ENUM}{}{}{CANON_NEW_TABLE_SQL}",
        CANON_CHANGED_TABLE_SQL.replace("{t}", "t1"),
        CANON_CHANGED_TABLE_SQL.replace("{t}", "t2")
    )
}

/// t1 and t2 of the desired state, as YAML (`{t}` is the table).
const CANON_CHANGED_TABLE_YAML: &str = r#"
  {t}:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true }
      status: { type: record_status, not_null: true, default: "'active'" }
      attrs: { type: jsonb, not_null: true, default: "'{}'" }
      amount: { type: "numeric(12,2)", default: "0" }
      code: varchar(32)
      name_len: { type: integer, generated: "length(name)" }
      seq: { type: bigint, identity: { generated: by_default, start: 10 } }
    checks:
      {t}_amount_check: amount >= 0
      {t}_code_check: "code <> 'z' AND status = 'active'"
    indexes:
      - { name: {t}_named_idx, columns: [name], where: code IS NOT NULL }
      - { name: {t}_lower_idx, columns: [{ expression: "lower(name)" }] }"#;

/// t3 of the desired state, as YAML.
const CANON_NEW_TABLE_YAML: &str = r#"
  t3:
    columns:
      id: { type: bigint, identity: always, primary_key: true }
      t1_id: { type: bigint, not_null: true, references: t1 }
      label: { type: varchar(20), not_null: true, default: "'x'" }
      at: { type: timestamptz, not_null: true, default: "now()" }
    unique:
      - { name: t3_label_key, columns: [label, t1_id] }
    indexes:
      - { name: t3_at_idx, columns: [t1_id, { column: at, order: desc }] }
"#;

/// The same desired state, as YAML.
fn canon_desired_yaml() -> String {
    format!(
        "enums:\n  record_status: [draft, active]\ntables:{}{}{CANON_NEW_TABLE_YAML}",
        CANON_CHANGED_TABLE_YAML.replace("{t}", "t1"),
        CANON_CHANGED_TABLE_YAML.replace("{t}", "t2")
    )
}

/// The live database: t1 and t2 have only their key and name, t3 does not exist.
const CANON_LIVE_SQL: &str = "
CREATE TABLE t1 (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE t2 (id bigint PRIMARY KEY, name text NOT NULL);
";

#[tokio::test]
async fn object_by_object_canonicalisation_prints_what_the_server_stores() {
    let truth_db = common::fresh_db();
    let oracle = live_model(&truth_db, &canon_desired_sql()).await;
    let live_db = common::fresh_db();
    let live = live_model(&live_db, &format!("{CANON_ENUM}{CANON_LIVE_SQL}")).await;
    let desired = reconcile::load::from_sources(&[(
        std::path::PathBuf::from("desired.yaml"),
        canon_desired_yaml(),
    )])
    .expect("the desired YAML loads");
    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    // Against the live state (changed tables t1, t2 and new t3), and from nothing (every table
    // new): both must print exactly what the server stored for the desired state.
    for (what, against) in [
        ("against the live state", Some(&live)),
        ("from nothing", None),
    ] {
        let canonical = reconcile::canon::canonicalise_against(&desired, against, &mut conn)
            .await
            .expect("canonicalisation");
        assert!(
            canonical.unverified.is_empty(),
            "{what}: {:?}",
            canonical.unverified
        );
        for (name, expected) in &oracle.tables {
            assert_eq!(
                canonical.schema.tables.get(name),
                Some(expected),
                "{what}: {name} differs from what the server stores"
            );
        }
        assert_eq!(canonical.schema.tables.len(), oracle.tables.len(), "{what}");
    }
    // Nothing was left behind on the scratch database.
    let left = scratch
        .psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        .expect("count");
    assert_eq!(left.trim(), "0");
}

/// An object the scratch server rejects (here: a function that exists only in the live
/// database) is reported under its own table's name, never under a small table's built for
/// it, and keeps its written form.
#[tokio::test]
async fn a_rejected_object_is_reported_under_its_own_table() {
    let live_db = common::fresh_db();
    let live = live_model(
        &live_db,
        "CREATE FUNCTION is_nice(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
         CREATE TABLE t4 (id bigint PRIMARY KEY, name text NOT NULL);",
    )
    .await;
    let desired = reconcile::load::from_sources(&[(
        std::path::PathBuf::from("desired.yaml"),
        r#"
tables:
  t4:
    columns:
      id: { type: bigint, primary_key: true }
      name: { type: text, not_null: true }
      attrs: { type: jsonb, not_null: true, default: "'{}'" }
    checks:
      t4_nice_check: is_nice(name)
"#
        .to_owned(),
    )])
    .expect("the desired YAML loads");
    let scratch = common::fresh_db();
    let mut conn = scratch.connect().await;
    let canonical = reconcile::canon::canonicalise_against(&desired, Some(&live), &mut conn)
        .await
        .expect("canonicalisation");
    let objects: Vec<String> = canonical
        .unverified
        .iter()
        .map(|r| r.object.to_string())
        .collect();
    assert_eq!(objects, ["table public.t4"]);
    let t4 = &canonical.schema.tables
        [&QualifiedName::new(Ident::new("public").unwrap(), Ident::new("t4").unwrap())];
    let check = &t4.constraints[&Ident::new("t4_nice_check").unwrap()];
    assert!(
        matches!(&check.kind, ConstraintKind::Check { expression, .. } if expression == "is_nice(name)"),
        "{check:?}"
    );
    assert!(t4.column("attrs").is_some());
}
