//! The desired-state file format, as serde sees it.
//!
//! These types mirror the YAML one to one; they carry source positions ([`At`]) where a
//! later check may need to point at the text. Turning them into the model happens in
//! [`super::resolve`]. Short forms (`email: text`, `primary_key: [id]`) are accepted through
//! [`ShortOr`], which keeps serde's precise error positions (no untagged enums).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A value and where it was written. serde-saphyr's `Spanned` also keeps byte spans and the
/// site of an anchor's definition, which nothing here reads; a parsed file keeps one of these
/// per field until it is resolved, so the smaller form saves ~70 bytes a field.
#[derive(Debug)]
pub struct At<T> {
    pub value: T,
    pub line: u32,
    pub column: u32,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for At<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<T>::deserialize(deserializer)?;
        Ok(At {
            value: spanned.value,
            line: spanned.referenced.line() as u32,
            column: spanned.referenced.column() as u32,
        })
    }
}

/// A YAML mapping kept in source order, with the position of every key.
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(At<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to definitions")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Entries(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<At<String>>()? {
                    out.push((key, map.next_value()?));
                }
                Ok(Entries(out))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// Either the short form `S` (a scalar or a list) or the full mapping `L`.
#[derive(Debug)]
pub enum ShortOr<S, L> {
    Short(S),
    /// Boxed: the long forms carry a source position per field and are several times the
    /// size of the short ones; unboxed, every short entry would pay for the long layout.
    Long(Box<L>),
}

/// What a short form can be built from.
pub trait ShortForm: Sized {
    fn from_scalar(text: String) -> Option<Self>;
    fn from_list(items: Vec<String>) -> Option<Self>;
    const EXPECTING: &'static str;
}

impl ShortForm for String {
    fn from_scalar(text: String) -> Option<Self> {
        Some(text)
    }
    fn from_list(_: Vec<String>) -> Option<Self> {
        None
    }
    const EXPECTING: &'static str = "a string or a mapping";
}

impl ShortForm for Vec<String> {
    fn from_scalar(_: String) -> Option<Self> {
        None
    }
    fn from_list(items: Vec<String>) -> Option<Self> {
        Some(items)
    }
    const EXPECTING: &'static str = "a list of column names or a mapping";
}

impl<'de, S: ShortForm, L: Deserialize<'de>> Deserialize<'de> for ShortOr<S, L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShortVisitor<S, L>(PhantomData<(S, L)>);
        impl<S: ShortForm, L> ShortVisitor<S, L> {
            fn scalar<E: de::Error>(text: String) -> Result<ShortOr<S, L>, E> {
                S::from_scalar(text.clone())
                    .map(ShortOr::Short)
                    .ok_or_else(|| E::invalid_type(de::Unexpected::Str(&text), &S::EXPECTING))
            }
        }
        impl<'de, S: ShortForm, L: Deserialize<'de>> Visitor<'de> for ShortVisitor<S, L> {
            type Value = ShortOr<S, L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(S::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Self::scalar(v.to_owned())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Self::scalar(v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Self::scalar(v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Self::scalar(v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Self::scalar(v.to_string())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                S::from_list(items)
                    .map(ShortOr::Short)
                    .ok_or_else(|| de::Error::invalid_type(de::Unexpected::Seq, &S::EXPECTING))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                L::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|l| ShortOr::Long(Box::new(l)))
            }
        }
        deserializer.deserialize_any(ShortVisitor(PhantomData))
    }
}

/// An expression or literal as written: `0`, `true` and `now()` are all accepted as text.
#[derive(Debug, Clone)]
pub struct ExprText(pub String);

impl<'de> Deserialize<'de> for ExprText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExprVisitor;
        impl Visitor<'_> for ExprVisitor {
            type Value = ExprText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SQL expression (as a string, number or boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ExprText(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(ExprText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ExprText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ExprText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ExprText(v.to_string()))
            }
        }
        deserializer.deserialize_any(ExprVisitor)
    }
}

