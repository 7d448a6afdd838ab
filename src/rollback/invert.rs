//! The inverse of one statement, from its parse tree.

use pg_query::NodeEnum;
use pg_query::protobuf::{
    self, AlterTableType, ConstrType, DropBehavior, FunctionParameterMode, ObjectType,
};

use super::{Action, Entry};
use crate::classify::{self, Kind};
use crate::ident::{quote_ident, quote_literal};
use crate::sql::{Name, Script};

/// How statements are judged.
pub(super) struct Context {
    /// Add a per-statement warning to inverses of `IF NOT EXISTS` statements (which may have
    /// done nothing). Off for runs: the guide's header explains why a run's steps created
    /// their objects.
    pub if_not_exists_notes: bool,
}

impl Context {
    pub const SQL: Context = Context {
        if_not_exists_notes: true,
    };
    pub const RUN: Context = Context {
        if_not_exists_notes: false,
    };
}

/// Where a statement sits, for the notes.
#[derive(Clone, Copy)]
struct Place<'a> {
    /// Inside a DO block (may have run conditionally).
    in_do: bool,
    /// The schema of `CREATE SCHEMA s CREATE TABLE t ...` elements.
    default_schema: Option<&'a str>,
}

/// Every statement of `sql` with its inverse, in execution order. `origin` is set to
/// `statement N (line L)`.
pub(super) fn statements(sql: &str, context: &Context) -> Result<Vec<Entry>, String> {
    let script = Script::parse(sql).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, statement) in script.statements().iter().enumerate() {
        let origin = format!("statement {} (line {})", i + 1, statement.line);
        let place = Place {
            in_do: false,
            default_schema: None,
        };
        for mut entry in node_entries(statement.node, statement.text, context, place) {
            entry.origin = origin.clone();
            out.push(entry);
        }
    }
    Ok(out)
}

fn entry(text: &str, action: Action) -> Entry {
    Entry {
        origin: String::new(),
        original: one_line(text),
        action,
    }
}

fn inverse(text: &str, sql: String, impact: &str, note: Option<String>) -> Entry {
    entry(
        text,
        Action::Inverse {
            sql,
            impact: impact.to_owned(),
            note,
        },
    )
}

fn manual(text: &str, reason: impl Into<String>) -> Entry {
    entry(
        text,
        Action::Manual {
            reason: reason.into(),
        },
    )
}

fn nothing(text: &str, reason: impl Into<String>) -> Entry {
    entry(
        text,
        Action::NothingToUndo {
            reason: reason.into(),
        },
    )
}

