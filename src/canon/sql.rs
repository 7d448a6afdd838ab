//! The desired state's `.sql` statements, built on the scratch server and read back.
//!
//! What a `CREATE VIEW` or `CREATE FUNCTION` declares is known only once PostgreSQL has
//! parsed it in context (the view's columns and the tables it reads, the function's
//! canonical definition), so the statements run on the scratch server — after the objects
//! the YAML files declare, which they may use — inside a transaction that is always rolled
//! back, and the catalog is read back with the same introspection as a live database: YAML
//! and SQL give one model. Statements run in file order; one that fails because it needs an
//! object declared later is tried again once others succeed, so files need no particular
//! order. Function bodies are not checked as they are created (`check_function_bodies =
//! off`, as pg_dump does), so functions may call each other in any order.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection};

use super::scratch::{check_empty, run_all, run_at_once, run_one, statements};
use super::{CanonError, Scratch, ServerError};
use crate::introspect::{self, Scope, Skipped};
use crate::kinds::{self, Kind, Visitor};
use crate::load::SqlStatement;
use crate::model::{ObjectId, Schema};

/// What the statements declared, and the ones the server rejected (by index, with why).
#[derive(Debug)]
pub struct SqlBuilt {
    /// Only the objects the statements created (not the YAML ones built with them).
    pub schema: Schema,
    pub rejected: Vec<(usize, ServerError)>,
    /// Whether the YAML objects had to be built whole (a statement needed more than the lean
    /// tables of [`context_for`]): the slow path, and what tests check is taken when needed.
    pub whole: bool,
}

/// Builds `yaml` and then `sql` on the scratch database and reads back what `sql` created.
pub async fn build(
    yaml: &Schema,
    sql: &[SqlStatement],
    scratch: &mut impl Scratch,
) -> Result<SqlBuilt, CanonError> {
    build_against(yaml, sql, None, scratch).await
}

/// [`build`], taking from `live` (the target's catalog, when there is one) every statement's
/// object it already has as written (see [`super::unchanged`]): only the others are built,
/// and the scratch server is not asked for at all when none is left.
pub async fn build_against(
    yaml: &Schema,
    sql: &[SqlStatement],
    live: Option<&Schema>,
    scratch: &mut impl Scratch,
) -> Result<SqlBuilt, CanonError> {
    let unchanged = match live {
        Some(live) => super::unchanged::find(sql, yaml, live),
        None => super::unchanged::Unchanged::none(sql.len()),
    };
    let to_build: Vec<usize> = (0..sql.len())
        .filter(|i| unchanged.must_build(*i))
        .collect();
    tracing::debug!(
        "{} of {} SQL statements declare what the target has as written; {} to build",
        unchanged.count(),
        sql.len(),
        to_build.len()
    );
    let mut built = if to_build.is_empty() {
        SqlBuilt {
            schema: Schema::default(),
            rejected: Vec::new(),
            whole: false,
        }
    } else if to_build.len() == sql.len() {
        build_all(yaml, sql, scratch).await?
    } else {
        let subset: Vec<SqlStatement> = to_build.iter().map(|&i| sql[i].clone()).collect();
        let mut built = build_all(yaml, &subset, scratch).await?;
        for (index, _) in &mut built.rejected {
            *index = to_build[*index];
        }
        built
    };
    if let Some(live) = live {
        super::unchanged::copy_from_live(&unchanged, live, &mut built.schema);
    }
    Ok(built)
}

