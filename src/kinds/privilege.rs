//! What the three access kinds (grants, default privileges, owners) share: the privileges
//! PostgreSQL knows, who holds them, how the YAML spells them and how an ACL row reads.
//!
//! PostgreSQL stores an object's privileges as an ACL: one item per (grantee, grantor) with a
//! set of privileges, each with or without grant option. reconcile compares privileges per
//! (grantee, privilege): the grantor is left out (two grantors of the same privilege are one
//! privilege to the grantee), and so are the owner's own privileges, which the owner has
//! implicitly whatever the ACL says.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, SeqAccess};
use serde::{Deserialize, Serialize};

use crate::ident::quote_ident;
use crate::load::format::{At, Entries};
use crate::load::resolve::Resolver;
use crate::load::{LoadError, Origin};
use crate::model::{Ident, ObjectId, Schema};

/// One privilege, as `GRANT` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
    Usage,
    Create,
    Execute,
}

impl Privilege {
    pub const ALL: [Privilege; 10] = [
        Privilege::Select,
        Privilege::Insert,
        Privilege::Update,
        Privilege::Delete,
        Privilege::Truncate,
        Privilege::References,
        Privilege::Trigger,
        Privilege::Usage,
        Privilege::Create,
        Privilege::Execute,
    ];

    /// The SQL keyword (`SELECT`), which is also how `aclexplode` names it.
    pub fn sql(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
            Privilege::References => "REFERENCES",
            Privilege::Trigger => "TRIGGER",
            Privilege::Usage => "USAGE",
            Privilege::Create => "CREATE",
            Privilege::Execute => "EXECUTE",
        }
    }

    /// The YAML spelling (`select`).
    pub fn keyword(self) -> &'static str {
        match self {
            Privilege::Select => "select",
            Privilege::Insert => "insert",
            Privilege::Update => "update",
            Privilege::Delete => "delete",
            Privilege::Truncate => "truncate",
            Privilege::References => "references",
            Privilege::Trigger => "trigger",
            Privilege::Usage => "usage",
            Privilege::Create => "create",
            Privilege::Execute => "execute",
        }
    }

    pub fn from_sql(text: &str) -> Option<Privilege> {
        Privilege::ALL.into_iter().find(|p| p.sql() == text)
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

/// Who holds a privilege: a role, or every role (`PUBLIC`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grantee {
    Public,
    Role(Ident),
}

impl Grantee {
    /// The YAML key: `public` for PUBLIC (no role can be called that: PostgreSQL reserves
    /// the name), the role's name otherwise.
    pub fn key(&self) -> &str {
        match self {
            Grantee::Public => "public",
            Grantee::Role(role) => role.as_str(),
        }
    }

    pub fn role(&self) -> Option<&Ident> {
        match self {
            Grantee::Public => None,
            Grantee::Role(role) => Some(role),
        }
    }
}

impl fmt::Display for Grantee {
    /// As SQL writes it: `PUBLIC`, or the role's name quoted where needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Public => f.write_str("PUBLIC"),
            Grantee::Role(role) => f.write_str(&quote_ident(role.as_str())),
        }
    }
}

/// What kind of object a privilege is on, for what may be granted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Securable {
    Schema,
    Table,
    Column,
    Sequence,
    /// Enums, composite types and domains (GRANT ... ON TYPE takes them all).
    Type,
    Function,
    Procedure,
}

impl Securable {
    /// The privileges PostgreSQL accepts on this kind of object, in the order `GRANT ALL`
    /// lists them.
    pub fn privileges(self) -> &'static [Privilege] {
        use Privilege::*;
        match self {
            Securable::Schema => &[Usage, Create],
            Securable::Table => &[
                Select, Insert, Update, Delete, Truncate, References, Trigger,
            ],
            Securable::Column => &[Select, Insert, Update, References],
            Securable::Sequence => &[Usage, Select, Update],
            Securable::Type => &[Usage],
            Securable::Function | Securable::Procedure => &[Execute],
        }
    }

    /// The privilege PUBLIC has on such an object unless it is revoked (PostgreSQL's
    /// built-in default: EXECUTE on functions and procedures, USAGE on types).
    pub fn public_default(self) -> Option<Privilege> {
        match self {
            Securable::Type => Some(Privilege::Usage),
            Securable::Function | Securable::Procedure => Some(Privilege::Execute),
            _ => None,
        }
    }

    /// The plural the YAML and `ALTER DEFAULT PRIVILEGES` use (`tables`).
    pub fn plural(self) -> &'static str {
        match self {
            Securable::Schema => "schemas",
            Securable::Table => "tables",
            Securable::Column => "columns",
            Securable::Sequence => "sequences",
            Securable::Type => "types",
            Securable::Function => "functions",
            Securable::Procedure => "procedures",
        }
    }
}

