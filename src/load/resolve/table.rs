//! Tables: columns with their shorthands, keys, checks, foreign keys and indexes.

use std::path::Path;

use super::super::error::{LoadError, Origin};
use super::super::format::{At, ColumnSpec, IndexSpec, KeySpec, ShortOr, TableSpec};
use super::{Resolver, names};
use crate::ident::{QualifiedName, default_object_name, server_literal};
use crate::model::{
    Column, Constraint, ConstraintKind, FkAction, ForeignKey, Ident, Identity, Index, IndexKey,
    IndexTarget, ObjectId, Sequence, SequenceOptions, SequenceType, Table,
};
use crate::normalise::serial_kind;

/// A foreign key whose target is checked once every table is known.
pub(super) struct Pending {
    table: QualifiedName,
    constraint: Ident,
    target: QualifiedName,
    target_columns: Vec<String>,
    origin: Origin,
}

impl Resolver {
    /// Resolves one table into the model; its name when it was declared (a partition's parent
    /// must be resolved already, see `partition::table_or_wait`).
    pub(super) fn table(
        &mut self,
        file: &Path,
        schema: &Ident,
        name: &At<String>,
        spec: &TableSpec,
    ) -> Option<QualifiedName> {
        let origin = self.origin(file, name);
        let ident = self.ident(&name.value, &origin, "table")?;
        let qualified = QualifiedName::new(schema.clone(), ident);
        if let Err(e) = self
            .declared
            .declare(ObjectId::Table(qualified.clone()), &origin)
        {
            self.error(e);
            return None;
        }
        self.relation(&qualified, &origin);
        let columns = spec.columns.as_ref().map_or(0, |c| c.0.len());
        let mut builder = TableBuilder {
            file,
            name: qualified.clone(),
            table: Table {
                columns: Vec::with_capacity(columns),
                row_level_security: spec.row_level_security,
                force_row_level_security: spec.force_row_level_security,
                ..Table::default()
            },
            column_pk: Vec::new(),
        };
        // A partition has its parent's columns; `columns:` lists what it overrides.
        let parent = spec
            .partition_of
            .as_ref()
            .and(spec.bound.as_ref())
            .and_then(|_| self.waited_parent(schema, spec));
        match (&parent, &spec.columns) {
            (Some(parent), columns) => {
                builder.table.columns = self.schema.tables[parent]
                    .columns
                    .iter()
                    .map(Table::inherited_column)
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                for (column_name, column) in columns.iter().flat_map(|c| &c.0) {
                    if seen.insert(column_name.value.as_str()) {
                        self.partition_column(&mut builder, parent, column_name, column);
                    } else {
                        let origin = self.origin(file, column_name);
                        self.error(LoadError::new(
                            origin,
                            format!(
                                "column \"{}\" is declared twice in table {}",
                                column_name.value, builder.name
                            ),
                        ));
                    }
                }
            }
            (None, Some(columns)) => {
                for (column_name, column) in &columns.0 {
                    self.column(&mut builder, column_name, column);
                }
            }
            (None, None) if spec.partition_of.is_none() => {
                self.error(
                    LoadError::new(
                        origin.clone(),
                        format!("table {qualified} has no `columns:`"),
                    )
                    .help("list its columns (`columns: {}` for a table without any)"),
                );
            }
            (None, None) => {}
        }
        self.keys(&mut builder, spec, &origin);
        self.checks(&mut builder, spec);
        self.foreign_keys(&mut builder, spec);
        for index in &spec.indexes {
            self.index(&mut builder, index);
        }
        for (exclusion_name, definition) in &spec.exclusions.0 {
            let origin = self.origin(file, exclusion_name);
            let Some(constraint_name) = self.ident(&exclusion_name.value, &origin, "constraint")
            else {
                continue;
            };
            let def_origin = self.origin(file, definition);
            if let Some(definition) = self.exclusion(&definition.value, &def_origin) {
                let kind = ConstraintKind::Exclusion { definition };
                self.add_constraint(&mut builder, constraint_name, plain(kind), origin);
            }
        }
        let mut table = builder.table;
        self.partitioning(file, &qualified, spec, &mut table);
        if let Some(comment) = &spec.comment {
            self.comment(file, ObjectId::Table(qualified.clone()), comment);
        }
        crate::kinds::policy::resolve_table_policies(self, file, &qualified, &spec.policies);
        self.schema.tables.insert(qualified.clone(), table);
        Some(qualified)
    }

