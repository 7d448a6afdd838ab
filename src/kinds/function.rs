//! Functions and procedures: declared in `.sql` files (`CREATE FUNCTION`, `CREATE
//! PROCEDURE`), one object per overload (name and argument types), compared in the server's
//! own words (`pg_get_functiondef` of the function as built on the scratch server).
//!
//! A missing function is created (`CREATE FUNCTION` in a catalog-guarded block, with
//! `check_function_bodies` off as pg_dump does, so a body may name what is created after it).
//! A changed definition is replaced in place (`CREATE OR REPLACE`, a replace step, H013) when
//! PostgreSQL allows it — the same result type and output columns, no input argument
//! renamed, no default removed; otherwise it is D163, with the DROP and CREATE a human would
//! run and what uses the function. An extra function or procedure is D162.
//!
//! What a function uses — the types of its arguments and result (a relation's row type
//! counts as the relation), and the tables and functions a `BEGIN ATOMIC` body reads — comes
//! from PostgreSQL's own dependency records (pg_depend) and orders its creation; whatever
//! calls a function (a column default, a check, an index expression, a domain, a view) is
//! created after it. Functions are prerequisites of canonicalisation: the scratch server
//! builds them before the tables whose defaults call them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind, NoYaml, Replaceable, Replaced};
use crate::diff::{Code, Finding, Severity};
use crate::load::format::{Entries, FileSpec};
use crate::model::{ConstraintKind, Ident, IndexTarget, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, HazardCode, Key, StepBuilder, StepKind, guard, refs, stage};

/// Which of PostgreSQL's routines an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoutineKind {
    Function,
    Procedure,
    Aggregate,
}

/// What tells functions, procedures and aggregates apart: the name, the argument types (as
/// `format_type` prints them under `search_path = public`, the identity PostgreSQL gives
/// overloads) and which of the three it is. Serialised as its [`ObjectId`] text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Routine {
    pub name: QualifiedName,
    pub args: Vec<String>,
    pub kind: RoutineKind,
}

impl Routine {
    pub fn id(&self) -> ObjectId {
        let (name, args) = (self.name.clone(), self.args.clone());
        match self.kind {
            RoutineKind::Function => ObjectId::Function { name, args },
            RoutineKind::Procedure => ObjectId::Procedure { name, args },
            RoutineKind::Aggregate => ObjectId::Aggregate { name, args },
        }
    }

    /// The routine an id names (`None` for an id of another kind).
    pub fn of(id: &ObjectId) -> Option<Routine> {
        let kind = match id {
            ObjectId::Function { .. } => RoutineKind::Function,
            ObjectId::Procedure { .. } => RoutineKind::Procedure,
            ObjectId::Aggregate { .. } => RoutineKind::Aggregate,
            _ => return None,
        };
        let (name, args) = signature_of(id)?;
        Some(Routine {
            name: name.clone(),
            args: args.to_vec(),
            kind,
        })
    }

    /// `schema.name(type, type)`, as `DROP FUNCTION` takes it.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name.quoted(), self.args.join(", "))
    }

    /// Whether `id` names this routine (views and dependency lists say `function` for any
    /// of the three).
    fn is(&self, id: &ObjectId) -> bool {
        signature_of(id).is_some_and(|(name, args)| *name == self.name && args == self.args)
    }
}

/// Name and argument types of a function, procedure or aggregate id.
pub(crate) fn signature_of(id: &ObjectId) -> Option<(&QualifiedName, &[String])> {
    match id {
        ObjectId::Function { name, args }
        | ObjectId::Procedure { name, args }
        | ObjectId::Aggregate { name, args } => Some((name, args)),
        _ => None,
    }
}

impl fmt::Display for Routine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id().fmt(f)
    }
}

impl Serialize for Routine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.id())
    }
}

