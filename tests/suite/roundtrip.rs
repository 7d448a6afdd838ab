//! Zero false drift at the edges, against a real PostgreSQL (see `tests/common`):
//!
//! * hostile identifiers (quotes, spaces, SQL injection, reserved words, non-ASCII, dots,
//!   backslashes, 63-byte names) survive introspect → pull → load unchanged;
//! * every built-in type spelling in YAML loads to exactly what `format_type()` prints;
//! * introspection issues a fixed number of catalog queries, whatever the database size;
//! * objects reconcile does not manage yet are skipped (with a reason), never an error;
//! * extension-owned objects stay out of the model;
//! * `Scope` selects and ignores schemas.
//!
//! Fixtures live in `tests/fixtures/roundtrip/`.

use crate::common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::TestDb;
use common::drift::{RoundTrip, round_trip};
use reconcile::introspect::{self, Introspected, Scope};
use reconcile::model::{
    Column, ConstraintKind, FkAction, Ident, IndexTarget, QualifiedName, Schema, Table,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/roundtrip")
        .join(name)
}

/// A double-quoted SQL identifier, written independently of the crate's `quote_ident` so
/// that the test does not trust the code under test.
fn qi(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted SQL literal (standard_conforming_strings = on).
fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap_or_else(|e| panic!("{name:?} is not a valid identifier: {e}"))
}

fn qn(schema: &str, name: &str) -> QualifiedName {
    QualifiedName::new(ident(schema), ident(name))
}

fn run_sql(db: &TestDb, sql: &str) {
    if let Err(e) = db.psql(sql) {
        let shown: String = sql.chars().take(20_000).collect();
        panic!("setting up the database failed: {e}\n--- SQL:\n{shown}");
    }
}

async fn introspect(db: &TestDb, scope: &Scope) -> Introspected {
    let mut conn = db.connect().await;
    introspect::schema(&mut conn, scope)
        .await
        .unwrap_or_else(|e| panic!("introspection failed: {e}"))
}