    /// The parent of a partition being resolved (resolved itself, or the partition would
    /// still be waiting); `None` when `partition_of` is unreadable (reported).
    fn waited_parent(&self, schema: &Ident, spec: &TableSpec) -> Option<QualifiedName> {
        let parent = self.parent_name_quiet(schema, spec.partition_of.as_ref()?)?;
        self.schema.tables.contains_key(&parent).then_some(parent)
    }

    /// A column of a partition: its parent's, with what the partition says about it.
    fn partition_column(
        &mut self,
        b: &mut TableBuilder,
        parent: &QualifiedName,
        name: &At<String>,
        spec: &At<ShortOr<String, ColumnSpec>>,
    ) {
        let origin = self.origin(b.file, name);
        let Some(column_name) = self.ident(&name.value, &origin, "column") else {
            return;
        };
        let Some(position) = b.table.columns.iter().position(|c| c.name == column_name) else {
            let known: Vec<&str> = b.table.columns.iter().map(|c| c.name.as_str()).collect();
            self.error(
                LoadError::new(
                    origin,
                    format!(
                        "partition {} has no column \"{column_name}\": a partition's columns are \
                         its partitioned table's ({parent})",
                        b.name
                    ),
                )
                .help(format!(
                    "add the column to {parent}; columns are: {}",
                    known.join(", ")
                )),
            );
            return;
        };
        let type_origin = self.origin(b.file, spec);
        let long = match &spec.value {
            ShortOr::Short(t) => {
                self.state_type(&b.name, &column_name, t, &type_origin);
                return;
            }
            ShortOr::Long(long) => long,
        };
        if let Some(t) = &long.data_type {
            let o = self.origin(b.file, t);
            self.state_type(&b.name, &column_name, &t.value, &o);
        }
        let parent_owns = [
            ("identity", long.identity.is_some()),
            ("generated", long.generated.is_some()),
            ("collation", long.collation.is_some()),
        ];
        for (what, given) in parent_owns {
            if given {
                self.error(
                    LoadError::new(
                        type_origin.clone(),
                        format!(
                            "a partition's column has its parent's {what}: declare it on {parent}"
                        ),
                    )
                    .help(format!("remove `{what}:` from the partition's column")),
                );
            }
        }
        let mut column = b.table.columns[position].clone();
        if long.default.is_some() {
            // The partition's own default replaces the parent's (a serial's, say).
            column.default = None;
        }
        self.column_options(b, &mut column, long, &type_origin);
        b.table.columns[position] = column;
    }

    fn column(
        &mut self,
        b: &mut TableBuilder,
        name: &At<String>,
        spec: &At<ShortOr<String, ColumnSpec>>,
    ) {
        let origin = self.origin(b.file, name);
        let Some(column_name) = self.ident(&name.value, &origin, "column") else {
            return;
        };
        if b.table.column(column_name.as_str()).is_some() {
            self.error(LoadError::new(
                origin,
                format!(
                    "column \"{column_name}\" is declared twice in table {}",
                    b.name
                ),
            ));
            return;
        }
        let (type_text, type_origin, long) = match &spec.value {
            ShortOr::Short(t) => (t.as_str(), self.origin(b.file, spec), None),
            ShortOr::Long(long) => match &long.data_type {
                Some(t) => (t.value.as_str(), self.origin(b.file, t), Some(long)),
                None => {
                    let origin = self.origin(b.file, spec);
                    self.error(
                        LoadError::new(
                            origin,
                            format!("column \"{column_name}\" of table {} has no `type`", b.name),
                        )
                        .help("write e.g. `{type: text, not_null: true}`"),
                    );
                    return;
                }
            },
        };
        let mut column = Column::new(column_name.clone(), String::new());
        if let Some(kind) = serial_kind(type_text) {
            column.data_type = kind.sql().into();
            column.not_null = true;
            let sequence = self.serial_sequence(b, &column_name, kind, &type_origin);
            column.default = Some(format!(
                "nextval({}::regclass)",
                server_literal(&sequence.quoted_relative())
            ));
        } else if let Some(t) =
            self.column_type(type_text, &b.name, b.table.columns.len(), &type_origin)
        {
            column.data_type = t.into();
        }
        // Column-level constraints look the column up in the table, so it goes in first.
        b.table.columns.push(column.clone());
        if let Some(long) = long {
            self.column_options(b, &mut column, long, &type_origin);
            if let Some(comment) = &long.comment {
                self.comment(b.file, ObjectId::column(&b.name, &column_name), comment);
            }
            if let Some(last) = b.table.columns.last_mut() {
                *last = column;
            }
        }
    }

