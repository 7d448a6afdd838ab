//! Benchmark of `reconcile fleet verify` (issue 18): many databases on one local server, and
//! many tenant schemas in one database.
//!
//! # Why this exists
//!
//! A fleet audit promises to cost little more than reading each target's catalog: the desired
//! state is canonicalised once, and targets in sync never touch the scratch server. This
//! program measures it end to end with the release binary — wall time, peak RSS (GNU time's
//! `%M`), and whether every target was classified as it should be — and the cost per target
//! at two fleet sizes, which should be flat. It is a program, not a test: timings never fail
//! `cargo test`.
//!
//! # What it does
//!
//! 1. Starts ONE throwaway PostgreSQL ([`reconcile::throwaway::Cluster`]), loads a template
//!    database of `--tables` tables (a primary key, a NOT NULL column with an index, a default,
//!    a check), and creates the largest fleet with `CREATE DATABASE ... TEMPLATE`.
//! 2. Drifts 10%: every 20th database from the 3rd lacks a column (pending), every 20th from
//!    the 13th has an extra column (a finding). Two databases are behind a held apply lock
//!    (a psql session holding the advisory lock `apply` takes); five targets of a targets file
//!    point at closed ports.
//! 3. For each size: `reconcile fleet verify --databases PATTERN --targets down.toml --jobs J
//!    --format json`, timed, with peak RSS; every entry's status is checked against the one
//!    expected.
//! 4. Tenants: for each count of `--tenants` (a list), one database with that many schemas of
//!    the same tables (10% drifted the same way), audited with `--tenant-schemas`.
//!
//! 5. Apply (`--apply N`, 0 to skip): N more databases from the template, 10% of them missing
//!    a column (the plan adds it) and three of them with a row the desired check refuses
//!    (its `VALIDATE CONSTRAINT` fails there). `fleet apply` three times: with `--canary 3`,
//!    where a failing database is among the canaries (the fleet must stop, every other target
//!    untouched); with `--canary 1 --max-failures 5` (the three fail, every other target is
//!    applied); and, once the bad rows are deleted, again (everything converges). Each
//!    database's history (`reconcile.runs`) is then checked against what it went through.
//!
//! Each line also gives the machine's load average before and after the run.
//!
//! ```sh
//! cargo build --release && cargo run --release --example fleet_bench -- --sizes 100,1000
//! cargo run --release --example fleet_bench -- --sizes 10 --tenants 100,1000
//! cargo run --release --example fleet_bench -- --sizes 10 --tenants 0 --apply 200
//! ```
//!
//! See docs/benchmarks.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser;
use serde_json::Value;

#[derive(Parser)]
struct Args {
    /// Fleet sizes (databases), largest last.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sizes: Vec<usize>,
    /// Tables per database (and per tenant schema).
    #[arg(long, default_value_t = 50)]
    tables: usize,
    /// Tenant schemas, one database of each count (0: skip).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    tenants: Vec<usize>,
    #[arg(long, default_value_t = 16)]
    jobs: usize,
    /// Databases for the fleet apply runs (0: skip).
    #[arg(long, default_value_t = 0)]
    apply: usize,
    /// Passed to `fleet verify --tenants-per-read` [default: reconcile's].
    #[arg(long)]
    tenants_per_read: Option<usize>,
    /// The reconcile binary [default: target/release/reconcile].
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// What a target should be reported as.
fn expected(index: usize) -> &'static str {
    match index {
        1 | 2 => "locked",
        i if i % 20 == 3 => "pending",
        i if i % 20 == 13 => "drift",
        _ => "in_sync",
    }
}

fn tables_sql(schema: &str, tables: usize) -> String {
    let mut sql = String::new();
    for t in 0..tables {
        let _ = writeln!(
            sql,
            "CREATE TABLE {schema}.t{t:03} (id bigint PRIMARY KEY, name text NOT NULL, \
             created_at timestamptz NOT NULL DEFAULT now(), \
             amount numeric(12,2) CHECK (amount >= 0));\n\
             CREATE INDEX ON {schema}.t{t:03} (name);"
        );
    }
    sql
}

