//! `reconcile fleet verify | apply | targets` and `reconcile report merge`: the drift
//! pipeline over many databases (or tenant schemas), with one report.
//!
//! The desired state is loaded and canonicalised once, on one scratch database shared by the
//! whole run; each target then costs a connection, a catalog read, an alignment, a diff and a
//! plan, and touches the scratch server only for what differs on it (a target in sync builds
//! nothing there). Targets run `--jobs` at a time, each bounded by its own connect, statement
//! and overall timeouts: a target that is down, slow, refuses the credentials, lacks
//! privileges or is locked by a running apply is an error *for that target* and never holds
//! up the rest. The fleet's exit code is the worst of the targets' ([`Exit::fleet_worst`]).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::{Mutex, OwnedMutexGuard, Semaphore, watch};

use reconcile::fleet::report::{self, Entry, ErrorKind, Failure, Header, Report, Status};
use reconcile::fleet::shard::Shard;
use reconcile::fleet::targets::{self, Source, Target};
use reconcile::fleet::tenant;
use reconcile::model::{Ident, Schema};
use reconcile::pipeline;
use reconcile::plan::Plan;

use super::Exit;
use super::apply::parse_duration;
use super::connect::{self, UrlOption};
use super::out::note;
use super::plan::FailOn;

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Read-only drift audit of every target: one report (text, markdown or versioned JSON)
    /// grouping targets with identical drift; exit code the worst of the targets'.
    #[command(
        after_help = "Example: reconcile fleet verify --targets targets.toml --jobs 16 --out fleet.json"
    )]
    Verify(VerifyArgs),
    /// Apply the desired state to every target, each under its own advisory lock and the
    /// safety of `apply`, canaries first; every run is recorded in its target's history.
    #[command(
        after_help = "Example: reconcile fleet apply --targets targets.toml --canary 2 --max-failures 1 --out applied.json"
    )]
    Apply(ApplyArgs),
    /// List the targets a fleet command would visit (after --select, --tag and --shard).
    #[command(
        after_help = "Example: reconcile fleet targets --targets targets.toml --tag eu --shard 1/4"
    )]
    Targets(ListArgs),
}

/// Where the targets come from, and which of them this run takes.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// A targets file (TOML): `[[target]]` tables with `name`, `url_env` (the variable holding
    /// its URL) or `service` (a libpq service), and `tags`. See docs/fleet.md.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Every environment of reconcile.toml (`[env.NAME]` with its `url_env`) is a target.
    #[arg(long)]
    pub environments: bool,
    /// Every database of the --database-url server whose name matches this glob.
    #[arg(long, value_name = "PATTERN", value_parser = super::parse_pattern)]
    pub databases: Option<glob::Pattern>,
    /// Every schema of the --database-url database whose name matches this glob is a tenant;
    /// the desired state describes one template schema, compared with each tenant under the
    /// tenant's name.
    #[arg(long, value_name = "PATTERN", value_parser = super::parse_pattern, conflicts_with = "databases")]
    pub tenant_schemas: Option<glob::Pattern>,
    /// The desired state's schema that stands for each tenant [default: the one schema the
    /// desired state declares besides public].
    #[arg(long, value_name = "SCHEMA", requires = "tenant_schemas")]
    pub template_schema: Option<String>,
    /// Only targets whose name matches (glob; repeatable).
    #[arg(long = "select", value_name = "PATTERN", value_parser = super::parse_pattern)]
    pub select: Vec<glob::Pattern>,
    /// Only targets with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only shard I of N (1-based): a deterministic slice by a hash of each target's name,
    /// for a CI matrix or a Kubernetes Indexed Job. `reconcile report merge` joins the
    /// shards' JSON reports.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// How targets are visited.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Targets worked on at once.
    #[arg(long, short = 'j', default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub jobs: u16,
    /// How long to wait for a target's server to accept a connection.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// The longest a target may take in all; past it the target is an error (timed out).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub target_timeout: Duration,
}

/// The report's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FleetFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Output {
    /// Report format [default: from the --out file's extension (.json, .md), else text].
    #[arg(long, value_enum)]
    pub format: Option<FleetFormat>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: Output,
    /// statement_timeout (and lock_timeout) of each target's catalog reads.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub statement_timeout: Duration,
    /// What fails a target (and so the fleet): exit 3 for findings, 2 for pending steps.
    #[arg(long, value_enum, default_value = "any")]
    pub fail_on: FailOn,
    /// Add a missing column even when an extra column of the same type could be its old name.
    #[arg(long)]
    pub no_rename_hints: bool,
    /// Report changed definitions PostgreSQL could replace in place as findings.
    #[arg(long)]
    pub no_replace: bool,
    /// With --tenant-schemas: how many tenants one catalog read covers [default: as many as
    /// hold about 5,000 of the template's tables]. Each read walks the whole catalog: more
    /// tenants per read is faster and holds more in memory.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub tenants_per_read: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: Output,
    /// Apply to this many targets first (one at a time, in name order); the rest start only
    /// if every canary succeeded.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub canary: usize,
    /// Stop starting targets once this many have failed (the ones running finish; the rest
    /// are reported as not run). Default: never stop.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<usize>,
    #[command(flatten)]
    pub apply: super::apply::ApplyOptions,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of a fleet's shards into one report (the same as one run over
    /// every target would write, durations aside); exit code the merged fleet's.
    #[command(
        after_help = "Example: reconcile report merge shard-*.json --out fleet.json && reconcile report merge fleet.json --format markdown"
    )]
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The reports (`reconcile fleet ... --format json`).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(global: &super::Global, args: &FleetArgs) -> anyhow::Result<Exit> {
    match &args.command {
        FleetCommand::Verify(a) => verify(global, a).await,
        FleetCommand::Apply(a) => apply(global, a).await,
        FleetCommand::Targets(a) => list(global, a).await,
    }
}

