//! `reconcile pull`: the live schema as desired-state YAML.

use std::path::PathBuf;

use anyhow::Context;

use reconcile::introspect::{self, Scope};

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Folder to write the YAML files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Schemas to pull (repeatable); default: every non-system schema except reconcile's
    /// own history schema.
    #[arg(long = "schema-name", value_name = "SCHEMA")]
    pub schema_names: Vec<String>,
    /// The history schema `apply` writes (never pulled unless named with --schema-name).
    #[arg(long, default_value = "reconcile", value_name = "SCHEMA")]
    pub history_schema: String,
}

pub async fn run(global: &super::Global, args: &PullArgs) -> anyhow::Result<u8> {
    let mut target = super::connect::target(global.database_url.as_deref(), "pull").await?;
    let mut ignore = global.ignore_schemas.clone();
    if !args.schema_names.contains(&args.history_schema) {
        ignore.push(args.history_schema.clone());
    }
    let scope = Scope {
        schemas: (!args.schema_names.is_empty()).then(|| args.schema_names.clone()),
        ignore,
    };
    let live = introspect::schema(&mut target.conn, &scope).await?;
    for skipped in &live.skipped {
        tracing::warn!("skipped {}: {}", skipped.object, skipped.reason);
    }
    let written = reconcile::pull::write_dir(&live.schema, &args.out)
        .with_context(|| format!("cannot write into {}", args.out.display()))?;
    eprintln!(
        "pulled {} tables from {} into {} file(s) under {}",
        live.schema.tables.len(),
        target.description,
        written.len(),
        args.out.display()
    );
    Ok(super::exit::IN_SYNC)
}
