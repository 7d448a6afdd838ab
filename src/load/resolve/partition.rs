//! Partitioned tables and partitions in the desired state.
//!
//! A partitioned table says `partition_by: RANGE (created_at)`; a partition names its parent
//! and its bound (`partition_of: events`, `bound: FOR VALUES FROM (...) TO (...)` or
//! `DEFAULT`) and has its parent's columns without listing them: `columns:` on a partition
//! lists only what it overrides (its own default, NOT NULL, a column-level check or foreign
//! key). A partition's parent may be declared later, in the same file or another: the
//! partition waits for it. Both texts are checked here with the real parser (one clause,
//! nothing else), against the table's columns and the parent's strategy; the server prints
//! them canonically at plan time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pg_query::NodeEnum;
use pg_query::protobuf::{PartitionStrategy, Token};

use super::super::error::{LoadError, Origin};
use super::super::format::{At, ShortOr, TableSpec};
use super::{Resolver, names};
use crate::ident::QualifiedName;
use crate::model::{ConstraintKind, Ident, Table};

/// A partition whose parent was not resolved yet.
pub(super) struct Waiting {
    file: PathBuf,
    schema: Ident,
    name: At<String>,
    spec: TableSpec,
    parent: QualifiedName,
}

/// A partition column's `type:`, checked against the parent's once every type is resolved.
pub(super) struct StatedType {
    partition: QualifiedName,
    column: Ident,
    text: String,
    origin: Origin,
}

/// What `partition_by` says, as far as the loader checks it.
pub(super) struct Key {
    strategy: PartitionStrategy,
    /// The key's columns, when every part of the key is a plain column.
    columns: Option<Vec<String>>,
}

impl Resolver {
    /// Resolves a table now, or — a partition whose parent is not resolved yet — when the
    /// parent is.
    pub(super) fn table_or_wait(
        &mut self,
        file: &Path,
        schema: &Ident,
        name: At<String>,
        spec: TableSpec,
    ) {
        let parent = match &spec.partition_of {
            None => None,
            // Unreadable: reported when the table is resolved, without its parent.
            Some(p) => self.parent_name_quiet(schema, p),
        };
        match parent {
            Some(parent) if !self.schema.tables.contains_key(&parent) => {
                self.waiting.push(Waiting {
                    file: file.to_path_buf(),
                    schema: schema.clone(),
                    name,
                    spec,
                    parent,
                });
            }
            _ => {
                let resolved = self.table(file, schema, &name, &spec);
                if let Some(resolved) = resolved {
                    self.resolve_waiting_for(&resolved);
                }
            }
        }
    }

    /// The partitions that were waiting for `parent`, and theirs in turn.
    fn resolve_waiting_for(&mut self, parent: &QualifiedName) {
        let mut ready = vec![parent.clone()];
        while let Some(parent) = ready.pop() {
            let (now, later): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
                .into_iter()
                .partition(|w| w.parent == parent);
            self.waiting = later;
            for w in now {
                if let Some(resolved) = self.table(&w.file, &w.schema, &w.name, &w.spec) {
                    ready.push(resolved);
                }
            }
        }
    }

    /// Partitions whose parent never came: not in the desired state, or a partition of
    /// itself through others.
    pub(super) fn report_orphans(&mut self) {
        let waiting: BTreeSet<QualifiedName> = self
            .waiting
            .iter()
            .filter_map(|w| {
                Ident::new(w.name.value.clone())
                    .ok()
                    .map(|n| QualifiedName::new(w.schema.clone(), n))
            })
            .collect();
        for w in std::mem::take(&mut self.waiting) {
            let origin = match &w.spec.partition_of {
                Some(p) => self.origin(&w.file, p),
                None => self.origin(&w.file, &w.name),
            };
            let message = if waiting.contains(&w.parent) {
                format!(
                    "table {} is a partition of {}, which is (through its own parents) a \
                     partition of it",
                    w.name.value, w.parent
                )
            } else {
                format!("partition_of: no table {} in the desired state", w.parent)
            };
            self.error(LoadError::new(origin, message).help(
                "name a partitioned table of the desired state (`schema.table` for another schema)",
            ));
        }
    }

    /// [`Self::partition_parent`] without reporting (the table reports it when resolved).
    pub(super) fn parent_name_quiet(
        &self,
        schema: &Ident,
        spec: &At<ShortOr<String, super::super::format::TargetSpec>>,
    ) -> Option<QualifiedName> {
        let (parent_schema, table) = match &spec.value {
            ShortOr::Short(text) => {
                let t = names::parse_target(text).filter(|t| t.columns.is_empty())?;
                (t.schema, t.table)
            }
            ShortOr::Long(long) => (long.schema.clone(), long.table.clone()),
        };
        let schema = match parent_schema {
            Some(s) => Ident::new(s).ok()?,
            None => schema.clone(),
        };
        Some(QualifiedName::new(schema, Ident::new(table).ok()?))
    }

