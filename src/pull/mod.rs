//! Model → desired-state YAML, the same format users write (`reconcile pull`).
//!
//! One file per schema (`<schema>.yaml`), objects in sorted order, columns in table order,
//! and every default left out — so a pulled folder is short, stable across runs and diffs
//! cleanly. Shorthands are used exactly when they mean the same thing to the loader
//! (`bigserial` for an owned sequence with default options, `primary_key: true`, ...): the
//! round trip load(pull(model)) == model is what the zero-false-drift tests prove.

pub(crate) mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use crate::ident::{QualifiedName, default_object_name, server_literal};
use crate::kinds::{self, Kind, Visitor};
use crate::model::{
    Column, Constraint, ConstraintKind, FkAction, ForeignKey, Ident, Index, IndexTarget, Schema,
    Sequence, SequenceOptions, SequenceType, Table,
};
use yaml::{flow, list, quoted, scalar};

/// Renders `schema` as files: file name → content, sorted by schema name.
pub fn render(schema: &Schema) -> BTreeMap<String, String> {
    let serials = serial_columns(schema);
    let mut files = BTreeMap::new();
    let mut used = BTreeSet::new();
    for namespace in &schema.schemas {
        let mut name = file_stem(namespace.as_str());
        if !used.insert(name.clone()) {
            let mut n = 2;
            while !used.insert(format!("{name}_{n}")) {
                n += 1;
            }
            name = format!("{name}_{n}");
        }
        files.insert(
            format!("{name}.yaml"),
            render_schema(schema, namespace, &serials),
        );
        if let Some(sql) = render_sql(schema, namespace) {
            files.insert(format!("{name}.sql"), sql);
        }
    }
    files
}

/// The objects of `namespace` declared in SQL (views, functions, triggers, ...), one
/// statement each, kinds in registration order and objects in name order; `None` when there
/// is none. The loader builds them in whatever order they need.
fn render_sql(schema: &Schema, namespace: &Ident) -> Option<String> {
    struct Statements<'a> {
        schema: &'a Schema,
        namespace: &'a Ident,
        out: Vec<String>,
    }
    impl Visitor for Statements<'_> {
        fn visit<K: Kind>(&mut self) {
            self.out.extend(
                K::objects(self.schema)
                    .iter()
                    .filter(|(key, _)| K::schema_of(key) == self.namespace)
                    .filter_map(|(key, object)| K::pull_sql(key, object)),
            );
        }
    }
    let mut statements = Statements {
        schema,
        namespace,
        out: Vec::new(),
    };
    kinds::visit_all(&mut statements);
    if statements.out.is_empty() {
        return None;
    }
    let mut out = format!(
        "-- Desired state for schema {}, pulled by reconcile: what is declared in SQL.\n",
        namespace.quoted()
    );
    for statement in statements.out {
        out.push('\n');
        out.push_str(&statement);
        out.push_str(";\n");
    }
    Some(out)
}

/// Writes the rendered files into `dir` (created if missing); returns the paths written.
pub fn write_dir(schema: &Schema, dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, content) in render(schema) {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}

fn file_stem(schema: &str) -> String {
    let stem: String = schema
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() { "_".into() } else { stem }
}

/// Columns that are exactly what `serial`/`bigserial`/`smallserial` creates, with the
/// sequence that goes away into the shorthand.
fn serial_columns(
    schema: &Schema,
) -> BTreeMap<(QualifiedName, Ident), (SequenceType, QualifiedName)> {
    let mut out = BTreeMap::new();
    for (seq_name, sequence) in &schema.sequences {
        if let Some((kind, (table_name, column_name))) = serial_of(schema, seq_name, sequence) {
            out.insert(
                (table_name.clone(), column_name.clone()),
                (kind, seq_name.clone()),
            );
        }
    }
    out
}

