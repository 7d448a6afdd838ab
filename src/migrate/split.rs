//! Cutting a migration file into statements, each with the line it starts on.
//!
//! A file is run one statement at a time so that a failure can name its line and so that a
//! `-- reconcile:no-transaction` file can run each statement alone. The statements come from
//! the shared splitter ([`crate::sql::split`], the real PostgreSQL parser); this adds what the
//! runner needs to know about each — transaction control, and statements that cannot run
//! inside a transaction block — before anything runs.

use pg_query::NodeEnum;
use pg_query::protobuf::TransactionStmtKind;

use crate::sql::{Script, TokenKind, split};

/// The directive that makes a file run outside a transaction, in its leading comment lines.
pub const NO_TRANSACTION: &str = "reconcile:no-transaction";

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement {
    /// From the first token to the last, without the terminating `;`.
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

/// A file that does not parse: where, and the parser's message.
pub use crate::sql::SyntaxError;

/// Splits `sql` into statements with the real PostgreSQL parser.
pub fn split(sql: &str) -> Result<Vec<SqlStatement>, SyntaxError> {
    let script = Script::parse(sql)?;
    Ok(script
        .statements()
        .into_iter()
        .map(|s| SqlStatement {
            text: s.text.to_owned(),
            offset: s.start,
            line: s.line,
            transaction_control: transaction_control(s.node),
            needs_autocommit: needs_autocommit(s.node),
        })
        .collect())
}

/// Whether a comment before the first statement is `-- reconcile:no-transaction` (or
/// `/* reconcile:no-transaction */`) — the rule lint follows too.
pub fn no_transaction_header(sql: &str) -> bool {
    directives(sql).0
}

/// The line of a `reconcile:no-transaction` directive that is not in the header (and so does
/// nothing), for `check`.
pub fn misplaced_directive(sql: &str) -> Option<usize> {
    match directives(sql) {
        (false, misplaced) => misplaced,
        (true, _) => None,
    }
}

/// Whether the header holds the directive, and the line of the first one after it. Comments
/// are the scanner's, so a directive inside a string or dollar-quoted body is none; a text
/// the scanner rejects does not parse either, and has neither.
fn directives(sql: &str) -> (bool, Option<usize>) {
    let Some(tokens) = split::tokens(sql) else {
        return (false, None);
    };
    let (mut header, mut misplaced, mut in_header) = (false, None, true);
    for t in tokens {
        match t.kind {
            TokenKind::Comment => {
                let is_directive = sql
                    .get(t.start..t.end)
                    .is_some_and(|c| split::comment_text(c) == NO_TRANSACTION);
                if is_directive && in_header {
                    header = true;
                } else if is_directive && misplaced.is_none() {
                    misplaced = Some(split::line_of(sql, t.start));
                }
            }
            // Empty statements (`;`) come before the first statement too.
            TokenKind::Semicolon => {}
            _ => in_header = false,
        }
    }
    (header, misplaced)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the runner's own splitter put an unterminated string (the scanner fails
    /// too) on line 1 and quoted the rest of the file in the message.
    #[test]
    fn an_unterminated_string_is_reported_on_its_line() {
        let e = split("SELECT 1;\n\nINSERT INTO t VALUES ('abc);\nSELECT 2;\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert_eq!(
            e.message,
            "unterminated quoted string at or near \"'abc);…\""
        );
    }

    /// Statements run as written, from the first token to the last: no comment before or
    /// after, no `;`.
    #[test]
    fn statements_are_their_tokens() {
        let s = split("-- make t\nCREATE TABLE t (a int) /* why */ ;\nSELECT 1 -- last\n").unwrap();
        let got: Vec<(usize, usize, &str)> = s
            .iter()
            .map(|s| (s.line, s.offset, s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [(2, 10, "CREATE TABLE t (a int)"), (3, 45, "SELECT 1")]
        );
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

    /// Regression: the runner read the header as `--` lines only, while lint took any
    /// comment before the first statement, so the two disagreed on whether a file runs in a
    /// transaction; and a directive-looking line inside a string was "misplaced".
    #[test]
    fn the_header_is_any_comment_before_the_first_statement() {
        assert!(no_transaction_header(
            "/* reconcile:no-transaction */\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(no_transaction_header(
            "/* Adds an index.\n   Slowly. */\n-- reconcile:no-transaction\nVACUUM t;"
        ));
        assert!(no_transaction_header(
            ";\n-- reconcile:no-transaction\nVACUUM t;"
        ));
        let in_string = "SELECT '\n-- reconcile:no-transaction\n';\n";
        assert!(!no_transaction_header(in_string));
        assert_eq!(misplaced_directive(in_string), None);
        assert_eq!(
            misplaced_directive("SELECT 1; /* reconcile:no-transaction */\n"),
            Some(1)
        );
        assert_eq!(
            misplaced_directive(
                "-- reconcile:no-transaction\nSELECT 1;\n-- reconcile:no-transaction\n"
            ),
            None
        );
    }
}
