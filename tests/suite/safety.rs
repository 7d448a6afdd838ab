//! The promise, as a property: whatever the live and desired states, every statement reconcile
//! plans is additive.
//!
//! Random desired schemas (`tests/common/generate.rs`: schemas, extensions, enums, domains,
//! composites, sequences, tables with every column shape, constraint kind and index shape the
//! model has, row-level security, names that need quoting; functions, procedures and
//! aggregates, whose bodies try to break out of their quoting) are paired with live states
//! derived from them by random drift: objects dropped, columns retyped or renamed,
//! nullability, defaults and identity flipped, enum labels removed, added or reordered, extra
//! objects added, function bodies and result types changed (replace steps, and findings for
//! what needs a DROP); privileges, default privileges and owners (added to the generated
//! schema here) granted, dropped, added and changed; views, materialized views, triggers,
//! row-level security policies and comments (added here too, with string literals, role names
//! and comment texts that try to break out of a guard, dollar quote or comment) dropped,
//! replaced, widened, narrowed, switched off and added. For each pair, with and without
//! `CREATE INDEX CONCURRENTLY`, every planned step is parsed by the real PostgreSQL parser
//! ([`reconcile::classify`]) — the statements inside its `DO` guard block included — and must
//! be on the additive allow-list — `REVOKE` never is — except the `ALTER ... OWNER TO` of an
//! object an earlier step of the same plan creates; the rendered psql script must consist of
//! exactly the steps plus `SET`/`BEGIN`/`COMMIT`, with the findings' suggested SQL confined to
//! comments; every `ALTER POLICY` must let in exactly the desired policy's roles (read by the
//! parser) with its expressions; and the plan, written as a plan file, must be accepted by
//! `reconcile apply FILE`'s checks. The negative controls show what those checks refuse:
//! REVOKE, DETACH PARTITION, DROP POLICY/VIEW/FUNCTION/TRIGGER, row-level security switched
//! off — and, in a plan file, an `ALTER POLICY` (or any in-place swap) the reviewed desired
//! state does not call for, such as one that lets every role or every row in.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use reconcile::apply::planfile;
use reconcile::classify::{self, AlterTableAction, Kind, Statement};
use reconcile::diff::{self, Diff, Options};
use reconcile::kinds::aggregate::Aggregate;
use reconcile::kinds::function::{Function, Routine, RoutineKind, Uses};
use reconcile::kinds::policy::{PUBLIC, normalise_roles};
use reconcile::model::{
    Column, Constraint, ConstraintKind, DefaultGrant, DefaultKey, EnumType, Firing, Grant,
    GrantKey, Grantee, Ident, Identity, Index, IndexKey, IndexTarget, MaterializedView, ObjectId,
    Owner, PartitionOf, Policy, PolicyCommand, PolicyKey, Privilege, QualifiedName, Schema,
    Securable, Sequence, SequenceOptions, SequenceType, Table, Trigger, TriggerKey, View,
};
use reconcile::plan::{self, Context, Plan, Step, StepKind};
use reconcile::render::{self, Report};

use crate::common::generate::{
    BASE_TYPES, LABELS, NAMES, Pick, SCHEMAS, build_schema, choose, clip, ident, nth_key, pick,
    schema_plan,
};

// ---------------------------------------------------------------------------------------------
// Privileges, default privileges and owners, added to the generated schema (the shared
// generator leaves them out).

/// Role names: Supabase's, and names that only survive correct quoting (`PUBLIC` as a role's
/// name is not PUBLIC).
const ROLES: &[&str] = &[
    "anon",
    "authenticated",
    "service role",
    "PUBLIC",
    "x'); DROP ROLE postgres; --",
    "line\nbreak",
];

/// Privileges, default privileges and owners.
#[derive(Debug, Clone)]
struct AccessPlan {
    /// (object, grantee, privilege, grant option or — for PUBLIC — revoked)
    grants: Vec<(Pick, Pick, Pick, bool)>,
    /// (role, schema, kind of object, grantee, privilege, grant option)
    defaults: Vec<(Pick, Pick, Pick, Pick, Pick, bool)>,
    owner: Option<Pick>,
    schema_owner: Option<Pick>,
}

fn access_plan() -> impl Strategy<Value = AccessPlan> {
    let p = || any::<Pick>();
    (
        prop::collection::vec((p(), p(), p(), proptest::bool::weighted(0.3)), 0..8),
        prop::collection::vec((p(), p(), p(), p(), p(), any::<bool>()), 0..3),
        proptest::option::weighted(0.4, p()),
        proptest::option::weighted(0.3, p()),
    )
        .prop_map(|(grants, defaults, owner, schema_owner)| AccessPlan {
            grants,
            defaults,
            owner,
            schema_owner,
        })
}

fn grantee(i: &Pick) -> Grantee {
    match i.index(ROLES.len() + 1) {
        n if n == ROLES.len() => Grantee::Public,
        n => Grantee::Role(ident(ROLES[n])),
    }
}

/// The objects of a model privileges can be on, with their kind.
fn securables(model: &Schema) -> Vec<(ObjectId, Securable)> {
    let mut out: Vec<(ObjectId, Securable)> = model
        .schemas
        .iter()
        .map(|s| (ObjectId::Schema(s.clone()), Securable::Schema))
        .collect();
    for (name, table) in &model.tables {
        out.push((ObjectId::Table(name.clone()), Securable::Table));
        for c in &table.columns {
            out.push((ObjectId::column(name, &c.name), Securable::Column));
        }
    }
    out.extend(
        model
            .sequences
            .keys()
            .map(|n| (ObjectId::Sequence(n.clone()), Securable::Sequence)),
    );
    out.extend(
        model
            .enums
            .keys()
            .chain(model.composites.keys())
            .map(|n| (ObjectId::Type(n.clone()), Securable::Type)),
    );
    out.extend(
        model
            .domains
            .keys()
            .map(|n| (ObjectId::Domain(n.clone()), Securable::Type)),
    );
    out.push((
        ObjectId::Function {
            name: QualifiedName::new(ident("public"), ident("f")),
            args: vec!["integer".to_owned(), "character varying".to_owned()],
        },
        Securable::Function,
    ));
    out
}

/// Privileges, default privileges and owners, as the loader would make them.
fn access(plan: &AccessPlan, out: &mut Schema) {
    let objects = securables(out);
    for (object, who, privilege, flag) in &plan.grants {
        let (on, kind) = pick(&objects, object).clone();
        let grantee = grantee(who);
        let privilege = *pick(kind.privileges(), privilege);
        let public_default = grantee == Grantee::Public
            && (kind.public_default() == Some(privilege)
                || (on == ObjectId::Schema(ident("public")) && privilege == Privilege::Usage));
        let grant = match (&grantee, public_default) {
            (Grantee::Public, true) if *flag => Grant::Revoked,
            (Grantee::Public, _) => Grant::Granted {
                grant_option: false,
            },
            _ => Grant::Granted {
                grant_option: *flag,
            },
        };
        out.grants.insert(
            GrantKey {
                on,
                grantee,
                privilege,
            },
            grant,
        );
    }
    let schemas: Vec<Ident> = out.schemas.iter().cloned().collect();
    let kinds = [
        Securable::Table,
        Securable::Sequence,
        Securable::Function,
        Securable::Type,
    ];
    for (role, schema, on, who, privilege, grant_option) in &plan.defaults {
        let on = *pick(&kinds, on);
        let grantee = grantee(who);
        out.default_privileges.insert(
            DefaultKey {
                role: ident(choose(ROLES, role)),
                schema: pick(&schemas, schema).clone(),
                on,
                grantee: grantee.clone(),
                privilege: *pick(on.privileges(), privilege),
            },
            DefaultGrant {
                grant_option: *grant_option && grantee != Grantee::Public,
            },
        );
    }
    if let Some(role) = &plan.owner {
        let role = ident(choose(ROLES, role));
        let mut owned: Vec<ObjectId> = out.tables.keys().cloned().map(ObjectId::Table).collect();
        owned.extend(
            out.sequences
                .iter()
                .filter(|(_, s)| s.owned_by.is_none())
                .map(|(n, _)| ObjectId::Sequence(n.clone())),
        );
        owned.extend(
            out.enums
                .keys()
                .chain(out.composites.keys())
                .cloned()
                .map(ObjectId::Type),
        );
        owned.extend(out.domains.keys().cloned().map(ObjectId::Domain));
        for on in owned {
            out.owners.insert(on, Owner { role: role.clone() });
        }
    }
    if let Some(role) = &plan.schema_owner {
        for schema in schemas {
            out.owners.insert(
                ObjectId::Schema(schema),
                Owner {
                    role: ident(choose(ROLES, role)),
                },
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drift: the live state is the desired one after random mutations.

#[derive(Debug, Clone)]
enum Mutation {
    /// The database is empty.
    Empty,
    DropSchema(Pick),
    DropExtension(Pick),
    MoveExtension(Pick, Pick),
    DropEnum(Pick),
    RemoveLabel(Pick, Pick),
    ExtraLabel(Pick, Pick),
    ReorderLabels(Pick, Pick, Pick),
    DropDomain(Pick),
    ChangeDomain(Pick),
    DropComposite(Pick),
    ChangeComposite(Pick),
    ExtraType(Pick),
    DropSequence(Pick),
    ChangeSequence(Pick),
    ExtraSequence(Pick),
    DropTable(Pick),
    ExtraTable(Pick, Pick),
    DropColumn(Pick, Pick),
    ExtraColumn(Pick, Pick, Pick),
    RenameColumn(Pick, Pick, Pick),
    RetypeColumn(Pick, Pick, Pick),
    ToggleNotNull(Pick, Pick),
    ChangeDefault(Pick, Pick),
    ToggleIdentity(Pick, Pick),
    DropConstraint(Pick, Pick),
    RenameConstraint(Pick, Pick),
    ChangeConstraint(Pick, Pick),
    ExtraConstraint(Pick, Pick),
    DropIndex(Pick, Pick),
    RenameIndex(Pick, Pick),
    ChangeIndex(Pick, Pick),
    ExtraIndex(Pick, Pick),
    ToggleRowLevelSecurity(Pick, bool),
    DropGrant(Pick),
    /// (object, grantee, privilege)
    ExtraGrant(Pick, Pick, Pick),
    FlipGrant(Pick),
    DropDefaultPrivilege(Pick),
    /// (schema, grantee)
    ExtraDefaultPrivilege(Pick, Pick),
    FlipDefaultPrivilege(Pick),
    ChangeOwner(Pick, Pick),
    /// Functions, procedures and aggregates (by their place among all of them).
    DropRoutine(Pick),
    ChangeRoutineBody(Pick, Pick),
    RetypeRoutine(Pick),
    ExtraRoutine(Pick, Pick),
    DropView(Pick),
    /// (view, query)
    ChangeView(Pick, Pick),
    ExtraView(Pick, Pick),
    DropMaterializedView(Pick),
    ChangeMaterializedView(Pick, Pick),
    DropTrigger(Pick),
    /// (trigger, form, firing)
    ChangeTrigger(Pick, Pick, Pick),
    /// (table, name, form)
    ExtraTrigger(Pick, Pick, Pick),
    DropPolicy(Pick),
    /// The database's policy lets fewer roles in (so the desired one widens access).
    NarrowPolicy(Pick),
    /// The database's policy lets every role in (so the desired one narrows access).
    WidenPolicy(Pick),
    /// (policy, expression)
    ChangePolicyExpression(Pick, Pick),
    /// The command or PERMISSIVE/RESTRICTIVE differs (ALTER POLICY cannot change it).
    ChangePolicyKind(Pick),
    /// (table, name, roles)
    ExtraPolicy(Pick, Pick, Pick),
    DropComment(Pick),
    ChangeComment(Pick, Pick),
    ExtraComment(Pick, Pick),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let p = || any::<Pick>();
    prop_oneof![
        1 => Just(Mutation::Empty),
        1 => p().prop_map(Mutation::DropSchema),
        1 => p().prop_map(Mutation::DropExtension),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::MoveExtension(a, b)),
        1 => p().prop_map(Mutation::DropEnum),
        3 => (p(), p()).prop_map(|(a, b)| Mutation::RemoveLabel(a, b)),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraLabel(a, b)),
        2 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ReorderLabels(a, b, c)),
        1 => p().prop_map(Mutation::DropDomain),
        1 => p().prop_map(Mutation::ChangeDomain),
        1 => p().prop_map(Mutation::DropComposite),
        1 => p().prop_map(Mutation::ChangeComposite),
        1 => p().prop_map(Mutation::ExtraType),
        1 => p().prop_map(Mutation::DropSequence),
        1 => p().prop_map(Mutation::ChangeSequence),
        1 => p().prop_map(Mutation::ExtraSequence),
        3 => p().prop_map(Mutation::DropTable),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraTable(a, b)),
        4 => (p(), p()).prop_map(|(a, b)| Mutation::DropColumn(a, b)),
        2 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ExtraColumn(a, b, c)),
        2 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::RenameColumn(a, b, c)),
        3 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::RetypeColumn(a, b, c)),
        3 => (p(), p()).prop_map(|(a, b)| Mutation::ToggleNotNull(a, b)),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeDefault(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ToggleIdentity(a, b)),
        6 => (p(), p()).prop_map(|(a, b)| Mutation::DropConstraint(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::RenameConstraint(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeConstraint(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraConstraint(a, b)),
        3 => (p(), p()).prop_map(|(a, b)| Mutation::DropIndex(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::RenameIndex(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeIndex(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraIndex(a, b)),
        2 => (p(), any::<bool>()).prop_map(|(a, b)| Mutation::ToggleRowLevelSecurity(a, b)),
        3 => p().prop_map(Mutation::DropGrant),
        2 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ExtraGrant(a, b, c)),
        2 => p().prop_map(Mutation::FlipGrant),
        1 => p().prop_map(Mutation::DropDefaultPrivilege),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraDefaultPrivilege(a, b)),
        1 => p().prop_map(Mutation::FlipDefaultPrivilege),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeOwner(a, b)),
        2 => p().prop_map(Mutation::DropRoutine),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeRoutineBody(a, b)),
        1 => p().prop_map(Mutation::RetypeRoutine),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraRoutine(a, b)),
        1 => p().prop_map(Mutation::DropView),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeView(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraView(a, b)),
        1 => p().prop_map(Mutation::DropMaterializedView),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeMaterializedView(a, b)),
        1 => p().prop_map(Mutation::DropTrigger),
        2 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ChangeTrigger(a, b, c)),
        1 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ExtraTrigger(a, b, c)),
        1 => p().prop_map(Mutation::DropPolicy),
        2 => p().prop_map(Mutation::NarrowPolicy),
        2 => p().prop_map(Mutation::WidenPolicy),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangePolicyExpression(a, b)),
        1 => p().prop_map(Mutation::ChangePolicyKind),
        1 => (p(), p(), p()).prop_map(|(a, b, c)| Mutation::ExtraPolicy(a, b, c)),
        1 => p().prop_map(Mutation::DropComment),
        2 => (p(), p()).prop_map(|(a, b)| Mutation::ChangeComment(a, b)),
        1 => (p(), p()).prop_map(|(a, b)| Mutation::ExtraComment(a, b)),
    ]
}

