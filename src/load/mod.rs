//! YAML desired state → [`Schema`].
//!
//! Reads every `.yaml`/`.yml` file under a folder (sorted by path, so the result never depends
//! on directory order), parses each strictly (unknown keys, duplicate keys, tabs and wrong
//! shapes are errors with a position), then resolves them together so that duplicates and
//! references across files are caught. Nothing here touches a database.

pub(crate) mod error;
pub(crate) mod format;
pub mod json_schema;
pub(crate) mod resolve;
pub mod sql;
mod syntax;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use error::{LoadError, LoadErrors, Origin};
pub use sql::SqlStatement;

use crate::model::{ObjectId, Schema};

/// Loads the desired state from `dir` (recursively), or from the one file `dir` names.
pub fn from_dir(dir: &Path) -> Result<Schema, LoadErrors> {
    from_sources(&read_dir(dir)?)
}

/// The `.yaml`/`.yml` files under `dir` (path, content), sorted by path — or the one file
/// `dir` names: what [`from_sources`] loads.
pub fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>, LoadErrors> {
    yaml_files(dir)?
        .into_iter()
        .map(|path| {
            std::fs::read_to_string(&path)
                .map(|text| (path.clone(), text))
                .map_err(|e| {
                    single(
                        Origin::new(&path, 0, 0),
                        format!("cannot read the file: {e}"),
                    )
                })
        })
        .collect()
}

/// The schemas the files most likely name — each file's top-level `schema:` line, else
/// `public` — found without parsing them. It lets the catalog be read while the files are
/// parsed; it is only a guess, so the caller compares it with the loaded state's schemas and
/// reads again when they differ.
pub fn schema_names_hint(sources: &[(PathBuf, String)]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, text) in sources {
        let mut found = false;
        for (_, name) in schema_lines(text) {
            found = true;
            names.insert(name.to_owned());
        }
        if !found {
            names.insert("public".to_owned());
        }
    }
    names
}