/// A collation or an operator class: its name, written literally (for an operator class,
/// `schema.name` splits at the first dot), or `{ schema, name }` for a schema-qualified one
/// — a collation name may itself contain a dot (`en_US.utf8`).
pub type ObjectName = ShortOr<String, ObjectNameSpec>;

/// A collation or operator class of another schema, for names that contain a dot.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "QualifiedObjectName")]
pub struct ObjectNameSpec {
    /// Its schema, literally. Default (and `public`, `pg_catalog`): unqualified.
    pub schema: Option<String>,
    /// Its name, literally (dots included).
    pub name: String,
}

/// One desired-state file: the objects of one PostgreSQL schema. Names are written
/// literally, as PostgreSQL stores them (`Upper Case` is the table "Upper Case"); types and
/// expressions are SQL. Format: docs/schema-format.md.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The schema of every object in this file (default `public`).
    #[schemars(length(min = 1))]
    pub schema: Option<At<String>>,
    /// Extensions installed in this file's schema: a name (`pg_trgm`), or `{ name, schema }`
    /// for one installed in another schema.
    #[serde(default)]
    pub extensions: Vec<At<ShortOr<String, ExtensionSpec>>>,
    /// Enum types: name → its labels, in order (`mood: [happy, sad]`).
    #[serde(default)]
    #[schemars(with = "Entries<super::json_schema::EnumLabels>")]
    pub enums: Entries<Vec<String>>,
    /// Domains: name → `{ type, not_null, default, collation, checks }`.
    #[serde(default)]
    pub domains: Entries<crate::kinds::domain::DomainSpec>,
    /// Composite types: name → attribute name → type (or `{ type, collation }`).
    #[serde(default)]
    pub composites: Entries<crate::kinds::composite::CompositeSpec>,
    /// Standalone sequences: name → `{ type, start, increment, min, max, cache, cycle,
    /// owned_by }`. A serial column's sequence is the column's (`type: bigserial`).
    #[serde(default)]
    pub sequences: Entries<crate::kinds::sequence::SequenceSpec>,
    /// Tables: name → table. Partitions are tables with `partition_of` and `bound`.
    #[serde(default)]
    pub tables: Entries<TableSpec>,
    /// The role owning every table, standalone sequence and type of the schema that `owners:`
    /// does not name (the schema's own owner is `owners: { schema: ... }`). Owners are
    /// compared only where the desired state names them.
    pub owner: Option<At<String>>,
    /// Owners other than `owner:`: the schema's own, and per table, sequence or type.
    #[serde(default)]
    pub owners: Option<crate::kinds::owner::OwnersSpec>,
    /// Privileges on the schema and the objects in it: object → grantee → privileges.
    /// A grantee is a role, or `public` for PUBLIC.
    #[serde(default)]
    pub grants: Option<crate::kinds::grant::GrantsSpec>,
    /// `ALTER DEFAULT PRIVILEGES FOR ROLE ... IN SCHEMA`: role → kind of object → grantee →
    /// privileges its future objects in this schema grant.
    #[serde(default)]
    pub default_privileges: crate::kinds::default_privilege::DefaultPrivilegesSpec,
    /// Comments by the name of the object as plans print it (`index i on app.t`,
    /// `constraint c on app.t`, `view app.v`, `function app.f(integer)`): for what has no
    /// `comment:` key of its own.
    #[serde(default)]
    pub comments: Entries<At<String>>,
}

/// An extension installed in another schema than the file's.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Extension")]
pub struct ExtensionSpec {
    /// The extension (`pg_trgm`).
    pub name: String,
    /// The schema it is installed in (default: the file's schema).
    pub schema: Option<String>,
}