async fn build_all(
    yaml: &Schema,
    sql: &[SqlStatement],
    scratch: &mut impl Scratch,
) -> Result<SqlBuilt, CanonError> {
    let conn = scratch.connection().await?;
    check_empty(yaml, conn).await?;
    let mut tx = conn.begin().await?;
    for setting in [
        "SET LOCAL search_path = public",
        "SET LOCAL check_function_bodies = off",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    // The YAML objects first (what the statements may use); of the tables, only those the
    // statements name, lean (see `lean`): at 10,000 tables, a few views must not rebuild
    // them all. A statement may use a table the parse tree does not name as one (its row
    // type as a function's argument or result), or a part of one a lean table lacks: when
    // any is rejected, everything is built again with all the YAML tables whole.
    sqlx::query("SAVEPOINT reconcile_sql_build")
        .execute(&mut *tx)
        .await?;
    let partial = context_for(yaml, sql);
    tracing::debug!(
        "building {} statements over {} lean tables",
        sql.len(),
        partial.tables.len()
    );
    let mut rejected = build_with(&mut tx, &partial, sql).await?;
    let whole = !rejected.is_empty();
    if whole {
        sqlx::query("ROLLBACK TO SAVEPOINT reconcile_sql_build")
            .execute(&mut *tx)
            .await?;
        rejected = build_with(&mut tx, yaml, sql).await?;
    }
    let mut scope_schemas: Vec<String> = yaml
        .schemas
        .iter()
        .map(|s| s.as_str().to_owned())
        .chain(
            sql.iter()
                .filter_map(|s| s.declares.as_ref())
                .map(|(_, schema)| schema.clone()),
        )
        .collect();
    scope_schemas.sort();
    scope_schemas.dedup();
    let scope = Scope::named(scope_schemas, &[]);
    tracing::debug!("statements built (whole tables: {whole}); reading them back");
    // Owners and privileges are the desired state's as written (see `merge`): not read; nor
    // are kinds the statements create nothing of (the YAML's objects are dropped below).
    let leave_out = introspect::LeaveOut {
        kinds: match super::unchanged::kinds_created(sql) {
            Some(created) => kinds::not_read_back(kinds::Built::KindsOverPrerequisites(&created)),
            None => kinds::not_read_back(kinds::Built::Anything),
        },
        unmanaged: false,
    };
    let read = introspect::read_in_transaction_of(&mut tx, &scope, leave_out).await;
    tx.rollback().await?;
    let read = read?;
    rejected.extend(unmanageable(sql, &read.skipped));
    let mut schema = read.schema;
    without(&mut schema, yaml);
    Ok(SqlBuilt {
        schema,
        rejected,
        whole,
    })
}

/// Statements that declare a view, materialized view or trigger that the server built but
/// introspection left out (it reads or runs something reconcile does not manage yet): left
/// out silently, the desired state would lose them and the plan say "in sync".
fn unmanageable(sql: &[SqlStatement], skipped: &[Skipped]) -> Vec<(usize, ServerError)> {
    sql.iter()
        .enumerate()
        .filter_map(|(index, statement)| {
            let object = statement.declared_object()?;
            if !matches!(
                object,
                ObjectId::View(_) | ObjectId::MaterializedView(_) | ObjectId::Trigger { .. }
            ) {
                return None;
            }
            let skip = skipped.iter().find(|s| s.object == object)?;
            Some((
                index,
                ServerError {
                    sqlstate: None,
                    message: format!("reconcile cannot manage {object}: {}", skip.reason),
                    detail: None,
                    hint: Some(
                        "leave it out of the desired state for now (it is listed as skipped, \
                         never changed), or declare what it uses where reconcile manages it"
                            .to_owned(),
                    ),
                },
            ))
        })
        .collect()
}

/// Builds `context` (YAML objects), then the statements; returns the statements the server
/// rejects. A context object that needs what a statement declares (a table whose default
/// calls a function) is tried again with the statements; what of the YAML objects the server
/// rejects is reported by the canonicalisation of the YAML state itself.
async fn build_with(
    tx: &mut PgConnection,
    context: &Schema,
    sql: &[SqlStatement],
) -> Result<Vec<(usize, ServerError)>, CanonError> {
    let context = statements(context);
    let waiting: Vec<&str> = run_all(tx, context.iter().map(|s| s.sql.as_str()))
        .await?
        .into_iter()
        .map(|(index, _)| context[index].sql.as_str())
        .collect();
    run_until_done(tx, &waiting, sql).await
}

/// The YAML state's types, sequences and extensions, and the tables the statements name —
/// with the partitioned tables those are partitions of (a partition is built `PARTITION OF`
/// its parent), and the parent a `CREATE TABLE ... PARTITION OF` names, which pg_query's
/// table list leaves out.
fn context_for(yaml: &Schema, sql: &[SqlStatement]) -> Schema {
    use crate::model::{Ident, QualifiedName};
    let mut context = super::prerequisites_of(yaml);
    let mut named: Vec<QualifiedName> = Vec::new();
    // The columns each named table needs: every word of the statements naming it (`None`:
    // all of them, for a `*` or a NATURAL join).
    let mut used: BTreeMap<QualifiedName, Option<BTreeSet<String>>> = BTreeMap::new();
    for statement in sql {
        let Ok(parsed) = pg_query::parse(&statement.text, pg_query::ParserOptions::DEFAULT) else {
            continue;
        };
        let first_named = named.len();
        let mut tables: Vec<String> = parsed.tables();
        for raw in &parsed.protobuf.stmts {
            if let Some(pg_query::NodeEnum::CreateStmt(create)) =
                raw.stmt.as_ref().and_then(|s| s.node.as_ref())
            {
                tables.extend(create.inh_relations.iter().filter_map(|n| match &n.node {
                    Some(pg_query::NodeEnum::RangeVar(r)) if r.schemaname.is_empty() => {
                        Some(r.relname.clone())
                    }
                    Some(pg_query::NodeEnum::RangeVar(r)) => {
                        Some(format!("{}.{}", r.schemaname, r.relname))
                    }
                    _ => None,
                }));
            }
        }
        for name in tables {
            let Some(parts) = crate::ident::parse_dotted(&quote_parts(&name)) else {
                continue;
            };
            let (schema, table) = match parts.as_slice() {
                [table] => ("public".to_owned(), table.clone()),
                [schema, table] => (schema.clone(), table.clone()),
                _ => continue,
            };
            named.push(QualifiedName::new(
                Ident::from_catalog(schema),
                Ident::from_catalog(table),
            ));
        }
        // `COMMENT ON COLUMN t.c` (or on a policy, index, constraint of t) names its table
        // in an object list, not as a relation.
        if let Some(pg_query::NodeEnum::CommentStmt(comment)) = parsed
            .protobuf
            .stmts
            .first()
            .and_then(|s| s.stmt.as_ref())
            .and_then(|n| n.node.as_ref())
        {
            named.extend(
                crate::load::sql::comment_target(comment)
                    .and_then(|object| object.table().cloned()),
            );
        }
        let words = words_of(&statement.text);
        for name in &named[first_named..] {
            let columns = used
                .entry(name.clone())
                .or_insert_with(|| Some(BTreeSet::new()));
            match (columns.as_mut(), &words) {
                (Some(columns), Some(words)) => columns.extend(words.iter().cloned()),
                _ => *columns = None,
            }
        }
    }
    for name in named {
        let mut next = Some(name);
        // The table, then its parent, its parent's parent, ... (a cycle is a load error,
        // and a table already in the context has its ancestors there too).
        while let Some(name) = next.take() {
            if context.tables.contains_key(&name) {
                break;
            }
            let Some(table) = yaml.tables.get(&name) else {
                break;
            };
            let mut table = table.clone();
            // A partition has its parent's columns, and the partition key must be there.
            let partitioned = table.is_partitioned() || table.partition_of.is_some();
            let columns = used
                .get(&name)
                .and_then(Option::as_ref)
                .filter(|_| !partitioned);
            lean(&mut table, columns);
            next = table.partition_of.as_ref().map(|p| p.parent.clone());
            context.tables.insert(name, table);
        }
    }
    // The policies of those tables, bare (every role, no expressions): a `COMMENT ON
    // POLICY` needs only that they exist, and their roles and the functions they call may
    // exist on the target only (their own canonical form comes from `canon::policies`).
    for (key, policy) in &yaml.policies {
        if context.tables.contains_key(&key.table) {
            let mut bare = policy.clone();
            bare.roles = vec![crate::kinds::policy::PUBLIC.to_owned()];
            bare.using = None;
            bare.check = None;
            context.policies.insert(key.clone(), bare);
        }
    }
    context
}

/// A table reduced to what the statements that use it see: the columns they may name
/// (`columns`, or all) with their types, collations and NOT NULL, and its partitioning. Keys,
/// indexes, checks, defaults, identities and generated expressions change nothing a view,
/// function or trigger prints, and building them — with every column — took most of the time
/// (3 s for 750 tables of 20 columns). A statement that needs one after all (a view grouping
/// by the primary key, `COMMENT ON INDEX`, a foreign key to it) is rejected here, and
/// everything is then built again whole.
fn lean(table: &mut crate::model::Table, columns: Option<&BTreeSet<String>>) {
    use crate::model::ConstraintKind;
    if let Some(columns) = columns {
        table.columns.retain(|c| columns.contains(c.name.as_str()));
    }
    // A partitioned table's keys must be there for its partitions' (which copy them).
    table.constraints.retain(|_, c| {
        table.partition_by.is_some()
            && matches!(
                c.kind,
                ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
            )
    });
    table.indexes.clear();
    table.row_level_security = false;
    table.force_row_level_security = false;
    for column in &mut table.columns {
        column.default = None;
        column.set_identity(None);
        column.set_generated(None);
    }
}

/// Every identifier and keyword of `text` as the server folds it (a column a statement names
/// is among them), or `None` when the statement may use columns it does not name (`*`,
/// `NATURAL JOIN`) or cannot be scanned. Over-approximate on purpose: a word that is not a
/// column keeps nothing but itself out of a lean table.
fn words_of(text: &str) -> Option<BTreeSet<String>> {
    let (words, all_columns) = scan_words(text)?;
    (!all_columns).then_some(words)
}

/// Every identifier and keyword of `text` as the server folds them (quoted ones as written),
/// and whether the statement may use columns it does not name (`*`, `NATURAL JOIN`); `None`
/// when it cannot be scanned.
pub(super) fn scan_words(text: &str) -> Option<(BTreeSet<String>, bool)> {
    use pg_query::protobuf::{KeywordKind, Token};
    let scanned = pg_query::scan(text).ok()?;
    let mut words = BTreeSet::new();
    let mut all_columns = false;
    for token in &scanned.tokens {
        let (Ok(start), Ok(end)) = (usize::try_from(token.start), usize::try_from(token.end))
        else {
            return None;
        };
        let word = text.get(start..end)?;
        if token.token == Token::Ascii42 as i32 || word.eq_ignore_ascii_case("natural") {
            all_columns = true;
        }
        if token.token == Token::Ident as i32 {
            words.insert(
                match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
                    Some(quoted) => quoted.replace("\"\"", "\""),
                    None => word.to_lowercase(),
                },
            );
        } else if token.keyword_kind != KeywordKind::NoKeyword as i32 {
            words.insert(word.to_lowercase());
        }
    }
    Some((words, all_columns))
}

