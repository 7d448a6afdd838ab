//! The `verify/` assertion results as a section of each verify output format.

use std::io::{self, Write};

use serde::Serialize;

use crate::assertions::{AssertionResult, Outcome, Tally};

/// What `reconcile verify` found running the assertions of a folder.
#[derive(Debug, Clone, Copy)]
pub struct Assertions<'a> {
    /// The folder, as given (or the default, `verify`).
    pub dir: &'a str,
    /// `--no-assertions`: nothing ran.
    pub skipped: bool,
    pub results: &'a [AssertionResult],
}

impl Assertions<'_> {
    /// `skipped` (`--no-assertions`), `none` (no folder or no files), `error` (some query
    /// could not run), `failed` (some returned rows) or `passed`.
    pub fn status(&self) -> &'static str {
        let tally = Tally::of(self.results);
        if self.skipped {
            "skipped"
        } else if self.results.is_empty() {
            "none"
        } else if tally.errors > 0 {
            "error"
        } else if tally.failed > 0 {
            "failed"
        } else {
            "passed"
        }
    }

    /// One line: `Assertions: 3 passed, 1 failed, 0 errors (verify/).`
    pub fn line(&self) -> String {
        if self.skipped {
            return "Assertions: skipped (--no-assertions).".to_owned();
        }
        if self.results.is_empty() {
            return format!("Assertions: none found in {}.", self.dir);
        }
        let t = Tally::of(self.results);
        format!(
            "Assertions: {} passed, {} failed, {} error{} ({}).",
            t.passed,
            t.failed,
            t.errors,
            if t.errors == 1 { "" } else { "s" },
            self.dir
        )
    }
}

/// The JSON form (`"assertions"` in format version 1; absent from `plan`).
#[derive(Serialize)]
pub(super) struct JsonAssertions<'a> {
    status: &'static str,
    dir: &'a str,
    #[serde(flatten)]
    tally: Tally,
    results: &'a [AssertionResult],
}

impl<'a> JsonAssertions<'a> {
    pub(super) fn of(a: &Assertions<'a>) -> Self {
        JsonAssertions {
            status: a.status(),
            dir: a.dir,
            tally: Tally::of(a.results),
            results: a.results,
        }
    }
}

/// `NULL` for SQL NULL, the text otherwise.
pub(super) fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

/// Offending rows as `column=value, column=value` lines.
pub(super) fn row_lines(columns: &[String], rows: &[Vec<Option<String>>]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            if row.is_empty() {
                return "(a row without columns)".to_owned();
            }
            columns
                .iter()
                .zip(row)
                .map(|(c, v)| format!("{c}={}", value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// `3 offending rows` / `12 offending rows, first 5 shown`.
pub(super) fn rows_heading(total: u64, shown: usize) -> String {
    let plural = if total == 1 { "" } else { "s" };
    if total as usize > shown {
        format!("{total} offending row{plural}, first {shown} shown")
    } else {
        format!("{total} offending row{plural}")
    }
}

/// The text lines of one result (no colour), for the text and SQL formats.
pub(super) fn result_lines(r: &AssertionResult) -> (String, Vec<String>) {
    let file = r.path.display().to_string();
    match &r.outcome {
        Outcome::Passed => (format!("pass  {}", r.name), Vec::new()),
        Outcome::Failed {
            columns,
            rows,
            total_rows,
        } => {
            let mut lines = Vec::new();
            if let Some(d) = &r.description {
                lines.push(d.clone());
            }
            lines.push(format!(
                "{}:{}: {}:",
                file,
                r.line,
                rows_heading(*total_rows, rows.len())
            ));
            lines.extend(
                row_lines(columns, rows)
                    .into_iter()
                    .map(|l| format!("  {l}")),
            );
            (format!("FAIL  {}", r.name), lines)
        }
        Outcome::Error {
            sqlstate,
            message,
            line,
        } => (
            format!("ERROR {}", r.name),
            vec![format!(
                "{file}:{line}: {}{message}",
                sqlstate
                    .as_deref()
                    .map(|s| format!("SQLSTATE {s}: "))
                    .unwrap_or_default()
            )],
        ),
    }
}

/// The SQL format: the results as comments after the script.
pub(super) fn sql_section(a: &Assertions, out: &mut impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{}", super::indent(&a.line(), "-- "))?;
    for r in a.results {
        let (head, lines) = result_lines(r);
        writeln!(out, "{}", super::indent(&head, "--   "))?;
        for l in lines {
            writeln!(out, "{}", super::indent(&l, "--       "))?;
        }
    }
    Ok(())
}