/// A table: its columns, keys, checks, indexes, policies. A partition (`partition_of`) has
/// its parent's columns and lists only those it says more about.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Table")]
pub struct TableSpec {
    /// Column name → type (`email: text`, a nullable column) or the long form; the order is
    /// the column order. Required, except on a partition (which has its parent's columns; it
    /// lists only those it overrides).
    pub columns: Option<Entries<At<ShortOr<String, ColumnSpec>>>>,
    /// `RANGE (col)`, `LIST (col)`, `HASH (col)`: the table is partitioned.
    pub partition_by: Option<At<String>>,
    /// The partitioned table this table is a partition of: `events`, `sales.events`, or
    /// `{ table, schema }` for names with dots.
    pub partition_of: Option<At<ShortOr<String, TargetSpec>>>,
    /// A partition's bound: `FOR VALUES FROM (...) TO (...)`, `FOR VALUES IN (...)`,
    /// `FOR VALUES WITH (MODULUS n, REMAINDER r)` or `DEFAULT`.
    pub bound: Option<At<String>>,
    /// The primary key: `[col, ...]` or `{ name, columns, include, deferrable,
    /// initially_deferred }` (or `primary_key: true` on one column).
    #[schemars(with = "Option<ShortOr<super::json_schema::KeyColumns, KeySpec>>")]
    pub primary_key: Option<At<ShortOr<Vec<String>, KeySpec>>>,
    /// Unique constraints: each `[col, ...]` or `{ name, columns, include,
    /// nulls_not_distinct, deferrable, initially_deferred }`.
    #[serde(default)]
    #[schemars(with = "Vec<ShortOr<super::json_schema::KeyColumns, KeySpec>>")]
    pub unique: Vec<At<ShortOr<Vec<String>, KeySpec>>>,
    /// Check constraints: name → expression, or `{ expression, no_inherit }`.
    #[serde(default)]
    pub checks: Entries<At<ShortOr<String, CheckSpec>>>,
    /// Table-level foreign keys (one column's is simpler as its `references:`).
    #[serde(default)]
    pub foreign_keys: Vec<At<ForeignKeySpec>>,
    /// Indexes; without `name`, one is named `<table>_<columns>_idx`.
    #[serde(default)]
    pub indexes: Vec<At<IndexSpec>>,
    /// Exclusion constraints by name, as `EXCLUDE USING ...` text.
    #[serde(default)]
    pub exclusions: Entries<At<String>>,
    /// `true`: row-level security is enabled (after the table's new policies are created).
    #[serde(default)]
    pub row_level_security: bool,
    /// `true`: row-level security applies to the table's owner too.
    #[serde(default)]
    pub force_row_level_security: bool,
    /// Row-level security policies by name.
    #[serde(default)]
    pub policies: Entries<crate::kinds::policy::PolicySpec>,
    /// The table's comment (`COMMENT ON TABLE`).
    pub comment: Option<At<String>>,
}

/// A column's long form (the short form is its type alone: `email: text`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Column")]
// The loader's rule: an identity column has no default, a generated one neither a default
// nor an identity.
#[schemars(extend("not" = { "anyOf": [
    { "required": ["identity", "default"] },
    { "required": ["generated", "default"] },
    { "required": ["generated", "identity"] },
] }))]
pub struct ColumnSpec {
    /// Any PostgreSQL type, as SQL: `int`, `varchar(255)`, `numeric(12,2)`, `timestamptz`,
    /// `text[]`, an enum or domain of the desired state; `serial`/`bigserial`/`smallserial`
    /// create the owned sequence and default. Required, except on a partition's column
    /// (which has its parent's type).
    #[serde(rename = "type")]
    pub data_type: Option<At<String>>,
    /// `true` for NOT NULL (primary-key, identity and serial columns are NOT NULL anyway).
    #[serde(default)]
    pub not_null: bool,
    /// The default, an expression: `now()`, `0`, `"'{}'"` (quote SQL string literals inside
    /// the YAML string).
    pub default: Option<At<ExprText>>,
    /// An identity column: `always`, `by_default`, or `{ generated, start, increment, min,
    /// max, cache, cycle }`.
    #[schemars(with = "Option<ShortOr<super::json_schema::IdentityWord, IdentitySpec>>")]
    pub identity: Option<At<ShortOr<String, IdentitySpec>>>,
    /// The expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub generated: Option<At<String>>,
    /// A collation: its name, literally (`C`, `en_US.utf8`), or `{ schema, name }` for one
    /// of another schema than `public`/`pg_catalog`.
    pub collation: Option<At<ObjectName>>,
    /// `true`: this column is the primary key (`<table>_pkey`).
    #[serde(default)]
    pub primary_key: bool,
    /// `true`: a unique constraint `<table>_<column>_key`.
    #[serde(default)]
    pub unique: bool,
    /// A foreign key of this column: `companies` (its primary key), `companies(id)`,
    /// `sales.companies(id)`, or `{ table, schema, column, on_delete, on_update, match,
    /// name, deferrable, initially_deferred }`.
    pub references: Option<At<ShortOr<String, ReferenceSpec>>>,
    /// A check expression on this column; the constraint is `<table>_<column>_check`.
    pub check: Option<At<String>>,
    /// The column's comment (`COMMENT ON COLUMN`).
    pub comment: Option<At<String>>,
}

