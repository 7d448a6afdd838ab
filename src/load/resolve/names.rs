//! Small text forms of the YAML: collations, operator classes, `table(column)` targets.

use crate::ident::quote_ident;
use crate::load::format::{ObjectName, ShortOr};

/// A collation as the catalog reader prints it: the quoted name, schema-qualified unless it
/// lives in `pg_catalog` or `public`. A name written as a string is literal, so `en_US.utf8`
/// is one name; a qualified one is written `{ schema, name }`.
pub fn collation(spec: &ObjectName) -> String {
    match spec {
        ShortOr::Short(name) => quote_ident(name),
        ShortOr::Long(long) => qualified(long.schema.as_deref(), &long.name),
    }
}

/// An operator class as the catalog reader prints it: as [`collation`], but a string splits
/// at its first dot into schema and name (operator class names rarely hold a dot; one that
/// does is written `{ name }`).
pub fn opclass(spec: &ObjectName) -> String {
    match spec {
        ShortOr::Short(name) => match name.split_once('.') {
            Some((schema, class)) => qualified(Some(schema), class),
            None => quote_ident(name),
        },
        ShortOr::Long(long) => qualified(long.schema.as_deref(), &long.name),
    }
}

/// `schema.name`, quoted as the server quotes, left unqualified in the schemas the catalog
/// reader's `search_path` sees.
fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(schema) if schema != "public" && schema != "pg_catalog" => {
            format!("{}.{}", quote_ident(schema), quote_ident(name))
        }
        _ => quote_ident(name),
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

    fn read(yaml: &str) -> ObjectName {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    /// What `pull` writes for a collation or operator class reads back as the same catalog
    /// text — qualified ones included (`app.mycoll` once loaded as the one name
    /// `"app.mycoll"`, and `"My Ext".gin_trgm_ops` as `"""My Ext""".gin_trgm_ops`).
    #[test]
    fn pulled_collations_and_opclasses_load_back() {
        for canonical in [
            "\"C\"",
            "\"en_US.utf8\"",
            "mycoll",
            "app.mycoll",
            "app.\"Co ll\"",
            "\"Coll \"\"a.b\"\"\"",
            "\"My Ext\".gin_trgm_ops",
            "\"my.schema\".\"x.y\"",
            "\"x.y\"",
            "text_pattern_ops",
        ] {
            let yaml = crate::pull::yaml::collation(canonical);
            assert_eq!(collation(&read(&yaml)), canonical, "collation via {yaml}");
            let yaml = crate::pull::yaml::opclass(canonical);
            assert_eq!(opclass(&read(&yaml)), canonical, "opclass via {yaml}");
        }
    }

    /// Strings keep their old reading: a collation is one literal name, an operator class
    /// splits at its first dot.
    #[test]
    fn string_names_read_as_before() {
        assert_eq!(collation(&read("en_US.utf8")), "\"en_US.utf8\"");
        assert_eq!(collation(&read("C")), "\"C\"");
        assert_eq!(opclass(&read("app.my_ops")), "app.my_ops");
        assert_eq!(opclass(&read("public.my_ops")), "my_ops");
        assert_eq!(
            collation(&read("{ schema: app, name: Co ll }")),
            "app.\"Co ll\""
        );
        assert_eq!(collation(&read("{ schema: public, name: x }")), "x");
    }

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
