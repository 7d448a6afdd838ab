//! Materialized views: declared in `.sql` files (`CREATE MATERIALIZED VIEW`, and `CREATE
//! INDEX` on one), compared in the server's own words (`pg_get_viewdef` of the materialized
//! view as built on the scratch server) with their storage options and their indexes.
//!
//! A missing materialized view is created after what its query reads, and its indexes after
//! it. Creating one runs its query and stores every row: the step carries hazard H016 with
//! the planner's estimate of that query on the target ([`estimate_costs`], one `EXPLAIN` per
//! materialized view the plan creates) and runs under the long statement timeout. PostgreSQL
//! cannot replace a materialized view's query, so a changed query is a finding (D169) whose
//! suggestion drops it — first the views that read it, named — and creates it again with its
//! indexes; an extra one is D168. Its indexes are compared like a table's: a missing one is
//! built concurrently on the existing materialized view (the table index step, with its
//! hazards and INVALID-leftover handling), an extra or different one is D102/D120.
//!
//! Tablespace, access method and whether it is populated (`WITH NO DATA`) are not compared:
//! a materialized view is created in the default tablespace and populated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{Catalog, Kind, NoYaml};
use crate::diff::{Code, Diff, Finding, Severity};
use crate::load::format::{Entries, FileSpec};
use crate::model::{Ident, Index, ObjectId, QualifiedName, Schema, Table};
use crate::plan::{Draft, HazardCode, Key, Plan, StepBuilder, StepKind, guard, stage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterializedView {
    /// The query, as `pg_get_viewdef(view, true)` prints it (without the final `;`).
    pub definition: String,
    /// Storage options (`WITH (fillfactor=70)`) as `name=value`, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Its indexes, as a table's are modelled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<Ident, Index>,
    /// The relations (tables, views, materialized views) the query reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<QualifiedName>,
    /// The functions it calls, other than PostgreSQL's and extensions' own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<ObjectId>,
    /// What the catalog says about the live object besides its definition; introspection
    /// moves it out ([`MaterializedView::take_catalog_facts`]), so models never carry it.
    #[serde(skip)]
    pub(crate) catalog: Option<CatalogFacts>,
}

/// See [`MaterializedView::catalog`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CatalogFacts {
    /// Indexes left INVALID by a failed concurrent build (not in [`MaterializedView::indexes`]:
    /// they serve no query, and are dropped and built again when desired).
    pub invalid_indexes: Vec<Ident>,
    /// The planner's `reltuples` (-1: never analysed).
    pub estimated_rows: f64,
}

// `f64` has no `Eq`; the facts are moved out before any comparison.
impl Eq for CatalogFacts {}

impl MaterializedView {
    /// Moves out what the catalog read says about the live object besides its definition.
    pub(crate) fn take_catalog_facts(&mut self) -> Option<CatalogFacts> {
        self.catalog.take()
    }

    fn with_options(&self) -> String {
        if self.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", self.options.join(", "))
        }
    }

    /// Whether everything but the indexes is the same.
    fn same_query(&self, other: &MaterializedView) -> bool {
        self.definition == other.definition
            && self.options == other.options
            && self.relations == other.relations
            && self.functions == other.functions
    }

    fn as_table(&self) -> Table {
        Table {
            indexes: self.indexes.clone(),
            ..Table::default()
        }
    }
}

pub(crate) struct MaterializedViewKind;

