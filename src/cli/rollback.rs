//! `reconcile rollback --run ID | --migration VERSION`: the rollback guide of an applied run
//! (read from the history tables) or of a migration file (its statements inverted, and the
//! project's own `.down.sql` shown beside it), printed for a human to review. Nothing is
//! executed; any session is read-only.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use reconcile::apply::History;
use reconcile::migrate::{self, MigrateError, State};
use reconcile::model::Ident;
use reconcile::rollback::{self, Guide};

use super::out::note;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["run", "migration"])))]
pub struct RollbackArgs {
    /// The apply run to undo (its id in `reconcile history`).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// The migration to undo: its version (`7`, `007`, `20220314_002`, `V1.2`) or file name.
    #[arg(long, value_name = "VERSION")]
    pub migration: Option<String>,
    /// Folder of migration files (with `--migration`).
    #[arg(long, default_value = "migrations", value_name = "DIR")]
    pub migrations: PathBuf,
    /// Schema of the history tables in the target database.
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
    /// `text` is the SQL script itself; `json` the same guide as data.
    #[arg(long, value_enum, default_value = "text")]
    pub format: GuideFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GuideFormat {
    Text,
    Json,
}

pub async fn run(global: &super::Global, args: &RollbackArgs) -> anyhow::Result<super::Exit> {
    if let Some(version) = &args.migration {
        return migration(global, args, version).await;
    }
    let Some(id) = args.run else {
        anyhow::bail!("give --run ID (see `reconcile history`)");
    };
    let (schema, mut target) = read_only_target(global, args).await?;
    let (run, steps) = rollback::run::load(&mut target.conn, &History::new(schema), id).await?;
    let guide = rollback::guide_for_run(&run, &steps);
    let mut out = super::out::stdout();
    match args.format {
        GuideFormat::Text => rollback::render_text(&guide, &mut out)?,
        GuideFormat::Json => rollback::render_json(&guide, &mut out)?,
    }
    out.flush()?;
    if guide.manual() > 0 {
        note!(
            "note: {} statement(s) of run {id} cannot be undone automatically; they are listed \
             as comments",
            guide.manual()
        );
    }
    Ok(super::Exit::InSync)
}

/// The guide of one migration file, with the project's own down migration (if any) shown
/// commented out after it.
async fn migration(
    global: &super::Global,
    args: &RollbackArgs,
    given: &str,
) -> anyhow::Result<super::Exit> {
    let migrations = migrate::discover(&args.migrations)?;
    let Some(m) = migrations
        .find_version(given)
        .and_then(|v| migrations.files.iter().find(|m| &m.version == v))
    else {
        return Err(MigrateError::NoSuchVersion {
            given: given.to_owned(),
            known: format!(
                "{} file(s) in {}",
                migrations.files.len(),
                migrations.dir.display()
            ),
        }
        .into());
    };
    let mut guide = rollback::guide_for_sql(&format!("migration {}", m.file_name), &m.sql);
    let down = match &m.down {
        Some(path) => Some((
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => None,
    };
    if let Some((path, _)) = &down {
        guide.notes.push(format!(
            "The project has its own down migration for this version ({path}). It is shown at \
             the end, commented out: reconcile never executes it either. Use one or the other, \
             not both."
        ));
    }
    if super::connect::database_named(global.database_url.as_deref()) {
        match applied_note(global, args, &migrations, &m.version.key()).await {
            Ok(Some(note)) => guide.notes.insert(0, note),
            Ok(None) => {}
            Err(e) => note!(
                "warning: could not check whether version {} was applied: {}",
                m.version.key(),
                super::render_error(&e).trim_start_matches("error: ")
            ),
        }
    }
    let mut out = super::out::stdout();
    match args.format {
        GuideFormat::Text => {
            rollback::render_text(&guide, &mut out)?;
            if let Some((path, sql)) = &down {
                write_down_text(&mut out, path, sql)?;
            }
        }
        GuideFormat::Json => write_json(&guide, down.as_ref(), &mut out)?,
    }
    out.flush()?;
    if guide.manual() > 0 {
        note!(
            "note: {} statement(s) of {} cannot be undone automatically; they are listed as \
             comments",
            guide.manual(),
            m.file_name
        );
    }
    Ok(super::Exit::InSync)
}

/// The history schema named by the arguments, and a read-only session on the target.
async fn read_only_target(
    global: &super::Global,
    args: &RollbackArgs,
) -> anyhow::Result<(Ident, super::connect::Target)> {
    let schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let mut target = super::connect::target(global.database_url.as_deref(), "rollback").await?;
    target.make_read_only().await?;
    Ok((schema, target))
}

/// What the tracking table says about `version`, as a line for the guide's header.
async fn applied_note(
    global: &super::Global,
    args: &RollbackArgs,
    migrations: &migrate::Migrations,
    version: &str,
) -> anyhow::Result<Option<String>> {
    let (schema, mut target) = read_only_target(global, args).await?;
    let entries = migrate::status(&mut target.conn, migrations, &schema).await?;
    let Some(e) = entries.iter().find(|e| e.version == version) else {
        return Ok(None);
    };
    let db = &target.description;
    let table = format!("{}.migrations", schema.quoted());
    let when = |e: &migrate::Entry| {
        format!(
            "{}{}{}",
            e.applied_at
                .as_deref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default(),
            e.applied_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            e.batch.map(|b| format!(" (batch {b})")).unwrap_or_default()
        )
    };
    Ok(Some(match e.state {
        State::Pending => format!(
            "NOT APPLIED: version {version} ({}) has never been applied to {db} (no row in \
             {table}); there is nothing to roll back there.",
            e.file
        ),
        State::Failed => format!(
            "NOT APPLIED: version {version} ({}) never applied successfully to {db}: its last \
             attempt failed{}. A file that runs in one transaction left nothing behind; a \
             `-- reconcile:no-transaction` file may have committed the statements before the \
             failure.",
            e.file,
            when(e)
        ),
        State::Applied if e.baselined => format!(
            "Version {version} ({}) was baselined in {db}{}: marked as applied without \
             running, so its objects were created some other way.",
            e.file,
            when(e)
        ),
        State::Applied => format!(
            "Version {version} ({}) was applied to {db}{}.",
            e.file,
            when(e)
        ),
        State::Changed => format!(
            "Version {version} ({}) was applied to {db}{}, but the file changed since: this \
             guide inverts the file's current text, not what ran.",
            e.file,
            when(e)
        ),
        State::Missing => return Ok(None),
    }))
}

/// Every line of `text` as a comment (a carriage return ends a line too, as in psql).
fn commented(text: &str) -> String {
    text.trim_end()
        .split(['\n', '\r'])
        .map(|l| {
            if l.is_empty() {
                "--".to_owned()
            } else {
                format!("-- {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_down_text(out: &mut impl Write, path: &str, sql: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "-- {}", "=".repeat(86))?;
    writeln!(
        out,
        "{}",
        commented(&format!("The project's own down migration: {path}"))
    )?;
    writeln!(
        out,
        "-- Written by the project's authors and shown for comparison, COMMENTED OUT: reconcile\n\
         -- never executes it, and running it after the guide above would undo twice. To use it\n\
         -- instead of the guide, review and run that file itself."
    )?;
    writeln!(out, "-- {}", "-".repeat(86))?;
    writeln!(out, "{}", commented(sql))
}

fn write_json(
    guide: &Guide,
    down: Option<&(String, String)>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    rollback::render_json(guide, &mut buffer)?;
    let mut doc: serde_json::Value = serde_json::from_slice(&buffer)?;
    if let Some(object) = doc.as_object_mut() {
        object.insert(
            "down_migration".to_owned(),
            match down {
                Some((path, sql)) => serde_json::json!({
                    "file": path,
                    "sql": sql,
                    "never_executed": true,
                }),
                None => serde_json::Value::Null,
            },
        );
    }
    reconcile::render::pretty_json::to_writer(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
