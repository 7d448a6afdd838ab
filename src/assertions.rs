//! `verify/` assertions: read-only queries that return no rows when an invariant holds.
//!
//! Drift detection compares the database with the desired state; assertions state what must
//! be true whatever the desired state says ("every table has a primary key", "no INVALID
//! index", "leads has the Sprint-4 columns"). Each `.sql` file of a folder is one assertion:
//! exactly one `SELECT` (or `VALUES`, or `WITH ... SELECT`), checked with the PostgreSQL
//! parser when the folder is loaded, so a typo or a stray `DELETE` is an error naming the file
//! and line before any connection is made. [`run`] executes them all in one `READ ONLY`,
//! `REPEATABLE READ` transaction (one snapshot; writes are refused by the server even if the
//! parser check were fooled, e.g. by a function that writes) with a `statement_timeout`, each
//! under a savepoint so one failing query does not stop the others, and always rolls back.
//! Offending rows come back over the simple query protocol, i.e. as PostgreSQL's own text
//! form of every value, so any column type works.
//!
//! Independent of the CLI: `reconcile verify` and `reconcile shadow` both call it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pg_query::NodeEnum;
use serde::Serialize;
use sqlx::{Column as _, PgConnection, Row as _, ValueRef as _};

use crate::classify::{self, Kind};
use crate::sql::Script;
use crate::sql::split::line_of;

/// One assertion file, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assertion {
    /// The file name (`no_invalid_indexes.sql`); results are reported by it.
    pub name: String,
    pub path: PathBuf,
    /// The first line of the leading comment, if the file starts with one.
    pub description: Option<String>,
    /// The statement, without a terminating semicolon.
    #[serde(skip)]
    sql: String,
    /// 1-based line of the file where the statement starts.
    pub line: usize,
    /// Byte offset of the statement in the file (to map error positions back to lines).
    #[serde(skip)]
    offset: usize,
    /// The whole file, to turn byte offsets into lines.
    #[serde(skip)]
    source: String,
}

impl Assertion {
    /// Checks `source` as one assertion called `name` (the file name) from `path`.
    pub fn parse(name: &str, path: &Path, source: &str) -> Result<Self, AssertionError> {
        let at = |offset: usize, message: String| AssertionError::Invalid {
            path: path.to_owned(),
            line: line_of(source, offset),
            message,
        };
        let script = Script::parse(source)
            .map_err(|e| at(e.offset, format!("does not parse: {}", e.message)))?;
        let statements = script.statements();
        let statement = match statements.as_slice() {
            [] => {
                return Err(at(
                    0,
                    "contains no statement: an assertion is one SELECT that returns no rows \
                     when the invariant holds"
                        .to_owned(),
                ));
            }
            [statement] => statement,
            [_, second, ..] => {
                return Err(at(
                    second.start,
                    format!(
                        "contains {} statements; an assertion file holds exactly one (a second \
                         one starts here)",
                        statements.len()
                    ),
                ));
            }
        };
        let start = statement.start;
        let sql = statement.text.to_owned();
        match statement.node {
            NodeEnum::SelectStmt(select) => {
                if select.into_clause.is_some() {
                    return Err(at(
                        start,
                        "is SELECT ... INTO, which creates a table; an assertion must only read"
                            .to_owned(),
                    ));
                }
                if !select.locking_clause.is_empty() {
                    return Err(at(
                        start,
                        "locks rows (FOR UPDATE/SHARE); an assertion must only read".to_owned(),
                    ));
                }
            }
            other => {
                let kind = classify::classify(&sql)
                    .ok()
                    .and_then(|s| s.into_iter().next())
                    .map(|s| describe_kind(&s.kind))
                    .unwrap_or_else(|| format!("{other:?}").chars().take(40).collect());
                return Err(at(
                    start,
                    format!(
                        "is not a query ({kind}); an assertion must be one SELECT, VALUES or \
                         WITH ... SELECT that returns no rows when the invariant holds"
                    ),
                ));
            }
        }
        // A WITH may hide a data-modifying statement (`WITH x AS (DELETE ...) SELECT ...`).
        let statements = classify::classify(&sql).map_err(|e| at(start, e.to_string()))?;
        for statement in &statements {
            if let Some(bad) = statement
                .flatten()
                .into_iter()
                .find(|s| s.kind != Kind::Select)
            {
                return Err(at(
                    start,
                    format!(
                        "runs {} inside its WITH clause; an assertion must only read",
                        describe_kind(&bad.kind)
                    ),
                ));
            }
        }
        Ok(Assertion {
            name: name.to_owned(),
            path: path.to_owned(),
            description: description(source),
            line: line_of(source, start),
            offset: start,
            sql,
            source: source.to_owned(),
        })
    }

