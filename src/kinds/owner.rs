//! Owners of schemas, tables, standalone sequences, types, views, materialized views,
//! functions, procedures and aggregates.
//!
//! Owners are compared only where the desired state names one (`owner:` for the objects in
//! a schema, `owners:` for the schema itself and for exceptions): then a different owner in the database is a finding
//! (D184) with the `ALTER ... OWNER TO` a human would run, and the owner is set — by reconcile
//! — only on objects the same plan creates, right after creating them. Changing the owner of
//! an existing object takes the old owner's privileges away with it, which is not reconcile's
//! to decide. Without a named owner, owners are not compared at all.
//!
//! A sequence OWNED BY a column (a serial) always has its table's owner, so it has none of
//! its own here.
//!
//! Views, materialized views and routines are declared in `.sql` files, which join the desired
//! state only once they are built on the scratch server — after the YAML is resolved. So the
//! YAML's `owner:` is kept aside per schema and given to them when they join it ([`complete`],
//! from `canon::sql::merge`), and an `owners:` exception naming one is checked then too
//! (`privilege::undeclared`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::grant::routine_key;
use super::{Catalog, Kind, NoYaml};
use crate::diff::{Change, Code, Diff, Finding, Severity};
use crate::ident::quote_literal;
use crate::load::error::{LoadError, Origin};
use crate::load::format::FileSpec;
use crate::load::format::{At, Entries};
use crate::load::resolve::{ParsedFile, Resolver};
use crate::model::{Ident, ObjectId, QualifiedName, Routine, RoutineKind, Schema};
use crate::plan::{Draft, Key, StepBuilder, StepKind, guard, stage};
use crate::pull::yaml::scalar;

/// Who owns an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub role: Ident,
}

/// The step that gives an object the plan has just created its owner: `ALTER ... OWNER TO`,
/// run only while the object belongs to the role applying the plan — the one that created
/// it. An object of the same name that someone else made (between plan and apply, or as
/// another kind of object that `IF NOT EXISTS` took for it) is left to its owner.
pub fn owner_step_sql(on: &ObjectId, role: &Ident) -> String {
    let me = "(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)";
    let owned_by_me = match on {
        ObjectId::Schema(s) => format!(
            "SELECT FROM pg_catalog.pg_namespace WHERE nspname = {} AND nspowner = {me}",
            quote_literal(s.as_str())
        ),
        ObjectId::Table(n) | ObjectId::Sequence(n) => format!(
            "SELECT FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass({}) \
             AND relkind IN ({}) AND relowner = {me}",
            quote_literal(&n.quoted()),
            if matches!(on, ObjectId::Sequence(_)) {
                "'S'"
            } else {
                "'r', 'p'"
            }
        ),
        ObjectId::Type(n) | ObjectId::Domain(n) => format!(
            "SELECT FROM pg_catalog.pg_type WHERE oid = pg_catalog.to_regtype({}) \
             AND typowner = {me}",
            quote_literal(&n.quoted())
        ),
        ObjectId::View(n) | ObjectId::MaterializedView(n) => format!(
            "SELECT FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass({}) \
             AND relkind = {} AND relowner = {me}",
            quote_literal(&n.quoted()),
            if matches!(on, ObjectId::View(_)) {
                "'v'"
            } else {
                "'m'"
            }
        ),
        ObjectId::Function { name, args }
        | ObjectId::Procedure { name, args }
        | ObjectId::Aggregate { name, args } => format!(
            "{} AND prokind = {} AND proowner = {me}",
            guard::routine_exists(name, args),
            match on {
                ObjectId::Procedure { .. } => "'p'",
                ObjectId::Aggregate { .. } => "'a'",
                _ => "'f'",
            }
        ),
        _ => "SELECT WHERE false".to_owned(),
    };
    guard::if_exists(&owned_by_me, &owner_sql(on, role))
}

/// `ALTER TABLE public.t OWNER TO app`.
pub fn owner_sql(on: &ObjectId, role: &Ident) -> String {
    format!("{}{}", owner_sql_prefix(on), role.quoted())
}

