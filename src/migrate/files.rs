//! Finding the migration files and their versions.
//!
//! A migration's identity is its version, and the version lives only in the file name, so the
//! naming rule is the contract: it decides the order files run in and which row of the
//! tracking table belongs to which file. The rule (docs/migrations.md, "File names") accepts
//! the conventions of the common tools but one per folder, because two conventions in one
//! folder have no order a reader could predict. Every problem found is collected, so one run
//! of `reconcile migrate check` lists them all.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{MigrateError, Problem};

/// A migration's version: what orders the files and names them in the tracking table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Version {
    /// `NNN_name.sql`, `YYYYMMDDHHMMSS_name.sql`, `YYYYMMDD_HHMMSS_name.sql`: one integer.
    Numeric(u64),
    /// `YYYYMMDD_NNN_name.sql`: several files per date, ordered by NNN.
    DateSeq { date: u32, seq: u64 },
    /// `V1__name.sql`, `V1.2__name.sql`, `V1_2__name.sql` (Flyway); trailing zero parts are
    /// dropped, so `V1.0` is `V1`, as in Flyway.
    Dotted(Vec<u64>),
}

impl Version {
    /// The canonical text stored in the tracking table: `42`, `20220314_1`, `1.2`. Leading
    /// zeros are not part of a version, so renaming `7_x.sql` to `007_x.sql` keeps its history.
    pub fn key(&self) -> String {
        match self {
            Version::Numeric(n) => n.to_string(),
            Version::DateSeq { date, seq } => format!("{date}_{seq}"),
            Version::Dotted(parts) => parts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        }
    }

    pub fn convention(&self) -> Convention {
        match self {
            Version::Numeric(_) => Convention::Numeric,
            Version::DateSeq { .. } => Convention::DateSeq,
            Version::Dotted(_) => Convention::Flyway,
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Version::Numeric(a), Version::Numeric(b)) => a.cmp(b),
            (Version::DateSeq { date: a, seq: s }, Version::DateSeq { date: b, seq: t }) => {
                (a, s).cmp(&(b, t))
            }
            (Version::Dotted(a), Version::Dotted(b)) => a.cmp(b),
            // Never compared in practice (a folder holds one convention); any fixed order will
            // do so that sorting stays total.
            _ => self.convention().cmp(&other.convention()),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A family of file names whose versions compare with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    Numeric,
    DateSeq,
    Flyway,
}

impl Convention {
    pub fn pattern(self) -> &'static str {
        match self {
            Convention::Numeric => "NNN_name.sql / YYYYMMDDHHMMSS_name.sql (a plain number)",
            Convention::DateSeq => "YYYYMMDD_NNN_name.sql (date and sequence number)",
            Convention::Flyway => "V<n>__name.sql (Flyway)",
        }
    }
}

/// Whether a file applies a migration or undoes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// What a file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub version: Version,
    /// The version as written (`007`, `20220314_001`, `V1_2`), for suggestions that keep
    /// the folder's zero padding.
    pub version_text: String,
    /// The description after the version (`add_users`).
    pub name: String,
    pub direction: Direction,
}

/// Why a `.sql` file name is not a migration name; the caller adds the file and a suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub reason: String,
    /// The description part to keep when suggesting a new name.
    pub description: String,
}

const EXPECTED: &str = "expected NNN_name.sql, YYYYMMDD_NNN_name.sql, YYYYMMDDHHMMSS_name.sql \
                        or V<n>__name.sql (optionally ending in .up.sql)";

