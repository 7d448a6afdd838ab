//! Synthetic schema generator for the performance benchmark (issue 6).
//!
//! # Why this exists
//!
//! reconcile must stay close to the cost of reading the catalog at 10,000 tables, and that
//! claim needs a schema anyone can rebuild: this program writes, for N tables,
//!
//! * `DIR/schema/tables_NNN.yaml` — the desired state in reconcile's YAML format
//!   (docs/schema-format.md), 100 tables per file, and `DIR/schema/objects_NNN.sql` — the
//!   views, functions and triggers of those tables as SQL;
//! * `DIR/current.sql` — a script for the "current" database: the desired state with drift;
//! * `DIR/desired.sql` — the desired state as SQL, without drift (for peers such as migra,
//!   which diff two live databases, and as an in-sync sanity check);
//! * `DIR/manifest.json` — what was generated and which drift was injected.
//!
//! Tables are realistic rather than uniform: an identity primary key, ~20 columns of mixed
//! types (numeric, text, varchar, jsonb, arrays, uuid, inet, bytea, an enum, timestamps, ...)
//! with defaults, a multi-column unique constraint, checks on about a third of the tables, a
//! foreign key to an earlier table on half of them, and 2–3 secondary indexes (a multi-column
//! one with a DESC key, a partial one, a GIN on jsonb). About 3% of the tables are partitioned
//! by month on `created_at` (`RANGE`), each with four monthly partitions and a DEFAULT one —
//! tables of their own beside the N (their key is `(id, created_at)`, and no foreign key
//! points at them). Privileges are Supabase's: three roles with USAGE on the schema and
//! privileges on every table (one reads, one writes, one has them all), a column privilege on
//! a tenth of the tables, and default privileges. Every table has a comment; every tenth has
//! row-level security with a tenant-isolation policy. Beside the YAML, `.sql` files declare one
//! view and one trigger function per four tables (the view reads the first two tables of its
//! four), and a `BEFORE UPDATE` trigger on every other table calls its group's function.
//!
//! The drift knob (`--drift PCT`, default 10) makes PCT% of the tables miss one or two
//! columns and/or an index (and the reading role's privilege) in the current database (a
//! partitioned table may miss its newest partition), and adds a few missing tables, a few
//! extra columns, extra privileges and type changes (findings that are reported, never run).
//! A drifted table has an older comment (replaced in place), lacks its trigger and policy, and
//! when it is the first of its four, its group's view and function have older definitions
//! (replaced in place); a missing table takes its view, function and triggers with it.
//! `--drift 0` makes
//! the current database identical to the desired state.
//!
//! Output is a pure function of the options (a tiny SplitMix64 PRNG, no dependencies), so a
//! seed names a schema.
//!
//! ```sh
//! cargo run --release --example genschema -- --tables 1000 --drift 10 --seed 1 --out target/bench/gen-1000
//! ```
//!
//! `examples/bench.rs` includes this file as a module and calls [`generate`].

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Number of tables in the desired state.
    #[arg(long, default_value_t = 100)]
    pub tables: usize,
    /// Percentage of tables that miss columns or indexes in the current database (0: none,
    /// and no other drift either).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub drift: u32,
    /// PRNG seed: the same options always give byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, clap::Parser)]
#[command(about = "Write a synthetic schema (YAML desired state + drifted current.sql)")]
struct Cli {
    #[command(flatten)]
    options: Options,
    /// Output directory (created; generated files in it are replaced).
    #[arg(long)]
    out: PathBuf,
}

/// What [`generate`] wrote, also saved as `manifest.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifest {
    pub tables: usize,
    pub drift_pct: u32,
    pub seed: u64,
    /// Schemas the desired state describes (reconcile's introspection scope).
    pub schemas: Vec<String>,
    pub columns: usize,
    pub indexes: usize,
    pub foreign_keys: usize,
    pub checks: usize,
    /// Tables absent from the current database.
    pub missing_tables: Vec<String>,
    /// Tables present but missing columns and/or indexes.
    pub drifted_tables: usize,
    pub missing_columns: usize,
    pub missing_indexes: usize,
    /// Foreign keys absent because their target table is missing.
    pub missing_foreign_keys: usize,
    /// `table.column` present only in the current database.
    pub extra_columns: Vec<String>,
    /// `table.column` whose type differs in the current database.
    pub type_changes: Vec<String>,
    pub yaml_files: usize,
    /// Partitioned tables among `tables`, and their partitions (tables beside `tables`).
    pub partitioned_tables: usize,
    pub partitions: usize,
    /// Partitions absent from the current database (their parent is there).
    pub missing_partitions: usize,
    /// Privileges on tables, columns and the schema (one per role and privilege).
    pub grants: usize,
    /// Privileges absent from the current database (planned as GRANTs).
    pub missing_grants: usize,
    /// Privileges only the current database has (reported, never revoked).
    pub extra_grants: usize,
    /// Views and trigger functions (one per four tables), triggers (every other table),
    /// policies (every tenth table) and table comments (every table).
    pub views: usize,
    pub functions: usize,
    pub triggers: usize,
    pub policies: usize,
    pub comments: usize,
    /// Of those, absent from the current database (created by the plan).
    pub missing_views: usize,
    pub missing_functions: usize,
    pub missing_triggers: usize,
    pub missing_policies: usize,
    /// Of those, with another definition in the current database (replaced in place).
    pub changed_views: usize,
    pub changed_functions: usize,
    pub changed_comments: usize,
}

