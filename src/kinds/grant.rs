//! Privileges on schemas, tables, columns, sequences, views, types and routines (`GRANT`).
//!
//! One object of this kind is one privilege of one grantee on one object, whoever granted it
//! ([`GrantKey`]). What the database has beyond PostgreSQL's built-in default is modelled:
//! the owner's own privileges are implicit and never listed, and PUBLIC's default privilege
//! (EXECUTE on routines, USAGE on types, and the USAGE on schema `public` that initdb gives)
//! is listed only when it is revoked ([`Grant::Revoked`]).
//!
//! The rule: a missing privilege is granted (additive, and only after the object it is on
//! exists); a grant option the database lacks is granted too; a privilege or grant option the
//! database has and the desired state does not is a finding with the `REVOKE` a human would
//! run (D180, D181) — reconcile never revokes. A default PUBLIC privilege the database revoked
//! is a finding as well (D182), with the GRANT that restores it: reconcile never widens
//! PUBLIC's access by itself.
//! Extra privileges are reported on the objects the desired state describes (an extra table
//! is reported as such, not privilege by privilege); routines are not modelled yet, so their
//! privileges are compared wherever the desired state describes the schema.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::privilege::{Grantee, Grantees, Held, Privilege, Securable, read_grantees};
use super::{Catalog, Kind, NoYaml};
use crate::diff::{Change, Code, Diff, Finding, Severity};
use crate::ident::quote_ident;
use crate::load::error::{LoadError, Origin};
use crate::load::format::FileSpec;
use crate::load::format::{At, Entries};
use crate::load::resolve::{ParsedFile, Resolver};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, Key, StepBuilder, StepKind, stage};
use crate::pull::yaml::scalar;

/// Which privilege, of whom, on what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "ObjectId", try_from = "ObjectId")]
pub struct GrantKey {
    /// A schema, table, column, sequence, type (`type` for enums and composites, `domain`),
    /// function or procedure.
    pub on: ObjectId,
    pub grantee: Grantee,
    pub privilege: Privilege,
}

impl From<GrantKey> for ObjectId {
    fn from(key: GrantKey) -> ObjectId {
        ObjectId::Grant {
            on: Box::new(key.on),
            grantee: key.grantee,
            privilege: key.privilege,
        }
    }
}

impl TryFrom<ObjectId> for GrantKey {
    type Error = String;
    fn try_from(id: ObjectId) -> Result<GrantKey, String> {
        match id {
            ObjectId::Grant {
                on,
                grantee,
                privilege,
            } if securable(&on).is_some() => Ok(GrantKey {
                on: *on,
                grantee,
                privilege,
            }),
            other => Err(format!("not a grant: {other}")),
        }
    }
}

/// The state of one privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    Granted {
        grant_option: bool,
    },
    /// PUBLIC's built-in default privilege, revoked (see the module's introduction).
    Revoked,
}

/// What kind of object `on` is, for what may be granted on it (`None`: nothing).
pub fn securable(on: &ObjectId) -> Option<Securable> {
    Some(match on {
        ObjectId::Schema(_) => Securable::Schema,
        // A view takes a table's privileges (`GRANT ... ON TABLE view`).
        ObjectId::Table(_) | ObjectId::View(_) | ObjectId::MaterializedView(_) => Securable::Table,
        ObjectId::Column { .. } => Securable::Column,
        ObjectId::Sequence(_) => Securable::Sequence,
        ObjectId::Type(_) | ObjectId::Domain(_) => Securable::Type,
        ObjectId::Function { .. } => Securable::Function,
        ObjectId::Procedure { .. } => Securable::Procedure,
        _ => return None,
    })
}

/// Whether the key is PUBLIC's built-in default privilege on its object.
fn is_public_default(key: &GrantKey) -> bool {
    key.grantee == Grantee::Public && public_default(&key.on) == Some(key.privilege)
}

/// PUBLIC's default privilege on the object: the built-in one of its kind, or the USAGE
/// initdb gives on schema `public`.
fn public_default(on: &ObjectId) -> Option<Privilege> {
    match on {
        ObjectId::Schema(s) if s.as_str() == "public" => Some(Privilege::Usage),
        other => securable(other).and_then(Securable::public_default),
    }
}