/// Parses a migration file name (`007_add_users.sql`, `V2__x.up.sql`, ...).
pub fn parse_name(file_name: &str) -> Result<ParsedName, NameError> {
    let fail = |reason: String, description: &str| NameError {
        reason,
        description: sanitize(description),
    };
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return Err(fail("not a .sql file".into(), file_name));
    };
    let (stem, direction) = if let Some(s) = stem.strip_suffix(".down") {
        (s, Direction::Down)
    } else if let Some(s) = stem.strip_suffix(".up") {
        (s, Direction::Up)
    } else {
        (stem, Direction::Up)
    };
    let first = stem.chars().next().unwrap_or(' ');
    if matches!(first, 'V' | 'U' | 'R')
        && stem[1..].starts_with(|c: char| c.is_ascii_digit() || c == '_')
    {
        return parse_flyway(stem, first, direction).map_err(|r| {
            let description = stem.split_once("__").map_or(stem, |(_, d)| d);
            fail(r, description)
        });
    }
    if !first.is_ascii_digit() {
        return Err(fail(
            format!("the name does not start with a version; {EXPECTED}"),
            stem,
        ));
    }
    let digits_end = stem
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(stem.len());
    let (d1, rest) = stem.split_at(digits_end);
    let Some(rest) = rest.strip_prefix('_') else {
        let description = rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        let reason = if rest.is_empty() {
            format!("the name has a version but no description after it; {EXPECTED}")
        } else {
            format!(
                "the version must be followed by `_` (found `{}`); {EXPECTED}",
                rest.chars().next().unwrap_or(' ')
            )
        };
        return Err(fail(reason, description));
    };
    // `YYYYMMDD_<digits>_name`: a date with a time (6 digits) or a sequence number.
    if d1.len() == 8 {
        let d2_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (d2, after) = rest.split_at(d2_end);
        if (1..=6).contains(&d2.len()) && (after.is_empty() || after.starts_with('_')) {
            let name = after.strip_prefix('_').unwrap_or("");
            if name.is_empty() {
                return Err(fail(
                    format!("the name has a version but no description after it; {EXPECTED}"),
                    "migration",
                ));
            }
            let date: u32 = d1.parse().map_err(|_| fail("bad date".into(), name))?;
            let seq: u64 = d2.parse().map_err(|_| fail("bad number".into(), name))?;
            let version = if d2.len() == 6 {
                Version::Numeric(u64::from(date) * 1_000_000 + seq)
            } else {
                Version::DateSeq { date, seq }
            };
            return Ok(ParsedName {
                version,
                version_text: format!("{d1}_{d2}"),
                name: name.to_owned(),
                direction,
            });
        }
    }
    if rest.is_empty() {
        return Err(fail(
            format!("the name has a version but no description after it; {EXPECTED}"),
            "migration",
        ));
    }
    let n: u64 = d1.parse().map_err(|_| {
        fail(
            format!("the version {d1} has more digits than any version can have (at most 19)"),
            rest,
        )
    })?;
    Ok(ParsedName {
        version: Version::Numeric(n),
        version_text: d1.to_owned(),
        name: rest.to_owned(),
        direction,
    })
}

fn parse_flyway(stem: &str, prefix: char, direction: Direction) -> Result<ParsedName, String> {
    if prefix == 'R' {
        return Err(
            "Flyway repeatable migrations (R__name.sql) are not supported: give the file a \
             version"
                .into(),
        );
    }
    let direction = if prefix == 'U' {
        Direction::Down
    } else {
        direction
    };
    let Some((version_text, name)) = stem[1..].split_once("__") else {
        return Err(format!(
            "a Flyway name separates version and description with two underscores; {EXPECTED}"
        ));
    };
    if name.is_empty() {
        return Err(format!(
            "the name has a version but no description after it; {EXPECTED}"
        ));
    }
    let mut parts = Vec::new();
    for part in version_text.split(['.', '_']) {
        if part.is_empty() || !part.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "`{version_text}` is not a Flyway version (numbers separated by `.` or `_`); \
                 {EXPECTED}"
            ));
        }
        parts.push(
            part.parse::<u64>()
                .map_err(|_| format!("the version part {part} is too large"))?,
        );
    }
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Ok(ParsedName {
        version: Version::Dotted(parts),
        version_text: version_text.to_owned(),
        name: name.to_owned(),
        direction,
    })
}

/// A description usable in a suggested file name.
fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('_');
    if cleaned.is_empty() {
        "migration".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// One migration file, read and checksummed.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub version_text: String,
    /// The description part of the file name.
    pub name: String,
    /// The file name (`007_add_users.up.sql`), as recorded in the tracking table.
    pub file_name: String,
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub checksum: String,
    /// The file's text (a UTF-8 byte-order mark removed).
    pub sql: String,
    /// The matching `.down.sql` file, if the folder has one (never run; for rollback guides).
    pub down: Option<PathBuf>,
}

impl Migration {
    /// `migrations/007_add_users.sql`, for messages.
    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}

