//! Reads an apply run and its executed steps from the history tables
//! ([`crate::apply::history`]).

use sqlx::PgConnection;

use crate::apply::History;

/// The run row, as shown in the guide's header.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunRecord {
    pub id: i64,
    pub started: String,
    pub applied_by: String,
    pub tool_version: String,
    pub outcome: String,
    pub steps_planned: i32,
    pub steps_executed: i32,
}

/// One recorded step (`applied` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordedStep {
    pub number: i32,
    pub object: String,
    pub sql: String,
    pub outcome: String,
    pub error: Option<String>,
    /// What a replace step replaced (history tables of older versions have no such column).
    pub previous: Option<String>,
}

/// Why a run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "there are no history tables ({}.runs does not exist): nothing was ever applied with this --history-schema",
        schema
    )]
    NoHistory { schema: String },
    #[error("run {id} is not in {schema}.runs (see `reconcile history`)")]
    NotFound { id: i64, schema: String },
    #[error("cannot read the run history: {0}")]
    Database(#[from] sqlx::Error),
}

/// The run `id` and its recorded steps in execution order.
pub async fn load(
    conn: &mut PgConnection,
    history: &History,
    id: i64,
) -> Result<(RunRecord, Vec<RecordedStep>), RunError> {
    let schema = history.schema().quoted();
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("{schema}.runs"))
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(RunError::NoHistory { schema });
    }
    let run: Option<RunRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, {} AS started, applied_by,
                tool_version, outcome, steps_planned, steps_executed
           FROM {schema}.runs WHERE id = $1",
        crate::apply::history::utc_text("started_at")
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let run = run.ok_or(RunError::NotFound {
        id,
        schema: schema.clone(),
    })?;
    let steps = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT number, object, sql, outcome, error, to_jsonb(s) ->> 'previous' AS previous
           FROM {schema}.steps s WHERE run_id = $1 ORDER BY number"
    )))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok((run, steps))
}
