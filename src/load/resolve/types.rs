//! Column types: aliases to canonical text, user types resolved against the desired state.

use crate::ident::QualifiedName;
use crate::model::Ident;
use crate::normalise::{BUILTIN_TYPES, normalise_type, user_type_text};

use super::super::error::{LoadError, Origin};
use super::Resolver;

/// Types that well-known extensions add, so a declared extension makes them valid (every
/// `CREATE TYPE` of the extension's scripts in PostgreSQL 15's contrib).
const EXTENSION_TYPES: &[(&str, &[&str])] = &[
    ("citext", &["citext"]),
    ("hstore", &["hstore", "ghstore"]),
    ("ltree", &["ltree", "lquery", "ltxtquery", "ltree_gist"]),
    ("cube", &["cube"]),
    ("seg", &["seg"]),
    (
        "isn",
        &[
            "ean13", "isbn", "isbn13", "ismn", "ismn13", "issn", "issn13", "upc",
        ],
    ),
    ("vector", &["vector", "halfvec", "sparsevec"]),
    ("postgis", &["geometry", "geography", "box2d", "box3d"]),
    ("pg_trgm", &["gtrgm"]),
    ("pgcrypto", &[]),
    ("uuid-ossp", &[]),
    ("btree_gin", &[]),
    (
        "btree_gist",
        &[
            "gbtreekey2",
            "gbtreekey4",
            "gbtreekey8",
            "gbtreekey16",
            "gbtreekey32",
            "gbtreekey_var",
        ],
    ),
    ("fuzzystrmatch", &[]),
    ("unaccent", &[]),
    ("pgstattuple", &[]),
    ("pg_stat_statements", &[]),
    (
        "tablefunc",
        &[
            "tablefunc_crosstab_2",
            "tablefunc_crosstab_3",
            "tablefunc_crosstab_4",
        ],
    ),
    ("intarray", &["query_int", "intbig_gkey"]),
];

/// Spellings people reach for, offered in "did you mean" hints alongside the built-ins.
const COMMON_SPELLINGS: &[&str] = &[
    "int",
    "bigint",
    "smallint",
    "text",
    "varchar",
    "timestamptz",
    "timestamp",
    "bool",
    "serial",
    "bigserial",
    "jsonb",
    "uuid",
    "numeric",
    "date",
];

/// A column type that may name a user type declared in a file not resolved yet.
pub(super) struct DeferredType {
    table: QualifiedName,
    /// The column's position in the table.
    index: usize,
    text: String,
    origin: Origin,
}

impl Resolver {
    /// The type of column `index` of `table`. Built-in types (nearly all) resolve at once; a
    /// name that may be a user type keeps its normalised text until
    /// [`Self::resolve_deferred_types`], when every file's types are known.
    pub(super) fn column_type(
        &mut self,
        text: &str,
        table: &QualifiedName,
        index: usize,
        origin: &Origin,
    ) -> Option<String> {
        let spec = match normalise_type(text) {
            Ok(spec) => spec,
            // Reported by resolve_type, with its help.
            Err(_) => return self.resolve_type(text, &table.schema, origin),
        };
        if spec.user_type.is_some() {
            self.deferred_types.push(DeferredType {
                table: table.clone(),
                index,
                text: text.to_owned(),
                origin: origin.clone(),
            });
        }
        Some(spec.text)
    }

    pub(super) fn resolve_deferred_types(&mut self) {
        for deferred in std::mem::take(&mut self.deferred_types) {
            let resolved =
                self.resolve_type(&deferred.text, &deferred.table.schema, &deferred.origin);
            let column = self
                .schema
                .tables
                .get_mut(&deferred.table)
                .and_then(|t| t.columns.get_mut(deferred.index));
            if let (Some(resolved), Some(column)) = (resolved, column) {
                column.data_type = resolved.into();
            }
        }
    }