/// A name not used by `taken`, from the pool, prefixed to keep it apart from desired names.
fn extra_name(i: &Pick, taken: impl Fn(&str) -> bool) -> Ident {
    let base = format!("extra {}", choose(NAMES, i));
    let base = clip(&base, 55);
    let mut name = base.to_owned();
    let mut n = 1;
    while taken(&name) {
        n += 1;
        name = format!("{base}_{n}");
    }
    ident(&name)
}

/// Removes the `i`th entry of `map`, if it has any.
fn remove_nth<K: Ord + Clone, V>(map: &mut std::collections::BTreeMap<K, V>, i: &Pick) {
    if let Some(key) = nth_key(map, i) {
        map.remove(&key);
    }
}

/// A plain table of `live` and a name on it that `taken` (table, name) does not use, for an
/// extra trigger or policy.
fn extra_on_table(
    live: &Schema,
    taken: &[(&QualifiedName, &Ident)],
    t: &Pick,
    n: &Pick,
) -> Option<(QualifiedName, Ident)> {
    let tables = plain_tables(live);
    if tables.is_empty() {
        return None;
    }
    let table = pick(&tables, t).clone();
    let name = extra_name(n, |x| {
        taken
            .iter()
            .any(|(on, name)| **on == table && name.as_str() == x)
    });
    Some((table, name))
}

fn table_mut<'a>(live: &'a mut Schema, t: &Pick) -> Option<&'a mut Table> {
    let name = nth_key(&live.tables, t)?;
    live.tables.get_mut(&name)
}

