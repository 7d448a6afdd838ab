//! Turns parsed files into one [`Schema`], checking everything serde cannot: duplicate
//! objects across files, unknown types, references to tables or columns that do not exist,
//! invalid identifiers and expressions that are not exactly one expression.
//!
//! Problems are collected rather than returned at the first one, so a user fixes a file in
//! one round; each carries the position of the text it is about.

mod names;
mod table;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{LoadError, Origin};
use super::format::{At, DomainSpec, FileSpec, SequenceSpec, ShortOr};
use crate::ident::QualifiedName;
use crate::model::{
    CompositeAttribute, CompositeType, Domain, EnumType, Extension, Ident, ObjectId, Schema,
    Sequence, SequenceOptions, SequenceType,
};
use crate::normalise::validate_expression;

pub(super) struct ParsedFile {
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
        if let Some(first) = self.seen.get(&object) {
            let help = if first.file == origin.file {
                "rename or remove one of them".to_owned()
            } else {
                format!("it is already declared in {first}; keep one of the two declarations",)
            };
            return Err(LoadError::new(
                origin.clone(),
                format!("{object} is declared twice (first at {first})"),
            )
            .help(help));
        }
        self.seen.insert(object, origin.clone());
        Ok(())
    }
}

/// Shared state while resolving: positions, declared names, and the errors found so far.
pub(super) struct Resolver {
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
        for (name, spec) in &tables.0 {
            r.table(&file.path, &schema, name, spec);
        }
        drop(tables);
        self.files.push((file, schema));
    }

    /// The schema, or every problem found, ordered by file (in the order added), line and
    /// column.
    pub(super) fn finish(self) -> Result<Schema, Vec<LoadError>> {
        let Build { mut r, files } = self;
        for (file, schema) in &files {
            r.extensions(file, schema);
            r.enums(file, schema);
            r.domains(file, schema);
            r.composites(file, schema);
        }
        r.resolve_deferred_types();
        for (file, schema) in &files {
            r.sequences(file, schema);
        }
        r.resolve_references();
        if r.errors.is_empty() {
            return Ok(r.schema);
        }
        let file_index = |path: &Path| files.iter().position(|(f, _)| f.path == path);
        r.errors
            .sort_by_cached_key(|e| (file_index(&e.origin.file), e.origin.line, e.origin.column));
        Err(r.errors)
    }
}

impl Resolver {
    fn origin<T>(&self, file: &Path, at: &At<T>) -> Origin {
        Origin::new(file, at.line, at.column)
    }

    fn error(&mut self, error: LoadError) {
        self.errors.push(error);
    }

