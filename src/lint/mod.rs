//! Static checks of SQL migration files with the PostgreSQL parser (`reconcile lint`).
//!
//! Hand-written migrations are where destructive and lock-heavy SQL gets in: the planner only
//! ever emits additive steps, but a migration file can say anything. Lint reads the files the
//! way the server will — every statement through libpg_query, `DO` bodies through the
//! PL/pgSQL parser — and reports each destructive statement as an error and each risky one as
//! a warning, at the line of the statement's first token, with the safer alternative. It
//! needs no database.
//!
//! An error can be allowed for one statement by a comment next to it
//! (`-- reconcile:allow D101 reason`, see `allow.rs`); `docs/lint.md` lists every code.
//!
//! The files to lint are an input ([`lint_files`], [`Linter`]), not a folder scan, so the
//! migration runner can lint exactly the migrations that are still pending. Order matters:
//! a table created by an earlier file is new, not existing, for a later one.

mod allow;
mod code;
pub mod render;
mod rules;
mod source;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use code::{Code, Severity};

use allow::Directive;
use rules::{Checker, FileState, Shared};
use source::{Source, TokenKind};

use crate::migrate::files::{Direction, parse_name};
use crate::sql::{Script, split};

/// What to report.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Codes never reported, anywhere (`--allow CODE`).
    pub ignore: Vec<Code>,
}

/// One problem, at the first token of the statement (or the directive comment) it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The path as given.
    pub file: String,
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub severity: Severity,
    pub code: Code,
    /// What this statement does, with the names it uses.
    pub message: String,
    /// The safer alternative (the same for every diagnostic of a code).
    pub help: &'static str,
    /// The first line of the statement (or of the directive comment).
    pub statement: String,
}

/// A diagnostic a `reconcile:allow` comment allowed, kept for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allowed {
    pub file: String,
    pub line: usize,
    pub code: Code,
    pub reason: String,
}

/// A file that could not be linted: it does not parse, or is not UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unparsed {
    pub file: String,
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// `syntax error` or `not UTF-8 text`.
    pub title: &'static str,
    /// The parser's message (or what is wrong with the text).
    pub message: String,
}

impl std::fmt::Display for Unparsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.title, self.message
        )
    }
}