/// Refuses files that describe a schema `--ignore-schema` names: an ignored schema is never
/// read and never changed, so a desired state for it could only be planned against nothing
/// (and would be applied again on every run). Each such file is an error at its `schema:`
/// line.
pub fn reject_ignored(sources: &[(PathBuf, String)], ignore: &[String]) -> Result<(), LoadErrors> {
    let mut errors = Vec::new();
    for (path, text) in sources {
        let mut named = false;
        for (at, name) in schema_lines(text) {
            named = true;
            if ignore.iter().any(|s| s == name) {
                let line = crate::sql::split::line_of(text, at);
                errors.push(ignored(path, line as u32, name));
            }
        }
        if !named && ignore.iter().any(|s| s == "public") {
            errors.push(ignored(path, 0, "public"));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    for (path, text) in sources {
        error::with_source_lines(&mut errors, path, text);
    }
    Err(LoadErrors(errors))
}

/// Each line of `text` that starts with `schema:` and names one: (the line's byte offset, the
/// name, unquoted, without a trailing comment). Found by substring search, not line by line:
/// both callers run on every byte of the desired state before the catalog is read (19 MB at
/// 10,000 tables).
fn schema_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.match_indices("schema:").filter_map(|(at, key)| {
        if at > 0 && text.as_bytes()[at - 1] != b'\n' {
            return None;
        }
        let rest = &text[at + key.len()..];
        let value = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let value = value.split(" #").next().unwrap_or_default().trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        (!value.is_empty()).then_some((at, value))
    })
}

fn ignored(path: &Path, line: u32, schema: &str) -> LoadError {
    LoadError::new(
        Origin::new(path, line, if line == 0 { 0 } else { 1 }),
        format!(
            "this file describes schema {schema}, which --ignore-schema {schema} says never to \
             read or change"
        ),
    )
    .help(format!(
        "remove the file from the desired state, or stop ignoring {schema} to manage it"
    ))
}

/// Loads the desired state from in-memory files (path, content), in the given order.
pub fn from_sources(sources: &[(PathBuf, String)]) -> Result<Schema, LoadErrors> {
    from_sources_located(sources).map(|located| located.schema)
}

/// A loaded desired state and where its objects were declared.
#[derive(Debug)]
pub struct Located {
    /// What the YAML files declare.
    pub schema: Schema,
    pub origins: Origins,
    /// The statements of the `.sql` files, in file order; what they declare joins the model
    /// once they are built on the scratch server.
    pub sql: Vec<SqlStatement>,
}

/// The desired state's files once loaded, for what needs their text afterwards: the line
/// shown under an error, the key of a column a finding is placed at. Both are rare, so each
/// file is read again when first needed instead of every text being kept for the whole run
/// (15 MiB at 10,000 tables, alive at a plan's peak). A file changed since it was loaded is
/// not used (its hash differs): its lines would no longer match the positions found in it.
#[derive(Debug, Default)]
pub struct SourceFiles(Vec<SourceFile>);

#[derive(Debug)]
struct SourceFile {
    path: PathBuf,
    /// Of the text that was loaded, to know it is still the file's.
    hash: u64,
    text: std::sync::OnceLock<Option<String>>,
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl SourceFiles {
    /// Remembers which files were loaded, and what each held.
    pub fn remember(sources: &[(PathBuf, String)]) -> Self {
        Self(
            sources
                .iter()
                .map(|(path, text)| SourceFile {
                    path: path.clone(),
                    hash: text_hash(text),
                    text: std::sync::OnceLock::new(),
                })
                .collect(),
        )
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().map(|f| f.path.as_path())
    }

    /// The text of `path` as it was loaded: read again the first time, `None` when the file
    /// is gone, unreadable or changed since.
    pub fn text(&self, path: &Path) -> Option<&str> {
        let file = self.0.iter().find(|f| f.path == path)?;
        file.text
            .get_or_init(|| {
                std::fs::read_to_string(&file.path)
                    .ok()
                    .filter(|text| text_hash(text) == file.hash)
            })
            .as_deref()
    }

    /// Adds to each error located in one of the files the line it points at.
    fn show_lines(&self, errors: &mut [LoadError]) {
        let located: BTreeSet<std::sync::Arc<Path>> = errors
            .iter()
            .filter(|e| e.origin.line > 0)
            .map(|e| e.origin.file.clone())
            .collect();
        for path in self.paths().filter(|p| located.contains(*p)) {
            if let Some(text) = self.text(path) {
                error::with_source_lines(errors, path, text);
            }
        }
    }
}

/// Where each top-level object (table, type, sequence, extension) was declared; the parts of
/// a table are found on demand ([`Origins::locate`]), which keeps memory flat at 10,000
/// tables.
#[derive(Debug, Default)]
pub struct Origins(BTreeMap<ObjectId, Origin>);

impl Origins {
    /// Where `object` was written: a top-level object's own key; a column's key in its table;
    /// anything else of a table (a constraint or an index), its table's key.
    pub fn locate(&self, object: &ObjectId, sources: &SourceFiles) -> Option<Origin> {
        if let Some(origin) = self.0.get(object) {
            return Some(origin.clone());
        }
        let table = object.table()?;
        let at_table = self.0.get(&ObjectId::Table(table.clone()))?;
        if let ObjectId::Column { column, .. } = object
            && let Some(at_column) = column_origin(sources, at_table, table, column)
        {
            return Some(at_column);
        }
        Some(at_table.clone())
    }

    /// The origin of a type, whatever kind declared it (types share one namespace).
    fn type_origin(&self, object: &ObjectId) -> Option<&Origin> {
        match object {
            ObjectId::Domain(name) => self.0.get(&ObjectId::Type(name.clone())),
            _ => None,
        }
    }

    /// [`Origins::locate`], also for objects declared under another kind's identity (a
    /// domain is declared as a type).
    pub fn find(&self, object: &ObjectId, sources: &SourceFiles) -> Option<Origin> {
        self.locate(object, sources)
            .or_else(|| self.type_origin(object).cloned())
    }
}

/// The key of `column` in the declaration of `table` (in the file the table is declared in),
/// found by parsing that one file again.
fn column_origin(
    sources: &SourceFiles,
    at_table: &Origin,
    table: &crate::model::QualifiedName,
    column: &crate::model::Ident,
) -> Option<Origin> {
    let path = &*at_table.file;
    let spec = parse_file(path, sources.text(path)?).ok()?;
    let (_, table_spec) = spec
        .tables
        .0
        .iter()
        .find(|(name, _)| name.value == table.name.as_str())?;
    let (name, _) = table_spec
        .columns
        .as_ref()?
        .0
        .iter()
        .find(|(name, _)| name.value == column.as_str())?;
    Some(Origin::new(path, name.line, name.column))
}

/// Errors for objects PostgreSQL rejected, each at the place the object is declared, with the
/// server's words and what to do.
pub fn rejected(
    rejections: &[(ObjectId, String, Option<String>)],
    origins: &Origins,
    sources: &SourceFiles,
) -> LoadErrors {
    let mut errors: Vec<LoadError> = rejections
        .iter()
        .map(|(object, message, help)| {
            let origin = origins
                .find(object, sources)
                .unwrap_or_else(|| Origin::new(Path::new("(desired state)"), 0, 0));
            let error = LoadError::new(origin, format!("PostgreSQL rejects {object}: {message}"));
            match help {
                Some(help) => error.help(help.clone()),
                None => {
                    error.help("fix the desired state; nothing was planned or changed".to_owned())
                }
            }
        })
        .collect();
    sources.show_lines(&mut errors);
    LoadErrors(errors)
}

/// Objects a `.sql` statement declares that a YAML file or an earlier statement declares
/// already, each an error at the later place naming the first. Functions, procedures and
/// aggregates are told apart by argument types, which only the server resolves: their
/// duplicates are found when the statements are built.
fn declared_twice(
    yaml: &BTreeMap<ObjectId, Origin>,
    statements: &[SqlStatement],
) -> Vec<LoadError> {
    let mut seen: BTreeMap<ObjectId, Origin> = BTreeMap::new();
    let mut errors = Vec::new();
    for statement in statements {
        let Some(object) = statement
            .declares
            .as_ref()
            .and_then(|(what, _)| what.parse::<ObjectId>().ok())
        else {
            continue;
        };
        // Enums, domains and composites share one namespace of types.
        let as_type = match &object {
            ObjectId::Domain(name) => ObjectId::Type(name.clone()),
            other => other.clone(),
        };
        let first = yaml
            .get(&object)
            .or_else(|| yaml.get(&as_type))
            .or_else(|| seen.get(&as_type))
            .cloned();
        match first {
            Some(first) => errors.push(
                LoadError::new(
                    statement.origin(),
                    format!("{object} is declared twice (first at {first})"),
                )
                .help("keep one of the two declarations"),
            ),
            None => {
                seen.insert(as_type, statement.origin());
            }
        }
    }
    errors
}

/// Errors at given places of the desired state's files (a statement of a `.sql` file, say).
pub fn at_statements(errors: &[(Origin, String, String)], sources: &SourceFiles) -> LoadErrors {
    let mut errors: Vec<LoadError> = errors
        .iter()
        .map(|(origin, message, help)| {
            LoadError::new(origin.clone(), message.clone()).help(help.clone())
        })
        .collect();
    sources.show_lines(&mut errors);
    LoadErrors(errors)
}

/// [`from_sources`], with where each object was declared.
pub fn from_sources_located(sources: &[(PathBuf, String)]) -> Result<Located, LoadErrors> {
    let mut errors = Vec::new();
    let mut build = resolve::Build::new();
    let mut statements = Vec::new();
    for (path, text) in sources {
        if sql::is_sql(path) {
            match sql::statements(path, text) {
                Ok(found) => statements.extend(found),
                Err(found) => errors.extend(found),
            }
            continue;
        }
        match parse_file(path, text) {
            // After a parse error only parse errors are reported; resolving stops.
            Ok(spec) if errors.is_empty() => build.add(resolve::ParsedFile {
                path: path.clone(),
                spec,
            }),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        build.declare_types_from_sql(statements.iter().filter_map(SqlStatement::type_declared));
        match build.finish() {
            Ok((mut schema, mut declared)) => {
                errors = sql::absorb(&mut schema, &mut declared, &mut statements);
                errors.extend(declared_twice(&declared, &statements));
                if errors.is_empty() {
                    // The schemas SQL statements put objects in are part of the desired state.
                    schema.schemas.extend(
                        statements
                            .iter()
                            .filter_map(|s| s.schema_declared())
                            .map(|schema| crate::model::Ident::from_catalog(schema.to_owned())),
                    );
                    return Ok(Located {
                        schema,
                        origins: Origins(declared),
                        sql: statements,
                    });
                }
                errors.sort_by(|a, b| {
                    (&a.origin.file, a.origin.line, a.origin.column).cmp(&(
                        &b.origin.file,
                        b.origin.line,
                        b.origin.column,
                    ))
                });
            }
            Err(found) => errors = found,
        }
    }
    for (path, text) in sources {
        error::with_source_lines(&mut errors, path, text);
    }
    Err(LoadErrors(errors))
}

fn parse_file(path: &Path, text: &str) -> Result<format::FileSpec, LoadError> {
    if text
        .trim()
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(LoadError::new(Origin::new(path, 0, 0), "the file is empty")
            .help("add `tables:` (and other sections) to it, or delete the file"));
    }
    parse_with_budget(path, text, budget_for(text))
}

/// The parser's safety budget for a file of this size. The desired state is the user's own
/// file, not untrusted input, so the limits that only count what is written (nodes, events,
/// scalar bytes) grow with it, past anything the text can hold: about one node per byte at
/// most (`{a: b}` is 3 nodes in 6 bytes; contrived flow forms such as `[:,:]` reach 1.5, and
/// 2 events per byte). A 10,000-table `pull` writes one file of over a million nodes, past
/// serde-saphyr's default of 250,000. What guards against pathological input stays fixed:
/// nesting depth, the number of anchors and aliases, the alias/anchor ratio and alias replay
/// (where an alias bomb is stopped).
fn budget_for(text: &str) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    // The stream and document start and end events come on top of the text's own.
    let bytes = text.len().saturating_add(16);
    budget.max_nodes = budget.max_nodes.max(bytes.saturating_mul(2));
    budget.max_events = budget.max_events.max(bytes.saturating_mul(4));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(bytes);
    budget
}

fn parse_with_budget(
    path: &Path,
    text: &str,
    budget: serde_saphyr::Budget,
) -> Result<format::FileSpec, LoadError> {
    // Comments carry no meaning in the desired state: serde-saphyr is built without its
    // `comments` feature, whose capture cost a fifth of the parse.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: Some(budget.clone()),
    };
    serde_saphyr::from_str_with_options::<format::FileSpec>(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
        let origin = Origin::new(path, line, column);
        if let Some(message) = budget_breach(&e, &budget, text.len()) {
            return LoadError::new(origin, message).help(
                "the limit guards against pathological YAML such as alias bombs; check the \
                 file for runaway anchors (&name) and aliases (*name) or nesting",
            );
        }
        let message = yaml_message(&e);
        // A bracket or quote left open: the parser stopped later, at a symptom.
        if let Some(open) = syntax::first_unclosed(text)
            && (line == 0 || (open.line, open.column) <= (line, column))
        {
            let help = if (open.line, open.column) == (line, column) {
                format!("the YAML parser says: {message}")
            } else if line == 0 {
                format!("the YAML parser read on to the end of the file: {message}")
            } else {
                format!(
                    "the YAML parser read on past it and stopped at line {line}, column \
                     {column}: {message}"
                )
            };
            return LoadError::new(Origin::new(path, open.line, open.column), open.describe())
                .help(help);
        }
        if is_syntax(&e) {
            return LoadError::new(origin, format!("YAML syntax error: {message}")).help(
                "the text is not valid YAML here: check the indentation (the keys of one \
                 mapping line up, nested ones are indented further, with spaces) and the \
                 brackets and quotes",
            );
        }
        LoadError::new(origin, message)
            .help("see the desired-state format in docs/schema-format.md")
    })
}

