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
    guarded(&format!("NOT EXISTS ({exists})"), statement)
}

/// `DO $tag$ BEGIN IF EXISTS (<exists>) THEN <statement>; END IF; END $tag$`.
pub fn if_exists(exists: &str, statement: &str) -> String {
    guarded(&format!("EXISTS ({exists})"), statement)
}

fn guarded(condition: &str, statement: &str) -> String {
    do_block(&format!(
        "BEGIN\n  IF {condition} THEN\n    {};\n  END IF;\nEND",
        indent(statement, "    ")
    ))
}

/// `statement` with every line after the first indented by `by` — except line breaks inside
/// a token (a string constant, a quoted identifier, a dollar-quoted body), which are data: a
/// policy expression's `'a\nb'` or a role named `"line\nbreak"` must reach the server as
/// written. Text the scanner rejects is left as it is.
fn indent(statement: &str, by: &str) -> String {
    let Ok(tokens) = pg_query::scan_tokens(statement) else {
        return statement.to_owned();
    };
    // Tokens come in text order: one pass over both.
    let mut tokens = tokens.iter().peekable();
    let mut out = String::with_capacity(statement.len());
    for (at, c) in statement.char_indices() {
        out.push(c);
        if c != '\n' {
            continue;
        }
        while tokens.next_if(|t| (t.end as usize) <= at).is_some() {}
        let inside = tokens.peek().is_some_and(|t| (t.start as usize) < at);
        if !inside {
            out.push_str(by);
        }
    }
    out
}

/// `DO $tag$ BEGIN <statements>; END $tag$`: several statements as one step, which runs all
/// of them or none (a replace that must also restore a trigger's enabled state, say).
pub fn together(statements: &[String]) -> String {
    let body: Vec<String> = statements
        .iter()
        .map(|s| format!("  {};\n", indent(s, "  ")))
        .collect();
    do_block(&format!("BEGIN\n{}END", body.concat()))
}

/// A `DO` block of `body`, with a dollar-quote tag that does not occur in it (a name or a
/// function body may contain `$reconcile$`).
fn do_block(body: &str) -> String {
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
/// `verbatim`: the statement creates a function (or procedure, or aggregate), whose body is
/// stored as written — it is not indented like the rest of the block.
pub fn tolerating_errors(statement: &str, object: &str, verbatim: bool) -> String {
    let statement = if verbatim {
        format!("\n{statement}")
    } else {
        indent(statement, "  ")
    };
    let body = format!(
        "BEGIN\n  {statement};\nEXCEPTION WHEN OTHERS THEN\n  PERFORM pg_catalog.set_config('{SKIPPED_SETTING}', SQLERRM, true);\n  RAISE WARNING 'reconcile: % was not created: %', {}, SQLERRM;\nEND",
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

/// A query returning a row when `table` (which must exist) has a trigger called `name`.
pub fn trigger_exists(table: &QualifiedName, name: &Ident) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = {}::pg_catalog.regclass AND tgname = {}",
        quote_literal(&table.quoted()),
        quote_literal(name.as_str())
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

/// A query returning a row when a function, procedure or aggregate `name` with these argument
/// types (as `format_type` prints them under `search_path = public`, the setting plans run
/// with) exists.
pub fn routine_exists(name: &QualifiedName, args: &[String]) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_proc WHERE pronamespace = {}::pg_catalog.regnamespace AND proname = {} AND pg_catalog.oidvectortypes(proargtypes) = {}",
        quote_literal(&quote_ident(name.schema.as_str())),
        quote_literal(name.name.as_str()),
        quote_literal(&args.join(", "))
    )
}

/// [`unless_exists`] for a `CREATE FUNCTION`, `PROCEDURE` or `AGGREGATE`: the statement is
/// written as it is, not indented (a function body is stored verbatim, so indenting it would
/// change it), and it runs with `check_function_bodies` off, as pg_dump's scripts do, so a
/// function may name tables and functions created after it; the setting is put back after.
pub fn unless_routine_exists(exists: &str, statement: &str) -> String {
    let body = format!(
        "DECLARE\n  reconcile_check_bodies text := pg_catalog.current_setting('check_function_bodies');\nBEGIN\n  IF NOT EXISTS ({exists}) THEN\n    PERFORM pg_catalog.set_config('check_function_bodies', 'off', true);\n{statement};\n    PERFORM pg_catalog.set_config('check_function_bodies', reconcile_check_bodies, true);\n  END IF;\nEND"
    );
    do_block(&body)
}

/// A query returning a row when `table` has a row-level security policy called `name`.
pub fn policy_exists(table: &QualifiedName, name: &Ident) -> String {
    format!(
        "SELECT FROM pg_catalog.pg_policy WHERE polrelid = {}::pg_catalog.regclass AND polname = {}",
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

    /// Regression (found by the safety property): the guard's indentation went into quoted
    /// identifiers and string constants, so the step set the owner to a role named
    /// `"line\n    break"`, not `"line\nbreak"`, and a policy's `'a\nb'` became `'a\n    b'`.
    #[test]
    fn indentation_leaves_line_breaks_in_names_and_strings_alone() {
        let statement = "ALTER TABLE t OWNER TO \"line\nbreak\"";
        assert!(unless_exists("SELECT 1", statement).contains(statement));
        let policy = "CREATE POLICY p ON t\nUSING (a = 'x\ny' AND b = $q$\n$q$)";
        let guarded = unless_exists("SELECT 1", policy);
        assert!(
            guarded.contains("CREATE POLICY p ON t\n    USING (a = 'x\ny' AND b = $q$\n$q$)"),
            "{guarded}"
        );
        let both = together(&[policy.to_owned(), statement.to_owned()]);
        assert!(
            both.contains(statement) && both.contains("'x\ny'"),
            "{both}"
        );
        let tolerated = tolerating_errors(policy, "p", false);
        assert!(tolerated.contains("'x\ny'"), "{tolerated}");
    }

    #[test]
    fn tag_avoids_the_body() {
        let sql = unless_exists("SELECT 1", "SELECT '$reconcile$'");
        assert!(sql.starts_with("DO $reconcile1$\n"), "{sql}");
        assert!(sql.ends_with("\n$reconcile1$"), "{sql}");
    }
}
