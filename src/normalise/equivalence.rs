//! Proof, without a server, that a hand-written expression is the one the catalog prints.
//!
//! The catalog prints `DEFAULT '{}'` on a jsonb column as `'{}'::jsonb`, `status = 'active'`
//! as `(status = 'active'::record_status)` and `amount >= 0` on a numeric column as
//! `(amount >= (0)::numeric)`. Asking the scratch server for those forms means building the
//! table there, which costs milliseconds per table — most of a plan's time at thousands of
//! tables. Both spellings are parsed here with PostgreSQL's own parser and compared as trees,
//! after removing exactly the decorations the server's parse analysis adds:
//!
//! * a string literal compared with, or assigned to, a column carries a cast to that column's
//!   type (without type modifiers): `'x'::T`;
//! * an integer literal compared with a numeric column is cast to numeric: `(0)::numeric`;
//! * a varchar column passed where text is wanted is cast to text: `(code)::text` (varchar to
//!   text is a relabelling, never a conversion);
//! * `a BETWEEN x AND y` becomes `a >= x AND a <= y`;
//! * a string literal passed to `current_setting` or `set_config`, or used as the key of
//!   `->` / `->>`, is cast to text: `current_setting('app.tenant_id'::text)`,
//!   `(claims ->> 'role'::text)` (every candidate of these takes text there, and an unknown
//!   literal prefers text);
//! * parentheses and spacing vanish with the parse.
//!
//! Every rule only ever makes two trees equal when the server would have stored the same
//! expression for both. Anything the rules do not cover compares unequal and goes to the
//! scratch server as before, so a gap here costs time, never correctness.

use std::collections::BTreeMap;

use pg_query::protobuf::{self, a_const, node::Node as N};

/// Column name → type text (as the catalog prints it) of the columns whose type is the same
/// on both sides; only those give a literal a known type.
pub type ColumnTypes<'a> = BTreeMap<&'a str, &'a str>;

/// Whether the desired default is the live (catalog-printed) default of a column of
/// `column_type`.
pub fn same_default(live: &str, desired: &str, column_type: &str) -> bool {
    if live == desired {
        return true;
    }
    // A large schema asks the same question thousands of times.
    let key = format!("{live}\u{0}{desired}\u{0}{column_type}");
    super::memo::memoised_with(&SAME_DEFAULTS, &key, || {
        same_default_uncached(live, desired, column_type)
    })
}

static SAME_DEFAULTS: super::memo::Memo<bool> = super::memo::Memo::new();

fn same_default_uncached(live: &str, desired: &str, column_type: &str) -> bool {
    let (Some(mut live), Some(mut desired)) = (parse_expression(live), parse_expression(desired))
    else {
        return false;
    };
    let Some(ty) = parse_type(column_type) else {
        return false;
    };
    let columns = ColumnTypes::new();
    let rules = Rules { columns: &columns };
    rules.strip_literal_cast(&mut live, &ty);
    rules.rewrite(&mut live);
    rules.rewrite(&mut desired);
    same_tree(&live, &desired)
}

/// Whether the desired expression (a check, an index predicate or key, a generated column)
/// is the live one, over a table with the given column types.
pub fn same_expression(live: &str, desired: &str, columns: &ColumnTypes<'_>) -> bool {
    if live == desired {
        return true;
    }
    // Only the types of the columns the two texts name are ever looked up, so they and the
    // texts decide the answer.
    let (Some(a), Some(b)) = (column_references(live), column_references(desired)) else {
        return same_expression_uncached(live, desired, columns);
    };
    let mut key = format!("{live}\u{0}{desired}");
    for name in a.union(&b) {
        if let Some(ty) = columns.get(name.as_str()) {
            key.push('\u{0}');
            key.push_str(name);
            key.push('\u{1}');
            key.push_str(ty);
        }
    }
    super::memo::memoised_with(&SAME_EXPRESSIONS, &key, || {
        same_expression_uncached(live, desired, columns)
    })
}

static SAME_EXPRESSIONS: super::memo::Memo<bool> = super::memo::Memo::new();

fn same_expression_uncached(live: &str, desired: &str, columns: &ColumnTypes<'_>) -> bool {
    let (Some(mut live), Some(mut desired)) = (parse_expression(live), parse_expression(desired))
    else {
        return false;
    };
    let rules = Rules { columns };
    rules.rewrite(&mut live);
    rules.rewrite(&mut desired);
    same_tree(&live, &desired)
}

