//! The zero-false-drift check shared by the fixture and corpus tests:
//! introspect → pull to YAML → load the YAML → the two models must be equal; and the
//! readable model difference it and the database-free round trip print.

use std::path::PathBuf;

use reconcile::introspect::{self, Introspected, Scope};
use reconcile::model::Schema;

/// What one round trip found.
pub struct RoundTrip {
    pub live: Introspected,
    pub loaded: Schema,
    pub files: Vec<(PathBuf, String)>,
}

impl RoundTrip {
    /// A readable difference, or `None` when the models are equal.
    pub fn difference(&self) -> Option<String> {
        model_difference(&self.live.schema, &self.loaded, ("-live ", "+yaml "))
    }
}

/// A readable difference between two models — the changed lines of their debug forms, with
/// three lines of context, marked with `labels` (removed, added) — or `None` when equal.
pub fn model_difference(a: &Schema, b: &Schema, labels: (&str, &str)) -> Option<String> {
    if a == b {
        return None;
    }
    let a = format!("{a:#?}");
    let b = format!("{b:#?}");
    let diff = similar::TextDiff::from_lines(&a, &b);
    let blank = " ".repeat(labels.0.chars().count());
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => labels.0,
                    similar::ChangeTag::Insert => labels.1,
                    similar::ChangeTag::Equal => &blank,
                };
                out.push_str(sign);
                out.push_str(change.value());
            }
        }
        out.push_str(&blank);
        out.push_str("...\n");
    }
    Some(out)
}

/// Pulls the database behind `conn` and loads the result back.
pub async fn round_trip(conn: &mut sqlx::PgConnection, scope: &Scope) -> Result<RoundTrip, String> {
    let live = introspect::schema(conn, scope)
        .await
        .map_err(|e| format!("introspection failed: {e}"))?;
    let files: Vec<(PathBuf, String)> = reconcile::pull::render(&live.schema)
        .into_iter()
        .map(|(name, text)| (PathBuf::from("pulled").join(name), text))
        .collect();
    let dump = || {
        files
            .iter()
            .map(|(p, t)| format!("--- {}\n{t}", p.display()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let located = reconcile::load::from_sources_located(&files)
        .map_err(|e| format!("the pulled files do not load:\n{e}\n{}", dump()))?;
    let mut loaded = located.schema;
    if !located.sql.is_empty() {
        // What the .sql files declare is known once built, on a scratch database of its own.
        let scratch = super::fresh_db();
        let mut scratch_conn = scratch.connect().await;
        let built = reconcile::canon::sql::build(&loaded, &located.sql, &mut scratch_conn)
            .await
            .map_err(|e| format!("building the pulled SQL: {e}"))?;
        if !built.rejected.is_empty() {
            let rejected: Vec<String> = built
                .rejected
                .iter()
                .map(|(i, e)| format!("{}: {e}", located.sql[*i].origin()))
                .collect();
            return Err(format!(
                "the pulled SQL does not build:\n{}\n{}",
                rejected.join("\n"),
                dump()
            ));
        }
        reconcile::canon::sql::merge(&mut loaded, built.schema);
    }
    Ok(RoundTrip {
        live,
        loaded,
        files,
    })
}