/// The inverse(s) of one statement, in execution order.
fn node_entries(node: &NodeEnum, text: &str, context: &Context, place: Place) -> Vec<Entry> {
    let note = |if_not_exists: bool| -> Option<String> {
        let mut notes = Vec::new();
        if if_not_exists && context.if_not_exists_notes {
            notes.push(
                "IF NOT EXISTS: if the object existed before, the original did nothing and \
                 this drops the earlier object",
            );
        }
        if place.in_do && context.if_not_exists_notes {
            notes.push(
                "ran inside a DO block, possibly conditionally: if it was skipped, the object \
                 was not created by it",
            );
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    };
    match node {
        NodeEnum::CreateStmt(s) => match relation(s.relation.as_ref(), place) {
            Some(name) => vec![inverse(
                text,
                format!("DROP TABLE IF EXISTS {name}"),
                "drops the table and every row in it (and sequences owned by its columns); \
                 fails if another object depends on it",
                note(s.if_not_exists),
            )],
            None => vec![manual(text, "the table name could not be read")],
        },
        NodeEnum::CreateTableAsStmt(s) => {
            let name = s
                .into
                .as_ref()
                .and_then(|i| relation(i.rel.as_ref(), place));
            let matview = s.objtype == ObjectType::ObjectMatview as i32;
            match name {
                Some(name) => vec![inverse(
                    text,
                    format!(
                        "DROP {} IF EXISTS {name}",
                        if matview {
                            "MATERIALIZED VIEW"
                        } else {
                            "TABLE"
                        }
                    ),
                    "drops it and its rows",
                    note(s.if_not_exists),
                )],
                None => vec![manual(
                    text,
                    "the name of the created table could not be read",
                )],
            }
        }
        NodeEnum::SelectStmt(s) => match &s.into_clause {
            Some(into) => match relation(into.rel.as_ref(), place) {
                Some(name) => vec![inverse(
                    text,
                    format!("DROP TABLE IF EXISTS {name}"),
                    "drops the table SELECT ... INTO created, and its rows",
                    note(false),
                )],
                None => vec![manual(
                    text,
                    "the name of the created table could not be read",
                )],
            },
            None => vec![nothing(
                text,
                "a query changes nothing (side effects of functions it calls are not followed)",
            )],
        },
        NodeEnum::IndexStmt(s) => {
            if s.idxname.is_empty() {
                return vec![manual(
                    text,
                    "the index has no name in the SQL (PostgreSQL chose one): find it with \\d \
                     on the table and DROP INDEX it",
                )];
            }
            let schema = s.relation.as_ref().map(|r| r.schemaname.as_str());
            let name = Name::qualified(schema, &s.idxname)
                .in_schema(place.default_schema)
                .quoted();
            vec![inverse(
                text,
                format!(
                    "DROP INDEX {}IF EXISTS {name}",
                    if s.concurrent { "CONCURRENTLY " } else { "" }
                ),
                "drops the index (no data is lost; queries that used it get slower, and a \
                 unique index stops enforcing uniqueness)",
                note(s.if_not_exists),
            )]
        }
        NodeEnum::AlterTableStmt(s) if changes_owner_only(s) => {
            let mut back = s.clone();
            for cmd in &mut back.cmds {
                if let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_mut() {
                    cmd.newowner = Some(current_user());
                }
            }
            owner_back(
                text,
                NodeEnum::AlterTableStmt(back).deparse(Default::default()),
            )
        }
        NodeEnum::AlterTableStmt(s) => alter_table(s, text, place, &note),
        NodeEnum::CreateSeqStmt(s) => match relation(s.sequence.as_ref(), place) {
            Some(name) => vec![inverse(
                text,
                format!("DROP SEQUENCE IF EXISTS {name}"),
                "drops the sequence and its current value; fails while a column default uses it",
                note(s.if_not_exists),
            )],
            None => vec![manual(text, "the sequence name could not be read")],
        },
        NodeEnum::AlterSeqStmt(s) => {
            let only_owned_by = !s.options.is_empty()
                && s.options.iter().all(
                    |o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == "owned_by"),
                );
            match (only_owned_by, relation(s.sequence.as_ref(), place)) {
                (true, Some(name)) => vec![inverse(
                    text,
                    format!("ALTER SEQUENCE IF EXISTS {name} OWNED BY NONE"),
                    "detaches the sequence from its column (so dropping the column or table no \
                     longer drops the sequence)",
                    Some(
                        "the previous owner is not recorded; NONE is right when the sequence \
                         was created in the same run or migration"
                            .to_owned(),
                    ),
                )],
                _ => vec![manual(
                    text,
                    "ALTER SEQUENCE changed settings whose previous values are not recorded",
                )],
            }
        }
        NodeEnum::CreateSchemaStmt(s) => {
            let name = if s.schemaname.is_empty() {
                s.authrole.as_ref().map(|r| r.rolename.clone())
            } else {
                Some(s.schemaname.clone())
            };
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                return vec![manual(text, "the schema name could not be read")];
            };
            let mut out = vec![inverse(
                text,
                format!("DROP SCHEMA IF EXISTS {}", quote_ident(&name)),
                "drops the schema; fails (no CASCADE) while anything else is in it",
                note(s.if_not_exists),
            )];
            let inner = Place {
                default_schema: Some(&name),
                ..place
            };
            for element in &s.schema_elts {
                if let Some(n) = &element.node {
                    out.extend(node_entries(n, text, context, inner));
                }
            }
            out
        }
        NodeEnum::CreateExtensionStmt(s) => vec![inverse(
            text,
            format!("DROP EXTENSION IF EXISTS {}", quote_ident(&s.extname)),
            "drops the extension and its objects; fails (no CASCADE) while your objects use \
             them",
            note(s.if_not_exists),
        )],
        NodeEnum::CreateEnumStmt(s) => drop_type(text, "TYPE", &s.type_name, place, note(false)),
        NodeEnum::CreateRangeStmt(s) => drop_type(text, "TYPE", &s.type_name, place, note(false)),
        NodeEnum::CompositeTypeStmt(s) => match relation(s.typevar.as_ref(), place) {
            Some(name) => vec![inverse(
                text,
                format!("DROP TYPE IF EXISTS {name}"),
                "drops the type; fails (no CASCADE) while a column or other object uses it",
                note(false),
            )],
            None => vec![manual(text, "the type name could not be read")],
        },
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectType as i32 => {
            drop_type(text, "TYPE", &s.defnames, place, note(s.if_not_exists))
        }
        NodeEnum::DefineStmt(s) if s.kind == ObjectType::ObjectAggregate as i32 => {
            drop_aggregate(s, text, place)
        }
        NodeEnum::CreateDomainStmt(s) => {
            drop_type(text, "DOMAIN", &s.domainname, place, note(false))
        }
        NodeEnum::AlterEnumStmt(s) => {
            let type_name = qualified(&s.type_name, place).unwrap_or_default();
            if s.old_val.is_empty() {
                vec![manual(
                    text,
                    format!(
                        "PostgreSQL cannot drop an enum label: label {} stays in {type_name} \
                         (to remove it, create a new type without it and move every column to \
                         it — by hand, after checking no row uses the label)",
                        quote_literal(&s.new_val)
                    ),
                )]
            } else {
                vec![inverse(
                    text,
                    format!(
                        "ALTER TYPE {type_name} RENAME VALUE {} TO {}",
                        quote_literal(&s.new_val),
                        quote_literal(&s.old_val)
                    ),
                    "renames the label back (rows keep their value under the old name)",
                    None,
                )]
            }
        }
        NodeEnum::CreateFunctionStmt(s) => drop_function(s, text, place),
        NodeEnum::ViewStmt(s) => match relation(s.view.as_ref(), place) {
            Some(name) if !s.replace => vec![inverse(
                text,
                format!("DROP VIEW IF EXISTS {name}"),
                "drops the view (no data is lost); fails while other views use it",
                note(false),
            )],
            Some(name) => vec![manual(
                text,
                format!(
                    "CREATE OR REPLACE VIEW may have replaced an earlier definition, which is \
                     not recorded: if {name} is new, DROP VIEW IF EXISTS {name}; otherwise \
                     restore its earlier definition"
                ),
            )],
            None => vec![manual(text, "the view name could not be read")],
        },
        NodeEnum::CreateTrigStmt(s) => match relation(s.relation.as_ref(), place) {
            Some(table) if !s.replace => vec![inverse(
                text,
                format!(
                    "DROP TRIGGER IF EXISTS {} ON {table}",
                    quote_ident(&s.trigname)
                ),
                "drops the trigger (what it did on each write stops)",
                note(false),
            )],
            _ => vec![manual(
                text,
                "CREATE OR REPLACE TRIGGER may have replaced an earlier trigger, which is not \
                 recorded",
            )],
        },
        NodeEnum::CreatePolicyStmt(s) => match relation(s.table.as_ref(), place) {
            Some(table) => vec![inverse(
                text,
                format!(
                    "DROP POLICY IF EXISTS {} ON {table}",
                    quote_ident(&s.policy_name)
                ),
                "drops the row-level security policy (with RLS on, rows it allowed become \
                 invisible to the roles it applied to)",
                note(false),
            )],
            None => vec![manual(text, "the table name could not be read")],
        },
        NodeEnum::AlterPolicyStmt(s) => {
            let table = relation(s.table.as_ref(), place).unwrap_or_default();
            vec![manual(
                text,
                format!(
                    "the roles and expressions policy {} on {table} had before are not in the \
                     statement: restore them with ALTER POLICY (a replace step applied by \
                     reconcile keeps them: roll back its run instead)",
                    quote_ident(&s.policy_name)
                ),
            )]
        }
        NodeEnum::GrantStmt(s) => {
            let mut flipped = s.clone();
            flipped.is_grant = !s.is_grant;
            // REVOKE's flag means GRANT OPTION FOR: the inverse revokes the privilege itself.
            flipped.grant_option = false;
            match NodeEnum::GrantStmt(flipped).deparse(Default::default()) {
                Ok(sql) if s.is_grant => vec![inverse(
                    text,
                    sql,
                    "revokes the privileges",
                    Some(
                        "if a privilege was held before the GRANT, revoking removes it too"
                            .to_owned(),
                    ),
                )],
                Ok(_) => vec![manual(
                    text,
                    "REVOKE: the privileges held before are not recorded; GRANT them again by \
                     hand if they should stay",
                )],
                Err(e) => vec![manual(text, format!("could not build the inverse: {e}"))],
            }
        }
        NodeEnum::AlterDefaultPrivilegesStmt(s) => {
            let Some(action) = &s.action else {
                return vec![manual(text, "the default privileges could not be read")];
            };
            if !action.is_grant {
                return vec![manual(
                    text,
                    "REVOKE of default privileges: which ones were set before is not recorded; \
                     grant them again by hand if they should stay",
                )];
            }
            let mut flipped = s.clone();
            if let Some(a) = flipped.action.as_mut() {
                a.is_grant = false;
                a.grant_option = false;
            }
            match NodeEnum::AlterDefaultPrivilegesStmt(flipped).deparse(Default::default()) {
                Ok(sql) => vec![inverse(
                    text,
                    sql,
                    "objects created from now on no longer get these privileges (objects \
                     created since keep what they got: their grants are separate statements)",
                    None,
                )],
                Err(e) => vec![manual(text, format!("could not build the inverse: {e}"))],
            }
        }
        NodeEnum::AlterOwnerStmt(s) => {
            let mut back = s.clone();
            back.newowner = Some(current_user());
            owner_back(
                text,
                NodeEnum::AlterOwnerStmt(back).deparse(Default::default()),
            )
        }
        NodeEnum::DoStmt(_) => do_block(text, context, place),
        NodeEnum::InsertStmt(_) => vec![manual(
            text,
            "INSERT added rows; which rows is not recorded (delete them by key, by hand)",
        )],
        NodeEnum::UpdateStmt(_) | NodeEnum::MergeStmt(_) => vec![manual(
            text,
            "changed rows whose previous values are not recorded (restore from a backup or \
             write a compensating statement)",
        )],
        NodeEnum::DeleteStmt(_) | NodeEnum::TruncateStmt(_) => vec![manual(
            text,
            "removed rows; they are not recorded (restore them from a backup)",
        )],
        NodeEnum::DropStmt(_)
        | NodeEnum::DropdbStmt(_)
        | NodeEnum::DropRoleStmt(_)
        | NodeEnum::DropOwnedStmt(_) => vec![manual(
            text,
            "a DROP cannot be reversed from its text: the definition and data of what it \
             dropped are gone (recreate it from its original definition or a backup)",
        )],
        NodeEnum::RenameStmt(_) => vec![manual(
            text,
            "a rename: rename it back by hand (ALTER ... RENAME TO the old name)",
        )],
        NodeEnum::CommentStmt(s) if s.comment.is_empty() => vec![manual(
            text,
            "removed a comment; its text is not recorded (set it again with COMMENT ON ... IS)",
        )],
        NodeEnum::CommentStmt(s) => {
            // Plans set a comment with this statement only where the object had none (a
            // changed comment is a replace step that keeps the old text): removing is exact.
            let mut removed = s.clone();
            removed.comment = String::new();
            match NodeEnum::CommentStmt(removed).deparse(Default::default()) {
                Ok(sql) => vec![inverse(
                    text,
                    sql,
                    "removes the comment (documentation only; no data is touched)",
                    context.if_not_exists_notes.then(|| {
                        "if the object had a comment before, its text is not recorded: this \
                         removes the comment instead of restoring it"
                            .to_owned()
                    }),
                )],
                Err(e) => vec![manual(text, format!("could not build the inverse: {e}"))],
            }
        }
        NodeEnum::VariableSetStmt(_)
        | NodeEnum::VariableShowStmt(_)
        | NodeEnum::TransactionStmt(_) => vec![nothing(
            text,
            "session or transaction control; it changed no object",
        )],
        NodeEnum::ExplainStmt(_) => vec![manual(
            text,
            "EXPLAIN (ANALYZE) runs its statement; invert that statement by hand",
        )],
        other => {
            let name = classify::classify(text)
                .ok()
                .and_then(|s| s.into_iter().next())
                .map(|s| match s.kind {
                    Kind::Other(n) => n,
                    k => format!("{k:?}"),
                })
                .unwrap_or_else(|| format!("{other:?}").chars().take(30).collect());
            vec![manual(
                text,
                format!("no automatic inverse for this kind of statement ({name})"),
            )]
        }
    }
}

