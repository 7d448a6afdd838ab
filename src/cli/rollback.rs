//! `reconcile rollback` (issue 5; being built).

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {}

pub async fn run(_global: &super::Global, _args: &RollbackArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`reconcile rollback` is not built yet")
}
