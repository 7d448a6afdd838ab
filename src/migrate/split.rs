//! Cutting a migration file into statements, each with the line it starts on.
//!
//! A file is run one statement at a time so that a failure can name its line and so that a
//! `-- reconcile:no-transaction` file can run each statement alone. Splitting on `;` would
//! break dollar-quoted function bodies and strings or comments containing `;`, so the real
//! PostgreSQL parser (libpg_query) finds the statements. The parser also tells what a
//! statement is, which is how transaction control and statements that cannot run inside a
//! transaction block are found before anything runs.

use pg_query::NodeEnum;
use pg_query::protobuf::{Token, TransactionStmtKind};

/// The directive that makes a file run outside a transaction, in its leading comment lines.
pub const NO_TRANSACTION: &str = "reconcile:no-transaction";

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement {
    /// From the first token to the end, without the terminating `;`.
    pub text: String,
    /// Byte offset of the first token in the file text.
    pub offset: usize,
    /// 1-based line of the first token.
    pub line: usize,
    /// `BEGIN`, `COMMIT`, ... when the statement controls transactions.
    pub transaction_control: Option<TransactionControl>,
    /// Why the statement cannot run inside a transaction block, if it cannot.
    pub needs_autocommit: Option<&'static str>,
}

/// Transaction control found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionControl {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`, `PREPARE TRANSACTION`, `COMMIT PREPARED`, ...
    Other,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`: harmless inside our transaction.
    Savepoint,
}

/// A statement that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    /// 1-based line of the statement that does not parse.
    pub line: usize,
    pub message: String,
}

/// Splits `sql` into statements with the real PostgreSQL parser.
pub fn split(sql: &str) -> Result<Vec<SqlStatement>, SyntaxError> {
    let parsed = match pg_query::parse(sql, pg_query::ParserOptions::DEFAULT) {
        Ok(p) => p,
        Err(e) => return Err(locate_syntax_error(sql, e)),
    };
    let mut out = Vec::with_capacity(parsed.protobuf.stmts.len());
    for raw in &parsed.protobuf.stmts {
        let start = usize::try_from(raw.stmt_location).unwrap_or(0);
        let end = match usize::try_from(raw.stmt_len) {
            Ok(0) | Err(_) => sql.len(),
            Ok(len) => (start + len).min(sql.len()),
        };
        let first = skip_trivia(sql, start).min(end);
        let Some(text) = sql.get(first..end) else {
            continue;
        };
        let text = text.trim_end().trim_end_matches(';').trim_end();
        if text.is_empty() {
            continue;
        }
        let node = raw.stmt.as_ref().and_then(|n| n.node.as_ref());
        out.push(SqlStatement {
            text: text.to_owned(),
            offset: first,
            line: line_of(sql, first),
            transaction_control: node.and_then(transaction_control),
            needs_autocommit: node.and_then(needs_autocommit),
        });
    }
    Ok(out)
}

/// The 1-based line of byte `offset`.
pub fn line_of(sql: &str, offset: usize) -> usize {
    sql.as_bytes()[..offset.min(sql.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether the file's leading comment lines hold `-- reconcile:no-transaction`.
pub fn no_transaction_header(sql: &str) -> bool {
    for line in sql.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            return false;
        };
        if comment.trim() == NO_TRANSACTION {
            return true;
        }
    }
    false
}

/// The line of a `reconcile:no-transaction` directive that is not in the header (and so does
/// nothing), for `check`.
pub fn misplaced_directive(sql: &str) -> Option<usize> {
    if no_transaction_header(sql) {
        return None;
    }
    sql.lines()
        .position(|l| {
            l.trim()
                .strip_prefix("--")
                .is_some_and(|c| c.trim() == NO_TRANSACTION)
        })
        .map(|i| i + 1)
}

/// The offset of the first token at or after `from`: whitespace and comments (`--` lines and
/// nested `/* */` blocks) are what the parser puts between statements.
fn skip_trivia(sql: &str, mut at: usize) -> usize {
    let bytes = sql.as_bytes();
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes[at..].starts_with(b"--") {
            match bytes[at..].iter().position(|&b| b == b'\n') {
                Some(n) => at += n + 1,
                None => return bytes.len(),
            }
        } else if bytes[at..].starts_with(b"/*") {
            let mut depth = 0usize;
            while at < bytes.len() {
                if bytes[at..].starts_with(b"/*") {
                    depth += 1;
                    at += 2;
                } else if bytes[at..].starts_with(b"*/") {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
        } else {
            return at;
        }
    }
}

fn transaction_control(node: &NodeEnum) -> Option<TransactionControl> {
    let NodeEnum::TransactionStmt(t) = node else {
        return None;
    };
    let kind = TransactionStmtKind::try_from(t.kind).ok()?;
    Some(match kind {
        TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => {
            TransactionControl::Begin
        }
        TransactionStmtKind::TransStmtCommit => TransactionControl::Commit,
        TransactionStmtKind::TransStmtSavepoint
        | TransactionStmtKind::TransStmtRelease
        | TransactionStmtKind::TransStmtRollbackTo => TransactionControl::Savepoint,
        _ => TransactionControl::Other,
    })
}

fn needs_autocommit(node: &NodeEnum) -> Option<&'static str> {
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => Some("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s) if s.concurrent => Some("DROP INDEX CONCURRENTLY"),
        NodeEnum::ReindexStmt(s)
            if s.params.iter().any(
                |p| matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname == "concurrently"),
            ) =>
        {
            Some("REINDEX CONCURRENTLY")
        }
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => Some("VACUUM"),
        NodeEnum::CreatedbStmt(_) => Some("CREATE DATABASE"),
        NodeEnum::DropdbStmt(_) => Some("DROP DATABASE"),
        NodeEnum::AlterSystemStmt(_) => Some("ALTER SYSTEM"),
        NodeEnum::CreateTableSpaceStmt(_) => Some("CREATE TABLESPACE"),
        NodeEnum::DropTableSpaceStmt(_) => Some("DROP TABLESPACE"),
        _ => None,
    }
}

/// The parser reports no position, so the failing statement is found with the scanner
/// (which knows quotes, dollar quotes and comments but no grammar): statements are cut at `;`
/// tokens and parsed one by one. Within the first that fails, the offending token is the
/// first whose prefix fails for a reason other than "at end of input" (found by bisection),
/// and its line is the one reported.
fn locate_syntax_error(sql: &str, e: pg_query::Error) -> SyntaxError {
    let message = match &e {
        pg_query::Error::Parse(m) => m.clone(),
        other => other.to_string(),
    };
    let Ok(scanned) = pg_query::scan(sql) else {
        // An unterminated quote or comment: the scanner fails too.
        return SyntaxError { line: 1, message };
    };
    let comment = [Token::SqlComment as i32, Token::CComment as i32];
    let tokens: Vec<(usize, usize, bool)> = scanned
        .tokens
        .iter()
        .filter(|t| !comment.contains(&t.token))
        .map(|t| {
            (
                usize::try_from(t.start).unwrap_or(0),
                usize::try_from(t.end).unwrap_or(0),
                t.token == Token::Ascii59 as i32,
            )
        })
        .collect();
    let fails = |from: usize, to: usize| {
        sql.get(from..to)
            .is_some_and(|text| pg_query::parse(text, pg_query::ParserOptions::DEFAULT).is_err())
    };
    let mut first = 0;
    for i in 0..=tokens.len() {
        if i < tokens.len() && !tokens[i].2 {
            continue;
        }
        if i > first {
            let start = tokens[first].0;
            if fails(start, tokens[i - 1].1) {
                // The smallest prefix that fails not merely for being cut short.
                let bad = |k: usize| {
                    sql.get(start..tokens[k].1).is_some_and(|text| {
                        pg_query::parse(text, pg_query::ParserOptions::DEFAULT)
                            .is_err_and(|e| !e.to_string().contains("at end of input"))
                    })
                };
                let (mut lo, mut hi) = (first, i - 1);
                if bad(hi) {
                    while lo < hi {
                        let mid = lo + (hi - lo) / 2;
                        if bad(mid) {
                            hi = mid;
                        } else {
                            lo = mid + 1;
                        }
                    }
                }
                return SyntaxError {
                    line: line_of(sql, tokens[hi].0),
                    message,
                };
            }
        }
        first = i + 1;
    }
    SyntaxError { line: 1, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_and_texts(sql: &str) -> Vec<(usize, String)> {
        split(sql)
            .unwrap()
            .into_iter()
            .map(|s| (s.line, s.text))
            .collect()
    }

    #[test]
    fn dollar_quotes_strings_and_comments_keep_their_semicolons() {
        let sql = "-- header; not a statement\n\
                   CREATE TABLE t (a text DEFAULT 'x;y'); /* c; */\n\
                   \n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\n\
                   BEGIN\n\
                     PERFORM 1; -- inner;\n\
                     RETURN 2;\n\
                   END\n\
                   $body$;\n\
                   /* block\n   comment; */ INSERT INTO t VALUES ($$a;b$$), (E'c\\';d');\n\
                   SELECT 1 -- trailing; comment\n";
        let got = lines_and_texts(sql);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(
            got[0],
            (2, "CREATE TABLE t (a text DEFAULT 'x;y')".to_owned())
        );
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.starts_with("CREATE FUNCTION f()"));
        assert!(got[1].1.ends_with("$body$"));
        assert!(got[1].1.contains("PERFORM 1; -- inner;"));
        assert_eq!(
            got[2],
            (11, "INSERT INTO t VALUES ($$a;b$$), (E'c\\';d')".to_owned())
        );
        assert_eq!(got[3].0, 12);
        assert!(got[3].1.starts_with("SELECT 1"));
    }

    #[test]
    fn empty_statements_and_comment_only_files() {
        assert!(split("-- nothing\n/* at all */\n;\n;").unwrap().is_empty());
        assert_eq!(lines_and_texts(";;\nSELECT 1;;\n").len(), 1);
        assert_eq!(lines_and_texts(";;\nSELECT 1;;\n")[0].0, 2);
    }

    #[test]
    fn syntax_errors_name_the_line_of_the_offending_token() {
        let sql = "SELECT 1;\n\nCREATE TABLE a (id int);\nCREATE TABLE b (id int,);\nSELECT 2;\n";
        let e = split(sql).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let sql = "SELECT 1;\nCREATE TABLE b (\n  id int,\n  name text\n  other text\n);\n";
        let e = split(sql).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("\"other\""), "{e}");
        let sql = "SELECT 1;\nCREATE TABLE b (\n  id int,\n  name text\n";
        assert_eq!(split(sql).unwrap_err().line, 4);
        assert!(e.message.contains("syntax error"), "{e}");
        let sql = "SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n\
                   SELEC 2;\n";
        assert_eq!(split(sql).unwrap_err().line, 3);
    }

    #[test]
    fn what_statements_are() {
        let s = split(
            "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nSAVEPOINT x;\nCOMMIT;\nVACUUM t;\n\
             CREATE INDEX j ON t (a);",
        )
        .unwrap();
        assert_eq!(s[0].transaction_control, Some(TransactionControl::Begin));
        assert_eq!(s[1].needs_autocommit, Some("CREATE INDEX CONCURRENTLY"));
        assert_eq!(
            s[2].transaction_control,
            Some(TransactionControl::Savepoint)
        );
        assert_eq!(s[3].transaction_control, Some(TransactionControl::Commit));
        assert_eq!(s[4].needs_autocommit, Some("VACUUM"));
        assert_eq!(s[5].needs_autocommit, None);
        assert_eq!(s[5].transaction_control, None);
    }

    #[test]
    fn the_directive_counts_only_in_the_header() {
        assert!(no_transaction_header(
            "-- reconcile:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(no_transaction_header(
            "\n-- adds an index\n--   reconcile:no-transaction  \nSELECT 1;"
        ));
        assert!(!no_transaction_header(
            "SELECT 1;\n-- reconcile:no-transaction\n"
        ));
        assert_eq!(
            misplaced_directive("SELECT 1;\n-- reconcile:no-transaction\n"),
            Some(2)
        );
        assert!(!no_transaction_header(
            "-- reconcile:no-transactions\nSELECT 1;"
        ));
    }
}
