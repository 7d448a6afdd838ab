//! Domains (`CREATE DOMAIN`): a base type with an optional default, NOT NULL and checks.
//!
//! A domain is created when missing; a domain that differs (base type, default, NOT NULL or
//! checks) is a finding (D131), since changing one means `ALTER DOMAIN` statements that may
//! fail on existing data; an extra domain is an extra type (D105).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind};
use crate::diff::Code;
use crate::load::format::{At, Entries, ExprText, FileSpec, ObjectName};
use crate::load::resolve::Resolver;
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, guard, refs, stage};
use crate::plan::{Key, StepBuilder, StepKind};
use crate::pull::yaml::{self, quoted, scalar};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub data_type: String,
    pub default: Option<String>,
    pub not_null: bool,
    pub collation: Option<String>,
    /// Check expressions by constraint name, using `VALUE`.
    pub checks: BTreeMap<Ident, String>,
}

/// `domains: { name: { type, not_null, default, collation, checks } }`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Domain")]
pub(crate) struct DomainSpec {
    /// The base type, as SQL (`text`, `numeric(12,2)`).
    #[serde(rename = "type")]
    pub data_type: At<String>,
    /// `true`: NOT NULL.
    #[serde(default)]
    pub not_null: bool,
    /// The default, an expression.
    pub default: Option<At<ExprText>>,
    /// A collation: its name, literally (`C`, `en_US.utf8`), or `{ schema, name }`.
    pub collation: Option<ObjectName>,
    /// Check constraints: name → condition on `VALUE` (`VALUE > 0`).
    #[serde(default)]
    pub checks: Entries<At<String>>,
}

pub(crate) struct DomainKind;

impl Kind for DomainKind {
    const NAME: &'static str = "domain";
    const SECTION: &'static str = "domains";
    const IS_TYPE: bool = true;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = true;
    type Key = QualifiedName;
    type Object = Domain;
    type Spec = DomainSpec;

    fn objects(schema: &Schema) -> &BTreeMap<QualifiedName, Domain> {
        &schema.domains
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<QualifiedName, Domain> {
        &mut schema.domains
    }

    fn id(name: &QualifiedName) -> ObjectId {
        ObjectId::Domain(name.clone())
    }

    fn schema_of(name: &QualifiedName) -> &Ident {
        &name.schema
    }

    fn type_name(name: &QualifiedName) -> Option<&QualifiedName> {
        Some(name)
    }

    fn section(file: &FileSpec) -> Option<&Entries<DomainSpec>> {
        Some(&file.domains)
    }

    fn resolve(
        r: &mut Resolver,
        file: &Path,
        name: &QualifiedName,
        spec: &DomainSpec,
    ) -> Option<(QualifiedName, Domain)> {
        let type_origin = r.origin(file, &spec.data_type);
        let data_type = r.resolve_type(&spec.data_type.value, &name.schema, &type_origin)?;
        let default = match &spec.default {
            Some(d) => {
                let origin = r.origin(file, d);
                Some(r.expression(&d.value.0, &origin, "default")?)
            }
            None => None,
        };
        let mut checks = BTreeMap::new();
        for (check_name, expr) in &spec.checks.0 {
            let origin = r.origin(file, check_name);
            let check_ident = r.ident(&check_name.value, &origin, "constraint")?;
            let origin = r.origin(file, expr);
            let expr = r.expression(&expr.value, &origin, "check")?;
            checks.insert(check_ident, expr);
        }
        Some((
            name.clone(),
            Domain {
                data_type,
                default,
                not_null: spec.not_null,
                collation: spec
                    .collation
                    .as_ref()
                    .map(crate::load::resolve::collation_name),
                checks,
            },
        ))
    }

    fn pull(name: &QualifiedName, d: &Domain, schema: &Schema) -> Option<String> {
        let mut out = String::new();
        let _ = writeln!(out, "  {}:", scalar(name.name.as_str()));
        let data_type = crate::pull::type_name(schema, &name.schema, &d.data_type);
        let _ = writeln!(out, "    type: {}", scalar(&data_type));
        if d.not_null {
            let _ = writeln!(out, "    not_null: true");
        }
        if let Some(default) = &d.default {
            let _ = writeln!(out, "    default: {}", quoted(default));
        }
        if let Some(collation) = &d.collation {
            let _ = writeln!(out, "    collation: {}", yaml::collation(collation));
        }
        if !d.checks.is_empty() {
            let _ = writeln!(out, "    checks:");
            for (check, expr) in &d.checks {
                let _ = writeln!(out, "      {}: {}", scalar(check.as_str()), quoted(expr));
            }
        }
        Some(out)
    }

    const CATALOG: Catalog = Catalog {
        name: "domains",
        sql: include_str!("sql/domains.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(QualifiedName, Domain), sqlx::Error> {
        let check_names: Vec<String> = row.try_get("check_names")?;
        let check_defs: Vec<String> = row.try_get("check_defs")?;
        let checks = check_names
            .into_iter()
            .zip(check_defs)
            .map(|(name, def)| (Ident::from_catalog(name), check_body(&def)))
            .collect();
        let name = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("name")?),
        );
        Ok((
            name,
            Domain {
                data_type: row.try_get("data_type")?,
                default: row.try_get("default_expr")?,
                not_null: row.try_get("not_null")?,
                collation: row.try_get("collation")?,
                checks,
            },
        ))
    }