/// The error itself, inside the wrappers that add a snippet or an alias's location.
fn original(mut e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = e
    {
        e = error;
    }
    e
}

/// Whether the YAML parser itself (not the desired-state format) rejected the text: the
/// structure is wrong, not a value.
fn is_syntax(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    match original(e) {
        E::ExternalMessage { source, .. } => {
            matches!(**source, serde_saphyr::ExternalMessageSource::Parser(_))
        }
        E::Eof { .. } | E::IndentationError { .. } => true,
        _ => false,
    }
}

/// Which of the parser's safety limits a file hit, with the limit, in words.
fn budget_breach(
    e: &serde_saphyr::Error,
    budget: &serde_saphyr::Budget,
    bytes: usize,
) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    let serde_saphyr::Error::Budget { breach, .. } = original(e) else {
        return None;
    };
    // The limits that grow with the file say so; the fixed ones do not.
    let sized = |what: String, limit: usize| {
        format!("{what}, over the limit of {limit} for this {bytes}-byte file")
    };
    let fixed = |what: String, limit: usize| format!("{what}, over the limit of {limit}");
    let what = match breach {
        B::Nodes { nodes } => sized(format!("{nodes} YAML nodes"), budget.max_nodes),
        B::Events { events } => sized(format!("{events} parser events"), budget.max_events),
        B::ScalarBytes { total_scalar_bytes } => sized(
            format!("{total_scalar_bytes} bytes of scalar text"),
            budget.max_total_scalar_bytes,
        ),
        B::Depth { depth } => fixed(format!("nesting {depth} levels deep"), budget.max_depth),
        B::Aliases { aliases } => fixed(format!("{aliases} aliases (*name)"), budget.max_aliases),
        B::Anchors { anchors } => fixed(format!("{anchors} anchors (&name)"), budget.max_anchors),
        B::Documents { documents } => fixed(format!("{documents} documents"), budget.max_documents),
        B::AliasAnchorRatio { aliases, anchors } => format!(
            "{aliases} aliases (*name) for {anchors} anchor(s) (&name), more than {} per anchor",
            budget.alias_anchor_ratio_multiplier
        ),
        B::RecordedAnchorEvents {
            recorded_anchor_events,
        } => fixed(
            format!("{recorded_anchor_events} events kept for anchors (&name)"),
            budget.max_recorded_anchor_events,
        ),
        B::RecordedAnchorBytes {
            recorded_anchor_bytes,
        } => fixed(
            format!("{recorded_anchor_bytes} bytes kept for anchors (&name)"),
            budget.max_recorded_anchor_bytes,
        ),
        other => format!("{other:?}"),
    };
    Some(format!("the YAML parser's safety limit was hit: {what}"))
}

