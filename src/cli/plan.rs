//! `reconcile plan`: load, canonicalise, introspect, diff, print.

use std::io::Write;

use reconcile::introspect::{self, Scope};
use reconcile::{canon, diff, load};

pub async fn run(global: &super::Global) -> anyhow::Result<u8> {
    // Bad input stops here, before any connection is made.
    let desired = load::from_dir(&global.schema)?;
    let mut target = super::connect::target(global.database_url.as_deref()).await?;
    if target.throwaway {
        eprintln!(
            "note: no --database-url or DATABASE_URL given; planning against {}",
            target.description
        );
    }
    let scope = Scope::of(&desired, &global.ignore_schemas);
    let live = introspect::schema(&mut target.conn, &scope).await?;
    let (_scratch_cluster, mut scratch) = super::connect::scratch().await?;
    let canonical = canon::canonicalise(&desired, &mut scratch).await?;
    for (object, why) in &canonical.unverified {
        tracing::warn!("{object} could not be checked on the scratch database: {why}");
    }
    let result = diff::diff(&live.schema, &canonical.schema);

    let color = global.color.enabled();
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", bold(&format!("Plan for {}", target.description)))?;
    if result.additive.is_empty() {
        writeln!(out, "\nNo changes to apply.")?;
    } else {
        writeln!(out, "\n{}", bold("Additive changes:"))?;
        for (i, change) in result.additive.iter().enumerate() {
            writeln!(out, "\n-- {}. {}\n{};", i + 1, change.object, change.sql)?;
        }
    }
    if !result.findings.is_empty() {
        writeln!(out, "\n{}", bold("Reported, never executed:"))?;
        for f in &result.findings {
            writeln!(out, "  {} {}: {}", f.code, f.object, f.message)?;
        }
    }
    writeln!(
        out,
        "\n{} additive change(s), {} finding(s)",
        result.additive.len(),
        result.findings.len()
    )?;
    out.flush()?;
    Ok(if !result.findings.is_empty() {
        super::exit::DRIFT
    } else if !result.additive.is_empty() {
        super::exit::PENDING
    } else {
        super::exit::IN_SYNC
    })
}
