//! What a SQL statement does, according to the real PostgreSQL parser.
//!
//! reconcile promises never to execute a destructive statement. The planner keeps that promise
//! by construction (only additive [`crate::diff::Change`]s become steps), and this module is the
//! independent check: it parses SQL with libpg_query (the server's own grammar, via the
//! `pg_query` crate), names what each statement does at the granularity a reviewer cares about
//! ([`Kind`]), and says whether that is on the additive allow-list
//! ([`Kind::is_additive`], [`Statement::is_plannable`]). The safety property test runs every
//! planned step and every rendered script through it, and `reconcile lint` builds on the same
//! classification for hand-written migrations.
//!
//! Text matching would not do: a `DO` block is one statement whose body can hide any number of
//! others. So a `DO` block's PL/pgSQL body is parsed too (as the body of a throwaway function,
//! with `pg_query::parse_plpgsql`), and every SQL query embedded in it — statements, `IF`
//! conditions, loop queries, assignments — is parsed and classified again, as the
//! [`Statement::nested`] statements of the block. The same goes for the data-modifying parts of
//! a `WITH` query, the elements of `CREATE SCHEMA ... CREATE TABLE ...` and the statement an
//! `EXPLAIN ANALYZE` runs. A dynamic `EXECUTE` whose text is a constant string is classified
//! like any statement; one whose text is computed at run time cannot be known here and becomes
//! [`Kind::DynamicSql`], which is never additive.
//!
//! Limits: functions called by a query (`SELECT f()`) are not followed, and the bodies of
//! functions created by `CREATE FUNCTION` are not inspected (creating one is not additive here
//! anyway).

use pg_query::NodeEnum;
use pg_query::protobuf::{
    self, AlterTableType, ConstrType, DropBehavior, ObjectType, TransactionStmtKind,
    VariableSetKind,
};
use serde::Serialize;
use serde_json::Value;

use crate::ident::quote_literal;
use crate::sql::Script;

/// One statement and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub kind: Kind,
    /// The statement's text, trimmed, without the terminating semicolon.
    pub text: String,
    /// Byte offset of the statement in the text given to [`classify`]. Nested statements carry
    /// the offset of the top-level statement that contains them.
    pub location: usize,
    /// Statements this one runs (or may run) as part of itself: the SQL inside a `DO` block,
    /// including conditions and loop queries (statement lists in body order); the queries of a
    /// `WITH`; the elements of a `CREATE SCHEMA`; the statement an `EXPLAIN` explains.
    pub nested: Vec<Statement>,
}

impl Statement {
    fn new(kind: Kind, text: &str, location: usize) -> Self {
        Self {
            kind,
            text: text.to_owned(),
            location,
            nested: Vec::new(),
        }
    }

    /// Whether the statement and everything it runs is on the allow-list of what a plan may
    /// run: additive statements ([`Kind::is_additive`]) and replaces ([`Kind::is_replace`]).
    pub fn is_plannable(&self) -> bool {
        self.violations().is_empty()
    }

    /// The statements — this one or nested ones — whose own kind a plan may not run, in
    /// execution order. Empty when [`Statement::is_plannable`].
    pub fn violations(&self) -> Vec<&Statement> {
        let mut out = Vec::new();
        self.collect_violations(&mut out);
        out
    }

    fn collect_violations<'a>(&'a self, out: &mut Vec<&'a Statement>) {
        if !self.kind.is_plannable() {
            out.push(self);
        }
        for n in &self.nested {
            n.collect_violations(out);
        }
    }

    /// This statement followed by all nested ones, depth first.
    pub fn flatten(&self) -> Vec<&Statement> {
        let mut out = vec![self];
        for n in &self.nested {
            out.extend(n.flatten());
        }
        out
    }
}

/// What a statement does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CreateSchema {
        if_not_exists: bool,
    },
    CreateExtension {
        if_not_exists: bool,
    },
    CreateType {
        of: TypeKind,
    },
    /// `ALTER TYPE ... ADD VALUE`.
    AlterEnumAddValue {
        if_not_exists: bool,
    },
    /// `ALTER TYPE ... RENAME VALUE`.
    AlterEnumRenameValue,
    CreateDomain,
    CreateSequence {
        if_not_exists: bool,
    },
    /// `ALTER SEQUENCE ... OWNED BY ...` and nothing else.
    AlterSequenceOwnedBy,
    /// Any other `ALTER SEQUENCE` (`RESTART`, `INCREMENT`, `AS`, ...).
    AlterSequence,
    CreateTable {
        if_not_exists: bool,
    },
    /// `CREATE TABLE ... AS`, `SELECT ... INTO`.
    CreateTableAs,
    /// `CREATE MATERIALIZED VIEW` (runs its query once, into a new relation).
    CreateMaterializedView {
        if_not_exists: bool,
    },
    CreateView {
        or_replace: bool,
    },
    /// `CREATE [OR REPLACE] FUNCTION | PROCEDURE`.
    CreateFunction {
        or_replace: bool,
    },
    CreateAggregate {
        or_replace: bool,
    },
    CreateTrigger {
        or_replace: bool,
    },
    CreatePolicy,
    AlterPolicy,
    /// `COMMENT ON ...`: setting or changing a comment, or — `IS NULL` or `IS ''` — removing
    /// it (which a plan never does: a comment the desired state lacks is a finding).
    Comment {
        removes: bool,
    },
    CreateIndex {
        concurrently: bool,
        unique: bool,
        if_not_exists: bool,
    },
    /// `ALTER TABLE` (and `ALTER INDEX`/`VIEW`/`TYPE`/... forms that share its grammar), with
    /// one action per subcommand.
    AlterTable {
        object: Object,
        actions: Vec<AlterTableAction>,
    },
    /// Any `ALTER ... RENAME`.
    Rename {
        object: Object,
    },
    /// Any `DROP ...` (also `DROP DATABASE`, `DROP ROLE`, `DROP OWNED`).
    Drop {
        object: Object,
        concurrently: bool,
        cascade: bool,
    },
    Truncate,
    Delete {
        has_where: bool,
    },
    Update {
        has_where: bool,
    },
    Insert,
    Merge,
    /// A query, including the expressions PL/pgSQL evaluates as queries.
    Select,
    /// A `DO` block; what its body runs is in [`Statement::nested`]. Only PL/pgSQL bodies can
    /// be inspected.
    Do {
        language: String,
    },
    /// An `EXECUTE` in PL/pgSQL whose text is computed at run time.
    DynamicSql,
    Explain {
        analyze: bool,
    },
    Transaction(TransactionKind),
    /// `SET name ...` (also `SET LOCAL`, `SET TIME ZONE`, `SET TRANSACTION`, `SET ROLE`).
    Set {
        name: String,
    },
    /// `RESET name`, `RESET ALL` (name `all`).
    Reset {
        name: String,
    },
    /// `GRANT privileges ON objects TO roles` (role membership, `GRANT role TO role`, is
    /// [`Kind::Other`]).
    Grant,
    /// `REVOKE privileges ON objects FROM roles`, `REVOKE GRANT OPTION FOR` included.
    Revoke,
    /// `ALTER DEFAULT PRIVILEGES ... GRANT` (`grant`) or `... REVOKE`.
    AlterDefaultPrivileges {
        grant: bool,
    },
    /// `ALTER ... OWNER TO` (a table, sequence, schema, type, domain, function, ...).
    AlterOwner {
        object: Object,
    },
    /// Anything else, by the parser's node name (`CreateFunctionStmt`, `GrantStmt`, ...).
    Other(String),
}