/// `TABLE public.t`, `FUNCTION public.f(integer)`: the object as GRANT names it, with the
/// column list that goes after the privilege for a column.
fn target(on: &ObjectId) -> (String, String) {
    let routine =
        |name: &QualifiedName, args: &[String]| format!("{}({})", name.quoted(), args.join(", "));
    match on {
        ObjectId::Schema(s) => (format!("SCHEMA {}", s.quoted()), String::new()),
        ObjectId::Table(t) | ObjectId::View(t) | ObjectId::MaterializedView(t) => {
            (format!("TABLE {}", t.quoted()), String::new())
        }
        ObjectId::Column { table, column } => (
            format!("TABLE {}", table.quoted()),
            format!(" ({})", column.quoted()),
        ),
        ObjectId::Sequence(s) => (format!("SEQUENCE {}", s.quoted()), String::new()),
        ObjectId::Type(t) => (format!("TYPE {}", t.quoted()), String::new()),
        ObjectId::Domain(t) => (format!("DOMAIN {}", t.quoted()), String::new()),
        ObjectId::Function { name, args } => {
            (format!("FUNCTION {}", routine(name, args)), String::new())
        }
        ObjectId::Procedure { name, args } => {
            (format!("PROCEDURE {}", routine(name, args)), String::new())
        }
        other => (other.to_string(), String::new()),
    }
}

/// `GRANT SELECT ON TABLE public.t TO anon [WITH GRANT OPTION]`.
pub fn grant_sql(key: &GrantKey, grant_option: bool) -> String {
    let (on, columns) = target(&key.on);
    format!(
        "GRANT {}{columns} ON {on} TO {}{}",
        key.privilege,
        key.grantee,
        if grant_option {
            " WITH GRANT OPTION"
        } else {
            ""
        }
    )
}

/// `REVOKE SELECT ON TABLE public.t FROM anon`, or only the grant option. Findings only.
pub fn revoke_sql(key: &GrantKey, only_grant_option: bool) -> String {
    let (on, columns) = target(&key.on);
    format!(
        "REVOKE {}{}{columns} ON {on} FROM {}",
        if only_grant_option {
            "GRANT OPTION FOR "
        } else {
            ""
        },
        key.privilege,
        key.grantee
    )
}

/// Whether the desired state describes the object a privilege is on (extra privileges are
/// reported only there).
fn described(desired: &Schema, on: &ObjectId) -> bool {
    match on {
        ObjectId::Schema(s) => desired.schemas.contains(s),
        ObjectId::Table(t) => desired.tables.contains_key(t),
        ObjectId::Column { table, column } => desired
            .tables
            .get(table)
            .is_some_and(|t| t.column(column.as_str()).is_some()),
        ObjectId::Sequence(s) => desired.sequences.contains_key(s),
        ObjectId::View(v) => desired.views.contains_key(v),
        ObjectId::MaterializedView(v) => desired.materialized_views.contains_key(v),
        ObjectId::Type(t) => desired.enums.contains_key(t) || desired.composites.contains_key(t),
        ObjectId::Domain(t) => desired.domains.contains_key(t),
        // Routines are not modelled yet: their privileges are compared in every schema the
        // desired state describes.
        ObjectId::Function { name, .. } | ObjectId::Procedure { name, .. } => {
            desired.schemas.contains(&name.schema)
        }
        _ => false,
    }
}

pub(crate) struct GrantKind;

