//! Type names to their `format_type()` spelling, parsed with PostgreSQL's own grammar.

use pg_query::{NodeEnum, ParserOptions, protobuf};

use crate::ident::quote_ident;
use crate::model::SequenceType;

/// Built-in types as `format_type()` prints them (PostgreSQL 15, `pg_catalog`, not arrays).
pub const BUILTIN_TYPES: &[&str] = &[
    "\"char\"",
    "aclitem",
    "bigint",
    "bit",
    "bit varying",
    "boolean",
    "box",
    "bytea",
    "character",
    "character varying",
    "cid",
    "cidr",
    "circle",
    "date",
    "datemultirange",
    "daterange",
    "double precision",
    "gtsvector",
    "inet",
    "int2vector",
    "int4multirange",
    "int4range",
    "int8multirange",
    "int8range",
    "integer",
    "interval",
    "json",
    "jsonb",
    "jsonpath",
    "line",
    "lseg",
    "macaddr",
    "macaddr8",
    "money",
    "name",
    "numeric",
    "nummultirange",
    "numrange",
    "oid",
    "oidvector",
    "path",
    "pg_lsn",
    "pg_snapshot",
    "point",
    "polygon",
    "real",
    "refcursor",
    "regclass",
    "regcollation",
    "regconfig",
    "regdictionary",
    "regnamespace",
    "regoper",
    "regoperator",
    "regproc",
    "regprocedure",
    "regrole",
    "regtype",
    "smallint",
    "text",
    "tid",
    "time with time zone",
    "time without time zone",
    "timestamp with time zone",
    "timestamp without time zone",
    "tsmultirange",
    "tsquery",
    "tsrange",
    "tstzmultirange",
    "tstzrange",
    "tsvector",
    "txid_snapshot",
    "uuid",
    "xid",
    "xid8",
    "xml",
];

/// The names of `pg_catalog`'s types (PostgreSQL 15, relation row types left out):
/// `SELECT typname FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace AND typrelid = 0
/// AND typname NOT LIKE '\_%'`. Only these resolve to a built-in when written as one bare
/// name — `"integer"` is not one (the keyword `integer` means `int4`) — and a user type in
/// `public` named like one is hidden behind it (pg_catalog comes first on the search path), so
/// `format_type` prints it qualified (`public.text`). Sorted, for binary search.
#[rustfmt::skip]
const CATALOG_TYPE_NAMES: &[&str] = &[
    "aclitem", "any", "anyarray", "anycompatible", "anycompatiblearray",
    "anycompatiblemultirange", "anycompatiblenonarray", "anycompatiblerange", "anyelement",
    "anyenum", "anymultirange", "anynonarray", "anyrange", "bit", "bool", "box", "bpchar",
    "bytea", "char", "cid", "cidr", "circle", "cstring", "date", "datemultirange", "daterange",
    "event_trigger", "fdw_handler", "float4", "float8", "gtsvector", "index_am_handler", "inet",
    "int2", "int2vector", "int4", "int4multirange", "int4range", "int8", "int8multirange",
    "int8range", "internal", "interval", "json", "jsonb", "jsonpath", "language_handler",
    "line", "lseg", "macaddr", "macaddr8", "money", "name", "numeric", "nummultirange",
    "numrange", "oid", "oidvector", "path", "pg_brin_bloom_summary",
    "pg_brin_minmax_multi_summary", "pg_ddl_command", "pg_dependencies", "pg_lsn",
    "pg_mcv_list", "pg_ndistinct", "pg_node_tree", "pg_snapshot", "point", "polygon", "record",
    "refcursor", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace",
    "regoper", "regoperator", "regproc", "regprocedure", "regrole", "regtype",
    "table_am_handler", "text", "tid", "time", "timestamp", "timestamptz", "timetz", "trigger",
    "tsm_handler", "tsmultirange", "tsquery", "tsrange", "tstzmultirange", "tstzrange",
    "tsvector", "txid_snapshot", "unknown", "uuid", "varbit", "varchar", "void", "xid", "xid8",
    "xml",
];

