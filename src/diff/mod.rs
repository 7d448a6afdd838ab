//! Live model vs desired model → additive changes and findings. Pure: no database, no I/O.
//!
//! Additive changes ([`Change`]) are the only thing the planner can turn into SQL; everything
//! that would need a destructive or non-additive statement is a [`Finding`] — a different
//! type, with a stable code, a severity and suggested SQL as text only. No function anywhere
//! converts a finding into a change.
//!
//! Both models must be canonical (introspected, or canonicalised by [`crate::canon`]), so a
//! plain `==` between two objects means "the server would print them the same".

mod change;
mod column_type;
mod finding;
mod hold_back;
mod partition;
mod table;

pub use change::{Change, EnumPosition};
pub use column_type::{TypeChange, classify as classify_type_change};
pub use finding::{Code, Finding, Severity, Suggestion};
pub(crate) use partition::left_uncreated as partition_left_uncreated;
pub(crate) use table::indexes as relation_indexes;

use std::collections::BTreeSet;

use crate::ident::quote_literal;
use crate::introspect::UndeclaredSchema;
use crate::kinds;
use crate::model::{ObjectId, QualifiedName, Schema};

#[derive(Debug, Clone)]
pub struct Options {
    /// Pair a missing column with an extra column of the same type as a possible rename
    /// (reported, and the column is not added) instead of adding the new column.
    pub rename_hints: bool,
    /// Tables that exist in the database in a form the live model leaves out (inheritance
    /// children; see [`crate::introspect::Introspected`]): a desired table of that name is
    /// reported (D135), never created.
    pub unmanaged_tables: BTreeSet<QualifiedName>,
    /// Partitions' indexes that are part of their partitioned table's index (see
    /// [`crate::introspect::Introspected::partition_indexes`]): names taken, which the
    /// indexes reconcile builds for partitions must not use.
    pub partition_indexes: BTreeSet<QualifiedName>,
    /// Schemas in the database that the desired state does not describe and nothing ignores
    /// (see [`crate::introspect::Introspected::undeclared_schemas`]): each is a finding (D108).
    pub undeclared_schemas: Vec<UndeclaredSchema>,
    /// Replace definitions PostgreSQL can swap in place (`CREATE OR REPLACE`, `ALTER
    /// POLICY`, `COMMENT ON`) as steps; `false` (`--no-replace`) makes each a finding.
    pub replace: bool,
    /// The role the plan runs as: the objects it creates get this role's default privileges
    /// (`ALTER DEFAULT PRIVILEGES FOR ROLE`), which are reported when the desired state does
    /// not list them. `None`: not predicted.
    pub creating_role: Option<crate::model::Ident>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rename_hints: true,
            unmanaged_tables: BTreeSet::new(),
            partition_indexes: BTreeSet::new(),
            undeclared_schemas: Vec::new(),
            replace: true,
            creating_role: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub additive: Vec<Change>,
    pub findings: Vec<Finding>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.additive.is_empty() && self.findings.is_empty()
    }
}

/// Compares `live` with `desired` (both canonical).
pub fn diff(live: &Schema, desired: &Schema, options: &Options) -> Diff {
    let mut out = Diff::default();
    for name in desired.schemas.difference(&live.schemas) {
        out.additive
            .push(Change::CreateSchema { name: name.clone() });
    }
    for schema in &options.undeclared_schemas {
        out.findings.push(undeclared_schema(schema));
    }
    for (name, ext) in &desired.extensions {
        match live.extensions.get(name) {
            None => out.additive.push(Change::CreateExtension {
                name: name.clone(),
                extension: ext.clone(),
            }),
            Some(l) if l.schema != ext.schema => out.findings.push(
                Finding::new(
                    Code::ExtensionSchema,
                    Severity::Risky,
                    ObjectId::Extension(name.clone()),
                    format!(
                        "installed in schema {}; the desired state puts it in {}",
                        l.schema, ext.schema
                    ),
                )
                .suggest(format!(
                    "ALTER EXTENSION {} SET SCHEMA {}",
                    name.quoted(),
                    ext.schema.quoted()
                )),
            ),
            Some(_) => {}
        }
    }
    for (name, ext) in &live.extensions {
        if !desired.extensions.contains_key(name) && desired.schemas.contains(&ext.schema) {
            out.findings.push(
                Finding::new(
                    Code::ExtraExtension,
                    Severity::Risky,
                    ObjectId::Extension(name.clone()),
                    format!(
                        "installed in schema {} but not in the desired state",
                        ext.schema
                    ),
                )
                .suggest(format!("DROP EXTENSION {}", name.quoted())),
            );
        }
    }
    enums(live, desired, &mut out);
    kinds::diff_all(live, desired, options, &mut out);
    table::tables(live, desired, options, &mut out);
    hold_back::dependants(&mut out, live, desired);
    kinds::owner::only_after_creation(&mut out, live);
    out.findings.sort_by_cached_key(Finding::sort_key);
    out
}

