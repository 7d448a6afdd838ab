//! Performance benchmark of the `reconcile` binary at 100 to 10,000 tables (issue 6).
//!
//! # Why this exists
//!
//! reconcile promises that `plan` costs little more than reading the catalog, at any size.
//! This program measures that claim end to end, on schemas anyone can regenerate
//! (`examples/genschema.rs`), and keeps the numbers (`target/bench/bench-<timestamp>.json`)
//! so runs can be compared. It is a program, not a test: timings never fail `cargo test`.
//!
//! # What it does, per size N
//!
//! 1. Generates N tables with drift into `target/bench/gen-N/` (YAML + `current.sql` +
//!    `desired.sql`).
//! 2. Starts ONE throwaway PostgreSQL ([`reconcile::throwaway::Cluster`], autovacuum off) and
//!    creates `bench_current` (loaded from `current.sql` with psql), `bench_desired` (from
//!    `desired.sql`) and an empty `bench_dev`, passed as `--dev-url` so no run starts its own
//!    cluster.
//! 3. Counts round trips once, with `log_min_duration_statement = 0` on `bench_current` and
//!    `bench_dev`: every statement the server executed for one `reconcile plan`, and its
//!    server time, read back from the server log (also the warm-up run; it writes
//!    `gen-N/plan.json`).
//! 4. `--runs` times, interleaved: the *floor* — the files in `src/introspect/sql/` run raw,
//!    bound exactly as `src/introspect/mod.rs` binds them (a `text[]` of schema names), in one
//!    REPEATABLE READ READ ONLY transaction, timed inside an open sqlx session; the same
//!    queries as one `psql -f` process (start to exit); then `reconcile plan --format json
//!    --out /dev/null` as users run it — without `--dev-url`, on the warm scratch server
//!    (`src/throwaway/warm.rs`, kept in `OUT/scratch`) — the same with `--dev-url`,
//!    `reconcile verify --format json` (default path) and `reconcile pull --out TMP` as child
//!    processes (start to exit, peak RSS from `wait4`).
//! 5. Once, before the runs: `plan` with the warm scratch server stopped (a cold start: the
//!    server starts from its kept data directory, no `initdb`). Once, after: `plan` against
//!    `desired` (must be in sync: a check of the generator and of reconcile).
//! 6. `--runs` times: `reconcile apply` of the drift plan on a fresh copy of `current`
//!    (`CREATE DATABASE ... TEMPLATE`); steps per second from `reconcile.steps` (executed
//!    steps / first step start to last step end).
//! 7. With `--migra PATH`: `migra --unsafe current desired`, `--runs` times.
//! 8. Once: `plan` of the folder `pull` wrote against the database it was pulled from — the
//!    round trip must load (one file of every table of the schema) and be in sync (exit 0).
//!
//! Medians are reported; the load average is sampled before and after each size. A command
//! that fails is recorded (`FAILED`, with its error, time and peak RSS) and not repeated at
//! that size; the bench goes on with the other measurements.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench -- --sizes 100,1000 --runs 3
//! ```
//!
//! See docs/benchmarks.md.

#[allow(dead_code)] // only `generate` and `Options` are used here
#[path = "genschema.rs"]
mod genschema;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde::Serialize;
use sqlx::{Connection, PgConnection, Row};

use reconcile::throwaway::Cluster;

#[derive(Debug, Parser)]
#[command(about = "Benchmark reconcile plan/verify/pull/apply against the catalog-query floor")]
struct Cli {
    /// Table counts to measure, comma-separated (10000 takes several minutes).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sizes: Vec<usize>,
    /// Runs per measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Drift percentage passed to the generator.
    #[arg(long, default_value_t = 10)]
    drift: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The reconcile binary [default: target/release/reconcile].
    #[arg(long)]
    reconcile: Option<PathBuf>,
    /// A migra executable (e.g. /tmp/migra/bin/migra) to time side by side.
    #[arg(long)]
    migra: Option<PathBuf>,
    /// Measurements to leave out, comma-separated: plan (the default path, without
    /// --dev-url), plan-dev-url (also the round-trip count), plan-cold, verify, pull,
    /// pull-plan (needs pull), apply, in-sync, floor-psql, migra.
    #[arg(long, value_delimiter = ',', value_parser = [
        "plan", "plan-dev-url", "plan-cold", "verify", "pull", "pull-plan", "apply", "in-sync",
        "floor-psql", "migra",
    ])]
    skip: Vec<String>,
    /// Where generated schemas and results go [default: target/bench].
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

/// A child process's wall time, peak RSS and outcome.
#[derive(Debug, Clone)]
struct ChildRun {
    secs: f64,
    max_rss_kib: i64,
    code: i32,
    stderr: String,
}

/// Runs `cmd` (stdin/stdout to /dev/null, stderr captured) and reaps it with `wait4`, which
/// reports the child's own peak RSS (and that of descendants it waited for, such as initdb;
/// a PostgreSQL server it started is a daemon and is not included).
fn run_child(cmd: &mut Command) -> anyhow::Result<ChildRun> {
    let mut err = tempfile::tempfile().context("temporary file for stderr")?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.try_clone()?);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and usage are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(child); // already reaped; dropping a Child neither waits nor kills
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    let mut stderr = String::new();
    err.seek(SeekFrom::Start(0))?;
    err.read_to_string(&mut stderr)?;
    Ok(ChildRun {
        secs,
        max_rss_kib: usage.ru_maxrss,
        code,
        stderr,
    })
}

/// Fails unless the child exited with one of `ok` (reconcile: 0 in sync, 2 pending, 3 drift).
fn expect(what: &str, run: ChildRun, ok: &[i32]) -> anyhow::Result<ChildRun> {
    if ok.contains(&run.code) {
        return Ok(run);
    }
    let tail: Vec<&str> = run.stderr.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    bail!(
        "{what} exited with {} after {:.2} s (peak RSS {} MiB):\n{}",
        run.code,
        run.secs,
        mib(run.max_rss_kib),
        tail.join("\n")
    )
}

