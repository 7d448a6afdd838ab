//! Partitioned tables and partitions against a real PostgreSQL 15 (issue 15, item 1):
//!
//! * range, list and hash partitioning, sub-partitioned partitions, DEFAULT partitions and a
//!   partition's own defaults converge from YAML (the plan's psql script, run twice), and pull
//!   back to the same YAML model;
//! * partitions made by hand in SQL (attached standalone tables, columns in another order,
//!   their own indexes and checks) pull with every bound and plan to nothing;
//! * a new index, unique key, primary key or foreign key on a partitioned table with rows is
//!   built partition by partition: `ON ONLY` the parent, concurrently on each partition, then
//!   attached; an interrupted build resumes by attaching what was built;
//! * a new partition next to a DEFAULT partition carries H015 with the default partition's
//!   row estimate; a changed bound, a detached, attached, extra or re-keyed partition is a
//!   finding, and no step detaches or attaches a table;
//! * the loader points at the line of a bad key, bound or parent.
//!
//! The apply test with writers on every partition is here too
//! ([`index_on_a_busy_partitioned_table_never_blocks_writers`]).

use crate::common;

use std::path::PathBuf;

use common::TestDb;
use reconcile::diff::Code;
use reconcile::model::{Ident, QualifiedName};
use reconcile::pipeline::{self, Drift};
use reconcile::plan::{HazardCode, StepKind, Transaction};

fn qn(schema: &str, name: &str) -> QualifiedName {
    QualifiedName::new(
        Ident::new(schema).expect("name"),
        Ident::new(name).expect("name"),
    )
}

fn load(yaml: &str) -> reconcile::model::Schema {
    reconcile::load::from_sources(&[(PathBuf::from("schema.yaml"), yaml.to_owned())])
        .unwrap_or_else(|e| panic!("the YAML does not load:\n{e}"))
}