/// serde-saphyr's message without its own position prefix (we print file:line:col).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest,
        _ => first,
    };
    // The position is printed on its own line; drop the copy at the end of the message.
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => &message[..i],
        _ => message,
    };
    message
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
        .replace(
            "; use from_str_multiple or from_str_multiple_with_options",
            "",
        )
}

fn single(origin: Origin, message: String) -> LoadErrors {
    LoadErrors(vec![LoadError::new(origin, message)])
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadErrors> {
    if dir.is_file() {
        return if is_yaml(dir) || sql::is_sql(dir) {
            Ok(vec![dir.to_owned()])
        } else {
            Err(LoadErrors(vec![
                LoadError::new(Origin::new(dir, 0, 0), "not a .yaml or .yml file").help(
                    "point --schema-dir at a desired-state YAML file or at the folder that \
                     holds them",
                ),
            ]))
        };
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| {
            LoadErrors(vec![
                LoadError::new(
                    Origin::new(&current, 0, 0),
                    format!("cannot read the desired-state folder: {e}"),
                )
                .help(
                    "--schema-dir (default `schema`) names the folder of desired-state YAML \
                     files, or one such file",
                ),
            ])
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if is_yaml(&path) || sql::is_sql(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(LoadErrors(vec![
            LoadError::new(Origin::new(dir, 0, 0), "no .yaml, .yml or .sql files found").help(
                "point --schema-dir at the folder (or the file) that holds your desired-state YAML",
            ),
        ]));
    }
    Ok(files)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::from_sources;

    fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    /// The guess is each file's top-level `schema:` line (quoted or not, a comment after it),
    /// else `public`; an indented `schema:` belongs to something else.
    #[test]
    fn the_schema_hint_reads_top_level_schema_lines_only() {
        let sources = files(&[
            ("a.yaml", "schema: sales # the shop\ntables: {}\n"),
            (
                "b.yaml",
                "# no schema line\ntables:\n  t:\n    schema: nested\n",
            ),
            ("c.yaml", "tables: {}\nschema: \"Quoted One\"\r\n"),
            ("d.yaml", "schema: 'single'"),
            ("e.yaml", "x: 1\nmyschema: no\n"),
        ]);
        let hint: Vec<String> = super::schema_names_hint(&sources).into_iter().collect();
        assert_eq!(hint, ["Quoted One", "public", "sales", "single"]);
    }

    /// A file for an ignored schema is refused at its `schema:` line.
    #[test]
    fn a_file_for_an_ignored_schema_is_refused_at_its_schema_line() {
        let sources = files(&[
            ("keep.yaml", "schema: app\n"),
            ("auth.yaml", "# Supabase's\n\ntables: {}\nschema: auth\n"),
        ]);
        let errors =
            super::reject_ignored(&sources, &["auth".to_owned()]).expect_err("auth is ignored");
        let [error] = errors.0.as_slice() else {
            panic!("one error: {errors:?}");
        };
        assert_eq!(*error.origin.file, *std::path::Path::new("auth.yaml"));
        assert_eq!(error.origin.line, 4);
        assert!(super::reject_ignored(&sources, &["other".to_owned()]).is_ok());
    }

    /// Files are resolved one by one as they are parsed; a column may still use a type that a
    /// later file declares, in its own schema or in `public`.
    #[test]
    fn a_column_may_use_a_type_declared_in_a_later_file() {
        let split = files(&[
            (
                "a_tables.yaml",
                "schema: app\ntables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n      \
                 mood: { type: mood, not_null: true }\n      moods: \"mood[]\"\n      code: code\n      \
                 shared: status\n",
            ),
            (
                "b_types.yaml",
                "schema: app\nenums:\n  mood: [sad, happy]\ndomains:\n  code: { type: varchar(8) }\n",
            ),
            ("c_public.yaml", "enums:\n  status: [on, off]\n"),
        ]);
        let schema = from_sources(&split).unwrap_or_else(|e| panic!("{e}"));
        let table = &schema.tables.values().next().expect("one table");
        let types: Vec<&str> = table.columns.iter().map(|c| c.data_type.as_str()).collect();
        assert_eq!(
            types,
            ["bigint", "app.mood", "app.mood[]", "app.code", "status"]
        );

        // The same as with every type declared first, in one file.
        let together = files(&[
            (
                "all.yaml",
                "schema: app\nenums:\n  mood: [sad, happy]\ndomains:\n  code: { type: varchar(8) }\n\
             tables:\n  t:\n    columns:\n      id: { type: bigint, primary_key: true }\n      \
             mood: { type: mood, not_null: true }\n      moods: \"mood[]\"\n      code: code\n      \
             shared: status\n",
            ),
            ("c_public.yaml", "enums:\n  status: [on, off]\n"),
        ]);
        assert_eq!(
            from_sources(&together).unwrap_or_else(|e| panic!("{e}")),
            schema
        );
    }

    /// What `pull` writes at 10,000 tables (1.3 million nodes in one file) once failed with
    /// "budget breached: Nodes { nodes: 250001 }": the budget now grows with the file. Here
    /// a lowered budget shows the message a breach gives — which limit, and its value.
    #[test]
    fn a_budget_breach_names_the_limit_it_hit() {
        let text = "tables:\n  t:\n    columns:\n      a: bigint\n      b: text\n      c: text\n";
        let mut budget = serde_saphyr::Budget::default();
        budget.max_nodes = 8;
        let error = super::parse_with_budget(std::path::Path::new("t.yaml"), text, budget)
            .expect_err("over the lowered budget");
        assert!(
            error.message.starts_with(
                "the YAML parser's safety limit was hit: 9 YAML nodes, over the limit of 8"
            ),
            "{error}"
        );
        assert!(
            error.help.as_deref().unwrap_or_default().contains("alias"),
            "{error}"
        );
        // The budget a file gets is sized to it: the same text loads.
        assert!(
            super::parse_with_budget(
                std::path::Path::new("t.yaml"),
                text,
                super::budget_for(text)
            )
            .is_ok()
        );
    }

    /// A file larger than serde-saphyr's default budget (250,000 nodes) loads.
    #[test]
    fn a_file_past_the_default_node_budget_loads() {
        let mut text = String::from("tables:\n");
        for t in 0..10_000 {
            text.push_str(&format!("  t{t}:\n    columns:\n"));
            for c in 0..12 {
                text.push_str(&format!("      c{c}: {{ type: bigint, not_null: true }}\n"));
            }
        }
        let schema = from_sources(&files(&[("big.yaml", &text)])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema.tables.len(), 10_000);
    }

    /// Alias bombs stay bounded: aliases many times the anchors are refused, naming the limit.
    #[test]
    fn an_alias_bomb_is_refused_with_the_limit_it_hit() {
        let mut text = String::from(
            "tables:\n  t:\n    columns:\n      id: bigint\n    unique:\n      - &l [id, id, id, id, id, id, id, id]\n",
        );
        for _ in 0..200 {
            text.push_str("      - *l\n");
        }
        let errors = from_sources(&files(&[("bomb.yaml", &text)])).expect_err("refused");
        let message = &errors.0[0].message;
        assert!(
            message.contains("safety limit was hit: 200 aliases (*name) for 1 anchor(s) (&name), more than 10 per anchor"),
            "{errors}"
        );
    }

    /// Errors come in file, line and column order, whichever pass found them.
    #[test]
    fn errors_are_ordered_by_file_and_line() {
        let broken = files(&[
            (
                "a.yaml",
                "tables:\n  t:\n    columns:\n      a: moood\n      b: { type: bigint, references: nowhere }\n",
            ),
            (
                "b.yaml",
                "enums:\n  mood: [sad, sad]\ntables:\n  u:\n    columns:\n      c: txt\n",
            ),
        ]);
        let errors = from_sources(&broken).expect_err("three problems").0;
        let positions: Vec<(String, u32)> = errors
            .iter()
            .map(|e| (e.origin.file.display().to_string(), e.origin.line))
            .collect();
        assert_eq!(
            positions,
            [
                ("a.yaml".to_owned(), 4),
                ("a.yaml".to_owned(), 5),
                ("b.yaml".to_owned(), 2),
                ("b.yaml".to_owned(), 6),
            ],
            "{errors:#?}"
        );
        assert!(
            errors[0].message.contains("unknown type `moood`"),
            "{errors:#?}"
        );
        assert!(
            errors[0]
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("mood"),
            "{errors:#?}"
        );
    }

    /// What a plan keeps of the files is read again on demand, as loaded; a file changed
    /// since is not used (its positions no longer match).
    #[test]
    fn source_files_are_read_again_only_as_they_were_loaded() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("a.yaml");
        let text = "tables:\n  t:\n    columns:\n      id: bigint\n";
        std::fs::write(&path, text).expect("write");
        let loaded = vec![(path.clone(), text.to_owned())];

        let files = super::SourceFiles::remember(&loaded);
        assert_eq!(files.paths().collect::<Vec<_>>(), vec![path.as_path()]);
        assert_eq!(files.text(&path), Some(text));
        assert_eq!(files.text(&dir.path().join("other.yaml")), None);

        std::fs::write(&path, "tables: {}\n").expect("rewrite");
        let changed = super::SourceFiles::remember(&loaded);
        assert_eq!(changed.text(&path), None, "a changed file is not shown");
        // Read once: what was shown stays consistent for the rest of the run.
        assert_eq!(files.text(&path), Some(text));
    }
}
