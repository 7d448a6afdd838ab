//! `reconcile migrate status|apply|check|baseline`: versioned SQL files (docs/migrations.md).
//! Thin: the work is in `reconcile::migrate`; here are flags, messages and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use reconcile::apply::lock;
use reconcile::migrate::{self, ApplyOptions, Entry, MigrateError, Migration, State};
use reconcile::model::Ident;

use super::out::note;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Folder of migration files.
    #[arg(long, default_value = "migrations", global = true, value_name = "DIR")]
    pub migrations: PathBuf,
    /// Schema of the tracking table (`<schema>.migrations`) in the target database.
    #[arg(
        long,
        default_value = "reconcile",
        global = true,
        value_name = "SCHEMA"
    )]
    pub history_schema: String,
    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum MigrateCommand {
    /// Each file as applied, pending, changed or failed, and recorded versions whose file is
    /// missing. Exit 0 all applied, 2 something to run, 3 changed or missing files.
    #[command(after_help = "Example: reconcile migrate status --env prod --format json")]
    Status(StatusArgs),
    /// Run the pending files in version order, each in its own transaction, under the apply
    /// lock; stop at the first failure.
    #[command(after_help = "Examples:\n  \
        reconcile migrate apply --env staging --dry-run\n  \
        reconcile migrate apply --env prod --lock-timeout 5s")]
    Apply(RunArgs),
    /// Check names, versions and SQL of every file (and, given a database, that applied
    /// files are unchanged). Exit 1 on any problem.
    #[command(after_help = "Examples:\n  \
        reconcile migrate check   # names, versions and SQL, no database\n  \
        reconcile migrate check --env prod   # and that applied files are unchanged")]
    Check,
    /// Mark every file up to and including VERSION as applied without running it.
    #[command(
        after_help = "Example: reconcile migrate baseline 007 --env prod   # 001..007 already ran by hand"
    )]
    Baseline(BaselineArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// List the files that would run; execute and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply pending files even though applied files changed since they ran.
    #[arg(long)]
    pub allow_changed: bool,
    /// How long a statement may wait for a table lock (the file is then retried).
    #[arg(long, default_value = "3s", value_parser = super::apply::parse_duration)]
    pub lock_timeout: Duration,
    /// Statement timeout of each statement.
    #[arg(long, default_value = "1m", value_parser = super::apply::parse_duration)]
    pub statement_timeout: Duration,
    /// How long to wait for another apply to finish.
    #[arg(long, default_value = "5m", value_parser = super::apply::parse_duration)]
    pub wait_lock: Duration,
    /// Retries of a transactional file that hit a lock timeout (exponential backoff).
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
}

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The last version to mark (`7`, `007`, `20220314_002`, `V1.2`, or a file name).
    pub version: String,
    /// How long to wait for another apply to finish.
    #[arg(long, default_value = "5m", value_parser = super::apply::parse_duration)]
    pub wait_lock: Duration,
}

/// Lines on stderr as files run (CI logs and terminals alike).
struct Lines;

impl migrate::Progress for Lines {
    fn waiting_for_lock(&mut self, holder: &str) {
        note!("waiting for the apply lock: {holder}");
    }
    fn started(&mut self, m: &Migration, number: usize, total: usize) {
        note!("[{number}/{total}] {} ...", m.file_name);
    }
    fn finished(&mut self, m: &Migration, elapsed: Duration) {
        note!("  {} done in {} ms", m.file_name, elapsed.as_millis());
    }
    fn retrying(&mut self, m: &Migration, attempt: u32, delay: Duration, why: &str) {
        note!(
            "  {} hit a lock timeout ({why}); retry {attempt} in {} ms",
            m.file_name,
            delay.as_millis()
        );
    }
}

pub async fn run(global: &super::Global, args: &MigrateArgs) -> anyhow::Result<super::Exit> {
    let schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    match &args.command {
        MigrateCommand::Check => check(global, args, &schema).await,
        MigrateCommand::Status(s) => status(global, args, &schema, s).await,
        MigrateCommand::Apply(a) => apply(global, args, &schema, a).await,
        MigrateCommand::Baseline(b) => baseline(global, args, &schema, b).await,
    }
}

/// The folder, or an error naming every problem with the names.
fn discover(args: &MigrateArgs) -> anyhow::Result<migrate::Migrations> {
    Ok(migrate::discover(&args.migrations)?)
}

async fn connect(global: &super::Global, command: &str) -> anyhow::Result<super::connect::Target> {
    super::connect::target(global.database_url.as_deref(), command).await
}