/// A command with an environment that cannot redirect it to another server.
fn clean_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "DATABASE_URL",
        "RECONCILE_DEV_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSERVICE",
        "PGOPTIONS",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Timings of one repeated measurement (median NaN, `null` in JSON, when nothing was measured).
#[derive(Debug, Clone, Serialize)]
struct Samples {
    median_secs: f64,
    secs: Vec<f64>,
    /// Median peak RSS of the child, KiB (0 for in-process measurements).
    median_max_rss_kib: i64,
    max_rss_kib: Vec<i64>,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            median_secs: f64::NAN,
            secs: Vec::new(),
            median_max_rss_kib: 0,
            max_rss_kib: Vec::new(),
        }
    }
}

impl Samples {
    fn push(&mut self, secs: f64, rss_kib: i64) {
        self.secs.push(secs);
        self.max_rss_kib.push(rss_kib);
        self.median_secs = median(&self.secs);
        let mut rss = self.max_rss_kib.clone();
        rss.sort_unstable();
        self.median_max_rss_kib = rss[rss.len() / 2];
    }

    fn child(&mut self, run: &ChildRun) {
        self.push(run.secs, run.max_rss_kib);
    }
}

fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// What `reconcile -v plan|verify` logs about its phases (see src/cli/plan.rs).
#[derive(Debug, Clone, Default, Serialize)]
struct Phases {
    tables: Option<usize>,
    catalog_queries: Option<usize>,
    introspect_secs: Option<f64>,
    canonicalise_secs: Option<f64>,
    align_secs: Option<f64>,
    /// Wall time minus the three phases: process start, YAML load, connections, diff,
    /// planning, rendering, exit.
    rest_secs: Option<f64>,
    /// The summary line (`N steps to run ...; M findings ...`).
    summary: Option<String>,
}

/// `1.5s`, `16.3ms`, `887.1µs`, `500ns` (Rust's `Debug` of a `Duration`).
fn parse_debug_duration(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches(',');
    for (suffix, scale) in [("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)] {
        if let Some(n) = s.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| v * scale);
        }
    }
    None
}

fn parse_phases(stderr: &str, wall: f64) -> Phases {
    let mut p = Phases::default();
    for line in stderr.lines() {
        if let Some(rest) = line.split("introspected ").nth(1) {
            // "990 tables in 10 catalog queries, 1.36s"
            let words: Vec<&str> = rest.split_whitespace().collect();
            p.tables = words.first().and_then(|w| w.parse().ok());
            p.catalog_queries = words.get(3).and_then(|w| w.parse().ok());
            p.introspect_secs = words.last().and_then(|w| parse_debug_duration(w));
        } else if let Some(rest) = line.split("canonicalised the desired state in ").nth(1) {
            p.canonicalise_secs = parse_debug_duration(rest);
        } else if let Some(rest) = line.split("aligned the live state in ").nth(1) {
            p.align_secs = parse_debug_duration(rest);
        } else if let Some((_, summary)) = line.split_once("/dev/null: ") {
            p.summary = Some(summary.trim().to_owned());
        }
    }
    if let (Some(i), Some(c), Some(a)) = (p.introspect_secs, p.canonicalise_secs, p.align_secs) {
        p.rest_secs = Some(wall - i - c - a);
    }
    p
}

/// Medians of the phases over several runs.
fn median_phases(all: &[Phases]) -> Phases {
    let pick = |f: fn(&Phases) -> Option<f64>| {
        let v: Vec<f64> = all.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| median(&v))
    };
    Phases {
        tables: all.iter().find_map(|p| p.tables),
        catalog_queries: all.iter().find_map(|p| p.catalog_queries),
        introspect_secs: pick(|p| p.introspect_secs),
        canonicalise_secs: pick(|p| p.canonicalise_secs),
        align_secs: pick(|p| p.align_secs),
        rest_secs: pick(|p| p.rest_secs),
        summary: all.iter().find_map(|p| p.summary.clone()),
    }
}

/// One introspection query file, as reconcile issues it.
struct CatalogQuery {
    name: String,
    sql: String,
}

/// The files of `src/introspect/sql/` and `src/kinds/sql/` (each registered kind's query):
/// `schemas` first (it decides the others' parameter), then the order `src/introspect/mod.rs`
/// reads them in; unknown new files last.
fn catalog_queries() -> anyhow::Result<Vec<CatalogQuery>> {
    const ORDER: &[&str] = &[
        "schemas",
        "extensions",
        "enums",
        "domains",
        "composites",
        "sequences",
        "owners",
        "grants",
        "default_privileges",
        "tables",
        "columns",
        "constraints",
        "indexes",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for dir in [root.join("src/introspect/sql"), root.join("src/kinds/sql")] {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            entries.push(entry);
        }
    }
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let sql = fs::read_to_string(&path)?;
        out.push(CatalogQuery { name, sql });
    }
    let rank = |n: &str| ORDER.iter().position(|o| *o == n).unwrap_or(ORDER.len());
    out.sort_by(|a, b| (rank(&a.name), &a.name).cmp(&(rank(&b.name), &b.name)));
    Ok(out)
}

/// One in-session run of every catalog query; returns total seconds and per-query seconds.
async fn floor_sql(
    url: &str,
    queries: &[CatalogQuery],
    schemas: &[String],
) -> anyhow::Result<(f64, Vec<(String, f64, usize)>)> {
    let mut conn = PgConnection::connect(url).await?;
    let start = Instant::now();
    let mut per_query = Vec::new();
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await?;
    let ignore: Vec<String> = Vec::new();
    let mut names: Vec<String> = schemas.to_vec();
    for q in queries {
        let t = Instant::now();
        let query = sqlx::query(sqlx::AssertSqlSafe(q.sql.clone()));
        // schemas.sql takes ($1 requested schemas or NULL, $2 ignored); undeclared_schemas
        // takes the requested schemas and the ignored ones; the others
        // take the schemas schemas.sql returned (src/introspect/mod.rs).
        let rows = if q.name == "undeclared_schemas" {
            query
                .bind(Some(schemas))
                .bind(&ignore)
                .fetch_all(&mut *tx)
                .await?
                .len()
        } else if !q.sql.contains("$1") {
            query.fetch_all(&mut *tx).await?.len()
        } else if q.name == "schemas" {
            let rows = query
                .bind(Some(schemas))
                .bind(&ignore)
                .fetch_all(&mut *tx)
                .await?;
            names = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            rows.len()
        } else {
            query.bind(&names).fetch_all(&mut *tx).await?.len()
        };
        per_query.push((q.name.clone(), t.elapsed().as_secs_f64(), rows));
    }
    tx.rollback().await?;
    let total = start.elapsed().as_secs_f64();
    conn.close().await?;
    Ok((total, per_query))
}

