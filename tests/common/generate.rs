//! Random schema models for the property tests: the safety property (every planned statement
//! is additive, `tests/suite/safety.rs`) and the round trip without a database
//! (`load(pull(model)) == model`, `tests/suite/roundtrip_property.rs`).
//!
//! The models are *canonical*: what introspection could read from a real catalog — types as
//! `format_type` prints them (a user type of `public` unqualified unless a `pg_catalog` type of
//! that name hides it, everything else schema-qualified), expressions and defaults as
//! `pg_get_expr` prints them, collations and operator classes as the catalog reader quotes
//! them, sequences owned by a column of a table of their own schema, identity options of the
//! column's type. Where a shape's canonical text cannot be promised here, the generator keeps
//! to shapes it can.
//!
//! Everything is drawn as a *plan* of [`Pick`]s (which shrink well) and built into a model by
//! [`build_schema`]; names come from pools of hostile identifiers (quotes, dots, spaces,
//! keywords, upper case, line breaks, 63-byte names, names of built-in types), made unique
//! where PostgreSQL needs them unique by [`Names`].

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use reconcile::ident::{default_object_name, quote_ident};
use reconcile::model::{
    Column, CompositeAttribute, CompositeType, Constraint, ConstraintKind, Domain, EnumType,
    Extension, FkAction, ForeignKey, Ident, Identity, Index, IndexKey, IndexTarget, QualifiedName,
    Schema, Sequence, SequenceOptions, SequenceType, Table,
};

/// Object names: plain, keywords, mixed case, names of built-in types, and names that only
/// survive correct quoting (in SQL and in YAML).
pub const NAMES: &[&str] = &[
    "id",
    "name",
    "status",
    "created_at",
    "Amount",
    "user",
    "order",
    "select",
    "text",
    "integer",
    "with space",
    "with.dot",
    "trailing space ",
    " leading",
    "quote\"d",
    "semi;colon",
    "x'); DROP TABLE t; --",
    "ünïcode",
    "$reconcile$",
    "dollar$sign",
    "back\\slash",
    "yes",
    "123",
    "a: b",
    "line\nbreak",
    "cr\rDROP TABLE t; --",
    "tab\there",
    "null",
    "~",
    "1.5",
    "#x",
    "[x]",
    "{x}",
    "*x",
    "&x",
    "!x",
    "|",
    "'",
    "\"",
    "nan",
    "NaN",
    "inf",
    "Infinity",
    "Off",
    LONG_NAME,
];

/// Exactly 63 bytes, the longest name PostgreSQL keeps.
pub const LONG_NAME: &str = "Long $ünïcödé name of exactly sixty-three bytes, the limit!";

pub const SCHEMAS: &[&str] = &[
    "app",
    "Weird Schema",
    "select",
    "x'); DROP SCHEMA public; --",
    "my.schema",
    "Ünï",
    "yes",
    "trailing ",
    "line\nbreak",
    "my schema",
    "nan",
];

/// A schema no generated model manages: types and tables there are referenced, never
/// declared (a scoped pull of a database whose `auth` is ignored).
pub const EXTERNAL_SCHEMA: &str = "auth";

pub const LABELS: &[&str] = &[
    "a",
    "b",
    "c",
    "New",
    "it's",
    "with space",
    "$reconcile$",
    "'); DROP TABLE t; --",
    "ünï",
    "back\\slash'",
    "line\nbreak",
    "cr\rDROP TABLE t; --",
    "yes",
    "null",
    "",
    "- x",
    "a: b",
    "123",
    "nan",
    "NaN",
    "inf",
];

/// Extensions, and the column type each adds (if any).
pub const EXTENSIONS: &[(&str, Option<&str>)] = &[
    ("pgcrypto", None),
    ("citext", Some("citext")),
    ("hstore", Some("hstore")),
    ("btree_gist", None),
    ("pg_trgm", None),
    ("intarray", Some("query_int")),
    ("uuid-ossp", None),
];

/// Built-in types in their canonical (`format_type`) spellings.
pub const BASE_TYPES: &[&str] = &[
    "integer",
    "bigint",
    "smallint",
    "text",
    "boolean",
    "character varying(20)",
    "character varying",
    "character(1)",
    "numeric(10,2)",
    "numeric",
    "double precision",
    "real",
    "timestamp with time zone",
    "timestamp(3) without time zone",
    "time without time zone",
    "interval",
    "interval day to second(3)",
    "date",
    "uuid",
    "jsonb",
    "json",
    "bytea",
    "\"char\"",
    "bit(8)",
    "bit varying(5)",
    "inet",
    "tsvector",
    "integer[]",
    "text[]",
    "character varying(20)[]",
    "bpchar",
    "numeric(5,0)",
    "timestamp(0) with time zone",
    "time(6) with time zone",
    "bit varying",
    "interval year to month",
    "interval second(0)",
    "interval(2)",
    "double precision[]",
    "\"char\"[]",
    "bigint[]",
    "point",
    "money",
    "xml",
    "tsquery",
    "int4range",
    "tstzmultirange",
];

/// Collations of `pg_catalog` (and `public`): printed unqualified.
const COLLATIONS: &[&str] = &["C", "POSIX", "en_US.utf8", "Coll \"a.b\""];

/// Names of collations and operator classes created in a schema of the model.
const QUALIFIED_NAMES: &[&str] = &["mycoll", "Co ll", "ops.with.dot", "Upper"];

const FK_ACTIONS: [FkAction; 5] = FkAction::ALL;

