//! Standalone sequences, including those `OWNED BY` a column (serial and pg_dump style);
//! identity sequences belong to their column instead.
//!
//! Created when missing — the sequence first, its `OWNED BY` once the owning table and
//! column exist; different options or owner are a finding (D133); an extra sequence is D106.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind};
use crate::diff::{Code, Finding, Severity};
use crate::load::error::{LoadError, Origin};
use crate::load::format::{At, Entries, FileSpec, ShortOr};
use crate::load::resolve::Resolver;
use crate::model::{Ident, ObjectId, QualifiedName, Schema, SequenceOptions, SequenceType};
use crate::plan::{Draft, Key, StepBuilder, StepKind, stage};
use crate::pull::yaml::{flow, scalar};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub options: SequenceOptions,
    /// `OWNED BY table.column`: the sequence is dropped with the column.
    pub owned_by: Option<(QualifiedName, Ident)>,
}

/// `sequences: { name: { type, start, increment, min, max, cache, cycle, owned_by } }`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sequence")]
pub(crate) struct SequenceSpec {
    /// `smallint`, `integer` or `bigint` (default).
    #[serde(rename = "type")]
    pub data_type: Option<At<String>>,
    /// The first value.
    pub start: Option<i64>,
    /// The step between values (not 0).
    pub increment: Option<i64>,
    /// The smallest value (MINVALUE).
    pub min: Option<i64>,
    /// The largest value (MAXVALUE).
    pub max: Option<i64>,
    /// How many values are allocated at once (CACHE).
    pub cache: Option<i64>,
    /// `true`: wrap around past the limit (CYCLE).
    pub cycle: Option<bool>,
    /// `table.column` (table in this file's schema) or `schema.table.column`, or
    /// `{ table, column, schema }` for names that contain a dot.
    pub owned_by: Option<At<ShortOr<String, OwnerSpec>>>,
}

/// The long form of `owned_by`: names written literally, so they may contain dots.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SequenceOwner")]
pub(crate) struct OwnerSpec {
    /// The owning table, literally.
    pub table: String,
    /// The owning column, literally.
    pub column: String,
    /// Default: the sequence's schema.
    pub schema: Option<String>,
}

pub(crate) struct SequenceKind;

impl Kind for SequenceKind {
    const NAME: &'static str = "sequence";
    const SECTION: &'static str = "sequences";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = true;
    const PREREQUISITE: bool = true;
    // A `serial` column's.
    const IMPLICIT: bool = true;
    type Key = QualifiedName;
    type Object = Sequence;
    type Spec = SequenceSpec;

