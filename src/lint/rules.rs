//! The rules: what each parsed statement does that a reviewer must know about.
//!
//! The parse tree, not the text, decides — so `DROP TABLE` in a string or a comment is not a
//! drop, and `UPDATE ... WHERE` inside a CTE is still an update. Statements are visited where
//! they run: the queries of a `WITH`, the elements of `CREATE SCHEMA`, what `EXPLAIN ANALYZE`
//! executes, and the statements inside a PL/pgSQL `DO` block (found by
//! [`crate::classify`], which parses the body the way PL/pgSQL does). Bodies of functions made
//! by `CREATE FUNCTION` are *not* inspected: they do not run when the migration runs, and a
//! function that drops things is a design choice to review, not a migration hazard.
//!
//! Many risks depend on the table already holding data. Lint needs no database, so a table
//! counts as existing unless an earlier statement of the files being linted created it.

use std::collections::HashMap;

use pg_query::NodeEnum;
use pg_query::protobuf::{
    self, AlterTableType, ConstrType, DropBehavior, ObjectType, TransactionStmtKind,
    VariableSetKind, a_const,
};

use super::code::Code;
use crate::classify::{self, Kind};
use crate::ident::quote_literal;
use crate::sql::Script;
use crate::sql::names::{self, Name};

/// `anon, PUBLIC`: the roles of a GRANT or REVOKE.
fn role_list(grantees: &[protobuf::Node]) -> String {
    let names: Vec<String> = grantees
        .iter()
        .filter_map(|g| match &g.node {
            Some(NodeEnum::RoleSpec(r)) if !r.rolename.is_empty() => Some(r.rolename.clone()),
            Some(NodeEnum::RoleSpec(r)) => Some(
                match protobuf::RoleSpecType::try_from(r.roletype) {
                    Ok(protobuf::RoleSpecType::RolespecPublic) => "PUBLIC",
                    Ok(protobuf::RoleSpecType::RolespecCurrentRole) => "CURRENT_ROLE",
                    Ok(protobuf::RoleSpecType::RolespecSessionUser) => "SESSION_USER",
                    _ => "CURRENT_USER",
                }
                .to_owned(),
            ),
            _ => None,
        })
        .collect();
    names.join(", ")
}

/// A rule that fired on a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub code: Code,
    pub message: String,
}

/// What stays true from one file to the next: which tables and indexes the linted files
/// create (they are new, so building on them is cheap).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    tables: Names,
    indexes: Names,
    /// Tables created `PARTITION BY` (an index on one cannot be built concurrently).
    partitioned: Names,
    /// Tables given a validated CHECK constraint (which can spare an ATTACH PARTITION its
    /// scan).
    checked: Names,
}

impl Shared {
    fn is_new_table(&self, rv: &protobuf::RangeVar) -> bool {
        rv.relpersistence == "t" || self.tables.contains(&rv.schemaname, &rv.relname)
    }

    fn add_table(&mut self, rv: &protobuf::RangeVar) {
        self.tables.add(&rv.schemaname, &rv.relname);
    }
}

/// Relation names created so far: name → the schemas it was qualified with (`None` when it
/// was not). Hundreds of migration files create thousands of names, so this is a map.
#[derive(Debug, Default)]
struct Names(HashMap<String, Vec<Option<String>>>);

impl Names {
    fn add(&mut self, schema: &str, name: &str) {
        self.0
            .entry(name.to_owned())
            .or_default()
            .push(non_empty(schema));
    }

    /// Unqualified names match a created relation in any schema, and a qualified name matches
    /// one created unqualified: lint does not know the search_path, and guessing "new" keeps
    /// the common `CREATE TABLE t` ... `CREATE INDEX ON app.t` pair quiet.
    fn contains(&self, schema: &str, name: &str) -> bool {
        self.0.get(name).is_some_and(|schemas| {
            schema.is_empty()
                || schemas
                    .iter()
                    .any(|s| s.as_deref().is_none_or(|s| s == schema))
        })
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Per-file state: the transaction the statements run in and the session settings.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    /// `-- reconcile:no-transaction`: the runner does not wrap the file in a transaction.
    pub no_transaction: bool,
    /// Between an explicit BEGIN and COMMIT/ROLLBACK.
    pub explicit_transaction: bool,
    pub lock_timeout: bool,
    pub lock_timeout_reported: bool,
    /// Enum labels added in the current transaction, as SQL literals (`'gold'`).
    pub new_labels: Vec<String>,
}

impl FileState {
    fn transaction(&self) -> Option<&'static str> {
        if self.explicit_transaction {
            Some("it runs between BEGIN and COMMIT")
        } else if !self.no_transaction {
            Some(
                "the migration runner wraps this file in a transaction (it has no \
                 `-- reconcile:no-transaction` header)",
            )
        } else {
            None
        }
    }
}

/// Nesting deeper than this (DO blocks that EXECUTE DO blocks ...) is reported, not followed.
const MAX_DEPTH: usize = 8;

/// Where the statement being visited sits.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    depth: usize,
    in_do: bool,
    in_with: bool,
    in_create_schema: bool,
}

impl Place {
    fn prefix(self) -> &'static str {
        if self.in_do {
            "in a DO block: "
        } else if self.in_with {
            "in a WITH query: "
        } else {
            ""
        }
    }
}

/// Visits one top-level statement and everything it runs.
pub(crate) struct Checker<'s> {
    pub shared: &'s mut Shared,
    pub file: &'s mut FileState,
    pub hits: Vec<Hit>,
}

