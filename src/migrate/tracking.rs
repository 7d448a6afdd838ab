//! The tracking table: which migration files ran against this database, and how it went.
//!
//! The database, not the folder, is the memory of what ran, so every attempt leaves a row in
//! `<schema>.migrations` (default `reconcile.migrations`, beside the declarative history
//! tables): successes, failures with the server's error, and baselined files. Rows are only
//! ever added; the state of a version is derived from its rows ([`super::status`]). A partial
//! unique index makes a second success row for one version impossible even if the advisory
//! lock were bypassed.

use sqlx::PgConnection;

use crate::model::Ident;

/// The tracking table of one schema.
#[derive(Debug, Clone)]
pub struct Tracking {
    schema: Ident,
}

/// One row of the tracking table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct TrackedRow {
    pub id: i64,
    /// Canonical version text ([`super::Version::key`]).
    pub version: String,
    pub name: String,
    pub file: String,
    pub checksum: String,
    pub batch: i32,
    pub success: bool,
    pub baselined: bool,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub applied_at: String,
    pub execution_time_ms: i64,
    pub applied_by: String,
    pub error: Option<String>,
    pub sqlstate: Option<String>,
    pub error_detail: Option<String>,
    pub error_hint: Option<String>,
    pub error_line: Option<i32>,
    pub error_statement: Option<String>,
}

/// A row to add.
#[derive(Debug, Clone, Default)]
pub struct NewRow<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub file: &'a str,
    pub checksum: &'a str,
    pub batch: i32,
    pub success: bool,
    pub baselined: bool,
    pub execution_time_ms: i64,
    pub error: Option<&'a str>,
    pub sqlstate: Option<&'a str>,
    pub error_detail: Option<&'a str>,
    pub error_hint: Option<&'a str>,
    pub error_line: Option<i32>,
    pub error_statement: Option<&'a str>,
}

impl Tracking {
    pub fn new(schema: Ident) -> Self {
        Self { schema }
    }

    /// `"reconcile".migrations`, quoted as needed.
    pub fn table(&self) -> String {
        format!("{}.migrations", self.schema.quoted())
    }

    /// Creates the schema and table if missing. Call with the advisory lock held, so that two
    /// first runs cannot race on CREATE.
    pub async fn ensure(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let table = self.table();
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS {}", self.schema.quoted()),
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    version text NOT NULL,
                    name text NOT NULL,
                    file text NOT NULL,
                    checksum text NOT NULL,
                    batch integer NOT NULL,
                    success boolean NOT NULL,
                    baselined boolean NOT NULL DEFAULT false,
                    applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    execution_time_ms bigint NOT NULL,
                    applied_by text NOT NULL,
                    tool_version text NOT NULL,
                    error text,
                    sqlstate text,
                    error_detail text,
                    error_hint text,
                    error_line integer,
                    error_statement text
                )"
            ),
            format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS migrations_applied_version \
                 ON {table} (version) WHERE success"
            ),
        ];
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Every row, oldest first; none when the table does not exist yet.
    pub async fn rows(&self, conn: &mut PgConnection) -> Result<Vec<TrackedRow>, sqlx::Error> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(self.table())
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, version, name, file, checksum, batch, success, baselined,
                    {} AS applied_at,
                    execution_time_ms, applied_by, error, sqlstate, error_detail, error_hint,
                    error_line, error_statement
               FROM {} ORDER BY id",
            crate::apply::history::utc_text("applied_at"),
            self.table()
        )))
        .fetch_all(&mut *conn)
        .await
    }

    /// The number of a new batch (one per `migrate apply` or `baseline` that records rows).
    pub async fn next_batch(&self, conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(max(batch), 0) + 1 FROM {}",
            self.table()
        )))
        .fetch_one(&mut *conn)
        .await
    }

    /// Adds a row, in whatever transaction `conn` is in.
    pub async fn insert(
        &self,
        conn: &mut PgConnection,
        row: &NewRow<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (version, name, file, checksum, batch, success, baselined,
                             execution_time_ms, applied_by, tool_version, error, sqlstate,
                             error_detail, error_hint, error_line, error_statement)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, current_user || '@' || $9, $10, $11, $12,
                     $13, $14, $15, $16)",
            self.table()
        )))
        .bind(row.version)
        .bind(row.name)
        .bind(row.file)
        .bind(row.checksum)
        .bind(row.batch)
        .bind(row.success)
        .bind(row.baselined)
        .bind(row.execution_time_ms)
        .bind(crate::apply::history::client_host())
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(row.error)
        .bind(row.sqlstate)
        .bind(row.error_detail)
        .bind(row.error_hint)
        .bind(row.error_line)
        .bind(row.error_statement)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
