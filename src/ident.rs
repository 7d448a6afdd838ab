//! Identifiers as values, and the one place that turns them into SQL text.
//!
//! Every name that reaches a generated statement passes through [`quote_ident`], so a
//! table called `x'); DROP TABLE t; --` is just a table with an odd name. Names are stored
//! exactly as PostgreSQL stores them (case preserved, no quotes) and quoted only on output,
//! with the same rule as the server's `quote_ident()` so generated SQL reads like pg_dump's.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Keywords that `quote_ident()` quotes: every category but "unreserved"
/// (`SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`, PostgreSQL 15).
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// True when `name` can appear in SQL without double quotes (the server's rule).
pub fn is_plain_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err()
}

/// Quotes `name` exactly when PostgreSQL's `quote_ident()` would.
pub fn quote_ident(name: &str) -> String {
    if is_plain_ident(name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal as the server prints one (`pg_get_expr` with standard_conforming_strings
/// on): quotes doubled, backslashes verbatim. For reproducing catalog text, not for SQL we run.
pub fn server_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL string literal that means the same under either `standard_conforming_strings`
/// setting: like PostgreSQL's own `quote_literal()`, text with a backslash becomes an `E'...'`
/// literal with the backslashes doubled.
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Why a name cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("\"{0}\" is longer than 63 bytes; PostgreSQL would silently truncate it — shorten it")]
    TooLong(String),
    #[error("a name cannot contain a NUL character")]
    Nul,
}

/// A schema-unqualified name: a column, a constraint, an index, a schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ident(CompactString);

/// The schema of an object outside any schema (an extension), for code that walks objects
/// by schema: no schema has this name (a real one is never empty), so it matches none.
pub(crate) static NO_SCHEMA: Ident = Ident(CompactString::const_new(""));

impl Ident {
    /// Checks the name against PostgreSQL's limits; anything else (quotes, spaces, any case,
    /// semicolons) is a legal name and is kept verbatim.
    pub fn new(name: impl AsRef<str>) -> Result<Self, IdentError> {
        let name = name.as_ref();
        if name.is_empty() {
            Err(IdentError::Empty)
        } else if name.len() > MAX_IDENT_BYTES {
            Err(IdentError::TooLong(name.to_owned()))
        } else if name.contains('\0') {
            Err(IdentError::Nul)
        } else {
            Ok(Self(CompactString::from(name)))
        }
    }

    /// For names read from the catalog, which are valid by construction.
    pub fn from_catalog(name: String) -> Self {
        Self(CompactString::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as SQL text, quoted when needed.
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A schema-qualified name: a table, type, sequence, domain. Serialised as its quoted SQL
/// text (`public."My Table"`), which is unambiguous and usable as a JSON map key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub schema: Ident,
    pub name: Ident,
}

impl QualifiedName {
    pub fn new(schema: Ident, name: Ident) -> Self {
        Self { schema, name }
    }

    /// `schema.name`, each part quoted when needed.
    pub fn quoted(&self) -> String {
        format!("{}.{}", self.schema.quoted(), self.name.quoted())
    }

    /// Quoted, and unqualified when the object lives in `public` — the form the server's
    /// `format_type` and `pg_get_expr` use under `search_path = public`.
    pub fn quoted_relative(&self) -> String {
        if self.schema.as_str() == "public" {
            self.name.quoted()
        } else {
            self.quoted()
        }
    }
}

impl Serialize for QualifiedName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QualifiedName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let invalid = || serde::de::Error::custom(format!("not a schema-qualified name: {text}"));
        match parse_dotted(&text).as_deref() {
            Some([schema, name]) => Ok(QualifiedName::new(
                Ident::new(schema.as_str()).map_err(|_| invalid())?,
                Ident::new(name.as_str()).map_err(|_| invalid())?,
            )),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.quoted())
    }
}

/// Splits SQL identifier text such as `public."My Table"` into its unquoted parts, applying
/// PostgreSQL's folding (unquoted parts are lower-cased). Returns `None` for malformed text.
pub fn parse_dotted(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        match chars.peek() {
            Some('"') => {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                        None => return None,
                    }
                }
            }
            Some(_) => {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if !(c.is_alphanumeric() || c == '_' || c == '$') {
                        return None;
                    }
                    part.push(c.to_ascii_lowercase());
                    chars.next();
                }
            }
            None => return None,
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

/// The name PostgreSQL chooses for an implicit object (`makeObjectName`): `name1_name2_label`,
/// shortening the longer of the first two parts until the whole fits in 63 bytes.
pub fn default_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let avail = MAX_IDENT_BYTES.saturating_sub(overhead);
    let mut n1 = name1.len();
    let mut n2 = name2.map_or(0, str::len);
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_owned()
    };
    let mut out = clip(name1, n1);
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(&clip(name2, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn quoting_matches_quote_ident() {
        assert_eq!(quote_ident("leads"), "leads");
        assert_eq!(quote_ident("Upper Case"), "\"Upper Case\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("name"), "name");
        assert_eq!(quote_ident("1abc"), "\"1abc\"");
        assert_eq!(
            quote_ident("x'); DROP TABLE t; --"),
            "\"x'); DROP TABLE t; --\""
        );
    }

    #[test]
    fn dotted_names_parse_with_folding_and_quotes() {
        assert_eq!(
            parse_dotted("Public.Leads"),
            Some(vec!["public".into(), "leads".into()])
        );
        assert_eq!(
            parse_dotted("\"My\"\"S\".\"T x\""),
            Some(vec!["My\"S".into(), "T x".into()])
        );
        assert_eq!(parse_dotted("a..b"), None);
        assert_eq!(parse_dotted("a b"), None);
    }

    #[test]
    fn default_names_are_truncated_like_postgres() {
        assert_eq!(
            default_object_name("leads", Some("email"), "key"),
            "leads_email_key"
        );
        let long = "a".repeat(60);
        let name = default_object_name(&long, Some("id"), "fkey");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_id_fkey"));
    }
}
