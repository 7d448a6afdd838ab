//! Typed identities of database objects.
//!
//! Findings, steps, DDL statements, the loader's declaration map and canonicalisation's
//! bookkeeping all need to say *which* object they are about. A formatted string ("index i on
//! public.t") invites matching by substring, and two places formatting the same object
//! differently; an [`ObjectId`] is compared as a value. Its `Display` is the text users read in
//! plans (and that JSON carries); [`ObjectId::from_str`] reads that text back, so a reviewed
//! plan file yields the same identities it was written from.
//!
//! Every identifier in the text is quoted exactly when SQL needs it (`quote_ident`), so the
//! text is unambiguous: `index "a on b" on public.t`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ident::{Ident, QualifiedName, quote_ident, quote_literal};
use crate::kinds::privilege::{Grantee, Privilege, Securable};

/// One object of a database, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectId {
    Schema(Ident),
    Extension(Ident),
    /// An enum or composite type (and, in "extra type" findings, any user type).
    Type(QualifiedName),
    Domain(QualifiedName),
    EnumValue {
        type_name: QualifiedName,
        value: String,
    },
    Sequence(QualifiedName),
    /// A sequence's `OWNED BY`, set once its table exists.
    SequenceOwnership(QualifiedName),
    Table(QualifiedName),
    Column {
        table: QualifiedName,
        column: Ident,
    },
    Index {
        table: QualifiedName,
        name: Ident,
    },
    Constraint {
        table: QualifiedName,
        name: Ident,
    },
    /// The unique index built concurrently ahead of a new primary key or unique constraint
    /// of the same name.
    KeyIndex {
        table: QualifiedName,
        name: Ident,
    },
    /// The `VALIDATE CONSTRAINT` that follows a constraint added `NOT VALID`.
    Validation {
        table: QualifiedName,
        name: Ident,
    },
    RowLevelSecurity(QualifiedName),
    /// `ALTER INDEX index ATTACH PARTITION partition_index`: a partition's index becoming
    /// part of its partitioned table's index (both schema-qualified).
    IndexAttachment {
        index: QualifiedName,
        partition_index: QualifiedName,
    },
    /// An index left INVALID by a failed concurrent build (schema-qualified, as index names
    /// are unique per schema).
    InvalidIndex(QualifiedName),
    View(QualifiedName),
    MaterializedView(QualifiedName),
    /// A function, procedure or aggregate is identified by its name and argument types.
    Function {
        name: QualifiedName,
        args: Vec<String>,
    },
    Procedure {
        name: QualifiedName,
        args: Vec<String>,
    },
    Aggregate {
        name: QualifiedName,
        args: Vec<String>,
    },
    Trigger {
        table: QualifiedName,
        name: Ident,
    },
    Policy {
        table: QualifiedName,
        name: Ident,
    },
    /// One privilege of one grantee on an object (a schema, table, column, sequence, type or
    /// routine), whoever granted it.
    Grant {
        on: Box<ObjectId>,
        grantee: Grantee,
        privilege: Privilege,
    },
    /// One privilege `ALTER DEFAULT PRIVILEGES FOR ROLE role IN SCHEMA schema` gives `grantee`
    /// on the objects of a kind `role` creates there later.
    DefaultPrivilege {
        role: Ident,
        schema: Ident,
        on: Securable,
        grantee: Grantee,
        privilege: Privilege,
    },
    /// Who owns an object.
    Owner(Box<ObjectId>),
    /// The comment (`COMMENT ON`) of an object.
    Comment(Box<ObjectId>),
}

impl ObjectId {
    pub fn column(table: &QualifiedName, column: &Ident) -> Self {
        ObjectId::Column {
            table: table.clone(),
            column: column.clone(),
        }
    }

    pub fn index(table: &QualifiedName, name: &Ident) -> Self {
        ObjectId::Index {
            table: table.clone(),
            name: name.clone(),
        }
    }

    pub fn constraint(table: &QualifiedName, name: &Ident) -> Self {
        ObjectId::Constraint {
            table: table.clone(),
            name: name.clone(),
        }
    }