async fn status(
    global: &super::Global,
    args: &MigrateArgs,
    schema: &Ident,
    s: &StatusArgs,
) -> anyhow::Result<super::Exit> {
    let migrations = discover(args)?;
    let mut target = connect(global, "migrate status").await?;
    let entries = migrate::status(&mut target.conn, &migrations, schema).await?;
    let mut out = super::out::stdout();
    match s.format {
        Format::Json => {
            let json = serde_json::json!({
                "migrations": entries,
                "counts": counts(&entries),
            });
            reconcile::render::pretty_json::to_writer(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::Text => write_table(&mut out, &entries, &migrations)?,
    }
    out.flush()?;
    Ok(status_exit(&entries))
}

/// 3 when the folder and the database disagree about history, 2 when something would run.
fn status_exit(entries: &[Entry]) -> super::Exit {
    if entries
        .iter()
        .any(|e| matches!(e.state, State::Changed | State::Missing))
    {
        super::Exit::Drift
    } else if entries.iter().any(|e| e.state.runs()) {
        super::Exit::Pending
    } else {
        super::Exit::InSync
    }
}

fn counts(entries: &[Entry]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for state in [
        State::Applied,
        State::Pending,
        State::Changed,
        State::Failed,
        State::Missing,
    ] {
        let n = entries.iter().filter(|e| e.state == state).count();
        map.insert(state.as_str().to_owned(), n.into());
    }
    serde_json::Value::Object(map)
}

fn write_table(
    out: &mut impl Write,
    entries: &[Entry],
    migrations: &migrate::Migrations,
) -> std::io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "no migration files in {}", migrations.dir.display());
    }
    let vw = entries
        .iter()
        .map(|e| e.version.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let fw = entries
        .iter()
        .map(|e| e.file.len())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:<vw$}  {:<fw$}  {:<8}  {:<20}  {:>9}  batch",
        "version", "file", "state", "applied at (UTC)", "took"
    )?;
    for e in entries {
        let took = e
            .execution_time_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default();
        let batch = e.batch.map(|b| b.to_string()).unwrap_or_default();
        let mut state = e.state.as_str().to_owned();
        if e.baselined && e.state != State::Failed {
            state.push('*');
        }
        writeln!(
            out,
            "{:<vw$}  {:<fw$}  {:<8}  {:<20}  {:>9}  {batch}",
            e.version,
            e.file,
            state,
            e.applied_at.as_deref().unwrap_or(""),
            took,
        )?;
        if let Some(error) = &e.error {
            let line = error.line.map(|l| format!(":{l}")).unwrap_or_default();
            let code = error
                .sqlstate
                .as_deref()
                .map(|c| format!(" (SQLSTATE {c})"))
                .unwrap_or_default();
            writeln!(out, "    {}{line}: {}{code}", e.file, error.message)?;
        }
    }
    let n = |s: State| entries.iter().filter(|e| e.state == s).count();
    writeln!(
        out,
        "\n{} applied, {} pending, {} failed, {} changed, {} missing",
        n(State::Applied),
        n(State::Pending),
        n(State::Failed),
        n(State::Changed),
        n(State::Missing)
    )?;
    if entries.iter().any(|e| e.baselined) {
        writeln!(out, "* baselined: marked as applied, never run")?;
    }
    Ok(())
}

async fn apply(
    global: &super::Global,
    args: &MigrateArgs,
    schema: &Ident,
    a: &RunArgs,
) -> anyhow::Result<super::Exit> {
    let migrations = discover(args)?;
    let mut target = connect(global, "migrate apply").await?;
    if !a.dry_run && lock::behind_transaction_pooler(&mut target.conn).await? {
        note!(
            "warning: {} looks like a transaction-pooling proxy; the advisory lock that keeps \
             applies apart does not hold there — connect to the database directly",
            target.description
        );
    }
    let options = ApplyOptions {
        history_schema: schema.clone(),
        lock_timeout: a.lock_timeout,
        statement_timeout: a.statement_timeout,
        wait_lock: a.wait_lock,
        retries: a.retries,
        allow_changed: a.allow_changed,
        dry_run: a.dry_run,
        ..ApplyOptions::default()
    };
    let report = migrate::apply(&mut target.conn, &migrations, &options, &mut Lines).await?;
    for file in &report.changed {
        note!("warning: {file} changed since it was applied (--allow-changed)");
    }
    for missing in &report.missing {
        note!("warning: version {missing} is recorded as applied but its file is gone");
    }
    for p in report.pending.iter().filter(|p| p.out_of_order) {
        note!(
            "note: {} is older than an applied migration; it runs out of order",
            p.file
        );
    }
    if a.dry_run {
        let mut out = super::out::stdout();
        if report.pending.is_empty() {
            writeln!(out, "nothing to apply")?;
        }
        for p in &report.pending {
            let how = if p.transactional {
                "one transaction"
            } else {
                "no transaction"
            };
            let retry = if p.retry_of_failed {
                ", retrying a failed attempt"
            } else {
                ""
            };
            writeln!(
                out,
                "would run {} ({} statement(s), {how}{retry})",
                p.file, p.statements
            )?;
        }
        out.flush()?;
        note!(
            "dry run: {} file(s) would run; nothing was executed",
            report.pending.len()
        );
        return Ok(if report.pending.is_empty() {
            super::Exit::InSync
        } else {
            super::Exit::Pending
        });
    }
    if let Some(failure) = &report.failure {
        anyhow::bail!(
            "{failure}\n{} file(s) applied before it; later files were not run. Fix the file \
             and run `reconcile migrate apply` again: it retries from there.",
            report.applied.len()
        );
    }
    match report.batch {
        None => note!("nothing to apply: every migration is applied"),
        Some(batch) => note!(
            "applied {} migration file(s) (batch {batch})",
            report.applied.len()
        ),
    }
    Ok(super::Exit::InSync)
}

