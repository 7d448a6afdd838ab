//! Plans and drift reports → text, SQL, JSON or Markdown.
//!
//! One function per format, each writing to `&mut impl Write` and depending only on its
//! input, so the same plan always renders to the same bytes (plans are reviewed as text in
//! pull requests, and CI compares them).

pub mod assertions;
pub mod github;
pub mod graph;
pub mod json;
pub mod markdown;
pub mod pretty_json;
pub mod sarif;
pub mod shadow;
pub mod sql;
pub mod text;

use std::io::{self, Write};

use crate::diff::Severity;
use crate::introspect::Skipped;
use crate::model::Schema;
use crate::plan::{Plan, Transaction};

/// Everything a renderer shows.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// `plan` or `verify`.
    pub command: &'a str,
    /// Where the live state came from (never contains a password).
    pub target: &'a str,
    pub plan: &'a Plan,
    pub live: &'a Schema,
    pub desired: &'a Schema,
    /// Objects in scope that reconcile does not manage yet.
    pub skipped: &'a [Skipped],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Sql,
    Json,
    Markdown,
    /// GitHub Actions annotations (workflow commands) on the declaring file and line.
    Github,
    /// The steps and their dependencies as a Graphviz digraph.
    Dot,
    /// The findings as SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Renders `report` in `format`; `color` only affects text.
pub fn render(
    format: Format,
    report: &Report,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    render_with(format, report, None, color, out)
}

/// Renders `report` with the results of `verify/` assertions (`reconcile verify`).
pub fn render_with(
    format: Format,
    report: &Report,
    assertions: Option<&Assertions>,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::render_with(report, assertions, color, out),
        Format::Sql => sql::render_with(report, assertions, out),
        Format::Json => json::render_with(report, assertions, out),
        Format::Markdown => markdown::render_with(report, assertions, out),
        // Without the desired state's positions: annotations without a place.
        Format::Github => github::render(report, &|_| None, out),
        Format::Dot => graph::dot(report.plan, out),
        Format::Sarif => sarif::plan(report, &|_| None, ("schema".to_owned(), 1), out),
    }
}

pub use assertions::Assertions;

/// Counts the renderers share.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Summary {
    pub steps: usize,
    pub outside_transaction: usize,
    pub steps_with_hazards: usize,
    pub destructive: usize,
    pub risky: usize,
    pub cosmetic: usize,
}

impl Summary {
    pub fn of(plan: &Plan) -> Self {
        let mut s = Summary {
            steps: plan.steps.len(),
            ..Summary::default()
        };
        for step in &plan.steps {
            if step.transaction == Transaction::Outside {
                s.outside_transaction += 1;
            }
            if !step.hazards.is_empty() {
                s.steps_with_hazards += 1;
            }
        }
        for f in &plan.findings {
            match f.severity {
                Severity::Destructive => s.destructive += 1,
                Severity::Risky => s.risky += 1,
                Severity::Cosmetic => s.cosmetic += 1,
            }
        }
        s
    }

    pub fn findings(&self) -> usize {
        self.destructive + self.risky + self.cosmetic
    }

    /// One line: `3 steps to run (1 outside a transaction); 2 findings (1 destructive, ...)`.
    pub fn line(&self) -> String {
        if self.steps == 0 && self.findings() == 0 {
            return "In sync: nothing to run, nothing to report.".to_owned();
        }
        let steps = match (self.steps, self.outside_transaction) {
            (0, _) => "nothing to run".to_owned(),
            (n, 0) => format!("{n} step{} to run", plural(n)),
            (n, o) => format!("{n} step{} to run ({o} outside a transaction)", plural(n)),
        };
        let findings = match self.findings() {
            0 => "no findings".to_owned(),
            n => format!(
                "{n} finding{} never executed ({} destructive, {} risky, {} cosmetic)",
                plural(n),
                self.destructive,
                self.risky,
                self.cosmetic
            ),
        };
        format!("{steps}; {findings}.")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Prefixes every line of `text` with `prefix`. Lines end at `\n` *or* `\r` — PostgreSQL
/// and psql end a `--` comment at either, so a carriage return in a name or label must not
/// let the rest of the text out of a comment.
fn indent(text: &str, prefix: &str) -> String {
    text.split(['\n', '\r'])
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tables whose definition differs, as (name, database DDL, desired DDL).
fn changed_tables(report: &Report) -> Vec<(String, String, String)> {
    report
        .desired
        .tables
        .iter()
        .filter_map(|(name, want)| {
            let have = report.live.tables.get(name)?;
            (have != want).then(|| {
                (
                    name.to_string(),
                    table_sql(name, have),
                    table_sql(name, want),
                )
            })
        })
        .collect()
}

/// A table's full definition as SQL, for the before/after view.
fn table_sql(name: &crate::model::QualifiedName, table: &crate::model::Table) -> String {
    use crate::ddl;
    use crate::model::ConstraintKind;
    let mut out = ddl::create_table(name, table);
    out.push_str(";\n");
    for (iname, index) in &table.indexes {
        out.push_str(&ddl::create_index(name, iname, index, false));
        out.push_str(";\n");
    }
    for (cname, c) in &table.constraints {
        if matches!(c.kind, ConstraintKind::ForeignKey(_)) {
            out.push_str(&ddl::add_constraint(name, cname, c));
            out.push_str(";\n");
        }
    }
    if let Some(sql) = ddl::enable_rls(name, table) {
        out.push_str(&sql);
        out.push_str(";\n");
    }
    out
}
