//! Policies in the server's words, built with what only the target has; and the checks on
//! what policies and comments name.
//!
//! A policy's `USING` and `WITH CHECK` are compared as `pg_get_expr` prints them. Most of the
//! time no server is needed: a desired expression proven locally to be the live one
//! (`normalise::equivalence`, which `pull`ed text always is) takes the live text. The rest
//! are built on the scratch server as policies of their own, on a table that has only the
//! columns of the policy's table (and of the tables its sub-queries read), and read back.
//!
//! What only the target has is given to the scratch server in the one form that cannot change
//! how an expression prints:
//!
//! * roles are left out (a policy is built `TO PUBLIC`): the roles are compared as names,
//!   and a role the target lacks is an error naming the policy's file and line, since a plan
//!   cannot create it (roles belong to the cluster);
//! * a function the expression calls that the scratch server lacks (`auth.uid()` of an
//!   ignored schema, a function the desired state does not declare) is created there as a
//!   stub with the target's exact signature — arguments, defaults and result type, which
//!   are all that parse analysis (and so the printed text) depends on; its body is never run.
//!
//! A policy that still cannot be built (it reads a table outside the desired state, or a type
//! the scratch server lacks) keeps its text as written and is listed as unverified: its step
//! carries H012, and a text the server prints differently shows as a change until written in
//! the printed form (`pull` writes it). A policy the server rejects for what it says (a column
//! its table does not have) is an error at plan time.
//!
//! Expressions whose printed form is not a fixpoint (array shapes, see `canon`) are built a
//! second time from the printed text, and a live policy that differs is re-parsed once, so
//! both sides are compared in the same form.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, Row};

use super::scratch::{run_all, statements};
use super::{CanonError, Rejection, Scratch, ServerError, prerequisites_of};
use crate::introspect::Environment;
use crate::kinds;
use crate::kinds::policy::{PUBLIC, functions_called, relations_read};
use crate::model::{ObjectId, Policy, PolicyKey, QualifiedName, Schema};
use crate::normalise::equivalence;

/// Tables per scratch transaction (see `canon::TABLES_PER_TRANSACTION`).
const TABLES_PER_TRANSACTION: usize = 300;

/// One policy definition to build: a desired one, or a live one to re-parse.
#[derive(Debug, Clone)]
struct Item {
    key: PolicyKey,
    policy: Policy,
    live: bool,
}

/// What the checks and the build found wrong.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Environmental failures: the objects keep their text, their steps carry H012.
    pub unverified: Vec<Rejection>,
    /// What no database would accept: errors at plan time.
    pub rejected: Vec<Rejection>,
}

/// Brings the desired policies to the server's printed form (see the module comment) and
/// checks what policies and comments name.
pub(super) async fn canonicalise(
    desired: &mut Schema,
    live: Option<&Schema>,
    environment: Option<&Environment>,
    scratch: &mut impl Scratch,
) -> Result<Found, CanonError> {
    let mut found = Found::default();
    check_names(desired, environment, &mut found);
    let mut items = Vec::new();
    for (key, policy) in desired.policies.iter_mut() {
        if !desired.tables.contains_key(&key.table) {
            continue;
        }
        let live_policy = live.and_then(|l| l.policies.get(key));
        if let (Some(l), Some(live)) = (live_policy, live) {
            adopt(
                policy,
                l,
                key,
                live,
                desired_columns(&desired.tables, &key.table),
            );
            if policy.using == l.using && policy.check == l.check {
                continue;
            }
        }
        if policy.using.is_none() && policy.check.is_none() {
            continue;
        }
        items.push(Item {
            key: key.clone(),
            policy: policy.clone(),
            live: false,
        });
        if let Some(l) = live_policy.filter(|l| l.command == policy.command) {
            items.push(Item {
                key: key.clone(),
                policy: l.clone(),
                live: true,
            });
        }
    }
    if items.is_empty() {
        return Ok(found);
    }
    tracing::info!(
        "building {} policy definitions on the scratch server",
        items.len()
    );
    let printed = build(desired, &items, environment, scratch).await?;
    let mut live_printed: BTreeMap<&PolicyKey, (Option<String>, Option<String>)> = BTreeMap::new();
    for (item, result) in items.iter().zip(&printed) {
        if let (true, Ok(texts)) = (item.live, result) {
            live_printed.insert(&item.key, texts.clone());
        }
    }
    for (item, result) in items.iter().zip(printed.iter()) {
        if item.live {
            continue;
        }
        let Some(policy) = desired.policies.get_mut(&item.key) else {
            continue;
        };
        match result {
            Ok((using, check)) => {
                let live_policy = live.and_then(|l| l.policies.get(&item.key));
                match (live_policy, live_printed.get(&item.key)) {
                    // The live text, re-parsed, is what the desired one prints as: the same.
                    (Some(l), Some(again)) if *again == (using.clone(), check.clone()) => {
                        policy.using.clone_from(&l.using);
                        policy.check.clone_from(&l.check);
                    }
                    _ => {
                        policy.using.clone_from(using);
                        policy.check.clone_from(check);
                    }
                }
            }
            Err(error) => {
                let rejection = Rejection {
                    object: item.key_id(),
                    error: error.clone(),
                };
                if error.environmental() {
                    found.unverified.push(rejection);
                } else {
                    found.rejected.push(rejection);
                }
            }
        }
    }
    Ok(found)
}