/// Every name a column reference in `text` could stand for (each part of `t.c` or `c.f`,
/// since only the server can tell a table prefix from a composite field), or `None` when
/// that is not known: the text is not one expression, or it uses `*` or a whole-row
/// reference. Used to build only the columns an expression needs.
pub fn column_references(text: &str) -> Option<std::collections::BTreeSet<String>> {
    super::memo::memoised(&REFERENCES, text, column_references_uncached)
}

static REFERENCES: super::memo::Memo<Option<std::collections::BTreeSet<String>>> =
    super::memo::Memo::new();

fn column_references_uncached(text: &str) -> Option<std::collections::BTreeSet<String>> {
    fn walk(value: &serde_json::Value, found: &mut std::collections::BTreeSet<String>) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(reference) = map.get("ColumnRef") {
                    let fields = reference.get("fields").and_then(|f| f.as_array());
                    for field in fields.into_iter().flatten() {
                        match field.pointer("/node/String/sval").and_then(|s| s.as_str()) {
                            Some(name) => {
                                found.insert(name.to_owned());
                            }
                            // `*` (A_Star) or anything else: every column may be meant.
                            None => return false,
                        }
                    }
                }
                map.values().all(|v| walk(v, found))
            }
            serde_json::Value::Array(items) => items.iter().all(|v| walk(v, found)),
            _ => true,
        }
    }
    let expression = parse_expression(text)?;
    let tree = serde_json::to_value(&expression).ok()?;
    let mut found = std::collections::BTreeSet::new();
    walk(&tree, &mut found).then_some(found)
}

/// The expression of `SELECT <text>`, or `None` when it is not exactly one expression.
fn parse_expression(text: &str) -> Option<protobuf::Node> {
    super::memo::memoised(&EXPRESSIONS, text, parse_expression_uncached)
}

static EXPRESSIONS: super::memo::Memo<Option<protobuf::Node>> = super::memo::Memo::new();

fn parse_expression_uncached(text: &str) -> Option<protobuf::Node> {
    let parsed =
        pg_query::parse(&format!("SELECT {text}"), pg_query::ParserOptions::DEFAULT).ok()?;
    let [statement] = parsed.protobuf.stmts.as_slice() else {
        return None;
    };
    let Some(N::SelectStmt(select)) = statement.stmt.as_ref()?.node.as_ref() else {
        return None;
    };
    let [target] = select.target_list.as_slice() else {
        return None;
    };
    let Some(N::ResTarget(target)) = target.node.as_ref() else {
        return None;
    };
    target.val.as_deref().cloned()
}

/// A type name reduced to what a literal's cast prints: schema-less for built-ins, without
/// type modifiers, with its array dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BareType {
    names: Vec<String>,
    array: bool,
}

fn parse_type(text: &str) -> Option<BareType> {
    super::memo::memoised(&BARE_TYPES, text, parse_type_uncached)
}

static BARE_TYPES: super::memo::Memo<Option<BareType>> = super::memo::Memo::new();

fn parse_type_uncached(text: &str) -> Option<BareType> {
    let Some(N::TypeCast(cast)) = parse_expression(&format!("NULL::{text}"))?.node else {
        return None;
    };
    bare(cast.type_name.as_ref()?)
}

fn bare(name: &protobuf::TypeName) -> Option<BareType> {
    let mut names: Vec<String> = name
        .names
        .iter()
        .map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if names.len() == 2 && names[0] == "pg_catalog" {
        names.remove(0);
    }
    Some(BareType {
        names,
        array: !name.array_bounds.is_empty(),
    })
}

/// A cast as printed for a literal of exactly this type: no modifiers.
fn cast_is_to(cast: &protobuf::TypeCast, ty: &BareType) -> bool {
    cast.type_name
        .as_ref()
        .is_some_and(|n| n.typmods.is_empty() && !n.setof && bare(n).as_ref() == Some(ty))
}

struct Rules<'a> {
    columns: &'a ColumnTypes<'a>,
}

