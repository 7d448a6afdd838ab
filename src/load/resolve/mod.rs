//! Turns parsed files into one [`Schema`], checking everything serde cannot: duplicate
//! objects across files, unknown types, references to tables or columns that do not exist,
//! invalid identifiers and expressions that are not exactly one expression.
//!
//! Problems are collected rather than returned at the first one, so a user fixes a file in
//! one round; each carries the position of the text it is about.

mod names;
mod partition;

/// A collation as written in YAML → as the catalog reader prints it.
pub(crate) fn collation_name(spec: &super::format::ObjectName) -> String {
    names::collation(spec)
}
mod table;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{LoadError, Origin};
use super::format::{At, FileSpec, ShortOr};
use crate::ident::QualifiedName;
use crate::kinds::{self, Kind, Visitor};
use crate::model::{EnumType, Extension, Ident, ObjectId, Schema};
use crate::normalise::validate_expression;

pub(crate) struct ParsedFile {
    pub path: PathBuf,
    pub spec: FileSpec,
}

/// Where each named object was declared, for "declared twice" errors that name both places.
#[derive(Default)]
struct Declarations {
    seen: BTreeMap<ObjectId, Origin>,
}

impl Declarations {
    fn declare(&mut self, object: ObjectId, origin: &Origin) -> Result<(), LoadError> {
        use std::collections::btree_map::Entry;
        // One walk of the tree, not a lookup and an insert: at 10,000 tables it holds
        // hundreds of thousands of objects (every privilege), compared field by field.
        let earlier = match self.seen.entry(object) {
            Entry::Vacant(place) => {
                place.insert(origin.clone());
                return Ok(());
            }
            Entry::Occupied(earlier) => earlier,
        };
        let (object, first) = (earlier.key(), earlier.get());
        let help = if first.file == origin.file {
            "rename or remove one of them".to_owned()
        } else {
            format!("it is already declared in {first}; keep one of the two declarations",)
        };
        Err(LoadError::new(
            origin.clone(),
            format!("{object} is declared twice (first at {first})"),
        )
        .help(help))
    }
}

/// Shared state while resolving: positions, declared names, and the errors found so far.
pub(crate) struct Resolver {
    errors: Vec<LoadError>,
    declared: Declarations,
    schema: Schema,
    /// User-defined type names (enums and domains), for type resolution.
    user_types: BTreeSet<QualifiedName>,
    /// Relation names per schema (tables, sequences, indexes share one namespace).
    relations: BTreeMap<QualifiedName, Origin>,
    pending: Vec<table::Pending>,
    /// Column types that may name a user type, resolved once every file is in.
    deferred_types: Vec<types::DeferredType>,
    /// Partitions whose parent is not resolved yet.
    waiting: Vec<partition::Waiting>,
    /// Partition columns' stated types, checked against their parents' at the end.
    stated_types: Vec<partition::StatedType>,
}

/// Resolves files as they are parsed. Tables are nearly all of a large desired state: each
/// file's tables become model tables, and their parsed form is dropped, before the next file
/// is parsed, so memory holds one file's parse rather than every file's (at 10,000 tables,
/// ~90 MB). Everything that needs all files — user types, extensions, foreign-key targets,
/// sequence owners — waits for [`Build::finish`].
pub(super) struct Build {
    r: Resolver,
    /// Each file without its tables, with the schema it declares.
    files: Vec<(ParsedFile, Ident)>,
}

