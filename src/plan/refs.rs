//! What a piece of model text refers to: user types in type text, sequences in defaults,
//! volatile functions in defaults.
//!
//! The planner needs these for ordering edges (an enum before the column that uses it, a
//! sequence before the `nextval` default) and for hazards (a volatile default rewrites the
//! table). The text is canonical server output, so simple shapes suffice; anything not
//! recognised adds no edge, which is safe because unknown names are existing objects.

use crate::ident::{Ident, QualifiedName, parse_dotted};

/// The user type a column type names, if it could be one (`mood`, `app.mood[]`).
pub fn type_name(data_type: &str) -> Option<QualifiedName> {
    let mut base = data_type.trim();
    while let Some(stripped) = base.strip_suffix("[]") {
        base = stripped.trim_end();
    }
    // A bare built-in name is the built-in, whatever user types exist: one named like it is
    // spelled quoted (`"integer"`) or qualified (`public.text`) in the server's text.
    if !base.starts_with('"') && crate::normalise::BUILTIN_TYPES.contains(&base) {
        return None;
    }
    let parts = parse_dotted(base)?;
    let (schema, name) = match parts.as_slice() {
        [name] => ("public".to_owned(), name.clone()),
        [schema, name] => (schema.clone(), name.clone()),
        _ => return None,
    };
    Some(QualifiedName::new(
        Ident::new(schema).ok()?,
        Ident::new(name).ok()?,
    ))
}

/// Sequences named in `nextval('...'::regclass)` calls.
pub fn sequences(expression: &str) -> Vec<QualifiedName> {
    let mut out = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find("nextval('") {
        rest = &rest[start + "nextval('".len()..];
        // The literal ends at the first quote not doubled.
        let mut literal = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                end = i;
                break;
            }
            literal.push(c);
        }
        rest = &rest[end..];
        if let Some(name) = type_name(&literal) {
            out.push(name);
        }
    }
    out
}

/// Column names an expression refers to (`price * 2` → `price`), for ordering a generated
/// column after the new columns it is computed from.
pub fn column_names(expression: &str) -> Vec<String> {
    let Ok(parsed) = pg_query::parse(
        &format!("SELECT ({expression})"),
        pg_query::ParserOptions::DEFAULT,
    ) else {
        return Vec::new();
    };
    let mut out: Vec<String> = parsed
        .protobuf
        .nodes()
        .into_iter()
        .filter_map(|(node, ..)| match node {
            pg_query::NodeRef::ColumnRef(c) => c.fields.last().and_then(|f| match &f.node {
                Some(pg_query::NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The functions (and aggregates) an expression calls, by name — an expression names a
/// function, the server picks the overload. The text is printed under `search_path = public`,
/// so an unqualified name is `public`'s (or a built-in one, which nothing provides).
pub fn functions(expression: &str) -> Vec<QualifiedName> {
    let sql = format!("SELECT ({expression})");
    let Ok(parsed) = pg_query::parse(&sql, pg_query::ParserOptions::DEFAULT) else {
        return Vec::new();
    };
    let mut out: Vec<QualifiedName> = parsed
        .protobuf
        .nodes()
        .into_iter()
        .filter_map(|(node, ..)| match node {
            pg_query::NodeRef::FuncCall(f) => {
                let parts: Vec<&str> = f
                    .funcname
                    .iter()
                    .filter_map(|n| match &n.node {
                        Some(pg_query::NodeEnum::String(s)) => Some(s.sval.as_str()),
                        _ => None,
                    })
                    .collect();
                let (schema, name) = match parts.as_slice() {
                    [name] => ("public", *name),
                    [schema, name] => (*schema, *name),
                    _ => return None,
                };
                Some(QualifiedName::new(
                    Ident::new(schema).ok()?,
                    Ident::new(name).ok()?,
                ))
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Functions whose result differs per row: a default calling one makes `ADD COLUMN` rewrite
/// the whole table (a constant or STABLE default, like `now()`, does not).
const VOLATILE: &[&str] = &[
    "clock_timestamp",
    "gen_random_uuid",
    "nextval",
    "random",
    "random_normal",
    "setseed",
    "timeofday",
    "txid_current",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
];

/// Whether `expression` calls a function known to be volatile.
pub fn calls_volatile_function(expression: &str) -> bool {
    let Ok(parsed) = pg_query::parse(
        &format!("SELECT ({expression})"),
        pg_query::ParserOptions::DEFAULT,
    ) else {
        // Canonical server text always parses; if not, assume the worst for the hazard.
        return true;
    };
    parsed.functions().iter().any(|f| {
        let name = f.rsplit('.').next().unwrap_or(f);
        VOLATILE.contains(&name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(type_name("mood").unwrap().quoted(), "public.mood");
        assert_eq!(type_name("app.mood[]").unwrap().quoted(), "app.mood");
        assert_eq!(
            type_name("\"My Type\"").unwrap().quoted(),
            "public.\"My Type\""
        );
        assert!(type_name("character varying(20)").is_none());
        // A built-in, even beside a user type named like it (written quoted or qualified).
        assert!(type_name("integer").is_none());
        assert!(type_name("text[]").is_none());
        assert_eq!(
            type_name("\"integer\"").unwrap().quoted(),
            "public.\"integer\""
        );
        assert_eq!(type_name("public.text").unwrap().quoted(), "public.text");
    }

    #[test]
    fn sequence_references() {
        let found = sequences("nextval('app.\"Odd''s\"'::regclass)");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name.as_str(), "Odd's");
        assert_eq!(
            sequences("nextval('s'::regclass) + 1")[0].quoted(),
            "public.s"
        );
    }

    #[test]
    fn columns_of_an_expression() {
        assert_eq!(column_names("(price * (2)::numeric)"), ["price"]);
        assert_eq!(column_names("(a || \"B c\")"), ["B c", "a"]);
        assert!(column_names("now()").is_empty());
    }

    #[test]
    fn functions_called() {
        let names = |e: &str| {
            functions(e)
                .iter()
                .map(QualifiedName::quoted)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("random_id()"), ["public.random_id"]);
        assert_eq!(
            names("(app.\"Odd.name\"(a) + lower(b))"),
            ["app.\"Odd.name\"", "public.lower"]
        );
        assert!(names("(a + 1)").is_empty());
    }

    #[test]
    fn volatility() {
        assert!(calls_volatile_function("gen_random_uuid()"));
        assert!(calls_volatile_function("(random() * 10)"));
        assert!(!calls_volatile_function("now()"));
        assert!(!calls_volatile_function("'x'::text"));
    }
}