    fn serial_sequence(
        &mut self,
        b: &TableBuilder,
        column: &Ident,
        kind: SequenceType,
        origin: &Origin,
    ) -> QualifiedName {
        let name = default_object_name(b.name.name.as_str(), Some(column.as_str()), "seq");
        let name = QualifiedName::new(b.name.schema.clone(), Ident::from_catalog(name));
        self.relation(&name, origin);
        if let Err(e) = self
            .declared
            .declare(ObjectId::Sequence(name.clone()), origin)
        {
            self.error(e);
        }
        self.schema.sequences.insert(
            name.clone(),
            Sequence {
                options: SequenceOptions::defaults(kind, 1),
                owned_by: Some((b.name.clone(), column.clone())),
            },
        );
        name
    }

    fn column_options(
        &mut self,
        b: &mut TableBuilder,
        column: &mut Column,
        spec: &ColumnSpec,
        type_origin: &Origin,
    ) {
        let is_serial = column.default.is_some();
        column.not_null |= spec.not_null;
        if let Some(default) = &spec.default {
            let origin = self.origin(b.file, default);
            if is_serial {
                self.error(
                    LoadError::new(
                        origin,
                        "a serial column takes its default from its sequence",
                    )
                    .help("remove `default`, or use an integer type with an explicit default"),
                );
            } else {
                column.default = self.expression(&default.value.0, &origin, "default");
            }
        }
        if let Some(identity) = &spec.identity {
            let origin = self.origin(b.file, identity);
            if column.default.is_some() {
                self.error(LoadError::new(
                    origin.clone(),
                    "an identity column cannot also have a default or be serial",
                ));
            }
            let identity = self.identity(&identity.value, &column.data_type, &origin);
            column.set_identity(identity);
            column.not_null = true;
        }
        if let Some(generated) = &spec.generated {
            let origin = self.origin(b.file, generated);
            if column.default.is_some() || column.identity().is_some() {
                self.error(LoadError::new(
                    origin.clone(),
                    "a generated column cannot also have a default or an identity",
                ));
            }
            let generated = self.expression(&generated.value, &origin, "generated expression");
            column.set_generated(generated);
        }
        if let Some(collation) = &spec.collation {
            column.set_collation(Some(names::collation(&collation.value)));
        }
        let name = column.name.clone();
        if spec.primary_key {
            b.column_pk.push((name.clone(), type_origin.clone()));
            column.not_null = true;
        }
        if spec.unique {
            let constraint = default_object_name(b.name.name.as_str(), Some(name.as_str()), "key");
            let kind = ConstraintKind::Unique {
                columns: vec![name.clone()],
                include: Vec::new(),
                nulls_not_distinct: false,
            };
            self.add_constraint(
                b,
                Ident::from_catalog(constraint),
                plain(kind),
                type_origin.clone(),
            );
        }
        if let Some(check) = &spec.check {
            let origin = self.origin(b.file, check);
            if let Some(expression) = self.expression(&check.value, &origin, "check") {
                let constraint =
                    default_object_name(b.name.name.as_str(), Some(name.as_str()), "check");
                let kind = ConstraintKind::Check {
                    expression,
                    no_inherit: false,
                };
                self.add_constraint(b, Ident::from_catalog(constraint), plain(kind), origin);
            }
        }
        if let Some(reference) = &spec.references {
            let origin = self.origin(b.file, reference);
            let (target, target_columns, options) = match &reference.value {
                ShortOr::Short(text) => match names::parse_target(text) {
                    Some(t) => ((t.schema, t.table), t.columns, FkOptions::default()),
                    None => {
                        self.error(bad_target(&origin, text));
                        return;
                    }
                },
                ShortOr::Long(long) => (
                    (long.schema.clone(), long.table.clone()),
                    long.column.iter().cloned().collect(),
                    FkOptions {
                        name: long.name.as_ref().map(|n| n.value.clone()),
                        on_delete: self.fk_action(b.file, long.on_delete.as_ref()),
                        on_update: self.fk_action(b.file, long.on_update.as_ref()),
                        match_full: self.match_full(b.file, long.match_type.as_ref()),
                        deferrable: long.deferrable,
                        initially_deferred: long.initially_deferred,
                    },
                ),
            };
            self.add_foreign_key(
                b,
                vec![name.as_str().to_owned()],
                target,
                target_columns,
                options,
                origin,
            );
        }
    }

