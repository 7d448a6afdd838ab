//! Running pending migration files, and marking files as applied without running them.
//!
//! The promises: files run in version order, one transaction each (or statement by statement
//! in autocommit for a `-- reconcile:no-transaction` file); the first failure stops the run;
//! a file's success row commits atomically with the file, and a failure row is written after
//! the rollback, so the tracking table never claims a file that did not commit and never
//! loses a failure. Every pending file is parsed and checked before the first one runs, so a
//! syntax error in the fifth file does not leave the first four applied. Runs exclude each
//! other, and the declarative `apply`, through the same session advisory lock.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgConnection;
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

use super::files::{Migration, Migrations};
use super::split::{NO_TRANSACTION, SqlStatement};
use super::status::{self, State};
use super::tracking::{NewRow, TrackedRow, Tracking};
use super::{MigrateError, Problem, prepare_file};
use crate::apply::lock;
use crate::model::Ident;

/// How `apply` runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Schema of the tracking table.
    pub history_schema: Ident,
    /// How long a statement may wait for a lock before the file is retried.
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    /// How long to wait for another run holding the advisory lock.
    pub wait_lock: Duration,
    /// Retries of a transactional file that hit a lock timeout or deadlock.
    pub retries: u32,
    /// First backoff delay; doubles per attempt, with jitter, capped at 30 s.
    pub backoff: Duration,
    /// Apply pending files even though applied files changed.
    pub allow_changed: bool,
    /// Report what would run; execute and record nothing.
    pub dry_run: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            history_schema: Ident::from_catalog("reconcile".to_owned()),
            lock_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(60),
            wait_lock: Duration::from_secs(300),
            retries: 5,
            backoff: Duration::from_millis(500),
            allow_changed: false,
            dry_run: false,
        }
    }
}

/// Where progress goes; every method defaults to nothing.
pub trait Progress {
    fn waiting_for_lock(&mut self, _holder: &str) {}
    fn started(&mut self, _migration: &Migration, _number: usize, _total: usize) {}
    fn finished(&mut self, _migration: &Migration, _elapsed: Duration) {}
    fn retrying(&mut self, _migration: &Migration, _attempt: u32, _delay: Duration, _why: &str) {}
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {}

/// A file that runs (or would run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub version: String,
    pub file: String,
    /// Whether it runs in one transaction (false: `-- reconcile:no-transaction`).
    pub transactional: bool,
    pub statements: usize,
    /// Its version is lower than that of an applied file (e.g. merged from a branch).
    pub out_of_order: bool,
    /// Its previous attempt failed.
    pub retry_of_failed: bool,
}

/// A file that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ran {
    pub version: String,
    pub file: String,
    pub duration_ms: u64,
}

/// Why a file failed, with everything needed to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub version: String,
    pub file: String,
    /// The file's path as given (`migrations/003_x.sql`).
    pub path: String,
    /// 1-based line of the failing statement (refined by the server's error position).
    pub line: Option<usize>,
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub statement: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path, self.message)?,
            None => write!(f, "{}: {}", self.path, self.message)?,
        }
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\n  DETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  HINT: {hint}")?;
        }
        if let Some(statement) = &self.statement {
            let first = statement.lines().next().unwrap_or_default();
            let more = if statement.lines().nth(1).is_some() {
                " …"
            } else {
                ""
            };
            write!(f, "\n  statement: {first}{more}")?;
        }
        Ok(())
    }
}

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub dry_run: bool,
    /// The batch number of the rows recorded (`None`: nothing was run or recorded).
    pub batch: Option<i32>,
    /// The files that were due, in order.
    pub pending: Vec<Planned>,
    /// The files that ran and committed, in order.
    pub applied: Vec<Ran>,
    /// The file that failed; the run stopped there, and later files were not touched.
    pub failure: Option<Failure>,
    /// Applied files whose text changed since (only with `allow_changed`).
    pub changed: Vec<String>,
    /// Versions recorded in the database whose files are gone.
    pub missing: Vec<String>,
}

