//! Errors as the user reads them. The library's errors name what was being done ("while
//! applying step 3 (...)") and carry their cause, whose text they usually repeat — and a
//! server error's text in sqlx ends with the line of PostgreSQL's C source that raised it
//! ("... at line 334"), which means nothing to a user. Here the chain becomes one message:
//! each context once, the server's message once, then what the server said about it —
//! SQLSTATE, the object it concerns, DETAIL, HINT, CONTEXT.

use std::error::Error;

use sqlx::postgres::PgDatabaseError;

/// The message for an error; load errors already carry their own layout.
pub fn render_error(e: &anyhow::Error) -> String {
    // Also below a context (the roles a plan needs are checked against the target).
    if let Some(load) = e
        .chain()
        .find_map(|c| c.downcast_ref::<reconcile::load::LoadErrors>())
    {
        return load.to_string().trim_end().to_owned();
    }
    format!("error: {}", describe(e.chain()))
}

/// The same message without the `error: ` prefix, for the history tables.
pub fn plain(e: &(dyn Error + 'static)) -> String {
    describe(sources(e))
}

fn sources<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

fn describe<'a>(chain: impl Iterator<Item = &'a (dyn Error + 'static)>) -> String {
    let causes: Vec<&(dyn Error + 'static)> = chain.collect();
    // Lines: the first is the headline; a cause the context did not already quote gets a
    // "caused by" line of its own.
    let mut lines: Vec<String> = Vec::new();
    let mut continues = false;
    let mut server = None;
    for (i, cause) in causes.iter().enumerate() {
        let text = match server_error(*cause) {
            Some(db) => {
                server = Some(db);
                db.message().to_owned()
            }
            None => {
                let text = cause.to_string();
                // "while X: <the cause's own text>": keep "while X", the cause follows.
                match causes.get(i + 1).map(|next| next.to_string()) {
                    Some(next) if !next.is_empty() && text.ends_with(&next) => {
                        let own = text[..text.len() - next.len()].trim_end_matches([':', ' ']);
                        // Nothing of its own (a transparent wrapper): as if it were not there.
                        if !own.is_empty() {
                            push(&mut lines, own.to_owned(), continues);
                            continues = true;
                        }
                        continue;
                    }
                    _ => text,
                }
            }
        };
        push(&mut lines, text, continues);
        continues = false;
        if server.is_some() {
            // Its sources only repeat it.
            break;
        }
    }
    let mut out = lines.join("\n  caused by: ");
    if let Some(db) = server {
        out.push_str(&server_details(db));
    }
    out
}

/// Adds `text` to the last line (after a context that quoted it) or as a line of its own,
/// unless it says nothing new.
fn push(lines: &mut Vec<String>, text: String, continues: bool) {
    if text.is_empty() {
        return;
    }
    let quoted = format!(": {text}");
    if lines.iter().any(|l| l == &text || l.ends_with(&quoted)) {
        return;
    }
    match lines.last_mut() {
        Some(last) if continues => {
            last.push_str(": ");
            last.push_str(&text);
        }
        _ => lines.push(text),
    }
}

/// The PostgreSQL error inside a sqlx error (or the PostgreSQL error itself).
fn server_error<'a>(cause: &'a (dyn Error + 'static)) -> Option<&'a PgDatabaseError> {
    match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => db.try_downcast_ref::<PgDatabaseError>(),
        Some(_) => None,
        None => cause.downcast_ref::<PgDatabaseError>(),
    }
}

/// SQLSTATE and the object, then DETAIL, HINT and CONTEXT, as the server sent them.
fn server_details(db: &PgDatabaseError) -> String {
    let mut facts = vec![format!("SQLSTATE {}", db.code())];
    let qualified = |name: &str| match db.schema() {
        Some(schema) => format!("{schema}.{name}"),
        None => name.to_owned(),
    };
    if let Some(table) = db.table() {
        facts.push(format!("table {}", qualified(table)));
    }
    if let Some(column) = db.column() {
        facts.push(format!("column {column}"));
    }
    if let Some(constraint) = db.constraint() {
        facts.push(format!("constraint {constraint}"));
    }
    if let Some(data_type) = db.data_type() {
        facts.push(format!("type {}", qualified(data_type)));
    }
    if db.table().is_none()
        && db.data_type().is_none()
        && let Some(schema) = db.schema()
    {
        facts.push(format!("schema {schema}"));
    }
    let mut out = format!("\n  {}", facts.join(", "));
    for (label, value) in [
        ("detail", db.detail()),
        ("hint", db.hint()),
        ("context", db.r#where()),
    ] {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            out.push_str(&format!(
                "\n  {label}: {}",
                value.trim_end().replace('\n', "\n    ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::describe;
    use std::error::Error;

    #[derive(Debug, thiserror::Error)]
    #[error("while doing the thing: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    fn chain(e: &(dyn Error + 'static)) -> String {
        describe(super::sources(e))
    }

    /// A context that quotes its cause and a cause that quotes its own: each text once.
    #[test]
    fn quoted_causes_are_printed_once() {
        let e = Quoting {
            source: std::io::Error::other("Connection refused"),
        };
        assert_eq!(chain(&e), "while doing the thing: Connection refused");
        let e = anyhow::Error::new(e).context("cannot connect to db:5432/app");
        assert_eq!(
            describe(e.chain()),
            "cannot connect to db:5432/app\n  caused by: while doing the thing: Connection refused"
        );
    }

    #[test]
    fn identical_causes_are_printed_once() {
        let e = anyhow::anyhow!("the socket closed")
            .context("the socket closed")
            .context("cannot read");
        assert_eq!(
            describe(e.chain()),
            "cannot read\n  caused by: the socket closed"
        );
    }
}
