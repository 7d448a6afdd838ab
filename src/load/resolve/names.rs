//! Small text forms of the YAML: collations, operator classes, `table(column)` targets.

use crate::ident::quote_ident;

/// A collation as the catalog reader prints it: the quoted name (collations of `pg_catalog`
/// and `public` unqualified). YAML names are literal, so `en_US.utf8` is one name.
pub fn collation(name: &str) -> String {
    quote_ident(name)
}

/// An operator class as the catalog reader prints it.
pub fn opclass(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, class)) if schema != "public" && schema != "pg_catalog" => {
            format!("{}.{}", quote_ident(schema), quote_ident(class))
        }
        Some((_, class)) => quote_ident(class),
        None => quote_ident(name),
    }
}

/// `[schema.]table[(col, ...)]`, the short form of a foreign-key target.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub schema: Option<String>,
    pub table: String,
    pub columns: Vec<String>,
}

pub fn parse_target(text: &str) -> Option<Target> {
    let text = text.trim();
    let (relation, columns) = match text.split_once('(') {
        Some((relation, rest)) => {
            let inner = rest.strip_suffix(')')?;
            let columns: Vec<String> = inner.split(',').map(|c| c.trim().to_owned()).collect();
            if columns.iter().any(String::is_empty) {
                return None;
            }
            (relation.trim(), columns)
        }
        None => (text, Vec::new()),
    };
    if relation.is_empty() || relation.contains(')') {
        return None;
    }
    let (schema, table) = match relation.split_once('.') {
        Some((schema, table)) if !schema.is_empty() && !table.is_empty() => {
            (Some(schema.to_owned()), table.to_owned())
        }
        Some(_) => return None,
        None => (None, relation.to_owned()),
    };
    Some(Target {
        schema,
        table,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("sales.companies(id, region)"),
            Some(Target {
                schema: Some("sales".into()),
                table: "companies".into(),
                columns: vec!["id".into(), "region".into()],
            })
        );
        assert_eq!(
            parse_target("companies").map(|t| t.table),
            Some("companies".into())
        );
        assert_eq!(parse_target("companies(").map(|t| t.table), None);
        assert_eq!(parse_target("(id)"), None);
    }
}