impl Checker<'_> {
    pub fn statement(&mut self, node: &NodeEnum, text: &str) {
        self.visit(node, text, Place::default());
        let mut seen = Vec::new();
        self.hits.retain(|h| {
            let new = !seen.contains(h);
            seen.push(h.clone());
            new
        });
    }

    fn hit(&mut self, place: Place, code: Code, message: impl AsRef<str>) {
        self.hits.push(Hit {
            code,
            message: format!("{}{}", place.prefix(), message.as_ref()),
        });
    }

    fn in_transaction(&self, place: Place) -> Option<&'static str> {
        if place.in_do {
            Some("DO blocks always run in a transaction")
        } else {
            self.file.transaction()
        }
    }

    fn access_exclusive(&mut self, place: Place, what: &str) {
        if self.file.lock_timeout || self.file.lock_timeout_reported {
            return;
        }
        self.file.lock_timeout_reported = true;
        self.hit(
            place,
            Code::MissingLockTimeout,
            format!(
                "takes an ACCESS EXCLUSIVE lock on {what} with no `SET lock_timeout` earlier in \
                 the file: if the lock waits behind a long query, every read and write of the \
                 table queues behind it (`reconcile migrate apply` sets a lock_timeout; other \
                 ways of running this file may not)"
            ),
        );
    }

    fn not_in_transaction(&mut self, place: Place, what: &str) {
        if let Some(why) = self.in_transaction(place) {
            self.hit(
                place,
                Code::CannotRunInTransaction,
                format!("{what} cannot run inside a transaction block, and {why}"),
            );
        }
    }

    fn visit(&mut self, node: &NodeEnum, text: &str, place: Place) {
        if place.depth > MAX_DEPTH {
            self.hit(
                place,
                Code::Unchecked,
                format!("SQL nested more than {MAX_DEPTH} levels deep is not inspected"),
            );
            return;
        }
        // Sequences and views the files create are new relations too (for their owner).
        match node {
            NodeEnum::CreateSeqStmt(s) if let Some(rel) = &s.sequence => self.shared.add_table(rel),
            NodeEnum::ViewStmt(s) if let Some(rel) = &s.view => self.shared.add_table(rel),
            _ => {}
        }
        match node {
            NodeEnum::DropStmt(s) => self.drop(s, place),
            NodeEnum::DropdbStmt(s) => {
                self.hit(
                    place,
                    Code::DropClusterObject,
                    format!("drops database {}", s.dbname),
                );
                self.not_in_transaction(place, "DROP DATABASE");
            }
            NodeEnum::DropRoleStmt(s) => {
                let names: Vec<String> = s
                    .roles
                    .iter()
                    .filter_map(|r| match &r.node {
                        Some(NodeEnum::RoleSpec(r)) => Some(r.rolename.clone()),
                        _ => None,
                    })
                    .collect();
                self.hit(
                    place,
                    Code::DropClusterObject,
                    format!("drops role {}", names.join(", ")),
                );
            }
            NodeEnum::DropOwnedStmt(_) => self.hit(
                place,
                Code::DropClusterObject,
                "DROP OWNED drops every object the role owns",
            ),
            NodeEnum::DropTableSpaceStmt(s) => self.hit(
                place,
                Code::DropClusterObject,
                format!("drops tablespace {}", s.tablespacename),
            ),
            NodeEnum::DropSubscriptionStmt(s) => self.hit(
                place,
                Code::DropClusterObject,
                format!("drops subscription {}", s.subname),
            ),
            NodeEnum::GrantStmt(s) if !s.is_grant => {
                let what = if s.grant_option {
                    "the grant option of privileges"
                } else {
                    "privileges"
                };
                self.hit(
                    place,
                    Code::Revoke,
                    format!("REVOKE takes {what} from {}", role_list(&s.grantees)),
                );
            }
            NodeEnum::AlterDefaultPrivilegesStmt(s)
                if s.action.as_ref().is_some_and(|a| !a.is_grant) =>
            {
                let grantees = s.action.as_ref().map(|a| role_list(&a.grantees));
                self.hit(
                    place,
                    Code::RevokeDefaultPrivileges,
                    format!(
                        "ALTER DEFAULT PRIVILEGES ... REVOKE: objects created from now on no \
                         longer grant {} what they did",
                        grantees.unwrap_or_default()
                    ),
                );
            }
            NodeEnum::TruncateStmt(s) => {
                let names: Vec<&protobuf::RangeVar> =
                    s.relations.iter().filter_map(range_var).collect();
                let list = names
                    .iter()
                    .map(|r| rel_name(r))
                    .collect::<Vec<_>>()
                    .join(", ");
                let cascade = if s.behavior == DropBehavior::DropCascade as i32 {
                    ", and with CASCADE every table that references them"
                } else {
                    ""
                };
                self.hit(
                    place,
                    Code::Truncate,
                    format!("TRUNCATE deletes every row of {list}{cascade}"),
                );
                if names.iter().any(|r| !self.shared.is_new_table(r)) {
                    self.access_exclusive(place, &format!("table {list}"));
                }
            }
            NodeEnum::DeleteStmt(s) => {
                self.with_clause(s.with_clause.as_ref(), text, place);
                if s.where_clause.is_none() {
                    let table = s.relation.as_ref().map_or_else(String::new, rel_name);
                    self.hit(
                        place,
                        Code::DeleteWithoutWhere,
                        format!("DELETE without WHERE deletes every row of {table}"),
                    );
                }
            }
            NodeEnum::UpdateStmt(s) => {
                self.with_clause(s.with_clause.as_ref(), text, place);
                if s.where_clause.is_none() {
                    let table = s.relation.as_ref().map_or_else(String::new, rel_name);
                    self.hit(
                        place,
                        Code::UpdateWithoutWhere,
                        format!("UPDATE without WHERE changes every row of {table}"),
                    );
                }
            }
            NodeEnum::InsertStmt(s) => {
                self.with_clause(s.with_clause.as_ref(), text, place);
                if let Some(select) = s.select_stmt.as_ref().and_then(|n| n.node.as_ref()) {
                    self.visit(select, text, place);
                }
            }
            NodeEnum::MergeStmt(s) => self.with_clause(s.with_clause.as_ref(), text, place),
            NodeEnum::SelectStmt(s) => self.select(s, text, place),
            NodeEnum::CreateTableAsStmt(s) => {
                if let Some(rel) = s.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    self.shared.add_table(rel);
                }
                if let Some(query) = s.query.as_ref().and_then(|q| q.node.as_ref()) {
                    self.visit(query, text, place);
                }
            }
            NodeEnum::ExplainStmt(s) => {
                let analyze = s.options.iter().any(
                    |o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == "analyze"),
                );
                if analyze && let Some(inner) = s.query.as_ref().and_then(|q| q.node.as_ref()) {
                    self.visit(inner, text, place);
                }
            }
            NodeEnum::AlterTableStmt(s) => {
                self.owner_change(s, place);
                self.alter_table(s, place);
            }
            NodeEnum::AlterOwnerStmt(s) => {
                let object = s
                    .relation
                    .as_ref()
                    .map(rel_name)
                    .or_else(|| s.object.as_deref().map(object_name))
                    .unwrap_or_default();
                let role = s.newowner.as_ref().map(role_name).unwrap_or_default();
                self.hit(
                    place,
                    Code::ChangeOwner,
                    format!("changes the owner of {object} to {role}"),
                );
            }
            NodeEnum::CreatePolicyStmt(s) => {
                let table = s.table.as_ref().map_or_else(String::new, rel_name);
                if s.permissive {
                    self.every_row(place, &s.policy_name, &table, &s.qual, &s.with_check);
                }
                if let Some(rel) = &s.table
                    && !self.shared.is_new_table(rel)
                {
                    self.access_exclusive(place, &format!("table {table}"));
                }
            }
            NodeEnum::AlterPolicyStmt(s) => {
                let table = s.table.as_ref().map_or_else(String::new, rel_name);
                let mut changes = Vec::new();
                if !s.roles.is_empty() {
                    changes.push(format!("the roles become {}", role_list(&s.roles)));
                }
                if s.qual.is_some() {
                    changes.push("USING is replaced".to_owned());
                }
                if s.with_check.is_some() {
                    changes.push("WITH CHECK is replaced".to_owned());
                }
                self.hit(
                    place,
                    Code::AlterPolicy,
                    format!(
                        "alters policy {} on {table} ({}): whether access widens depends on the \
                         definition it replaces, which lint cannot see",
                        s.policy_name,
                        changes.join(", ")
                    ),
                );
                // A permissive or restrictive policy: ALTER POLICY does not say; USING (true)
                // lets every row through either way for a permissive one, the common kind.
                self.every_row(place, &s.policy_name, &table, &s.qual, &s.with_check);
                if let Some(rel) = &s.table
                    && !self.shared.is_new_table(rel)
                {
                    self.access_exclusive(place, &format!("table {table}"));
                }
            }
            NodeEnum::CreateFunctionStmt(s) => {
                let name = Name::strings(&s.funcname).to_string();
                self.security_definer(place, &name, &s.options, false);
            }
            NodeEnum::AlterFunctionStmt(s) => {
                let name = s
                    .func
                    .as_ref()
                    .map(|f| Name::strings(&f.objname).to_string())
                    .unwrap_or_default();
                self.security_definer(place, &name, &s.actions, true);
            }
            NodeEnum::RenameStmt(s) => self.rename(s, place),
            NodeEnum::AlterEnumStmt(s) => {
                let type_name = Name::strings(&s.type_name).to_string();
                if !s.old_val.is_empty() {
                    self.hit(
                        place,
                        Code::Rename,
                        format!(
                            "renames label {} of enum {type_name} to {}",
                            quote_literal(&s.old_val),
                            quote_literal(&s.new_val)
                        ),
                    );
                } else if self.in_transaction(place).is_some() {
                    self.file.new_labels.push(quote_literal(&s.new_val));
                }
            }
            NodeEnum::IndexStmt(s) => self.create_index(s, place),
            NodeEnum::CreateStmt(s) => {
                if let Some(rel) = &s.relation {
                    if !s.if_not_exists && !place.in_do && !place.in_create_schema {
                        self.hit(
                            place,
                            Code::MissingIfNotExists,
                            format!("CREATE TABLE {} without IF NOT EXISTS", rel_name(rel)),
                        );
                    }
                    self.shared.add_table(rel);
                    if s.partspec.is_some() {
                        self.shared.partitioned.add(&rel.schemaname, &rel.relname);
                    }
                }
            }
            NodeEnum::CreateSchemaStmt(s) => {
                if !s.if_not_exists && !place.in_do {
                    self.hit(
                        place,
                        Code::MissingIfNotExists,
                        format!("CREATE SCHEMA {} without IF NOT EXISTS", s.schemaname),
                    );
                }
                let inner = Place {
                    in_create_schema: true,
                    ..place
                };
                for element in &s.schema_elts {
                    if let Some(n) = &element.node {
                        self.visit(n, text, inner);
                    }
                }
            }
            NodeEnum::CreateSeqStmt(s)
                if !s.if_not_exists && !place.in_do && !place.in_create_schema =>
            {
                let name = s.sequence.as_ref().map_or_else(String::new, rel_name);
                self.hit(
                    place,
                    Code::MissingIfNotExists,
                    format!("CREATE SEQUENCE {name} without IF NOT EXISTS"),
                );
            }
            NodeEnum::CreateExtensionStmt(s) if !s.if_not_exists && !place.in_do => {
                self.hit(
                    place,
                    Code::MissingIfNotExists,
                    format!("CREATE EXTENSION {} without IF NOT EXISTS", s.extname),
                );
            }
            NodeEnum::DoStmt(s) => self.do_block(s, text, place),
            NodeEnum::TransactionStmt(s) if !place.in_do => self.transaction(s, place),
            NodeEnum::VariableSetStmt(s) if s.name == "lock_timeout" => {
                self.file.lock_timeout = s.kind == VariableSetKind::VarSetValue as i32
                    && !s.args.first().is_some_and(is_zero);
            }
            NodeEnum::VariableSetStmt(s) if s.kind == VariableSetKind::VarResetAll as i32 => {
                self.file.lock_timeout = false;
            }
            NodeEnum::ReindexStmt(s) => {
                let concurrently = s.params.iter().any(|p| {
                    matches!(&p.node, Some(NodeEnum::DefElem(d)) if d.defname == "concurrently")
                });
                if concurrently {
                    self.not_in_transaction(place, "REINDEX CONCURRENTLY");
                }
            }
            NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => self.not_in_transaction(place, "VACUUM"),
            NodeEnum::CreatedbStmt(_) => self.not_in_transaction(place, "CREATE DATABASE"),
            NodeEnum::AlterSystemStmt(_) => self.not_in_transaction(place, "ALTER SYSTEM"),
            NodeEnum::RefreshMatViewStmt(s) if !s.concurrent => {
                if let Some(rel) = &s.relation
                    && !self.shared.is_new_table(rel)
                {
                    let view = rel_name(rel);
                    if !s.skip_data {
                        self.hit(
                            place,
                            Code::RefreshBlocksReads,
                            format!(
                                "refreshes materialized view {view} without CONCURRENTLY: every \
                                 read of {view} waits until its query has run again"
                            ),
                        );
                    }
                    self.access_exclusive(place, &format!("materialized view {view}"));
                }
            }
            // 8 is AccessExclusiveLock, LOCK TABLE's default.
            NodeEnum::LockStmt(s) if s.mode == 8 => {
                let list: Vec<String> = s
                    .relations
                    .iter()
                    .filter_map(range_var)
                    .map(rel_name)
                    .collect();
                self.access_exclusive(place, &format!("table {}", list.join(", ")));
            }
            NodeEnum::ClusterStmt(s) => {
                let what = s
                    .relation
                    .as_ref()
                    .map_or("every clustered table".into(), |r| {
                        format!("table {}", rel_name(r))
                    });
                self.access_exclusive(place, &what);
            }
            _ => {}
        }
    }

    fn select(&mut self, s: &protobuf::SelectStmt, text: &str, place: Place) {
        self.with_clause(s.with_clause.as_ref(), text, place);
        for side in [&s.larg, &s.rarg].into_iter().flatten() {
            self.select(side, text, place);
        }
        // In PL/pgSQL, `SELECT ... INTO x` assigns a variable; elsewhere it creates a table.
        if let Some(into) = &s.into_clause
            && let Some(rel) = &into.rel
            && !place.in_do
        {
            self.shared.add_table(rel);
        }
    }

    fn with_clause(&mut self, with: Option<&protobuf::WithClause>, text: &str, place: Place) {
        let Some(with) = with else { return };
        let inner = Place {
            in_with: true,
            depth: place.depth + 1,
            ..place
        };
        for cte in &with.ctes {
            if let Some(NodeEnum::CommonTableExpr(cte)) = &cte.node
                && let Some(query) = cte.ctequery.as_ref().and_then(|q| q.node.as_ref())
            {
                self.visit(query, text, inner);
            }
        }
    }

    fn transaction(&mut self, s: &protobuf::TransactionStmt, place: Place) {
        let kind = TransactionStmtKind::try_from(s.kind).unwrap_or(TransactionStmtKind::Undefined);
        let word = match kind {
            TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => {
                self.file.explicit_transaction = true;
                "BEGIN"
            }
            TransactionStmtKind::TransStmtCommit => {
                self.file.explicit_transaction = false;
                self.file.new_labels.clear();
                "COMMIT"
            }
            TransactionStmtKind::TransStmtRollback => {
                self.file.explicit_transaction = false;
                self.file.new_labels.clear();
                "ROLLBACK"
            }
            _ => return,
        };
        if !self.file.no_transaction {
            self.hit(
                place,
                Code::TransactionControl,
                format!(
                    "{word} in a file the migration runner wraps in a transaction: it ends or \
                     nests the runner's transaction"
                ),
            );
        }
    }

    fn drop(&mut self, s: &protobuf::DropStmt, place: Place) {
        let cascade = if s.behavior == DropBehavior::DropCascade as i32 {
            " with CASCADE (also dropping everything that depends on it)"
        } else {
            ""
        };
        let object = ObjectType::try_from(s.remove_type).unwrap_or(ObjectType::Undefined);
        let names: Vec<String> = s.objects.iter().map(object_name).collect();
        let list = names.join(", ");
        let (code, what) = match object {
            ObjectType::ObjectTable => (Code::DropTable, "table"),
            ObjectType::ObjectIndex => (Code::DropIndex, "index"),
            ObjectType::ObjectType => (Code::DropType, "type"),
            ObjectType::ObjectDomain => (Code::DropType, "domain"),
            ObjectType::ObjectSequence => (Code::DropSequence, "sequence"),
            ObjectType::ObjectExtension => (Code::DropExtension, "extension"),
            ObjectType::ObjectSchema => (Code::DropSchema, "schema"),
            ObjectType::ObjectView => (Code::DropOtherObject, "view"),
            ObjectType::ObjectMatview => (Code::DropOtherObject, "materialized view"),
            ObjectType::ObjectForeignTable => (Code::DropOtherObject, "foreign table"),
            ObjectType::ObjectFunction => (Code::DropOtherObject, "function"),
            ObjectType::ObjectProcedure => (Code::DropOtherObject, "procedure"),
            ObjectType::ObjectRoutine => (Code::DropOtherObject, "routine"),
            ObjectType::ObjectTrigger => (Code::DropOtherObject, "trigger"),
            ObjectType::ObjectPolicy => (Code::DropOtherObject, "policy"),
            ObjectType::ObjectRule => (Code::DropOtherObject, "rule"),
            _ => (Code::DropOtherObject, "object"),
        };
        let effect = match code {
            Code::DropTable => " and every row in it",
            Code::DropExtension => " and every object it created",
            _ => "",
        };
        self.hit(place, code, format!("drops {what} {list}{effect}{cascade}"));
        if s.concurrent {
            self.not_in_transaction(place, "DROP INDEX CONCURRENTLY");
        }
        let locks_table = match object {
            ObjectType::ObjectTable => s.objects.iter().any(|o| {
                let (schema, name) = Name::of_object(o).map_or(("", ""), |n| n.schema_and_name());
                !self.shared.tables.contains(schema, name)
            }),
            ObjectType::ObjectIndex if !s.concurrent => s.objects.iter().any(|o| {
                let (schema, name) = Name::of_object(o).map_or(("", ""), |n| n.schema_and_name());
                !self.shared.indexes.contains(schema, name)
            }),
            _ => false,
        };
        if locks_table {
            let target = if object == ObjectType::ObjectIndex {
                format!("the table of index {list}")
            } else {
                format!("table {list}")
            };
            self.access_exclusive(place, &target);
        }
    }

    fn rename(&mut self, s: &protobuf::RenameStmt, place: Place) {
        let object = ObjectType::try_from(s.rename_type).unwrap_or(ObjectType::Undefined);
        let relation = s.relation.as_ref().map(rel_name);
        let old = match (&relation, s.subname.is_empty()) {
            (Some(rel), false) => format!("{rel}.{}", s.subname),
            (Some(rel), true) => rel.clone(),
            (None, false) => s.subname.clone(),
            (None, true) => s.object.as_deref().map(object_name).unwrap_or_default(),
        };
        let what = match object {
            ObjectType::ObjectTable => "table",
            ObjectType::ObjectColumn | ObjectType::ObjectAttribute => "column",
            ObjectType::ObjectTabconstraint | ObjectType::ObjectDomconstraint => "constraint",
            ObjectType::ObjectIndex => "index",
            ObjectType::ObjectSequence => "sequence",
            ObjectType::ObjectView => "view",
            ObjectType::ObjectMatview => "materialized view",
            ObjectType::ObjectSchema => "schema",
            ObjectType::ObjectType => "type",
            ObjectType::ObjectDomain => "domain",
            ObjectType::ObjectFunction | ObjectType::ObjectProcedure => "function",
            _ => "object",
        };
        let old = if object == ObjectType::ObjectTabconstraint {
            format!("{} on {}", s.subname, relation.clone().unwrap_or_default())
        } else {
            old
        };
        self.hit(
            place,
            Code::Rename,
            format!("renames {what} {old} to {}", s.newname),
        );
        let relation_lock = matches!(
            object,
            ObjectType::ObjectTable | ObjectType::ObjectColumn | ObjectType::ObjectTabconstraint
        );
        if relation_lock && let Some(rel) = &s.relation {
            if self.shared.is_new_table(rel) {
                if object == ObjectType::ObjectTable {
                    let mut renamed = rel.clone();
                    renamed.relname = s.newname.clone();
                    self.shared.add_table(&renamed);
                }
            } else {
                self.access_exclusive(place, &format!("table {}", rel_name(rel)));
            }
        }
    }

    fn create_index(&mut self, s: &protobuf::IndexStmt, place: Place) {
        let table = s.relation.as_ref().map_or_else(String::new, rel_name);
        let name = if s.idxname.is_empty() {
            format!("on {table}")
        } else {
            s.idxname.clone()
        };
        let partitioned = s
            .relation
            .as_ref()
            .is_some_and(|r| self.shared.partitioned.contains(&r.schemaname, &r.relname));
        if s.concurrent && partitioned {
            self.hit(
                place,
                Code::PartitionedIndexConcurrently,
                format!(
                    "builds index {name} CONCURRENTLY on partitioned table {table}, which \
                     PostgreSQL refuses (\"cannot create index on partitioned table \
                     concurrently\")"
                ),
            );
        } else if s.concurrent {
            self.not_in_transaction(place, "CREATE INDEX CONCURRENTLY");
        } else if s
            .relation
            .as_ref()
            // `ON ONLY`: the partitioned table's own index, built empty and invalid, to which
            // each partition's concurrently built index is then attached.
            .is_some_and(|r| r.inh && !self.shared.is_new_table(r))
        {
            self.hit(
                place,
                Code::IndexBlocksWrites,
                format!(
                    "builds index {name} on existing table {table} without CONCURRENTLY: writes \
                     to {table} wait until the build finishes"
                ),
            );
        }
        if !s.if_not_exists && !place.in_do && !place.in_create_schema {
            let message = if s.idxname.is_empty() {
                format!(
                    "CREATE INDEX {name} without IF NOT EXISTS (an unnamed index cannot use it: \
                     name the index)"
                )
            } else {
                format!("CREATE INDEX {name} without IF NOT EXISTS")
            };
            self.hit(place, Code::MissingIfNotExists, message);
        }
        if !s.idxname.is_empty() {
            let schema = s.relation.as_ref().map_or("", |r| r.schemaname.as_str());
            self.shared.indexes.add(schema, &s.idxname);
        }
    }

    fn alter_table(&mut self, s: &protobuf::AlterTableStmt, place: Place) {
        let object = ObjectType::try_from(s.objtype).unwrap_or(ObjectType::Undefined);
        let Some(rel) = &s.relation else { return };
        let table = rel_name(rel);
        let composite = object == ObjectType::ObjectType;
        if object != ObjectType::ObjectTable && !composite {
            return;
        }
        let existing = !composite && !self.shared.is_new_table(rel);
        let mut locks = false;
        for cmd in &s.cmds {
            let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node else {
                continue;
            };
            let subtype =
                AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
            let def = cmd.def.as_ref().and_then(|d| d.node.as_ref());
            locks |= takes_access_exclusive(subtype, def);
            let column = format!("{table}.{}", cmd.name);
            match subtype {
                AlterTableType::AtDropColumn => {
                    let what = if composite { "attribute" } else { "column" };
                    self.hit(
                        place,
                        Code::DropColumn,
                        format!("drops {what} {column} and its data"),
                    );
                }
                AlterTableType::AtAlterColumnType if composite => self.hit(
                    place,
                    Code::AlterColumnType,
                    format!(
                        "changes the type of attribute {column}: it fails while a table column \
                         uses the type, and CASCADE rewrites those tables"
                    ),
                ),
                AlterTableType::AtAlterColumnType => self.hit(
                    place,
                    Code::AlterColumnType,
                    format!(
                        "changes the type of column {column}: unless the new type is \
                         binary-compatible, the table is rewritten under ACCESS EXCLUSIVE, and \
                         values that do not convert make it fail"
                    ),
                ),
                _ if composite => {}
                AlterTableType::AtSetNotNull => self.hit(
                    place,
                    Code::SetNotNull,
                    format!(
                        "sets {column} NOT NULL: the whole table is scanned under ACCESS \
                         EXCLUSIVE, and it fails if any row is NULL"
                    ),
                ),
                AlterTableType::AtDropConstraint => self.hit(
                    place,
                    Code::DropConstraint,
                    format!("drops constraint {} on {table}", cmd.name),
                ),
                AlterTableType::AtDisableRowSecurity => self.hit(
                    place,
                    Code::DisableRowLevelSecurity,
                    format!(
                        "disables row-level security on {table}: its policies stop applying, \
                         and every role with privileges on {table} reaches every row"
                    ),
                ),
                AlterTableType::AtNoForceRowSecurity => self.hit(
                    place,
                    Code::DisableRowLevelSecurity,
                    format!(
                        "stops forcing row-level security on {table}: its owner (and what runs \
                         as its owner) reaches every row again"
                    ),
                ),
                AlterTableType::AtDisableTrig
                | AlterTableType::AtDisableTrigAll
                | AlterTableType::AtDisableTrigUser => {
                    let which = match subtype {
                        AlterTableType::AtDisableTrigAll => format!(
                            "every trigger on {table}, including those that enforce its foreign \
                             keys: writes no longer run them"
                        ),
                        AlterTableType::AtDisableTrigUser => {
                            format!("every user trigger on {table}: writes no longer run them")
                        }
                        _ => format!("trigger {} on {table}: writes no longer run it", cmd.name),
                    };
                    self.hit(place, Code::DisableTrigger, format!("disables {which}"));
                }
                AlterTableType::AtDetachPartition => {
                    if let Some(NodeEnum::PartitionCmd(p)) = def {
                        let partition = p.name.as_ref().map_or_else(String::new, rel_name);
                        if p.concurrent {
                            self.not_in_transaction(place, "DETACH PARTITION CONCURRENTLY");
                        } else if existing {
                            self.hit(
                                place,
                                Code::DetachPartitionLocks,
                                format!(
                                    "detaches partition {partition} from {table} without \
                                     CONCURRENTLY: ACCESS EXCLUSIVE on {table} until it \
                                     commits, and the partition's rows leave {table}"
                                ),
                            );
                        }
                    }
                }
                AlterTableType::AtAttachPartition => {
                    if let Some(NodeEnum::PartitionCmd(p)) = def
                        && let Some(partition) = &p.name
                        && existing
                        && !self.shared.is_new_table(partition)
                        && !self
                            .shared
                            .checked
                            .contains(&partition.schemaname, &partition.relname)
                    {
                        let partition = rel_name(partition);
                        self.hit(
                            place,
                            Code::AttachPartitionScans,
                            format!(
                                "attaches existing table {partition} to {table}: every row of \
                                 {partition} is read to check the partition bound, while \
                                 writes to {partition} wait"
                            ),
                        );
                    }
                }
                AlterTableType::AtValidateConstraint => {
                    self.shared.checked.add(&rel.schemaname, &rel.relname);
                }
                AlterTableType::AtAddColumn => {
                    if let Some(NodeEnum::ColumnDef(c)) = def {
                        if !cmd.missing_ok && !place.in_do {
                            self.hit(
                                place,
                                Code::MissingIfNotExists,
                                format!("ADD COLUMN {}.{} without IF NOT EXISTS", table, c.colname),
                            );
                        }
                        if existing {
                            self.add_column(&table, c, place);
                        }
                    }
                }
                AlterTableType::AtAddConstraint => {
                    if let Some(NodeEnum::Constraint(c)) = def {
                        self.add_constraint(&table, c, existing, place);
                        if c.contype == ConstrType::ConstrCheck as i32 && !c.skip_validation {
                            self.shared.checked.add(&rel.schemaname, &rel.relname);
                        }
                    }
                }
                _ => {}
            }
        }
        if existing && locks {
            self.access_exclusive(place, &format!("table {table}"));
        }
    }

    /// `ALTER TABLE/VIEW/SEQUENCE/... OWNER TO` (the `ALTER TABLE` grammar's form) — of a
    /// table the files did not just create: giving a new table its owner takes nothing from
    /// anyone (pg_dump writes one after every CREATE; reconcile plans only that kind).
    fn owner_change(&mut self, s: &protobuf::AlterTableStmt, place: Place) {
        let Some(rel) = &s.relation else { return };
        if self.shared.is_new_table(rel) {
            return;
        }
        for cmd in &s.cmds {
            if let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node
                && cmd.subtype == AlterTableType::AtChangeOwner as i32
            {
                let role = cmd.newowner.as_ref().map(role_name).unwrap_or_default();
                self.hit(
                    place,
                    Code::ChangeOwner,
                    format!("changes the owner of {} to {role}", rel_name(rel)),
                );
            }
        }
    }

    /// A permissive policy whose `USING` or `WITH CHECK` is the constant `true`.
    fn every_row(
        &mut self,
        place: Place,
        policy: &str,
        table: &str,
        using: &Option<Box<protobuf::Node>>,
        check: &Option<Box<protobuf::Node>>,
    ) {
        let which = match (is_true(using), is_true(check)) {
            (true, true) => "USING (true) and WITH CHECK (true)",
            (true, false) => "USING (true)",
            (false, true) => "WITH CHECK (true)",
            (false, false) => return,
        };
        self.hit(
            place,
            Code::PolicyAllowsEveryRow,
            format!(
                "policy {policy} on {table} has {which}: its roles reach every row of {table} \
                 for its command"
            ),
        );
    }

    /// `SECURITY DEFINER` among a function's options with no `SET search_path` beside it.
    fn security_definer(
        &mut self,
        place: Place,
        function: &str,
        options: &[protobuf::Node],
        altered: bool,
    ) {
        let defs = || {
            options.iter().filter_map(|o| match &o.node {
                Some(NodeEnum::DefElem(d)) => Some(d),
                _ => None,
            })
        };
        let definer = defs().any(|d| {
            d.defname == "security"
                && matches!(
                    d.arg.as_deref().and_then(|a| a.node.as_ref()),
                    Some(NodeEnum::Boolean(b)) if b.boolval
                )
        });
        let search_path = defs().any(|d| {
            d.defname == "set"
                && matches!(
                    d.arg.as_deref().and_then(|a| a.node.as_ref()),
                    Some(NodeEnum::VariableSetStmt(v))
                        if v.name == "search_path" && v.kind != VariableSetKind::VarReset as i32
                )
        });
        if definer && !search_path {
            let unless = if altered {
                " (unless it already has one)"
            } else {
                ""
            };
            self.hit(
                place,
                Code::SecurityDefinerSearchPath,
                format!(
                    "function {function} runs as its owner (SECURITY DEFINER) without SET \
                     search_path{unless}: a caller who can create objects in a schema on its \
                     search_path can make it run their code with the owner's rights"
                ),
            );
        }
    }

    fn add_column(&mut self, table: &str, c: &protobuf::ColumnDef, place: Place) {
        let column = format!("{table}.{}", c.colname);
        let mut not_null = c.is_not_null;
        let mut default = None;
        let mut generates = None;
        let mut index = None;
        for constraint in &c.constraints {
            let Some(NodeEnum::Constraint(k)) = &constraint.node else {
                continue;
            };
            match ConstrType::try_from(k.contype) {
                Ok(ConstrType::ConstrNotnull) => not_null = true,
                Ok(ConstrType::ConstrDefault) => default = k.raw_expr.as_deref(),
                Ok(ConstrType::ConstrIdentity) => generates = Some("an identity column"),
                // PostgreSQL 18 makes virtual the default; only stored columns are written.
                Ok(ConstrType::ConstrGenerated) if k.generated_kind != "v" => {
                    generates = Some("a stored generated column");
                }
                Ok(ConstrType::ConstrPrimary) => {
                    not_null = true;
                    index = Some("PRIMARY KEY");
                }
                Ok(ConstrType::ConstrUnique) => index = Some("UNIQUE"),
                _ => {}
            }
        }
        let type_name = c
            .type_name
            .as_ref()
            .and_then(|t| t.names.last())
            .and_then(string_value)
            .unwrap_or_default();
        if matches!(
            type_name.as_str(),
            "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
        ) {
            generates = Some("a serial column (a nextval default)");
        }
        if let Some(kind) = generates {
            self.hit(
                place,
                Code::RewritesTable,
                format!(
                    "adds {kind} {column} to existing table {table}: every row is written, so \
                     the table is rewritten under ACCESS EXCLUSIVE"
                ),
            );
        } else if let Some(function) = default.and_then(volatile_call) {
            self.hit(
                place,
                Code::RewritesTable,
                format!(
                    "adds column {column} with the volatile default {function}() to existing \
                     table {table}: each row gets its own value, so the table is rewritten under \
                     ACCESS EXCLUSIVE"
                ),
            );
        }
        if not_null && default.is_none() && generates.is_none() {
            self.hit(
                place,
                Code::NotNullWithoutDefault,
                format!(
                    "adds NOT NULL column {column} without a default to existing table {table}: \
                     it fails unless the table is empty"
                ),
            );
        }
        if let Some(kind) = index {
            self.hit(
                place,
                Code::IndexBuiltUnderLock,
                format!(
                    "adds {kind} column {column} to existing table {table}: its index is built \
                     while holding ACCESS EXCLUSIVE"
                ),
            );
        }
    }

    fn add_constraint(
        &mut self,
        table: &str,
        c: &protobuf::Constraint,
        existing: bool,
        place: Place,
    ) {
        let name = if c.conname.is_empty() {
            String::new()
        } else {
            format!(" {}", c.conname)
        };
        match ConstrType::try_from(c.contype) {
            Ok(ConstrType::ConstrNotnull) if !c.skip_validation => self.hit(
                place,
                Code::SetNotNull,
                format!(
                    "adds NOT NULL constraint{name} on {table}: the whole table is scanned under \
                     ACCESS EXCLUSIVE, and it fails if any row is NULL"
                ),
            ),
            Ok(kind @ (ConstrType::ConstrForeign | ConstrType::ConstrCheck))
                if existing && !c.skip_validation =>
            {
                let (what, lock) = if kind == ConstrType::ConstrForeign {
                    (
                        "FOREIGN KEY",
                        "SHARE ROW EXCLUSIVE on both tables (writes to either wait)",
                    )
                } else {
                    ("CHECK", "ACCESS EXCLUSIVE")
                };
                self.hit(
                    place,
                    Code::ValidatesUnderLock,
                    format!(
                        "adds {what} constraint{name} to existing table {table} without NOT \
                         VALID: every row is checked while holding {lock}"
                    ),
                );
            }
            Ok(kind @ (ConstrType::ConstrPrimary | ConstrType::ConstrUnique))
                if existing && c.indexname.is_empty() =>
            {
                let what = if kind == ConstrType::ConstrPrimary {
                    "PRIMARY KEY"
                } else {
                    "UNIQUE"
                };
                self.hit(
                    place,
                    Code::IndexBuiltUnderLock,
                    format!(
                        "adds {what} constraint{name} to existing table {table}: its index is \
                         built while holding ACCESS EXCLUSIVE"
                    ),
                );
            }
            Ok(ConstrType::ConstrExclusion) if existing => self.hit(
                place,
                Code::IndexBuiltUnderLock,
                format!(
                    "adds EXCLUDE constraint{name} to existing table {table}: its index is \
                     built while holding ACCESS EXCLUSIVE"
                ),
            ),
            _ => {}
        }
    }

    fn do_block(&mut self, s: &protobuf::DoStmt, text: &str, place: Place) {
        let language = s
            .args
            .iter()
            .find_map(|a| match &a.node {
                Some(NodeEnum::DefElem(d)) if d.defname == "language" => {
                    d.arg.as_deref().and_then(string_value)
                }
                _ => None,
            })
            .unwrap_or_else(|| "plpgsql".to_owned());
        let inner = Place {
            in_do: true,
            depth: place.depth + 1,
            ..place
        };
        if language != "plpgsql" {
            self.hit(
                place,
                Code::Unchecked,
                format!("the body of this DO block (language {language}) is not inspected"),
            );
            return;
        }
        let body = match classify::classify(text) {
            Ok(stmts) => stmts
                .into_iter()
                .next()
                .map(|s| s.nested)
                .unwrap_or_default(),
            Err(e) => {
                let why = match e {
                    classify::ClassifyError::Body { message, .. }
                    | classify::ClassifyError::Syntax { message } => message,
                };
                let why = why.strip_prefix("Invalid statement: ").unwrap_or(&why);
                self.hit(
                    place,
                    Code::Unchecked,
                    format!("the body of this DO block could not be inspected: {why}"),
                );
                return;
            }
        };
        for statement in &body {
            match &statement.kind {
                Kind::DynamicSql => self.hit(
                    inner,
                    Code::Unchecked,
                    format!(
                        "EXECUTE of SQL computed at run time: {}",
                        first_line(&statement.text)
                    ),
                ),
                Kind::Transaction(_) => {}
                Kind::Select if statement.nested.is_empty() => {}
                _ => self.embedded(&statement.text, inner),
            }
        }
    }

    /// A statement PL/pgSQL runs, by its text (or an expression, as `SELECT <expr>`).
    fn embedded(&mut self, text: &str, place: Place) {
        let as_select = format!("SELECT {text}");
        for sql in [text, as_select.as_str()] {
            if let Ok(script) = Script::parse(sql) {
                for s in script.statements() {
                    self.visit(s.node, s.text, place);
                }
                return;
            }
        }
    }
}