    /// What kind of object it is, in the words its name starts with (`materialized view`).
    pub fn kind(&self) -> &'static str {
        match self {
            ObjectId::Schema(_) => "schema",
            ObjectId::Extension(_) => "extension",
            ObjectId::Type(_) => "type",
            ObjectId::Domain(_) => "domain",
            ObjectId::EnumValue { .. } => "value",
            ObjectId::Sequence(_) => "sequence",
            ObjectId::SequenceOwnership(_) => "ownership",
            ObjectId::Table(_) => "table",
            ObjectId::Column { .. } => "column",
            ObjectId::Index { .. } | ObjectId::KeyIndex { .. } => "index",
            ObjectId::Constraint { .. } => "constraint",
            ObjectId::Validation { .. } => "validation",
            ObjectId::RowLevelSecurity(_) => "row-level security",
            ObjectId::IndexAttachment { .. } => "attachment",
            ObjectId::InvalidIndex(_) => "invalid index",
            ObjectId::View(_) => "view",
            ObjectId::MaterializedView(_) => "materialized view",
            ObjectId::Function { .. } => "function",
            ObjectId::Procedure { .. } => "procedure",
            ObjectId::Aggregate { .. } => "aggregate",
            ObjectId::Trigger { .. } => "trigger",
            ObjectId::Policy { .. } => "policy",
            ObjectId::Grant { .. } => "grant",
            ObjectId::DefaultPrivilege { .. } => "default privilege",
            ObjectId::Owner(_) => "owner",
            ObjectId::Comment(_) => "comment",
        }
    }

    /// Whether this object is `other` or one of its parts: a table's columns, constraints,
    /// indexes, ...; the key index and the validation of a constraint.
    pub fn within(&self, other: &ObjectId) -> bool {
        if self == other {
            return true;
        }
        match (self, other) {
            (_, ObjectId::Table(table)) => self.table() == Some(table),
            (
                ObjectId::KeyIndex { table, name } | ObjectId::Validation { table, name },
                ObjectId::Constraint { table: t, name: n },
            ) => table == t && name == n,
            _ => false,
        }
    }

    /// The table (or view) the object belongs to, if it is part of one.
    pub fn table(&self) -> Option<&QualifiedName> {
        match self {
            ObjectId::Table(t) | ObjectId::RowLevelSecurity(t) => Some(t),
            ObjectId::Column { table, .. }
            | ObjectId::Index { table, .. }
            | ObjectId::Constraint { table, .. }
            | ObjectId::KeyIndex { table, .. }
            | ObjectId::Validation { table, .. }
            | ObjectId::Trigger { table, .. }
            | ObjectId::Policy { table, .. } => Some(table),
            ObjectId::Grant { on, .. } | ObjectId::Owner(on) => on.table(),
            ObjectId::Comment(object) => object.table(),
            _ => None,
        }
    }

    /// The schema-qualified object this one is or belongs to (a column's table, a view, a
    /// function's name): what `ignore_objects` patterns are matched against.
    pub fn owner_name(&self) -> Option<&QualifiedName> {
        match self {
            ObjectId::Type(n)
            | ObjectId::Domain(n)
            | ObjectId::EnumValue { type_name: n, .. }
            | ObjectId::Sequence(n)
            | ObjectId::SequenceOwnership(n)
            | ObjectId::InvalidIndex(n)
            | ObjectId::View(n)
            | ObjectId::MaterializedView(n)
            | ObjectId::Function { name: n, .. }
            | ObjectId::Procedure { name: n, .. }
            | ObjectId::Aggregate { name: n, .. } => Some(n),
            // A privilege, owner or comment of a view or routine goes with it (a table's are
            // found by `table()` too).
            ObjectId::Grant { on, .. } | ObjectId::Owner(on) | ObjectId::Comment(on) => {
                on.owner_name()
            }
            other => other.table(),
        }
    }

    /// The schema the object lives in (an extension: none of its own).
    pub fn schema(&self) -> Option<&Ident> {
        match self {
            ObjectId::Schema(s) => Some(s),
            ObjectId::Extension(_) => None,
            ObjectId::Type(n)
            | ObjectId::Domain(n)
            | ObjectId::EnumValue { type_name: n, .. }
            | ObjectId::Sequence(n)
            | ObjectId::SequenceOwnership(n)
            | ObjectId::InvalidIndex(n)
            | ObjectId::IndexAttachment { index: n, .. }
            | ObjectId::View(n)
            | ObjectId::MaterializedView(n)
            | ObjectId::Function { name: n, .. }
            | ObjectId::Procedure { name: n, .. }
            | ObjectId::Aggregate { name: n, .. } => Some(&n.schema),
            ObjectId::Grant { on, .. } | ObjectId::Owner(on) => on.schema(),
            ObjectId::DefaultPrivilege { schema, .. } => Some(schema),
            ObjectId::Comment(object) => object.schema(),
            other => other.table().map(|t| &t.schema),
        }
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, name: &QualifiedName, args: &[String]) -> fmt::Result {
    write!(f, "{name}({})", args.join(", "))
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |i: &Ident| quote_ident(i.as_str());
        match self {
            ObjectId::Schema(s) => write!(f, "schema {}", q(s)),
            ObjectId::Extension(e) => write!(f, "extension {}", q(e)),
            ObjectId::Type(n) => write!(f, "type {n}"),
            ObjectId::Domain(n) => write!(f, "domain {n}"),
            ObjectId::EnumValue { type_name, value } => {
                write!(f, "value {} of type {type_name}", quote_literal(value))
            }
            ObjectId::Sequence(n) => write!(f, "sequence {n}"),
            ObjectId::SequenceOwnership(n) => write!(f, "ownership of sequence {n}"),
            ObjectId::Table(n) => write!(f, "table {n}"),
            ObjectId::Column { table, column } => write!(f, "column {table}.{}", q(column)),
            ObjectId::Index { table, name } => write!(f, "index {} on {table}", q(name)),
            ObjectId::Constraint { table, name } => {
                write!(f, "constraint {} on {table}", q(name))
            }
            ObjectId::KeyIndex { table, name } => write!(
                f,
                "index {} on {table} (for constraint {} on {table})",
                q(name),
                q(name)
            ),
            ObjectId::Validation { table, name } => {
                write!(f, "validation of constraint {} on {table}", q(name))
            }
            ObjectId::RowLevelSecurity(n) => write!(f, "row-level security on {n}"),
            ObjectId::IndexAttachment {
                index,
                partition_index,
            } => write!(f, "attachment of index {partition_index} to {index}"),
            ObjectId::InvalidIndex(n) => write!(f, "invalid index {n}"),
            ObjectId::View(n) => write!(f, "view {n}"),
            ObjectId::MaterializedView(n) => write!(f, "materialized view {n}"),
            ObjectId::Function { name, args } => {
                f.write_str("function ")?;
                write_args(f, name, args)
            }
            ObjectId::Procedure { name, args } => {
                f.write_str("procedure ")?;
                write_args(f, name, args)
            }
            ObjectId::Aggregate { name, args } => {
                f.write_str("aggregate ")?;
                write_args(f, name, args)
            }
            ObjectId::Trigger { table, name } => write!(f, "trigger {} on {table}", q(name)),
            ObjectId::Policy { table, name } => write!(f, "policy {} on {table}", q(name)),
            // The object goes last: a routine's name runs to the end of the text.
            ObjectId::Grant {
                on,
                grantee,
                privilege,
            } => write!(f, "grant {privilege} to {grantee} on {on}"),
            ObjectId::DefaultPrivilege {
                role,
                schema,
                on,
                grantee,
                privilege,
            } => write!(
                f,
                "default privilege {privilege} to {grantee} on {} in schema {} for role {}",
                on.plural(),
                q(schema),
                q(role)
            ),
            ObjectId::Owner(on) => write!(f, "owner of {on}"),
            ObjectId::Comment(object) => write!(f, "comment on {object}"),
        }
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Text that is not an object's name as reconcile prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an object name reconcile writes: {0:?}")]
pub struct ParseObjectIdError(String);

impl FromStr for ObjectId {
    type Err = ParseObjectIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || ParseObjectIdError(text.to_owned());
        let mut c = Cursor { rest: text };
        let id = parse(&mut c).ok_or_else(fail)?;
        if c.rest.is_empty() {
            Ok(id)
        } else {
            Err(fail())
        }
    }
}

