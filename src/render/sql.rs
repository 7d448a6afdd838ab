//! The plan as a psql script: `psql -v ON_ERROR_STOP=1 -f plan.sql`, safe to run twice.
//!
//! Steps that share a transaction are wrapped in BEGIN/COMMIT; CONCURRENTLY steps stand
//! alone outside any. Every step is idempotent on its own, so a script stopped half-way can
//! simply be run again. Findings follow as comments only.

use std::io::{self, Write};

use super::{Report, Summary, indent};
use crate::plan::Transaction;

pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, None, out)
}

/// With `verify/` assertion results as comments at the end.
pub fn render_with(
    report: &Report,
    assertions: Option<&super::Assertions>,
    out: &mut impl Write,
) -> io::Result<()> {
    let plan = report.plan;
    let summary = Summary::of(plan);
    writeln!(
        out,
        "{}",
        indent(
            &format!("reconcile {} for {}", report.command, report.target),
            "-- "
        )
    )?;
    writeln!(out, "-- live state fingerprint: {}", plan.fingerprint)?;
    writeln!(out, "-- {}", summary.line())?;
    writeln!(
        out,
        "-- Run with: psql -v ON_ERROR_STOP=1 -f <this file>  (every step is idempotent: \
         running it twice is safe)"
    )?;
    if !plan.steps.is_empty() {
        writeln!(out)?;
        // The model's type and expression text is what the server prints under this path.
        writeln!(out, "SET search_path = public;")?;
        writeln!(out, "SET standard_conforming_strings = on;")?;
        writeln!(out, "SET lock_timeout = '3s';")?;
    }
    for batch in plan.batches() {
        writeln!(out)?;
        let steps = &plan.steps[batch.steps.clone()];
        if batch.transactional {
            writeln!(out, "BEGIN;")?;
        }
        for step in steps {
            let mut heading = format!("Step {}: {}", step.number, step.object);
            match step.transaction {
                Transaction::Outside => heading.push_str(" (outside a transaction)"),
                Transaction::Alone => heading.push_str(" (commits on its own)"),
                Transaction::Grouped => {}
            }
            writeln!(out, "{}", indent(&heading, "-- "))?;
            for lock in &step.locks {
                writeln!(
                    out,
                    "{}",
                    indent(&format!("lock: {} on {}", lock.level, lock.table), "-- ")
                )?;
            }
            for hazard in &step.hazards {
                writeln!(
                    out,
                    "{}",
                    indent(&format!("{}: {}", hazard.code, hazard.message), "-- ")
                )?;
            }
            writeln!(out, "{};", step.sql)?;
        }
        if batch.transactional {
            writeln!(out, "COMMIT;")?;
        }
    }
    if !plan.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "-- Findings: reported, never executed by reconcile.")?;
        for f in &plan.findings {
            writeln!(out, "--")?;
            writeln!(
                out,
                "{}",
                indent(
                    &format!("{} {} {}: {}", f.code, f.severity, f.object, f.message),
                    "-- "
                )
            )?;
            if let Some(s) = &f.suggestion {
                writeln!(out, "--   could be resolved by hand with:")?;
                writeln!(out, "{}", indent(s.text(), "--     "))?;
            }
        }
    }
    if let Some(a) = assertions {
        super::assertions::sql_section(a, out)?;
    }
    Ok(())
}