impl<'de> Deserialize<'de> for Routine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id: ObjectId = String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)?;
        let kind = match id {
            ObjectId::Function { .. } => RoutineKind::Function,
            ObjectId::Procedure { .. } => RoutineKind::Procedure,
            ObjectId::Aggregate { .. } => RoutineKind::Aggregate,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "{other} is not a function, procedure or aggregate"
                )));
            }
        };
        let Some((name, args)) = signature_of(&id) else {
            return Err(serde::de::Error::custom("not a routine"));
        };
        Ok(Routine {
            name: name.clone(),
            args: args.to_vec(),
            kind,
        })
    }
}

/// What a function or aggregate uses, from PostgreSQL's dependency records: what must exist
/// before it is created. PostgreSQL's and extensions' own objects are not listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uses {
    /// Types of its arguments and result (enums, domains, composites).
    pub types: Vec<QualifiedName>,
    /// Relations: row types of arguments and results, and what a `BEGIN ATOMIC` body reads.
    pub relations: Vec<QualifiedName>,
    /// Functions a `BEGIN ATOMIC` body calls; an aggregate's support functions.
    pub calls: Vec<ObjectId>,
}

impl Uses {
    /// The `types`, `relations` and `calls` columns of a catalog row.
    pub(crate) fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let names = |column: &str| -> Result<Vec<QualifiedName>, sqlx::Error> {
            let texts: Vec<String> = row.try_get(column)?;
            Ok(texts.iter().filter_map(|t| qualified(t)).collect())
        };
        let calls: Vec<String> = row.try_get("calls")?;
        Ok(Uses {
            types: names("types")?,
            relations: names("relations")?,
            calls: calls.iter().filter_map(|c| c.parse().ok()).collect(),
        })
    }

    /// The plan keys of what it uses (relations with the columns a plan adds to them).
    pub(crate) fn requirements(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.types.iter().cloned().map(Key::Type).collect();
        for relation in &self.relations {
            keys.extend([
                Key::Table(relation.clone()),
                Key::NewColumns(relation.clone()),
                Key::Type(relation.clone()),
                Key::Sequence(relation.clone()),
            ]);
        }
        keys.extend(
            self.calls
                .iter()
                .filter_map(signature_of)
                .map(|(name, args)| Key::Routine(name.clone(), args.to_vec())),
        );
        keys
    }
}

