//! Catalog-guarded statements for DDL that has no `IF NOT EXISTS`.
//!
//! `ALTER TABLE ... ADD CONSTRAINT` and `CREATE TYPE` fail when the object exists, so a script
//! run twice would stop at the second run. Wrapping them in a `DO` block that first checks the
//! catalog makes each step idempotent on its own, which is what lets a human re-run the
//! rendered script with psql and lets `apply` resume after a crash.

use crate::ident::{quote_ident, quote_literal};
use crate::model::{Ident, QualifiedName};

/// `DO $tag$ BEGIN IF NOT EXISTS (<exists>) THEN <statement>; END IF; END $tag$`, with a
/// dollar-quote tag that does not occur in the body.
pub fn unless_exists(exists: &str, statement: &str) -> String {
    let body = format!(
        "BEGIN\n  IF NOT EXISTS ({exists}) THEN\n    {};\n  END IF;\nEND",
        statement.replace('\n', "\n    ")
    );
    let mut tag = "$reconcile$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$reconcile{n}$");
    }
    format!("DO {tag}\n{body}\n{tag}")
}

/// `statement` (one statement, possibly itself a guarded DO block) run so that an error is
/// reported as a WARNING instead of stopping the script: for objects the scratch server could
/// not build because they use something reconcile does not manage (a function, say), which
/// the target database may or may not have. The error is also left in the transaction-local
/// setting [`SKIPPED_SETTING`], where `apply` reads it to record the step as skipped — never
/// as done.
pub fn tolerating_errors(statement: &str, object: &str) -> String {
    let body = format!(
        "BEGIN\n  {};\nEXCEPTION WHEN OTHERS THEN\n  PERFORM pg_catalog.set_config('{SKIPPED_SETTING}', SQLERRM, true);\n  RAISE WARNING 'reconcile: % was not created: %', {}, SQLERRM;\nEND",
        statement.replace('\n', "\n  "),
        quote_literal(object)
    );
    let mut tag = "$reconcile_t$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$reconcile_t{n}$");
    }
    format!("DO {tag}\n{body}\n{tag}")
}

/// The transaction-local setting in which [`tolerating_errors`] leaves the error it caught.
pub const SKIPPED_SETTING: &str = "reconcile.skipped";

/// A query returning a row when a relation (table, view, sequence, ...) `name` exists.
pub fn relation_exists(name: &QualifiedName) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_class WHERE relnamespace = {}::pg_catalog.regnamespace AND relname = {}",
        quote_literal(&quote_ident(name.schema.as_str())),
        quote_literal(name.name.as_str())
    )
}

/// A query returning a row when `table` has a constraint called `name`.
pub fn constraint_exists(table: &QualifiedName, name: &Ident) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_constraint WHERE conrelid = {}::pg_catalog.regclass AND conname = {}",
        quote_literal(&table.quoted()),
        quote_literal(name.as_str())
    )
}

/// A query returning a row when a type (enum, composite, domain, ...) called `name` exists.
pub fn type_exists(name: &QualifiedName) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_type WHERE typnamespace = {}::pg_catalog.regnamespace AND typname = {}",
        quote_literal(&quote_ident(name.schema.as_str())),
        quote_literal(name.name.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_avoids_the_body() {
        let sql = unless_exists("SELECT 1", "SELECT '$reconcile$'");
        assert!(sql.starts_with("DO $reconcile1$\n"), "{sql}");
        assert!(sql.ends_with("\n$reconcile1$"), "{sql}");
    }
}