    /// The canonical text of a column or domain type declared in `schema`.
    pub(crate) fn resolve_type(
        &mut self,
        text: &str,
        schema: &Ident,
        origin: &Origin,
    ) -> Option<String> {
        let spec = match normalise_type(text) {
            Ok(spec) => spec,
            Err(e) => {
                self.error(LoadError::new(origin.clone(), e.to_string()).help(
                    "write a PostgreSQL type such as `text`, `varchar(255)`, `numeric(12,2)` or `integer[]`",
                ));
                return None;
            }
        };
        let Some((type_schema, name)) = &spec.user_type else {
            return Some(spec.text);
        };
        let suffix = spec
            .text
            .find('(')
            .map(|i| spec.text[i..].to_owned())
            .unwrap_or_else(|| {
                if spec.is_array {
                    "[]".into()
                } else {
                    String::new()
                }
            });
        let candidates: Vec<QualifiedName> = match type_schema {
            Some(s) => vec![qualified(s, name)],
            None => vec![qualified(schema.as_str(), name), qualified("public", name)],
        };
        if let Some(found) = candidates.iter().find(|c| self.user_types.contains(c)) {
            let text = user_type_text(found.schema.as_str(), found.name.as_str());
            return Some(format!("{text}{suffix}"));
        }
        if let Some(type_schema) = type_schema
            && !self
                .schema
                .schemas
                .iter()
                .any(|s| s.as_str() == type_schema)
        {
            // A type of a schema this desired state does not describe (an ignored one, or
            // another team's): it cannot be checked here, as a foreign key to a table there
            // cannot (`resolve_references`); the server checks it.
            return Some(spec.text);
        }
        if self.extension_provides(name) {
            return Some(spec.text);
        }
        let mut error = LoadError::new(origin.clone(), format!("unknown type `{text}`"));
        error = match suggestion(name, self.user_types.iter().map(|t| t.name.as_str())) {
            Some(s) => error.help(format!("did you mean `{s}`?")),
            None => error.help(
                "use a PostgreSQL type, or declare it under `enums:`/`domains:`, or list the extension that provides it under `extensions:`",
            ),
        };
        self.error(error);
        None
    }

    fn extension_provides(&self, type_name: &str) -> bool {
        self.schema.extensions.keys().any(|ext| {
            match EXTENSION_TYPES
                .iter()
                .find(|(name, _)| *name == ext.as_str())
            {
                Some((_, types)) => types.contains(&type_name),
                // An extension we know nothing about may add any type; the server decides.
                None => true,
            }
        })
    }
}

fn qualified(schema: &str, name: &str) -> QualifiedName {
    QualifiedName::new(
        Ident::from_catalog(schema.to_owned()),
        Ident::from_catalog(name.to_owned()),
    )
}

/// The closest known type name, if it is close enough to be a typo.
fn suggestion<'a>(name: &str, user_types: impl Iterator<Item = &'a str>) -> Option<String> {
    let known = BUILTIN_TYPES
        .iter()
        .copied()
        .chain(COMMON_SPELLINGS.iter().copied())
        .chain(user_types);
    // On equal distance, prefer a candidate the input is a subsequence of: a typo that
    // dropped a letter (`timestampz`) is likelier than one that added one.
    known
        .map(|k| (edit_distance(name, k), !is_subsequence(name, k), k))
        .filter(|(d, _, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, _, k)| k.to_owned())
}

fn is_subsequence(needle: &str, haystack: &str) -> bool {
    let mut rest = haystack.chars();
    needle.chars().all(|c| rest.any(|h| h == c))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggestion("txt", std::iter::empty()), Some("text".into()));
        assert_eq!(
            suggestion("jsonbb", std::iter::empty()),
            Some("jsonb".into())
        );
        assert_eq!(
            suggestion("timestampz", std::iter::empty()),
            Some("timestamptz".into())
        );
        assert_eq!(suggestion("completely_different", std::iter::empty()), None);
    }
}