/// A `.down.sql` (or Flyway `U`) file: ignored by apply, listed for rollback guides.
#[derive(Debug, Clone)]
pub struct DownFile {
    pub version: Version,
    pub file_name: String,
    pub path: PathBuf,
}

/// The migration files of a folder, in version order.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub dir: PathBuf,
    /// The folder's naming convention (`None` when it holds no migration).
    pub convention: Option<Convention>,
    pub files: Vec<Migration>,
    pub down_files: Vec<DownFile>,
}

impl Migrations {
    /// The version named by `given`: a file name, or a version written the folder's way
    /// (`7`, `007`, `20220314_002`, `V1.2`, `1.2`).
    pub fn find_version(&self, given: &str) -> Option<&Version> {
        let given = given.trim();
        if let Some(m) = self.files.iter().find(|m| m.file_name == given) {
            return Some(&m.version);
        }
        let wanted = parse_version_arg(given);
        self.files
            .iter()
            .map(|m| &m.version)
            .find(|v| wanted.contains(v))
    }
}

/// The versions a user may mean by `given`, in any of the conventions (`3` is both the
/// numeric version 3 and Flyway's V3).
fn parse_version_arg(given: &str) -> Vec<Version> {
    let probes = if let Some(rest) = given.strip_prefix(['V', 'v']) {
        vec![format!("V{rest}__x.sql")]
    } else {
        vec![format!("{given}_x.sql"), format!("V{given}__x.sql")]
    };
    probes
        .iter()
        .filter_map(|p| parse_name(p).ok().map(|p| p.version))
        .collect()
}