/// Where a desired state first names what it needs the target database to have already —
/// roles (as grantees, owners, `FOR ROLE`) and routines (whose privileges it lists) — so that
/// planning against a database without one can say where it was named. Not part of the
/// model's value: two models are equal whatever their `Origins`, and they are never
/// serialized.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    pub roles: BTreeMap<Ident, Origin>,
    pub routines: BTreeMap<ObjectId, Origin>,
    /// Objects of the `.sql` files (views, materialized views, routines) that the YAML names
    /// under a section (`grants`, `owners`): the `.sql` files are read after the YAML, so
    /// whether they declare each is checked then (see [`undeclared`]).
    pub in_sql: BTreeMap<ObjectId, (Origin, &'static str)>,
    /// The `owner:` of each schema, for the objects the `.sql` files declare in it (see
    /// [`super::owner::complete`]).
    pub owner_defaults: BTreeMap<Ident, Ident>,
}

/// Notes that the YAML's `section` names `on`, an object a `.sql` file must declare, at
/// `origin` (the first place is kept).
pub(crate) fn expect_in_sql(
    schema: &mut Schema,
    on: &ObjectId,
    origin: &Origin,
    section: &'static str,
) {
    schema
        .origins
        .in_sql
        .entry(on.clone())
        .or_insert_with(|| (origin.clone(), section));
}

impl PartialEq for Origins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Origins {}

/// The roles `desired` names (grantees, owners, `FOR ROLE`) that the target lacks (`roles`
/// are its role names): reconcile creates none. Each is an error at the place the desired
/// state first names it (in a plan file's desired state, which has no places, at the plan).
pub fn missing_roles(desired: &Schema, roles: &BTreeSet<String>) -> Vec<LoadError> {
    let mut needed: BTreeSet<&Ident> = BTreeSet::new();
    for key in desired.grants.keys() {
        needed.extend(key.grantee.role());
    }
    for key in desired.default_privileges.keys() {
        needed.insert(&key.role);
        needed.extend(key.grantee.role());
    }
    needed.extend(desired.owners.values().map(|o| &o.role));
    // The `owner:` of a schema whose objects are all declared in `.sql` files, which are
    // checked before those are read.
    needed.extend(desired.origins.owner_defaults.values());
    let errors: Vec<LoadError> =
        needed
            .into_iter()
            .filter(|role| !roles.contains(role.as_str()))
            .map(|role| {
                let origin =
                    desired.origins.roles.get(role).cloned().unwrap_or_else(|| {
                        Origin::new(Path::new("the plan's desired state"), 0, 0)
                    });
                LoadError::new(
                origin,
                format!("role {} does not exist in the target database", role.quoted()),
            )
            .help(format!(
                "reconcile does not create roles: create it first (CREATE ROLE {} NOLOGIN;), or \
                 check that this is the database you meant",
                role.quoted()
            ))
            })
            .collect();
    in_file_order(errors)
}

/// Errors found after loading, in file order, each with its line of the file shown (as the
/// loader's own errors are).
fn in_file_order(mut errors: Vec<LoadError>) -> Vec<LoadError> {
    errors.sort_by(|a, b| {
        (&a.origin.file, a.origin.line, a.origin.column).cmp(&(
            &b.origin.file,
            b.origin.line,
            b.origin.column,
        ))
    });
    for file in errors
        .iter()
        .filter(|e| e.origin.line > 0)
        .map(|e| e.origin.file.clone())
        .collect::<BTreeSet<_>>()
    {
        if let Ok(text) = std::fs::read_to_string(&file) {
            crate::load::error::with_source_lines(&mut errors, &file, &text);
        }
    }
    errors
}