/// The pulled files, for failure messages.
fn dump(trip: &RoundTrip) -> String {
    trip.files
        .iter()
        .map(|(path, text)| format!("--- {}\n{text}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Introspects, pulls and loads back; panics on any difference.
async fn assert_round_trip(db: &TestDb, scope: &Scope) -> RoundTrip {
    let mut conn = db.connect().await;
    let trip = round_trip(&mut conn, scope)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(diff) = trip.difference() {
        panic!(
            "false drift (live vs pulled-and-loaded):\n{diff}\n{}",
            dump(&trip)
        );
    }
    trip
}

fn table<'a>(schema: &'a Schema, name: &QualifiedName) -> &'a Table {
    schema.tables.get(name).unwrap_or_else(|| {
        let known: Vec<String> = schema.tables.keys().map(ToString::to_string).collect();
        panic!("no table {name}; tables are: {known:?}")
    })
}

fn column_names(table: &Table) -> Vec<&str> {
    table.columns.iter().map(|c| c.name.as_str()).collect()
}

fn idents(names: &[&str]) -> Vec<Ident> {
    names.iter().map(|n| ident(n)).collect()
}

/// Compares two tables field by field and column by column; panics naming what differs.
fn assert_same_table(what: &str, live: &Table, declared: &Table) {
    let mut problems = Vec::new();
    let live_names = column_names(live);
    let declared_names = column_names(declared);
    if live_names != declared_names {
        problems.push(format!(
            "column lists differ:\n  live: {live_names:?}\n  yaml: {declared_names:?}"
        ));
    }
    for declared_column in &declared.columns {
        let Some(live_column) = live.column(declared_column.name.as_str()) else {
            continue;
        };
        if live_column != declared_column {
            problems.push(describe_column(live_column, declared_column));
        }
    }
    if live.constraints != declared.constraints {
        problems.push(format!(
            "constraints differ:\n  live: {:#?}\n  yaml: {:#?}",
            live.constraints, declared.constraints
        ));
    }
    if live.indexes != declared.indexes {
        problems.push(format!(
            "indexes differ:\n  live: {:#?}\n  yaml: {:#?}",
            live.indexes, declared.indexes
        ));
    }
    if (live.row_level_security, live.force_row_level_security)
        != (
            declared.row_level_security,
            declared.force_row_level_security,
        )
    {
        problems.push("row level security flags differ".to_owned());
    }
    assert!(
        problems.is_empty(),
        "{what}: the YAML table differs from the live one:\n{}",
        problems.join("\n")
    );
}

fn describe_column(live: &Column, declared: &Column) -> String {
    let mut out = format!("column {:?}:", live.name.as_str());
    if live.data_type != declared.data_type {
        let _ = write!(
            out,
            " type live `{}` vs yaml `{}`;",
            live.data_type, declared.data_type
        );
    }
    if live.not_null != declared.not_null {
        let _ = write!(
            out,
            " not_null live {} vs yaml {};",
            live.not_null, declared.not_null
        );
    }
    if live.default != declared.default {
        let _ = write!(
            out,
            " default live {:?} vs yaml {:?};",
            live.default, declared.default
        );
    }
    if live.identity() != declared.identity() {
        let _ = write!(
            out,
            " identity live {:?} vs yaml {:?};",
            live.identity(),
            declared.identity()
        );
    }
    if live.generated() != declared.generated() {
        let _ = write!(
            out,
            " generated live {:?} vs yaml {:?};",
            live.generated(),
            declared.generated()
        );
    }
    if live.collation() != declared.collation() {
        let _ = write!(
            out,
            " collation live {:?} vs yaml {:?};",
            live.collation(),
            declared.collation()
        );
    }
    out
}

fn load_yaml(name: &str, text: &str) -> Schema {
    reconcile::load::from_sources(&[(PathBuf::from(name), text.to_owned())])
        .unwrap_or_else(|e| panic!("{name} does not load:\n{e}"))
}

// ---------------------------------------------------------------------------------------
// 1. Hostile identifiers
// ---------------------------------------------------------------------------------------

const QUOTE: &str = "a\"b";
const UPPER: &str = "Upper Case";
const INJECTION: &str = "x'); DROP TABLE t; --";
const RESERVED: &str = "select";
const UNICODE: &str = "ünïcödé";
const DOT: &str = "with.dot";
const TRAILING: &str = "trailing space ";
const DOLLAR: &str = "$dollar";
const BACKSLASH: &str = "a\\b";
/// A collation (in public) whose name needs quoting and contains a dot.
const COLLATION: &str = "Coll \"a.b\"";
/// A schema name with quotes, a dot, spaces, upper case and an injection attempt.
const HOSTILE_SCHEMA: &str = "Hostile \"Schema\". x'); DROP SCHEMA public; --";

/// Exactly 63 bytes (the longest identifier PostgreSQL keeps), mixing multi-byte characters
/// and `$`, and still safe for the short `table(column)` foreign-key form.
fn long63() -> String {
    let mut name = String::from("Long $ünïcödé name of exactly sixty-three bytes ");
    while name.len() < 63 {
        name.push('z');
    }
    assert_eq!(name.len(), 63);
    name
}

fn hostile_names() -> Vec<String> {
    vec![
        QUOTE.into(),
        UPPER.into(),
        INJECTION.into(),
        RESERVED.into(),
        UNICODE.into(),
        DOT.into(),
        TRAILING.into(),
        long63(),
        DOLLAR.into(),
        BACKSLASH.into(),
    ]
}

/// Enum labels a YAML reader could easily take for something other than a string.
const TRICKY_LABELS: &[&str] = &[
    "",
    "yes",
    "No",
    "null",
    "~",
    "123",
    "1.5",
    "- x",
    "#x",
    "a: b",
    "[x]",
    "{x}",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "'",
    "\"",
    "\\",
    " leading",
    "tab\there",
];

/// Everything in one schema. Relation names (tables, sequences, indexes, composite types)
/// and type names (tables, enums, domains, composites) are kept distinct per schema.
fn hostile_schema_sql(schema: &str) -> String {
    let s = qi(schema);
    let long = long63();
    let l = qi(&long);
    let labels: Vec<String> = hostile_names().iter().map(|n| lit(n)).collect();
    let tricky: Vec<String> = TRICKY_LABELS.iter().map(|n| lit(n)).collect();
    let (quote, upper, injection, reserved, unicode, dot, trailing, dollar, backslash) = (
        qi(QUOTE),
        qi(UPPER),
        qi(INJECTION),
        qi(RESERVED),
        qi(UNICODE),
        qi(DOT),
        qi(TRAILING),
        qi(DOLLAR),
        qi(BACKSLASH),
    );
    let dollar_seq = lit(&format!("{s}.{dollar}"));
    let injection_label = lit(INJECTION);
    let quote_label = lit(QUOTE);
    let upper_label = lit(UPPER);
    let backslash_text = lit(BACKSLASH);
    let collation = qi(COLLATION);
    format!(
        r#"
-- types: enum "a""b" (every hostile name as a label), enum "trailing space " (labels YAML
-- might misread), domain "with.dot", composite "select"
CREATE TYPE {s}.{quote} AS ENUM ({labels});
CREATE TYPE {s}.{trailing} AS ENUM ({tricky});
CREATE DOMAIN {s}.{dot} AS text COLLATE "C" DEFAULT {upper_label} NOT NULL
  CONSTRAINT {injection} CHECK (VALUE <> {injection_label})
  CONSTRAINT {quote} CHECK (VALUE ~ '^\w+$');
CREATE TYPE {s}.{reserved} AS ({quote} text COLLATE "C", {trailing} {s}.{trailing}, {l} {s}.{quote}[]);

-- sequences "$dollar" (every option off its default) and "ünïcödé" (owned by a column)
CREATE SEQUENCE {s}.{dollar} AS integer INCREMENT BY -2 MINVALUE -1000 MAXVALUE -1 START WITH -5 CACHE 3 CYCLE;

CREATE TABLE {s}.{upper} (
  {quote} bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 10),
  {reserved} text NOT NULL DEFAULT {injection_label},
  {unicode} {s}.{quote} DEFAULT {upper_label},
  {dot} {s}.{dot},
  {trailing} integer,
  {dollar} numeric(12,2),
  {backslash} text COLLATE "C",
  {l} serial,
  {injection} {s}.{reserved},
  {upper} {s}.{trailing}[],
  CONSTRAINT {quote} PRIMARY KEY ({quote}),
  CONSTRAINT {dot} UNIQUE ({reserved}, {trailing}),
  CONSTRAINT {dollar} CHECK ({dollar} > 0 AND {reserved} <> {quote_label}),
  CONSTRAINT {reserved} CHECK ({backslash} ~ '^\d+$'),
  UNIQUE ({l})
);
CREATE INDEX {backslash} ON {s}.{upper} ({unicode}, {backslash} DESC NULLS LAST)
  INCLUDE ({reserved}) WHERE ({trailing} > 0);
CREATE INDEX ON {s}.{upper} (lower({reserved}));
CREATE UNIQUE INDEX {trailing} ON {s}.{upper} ({dot});
CREATE SEQUENCE {s}.{unicode} OWNED BY {s}.{upper}.{trailing};

CREATE TABLE {s}.{l} (
  {l} serial PRIMARY KEY,
  {backslash} text UNIQUE,
  {dollar} bigint DEFAULT nextval({dollar_seq}::regclass),
  {reserved} integer REFERENCES {s}.{l} ({l}),
  {trailing} text DEFAULT {backslash_text},
  {quote} box,
  {upper} integer GENERATED ALWAYS AS ({reserved} * 2) STORED,
  {unicode} text COLLATE public.{collation},
  EXCLUDE USING gist ({quote} WITH &&) WHERE ({reserved} > 0)
);
CREATE INDEX ON {s}.{l} ({backslash}, {dollar});

CREATE TABLE {s}.{injection} (
  {unicode} bigint PRIMARY KEY,
  {quote} bigint REFERENCES {s}.{upper} ({quote}) ON DELETE CASCADE ON UPDATE SET NULL,
  {reserved} text,
  {trailing} integer,
  {dot} text CONSTRAINT {quote} CHECK ({dot} ~ '^\d+$'),
  {backslash} text REFERENCES {s}.{l} ({backslash}),
  {l} bigint,
  CONSTRAINT {upper} FOREIGN KEY ({reserved}, {trailing})
    REFERENCES {s}.{upper} ({reserved}, {trailing}) MATCH FULL DEFERRABLE INITIALLY DEFERRED
);
"#,
        labels = labels.join(", "),
        tricky = tricky.join(", "),
    )
}