fn load_error(yaml: &str) -> String {
    match reconcile::load::from_sources(&[(PathBuf::from("schema.yaml"), yaml.to_owned())]) {
        Ok(_) => panic!("loaded, but should not have:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// What `reconcile plan` computes, through the library.
async fn drift(db: &TestDb, scratch: &TestDb, desired: reconcile::model::Schema) -> Drift {
    let mut conn = db.connect().await;
    let mut scratch = scratch.connect().await;
    pipeline::drift(
        desired,
        &[],
        &mut conn,
        None,
        &mut scratch,
        &pipeline::Options::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("planning failed: {e}"))
}

fn script(drift: &Drift) -> String {
    let mut out = Vec::new();
    reconcile::render::sql::render(&drift.report("plan", "test"), &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

/// Runs the plan's psql script twice (every step is idempotent), then plans again: nothing
/// may be left to do or to report.
async fn converge(db: &TestDb, scratch: &TestDb, yaml: &str) -> Drift {
    let first = drift(db, scratch, load(yaml)).await;
    let sql = script(&first);
    for run in ["first", "second"] {
        db.psql(&sql)
            .unwrap_or_else(|e| panic!("the {run} run of the plan failed: {e}\n{sql}"));
    }
    let again = drift(db, scratch, load(yaml)).await;
    assert!(
        again.plan.steps.is_empty() && again.plan.findings.is_empty(),
        "not converged:\n{}\n--- after:\n{sql}",
        script(&again)
    );
    first
}

async fn assert_round_trip(db: &TestDb) -> common::drift::RoundTrip {
    let mut conn = db.connect().await;
    let trip = common::drift::round_trip(&mut conn, &reconcile::introspect::Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(difference) = trip.difference() {
        let files: Vec<String> = trip.files.iter().map(|(_, t)| t.clone()).collect();
        panic!(
            "load(pull(db)) differs from the database:\n{difference}\n{}",
            files.join("\n")
        );
    }
    trip
}

fn query(db: &TestDb, sql: &str) -> String {
    db.psql(&format!(
        "\\pset format unaligned\n\\pset tuples_only on\n{sql}"
    ))
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .lines()
    .filter(|l| !l.starts_with("Output format") && !l.starts_with("Tuples only"))
    .collect::<Vec<_>>()
    .join("\n")
    .trim()
    .to_owned()
}

const EVERY_STRATEGY: &str = r#"
schema: public
tables:
  events:
    partition_by: range (created_at)
    columns:
      id: { type: bigint, identity: always }
      tenant: { type: text, not_null: true }
      created_at: { type: timestamptz, not_null: true }
      note: text
      priority: { type: integer, default: 0 }
    primary_key: [id, created_at, tenant]
    indexes:
      - columns: [tenant]
  events_2026_01:
    partition_of: events
    bound: FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')
  events_2026_02:
    partition_of: events
    bound: FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')
    columns:
      priority: { default: 10 }
      note: { not_null: true }
    indexes:
      - columns: [note]
  events_old:
    partition_of: events
    bound: FOR VALUES FROM (MINVALUE) TO ('2025-01-01')
    partition_by: LIST (tenant)
  events_old_a:
    partition_of: events_old
    bound: FOR VALUES IN ('a', 'b')
  events_old_rest:
    partition_of: events_old
    bound: DEFAULT
  events_default:
    partition_of: events
    bound: DEFAULT
  buckets:
    partition_by: HASH (id)
    columns:
      id: { type: bigint, primary_key: true }
      body: text
  buckets_0: { partition_of: buckets, bound: "FOR VALUES WITH (MODULUS 2, REMAINDER 0)" }
  buckets_1: { partition_of: buckets, bound: "FOR VALUES WITH (MODULUS 2, REMAINDER 1)" }
"#;

const ARCHIVE: &str = r#"
schema: archive
tables:
  events_2025:
    partition_of: public.events
    bound: FOR VALUES FROM ('2025-01-01') TO ('2025-06-01')
"#;

#[tokio::test]
async fn every_strategy_converges_from_yaml_and_pulls_back() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    let first = converge(&db, &scratch, EVERY_STRATEGY).await;
    let created: Vec<String> = first
        .plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::CreateTable)
        .map(|s| s.sql.clone())
        .collect();
    assert_eq!(created.len(), 10, "{created:#?}");
    // A partition is created as one, its own options only; bounds in the server's words.
    assert!(
        created.iter().any(|s| s.contains(
            "PARTITION OF public.events (\n    note WITH OPTIONS NOT NULL,\n    priority WITH OPTIONS DEFAULT (10)\n) FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')"
        )),
        "{created:#?}"
    );
    let bounds = query(
        &db,
        "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c \
         WHERE c.relispartition ORDER BY 1",
    );
    assert_eq!(
        bounds,
        "buckets_0 FOR VALUES WITH (modulus 2, remainder 0)\n\
         buckets_1 FOR VALUES WITH (modulus 2, remainder 1)\n\
         events_2026_01 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')\n\
         events_2026_02 FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')\n\
         events_default DEFAULT\n\
         events_old FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')\n\
         events_old_a FOR VALUES IN ('a', 'b')\n\
         events_old_rest DEFAULT"
    );
    // The parent's index reached every partition, attached to it.
    assert_eq!(
        query(
            &db,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_tenant_idx'::regclass"
        ),
        "4"
    );
    let trip = assert_round_trip(&db).await;
    let pulled = &trip.files[0].1;
    for line in [
        "partition_by: \"RANGE (created_at)\"",
        "partition_of: events_old",
        "bound: \"FOR VALUES IN ('a', 'b')\"",
        "priority: { default: \"10\" }",
    ] {
        assert!(pulled.contains(line), "{line} not in\n{pulled}");
    }

    // A partition in another schema, of the same parent, added later.
    db.psql("CREATE SCHEMA archive").expect("schema");
    let both = [
        (PathBuf::from("public.yaml"), EVERY_STRATEGY.to_owned()),
        (PathBuf::from("archive.yaml"), ARCHIVE.to_owned()),
    ];
    let desired = reconcile::load::from_sources(&both).expect("loads");
    let plan = drift(&db, &scratch, desired.clone()).await;
    db.psql(&script(&plan)).expect("applies");
    let again = drift(&db, &scratch, desired).await;
    assert!(again.plan.is_empty(), "{}", script(&again));
    assert_round_trip(&db).await;
}

#[tokio::test]
async fn partitions_made_by_hand_pull_back_with_their_bounds() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    db.psql(
        "
        CREATE TABLE measures (city int NOT NULL, at date NOT NULL, value numeric,
                               note text DEFAULT 'none', PRIMARY KEY (city, at))
          PARTITION BY LIST (city);
        -- Created on its own, columns in another order, then attached.
        CREATE TABLE measures_1 (at date NOT NULL, note text DEFAULT 'none', value numeric,
                                 city int NOT NULL, CHECK (value >= 0));
        ALTER TABLE measures ATTACH PARTITION measures_1 FOR VALUES IN (1);
        CREATE TABLE measures_2 PARTITION OF measures (note DEFAULT 'two')
          FOR VALUES IN (2, 3) PARTITION BY RANGE (at);
        CREATE TABLE measures_2_old PARTITION OF measures_2 FOR VALUES FROM (MINVALUE) TO ('2020-01-01');
        CREATE TABLE measures_2_new PARTITION OF measures_2 FOR VALUES FROM ('2020-01-01') TO (MAXVALUE);
        CREATE TABLE measures_other PARTITION OF measures DEFAULT;
        CREATE INDEX ON measures (value);
        CREATE INDEX measures_other_note ON measures_other (note);
        ",
    )
    .expect("setup");
    let trip = assert_round_trip(&db).await;
    let live = &trip.live.schema;
    let bound = |name: &str| {
        live.tables[&qn("public", name)]
            .partition_of
            .as_ref()
            .map(|p| p.bound.clone())
    };
    assert_eq!(bound("measures_1").as_deref(), Some("FOR VALUES IN (1)"));
    assert_eq!(
        bound("measures_2_new").as_deref(),
        Some("FOR VALUES FROM ('2020-01-01') TO (MAXVALUE)")
    );
    assert_eq!(bound("measures_other").as_deref(), Some("DEFAULT"));
    // Its own check and index are the partition's; the parent's key and index are not.
    let own = &live.tables[&qn("public", "measures_1")];
    assert_eq!(own.constraints.len(), 1, "{:?}", own.constraints.keys());
    assert!(own.indexes.is_empty(), "{:?}", own.indexes.keys());
    assert_eq!(
        live.tables[&qn("public", "measures_other")].indexes.len(),
        1
    );
    // The pulled YAML plans to nothing against the database it came from.
    let again = drift(&db, &scratch, trip.loaded.clone()).await;
    assert!(again.plan.is_empty(), "{}", script(&again));
}

/// A partitioned table with rows: three partitions, one of them partitioned again.
const WITH_ROWS: &str = "
    CREATE TABLE plans (id int PRIMARY KEY);
    INSERT INTO plans VALUES (1), (2);
    CREATE TABLE orders (id bigint NOT NULL, region text NOT NULL, plan int, total numeric)
      PARTITION BY LIST (region);
    CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
    CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us') PARTITION BY HASH (id);
    CREATE TABLE orders_us_0 PARTITION OF orders_us FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE orders_us_1 PARTITION OF orders_us FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    CREATE TABLE orders_rest PARTITION OF orders DEFAULT;
    INSERT INTO orders SELECT g, (ARRAY['eu', 'us', 'xx'])[g % 3 + 1], g % 2 + 1, g
      FROM generate_series(1, 3000) g;
    ANALYZE;
";

const ORDERS: &str = r#"
tables:
  plans:
    columns:
      id: { type: integer, primary_key: true }
  orders:
    partition_by: LIST (region)
    columns:
      id: { type: bigint, not_null: true }
      region: { type: text, not_null: true }
      plan: integer
      total: numeric
    primary_key: [id, region]
    unique:
      - { name: orders_total_key, columns: [total, region, id] }
    foreign_keys:
      - { columns: [plan], references: plans }
    indexes:
      - columns: [total]
  orders_eu: { partition_of: orders, bound: "FOR VALUES IN ('eu')" }
  orders_us: { partition_of: orders, bound: "FOR VALUES IN ('us')", partition_by: HASH (id) }
  orders_us_0: { partition_of: orders_us, bound: "FOR VALUES WITH (modulus 2, remainder 0)" }
  orders_us_1: { partition_of: orders_us, bound: "FOR VALUES WITH (modulus 2, remainder 1)" }
  orders_rest: { partition_of: orders, bound: DEFAULT }
"#;

#[tokio::test]
async fn indexes_and_keys_on_a_partitioned_table_are_built_partition_by_partition() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    db.psql(WITH_ROWS).expect("setup");
    let first = converge(&db, &scratch, ORDERS).await;
    let steps = &first.plan.steps;
    let step = |object: &str| {
        steps
            .iter()
            .find(|s| s.object.to_string() == object)
            .unwrap_or_else(|| {
                panic!(
                    "no step for {object}: {:#?}",
                    steps
                        .iter()
                        .map(|s| s.object.to_string())
                        .collect::<Vec<_>>()
                )
            })
    };
    // The parent's index ON ONLY the parent, briefly; each leaf's concurrently, outside a
    // transaction; a sub-partitioned partition ON ONLY itself; all attached.
    let parent = step("index orders_total_idx on public.orders");
    assert!(
        parent.sql.contains("ON ONLY public.orders"),
        "{}",
        parent.sql
    );
    assert!(
        parent
            .hazards
            .iter()
            .any(|h| h.code == HazardCode::PartitionedTableLock)
    );
    let leaf = step("index orders_eu_total_idx on public.orders_eu");
    assert!(
        leaf.sql.starts_with("CREATE INDEX CONCURRENTLY"),
        "{}",
        leaf.sql
    );
    assert_eq!(leaf.transaction, Transaction::Outside);
    assert!(
        step("index orders_us_total_idx on public.orders_us")
            .sql
            .contains("ON ONLY public.orders_us")
    );
    let attach =
        step("attachment of index public.orders_us_0_total_idx to public.orders_us_total_idx");
    assert!(attach.sql.contains(
        "ALTER INDEX public.orders_us_total_idx ATTACH PARTITION public.orders_us_0_total_idx"
    ));
    assert!(
        attach
            .depends_on
            .contains(&step("index orders_us_0_total_idx on public.orders_us_0").number)
    );
    // Keys: ONLY on the parent, a concurrent unique index and USING INDEX on each leaf.
    let pk = step("constraint orders_pkey on public.orders");
    assert!(
        pk.sql.contains(
            "ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id, region)"
        ),
        "{}",
        pk.sql
    );
    let leaf_key = step(
        "index orders_eu_pkey on public.orders_eu (for constraint orders_eu_pkey on public.orders_eu)",
    );
    assert!(leaf_key.sql.starts_with("CREATE UNIQUE INDEX CONCURRENTLY"));
    step("attachment of index public.orders_eu_pkey to public.orders_pkey");
    step("attachment of index public.orders_us_pkey to public.orders_pkey");
    // The foreign key: NOT VALID and validated on each leaf, then on the parent at once.
    let leaf_fk = step("constraint orders_eu_plan_fkey on public.orders_eu");
    assert!(leaf_fk.sql.contains("NOT VALID"));
    let validated = step("validation of constraint orders_eu_plan_fkey on public.orders_eu");
    let parent_fk = step("constraint orders_plan_fkey on public.orders");
    assert!(!parent_fk.sql.contains("NOT VALID"), "{}", parent_fk.sql);
    assert!(parent_fk.depends_on.contains(&validated.number));
    // No step ever holds a write-blocking lock on a partition while building an index.
    for s in steps {
        if s.kind == StepKind::CreateIndex || s.kind == StepKind::CreateKeyIndex {
            let on_leaf = s
                .locks
                .iter()
                .any(|l| l.table.name.as_str() != "orders" && l.table.name.as_str() != "orders_us");
            if on_leaf {
                assert_eq!(s.transaction, Transaction::Outside, "{}", s.sql);
            }
        }
    }
    assert_eq!(
        query(&db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
    assert_eq!(
        query(
            &db,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
        ),
        "0"
    );
    assert_round_trip(&db).await;
}

#[tokio::test]
async fn an_interrupted_index_build_resumes_by_attaching_what_was_built() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    db.psql(WITH_ROWS).expect("setup");
    // What a crash after three steps leaves: the parent's index ON ONLY, one partition's
    // index built (under the name reconcile gives it), not attached.
    db.psql(
        "CREATE INDEX orders_total_idx ON ONLY orders (total);
         CREATE INDEX orders_eu_total_idx ON orders_eu (total);",
    )
    .expect("half-built");
    let yaml = r#"
tables:
  plans:
    columns:
      id: { type: integer, primary_key: true }
  orders:
    partition_by: LIST (region)
    columns:
      id: { type: bigint, not_null: true }
      region: { type: text, not_null: true }
      plan: integer
      total: numeric
    indexes:
      - columns: [total]
  orders_eu: { partition_of: orders, bound: "FOR VALUES IN ('eu')" }
  orders_us: { partition_of: orders, bound: "FOR VALUES IN ('us')", partition_by: HASH (id) }
  orders_us_0: { partition_of: orders_us, bound: "FOR VALUES WITH (modulus 2, remainder 0)" }
  orders_us_1: { partition_of: orders_us, bound: "FOR VALUES WITH (modulus 2, remainder 1)" }
  orders_rest: { partition_of: orders, bound: DEFAULT }
"#;
    let plan = drift(&db, &scratch, load(yaml)).await;
    let objects: Vec<String> = plan
        .plan
        .steps
        .iter()
        .map(|s| s.object.to_string())
        .collect();
    assert!(
        !objects
            .iter()
            .any(|o| o == "index orders_eu_total_idx on public.orders_eu"),
        "the built index is not built again: {objects:#?}"
    );
    assert!(objects.contains(
        &"attachment of index public.orders_eu_total_idx to public.orders_total_idx".to_owned()
    ));
    assert!(
        plan.plan.findings.is_empty(),
        "the partition's unattached index is not extra: {:#?}",
        plan.plan.findings
    );
    // The skipped INVALID parent index is named, not dropped.
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.object.to_string() == "index orders_total_idx on public.orders")
    );
    assert!(!script(&plan).contains("DROP INDEX"));
    converge(&db, &scratch, yaml).await;
    assert_eq!(
        query(
            &db,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_total_idx'::regclass"
        ),
        "t"
    );
}

#[tokio::test]
async fn partition_drift_is_reported_and_never_run() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    db.psql(
        "
        CREATE TABLE logs (at date NOT NULL, line text) PARTITION BY RANGE (at);
        CREATE TABLE logs_2024 PARTITION OF logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE logs_2025 PARTITION OF logs FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
        CREATE TABLE logs_2023 PARTITION OF logs FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
        CREATE TABLE logs_other PARTITION OF logs DEFAULT;
        CREATE TABLE loose (at date NOT NULL, line text);
        CREATE TABLE keyed (k int NOT NULL, v text) PARTITION BY LIST (k);
        CREATE TABLE keyed_1 PARTITION OF keyed FOR VALUES IN (1);
        INSERT INTO logs_other SELECT '2030-01-01'::date + g, 'x' FROM generate_series(1, 1500) g;
        ANALYZE logs_other;
        ",
    )
    .expect("setup");
    let yaml = r#"
tables:
  logs:
    partition_by: RANGE (at)
    columns:
      at: { type: date, not_null: true }
      line: text
  logs_2024: { partition_of: logs, bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" }
  logs_2025: { partition_of: logs, bound: "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')" }
  logs_2026: { partition_of: logs, bound: "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')" }
  logs_other: { partition_of: logs, bound: DEFAULT }
  loose: { partition_of: logs, bound: "FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')" }
  keyed:
    partition_by: RANGE (k)
    columns:
      k: { type: integer, not_null: true }
      v: text
    indexes:
      - columns: [v]
  keyed_1: { partition_of: keyed, bound: "FOR VALUES FROM (1) TO (2)" }
  keyed_2: { partition_of: keyed, bound: "FOR VALUES FROM (2) TO (3)" }
"#;
    let result = drift(&db, &scratch, load(yaml)).await;
    let findings: Vec<(Code, String)> = result
        .plan
        .findings
        .iter()
        .map(|f| (f.code, f.object.to_string()))
        .collect();
    for expected in [
        (Code::PartitionBound, "table public.logs_2025"),
        (Code::PartitionMembership, "table public.loose"),
        (Code::ExtraPartition, "table public.logs_2023"),
        (Code::PartitionKey, "table public.keyed"),
        (Code::PartitionKey, "table public.keyed_2"),
        (Code::PartitionKey, "index keyed_v_idx on public.keyed"),
        (Code::PartitionBound, "table public.keyed_1"),
    ] {
        assert!(
            findings.contains(&(expected.0, expected.1.to_owned())),
            "{expected:?} not in {findings:#?}"
        );
    }
    let suggestion = |object: &str| {
        result
            .plan
            .findings
            .iter()
            .find(|f| f.object.to_string() == object)
            .and_then(|f| f.suggestion.as_ref())
            .map(|s| s.text().to_owned())
            .unwrap_or_default()
    };
    // Not CONCURRENTLY: logs has a DEFAULT partition.
    assert_eq!(
        suggestion("table public.logs_2023"),
        "ALTER TABLE public.logs DETACH PARTITION public.logs_2023;\nDROP TABLE public.logs_2023"
    );
    assert!(suggestion("table public.loose").starts_with("ALTER TABLE public.logs ATTACH PARTITION public.loose FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')"));
    // The one step: the new partition, with the default partition's estimated rows named.
    let steps = &result.plan.steps;
    assert_eq!(steps.len(), 1, "{}", script(&result));
    assert!(
        steps[0]
            .sql
            .starts_with("CREATE TABLE IF NOT EXISTS public.logs_2026 PARTITION OF public.logs")
    );
    let h015 = steps[0]
        .hazards
        .iter()
        .find(|h| h.code == HazardCode::DefaultPartitionScan)
        .expect("H015");
    assert!(
        h015.message
            .contains("public.logs_other (table has ~1,500 rows)"),
        "{}",
        h015.message
    );
    let sql = script(&result);
    for forbidden in ["DETACH", "ATTACH PARTITION", "DROP"] {
        let in_steps = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .any(|l| l.contains(forbidden));
        assert!(!in_steps, "{forbidden} outside a comment:\n{sql}");
    }
    db.psql(&sql).expect("the plan runs");
    let after = drift(&db, &scratch, load(yaml)).await;
    assert!(after.plan.steps.is_empty(), "{}", script(&after));
}

/// Partitions may be declared in `.sql` files: beside a parent the YAML declares (the scratch
/// server builds the parent first, which pg_query's table list of the statement leaves out),
/// all in SQL, and read by a view through a YAML partition (built with its parent).
#[tokio::test]
async fn partitions_declared_in_sql_files_converge() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    let files = vec![
        (
            PathBuf::from("schema/app.yaml"),
            r#"
tables:
  events:
    partition_by: RANGE (at)
    columns:
      id: { type: bigint, not_null: true }
      at: { type: date, not_null: true }
  events_2026_01: { partition_of: events, bound: "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')" }
"#
            .to_owned(),
        ),
        (
            PathBuf::from("schema/app.sql"),
            "CREATE TABLE public.events_2026_02 PARTITION OF public.events
                 FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
             CREATE VIEW public.january AS SELECT id, at FROM public.events_2026_01;
             CREATE TABLE public.metrics (v int NOT NULL, n bigint) PARTITION BY LIST (v);
             CREATE TABLE public.metrics_1 PARTITION OF public.metrics FOR VALUES IN (1);"
                .to_owned(),
        ),
    ];
    let plan = || async {
        let loaded = reconcile::load::from_sources_located(&files)
            .unwrap_or_else(|e| panic!("the files do not load:\n{e}"));
        let mut conn = db.connect().await;
        let mut scratch = scratch.connect().await;
        pipeline::drift(
            loaded.schema,
            &loaded.sql,
            &mut conn,
            None,
            &mut scratch,
            &pipeline::Options::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("planning failed: {e}"))
    };
    let first = plan().await;
    let created: Vec<String> = first
        .plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::CreateTable)
        .map(|s| s.object.to_string())
        .collect();
    for table in ["events_2026_02", "metrics", "metrics_1"] {
        assert!(
            created.contains(&format!("table public.{table}")),
            "{table} not created: {created:?}"
        );
    }
    let sql = script(&first);
    for run in ["first", "second"] {
        db.psql(&sql)
            .unwrap_or_else(|e| panic!("the {run} run of the plan failed: {e}\n{sql}"));
    }
    let again = plan().await;
    assert!(
        again.plan.steps.is_empty() && again.plan.findings.is_empty(),
        "not converged:\n{}\n--- after:\n{sql}",
        script(&again)
    );
    assert_eq!(
        query(
            &db,
            "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c \
             WHERE c.relname IN ('events_2026_02', 'metrics_1') ORDER BY 1"
        ),
        "events_2026_02 FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')\n\
         metrics_1 FOR VALUES IN (1)"
    );
}

