//! Aggregates: declared in `.sql` files (`CREATE AGGREGATE`), one object per overload,
//! compared as a `CREATE AGGREGATE` statement rebuilt from `pg_aggregate` the way pg_dump
//! writes it (`pg_get_functiondef` does not print aggregates) from the aggregate as built on
//! the scratch server.
//!
//! A missing aggregate is created (catalog-guarded). A changed one is replaced in place
//! (`CREATE OR REPLACE AGGREGATE`, H013) when PostgreSQL allows it — the same result type,
//! kind (normal, ordered-set, hypothetical-set) and number of direct arguments; otherwise it
//! is D165. An extra aggregate is D164. Its support functions and types are created first.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::function::{Routine, RoutineKind, Uses, leave_out_unbuildable, replace_step};
use super::{Catalog, Kind, NoYaml, Replaceable, Replaced};
use crate::diff::{Code, Finding, Severity};
use crate::ident::quote_literal;
use crate::load::format::{Entries, FileSpec};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, Key, StepBuilder, StepKind, guard, stage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// `CREATE AGGREGATE schema.name(arguments) (SFUNC = ..., ...)`, options in pg_dump's
    /// order, defaults left out.
    pub definition: String,
    /// The arguments as `DROP AGGREGATE` takes them (`*` for none; `ORDER BY` for an
    /// ordered-set aggregate).
    pub identity: String,
    /// The result type.
    pub result: String,
    /// `n` normal, `o` ordered-set, `h` hypothetical-set.
    pub kind: String,
    /// How many of the arguments are direct (ordered-set aggregates).
    pub direct_args: i32,
    pub uses: Uses,
}

impl Aggregate {
    /// Whether `CREATE OR REPLACE AGGREGATE` can turn `self` into `other`.
    fn replaceable_by(&self, other: &Aggregate) -> bool {
        self.result == other.result
            && self.kind == other.kind
            && self.direct_args == other.direct_args
    }
}

/// The columns of one `aggregates.sql` row that make up the statement.
struct Columns<'r>(&'r PgRow);

impl Columns<'_> {
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.0.try_get(column)
    }

    fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
        self.0.try_get(column)
    }

    fn number(&self, column: &str) -> Result<i32, sqlx::Error> {
        self.0.try_get(column)
    }
}

/// `FINALFUNC_MODIFY` words.
fn modify(code: &str) -> &'static str {
    match code {
        "s" => "SHAREABLE",
        "w" => "READ_WRITE",
        _ => "READ_ONLY",
    }
}

/// The statement, as pg_dump writes it: every option that is not PostgreSQL's default.
fn definition(name: &QualifiedName, row: &Columns) -> Result<String, sqlx::Error> {
    let kind = row.text("aggkind")?.unwrap_or_default();
    let arguments = row.text("arguments")?.unwrap_or_default();
    let default_modify = if kind == "n" { "r" } else { "w" };
    let mut d = format!(
        "    SFUNC = {},\n    STYPE = {}",
        row.text("sfunc")?.unwrap_or_default(),
        row.text("stype")?.unwrap_or_default()
    );
    if row.number("sspace")? != 0 {
        let _ = write!(d, ",\n    SSPACE = {}", row.number("sspace")?);
    }
    if let Some(init) = row.text("initcond")? {
        let _ = write!(d, ",\n    INITCOND = {}", quote_literal(&init));
    }
    if let Some(f) = row.text("finalfunc")? {
        let _ = write!(d, ",\n    FINALFUNC = {f}");
        if row.flag("finalfunc_extra")? {
            d.push_str(",\n    FINALFUNC_EXTRA");
        }
        let m = row.text("finalfunc_modify")?.unwrap_or_default();
        if m != default_modify {
            let _ = write!(d, ",\n    FINALFUNC_MODIFY = {}", modify(&m));
        }
    }
    for (column, option) in [
        ("combinefunc", "COMBINEFUNC"),
        ("serialfunc", "SERIALFUNC"),
        ("deserialfunc", "DESERIALFUNC"),
    ] {
        if let Some(f) = row.text(column)? {
            let _ = write!(d, ",\n    {option} = {f}");
        }
    }
    if let Some(f) = row.text("msfunc")? {
        let _ = write!(
            d,
            ",\n    MSFUNC = {f},\n    MINVFUNC = {},\n    MSTYPE = {}",
            row.text("minvfunc")?.unwrap_or_default(),
            row.text("mstype")?.unwrap_or_default()
        );
    }
    if row.number("msspace")? != 0 {
        let _ = write!(d, ",\n    MSSPACE = {}", row.number("msspace")?);
    }
    if let Some(init) = row.text("minitcond")? {
        let _ = write!(d, ",\n    MINITCOND = {}", quote_literal(&init));
    }
    if let Some(f) = row.text("mfinalfunc")? {
        let _ = write!(d, ",\n    MFINALFUNC = {f}");
        if row.flag("mfinalfunc_extra")? {
            d.push_str(",\n    MFINALFUNC_EXTRA");
        }
        let m = row.text("mfinalfunc_modify")?.unwrap_or_default();
        if m != default_modify {
            let _ = write!(d, ",\n    MFINALFUNC_MODIFY = {}", modify(&m));
        }
    }
    if let Some(op) = row.text("sortop")? {
        let _ = write!(d, ",\n    SORTOP = {op}");
    }
    if kind == "h" {
        d.push_str(",\n    HYPOTHETICAL");
    }
    match row.text("parallel")?.as_deref() {
        Some("s") => d.push_str(",\n    PARALLEL = safe"),
        Some("r") => d.push_str(",\n    PARALLEL = restricted"),
        _ => {}
    }
    let arguments = if arguments.is_empty() {
        "*".to_owned()
    } else {
        arguments
    };
    Ok(format!(
        "CREATE AGGREGATE {}({arguments}) (\n{d}\n)",
        name.quoted()
    ))
}