/// Runs the pending files of `migrations` on `conn`, under the advisory lock (taken and
/// released on `conn` itself).
pub async fn apply(
    conn: &mut PgConnection,
    migrations: &Migrations,
    options: &ApplyOptions,
    progress: &mut dyn Progress,
) -> Result<ApplyReport, MigrateError> {
    let tracking = Tracking::new(options.history_schema.clone());
    if options.dry_run {
        let rows = tracking
            .rows(conn)
            .await
            .map_err(MigrateError::database("while reading the tracking table"))?;
        let (mut report, _) = prepare(migrations, &rows, options)?;
        report.dry_run = true;
        return Ok(report);
    }
    lock::acquire(conn, options.wait_lock, |holder| {
        progress.waiting_for_lock(holder)
    })
    .await?;
    let result = apply_locked(conn, migrations, options, progress, &tracking).await;
    // Failing to unlock is harmless: the server releases it when the connection closes.
    let _ = lock::release(conn).await;
    result
}

/// A pending file, checked and split.
struct Work<'a> {
    migration: &'a Migration,
    statements: Vec<SqlStatement>,
    transactional: bool,
}

/// What is due: validated and split, or the reasons nothing may run.
fn prepare<'a>(
    migrations: &'a Migrations,
    rows: &[super::tracking::TrackedRow],
    options: &ApplyOptions,
) -> Result<(ApplyReport, Vec<Work<'a>>), MigrateError> {
    let entries = status::compute(migrations, rows);
    let changed: Vec<&status::Entry> = entries
        .iter()
        .filter(|e| e.state == State::Changed)
        .collect();
    if !changed.is_empty() && !options.allow_changed {
        return Err(MigrateError::Changed(
            changed
                .iter()
                .map(|e| super::ChangedFile {
                    version: e.version.clone(),
                    path: e
                        .index
                        .map(|i| migrations.files[i].display_path())
                        .unwrap_or_else(|| e.file.clone()),
                    recorded: e.recorded_checksum.clone().unwrap_or_default(),
                    now: e.checksum.clone().unwrap_or_default(),
                })
                .collect(),
        ));
    }
    let highest_applied = entries
        .iter()
        .filter(|e| matches!(e.state, State::Applied | State::Changed))
        .filter_map(|e| e.index)
        .max();
    let mut report = ApplyReport {
        changed: changed.iter().map(|e| e.file.clone()).collect(),
        missing: entries
            .iter()
            .filter(|e| e.state == State::Missing)
            .map(|e| format!("{} ({})", e.version, e.file))
            .collect(),
        ..ApplyReport::default()
    };
    let mut work = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    for e in entries.iter().filter(|e| e.state.runs()) {
        let Some(index) = e.index else { continue };
        let migration = &migrations.files[index];
        match prepare_file(migration) {
            Ok((transactional, statements)) => {
                report.pending.push(Planned {
                    version: e.version.clone(),
                    file: migration.file_name.clone(),
                    transactional,
                    statements: statements.len(),
                    out_of_order: highest_applied.is_some_and(|h| index < h),
                    retry_of_failed: e.state == State::Failed,
                });
                work.push(Work {
                    migration,
                    statements,
                    transactional,
                });
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(MigrateError::Invalid(problems));
    }
    Ok((report, work))
}

/// The tracking table's rows, creating the table first if this database has none yet.
async fn ensure_and_read(
    conn: &mut PgConnection,
    tracking: &Tracking,
) -> Result<Vec<TrackedRow>, MigrateError> {
    tracking
        .ensure(conn)
        .await
        .map_err(MigrateError::database("cannot create the tracking table"))?;
    tracking
        .rows(conn)
        .await
        .map_err(MigrateError::database("while reading the tracking table"))
}

async fn apply_locked(
    conn: &mut PgConnection,
    migrations: &Migrations,
    options: &ApplyOptions,
    progress: &mut dyn Progress,
    tracking: &Tracking,
) -> Result<ApplyReport, MigrateError> {
    let rows = ensure_and_read(conn, tracking).await?;
    let (mut report, work) = prepare(migrations, &rows, options)?;
    if work.is_empty() {
        return Ok(report);
    }
    let batch = tracking
        .next_batch(conn)
        .await
        .map_err(MigrateError::database("while reading the tracking table"))?;
    report.batch = Some(batch);
    let total = work.len();
    for (number, w) in work.iter().enumerate() {
        let m = w.migration;
        progress.started(m, number + 1, total);
        let started = Instant::now();
        let result = if w.transactional {
            run_transactional(conn, tracking, w, batch, options, progress, started).await
        } else {
            run_autocommit(conn, tracking, w, batch, options, started).await
        };
        match result {
            Ok(()) => {
                let elapsed = started.elapsed();
                progress.finished(m, elapsed);
                report.applied.push(Ran {
                    version: m.version.key(),
                    file: m.file_name.clone(),
                    duration_ms: elapsed.as_millis() as u64,
                });
            }
            Err(failed) => {
                let failure =
                    describe(m, failed.statement.map(|i| &w.statements[i]), &failed.error);
                let elapsed_ms = started.elapsed().as_millis() as i64;
                let key = m.version.key();
                let line = failure.line.map(|l| l as i32);
                tracking
                    .insert(
                        conn,
                        &NewRow {
                            version: &key,
                            name: &m.name,
                            file: &m.file_name,
                            checksum: &m.checksum,
                            batch,
                            success: false,
                            baselined: false,
                            execution_time_ms: elapsed_ms,
                            error: Some(&failure.message),
                            sqlstate: failure.sqlstate.as_deref(),
                            error_detail: failure.detail.as_deref(),
                            error_hint: failure.hint.as_deref(),
                            error_line: line,
                            error_statement: failure.statement.as_deref(),
                        },
                    )
                    .await
                    .map_err(|source| MigrateError::Database {
                        context: format!("{failure}\nand then, while recording that failure"),
                        source,
                    })?;
                report.failure = Some(failure);
                break;
            }
        }
    }
    Ok(report)
}

/// A failed file: the statement (index) that failed, if one did, and the error.
struct Failed {
    statement: Option<usize>,
    error: sqlx::Error,
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    // The simple query protocol, one statement per message: exactly what psql sends, so a
    // file behaves as it would there (and CONCURRENTLY works in autocommit).
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

async fn rollback(conn: &mut PgConnection) {
    // The transaction is aborted or the connection gone; the original error is what matters.
    let _ = exec(conn, "ROLLBACK").await;
}

fn success_row<'a>(m: &'a Migration, key: &'a str, batch: i32, started: Instant) -> NewRow<'a> {
    NewRow {
        version: key,
        name: &m.name,
        file: &m.file_name,
        checksum: &m.checksum,
        batch,
        success: true,
        execution_time_ms: started.elapsed().as_millis() as i64,
        ..NewRow::default()
    }
}

async fn run_transactional(
    conn: &mut PgConnection,
    tracking: &Tracking,
    w: &Work<'_>,
    batch: i32,
    options: &ApplyOptions,
    progress: &mut dyn Progress,
    started: Instant,
) -> Result<(), Failed> {
    let key = w.migration.version.key();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let error =
            match attempt_transaction(conn, tracking, w, batch, options, &key, started).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
        let transient = matches!(
            crate::apply::sqlstate(&error.error),
            Some("55P03" | "40P01")
        );
        if transient && attempt <= options.retries {
            let delay = backoff(options.backoff, attempt);
            progress.retrying(w.migration, attempt, delay, &error.error.to_string());
            tokio::time::sleep(delay).await;
            continue;
        }
        return Err(error);
    }
}

async fn attempt_transaction(
    conn: &mut PgConnection,
    tracking: &Tracking,
    w: &Work<'_>,
    batch: i32,
    options: &ApplyOptions,
    key: &str,
    started: Instant,
) -> Result<(), Failed> {
    let setup = [
        "BEGIN".to_owned(),
        format!(
            "SET LOCAL lock_timeout = '{}ms'",
            millis(options.lock_timeout)
        ),
        format!(
            "SET LOCAL statement_timeout = '{}ms'",
            millis(options.statement_timeout)
        ),
    ];
    for sql in &setup {
        if let Err(error) = exec(conn, sql).await {
            rollback(conn).await;
            return Err(Failed {
                statement: None,
                error,
            });
        }
    }
    for (i, statement) in w.statements.iter().enumerate() {
        if let Err(error) = exec(conn, &statement.text).await {
            rollback(conn).await;
            return Err(Failed {
                statement: Some(i),
                error,
            });
        }
    }
    // Inside the file's transaction: the row commits with the file or not at all.
    if let Err(error) = tracking
        .insert(conn, &success_row(w.migration, key, batch, started))
        .await
    {
        rollback(conn).await;
        return Err(Failed {
            statement: None,
            error,
        });
    }
    if let Err(error) = exec(conn, "COMMIT").await {
        // Deferred constraints are checked here.
        rollback(conn).await;
        return Err(Failed {
            statement: None,
            error,
        });
    }
    Ok(())
}

/// A `-- reconcile:no-transaction` file: each statement alone, as psql would run it. Not
/// retried: statements before the failing one have committed.
async fn run_autocommit(
    conn: &mut PgConnection,
    tracking: &Tracking,
    w: &Work<'_>,
    batch: i32,
    options: &ApplyOptions,
    started: Instant,
) -> Result<(), Failed> {
    let key = w.migration.version.key();
    let setup = [
        format!("SET lock_timeout = '{}ms'", millis(options.lock_timeout)),
        format!(
            "SET statement_timeout = '{}ms'",
            millis(options.statement_timeout)
        ),
    ];
    let mut outcome = Ok(());
    for sql in &setup {
        if let Err(error) = exec(conn, sql).await {
            outcome = Err(Failed {
                statement: None,
                error,
            });
            break;
        }
    }
    if outcome.is_ok() {
        for (i, statement) in w.statements.iter().enumerate() {
            if let Err(error) = exec(conn, &statement.text).await {
                outcome = Err(Failed {
                    statement: Some(i),
                    error,
                });
                break;
            }
        }
    }
    if outcome.is_err() {
        // The file may have opened a transaction of its own.
        rollback(conn).await;
    }
    // Back to the connection's own settings for whatever runs next.
    let _ = exec(conn, "RESET lock_timeout").await;
    let _ = exec(conn, "RESET statement_timeout").await;
    outcome?;
    tracking
        .insert(conn, &success_row(w.migration, &key, batch, started))
        .await
        .map_err(|error| Failed {
            statement: None,
            error,
        })
}

/// `base · 2^(attempt-1)`, capped at 30 s, times a random factor in [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(1u32 << (attempt - 1).min(16));
    let capped = exponential.min(Duration::from_secs(30));
    let random = RandomState::new().build_hasher().finish();
    capped.mul_f64(0.5 + (random % 1000) as f64 / 1000.0)
}

/// The failure as the user needs it: file, line, SQLSTATE, the server's words.
fn describe(m: &Migration, statement: Option<&SqlStatement>, error: &sqlx::Error) -> Failure {
    let mut failure = Failure {
        version: m.version.key(),
        file: m.file_name.clone(),
        path: m.display_path(),
        line: statement.map(|s| s.line),
        sqlstate: None,
        message: error.to_string(),
        detail: None,
        hint: None,
        statement: statement.map(|s| s.text.clone()),
    };
    if let sqlx::Error::Database(db) = error
        && let Some(pg) = db.try_downcast_ref::<PgDatabaseError>()
    {
        failure.sqlstate = Some(pg.code().to_owned());
        failure.message = pg.message().to_owned();
        failure.detail = pg.detail().map(str::to_owned);
        failure.hint = pg.hint().map(str::to_owned);
        if let (Some(s), Some(PgErrorPosition::Original(position))) = (statement, pg.position()) {
            let before = s.text.chars().take(position.saturating_sub(1));
            failure.line = Some(s.line + before.filter(|&c| c == '\n').count());
        }
        // "cannot run inside a transaction block" (not "... from a function", where the header
        // would not help).
        if pg.code() == "25001"
            && pg.message().contains("transaction block")
            && failure.hint.is_none()
        {
            failure.hint = Some(format!(
                "add the line `-- {NO_TRANSACTION}` at the top of {} to run its statements \
                 one by one outside a transaction",
                m.file_name
            ));
        }
    }
    failure
}

/// What `baseline` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaselineReport {
    pub batch: Option<i32>,
    /// The files marked as applied, in order.
    pub marked: Vec<String>,
    /// Files up to the version that were already applied (left as they were).
    pub already_applied: usize,
}

