//! Runs a plan's steps against the database: batch by batch, one statement at a time over the
//! extended protocol, each batch under its own lock_timeout and statement_timeout, retrying
//! only the batch that hit a lock timeout, with exponential backoff and jitter.
//!
//! Transactional batches (one table's short-lock steps) run in one short transaction;
//! CONCURRENTLY steps run alone outside any. A failed batch leaves nothing half-applied: its
//! transaction rolls back, and every step is idempotent, so the next run resumes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::time::{Duration, Instant};

use sqlx::PgConnection;

use super::history::{History, StepRecord};
use crate::plan::{HazardCode, Plan, Step, StepKind};

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// How long a step may wait for a table lock before it gives up (and is retried).
    pub lock: Duration,
    /// Statement timeout for ordinary steps.
    pub statement: Duration,
    /// Statement timeout for index builds, validations and table rewrites.
    pub long_statement: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            lock: Duration::from_secs(3),
            statement: Duration::from_secs(60),
            long_statement: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    pub timeouts: Timeouts,
    /// Retries of a batch that failed on a lock timeout or deadlock.
    pub retries: u32,
    /// First backoff delay; doubles per attempt, with ±50% jitter, capped at 30 s.
    pub backoff: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            retries: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Where progress goes (a terminal bar, plain CI lines, or nowhere). `Send`: `fleet apply`
/// runs applies on many tasks at once.
pub trait Progress: Send {
    fn step_started(&mut self, step: &Step, total: usize);
    fn step_finished(&mut self, step: &Step, elapsed: Duration);
    /// The step ran and the database declined it (see [`Skip`]).
    fn step_skipped(&mut self, step: &Step, message: &str);
    fn retrying(&mut self, steps: &[Step], attempt: u32, delay: Duration, reason: &str);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn step_started(&mut self, _: &Step, _: usize) {}
    fn step_finished(&mut self, _: &Step, _: Duration) {}
    fn step_skipped(&mut self, _: &Step, _: &str) {}
    fn retrying(&mut self, _: &[Step], _: u32, _: Duration, _: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("while applying step {number} ({object}), attempt {attempts}: {source}")]
    Step {
        number: usize,
        object: crate::model::ObjectId,
        attempts: u32,
        /// Steps committed before this one failed.
        executed: usize,
        #[source]
        source: sqlx::Error,
    },
    #[error("while preparing the session: {source}")]
    Session {
        #[source]
        source: sqlx::Error,
    },
    #[error("while recording the run history: {0}")]
    History(#[source] sqlx::Error),
}

/// The history sink: the table set and the autocommit connection it is written on.
pub struct Recorder<'a> {
    pub history: &'a History,
    pub conn: &'a mut PgConnection,
    pub run: i64,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Executed {
    /// Steps run (committed), skipped ones included.
    pub steps: usize,
    /// Steps the database declined: objects the scratch server could not check (hazard
    /// H012) and the target rejected too. They ran, changed nothing, and are still pending.
    pub skipped: Vec<Skip>,
}

/// A step the database declined, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub number: usize,
    pub object: crate::model::ObjectId,
    pub message: String,
}

