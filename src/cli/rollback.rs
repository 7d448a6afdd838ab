//! `reconcile rollback --run ID`: the rollback guide of an applied run, read from the history
//! tables, printed for a human to review. Nothing is executed; the session is read-only.

use std::io::Write;

use anyhow::Context as _;

use reconcile::apply::History;
use reconcile::model::Ident;
use reconcile::rollback;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["run", "migration"])))]
pub struct RollbackArgs {
    /// The apply run to undo (its id in `reconcile history`).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// The applied migration to undo (needs the migrations runner; not available yet).
    #[arg(long, value_name = "VERSION")]
    pub migration: Option<String>,
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

pub async fn run(global: &super::Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    if let Some(version) = &args.migration {
        anyhow::bail!(
            "`reconcile rollback --migration {version}` needs the migrations runner, which is \
             not built yet; for now use --run ID (see `reconcile history`)"
        );
    }
    let Some(id) = args.run else {
        anyhow::bail!("give --run ID (see `reconcile history`)");
    };
    let schema = Ident::new(args.history_schema.clone())
        .map_err(|e| anyhow::anyhow!("--history-schema: {e}"))?;
    let mut target = super::connect::target(global.database_url.as_deref()).await?;
    sqlx::raw_sql("SET default_transaction_read_only = on")
        .execute(&mut target.conn)
        .await
        .context("cannot make the session read-only")?;
    let (run, steps) = rollback::run::load(&mut target.conn, &History::new(schema), id).await?;
    let guide = rollback::guide_for_run(&run, &steps);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        GuideFormat::Text => rollback::render_text(&guide, &mut out)?,
        GuideFormat::Json => rollback::render_json(&guide, &mut out)?,
    }
    out.flush()?;
    if guide.manual() > 0 {
        eprintln!(
            "note: {} statement(s) of run {id} cannot be undone automatically; they are listed \
             as comments",
            guide.manual()
        );
    }
    Ok(super::exit::IN_SYNC)
}
