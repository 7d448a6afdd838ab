//! Row-level security policies (`CREATE POLICY`): who may read or write which rows of a table.
//!
//! A policy belongs to its table: it is declared under the table in YAML (`policies:`) or with
//! `CREATE POLICY` in a `.sql` file, and compared by its command, PERMISSIVE or RESTRICTIVE,
//! roles (names; PUBLIC as `public`) and its `USING` / `WITH CHECK` expressions as the server
//! prints them (`pg_get_expr`; see `canon::policies` for how a desired expression gets that
//! form without the roles and functions only the target has).
//!
//! A missing policy is created (before row-level security is switched on, so the table never
//! denies every row in between). A policy whose roles or expressions differ is altered in
//! place (`ALTER POLICY`, a replace step) with hazard H014 saying whether access widens or
//! narrows; what `ALTER POLICY` cannot change — the command, PERMISSIVE/RESTRICTIVE, or a
//! clause removed — is D143. An extra policy is D142.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind, NoYaml, Replaceable, Replaced};
use crate::diff::{Code, Finding, Severity};
use crate::ident::quote_ident;
use crate::load::error::LoadError;
use crate::load::format::{At, Entries, FileSpec};
use crate::load::resolve::Resolver;
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, HazardCode, Key, LockLevel, StepBuilder, StepKind, guard, stage};

/// A policy's identity: its table and its name (unique per table only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey {
    pub table: QualifiedName,
    pub name: Ident,
}

impl PolicyKey {
    pub fn new(table: QualifiedName, name: Ident) -> Self {
        Self { table, name }
    }

    fn id(&self) -> ObjectId {
        ObjectId::Policy {
            table: self.table.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id().fmt(f)
    }
}

/// Serialised as plans print it (`policy "Own rows" on public.todos`), usable as a JSON key.
impl Serialize for PolicyKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.parse::<ObjectId>() {
            Ok(ObjectId::Policy { table, name }) => Ok(PolicyKey { table, name }),
            _ => Err(serde::de::Error::custom(format!("not a policy: {text}"))),
        }
    }
}

/// What a policy applies to (`FOR ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl PolicyCommand {
    pub const ALL: [PolicyCommand; 5] = [
        PolicyCommand::All,
        PolicyCommand::Select,
        PolicyCommand::Insert,
        PolicyCommand::Update,
        PolicyCommand::Delete,
    ];

    pub fn sql(self) -> &'static str {
        match self {
            PolicyCommand::All => "ALL",
            PolicyCommand::Select => "SELECT",
            PolicyCommand::Insert => "INSERT",
            PolicyCommand::Update => "UPDATE",
            PolicyCommand::Delete => "DELETE",
        }
    }

    /// The YAML spelling (`for: select`).
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyCommand::All => "all",
            PolicyCommand::Select => "select",
            PolicyCommand::Insert => "insert",
            PolicyCommand::Update => "update",
            PolicyCommand::Delete => "delete",
        }
    }

    /// `pg_policy.polcmd`.
    fn from_catalog(code: &str) -> Option<Self> {
        Some(match code {
            "*" => PolicyCommand::All,
            "r" => PolicyCommand::Select,
            "a" => PolicyCommand::Insert,
            "w" => PolicyCommand::Update,
            "d" => PolicyCommand::Delete,
            _ => return None,
        })
    }

    /// Whether the command takes a `USING` clause (which rows are visible or affected).
    pub fn has_using(self) -> bool {
        self != PolicyCommand::Insert
    }

    /// Whether the command takes a `WITH CHECK` clause (which rows may be written).
    pub fn has_check(self) -> bool {
        matches!(
            self,
            PolicyCommand::All | PolicyCommand::Insert | PolicyCommand::Update
        )
    }
}

/// One row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub command: PolicyCommand,
    /// PERMISSIVE (the default: policies are OR-ed) or RESTRICTIVE (AND-ed).
    pub permissive: bool,
    /// Role names, sorted and distinct; `public` is PUBLIC (every role — a role cannot be
    /// named `public`).
    pub roles: Vec<String>,
    /// `USING (...)`, as `pg_get_expr` prints it.
    pub using: Option<String>,
    /// `WITH CHECK (...)`, as `pg_get_expr` prints it.
    pub check: Option<String>,
}

