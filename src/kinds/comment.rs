//! Comments (`COMMENT ON`): the documentation PostgreSQL keeps with an object.
//!
//! One kind for the comments of every kind of object, keyed by the commented object's
//! [`ObjectId`], so a kind added later (functions, triggers, materialized views) gets its
//! comments managed by reading them here and nothing else. Declared with `comment:` on a
//! table, column or policy, in a file's `comments:` section (by the object's name as plans
//! print it), or with `COMMENT ON` in a `.sql` file.
//!
//! A missing comment is set (`COMMENT ON ... IS '...'`); a different one is replaced in
//! place (a replace step, the old text kept for rollback guides); a comment the desired state
//! does not have is D145 (cosmetic), with the `COMMENT ON ... IS NULL` a human could run —
//! removing is never planned. Neither takes more than the object's own lock (SHARE UPDATE
//! EXCLUSIVE on a table for its comments and its parts'), so the steps carry no hazard.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::policy::PolicyKey;
use super::{Catalog, Kind, NoYaml, Replaceable, Replaced, Visitor, visit_all};
use crate::diff::{Code, Finding, Severity};
use crate::ident::quote_literal;
use crate::load::format::{Entries, FileSpec};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, HazardCode, Key, LockLevel, StepBuilder, StepKind, stage};

pub(crate) struct CommentKind;

/// The schema of objects that have none (nothing managed has no schema; a placeholder for
/// [`Kind::schema_of`]).
static NO_SCHEMA: LazyLock<Ident> = LazyLock::new(|| Ident::from_catalog("public".to_owned()));

/// The object as `COMMENT ON` names it (`COLUMN public.t.c`), or `None` for what cannot
/// carry a comment of its own (an enum label, a validation step, ...).
pub fn target_sql(object: &ObjectId) -> Option<String> {
    let routine = |name: &QualifiedName, args: &[String], star: bool| {
        if args.is_empty() && star {
            format!("{}(*)", name.quoted())
        } else {
            format!("{}({})", name.quoted(), args.join(", "))
        }
    };
    Some(match object {
        ObjectId::Schema(s) => format!("SCHEMA {}", s.quoted()),
        ObjectId::Extension(e) => format!("EXTENSION {}", e.quoted()),
        ObjectId::Type(n) => format!("TYPE {}", n.quoted()),
        ObjectId::Domain(n) => format!("DOMAIN {}", n.quoted()),
        ObjectId::Sequence(n) => format!("SEQUENCE {}", n.quoted()),
        ObjectId::Table(n) => format!("TABLE {}", n.quoted()),
        ObjectId::Column { table, column } => {
            format!("COLUMN {}.{}", table.quoted(), column.quoted())
        }
        ObjectId::Index { table, name } => {
            format!("INDEX {}.{}", table.schema.quoted(), name.quoted())
        }
        ObjectId::Constraint { table, name } => {
            format!("CONSTRAINT {} ON {}", name.quoted(), table.quoted())
        }
        ObjectId::View(n) => format!("VIEW {}", n.quoted()),
        ObjectId::MaterializedView(n) => format!("MATERIALIZED VIEW {}", n.quoted()),
        ObjectId::Function { name, args } => format!("FUNCTION {}", routine(name, args, false)),
        ObjectId::Procedure { name, args } => format!("PROCEDURE {}", routine(name, args, false)),
        ObjectId::Aggregate { name, args } => format!("AGGREGATE {}", routine(name, args, true)),
        ObjectId::Trigger { table, name } => {
            format!("TRIGGER {} ON {}", name.quoted(), table.quoted())
        }
        ObjectId::Policy { table, name } => {
            format!("POLICY {} ON {}", name.quoted(), table.quoted())
        }
        ObjectId::EnumValue { .. }
        | ObjectId::Grant { .. }
        | ObjectId::DefaultPrivilege { .. }
        | ObjectId::Owner(_)
        | ObjectId::SequenceOwnership(_)
        | ObjectId::KeyIndex { .. }
        | ObjectId::Validation { .. }
        | ObjectId::RowLevelSecurity(_)
        | ObjectId::IndexAttachment { .. }
        | ObjectId::InvalidIndex(_)
        | ObjectId::Comment(_) => return None,
    })
}