impl Item {
    fn key_id(&self) -> ObjectId {
        ObjectId::Policy {
            table: self.key.table.clone(),
            name: self.key.name.clone(),
        }
    }
}

/// Errors for what policies and comments name that does not exist: a policy's table in the
/// desired state, its roles on the target, a comment's object in the desired state.
fn check_names(desired: &Schema, environment: Option<&Environment>, found: &mut Found) {
    let error = |message: String, hint: &str| ServerError {
        sqlstate: None,
        message,
        detail: None,
        hint: Some(hint.to_owned()),
    };
    let roles = environment.and_then(|e| e.roles.as_ref());
    for (key, policy) in &desired.policies {
        let object = ObjectId::Policy {
            table: key.table.clone(),
            name: key.name.clone(),
        };
        if !desired.tables.contains_key(&key.table) {
            found.rejected.push(Rejection {
                object,
                error: error(
                    format!("the desired state has no table {}", key.table),
                    "declare the table, or put the policy on a table the desired state has",
                ),
            });
            continue;
        }
        for role in &policy.roles {
            if role != PUBLIC && roles.is_some_and(|known| !known.contains(role)) {
                found.rejected.push(Rejection {
                    object: object.clone(),
                    error: error(
                        format!("role \"{role}\" does not exist on the target database"),
                        &format!(
                            "roles belong to the cluster, not to a database, so a plan cannot \
                             create one: create it first (CREATE ROLE {} NOLOGIN), or take it \
                             out of the policy's roles",
                            crate::ident::quote_ident(role)
                        ),
                    ),
                });
            }
        }
    }
    for object in desired.comments.keys() {
        if !kinds::comment::has_object(desired, object) {
            let hint = match object {
                ObjectId::Type(name) if desired.domains.contains_key(name) => {
                    format!("{name} is a domain: write `domain {name}`")
                }
                _ => "comment an object the desired state declares (names as plans print \
                      them)"
                    .to_owned(),
            };
            found.rejected.push(Rejection {
                object: ObjectId::Comment(Box::new(object.clone())),
                error: error(
                    format!("the desired state has no {object} to comment on"),
                    &hint,
                ),
            });
        }
    }
}

/// Column name → type of the columns both the desired and the live table have with the same
/// type (only those give a literal a known type in `equivalence`).
fn desired_columns<'a>(
    tables: &'a BTreeMap<QualifiedName, crate::model::Table>,
    table: &QualifiedName,
) -> Option<&'a crate::model::Table> {
    tables.get(table)
}

/// Takes the live text of each expression proven to mean the same.
fn adopt(
    policy: &mut Policy,
    live: &Policy,
    key: &PolicyKey,
    live_schema: &Schema,
    desired_table: Option<&crate::model::Table>,
) {
    let (Some(live_table), Some(desired_table)) =
        (live_schema.tables.get(&key.table), desired_table)
    else {
        return;
    };
    let types: equivalence::ColumnTypes<'_> = live_table
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            desired_table
                .column_near(c.name.as_str(), *i)
                .is_some_and(|d| d.data_type == c.data_type)
        })
        .map(|(_, c)| (c.name.as_str(), c.data_type.as_str()))
        .collect();
    for (ours, theirs) in [
        (&mut policy.using, &live.using),
        (&mut policy.check, &live.check),
    ] {
        if let (Some(o), Some(t)) = (ours.as_ref(), theirs.as_ref())
            && o != t
            && equivalence::same_expression(t, o, &types)
        {
            *ours = Some(t.clone());
        }
    }
}

type Printed = Result<(Option<String>, Option<String>), ServerError>;