impl Rules<'_> {
    /// Rewrites `node` in place, children first.
    fn rewrite(&self, node: &mut protobuf::Node) {
        let Some(inner) = node.node.as_mut() else {
            return;
        };
        match inner {
            N::AExpr(e) => {
                // The type each side is compared as, read before the relabelling of a
                // varchar column to text is undone below: `((code)::text = 'x'::text)`.
                let left = e.lexpr.as_deref().and_then(|l| self.compared_as(l));
                let right = e.rexpr.as_deref().and_then(|r| self.compared_as(r));
                for side in [e.lexpr.as_deref_mut(), e.rexpr.as_deref_mut()]
                    .into_iter()
                    .flatten()
                {
                    self.rewrite(side);
                }
                if e.kind == protobuf::AExprKind::AexprOp as i32 {
                    if let Some(ty) = left
                        && let Some(r) = e.rexpr.as_deref_mut()
                    {
                        self.strip_literal_cast(r, &ty);
                    }
                    if let Some(ty) = right
                        && let Some(l) = e.lexpr.as_deref_mut()
                    {
                        self.strip_literal_cast(l, &ty);
                    }
                }
                if e.kind == protobuf::AExprKind::AexprOp as i32
                    && is_json_field_operator(&e.name)
                    && let Some(r) = e.rexpr.as_deref_mut()
                {
                    strip_text_cast(r);
                }
                if e.kind == protobuf::AExprKind::AexprBetween as i32
                    && let Some(between) = expand_between(e)
                {
                    *node = between;
                }
            }
            N::BoolExpr(e) => e.args.iter_mut().for_each(|a| self.rewrite(a)),
            N::List(l) => l.items.iter_mut().for_each(|a| self.rewrite(a)),
            N::FuncCall(f) => {
                f.args.iter_mut().for_each(|a| self.rewrite(a));
                if takes_text_settings(&f.funcname) {
                    f.args.iter_mut().for_each(strip_text_cast);
                }
            }
            N::NullTest(t) => {
                if let Some(a) = t.arg.as_deref_mut() {
                    self.rewrite(a)
                }
            }
            N::BooleanTest(t) => {
                if let Some(a) = t.arg.as_deref_mut() {
                    self.rewrite(a)
                }
            }
            N::CoalesceExpr(c) => c.args.iter_mut().for_each(|a| self.rewrite(a)),
            N::TypeCast(cast) => {
                if let Some(a) = cast.arg.as_deref_mut() {
                    self.rewrite(a);
                }
                // `(code)::text` for a varchar column: the server's implicit relabelling.
                let text = BareType {
                    names: vec!["text".into()],
                    array: false,
                };
                if cast_is_to(cast, &text)
                    && let Some(arg) = cast.arg.as_deref()
                    && self
                        .column_type(arg)
                        .is_some_and(|t| t.names == ["varchar"] && !t.array)
                {
                    *node = arg.clone();
                }
            }
            _ => {}
        }
    }

    /// The type a comparison operand is compared as: a known column's own type, or text for
    /// a varchar column the server relabelled to text.
    fn compared_as(&self, node: &protobuf::Node) -> Option<BareType> {
        if let Some(N::TypeCast(cast)) = &node.node {
            let text = BareType {
                names: vec!["text".into()],
                array: false,
            };
            let arg = cast.arg.as_deref()?;
            let relabelled = cast_is_to(cast, &text)
                && self
                    .column_type(arg)
                    .is_some_and(|t| t.names == ["varchar"] && !t.array);
            return relabelled.then_some(text);
        }
        self.column_type(node)
    }

    /// The (bare) type of a reference to one of the known columns.
    fn column_type(&self, node: &protobuf::Node) -> Option<BareType> {
        let Some(N::ColumnRef(r)) = &node.node else {
            return None;
        };
        let [field] = r.fields.as_slice() else {
            return None;
        };
        let Some(N::String(name)) = &field.node else {
            return None;
        };
        parse_type(self.columns.get(name.sval.as_str())?)
    }

    /// `'x'::T` → `'x'`, and `(0)::numeric` → `0`, when T is the type the literal is used as.
    fn strip_literal_cast(&self, node: &mut protobuf::Node, ty: &BareType) {
        let Some(N::TypeCast(cast)) = &node.node else {
            return;
        };
        if !cast_is_to(cast, ty) {
            return;
        }
        let Some(arg) = cast.arg.as_deref() else {
            return;
        };
        let Some(N::AConst(constant)) = &arg.node else {
            return;
        };
        let strippable = match &constant.val {
            Some(a_const::Val::Sval(_)) => true,
            // Only numeric: integer columns compare with integer literals through cross-type
            // operators, and the server prints no cast there.
            Some(a_const::Val::Ival(_)) => ty.names == ["numeric"] && !ty.array,
            _ => false,
        };
        if strippable {
            *node = arg.clone();
        }
    }
}

