//! `reconcile shadow`: the pull-request rehearsal, as data.
//!
//! A pull request that adds migrations should show, before anyone merges it, that the
//! migrations apply from scratch, what the declarative desired state still differs by
//! afterwards, and whether the `verify/` invariants hold. The CLI runs the stages (a throwaway
//! PostgreSQL or an empty `--shadow-url` database, [`crate::migrate::apply`], the plan
//! pipeline, [`crate::assertions::run_with`]); this module holds what is independent of the
//! command line: the emptiness check of a given shadow database, the per-file outcome of the
//! migrations, and the report the renderers ([`crate::render::shadow`]) write.

use serde::Serialize;
use sqlx::PgConnection;

use crate::migrate::{ApplyReport, Failure, Migrations, Problem};
use crate::render;

/// Why a database cannot be used for the rehearsal.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error(
        "the shadow database is not empty ({what}); the rehearsal applies every migration from \
         the first one, so --shadow-url must name an empty database (a freshly created one) — \
         never a real one"
    )]
    NotEmpty { what: String },
    #[error("cannot check that the shadow database is empty: {0}")]
    Database(#[from] sqlx::Error),
}

/// Refuses a database that holds anything a migration could have created: a schema other
/// than `public`, or a relation, type or routine in a non-system schema (objects that belong
/// to an extension, e.g. one a managed provider installs everywhere, do not count).
pub async fn check_empty(conn: &mut PgConnection) -> Result<(), ShadowError> {
    let found: Option<String> = sqlx::query_scalar(
        "WITH user_ns AS (
             SELECT oid, nspname FROM pg_catalog.pg_namespace
              WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
         ),
         ext AS (
             SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
         )
         SELECT what FROM (
             SELECT 1 AS o, 'schema ' || quote_ident(nspname) AS what FROM user_ns n
              WHERE nspname <> 'public'
                AND NOT EXISTS (SELECT FROM ext WHERE classid = 'pg_catalog.pg_namespace'::regclass
                                                  AND objid = n.oid)
             UNION ALL
             SELECT 2, 'relation ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
               FROM pg_catalog.pg_class c JOIN user_ns n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
                AND NOT EXISTS (SELECT FROM ext WHERE classid = 'pg_catalog.pg_class'::regclass
                                                  AND objid = c.oid)
             UNION ALL
             SELECT 3, 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname)
               FROM pg_catalog.pg_type t JOIN user_ns n ON n.oid = t.typnamespace
              WHERE t.typtype IN ('e', 'd', 'r', 'm')
                AND NOT EXISTS (SELECT FROM ext WHERE classid = 'pg_catalog.pg_type'::regclass
                                                  AND objid = t.oid)
             UNION ALL
             SELECT 4, 'routine ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
               FROM pg_catalog.pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
              WHERE NOT EXISTS (SELECT FROM ext WHERE classid = 'pg_catalog.pg_proc'::regclass
                                                  AND objid = p.oid)
         ) found
         ORDER BY o, what
         LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        Some(what) => Err(ShadowError::NotEmpty { what }),
        None => Ok(()),
    }
}

/// What happened to one migration file in the rehearsal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    Applied,
    Failed,
    NotRun,
}

/// One migration file, in version order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileResult {
    pub version: String,
    pub file: String,
    pub outcome: FileOutcome,
    /// How long it ran (`None` when it did not run, or timings are off).
    pub duration_ms: Option<u64>,
}

/// The migrations stage: every file of the folder with its outcome, and why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrationRun {
    /// The folder as given (`migrations`).
    pub dir: String,
    /// Whether the folder exists (a missing default folder means no migrations).
    pub found: bool,
    pub files: Vec<FileResult>,
    /// The file that failed on the server: file, line, SQLSTATE, message.
    pub failure: Option<Failure>,
    /// Problems that made the runner refuse the files before running any (syntax errors,
    /// transaction control, statements that need the no-transaction header).
    pub refused: Vec<Problem>,
    /// All files together (`None` with timings off).
    pub duration_ms: Option<u64>,
}

impl MigrationRun {
    /// No migrations folder at `dir`.
    pub fn missing(dir: &str) -> Self {
        MigrationRun {
            dir: dir.to_owned(),
            found: false,
            ..MigrationRun::default()
        }
    }