/// The catalog queries as a psql script, parameters inlined as array literals.
fn floor_script(queries: &[CatalogQuery], schemas: &[String]) -> String {
    let list: Vec<String> = schemas
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    let names = format!("ARRAY[{}]::text[]", list.join(", "));
    let mut script = String::from(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSET LOCAL search_path = public;\n",
    );
    for q in queries {
        let sql = q.sql.replace("$2", "ARRAY[]::text[]").replace("$1", &names);
        let _ = writeln!(script, "{};", sql.trim_end().trim_end_matches(';'));
    }
    script.push_str("ROLLBACK;\n");
    script
}

/// The drifted database, and the empty one passed as `--dev-url`.
const CURRENT: &str = "bench_current";
const DEV: &str = "bench_dev";

/// A new, empty `--dev-url` database before each command that canonicalises there. Every
/// canonicalisation builds the desired state in a transaction that is rolled back, leaving
/// dead catalog rows and bloated catalog indexes behind; on one reused database (even
/// vacuumed) each run is slower than the one before — at 1,000 tables apply went from 8.5 s
/// to 15 s over a dozen runs. A fresh database is what a throwaway cluster gives, and keeps
/// runs comparable.
async fn fresh_dev(admin: &mut PgConnection) -> anyhow::Result<()> {
    execute(admin, &format!("DROP DATABASE IF EXISTS {DEV}")).await?;
    execute(admin, &format!("CREATE DATABASE {DEV}")).await
}

/// `CREATE DATABASE to TEMPLATE from`, retried while a just-exited client's backend is still
/// connected to `from`.
async fn copy_database(admin: &mut PgConnection, from: &str, to: &str) -> anyhow::Result<()> {
    let sql = format!("CREATE DATABASE {to} TEMPLATE {from}");
    for _ in 0..50 {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *admin)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("running {sql}")),
        }
    }
    execute(admin, &sql).await
}

async fn execute(conn: &mut PgConnection, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}

/// Statements the server executed, counted from its log (`log_min_duration_statement = 0`).
#[derive(Debug, Clone, Default, Serialize)]
struct RoundTrips {
    /// What `reconcile -v plan` says it issued to read the catalog (not counting
    /// BEGIN/SET/COMMIT).
    reconcile_catalog_queries: Option<usize>,
    /// Every statement executed on the target database (simple-protocol queries, and
    /// extended-protocol executes; the Parse/Describe exchange of a statement sqlx has not
    /// prepared yet is one more round trip, not counted here).
    target_statements: usize,
    /// Those of them that read `pg_catalog`.
    target_catalog_statements: usize,
    /// Server time of all statements on the target (parse + bind + execute), seconds.
    target_server_secs: f64,
    /// Statements on the `--dev-url` database (canonicalisation and alignment).
    dev_statements: usize,
    /// Server time of all statements on the dev database, seconds.
    dev_server_secs: f64,
    /// The slowest statements on either database: database, seconds, first 100 characters.
    slowest: Vec<(String, f64, String)>,
}

/// Reads a server log written with `log_line_prefix = '@@%d@@ '` and
/// `log_min_duration_statement = 0`: counts statements and sums their server time.
fn count_statements(log: &str, target: &str, dev: &str) -> RoundTrips {
    /// One logged statement: database, seconds, counted (an execute or a simple query), text.
    type Entry = (String, f64, bool, String);
    let mut entries: Vec<Entry> = Vec::new();
    let mut open = false;
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("@@") else {
            // A continuation line of a multi-line statement.
            if open && let Some(e) = entries.last_mut() {
                e.3.push(' ');
                e.3.push_str(line.trim());
            }
            continue;
        };
        open = false;
        let Some((db, message)) = rest.split_once("@@ ") else {
            continue;
        };
        // "LOG:  duration: 1.234 ms  execute sqlx_s_1: SELECT ..." (also parse, bind,
        // statement)
        let Some((ms, what)) = message
            .strip_prefix("LOG:  duration: ")
            .and_then(|m| m.split_once(" ms  "))
        else {
            continue;
        };
        if db != target && db != dev {
            continue;
        }
        let secs = ms.parse::<f64>().unwrap_or(0.0) / 1000.0;
        let counted = what.starts_with("statement: ") || what.starts_with("execute ");
        let text = what.split_once(": ").map_or(what, |(_, t)| t);
        entries.push((db.to_owned(), secs, counted, text.to_owned()));
        open = true;
    }
    let mut out = RoundTrips::default();
    for (db, secs, counted, text) in &entries {
        if db == target {
            out.target_server_secs += secs;
            if *counted {
                out.target_statements += 1;
                if text.contains("pg_catalog") {
                    out.target_catalog_statements += 1;
                }
            }
        } else {
            out.dev_server_secs += secs;
            if *counted {
                out.dev_statements += 1;
            }
        }
    }
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.slowest = entries
        .into_iter()
        .take(5)
        .map(|(db, secs, _, text)| {
            let short = text.split_whitespace().collect::<Vec<_>>().join(" ");
            (db, secs, short.chars().take(100).collect())
        })
        .collect();
    out
}

