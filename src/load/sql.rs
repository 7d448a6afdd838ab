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
        let kind = match classify::classify(statement.text) {
            Ok(all) => all.into_iter().next().map(|s| s.kind),
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
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
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
        Kind::Comment => Some("comments are not managed yet"),
        Kind::CreatePolicy | Kind::AlterPolicy => Some("policies are not managed yet"),
        Kind::Other(node) if node == "GrantStmt" => {
            Some("privileges are not managed yet (pg_dump --no-privileges leaves them out)")
        }
        Kind::Other(node) if node == "AlterOwnerStmt" => {
            Some("owners are not part of the desired state (pg_dump --no-owner leaves them out)")
        }
        Kind::AlterTable { actions, .. }
            if actions.iter().any(
                |a| matches!(a, classify::AlterTableAction::Other(x) if x.contains("Owner")),
            ) =>
        {
            Some("owners are not part of the desired state (pg_dump --no-owner leaves them out)")
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
        _ => None,
    }
}