impl Build {
    pub(super) fn new() -> Self {
        Build {
            r: Resolver {
                errors: Vec::new(),
                declared: Declarations::default(),
                schema: Schema::default(),
                user_types: BTreeSet::new(),
                relations: BTreeMap::new(),
                pending: Vec::new(),
                deferred_types: Vec::new(),
                waiting: Vec::new(),
                stated_types: Vec::new(),
            },
            files: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, mut file: ParsedFile) {
        let r = &mut self.r;
        let schema = r.file_schema(&file);
        r.schema.schemas.insert(schema.clone());
        r.declare_types(&file, &schema);
        let tables = std::mem::take(&mut file.spec.tables);
        for (name, spec) in tables.0 {
            r.table_or_wait(&file.path, &schema, name, spec);
        }
        self.files.push((file, schema));
    }

    /// Types the `.sql` files declare (a view's row type, say), which YAML columns and domains
    /// may use: they are built on the scratch server with the rest of the statements.
    pub(super) fn declare_types_from_sql(&mut self, names: impl Iterator<Item = QualifiedName>) {
        self.r.user_types.extend(names);
    }

    /// The schema, or every problem found, ordered by file (in the order added), line and
    /// column.
    pub(super) fn finish(self) -> Result<(Schema, BTreeMap<ObjectId, Origin>), Vec<LoadError>> {
        let Build { mut r, files } = self;
        for (file, schema) in &files {
            r.extensions(file, schema);
            r.enums(file, schema);
        }
        struct ResolveKinds<'a> {
            r: &'a mut Resolver,
            files: &'a [(ParsedFile, Ident)],
        }
        impl Visitor for ResolveKinds<'_> {
            fn visit<K: Kind>(&mut self) {
                K::resolve_files(self.r, self.files);
            }
        }
        kinds::visit_all(&mut ResolveKinds {
            r: &mut r,
            files: &files,
        });
        r.report_orphans();
        for (file, _) in &files {
            r.comments(file);
        }
        r.resolve_deferred_types();
        r.settle_partitions();
        r.resolve_references();
        if r.errors.is_empty() {
            return Ok((r.schema, r.declared.seen));
        }
        let file_index = |path: &Path| files.iter().position(|(f, _)| f.path == path);
        r.errors
            .sort_by_cached_key(|e| (file_index(&e.origin.file), e.origin.line, e.origin.column));
        Err(r.errors)
    }
}

impl Resolver {
    pub(crate) fn origin<T>(&self, file: &Path, at: &At<T>) -> Origin {
        Origin::new(file, at.line, at.column)
    }

    pub(crate) fn error(&mut self, error: LoadError) {
        self.errors.push(error);
    }

    /// The model so far: every file's tables, enums and the kinds registered before the
    /// caller's are in.
    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn schema_mut(&mut self) -> &mut Schema {
        &mut self.schema
    }

    /// Declares an object at `origin`; `false`, with the error reported, when it was
    /// declared before.
    pub(crate) fn declare(&mut self, object: ObjectId, origin: &Origin) -> bool {
        match self.declared.declare(object, origin) {
            Ok(()) => true,
            Err(e) => {
                self.error(e);
                false
            }
        }
    }

    /// Notes that the desired state names `role` at `origin` (the first place is kept).
    pub(crate) fn role_used(&mut self, role: &Ident, origin: &Origin) {
        self.schema
            .origins
            .roles
            .entry(role.clone())
            .or_insert_with(|| origin.clone());
    }

    /// Notes that the desired state names the routine `routine` at `origin`.
    pub(crate) fn routine_used(&mut self, routine: &ObjectId, origin: &Origin) {
        self.schema
            .origins
            .routines
            .entry(routine.clone())
            .or_insert_with(|| origin.clone());
    }

    /// Checks a name written in YAML; names are literal (no SQL quoting, case kept).
    pub(crate) fn ident(&mut self, text: &str, origin: &Origin, what: &str) -> Option<Ident> {
        match Ident::new(text) {
            Ok(ident) => Some(ident),
            Err(e) => {
                self.error(
                    LoadError::new(origin.clone(), format!("invalid {what} name: {e}"))
                        .help("names are written literally, as PostgreSQL stores them"),
                );
                None
            }
        }
    }

    /// A policy's `USING` or `WITH CHECK`: one expression, sub-queries allowed.
    pub(crate) fn condition(&mut self, text: &str, origin: &Origin, what: &str) -> Option<String> {
        match crate::normalise::validate_condition(text) {
            Ok(expr) => Some(expr),
            Err(e) => {
                self.error(
                    LoadError::new(origin.clone(), format!("invalid {what}: {e}"))
                        .help("write exactly one SQL condition, e.g. `owner_id = auth.uid()`"),
                );
                None
            }
        }
    }

    /// The comment `text` on `object`, written at `text`'s place in `file`.
    pub(crate) fn comment(&mut self, file: &Path, object: ObjectId, text: &At<String>) {
        let origin = self.origin(file, text);
        if text.value.is_empty() {
            self.error(
                LoadError::new(origin, format!("the comment on {object} is empty"))
                    .help("PostgreSQL takes an empty comment as no comment: leave the key out"),
            );
            return;
        }
        if self.declare(ObjectId::Comment(Box::new(object.clone())), &origin) {
            self.schema.comments.insert(object, text.value.clone());
        }
    }