pub async fn report(_global: &super::Global, args: &ReportArgs) -> anyhow::Result<Exit> {
    let ReportCommand::Merge(merge) = &args.command;
    let mut reports = Vec::new();
    for path in &merge.reports {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| report::MergeError::Read {
            path: shown.clone(),
            source,
        })?;
        reports.push((shown.clone(), report::parse(&shown, &text)?));
    }
    let merged = report::merge(reports, Exit::fleet_worst)?;
    write_report(&merged, &merge.output)?;
    Ok(Exit::from_code(merged.exit_code))
}

// ---------------------------------------------------------------------------------------
// Targets.

/// The targets named by `selection`, selected and sharded, and the `--database-url` server
/// discovery used (the connection of `Source::Database` and `Source::Server` targets).
async fn collect(
    global: &super::Global,
    selection: &Selection,
) -> anyhow::Result<(Vec<Target>, Option<PgConnectOptions>)> {
    let mut all: Vec<Target> = Vec::new();
    if let Some(path) = &selection.targets {
        all.extend(targets::read_file(path)?);
    }
    if selection.environments {
        for (name, var, origin) in super::config::environments(global.config.as_deref())? {
            targets::check_name(&name).map_err(|m| anyhow::anyhow!("{origin}: {m}"))?;
            all.push(Target {
                name,
                tags: Vec::new(),
                source: Source::UrlEnv(var),
                schema: None,
                origin,
            });
        }
    }
    let mut server = None;
    if selection.databases.is_some() || selection.tenant_schemas.is_some() {
        let option = if selection.databases.is_some() {
            "--databases"
        } else {
            "--tenant-schemas"
        };
        let url = global
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{option} discovers targets on the server of --database-url (or \
                     DATABASE_URL), and none was given{}",
                    connect::empty_url_hint(global.database_url.as_deref())
                )
            })?;
        let options = connect::parse_url(url, UrlOption::Database)?;
        let mut conn = connect::connect_options(options.clone()).await?;
        let mut listed = String::new();
        if let Some(pattern) = &selection.databases {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname::text FROM pg_catalog.pg_database \
                  WHERE datallowconn AND NOT datistemplate ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await
            .context("cannot list the server's databases")?;
            listed = format!(" (its databases: {})", some_of(&names));
            for name in names.into_iter().filter(|n| pattern.matches(n)) {
                all.push(Target {
                    name: name.clone(),
                    tags: Vec::new(),
                    source: Source::Database(name),
                    schema: None,
                    origin: format!("--databases {}", pattern.as_str()),
                });
            }
        }
        if let Some(pattern) = &selection.tenant_schemas {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_catalog.pg_namespace \
                  WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await
            .context("cannot list the database's schemas")?;
            // What there is, for the message when the pattern matches nothing (a typo).
            listed = format!(
                " (the schemas of database {}: {})",
                options.get_database().unwrap_or("?"),
                some_of(&names)
            );
            for name in names.into_iter().filter(|n| pattern.matches(n)) {
                all.push(Target {
                    name: name.clone(),
                    tags: Vec::new(),
                    source: Source::Server,
                    schema: Some(name),
                    origin: format!("--tenant-schemas {}", pattern.as_str()),
                });
            }
        }
        let _ = conn.close().await;
        if all.is_empty() {
            anyhow::bail!(
                "{option}: nothing on the server matches {}{}",
                selection
                    .databases
                    .as_ref()
                    .or(selection.tenant_schemas.as_ref())
                    .map_or("", |p| p.as_str()),
                listed
            );
        }
        server = Some(options);
    }
    if selection.targets.is_none()
        && !selection.environments
        && selection.databases.is_none()
        && selection.tenant_schemas.is_none()
    {
        anyhow::bail!(
            "name the fleet's targets: --targets FILE (a targets file), --environments (those of \
             reconcile.toml), --databases PATTERN or --tenant-schemas PATTERN (discovered on the \
             --database-url server); see docs/fleet.md"
        );
    }
    let mut seen: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for t in &all {
        if let Some(first) = seen.insert(&t.name, &t.origin) {
            anyhow::bail!(
                "{}: target {:?} is also named at {first}; target names must be unique",
                t.origin,
                t.name
            );
        }
    }
    let mut chosen = targets::select(all, &selection.select, &selection.tags)?;
    if let Some(shard) = &selection.shard {
        chosen.retain(|t| shard.contains(&t.name));
    }
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((chosen, server))
}

/// The first ten names, for a message.
fn some_of(names: &[String]) -> String {
    let mut shown = names
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        shown.push_str(&format!(", ... ({} in all)", names.len()));
    }
    shown
}

async fn list(global: &super::Global, args: &ListArgs) -> anyhow::Result<Exit> {
    let (chosen, _) = collect(global, &args.selection).await?;
    let mut out = super::out::stdout();
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = chosen
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name,
                        "tags": t.tags,
                        "schema": t.schema,
                        "source": t.source.to_string(),
                        "origin": t.origin,
                    })
                })
                .collect();
            reconcile::render::pretty_json::to_writer(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Text => {
            for t in &chosen {
                let tags = if t.tags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", t.tags.join(", "))
                };
                writeln!(out, "{}  {}{tags}  ({})", t.name, t.source, t.origin)?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::InSync)
}

