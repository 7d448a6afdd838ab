//! Composite types (`CREATE TYPE t AS (...)`).
//!
//! Created when missing; different attributes are a finding (D132): `ALTER TYPE` on a
//! composite that columns use rewrites their tables; an extra composite is an extra type
//! (D105).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind};
use crate::diff::Code;
use crate::load::format::{At, Entries, FileSpec, ObjectName, ShortOr};
use crate::load::resolve::Resolver;
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, Key, StepBuilder, StepKind, guard, refs, stage};
use crate::pull::yaml::{self, flow, scalar};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub attributes: Vec<CompositeAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeAttribute {
    pub name: Ident,
    pub data_type: String,
    pub collation: Option<String>,
}

/// `composites: { name: { attribute: type | {type, collation} } }`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
#[schemars(rename = "Composite")]
pub(crate) struct CompositeSpec(pub Entries<At<ShortOr<String, AttributeSpec>>>);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CompositeAttribute")]
pub(crate) struct AttributeSpec {
    /// The attribute's type, as SQL.
    #[serde(rename = "type")]
    pub data_type: At<String>,
    /// A collation: its name, literally, or `{ schema, name }`.
    pub collation: Option<ObjectName>,
}

pub(crate) struct CompositeKind;

impl Kind for CompositeKind {
    const NAME: &'static str = "composite type";
    const SECTION: &'static str = "composites";
    const IS_TYPE: bool = true;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = true;
    type Key = QualifiedName;
    type Object = CompositeType;
    type Spec = CompositeSpec;

    fn objects(schema: &Schema) -> &BTreeMap<QualifiedName, CompositeType> {
        &schema.composites
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<QualifiedName, CompositeType> {
        &mut schema.composites
    }

    fn id(name: &QualifiedName) -> ObjectId {
        ObjectId::Type(name.clone())
    }

    fn schema_of(name: &QualifiedName) -> &Ident {
        &name.schema
    }

    fn type_name(name: &QualifiedName) -> Option<&QualifiedName> {
        Some(name)
    }

    fn section(file: &FileSpec) -> Option<&Entries<CompositeSpec>> {
        Some(&file.composites)
    }

    fn resolve(
        r: &mut Resolver,
        file: &Path,
        name: &QualifiedName,
        spec: &CompositeSpec,
    ) -> Option<(QualifiedName, CompositeType)> {
        let mut attributes: Vec<CompositeAttribute> = Vec::new();
        for (attr_name, spec) in &spec.0.0 {
            let origin = r.origin(file, attr_name);
            let Some(attr) = r.ident(&attr_name.value, &origin, "attribute") else {
                continue;
            };
            let (type_text, collation, type_origin) = match &spec.value {
                ShortOr::Short(t) => (t.as_str(), None, r.origin(file, spec)),
                ShortOr::Long(l) => (
                    l.data_type.value.as_str(),
                    l.collation.as_ref(),
                    r.origin(file, &l.data_type),
                ),
            };
            if let Some(data_type) = r.resolve_type(type_text, &name.schema, &type_origin) {
                attributes.push(CompositeAttribute {
                    name: attr,
                    data_type,
                    collation: collation.map(crate::load::resolve::collation_name),
                });
            }
        }
        Some((name.clone(), CompositeType { attributes }))
    }

    fn pull(name: &QualifiedName, c: &CompositeType, schema: &Schema) -> Option<String> {
        let mut out = String::new();
        if c.attributes.is_empty() {
            // `name:` alone would be a YAML null, not an empty mapping.
            let _ = writeln!(out, "  {}: {{}}", scalar(name.name.as_str()));
            return Some(out);
        }
        let _ = writeln!(out, "  {}:", scalar(name.name.as_str()));
        for a in &c.attributes {
            let data_type = scalar(&crate::pull::type_name(schema, &name.schema, &a.data_type));
            let value = match &a.collation {
                Some(coll) => flow(&[("type", data_type), ("collation", yaml::collation(coll))]),
                None => data_type,
            };
            let _ = writeln!(out, "    {}: {value}", scalar(a.name.as_str()));
        }
        Some(out)
    }

    const CATALOG: Catalog = Catalog {
        name: "composites",
        sql: include_str!("sql/composites.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(QualifiedName, CompositeType), sqlx::Error> {
        let names: Vec<String> = row.try_get("attribute_names")?;
        let types: Vec<String> = row.try_get("attribute_types")?;
        let collations: Vec<Option<String>> = row.try_get("attribute_collations")?;
        let attributes = names
            .into_iter()
            .zip(types)
            .zip(collations)
            .map(|((name, data_type), collation)| CompositeAttribute {
                name: Ident::from_catalog(name),
                data_type,
                collation,
            })
            .collect();
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        Ok((name, CompositeType { attributes }))
    }

    const DIFFERS: Code = Code::CompositeDefinition;
    const DIFFERS_MESSAGE: &'static str = "attributes differ";
    const EXTRA: Code = Code::ExtraType;

    fn create(name: &QualifiedName, c: &CompositeType) -> String {
        let attributes: Vec<String> = c
            .attributes
            .iter()
            .map(|a| {
                let mut s = format!("{} {}", a.name.quoted(), a.data_type);
                if let Some(collation) = &a.collation {
                    let _ = write!(s, " COLLATE {collation}");
                }
                s
            })
            .collect();
        format!(
            "CREATE TYPE {} AS ({})",
            name.quoted(),
            attributes.join(", ")
        )
    }

    fn drop(name: &QualifiedName) -> String {
        format!("DROP TYPE {}", name.quoted())
    }

    fn steps(name: &QualifiedName, c: &CompositeType, out: &mut Vec<Draft>) {
        StepBuilder::new(StepKind::CreateType, stage::CATALOG, None, Self::id(name))
            .sql(guard::unless_exists(
                &guard::type_exists(name),
                &Self::create(name, c),
            ))
            .requires(Key::Schema(name.schema.clone()))
            .requires(Key::Extensions)
            .requires_all(
                c.attributes
                    .iter()
                    .filter_map(|a| refs::type_name(&a.data_type))
                    .filter(|t| t != name)
                    .map(Key::Type),
            )
            .provides(Key::Type(name.clone()))
            .push(out);
    }

    #[cfg(test)]
    fn samples() -> (QualifiedName, [CompositeType; 2]) {
        let attribute = |name: &str, data_type: &str, collation: Option<&str>| CompositeAttribute {
            name: Ident::from_catalog(name.into()),
            data_type: data_type.into(),
            collation: collation.map(str::to_owned),
        };
        let name = QualifiedName::new(
            Ident::from_catalog("app".into()),
            Ident::from_catalog("pair".into()),
        );
        (
            name,
            [
                CompositeType {
                    attributes: vec![attribute("Left", "integer", None)],
                },
                CompositeType {
                    attributes: vec![
                        attribute("Left", "integer", None),
                        attribute("label", "text", Some("\"C\"")),
                    ],
                },
            ],
        )
    }
}