    fn identity(
        &mut self,
        spec: &ShortOr<String, super::super::format::IdentitySpec>,
        data_type: &str,
        origin: &Origin,
    ) -> Option<Identity> {
        let Some(sequence_type) = SequenceType::from_type(data_type) else {
            self.error(
                LoadError::new(
                    origin.clone(),
                    format!(
                        "an identity column must be smallint, integer or bigint, not {data_type}"
                    ),
                )
                .help("change the column type to bigint"),
            );
            return None;
        };
        let (generated, options) = match spec {
            ShortOr::Short(g) => (g.as_str(), SequenceOptions::defaults(sequence_type, 1)),
            ShortOr::Long(l) => (
                l.generated.value.as_str(),
                SequenceOptions::with(
                    sequence_type,
                    l.increment,
                    l.min,
                    l.max,
                    l.start,
                    l.cache,
                    l.cycle,
                ),
            ),
        };
        let always = match generated {
            "always" => true,
            "by_default" => false,
            other => {
                self.error(
                    LoadError::new(origin.clone(), format!("unknown identity kind `{other}`"))
                        .help("write `identity: always` or `identity: by_default`"),
                );
                return None;
            }
        };
        Some(Identity { always, options })
    }

    fn keys(&mut self, b: &mut TableBuilder, spec: &TableSpec, table_origin: &Origin) {
        if let Some(pk) = &spec.primary_key {
            let origin = self.origin(b.file, pk);
            if !b.column_pk.is_empty() {
                self.error(
                    LoadError::new(
                        origin.clone(),
                        "the primary key is given both on a column and at table level",
                    )
                    .help("keep one of the two"),
                );
            }
            let default = default_object_name(b.name.name.as_str(), None, "pkey");
            self.key(b, &pk.value, origin, default, true);
        } else if !b.column_pk.is_empty() {
            let columns: Vec<Ident> = b.column_pk.iter().map(|(c, _)| c.clone()).collect();
            let origin = b.column_pk[0].1.clone();
            let name = default_object_name(b.name.name.as_str(), None, "pkey");
            let kind = ConstraintKind::PrimaryKey {
                columns,
                include: Vec::new(),
            };
            self.add_constraint(b, Ident::from_catalog(name), plain(kind), origin);
        }
        let _ = table_origin;
        for unique in &spec.unique {
            let origin = self.origin(b.file, unique);
            let columns = match &unique.value {
                ShortOr::Short(c) => c.clone(),
                ShortOr::Long(l) => l.columns.clone(),
            };
            let default =
                default_object_name(b.name.name.as_str(), Some(&columns.join("_")), "key");
            self.key(b, &unique.value, origin, default, false);
        }
    }

    fn key(
        &mut self,
        b: &mut TableBuilder,
        spec: &ShortOr<Vec<String>, KeySpec>,
        origin: Origin,
        default_name: String,
        primary: bool,
    ) {
        let empty = KeySpec {
            name: None,
            columns: Vec::new(),
            include: Vec::new(),
            nulls_not_distinct: false,
            deferrable: false,
            initially_deferred: false,
        };
        let (columns, long) = match spec {
            ShortOr::Short(columns) => (columns, &empty),
            ShortOr::Long(long) => (&long.columns, &**long),
        };
        let Some(columns) = self.column_list(b, columns, &origin) else {
            return;
        };
        let Some(include) = self.column_list(b, &long.include, &origin) else {
            return;
        };
        if columns.is_empty() {
            self.error(LoadError::new(origin, "a key needs at least one column"));
            return;
        }
        let name = match &long.name {
            Some(n) => {
                let o = self.origin(b.file, n);
                match self.ident(&n.value, &o, "constraint") {
                    Some(n) => n,
                    None => return,
                }
            }
            None => Ident::from_catalog(default_name),
        };
        let kind = if primary {
            if long.nulls_not_distinct {
                self.error(LoadError::new(
                    origin.clone(),
                    "nulls_not_distinct does not apply to a primary key",
                ));
            }
            for column in &columns {
                if let Some(c) = b.table.columns.iter_mut().find(|c| &c.name == column) {
                    c.not_null = true;
                }
            }
            ConstraintKind::PrimaryKey { columns, include }
        } else {
            ConstraintKind::Unique {
                columns,
                include,
                nulls_not_distinct: long.nulls_not_distinct,
            }
        };
        let constraint = Constraint {
            kind,
            deferrable: long.deferrable || long.initially_deferred,
            initially_deferred: long.initially_deferred,
        };
        self.add_constraint(b, name, constraint, origin);
    }

