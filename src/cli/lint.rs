//! `reconcile lint` (issue 5; being built).

#[derive(Debug, clap::Args)]
pub struct LintArgs {}

pub async fn run(_global: &super::Global, _args: &LintArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`reconcile lint` is not built yet")
}