/// How to connect to `target` (with the password to scrub from messages, if any).
fn options_for(
    target: &Target,
    server: Option<&PgConnectOptions>,
) -> Result<(PgConnectOptions, Option<String>), TargetIssue> {
    match &target.source {
        Source::UrlEnv(var) => {
            let url = std::env::var(var)
                .ok()
                .filter(|u| !u.trim().is_empty())
                .ok_or_else(|| {
                    TargetIssue::Config(format!(
                        "the environment variable {var} (its url_env, {}) is not set",
                        target.origin
                    ))
                })?;
            let password = url::Url::parse(url.trim())
                .ok()
                .and_then(|u| u.password().map(str::to_owned));
            let options = connect::parse_url(&url, UrlOption::Target).map_err(|e| {
                TargetIssue::Config(format!("${var}: {}", super::errors::plain(e.as_ref())))
            })?;
            Ok((options, password))
        }
        Source::Service(name) => {
            let keys = targets::service(name).map_err(|e| TargetIssue::Config(e.to_string()))?;
            let mut options = PgConnectOptions::new();
            let mut password = None;
            for (key, value) in &keys {
                options = match key.as_str() {
                    "host" | "hostaddr" => options.host(value),
                    "port" => options.port(value.parse().map_err(|_| {
                        TargetIssue::Config(format!(
                            "service {name}: port {value:?} is not a number"
                        ))
                    })?),
                    "dbname" => options.database(value),
                    "user" => options.username(value),
                    "password" => {
                        password = Some(value.clone());
                        options.password(value)
                    }
                    "sslmode" => options.ssl_mode(value.parse().map_err(|_| {
                        TargetIssue::Config(format!("service {name}: sslmode {value:?} is unknown"))
                    })?),
                    "sslrootcert" => options.ssl_root_cert(value),
                    _ => options,
                };
            }
            Ok((options, password))
        }
        Source::Database(name) => match server {
            Some(server) => Ok((server.clone().database(name), None)),
            None => Err(TargetIssue::Config("no --database-url server".to_owned())),
        },
        Source::Server => match server {
            Some(server) => Ok((server.clone(), None)),
            None => Err(TargetIssue::Config("no --database-url server".to_owned())),
        },
    }
}

/// What went wrong with one target, beyond what sqlx says.
#[derive(Debug, thiserror::Error)]
enum TargetIssue {
    #[error("{0}")]
    Config(String),
    #[error("no connection within --connect-timeout {0:?}")]
    ConnectTimeout(Duration),
    #[error(
        "a reconcile apply is running on this database ({0}): its schema is being changed, so \
         it was not audited; audit it again once the apply is done"
    )]
    Locked(String),
    /// What kept a batch of tenants from being read (the same for each of them).
    #[error("{}", .0.message)]
    Batch(Failure),
}

async fn connect(options: PgConnectOptions, timeout: Duration) -> anyhow::Result<connect::Target> {
    match tokio::time::timeout(timeout, connect::connect_target(options)).await {
        Ok(target) => target,
        Err(_) => Err(TargetIssue::ConnectTimeout(timeout).into()),
    }
}

/// The class of a target's error, from the first cause that says.
fn classify(error: &anyhow::Error) -> ErrorKind {
    for cause in error.chain() {
        if let Some(issue) = cause.downcast_ref::<TargetIssue>() {
            return match issue {
                TargetIssue::Config(_) => ErrorKind::Config,
                TargetIssue::ConnectTimeout(_) => ErrorKind::Unreachable,
                TargetIssue::Locked(_) => ErrorKind::Locked,
                TargetIssue::Batch(failure) => failure.kind,
            };
        }
        if let Some(reconcile::apply::lock::LockError::Timeout { .. }) =
            cause.downcast_ref::<reconcile::apply::lock::LockError>()
        {
            return ErrorKind::Locked;
        }
        if let Some(
            pipeline::PipelineError::MissingOnTarget(_)
            | pipeline::PipelineError::UndeclaredViews(_)
            | pipeline::PipelineError::Rejected(_)
            | pipeline::PipelineError::SqlRejected(_),
        ) = cause.downcast_ref::<pipeline::PipelineError>()
        {
            return ErrorKind::Rejected;
        }
        if cause
            .downcast_ref::<reconcile::apply::execute::ExecError>()
            .is_some()
        {
            return ErrorKind::Failed;
        }
        if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
            match e {
                sqlx::Error::Database(db) => {
                    return match db.code().as_deref() {
                        Some("28P01" | "28000") => ErrorKind::Auth,
                        Some("42501") => ErrorKind::Privileges,
                        Some("57014") => ErrorKind::Timeout,
                        Some("55P03") => ErrorKind::Locked,
                        Some("3D000" | "53300" | "57P03") => ErrorKind::Unreachable,
                        _ => ErrorKind::Other,
                    };
                }
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
                    return ErrorKind::Unreachable;
                }
                _ => {}
            }
        }
    }
    ErrorKind::Other
}

/// The message of a target's error, without a password even if some layer quoted one.
fn failure(error: &anyhow::Error, secret: Option<&str>) -> Failure {
    let mut message = super::errors::render_error(error);
    if let Some(rest) = message.strip_prefix("error: ") {
        message = rest.to_owned();
    }
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        message = message.replace(secret, "***");
    }
    Failure {
        kind: classify(error),
        message,
    }
}

// ---------------------------------------------------------------------------------------
// The shared scratch database.