/// Overlapping bounds are a desired state PostgreSQL rejects: planning fails naming the
/// partitions as the desired state does (the server's message names the scratch server's
/// stand-ins, `reconcile_partition_000003`, which nobody can act on).
#[tokio::test]
async fn overlapping_bounds_are_rejected_in_the_desired_states_names() {
    let (db, scratch) = (common::fresh_db(), common::fresh_db());
    let desired = load(
        r#"
tables:
  events:
    partition_by: RANGE (at)
    columns:
      at: { type: date, not_null: true }
  events_jan: { partition_of: events, bound: "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')" }
  events_mid: { partition_of: events, bound: "FOR VALUES FROM ('2026-01-15') TO ('2026-03-01')" }
"#,
    );
    let mut conn = db.connect().await;
    let mut scratch = scratch.connect().await;
    let error = pipeline::drift(
        desired,
        &[],
        &mut conn,
        None,
        &mut scratch,
        &pipeline::Options::default(),
    )
    .await
    .expect_err("overlapping partitions must not plan");
    let pipeline::PipelineError::Rejected(rejections) = error else {
        panic!("expected a rejection of the desired state, got: {error}");
    };
    let [rejection] = rejections.as_slice() else {
        panic!("one rejection expected: {rejections:?}");
    };
    assert_eq!(
        rejection.object,
        reconcile::model::ObjectId::Table(qn("public", "events_mid"))
    );
    assert_eq!(
        rejection.error.message,
        "partition \"events_mid\" would overlap partition \"events_jan\"",
    );
}

