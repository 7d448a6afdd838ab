//! `reconcile lint`: destructive and risky statements in SQL migration files, without a
//! database. The library does the checking ([`reconcile::lint`]); this owns the file list,
//! the output stream and the exit code.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use reconcile::lint::{self, Code, Options, render::Format};
use reconcile::migrate;
use reconcile::model::Ident;

use super::out::{alert, note};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// SQL files, or folders (their `*.sql` files in name order, down files left out), linted
    /// in the order given.
    /// Default: the pending migrations of `--migrations` when a database is named
    /// (--database-url, DATABASE_URL or PG* variables), else every `*.sql` file there but
    /// the down files (they never run).
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Folder of versioned SQL migrations, linted when no FILES are given.
    #[arg(long, default_value = "migrations", value_name = "DIR")]
    pub migrations: PathBuf,
    /// Schema of the migrations tracking table (for which migrations are pending).
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
    /// text for people, json for tools (shape in docs/lint.md), github for pull-request
    /// annotations in GitHub Actions.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Fail (exit 3) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Never report this code (repeatable), e.g. `--allow L020`.
    #[arg(long = "allow", value_name = "CODE", value_parser = parse_code)]
    pub allow: Vec<Code>,
}

fn parse_code(s: &str) -> Result<Code, String> {
    Code::parse(s).ok_or_else(|| format!("unknown lint code `{s}` (see docs/lint.md)"))
}

pub async fn run(global: &super::Global, args: &LintArgs) -> anyhow::Result<super::Exit> {
    let files = if args.files.is_empty() {
        default_files(global, args).await?
    } else {
        let mut files = Vec::new();
        for path in &args.files {
            if path.is_dir() {
                files.extend(lint::migration_files(path)?.0);
            } else {
                files.push(path.clone());
            }
        }
        files
    };
    let options = Options {
        ignore: args.allow.clone(),
    };
    let report = lint::lint_files(&files, &options)?;
    let mut out = super::out::stdout();
    let color = args.format == Format::Text && global.color.enabled();
    lint::render::render(args.format, &report, color, &mut out)?;
    out.flush()?;
    if !report.unparsed.is_empty() {
        // After the report of the files that could be linted.
        for unparsed in &report.unparsed {
            alert!("error: {unparsed}");
        }
        return Ok(super::Exit::Error);
    }
    // Errors found (or warnings, with `--deny-warnings`): the code of plan's destructive
    // drift, "something here needs a human".
    Ok(if report.fails(args.deny_warnings) {
        super::Exit::Drift
    } else {
        super::Exit::InSync
    })
}

/// No FILES: the pending migrations when a database is named (a named database that cannot
/// be reached is an error, as for `migrate check`; a throwaway one is never started — it
/// would have no history), else every migration file. A note on stderr says which.
async fn default_files(global: &super::Global, args: &LintArgs) -> anyhow::Result<Vec<PathBuf>> {
    let dir = &args.migrations;
    if !super::connect::database_named(global.database_url.as_deref()) {
        let (files, down) = lint::migration_files(dir).with_context(|| {
            format!(
                "no FILES given, and the migrations folder {} cannot be listed",
                dir.display()
            )
        })?;
        let skipped = match down.len() {
            0 => String::new(),
            1 => " (1 down file skipped: it never runs)".to_owned(),
            n => format!(" ({n} down files skipped: they never run)"),
        };
        note!(
            "note: no database given (--database-url, DATABASE_URL or PG*): linting all {} \
             migration file(s) in {}{skipped}",
            files.len(),
            dir.display()
        );
        return Ok(files);
    }
    let schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let migrations = migrate::discover(dir)?;
    let mut target = super::connect::target(global.database_url.as_deref(), "lint")
        .await
        .context(
            "lint was given a database (to find the pending migrations) but cannot reach it",
        )?;
    target.make_read_only().await?;
    let entries = migrate::status(&mut target.conn, &migrations, &schema).await?;
    let mut pending: Vec<usize> = entries
        .iter()
        .filter(|e| e.state.runs())
        .filter_map(|e| e.index)
        .collect();
    pending.sort_unstable();
    note!(
        "note: linting the {} pending migration file(s) of {} (of {}; per {}); pass FILES or a \
         folder to lint others",
        pending.len(),
        dir.display(),
        migrations.files.len(),
        target.description
    );
    Ok(pending
        .into_iter()
        .map(|i| migrations.files[i].path.clone())
        .collect())
}