#[tokio::test]
async fn hostile_identifiers_round_trip() {
    let db = common::fresh_db();
    let long = long63();
    let mut sql = String::from("CREATE TABLE public.t (id int);\n");
    let _ = writeln!(sql, "CREATE COLLATION public.{} FROM \"C\";", qi(COLLATION));
    let _ = writeln!(sql, "CREATE SCHEMA {};", qi(HOSTILE_SCHEMA));
    for schema in ["public", HOSTILE_SCHEMA] {
        sql.push_str(&hostile_schema_sql(schema));
    }
    // Foreign keys across the two schemas, both ways.
    for (from, to) in [("public", HOSTILE_SCHEMA), (HOSTILE_SCHEMA, "public")] {
        let _ = writeln!(
            sql,
            "ALTER TABLE {}.{} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}.{} ({});",
            qi(from),
            qi(INJECTION),
            qi(&long),
            qi(&long),
            qi(to),
            qi(UPPER),
            qi(QUOTE)
        );
    }
    run_sql(&db, &sql);

    let trip = assert_round_trip(&db, &Scope::default()).await;
    assert!(
        trip.live.skipped.is_empty(),
        "nothing should be skipped: {:?}",
        trip.live.skipped
    );

    // Equal models could still be equally mangled: look the exact names up in the model
    // loaded from the pulled YAML.
    let loaded = &trip.loaded;
    let schemas: Vec<&str> = loaded.schemas.iter().map(Ident::as_str).collect();
    assert_eq!(schemas, vec![HOSTILE_SCHEMA, "public"]);
    for schema in ["public", HOSTILE_SCHEMA] {
        let other = if schema == "public" {
            HOSTILE_SCHEMA
        } else {
            "public"
        };
        // How format_type() prints a type of this schema under search_path = public.
        let type_prefix = if schema == "public" {
            String::new()
        } else {
            format!("{}.", qi(schema))
        };
        let tables: BTreeSet<QualifiedName> = loaded
            .tables
            .keys()
            .filter(|k| k.schema.as_str() == schema)
            .cloned()
            .collect();
        let mut expected_tables =
            BTreeSet::from([qn(schema, UPPER), qn(schema, INJECTION), qn(schema, &long)]);
        if schema == "public" {
            expected_tables.insert(qn("public", "t"));
        }
        assert_eq!(tables, expected_tables, "tables of schema {schema:?}");

        // Enums, domains, composites, sequences.
        let labels = &loaded.enums[&qn(schema, QUOTE)].values;
        assert_eq!(
            labels,
            &hostile_names(),
            "labels of enum a\"b in {schema:?}"
        );
        let tricky = &loaded.enums[&qn(schema, TRAILING)].values;
        assert_eq!(
            tricky,
            &TRICKY_LABELS.to_vec(),
            "labels of enum {TRAILING:?}"
        );
        let domain = &loaded.domains[&qn(schema, DOT)];
        assert_eq!(domain.data_type, "text");
        assert_eq!(domain.collation.as_deref(), Some("\"C\""));
        assert!(domain.not_null);
        assert_eq!(
            domain.checks.keys().map(Ident::as_str).collect::<Vec<_>>(),
            vec![QUOTE, INJECTION]
        );
        let composite = &loaded.composites[&qn(schema, RESERVED)];
        let attributes: Vec<(&str, &str)> = composite
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.data_type.as_str()))
            .collect();
        assert_eq!(
            attributes,
            vec![
                (QUOTE, "text"),
                (TRAILING, format!("{type_prefix}{}", qi(TRAILING)).as_str()),
                (
                    long.as_str(),
                    format!("{type_prefix}{}[]", qi(QUOTE)).as_str()
                ),
            ]
        );
        let dollar = &loaded.sequences[&qn(schema, DOLLAR)];
        assert_eq!(
            (
                dollar.options.increment,
                dollar.options.min_value,
                dollar.options.start,
                dollar.options.cache,
                dollar.options.cycle
            ),
            (-2, -1000, -5, 3, true)
        );
        let owned = &loaded.sequences[&qn(schema, UNICODE)];
        assert_eq!(
            owned.owned_by,
            Some((qn(schema, UPPER), ident(TRAILING))),
            "owner of sequence {UNICODE:?}"
        );

        // The main table: columns, their types, constraints and indexes.
        let upper = table(loaded, &qn(schema, UPPER));
        assert_eq!(
            column_names(upper),
            vec![
                QUOTE,
                RESERVED,
                UNICODE,
                DOT,
                TRAILING,
                DOLLAR,
                BACKSLASH,
                long.as_str(),
                INJECTION,
                UPPER
            ]
        );
        let types: Vec<&str> = upper.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "bigint".to_owned(),
                "text".to_owned(),
                format!("{type_prefix}{}", qi(QUOTE)),
                format!("{type_prefix}{}", qi(DOT)),
                "integer".to_owned(),
                "numeric(12,2)".to_owned(),
                "text".to_owned(),
                "integer".to_owned(),
                format!("{type_prefix}\"select\""),
                format!("{type_prefix}{}[]", qi(TRAILING)),
            ]
        );
        let reserved = upper.column(RESERVED).expect("column select");
        assert_eq!(
            reserved.default.as_deref(),
            Some("'x''); DROP TABLE t; --'::text")
        );
        assert!(matches!(
            &upper.constraints[&ident(QUOTE)].kind,
            ConstraintKind::PrimaryKey { columns, .. } if *columns == idents(&[QUOTE])
        ));
        assert!(matches!(
            &upper.constraints[&ident(DOT)].kind,
            ConstraintKind::Unique { columns, .. } if *columns == idents(&[RESERVED, TRAILING])
        ));
        assert!(matches!(
            &upper.constraints[&ident(DOLLAR)].kind,
            ConstraintKind::Check { expression, .. } if expression.contains("\"$dollar\"")
        ));
        let by_backslash = &upper.indexes[&ident(BACKSLASH)];
        let targets: Vec<&IndexTarget> = by_backslash.keys.iter().map(|k| &k.target).collect();
        assert_eq!(
            targets,
            vec![
                &IndexTarget::Column(ident(UNICODE)),
                &IndexTarget::Column(ident(BACKSLASH))
            ]
        );
        assert!(by_backslash.keys[1].descending && !by_backslash.keys[1].nulls_first);
        assert_eq!(by_backslash.include, idents(&[RESERVED]));
        assert!(upper.indexes[&ident(TRAILING)].unique);

        // Foreign keys: within the schema, composite, and across schemas.
        let child = table(loaded, &qn(schema, INJECTION));
        match &child.constraints[&ident(UPPER)].kind {
            ConstraintKind::ForeignKey(fk) => {
                assert_eq!(fk.columns, idents(&[RESERVED, TRAILING]));
                assert_eq!(fk.references, qn(schema, UPPER));
                assert_eq!(fk.referenced_columns, idents(&[RESERVED, TRAILING]));
                assert!(fk.match_full);
            }
            other => panic!("constraint {UPPER:?} is {other:?}"),
        }
        assert!(child.constraints[&ident(UPPER)].initially_deferred);
        match &child.constraints[&ident(&long)].kind {
            ConstraintKind::ForeignKey(fk) => {
                assert_eq!(fk.references, qn(other, UPPER));
                assert_eq!(fk.referenced_columns, idents(&[QUOTE]));
            }
            other => panic!("the cross-schema foreign key is {other:?}"),
        }
        let implicit_fk = format!("{INJECTION}_{QUOTE}_fkey");
        match &child.constraints[&ident(&implicit_fk)].kind {
            ConstraintKind::ForeignKey(fk) => {
                assert_eq!(fk.on_delete, FkAction::Cascade);
                assert_eq!(fk.on_update, FkAction::SetNull);
            }
            other => panic!("constraint {implicit_fk:?} is {other:?}"),
        }
        let long_table = table(loaded, &qn(schema, &long));
        assert_eq!(
            long_table
                .column(TRAILING)
                .and_then(|c| c.default.as_deref()),
            Some("'a\\b'::text")
        );
        assert_eq!(
            long_table.column(UPPER).and_then(|c| c.generated()),
            Some("(\"select\" * 2)")
        );
        assert_eq!(
            long_table.column(UNICODE).and_then(|c| c.collation()),
            Some(qi(COLLATION).as_str())
        );
        assert!(
            long_table.constraints.values().any(
                |c| matches!(&c.kind, ConstraintKind::Exclusion { definition }
                    if definition.contains("\"a\"\"b\" WITH &&"))
            ),
            "the exclusion constraint on \"a\"\"b\""
        );
    }

    // The sentinel table the injection attempts name is still there.
    assert_eq!(
        db.psql("SELECT count(*) FROM public.t")
            .map(|s| s.trim().to_owned()),
        Ok("0".to_owned())
    );
}