/// Whether `name` is the name of a `pg_catalog` type (or of an array type, `_name`; a few
/// pseudo-types have none, which only matters for a user type called `_void` or the like).
fn is_catalog_type_name(name: &str) -> bool {
    let base = name.strip_prefix('_').unwrap_or(name);
    CATALOG_TYPE_NAMES.binary_search(&base).is_ok()
}

/// A user type's name as `format_type` prints it under `search_path = public`: unqualified
/// when it lives in `public` and no `pg_catalog` type of that name hides it, else qualified.
pub fn user_type_text(schema: &str, name: &str) -> String {
    if schema == "public" && !is_catalog_type_name(name) {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    #[error("`{text}` is not a type PostgreSQL can parse: {reason}")]
    Syntax { text: String, reason: String },
    #[error("`{0}`: type modifiers must be integer constants")]
    Modifier(String),
    #[error("`{0}`: %TYPE and SETOF are not column types")]
    NotAColumnType(String),
}

/// A parsed, canonical type: `text` is the `format_type()` spelling; `user_type` names the
/// schema-qualified type when it is not built in (so callers can check it exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSpec {
    pub text: String,
    pub user_type: Option<(Option<String>, String)>,
    pub is_array: bool,
}

/// `serial` and friends are not types but shorthands: an integer type plus an owned sequence.
pub fn serial_kind(text: &str) -> Option<SequenceType> {
    match text.trim().to_ascii_lowercase().as_str() {
        "smallserial" | "serial2" => Some(SequenceType::Smallint),
        "serial" | "serial4" => Some(SequenceType::Integer),
        "bigserial" | "serial8" => Some(SequenceType::Bigint),
        _ => None,
    }
}

/// Canonicalises a type name. Unqualified user types stay unqualified (they resolve through
/// `search_path = public` or the table's schema, which the loader decides).
///
/// Memoised: a schema spells the same few dozen types tens of thousands of times, and each
/// parse is a round trip through libpg_query's protobuf encoding.
pub fn normalise_type(text: &str) -> Result<TypeSpec, TypeError> {
    super::memo::memoised(&TYPES, text, normalise_type_uncached)
}

static TYPES: super::memo::Memo<Result<TypeSpec, TypeError>> = super::memo::Memo::new();

