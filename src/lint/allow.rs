//! `-- reconcile:` directives in migration comments.
//!
//! A destructive statement is sometimes exactly what a migration means to do. Rather than a
//! project-wide switch, the author says so next to the statement, with the code and a reason
//! a reviewer can read: `-- reconcile:allow D101 column replaced by full_name in #412`. The
//! scope is one statement, so an allow cannot silently cover a second DROP added later.
//!
//! Directives are comments found by the scanner, so a directive inside a string or a
//! dollar-quoted body is not one. Malformed directives (unknown code, no reason, unknown
//! verb) are reported rather than ignored: a typo must not turn into a silent failure to
//! allow, or worse, look like an allow that works.
//!
//! `-- reconcile:no-transaction` is the migration runner's header (run this file outside a
//! transaction); lint reads it to know whether `CONCURRENTLY` can work.

use super::code::Code;
use super::source::{Source, Stmt, TokenKind};
use crate::sql::split::comment_text;

/// A parsed directive comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Directive {
    Allow {
        codes: Vec<Code>,
        reason: String,
    },
    NoTransaction,
    /// Why the comment is not a valid directive.
    Malformed(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub directive: Directive,
    /// Byte offsets of the comment.
    pub start: usize,
    pub end: usize,
}

const PREFIX: &str = "reconcile:";

/// The directive in one comment's text, if it is one (it starts with `reconcile:`).
pub(crate) fn parse(comment: &str) -> Option<Directive> {
    let rest = comment_text(comment).strip_prefix(PREFIX)?;
    let (verb, args) = match rest.split_once(char::is_whitespace) {
        Some((verb, args)) => (verb, args.trim()),
        None => (rest, ""),
    };
    Some(match verb {
        "allow" => allow(args),
        "no-transaction" if args.is_empty() => Directive::NoTransaction,
        "no-transaction" => Directive::Malformed(format!(
            "`reconcile:no-transaction` takes no arguments (found `{args}`)"
        )),
        other => Directive::Malformed(format!(
            "unknown directive `reconcile:{other}` (known: `reconcile:allow CODE reason`, \
             `reconcile:no-transaction`)"
        )),
    })
}

fn allow(args: &str) -> Directive {
    let (list, reason) = match args.split_once(char::is_whitespace) {
        Some((list, reason)) => (list, reason.trim()),
        None => (args, ""),
    };
    if list.is_empty() {
        return Directive::Malformed("`reconcile:allow` needs a code and a reason".into());
    }
    let mut codes = Vec::new();
    for item in list.split(',').filter(|s| !s.is_empty()) {
        match Code::parse(item) {
            Some(Code::UnusedAllow | Code::BadDirective) => {
                return Directive::Malformed(format!(
                    "`{item}` reports a problem with directives themselves and cannot be allowed"
                ));
            }
            Some(code) => codes.push(code),
            None => {
                return Directive::Malformed(format!(
                    "`reconcile:allow {item}`: unknown code `{item}`"
                ));
            }
        }
    }
    if reason.is_empty() {
        return Directive::Malformed(format!(
            "`reconcile:allow {list}` needs a reason after the code"
        ));
    }
    Directive::Allow {
        codes,
        reason: reason.to_owned(),
    }
}

/// Every directive comment in the file, in order.
pub(crate) fn comments(source: &Source<'_>) -> Vec<Comment> {
    source
        .tokens()
        .iter()
        .filter(|t| t.kind == TokenKind::Comment)
        .filter_map(|t| {
            parse(source.slice(t.start, t.end)).map(|directive| Comment {
                directive,
                start: t.start,
                end: t.end,
            })
        })
        .collect()
}

/// The statement (index into `stmts`) a directive comment belongs to:
/// - a comment inside a statement belongs to it;
/// - a comment after a statement, on the line where that statement ends, belongs to it
///   (`DROP TABLE t; -- reconcile:allow ...`);
/// - otherwise a comment belongs to the next statement if only comment lines (no blank line,
///   no other statement) separate them.
pub(crate) fn owner(source: &Source<'_>, stmts: &[Stmt<'_>], comment: &Comment) -> Option<usize> {
    let next = stmts.partition_point(|s| s.start < comment.start);
    let from = source.line(comment.end.saturating_sub(1));
    if let Some(i) = next.checked_sub(1) {
        let prev = &stmts[i];
        if comment.start < prev.end_with_semicolon {
            return Some(i);
        }
        // `SELECT 1; /* allow */ DROP TABLE t;` is about the statement it precedes.
        let next_on_same_line = stmts
            .get(next)
            .is_some_and(|s| source.line(s.start) == from);
        let prev_end_line = source.line(prev.end_with_semicolon.saturating_sub(1));
        if !next_on_same_line && source.line(comment.start) == prev_end_line {
            return Some(i);
        }
    }
    let stmt = stmts.get(next)?;
    let to = source.line(stmt.start);
    let gap_is_comments = (from + 1..to).all(|line| !source.is_blank(line));
    gap_is_comments.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse() {
        assert_eq!(
            parse("-- reconcile:allow D101 replaced by full_name"),
            Some(Directive::Allow {
                codes: vec![Code::DropColumn],
                reason: "replaced by full_name".into()
            })
        );
        assert_eq!(
            parse("/* reconcile:allow d100,L002   old data, backed up */"),
            Some(Directive::Allow {
                codes: vec![Code::DropTable, Code::Truncate],
                reason: "old data, backed up".into()
            })
        );
        assert_eq!(
            parse("--reconcile:no-transaction"),
            Some(Directive::NoTransaction)
        );
        assert_eq!(parse("-- an ordinary comment about reconcile"), None);
        for bad in [
            "-- reconcile:allow D101",
            "-- reconcile:allow",
            "-- reconcile:allow X999 because",
            "-- reconcile:allow L030 because",
            "-- reconcile:alow D101 typo",
            "-- reconcile:no-transaction please",
        ] {
            assert!(
                matches!(parse(bad), Some(Directive::Malformed(_))),
                "{bad}: {:?}",
                parse(bad)
            );
        }
    }
}