#[test]
fn the_loader_points_at_bad_partitioning() {
    let base = |extra: &str| {
        format!(
            "tables:\n  t:\n    partition_by: LIST (k)\n    columns:\n      k: integer\n      v: text\n{extra}"
        )
    };
    let cases = [
        (
            base("  p:\n    partition_of: t\n    bound: \"FOR VALUES IN (1); DROP TABLE t\"\n"),
            "schema.yaml:9:12: not a partition bound",
        ),
        (
            base("  p:\n    partition_of: t\n    bound: FOR VALUES FROM (1) TO (2)\n"),
            "schema.yaml:9:12: the parent is partitioned by list",
        ),
        (
            base("  p:\n    partition_of: nope\n    bound: FOR VALUES IN (1)\n"),
            "schema.yaml:8:19: partition_of: no table public.nope in the desired state",
        ),
        (
            base("  p:\n    partition_of: t\n"),
            "schema.yaml:8:19: partition public.p has no `bound:`",
        ),
        (
            base("  p:\n    partition_of: t\n    bound: DEFAULT\n    columns:\n      v: {type: integer}\n"),
            "schema.yaml:11:17: column \"v\" of partition public.p has its parent's type, text, not integer",
        ),
        (
            base("  p:\n    partition_of: t\n    bound: DEFAULT\n    columns:\n      w: {not_null: true}\n"),
            "schema.yaml:11:7: partition public.p has no column \"w\"",
        ),
        (
            base("  p:\n    partition_of: t\n    bound: DEFAULT\n    columns:\n      v: {identity: always}\n"),
            "schema.yaml:11:10: a partition's column has its parent's identity",
        ),
        (
            "tables:\n  t:\n    partition_by: LIST (nope)\n    columns:\n      k: integer\n".to_owned(),
            "schema.yaml:3:19: the partition key names column \"nope\"",
        ),
        (
            "tables:\n  t:\n    partition_by: LIST (k) -- x\n    columns:\n      k: integer\n".to_owned(),
            "schema.yaml:3:19: not a partition key",
        ),
        (
            "tables:\n  t:\n    partition_by: LIST (k)\n    columns:\n      k: integer\n      id: integer\n    primary_key: [id]\n".to_owned(),
            "constraint t_pkey does not include the partition key's k",
        ),
        (
            "tables:\n  t:\n    columns:\n      k: integer\n  p:\n    partition_of: t\n    bound: DEFAULT\n".to_owned(),
            "schema.yaml:6:19: public.t is not partitioned",
        ),
        (
            "tables:\n  a:\n    partition_of: b\n    bound: DEFAULT\n    partition_by: LIST (x)\n  b:\n    partition_of: a\n    bound: DEFAULT\n    partition_by: LIST (x)\n".to_owned(),
            "is (through its own parents) a partition of it",
        ),
    ];
    for (yaml, expected) in cases {
        let error = load_error(&yaml);
        // `schema.yaml:LINE:COL: message`: the position is printed as `--> schema.yaml:L:C`.
        let (position, message) = match expected.split_once(": ") {
            Some((position, message)) if position.starts_with("schema.yaml:") => {
                (Some(position), message)
            }
            _ => (None, expected),
        };
        assert!(
            error.contains(message)
                && position.is_none_or(|p| error.contains(&format!("--> {p}\n"))),
            "expected {expected:?} in:\n{error}\n--- yaml:\n{yaml}"
        );
    }
    // A partition may come before its parent, in another file.
    let files = [
        (
            PathBuf::from("a.yaml"),
            "tables:\n  p1:\n    partition_of: t\n    bound: FOR VALUES IN (1)\n    columns:\n      v: {default: \"'x'\"}\n".to_owned(),
        ),
        (PathBuf::from("b.yaml"), base("")),
    ];
    let schema = reconcile::load::from_sources(&files).expect("loads");
    let p1 = &schema.tables[&qn("public", "p1")];
    assert_eq!(p1.columns.len(), 2);
    assert_eq!(p1.columns[1].default.as_deref(), Some("'x'"));
}