/// Tables per YAML file.
const TABLES_PER_FILE: usize = 100;
/// The schema everything lives in.
const SCHEMA: &str = "public";
/// Share of tables that are partitioned, and the monthly partitions each has (plus DEFAULT).
const PARTITIONED_PCT: u32 = 3;
const MONTHS: usize = 4;

/// The one enum type (in the first YAML file; used by the `status` column).
const ENUM_NAME: &str = "record_status";
const ENUM_LABELS: &[&str] = &["draft", "active", "suspended", "archived"];
/// The roles privileges are granted to (made by the SQL scripts, which the bench runs on its
/// own throwaway cluster): Supabase's three, as YAML and SQL write their table privileges.
const ROLES: [(&str, &str, &str); 3] = [
    ("bench_anon", "[select]", "SELECT"),
    (
        "bench_authenticated",
        "[select, insert, update, delete]",
        "SELECT, INSERT, UPDATE, DELETE",
    ),
    ("bench_service", "all", "ALL"),
];
/// Privileges per table: 1 + 4 + 7.
const TABLE_GRANTS: usize = 12;

/// Whether table `i` has a column privilege (`code`, UPDATE by the reading role).
fn column_grant(i: usize) -> bool {
    i.is_multiple_of(10)
}

/// Tables per view and per trigger function.
const TABLES_PER_ROUTINE: usize = 4;

/// Whether table `i` has a `BEFORE UPDATE` trigger calling its group's function.
fn has_trigger(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Whether table `i` has row-level security and a tenant-isolation policy.
fn has_policy(i: usize) -> bool {
    i % 10 == 5
}

/// The trigger function of the group of table `i`.
fn touch_function(i: usize) -> String {
    format!("touch_{:05}", i / TABLES_PER_ROUTINE)
}

/// The policy's condition (a setting, as Supabase-style projects key tenants).
const POLICY_USING: &str = "tenant_id = current_setting('app.tenant_id')::bigint";

/// The table's comment; a drifted table has the older one.
fn table_comment(i: usize, t: &Table, old: bool) -> String {
    let noun = t.name.rsplit_once('_').map_or(t.name.as_str(), |(n, _)| n);
    if old {
        format!("{noun} records")
    } else {
        format!("{noun} records of tenant {}, table {i}", i % 7)
    }
}

/// How drift shows in the group of four tables starting at `first`: the view (on `first`
/// and `first + 1`) and the function are absent when a table they need is, and have older
/// definitions when `first` drifted.
struct GroupDrift {
    view_missing: bool,
    function_missing: bool,
    changed: bool,
}

fn group_drift(first: usize, tables: &[Table], drift: &[Drift]) -> GroupDrift {
    let second_missing = first + 1 < tables.len() && drift[first + 1].missing;
    GroupDrift {
        view_missing: drift[first].missing || second_missing,
        function_missing: drift[first].missing,
        changed: !drift[first].missing_columns.is_empty()
            || !drift[first].missing_indexes.is_empty(),
    }
}

/// Whether table `i` lacks its trigger in the current database: the table is missing or
/// drifted, or its group's function is missing.
fn trigger_missing(drift: &[Drift], i: usize) -> bool {
    let d = &drift[i];
    d.missing || is_drifted(d) || drift[i - i % TABLES_PER_ROUTINE].missing
}

/// Whether a drifted table `d` lacks what drift takes away from it (its trigger and policy)
/// and has its older comment.
fn is_drifted(d: &Drift) -> bool {
    !d.missing_columns.is_empty()
}

const NOUNS: &[&str] = &[
    "account",
    "address",
    "invoice",
    "payment",
    "order",
    "shipment",
    "product",
    "customer",
    "supplier",
    "contract",
    "ticket",
    "message",
    "session",
    "device",
    "event",
    "report",
    "project",
    "task",
    "comment",
    "attachment",
    "campaign",
    "lead",
    "employee",
    "department",
    "warehouse",
    "booking",
    "coupon",
    "review",
    "subscription",
    "refund",
    "voucher",
    "policy",
];

/// A SplitMix64 generator: tiny, fast and good enough for picking things.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`%.
    fn percent(&mut self, pct: u32) -> bool {
        self.below(100) < pct as usize
    }
}