#[derive(Debug, Clone, Default, Serialize)]
struct ApplyResult {
    /// Wall time of `reconcile apply` (plan, lock, execute, record, verify), and peak RSS.
    wall: Samples,
    /// `CREATE DATABASE ... TEMPLATE current` and a CHECKPOINT before each run (not part of
    /// the apply).
    copy_secs: Vec<f64>,
    steps_planned: i64,
    steps_executed: i64,
    /// First step start to last step end, from `reconcile.steps`.
    execution: Samples,
    /// Execution time as apply reports it ("applied N step(s) in X s"); the rest of the wall
    /// time is planning, the lock, history and the verification read.
    execute_reported: Samples,
    /// Sum of the recorded step durations (ms precision).
    median_step_ms_sum: f64,
    /// Executed steps / execution seconds (median run).
    steps_per_sec: f64,
    /// Execution milliseconds per step (median run).
    ms_per_step: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SizeResult {
    tables: usize,
    manifest: Option<genschema::Manifest>,
    load_avg_before: [f64; 3],
    load_avg_after: [f64; 3],
    load_current_sql_secs: f64,
    /// `ANALYZE` of the loaded databases (catalog statistics included).
    analyze_secs: f64,
    /// The catalog queries in one open sqlx session (no connect, no process start).
    floor_sql: Samples,
    /// Median seconds and rows per catalog query.
    floor_per_query: Vec<(String, f64, usize)>,
    /// The same queries as one `psql -f` process, start to exit.
    floor_psql: Samples,
    /// `plan` as users run it: no `--dev-url`, the warm scratch server.
    plan: Samples,
    plan_phases: Phases,
    /// `plan --dev-url` (an empty database on the bench's cluster): the earlier headline.
    plan_dev_url: Samples,
    plan_dev_url_phases: Phases,
    /// `plan` without `--dev-url`, the warm scratch server stopped first (cold start).
    plan_cold: Samples,
    plan_in_sync: Samples,
    plan_in_sync_phases: Phases,
    verify: Samples,
    verify_phases: Phases,
    pull: Samples,
    /// `plan` of the pulled folder against the database it came from (in sync: exit 0).
    pull_plan: Samples,
    apply: Option<ApplyResult>,
    round_trips: RoundTrips,
    migra: Option<Samples>,
    /// Numbers the saved stderr logs (`gen-N/logs/NN-name.log`).
    #[serde(skip)]
    log_seq: usize,
    /// Measurements that failed (not repeated after the first failure), and why.
    failed: Vec<String>,
    errors: Vec<String>,
    /// plan median / floor medians.
    plan_over_floor_sql: f64,
    plan_over_floor_psql: f64,
    /// plan --dev-url median / sqlx floor median.
    plan_dev_url_over_floor_sql: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    format_version: u32,
    started_at: String,
    command_line: Vec<String>,
    cpus: usize,
    cpu_model: String,
    postgres: String,
    reconcile_binary: String,
    reconcile_binary_modified: String,
    git_head: Option<String>,
    /// The files of src/introspect/sql/ the floor runs.
    catalog_query_files: Vec<String>,
    runs: usize,
    drift_pct: u32,
    seed: u64,
    sizes: Vec<SizeResult>,
}

fn load_avg() -> [f64; 3] {
    let s = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = s.split_whitespace().map(|w| w.parse().unwrap_or(f64::NAN));
    [
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
    ]
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, proleptic Gregorian).
fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Bench {
    cli: Cli,
    reconcile: PathBuf,
    out_dir: PathBuf,
    queries: Vec<CatalogQuery>,
}

impl Bench {
    fn reconcile(&self, target: &str, dev: Option<&str>, schema: &Path) -> Command {
        let mut cmd = clean_command(&self.reconcile);
        // The default path's warm scratch server is the bench's own, stopped a minute after
        // the bench (the watchdog) or explicitly before a cold start.
        cmd.env("RECONCILE_SCRATCH_DIR", self.scratch_home())
            .env("RECONCILE_SCRATCH_IDLE", "60")
            .env_remove("RECONCILE_PG_BINDIR");
        cmd.arg("-v")
            .arg("--database-url")
            .arg(target)
            .arg("--schema-dir")
            .arg(schema);
        if let Some(dev) = dev {
            cmd.arg("--dev-url").arg(dev);
        }
        cmd
    }

    fn scratch_home(&self) -> PathBuf {
        self.out_dir.join("scratch")
    }

    /// Stops the bench's warm scratch server (if running), keeping its data directory: the
    /// next default-path plan is a cold start.
    fn stop_scratch(&self, bindir: &Path) -> anyhow::Result<()> {
        let Ok(entries) = fs::read_dir(self.scratch_home()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let data = entry.path().join("data");
            if !data.join("postmaster.pid").exists() {
                continue;
            }
            let pg_ctl = bindir.join("pg_ctl");
            // SAFETY: geteuid has no preconditions and cannot fail.
            let mut cmd = if unsafe { libc::geteuid() } == 0 {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(pg_ctl);
                c
            } else {
                Command::new(pg_ctl)
            };
            let status = cmd
                .args(["stop", "-m", "fast", "-w", "-D"])
                .arg(&data)
                .current_dir("/")
                .stdout(Stdio::null())
                .status()?;
            if !status.success() {
                bail!("cannot stop the warm scratch server in {}", data.display());
            }
        }
        Ok(())
    }