fn parse(c: &mut Cursor<'_>) -> Option<ObjectId> {
    if c.eat("schema ") {
        return Some(ObjectId::Schema(c.ident()?));
    }
    if c.eat("extension ") {
        return Some(ObjectId::Extension(c.ident()?));
    }
    if c.eat("type ") {
        return Some(ObjectId::Type(c.qualified()?));
    }
    if c.eat("domain ") {
        return Some(ObjectId::Domain(c.qualified()?));
    }
    if c.eat("value ") {
        let value = c.literal()?;
        c.expect(" of type ")?;
        return Some(ObjectId::EnumValue {
            type_name: c.qualified()?,
            value,
        });
    }
    if c.eat("sequence ") {
        return Some(ObjectId::Sequence(c.qualified()?));
    }
    if c.eat("ownership of sequence ") {
        return Some(ObjectId::SequenceOwnership(c.qualified()?));
    }
    if c.eat("table ") {
        return Some(ObjectId::Table(c.qualified()?));
    }
    if c.eat("column ") {
        let table = c.qualified()?;
        c.expect(".")?;
        let column = c.ident()?;
        return Some(ObjectId::Column { table, column });
    }
    if c.eat("index ") {
        let (name, table) = c.member()?;
        if c.eat(" (for constraint ") {
            let (again, on) = c.member()?;
            c.expect(")")?;
            return (again == name && on == table).then_some(ObjectId::KeyIndex { table, name });
        }
        return Some(ObjectId::Index { table, name });
    }
    if c.eat("constraint ") {
        let (name, table) = c.member()?;
        return Some(ObjectId::Constraint { table, name });
    }
    if c.eat("validation of constraint ") {
        let (name, table) = c.member()?;
        return Some(ObjectId::Validation { table, name });
    }
    if c.eat("row-level security on ") {
        return Some(ObjectId::RowLevelSecurity(c.qualified()?));
    }
    if c.eat("attachment of index ") {
        let partition_index = c.qualified()?;
        c.expect(" to ")?;
        let index = c.qualified()?;
        return Some(ObjectId::IndexAttachment {
            index,
            partition_index,
        });
    }
    if c.eat("invalid index ") {
        return Some(ObjectId::InvalidIndex(c.qualified()?));
    }
    if c.eat("view ") {
        return Some(ObjectId::View(c.qualified()?));
    }
    if c.eat("materialized view ") {
        return Some(ObjectId::MaterializedView(c.qualified()?));
    }
    if c.eat("function ") {
        let (name, args) = c.routine()?;
        return Some(ObjectId::Function { name, args });
    }
    if c.eat("procedure ") {
        let (name, args) = c.routine()?;
        return Some(ObjectId::Procedure { name, args });
    }
    if c.eat("aggregate ") {
        let (name, args) = c.routine()?;
        return Some(ObjectId::Aggregate { name, args });
    }
    if c.eat("trigger ") {
        let (name, table) = c.member()?;
        return Some(ObjectId::Trigger { table, name });
    }
    if c.eat("policy ") {
        let (name, table) = c.member()?;
        return Some(ObjectId::Policy { table, name });
    }
    if c.eat("grant ") {
        let privilege = c.privilege()?;
        c.expect(" to ")?;
        let grantee = c.grantee()?;
        c.expect(" on ")?;
        let on = Box::new(parse(c)?);
        return Some(ObjectId::Grant {
            on,
            grantee,
            privilege,
        });
    }
    if c.eat("default privilege ") {
        let privilege = c.privilege()?;
        c.expect(" to ")?;
        let grantee = c.grantee()?;
        c.expect(" on ")?;
        let on = [
            Securable::Table,
            Securable::Sequence,
            Securable::Function,
            Securable::Type,
            Securable::Schema,
        ]
        .into_iter()
        .find(|s| c.eat(s.plural()))?;
        c.expect(" in schema ")?;
        let schema = c.ident()?;
        c.expect(" for role ")?;
        let role = c.ident()?;
        return Some(ObjectId::DefaultPrivilege {
            role,
            schema,
            on,
            grantee,
            privilege,
        });
    }
    if c.eat("owner of ") {
        return Some(ObjectId::Owner(Box::new(parse(c)?)));
    }
    if c.eat("comment on ") {
        return Some(ObjectId::Comment(Box::new(parse(c)?)));
    }
    None
}

