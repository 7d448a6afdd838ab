//! Argument parsing, the shared options, and the commands.

mod apply;
pub mod config;
mod connect;
mod errors;
mod exit;
mod fleet;
mod github;
mod init;
mod lint;
mod migrate;
pub mod out;
mod plan;
mod pull;
mod rollback;
mod shadow;

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use errors::render_error;
pub use exit::Exit;

#[derive(Debug, Parser)]
#[command(
    name = "reconcile",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("RECONCILE_GIT_COMMIT"), ")"),
    about = "Declarative schema-drift reconciler for PostgreSQL"
)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// PostgreSQL URL (the libpq PG* variables are used when it is absent). Without either,
    /// commands that need a database use an empty throwaway PostgreSQL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The desired state: a folder of YAML files (read recursively), or one YAML file.
    /// (`--schema` is the old spelling, still accepted; PostgreSQL schemas are chosen with
    /// `--schema-name` and `--ignore-schema`.)
    #[arg(
        long = "schema-dir",
        alias = "schema",
        value_name = "PATH",
        default_value = "schema",
        global = true
    )]
    pub schema_dir: PathBuf,
    /// Schemas never read or changed (repeatable), e.g. Supabase's auth and storage.
    #[arg(long = "ignore-schema", global = true, value_name = "SCHEMA")]
    pub ignore_schemas: Vec<String>,
    /// More logging (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr (the report still goes to stdout or --out; `apply -q` prints
    /// nothing unless it fails).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// An empty database where the desired state is built (in a transaction that is always
    /// rolled back) to learn PostgreSQL's canonical forms. Default: a throwaway local
    /// PostgreSQL.
    #[arg(long, env = "RECONCILE_DEV_URL", global = true, hide_env_values = true)]
    pub dev_url: Option<String>,
    /// Drift of live objects matching this pattern is not reported (repeatable; globs on the
    /// schema-qualified name of the object or of its table, e.g. `public.tmp_*`, `audit.*`).
    #[arg(long = "ignore-object", global = true, value_name = "PATTERN", value_parser = parse_pattern)]
    pub ignore_objects: Vec<glob::Pattern>,
    /// The project configuration [default: reconcile.toml in the working directory or the
    /// nearest folder above it].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The configuration's environment to use (`[env.NAME]` of reconcile.toml): its database
    /// URL variable and its settings.
    #[arg(long, global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// Colour output (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub color: ColorChoice,
}

fn parse_pattern(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("{text:?} is not a glob pattern: {e}"))
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
    #[command(after_help = "Examples:\n  \
        reconcile plan --database-url \"$DATABASE_URL\"\n  \
        reconcile plan --env staging --out plan.json   # a plan file for `apply` to run")]
    Plan(plan::PlanArgs),
    /// Read-only drift audit for schedules and CI gates: same comparison, then the `verify/`
    /// assertions; exit code says in sync (0), pending additive changes (2), other drift (3)
    /// or a failed assertion (4).
    #[command(after_help = "Examples:\n  \
        reconcile verify --env prod --fail-on destructive\n  \
        reconcile verify --format sarif --out drift.sarif   # for GitHub code scanning")]
    Verify(plan::VerifyArgs),
    /// Execute the plan (or a reviewed plan file) under an advisory lock, with lock and
    /// statement timeouts and retries; record it in the history tables; verify the result.
    #[command(after_help = "Examples:\n  \
        reconcile apply --env staging --dry-run\n  \
        reconcile apply plan.json --env prod   # exactly the plan reviewed in the pull request")]
    Apply(apply::ApplyArgs),
    /// Recent apply runs recorded in the target database.
    #[command(after_help = "Example: reconcile history --env prod --limit 5")]
    History(apply::HistoryArgs),
    /// Write a live database's schema as desired-state YAML (and, beside it, the JSON Schema
    /// its files name for editors).
    #[command(after_help = "Example: reconcile pull --database-url \"$DATABASE_URL\" --out schema")]
    Pull(pull::PullArgs),
    /// Versioned SQL migrations (`migrations/`): status, apply, check, baseline.
    #[command(after_help = "Examples:\n  \
        reconcile migrate status --env staging\n  \
        reconcile migrate apply --env staging --dry-run")]
    Migrate(migrate::MigrateArgs),
    /// Check SQL files (default: pending migrations) for destructive and risky statements.
    #[command(after_help = "Examples:\n  \
        reconcile lint\n  \
        reconcile lint migrations/002_add_index.sql --allow L020 --format github")]
    Lint(lint::LintArgs),
    /// Rehearse migrations on a throwaway PostgreSQL, then plan and run `verify/` assertions.
    #[command(
        after_help = "Example: reconcile shadow --out shadow.md   # a report for the pull request"
    )]
    Shadow(shadow::ShadowArgs),
    /// Print the inverse SQL of an applied run or migration, for a human to review. Never run.
    #[command(after_help = "Examples:\n  \
        reconcile rollback --run 12 --env prod > undo.sql   # the run's id from `reconcile history`\n  \
        reconcile rollback --migration 007 --env prod")]
    Rollback(rollback::RollbackArgs),
    /// Scaffold a project: schema/, migrations/, verify/, reconcile.toml and GitHub workflows
    /// for plan (pull requests), apply (deploys) and verify (nightly). Never overwrites.
    Init(init::InitArgs),
    /// Many databases (or tenant schemas) at once: `fleet verify` audits them all into one
    /// report, `fleet apply` applies to each (canaries first); see docs/fleet.md.
    #[command(
        after_help = "Example: reconcile fleet verify --targets targets.toml --jobs 16 --out fleet.json"
    )]
    Fleet(Box<fleet::FleetArgs>),
    /// Fleet reports: `report merge` joins the JSON reports of a fleet's shards into one.
    #[command(after_help = "Example: reconcile report merge shard-*.json --out fleet.json")]
    Report(fleet::ReportArgs),
    /// Print the effective settings (reconcile.toml, --env, flags) and where each came from.
    #[command(after_help = "Example: reconcile config --env prod")]
    Config,
    /// Print a shell completion script.
    #[command(
        after_help = "Example: reconcile completions bash > ~/.local/share/bash-completion/completions/reconcile"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example: reconcile man > reconcile.1 && man ./reconcile.1")]
    Man,
    /// Print the JSON Schema of the desired-state YAML, for editors (yaml-language-server:
    /// VS Code's YAML extension, Neovim, Helix, JetBrains). `pull` and `init` write it beside
    /// the YAML as reconcile.schema.json, which the files' first line names.
    #[command(
        after_help = "Examples:\n  reconcile schema-json --out schema/reconcile.schema.json\n  \
                            reconcile schema-json | jq '.properties | keys'"
    )]
    SchemaJson {
        /// Write it to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub fn init_tracing(global: &Global) {
    out::configure(global.quiet, global.verbose);
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
        // Its report of a failed write is an `eprintln!`, which panics on a closed stderr.
        .log_internal_errors(false)
        .try_init();
}