/// An identity column's long form: how it is generated and its sequence's options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Identity")]
pub struct IdentitySpec {
    /// `always` (GENERATED ALWAYS) or `by_default` (GENERATED BY DEFAULT).
    #[schemars(with = "super::json_schema::IdentityWord")]
    pub generated: At<String>,
    /// The sequence's first value.
    pub start: Option<i64>,
    /// The step between values (not 0).
    pub increment: Option<i64>,
    /// The smallest value (MINVALUE).
    pub min: Option<i64>,
    /// The largest value (MAXVALUE).
    pub max: Option<i64>,
    /// How many values are allocated at once (CACHE).
    pub cache: Option<i64>,
    /// `true`: wrap around past the limit (CYCLE).
    pub cycle: Option<bool>,
}

/// A primary key or unique constraint in its long form.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Key")]
pub struct KeySpec {
    /// The constraint's name (default `<table>_pkey`, `<table>_<columns>_key`).
    pub name: Option<At<String>>,
    /// Its columns, in order.
    #[schemars(with = "super::json_schema::KeyColumns")]
    pub columns: Vec<String>,
    /// Columns stored in its index but not part of the key (INCLUDE).
    #[serde(default)]
    pub include: Vec<String>,
    /// `true`: NULLS NOT DISTINCT (two NULLs collide).
    #[serde(default)]
    pub nulls_not_distinct: bool,
    /// `true`: DEFERRABLE.
    #[serde(default)]
    pub deferrable: bool,
    /// `true`: INITIALLY DEFERRED (checked at commit).
    #[serde(default)]
    pub initially_deferred: bool,
}

/// A check constraint in its long form.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Check")]
pub struct CheckSpec {
    /// The condition, one SQL expression (`price >= 0`).
    pub expression: At<String>,
    /// `true`: NO INHERIT.
    #[serde(default)]
    pub no_inherit: bool,
}

/// Column-level `references:` in its long form (serde's `flatten` would lose both strictness
/// and positions, so the foreign-key options are spelled out in both specs).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Reference")]
pub struct ReferenceSpec {
    /// The referenced table, literally.
    pub table: String,
    /// Its schema (default: this file's). A table of a schema the desired state does not
    /// describe must name its `column`.
    pub schema: Option<String>,
    /// The referenced column (default: the table's primary key).
    pub column: Option<String>,
    /// The constraint's name (default `<table>_<column>_fkey`).
    pub name: Option<At<String>>,
    /// ON DELETE: `no_action` (default), `restrict`, `cascade`, `set_null`, `set_default`.
    #[schemars(with = "Option<super::json_schema::FkActionWord>")]
    pub on_delete: Option<At<String>>,
    /// ON UPDATE: `no_action` (default), `restrict`, `cascade`, `set_null`, `set_default`.
    #[schemars(with = "Option<super::json_schema::FkActionWord>")]
    pub on_update: Option<At<String>>,
    /// MATCH: `simple` (default) or `full`.
    #[serde(rename = "match")]
    #[schemars(with = "Option<super::json_schema::MatchWord>")]
    pub match_type: Option<At<String>>,
    /// `true`: DEFERRABLE.
    #[serde(default)]
    pub deferrable: bool,
    /// `true`: INITIALLY DEFERRED (checked at commit).
    #[serde(default)]
    pub initially_deferred: bool,
}