fn mutate(live: &mut Schema, m: &Mutation) {
    match m {
        Mutation::Empty => *live = Schema::default(),
        Mutation::DropSchema(s) => {
            let schemas: Vec<Ident> = live.schemas.iter().cloned().collect();
            if !schemas.is_empty() {
                live.schemas.remove(pick(&schemas, s));
            }
        }
        Mutation::DropExtension(e) => {
            if let Some(name) = nth_key(&live.extensions, e) {
                live.extensions.remove(&name);
            }
        }
        Mutation::MoveExtension(e, s) => {
            if let Some(name) = nth_key(&live.extensions, e) {
                live.extensions.get_mut(&name).unwrap().schema = ident(choose(SCHEMAS, s));
            }
        }
        Mutation::DropEnum(e) => {
            if let Some(name) = nth_key(&live.enums, e) {
                live.enums.remove(&name);
            }
        }
        Mutation::RemoveLabel(e, l) => {
            if let Some(name) = nth_key(&live.enums, e) {
                let values = &mut live.enums.get_mut(&name).unwrap().values;
                if !values.is_empty() {
                    values.remove(l.index(values.len()));
                }
            }
        }
        Mutation::ExtraLabel(e, l) => {
            if let Some(name) = nth_key(&live.enums, e) {
                let values = &mut live.enums.get_mut(&name).unwrap().values;
                let label = format!("extra {}", choose(LABELS, l));
                if !values.contains(&label) {
                    let at = l.index(values.len() + 1);
                    values.insert(at, label);
                }
            }
        }
        Mutation::ReorderLabels(e, a, b) => {
            if let Some(name) = nth_key(&live.enums, e) {
                let values = &mut live.enums.get_mut(&name).unwrap().values;
                if !values.is_empty() {
                    let (a, b) = (a.index(values.len()), b.index(values.len()));
                    values.swap(a, b);
                }
            }
        }
        Mutation::DropDomain(d) => {
            if let Some(name) = nth_key(&live.domains, d) {
                live.domains.remove(&name);
            }
        }
        Mutation::ChangeDomain(d) => {
            if let Some(name) = nth_key(&live.domains, d) {
                let domain = live.domains.get_mut(&name).unwrap();
                domain.not_null = !domain.not_null;
            }
        }
        Mutation::DropComposite(c) => {
            if let Some(name) = nth_key(&live.composites, c) {
                live.composites.remove(&name);
            }
        }
        Mutation::ChangeComposite(c) => {
            if let Some(name) = nth_key(&live.composites, c) {
                let composite = live.composites.get_mut(&name).unwrap();
                composite.attributes.pop();
            }
        }
        Mutation::ExtraType(i) => {
            let name = extra_name(i, |n| live.enums.keys().any(|k| k.name.as_str() == n));
            live.enums.insert(
                QualifiedName::new(ident("public"), name),
                EnumType {
                    values: vec!["gone".to_owned()],
                },
            );
        }
        Mutation::DropSequence(s) => {
            if let Some(name) = nth_key(&live.sequences, s) {
                live.sequences.remove(&name);
            }
        }
        Mutation::ChangeSequence(s) => {
            if let Some(name) = nth_key(&live.sequences, s) {
                let sequence = live.sequences.get_mut(&name).unwrap();
                sequence.options.cache += 10;
                sequence.owned_by = None;
            }
        }
        Mutation::ExtraSequence(i) => {
            let name = extra_name(i, |n| live.sequences.keys().any(|k| k.name.as_str() == n));
            live.sequences.insert(
                QualifiedName::new(ident("public"), name),
                Sequence {
                    options: SequenceOptions::defaults(SequenceType::Bigint, 1),
                    owned_by: None,
                },
            );
        }
        Mutation::DropTable(t) => {
            if let Some(name) = nth_key(&live.tables, t) {
                live.tables.remove(&name);
                // A table that is not there has no owner and no privileges.
                live.owners.remove(&ObjectId::Table(name.clone()));
                live.grants.retain(|key, _| key.on.table() != Some(&name));
                live.triggers.retain(|key, _| key.table != name);
                live.policies.retain(|key, _| key.table != name);
                live.comments.retain(|on, _| on.table() != Some(&name));
            }
        }
        Mutation::ExtraTable(i, ty) => {
            let name = extra_name(i, |n| live.tables.keys().any(|k| k.name.as_str() == n));
            live.tables.insert(
                QualifiedName::new(ident("public"), name),
                Table {
                    columns: vec![Column::new(ident("id"), choose(BASE_TYPES, ty))],
                    ..Table::default()
                },
            );
        }
        Mutation::DropColumn(t, c) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                table.columns.remove(c.index(table.columns.len()));
            }
        }
        Mutation::ExtraColumn(t, i, ty) => {
            if let Some(table) = table_mut(live, t) {
                let name = extra_name(i, |n| table.column(n).is_some());
                table
                    .columns
                    .push(Column::new(name, choose(BASE_TYPES, ty)));
            }
        }
        Mutation::RenameColumn(t, c, i) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                let name = extra_name(i, |n| table.column(n).is_some());
                let position = c.index(table.columns.len());
                table.columns[position].name = name;
            }
        }
        Mutation::RetypeColumn(t, c, ty) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                let position = c.index(table.columns.len());
                table.columns[position].data_type = choose(BASE_TYPES, ty).into();
            }
        }
        Mutation::ToggleNotNull(t, c) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                let position = c.index(table.columns.len());
                table.columns[position].not_null = !table.columns[position].not_null;
            }
        }
        Mutation::ChangeDefault(t, c) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                let position = c.index(table.columns.len());
                let column = &mut table.columns[position];
                column.default = match column.default {
                    Some(_) => None,
                    None => Some("NULL::text".to_owned()),
                };
            }
        }
        Mutation::ToggleIdentity(t, c) => {
            if let Some(table) = table_mut(live, t)
                && !table.columns.is_empty()
            {
                let position = c.index(table.columns.len());
                let column = &mut table.columns[position];
                let identity = match column.identity() {
                    Some(_) => None,
                    None => Some(Identity {
                        always: false,
                        options: SequenceOptions::defaults(SequenceType::Bigint, 1),
                    }),
                };
                column.set_identity(identity);
            }
        }
        Mutation::DropConstraint(t, c) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.constraints, c)
            {
                table.constraints.remove(&name);
            }
        }
        Mutation::RenameConstraint(t, c) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.constraints, c)
            {
                let constraint = table.constraints.remove(&name).unwrap();
                let new = extra_name(c, |n| table.constraints.contains_key(&ident(n)));
                table.constraints.insert(new, constraint);
            }
        }
        Mutation::ChangeConstraint(t, c) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.constraints, c)
            {
                let constraint = table.constraints.get_mut(&name).unwrap();
                match &mut constraint.kind {
                    ConstraintKind::Check { no_inherit, .. } => *no_inherit = !*no_inherit,
                    ConstraintKind::ForeignKey(fk) => fk.match_full = !fk.match_full,
                    _ => constraint.deferrable = !constraint.deferrable,
                }
            }
        }
        Mutation::ExtraConstraint(t, i) => {
            if let Some(table) = table_mut(live, t)
                && let Some(column) = table.columns.first()
            {
                let expression = format!("({} IS NULL)", column.name.quoted());
                let name = extra_name(i, |n| table.constraints.contains_key(&ident(n)));
                table.constraints.insert(
                    name,
                    Constraint {
                        kind: ConstraintKind::Check {
                            expression,
                            no_inherit: false,
                        },
                        deferrable: false,
                        initially_deferred: false,
                    },
                );
            }
        }
        Mutation::DropIndex(t, i) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.indexes, i)
            {
                table.indexes.remove(&name);
            }
        }
        Mutation::RenameIndex(t, i) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.indexes, i)
            {
                let index = table.indexes.remove(&name).unwrap();
                let new = extra_name(i, |n| table.indexes.contains_key(&ident(n)));
                table.indexes.insert(new, index);
            }
        }
        Mutation::ChangeIndex(t, i) => {
            if let Some(table) = table_mut(live, t)
                && let Some(name) = nth_key(&table.indexes, i)
            {
                let index = table.indexes.get_mut(&name).unwrap();
                index.unique = !index.unique;
            }
        }
        Mutation::ExtraIndex(t, i) => {
            if let Some(table) = table_mut(live, t)
                && let Some(column) = table.columns.first()
            {
                let index = Index {
                    unique: false,
                    method: "btree".to_owned(),
                    keys: vec![IndexKey {
                        target: IndexTarget::Column(column.name.clone()),
                        opclass: None,
                        collation: None,
                        descending: false,
                        nulls_first: false,
                    }],
                    include: vec![],
                    predicate: None,
                    nulls_not_distinct: false,
                };
                let name = extra_name(i, |n| table.indexes.contains_key(&ident(n)));
                table.indexes.insert(name, index);
            }
        }
        Mutation::ToggleRowLevelSecurity(t, force) => {
            if let Some(table) = table_mut(live, t) {
                if *force {
                    table.force_row_level_security = !table.force_row_level_security;
                } else {
                    table.row_level_security = !table.row_level_security;
                }
            }
        }
        Mutation::DropGrant(g) => {
            if let Some(key) = nth_key(&live.grants, g) {
                live.grants.remove(&key);
            }
        }
        Mutation::ExtraGrant(o, who, privilege) => {
            let objects = securables(live);
            let (on, kind) = pick(&objects, o).clone();
            let grantee = grantee(who);
            if grantee != Grantee::Public {
                live.grants.insert(
                    GrantKey {
                        on,
                        grantee,
                        privilege: *pick(kind.privileges(), privilege),
                    },
                    Grant::Granted { grant_option: true },
                );
            }
        }
        Mutation::FlipGrant(g) => {
            if let Some(key) = nth_key(&live.grants, g) {
                match live.grants[&key] {
                    Grant::Granted { grant_option } if key.grantee != Grantee::Public => {
                        live.grants.insert(
                            key,
                            Grant::Granted {
                                grant_option: !grant_option,
                            },
                        );
                    }
                    Grant::Granted { .. } => {}
                    // The default privilege is back.
                    Grant::Revoked => {
                        live.grants.remove(&key);
                    }
                }
            }
        }
        Mutation::DropDefaultPrivilege(d) => {
            if let Some(key) = nth_key(&live.default_privileges, d) {
                live.default_privileges.remove(&key);
            }
        }
        Mutation::ExtraDefaultPrivilege(schema, who) => {
            let schemas: Vec<Ident> = live.schemas.iter().cloned().collect();
            if !schemas.is_empty() {
                live.default_privileges.insert(
                    DefaultKey {
                        role: ident("extra owner"),
                        schema: pick(&schemas, schema).clone(),
                        on: Securable::Table,
                        grantee: grantee(who),
                        privilege: Privilege::Delete,
                    },
                    DefaultGrant {
                        grant_option: false,
                    },
                );
            }
        }
        Mutation::FlipDefaultPrivilege(d) => {
            if let Some(key) = nth_key(&live.default_privileges, d) {
                let grant = live.default_privileges.get_mut(&key).unwrap();
                if key.grantee != Grantee::Public {
                    grant.grant_option = !grant.grant_option;
                }
            }
        }
        Mutation::ChangeOwner(o, role) => {
            if let Some(key) = nth_key(&live.owners, o) {
                live.owners.get_mut(&key).unwrap().role =
                    ident(&format!("extra {}", choose(ROLES, role)));
            }
        }
        Mutation::DropRoutine(r) => {
            if let Some(key) = nth_key(&live.functions, r) {
                live.functions.remove(&key);
            } else if let Some(key) = nth_key(&live.aggregates, r) {
                live.aggregates.remove(&key);
            }
        }
        Mutation::ChangeRoutineBody(r, b) => {
            if let Some(key) = nth_key(&live.functions, r) {
                let function = live.functions.get_mut(&key).unwrap();
                *function = routine(&key, function.result.as_deref(), choose(BODIES, b));
            } else if let Some(key) = nth_key(&live.aggregates, r) {
                *live.aggregates.get_mut(&key).unwrap() = aggregate(&key, Some(b.0));
            }
        }
        Mutation::RetypeRoutine(r) => {
            if let Some(key) = nth_key(&live.functions, r)
                && key.kind == RoutineKind::Function
            {
                live.functions
                    .insert(key.clone(), routine(&key, Some("bigint"), "SELECT 1"));
            }
        }
        Mutation::ExtraRoutine(n, b) => {
            let name = QualifiedName::new(
                ident("public"),
                extra_name(n, |x| {
                    live.functions.keys().any(|k| k.name.name.as_str() == x)
                }),
            );
            let key = Routine {
                name,
                args: vec!["integer".to_owned()],
                kind: RoutineKind::Function,
            };
            let function = routine(&key, Some("integer"), choose(BODIES, b));
            live.functions.insert(key, function);
        }
        Mutation::DropView(v) => remove_nth(&mut live.views, v),
        Mutation::ChangeView(v, q) => {
            if let Some(name) = nth_key(&live.views, v) {
                live.views.insert(name, view(q));
            }
        }
        Mutation::ExtraView(n, q) => {
            let name = extra_name(n, |x| live.views.keys().any(|k| k.name.as_str() == x));
            live.views
                .insert(QualifiedName::new(ident("public"), name), view(q));
        }
        Mutation::DropMaterializedView(v) => remove_nth(&mut live.materialized_views, v),
        Mutation::ChangeMaterializedView(v, q) => {
            if let Some(name) = nth_key(&live.materialized_views, v) {
                live.materialized_views.insert(name, materialized_view(q));
            }
        }
        Mutation::DropTrigger(t) => remove_nth(&mut live.triggers, t),
        Mutation::ChangeTrigger(t, form, firing) => {
            if let Some(key) = nth_key(&live.triggers, t) {
                let changed = trigger(&key, form, *pick(FIRINGS, firing));
                live.triggers.insert(key, changed);
            }
        }
        Mutation::ExtraTrigger(t, n, form) => {
            let taken: Vec<(&QualifiedName, &Ident)> =
                live.triggers.keys().map(|k| (&k.table, &k.name)).collect();
            if let Some((table, name)) = extra_on_table(live, &taken, t, n) {
                let key = TriggerKey::new(table, name);
                let extra = trigger(&key, form, Firing::Enabled);
                live.triggers.insert(key, extra);
            }
        }
        Mutation::DropPolicy(p) => remove_nth(&mut live.policies, p),
        Mutation::NarrowPolicy(p) => {
            if let Some(key) = nth_key(&live.policies, p) {
                live.policies.get_mut(&key).unwrap().roles = vec![ROLES[0].to_owned()];
            }
        }
        Mutation::WidenPolicy(p) => {
            if let Some(key) = nth_key(&live.policies, p) {
                live.policies.get_mut(&key).unwrap().roles = vec![PUBLIC.to_owned()];
            }
        }
        Mutation::ChangePolicyExpression(p, e) => {
            if let Some(key) = nth_key(&live.policies, p) {
                let policy = live.policies.get_mut(&key).unwrap();
                let expression = choose(POLICY_EXPRESSIONS, e).to_owned();
                if policy.using.is_some() {
                    policy.using = Some(expression);
                } else {
                    policy.check = Some(expression);
                }
            }
        }
        Mutation::ChangePolicyKind(p) => {
            if let Some(key) = nth_key(&live.policies, p) {
                let policy = live.policies.get_mut(&key).unwrap();
                policy.permissive = !policy.permissive;
            }
        }
        Mutation::ExtraPolicy(t, n, r) => {
            let taken: Vec<(&QualifiedName, &Ident)> =
                live.policies.keys().map(|k| (&k.table, &k.name)).collect();
            if let Some((table, name)) = extra_on_table(live, &taken, t, n) {
                let extra = policy(&Pick(0), std::slice::from_ref(r), &Pick(3), true);
                live.policies.insert(PolicyKey::new(table, name), extra);
            }
        }
        Mutation::DropComment(c) => remove_nth(&mut live.comments, c),
        Mutation::ChangeComment(c, text) => {
            if let Some(key) = nth_key(&live.comments, c) {
                live.comments
                    .insert(key, format!("was: {}", choose(COMMENTS, text)));
            }
        }
        Mutation::ExtraComment(o, text) => {
            let objects = commentable(live);
            if !objects.is_empty() {
                let object = pick(&objects, o).clone();
                live.comments
                    .entry(object)
                    .or_insert_with(|| choose(COMMENTS, text).to_owned());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Functions, procedures and aggregates. They are declared in SQL, so the model holds the
// server's canonical text; bodies include text that would break out of a careless guard or
// dollar quote.

const BODIES: &[&str] = &[
    "SELECT x",
    "SELECT x; DROP TABLE t",
    "SELECT $reconcile$ $reconcile$ IS NULL",
    "$reconcile$; DROP TABLE t; DO $reconcile$ BEGIN",
    "END IF; END $reconcile1$; DROP SCHEMA public CASCADE; --",
];

const ARGUMENT_TYPES: &[&str] = &["integer", "text", "bigint", "boolean"];

/// `(schema, name, argument type, body, kind)`: 0 function, 1 procedure, 2 aggregate.
type RoutinePlan = (Pick, Pick, Pick, Pick, u8);

fn routine_plans() -> impl Strategy<Value = Vec<RoutinePlan>> {
    prop::collection::vec(
        (
            any::<Pick>(),
            any::<Pick>(),
            any::<Pick>(),
            any::<Pick>(),
            0u8..3,
        ),
        0..4,
    )
}

/// A function or procedure (`result` none) as `pg_get_functiondef` prints one.
fn routine(key: &Routine, result: Option<&str>, body: &str) -> Function {
    let what = match key.kind {
        RoutineKind::Procedure => "PROCEDURE",
        _ => "FUNCTION",
    };
    let returns = result
        .map(|r| format!("\n RETURNS {r}"))
        .unwrap_or_default();
    let mut tag = "$function$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$function{n}$");
    }
    Function {
        definition: format!(
            "CREATE OR REPLACE {what} {}(x {}){returns}\n LANGUAGE sql\nAS {tag}{body}{tag}",
            key.name.quoted(),
            key.args.join(", ")
        ),
        result: result.map(str::to_owned),
        input_names: vec!["x".to_owned()],
        outputs: vec![],
        defaults: 0,
        uses: Uses::default(),
    }
}

/// A sum aggregate over `int4pl`, with an initial value when `initial` is some.
fn aggregate(key: &Routine, initial: Option<usize>) -> Aggregate {
    let initial = initial
        .map(|i| format!(",\n    INITCOND = '{i}'"))
        .unwrap_or_default();
    Aggregate {
        definition: format!(
            "CREATE AGGREGATE {}(integer) (\n    SFUNC = int4pl,\n    STYPE = integer{initial}\n)",
            key.name.quoted()
        ),
        identity: "integer".to_owned(),
        result: "integer".to_owned(),
        kind: "n".to_owned(),
        direct_args: 0,
        uses: Uses::default(),
    }
}