/// Executes every step of `plan`.
pub async fn execute(
    conn: &mut PgConnection,
    plan: &Plan,
    options: &ExecOptions,
    mut recorder: Option<Recorder<'_>>,
    progress: &mut dyn Progress,
) -> Result<Executed, ExecError> {
    let total = plan.steps.len();
    let mut executed = 0;
    let mut skipped = Vec::new();
    // The model's type and expression text is what the server prints under these settings.
    for sql in [
        "SET search_path = public",
        "SET standard_conforming_strings = on",
    ] {
        run_statement(conn, sql)
            .await
            .map_err(|source| ExecError::Session { source })?;
    }
    for batch in plan.batches() {
        let steps = &plan.steps[batch.steps.clone()];
        let long = steps.iter().any(is_long_running);
        let statement_timeout = if long {
            options.timeouts.long_statement
        } else {
            options.timeouts.statement
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = if batch.transactional {
                run_transaction(
                    conn,
                    steps,
                    options.timeouts.lock,
                    statement_timeout,
                    total,
                    progress,
                )
                .await
            } else {
                run_outside(
                    conn,
                    steps,
                    options.timeouts.lock,
                    statement_timeout,
                    total,
                    progress,
                )
                .await
            };
            match result {
                Ok(durations) => {
                    for (step, (elapsed, declined)) in steps.iter().zip(durations) {
                        record(
                            &mut recorder,
                            step,
                            elapsed,
                            attempt,
                            None,
                            declined.clone(),
                        )
                        .await?;
                        match &declined {
                            Some(message) => progress.step_skipped(step, message),
                            None => progress.step_finished(step, elapsed),
                        }
                        if let Some(message) = declined {
                            skipped.push(Skip {
                                number: step.number,
                                object: step.object.clone(),
                                message,
                            });
                        }
                    }
                    executed += steps.len();
                    break;
                }
                Err((failed, elapsed, e)) => {
                    let transient = matches!(super::sqlstate(&e), Some("55P03" | "40P01"));
                    if !batch.transactional {
                        // A failed CREATE INDEX CONCURRENTLY leaves an INVALID index, which
                        // IF NOT EXISTS would then skip: drop it so the retry (or the next
                        // run) builds it for real.
                        drop_if_invalid(conn, &steps[failed]).await;
                    }
                    if transient && attempt <= options.retries {
                        let delay = backoff(options.backoff, attempt);
                        progress.retrying(steps, attempt, delay, &e.to_string());
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let step = &steps[failed];
                    record(
                        &mut recorder,
                        step,
                        elapsed,
                        attempt,
                        Some(e.to_string()),
                        None,
                    )
                    .await?;
                    return Err(ExecError::Step {
                        number: step.number,
                        object: step.object.clone(),
                        attempts: attempt,
                        executed,
                        source: e,
                    });
                }
            }
        }
    }
    // Leave the session as we found it for whatever runs next on it (verify after apply).
    let _ = sqlx::query("RESET lock_timeout").execute(&mut *conn).await;
    let _ = sqlx::query("RESET statement_timeout")
        .execute(&mut *conn)
        .await;
    Ok(Executed {
        steps: executed,
        skipped,
    })
}

/// Index builds, validations and rewrites scan the table and need the long timeout.
fn is_long_running(step: &Step) -> bool {
    step.hazards.iter().any(|h| {
        matches!(
            h.code,
            HazardCode::BuildsIndex
                | HazardCode::ValidatesByScan
                | HazardCode::RewritesTable
                | HazardCode::SetsNotNull
                | HazardCode::IndexBuiltUnderLock
                | HazardCode::PopulatesMaterializedView
        )
    })
}

/// `base · 2^(attempt-1)`, capped at 30 s, times a random factor in [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(1u32 << (attempt - 1).min(16));
    let capped = exponential.min(Duration::from_secs(30));
    let random = RandomState::new().build_hasher().finish();
    let factor = 0.5 + (random % 1000) as f64 / 1000.0;
    capped.mul_f64(factor)
}

fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

async fn run_statement(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    // Extended protocol, one statement, not cached: DDL plans must not be reused.
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Per step: how long it took, and the error the database declined it with (a tolerated
/// step, see [`declined`]).
type BatchResult = Result<Vec<(Duration, Option<String>)>, (usize, Duration, sqlx::Error)>;

/// Whether the step may be declined by the database without failing the run (hazard H012).
fn tolerated(step: &Step) -> bool {
    step.hazards
        .iter()
        .any(|h| h.code == HazardCode::Unverified)
}

/// The error a tolerated step's guard caught in this transaction, if any (and clears it).
async fn declined(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    let caught: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT pg_catalog.current_setting('{}', true)",
        crate::plan::guard::SKIPPED_SETTING
    )))
    .fetch_one(&mut *conn)
    .await?;
    let caught = caught.filter(|m| !m.is_empty());
    if caught.is_some() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pg_catalog.set_config('{}', '', true)",
            crate::plan::guard::SKIPPED_SETTING
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(caught)
}

async fn run_transaction(
    conn: &mut PgConnection,
    steps: &[Step],
    lock_timeout: Duration,
    statement_timeout: Duration,
    total: usize,
    progress: &mut dyn Progress,
) -> BatchResult {
    let setup = [
        "BEGIN".to_owned(),
        format!("SET LOCAL lock_timeout = '{}ms'", millis(lock_timeout)),
        format!(
            "SET LOCAL statement_timeout = '{}ms'",
            millis(statement_timeout)
        ),
    ];
    for sql in &setup {
        if let Err(e) = run_statement(conn, sql).await {
            rollback(conn).await;
            return Err((0, Duration::ZERO, e));
        }
    }
    let mut durations = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        progress.step_started(step, total);
        let started = Instant::now();
        if let Err(e) = run_statement(conn, &step.sql).await {
            rollback(conn).await;
            return Err((i, started.elapsed(), e));
        }
        let caught = if tolerated(step) {
            match declined(conn).await {
                Ok(caught) => caught,
                Err(e) => {
                    rollback(conn).await;
                    return Err((i, started.elapsed(), e));
                }
            }
        } else {
            None
        };
        if let Err(e) = fault_pause(conn, step).await {
            rollback(conn).await;
            return Err((i, started.elapsed(), e));
        }
        durations.push((started.elapsed(), caught));
    }
    if let Err(e) = run_statement(conn, "COMMIT").await {
        rollback(conn).await;
        return Err((steps.len() - 1, Duration::ZERO, e));
    }
    Ok(durations)
}