/// Hostile names with server-chosen constraint, index and sequence names: the hand-written
/// YAML (short forms, no names) must load to exactly the live model, so the loader's
/// default names agree with PostgreSQL's, including truncation of 63-byte names on a
/// character boundary.
#[tokio::test]
async fn hostile_identifiers_with_implicit_names_match_yaml() {
    let db = common::fresh_db();
    db.psql_file(&fixture("hostile_implicit.sql"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut live = introspect(&db, &Scope::default()).await;
    // The YAML names no owner, so owners are not compared.
    live.schema.owners.clear();
    let declared = reconcile::load::from_dir(&fixture("hostile_implicit"))
        .unwrap_or_else(|e| panic!("the hostile_implicit YAML does not load:\n{e}"));
    for (name, live_table) in &live.schema.tables {
        let declared_table = declared
            .tables
            .get(name)
            .unwrap_or_else(|| panic!("table {name} is live but not in the YAML"));
        assert_same_table(&name.to_string(), live_table, declared_table);
    }
    if live.schema != declared {
        let a = format!("{:#?}", live.schema);
        let b = format!("{declared:#?}");
        let diff = similar::TextDiff::from_lines(&a, &b);
        panic!(
            "live vs YAML:\n{}",
            diff.unified_diff().header("live", "yaml")
        );
    }
    // And the pulled form of the same database round-trips.
    assert_round_trip(&db, &Scope::default()).await;
}

/// `owned_by` was written as `table.column` and split on `.` when read back, so a sequence
/// owned by a column of table "with.dot" did not round-trip; names with a dot now take the
/// long form `{ table, column, schema }`.
#[tokio::test]
async fn sequence_owned_by_dotted_names_round_trips() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE SCHEMA "my.schema";
CREATE TABLE "with.dot" ("col.umn" integer);
CREATE SEQUENCE "owned" OWNED BY "with.dot"."col.umn";
CREATE TABLE "my.schema"."other.table" (id integer);
CREATE SEQUENCE "my.schema"."seq" OWNED BY "my.schema"."other.table".id;
"#,
    );
    assert_round_trip(&db, &Scope::default()).await;
}

// ---------------------------------------------------------------------------------------
// 2. Every built-in type spelling
// ---------------------------------------------------------------------------------------

/// `(column, type as written)` pairs of the fixture, so the test can check that the SQL and
/// the YAML really use the same spelling for every column.
fn sql_spellings(sql: &str) -> Vec<(String, String)> {
    sql.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("c_"))
        .map(|l| {
            let l = l.trim_end_matches(',');
            let (name, spelling) = l.split_once(' ').expect("column line");
            (name.to_owned(), spelling.trim().to_owned())
        })
        .collect()
}

fn yaml_spellings(yaml: &str) -> Vec<(String, String)> {
    yaml.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("c_"))
        .map(|l| {
            let (name, spelling) = l.split_once(':').expect("column line");
            let spelling = spelling.trim();
            let unquoted =
                if let Some(s) = spelling.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    s.to_owned()
                } else if let Some(s) = spelling
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                {
                    s.replace("''", "'")
                } else {
                    spelling.to_owned()
                };
            (name.to_owned(), unquoted)
        })
        .collect()
}

#[tokio::test]
async fn every_builtin_type_spelling_matches_format_type() {
    let sql = std::fs::read_to_string(fixture("types.sql")).expect("types.sql");
    let yaml = std::fs::read_to_string(fixture("types.yaml")).expect("types.yaml");
    let sql_pairs = sql_spellings(&sql);
    let yaml_pairs = yaml_spellings(&yaml);
    assert!(sql_pairs.len() > 100, "found {} columns", sql_pairs.len());
    assert_eq!(
        sql_pairs, yaml_pairs,
        "types.sql and types.yaml must spell every column's type the same way"
    );

    let db = common::fresh_db();
    db.psql_file(&fixture("types.sql"))
        .unwrap_or_else(|e| panic!("{e}"));
    let live = introspect(&db, &Scope::default()).await;
    let declared = load_yaml("types.yaml", &yaml);
    let name = qn("public", "every_type");
    let live_table = table(&live.schema, &name);
    let declared_table = table(&declared, &name);

    let mut differing = Vec::new();
    for (column, spelling) in &sql_pairs {
        let live_column = live_table.column(column);
        let declared_column = declared_table.column(column);
        match (live_column, declared_column) {
            (Some(l), Some(d)) if l == d => {}
            (Some(l), Some(d)) => {
                differing.push(format!("`{spelling}`: {}", describe_column(l, d)))
            }
            (l, d) => differing.push(format!("{column} (`{spelling}`): live {l:?}, yaml {d:?}")),
        }
    }
    assert!(
        differing.is_empty(),
        "{} of {} type spellings load differently from what the server stores:\n{}",
        differing.len(),
        sql_pairs.len(),
        differing.join("\n")
    );
    assert_same_table("every_type", live_table, declared_table);
    // The serial spellings also declare their sequences, as the server created them.
    assert_eq!(live.schema.sequences, declared.sequences);
    // The YAML names no owner, so owners are not compared.
    let mut live_schema = live.schema.clone();
    live_schema.owners.clear();
    assert_eq!(live_schema, declared);
    // And the pulled form round-trips.
    assert_round_trip(&db, &Scope::default()).await;
}