/// `ALTER TABLE public.t OWNER TO `: the statement up to the role.
pub fn owner_sql_prefix(on: &ObjectId) -> String {
    let (keyword, name) = match on {
        ObjectId::Schema(s) => ("SCHEMA", s.quoted()),
        ObjectId::Table(t) => ("TABLE", t.quoted()),
        ObjectId::Sequence(s) => ("SEQUENCE", s.quoted()),
        ObjectId::Type(t) => ("TYPE", t.quoted()),
        ObjectId::Domain(t) => ("DOMAIN", t.quoted()),
        ObjectId::View(v) => ("VIEW", v.quoted()),
        ObjectId::MaterializedView(v) => ("MATERIALIZED VIEW", v.quoted()),
        ObjectId::Function { name, args } => ("FUNCTION", signature(name, args)),
        ObjectId::Procedure { name, args } => ("PROCEDURE", signature(name, args)),
        // An aggregate of no arguments is written `(*)`; an ordered-set aggregate's direct
        // and aggregated arguments may be run into one list (ALTER AGGREGATE's short form).
        ObjectId::Aggregate { name, args } if args.is_empty() => {
            ("AGGREGATE", format!("{}(*)", name.quoted()))
        }
        ObjectId::Aggregate { name, args } => ("AGGREGATE", signature(name, args)),
        other => ("", other.to_string()),
    };
    format!("ALTER {keyword} {name} OWNER TO ")
}

/// `public.f(integer, text)`.
fn signature(name: &QualifiedName, args: &[String]) -> String {
    format!("{}({})", name.quoted(), args.join(", "))
}

/// The objects in `schema` (`None`: in every schema) that a model holds and that can have an
/// owner of their own here (schemas themselves not included).
fn owned_objects<'s>(
    model: &'s Schema,
    schema: Option<&'s Ident>,
) -> impl Iterator<Item = ObjectId> + 's {
    let in_schema = move |n: &&QualifiedName| schema.is_none_or(|s| &n.schema == s);
    let sequences = model
        .sequences
        .iter()
        .filter(move |(n, s)| in_schema(n) && s.owned_by.is_none())
        .map(|(n, _)| ObjectId::Sequence(n.clone()));
    let tables = model.tables.keys().filter(in_schema).cloned();
    let enums = model.enums.keys().filter(in_schema).cloned();
    let composites = model.composites.keys().filter(in_schema).cloned();
    let domains = model.domains.keys().filter(in_schema).cloned();
    let views = model.views.keys().filter(in_schema).cloned();
    let materialized_views = model.materialized_views.keys().filter(in_schema).cloned();
    let routines = model
        .functions
        .keys()
        .chain(model.aggregates.keys())
        .filter(move |k| in_schema(&&k.name))
        .map(Routine::id);
    tables
        .map(ObjectId::Table)
        .chain(sequences)
        .chain(enums.map(ObjectId::Type))
        .chain(composites.map(ObjectId::Type))
        .chain(domains.map(ObjectId::Domain))
        .chain(views.map(ObjectId::View))
        .chain(materialized_views.map(ObjectId::MaterializedView))
        .chain(routines)
}

/// Whether a database model has the object though it has no owner of its own there (a
/// sequence OWNED BY a column: every other object it has has an owner).
fn exists(model: &Schema, on: &ObjectId) -> bool {
    matches!(on, ObjectId::Sequence(s) if model.sequences.contains_key(s))
}

/// Whether the model holds the object as one with an owner of its own.
fn holds(model: &Schema, on: &ObjectId) -> bool {
    match on {
        ObjectId::Schema(s) => model.schemas.contains(s),
        ObjectId::Table(t) => model.tables.contains_key(t),
        ObjectId::Sequence(s) => model.sequences.get(s).is_some_and(|s| s.owned_by.is_none()),
        ObjectId::Type(t) => model.enums.contains_key(t) || model.composites.contains_key(t),
        ObjectId::Domain(t) => model.domains.contains_key(t),
        ObjectId::View(v) => model.views.contains_key(v),
        ObjectId::MaterializedView(v) => model.materialized_views.contains_key(v),
        ObjectId::Function { .. } | ObjectId::Procedure { .. } => {
            Routine::of(on).is_some_and(|k| model.functions.contains_key(&k))
        }
        ObjectId::Aggregate { .. } => {
            Routine::of(on).is_some_and(|k| model.aggregates.contains_key(&k))
        }
        _ => false,
    }
}