    async fn size(&self, n: usize) -> anyhow::Result<SizeResult> {
        let runs = self.cli.runs.max(1);
        let mut res = SizeResult {
            tables: n,
            load_avg_before: load_avg(),
            ..SizeResult::default()
        };
        let gen_dir = self.out_dir.join(format!("gen-{n}"));
        let clock = Instant::now();
        let manifest = genschema::generate(
            &genschema::Options {
                tables: n,
                drift: self.cli.drift,
                seed: self.cli.seed,
            },
            &gen_dir,
        )
        .with_context(|| format!("cannot generate into {}", gen_dir.display()))?;
        eprintln!(
            "[{n}] generated {} tables, {} columns, {} indexes in {:.1} s ({} drifted, {} missing)",
            manifest.tables,
            manifest.columns,
            manifest.indexes,
            clock.elapsed().as_secs_f64(),
            manifest.drifted_tables,
            manifest.missing_tables.len()
        );
        let _ = fs::remove_dir_all(gen_dir.join("logs"));
        let schema_dir = gen_dir.join("schema");
        let schemas = manifest.schemas.clone();
        res.manifest = Some(manifest);

        let cluster = tokio::task::block_in_place(Cluster::start)
            .context("cannot start a throwaway PostgreSQL")?;
        let psql = {
            let p = cluster.bindir().join("psql");
            if p.exists() { p } else { PathBuf::from("psql") }
        };
        let (current, desired, dev) = (
            cluster.url(CURRENT),
            cluster.url("bench_desired"),
            cluster.url(DEV),
        );
        let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
        for sql in [
            "ALTER SYSTEM SET autovacuum = off",
            "ALTER SYSTEM SET log_line_prefix = '@@%d@@ '",
            "SELECT pg_reload_conf()",
            "CREATE DATABASE bench_current",
            "CREATE DATABASE bench_desired",
            "CREATE DATABASE bench_dev",
        ] {
            execute(&mut admin, sql).await?;
        }
        let load = |url: &str, file: &str| -> anyhow::Result<f64> {
            let run = run_child(
                clean_command(&psql)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
                    .arg(gen_dir.join(file)),
            )?;
            Ok(expect(&format!("psql -f {file}"), run, &[0])?.secs)
        };
        res.load_current_sql_secs = load(&current, "current.sql")?;
        // Only the in-sync check and migra read it; at 10,000 tables loading it takes a minute.
        let skipped = |name: &str| self.cli.skip.iter().any(|s| s == name);
        if !skipped("in-sync") || (self.cli.migra.is_some() && !skipped("migra")) {
            load(&desired, "desired.sql")?;
        }
        // Autovacuum is off (no background worker may hold a database being copied, and no
        // noise), so the catalog statistics are refreshed here, as autovacuum would.
        let clock = Instant::now();
        for url in [&current, &desired] {
            let mut conn = PgConnection::connect(url).await?;
            execute(&mut conn, "ANALYZE").await?;
            conn.close().await?;
        }
        res.analyze_secs = clock.elapsed().as_secs_f64();
        eprintln!(
            "[{n}] loaded current.sql in {:.1} s, analysed in {:.1} s",
            res.load_current_sql_secs, res.analyze_secs
        );

        // Round trips (also the warm-up run).
        let log_path = cluster.dir().join("server.log");
        fresh_dev(&mut admin).await?;
        for db in [CURRENT, DEV] {
            execute(
                &mut admin,
                &format!("ALTER DATABASE {db} SET log_min_duration_statement = 0"),
            )
            .await?;
        }
        let offset = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let counted = self.measure(
            &mut res,
            "plan-dev-url",
            self.reconcile(&current, Some(&dev), &schema_dir)
                .args(["plan", "--format", "json", "--out"])
                .arg(gen_dir.join("plan.json")),
            &[0, 2, 3],
        )?;
        for db in [CURRENT, DEV] {
            execute(
                &mut admin,
                &format!("ALTER DATABASE {db} RESET log_min_duration_statement"),
            )
            .await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut log =
            File::open(&log_path).with_context(|| format!("cannot read {}", log_path.display()))?;
        log.seek(SeekFrom::Start(offset))?;
        let mut text = String::new();
        log.read_to_string(&mut text)?;
        res.round_trips = count_statements(&text, CURRENT, DEV);
        res.round_trips.reconcile_catalog_queries = counted
            .as_ref()
            .and_then(|run| parse_phases(&run.stderr, run.secs).catalog_queries);
        if let Some(issued) = res.round_trips.reconcile_catalog_queries
            && issued != self.queries.len()
        {
            eprintln!(
                "[{n}] WARNING: the binary issues {issued} catalog queries but \
                 src/introspect/sql has {} files: the floor does not match the binary \
                 (rebuild with cargo build --release?)",
                self.queries.len()
            );
        }

        // The default path once with its server stopped (warmed first, so that the first size
        // does not count the one-off initdb): a cold start.
        let default_plan = |bench: &Self| {
            let mut cmd = bench.reconcile(&current, None, &schema_dir);
            cmd.args(["plan", "--format", "json", "--out", "/dev/null"]);
            cmd
        };
        if self
            .measure(&mut res, "plan-cold", &mut default_plan(self), &[0, 2, 3])?
            .is_some()
        {
            let running = fs::read_dir(self.scratch_home())
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.path().join("data/postmaster.pid").exists())
                })
                .unwrap_or(false);
            if !running {
                bail!(
                    "plan without --dev-url did not use the warm scratch server in {} (the \
                     log of that run is in gen-{n}/logs; as root, every folder above it must \
                     be enterable by the postgres OS user)",
                    self.scratch_home().display()
                );
            }
            self.stop_scratch(cluster.bindir())?;
            if let Some(run) =
                self.measure(&mut res, "plan-cold", &mut default_plan(self), &[0, 2, 3])?
            {
                res.plan_cold.child(&run);
                eprintln!("[{n}] plan, scratch server stopped: {:.2} s", run.secs);
            }
        }