fn tables_yaml(schema: Option<&str>, tables: usize) -> String {
    let mut yaml = String::new();
    if let Some(schema) = schema {
        let _ = writeln!(yaml, "schema: {schema}");
    }
    yaml.push_str("tables:\n");
    for t in 0..tables {
        let _ = write!(
            yaml,
            "  t{t:03}:\n    columns:\n      id: {{ type: bigint, primary_key: true }}\n      \
             name: {{ type: text, not_null: true }}\n      \
             created_at: {{ type: timestamptz, not_null: true, default: now() }}\n      \
             amount: {{ type: \"numeric(12,2)\", check: \"amount >= 0\" }}\n    \
             indexes:\n      - {{ columns: [name] }}\n"
        );
    }
    yaml
}

/// The drift of target `index` in `schema`, as SQL.
fn drift_sql(index: usize, schema: &str) -> Option<String> {
    match expected(index) {
        "pending" => Some(format!("ALTER TABLE {schema}.t007 DROP COLUMN amount;")),
        "drift" => Some(format!(
            "ALTER TABLE {schema}.t012 ADD COLUMN legacy integer;"
        )),
        _ => None,
    }
}

fn psql(bindir: &Path, url: &str, sql: &str) -> anyhow::Result<()> {
    let file = tempfile::Builder::new().suffix(".sql").tempfile()?;
    std::fs::write(file.path(), sql)?;
    let out = Command::new(bindir.join("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file.path())
        .stdin(Stdio::null())
        .output()
        .context("psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

struct Measured {
    secs: f64,
    rss_mib: f64,
    report: Value,
}

/// Runs reconcile under GNU time (wall seconds, peak RSS in KiB).
fn measure(
    bin: &Path,
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> anyhow::Result<Measured> {
    let timing = dir.join("time.txt");
    let report = dir.join("report.json");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&timing)
        .arg(bin)
        .args(args)
        .args(["--format", "json", "--out"])
        .arg(&report)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("RECONCILE_DEV_URL")
        .stdin(Stdio::null())
        .output()
        .context("run reconcile under /usr/bin/time")?;
    let wall = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&timing)?;
    let last = text.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(wall);
    let rss: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).with_context(|| {
            format!(
                "no report; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?)?;
    Ok(Measured {
        secs,
        rss_mib: rss / 1024.0,
        report,
    })
}

/// (name, status) of every entry, and how many differ from `expect`.
fn misclassified(report: &Value, expect: &dyn Fn(&str) -> Option<&'static str>) -> Vec<String> {
    let mut wrong = Vec::new();
    for e in report["targets"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default();
        let status = e["status"].as_str().unwrap_or_default();
        let kind = e["error"]["kind"].as_str();
        let got = kind.unwrap_or(status);
        if expect(name) != Some(got) {
            wrong.push(format!("{name}: {got} (expected {:?})", expect(name)));
        }
    }
    wrong
}

struct Held(Vec<Child>);

impl Drop for Held {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = std::env::current_dir()?;
    let bin = args
        .bin
        .clone()
        .unwrap_or_else(|| root.join("target/release/reconcile"));
    if !bin.is_file() {
        bail!("{} not found: cargo build --release first", bin.display());
    }
    let bin = bin.canonicalize()?;
    let largest = args.sizes.iter().copied().max().unwrap_or(0);
    let work = tempfile::tempdir()?;
    std::fs::create_dir(work.path().join("schema"))?;
    std::fs::write(
        work.path().join("schema/app.yaml"),
        tables_yaml(None, args.tables),
    )?;

    let cluster = reconcile::throwaway::Cluster::start().context("throwaway PostgreSQL")?;
    let bindir = cluster.bindir().to_path_buf();
    let admin = cluster.url("postgres");
    let clock = Instant::now();
    psql(
        &bindir,
        &admin,
        "CREATE DATABASE fleet_tpl; CREATE DATABASE fleet_dev;",
    )?;
    psql(
        &bindir,
        &cluster.url("fleet_tpl"),
        &tables_sql("public", args.tables),
    )?;
    let mut create = String::new();
    for i in 0..largest {
        let _ = writeln!(create, "CREATE DATABASE fleet_{i:04} TEMPLATE fleet_tpl;");
    }
    psql(&bindir, &admin, &create)?;
    for i in 0..largest {
        if let Some(sql) = drift_sql(i, "public") {
            psql(&bindir, &cluster.url(&format!("fleet_{i:04}")), &sql)?;
        }
    }
    println!(
        "set-up: {largest} databases x {} tables in {:.1} s",
        args.tables,
        clock.elapsed().as_secs_f64()
    );
    let mut held = Held(Vec::new());
    for i in [1usize, 2] {
        held.0.push(
            Command::new(bindir.join("psql"))
                .args([
                    "-X",
                    "-q",
                    "-d",
                    &cluster.url(&format!("fleet_{i:04}")),
                    "-c",
                ])
                .arg(
                    "SELECT pg_advisory_lock(1919247215, hashtext(current_database())); \
                     SELECT pg_sleep(3600);",
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut env = vec![("DATABASE_URL".to_owned(), admin.clone())];
    let mut down = String::new();
    for d in 0..5 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        drop(listener);
        let _ = writeln!(
            down,
            "[[target]]\nname = \"down-{d}\"\nurl_env = \"DOWN_{d}\"\n"
        );
        env.push((
            format!("DOWN_{d}"),
            format!("postgres://u:p@127.0.0.1:{port}/db"),
        ));
    }
    std::fs::write(work.path().join("down.toml"), down)?;
    let dev = cluster.url("fleet_dev");
    let jobs = args.jobs.to_string();
    let mut results: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for &size in &args.sizes {
        let pattern = "fleet_[0-9]*".to_owned();
        let select: Vec<String> = (0..size).map(|i| format!("fleet_{i:04}")).collect();
        let selected: std::collections::BTreeSet<&str> =
            select.iter().map(String::as_str).collect();
        // Every database up to `size`, and the unreachable five.
        let mut argv = vec![
            "--dev-url",
            &dev,
            "fleet",
            "verify",
            "--databases",
            &pattern,
            "--targets",
            "down.toml",
            "--jobs",
            &jobs,
        ];
        let cutoff = format!("fleet_{size:04}");
        let keep: Vec<String> = if size < largest {
            vec!["--select".to_owned(), "down-*".to_owned()]
                .into_iter()
                .chain(
                    select
                        .iter()
                        .filter(|n| n.as_str() < cutoff.as_str())
                        .flat_map(|n| ["--select".to_owned(), n.clone()]),
                )
                .collect()
        } else {
            Vec::new()
        };
        argv.extend(keep.iter().map(String::as_str));
        let load = load_average();
        let m = measure(&bin, work.path(), &argv, &env)?;
        let wrong = misclassified(&m.report, &|name| {
            if name.starts_with("down-") {
                return Some("unreachable");
            }
            let i: usize = name.strip_prefix("fleet_")?.parse().ok()?;
            selected.contains(name).then(|| expected(i))
        });
        let targets = m.report["targets"].as_array().map_or(0, Vec::len);
        println!(
            "databases {size:>5} (+5 unreachable): {:.1} s wall, peak RSS {:.0} MiB, {:.1} ms per target, \
             {} misclassified, exit {}, load average before {load}, after {}, summary: {}",
            m.secs,
            m.rss_mib,
            m.secs * 1000.0 / targets.max(1) as f64,
            wrong.len(),
            m.report["exit_code"],
            load_average(),
            summary(&m.report)
        );
        for w in wrong.iter().take(10) {
            println!("  {w}");
        }
        results.insert(size, (m.secs, m.rss_mib));
    }
    drop(held);

    if args.apply > 0 {
        apply_runs(
            &bin,
            work.path(),
            &bindir,
            &cluster,
            &dev,
            &jobs,
            args.apply,
        )?;
    }

    for &tenants in args.tenants.iter().filter(|n| **n > 0) {
        let clock = Instant::now();
        let database = format!("fleet_tenants_{tenants}");
        psql(&bindir, &admin, &format!("CREATE DATABASE {database};"))?;
        let url = cluster.url(&database);
        let mut sql = String::new();
        for t in 0..tenants {
            let schema = format!("tenant_{t:04}");
            let _ = writeln!(sql, "CREATE SCHEMA {schema};");
            sql.push_str(&tables_sql(&schema, args.tables));
            if let Some(drift) = drift_sql(t, &schema) {
                sql.push_str(&drift);
            }
            if sql.len() > 4_000_000 {
                psql(&bindir, &url, &std::mem::take(&mut sql))?;
            }
        }
        psql(&bindir, &url, &sql)?;
        // What autovacuum would soon do after so many new catalog rows: the catalog queries'
        // plans depend on it.
        psql(
            &bindir,
            &url,
            "ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_depend, \
             pg_catalog.pg_constraint, pg_catalog.pg_index, pg_catalog.pg_type, \
             pg_catalog.pg_namespace, pg_catalog.pg_attrdef, pg_catalog.pg_inherits;",
        )?;
        println!(
            "set-up: {tenants} tenant schemas x {} tables in {:.1} s",
            args.tables,
            clock.elapsed().as_secs_f64()
        );
        std::fs::write(
            work.path().join("schema/app.yaml"),
            tables_yaml(Some("tpl"), args.tables),
        )?;
        let env = vec![("DATABASE_URL".to_owned(), url.clone())];
        let per_read = args.tenants_per_read.map(|n| n.to_string());
        let mut argv = vec![
            "--dev-url",
            &dev,
            "fleet",
            "verify",
            "--tenant-schemas",
            "tenant_*",
            "--jobs",
            &jobs,
        ];
        if let Some(n) = &per_read {
            argv.extend(["--tenants-per-read", n.as_str()]);
        }
        let load = load_average();
        let m = measure(&bin, work.path(), &argv, &env)?;
        let wrong = misclassified(&m.report, &|name| {
            let i: usize = name.strip_prefix("tenant_")?.parse().ok()?;
            Some(match expected(i) {
                "locked" => "in_sync",
                other => other,
            })
        });
        let targets = m.report["targets"].as_array().map_or(0, Vec::len);
        println!(
            "tenants {tenants:>5}: {:.1} s wall, peak RSS {:.0} MiB, {:.1} ms per target, {} misclassified, \
             exit {}, load average before {load}, after {}, summary: {}",
            m.secs,
            m.rss_mib,
            m.secs * 1000.0 / targets.max(1) as f64,
            wrong.len(),
            m.report["exit_code"],
            load_average(),
            summary(&m.report)
        );
        for w in wrong.iter().take(10) {
            println!("  {w}");
        }
    }
    Ok(())
}

/// The apply databases that refuse the desired check (a negative amount): the first is a
/// canary of the first run (name order), the others are not.
fn failing_apply_targets(count: usize) -> [usize; 3] {
    [1, count / 2, count - 2]
}

/// Step 5 of the module comment.
fn apply_runs(
    bin: &Path,
    work: &Path,
    bindir: &Path,
    cluster: &reconcile::throwaway::Cluster,
    dev: &str,
    jobs: &str,
    count: usize,
) -> anyhow::Result<()> {
    let clock = Instant::now();
    let failing = failing_apply_targets(count);
    let name = |i: usize| format!("apply_{i:04}");
    let admin = cluster.url("postgres");
    let mut create = String::new();
    for i in 0..count {
        let _ = writeln!(create, "CREATE DATABASE {} TEMPLATE fleet_tpl;", name(i));
    }
    psql(bindir, &admin, &create)?;
    for i in 0..count {
        let url = cluster.url(&name(i));
        if failing.contains(&i) {
            psql(
                bindir,
                &url,
                "ALTER TABLE public.t005 DROP CONSTRAINT t005_amount_check; \
                 INSERT INTO public.t005 (id, name, amount) VALUES (1, 'refund', -5);",
            )?;
        } else if i % 10 == 3 {
            psql(bindir, &url, "ALTER TABLE public.t007 DROP COLUMN amount;")?;
        }
    }
    println!(
        "set-up: {count} databases to apply to ({} missing a column, 3 refusing a check: {:?}) in {:.1} s",
        (0..count)
            .filter(|i| i % 10 == 3 && !failing.contains(i))
            .count(),
        failing,
        clock.elapsed().as_secs_f64()
    );
    let env = vec![("DATABASE_URL".to_owned(), admin.clone())];
    let base = [
        "--dev-url",
        dev,
        "fleet",
        "apply",
        "--databases",
        "apply_*",
        "--jobs",
        jobs,
    ];
    let statuses = |report: &Value| -> BTreeMap<String, String> {
        report["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let status = e["error"]["kind"]
                    .as_str()
                    .or(e["status"].as_str())
                    .unwrap_or_default();
                (
                    e["name"].as_str().unwrap_or_default().to_owned(),
                    status.to_owned(),
                )
            })
            .collect()
    };
    let mut problems: Vec<String> = Vec::new();
    // One `fleet apply` with `extra` arguments: timed, every target's status checked.
    let mut run = |label: &str,
                   extra: &[&str],
                   want: &dyn Fn(usize) -> &'static [&'static str]|
     -> anyhow::Result<()> {
        let mut argv = base.to_vec();
        argv.extend(extra);
        let load = load_average();
        let m = measure(bin, work, &argv, &env)?;
        let got = statuses(&m.report);
        for i in 0..count {
            let status = got.get(&name(i)).map(String::as_str).unwrap_or("absent");
            if !want(i).contains(&status) {
                problems.push(format!(
                    "{label}: {} is {status}, expected one of {:?}",
                    name(i),
                    want(i)
                ));
            }
        }
        println!(
            "apply {count}, {label}: {:.1} s wall, peak RSS {:.0} MiB, {:.1} ms per target, \
             exit {}, load average before {load}, after {}, summary: {}",
            m.secs,
            m.rss_mib,
            m.secs * 1000.0 / count as f64,
            m.report["exit_code"],
            load_average(),
            summary(&m.report)
        );
        Ok(())
    };
    // 1. A failing canary stops the fleet.
    run(
        "--canary 3 (a canary fails)",
        &["--canary", "3"],
        &|i| match i {
            0 => &["applied", "in_sync"],
            1 => &["failed"],
            _ => &["not_run"],
        },
    )?;
    // 2. The canary passes; the other two failures stay under --max-failures.
    run(
        "--canary 1 --max-failures 5",
        &["--canary", "1", "--max-failures", "5"],
        &|i| {
            if failing.contains(&i) {
                &["failed"]
            } else {
                &["applied", "in_sync"]
            }
        },
    )?;
    // 3. The bad rows gone, a rerun converges everything.
    for &i in &failing {
        psql(
            bindir,
            &cluster.url(&name(i)),
            "DELETE FROM public.t005 WHERE amount < 0;",
        )?;
    }
    run("rerun after the fix", &[], &|i| {
        if failing.contains(&i) {
            &["applied"]
        } else {
            &["in_sync"]
        }
    })?;
    // Each history says what happened: a failing database failed (the first of them twice,
    // as a canary and in the second run) and was then applied; a drifted one was applied once
    // and then had nothing to do; the rest had nothing to do each time they were visited.
    for i in 0..count {
        let out = Command::new(bindir.join("psql"))
            .args(["-X", "-At", "-d", &cluster.url(&name(i)), "-c"])
            .arg("SELECT string_agg(outcome, ',' ORDER BY id) FROM reconcile.runs")
            .output()?;
        let history = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let want: &[&str] = if i == failing[0] {
            &["failed,failed,applied"]
        } else if failing.contains(&i) {
            &["failed,applied"]
        } else if i % 10 == 3 {
            &["applied,no-op"]
        } else if i == 0 {
            &["no-op,no-op,no-op"]
        } else {
            &["no-op,no-op"]
        };
        if !want.contains(&history.as_str()) {
            problems.push(format!(
                "history of {}: {history:?}, expected one of {want:?}",
                name(i)
            ));
        }
    }
    println!("apply {count}: {} problem(s)", problems.len());
    for p in problems.iter().take(10) {
        println!("  {p}");
    }
    Ok(())
}

/// The machine's 1, 5 and 15 minute load averages (other work skews the figures).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn summary(report: &Value) -> String {
    report["summary"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| format!("{} {}", g["count"], g["label"].as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(" · ")
}
