//! `reconcile migrate` (issue 5; being built).

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

pub async fn run(_global: &super::Global, _args: &MigrateArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`reconcile migrate` is not built yet")
}