/// `CURRENT_USER`, as the parser writes it in `OWNER TO`.
fn current_user() -> protobuf::RoleSpec {
    protobuf::RoleSpec {
        roletype: protobuf::RoleSpecType::RolespecCurrentUser as i32,
        rolename: String::new(),
        location: -1,
    }
}

/// `ALTER TABLE|SEQUENCE|VIEW ... OWNER TO role` and nothing else.
fn changes_owner_only(s: &protobuf::AlterTableStmt) -> bool {
    !s.cmds.is_empty()
        && s.cmds.iter().all(|c| {
            matches!(&c.node, Some(NodeEnum::AlterTableCmd(cmd))
                if cmd.subtype == AlterTableType::AtChangeOwner as i32)
        })
}

/// The inverse of an owner change: the object back to the role running the guide.
fn owner_back(text: &str, deparsed: Result<String, pg_query::Error>) -> Vec<Entry> {
    match deparsed {
        Ok(sql) => vec![inverse(
            text,
            sql,
            "gives the object back to the role running this (the role it was given to loses \
             its owner's privileges on it)",
            Some(
                "the previous owner is not recorded: reconcile sets an owner only on an object \
                 it has just created, which belonged to the role that applied the plan — run \
                 this as that role"
                    .to_owned(),
            ),
        )],
        Err(e) => vec![manual(text, format!("could not build the inverse: {e}"))],
    }
}