impl Kind for MaterializedViewKind {
    const NAME: &'static str = "materialized view";
    const SECTION: &'static str = "materialized_views";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = true;
    const PREREQUISITE: bool = false;
    type Key = QualifiedName;
    type Object = MaterializedView;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<QualifiedName, MaterializedView> {
        &schema.materialized_views
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<QualifiedName, MaterializedView> {
        &mut schema.materialized_views
    }

    fn id(name: &QualifiedName) -> ObjectId {
        ObjectId::MaterializedView(name.clone())
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

    /// The `CREATE MATERIALIZED VIEW` and a `CREATE INDEX` per index (several statements).
    fn pull_sql(name: &QualifiedName, view: &MaterializedView) -> Option<String> {
        let mut out = vec![Self::create(name, view)];
        out.extend(
            view.indexes
                .iter()
                .map(|(index, i)| crate::ddl::create_index(name, index, i, false)),
        );
        Some(out.join(";\n"))
    }

    const CATALOG: Catalog = Catalog {
        name: "materialized views",
        sql: include_str!("sql/materialized_views.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(QualifiedName, MaterializedView), sqlx::Error> {
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        let definition: String = row.try_get("definition")?;
        let mut options: Vec<String> = row.try_get("options")?;
        options.sort();
        let relations: Vec<String> = row.try_get("relations")?;
        let relations = relations
            .iter()
            .filter_map(|r| match crate::ident::parse_dotted(r)?.as_slice() {
                [schema, relation] => Some(QualifiedName::new(
                    Ident::from_catalog(schema.clone()),
                    Ident::from_catalog(relation.clone()),
                )),
                _ => None,
            })
            .collect();
        let functions: Vec<String> = row.try_get("functions")?;
        let functions = functions.iter().filter_map(|f| f.parse().ok()).collect();
        let indexes: String = row.try_get("indexes")?;
        let decode = |e: String| {
            sqlx::Error::Decode(format!("the indexes of materialized view {name}: {e}").into())
        };
        let rows: Vec<IndexJson> =
            serde_json::from_str(&indexes).map_err(|e| decode(e.to_string()))?;
        let mut key_lists = crate::introspect::KeyLists::default();
        let mut valid = BTreeMap::new();
        let mut invalid_indexes = Vec::new();
        // Key columns are named by the server's text for them; no table columns needed.
        let no_columns = Table::default();
        for index in rows {
            let index_name = Ident::from_catalog(index.name.clone());
            if !index.valid {
                invalid_indexes.push(index_name);
                continue;
            }
            let parsed = crate::introspect::index_from_row(
                index.into_row(),
                &name,
                &no_columns,
                &mut key_lists,
            )
            .map_err(decode)?;
            valid.insert(index_name, parsed);
        }
        Ok((
            name,
            MaterializedView {
                definition: definition.trim().trim_end_matches(';').to_owned(),
                options,
                indexes: valid,
                relations,
                functions,
                catalog: Some(CatalogFacts {
                    invalid_indexes,
                    estimated_rows: row.try_get("estimated_rows")?,
                }),
            },
        ))
    }

    const DIFFERS: Code = Code::MaterializedViewDefinition;
    const DIFFERS_MESSAGE: &'static str = "its query or storage options differ: PostgreSQL cannot replace a materialized \
         view's query in place (it must be dropped and created again, which runs the query)";
    const EXTRA: Code = Code::ExtraMaterializedView;

    fn same(
        name: &QualifiedName,
        live: &MaterializedView,
        desired: &MaterializedView,
        out: &mut Diff,
    ) -> bool {
        if !live.same_query(desired) {
            // Its indexes go with it; the finding's suggestion creates them again.
            return false;
        }
        crate::diff::relation_indexes(name, &live.as_table(), &desired.as_table(), out);
        true
    }

    fn differs_suggestion(
        name: &QualifiedName,
        existing: &MaterializedView,
        wanted: &MaterializedView,
        live: &Schema,
        _replaceable: bool,
    ) -> String {
        if existing.definition == wanted.definition {
            return alter_options(name, existing, wanted);
        }
        let mut out = drop_with_dependants(name, live);
        out.push_str(";\n");
        out.push_str(&Self::pull_sql(name, wanted).unwrap_or_default());
        out
    }

    fn extra(
        name: &QualifiedName,
        _object: &MaterializedView,
        live: &Schema,
        _desired: &Schema,
    ) -> Option<Finding> {
        Some(
            Finding::new(
                Self::EXTRA,
                Severity::Risky,
                Self::id(name),
                "in the database, not in the desired state",
            )
            .suggest(drop_with_dependants(name, live)),
        )
    }

    fn create(name: &QualifiedName, view: &MaterializedView) -> String {
        format!(
            "CREATE MATERIALIZED VIEW {}{} AS\n{}",
            name.quoted(),
            view.with_options(),
            view.definition
        )
    }

    fn drop(name: &QualifiedName) -> String {
        format!("DROP MATERIALIZED VIEW {}", name.quoted())
    }

    fn steps(name: &QualifiedName, view: &MaterializedView, out: &mut Vec<Draft>) {
        StepBuilder::new(
            StepKind::CreateMaterializedView,
            stage::VIEWS,
            None,
            Self::id(name),
        )
        .sql(guard::unless_exists(
            &guard::relation_exists(name),
            &Self::create(name, view),
        ))
        .hazard(
            HazardCode::PopulatesMaterializedView,
            populates(name, &Estimate::NotAsked),
        )
        .requires(Key::Schema(name.schema.clone()))
        .requires(Key::Extensions)
        .requires_all(view.relations.iter().flat_map(|relation| {
            [
                Key::Table(relation.clone()),
                Key::NewColumns(relation.clone()),
            ]
        }))
        .provides(Key::Table(name.clone()))
        // Its row type, which a table's column may use.
        .provides(Key::Type(name.clone()))
        .push(out);
        // On the new materialized view nobody reads yet: built plainly, in the transaction.
        for (index, definition) in &view.indexes {
            let qualified = QualifiedName::new(name.schema.clone(), index.clone());
            StepBuilder::new(
                StepKind::CreateIndex,
                stage::VIEWS,
                Some(name),
                ObjectId::index(name, index),
            )
            .sql(crate::ddl::create_index(name, index, definition, false))
            .requires(Key::Table(name.clone()))
            .requires(Key::Extensions)
            .provides(Key::Index(qualified.clone()))
            .index(qualified)
            .push(out);
        }
    }

    #[cfg(test)]
    fn samples() -> (QualifiedName, [MaterializedView; 2]) {
        use crate::model::{IndexKey, IndexTarget};
        let name = QualifiedName::new(
            Ident::from_catalog("app".into()),
            Ident::from_catalog("Totals".into()),
        );
        let key = |target: IndexTarget, descending: bool| IndexKey {
            target,
            opclass: None,
            collation: None,
            descending,
            nulls_first: descending,
        };
        (
            name,
            [
                MaterializedView {
                    definition: "SELECT 42 AS answer".into(),
                    options: vec![],
                    indexes: BTreeMap::new(),
                    relations: vec![],
                    functions: vec![],
                    catalog: None,
                },
                MaterializedView {
                    definition: "SELECT 42 AS answer,\n    'x'::text AS \"Note\"".into(),
                    options: vec!["fillfactor=70".into()],
                    indexes: BTreeMap::from([
                        (
                            Ident::from_catalog("Totals_answer".into()),
                            Index {
                                unique: true,
                                method: "btree".into(),
                                keys: vec![key(
                                    IndexTarget::Column(Ident::from_catalog("answer".into())),
                                    false,
                                )],
                                include: vec![Ident::from_catalog("Note".into())],
                                predicate: None,
                                nulls_not_distinct: false,
                            },
                        ),
                        (
                            Ident::from_catalog("totals_lower".into()),
                            Index {
                                unique: false,
                                method: "btree".into(),
                                keys: vec![key(
                                    IndexTarget::Expression("lower(\"Note\")".into()),
                                    true,
                                )],
                                include: vec![],
                                predicate: Some("(answer > 0)".into()),
                                nulls_not_distinct: false,
                            },
                        ),
                    ]),
                    relations: vec![],
                    functions: vec![],
                    catalog: None,
                },
            ],
        )
    }
}

/// One index of a materialized view, as the catalog query's JSON has it.
#[derive(Deserialize)]
struct IndexJson {
    name: String,
    is_unique: bool,
    method: String,
    key_count: i32,
    valid: bool,
    nulls_not_distinct: bool,
    definition: String,
    key_texts: Vec<String>,
    key_columns: Vec<i32>,
    key_options: Vec<i32>,
    predicate: Option<String>,
}

impl IndexJson {
    fn into_row(self) -> crate::introspect::IndexRow {
        crate::introspect::IndexRow {
            table_oid: 0,
            name: self.name,
            // A materialized view is never partitioned, nor its indexes attached.
            partitioned: false,
            attached: false,
            is_unique: self.is_unique,
            method: self.method,
            key_count: self.key_count,
            valid: self.valid,
            nulls_not_distinct: self.nulls_not_distinct,
            definition: self.definition,
            key_texts: self.key_texts,
            key_columns: self.key_columns,
            key_options: self.key_options,
            predicate: self.predicate,
        }
    }
}

/// `ALTER MATERIALIZED VIEW ... SET (...)` / `RESET (...)`: storage options change in place.
fn alter_options(
    name: &QualifiedName,
    existing: &MaterializedView,
    wanted: &MaterializedView,
) -> String {
    let key = |option: &String| option.split('=').next().unwrap_or_default().to_owned();
    let set: Vec<&String> = wanted
        .options
        .iter()
        .filter(|o| !existing.options.contains(o))
        .collect();
    let wanted_keys: Vec<String> = wanted.options.iter().map(key).collect();
    let reset: Vec<String> = existing
        .options
        .iter()
        .map(key)
        .filter(|k| !wanted_keys.contains(k))
        .collect();
    let mut out = Vec::new();
    if !set.is_empty() {
        let set: Vec<&str> = set.iter().map(|s| s.as_str()).collect();
        out.push(format!(
            "ALTER MATERIALIZED VIEW {} SET ({})",
            name.quoted(),
            set.join(", ")
        ));
    }
    if !reset.is_empty() {
        out.push(format!(
            "ALTER MATERIALIZED VIEW {} RESET ({})",
            name.quoted(),
            reset.join(", ")
        ));
    }
    out.join(";\n")
}

/// The DROP of `name`, after the DROPs of the views and materialized views that read it
/// (directly or through each other; a DROP without CASCADE fails while they exist), named so
/// a human sees what goes with it. Those DROPs say `IF EXISTS`: a reader that is extra too
/// has a finding of its own, which may be printed — and run — first.
fn drop_with_dependants(name: &QualifiedName, live: &Schema) -> String {
    let mut order = Vec::new();
    dependants(name, live, &mut order);
    let mut out = String::new();
    if !order.is_empty() {
        let names: Vec<String> = order.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            "-- first what reads it (the next plan creates again those the desired state has): \
             {}\n",
            names.join(", ")
        ));
    }
    for dependant in &order {
        match dependant {
            ObjectId::View(v) => out.push_str(&format!("DROP VIEW IF EXISTS {};\n", v.quoted())),
            ObjectId::MaterializedView(m) => {
                out.push_str(&format!(
                    "DROP MATERIALIZED VIEW IF EXISTS {};\n",
                    m.quoted()
                ));
            }
            _ => {}
        }
    }
    out.push_str(&MaterializedViewKind::drop(name));
    out
}

/// The views and materialized views of `live` that read `name`, directly or not, those
/// furthest from it first.
fn dependants(name: &QualifiedName, live: &Schema, order: &mut Vec<ObjectId>) {
    let readers = live
        .views
        .iter()
        .filter(|(_, v)| v.relations.contains(name))
        .map(|(n, _)| ObjectId::View(n.clone()))
        .chain(
            live.materialized_views
                .iter()
                .filter(|(_, m)| m.relations.contains(name))
                .map(|(n, _)| ObjectId::MaterializedView(n.clone())),
        );
    for reader in readers.collect::<Vec<_>>() {
        if order.contains(&reader) {
            continue;
        }
        if let ObjectId::View(n) | ObjectId::MaterializedView(n) = &reader {
            dependants(n, live, order);
        }
        if !order.contains(&reader) {
            order.push(reader);
        }
    }
}

/// What the planner estimates for a materialized view's query on the target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Estimate {
    /// The plan was made without the target at hand (a re-plan from a plan file).
    NotAsked,
    Cost {
        total: f64,
        rows: f64,
    },
    /// It reads relations the plan creates (empty when it runs): not asked.
    ReadsNew(Vec<QualifiedName>),
    /// `EXPLAIN` failed, usually because the query reads what the plan creates first.
    Unknown(String),
}

