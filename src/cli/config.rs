//! `reconcile.toml`: the project's settings, so that a CI job, a deploy job and a person at a
//! terminal run the same command without repeating its options, and so that each environment
//! (`--env staging`, `--env prod`) names where its database URL comes from — an environment
//! variable, never a password in the file.
//!
//! The file is found upward from the working directory (or given with `--config`). Its
//! settings are spelled like the long options they stand for and become those options when the
//! command line does not give them: flags always win, then the chosen environment, then the
//! file's top level, then the built-in defaults. `reconcile config` prints the result and where
//! each value came from.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use serde::Deserialize;
use toml::Spanned;

use super::Args;

pub const FILE_NAME: &str = "reconcile.toml";

/// One level of settings: the file's top level, or one `[env.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    schema_dir: Option<Spanned<String>>,
    migrations_dir: Option<Spanned<String>>,
    verify_dir: Option<Spanned<String>>,
    ignore_schemas: Option<Spanned<Vec<String>>>,
    ignore_objects: Option<Spanned<Vec<String>>>,
    history_schema: Option<Spanned<String>>,
    fail_on: Option<Spanned<String>>,
    no_replace: Option<Spanned<bool>>,
    no_concurrently: Option<Spanned<bool>>,
    no_rename_hints: Option<Spanned<bool>>,
    lock_timeout: Option<Spanned<String>>,
    statement_timeout: Option<Spanned<String>>,
    long_statement_timeout: Option<Spanned<String>>,
    wait_lock: Option<Spanned<String>>,
    retries: Option<Spanned<u32>>,
    /// The environment variable holding the target database URL.
    url_env: Option<Spanned<String>>,
    /// The environment variable holding the dev (scratch) database URL.
    dev_url_env: Option<Spanned<String>>,
    /// Only at the top level.
    env: Option<BTreeMap<String, Spanned<Settings>>>,
}

/// A setting's value as the option it becomes.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    List(Vec<String>),
    Flag(bool),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(t) => f.write_str(t),
            Value::List(l) => write!(f, "[{}]", l.join(", ")),
            Value::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// A setting with the place that set it.
#[derive(Debug, Clone)]
struct Setting {
    value: Value,
    /// `reconcile.toml:7` or `reconcile.toml:12 [env.prod]`.
    origin: String,
}

/// The settings that stand for a long option: (key, option's argument id, long name).
/// `schema_dir`, `migrations_dir` and `verify_dir` are paths relative to the file.
const OPTIONS: &[(&str, &str, &str)] = &[
    ("schema_dir", "schema_dir", "schema-dir"),
    ("migrations_dir", "migrations", "migrations"),
    ("verify_dir", "verify_dir", "verify-dir"),
    ("ignore_schemas", "ignore_schemas", "ignore-schema"),
    ("ignore_objects", "ignore_objects", "ignore-object"),
    ("history_schema", "history_schema", "history-schema"),
    ("fail_on", "fail_on", "fail-on"),
    ("no_replace", "no_replace", "no-replace"),
    ("no_concurrently", "no_concurrently", "no-concurrently"),
    ("no_rename_hints", "no_rename_hints", "no-rename-hints"),
    ("lock_timeout", "lock_timeout", "lock-timeout"),
    (
        "statement_timeout",
        "statement_timeout",
        "statement-timeout",
    ),
    (
        "long_statement_timeout",
        "long_statement_timeout",
        "long-statement-timeout",
    ),
    ("wait_lock", "wait_lock", "wait-lock"),
    ("retries", "retries", "retries"),
];

const PATHS: &[&str] = &["schema_dir", "migrations_dir", "verify_dir"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "--env {name}: {}",
        match available.as_slice() {
            [] => "no configuration file (reconcile.toml) defines environments; add an [env.NAME] table".to_owned(),
            names => format!("no such environment; {} defines: {}", file, names.join(", ")),
        }
    )]
    UnknownEnv {
        name: String,
        file: String,
        available: Vec<String>,
    },
    #[error(
        "{origin}: the {what} comes from the environment variable {var}, which is not set \
         (export it, e.g. from your CI secrets, or pass --{flag})"
    )]
    MissingVariable {
        origin: String,
        what: &'static str,
        var: String,
        flag: &'static str,
    },
}