/// `schema.name` as pg_query reports a table (unquoted parts) → SQL text whose parts keep
/// their case (so `parse_dotted` does not fold them).
fn quote_parts(name: &str) -> String {
    name.split('.')
        .map(crate::ident::quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// Runs every statement (after the `waiting` YAML objects), each under a savepoint, again
/// and again while any that failed before succeeds now (it needed an object a later
/// statement declares); the statements that still fail are returned with the server's last
/// word on them.
async fn run_until_done(
    tx: &mut PgConnection,
    waiting: &[&str],
    sql: &[SqlStatement],
) -> Result<Vec<(usize, ServerError)>, CanonError> {
    let texts: Vec<&str> = waiting
        .iter()
        .copied()
        .chain(sql.iter().map(|s| s.text.as_str()))
        .collect();
    // In file order, in one round trip: a thousand views and triggers one by one (three
    // statements each, with the savepoint) cost seconds.
    if run_at_once(tx, texts.iter().copied()).await? {
        return Ok(Vec::new());
    }
    let mut pending: Vec<usize> = (0..texts.len()).collect();
    let mut errors: Vec<Option<ServerError>> = vec![None; texts.len()];
    loop {
        let mut still = Vec::new();
        for index in pending.iter().copied() {
            match run_one(tx, texts[index]).await? {
                Ok(()) => errors[index] = None,
                Err(error) => {
                    errors[index] = Some(error);
                    still.push(index);
                }
            }
        }
        let progress = still.len() < pending.len();
        pending = still;
        if pending.is_empty() || !progress {
            break;
        }
    }
    Ok(pending
        .into_iter()
        .filter(|i| *i >= waiting.len())
        .filter_map(|i| errors[i].take().map(|e| (i - waiting.len(), e)))
        .collect())
}

/// Takes out of `built` every object `yaml` declares (they were built as context).
fn without(built: &mut Schema, yaml: &Schema) {
    built
        .tables
        .retain(|name, _| !yaml.tables.contains_key(name));
    built.enums.retain(|name, _| !yaml.enums.contains_key(name));
    built
        .extensions
        .retain(|name, _| !yaml.extensions.contains_key(name));
    struct Without<'a> {
        built: &'a mut Schema,
        yaml: &'a Schema,
    }
    impl Visitor for Without<'_> {
        fn visit<K: Kind>(&mut self) {
            let yaml = K::objects(self.yaml);
            K::objects_mut(self.built).retain(|key, _| !yaml.contains_key(key));
        }
    }
    kinds::visit_all(&mut Without { built, yaml });
}