/// The subcommands of an `ALTER TABLE`, each inverted on its own.
fn alter_table(
    s: &protobuf::AlterTableStmt,
    text: &str,
    place: Place,
    note: &dyn Fn(bool) -> Option<String>,
) -> Vec<Entry> {
    let Some(table) = relation(s.relation.as_ref(), place) else {
        return vec![manual(text, "the table name could not be read")];
    };
    let attaches_index = s.objtype == ObjectType::ObjectIndex as i32
        && s.cmds.iter().all(|c| {
            matches!(&c.node, Some(NodeEnum::AlterTableCmd(cmd))
                if cmd.subtype == AlterTableType::AtAttachPartition as i32)
        });
    if attaches_index {
        return vec![manual(
            text,
            format!(
                "a partition's index attached to the partitioned index {table} cannot be \
                 detached or dropped alone: it goes with {table} (DROP INDEX {table} for an \
                 index, ALTER TABLE ... DROP CONSTRAINT for a key, which drops every \
                 partition's part with it) — do that before the partitions' indexes below"
            ),
        )];
    }
    if s.objtype != ObjectType::ObjectTable as i32 {
        return vec![manual(
            text,
            "an ALTER of something other than a table: its previous state is not recorded",
        )];
    }
    let alter = format!("ALTER TABLE IF EXISTS {table}");
    let mut out = Vec::new();
    for cmd in &s.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node else {
            continue;
        };
        let subtype = AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
        let e = match subtype {
            AlterTableType::AtAddColumn => match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                Some(NodeEnum::ColumnDef(c)) => inverse(
                    text,
                    format!("{alter} DROP COLUMN IF EXISTS {}", quote_ident(&c.colname)),
                    "drops the column and every value in it (and its indexes and \
                         constraints)",
                    note(cmd.missing_ok),
                ),
                _ => manual(text, "the added column's name could not be read"),
            },
            AlterTableType::AtAddConstraint => {
                match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                    Some(NodeEnum::Constraint(c)) if !c.conname.is_empty() => {
                        let what = match ConstrType::try_from(c.contype) {
                            Ok(ConstrType::ConstrPrimary) => {
                                "drops the primary key and its index (no data is lost)"
                            }
                            Ok(ConstrType::ConstrUnique) => {
                                "drops the unique constraint and its index (no data is lost)"
                            }
                            Ok(ConstrType::ConstrForeign) => {
                                "drops the foreign key: references are no longer checked"
                            }
                            Ok(ConstrType::ConstrCheck) => {
                                "drops the check: rows are no longer checked"
                            }
                            _ => "drops the constraint (no data is lost)",
                        };
                        inverse(
                            text,
                            format!(
                                "{alter} DROP CONSTRAINT IF EXISTS {}",
                                quote_ident(&c.conname)
                            ),
                            what,
                            note(false),
                        )
                    }
                    _ => manual(
                        text,
                        "the constraint has no name in the SQL (PostgreSQL chose one): find it \
                         with \\d on the table and DROP CONSTRAINT it",
                    ),
                }
            }
            AlterTableType::AtValidateConstraint => nothing(
                text,
                "VALIDATE CONSTRAINT has no inverse and needs none (it only checked existing \
                 rows)",
            ),
            AlterTableType::AtEnableRowSecurity => inverse(
                text,
                format!("{alter} DISABLE ROW LEVEL SECURITY"),
                "turns row-level security off: its policies stop applying and every role \
                 with table privileges sees every row",
                None,
            ),
            AlterTableType::AtForceRowSecurity => inverse(
                text,
                format!("{alter} NO FORCE ROW LEVEL SECURITY"),
                "the table owner is no longer subject to the policies",
                None,
            ),
            AlterTableType::AtDisableRowSecurity => inverse(
                text,
                format!("{alter} ENABLE ROW LEVEL SECURITY"),
                "turns row-level security back on: roles without a policy see no rows",
                None,
            ),
            AlterTableType::AtNoForceRowSecurity => inverse(
                text,
                format!("{alter} FORCE ROW LEVEL SECURITY"),
                "the table owner is subject to the policies again",
                None,
            ),
            AlterTableType::AtSetNotNull => inverse(
                text,
                format!(
                    "{alter} ALTER COLUMN {} DROP NOT NULL",
                    quote_ident(&cmd.name)
                ),
                "the column accepts NULL again",
                Some("only right if the column was nullable before".to_owned()),
            ),
            AlterTableType::AtEnableTrig
            | AlterTableType::AtEnableAlwaysTrig
            | AlterTableType::AtEnableReplicaTrig
            | AlterTableType::AtDisableTrig => {
                // The state before is not in the text; the usual one is the other way round.
                let back = if subtype == AlterTableType::AtDisableTrig {
                    "ENABLE"
                } else {
                    "DISABLE"
                };
                inverse(
                    text,
                    format!("{alter} {back} TRIGGER {}", quote_ident(&cmd.name)),
                    "changes back when the trigger fires",
                    Some(
                        "the trigger's state before this statement is not recorded, so this \
                         is a guess: check it (a trigger created just before was enabled)"
                            .to_owned(),
                    ),
                )
            }
            AlterTableType::AtEnableTrigAll
            | AlterTableType::AtEnableTrigUser
            | AlterTableType::AtDisableTrigAll
            | AlterTableType::AtDisableTrigUser => {
                let back = match subtype {
                    AlterTableType::AtEnableTrigAll => "DISABLE TRIGGER ALL",
                    AlterTableType::AtEnableTrigUser => "DISABLE TRIGGER USER",
                    AlterTableType::AtDisableTrigAll => "ENABLE TRIGGER ALL",
                    _ => "ENABLE TRIGGER USER",
                };
                inverse(
                    text,
                    format!("{alter} {back}"),
                    "changes back when the table's triggers fire (ALL includes the ones that \
                     enforce its foreign keys)",
                    Some(
                        "the triggers' states before this statement are not recorded, so this \
                         sets them all alike: check each one (\\d on the table lists them)"
                            .to_owned(),
                    ),
                )
            }
            AlterTableType::AtAttachPartition => {
                match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                    Some(NodeEnum::PartitionCmd(p)) => match relation(p.name.as_ref(), place) {
                        Some(partition) => inverse(
                            text,
                            format!("ALTER TABLE {table} DETACH PARTITION {partition}"),
                            "the partition becomes a table of its own again: its rows leave \
                             the partitioned table's queries (none are deleted); takes ACCESS \
                             EXCLUSIVE on the partitioned table (CONCURRENTLY, in a file of \
                             its own outside a transaction, does not)",
                            None,
                        ),
                        None => manual(text, "the partition's name could not be read"),
                    },
                    _ => manual(text, "the partition could not be read"),
                }
            }
            AlterTableType::AtDetachPartition => {
                let partition = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                    Some(NodeEnum::PartitionCmd(p)) => relation(p.name.as_ref(), place),
                    _ => None,
                }
                .unwrap_or_else(|| "the partition".to_owned());
                manual(
                    text,
                    format!(
                        "the bound {partition} had is not in the statement: attach it again \
                         with ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES ... \
                         (its old bound; `reconcile plan` against the desired state names it), \
                         after checking that no row written since lies outside it"
                    ),
                )
            }
            AlterTableType::AtDetachPartitionFinalize => nothing(
                text,
                "FINALIZE completes a DETACH ... CONCURRENTLY that was interrupted; undo that \
                 DETACH instead",
            ),
            AlterTableType::AtDropColumn | AlterTableType::AtDropConstraint => manual(
                text,
                "a DROP cannot be reversed from its text: the definition (and data) of what it \
                 dropped are gone",
            ),
            other => manual(
                text,
                format!(
                    "{}: the previous state is not recorded",
                    other.as_str_name().trim_start_matches("AT_")
                ),
            ),
        };
        out.push(e);
    }
    out
}