/// Reads the pieces of an object name from the front of the text.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, prefix: &str) -> Option<()> {
        self.eat(prefix).then_some(())
    }

    /// A name as `quote_ident` writes it: plain, or in double quotes with `""` for `"`.
    fn ident(&mut self) -> Option<Ident> {
        if let Some(rest) = self.rest.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = rest.char_indices();
            while let Some((i, ch)) = chars.next() {
                if ch != '"' {
                    name.push(ch);
                    continue;
                }
                if rest[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                    continue;
                }
                self.rest = &rest[i + 1..];
                return Ident::new(name).ok();
            }
            return None;
        }
        let end = self
            .rest
            .find(|ch: char| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'))
            .unwrap_or(self.rest.len());
        let name = &self.rest[..end];
        if name.is_empty() || name.starts_with(|ch: char| ch.is_ascii_digit()) {
            return None;
        }
        self.rest = &self.rest[end..];
        Ident::new(name).ok()
    }

    /// `SELECT`, `EXECUTE`, ...
    fn privilege(&mut self) -> Option<Privilege> {
        let end = self
            .rest
            .find(|ch: char| !ch.is_ascii_uppercase())
            .unwrap_or(self.rest.len());
        let privilege = Privilege::from_sql(&self.rest[..end])?;
        self.rest = &self.rest[end..];
        Some(privilege)
    }

    /// `PUBLIC` or a role's name as `quote_ident` writes it.
    fn grantee(&mut self) -> Option<Grantee> {
        if self.rest.starts_with("PUBLIC")
            && !self.rest["PUBLIC".len()..].starts_with(|ch: char| ch.is_ascii_alphanumeric())
        {
            self.rest = &self.rest["PUBLIC".len()..];
            return Some(Grantee::Public);
        }
        self.ident().map(Grantee::Role)
    }

    fn qualified(&mut self) -> Option<QualifiedName> {
        let schema = self.ident()?;
        self.expect(".")?;
        Some(QualifiedName::new(schema, self.ident()?))
    }

    /// `NAME on SCHEMA.TABLE`.
    fn member(&mut self) -> Option<(Ident, QualifiedName)> {
        let name = self.ident()?;
        self.expect(" on ")?;
        Some((name, self.qualified()?))
    }

    /// A literal as `quote_literal` writes it: `'...'` or `E'...'` (backslashes doubled).
    fn literal(&mut self) -> Option<String> {
        let escaped = self.eat("E");
        let rest = self.rest.strip_prefix('\'')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '\'' if rest[i + 1..].starts_with('\'') => {
                    value.push('\'');
                    chars.next();
                }
                '\'' => {
                    self.rest = &rest[i + 1..];
                    return Some(value);
                }
                '\\' if escaped => {
                    let (_, next) = chars.next()?;
                    value.push(next);
                }
                other => value.push(other),
            }
        }
        None
    }

    /// `SCHEMA.NAME(TYPE, TYPE)`: argument types are split at top-level commas.
    fn routine(&mut self) -> Option<(QualifiedName, Vec<String>)> {
        let name = self.qualified()?;
        let inner = self.rest.strip_prefix('(')?.strip_suffix(')')?;
        self.rest = "";
        let mut args = Vec::new();
        let (mut depth, mut quoted, mut start) = (0i32, false, 0);
        for (i, ch) in inner.char_indices() {
            match ch {
                '"' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth -= 1,
                ',' if !quoted && depth == 0 => {
                    args.push(inner[start..i].trim().to_owned());
                    start = i + 1;
                }
                _ => {}
            }
        }
        if !inner.trim().is_empty() {
            args.push(inner[start..].trim().to_owned());
        }
        Some((name, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ident(name: &str) -> Ident {
        Ident::new(name).unwrap()
    }

    fn qn(schema: &str, name: &str) -> QualifiedName {
        QualifiedName::new(ident(schema), ident(name))
    }

    #[test]
    fn prints_the_names_plans_have_always_shown() {
        let t = qn("public", "leads");
        let cases = [
            (ObjectId::Table(t.clone()), "table public.leads"),
            (
                ObjectId::column(&t, &ident("Email")),
                "column public.leads.\"Email\"",
            ),
            (
                ObjectId::index(&t, &ident("leads_email_idx")),
                "index leads_email_idx on public.leads",
            ),
            (
                ObjectId::KeyIndex {
                    table: t.clone(),
                    name: ident("leads_pkey"),
                },
                "index leads_pkey on public.leads (for constraint leads_pkey on public.leads)",
            ),
            (
                ObjectId::Validation {
                    table: t.clone(),
                    name: ident("fk"),
                },
                "validation of constraint fk on public.leads",
            ),
            (
                ObjectId::EnumValue {
                    type_name: qn("public", "status"),
                    value: "it's".into(),
                },
                "value 'it''s' of type public.status",
            ),
            (
                ObjectId::SequenceOwnership(qn("app", "s")),
                "ownership of sequence app.s",
            ),
            (
                ObjectId::IndexAttachment {
                    index: qn("public", "events_at_idx"),
                    partition_index: qn("public", "events_2026_at_idx"),
                },
                "attachment of index public.events_2026_at_idx to public.events_at_idx",
            ),
            (
                ObjectId::Function {
                    name: qn("public", "f"),
                    args: vec!["integer".into(), "text".into()],
                },
                "function public.f(integer, text)",
            ),
            (
                ObjectId::Grant {
                    on: Box::new(ObjectId::Function {
                        name: qn("public", "f"),
                        args: vec!["integer".into()],
                    }),
                    grantee: Grantee::Public,
                    privilege: Privilege::Execute,
                },
                "grant EXECUTE to PUBLIC on function public.f(integer)",
            ),
            (
                ObjectId::Grant {
                    on: Box::new(ObjectId::column(&t, &ident("email"))),
                    grantee: Grantee::Role(ident("PUBLIC")),
                    privilege: Privilege::Update,
                },
                "grant UPDATE to \"PUBLIC\" on column public.leads.email",
            ),
            (
                ObjectId::DefaultPrivilege {
                    role: ident("postgres"),
                    schema: ident("public"),
                    on: Securable::Table,
                    grantee: Grantee::Role(ident("anon")),
                    privilege: Privilege::Select,
                },
                "default privilege SELECT to anon on tables in schema public for role postgres",
            ),
            (
                ObjectId::Owner(Box::new(ObjectId::Schema(ident("app")))),
                "owner of schema app",
            ),
            (
                ObjectId::Comment(Box::new(ObjectId::column(&t, &ident("Email")))),
                "comment on column public.leads.\"Email\"",
            ),
            (
                ObjectId::Comment(Box::new(ObjectId::Function {
                    name: qn("public", "f"),
                    args: vec!["integer".into()],
                })),
                "comment on function public.f(integer)",
            ),
            (
                ObjectId::Comment(Box::new(ObjectId::Schema(ident("app")))),
                "comment on schema app",
            ),
        ];
        for (id, text) in cases {
            assert!(text.starts_with(&format!("{} ", id.kind())), "{text}");
            assert_eq!(id.to_string(), text);
            assert_eq!(text.parse::<ObjectId>(), Ok(id));
        }
    }

    #[test]
    fn text_that_is_no_object_name_is_refused() {
        for text in [
            "",
            "table",
            "table leads",
            "index i on public.t trailing",
            "column public.t",
            "value 'unterminated of type public.t",
            "index a on public.t (for constraint b on public.t)",
            "grant SELEC to anon on table public.t",
            "grant SELECT to on table public.t",
            "grant SELECT to anon on nothing",
            "owner of",
            "default privilege SELECT to anon on views in schema public for role r",
            "comment on",
            "comment on nothing",
        ] {
            assert!(text.parse::<ObjectId>().is_err(), "{text:?} parsed");
        }
    }

    fn any_ident() -> impl Strategy<Value = Ident> {
        prop_oneof![
            "[a-z_][a-z0-9_]{0,8}",
            "[ -~]{1,12}",
            Just("on".to_owned()),
            Just("a on public.b".to_owned()),
            Just("x\"y".to_owned()),
            Just("select".to_owned()),
        ]
        .prop_map(|s| Ident::new(s).unwrap())
    }

    fn any_name() -> impl Strategy<Value = QualifiedName> {
        (any_ident(), any_ident()).prop_map(|(s, n)| QualifiedName::new(s, n))
    }

    fn any_grantee() -> impl Strategy<Value = Grantee> {
        prop_oneof![
            Just(Grantee::Public),
            Just(Grantee::Role(Ident::new("PUBLIC").unwrap())),
            Just(Grantee::Role(Ident::new("public x").unwrap())),
            any_ident().prop_map(Grantee::Role),
        ]
    }

    fn any_privilege() -> impl Strategy<Value = Privilege> {
        proptest::sample::select(Privilege::ALL.to_vec())
    }

    /// Any object, and comments on any object.
    fn any_id() -> impl Strategy<Value = ObjectId> {
        let leaf = any_plain_id();
        prop_oneof![
            4 => leaf.clone(),
            1 => (leaf.clone(), any_grantee(), any_privilege()).prop_map(|(on, grantee, privilege)| {
                ObjectId::Grant { on: Box::new(on), grantee, privilege }
            }),
            1 => leaf.prop_map(|on| ObjectId::Owner(Box::new(on))),
            1 => (
                any_ident(),
                any_ident(),
                proptest::sample::select(vec![
                    Securable::Table,
                    Securable::Sequence,
                    Securable::Function,
                    Securable::Type,
                    Securable::Schema,
                ]),
                any_grantee(),
                any_privilege(),
            )
                .prop_map(|(role, schema, on, grantee, privilege)| {
                    ObjectId::DefaultPrivilege { role, schema, on, grantee, privilege }
                }),
        ]
    }

    fn any_plain_id() -> impl Strategy<Value = ObjectId> + Clone {
        prop_oneof![
            4 => any_object(),
            1 => any_object().prop_map(|object| ObjectId::Comment(Box::new(object))),
        ]
    }

    fn any_object() -> impl Strategy<Value = ObjectId> {
        prop_oneof![
            any_ident().prop_map(ObjectId::Schema),
            any_ident().prop_map(ObjectId::Extension),
            any_name().prop_map(ObjectId::Type),
            any_name().prop_map(ObjectId::Domain),
            (any_name(), "[ -~]{0,10}")
                .prop_map(|(type_name, value)| ObjectId::EnumValue { type_name, value }),
            any_name().prop_map(ObjectId::Sequence),
            any_name().prop_map(ObjectId::SequenceOwnership),
            any_name().prop_map(ObjectId::Table),
            (any_name(), any_ident())
                .prop_map(|(table, column)| ObjectId::Column { table, column }),
            (any_name(), any_ident()).prop_map(|(table, name)| ObjectId::Index { table, name }),
            (any_name(), any_ident())
                .prop_map(|(table, name)| ObjectId::Constraint { table, name }),
            (any_name(), any_ident()).prop_map(|(table, name)| ObjectId::KeyIndex { table, name }),
            (any_name(), any_ident())
                .prop_map(|(table, name)| ObjectId::Validation { table, name }),
            any_name().prop_map(ObjectId::RowLevelSecurity),
            (any_name(), any_name()).prop_map(|(index, partition_index)| {
                ObjectId::IndexAttachment {
                    index,
                    partition_index,
                }
            }),
            any_name().prop_map(ObjectId::InvalidIndex),
            any_name().prop_map(ObjectId::View),
            any_name().prop_map(ObjectId::MaterializedView),
            (
                any_name(),
                proptest::collection::vec("[a-z][a-z ]{0,8}[a-z]|numeric\\(10,2\\)", 0..3)
            )
                .prop_map(|(name, args)| ObjectId::Function { name, args }),
            (any_name(), any_ident()).prop_map(|(table, name)| ObjectId::Trigger { table, name }),
            (any_name(), any_ident()).prop_map(|(table, name)| ObjectId::Policy { table, name }),
        ]
    }

    proptest! {
        #[test]
        fn every_printed_name_reads_back_as_the_same_object(id in any_id()) {
            let text = id.to_string();
            prop_assert_eq!(text.parse::<ObjectId>(), Ok(id), "{}", text);
        }
    }
}