    /// The statement as written in the file (no terminating semicolon).
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// Why a folder of assertions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("assertion folder {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Loads every `*.sql` file directly in `dir` (not in subfolders), sorted by file name, and
/// checks each. The first invalid file is the error.
pub fn load_dir(dir: &Path) -> Result<Vec<Assertion>, AssertionError> {
    let folder_error = |source| AssertionError::Folder {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(folder_error)? {
        let entry = entry.map_err(folder_error)?;
        let path = entry.path();
        let is_sql = path.extension().is_some_and(|e| e == "sql");
        if is_sql && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
        .iter()
        .map(|path| {
            let source = std::fs::read_to_string(path).map_err(|source| AssertionError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Assertion::parse(&name, path, &source)
        })
        .collect()
}

/// How [`run_with`] runs assertions.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Offending rows kept per failed assertion.
    pub max_rows: usize,
    /// `statement_timeout` of each assertion.
    pub statement_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_rows: 5,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The verdict on one assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssertionResult {
    /// The file name.
    pub name: String,
    pub path: PathBuf,
    /// Line of the file where the statement starts.
    pub line: usize,
    pub description: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Pass, fail (with the first offending rows) or error (the query could not run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed {
        /// Column names, in order.
        columns: Vec<String>,
        /// The first offending rows (at most `max_rows`); values in PostgreSQL's text form,
        /// `None` for NULL.
        rows: Vec<Vec<Option<String>>>,
        /// How many rows the query returned in all.
        total_rows: u64,
    },
    Error {
        /// SQLSTATE, when the server reported the error.
        sqlstate: Option<String>,
        message: String,
        /// Line of the file the error points at (the statement's first line when the server
        /// gave no position).
        line: usize,
    },
}

impl AssertionResult {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }
    pub fn errored(&self) -> bool {
        matches!(self.outcome, Outcome::Error { .. })
    }
}

/// Counts over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Tally {
    pub fn of(results: &[AssertionResult]) -> Self {
        let mut t = Tally::default();
        for r in results {
            match r.outcome {
                Outcome::Passed => t.passed += 1,
                Outcome::Failed { .. } => t.failed += 1,
                Outcome::Error { .. } => t.errors += 1,
            }
        }
        t
    }
}

/// Runs `assertions` with the default timeout, keeping up to `max_rows` offending rows each.
pub async fn run(
    conn: &mut PgConnection,
    assertions: &[Assertion],
    max_rows: usize,
) -> Result<Vec<AssertionResult>, sqlx::Error> {
    run_with(
        conn,
        assertions,
        &RunOptions {
            max_rows,
            ..RunOptions::default()
        },
    )
    .await
}

/// Runs `assertions` in one read-only, repeatable-read transaction that is always rolled
/// back. A query error is that assertion's [`Outcome::Error`]; only a failure of the
/// connection or of the transaction itself is an `Err`. Call it on a connection that is not
/// inside a transaction: it begins and rolls back its own.
pub async fn run_with(
    conn: &mut PgConnection,
    assertions: &[Assertion],
    options: &RunOptions,
) -> Result<Vec<AssertionResult>, sqlx::Error> {
    if assertions.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::raw_sql("BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *conn)
        .await?;
    let result = run_in_transaction(conn, assertions, options).await;
    let rollback = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    let results = result?;
    rollback?;
    Ok(results)
}

async fn run_in_transaction(
    conn: &mut PgConnection,
    assertions: &[Assertion],
    options: &RunOptions,
) -> Result<Vec<AssertionResult>, sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL statement_timeout = {}",
        options.statement_timeout.as_millis().max(1)
    )))
    .execute(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(assertions.len());
    for assertion in assertions {
        sqlx::raw_sql("SAVEPOINT reconcile_assertion")
            .execute(&mut *conn)
            .await?;
        let (prefix, query) = wrapped(assertion, options.max_rows);
        let outcome = match sqlx::raw_sql(sqlx::AssertSqlSafe(query))
            .fetch_all(&mut *conn)
            .await
        {
            Ok(rows) => {
                sqlx::raw_sql("RELEASE SAVEPOINT reconcile_assertion")
                    .execute(&mut *conn)
                    .await?;
                outcome_of(&rows)
            }
            Err(sqlx::Error::Database(db)) => {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT reconcile_assertion")
                    .execute(&mut *conn)
                    .await?;
                let position = db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .and_then(|e| match e.position() {
                        Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
                        _ => None,
                    });
                Outcome::Error {
                    sqlstate: db.code().map(|c| c.into_owned()),
                    message: db.message().to_owned(),
                    line: error_line(assertion, &prefix, position),
                }
            }
            Err(e) => return Err(e),
        };
        out.push(AssertionResult {
            name: assertion.name.clone(),
            path: assertion.path.clone(),
            line: assertion.line,
            description: assertion.description.clone(),
            outcome,
        });
    }
    Ok(out)
}

/// Column name of the row count added around every assertion.
const TOTAL: &str = "reconcile_total_rows";

/// The query sent: the assertion as a subquery, with the total row count and a limit. The
/// statement goes on lines of its own so that a trailing `--` comment cannot swallow the
/// closing parenthesis.
fn wrapped(assertion: &Assertion, max_rows: usize) -> (String, String) {
    let prefix = format!("SELECT count(*) OVER () AS {TOTAL}, * FROM (\n");
    let query = format!(
        "{prefix}{}\n) AS reconcile_assertion LIMIT {}",
        assertion.sql,
        max_rows.max(1)
    );
    (prefix, query)
}

fn outcome_of(rows: &[sqlx::postgres::PgRow]) -> Outcome {
    let Some(first) = rows.first() else {
        return Outcome::Passed;
    };
    let columns: Vec<String> = first
        .columns()
        .iter()
        .skip(1)
        .map(|c| c.name().to_owned())
        .collect();
    let total_rows = text_value(first, 0)
        .and_then(|t| t.parse().ok())
        .unwrap_or(rows.len() as u64);
    let rows = rows
        .iter()
        .map(|row| (1..row.len()).map(|i| text_value(row, i)).collect())
        .collect();
    Outcome::Failed {
        columns,
        rows,
        total_rows,
    }
}

/// A value in PostgreSQL's text form (the simple query protocol sends every value as text),
/// `None` for NULL.
fn text_value(row: &sqlx::postgres::PgRow, index: usize) -> Option<String> {
    let value = row.try_get_raw(index).ok()?;
    if value.is_null() {
        return None;
    }
    match value.format() {
        sqlx::postgres::PgValueFormat::Text => value.as_str().ok().map(str::to_owned),
        sqlx::postgres::PgValueFormat::Binary => value.as_bytes().ok().map(|b| {
            format!(
                "\\x{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            )
        }),
    }
}

/// The file line an error position (in characters of the query sent) points at.
fn error_line(assertion: &Assertion, prefix: &str, position: Option<usize>) -> usize {
    let Some(position) = position else {
        return assertion.line;
    };
    let prefix_chars = prefix.chars().count();
    let Some(in_statement) = position.checked_sub(prefix_chars + 1) else {
        return assertion.line;
    };
    let byte = assertion
        .sql
        .char_indices()
        .nth(in_statement)
        .map_or(assertion.sql.len(), |(i, _)| i);
    line_of(&assertion.source, assertion.offset + byte)
}

/// The first line of the file's leading comment (`-- ...` lines or a `/* ... */` block).
fn description(source: &str) -> Option<String> {
    let trimmed = source.trim_start();
    if let Some(rest) = trimmed.strip_prefix("--") {
        let line = rest.lines().next().unwrap_or_default().trim();
        return (!line.is_empty()).then(|| line.to_owned());
    }
    if let Some(rest) = trimmed.strip_prefix("/*") {
        let body = rest.split("*/").next().unwrap_or_default();
        return body
            .lines()
            .map(|l| l.trim().trim_start_matches('*').trim())
            .find(|l| !l.is_empty())
            .map(str::to_owned);
    }
    None
}

fn describe_kind(kind: &Kind) -> String {
    match kind {
        Kind::Insert => "INSERT".to_owned(),
        Kind::Update { .. } => "UPDATE".to_owned(),
        Kind::Delete { .. } => "DELETE".to_owned(),
        Kind::Merge => "MERGE".to_owned(),
        Kind::Truncate => "TRUNCATE".to_owned(),
        Kind::CreateTableAs => "SELECT ... INTO / CREATE TABLE AS".to_owned(),
        Kind::Explain { .. } => "EXPLAIN".to_owned(),
        Kind::Other(name) => name.clone(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Object(m) => m.keys().next().cloned(),
                _ => None,
            })
            .unwrap_or_else(|| "a statement".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> Result<Assertion, AssertionError> {
        Assertion::parse("a.sql", Path::new("verify/a.sql"), source)
    }

    fn error(source: &str) -> String {
        parse(source).expect_err("should be rejected").to_string()
    }

    #[test]
    fn one_select_is_accepted_with_its_line_and_description() {
        let a = parse("-- Every table has a key.\n-- why: ...\n\nSELECT 1 WHERE false; -- tail\n")
            .expect("valid");
        assert_eq!(a.line, 4);
        assert_eq!(a.sql(), "SELECT 1 WHERE false");
        assert_eq!(a.description.as_deref(), Some("Every table has a key."));
        assert!(parse("VALUES (1)").is_ok());
        assert!(parse("WITH x AS (SELECT 1) SELECT * FROM x").is_ok());
        assert!(parse("TABLE pg_class").is_ok());
    }

    #[test]
    fn zero_or_several_statements_are_rejected_with_file_and_line() {
        assert!(error("-- nothing\n").contains("verify/a.sql:1: contains no statement"));
        let e = error("SELECT 1;\n\n  SELECT 2;\n");
        assert!(
            e.starts_with("verify/a.sql:3: contains 2 statements"),
            "{e}"
        );
    }

    #[test]
    fn writes_are_rejected() {
        let e = error("-- x\nDELETE FROM t");
        assert!(
            e.starts_with("verify/a.sql:2: is not a query (DELETE)"),
            "{e}"
        );
        assert!(error("CREATE TABLE t (a int)").contains("is not a query"));
        let e = error("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone");
        assert!(e.contains("runs DELETE inside its WITH clause"), "{e}");
        let e = error("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x");
        assert!(e.contains("runs INSERT"), "{e}");
        assert!(error("SELECT * INTO t2 FROM t").contains("SELECT ... INTO"));
        assert!(error("SELECT * FROM t FOR UPDATE").contains("locks rows"));
    }

    #[test]
    fn syntax_errors_are_rejected() {
        assert!(error("SELEC 1").contains("does not parse"));
    }

    /// Regression: a syntax error was reported on the line of the file's first token, not
    /// the line it is on.
    #[test]
    fn syntax_errors_name_their_line() {
        let e = error(
            "-- Accounts are positive.\nSELECT id\n  FROM accounts\n WHERE id >\n ORDER BY id\n",
        );
        assert_eq!(
            e,
            "verify/a.sql:5: does not parse: syntax error at or near \"ORDER\""
        );
    }
}