/// Whether an `ALTER TABLE` subcommand takes ACCESS EXCLUSIVE (PostgreSQL documents the
/// weaker ones; everything else takes the strongest lock).
fn takes_access_exclusive(subtype: AlterTableType, def: Option<&NodeEnum>) -> bool {
    use AlterTableType as T;
    match subtype {
        T::AtValidateConstraint
        | T::AtSetStatistics
        | T::AtClusterOn
        | T::AtDropCluster
        | T::AtSetRelOptions
        | T::AtResetRelOptions
        | T::AtReplaceRelOptions
        | T::AtEnableTrig
        | T::AtEnableAlwaysTrig
        | T::AtEnableReplicaTrig
        | T::AtEnableTrigAll
        | T::AtEnableTrigUser
        | T::AtDisableTrig
        | T::AtDisableTrigAll
        | T::AtDisableTrigUser
        | T::AtAttachPartition
        | T::AtDetachPartitionFinalize => false,
        T::AtAddConstraint => !matches!(
            def,
            Some(NodeEnum::Constraint(c)) if c.contype == ConstrType::ConstrForeign as i32
        ),
        _ => true,
    }
}

/// Functions whose value differs per row, so a default calling one must be written into every
/// existing row. `now()` and `current_timestamp` are stable (one value per transaction) and
/// PostgreSQL 11+ stores them without a rewrite. Functions not listed here are assumed safe.
const VOLATILE: [&str; 12] = [
    "random",
    "random_normal",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setseed",
];