    fn checks(&mut self, b: &mut TableBuilder, spec: &TableSpec) {
        for (name, check) in &spec.checks.0 {
            let origin = self.origin(b.file, name);
            let Some(constraint_name) = self.ident(&name.value, &origin, "constraint") else {
                continue;
            };
            let (expression, no_inherit, expr_origin) = match &check.value {
                ShortOr::Short(e) => (e.as_str(), false, self.origin(b.file, check)),
                ShortOr::Long(l) => (
                    l.expression.value.as_str(),
                    l.no_inherit,
                    self.origin(b.file, &l.expression),
                ),
            };
            if let Some(expression) = self.expression(expression, &expr_origin, "check") {
                let kind = ConstraintKind::Check {
                    expression,
                    no_inherit,
                };
                self.add_constraint(b, constraint_name, plain(kind), origin);
            }
        }
    }

    fn foreign_keys(&mut self, b: &mut TableBuilder, spec: &TableSpec) {
        for fk in &spec.foreign_keys {
            let origin = self.origin(b.file, fk);
            let (target, columns) = match &fk.value.references.value {
                ShortOr::Short(text) => match names::parse_target(text) {
                    Some(t) => ((t.schema, t.table), t.columns),
                    None => {
                        let o = self.origin(b.file, &fk.value.references);
                        self.error(bad_target(&o, text));
                        continue;
                    }
                },
                ShortOr::Long(l) => ((l.schema.clone(), l.table.clone()), l.columns.clone()),
            };
            let options = FkOptions {
                name: fk.value.name.as_ref().map(|n| n.value.clone()),
                on_delete: self.fk_action(b.file, fk.value.on_delete.as_ref()),
                on_update: self.fk_action(b.file, fk.value.on_update.as_ref()),
                match_full: self.match_full(b.file, fk.value.match_type.as_ref()),
                deferrable: fk.value.deferrable,
                initially_deferred: fk.value.initially_deferred,
            };
            self.add_foreign_key(
                b,
                fk.value.columns.clone(),
                target,
                columns,
                options,
                origin,
            );
        }
    }

    fn add_foreign_key(
        &mut self,
        b: &mut TableBuilder,
        columns: Vec<String>,
        (schema, table): (Option<String>, String),
        target_columns: Vec<String>,
        options: FkOptions,
        origin: Origin,
    ) {
        let Some(columns) = self.column_list(b, &columns, &origin) else {
            return;
        };
        if columns.is_empty() {
            self.error(LoadError::new(
                origin,
                "a foreign key needs at least one column",
            ));
            return;
        }
        let schema = match schema {
            Some(s) => match self.ident(&s, &origin, "schema") {
                Some(s) => s,
                None => return,
            },
            None => b.name.schema.clone(),
        };
        let Some(table) = self.ident(&table, &origin, "table") else {
            return;
        };
        let joined: Vec<&str> = columns.iter().map(Ident::as_str).collect();
        let name = match options.name {
            Some(n) => match self.ident(&n, &origin, "constraint") {
                Some(n) => n,
                None => return,
            },
            None => Ident::from_catalog(default_object_name(
                b.name.name.as_str(),
                Some(&joined.join("_")),
                "fkey",
            )),
        };
        let target = QualifiedName::new(schema, table);
        self.pending.push(Pending {
            table: b.name.clone(),
            constraint: name.clone(),
            target: target.clone(),
            target_columns,
            origin: origin.clone(),
        });
        let kind = ConstraintKind::ForeignKey(ForeignKey {
            columns,
            references: target,
            referenced_columns: Vec::new(),
            on_delete: options.on_delete,
            on_update: options.on_update,
            match_full: options.match_full,
        });
        let constraint = Constraint {
            kind,
            deferrable: options.deferrable || options.initially_deferred,
            initially_deferred: options.initially_deferred,
        };
        self.add_constraint(b, name, constraint, origin);
    }

    fn fk_action(&mut self, file: &Path, text: Option<&At<String>>) -> FkAction {
        let Some(text) = text else {
            return FkAction::NoAction;
        };
        let wanted = text.value.trim().to_ascii_lowercase().replace(' ', "_");
        match FkAction::ALL.iter().find(|a| a.keyword() == wanted) {
            Some(action) => *action,
            None => {
                let origin = self.origin(file, text);
                self.error(
                    LoadError::new(
                        origin,
                        format!("unknown foreign-key action `{}`", text.value),
                    )
                    .help("use one of no_action, restrict, cascade, set_null, set_default"),
                );
                FkAction::NoAction
            }
        }
    }

