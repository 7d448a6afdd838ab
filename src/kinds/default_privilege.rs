//! Default privileges (`ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA s GRANT ...`): what
//! PostgreSQL grants on the tables, sequences, functions and types role `r` creates in schema
//! `s` from then on.
//!
//! One object is one privilege of one grantee for one (role, schema, kind of object). A
//! missing one, or a missing grant option, is granted (additive); one the database has and
//! the desired state does not is a finding (D183, or D181 for a grant option) with the
//! `ALTER DEFAULT PRIVILEGES ... REVOKE` a human would run. Default privileges change nothing
//! that exists: the privileges of existing objects are [`super::grant`]'s.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::privilege::{Grantee, Grantees, Held, Privilege, Securable, read_grantees};
use super::{Catalog, Kind, NoYaml};
use crate::diff::{Change, Code, Diff, Finding, Severity};
use crate::load::format::Entries;
use crate::load::format::FileSpec;
use crate::load::resolve::{ParsedFile, Resolver};
use crate::model::{Ident, ObjectId, Schema};
use crate::plan::{Draft, Key, StepBuilder, StepKind, stage};
use crate::pull::yaml::scalar;

/// The kinds of object default privileges can be set for in a schema, in YAML order.
const KINDS: [Securable; 4] = [
    Securable::Table,
    Securable::Sequence,
    Securable::Function,
    Securable::Type,
];

/// Which privilege `role`'s new objects of kind `on` in `schema` give `grantee`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "ObjectId", try_from = "ObjectId")]
pub struct DefaultKey {
    /// `FOR ROLE`: the role whose new objects get the privilege.
    pub role: Ident,
    pub schema: Ident,
    pub on: Securable,
    pub grantee: Grantee,
    pub privilege: Privilege,
}

impl From<DefaultKey> for ObjectId {
    fn from(key: DefaultKey) -> ObjectId {
        ObjectId::DefaultPrivilege {
            role: key.role,
            schema: key.schema,
            on: key.on,
            grantee: key.grantee,
            privilege: key.privilege,
        }
    }
}

impl TryFrom<ObjectId> for DefaultKey {
    type Error = String;
    fn try_from(id: ObjectId) -> Result<DefaultKey, String> {
        match id {
            ObjectId::DefaultPrivilege {
                role,
                schema,
                on,
                grantee,
                privilege,
            } => Ok(DefaultKey {
                role,
                schema,
                on,
                grantee,
                privilege,
            }),
            other => Err(format!("not a default privilege: {other}")),
        }
    }
}

/// One default privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultGrant {
    pub grant_option: bool,
}

fn prefix(key: &DefaultKey) -> String {
    format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}",
        key.role.quoted(),
        key.schema.quoted()
    )
}

fn objects_sql(on: Securable) -> String {
    on.plural().to_ascii_uppercase()
}

/// `ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA s GRANT SELECT ON TABLES TO anon`.
pub fn grant_sql(key: &DefaultKey, grant_option: bool) -> String {
    format!(
        "{} GRANT {} ON {} TO {}{}",
        prefix(key),
        key.privilege,
        objects_sql(key.on),
        key.grantee,
        if grant_option {
            " WITH GRANT OPTION"
        } else {
            ""
        }
    )
}

/// The `REVOKE` form (findings only).
pub fn revoke_sql(key: &DefaultKey, only_grant_option: bool) -> String {
    format!(
        "{} REVOKE {}{} ON {} FROM {}",
        prefix(key),
        if only_grant_option {
            "GRANT OPTION FOR "
        } else {
            ""
        },
        key.privilege,
        objects_sql(key.on),
        key.grantee
    )
}

pub(crate) struct DefaultPrivilegeKind;