/// Reads the folder: well-named migrations plus every problem found (bad names, mixed
/// conventions, duplicate versions, unreadable files). Callers that cannot work with a
/// partial list use [`discover`].
pub fn inspect(dir: &Path) -> Result<(Migrations, Vec<Problem>), MigrateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MigrateError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| MigrateError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        // Subfolders, READMEs and editor files are not migrations.
        if !path.is_file() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if name.starts_with('.') || !name.ends_with(".sql") => {}
            Ok(name) => names.push(name),
            Err(raw) => {
                if raw.to_string_lossy().ends_with(".sql") {
                    problems.push(Problem::new(
                        path.display().to_string(),
                        None,
                        "the file name is not valid UTF-8; rename it",
                    ));
                }
            }
        }
    }
    names.sort();

    let mut ups: Vec<(String, ParsedName)> = Vec::new();
    let mut downs = Vec::new();
    let mut bad: Vec<(String, NameError)> = Vec::new();
    for name in names {
        match parse_name(&name) {
            Ok(p) if p.direction == Direction::Down => downs.push((name, p)),
            Ok(p) => ups.push((name, p)),
            Err(e) => bad.push((name, e)),
        }
    }

    // The folder's convention: the one most files use (ties: the first file's).
    let mut counts: Vec<(Convention, usize, usize)> = Vec::new();
    for (i, (_, p)) in ups.iter().enumerate() {
        let c = p.version.convention();
        match counts.iter_mut().find(|(k, _, _)| *k == c) {
            Some(entry) => entry.1 += 1,
            None => counts.push((c, 1, i)),
        }
    }
    let convention = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| *c);
    let mut namer = NextFree::new(
        ups.iter()
            .filter(|(_, p)| Some(p.version.convention()) == convention)
            .map(|(_, p)| p),
        convention.unwrap_or(Convention::Numeric),
    );

    for (name, e) in &bad {
        let suggestion = namer.next_name(&e.description);
        problems.push(Problem::new(
            dir.join(name).display().to_string(),
            None,
            format!(
                "not a migration file name: {}; rename it, e.g. to {suggestion}",
                e.reason
            ),
        ));
    }

    if counts.len() > 1
        && let Some(convention) = convention
    {
        let majority = counts
            .iter()
            .find(|(c, _, _)| *c == convention)
            .map_or(0, |c| c.1);
        let mut strays: Vec<&(String, ParsedName)> = ups
            .iter()
            .filter(|(_, p)| p.version.convention() != convention)
            .collect();
        strays.sort_by(|a, b| a.1.version.cmp(&b.1.version).then(a.0.cmp(&b.0)));
        for (name, p) in strays {
            let suggestion = namer.next_name(&sanitize(&p.name));
            problems.push(Problem::new(
                dir.join(name).display().to_string(),
                None,
                format!(
                    "mixes naming conventions: it is {}, but {majority} other file(s) are {}; \
                     one folder uses one convention so the order is unambiguous — rename it, \
                     e.g. to {suggestion} (check that this is the order you want)",
                    p.version.convention().pattern(),
                    convention.pattern()
                ),
            ));
        }
        ups.retain(|(_, p)| p.version.convention() == convention);
    }

    ups.sort_by(|a, b| a.1.version.cmp(&b.1.version).then(a.0.cmp(&b.0)));
    let mut duplicates: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < ups.len() {
        let mut j = i + 1;
        while j < ups.len() && ups[j].1.version == ups[i].1.version {
            j += 1;
        }
        if j - i > 1 {
            let files: Vec<String> = ups[i..j].iter().map(|(n, _)| n.clone()).collect();
            let renames: Vec<String> = ups[i + 1..j]
                .iter()
                .map(|(n, p)| format!("{n} to {}", namer.next_name(&sanitize(&p.name))))
                .collect();
            problems.push(Problem::new(
                dir.join(&ups[i].0).display().to_string(),
                None,
                format!(
                    "duplicate version {}: used by {}; versions must be unique — rename {} \
                     (the next free version)",
                    ups[i].1.version,
                    files.join(", "),
                    renames.join(", ")
                ),
            ));
            duplicates.extend(i..j);
        }
        i = j;
    }

    let mut files = Vec::with_capacity(ups.len());
    for (index, (name, p)) in ups.into_iter().enumerate() {
        let path = dir.join(&name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Problem::new(
                    path.display().to_string(),
                    None,
                    format!("cannot read the file: {e}"),
                ));
                continue;
            }
        };
        let checksum = hex(&Sha256::digest(&bytes));
        let sql = match String::from_utf8(bytes) {
            Ok(s) => s.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(s),
            Err(e) => {
                problems.push(Problem::new(
                    path.display().to_string(),
                    None,
                    format!(
                        "the file is not UTF-8 (invalid byte at offset {}); save it as UTF-8",
                        e.utf8_error().valid_up_to()
                    ),
                ));
                continue;
            }
        };
        if duplicates.contains(&index) {
            continue;
        }
        files.push(Migration {
            version: p.version,
            version_text: p.version_text,
            name: p.name,
            file_name: name,
            path,
            checksum,
            sql,
            down: None,
        });
    }
    let mut down_files: Vec<DownFile> = downs
        .into_iter()
        .map(|(name, p)| DownFile {
            version: p.version,
            path: dir.join(&name),
            file_name: name,
        })
        .collect();
    down_files.sort_by(|a, b| {
        a.version
            .cmp(&b.version)
            .then(a.file_name.cmp(&b.file_name))
    });
    for m in &mut files {
        m.down = down_files
            .iter()
            .find(|d| d.version == m.version)
            .map(|d| d.path.clone());
    }
    problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.message.cmp(&b.message)));
    Ok((
        Migrations {
            dir: dir.to_path_buf(),
            convention,
            files,
            down_files,
        },
        problems,
    ))
}

/// Reads the folder; any problem with the names is an error listing them all.
pub fn discover(dir: &Path) -> Result<Migrations, MigrateError> {
    let (migrations, problems) = inspect(dir)?;
    if problems.is_empty() {
        Ok(migrations)
    } else {
        Err(MigrateError::Invalid(problems))
    }
}

/// Hands out versions after the folder's highest one, for rename suggestions.
struct NextFree {
    convention: Convention,
    /// Numeric: the next number. DateSeq: (date, next seq). Flyway: next major.
    next: (u64, u64),
    width: usize,
}

