//! Materialized views (issue 14) against real PostgreSQL, through the binary.
//!
//! A desired materialized view is created after the table it reads, populated (its step says
//! what the planner expects the query to cost on this database, H016), its indexes built on
//! it, and a view over it follows; the result has the same `pg_get_viewdef` and indexes as
//! the source it was pulled from. A missing index on an existing one is built concurrently;
//! one left INVALID by a failed concurrent build is dropped and built again. A changed query
//! is a finding (D169) whose suggestion drops what reads it first and runs as written; changed
//! storage options are an `ALTER MATERIALIZED VIEW`; an extra one is D168.

use crate::common;

use common::{assert_exit, text};
use serde_json::Value;

use crate::triggers::Fixture;

const LIVE: &str = "
CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, amount numeric NOT NULL);
INSERT INTO orders SELECT g, 'r' || (g % 7), g FROM generate_series(1, 5000) g;
ANALYZE orders;
";

const TABLE: &str = "tables:
  orders:
    columns:
      id: { type: bigint, primary_key: true }
      region: { type: text, not_null: true }
      amount: { type: numeric, not_null: true }
";

const TOTALS: &str = "
CREATE MATERIALIZED VIEW totals WITH (fillfactor = 90) AS
    SELECT region, sum(amount) AS total, count(*) AS orders FROM orders GROUP BY region;
CREATE UNIQUE INDEX totals_region ON totals (region);
CREATE INDEX totals_big ON totals (total DESC) WHERE total > 1000;
CREATE VIEW big_regions AS SELECT region FROM totals WHERE total > 100;
";

/// The materialized view's definition, options, population and indexes, and the views over
/// it, as the server prints them.
const CATALOG: &str = "
SELECT c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.reloptions::text, '') || ' '
       || c.relispopulated || ' ' || pg_get_viewdef(c.oid)
FROM pg_class c WHERE c.relkind IN ('m', 'v') AND c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid WHERE c.relkind = 'm'
ORDER BY 1";

fn step<'a>(plan: &'a Value, object: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["object"] == object)
        .unwrap_or_else(|| panic!("no step for {object} in {plan:#}"))
}