/// Marks every file up to and including `version` as applied without running it (for a
/// database that already has what those files create).
pub async fn baseline(
    conn: &mut PgConnection,
    migrations: &Migrations,
    version: &str,
    options: &ApplyOptions,
    progress: &mut dyn Progress,
) -> Result<BaselineReport, MigrateError> {
    let Some(upto) = migrations.find_version(version).cloned() else {
        return Err(MigrateError::NoSuchVersion {
            given: version.to_owned(),
            known: match (migrations.files.first(), migrations.files.last()) {
                (Some(a), Some(b)) => format!(
                    "the folder's {} file(s) run from {} to {}",
                    migrations.files.len(),
                    a.file_name,
                    b.file_name
                ),
                _ => format!("{} holds no migration file", migrations.dir.display()),
            },
        });
    };
    let tracking = Tracking::new(options.history_schema.clone());
    lock::acquire(conn, options.wait_lock, |holder| {
        progress.waiting_for_lock(holder)
    })
    .await?;
    let result = async {
        let rows = ensure_and_read(conn, &tracking).await?;
        let entries = status::compute(migrations, &rows);
        let mut report = BaselineReport::default();
        let due: Vec<&Migration> = entries
            .iter()
            .filter_map(|e| e.index.map(|i| (e, &migrations.files[i])))
            .filter(|(_, m)| m.version <= upto)
            .filter_map(|(e, m)| {
                if e.state.runs() {
                    Some(m)
                } else {
                    report.already_applied += 1;
                    None
                }
            })
            .collect();
        if due.is_empty() {
            return Ok(report);
        }
        let batch = tracking
            .next_batch(conn)
            .await
            .map_err(MigrateError::database("while reading the tracking table"))?;
        exec(conn, "BEGIN")
            .await
            .map_err(MigrateError::database("while recording the baseline"))?;
        for m in &due {
            let key = m.version.key();
            let row = NewRow {
                version: &key,
                name: &m.name,
                file: &m.file_name,
                checksum: &m.checksum,
                batch,
                success: true,
                baselined: true,
                ..NewRow::default()
            };
            if let Err(e) = tracking.insert(conn, &row).await {
                rollback(conn).await;
                return Err(MigrateError::Database {
                    context: "while recording the baseline".into(),
                    source: e,
                });
            }
            report.marked.push(m.file_name.clone());
        }
        exec(conn, "COMMIT")
            .await
            .map_err(MigrateError::database("while recording the baseline"))?;
        report.batch = Some(batch);
        Ok(report)
    }
    .await;
    let _ = lock::release(conn).await;
    result
}