/// Builds every item on the scratch server (in transactions of at most
/// [`TABLES_PER_TRANSACTION`] tables) and returns what the server printed for each.
async fn build(
    desired: &Schema,
    items: &[Item],
    environment: Option<&Environment>,
    scratch: &mut impl Scratch,
) -> Result<Vec<Printed>, CanonError> {
    // Items grouped by the tables they need, so a chunk builds each table once.
    let mut by_table: BTreeMap<&QualifiedName, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        by_table.entry(&item.key.table).or_default().push(i);
    }
    let mut prerequisites = prerequisites_of(desired);
    kinds::leave_out_unbuilt_tables(&mut prerequisites, &|_| false);
    let expressions: Vec<&str> = items
        .iter()
        .flat_map(|i| [i.policy.using.as_deref(), i.policy.check.as_deref()])
        .flatten()
        .collect();
    kinds::function::leave_out_uncalled(&mut prerequisites, &expressions);
    let context: Vec<String> = statements(&prerequisites)
        .into_iter()
        .map(|s| s.sql)
        .collect();
    let mut out: Vec<Option<Printed>> = vec![None; items.len()];
    let groups: Vec<(&QualifiedName, Vec<usize>)> = by_table.into_iter().collect();
    for chunk in groups.chunks(TABLES_PER_TRANSACTION) {
        let chunk_items: Vec<usize> = chunk.iter().flat_map(|(_, i)| i.clone()).collect();
        let got = build_chunk(desired, items, &chunk_items, &context, environment, scratch).await?;
        for (i, printed) in chunk_items.into_iter().zip(got) {
            out[i] = Some(printed);
        }
    }
    Ok(out
        .into_iter()
        .map(|p| {
            p.unwrap_or_else(|| {
                Err(ServerError {
                    sqlstate: None,
                    message: "not built".to_owned(),
                    detail: None,
                    hint: None,
                })
            })
        })
        .collect())
}

async fn build_chunk(
    desired: &Schema,
    items: &[Item],
    chunk: &[usize],
    context: &[String],
    environment: Option<&Environment>,
    scratch: &mut impl Scratch,
) -> Result<Vec<Printed>, CanonError> {
    let conn = scratch.connection().await?;
    let mut tx = conn.begin().await?;
    for setting in [
        "SET LOCAL search_path = public",
        "SET LOCAL check_function_bodies = off",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    // Types, sequences and schemas of the desired state; what fails here shows as the
    // policies' own failures.
    run_all(&mut tx, context.iter().map(String::as_str)).await?;
    // The tables, with their columns only.
    let mut tables: BTreeSet<&QualifiedName> = BTreeSet::new();
    let mut calls: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for &i in chunk {
        let item = &items[i];
        tables.insert(&item.key.table);
        for expression in item.policy.expressions() {
            for relation in relations_read(expression).into_iter().flatten() {
                if let Some((name, _)) = desired.tables.get_key_value(&relation) {
                    tables.insert(name);
                }
            }
            calls.extend(functions_called(expression));
        }
    }
    // Each group in one round trip when the server takes all of it (statement by statement
    // only to learn which it rejects): a round trip per table or policy was most of the time
    // here with a few hundred of them.
    let mut tables_and_stubs: Vec<String> = tables
        .iter()
        .filter_map(|name| {
            let table = desired.tables.get(*name)?;
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let mut column = format!("{} {}", c.name.quoted(), c.data_type);
                    if let Some(collation) = &c.collation() {
                        column.push_str(&format!(" COLLATE {collation}"));
                    }
                    column
                })
                .collect();
            Some(format!(
                "CREATE TABLE IF NOT EXISTS {} ({})",
                name.quoted(),
                columns.join(", ")
            ))
        })
        .collect();
    tables_and_stubs.extend(stubs(&calls, environment));
    run_all(&mut tx, tables_and_stubs.iter().map(String::as_str)).await?;
    let creates: Vec<(usize, String, String)> = chunk
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let name = format!("reconcile_{n}");
            let sql = create(&name, &items[i]);
            (i, name, sql)
        })
        .collect();
    let mut errors: BTreeMap<usize, ServerError> =
        run_all(&mut tx, creates.iter().map(|(_, _, sql)| sql.as_str()))
            .await?
            .into_iter()
            .map(|(n, error)| (creates[n].0, error))
            .collect();
    let names: Vec<(usize, String)> = creates
        .into_iter()
        .filter(|(i, _, _)| !errors.contains_key(i))
        .map(|(i, name, _)| (i, name))
        .collect();
    let mut printed = read_back(&mut tx, &names).await?;
    // A second build of the printed forms that are not a fixpoint (desired ones only: a live
    // text is re-parsed once, as `canon::align_live` does).
    let again: Vec<(usize, String)> = names
        .iter()
        .filter(|(i, _)| !items[*i].live)
        .filter(|(i, _)| {
            printed.get(i).is_some_and(|(u, c)| {
                u.iter()
                    .chain(c.iter())
                    .any(|t| t.contains("ARRAY[") || t.contains("ANY (") || t.contains("ALL ("))
            })
        })
        .map(|(i, name)| (*i, format!("{name}_again")))
        .collect();
    let recreates: Vec<(usize, String, String)> = again
        .into_iter()
        .filter_map(|(i, name)| {
            let (using, check) = printed.get(&i).cloned()?;
            let item = Item {
                policy: Policy {
                    using,
                    check,
                    ..items[i].policy.clone()
                },
                ..items[i].clone()
            };
            let sql = create(&name, &item);
            Some((i, name, sql))
        })
        .collect();
    let failed: BTreeSet<usize> =
        run_all(&mut tx, recreates.iter().map(|(_, _, sql)| sql.as_str()))
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
    let built_again: Vec<(usize, String)> = recreates
        .into_iter()
        .enumerate()
        .filter(|(n, _)| !failed.contains(n))
        .map(|(_, (i, name, _))| (i, name))
        .collect();
    printed.extend(read_back(&mut tx, &built_again).await?);
    tx.rollback().await?;
    Ok(chunk
        .iter()
        .map(|i| match errors.remove(i) {
            Some(error) => Err(error),
            None => printed.remove(i).ok_or_else(|| ServerError {
                sqlstate: None,
                message: "the policy was built but could not be read back".to_owned(),
                detail: None,
                hint: None,
            }),
        })
        .collect())
}

