//! Minimal, predictable YAML scalar writing for the pull output.
//!
//! Written by hand rather than through a serializer so the layout is ours: flow mappings for
//! short objects (`{ type: text, not_null: true }`), block mappings for tables, and quoting
//! only where YAML needs it — which keeps pulled files pleasant to review in a PR.

use crate::ident::parse_dotted;

/// Words a YAML 1.1/1.2 reader may turn into something other than a string.
const SPECIAL_WORDS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

/// A scalar safe in both block and flow context.
pub fn scalar(text: &str) -> String {
    let plain_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '(' | ')' | '.' | '-'));
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let plain = plain_chars
        && starts_well
        && !text.ends_with(' ')
        && !text.contains("  ")
        && !SPECIAL_WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain { text.to_owned() } else { quoted(text) }
}

/// Always double-quoted: expressions are SQL, and SQL is full of YAML indicators.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `[a, b, c]`
pub fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(scalar).collect();
    format!("[{}]", items.join(", "))
}

/// `{ k: v, ... }` from already-rendered values.
pub fn flow(pairs: &[(&str, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{ {} }}", inner.join(", "))
}

/// A collation as the catalog prints it (`"C"`, `app."Co ll"`) → its YAML: the literal
/// name (`C`), or `{ schema, name }` when it is schema-qualified — a string is one literal
/// name, dots included (`en_US.utf8`).
pub fn collation(canonical: &str) -> String {
    match parse_dotted(canonical).as_deref() {
        Some([name]) => scalar(name),
        Some([schema, name]) => flow(&[("schema", scalar(schema)), ("name", scalar(name))]),
        // Not catalog text: nothing reads back the same; written as it is.
        _ => scalar(canonical),
    }
}

/// An operator class as the catalog prints it → its YAML: `name` or `schema.name` (the
/// loader splits a string at its first dot), or the long form when a dot in a name would be
/// split at.
pub fn opclass(canonical: &str) -> String {
    match parse_dotted(canonical).as_deref() {
        Some([name]) if !name.contains('.') => scalar(name),
        Some([schema, name]) if !schema.contains('.') => scalar(&format!("{schema}.{name}")),
        Some([name]) => flow(&[("name", scalar(name))]),
        Some([schema, name]) => flow(&[("schema", scalar(schema)), ("name", scalar(name))]),
        _ => scalar(canonical),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_only_when_needed() {
        assert_eq!(scalar("leads"), "leads");
        assert_eq!(
            scalar("timestamp with time zone"),
            "timestamp with time zone"
        );
        assert_eq!(scalar("numeric(12,2)"), "\"numeric(12,2)\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("Upper Case"), "Upper Case");
        assert_eq!(scalar("a\"b"), "\"a\\\"b\"");
        assert_eq!(scalar("x'); DROP TABLE t; --"), "\"x'); DROP TABLE t; --\"");
        assert_eq!(scalar("123"), "\"123\"");
        assert_eq!(scalar(""), "\"\"");
    }
}
