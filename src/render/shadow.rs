//! The `reconcile shadow` report (text, Markdown for a pull-request comment, JSON): what ran,
//! how long it took, where it stopped, the drift left and the assertions. The drift and
//! assertion sections are the ones `plan` and `verify` print, so a reader sees one layout.

use std::io::{self, Write};

use serde::Serialize;

use super::assertions::JsonAssertions;
use super::markdown::{block_fence, cell, code};
use super::{Summary, indent};
use crate::diff::Finding;
use crate::migrate::Problem;
use crate::plan::Step;
use crate::shadow::{DriftCheck, FileOutcome, MigrationRun, ShadowReport, format_ms};

/// The formats of the rehearsal report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShadowFormat {
    Text,
    Markdown,
    Json,
}

pub fn render(
    format: ShadowFormat,
    report: &ShadowReport,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        ShadowFormat::Text => text(report, color, out),
        ShadowFormat::Markdown => markdown(report, out),
        ShadowFormat::Json => json(report, out),
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `3 of 3 migrations applied` / `no migrations folder` / ...
fn migrations_line(m: &MigrationRun) -> String {
    if !m.found {
        return format!("no migrations folder {}: none applied", m.dir);
    }
    if m.files.is_empty() {
        return format!("no migration files in {}", m.dir);
    }
    let took = m
        .duration_ms
        .map(|ms| format!(" in {}", format_ms(ms)))
        .unwrap_or_default();
    match (&m.failure, m.refused.is_empty()) {
        (Some(f), _) => format!(
            "{} of {} applied; {} failed, {} not run",
            m.applied(),
            plural(m.files.len(), "migration"),
            f.file,
            m.not_run().count()
        ),
        (None, false) => format!(
            "refused before anything ran ({}); {} not run",
            plural(m.refused.len(), "problem"),
            plural(m.files.len(), "migration")
        ),
        (None, true) => format!(
            "{} of {} applied{took}",
            m.applied(),
            plural(m.files.len(), "migration")
        ),
    }
}

/// The headline: the verdict of each stage.
fn headline(r: &ShadowReport) -> String {
    let m = r.migrations;
    if m.failed() {
        return match &m.failure {
            Some(f) => format!("migration {} failed", f.file),
            None => "the migration files were refused".to_owned(),
        };
    }
    let mut parts = vec![format!("{} applied", plural(m.applied(), "migration"))];
    parts.push(match &r.drift {
        DriftCheck::Skipped(_) => "drift not checked".to_owned(),
        DriftCheck::Checked(report) => {
            let s = Summary::of(report.plan);
            match (s.steps, s.findings()) {
                (0, 0) => "no drift left".to_owned(),
                (steps, 0) => format!("{} pending", plural(steps, "step")),
                (0, findings) => plural(findings, "finding"),
                (steps, findings) => format!(
                    "{} pending, {}",
                    plural(steps, "step"),
                    plural(findings, "finding")
                ),
            }
        }
    });
    if let Some(a) = &r.assertions {
        let t = crate::assertions::Tally::of(a.results);
        parts.push(match a.status() {
            "skipped" => "assertions skipped".to_owned(),
            "none" => "no assertions".to_owned(),
            "error" => format!("{} could not run", plural(t.errors, "assertion")),
            "failed" => format!(
                "{} of {} failed",
                t.failed,
                plural(a.results.len(), "assertion")
            ),
            _ => format!("{} passed", plural(t.passed, "assertion")),
        });
    }
    parts.join("; ")
}

fn drift_line(r: &ShadowReport) -> String {
    match &r.drift {
        DriftCheck::Skipped(why) => format!("not checked: {why}"),
        DriftCheck::Checked(report) => Summary::of(report.plan).line(),
    }
}

fn failure_lines(m: &MigrationRun) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(f) = &m.failure {
        let at = match f.line {
            Some(line) => format!("{}:{line}", f.path),
            None => f.path.clone(),
        };
        let code = f
            .sqlstate
            .as_deref()
            .map(|c| format!(" (SQLSTATE {c})"))
            .unwrap_or_default();
        lines.push(format!("{at}: {}{code}", f.message));
        if let Some(d) = &f.detail {
            lines.push(format!("DETAIL: {d}"));
        }
        if let Some(h) = &f.hint {
            lines.push(format!("HINT: {h}"));
        }
    }
    lines
}

fn problem_line(p: &Problem) -> String {
    p.to_string()
}

