//! Where a YAML syntax error really is. A `{`, `[` or quote left open makes the parser read
//! the following lines as part of it, and it stops somewhere later with a message about the
//! symptom — a missing `}` on `id: { type: bigint, primary_key: true` is reported as
//! "invalid boolean" (the scalar ran on into the next line). This scans the text the way YAML
//! delimits flow collections and quoted scalars (comments, block scalars and plain scalars
//! skipped) and finds the first opener that is never closed, so the error can point at it.

/// A flow collection or quoted scalar that the rest of the file never closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclosed {
    /// `{`, `[`, `"` or `'`.
    pub opener: char,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
}

impl Unclosed {
    /// What is missing, for the message.
    pub fn describe(&self) -> String {
        match self.opener {
            '{' => "this `{` is never closed: a flow mapping must end with `}`".to_owned(),
            '[' => "this `[` is never closed: a flow sequence must end with `]`".to_owned(),
            q => format!("this quoted string is never closed: it must end with `{q}`"),
        }
    }
}

/// The first opener of `text` never closed before the end of the file.
pub fn first_unclosed(text: &str) -> Option<Unclosed> {
    let mut flow: Vec<Unclosed> = Vec::new();
    let mut quote: Option<Unclosed> = None;
    // A `[` closed by `}` (or the reverse): that opener is the one left open.
    let mut mismatched: Option<Unclosed> = None;
    // Indentation of the line that started a block scalar (`|`, `>`): more indented lines
    // (and blank ones) are its text.
    let mut block_scalar: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index as u32 + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        // At the start of a node: where a quote or bracket opens something.
        let mut node_start = true;
        while i < chars.len() {
            let c = chars[i];
            let column = i as u32 + 1;
            if let Some(q) = &quote {
                match (q.opener, c) {
                    ('"', '\\') => i += 1,
                    ('"', '"') => quote = None,
                    ('\'', '\'') if chars.get(i + 1) == Some(&'\'') => i += 1,
                    ('\'', '\'') => quote = None,
                    _ => {}
                }
                i += 1;
                if quote.is_none() {
                    node_start = false;
                }
                continue;
            }
            let after_space = i == 0 || chars[i - 1] == ' ' || chars[i - 1] == '\t';
            match c {
                ' ' | '\t' => {}
                '#' if after_space => break,
                '"' | '\'' if node_start => {
                    quote = Some(Unclosed {
                        opener: c,
                        line: number,
                        column,
                    });
                }
                '{' | '[' if node_start || !flow.is_empty() => {
                    flow.push(Unclosed {
                        opener: c,
                        line: number,
                        column,
                    });
                    node_start = true;
                }
                '}' | ']' if !flow.is_empty() => {
                    let expected = if c == '}' { '{' } else { '[' };
                    if let Some(top) = flow.pop()
                        && top.opener != expected
                    {
                        if flow.last().is_some_and(|o| o.opener == expected) {
                            flow.pop();
                        }
                        mismatched.get_or_insert(top);
                    }
                    node_start = false;
                }
                ',' if !flow.is_empty() => node_start = true,
                ':' if chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\t')
                    || (!flow.is_empty()
                        && chars.get(i + 1).is_some_and(|n| ",[]{}".contains(*n))) =>
                {
                    node_start = true;
                }
                '-' | '?' if node_start && chars.get(i + 1).is_none_or(|n| *n == ' ') => {}
                '|' | '>' if node_start && flow.is_empty() => {
                    block_scalar = Some(indent);
                    break;
                }
                // Anchors, aliases and tags come before the node itself.
                '&' | '*' | '!' if node_start => {
                    while i + 1 < chars.len() && chars[i + 1] != ' ' {
                        i += 1;
                    }
                }
                _ => node_start = false,
            }
            i += 1;
        }
    }
    // A quote open at the end swallowed everything after it, closers included; of the flow
    // collections still open, the innermost is the first that needed closing.
    mismatched.or(quote).or_else(|| flow.pop())
}

#[cfg(test)]
mod tests {
    use super::{Unclosed, first_unclosed};

    fn at(opener: char, line: u32, column: u32) -> Option<Unclosed> {
        Some(Unclosed {
            opener,
            line,
            column,
        })
    }

    #[test]
    fn finds_what_is_never_closed() {
        let mapping = "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true\n      name: text\n";
        assert_eq!(first_unclosed(mapping), at('{', 4, 11));
        let sequence = "tables:\n  t:\n    columns:\n      id: text\n    unique:\n      - [id\n";
        assert_eq!(first_unclosed(sequence), at('[', 6, 9));
        let quoted = "tables:\n  t:\n    columns:\n      id: \"bigint\n      name: text\n";
        assert_eq!(first_unclosed(quoted), at('"', 4, 11));
        let single = "enums:\n  mood: ['sad, happy]\n";
        assert_eq!(first_unclosed(single), at('\'', 2, 10));
        let nested = "tables:\n  t:\n    columns: { id: bigint }\n    unique: [[id, [x]\n";
        assert_eq!(first_unclosed(nested), at('[', 4, 14));
        let crossed = "tables:\n  t: { unique: [id }\n";
        assert_eq!(first_unclosed(crossed), at('[', 2, 16));
    }

    #[test]
    fn closed_and_literal_text_is_not_an_opener() {
        for text in [
            "tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n",
            // Brackets and quotes inside plain scalars, comments and block scalars.
            "tables:\n  t:\n    columns:\n      a: { type: \"int[]\", default: \"'{1}'\" }\n    checks:\n      c: a[1] > 0 and b <> '}'\n",
            "# a { comment\nenums: # [ here too\n  e: [a, b]\n",
            "views:\n  v: |\n    SELECT '{' AS x, \"[\n  w: >\n    it's\n",
            // A multi-line flow mapping and a quote that closes on a later line.
            "tables:\n  t:\n    columns:\n      id: {\n        type: bigint,\n        primary_key: true\n      }\n      note: \"a\n        b\"\n",
            "enums:\n  e: ['it''s', \"say \\\"hi\\\"\"]\n",
            "tables:\n  t: &t { columns: { id: bigint } }\n  u: *t\n",
        ] {
            assert_eq!(first_unclosed(text), None, "{text}");
        }
    }
}