/// `pg_catalog` type names among the pools' names: a type of `public` with one of these
/// names is hidden by the built-in, so `format_type` prints it qualified.
const CATALOG_TYPE_NAMES: &[&str] = &["name", "text", "date", "json", "uuid", "int4"];

/// A choice among however many candidates there turn out to be (shrinks towards the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick(pub usize);

impl Pick {
    pub fn index(&self, len: usize) -> usize {
        self.0 % len
    }
}

impl Arbitrary for Pick {
    type Parameters = ();
    type Strategy = proptest::strategy::Map<std::ops::Range<usize>, fn(usize) -> Pick>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        (0..1024usize).prop_map(Pick as fn(usize) -> Pick)
    }
}

pub fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap_or_else(|e| panic!("{name:?} is not a valid identifier: {e}"))
}

pub fn choose<T: Copy>(items: &[T], i: &Pick) -> T {
    items[i.index(items.len())]
}

pub fn pick<'a, T>(items: &'a [T], i: &Pick) -> &'a T {
    &items[i.index(items.len())]
}

pub fn nth_key<K: Clone, V>(map: &BTreeMap<K, V>, i: &Pick) -> Option<K> {
    if map.is_empty() {
        None
    } else {
        map.keys().nth(i.index(map.len())).cloned()
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Hands out names that are unique within scopes: a schema's relations and types (one scope
/// here, stricter than PostgreSQL), a table's constraints, a table's columns. A name is taken
/// in every scope it must be unique in; on collision `_2`, `_3`, ... is added, and every name
/// is kept within 63 bytes.
#[derive(Default)]
pub struct Names(BTreeSet<(String, String)>);

impl Names {
    pub fn fresh(&mut self, scope: &str, base: &str) -> Ident {
        self.fresh_in(&[scope], base)
    }

    pub fn fresh_in(&mut self, scopes: &[&str], base: &str) -> Ident {
        let base = clip(base, 63);
        let mut name = base.to_owned();
        let mut n = 1;
        while !self.free(scopes, &name) {
            n += 1;
            name = format!("{}_{n}", clip(base, 55));
        }
        self.take(scopes, &name)
    }

    /// Takes exactly `name` if it is free.
    pub fn claim(&mut self, scope: &str, name: &str) -> Option<Ident> {
        self.claim_in(&[scope], name)
    }

    fn claim_in(&mut self, scopes: &[&str], name: &str) -> Option<Ident> {
        self.free(scopes, name).then(|| self.take(scopes, name))
    }

    fn free(&self, scopes: &[&str], name: &str) -> bool {
        scopes
            .iter()
            .all(|s| !self.0.contains(&((*s).to_owned(), name.to_owned())))
    }

    fn take(&mut self, scopes: &[&str], name: &str) -> Ident {
        for s in scopes {
            self.0.insert(((*s).to_owned(), name.to_owned()));
        }
        ident(name)
    }

    /// `default` when free (with probability one in three, by `pick`), else a fresh name from
    /// the pool: both the shorthand (a default name left out) and the long form get tried.
    fn default_or_fresh(
        &mut self,
        scopes: &[&str],
        default: &str,
        pick: &Pick,
        suffix: &str,
    ) -> Ident {
        if pick.index(3) == 0
            && let Some(name) = self.claim_in(scopes, default)
        {
            return name;
        }
        self.fresh_in(scopes, &format!("{} {suffix}", choose(NAMES, pick)))
    }
}

/// The scope of a table's constraint names.
fn constraint_scope(table: &QualifiedName) -> String {
    format!("constraints of {table}")
}

/// A type as `format_type` prints it under `search_path = public` (independent of the code
/// under test, which has its own list of `pg_catalog` names).
pub fn type_text(name: &QualifiedName) -> String {
    if name.schema.as_str() == "public" && !CATALOG_TYPE_NAMES.contains(&name.name.as_str()) {
        quote_ident(name.name.as_str())
    } else {
        format!(
            "{}.{}",
            quote_ident(name.schema.as_str()),
            quote_ident(name.name.as_str())
        )
    }
}

/// A collation or operator class as the catalog reader prints it.
fn catalog_name(schema: &str, name: &str) -> String {
    if schema == "public" || schema == "pg_catalog" {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

/// A string literal as `pg_get_expr` prints it (standard_conforming_strings on).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `nextval('<sequence>'::regclass)`, as `pg_get_expr` prints a serial's default.
pub fn nextval(sequence: &QualifiedName) -> String {
    let relation = if sequence.schema.as_str() == "public" {
        quote_ident(sequence.name.as_str())
    } else {
        format!(
            "{}.{}",
            quote_ident(sequence.schema.as_str()),
            quote_ident(sequence.name.as_str())
        )
    };
    format!("nextval({}::regclass)", literal(&relation))
}

// ---------------------------------------------------------------------------------------------
// Plans: the random choices, resolved into a model by `build_schema`.

/// Sequence options off their defaults: (increment, min, max, start, cache, cycle).
pub type OptionsPlan = (Pick, Option<Pick>, Option<Pick>, Option<Pick>, bool, bool);

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: Pick,
    pub ty: Pick,
    pub not_null: bool,
    pub default: Option<Pick>,
    /// (always, options off their defaults)
    pub identity: Option<(bool, Option<OptionsPlan>)>,
    pub generated: bool,
    pub collation: Option<Pick>,
    /// A serial: an owned sequence of the column's name and its `nextval` default; with
    /// `false`, the sequence's options are off their defaults (so it is no `serial`).
    pub serial: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct KeyPlan {
    pub column: Pick,
    pub expression: bool,
    pub descending: bool,
    pub nulls_first: bool,
    pub opclass: Option<Pick>,
    pub collation: Option<Pick>,
}

#[derive(Debug, Clone)]
pub struct IndexPlan {
    pub name: Pick,
    pub unique: bool,
    pub method: Pick,
    pub keys: Vec<KeyPlan>,
    pub include: Option<Pick>,
    pub predicate: Option<Pick>,
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone)]
pub enum ConstraintShape {
    /// (columns, include)
    PrimaryKey(Vec<Pick>, Option<Pick>),
    /// (columns, include, nulls not distinct)
    Unique(Vec<Pick>, Option<Pick>, bool),
    /// (column, no inherit)
    Check(Pick, bool),
    /// (target table, on delete, on update, match full)
    ForeignKey(Pick, Pick, Pick, bool),
    /// A foreign key to a table of a schema the model does not manage.
    ExternalForeignKey,
    /// (column, with a predicate)
    Exclusion(Pick, bool),
}

#[derive(Debug, Clone)]
pub struct ConstraintPlan {
    pub name: Pick,
    pub shape: ConstraintShape,
    /// `Some(initially deferred)`
    pub deferrable: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct TablePlan {
    pub name: Pick,
    pub schema: Pick,
    pub columns: Vec<ColumnPlan>,
    pub constraints: Vec<ConstraintPlan>,
    pub indexes: Vec<IndexPlan>,
    pub rls: bool,
    pub force_rls: bool,
}

#[derive(Debug, Clone)]
pub struct DomainPlan {
    pub name: Pick,
    pub schema: Pick,
    pub base: Pick,
    pub default: bool,
    pub not_null: bool,
    pub collation: Option<Pick>,
    pub checks: Vec<(Pick, Pick)>,
}

/// (name, schema, attributes as (name, type, collation))
pub type CompositePlan = (Pick, Pick, Vec<(Pick, Pick, Option<Pick>)>);

/// (name, schema, labels)
pub type EnumPlan = (Pick, Pick, Vec<Pick>);

#[derive(Debug, Clone)]
pub struct SequencePlan {
    pub name: Pick,
    pub schema: Pick,
    pub data_type: Pick,
    pub options: Option<OptionsPlan>,
    /// (table, column): a table of the sequence's schema, if there is one.
    pub owned_by: Option<(Pick, Pick)>,
}

#[derive(Debug, Clone)]
pub struct SchemaPlan {
    /// Whether `public` is part of the model (a scoped pull leaves it out).
    pub public: bool,
    pub schemas: Vec<Pick>,
    pub extensions: Vec<(Pick, Pick)>,
    pub enums: Vec<EnumPlan>,
    pub domains: Vec<DomainPlan>,
    pub composites: Vec<CompositePlan>,
    pub sequences: Vec<SequencePlan>,
    pub tables: Vec<TablePlan>,
}

fn options_plan() -> impl Strategy<Value = OptionsPlan> {
    let p = || any::<Pick>();
    (
        p(),
        proptest::option::of(p()),
        proptest::option::of(p()),
        proptest::option::of(p()),
        any::<bool>(),
        any::<bool>(),
    )
}

fn column_plan() -> impl Strategy<Value = ColumnPlan> {
    (
        any::<Pick>(),
        any::<Pick>(),
        any::<bool>(),
        proptest::option::of(any::<Pick>()),
        proptest::option::weighted(0.15, (any::<bool>(), proptest::option::of(options_plan()))),
        proptest::bool::weighted(0.1),
        proptest::option::weighted(0.15, any::<Pick>()),
        proptest::option::weighted(0.15, proptest::bool::weighted(0.7)),
    )
        .prop_map(
            |(name, ty, not_null, default, identity, generated, collation, serial)| ColumnPlan {
                name,
                ty,
                not_null,
                default,
                identity,
                generated,
                collation,
                serial,
            },
        )
}

fn key_plan() -> impl Strategy<Value = KeyPlan> {
    (
        any::<Pick>(),
        proptest::bool::weighted(0.3),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.2, any::<Pick>()),
        proptest::option::weighted(0.15, any::<Pick>()),
    )
        .prop_map(
            |(column, expression, descending, nulls_first, opclass, collation)| KeyPlan {
                column,
                expression,
                descending,
                nulls_first,
                opclass,
                collation,
            },
        )
}

fn index_plan() -> impl Strategy<Value = IndexPlan> {
    (
        any::<Pick>(),
        any::<bool>(),
        any::<Pick>(),
        prop::collection::vec(key_plan(), 1..4),
        proptest::option::weighted(0.2, any::<Pick>()),
        proptest::option::weighted(0.3, any::<Pick>()),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(name, unique, method, keys, include, predicate, nulls_not_distinct)| IndexPlan {
                name,
                unique,
                method,
                keys,
                include,
                predicate,
                nulls_not_distinct,
            },
        )
}

fn constraint_plan() -> impl Strategy<Value = ConstraintPlan> {
    let columns = || prop::collection::vec(any::<Pick>(), 1..3);
    let include = || proptest::option::weighted(0.2, any::<Pick>());
    let shape = prop_oneof![
        2 => (columns(), include()).prop_map(|(c, i)| ConstraintShape::PrimaryKey(c, i)),
        2 => (columns(), include(), any::<bool>())
            .prop_map(|(c, i, n)| ConstraintShape::Unique(c, i, n)),
        2 => (any::<Pick>(), proptest::bool::weighted(0.1))
            .prop_map(|(c, n)| ConstraintShape::Check(c, n)),
        3 => (any::<Pick>(), any::<Pick>(), any::<Pick>(), any::<bool>())
            .prop_map(|(t, d, u, f)| ConstraintShape::ForeignKey(t, d, u, f)),
        1 => Just(ConstraintShape::ExternalForeignKey),
        1 => (any::<Pick>(), any::<bool>()).prop_map(|(c, p)| ConstraintShape::Exclusion(c, p)),
    ];
    (
        any::<Pick>(),
        shape,
        proptest::option::weighted(0.2, any::<bool>()),
    )
        .prop_map(|(name, shape, deferrable)| ConstraintPlan {
            name,
            shape,
            deferrable,
        })
}

fn table_plan() -> impl Strategy<Value = TablePlan> {
    (
        any::<Pick>(),
        any::<Pick>(),
        prop::collection::vec(column_plan(), 0..6),
        prop::collection::vec(constraint_plan(), 0..4),
        prop::collection::vec(index_plan(), 0..3),
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.15),
    )
        .prop_map(
            |(name, schema, columns, constraints, indexes, rls, force_rls)| TablePlan {
                name,
                schema,
                columns,
                constraints,
                indexes,
                rls,
                force_rls,
            },
        )
}

fn domain_plan() -> impl Strategy<Value = DomainPlan> {
    let p = || any::<Pick>();
    (
        p(),
        p(),
        p(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.3, p()),
        prop::collection::vec((p(), p()), 0..3),
    )
        .prop_map(
            |(name, schema, base, default, not_null, collation, checks)| DomainPlan {
                name,
                schema,
                base,
                default,
                not_null,
                collation,
                checks,
            },
        )
}

fn sequence_plan() -> impl Strategy<Value = SequencePlan> {
    let p = || any::<Pick>();
    (
        p(),
        p(),
        p(),
        proptest::option::weighted(0.5, options_plan()),
        proptest::option::weighted(0.4, (p(), p())),
    )
        .prop_map(
            |(name, schema, data_type, options, owned_by)| SequencePlan {
                name,
                schema,
                data_type,
                options,
                owned_by,
            },
        )
}

pub fn schema_plan() -> impl Strategy<Value = SchemaPlan> {
    let p = || any::<Pick>();
    (
        proptest::bool::weighted(0.85),
        prop::collection::vec(p(), 0..3),
        prop::collection::vec((p(), p()), 0..3),
        prop::collection::vec((p(), p(), prop::collection::vec(p(), 0..5)), 0..3),
        prop::collection::vec(domain_plan(), 0..3),
        prop::collection::vec(
            (
                p(),
                p(),
                prop::collection::vec((p(), p(), proptest::option::weighted(0.2, p())), 0..4),
            ),
            0..3,
        ),
        prop::collection::vec(sequence_plan(), 0..3),
        prop::collection::vec(table_plan(), 1..5),
    )
        .prop_map(
            |(public, schemas, extensions, enums, domains, composites, sequences, tables)| {
                SchemaPlan {
                    public,
                    schemas,
                    extensions,
                    enums,
                    domains,
                    composites,
                    sequences,
                    tables,
                }
            },
        )
}

/// Canonical models.
pub fn schema() -> impl Strategy<Value = Schema> {
    schema_plan().prop_map(|plan| build_schema(&plan))
}

// ---------------------------------------------------------------------------------------------
// Building.

/// What a column type is, for the defaults and options that suit it.
#[derive(Debug, Clone)]
pub enum TypeKind {
    Base(&'static str),
    Enum(Vec<String>),
    /// Domains, composites, row types, extension and external types: no default generated.
    Other,
}

#[derive(Debug, Clone)]
pub struct ColumnType {
    pub text: String,
    pub kind: TypeKind,
}

impl ColumnType {
    fn base(text: &'static str) -> Self {
        ColumnType {
            text: text.to_owned(),
            kind: TypeKind::Base(text),
        }
    }

    fn other(text: String) -> Self {
        ColumnType {
            text,
            kind: TypeKind::Other,
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self.kind, TypeKind::Base("integer" | "bigint" | "smallint"))
    }

    pub fn is_text(&self) -> bool {
        matches!(
            self.kind,
            TypeKind::Base("text" | "character varying(20)" | "character varying")
        )
    }

    /// A default as `pg_get_expr` prints it.
    pub fn default(&self, i: &Pick, sequences: &[QualifiedName]) -> Option<String> {
        Some(match &self.kind {
            TypeKind::Base("integer" | "bigint") if !sequences.is_empty() && i.index(2) == 0 => {
                nextval(pick(sequences, i))
            }
            TypeKind::Base("integer") => choose(&["0", "42", "'-1'::integer"], i).to_owned(),
            TypeKind::Base("bigint" | "smallint") => "0".to_owned(),
            TypeKind::Base("text") => {
                choose(&["'it''s'::text", "'back\\slash'::text", "''::text"], i).to_owned()
            }
            TypeKind::Base("character varying(20)" | "character varying") => {
                "'x'::character varying".to_owned()
            }
            TypeKind::Base("boolean") => choose(&["true", "false"], i).to_owned(),
            TypeKind::Base("numeric(10,2)" | "numeric") => choose(&["0.0", "1.5"], i).to_owned(),
            TypeKind::Base("timestamp with time zone") => {
                choose(&["now()", "CURRENT_TIMESTAMP"], i).to_owned()
            }
            TypeKind::Base("uuid") => "gen_random_uuid()".to_owned(),
            TypeKind::Base("jsonb") => "'{}'::jsonb".to_owned(),
            TypeKind::Base("integer[]") => "'{}'::integer[]".to_owned(),
            TypeKind::Base("text[]") => "ARRAY['a'::text]".to_owned(),
            TypeKind::Enum(labels) if !labels.is_empty() => {
                format!("{}::{}", literal(pick::<String>(labels, i)), self.text)
            }
            _ => return None,
        })
    }
}

/// Sequence options of type `data_type` as `plan` moves them off the defaults; always valid
/// (min < max, start between them).
fn sequence_options(data_type: SequenceType, plan: &Option<OptionsPlan>) -> SequenceOptions {
    let Some((increment, min, max, start, cache, cycle)) = plan else {
        return SequenceOptions::defaults(data_type, 1);
    };
    let increment = choose(&[1, 2, 10, -1, -3], increment);
    let defaults = SequenceOptions::defaults(data_type, increment);
    let mut min_value = min.map_or(defaults.min_value, |m| choose(&[-1000, 0, 5, 100], &m));
    let mut max_value = max.map_or(defaults.max_value, |m| choose(&[200, 1000, 32767], &m));
    if min_value >= max_value {
        min_value = defaults.min_value;
        max_value = defaults.max_value;
    }
    let start = match start {
        None if increment < 0 => max_value,
        None => min_value,
        Some(s) => choose(&[min_value, max_value, min_value / 2 + max_value / 2], s),
    };
    SequenceOptions {
        data_type,
        start,
        increment,
        min_value,
        max_value,
        cache: if *cache { 20 } else { 1 },
        cycle: *cycle,
    }
}

fn sequence_type(text: &str) -> SequenceType {
    SequenceType::from_type(text).unwrap_or(SequenceType::Integer)
}

/// A collation: one of `pg_catalog`, or one of a schema (managed or not).
fn collation(i: &Pick, schemas: &[Ident]) -> String {
    if i.index(3) < 2 {
        catalog_name("pg_catalog", choose(COLLATIONS, i))
    } else {
        let schema = pick(schemas, &Pick(i.0 / 3));
        catalog_name(schema.as_str(), choose(QUALIFIED_NAMES, &Pick(i.0 / 7)))
    }
}

/// The model being built, and what later objects may use of what was built before.
struct Build {
    out: Schema,
    names: Names,
    /// The model's schemas.
    schemas: Vec<Ident>,
    /// And the one it does not manage: collations and operator classes may live in any.
    all_schemas: Vec<Ident>,
    /// Types columns (and domains, composite attributes) may use so far.
    types: Vec<ColumnType>,
    trigram_schema: Option<Ident>,
    sequences: Vec<QualifiedName>,
    tables: Vec<QualifiedName>,
    /// Each table's column names, for the columns foreign keys add.
    columns: Vec<Names>,
}

pub fn build_schema(plan: &SchemaPlan) -> Schema {
    let mut out = Schema::default();
    if plan.public || plan.schemas.is_empty() {
        out.schemas.insert(ident("public"));
    }
    for s in &plan.schemas {
        out.schemas.insert(ident(choose(SCHEMAS, s)));
    }
    let schemas: Vec<Ident> = out.schemas.iter().cloned().collect();
    let mut all_schemas = schemas.clone();
    all_schemas.push(ident(EXTERNAL_SCHEMA));
    let mut types: Vec<ColumnType> = BASE_TYPES.iter().map(|t| ColumnType::base(t)).collect();
    // A type of a schema the model does not describe, as a scoped pull reads it.
    types.push(ColumnType::other(format!("{EXTERNAL_SCHEMA}.factor")));
    if !out.schemas.contains(&ident("public")) {
        // The type of an extension that lives in an unmanaged `public`.
        types.push(ColumnType::other("citext".to_owned()));
    }
    let mut b = Build {
        out,
        names: Names::default(),
        schemas,
        all_schemas,
        types,
        trigram_schema: None,
        sequences: Vec::new(),
        tables: Vec::new(),
        columns: Vec::new(),
    };
    for (name, schema) in &plan.extensions {
        b.extension(name, schema);
    }
    for e in &plan.enums {
        b.enumeration(e);
    }
    for d in &plan.domains {
        b.domain(d);
    }
    for c in &plan.composites {
        b.composite(c);
    }
    for s in &plan.sequences {
        b.sequence(s);
    }
    for t in &plan.tables {
        b.table(t);
    }
    foreign_keys(&mut b.out, plan, &b.tables, &mut b.columns, &mut b.names);
    b.owners(plan);
    b.out
}

impl Build {
    fn qualified(&mut self, schema: &Pick, base: &Pick) -> QualifiedName {
        let schema = pick(&self.schemas, schema).clone();
        let name = self.names.fresh(schema.as_str(), choose(NAMES, base));
        QualifiedName::new(schema, name)
    }

    fn extension(&mut self, name: &Pick, schema: &Pick) {
        let (extension, column_type) = choose(EXTENSIONS, name);
        let schema = pick(&self.schemas, schema).clone();
        if self.out.extensions.contains_key(&ident(extension)) {
            return;
        }
        if let Some(t) = column_type {
            let name = QualifiedName::new(schema.clone(), ident(t));
            self.types.push(ColumnType::other(type_text(&name)));
        }
        if extension == "pg_trgm" {
            self.trigram_schema = Some(schema.clone());
        }
        self.out
            .extensions
            .insert(ident(extension), Extension { schema });
    }

    fn enumeration(&mut self, (name, schema, labels): &EnumPlan) {
        let name = self.qualified(schema, name);
        let mut values: Vec<String> = Vec::new();
        for l in labels {
            let label = choose(LABELS, l).to_string();
            if !values.contains(&label) {
                values.push(label);
            }
        }
        let text = type_text(&name);
        self.types.push(ColumnType::other(format!("{text}[]")));
        self.types.push(ColumnType {
            text,
            kind: TypeKind::Enum(values.clone()),
        });
        self.out.enums.insert(name, EnumType { values });
    }

    fn domain(&mut self, d: &DomainPlan) {
        let name = self.qualified(&d.schema, &d.name);
        // Over any type declared so far.
        let base = pick(&self.types, &d.base).clone();
        let mut checks = BTreeMap::new();
        let mut check_names = Names::default();
        for (check, expression) in &d.checks {
            let expression = if base.is_integer() {
                choose(&["(VALUE > 0)", "(VALUE IS NOT NULL)"], expression)
            } else {
                "(VALUE IS NOT NULL)"
            };
            checks.insert(
                check_names.fresh("", &format!("{} check", choose(NAMES, check))),
                expression.to_owned(),
            );
        }
        let domain = Domain {
            data_type: base.text.clone(),
            default: d.default.then(|| base.default(&d.base, &[])).flatten(),
            not_null: d.not_null,
            collation: d
                .collation
                .filter(|_| base.is_text())
                .map(|c| collation(&c, &self.all_schemas)),
            checks,
        };
        self.types.push(ColumnType::other(type_text(&name)));
        self.out.domains.insert(name, domain);
    }

    fn composite(&mut self, (name, schema, attributes): &CompositePlan) {
        let name = self.qualified(schema, name);
        let mut attribute_names = Names::default();
        let attributes = attributes
            .iter()
            .map(|(a, ty, coll)| {
                let ty = pick(&self.types, ty);
                CompositeAttribute {
                    name: attribute_names.fresh("", choose(NAMES, a)),
                    data_type: ty.text.clone(),
                    collation: coll
                        .filter(|_| ty.is_text())
                        .map(|c| collation(&c, &self.all_schemas)),
                }
            })
            .collect();
        self.types.push(ColumnType::other(type_text(&name)));
        self.out
            .composites
            .insert(name, CompositeType { attributes });
    }

    fn sequence(&mut self, s: &SequencePlan) {
        let name = self.qualified(&s.schema, &s.name);
        let data_type = choose(
            &[
                SequenceType::Bigint,
                SequenceType::Integer,
                SequenceType::Smallint,
            ],
            &s.data_type,
        );
        self.out.sequences.insert(
            name.clone(),
            Sequence {
                options: sequence_options(data_type, &s.options),
                owned_by: None,
            },
        );
        self.sequences.push(name);
    }

    /// A table with everything but its foreign keys (they wait for every primary key).
    fn table(&mut self, t: &TablePlan) {
        let name = self.qualified(&t.schema, &t.name);
        let mut column_names = Names::default();
        let mut table = Table::default();
        let mut column_types = Vec::new();
        for c in &t.columns {
            let ty = pick(&self.types, &c.ty).clone();
            let column = column_names.fresh("", choose(NAMES, &c.name));
            table.columns.push(self.column(&name, column, &ty, c));
            column_types.push(ty);
        }
        if !table.columns.is_empty() {
            constraints(&mut table, &name, t, &column_types, &mut self.names);
            indexes(
                &mut table,
                &name,
                t,
                &column_types,
                &mut self.names,
                &self.all_schemas,
                self.trigram_schema.as_ref(),
            );
        }
        table.row_level_security = t.rls;
        table.force_row_level_security = t.force_rls;
        // A table is a type too (its row type), which later tables' columns may use.
        self.types.push(ColumnType::other(type_text(&name)));
        self.out.tables.insert(name.clone(), table);
        self.tables.push(name);
        self.columns.push(column_names);
    }

    fn column(
        &mut self,
        table: &QualifiedName,
        name: Ident,
        ty: &ColumnType,
        c: &ColumnPlan,
    ) -> Column {
        let mut column = Column::new(name.clone(), ty.text.clone());
        column.not_null = c.not_null;
        let serial_name = default_object_name(table.name.as_str(), Some(name.as_str()), "seq");
        if let (Some(default_options), true) = (c.serial, ty.is_integer())
            && let Some(sequence) = self.names.claim(table.schema.as_str(), &serial_name)
        {
            // What `serial` creates (or, with other options, a sequence owned the same way).
            let sequence = QualifiedName::new(table.schema.clone(), sequence);
            let data_type = sequence_type(&ty.text);
            let options = if default_options {
                SequenceOptions::defaults(data_type, 1)
            } else {
                sequence_options(data_type, &Some((Pick(3), None, None, None, true, false)))
            };
            column.default = Some(nextval(&sequence));
            column.not_null = true;
            let owned_by = Some((table.clone(), name));
            self.out
                .sequences
                .insert(sequence, Sequence { options, owned_by });
        } else if let (Some((always, options)), true) = (&c.identity, ty.is_integer()) {
            column.set_identity(Some(Identity {
                always: *always,
                options: sequence_options(sequence_type(&ty.text), options),
            }));
            column.not_null = true;
        } else if c.generated && ty.is_integer() {
            column.set_generated(Some("(1 + 1)".to_owned()));
        } else if let Some(d) = &c.default {
            column.default = ty.default(d, &self.sequences);
        }
        if let Some(coll) = c.collation.filter(|_| ty.is_text()) {
            column.set_collation(Some(collation(&coll, &self.all_schemas)));
        }
        column
    }

    /// A standalone sequence may be owned by a column of a table of its own schema
    /// (PostgreSQL's rule).
    fn owners(&mut self, plan: &SchemaPlan) {
        for (sequence, name) in plan.sequences.iter().zip(&self.sequences) {
            let Some((t, c)) = &sequence.owned_by else {
                continue;
            };
            let candidates: Vec<&QualifiedName> = self
                .tables
                .iter()
                .filter(|t| t.schema == name.schema && !self.out.tables[*t].columns.is_empty())
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let table = (*pick(&candidates, t)).clone();
            let column = pick(&self.out.tables[&table].columns, c).name.clone();
            if let Some(s) = self.out.sequences.get_mut(name) {
                s.owned_by = Some((table, column));
            }
        }
    }
}

fn constraints(
    table: &mut Table,
    name: &QualifiedName,
    t: &TablePlan,
    column_types: &[ColumnType],
    names: &mut Names,
) {
    let scope = name.schema.as_str().to_owned();
    let table_name = name.name.as_str();
    let column_list: Vec<Ident> = table.columns.iter().map(|c| c.name.clone()).collect();
    let column = |i: &Pick| pick(&column_list, i).clone();
    let quoted = |i: &Pick| column(i).quoted();
    let joined = |columns: &[Ident]| {
        columns
            .iter()
            .map(Ident::as_str)
            .collect::<Vec<_>>()
            .join("_")
    };
    for c in &t.constraints {
        // Deferrable: keys and foreign keys only.
        let mut deferrable = c.deferrable;
        let (kind, default) = match &c.shape {
            ConstraintShape::PrimaryKey(cols, include) => {
                if table.primary_key().is_some() {
                    continue;
                }
                let cols = dedup(cols.iter().map(column));
                let include = include
                    .iter()
                    .map(column)
                    .filter(|c| !cols.contains(c))
                    .collect();
                for c in &mut table.columns {
                    if cols.contains(&c.name) {
                        c.not_null = true;
                    }
                }
                (
                    ConstraintKind::PrimaryKey {
                        columns: cols,
                        include,
                    },
                    default_object_name(table_name, None, "pkey"),
                )
            }
            ConstraintShape::Unique(cols, include, nulls_not_distinct) => {
                let cols = dedup(cols.iter().map(column));
                let include = include
                    .iter()
                    .map(column)
                    .filter(|c| !cols.contains(c))
                    .collect();
                let default = default_object_name(table_name, Some(&joined(&cols)), "key");
                (
                    ConstraintKind::Unique {
                        columns: cols,
                        include,
                        nulls_not_distinct: *nulls_not_distinct,
                    },
                    default,
                )
            }
            ConstraintShape::Check(col, no_inherit) => {
                deferrable = None;
                let i = col.index(column_types.len());
                let expression = if column_types[i].is_integer() {
                    format!("({} > 0)", quoted(col))
                } else {
                    format!("({} IS NOT NULL)", quoted(col))
                };
                (
                    ConstraintKind::Check {
                        expression,
                        no_inherit: *no_inherit,
                    },
                    default_object_name(table_name, Some(column(col).as_str()), "check"),
                )
            }
            ConstraintShape::Exclusion(col, predicate) => {
                deferrable = None;
                let mut definition = format!("EXCLUDE USING btree ({} WITH =)", quoted(col));
                if *predicate {
                    definition.push_str(&format!(" WHERE (({} IS NOT NULL))", quoted(col)));
                }
                (
                    ConstraintKind::Exclusion { definition },
                    default_object_name(table_name, Some(column(col).as_str()), "excl"),
                )
            }
            // Resolved once every table has its primary key.
            ConstraintShape::ForeignKey(..) | ConstraintShape::ExternalForeignKey => continue,
        };
        // Keys and exclusions are relations (their index) as well as constraints of the table;
        // checks are the table's only, so two tables may have checks of the same name.
        let table_scope = constraint_scope(name);
        let scopes: &[&str] = match kind {
            ConstraintKind::Check { .. } => &[&table_scope],
            _ => &[&scope, &table_scope],
        };
        let cname = names.default_or_fresh(scopes, &default, &c.name, "key");
        table.constraints.insert(
            cname,
            Constraint {
                kind,
                deferrable: deferrable.is_some(),
                initially_deferred: deferrable == Some(true),
            },
        );
    }
}

const METHODS: &[&str] = &["btree", "btree", "btree", "hash", "gin", "gist", "brin"];

fn indexes(
    table: &mut Table,
    name: &QualifiedName,
    t: &TablePlan,
    column_types: &[ColumnType],
    names: &mut Names,
    schemas: &[Ident],
    trigram_schema: Option<&Ident>,
) {
    let scope = name.schema.as_str().to_owned();
    let column_list: Vec<Ident> = table.columns.iter().map(|c| c.name.clone()).collect();
    for i in &t.indexes {
        let method = choose(METHODS, &i.method);
        let btree = method == "btree";
        let keys: Vec<IndexKey> = i
            .keys
            .iter()
            .take(if method == "hash" { 1 } else { 3 })
            .map(|k| {
                let position = k.column.index(column_list.len());
                let ty = &column_types[position];
                let c = column_list[position].quoted();
                let target = if k.expression {
                    IndexTarget::Expression(if ty.is_text() {
                        format!("lower({c})")
                    } else {
                        format!("({c} IS NULL)")
                    })
                } else {
                    IndexTarget::Column(column_list[position].clone())
                };
                let text_key = ty.is_text() && matches!(target, IndexTarget::Column(_));
                let opclass = k.opclass.and_then(|o| match (method, o.index(3)) {
                    ("btree", 0) if text_key => Some(
                        if ty.text == "text" {
                            "text_pattern_ops"
                        } else {
                            "varchar_pattern_ops"
                        }
                        .to_owned(),
                    ),
                    ("gin" | "gist", 0) if text_key => trigram_schema.map(|s| {
                        let class = if method == "gin" {
                            "gin_trgm_ops"
                        } else {
                            "gist_trgm_ops"
                        };
                        catalog_name(s.as_str(), class)
                    }),
                    // An operator class of the model's own.
                    (_, 1) => Some(catalog_name(
                        pick(schemas, &Pick(o.0 / 3)).as_str(),
                        choose(QUALIFIED_NAMES, &Pick(o.0 / 5)),
                    )),
                    _ => None,
                });
                IndexKey {
                    target,
                    opclass,
                    collation: k
                        .collation
                        .filter(|_| ty.is_text())
                        .map(|coll| collation(&coll, schemas)),
                    descending: k.descending && btree,
                    nulls_first: k.nulls_first && btree,
                }
            })
            .collect();
        let unique = i.unique && btree;
        let include = match &i.include {
            Some(c) if btree || method == "gist" => {
                let c = pick(&column_list, c).clone();
                let in_keys = keys
                    .iter()
                    .any(|k| matches!(&k.target, IndexTarget::Column(k) if *k == c));
                if in_keys { vec![] } else { vec![c] }
            }
            _ => vec![],
        };
        let parts: Vec<&str> = keys
            .iter()
            .map(|k| match &k.target {
                IndexTarget::Column(c) => c.as_str(),
                IndexTarget::Expression(_) => "expr",
            })
            .collect();
        let default = default_object_name(name.name.as_str(), Some(&parts.join("_")), "idx");
        let index = Index {
            unique,
            method: method.to_owned(),
            keys,
            include,
            predicate: i
                .predicate
                .as_ref()
                .map(|c| format!("({} IS NOT NULL)", pick(&column_list, c).quoted())),
            nulls_not_distinct: i.nulls_not_distinct && unique,
        };
        let iname = names.default_or_fresh(&[&scope], &default, &i.name, "idx");
        table.indexes.insert(iname, index);
    }
}

/// Foreign keys, to a table with a primary key, on new columns of the referenced types; and
/// to a table of a schema the model does not manage.
fn foreign_keys(
    out: &mut Schema,
    plan: &SchemaPlan,
    table_names: &[QualifiedName],
    column_names: &mut [Names],
    names: &mut Names,
) {
    for (position, t) in plan.tables.iter().enumerate() {
        let source = table_names[position].clone();
        if out.tables[&source].columns.is_empty() {
            continue;
        }
        for c in &t.constraints {
            let (target, referenced, on_delete, on_update, match_full) = match &c.shape {
                ConstraintShape::ForeignKey(target, on_delete, on_update, match_full) => {
                    let target = pick(table_names, target).clone();
                    let Some((_, pk)) = out.tables[&target].primary_key() else {
                        continue;
                    };
                    let ConstraintKind::PrimaryKey { columns, .. } = &pk.kind else {
                        continue;
                    };
                    let referenced: Vec<Column> = columns
                        .iter()
                        .filter_map(|c| out.tables[&target].column(c.as_str()).cloned())
                        .collect();
                    (
                        target,
                        referenced,
                        *pick(&FK_ACTIONS, on_delete),
                        *pick(&FK_ACTIONS, on_update),
                        *match_full,
                    )
                }
                ConstraintShape::ExternalForeignKey => (
                    QualifiedName::new(ident(EXTERNAL_SCHEMA), ident("users")),
                    vec![Column::new(ident("id"), "uuid")],
                    FkAction::Cascade,
                    FkAction::NoAction,
                    false,
                ),
                _ => continue,
            };
            let mut columns = Vec::new();
            for r in &referenced {
                let name = column_names[position].fresh("", &format!("{} ref", r.name));
                let mut col = Column::new(name.clone(), r.data_type.clone());
                col.set_collation(r.collation().map(str::to_owned));
                if let Some(table) = out.tables.get_mut(&source) {
                    table.columns.push(col);
                }
                columns.push(name);
            }
            let joined: Vec<&str> = columns.iter().map(Ident::as_str).collect();
            let default =
                default_object_name(source.name.as_str(), Some(&joined.join("_")), "fkey");
            let cname =
                names.default_or_fresh(&[&constraint_scope(&source)], &default, &c.name, "fkey");
            let fk = ForeignKey {
                columns,
                references: target,
                referenced_columns: referenced.iter().map(|c| c.name.clone()).collect(),
                on_delete,
                on_update,
                match_full,
            };
            if let Some(table) = out.tables.get_mut(&source) {
                table.constraints.insert(
                    cname,
                    Constraint {
                        kind: ConstraintKind::ForeignKey(fk),
                        deferrable: c.deferrable.is_some(),
                        initially_deferred: c.deferrable == Some(true),
                    },
                );
            }
        }
    }
}

pub fn dedup(items: impl Iterator<Item = Ident>) -> Vec<Ident> {
    let mut out: Vec<Ident> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}