    /// A file's `comments:` section: object names as plans print them → comment.
    fn comments(&mut self, file: &ParsedFile) {
        for (name, text) in &file.spec.comments.0 {
            let origin = self.origin(&file.path, name);
            let object = match name.value.parse::<ObjectId>() {
                Ok(object) => object,
                Err(_) => {
                    self.error(
                        LoadError::new(origin, format!("`{}` is not an object name", name.value))
                            .help(
                                "write the object's name as plans print it: `table app.todos`, \
                             `column app.todos.title`, `index todos_done_idx on app.todos`, \
                             `constraint todos_pkey on app.todos`, `type app.mood`, `domain \
                             app.email`, `sequence app.s`, `view app.v`, `schema app`, `policy \
                             \"Own rows\" on app.todos`, `function app.f(integer)`",
                            ),
                    );
                    continue;
                }
            };
            let why_not = match &object {
                ObjectId::Extension(_) => {
                    Some("an extension's comment is set by the extension's own script")
                }
                other if crate::kinds::comment::target_sql(other).is_none() => {
                    Some("this is not an object that can carry a comment of its own")
                }
                _ => None,
            };
            if let Some(why) = why_not {
                self.error(
                    LoadError::new(origin, format!("{object} cannot be commented here: {why}"))
                        .help(
                            "comment a schema, table, column, index, constraint, type, \
                               domain, sequence, view, policy, function or trigger",
                        ),
                );
                continue;
            }
            self.comment(&file.path, object, text);
        }
    }

    pub(crate) fn expression(&mut self, text: &str, origin: &Origin, what: &str) -> Option<String> {
        match validate_expression(text) {
            Ok(expr) => Some(expr),
            Err(e) => {
                self.error(
                    LoadError::new(origin.clone(), format!("invalid {what}: {e}"))
                        .help("write exactly one SQL expression, e.g. `now()` or `price > 0`"),
                );
                None
            }
        }
    }

    fn file_schema(&mut self, file: &ParsedFile) -> Ident {
        match &file.spec.schema {
            Some(name) => {
                let origin = self.origin(&file.path, name);
                self.ident(&name.value, &origin, "schema")
                    .unwrap_or_else(|| Ident::from_catalog("public".into()))
            }
            None => Ident::from_catalog("public".into()),
        }
    }

    /// Types are declared before anything uses them, whatever the file order. Every table
    /// is also a type (its row type), which domains and columns may use.
    fn declare_types(&mut self, file: &ParsedFile, schema: &Ident) {
        for (name, _) in &file.spec.tables.0 {
            if let Ok(ident) = Ident::new(name.value.clone()) {
                self.user_types
                    .insert(QualifiedName::new(schema.clone(), ident));
            }
        }
        let mut names: Vec<&At<String>> = file.spec.enums.0.iter().map(|(n, _)| n).collect();
        struct TypeNames<'a, 'n> {
            file: &'a ParsedFile,
            names: &'n mut Vec<&'a At<String>>,
        }
        impl Visitor for TypeNames<'_, '_> {
            fn visit<K: Kind>(&mut self) {
                if let (true, Some(section)) = (K::IS_TYPE, K::section(&self.file.spec)) {
                    self.names.extend(section.0.iter().map(|(n, _)| n));
                }
            }
        }
        kinds::visit_all(&mut TypeNames {
            file,
            names: &mut names,
        });
        for name in names {
            let origin = self.origin(&file.path, name);
            let Some(ident) = self.ident(&name.value, &origin, "type") else {
                continue;
            };
            let qualified = QualifiedName::new(schema.clone(), ident);
            // Enums, domains and composites share PostgreSQL's one namespace of types.
            let object = ObjectId::Type(qualified.clone());
            if let Err(e) = self.declared.declare(object, &origin) {
                self.error(e);
            }
            self.user_types.insert(qualified);
        }
    }

    /// Resolves a file's declarations of kind `K` into the model. Types were declared (and
    /// their names checked) with [`Resolver::declare_types`].
    pub(crate) fn resolve_kind<K: Kind>(&mut self, file: &ParsedFile, schema: &Ident) {
        let Some(section) = K::section(&file.spec) else {
            return;
        };
        for (name, spec) in &section.0 {
            let origin = self.origin(&file.path, name);
            let qualified = if K::IS_TYPE {
                match Ident::new(name.value.clone()) {
                    Ok(ident) => QualifiedName::new(schema.clone(), ident),
                    Err(_) => continue,
                }
            } else {
                let Some(ident) = self.ident(&name.value, &origin, K::NAME) else {
                    continue;
                };
                QualifiedName::new(schema.clone(), ident)
            };
            let Some((key, object)) = K::resolve(self, &file.path, &qualified, spec) else {
                continue;
            };
            if !K::IS_TYPE {
                if let Err(e) = self.declared.declare(K::id(&key), &origin) {
                    self.error(e);
                    continue;
                }
                if K::IS_RELATION {
                    self.relation(&qualified, &origin);
                }
            }
            K::objects_mut(&mut self.schema).insert(key, object);
        }
    }