/// A schema the desired state does not describe: drift a scheduled audit must report, never
/// pass over. Dropping it loses every table in it.
fn undeclared_schema(schema: &UndeclaredSchema) -> Finding {
    let name = &schema.name;
    let severity = if schema.tables > 0 {
        Severity::Destructive
    } else if schema.objects() > 0 {
        Severity::Risky
    } else {
        Severity::Cosmetic
    };
    Finding::new(
        Code::ExtraSchema,
        severity,
        ObjectId::Schema(name.clone()),
        format!(
            "in the database ({}), not in the desired state: describe it (`reconcile pull \
             --schema-name {name}` writes its YAML) or ignore it (--ignore-schema {name})",
            schema.contents()
        ),
    )
    .suggest(format!("DROP SCHEMA {} CASCADE", name.quoted()))
}

fn enums(live: &Schema, desired: &Schema, out: &mut Diff) {
    for (name, wanted) in &desired.enums {
        let Some(existing) = live.enums.get(name) else {
            out.additive.push(Change::CreateEnum {
                name: name.clone(),
                definition: wanted.clone(),
            });
            continue;
        };
        let object = ObjectId::Type(name.clone());
        let removed: Vec<&String> = existing
            .values
            .iter()
            .filter(|v| !wanted.values.contains(v))
            .collect();
        for value in &removed {
            out.findings.push(Finding::new(
                Code::ExtraEnumValue,
                Severity::Destructive,
                object.clone(),
                format!(
                    "label {} is in the database but not in the desired state; PostgreSQL \
                     cannot drop an enum label — the type must be rebuilt",
                    quote_literal(value)
                ),
            ));
        }
        let kept_live: Vec<&String> = existing
            .values
            .iter()
            .filter(|v| wanted.values.contains(v))
            .collect();
        let kept_wanted: Vec<&String> = wanted
            .values
            .iter()
            .filter(|v| existing.values.contains(v))
            .collect();
        if kept_live != kept_wanted {
            out.findings.push(Finding::new(
                Code::EnumOrder,
                Severity::Risky,
                object.clone(),
                format!(
                    "labels are ordered ({}) in the database but ({}) in the desired state; \
                     reordering needs the type rebuilt",
                    join_literals(&kept_live),
                    join_literals(&kept_wanted)
                ),
            ));
        }
        for (i, value) in wanted.values.iter().enumerate() {
            if existing.values.contains(value) {
                continue;
            }
            let position = if i > 0 {
                EnumPosition::After(wanted.values[i - 1].clone())
            } else if let Some(first_kept) = kept_wanted.first() {
                EnumPosition::Before((*first_kept).clone())
            } else {
                EnumPosition::End
            };
            out.additive.push(Change::AddEnumValue {
                type_name: name.clone(),
                value: value.clone(),
                position,
            });
        }
    }
    extra_types(live.enums.keys(), desired, out);
}

fn join_literals(values: &[&String]) -> String {
    values
        .iter()
        .map(|v| quote_literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Enums in a managed schema that the desired state does not declare as any type.
fn extra_types<'a>(
    live: impl Iterator<Item = &'a QualifiedName>,
    desired: &Schema,
    out: &mut Diff,
) {
    for name in live {
        if !kinds::declares_type(desired, name) && desired.schemas.contains(&name.schema) {
            out.findings.push(
                Finding::new(
                    Code::ExtraType,
                    Severity::Risky,
                    ObjectId::Type(name.clone()),
                    "in the database, not in the desired state",
                )
                .suggest(format!("DROP TYPE {}", name.quoted())),
            );
        }
    }
}
