//! Argument parsing, the shared options, and the commands.

mod apply;
mod connect;
mod lint;
mod migrate;
mod plan;
mod pull;
mod rollback;
mod shadow;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes scripts depend on (README, "Exit codes").
pub mod exit {
    pub const IN_SYNC: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const PENDING: u8 = 2;
    pub const DRIFT: u8 = 3;
    /// `verify`: a `verify/` assertion returned rows (takes precedence over 2 and 3).
    pub const ASSERTIONS_FAILED: u8 = 4;
    /// `shadow`: a migration failed in the rehearsal (or the runner refused the files); the
    /// report says where. Distinct from 1 so CI can tell "this pull request's migrations are
    /// broken" from "the rehearsal could not be carried out".
    pub const MIGRATION_FAILED: u8 = 5;
}

#[derive(Debug, Parser)]
#[command(
    name = "reconcile",
    version,
    about = "Declarative schema-drift reconciler for PostgreSQL"
)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// PostgreSQL URL (the libpq PG* variables are used when it is absent). Without either,
    /// commands that need a database use an empty throwaway PostgreSQL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Folder of desired-state YAML files.
    #[arg(long, default_value = "schema", global = true)]
    pub schema: PathBuf,
    /// Schemas never read or changed (repeatable), e.g. Supabase's auth and storage.
    #[arg(long = "ignore-schema", global = true, value_name = "SCHEMA")]
    pub ignore_schemas: Vec<String>,
    /// More logging (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// An empty database where the desired state is built (in a transaction that is always
    /// rolled back) to learn PostgreSQL's canonical forms. Default: a throwaway local
    /// PostgreSQL.
    #[arg(long, env = "RECONCILE_DEV_URL", global = true, hide_env_values = true)]
    pub dev_url: Option<String>,
    /// Colour output (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare the desired state with the database: the ordered additive SQL that would run,
    /// and every other difference (reported, never run).
    Plan(plan::PlanArgs),
    /// Read-only drift audit for schedules and CI gates: same comparison, then the `verify/`
    /// assertions; exit code says in sync (0), pending additive changes (2), other drift (3)
    /// or a failed assertion (4).
    Verify(plan::VerifyArgs),
    /// Execute the plan (or a reviewed plan file) under an advisory lock, with lock and
    /// statement timeouts and retries; record it in the history tables; verify the result.
    Apply(apply::ApplyArgs),
    /// Recent apply runs recorded in the target database.
    History(apply::HistoryArgs),
    /// Write a live database's schema as desired-state YAML.
    Pull(pull::PullArgs),
    /// Versioned SQL migrations (`migrations/`): status, apply, check, baseline.
    Migrate(migrate::MigrateArgs),
    /// Check SQL files (default: pending migrations) for destructive and risky statements.
    Lint(lint::LintArgs),
    /// Rehearse migrations on a throwaway PostgreSQL, then plan and run `verify/` assertions.
    Shadow(shadow::ShadowArgs),
    /// Print the inverse SQL of an applied run or migration, for a human to review. Never run.
    Rollback(rollback::RollbackArgs),
}

pub fn init_tracing(global: &Global) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            // sqlx warns about every statement over a second; index builds take longer.
            0 => "warn,sqlx::query=error",
            1 => "info,sqlx=warn,sqlx::query=error",
            2 => "debug,sqlx=info",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(global.color.enabled())
        .try_init();
}

pub async fn run(args: Args) -> anyhow::Result<u8> {
    let canonicalises = matches!(
        args.command,
        Command::Plan(_) | Command::Verify(_) | Command::Apply(_) | Command::Shadow(_)
    );
    connect::check_urls(&args.global, canonicalises)?;
    match args.command {
        Command::Plan(plan) => plan::run_plan(&args.global, &plan).await,
        Command::Verify(verify) => plan::run_verify(&args.global, &verify).await,
        Command::Apply(apply) => apply::run(&args.global, &apply).await,
        Command::History(history) => apply::history(&args.global, &history).await,
        Command::Pull(pull) => pull::run(&args.global, &pull).await,
        Command::Migrate(a) => migrate::run(&args.global, &a).await,
        Command::Lint(a) => lint::run(&args.global, &a).await,
        Command::Shadow(a) => shadow::run(&args.global, &a).await,
        Command::Rollback(a) => rollback::run(&args.global, &a).await,
    }
}

/// The message for an error; load errors already carry their own layout.
pub fn render_error(e: &anyhow::Error) -> String {
    if let Some(load) = e.downcast_ref::<reconcile::load::LoadErrors>() {
        return load.to_string().trim_end().to_owned();
    }
    let mut out = format!("error: {e}");
    for cause in e.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}