/// The H016 message.
fn populates(name: &QualifiedName, estimate: &Estimate) -> String {
    let what = format!(
        "creating {name} runs its query once and stores every row it returns (reads and writes \
         of what it reads continue)"
    );
    match estimate {
        Estimate::NotAsked => format!("{what}; its cost was not estimated"),
        Estimate::Cost { total, rows } => format!(
            "{what}; the planner estimates a cost of {} and ~{} rows on this database (EXPLAIN, \
             one query per materialized view the plan creates)",
            grouped(*total),
            grouped(*rows)
        ),
        Estimate::ReadsNew(relations) => format!(
            "{what}; it reads {}, which this plan creates, so there are no rows to read yet",
            relations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Estimate::Unknown(why) => format!(
            "{what}; no estimate: {why} (the query likely reads something this plan creates \
             first, so its cost depends on the rows that gets)"
        ),
    }
}

/// `1234567.8` → `1,234,568`.
fn grouped(n: f64) -> String {
    let digits = (n.max(0.0).round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Puts the planner's estimate of each created materialized view's query on the target into
/// the step's H016 message: one `EXPLAIN` (never run) per materialized view the plan creates,
/// in a read-only transaction that is rolled back — unless the query reads relations that
/// `live` lacks (the plan creates them, empty).
pub(crate) async fn estimate_costs(
    plan: &mut Plan,
    live: &Schema,
    desired: &Schema,
    target: &mut PgConnection,
) {
    for step in plan
        .steps
        .iter_mut()
        .filter(|s| s.kind == StepKind::CreateMaterializedView)
    {
        let ObjectId::MaterializedView(name) = &step.object else {
            continue;
        };
        let Some(view) = desired.materialized_views.get(name) else {
            continue;
        };
        let new: Vec<QualifiedName> = view
            .relations
            .iter()
            .filter(|r| super::relation_kind(live, r).is_none())
            .cloned()
            .collect();
        let estimate = if new.is_empty() {
            explain(target, &view.definition).await
        } else {
            Estimate::ReadsNew(new)
        };
        for hazard in step
            .hazards
            .iter_mut()
            .filter(|h| h.code == HazardCode::PopulatesMaterializedView)
        {
            hazard.message = populates(name, &estimate);
        }
    }
}

async fn explain(target: &mut PgConnection, query: &str) -> Estimate {
    match try_explain(target, query).await {
        Ok(estimate) => estimate,
        Err(e) => Estimate::Unknown(match e.as_database_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        }),
    }
}

async fn try_explain(target: &mut PgConnection, query: &str) -> Result<Estimate, sqlx::Error> {
    use sqlx::Connection;
    let mut tx = target.begin().await?;
    for setting in [
        "SET TRANSACTION READ ONLY",
        "SET LOCAL search_path = public",
        "SET LOCAL statement_timeout = '10s'",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {query}"
    )))
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    // The server sends `json`, which is its text.
    let text: String = row.try_get_unchecked(0)?;
    let parsed: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| sqlx::Error::Decode(format!("EXPLAIN output: {e}").into()))?;
    let plan = &parsed[0]["Plan"];
    match (plan["Total Cost"].as_f64(), plan["Plan Rows"].as_f64()) {
        (Some(total), Some(rows)) => Ok(Estimate::Cost { total, rows }),
        _ => Ok(Estimate::Unknown("EXPLAIN gave no cost".to_owned())),
    }
}
