//! Live catalog → [`Schema`].
//!
//! Reads `pg_catalog` (not `information_schema`, which is slow and has no indexes) with one
//! query per object kind, each filtered to the schemas in scope inside the SQL, so the number
//! of round trips is the same for 10 tables or 10,000. The queries live in `sql/` beside this
//! file. Everything runs in one REPEATABLE READ, READ ONLY snapshot (no write locks) with
//! `search_path = public`, which fixes how the server prints type and expression text:
//! objects in `public` unqualified, everything else qualified. Given a second connection
//! ([`schema_with`]), the registered kinds are read there in the same snapshot while the
//! tables are read on the first, so the server works on both halves at once.
//!
//! Partitioned tables and partitions are tables (with their key, parent and bound); a
//! partition's copy of its parent's checks, keys, foreign keys and indexes belongs to the
//! parent and is not read as the partition's own. What reconcile does not manage
//! (inheritance children, window functions, NOT VALID constraints, views over such things)
//! is skipped and listed in [`Introspected::skipped`] with the reason, never an error.

mod index;
mod rows;
pub mod split;

pub(crate) use index::{KeyLists, from_row as index_from_row};
pub(crate) use rows::{IndexRow, SeqValues};

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection, Row};

use futures_util::TryStreamExt as _;

use crate::ident::QualifiedName;
use crate::kinds;
use crate::model::{
    Column, Constraint, ConstraintKind, EnumType, Extension, FkAction, ForeignKey, Ident, Identity,
    ObjectId, PartitionOf, Schema, Table, TriggerKey,
};

/// Which schemas to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `None` means every non-system schema.
    pub schemas: Option<Vec<String>>,
    /// Schemas never read (e.g. Supabase's `auth`, `storage`).
    pub ignore: Vec<String>,
}

impl Scope {
    /// These schemas (sorted, as [`Scope::of`] lists them), but not `ignore`.
    pub fn named(schemas: impl IntoIterator<Item = String>, ignore: &[String]) -> Self {
        let schemas: std::collections::BTreeSet<String> = schemas.into_iter().collect();
        Self {
            schemas: Some(schemas.into_iter().collect()),
            ignore: ignore.to_vec(),
        }
    }

    /// The schemas a desired state names.
    pub fn of(desired: &Schema, ignore: &[String]) -> Self {
        Self {
            schemas: Some(
                desired
                    .schemas
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            ),
            ignore: ignore.to_vec(),
        }
    }
}

/// Something in scope that reconcile does not manage yet, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub object: ObjectId,
    pub reason: &'static str,
}

#[derive(Debug, Clone)]
pub struct Introspected {
    pub schema: Schema,
    pub skipped: Vec<Skipped>,
    /// Estimated rows per table (the planner's `reltuples`; -1 when never analysed).
    pub estimated_rows: BTreeMap<QualifiedName, f64>,
    /// Catalog queries issued (not counting BEGIN/SET/COMMIT).
    pub catalog_queries: usize,
    /// INVALID indexes (schema-qualified names), left by failed concurrent builds.
    pub invalid_indexes: BTreeSet<QualifiedName>,
    /// Tables left out of the model (inheritance children, partitions of a table outside the
    /// scope): they exist, so a desired table of the same name must not be planned as new.
    pub unmanaged_tables: BTreeSet<QualifiedName>,
    /// Indexes of partitions that are part of their partitioned table's index (and so not the
    /// partition's own, nor in the model), schema-qualified: their names are taken.
    pub partition_indexes: BTreeSet<QualifiedName>,
    /// Schemas outside the scope that are not ignored, with what they hold (when a scope of
    /// named schemas was read; see `sql/undeclared_schemas.sql`).
    pub undeclared_schemas: Vec<UndeclaredSchema>,
    /// Every role of the server (roles are cluster-wide), for the check that the roles a
    /// desired state grants to exist. Empty when read in a caller's transaction.
    pub roles: BTreeSet<String>,
    /// The role reconcile is connected as (`current_user`), when `roles` was read.
    pub current_role: Option<String>,
    /// The target's roles and functions (read by [`schema`] only, not from a scratch build).
    pub environment: Environment,
}

/// What a desired state may name without declaring it, as the target has it (see
/// `sql/environment.sql`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// Role names; `None` when they were not read (a scratch build, a test).
    pub roles: Option<BTreeSet<String>>,
    /// Functions outside pg_catalog, for the scratch server's stubs.
    pub functions: Vec<ExternalFunction>,
}

/// A function of the target, by its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalFunction {
    pub schema: Ident,
    pub name: String,
    /// `pg_get_function_arguments` (names, modes and defaults included).
    pub arguments: String,
    /// `pg_get_function_result`.
    pub result: String,
}

/// A schema the scope did not name and nothing ignores, and how many objects of each kind it
/// holds (extension members left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredSchema {
    pub name: Ident,
    pub tables: i64,
    pub views: i64,
    pub sequences: i64,
    pub routines: i64,
    pub types: i64,
}