/// The result of linting a list of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The files linted, in order (not those that could not be parsed).
    pub files: Vec<String>,
    /// The files that could not be parsed, in order; nothing else of them is reported.
    pub unparsed: Vec<Unparsed>,
    /// Top-level statements seen.
    pub statements: usize,
    /// In file order, then by line and column.
    pub diagnostics: Vec<Diagnostic>,
    pub allowed: Vec<Allowed>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether the run fails: a file that could not be parsed, any error, or (with
    /// `deny_warnings`) any warning.
    pub fn fails(&self, deny_warnings: bool) -> bool {
        !self.unparsed.is_empty() || self.errors() > 0 || (deny_warnings && self.warnings() > 0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: syntax error: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The `*.sql` files directly in `dir` that a migration run would run, in name order (the
/// migration order); and the down files left out (`007_x.down.sql`, Flyway's `U7__x.sql`:
/// they are never run).
pub fn migration_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), LintError> {
    let read = |source| LintError::Read {
        path: dir.to_owned(),
        source,
    };
    let (mut files, mut down) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
            let is_down = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| parse_name(n).ok())
                .is_some_and(|n| n.direction == Direction::Down);
            if is_down {
                down.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    down.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok((files, down))
}

/// Lints `files` in the given order (a table created by an earlier file is new in a later
/// one). A file that does not parse (or is not UTF-8) goes to [`Report::unparsed`] and the
/// others are still linted; only a file that cannot be read at all stops the run.
pub fn lint_files(files: &[PathBuf], options: &Options) -> Result<Report, LintError> {
    let mut linter = Linter::new(options.clone());
    for path in files {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LintError::Read {
            path: path.clone(),
            source,
        })?;
        let sql = match String::from_utf8(bytes) {
            Ok(sql) => sql,
            Err(e) => {
                linter
                    .report
                    .unparsed
                    .push(not_utf8(shown, e.as_bytes(), e.utf8_error()));
                continue;
            }
        };
        match linter.lint(&shown, &sql) {
            Ok(()) => {}
            Err(LintError::Syntax {
                file,
                line,
                column,
                message,
            }) => linter.report.unparsed.push(Unparsed {
                file,
                line,
                column,
                title: "syntax error",
                message,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(linter.finish())
}

fn not_utf8(file: String, bytes: &[u8], e: std::str::Utf8Error) -> Unparsed {
    let valid = &bytes[..e.valid_up_to()];
    let text = std::str::from_utf8(valid).unwrap_or_default();
    let (line, column) = split::position(text, text.len());
    let byte = bytes.get(e.valid_up_to()).copied().unwrap_or_default();
    Unparsed {
        file,
        line,
        column,
        title: "not UTF-8 text",
        message: format!(
            "byte 0x{byte:02x} is not part of a UTF-8 character (PostgreSQL reads migrations \
             as UTF-8); save the file as UTF-8"
        ),
    }
}

/// Lints one file's text on its own; `path` is the label diagnostics carry.
pub fn lint_source(path: &str, sql: &str, options: &Options) -> Result<Vec<Diagnostic>, LintError> {
    let mut linter = Linter::new(options.clone());
    linter.lint(path, sql)?;
    Ok(linter.finish().diagnostics)
}

/// Lints files one after another, remembering what earlier files created.
#[derive(Debug, Default)]
pub struct Linter {
    options: Options,
    shared: Shared,
    report: Report,
}

impl Linter {
    pub fn new(options: Options) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Lints the next file. On a syntax error nothing of this file is added to the report.
    pub fn lint(&mut self, path: &str, sql: &str) -> Result<(), LintError> {
        let script = Script::parse(sql).map_err(|e| {
            // At the statement's first token, as every diagnostic (at the unterminated
            // string or comment when the scanner fails too).
            let (line, column) = split::position(sql, e.statement);
            LintError::Syntax {
                file: path.to_owned(),
                line,
                column,
                message: e.message,
            }
        })?;
        let source = Source::new(script);
        let stmts = source.statements();
        let comments = allow::comments(&source);
        let header_end = stmts.first().map_or(sql.len(), |s| s.start);
        let mut file = FileState {
            no_transaction: comments
                .iter()
                .any(|c| c.directive == Directive::NoTransaction && c.start < header_end),
            ..FileState::default()
        };

        let mut hits = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            let mut checker = Checker {
                shared: &mut self.shared,
                file: &mut file,
                hits: Vec::new(),
            };
            // Before the statement runs: the statement adding a label mentions it too.
            let used = source
                .tokens()
                .get(stmt.tokens.clone())
                .unwrap_or_default()
                .iter()
                .filter(|t| t.kind == TokenKind::String && t.start >= stmt.start)
                .map(|t| source.slice(t.start, t.end))
                .find(|literal| checker.file.new_labels.iter().any(|l| l == literal));
            if let Some(label) = used {
                checker.hits.push(rules::Hit {
                    code: Code::EnumLabelUsedBeforeCommit,
                    message: format!(
                        "uses {label}, an enum label added earlier in the same transaction: \
                         PostgreSQL rejects its use as an enum value until that transaction \
                         commits"
                    ),
                });
            }
            checker.statement(stmt.node, stmt.text);
            hits.push(checker.hits);
        }

        let mut out = Vec::new();
        // The source line from the statement's (or comment's) first token: what a reviewer
        // finds in the file, semicolon and trailing comment included.
        let diagnostic = |offset: usize, code: Code, message: String| {
            let (line, column) = source.position(offset);
            let text = source.slice(offset, source.line_end(offset));
            Diagnostic {
                file: path.to_owned(),
                line,
                column,
                severity: code.severity(),
                code,
                message,
                help: code.help(),
                statement: text.trim_end().to_owned(),
            }
        };
        // Allow directives, per statement: (codes, reason, comment).
        let mut allows: Vec<Vec<(&[Code], &str, &allow::Comment)>> = vec![Vec::new(); stmts.len()];
        for comment in &comments {
            match &comment.directive {
                Directive::NoTransaction if comment.start >= header_end => out.push(diagnostic(
                    comment.start,
                    Code::BadDirective,
                    "`reconcile:no-transaction` must come before the first statement; here it \
                     has no effect"
                        .into(),
                )),
                Directive::NoTransaction => {}
                Directive::Malformed(why) => {
                    out.push(diagnostic(comment.start, Code::BadDirective, why.clone()));
                }
                Directive::Allow { codes, reason } => {
                    match allow::owner(&source, &stmts, comment) {
                        Some(i) => allows[i].push((codes, reason, comment)),
                        None => out.push(diagnostic(
                            comment.start,
                            Code::UnusedAllow,
                            "this allow is not directly above a statement (a blank line or the \
                             end of the file separates them), so it allows nothing"
                                .into(),
                        )),
                    }
                }
            }
        }
        for ((stmt, hits), allows) in stmts.iter().zip(&hits).zip(&allows) {
            let line = source.line(stmt.start);
            for hit in hits {
                if let Some((_, reason, _)) = allows.iter().find(|(c, ..)| c.contains(&hit.code)) {
                    self.report.allowed.push(Allowed {
                        file: path.to_owned(),
                        line,
                        code: hit.code,
                        reason: (*reason).to_owned(),
                    });
                } else if !self.options.ignore.contains(&hit.code) {
                    out.push(diagnostic(stmt.start, hit.code, hit.message.clone()));
                }
            }
            for (codes, _, comment) in allows {
                for code in codes.iter().filter(|c| !hits.iter().any(|h| h.code == **c)) {
                    let found: Vec<&str> = hits
                        .iter()
                        .map(|h| h.code.as_str())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let has = if found.is_empty() {
                        "nothing to allow".to_owned()
                    } else {
                        format!("only {}", found.join(", "))
                    };
                    out.push(diagnostic(
                        comment.start,
                        Code::UnusedAllow,
                        format!("allows {code}, but the statement on line {line} has {has}"),
                    ));
                }
            }
        }
        out.retain(|d| !self.options.ignore.contains(&d.code));
        out.sort_by_key(|d| (d.line, d.column, d.code));
        self.report.diagnostics.extend(out);
        self.report.files.push(path.to_owned());
        self.report.statements += stmts.len();
        Ok(())
    }

    pub fn finish(self) -> Report {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Odd inputs must give a report or a LintError, never a panic.
    #[test]
    fn odd_inputs_do_not_panic() {
        let inputs = [
            "",
            ";",
            ";;;",
            "\0",
            "SELECT 1;\0DROP TABLE t;",
            "'unterminated",
            "$$ unterminated dollar",
            "/* unterminated comment",
            "-- only a comment",
            "-- reconcile:allow",
            "-- reconcile:allow D100 reason",
            "DROP TABLE t; -- reconcile:allow D100",
            "DO $$ BEGIN EXECUTE 'DROP TABLE ' || 't'; END $$;",
            "DO $$ BEGIN not plpgsql at all $$;",
            "DO LANGUAGE plperl $$ 1 $$;",
            "DO $$ BEGIN EXECUTE 'DO $x$ BEGIN EXECUTE ''DROP TABLE t''; END $x$'; END $$;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
            "ALTER TABLE t ADD COLUMN",
            "é; ü",
            "SELECT 'é' FROM \"ü\"; DROP TABLE \"ü\";",
            "\u{feff}SELECT 1",
            "CREATE INDEX CONCURRENTLY ON t (a)",
            "ALTER TABLE t ALTER COLUMN a TYPE int, DROP COLUMN b, ADD c int NOT NULL",
            "WITH a AS (DELETE FROM t), b AS (UPDATE u SET x = 1) SELECT 1",
            "\r\n\r\nDROP TABLE t\r\n;\r\n",
            "SET lock_timeout = 0; RESET ALL; LOCK TABLE t;",
        ];
        let mut many = String::new();
        for i in 0..200 {
            many.push_str(&format!("DROP TABLE t{i}; -- reconcile:allow D100 r{i}\n"));
        }
        let deep = format!(
            "DO $a$ BEGIN {} END $a$;",
            "EXECUTE 'DO $b$ BEGIN EXECUTE ''SELECT 1''; END $b$';".repeat(3)
        );
        for input in inputs.iter().copied().chain([many.as_str(), deep.as_str()]) {
            let _ = lint_source("odd.sql", input, &Options::default());
            for cut in (0..input.len())
                .filter(|&i| input.is_char_boundary(i))
                .step_by(3)
            {
                let _ = lint_source("odd.sql", &input[..cut], &Options::default());
            }
        }
    }

    #[test]
    fn syntax_errors_point_at_the_statement() {
        let sql = "SELECT 1;\n\n-- next\nCREATE TABLE t (a int,);\nSELECT 2;\n";
        match lint_source("m.sql", sql, &Options::default()) {
            Err(LintError::Syntax { line, column, .. }) => assert_eq!((line, column), (4, 1)),
            other => panic!("{other:?}"),
        }
    }
}
