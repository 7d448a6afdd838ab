//! `.sql` files in the desired-state folder: statements that declare objects.
//!
//! Views, functions, procedures, aggregates and triggers are written in SQL (and a team may
//! keep tables, types and indexes there too). Each file is split with PostgreSQL's own parser
//! into statements, each with its line; only statements that declare objects are accepted —
//! not DML, not DROP, not `DO`, not ownership or privileges — and each refusal names the
//! statement, its line and why. What they declare becomes part of the model when the
//! statements are built on the scratch server and read back (`canon::sql`), so YAML and SQL
//! give one model.

use std::path::{Path, PathBuf};

use pg_query::NodeEnum;

use super::error::{LoadError, Origin};
use crate::classify::{self, Kind};
use crate::ident::{Ident, QualifiedName};
use crate::model::{ObjectId, Policy, PolicyCommand, PolicyKey};
use crate::sql::split::Script;

/// One accepted statement of a `.sql` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement {
    pub file: PathBuf,
    /// 1-based line of its first token.
    pub line: u32,
    /// Its text, without the final `;`.
    pub text: String,
    /// What it declares, as `kind schema.name` words for messages (`view public.v`), and the
    /// schema it puts it in (`public` when unqualified: statements run with that search path).
    pub declares: Option<(String, String)>,
    /// Its parse as the unchanged-statement check needs it, once computed.
    pub preparation: crate::canon::Preparation,
}

impl SqlStatement {
    pub fn origin(&self) -> Origin {
        Origin::new(&self.file, self.line, 1)
    }
}

/// Whether the path is a `.sql` file.
pub(crate) fn is_sql(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "sql")
}

