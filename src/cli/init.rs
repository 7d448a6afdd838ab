//! `reconcile init`: a new project in one command — the desired state (pulled from a live
//! database or an example, with the JSON Schema its files name for editors), `migrations/`,
//! `verify/` with the shipped assertions, `reconcile.toml` with environments, and GitHub
//! workflows for the three jobs reconcile is for (plan in pull requests, apply on deploy, a
//! nightly drift audit). The files are the ones of `examples/project`, which CI exercises end
//! to end, so what `init` writes is known to work. It never overwrites: every file is checked
//! before the first is written.

use std::path::{Path, PathBuf};

use super::out::note;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example: reconcile init --from-url \"$DATABASE_URL\"")]
pub struct InitArgs {
    /// The project folder (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Pull the desired state from this database instead of writing the example schema.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub from_url: Option<String>,
}

/// (path in the project, content): the project's files but the desired state.
const PROJECT: &[(&str, &str)] = &[
    (
        "reconcile.toml",
        include_str!("../../examples/project/reconcile.toml"),
    ),
    (
        ".github/workflows/reconcile-plan.yml",
        include_str!("../../examples/project/.github/workflows/reconcile-plan.yml"),
    ),
    (
        ".github/workflows/reconcile-apply.yml",
        include_str!("../../examples/project/.github/workflows/reconcile-apply.yml"),
    ),
    (
        ".github/workflows/reconcile-drift.yml",
        include_str!("../../examples/project/.github/workflows/reconcile-drift.yml"),
    ),
    (
        "verify/foreign_keys_have_indexes.sql",
        include_str!("../../verify/foreign_keys_have_indexes.sql"),
    ),
    (
        "verify/no_invalid_indexes.sql",
        include_str!("../../verify/no_invalid_indexes.sql"),
    ),
    (
        "verify/no_unvalidated_constraints.sql",
        include_str!("../../verify/no_unvalidated_constraints.sql"),
    ),
    (
        "verify/tables_have_primary_keys.sql",
        include_str!("../../verify/tables_have_primary_keys.sql"),
    ),
    ("migrations/README.md", MIGRATIONS_README),
];

/// The example desired state, with the migration and assertion that go with it.
const EXAMPLE: &[(&str, &str)] = &[
    (
        "schema/app.yaml",
        include_str!("../../examples/project/schema/app.yaml"),
    ),
    (
        "schema/views.sql",
        include_str!("../../examples/project/schema/views.sql"),
    ),
    (
        "migrations/001_backfill_author_names.sql",
        include_str!("../../examples/project/migrations/001_backfill_author_names.sql"),
    ),
    (
        "verify/posts_have_authors.sql",
        include_str!("../../examples/project/verify/posts_have_authors.sql"),
    ),
];

const MIGRATIONS_README: &str = "\
Versioned SQL migrations: data changes and anything the declarative schema in schema/ cannot
say. Name them 001_what.sql, 002_next.sql, ... (docs/migrations.md). `reconcile lint` checks
them, `reconcile migrate apply` runs the pending ones once each and records their checksums.
";

pub async fn run(global: &super::Global, args: &InitArgs) -> anyhow::Result<super::Exit> {
    let mut files: Vec<(String, String)> = PROJECT
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    let pulled = match &args.from_url {
        Some(url) => Some(pull(global, url).await?),
        None => {
            files.extend(EXAMPLE.iter().map(|(p, c)| (p.to_string(), c.to_string())));
            None
        }
    };
    if let Some(schema_files) = &pulled {
        files.extend(
            schema_files
                .iter()
                .map(|(name, text)| (format!("schema/{name}"), text.clone())),
        );
    }
    // What the modeline of the files in schema/ names, for editors.
    files.push((
        format!("schema/{}", reconcile::load::json_schema::FILE_NAME),
        reconcile::load::json_schema::generate(),
    ));
    files.sort();
    let taken: Vec<String> = files
        .iter()
        .map(|(p, _)| args.dir.join(p))
        .filter(|p| p.exists())
        .map(|p| format!("  - {}", p.display()))
        .collect();
    if !taken.is_empty() {
        anyhow::bail!(
            "init writes nothing into a project that has these files already:\n{}\n\
             move them aside or run init in another folder",
            taken.join("\n")
        );
    }
    for (path, text) in &files {
        write(&args.dir.join(path), text)?;
    }
    let schema_origin = match &args.from_url {
        Some(_) => "pulled from the database",
        None => "an example",
    };
    note!(
        "wrote {} files into {} (schema/: {schema_origin}). Next:\n  \
         reconcile plan                      # against a throwaway PostgreSQL\n  \
         export STAGING_DATABASE_URL=...     # then: reconcile plan --env staging\n  \
         reconcile config                    # the effective settings and where they come from\n\
         The workflows in .github/workflows need the repository variable RECONCILE_REPOSITORY \
         and the secret PROD_DATABASE_URL (README: CI).",
        files.len(),
        args.dir.display()
    );
    Ok(super::Exit::InSync)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The live schema as desired-state files, named as `reconcile pull` names them.
async fn pull(global: &super::Global, url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut target = super::connect::target(Some(url), "init").await?;
    let mut scope = reconcile::introspect::Scope {
        schemas: None,
        ignore: global.ignore_schemas.clone(),
    };
    scope.ignore.push("reconcile".to_owned());
    let live = reconcile::introspect::schema(&mut target.conn, &scope).await?;
    Ok(reconcile::pull::render(&live.schema).into_iter().collect())
}