    /// The partitioned table `partition_of` names (in `schema` unless it says another).
    pub(super) fn partition_parent(
        &mut self,
        file: &Path,
        schema: &Ident,
        spec: &At<ShortOr<String, super::super::format::TargetSpec>>,
    ) -> Option<QualifiedName> {
        let origin = self.origin(file, spec);
        let (parent_schema, table) = match &spec.value {
            ShortOr::Short(text) => match names::parse_target(text) {
                Some(t) if t.columns.is_empty() => (t.schema, t.table),
                _ => {
                    self.error(
                        LoadError::new(origin, format!("cannot read partition_of `{text}`"))
                            .help("write `table` or `schema.table`; for names with dots use {table: ..., schema: ...}"),
                    );
                    return None;
                }
            },
            ShortOr::Long(long) => {
                if !long.columns.is_empty() {
                    self.error(LoadError::new(
                        origin,
                        "partition_of names a table, not columns",
                    ));
                    return None;
                }
                (long.schema.clone(), long.table.clone())
            }
        };
        let parent_schema = match parent_schema {
            Some(s) => self.ident(&s, &origin, "schema")?,
            None => schema.clone(),
        };
        let table = self.ident(&table, &origin, "table")?;
        Some(QualifiedName::new(parent_schema, table))
    }

    /// `partition_by`, `partition_of` and `bound` of a table being resolved (its columns are
    /// in `table` already).
    pub(super) fn partitioning(
        &mut self,
        file: &Path,
        name: &QualifiedName,
        spec: &TableSpec,
        table: &mut Table,
    ) {
        if let Some(by) = &spec.partition_by {
            let origin = self.origin(file, by);
            if let Some(key) = self.partition_key(&by.value, table, name, &origin) {
                self.keys_cover_partition_key(name, table, &key, &origin);
                // A sub-partitioned partition gets its ancestors' keys and unique indexes.
                let mut ancestor = spec
                    .partition_of
                    .as_ref()
                    .and_then(|p| self.parent_name_quiet(&name.schema, p));
                let mut depth = 0;
                while let Some(parent) = ancestor.take() {
                    depth += 1;
                    let Some(t) = self.schema.tables.get(&parent).cloned() else {
                        break;
                    };
                    self.keys_cover_partition_key(name, &t, &key, &origin);
                    ancestor = t.partition_of.map(|p| p.parent).filter(|_| depth < 64);
                }
                table.partition_by = Some(by.value.trim().to_owned());
            }
        }
        match (&spec.partition_of, &spec.bound) {
            (None, None) => {}
            (Some(of), None) => {
                let origin = self.origin(file, of);
                self.error(
                    LoadError::new(origin, format!("partition {name} has no `bound:`")).help(
                        "write e.g. `bound: FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`, \
                         `bound: FOR VALUES IN ('eu')` or `bound: DEFAULT`",
                    ),
                );
            }
            (None, Some(bound)) => {
                let origin = self.origin(file, bound);
                self.error(
                    LoadError::new(
                        origin,
                        format!("table {name} has a `bound:` but no `partition_of:`"),
                    )
                    .help("name its partitioned table with `partition_of:`, or remove `bound:`"),
                );
            }
            (Some(of), Some(bound)) => {
                let schema = name.schema.clone();
                let Some(parent_name) = self.partition_parent(file, &schema, of) else {
                    return;
                };
                let of_origin = self.origin(file, of);
                let bound_origin = self.origin(file, bound);
                let Some(parent) = self.schema.tables.get(&parent_name) else {
                    // Only a partition whose parent is resolved gets here.
                    return;
                };
                let Some(parent_key) = parent.partition_by.clone() else {
                    self.error(
                        LoadError::new(
                            of_origin,
                            format!("{parent_name} is not partitioned, so {name} cannot be a partition of it"),
                        )
                        .help(format!("give {parent_name} a `partition_by:`")),
                    );
                    return;
                };
                let strategy = Key::parse(&parent_key)
                    .map(|k| k.strategy)
                    .unwrap_or(PartitionStrategy::Undefined);
                if let Some(bound) = self.bound(&bound.value, strategy, &bound_origin) {
                    table.partition_of = Some(Box::new(crate::model::PartitionOf {
                        parent: parent_name,
                        bound,
                    }));
                }
            }
        }
    }