/// A parsed `reconcile.toml`.
#[derive(Debug)]
pub struct Config {
    path: PathBuf,
    /// How the path is shown (relative to the working directory when it is below it).
    shown: String,
    text: String,
    settings: Settings,
}

impl Config {
    /// `reconcile.toml` in the working directory or the nearest folder above it.
    pub fn find(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|p| p.is_file())
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = shown_path(path);
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let settings: Settings = toml::from_str(&text).map_err(|e| {
            let (line, message) = describe(&e, &text);
            ConfigError::Invalid {
                path: match line {
                    Some(line) => format!("{shown}:{line}"),
                    None => shown.clone(),
                },
                message,
            }
        })?;
        let config = Self {
            path: path.to_owned(),
            shown,
            text,
            settings,
        };
        config.check()?;
        Ok(config)
    }

    fn invalid(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: format!("{}:{}", self.shown, self.line(span.start)),
            message,
        }
    }

    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    /// What serde cannot say: values of the right type that are still wrong.
    fn check(&self) -> Result<(), ConfigError> {
        let mut levels: Vec<(&Settings, Option<&str>)> = vec![(&self.settings, None)];
        for (name, env) in self.settings.env.iter().flatten() {
            if env.get_ref().env.is_some() {
                return Err(self.invalid(
                    env.span(),
                    format!("[env.{name}] cannot hold environments of its own"),
                ));
            }
            levels.push((env.get_ref(), Some(name)));
        }
        for (settings, _) in levels {
            if let Some(fail_on) = &settings.fail_on
                && !["any", "destructive", "none"].contains(&fail_on.get_ref().as_str())
            {
                return Err(self.invalid(
                    fail_on.span(),
                    format!(
                        "fail_on = {:?}: expected \"any\", \"destructive\" or \"none\"",
                        fail_on.get_ref()
                    ),
                ));
            }
            for duration in [
                &settings.lock_timeout,
                &settings.statement_timeout,
                &settings.long_statement_timeout,
                &settings.wait_lock,
            ]
            .into_iter()
            .flatten()
            {
                if let Err(e) = super::apply::parse_duration(duration.get_ref()) {
                    return Err(self.invalid(duration.span(), e));
                }
            }
            for pattern in settings.ignore_objects.iter().flat_map(|p| p.get_ref()) {
                if let Err(e) = glob::Pattern::new(pattern) {
                    let span = settings.ignore_objects.as_ref().map_or(0..0, |p| p.span());
                    return Err(self.invalid(span, format!("ignore_objects {pattern:?}: {e}")));
                }
            }
        }
        Ok(())
    }

    fn environment(&self, name: &str) -> Result<&Spanned<Settings>, ConfigError> {
        self.settings
            .env
            .as_ref()
            .and_then(|envs| envs.get(name))
            .ok_or_else(|| ConfigError::UnknownEnv {
                name: name.to_owned(),
                file: self.shown.clone(),
                available: self
                    .settings
                    .env
                    .iter()
                    .flat_map(|e| e.keys().cloned())
                    .collect(),
            })
    }

    /// The effective settings: the top level, then the chosen environment over it.
    fn effective(&self, env: Option<&str>) -> Result<BTreeMap<&'static str, Setting>, ConfigError> {
        let mut out = BTreeMap::new();
        self.collect(&self.settings, None, &mut out);
        if let Some(name) = env {
            let chosen = self.environment(name)?;
            self.collect(chosen.get_ref(), Some(name), &mut out);
        }
        Ok(out)
    }

    fn collect(
        &self,
        settings: &Settings,
        env: Option<&str>,
        out: &mut BTreeMap<&'static str, Setting>,
    ) {
        let origin = |span: std::ops::Range<usize>| match env {
            None => format!("{}:{}", self.shown, self.line(span.start)),
            Some(name) => format!("{}:{} [env.{name}]", self.shown, self.line(span.start)),
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut put = |key: &'static str, value: Value, span: std::ops::Range<usize>| {
            out.insert(
                key,
                Setting {
                    value,
                    origin: origin(span),
                },
            );
        };
        let text =
            |s: &Option<Spanned<String>>| s.as_ref().map(|v| (v.get_ref().clone(), v.span()));
        let flag = |s: &Option<Spanned<bool>>| s.as_ref().map(|v| (*v.get_ref(), v.span()));
        let list =
            |s: &Option<Spanned<Vec<String>>>| s.as_ref().map(|v| (v.get_ref().clone(), v.span()));
        for (key, value) in [
            ("schema_dir", text(&settings.schema_dir)),
            ("migrations_dir", text(&settings.migrations_dir)),
            ("verify_dir", text(&settings.verify_dir)),
            ("history_schema", text(&settings.history_schema)),
            ("fail_on", text(&settings.fail_on)),
            ("lock_timeout", text(&settings.lock_timeout)),
            ("statement_timeout", text(&settings.statement_timeout)),
            (
                "long_statement_timeout",
                text(&settings.long_statement_timeout),
            ),
            ("wait_lock", text(&settings.wait_lock)),
            ("url_env", text(&settings.url_env)),
            ("dev_url_env", text(&settings.dev_url_env)),
        ] {
            if let Some((mut v, span)) = value {
                if PATHS.contains(&key) {
                    v = relative_to(dir, &v);
                }
                put(key, Value::Text(v), span);
            }
        }
        if let Some((v, span)) = settings.retries.as_ref().map(|v| (*v.get_ref(), v.span())) {
            put("retries", Value::Text(v.to_string()), span);
        }
        for (key, value) in [
            ("no_replace", flag(&settings.no_replace)),
            ("no_concurrently", flag(&settings.no_concurrently)),
            ("no_rename_hints", flag(&settings.no_rename_hints)),
        ] {
            if let Some((v, span)) = value {
                put(key, Value::Flag(v), span);
            }
        }
        for (key, value) in [
            ("ignore_schemas", list(&settings.ignore_schemas)),
            ("ignore_objects", list(&settings.ignore_objects)),
        ] {
            if let Some((v, span)) = value {
                put(key, Value::List(v), span);
            }
        }
    }
}