impl Kind for GrantKind {
    const NAME: &'static str = "grant";
    const SECTION: &'static str = "grants";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    const BUILT: bool = false;
    const PULLED_AFTER_TABLES: bool = true;
    type Key = GrantKey;
    type Object = Grant;
    type Spec = NoYaml;

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        // Not a section of named entries: read whole by `resolve_files`.
        None
    }

    fn objects(schema: &Schema) -> &BTreeMap<GrantKey, Grant> {
        &schema.grants
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<GrantKey, Grant> {
        &mut schema.grants
    }

    fn id(key: &GrantKey) -> ObjectId {
        key.clone().into()
    }

    fn schema_of(key: &GrantKey) -> &Ident {
        key.on.schema().unwrap_or(&crate::ident::NO_SCHEMA)
    }

    fn resolve_files(r: &mut Resolver, files: &[(ParsedFile, Ident)]) {
        for (file, schema) in files {
            if let Some(spec) = &file.spec.grants {
                resolve_file(r, &file.path, schema, spec);
            }
        }
    }

    fn pull_section(schema: &Schema, namespace: &Ident) -> Option<String> {
        pull_grants(schema, namespace)
    }

    const CATALOG: Catalog = Catalog {
        name: "grants",
        sql: include_str!("sql/grants.sql"),
    };

    /// Privileges on objects the model leaves out (an inheritance child, a view) go with them.
    fn settle(schema: &mut Schema) {
        let all = std::mem::take(&mut schema.grants);
        // Collected, not `retain`ed: the map is rebuilt with full nodes (the catalog read
        // inserted its entries one by one). `retain` kept ~13 MiB more at 10,000 tables.
        let kept: BTreeMap<GrantKey, Grant> = all
            .into_iter()
            .filter(|(key, _)| described(schema, &key.on))
            .collect();
        schema.grants = kept;
    }

    fn from_row(row: &PgRow) -> Result<(GrantKey, Grant), sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let schema = Ident::from_catalog(row.try_get("schema")?);
        let name: Option<String> = row.try_get("name")?;
        let column: Option<String> = row.try_get("column_name")?;
        let args: Option<String> = row.try_get("args")?;
        let qualified = || {
            QualifiedName::new(
                schema.clone(),
                Ident::from_catalog(name.clone().unwrap_or_default()),
            )
        };
        let args = || super::function::argument_types(args.as_deref());
        let on = match kind.as_str() {
            "schema" => ObjectId::Schema(schema.clone()),
            "table" => ObjectId::Table(qualified()),
            "column" => ObjectId::Column {
                table: qualified(),
                column: Ident::from_catalog(column.unwrap_or_default()),
            },
            "sequence" => ObjectId::Sequence(qualified()),
            "view" => ObjectId::View(qualified()),
            "materialized view" => ObjectId::MaterializedView(qualified()),
            "type" => ObjectId::Type(qualified()),
            "domain" => ObjectId::Domain(qualified()),
            "procedure" => ObjectId::Procedure {
                name: qualified(),
                args: args(),
            },
            "function" => ObjectId::Function {
                name: qualified(),
                args: args(),
            },
            other => {
                return Err(sqlx::Error::Decode(
                    format!("a privilege on an object of unknown kind {other}").into(),
                ));
            }
        };
        let (grantee, privilege) = super::privilege::acl_item(row)?;
        let grant = match row.try_get::<Option<bool>, _>("grantable")? {
            Some(grant_option) => Grant::Granted { grant_option },
            None => Grant::Revoked,
        };
        Ok((
            GrantKey {
                on,
                grantee,
                privilege,
            },
            grant,
        ))
    }

    const DIFFERS: Code = Code::GrantOption;
    const DIFFERS_MESSAGE: &'static str =
        "the database gives the grant option, the desired state does not";
    const EXTRA: Code = Code::ExtraGrant;

    fn diff(live: &Schema, desired: &Schema, options: &crate::diff::Options, out: &mut Diff) {
        let (have, want) = (&live.grants, &desired.grants);
        // A table the database has in a form reconcile does not manage is reported (D135)
        // and left alone, its privileges with it; so is a partition the plan does not create
        // (D170).
        let unmanaged = |key: &GrantKey| {
            key.on.table().is_some_and(|t| {
                options.unmanaged_tables.contains(t)
                    || crate::diff::partition_left_uncreated(live, desired, t)
            })
        };
        let create = |key: &GrantKey, grant: Grant, out: &mut Diff| {
            out.additive
                .push(Change::Create(super::Created::Grant(key.clone(), grant)));
        };
        // One pass over both (sorted) maps: a lookup per privilege was most of the diff's
        // time at 120,000 of them. Those only the database has come after the predictions,
        // as they always did.
        let mut extras: Vec<(&GrantKey, &Grant)> = Vec::new();
        for (key, had, wanted) in super::paired(have, want) {
            let Some(wanted) = wanted else {
                extras.extend(had.map(|had| (key, had)));
                continue;
            };
            if unmanaged(key) {
                continue;
            }
            match (had, *wanted) {
                // PUBLIC's default privilege is not modelled when held (the loader never
                // makes one): nothing to grant, and a revoked one is never granted back.
                (_, Grant::Granted { .. }) if is_public_default(key) => {}
                (None | Some(Grant::Revoked), Grant::Granted { grant_option }) => {
                    create(key, Grant::Granted { grant_option }, out)
                }
                (Some(Grant::Granted { grant_option: had }), Grant::Granted { grant_option }) => {
                    if grant_option && !had {
                        create(key, Grant::Granted { grant_option }, out);
                    } else if *had && !grant_option {
                        out.findings.push(
                            Finding::new(
                                Self::DIFFERS,
                                Severity::Risky,
                                Self::id(key),
                                Self::DIFFERS_MESSAGE,
                            )
                            .suggest(revoke_sql(key, true)),
                        );
                    }
                }
                (None | Some(Grant::Granted { .. }), Grant::Revoked) => out.findings.push(extra(
                    key,
                    "PUBLIC holds this privilege (PostgreSQL's default), the desired state \
                         revokes it",
                )),
                (Some(Grant::Revoked), Grant::Revoked) => {}
            }
        }
        predict_default_privileges(live, desired, options, out);
        for (key, had) in extras {
            if !described(desired, &key.on) {
                continue;
            }
            match had {
                Grant::Granted { .. } if is_public_default(key) => {}
                Grant::Granted { .. } => out.findings.push(extra(
                    key,
                    "granted in the database, not in the desired state",
                )),
                Grant::Revoked => out.findings.push(
                    Finding::new(
                        Code::RevokedDefault,
                        Severity::Risky,
                        Self::id(key),
                        format!(
                            "revoked in the database; PUBLIC has it by default and the desired \
                             state does not revoke it (leave `{}` out of the object's `public:` \
                             list to keep it revoked; reconcile never widens PUBLIC's access by \
                             itself)",
                            key.privilege.keyword()
                        ),
                    )
                    .suggest(grant_sql(key, false)),
                ),
            }
        }
    }

    fn create(key: &GrantKey, grant: &Grant) -> String {
        match grant {
            Grant::Granted { grant_option } => grant_sql(key, *grant_option),
            Grant::Revoked => revoke_sql(key, false),
        }
    }

    fn drop(key: &GrantKey) -> String {
        revoke_sql(key, false)
    }

    fn steps(key: &GrantKey, grant: &Grant, out: &mut Vec<Draft>) {
        let Grant::Granted { grant_option } = grant else {
            // A revocation is never a change (see `diff`): nothing to plan.
            return;
        };
        let table = key.on.table();
        let mut b = StepBuilder::new(StepKind::Grant, stage::PRIVILEGES, table, Self::id(key))
            .sql(grant_sql(key, *grant_option));
        b = match &key.on {
            ObjectId::Schema(s) => b.requires(Key::Schema(s.clone())),
            ObjectId::Table(t) => b.requires(Key::Table(t.clone())),
            ObjectId::Column { table, column } => b
                .requires(Key::Table(table.clone()))
                .requires(Key::Column(table.clone(), column.as_str().to_owned())),
            ObjectId::Sequence(s) => b.requires(Key::Sequence(s.clone())),
            // A view's creation provides its relation name, as a table's does.
            ObjectId::View(v) | ObjectId::MaterializedView(v) => b.requires(Key::Table(v.clone())),
            ObjectId::Type(t) | ObjectId::Domain(t) => b.requires(Key::Type(t.clone())),
            // Routines are not created by reconcile (yet): they exist before the plan runs.
            _ => b,
        };
        b.push(out);
    }

    #[cfg(test)]
    fn samples() -> (GrantKey, [Grant; 2]) {
        (
            GrantKey {
                on: ObjectId::Schema(Ident::from_catalog("app".into())),
                grantee: Grantee::Role(Ident::from_catalog("reconcile sample".into())),
                privilege: Privilege::Usage,
            },
            [
                Grant::Granted { grant_option: true },
                Grant::Granted {
                    grant_option: false,
                },
            ],
        )
    }

    #[cfg(test)]
    const SAMPLE_SETUP: &'static str = "DO $$ BEGIN CREATE ROLE \"reconcile sample\"; \
        EXCEPTION WHEN duplicate_object THEN NULL; END $$";
}