    fn partition_key(
        &mut self,
        text: &str,
        table: &Table,
        name: &QualifiedName,
        origin: &Origin,
    ) -> Option<Key> {
        let Ok(key) = Key::parse(text) else {
            self.error(
                LoadError::new(origin.clone(), format!("not a partition key: `{text}`")).help(
                    "write `RANGE (column)`, `LIST (column)` or `HASH (column)` (several columns \
                     or expressions in the parentheses, comma-separated)",
                ),
            );
            return None;
        };
        for column in key.columns.iter().flatten() {
            if table.column(column).is_none() {
                let known: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                self.error(
                    LoadError::new(
                        origin.clone(),
                        format!("the partition key names column \"{column}\", which table {name} does not have"),
                    )
                    .help(format!("columns are: {}", known.join(", "))),
                );
                return None;
            }
        }
        Some(key)
    }

    /// PostgreSQL requires a partitioned table's primary key and unique constraints to
    /// include every column of the partition key (and refuses them over an expression key).
    fn keys_cover_partition_key(
        &mut self,
        name: &QualifiedName,
        table: &Table,
        key: &Key,
        origin: &Origin,
    ) {
        for (constraint, c) in &table.constraints {
            let (ConstraintKind::PrimaryKey { columns, .. }
            | ConstraintKind::Unique { columns, .. }) = &c.kind
            else {
                continue;
            };
            let have: BTreeSet<&str> = columns.iter().map(Ident::as_str).collect();
            let missing: Vec<&str> = match &key.columns {
                Some(key_columns) => key_columns
                    .iter()
                    .map(String::as_str)
                    .filter(|c| !have.contains(c))
                    .collect(),
                None => vec!["(an expression)"],
            };
            if !missing.is_empty() {
                self.error(
                    LoadError::new(
                        origin.clone(),
                        format!(
                            "constraint {constraint} does not include the partition key's {} \
                             (table {name} is partitioned by it)",
                            missing.join(", ")
                        ),
                    )
                    .help("a partitioned table's primary key and unique constraints must include every partition key column"),
                );
            }
        }
        for (index_name, index) in &table.indexes {
            if !index.unique {
                continue;
            }
            let have: BTreeSet<&str> = index
                .keys
                .iter()
                .filter_map(|k| match &k.target {
                    crate::model::IndexTarget::Column(c) => Some(c.as_str()),
                    crate::model::IndexTarget::Expression(_) => None,
                })
                .collect();
            let covered = key
                .columns
                .as_ref()
                .is_some_and(|k| k.iter().all(|c| have.contains(c.as_str())));
            if !covered {
                self.error(
                    LoadError::new(
                        origin.clone(),
                        format!(
                            "unique index {index_name} does not include every partition key \
                             column of table {name}"
                        ),
                    )
                    .help("a unique index on a partitioned table must include every partition key column"),
                );
            }
        }
    }

    /// A partition's bound, trimmed: `FOR VALUES ...` or `DEFAULT`, of the parent's strategy.
    fn bound(&mut self, text: &str, parent: PartitionStrategy, origin: &Origin) -> Option<String> {
        let help = "write `FOR VALUES FROM (...) TO (...)` (range), `FOR VALUES IN (...)` \
                    (list), `FOR VALUES WITH (MODULUS n, REMAINDER r)` (hash) or `DEFAULT`";
        let Some(spec) = one_clause(&format!("CREATE TABLE t PARTITION OF p {text}"), text)
            .and_then(|stmt| stmt.partbound)
        else {
            self.error(
                LoadError::new(origin.clone(), format!("not a partition bound: `{text}`"))
                    .help(help),
            );
            return None;
        };
        let expected = match parent {
            PartitionStrategy::Range => Some(("r", "range")),
            PartitionStrategy::List => Some(("l", "list")),
            PartitionStrategy::Hash => Some(("h", "hash")),
            PartitionStrategy::Undefined => None,
        };
        if let Some((code, word)) = expected
            && !spec.is_default
            && spec.strategy != code
        {
            self.error(
                LoadError::new(
                    origin.clone(),
                    format!("the parent is partitioned by {word}; `{text}` is not a {word} bound"),
                )
                .help(help),
            );
            return None;
        }
        if spec.is_default && parent == PartitionStrategy::Hash {
            self.error(LoadError::new(
                origin.clone(),
                "a hash-partitioned table cannot have a DEFAULT partition",
            ));
            return None;
        }
        Some(text.trim().to_owned())
    }
}