/// `interval` with fields or a precision (Table 8.1: `interval [ fields ] [ (p) ]`).
#[tokio::test]
async fn interval_fields_and_precision_load() {
    let spellings = [
        ("c_interval_p", "interval(3)"),
        ("c_interval_year", "interval year"),
        ("c_interval_month", "interval month"),
        ("c_interval_day", "interval day"),
        ("c_interval_hour", "interval hour"),
        ("c_interval_minute", "interval minute"),
        ("c_interval_second", "interval second"),
        ("c_interval_second_p", "interval second(2)"),
        ("c_interval_year_to_month", "interval year to month"),
        ("c_interval_day_to_hour", "interval day to hour"),
        ("c_interval_day_to_minute", "interval day to minute"),
        ("c_interval_day_to_second", "interval day to second"),
        ("c_interval_day_to_second_p", "interval day to second(4)"),
        ("c_interval_hour_to_minute", "interval hour to minute"),
        ("c_interval_hour_to_second", "interval hour to second"),
        ("c_interval_minute_to_second", "interval minute to second"),
        ("c_interval_array", "interval day[]"),
    ];
    let columns: Vec<String> = spellings
        .iter()
        .map(|(c, t)| format!("  {c} {t}"))
        .collect();
    let sql = format!("CREATE TABLE intervals (\n{}\n);", columns.join(",\n"));
    let mut yaml = String::from("tables:\n  intervals:\n    columns:\n");
    for (c, t) in &spellings {
        let _ = writeln!(yaml, "      {c}: \"{t}\"");
    }

    let db = common::fresh_db();
    run_sql(&db, &sql);
    let live = introspect(&db, &Scope::default()).await;
    let live_table = table(&live.schema, &qn("public", "intervals"));
    let mut problems = Vec::new();
    for (c, t) in &spellings {
        let one = format!("tables:\n  intervals:\n    columns:\n      {c}: \"{t}\"\n");
        let live_type = &live_table.column(c).expect("live column").data_type;
        match reconcile::load::from_sources(&[(PathBuf::from("interval.yaml"), one)]) {
            Ok(schema) => {
                let loaded = &table(&schema, &qn("public", "intervals")).columns[0].data_type;
                if loaded != live_type {
                    problems.push(format!("`{t}`: live `{live_type}`, yaml `{loaded}`"));
                }
            }
            Err(e) => problems.push(format!(
                "`{t}` (live `{live_type}`) does not load: {}",
                e.to_string().lines().next().unwrap_or_default()
            )),
        }
    }
    // The pulled form of a database with such columns must load back, too.
    let mut conn = db.connect().await;
    match round_trip(&mut conn, &Scope::default()).await {
        Ok(trip) => {
            if let Some(diff) = trip.difference() {
                problems.push(format!("round trip drifts:\n{diff}"));
            }
        }
        Err(e) => problems.push(format!(
            "round trip fails: {}",
            e.lines().take(3).collect::<Vec<_>>().join(" / ")
        )),
    }
    assert!(
        problems.is_empty(),
        "interval types:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 3. A fixed number of catalog queries
// ---------------------------------------------------------------------------------------

/// `n` tables, each with a primary key, defaults, a check, an index and a foreign key to
/// the previous table.
fn chain_sql(n: usize) -> String {
    let mut sql = String::new();
    for i in 0..n {
        let reference = if i == 0 {
            String::new()
        } else {
            format!(" REFERENCES t{}(id)", i - 1)
        };
        let _ = writeln!(
            sql,
            "CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'n{i}', \
             created_at timestamptz NOT NULL DEFAULT now(), \
             amount numeric(12,2) CHECK (amount >= 0), prev_id bigint{reference});\n\
             CREATE INDEX ON t{i} (name, created_at DESC);"
        );
    }
    sql
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_queries_do_not_grow_with_the_schema() {
    let small = common::fresh_db();
    let large = common::fresh_db();
    run_sql(&small, &chain_sql(10));
    run_sql(&large, &chain_sql(1_000));

    let small_live = introspect(&small, &Scope::default()).await;
    let large_live = introspect(&large, &Scope::default()).await;
    eprintln!(
        "catalog queries: {} for 10 tables, {} for 1,000 tables",
        small_live.catalog_queries, large_live.catalog_queries
    );
    assert_eq!(small_live.schema.tables.len(), 10);
    assert_eq!(large_live.schema.tables.len(), 1_000);
    assert!(small_live.catalog_queries > 0, "no catalog queries counted");
    assert_eq!(
        small_live.catalog_queries, large_live.catalog_queries,
        "10 tables took {} catalog queries, 1,000 tables took {}",
        small_live.catalog_queries, large_live.catalog_queries
    );
    // Every table came back whole.
    for i in 0..1_000 {
        let t = table(&large_live.schema, &qn("public", &format!("t{i}")));
        assert_eq!(t.columns.len(), 5, "t{i}");
        let expected_constraints = if i == 0 { 2 } else { 3 };
        assert_eq!(t.constraints.len(), expected_constraints, "t{i}");
        assert_eq!(t.indexes.len(), 1, "t{i}");
    }
    // A reasonable bound, so that a per-object query loop could not hide behind equality.
    assert!(
        large_live.catalog_queries < 50,
        "{} catalog queries",
        large_live.catalog_queries
    );
    assert_round_trip(&large, &Scope::default()).await;
}

// ---------------------------------------------------------------------------------------
// 4. Kinds reconcile does not manage yet are skipped, not failed on
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unmanaged_kinds_are_skipped_without_failing() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  owner text NOT NULL,
  balance numeric(12,2) NOT NULL DEFAULT 0
);
CREATE VIEW rich_accounts AS SELECT id, owner FROM accounts WHERE balance > 1000;
CREATE MATERIALIZED VIEW account_totals AS
  SELECT owner, sum(balance) AS total FROM accounts GROUP BY owner;
CREATE UNIQUE INDEX account_totals_owner_idx ON account_totals (owner);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.balance := coalesce(NEW.balance, 0);
  RETURN NEW;
END
$$;
CREATE TRIGGER accounts_touch BEFORE INSERT OR UPDATE ON accounts
  FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON accounts USING (owner = current_user);

CREATE TABLE events (
  id bigint NOT NULL,
  at timestamptz NOT NULL,
  account_id bigint REFERENCES accounts,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX ON events (account_id);
CREATE TABLE event_refs (
  id bigint PRIMARY KEY,
  event_id bigint,
  event_at timestamptz,
  FOREIGN KEY (event_id, event_at) REFERENCES events (id, at)
);

CREATE TABLE base_log (id serial PRIMARY KEY, message text CHECK (message <> ''));
CREATE TABLE audit_log (actor text NOT NULL) INHERITS (base_log);

COMMENT ON TABLE accounts IS 'Money';
COMMENT ON COLUMN accounts.owner IS 'Who';
GRANT SELECT ON accounts TO PUBLIC;
GRANT USAGE ON SCHEMA public TO PUBLIC;
"#,
    );
    let trip = assert_round_trip(&db, &Scope::default()).await;
    let live = &trip.live;

    let tables: Vec<String> = live.schema.tables.keys().map(ToString::to_string).collect();
    // Partitioned tables and partitions are tables; the inheritance child is not managed.
    assert_eq!(
        tables,
        vec![
            "public.accounts",
            "public.base_log",
            "public.event_refs",
            "public.events",
            "public.events_2024",
            "public.events_default"
        ],
        "managed tables"
    );
    assert!(table(&live.schema, &qn("public", "accounts")).row_level_security);

    let skipped: Vec<(String, &str)> = live
        .skipped
        .iter()
        .map(|s| (s.object.to_string(), s.reason))
        .collect();
    let found = skipped.iter().find(|(o, _)| o == "table public.audit_log");
    assert!(
        found.is_some_and(|(_, reason)| reason.contains("INHERITS")),
        "the inheritance child should be skipped with a reason; skipped: {skipped:#?}"
    );
    assert!(
        !skipped.iter().any(|(o, _)| o.contains("events")),
        "nothing of the partitioned table is skipped: {skipped:#?}"
    );
    let events = table(&live.schema, &qn("public", "events"));
    assert_eq!(events.partition_by.as_deref(), Some("RANGE (at)"));
    assert_eq!(events.indexes.len(), 1, "{:?}", events.indexes.keys());
    // The partitions' copies of the parent's index, key and foreign key are the parent's.
    let partition = table(&live.schema, &qn("public", "events_2024"));
    assert!(partition.indexes.is_empty() && partition.constraints.is_empty());
    assert_eq!(
        partition.partition_of.as_ref().map(|p| p.bound.as_str()),
        Some("FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')")
    );
    // The foreign key into the partitioned table is modelled with its target.
    assert!(
        table(&live.schema, &qn("public", "event_refs"))
            .constraints
            .values()
            .any(|c| matches!(&c.kind, ConstraintKind::ForeignKey(fk) if fk.references.name.as_str() == "events")),
    );
    // The managed objects are all there; nothing of the view, function, trigger or policy
    // leaked into them.
    assert!(live.schema.enums.is_empty() && live.schema.domains.is_empty());
    assert!(live.schema.composites.is_empty());
    let sequences: Vec<String> = live
        .schema
        .sequences
        .keys()
        .map(ToString::to_string)
        .collect();
    assert_eq!(sequences, vec!["public.base_log_id_seq"]);
}

// ---------------------------------------------------------------------------------------
// 5. Extension-owned objects are left out
// ---------------------------------------------------------------------------------------

fn assert_no_extension_objects(live: &Introspected, tables: &[QualifiedName]) {
    let schema = &live.schema;
    assert!(schema.enums.is_empty(), "enums: {:?}", schema.enums.keys());
    assert!(
        schema.domains.is_empty(),
        "domains: {:?}",
        schema.domains.keys()
    );
    assert!(
        schema.composites.is_empty(),
        "composites: {:?}",
        schema.composites.keys()
    );
    assert!(
        schema.sequences.is_empty(),
        "sequences: {:?}",
        schema.sequences.keys()
    );
    let found: Vec<&QualifiedName> = schema.tables.keys().collect();
    assert_eq!(found, tables.iter().collect::<Vec<_>>());
    let extensions: Vec<&str> = schema.extensions.keys().map(Ident::as_str).collect();
    assert_eq!(extensions, vec!["citext", "pg_trgm"]);
}

/// Index key lists are parsed once per distinct text; indexes whose key lists differ only
/// in an operator class or collation, or whose name contains another index's key list,
/// still get their own.
#[tokio::test]
async fn index_operator_classes_and_collations_per_index() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE TABLE a (name text, code text);
CREATE TABLE b (name text, code text);
CREATE INDEX a_name ON a (name text_pattern_ops);
CREATE INDEX b_name ON b (name);
CREATE INDEX a_code ON a (code COLLATE "C");
CREATE INDEX b_code ON b (code COLLATE "C" text_pattern_ops);
CREATE INDEX a_both ON a (name, code);
CREATE INDEX b_both ON b (name, code DESC);
CREATE INDEX "x ON public.b USING btree (name)" ON a (name varchar_pattern_ops);
CREATE UNIQUE INDEX b_unique ON b (name text_pattern_ops);
"#,
    );
    let live = introspect(&db, &Scope::default()).await;
    let extras = |t: &str, i: &str| -> Vec<(Option<String>, Option<String>, bool)> {
        table(&live.schema, &qn("public", t)).indexes[&ident(i)]
            .keys
            .iter()
            .map(|k| (k.opclass.clone(), k.collation.clone(), k.descending))
            .collect()
    };
    let plain = || (None, None, false);
    let ops = |o: &str| (Some(o.to_owned()), None, false);
    assert_eq!(extras("a", "a_name"), [ops("text_pattern_ops")]);
    assert_eq!(extras("b", "b_name"), [plain()]);
    assert_eq!(
        extras("a", "a_code"),
        [(None, Some("\"C\"".to_owned()), false)]
    );
    assert_eq!(
        extras("b", "b_code"),
        [(
            Some("text_pattern_ops".to_owned()),
            Some("\"C\"".to_owned()),
            false
        )]
    );
    assert_eq!(extras("a", "a_both"), [plain(), plain()]);
    assert_eq!(extras("b", "b_both"), [plain(), (None, None, true)]);
    assert_eq!(
        extras("a", "x ON public.b USING btree (name)"),
        [ops("varchar_pattern_ops")]
    );
    assert_eq!(extras("b", "b_unique"), [ops("text_pattern_ops")]);
}