/// The views and materialized views `desired` grants privileges on or names an owner of, and
/// the routines it names an owner of, that it does not declare (in its `.sql` files), each an
/// error at the place that names it. Run once the `.sql` files' objects are in `desired`.
/// (Privileges on routines are compared wherever the database has the routine: see
/// [`missing_routines`].)
pub fn undeclared(desired: &Schema) -> Vec<LoadError> {
    let named = desired
        .grants
        .keys()
        .map(|key| (&key.on, "grants"))
        .filter(|(on, _)| matches!(on, ObjectId::View(_) | ObjectId::MaterializedView(_)))
        .chain(desired.owners.keys().map(|on| (on, "owners")));
    let mut missing: BTreeMap<&ObjectId, &str> = BTreeMap::new();
    for (on, section) in named {
        if declared_in_sql(desired, on) == Some(false) {
            missing.entry(on).or_insert(section);
        }
    }
    let errors = missing
        .into_iter()
        .map(|(on, section)| {
            let (origin, section) = desired.origins.in_sql.get(on).cloned().unwrap_or_else(|| {
                (
                    Origin::new(Path::new("the plan's desired state"), 0, 0),
                    section,
                )
            });
            let help = match other_routine_kind(desired, on) {
                Some(kind) => {
                    format!("the .sql files declare it as a {kind}: list it under `{kind}s:`")
                }
                None => format!(
                    "declare it in a .sql file of the desired state (CREATE {} ...), or remove \
                     its {}{}",
                    on.kind().to_uppercase(),
                    if section == "grants" {
                        "grants"
                    } else {
                        "owner"
                    },
                    if super::function::signature_of(on).is_some() {
                        " (argument types are written as PostgreSQL prints them: `integer`, \
                         `character varying`)"
                    } else {
                        ""
                    }
                ),
            };
            LoadError::new(origin, format!("{section}: no {on} in the desired state")).help(help)
        })
        .collect();
    in_file_order(errors)
}

/// Whether `desired` declares `on`, an object of the `.sql` files (`None` for other kinds).
fn declared_in_sql(desired: &Schema, on: &ObjectId) -> Option<bool> {
    Some(match on {
        ObjectId::View(v) => desired.views.contains_key(v),
        ObjectId::MaterializedView(v) => desired.materialized_views.contains_key(v),
        ObjectId::Function { .. } | ObjectId::Procedure { .. } => {
            super::function::Routine::of(on).is_some_and(|k| desired.functions.contains_key(&k))
        }
        ObjectId::Aggregate { .. } => {
            super::function::Routine::of(on).is_some_and(|k| desired.aggregates.contains_key(&k))
        }
        _ => return None,
    })
}

/// The kind (`function`, `procedure`, `aggregate`) of the routine `desired` declares with
/// the name and argument types of `on`, a routine of another kind.
fn other_routine_kind(desired: &Schema, on: &ObjectId) -> Option<&'static str> {
    let (name, args) = super::function::signature_of(on)?;
    desired
        .functions
        .keys()
        .chain(desired.aggregates.keys())
        .find(|k| k.name == *name && k.args == args && k.id() != *on)
        .map(|k| k.id().kind())
}

/// The routines `desired` lists privileges of that the target lacks (`routines`: the ones it
/// has), each with why its privileges cannot be checked: reconcile does not create routines
/// yet, so their GRANT steps are attempted and skipped with a WARNING if the routine is still
/// missing (hazard H012), as for any object that uses what reconcile does not manage.
pub fn missing_routines(
    desired: &Schema,
    routines: &BTreeSet<&ObjectId>,
) -> Vec<(ObjectId, String)> {
    let mut missing: BTreeMap<&ObjectId, String> = BTreeMap::new();
    for key in desired.grants.keys() {
        if matches!(
            key.on,
            ObjectId::Function { .. } | ObjectId::Procedure { .. }
        ) && !routines.contains(&key.on)
        {
            let named = desired
                .origins
                .routines
                .get(&key.on)
                .map(|o| format!(" (named at {o})"))
                .unwrap_or_default();
            missing.entry(&key.on).or_insert_with(|| {
                format!(
                    "{} is not in the target database{named}, and reconcile does not create \
                     routines yet (check its argument types as PostgreSQL prints them, e.g. \
                     `character varying` for varchar)",
                    key.on
                )
            });
        }
    }
    missing
        .into_iter()
        .map(|(on, why)| (on.clone(), why))
        .collect()
}

