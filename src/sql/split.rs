//! Cutting SQL text into its statements, each with its node, text, byte range and line.
//!
//! Migrations, lint, rollback guides, `verify/` assertions and the safety classifier all take
//! text holding any number of statements and need to know where each one is. Splitting on `;`
//! would break dollar-quoted bodies and strings or comments holding a `;`, so the real
//! PostgreSQL parser (libpg_query) says where statements start and end, and its scanner (the
//! server's own lexer) says where tokens are: a statement's text runs from its first token to
//! its last, without the comments around it or the terminating `;`. A text that does not
//! parse gives a [`SyntaxError`] placed at the statement, and as close to the offending token
//! as the scanner can tell — libpg_query reports no position.

use std::ops::Range;

use pg_query::protobuf::{self, Token as ScanToken};
use pg_query::{NodeEnum, ParserOptions};

/// A parsed text and the scanner's tokens.
pub struct Script<'a> {
    text: &'a str,
    parsed: protobuf::ParseResult,
    tokens: Vec<Token>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

/// What callers need to know about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `-- ...` or `/* ... */`.
    Comment,
    /// A string constant (`'...'`, `E'...'`, `$$...$$`).
    String,
    Semicolon,
    Other,
}

/// One token, as a byte range of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

/// One top-level statement.
#[derive(Debug, Clone)]
pub struct Statement<'s> {
    pub node: &'s NodeEnum,
    /// From the first token to the last, without comments around it or the `;`.
    pub text: &'s str,
    /// Byte offset of the first token (not of the comments before it).
    pub start: usize,
    /// Byte offset just past the last token of [`Statement::text`].
    pub end: usize,
    /// Byte offset just past the terminating `;` (or the last of several), [`Statement::end`]
    /// when there is none.
    pub end_with_semicolon: usize,
    /// 1-based line of the first token.
    pub line: usize,
    /// Index range into [`Script::tokens`] from the first token up to the next statement's:
    /// the statement, its `;` and the comments after it.
    pub tokens: Range<usize>,
}

/// A text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    /// The parser's message; a snippet it quotes that runs over several lines (the rest of an
    /// unterminated string) is cut at the first line break.
    pub message: String,
    /// Byte offset of the token the error is most likely at.
    pub offset: usize,
    /// 1-based line of `offset`.
    pub line: usize,
    /// Byte offset of the first token of the statement that does not parse (`offset` itself
    /// when the scanner fails too, i.e. at an unterminated string or comment).
    pub statement: usize,
}

impl<'a> Script<'a> {
    /// Parses `text` with the standard grammar.
    pub fn parse(text: &'a str) -> Result<Self, SyntaxError> {
        Self::parse_with(text, ParserOptions::DEFAULT)
    }

    /// Parses `text` in the given mode (PL/pgSQL expressions are parsed as `SELECT <expr>`).
    pub fn parse_with(text: &'a str, options: ParserOptions) -> Result<Self, SyntaxError> {
        if let Some(nul) = text.find('\0') {
            return Err(SyntaxError::at(
                text,
                nul,
                nul,
                "the text contains a NUL byte (character 0), which PostgreSQL cannot read".into(),
            ));
        }
        let parsed = match pg_query::parse(text, options) {
            Ok(parsed) => parsed.protobuf,
            Err(e) => {
                let message = match e {
                    pg_query::Error::Parse(m) => m,
                    other => other.to_string(),
                };
                return Err(locate_syntax_error(text, options, &message));
            }
        };
        // The scanner accepts whatever the parser accepts; should it not, statements fall
        // back to the parser's ranges.
        let tokens = scan(text).unwrap_or_default();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Ok(Self {
            text,
            parsed,
            tokens,
            line_starts,
        })
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The parser's result, for what statements do not cover.
    pub fn parse_result(&self) -> &protobuf::ParseResult {
        &self.parsed
    }

    /// Every token, comments included, in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset).max(1)
    }