/// The issue's apply test: an index on a partitioned table of 20 partitions with rows, built
/// by `reconcile apply` while another session writes to every partition. That session runs
/// with the same `lock_timeout` as apply's steps, so a write that waited longer would fail
/// with `lock_not_available`: none may fail, writes must go on while apply runs, and the
/// parent's index must end valid, with every partition's index attached. (A plain
/// `CREATE INDEX` on the parent holds a SHARE lock on every partition for the whole build:
/// over these 800,000 rows it made such a writer fail at 500 ms when tried by hand.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_on_a_busy_partitioned_table_never_blocks_writers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const PARTITIONS: usize = 20;
    const LOCK_TIMEOUT: &str = "500ms";
    let (db, dev) = (common::fresh_db(), common::fresh_db());
    let mut setup = String::from(
        "CREATE TABLE busy (p int NOT NULL, id bigint NOT NULL, v int) PARTITION BY LIST (p);\n",
    );
    let mut yaml = String::from(
        "tables:\n  busy:\n    partition_by: LIST (p)\n    columns:\n      p: { type: integer, not_null: true }\n      id: { type: bigint, not_null: true }\n      v: integer\n    indexes:\n      - { name: busy_v_idx, columns: [{ expression: \"md5((v)::text)\" }, v] }\n",
    );
    for p in 0..PARTITIONS {
        setup.push_str(&format!(
            "CREATE TABLE busy_{p} PARTITION OF busy FOR VALUES IN ({p});\n"
        ));
        yaml.push_str(&format!(
            "  busy_{p}: {{ partition_of: busy, bound: \"FOR VALUES IN ({p})\" }}\n"
        ));
    }
    setup.push_str(&format!(
        "INSERT INTO busy SELECT g % {PARTITIONS}, g, g FROM generate_series(1, 800000) g;\nANALYZE busy;\n"
    ));
    db.psql(&setup).expect("setup");
    let schema = tempfile::tempdir().expect("a schema folder");
    std::fs::write(schema.path().join("schema.yaml"), &yaml).expect("write the YAML");
    let reconcile = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reconcile"));
        command
            .args(args)
            .args([
                "--color",
                "never",
                "--database-url",
                &db.url,
                "--dev-url",
                &dev.url,
            ])
            .arg("--schema-dir")
            .arg(schema.path())
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .stdin(std::process::Stdio::null());
        command
    };

    // The plan: the parent's index ON ONLY, 20 concurrent builds, 20 attachments.
    let output = reconcile(&["plan", "--format", "json"])
        .output()
        .expect("plan");
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    let steps = plan["steps"].as_array().expect("steps");
    let count = |kind: &str, transaction: &str| {
        steps
            .iter()
            .filter(|s| s["kind"] == kind && s["transaction"] == transaction)
            .count()
    };
    assert_eq!(count("create_index", "outside"), PARTITIONS, "{plan:#}");
    assert_eq!(
        count("attach_partition_index", "grouped"),
        PARTITIONS,
        "{plan:#}"
    );
    assert_eq!(
        count("create_index", "grouped"),
        1,
        "the ON ONLY index: {plan:#}"
    );

    // The writer: one row into every partition per round, each its own transaction.
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let mut conn = db.connect().await;
    sqlx::query("SELECT set_config('lock_timeout', $1, false)")
        .bind(LOCK_TIMEOUT)
        .execute(&mut conn)
        .await
        .expect("lock_timeout");
    let writer = tokio::spawn({
        let (stop, rounds) = (Arc::clone(&stop), Arc::clone(&rounds));
        async move {
            let mut failures = Vec::new();
            let mut id = 1_000_000i64;
            while !stop.load(Ordering::SeqCst) {
                for p in 0..PARTITIONS as i32 {
                    id += 1;
                    let inserted = sqlx::query("INSERT INTO busy (p, id, v) VALUES ($1, $2, $3)")
                        .bind(p)
                        .bind(id)
                        .bind(id as i32)
                        .execute(&mut conn)
                        .await;
                    if let Err(e) = inserted {
                        failures.push(format!("partition {p}: {e}"));
                    }
                }
                rounds.fetch_add(1, Ordering::SeqCst);
            }
            failures
        }
    });
    while rounds.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let before = rounds.load(Ordering::SeqCst);
    let mut apply = reconcile(&["apply", "--lock-timeout", LOCK_TIMEOUT]);
    let applied = tokio::task::spawn_blocking(move || apply.output().expect("apply"))
        .await
        .expect("apply task");
    let during = rounds.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    let failures = writer.await.expect("writer task");
    assert!(
        applied.status.success(),
        "apply failed:\n{}\n{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(
        failures.is_empty(),
        "writes failed while apply ran (lock_timeout {LOCK_TIMEOUT}): {failures:#?}"
    );
    assert!(
        during > 0,
        "no write to every partition completed while apply ran"
    );
    assert_eq!(
        query(
            &db,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'busy_v_idx'::regclass"
        ),
        "t"
    );
    assert_eq!(
        query(
            &db,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'busy_v_idx'::regclass"
        ),
        PARTITIONS.to_string()
    );
    let again = reconcile(&["plan"]).output().expect("plan");
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}