fn codes(plan: &Value) -> Vec<String> {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap_or(""),
                f["object"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Created in order, populated, with an estimate of what populating costs; the result is
/// what the same SQL gives, and a second plan has nothing to do.
#[test]
fn a_materialized_view_is_created_with_its_indexes_and_an_estimate() {
    let f = Fixture::new(LIVE);
    f.write("public.yaml", TABLE);
    f.write("views.sql", TOTALS);
    let plan = f.plan_json(2, &[]);
    let create = step(&plan, "materialized view public.totals");
    assert_eq!(create["kind"], "create_materialized_view");
    let hazard = &create["hazards"][0];
    assert_eq!(hazard["code"], "H016");
    let message = hazard["message"].as_str().expect("message");
    assert!(
        message.contains("the planner estimates a cost of") && message.contains("~7 rows"),
        "{message}"
    );
    let objects: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["object"].as_str())
        .collect();
    assert_eq!(
        objects,
        [
            "materialized view public.totals",
            "view public.big_regions",
            "index totals_big on public.totals",
            "index totals_region on public.totals",
        ]
    );

    assert_exit(&f.run(&["apply"]), 0);
    assert_eq!(f.query("SELECT count(*) FROM totals"), "7");
    assert_exit(&f.run(&["plan"]), 0);

    let reference = Fixture::new(LIVE);
    reference.db.psql(TOTALS).expect("the same SQL by hand");
    assert_eq!(f.query(CATALOG), reference.query(CATALOG));
}

/// A new index on an existing materialized view is built concurrently (it is read while
/// it builds); one left INVALID by a failed concurrent build is dropped and built again.
#[test]
fn indexes_on_an_existing_materialized_view_are_built_concurrently() {
    let f = Fixture::new(&format!(
        "{LIVE}
         CREATE MATERIALIZED VIEW totals WITH (fillfactor = 90) AS
             SELECT region, sum(amount) AS total, count(*) AS orders FROM orders GROUP BY region;
         CREATE VIEW big_regions AS SELECT region FROM totals WHERE total > 100;"
    ));
    // A unique index over duplicate values fails, leaving an INVALID one behind.
    let failed =
        f.db.psql("CREATE UNIQUE INDEX CONCURRENTLY totals_region ON totals ((1));");
    assert!(failed.is_err(), "{failed:?}");
    f.write("public.yaml", TABLE);
    f.write("views.sql", TOTALS);
    let plan = f.plan_json(2, &[]);
    let kinds: Vec<(&str, &str)> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or(""),
                s["object"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("create_index", "index totals_big on public.totals"),
            ("drop_invalid_index", "invalid index public.totals_region"),
            ("create_index", "index totals_region on public.totals"),
        ],
        "{plan:#}"
    );
    let build = step(&plan, "index totals_region on public.totals");
    assert!(
        build["sql"]
            .as_str()
            .is_some_and(|s| s.starts_with("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS")),
        "{build:#}"
    );
    assert_eq!(build["transaction"], "outside");
    assert_exit(&f.run(&["apply"]), 0);
    assert_exit(&f.run(&["plan"]), 0);
    assert_eq!(
        f.query("SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
}

/// A changed query cannot be replaced: D169, nothing runs; the suggestion drops the view that
/// reads it first, recreates the materialized view with its indexes, and — run as written —
/// leaves only the view for the next plan to create.
#[test]
fn a_changed_query_is_a_finding_whose_suggestion_names_what_reads_it() {
    let f = Fixture::new(&format!("{LIVE}{TOTALS}"));
    f.write("public.yaml", TABLE);
    let changed = TOTALS.replace("sum(amount) AS total", "sum(amount) * 2 AS total");
    f.write("views.sql", &changed);
    let plan = f.plan_json(3, &[]);
    assert_eq!(codes(&plan), ["D169 materialized view public.totals"]);
    assert_eq!(plan["steps"], serde_json::json!([]));
    let fix = plan["findings"][0]["suggestion"]
        .as_str()
        .expect("suggestion");
    assert!(
        fix.starts_with(
            "-- first what reads it (the next plan creates again those the desired state has): \
             view public.big_regions\nDROP VIEW IF EXISTS public.big_regions;\nDROP MATERIALIZED VIEW \
             public.totals;\nCREATE MATERIALIZED VIEW public.totals WITH (fillfactor=90) AS"
        ),
        "{fix}"
    );
    f.db.psql(fix)
        .unwrap_or_else(|e| panic!("the suggestion failed: {e}\n{fix}"));
    let plan = f.plan_json(2, &[]);
    let objects: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["object"].as_str())
        .collect();
    assert_eq!(objects, ["view public.big_regions"]);
    assert!(codes(&plan).is_empty(), "{plan:#}");
    assert_exit(&f.run(&["apply"]), 0);
    assert_exit(&f.run(&["plan"]), 0);
    let reference = Fixture::new(LIVE);
    reference.db.psql(&changed).expect("the same SQL by hand");
    assert_eq!(f.query(CATALOG), reference.query(CATALOG));
}

/// Storage options alone change in place, by hand: the suggestion is an ALTER, not a DROP.
#[test]
fn changed_storage_options_suggest_an_alter() {
    let f = Fixture::new(&format!("{LIVE}{TOTALS}"));
    f.write("public.yaml", TABLE);
    f.write(
        "views.sql",
        &TOTALS.replace(
            "WITH (fillfactor = 90)",
            "WITH (autovacuum_enabled = false)",
        ),
    );
    let plan = f.plan_json(3, &[]);
    assert_eq!(codes(&plan), ["D169 materialized view public.totals"]);
    let fix = plan["findings"][0]["suggestion"]
        .as_str()
        .expect("suggestion");
    assert_eq!(
        fix,
        "ALTER MATERIALIZED VIEW public.totals SET (autovacuum_enabled=false);\nALTER \
         MATERIALIZED VIEW public.totals RESET (fillfactor)"
    );
    f.db.psql(fix).expect("the suggestion runs");
    assert_exit(&f.run(&["plan"]), 0);
}

/// One the desired state does not have is D168, its DROP preceded by the view over it (which
/// the desired state does not have either: D160, printed after it).
#[test]
fn an_extra_materialized_view_is_reported_with_what_reads_it() {
    let f = Fixture::new(&format!("{LIVE}{TOTALS}"));
    f.write("public.yaml", TABLE);
    let plan = f.plan_json(3, &[]);
    assert_eq!(
        codes(&plan),
        [
            "D168 materialized view public.totals",
            "D160 view public.big_regions",
        ]
    );
    let fix = plan["findings"][0]["suggestion"]
        .as_str()
        .expect("suggestion");
    assert!(
        fix.ends_with(
            "DROP VIEW IF EXISTS public.big_regions;\nDROP MATERIALIZED VIEW public.totals"
        ),
        "{fix}"
    );
}

/// A materialized view over a relation reconcile does not manage (a table inheriting from
/// another) is skipped with its reason, and so is the view over it; `pull` writes neither.
#[test]
fn a_materialized_view_over_an_unmanaged_relation_is_skipped_with_what_reads_it() {
    let f = Fixture::new(
        "CREATE TABLE base (id bigint, at date);
         CREATE TABLE events () INHERITS (base);
         CREATE MATERIALIZED VIEW daily AS SELECT at, count(*) AS n FROM events GROUP BY at;
         CREATE VIEW busy AS SELECT at FROM daily WHERE n > 10;",
    );
    let out = tempfile::tempdir().expect("out folder");
    let output = f.run(&["pull", "--out", out.path().to_str().expect("UTF-8"), "-v"]);
    assert_exit(&output, 0);
    let stderr = text(&output.stderr);
    for object in ["materialized view public.daily", "view public.busy"] {
        assert!(
            stderr.contains(&format!(
                "{object}: it reads a relation or calls a function reconcile does not manage (yet)"
            )),
            "{stderr}"
        );
    }
    assert!(!out.path().join("public.sql").exists());
}

/// On an empty database the table, the materialized view over it (whose H016 says there is
/// nothing to read yet, rather than asking the planner about a table that is not there), its
/// index, the view over it and a trigger on the table all come from one plan, in that order,
/// and apply leaves nothing to do.
#[test]
fn on_an_empty_database_everything_is_created_after_what_it_reads() {
    let f = Fixture::new("");
    f.write("public.yaml", TABLE);
    f.write(
        "views.sql",
        &format!(
            "{TOTALS}\nCREATE TRIGGER same BEFORE UPDATE ON orders FOR EACH ROW \
             EXECUTE FUNCTION suppress_redundant_updates_trigger();\n"
        ),
    );
    let plan = f.plan_json(2, &[]);
    let objects: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["object"].as_str())
        .collect();
    let at = |object: &str| {
        objects
            .iter()
            .position(|o| *o == object)
            .unwrap_or_else(|| panic!("no {object} in {objects:?}"))
    };
    let table = at("table public.orders");
    let totals = at("materialized view public.totals");
    assert!(table < totals, "{objects:?}");
    assert!(totals < at("view public.big_regions"), "{objects:?}");
    assert!(
        totals < at("index totals_region on public.totals"),
        "{objects:?}"
    );
    assert!(table < at("trigger same on public.orders"), "{objects:?}");
    let message = step(&plan, "materialized view public.totals")["hazards"][0]["message"]
        .as_str()
        .expect("H016 message")
        .to_owned();
    assert!(
        message.contains("it reads public.orders, which this plan creates, so there are no rows"),
        "{message}"
    );
    assert_exit(&f.run(&["apply"]), 0);
    assert_exit(&f.run(&["plan"]), 0);
    let reference = Fixture::new(LIVE);
    reference.db.psql(TOTALS).expect("the same SQL by hand");
    reference
        .db
        .psql("TRUNCATE orders; REFRESH MATERIALIZED VIEW totals;")
        .expect("empty");
    assert_eq!(f.query(CATALOG), reference.query(CATALOG));
}