impl Kind {
    /// The allow-list of statements that only add to a database: creating schemas,
    /// extensions, types, domains, sequences, tables (also `PARTITION OF` a partitioned table)
    /// and indexes; adding enum labels, columns and constraints; validating constraints;
    /// enabling row-level security; attaching a sequence to its column; attaching a
    /// partition's index to its partitioned table's (`ALTER INDEX ... ATTACH PARTITION`);
    /// granting privileges (also by default privileges); plain queries; and PL/pgSQL `DO`
    /// blocks (whose nested statements [`Statement::is_plannable`] checks too). Attaching or
    /// detaching a *table* as a partition is not on it.
    ///
    /// `ALTER ... OWNER TO` is not on the list: it destroys nothing, but takes the previous
    /// owner's privileges with it. reconcile plans it only right after creating the object
    /// (whose previous owner is the role applying the plan), and a plan file may carry it only
    /// there (see `apply::planfile`).
    ///
    /// Everything else is not additive — dropping, truncating, deleting, updating, inserting,
    /// renaming, retyping, changing nullability or defaults, revoking privileges, dynamic
    /// SQL, `SET` and transaction control (see [`Kind::is_session_control`] for scripts) —
    /// including every statement this module does not know.
    pub fn is_additive(&self) -> bool {
        match self {
            Kind::CreateSchema { .. }
            | Kind::CreateExtension { .. }
            | Kind::CreateType { .. }
            | Kind::AlterEnumAddValue { .. }
            | Kind::CreateDomain
            | Kind::CreateSequence { .. }
            | Kind::AlterSequenceOwnedBy
            | Kind::CreateTable { .. }
            | Kind::CreateIndex { .. }
            | Kind::Grant
            | Kind::CreateMaterializedView { .. }
            | Kind::CreateView { or_replace: false }
            | Kind::CreateFunction { or_replace: false }
            | Kind::CreateAggregate { or_replace: false }
            | Kind::CreateTrigger { or_replace: false }
            | Kind::CreatePolicy
            | Kind::Select => true,
            Kind::AlterDefaultPrivileges { grant } => *grant,
            Kind::AlterTable { object, actions } => match object {
                Object::Table => {
                    !actions.is_empty() && actions.iter().all(AlterTableAction::is_additive)
                }
                // A partition's index becoming part of its partitioned table's index.
                Object::Index => actions.as_slice() == [AlterTableAction::AttachPartition],
                _ => false,
            },
            Kind::Do { language } => language == "plpgsql",
            Kind::AlterEnumRenameValue
            | Kind::CreateView { or_replace: true }
            | Kind::CreateFunction { or_replace: true }
            | Kind::CreateAggregate { or_replace: true }
            | Kind::CreateTrigger { or_replace: true }
            | Kind::AlterPolicy
            | Kind::Comment { .. }
            | Kind::AlterSequence
            | Kind::CreateTableAs
            | Kind::Rename { .. }
            | Kind::Drop { .. }
            | Kind::Truncate
            | Kind::Delete { .. }
            | Kind::Update { .. }
            | Kind::Insert
            | Kind::Merge
            | Kind::DynamicSql
            | Kind::Explain { .. }
            | Kind::Transaction(_)
            | Kind::Set { .. }
            | Kind::Reset { .. }
            | Kind::Revoke
            | Kind::AlterOwner { .. }
            | Kind::Other(_) => false,
        }
    }

    /// The statements that swap a definition in place, which plans may run as *replace*
    /// steps: `CREATE OR REPLACE` of a view, function, procedure, aggregate or trigger,
    /// `ALTER POLICY`, `COMMENT ON`, and `ALTER TABLE ... ENABLE/DISABLE [REPLICA | ALWAYS]
    /// TRIGGER name` (when one trigger fires). Never a DROP, and never a table, a type or data.
    pub fn is_replace(&self) -> bool {
        match self {
            Kind::CreateView { or_replace: true }
            | Kind::CreateFunction { or_replace: true }
            | Kind::CreateAggregate { or_replace: true }
            | Kind::CreateTrigger { or_replace: true }
            | Kind::AlterPolicy
            | Kind::Comment { removes: false } => true,
            Kind::AlterTable { object, actions } => {
                *object == Object::Table
                    && !actions.is_empty()
                    && actions
                        .iter()
                        .all(|a| *a == AlterTableAction::TriggerFiring)
            }
            _ => false,
        }
    }

    /// What a plan may run: additive statements and replaces.
    pub fn is_plannable(&self) -> bool {
        self.is_additive() || self.is_replace()
    }

    /// What a script may run besides additive statements: `SET` and `BEGIN`/`COMMIT`.
    pub fn is_session_control(&self) -> bool {
        matches!(
            self,
            Kind::Set { .. } | Kind::Transaction(TransactionKind::Begin | TransactionKind::Commit)
        )
    }
}

/// What `CREATE TYPE` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    Enum,
    Composite,
    Range,
    /// A base or shell type (`CREATE TYPE t (INPUT = ...)`, `CREATE TYPE t`).
    Base,
}

/// One subcommand of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlterTableAction {
    AddColumn {
        if_not_exists: bool,
    },
    AddConstraint {
        constraint: ConstraintType,
        /// `NOT VALID`: existing rows are not checked.
        not_valid: bool,
    },
    /// `ADD CONSTRAINT ... PRIMARY KEY | UNIQUE USING INDEX`.
    AddConstraintUsingIndex {
        constraint: ConstraintType,
    },
    ValidateConstraint,
    EnableRowLevelSecurity,
    ForceRowLevelSecurity,
    DisableRowLevelSecurity,
    NoForceRowLevelSecurity,
    DropColumn,
    AlterColumnType,
    SetNotNull,
    DropNotNull,
    SetDefault,
    DropDefault,
    DropConstraint,
    /// `ALTER CONSTRAINT` (deferrability, enforcement, inheritance).
    AlterConstraint,
    AddIdentity,
    SetIdentity,
    DropIdentity,
    SetExpression,
    DropExpression,
    AttachPartition,
    DetachPartition,
    /// `ENABLE [REPLICA | ALWAYS] TRIGGER name`, `DISABLE TRIGGER name`: when one trigger
    /// fires (not `ALL` or `USER`, which reach the server's own triggers too).
    TriggerFiring,
    /// Anything else, by the parser's subcommand name (`AT_SetStatistics`, ...).
    Other(String),
}

impl AlterTableAction {
    /// Adding a column or constraint, validating a constraint, enabling or forcing row-level
    /// security.
    pub fn is_additive(&self) -> bool {
        matches!(
            self,
            AlterTableAction::AddColumn { .. }
                | AlterTableAction::AddConstraint { .. }
                | AlterTableAction::AddConstraintUsingIndex { .. }
                | AlterTableAction::ValidateConstraint
                | AlterTableAction::EnableRowLevelSecurity
                | AlterTableAction::ForceRowLevelSecurity
        )
    }
}

/// The kind of a table constraint being added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintType {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
    NotNull,
    Other(String),
}

/// The object a `DROP`, `RENAME` or `ALTER TABLE`-style statement acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    Table,
    Column,
    Constraint,
    Index,
    Sequence,
    View,
    MaterializedView,
    ForeignTable,
    Type,
    Domain,
    Schema,
    Extension,
    Function,
    Procedure,
    Trigger,
    Policy,
    Database,
    Role,
    /// Anything else, by the parser's object type name (`OBJECT_TABLESPACE`, ...), or
    /// `OWNED` for `DROP OWNED`.
    Other(String),
}

impl Object {
    fn from_parser(object: i32) -> Self {
        let Ok(object) = ObjectType::try_from(object) else {
            return Object::Other(format!("unknown object type {object}"));
        };
        match object {
            ObjectType::ObjectTable => Object::Table,
            ObjectType::ObjectColumn => Object::Column,
            ObjectType::ObjectTabconstraint | ObjectType::ObjectDomconstraint => Object::Constraint,
            ObjectType::ObjectIndex => Object::Index,
            ObjectType::ObjectSequence => Object::Sequence,
            ObjectType::ObjectView => Object::View,
            ObjectType::ObjectMatview => Object::MaterializedView,
            ObjectType::ObjectForeignTable => Object::ForeignTable,
            ObjectType::ObjectType => Object::Type,
            ObjectType::ObjectDomain => Object::Domain,
            ObjectType::ObjectSchema => Object::Schema,
            ObjectType::ObjectExtension => Object::Extension,
            ObjectType::ObjectFunction => Object::Function,
            ObjectType::ObjectProcedure => Object::Procedure,
            ObjectType::ObjectTrigger => Object::Trigger,
            ObjectType::ObjectPolicy => Object::Policy,
            ObjectType::ObjectDatabase => Object::Database,
            ObjectType::ObjectRole => Object::Role,
            other => Object::Other(other.as_str_name().to_owned()),
        }
    }
}

/// Transaction control statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// `BEGIN` or `START TRANSACTION`.
    Begin,
    /// `COMMIT` (or `END`).
    Commit,
    Rollback,
    Savepoint,
    Release,
    RollbackTo,
    /// `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED`.
    TwoPhase,
}

/// Why SQL could not be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("SQL does not parse: {message}")]
    Syntax { message: String },
    #[error("the body of the DO block at byte {location} does not parse: {message}")]
    Body { location: usize, message: String },
}

/// Parses `sql` (any number of statements) and classifies each top-level statement, with
/// the statements it runs nested in it.
pub fn classify(sql: &str) -> Result<Vec<Statement>, ClassifyError> {
    let script = Script::parse(sql).map_err(|e| ClassifyError::Syntax {
        message: e.to_string(),
    })?;
    classify_script(&script, None)
}

/// [`classify`] of one statement of a [`Script`] already parsed, as if its text were given
/// alone (its location is 0): the text is not parsed again.
pub fn classify_parsed(
    statement: &crate::sql::split::Statement,
) -> Result<Statement, ClassifyError> {
    self::statement(statement.node, statement.text, 0)
}

/// Classifies the statements of a parsed text; `within` is the location of an enclosing
/// top-level statement (for text embedded in a DO block).
fn classify_script(
    script: &Script,
    within: Option<usize>,
) -> Result<Vec<Statement>, ClassifyError> {
    let statements = script.statements();
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        out.push(statement(s.node, s.text, within.unwrap_or(s.start))?);
    }
    Ok(out)
}

fn drop_cascades(behavior: i32) -> bool {
    behavior == DropBehavior::DropCascade as i32
}