/// The column whose `serial` type `sequence` is exactly what it creates (the sequence then
/// goes away into the shorthand), with the serial's integer type.
pub(crate) fn serial_of<'s>(
    schema: &Schema,
    seq_name: &QualifiedName,
    sequence: &'s Sequence,
) -> Option<(SequenceType, &'s (QualifiedName, Ident))> {
    let owner = sequence.owned_by.as_ref()?;
    let (table_name, column_name) = owner;
    let column = schema
        .tables
        .get(table_name)
        .and_then(|t| t.column(column_name.as_str()))?;
    let expected_name =
        default_object_name(table_name.name.as_str(), Some(column_name.as_str()), "seq");
    let expected_default = format!(
        "nextval({}::regclass)",
        server_literal(&seq_name.quoted_relative())
    );
    let kind = SequenceType::from_type(&column.data_type)?;
    let matches = seq_name.schema == table_name.schema
        && seq_name.name.as_str() == expected_name
        && column.default.as_deref() == Some(expected_default.as_str())
        && column.not_null
        && column.identity().is_none()
        && kind == sequence.options.data_type
        && sequence.options == SequenceOptions::defaults(sequence.options.data_type, 1);
    matches.then_some((kind, owner))
}

type Serials = BTreeMap<(QualifiedName, Ident), (SequenceType, QualifiedName)>;

