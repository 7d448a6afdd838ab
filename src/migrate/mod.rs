//! Versioned SQL migrations beside the declarative schema (`reconcile migrate`).
//!
//! Some changes are not state but steps — backfills, data fixes, renames, anything the
//! declarative planner will not do — and teams keep them as numbered SQL files. This module
//! runs such a folder the way the common tools do (Flyway, golang-migrate, dbmate), with the
//! safety of the declarative `apply`: the same advisory lock, lock and statement timeouts,
//! the real PostgreSQL parser to split statements, and a tracking table that says what ran,
//! when, and how it failed.
//!
//! The entry points, also used by other commands (`reconcile shadow` rehearses a folder on a
//! throwaway database):
//! * [`discover`] / [`inspect`] — the folder's files in version order ([`files`]);
//! * [`apply`] / [`baseline`] — run or mark files ([`runner`]);
//! * [`status`] — where each file stands ([`status::compute`]);
//! * [`check_files`] — everything that can be known without a database.

pub mod files;
pub mod runner;
pub mod split;
pub mod status;
pub mod tracking;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use sqlx::PgConnection;

pub use files::{Convention, DownFile, Migration, Migrations, Version, discover, inspect};
pub use runner::{
    ApplyOptions, ApplyReport, BaselineReport, Failure, Planned, Progress, Ran, Silent, apply,
    baseline,
};
pub use split::{SqlStatement, TransactionControl};
pub use status::{Entry, State};
pub use tracking::{TrackedRow, Tracking};

use crate::apply::lock::LockError;
use crate::model::Ident;

/// One thing wrong with a file, located as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file's path as given (`migrations/003_x.sql`).
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: String, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file,
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// An applied file whose text changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFile {
    pub version: String,
    pub path: String,
    pub recorded: String,
    pub now: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot read the migrations folder {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
    #[error("{}", render_changed(.0))]
    Changed(Vec<ChangedFile>),
    #[error(
        "no migration file has version `{given}` ({known}); give the version or the file name \
         of an existing file"
    )]
    NoSuchVersion { given: String, known: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

impl MigrateError {
    fn database(context: &'static str) -> impl Fn(sqlx::Error) -> MigrateError {
        move |source| MigrateError::Database {
            context: context.to_owned(),
            source,
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = format!(
        "{} problem(s) with the migration files (nothing was run):",
        problems.len()
    );
    for p in problems {
        out.push_str(&format!("\n  {p}"));
    }
    out
}

fn render_changed(changed: &[ChangedFile]) -> String {
    let mut out = format!(
        "{} applied migration file(s) changed since they were applied (nothing was run):",
        changed.len()
    );
    for c in changed {
        out.push_str(&format!(
            "\n  {} (version {}): applied with checksum {}, now {}",
            c.path,
            c.version,
            short(&c.recorded),
            short(&c.now)
        ));
    }
    out.push_str(
        "\nThe database has what the old text did. Restore the file (e.g. from version \
         control) and put new changes in a new migration, or pass --allow-changed to apply \
         the pending files anyway.",
    );
    out
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// A file's statements as they will run, and whether in one transaction; or why it cannot
/// run (syntax errors, transaction control, statements that need autocommit).
///
/// In a transactional file, a leading `BEGIN` and trailing `COMMIT` are dropped (each file
/// gets its own transaction anyway); any other transaction control would end that
/// transaction early and is refused.
pub fn prepare_file(m: &Migration) -> Result<(bool, Vec<SqlStatement>), Vec<Problem>> {
    let path = m.display_path();
    let mut statements = split::split(&m.sql).map_err(|e| {
        vec![Problem::new(
            path.clone(),
            Some(e.line),
            format!("syntax error: {}", e.message),
        )]
    })?;
    let transactional = !split::no_transaction_header(&m.sql);
    if !transactional {
        return Ok((false, statements));
    }
    let wrapped = statements.first().and_then(|s| s.transaction_control)
        == Some(TransactionControl::Begin)
        && statements.last().and_then(|s| s.transaction_control)
            == Some(TransactionControl::Commit)
        && statements.len() >= 2;
    if wrapped {
        statements.pop();
        statements.remove(0);
    }
    let mut problems = Vec::new();
    for s in &statements {
        if matches!(
            s.transaction_control,
            Some(
                TransactionControl::Begin | TransactionControl::Commit | TransactionControl::Other
            )
        ) {
            problems.push(Problem::new(
                path.clone(),
                Some(s.line),
                format!(
                    "`{}` controls the transaction, but each file already runs in one \
                     transaction of its own; remove it, or make the file run statement by \
                     statement with the header line `-- {}`",
                    first_words(&s.text),
                    split::NO_TRANSACTION
                ),
            ));
        }
        if let Some(what) = s.needs_autocommit {
            problems.push(Problem::new(
                path.clone(),
                Some(s.line),
                format!(
                    "{what} cannot run inside a transaction block; add the line `-- {}` at \
                     the top of the file to run its statements one by one outside a \
                     transaction",
                    split::NO_TRANSACTION
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok((true, statements))
    } else {
        Err(problems)
    }
}

fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything `migrate check` can find without a database: each file parses, and what it
/// does fits how it will run. (Naming problems come from [`inspect`].)
pub fn check_files(migrations: &Migrations) -> Vec<Problem> {
    let mut problems = Vec::new();
    for m in &migrations.files {
        if let Err(mut p) = prepare_file(m) {
            problems.append(&mut p);
        }
        if let Some(line) = split::misplaced_directive(&m.sql) {
            problems.push(Problem::new(
                m.display_path(),
                Some(line),
                format!(
                    "`-- {}` only counts among the comment lines before the first statement; \
                     move it to the top of the file",
                    split::NO_TRANSACTION
                ),
            ));
        }
    }
    problems
}

/// Where each file stands in the database behind `conn` (nothing is created or locked).
pub async fn status(
    conn: &mut PgConnection,
    migrations: &Migrations,
    history_schema: &Ident,
) -> Result<Vec<Entry>, MigrateError> {
    let rows = Tracking::new(history_schema.clone())
        .rows(conn)
        .await
        .map_err(MigrateError::database("while reading the tracking table"))?;
    Ok(status::compute(migrations, &rows))
}