    /// A short-form extension lives in the file's schema.
    fn extensions(&mut self, file: &ParsedFile, file_schema: &Ident) {
        for spec in &file.spec.extensions {
            let origin = self.origin(&file.path, spec);
            let (name, schema) = match &spec.value {
                ShortOr::Short(name) => (name.as_str(), None),
                ShortOr::Long(long) => (long.name.as_str(), long.schema.as_deref()),
            };
            let Some(name) = self.ident(name, &origin, "extension") else {
                continue;
            };
            let schema = match schema {
                Some(s) => match self.ident(s, &origin, "schema") {
                    Some(s) => s,
                    None => continue,
                },
                None => file_schema.clone(),
            };
            if let Err(e) = self
                .declared
                .declare(ObjectId::Extension(name.clone()), &origin)
            {
                self.error(e);
                continue;
            }
            self.schema.schemas.insert(schema.clone());
            self.schema.extensions.insert(name, Extension { schema });
        }
    }

    fn enums(&mut self, file: &ParsedFile, schema: &Ident) {
        for (name, values) in &file.spec.enums.0 {
            let origin = self.origin(&file.path, name);
            let Ok(ident) = Ident::new(name.value.clone()) else {
                continue; // reported when declared
            };
            let mut seen = BTreeSet::new();
            for value in values {
                if value.len() > crate::ident::MAX_IDENT_BYTES {
                    self.error(LoadError::new(
                        origin.clone(),
                        format!("enum value \"{value}\" is longer than 63 bytes"),
                    ));
                }
                if !seen.insert(value) {
                    self.error(
                        LoadError::new(
                            origin.clone(),
                            format!("enum {} lists the value \"{value}\" twice", name.value),
                        )
                        .help("each enum value must be unique"),
                    );
                }
            }
            self.schema.enums.insert(
                QualifiedName::new(schema.clone(), ident),
                EnumType {
                    values: values.clone(),
                },
            );
        }
    }

    /// The column `owned_by` names: `table.column` or `schema.table.column` (split on `.`),
    /// or the long form `{ table, column, schema }`; it must be a desired column.
    pub(crate) fn owner(
        &mut self,
        spec: &ShortOr<String, crate::kinds::sequence::OwnerSpec>,
        schema: &Ident,
        origin: &Origin,
    ) -> Option<(QualifiedName, Ident)> {
        let (table_schema, table, column) = match spec {
            ShortOr::Short(text) => match text.split('.').collect::<Vec<_>>().as_slice() {
                [table, column] => (schema.as_str(), *table, *column),
                [s, table, column] => (*s, *table, *column),
                _ => {
                    self.error(
                        LoadError::new(origin.clone(), format!("cannot read owned_by `{text}`"))
                            .help(
                                "write `table.column` or `schema.table.column`; for names with \
                                 dots use { table: ..., column: ..., schema: ... }",
                            ),
                    );
                    return None;
                }
            },
            ShortOr::Long(long) => (
                long.schema.as_deref().unwrap_or(schema.as_str()),
                long.table.as_str(),
                long.column.as_str(),
            ),
        };
        let table_name = QualifiedName::new(
            self.ident(table_schema, origin, "schema")?,
            self.ident(table, origin, "table")?,
        );
        let column = self.ident(column, origin, "column")?;
        match self.schema.tables.get(&table_name) {
            Some(t) if t.column(column.as_str()).is_some() => Some((table_name, column)),
            Some(_) => {
                self.error(LoadError::new(
                    origin.clone(),
                    format!("owned_by: table {table_name} has no column \"{column}\""),
                ));
                None
            }
            None => {
                self.error(
                    LoadError::new(
                        origin.clone(),
                        format!("owned_by: no table {table_name} in the desired state"),
                    )
                    .help("declare the table, or remove owned_by"),
                );
                None
            }
        }
    }

    /// Tables, sequences and indexes share one namespace per schema in PostgreSQL.
    fn relation(&mut self, name: &QualifiedName, origin: &Origin) {
        if let Some(first) = self.relations.get(name) {
            let first = first.clone();
            self.error(
                LoadError::new(
                    origin.clone(),
                    format!("the name {name} is already used by another table, sequence or index (at {first})"),
                )
                .help("tables, sequences and indexes of one schema need distinct names"),
            );
        } else {
            self.relations.insert(name.clone(), origin.clone());
        }
    }
}