/// Privileges of one grantee as the YAML writes them: a list of privilege names, each
/// optionally `... with grant option`, or `all` / `all with grant option` for every privilege
/// the object takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held(pub BTreeMap<Privilege, bool>);

/// Why a privilege list does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPrivilege {
    pub message: String,
    pub help: String,
}

const GRANT_OPTION: &str = " with grant option";

impl Held {
    /// Reads the items of a YAML list (or the single item `all ...`) for an object of kind
    /// `on`.
    pub fn parse(items: &[String], on: Securable) -> Result<Held, BadPrivilege> {
        let allowed = on.privileges();
        let names = || {
            allowed
                .iter()
                .map(|p| p.keyword())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut held = BTreeMap::new();
        for item in items {
            let lowered = item.trim().to_ascii_lowercase();
            let words: Vec<&str> = lowered.split_whitespace().collect();
            let lowered = words.join(" ");
            let (name, grant_option) = match lowered.strip_suffix(GRANT_OPTION) {
                Some(name) => (name, true),
                None => (lowered.as_str(), false),
            };
            let privileges: Vec<Privilege> = match name {
                "all" | "all privileges" => allowed.to_vec(),
                _ => match Privilege::ALL.into_iter().find(|p| p.keyword() == name) {
                    Some(p) if allowed.contains(&p) => vec![p],
                    Some(p) => {
                        return Err(BadPrivilege {
                            message: format!(
                                "{} cannot be granted on {}",
                                p.keyword(),
                                on.plural()
                            ),
                            help: format!("{} take: {}, or all", on.plural(), names()),
                        });
                    }
                    None => {
                        return Err(BadPrivilege {
                            message: format!("unknown privilege `{item}`"),
                            help: format!(
                                "{} take: {}, or all (each may end in `with grant option`)",
                                on.plural(),
                                names()
                            ),
                        });
                    }
                },
            };
            for p in privileges {
                let option = held.entry(p).or_insert(false);
                *option |= grant_option;
            }
        }
        Ok(Held(held))
    }

    /// The YAML value: `all`, `all with grant option`, or a flow list in `GRANT ALL` order.
    pub fn render(&self, on: Securable) -> String {
        let all = on.privileges();
        // `all` only where it saves words: `[execute]` says more than `all` on a function.
        if all.len() > 1 && all.iter().all(|p| self.0.contains_key(p)) && self.0.len() == all.len()
        {
            if self.0.values().all(|g| *g) {
                return "all with grant option".to_owned();
            }
            if self.0.values().all(|g| !*g) {
                return "all".to_owned();
            }
        }
        let items: Vec<String> = all
            .iter()
            .filter_map(|p| {
                self.0.get(p).map(|g| {
                    if *g {
                        format!("{}{GRANT_OPTION}", p.keyword())
                    } else {
                        p.keyword().to_owned()
                    }
                })
            })
            .collect();
        format!("[{}]", items.join(", "))
    }
}

/// A grantee's privileges as written: a list, or one item (`all`).
#[derive(Debug)]
pub struct PrivilegeList(pub Vec<String>);

impl<'de> Deserialize<'de> for PrivilegeList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> de::Visitor<'de> for ListVisitor {
            type Value = PrivilegeList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of privileges (`[select, insert]`) or `all`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(PrivilegeList(vec![v.to_owned()]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PrivilegeList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(PrivilegeList(items))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// Grantee → privileges.
pub type Grantees = Entries<At<PrivilegeList>>;

/// One grantee's privileges, read from the YAML, and where the grantee is named.
pub(crate) struct ReadGrantee {
    pub grantee: Grantee,
    pub held: Held,
    pub origin: Origin,
}

/// Reads a `grantee: privileges` mapping for objects of kind `on`: what is wrong (a bad
/// name, an unknown privilege or one the object does not take, a grant option for PUBLIC)
/// is reported through `r` and left out; the roles it names are noted for the check against
/// the target.
pub(crate) fn read_grantees(
    r: &mut Resolver,
    file: &Path,
    grantees: &Grantees,
    on: Securable,
) -> Vec<ReadGrantee> {
    let mut out = Vec::new();
    for (who, list) in &grantees.0 {
        let origin = r.origin(file, who);
        let grantee = match grantee(&who.value) {
            Ok(g) => g,
            Err(message) => {
                r.error(LoadError::new(origin, message));
                continue;
            }
        };
        if let Some(role) = grantee.role() {
            r.role_used(role, &origin);
        }
        let list_origin = r.origin(file, list);
        let held = match Held::parse(&list.value.0, on) {
            Ok(held) => held,
            Err(bad) => {
                r.error(LoadError::new(list_origin, bad.message).help(bad.help));
                continue;
            }
        };
        if grantee == Grantee::Public && held.0.values().any(|g| *g) {
            r.error(
                LoadError::new(list_origin, "PUBLIC cannot hold a grant option")
                    .help("grant options can only be given to roles"),
            );
            continue;
        }
        out.push(ReadGrantee {
            grantee,
            held,
            origin,
        });
    }
    out
}

/// The grantee (`NULL`: PUBLIC) and privilege of an exploded ACL row (`aclexplode`).
pub(crate) fn acl_item(row: &sqlx::postgres::PgRow) -> Result<(Grantee, Privilege), sqlx::Error> {
    use sqlx::Row;
    let grantee = match row.try_get::<Option<String>, _>("grantee")? {
        Some(role) => Grantee::Role(Ident::from_catalog(role)),
        None => Grantee::Public,
    };
    let text: String = row.try_get("privilege")?;
    let privilege = Privilege::from_sql(&text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown privilege {text}").into()))?;
    Ok((grantee, privilege))
}

/// A grantee name from the YAML: `public` is PUBLIC; any other text is a role's name, checked
/// like every name.
pub fn grantee(text: &str) -> Result<Grantee, String> {
    if text == "public" {
        return Ok(Grantee::Public);
    }
    if text.eq_ignore_ascii_case("public") {
        return Err(format!(
            "`{text}`: write PUBLIC (every role) in lower case, `public`; no role can be called \
             that"
        ));
    }
    Ident::new(text)
        .map(Grantee::Role)
        .map_err(|e| format!("invalid role name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(items: &[&str], on: Securable) -> Result<Held, BadPrivilege> {
        let items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
        Held::parse(&items, on)
    }

    #[test]
    fn privilege_lists_read_and_print_back() {
        for (items, on, printed) in [
            (vec!["select"], Securable::Table, "[select]"),
            (
                vec!["INSERT", "select"],
                Securable::Table,
                "[select, insert]",
            ),
            (vec!["all"], Securable::Table, "all"),
            (
                vec!["all with grant option"],
                Securable::Sequence,
                "all with grant option",
            ),
            (
                vec!["usage  WITH GRANT option", "select"],
                Securable::Sequence,
                "[usage with grant option, select]",
            ),
            (vec![], Securable::Function, "[]"),
            (vec!["execute"], Securable::Function, "[execute]"),
            (vec!["all"], Securable::Type, "[usage]"),
        ] {
            let read = held(&items, on).unwrap_or_else(|e| panic!("{items:?}: {e:?}"));
            assert_eq!(read.render(on), printed, "{items:?}");
            let again: Vec<String> = if printed.starts_with('[') {
                printed
                    .trim_matches(['[', ']'])
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                vec![printed.to_owned()]
            };
            assert_eq!(Held::parse(&again, on), Ok(read), "{printed}");
        }
    }

    #[test]
    fn wrong_privileges_say_what_the_object_takes() {
        let e = held(&["selct"], Securable::Table).unwrap_err();
        assert!(e.message.contains("unknown privilege `selct`"), "{e:?}");
        assert!(e.help.contains("select, insert"), "{e:?}");
        let e = held(&["execute"], Securable::Table).unwrap_err();
        assert_eq!(e.message, "execute cannot be granted on tables");
    }

    #[test]
    fn public_is_lower_case_and_never_a_role() {
        assert_eq!(grantee("public"), Ok(Grantee::Public));
        assert!(grantee("PUBLIC").is_err());
        assert_eq!(
            grantee("anon"),
            Ok(Grantee::Role(Ident::new("anon").unwrap()))
        );
        assert_eq!(Grantee::Public.to_string(), "PUBLIC");
        assert_eq!(
            Grantee::Role(Ident::new("Admins").unwrap()).to_string(),
            "\"Admins\""
        );
    }
}
