//! `reconcile pull`: the live schema as desired-state YAML. A folder of desired state is
//! edited by hand (comments, ordering, notes), so pull never replaces a file whose content
//! differs without `--force` — and when it refuses one file it writes none. Beside the YAML
//! it writes the JSON Schema their first line names, so an editor checks them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use reconcile::introspect::{self, Scope};
use reconcile::load::json_schema;

use super::out::note;

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
    /// Overwrite files in --out whose content differs from what is pulled (hand edits and
    /// comments in them are lost). Without it pull refuses and writes nothing.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &super::Global, args: &PullArgs) -> anyhow::Result<super::Exit> {
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
    report_skipped(&live.skipped);
    let files = reconcile::pull::render(&live.schema);
    let written = write_files(&args.out, &files, args.force)?;
    let schema_json = write_schema_json(&args.out)?;
    note!(
        "pulled {} tables from {} into {} file(s) under {} ({} written, {} unchanged){}",
        live.schema.tables.len(),
        target.description,
        files.len(),
        args.out.display(),
        written,
        files.len() - written,
        schema_json
            .map(|what| format!("; {what} {}, which editors read", json_schema::FILE_NAME))
            .unwrap_or_default()
    );
    Ok(super::Exit::InSync)
}

/// Writes the JSON Schema that the pulled files' modeline names into `dir`, or brings it up
/// to date; `None` when it already was. It is generated, never edited, so unlike the YAML it
/// is replaced without `--force`: what an older reconcile wrote would flag what this one
/// accepts.
pub(super) fn write_schema_json(dir: &Path) -> anyhow::Result<Option<&'static str>> {
    let path = dir.join(json_schema::FILE_NAME);
    let schema = json_schema::generate();
    let what = match std::fs::read(&path) {
        Ok(existing) if existing == schema.as_bytes() => return Ok(None),
        Ok(_) => "updated",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "wrote",
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    std::fs::write(&path, schema).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(what))
}

/// Writes `files` into `dir` (created if missing); returns how many were new or changed. A
/// file already there with other content is refused unless `force` — all of them are
/// checked before anything is written, so a refusal leaves the folder as it was.
fn write_files(dir: &Path, files: &BTreeMap<String, String>, force: bool) -> anyhow::Result<usize> {
    let mut changed = Vec::new();
    let mut differing = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) if existing == content.as_bytes() => {}
            Ok(_) => {
                differing.push(path.display().to_string());
                changed.push((path, content));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => changed.push((path, content)),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        }
    }
    if !differing.is_empty() && !force {
        anyhow::bail!(
            "pull would overwrite {} file(s) whose content differs from the database's schema \
             (edits and comments in them would be lost):\n{}\nNothing was written. Compare \
             them with a pull into an empty folder, or pass --force to overwrite them.",
            differing.len(),
            differing
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (path, content) in &changed {
        std::fs::write(path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    for path in &differing {
        note!("overwrote {path} (--force)");
    }
    Ok(changed.len())
}

/// What was not pulled: one line per kind with a count (and the reason), each object at
/// `-v`. A line per object would bury the output (≈90 for the pagila sample database).
fn report_skipped(skipped: &[introspect::Skipped]) {
    if skipped.is_empty() {
        return;
    }
    let mut by_kind: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in skipped {
        *by_kind.entry((s.object.kind(), s.reason)).or_default() += 1;
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