/// Adds the planned routines to `desired`, in its schemas (or `public`).
fn add_routines(desired: &mut Schema, plans: &[RoutinePlan]) {
    let schemas: Vec<Ident> = desired
        .schemas
        .iter()
        .cloned()
        .chain([ident("public")])
        .collect();
    for (schema, name, arg, body, kind) in plans {
        let kind = match kind {
            0 => RoutineKind::Function,
            1 => RoutineKind::Procedure,
            _ => RoutineKind::Aggregate,
        };
        let key = Routine {
            name: QualifiedName::new(pick(&schemas, schema).clone(), ident(choose(NAMES, name))),
            args: vec![if kind == RoutineKind::Aggregate {
                "integer".to_owned()
            } else {
                choose(ARGUMENT_TYPES, arg).to_owned()
            }],
            kind,
        };
        match kind {
            RoutineKind::Aggregate => {
                desired
                    .aggregates
                    .insert(key.clone(), aggregate(&key, None));
            }
            RoutineKind::Procedure => {
                let function = routine(&key, None, choose(BODIES, body));
                desired.functions.insert(key, function);
            }
            RoutineKind::Function => {
                let function = routine(&key, Some("integer"), choose(BODIES, body));
                desired.functions.insert(key, function);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Views, materialized views, triggers, policies and comments (issues 14 and 15), added to the
// generated schema here. They are declared in SQL or hold expressions, so the model holds the
// server's canonical text — and that text may hold string literals that would break out of a
// careless guard, dollar quote or comment.

/// `(definition, columns)` as `pg_get_viewdef` prints them. Queries with the same columns
/// replace each other in place; one with another column type cannot be replaced (a finding).
const VIEW_QUERIES: &[(&str, &[(&str, &str)])] = &[
    ("SELECT 42 AS answer", &[("answer", "integer")]),
    ("SELECT 43 AS answer", &[("answer", "integer")]),
    (
        "SELECT 42 AS answer,\n    '$reconcile$; DROP TABLE t; --'::text AS note",
        &[("answer", "integer"), ("note", "text")],
    ),
    (
        "SELECT 'END $reconcile$; DROP SCHEMA public CASCADE; --'::text AS answer",
        &[("answer", "text")],
    ),
];

/// Trigger bodies after `CREATE TRIGGER name`, with `{table}` for the table.
const TRIGGER_FORMS: &[&str] = &[
    "BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "AFTER INSERT ON {table} FOR EACH STATEMENT EXECUTE FUNCTION suppress_redundant_updates_trigger('$reconcile$; DROP TABLE t; --')",
];

const FIRINGS: &[Firing] = &[
    Firing::Enabled,
    Firing::Enabled,
    Firing::Disabled,
    Firing::Replica,
    Firing::Always,
];

/// Policy expressions as `pg_get_expr` prints them.
const POLICY_EXPRESSIONS: &[&str] = &[
    "(CURRENT_USER = 'anon'::name)",
    "('$reconcile$; DROP TABLE t'::text IS NOT NULL)",
    "false",
    "true",
];

/// Comment texts: quotes, line breaks (a `--` comment ends there), comment and dollar-quote
/// delimiters.
const COMMENTS: &[&str] = &[
    "The table's rows",
    "line\nDROP TABLE important; --",
    "*/ DROP TABLE important; /*",
    "$reconcile$; DROP TABLE important; --",
    "carriage\rDROP TABLE important; --",
];

/// Views, materialized views, triggers, policies and comments to add.
#[derive(Debug, Clone)]
struct ObjectPlan {
    /// (schema, name, query)
    views: Vec<(Pick, Pick, Pick)>,
    /// (schema, name, query)
    materialized: Vec<(Pick, Pick, Pick)>,
    /// (table, name, form, firing)
    triggers: Vec<(Pick, Pick, Pick, Pick)>,
    /// (table, name, command, roles, expression, permissive)
    policies: Vec<(Pick, Pick, Pick, Vec<Pick>, Pick, bool)>,
    /// (object, text)
    comments: Vec<(Pick, Pick)>,
}

fn object_plan() -> impl Strategy<Value = ObjectPlan> {
    let p = || any::<Pick>();
    (
        prop::collection::vec((p(), p(), p()), 0..3),
        prop::collection::vec((p(), p(), p()), 0..2),
        prop::collection::vec((p(), p(), p(), p()), 0..3),
        prop::collection::vec(
            (
                p(),
                p(),
                p(),
                prop::collection::vec(p(), 0..3),
                p(),
                proptest::bool::weighted(0.8),
            ),
            0..4,
        ),
        prop::collection::vec((p(), p()), 0..4),
    )
        .prop_map(
            |(views, materialized, triggers, policies, comments)| ObjectPlan {
                views,
                materialized,
                triggers,
                policies,
                comments,
            },
        )
}

fn view(query: &Pick) -> View {
    let (definition, columns) = choose(VIEW_QUERIES, query);
    View {
        definition: definition.to_owned(),
        columns: columns
            .iter()
            .map(|(n, t)| (ident(n), (*t).to_owned()))
            .collect(),
        options: vec![],
        relations: vec![],
        functions: vec![],
        columns_read: vec![],
    }
}

fn materialized_view(query: &Pick) -> MaterializedView {
    // Built from JSON: the model's catalog facts are not the test's to set.
    serde_json::from_value(serde_json::json!({
        "definition": choose(VIEW_QUERIES, query).0,
    }))
    .expect("a materialized view")
}

fn trigger(key: &TriggerKey, form: &Pick, firing: Firing) -> Trigger {
    Trigger {
        definition: format!(
            "CREATE TRIGGER {} {}",
            key.name.quoted(),
            choose(TRIGGER_FORMS, form).replace("{table}", &key.table.quoted())
        ),
        firing,
        function: None,
    }
}

/// The role names of a policy: PUBLIC (`public`) when none is picked.
fn policy_roles(picks: &[Pick]) -> Vec<String> {
    let mut roles: Vec<String> = picks
        .iter()
        .map(|r| match r.index(ROLES.len() + 1) {
            n if n == ROLES.len() => PUBLIC.to_owned(),
            n => ROLES[n].to_owned(),
        })
        .collect();
    if roles.iter().any(|r| r == PUBLIC) {
        roles = vec![PUBLIC.to_owned()];
    }
    normalise_roles(roles)
}

fn policy(command: &Pick, roles: &[Pick], expression: &Pick, permissive: bool) -> Policy {
    let command = *pick(&PolicyCommand::ALL, command);
    let expression = choose(POLICY_EXPRESSIONS, expression).to_owned();
    Policy {
        command,
        permissive,
        roles: policy_roles(roles),
        using: command.has_using().then(|| expression.clone()),
        check: command.has_check().then_some(expression),
    }
}

/// Plain tables (not partitions or partitioned): what triggers and policies go on here.
fn plain_tables(model: &Schema) -> Vec<QualifiedName> {
    model
        .tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_none() && t.partition_by.is_none())
        .map(|(n, _)| n.clone())
        .collect()
}

/// The objects of a model a comment can be on.
fn commentable(model: &Schema) -> Vec<ObjectId> {
    let mut out: Vec<ObjectId> = model.tables.keys().cloned().map(ObjectId::Table).collect();
    for (name, table) in &model.tables {
        out.extend(
            table
                .columns
                .iter()
                .map(|c| ObjectId::column(name, &c.name)),
        );
    }
    out.extend(model.views.keys().cloned().map(ObjectId::View));
    out.extend(model.policies.keys().map(|k| ObjectId::Policy {
        table: k.table.clone(),
        name: k.name.clone(),
    }));
    out.extend(model.triggers.keys().map(|k| ObjectId::Trigger {
        table: k.table.clone(),
        name: k.name.clone(),
    }));
    out
}

/// Adds the planned objects to `desired` (after its tables, privileges and routines).
fn add_objects(desired: &mut Schema, plan: &ObjectPlan) {
    let schemas: Vec<Ident> = desired
        .schemas
        .iter()
        .cloned()
        .chain([ident("public")])
        .collect();
    let taken = |model: &Schema, name: &QualifiedName| {
        model.tables.contains_key(name)
            || model.sequences.contains_key(name)
            || model.views.contains_key(name)
            || model.materialized_views.contains_key(name)
    };
    for (schema, name, query) in &plan.views {
        let name = QualifiedName::new(
            pick(&schemas, schema).clone(),
            ident(&format!("view {}", clip(choose(NAMES, name), 55))),
        );
        if !taken(desired, &name) {
            desired.views.insert(name, view(query));
        }
    }
    for (schema, name, query) in &plan.materialized {
        let name = QualifiedName::new(
            pick(&schemas, schema).clone(),
            ident(&format!("matview {}", clip(choose(NAMES, name), 50))),
        );
        if !taken(desired, &name) {
            desired
                .materialized_views
                .insert(name, materialized_view(query));
        }
    }
    let tables = plain_tables(desired);
    if !tables.is_empty() {
        for (table, name, form, firing) in &plan.triggers {
            let key = TriggerKey::new(pick(&tables, table).clone(), ident(choose(NAMES, name)));
            let firing = *pick(FIRINGS, firing);
            let trigger = trigger(&key, form, firing);
            desired.triggers.insert(key, trigger);
        }
        for (table, name, command, roles, expression, permissive) in &plan.policies {
            let key = PolicyKey::new(pick(&tables, table).clone(), ident(choose(NAMES, name)));
            let policy = policy(command, roles, expression, *permissive);
            desired.policies.insert(key.clone(), policy);
            // Policies are enforced once row-level security is on.
            if let Some(t) = desired.tables.get_mut(&key.table) {
                t.row_level_security = true;
            }
        }
    }
    let objects = commentable(desired);
    if !objects.is_empty() {
        for (object, text) in &plan.comments {
            desired.comments.insert(
                pick(&objects, object).clone(),
                choose(COMMENTS, text).to_owned(),
            );
        }
    }
}

/// (live, desired, diff options)
/// Some tables partitioned by their first column, each with partitions (tables of their own,
/// with the parent's columns, perhaps an index of their own; perhaps sub-partitioned).
fn partition_tables(desired: &mut Schema, plans: &[(Pick, usize, bool)]) {
    for (table, count, nested) in plans {
        let Some(name) = nth_key(&desired.tables, table) else {
            continue;
        };
        let parent = desired.tables[&name].clone();
        if parent.partition_of.is_some() || parent.partition_by.is_some() {
            continue;
        }
        let Some(key) = parent.columns.first() else {
            continue;
        };
        let key = key.name.quoted();
        desired.tables.get_mut(&name).expect("picked").partition_by = Some(format!("LIST ({key})"));
        for n in 0..*count {
            let mut partition = Table {
                columns: parent.columns.iter().map(Table::inherited_column).collect(),
                partition_of: Some(Box::new(PartitionOf {
                    parent: name.clone(),
                    bound: format!("FOR VALUES IN ({n})"),
                })),
                ..Table::default()
            };
            if n == 0 && *nested {
                partition.partition_by = Some(format!("HASH ({key})"));
            }
            // Within 63 bytes, whatever the parent's name (the generator's longest is 63).
            let suffix = format!(" part {n}");
            let partition_name = QualifiedName::new(
                name.schema.clone(),
                ident(&format!(
                    "{}{suffix}",
                    clip(name.name.as_str(), 63 - suffix.len())
                )),
            );
            if desired.tables.contains_key(&partition_name)
                || desired.sequences.contains_key(&partition_name)
            {
                continue;
            }
            desired.tables.insert(partition_name, partition);
        }
    }
}

/// Drift particular to partitions.
#[derive(Debug, Clone)]
enum PartitionDrift {
    /// A partition's bound differs.
    Rebound(Pick),
    /// A partition is a table of its own in the database.
    Detached(Pick),
    /// A table of its own in the desired state is a partition in the database.
    Attached(Pick, Pick),
    /// The partition key differs.
    Rekeyed(Pick),
    /// A partitioned table is not partitioned in the database.
    Unpartitioned(Pick),
}

fn partition_drift() -> impl Strategy<Value = PartitionDrift> {
    let p = || any::<Pick>();
    prop_oneof![
        p().prop_map(PartitionDrift::Rebound),
        p().prop_map(PartitionDrift::Detached),
        (p(), p()).prop_map(|(a, b)| PartitionDrift::Attached(a, b)),
        p().prop_map(PartitionDrift::Rekeyed),
        p().prop_map(PartitionDrift::Unpartitioned),
    ]
}

fn drift_partitions(live: &mut Schema, drift: &PartitionDrift) {
    let partitions: Vec<QualifiedName> = live
        .tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    let partitioned: Vec<QualifiedName> = live
        .tables
        .iter()
        .filter(|(_, t)| t.partition_by.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    match drift {
        PartitionDrift::Rebound(i) if !partitions.is_empty() => {
            let name = pick(&partitions, i);
            if let Some(p) = live
                .tables
                .get_mut(name)
                .and_then(|t| t.partition_of.as_mut())
            {
                p.bound = "DEFAULT".to_owned();
            }
        }
        PartitionDrift::Detached(i) if !partitions.is_empty() => {
            let name = pick(&partitions, i);
            if let Some(t) = live.tables.get_mut(name) {
                t.partition_of = None;
            }
        }
        PartitionDrift::Attached(i, j) if !partitioned.is_empty() => {
            let parent = pick(&partitioned, j).clone();
            if let Some(name) = nth_key(&live.tables, i)
                && name != parent
                && let Some(t) = live.tables.get_mut(&name)
                && t.partition_of.is_none()
            {
                t.partition_of = Some(Box::new(PartitionOf {
                    parent,
                    bound: "FOR VALUES IN (99)".to_owned(),
                }));
            }
        }
        PartitionDrift::Rekeyed(i) if !partitioned.is_empty() => {
            if let Some(t) = live.tables.get_mut(pick(&partitioned, i)) {
                t.partition_by = Some("RANGE (id)".to_owned());
            }
        }
        PartitionDrift::Unpartitioned(i) if !partitioned.is_empty() => {
            if let Some(t) = live.tables.get_mut(pick(&partitioned, i)) {
                t.partition_by = None;
            }
        }
        _ => {}
    }
}

fn drifted_pair() -> impl Strategy<Value = (Schema, Schema, Options)> {
    (
        schema_plan(),
        prop::collection::vec((any::<Pick>(), 0..4usize, any::<bool>()), 0..3),
        access_plan(),
        (routine_plans(), object_plan()),
        prop::collection::vec(mutation(), 1..12),
        prop::collection::vec(partition_drift(), 0..3),
        proptest::bool::weighted(0.8),
    )
        .prop_map(
            |(
                plan,
                partitioning,
                access_plan,
                (routines, objects),
                mutations,
                partition_drifts,
                rename_hints,
            )| {
                let mut desired = build_schema(&plan);
                partition_tables(&mut desired, &partitioning);
                access(&access_plan, &mut desired);
                add_routines(&mut desired, &routines);
                add_objects(&mut desired, &objects);
                let mut live = desired.clone();
                for m in &mutations {
                    mutate(&mut live, m);
                }
                for d in &partition_drifts {
                    drift_partitions(&mut live, d);
                }
                (
                    live,
                    desired,
                    Options {
                        rename_hints,
                        ..Options::default()
                    },
                )
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// What a destructive or non-additive statement looks like, independently of
/// [`Kind::is_additive`]'s allow-list (belt and braces: both must agree).
fn forbidden(kind: &Kind) -> bool {
    match kind {
        Kind::Drop { .. }
        | Kind::Truncate
        | Kind::Delete { .. }
        | Kind::Update { .. }
        | Kind::Insert
        | Kind::Merge
        | Kind::Rename { .. }
        | Kind::AlterEnumRenameValue
        | Kind::AlterSequence
        | Kind::DynamicSql
        | Kind::Revoke
        | Kind::AlterDefaultPrivileges { grant: false }
        | Kind::AlterOwner { .. }
        | Kind::Other(_) => true,
        Kind::AlterTable { actions, .. } => {
            actions.iter().any(|a| {
                matches!(
                    a,
                    AlterTableAction::DropColumn
                        | AlterTableAction::AlterColumnType
                        | AlterTableAction::SetNotNull
                        | AlterTableAction::DropNotNull
                        | AlterTableAction::SetDefault
                        | AlterTableAction::DropDefault
                        | AlterTableAction::DropConstraint
                        | AlterTableAction::DropIdentity
                        | AlterTableAction::DropExpression
                        | AlterTableAction::DisableRowLevelSecurity
                        | AlterTableAction::NoForceRowLevelSecurity
                        | AlterTableAction::DetachPartition
                        | AlterTableAction::Other(_)
                )
            }) || (matches!(
                kind,
                Kind::AlterTable {
                    object: classify::Object::Table,
                    ..
                }
            ) && matches!(kind, Kind::AlterTable { actions, .. } if actions.contains(&AlterTableAction::AttachPartition)))
        }
        _ => false,
    }
}

/// Why `sql` is not one additive statement, or `None` when it is.
fn step_problem(sql: &str) -> Option<String> {
    let statements = match classify::classify(sql) {
        Ok(s) => s,
        Err(e) => return Some(format!("does not classify: {e}")),
    };
    let [statement] = statements.as_slice() else {
        return Some(format!("{} statements, not one", statements.len()));
    };
    statement_problem(statement)
}

fn statement_problem(statement: &Statement) -> Option<String> {
    if let Some(v) = statement.violations().first() {
        return Some(format!("not additive: {:?} in {:?}", v.kind, v.text));
    }
    if let Some(f) = statement.flatten().into_iter().find(|s| forbidden(&s.kind)) {
        return Some(format!("forbidden: {:?} in {:?}", f.kind, f.text));
    }
    None
}

/// The plan as `reconcile plan` renders it with `render`.
fn rendered(
    plan: &Plan,
    live: &Schema,
    desired: &Schema,
    render: fn(&Report, &mut Vec<u8>) -> std::io::Result<()>,
) -> Vec<u8> {
    let report = Report {
        command: "plan",
        target: "the property test",
        plan,
        live,
        desired,
        skipped: &[],
    };
    let mut out = Vec::new();
    render(&report, &mut out).expect("rendering to memory cannot fail");
    out
}

fn render_sql(plan: &Plan, live: &Schema, desired: &Schema) -> String {
    String::from_utf8(rendered(plan, live, desired, |r, out| {
        render::sql::render(r, out)
    }))
    .expect("the script is UTF-8")
}

/// Why a plan's step is not what it may be: one additive statement, or — for a `set_owner`
/// step — the guarded `ALTER ... OWNER TO` of an object an earlier step of the plan creates.
fn plan_step_problem(step: &Step, earlier: &[Step]) -> Option<String> {
    if step.kind != StepKind::SetOwner {
        return step_problem(&step.sql);
    }
    let ObjectId::Owner(owned) = &step.object else {
        return Some(format!("a set_owner step for {}", step.object));
    };
    if !earlier.iter().any(|s| s.object == **owned) {
        return Some(format!(
            "sets the owner of {owned}, which no earlier step creates"
        ));
    }
    let statements = match classify::classify(&step.sql) {
        Ok(s) => s,
        Err(e) => return Some(format!("does not classify: {e}")),
    };
    let [statement] = statements.as_slice() else {
        return Some(format!("{} statements, not one", statements.len()));
    };
    let owner = |s: &Statement| matches!(s.kind, Kind::AlterOwner { .. });
    if let Some(v) = statement.violations().into_iter().find(|v| !owner(v)) {
        return Some(format!("not additive: {:?} in {:?}", v.kind, v.text));
    }
    let changes = statement.flatten().into_iter().filter(|s| owner(s)).count();
    if changes != 1 {
        return Some(format!("{changes} owner changes, not one"));
    }
    statement
        .flatten()
        .into_iter()
        .find(|s| forbidden(&s.kind) && !owner(s))
        .map(|f| format!("forbidden: {:?} in {:?}", f.kind, f.text))
}

/// Why the rendered script runs something besides the steps and session control, if it does.
fn script_problem(script: &str, plan: &Plan) -> Option<String> {
    let statements = match classify::classify(script) {
        Ok(s) => s,
        Err(e) => return Some(format!("the script does not parse: {e}")),
    };
    let mut executed = Vec::new();
    for s in &statements {
        if s.kind.is_session_control() {
            continue;
        }
        // A set_owner step, checked as a step (`plan_step_problem`).
        let owner_step = plan
            .steps
            .iter()
            .any(|step| step.kind == StepKind::SetOwner && step.sql.trim() == s.text);
        if owner_step {
            executed.push(s.text.as_str());
            continue;
        }
        if let Some(problem) = statement_problem(s) {
            return Some(format!("the script runs {:?}: {problem}", s.text));
        }
        executed.push(s.text.as_str());
    }
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.sql.trim()).collect();
    if executed != steps {
        return Some(format!(
            "the script runs {executed:#?}\nbut the plan's steps are {steps:#?}"
        ));
    }
    let count = |k: classify::TransactionKind| {
        statements
            .iter()
            .filter(|s| s.kind == Kind::Transaction(k))
            .count()
    };
    if count(classify::TransactionKind::Begin) != count(classify::TransactionKind::Commit) {
        return Some("BEGIN and COMMIT do not pair up".to_owned());
    }
    None
}

/// Why an `ALTER POLICY` in `sql` is not exactly the desired policy — the roles it lets in
/// (by the parser, not the planner's text), and its expressions — if it is not.
fn policy_problem(sql: &str, desired: &Schema) -> Option<String> {
    use pg_query::NodeEnum;
    let statements = classify::classify(sql).ok()?;
    for statement in statements.iter().flat_map(Statement::flatten) {
        if statement.kind != Kind::AlterPolicy {
            continue;
        }
        let tree = match pg_query::parse(&statement.text, pg_query::ParserOptions::DEFAULT) {
            Ok(tree) => tree,
            Err(e) => return Some(format!("{e}: {}", statement.text)),
        };
        let Some(NodeEnum::AlterPolicyStmt(alter)) = tree
            .protobuf
            .stmts
            .first()
            .and_then(|s| s.stmt.as_ref())
            .and_then(|s| s.node.as_ref())
        else {
            return Some(format!("not an ALTER POLICY: {}", statement.text));
        };
        let table = alter.table.as_ref()?;
        let key = PolicyKey::new(
            QualifiedName::new(ident(&table.schemaname), ident(&table.relname)),
            ident(&alter.policy_name),
        );
        let Some(policy) = desired.policies.get(&key) else {
            return Some(format!("alters {key}, which the desired state lacks"));
        };
        let mut roles: Vec<String> = alter
            .roles
            .iter()
            .filter_map(|r| match &r.node {
                Some(NodeEnum::RoleSpec(r)) if r.rolename.is_empty() => Some(PUBLIC.to_owned()),
                Some(NodeEnum::RoleSpec(r)) => Some(r.rolename.clone()),
                _ => None,
            })
            .collect();
        roles.sort();
        if roles != policy.roles {
            return Some(format!(
                "lets {roles:?} in where the desired policy names {:?}: {}",
                policy.roles, statement.text
            ));
        }
        for (clause, expression) in [("USING", &policy.using), ("WITH CHECK", &policy.check)] {
            if let Some(e) = expression
                && !statement.text.contains(&format!("{clause} ({e})"))
            {
                return Some(format!(
                    "does not set {clause} ({e}) as desired: {}",
                    statement.text
                ));
            }
        }
    }
    None
}

fn build(live: &Schema, desired: &Schema, options: &Options, concurrently: bool) -> (Diff, Plan) {
    let diff = diff::diff(live, desired, options);
    let rows = Default::default();
    let context = Context {
        live,
        estimated_rows: &rows,
        concurrently,
    };
    let plan = plan::build(&diff, &context)
        .unwrap_or_else(|e| panic!("planning failed: {e}\nlive: {live:#?}\ndesired: {desired:#?}"));
    (diff, plan)
}

fn check_pair(live: &Schema, desired: &Schema, options: &Options) -> Result<(), TestCaseError> {
    for concurrently in [true, false] {
        let (diff, plan) = build(live, desired, options, concurrently);
        let (diff_again, plan_again) = build(live, desired, options, concurrently);
        prop_assert_eq!(&diff, &diff_again, "the diff is not deterministic");
        prop_assert_eq!(&plan, &plan_again, "the plan is not deterministic");

        for (i, step) in plan.steps.iter().enumerate() {
            if let Some(problem) = plan_step_problem(step, &plan.steps[..i])
                .or_else(|| policy_problem(&step.sql, desired))
            {
                return Err(TestCaseError::fail(format!(
                    "step {} ({}, concurrently: {concurrently}) {problem}:\n{}",
                    step.number, step.object, step.sql
                )));
            }
            for finding in &plan.findings {
                if let Some(suggestion) = &finding.suggestion {
                    prop_assert!(
                        !step.sql.contains(suggestion.text()),
                        "step {} contains the suggestion of {} {}: {}",
                        step.number,
                        finding.code,
                        finding.object,
                        suggestion.text()
                    );
                }
            }
        }

        let script = render_sql(&plan, live, desired);
        prop_assert_eq!(
            &script,
            &render_sql(&plan_again, live, desired),
            "rendering is not deterministic"
        );
        if let Some(problem) = script_problem(&script, &plan) {
            return Err(TestCaseError::fail(format!(
                "{problem}\n--- script ---\n{script}"
            )));
        }
        // What the planner writes, `apply` runs from a plan file as it is.
        if concurrently && let Some(refusal) = file_refusal(&plan_file(&plan, live, desired)) {
            return Err(TestCaseError::fail(format!(
                "the plan file is refused: {refusal}"
            )));
        }
    }
    Ok(())
}

/// The property runs on a thread with a large stack: the generators combined (partitioned
/// tables, privileges and routines) and PostgreSQL's parser on nested guard blocks overflow
/// libtest's 2 MiB in a debug build.
#[test]
fn every_planned_statement_is_additive() {
    let property = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 256,
            max_shrink_iters: 2048,
            ..ProptestConfig::default()
        });
        runner
            .run(&drifted_pair(), |(live, desired, options)| {
                check_pair(&live, &desired, &options)
            })
            .map_err(|e| e.to_string())
    };
    let outcome = std::thread::Builder::new()
        .name("safety property".into())
        .stack_size(64 << 20)
        .spawn(property)
        .expect("a thread for the property")
        .join()
        .expect("the property panicked");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

// ---------------------------------------------------------------------------------------------
// Controls: the property is not vacuous.

const REPLACE_FUNCTION: &str = "CREATE OR REPLACE FUNCTION public.f(x integer) RETURNS integer \
     LANGUAGE sql AS $function$SELECT x; DROP TABLE t$function$";

/// The classifier, used exactly as the property uses it, rejects what a broken planner could
/// emit.
#[test]
fn negative_control_destructive_steps_are_caught() {
    let guard = |statement: &str| {
        format!(
            "DO $reconcile$\nBEGIN\n  IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE \
             conrelid = 'public.t'::pg_catalog.regclass AND conname = 'c') THEN\n    \
             {statement};\n  END IF;\nEND\n$reconcile$"
        )
    };
    for sql in [
        guard("DROP TABLE public.t"),
        guard("ALTER TABLE public.t ALTER COLUMN a TYPE bigint"),
        guard("ALTER TABLE public.t ADD CONSTRAINT c CHECK (a > 0), DROP COLUMN b"),
        guard("EXECUTE 'ALTER TABLE public.t ' || 'DROP CONSTRAINT c'"),
        guard("EXECUTE 'TRUNCATE public.t'"),
        guard("DELETE FROM public.t"),
        "ALTER TABLE public.t ALTER COLUMN a SET NOT NULL".to_owned(),
        "ALTER TABLE public.t ALTER COLUMN a DROP NOT NULL".to_owned(),
        "ALTER TABLE public.t RENAME COLUMN a TO b".to_owned(),
        "UPDATE public.t SET a = 1".to_owned(),
        "DROP INDEX CONCURRENTLY public.i".to_owned(),
        "CREATE TABLE t (a int); DROP TABLE u".to_owned(),
        "REVOKE SELECT ON TABLE public.t FROM anon".to_owned(),
        "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM anon".to_owned(),
        "GRANT SELECT ON TABLE public.t TO anon; REVOKE ALL ON TABLE public.t FROM PUBLIC"
            .to_owned(),
        guard("REVOKE EXECUTE ON FUNCTION public.f(integer) FROM PUBLIC"),
        guard("EXECUTE 'REVOKE USAGE ON SCHEMA public FROM ' || 'anon'"),
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM anon".to_owned(),
        "ALTER TABLE public.t OWNER TO someone".to_owned(),
        guard("ALTER SCHEMA public OWNER TO someone"),
        // Functions, procedures and aggregates: replaced by dropping them, or a DROP
        // smuggled after a replace or a guarded creation, or out of a naive guard whose
        // dollar quote the body closes.
        "DROP FUNCTION public.f(integer)".to_owned(),
        "DROP PROCEDURE public.p(integer)".to_owned(),
        "DROP AGGREGATE public.a(integer)".to_owned(),
        format!("DROP FUNCTION public.f(integer); {REPLACE_FUNCTION}"),
        format!("{REPLACE_FUNCTION}; DROP FUNCTION public.g(integer)"),
        guard(&format!(
            "{REPLACE_FUNCTION}; DROP FUNCTION public.g(integer)"
        )),
        guard(
            "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; EXECUTE 'DROP FUNCTION public.g()'",
        ),
        "DO $reconcile$ BEGIN CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $function$ \
         $reconcile$; DROP TABLE public.t; DO $reconcile$ $function$; END $reconcile$"
            .to_owned(),
        // Views, materialized views, triggers, policies, partitions, row-level security and
        // comments (issues 14 and 15): taken away, directly, in a guard, or after a replace.
        "DROP VIEW public.v".to_owned(),
        "DROP VIEW IF EXISTS public.v CASCADE".to_owned(),
        "DROP MATERIALIZED VIEW public.m".to_owned(),
        "DROP TRIGGER tr ON public.t".to_owned(),
        guard("DROP TRIGGER IF EXISTS tr ON public.t"),
        "DROP POLICY p ON public.t".to_owned(),
        guard("DROP POLICY IF EXISTS p ON public.t"),
        "CREATE OR REPLACE VIEW public.v AS SELECT 1 AS a; DROP VIEW public.w".to_owned(),
        "CREATE OR REPLACE TRIGGER tr BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION \
         suppress_redundant_updates_trigger(); DROP TRIGGER other ON public.t"
            .to_owned(),
        "ALTER POLICY p ON public.t TO anon USING (true); DROP POLICY q ON public.t".to_owned(),
        "ALTER POLICY p ON public.t RENAME TO q".to_owned(),
        "ALTER TABLE public.t DETACH PARTITION public.t_1".to_owned(),
        "ALTER TABLE public.t DETACH PARTITION public.t_1 CONCURRENTLY".to_owned(),
        guard("ALTER TABLE public.t DETACH PARTITION public.t_1"),
        guard("EXECUTE 'ALTER TABLE public.t DETACH PARTITION public.t_1'"),
        "ALTER TABLE public.t ATTACH PARTITION public.t_1 FOR VALUES IN (1)".to_owned(),
        "ALTER TABLE public.t DISABLE ROW LEVEL SECURITY".to_owned(),
        "ALTER TABLE public.t NO FORCE ROW LEVEL SECURITY".to_owned(),
        guard("ALTER TABLE public.t DISABLE ROW LEVEL SECURITY"),
        "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY".to_owned(),
        "ALTER TABLE public.t DISABLE TRIGGER ALL".to_owned(),
        "ALTER TABLE public.t DISABLE TRIGGER USER".to_owned(),
        "COMMENT ON TABLE public.t IS NULL".to_owned(),
        "COMMENT ON POLICY p ON public.t IS ''".to_owned(),
        "REFRESH MATERIALIZED VIEW public.m".to_owned(),
        "REVOKE anon FROM authenticated".to_owned(),
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon".to_owned(),
        guard("REVOKE SELECT (a) ON TABLE public.t FROM anon"),
    ] {
        assert!(step_problem(&sql).is_some(), "not caught: {sql}");
    }
    // Granting, directly or by default, is additive; so is CREATE OR REPLACE of a function,
    // procedure or aggregate, whatever its body says.
    for sql in [
        "GRANT SELECT, INSERT ON TABLE public.t TO anon WITH GRANT OPTION",
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO anon",
        REPLACE_FUNCTION,
        "CREATE OR REPLACE PROCEDURE public.p(x integer) LANGUAGE sql AS $function$DELETE FROM t$function$",
        "CREATE OR REPLACE AGGREGATE public.a(integer) (SFUNC = int4pl, STYPE = integer)",
        // The safe forms of the new kinds: creating, replacing in place, switching row-level
        // security on, setting when one trigger fires. (Whether an ALTER POLICY is the one the
        // desired state calls for is the plan file's check: see
        // `negative_control_a_plan_file_cannot_swap_a_definition_the_plan_does_not_call_for`.)
        "CREATE VIEW public.v AS SELECT 1 AS a",
        "CREATE OR REPLACE VIEW public.v AS SELECT 1 AS a",
        "CREATE MATERIALIZED VIEW public.m AS SELECT 1 AS a WITH NO DATA",
        "CREATE TRIGGER tr BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION \
         suppress_redundant_updates_trigger()",
        "CREATE OR REPLACE TRIGGER tr BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION \
         suppress_redundant_updates_trigger()",
        "ALTER TABLE public.t DISABLE TRIGGER tr",
        "CREATE POLICY p ON public.t TO anon USING (owner = CURRENT_USER)",
        "ALTER POLICY p ON public.t TO anon USING (owner = CURRENT_USER)",
        "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE public.t FORCE ROW LEVEL SECURITY",
        "COMMENT ON TABLE public.t IS 'the rows'",
        "CREATE TABLE public.t_1 PARTITION OF public.t FOR VALUES IN (1)",
        "ALTER INDEX public.t_a_idx ATTACH PARTITION public.t_1_a_idx",
    ] {
        assert_eq!(step_problem(sql), None, "{sql}");
    }
    // The guard itself, around an additive statement, is fine.
    assert_eq!(
        step_problem(&guard(
            "ALTER TABLE public.t ADD CONSTRAINT c CHECK (a > 0) NOT VALID"
        )),
        None
    );
}

/// A script that lets a suggestion escape its comment is caught.
#[test]
fn negative_control_escaped_suggestion_is_caught() {
    let desired = fixed_desired();
    let mut live = desired.clone();
    live.tables
        .values_mut()
        .next()
        .unwrap()
        .columns
        .push(Column::new(ident("old"), "text"));
    let (_, plan) = build(&live, &desired, &Options::default(), true);
    let script = render_sql(&plan, &live, &desired);
    assert_eq!(script_problem(&script, &plan), None, "{script}");
    let suggestion = plan
        .findings
        .iter()
        .find_map(|f| f.suggestion.as_ref())
        .expect("a dropped column is suggested");
    let broken = format!("{script}\n{};\n", suggestion.text());
    assert!(script_problem(&broken, &plan).is_some(), "{broken}");
}

/// An owner change is allowed only in a set_owner step, after the step that creates its
/// object: the same step without that creation, or smuggled into another step, is caught.
#[test]
fn negative_control_an_owner_change_needs_the_creation_before_it() {
    let public = ident("public");
    let name = QualifiedName::new(public.clone(), ident("t"));
    let mut desired = Schema::default();
    desired.schemas.insert(public.clone());
    desired.tables.insert(
        name.clone(),
        Table {
            columns: vec![Column::new(ident("id"), "integer")],
            ..Table::default()
        },
    );
    desired.owners.insert(
        ObjectId::Table(name.clone()),
        Owner {
            role: ident("app owner"),
        },
    );
    let live = Schema {
        schemas: desired.schemas.clone(),
        ..Schema::default()
    };
    let (_, plan) = build(&live, &desired, &Options::default(), true);
    let owner = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::SetOwner)
        .expect("a set_owner step");
    assert_eq!(
        plan_step_problem(&plan.steps[owner], &plan.steps[..owner]),
        None
    );
    assert!(
        plan_step_problem(&plan.steps[owner], &[]).is_some(),
        "an owner change without the creation before it"
    );
    let mut smuggled = plan.steps[0].clone();
    smuggled.sql = plan.steps[owner].sql.clone();
    assert!(
        plan_step_problem(&smuggled, &[]).is_some(),
        "an owner change in a step of another kind"
    );
    let mut two = plan.steps[owner].clone();
    two.sql = format!(
        "{}; REVOKE ALL ON TABLE public.t FROM PUBLIC",
        plan.steps[owner].sql
    );
    assert!(plan_step_problem(&two, &plan.steps[..owner]).is_some());
}

/// The generator produces what the property needs to mean something: plans with steps of
/// every kind, guarded DO blocks, CONCURRENTLY builds, and destructive suggestions.
#[test]
fn generator_covers_the_interesting_cases() {
    let mut runner = TestRunner::deterministic();
    let strategy = drifted_pair();
    let mut kinds = BTreeSet::new();
    let mut codes = BTreeSet::new();
    let mut replaces: BTreeSet<&str> = BTreeSet::new();
    let (mut with_steps, mut with_do, mut with_destructive_suggestion) = (0, 0, 0);
    let cases = 200;
    for _ in 0..cases {
        let (live, desired, options) = strategy.new_tree(&mut runner).unwrap().current();
        let (_, plan) = build(&live, &desired, &options, true);
        with_steps += usize::from(!plan.steps.is_empty());
        with_do += usize::from(plan.steps.iter().any(|s| s.sql.starts_with("DO ")));
        with_destructive_suggestion += usize::from(plan.findings.iter().any(|f| {
            f.suggestion.as_ref().is_some_and(|s| {
                classify::classify(s.text())
                    .is_ok_and(|all| all.iter().any(|st| !st.is_plannable()))
            })
        }));
        for step in &plan.steps {
            kinds.insert(format!("{:?}", step.kind));
            if step.kind == StepKind::Replace {
                replaces.extend(
                    REPLACE_FORMS
                        .iter()
                        .filter(|f| step.sql.contains(**f))
                        .copied(),
                );
            }
        }
        codes.extend(plan.findings.iter().map(|f| f.code.as_str()));
    }
    for code in ["D170", "D171", "D172"] {
        assert!(
            codes.contains(code),
            "no {code} finding in {cases} cases: {codes:?}"
        );
    }
    eprintln!(
        "{with_steps} with steps, {with_do} with DO, {with_destructive_suggestion} with destructive suggestions; kinds: {kinds:?}"
    );
    assert!(
        with_steps > cases / 2,
        "{with_steps} of {cases} plans have steps"
    );
    assert!(
        with_do > cases / 3,
        "{with_do} of {cases} plans have DO blocks"
    );
    assert!(
        with_destructive_suggestion > cases / 3,
        "{with_destructive_suggestion} of {cases} have destructive suggestions"
    );
    for kind in [
        "CreateSchema",
        "CreateExtension",
        "CreateType",
        "AddEnumValue",
        "CreateDomain",
        "CreateSequence",
        "CreateTable",
        "AddColumn",
        "SetSequenceOwner",
        "CreateIndex",
        "CreateKeyIndex",
        "AttachKey",
        "AddConstraint",
        "AddConstraintNotValid",
        "ValidateConstraint",
        "EnableRowLevelSecurity",
        "AttachPartitionIndex",
        "Grant",
        "AlterDefaultPrivileges",
        "SetOwner",
        "CreateFunction",
        "CreateAggregate",
        "Replace",
        "CreateView",
        "CreateMaterializedView",
        "CreateTrigger",
        "CreatePolicy",
        "Comment",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} step in {cases} cases: {kinds:?}"
        );
    }
    for form in REPLACE_FORMS {
        assert!(
            replaces.contains(form),
            "no replace step with {form} in {cases} cases: {replaces:?}"
        );
    }
}

/// What the replace steps of the generated plans must include between them.
const REPLACE_FORMS: &[&str] = &[
    "CREATE OR REPLACE FUNCTION",
    "CREATE OR REPLACE VIEW",
    "CREATE OR REPLACE TRIGGER",
    // When a trigger fires (`ALTER TABLE ... ENABLE/DISABLE ... TRIGGER`).
    "ALTER TABLE",
    "ALTER POLICY",
    "COMMENT ON",
];

// ---------------------------------------------------------------------------------------------
// Determinism on a fixed input.

fn fixed_desired() -> Schema {
    let mut plan_runner = TestRunner::deterministic();
    // A fixed, rich schema: the first value the deterministic runner draws.
    let mut desired = build_schema(&schema_plan().new_tree(&mut plan_runner).unwrap().current());
    let name = QualifiedName::new(ident("public"), ident("Leads"));
    let mut table = Table::default();
    let mut id = Column::new(ident("id"), "bigint");
    id.not_null = true;
    id.set_identity(Some(Identity {
        always: true,
        options: SequenceOptions::defaults(SequenceType::Bigint, 1),
    }));
    table.columns.push(id);
    table.columns.push(Column::new(ident("e-mail"), "text"));
    table.constraints.insert(
        ident("Leads_pkey"),
        Constraint {
            kind: ConstraintKind::PrimaryKey {
                columns: vec![ident("id")],
                include: vec![],
            },
            deferrable: false,
            initially_deferred: false,
        },
    );
    table.row_level_security = true;
    desired.tables.insert(name, table);
    desired
}

#[test]
fn the_same_inputs_give_the_same_plan() {
    let desired = fixed_desired();
    let mut live = desired.clone();
    for m in [
        Mutation::DropColumn(Pick(0), Pick(1)),
        Mutation::DropConstraint(Pick(0), Pick(0)),
        Mutation::DropIndex(Pick(0), Pick(0)),
        Mutation::ToggleNotNull(Pick(0), Pick(0)),
        Mutation::ExtraColumn(Pick(0), Pick(1), Pick(3)),
    ] {
        mutate(&mut live, &m);
    }
    for concurrently in [true, false] {
        let (_, first) = build(&live, &desired, &Options::default(), concurrently);
        let (_, second) = build(
            &live.clone(),
            &desired.clone(),
            &Options::default(),
            concurrently,
        );
        assert!(!first.steps.is_empty());
        assert_eq!(first, second);
        assert_eq!(
            render_sql(&first, &live, &desired),
            render_sql(&second, &live, &desired)
        );
    }
}

/// Names and labels are data (from YAML, or from the database itself), so a line break in one
/// must not end the `--` comment it is shown in: PostgreSQL and psql end a comment at `\n`
/// *or* `\r`, and whatever follows on the next line runs.
#[test]
fn a_newline_in_a_name_cannot_escape_a_comment() {
    // The table name is shown in its step's heading (`-- Step 1: table ...`).
    let public = ident("public");
    let mut desired = Schema::default();
    desired.schemas.insert(public.clone());
    desired.tables.insert(
        QualifiedName::new(public, ident("a\nDROP TABLE important; --")),
        Table {
            columns: vec![Column::new(ident("id"), "integer")],
            ..Table::default()
        },
    );
    let live = Schema {
        schemas: desired.schemas.clone(),
        ..Schema::default()
    };
    if let Err(e) = check_pair(&live, &desired, &Options::default()) {
        panic!("{e}");
    }
}

/// See [`a_newline_in_a_name_cannot_escape_a_comment`].
#[test]
fn a_carriage_return_in_a_label_cannot_escape_a_comment() {
    // The label is shown in a finding's message (multi-line text is commented line by line,
    // but `\r` alone is not a line break to Rust's `str::lines`).
    let public = ident("public");
    let mut desired = Schema::default();
    desired.schemas.insert(public.clone());
    let mood = QualifiedName::new(public, ident("mood"));
    desired.enums.insert(
        mood.clone(),
        EnumType {
            values: vec!["a".to_owned()],
        },
    );
    let mut live = desired.clone();
    live.enums
        .get_mut(&mood)
        .unwrap()
        .values
        .push("b\rDROP TABLE important; --".to_owned());
    if let Err(e) = check_pair(&live, &desired, &Options::default()) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Plan files: what `reconcile apply FILE` runs is re-checked before anything connects.

/// The JSON plan file `reconcile plan --format json --out FILE` writes for this plan.
fn plan_file(plan: &Plan, live: &Schema, desired: &Schema) -> Value {
    let out = rendered(plan, live, desired, render::json::render);
    serde_json::from_slice(&out).expect("the plan file is JSON")
}

/// Why `reconcile apply FILE` refuses the plan file, or `None` when it would run it.
fn file_refusal(file: &Value) -> Option<String> {
    let dir = tempfile::tempdir().expect("a folder for the plan file");
    let path = dir.path().join("plan.json");
    std::fs::write(&path, file.to_string()).expect("write the plan file");
    planfile::read(&path).err().map(|e| e.to_string())
}

/// A table with row-level security, a policy, a view, a trigger and comments, and the live
/// state it differs from in ways a plan swaps in place: the policy lets another role in, the
/// view's query, the trigger's firing and the table's comment differ; a policy and a
/// column's comment are missing.
fn replaceable_pair() -> (Schema, Schema) {
    let public = ident("public");
    let t = QualifiedName::new(public.clone(), ident("t"));
    let mut desired = Schema::default();
    desired.schemas.insert(public.clone());
    desired.tables.insert(
        t.clone(),
        Table {
            columns: vec![
                Column::new(ident("id"), "integer"),
                Column::new(ident("owner"), "text"),
            ],
            row_level_security: true,
            ..Table::default()
        },
    );
    let own = PolicyKey::new(t.clone(), ident("own rows"));
    desired.policies.insert(
        own.clone(),
        Policy {
            command: PolicyCommand::Select,
            permissive: true,
            roles: vec!["authenticated".to_owned()],
            using: Some("(owner = CURRENT_USER)".to_owned()),
            check: None,
        },
    );
    desired.policies.insert(
        PolicyKey::new(t.clone(), ident("write own")),
        Policy {
            command: PolicyCommand::Insert,
            permissive: true,
            roles: vec!["authenticated".to_owned()],
            using: None,
            check: Some("(owner = CURRENT_USER)".to_owned()),
        },
    );
    let v = QualifiedName::new(public.clone(), ident("v"));
    desired.views.insert(v.clone(), view(&Pick(0)));
    let tr = TriggerKey::new(t.clone(), ident("tr"));
    desired
        .triggers
        .insert(tr.clone(), trigger(&tr, &Pick(0), Firing::Enabled));
    desired
        .comments
        .insert(ObjectId::Table(t.clone()), "the rows".to_owned());
    desired
        .comments
        .insert(ObjectId::column(&t, &ident("id")), "the number".to_owned());

    let mut live = desired.clone();
    live.policies.get_mut(&own).unwrap().roles = vec!["anon".to_owned()];
    live.policies
        .remove(&PolicyKey::new(t.clone(), ident("write own")));
    live.views.insert(v, view(&Pick(1)));
    live.triggers
        .insert(tr.clone(), trigger(&tr, &Pick(0), Firing::Disabled));
    live.comments
        .insert(ObjectId::Table(t.clone()), "old".to_owned());
    live.comments.remove(&ObjectId::column(&t, &ident("id")));
    (live, desired)
}

/// Statements that take something away, whichever step of a plan file they are put in.
const SMUGGLED: &[&str] = &[
    "REVOKE SELECT ON TABLE public.t FROM authenticated",
    "ALTER TABLE public.t DETACH PARTITION public.t_1",
    "DROP POLICY \"own rows\" ON public.t",
    "DROP VIEW public.v",
    "DROP MATERIALIZED VIEW public.m",
    "DROP FUNCTION public.f(integer)",
    "DROP TRIGGER tr ON public.t",
    "ALTER TABLE public.t DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE public.t NO FORCE ROW LEVEL SECURITY",
    "COMMENT ON TABLE public.t IS NULL",
];

/// A plan file carrying a statement that takes something away (a REVOKE, a DETACH, a DROP
/// of a policy, view, function or trigger, row-level security switched off) — as a step's
/// statement, after it, or inside its guard — is refused; so is one that swaps in a
/// definition the plan's desired state does not call for: an ALTER POLICY that lets more
/// roles in or every row through, or even one that narrows, a view's query, a comment, a
/// trigger switched off. The untouched file is accepted.
#[test]
fn negative_control_a_plan_file_cannot_swap_a_definition_the_plan_does_not_call_for() {
    let (live, desired) = replaceable_pair();
    let (_, plan) = build(&live, &desired, &Options::default(), true);
    let file = plan_file(&plan, &live, &desired);
    assert_eq!(file_refusal(&file), None, "the untouched file: {file:#}");
    let kinds: Vec<String> = plan.steps.iter().map(|s| format!("{:?}", s.kind)).collect();
    for kind in ["Replace", "CreatePolicy", "Comment"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} step: {kinds:?}");
    }
    let position = |prefix: &str| {
        plan.steps
            .iter()
            .position(|s| s.sql.starts_with(prefix))
            .unwrap_or_else(|| panic!("no step starting {prefix:?}: {:#?}", plan.steps))
    };
    let alter_policy = position("ALTER POLICY");
    let reviewed = plan.steps[alter_policy].sql.clone();
    assert_eq!(
        reviewed,
        "ALTER POLICY \"own rows\" ON public.t TO authenticated USING ((owner = CURRENT_USER))"
    );
    let edit = |number: usize, sql: String| {
        let mut tampered = file.clone();
        tampered["steps"][number]["sql"] = Value::String(sql);
        tampered
    };
    let widened = [
        "ALTER POLICY \"own rows\" ON public.t TO PUBLIC USING ((owner = CURRENT_USER))",
        "ALTER POLICY \"own rows\" ON public.t TO anon, authenticated USING ((owner = CURRENT_USER))",
        "ALTER POLICY \"own rows\" ON public.t TO authenticated USING (true)",
        "ALTER POLICY \"own rows\" ON public.t TO authenticated",
        "ALTER POLICY \"own rows\" ON public.t USING (true)",
        // Narrowing is not what was reviewed either.
        "ALTER POLICY \"own rows\" ON public.t TO authenticated USING (false)",
    ];
    for sql in widened {
        let refused = file_refusal(&edit(alter_policy, sql.to_owned()));
        assert!(
            refused
                .as_deref()
                .is_some_and(|r| r.contains("edited by hand") && r.contains("does not call for")),
            "not refused ({refused:?}): {sql}"
        );
    }
    // The reviewed statement in another spelling is the same statement.
    assert_eq!(
        file_refusal(&edit(
            alter_policy,
            "alter policy \"own rows\" on public.t\n  to authenticated using ((owner = current_user))"
                .to_owned()
        )),
        None
    );
    // A widening ALTER POLICY in place of, or inside the guard of, another step.
    let create_policy = plan
        .steps
        .iter()
        .position(|s| s.kind == StepKind::CreatePolicy)
        .expect("a create_policy step");
    let widen = widened[0];
    for (number, sql) in [
        (create_policy, widen.to_owned()),
        (
            create_policy,
            plan.steps[create_policy].sql.replacen(
                "    CREATE POLICY",
                &format!("    {widen};\n    CREATE POLICY"),
                1,
            ),
        ),
    ] {
        assert_ne!(sql, plan.steps[number].sql);
        assert!(
            file_refusal(&edit(number, sql.clone())).is_some(),
            "not refused, step {}: {sql}",
            number + 1
        );
    }
    // The other in-place swaps, with something the desired state does not say.
    let view_step = position("CREATE OR REPLACE VIEW");
    let comment_step = position("COMMENT ON TABLE");
    let trigger_step = position("ALTER TABLE public.t ENABLE TRIGGER");
    for (number, sql) in [
        (
            view_step,
            "CREATE OR REPLACE VIEW public.v AS\nSELECT 44 AS answer".to_owned(),
        ),
        (
            comment_step,
            "COMMENT ON TABLE public.t IS 'pwned'".to_owned(),
        ),
        (
            comment_step,
            "COMMENT ON TABLE public.t IS 'the rows'; COMMENT ON COLUMN public.t.owner IS 'x'"
                .to_owned(),
        ),
        (
            trigger_step,
            "ALTER TABLE public.t DISABLE TRIGGER tr".to_owned(),
        ),
        (
            trigger_step,
            "ALTER TABLE public.t ENABLE ALWAYS TRIGGER tr".to_owned(),
        ),
    ] {
        assert!(
            file_refusal(&edit(number, sql.clone())).is_some(),
            "not refused, step {}: {sql}",
            number + 1
        );
    }
    // Whatever step they replace or follow.
    for smuggled in SMUGGLED {
        for (number, step) in plan.steps.iter().enumerate() {
            for sql in [
                (*smuggled).to_owned(),
                format!("{}; {smuggled}", step.sql),
                format!("DO $reconcile$ BEGIN {smuggled}; END $reconcile$"),
            ] {
                assert!(
                    file_refusal(&edit(number, sql.clone())).is_some(),
                    "not refused, step {}: {sql}",
                    number + 1
                );
            }
        }
    }
}

/// Roles of the end-to-end control (the cluster's, shared by every test database).
const E2E_ROLES: &str = "
DO $$ BEGIN CREATE ROLE safety_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE safety_writer; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
";

const E2E_LIVE: &str = "
CREATE TABLE todos (id bigint PRIMARY KEY, owner text NOT NULL);
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY \"own rows\" ON todos FOR SELECT TO safety_reader USING (owner = current_user);
CREATE VIEW open_todos AS SELECT id FROM todos;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION touch();
GRANT SELECT ON todos TO safety_reader;
";

const E2E_TABLES: &str = "
tables:
  todos:
    row_level_security: true
    columns:
      id: { type: bigint, primary_key: true }
      owner: { type: text, not_null: true }
grants:
  tables:
    todos: { safety_reader: [select] }
";

/// The live state with the policy letting one more role in and a comment on the table.
const E2E_SQL: &str = "
CREATE VIEW open_todos AS SELECT id FROM todos;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION touch();
CREATE POLICY \"own rows\" ON todos FOR SELECT TO safety_reader, safety_writer USING (owner = current_user);
COMMENT ON TABLE todos IS 'What people have to do';
";

/// What the end-to-end control checks the database still has after a refused file.
const E2E_STATE: &str = "
SELECT (SELECT relrowsecurity FROM pg_class WHERE oid = 'todos'::regclass),
       (SELECT polroles::regrole[]::text FROM pg_policy WHERE polname = 'own rows'),
       (SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'own rows'),
       (SELECT count(*) FROM pg_views WHERE viewname = 'open_todos'),
       (SELECT count(*) FROM pg_trigger WHERE tgname = 'touch' AND tgenabled = 'O'),
       (SELECT count(*) FROM pg_proc WHERE proname = 'touch'),
       has_table_privilege('safety_reader', 'todos', 'SELECT'),
       obj_description('todos'::regclass, 'pg_class')
";

/// End to end, through the binary and a real server: a reviewed plan file whose ALTER POLICY
/// was edited to let every role and every row in, or into which a REVOKE, a DETACH, a DROP
/// POLICY/VIEW/FUNCTION/TRIGGER or a DISABLE ROW LEVEL SECURITY was put, is refused before
/// anything runs, and the database keeps its policy, view, function, trigger, privilege and
/// row-level security. The untouched file applies.
#[test]
fn negative_control_apply_refuses_a_plan_file_that_takes_access_or_widens_it() {
    if crate::common::cluster().is_none() {
        eprintln!("skipped: it creates roles, which are never made on a DATABASE_URL server");
        return;
    }
    let (db, dev) = (crate::common::fresh_db(), crate::common::fresh_db());
    db.psql(&format!("{E2E_ROLES}\n{E2E_LIVE}"))
        .unwrap_or_else(|e| panic!("setting up the database failed: {e}"));
    let dir = tempfile::tempdir().expect("a schema folder");
    std::fs::write(dir.path().join("schema.yaml"), E2E_TABLES).expect("write schema.yaml");
    std::fs::write(dir.path().join("security.sql"), E2E_SQL).expect("write security.sql");
    let reconcile = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reconcile"))
            .args(args)
            .args(["--color", "never", "--database-url", &db.url])
            .args(["--dev-url", &dev.url])
            .arg("--schema-dir")
            .arg(dir.path())
            .env_remove("RECONCILE_DEV_URL")
            .output()
            .expect("run reconcile")
    };
    let path = dir.path().join("plan.json");
    let planned = reconcile(&[
        "plan",
        "--format",
        "json",
        "--out",
        path.to_str().expect("utf-8"),
    ]);
    crate::common::assert_exit(&planned, 2);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the plan file"))
        .expect("JSON");
    let steps = file["steps"].as_array().expect("steps").clone();
    let alter = steps
        .iter()
        .position(|s| {
            s["sql"]
                .as_str()
                .is_some_and(|sql| sql.starts_with("ALTER POLICY"))
        })
        .unwrap_or_else(|| panic!("no ALTER POLICY step: {steps:#?}"));
    let before = db.psql(E2E_STATE).expect("the state");

    let mut edits: Vec<(usize, String)> = vec![
        (
            alter,
            "ALTER POLICY \"own rows\" ON public.todos TO PUBLIC USING (true)".to_owned(),
        ),
        (
            alter,
            "ALTER POLICY \"own rows\" ON public.todos TO safety_reader, safety_writer USING (true)"
                .to_owned(),
        ),
    ];
    for smuggled in [
        "REVOKE SELECT ON TABLE public.todos FROM safety_reader",
        "ALTER TABLE public.todos DETACH PARTITION public.todos_old",
        "DROP POLICY \"own rows\" ON public.todos",
        "DROP VIEW public.open_todos",
        "DROP FUNCTION public.touch() CASCADE",
        "DROP TRIGGER touch ON public.todos",
        "ALTER TABLE public.todos DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE public.todos DISABLE TRIGGER touch",
    ] {
        for (number, step) in steps.iter().enumerate() {
            let sql = step["sql"].as_str().expect("sql");
            edits.push((number, smuggled.to_owned()));
            edits.push((number, format!("{sql}; {smuggled}")));
        }
    }
    for (i, (number, sql)) in edits.iter().enumerate() {
        let mut tampered = file.clone();
        tampered["steps"][*number]["sql"] = Value::String(sql.clone());
        let edited = dir.path().join(format!("edited{i}.json"));
        std::fs::write(&edited, tampered.to_string()).expect("write the edited plan");
        let output = reconcile(&["apply", edited.to_str().expect("utf-8")]);
        crate::common::assert_exit(&output, 1);
        let stderr = crate::common::text(&output.stderr);
        assert!(
            stderr.contains("edited by hand"),
            "step {}: {sql}\n{stderr}",
            number + 1
        );
    }
    assert_eq!(
        db.psql(E2E_STATE).expect("the state"),
        before,
        "a refused plan file changed the database"
    );

    crate::common::assert_exit(&reconcile(&["apply", path.to_str().expect("utf-8")]), 0);
    let after = db.psql(E2E_STATE).expect("the state");
    assert!(
        after.contains("safety_reader,safety_writer") && after.contains("What people have to do"),
        "{after}"
    );
}