/// The parser's name for a node, e.g. `CreateFunctionStmt`.
fn node_name(node: &NodeEnum) -> String {
    let debug = format!("{node:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn statement(node: &NodeEnum, text: &str, location: usize) -> Result<Statement, ClassifyError> {
    let mut nested = Vec::new();
    let kind = match node {
        NodeEnum::CreateSchemaStmt(s) => {
            for element in &s.schema_elts {
                if let Some(n) = &element.node {
                    nested.push(statement(n, text, location)?);
                }
            }
            Kind::CreateSchema {
                if_not_exists: s.if_not_exists,
            }
        }
        NodeEnum::CreateExtensionStmt(s) => Kind::CreateExtension {
            if_not_exists: s.if_not_exists,
        },
        NodeEnum::CreateEnumStmt(_) => Kind::CreateType { of: TypeKind::Enum },
        NodeEnum::CompositeTypeStmt(_) => Kind::CreateType {
            of: TypeKind::Composite,
        },
        NodeEnum::CreateRangeStmt(_) => Kind::CreateType {
            of: TypeKind::Range,
        },
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectType as i32 => {
            Kind::CreateType { of: TypeKind::Base }
        }
        NodeEnum::AlterEnumStmt(s) => {
            if s.old_val.is_empty() {
                Kind::AlterEnumAddValue {
                    if_not_exists: s.skip_if_new_val_exists,
                }
            } else {
                Kind::AlterEnumRenameValue
            }
        }
        NodeEnum::CreateDomainStmt(_) => Kind::CreateDomain,
        NodeEnum::CreateSeqStmt(s) => Kind::CreateSequence {
            if_not_exists: s.if_not_exists,
        },
        NodeEnum::AlterSeqStmt(s) => {
            let only_owned_by = !s.options.is_empty()
                && s.options.iter().all(
                    |o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == "owned_by"),
                );
            if only_owned_by {
                Kind::AlterSequenceOwnedBy
            } else {
                Kind::AlterSequence
            }
        }
        NodeEnum::CreateStmt(s) => Kind::CreateTable {
            if_not_exists: s.if_not_exists,
        },
        NodeEnum::CreateTableAsStmt(s) if s.objtype == ObjectType::ObjectMatview as i32 => {
            Kind::CreateMaterializedView {
                if_not_exists: s.if_not_exists,
            }
        }
        NodeEnum::CreateTableAsStmt(_) => Kind::CreateTableAs,
        NodeEnum::ViewStmt(s) => Kind::CreateView {
            or_replace: s.replace,
        },
        NodeEnum::CreateFunctionStmt(s) => Kind::CreateFunction {
            or_replace: s.replace,
        },
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectAggregate as i32 => {
            Kind::CreateAggregate {
                or_replace: s.replace,
            }
        }
        NodeEnum::CreateTrigStmt(s) => Kind::CreateTrigger {
            or_replace: s.replace,
        },
        NodeEnum::CreatePolicyStmt(_) => Kind::CreatePolicy,
        NodeEnum::AlterPolicyStmt(_) => Kind::AlterPolicy,
        NodeEnum::CommentStmt(s) => Kind::Comment {
            removes: s.comment.is_empty(),
        },
        NodeEnum::IndexStmt(s) => Kind::CreateIndex {
            concurrently: s.concurrent,
            unique: s.unique,
            if_not_exists: s.if_not_exists,
        },
        NodeEnum::AlterTableStmt(s) if changes_owner_only(s) => Kind::AlterOwner {
            object: Object::from_parser(s.objtype),
        },
        NodeEnum::AlterOwnerStmt(s) => Kind::AlterOwner {
            object: Object::from_parser(s.object_type),
        },
        NodeEnum::GrantStmt(s) if s.is_grant => Kind::Grant,
        NodeEnum::GrantStmt(_) => Kind::Revoke,
        NodeEnum::AlterDefaultPrivilegesStmt(s) => Kind::AlterDefaultPrivileges {
            grant: s.action.as_ref().is_some_and(|a| a.is_grant),
        },
        NodeEnum::AlterTableStmt(s) => Kind::AlterTable {
            object: Object::from_parser(s.objtype),
            actions: s
                .cmds
                .iter()
                .filter_map(|c| match &c.node {
                    Some(NodeEnum::AlterTableCmd(cmd)) => Some(alter_table_action(cmd)),
                    _ => None,
                })
                .collect(),
        },
        NodeEnum::RenameStmt(s) => Kind::Rename {
            object: Object::from_parser(s.rename_type),
        },
        NodeEnum::DropStmt(s) => Kind::Drop {
            object: Object::from_parser(s.remove_type),
            concurrently: s.concurrent,
            cascade: drop_cascades(s.behavior),
        },
        NodeEnum::DropdbStmt(_) => Kind::Drop {
            object: Object::Database,
            concurrently: false,
            cascade: false,
        },
        NodeEnum::DropRoleStmt(_) => Kind::Drop {
            object: Object::Role,
            concurrently: false,
            cascade: false,
        },
        NodeEnum::DropOwnedStmt(s) => Kind::Drop {
            object: Object::Other("OWNED".to_owned()),
            concurrently: false,
            cascade: drop_cascades(s.behavior),
        },
        NodeEnum::DropTableSpaceStmt(_) => Kind::Drop {
            object: Object::Other("OBJECT_TABLESPACE".to_owned()),
            concurrently: false,
            cascade: false,
        },
        NodeEnum::DropSubscriptionStmt(s) => Kind::Drop {
            object: Object::Other("OBJECT_SUBSCRIPTION".to_owned()),
            concurrently: false,
            cascade: drop_cascades(s.behavior),
        },
        NodeEnum::TruncateStmt(_) => Kind::Truncate,
        NodeEnum::DeleteStmt(s) => {
            with_clause(s.with_clause.as_ref(), text, location, &mut nested)?;
            Kind::Delete {
                has_where: s.where_clause.is_some(),
            }
        }
        NodeEnum::UpdateStmt(s) => {
            with_clause(s.with_clause.as_ref(), text, location, &mut nested)?;
            Kind::Update {
                has_where: s.where_clause.is_some(),
            }
        }
        NodeEnum::InsertStmt(s) => {
            with_clause(s.with_clause.as_ref(), text, location, &mut nested)?;
            Kind::Insert
        }
        NodeEnum::MergeStmt(s) => {
            with_clause(s.with_clause.as_ref(), text, location, &mut nested)?;
            Kind::Merge
        }
        NodeEnum::SelectStmt(s) => {
            select_parts(s, text, location, &mut nested)?;
            if s.into_clause.is_some() {
                Kind::CreateTableAs
            } else {
                Kind::Select
            }
        }
        // `x := expression` in PL/pgSQL: the expression is evaluated as a query.
        NodeEnum::PlassignStmt(s) => {
            if let Some(select) = &s.val {
                select_parts(select, text, location, &mut nested)?;
            }
            Kind::Select
        }
        NodeEnum::DoStmt(s) => {
            let mut language = "plpgsql".to_owned();
            let mut body = None;
            for arg in &s.args {
                if let Some(NodeEnum::DefElem(d)) = &arg.node {
                    let value = match d.arg.as_ref().and_then(|a| a.node.as_ref()) {
                        Some(NodeEnum::String(s)) => s.sval.clone(),
                        _ => continue,
                    };
                    match d.defname.as_str() {
                        "as" => body = Some(value),
                        "language" => language = value,
                        _ => {}
                    }
                }
            }
            if language == "plpgsql"
                && let Some(body) = body
            {
                nested = plpgsql_body(&body, location)?;
            }
            Kind::Do { language }
        }
        NodeEnum::ExplainStmt(s) => {
            let analyze = s.options.iter().any(|o| {
                matches!(&o.node, Some(NodeEnum::DefElem(d))
                    if d.defname == "analyze" && !is_false(d.arg.as_deref()))
            });
            if let Some(inner) = s.query.as_ref().and_then(|q| q.node.as_ref()) {
                nested.push(statement(inner, text, location)?);
            }
            Kind::Explain { analyze }
        }
        NodeEnum::TransactionStmt(s) => Kind::Transaction(
            match TransactionStmtKind::try_from(s.kind).unwrap_or(TransactionStmtKind::Undefined) {
                TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => {
                    TransactionKind::Begin
                }
                TransactionStmtKind::TransStmtCommit => TransactionKind::Commit,
                TransactionStmtKind::TransStmtRollback => TransactionKind::Rollback,
                TransactionStmtKind::TransStmtSavepoint => TransactionKind::Savepoint,
                TransactionStmtKind::TransStmtRelease => TransactionKind::Release,
                TransactionStmtKind::TransStmtRollbackTo => TransactionKind::RollbackTo,
                TransactionStmtKind::TransStmtPrepare
                | TransactionStmtKind::TransStmtCommitPrepared
                | TransactionStmtKind::TransStmtRollbackPrepared
                | TransactionStmtKind::Undefined => TransactionKind::TwoPhase,
            },
        ),
        NodeEnum::VariableSetStmt(s) => {
            let reset = s.kind == VariableSetKind::VarReset as i32
                || s.kind == VariableSetKind::VarResetAll as i32;
            let name = if s.name.is_empty() {
                "all".to_owned()
            } else {
                s.name.clone()
            };
            if reset {
                Kind::Reset { name }
            } else {
                Kind::Set { name }
            }
        }
        other => Kind::Other(node_name(other)),
    };
    let mut out = Statement::new(kind, text, location);
    out.nested = nested;
    Ok(out)
}