    /// Byte offset of the start of a 1-based line (the text's end past the last line).
    pub fn line_start(&self, line: usize) -> usize {
        line.checked_sub(1)
            .and_then(|i| self.line_starts.get(i).copied())
            .unwrap_or(self.text.len())
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.line_start(line);
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(offset.saturating_sub(start), |s| s.chars().count());
        (line, column + 1)
    }

    /// The top-level statements, in order. Empty statements (`;;`) are not statements.
    pub fn statements(&self) -> Vec<Statement<'_>> {
        let len = self.text.len();
        let starts: Vec<usize> = self
            .parsed
            .stmts
            .iter()
            .map(|raw| usize::try_from(raw.stmt_location).map_or(0, |s| s.min(len)))
            .collect();
        let mut out = Vec::with_capacity(starts.len());
        for (i, raw) in self.parsed.stmts.iter().enumerate() {
            let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
                continue;
            };
            let range_start = starts[i];
            let next = starts.get(i + 1).copied().unwrap_or(len).max(range_start);
            // The parser's end: the `;`, or (the last statement without one) the text's end.
            let parser_end = match usize::try_from(raw.stmt_len) {
                Ok(0) | Err(_) => next,
                Ok(n) => range_start.saturating_add(n).min(next),
            };
            let first = self.tokens.partition_point(|t| t.start < range_start);
            let last = self.tokens.partition_point(|t| t.start < next);
            let code = || {
                self.tokens[first..last]
                    .iter()
                    .filter(|t| t.kind != TokenKind::Comment)
            };
            let (start, end, end_with_semicolon) = match code().next() {
                Some(head) => {
                    let end = code()
                        .rev()
                        .find(|t| t.kind != TokenKind::Semicolon && t.end <= parser_end)
                        .map_or(head.end, |t| t.end);
                    let with = code().next_back().map_or(end, |t| t.end).max(end);
                    (head.start, end, with)
                }
                None => {
                    let piece = self.text.get(range_start..parser_end).unwrap_or("");
                    let trimmed = piece.trim_end().trim_end_matches(';').trim_end();
                    let lead = trimmed.len() - trimmed.trim_start().len();
                    (range_start + lead, range_start + trimmed.len(), parser_end)
                }
            };
            let text = self.text.get(start..end).unwrap_or("");
            if text.is_empty() {
                continue;
            }
            out.push(Statement {
                node,
                text,
                start,
                end,
                end_with_semicolon,
                line: self.line(start),
                tokens: first..last,
            });
        }
        out
    }
}

impl SyntaxError {
    fn at(text: &str, offset: usize, statement: usize, message: String) -> Self {
        Self {
            message,
            offset,
            line: line_of(text, offset),
            statement,
        }
    }
}

/// 1-based line of byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line and column (in characters) of byte `offset` of `text` — for a text that did
/// not parse, so has no [`Script`].
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(offset - line_start, |s| s.chars().count());
    (line_of(text, offset), column + 1)
}

/// What a comment says: its text without `--` or `/* */`, trimmed.
pub fn comment_text(comment: &str) -> &str {
    let body = if let Some(rest) = comment.strip_prefix("--") {
        rest
    } else if let Some(rest) = comment.strip_prefix("/*") {
        rest.strip_suffix("*/").unwrap_or(rest)
    } else {
        comment
    };
    body.trim()
}

/// The tokens of `text`, comments included; `None` when the scanner fails (an unterminated
/// string or comment). For text that need not parse.
pub fn tokens(text: &str) -> Option<Vec<Token>> {
    scan(text)
}

fn scan(text: &str) -> Option<Vec<Token>> {
    // Not `scan_tokens`: pg_query 18.1 builds a slice from a null pointer for an empty text.
    let scanned = pg_query::scan(text).ok()?;
    Some(
        scanned
            .tokens
            .iter()
            .filter_map(|t| {
                let start = usize::try_from(t.start).ok()?;
                let end = usize::try_from(t.end).ok()?;
                if start > end || end > text.len() {
                    return None;
                }
                let kind = match ScanToken::try_from(t.token) {
                    Ok(ScanToken::SqlComment | ScanToken::CComment) => TokenKind::Comment,
                    Ok(ScanToken::Sconst | ScanToken::Usconst) => TokenKind::String,
                    Ok(ScanToken::Ascii59) => TokenKind::Semicolon,
                    _ => TokenKind::Other,
                };
                Some(Token { start, end, kind })
            })
            .collect(),
    )
}