impl UndeclaredSchema {
    pub fn objects(&self) -> i64 {
        self.tables + self.views + self.sequences + self.routines + self.types
    }

    /// "2 tables, 1 view", or "no objects".
    pub fn contents(&self) -> String {
        let parts: Vec<String> = [
            (self.tables, "table", "tables"),
            (self.views, "view", "views"),
            (self.sequences, "sequence", "sequences"),
            (self.routines, "function", "functions"),
            (self.types, "type", "types"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        if parts.is_empty() {
            "no objects".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error("while reading the catalog ({query}): {source}")]
    Query {
        query: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("while reading the catalog: {0}")]
    Unexpected(String),
}

/// Queries a read may leave out because the caller knows their answer is empty or unused
/// (a scratch read-back of what it just built: see [`read_in_transaction_of`]).
#[derive(Debug, Clone, Default)]
pub struct LeaveOut {
    /// Registered kinds, by the name of their catalog query.
    pub kinds: BTreeSet<&'static str>,
    /// The objects reconcile does not manage ([`Introspected::skipped`]).
    pub unmanaged: bool,
}

struct Reader<'c> {
    conn: &'c mut PgConnection,
    queries: usize,
    leave_out: LeaveOut,
    /// A second connection in the same snapshot (see [`schema_with`]): the registered kinds'
    /// queries run there while the tables' run on `conn`.
    helper: Option<&'c mut PgConnection>,
}

impl<'c> Reader<'c> {
    /// Rows one at a time, for the three queries whose results grow with the schema (columns,
    /// constraints, indexes): at 10,000 tables the buffered rows of `columns` alone would
    /// hold ~200,000 rows in memory beside the model being built from them.
    fn stream<'a>(
        &'a mut self,
        sql: &'static str,
        schemas: &'a [String],
    ) -> futures_util::stream::BoxStream<'a, Result<sqlx::postgres::PgRow, sqlx::Error>> {
        self.queries += 1;
        sqlx::query(sql).bind(schemas).fetch(&mut *self.conn)
    }

    async fn rows(
        &mut self,
        name: &'static str,
        sql: &'static str,
        schemas: &[String],
    ) -> Result<Vec<sqlx::postgres::PgRow>, IntrospectError> {
        self.queries += 1;
        sqlx::query(sql)
            .bind(schemas)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|source| IntrospectError::Query {
                query: name,
                source,
            })
    }
}

fn q(query: &'static str) -> impl Fn(sqlx::Error) -> IntrospectError {
    move |source| IntrospectError::Query { query, source }
}

/// Fixes, for the rest of the transaction, the settings that decide how the server prints
/// date and time constants: a range partition's bound over a `timestamptz` key reads
/// `'2022-04-01 01:00:00+01'` in one session and `'2022-04-01 00:00:00+00'` in another.
/// The live catalog and the scratch server print under the same settings, so the same
/// bound compares equal wherever the server's own defaults point.
pub(crate) const PRINTING_SETTINGS: &str = "SELECT pg_catalog.set_config('TimeZone', 'UTC', true), \
     pg_catalog.set_config('DateStyle', 'ISO, MDY', true), \
     pg_catalog.set_config('IntervalStyle', 'postgres', true)";

/// The transaction a catalog read runs in: one consistent snapshot, read only, printing as
/// the module's header says.
async fn begin_read(
    conn: &mut PgConnection,
) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, IntrospectError> {
    begin_read_in(conn, None).await
}

/// [`begin_read`], in the snapshot another transaction exported (`pg_export_snapshot`) when
/// one is named.
async fn begin_read_in<'c>(
    conn: &'c mut PgConnection,
    snapshot: Option<&str>,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, IntrospectError> {
    let mut tx = conn.begin().await.map_err(q("begin"))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(q("set transaction"))?;
    if let Some(snapshot) = snapshot {
        // Before any query of the transaction, as PostgreSQL requires; the identifier is the
        // server's own (`00000003-0000001B-1`), quoted all the same.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET TRANSACTION SNAPSHOT {}",
            crate::ident::quote_literal(snapshot)
        )))
        .execute(&mut *tx)
        .await
        .map_err(q("set transaction snapshot"))?;
    }
    sqlx::query("SET LOCAL search_path = public")
        .execute(&mut *tx)
        .await
        .map_err(q("search_path"))?;
    sqlx::query(PRINTING_SETTINGS)
        .execute(&mut *tx)
        .await
        .map_err(q("printing settings"))?;
    Ok(tx)
}

/// Reads the schemas in `scope` from the database behind `conn`.
pub async fn schema(
    conn: &mut PgConnection,
    scope: &Scope,
) -> Result<Introspected, IntrospectError> {
    schema_with(conn, None, scope).await
}

