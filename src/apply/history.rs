//! The run history inside the target database: who applied what, when, and how it went.
//!
//! One row per run in `<schema>.runs`, one per executed step in `<schema>.steps`. Written on
//! the lock connection in autocommit mode, so a failed step's rollback never erases its own
//! record. The schema is created idempotently on first use, after the advisory lock is held
//! (so concurrent first runs cannot race on CREATE).

use sqlx::PgConnection;

use crate::model::Ident;

#[derive(Debug, Clone)]
pub struct History {
    schema: Ident,
}

/// What a finished run is recorded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Every step ran, but some were skipped by the database (see [`StepRecord::skipped`]):
    /// their objects are still pending.
    Partial,
    NoOp,
    Failed,
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Partial => "partial",
            Outcome::NoOp => "no-op",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// One executed step's record.
#[derive(Debug, Clone)]
pub struct StepRecord<'a> {
    pub number: usize,
    pub object: &'a crate::model::ObjectId,
    pub sql: &'a str,
    pub duration_ms: i64,
    pub attempts: u32,
    pub error: Option<String>,
    /// The step ran, and the database declined it (the error it gave instead).
    pub skipped: Option<String>,
    /// What a replace step replaced (see [`crate::plan::Step::previous`]).
    pub previous: Option<&'a str>,
}

impl History {
    pub fn new(schema: Ident) -> Self {
        Self { schema }
    }

    pub fn schema(&self) -> &Ident {
        &self.schema
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.schema.quoted())
    }

    /// Creates the history schema and tables if they are missing.
    pub async fn ensure(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema.quoted()),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    finished_at timestamptz,
                    applied_by text NOT NULL,
                    tool_version text NOT NULL,
                    plan_fingerprint text NOT NULL,
                    steps_planned integer NOT NULL,
                    steps_executed integer NOT NULL DEFAULT 0,
                    outcome text NOT NULL DEFAULT 'running',
                    findings jsonb NOT NULL DEFAULT '[]',
                    error text
                )",
                self.table("runs")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                    run_id bigint NOT NULL REFERENCES {} (id),
                    number integer NOT NULL,
                    object text NOT NULL,
                    sql text NOT NULL,
                    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    duration_ms bigint NOT NULL,
                    attempts integer NOT NULL,
                    outcome text NOT NULL,
                    error text,
                    PRIMARY KEY (run_id, number)
                )",
                self.table("steps"),
                self.table("runs")
            ),
            // The definition a replace step replaced, for rollback guides (added after the
            // table's first version, so tables made by older versions gain it here).
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS previous text",
                self.table("steps")
            ),
        ];
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Records the start of a run; returns its id.
    pub async fn start(
        &self,
        conn: &mut PgConnection,
        fingerprint: &str,
        steps_planned: usize,
        findings_json: &str,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (applied_by, tool_version, plan_fingerprint, steps_planned, findings)
             VALUES (current_user || '@' || $1, $2, $3, $4, $5::jsonb) RETURNING id",
            self.table("runs")
        )))
        .bind(client_host())
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(fingerprint)
        .bind(steps_planned as i32)
        .bind(findings_json)
        .fetch_one(&mut *conn)
        .await
    }

    pub async fn step(
        &self,
        conn: &mut PgConnection,
        run: i64,
        step: &StepRecord<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (run_id, number, object, sql, started_at, duration_ms, attempts, outcome, error, previous)
             VALUES ($1, $2, $3, $4, clock_timestamp() - make_interval(secs => $5::float8 / 1000), $5, $6, $7, $8, $9)",
            self.table("steps")
        )))
        .bind(run)
        .bind(step.number as i32)
        .bind(step.object.to_string())
        .bind(step.sql)
        .bind(step.duration_ms)
        .bind(step.attempts as i32)
        .bind(if step.error.is_some() {
            "failed"
        } else if step.skipped.is_some() {
            "skipped"
        } else {
            "applied"
        })
        .bind(step.error.as_deref().or(step.skipped.as_deref()))
        .bind(step.previous)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn finish(
        &self,
        conn: &mut PgConnection,
        run: i64,
        outcome: Outcome,
        steps_executed: usize,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET finished_at = clock_timestamp(), outcome = $2, steps_executed = $3, error = $4
             WHERE id = $1",
            self.table("runs")
        )))
        .bind(run)
        .bind(outcome.as_str())
        .bind(steps_executed as i32)
        .bind(error)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Recent runs, newest first, as display rows.
    pub async fn recent(
        &self,
        conn: &mut PgConnection,
        limit: i64,
    ) -> Result<Vec<RunRow>, sqlx::Error> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(self.table("runs"))
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, {} AS started,
                    coalesce(round(extract(epoch FROM finished_at - started_at) * 1000)::bigint, -1) AS duration_ms,
                    applied_by, tool_version, plan_fingerprint, steps_planned, steps_executed,
                    outcome, jsonb_array_length(findings) AS findings, error
               FROM {} ORDER BY id DESC LIMIT $1",
            utc_text("started_at"),
            self.table("runs")
        )))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
    }
}

/// SQL that renders a `timestamptz` expression the way every time the CLI prints is written:
/// RFC 3339 in UTC (`2026-11-02T09:15:00Z`), whatever the session's TimeZone setting.
pub(crate) fn utc_text(expr: &str) -> String {
    format!("to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    /// RFC 3339, UTC.
    pub started: String,
    pub duration_ms: i64,
    pub applied_by: String,
    pub tool_version: String,
    pub plan_fingerprint: String,
    pub steps_planned: i32,
    pub steps_executed: i32,
    pub outcome: String,
    pub findings: i32,
    pub error: Option<String>,
}

/// The machine reconcile runs on, for `applied_by` (here and in the migrations table).
pub(crate) fn client_host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(name) = std::str::from_utf8(&buf[..end])
            && !name.is_empty()
        {
            return name.to_owned();
        }
    }
    "unknown-host".to_owned()
}
