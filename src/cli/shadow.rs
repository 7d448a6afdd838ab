//! `reconcile shadow`: the pull-request rehearsal (docs/shadow.md). Applies every migration to
//! an empty database (a throwaway PostgreSQL, or `--shadow-url`), plans the desired state
//! against the result with the same pipeline as `plan`, runs the `verify/` assertions, and
//! writes one report. Thin: the stages are library calls; here are the flags, the signal
//! handling that guarantees the throwaway cluster never outlives the command, and the exit
//! code.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use reconcile::assertions::{self, Assertion, AssertionResult};
use reconcile::migrate::{self, ApplyOptions, MigrateError, Migration, Migrations};
use reconcile::model::Ident;
use reconcile::render;
use reconcile::render::shadow::ShadowFormat;
use reconcile::shadow::{self, DriftCheck, MigrationRun, ShadowReport};

use super::out::{alert, note};
use super::plan::{AssertionArgs, FailOn};

/// The default migrations folder, relative to the working directory like `schema`.
const DEFAULT_MIGRATIONS: &str = "migrations";

#[derive(Debug, clap::Args)]
pub struct ShadowArgs {
    /// Folder of migration files, applied in version order [default: migrations; a missing
    /// default folder means no migrations].
    #[arg(long, value_name = "DIR")]
    pub migrations: Option<PathBuf>,
    /// Rehearse in this empty database instead of a throwaway PostgreSQL (it must be empty,
    /// and is left migrated). Never the global --database-url, which names a real database.
    #[arg(
        long,
        env = "RECONCILE_SHADOW_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub shadow_url: Option<String>,
    /// Report format [default: from the --out file's extension (.md, .json), else text].
    #[arg(long, value_enum)]
    pub format: Option<ShadowFormat>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What drift left after the migrations fails the run: `any` finding exits 3 and pending
    /// steps exit 2; `destructive`: only destructive findings exit 3 (pending steps still
    /// exit 2); `none`: drift is reported only.
    #[arg(long, value_enum, default_value = "any")]
    pub fail_on_drift: FailOn,
    /// Add a missing column even when an extra column of the same type could be its old name.
    #[arg(long)]
    pub no_rename_hints: bool,
    /// Leave durations out of the report (byte-identical reports for the same inputs).
    #[arg(long)]
    pub no_timings: bool,
    #[command(flatten)]
    pub assertions: AssertionArgs,
    /// Statement timeout of each migration statement.
    #[arg(long, default_value = "1m", value_parser = super::apply::parse_duration)]
    pub statement_timeout: Duration,
    /// Schema of the migrations tracking table in the shadow database.
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
}

/// Everything read and checked before PostgreSQL starts.
struct Inputs {
    desired: Option<super::plan::Desired>,
    schema_dir: String,
    assertions: (String, Vec<Assertion>),
    migrations: Option<Migrations>,
    migrations_dir: String,
    history_schema: Ident,
}

pub async fn run(global: &super::Global, args: &ShadowArgs) -> anyhow::Result<super::Exit> {
    let clock = Instant::now();
    // Bad input stops here, before PostgreSQL starts.
    let mut inputs = inputs(global, args)?;
    // DATABASE_URL in the environment is normal in CI and simply not used; a --database-url
    // given on the command line was probably meant as the shadow database.
    let from_env = std::env::var("DATABASE_URL").ok();
    if global
        .database_url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty() && Some(u) != from_env.as_deref())
    {
        note!(
            "note: `reconcile shadow` never connects to --database-url (a real database); it \
             rehearses on a throwaway PostgreSQL, or on the empty database given with \
             --shadow-url"
        );
    }
    // Handlers first: from here on a signal ends the rehearsal through the select below,
    // which drops (stops and deletes) the throwaway cluster before the process exits. The
    // cluster's reaper process would clean up after any other death too, but only after it.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let left = if args.shadow_url.is_some() {
        "the shadow database is left as it was"
    } else {
        "the throwaway PostgreSQL was removed"
    };
    tokio::select! {
        result = rehearse(global, args, &mut inputs, clock) => result,
        _ = interrupt.recv() => {
            alert!("interrupted (SIGINT): the rehearsal stopped; {left}");
            Ok(super::Exit::Interrupted)
        }
        _ = terminate.recv() => {
            alert!("terminated (SIGTERM): the rehearsal stopped; {left}");
            Ok(super::Exit::Terminated)
        }
    }
}

fn inputs(global: &super::Global, args: &ShadowArgs) -> anyhow::Result<Inputs> {
    let schema_dir = global.schema_dir.display().to_string();
    let desired = if global.schema_dir.exists() {
        Some(super::plan::Desired::read(global)?)
    } else {
        None
    };
    let assertions = super::plan::load_assertions(&args.assertions)?;
    let (dir, explicit) = match &args.migrations {
        Some(dir) => (dir.clone(), true),
        None => (PathBuf::from(DEFAULT_MIGRATIONS), false),
    };
    let migrations_dir = dir.display().to_string();
    let migrations = if dir.exists() {
        Some(migrate::discover(&dir)?)
    } else if explicit {
        anyhow::bail!("--migrations {migrations_dir}: no such folder");
    } else {
        None
    };
    let history_schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    Ok(Inputs {
        desired,
        schema_dir,
        assertions,
        migrations,
        migrations_dir,
        history_schema,
    })
}

/// Lines on stderr as files run; remembers when the current file started.
struct Lines {
    quiet: bool,
    current: Option<Instant>,
}