        let script = gen_dir.join("floor.sql");
        fs::write(&script, floor_script(&self.queries, &schemas))?;
        let mut plan_phases = Vec::new();
        let mut plan_dev_url_phases = Vec::new();
        let mut verify_phases = Vec::new();
        let mut per_query: Vec<Vec<(String, f64, usize)>> = Vec::new();
        for r in 1..=runs {
            let mut line = format!("[{n}] run {r}/{runs}:");
            let (secs, queries) = floor_sql(&current, &self.queries, &schemas).await?;
            res.floor_sql.push(secs, 0);
            per_query.push(queries);
            let _ = write!(line, " floor {secs:.3} s");

            if let Some(run) = self.measure(
                &mut res,
                "floor-psql",
                clean_command(&psql)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-d"])
                    .arg(&current)
                    .arg("-f")
                    .arg(&script),
                &[0],
            )? {
                res.floor_psql.child(&run);
                let _ = write!(line, ", floor-psql {:.3} s", run.secs);
            }
            if let Some(run) =
                self.measure(&mut res, "plan", &mut default_plan(self), &[0, 2, 3])?
            {
                res.plan.child(&run);
                plan_phases.push(parse_phases(&run.stderr, run.secs));
                let _ = write!(line, ", plan {:.2} s", run.secs);
            }
            fresh_dev(&mut admin).await?;
            if let Some(run) = self.measure(
                &mut res,
                "plan-dev-url",
                self.reconcile(&current, Some(&dev), &schema_dir).args([
                    "plan",
                    "--format",
                    "json",
                    "--out",
                    "/dev/null",
                ]),
                &[0, 2, 3],
            )? {
                res.plan_dev_url.child(&run);
                plan_dev_url_phases.push(parse_phases(&run.stderr, run.secs));
                let _ = write!(line, ", plan --dev-url {:.2} s", run.secs);
            }
            if let Some(run) = self.measure(
                &mut res,
                "verify",
                self.reconcile(&current, None, &schema_dir)
                    // The drift audit alone: `verify/` assertions (exit 4) are not measured.
                    .args(["verify", "--format", "json", "--no-assertions"]),
                &[0, 2, 3],
            )? {
                res.verify.child(&run);
                verify_phases.push(parse_phases(&run.stderr, run.secs));
                let _ = write!(line, ", verify {:.2} s", run.secs);
            }
            let pulled = gen_dir.join("pulled");
            let _ = fs::remove_dir_all(&pulled);
            if let Some(run) = self.measure(
                &mut res,
                "pull",
                self.reconcile(&current, None, &schema_dir)
                    .arg("pull")
                    .arg("--out")
                    .arg(&pulled),
                &[0],
            )? {
                res.pull.child(&run);
                let _ = write!(line, ", pull {:.2} s", run.secs);
            }
            eprintln!("{line}");
        }
        let pulled = gen_dir.join("pulled");
        if pulled.is_dir() {
            fresh_dev(&mut admin).await?;
            if let Some(run) = self.measure(
                &mut res,
                "pull-plan",
                self.reconcile(&current, Some(&dev), &pulled).args([
                    "plan",
                    "--format",
                    "json",
                    "--out",
                    "/dev/null",
                ]),
                &[0],
            )? {
                res.pull_plan.child(&run);
                eprintln!(
                    "[{n}] plan of the pulled folder {:.2} s (in sync)",
                    run.secs
                );
            }
        }
        res.plan_phases = median_phases(&plan_phases);
        res.plan_dev_url_phases = median_phases(&plan_dev_url_phases);
        res.verify_phases = median_phases(&verify_phases);
        res.floor_per_query = self
            .queries
            .iter()
            .enumerate()
            .map(|(k, q)| {
                let secs: Vec<f64> = per_query.iter().map(|run| run[k].1).collect();
                (q.name.clone(), median(&secs), per_query[0][k].2)
            })
            .collect();

        if let Some(run) = self.measure(
            &mut res,
            "in-sync",
            self.reconcile(&desired, None, &schema_dir).args([
                "plan",
                "--format",
                "json",
                "--out",
                "/dev/null",
            ]),
            &[0, 2, 3],
        )? {
            let phases = parse_phases(&run.stderr, run.secs);
            if run.code != 0 {
                eprintln!(
                    "[{n}] WARNING: the database loaded from desired.sql is not in sync with \
                     the YAML (exit {}): {}",
                    run.code,
                    phases.summary.as_deref().unwrap_or("")
                );
                res.errors.push(format!(
                    "in-sync plan exited {}: {}",
                    run.code,
                    phases.summary.as_deref().unwrap_or("")
                ));
            }
            res.plan_in_sync.child(&run);
            res.plan_in_sync_phases = phases;
            eprintln!("[{n}] in-sync plan {:.2} s", run.secs);
        }

        res.apply = self
            .apply(&mut res, &cluster, &mut admin, &schema_dir, &dev)
            .await?;

        if let Some(migra) = &self.cli.migra {
            let to_migra = |url: &str| url.replacen("postgres://", "postgresql+psycopg2://", 1);
            let mut samples = Samples::default();
            for _ in 0..runs {
                // migra: 0 no differences, 2 differences found.
                if let Some(run) = self.measure(
                    &mut res,
                    "migra",
                    clean_command(migra)
                        .arg("--unsafe")
                        .arg(to_migra(&current))
                        .arg(to_migra(&desired)),
                    &[0, 2],
                )? {
                    samples.child(&run);
                }
            }
            if !samples.secs.is_empty() {
                eprintln!("[{n}] migra {:.2} s", samples.median_secs);
                res.migra = Some(samples);
            }
        }