/// The fleet's one scratch database, lent to one target at a time (canonicalisation builds
/// in a transaction on an empty database; two builds at once would wait on each other's
/// catalog rows anyway). Most targets never ask for it.
#[derive(Clone)]
pub struct SharedScratch {
    inner: Arc<Mutex<connect::Scratch>>,
    /// Targets that used it.
    used: Arc<AtomicUsize>,
}

impl SharedScratch {
    fn new(scratch: connect::Scratch) -> Self {
        Self {
            inner: Arc::new(Mutex::new(scratch)),
            used: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn borrow(&self) -> Borrowed {
        Borrowed {
            shared: self.clone(),
            guard: None,
        }
    }
}

/// One target's use of the [`SharedScratch`]: taken on first use, held until dropped.
pub struct Borrowed {
    shared: SharedScratch,
    guard: Option<OwnedMutexGuard<connect::Scratch>>,
}

impl Borrowed {
    /// Whether this target needed the scratch server.
    fn touched(&self) -> bool {
        self.guard.is_some()
    }
}

impl reconcile::canon::Scratch for Borrowed {
    async fn connection(&mut self) -> Result<&mut PgConnection, reconcile::canon::CanonError> {
        let guard = match self.guard.take() {
            Some(guard) => guard,
            None => {
                self.shared.used.fetch_add(1, Ordering::Relaxed);
                Arc::clone(&self.shared.inner).lock_owned().await
            }
        };
        reconcile::canon::Scratch::connection(&mut **self.guard.insert(guard)).await
    }
}

// ---------------------------------------------------------------------------------------
// The desired state, once.

struct Desired {
    canonical: Arc<Schema>,
    /// Tenant mode: the template schema of the desired state.
    template: Option<String>,
    fingerprint: String,
}

async fn canonicalise(
    global: &super::Global,
    selection: &Selection,
    scratch: &SharedScratch,
) -> anyhow::Result<Desired> {
    let desired = super::plan::Desired::read(global)?;
    let template = match &selection.tenant_schemas {
        None => None,
        Some(_) => Some(template_of(&desired.schema, selection)?),
    };
    let clock = Instant::now();
    let mut borrowed = scratch.borrow();
    let super::plan::Desired {
        schema,
        sql,
        positions,
    } = desired;
    let canonical = pipeline::canonical(schema, &sql, &mut borrowed)
        .await
        .map_err(|e| positions.explain(e))?;
    drop(borrowed);
    scratch.used.store(0, Ordering::Relaxed);
    note!(
        "canonicalised the desired state once in {:.1} s ({} tables)",
        clock.elapsed().as_secs_f64(),
        canonical.tables.len()
    );
    let fingerprint = reconcile::plan::fingerprint(&canonical);
    Ok(Desired {
        canonical: Arc::new(canonical),
        template,
        fingerprint,
    })
}

/// The history schema `apply` writes to unless told otherwise (`--history-schema`).
const DEFAULT_HISTORY_SCHEMA: &str = "reconcile";

/// Schemas a `--tenant-schemas` pattern matched that are not tenants: `public` (never a
/// template, see [`template_of`]), the others the desired state shares with every tenant, and
/// reconcile's own history schema. Audited as tenants they would be reported as the template
/// with everything missing; they are left out, and said so.
fn leave_out_non_tenants(
    chosen: &mut Vec<Target>,
    desired: &Desired,
    history_schema: &str,
) -> anyhow::Result<()> {
    let Some(template) = &desired.template else {
        return Ok(());
    };
    let not_tenants: std::collections::BTreeSet<&str> = desired
        .canonical
        .schemas
        .iter()
        .map(Ident::as_str)
        .filter(|s| s != template)
        .chain(["public", history_schema])
        .collect();
    let is_tenant = |t: &Target| t.schema.as_deref().is_none_or(|s| !not_tenants.contains(s));
    let left_out: Vec<&str> = chosen
        .iter()
        .filter(|t| !is_tenant(t))
        .filter_map(|t| t.schema.as_deref())
        .collect();
    if left_out.is_empty() {
        return Ok(());
    }
    note!(
        "note: not tenants, left out: {} (shared by every tenant, or reconcile's history)",
        left_out.join(", ")
    );
    chosen.retain(is_tenant);
    if chosen.is_empty() {
        anyhow::bail!("--tenant-schemas: the pattern matches no tenant, only shared schemas");
    }
    Ok(())
}

fn template_of(desired: &Schema, selection: &Selection) -> anyhow::Result<String> {
    let declared: Vec<&str> = desired
        .schemas
        .iter()
        .map(Ident::as_str)
        .filter(|s| *s != "public")
        .collect();
    match &selection.template_schema {
        Some(name) if declared.contains(&name.as_str()) => Ok(name.clone()),
        Some(name) => anyhow::bail!(
            "--template-schema {name}: the desired state does not declare it (it declares: {})",
            declared.join(", ")
        ),
        None => match declared.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => anyhow::bail!(
                "--tenant-schemas: the desired state declares no schema besides public; write \
                 the template's files with `schema: NAME` (its name is replaced by each \
                 tenant's)"
            ),
            many => anyhow::bail!(
                "--tenant-schemas: the desired state declares several schemas ({}); name the \
                 template with --template-schema",
                many.join(", ")
            ),
        },
    }
}

/// The desired state for one target: the canonical one, with the template schema renamed to
/// a tenant's.
fn desired_for(desired: &Desired, target: &Target) -> anyhow::Result<Schema> {
    match (&desired.template, &target.schema) {
        (Some(template), Some(schema)) => {
            let mut renamed = tenant::rename_schema(&desired.canonical, template, schema)?;
            renamed.origins = desired.canonical.origins.clone();
            Ok(renamed)
        }
        _ => Ok((*desired.canonical).clone()),
    }
}

// ---------------------------------------------------------------------------------------
// Running targets.

/// Terminal: a progress bar on stderr. Anywhere else: nothing (the report says it all).
fn progress(total: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || super::out::quiet() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} targets {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(bar)
}

fn entry(target: &Target) -> Entry {
    Entry {
        name: target.name.clone(),
        tags: target.tags.clone(),
        schema: target.schema.clone(),
        status: Status::Error,
        exit_code: Exit::Error.code(),
        steps: Vec::new(),
        findings: Vec::new(),
        fingerprint: None,
        duration_ms: 0,
        error: None,
        run: None,
    }
}

fn planned(entry: &mut Entry, plan: Plan, fail_on: FailOn) {
    entry.status = if !plan.findings.is_empty() {
        Status::Drift
    } else if !plan.steps.is_empty() {
        Status::Pending
    } else {
        Status::InSync
    };
    entry.exit_code = super::plan::exit_code(&plan, fail_on).code();
    entry.fingerprint = Some(plan.fingerprint);
    entry.steps = plan.steps;
    entry.findings = plan.findings;
}

struct Context {
    desired: Desired,
    /// Tenant mode: the catalog reads of the tenants, batch by batch.
    tenants: Option<TenantReads>,
    scratch: SharedScratch,
    server: Option<PgConnectOptions>,
    options: pipeline::Options,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

/// One target's audit: its catalog (a tenant's share of its batch's read, else read on its
/// own connection), then align, diff, plan.
async fn audit(context: &Context, target: &Target) -> anyhow::Result<(Plan, bool)> {
    let desired = desired_for(&context.desired, target)?;
    let scope = pipeline::scope(&desired, &context.options);
    let share = match (&context.tenants, &target.schema) {
        (Some(reads), Some(tenant)) if matches!(target.source, Source::Server) => {
            reads.share(context, tenant, &scope).await?
        }
        _ => None,
    };
    let live = match share {
        Some(live) => live,
        None => read_alone(context, target, &scope).await?,
    };
    let mut scratch = context.scratch.borrow();
    let drift =
        pipeline::drift_from(desired, &[], live, scope, &mut scratch, &context.options).await?;
    let touched = scratch.touched();
    drop(scratch);
    Ok((drift.plan, touched))
}

/// The session a catalog read runs in: the statement and lock timeouts, read only; and no
/// read while an apply holds the database's lock (its schema is being changed).
async fn session(conn: &mut PgConnection, statement_timeout: Duration) -> anyhow::Result<()> {
    let ms = statement_timeout.as_millis().max(1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET statement_timeout = {ms}; SET lock_timeout = {ms}; \
         SET default_transaction_read_only = on"
    )))
    .execute(&mut *conn)
    .await
    .context("cannot set the session's timeouts")?;
    if let Some(holder) = reconcile::apply::lock::holder(conn).await? {
        return Err(TargetIssue::Locked(holder).into());
    }
    Ok(())
}