/// The role name that means every role.
pub const PUBLIC: &str = "public";

impl Policy {
    /// `TO ...` list as SQL.
    fn roles_sql(&self) -> String {
        roles_sql(&self.roles)
    }

    fn clauses(&self) -> String {
        let mut out = String::new();
        if let Some(using) = &self.using {
            out.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = &self.check {
            out.push_str(&format!(" WITH CHECK ({check})"));
        }
        out
    }

    /// The expressions, for the canonicaliser and the ordering.
    pub fn expressions(&self) -> impl Iterator<Item = &str> {
        self.using
            .iter()
            .chain(self.check.iter())
            .map(String::as_str)
    }

    /// Whether `ALTER POLICY` can turn `self` into `other`: same command and kind, and no
    /// clause that `self` has is gone (ALTER POLICY sets clauses; it cannot remove one).
    fn alterable_to(&self, other: &Policy) -> bool {
        self.command == other.command
            && self.permissive == other.permissive
            && (self.using.is_none() || other.using.is_some())
            && (self.check.is_none() || other.check.is_some())
    }
}

fn roles_sql(roles: &[String]) -> String {
    if roles.is_empty() {
        return "PUBLIC".to_owned();
    }
    roles
        .iter()
        .map(|r| {
            if r == PUBLIC {
                "PUBLIC".to_owned()
            } else {
                quote_ident(r)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorted, distinct role names.
pub fn normalise_roles(mut roles: Vec<String>) -> Vec<String> {
    if roles.is_empty() {
        roles.push(PUBLIC.to_owned());
    }
    roles.sort();
    roles.dedup();
    roles
}

/// `policies: { name: { for, as, to, using, check, comment } }` under a table.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Policy")]
pub(crate) struct PolicySpec {
    /// `all` (default), `select`, `insert`, `update`, `delete`.
    #[serde(rename = "for")]
    #[schemars(with = "Option<crate::load::json_schema::PolicyCommandWord>")]
    pub command: Option<At<String>>,
    /// `permissive` (default) or `restrictive`.
    #[serde(rename = "as")]
    #[schemars(with = "Option<crate::load::json_schema::PolicyKindWord>")]
    pub kind: Option<At<String>>,
    /// A role or a list of roles (default `public`, every role). Roles are not created.
    pub to: Option<At<RoleList>>,
    /// The USING condition, which rows are visible (not for `insert`).
    pub using: Option<At<String>>,
    /// The WITH CHECK condition, which new rows are allowed (`all`, `insert`, `update`).
    pub check: Option<At<String>>,
    /// The policy's comment.
    pub comment: Option<At<String>>,
}

/// One role name or a list of them.
#[derive(Debug)]
pub(crate) struct RoleList(pub Vec<String>);

impl<'de> Deserialize<'de> for RoleList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RolesVisitor;
        impl<'de> serde::de::Visitor<'de> for RolesVisitor {
            type Value = RoleList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a role name or a list of role names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RoleList(vec![v.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut roles = Vec::new();
                while let Some(role) = seq.next_element::<String>()? {
                    roles.push(role);
                }
                Ok(RoleList(roles))
            }
        }
        deserializer.deserialize_any(RolesVisitor)
    }
}

/// Role names that are not roles but stand for one at the time the policy is created.
const ROLE_KEYWORDS: [&str; 4] = ["current_user", "current_role", "session_user", "none"];

/// Resolves the `policies:` of table `table` into the model.
pub(crate) fn resolve_table_policies(
    r: &mut Resolver,
    file: &Path,
    table: &QualifiedName,
    policies: &Entries<PolicySpec>,
) {
    for (name, spec) in &policies.0 {
        let origin = r.origin(file, name);
        let Some(ident) = r.ident(&name.value, &origin, "policy") else {
            continue;
        };
        let key = PolicyKey::new(table.clone(), ident);
        let Some(policy) = resolve_spec(r, file, spec) else {
            continue;
        };
        if !r.declare(key.id(), &origin) {
            continue;
        }
        if let Some(comment) = &spec.comment {
            r.comment(file, key.id(), comment);
        }
        r.schema_mut().policies.insert(key, policy);
    }
}

fn resolve_spec(r: &mut Resolver, file: &Path, spec: &PolicySpec) -> Option<Policy> {
    let command = match &spec.command {
        None => PolicyCommand::All,
        Some(at) => {
            let text = at.value.to_ascii_lowercase();
            match PolicyCommand::ALL.into_iter().find(|c| c.keyword() == text) {
                Some(c) => c,
                None => {
                    r.error(
                        LoadError::new(
                            r.origin(file, at),
                            format!("unknown policy command `{}`", at.value),
                        )
                        .help("write `for:` as all, select, insert, update or delete"),
                    );
                    return None;
                }
            }
        }
    };
    let permissive = match &spec.kind {
        None => true,
        Some(at) => match at.value.to_ascii_lowercase().as_str() {
            "permissive" => true,
            "restrictive" => false,
            _ => {
                r.error(
                    LoadError::new(
                        r.origin(file, at),
                        format!("unknown policy kind `{}`", at.value),
                    )
                    .help("write `as:` as permissive (the default) or restrictive"),
                );
                return None;
            }
        },
    };
    let mut roles = Vec::new();
    if let Some(to) = &spec.to {
        let origin = r.origin(file, to);
        for role in &to.value.0 {
            let lower = role.to_ascii_lowercase();
            if ROLE_KEYWORDS.contains(&lower.as_str()) {
                r.error(
                    LoadError::new(
                        origin.clone(),
                        format!("`{role}` is not a role name a desired state can use"),
                    )
                    .help(
                        "name the role itself: CURRENT_USER and SESSION_USER mean whoever \
                         creates the policy, which differs between databases",
                    ),
                );
                return None;
            }
            if lower == PUBLIC {
                roles.push(PUBLIC.to_owned());
                continue;
            }
            roles.push(r.ident(role, &origin, "role")?.as_str().to_owned());
        }
    }
    let mut clause = |at: &Option<At<String>>, allowed: bool, what: &str| -> Result<_, ()> {
        let Some(at) = at else { return Ok(None) };
        let origin = r.origin(file, at);
        if !allowed {
            r.error(
                LoadError::new(
                    origin,
                    format!("a policy for {} cannot have {what}", command.keyword()),
                )
                .help(
                    "INSERT policies take only `check` (WITH CHECK); SELECT and DELETE \
                     policies only `using`",
                ),
            );
            return Err(());
        }
        r.condition(&at.value, &origin, what).map(Some).ok_or(())
    };
    let using = clause(&spec.using, command.has_using(), "using").ok()?;
    let check = clause(&spec.check, command.has_check(), "check").ok()?;
    Some(Policy {
        command,
        permissive,
        roles: normalise_roles(roles),
        using,
        check,
    })
}

/// The `policies:` of a table as `pull` writes them (4 spaces of indentation), or nothing.
pub(crate) fn pull_table_policies(out: &mut String, schema: &Schema, table: &QualifiedName) {
    use crate::pull::yaml::{list, quoted, scalar};
    use std::fmt::Write as _;
    let from = PolicyKey::new(table.clone(), Ident::from_catalog(String::new()));
    let policies: Vec<(&PolicyKey, &Policy)> = schema
        .policies
        .range(from..)
        .take_while(|(k, _)| &k.table == table)
        .collect();
    if policies.is_empty() {
        return;
    }
    let _ = writeln!(out, "    policies:");
    for (key, p) in policies {
        let _ = writeln!(out, "      {}:", scalar(key.name.as_str()));
        if p.command != PolicyCommand::All {
            let _ = writeln!(out, "        for: {}", p.command.keyword());
        }
        if !p.permissive {
            let _ = writeln!(out, "        as: restrictive");
        }
        if p.roles != [PUBLIC] {
            let _ = writeln!(
                out,
                "        to: {}",
                list(p.roles.iter().map(String::as_str))
            );
        }
        if let Some(using) = &p.using {
            let _ = writeln!(out, "        using: {}", quoted(using));
        }
        if let Some(check) = &p.check {
            let _ = writeln!(out, "        check: {}", quoted(check));
        }
        if let Some(comment) = schema.comments.get(&key.id()) {
            let _ = writeln!(out, "        comment: {}", quoted(comment));
        }
    }
}

pub(crate) struct PolicyKind;

impl Kind for PolicyKind {
    const NAME: &'static str = "policy";
    const SECTION: &'static str = "policies";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    type Key = PolicyKey;
    type Object = Policy;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<PolicyKey, Policy> {
        &schema.policies
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<PolicyKey, Policy> {
        &mut schema.policies
    }

    fn id(key: &PolicyKey) -> ObjectId {
        key.id()
    }

    fn schema_of(key: &PolicyKey) -> &Ident {
        &key.table.schema
    }

    /// Declared under their table (`pull_table_policies`) or in SQL, not in a section of
    /// their own.
    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        None
    }

    const CATALOG: Catalog = Catalog {
        name: "policies",
        sql: include_str!("sql/policies.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(PolicyKey, Policy), sqlx::Error> {
        let table = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("table_name")?),
        );
        let command: String = row.try_get("command")?;
        let command = PolicyCommand::from_catalog(&command).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown policy command {command:?}").into())
        })?;
        Ok((
            PolicyKey::new(table, Ident::from_catalog(row.try_get("name")?)),
            Policy {
                command,
                permissive: row.try_get("permissive")?,
                roles: normalise_roles(row.try_get("roles")?),
                using: row.try_get("using_expr")?,
                check: row.try_get("check_expr")?,
            },
        ))
    }

    /// Policies on relations the model leaves out (inheritance children) are not
    /// managed with them; introspection lists them as skipped.
    fn settle(schema: &mut Schema) {
        let tables = &schema.tables;
        schema
            .policies
            .retain(|key, _| tables.contains_key(&key.table));
    }

    const DIFFERS: Code = Code::PolicyDefinition;
    const DIFFERS_MESSAGE: &'static str = "the command (FOR ...) or PERMISSIVE/RESTRICTIVE differs, or a USING or WITH CHECK \
         clause is gone: ALTER POLICY cannot change that, the policy must be dropped and \
         created again, in one transaction (rows it guards are exposed or hidden in between \
         otherwise)";
    const EXTRA: Code = Code::ExtraPolicy;

    fn extra(key: &PolicyKey, policy: &Policy, live: &Schema, desired: &Schema) -> Option<Finding> {
        // A table the desired state drops takes its policies with it (its own finding).
        if live.tables.contains_key(&key.table) && !desired.tables.contains_key(&key.table) {
            return None;
        }
        let effect = if policy.permissive {
            "dropping it takes away the access it grants (with row-level security on, the rows \
             it lets its roles see or write become invisible to them)"
        } else {
            "dropping it lifts the restriction it puts on every other policy of the table"
        };
        Some(
            Finding::new(
                Code::ExtraPolicy,
                Severity::Risky,
                key.id(),
                format!("in the database, not in the desired state; {effect}"),
            )
            .suggest(Self::drop(key)),
        )
    }

    /// Roles or expressions held back by `--no-replace` come with the `ALTER POLICY` and what
    /// it does to access; what only a DROP and CREATE can change comes with both, in one
    /// transaction so the table is never without the policy in between.
    fn differs(
        key: &PolicyKey,
        live: &Policy,
        desired: &Policy,
        replaceable: bool,
    ) -> Option<Finding> {
        let (message, suggestion) = if replaceable {
            (
                format!(
                    "roles or expressions differ (--no-replace: not altered in place); {}",
                    access_change(live, desired)
                ),
                <Self as Replaceable>::replace(key, desired),
            )
        } else {
            (
                Self::DIFFERS_MESSAGE.to_owned(),
                format!(
                    "BEGIN;\n{};\n{};\nCOMMIT",
                    Self::drop(key),
                    Self::create(key, desired)
                ),
            )
        };
        Some(
            Finding::new(Code::PolicyDefinition, Severity::Risky, key.id(), message)
                .suggest(suggestion),
        )
    }

    fn create(key: &PolicyKey, p: &Policy) -> String {
        format!(
            "CREATE POLICY {} ON {} AS {} FOR {} TO {}{}",
            key.name.quoted(),
            key.table.quoted(),
            if p.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            p.command.sql(),
            p.roles_sql(),
            p.clauses()
        )
    }

    fn drop(key: &PolicyKey) -> String {
        format!(
            "DROP POLICY {} ON {}",
            key.name.quoted(),
            key.table.quoted()
        )
    }

    fn steps(key: &PolicyKey, p: &Policy, out: &mut Vec<Draft>) {
        let access = if p.permissive {
            format!(
                "lets {} {} the rows its expressions allow",
                roles_in_words(&p.roles),
                command_in_words(p.command)
            )
        } else {
            format!(
                "restricts what {} may {} to the rows its expressions allow",
                roles_in_words(&p.roles),
                command_in_words(p.command)
            )
        };
        StepBuilder::new(
            StepKind::CreatePolicy,
            stage::VIEWS,
            Some(&key.table),
            key.id(),
        )
        .sql(guard::unless_exists(
            &guard::policy_exists(&key.table, &key.name),
            &Self::create(key, p),
        ))
        .lock(&key.table, LockLevel::AccessExclusive)
        .hazard(
            HazardCode::AccessExclusiveLock,
            format!(
                "CREATE POLICY takes an ACCESS EXCLUSIVE lock on {} (briefly; it queues behind \
                 running queries)",
                key.table
            ),
        )
        .hazard(
            HazardCode::PolicyAccess,
            format!(
                "a new {} policy: {access}, wherever row-level security is on for {}",
                if p.permissive {
                    "permissive"
                } else {
                    "restrictive"
                },
                key.table
            ),
        )
        .requires(Key::Schema(key.table.schema.clone()))
        .requires(Key::Extensions)
        .requires_all(requirements(key, p))
        .provides(Key::Object(key.id()))
        .provides(Key::Policies(key.table.clone()))
        .push(out);
    }

    fn replacement(key: &PolicyKey, live: &Policy, desired: &Policy) -> Option<Replaced> {
        live.alterable_to(desired).then(|| Replaced::Policy {
            key: key.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    /// The columns of its table the expressions name (a qualified reference counts each
    /// part: an over-approximation, which only ever holds back more).
    fn columns_used(key: &PolicyKey, p: &Policy) -> Vec<(QualifiedName, Ident)> {
        let mut out: Vec<(QualifiedName, Ident)> = p
            .expressions()
            .filter_map(crate::normalise::equivalence::column_references)
            .flatten()
            .map(|column| (key.table.clone(), Ident::from_catalog(column)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    #[cfg(test)]
    fn sample_context() -> &'static str {
        "CREATE TABLE app.\"Todo items\" (id integer, owner text, done boolean);\n\
         DO $$ BEGIN CREATE ROLE reconcile_kinds_reader; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    }

    #[cfg(test)]
    fn samples() -> (PolicyKey, [Policy; 2]) {
        let key = PolicyKey::new(
            QualifiedName::new(
                Ident::from_catalog("app".into()),
                Ident::from_catalog("Todo items".into()),
            ),
            Ident::from_catalog("Own rows".into()),
        );
        (
            key,
            [
                Policy {
                    command: PolicyCommand::Select,
                    permissive: true,
                    roles: vec![PUBLIC.into()],
                    using: Some("(owner = CURRENT_USER)".into()),
                    check: None,
                },
                Policy {
                    command: PolicyCommand::Select,
                    permissive: true,
                    roles: vec!["reconcile_kinds_reader".into()],
                    using: Some("((owner = CURRENT_USER) AND (NOT done))".into()),
                    check: None,
                },
            ],
        )
    }
}

impl Replaceable for PolicyKind {
    fn replace(key: &PolicyKey, p: &Policy) -> String {
        format!(
            "ALTER POLICY {} ON {} TO {}{}",
            key.name.quoted(),
            key.table.quoted(),
            p.roles_sql(),
            p.clauses()
        )
    }

    fn replace_steps(key: &PolicyKey, previous: &Policy, p: &Policy, out: &mut Vec<Draft>) {
        // ALTER POLICY cannot take a clause away: when the new definition adds one, only
        // dropping and creating the policy puts the old one back.
        let restore = if previous.alterable_to(p) && p.alterable_to(previous) {
            Self::replace(key, previous)
        } else {
            format!(
                "DROP POLICY IF EXISTS {} ON {};\n{}",
                key.name.quoted(),
                key.table.quoted(),
                Self::create(key, previous)
            )
        };
        StepBuilder::new(StepKind::Replace, stage::VIEWS, Some(&key.table), key.id())
            .sql(Self::replace(key, p))
            .previous(restore)
            .lock(&key.table, LockLevel::AccessExclusive)
            .hazard(
                HazardCode::AccessExclusiveLock,
                format!(
                    "ALTER POLICY takes an ACCESS EXCLUSIVE lock on {} (briefly; it queues \
                     behind running queries)",
                    key.table
                ),
            )
            .hazard(HazardCode::PolicyAccess, access_change(previous, p))
            .hazard(
                HazardCode::ReplacesDefinition,
                format!(
                    "replaces {} in place: every query on {} is checked against the new \
                     definition from the commit on",
                    key.id(),
                    key.table
                ),
            )
            .requires_all(requirements(key, p))
            .provides(Key::Object(key.id()))
            .push(out);
    }
}

/// What the policy's step needs first: its table with any columns the plan adds, and the
/// tables its expressions read (sub-queries).
fn requirements(key: &PolicyKey, p: &Policy) -> Vec<Key> {
    let mut keys = vec![
        Key::Table(key.table.clone()),
        Key::NewColumns(key.table.clone()),
    ];
    for expression in p.expressions() {
        for relation in relations_read(expression) {
            let name = relation.unwrap_or_else(|| key.table.clone());
            keys.push(Key::Table(name.clone()));
            keys.push(Key::NewColumns(name));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The relations an expression's sub-queries read (an unqualified name is in `public`, as
/// the statements run with that search path); `None` for a name that could not be read.
pub(crate) fn relations_read(expression: &str) -> Vec<Option<QualifiedName>> {
    let Ok(parsed) = pg_query::parse(
        &format!("SELECT {expression}"),
        pg_query::ParserOptions::DEFAULT,
    ) else {
        return Vec::new();
    };
    let mut out: Vec<Option<QualifiedName>> = parsed
        .protobuf
        .nodes()
        .into_iter()
        .filter_map(|(node, ..)| match node {
            pg_query::NodeRef::RangeVar(r) => Some(Some(QualifiedName::new(
                Ident::from_catalog(if r.schemaname.is_empty() {
                    "public".to_owned()
                } else {
                    r.schemaname.clone()
                }),
                Ident::from_catalog(r.relname.clone()),
            ))),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The functions an expression calls, as (schema if written, name).
pub(crate) fn functions_called(expression: &str) -> Vec<(Option<String>, String)> {
    let Ok(parsed) = pg_query::parse(
        &format!("SELECT {expression}"),
        pg_query::ParserOptions::DEFAULT,
    ) else {
        return Vec::new();
    };
    let mut out: Vec<(Option<String>, String)> = parsed
        .protobuf
        .nodes()
        .into_iter()
        .filter_map(|(node, ..)| match node {
            pg_query::NodeRef::FuncCall(f) => {
                let parts: Vec<String> = f
                    .funcname
                    .iter()
                    .filter_map(|n| match &n.node {
                        Some(pg_query::NodeEnum::String(s)) => Some(s.sval.clone()),
                        _ => None,
                    })
                    .collect();
                match parts.as_slice() {
                    [name] => Some((None, name.clone())),
                    [schema, name] => Some((Some(schema.clone()), name.clone())),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn roles_in_words(roles: &[String]) -> String {
    if roles.iter().any(|r| r == PUBLIC) {
        "every role (PUBLIC)".to_owned()
    } else {
        format!("role(s) {}", roles.join(", "))
    }
}

fn command_in_words(command: PolicyCommand) -> &'static str {
    match command {
        PolicyCommand::All => "read and write",
        PolicyCommand::Select => "read",
        PolicyCommand::Insert => "insert",
        PolicyCommand::Update => "update",
        PolicyCommand::Delete => "delete",
    }
}

/// Whether replacing `live` by `desired` widens or narrows access, in words (H014). Roles
/// are compared as sets (PUBLIC covers every role); an expression change can go either way,
/// and reconcile does not claim to prove which.
pub(crate) fn access_change(live: &Policy, desired: &Policy) -> String {
    let every = |p: &Policy| p.roles.iter().any(|r| r == PUBLIC);
    let (live_all, desired_all) = (every(live), every(desired));
    let added: Vec<&str> = if live_all {
        Vec::new()
    } else if desired_all {
        vec!["every role (PUBLIC)"]
    } else {
        desired
            .roles
            .iter()
            .filter(|r| !live.roles.contains(r))
            .map(String::as_str)
            .collect()
    };
    let removed: Vec<String> = if desired_all {
        Vec::new()
    } else if live_all {
        vec![format!("every role but {}", desired.roles.join(", "))]
    } else {
        live.roles
            .iter()
            .filter(|r| !desired.roles.contains(r))
            .cloned()
            .collect()
    };
    let mut parts = Vec::new();
    let (widen, narrow) = if desired.permissive {
        (
            "WIDENS access: roles added",
            "narrows access: roles removed",
        )
    } else {
        (
            "narrows access: the restriction now also applies to",
            "WIDENS access: the restriction no longer applies to",
        )
    };
    if !added.is_empty() {
        parts.push(format!("{widen} {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("{narrow} {}", removed.join(", ")));
    }
    for (what, was, now) in [
        ("USING", &live.using, &desired.using),
        ("WITH CHECK", &live.check, &desired.check),
    ] {
        match (was, now) {
            (a, b) if a == b => {}
            (None, Some(_)) => parts.push(format!(
                "CHANGES access: a {what} expression is added (which rows pass may widen or \
                 narrow; reconcile cannot prove which)"
            )),
            _ => parts.push(format!(
                "CHANGES access: the {what} expression changes (which rows pass may widen or \
                 narrow; reconcile cannot prove which)"
            )),
        }
    }
    if parts.is_empty() {
        parts.push("the same roles and expressions in another form".to_owned());
    }
    format!("{}; from the commit on", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(roles: &[&str], using: &str) -> Policy {
        Policy {
            command: PolicyCommand::Select,
            permissive: true,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            using: Some(using.to_owned()),
            check: None,
        }
    }

    #[test]
    fn the_hazard_says_whether_access_widens_or_narrows() {
        let live = policy(&["authenticated"], "(a = 1)");
        let more = policy(&["anon", "authenticated"], "(a = 1)");
        assert!(access_change(&live, &more).starts_with("WIDENS access: roles added anon"));
        assert!(access_change(&more, &live).starts_with("narrows access: roles removed anon"));
        let public = policy(&[PUBLIC], "(a = 1)");
        assert!(access_change(&live, &public).contains("WIDENS access: roles added every role"));
        assert!(
            access_change(&public, &live)
                .contains("narrows access: roles removed every role but authenticated")
        );
        let changed = policy(&["authenticated"], "(a = 2)");
        let message = access_change(&live, &changed);
        assert!(
            message.starts_with("CHANGES access: the USING expression changes"),
            "{message}"
        );
        // A restrictive policy restricts more when it names more roles.
        let restrictive = |roles: &[&str]| Policy {
            permissive: false,
            ..policy(roles, "(a = 1)")
        };
        assert!(
            access_change(&restrictive(&["a"]), &restrictive(&["a", "b"]))
                .starts_with("narrows access: the restriction now also applies to b")
        );
        assert!(
            access_change(&restrictive(&["a", "b"]), &restrictive(&["a"]))
                .starts_with("WIDENS access: the restriction no longer applies to b")
        );
    }

    #[test]
    fn sub_queries_and_calls_are_found() {
        let expression = "EXISTS (SELECT 1 FROM app.members m WHERE m.org = org AND auth.uid() = m.uid) OR is_admin() OR owner IN (SELECT id FROM users)";
        let relations: Vec<String> = relations_read(expression)
            .into_iter()
            .flatten()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(relations, ["app.members", "public.users"]);
        assert_eq!(
            functions_called(expression),
            [
                (None, "is_admin".to_owned()),
                (Some("auth".to_owned()), "uid".to_owned())
            ]
        );
    }

    #[test]
    fn alter_policy_cannot_remove_a_clause_or_change_the_command() {
        let with_check = Policy {
            command: PolicyCommand::All,
            check: Some("true".into()),
            ..policy(&[PUBLIC], "true")
        };
        let without = Policy {
            check: None,
            ..with_check.clone()
        };
        assert!(!with_check.alterable_to(&without));
        assert!(without.alterable_to(&with_check));
        let select = Policy {
            command: PolicyCommand::Select,
            ..without.clone()
        };
        assert!(!without.alterable_to(&select));
    }
}
