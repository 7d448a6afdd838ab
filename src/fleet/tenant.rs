//! Schema-per-tenant: one desired state describes a *template* schema, and every tenant
//! schema (`tenant_*`) is compared with it under its own name.
//!
//! The desired state is canonicalised once, under the template's name; each tenant then gets
//! a copy with the template's name replaced by its own — in names (`tenant_a.leads`) and in
//! the server's printed texts (`nextval('tenant_a.leads_id_seq'::regclass)`), which print a
//! schema-qualified name wherever the object lives outside `public`. The copy is made on the
//! model's serialised form, so every kind is covered without a rename method per kind.

use serde_json::Value;

use crate::ident::quote_ident;
use crate::model::Schema;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("cannot rename schema {from} to {to} in the desired state: {source}")]
    Rename {
        from: String,
        to: String,
        source: serde_json::Error,
    },
}

/// `desired` with schema `from` renamed to `to`.
pub fn rename_schema(desired: &Schema, from: &str, to: &str) -> Result<Schema, TenantError> {
    let wrap = |source| TenantError::Rename {
        from: from.to_owned(),
        to: to.to_owned(),
        source,
    };
    let mut value = serde_json::to_value(desired).map_err(wrap)?;
    rename_in(&mut value, from, to, false);
    serde_json::from_value(value).map_err(wrap)
}

/// Keys whose value is a bare schema name (not a qualified one).
fn names_a_schema(key: &str) -> bool {
    matches!(key, "schema" | "schemas")
}

fn rename_in(value: &mut Value, from: &str, to: &str, bare_schema: bool) {
    match value {
        Value::String(text) => {
            if bare_schema && text == from {
                *text = to.to_owned();
            } else {
                *text = replace_qualifier(text, from, to);
            }
        }
        Value::Array(items) => {
            for item in items {
                rename_in(item, from, to, bare_schema);
            }
        }
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                rename_in(&mut item, from, to, names_a_schema(&key));
                map.insert(replace_qualifier(&key, from, to), item);
            }
        }
        _ => {}
    }
}

/// `text` with every schema qualifier `from.` (as SQL prints it: quoted when needed, and
/// not part of a longer identifier) replaced by `to.`.
pub fn replace_qualifier(text: &str, from: &str, to: &str) -> String {
    // The schema itself, as object identities print it (`schema app`: owners, grants).
    if let Some(name) = text.strip_prefix("schema ")
        && name == quote_ident(from)
    {
        return format!("schema {}", quote_ident(to));
    }
    let needle = format!("{}.", quote_ident(from));
    if !text.contains(&needle) {
        return text.to_owned();
    }
    let replacement = format!("{}.", quote_ident(to));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(&needle) {
        if at < copied {
            continue;
        }
        let previous = text[..at].chars().last();
        // `my_tpl.x` or `other.tpl.x` name something else.
        let inside_identifier =
            previous.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.');
        if !inside_identifier {
            out.push_str(&text[copied..at]);
            out.push_str(&replacement);
            copied = at + needle.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::replace_qualifier;

    #[test]
    fn qualifiers_are_replaced_and_longer_names_are_not() {
        assert_eq!(
            replace_qualifier("nextval('tpl.leads_id_seq'::regclass)", "tpl", "tenant_a"),
            "nextval('tenant_a.leads_id_seq'::regclass)"
        );
        assert_eq!(replace_qualifier("tpl.leads", "tpl", "t1"), "t1.leads");
        assert_eq!(
            replace_qualifier("my_tpl.leads", "tpl", "t1"),
            "my_tpl.leads"
        );
        assert_eq!(replace_qualifier("x.tpl.leads", "tpl", "t1"), "x.tpl.leads");
        assert_eq!(replace_qualifier("tpl", "tpl", "t1"), "tpl");
        assert_eq!(
            replace_qualifier("(a tpl.f(x), tpl.g)", "tpl", "Tenant A"),
            "(a \"Tenant A\".f(x), \"Tenant A\".g)"
        );
    }
}
