//! Where a fleet's targets come from, and which of them a run takes.
//!
//! A targets file (TOML) lists each target by name, with where its connection comes from —
//! the name of an environment variable holding its URL, or a libpq service name
//! (`pg_service.conf`) — and tags to select by. A URL is never written in the file: it is a
//! secret, kept where secrets are kept. The CLI adds the environments of `reconcile.toml` and
//! discovery (every database of a server, every tenant schema of a database) as other sources
//! of the same [`Target`]s. Errors name the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// One database (or one tenant schema of one) to audit or apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Unique in the fleet; names the target in reports and decides its shard.
    pub name: String,
    pub tags: Vec<String>,
    pub source: Source,
    /// Tenant mode: the schema that stands for the desired state's template schema.
    pub schema: Option<String>,
    /// Where the target was declared (`targets.toml:12`, `reconcile.toml:8 [env.prod]`,
    /// `--databases`), for messages.
    pub origin: String,
}

/// How to connect to a target. Never a URL with its password: reports and messages show this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The URL is in this environment variable, read when connecting.
    UrlEnv(String),
    /// A libpq service name, looked up in the service file when connecting.
    Service(String),
    /// A database discovered on the `--database-url` server.
    Database(String),
    /// The `--database-url` database itself (tenant schemas).
    Server,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::UrlEnv(var) => write!(f, "${var}"),
            Source::Service(name) => write!(f, "service={name}"),
            Source::Database(name) => write!(f, "database {name} of --database-url's server"),
            Source::Server => f.write_str("--database-url"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    #[error(
        "no target matches the selection ({selection}); {available} target(s) were listed — \
         `reconcile fleet targets` shows them"
    )]
    NoneSelected { selection: String, available: usize },
    #[error(
        "libpq service {name:?}: {message} (services are read from $PGSERVICEFILE or \
         ~/.pg_service.conf, then $PGSYSCONFDIR/pg_service.conf)"
    )]
    Service { name: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    target: Vec<Spanned<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Spanned<String>,
    url_env: Option<Spanned<String>>,
    service: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    /// Refused with a message saying where URLs go.
    url: Option<Spanned<toml::Value>>,
}

/// Reads a targets file:
///
/// ```toml
/// [[target]]
/// name = "eu-1"
/// url_env = "EU1_DATABASE_URL"   # the variable holding its URL
/// tags = ["eu", "prod"]
///
/// [[target]]
/// name = "us-1"
/// service = "us1"                # a libpq service (pg_service.conf)
/// ```
pub fn read_file(path: &Path) -> Result<Vec<Target>, TargetError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// [`read_file`] on text already read (`shown` is the file's name in messages).
pub fn parse(text: &str, shown: &str) -> Result<Vec<Target>, TargetError> {
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let at = |span: std::ops::Range<usize>| format!("{shown}:{}", line(span.start));
    let file: File = toml::from_str(text).map_err(|e| TargetError::Invalid {
        at: match e.span() {
            Some(span) => at(span),
            None => shown.to_owned(),
        },
        message: e.message().trim().to_owned(),
    })?;
    if file.target.is_empty() {
        return Err(TargetError::Invalid {
            at: shown.to_owned(),
            message: "no targets: add one [[target]] table per database, with name and \
                      url_env (or service)"
                .to_owned(),
        });
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for entry in &file.target {
        let here = at(entry.span());
        let entry = entry.get_ref();
        let invalid = |span: std::ops::Range<usize>, message: String| TargetError::Invalid {
            at: at(span),
            message,
        };
        if let Some(url) = &entry.url {
            return Err(invalid(
                url.span(),
                "a URL is never written in the targets file (it holds a password): put it in an \
                 environment variable and name that with url_env = \"VARIABLE\", or use a \
                 libpq service = \"NAME\""
                    .to_owned(),
            ));
        }
        let name = entry.name.get_ref();
        check_name(name).map_err(|m| invalid(entry.name.span(), m))?;
        if let Some(first) = seen.insert(name.clone(), at(entry.name.span())) {
            return Err(invalid(
                entry.name.span(),
                format!("target {name:?} is listed twice (first at {first}): names must be unique"),
            ));
        }
        let source = match (&entry.url_env, &entry.service) {
            (Some(var), None) => {
                let v = var.get_ref();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(invalid(
                        var.span(),
                        format!(
                            "url_env = {v:?}: expected the name of an environment variable \
                             (letters, digits, _), not its value"
                        ),
                    ));
                }
                Source::UrlEnv(v.clone())
            }
            (None, Some(service)) => Source::Service(service.get_ref().clone()),
            (Some(_), Some(service)) => {
                return Err(invalid(
                    service.span(),
                    format!("target {name:?} has both url_env and service: keep one"),
                ));
            }
            (None, None) => {
                return Err(TargetError::Invalid {
                    at: here,
                    message: format!(
                        "target {name:?} says nothing about how to connect: add url_env = \
                         \"VARIABLE\" (the variable holding its URL) or service = \"NAME\""
                    ),
                });
            }
        };
        out.push(Target {
            name: name.clone(),
            tags: entry.tags.clone(),
            source,
            schema: None,
            origin: at(entry.name.span()),
        });
    }
    Ok(out)
}

/// Target names end up in file names, job names and report keys: keep them plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if plain {
        Ok(())
    } else {
        Err(format!(
            "target name {name:?}: use 1 to 128 letters, digits, '.', '_', '-' or '/'"
        ))
    }
}