/// One target's catalog, read on a connection of its own (READ ONLY, under the statement
/// timeout).
async fn read_alone(
    context: &Context,
    target: &Target,
    scope: &reconcile::introspect::Scope,
) -> anyhow::Result<reconcile::introspect::Introspected> {
    let (options, _) = options_for(target, context.server.as_ref())?;
    let mut target_conn = connect(options, context.connect_timeout).await?;
    session(&mut target_conn.conn, context.statement_timeout).await?;
    let mut live = pipeline::read_catalog(&mut target_conn.conn, None, scope).await?;
    if target.schema.is_some() {
        // The other tenants (and shared schemas) are not this tenant's drift.
        live.undeclared_schemas.clear();
    }
    let _ = target_conn.conn.close().await;
    Ok(live)
}

// ---------------------------------------------------------------------------------------
// Tenants: one catalog read per batch of tenants.

/// How many tables one catalog read of tenant schemas may hold (the template's tables times
/// the tenants read at once). Every read walks the whole catalog, so fewer, larger reads are
/// faster; each read is held in memory until its tenants are audited (two at a time: the
/// next is read while one is audited), which bounds them.
const TABLES_PER_READ: usize = 5_000;

/// The catalog reads of `--tenant-schemas` tenants: the tenants (in name order) are cut into
/// batches, each read once and split per tenant ([`reconcile::introspect::split`]). A batch is
/// read when its first tenant is audited, and the next one then too, so that reading overlaps
/// auditing.
struct TenantReads {
    batches: Vec<Arc<Batch>>,
    /// The batch of each tenant.
    batch_of: BTreeMap<String, usize>,
    /// The desired state's schemas besides the template (`public`): in every tenant's scope.
    shared: Vec<String>,
}

struct Batch {
    tenants: Vec<String>,
    started: AtomicBool,
    read: watch::Sender<Option<Arc<BatchRead>>>,
}

enum BatchRead {
    /// Each tenant's share, taken by its audit.
    Shares(std::sync::Mutex<BTreeMap<String, reconcile::introspect::Introspected>>),
    /// No connection, or an apply holds the database's lock: the same for every tenant.
    Failed(Failure),
    /// The read of the batch failed: each tenant reads its own catalog, so that what one
    /// tenant's objects make fail is that tenant's error alone.
    Alone,
}