/// [`schema`], with a second connection to the same database when one is given: the server
/// then answers the registered kinds' queries (views, privileges, functions, ...) on one
/// backend while it answers the tables' (columns, constraints, indexes) on the other, in the
/// same snapshot (`pg_export_snapshot`), so the read is as consistent as on one connection
/// and takes about as long as its larger half. Where the snapshot cannot be shared (a server
/// or pooler that refuses it), everything is read on `conn`, as [`schema`] does.
pub async fn schema_with(
    conn: &mut PgConnection,
    helper: Option<&mut PgConnection>,
    scope: &Scope,
) -> Result<Introspected, IntrospectError> {
    let mut tx = begin_read(conn).await?;
    let mut shared = None;
    if let Some(helper) = helper {
        match sqlx::query_scalar::<_, String>("SELECT pg_catalog.pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await
        {
            Ok(snapshot) => shared = Some((helper, snapshot)),
            Err(e) => {
                // The failed statement ended the transaction's usefulness: start again alone.
                tracing::debug!("the catalog is read on one connection: {e}");
                tx.rollback().await.map_err(q("rollback"))?;
                tx = begin_read(conn).await?;
            }
        }
    }
    let helper_tx = match shared {
        Some((helper, snapshot)) => match begin_read_in(helper, Some(&snapshot)).await {
            Ok(helper_tx) => Some(helper_tx),
            Err(e) => {
                tracing::debug!("the catalog is read on one connection: {e}");
                None
            }
        },
        None => None,
    };
    let result = match helper_tx {
        Some(mut helper_tx) => {
            let mut reader = Reader {
                conn: &mut tx,
                queries: 0,
                leave_out: LeaveOut::default(),
                helper: Some(&mut helper_tx),
            };
            let result = read(&mut reader, scope).await;
            let queries = reader.queries;
            // Read only: nothing to keep, and an error here changes no answer.
            let _ = helper_tx.rollback().await;
            result.map(|mut read| {
                read.catalog_queries = queries;
                read
            })
        }
        None => read_in_transaction(&mut tx, scope).await,
    };
    let result = match result {
        Ok(mut read) => match undeclared_schemas(&mut tx, scope).await {
            Ok(undeclared) => {
                read.undeclared_schemas = undeclared;
                read.catalog_queries += 1;
                match environment(&mut tx, &read.schema).await {
                    Ok((environment, current)) => {
                        read.roles = environment.roles.clone().unwrap_or_default();
                        read.current_role = current;
                        read.environment = environment;
                        read.catalog_queries += 1;
                        Ok(read)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    tx.rollback().await.map_err(q("rollback"))?;
    result
}

/// The schemas a scope of named schemas leaves out and nothing ignores (none when the scope
/// is every schema). A schema that holds nothing but tables named like reconcile's own
/// history tables (`runs`, `steps`, `migrations`) is reconcile's, and left out too.
async fn undeclared_schemas(
    conn: &mut PgConnection,
    scope: &Scope,
) -> Result<Vec<UndeclaredSchema>, IntrospectError> {
    let rows = sqlx::query(include_str!("sql/undeclared_schemas.sql"))
        .bind(scope.schemas.as_deref())
        .bind(&scope.ignore)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("undeclared_schemas"))?;
    let mut out = Vec::new();
    for row in rows {
        let read = |column: &str| -> Result<i64, IntrospectError> {
            row.try_get(column).map_err(q("undeclared_schemas"))
        };
        let schema = UndeclaredSchema {
            name: Ident::from_catalog(row.try_get("name").map_err(q("undeclared_schemas"))?),
            tables: read("tables")?,
            views: read("views")?,
            sequences: read("sequences")?,
            routines: read("routines")?,
            types: read("types")?,
        };
        let reconciles_own = read("reconcile_tables")? > 0
            && schema.tables == read("reconcile_tables")?
            && schema.views + schema.routines + schema.types == 0;
        // Every database has a `public` schema: an empty one is not drift.
        let empty_public = schema.name.as_str() == "public" && schema.objects() == 0;
        if !reconciles_own && !empty_public {
            out.push(schema);
        }
    }
    Ok(out)
}

/// The target's roles and functions (see [`Environment`]), and the role we are connected as.
async fn environment(
    conn: &mut PgConnection,
    read: &Schema,
) -> Result<(Environment, Option<String>), IntrospectError> {
    let scope: Vec<String> = read.schemas.iter().map(|s| s.as_str().to_owned()).collect();
    let rows = sqlx::query(include_str!("sql/environment.sql"))
        .bind(&scope)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("environment"))?;
    let mut out = Environment {
        roles: Some(BTreeSet::new()),
        functions: Vec::new(),
    };
    let mut current = None;
    for row in rows {
        let get = |column: &str| -> Result<Option<String>, IntrospectError> {
            row.try_get(column).map_err(q("environment"))
        };
        let name = get("name")?.unwrap_or_default();
        match get("kind")?.as_deref() {
            Some(kind @ ("role" | "current_role")) => {
                if kind == "current_role" {
                    current = Some(name.clone());
                }
                if let Some(roles) = out.roles.as_mut() {
                    roles.insert(name);
                }
            }
            _ => out.functions.push(ExternalFunction {
                schema: Ident::from_catalog(get("schema")?.unwrap_or_default()),
                name,
                arguments: get("arguments")?.unwrap_or_default(),
                result: get("result")?.unwrap_or_default(),
            }),
        }
    }
    Ok((out, current))
}

/// Reads the catalog inside a transaction the caller owns (used to read objects that were
/// just created and will be rolled back). The caller sets `search_path = public`.
pub async fn read_in_transaction(
    conn: &mut PgConnection,
    scope: &Scope,
) -> Result<Introspected, IntrospectError> {
    read_in_transaction_of(conn, scope, LeaveOut::default()).await
}

/// [`read_in_transaction`] without the queries `leave_out` names: what they would read is
/// left empty.
pub async fn read_in_transaction_of(
    conn: &mut PgConnection,
    scope: &Scope,
    leave_out: LeaveOut,
) -> Result<Introspected, IntrospectError> {
    let mut reader = Reader {
        conn,
        queries: 0,
        leave_out,
        helper: None,
    };
    let result = read(&mut reader, scope).await;
    let queries = reader.queries;
    let mut introspected = result?;
    introspected.catalog_queries = queries;
    Ok(introspected)
}

async fn read(r: &mut Reader<'_>, scope: &Scope) -> Result<Introspected, IntrospectError> {
    let mut out = read_unsettled(r, scope).await?;
    settle(&mut out);
    Ok(out)
}

/// A read of nothing.
fn empty() -> Introspected {
    Introspected {
        schema: Schema::default(),
        skipped: Vec::new(),
        estimated_rows: BTreeMap::new(),
        invalid_indexes: BTreeSet::new(),
        unmanaged_tables: BTreeSet::new(),
        partition_indexes: BTreeSet::new(),
        undeclared_schemas: Vec::new(),
        roles: BTreeSet::new(),
        current_role: None,
        catalog_queries: 0,
        environment: Environment::default(),
    }
}

/// Every row of the schemas in `scope`, each object as its row says, before [`settle`].
async fn read_unsettled(
    r: &mut Reader<'_>,
    scope: &Scope,
) -> Result<Introspected, IntrospectError> {
    let schema_rows = {
        r.queries += 1;
        sqlx::query(include_str!("sql/schemas.sql"))
            .bind(scope.schemas.as_deref())
            .bind(&scope.ignore)
            .fetch_all(&mut *r.conn)
            .await
            .map_err(q("schemas"))?
    };
    let names: Vec<String> = schema_rows
        .iter()
        .map(|row| row.try_get::<String, _>("name"))
        .collect::<Result<_, _>>()
        .map_err(q("schemas"))?;
    let mut out = empty();
    out.schema.schemas = names.iter().cloned().map(Ident::from_catalog).collect();

    for row in r
        .rows("extensions", include_str!("sql/extensions.sql"), &names)
        .await?
    {
        let name: String = row.try_get("name").map_err(q("extensions"))?;
        let schema: String = row.try_get("schema").map_err(q("extensions"))?;
        out.schema.extensions.insert(
            Ident::from_catalog(name),
            Extension {
                schema: Ident::from_catalog(schema),
            },
        );
    }
    for row in r
        .rows("enums", include_str!("sql/enums.sql"), &names)
        .await?
    {
        let e = rows::EnumRow::read(&row).map_err(q("enums"))?;
        out.schema
            .enums
            .insert(qualified(e.schema, e.name), EnumType { values: e.labels });
    }
    match r.helper.take() {
        Some(helper) => {
            let mut kinds_reader = Reader {
                conn: helper,
                queries: 0,
                leave_out: r.leave_out.clone(),
                helper: None,
            };
            let mut kinds_read = Schema::default();
            // The constraints go with the kinds: each half then costs the server about as
            // much as the other (at 10,000 tables ~3.3 s each, against 4.1 and 2.5 s with the
            // constraints among the tables'), and the read takes as long as the longer one.
            let (helper_half, tables) = tokio::join!(
                async {
                    read_kinds(&mut kinds_reader, &names, &mut kinds_read).await?;
                    read_constraints(&mut kinds_reader, &names).await
                },
                read_tables(r, &names, &mut out)
            );
            let constraints = helper_half?;
            let tables = tables?;
            r.queries += kinds_reader.queries;
            kinds::move_all(&mut kinds_read, &mut out.schema);
            attach_constraints(tables, constraints, &mut out)?;
        }
        None => {
            read_kinds(r, &names, &mut out.schema).await?;
            let tables = read_tables(r, &names, &mut out).await?;
            let constraints = read_constraints(r, &names).await?;
            attach_constraints(tables, constraints, &mut out)?;
        }
    }

    let unmanaged = if r.leave_out.unmanaged {
        Vec::new()
    } else {
        r.rows("unmanaged", include_str!("sql/unmanaged.sql"), &names)
            .await?
    };
    for row in unmanaged {
        let kind: String = row.try_get("kind").map_err(q("unmanaged"))?;
        let schema: String = row.try_get("schema").map_err(q("unmanaged"))?;
        let name: String = row.try_get("name").map_err(q("unmanaged"))?;
        let on_table: Option<String> = row.try_get("on_table").map_err(q("unmanaged"))?;
        let reason = match kind.as_str() {
            "policy" => {
                "policies on tables reconcile does not manage (inheritance children) are not managed either"
            }
            _ => "window functions are not managed",
        };
        let args: Option<String> = row.try_get("args").map_err(q("unmanaged"))?;
        let name = qualified(schema, name);
        let on = |table: Option<String>| {
            table
                .map(|t| qualified(name.schema.as_str().to_owned(), t))
                .ok_or_else(|| IntrospectError::Unexpected(format!("{kind} without its table")))
        };
        let args = || kinds::function::argument_types(args.as_deref());
        let object = match kind.as_str() {
            "policy" => ObjectId::Policy {
                table: on(on_table)?,
                name: name.name,
            },
            "procedure" => ObjectId::Procedure { name, args: args() },
            "aggregate" => ObjectId::Aggregate { name, args: args() },
            _ => ObjectId::Function { name, args: args() },
        };
        out.skipped.push(Skipped { object, reason });
    }

    Ok(out)
}

/// The tables of the schemas `names`, with their columns and indexes (attached by oid); their
/// constraints come from [`read_constraints`], possibly on another connection, and join them
/// in [`attach_constraints`].
async fn read_tables(
    r: &mut Reader<'_>,
    names: &[String],
    out: &mut Introspected,
) -> Result<TablesRead, IntrospectError> {
    // Tables first, so columns, constraints and indexes can be attached by oid.
    let mut tables: BTreeMap<i64, (QualifiedName, Table)> = BTreeMap::new();
    let mut skipped_oids = BTreeSet::new();
    for row in r
        .rows("tables", include_str!("sql/tables.sql"), names)
        .await?
    {
        let t = rows::TableRow::read(&row).map_err(q("tables"))?;
        let name = qualified(t.schema, t.name);
        if t.inherits {
            out.skipped.push(Skipped {
                object: ObjectId::Table(name.clone()),
                reason: "tables that inherit from another table (INHERITS, not a partition) \
                         are not managed yet",
            });
            out.unmanaged_tables.insert(name.clone());
            skipped_oids.insert(t.oid);
            continue;
        }
        let partition_of = match (t.is_partition, t.parent_schema, t.parent_name, t.bound) {
            (true, Some(schema), Some(parent), Some(bound)) => Some(Box::new(PartitionOf {
                parent: qualified(schema, parent),
                bound,
            })),
            (true, ..) => {
                return Err(IntrospectError::Unexpected(format!(
                    "partition {name} without its parent or bound"
                )));
            }
            _ => None,
        };
        out.estimated_rows.insert(name.clone(), t.estimated_rows);
        let table = Table {
            // Room for every column up front: pushed one by one, a table's columns would have
            // up to twice the room they need, and shrinking them afterwards frees nothing
            // (mimalloc keeps a block that shrinks by less than half).
            columns: Vec::with_capacity(usize::try_from(t.column_slots).unwrap_or(0)),
            row_level_security: t.rls,
            force_row_level_security: t.force_rls,
            partition_by: t.partition_by,
            partition_of,
            ..Table::default()
        };
        tables.insert(t.oid, (name, table));
    }
    let mut rows = r.stream(include_str!("sql/columns.sql"), names);
    while let Some(row) = rows.try_next().await.map_err(q("columns"))? {
        let c = rows::ColumnRow::read(&row).map_err(q("columns"))?;
        let Some((_, table)) = tables.get_mut(&c.table_oid) else {
            continue;
        };
        table.columns.push(column(c)?);
    }
    drop(rows);
    // The constraints' skips are listed before the indexes' (see `attach_constraints`).
    let constraint_skips_at = out.skipped.len();
    let mut key_lists = index::KeyLists::default();
    let mut rows = r.stream(include_str!("sql/indexes.sql"), names);
    while let Some(row) = rows.try_next().await.map_err(q("indexes"))? {
        let i = rows::IndexRow::read(&row).map_err(q("indexes"))?;
        let Some((table_name, table)) = tables.get_mut(&i.table_oid) else {
            continue;
        };
        if i.attached {
            out.partition_indexes.insert(QualifiedName::new(
                table_name.schema.clone(),
                Ident::from_catalog(i.name),
            ));
            continue;
        }
        if !i.valid && i.partitioned {
            // A partitioned table's index that some partition has no attached index for yet
            // (an interrupted ON ONLY / CONCURRENTLY / ATTACH sequence). Left out of the model,
            // so the planner builds and attaches what is missing; never dropped.
            out.skipped.push(Skipped {
                object: ObjectId::index(table_name, &Ident::from_catalog(i.name.clone())),
                reason: "the partitioned index is INVALID (a partition's index is missing or not \
                         attached); completed if desired",
            });
            continue;
        }
        if !i.valid {
            // Left by a failed CREATE INDEX CONCURRENTLY: not part of the model (it enforces
            // and speeds up nothing), but reported, and the planner rebuilds it if the
            // desired state has it.
            out.skipped.push(Skipped {
                object: ObjectId::index(table_name, &Ident::from_catalog(i.name.clone())),
                reason: "the index is INVALID (a failed concurrent build); rebuilt if desired",
            });
            out.invalid_indexes.insert(QualifiedName::new(
                table_name.schema.clone(),
                Ident::from_catalog(i.name.clone()),
            ));
            continue;
        }
        let name = Ident::from_catalog(i.name.clone());
        let index = index::from_row(i, table_name, table, &mut key_lists)
            .map_err(IntrospectError::Unexpected)?;
        table.indexes.insert(name, index);
    }
    drop(rows);
    tracing::debug!(
        "{} index definitions parsed for {} indexes",
        key_lists.parses,
        key_lists.indexes
    );
    Ok(TablesRead {
        tables,
        constraint_skips_at,
    })
}

/// The tables as [`read_tables`] leaves them, by oid, waiting for their constraints.
struct TablesRead {
    tables: BTreeMap<i64, (QualifiedName, Table)>,
    /// Where in [`Introspected::skipped`] the constraints' skips go: a read on one connection
    /// and one on two list the same skips in the same order.
    constraint_skips_at: usize,
}

/// One row of the constraints query, modelled.
enum ReadConstraint {
    /// Modelled, or what is wrong with it (an error only if its table is read).
    Modelled(i64, Ident, Result<Constraint, IntrospectError>),
    /// A NOT VALID constraint is half-applied: reported rather than modelled.
    NotValid(i64, Ident),
}

/// Every constraint of the tables of the schemas `names`, by table oid.
async fn read_constraints(
    r: &mut Reader<'_>,
    names: &[String],
) -> Result<Vec<ReadConstraint>, IntrospectError> {
    let mut out = Vec::new();
    let mut rows = r.stream(include_str!("sql/constraints.sql"), names);
    while let Some(row) = rows.try_next().await.map_err(q("constraints"))? {
        let c = rows::ConstraintRow::read(&row).map_err(q("constraints"))?;
        let (oid, name) = (c.table_oid, Ident::from_catalog(c.name.clone()));
        out.push(if c.validated {
            ReadConstraint::Modelled(oid, name, constraint(c))
        } else {
            ReadConstraint::NotValid(oid, name)
        });
    }
    Ok(out)
}

/// The tables of `read`, with `constraints` attached, into `out`.
fn attach_constraints(
    read: TablesRead,
    constraints: Vec<ReadConstraint>,
    out: &mut Introspected,
) -> Result<(), IntrospectError> {
    let TablesRead {
        mut tables,
        constraint_skips_at,
    } = read;
    let mut skips = Vec::new();
    for c in constraints {
        match c {
            ReadConstraint::Modelled(oid, name, constraint) => {
                if let Some((_, table)) = tables.get_mut(&oid) {
                    table.constraints.insert(name, constraint?);
                }
            }
            ReadConstraint::NotValid(oid, name) => {
                if let Some((table_name, _)) = tables.get(&oid) {
                    skips.push(Skipped {
                        object: ObjectId::constraint(table_name, &name),
                        reason: "NOT VALID constraints are not modelled yet",
                    });
                }
            }
        }
    }
    out.skipped
        .splice(constraint_skips_at..constraint_skips_at, skips);
    out.schema.tables = tables.into_values().collect();
    Ok(())
}

/// What a read does once every row is in: what refers to what was left out goes too. Apart
/// from [`read_unsettled`] so that a read of many tenant schemas can settle each tenant's
/// share on its own, as a read of that tenant alone would (see [`split`]).
fn settle(out: &mut Introspected) {
    settle_partitions(out);
    drop_dangling_foreign_keys(out);
    kinds::settle_all(&mut out.schema);
    materialized_view_facts(out);
    skip_on_unmanaged(out);
    // After the views left out: what refers to them (privileges, a comment) goes with them.
    kinds::settle_all(&mut out.schema);
}

/// What the catalog says about each materialized view besides its definition, where the
/// tables' go: INVALID indexes (listed, and dropped and built again when desired) and row
/// estimates (for the hazards of index builds).
fn materialized_view_facts(out: &mut Introspected) {
    for (name, view) in &mut out.schema.materialized_views {
        let Some(facts) = view.take_catalog_facts() else {
            continue;
        };
        out.estimated_rows
            .insert(name.clone(), facts.estimated_rows);
        for index in facts.invalid_indexes {
            out.skipped.push(Skipped {
                object: ObjectId::index(name, &index),
                reason: "the index is INVALID (a failed concurrent build); rebuilt if desired",
            });
            out.invalid_indexes
                .insert(QualifiedName::new(name.schema.clone(), index));
        }
    }
}

/// Every registered kind's catalog query, one after the other (the connection serves one
/// query at a time), each row becoming one object.
async fn read_kinds(
    r: &mut Reader<'_>,
    names: &[String],
    schema: &mut Schema,
) -> Result<(), IntrospectError> {
    struct Queries(Vec<kinds::Catalog>);
    impl kinds::Visitor for Queries {
        fn visit<K: kinds::Kind>(&mut self) {
            self.0.push(K::CATALOG);
        }
    }
    let mut queries = Queries(Vec::new());
    kinds::visit_all(&mut queries);
    for catalog in queries.0 {
        if r.leave_out.kinds.contains(catalog.name) {
            continue;
        }
        let rows = r.rows(catalog.name, catalog.sql, names).await?;
        kinds::insert_rows(catalog.name, &rows, schema).map_err(q(catalog.name))?;
    }
    Ok(())
}

/// A view or materialized view that reads a relation reconcile does not model (an inheritance
/// child, a table outside the scope, ...; partitioned tables and partitions are tables) or
/// calls a function no kind manages (a window function, one that uses such a relation) cannot
/// be built on the scratch server from the desired state, and neither can a trigger on a relation left out or running such a
/// function: each is left out and listed, never written by `pull` as something that would not
/// load — and so is what depends on it, functions included (see
/// [`kinds::function::unmanaged`]).
fn skip_on_unmanaged(out: &mut Introspected) {
    // A call recorded in pg_depend names a function by name and argument types, whatever
    // kind (function, procedure, aggregate) the model holds it as.
    let unmanaged_function = |schema: &Schema, functions: &[ObjectId]| {
        functions.iter().any(|f| {
            let modelled = kinds::function::signature_of(f).is_some_and(|(name, args)| {
                let same = |k: &crate::model::Routine| k.name == *name && k.args == args;
                schema.functions.keys().any(same) || schema.aggregates.keys().any(same)
            });
            !modelled && !kinds::manages(schema, f)
        })
    };
    let reads_unmanaged = |schema: &Schema, relations: &[QualifiedName]| {
        relations
            .iter()
            .any(|r| kinds::relation_kind(schema, r).is_none())
    };
    const READS: &str = "it reads a relation or calls a function reconcile does not manage (yet)";
    loop {
        let routines = kinds::function::unmanaged(&out.schema);
        for (key, reason) in &routines {
            out.schema.functions.remove(key);
            out.schema.aggregates.remove(key);
            out.skipped.push(Skipped {
                object: key.id(),
                reason,
            });
        }
        let schema = &out.schema;
        let mut skipped: Vec<Skipped> = Vec::new();
        for (name, view) in &schema.views {
            if unmanaged_function(schema, &view.functions)
                || reads_unmanaged(schema, &view.relations)
            {
                skipped.push(Skipped {
                    object: ObjectId::View(name.clone()),
                    reason: READS,
                });
            }
        }
        for (name, view) in &schema.materialized_views {
            if unmanaged_function(schema, &view.functions)
                || reads_unmanaged(schema, &view.relations)
            {
                skipped.push(Skipped {
                    object: ObjectId::MaterializedView(name.clone()),
                    reason: READS,
                });
            }
        }
        for (key, trigger) in &schema.triggers {
            let reason = if !schema.tables.contains_key(&key.table)
                && !schema.views.contains_key(&key.table)
            {
                "it is on a relation reconcile does not manage (yet)"
            } else if unmanaged_function(schema, trigger.function.as_slice()) {
                "it runs a function reconcile does not manage (yet)"
            } else {
                continue;
            };
            skipped.push(Skipped {
                object: ObjectId::Trigger {
                    table: key.table.clone(),
                    name: key.name.clone(),
                },
                reason,
            });
        }
        if skipped.is_empty() && routines.is_empty() {
            return;
        }
        for skip in &skipped {
            match &skip.object {
                ObjectId::View(name) => {
                    out.schema.views.remove(name);
                    out.unmanaged_tables.insert(name.clone());
                }
                ObjectId::MaterializedView(name) => {
                    out.schema.materialized_views.remove(name);
                    out.unmanaged_tables.insert(name.clone());
                }
                ObjectId::Trigger { table, name } => {
                    out.schema
                        .triggers
                        .remove(&TriggerKey::new(table.clone(), name.clone()));
                }
                _ => {}
            }
        }
        out.skipped.extend(skipped);
    }
}

fn qualified(schema: String, name: String) -> QualifiedName {
    QualifiedName::new(Ident::from_catalog(schema), Ident::from_catalog(name))
}

/// `CHECK ((VALUE > 0))` → `(VALUE > 0)`, the same text `pg_get_expr` gives for a table check.
fn column(c: rows::ColumnRow) -> Result<Column, IntrospectError> {
    let mut column = Column::new(Ident::from_catalog(c.name), c.data_type);
    column.not_null = c.not_null;
    column.set_collation(c.collation);
    match c.generated.as_str() {
        "s" => column.set_generated(c.default_expr),
        _ => column.default = c.default_expr,
    }
    if !c.identity.is_empty() {
        let options = c
            .seq
            .ok_or_else(|| format!("identity column {} has no sequence", column.name))
            .and_then(|s| s.options())
            .map_err(IntrospectError::Unexpected)?;
        column.set_identity(Some(Identity {
            always: c.identity == "a",
            options,
        }));
    }
    Ok(column)
}

fn action(code: &str) -> FkAction {
    match code {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

fn idents(names: Vec<String>) -> Vec<Ident> {
    names.into_iter().map(Ident::from_catalog).collect()
}

fn constraint(c: rows::ConstraintRow) -> Result<Constraint, IntrospectError> {
    let kind = match c.kind.as_str() {
        "p" => ConstraintKind::PrimaryKey {
            columns: idents(c.columns),
            include: idents(c.include),
        },
        "u" => ConstraintKind::Unique {
            columns: idents(c.columns),
            include: idents(c.include),
            nulls_not_distinct: c.nulls_not_distinct,
        },
        "c" => ConstraintKind::Check {
            expression: c.check_expr.unwrap_or_default(),
            no_inherit: c.no_inherit,
        },
        "f" => ConstraintKind::ForeignKey(ForeignKey {
            columns: idents(c.columns),
            references: qualified(
                c.ref_schema.unwrap_or_default(),
                c.ref_table.unwrap_or_default(),
            ),
            referenced_columns: idents(c.ref_columns),
            on_delete: action(&c.on_delete),
            on_update: action(&c.on_update),
            match_full: c.match_type == "f",
        }),
        "x" => ConstraintKind::Exclusion {
            definition: c.definition.unwrap_or_default(),
        },
        other => {
            return Err(IntrospectError::Unexpected(format!(
                "constraint {} of unknown kind {other}",
                c.name
            )));
        }
    };
    Ok(Constraint {
        kind,
        deferrable: c.deferrable,
        initially_deferred: c.deferred,
    })
}

/// Partitions whose partitioned table was not read (it is in a schema outside the scope, or
/// itself left out) cannot be modelled without it: they are reported instead. The columns of
/// the others are put in their parent's order — a partition attached after being created on
/// its own may list them in another, which PostgreSQL ignores (rows are routed by name).
fn settle_partitions(out: &mut Introspected) {
    loop {
        let orphans: Vec<QualifiedName> = out
            .schema
            .tables
            .iter()
            .filter(|(_, t)| {
                t.partition_of
                    .as_ref()
                    .is_some_and(|p| !out.schema.tables.contains_key(&p.parent))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if orphans.is_empty() {
            break;
        }
        for name in orphans {
            out.schema.tables.remove(&name);
            out.estimated_rows.remove(&name);
            out.skipped.push(Skipped {
                object: ObjectId::Table(name.clone()),
                reason: "its partitioned table is outside the schemas read",
            });
            out.unmanaged_tables.insert(name);
        }
    }
    let orders: Vec<(QualifiedName, Vec<Ident>)> = out
        .schema
        .tables
        .iter()
        .filter_map(|(name, t)| {
            let parent = out.schema.tables.get(&t.partition_of.as_ref()?.parent)?;
            let order: Vec<Ident> = parent.columns.iter().map(|c| c.name.clone()).collect();
            let same = t.columns.iter().map(|c| &c.name).eq(order.iter());
            (!same).then(|| (name.clone(), order))
        })
        .collect();
    for (name, order) in orders {
        if let Some(table) = out.schema.tables.get_mut(&name) {
            table.columns.sort_by_key(|c| {
                order
                    .iter()
                    .position(|o| *o == c.name)
                    .unwrap_or(usize::MAX)
            });
        }
    }
}

/// A foreign key to a table that was skipped (say, an inheritance child) cannot be modelled
/// without its target; it is reported instead.
fn drop_dangling_foreign_keys(out: &mut Introspected) {
    let known: BTreeSet<QualifiedName> = out.schema.tables.keys().cloned().collect();
    let managed: BTreeSet<Ident> = out.schema.schemas.clone();
    for (table_name, table) in &mut out.schema.tables {
        let dangling: Vec<Ident> = table
            .constraints
            .iter()
            .filter(|(_, c)| match &c.kind {
                ConstraintKind::ForeignKey(fk) => {
                    managed.contains(&fk.references.schema) && !known.contains(&fk.references)
                }
                _ => false,
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in dangling {
            table.constraints.remove(&name);
            out.skipped.push(Skipped {
                object: ObjectId::constraint(table_name, &name),
                reason: "it references a table that is not managed yet",
            });
        }
    }
}