/// The objects the plan creates get, from PostgreSQL, the default privileges of the role that
/// creates them in their schema. Those the desired state does not list (or lists without the
/// grant option they get) are reported now, as they will be once the objects exist: never
/// revoked, and never a surprise after the apply.
fn predict_default_privileges(
    live: &Schema,
    desired: &Schema,
    options: &crate::diff::Options,
    out: &mut Diff,
) {
    let Some(role) = &options.creating_role else {
        return;
    };
    // (schema, kind) → the objects of that kind the plan creates in the schema.
    let mut new: BTreeMap<(&Ident, Securable), Vec<ObjectId>> = BTreeMap::new();
    for name in desired.tables.keys() {
        if !live.tables.contains_key(name) && !options.unmanaged_tables.contains(name) {
            new.entry((&name.schema, Securable::Table))
                .or_default()
                .push(ObjectId::Table(name.clone()));
        }
    }
    for name in desired.sequences.keys() {
        if !live.sequences.contains_key(name) {
            new.entry((&name.schema, Securable::Sequence))
                .or_default()
                .push(ObjectId::Sequence(name.clone()));
        }
    }
    let is_new_type = |n: &QualifiedName| {
        !live.enums.contains_key(n)
            && !live.composites.contains_key(n)
            && !live.domains.contains_key(n)
    };
    for name in desired.enums.keys().chain(desired.composites.keys()) {
        if is_new_type(name) {
            new.entry((&name.schema, Securable::Type))
                .or_default()
                .push(ObjectId::Type(name.clone()));
        }
    }
    for name in desired.domains.keys() {
        if is_new_type(name) {
            new.entry((&name.schema, Securable::Type))
                .or_default()
                .push(ObjectId::Domain(name.clone()));
        }
    }
    // Default privileges ON TABLES are given to views and materialized views too, and ON
    // FUNCTIONS to procedures (aggregates' privileges are not read: not predicted either).
    for name in desired.views.keys() {
        if !live.views.contains_key(name) {
            new.entry((&name.schema, Securable::Table))
                .or_default()
                .push(ObjectId::View(name.clone()));
        }
    }
    for name in desired.materialized_views.keys() {
        if !live.materialized_views.contains_key(name) {
            new.entry((&name.schema, Securable::Table))
                .or_default()
                .push(ObjectId::MaterializedView(name.clone()));
        }
    }
    for key in desired.functions.keys() {
        if !live.functions.contains_key(key) {
            new.entry((&key.name.schema, Securable::Function))
                .or_default()
                .push(key.id());
        }
    }
    for (default, grant) in &live.default_privileges {
        if &default.role != role {
            continue;
        }
        let Some(objects) = new.get(&(&default.schema, default.on)) else {
            continue;
        };
        for on in objects {
            // The role the plan then gives the object to holds it as its owner (the owner's
            // own privileges are never listed).
            if default.grantee.role() == desired.owners.get(on).map(|o| &o.role) {
                continue;
            }
            let key = GrantKey {
                on: on.clone(),
                grantee: default.grantee.clone(),
                privilege: default.privilege,
            };
            let because = format!(
                "the default privileges of {} in schema {} give it to the {} the plan creates",
                role.quoted(),
                default.schema.quoted(),
                on.kind()
            );
            match desired.grants.get(&key) {
                None if !is_public_default(&key) => out.findings.push(extra(
                    &key,
                    &format!("not in the desired state, but {because}"),
                )),
                Some(Grant::Granted {
                    grant_option: false,
                }) if grant.grant_option => out.findings.push(
                    Finding::new(
                        Code::GrantOption,
                        Severity::Risky,
                        GrantKind::id(&key),
                        format!("the desired state gives no grant option, but {because} with it"),
                    )
                    .suggest(revoke_sql(&key, true)),
                ),
                _ => {}
            }
        }
    }
}