/// `DROP <what> IF EXISTS name` for a type or domain given as a name list.
fn drop_type(
    text: &str,
    what: &str,
    names: &[protobuf::Node],
    place: Place,
    note: Option<String>,
) -> Vec<Entry> {
    match qualified(names, place) {
        Some(name) => vec![inverse(
            text,
            format!("DROP {what} IF EXISTS {name}"),
            "drops the type; fails (no CASCADE) while a column or other object uses it",
            note,
        )],
        None => vec![manual(text, "the type name could not be read")],
    }
}

fn drop_function(s: &protobuf::CreateFunctionStmt, text: &str, place: Place) -> Vec<Entry> {
    let mut funcname = s.funcname.clone();
    if funcname.len() == 1
        && let Some(schema) = place.default_schema
    {
        funcname.insert(0, string_node(schema));
    }
    let args = s
        .parameters
        .iter()
        .filter_map(|p| match &p.node {
            Some(NodeEnum::FunctionParameter(p)) => {
                let input = matches!(
                    FunctionParameterMode::try_from(p.mode),
                    Ok(FunctionParameterMode::FuncParamIn
                        | FunctionParameterMode::FuncParamInout
                        | FunctionParameterMode::FuncParamVariadic
                        | FunctionParameterMode::FuncParamDefault)
                );
                input.then(|| p.arg_type.clone()).flatten()
            }
            _ => None,
        })
        .map(|t| protobuf::Node {
            node: Some(NodeEnum::TypeName(t)),
        })
        .collect();
    let kind = if s.is_procedure {
        ObjectType::ObjectProcedure
    } else {
        ObjectType::ObjectFunction
    };
    drop_routine(
        Routine {
            name: funcname,
            args,
            kind,
            replace: s.replace,
        },
        text,
        ("function", "a default, trigger, view or other object"),
    )
}

