//! Where things are in one SQL file: statements, comments and string constants as byte ranges,
//! and byte offsets as line:column.
//!
//! The parser says where a statement's *range* starts — right after the previous semicolon,
//! comments and blank lines included — but a reviewer wants the line of its first token, and
//! the allow directives are comments, which the parse tree drops. The scanner
//! (`pg_query::scan`, the server's own lexer) gives every token with its position, comments
//! included, so both come from one scan and nothing is found by matching text.

use pg_query::protobuf::{self, Token};
use pg_query::{NodeEnum, ParserOptions};

/// What the linter needs to know about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Comment,
    /// A string constant (`'...'`, `E'...'`, `$$...$$`).
    String,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

/// One top-level statement of the file.
pub(crate) struct Stmt<'a> {
    pub node: &'a NodeEnum,
    /// The statement's text, from its first token up to (not including) the semicolon.
    pub text: &'a str,
    /// Byte offset of the first token (not of the comments before it).
    pub start: usize,
    /// Byte offset just past the last token (the semicolon when there is one).
    pub end: usize,
    /// Index range into [`Source::tokens`] of the tokens between this statement's range start
    /// and the next one's: the statement itself, its semicolon and comments around it.
    pub tokens: std::ops::Range<usize>,
}

pub(crate) struct Source<'a> {
    pub text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    pub tokens: Vec<Tok>,
}