        admin.close().await?;
        tokio::task::block_in_place(|| cluster.stop());
        res.plan_over_floor_sql = res.plan.median_secs / res.floor_sql.median_secs;
        res.plan_over_floor_psql = res.plan.median_secs / res.floor_psql.median_secs;
        res.plan_dev_url_over_floor_sql = res.plan_dev_url.median_secs / res.floor_sql.median_secs;
        res.load_avg_after = load_avg();
        Ok(res)
    }

    /// Runs one measurement unless it is skipped (`--skip`) or already failed at this size.
    /// A failure is recorded in `res` (and not repeated in later runs); the bench goes on.
    fn measure(
        &self,
        res: &mut SizeResult,
        name: &str,
        cmd: &mut Command,
        ok: &[i32],
    ) -> anyhow::Result<Option<ChildRun>> {
        if self.cli.skip.iter().any(|s| s == name) || res.failed.iter().any(|f| f == name) {
            return Ok(None);
        }
        let run = run_child(cmd)?;
        // Every child's stderr (with -v: the phase timings) is kept for inspection.
        res.log_seq += 1;
        let logs = self
            .out_dir
            .join(format!("gen-{}", res.tables))
            .join("logs");
        fs::create_dir_all(&logs)?;
        fs::write(
            logs.join(format!("{:02}-{name}.log", res.log_seq)),
            &run.stderr,
        )?;
        match expect(name, run, ok) {
            Ok(run) => Ok(Some(run)),
            Err(e) => {
                eprintln!("[{}] FAILED: {e:#}", res.tables);
                res.failed.push(name.to_owned());
                res.errors.push(format!("{e:#}"));
                Ok(None)
            }
        }
    }

    async fn apply(
        &self,
        res: &mut SizeResult,
        cluster: &Cluster,
        admin: &mut PgConnection,
        schema_dir: &Path,
        dev: &str,
    ) -> anyhow::Result<Option<ApplyResult>> {
        let n = res.tables;
        let mut out = ApplyResult::default();
        let mut step_ms = Vec::new();
        for r in 1..=self.cli.runs.max(1) {
            if self.cli.skip.iter().any(|s| s == "apply") || res.failed.iter().any(|f| f == "apply")
            {
                break;
            }
            let db = format!("bench_apply_{r}");
            execute(admin, &format!("DROP DATABASE IF EXISTS {db}")).await?;
            let clock = Instant::now();
            copy_database(admin, CURRENT, &db).await?;
            // The copy (and the previous drop) leave dirty buffers and WAL behind; flushed
            // here, they do not compete with the apply being timed.
            execute(admin, "CHECKPOINT").await?;
            out.copy_secs.push(clock.elapsed().as_secs_f64());
            let url = cluster.url(&db);
            fresh_dev(admin).await?;
            let Some(run) = self.measure(
                res,
                "apply",
                self.reconcile(&url, Some(dev), schema_dir).arg("apply"),
                &[0],
            )?
            else {
                execute(admin, &format!("DROP DATABASE {db}")).await?;
                break;
            };
            out.wall.child(&run);
            // "applied N step(s) in X s; verified: ..." (src/cli/apply.rs)
            let reported = run.stderr.lines().find_map(|l| {
                let rest = l.strip_prefix("applied ")?;
                let (_, t) = rest.split_once(" in ")?;
                t.split(" s").next()?.parse::<f64>().ok()
            });
            out.execute_reported.push(reported.unwrap_or(f64::NAN), 0);

            let mut conn = PgConnection::connect(&url).await?;
            let row = sqlx::query(
                "SELECT r.steps_planned::bigint, r.steps_executed::bigint,
                        (SELECT extract(epoch FROM max(s.started_at
                                   + s.duration_ms * interval '1 millisecond')
                                   - min(s.started_at))::float8
                         FROM reconcile.steps s WHERE s.run_id = r.id) AS window,
                        (SELECT coalesce(sum(s.duration_ms), 0)::float8
                         FROM reconcile.steps s WHERE s.run_id = r.id) AS step_ms
                 FROM reconcile.runs r ORDER BY r.id DESC LIMIT 1",
            )
            .fetch_one(&mut conn)
            .await
            .context("reading reconcile.runs/steps")?;
            conn.close().await?;
            out.steps_planned = row.try_get(0)?;
            out.steps_executed = row.try_get(1)?;
            let window: Option<f64> = row.try_get(2)?;
            out.execution.push(window.unwrap_or(0.0), 0);
            step_ms.push(row.try_get::<f64, _>(3)?);
            execute(admin, &format!("DROP DATABASE {db}")).await?;
            eprintln!(
                "[{n}] apply {r}: {} steps, {:.2} s wall, {:.2} s executing",
                out.steps_executed,
                run.secs,
                window.unwrap_or(0.0)
            );
        }
        if out.wall.secs.is_empty() {
            return Ok(None);
        }
        out.median_step_ms_sum = median(&step_ms);
        let exec = out.execution.median_secs;
        if exec > 0.0 {
            out.steps_per_sec = out.steps_executed as f64 / exec;
        }
        if out.steps_executed > 0 {
            out.ms_per_step = exec * 1000.0 / out.steps_executed as f64;
        }
        Ok(Some(out))
    }
}

fn secs(s: f64) -> String {
    if s.is_nan() {
        "-".to_owned()
    } else if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn mib(kib: i64) -> String {
    if kib <= 0 {
        "-".to_owned()
    } else {
        format!("{}", (kib + 512) / 1024)
    }
}

/// `FAILED` when the measurement failed at this size, else `value`.
fn or_failed(s: &SizeResult, name: &str, value: String) -> String {
    if s.failed.iter().any(|f| f == name) {
        "FAILED".to_owned()
    } else {
        value
    }
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}×")
    } else {
        "-".to_owned()
    }
}

fn opt_secs(s: Option<f64>) -> String {
    s.map_or_else(|| "-".to_owned(), secs)
}