    /// Checks a name written in YAML; names are literal (no SQL quoting, case kept).
    fn ident(&mut self, text: &str, origin: &Origin, what: &str) -> Option<Ident> {
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

    fn expression(&mut self, text: &str, origin: &Origin, what: &str) -> Option<String> {
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
        let names = file.spec.enums.0.iter().map(|(n, _)| ("type", n));
        let domains = file.spec.domains.0.iter().map(|(n, _)| ("type", n));
        let composites = file.spec.composites.0.iter().map(|(n, _)| ("type", n));
        for (kind, name) in names.chain(domains).chain(composites).collect::<Vec<_>>() {
            let origin = self.origin(&file.path, name);
            let Some(ident) = self.ident(&name.value, &origin, kind) else {
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

    fn domains(&mut self, file: &ParsedFile, schema: &Ident) {
        for (name, spec) in &file.spec.domains.0 {
            let Ok(ident) = Ident::new(name.value.clone()) else {
                continue;
            };
            if let Some(domain) = self.domain(&file.path, schema, &ident, spec) {
                self.schema
                    .domains
                    .insert(QualifiedName::new(schema.clone(), ident), domain);
            }
        }
    }

    fn composites(&mut self, file: &ParsedFile, schema: &Ident) {
        for (name, attributes) in &file.spec.composites.0 {
            let Ok(ident) = Ident::new(name.value.clone()) else {
                continue;
            };
            let mut out: Vec<CompositeAttribute> = Vec::new();
            for (attr_name, spec) in &attributes.0 {
                let origin = self.origin(&file.path, attr_name);
                let Some(attr) = self.ident(&attr_name.value, &origin, "attribute") else {
                    continue;
                };
                let (type_text, collation, type_origin) = match &spec.value {
                    ShortOr::Short(t) => (t.as_str(), None, self.origin(&file.path, spec)),
                    ShortOr::Long(l) => (
                        l.data_type.value.as_str(),
                        l.collation.as_deref(),
                        self.origin(&file.path, &l.data_type),
                    ),
                };
                if let Some(data_type) = self.resolve_type(type_text, schema, &type_origin) {
                    out.push(CompositeAttribute {
                        name: attr,
                        data_type,
                        collation: collation.map(names::collation),
                    });
                }
            }
            self.schema.composites.insert(
                QualifiedName::new(schema.clone(), ident),
                CompositeType { attributes: out },
            );
        }
    }

    fn domain(
        &mut self,
        file: &Path,
        schema: &Ident,
        name: &Ident,
        spec: &DomainSpec,
    ) -> Option<Domain> {
        let type_origin = self.origin(file, &spec.data_type);
        let data_type = self.resolve_type(&spec.data_type.value, schema, &type_origin)?;
        let default = match &spec.default {
            Some(d) => {
                let origin = self.origin(file, d);
                Some(self.expression(&d.value.0, &origin, "default")?)
            }
            None => None,
        };
        let mut checks = BTreeMap::new();
        for (check_name, expr) in &spec.checks.0 {
            let origin = self.origin(file, check_name);
            let check_ident = self.ident(&check_name.value, &origin, "constraint")?;
            let origin = self.origin(file, expr);
            let expr = self.expression(&expr.value, &origin, "check")?;
            checks.insert(check_ident, expr);
        }
        let _ = name;
        Some(Domain {
            data_type,
            default,
            not_null: spec.not_null,
            collation: spec.collation.as_deref().map(names::collation),
            checks,
        })
    }

    fn sequences(&mut self, file: &ParsedFile, schema: &Ident) {
        for (name, spec) in &file.spec.sequences.0 {
            let origin = self.origin(&file.path, name);
            let Some(ident) = self.ident(&name.value, &origin, "sequence") else {
                continue;
            };
            let qualified = QualifiedName::new(schema.clone(), ident);
            if let Err(e) = self
                .declared
                .declare(ObjectId::Sequence(qualified.clone()), &origin)
            {
                self.error(e);
                continue;
            }
            self.relation(&qualified, &origin);
            if let Some(sequence) = self.sequence(&file.path, schema, spec) {
                self.schema.sequences.insert(qualified, sequence);
            }
        }
    }

    fn sequence(&mut self, file: &Path, schema: &Ident, spec: &SequenceSpec) -> Option<Sequence> {
        let data_type = match &spec.data_type {
            Some(t) => {
                let origin = self.origin(file, t);
                self.sequence_type(&t.value, &origin)?
            }
            None => SequenceType::Bigint,
        };
        if spec.increment == Some(0) {
            let origin = Origin::new(file, 0, 0);
            self.error(LoadError::new(origin, "a sequence increment cannot be 0"));
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
                let origin = self.origin(file, owner);
                Some(self.owner(&owner.value, schema, &origin)?)
            }
            None => None,
        };
        Some(Sequence { options, owned_by })
    }

    fn sequence_type(&mut self, text: &str, origin: &Origin) -> Option<SequenceType> {
        let canonical = crate::normalise::normalise_type(text).ok()?;
        match SequenceType::from_type(&canonical.text) {
            Some(t) => Some(t),
            None => {
                self.error(
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

    /// `table.column` or `schema.table.column` of an existing desired column.
    fn owner(
        &mut self,
        text: &str,
        schema: &Ident,
        origin: &Origin,
    ) -> Option<(QualifiedName, Ident)> {
        let parts: Vec<&str> = text.split('.').collect();
        let (table_schema, table, column) = match parts.as_slice() {
            [table, column] => (schema.as_str(), *table, *column),
            [s, table, column] => (*s, *table, *column),
            _ => {
                self.error(
                    LoadError::new(origin.clone(), format!("cannot read owned_by `{text}`"))
                        .help("write `table.column` or `schema.table.column`"),
                );
                return None;
            }
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