fn render_schema(schema: &Schema, namespace: &Ident, serials: &Serials) -> String {
    // First: editors read the modeline only there. `reconcile pull` writes the schema it
    // names beside the file.
    let mut out = format!("{}\n", crate::load::json_schema::MODELINE);
    // The name as a YAML scalar: written raw, a line break in it would end the comment.
    let _ = writeln!(
        out,
        "# Desired state for schema {}, pulled by reconcile.",
        scalar(namespace.as_str())
    );
    let _ = writeln!(out, "# Format: docs/schema-format.md");
    let _ = writeln!(out, "schema: {}", scalar(namespace.as_str()));
    let in_schema = |name: &QualifiedName| &name.schema == namespace;

    let extensions: Vec<&Ident> = schema
        .extensions
        .iter()
        .filter(|(_, e)| &e.schema == namespace)
        .map(|(name, _)| name)
        .collect();
    if !extensions.is_empty() {
        let _ = writeln!(out, "\nextensions:");
        for name in extensions {
            let _ = writeln!(out, "  - {}", scalar(name.as_str()));
        }
    }

    let enums: Vec<_> = schema.enums.iter().filter(|(n, _)| in_schema(n)).collect();
    if !enums.is_empty() {
        let _ = writeln!(out, "\nenums:");
        for (name, e) in enums {
            let values: Vec<String> = e.values.iter().map(|v| scalar(v)).collect();
            let _ = writeln!(
                out,
                "  {}: [{}]",
                scalar(name.name.as_str()),
                values.join(", ")
            );
        }
    }

    struct Sections<'a> {
        schema: &'a Schema,
        namespace: &'a Ident,
        after_tables: bool,
        out: &'a mut String,
    }
    impl Visitor for Sections<'_> {
        fn visit<K: Kind>(&mut self) {
            if K::PULLED_AFTER_TABLES == self.after_tables
                && let Some(section) = K::pull_section(self.schema, self.namespace)
            {
                self.out.push_str(&section);
            }
        }
    }
    kinds::visit_all(&mut Sections {
        schema,
        namespace,
        after_tables: false,
        out: &mut out,
    });

    let tables: Vec<_> = schema.tables.iter().filter(|(n, _)| in_schema(n)).collect();
    if !tables.is_empty() {
        let _ = write!(out, "\ntables:");
        for (name, table) in tables {
            render_table(&mut out, schema, name, table, serials);
        }
    }
    kinds::visit_all(&mut Sections {
        schema,
        namespace,
        after_tables: true,
        out: &mut out,
    });
    let comments: Vec<String> = schema
        .comments
        .iter()
        .filter(|(object, _)| object.schema() == Some(namespace) && !comment_inline(schema, object))
        .map(|(object, text)| format!("  {}: {}", scalar(&object.to_string()), quoted(text)))
        .collect();
    if !comments.is_empty() {
        let _ = writeln!(out, "\ncomments:");
        for line in comments {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Whether the comment on `object` is written with the object (`comment:` on a table, a
/// column or a policy) rather than in the `comments:` section.
fn comment_inline(schema: &Schema, object: &crate::model::ObjectId) -> bool {
    use crate::model::ObjectId;
    match object {
        ObjectId::Table(table)
        | ObjectId::Column { table, .. }
        | ObjectId::Policy { table, .. } => schema.tables.contains_key(table),
        _ => false,
    }
}

/// A type as YAML (before scalar quoting), in the file of schema `namespace`. The catalog
/// prints a type of `public` unqualified, but the loader looks an unqualified name up in the
/// file's own schema first, and knows only the model's types: the type is written
/// `public.<type>` when `namespace` has a type of the same name, or `public` is not part of
/// the model (a scoped pull — the loader then takes it as a type of a schema the desired
/// state does not describe, as it takes foreign keys to tables there).
pub(crate) fn type_name(schema: &Schema, namespace: &Ident, data_type: &str) -> String {
    let Ok(crate::normalise::TypeSpec {
        user_type: Some((None, name)),
        ..
    }) = crate::normalise::normalise_type(data_type)
    else {
        return data_type.to_owned();
    };
    let shadowed = namespace.as_str() != "public" && {
        let local = QualifiedName::new(namespace.clone(), Ident::from_catalog(name));
        schema.enums.contains_key(&local)
            || schema.domains.contains_key(&local)
            || schema.composites.contains_key(&local)
            || schema.tables.contains_key(&local)
    };
    if shadowed || !schema.schemas.iter().any(|s| s.as_str() == "public") {
        format!("public.{data_type}")
    } else {
        data_type.to_owned()
    }
}

pub(crate) fn sequence_options(
    pairs: &mut Vec<(&'static str, String)>,
    o: &SequenceOptions,
    type_default: SequenceType,
) {
    let d = SequenceOptions::defaults(o.data_type, o.increment);
    if o.data_type != type_default {
        pairs.push(("type", o.data_type.sql().to_owned()));
    }
    if o.increment != 1 {
        pairs.push(("increment", o.increment.to_string()));
    }
    if o.min_value != d.min_value {
        pairs.push(("min", o.min_value.to_string()));
    }
    if o.max_value != d.max_value {
        pairs.push(("max", o.max_value.to_string()));
    }
    let start_default = if o.increment < 0 {
        o.max_value
    } else {
        o.min_value
    };
    if o.start != start_default {
        pairs.push(("start", o.start.to_string()));
    }
    if o.cache != 1 {
        pairs.push(("cache", o.cache.to_string()));
    }
    if o.cycle {
        pairs.push(("cycle", "true".into()));
    }
}

/// A partition's parent and bound; a partitioned table's key. A partition's columns are its
/// parent's: only those it overrides are written (see [`partition_columns`]).
fn render_partitioning(
    out: &mut String,
    name: &QualifiedName,
    table: &Table,
    parent: Option<&Table>,
) -> bool {
    if let Some(key) = &table.partition_by {
        let _ = writeln!(out, "    partition_by: {}", quoted(key));
    }
    let (Some(p), Some(parent)) = (&table.partition_of, parent) else {
        return false;
    };
    let target = if short_safe(p.parent.name.as_str()) && short_safe(p.parent.schema.as_str()) {
        if p.parent.schema == name.schema {
            scalar(p.parent.name.as_str())
        } else {
            scalar(&format!("{}.{}", p.parent.schema, p.parent.name))
        }
    } else {
        let mut long = vec![("table", scalar(p.parent.name.as_str()))];
        if p.parent.schema != name.schema {
            long.push(("schema", scalar(p.parent.schema.as_str())));
        }
        flow(&long)
    };
    let _ = writeln!(out, "    partition_of: {target}");
    let _ = writeln!(out, "    bound: {}", quoted(&p.bound));
    partition_columns(out, table, parent);
    true
}

/// What a partition's columns say beyond their parent's: a default of their own, NOT NULL.
/// (A partition without its parent's default cannot be written: it reads back with the
/// parent's, and the difference is reported, D112.)
fn partition_columns(out: &mut String, table: &Table, parent: &Table) {
    let mut lines = Vec::new();
    for column in &table.columns {
        let Some(from) = parent
            .column(column.name.as_str())
            .map(Table::inherited_column)
        else {
            continue;
        };
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if column.not_null && !from.not_null {
            pairs.push(("not_null", "true".into()));
        }
        if column.default != from.default
            && let Some(default) = &column.default
        {
            pairs.push(("default", quoted(default)));
        }
        if !pairs.is_empty() {
            lines.push(format!(
                "      {}: {}",
                scalar(column.name.as_str()),
                flow(&pairs)
            ));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "    columns:");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn render_table(
    out: &mut String,
    schema: &Schema,
    name: &QualifiedName,
    table: &Table,
    serials: &Serials,
) {
    let table_name = name.name.as_str();
    let _ = writeln!(out, "\n  {}:", scalar(table_name));
    if let Some(comment) = schema
        .comments
        .get(&crate::model::ObjectId::Table(name.clone()))
    {
        let _ = writeln!(out, "    comment: {}", quoted(comment));
    }
    let parent = table
        .partition_of
        .as_ref()
        .and_then(|p| schema.tables.get(&p.parent));
    let partition = render_partitioning(out, name, table, parent);
    // A single-column primary key with the default name is written on its column.
    let pk_default = default_object_name(table_name, None, "pkey");
    let column_pk = match table.primary_key() {
        _ if partition => None,
        Some((pk_name, c)) if pk_name.as_str() == pk_default && !c.deferrable => match &c.kind {
            ConstraintKind::PrimaryKey { columns, include }
                if columns.len() == 1 && include.is_empty() =>
            {
                Some(columns[0].clone())
            }
            _ => None,
        },
        _ => None,
    };
    let pk_columns: BTreeSet<&Ident> = match table.primary_key() {
        Some((
            _,
            Constraint {
                kind: ConstraintKind::PrimaryKey { columns, .. },
                ..
            },
        )) => columns.iter().collect(),
        _ => BTreeSet::new(),
    };
    match (partition, table.columns.is_empty()) {
        (true, _) => {}
        (false, true) => {
            let _ = writeln!(out, "    columns: {{}}");
        }
        (false, false) => {
            let _ = writeln!(out, "    columns:");
        }
    }
    for column in table.columns.iter().filter(|_| !partition) {
        let serial = serials
            .get(&(name.clone(), column.name.clone()))
            .map(|(k, _)| *k);
        let is_pk = column_pk.as_ref() == Some(&column.name);
        let _ = writeln!(
            out,
            "      {}: {}",
            scalar(column.name.as_str()),
            render_column(
                schema,
                &name.schema,
                column,
                serial,
                is_pk,
                pk_columns.contains(&column.name),
                schema
                    .comments
                    .get(&crate::model::ObjectId::column(name, &column.name))
            )
        );
    }
    let mut uniques = Vec::new();
    let mut checks = Vec::new();
    let mut fks = Vec::new();
    let mut exclusions = Vec::new();
    for (cname, c) in &table.constraints {
        match &c.kind {
            ConstraintKind::PrimaryKey { columns, include } if column_pk.is_none() => {
                let short = cname.as_str() == pk_default && include.is_empty() && !c.deferrable;
                let value = if short {
                    list(columns.iter().map(Ident::as_str))
                } else {
                    key_long(cname, columns, include, false, c)
                };
                let _ = writeln!(out, "    primary_key: {value}");
            }
            ConstraintKind::PrimaryKey { .. } => {}
            ConstraintKind::Unique {
                columns,
                include,
                nulls_not_distinct,
            } => {
                let joined: Vec<&str> = columns.iter().map(Ident::as_str).collect();
                let default = default_object_name(table_name, Some(&joined.join("_")), "key");
                let short = cname.as_str() == default
                    && include.is_empty()
                    && !nulls_not_distinct
                    && !c.deferrable;
                uniques.push(if short {
                    list(joined)
                } else {
                    key_long(cname, columns, include, *nulls_not_distinct, c)
                });
            }
            ConstraintKind::Check {
                expression,
                no_inherit,
            } => {
                let value = if *no_inherit {
                    flow(&[
                        ("expression", quoted(expression)),
                        ("no_inherit", "true".into()),
                    ])
                } else {
                    quoted(expression)
                };
                checks.push(format!("{}: {value}", scalar(cname.as_str())));
            }
            ConstraintKind::ForeignKey(fk) => fks.push(foreign_key(name, cname, fk, c)),
            ConstraintKind::Exclusion { definition } => {
                exclusions.push(format!(
                    "{}: {}",
                    scalar(cname.as_str()),
                    quoted(definition)
                ));
            }
        }
    }
    section(out, "unique", &uniques, true);
    section(out, "checks", &checks, false);
    section(out, "foreign_keys", &fks, true);
    let indexes: Vec<String> = table
        .indexes
        .iter()
        .map(|(iname, index)| render_index(table_name, iname, index))
        .collect();
    section(out, "indexes", &indexes, true);
    section(out, "exclusions", &exclusions, false);
    if table.row_level_security {
        let _ = writeln!(out, "    row_level_security: true");
    }
    if table.force_row_level_security {
        let _ = writeln!(out, "    force_row_level_security: true");
    }
    crate::kinds::policy::pull_table_policies(out, schema, name);
}

fn section(out: &mut String, key: &str, items: &[String], is_list: bool) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "    {key}:");
    for item in items {
        if is_list {
            let _ = writeln!(out, "      - {item}");
        } else {
            let _ = writeln!(out, "      {item}");
        }
    }
}

fn render_column(
    schema: &Schema,
    namespace: &Ident,
    column: &Column,
    serial: Option<SequenceType>,
    is_pk: bool,
    in_pk: bool,
    comment: Option<&String>,
) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let type_text = match serial {
        Some(SequenceType::Smallint) => "smallserial".to_owned(),
        Some(SequenceType::Integer) => "serial".to_owned(),
        Some(SequenceType::Bigint) => "bigserial".to_owned(),
        None => type_name(schema, namespace, &column.data_type),
    };
    pairs.push(("type", scalar(&type_text)));
    let implied_not_null = serial.is_some() || column.identity().is_some() || in_pk;
    if column.not_null && !implied_not_null {
        pairs.push(("not_null", "true".into()));
    }
    if serial.is_none()
        && let Some(default) = &column.default
    {
        pairs.push(("default", quoted(default)));
    }
    if let Some(identity) = &column.identity() {
        let kind = if identity.always {
            "always"
        } else {
            "by_default"
        };
        let sequence_type =
            SequenceType::from_type(&column.data_type).unwrap_or(SequenceType::Bigint);
        let mut options = Vec::new();
        sequence_options(&mut options, &identity.options, sequence_type);
        if options.is_empty() {
            pairs.push(("identity", kind.into()));
        } else {
            let mut long = vec![("generated", kind.to_owned())];
            long.extend(options);
            pairs.push(("identity", flow(&long)));
        }
    }
    if let Some(generated) = &column.generated() {
        pairs.push(("generated", quoted(generated)));
    }
    if let Some(collation) = &column.collation() {
        pairs.push(("collation", yaml::collation(collation)));
    }
    if is_pk {
        pairs.push(("primary_key", "true".into()));
    }
    if let Some(comment) = comment {
        pairs.push(("comment", quoted(comment)));
    }
    if pairs.len() == 1 {
        pairs.remove(0).1
    } else {
        flow(&pairs)
    }
}

fn key_long(
    name: &Ident,
    columns: &[Ident],
    include: &[Ident],
    nnd: bool,
    c: &Constraint,
) -> String {
    let mut pairs = vec![
        ("name", scalar(name.as_str())),
        ("columns", list(columns.iter().map(Ident::as_str))),
    ];
    if !include.is_empty() {
        pairs.push(("include", list(include.iter().map(Ident::as_str))));
    }
    if nnd {
        pairs.push(("nulls_not_distinct", "true".into()));
    }
    deferrable(&mut pairs, c);
    flow(&pairs)
}

fn deferrable(pairs: &mut Vec<(&str, String)>, c: &Constraint) {
    if c.initially_deferred {
        pairs.push(("initially_deferred", "true".into()));
    } else if c.deferrable {
        pairs.push(("deferrable", "true".into()));
    }
}

/// Names that the short `schema.table(col)` form can carry unambiguously.
fn short_safe(name: &str) -> bool {
    !name.is_empty() && name.trim() == name && !name.contains(['.', '(', ')', ',', '"', '\''])
}

fn foreign_key(table: &QualifiedName, name: &Ident, fk: &ForeignKey, c: &Constraint) -> String {
    let joined: Vec<&str> = fk.columns.iter().map(Ident::as_str).collect();
    let default = default_object_name(table.name.as_str(), Some(&joined.join("_")), "fkey");
    let mut pairs = Vec::new();
    if name.as_str() != default {
        pairs.push(("name", scalar(name.as_str())));
    }
    pairs.push(("columns", list(joined)));
    let target_names = std::iter::once(fk.references.name.as_str())
        .chain(std::iter::once(fk.references.schema.as_str()))
        .chain(fk.referenced_columns.iter().map(Ident::as_str));
    let same_schema = fk.references.schema == table.schema;
    let referenced: Vec<&str> = fk.referenced_columns.iter().map(Ident::as_str).collect();
    let target = if target_names.into_iter().all(short_safe) {
        let relation = if same_schema {
            fk.references.name.as_str().to_owned()
        } else {
            format!("{}.{}", fk.references.schema, fk.references.name)
        };
        scalar(&format!("{relation}({})", referenced.join(", ")))
    } else {
        let mut long = vec![("table", scalar(fk.references.name.as_str()))];
        if !same_schema {
            long.push(("schema", scalar(fk.references.schema.as_str())));
        }
        long.push(("columns", list(referenced)));
        flow(&long)
    };
    pairs.push(("references", target));
    if fk.on_delete != FkAction::NoAction {
        pairs.push(("on_delete", fk.on_delete.keyword().into()));
    }
    if fk.on_update != FkAction::NoAction {
        pairs.push(("on_update", fk.on_update.keyword().into()));
    }
    if fk.match_full {
        pairs.push(("match", "full".into()));
    }
    deferrable(&mut pairs, c);
    flow(&pairs)
}

fn render_index(table: &str, name: &Ident, index: &Index) -> String {
    let mut name_parts = Vec::new();
    let mut keys = Vec::new();
    for key in &index.keys {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        match &key.target {
            IndexTarget::Column(c) => {
                name_parts.push(c.as_str().to_owned());
                pairs.push(("column", scalar(c.as_str())));
            }
            IndexTarget::Expression(e) => {
                name_parts.push("expr".to_owned());
                pairs.push(("expression", quoted(e)));
            }
        }
        if key.descending {
            pairs.push(("order", "desc".into()));
        }
        if key.nulls_first != key.descending {
            pairs.push((
                "nulls",
                if key.nulls_first { "first" } else { "last" }.into(),
            ));
        }
        if let Some(opclass) = &key.opclass {
            pairs.push(("opclass", yaml::opclass(opclass)));
        }
        if let Some(collation) = &key.collation {
            pairs.push(("collation", yaml::collation(collation)));
        }
        keys.push(match (&key.target, pairs.len()) {
            (IndexTarget::Column(c), 1) => scalar(c.as_str()),
            _ => flow(&pairs),
        });
    }
    let mut pairs = Vec::new();
    if name.as_str() != default_object_name(table, Some(&name_parts.join("_")), "idx") {
        pairs.push(("name", scalar(name.as_str())));
    }
    if index.unique {
        pairs.push(("unique", "true".into()));
    }
    if index.method != "btree" {
        pairs.push(("using", scalar(&index.method)));
    }
    pairs.push(("columns", format!("[{}]", keys.join(", "))));
    if !index.include.is_empty() {
        pairs.push(("include", list(index.include.iter().map(Ident::as_str))));
    }
    if let Some(predicate) = &index.predicate {
        pairs.push(("where", quoted(predicate)));
    }
    if index.nulls_not_distinct {
        pairs.push(("nulls_not_distinct", "true".into()));
    }
    flow(&pairs)
}