impl NextFree {
    fn new<'a>(names: impl Iterator<Item = &'a ParsedName>, convention: Convention) -> Self {
        let Some(max) = names.max_by(|a, b| a.version.cmp(&b.version)) else {
            return Self {
                convention,
                next: (1, 1),
                width: 3,
            };
        };
        let (next, width) = match &max.version {
            Version::Numeric(n) => (
                (n + 1, 0),
                max.version_text
                    .chars()
                    .filter(char::is_ascii_digit)
                    .count(),
            ),
            Version::DateSeq { date, seq } => (
                (u64::from(*date), seq + 1),
                max.version_text.len().saturating_sub(9),
            ),
            Version::Dotted(parts) => ((parts.first().copied().unwrap_or(0) + 1, 0), 0),
        };
        Self {
            convention,
            next,
            width,
        }
    }

    fn next_name(&mut self, description: &str) -> String {
        let width = self.width;
        match self.convention {
            Convention::Numeric => {
                let n = self.next.0;
                self.next.0 += 1;
                format!("{n:0width$}_{description}.sql")
            }
            Convention::DateSeq => {
                let (date, seq) = self.next;
                self.next.1 += 1;
                format!("{date:08}_{seq:0width$}_{description}.sql")
            }
            Convention::Flyway => {
                let n = self.next.0;
                self.next.0 += 1;
                format!("V{n}__{description}.sql")
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Result<(Version, String, Direction), String> {
        parse_name(name)
            .map(|p| (p.version, p.name, p.direction))
            .map_err(|e| e.reason)
    }

    #[test]
    fn accepted_names() {
        use Direction::*;
        use Version::*;
        let cases: &[(&str, Version, &str, Direction)] = &[
            ("001_init.sql", Numeric(1), "init", Up),
            ("1_init.sql", Numeric(1), "init", Up),
            (
                "00_init_auth_schema.up.sql",
                Numeric(0),
                "init_auth_schema",
                Up,
            ),
            (
                "20210710035447_alter_users.up.sql",
                Numeric(20210710035447),
                "alter_users",
                Up,
            ),
            (
                "20220614074223_add_ip.postgres.up.sql",
                Numeric(20220614074223),
                "add_ip.postgres",
                Up,
            ),
            (
                "20210710_035447_alter_users.sql",
                Numeric(20210710035447),
                "alter_users",
                Up,
            ),
            (
                "20220314_001_add_x.sql",
                DateSeq {
                    date: 20220314,
                    seq: 1,
                },
                "add_x",
                Up,
            ),
            (
                "20220314_12_add_x.sql",
                DateSeq {
                    date: 20220314,
                    seq: 12,
                },
                "add_x",
                Up,
            ),
            ("V1__init.sql", Dotted(vec![1]), "init", Up),
            ("V1.2__init.sql", Dotted(vec![1, 2]), "init", Up),
            ("V1_2__init.sql", Dotted(vec![1, 2]), "init", Up),
            ("V2.0__init.sql", Dotted(vec![2]), "init", Up),
            ("U2__undo.sql", Dotted(vec![2]), "undo", Down),
            ("003_x.down.sql", Numeric(3), "x", Down),
            ("003_2fa_tables.sql", Numeric(3), "2fa_tables", Up),
        ];
        for (name, version, description, direction) in cases {
            assert_eq!(
                v(name),
                Ok((version.clone(), description.to_string(), *direction)),
                "{name}"
            );
        }
    }

    #[test]
    fn rejected_names() {
        let cases: &[(&str, &str)] = &[
            ("init.sql", "does not start with a version"),
            ("001-init.sql", "must be followed by `_`"),
            ("001.sql", "no description"),
            ("001_.sql", "no description"),
            ("20220314_001.sql", "no description"),
            ("V1_init.sql", "two underscores"),
            ("V1__.sql", "no description"),
            ("Vx__a.sql", "does not start with a version"),
            ("V1.a__b.sql", "not a Flyway version"),
            ("R__views.sql", "repeatable"),
            ("123456789012345678901234_x.sql", "more digits"),
            ("add_users_001.sql", "does not start with a version"),
        ];
        for (name, why) in cases {
            match v(name) {
                Ok(p) => panic!("{name} was accepted as {p:?}"),
                Err(reason) => assert!(reason.contains(why), "{name}: {reason}"),
            }
        }
    }

    #[test]
    fn versions_order_numerically_within_a_convention() {
        let mut names = vec![
            "20210710035447_b.sql",
            "00_a.sql",
            "9_c.sql",
            "10_d.sql",
            "20210710_035448_e.sql",
        ];
        names.sort_by_key(|n| parse_name(n).unwrap().version);
        assert_eq!(
            names,
            vec![
                "00_a.sql",
                "9_c.sql",
                "10_d.sql",
                "20210710035447_b.sql",
                "20210710_035448_e.sql"
            ]
        );
        let mut dated = vec![
            "20220315_001_c.sql",
            "20220314_010_b.sql",
            "20220314_002_a.sql",
        ];
        dated.sort_by_key(|n| parse_name(n).unwrap().version);
        assert_eq!(
            dated,
            vec![
                "20220314_002_a.sql",
                "20220314_010_b.sql",
                "20220315_001_c.sql"
            ]
        );
    }

    fn folder(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), "SELECT 1;").unwrap();
        }
        dir
    }

    fn problems(files: &[&str]) -> Vec<String> {
        let dir = folder(files);
        let (_, problems) = inspect(dir.path()).unwrap();
        problems
            .iter()
            .map(|p| {
                let file = Path::new(&p.file).file_name().unwrap().to_string_lossy();
                format!("{file}: {}", p.message)
            })
            .collect()
    }

    #[test]
    fn folders_accepted_and_rejected() {
        // (files, expected problem fragments; empty = accepted)
        let cases: &[(&[&str], &[&str])] = &[
            (&["001_a.sql", "002_b.sql", "README.md"], &[]),
            (
                &[
                    "00_init.up.sql",
                    "20210710035447_b.up.sql",
                    "20210710035447_b.down.sql",
                ],
                &[],
            ),
            (
                &[
                    "20220314_001_a.sql",
                    "20220314_002_b.sql",
                    "20220315_001_c.sql",
                ],
                &[],
            ),
            (&["V1__a.sql", "V1.1__b.sql", "V2__c.sql"], &[]),
            (
                &["001_a.sql", "002_b.sql", "V1__x.sql"],
                &["V1__x.sql: mixes naming conventions", "e.g. to 003_x.sql"],
            ),
            (
                &["20220314_001_a.sql", "20220314_002_b.sql", "003_c.sql"],
                &["003_c.sql: mixes naming conventions", "20220314_003_c.sql"],
            ),
            (
                &["001_a.sql", "001_b.sql", "002_c.sql"],
                &[
                    "duplicate version 1: used by 001_a.sql, 001_b.sql",
                    "001_b.sql to 003_b.sql",
                ],
            ),
            (
                &["1_a.sql", "001_b.sql"],
                &["duplicate version 1: used by 001_b.sql, 1_a.sql"],
            ),
            (
                &["001_a.sql", "notes.sql"],
                &[
                    "notes.sql: not a migration file name",
                    "e.g. to 002_notes.sql",
                ],
            ),
        ];
        for (files, expected) in cases {
            let found = problems(files);
            if expected.is_empty() {
                assert!(found.is_empty(), "{files:?}: {found:?}");
            }
            let all = found.join("\n");
            for e in *expected {
                assert!(all.contains(e), "{files:?}: expected `{e}` in:\n{all}");
            }
        }
    }

    #[test]
    fn down_files_are_listed_not_run() {
        let dir = folder(&["001_a.up.sql", "001_a.down.sql", "002_b.sql"]);
        let m = discover(dir.path()).unwrap();
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.down_files.len(), 1);
        assert_eq!(m.files[0].down, Some(dir.path().join("001_a.down.sql")));
        assert_eq!(m.files[1].down, None);
    }

    #[test]
    fn version_arguments_match_files() {
        let dir = folder(&["001_a.sql", "002_b.sql"]);
        let m = discover(dir.path()).unwrap();
        assert_eq!(m.find_version("2"), Some(&Version::Numeric(2)));
        assert_eq!(m.find_version("002"), Some(&Version::Numeric(2)));
        assert_eq!(m.find_version("002_b.sql"), Some(&Version::Numeric(2)));
        assert_eq!(m.find_version("3"), None);
        let dir = folder(&["V1__a.sql", "V1.1__b.sql"]);
        let m = discover(dir.path()).unwrap();
        assert_eq!(m.find_version("V1.1"), Some(&Version::Dotted(vec![1, 1])));
        assert_eq!(m.find_version("1.1"), Some(&Version::Dotted(vec![1, 1])));
    }
}
