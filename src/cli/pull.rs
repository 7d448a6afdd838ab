//! `reconcile pull`: the live schema as desired-state YAML.

use super::out::note;
use std::collections::BTreeMap;
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

pub async fn run(global: &super::Global, args: &PullArgs) -> anyhow::Result<super::Exit> {
    let mut target = super::connect::target(global.database_url.as_deref()).await?;
    if target.throwaway {
        note!(
            "note: no database URL given; pulling from {} (it is empty)",
            target.description
        );
    }
    let mut ignore = global.ignore_schemas.clone();
    if !args.schema_names.contains(&args.history_schema) {
        ignore.push(args.history_schema.clone());
    }
    let scope = Scope {
        schemas: (!args.schema_names.is_empty()).then(|| args.schema_names.clone()),
        ignore,
    };
    let live = introspect::schema(&mut target.conn, &scope).await?;
    report_skipped(&live.skipped);
    let written = reconcile::pull::write_dir(&live.schema, &args.out)
        .with_context(|| format!("cannot write into {}", args.out.display()))?;
    note!(
        "pulled {} tables from {} into {} file(s) under {}",
        live.schema.tables.len(),
        target.description,
        written.len(),
        args.out.display()
    );
    Ok(super::Exit::InSync)
}

/// What was not pulled: one line per kind with a count (and the reason), each object at
/// `-v`. A line per object would bury the output (≈90 for the pagila sample database).
fn report_skipped(skipped: &[introspect::Skipped]) {
    if skipped.is_empty() {
        return;
    }
    let mut by_kind: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in skipped {
        *by_kind.entry((kind_of(&s.object), s.reason)).or_default() += 1;
    }
    let verbose = super::out::verbose() > 0;
    note!(
        "note: {} object(s) not pulled: reconcile does not manage them yet{}",
        skipped.len(),
        if verbose { "" } else { " (-v lists them)" }
    );
    for ((kind, reason), count) in &by_kind {
        note!("  {kind}: {count} ({reason})");
    }
    if verbose {
        for s in skipped {
            note!("  - {}: {}", s.object, s.reason);
        }
    }
}

/// The kind an introspection `object` text starts with (`view public.v` → `view`).
fn kind_of(object: &str) -> &str {
    const TWO_WORDS: &str = "materialized view";
    if object.starts_with(TWO_WORDS) {
        TWO_WORDS
    } else {
        object.split(' ').next().unwrap_or(object)
    }
}
