//! Views: declared in `.sql` files (`CREATE VIEW`), compared in the server's own words
//! (`pg_get_viewdef` of the view as built on the scratch server).
//!
//! A missing view is created. A view whose query or options changed is replaced in place
//! (`CREATE OR REPLACE VIEW`, a replace step) when PostgreSQL allows it — the existing
//! columns keep their names, types and order, new ones only at the end; otherwise it is a
//! finding (D161) with the DROP and CREATE a human would run. An extra view is D160.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind, NoYaml, Replaceable, Replaced};
use crate::diff::Code;
use crate::load::format::{Entries, FileSpec};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, HazardCode, Key, StepBuilder, StepKind, guard, stage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The query, as `pg_get_viewdef(view, true)` prints it (without the final `;`).
    pub definition: String,
    /// Name and type of each column, in order.
    pub columns: Vec<(Ident, String)>,
    /// `WITH (...)` options: `security_barrier`, `security_invoker`, `check_option`, as
    /// `name=value`, sorted.
    pub options: Vec<String>,
    /// The relations (tables, views, ...) the query reads.
    pub relations: Vec<QualifiedName>,
    /// The functions it calls, other than PostgreSQL's and extensions' own.
    pub functions: Vec<ObjectId>,
    /// The columns of those relations it reads (what a column's type change must drop the
    /// view for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns_read: Vec<(QualifiedName, Ident)>,
}

pub(crate) struct ViewKind;

impl View {
    fn with_options(&self) -> String {
        if self.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", self.options.join(", "))
        }
    }

    /// Whether `CREATE OR REPLACE VIEW` can turn `self` into `other`: every column of
    /// `self` stays, with its name and type, in its place.
    fn replaceable_by(&self, other: &View) -> bool {
        self.columns.len() <= other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| a == b)
    }
}

impl Kind for ViewKind {
    const NAME: &'static str = "view";
    const SECTION: &'static str = "views";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = true;
    const PREREQUISITE: bool = false;
    type Key = QualifiedName;
    type Object = View;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<QualifiedName, View> {
        &schema.views
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<QualifiedName, View> {
        &mut schema.views
    }

    fn id(name: &QualifiedName) -> ObjectId {
        ObjectId::View(name.clone())
    }

    fn schema_of(name: &QualifiedName) -> &Ident {
        &name.schema
    }

    fn relation_name(name: &QualifiedName) -> Option<&QualifiedName> {
        Some(name)
    }

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        None
    }

    fn pull_sql(name: &QualifiedName, view: &View) -> Option<String> {
        Some(Self::create(name, view))
    }

    const CATALOG: Catalog = Catalog {
        name: "views",
        sql: include_str!("sql/views.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(QualifiedName, View), sqlx::Error> {
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        let definition: String = row.try_get("definition")?;
        let names: Vec<String> = row.try_get("column_names")?;
        let types: Vec<String> = row.try_get("column_types")?;
        let mut options: Vec<String> = row.try_get("options")?;
        options.sort();
        let relations: Vec<String> = row.try_get("relations")?;
        let relations = relations
            .iter()
            .filter_map(|r| {
                let parts = crate::ident::parse_dotted(r)?;
                let [schema, relation] = parts.as_slice() else {
                    return None;
                };
                Some(QualifiedName::new(
                    Ident::from_catalog(schema.clone()),
                    Ident::from_catalog(relation.clone()),
                ))
            })
            .collect();
        let columns_read: Vec<String> = row.try_get("columns_read")?;
        let columns_read = columns_read
            .iter()
            .filter_map(|c| match crate::ident::parse_dotted(c)?.as_slice() {
                [schema, table, column] => Some((
                    QualifiedName::new(
                        Ident::from_catalog(schema.clone()),
                        Ident::from_catalog(table.clone()),
                    ),
                    Ident::from_catalog(column.clone()),
                )),
                _ => None,
            })
            .collect();
        let functions: Vec<String> = row.try_get("functions")?;
        let functions = functions.iter().filter_map(|f| f.parse().ok()).collect();
        Ok((
            name,
            View {
                functions,
                columns_read,
                definition: definition.trim().trim_end_matches(';').to_owned(),
                columns: names
                    .into_iter()
                    .map(Ident::from_catalog)
                    .zip(types)
                    .collect(),
                options,
                relations,
            },
        ))
    }

    const DIFFERS: Code = Code::ViewDefinition;
    const DIFFERS_MESSAGE: &'static str = "the query or options differ, and its columns change so that CREATE OR REPLACE VIEW \
         cannot swap it in place (PostgreSQL keeps a view's columns: names, types and order)";
    const EXTRA: Code = Code::ExtraView;

    fn create(name: &QualifiedName, view: &View) -> String {
        format!(
            "CREATE VIEW {}{} AS\n{}",
            name.quoted(),
            view.with_options(),
            view.definition
        )
    }

    fn drop(name: &QualifiedName) -> String {
        format!("DROP VIEW {}", name.quoted())
    }