fn text(r: &ShadowReport, color: bool, out: &mut impl Write) -> io::Result<()> {
    let bold = |t: &str| {
        if color {
            format!("\x1b[1m{t}\x1b[0m")
        } else {
            t.to_owned()
        }
    };
    let m = r.migrations;
    writeln!(
        out,
        "{}",
        bold(&format!("reconcile shadow on {}", r.database))
    )?;
    writeln!(out)?;
    writeln!(out, "{}", bold(&format!("Migrations ({})", m.dir)))?;
    if m.files.is_empty() {
        writeln!(out, "  {}", migrations_line(m))?;
    }
    for (i, f) in m.files.iter().enumerate() {
        let took = f
            .duration_ms
            .map(|ms| format!("  ({})", format_ms(ms)))
            .unwrap_or_default();
        let outcome = match f.outcome {
            FileOutcome::Applied => "applied",
            FileOutcome::Failed => "FAILED ",
            FileOutcome::NotRun => "not run",
        };
        writeln!(out, "  {:>3}. {outcome}  {}{took}", i + 1, f.file)?;
    }
    if let Some(f) = &m.failure {
        writeln!(out)?;
        for line in failure_lines(m) {
            writeln!(out, "{}", indent(&line, "  "))?;
        }
        if let Some(statement) = &f.statement {
            writeln!(out, "  statement:")?;
            writeln!(out, "{}", indent(statement.trim_end(), "    "))?;
        }
    }
    if !m.refused.is_empty() {
        writeln!(out)?;
        writeln!(out, "  The runner refused the files before running any:")?;
        for p in &m.refused {
            writeln!(out, "{}", indent(&problem_line(p), "    "))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", bold(&format!("Drift left ({})", r.schema_dir)))?;
    match &r.drift {
        DriftCheck::Skipped(why) => writeln!(out, "  not checked: {why}")?,
        DriftCheck::Checked(report) => super::text::drift_section(report, color, out)?,
    }
    if let Some(a) = &r.assertions {
        super::text::assertions_section(a, color, out)?;
    } else {
        writeln!(out)?;
        writeln!(out, "Assertions: not run (a migration failed).")?;
    }
    writeln!(out)?;
    writeln!(out, "{}", bold(&format!("Result: {}.", headline(r))))?;
    if let Some(ms) = r.total_ms {
        writeln!(out, "Rehearsal took {}.", format_ms(ms))?;
    }
    Ok(())
}

fn markdown(r: &ShadowReport, out: &mut impl Write) -> io::Result<()> {
    let m = r.migrations;
    let failed = m.failed();
    writeln!(out, "### reconcile shadow: {}", cell(&headline(r)))?;
    writeln!(out)?;
    writeln!(out, "Rehearsed on {}.", cell(r.database))?;
    writeln!(out)?;
    let icon = |bad: bool, warn: bool| {
        if bad {
            "❌"
        } else if warn {
            "⚠️"
        } else {
            "✅"
        }
    };
    let drift_icon = match &r.drift {
        DriftCheck::Skipped(_) => "➖",
        DriftCheck::Checked(report) => {
            let s = Summary::of(report.plan);
            icon(s.findings() > 0, s.steps > 0)
        }
    };
    writeln!(out, "| stage | result |")?;
    writeln!(out, "|---|---|")?;
    writeln!(
        out,
        "| migrations ({}) | {} {} |",
        code(&m.dir),
        icon(failed, false),
        cell(&migrations_line(m))
    )?;
    writeln!(
        out,
        "| drift left ({}) | {drift_icon} {} |",
        code(r.schema_dir),
        cell(&drift_line(r))
    )?;
    match &r.assertions {
        Some(a) => {
            let status = a.status();
            let i = match status {
                "failed" | "error" => "❌",
                "passed" => "✅",
                _ => "➖",
            };
            let t = crate::assertions::Tally::of(a.results);
            let what = match status {
                "skipped" => "skipped (--no-assertions)".to_owned(),
                "none" => "none found".to_owned(),
                _ => format!(
                    "{} passed, {} failed, {}",
                    t.passed,
                    t.failed,
                    plural(t.errors, "error")
                ),
            };
            writeln!(out, "| assertions ({}) | {i} {what} |", code(a.dir))?;
        }
        None => writeln!(out, "| assertions | ➖ not run: a migration failed |")?,
    }
    if let Some(ms) = r.total_ms {
        writeln!(out, "| total | {} |", format_ms(ms))?;
    }
    if !m.files.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Migrations")?;
        writeln!(out)?;
        let timings = m.duration_ms.is_some();
        if timings {
            writeln!(out, "| # | file | result | took |")?;
            writeln!(out, "|---:|---|---|---:|")?;
        } else {
            writeln!(out, "| # | file | result |")?;
            writeln!(out, "|---:|---|---|")?;
        }
        for (i, f) in m.files.iter().enumerate() {
            let outcome = match f.outcome {
                FileOutcome::Applied => "✅ applied",
                FileOutcome::Failed => "❌ **failed**",
                FileOutcome::NotRun => "not run",
            };
            if timings {
                writeln!(
                    out,
                    "| {} | {} | {outcome} | {} |",
                    i + 1,
                    code(&f.file),
                    f.duration_ms.map(format_ms).unwrap_or_default()
                )?;
            } else {
                writeln!(out, "| {} | {} | {outcome} |", i + 1, code(&f.file))?;
            }
        }
    }
    if let Some(f) = &m.failure {
        writeln!(out)?;
        let at = match f.line {
            Some(line) => format!("{}:{line}", f.path),
            None => f.path.clone(),
        };
        writeln!(out, "#### ❌ {} failed", code(&at))?;
        writeln!(out)?;
        let state = f
            .sqlstate
            .as_deref()
            .map(|c| format!("SQLSTATE {}: ", code(c)))
            .unwrap_or_default();
        writeln!(out, "{state}{}", cell(&f.message))?;
        if let Some(d) = &f.detail {
            writeln!(out)?;
            writeln!(out, "DETAIL: {}", cell(d))?;
        }
        if let Some(h) = &f.hint {
            writeln!(out)?;
            writeln!(out, "HINT: {}", cell(h))?;
        }
        if let Some(statement) = &f.statement {
            let fence = block_fence(statement);
            writeln!(out)?;
            writeln!(out, "{fence}sql")?;
            writeln!(out, "{}", statement.trim_end())?;
            writeln!(out, "{fence}")?;
        }
    }
    if !m.refused.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "#### ❌ The migration files were refused before any ran"
        )?;
        writeln!(out)?;
        for p in &m.refused {
            writeln!(out, "- {}", cell(&problem_line(p)))?;
        }
    }
    if failed {
        let not_run: Vec<String> = m.not_run().map(|f| code(&f.file)).collect();
        writeln!(out)?;
        if not_run.is_empty() {
            writeln!(out, "Every other file ran before it.")?;
        } else {
            writeln!(out, "Not run: {}.", not_run.join(", "))?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "The drift check and the assertions did not run: the database is only partly \
             migrated."
        )?;
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "#### Drift left against {}", code(r.schema_dir))?;
    writeln!(out)?;
    match &r.drift {
        DriftCheck::Skipped(why) => writeln!(out, "Not checked: {}", cell(why))?,
        DriftCheck::Checked(report) => {
            writeln!(out, "{}", Summary::of(report.plan).line())?;
            super::markdown::plan_body(report, out)?;
        }
    }
    if let Some(a) = &r.assertions {
        super::markdown::assertions_section(a, out)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    format_version: u32,
    tool: &'static str,
    tool_version: &'static str,
    command: &'static str,
    database: &'a str,
    migrations: JsonMigrations<'a>,
    drift: JsonDrift<'a>,
    /// `null` when a migration failed (nothing ran after it).
    assertions: Option<JsonAssertions<'a>>,
    duration_ms: Option<u64>,
}