    /// From the runner's report; `failed_ms` is how long the failing file ran.
    pub fn from_apply(
        dir: &str,
        migrations: &Migrations,
        report: &ApplyReport,
        failed_ms: Option<u64>,
        total_ms: u64,
    ) -> Self {
        let files = migrations
            .files
            .iter()
            .map(|m| {
                let version = m.version.key();
                let ran = report.applied.iter().find(|r| r.version == version);
                let failed = report
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.version == version);
                let (outcome, duration_ms) = match (ran, failed) {
                    (Some(r), _) => (FileOutcome::Applied, Some(r.duration_ms)),
                    (None, true) => (FileOutcome::Failed, failed_ms),
                    (None, false) => (FileOutcome::NotRun, None),
                };
                FileResult {
                    version,
                    file: m.file_name.clone(),
                    outcome,
                    duration_ms,
                }
            })
            .collect();
        MigrationRun {
            dir: dir.to_owned(),
            found: true,
            files,
            failure: report.failure.clone(),
            refused: Vec::new(),
            duration_ms: Some(total_ms),
        }
    }

    /// The runner refused the files: nothing ran.
    pub fn refused(dir: &str, migrations: &Migrations, problems: Vec<Problem>) -> Self {
        MigrationRun {
            dir: dir.to_owned(),
            found: true,
            files: migrations
                .files
                .iter()
                .map(|m| FileResult {
                    version: m.version.key(),
                    file: m.file_name.clone(),
                    outcome: FileOutcome::NotRun,
                    duration_ms: None,
                })
                .collect(),
            failure: None,
            refused: problems,
            duration_ms: None,
        }
    }

    /// Whether the migrations did not all apply.
    pub fn failed(&self) -> bool {
        self.failure.is_some() || !self.refused.is_empty()
    }

    pub fn applied(&self) -> usize {
        self.count(FileOutcome::Applied)
    }

    /// The files that did not run because of the failure, in order.
    pub fn not_run(&self) -> impl Iterator<Item = &FileResult> {
        self.files
            .iter()
            .filter(|f| f.outcome == FileOutcome::NotRun)
    }

    fn count(&self, outcome: FileOutcome) -> usize {
        self.files.iter().filter(|f| f.outcome == outcome).count()
    }

    /// Drops every duration (`--no-timings`: byte-identical reports for the same inputs).
    pub fn without_timings(mut self) -> Self {
        for f in &mut self.files {
            f.duration_ms = None;
        }
        self.duration_ms = None;
        self
    }

    /// `applied`, `failed` (a file failed on the server), `refused` or `none` (no files).
    pub fn status(&self) -> &'static str {
        if self.failure.is_some() {
            "failed"
        } else if !self.refused.is_empty() {
            "refused"
        } else if self.files.is_empty() {
            "none"
        } else {
            "applied"
        }
    }
}

/// The drift stage: the plan against the migrated database, or why it was not made.
#[derive(Debug, Clone, Copy)]
pub enum DriftCheck<'a> {
    Checked(render::Report<'a>),
    /// Not checked, and why (no desired-state folder; a migration failed).
    Skipped(&'a str),
}

/// Everything the rehearsal report shows.
#[derive(Debug, Clone, Copy)]
pub struct ShadowReport<'a> {
    /// Where it ran, never with a password or a temporary path (`a throwaway PostgreSQL`).
    pub database: &'a str,
    pub migrations: &'a MigrationRun,
    /// The desired-state folder as given (`schema`).
    pub schema_dir: &'a str,
    pub drift: DriftCheck<'a>,
    /// The assertions stage; `None` when it did not run because a migration failed.
    pub assertions: Option<render::Assertions<'a>>,
    /// The whole rehearsal, starting PostgreSQL included (`None` with timings off).
    pub total_ms: Option<u64>,
}

/// `850 ms`, `2.4 s`, `3 min 05 s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::{self, Ran};

    #[test]
    fn every_file_gets_an_outcome_in_order() {
        let dir = tempfile::tempdir().expect("folder");
        for name in ["001_a.sql", "002_b.sql", "003_c.sql", "004_d.sql"] {
            std::fs::write(dir.path().join(name), "SELECT 1;\n").expect("write");
        }
        let migrations = migrate::discover(dir.path()).expect("discover");
        let report = ApplyReport {
            applied: vec![Ran {
                version: "1".into(),
                file: "001_a.sql".into(),
                duration_ms: 12,
            }],
            failure: Some(Failure {
                version: "2".into(),
                file: "002_b.sql".into(),
                path: "migrations/002_b.sql".into(),
                line: Some(1),
                sqlstate: Some("42P01".into()),
                message: "nope".into(),
                detail: None,
                hint: None,
                statement: None,
            }),
            ..ApplyReport::default()
        };
        let run = MigrationRun::from_apply("migrations", &migrations, &report, Some(3), 20);
        let outcomes: Vec<(&str, FileOutcome, Option<u64>)> = run
            .files
            .iter()
            .map(|f| (f.file.as_str(), f.outcome, f.duration_ms))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("001_a.sql", FileOutcome::Applied, Some(12)),
                ("002_b.sql", FileOutcome::Failed, Some(3)),
                ("003_c.sql", FileOutcome::NotRun, None),
                ("004_d.sql", FileOutcome::NotRun, None),
            ]
        );
        assert!(run.failed());
        assert_eq!(run.status(), "failed");
        assert_eq!(run.not_run().count(), 2);
        let quiet = run.without_timings();
        assert!(quiet.files.iter().all(|f| f.duration_ms.is_none()));
        assert_eq!(quiet.duration_ms, None);
        let refused = MigrationRun::refused("migrations", &migrations, Vec::new());
        assert_eq!(refused.not_run().count(), 4);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_ms(7), "7 ms");
        assert_eq!(format_ms(2_449), "2.4 s");
        assert_eq!(format_ms(185_000), "3 min 05 s");
    }
}