fn extra(key: &GrantKey, message: &str) -> Finding {
    Finding::new(
        Code::ExtraGrant,
        Severity::Risky,
        GrantKind::id(key),
        message,
    )
    .suggest(revoke_sql(key, false))
}

// --- YAML

/// `grants:` of a file: privileges on the file's schema and on objects in it.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Grants")]
pub(crate) struct GrantsSpec {
    /// On the schema itself: grantee → `[usage, create]`.
    pub schema: Option<Grantees>,
    /// Table → grantee → privileges (`select`, `insert`, `update`, `delete`, `truncate`,
    /// `references`, `trigger`, or `all`).
    #[serde(default)]
    pub tables: Entries<Grantees>,
    /// Table → column → grantee → privileges (`select`, `insert`, `update`, `references`).
    #[serde(default)]
    pub columns: Entries<Entries<Grantees>>,
    /// Sequence → grantee → privileges (`usage`, `select`, `update`).
    #[serde(default)]
    pub sequences: Entries<Grantees>,
    /// View (declared in a `.sql` file) → grantee → privileges. Checked once the `.sql`
    /// files are read (see [`super::privilege::undeclared`]).
    #[serde(default)]
    pub views: Entries<Grantees>,
    /// Materialized view (declared in a `.sql` file) → grantee → privileges, as for a view.
    #[serde(default)]
    pub materialized_views: Entries<Grantees>,
    /// Enum, composite type or domain → grantee → `[usage]`.
    #[serde(default)]
    pub types: Entries<Grantees>,
    /// `name(argument types)`, as PostgreSQL prints it → grantee → `[execute]`.
    #[serde(default)]
    pub functions: Entries<Grantees>,
    /// `name(argument types)` → grantee → `[execute]`.
    #[serde(default)]
    pub procedures: Entries<Grantees>,
}