    fn printed_texts(d: &Domain) -> Vec<&str> {
        d.default
            .iter()
            .map(String::as_str)
            .chain(d.checks.values().map(String::as_str))
            .collect()
    }

    const DIFFERS: Code = Code::DomainDefinition;
    const DIFFERS_MESSAGE: &'static str = "base type, default, NOT NULL or checks differ";
    const EXTRA: Code = Code::ExtraType;

    fn extra_id(name: &QualifiedName) -> ObjectId {
        ObjectId::Type(name.clone())
    }

    fn create(name: &QualifiedName, d: &Domain) -> String {
        let mut sql = format!("CREATE DOMAIN {} AS {}", name.quoted(), d.data_type);
        if let Some(collation) = &d.collation {
            let _ = write!(sql, " COLLATE {collation}");
        }
        if let Some(default) = &d.default {
            let _ = write!(sql, " DEFAULT ({default})");
        }
        if d.not_null {
            sql.push_str(" NOT NULL");
        }
        for (check, expr) in &d.checks {
            let _ = write!(sql, " CONSTRAINT {} CHECK ({expr})", check.quoted());
        }
        sql
    }

    fn drop(name: &QualifiedName) -> String {
        format!("DROP TYPE {}", name.quoted())
    }

    fn steps(name: &QualifiedName, d: &Domain, out: &mut Vec<Draft>) {
        StepBuilder::new(StepKind::CreateDomain, stage::CATALOG, None, Self::id(name))
            .sql(guard::unless_exists(
                &guard::type_exists(name),
                &Self::create(name, d),
            ))
            .requires(Key::Schema(name.schema.clone()))
            .requires(Key::Extensions)
            .requires_all(refs::type_name(&d.data_type).map(Key::Type))
            .requires_all(
                d.checks
                    .values()
                    .chain(&d.default)
                    .flat_map(|e| refs::functions(e))
                    .map(Key::Function),
            )
            .provides(Key::Type(name.clone()))
            .push(out);
    }

    #[cfg(test)]
    fn samples() -> (QualifiedName, [Domain; 2]) {
        let name = QualifiedName::new(
            Ident::from_catalog("app".into()),
            Ident::from_catalog("Positive".into()),
        );
        let plain = Domain {
            data_type: "integer".into(),
            default: None,
            not_null: false,
            collation: None,
            checks: BTreeMap::new(),
        };
        let full = Domain {
            data_type: "numeric(10,2)".into(),
            default: Some("1.5".into()),
            not_null: true,
            collation: None,
            checks: [(
                Ident::from_catalog("positive".into()),
                "(VALUE > (0)::numeric)".to_owned(),
            )]
            .into(),
        };
        (name, [plain, full])
    }
}

/// `CHECK (x > 0)` (as `pg_get_constraintdef` prints it) → `x > 0`.
pub(crate) fn check_body(definition: &str) -> String {
    let body = definition.strip_prefix("CHECK ").unwrap_or(definition);
    let body = body.strip_suffix(" NOT VALID").unwrap_or(body);
    body.strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .unwrap_or(body)
        .to_owned()
}