#[tokio::test]
async fn extension_objects_are_left_out() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email citext NOT NULL UNIQUE,
  aliases citext[],
  name text NOT NULL
);
CREATE INDEX users_name_trgm_idx ON users USING gin (name gin_trgm_ops);
CREATE INDEX users_email_trgm_idx ON users USING gist (email gist_trgm_ops);
"#,
    );
    let trip = assert_round_trip(&db, &Scope::default()).await;
    assert_no_extension_objects(&trip.live, &[qn("public", "users")]);
    let users = table(&trip.loaded, &qn("public", "users"));
    assert_eq!(users.column("email").expect("email").data_type, "citext");
    assert_eq!(
        users.column("aliases").expect("aliases").data_type,
        "citext[]"
    );
    let trgm = &users.indexes[&ident("users_name_trgm_idx")];
    assert_eq!(trgm.method, "gin");
    assert_eq!(trgm.keys[0].opclass.as_deref(), Some("gin_trgm_ops"));
    for extension in ["citext", "pg_trgm"] {
        assert_eq!(
            trip.loaded.extensions[&ident(extension)].schema.as_str(),
            "public"
        );
    }
}

/// The same, with the extensions in their own schema (types and operator classes then print
/// schema-qualified).
#[tokio::test]
async fn extension_objects_in_their_own_schema_are_left_out() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE SCHEMA extensions;
CREATE EXTENSION citext SCHEMA extensions;
CREATE EXTENSION pg_trgm SCHEMA extensions;
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email extensions.citext NOT NULL UNIQUE,
  name text NOT NULL
);
CREATE INDEX users_name_trgm_idx ON users USING gin (name extensions.gin_trgm_ops);
"#,
    );
    let trip = assert_round_trip(&db, &Scope::default()).await;
    assert_no_extension_objects(&trip.live, &[qn("public", "users")]);
    let users = table(&trip.loaded, &qn("public", "users"));
    assert_eq!(
        users.column("email").expect("email").data_type,
        "extensions.citext"
    );
    assert_eq!(
        users.indexes[&ident("users_name_trgm_idx")].keys[0]
            .opclass
            .as_deref(),
        Some("extensions.gin_trgm_ops")
    );
    for extension in ["citext", "pg_trgm"] {
        assert_eq!(
            trip.loaded.extensions[&ident(extension)].schema.as_str(),
            "extensions"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6. Scope
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn scope_selects_and_ignores_schemas() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE SCHEMA app;
CREATE SCHEMA auth;
CREATE TYPE auth.factor AS ENUM ('totp', 'webauthn');
CREATE SEQUENCE auth.counter;
CREATE TABLE auth.users (id uuid PRIMARY KEY, factor auth.factor);
CREATE TYPE app.plan AS ENUM ('free', 'paid');
CREATE TABLE app.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id),
  plan app.plan NOT NULL DEFAULT 'free'
);
CREATE TABLE app.teams (id serial PRIMARY KEY, owner uuid REFERENCES app.profiles);
CREATE TABLE public.notes (id int PRIMARY KEY);
"#,
    );
    let names = |schema: &Schema| -> Vec<String> {
        schema
            .tables
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };

    let app_only = Scope {
        schemas: Some(vec!["app".into()]),
        ignore: vec![],
    };
    let trip = assert_round_trip(&db, &app_only).await;
    let live = &trip.live.schema;
    assert_eq!(names(live), vec!["app.profiles", "app.teams"]);
    assert_eq!(
        live.schemas.iter().map(Ident::as_str).collect::<Vec<_>>(),
        vec!["app"]
    );
    assert_eq!(
        live.enums.keys().cloned().collect::<Vec<_>>(),
        vec![qn("app", "plan")]
    );
    assert_eq!(
        live.sequences.keys().cloned().collect::<Vec<_>>(),
        vec![qn("app", "teams_id_seq")]
    );
    // The reference into the unmanaged schema is kept (it is not dangling, just external).
    let profiles = table(live, &qn("app", "profiles"));
    assert!(profiles.constraints.values().any(|c| matches!(
        &c.kind,
        ConstraintKind::ForeignKey(fk) if fk.references == qn("auth", "users")
    )));
    assert!(
        trip.live
            .estimated_rows
            .keys()
            .all(|k| k.schema.as_str() == "app")
    );

    let without_auth = Scope {
        schemas: None,
        ignore: vec!["auth".into()],
    };
    let trip = assert_round_trip(&db, &without_auth).await;
    let live = &trip.live.schema;
    assert_eq!(
        names(live),
        vec!["app.profiles", "app.teams", "public.notes"]
    );
    assert_eq!(
        live.schemas.iter().map(Ident::as_str).collect::<Vec<_>>(),
        vec!["app", "public"]
    );
    assert!(
        live.enums.keys().all(|k| k.schema.as_str() != "auth")
            && live.sequences.keys().all(|k| k.schema.as_str() != "auth"),
        "nothing of auth may be read"
    );

    // Both at once, and a requested schema that does not exist.
    let both = Scope {
        schemas: Some(vec!["app".into(), "auth".into(), "missing".into()]),
        ignore: vec!["auth".into()],
    };
    let live = introspect(&db, &both).await;
    assert_eq!(names(&live.schema), vec!["app.profiles", "app.teams"]);
    assert_eq!(
        live.schema
            .schemas
            .iter()
            .map(Ident::as_str)
            .collect::<Vec<_>>(),
        vec!["app"]
    );

    // Everything, for contrast.
    let all = introspect(&db, &Scope::default()).await;
    assert_eq!(
        names(&all.schema),
        vec!["app.profiles", "app.teams", "auth.users", "public.notes"]
    );
}