/// Whether a DefElem argument is an explicit false (`EXPLAIN (ANALYZE false)`).
fn is_false(arg: Option<&protobuf::Node>) -> bool {
    match arg.and_then(|a| a.node.as_ref()) {
        Some(NodeEnum::Boolean(b)) => !b.boolval,
        Some(NodeEnum::String(s)) => matches!(s.sval.as_str(), "false" | "off" | "no" | "0"),
        Some(NodeEnum::Integer(i)) => i.ival == 0,
        _ => false,
    }
}

/// The queries of a `WITH` clause, which run as part of the statement (and may modify data).
fn with_clause(
    with: Option<&protobuf::WithClause>,
    text: &str,
    location: usize,
    nested: &mut Vec<Statement>,
) -> Result<(), ClassifyError> {
    let Some(with) = with else {
        return Ok(());
    };
    for cte in &with.ctes {
        if let Some(NodeEnum::CommonTableExpr(cte)) = &cte.node
            && let Some(query) = cte.ctequery.as_ref().and_then(|q| q.node.as_ref())
        {
            nested.push(statement(query, text, location)?);
        }
    }
    Ok(())
}

/// A SELECT's `WITH` queries, including those of both sides of a set operation.
fn select_parts(
    select: &protobuf::SelectStmt,
    text: &str,
    location: usize,
    nested: &mut Vec<Statement>,
) -> Result<(), ClassifyError> {
    with_clause(select.with_clause.as_ref(), text, location, nested)?;
    for side in [&select.larg, &select.rarg].into_iter().flatten() {
        select_parts(side, text, location, nested)?;
    }
    Ok(())
}

/// `ALTER TABLE|SEQUENCE|VIEW ... OWNER TO role` and nothing else.
fn changes_owner_only(s: &protobuf::AlterTableStmt) -> bool {
    !s.cmds.is_empty()
        && s.cmds.iter().all(|c| {
            matches!(&c.node, Some(NodeEnum::AlterTableCmd(cmd))
                if cmd.subtype == AlterTableType::AtChangeOwner as i32)
        })
}

fn alter_table_action(cmd: &protobuf::AlterTableCmd) -> AlterTableAction {
    let Ok(subtype) = AlterTableType::try_from(cmd.subtype) else {
        return AlterTableAction::Other(format!("unknown subcommand {}", cmd.subtype));
    };
    match subtype {
        AlterTableType::AtAddColumn => AlterTableAction::AddColumn {
            if_not_exists: cmd.missing_ok,
        },
        AlterTableType::AtAddConstraint => {
            let Some(NodeEnum::Constraint(c)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return AlterTableAction::Other(subtype.as_str_name().to_owned());
            };
            let constraint = constraint_type(c.contype);
            if c.indexname.is_empty() {
                AlterTableAction::AddConstraint {
                    constraint,
                    not_valid: c.skip_validation,
                }
            } else {
                AlterTableAction::AddConstraintUsingIndex { constraint }
            }
        }
        AlterTableType::AtValidateConstraint => AlterTableAction::ValidateConstraint,
        AlterTableType::AtEnableRowSecurity => AlterTableAction::EnableRowLevelSecurity,
        AlterTableType::AtForceRowSecurity => AlterTableAction::ForceRowLevelSecurity,
        AlterTableType::AtDisableRowSecurity => AlterTableAction::DisableRowLevelSecurity,
        AlterTableType::AtNoForceRowSecurity => AlterTableAction::NoForceRowLevelSecurity,
        AlterTableType::AtDropColumn => AlterTableAction::DropColumn,
        AlterTableType::AtAlterColumnType => AlterTableAction::AlterColumnType,
        AlterTableType::AtSetNotNull => AlterTableAction::SetNotNull,
        AlterTableType::AtDropNotNull => AlterTableAction::DropNotNull,
        AlterTableType::AtColumnDefault | AlterTableType::AtCookedColumnDefault => {
            if cmd.def.is_some() {
                AlterTableAction::SetDefault
            } else {
                AlterTableAction::DropDefault
            }
        }
        AlterTableType::AtDropConstraint => AlterTableAction::DropConstraint,
        AlterTableType::AtAlterConstraint => AlterTableAction::AlterConstraint,
        AlterTableType::AtAddIdentity => AlterTableAction::AddIdentity,
        AlterTableType::AtSetIdentity => AlterTableAction::SetIdentity,
        AlterTableType::AtDropIdentity => AlterTableAction::DropIdentity,
        AlterTableType::AtSetExpression => AlterTableAction::SetExpression,
        AlterTableType::AtDropExpression => AlterTableAction::DropExpression,
        AlterTableType::AtAttachPartition => AlterTableAction::AttachPartition,
        AlterTableType::AtEnableTrig
        | AlterTableType::AtEnableAlwaysTrig
        | AlterTableType::AtEnableReplicaTrig
        | AlterTableType::AtDisableTrig => AlterTableAction::TriggerFiring,
        AlterTableType::AtDetachPartition | AlterTableType::AtDetachPartitionFinalize => {
            AlterTableAction::DetachPartition
        }
        other => AlterTableAction::Other(other.as_str_name().to_owned()),
    }
}

fn constraint_type(contype: i32) -> ConstraintType {
    match ConstrType::try_from(contype) {
        Ok(ConstrType::ConstrPrimary) => ConstraintType::PrimaryKey,
        Ok(ConstrType::ConstrUnique) => ConstraintType::Unique,
        Ok(ConstrType::ConstrCheck) => ConstraintType::Check,
        Ok(ConstrType::ConstrForeign) => ConstraintType::ForeignKey,
        Ok(ConstrType::ConstrExclusion) => ConstraintType::Exclusion,
        Ok(ConstrType::ConstrNotnull) => ConstraintType::NotNull,
        Ok(other) => ConstraintType::Other(other.as_str_name().to_owned()),
        Err(_) => ConstraintType::Other(format!("unknown constraint type {contype}")),
    }
}