impl Kind for DefaultPrivilegeKind {
    const NAME: &'static str = "default privilege";
    const SECTION: &'static str = "default_privileges";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    const BUILT: bool = false;
    const PULLED_AFTER_TABLES: bool = true;
    type Key = DefaultKey;
    type Object = DefaultGrant;
    type Spec = NoYaml;

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        // Not a section of named entries: read whole by `resolve_files`.
        None
    }

    fn objects(schema: &Schema) -> &BTreeMap<DefaultKey, DefaultGrant> {
        &schema.default_privileges
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<DefaultKey, DefaultGrant> {
        &mut schema.default_privileges
    }

    fn id(key: &DefaultKey) -> ObjectId {
        key.clone().into()
    }

    fn schema_of(key: &DefaultKey) -> &Ident {
        &key.schema
    }

    fn resolve_files(r: &mut Resolver, files: &[(ParsedFile, Ident)]) {
        for (file, schema) in files {
            for (role, spec) in &file.spec.default_privileges.0 {
                let origin = r.origin(&file.path, role);
                let Some(role) = r.ident(&role.value, &origin, "role") else {
                    continue;
                };
                r.role_used(&role, &origin);
                for (on, grantees) in [
                    (Securable::Table, &spec.tables),
                    (Securable::Sequence, &spec.sequences),
                    (Securable::Function, &spec.functions),
                    (Securable::Type, &spec.types),
                ] {
                    for read in read_grantees(r, &file.path, grantees, on) {
                        for (privilege, grant_option) in read.held.0 {
                            let key = DefaultKey {
                                role: role.clone(),
                                schema: schema.clone(),
                                on,
                                grantee: read.grantee.clone(),
                                privilege,
                            };
                            if r.declare(Self::id(&key), &read.origin) {
                                r.schema_mut()
                                    .default_privileges
                                    .insert(key, DefaultGrant { grant_option });
                            }
                        }
                    }
                }
            }
        }
    }

    fn pull_section(schema: &Schema, namespace: &Ident) -> Option<String> {
        // Role → kind of object → grantee → privileges.
        type Tree<'a> = BTreeMap<&'a Ident, BTreeMap<Securable, BTreeMap<&'a Grantee, Held>>>;
        let mut tree: Tree = BTreeMap::new();
        for (key, grant) in &schema.default_privileges {
            if &key.schema != namespace {
                continue;
            }
            tree.entry(&key.role)
                .or_default()
                .entry(key.on)
                .or_default()
                .entry(&key.grantee)
                .or_insert_with(|| Held(BTreeMap::new()))
                .0
                .insert(key.privilege, grant.grant_option);
        }
        if tree.is_empty() {
            return None;
        }
        let mut out = format!("\n{}:\n", Self::SECTION);
        for (role, kinds) in tree {
            let _ = writeln!(out, "  {}:", scalar(role.as_str()));
            for on in KINDS {
                let Some(grantees) = kinds.get(&on) else {
                    continue;
                };
                let items: Vec<String> = grantees
                    .iter()
                    .map(|(who, held)| format!("{}: {}", scalar(who.key()), held.render(on)))
                    .collect();
                let _ = writeln!(out, "    {}: {{ {} }}", on.plural(), items.join(", "));
            }
        }
        Some(out)
    }

    const CATALOG: Catalog = Catalog {
        name: "default privileges",
        sql: include_str!("sql/default_privileges.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(DefaultKey, DefaultGrant), sqlx::Error> {
        let objtype: String = row.try_get("objtype")?;
        let on = match objtype.as_str() {
            "r" => Securable::Table,
            "S" => Securable::Sequence,
            "f" => Securable::Function,
            "T" => Securable::Type,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("default privileges for objects of unknown kind {other}").into(),
                ));
            }
        };
        let (grantee, privilege) = super::privilege::acl_item(row)?;
        Ok((
            DefaultKey {
                role: Ident::from_catalog(row.try_get("role")?),
                schema: Ident::from_catalog(row.try_get("schema")?),
                on,
                grantee,
                privilege,
            },
            DefaultGrant {
                grant_option: row.try_get("grantable")?,
            },
        ))
    }

    const DIFFERS: Code = Code::GrantOption;
    const DIFFERS_MESSAGE: &'static str =
        "the database gives the grant option, the desired state does not";
    const EXTRA: Code = Code::ExtraDefaultPrivilege;

    fn diff(live: &Schema, desired: &Schema, _options: &crate::diff::Options, out: &mut Diff) {
        let (have, want) = (&live.default_privileges, &desired.default_privileges);
        for (key, wanted) in want {
            let had = have.get(key);
            if had.is_none_or(|h| wanted.grant_option && !h.grant_option) {
                out.additive
                    .push(Change::Create(super::Created::DefaultPrivilege(
                        key.clone(),
                        *wanted,
                    )));
            } else if had.is_some_and(|h| h.grant_option && !wanted.grant_option) {
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
        for key in have.keys() {
            if !want.contains_key(key) && desired.schemas.contains(&key.schema) {
                out.findings.push(
                    Finding::new(
                        Code::ExtraDefaultPrivilege,
                        Severity::Risky,
                        Self::id(key),
                        "in the database, not in the desired state",
                    )
                    .suggest(revoke_sql(key, false)),
                );
            }
        }
    }

    fn create(key: &DefaultKey, grant: &DefaultGrant) -> String {
        grant_sql(key, grant.grant_option)
    }

    fn drop(key: &DefaultKey) -> String {
        revoke_sql(key, false)
    }

    fn steps(key: &DefaultKey, grant: &DefaultGrant, out: &mut Vec<Draft>) {
        StepBuilder::new(
            StepKind::AlterDefaultPrivileges,
            stage::PRIVILEGES,
            None,
            Self::id(key),
        )
        .sql(grant_sql(key, grant.grant_option))
        .requires(Key::Schema(key.schema.clone()))
        .push(out);
    }

    #[cfg(test)]
    fn samples() -> (DefaultKey, [DefaultGrant; 2]) {
        (
            DefaultKey {
                role: Ident::from_catalog("reconcile owner".into()),
                schema: Ident::from_catalog("app".into()),
                on: Securable::Table,
                grantee: Grantee::Role(Ident::from_catalog("reconcile sample".into())),
                privilege: Privilege::Select,
            },
            [
                DefaultGrant { grant_option: true },
                DefaultGrant {
                    grant_option: false,
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

/// `default_privileges:` → role → kinds of object.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DefaultPrivileges")]
pub(crate) struct DefaultRoleSpec {
    /// Grantee → privileges on the tables (and views) the role creates here later.
    #[serde(default)]
    pub tables: Grantees,
    /// Grantee → privileges on the sequences the role creates here later.
    #[serde(default)]
    pub sequences: Grantees,
    /// Grantee → privileges on the functions and procedures the role creates here later.
    #[serde(default)]
    pub functions: Grantees,
    /// Grantee → privileges on the types the role creates here later.
    #[serde(default)]
    pub types: Grantees,
}

/// The file's `default_privileges:` section.
pub(crate) type DefaultPrivilegesSpec = Entries<DefaultRoleSpec>;