impl TenantReads {
    fn new(chosen: &[Target], shared: Vec<String>, per_read: usize) -> Option<Self> {
        let tenants: Vec<&str> = chosen
            .iter()
            .filter(|t| matches!(t.source, Source::Server))
            .filter_map(|t| t.schema.as_deref())
            .collect();
        if tenants.is_empty() {
            return None;
        }
        let mut batch_of = BTreeMap::new();
        let batches = tenants
            .chunks(per_read)
            .enumerate()
            .map(|(i, chunk)| {
                batch_of.extend(chunk.iter().map(|t| ((*t).to_owned(), i)));
                Arc::new(Batch {
                    tenants: chunk.iter().map(|t| (*t).to_owned()).collect(),
                    started: AtomicBool::new(false),
                    read: watch::Sender::new(None),
                })
            })
            .collect();
        tracing::info!(
            "{} tenant(s) read {per_read} at a time ({} catalog read(s))",
            tenants.len(),
            tenants.len().div_ceil(per_read)
        );
        Some(Self {
            batches,
            batch_of,
            shared,
        })
    }

    /// The tenant's catalog from its batch's read, or `None` when it must read its own.
    async fn share(
        &self,
        context: &Context,
        tenant: &str,
        scope: &reconcile::introspect::Scope,
    ) -> anyhow::Result<Option<reconcile::introspect::Introspected>> {
        let Some(&index) = self.batch_of.get(tenant) else {
            return Ok(None);
        };
        // A share is what a read in the shared schemas and the tenant's gives.
        let wanted: std::collections::BTreeSet<&str> = self
            .shared
            .iter()
            .map(String::as_str)
            .chain([tenant])
            .collect();
        let in_scope: std::collections::BTreeSet<&str> =
            scope.schemas.iter().flatten().map(String::as_str).collect();
        if wanted != in_scope {
            return Ok(None);
        }
        self.start(context, index);
        self.start(context, index + 1);
        let mut receiver = self.batches[index].read.subscribe();
        let read = receiver
            .wait_for(Option::is_some)
            .await
            .context("the tenants' catalog read was lost")?
            .clone();
        match read.as_deref() {
            Some(BatchRead::Shares(shares)) => Ok(shares
                .lock()
                .map_err(|_| anyhow::anyhow!("the tenants' shares were poisoned"))?
                .remove(tenant)),
            Some(BatchRead::Failed(failure)) => Err(TargetIssue::Batch(failure.clone()).into()),
            Some(BatchRead::Alone) | None => Ok(None),
        }
    }

    /// Starts reading batch `index` (once), on a task of its own: a tenant that gives up
    /// waiting for it (its --target-timeout) does not stop it for the others.
    fn start(&self, context: &Context, index: usize) {
        let Some(batch) = self.batches.get(index) else {
            return;
        };
        if batch.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let batch = Arc::clone(batch);
        let shared = self.shared.clone();
        let ignore = context.options.ignore_schemas.clone();
        let server = context.server.clone();
        let (connect_timeout, statement_timeout) =
            (context.connect_timeout, context.statement_timeout);
        tokio::spawn(async move {
            let clock = Instant::now();
            let read = read_batch(
                server,
                connect_timeout,
                statement_timeout,
                &shared,
                &batch.tenants,
                &ignore,
            )
            .await;
            tracing::info!(
                "read the catalog of {} tenant(s), {}..{}, in {:?}",
                batch.tenants.len(),
                batch.tenants.first().map_or("", String::as_str),
                batch.tenants.last().map_or("", String::as_str),
                clock.elapsed()
            );
            batch.read.send_replace(Some(Arc::new(read)));
        });
    }
}

/// One batch's catalog read.
async fn read_batch(
    server: Option<PgConnectOptions>,
    connect_timeout: Duration,
    statement_timeout: Duration,
    shared: &[String],
    tenants: &[String],
    ignore: &[String],
) -> BatchRead {
    let Some(server) = server else {
        return BatchRead::Alone;
    };
    let mut connected = match connect(server, connect_timeout).await {
        Ok(connected) => connected,
        Err(e) => return BatchRead::Failed(failure(&e, None)),
    };
    let conn = &mut connected.conn;
    if let Err(e) = session(conn, statement_timeout).await {
        return BatchRead::Failed(failure(&e, None));
    }
    let read = reconcile::introspect::split::tenants(conn, shared, tenants, ignore).await;
    let _ = connected.conn.close().await;
    match read {
        Ok(shares) => BatchRead::Shares(std::sync::Mutex::new(shares)),
        Err(e) => {
            tracing::warn!(
                "reading the catalog of {} tenants at once failed ({e}); each reads its own",
                tenants.len()
            );
            BatchRead::Alone
        }
    }
}

