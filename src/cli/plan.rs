//! `reconcile plan` and `reconcile verify`: load, canonicalise, introspect, diff, plan,
//! render. Verify is the same pipeline on a read-only session.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::ValueEnum;

use reconcile::assertions::{self, Assertion, AssertionResult, Outcome, RunOptions};
use reconcile::diff::Severity;
use reconcile::introspect::{self, Scope};
use reconcile::load;
use reconcile::pipeline::{self, Drift};
use reconcile::plan::Plan;
use reconcile::render::{self, Format};

use super::out::{alert, note};

/// What makes `plan`/`verify` exit non-zero (besides errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding exits 3; pending additive steps exit 2.
    Any,
    /// Only destructive findings exit 3; pending steps exit 2.
    Destructive,
    /// Report only: exit 0 unless something fails.
    None,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Output format [default: from the --out file's extension (.sql, .json, .md), else text].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the output to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What fails the command: exit 3 for findings, 2 for pending steps (see README).
    #[arg(long, value_enum, default_value = "any")]
    pub fail_on: FailOn,
    /// Add a missing column even when an extra column of the same type could be its old name.
    #[arg(long)]
    pub no_rename_hints: bool,
    /// Report changed definitions PostgreSQL could replace in place (views, functions,
    /// triggers, policies, comments) as findings instead of planning the replace.
    #[arg(long)]
    pub no_replace: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub assertions: AssertionArgs,
}

/// The `verify/` assertion options (`verify` and `shadow`).
#[derive(Debug, clap::Args)]
pub struct AssertionArgs {
    /// Folder of assertion files: `*.sql`, each one read-only query that returns no rows when
    /// its invariant holds [default: verify; a missing default folder means no assertions].
    #[arg(long, value_name = "DIR")]
    pub verify_dir: Option<PathBuf>,
    /// Offending rows shown per failed assertion.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub assertion_rows: usize,
    /// statement_timeout of each assertion.
    #[arg(long, default_value = "30s", value_parser = super::apply::parse_duration)]
    pub assertion_timeout: std::time::Duration,
    /// Do not run the `verify/` assertions.
    #[arg(long, conflicts_with_all = ["verify_dir", "assertion_rows"])]
    pub no_assertions: bool,
}

impl AssertionArgs {
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            max_rows: self.assertion_rows,
            statement_timeout: self.assertion_timeout,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// Build indexes on existing tables without CONCURRENTLY (blocks writes while building).
    #[arg(long)]
    pub no_concurrently: bool,
}

pub async fn run_plan(global: &super::Global, args: &PlanArgs) -> anyhow::Result<super::Exit> {
    pipeline(global, &args.report, "plan", !args.no_concurrently, None).await
}

pub async fn run_verify(global: &super::Global, args: &VerifyArgs) -> anyhow::Result<super::Exit> {
    pipeline(global, &args.report, "verify", true, Some(args)).await
}

/// The default assertion folder, relative to the working directory like `schema`.
const DEFAULT_VERIFY_DIR: &str = "verify";

/// The assertions `verify` runs: none with `--no-assertions` or when the default folder does
/// not exist; an error when a folder given with `--verify-dir` does not.
pub fn load_assertions(args: &AssertionArgs) -> anyhow::Result<(String, Vec<Assertion>)> {
    let (dir, explicit) = match &args.verify_dir {
        Some(dir) => (dir.clone(), true),
        None => (PathBuf::from(DEFAULT_VERIFY_DIR), false),
    };
    let shown = dir.display().to_string();
    if args.no_assertions || (!explicit && !dir.exists()) {
        return Ok((shown, Vec::new()));
    }
    if !dir.is_dir() {
        anyhow::bail!("--verify-dir {shown}: no such folder");
    }
    Ok((shown, assertions::load_dir(&dir)?))
}

/// `verify`'s exit code: 1 when an assertion could not run, else the highest of 4 (an
/// assertion failed), 3 (drift) and 2 (pending) that applies, else 0.
pub fn verify_exit_code(drift_code: super::Exit, results: &[AssertionResult]) -> super::Exit {
    if results.iter().any(AssertionResult::errored) {
        super::Exit::Error
    } else if results.iter().any(AssertionResult::failed) {
        super::Exit::AssertionFailed
    } else {
        drift_code
    }
}

/// A loaded desired state with what is needed to point at its text: the files and where each
/// object was declared.
pub struct Desired {
    pub schema: reconcile::model::Schema,
    /// The statements of the `.sql` files.
    pub sql: Vec<load::SqlStatement>,
    pub positions: Positions,
}

