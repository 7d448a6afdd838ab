//! YAML desired state → [`Schema`].
//!
//! Reads every `.yaml`/`.yml` file under a folder (sorted by path, so the result never depends
//! on directory order), parses each strictly (unknown keys, duplicate keys, tabs and wrong
//! shapes are errors with a position), then resolves them together so that duplicates and
//! references across files are caught. Nothing here touches a database.

pub(crate) mod error;
pub(crate) mod format;
pub(crate) mod resolve;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use error::{LoadError, LoadErrors, Origin};

use crate::model::Schema;

/// Loads the desired state from `dir` (recursively).
pub fn from_dir(dir: &Path) -> Result<Schema, LoadErrors> {
    from_sources(&read_dir(dir)?)
}

/// The `.yaml`/`.yml` files under `dir` (path, content), sorted by path: what
/// [`from_sources`] loads.
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
        let named = text.lines().filter_map(|line| {
            let value = line.strip_prefix("schema:")?;
            let value = value.split(" #").next().unwrap_or_default().trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (!value.is_empty()).then(|| value.to_owned())
        });
        let mut found = false;
        for name in named {
            found = true;
            names.insert(name);
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
        for (i, line) in text.lines().enumerate() {
            let Some(value) = line.strip_prefix("schema:") else {
                continue;
            };
            named = true;
            let value = value.split(" #").next().unwrap_or_default().trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            if ignore.iter().any(|s| s == value) {
                errors.push(ignored(path, i as u32 + 1, value));
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
    let mut errors = Vec::new();
    let mut build = resolve::Build::new();
    for (path, text) in sources {
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
        match build.finish() {
            Ok(schema) => return Ok(schema),
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
    // Comments carry no meaning in the desired state: serde-saphyr is built without its
    // `comments` feature, whose capture cost a fifth of the parse.
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<format::FileSpec>(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
        LoadError::new(Origin::new(path, line, column), yaml_message(&e))
            .help("see the desired-state format in docs/schema-format.md")
    })
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
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| {
            single(
                Origin::new(&current, 0, 0),
                format!("cannot read the desired-state folder: {e}"),
            )
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(LoadErrors(vec![
            LoadError::new(Origin::new(dir, 0, 0), "no .yaml or .yml files found")
                .help("point --schema at the folder that holds your desired-state YAML"),
        ]));
    }
    Ok(files)
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
}