fn resolve_file(r: &mut Resolver, file: &std::path::Path, schema: &Ident, spec: &GrantsSpec) {
    if let Some(grantees) = &spec.schema {
        grant_all(r, file, ObjectId::Schema(schema.clone()), grantees);
    }
    let qualified = |r: &mut Resolver, name: &At<String>, what: &str| {
        let origin = r.origin(file, name);
        r.ident(&name.value, &origin, what)
            .map(|n| (QualifiedName::new(schema.clone(), n), origin))
    };
    // A table the desired state declares.
    let table = |r: &mut Resolver, name: &At<String>| {
        let (table, origin) = qualified(r, name, "table")?;
        if r.schema().tables.contains_key(&table) {
            return Some(table);
        }
        r.error(missing(
            origin,
            "table",
            &table,
            "declare it under `tables:`",
        ));
        None
    };
    for (name, grantees) in &spec.tables.0 {
        if let Some(table) = table(r, name) {
            grant_all(r, file, ObjectId::Table(table), grantees);
        }
    }
    for (name, columns) in &spec.columns.0 {
        let Some(table) = table(r, name) else {
            continue;
        };
        for (column, grantees) in &columns.0 {
            let origin = r.origin(file, column);
            let Some(column) = r.ident(&column.value, &origin, "column") else {
                continue;
            };
            let exists = r
                .schema()
                .tables
                .get(&table)
                .is_some_and(|t| t.column(column.as_str()).is_some());
            if !exists {
                r.error(LoadError::new(
                    origin,
                    format!("grants: table {table} has no column \"{column}\""),
                ));
                continue;
            }
            grant_all(r, file, ObjectId::column(&table, &column), grantees);
        }
    }
    for (name, grantees) in &spec.sequences.0 {
        let Some((sequence, origin)) = qualified(r, name, "sequence") else {
            continue;
        };
        if !r.schema().sequences.contains_key(&sequence) {
            r.error(missing(
                origin,
                "sequence",
                &sequence,
                "declare it under `sequences:` (a serial column's sequence is table_column_seq)",
            ));
            continue;
        }
        grant_all(r, file, ObjectId::Sequence(sequence), grantees);
    }
    for (views, what) in [
        (&spec.views, "view"),
        (&spec.materialized_views, "materialized view"),
    ] {
        for (name, grantees) in &views.0 {
            let Some((view, origin)) = qualified(r, name, what) else {
                continue;
            };
            let on = if what == "view" {
                ObjectId::View(view)
            } else {
                ObjectId::MaterializedView(view)
            };
            // Views come from the .sql files, read after the YAML: whether the desired state
            // declares this one is checked once they are (`privilege::undeclared`).
            super::privilege::expect_in_sql(r.schema_mut(), &on, &origin, GrantKind::SECTION);
            grant_all(r, file, on, grantees);
        }
    }
    for (name, grantees) in &spec.types.0 {
        let Some((type_name, origin)) = qualified(r, name, "type") else {
            continue;
        };
        let on = if r.schema().domains.contains_key(&type_name) {
            ObjectId::Domain(type_name)
        } else if r.schema().enums.contains_key(&type_name)
            || r.schema().composites.contains_key(&type_name)
        {
            ObjectId::Type(type_name)
        } else {
            r.error(missing(
                origin,
                "type",
                &type_name,
                "declare it under `enums:`, `composites:` or `domains:`",
            ));
            continue;
        };
        grant_all(r, file, on, grantees);
    }
    for (routines, procedure) in [(&spec.functions, false), (&spec.procedures, true)] {
        for (signature, grantees) in &routines.0 {
            let origin = r.origin(file, signature);
            let Some((name, args)) = routine_signature(r, &signature.value, schema, &origin) else {
                continue;
            };
            let name = QualifiedName::new(schema.clone(), name);
            let on = if procedure {
                ObjectId::Procedure { name, args }
            } else {
                ObjectId::Function { name, args }
            };
            r.routine_used(&on, &origin);
            grant_all(r, file, on, grantees);
        }
    }
}

fn missing(origin: Origin, what: &str, name: &QualifiedName, help: &str) -> LoadError {
    LoadError::new(
        origin,
        format!("grants: no {what} {name} in the desired state"),
    )
    .help(format!("{help}, or remove its grants"))
}

/// Every grantee's privileges on one object, into the model.
fn grant_all(r: &mut Resolver, file: &std::path::Path, on: ObjectId, grantees: &Grantees) {
    let Some(kind) = securable(&on) else {
        return;
    };
    // PUBLIC's default privilege, listed, is the default: no difference to model.
    let default = public_default(&on);
    for read in read_grantees(r, file, grantees, kind) {
        let default = default.filter(|_| read.grantee == Grantee::Public);
        let mut entries: Vec<(GrantKey, Grant)> = read
            .held
            .0
            .iter()
            .filter(|(privilege, _)| Some(**privilege) != default)
            .map(|(privilege, grant_option)| {
                (
                    GrantKey {
                        on: on.clone(),
                        grantee: read.grantee.clone(),
                        privilege: *privilege,
                    },
                    Grant::Granted {
                        grant_option: *grant_option,
                    },
                )
            })
            .collect();
        // `public: []` on an object PUBLIC has a privilege on by default revokes it.
        if let Some(default) = default
            && !read.held.0.contains_key(&default)
        {
            entries.push((
                GrantKey {
                    on: on.clone(),
                    grantee: Grantee::Public,
                    privilege: default,
                },
                Grant::Revoked,
            ));
        }
        for (key, grant) in entries {
            if r.declare(GrantKind::id(&key), &read.origin) {
                r.schema_mut().grants.insert(key, grant);
            }
        }
    }
}

