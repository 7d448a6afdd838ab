//! A pull-request comment: summary table, steps table, collapsible SQL, findings table.

use std::io::{self, Write};

use super::assertions::{rows_heading, value};
use super::{Assertions, Report, Summary};
use crate::assertions::Outcome;

/// Escapes text for a Markdown table cell.
pub(super) fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', "<br>")
}

/// Inline code that survives backticks in the text.
pub(super) fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", cell(text))
}

/// A code-block fence longer than any run of backticks in `text` (at least three), so no
/// SQL can close the block early.
pub(super) fn block_fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, None, out)
}

/// With a section for the `verify/` assertions.
pub fn render_with(
    report: &Report,
    assertions: Option<&Assertions>,
    out: &mut impl Write,
) -> io::Result<()> {
    let plan = report.plan;
    let summary = Summary::of(plan);
    writeln!(out, "### reconcile {}: {}", report.command, summary.line())?;
    writeln!(out)?;
    writeln!(
        out,
        "Target {} · live state {}",
        code(report.target),
        code(&plan.fingerprint)
    )?;
    writeln!(out)?;
    writeln!(out, "| | count |")?;
    writeln!(out, "|---|---:|")?;
    writeln!(out, "| steps to run | {} |", summary.steps)?;
    writeln!(
        out,
        "| of which outside a transaction | {} |",
        summary.outside_transaction
    )?;
    writeln!(
        out,
        "| steps with hazards | {} |",
        summary.steps_with_hazards
    )?;
    writeln!(out, "| destructive findings | {} |", summary.destructive)?;
    writeln!(out, "| risky findings | {} |", summary.risky)?;
    writeln!(out, "| cosmetic findings | {} |", summary.cosmetic)?;
    plan_body(report, out)?;
    if let Some(a) = assertions {
        assertions_section(a, out)?;
    }
    Ok(())
}

/// The steps table, the SQL, the findings table and the unmanaged objects (no heading).
pub(super) fn plan_body(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let plan = report.plan;
    let summary = Summary::of(plan);
    if !plan.steps.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Steps")?;
        writeln!(out)?;
        writeln!(out, "| # | step | lock | hazards |")?;
        writeln!(out, "|---:|---|---|---|")?;
        for step in &plan.steps {
            let lock = step
                .strongest_lock()
                .map_or("—".to_owned(), |l| l.as_str().to_owned());
            let hazards: Vec<String> = step
                .hazards
                .iter()
                .map(|h| format!("**{}** {}", h.code, cell(&h.message)))
                .collect();
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                step.number,
                cell(&step.object.to_string()),
                lock,
                hazards.join("<br>")
            )?;
        }
        let mut sql = Vec::new();
        super::sql::render(report, &mut sql)?;
        let sql = String::from_utf8_lossy(&sql);
        let fence = block_fence(&sql);
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>SQL ({} step{})</summary>",
            summary.steps,
            if summary.steps == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;
        writeln!(out, "{fence}sql")?;
        write!(out, "{sql}")?;
        writeln!(out, "{fence}")?;
        writeln!(out)?;
        writeln!(out, "</details>")?;
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>Dependency graph{}</summary>",
            if plan.steps.len() > super::graph::COLLAPSE_OVER {
                " (one node per table)"
            } else {
                ""
            }
        )?;
        writeln!(out)?;
        writeln!(out, "```mermaid")?;
        super::graph::mermaid(plan, out)?;
        writeln!(out, "```")?;
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    if !plan.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Findings (reported, never executed)")?;
        writeln!(out)?;
        writeln!(
            out,
            "| severity | code | object | finding | could be resolved with |"
        )?;
        writeln!(out, "|---|---|---|---|---|")?;
        for f in &plan.findings {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.severity,
                f.code,
                cell(&f.object.to_string()),
                cell(&f.message),
                f.suggestion
                    .as_ref()
                    .map_or(String::new(), |s| code(s.text()))
            )?;
        }
    }
    if !report.skipped.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>{} object(s) not managed by reconcile yet</summary>",
            report.skipped.len()
        )?;
        writeln!(out)?;
        for s in report.skipped {
            writeln!(out, "- {}: {}", cell(&s.object.to_string()), cell(s.reason))?;
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    Ok(())
}

pub(super) fn assertions_section(a: &Assertions, out: &mut impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "#### {}", cell(&a.line()))?;
    if a.results.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "| assertion | result | detail |")?;
    writeln!(out, "|---|---|---|")?;
    for r in a.results {
        let (result, detail) = match &r.outcome {
            Outcome::Passed => ("✅ pass", String::new()),
            Outcome::Failed {
                rows, total_rows, ..
            } => ("❌ **fail**", rows_heading(*total_rows, rows.len())),
            Outcome::Error {
                sqlstate,
                message,
                line,
            } => (
                "⚠️ **error**",
                format!(
                    "line {line}: {}{}",
                    sqlstate
                        .as_deref()
                        .map(|s| format!("SQLSTATE {s}: "))
                        .unwrap_or_default(),
                    message
                ),
            ),
        };
        writeln!(
            out,
            "| {} | {} | {} |",
            code(&r.name),
            result,
            cell(&detail)
        )?;
    }
    for r in a.results {
        let Outcome::Failed {
            columns,
            rows,
            total_rows,
        } = &r.outcome
        else {
            continue;
        };
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>{}: {}</summary>",
            cell(&r.name),
            cell(&rows_heading(*total_rows, rows.len()))
        )?;
        writeln!(out)?;
        if let Some(d) = &r.description {
            writeln!(out, "{}", cell(d))?;
            writeln!(out)?;
        }
        if columns.is_empty() {
            writeln!(out, "(rows without columns)")?;
        } else {
            writeln!(
                out,
                "| {} |",
                columns
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )?;
            writeln!(out, "|{}", "---|".repeat(columns.len()))?;
            for row in rows {
                writeln!(
                    out,
                    "| {} |",
                    row.iter()
                        .map(|v| match v {
                            Some(_) => cell(value(v)),
                            None => "*NULL*".to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(" | ")
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    Ok(())
}