async fn check(
    global: &super::Global,
    args: &MigrateArgs,
    schema: &Ident,
) -> anyhow::Result<super::Exit> {
    let (migrations, mut problems) = migrate::inspect(&args.migrations)?;
    problems.extend(migrate::check_files(&migrations));
    // The database is consulted only when one is named: a throwaway one has no history.
    let named = super::connect::database_named(global.database_url.as_deref());
    let mut checked_database = false;
    if named {
        let mut target = super::connect::target(global.database_url.as_deref(), "migrate check")
            .await
            .context("migrate check was given a database but cannot reach it")?;
        let entries = migrate::status(&mut target.conn, &migrations, schema).await?;
        for e in &entries {
            let path = e
                .index
                .map(|i| migrations.files[i].display_path())
                .unwrap_or_else(|| e.file.clone());
            match e.state {
                State::Changed => problems.push(migrate::Problem::new(
                    path,
                    None,
                    format!(
                        "changed since it was applied to {} (checksum {} then, {} now); \
                         restore it and put new changes in a new migration",
                        target.description,
                        e.recorded_checksum.as_deref().unwrap_or("?"),
                        e.checksum.as_deref().unwrap_or("?"),
                    ),
                )),
                State::Missing => note!(
                    "warning: version {} ({}) is recorded in {} but has no file",
                    e.version,
                    e.file,
                    target.description
                ),
                _ => {}
            }
        }
        checked_database = true;
    }
    problems.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then(a.line.cmp(&b.line))
            .then(a.message.cmp(&b.message))
    });
    problems.dedup();
    let mut out = super::out::stdout();
    for p in &problems {
        writeln!(out, "{p}")?;
    }
    if problems.is_empty() {
        writeln!(
            out,
            "ok: {} migration file(s) checked{}",
            migrations.files.len(),
            if checked_database {
                ", applied ones unchanged"
            } else {
                " (no database given: checksums of applied files not compared)"
            }
        )?;
        out.flush()?;
        Ok(super::Exit::InSync)
    } else {
        writeln!(out, "{} problem(s)", problems.len())?;
        out.flush()?;
        Ok(super::Exit::Error)
    }
}

async fn baseline(
    global: &super::Global,
    args: &MigrateArgs,
    schema: &Ident,
    b: &BaselineArgs,
) -> anyhow::Result<super::Exit> {
    let migrations = discover(args)?;
    if migrations.find_version(&b.version).is_none() {
        // Refuse before connecting (or starting a throwaway server).
        return Err(MigrateError::NoSuchVersion {
            given: b.version.clone(),
            known: format!(
                "{} file(s) in {}",
                migrations.files.len(),
                migrations.dir.display()
            ),
        }
        .into());
    }
    let mut target = connect(global, "migrate baseline").await?;
    let options = ApplyOptions {
        history_schema: schema.clone(),
        wait_lock: b.wait_lock,
        ..ApplyOptions::default()
    };
    let report = migrate::baseline(
        &mut target.conn,
        &migrations,
        &b.version,
        &options,
        &mut Lines,
    )
    .await?;
    match report.batch {
        Some(batch) => note!(
            "marked {} file(s) as applied without running them (batch {batch}){}",
            report.marked.len(),
            if report.already_applied > 0 {
                format!("; {} were already applied", report.already_applied)
            } else {
                String::new()
            }
        ),
        None => note!(
            "nothing to mark: the {} file(s) up to {} are already applied",
            report.already_applied,
            b.version
        ),
    }
    Ok(super::Exit::InSync)
}
