//! `reconcile apply [PLAN_FILE]`: under the advisory lock, plan (or load a reviewed plan and
//! check it still fits the database), execute, record history, and verify the result.
//! `reconcile history`: the recent runs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use reconcile::apply::execute::{self, Recorder};
use reconcile::apply::history::Outcome;
use reconcile::apply::{ExecOptions, History, Progress, Timeouts, lock, planfile};
use reconcile::diff::{self, Severity};
use reconcile::introspect;
use reconcile::model::Ident;
use reconcile::pipeline::{self, Drift};
use reconcile::plan::{self, Step};
use reconcile::render::{self, Format};

use super::out::{alert, note};
use super::plan::FailOn;

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A reviewed plan file (`reconcile plan --format json --out FILE`). Without it, apply
    /// plans afresh from the desired state.
    pub plan_file: Option<PathBuf>,
    /// When the database changed since the plan file was made, plan afresh (from the desired
    /// state in the file) instead of refusing.
    #[arg(long, requires = "plan_file")]
    pub replan: bool,
    #[command(flatten)]
    pub options: ApplyOptions,
}

impl std::ops::Deref for ApplyArgs {
    type Target = ApplyOptions;

    fn deref(&self) -> &ApplyOptions {
        &self.options
    }
}

/// How `apply` applies (also each target of `fleet apply`).
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyOptions {
    /// How long to wait for another apply to finish.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub wait_lock: Duration,
    /// How long a step may wait for a table lock before it is retried.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Statement timeout of ordinary steps.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub statement_timeout: Duration,
    /// Statement timeout of index builds, validations and table rewrites.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub long_statement_timeout: Duration,
    /// Retries of a step that hit a lock timeout (exponential backoff with jitter).
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// Take the lock, check the plan, print what would run; execute nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Build indexes on existing tables without CONCURRENTLY (blocks writes while building).
    #[arg(long)]
    pub no_concurrently: bool,
    /// Refuse to apply (exit 3, nothing executed) when findings of this kind are present.
    /// By default findings are reported and recorded but never block additive steps.
    #[arg(long, value_enum, default_value = "none")]
    pub fail_on: FailOn,
    /// Add a missing column even when an extra column of the same type could be its old name.
    #[arg(long)]
    pub no_rename_hints: bool,
    /// Leave changed definitions PostgreSQL could replace in place (views, functions,
    /// triggers, policies, comments) as findings: replace nothing.
    #[arg(long)]
    pub no_replace: bool,
    /// Schema of the history tables in the target database.
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    /// Schema of the history tables.
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

/// `500ms`, `3s`, `5m`, `1h`, or plain seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 3s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ms, s, m or h"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Terminal: a progress bar. Elsewhere (CI logs): one plain line per event. With `-q`,
/// nothing (the lines are notes).
enum Reporter {
    Bar(ProgressBar),
    Lines,
    /// One target of a fleet: its report speaks for it.
    Silent,
}

impl Reporter {
    fn new(total: usize, silent: bool) -> Self {
        if silent {
            Reporter::Silent
        } else if std::io::stderr().is_terminal() && !super::out::quiet() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Reporter::Bar(bar)
        } else {
            Reporter::Lines
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn step_started(&mut self, step: &Step, total: usize) {
        match self {
            Reporter::Bar(bar) => bar.set_message(format!(
                "{}: {}",
                step.object,
                step.sql.lines().next().unwrap_or_default()
            )),
            Reporter::Lines => note!("[{}/{total}] {} ...", step.number, step.object),
            Reporter::Silent => {}
        }
    }

    fn step_finished(&mut self, step: &Step, elapsed: Duration) {
        match self {
            Reporter::Bar(bar) => bar.inc(1),
            Reporter::Lines => note!(
                "[{}] {} done in {} ms",
                step.number,
                step.object,
                elapsed.as_millis()
            ),
            Reporter::Silent => {}
        }
    }

    fn step_skipped(&mut self, step: &Step, message: &str) {
        let line = format!("[{}] {} skipped: {message}", step.number, step.object);
        match self {
            Reporter::Bar(bar) => {
                bar.inc(1);
                bar.println(line);
            }
            Reporter::Lines => note!("{line}"),
            Reporter::Silent => {}
        }
    }

    fn retrying(&mut self, steps: &[Step], attempt: u32, delay: Duration, reason: &str) {
        let first = steps.first().map_or(0, |s| s.number);
        let line = format!(
            "step {first} hit a lock timeout ({reason}); retry {attempt} in {} ms",
            delay.as_millis()
        );
        match self {
            Reporter::Bar(bar) => bar.println(line),
            Reporter::Lines => note!("{line}"),
            Reporter::Silent => {}
        }
    }
}

/// What to apply: a fresh plan from the YAML, or a reviewed file — or, for `fleet apply`,
/// the desired state already canonicalised once for every target, with the fleet's shared
/// scratch database.
pub(super) enum Source {
    Desired(Box<super::plan::Desired>),
    File(Box<planfile::PlanFile>),
    Canonical(Box<reconcile::model::Schema>, super::fleet::Borrowed),
}

/// What a run came to, also when it failed: `fleet apply` reports each target's plan and
/// the history run it recorded.
#[derive(Default)]
pub(super) struct Observed {
    pub plan: Option<plan::Plan>,
    pub run: Option<i64>,
}

/// A note on stderr, unless the run is one target of a fleet (whose report says it all:
/// concurrent targets' lines would interleave).
macro_rules! say {
    ($silent:expr, $($arg:tt)*) => {
        if !$silent {
            note!($($arg)*)
        }
    };
}

pub async fn run(global: &super::Global, args: &ApplyArgs) -> anyhow::Result<super::Exit> {
    // Bad input stops here, before any connection is made.
    let source = match &args.plan_file {
        Some(path) if path.to_string_lossy().contains("://") => {
            // Never echo it: a URL may carry a password.
            anyhow::bail!(
                "the plan file argument looks like a database URL; pass the database with \
                 --database-url (or DATABASE_URL) and the plan file, if any, as the argument"
            )
        }
        Some(path) => Source::File(Box::new(planfile::read(path)?)),
        None => Source::Desired(Box::new(super::plan::Desired::read(global)?)),
    };
    let history_schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let mut target = super::connect::target(global.database_url.as_deref(), "apply").await?;
    apply_to(
        global,
        args,
        args.replan,
        history_schema,
        source,
        &mut target,
        &mut Observed::default(),
    )
    .await
}

/// Applies `source` to the connected `target`: everything `apply` does once it knows what
/// and where — the lock, the history, planning, the refusal by `--fail-on`, execution and
/// verification. `fleet apply` calls it for each target (silently: its report speaks).
pub(super) async fn apply_to(
    global: &super::Global,
    args: &ApplyOptions,
    replan: bool,
    history_schema: Ident,
    source: Source,
    target: &mut super::connect::Target,
    observed: &mut Observed,
) -> anyhow::Result<super::Exit> {
    let silent = matches!(source, Source::Canonical(..));
    let mut lock_conn = target.another().await?;
    if lock::behind_transaction_pooler(&mut lock_conn).await? {
        note!(
            "warning: {} looks like a transaction-pooling proxy (consecutive statements reached \
             different server sessions); the advisory lock that keeps applies apart does not \
             hold there — connect to the database directly (e.g. port 5432, not 6543)",
            target.description
        );
    }
    lock::acquire(&mut lock_conn, args.wait_lock, |holder| {
        say!(
            silent,
            "waiting up to {:?} for the apply lock: {holder}",
            args.wait_lock
        );
    })
    .await?;

    let history = History::new(history_schema.clone());
    if !args.dry_run {
        history
            .ensure(&mut lock_conn)
            .await
            .context("cannot create the history tables")?;
    }

    let mut ignore = global.ignore_schemas.clone();
    ignore.push(history_schema.as_str().to_owned());
    let planning = pipeline::Options {
        rename_hints: !args.no_rename_hints,
        concurrently: !args.no_concurrently,
        ignore_schemas: ignore,
        replace: !args.no_replace,
        ignore_objects: global.ignore_objects.clone(),
    };
    let drift = match source {
        Source::Desired(desired) => {
            let mut scratch = super::connect::Scratch::new(global.dev_url.as_deref(), target)?;
            let super::plan::Desired {
                schema,
                sql,
                positions,
            } = *desired;
            pipeline::drift(
                schema,
                &sql,
                &mut target.conn,
                None,
                &mut scratch,
                &planning,
            )
            .await
            .map_err(|e| positions.explain(e))?
        }
        Source::Canonical(desired, mut scratch) => {
            pipeline::drift(
                *desired,
                &[],
                &mut target.conn,
                None,
                &mut scratch,
                &planning,
            )
            .await?
        }
        Source::File(file) => {
            let (file_plan, models) = file.into_plan();
            let scope = pipeline::scope(&models.desired, &planning);
            let live = pipeline::read_catalog(&mut target.conn, None, &scope).await?;
            let now = plan::fingerprint(&live.schema);
            if now == file_plan.fingerprint {
                // Exactly the reviewed plan, shown against the live state it was made from.
                Drift {
                    aligned: models.live,
                    desired: models.desired,
                    plan: file_plan,
                    skipped: live.skipped,
                    scope,
                    estimated_rows: live.estimated_rows,
                    invalid_indexes: live.invalid_indexes,
                }
            } else if replan {
                note!(
                    "note: the database changed since the plan was made; planning afresh (--replan)"
                );
                let mut scratch = super::connect::Scratch::new(global.dev_url.as_deref(), target)?;
                pipeline::drift_from(models.desired, &[], live, scope, &mut scratch, &planning)
                    .await?
            } else {
                let changes = planfile::what_changed(&models.live, &live.schema);
                let message = format!(
                    "the database changed since the plan was made (fingerprint {} → {now}):\n{}\n\
                     Review a new plan, or pass --replan to plan afresh.",
                    file_plan.fingerprint,
                    changes
                        .iter()
                        .map(|c| format!("  - {c}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                if !args.dry_run {
                    let run = history
                        .start(
                            &mut lock_conn,
                            &file_plan.fingerprint,
                            file_plan.steps.len(),
                            "[]",
                        )
                        .await?;
                    history
                        .finish(&mut lock_conn, run, Outcome::Refused, 0, Some(&message))
                        .await?;
                }
                anyhow::bail!(message);
            }
        }
    };
    observed.plan = Some(drift.plan.clone());
    // The plan shown before it runs is part of the progress: `-q` leaves it out.
    if !super::out::quiet() && !silent {
        let report = drift.report("apply", &target.description);
        let mut out = super::out::stdout();
        render::render(Format::Text, &report, global.color.enabled(), &mut out)?;
        out.flush()?;
    }
    if !silent {
        super::github::append_step_summary(|out| {
            let report = drift.report("apply", &target.description);
            render::render(Format::Markdown, &report, false, out)
        })?;
    }
    let plan = &drift.plan;
    let findings_json = serde_json::to_string(&plan.findings)?;
    let blocking = match args.fail_on {
        FailOn::Any => !plan.findings.is_empty(),
        FailOn::Destructive => plan
            .findings
            .iter()
            .any(|f| f.severity == Severity::Destructive),
        FailOn::None => false,
    };
    if blocking {
        let message = format!(
            "refusing to apply: findings present and --fail-on {:?}",
            args.fail_on
        )
        .to_lowercase();
        if !args.dry_run {
            let run = history
                .start(
                    &mut lock_conn,
                    &plan.fingerprint,
                    plan.steps.len(),
                    &findings_json,
                )
                .await?;
            history
                .finish(&mut lock_conn, run, Outcome::Refused, 0, Some(&message))
                .await?;
        }
        if !silent {
            alert!("{message}");
        }
        return Ok(super::Exit::Drift);
    }
    if args.dry_run {
        say!(
            silent,
            "dry run: {} step(s) would run; nothing was executed",
            plan.steps.len()
        );
        return Ok(if plan.steps.is_empty() {
            super::Exit::InSync
        } else {
            super::Exit::Pending
        });
    }

    let run = history
        .start(
            &mut lock_conn,
            &plan.fingerprint,
            plan.steps.len(),
            &findings_json,
        )
        .await?;
    observed.run = Some(run);
    if plan.steps.is_empty() {
        history
            .finish(&mut lock_conn, run, Outcome::NoOp, 0, None)
            .await?;
        say!(silent, "nothing to apply (run {run} recorded as a no-op)");
        return Ok(super::Exit::InSync);
    }
    let options = ExecOptions {
        timeouts: Timeouts {
            lock: args.lock_timeout,
            statement: args.statement_timeout,
            long_statement: args.long_statement_timeout,
        },
        retries: args.retries,
        ..ExecOptions::default()
    };
    let started = Instant::now();
    let mut progress = Reporter::new(plan.steps.len(), silent);
    let result = execute::execute(
        &mut target.conn,
        plan,
        &options,
        Some(Recorder {
            history: &history,
            conn: &mut lock_conn,
            run,
        }),
        &mut progress,
    )
    .await;
    progress.finish();
    let executed = match result {
        Ok(done) => done,
        Err(e) => {
            let message = super::errors::plain(&e);
            let committed = match &e {
                execute::ExecError::Step { executed, .. } => *executed,
                _ => 0,
            };
            history
                .finish(
                    &mut lock_conn,
                    run,
                    Outcome::Failed,
                    committed,
                    Some(&message),
                )
                .await?;
            return Err(e.into());
        }
    };

    // Verify: the database must now match every additive part of the desired state.
    let after = introspect::schema(&mut target.conn, &drift.scope).await?;
    let diff_options = diff::Options {
        rename_hints: planning.rename_hints,
        unmanaged_tables: after.unmanaged_tables.clone(),
        ..Default::default()
    };
    let remaining = diff::diff(&after.schema, &drift.desired, &diff_options);
    let steps = executed.steps;
    // What a skipped step would have created is expected to be missing still; anything else
    // missing is a failure.
    let unexpected: Vec<String> = remaining
        .additive
        .iter()
        .map(|c| c.object())
        .filter(|o| !executed.skipped.iter().any(|s| o.within(&s.object)))
        .map(|o| format!("  - {o}"))
        .collect();
    if !unexpected.is_empty() {
        let message = format!(
            "applied {steps} step(s), but these changes are still pending:\n{}",
            unexpected.join("\n")
        );
        history
            .finish(&mut lock_conn, run, Outcome::Failed, steps, Some(&message))
            .await?;
        anyhow::bail!(message);
    }
    if !executed.skipped.is_empty() {
        let list: Vec<String> = executed
            .skipped
            .iter()
            .map(|s| format!("  - step {} ({}): {}", s.number, s.object, s.message))
            .collect();
        let message = format!(
            "{} of {steps} step(s) skipped: the database rejected them (they use something the \
             scratch server could not check, hazard H012); still pending:\n{}",
            executed.skipped.len(),
            list.join("\n")
        );
        history
            .finish(&mut lock_conn, run, Outcome::Partial, steps, Some(&message))
            .await?;
        if silent {
            return Ok(super::Exit::Pending);
        }
        super::github::append_line(&format!(
            "**apply: partial** (run {run}): {} of {steps} step(s) skipped, see the log",
            executed.skipped.len()
        ))?;
        alert!("{message}\n(run {run} recorded as partial)");
        return Ok(super::Exit::Pending);
    }
    history
        .finish(&mut lock_conn, run, Outcome::Applied, steps, None)
        .await?;
    if silent {
        return Ok(super::Exit::InSync);
    }
    super::github::append_line(&format!(
        "**apply: applied** {steps} step(s); verified, nothing additive pending (run {run})"
    ))?;
    note!(
        "applied {steps} step(s) in {:.1} s; verified: no additive change pending (run {run})",
        started.elapsed().as_secs_f64()
    );
    Ok(super::Exit::InSync)
}

pub async fn history(global: &super::Global, args: &HistoryArgs) -> anyhow::Result<super::Exit> {
    let schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let mut target = super::connect::target(global.database_url.as_deref(), "history").await?;
    let runs = History::new(schema)
        .recent(&mut target.conn, args.limit)
        .await
        .context("cannot read the run history")?;
    let mut out = super::out::stdout();
    match args.format {
        HistoryFormat::Json => {
            reconcile::render::pretty_json::to_writer(&mut out, &runs)?;
            writeln!(out)?;
        }
        HistoryFormat::Text if runs.is_empty() => {
            writeln!(out, "no runs recorded in {}", target.description)?;
        }
        HistoryFormat::Text => {
            writeln!(
                out,
                "{:>5}  {:<20}  {:>9}  {:<8}  {:>5}  {:>8}  applied by",
                "run", "started (UTC)", "took", "outcome", "steps", "findings"
            )?;
            for r in &runs {
                let took = if r.duration_ms < 0 {
                    "running".to_owned()
                } else {
                    format!("{:.1} s", r.duration_ms as f64 / 1000.0)
                };
                writeln!(
                    out,
                    "{:>5}  {:<20}  {:>9}  {:<8}  {:>2}/{:<2}  {:>8}  {} (reconcile {})",
                    r.id,
                    r.started,
                    took,
                    r.outcome,
                    r.steps_executed,
                    r.steps_planned,
                    r.findings,
                    r.applied_by,
                    r.tool_version
                )?;
                if let Some(error) = &r.error {
                    writeln!(out, "       {}", error.lines().next().unwrap_or_default())?;
                }
            }
        }
    }
    out.flush()?;
    Ok(super::Exit::InSync)
}