fn volatile_call(expr: &protobuf::Node) -> Option<String> {
    let node = expr.node.as_ref()?;
    node.nodes().into_iter().find_map(|(n, ..)| match n {
        pg_query::NodeRef::FuncCall(f) => {
            let name = f.funcname.last().and_then(string_value)?;
            VOLATILE.contains(&name.as_str()).then_some(name)
        }
        _ => None,
    })
}

fn is_zero(arg: &protobuf::Node) -> bool {
    match &arg.node {
        Some(NodeEnum::AConst(c)) => match &c.val {
            Some(a_const::Val::Ival(i)) => i.ival == 0,
            Some(a_const::Val::Sval(s)) => {
                let v = s.sval.trim();
                v.trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim() == "0"
            }
            _ => false,
        },
        _ => false,
    }
}

fn range_var(node: &protobuf::Node) -> Option<&protobuf::RangeVar> {
    match &node.node {
        Some(NodeEnum::RangeVar(r)) => Some(r),
        _ => None,
    }
}

/// A relation's name as written, for messages.
fn rel_name(rv: &protobuf::RangeVar) -> String {
    Name::of_relation(rv).map_or_else(String::new, |n| n.to_string())
}

fn string_value(node: &protobuf::Node) -> Option<String> {
    names::string(node).map(str::to_owned)
}

/// A dropped object's name as written: `schema.table`, a type, `f(int)`, `trigger on table`.
fn object_name(node: &protobuf::Node) -> String {
    Name::of_object(node).map_or_else(|| "?".to_owned(), |n| n.to_string())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// Whether a policy clause is the constant `true`.
fn is_true(clause: &Option<Box<protobuf::Node>>) -> bool {
    matches!(
        clause.as_deref().and_then(|n| n.node.as_ref()),
        Some(NodeEnum::AConst(c)) if matches!(&c.val, Some(a_const::Val::Boolval(b)) if b.boolval)
    )
}

/// A role as written (`PUBLIC`, `CURRENT_USER`, or its name).
fn role_name(role: &protobuf::RoleSpec) -> String {
    role_list(&[protobuf::Node {
        node: Some(NodeEnum::RoleSpec(role.clone())),
    }])
}
