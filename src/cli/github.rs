//! GitHub Actions' job summary: when a step runs under Actions (`GITHUB_STEP_SUMMARY` names a
//! file), plan, verify, apply and shadow append their Markdown report there, so the run's page
//! shows what was planned or found without opening the log.

use std::io::Write;

/// Appends what `write` writes to the job summary, when there is one. A summary that cannot be
/// written is an error: the CI step would otherwise pass with its report missing.
pub fn append_step_summary(
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut text = Vec::new();
    write(&mut text)?;
    text.extend_from_slice(b"\n");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot append to GITHUB_STEP_SUMMARY ({}): {e}",
                std::path::Path::new(&path).display()
            )
        })?;
    file.write_all(&text)?;
    Ok(())
}

/// Appends one Markdown line (an apply's outcome).
pub fn append_line(line: &str) -> anyhow::Result<()> {
    append_step_summary(|out| writeln!(out, "{line}"))
}