/// `pull` writes a materialized view, its indexes and the view over it as SQL that loads back
/// identically: applied to an empty database, the catalog is the source's, and the source
/// planned against its own pulled state is in sync.
#[test]
fn pulled_materialized_views_load_back_identically() {
    let source = Fixture::new(&format!("{LIVE}{TOTALS}"));
    let out = tempfile::tempdir().expect("out folder");
    let out_dir = out.path().to_str().expect("UTF-8 path");
    assert_exit(&source.run(&["pull", "--out", out_dir]), 0);
    let pulled = std::fs::read_to_string(out.path().join("public.sql")).expect("public.sql");
    assert!(
        pulled.contains("CREATE MATERIALIZED VIEW public.totals WITH (fillfactor=90) AS"),
        "{pulled}"
    );
    for entry in std::fs::read_dir(out.path())
        .expect("pulled files")
        .flatten()
    {
        std::fs::copy(entry.path(), source.schema.path().join(entry.file_name())).expect("copy");
    }
    assert_exit(&source.run(&["plan"]), 0);

    let target = Fixture::new("");
    for entry in std::fs::read_dir(out.path())
        .expect("pulled files")
        .flatten()
    {
        std::fs::copy(entry.path(), target.schema.path().join(entry.file_name())).expect("copy");
    }
    assert_exit(&target.run(&["apply"]), 0);
    assert_exit(&target.run(&["plan"]), 0);
    source
        .db
        .psql("TRUNCATE orders; REFRESH MATERIALIZED VIEW totals;")
        .expect("empty");
    assert_eq!(target.query(CATALOG), source.query(CATALOG));
}