/// `f(integer, text)`: a routine as `grants:` and `owners:` name it (read back by
/// [`routine_signature`]).
pub(crate) fn routine_key(name: &QualifiedName, args: &[String]) -> String {
    format!("{}({})", quote_ident(name.name.as_str()), args.join(", "))
}

/// `name(type, type)` → the routine's name and its argument types as PostgreSQL prints them
/// in a signature (`format_type` without type modifiers: `varchar(10)` is
/// `character varying`).
pub(crate) fn routine_signature(
    r: &mut Resolver,
    text: &str,
    schema: &Ident,
    origin: &Origin,
) -> Option<(Ident, Vec<String>)> {
    let fail =
        |r: &mut Resolver, why: String| {
            r.error(LoadError::new(origin.clone(), why).help(
                "write the routine as `name(argument types)`, e.g. `total(integer, numeric)`",
            ));
            None
        };
    let text = text.trim();
    // The name (literal, or in double quotes as SQL writes it) and the argument list, split
    // as plans print routines (`ObjectId`).
    let (name, args_text) = match text.strip_prefix('"') {
        Some(_) => match format!("function x.{text}").parse::<ObjectId>() {
            Ok(ObjectId::Function { name, args }) => (name.name.as_str().to_owned(), args),
            _ => return fail(r, format!("cannot read `{text}`")),
        },
        None => {
            let Some(open) = text.find('(') else {
                return fail(r, format!("`{text}` has no argument list"));
            };
            let parsed = format!("function x.y{}", &text[open..]).parse::<ObjectId>();
            match parsed {
                Ok(ObjectId::Function { args, .. }) if text.ends_with(')') => {
                    (text[..open].trim().to_owned(), args)
                }
                _ => return fail(r, format!("`{text}` has no argument list in parentheses")),
            }
        }
    };
    let name = r.ident(&name, origin, "function")?;
    let mut args = Vec::new();
    for arg in &args_text {
        let arg = arg.as_str();
        if arg.is_empty() {
            return fail(r, format!("an empty argument type in `{text}`"));
        }
        let spec = match crate::normalise::normalise_type(arg) {
            Ok(spec) => spec,
            Err(e) => return fail(r, format!("argument type `{arg}`: {e}")),
        };
        let mut printed = without_modifiers(&spec.text);
        if let Some((None, type_name)) = &spec.user_type {
            // An unqualified user type of the file's schema prints qualified outside public.
            let local = QualifiedName::new(schema.clone(), Ident::from_catalog(type_name.clone()));
            let declared = r.schema().enums.contains_key(&local)
                || r.schema().composites.contains_key(&local)
                || r.schema().domains.contains_key(&local)
                || r.schema().tables.contains_key(&local);
            if declared && schema.as_str() != "public" {
                printed = format!("{}.{printed}", quote_ident(schema.as_str()));
            }
        }
        args.push(printed);
    }
    Some((name, args))
}

/// `character varying(10)[]` → `character varying[]`: a signature has no type modifiers.
fn without_modifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut quoted) = (0, false);
    for ch in text.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                out.push(ch);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out
}

