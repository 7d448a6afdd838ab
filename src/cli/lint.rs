//! `reconcile lint`: destructive and risky statements in SQL migration files, without a
//! database. The library does the checking ([`reconcile::lint`]); this owns the file list,
//! the output stream and the exit code.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use reconcile::lint::{self, Code, Options, render::Format};

/// Errors found (or warnings, with `--deny-warnings`). The same number as plan's destructive
/// drift: "something here needs a human".
pub const LINT_FAILED: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// SQL files, or folders (their `*.sql` files in name order), linted in the order given.
    /// Default: every `*.sql` file in `--migrations`.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Folder of versioned SQL migrations, linted when no FILES are given.
    #[arg(long, default_value = "migrations", value_name = "DIR")]
    pub migrations: PathBuf,
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

pub async fn run(global: &super::Global, args: &LintArgs) -> anyhow::Result<u8> {
    let files = if args.files.is_empty() {
        lint::migration_files(&args.migrations).with_context(|| {
            format!(
                "no FILES given, and the migrations folder {} cannot be listed",
                args.migrations.display()
            )
        })?
    } else {
        let mut files = Vec::new();
        for path in &args.files {
            if path.is_dir() {
                files.extend(lint::migration_files(path)?);
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
    let mut out = std::io::stdout().lock();
    let color = args.format == Format::Text && global.color.enabled();
    lint::render::render(args.format, &report, color, &mut out)?;
    out.flush()?;
    Ok(if report.fails(args.deny_warnings) {
        LINT_FAILED
    } else {
        super::exit::IN_SYNC
    })
}
