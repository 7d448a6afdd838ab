//! One parsed SQL file as lint reads it: its statements and tokens (from the shared splitter,
//! [`crate::sql::split`]) and what a diagnostic shows of it — line:column and a line's text.
//!
//! A reviewer wants the line of a statement's first token, and the allow directives are
//! comments, which the parse tree drops: the splitter gives both from one parse and one scan,
//! so nothing is found by matching text.

use crate::sql::{Script, Statement};

pub(crate) use crate::sql::{Token, TokenKind};

/// One top-level statement of the file.
pub(crate) type Stmt<'s> = Statement<'s>;

pub(crate) struct Source<'a> {
    script: Script<'a>,
}

impl<'a> Source<'a> {
    pub fn new(script: Script<'a>) -> Self {
        Self { script }
    }

    /// Every token, comments included.
    pub fn tokens(&self) -> &[Token] {
        self.script.tokens()
    }

    pub fn statements(&self) -> Vec<Stmt<'_>> {
        self.script.statements()
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.script.line(offset)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        self.script.position(offset)
    }

    /// The text of a line without its line break.
    pub fn line_text(&self, line: usize) -> &'a str {
        let text = self.script.text();
        let start = self.script.line_start(line);
        let end = self.script.line_start(line + 1);
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// The byte offset of the end of the line `offset` is on (before its line break).
    pub fn line_end(&self, offset: usize) -> usize {
        let text = self.script.text();
        let from = offset.min(text.len());
        text.get(from..)
            .and_then(|rest| rest.find(['\n', '\r']))
            .map_or(text.len(), |i| from + i)
    }

    /// Whether a line holds only whitespace.
    pub fn is_blank(&self, line: usize) -> bool {
        self.line_text(line).trim().is_empty()
    }

    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        self.script.text().get(start..end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_file() {
        let source = Source::new(Script::parse("SELECT 'é';\r\nSELECT 'ü', 1;").unwrap());
        assert_eq!(source.line_text(1), "SELECT 'é';");
        assert_eq!(source.line_text(2), "SELECT 'ü', 1;");
        assert_eq!(source.line_text(9), "");
        assert_eq!(source.line_end(3), 12);
        assert!(!source.is_blank(1));
        assert!(source.is_blank(9));
    }
}
