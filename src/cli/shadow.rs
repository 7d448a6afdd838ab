//! `reconcile shadow` (issue 5; being built).

#[derive(Debug, clap::Args)]
pub struct ShadowArgs {}

pub async fn run(_global: &super::Global, _args: &ShadowArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`reconcile shadow` is not built yet")
}