/// Whether `schema` has `object` (a table, a column of a table or view, an index, a
/// constraint, a type, or an object of any registered kind).
pub(crate) fn has_object(schema: &Schema, object: &ObjectId) -> bool {
    match object {
        ObjectId::Schema(s) => schema.schemas.contains(s),
        ObjectId::Extension(e) => schema.extensions.contains_key(e),
        ObjectId::Table(t) => schema.tables.contains_key(t),
        ObjectId::Column { table, column } => {
            schema
                .tables
                .get(table)
                .is_some_and(|t| t.column(column.as_str()).is_some())
                || schema
                    .views
                    .get(table)
                    .is_some_and(|v| v.columns.iter().any(|(c, _)| c == column))
        }
        ObjectId::Index { table, name } => schema
            .tables
            .get(table)
            .is_some_and(|t| t.indexes.contains_key(name)),
        ObjectId::Constraint { table, name } => schema
            .tables
            .get(table)
            .is_some_and(|t| t.constraints.contains_key(name)),
        ObjectId::Type(n) => schema.enums.contains_key(n) || schema.composites.contains_key(n),
        ObjectId::Domain(n) => schema.domains.contains_key(n),
        ObjectId::Sequence(n) => schema.sequences.contains_key(n),
        ObjectId::View(n) => schema.views.contains_key(n),
        ObjectId::Policy { table, name } => schema
            .policies
            .contains_key(&PolicyKey::new(table.clone(), name.clone())),
        other => {
            // Kinds without a lookup of their own here: a walk over their objects.
            struct Find<'a> {
                schema: &'a Schema,
                object: &'a ObjectId,
                found: bool,
            }
            impl Visitor for Find<'_> {
                fn visit<K: Kind>(&mut self) {
                    self.found = self.found
                        || K::objects(self.schema)
                            .keys()
                            .any(|k| K::id(k) == *self.object);
                }
            }
            let mut find = Find {
                schema,
                object: other,
                found: false,
            };
            visit_all(&mut find);
            find.found
        }
    }
}

impl Kind for CommentKind {
    const NAME: &'static str = "comment";
    const SECTION: &'static str = "comments";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    type Key = ObjectId;
    type Object = String;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<ObjectId, String> {
        &schema.comments
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<ObjectId, String> {
        &mut schema.comments
    }

    fn id(object: &ObjectId) -> ObjectId {
        ObjectId::Comment(Box::new(object.clone()))
    }

    fn schema_of(object: &ObjectId) -> &Ident {
        object.schema().unwrap_or(&NO_SCHEMA)
    }

    /// Written with their objects (`comment:`) or in the `comments:` section, which the
    /// loader and `pull` handle for every kind at once.
    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        None
    }