/// Where a syntax error is, and the parser's message made one line.
///
/// libpg_query gives no position, only `... at or near "<text>"`. When the scanner fails too
/// (an unterminated string or comment), that text runs to the end of the input, so it is
/// found exactly. Otherwise the input is cut at `;` tokens and the pieces are parsed one by
/// one: the first that fails is the statement, and within it the offending token is the
/// first whose prefix fails for a reason other than "at end of input" (found by bisection).
fn locate_syntax_error(text: &str, options: ParserOptions, message: &str) -> SyntaxError {
    const NEAR: &str = " at or near \"";
    let near = message
        .find(NEAR)
        .map(|i| &message[i + NEAR.len()..])
        .and_then(|rest| rest.strip_suffix('"'));
    let short = match near {
        Some(near) if near.contains('\n') => {
            let first = near.lines().next().unwrap_or("");
            message.replacen(near, &format!("{}…", first.trim_end()), 1)
        }
        _ => message.to_owned(),
    };
    let Some(tokens) = scan(text) else {
        let at = near
            .filter(|n| !n.is_empty())
            .and_then(|n| text.rfind(n))
            .unwrap_or(0);
        return SyntaxError::at(text, at, at, short);
    };
    let code: Vec<Token> = tokens
        .into_iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    let fails = |from: usize, to: usize, at_end_counts: bool| {
        text.get(from..to).is_some_and(|piece| {
            pg_query::parse(piece, options)
                .is_err_and(|e| at_end_counts || !e.to_string().contains("at end of input"))
        })
    };
    let mut first = 0;
    for i in 0..=code.len() {
        if i < code.len() && code[i].kind != TokenKind::Semicolon {
            continue;
        }
        if i > first {
            let start = code[first].start;
            // The piece includes its `;` (when it has one).
            let piece_end = code[i.min(code.len() - 1)].end;
            if fails(start, piece_end, true) {
                // The smallest prefix that fails not merely for being cut short.
                let bad = |k: usize| fails(start, code[k].end, false);
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
                return SyntaxError::at(text, code[hi].start, start, short);
            }
        }
        first = i + 1;
    }
    // Every piece parses on its own: blame the last one.
    let at = code
        .iter()
        .rposition(|t| t.kind == TokenKind::Semicolon)
        .and_then(|i| code.get(i + 1))
        .or(code.first())
        .map_or(0, |t| t.start);
    SyntaxError::at(text, at, at, short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str) -> Vec<(usize, String)> {
        let script = Script::parse(sql).unwrap();
        script
            .statements()
            .iter()
            .map(|s| (s.line, s.text.to_owned()))
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
        let got = split(sql);
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
        // The last statement has no `;`: its text stops at its last token, not at the end of
        // the trailing comment.
        assert_eq!(got[3], (12, "SELECT 1".to_owned()));
    }

    #[test]
    fn byte_ranges_start_at_the_first_token_and_end_before_the_semicolon() {
        let sql =
            "-- header\n\n/* block */ SELECT 1 /* in */ ;  -- trailing\n\n  DROP TABLE t\n;;\n";
        let script = Script::parse(sql).unwrap();
        let stmts = script.statements();
        assert_eq!(stmts.len(), 2);
        let at: Vec<_> = stmts.iter().map(|s| script.position(s.start)).collect();
        assert_eq!(at, vec![(3, 13), (5, 3)]);
        assert_eq!(stmts[0].text, "SELECT 1");
        assert_eq!(&sql[stmts[0].start..stmts[0].end], "SELECT 1");
        assert_eq!(
            &sql[stmts[0].end..stmts[0].end_with_semicolon],
            " /* in */ ;"
        );
        assert_eq!(stmts[1].text, "DROP TABLE t");
        assert_eq!(stmts[1].line, 5);
        assert_eq!(&sql[stmts[1].end..stmts[1].end_with_semicolon], "\n;;");
        // The tokens of the first statement run up to the second: its `;` and the comment.
        let kinds: Vec<TokenKind> = script.tokens()[stmts[0].tokens.clone()]
            .iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                TokenKind::Other,
                TokenKind::Other,
                TokenKind::Comment,
                TokenKind::Semicolon,
                TokenKind::Comment
            ]
        );
    }

    #[test]
    fn function_bodies_in_sql_standard_form_are_one_statement() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  \
                   SELECT 2;\nEND;\nSELECT 3;";
        let got = split(sql);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].1.ends_with("SELECT 2;\nEND"), "{got:#?}");
        assert_eq!(got[1], (6, "SELECT 3".to_owned()));
    }

    #[test]
    fn empty_statements_and_comment_only_texts() {
        assert!(split("").is_empty());
        assert!(split("-- nothing\n/* at all */\n;\n;").is_empty());
        assert_eq!(split(";;\nSELECT 1;;\n"), vec![(2, "SELECT 1".to_owned())]);
    }

    #[test]
    fn columns_count_characters_and_lines_count_from_one() {
        let script = Script::parse("SELECT 'é';\nSELECT 'ü', 1;").unwrap();
        assert_eq!(script.position(script.text().len() - 2), (2, 13));
        assert_eq!(script.position(0), (1, 1));
        assert_eq!(script.line_start(2), 13, "é is two bytes");
        assert_eq!(script.line_start(9), script.text().len());
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(position("ab\nxé y", 7), (2, 4));
        assert_eq!(position("ab", 99), (1, 3));
        assert_eq!(comment_text("--  a b \n"), "a b");
        assert_eq!(comment_text("/* a\n b */"), "a\n b");
    }

    #[test]
    fn syntax_errors_name_the_statement_and_the_offending_token() {
        let sql = "SELECT 1;\n\nCREATE TABLE a (id int);\nCREATE TABLE b (id int,);\nSELECT 2;\n";
        let e = Script::parse(sql).err().unwrap();
        assert_eq!(e.line, 4, "{e}");
        assert_eq!(e.statement, sql.find("CREATE TABLE b").unwrap());
        let sql = "SELECT 1;\nCREATE TABLE b (\n  id int,\n  name text\n  other text\n);\n";
        let e = Script::parse(sql).err().unwrap();
        assert_eq!(e.line, 5, "{e}");
        assert_eq!(line_of(sql, e.statement), 2);
        assert!(e.message.contains("\"other\""), "{e}");
        assert!(e.message.starts_with("syntax error"), "{e}");
        let sql = "SELECT 1;\nCREATE TABLE b (\n  id int,\n  name text\n";
        assert_eq!(Script::parse(sql).err().unwrap().line, 4);
        let sql = "SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n\
                   SELEC 2;\n";
        assert_eq!(Script::parse(sql).err().unwrap().line, 3);
    }

    #[test]
    fn unterminated_strings_are_found_and_the_message_stays_on_one_line() {
        let sql = "SELECT 1;\n\nSELECT 'abc\nFROM t;\n";
        let e = Script::parse(sql).err().unwrap();
        assert_eq!((e.line, e.offset, e.statement), (3, 18, 18));
        assert_eq!(e.message, "unterminated quoted string at or near \"'abc…\"");
        let e = Script::parse("SELECT 1;\n/* open").err().unwrap();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn nul_bytes_are_syntax_errors_at_their_line() {
        let e = Script::parse("SELECT 1;\nSELECT\0 2;").err().unwrap();
        assert_eq!((e.line, e.offset), (2, 16));
        assert!(e.message.contains("NUL byte"), "{e}");
    }

    #[test]
    fn other_parse_modes() {
        let script = Script::parse_with("a > 1", ParserOptions::PLPGSQL_EXPR).unwrap();
        let stmts = script.statements();
        assert_eq!(stmts.len(), 1);
        assert!(matches!(stmts[0].node, NodeEnum::SelectStmt(_)));
    }
}
