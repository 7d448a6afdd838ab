//! The human view: steps grouped by transaction and numbered, findings after, a before/after
//! view of each changed table, and a one-line summary. Coloured only when asked.

use std::io::{self, Write};

use similar::{ChangeTag, TextDiff};

use super::assertions::result_lines;
use super::{Assertions, Report, Summary, changed_tables, indent};
use crate::diff::Severity;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
}

pub fn render(report: &Report, color: bool, out: &mut impl Write) -> io::Result<()> {
    render_with(report, None, color, out)
}

/// With `verify/` assertion results, after the drift report and before the summary.
pub fn render_with(
    report: &Report,
    assertions: Option<&Assertions>,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let paint = Paint { on: color };
    let plan = report.plan;
    let summary = Summary::of(plan);
    writeln!(
        out,
        "{}",
        paint.bold(&format!(
            "reconcile {} for {}",
            report.command, report.target
        ))
    )?;
    plan_body(report, &paint, out)?;
    if let Some(a) = assertions {
        assertions_body(a, &paint, out)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", paint.bold(&summary.line()))?;
    if let Some(a) = assertions {
        let line = a.line();
        let line = match a.status() {
            "failed" => paint.red(&line),
            "error" => paint.yellow(&line),
            _ => line,
        };
        writeln!(out, "{}", paint.bold(&line))?;
    }
    Ok(())
}

/// Steps, findings, changed tables and unmanaged objects (no heading, no summary).
fn plan_body(report: &Report, paint: &Paint, out: &mut impl Write) -> io::Result<()> {
    let plan = report.plan;
    if !plan.steps.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint.bold("Steps"))?;
        for batch in plan.batches() {
            let steps = &plan.steps[batch.steps.clone()];
            let mut tables: Vec<String> = steps
                .iter()
                .flat_map(|s| s.locks.iter().map(|l| l.table.to_string()))
                .collect();
            tables.sort();
            tables.dedup();
            let heading = match (batch.transactional, steps.len()) {
                (false, _) => "outside a transaction".to_owned(),
                (true, 1) => "in its own transaction".to_owned(),
                (true, n) => format!("in one transaction ({n} steps)"),
            };
            let locks = if tables.is_empty() {
                String::new()
            } else {
                format!(" — locks {}", tables.join(", "))
            };
            writeln!(out)?;
            writeln!(out, "  {}", paint.dim(&format!("{heading}{locks}")))?;
            for step in steps {
                let lock = step
                    .strongest_lock()
                    .map(|l| format!("  [{l}]"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:>3}. {}{}",
                    step.number,
                    step.object,
                    paint.dim(&lock)
                )?;
                writeln!(
                    out,
                    "{}",
                    paint.green(&indent(&format!("{};", step.sql), "       "))
                )?;
                for hazard in &step.hazards {
                    writeln!(
                        out,
                        "{}",
                        paint.yellow(&indent(
                            &format!("! {} {}", hazard.code, hazard.message),
                            "       "
                        ))
                    )?;
                }
            }
        }
    }
    if !plan.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint.bold("Findings (reported, never executed)"))?;
        for f in &plan.findings {
            let severity = format!("{:<11}", f.severity.as_str());
            let severity = match f.severity {
                Severity::Destructive => paint.red(&severity),
                Severity::Risky => paint.yellow(&severity),
                Severity::Cosmetic => paint.dim(&severity),
            };
            writeln!(out)?;
            writeln!(out, "  {} {} {}", f.code, severity, f.object)?;
            writeln!(out, "{}", indent(&f.message, "       "))?;
            if let Some(s) = &f.suggestion {
                writeln!(out, "       {}", paint.dim("by hand, if intended:"))?;
                writeln!(out, "{}", paint.dim(&indent(s.text(), "         ")))?;
            }
        }
    }
    let changed = changed_tables(report);
    if !changed.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint.bold("Changed tables (database → desired)"))?;
        for (name, have, want) in changed {
            writeln!(out)?;
            writeln!(out, "  {name}")?;
            let diff = TextDiff::from_lines(&have, &want);
            for group in diff.grouped_ops(2) {
                for op in group {
                    for change in diff.iter_changes(&op) {
                        let line = change.value().trim_end_matches('\n');
                        match change.tag() {
                            ChangeTag::Delete => {
                                writeln!(out, "    {}", paint.red(&format!("- {line}")))?
                            }
                            ChangeTag::Insert => {
                                writeln!(out, "    {}", paint.green(&format!("+ {line}")))?
                            }
                            ChangeTag::Equal => writeln!(out, "      {line}")?,
                        }
                    }
                }
            }
        }
    }
    if !report.skipped.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint.dim(&format!(
                "Not managed by reconcile yet ({} object(s), left untouched):",
                report.skipped.len()
            ))
        )?;
        // A long list would bury the plan; the JSON and Markdown formats carry all of it.
        const SHOWN: usize = 20;
        for s in report.skipped.iter().take(SHOWN) {
            writeln!(
                out,
                "{}",
                paint.dim(&format!("  {}: {}", s.object, s.reason))
            )?;
        }
        if report.skipped.len() > SHOWN {
            writeln!(
                out,
                "{}",
                paint.dim(&format!(
                    "  … and {} more (--format json or markdown lists them all)",
                    report.skipped.len() - SHOWN
                ))
            )?;
        }
    }
    Ok(())
}

/// The assertion results (nothing when there are none).
fn assertions_body(a: &Assertions, paint: &Paint, out: &mut impl Write) -> io::Result<()> {
    if !a.results.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", paint.bold(&format!("Assertions ({})", a.dir)))?;
        for r in a.results {
            let (head, lines) = result_lines(r);
            let head = if r.passed() {
                paint.green(&head)
            } else if r.failed() {
                paint.red(&head)
            } else {
                paint.yellow(&head)
            };
            writeln!(out, "  {head}")?;
            for l in lines {
                writeln!(out, "{}", indent(&l, "        "))?;
            }
        }
    }
    Ok(())
}

/// The shadow report's drift section: [`plan_body`], then the summary line.
pub(super) fn drift_section(report: &Report, color: bool, out: &mut impl Write) -> io::Result<()> {
    let paint = Paint { on: color };
    plan_body(report, &paint, out)?;
    writeln!(out)?;
    writeln!(out, "{}", paint.bold(&Summary::of(report.plan).line()))
}

/// The shadow report's assertions section: the results, then the one-line tally.
pub(super) fn assertions_section(
    a: &Assertions,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let paint = Paint { on: color };
    assertions_body(a, &paint, out)?;
    writeln!(out)?;
    let line = a.line();
    let line = match a.status() {
        "failed" => paint.red(&line),
        "error" => paint.yellow(&line),
        _ => line,
    };
    writeln!(out, "{}", paint.bold(&line))
}