/// The statements of one file, or every problem in it.
pub(crate) fn statements(path: &Path, text: &str) -> Result<Vec<SqlStatement>, Vec<LoadError>> {
    let script = Script::parse(text).map_err(|e| {
        vec![
            LoadError::new(
                Origin::new(path, e.line as u32, 1),
                format!("SQL syntax error: {}", e.message),
            )
            .help("each statement of a desired-state .sql file must be valid PostgreSQL"),
        ]
    })?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for statement in script.statements() {
        let line = statement.line as u32;
        let origin = Origin::new(path, line, 1);
        if is_set_config(statement.node) {
            // pg_dump's `SELECT pg_catalog.set_config('search_path', '', false)`: a SET.
            continue;
        }
        // Classified from the file's parse: parsing each statement again took as long.
        let kind = match classify::classify_parsed(&statement) {
            Ok(classified) => Some(classified.kind),
            Err(e) => {
                errors.push(LoadError::new(origin, e.to_string()));
                continue;
            }
        };
        if let Some(Some(why)) = kind.as_ref().map(refusal) {
            {
                errors.push(
                    LoadError::new(
                        origin,
                        format!(
                            "`{}` is not a declaration: {why}",
                            first_words(statement.text)
                        ),
                    )
                    .help(
                        "a desired-state .sql file holds CREATE statements (tables, types, \
                         indexes, views, functions, procedures, aggregates, triggers); data \
                         changes, DROPs and DO blocks belong in migrations/",
                    ),
                );
                continue;
            }
        }
        if matches!(kind, Some(Kind::Set { .. } | Kind::Reset { .. })) {
            // pg_dump's preamble: settings for the session, declaring nothing.
            continue;
        }
        out.push(SqlStatement {
            file: path.to_owned(),
            line,
            text: statement.text.to_owned(),
            declares: declared(statement.node),
            preparation: Default::default(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Takes out of `statements` what declares part of the model without the server's help:
/// every `CREATE POLICY` (built on the scratch server later, with what the target has; see
/// `canon::policies`), and `ALTER TABLE ... ENABLE/FORCE ROW LEVEL SECURITY` of a table the
/// YAML files declare (built there, it would be lost with the YAML table it changes).
pub(crate) fn absorb(
    schema: &mut crate::model::Schema,
    declared: &mut std::collections::BTreeMap<ObjectId, Origin>,
    statements: &mut Vec<SqlStatement>,
) -> Vec<LoadError> {
    use pg_query::protobuf::AlterTableType;
    let mut errors = Vec::new();
    statements.retain(|statement| {
        // A statement that declares an object is neither a policy nor an ALTER TABLE: only
        // the others are parsed again.
        if statement.declares.is_some() {
            return true;
        }
        let Ok(parsed) = pg_query::parse(&statement.text, pg_query::ParserOptions::DEFAULT) else {
            return true;
        };
        let node = parsed
            .protobuf
            .stmts
            .first()
            .and_then(|s| s.stmt.as_ref())
            .and_then(|n| n.node.as_ref());
        match node {
            Some(NodeEnum::CreatePolicyStmt(_)) => {
                match policy(&statement.text).and_then(|p| p.ok_or_else(String::new)) {
                    Ok((key, policy)) => {
                        if let Some(error) = checked(&key, &policy, statement) {
                            errors.push(error);
                            return false;
                        }
                        let id = ObjectId::Policy {
                            table: key.table.clone(),
                            name: key.name.clone(),
                        };
                        if let Some(first) = declared.get(&id) {
                            errors.push(
                                LoadError::new(
                                    statement.origin(),
                                    format!("{id} is declared twice (first at {first})"),
                                )
                                .help("keep one of the two declarations"),
                            );
                        } else {
                            declared.insert(id, statement.origin());
                            schema.policies.insert(key, policy);
                        }
                    }
                    Err(why) => errors.push(
                        LoadError::new(
                            statement.origin(),
                            format!("cannot declare this policy: {why}"),
                        )
                        .help("see the policies section of docs/schema-format.md"),
                    ),
                }
                false
            }
            Some(NodeEnum::AlterTableStmt(a)) => {
                let Some(relation) = &a.relation else {
                    return true;
                };
                let table = QualifiedName::new(
                    Ident::from_catalog(if relation.schemaname.is_empty() {
                        "public".to_owned()
                    } else {
                        relation.schemaname.clone()
                    }),
                    Ident::from_catalog(relation.relname.clone()),
                );
                let subtypes: Vec<AlterTableType> = a
                    .cmds
                    .iter()
                    .filter_map(|c| match &c.node {
                        Some(NodeEnum::AlterTableCmd(c)) => {
                            AlterTableType::try_from(c.subtype).ok()
                        }
                        _ => None,
                    })
                    .collect();
                let only_rls = !subtypes.is_empty()
                    && subtypes.len() == a.cmds.len()
                    && subtypes.iter().all(|t| {
                        matches!(
                            t,
                            AlterTableType::AtEnableRowSecurity
                                | AlterTableType::AtForceRowSecurity
                        )
                    });
                match schema.tables.get_mut(&table) {
                    Some(t) if only_rls => {
                        for subtype in subtypes {
                            match subtype {
                                AlterTableType::AtEnableRowSecurity => t.row_level_security = true,
                                _ => t.force_row_level_security = true,
                            }
                        }
                        false
                    }
                    _ => true,
                }
            }
            _ => true,
        }
    });
    errors
}

/// What PostgreSQL would refuse about a policy written in SQL, or a `USING`/`WITH CHECK`
/// that is not one condition.
fn checked(key: &PolicyKey, policy: &Policy, statement: &SqlStatement) -> Option<LoadError> {
    let command = policy.command;
    if policy.using.is_some() && !command.has_using() {
        return Some(
            LoadError::new(
                statement.origin(),
                format!("{key}: a policy for INSERT cannot have a USING expression"),
            )
            .help("INSERT policies take only WITH CHECK"),
        );
    }
    if policy.check.is_some() && !command.has_check() {
        return Some(
            LoadError::new(
                statement.origin(),
                format!(
                    "{key}: a policy for {} cannot have a WITH CHECK expression",
                    command.sql()
                ),
            )
            .help("SELECT and DELETE policies take only USING"),
        );
    }
    for expression in policy.expressions() {
        if let Err(e) = crate::normalise::validate_condition(expression) {
            return Some(LoadError::new(
                statement.origin(),
                format!("{key}: `{expression}` is not one condition: {e}"),
            ));
        }
    }
    for role in &policy.roles {
        if let Err(e) = Ident::new(role.as_str()) {
            return Some(LoadError::new(
                statement.origin(),
                format!("{key}: invalid role name: {e}"),
            ));
        }
    }
    None
}

/// Whether the statement is `SELECT [pg_catalog.]set_config('name', 'value', false)` and
/// nothing else: a session setting written as a query, as every pg_dump preamble has it.
/// Anything more (a FROM, a second column, a computed argument) is a query and refused.
fn is_set_config(node: &NodeEnum) -> bool {
    let NodeEnum::SelectStmt(select) = node else {
        return false;
    };
    let plain = select.from_clause.is_empty()
        && select.where_clause.is_none()
        && select.with_clause.is_none()
        && select.into_clause.is_none()
        && select.group_clause.is_empty()
        && select.having_clause.is_none()
        && select.values_lists.is_empty()
        && select.sort_clause.is_empty()
        && select.limit_count.is_none()
        && select.locking_clause.is_empty()
        && select.larg.is_none()
        && select.target_list.len() == 1;
    if !plain {
        return false;
    }
    let Some(NodeEnum::ResTarget(target)) = select.target_list[0].node.as_ref() else {
        return false;
    };
    let Some(NodeEnum::FuncCall(call)) = target.val.as_ref().and_then(|v| v.node.as_ref()) else {
        return false;
    };
    let name: Vec<&str> = call
        .funcname
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    let constant = |arg: &pg_query::protobuf::Node| matches!(arg.node, Some(NodeEnum::AConst(_)));
    matches!(
        name.as_slice(),
        ["set_config"] | ["pg_catalog", "set_config"]
    ) && call.args.len() == 3
        && call.args.iter().all(constant)
        && call.agg_filter.is_none()
        && call.over.is_none()
}

/// Why a statement of this kind cannot be part of a desired state, or `None` when it can.
fn refusal(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Set { .. } | Kind::Reset { .. } => None,
        Kind::Drop { .. } => {
            Some("a DROP removes objects; the desired state only says what exists")
        }
        Kind::Truncate | Kind::Delete { .. } | Kind::Update { .. } | Kind::Insert | Kind::Merge => {
            Some("it changes data, which the desired state does not describe")
        }
        Kind::Do { .. } | Kind::DynamicSql => {
            Some("a DO block runs code; what it would create cannot be known without running it")
        }
        Kind::Select | Kind::Explain { .. } => Some("a query declares nothing"),
        Kind::Transaction(_) => Some("transaction control has no meaning in a desired state"),
        Kind::Rename { .. } => {
            Some("a rename changes an existing object; write its new name instead")
        }
        Kind::Comment { removes: true } => Some(
            "it removes a comment; the desired state only says which comments exist (leave \
             the COMMENT ON out)",
        ),
        Kind::AlterPolicy => Some(
            "ALTER POLICY changes a policy; write the policy as it should be (CREATE POLICY) \
             instead",
        ),
        // Built on the scratch server (which lacks the roles) and never read back from it:
        // accepted, they would be ignored without a word.
        Kind::Grant | Kind::Revoke | Kind::AlterDefaultPrivileges { .. } => Some(
            "privileges are YAML (`grants:`, `default_privileges:`; pg_dump --no-privileges \
             leaves them out)",
        ),
        Kind::AlterOwner { .. } => Some(
            "owners are YAML (`owner:` for a schema's objects, `owners:` for exceptions; \
             pg_dump --no-owner leaves them out)",
        ),
        Kind::AlterTable { actions, .. }
            if actions.iter().any(
                |a| matches!(a, classify::AlterTableAction::Other(x) if x.contains("Owner")),
            ) =>
        {
            Some(
                "owners are YAML (`owner:` for a schema's objects, `owners:` for exceptions; \
                 pg_dump --no-owner leaves them out)",
            )
        }
        Kind::Other(_) => Some("reconcile does not know what this statement declares"),
        _ => None,
    }
}

fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(4).collect();
    let mut out = words.join(" ");
    if text.split_whitespace().count() > 4 {
        out.push_str(" …");
    }
    out
}

/// `(kind, schema.name)` of the object a statement declares, from its parse tree.
fn declared(node: &NodeEnum) -> Option<(String, String)> {
    let relation = |r: &Option<pg_query::protobuf::RangeVar>| {
        r.as_ref().map(|r| {
            let schema = if r.schemaname.is_empty() {
                "public".to_owned()
            } else {
                r.schemaname.clone()
            };
            (schema, r.relname.clone())
        })
    };
    let named = |kind: &str, (schema, name): (String, String)| {
        Some((
            format!(
                "{kind} {}",
                crate::ident::QualifiedName::new(
                    crate::ident::Ident::from_catalog(schema.clone()),
                    crate::ident::Ident::from_catalog(name)
                )
            ),
            schema,
        ))
    };
    let list = |names: &[pg_query::protobuf::Node]| -> Option<(String, String)> {
        let parts: Vec<String> = names
            .iter()
            .filter_map(|n| match &n.node {
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            })
            .collect();
        match parts.as_slice() {
            [name] => Some(("public".to_owned(), name.clone())),
            [schema, name] => Some((schema.clone(), name.clone())),
            _ => None,
        }
    };
    match node {
        NodeEnum::ViewStmt(s) => named("view", relation(&s.view)?),
        NodeEnum::CreateStmt(s) => named("table", relation(&s.relation)?),
        NodeEnum::CreateTableAsStmt(s) => named(
            "materialized view",
            relation(&s.into.as_ref().and_then(|i| i.rel.clone()))?,
        ),
        NodeEnum::CreateFunctionStmt(s) => named(
            if s.is_procedure {
                "procedure"
            } else {
                "function"
            },
            list(&s.funcname)?,
        ),
        NodeEnum::CreateTrigStmt(s) => {
            let (schema, table) = relation(&s.relation)?;
            let object = crate::model::ObjectId::Trigger {
                table: crate::ident::QualifiedName::new(
                    crate::ident::Ident::from_catalog(schema.clone()),
                    crate::ident::Ident::from_catalog(table),
                ),
                name: crate::ident::Ident::from_catalog(s.trigname.clone()),
            };
            Some((object.to_string(), schema))
        }
        NodeEnum::IndexStmt(s) => {
            let (schema, _) = relation(&s.relation)?;
            named("index", (schema, s.idxname.clone()))
        }
        NodeEnum::CreateSeqStmt(s) => named("sequence", relation(&s.sequence)?),
        NodeEnum::CreateDomainStmt(s) => named("domain", list(&s.domainname)?),
        NodeEnum::CreateEnumStmt(s) => named("type", list(&s.type_name)?),
        NodeEnum::CompositeTypeStmt(s) => named("type", relation(&s.typevar)?),
        NodeEnum::DefineStmt(s) => named(
            if s.kind == pg_query::protobuf::ObjectType::ObjectAggregate as i32 {
                "aggregate"
            } else {
                "type"
            },
            list(&s.defnames)?,
        ),
        NodeEnum::CreateSchemaStmt(s) => {
            Some((format!("schema {}", s.schemaname), s.schemaname.clone()))
        }
        NodeEnum::CommentStmt(s) => {
            let object = comment_target(s)?;
            let schema = object.schema()?.as_str().to_owned();
            Some((ObjectId::Comment(Box::new(object)).to_string(), schema))
        }
        _ => None,
    }
}

impl SqlStatement {
    /// The object the statement declares, if any.
    pub fn declared_object(&self) -> Option<ObjectId> {
        self.declares.as_ref()?.0.parse().ok()
    }

    /// The type the statement declares, if any: a type or domain, or the row type every
    /// table, view and materialized view has (a YAML column may be of that type).
    pub(crate) fn type_declared(&self) -> Option<crate::model::QualifiedName> {
        match self.declared_object()? {
            ObjectId::Type(name)
            | ObjectId::Domain(name)
            | ObjectId::Table(name)
            | ObjectId::View(name)
            | ObjectId::MaterializedView(name) => Some(name),
            _ => None,
        }
    }

    /// The schema the statement puts an object in: a `COMMENT ON` puts none (it names an
    /// object declared elsewhere).
    pub fn schema_declared(&self) -> Option<&str> {
        self.declares
            .as_ref()
            .filter(|(what, _)| !what.starts_with("comment on "))
            .map(|(_, schema)| schema.as_str())
    }
}

/// The object a `COMMENT ON` names, for the kinds named by their names alone (routines are
/// told apart by argument types, which only the server resolves).
pub(crate) fn comment_target(s: &pg_query::protobuf::CommentStmt) -> Option<ObjectId> {
    use pg_query::protobuf::ObjectType as O;
    let names = |node: &pg_query::protobuf::Node| -> Option<Vec<String>> {
        match node.node.as_ref()? {
            NodeEnum::List(l) => l
                .items
                .iter()
                .map(|n| match &n.node {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .collect(),
            NodeEnum::String(s) => Some(vec![s.sval.clone()]),
            NodeEnum::TypeName(t) => t
                .names
                .iter()
                .map(|n| match &n.node {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let parts = names(s.object.as_deref()?)?;
    let ident = |n: &str| Ident::from_catalog(n.to_owned());
    let qualified = |parts: &[String]| -> Option<QualifiedName> {
        match parts {
            [name] => Some(QualifiedName::new(ident("public"), ident(name))),
            [schema, name] => Some(QualifiedName::new(ident(schema), ident(name))),
            _ => None,
        }
    };
    let member = |parts: &[String]| -> Option<(QualifiedName, Ident)> {
        let (last, table) = parts.split_last()?;
        Some((qualified(table)?, ident(last)))
    };
    Some(match O::try_from(s.objtype).ok()? {
        O::ObjectSchema => ObjectId::Schema(ident(parts.first()?)),
        O::ObjectTable => ObjectId::Table(qualified(&parts)?),
        O::ObjectView => ObjectId::View(qualified(&parts)?),
        O::ObjectMatview => ObjectId::MaterializedView(qualified(&parts)?),
        O::ObjectSequence => ObjectId::Sequence(qualified(&parts)?),
        O::ObjectType => ObjectId::Type(qualified(&parts)?),
        O::ObjectDomain => ObjectId::Domain(qualified(&parts)?),
        O::ObjectColumn => {
            let (table, column) = member(&parts)?;
            ObjectId::Column { table, column }
        }
        O::ObjectTabconstraint => {
            let (table, name) = member(&parts)?;
            ObjectId::Constraint { table, name }
        }
        O::ObjectPolicy => {
            let (table, name) = member(&parts)?;
            ObjectId::Policy { table, name }
        }
        O::ObjectTrigger => {
            let (table, name) = member(&parts)?;
            ObjectId::Trigger { table, name }
        }
        _ => return None,
    })
}

/// A `CREATE POLICY` statement as the policy it declares: the expressions as written (the
/// text inside the parentheses), roles by name. `Err` says what cannot be declared.
pub(crate) fn policy(text: &str) -> Result<Option<(PolicyKey, Policy)>, String> {
    use pg_query::protobuf::RoleSpecType;
    let parsed =
        pg_query::parse(text, pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    let Some(NodeEnum::CreatePolicyStmt(s)) = parsed
        .protobuf
        .stmts
        .first()
        .and_then(|s| s.stmt.as_ref())
        .and_then(|n| n.node.as_ref())
    else {
        return Ok(None);
    };
    let table = s.table.as_ref().ok_or("CREATE POLICY without a table")?;
    let table = QualifiedName::new(
        Ident::from_catalog(if table.schemaname.is_empty() {
            "public".to_owned()
        } else {
            table.schemaname.clone()
        }),
        Ident::from_catalog(table.relname.clone()),
    );
    let command = PolicyCommand::ALL
        .into_iter()
        .find(|c| c.keyword() == s.cmd_name.to_ascii_lowercase())
        .ok_or_else(|| format!("unknown policy command {}", s.cmd_name))?;
    let mut roles = Vec::new();
    for role in &s.roles {
        let Some(NodeEnum::RoleSpec(role)) = &role.node else {
            continue;
        };
        match RoleSpecType::try_from(role.roletype) {
            Ok(RoleSpecType::RolespecPublic) => roles.push(crate::kinds::policy::PUBLIC.to_owned()),
            Ok(RoleSpecType::RolespecCstring) => roles.push(role.rolename.clone()),
            _ => {
                return Err(
                    "CURRENT_USER, CURRENT_ROLE and SESSION_USER mean whoever creates the \
                     policy, which differs between databases: name the role"
                        .to_owned(),
                );
            }
        }
    }
    let (using, check) = clause_texts(text)?;
    Ok(Some((
        PolicyKey::new(table, Ident::from_catalog(s.policy_name.clone())),
        Policy {
            command,
            permissive: s.permissive,
            roles: crate::kinds::policy::normalise_roles(roles),
            using: using.filter(|_| s.qual.is_some()),
            check: check.filter(|_| s.with_check.is_some()),
        },
    )))
}

/// The texts inside `USING (...)` and `WITH CHECK (...)` of a `CREATE POLICY`, found with
/// PostgreSQL's scanner (keywords at the top level, then the balanced parentheses).
fn clause_texts(text: &str) -> Result<(Option<String>, Option<String>), String> {
    use pg_query::protobuf::Token;
    let tokens = pg_query::scan(text).map_err(|e| e.to_string())?.tokens;
    let is = |i: usize, t: Token| tokens.get(i).is_some_and(|k| k.token == t as i32);
    let group = |open: usize| -> Option<String> {
        if !is(open, Token::Ascii40) {
            return None;
        }
        let mut depth = 0;
        for (i, token) in tokens.iter().enumerate().skip(open) {
            if token.token == Token::Ascii40 as i32 {
                depth += 1;
            } else if token.token == Token::Ascii41 as i32 {
                depth -= 1;
                if depth == 0 {
                    let start = tokens[open].end as usize;
                    return text
                        .get(start..tokens[i].start as usize)
                        .map(|t| t.trim().to_owned());
                }
            }
        }
        None
    };
    let (mut using, mut check, mut depth) = (None, None, 0);
    for (i, token) in tokens.iter().enumerate() {
        if token.token == Token::Ascii40 as i32 {
            depth += 1;
        } else if token.token == Token::Ascii41 as i32 {
            depth -= 1;
        } else if depth == 0 && token.token == Token::Using as i32 {
            using = group(i + 1);
        } else if depth == 0
            && (token.token == Token::With as i32 || token.token == Token::WithLa as i32)
            && is(i + 1, Token::Check)
        {
            check = group(i + 2);
        }
    }
    Ok((using, check))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Each statement is classified from its file's parse: what declares nothing is refused
    /// at its own line, with why; settings are skipped; declarations are kept in order.
    #[test]
    fn statements_are_classified_at_their_lines() {
        let text = "SET search_path = public;\n\
                    CREATE VIEW v AS SELECT 1 AS one;\n\
                    DELETE FROM t;\n\
                    \n\
                    DROP VIEW v;\n\
                    DO $$ BEGIN PERFORM 1; END $$;\n\
                    CREATE FUNCTION f() RETURNS integer LANGUAGE sql AS 'SELECT 1';\n";
        let errors = super::statements(Path::new("s.sql"), text).expect_err("refused");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        for (line, why) in [
            (3, "it changes data"),
            (5, "a DROP removes objects"),
            (6, "a DO block runs code"),
        ] {
            assert!(
                shown
                    .iter()
                    .any(|e| e.contains(&format!("s.sql:{line}:")) && e.contains(why)),
                "line {line}: {shown:#?}"
            );
        }
        let kept = super::statements(
            Path::new("s.sql"),
            "SET search_path = public;\nCREATE VIEW v AS SELECT 1 AS one;\n\n\
             CREATE FUNCTION f() RETURNS integer LANGUAGE sql AS 'SELECT 1';\n",
        )
        .expect("declarations");
        let declared: Vec<(u32, &str)> = kept
            .iter()
            .map(|s| (s.line, s.declares.as_ref().map_or("", |d| d.0.as_str())))
            .collect();
        assert_eq!(declared, [(2, "view public.v"), (4, "function public.f")]);
    }

    #[test]
    fn pg_dumps_set_config_preamble_is_a_setting_and_other_queries_are_refused() {
        // As pg_dump writes it, qualified or not.
        let kept = super::statements(
            Path::new("dump.sql"),
            "SET statement_timeout = 0;
             SELECT pg_catalog.set_config('search_path', '', false);
             select set_config('search_path', 'public', false);
             CREATE TABLE public.t (id integer);
",
        )
        .expect("the preamble is accepted");
        let declared: Vec<(u32, &str)> = kept
            .iter()
            .map(|s| (s.line, s.declares.as_ref().map_or("", |d| d.0.as_str())))
            .collect();
        assert_eq!(declared, [(4, "table public.t")]);
        // A computed value, a FROM, a second column or another function is a query.
        let text = "SELECT set_config('search_path', current_user, false);
                    SELECT set_config('search_path', '', false) FROM t;
                    SELECT set_config('search_path', '', false), 1;
                    SELECT pg_catalog.current_setting('search_path');
";
        let errors = super::statements(Path::new("q.sql"), text).expect_err("refused");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for line in 1..=4 {
            assert!(
                shown.iter().any(|e| e.contains(&format!("q.sql:{line}:"))
                    && e.contains("a query declares nothing")),
                "line {line}: {shown:#?}"
            );
        }
    }
}