    fn match_full(&mut self, file: &Path, text: Option<&At<String>>) -> bool {
        match text.map(|t| t.value.to_ascii_lowercase()) {
            None => false,
            Some(t) if t == "simple" => false,
            Some(t) if t == "full" => true,
            Some(other) => {
                let origin = text
                    .map(|t| self.origin(file, t))
                    .unwrap_or_else(|| Origin::new(file, 0, 0));
                self.error(
                    LoadError::new(origin, format!("unknown match type `{other}`"))
                        .help("use `simple` (the default) or `full`"),
                );
                false
            }
        }
    }

    fn index(&mut self, b: &mut TableBuilder, spec: &At<IndexSpec>) {
        let origin = self.origin(b.file, spec);
        let spec = &spec.value;
        let mut keys = Vec::new();
        let mut name_parts = Vec::new();
        for key in &spec.columns {
            let key_origin = self.origin(b.file, key);
            match &key.value {
                ShortOr::Short(column) => {
                    let Some(column) = self.existing_column(b, column, &key_origin) else {
                        continue;
                    };
                    name_parts.push(column.as_str().to_owned());
                    keys.push(IndexKey {
                        target: IndexTarget::Column(column),
                        opclass: None,
                        collation: None,
                        descending: false,
                        nulls_first: false,
                    });
                }
                ShortOr::Long(long) => {
                    let target = match (&long.column, &long.expression) {
                        (Some(column), None) => {
                            let Some(column) = self.existing_column(b, column, &key_origin) else {
                                continue;
                            };
                            name_parts.push(column.as_str().to_owned());
                            IndexTarget::Column(column)
                        }
                        (None, Some(expr)) => {
                            let o = self.origin(b.file, expr);
                            let Some(expr) = self.expression(&expr.value, &o, "index expression")
                            else {
                                continue;
                            };
                            name_parts.push("expr".to_owned());
                            IndexTarget::Expression(expr)
                        }
                        _ => {
                            self.error(LoadError::new(
                                key_origin,
                                "an index key needs exactly one of `column` or `expression`",
                            ));
                            continue;
                        }
                    };
                    let descending = match long.order.as_ref().map(|o| o.value.to_ascii_lowercase())
                    {
                        None => false,
                        Some(o) if o == "asc" => false,
                        Some(o) if o == "desc" => true,
                        Some(other) => {
                            self.error(
                                LoadError::new(
                                    key_origin.clone(),
                                    format!("unknown order `{other}`"),
                                )
                                .help("use `asc` or `desc`"),
                            );
                            false
                        }
                    };
                    let nulls_first =
                        match long.nulls.as_ref().map(|o| o.value.to_ascii_lowercase()) {
                            None => descending,
                            Some(o) if o == "first" => true,
                            Some(o) if o == "last" => false,
                            Some(other) => {
                                self.error(
                                    LoadError::new(
                                        key_origin.clone(),
                                        format!("unknown nulls order `{other}`"),
                                    )
                                    .help("use `first` or `last`"),
                                );
                                descending
                            }
                        };
                    keys.push(IndexKey {
                        target,
                        opclass: long.opclass.as_ref().map(names::opclass),
                        collation: long.collation.as_ref().map(names::collation),
                        descending,
                        nulls_first,
                    });
                }
            }
        }
        if spec.columns.is_empty() {
            self.error(LoadError::new(
                origin.clone(),
                "an index needs at least one column or expression",
            ));
            return;
        }
        let Some(include) = self.column_list(b, &spec.include, &origin) else {
            return;
        };
        let predicate = match &spec.predicate {
            Some(p) => {
                let o = self.origin(b.file, p);
                match self.expression(&p.value, &o, "index predicate") {
                    Some(p) => Some(p),
                    None => return,
                }
            }
            None => None,
        };
        let name = match &spec.name {
            Some(n) => {
                let o = self.origin(b.file, n);
                match self.ident(&n.value, &o, "index") {
                    Some(n) => n,
                    None => return,
                }
            }
            None => Ident::from_catalog(default_object_name(
                b.name.name.as_str(),
                Some(&name_parts.join("_")),
                "idx",
            )),
        };
        self.relation(
            &QualifiedName::new(b.name.schema.clone(), name.clone()),
            &origin,
        );
        let index = Index {
            unique: spec.unique,
            method: spec
                .using
                .as_deref()
                .unwrap_or("btree")
                .to_ascii_lowercase(),
            keys,
            include,
            predicate,
            nulls_not_distinct: spec.nulls_not_distinct,
        };
        b.table.indexes.insert(name, index);
    }