fn print_tables(report: &Report) {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nmedians of {} run(s); times are wall clock; RSS is the child's peak (MiB)\n",
        report.runs
    );
    let _ = writeln!(
        t,
        "| tables | floor (sqlx) | floor (psql) | plan | plan/floor (sqlx, psql) | plan --dev-url (/floor) | plan, scratch server stopped | in-sync plan | verify | pull | plan of the pull | apply | apply steps | steps/s | migra |"
    );
    let _ = writeln!(
        t,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &report.sizes {
        let apply = s.apply.as_ref();
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {}, {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.tables,
            secs(s.floor_sql.median_secs),
            or_failed(s, "floor-psql", secs(s.floor_psql.median_secs)),
            or_failed(s, "plan", secs(s.plan.median_secs)),
            ratio(s.plan_over_floor_sql),
            ratio(s.plan_over_floor_psql),
            or_failed(s, "plan-dev-url", secs(s.plan_dev_url.median_secs)),
            ratio(s.plan_dev_url_over_floor_sql),
            or_failed(s, "plan-cold", secs(s.plan_cold.median_secs)),
            or_failed(s, "in-sync", secs(s.plan_in_sync.median_secs)),
            or_failed(s, "verify", secs(s.verify.median_secs)),
            or_failed(s, "pull", secs(s.pull.median_secs)),
            or_failed(s, "pull-plan", secs(s.pull_plan.median_secs)),
            or_failed(
                s,
                "apply",
                apply.map_or("-".into(), |a| secs(a.wall.median_secs))
            ),
            apply.map_or("-".into(), |a| a.steps_executed.to_string()),
            apply.map_or("-".into(), |a| format!(
                "{:.0} ({:.1} ms/step)",
                a.steps_per_sec, a.ms_per_step
            )),
            or_failed(
                s,
                "migra",
                s.migra.as_ref().map_or("-".into(), |m| secs(m.median_secs))
            ),
        );
    }
    let _ = writeln!(
        t,
        "\n| tables | RSS plan | RSS plan --dev-url | RSS verify | RSS pull | RSS apply | RSS migra | catalog queries (reconcile -v) | statements on target (catalog) | statements on dev db | load avg before → after |"
    );
    let _ = writeln!(t, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for s in &report.sizes {
        let rt = &s.round_trips;
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {:.2} {:.2} {:.2} → {:.2} {:.2} {:.2} |",
            s.tables,
            mib(s.plan.median_max_rss_kib),
            mib(s.plan_dev_url.median_max_rss_kib),
            mib(s.verify.median_max_rss_kib),
            mib(s.pull.median_max_rss_kib),
            s.apply
                .as_ref()
                .map_or("-".into(), |a| mib(a.wall.median_max_rss_kib)),
            s.migra
                .as_ref()
                .map_or("-".into(), |m| mib(m.median_max_rss_kib)),
            rt.reconcile_catalog_queries
                .map_or("-".into(), |q| q.to_string()),
            rt.target_statements,
            rt.target_catalog_statements,
            rt.dev_statements,
            s.load_avg_before[0],
            s.load_avg_before[1],
            s.load_avg_before[2],
            s.load_avg_after[0],
            s.load_avg_after[1],
            s.load_avg_after[2],
        );
    }
    let _ = writeln!(
        t,
        "\nwhere plan's time goes (reconcile -v phase logs; rest = process start, YAML load, connecting, diff, planning, rendering)\n"
    );
    let _ = writeln!(
        t,
        "| tables | plan | introspect | canonicalise | align | rest | in-sync: introspect / canonicalise / rest |"
    );
    let _ = writeln!(t, "|---:|---:|---:|---:|---:|---:|---|");
    for s in &report.sizes {
        let p = &s.plan_phases;
        let q = &s.plan_in_sync_phases;
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            s.tables,
            secs(s.plan.median_secs),
            opt_secs(p.introspect_secs),
            opt_secs(p.canonicalise_secs),
            opt_secs(p.align_secs),
            opt_secs(p.rest_secs),
            opt_secs(q.introspect_secs),
            opt_secs(q.canonicalise_secs),
            opt_secs(q.rest_secs),
        );
    }
    for s in &report.sizes {
        let rt = &s.round_trips;
        let _ = writeln!(
            t,
            "{} tables, one plan: server time {:.2} s on the target, {:.2} s on the dev \
             database; slowest statements:",
            s.tables, rt.target_server_secs, rt.dev_server_secs
        );
        for (db, secs, text) in &rt.slowest {
            let _ = writeln!(t, "  {secs:8.3} s  {db}  {text}");
        }
    }
    for s in &report.sizes {
        for e in &s.errors {
            let first = e.lines().next().unwrap_or("");
            let last = e.lines().last().unwrap_or("").trim();
            let _ = writeln!(t, "{} tables: {first} … {last}", s.tables);
        }
    }
    println!("{t}");
}

fn first_line_of(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reconcile = cli
        .reconcile
        .clone()
        .unwrap_or_else(|| root.join("target/release/reconcile"));
    if !reconcile.exists() {
        bail!(
            "{} does not exist; build it first: cargo build --release",
            reconcile.display()
        );
    }
    let out_dir = cli
        .out_dir
        .clone()
        .unwrap_or_else(|| root.join("target/bench"));
    fs::create_dir_all(&out_dir)?;
    let modified = fs::metadata(&reconcile)?.modified()?;
    let started = SystemTime::now();
    let bench = Bench {
        queries: catalog_queries()?,
        reconcile: reconcile.clone(),
        out_dir: out_dir.clone(),
        cli,
    };
    eprintln!(
        "benchmarking {} (built {}), {} catalog queries from src/introspect/sql, sizes {:?}, {} run(s)",
        reconcile.display(),
        utc(modified),
        bench.queries.len(),
        bench.cli.sizes,
        bench.cli.runs
    );
    let cpu_model = fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let postgres = reconcile::throwaway::find_bindir()
        .ok()
        .and_then(|b| first_line_of(&b.join("postgres"), "--version"))
        .unwrap_or_default();
    let git_head = Command::new("git")
        .args(["-C"])
        .arg(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let mut report = Report {
        format_version: 2,
        started_at: utc(started),
        command_line: std::env::args().collect(),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        postgres,
        reconcile_binary: reconcile.display().to_string(),
        reconcile_binary_modified: utc(modified),
        git_head,
        catalog_query_files: bench.queries.iter().map(|q| q.name.clone()).collect(),
        runs: bench.cli.runs,
        drift_pct: bench.cli.drift,
        seed: bench.cli.seed,
        sizes: Vec::new(),
    };
    let stamp = report.started_at.replace([':', '-'], "");
    let json_path = out_dir.join(format!("bench-{stamp}.json"));
    for &n in &bench.cli.sizes.clone() {
        let result = bench
            .size(n)
            .await
            .with_context(|| format!("at {n} tables"))?;
        report.sizes.push(result);
        // Written after every size, so a long run that is interrupted keeps what it measured.
        fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    print_tables(&report);
    println!("results: {}", json_path.display());
    Ok(())
}