/// Gives the objects the `.sql` files declared (now in `desired`) the `owner:` of their
/// schema, unless an `owners:` exception names another (the objects of the YAML files already
/// have theirs). Run as the `.sql` files' objects join `desired` (`canon::sql::merge`): the
/// YAML is resolved before they are built (see the module's introduction).
pub fn complete(desired: &mut Schema) {
    let defaults = &desired.origins.owner_defaults;
    if defaults.is_empty() {
        return;
    }
    let owned: Vec<(ObjectId, Ident)> = owned_objects(desired, None)
        .filter(|on| !desired.owners.contains_key(on))
        .filter_map(|on| {
            let role = defaults.get(on.schema()?)?.clone();
            Some((on, role))
        })
        .collect();
    for (on, role) in owned {
        desired.owners.insert(on, Owner { role });
    }
}

/// Takes out of `out` the owner of any object the plan neither creates nor finds in the
/// database (one held back with a column it uses, or whose name another kind of object has):
/// reconcile sets an owner only right after creating its object, and a plan file whose owner
/// step follows no creation is refused (`apply::planfile`).
pub(crate) fn only_after_creation(out: &mut Diff, live: &Schema) {
    let created: std::collections::BTreeSet<ObjectId> = out
        .additive
        .iter()
        .filter(|c| !matches!(c, Change::Create(super::Created::Owner(..))))
        .map(Change::object)
        .collect();
    out.additive.retain(|c| match c {
        Change::Create(super::Created::Owner(on, _)) => created.contains(on) || holds(live, on),
        _ => true,
    });
}

pub(crate) struct OwnerKind;