    fn exclusion(&mut self, definition: &str, origin: &Origin) -> Option<String> {
        let sql = format!("ALTER TABLE t ADD CONSTRAINT c {definition}");
        let ok = pg_query::parse(&sql, pg_query::ParserOptions::DEFAULT)
            .ok()
            .filter(|p| p.protobuf.stmts.len() == 1)
            .and_then(|_| pg_query::scan(definition).ok())
            .is_some_and(|tokens| {
                !tokens.tokens.iter().any(|t| {
                    t.token == pg_query::protobuf::Token::Ascii59 as i32
                        || t.token == pg_query::protobuf::Token::SqlComment as i32
                        || t.token == pg_query::protobuf::Token::CComment as i32
                })
            })
            && definition
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("EXCLUDE");
        if ok {
            Some(definition.trim().to_owned())
        } else {
            self.error(
                LoadError::new(origin.clone(), "not a single EXCLUDE constraint definition")
                    .help("write e.g. `EXCLUDE USING gist (room WITH =, during WITH &&)`"),
            );
            None
        }
    }

    fn existing_column(&mut self, b: &TableBuilder, name: &str, origin: &Origin) -> Option<Ident> {
        if b.table.column(name).is_some() {
            return Some(Ident::from_catalog(name.to_owned()));
        }
        let known: Vec<&str> = b.table.columns.iter().map(|c| c.name.as_str()).collect();
        let mut error = LoadError::new(
            origin.clone(),
            format!("table {} has no column \"{name}\"", b.name),
        );
        error = if name.contains('(') || name.contains(' ') {
            error.help(format!(
                "for an expression write `{{expression: \"{name}\"}}`; columns are: {}",
                known.join(", ")
            ))
        } else {
            error.help(format!("columns are: {}", known.join(", ")))
        };
        self.error(error);
        None
    }