// ---------------------------------------------------------------------------------------
// Known bugs in src/ (each test fails today; see the ignore reasons)
// ---------------------------------------------------------------------------------------

/// Introspects, pulls and loads back; `Err` describes what went wrong.
async fn try_round_trip(db: &TestDb, scope: &Scope) -> Result<RoundTrip, String> {
    let mut conn = db.connect().await;
    let trip = round_trip(&mut conn, scope).await?;
    match trip.difference() {
        None => Ok(trip),
        Some(diff) => Err(format!("false drift:\n{diff}\n{}", dump(&trip))),
    }
}

/// A user type whose name is also a built-in type name or alias: `format_type()` prints
/// `public.text` (pg_catalog comes first on the search path) and `"integer"` (a user type;
/// PostgreSQL has no type called `integer`, the keyword means `int4`). The loader shortened
/// `public.text` to the built-in `text` and read `"integer"` as the built-in `integer`.
#[tokio::test]
async fn user_types_named_like_builtins_round_trip() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE TYPE public.text AS ENUM ('a');
CREATE TYPE public."integer" AS ENUM ('b');
CREATE TABLE t (x public.text, y public."integer", z text, w integer);
"#,
    );
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `CREATE TYPE e AS ENUM ()` is legal; `enums.sql` inner-joined `pg_enum`, so the enum was
/// not read and a column of that type no longer loaded.
#[tokio::test]
async fn enum_without_labels_round_trips() {
    let db = common::fresh_db();
    run_sql(&db, "CREATE TYPE e AS ENUM (); CREATE TABLE t (x e);");
    let trip = try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trip.loaded.enums[&qn("public", "e")].values.len(), 0);
}

