//! Where each migration stands: the folder and the tracking table, compared.
//!
//! A pure function of the two, shared by `status`, `apply` (what is pending, what changed),
//! `check` and `baseline`, so they can never disagree about a file's state.

use std::collections::BTreeMap;

use serde::Serialize;

use super::files::Migrations;
use super::tracking::TrackedRow;

/// A migration's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Ran (or was baselined) with the file's current checksum.
    Applied,
    /// Never ran.
    Pending,
    /// Ran, but the file changed since: the database has what the old text did.
    Changed,
    /// Its last attempt failed; it is pending again.
    Failed,
    /// Recorded in the database, but no file has its version.
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "changed",
            State::Failed => "failed",
            State::Missing => "missing",
        }
    }

    /// Whether `apply` would run it.
    pub fn runs(self) -> bool {
        matches!(self, State::Pending | State::Failed)
    }
}

/// The recorded error of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedError {
    pub message: String,
    pub sqlstate: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub line: Option<i32>,
    pub statement: Option<String>,
}

/// One line of the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Canonical version text.
    pub version: String,
    pub file: String,
    pub state: State,
    /// Checksum of the file now (`None` for a missing file).
    pub checksum: Option<String>,
    /// Checksum recorded when it was applied (or attempted).
    pub recorded_checksum: Option<String>,
    pub applied_at: Option<String>,
    pub execution_time_ms: Option<i64>,
    pub batch: Option<i32>,
    pub applied_by: Option<String>,
    pub baselined: bool,
    /// The last attempt's error, for a failed migration.
    pub error: Option<RecordedError>,
    /// The matching down file, if any (never run).
    pub down_file: Option<String>,
    /// Index into [`Migrations::files`] (`None` for a missing file).
    #[serde(skip)]
    pub index: Option<usize>,
}

/// Each file in version order, then each version recorded without a file (in the order it
/// was first recorded).
pub fn compute(migrations: &Migrations, rows: &[TrackedRow]) -> Vec<Entry> {
    let mut by_version: BTreeMap<&str, Vec<&TrackedRow>> = BTreeMap::new();
    for row in rows {
        by_version
            .entry(row.version.as_str())
            .or_default()
            .push(row);
    }
    let mut out = Vec::with_capacity(migrations.files.len());
    let mut seen = std::collections::BTreeSet::new();
    for (index, m) in migrations.files.iter().enumerate() {
        let key = m.version.key();
        let recorded = by_version
            .get(key.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        seen.insert(key.clone());
        let success = recorded.iter().rev().find(|r| r.success);
        let last = recorded.last();
        let (state, shown) = match (success, last) {
            (Some(s), _) if s.checksum == m.checksum => (State::Applied, Some(*s)),
            (Some(s), _) => (State::Changed, Some(*s)),
            (None, Some(l)) => (State::Failed, Some(*l)),
            (None, None) => (State::Pending, None),
        };
        out.push(entry(
            key,
            m.file_name.clone(),
            state,
            Some(m.checksum.clone()),
            shown,
            m.down
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            Some(index),
        ));
    }
    let mut missing: Vec<(&str, &Vec<&TrackedRow>)> = by_version
        .iter()
        .filter(|(v, _)| !seen.contains(**v))
        .map(|(v, r)| (*v, r))
        .collect();
    missing.sort_by_key(|(_, rows)| rows.first().map_or(0, |r| r.id));
    for (version, recorded) in missing {
        let shown = recorded
            .iter()
            .rev()
            .find(|r| r.success)
            .or(recorded.last())
            .copied();
        let file = shown.map(|r| r.file.clone()).unwrap_or_default();
        out.push(entry(
            version.to_owned(),
            file,
            State::Missing,
            None,
            shown,
            None,
            None,
        ));
    }
    out
}

fn entry(
    version: String,
    file: String,
    state: State,
    checksum: Option<String>,
    row: Option<&TrackedRow>,
    down_file: Option<String>,
    index: Option<usize>,
) -> Entry {
    Entry {
        version,
        file,
        state,
        checksum,
        recorded_checksum: row.map(|r| r.checksum.clone()),
        applied_at: row.map(|r| r.applied_at.clone()),
        execution_time_ms: row.map(|r| r.execution_time_ms),
        batch: row.map(|r| r.batch),
        applied_by: row.map(|r| r.applied_by.clone()),
        baselined: row.is_some_and(|r| r.baselined),
        error: row.filter(|r| !r.success).map(|r| RecordedError {
            message: r.error.clone().unwrap_or_default(),
            sqlstate: r.sqlstate.clone(),
            detail: r.error_detail.clone(),
            hint: r.error_hint.clone(),
            line: r.error_line,
            statement: r.error_statement.clone(),
        }),
        down_file,
        index,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::migrate::files::{Migration, Version};

    fn file(n: u64, checksum: &str) -> Migration {
        Migration {
            version: Version::Numeric(n),
            version_text: format!("{n:03}"),
            name: format!("m{n}"),
            file_name: format!("{n:03}_m{n}.sql"),
            path: PathBuf::from(format!("migrations/{n:03}_m{n}.sql")),
            checksum: checksum.to_owned(),
            sql: String::new(),
            down: None,
        }
    }

    fn row(id: i64, version: &str, checksum: &str, success: bool) -> TrackedRow {
        TrackedRow {
            id,
            version: version.to_owned(),
            name: String::new(),
            file: format!("{version}.sql"),
            checksum: checksum.to_owned(),
            batch: 1,
            success,
            baselined: false,
            applied_at: "2026-01-01T00:00:00Z".to_owned(),
            execution_time_ms: 1,
            applied_by: "u@h".to_owned(),
            error: (!success).then(|| "boom".to_owned()),
            sqlstate: None,
            error_detail: None,
            error_hint: None,
            error_line: None,
            error_statement: None,
        }
    }

    #[test]
    fn states_follow_from_files_and_rows() {
        let migrations = Migrations {
            dir: PathBuf::from("migrations"),
            convention: None,
            files: vec![
                file(1, "a"),
                file(2, "b-new"),
                file(3, "c"),
                file(4, "d"),
                file(5, "e"),
            ],
            down_files: Vec::new(),
        };
        let rows = vec![
            row(1, "1", "a", true),
            row(2, "2", "b-old", true),
            row(3, "3", "c", false),
            row(4, "9", "z", true),
            row(5, "4", "d", false),
            row(6, "4", "d", true),
            row(7, "0", "y", false),
        ];
        let got: Vec<(String, State)> = compute(&migrations, &rows)
            .into_iter()
            .map(|e| (e.version, e.state))
            .collect();
        let want = [
            ("1", State::Applied),
            ("2", State::Changed),
            ("3", State::Failed),
            ("4", State::Applied),
            ("5", State::Pending),
            ("9", State::Missing),
            ("0", State::Missing),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(v, s)| (v.to_string(), *s))
                .collect::<Vec<_>>()
        );
    }
}