impl Kind for OwnerKind {
    const NAME: &'static str = "owner";
    const SECTION: &'static str = "owners";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    const BUILT: bool = false;
    type Key = ObjectId;
    type Object = Owner;
    type Spec = NoYaml;

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        // Not a section of named entries: read whole by `resolve_files` (`owner:`, `owners:`).
        None
    }

    fn objects(schema: &Schema) -> &BTreeMap<ObjectId, Owner> {
        &schema.owners
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<ObjectId, Owner> {
        &mut schema.owners
    }

    fn id(key: &ObjectId) -> ObjectId {
        ObjectId::Owner(Box::new(key.clone()))
    }

    fn schema_of(key: &ObjectId) -> &Ident {
        key.schema().unwrap_or(&crate::ident::NO_SCHEMA)
    }

    fn resolve_files(r: &mut Resolver, files: &[(ParsedFile, Ident)]) {
        // `owner:`: one per schema for the objects in it (any file of the schema may say it,
        // all alike).
        let mut defaults: BTreeMap<&Ident, (Ident, Origin)> = BTreeMap::new();
        for (file, schema) in files {
            let Some(owner) = &file.spec.owner else {
                continue;
            };
            let origin = r.origin(&file.path, owner);
            let Some(role) = r.ident(&owner.value, &origin, "role") else {
                continue;
            };
            r.role_used(&role, &origin);
            match defaults.get(schema) {
                Some((first, at)) if *first != role => r.error(
                    LoadError::new(
                        origin,
                        format!(
                            "schema {schema} is given two owners: {first} (at {at}) and {role}"
                        ),
                    )
                    .help("say `owner:` once per schema, or name the exceptions under `owners:`"),
                ),
                Some(_) => {}
                None => {
                    // For the objects of the `.sql` files, given theirs once they are read.
                    r.schema_mut()
                        .origins
                        .owner_defaults
                        .insert(schema.clone(), role.clone());
                    defaults.insert(schema, (role, origin));
                }
            }
        }
        // `owners:`: exceptions, object by object.
        for (file, schema) in files {
            let Some(spec) = &file.spec.owners else {
                continue;
            };
            if let Some(role) = &spec.schema {
                exception(r, &file.path, ObjectId::Schema(schema.clone()), role);
            }
            let entries = [
                ("table", &spec.tables),
                ("sequence", &spec.sequences),
                ("type", &spec.types),
            ];
            for (what, names) in entries {
                for (name, role) in &names.0 {
                    let origin = r.origin(&file.path, name);
                    let Some(ident) = r.ident(&name.value, &origin, what) else {
                        continue;
                    };
                    let qualified = QualifiedName::new(schema.clone(), ident);
                    let model = r.schema();
                    let on = match what {
                        "table" => ObjectId::Table(qualified),
                        "sequence" => ObjectId::Sequence(qualified),
                        _ if model.domains.contains_key(&qualified) => ObjectId::Domain(qualified),
                        _ => ObjectId::Type(qualified),
                    };
                    if !holds(r.schema(), &on) {
                        let owned_serial = matches!(&on, ObjectId::Sequence(s)
                            if r.schema().sequences.get(s).is_some_and(|s| s.owned_by.is_some()));
                        let error = if owned_serial {
                            LoadError::new(
                                origin,
                                format!(
                                    "owners: {on} is OWNED BY a column: it has its table's owner"
                                ),
                            )
                            .help("name the owner of its table instead")
                        } else {
                            LoadError::new(origin, format!("owners: no {on} in the desired state"))
                                .help("declare it, or remove its owner")
                        };
                        r.error(error);
                        continue;
                    }
                    exception(r, &file.path, on, role);
                }
            }
            sql_exceptions(r, &file.path, schema, spec);
        }
        // The schema's `owner:` for every object in it the exceptions do not name.
        for (schema, (role, _)) in defaults {
            let objects: Vec<ObjectId> = owned_objects(r.schema(), Some(schema)).collect();
            for on in objects {
                r.schema_mut()
                    .owners
                    .entry(on)
                    .or_insert_with(|| Owner { role: role.clone() });
            }
        }
    }

    fn pull_section(schema: &Schema, namespace: &Ident) -> Option<String> {
        let owners: Vec<(ObjectId, &Ident)> = owned_objects(schema, Some(namespace))
            .filter_map(|on| schema.owners.get(&on).map(|o| (on, &o.role)))
            .collect();
        let schema_owner = schema
            .owners
            .get(&ObjectId::Schema(namespace.clone()))
            .map(|o| &o.role);
        // The commonest owner is the schema's `owner:`; the rest are exceptions.
        let mut counts: BTreeMap<&Ident, usize> = BTreeMap::new();
        for (_, role) in &owners {
            *counts.entry(role).or_default() += 1;
        }
        let common = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(role, _)| *role);
        if common.is_none() && schema_owner.is_none() {
            return None;
        }
        let mut out = String::new();
        if let Some(common) = common {
            let _ = writeln!(out, "\nowner: {}", scalar(common.as_str()));
        }
        let mut exceptions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (on, role) in &owners {
            if Some(*role) == common {
                continue;
            }
            let (section, name) = match on {
                ObjectId::Table(n) => ("tables", n.name.as_str().to_owned()),
                ObjectId::Sequence(n) => ("sequences", n.name.as_str().to_owned()),
                ObjectId::Type(n) | ObjectId::Domain(n) => ("types", n.name.as_str().to_owned()),
                ObjectId::View(n) => ("views", n.name.as_str().to_owned()),
                ObjectId::MaterializedView(n) => ("materialized_views", n.name.as_str().to_owned()),
                // As `grants:` names routines: the name as SQL writes it, the argument types
                // as PostgreSQL prints them.
                ObjectId::Function { name, args } => ("functions", routine_key(name, args)),
                ObjectId::Procedure { name, args } => ("procedures", routine_key(name, args)),
                ObjectId::Aggregate { name, args } => ("aggregates", routine_key(name, args)),
                _ => continue,
            };
            exceptions.entry(section).or_default().push(format!(
                "    {}: {}",
                scalar(&name),
                scalar(role.as_str())
            ));
        }
        if schema_owner.is_some() || !exceptions.is_empty() {
            let _ = writeln!(out, "\n{}:", Self::SECTION);
            if let Some(role) = schema_owner {
                let _ = writeln!(out, "  schema: {}", scalar(role.as_str()));
            }
            for (section, mut lines) in exceptions {
                lines.sort();
                let _ = writeln!(out, "  {section}:");
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        Some(out)
    }

    const CATALOG: Catalog = Catalog {
        name: "owners",
        sql: include_str!("sql/owners.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(ObjectId, Owner), sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let schema = Ident::from_catalog(row.try_get("schema")?);
        let name: Option<String> = row.try_get("name")?;
        let args = || -> Result<Vec<String>, sqlx::Error> {
            Ok(row
                .try_get::<Option<Vec<String>>, _>("args")?
                .unwrap_or_default())
        };
        let qualified = || {
            QualifiedName::new(
                schema.clone(),
                Ident::from_catalog(name.clone().unwrap_or_default()),
            )
        };
        let on = match kind.as_str() {
            "schema" => ObjectId::Schema(schema.clone()),
            "table" => ObjectId::Table(qualified()),
            "sequence" => ObjectId::Sequence(qualified()),
            "domain" => ObjectId::Domain(qualified()),
            "view" => ObjectId::View(qualified()),
            "materialized view" => ObjectId::MaterializedView(qualified()),
            "function" => ObjectId::Function {
                name: qualified(),
                args: args()?,
            },
            "procedure" => ObjectId::Procedure {
                name: qualified(),
                args: args()?,
            },
            "aggregate" => ObjectId::Aggregate {
                name: qualified(),
                args: args()?,
            },
            _ => ObjectId::Type(qualified()),
        };
        Ok((
            on,
            Owner {
                role: Ident::from_catalog(row.try_get("owner")?),
            },
        ))
    }

    /// Owners of objects the model leaves out (an inheritance child, say) go with them.
    fn settle(schema: &mut Schema) {
        let all = std::mem::take(&mut schema.owners);
        schema.owners = all
            .into_iter()
            .filter(|(on, _)| holds(schema, on))
            .collect();
    }

    const DIFFERS: Code = Code::Owner;
    const DIFFERS_MESSAGE: &'static str = "owned by another role than the desired state names";
    /// Never reported: an owner the desired state does not name is not compared (see
    /// [`OwnerKind::extra`]).
    const EXTRA: Code = Code::Owner;

    fn extra(_on: &ObjectId, _owner: &Owner, _live: &Schema, _desired: &Schema) -> Option<Finding> {
        None
    }

    fn diff(live: &Schema, desired: &Schema, options: &crate::diff::Options, out: &mut Diff) {
        for (on, wanted) in &desired.owners {
            // A partition the plan does not create (D170) gets no owner either.
            if on.table().is_some_and(|t| {
                options.unmanaged_tables.contains(t)
                    || crate::diff::partition_left_uncreated(live, desired, t)
            }) {
                continue;
            }
            match live.owners.get(on) {
                // An object the database has without an owner of its own here (a sequence
                // OWNED BY a column) keeps its table's; the difference is the sequence's.
                None if exists(live, on) => {}
                // The object does not exist: the plan creates it, then gives it its owner.
                None => out.additive.push(Change::Create(super::Created::Owner(
                    on.clone(),
                    wanted.clone(),
                ))),
                Some(had) if had != wanted => out.findings.push(
                    Finding::new(
                        Self::DIFFERS,
                        Severity::Risky,
                        Self::id(on),
                        format!(
                            "owned by {} in the database; the desired state names {} (changing \
                             it takes {}'s owner privileges away)",
                            had.role, wanted.role, had.role
                        ),
                    )
                    .suggest(owner_sql(on, &wanted.role)),
                ),
                Some(_) => {}
            }
        }
    }

    fn create(on: &ObjectId, owner: &Owner) -> String {
        owner_sql(on, &owner.role)
    }

    /// Never suggested: an owner is never extra ([`OwnerKind::extra`]).
    fn drop(on: &ObjectId) -> String {
        format!("-- {on} keeps an owner: nothing to remove")
    }

    fn steps(on: &ObjectId, owner: &Owner, out: &mut Vec<Draft>) {
        let mut b = StepBuilder::new(
            StepKind::SetOwner,
            stage::PRIVILEGES,
            on.table(),
            Self::id(on),
        )
        .sql(owner_step_sql(on, &owner.role));
        b = match on {
            ObjectId::Schema(s) => b.requires(Key::Schema(s.clone())),
            // After the sequences its columns own are attached: OWNED BY needs one owner for
            // both, and changing the table's owner changes theirs.
            ObjectId::Table(t) => b
                .requires(Key::Table(t.clone()))
                .requires(Key::NewColumns(t.clone()))
                .requires(Key::OwnedSequences(t.clone())),
            ObjectId::Sequence(s) => b.requires(Key::Sequence(s.clone())),
            ObjectId::Type(t) | ObjectId::Domain(t) => b.requires(Key::Type(t.clone())),
            // A view's creation provides its relation name, as a table's does.
            ObjectId::View(v) | ObjectId::MaterializedView(v) => b.requires(Key::Table(v.clone())),
            ObjectId::Function { name, args }
            | ObjectId::Procedure { name, args }
            | ObjectId::Aggregate { name, args } => {
                b.requires(Key::Routine(name.clone(), args.clone()))
            }
            _ => b,
        };
        b.push(out);
    }

    #[cfg(test)]
    fn samples() -> (ObjectId, [Owner; 2]) {
        (
            ObjectId::Schema(Ident::from_catalog("app".into())),
            [
                Owner {
                    role: Ident::from_catalog("reconcile owner".into()),
                },
                Owner {
                    role: Ident::from_catalog("reconcile sample".into()),
                },
            ],
        )
    }

    #[cfg(test)]
    const SAMPLE_SETUP: &'static str = "DO $$ BEGIN CREATE ROLE \"reconcile sample\"; \
        EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
        DO $$ BEGIN CREATE ROLE \"reconcile owner\"; \
        EXCEPTION WHEN duplicate_object THEN NULL; END $$";
}

/// One `owners:` entry.
fn exception(r: &mut Resolver, file: &std::path::Path, on: ObjectId, role: &At<String>) {
    let origin = r.origin(file, role);
    let Some(role) = r.ident(&role.value, &origin, "role") else {
        return;
    };
    r.role_used(&role, &origin);
    if r.declare(OwnerKind::id(&on), &origin) {
        r.schema_mut().owners.insert(on, Owner { role });
    }
}

/// The `owners:` entries naming objects of the `.sql` files — views, materialized views and
/// routines — which are read after the YAML: whether the desired state declares each is
/// checked once they are (`privilege::undeclared`).
fn sql_exceptions(r: &mut Resolver, file: &std::path::Path, schema: &Ident, spec: &OwnersSpec) {
    for (views, materialized) in [(&spec.views, false), (&spec.materialized_views, true)] {
        for (name, role) in &views.0 {
            let origin = r.origin(file, name);
            let what = if materialized {
                "materialized view"
            } else {
                "view"
            };
            let Some(ident) = r.ident(&name.value, &origin, what) else {
                continue;
            };
            let qualified = QualifiedName::new(schema.clone(), ident);
            let on = if materialized {
                ObjectId::MaterializedView(qualified)
            } else {
                ObjectId::View(qualified)
            };
            super::privilege::expect_in_sql(r.schema_mut(), &on, &origin, OwnerKind::SECTION);
            exception(r, file, on, role);
        }
    }
    let routines = [
        (&spec.functions, RoutineKind::Function),
        (&spec.procedures, RoutineKind::Procedure),
        (&spec.aggregates, RoutineKind::Aggregate),
    ];
    for (entries, kind) in routines {
        for (text, role) in &entries.0 {
            let origin = r.origin(file, text);
            let Some((name, args)) =
                super::grant::routine_signature(r, &text.value, schema, &origin)
            else {
                continue;
            };
            let on = Routine {
                name: QualifiedName::new(schema.clone(), name),
                args,
                kind,
            }
            .id();
            super::privilege::expect_in_sql(r.schema_mut(), &on, &origin, OwnerKind::SECTION);
            exception(r, file, on, role);
        }
    }
}

/// `owners:` of a file: objects owned by another role than the schema's `owner:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Owners")]
pub(crate) struct OwnersSpec {
    /// The role owning the schema itself.
    pub schema: Option<At<String>>,
    /// Table → owning role.
    #[serde(default)]
    pub tables: Entries<At<String>>,
    /// Standalone sequence → owning role.
    #[serde(default)]
    pub sequences: Entries<At<String>>,
    /// Enum, composite type or domain → owning role.
    #[serde(default)]
    pub types: Entries<At<String>>,
    /// View (declared in a `.sql` file) → owning role.
    #[serde(default)]
    pub views: Entries<At<String>>,
    /// Materialized view (declared in a `.sql` file) → owning role.
    #[serde(default)]
    pub materialized_views: Entries<At<String>>,
    /// `name(argument types)`, as PostgreSQL prints them (as under `grants:`) → owning role.
    #[serde(default)]
    pub functions: Entries<At<String>>,
    /// `name(argument types)` → owning role.
    #[serde(default)]
    pub procedures: Entries<At<String>>,
    /// `name(argument types)` (`name()` for an aggregate of `*`) → owning role.
    #[serde(default)]
    pub aggregates: Entries<At<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Created;
    use crate::kinds::view::ViewKind;

    fn name(schema: &str, name: &str) -> QualifiedName {
        QualifiedName::new(
            Ident::from_catalog(schema.into()),
            Ident::from_catalog(name.into()),
        )
    }

    #[test]
    fn owner_statements_name_each_kind_as_alter_does() {
        let role = Ident::from_catalog("App Owner".into());
        let routine = |kind, args: &[&str]| {
            Routine {
                name: name("app", "Total"),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                kind,
            }
            .id()
        };
        for (on, sql) in [
            (
                ObjectId::View(name("app", "v")),
                "ALTER VIEW app.v OWNER TO \"App Owner\"",
            ),
            (
                ObjectId::MaterializedView(name("app", "mv")),
                "ALTER MATERIALIZED VIEW app.mv OWNER TO \"App Owner\"",
            ),
            (
                routine(RoutineKind::Function, &["integer", "character varying"]),
                "ALTER FUNCTION app.\"Total\"(integer, character varying) OWNER TO \"App Owner\"",
            ),
            (
                routine(RoutineKind::Procedure, &[]),
                "ALTER PROCEDURE app.\"Total\"() OWNER TO \"App Owner\"",
            ),
            (
                routine(RoutineKind::Aggregate, &[]),
                "ALTER AGGREGATE app.\"Total\"(*) OWNER TO \"App Owner\"",
            ),
            (
                routine(RoutineKind::Aggregate, &["integer"]),
                "ALTER AGGREGATE app.\"Total\"(integer) OWNER TO \"App Owner\"",
            ),
        ] {
            assert_eq!(owner_sql(&on, &role), sql);
            // The guarded step runs exactly that statement, and only on the object's kind.
            let step = owner_step_sql(&on, &role);
            assert!(step.contains(&format!("{sql};")), "{step}");
            let kind_check = match on {
                ObjectId::View(_) => "relkind = 'v'",
                ObjectId::MaterializedView(_) => "relkind = 'm'",
                ObjectId::Procedure { .. } => "prokind = 'p'",
                ObjectId::Aggregate { .. } => "prokind = 'a'",
                _ => "prokind = 'f'",
            };
            assert!(step.contains(kind_check), "{step}");
        }
    }

    /// `ignore_objects` patterns match the owner of a view or routine by its name.
    #[test]
    fn the_owner_of_a_view_is_ignored_with_the_view() {
        let options = crate::pipeline::Options {
            ignore_objects: vec![glob::Pattern::new("public.tmp_*").expect("a pattern")],
            ..Default::default()
        };
        let owner = ObjectId::Owner(Box::new(ObjectId::View(name("public", "tmp_v"))));
        assert!(options.ignores(&owner));
        let owner = ObjectId::Owner(Box::new(ObjectId::View(name("public", "kept"))));
        assert!(!options.ignores(&owner));
    }

    /// An owner change is kept only for an object the diff creates (or that the database has).
    #[test]
    fn owners_follow_only_creations() {
        let view = |n: &str| ObjectId::View(name("public", n));
        let owner = Owner {
            role: Ident::from_catalog("app".into()),
        };
        let (key, object) = ViewKind::samples();
        let mut out = Diff::default();
        out.additive.push(Change::Create(Created::View(
            name("public", "made"),
            object[0].clone(),
        )));
        for n in ["made", "not_made"] {
            out.additive
                .push(Change::Create(Created::Owner(view(n), owner.clone())));
        }
        let mut live = Schema::default();
        live.views.insert(key.clone(), object[0].clone());
        out.additive
            .push(Change::Create(Created::Owner(ObjectId::View(key), owner)));
        only_after_creation(&mut out, &live);
        let kept: Vec<ObjectId> = out.additive.iter().map(Change::object).collect();
        assert_eq!(
            kept,
            [
                view("made"),
                ObjectId::Owner(Box::new(view("made"))),
                ObjectId::Owner(Box::new(ObjectId::View(ViewKind::samples().0))),
            ]
        );
    }
}