impl<'a> Source<'a> {
    /// Scans `text`. A text the scanner rejects (it also fails to parse, so this is only
    /// reached for a later statement's sake) yields no tokens rather than an error.
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let tokens = pg_query::scan(text)
            .map(|scan| {
                scan.tokens
                    .iter()
                    .filter_map(|t| tok(t, text.len()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            text,
            line_starts,
            tokens,
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset).max(1)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(offset.saturating_sub(start), |s| s.chars().count());
        (line, column + 1)
    }

    /// The text of a line without its line break.
    pub fn line_text(&self, line: usize) -> &'a str {
        let start = self.line_starts.get(line.wrapping_sub(1)).copied();
        let Some(start) = start else { return "" };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// The byte offset of the end of the line `offset` is on (before its line break).
    pub fn line_end(&self, offset: usize) -> usize {
        let from = offset.min(self.text.len());
        self.text
            .get(from..)
            .and_then(|rest| rest.find(['\n', '\r']))
            .map_or(self.text.len(), |i| from + i)
    }

    /// Whether a line holds only whitespace.
    pub fn is_blank(&self, line: usize) -> bool {
        self.line_text(line).trim().is_empty()
    }

    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// The top-level statements of a parse of this text, with first-token positions.
    pub fn statements(&self, parsed: &'a protobuf::ParseResult) -> Vec<Stmt<'a>> {
        let ranges: Vec<(usize, Option<&'a NodeEnum>)> = parsed
            .stmts
            .iter()
            .map(|raw| {
                let start = usize::try_from(raw.stmt_location).unwrap_or(0);
                let node = raw.stmt.as_ref().and_then(|n| n.node.as_ref());
                (start.min(self.text.len()), node)
            })
            .collect();
        let mut out = Vec::with_capacity(ranges.len());
        for (i, &(range_start, node)) in ranges.iter().enumerate() {
            let Some(node) = node else { continue };
            let range_end = ranges.get(i + 1).map_or(self.text.len(), |r| r.0);
            let first = self.tokens.partition_point(|t| t.start < range_start);
            let last = self.tokens.partition_point(|t| t.start < range_end);
            let code: Vec<&Tok> = self
                .tokens
                .get(first..last)
                .unwrap_or_default()
                .iter()
                .filter(|t| t.kind != TokenKind::Comment)
                .collect();
            let (start, end) = match (code.first(), code.last()) {
                (Some(a), Some(b)) => (a.start, b.end),
                // No tokens (the scanner failed): the parser's range is the best there is.
                _ => (range_start, range_end),
            };
            let len = usize::try_from(parsed.stmts[i].stmt_len).unwrap_or(0);
            let text_end = if len == 0 {
                end
            } else {
                (range_start + len).clamp(start, self.text.len())
            };
            out.push(Stmt {
                node,
                text: self.slice(start, text_end).trim_end(),
                start,
                end,
                tokens: first..last,
            });
        }
        out
    }

    /// Where a syntax error most likely is, and the parser's message made one line.
    ///
    /// libpg_query gives no position, only `... at or near "<text>"`. When the scanner
    /// failed (an unterminated string or comment), that text runs to the end of the file, so
    /// it is found exactly. Otherwise the error is placed at the first statement (split at
    /// semicolons by the scanner) that does not parse on its own — or the start of the file.
    pub fn locate_syntax_error(&self, message: &str) -> (usize, String) {
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
        if self.tokens.is_empty()
            && let Some(near) = near.filter(|n| !n.is_empty())
            && let Some(at) = self.text.rfind(near)
        {
            return (at, short);
        }
        let mut piece_start: Option<usize> = None;
        for t in &self.tokens {
            if t.kind == TokenKind::Comment {
                continue;
            }
            let start = *piece_start.get_or_insert(t.start);
            if self.slice(t.start, t.end) == ";" {
                if pg_query::parse(self.slice(start, t.end), ParserOptions::DEFAULT).is_err() {
                    return (start, short);
                }
                piece_start = None;
            }
        }
        (piece_start.unwrap_or(0), short)
    }
}

fn tok(t: &protobuf::ScanToken, len: usize) -> Option<Tok> {
    let start = usize::try_from(t.start).ok()?;
    let end = usize::try_from(t.end).ok()?;
    if start > end || end > len {
        return None;
    }
    let kind = match Token::try_from(t.token) {
        Ok(Token::SqlComment | Token::CComment) => TokenKind::Comment,
        Ok(Token::Sconst | Token::Usconst) => TokenKind::String,
        _ => TokenKind::Other,
    };
    Some(Tok { start, end, kind })
}

/// `(node, text)` for each statement of a parse of `sql` — for SQL that is not a file (the
/// statements inside a DO block), where positions do not matter.
pub(crate) fn nodes<'p>(
    sql: &'p str,
    parsed: &'p protobuf::ParseResult,
) -> Vec<(&'p NodeEnum, &'p str)> {
    parsed
        .stmts
        .iter()
        .filter_map(|raw| {
            let node = raw.stmt.as_ref().and_then(|n| n.node.as_ref())?;
            let start = usize::try_from(raw.stmt_location).unwrap_or(0);
            let end = match usize::try_from(raw.stmt_len) {
                Ok(0) | Err(_) => sql.len(),
                Ok(len) => start.saturating_add(len),
            };
            Some((node, sql.get(start..end).unwrap_or(sql).trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_start_at_their_first_token() {
        let sql = "-- header\n\n/* block */ SELECT 1;  -- trailing\n\n  DROP TABLE t\n;";
        let parsed = pg_query::parse(sql, ParserOptions::DEFAULT).unwrap();
        let source = Source::new(sql);
        let stmts = source.statements(&parsed.protobuf);
        let at: Vec<_> = stmts.iter().map(|s| source.position(s.start)).collect();
        assert_eq!(at, vec![(3, 13), (5, 3)]);
        assert_eq!(stmts[0].text, "SELECT 1");
        assert_eq!(stmts[1].text, "DROP TABLE t");
        assert_eq!(source.line(stmts[1].end - 1), 6, "the semicolon");
    }

    #[test]
    fn columns_count_characters() {
        let source = Source::new("SELECT 'é';\nSELECT 'ü', 1;");
        assert_eq!(source.position(source.text.len() - 2), (2, 13));
        assert_eq!(source.line_text(2), "SELECT 'ü', 1;");
        assert_eq!(source.line_text(9), "");
    }
}