/// `schema.name` (as `quote_ident` writes each part) → the name.
fn qualified(text: &str) -> Option<QualifiedName> {
    let parts = crate::ident::parse_dotted(text)?;
    let [schema, name] = parts.as_slice() else {
        return None;
    };
    Some(QualifiedName::new(
        Ident::from_catalog(schema.clone()),
        Ident::from_catalog(name.clone()),
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// `pg_get_functiondef`: `CREATE OR REPLACE FUNCTION ...` (or `PROCEDURE`), without the
    /// final line break.
    pub definition: String,
    /// `pg_get_function_result` (`integer`, `SETOF t`, `TABLE(a integer)`); none for a
    /// procedure.
    pub result: Option<String>,
    /// Names of the input arguments, in order (empty for an unnamed one).
    pub input_names: Vec<String>,
    /// The output columns (`OUT`, `INOUT` and `TABLE` arguments), `name type`.
    pub outputs: Vec<String>,
    /// How many input arguments have defaults (the last ones).
    pub defaults: i32,
    pub uses: Uses,
}

impl Function {
    /// Whether `CREATE OR REPLACE` can turn `self` into `other` (PostgreSQL refuses to
    /// change the result type or output columns, rename an input argument or drop a default).
    fn replaceable_by(&self, other: &Function) -> bool {
        self.result == other.result
            && self.outputs == other.outputs
            && self.defaults <= other.defaults
            && self.input_names.len() == other.input_names.len()
            && self
                .input_names
                .iter()
                .zip(&other.input_names)
                .all(|(old, new)| old.is_empty() || old == new)
    }

    /// The definition as a creation (`CREATE FUNCTION`, not `CREATE OR REPLACE`).
    fn creation(&self) -> String {
        match self.definition.strip_prefix("CREATE OR REPLACE ") {
            Some(rest) => format!("CREATE {rest}"),
            None => self.definition.clone(),
        }
    }
}

pub(crate) struct FunctionKind;

impl Kind for FunctionKind {
    const NAME: &'static str = "function";
    const SECTION: &'static str = "functions";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    // Column defaults, checks, index expressions and domains call them: the scratch server
    // builds them before any table.
    const PREREQUISITE: bool = true;
    type Key = Routine;
    type Object = Function;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<Routine, Function> {
        &schema.functions
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<Routine, Function> {
        &mut schema.functions
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
        signature_taken_by(key, live)
    }

    fn pull_sql(key: &Routine, function: &Function) -> Option<String> {
        Some(Self::create(key, function))
    }

    const CATALOG: Catalog = Catalog {
        name: "functions",
        sql: include_str!("sql/functions.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(Routine, Function), sqlx::Error> {
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        let procedure: bool = row.try_get("procedure")?;
        let definition: String = row.try_get("definition")?;
        Ok((
            Routine {
                name,
                args: row.try_get("args")?,
                kind: if procedure {
                    RoutineKind::Procedure
                } else {
                    RoutineKind::Function
                },
            },
            Function {
                definition: definition.trim_end().to_owned(),
                result: row.try_get("result")?,
                input_names: row.try_get("input_names")?,
                outputs: row.try_get("outputs")?,
                defaults: row.try_get("defaults")?,
                uses: Uses::from_row(row)?,
            },
        ))
    }

    fn leave_out_unbuilt(schema: &mut Schema, built: &dyn Fn(&QualifiedName) -> bool) {
        leave_out_unbuildable(schema, built);
    }

    const DIFFERS: Code = Code::FunctionDefinition;
    const DIFFERS_MESSAGE: &'static str = "the definition differs in a way CREATE OR REPLACE cannot apply (the result type or \
         output columns change, an argument is renamed or loses its default)";
    const EXTRA: Code = Code::ExtraFunction;

    fn extra(key: &Routine, _f: &Function, live: &Schema, _desired: &Schema) -> Option<Finding> {
        Some(
            Finding::new(
                Self::EXTRA,
                Severity::Risky,
                key.id(),
                "in the database, not in the desired state",
            )
            .suggest(format!("{}{}", used_by_comment(live, key), Self::drop(key))),
        )
    }

    fn differs_suggestion(
        key: &Routine,
        _live: &Function,
        desired: &Function,
        live_schema: &Schema,
        replaceable: bool,
    ) -> String {
        if replaceable {
            return Self::replace(key, desired);
        }
        format!(
            "{}{};\n{}",
            used_by_comment(live_schema, key),
            Self::drop(key),
            Self::create(key, desired)
        )
    }

    fn create(_key: &Routine, function: &Function) -> String {
        function.creation()
    }

    fn drop(key: &Routine) -> String {
        let what = match key.kind {
            RoutineKind::Procedure => "PROCEDURE",
            _ => "FUNCTION",
        };
        format!("DROP {what} {}", key.signature())
    }

    fn steps(key: &Routine, function: &Function, out: &mut Vec<Draft>) {
        StepBuilder::new(StepKind::CreateFunction, stage::CATALOG, None, key.id())
            .sql(guard::unless_routine_exists(
                &guard::routine_exists(&key.name, &key.args),
                &Self::create(key, function),
            ))
            .requires(Key::Schema(key.name.schema.clone()))
            .requires(Key::Extensions)
            .requires_all(function.uses.requirements())
            .provides(Key::Function(key.name.clone()))
            .provides(Key::Routine(key.name.clone(), key.args.clone()))
            .push(out);
    }

    fn replacement(key: &Routine, live: &Function, desired: &Function) -> Option<Replaced> {
        live.replaceable_by(desired).then(|| Replaced::Function {
            key: key.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    #[cfg(test)]
    fn samples() -> (Routine, [Function; 2]) {
        let key = Routine {
            name: QualifiedName::new(
                Ident::from_catalog("app".into()),
                Ident::from_catalog("Answer".into()),
            ),
            args: vec!["integer".into()],
            kind: RoutineKind::Function,
        };
        let plain = Function {
            definition: "CREATE OR REPLACE FUNCTION app.\"Answer\"(x integer)\n RETURNS integer\n \
                         LANGUAGE sql\n IMMUTABLE\nAS $function$SELECT x + 42$function$"
                .into(),
            result: Some("integer".into()),
            input_names: vec!["x".into()],
            outputs: vec![],
            defaults: 0,
            uses: Uses::default(),
        };
        let atomic = Function {
            definition: "CREATE OR REPLACE FUNCTION app.\"Answer\"(x integer)\n RETURNS integer\n \
                         LANGUAGE sql\n STABLE PARALLEL SAFE STRICT SECURITY DEFINER\n SET \
                         search_path TO 'pg_catalog'\nBEGIN ATOMIC\n SELECT (x + 43);\nEND"
                .into(),
            ..plain.clone()
        };
        (key, [plain, atomic])
    }
}

impl Replaceable for FunctionKind {
    fn replace(_key: &Routine, function: &Function) -> String {
        function.definition.clone()
    }

    fn replace_steps(
        key: &Routine,
        previous: &Function,
        function: &Function,
        out: &mut Vec<Draft>,
    ) {
        replace_step(
            key,
            Self::replace(key, function),
            Self::replace(key, previous),
            &function.uses,
            out,
        );
    }
}

/// The replace step of a function, procedure or aggregate. It runs after the tables and
/// columns of the plan (a SQL function's body is checked against them as it is replaced),
/// and provides nothing: the routine exists before it, with the same signature.
pub(crate) fn replace_step(
    key: &Routine,
    sql: String,
    previous: String,
    uses: &Uses,
    out: &mut Vec<Draft>,
) {
    StepBuilder::new(StepKind::Replace, stage::VIEWS, None, key.id())
        .sql(sql)
        .previous(previous)
        .hazard(
            HazardCode::ReplacesDefinition,
            format!(
                "replaces the definition of {key} in place: every caller uses the new one from \
                 the commit on"
            ),
        )
        .requires_all(uses.requirements())
        .push(out);
}

/// Which other routine kind `live` has under the name and argument types of `key` (a
/// function where a procedure is wanted, say): PostgreSQL keeps one routine per signature,
/// so creating it would fail, or be skipped by its guard forever.
pub(crate) fn signature_taken_by(key: &Routine, live: &Schema) -> Option<&'static str> {
    live.functions
        .keys()
        .chain(live.aggregates.keys())
        .find(|k| k.kind != key.kind && k.name == key.name && k.args == key.args)
        .map(|k| match k.kind {
            RoutineKind::Function => "function",
            RoutineKind::Procedure => "procedure",
            RoutineKind::Aggregate => "aggregate",
        })
}

/// `-- Used by ...` lines naming what in `live` calls the routine (empty when nothing does).
pub(crate) fn used_by_comment(live: &Schema, key: &Routine) -> String {
    let users = used_by(live, key);
    if users.is_empty() {
        return String::new();
    }
    let names: Vec<String> = users.iter().map(ToString::to_string).collect();
    format!(
        "-- Used by (drop them first, create them again after): {}\n",
        names.join(", ")
    )
}

/// What in `schema` calls the routine: views, functions and aggregates by their dependency
/// records; column defaults and generated columns, checks, index expressions and domains by
/// the functions their expressions name (any overload of the name).
pub(crate) fn used_by(schema: &Schema, key: &Routine) -> Vec<ObjectId> {
    let names = |text: &str| refs::functions(text).contains(&key.name);
    let mut out = BTreeSet::new();
    for (name, view) in &schema.views {
        if view.functions.iter().any(|f| key.is(f)) {
            out.insert(ObjectId::View(name.clone()));
        }
    }
    for (other, f) in &schema.functions {
        if f.uses.calls.iter().any(|c| key.is(c)) {
            out.insert(other.id());
        }
    }
    for (other, a) in &schema.aggregates {
        if a.uses.calls.iter().any(|c| key.is(c)) {
            out.insert(other.id());
        }
    }
    for (name, domain) in &schema.domains {
        if domain
            .checks
            .values()
            .chain(&domain.default)
            .any(|e| names(e))
        {
            out.insert(ObjectId::Domain(name.clone()));
        }
    }
    for (table_name, table) in &schema.tables {
        for column in &table.columns {
            if column
                .default
                .iter()
                .map(String::as_str)
                .chain(column.generated())
                .any(&names)
            {
                out.insert(ObjectId::column(table_name, &column.name));
            }
        }
        for (name, constraint) in &table.constraints {
            let calls = match &constraint.kind {
                ConstraintKind::Check { expression, .. } => names(expression),
                _ => false,
            };
            if calls {
                out.insert(ObjectId::constraint(table_name, name));
            }
        }
        for (name, index) in &table.indexes {
            let calls = index
                .keys
                .iter()
                .filter_map(|k| match &k.target {
                    IndexTarget::Expression(e) => Some(e.as_str()),
                    IndexTarget::Column(_) => None,
                })
                .chain(index.predicate.as_deref())
                .any(names);
            if calls {
                out.insert(ObjectId::index(table_name, name));
            }
        }
    }
    out.into_iter().collect()
}

/// Takes out of `schema` the functions and aggregates the scratch server cannot build with
/// the tables it builds: those whose argument or result types, or `BEGIN ATOMIC` bodies, use
/// a relation it does not build (views are never built there), and those calling one taken
/// out. They are put back afterwards, as written (see `canon`).
pub(crate) fn leave_out_unbuildable(schema: &mut Schema, built: &dyn Fn(&QualifiedName) -> bool) {
    loop {
        let present = |id: &ObjectId| {
            signature_of(id).is_some_and(|(name, args)| {
                let same = |k: &Routine| k.name == *name && k.args == args;
                schema.functions.keys().any(same) || schema.aggregates.keys().any(same)
            })
        };
        let unbuildable = |uses: &Uses| {
            uses.relations
                .iter()
                .any(|r| !built(r) && !schema.sequences.contains_key(r))
                || uses.calls.iter().any(|c| !present(c))
        };
        let functions: Vec<Routine> = schema
            .functions
            .iter()
            .filter(|(_, f)| unbuildable(&f.uses))
            .map(|(k, _)| k.clone())
            .collect();
        let aggregates: Vec<Routine> = schema
            .aggregates
            .iter()
            .filter(|(_, a)| unbuildable(&a.uses))
            .map(|(k, _)| k.clone())
            .collect();
        if functions.is_empty() && aggregates.is_empty() {
            return;
        }
        for key in functions {
            schema.functions.remove(&key);
        }
        for key in aggregates {
            schema.aggregates.remove(&key);
        }
    }
}

/// The functions and aggregates of a catalog read that cannot be written as a desired state
/// that loads: they use a type, relation or function reconcile does not model (a range type,
/// a materialized view, a table outside the scope, a window function, ...), so the scratch
/// server could not build them. Each with the reason.
pub(crate) fn unmanaged(schema: &Schema) -> Vec<(Routine, &'static str)> {
    let modelled_type = |t: &QualifiedName| {
        schema.enums.contains_key(t)
            || schema.domains.contains_key(t)
            || schema.composites.contains_key(t)
    };
    let modelled_relation = |r: &QualifiedName| {
        schema.tables.contains_key(r)
            || schema.views.contains_key(r)
            || schema.materialized_views.contains_key(r)
            || schema.sequences.contains_key(r)
    };
    let present = |id: &ObjectId| {
        signature_of(id).is_some_and(|(name, args)| {
            let same = |k: &Routine| k.name == *name && k.args == args;
            schema.functions.keys().any(same) || schema.aggregates.keys().any(same)
        })
    };
    let reason = |uses: &Uses| {
        if uses.types.iter().any(|t| !modelled_type(t)) {
            Some("it uses a type reconcile does not manage (yet)")
        } else if uses.relations.iter().any(|r| !modelled_relation(r)) {
            Some("it uses a relation reconcile does not manage (yet)")
        } else if uses.calls.iter().any(|c| !present(c)) {
            Some("it calls a function reconcile does not manage (yet)")
        } else {
            None
        }
    };
    let mut out: Vec<(Routine, &'static str)> = schema
        .functions
        .iter()
        .filter_map(|(k, f)| Some((k.clone(), reason(&f.uses)?)))
        .collect();
    out.extend(
        schema
            .aggregates
            .iter()
            .filter_map(|(k, a)| Some((k.clone(), reason(&a.uses)?))),
    );
    out
}

/// A routine's argument types as `pg_catalog.oidvectortypes` prints them (`integer, text`;
/// empty for none), one per argument: how catalog queries name a routine's overload.
pub(crate) fn argument_types(printed: Option<&str>) -> Vec<String> {
    printed
        .filter(|a| !a.is_empty())
        .map(|a| a.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Takes out of a scratch build the functions and aggregates nothing in it may call: every
/// scratch transaction builds the routines first, and at thousands of them (trigger
/// functions, say) that was a large part of building a handful of changed tables. A routine is
/// kept when its name is a word of anything else the build holds (`extra_texts`: what is built
/// beside the model, a policy's expressions) — an over-approximation — and so is every routine
/// a kept one calls. What is left out comes back from the desired state afterwards
/// (`Kind::restore` via `canon`), as it is: nothing built here prints differently without
/// it, since nothing names it.
pub(crate) fn leave_out_uncalled(schema: &mut Schema, extra_texts: &[&str]) {
    if schema.functions.is_empty() && schema.aggregates.is_empty() {
        return;
    }
    let functions = std::mem::take(&mut schema.functions);
    let aggregates = std::mem::take(&mut schema.aggregates);
    let mut words: BTreeSet<String> = BTreeSet::new();
    let mut add_words = |text: &str| {
        words.extend(
            text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase),
        );
    };
    if let Ok(text) = serde_json::to_string(&*schema) {
        add_words(&text);
    }
    extra_texts.iter().for_each(|t| add_words(t));
    let mut keep: BTreeSet<&QualifiedName> = BTreeSet::new();
    let named = |name: &QualifiedName| words.contains(&name.name.as_str().to_lowercase());
    keep.extend(functions.keys().map(|k| &k.name).filter(|n| named(n)));
    keep.extend(aggregates.keys().map(|k| &k.name).filter(|n| named(n)));
    // And what those call, until nothing is added.
    loop {
        let before = keep.len();
        let calls: Vec<&QualifiedName> = functions
            .iter()
            .map(|(k, f)| (k, &f.uses))
            .chain(aggregates.iter().map(|(k, a)| (k, &a.uses)))
            .filter(|(k, _)| keep.contains(&k.name))
            .flat_map(|(_, uses)| {
                uses.calls
                    .iter()
                    .filter_map(|c| signature_of(c).map(|s| s.0))
            })
            .collect();
        keep.extend(calls);
        if keep.len() == before {
            break;
        }
    }
    schema.functions = functions
        .iter()
        .filter(|(k, _)| keep.contains(&k.name))
        .map(|(k, f)| (k.clone(), f.clone()))
        .collect();
    schema.aggregates = aggregates
        .iter()
        .filter(|(k, _)| keep.contains(&k.name))
        .map(|(k, a)| (k.clone(), a.clone()))
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(result: &str, names: &[&str], outputs: &[&str], defaults: i32) -> Function {
        Function {
            definition: String::new(),
            result: Some(result.into()),
            input_names: names.iter().map(|n| (*n).to_owned()).collect(),
            outputs: outputs.iter().map(|n| (*n).to_owned()).collect(),
            defaults,
            uses: Uses::default(),
        }
    }

    /// A scratch build keeps the routines its tables (or the extra texts) name, and what
    /// those call; the rest stay out.
    #[test]
    fn only_called_routines_are_built() {
        use crate::model::{Column, Table};
        let routine = |name: &str| Routine {
            name: QualifiedName::new(
                Ident::from_catalog("public".into()),
                Ident::from_catalog(name.into()),
            ),
            args: vec![],
            kind: RoutineKind::Function,
        };
        let mut schema = Schema::default();
        let mut calls_helper = function("integer", &[], &[], 0);
        calls_helper.uses.calls = vec![routine("helper").id()];
        schema.functions.insert(routine("next_code"), calls_helper);
        schema
            .functions
            .insert(routine("helper"), function("integer", &[], &[], 0));
        schema
            .functions
            .insert(routine("unrelated"), function("trigger", &[], &[], 0));
        schema
            .functions
            .insert(routine("in_policy"), function("boolean", &[], &[], 0));
        let mut table = Table::default();
        let mut column = Column::new(Ident::from_catalog("code".into()), "integer");
        column.default = Some("next_code()".into());
        table.columns.push(column);
        schema.tables.insert(
            QualifiedName::new(
                Ident::from_catalog("public".into()),
                Ident::from_catalog("t".into()),
            ),
            table,
        );
        leave_out_uncalled(&mut schema, &["in_policy() AND true"]);
        let kept: Vec<&str> = schema
            .functions
            .keys()
            .map(|k| k.name.name.as_str())
            .collect();
        assert_eq!(kept, ["helper", "in_policy", "next_code"]);
        assert_eq!(schema.tables.len(), 1, "the tables stay");
    }

    #[test]
    fn what_create_or_replace_can_change() {
        let base = function("integer", &["a", ""], &[], 1);
        assert!(base.replaceable_by(&base));
        // A name for an unnamed argument, one more default: allowed.
        assert!(base.replaceable_by(&function("integer", &["a", "b"], &[], 2)));
        // The result type, a renamed argument, a dropped default, other output columns: not.
        assert!(!base.replaceable_by(&function("bigint", &["a", ""], &[], 1)));
        assert!(!base.replaceable_by(&function("integer", &["z", ""], &[], 1)));
        assert!(!base.replaceable_by(&function("integer", &["a", ""], &[], 0)));
        let table = function("TABLE(x integer)", &[], &["x integer"], 0);
        assert!(!table.replaceable_by(&function("TABLE(x integer)", &[], &["y integer"], 0)));
    }

    #[test]
    fn a_creation_is_not_a_replace() {
        let (key, [plain, _]) = FunctionKind::samples();
        let create = FunctionKind::create(&key, &plain);
        assert!(create.starts_with("CREATE FUNCTION app.\"Answer\"(x integer)"));
        assert!(FunctionKind::replace(&key, &plain).starts_with("CREATE OR REPLACE FUNCTION"));
        assert_eq!(
            FunctionKind::drop(&key),
            "DROP FUNCTION app.\"Answer\"(integer)"
        );
    }

    #[test]
    fn the_key_reads_back_from_its_text() {
        let key = Routine {
            name: QualifiedName::new(
                Ident::from_catalog("a b".into()),
                Ident::from_catalog("f".into()),
            ),
            args: vec!["integer".into(), "\"odd, type\"".into()],
            kind: RoutineKind::Procedure,
        };
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(
            json,
            "\"procedure \\\"a b\\\".f(integer, \\\"odd, type\\\")\""
        );
        assert_eq!(serde_json::from_str::<Routine>(&json).unwrap(), key);
    }

    #[test]
    fn a_function_on_a_view_is_left_out_of_a_scratch_build_and_so_are_its_callers() {
        let name = |n: &str| {
            QualifiedName::new(
                Ident::from_catalog("public".into()),
                Ident::from_catalog(n.into()),
            )
        };
        let key = |n: &str| Routine {
            name: name(n),
            args: vec![],
            kind: RoutineKind::Function,
        };
        let mut schema = Schema::default();
        let mut on_view = function("SETOF v", &[], &[], 0);
        on_view.uses.relations.push(name("v"));
        let mut caller = function("integer", &[], &[], 0);
        caller.uses.calls.push(key("on_view").id());
        let plain = function("integer", &[], &[], 0);
        schema.functions.insert(key("on_view"), on_view);
        schema.functions.insert(key("caller"), caller);
        schema.functions.insert(key("plain"), plain);
        leave_out_unbuildable(&mut schema, &|_| false);
        assert_eq!(schema.functions.keys().collect::<Vec<_>>(), [&key("plain")]);
    }
}