/// TOML's message with its line, and for an unknown setting the nearest known one.
fn describe(e: &toml::de::Error, text: &str) -> (Option<usize>, String) {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let mut message = e.message().trim().to_owned();
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned)
    {
        let known = OPTIONS
            .iter()
            .map(|o| o.0)
            .chain(["url_env", "dev_url_env", "env"]);
        let nearest = known
            .map(|k| (strsim::damerau_levenshtein(k, &unknown), k))
            .min()
            .filter(|(distance, _)| *distance <= 2);
        message = match nearest {
            Some((_, k)) => format!("unknown setting `{unknown}`: did you mean `{k}`?"),
            None => {
                format!("unknown setting `{unknown}` (the settings are listed in docs/config.md)")
            }
        };
    }
    (line, message)
}

fn shown_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `value` (a path in the file) as seen from the working directory.
fn relative_to(dir: &Path, value: &str) -> String {
    let path = Path::new(value);
    if path.is_absolute() {
        return value.to_owned();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    match cwd.strip_prefix(&dir) {
        // The file is in the working directory or above it: climb to it.
        Ok(below) => {
            let mut out = PathBuf::new();
            for _ in below.components() {
                out.push("..");
            }
            out.push(path);
            out.display().to_string()
        }
        Err(_) => dir.join(path).display().to_string(),
    }
}

/// Where each effective value came from, for `reconcile config`.
#[derive(Debug, Default)]
pub struct Provenance {
    pub file: Option<String>,
    pub env: Option<String>,
    /// (setting, value, origin), sorted by setting.
    pub rows: Vec<(String, String, String)>,
}

/// Parses the command line and fills in what it leaves out from `reconcile.toml`.
pub fn parse(argv: Vec<OsString>) -> Result<(Args, Provenance), Failure> {
    let matches = Args::command()
        .try_get_matches_from(&argv)
        .map_err(Failure::Usage)?;
    let first = Args::from_arg_matches(&matches).map_err(Failure::Usage)?;
    let env_name = first.global.env.clone();
    let path = match &first.global.config {
        Some(path) => Some(path.clone()),
        None => std::env::current_dir().ok().and_then(|d| Config::find(&d)),
    };
    let Some(path) = path else {
        if let Some(name) = &first.global.env {
            return Err(Failure::Config(ConfigError::UnknownEnv {
                name: name.clone(),
                file: FILE_NAME.to_owned(),
                available: Vec::new(),
            }));
        }
        return Ok((first, Provenance::default()));
    };
    let config = Config::load(&path).map_err(Failure::Config)?;
    let settings = config
        .effective(first.global.env.as_deref())
        .map_err(Failure::Config)?;

    // The deepest subcommand's matches see the global options too.
    let mut deepest = &matches;
    let mut command = Args::command();
    command.build();
    let mut path_names = Vec::new();
    while let Some((name, sub)) = deepest.subcommand() {
        path_names.push(name.to_owned());
        deepest = sub;
    }
    let mut defined = command.clone();
    for name in &path_names {
        let Some(sub) = defined.find_subcommand(name) else {
            break;
        };
        defined = sub.clone();
    }

    let mut extra: Vec<OsString> = Vec::new();
    let mut rows = Vec::new();
    for (key, id, long) in OPTIONS {
        let Some(setting) = settings.get(key) else {
            continue;
        };
        if !defined.get_arguments().any(|a| a.get_id() == id) {
            // Not an option of this command (`retries` for `plan`).
            rows.push((
                key.to_string(),
                setting.value.to_string(),
                setting.origin.clone(),
            ));
            continue;
        }
        match deepest.value_source(id) {
            Some(ValueSource::CommandLine) => {
                rows.push((
                    key.to_string(),
                    "(command line)".into(),
                    "command line".into(),
                ));
                continue;
            }
            Some(ValueSource::EnvVariable) => {
                rows.push((
                    key.to_string(),
                    "(environment)".into(),
                    "environment".into(),
                ));
                continue;
            }
            _ => {}
        }
        match &setting.value {
            Value::Text(v) => {
                extra.push(format!("--{long}").into());
                extra.push(v.into());
            }
            Value::List(values) => {
                for v in values {
                    extra.push(format!("--{long}").into());
                    extra.push(v.into());
                }
            }
            Value::Flag(true) => extra.push(format!("--{long}").into()),
            Value::Flag(false) => {}
        }
        rows.push((
            key.to_string(),
            setting.value.to_string(),
            setting.origin.clone(),
        ));
    }
    let mut args = if extra.is_empty() {
        first
    } else {
        let mut argv = argv;
        // After a `--`, every word is a positional argument.
        let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
        argv.splice(at..at, extra);
        let matches = Args::command().try_get_matches_from(&argv).map_err(|e| {
            Failure::Config(ConfigError::Invalid {
                path: config.shown.clone(),
                message: format!("a setting is not a valid option value: {e}"),
            })
        })?;
        Args::from_arg_matches(&matches).map_err(Failure::Usage)?
    };

    // URLs: --database-url, else the chosen environment's variable, else DATABASE_URL,
    // else the top level's variable.
    let url_from_command_line =
        matches.value_source("database_url") == Some(ValueSource::CommandLine);
    let dev_from_command_line = matches.value_source("dev_url") == Some(ValueSource::CommandLine);
    let env_chosen = args.global.env.is_some();
    for (key, from_command_line, what, flag) in [
        (
            "url_env",
            url_from_command_line,
            "database URL",
            "database-url",
        ),
        (
            "dev_url_env",
            dev_from_command_line,
            "dev database URL",
            "dev-url",
        ),
    ] {
        let Some(setting) = settings.get(key) else {
            continue;
        };
        let Value::Text(var) = &setting.value else {
            continue;
        };
        let slot = if key == "url_env" {
            &mut args.global.database_url
        } else {
            &mut args.global.dev_url
        };
        let from_environment_table = setting.origin.contains("[env.");
        if from_command_line || (slot.is_some() && !(env_chosen && from_environment_table)) {
            continue;
        }
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => {
                *slot = Some(url);
                rows.push((
                    key.to_string(),
                    format!("${var} (set)"),
                    setting.origin.clone(),
                ));
            }
            _ => {
                return Err(Failure::Config(ConfigError::MissingVariable {
                    origin: setting.origin.clone(),
                    what,
                    var: var.clone(),
                    flag,
                }));
            }
        }
    }
    rows.sort();
    Ok((
        args,
        Provenance {
            file: Some(config.shown.clone()),
            env: env_name,
            rows,
        },
    ))
}