async fn run_outside(
    conn: &mut PgConnection,
    steps: &[Step],
    lock_timeout: Duration,
    statement_timeout: Duration,
    total: usize,
    progress: &mut dyn Progress,
) -> BatchResult {
    let setup = [
        format!("SET lock_timeout = '{}ms'", millis(lock_timeout)),
        format!("SET statement_timeout = '{}ms'", millis(statement_timeout)),
    ];
    for sql in &setup {
        run_statement(conn, sql)
            .await
            .map_err(|e| (0, Duration::ZERO, e))?;
    }
    let mut durations = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        progress.step_started(step, total);
        let started = Instant::now();
        if step.kind == StepKind::DropInvalidIndex && is_invalid(conn, step).await != Some(true) {
            // Only an index that is INVALID right now is ours to drop: one that is valid (or
            // gone) was rebuilt or removed by someone else since the plan was made.
            tracing::info!("{} is not INVALID now; not dropped", step.object);
            durations.push((started.elapsed(), None));
            continue;
        }
        match run_statement(conn, &step.sql).await {
            Ok(()) => {}
            // A CONCURRENTLY step cannot be wrapped in a guard (a DO block is a transaction):
            // a tolerated one that fails for a reason other than a lock is declined here.
            Err(e)
                if tolerated(step)
                    && !matches!(super::sqlstate(&e), Some("55P03" | "40P01" | "57014")) =>
            {
                drop_if_invalid(conn, step).await;
                durations.push((started.elapsed(), Some(e.to_string())));
                continue;
            }
            Err(e) => return Err((i, started.elapsed(), e)),
        }
        fault_pause(conn, step)
            .await
            .map_err(|e| (i, started.elapsed(), e))?;
        durations.push((started.elapsed(), None));
    }
    Ok(durations)
}

/// Fault injection for the crash tests: with `RECONCILE_FAULT_PAUSE_AFTER_STEP=N[:ms]`, the
/// server session sleeps right after step N's statement — inside its transaction, before
/// COMMIT — so a test can kill the process or terminate the backend at exactly that point.
async fn fault_pause(conn: &mut PgConnection, step: &Step) -> Result<(), sqlx::Error> {
    let Ok(spec) = std::env::var("RECONCILE_FAULT_PAUSE_AFTER_STEP") else {
        return Ok(());
    };
    let (number, millis) = spec.split_once(':').unwrap_or((spec.as_str(), "60000"));
    if number.trim().parse::<usize>().ok() != Some(step.number) {
        return Ok(());
    }
    let millis: u64 = millis.trim().parse().unwrap_or(60_000);
    // Not `eprintln!`, which panics when stderr is closed.
    let _ = writeln!(
        std::io::stderr(),
        "fault injection: pausing after step {} for {millis} ms",
        step.number
    );
    sqlx::query("SELECT pg_catalog.pg_sleep($1::float8 / 1000)")
        .bind(millis as f64)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the step's index exists and is INVALID (`None`: no such index, or no index named).
async fn is_invalid(conn: &mut PgConnection, step: &Step) -> Option<bool> {
    let index = step.index.as_ref()?;
    sqlx::query_scalar(
        "SELECT NOT i.indisvalid FROM pg_catalog.pg_index i WHERE i.indexrelid = to_regclass($1)",
    )
    .bind(index.quoted())
    .fetch_optional(&mut *conn)
    .await
    .ok()
    .flatten()
}

async fn rollback(conn: &mut PgConnection) {
    // The transaction is already aborted or the connection is gone; either way there is
    // nothing more to undo, and the original error is what the caller reports.
    let _ = run_statement(conn, "ROLLBACK").await;
}

async fn drop_if_invalid(conn: &mut PgConnection, step: &Step) {
    let Some(index) = &step.index else { return };
    if is_invalid(conn, step).await == Some(true) {
        tracing::info!("dropping the INVALID index {index} left by the failed build");
        let _ = run_statement(
            conn,
            &format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.quoted()),
        )
        .await;
    }
}

async fn record(
    recorder: &mut Option<Recorder<'_>>,
    step: &Step,
    elapsed: Duration,
    attempts: u32,
    error: Option<String>,
    skipped: Option<String>,
) -> Result<(), ExecError> {
    let Some(r) = recorder else { return Ok(()) };
    r.history
        .step(
            r.conn,
            r.run,
            &StepRecord {
                number: step.number,
                object: &step.object,
                sql: &step.sql,
                duration_ms: elapsed.as_millis() as i64,
                attempts,
                error,
                skipped,
                previous: step.previous.as_deref(),
            },
        )
        .await
        .map_err(ExecError::History)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let base = Duration::from_millis(100);
        for attempt in 1..=20 {
            let d = backoff(base, attempt);
            let nominal = base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(Duration::from_secs(30));
            assert!(
                d >= nominal.mul_f64(0.5) && d < nominal.mul_f64(1.5),
                "{attempt}: {d:?}"
            );
        }
    }
}