/// A table-level foreign key.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ForeignKey")]
pub struct ForeignKeySpec {
    /// The referencing columns of this table, in order.
    pub columns: Vec<String>,
    /// The referenced table and columns: `companies` (its primary key), `companies(id)`,
    /// `sales.companies(id)`, or `{ table, schema, columns }` for names with dots or
    /// parentheses.
    pub references: At<ShortOr<String, TargetSpec>>,
    /// The constraint's name (default `<table>_<columns>_fkey`).
    pub name: Option<At<String>>,
    /// ON DELETE: `no_action` (default), `restrict`, `cascade`, `set_null`, `set_default`.
    #[schemars(with = "Option<super::json_schema::FkActionWord>")]
    pub on_delete: Option<At<String>>,
    /// ON UPDATE: `no_action` (default), `restrict`, `cascade`, `set_null`, `set_default`.
    #[schemars(with = "Option<super::json_schema::FkActionWord>")]
    pub on_update: Option<At<String>>,
    /// MATCH: `simple` (default) or `full`.
    #[serde(rename = "match")]
    #[schemars(with = "Option<super::json_schema::MatchWord>")]
    pub match_type: Option<At<String>>,
    /// `true`: DEFERRABLE.
    #[serde(default)]
    pub deferrable: bool,
    /// `true`: INITIALLY DEFERRED (checked at commit).
    #[serde(default)]
    pub initially_deferred: bool,
}

/// The long form of a referenced table, for names that contain `.` or parentheses.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TableName")]
pub struct TargetSpec {
    /// The table, literally.
    pub table: String,
    /// Its schema (default: this file's).
    pub schema: Option<String>,
    /// For a foreign key, the referenced columns (default: the table's primary key).
    #[serde(default)]
    pub columns: Vec<String>,
}

/// An index of the table.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Index")]
pub struct IndexSpec {
    /// The index's name (default `<table>_<columns>_idx`, expressions counting as `expr`).
    pub name: Option<At<String>>,
    /// Its keys: column names, or `{ column | expression, order, nulls, opclass, collation }`
    /// (an expression needs the long form: `{ expression: "lower(email)" }`).
    #[schemars(length(min = 1))]
    pub columns: Vec<At<ShortOr<String, IndexKeySpec>>>,
    /// The access method: `btree` (default), `gin`, `gist`, `brin`, `hash`, ...
    pub using: Option<String>,
    /// `true`: a unique index.
    #[serde(default)]
    pub unique: bool,
    /// A partial index's predicate, one SQL expression.
    #[serde(rename = "where")]
    pub predicate: Option<At<String>>,
    /// Columns stored in the index but not part of the key (INCLUDE).
    #[serde(default)]
    pub include: Vec<String>,
    /// `true`: NULLS NOT DISTINCT (a unique index where two NULLs collide).
    #[serde(default)]
    pub nulls_not_distinct: bool,
}

/// An index key in its long form: exactly one of `column` and `expression`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "IndexKey")]
#[schemars(extend("oneOf" = [{ "required": ["column"] }, { "required": ["expression"] }]))]
pub struct IndexKeySpec {
    /// A column of the table.
    pub column: Option<String>,
    /// An expression, one SQL expression (`lower(email)`).
    pub expression: Option<At<String>>,
    /// `asc` (default) or `desc`.
    #[schemars(with = "Option<super::json_schema::OrderWord>")]
    pub order: Option<At<String>>,
    /// `first` or `last` (default: `last` ascending, `first` descending).
    #[schemars(with = "Option<super::json_schema::NullsWord>")]
    pub nulls: Option<At<String>>,
    /// An operator class: `name`, `schema.name` (split at the first dot), or `{ schema, name }`.
    pub opclass: Option<ObjectName>,
    /// A collation: its name, literally, or `{ schema, name }`.
    pub collation: Option<ObjectName>,
}