/// An optional column: name, type, NOT NULL, default (SQL expression).
type Template = (&'static str, &'static str, bool, Option<&'static str>);

/// Columns a table may have besides the fixed ones, in table order.
const OPTIONAL: &[Template] = &[
    ("name", "text", true, Some("''")),
    ("description", "text", false, None),
    ("status", ENUM_NAME, true, Some("'active'")),
    ("priority", "smallint", true, Some("0")),
    ("quantity", "integer", true, Some("0")),
    ("amount", "numeric(12,2)", true, Some("0")),
    ("currency", "character(3)", true, Some("'EUR'")),
    ("ratio", "double precision", false, None),
    ("score", "real", false, None),
    ("is_active", "boolean", true, Some("true")),
    ("tags", "text[]", true, Some("'{}'")),
    ("external_id", "uuid", true, Some("gen_random_uuid()")),
    ("email", "character varying(255)", false, None),
    ("phone", "character varying(32)", false, None),
    ("country", "character(2)", false, None),
    ("birth_date", "date", false, None),
    ("opens_at", "time without time zone", false, None),
    ("retention", "interval", true, Some("'30 days'")),
    ("ip_address", "inet", false, None),
    ("payload", "bytea", false, None),
    ("settings", "json", false, None),
    ("counter", "bigint", true, Some("0")),
    ("version", "integer", true, Some("1")),
    ("notes", "text", false, None),
    ("expires_at", "timestamp without time zone", false, None),
    ("latitude", "numeric(9,6)", false, None),
    ("scores", "integer[]", false, None),
];

#[derive(Debug, Clone)]
struct Col {
    name: &'static str,
    ty: &'static str,
    not_null: bool,
    default: Option<&'static str>,
    /// Column-level check (named `<table>_<column>_check` by PostgreSQL and reconcile).
    check: Option<&'static str>,
    unique: bool,
    /// Referenced table (its primary key) and ON DELETE action (SQL, YAML).
    references: Option<(usize, &'static str, &'static str)>,
    /// Used by an index, key or check: never dropped as drift.
    pinned: bool,
}

impl Col {
    fn new(
        name: &'static str,
        ty: &'static str,
        not_null: bool,
        default: Option<&'static str>,
    ) -> Self {
        Col {
            name,
            ty,
            not_null,
            default,
            check: None,
            unique: false,
            references: None,
            pinned: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Index {
    name: String,
    method: Option<&'static str>,
    /// Column name and DESC.
    keys: Vec<(&'static str, bool)>,
    predicate: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    identity_always: bool,
    cols: Vec<Col>,
    /// Table-level checks: name suffix → expression (named `<table>_<suffix>`).
    checks: Vec<(&'static str, &'static str)>,
    indexes: Vec<Index>,
    /// Partitioned by month on `created_at`, with [`MONTHS`] partitions and a DEFAULT one.
    partitioned: bool,
}

impl Table {
    /// (name, bound) of each partition, oldest first, the DEFAULT one last.
    fn partitions(&self) -> Vec<(String, String)> {
        if !self.partitioned {
            return Vec::new();
        }
        let mut out: Vec<(String, String)> = (0..MONTHS)
            .map(|m| {
                (
                    format!("{}_2026_{:02}", self.name, m + 1),
                    format!(
                        "FOR VALUES FROM ('2026-{:02}-01') TO ('2026-{:02}-01')",
                        m + 1,
                        m + 2
                    ),
                )
            })
            .collect();
        out.push((format!("{}_other", self.name), "DEFAULT".to_owned()));
        out
    }
}

/// How the current database differs from the desired state for one table.
#[derive(Debug, Clone, Default)]
struct Drift {
    missing: bool,
    missing_columns: Vec<&'static str>,
    missing_indexes: Vec<String>,
    extra_column: bool,
    /// Column whose type differs, with the current type.
    type_change: Option<(&'static str, &'static str)>,
    /// The newest monthly partition is absent.
    missing_partition: bool,
}

fn build_table(i: usize, rng: &mut Rng) -> Table {
    let name = format!("{}_{i:05}", NOUNS[rng.below(NOUNS.len())]);
    let mut cols = vec![
        Col::new("id", "bigint", true, None),
        Col::new("tenant_id", "bigint", true, None),
        Col::new("code", "character varying(32)", true, None),
    ];
    if i > 0 && rng.percent(50) {
        let target = rng.below(i);
        let action = match rng.below(3) {
            0 => ("CASCADE", "cascade"),
            1 => ("SET NULL", "set_null"),
            _ => ("NO ACTION", "no_action"),
        };
        let mut parent = Col::new("parent_id", "bigint", false, None);
        parent.references = Some((target, action.0, action.1));
        parent.pinned = true;
        cols.push(parent);
    }
    // 13..=17 of the optional columns, in their order.
    let wanted = 13 + rng.below(5);
    let mut chosen = vec![false; OPTIONAL.len()];
    let mut count = 0;
    while count < wanted {
        let k = rng.below(OPTIONAL.len());
        if !chosen[k] {
            chosen[k] = true;
            count += 1;
        }
    }
    for (k, &(n, ty, not_null, default)) in OPTIONAL.iter().enumerate() {
        if chosen[k] {
            cols.push(Col::new(n, ty, not_null, default));
        }
    }
    cols.extend([
        Col::new("attributes", "jsonb", true, Some("'{}'")),
        Col::new(
            "created_at",
            "timestamp with time zone",
            true,
            Some("now()"),
        ),
        Col::new(
            "updated_at",
            "timestamp with time zone",
            true,
            Some("now()"),
        ),
        Col::new("deleted_at", "timestamp with time zone", false, None),
    ]);
    for c in &mut cols {
        if matches!(
            c.name,
            "id" | "tenant_id" | "code" | "created_at" | "updated_at" | "deleted_at" | "attributes"
        ) {
            c.pinned = true;
        }
    }
    let has = |cols: &[Col], n: &str| cols.iter().any(|c| c.name == n);

    let mut checks = Vec::new();
    if rng.percent(35) {
        checks.push(("code_check", "char_length(code) > 0"));
        for c in &mut cols {
            match c.name {
                "amount" => c.check = Some("amount >= 0"),
                "quantity" => c.check = Some("quantity >= 0"),
                "priority" => c.check = Some("priority BETWEEN 0 AND 9"),
                _ => continue,
            }
            c.pinned = true;
        }
        if has(&cols, "updated_at") && rng.percent(50) {
            checks.push(("updated_check", "updated_at >= created_at"));
        }
    }
    if let Some(c) = cols.iter_mut().find(|c| c.name == "external_id")
        && rng.percent(50)
    {
        c.unique = true;
        c.pinned = true;
    }

    let mut indexes = vec![Index {
        name: format!("{name}_tenant_created_idx"),
        method: None,
        keys: vec![("tenant_id", false), ("created_at", true)],
        predicate: None,
    }];
    let partial = rng.percent(70);
    let gin = rng.percent(70);
    if partial || !gin {
        let (key, predicate, pin) = if has(&cols, "status") && rng.percent(40) {
            ("updated_at", "status = 'active'", "status")
        } else if has(&cols, "is_active") && rng.percent(30) {
            ("updated_at", "is_active", "is_active")
        } else {
            ("updated_at", "deleted_at IS NULL", "deleted_at")
        };
        for c in &mut cols {
            if c.name == pin {
                c.pinned = true;
            }
        }
        indexes.push(Index {
            name: format!("{name}_live_idx"),
            method: None,
            keys: vec![(key, false)],
            predicate: Some(predicate),
        });
    }
    if gin {
        indexes.push(Index {
            name: format!("{name}_attributes_idx"),
            method: Some("gin"),
            keys: vec![("attributes", false)],
            predicate: None,
        });
    }
    let identity_always = rng.percent(70);
    let partitioned = rng.percent(PARTITIONED_PCT);
    if partitioned {
        // A partitioned table's keys include its partition key: the one-column unique key goes.
        for c in &mut cols {
            c.unique = false;
        }
    }
    Table {
        name,
        identity_always,
        cols,
        checks,
        indexes,
        partitioned,
    }
}

/// A foreign key needs the whole key of its target: none points at a partitioned table.
fn drop_references_to_partitioned(tables: &mut [Table]) {
    let partitioned: Vec<bool> = tables.iter().map(|t| t.partitioned).collect();
    for t in tables {
        for c in &mut t.cols {
            if c.references
                .is_some_and(|(target, _, _)| partitioned[target])
            {
                c.references = None;
            }
        }
    }
}

/// Picks `count` distinct indices of `0..n` not yet `taken`, marking them.
fn pick(rng: &mut Rng, n: usize, count: usize, taken: &mut [bool]) -> Vec<usize> {
    let free = taken.iter().filter(|t| !**t).count();
    let mut out = Vec::new();
    while out.len() < count.min(free) {
        let k = rng.below(n);
        if !taken[k] {
            taken[k] = true;
            out.push(k);
        }
    }
    out.sort_unstable();
    out
}

fn plan_drift(tables: &[Table], pct: u32, rng: &mut Rng) -> Vec<Drift> {
    let n = tables.len();
    let mut drift = vec![Drift::default(); n];
    if pct == 0 || n == 0 {
        return drift;
    }
    let mut taken = vec![false; n];
    let scaled = |per_mille: usize| (n * pct as usize / per_mille).max(1);
    for k in pick(rng, n, scaled(1000), &mut taken) {
        drift[k].missing = true;
    }
    for k in pick(rng, n, scaled(2000), &mut taken) {
        drift[k].extra_column = true;
    }
    for k in pick(rng, n, scaled(5000), &mut taken) {
        drift[k].type_change = Some(("created_at", "timestamp without time zone"));
    }
    for (k, table) in tables.iter().enumerate() {
        if taken[k] || !rng.percent(pct) {
            continue;
        }
        let d = &mut drift[k];
        let what = rng.below(4); // 0, 1: columns; 2: an index; 3: both
        if what != 2 {
            let droppable: Vec<&'static str> = table
                .cols
                .iter()
                .filter(|c| !c.pinned)
                .map(|c| c.name)
                .collect();
            let count = 1 + rng.below(2);
            for _ in 0..count.min(droppable.len()) {
                let c = droppable[rng.below(droppable.len())];
                if !d.missing_columns.contains(&c) {
                    d.missing_columns.push(c);
                }
            }
        }
        if what >= 2 {
            let index = &table.indexes[rng.below(table.indexes.len())];
            d.missing_indexes.push(index.name.clone());
        }
        d.missing_partition = table.partitioned && rng.percent(50);
    }
    drift
}

/// Writes the generated files into `out`; returns (and saves) the manifest.
pub fn generate(options: &Options, out: &Path) -> io::Result<Manifest> {
    let mut rng = Rng(options.seed ^ 0x5EED_0000_0000_0006);
    let mut tables: Vec<Table> = (0..options.tables)
        .map(|i| build_table(i, &mut rng))
        .collect();
    drop_references_to_partitioned(&mut tables);
    let drift = plan_drift(&tables, options.drift, &mut rng);

    fs::create_dir_all(out)?;
    let schema_dir = out.join("schema");
    if schema_dir.is_dir() {
        for entry in fs::read_dir(&schema_dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if (name.starts_with("tables_") && name.ends_with(".yaml"))
                || (name.starts_with("objects_") && name.ends_with(".sql"))
            {
                fs::remove_file(&path)?;
            }
        }
    }
    fs::create_dir_all(&schema_dir)?;

    let no_drift = vec![Drift::default(); tables.len()];
    let mut yaml_files = 0;
    for (chunk, group) in tables.chunks(TABLES_PER_FILE).enumerate() {
        let path = schema_dir.join(format!("tables_{chunk:03}.yaml"));
        let mut w = BufWriter::new(fs::File::create(&path)?);
        write_yaml(&mut w, chunk == 0, chunk * TABLES_PER_FILE, group, &tables)?;
        w.flush()?;
        yaml_files += 1;
        let path = schema_dir.join(format!("objects_{chunk:03}.sql"));
        let mut w = BufWriter::new(fs::File::create(&path)?);
        writeln!(w, "-- Generated by examples/genschema.rs; do not edit.")?;
        write_objects(&mut w, chunk * TABLES_PER_FILE, group, &tables, &no_drift)?;
        w.flush()?;
    }
    if tables.is_empty() {
        let mut w = BufWriter::new(fs::File::create(schema_dir.join("tables_000.yaml"))?);
        write_yaml(&mut w, true, 0, &[], &tables)?;
        w.flush()?;
        yaml_files = 1;
    }

    write_sql(&out.join("desired.sql"), &tables, &no_drift)?;
    write_sql(&out.join("current.sql"), &tables, &drift)?;

    let mut manifest = Manifest {
        tables: tables.len(),
        drift_pct: options.drift,
        seed: options.seed,
        schemas: vec![SCHEMA.to_owned()],
        columns: tables.iter().map(|t| t.cols.len()).sum(),
        indexes: tables.iter().map(|t| t.indexes.len()).sum(),
        foreign_keys: 0,
        checks: tables
            .iter()
            .map(|t| t.checks.len() + t.cols.iter().filter(|c| c.check.is_some()).count())
            .sum(),
        missing_tables: Vec::new(),
        drifted_tables: 0,
        missing_columns: 0,
        missing_indexes: 0,
        missing_foreign_keys: 0,
        extra_columns: Vec::new(),
        type_changes: Vec::new(),
        yaml_files,
        partitioned_tables: tables.iter().filter(|t| t.partitioned).count(),
        partitions: tables.iter().map(|t| t.partitions().len()).sum(),
        missing_partitions: tables
            .iter()
            .zip(&drift)
            .filter(|(t, d)| t.partitioned && !d.missing && d.missing_partition)
            .count(),
        grants: ROLES.len(),
        missing_grants: 0,
        extra_grants: 0,
        views: 0,
        functions: 0,
        triggers: 0,
        policies: 0,
        comments: tables.len(),
        missing_views: 0,
        missing_functions: 0,
        missing_triggers: 0,
        missing_policies: 0,
        changed_views: 0,
        changed_functions: 0,
        changed_comments: 0,
    };
    for first in (0..tables.len()).step_by(TABLES_PER_ROUTINE) {
        let g = group_drift(first, &tables, &drift);
        manifest.views += 1;
        manifest.functions += 1;
        manifest.missing_views += usize::from(g.view_missing);
        manifest.missing_functions += usize::from(g.function_missing);
        manifest.changed_views += usize::from(g.changed && !g.view_missing);
        manifest.changed_functions += usize::from(g.changed);
    }
    for (i, d) in drift.iter().enumerate() {
        if has_trigger(i) {
            manifest.triggers += 1;
            manifest.missing_triggers += usize::from(trigger_missing(&drift, i));
        }
        if has_policy(i) {
            manifest.policies += 1;
            manifest.missing_policies += usize::from(d.missing || is_drifted(d));
        }
        manifest.changed_comments += usize::from(is_drifted(d));
    }
    for (i, (t, d)) in tables.iter().zip(&drift).enumerate() {
        manifest.grants += TABLE_GRANTS + usize::from(column_grant(i));
        if d.missing {
            manifest.missing_grants += TABLE_GRANTS + usize::from(column_grant(i));
        } else if !d.missing_columns.is_empty() {
            manifest.missing_grants += 1;
        }
        manifest.extra_grants += usize::from(d.extra_column);
        for c in &t.cols {
            if let Some((target, _, _)) = c.references {
                manifest.foreign_keys += 1;
                if !d.missing && drift[target].missing {
                    manifest.missing_foreign_keys += 1;
                }
            }
        }
        if d.missing {
            manifest.missing_tables.push(t.name.clone());
        }
        if !d.missing_columns.is_empty() || !d.missing_indexes.is_empty() {
            manifest.drifted_tables += 1;
        }
        manifest.missing_columns += d.missing_columns.len();
        manifest.missing_indexes += d.missing_indexes.len();
        if d.extra_column {
            manifest
                .extra_columns
                .push(format!("{}.legacy_ref", t.name));
        }
        if let Some((c, _)) = d.type_change {
            manifest.type_changes.push(format!("{}.{c}", t.name));
        }
    }
    let json = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
    fs::write(out.join("manifest.json"), json + "\n")?;
    Ok(manifest)
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// The type as people write it in YAML (`varchar(32)`, `timestamptz`): the loader brings
/// aliases to PostgreSQL's spelling, which is part of what is measured. Quoted when the
/// flow-style YAML needs it.
fn yaml_type(ty: &str) -> String {
    let short = if let Some(rest) = ty.strip_prefix("character varying") {
        format!("varchar{rest}")
    } else if let Some(rest) = ty.strip_prefix("character") {
        format!("char{rest}")
    } else {
        match ty {
            "timestamp with time zone" => "timestamptz",
            "timestamp without time zone" => "timestamp",
            "time without time zone" => "time",
            "double precision" => "float8",
            "integer" => "int",
            "boolean" => "bool",
            other => other,
        }
        .to_owned()
    };
    if short.contains([',', '[', ']', ' ']) {
        q(&short)
    } else {
        short
    }
}

fn write_yaml(
    w: &mut impl Write,
    first: bool,
    start: usize,
    group: &[Table],
    all: &[Table],
) -> io::Result<()> {
    writeln!(w, "# Generated by examples/genschema.rs; do not edit.")?;
    writeln!(w, "schema: {SCHEMA}")?;
    if first {
        writeln!(w, "enums:")?;
        writeln!(w, "  {ENUM_NAME}: [{}]", ENUM_LABELS.join(", "))?;
        writeln!(w, "default_privileges:")?;
        writeln!(w, "  {}:", ROLES[2].0)?;
        writeln!(w, "    tables: {{ {}: [select] }}", ROLES[0].0)?;
    }
    write_tables(w, start, group, all)?;
    write_grants(w, first, start, group)
}

/// The file's `grants:`: the schema's (in the first file) and its tables'.
fn write_grants(w: &mut impl Write, first: bool, start: usize, group: &[Table]) -> io::Result<()> {
    if !first && group.is_empty() {
        return Ok(());
    }
    writeln!(w, "grants:")?;
    if first {
        let usage: Vec<String> = ROLES.iter().map(|r| format!("{}: [usage]", r.0)).collect();
        writeln!(w, "  schema: {{ {} }}", usage.join(", "))?;
    }
    if group.is_empty() {
        return Ok(());
    }
    writeln!(w, "  tables:")?;
    let grantees: Vec<String> = ROLES.iter().map(|r| format!("{}: {}", r.0, r.1)).collect();
    let grantees = grantees.join(", ");
    for t in group {
        writeln!(w, "    {}: {{ {grantees} }}", t.name)?;
    }
    let with_column: Vec<&Table> = group
        .iter()
        .enumerate()
        .filter(|(k, _)| column_grant(start + k))
        .map(|(_, t)| t)
        .collect();
    if !with_column.is_empty() {
        writeln!(w, "  columns:")?;
        for t in with_column {
            writeln!(w, "    {}:", t.name)?;
            writeln!(w, "      code: {{ {}: [update] }}", ROLES[0].0)?;
        }
    }
    Ok(())
}

fn write_tables(
    w: &mut impl Write,
    start: usize,
    group: &[Table],
    all: &[Table],
) -> io::Result<()> {
    if group.is_empty() {
        return Ok(());
    }
    writeln!(w, "tables:")?;
    let mut line = String::new();
    for (k, t) in group.iter().enumerate() {
        let i = start + k;
        writeln!(w, "  {}:", t.name)?;
        writeln!(w, "    comment: {}", q(&table_comment(i, t, false)))?;
        if t.partitioned {
            writeln!(w, "    partition_by: RANGE (created_at)")?;
        }
        if has_policy(i) {
            writeln!(w, "    row_level_security: true")?;
            writeln!(w, "    policies:")?;
            writeln!(w, "      tenant_isolation:")?;
            writeln!(w, "        to: {}", ROLES[1].0)?;
            writeln!(w, "        using: {}", q(POLICY_USING))?;
        }
        writeln!(w, "    columns:")?;
        for c in &t.cols {
            line.clear();
            if c.name == "id" {
                let identity = if t.identity_always {
                    "always"
                } else {
                    "by_default"
                };
                let key = if t.partitioned {
                    ""
                } else {
                    ", primary_key: true"
                };
                writeln!(w, "      id: {{ type: bigint, identity: {identity}{key} }}")?;
                continue;
            }
            let plain = !c.not_null
                && c.default.is_none()
                && c.check.is_none()
                && !c.unique
                && c.references.is_none();
            let ty = yaml_type(c.ty);
            if plain {
                writeln!(w, "      {}: {ty}", c.name)?;
                continue;
            }
            let _ = write!(line, "      {}: {{ type: {ty}", c.name);
            if c.not_null {
                line.push_str(", not_null: true");
            }
            if let Some(d) = c.default {
                let _ = write!(line, ", default: {}", q(d));
            }
            if let Some(e) = c.check {
                let _ = write!(line, ", check: {}", q(e));
            }
            if c.unique {
                line.push_str(", unique: true");
            }
            if let Some((target, _, action)) = c.references {
                if action == "no_action" {
                    let _ = write!(line, ", references: {}", all[target].name);
                } else {
                    let _ = write!(
                        line,
                        ", references: {{ table: {}, on_delete: {action} }}",
                        all[target].name
                    );
                }
            }
            line.push_str(" }");
            writeln!(w, "{line}")?;
        }
        if t.partitioned {
            writeln!(w, "    primary_key: [id, created_at]")?;
            writeln!(w, "    unique:")?;
            writeln!(w, "      - [tenant_id, code, created_at]")?;
        } else {
            writeln!(w, "    unique:")?;
            writeln!(w, "      - [tenant_id, code]")?;
        }
        if !t.checks.is_empty() {
            writeln!(w, "    checks:")?;
            for (suffix, expr) in &t.checks {
                writeln!(w, "      {}_{suffix}: {}", t.name, q(expr))?;
            }
        }
        writeln!(w, "    indexes:")?;
        for ix in &t.indexes {
            line.clear();
            let _ = write!(line, "      - {{ name: {}", ix.name);
            if let Some(m) = ix.method {
                let _ = write!(line, ", using: {m}");
            }
            line.push_str(", columns: [");
            for (k, (col, desc)) in ix.keys.iter().enumerate() {
                if k > 0 {
                    line.push_str(", ");
                }
                if *desc {
                    let _ = write!(line, "{{ column: {col}, order: desc }}");
                } else {
                    line.push_str(col);
                }
            }
            line.push(']');
            if let Some(p) = ix.predicate {
                let _ = write!(line, ", where: {}", q(p));
            }
            line.push_str(" }");
            writeln!(w, "{line}")?;
        }
        for (partition, bound) in t.partitions() {
            writeln!(
                w,
                "  {partition}: {{ partition_of: {}, bound: {} }}",
                t.name,
                q(&bound)
            )?;
        }
    }
    Ok(())
}

fn write_sql(path: &Path, tables: &[Table], drift: &[Drift]) -> io::Result<()> {
    let mut w = BufWriter::new(fs::File::create(path)?);
    writeln!(w, "-- Generated by examples/genschema.rs; do not edit.")?;
    writeln!(w, "SET client_min_messages = warning;")?;
    writeln!(w, "BEGIN;")?;
    for (role, _, _) in ROLES {
        writeln!(
            w,
            "DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        )?;
        writeln!(w, "GRANT USAGE ON SCHEMA {SCHEMA} TO {role};")?;
    }
    writeln!(
        w,
        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {};",
        ROLES[2].0, ROLES[0].0
    )?;
    let labels: Vec<String> = ENUM_LABELS.iter().map(|l| format!("'{l}'")).collect();
    writeln!(
        w,
        "CREATE TYPE {SCHEMA}.{ENUM_NAME} AS ENUM ({});",
        labels.join(", ")
    )?;
    let mut line = String::new();
    for (i, (t, d)) in tables.iter().zip(drift).enumerate() {
        // One transaction per file's worth of tables: creating 10,000 tables in one would
        // exhaust the lock table (max_locks_per_transaction).
        if i > 0 && i % TABLES_PER_FILE == 0 {
            writeln!(w, "COMMIT;")?;
            writeln!(w, "BEGIN;")?;
        }
        if d.missing {
            continue;
        }
        writeln!(w, "CREATE TABLE {SCHEMA}.{} (", t.name)?;
        let cols: Vec<&Col> = t
            .cols
            .iter()
            .filter(|c| !d.missing_columns.contains(&c.name))
            .collect();
        for c in &cols {
            line.clear();
            if c.name == "id" {
                let identity = if t.identity_always {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                };
                let key = if t.partitioned { "" } else { " PRIMARY KEY" };
                let _ = write!(line, "    id bigint GENERATED {identity} AS IDENTITY{key}");
            } else {
                let ty = match d.type_change {
                    Some((name, ty)) if name == c.name => ty,
                    _ => c.ty,
                };
                let _ = write!(line, "    {} {ty}", c.name);
                if c.not_null {
                    line.push_str(" NOT NULL");
                }
                if let Some(def) = c.default {
                    let _ = write!(line, " DEFAULT {def}");
                }
                if let Some(e) = c.check {
                    let _ = write!(line, " CHECK ({e})");
                }
                if c.unique {
                    line.push_str(" UNIQUE");
                }
                if let Some((target, action, _)) = c.references
                    && !drift[target].missing
                {
                    let _ = write!(line, " REFERENCES {SCHEMA}.{}", tables[target].name);
                    if action != "NO ACTION" {
                        let _ = write!(line, " ON DELETE {action}");
                    }
                }
            }
            line.push(',');
            writeln!(w, "{line}")?;
        }
        if d.extra_column {
            writeln!(w, "    legacy_ref text,")?;
        }
        for (suffix, expr) in &t.checks {
            writeln!(w, "    CONSTRAINT {}_{suffix} CHECK ({expr}),", t.name)?;
        }
        if t.partitioned {
            writeln!(w, "    PRIMARY KEY (id, created_at),")?;
            writeln!(w, "    UNIQUE (tenant_id, code, created_at)")?;
            writeln!(w, ") PARTITION BY RANGE (created_at);")?;
            let partitions = t.partitions();
            for (k, (partition, bound)) in partitions.iter().enumerate() {
                // The newest monthly one (before DEFAULT) is the one drift leaves out.
                if d.missing_partition && k + 2 == partitions.len() {
                    continue;
                }
                writeln!(
                    w,
                    "CREATE TABLE {SCHEMA}.{partition} PARTITION OF {SCHEMA}.{} {bound};",
                    t.name
                )?;
            }
        } else {
            writeln!(w, "    UNIQUE (tenant_id, code)")?;
            writeln!(w, ");")?;
        }
        writeln!(
            w,
            "COMMENT ON TABLE {SCHEMA}.{} IS '{}';",
            t.name,
            table_comment(i, t, is_drifted(d)).replace('\'', "''")
        )?;
        if has_policy(i) {
            writeln!(
                w,
                "ALTER TABLE {SCHEMA}.{} ENABLE ROW LEVEL SECURITY;",
                t.name
            )?;
            if !is_drifted(d) {
                writeln!(
                    w,
                    "CREATE POLICY tenant_isolation ON {SCHEMA}.{} TO {} USING ({POLICY_USING});",
                    t.name, ROLES[1].0
                )?;
            }
        }
        // A drifted table lacks the reading role's privilege; one with an extra column has
        // an extra privilege too.
        let drifted = is_drifted(d);
        for (k, (role, _, privileges)) in ROLES.iter().enumerate() {
            if k == 0 && drifted {
                continue;
            }
            writeln!(w, "GRANT {privileges} ON {SCHEMA}.{} TO {role};", t.name)?;
        }
        if column_grant(i) {
            writeln!(
                w,
                "GRANT UPDATE (code) ON {SCHEMA}.{} TO {};",
                t.name, ROLES[0].0
            )?;
        }
        if d.extra_column {
            writeln!(
                w,
                "GRANT TRUNCATE ON {SCHEMA}.{} TO {};",
                t.name, ROLES[0].0
            )?;
        }
        for ix in &t.indexes {
            if d.missing_indexes.contains(&ix.name) {
                continue;
            }
            line.clear();
            let _ = write!(line, "CREATE INDEX {} ON {SCHEMA}.{}", ix.name, t.name);
            if let Some(m) = ix.method {
                let _ = write!(line, " USING {m}");
            }
            let keys: Vec<String> = ix
                .keys
                .iter()
                .map(|(c, desc)| {
                    if *desc {
                        format!("{c} DESC")
                    } else {
                        (*c).to_owned()
                    }
                })
                .collect();
            let _ = write!(line, " ({})", keys.join(", "));
            if let Some(p) = ix.predicate {
                let _ = write!(line, " WHERE {p}");
            }
            line.push(';');
            writeln!(w, "{line}")?;
        }
    }
    writeln!(w, "COMMIT;")?;
    for (chunk, group) in tables.chunks(TABLES_PER_FILE).enumerate() {
        writeln!(w, "BEGIN;")?;
        write_objects(&mut w, chunk * TABLES_PER_FILE, group, tables, drift)?;
        writeln!(w, "COMMIT;")?;
    }
    w.flush()
}

/// The views, trigger functions and triggers of the tables `start..start + group.len()` (a
/// whole number of groups of four), as `drift` leaves them.
fn write_objects(
    w: &mut impl Write,
    start: usize,
    group: &[Table],
    all: &[Table],
    drift: &[Drift],
) -> io::Result<()> {
    for first in (start..start + group.len()).step_by(TABLES_PER_ROUTINE) {
        let g = group_drift(first, all, drift);
        if !g.function_missing {
            let body = if g.changed {
                "BEGIN\n    RETURN NEW;\nEND"
            } else {
                "BEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND"
            };
            writeln!(
                w,
                "\nCREATE FUNCTION {SCHEMA}.{}() RETURNS trigger\n    LANGUAGE plpgsql\n    \
                 AS $$\n{body}\n$$;",
                touch_function(first)
            )?;
        }
        if !g.view_missing {
            let a = &all[first].name;
            let filter = if g.changed {
                ""
            } else {
                "\n  WHERE a.deleted_at IS NULL"
            };
            write!(
                w,
                "\nCREATE VIEW {SCHEMA}.{a}_recent AS\n  SELECT a.id, a.tenant_id, a.code, a.updated_at"
            )?;
            match all.get(first + 1) {
                Some(b) => write!(
                    w,
                    ", b.id AS peer_id\n  FROM {SCHEMA}.{a} a\n  LEFT JOIN {SCHEMA}.{} b \
                     ON b.tenant_id = a.tenant_id AND b.code = a.code",
                    b.name
                )?,
                None => write!(w, "\n  FROM {SCHEMA}.{a} a")?,
            }
            writeln!(w, "{filter};")?;
        }
    }
    for (k, t) in group.iter().enumerate() {
        let i = start + k;
        if has_trigger(i) && !trigger_missing(drift, i) {
            writeln!(
                w,
                "\nCREATE TRIGGER {}_touch BEFORE UPDATE ON {SCHEMA}.{}\n    FOR EACH ROW \
                 EXECUTE FUNCTION {SCHEMA}.{}();",
                t.name,
                t.name,
                touch_function(i)
            )?;
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    let cli = Cli::parse();
    match generate(&cli.options, &cli.out) {
        Ok(m) => {
            eprintln!(
                "wrote {} tables ({} partitioned, with {} partitions; {} columns, {} indexes, {} \
                 foreign keys) to {}: {} drifted, {} missing, {} extra columns, {} type changes",
                m.tables,
                m.partitioned_tables,
                m.partitions,
                m.columns,
                m.indexes,
                m.foreign_keys,
                cli.out.display(),
                m.drifted_tables,
                m.missing_tables.len(),
                m.extra_columns.len(),
                m.type_changes.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("genschema: cannot write {}: {e}", cli.out.display());
            std::process::ExitCode::FAILURE
        }
    }
}