/// Adds what the statements declared to the desired state.
pub fn merge(desired: &mut Schema, mut built: Schema) {
    // Moved, not copied: at 10,000 tables that is thousands of views, routines and triggers.
    desired.schemas.extend(std::mem::take(&mut built.schemas));
    desired
        .extensions
        .extend(std::mem::take(&mut built.extensions));
    desired.enums.extend(std::mem::take(&mut built.enums));
    desired.tables.extend(std::mem::take(&mut built.tables));
    struct Merge<'a> {
        desired: &'a mut Schema,
        built: &'a mut Schema,
    }
    impl Visitor for Merge<'_> {
        fn visit<K: Kind>(&mut self) {
            // Privileges and owners are the desired state's as written, never the scratch
            // server's (whose owners are its own role's, of objects built as context too).
            if !K::BUILT {
                return;
            }
            K::objects_mut(self.desired).extend(std::mem::take(K::objects_mut(self.built)));
        }
    }
    kinds::visit_all(&mut Merge {
        desired,
        built: &mut built,
    });
    // The schema's `owner:` for what the statements declared (resolved before they were).
    kinds::owner::complete(desired);
}

#[cfg(test)]
mod tests {
    use super::words_of;

    #[test]
    fn words_are_folded_as_the_server_folds_them_and_stars_mean_every_column() {
        let words = words_of(r#"CREATE VIEW v AS SELECT "Mixed""Case", Plain, t.name FROM t"#)
            .expect("no star");
        for word in ["Mixed\"Case", "plain", "name", "t", "v", "select"] {
            assert!(words.contains(word), "no {word:?} in {words:?}");
        }
        assert!(!words.contains("Plain"));
        assert_eq!(words_of("CREATE VIEW v AS SELECT * FROM t"), None);
        assert_eq!(words_of("CREATE VIEW v AS SELECT t.* FROM t"), None);
        assert_eq!(
            words_of("CREATE VIEW v AS SELECT id FROM a NATURAL JOIN b"),
            None
        );
    }
}