fn drop_aggregate(s: &protobuf::DefineStmt, text: &str, place: Place) -> Vec<Entry> {
    let mut name = s.defnames.clone();
    if name.len() == 1
        && let Some(schema) = place.default_schema
    {
        name.insert(0, string_node(schema));
    }
    // `CREATE AGGREGATE name (args) (...)`: the arguments, direct and aggregated, are the
    // first element of `args`, none for `(*)` (the old form, with BASETYPE, has no `args`).
    let types: Option<Vec<protobuf::Node>> = match s.args.first().map(|a| a.node.as_ref()) {
        // `(*)`
        Some(None) => Some(Vec::new()),
        Some(Some(NodeEnum::List(list))) => Some(
            list.items
                .iter()
                .filter_map(|p| match &p.node {
                    Some(NodeEnum::FunctionParameter(p)) => p.arg_type.clone(),
                    _ => None,
                })
                .map(|t| protobuf::Node {
                    node: Some(NodeEnum::TypeName(t)),
                })
                .collect(),
        ),
        _ => None,
    };
    let Some(types) = types else {
        return vec![manual(
            text,
            "the aggregate's argument types could not be read (old BASETYPE form)",
        )];
    };
    drop_routine(
        Routine {
            name,
            args: types,
            kind: ObjectType::ObjectAggregate,
            replace: s.replace,
        },
        text,
        ("aggregate", "a view or function"),
    )
}