/// Why the command line could not become arguments.
#[derive(Debug)]
pub enum Failure {
    /// clap's own: help, version, a usage error.
    Usage(clap::Error),
    Config(ConfigError),
}

/// `reconcile config`: the effective settings and where each came from.
pub fn print(global: &super::Global, provenance: &Provenance) -> String {
    let mut out = String::new();
    match &provenance.file {
        Some(file) => {
            let _ = writeln!(out, "configuration: {file}");
        }
        None => {
            let _ = writeln!(
                out,
                "configuration: none (no {FILE_NAME} here or above; built-in defaults)"
            );
        }
    }
    if let Some(env) = &provenance.env {
        let _ = writeln!(out, "environment: {env}");
    }
    let url = match (
        &global.database_url,
        provenance.rows.iter().find(|r| r.0 == "url_env"),
    ) {
        (Some(url), _) if url.trim().is_empty() => {
            "given but empty (a CI secret that is not set expands to \"\"): none".to_owned()
        }
        (Some(_), Some(row)) => format!("{} ({})", row.1, row.2),
        (Some(_), None) => "given (--database-url or DATABASE_URL; not shown)".to_owned(),
        (None, _) => "none: a throwaway local PostgreSQL".to_owned(),
    };
    let _ = writeln!(out, "database: {url}");
    let width = OPTIONS.iter().map(|o| o.0.len()).max().unwrap_or(0);
    for (key, value, origin) in &provenance.rows {
        if key == "url_env" {
            continue;
        }
        let _ = writeln!(out, "{key:width$}  {value}  ({origin})");
    }
    for (key, _, _) in OPTIONS {
        if !provenance.rows.iter().any(|r| r.0 == *key) {
            let _ = writeln!(out, "{key:width$}  (default)");
        }
    }
    out
}

/// The environments of the configuration file as fleet targets: (name, the variable holding
/// its URL, where it is declared). Every `[env.NAME]` must name its `url_env`.
pub fn environments(config: Option<&Path>) -> Result<Vec<(String, String, String)>, ConfigError> {
    let path = match config {
        Some(path) => path.to_owned(),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| Config::find(&d))
            .ok_or_else(|| ConfigError::UnknownEnv {
                name: "(--environments)".to_owned(),
                file: FILE_NAME.to_owned(),
                available: Vec::new(),
            })?,
    };
    let config = Config::load(&path)?;
    let mut out = Vec::new();
    for (name, env) in config.settings.env.iter().flatten() {
        let origin = format!(
            "{}:{} [env.{name}]",
            config.shown,
            config.line(env.span().start)
        );
        match &env.get_ref().url_env {
            Some(var) => out.push((name.clone(), var.get_ref().clone(), origin)),
            None => {
                return Err(ConfigError::Invalid {
                    path: origin,
                    message: "a fleet target needs url_env (the variable holding its URL)"
                        .to_owned(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(ConfigError::Invalid {
            path: config.shown.clone(),
            message: "--environments: the file defines no [env.NAME] tables".to_owned(),
        });
    }
    Ok(out)
}