    fn steps(name: &QualifiedName, view: &View, out: &mut Vec<Draft>) {
        StepBuilder::new(StepKind::CreateView, stage::VIEWS, None, Self::id(name))
            .sql(guard::unless_exists(
                &guard::relation_exists(name),
                &Self::create(name, view),
            ))
            .requires(Key::Schema(name.schema.clone()))
            .requires(Key::Extensions)
            .requires_all(requirements(view))
            .provides(Key::Table(name.clone()))
            // Its row type, which a table's column may use.
            .provides(Key::Type(name.clone()))
            .push(out);
    }

    fn replacement(name: &QualifiedName, live: &View, desired: &View) -> Option<Replaced> {
        live.replaceable_by(desired).then(|| Replaced::View {
            key: name.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    #[cfg(test)]
    fn samples() -> (QualifiedName, [View; 2]) {
        let name = QualifiedName::new(
            Ident::from_catalog("app".into()),
            Ident::from_catalog("Answers".into()),
        );
        let column = |n: &str, t: &str| (Ident::from_catalog(n.into()), t.to_owned());
        (
            name,
            [
                View {
                    definition: "SELECT 42 AS answer".into(),
                    columns: vec![column("answer", "integer")],
                    options: vec![],
                    relations: vec![],
                    functions: vec![],
                    columns_read: vec![],
                },
                View {
                    definition: "SELECT 42 AS answer,\n    'x'::text AS \"Note\"".into(),
                    columns: vec![column("answer", "integer"), column("Note", "text")],
                    options: vec!["security_barrier=true".into()],
                    relations: vec![],
                    functions: vec![],
                    columns_read: vec![],
                },
            ],
        )
    }
}

impl Replaceable for ViewKind {
    fn replace(name: &QualifiedName, view: &View) -> String {
        format!(
            "CREATE OR REPLACE VIEW {}{} AS\n{}",
            name.quoted(),
            view.with_options(),
            view.definition
        )
    }

    fn replace_steps(name: &QualifiedName, previous: &View, view: &View, out: &mut Vec<Draft>) {
        // CREATE OR REPLACE VIEW cannot take columns away: when the new query adds some,
        // only dropping and creating the view puts the old one back (and the DROP, without
        // CASCADE, fails and names them while other views read it).
        let restore = if previous.replaceable_by(view) && view.replaceable_by(previous) {
            Self::replace(name, previous)
        } else {
            format!(
                "DROP VIEW IF EXISTS {};\n{}",
                name.quoted(),
                Self::create(name, previous)
            )
        };
        StepBuilder::new(StepKind::Replace, stage::VIEWS, None, Self::id(name))
            .sql(Self::replace(name, view))
            .previous(restore)
            .hazard(
                HazardCode::ReplacesDefinition,
                format!(
                    "replaces the query of {name} in place: whatever reads the view sees the new \
                     query from the commit on"
                ),
            )
            .requires_all(requirements(view))
            .provides(Key::Table(name.clone()))
            .push(out);
    }
}

/// The views `live` has that read `column` of `table`, and the views that read those, in
/// the order to drop them (readers first); `None` when none does.
pub(crate) fn readers_of(
    live: &Schema,
    table: &QualifiedName,
    column: &Ident,
) -> Vec<QualifiedName> {
    let mut found: Vec<QualifiedName> = live
        .views
        .iter()
        .filter(|(_, v)| {
            v.columns_read
                .iter()
                .any(|(t, c)| t == table && c == column)
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut i = 0;
    while i < found.len() {
        let next: Vec<QualifiedName> = live
            .views
            .iter()
            .filter(|(name, v)| v.relations.contains(&found[i]) && !found.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        found.extend(next);
        i += 1;
    }
    // Readers of readers were found last: they are dropped first.
    found.reverse();
    found
}

/// The statements a column's type change needs around it when views read the column: their
/// DROPs (readers first) and, after the change, their CREATEs (as the desired state has them,
/// else as the database does).
pub(crate) fn around_type_change(
    live: &Schema,
    desired: &Schema,
    table: &QualifiedName,
    column: &Ident,
) -> Option<(String, String)> {
    let readers = readers_of(live, table, column);
    if readers.is_empty() {
        return None;
    }
    let drops: Vec<String> = readers
        .iter()
        .map(|v| format!("{};", ViewKind::drop(v)))
        .collect();
    let creates: Vec<String> = readers
        .iter()
        .rev()
        .map(|v| {
            let view = desired.views.get(v).unwrap_or(&live.views[v]);
            format!("{};", ViewKind::create(v, view))
        })
        .collect();
    Some((
        format!(
            "-- views read the column: drop them first, create them again after\n{}\n",
            drops.join("\n")
        ),
        format!("\n{}", creates.join("\n")),
    ))
}

/// The relations a view reads must exist first (with any columns the plan adds to them), and
/// the functions it calls.
fn requirements(view: &View) -> Vec<Key> {
    view.relations
        .iter()
        .flat_map(|relation| {
            [
                Key::Table(relation.clone()),
                Key::NewColumns(relation.clone()),
            ]
        })
        .chain(
            view.functions
                .iter()
                .filter_map(super::function::signature_of)
                .map(|(name, args)| Key::Routine(name.clone(), args.to_vec())),
        )
        .collect()
}