pub(crate) struct AggregateKind;

impl Kind for AggregateKind {
    const NAME: &'static str = "aggregate";
    const SECTION: &'static str = "aggregates";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    // Check constraints and index expressions cannot call aggregates, but views and
    // functions can, and an aggregate is as cheap to build as the functions it calls.
    const PREREQUISITE: bool = true;
    type Key = Routine;
    type Object = Aggregate;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<Routine, Aggregate> {
        &schema.aggregates
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<Routine, Aggregate> {
        &mut schema.aggregates
    }

    fn id(key: &Routine) -> ObjectId {
        key.id()
    }

    fn schema_of(key: &Routine) -> &Ident {
        &key.name.schema
    }

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        None
    }

    fn identity_taken_by(key: &Routine, live: &Schema) -> Option<&'static str> {
        super::function::signature_taken_by(key, live)
    }

    fn pull_sql(key: &Routine, aggregate: &Aggregate) -> Option<String> {
        Some(Self::create(key, aggregate))
    }

    const CATALOG: Catalog = Catalog {
        name: "aggregates",
        sql: include_str!("sql/aggregates.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(Routine, Aggregate), sqlx::Error> {
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        let columns = Columns(row);
        let identity: String = row.try_get("identity")?;
        Ok((
            Routine {
                name: name.clone(),
                args: row.try_get("args")?,
                kind: RoutineKind::Aggregate,
            },
            Aggregate {
                definition: definition(&name, &columns)?,
                identity: if identity.is_empty() {
                    "*".to_owned()
                } else {
                    identity
                },
                result: row.try_get("result")?,
                kind: row.try_get("aggkind")?,
                direct_args: row.try_get("direct_args")?,
                uses: Uses::from_row(row)?,
            },
        ))
    }

    fn leave_out_unbuilt(schema: &mut Schema, built: &dyn Fn(&QualifiedName) -> bool) {
        leave_out_unbuildable(schema, built);
    }

    const DIFFERS: Code = Code::AggregateDefinition;
    const DIFFERS_MESSAGE: &'static str = "the definition differs in a way CREATE OR REPLACE AGGREGATE cannot apply (the result \
         type, the kind or the number of direct arguments changes)";
    const EXTRA: Code = Code::ExtraAggregate;

    fn extra(key: &Routine, a: &Aggregate, live: &Schema, _desired: &Schema) -> Option<Finding> {
        Some(
            Finding::new(
                Self::EXTRA,
                Severity::Risky,
                key.id(),
                "in the database, not in the desired state",
            )
            .suggest(format!(
                "{}{}",
                super::function::used_by_comment(live, key),
                drop_statement(key, a)
            )),
        )
    }

    fn differs_suggestion(
        key: &Routine,
        live: &Aggregate,
        desired: &Aggregate,
        live_schema: &Schema,
        replaceable: bool,
    ) -> String {
        if replaceable {
            return Self::replace(key, desired);
        }
        format!(
            "{}{};\n{}",
            super::function::used_by_comment(live_schema, key),
            drop_statement(key, live),
            Self::create(key, desired)
        )
    }

    fn create(_key: &Routine, aggregate: &Aggregate) -> String {
        aggregate.definition.clone()
    }

    fn drop(key: &Routine) -> String {
        if key.args.is_empty() {
            format!("DROP AGGREGATE {}(*)", key.name.quoted())
        } else {
            format!("DROP AGGREGATE {}", key.signature())
        }
    }

    fn steps(key: &Routine, aggregate: &Aggregate, out: &mut Vec<Draft>) {
        StepBuilder::new(StepKind::CreateAggregate, stage::CATALOG, None, key.id())
            .sql(guard::unless_routine_exists(
                &guard::routine_exists(&key.name, &key.args),
                &Self::create(key, aggregate),
            ))
            .requires(Key::Schema(key.name.schema.clone()))
            .requires(Key::Extensions)
            .requires_all(aggregate.uses.requirements())
            .provides(Key::Function(key.name.clone()))
            .provides(Key::Routine(key.name.clone(), key.args.clone()))
            .push(out);
    }

    fn replacement(key: &Routine, live: &Aggregate, desired: &Aggregate) -> Option<Replaced> {
        live.replaceable_by(desired).then(|| Replaced::Aggregate {
            key: key.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    #[cfg(test)]
    fn samples() -> (Routine, [Aggregate; 2]) {
        let key = Routine {
            name: QualifiedName::new(
                Ident::from_catalog("app".into()),
                Ident::from_catalog("Total".into()),
            ),
            args: vec!["integer".into()],
            kind: RoutineKind::Aggregate,
        };
        let plain = Aggregate {
            definition: "CREATE AGGREGATE app.\"Total\"(integer) (\n    SFUNC = int4pl,\n    \
                         STYPE = integer\n)"
                .into(),
            identity: "integer".into(),
            result: "integer".into(),
            kind: "n".into(),
            direct_args: 0,
            uses: Uses::default(),
        };
        let full = Aggregate {
            definition: "CREATE AGGREGATE app.\"Total\"(integer) (\n    SFUNC = int4pl,\n    \
                         STYPE = integer,\n    INITCOND = '0',\n    COMBINEFUNC = int4pl,\n    \
                         SORTOP = OPERATOR(pg_catalog.>),\n    PARALLEL = safe\n)"
                .into(),
            ..plain.clone()
        };
        (key, [plain, full])
    }
}

impl Replaceable for AggregateKind {
    fn replace(_key: &Routine, aggregate: &Aggregate) -> String {
        match aggregate.definition.strip_prefix("CREATE AGGREGATE ") {
            Some(rest) => format!("CREATE OR REPLACE AGGREGATE {rest}"),
            None => aggregate.definition.clone(),
        }
    }

    fn replace_steps(
        key: &Routine,
        previous: &Aggregate,
        aggregate: &Aggregate,
        out: &mut Vec<Draft>,
    ) {
        replace_step(
            key,
            Self::replace(key, aggregate),
            Self::replace(key, previous),
            &aggregate.uses,
            out,
        );
    }
}

/// `DROP AGGREGATE schema.name(identity arguments)`: an ordered-set aggregate's arguments
/// with their `ORDER BY`, `*` for none.
fn drop_statement(key: &Routine, aggregate: &Aggregate) -> String {
    format!(
        "DROP AGGREGATE {}({})",
        key.name.quoted(),
        aggregate.identity
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_result_kind_and_direct_arguments_must_stay() {
        let (_, [plain, full]) = AggregateKind::samples();
        assert!(plain.replaceable_by(&full));
        let other = Aggregate {
            result: "bigint".into(),
            ..full.clone()
        };
        assert!(!plain.replaceable_by(&other));
        let ordered = Aggregate {
            kind: "o".into(),
            ..full
        };
        assert!(!plain.replaceable_by(&ordered));
    }

    #[test]
    fn replace_and_drop_statements() {
        let (key, [plain, _]) = AggregateKind::samples();
        assert!(
            AggregateKind::replace(&key, &plain)
                .starts_with("CREATE OR REPLACE AGGREGATE app.\"Total\"(integer) (")
        );
        assert_eq!(
            AggregateKind::drop(&key),
            "DROP AGGREGATE app.\"Total\"(integer)"
        );
        let none = Aggregate {
            identity: "*".into(),
            ..plain
        };
        assert_eq!(
            drop_statement(&key, &none),
            "DROP AGGREGATE app.\"Total\"(*)"
        );
    }
}