/// Classifies what a PL/pgSQL `DO` body runs, in body order.
///
/// The body is parsed as the body of a throwaway function (`parse_plpgsql` takes a `CREATE
/// FUNCTION`), then every `PLpgSQL_expr` in the resulting tree is parsed again with the mode
/// PL/pgSQL itself would use: whole statements for `PLpgSQL_stmt_execsql` and friends,
/// expressions (evaluated as queries) for conditions, assignments and loop bounds.
fn plpgsql_body(body: &str, location: usize) -> Result<Vec<Statement>, ClassifyError> {
    let function = format!(
        "CREATE FUNCTION pg_temp.reconcile_classify() RETURNS void LANGUAGE plpgsql AS {}",
        quote_literal(body)
    );
    let tree = pg_query::parse_plpgsql(&function).map_err(|e| ClassifyError::Body {
        location,
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    walk_plpgsql(&tree, false, location, &mut out)?;
    Ok(out)
}

/// Statements of the PL/pgSQL tree whose `query` field is SQL text built at run time.
const DYNAMIC_QUERY_STATEMENTS: [&str; 2] = ["PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"];

/// Walks the JSON of a PL/pgSQL function. `query_is_dynamic` says that this object's `query`
/// field holds an `EXECUTE`'s text expression rather than a query.
fn walk_plpgsql(
    value: &Value,
    query_is_dynamic: bool,
    location: usize,
    out: &mut Vec<Statement>,
) -> Result<(), ClassifyError> {
    match value {
        Value::Array(items) => {
            for item in items {
                walk_plpgsql(item, false, location, out)?;
            }
        }
        Value::Object(fields) => {
            for (key, child) in fields {
                match key.as_str() {
                    "PLpgSQL_expr" => out.extend(expression(child, false, location)?),
                    "PLpgSQL_stmt_commit" => out.push(Statement::new(
                        Kind::Transaction(TransactionKind::Commit),
                        "COMMIT",
                        location,
                    )),
                    "PLpgSQL_stmt_rollback" => out.push(Statement::new(
                        Kind::Transaction(TransactionKind::Rollback),
                        "ROLLBACK",
                        location,
                    )),
                    _ => {}
                }
                let dynamic = key == "dynquery" || (query_is_dynamic && key == "query");
                if dynamic {
                    match child.get("PLpgSQL_expr") {
                        Some(expr) => out.extend(expression(expr, true, location)?),
                        // Not an expression we can read: unknowable, so never additive.
                        None => out.push(Statement::new(Kind::DynamicSql, "", location)),
                    }
                } else if key != "PLpgSQL_expr" {
                    let child_dynamic = DYNAMIC_QUERY_STATEMENTS.contains(&key.as_str());
                    walk_plpgsql(child, child_dynamic, location, out)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One `PLpgSQL_expr`: `{"query": "...", "parseMode": n}`. With `dynamic`, the expression
/// computes the text of an `EXECUTE`: a constant string is classified as the SQL it holds,
/// anything else is [`Kind::DynamicSql`].
fn expression(
    expr: &Value,
    dynamic: bool,
    location: usize,
) -> Result<Vec<Statement>, ClassifyError> {
    let body_error = |message: String| ClassifyError::Body { location, message };
    let query = expr
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| body_error(format!("an expression without query text: {expr}")))?;
    let mode = expr.get("parseMode").and_then(Value::as_i64).unwrap_or(0);
    let options = if dynamic {
        pg_query::ParserOptions::PLPGSQL_EXPR
    } else {
        match mode {
            0 => pg_query::ParserOptions::DEFAULT,
            2 => pg_query::ParserOptions::PLPGSQL_EXPR,
            3 => pg_query::ParserOptions::PLPGSQL_ASSIGN1,
            4 => pg_query::ParserOptions::PLPGSQL_ASSIGN2,
            5 => pg_query::ParserOptions::PLPGSQL_ASSIGN3,
            other => {
                return Err(body_error(format!(
                    "unexpected parse mode {other} for {query:?}"
                )));
            }
        }
    };
    let script = Script::parse_with(query, options).map_err(|e| {
        body_error(format!(
            "embedded SQL {query:?} does not parse: {}",
            e.message
        ))
    })?;
    if !dynamic {
        return classify_script(&script, Some(location));
    }
    match constant_string(script.parse_result()) {
        Some(text) => {
            let script = Script::parse(&text).map_err(|e| {
                body_error(format!(
                    "EXECUTE of {text:?}, which does not parse: {}",
                    e.message
                ))
            })?;
            classify_script(&script, Some(location))
        }
        None => Ok(vec![Statement::new(Kind::DynamicSql, query, location)]),
    }
}

/// The value of an expression that is a single string constant (`'DROP TABLE t'`,
/// `$$...$$`), parsed in PL/pgSQL expression mode (`SELECT <expr>`).
fn constant_string(parsed: &protobuf::ParseResult) -> Option<String> {
    let [raw] = parsed.stmts.as_slice() else {
        return None;
    };
    let Some(NodeEnum::SelectStmt(select)) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) else {
        return None;
    };
    let [target] = select.target_list.as_slice() else {
        return None;
    };
    let Some(NodeEnum::ResTarget(target)) = &target.node else {
        return None;
    };
    match target.val.as_ref().and_then(|v| v.node.as_ref()) {
        Some(NodeEnum::AConst(c)) => match &c.val {
            Some(protobuf::a_const::Val::Sval(s)) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Statement {
        let mut all = classify(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(all.len(), 1, "{sql}: {all:#?}");
        all.remove(0)
    }

    fn kind(sql: &str) -> Kind {
        one(sql).kind
    }

    fn actions(sql: &str) -> Vec<AlterTableAction> {
        match kind(sql) {
            Kind::AlterTable { actions, .. } => actions,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn assert_rejected(sql: &str) {
        for s in classify(sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
            assert!(!s.is_plannable(), "{sql} should not be additive: {s:#?}");
        }
    }

    fn assert_additive(sql: &str) {
        let all = classify(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!all.is_empty(), "{sql}");
        for s in all {
            assert!(s.is_plannable(), "{sql} should be additive: {s:#?}");
        }
    }

    #[test]
    fn drops_are_destructive() {
        assert_eq!(
            kind("DROP TABLE public.t"),
            Kind::Drop {
                object: Object::Table,
                concurrently: false,
                cascade: false
            }
        );
        assert_eq!(
            kind("DROP INDEX CONCURRENTLY IF EXISTS app.i"),
            Kind::Drop {
                object: Object::Index,
                concurrently: true,
                cascade: false
            }
        );
        assert_eq!(
            kind("DROP TYPE mood CASCADE"),
            Kind::Drop {
                object: Object::Type,
                concurrently: false,
                cascade: true
            }
        );
        for sql in [
            "DROP TABLE t",
            "DROP SCHEMA app CASCADE",
            "DROP SEQUENCE s",
            "DROP DOMAIN d",
            "DROP EXTENSION pgcrypto",
            "DROP VIEW v",
            "DROP FUNCTION f()",
            "DROP DATABASE db",
            "DROP ROLE r",
            "DROP OWNED BY r",
            "DROP POLICY p ON t",
            "DROP TRIGGER tr ON t",
        ] {
            assert!(matches!(kind(sql), Kind::Drop { .. }), "{sql}");
            assert_rejected(sql);
        }
    }

    #[test]
    fn non_additive_alter_table_subcommands() {
        let cases = [
            (
                "ALTER TABLE t ALTER COLUMN a TYPE bigint",
                AlterTableAction::AlterColumnType,
            ),
            (
                "ALTER TABLE t ALTER a SET DATA TYPE text USING a::text",
                AlterTableAction::AlterColumnType,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
                AlterTableAction::SetNotNull,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a DROP NOT NULL",
                AlterTableAction::DropNotNull,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0",
                AlterTableAction::SetDefault,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a DROP DEFAULT",
                AlterTableAction::DropDefault,
            ),
            ("ALTER TABLE t DROP COLUMN a", AlterTableAction::DropColumn),
            (
                "ALTER TABLE t DROP CONSTRAINT IF EXISTS c",
                AlterTableAction::DropConstraint,
            ),
            (
                "ALTER TABLE t DISABLE ROW LEVEL SECURITY",
                AlterTableAction::DisableRowLevelSecurity,
            ),
            (
                "ALTER TABLE t NO FORCE ROW LEVEL SECURITY",
                AlterTableAction::NoForceRowLevelSecurity,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a DROP IDENTITY",
                AlterTableAction::DropIdentity,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY",
                AlterTableAction::AddIdentity,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a SET GENERATED BY DEFAULT",
                AlterTableAction::SetIdentity,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a DROP EXPRESSION",
                AlterTableAction::DropExpression,
            ),
            (
                "ALTER TABLE t ALTER CONSTRAINT c DEFERRABLE",
                AlterTableAction::AlterConstraint,
            ),
            (
                "ALTER TABLE t ALTER COLUMN a SET STATISTICS 100",
                AlterTableAction::Other("AT_SetStatistics".to_owned()),
            ),
        ];
        for (sql, action) in cases {
            assert_eq!(actions(sql), vec![action], "{sql}");
            assert_rejected(sql);
        }
        // One destructive subcommand spoils the whole statement.
        let sql = "ALTER TABLE t ADD COLUMN b int, DROP COLUMN a";
        assert_eq!(
            actions(sql),
            vec![
                AlterTableAction::AddColumn {
                    if_not_exists: false
                },
                AlterTableAction::DropColumn
            ]
        );
        assert_rejected(sql);
    }

    #[test]
    fn partitions_are_created_and_their_indexes_attached_never_detached() {
        assert_additive("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)");
        assert_additive("CREATE TABLE pd PARTITION OF p DEFAULT");
        assert_additive("ALTER INDEX p_a_idx ATTACH PARTITION p1_a_idx");
        assert_additive("CREATE INDEX IF NOT EXISTS p_a_idx ON ONLY p (a)");
        assert_additive("ALTER TABLE ONLY p ADD CONSTRAINT p_pkey PRIMARY KEY (a)");
        for sql in [
            "ALTER TABLE p DETACH PARTITION p1",
            "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
            "ALTER TABLE p DETACH PARTITION p1 FINALIZE",
            "ALTER TABLE p ATTACH PARTITION t FOR VALUES IN (1)",
            // An index's other ALTERs are not attachments.
            "ALTER INDEX p_a_idx SET TABLESPACE elsewhere",
            "ALTER INDEX p_a_idx ATTACH PARTITION p1_a_idx; DROP INDEX p1_b_idx",
        ] {
            assert!(
                classify(sql)
                    .expect("parses")
                    .iter()
                    .any(|s| !s.is_plannable()),
                "{sql}"
            );
        }
    }

    #[test]
    fn renames_are_not_additive() {
        for (sql, object) in [
            ("ALTER TABLE t RENAME TO u", Object::Table),
            ("ALTER TABLE t RENAME COLUMN a TO b", Object::Column),
            ("ALTER TABLE t RENAME CONSTRAINT c TO d", Object::Constraint),
            ("ALTER INDEX i RENAME TO j", Object::Index),
            ("ALTER TYPE mood RENAME TO feeling", Object::Type),
        ] {
            assert_eq!(kind(sql), Kind::Rename { object }, "{sql}");
            assert_rejected(sql);
        }
        assert_eq!(
            kind("ALTER TYPE mood RENAME VALUE 'a' TO 'b'"),
            Kind::AlterEnumRenameValue
        );
        assert_rejected("ALTER TYPE mood RENAME VALUE 'a' TO 'b'");
    }

    #[test]
    fn data_changes_are_not_additive() {
        assert_eq!(kind("TRUNCATE t, u RESTART IDENTITY"), Kind::Truncate);
        assert_eq!(kind("DELETE FROM t"), Kind::Delete { has_where: false });
        assert_eq!(
            kind("DELETE FROM t WHERE id = 1"),
            Kind::Delete { has_where: true }
        );
        assert_eq!(
            kind("UPDATE t SET a = 1"),
            Kind::Update { has_where: false }
        );
        assert_eq!(
            kind("UPDATE t SET a = 1 WHERE b"),
            Kind::Update { has_where: true }
        );
        assert_eq!(kind("INSERT INTO t VALUES (1)"), Kind::Insert);
        assert_eq!(
            kind("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE"),
            Kind::Merge
        );
        for sql in [
            "TRUNCATE t",
            "DELETE FROM t",
            "DELETE FROM t WHERE false",
            "UPDATE t SET a = 1",
            "INSERT INTO t VALUES (1)",
            "SELECT * INTO new_t FROM t",
            "COPY t FROM STDIN",
        ] {
            assert_rejected(sql);
        }
    }

    #[test]
    fn a_select_hiding_a_delete_in_with_is_rejected() {
        let s = one("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone");
        assert_eq!(s.kind, Kind::Select);
        assert_eq!(s.nested[0].kind, Kind::Delete { has_where: false });
        assert!(!s.is_plannable());
        assert_eq!(s.violations().len(), 1);
        // A read-only WITH is fine.
        assert_additive("WITH x AS (SELECT 1) SELECT * FROM x");
    }

    #[test]
    fn explain_analyze_runs_its_statement() {
        let s = one("EXPLAIN (ANALYZE) DELETE FROM t");
        assert_eq!(s.kind, Kind::Explain { analyze: true });
        assert_eq!(s.nested[0].kind, Kind::Delete { has_where: false });
        assert_eq!(
            kind("EXPLAIN (ANALYZE false) SELECT 1"),
            Kind::Explain { analyze: false }
        );
    }

    #[test]
    fn a_do_block_hiding_a_drop_is_rejected() {
        let sql = "DO $$\nBEGIN\n  IF EXISTS (SELECT FROM pg_class WHERE relname = 't') THEN\n    \
                   DROP TABLE t;\n  END IF;\nEND\n$$";
        let s = one(sql);
        assert_eq!(
            s.kind,
            Kind::Do {
                language: "plpgsql".to_owned()
            }
        );
        assert!(
            s.kind.is_additive(),
            "the DO itself is fine; its body is not"
        );
        let kinds: Vec<&Kind> = s.nested.iter().map(|n| &n.kind).collect();
        assert_eq!(
            kinds,
            vec![
                &Kind::Select,
                &Kind::Drop {
                    object: Object::Table,
                    concurrently: false,
                    cascade: false
                }
            ]
        );
        assert_eq!(s.nested[1].text, "DROP TABLE t");
        assert!(!s.is_plannable());
        assert_eq!(s.violations()[0].text, "DROP TABLE t");
    }

    #[test]
    fn do_blocks_are_searched_everywhere() {
        for sql in [
            // else branch, elsif branch, loops, nested blocks, exception handlers
            "DO $$ BEGIN IF true THEN NULL; ELSE TRUNCATE t; END IF; END $$",
            "DO $$ BEGIN IF false THEN NULL; ELSIF true THEN DELETE FROM t; END IF; END $$",
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT 1 LOOP UPDATE t SET a = 1; END LOOP; END $$",
            "DO $$ BEGIN LOOP ALTER TABLE t DROP COLUMN a; EXIT; END LOOP; END $$",
            "DO $$ BEGIN BEGIN NULL; EXCEPTION WHEN others THEN DROP TABLE t; END; END $$",
            "DO $$ BEGIN WHILE true LOOP ALTER TABLE t ALTER a TYPE text; END LOOP; END $$",
            // a DO inside a DO
            "DO $a$ BEGIN DO $b$ BEGIN DROP SCHEMA s; END $b$; END $a$",
            // a data-modifying WITH inside a DO
            "DO $$ DECLARE x int; BEGIN WITH d AS (DELETE FROM t RETURNING 1) SELECT 1 INTO x; END $$",
            // transaction control inside a DO
            "DO $$ BEGIN COMMIT; END $$",
            // procedures may do anything
            "DO $$ BEGIN CALL cleanup(); END $$",
        ] {
            let s = one(sql);
            assert!(s.kind.is_additive(), "{sql}");
            assert!(!s.is_plannable(), "{sql}: {s:#?}");
        }
        // Declarations are searched too (a variable's default is evaluated as a query).
        let s = one("DO $$ DECLARE n int := (SELECT count(*) FROM t); BEGIN PERFORM n; END $$");
        assert_eq!(s.nested.len(), 2, "{s:#?}");
        assert!(s.is_plannable());
    }

    #[test]
    fn dynamic_execute_is_rejected_unless_constant() {
        let s = one("DO $$ BEGIN EXECUTE 'DROP TABLE ' || quote_ident('t'); END $$");
        assert_eq!(s.nested[0].kind, Kind::DynamicSql);
        assert!(!s.is_plannable());

        let s = one(
            "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT ' || 1 LOOP END LOOP; END $$",
        );
        assert!(
            s.nested.iter().any(|n| n.kind == Kind::DynamicSql),
            "{s:#?}"
        );
        assert!(!s.is_plannable());

        // A constant string is known text: classified for what it is.
        let s = one("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$");
        assert_eq!(
            s.nested[0].kind,
            Kind::Drop {
                object: Object::Table,
                concurrently: false,
                cascade: false
            }
        );
        assert!(!s.is_plannable());
        assert_additive("DO $$ BEGIN EXECUTE 'CREATE TABLE IF NOT EXISTS t (a int)'; END $$");

        // USING parameters are plain expressions, the text is still dynamic.
        let s = one("DO $$ DECLARE q text := 'TRUNCATE t'; BEGIN EXECUTE q USING 1; END $$");
        assert!(s.nested.iter().any(|n| n.kind == Kind::DynamicSql));
        assert!(!s.is_plannable());
    }

    #[test]
    fn other_languages_cannot_be_inspected() {
        let s = one("DO LANGUAGE plpython3u 'plpy.execute(\"DROP TABLE t\")'");
        assert_eq!(
            s.kind,
            Kind::Do {
                language: "plpython3u".to_owned()
            }
        );
        assert!(!s.is_plannable());
    }

    #[test]
    fn syntax_errors_are_errors() {
        assert!(matches!(
            classify("CREATE TABLE ("),
            Err(ClassifyError::Syntax { .. })
        ));
        assert!(matches!(
            classify("DO $$ BEGIN DROP TABLEX t; END $$"),
            Err(ClassifyError::Body { .. })
        ));
        assert!(matches!(
            classify("DO $$ BEGIN EXECUTE 'DROP TABLEX t'; END $$"),
            Err(ClassifyError::Body { .. })
        ));
        assert_eq!(classify("").unwrap(), vec![]);
        assert_eq!(classify("-- only a comment\n").unwrap(), vec![]);
    }

    #[test]
    fn scripts_split_into_statements_with_locations() {
        let sql = "SET lock_timeout = '3s';\nBEGIN;\nCREATE SCHEMA IF NOT EXISTS app;\n-- DROP TABLE t;\nCOMMIT;\nRESET ALL;";
        let all = classify(sql).unwrap();
        let kinds: Vec<&Kind> = all.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                &Kind::Set {
                    name: "lock_timeout".to_owned()
                },
                &Kind::Transaction(TransactionKind::Begin),
                &Kind::CreateSchema {
                    if_not_exists: true
                },
                &Kind::Transaction(TransactionKind::Commit),
                &Kind::Reset {
                    name: "all".to_owned()
                },
            ]
        );
        assert_eq!(all[2].text, "CREATE SCHEMA IF NOT EXISTS app");
        assert_eq!(&sql[all[2].location..][..13], "CREATE SCHEMA");
        assert!(all[0].kind.is_session_control() && !all[0].kind.is_additive());
        assert!(all[1].kind.is_session_control());
        assert!(!all[4].kind.is_session_control());
        assert!(!Kind::Transaction(TransactionKind::Rollback).is_session_control());
    }

    /// Regression: the text of the last statement of a script without a final `;` ran to
    /// the end, trailing comment included; and syntax errors now say their line.
    #[test]
    fn statement_texts_are_their_tokens() {
        let sql = "CREATE SCHEMA a /* why */ ;\n-- next\nCREATE SCHEMA b -- the end\n";
        let all = classify(sql).unwrap();
        let texts: Vec<(&str, usize)> = all.iter().map(|s| (s.text.as_str(), s.location)).collect();
        assert_eq!(
            texts,
            [
                ("CREATE SCHEMA a", 0),
                ("CREATE SCHEMA b", sql.find("CREATE SCHEMA b").unwrap())
            ]
        );
        let e = classify("SELECT 1;\nCREATE TABLE (;")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("SQL does not parse: line 2: syntax error"),
            "{e}"
        );
    }

    /// Definitions a plan may create, and the in-place replaces it may run: never a DROP,
    /// never a rule (which can silently turn writes into nothing).
    #[test]
    fn definitions_are_created_or_replaced_never_dropped() {
        for (sql, additive, replace) in [
            ("CREATE VIEW v AS SELECT 1", true, false),
            ("CREATE OR REPLACE VIEW v AS SELECT 1", false, true),
            ("CREATE MATERIALIZED VIEW m AS SELECT 1", true, false),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                true,
                false,
            ),
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                false,
                true,
            ),
            (
                "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'",
                false,
                true,
            ),
            (
                "CREATE AGGREGATE a (int) (sfunc = int4pl, stype = int)",
                true,
                false,
            ),
            (
                "CREATE OR REPLACE AGGREGATE a (int) (sfunc = int4pl, stype = int)",
                false,
                true,
            ),
            (
                "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()",
                true,
                false,
            ),
            (
                "CREATE OR REPLACE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()",
                false,
                true,
            ),
            ("CREATE POLICY p ON x USING (true)", true, false),
            ("ALTER POLICY p ON x USING (false)", false, true),
            ("COMMENT ON TABLE x IS 'y'", false, true),
            // Removing a comment is what a finding suggests, never a step.
            ("COMMENT ON TABLE x IS NULL", false, false),
            ("COMMENT ON COLUMN x.a IS ''", false, false),
            ("DROP VIEW v", false, false),
            ("DROP FUNCTION f()", false, false),
            ("DROP POLICY p ON x", false, false),
            ("DROP TRIGGER t ON x", false, false),
            (
                "CREATE RULE r AS ON INSERT TO x DO INSTEAD NOTHING",
                false,
                false,
            ),
            ("REFRESH MATERIALIZED VIEW m", false, false),
            ("ALTER TABLE x DISABLE TRIGGER t", false, true),
            ("ALTER TABLE x ENABLE TRIGGER t", false, true),
            ("ALTER TABLE x ENABLE REPLICA TRIGGER t", false, true),
            ("ALTER TABLE x ENABLE ALWAYS TRIGGER t", false, true),
            ("ALTER TABLE x DISABLE TRIGGER ALL", false, false),
            ("ALTER TABLE x ENABLE TRIGGER USER", false, false),
            (
                "ALTER TABLE x DISABLE TRIGGER t, ADD COLUMN c int",
                false,
                false,
            ),
        ] {
            let k = kind(sql);
            assert_eq!(
                (k.is_additive(), k.is_replace()),
                (additive, replace),
                "{sql}: {k:?}"
            );
            assert_eq!(
                classify(sql).unwrap()[0].is_plannable(),
                additive || replace,
                "{sql}"
            );
        }
    }

    #[test]
    fn unknown_statements_are_named_and_rejected() {
        assert_eq!(
            kind("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()"),
            Kind::Other("CreateEventTrigStmt".to_owned())
        );
        assert_eq!(
            kind("GRANT r TO other_role"),
            Kind::Other("GrantRoleStmt".to_owned())
        );
        assert_eq!(kind("ALTER SEQUENCE s RESTART"), Kind::AlterSequence);
        assert_rejected("CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING");
        assert_rejected("ALTER SEQUENCE s RESTART WITH 1");
        assert_rejected("ALTER TABLE t OWNER TO r");
        assert_rejected("GRANT r TO other_role");
        assert_rejected("ALTER TYPE comp ADD ATTRIBUTE b int");
        assert_rejected("VACUUM FULL t");
        assert_rejected("SET search_path = app");
        assert_rejected("ROLLBACK");
    }

    /// Granting is additive; revoking (a privilege, a grant option, a default privilege) is
    /// not, nor is taking an object from its owner.
    #[test]
    fn grants_are_additive_and_revokes_are_not() {
        for sql in [
            "GRANT SELECT, INSERT ON TABLE public.t TO anon",
            "GRANT UPDATE (email) ON TABLE public.t TO authenticated WITH GRANT OPTION",
            "GRANT USAGE ON SCHEMA app TO PUBLIC",
            "GRANT EXECUTE ON FUNCTION public.f(integer) TO api",
            "GRANT ALL ON ALL TABLES IN SCHEMA public TO service_role",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO anon",
        ] {
            assert_additive(sql);
        }
        assert_eq!(kind("GRANT SELECT ON t TO r"), Kind::Grant);
        assert_eq!(kind("REVOKE SELECT ON t FROM r"), Kind::Revoke);
        assert_eq!(
            kind("ALTER DEFAULT PRIVILEGES IN SCHEMA s REVOKE SELECT ON TABLES FROM r"),
            Kind::AlterDefaultPrivileges { grant: false }
        );
        assert_eq!(
            kind("ALTER TABLE app.t OWNER TO r"),
            Kind::AlterOwner {
                object: Object::Table
            }
        );
        assert_eq!(
            kind("ALTER SCHEMA app OWNER TO r"),
            Kind::AlterOwner {
                object: Object::Schema
            }
        );
        for sql in [
            "REVOKE SELECT ON TABLE public.t FROM anon",
            "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM anon",
            "REVOKE EXECUTE ON FUNCTION public.f(integer) FROM PUBLIC",
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM anon",
            "ALTER SCHEMA app OWNER TO r",
            "ALTER SEQUENCE app.s OWNER TO r",
            "ALTER TABLE t OWNER TO r, ADD COLUMN c int",
            "DO $$ BEGIN REVOKE SELECT ON t FROM anon; END $$",
            "DO $$ BEGIN EXECUTE 'REVOKE SELECT ON t FROM anon'; END $$",
        ] {
            assert_rejected(sql);
        }
    }

    /// Every statement shape the planner emits, as `plan::generate` and `plan::guard` write
    /// them.
    #[test]
    fn planner_statement_shapes_are_additive() {
        let guard = |exists: &str, statement: &str| {
            format!(
                "DO $reconcile$\nBEGIN\n  IF NOT EXISTS ({exists}) THEN\n    {statement};\n  \
                 END IF;\nEND\n$reconcile$"
            )
        };
        let type_exists = "SELECT FROM pg_catalog.pg_type WHERE typnamespace = \
                           'app'::pg_catalog.regnamespace AND typname = 'mood'";
        let constraint_exists = "SELECT FROM pg_catalog.pg_constraint WHERE conrelid = \
                                 'app.\"Odd Table\"'::pg_catalog.regclass AND conname = 'c'";
        let add = |body: &str| {
            guard(
                constraint_exists,
                &format!("ALTER TABLE app.\"Odd Table\" ADD CONSTRAINT c {body}"),
            )
        };
        let cases: Vec<(String, Kind)> = vec![
            (
                "CREATE SCHEMA IF NOT EXISTS \"Weird Schema\"".into(),
                Kind::CreateSchema {
                    if_not_exists: true,
                },
            ),
            (
                "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public".into(),
                Kind::CreateExtension {
                    if_not_exists: true,
                },
            ),
            (
                "ALTER TYPE app.mood ADD VALUE IF NOT EXISTS 'it''s' BEFORE 'a'".into(),
                Kind::AlterEnumAddValue {
                    if_not_exists: true,
                },
            ),
            (
                "ALTER TYPE app.mood ADD VALUE IF NOT EXISTS 'z'".into(),
                Kind::AlterEnumAddValue {
                    if_not_exists: true,
                },
            ),
            (
                "CREATE SEQUENCE IF NOT EXISTS app.s AS integer INCREMENT BY 1 MINVALUE 1 \
                 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE"
                    .into(),
                Kind::CreateSequence {
                    if_not_exists: true,
                },
            ),
            (
                "ALTER SEQUENCE app.s OWNED BY app.\"Odd Table\".id".into(),
                Kind::AlterSequenceOwnedBy,
            ),
            (
                "CREATE TABLE IF NOT EXISTS app.\"Odd Table\" (\n    id integer GENERATED \
                 ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 \
                 CACHE 1 NO CYCLE) NOT NULL,\n    \"select\" text COLLATE \"C\" DEFAULT \
                 ('x'::text),\n    CONSTRAINT pk PRIMARY KEY (id),\n    CONSTRAINT ex EXCLUDE \
                 USING gist (id WITH =)\n)"
                    .into(),
                Kind::CreateTable {
                    if_not_exists: true,
                },
            ),
            (
                "CREATE TABLE IF NOT EXISTS public.empty ()".into(),
                Kind::CreateTable {
                    if_not_exists: true,
                },
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON app.\"Odd Table\" USING \
                 btree (id DESC NULLS LAST, (lower(\"select\"))) INCLUDE (x) NULLS NOT \
                 DISTINCT WHERE (id > 0)"
                    .into(),
                Kind::CreateIndex {
                    concurrently: true,
                    unique: true,
                    if_not_exists: true,
                },
            ),
            (
                "CREATE INDEX IF NOT EXISTS i ON public.t USING gin (tags)".into(),
                Kind::CreateIndex {
                    concurrently: false,
                    unique: false,
                    if_not_exists: true,
                },
            ),
        ];
        for (sql, expected) in &cases {
            assert_eq!(&kind(sql), expected, "{sql}");
            assert_additive(sql);
        }
        let alter_cases = [
            (
                "ALTER TABLE app.\"Odd Table\" ADD COLUMN IF NOT EXISTS n integer DEFAULT (0) \
                 NOT NULL"
                    .to_owned(),
                vec![AlterTableAction::AddColumn {
                    if_not_exists: true,
                }],
            ),
            (
                "ALTER TABLE public.t VALIDATE CONSTRAINT c".to_owned(),
                vec![AlterTableAction::ValidateConstraint],
            ),
            (
                "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY"
                    .to_owned(),
                vec![
                    AlterTableAction::EnableRowLevelSecurity,
                    AlterTableAction::ForceRowLevelSecurity,
                ],
            ),
        ];
        for (sql, expected) in &alter_cases {
            assert_eq!(&actions(sql), expected, "{sql}");
            assert_additive(sql);
        }
        let guarded_cases = [
            (
                guard(type_exists, "CREATE TYPE app.mood AS ENUM ('a', 'it''s')"),
                Kind::CreateType { of: TypeKind::Enum },
            ),
            (
                guard(
                    type_exists,
                    "CREATE TYPE app.mood AS (a integer, \"B\" text COLLATE \"C\")",
                ),
                Kind::CreateType {
                    of: TypeKind::Composite,
                },
            ),
            (
                guard(
                    type_exists,
                    "CREATE DOMAIN app.mood AS integer DEFAULT (0) NOT NULL CONSTRAINT pos \
                     CHECK (VALUE > 0)",
                ),
                Kind::CreateDomain,
            ),
            (
                add("CHECK ((n > 0)) NOT VALID"),
                Kind::AlterTable {
                    object: Object::Table,
                    actions: vec![AlterTableAction::AddConstraint {
                        constraint: ConstraintType::Check,
                        not_valid: true,
                    }],
                },
            ),
            (
                add(
                    "FOREIGN KEY (a, \"B\") REFERENCES public.u (a, b) MATCH FULL ON UPDATE \
                     NO ACTION ON DELETE CASCADE NOT VALID",
                ),
                Kind::AlterTable {
                    object: Object::Table,
                    actions: vec![AlterTableAction::AddConstraint {
                        constraint: ConstraintType::ForeignKey,
                        not_valid: true,
                    }],
                },
            ),
            (
                add("PRIMARY KEY USING INDEX c DEFERRABLE INITIALLY DEFERRED"),
                Kind::AlterTable {
                    object: Object::Table,
                    actions: vec![AlterTableAction::AddConstraintUsingIndex {
                        constraint: ConstraintType::PrimaryKey,
                    }],
                },
            ),
            (
                add("UNIQUE NULLS NOT DISTINCT (a) INCLUDE (b) DEFERRABLE"),
                Kind::AlterTable {
                    object: Object::Table,
                    actions: vec![AlterTableAction::AddConstraint {
                        constraint: ConstraintType::Unique,
                        not_valid: false,
                    }],
                },
            ),
            (
                add("EXCLUDE USING gist (a WITH &&)"),
                Kind::AlterTable {
                    object: Object::Table,
                    actions: vec![AlterTableAction::AddConstraint {
                        constraint: ConstraintType::Exclusion,
                        not_valid: false,
                    }],
                },
            ),
        ];
        for (sql, expected) in &guarded_cases {
            let s = one(sql);
            assert!(matches!(&s.kind, Kind::Do { language } if language == "plpgsql"));
            let inner: Vec<&Kind> = s.nested.iter().map(|n| &n.kind).collect();
            assert_eq!(inner, vec![&Kind::Select, expected], "{sql}");
            assert!(s.is_plannable(), "{sql}: {:#?}", s.violations());
        }
    }

    /// The real planner, one change of every kind, on an empty and on a populated database.
    #[test]
    fn planned_steps_are_additive() {
        use crate::diff::{Change, EnumPosition};
        use crate::kinds::Created;
        use crate::model::{
            Column, CompositeAttribute, CompositeType, Constraint, ConstraintKind, Domain,
            EnumType, Extension, FkAction, ForeignKey, Ident, Index, IndexKey, IndexTarget,
            QualifiedName, Schema, Sequence, SequenceOptions, SequenceType, Table,
        };
        let id = |s: &str| Ident::new(s).unwrap();
        let qn = |s: &str, n: &str| QualifiedName::new(id(s), id(n));
        let table = qn("app", "Odd \"Table\"");
        let other = qn("public", "select");
        let constraint = |kind| Constraint {
            kind,
            deferrable: false,
            initially_deferred: false,
        };
        let mut changes = vec![
            Change::CreateSchema { name: id("app") },
            Change::CreateExtension {
                name: id("pgcrypto"),
                extension: Extension { schema: id("app") },
            },
            Change::CreateEnum {
                name: qn("app", "mood"),
                definition: EnumType {
                    values: vec!["a".into(), "it's".into(), "$reconcile$".into()],
                },
            },
            Change::AddEnumValue {
                type_name: qn("app", "mood"),
                value: "b".into(),
                position: EnumPosition::After("a".into()),
            },
            Change::Create(Created::Composite(
                qn("app", "pair"),
                CompositeType {
                    attributes: vec![CompositeAttribute {
                        name: id("Left"),
                        data_type: "integer".into(),
                        collation: None,
                    }],
                },
            )),
            Change::Create(Created::Domain(
                qn("app", "positive"),
                Domain {
                    data_type: "integer".into(),
                    default: Some("1".into()),
                    not_null: true,
                    collation: None,
                    checks: [(id("pos"), "(VALUE > 0)".to_owned())].into(),
                },
            )),
            Change::Create(Created::Sequence(
                qn("app", "seq"),
                Sequence {
                    options: SequenceOptions::defaults(SequenceType::Bigint, 1),
                    owned_by: Some((table.clone(), id("id"))),
                },
            )),
            Change::CreateTable {
                name: table.clone(),
                definition: Table {
                    columns: vec![Column::new(id("id"), "bigint")],
                    ..Table::default()
                },
            },
            Change::AddColumn {
                table: other.clone(),
                column: {
                    let mut column = Column::new(id("uid"), "uuid");
                    column.not_null = true;
                    column.default = Some("gen_random_uuid()".into());
                    column
                },
            },
            Change::EnableRowLevelSecurity {
                table: other.clone(),
                enable: true,
                force: true,
                new_table: false,
            },
        ];
        for new_table in [false, true] {
            let t = if new_table { &table } else { &other };
            let suffix = if new_table { "_new" } else { "" };
            changes.push(Change::CreateIndex {
                table: t.clone(),
                name: id(&format!("idx{suffix}")),
                index: Index {
                    unique: true,
                    method: "btree".into(),
                    keys: vec![IndexKey {
                        target: IndexTarget::Expression("lower((id)::text)".into()),
                        opclass: None,
                        collation: None,
                        descending: true,
                        nulls_first: false,
                    }],
                    include: vec![],
                    predicate: Some("(id > 0)".into()),
                    nulls_not_distinct: false,
                },
                new_table,
            });
            for (name, kind) in [
                (
                    "pk",
                    ConstraintKind::PrimaryKey {
                        columns: vec![id("id")],
                        include: vec![],
                    },
                ),
                (
                    "uq",
                    ConstraintKind::Unique {
                        columns: vec![id("id")],
                        include: vec![],
                        nulls_not_distinct: true,
                    },
                ),
                (
                    "ck",
                    ConstraintKind::Check {
                        expression: "(id > 0)".into(),
                        no_inherit: false,
                    },
                ),
                (
                    "fk",
                    ConstraintKind::ForeignKey(ForeignKey {
                        columns: vec![id("id")],
                        references: other.clone(),
                        referenced_columns: vec![id("id")],
                        on_delete: FkAction::Cascade,
                        on_update: FkAction::NoAction,
                        match_full: false,
                    }),
                ),
                (
                    "ex",
                    ConstraintKind::Exclusion {
                        definition: "EXCLUDE USING btree (id WITH =)".into(),
                    },
                ),
            ] {
                changes.push(Change::AddConstraint {
                    table: t.clone(),
                    name: id(&format!("{name}{suffix}")),
                    constraint: constraint(kind),
                    new_table,
                });
            }
        }
        let mut live = Schema::default();
        live.tables.insert(
            other.clone(),
            Table {
                columns: vec![Column::new(id("id"), "integer")],
                ..Table::default()
            },
        );
        for concurrently in [true, false] {
            let rows = Default::default();
            let context = crate::plan::Context {
                live: &live,
                estimated_rows: &rows,
                concurrently,
            };
            let steps = crate::plan::build_changes(&changes, &context).unwrap();
            assert!(steps.len() > changes.len(), "{steps:#?}");
            for step in &steps {
                let all = classify(&step.sql).unwrap_or_else(|e| panic!("{}: {e}", step.sql));
                assert_eq!(all.len(), 1, "{}", step.sql);
                assert!(
                    all[0].is_plannable(),
                    "{}: {:#?}",
                    step.sql,
                    all[0].violations()
                );
            }
        }
    }
}