async fn verify(global: &super::Global, args: &VerifyArgs) -> anyhow::Result<Exit> {
    let (mut chosen, server) = collect(global, &args.selection).await?;
    let scratch = SharedScratch::new(connect::Scratch::standalone(
        global.dev_url.as_deref(),
        None,
    )?);
    let desired = canonicalise(global, &args.selection, &scratch).await?;
    leave_out_non_tenants(&mut chosen, &desired, DEFAULT_HISTORY_SCHEMA)?;
    let tenants = desired.template.as_ref().and_then(|template| {
        let shared = desired
            .canonical
            .schemas
            .iter()
            .filter(|s| s.as_str() != template)
            .map(|s| s.as_str().to_owned())
            .collect();
        let per_read = args.tenants_per_read.map_or_else(
            || (TABLES_PER_READ / desired.canonical.tables.len().max(1)).max(1),
            |n| n as usize,
        );
        TenantReads::new(&chosen, shared, per_read)
    });
    let context = Arc::new(Context {
        desired,
        tenants,
        scratch: scratch.clone(),
        server,
        options: pipeline::Options {
            rename_hints: !args.no_rename_hints,
            concurrently: true,
            ignore_schemas: global.ignore_schemas.clone(),
            replace: !args.no_replace,
            ignore_objects: global.ignore_objects.clone(),
        },
        connect_timeout: args.run.connect_timeout,
        statement_timeout: args.statement_timeout,
    });
    let clock = Instant::now();
    let bar = progress(chosen.len());
    let semaphore = Arc::new(Semaphore::new(usize::from(args.run.jobs)));
    let mut tasks = tokio::task::JoinSet::new();
    let total = chosen.len();
    let fail_on = args.fail_on;
    let target_timeout = args.run.target_timeout;
    let mut entries = Vec::with_capacity(total);
    let failures = AtomicUsize::new(0);
    for target in chosen {
        let context = Arc::clone(&context);
        // Started in name order: tenants read together are audited together, and their
        // reads leave memory together.
        let permit = free_job(&semaphore, &mut tasks, &bar, &failures, &mut entries).await?;
        tasks.spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            let mut entry = entry(&target);
            let secret = options_for(&target, context.server.as_ref())
                .ok()
                .and_then(|(_, s)| s);
            match tokio::time::timeout(target_timeout, audit(&context, &target)).await {
                Ok(Ok((plan, touched))) => {
                    tracing::info!(
                        "{}: {} step(s), {} finding(s); scratch server {}",
                        target.name,
                        plan.steps.len(),
                        plan.findings.len(),
                        if touched { "used" } else { "untouched" }
                    );
                    planned(&mut entry, plan, fail_on);
                }
                Ok(Err(e)) => entry.error = Some(failure(&e, secret.as_deref())),
                Err(_) => {
                    entry.error = Some(Failure {
                        kind: ErrorKind::Timeout,
                        message: format!("gave up after --target-timeout {target_timeout:?}"),
                    })
                }
            }
            entry.duration_ms = started.elapsed().as_millis() as u64;
            entry
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let entry = joined.context("a target's task failed")?;
        collect_entry(entry, &bar, &failures, &mut entries);
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let used = scratch.used.load(Ordering::Relaxed);
    let report = Report::new(
        Header {
            command: "verify".to_owned(),
            desired: context.desired.fingerprint.clone(),
            template: context.desired.template.clone(),
            shard: args.selection.shard,
        },
        entries,
        Exit::fleet_worst,
    );
    note!(
        "audited {total} target(s) in {:.1} s with --jobs {}; {used} needed the scratch server \
         (what differs on them)",
        clock.elapsed().as_secs_f64(),
        args.run.jobs
    );
    write_report(&report, &args.output)?;
    Ok(Exit::from_code(report.exit_code))
}

/// Writes the report where `output` says, in its format; appends the markdown form to the
/// GitHub job summary when there is one.
fn write_report(report: &Report, output: &Output) -> anyhow::Result<()> {
    let format = output.format.unwrap_or_else(|| {
        match output
            .out
            .as_ref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
        {
            Some("json") => FleetFormat::Json,
            Some("md" | "markdown") => FleetFormat::Markdown,
            _ => FleetFormat::Text,
        }
    });
    let render = |out: &mut dyn Write| match format {
        FleetFormat::Json => report.write_json(out),
        FleetFormat::Markdown => report.write_markdown(out),
        FleetFormat::Text => report.write_text(out),
    };
    match &output.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            render(&mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            note!("wrote the report to {}: {}", path.display(), report.line());
        }
        None => {
            let mut out = super::out::stdout();
            render(&mut out)?;
            out.flush()?;
        }
    }
    super::github::append_step_summary(|out| report.write_markdown(out))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Apply.

async fn apply(global: &super::Global, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let history_schema = Ident::new(args.apply.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let (mut chosen, server) = collect(global, &args.selection).await?;
    let scratch = SharedScratch::new(connect::Scratch::standalone(
        global.dev_url.as_deref(),
        None,
    )?);
    let desired = canonicalise(global, &args.selection, &scratch).await?;
    leave_out_non_tenants(&mut chosen, &desired, history_schema.as_str())?;
    let context = Arc::new(Context {
        desired,
        tenants: None,
        scratch: scratch.clone(),
        server,
        options: pipeline::Options::default(),
        connect_timeout: args.run.connect_timeout,
        statement_timeout: args.apply.statement_timeout,
    });
    let global = Arc::new(global.clone());
    let apply_args = Arc::new(args.apply.clone());
    let clock = Instant::now();
    let total = chosen.len();
    let bar = progress(total);
    let canaries = args.canary.min(total);
    let mut canary_targets = chosen;
    let later = canary_targets.split_off(canaries);
    let failures = Arc::new(AtomicUsize::new(0));
    let max_failures = args.max_failures;
    let mut entries = Vec::with_capacity(total);
    let target_timeout = args.run.target_timeout;

    let one = {
        let context = Arc::clone(&context);
        let global = Arc::clone(&global);
        let history_schema = history_schema.clone();
        let apply_args = Arc::clone(&apply_args);
        move |target: Target| {
            let context = Arc::clone(&context);
            let apply_args = Arc::clone(&apply_args);
            let global = Arc::clone(&global);
            let history_schema = history_schema.clone();
            async move {
                let started = Instant::now();
                let mut entry = entry(&target);
                let secret = options_for(&target, context.server.as_ref())
                    .ok()
                    .and_then(|(_, s)| s);
                let mut observed = super::apply::Observed::default();
                let work = apply_one(
                    &context,
                    &global,
                    &apply_args,
                    history_schema,
                    &target,
                    &mut observed,
                );
                let result = tokio::time::timeout(target_timeout, work).await;
                if let Some(plan) = observed.plan {
                    entry.fingerprint = Some(plan.fingerprint);
                    entry.steps = plan.steps;
                    entry.findings = plan.findings;
                }
                entry.run = observed.run;
                match result {
                    Ok(Ok(exit)) => {
                        entry.exit_code = exit.code();
                        entry.status = match exit {
                            // Findings are recorded, never run: the target still drifts.
                            Exit::InSync if !entry.findings.is_empty() => Status::Drift,
                            Exit::InSync if entry.steps.is_empty() => Status::InSync,
                            Exit::InSync => Status::Applied,
                            Exit::Pending => Status::Pending,
                            Exit::Drift => Status::Drift,
                            _ => Status::Error,
                        };
                    }
                    Ok(Err(e)) => entry.error = Some(failure(&e, secret.as_deref())),
                    Err(_) => {
                        entry.error = Some(Failure {
                            kind: ErrorKind::Timeout,
                            message: format!(
                                "gave up after --target-timeout {target_timeout:?} (a step \
                                 that was running is rolled back or left for the next apply \
                                 to finish; see the target's history)"
                            ),
                        })
                    }
                }
                entry.duration_ms = started.elapsed().as_millis() as u64;
                entry
            }
        }
    };

    // Canaries: one at a time, in name order; any failure stops the fleet (the canaries
    // after it are reported as not run, like every other target).
    let mut stopped = None;
    let mut canaries = canary_targets.into_iter();
    for target in canaries.by_ref() {
        let entry = one(target).await;
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        let failed = entry.status == Status::Error;
        entries.push(entry);
        if failed {
            stopped = Some("a canary failed");
            break;
        }
    }
    let mut later = later.into_iter();
    if stopped.is_none() {
        let semaphore = Arc::new(Semaphore::new(usize::from(args.run.jobs)));
        let mut tasks = tokio::task::JoinSet::new();
        for target in later.by_ref() {
            let permit = free_job(&semaphore, &mut tasks, &bar, &failures, &mut entries).await?;
            if max_failures.is_some_and(|m| failures.load(Ordering::Relaxed) >= m) {
                stopped = Some("--max-failures was reached");
                entries.push(not_run(&target));
                break;
            }
            let work = one.clone();
            tasks.spawn(async move {
                let entry = work(target).await;
                drop(permit);
                entry
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let entry = joined.context("a target's task failed")?;
            collect_entry(entry, &bar, &failures, &mut entries);
        }
    }
    for target in canaries.chain(later) {
        entries.push(not_run(&target));
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let used = scratch.used.load(Ordering::Relaxed);
    let report = Report::new(
        Header {
            command: "apply".to_owned(),
            desired: context.desired.fingerprint.clone(),
            template: context.desired.template.clone(),
            shard: args.selection.shard,
        },
        entries,
        Exit::fleet_worst,
    );
    note!(
        "visited {total} target(s) in {:.1} s with --jobs {}{}; {used} needed the scratch server",
        clock.elapsed().as_secs_f64(),
        args.run.jobs,
        match stopped {
            Some(why) => format!(" (stopped: {why})"),
            None => String::new(),
        }
    );
    write_report(&report, &args.output)?;
    Ok(Exit::from_code(report.exit_code))
}

/// Waits for a free job, collecting the targets that finished meanwhile (between starts, so
/// that failures are counted and the progress bar moves while targets start in order).
async fn free_job(
    semaphore: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Entry>,
    bar: &Option<ProgressBar>,
    failures: &AtomicUsize,
    entries: &mut Vec<Entry>,
) -> anyhow::Result<tokio::sync::OwnedSemaphorePermit> {
    let permit = Arc::clone(semaphore)
        .acquire_owned()
        .await
        .context("the fleet's job limiter closed")?;
    while let Some(joined) = tasks.try_join_next() {
        let entry = joined.context("a target's task failed")?;
        collect_entry(entry, bar, failures, entries);
    }
    Ok(permit)
}

fn collect_entry(
    entry: Entry,
    bar: &Option<ProgressBar>,
    failures: &AtomicUsize,
    entries: &mut Vec<Entry>,
) {
    if let Some(bar) = bar {
        bar.inc(1);
        bar.set_message(entry.name.clone());
    }
    if entry.status == Status::Error {
        failures.fetch_add(1, Ordering::Relaxed);
    }
    entries.push(entry);
}

/// A target `fleet apply` did not start (a canary failed, `--max-failures` was reached):
/// not brought in line, so it counts as an error in the exit code.
fn not_run(target: &Target) -> Entry {
    let mut entry = entry(target);
    entry.status = Status::NotRun;
    entry.exit_code = Exit::Error.code();
    entry
}

/// One target of `fleet apply`: apply's own path ([`super::apply::apply_to`]) on the
/// canonical desired state, with the fleet's scratch database.
async fn apply_one(
    context: &Context,
    global: &super::Global,
    args: &super::apply::ApplyOptions,
    history_schema: Ident,
    target: &Target,
    observed: &mut super::apply::Observed,
) -> anyhow::Result<Exit> {
    let (options, _) = options_for(target, context.server.as_ref())?;
    let mut connected = connect(options, context.connect_timeout).await?;
    let desired = desired_for(&context.desired, target)?;
    let source = super::apply::Source::Canonical(Box::new(desired), context.scratch.borrow());
    let exit = super::apply::apply_to(
        global,
        args,
        false,
        history_schema,
        source,
        &mut connected,
        observed,
    )
    .await;
    let _ = connected.conn.close().await;
    exit
}