/// A function, procedure or aggregate a statement creates: its name and argument types as
/// parse-tree nodes, and whether it was `CREATE OR REPLACE`.
struct Routine {
    name: Vec<protobuf::Node>,
    args: Vec<protobuf::Node>,
    kind: ObjectType,
    replace: bool,
}

/// The inverse of creating `routine` (`what`: "function" or "aggregate"; `users`: what
/// makes the DROP fail): its DROP, or — after `CREATE OR REPLACE`, which may have replaced
/// an earlier definition that is not recorded — a manual entry saying so.
fn drop_routine(routine: Routine, text: &str, (what, users): (&str, &str)) -> Vec<Entry> {
    let drop = protobuf::DropStmt {
        objects: vec![protobuf::Node {
            node: Some(NodeEnum::ObjectWithArgs(protobuf::ObjectWithArgs {
                objname: routine.name,
                objargs: routine.args,
                objfuncargs: Vec::new(),
                args_unspecified: false,
            })),
        }],
        remove_type: routine.kind as i32,
        behavior: DropBehavior::DropRestrict as i32,
        missing_ok: true,
        concurrent: false,
    };
    match NodeEnum::DropStmt(drop).deparse(Default::default()) {
        Ok(sql) if !routine.replace => vec![inverse(
            text,
            sql,
            &format!("drops the {what}; fails while {users} uses it"),
            None,
        )],
        Ok(sql) => vec![manual(
            text,
            format!(
                "CREATE OR REPLACE may have replaced an earlier definition, which is not \
                 recorded: if the {what} is new, {sql}; otherwise restore its earlier \
                 definition"
            ),
        )],
        Err(e) => vec![manual(
            text,
            format!("could not build DROP {}: {e}", what.to_uppercase()),
        )],
    }
}

/// The statements a `DO` block runs, each inverted (queries — the catalog guards — need no
/// inverse and are left out).
fn do_block(text: &str, context: &Context, place: Place) -> Vec<Entry> {
    let statements = match classify::classify(text) {
        Ok(s) => s,
        Err(e) => return vec![manual(text, format!("the DO block could not be read: {e}"))],
    };
    let mut out = Vec::new();
    for statement in &statements {
        nested(statement, context, place, &mut out);
    }
    if out.is_empty() {
        out.push(nothing(
            text,
            "the DO block runs only queries (functions it calls are not followed)",
        ));
    }
    out
}

fn nested(statement: &classify::Statement, context: &Context, place: Place, out: &mut Vec<Entry>) {
    let inner = Place {
        in_do: true,
        ..place
    };
    match &statement.kind {
        Kind::Do { language } if language == "plpgsql" => {
            for n in &statement.nested {
                nested(n, context, inner, out);
            }
        }
        Kind::Do { language } => out.push(manual(
            &statement.text,
            format!("a DO block in {language}: its body cannot be read"),
        )),
        Kind::Select => {}
        Kind::DynamicSql => out.push(manual(
            &statement.text,
            "EXECUTE of SQL computed at run time: what it ran is not known",
        )),
        _ => match Script::parse(&statement.text) {
            Ok(script) => {
                for s in script.statements() {
                    out.extend(node_entries(s.node, s.text, context, inner));
                }
            }
            Err(e) => out.push(manual(
                &statement.text,
                format!("does not parse: {}", e.message),
            )),
        },
    }
}

/// After inverting in execution order: an `ADD VALUE` to an enum that an earlier statement
/// created needs no inverse (dropping the type drops the label).
pub(super) fn resolve_enum_labels(entries: &mut [Entry]) {
    let mut created = std::collections::BTreeSet::new();
    for e in entries.iter_mut() {
        if let Action::Inverse { sql, .. } = &e.action
            && let Some(name) = sql.strip_prefix("DROP TYPE IF EXISTS ")
        {
            created.insert(name.to_owned());
            continue;
        }
        if let Action::Manual { reason } = &e.action
            && reason.starts_with("PostgreSQL cannot drop an enum label")
            && let Some(name) = created
                .iter()
                .find(|n| reason.contains(&format!(" stays in {n} ")))
        {
            e.action = Action::NothingToUndo {
                reason: format!("the label goes with the type {name}, which is dropped too"),
            };
        }
    }
}