    fn objects(schema: &Schema) -> &BTreeMap<QualifiedName, Sequence> {
        &schema.sequences
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<QualifiedName, Sequence> {
        &mut schema.sequences
    }

    fn id(name: &QualifiedName) -> ObjectId {
        ObjectId::Sequence(name.clone())
    }

    fn schema_of(name: &QualifiedName) -> &Ident {
        &name.schema
    }

    fn relation_name(name: &QualifiedName) -> Option<&QualifiedName> {
        Some(name)
    }

    fn section(file: &FileSpec) -> Option<&Entries<SequenceSpec>> {
        Some(&file.sequences)
    }

    fn resolve(
        r: &mut Resolver,
        file: &Path,
        name: &QualifiedName,
        spec: &SequenceSpec,
    ) -> Option<(QualifiedName, Sequence)> {
        let data_type = match &spec.data_type {
            Some(t) => {
                let origin = r.origin(file, t);
                sequence_type(r, &t.value, &origin)?
            }
            None => SequenceType::Bigint,
        };
        if spec.increment == Some(0) {
            let origin = Origin::new(file, 0, 0);
            r.error(LoadError::new(origin, "a sequence increment cannot be 0"));
            return None;
        }
        let options = SequenceOptions::with(
            data_type,
            spec.increment,
            spec.min,
            spec.max,
            spec.start,
            spec.cache,
            spec.cycle,
        );
        let owned_by = match &spec.owned_by {
            Some(owner) => {
                let origin = r.origin(file, owner);
                Some(r.owner(&owner.value, &name.schema, &origin)?)
            }
            None => None,
        };
        Some((name.clone(), Sequence { options, owned_by }))
    }

    fn pull(name: &QualifiedName, s: &Sequence, schema: &Schema) -> Option<String> {
        if crate::pull::serial_of(schema, name, s).is_some() {
            // Written as the column's `serial` type instead.
            return None;
        }
        let mut pairs = Vec::new();
        crate::pull::sequence_options(&mut pairs, &s.options, SequenceType::Bigint);
        if let Some((table, column)) = &s.owned_by {
            pairs.push(("owned_by", owner_yaml(name, table, column)));
        }
        let options = if pairs.is_empty() {
            "{}".to_owned()
        } else {
            flow(&pairs)
        };
        Some(format!("  {}: {options}\n", scalar(name.name.as_str())))
    }

    const CATALOG: Catalog = Catalog {
        name: "sequences",
        sql: include_str!("sql/sequences.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(QualifiedName, Sequence), sqlx::Error> {
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        let values = crate::introspect::SeqValues::read(row, row.try_get("seq_type")?)?;
        let options = values
            .options()
            .map_err(|e| sqlx::Error::Decode(format!("sequence {name}: {e}").into()))?;
        let owner_schema: Option<String> = row.try_get("owner_schema")?;
        let owner_table: Option<String> = row.try_get("owner_table")?;
        let owner_column: Option<String> = row.try_get("owner_column")?;
        let owned_by = match (owner_schema, owner_table, owner_column) {
            (Some(schema), Some(table), Some(column)) => Some((
                QualifiedName::new(Ident::from_catalog(schema), Ident::from_catalog(table)),
                Ident::from_catalog(column),
            )),
            _ => None,
        };
        Ok((name, Sequence { options, owned_by }))
    }

    /// An owner that is not a managed table (a partition, say) is not modelled.
    fn settle(schema: &mut Schema) {
        let tables = &schema.tables;
        for sequence in schema.sequences.values_mut() {
            if sequence
                .owned_by
                .as_ref()
                .is_some_and(|(table, _)| !tables.contains_key(table))
            {
                sequence.owned_by = None;
            }
        }
    }

    fn without_unbuilt_tables(s: &mut Sequence, built: &dyn Fn(&QualifiedName) -> bool) {
        if s.owned_by.as_ref().is_some_and(|(table, _)| !built(table)) {
            s.owned_by = None;
        }
    }

    /// `OWNED BY` is structured (no text to canonicalise): it comes back from the desired
    /// state when the table was not built with the sequence, or its build failed.
    fn restore(printed: &mut Sequence, desired: &Sequence) {
        if printed.owned_by.is_none() {
            printed.owned_by = desired.owned_by.clone();
        }
    }

    /// A sequence owned by a column the desired state drops goes with that column's (or its
    /// table's) DROP — a `DROP SEQUENCE` printed first would fail, since the column owns it —
    /// so it gets no finding of its own. One a kept column's default still uses cannot be
    /// dropped before that default changes: the suggestion says so.
    fn extra(
        name: &QualifiedName,
        s: &Sequence,
        live: &Schema,
        desired: &Schema,
    ) -> Option<Finding> {
        if let Some((table, column)) = &s.owned_by {
            let kept = desired
                .tables
                .get(table)
                .is_some_and(|t| t.column(column.as_str()).is_some());
            if !kept {
                return None;
            }
        }
        let users: Vec<String> = live
            .tables
            .iter()
            .flat_map(|(table, t)| t.columns.iter().map(move |c| (table, c)))
            .filter(|(_, c)| {
                c.default
                    .as_deref()
                    .is_some_and(|d| crate::plan::refs::sequences(d).contains(name))
            })
            .map(|(table, c)| ObjectId::column(table, &c.name).to_string())
            .collect();
        let mut sql = String::new();
        if !users.is_empty() {
            sql.push_str(&format!(
                "-- first change the default of {} (see its finding): it uses the sequence\n",
                users.join(", ")
            ));
        }
        sql.push_str(&Self::drop(name));
        Some(
            Finding::new(
                Self::EXTRA,
                Severity::Risky,
                Self::id(name),
                "in the database, not in the desired state",
            )
            .suggest(sql),
        )
    }

    const DIFFERS: Code = Code::SequenceDefinition;
    const DIFFERS_MESSAGE: &'static str = "options or OWNED BY differ";
    const EXTRA: Code = Code::ExtraSequence;

    fn create(name: &QualifiedName, s: &Sequence) -> String {
        format!(
            "CREATE SEQUENCE IF NOT EXISTS {} {}",
            name.quoted(),
            crate::ddl::sequence_options(&s.options)
        )
    }

    fn drop(name: &QualifiedName) -> String {
        format!("DROP SEQUENCE {}", name.quoted())
    }

    fn steps(name: &QualifiedName, s: &Sequence, out: &mut Vec<Draft>) {
        StepBuilder::new(
            StepKind::CreateSequence,
            stage::CATALOG,
            None,
            Self::id(name),
        )
        .sql(Self::create(name, s))
        .requires(Key::Schema(name.schema.clone()))
        .provides(Key::Sequence(name.clone()))
        .push(out);
        // OWNED BY needs the table and its column, which may come later in the plan.
        if let Some((table, column)) = &s.owned_by {
            StepBuilder::new(
                StepKind::SetSequenceOwner,
                stage::NEW_TABLES,
                Some(table),
                ObjectId::SequenceOwnership(name.clone()),
            )
            .sql(owned_by(name, table, column))
            .requires(Key::Sequence(name.clone()))
            .requires(Key::Table(table.clone()))
            .requires(Key::NewColumns(table.clone()))
            .push(out);
        }
    }

    fn columns_used(_name: &QualifiedName, s: &Sequence) -> Vec<(QualifiedName, Ident)> {
        s.owned_by.iter().cloned().collect()
    }

    #[cfg(test)]
    fn samples() -> (QualifiedName, [Sequence; 2]) {
        let name = QualifiedName::new(
            Ident::from_catalog("app".into()),
            Ident::from_catalog("ticket numbers".into()),
        );
        let plain = Sequence {
            options: SequenceOptions::defaults(SequenceType::Bigint, 1),
            owned_by: None,
        };
        let odd = Sequence {
            options: SequenceOptions::with(
                SequenceType::Integer,
                Some(-2),
                None,
                Some(-10),
                None,
                Some(20),
                Some(true),
            ),
            owned_by: None,
        };
        (name, [plain, odd])
    }
}

/// `owned_by` as YAML: the short `[schema.]table.column` when the loader's split on `.`
/// gives the names back, else the long form (a name with a dot in it).
fn owner_yaml(sequence: &QualifiedName, table: &QualifiedName, column: &Ident) -> String {
    let same_schema = table.schema == sequence.schema;
    let mut names = vec![table.name.as_str(), column.as_str()];
    if !same_schema {
        names.insert(0, table.schema.as_str());
    }
    if !names.iter().any(|n| n.contains('.')) {
        return scalar(&names.join("."));
    }
    let mut pairs = vec![
        ("table", scalar(table.name.as_str())),
        ("column", scalar(column.as_str())),
    ];
    if !same_schema {
        pairs.push(("schema", scalar(table.schema.as_str())));
    }
    flow(&pairs)
}

/// `ALTER SEQUENCE ... OWNED BY table.column`.
pub fn owned_by(name: &QualifiedName, table: &QualifiedName, column: &Ident) -> String {
    format!(
        "ALTER SEQUENCE {} OWNED BY {}.{}",
        name.quoted(),
        table.quoted(),
        column.quoted()
    )
}

fn sequence_type(r: &mut Resolver, text: &str, origin: &Origin) -> Option<SequenceType> {
    let canonical = crate::normalise::normalise_type(text).ok()?;
    match SequenceType::from_type(&canonical.text) {
        Some(t) => Some(t),
        None => {
            r.error(
                LoadError::new(
                    origin.clone(),
                    format!("a sequence cannot be of type `{text}`"),
                )
                .help("use smallint, integer or bigint"),
            );
            None
        }
    }
}