    fn column_list(
        &mut self,
        b: &TableBuilder,
        names: &[String],
        origin: &Origin,
    ) -> Option<Vec<Ident>> {
        let mut out = Vec::new();
        let mut ok = true;
        for name in names {
            match self.existing_column(b, name, origin) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn add_constraint(
        &mut self,
        b: &mut TableBuilder,
        name: Ident,
        constraint: Constraint,
        origin: Origin,
    ) {
        if b.table.constraints.contains_key(&name) {
            self.error(
                LoadError::new(
                    origin,
                    format!("table {} has two constraints named \"{name}\"", b.name),
                )
                .help("give one of them another `name:`"),
            );
            return;
        }
        if matches!(
            constraint.kind,
            ConstraintKind::PrimaryKey { .. }
                | ConstraintKind::Unique { .. }
                | ConstraintKind::Exclusion { .. }
        ) {
            // These constraints create an index of the same name.
            self.relation(
                &QualifiedName::new(b.name.schema.clone(), name.clone()),
                &origin,
            );
        }
        b.table.constraints.insert(name, constraint);
    }

    /// Checks every foreign key's target now that all tables are known, and fills in the
    /// referenced columns (the target's primary key when none are named).
    pub(super) fn resolve_references(&mut self) {
        for pending in std::mem::take(&mut self.pending) {
            if !self.schema.schemas.contains(&pending.target.schema) {
                // A table in a schema this desired state does not manage (Supabase's
                // `auth.users`): it cannot be checked here, so its columns must be named.
                self.external_reference(pending);
                continue;
            }
            let Some(target) = self.schema.tables.get(&pending.target) else {
                self.error(
                    LoadError::new(
                        pending.origin.clone(),
                        format!("foreign key {} references {}, which is not in the desired state", pending.constraint, pending.target),
                    )
                    .help("declare that table (check the spelling and schema), or remove the foreign key"),
                );
                continue;
            };
            let referenced: Vec<Ident> = if pending.target_columns.is_empty() {
                match target.primary_key() {
                    Some((
                        _,
                        Constraint {
                            kind: ConstraintKind::PrimaryKey { columns, .. },
                            ..
                        },
                    )) => columns.clone(),
                    _ => {
                        self.error(
                            LoadError::new(
                                pending.origin.clone(),
                                format!("{} has no primary key to reference", pending.target),
                            )
                            .help(
                                "name the referenced columns, e.g. `references: companies(code)`",
                            ),
                        );
                        continue;
                    }
                }
            } else {
                let missing: Vec<&String> = pending
                    .target_columns
                    .iter()
                    .filter(|c| target.column(c).is_none())
                    .collect();
                if !missing.is_empty() {
                    self.error(LoadError::new(
                        pending.origin.clone(),
                        format!("{} has no column \"{}\"", pending.target, missing[0]),
                    ));
                    continue;
                }
                pending
                    .target_columns
                    .iter()
                    .map(|c| Ident::from_catalog(c.clone()))
                    .collect()
            };
            if !is_unique_key(target, &referenced) {
                self.error(
                    LoadError::new(
                        pending.origin.clone(),
                        format!(
                            "the referenced columns ({}) of {} are not its primary key or a unique key",
                            join(&referenced),
                            pending.target
                        ),
                    )
                    .help("PostgreSQL requires a primary key, unique constraint or unique index on the referenced columns"),
                );
                continue;
            }
            let Some(table) = self.schema.tables.get_mut(&pending.table) else {
                continue;
            };
            if let Some(Constraint {
                kind: ConstraintKind::ForeignKey(fk),
                ..
            }) = table.constraints.get_mut(&pending.constraint)
            {
                if fk.columns.len() != referenced.len() {
                    let message = format!(
                        "foreign key {} has {} columns but references {}",
                        pending.constraint,
                        fk.columns.len(),
                        referenced.len()
                    );
                    self.errors
                        .push(LoadError::new(pending.origin.clone(), message));
                    continue;
                }
                fk.referenced_columns = referenced;
            }
        }
    }
}

impl Resolver {
    fn external_reference(&mut self, pending: Pending) {
        if pending.target_columns.is_empty() {
            self.error(
                LoadError::new(
                    pending.origin,
                    format!(
                        "foreign key {} references {}, outside the schemas of this desired state, without naming its columns",
                        pending.constraint, pending.target
                    ),
                )
                .help("name the referenced columns, e.g. `references: auth.users(id)`"),
            );
            return;
        }
        let referenced = pending
            .target_columns
            .iter()
            .map(|c| Ident::from_catalog(c.clone()))
            .collect();
        if let Some(Constraint {
            kind: ConstraintKind::ForeignKey(fk),
            ..
        }) = self
            .schema
            .tables
            .get_mut(&pending.table)
            .and_then(|t| t.constraints.get_mut(&pending.constraint))
        {
            fk.referenced_columns = referenced;
        }
    }
}

struct TableBuilder<'a> {
    file: &'a Path,
    name: QualifiedName,
    table: Table,
    column_pk: Vec<(Ident, Origin)>,
}

#[derive(Default)]
struct FkOptions {
    name: Option<String>,
    on_delete: FkAction,
    on_update: FkAction,
    match_full: bool,
    deferrable: bool,
    initially_deferred: bool,
}

fn plain(kind: ConstraintKind) -> Constraint {
    Constraint {
        kind,
        deferrable: false,
        initially_deferred: false,
    }
}

fn bad_target(origin: &Origin, text: &str) -> LoadError {
    LoadError::new(origin.clone(), format!("cannot read the reference `{text}`")).help(
        "write `table`, `table(column)` or `schema.table(column)`; for names with dots or parentheses use {table: ..., schema: ..., columns: [...]}",
    )
}

fn join(columns: &[Ident]) -> String {
    columns
        .iter()
        .map(Ident::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `columns` (as a set) are a primary key, unique constraint or full unique index.
fn is_unique_key(table: &Table, columns: &[Ident]) -> bool {
    let mut wanted: Vec<&Ident> = columns.iter().collect();
    wanted.sort();
    let same = |cols: &[Ident]| {
        let mut c: Vec<&Ident> = cols.iter().collect();
        c.sort();
        c == wanted
    };
    table.constraints.values().any(|c| match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            same(columns)
        }
        _ => false,
    }) || table.indexes.values().any(|i| {
        i.unique
            && i.predicate.is_none()
            && i.keys
                .iter()
                .all(|k| matches!(k.target, IndexTarget::Column(_)))
            && same(
                &i.keys
                    .iter()
                    .filter_map(|k| match &k.target {
                        IndexTarget::Column(c) => Some(c.clone()),
                        IndexTarget::Expression(_) => None,
                    })
                    .collect::<Vec<_>>(),
            )
    })
}