fn normalise_type_uncached(text: &str) -> Result<TypeSpec, TypeError> {
    let syntax = |reason: String| TypeError::Syntax {
        text: text.to_owned(),
        reason,
    };
    // Parsed as the target of a cast so that the grammar's own rules apply (`double
    // precision`, `float(10)`, `char` meaning `character(1)`, `int ARRAY`).
    let sql = format!("SELECT NULL::{text}");
    let tokens = pg_query::scan(&sql).map_err(|e| syntax(e.to_string()))?;
    if tokens.tokens.iter().any(|t| {
        t.token == protobuf::Token::Ascii59 as i32
            || t.token == protobuf::Token::SqlComment as i32
            || t.token == protobuf::Token::CComment as i32
    }) {
        return Err(syntax("a type name cannot contain `;` or comments".into()));
    }
    let parsed =
        pg_query::parse(&sql, ParserOptions::DEFAULT).map_err(|e| syntax(e.to_string()))?;
    let type_name = match parsed.protobuf.stmts.as_slice() {
        [raw] => match raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            Some(NodeEnum::SelectStmt(select)) if select.from_clause.is_empty() => {
                match select.target_list.as_slice() {
                    [target] => match target.node.as_ref() {
                        Some(NodeEnum::ResTarget(res)) => {
                            match res.val.as_ref().and_then(|v| v.node.as_ref()) {
                                Some(NodeEnum::TypeCast(cast)) => cast.type_name.clone(),
                                _ => None,
                            }
                        }
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| syntax("not a single type name".into()))?;
    canonical(text, &type_name)
}

fn canonical(text: &str, t: &protobuf::TypeName) -> Result<TypeSpec, TypeError> {
    if t.setof || t.pct_type {
        return Err(TypeError::NotAColumnType(text.to_owned()));
    }
    let names: Vec<String> = t
        .names
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect();
    let mut mods = Vec::new();
    for m in &t.typmods {
        match &m.node {
            Some(NodeEnum::AConst(c)) => match &c.val {
                Some(protobuf::a_const::Val::Ival(i)) => mods.push(i.ival),
                _ => return Err(TypeError::Modifier(text.to_owned())),
            },
            _ => return Err(TypeError::Modifier(text.to_owned())),
        }
    }
    let is_array = !t.array_bounds.is_empty();
    // The grammar turns keywords (`integer`, `double precision`, `varchar`) into
    // `pg_catalog.<internal name>`; a bare name is a built-in only if `pg_catalog` has a type
    // of that name (a quoted `"integer"` names a user type).
    let mut spec = match names.as_slice() {
        [schema, name] if schema == "pg_catalog" => {
            builtin(name, &mods).unwrap_or_else(|| user_type(None, name, &mods))
        }
        [name] if is_catalog_type_name(name) => {
            builtin(name, &mods).unwrap_or_else(|| user_type(None, name, &mods))
        }
        [name] => user_type(None, name, &mods),
        [schema, name] => user_type(Some(schema), name, &mods),
        _ => {
            return Err(TypeError::Syntax {
                text: text.to_owned(),
                reason: "too many dotted parts".into(),
            });
        }
    };
    if is_array {
        spec.text.push_str("[]");
        spec.is_array = true;
    }
    Ok(spec)
}

fn with_mods(base: &str, mods: &[i32]) -> String {
    if mods.is_empty() {
        base.to_owned()
    } else {
        let list: Vec<String> = mods.iter().map(i32::to_string).collect();
        format!("{base}({})", list.join(","))
    }
}

fn builtin_spec(text: String) -> TypeSpec {
    TypeSpec {
        text,
        user_type: None,
        is_array: false,
    }
}

fn builtin(name: &str, mods: &[i32]) -> Option<TypeSpec> {
    let zoned = |base: &str, zone: &str| match mods.first() {
        Some(p) => format!("{base}({p}) {zone}"),
        None => format!("{base} {zone}"),
    };
    let text = match name {
        "int2" | "smallint" => "smallint".to_owned(),
        "int4" | "int" | "integer" => "integer".to_owned(),
        "int8" | "bigint" => "bigint".to_owned(),
        "float4" | "real" => "real".to_owned(),
        "float8" => "double precision".to_owned(),
        "bool" | "boolean" => "boolean".to_owned(),
        "varchar" => with_mods("character varying", mods),
        "bpchar" if mods.is_empty() => "bpchar".to_owned(),
        "bpchar" => with_mods("character", mods),
        "varbit" => with_mods("bit varying", mods),
        "bit" => with_mods("bit", mods),
        "numeric" | "decimal" => match mods {
            [p] => format!("numeric({p},0)"),
            _ => with_mods("numeric", mods),
        },
        "timestamp" => zoned("timestamp", "without time zone"),
        "timestamptz" => zoned("timestamp", "with time zone"),
        "time" => zoned("time", "without time zone"),
        "timetz" => zoned("time", "with time zone"),
        "interval" => interval(mods)?,
        "char" => "\"char\"".to_owned(),
        other if mods.is_empty() && BUILTIN_TYPES.contains(&other) => other.to_owned(),
        _ => return None,
    };
    Some(builtin_spec(text))
}

/// `interval [fields] [(p)]`: the grammar encodes the fields as a bit mask in the first
/// modifier (`INTERVAL_MASK` in the server's datetime.h), the precision in the second.
fn interval(mods: &[i32]) -> Option<String> {
    const FULL_RANGE: i32 = 0x7FFF;
    const YEAR: i32 = 1 << 2;
    const MONTH: i32 = 1 << 1;
    const DAY: i32 = 1 << 3;
    const HOUR: i32 = 1 << 10;
    const MINUTE: i32 = 1 << 11;
    const SECOND: i32 = 1 << 12;
    let (mask, precision) = match mods {
        [] => (FULL_RANGE, None),
        [mask] => (*mask, None),
        [mask, p] => (*mask, Some(*p)),
        _ => return None,
    };
    let fields = match mask {
        FULL_RANGE => "",
        YEAR => " year",
        MONTH => " month",
        DAY => " day",
        HOUR => " hour",
        MINUTE => " minute",
        SECOND => " second",
        m if m == YEAR | MONTH => " year to month",
        m if m == DAY | HOUR => " day to hour",
        m if m == DAY | HOUR | MINUTE => " day to minute",
        m if m == DAY | HOUR | MINUTE | SECOND => " day to second",
        m if m == HOUR | MINUTE => " hour to minute",
        m if m == HOUR | MINUTE | SECOND => " hour to second",
        m if m == MINUTE | SECOND => " minute to second",
        _ => return None,
    };
    Some(match precision {
        Some(p) if fields.is_empty() => format!("interval({p})"),
        Some(p) => format!("interval{fields}({p})"),
        None => format!("interval{fields}"),
    })
}

fn user_type(schema: Option<&str>, name: &str, mods: &[i32]) -> TypeSpec {
    let base = match schema {
        Some(s) => user_type_text(s, name),
        None => quote_ident(name),
    };
    TypeSpec {
        text: with_mods(&base, mods),
        user_type: Some((schema.map(str::to_owned), name.to_owned())),
        is_array: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(t: &str) -> String {
        normalise_type(t).expect(t).text
    }

    #[test]
    fn aliases_collapse_to_format_type_spelling() {
        let cases = [
            ("int", "integer"),
            ("INT4", "integer"),
            ("integer", "integer"),
            ("int2", "smallint"),
            ("int8", "bigint"),
            ("float", "double precision"),
            ("float(10)", "real"),
            ("float(30)", "double precision"),
            ("float8", "double precision"),
            ("double precision", "double precision"),
            ("real", "real"),
            ("decimal(10,2)", "numeric(10,2)"),
            ("numeric(5)", "numeric(5,0)"),
            ("numeric", "numeric"),
            ("varchar(255)", "character varying(255)"),
            ("CHARACTER VARYING(255)", "character varying(255)"),
            ("varchar", "character varying"),
            ("char", "character(1)"),
            ("char(3)", "character(3)"),
            ("bpchar", "bpchar"),
            ("bool", "boolean"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp(3) with time zone", "timestamp(3) with time zone"),
            ("timestamp", "timestamp without time zone"),
            ("time", "time without time zone"),
            ("timetz(2)", "time(2) with time zone"),
            ("bit", "bit(1)"),
            ("varbit(8)", "bit varying(8)"),
            ("int[]", "integer[]"),
            ("integer[][]", "integer[]"),
            ("int ARRAY", "integer[]"),
            ("text[3]", "text[]"),
            ("jsonb", "jsonb"),
            ("\"char\"", "\"char\""),
            ("public.lead_status", "lead_status"),
            ("Sales.\"Lead Status\"", "sales.\"Lead Status\""),
            ("vector(1536)", "vector(1536)"),
            ("\"text\"", "text"),
            ("\"int4\"", "integer"),
            ("\"varchar\"(3)", "character varying(3)"),
            ("pg_catalog.int4", "integer"),
            // User types: a bare name that is no pg_catalog type, a public one hidden by one.
            ("\"integer\"", "\"integer\""),
            ("\"double precision\"", "\"double precision\""),
            ("\"Integer\"", "\"Integer\""),
            ("public.text", "public.text"),
            ("public.\"integer\"", "\"integer\""),
            ("public.name[]", "public.name[]"),
            ("public._int4", "public._int4"),
        ];
        for (input, want) in cases {
            assert_eq!(n(input), want, "normalising {input}");
        }
    }

    #[test]
    fn catalog_type_names_are_sorted_for_binary_search() {
        assert!(CATALOG_TYPE_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(normalise_type("int; drop table x").is_err());
        assert!(normalise_type("").is_err());
    }
}
