//! Proof that a user-written expression is one expression and nothing else.
//!
//! Defaults, checks, index predicates and generated columns are spliced into DDL inside
//! parentheses. Before that happens the text is parsed as `SELECT <expr>` with libpg_query:
//! exactly one statement with one target, no FROM, no sub-query, no comment, no `;`. A text
//! that passes cannot close the parenthesis around it or start a second statement, so it is
//! spliced as written — keeping the user's (or the server's) exact spelling.

use pg_query::{NodeRef, ParserOptions, protobuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("the expression is empty")]
    Empty,
    #[error("not a valid SQL expression: {0}")]
    Syntax(String),
    #[error("must be a single expression, but it contains a `;` (a second statement?)")]
    Semicolon,
    #[error("comments are not allowed inside an expression")]
    Comment,
    #[error("must be a single expression, not a list or a query")]
    NotOneExpression,
    #[error("sub-queries are not allowed here")]
    SubQuery,
}

/// Validates `text` and returns it trimmed, ready to splice inside parentheses.
///
/// Memoised, like [`super::normalise_type`]: `now()` and `0` are written thousands of times.
pub fn validate_expression(text: &str) -> Result<String, ExprError> {
    super::memo::memoised(&EXPRESSIONS, text, validate_uncached)
}

static EXPRESSIONS: super::memo::Memo<Result<String, ExprError>> = super::memo::Memo::new();

/// [`validate_expression`] for a row-level security policy's `USING` and `WITH CHECK`,
/// where sub-queries are common (`EXISTS (SELECT ... FROM members ...)`, `(SELECT
/// auth.uid())`) and allowed: the text is still one expression, so it cannot close the
/// parenthesis it is spliced into, and a `;` or comment is still refused.
pub fn validate_condition(text: &str) -> Result<String, ExprError> {
    super::memo::memoised(&CONDITIONS, text, |t| validate(t, true))
}

static CONDITIONS: super::memo::Memo<Result<String, ExprError>> = super::memo::Memo::new();

fn validate_uncached(text: &str) -> Result<String, ExprError> {
    validate(text, false)
}

fn validate(text: &str, allow_subqueries: bool) -> Result<String, ExprError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ExprError::Empty);
    }
    let tokens = pg_query::scan(trimmed).map_err(|e| ExprError::Syntax(e.to_string()))?;
    for token in &tokens.tokens {
        if token.token == protobuf::Token::SqlComment as i32
            || token.token == protobuf::Token::CComment as i32
        {
            return Err(ExprError::Comment);
        }
        if token.token == protobuf::Token::Ascii59 as i32 {
            return Err(ExprError::Semicolon);
        }
    }
    let sql = format!("SELECT {trimmed}");
    let parsed = pg_query::parse(&sql, ParserOptions::DEFAULT)
        .map_err(|e| ExprError::Syntax(e.to_string()))?;
    let stmts = &parsed.protobuf.stmts;
    if stmts.len() != 1 {
        return Err(ExprError::NotOneExpression);
    }
    let one_target_select = parsed.protobuf.nodes().iter().any(|(node, depth, ..)| {
        matches!(node, NodeRef::SelectStmt(s)
            if *depth == 1
            && s.target_list.len() == 1
            && s.from_clause.is_empty()
            && s.where_clause.is_none()
            && s.group_clause.is_empty()
            && s.having_clause.is_none()
            && s.sort_clause.is_empty()
            && s.limit_count.is_none()
            && s.limit_offset.is_none()
            && s.window_clause.is_empty()
            && s.distinct_clause.is_empty()
            && s.into_clause.is_none()
            && s.larg.is_none()
            && s.values_lists.is_empty()
            && s.with_clause.is_none())
    });
    if !one_target_select {
        return Err(ExprError::NotOneExpression);
    }
    // `x AS y` at the top is a list item, not an expression; inside a sub-query (`id IN
    // (SELECT unnest(a) AS unnest)`, as the server prints policies) an alias is fine.
    let named_target = stmts
        .first()
        .and_then(|s| s.stmt.as_ref())
        .and_then(|s| s.node.as_ref())
        .is_some_and(|node| {
            match node {
            protobuf::node::Node::SelectStmt(select) => select.target_list.iter().any(|t| {
                matches!(&t.node, Some(protobuf::node::Node::ResTarget(r)) if !r.name.is_empty())
            }),
            _ => false,
        }
        });
    if named_target {
        return Err(ExprError::NotOneExpression);
    }
    if !allow_subqueries
        && parsed
            .protobuf
            .nodes()
            .iter()
            .any(|(node, ..)| matches!(node, NodeRef::SubLink(_)))
    {
        return Err(ExprError::SubQuery);
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_expressions_pass_unchanged() {
        for e in [
            "now()",
            "'{}'::jsonb",
            "(price > (0)::numeric)",
            "lower(email)",
            "status = 'new' AND deleted_at IS NULL",
            "CURRENT_TIMESTAMP",
            "nextval('leads_id_seq'::regclass)",
            "'a;b'",
        ] {
            assert_eq!(validate_expression(e).as_deref(), Ok(e), "{e}");
        }
    }

    #[test]
    fn smuggled_statements_are_rejected() {
        assert_eq!(
            validate_expression("1); DROP TABLE t; --"),
            Err(ExprError::Semicolon)
        );
        assert_eq!(validate_expression("1) --"), Err(ExprError::Comment));
        assert_eq!(
            validate_expression("1; DROP TABLE t"),
            Err(ExprError::Semicolon)
        );
        assert!(matches!(
            validate_expression("1) OR (1"),
            Err(ExprError::Syntax(_))
        ));
        assert_eq!(
            validate_expression("1, 2"),
            Err(ExprError::NotOneExpression)
        );
        assert_eq!(
            validate_expression("1 FROM pg_class"),
            Err(ExprError::NotOneExpression)
        );
        assert_eq!(validate_expression("(SELECT 1)"), Err(ExprError::SubQuery));
        assert_eq!(
            validate_condition("EXISTS (SELECT 1 FROM m WHERE m.a = a)").as_deref(),
            Ok("EXISTS (SELECT 1 FROM m WHERE m.a = a)")
        );
        assert_eq!(
            validate_condition("(SELECT 1); DROP TABLE t"),
            Err(ExprError::Semicolon)
        );
        assert_eq!(
            validate_condition("a FROM t"),
            Err(ExprError::NotOneExpression)
        );
        // Regression (pgschema issue_377): the server prints aliases inside sub-queries.
        assert_eq!(
            validate_condition("(id IN ( SELECT unnest(f()) AS unnest))").as_deref(),
            Ok("(id IN ( SELECT unnest(f()) AS unnest))")
        );
        assert_eq!(
            validate_condition("a AS b"),
            Err(ExprError::NotOneExpression)
        );
        assert_eq!(
            validate_expression("a AS b"),
            Err(ExprError::NotOneExpression)
        );
        assert_eq!(validate_expression("x /* hi */"), Err(ExprError::Comment));
        assert_eq!(validate_expression("  "), Err(ExprError::Empty));
    }
}