impl migrate::Progress for Lines {
    fn started(&mut self, m: &Migration, number: usize, total: usize) {
        self.current = Some(Instant::now());
        if !self.quiet {
            note!("[{number}/{total}] {} ...", m.file_name);
        }
    }
    fn finished(&mut self, m: &Migration, elapsed: Duration) {
        if !self.quiet {
            note!("  {} done in {} ms", m.file_name, elapsed.as_millis());
        }
    }
    fn retrying(&mut self, m: &Migration, attempt: u32, delay: Duration, why: &str) {
        if !self.quiet {
            note!(
                "  {} hit a lock timeout ({why}); retry {attempt} in {} ms",
                m.file_name,
                delay.as_millis()
            );
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn rehearse(
    global: &super::Global,
    args: &ShadowArgs,
    inputs: &mut Inputs,
    clock: Instant,
) -> anyhow::Result<super::Exit> {
    let mut target = super::connect::shadow(args.shadow_url.as_deref()).await?;
    let database = if target.throwaway {
        "a throwaway PostgreSQL".to_owned()
    } else {
        target.description.clone()
    };
    match &target._cluster {
        Some(cluster) => tracing::info!(
            "rehearsing on {} (data directory {})",
            target.description,
            cluster.data_dir().display()
        ),
        None => shadow::check_empty(&mut target.conn).await?,
    }

    let run = match &inputs.migrations {
        None => MigrationRun::missing(&inputs.migrations_dir),
        Some(migrations) => {
            let options = ApplyOptions {
                history_schema: inputs.history_schema.clone(),
                statement_timeout: args.statement_timeout,
                ..ApplyOptions::default()
            };
            let mut lines = Lines {
                quiet: global.quiet,
                current: None,
            };
            let started = Instant::now();
            match migrate::apply(&mut target.conn, migrations, &options, &mut lines).await {
                Ok(report) => {
                    let failed_ms = report
                        .failure
                        .as_ref()
                        .and(lines.current)
                        .map(|s| millis(s.elapsed()));
                    MigrationRun::from_apply(
                        &inputs.migrations_dir,
                        migrations,
                        &report,
                        failed_ms,
                        millis(started.elapsed()),
                    )
                }
                Err(MigrateError::Invalid(problems)) => {
                    MigrationRun::refused(&inputs.migrations_dir, migrations, problems)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let run = if args.no_timings {
        run.without_timings()
    } else {
        run
    };
    let failed = run.failed();
    if !failed {
        // A fresh session: settings a migration made with plain SET (search_path, ...) must
        // not change how the catalog is read or the assertions run.
        target.conn = target.another().await?;
    }

    let drift = match (inputs.desired.take(), failed) {
        (Some(desired), false) => Some(
            super::plan::drift(
                global,
                desired,
                &mut target,
                None,
                !args.no_rename_hints,
                true,
                true,
            )
            .await?
            .0,
        ),
        _ => None,
    };
    let no_schema = format!(
        "there is no desired state at {} (--schema-dir)",
        inputs.schema_dir
    );
    let skipped = if failed {
        "a migration failed"
    } else {
        no_schema.as_str()
    };

    let (assertion_dir, list) = &inputs.assertions;
    let results: Vec<AssertionResult> = if failed || list.is_empty() {
        Vec::new()
    } else {
        assertions::run_with(&mut target.conn, list, &args.assertions.run_options())
            .await
            .context("cannot run the verify assertions")?
    };
    let report = ShadowReport {
        database: &database,
        migrations: &run,
        schema_dir: &inputs.schema_dir,
        drift: match &drift {
            Some(d) => DriftCheck::Checked(d.report("shadow", &database)),
            None => DriftCheck::Skipped(skipped),
        },
        assertions: (!failed).then_some(render::Assertions {
            dir: assertion_dir,
            skipped: args.assertions.no_assertions,
            results: &results,
        }),
        total_ms: (!args.no_timings).then(|| millis(clock.elapsed())),
    };
    write_report(global, args, &report)?;

    if let Some(failure) = &run.failure {
        alert!(
            "error: the rehearsal stopped at a failed migration: {failure}\n{} file(s) not run",
            run.not_run().count()
        );
        return Ok(super::Exit::MigrationFailed);
    }
    if failed {
        alert!(
            "error: the migration files were refused before any ran ({} problem(s))",
            run.refused.len()
        );
        return Ok(super::Exit::MigrationFailed);
    }
    super::plan::report_assertion_errors(&results);
    let drift_code = drift.as_ref().map_or(super::Exit::InSync, |d| {
        super::plan::exit_code(&d.plan, args.fail_on_drift)
    });
    Ok(super::plan::verify_exit_code(drift_code, &results))
}

fn format_of(args: &ShadowArgs) -> ShadowFormat {
    args.format.unwrap_or_else(|| {
        match args
            .out
            .as_deref()
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
        {
            Some("md" | "markdown") => ShadowFormat::Markdown,
            Some("json") => ShadowFormat::Json,
            _ => ShadowFormat::Text,
        }
    })
}

fn write_report(
    global: &super::Global,
    args: &ShadowArgs,
    report: &ShadowReport,
) -> anyhow::Result<()> {
    let format = format_of(args);
    match &args.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            let mut out = BufWriter::new(file);
            render::shadow::render(format, report, false, &mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            note!("wrote the shadow report to {}", path.display());
        }
        None => {
            let mut out = super::out::stdout();
            render::shadow::render(format, report, global.color.enabled(), &mut out)?;
            out.flush()?;
        }
    }
    super::github::append_step_summary(|out| {
        render::shadow::render(ShadowFormat::Markdown, report, false, out)
    })
}