/// `CREATE TYPE c AS ()` is legal; pull wrote `c:` (a YAML null), which the loader rejects,
/// instead of `c: {}`.
#[tokio::test]
async fn composite_without_attributes_round_trips() {
    let db = common::fresh_db();
    run_sql(&db, "CREATE TYPE c AS ();");
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A column of a user-defined range (or multirange) type: range types are neither modelled
/// nor reported as skipped, so the pulled YAML names a type the loader does not know.
#[tokio::test]
#[ignore = "reason: range types are no kind yet (no model, YAML section or catalog query; \
            src/introspect does not list them in `skipped` either), so a column of a \
            user-defined range type is pulled as `floatrange`, which the loader does not \
            know (`unknown type`); needs a range kind in src/kinds"]
async fn user_range_types_round_trip() {
    let db = common::fresh_db();
    run_sql(
        &db,
        "CREATE TYPE floatrange AS RANGE (subtype = float8);
         CREATE TABLE r (x floatrange, y floatmultirange);",
    );
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A managed table with a column of the row type of a partitioned table and of a view: the
/// view is pulled as SQL, and its row type is a type the YAML may use.
#[tokio::test]
async fn row_types_of_skipped_relations_round_trip() {
    let db = common::fresh_db();
    run_sql(
        &db,
        "CREATE TABLE p (id int) PARTITION BY RANGE (id);
         CREATE TABLE a (id int);
         CREATE VIEW v AS SELECT id FROM a;
         CREATE TABLE holder (x p, y v);",
    );
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// intarray adds the column type `query_int`; `EXTENSION_TYPES` listed intarray with no
/// types, so a `query_int` column did not load.
#[tokio::test]
async fn intarray_query_int_round_trips() {
    let db = common::fresh_db();
    run_sql(
        &db,
        "CREATE EXTENSION intarray; CREATE TABLE q (x query_int, y int[]);",
    );
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A table in scope whose column type lives in a schema out of scope: an enum of an
/// ignored schema, or an extension type whose extension lives out of scope. Both were an
/// `unknown type` (unlike foreign keys to such schemas, accepted as external); now a type of
/// a schema outside the desired state is taken as it is, and pull writes a type of an
/// unmanaged `public` qualified (`public.citext`).
#[tokio::test]
async fn scope_with_types_from_unmanaged_schemas_round_trips() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE EXTENSION citext;
CREATE SCHEMA app;
CREATE SCHEMA auth;
CREATE TYPE auth.factor AS ENUM ('totp');
CREATE TABLE app.users (id int PRIMARY KEY, factor auth.factor, email citext);
"#,
    );
    let mut failures = Vec::new();
    for scope in [
        Scope {
            schemas: Some(vec!["app".into()]),
            ignore: vec![],
        },
        Scope {
            schemas: None,
            ignore: vec!["auth".into(), "public".into()],
        },
    ] {
        if let Err(e) = try_round_trip(&db, &scope).await {
            failures.push(format!("{scope:?}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Collations and operator classes outside public/pg_catalog print schema-qualified
/// (`app.mycoll`, `"My Ext".gin_trgm_ops`); pull stripped one pair of outer quotes and the
/// loader re-quoted the whole text as one identifier. Qualified collations are now written
/// `{ schema, name }`, qualified operator classes `schema.name`.
#[tokio::test]
async fn qualified_collations_and_opclasses_round_trip() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE SCHEMA app;
CREATE COLLATION app.mycoll FROM "C";
CREATE COLLATION app."Co ll" FROM "C";
CREATE SCHEMA "My Ext";
CREATE EXTENSION pg_trgm SCHEMA "My Ext";
CREATE DOMAIN dom AS text COLLATE app.mycoll;
CREATE TYPE comp AS (a text COLLATE app."Co ll");
CREATE TABLE t (x text COLLATE app.mycoll, y text);
CREATE INDEX t_y_idx ON t (y COLLATE app."Co ll");
CREATE INDEX t_y_trgm_idx ON t USING gin (y "My Ext".gin_trgm_ops);
"#,
    );
    try_round_trip(&db, &Scope::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The introspector's module documentation says what is not managed yet (inheritance
/// children, ...) "is skipped and listed in [`Introspected::skipped`]" (they were once silently
/// left out); views, materialized views, functions, the triggers running them and policies are
/// managed.
#[tokio::test]
async fn views_and_policies_are_managed_and_what_is_not_yet_is_listed_as_skipped() {
    let db = common::fresh_db();
    run_sql(
        &db,
        r#"
CREATE TABLE a (id int PRIMARY KEY, owner text);
CREATE VIEW v AS SELECT id FROM a;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM a;
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER tr BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();
ALTER TABLE a ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON a USING (owner = current_user);
CREATE TABLE a_child () INHERITS (a);
CREATE TABLE a_grandchild () INHERITS (a_child);
"#,
    );
    let live = introspect(&db, &Scope::default()).await;
    assert_eq!(
        live.schema
            .views
            .keys()
            .map(|v| v.to_string())
            .collect::<Vec<_>>(),
        ["public.v"]
    );
    assert_eq!(
        live.schema
            .materialized_views
            .keys()
            .map(|v| v.to_string())
            .collect::<Vec<_>>(),
        ["public.mv"]
    );
    assert_eq!(
        live.schema
            .functions
            .keys()
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        ["function public.f()"]
    );
    assert_eq!(
        live.schema.triggers.len(),
        1,
        "the trigger running f is managed"
    );
    let skipped: Vec<String> = live.skipped.iter().map(|s| s.object.to_string()).collect();
    // Policies are managed too (issue 15).
    assert_eq!(
        live.schema
            .policies
            .keys()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        ["policy p on public.a"]
    );
    for word in ["a_child", "a_grandchild"] {
        assert!(
            skipped.iter().any(|o| o
                .split(['.', ' '])
                .any(|part| part == word || part.strip_suffix("()") == Some(word))),
            "{word} is not listed as skipped: {skipped:?}"
        );
    }
}