/// Which targets a run takes: names matching any `--select` pattern (all when none), having
/// any `--tag` (all when none). An empty result is an error: a typo must not audit nothing
/// and exit 0.
pub fn select(
    targets: Vec<Target>,
    names: &[glob::Pattern],
    tags: &[String],
) -> Result<Vec<Target>, TargetError> {
    let available = targets.len();
    let chosen: Vec<Target> = targets
        .into_iter()
        .filter(|t| names.is_empty() || names.iter().any(|p| p.matches(&t.name)))
        .filter(|t| tags.is_empty() || t.tags.iter().any(|tag| tags.contains(tag)))
        .collect();
    if chosen.is_empty() {
        let mut selection: Vec<String> = names
            .iter()
            .map(|p| format!("--select {}", p.as_str()))
            .collect();
        selection.extend(tags.iter().map(|t| format!("--tag {t}")));
        if selection.is_empty() {
            selection.push("everything".to_owned());
        }
        return Err(TargetError::NoneSelected {
            selection: selection.join(" "),
            available,
        });
    }
    Ok(chosen)
}

/// The service files libpq reads, in its order: the user's, then the system's.
fn service_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    match std::env::var_os("PGSERVICEFILE") {
        Some(file) if !file.is_empty() => files.push(PathBuf::from(file)),
        _ => {
            if let Some(home) = std::env::var_os("HOME") {
                files.push(PathBuf::from(home).join(".pg_service.conf"));
            }
        }
    }
    if let Some(dir) = std::env::var_os("PGSYSCONFDIR") {
        files.push(PathBuf::from(dir).join("pg_service.conf"));
    } else {
        files.push(PathBuf::from("/etc/postgresql-common/pg_service.conf"));
    }
    files
}

/// The keywords of libpq service `name` (`host`, `port`, `dbname`, `user`, `password`,
/// `sslmode`, ...) from the first service file that defines it.
pub fn service(name: &str) -> Result<BTreeMap<String, String>, TargetError> {
    for file in service_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(found) = service_in(&text, name).map_err(|message| TargetError::Service {
            name: name.to_owned(),
            message: format!("{}: {message}", file.display()),
        })? {
            return Ok(found);
        }
    }
    Err(TargetError::Service {
        name: name.to_owned(),
        message: "no service file defines it".to_owned(),
    })
}

/// Service `name` in the text of a service file (INI: `[name]`, then `key=value` lines).
fn service_in(text: &str, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let mut current: Option<&str> = None;
    let mut found: Option<BTreeMap<String, String>> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if found.is_some() {
                break;
            }
            current = Some(section.trim());
            if current == Some(name) {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key=value", number + 1));
        };
        if current == Some(name)
            && let Some(keys) = &mut found
        {
            keys.insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[target]]
name = "eu-1"
url_env = "EU1_URL"
tags = ["eu", "prod"]

[[target]]
name = "us-1"
service = "us1"
tags = ["us"]
"#;

    #[test]
    fn a_targets_file_lists_names_sources_and_tags() {
        let targets = parse(FILE, "targets.toml").expect("valid");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].source, Source::UrlEnv("EU1_URL".into()));
        assert_eq!(targets[0].origin, "targets.toml:3");
        assert_eq!(targets[1].source, Source::Service("us1".into()));
        let eu = select(targets.clone(), &[], &["eu".to_owned()]).expect("one");
        assert_eq!(eu.len(), 1);
        let pattern = glob::Pattern::new("us-*").expect("glob");
        assert_eq!(
            select(targets.clone(), &[pattern], &[]).expect("one")[0].name,
            "us-1"
        );
        let e = select(targets, &[], &["asia".to_owned()]).expect_err("none");
        assert!(e.to_string().contains("--tag asia"), "{e}");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "[[target]]\nname = \"a\"\nurl = \"postgres://u:pw@h/db\"\n",
                "targets.toml:3",
                "never written",
            ),
            (
                "[[target]]\nname = \"a\"\nurl_env = \"X\"\n[[target]]\nname = \"a\"\nurl_env = \"Y\"\n",
                "targets.toml:5",
                "listed twice",
            ),
            ("[[target]]\nname = \"a\"\n", "targets.toml:1", "url_env"),
            (
                "[[target]]\nname = \"a\"\nurl_env = \"X\"\ntagz = []\n",
                "targets.toml:4",
                "unknown field",
            ),
            (
                "[[target]]\nname = \"a b\"\nurl_env = \"X\"\n",
                "targets.toml:2",
                "target name",
            ),
            (
                "[[target]]\nname = \"a\"\nurl_env = \"postgres://h/db\"\n",
                "targets.toml:3",
                "not its value",
            ),
            ("", "targets.toml", "no targets"),
        ];
        for (text, at, words) in cases {
            let e = parse(text, "targets.toml").expect_err(text).to_string();
            assert!(e.starts_with(&format!("{at}:")), "{text}: {e}");
            assert!(e.contains(words), "{text}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
    }

    #[test]
    fn service_files_are_read_like_libpq() {
        let text = "# comment\n[other]\nhost=x\n[us1]\nhost = db.example\nport=5433\ndbname=app\n";
        let found = service_in(text, "us1").expect("parses").expect("found");
        assert_eq!(found["host"], "db.example");
        assert_eq!(found["port"], "5433");
        assert_eq!(service_in(text, "nope").expect("parses"), None);
        assert!(service_in("[a]\nnonsense\n", "a").is_err());
    }
}