impl Resolver {
    /// Once every type is resolved: a partition's columns take their parent's type, collation
    /// and generation (what PostgreSQL gives a partition), and a partition column's stated
    /// `type:` must be its parent's.
    pub(super) fn settle_partitions(&mut self) {
        let mut partitions: Vec<(usize, QualifiedName)> = self
            .schema
            .tables
            .iter()
            .filter(|(_, t)| t.partition_of.is_some())
            .map(|(name, t)| (depth(&self.schema, t), name.clone()))
            .collect();
        partitions.sort();
        for (_, name) in partitions {
            let Some(parent) = self.schema.tables[&name]
                .partition_of
                .as_ref()
                .and_then(|p| self.schema.tables.get(&p.parent))
            else {
                continue;
            };
            let inherited: Vec<crate::model::Column> =
                parent.columns.iter().map(Table::inherited_column).collect();
            if let Some(table) = self.schema.tables.get_mut(&name) {
                for column in &mut table.columns {
                    if let Some(from) = inherited.iter().find(|c| c.name == column.name) {
                        column.data_type.clone_from(&from.data_type);
                        column.set_collation(from.collation().map(str::to_owned));
                        column.set_generated(from.generated().map(str::to_owned));
                        column.set_identity(None);
                    }
                }
            }
        }
        for stated in std::mem::take(&mut self.stated_types) {
            let Some(resolved) =
                self.resolve_type(&stated.text, &stated.partition.schema, &stated.origin)
            else {
                continue;
            };
            let actual = self
                .schema
                .tables
                .get(&stated.partition)
                .and_then(|t| t.column(stated.column.as_str()))
                .map(|c| c.data_type.clone());
            if let Some(actual) = actual
                && actual != resolved
            {
                self.error(
                    LoadError::new(
                        stated.origin,
                        format!(
                            "column \"{}\" of partition {} has its parent's type, {actual}, not {resolved}",
                            stated.column, stated.partition
                        ),
                    )
                    .help("remove `type:` (a partition's columns are its parent's)"),
                );
            }
        }
    }

    /// A partition column's `type:`, checked once types are resolved.
    pub(super) fn state_type(
        &mut self,
        partition: &QualifiedName,
        column: &Ident,
        text: &str,
        origin: &Origin,
    ) {
        self.stated_types.push(StatedType {
            partition: partition.clone(),
            column: column.clone(),
            text: text.to_owned(),
            origin: origin.clone(),
        });
    }
}

/// How many partitioned tables `table` sits under.
fn depth(schema: &crate::model::Schema, table: &Table) -> usize {
    let mut depth = 0;
    let mut parent = table.partition_of.as_ref().map(|p| &p.parent);
    while let Some(name) = parent {
        depth += 1;
        if depth > schema.tables.len() {
            break;
        }
        parent = schema
            .tables
            .get(name)
            .and_then(|t| t.partition_of.as_ref())
            .map(|p| &p.parent);
    }
    depth
}

impl Key {
    fn parse(text: &str) -> Result<Self, ()> {
        let stmt = one_clause(&format!("CREATE TABLE t () PARTITION BY {text}"), text).ok_or(())?;
        let spec = stmt.partspec.ok_or(())?;
        let strategy = PartitionStrategy::try_from(spec.strategy).map_err(|_| ())?;
        let mut columns = Some(Vec::new());
        for param in &spec.part_params {
            match &param.node {
                Some(NodeEnum::PartitionElem(e)) if e.expr.is_none() && !e.name.is_empty() => {
                    if let Some(c) = columns.as_mut() {
                        c.push(e.name.clone());
                    }
                }
                Some(NodeEnum::PartitionElem(_)) => columns = None,
                _ => return Err(()),
            }
        }
        if spec.part_params.is_empty() {
            return Err(());
        }
        Ok(Self { strategy, columns })
    }
}

/// The one `CREATE TABLE` statement of `sql`, when `clause` (the user's text inside it) holds
/// no statement separator or comment that could smuggle in another statement.
fn one_clause(sql: &str, clause: &str) -> Option<pg_query::protobuf::CreateStmt> {
    let tokens = pg_query::scan(clause).ok()?;
    if tokens.tokens.iter().any(|t| {
        t.token == Token::Ascii59 as i32
            || t.token == Token::SqlComment as i32
            || t.token == Token::CComment as i32
    }) {
        return None;
    }
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).ok()?;
    match parsed.protobuf.stmts.as_slice() {
        [one] => match one.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            Some(NodeEnum::CreateStmt(stmt)) => Some(stmt.clone()),
            _ => None,
        },
        _ => None,
    }
}