/// The desired state's files and where each object was declared in them.
pub struct Positions {
    origins: load::Origins,
    sources: load::SourceFiles,
    /// What the `.sql` files declare, where.
    statements: Vec<(reconcile::model::ObjectId, load::Origin)>,
}

impl Positions {
    /// The desired state's first file, line 1: where findings about objects it does not
    /// declare are placed when a format needs a place for each (SARIF).
    pub fn first_file(&self) -> Option<(String, u32)> {
        self.sources
            .paths()
            .min()
            .map(|p| (p.display().to_string(), 1))
    }

    /// Where `object` is declared (a YAML key or a SQL statement).
    pub fn locate(&self, object: &reconcile::model::ObjectId) -> Option<load::Origin> {
        self.origins.find(object, &self.sources).or_else(|| {
            self.statements
                .iter()
                .find(|(declared, _)| declared == object)
                .map(|(_, origin)| origin.clone())
        })
    }
}

impl Desired {
    /// Loads the files (each error with its file:line).
    pub fn load(sources: Vec<(PathBuf, String)>) -> Result<Self, load::LoadErrors> {
        let clock = std::time::Instant::now();
        let located = load::from_sources_located(&sources)?;
        tracing::info!(
            "loaded {} desired tables in {:?}",
            located.schema.tables.len(),
            clock.elapsed()
        );
        Ok(Desired {
            schema: located.schema,
            sql: located.sql,
            positions: Positions {
                origins: located.origins,
                // The texts are dropped here (see `SourceFiles`).
                sources: load::SourceFiles::remember(&sources),
                statements: Vec::new(),
            },
        })
    }

    /// Reads and loads the desired-state folder (or file), refusing ignored schemas.
    pub fn read(global: &super::Global) -> anyhow::Result<Self> {
        let sources = load::read_dir(&global.schema_dir)?;
        load::reject_ignored(&sources, &global.ignore_schemas)?;
        Ok(Self::load(sources)?)
    }
}

impl Positions {
    /// An error the pipeline returned, with objects PostgreSQL rejected placed at their
    /// declarations (file:line, the server's message, DETAIL and HINT).
    pub fn explain(&self, error: pipeline::PipelineError) -> anyhow::Error {
        match error {
            pipeline::PipelineError::Rejected(rejections) => {
                let list: Vec<_> = rejections
                    .iter()
                    .map(|r| {
                        let mut message = r.error.message.clone();
                        if let Some(code) = &r.error.sqlstate {
                            message.push_str(&format!(" (SQLSTATE {code})"));
                        }
                        let help = [
                            r.error.detail.as_ref().map(|d| format!("DETAIL: {d}")),
                            r.error.hint.as_ref().map(|h| format!("HINT: {h}")),
                            Some(
                                "fix the desired state: nothing was planned or changed".to_owned(),
                            ),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ");
                        (r.object.clone(), message, Some(help))
                    })
                    .collect();
                load::rejected(&list, &self.origins, &self.sources).into()
            }
            pipeline::PipelineError::SqlRejected(rejected) => {
                let list: Vec<_> = rejected
                    .iter()
                    .map(|(statement, error)| {
                        let declared_twice = matches!(
                            error.sqlstate.as_deref(),
                            Some("42P07" | "42710" | "42723" | "42P06")
                        );
                        let first = statement
                            .declared_object()
                            .and_then(|object| self.origins.find(&object, &self.sources));
                        let message = match (&statement.declares, declared_twice, first) {
                            (Some((what, _)), true, Some(first)) => {
                                format!("{what} is declared twice (first at {first})")
                            }
                            (Some((what, _)), true, None) => {
                                format!("{what} is declared twice ({})", error.message)
                            }
                            // Built, but not something reconcile can manage yet.
                            _ if error.sqlstate.is_none() => error.to_string(),
                            _ => format!("PostgreSQL rejects this statement: {error}"),
                        };
                        let help = if declared_twice {
                            "keep one of the two declarations".to_owned()
                        } else {
                            "fix the statement: nothing was planned or changed".to_owned()
                        };
                        (statement.origin(), message, help)
                    })
                    .collect();
                load::at_statements(&list, &self.sources).into()
            }
            other => other.into(),
        }
    }
}

/// The drift pipeline ([`reconcile::pipeline::drift`]) on a connected target, with the scratch
/// database from `--dev-url`, the target's throwaway cluster, or a new throwaway.
pub async fn drift(
    global: &super::Global,
    desired: Desired,
    target: &mut super::connect::Target,
    read: Option<(Scope, introspect::Introspected)>,
    rename_hints: bool,
    concurrently: bool,
    replace: bool,
) -> anyhow::Result<(Drift, Positions)> {
    let mut scratch = super::connect::Scratch::new(global.dev_url.as_deref(), target)?;
    let options = pipeline::Options {
        rename_hints,
        concurrently,
        ignore_schemas: global.ignore_schemas.clone(),
        replace,
        ignore_objects: global.ignore_objects.clone(),
    };
    let Desired {
        schema,
        sql,
        mut positions,
    } = desired;
    positions.statements = sql
        .iter()
        .filter_map(|s| Some((s.declared_object()?, s.origin())))
        .collect();
    let drift = pipeline::drift(schema, &sql, &mut target.conn, read, &mut scratch, &options)
        .await
        .map_err(|e| positions.explain(e))?;
    Ok((drift, positions))
}

const LOADER_STOPPED: &str = "the desired-state loader stopped";

/// Loads the files on a thread of its own at the lowest scheduling priority. It runs while
/// the catalog is read: on a machine with few cores the parser otherwise takes turns with
/// the code that reads the server's rows, and the server waits on a full socket. At 10,000
/// tables on two cores that cost ~0.15 s of a 5.3 s plan (eight alternating pairs, see
/// docs/benchmarks.md); the YAML finishes a little later, still well before the catalog.
///
/// Loaded, the thread parses the `.sql` statements for the unchanged-statement check
/// (`canon::prepare_until`) until `catalog_read` is set: work the pipeline would otherwise do
/// after the catalog is read (~0.13 s at 10,000 statements).
fn load_in_background(
    sources: Vec<(PathBuf, String)>,
    catalog_read: Arc<AtomicBool>,
) -> anyhow::Result<tokio::sync::oneshot::Receiver<Result<Desired, load::LoadErrors>>> {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("yaml-loader".to_owned())
        .spawn(move || {
            lower_this_threads_priority();
            let desired = Desired::load(sources);
            if let Ok(desired) = &desired {
                reconcile::canon::prepare_until(&desired.sql, &catalog_read);
            }
            // The receiver is gone only when the run already failed.
            let _ = send.send(desired);
        })
        .context("cannot start the desired-state loader thread")?;
    Ok(receive)
}

fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: on Linux, PRIO_PROCESS with a thread id changes only that thread's nice value;
    // if it fails the thread keeps its priority, which is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
    }
}