#[derive(Serialize)]
struct JsonMigrations<'a> {
    status: &'static str,
    #[serde(flatten)]
    run: &'a MigrationRun,
    not_run: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    /// `skipped`, `in_sync`, `pending` (steps, no findings) or `drift` (findings).
    status: &'static str,
    dir: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    steps: &'a [Step],
    findings: &'a [Finding],
}

fn json(r: &ShadowReport, out: &mut impl Write) -> io::Result<()> {
    let drift = match &r.drift {
        DriftCheck::Skipped(why) => JsonDrift {
            status: "skipped",
            dir: r.schema_dir,
            reason: Some(why),
            fingerprint: None,
            summary: None,
            steps: &[],
            findings: &[],
        },
        DriftCheck::Checked(report) => {
            let summary = Summary::of(report.plan);
            JsonDrift {
                status: if summary.findings() > 0 {
                    "drift"
                } else if summary.steps > 0 {
                    "pending"
                } else {
                    "in_sync"
                },
                dir: r.schema_dir,
                reason: None,
                fingerprint: Some(&report.plan.fingerprint),
                summary: Some(summary),
                steps: &report.plan.steps,
                findings: &report.plan.findings,
            }
        }
    };
    let document = JsonDocument {
        format_version: 1,
        tool: "reconcile",
        tool_version: env!("CARGO_PKG_VERSION"),
        command: "shadow",
        database: r.database,
        migrations: JsonMigrations {
            status: r.migrations.status(),
            run: r.migrations,
            not_run: if r.migrations.failed() {
                r.migrations.not_run().map(|f| f.file.as_str()).collect()
            } else {
                Vec::new()
            },
        },
        drift,
        assertions: r.assertions.as_ref().map(JsonAssertions::of),
        duration_ms: r.total_ms,
    };
    super::pretty_json::to_writer(&mut *out, &document)?;
    writeln!(out)
}