/// `schema.name` (or `name`) of a relation, quoted.
fn relation(r: Option<&protobuf::RangeVar>, place: Place) -> Option<String> {
    Some(
        Name::of_relation(r?)?
            .in_schema(place.default_schema)
            .quoted(),
    )
}

/// A dotted name from a list of String nodes, quoted.
fn qualified(names: &[protobuf::Node], place: Place) -> Option<String> {
    Some(
        Name::of_list(names)?
            .in_schema(place.default_schema)
            .quoted(),
    )
}

fn string_node(text: &str) -> protobuf::Node {
    protobuf::Node {
        node: Some(NodeEnum::String(protobuf::String {
            sval: text.to_owned(),
        })),
    }
}

/// Whitespace (including newlines and carriage returns) collapsed to single spaces, so the
/// text can sit in a `--` comment.
pub(super) fn one_line(text: &str) -> String {
    const MAX: usize = 240;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{} …", &line[..cut]),
        None => line,
    }
}

/// `text` as `--` comment lines of at most about 96 columns (every line break, also `\r`,
/// starts a new comment line, so nothing in `text` can end the comment early). Continuation
/// lines keep the first line's indentation plus two spaces.
pub(super) fn comment(text: &str) -> String {
    const WIDTH: usize = 96;
    let mut out = Vec::new();
    for line in text.split(['\n', '\r']) {
        let indent = line.len() - line.trim_start().len();
        let first = format!("--{}", " ".repeat(indent + 1));
        let mut current = first.clone();
        let mut words = 0;
        for word in line.split_whitespace() {
            if words > 0 && current.len() + 1 + word.len() > WIDTH {
                out.push(current);
                current = format!("--{}", " ".repeat(indent + 3));
                words = 0;
            }
            if words > 0 {
                current.push(' ');
            }
            current.push_str(word);
            words += 1;
        }
        out.push(current.trim_end().to_owned());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the last statement of a file without a final `;` carried the comment after
    /// it into the guide's "original" text; a file that does not parse now says where.
    #[test]
    fn statements_are_their_tokens_with_their_lines() {
        let sql = "-- 0007\nCREATE SCHEMA IF NOT EXISTS \"App\";\n\n/* the table */\n  \
                   CREATE TABLE \"App\".t (id int) -- done\n";
        let entries = statements(sql, &Context::RUN).unwrap();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.origin.as_str(), e.original.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "statement 1 (line 2)",
                    "CREATE SCHEMA IF NOT EXISTS \"App\""
                ),
                ("statement 2 (line 5)", "CREATE TABLE \"App\".t (id int)"),
            ]
        );
        let e = statements("SELECT 1;\nCREATE TABLE (;\n", &Context::RUN).unwrap_err();
        assert!(e.starts_with("line 2: syntax error"), "{e}");
    }

    #[test]
    fn an_attached_partition_index_goes_with_its_parent() {
        let sql = "CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);\n\
                   ALTER INDEX public.p_a_idx ATTACH PARTITION public.p1_a_idx;";
        let entries = statements(sql, &Context::RUN).unwrap();
        assert!(
            matches!(&entries[0].action, Action::Inverse { sql, .. } if sql == "DROP TABLE IF EXISTS p1"),
            "{:?}",
            entries[0].action
        );
        match &entries[1].action {
            Action::Manual { reason } => {
                assert!(reason.contains("DROP INDEX public.p_a_idx"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_aggregate_is_dropped_with_its_argument_types() {
        let inverse = |sql: &str| match &statements(sql, &Context::RUN).unwrap()[0].action {
            Action::Inverse { sql, .. } => sql.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            inverse("CREATE AGGREGATE app.\"Total\"(integer) (SFUNC = int4pl, STYPE = integer)"),
            "DROP AGGREGATE IF EXISTS app.\"Total\"(int)"
        );
        assert_eq!(
            inverse("CREATE AGGREGATE cnt(*) (SFUNC = int8inc, STYPE = int8)"),
            "DROP AGGREGATE IF EXISTS cnt(*)"
        );
        assert_eq!(
            inverse(
                "CREATE AGGREGATE p(float8 ORDER BY anyelement) (SFUNC = ordered_set_transition, \
                 STYPE = internal)"
            ),
            "DROP AGGREGATE IF EXISTS p(float8, anyelement)"
        );
    }

    #[test]
    fn names_are_quoted_and_take_the_schema_of_create_schema() {
        let sql = "CREATE SCHEMA s CREATE TABLE \"T\" (id int) CREATE INDEX i ON \"T\" (id);";
        let entries = statements(sql, &Context::RUN).unwrap();
        let inverses: Vec<&str> = entries
            .iter()
            .filter_map(|e| match &e.action {
                Action::Inverse { sql, .. } => Some(sql.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            inverses,
            [
                "DROP SCHEMA IF EXISTS s",
                "DROP TABLE IF EXISTS s.\"T\"",
                "DROP INDEX IF EXISTS s.i"
            ]
        );
    }
}
