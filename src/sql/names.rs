//! Object names read from parse trees, printed as written or quoted for SQL.
//!
//! A statement names its objects as a `RangeVar` (`schema.table`), a list of `String` nodes
//! (`schema.type`, `schema.function`), a `TypeName` or an `ObjectWithArgs`. Lint prints them
//! in messages as the author wrote them; rollback guides build SQL from them and quote each
//! part. Both read them here, so a name means the same parts in both.

use std::fmt;

use pg_query::NodeEnum;
use pg_query::protobuf;

use crate::ident::quote_ident;

/// A possibly qualified name: its parts in order (`schema`, `name`), never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<'n> {
    parts: Vec<&'n str>,
}

impl<'n> Name<'n> {
    /// `name`, or `schema.name` when a schema is given and not empty.
    pub fn qualified(schema: Option<&'n str>, name: &'n str) -> Self {
        let mut parts: Vec<&str> = schema.filter(|s| !s.is_empty()).into_iter().collect();
        parts.push(name);
        Self { parts }
    }

    /// A relation's `schema.name` (the catalog part of `db.schema.name` is left out); `None`
    /// without a name.
    pub fn of_relation(rv: &'n protobuf::RangeVar) -> Option<Self> {
        (!rv.relname.is_empty()).then(|| Self::qualified(Some(&rv.schemaname), &rv.relname))
    }

    /// A dotted name from a list of `String` nodes; `None` if the list is empty or holds
    /// anything else.
    pub fn of_list(nodes: &'n [protobuf::Node]) -> Option<Self> {
        let parts = nodes.iter().map(string).collect::<Option<Vec<&str>>>()?;
        (!parts.is_empty()).then_some(Self { parts })
    }

    /// The `String` nodes of a list, others skipped (possibly no part at all: then it prints
    /// as the empty string).
    pub fn strings(nodes: &'n [protobuf::Node]) -> Self {
        Self {
            parts: nodes.iter().filter_map(string).collect(),
        }
    }

    /// The name of a `DROP`'s or `COMMENT`'s object: a plain name, a name list, a type name,
    /// a function or operator with its argument types (the name only).
    pub fn of_object(node: &'n protobuf::Node) -> Option<Self> {
        match &node.node {
            Some(NodeEnum::String(s)) => Some(Self {
                parts: vec![&s.sval],
            }),
            Some(NodeEnum::List(l)) => Some(Self::strings(&l.items)),
            Some(NodeEnum::TypeName(t)) => Some(Self::strings(&t.names)),
            Some(NodeEnum::ObjectWithArgs(o)) => Some(Self::strings(&o.objname)),
            _ => None,
        }
    }

    /// Qualified with `schema` if it has one part and a schema is given (the elements of
    /// `CREATE SCHEMA s CREATE TABLE t ...` are in `s`).
    pub fn in_schema(mut self, schema: Option<&'n str>) -> Self {
        if let (Some(schema), [_]) = (schema, self.parts.as_slice()) {
            self.parts.insert(0, schema);
        }
        self
    }

    /// The last part and the one before it (empty when there is none).
    pub fn schema_and_name(&self) -> (&'n str, &'n str) {
        match self.parts.as_slice() {
            [.., schema, name] => (schema, name),
            [name] => ("", name),
            [] => ("", ""),
        }
    }

    /// Each part quoted when it needs it, joined with `.`: SQL text.
    pub fn quoted(&self) -> String {
        self.parts
            .iter()
            .map(|p| quote_ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// As written (unquoted), joined with `.`: for messages.
impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

/// The text of a `String` node.
pub fn string(node: &protobuf::Node) -> Option<&str> {
    match &node.node {
        Some(NodeEnum::String(s)) => Some(&s.sval),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str) -> NodeEnum {
        let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).unwrap();
        parsed.protobuf.stmts[0]
            .stmt
            .as_ref()
            .and_then(|n| n.node.clone())
            .unwrap()
    }

    #[test]
    fn relations_print_as_written_or_quoted() {
        let NodeEnum::CreateStmt(s) = stmt("CREATE TABLE \"My Schema\".users ()") else {
            panic!()
        };
        let name = Name::of_relation(s.relation.as_ref().unwrap()).unwrap();
        assert_eq!(name.to_string(), "My Schema.users");
        assert_eq!(name.quoted(), "\"My Schema\".users");
        assert_eq!(name.schema_and_name(), ("My Schema", "users"));
        let NodeEnum::CreateStmt(s) = stmt("CREATE TABLE \"order\" ()") else {
            panic!()
        };
        let name = Name::of_relation(s.relation.as_ref().unwrap()).unwrap();
        assert_eq!(name.quoted(), "\"order\"");
        assert_eq!(
            name.clone().in_schema(Some("app")).quoted(),
            "app.\"order\""
        );
        assert_eq!(name.schema_and_name(), ("", "order"));
    }

    #[test]
    fn lists_types_and_functions() {
        let NodeEnum::DropStmt(s) =
            stmt("DROP FUNCTION app.f(int), g(text); DROP TYPE public.mood")
        else {
            panic!()
        };
        let names: Vec<String> = s
            .objects
            .iter()
            .map(|o| Name::of_object(o).unwrap().to_string())
            .collect();
        assert_eq!(names, ["app.f", "g"]);
        let NodeEnum::CreateDomainStmt(s) = stmt("CREATE DOMAIN s.\"Email\" AS text") else {
            panic!()
        };
        let name = Name::of_list(&s.domainname).unwrap();
        assert_eq!(name.quoted(), "s.\"Email\"");
        // Already qualified: a default schema changes nothing.
        assert_eq!(name.in_schema(Some("x")).quoted(), "s.\"Email\"");
        assert_eq!(Name::of_list(&[]), None);
        assert_eq!(Name::strings(&[]).to_string(), "");
        assert_eq!(Name::qualified(Some(""), "t").to_string(), "t");
    }
}