async fn pipeline(
    global: &super::Global,
    args: &ReportArgs,
    command: &str,
    concurrently: bool,
    verify: Option<&VerifyArgs>,
) -> anyhow::Result<super::Exit> {
    let read_only = verify.is_some();
    let url = global.database_url.as_deref();
    let (desired, assertion_set, mut target, read) = if super::connect::names_a_database(url) {
        // The files are parsed while the catalog is read (in a READ ONLY transaction, which
        // changes nothing), in the schemas the files most likely name; bad input still stops
        // the run before anything else happens, and its errors win over the connection's.
        let sources = load::read_dir(&global.schema_dir)?;
        load::reject_ignored(&sources, &global.ignore_schemas)?;
        let scope = Scope::named(load::schema_names_hint(&sources), &global.ignore_schemas);
        let catalog_read = Arc::new(AtomicBool::new(false));
        let loading = load_in_background(sources, Arc::clone(&catalog_read))?;
        // Bad assertion files stop the run before connecting too (after the YAML's errors,
        // which come first, as when the two are checked in turn).
        let assertions = match verify.map(|v| load_assertions(&v.assertions)).transpose() {
            Ok(assertions) => assertions,
            Err(e) => {
                loading.await.context(LOADER_STOPPED)??;
                return Err(e);
            }
        };
        let reading = async {
            let (mut target, mut helper) = super::connect::plan_target_and_helper(url).await?;
            if read_only {
                target.make_read_only().await?;
            }
            let live = pipeline::read_catalog(&mut target.conn, helper.as_mut(), &scope).await;
            catalog_read.store(true, Ordering::Relaxed);
            let live = live?;
            if let Some(helper) = helper {
                // Read only: how it closes changes nothing.
                let _ = sqlx::Connection::close(helper).await;
            }
            anyhow::Ok((target, live))
        };
        let (loaded, read) = tokio::join!(loading, reading);
        let desired = loaded.context(LOADER_STOPPED)??;
        let (target, live) = read?;
        (desired, assertions, target, Some((scope, live)))
    } else {
        // Bad input stops here, before a throwaway PostgreSQL is started.
        let desired = Desired::read(global)?;
        let assertions = verify.map(|v| load_assertions(&v.assertions)).transpose()?;
        let mut target = if read_only {
            // An audit of an empty throwaway would prove nothing.
            super::connect::target(url, command).await?
        } else {
            super::connect::plan_target(url).await?
        };
        if target.throwaway {
            note!(
                "note: no --database-url or DATABASE_URL given{}; using {}",
                super::connect::empty_url_hint(url),
                target.description
            );
        }
        if read_only {
            target.make_read_only().await?;
        }
        (desired, assertions, target, None)
    };
    let (drift, positions) = drift(
        global,
        desired,
        &mut target,
        read,
        !args.no_rename_hints,
        concurrently,
        !args.no_replace,
    )
    .await?;
    let plan = &drift.plan;
    let assertion_results = match (&assertion_set, verify) {
        (Some((_, list)), Some(v)) if !list.is_empty() => {
            assertions::run_with(&mut target.conn, list, &v.assertions.run_options())
                .await
                .context("cannot run the verify assertions")?
        }
        _ => Vec::new(),
    };
    let assertion_report = match (&assertion_set, verify) {
        (Some((dir, _)), Some(v)) => Some(render::Assertions {
            dir,
            skipped: v.assertions.no_assertions,
            results: &assertion_results,
        }),
        _ => None,
    };
    let report = drift.report(command, &target.description);
    let format = args.format.unwrap_or_else(|| {
        match args
            .out
            .as_ref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
        {
            Some("sql") => Format::Sql,
            Some("json") => Format::Json,
            Some("md" | "markdown") => Format::Markdown,
            Some("dot" | "gv") => Format::Dot,
            Some("sarif") => Format::Sarif,
            _ => Format::Text,
        }
    });
    let clock = std::time::Instant::now();
    let locate = |object: &reconcile::model::ObjectId| {
        positions
            .locate(object)
            .map(|o| (o.file.display().to_string(), o.line))
    };
    let render_to = |out: &mut dyn Write, color: bool| -> std::io::Result<()> {
        let mut out = out;
        match format {
            Format::Github => render::github::render(&report, &locate, &mut out),
            Format::Sarif => {
                let fallback = positions
                    .first_file()
                    .unwrap_or_else(|| (global.schema_dir.display().to_string(), 1));
                render::sarif::plan(&report, &locate, fallback, &mut out)
            }
            _ => render::render_with(format, &report, assertion_report.as_ref(), color, &mut out),
        }
    };
    match &args.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            let mut out = BufWriter::new(file);
            render_to(&mut out, false)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            note!(
                "wrote the {command} to {}: {}",
                path.display(),
                render::Summary::of(plan).line()
            );
            if let Some(a) = &assertion_report {
                note!("{}", a.line());
            }
        }
        None => {
            let mut out = super::out::stdout();
            render_to(&mut out, global.color.enabled())?;
            out.flush()?;
        }
    }
    super::github::append_step_summary(|out| {
        render::render_with(
            Format::Markdown,
            &report,
            assertion_report.as_ref(),
            false,
            out,
        )
    })?;
    tracing::info!("rendered in {:?}", clock.elapsed());
    let code = exit_code(plan, args.fail_on);
    let code = match verify {
        None => code,
        Some(_) => {
            report_assertion_errors(&assertion_results);
            verify_exit_code(code, &assertion_results)
        }
    };
    // The process exits next: freeing models of tens of thousands of objects one allocation at
    // a time would only delay that (~2% of a plan's time).
    std::mem::forget(drift);
    std::mem::forget(positions);
    Ok(code)
}

/// 3 when a finding fails the run, else 2 when steps are pending, else 0.
pub fn exit_code(plan: &Plan, fail_on: FailOn) -> super::Exit {
    let failing_finding = match fail_on {
        FailOn::Any => !plan.findings.is_empty(),
        FailOn::Destructive => plan
            .findings
            .iter()
            .any(|f| f.severity == Severity::Destructive),
        FailOn::None => return super::Exit::InSync,
    };
    if failing_finding {
        super::Exit::Drift
    } else if !plan.steps.is_empty() {
        super::Exit::Pending
    } else {
        super::Exit::InSync
    }
}

/// One stderr line per assertion that could not run (`verify` and `shadow` then exit 1).
pub(super) fn report_assertion_errors(results: &[AssertionResult]) {
    for r in results {
        if let Outcome::Error {
            sqlstate,
            message,
            line,
        } = &r.outcome
        {
            alert!(
                "error: assertion {}:{line} could not run: {}{message}",
                r.path.display(),
                sqlstate
                    .as_deref()
                    .map(|s| format!("SQLSTATE {s}: "))
                    .unwrap_or_default()
            );
        }
    }
}