/// The item as a policy of its own name (no roles: it is built `TO PUBLIC`).
fn create(name: &str, item: &Item) -> String {
    let p = &item.policy;
    let mut sql = format!(
        "CREATE POLICY {name} ON {} AS {} FOR {}",
        item.key.table.quoted(),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        p.command.sql()
    );
    if let Some(using) = &p.using {
        sql.push_str(&format!(" USING ({using})"));
    }
    if let Some(check) = &p.check {
        sql.push_str(&format!(" WITH CHECK ({check})"));
    }
    sql
}

/// The printed expressions of the policies built under `names`, by item.
async fn read_back(
    tx: &mut sqlx::PgConnection,
    names: &[(usize, String)],
) -> Result<BTreeMap<usize, (Option<String>, Option<String>)>, CanonError> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let list: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    let rows = sqlx::query(
        "SELECT polname::text AS name, pg_catalog.pg_get_expr(polqual, polrelid) AS using_expr, \
                pg_catalog.pg_get_expr(polwithcheck, polrelid) AS check_expr \
           FROM pg_catalog.pg_policy WHERE polname = ANY ($1::text[])",
    )
    .bind(&list)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_name = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        by_name.insert(
            name,
            (
                row.try_get::<Option<String>, _>("using_expr")?,
                row.try_get::<Option<String>, _>("check_expr")?,
            ),
        );
    }
    Ok(names
        .iter()
        .filter_map(|(i, name)| Some((*i, by_name.remove(name)?)))
        .collect())
}

/// `CREATE FUNCTION` stubs for the called functions the target has outside pg_catalog: an
/// unqualified name is looked up in `public` (the statements' search path; pg_catalog's own
/// functions exist on every server).
fn stubs(
    calls: &BTreeSet<(Option<String>, String)>,
    environment: Option<&Environment>,
) -> Vec<String> {
    let Some(environment) = environment else {
        return Vec::new();
    };
    let wanted: BTreeSet<(&str, &str)> = calls
        .iter()
        .map(|(schema, name)| (schema.as_deref().unwrap_or("public"), name.as_str()))
        .collect();
    let mut schemas = BTreeSet::new();
    let mut out = Vec::new();
    for function in &environment.functions {
        if !wanted.contains(&(function.schema.as_str(), function.name.as_str())) {
            continue;
        }
        if schemas.insert(function.schema.clone()) {
            out.push(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                function.schema.quoted()
            ));
        }
        out.push(format!(
            "CREATE FUNCTION {}.{}({}) RETURNS {} LANGUAGE sql AS $reconcile_stub$SELECT NULL$reconcile_stub$",
            function.schema.quoted(),
            crate::ident::quote_ident(&function.name),
            function.arguments,
            function.result
        ));
    }
    out
}