/// The `grants:` section of the file for `namespace`.
fn pull_grants(schema: &Schema, namespace: &Ident) -> Option<String> {
    // Object → grantee → privilege → state, for the objects pull writes.
    type ByGrantee = BTreeMap<Grantee, BTreeMap<Privilege, Grant>>;
    let mut objects: BTreeMap<&ObjectId, ByGrantee> = BTreeMap::new();
    for (key, grant) in &schema.grants {
        if GrantKind::schema_of(key) != namespace || !described(schema, &key.on) {
            continue;
        }
        objects
            .entry(&key.on)
            .or_default()
            .entry(key.grantee.clone())
            .or_default()
            .insert(key.privilege, *grant);
    }
    if objects.is_empty() {
        return None;
    }
    let grantees = |on: &ObjectId, by: &ByGrantee| -> String {
        let Some(kind) = securable(on) else {
            return "{}".to_owned();
        };
        let items: Vec<String> = by
            .iter()
            .map(|(who, privileges)| {
                let mut held = Held(
                    privileges
                        .iter()
                        .filter_map(|(p, g)| match g {
                            Grant::Granted { grant_option } => Some((*p, *grant_option)),
                            Grant::Revoked => None,
                        })
                        .collect(),
                );
                // PUBLIC's list is complete: its default privilege, held unless revoked,
                // is in it (a `public:` list without it revokes it).
                if *who == Grantee::Public
                    && let Some(default) = public_default(on)
                    && privileges.get(&default) != Some(&Grant::Revoked)
                {
                    held.0.entry(default).or_insert(false);
                }
                format!("{}: {}", scalar(who.key()), held.render(kind))
            })
            .collect();
        format!("{{ {} }}", items.join(", "))
    };
    let mut out = String::from("\ngrants:\n");
    let mut sections: BTreeMap<Securable, Vec<String>> = BTreeMap::new();
    let mut columns: BTreeMap<&Ident, Vec<String>> = BTreeMap::new();
    let mut views: Vec<String> = Vec::new();
    let mut materialized_views: Vec<String> = Vec::new();
    for (on, by) in &objects {
        let line = grantees(on, by);
        match on {
            ObjectId::Schema(_) => {
                let _ = writeln!(out, "  schema: {line}");
            }
            ObjectId::Column { table, column } => columns
                .entry(&table.name)
                .or_default()
                .push(format!("      {}: {line}", scalar(column.as_str()))),
            ObjectId::Function { name, args } | ObjectId::Procedure { name, args } => {
                let signature = routine_key(name, args);
                if let Some(kind) = securable(on) {
                    sections
                        .entry(kind)
                        .or_default()
                        .push(format!("    {}: {line}", scalar(&signature)));
                }
            }
            ObjectId::View(n) => views.push(format!("    {}: {line}", scalar(n.name.as_str()))),
            ObjectId::MaterializedView(n) => {
                materialized_views.push(format!("    {}: {line}", scalar(n.name.as_str())));
            }
            ObjectId::Table(n)
            | ObjectId::Sequence(n)
            | ObjectId::Type(n)
            | ObjectId::Domain(n) => {
                if let Some(kind) = securable(on) {
                    sections
                        .entry(kind)
                        .or_default()
                        .push(format!("    {}: {line}", scalar(n.name.as_str())));
                }
            }
            _ => {}
        }
    }
    for (kind, lines) in &sections {
        if *kind == Securable::Table {
            let _ = writeln!(out, "  tables:");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    for (section, lines) in [
        ("views", &views),
        ("materialized_views", &materialized_views),
    ] {
        if !lines.is_empty() {
            let _ = writeln!(out, "  {section}:");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    if !columns.is_empty() {
        let _ = writeln!(out, "  columns:");
        for (table, lines) in &columns {
            let _ = writeln!(out, "    {}:", scalar(table.as_str()));
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    for (kind, lines) in &sections {
        if *kind == Securable::Table {
            continue;
        }
        let _ = writeln!(out, "  {}:", kind.plural());
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_lose_their_type_modifiers() {
        assert_eq!(
            without_modifiers("character varying(10)[]"),
            "character varying[]"
        );
        assert_eq!(
            without_modifiers("timestamp(3) with time zone"),
            "timestamp with time zone"
        );
        assert_eq!(without_modifiers("\"odd(type\""), "\"odd(type\"");
    }

    #[test]
    fn grant_and_revoke_name_the_object_as_sql_does() {
        let t = QualifiedName::new(
            Ident::from_catalog("public".into()),
            Ident::from_catalog("Leads".into()),
        );
        let key = GrantKey {
            on: ObjectId::column(&t, &Ident::from_catalog("email".into())),
            grantee: Grantee::Role(Ident::from_catalog("anon".into())),
            privilege: Privilege::Update,
        };
        assert_eq!(
            grant_sql(&key, true),
            "GRANT UPDATE (email) ON TABLE public.\"Leads\" TO anon WITH GRANT OPTION"
        );
        assert_eq!(
            revoke_sql(&key, true),
            "REVOKE GRANT OPTION FOR UPDATE (email) ON TABLE public.\"Leads\" FROM anon"
        );
        let key = GrantKey {
            on: ObjectId::Function {
                name: t,
                args: vec!["integer".into(), "my type".into()],
            },
            grantee: Grantee::Public,
            privilege: Privilege::Execute,
        };
        assert_eq!(
            revoke_sql(&key, false),
            "REVOKE EXECUTE ON FUNCTION public.\"Leads\"(integer, my type) FROM PUBLIC"
        );
    }
}