    const CATALOG: Catalog = Catalog {
        name: "comments",
        sql: include_str!("sql/comments.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(ObjectId, String), sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let schema = Ident::from_catalog(row.try_get("schema")?);
        let name: String = row.try_get("name")?;
        let parent: Option<String> = row.try_get("parent")?;
        let args: Option<String> = row.try_get("args")?;
        let qualified = |n: String| QualifiedName::new(schema.clone(), Ident::from_catalog(n));
        let table = || {
            parent.clone().map(qualified).ok_or_else(|| {
                sqlx::Error::Decode(format!("a {kind} comment without its table").into())
            })
        };
        let args = || super::function::argument_types(args.as_deref());
        let object = match kind.as_str() {
            "schema" => ObjectId::Schema(schema.clone()),
            "table" => ObjectId::Table(qualified(name)),
            "view" => ObjectId::View(qualified(name)),
            "materialized view" => ObjectId::MaterializedView(qualified(name)),
            "sequence" => ObjectId::Sequence(qualified(name)),
            "type" => ObjectId::Type(qualified(name)),
            "domain" => ObjectId::Domain(qualified(name)),
            "column" => ObjectId::Column {
                table: table()?,
                column: Ident::from_catalog(name),
            },
            "index" => ObjectId::Index {
                table: table()?,
                name: Ident::from_catalog(name),
            },
            "constraint" => ObjectId::Constraint {
                table: table()?,
                name: Ident::from_catalog(name),
            },
            "policy" => ObjectId::Policy {
                table: table()?,
                name: Ident::from_catalog(name),
            },
            "trigger" => ObjectId::Trigger {
                table: table()?,
                name: Ident::from_catalog(name),
            },
            "procedure" => ObjectId::Procedure {
                name: qualified(name),
                args: args(),
            },
            "aggregate" => ObjectId::Aggregate {
                name: qualified(name),
                args: args(),
            },
            "function" => ObjectId::Function {
                name: qualified(name),
                args: args(),
            },
            other => {
                return Err(sqlx::Error::Decode(
                    format!("a comment on an object of unknown kind {other:?}").into(),
                ));
            }
        };
        Ok((object, row.try_get("description")?))
    }

    /// Comments on what the model leaves out (extension members, skipped views, the index
    /// behind a key, kinds not managed yet) go with it.
    fn settle(schema: &mut Schema) {
        let comments = std::mem::take(&mut schema.comments);
        let kept = comments
            .into_iter()
            .filter(|(object, _)| has_object(schema, object))
            .collect();
        schema.comments = kept;
    }

    const DIFFERS: Code = Code::Comment;
    const DIFFERS_MESSAGE: &'static str = "the comment differs";
    const EXTRA: Code = Code::Comment;

    fn extra(object: &ObjectId, text: &String, live: &Schema, desired: &Schema) -> Option<Finding> {
        // An object the desired state drops takes its comment with it (its own finding).
        if has_object(live, object) && !has_object(desired, object) {
            return None;
        }
        Some(
            Finding::new(
                Code::Comment,
                Severity::Cosmetic,
                Self::id(object),
                format!(
                    "in the database ({}), not in the desired state: add it to the desired \
                     state to keep it",
                    quote_literal(text)
                ),
            )
            .suggest(Self::drop(object)),
        )
    }

    /// With `--no-replace`: cosmetic, with the `COMMENT ON` that sets the desired text.
    fn differs(
        object: &ObjectId,
        live: &String,
        desired: &String,
        _replaceable: bool,
    ) -> Option<Finding> {
        Some(
            Finding::new(
                Code::Comment,
                Severity::Cosmetic,
                Self::id(object),
                format!(
                    "the comment differs (--no-replace: not replaced in place): the database \
                     has {}",
                    quote_literal(live)
                ),
            )
            .suggest(Self::create(object, desired)),
        )
    }

    fn create(object: &ObjectId, text: &String) -> String {
        format!(
            "COMMENT ON {} IS {}",
            target_sql(object).unwrap_or_else(|| format!("{object}")),
            quote_literal(text)
        )
    }

    fn drop(object: &ObjectId) -> String {
        format!(
            "COMMENT ON {} IS NULL",
            target_sql(object).unwrap_or_else(|| format!("{object}"))
        )
    }

    fn steps(object: &ObjectId, text: &String, out: &mut Vec<Draft>) {
        builder(StepKind::Comment, object)
            .sql(Self::create(object, text))
            .push(out);
    }

    fn replacement(object: &ObjectId, live: &String, desired: &String) -> Option<Replaced> {
        Some(Replaced::Comment {
            key: object.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    #[cfg(test)]
    fn sample_context() -> &'static str {
        "CREATE TABLE app.\"Todo items\" (id integer)"
    }

    #[cfg(test)]
    fn samples() -> (ObjectId, [String; 2]) {
        (
            ObjectId::column(
                &QualifiedName::new(
                    Ident::from_catalog("app".into()),
                    Ident::from_catalog("Todo items".into()),
                ),
                &Ident::from_catalog("id".into()),
            ),
            [
                "The item's number".to_owned(),
                "It's a line\nand a \\ backslash".to_owned(),
            ],
        )
    }
}

impl Replaceable for CommentKind {
    fn replace(object: &ObjectId, text: &String) -> String {
        Self::create(object, text)
    }

    fn replace_steps(object: &ObjectId, previous: &String, text: &String, out: &mut Vec<Draft>) {
        builder(StepKind::Replace, object)
            .sql(Self::replace(object, text))
            .previous(Self::replace(object, previous))
            .hazard(
                HazardCode::ReplacesDefinition,
                format!(
                    "replaces the comment of {object} (was {})",
                    quote_literal(previous)
                ),
            )
            .push(out);
    }
}

/// A comment step on `object`: after the object exists (whatever step creates it), under
/// the lock `COMMENT ON` takes on its table.
fn builder(kind: StepKind, object: &ObjectId) -> StepBuilder {
    let table = match object {
        ObjectId::Index { .. } => None,
        other => other.table(),
    };
    let mut b = StepBuilder::new(kind, stage::VIEWS, object.table(), CommentKind::id(object))
        .requires(Key::Object(object.clone()));
    if let Some(table) = table {
        b = b.lock(table, LockLevel::ShareUpdateExclusive);
    }
    if let Some(table) = object.table() {
        b = b.requires(Key::Table(table.clone()));
    }
    b.requires_all(match object {
        ObjectId::Schema(s) => vec![Key::Schema(s.clone())],
        ObjectId::Type(n) | ObjectId::Domain(n) => vec![Key::Type(n.clone())],
        ObjectId::Sequence(n) => vec![Key::Sequence(n.clone())],
        ObjectId::Table(n) | ObjectId::View(n) | ObjectId::MaterializedView(n) => {
            vec![Key::Table(n.clone())]
        }
        ObjectId::Column { table, column } => {
            vec![Key::Column(table.clone(), column.as_str().to_owned())]
        }
        ObjectId::Index { table, name } => vec![Key::Index(QualifiedName::new(
            table.schema.clone(),
            name.clone(),
        ))],
        ObjectId::Constraint { table, name } => {
            vec![Key::Constraint(table.clone(), name.clone())]
        }
        _ => Vec::new(),
    })
}
