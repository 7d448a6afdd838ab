//! Lint reports as text for people, JSON for tools, and GitHub workflow commands for
//! annotations on pull requests. Each writes to any `Write`, in the report's order, so the
//! same files always give byte-identical output.

use std::io::{self, Write};

use serde::Serialize;

use super::{Allowed, Code, Report, Severity, Unparsed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

pub fn render(
    format: Format,
    report: &Report,
    color: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(report, color, out),
        Format::Json => json(report, out),
        Format::Github => github(report, out),
        Format::Sarif => sarif(report, out),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `file:line:column: severity CODE: message`, the statement's first line and the help, then
/// a summary line.
pub fn text(report: &Report, color: bool, out: &mut impl Write) -> io::Result<()> {
    let paint = |s: &str, code: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    for d in &report.diagnostics {
        let severity = match d.severity {
            Severity::Error => paint("error", "1;31"),
            Severity::Warning => paint("warning", "1;33"),
        };
        writeln!(
            out,
            "{}:{}:{}: {severity} {}: {}",
            d.file, d.line, d.column, d.code, d.message
        )?;
        let gutter = d.line.to_string().len();
        writeln!(out, "  {} | {}", d.line, d.statement)?;
        writeln!(out, "  {:gutter$} = help: {}", "", d.help)?;
        writeln!(out)?;
    }
    if report.files.is_empty() && report.unparsed.is_empty() {
        return writeln!(out, "lint: no SQL files to check");
    }
    let mut summary = format!(
        "lint: {}, {} in {} ({})",
        plural(report.errors(), "error"),
        plural(report.warnings(), "warning"),
        plural(report.files.len(), "file"),
        plural(report.statements, "statement"),
    );
    if !report.allowed.is_empty() {
        summary.push_str(&format!("; {} allowed by comment", report.allowed.len()));
    }
    // Where and why is the CLI's error output, after this report.
    match report.unparsed.len() {
        0 => {}
        1 => summary.push_str("; 1 file could not be parsed"),
        n => summary.push_str(&format!("; {n} files could not be parsed")),
    }
    writeln!(out, "{summary}")
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    tool: &'static str,
    tool_version: &'static str,
    command: &'static str,
    status: &'static str,
    summary: Summary,
    files: &'a [String],
    diagnostics: Vec<JsonDiagnostic<'a>>,
    allowed: &'a [Allowed],
    /// Files that could not be parsed; present only when there are some.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    syntax_errors: &'a [Unparsed],
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    statements: usize,
    errors: usize,
    warnings: usize,
    allowed: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    severity: Severity,
    code: Code,
    title: &'static str,
    message: &'a str,
    help: &'static str,
    statement: &'a str,
}

/// Format version 1, documented in docs/lint.md.
pub fn json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let status = if report.errors() > 0 || !report.unparsed.is_empty() {
        "errors"
    } else if report.warnings() > 0 {
        "warnings"
    } else {
        "clean"
    };
    let doc = JsonReport {
        format_version: 1,
        tool: "reconcile",
        tool_version: env!("CARGO_PKG_VERSION"),
        command: "lint",
        status,
        summary: Summary {
            files: report.files.len(),
            statements: report.statements,
            errors: report.errors(),
            warnings: report.warnings(),
            allowed: report.allowed.len(),
        },
        files: &report.files,
        diagnostics: report
            .diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                file: &d.file,
                line: d.line,
                column: d.column,
                severity: d.severity,
                code: d.code,
                title: d.code.title(),
                message: &d.message,
                help: d.help,
                statement: &d.statement,
            })
            .collect(),
        allowed: &report.allowed,
        syntax_errors: &report.unparsed,
    };
    crate::render::pretty_json::to_writer(&mut *out, &doc)?;
    writeln!(out)
}

/// GitHub Actions workflow commands (`::error file=...,line=...::message`), one per file that
/// could not be parsed and one per diagnostic, so each shows on the pull request's diff.
pub fn github(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for u in &report.unparsed {
        writeln!(
            out,
            "::error file={},line={},col={},title={}::{}",
            escape_property(&u.file),
            u.line,
            u.column,
            escape_property(u.title),
            escape_data(&u.message),
        )?;
    }
    for d in &report.diagnostics {
        writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            d.severity,
            escape_property(&d.file),
            d.line,
            d.column,
            escape_property(d.code.as_str()),
            escape_data(&format!("{}\nhelp: {}", d.message, d.help)),
        )?;
    }
    Ok(())
}

/// SARIF results: one per diagnostic (rule = its code) and one per file that could not be
/// parsed.
pub fn sarif(report: &Report, out: &mut impl Write) -> io::Result<()> {
    use crate::render::sarif::{Finding, Rule};
    let mut findings: Vec<Finding> = report
        .unparsed
        .iter()
        .map(|u| Finding {
            rule: Rule {
                id: u.title.replace(' ', "-"),
                title: u.title.to_owned(),
                help: "The file must parse as PostgreSQL SQL (UTF-8) for the other rules to \
                       check it."
                    .to_owned(),
                level: "error",
            },
            message: u.message.clone(),
            place: (u.file.clone(), to_u32(u.line), to_u32(u.column)),
        })
        .collect();
    findings.extend(report.diagnostics.iter().map(|d| Finding {
        rule: Rule {
            id: d.code.to_string(),
            title: d.code.title().to_owned(),
            help: d.help.to_owned(),
            level: d.severity.as_str(),
        },
        message: format!("{}\nhelp: {}", d.message, d.help),
        place: (d.file.clone(), to_u32(d.line), to_u32(d.column)),
    }));
    crate::render::sarif::write(findings, out)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// GitHub's escaping for a command's message: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping for a property value: the message's, plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