/// The names of a function or operator, schema included when written (`pg_catalog.f`).
fn name_parts(names: &[protobuf::Node]) -> Vec<&str> {
    names
        .iter()
        .filter_map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// `current_setting` and `set_config` (pg_catalog's, searched first): every overload takes
/// text at each position a string literal can stand (`current_setting(text[, boolean])`,
/// `set_config(text, text, boolean)`), so the server casts such a literal to text.
fn takes_text_settings(funcname: &[protobuf::Node]) -> bool {
    matches!(
        name_parts(funcname).as_slice(),
        ["current_setting" | "set_config"] | ["pg_catalog", "current_setting" | "set_config"]
    )
}

/// `->` and `->>`: a string literal on their right is a json(b) key, typed text (the other
/// candidates take an integer index, and an unknown literal prefers text).
fn is_json_field_operator(name: &[protobuf::Node]) -> bool {
    matches!(name_parts(name).as_slice(), ["->" | "->>"])
}

/// `'x'::text` → `'x'`: for a position where the server types a string literal as text.
fn strip_text_cast(node: &mut protobuf::Node) {
    let Some(N::TypeCast(cast)) = &node.node else {
        return;
    };
    let text = BareType {
        names: vec!["text".into()],
        array: false,
    };
    if !cast_is_to(cast, &text) {
        return;
    }
    if let Some(arg) = cast.arg.as_deref()
        && let Some(N::AConst(constant)) = &arg.node
        && matches!(constant.val, Some(a_const::Val::Sval(_)))
    {
        *node = arg.clone();
    }
}

/// `a BETWEEN x AND y` as the server stores it: `a >= x AND a <= y`.
fn expand_between(e: &protobuf::AExpr) -> Option<protobuf::Node> {
    let Some(N::List(bounds)) = e.rexpr.as_deref()?.node.as_ref() else {
        return None;
    };
    let [low, high] = bounds.items.as_slice() else {
        return None;
    };
    let compare = |op: &str, bound: &protobuf::Node| protobuf::Node {
        node: Some(N::AExpr(Box::new(protobuf::AExpr {
            kind: protobuf::AExprKind::AexprOp as i32,
            name: vec![protobuf::Node {
                node: Some(N::String(protobuf::String { sval: op.into() })),
            }],
            lexpr: e.lexpr.clone(),
            rexpr: Some(Box::new(bound.clone())),
            ..Default::default()
        }))),
    };
    Some(protobuf::Node {
        node: Some(N::BoolExpr(Box::new(protobuf::BoolExpr {
            boolop: protobuf::BoolExprType::AndExpr as i32,
            args: vec![compare(">=", low), compare("<=", high)],
            ..Default::default()
        }))),
    })
}

/// Tree equality ignoring source positions (and the list bounds of IN lists, which are
/// positions too).
fn same_tree(a: &protobuf::Node, b: &protobuf::Node) -> bool {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| {
                    k != "location" && k != "rexpr_list_start" && k != "rexpr_list_end"
                });
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let (Ok(mut a), Ok(mut b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return false;
    };
    strip(&mut a);
    strip(&mut b);
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> ColumnTypes<'static> {
        [
            ("status", "record_status"),
            ("amount", "numeric(12,2)"),
            ("code", "character varying(32)"),
            ("priority", "smallint"),
            ("currency", "character(3)"),
            ("d", "date"),
            ("tags", "text[]"),
            ("deleted_at", "timestamp with time zone"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn column_references_name_every_column_an_expression_reads() {
        let names = |text: &str| {
            column_references(text).map(|s| s.into_iter().collect::<Vec<_>>().join(","))
        };
        assert_eq!(names("deleted_at IS NULL").as_deref(), Some("deleted_at"));
        assert_eq!(
            names("lower((email)::text) = 'x' AND t.\"Code\" > 0").as_deref(),
            Some("Code,email,t")
        );
        assert_eq!(names("now()").as_deref(), Some(""));
        // Nothing is known about `*`, or text that is not one expression.
        assert_eq!(names("row_to_json(t.*) IS NOT NULL"), None);
        assert_eq!(names("a; b"), None);
    }

    #[test]
    fn defaults_equal_to_their_printed_form() {
        for (live, desired, ty) in [
            ("'{}'::jsonb", "'{}'", "jsonb"),
            ("''::text", "''", "text"),
            ("'active'::record_status", "'active'", "record_status"),
            ("'EUR'::bpchar", "'EUR'", "character(3)"),
            ("'30 days'::interval", "'30 days'", "interval"),
            ("'{}'::text[]", "'{}'", "text[]"),
            ("'x'::character varying", "'x'", "character varying(32)"),
            ("now()", "now()", "timestamp with time zone"),
            ("0", "0", "integer"),
            ("'it''s'::text", "'it''s'", "text"),
        ] {
            assert!(
                same_default(live, desired, ty),
                "{live} vs {desired} ({ty})"
            );
        }
    }

    #[test]
    fn defaults_that_differ_stay_different() {
        for (live, desired, ty) in [
            ("'{}'::jsonb", "'[]'", "jsonb"),
            // A cast to another type is not what the server would add.
            ("'x'::text", "'x'", "character varying(32)"),
            ("'x'::character varying(10)", "'x'", "character varying(32)"),
            ("'1 mon'::interval", "'1 month'", "interval"),
            ("'-1'::integer", "-1", "integer"),
            ("(0)::bigint", "0", "bigint"),
            ("now()", "clock_timestamp()", "timestamp with time zone"),
            ("'a'::record_status", "'b'", "record_status"),
        ] {
            assert!(
                !same_default(live, desired, ty),
                "{live} vs {desired} ({ty})"
            );
        }
    }

    #[test]
    fn expressions_equal_to_their_printed_form() {
        let columns = columns();
        for (live, desired) in [
            ("(status = 'active'::record_status)", "status = 'active'"),
            ("('active'::record_status = status)", "'active' = status"),
            ("(amount >= (0)::numeric)", "amount >= 0"),
            ("(char_length((code)::text) > 0)", "char_length(code) > 0"),
            (
                "((priority >= 0) AND (priority <= 9))",
                "priority BETWEEN 0 AND 9",
            ),
            ("(deleted_at IS NULL)", "deleted_at IS NULL"),
            (
                "((d > '2020-01-01'::date) OR (d IS NULL))",
                "d > '2020-01-01' OR d IS NULL",
            ),
            (
                "(priority = (current_setting('app.priority'::text))::smallint)",
                "priority = current_setting('app.priority')::smallint",
            ),
            (
                "(status = (current_setting('app.s'::text, true))::record_status)",
                "status = current_setting('app.s', true)::record_status",
            ),
            (
                "((((current_setting('request.jwt.claims'::text, true))::jsonb -> 'app'::text) ->> 'role'::text) = 'admin'::text)",
                "(current_setting('request.jwt.claims', true)::jsonb -> 'app' ->> 'role') = 'admin'::text",
            ),
        ] {
            assert!(
                same_expression(live, desired, &columns),
                "{live} vs {desired}"
            );
        }
    }

    #[test]
    fn expressions_that_differ_stay_different() {
        let columns = columns();
        for (live, desired) in [
            ("(status = 'active'::record_status)", "status = 'draft'"),
            // The literal's type is not the column's: the server would not have written it.
            (
                "(d > '2020-01-01'::timestamp without time zone)",
                "d > '2020-01-01'",
            ),
            ("(amount >= (0)::numeric)", "amount > 0"),
            ("(priority >= (0)::smallint)", "priority >= 0"),
            // bpchar to text drops trailing spaces: not a relabelling.
            (
                "(char_length((currency)::text) > 0)",
                "char_length(currency) > 0",
            ),
            // Unknown column: nothing is known about the literal.
            ("(other = 'x'::text)", "other = 'x'"),
            (
                "((priority >= 0) AND (priority <= 9))",
                "priority BETWEEN 0 AND 8",
            ),
            (
                "((priority > 0) AND (priority < 9))",
                "priority BETWEEN 0 AND 9",
            ),
            ("(deleted_at IS NULL)", "deleted_at IS NOT NULL"),
            // Compared as text only because the column was relabelled; here it was not.
            ("((code)::character varying = 'x'::text)", "code = 'x'"),
            ("((code)::text = 'y'::text)", "code = 'x'"),
            // Other settings, other keys; an array key path is not a text key.
            (
                "(priority = (current_setting('app.other'::text))::smallint)",
                "priority = current_setting('app.priority')::smallint",
            ),
            ("((doc -> 'a'::text) IS NULL)", "doc -> 'b' IS NULL"),
            ("((doc #> '{a}'::text[]) IS NULL)", "doc #> '{a}' IS NULL"),
            // Not one of the functions known to take text: the literal's type is unknown.
            ("(lower('X'::text) = 'x'::text)", "lower('X') = 'x'::text"),
            (
                "(public.current_setting('x'::text) = 'x'::text)",
                "public.current_setting('x') = 'x'::text",
            ),
        ] {
            assert!(
                !same_expression(live, desired, &columns),
                "{live} vs {desired}"
            );
        }
    }

    #[test]
    fn garbage_is_never_equal() {
        let columns = columns();
        assert!(!same_expression("(a", "a", &columns));
        assert!(!same_default("1; DROP TABLE x", "1", "integer"));
        assert!(!same_default("'x'::text", "'x'", "not a type ("));
    }
}