pub async fn run(args: Args, provenance: config::Provenance) -> anyhow::Result<Exit> {
    use clap::CommandFactory;
    let canonicalises = matches!(
        args.command,
        Command::Plan(_)
            | Command::Verify(_)
            | Command::Apply(_)
            | Command::Shadow(_)
            | Command::Fleet(_)
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
        Command::Init(a) => init::run(&args.global, &a).await,
        Command::Fleet(a) => fleet::run(&args.global, &a).await,
        Command::Report(a) => fleet::report(&args.global, &a).await,
        Command::Config => {
            let mut out = out::stdout();
            out.write_all(config::print(&args.global, &provenance).as_bytes())?;
            out.flush()?;
            Ok(Exit::InSync)
        }
        Command::Completions { shell } => {
            let mut out = out::stdout();
            clap_complete::generate(shell, &mut Args::command(), "reconcile", &mut out);
            out.flush()?;
            Ok(Exit::InSync)
        }
        Command::Man => {
            let mut out = out::stdout();
            clap_mangen::Man::new(Args::command()).render(&mut out)?;
            out.flush()?;
            Ok(Exit::InSync)
        }
        Command::SchemaJson { out: path } => {
            let schema = reconcile::load::json_schema::generate();
            match path {
                Some(path) => std::fs::write(&path, schema)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
                None => {
                    let mut out = out::stdout();
                    out.write_all(schema.as_bytes())?;
                    out.flush()?;
                }
            }
            Ok(Exit::InSync)
        }
    }
}

/// Prints what clap has to say about the arguments: help and `--version` on stdout (exit 0),
/// a usage error on stderr (exit 1, like any other error: clap's own 2 would read as "changes
/// pending" to a CI step).
pub fn usage(e: &clap::Error) -> Exit {
    // A closed stream is no reason to fail (`reconcile --help | head`).
    let _ = e.print();
    if e.use_stderr() {
        Exit::Error
    } else {
        Exit::InSync
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Args;

    /// Every command, subcommands too, ends its `--help` with a working invocation of itself
    /// (issue 17): `Example: reconcile <command> ...`, or `Examples:` and one per line.
    #[test]
    fn every_command_has_an_example_in_its_help() {
        fn walk(command: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .or(sub.get_after_long_help())
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                out.push((path.clone(), help));
                walk(sub, &path, out);
            }
        }
        let mut commands = Vec::new();
        walk(&Args::command(), "reconcile", &mut commands);
        assert!(commands.len() >= 18, "{commands:?}");
        let mut wrong = Vec::new();
        for (path, help) in &commands {
            let examples: Vec<&str> = match help.split_once('\n') {
                _ if help.starts_with("Example: ") => vec![&help["Example: ".len()..]],
                Some(("Examples:", rest)) => rest.lines().map(str::trim).collect(),
                _ => vec![],
            };
            let runs_itself = |e: &&str| e.starts_with(&format!("{path} ")) || e == path;
            if examples.is_empty() || !examples.iter().all(runs_itself) {
                wrong.push(format!("{path}: {help:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "commands whose --help lacks an example of themselves (#[command(after_help = \
             \"Example: ...\")]):\n{}",
            wrong.join("\n")
        );
    }
}
