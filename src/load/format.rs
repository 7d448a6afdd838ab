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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectNameSpec {
    /// Default (and `public`, `pg_catalog`): unqualified.
    pub schema: Option<String>,
    pub name: String,
}

/// One desired-state file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The schema of every object in this file (default `public`).
    pub schema: Option<At<String>>,
    #[serde(default)]
    pub extensions: Vec<At<ShortOr<String, ExtensionSpec>>>,
    #[serde(default)]
    pub enums: Entries<Vec<String>>,
    #[serde(default)]
    pub domains: Entries<crate::kinds::domain::DomainSpec>,
    /// Composite types: attribute name → type (or `{type, collation}`).
    #[serde(default)]
    pub composites: Entries<crate::kinds::composite::CompositeSpec>,
    #[serde(default)]
    pub sequences: Entries<crate::kinds::sequence::SequenceSpec>,
    #[serde(default)]
    pub tables: Entries<TableSpec>,
    /// The owner of every table, standalone sequence and type in the schema that `owners:`
    /// does not name (the schema's own owner is `owners: { schema: ... }`).
    pub owner: Option<At<String>>,
    #[serde(default)]
    pub owners: Option<crate::kinds::owner::OwnersSpec>,
    /// Privileges on the schema and the objects in it.
    #[serde(default)]
    pub grants: Option<crate::kinds::grant::GrantsSpec>,
    /// `FOR ROLE` → kind of object → grantee → privileges.
    #[serde(default)]
    pub default_privileges: crate::kinds::default_privilege::DefaultPrivilegesSpec,
    /// Comments by the name of the object as plans print it (`index i on app.t`): for what
    /// has no `comment:` key of its own.
    #[serde(default)]
    pub comments: Entries<At<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionSpec {
    pub name: String,
    pub schema: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Required, except on a partition (which has its parent's columns; it lists only those it
    /// overrides).
    pub columns: Option<Entries<At<ShortOr<String, ColumnSpec>>>>,
    /// `RANGE (col)`, `LIST (col)`, `HASH (col)`: the table is partitioned.
    pub partition_by: Option<At<String>>,
    /// The partitioned table this table is a partition of (`table` or `schema.table`).
    pub partition_of: Option<At<ShortOr<String, TargetSpec>>>,
    /// A partition's bound: `FOR VALUES ...` or `DEFAULT`.
    pub bound: Option<At<String>>,
    pub primary_key: Option<At<ShortOr<Vec<String>, KeySpec>>>,
    #[serde(default)]
    pub unique: Vec<At<ShortOr<Vec<String>, KeySpec>>>,
    #[serde(default)]
    pub checks: Entries<At<ShortOr<String, CheckSpec>>>,
    #[serde(default)]
    pub foreign_keys: Vec<At<ForeignKeySpec>>,
    #[serde(default)]
    pub indexes: Vec<At<IndexSpec>>,
    /// Exclusion constraints by name, as `EXCLUDE USING ...` text.
    #[serde(default)]
    pub exclusions: Entries<At<String>>,
    #[serde(default)]
    pub row_level_security: bool,
    #[serde(default)]
    pub force_row_level_security: bool,
    /// Row-level security policies by name.
    #[serde(default)]
    pub policies: Entries<crate::kinds::policy::PolicySpec>,
    pub comment: Option<At<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Required, except on a partition's column (which has its parent's type).
    #[serde(rename = "type")]
    pub data_type: Option<At<String>>,
    #[serde(default)]
    pub not_null: bool,
    pub default: Option<At<ExprText>>,
    pub identity: Option<At<ShortOr<String, IdentitySpec>>>,
    pub generated: Option<At<String>>,
    pub collation: Option<At<ObjectName>>,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub unique: bool,
    pub references: Option<At<ShortOr<String, ReferenceSpec>>>,
    pub check: Option<At<String>>,
    pub comment: Option<At<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    pub generated: At<String>,
    pub start: Option<i64>,
    pub increment: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub cache: Option<i64>,
    pub cycle: Option<bool>,
}

/// A primary key or unique constraint in its long form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: Option<At<String>>,
    pub columns: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub nulls_not_distinct: bool,
    #[serde(default)]
    pub deferrable: bool,
    #[serde(default)]
    pub initially_deferred: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub expression: At<String>,
    #[serde(default)]
    pub no_inherit: bool,
}

/// Column-level `references:` in its long form (serde's `flatten` would lose both strictness
/// and positions, so the foreign-key options are spelled out in both specs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    pub table: String,
    pub schema: Option<String>,
    pub column: Option<String>,
    pub name: Option<At<String>>,
    pub on_delete: Option<At<String>>,
    pub on_update: Option<At<String>>,
    #[serde(rename = "match")]
    pub match_type: Option<At<String>>,
    #[serde(default)]
    pub deferrable: bool,
    #[serde(default)]
    pub initially_deferred: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeySpec {
    pub columns: Vec<String>,
    pub references: At<ShortOr<String, TargetSpec>>,
    pub name: Option<At<String>>,
    pub on_delete: Option<At<String>>,
    pub on_update: Option<At<String>>,
    #[serde(rename = "match")]
    pub match_type: Option<At<String>>,
    #[serde(default)]
    pub deferrable: bool,
    #[serde(default)]
    pub initially_deferred: bool,
}

/// The long form of a referenced table, for names that contain `.` or parentheses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub table: String,
    pub schema: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    pub name: Option<At<String>>,
    pub columns: Vec<At<ShortOr<String, IndexKeySpec>>>,
    pub using: Option<String>,
    #[serde(default)]
    pub unique: bool,
    #[serde(rename = "where")]
    pub predicate: Option<At<String>>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexKeySpec {
    pub column: Option<String>,
    pub expression: Option<At<String>>,
    pub order: Option<At<String>>,
    pub nulls: Option<At<String>>,
    pub opclass: Option<ObjectName>,
    pub collation: Option<ObjectName>,
}
