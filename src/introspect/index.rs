//! An index row → model [`Index`].
//!
//! Key order and NULLS placement come from `indoption`; the column or expression text from
//! `pg_get_indexdef(oid, k, true)`. Operator classes and collations are taken from the
//! server's full `pg_get_indexdef`, parsed with libpg_query, because the server prints them
//! exactly when they differ from the defaults — which is the rule the model follows. Many
//! indexes share a key list (`USING btree (tenant_id, created_at DESC)` on every tenant
//! table), so each distinct one is parsed once ([`KeyLists`]).

use std::collections::HashMap;

use pg_query::{NodeEnum, ParserOptions};

use super::rows::IndexRow;
use crate::ident::{QualifiedName, quote_ident};
use crate::model::{Ident, Index, IndexKey, IndexTarget, Table};

const INDOPTION_DESC: i32 = 1;
const INDOPTION_NULLS_FIRST: i32 = 2;

pub fn from_row(
    row: IndexRow,
    table_name: &QualifiedName,
    table: &Table,
    key_lists: &mut KeyLists,
) -> Result<Index, String> {
    let key_count = usize::try_from(row.key_count).map_err(|e| e.to_string())?;
    let params = key_lists.params(&row, table_name)?;
    let mut keys = Vec::with_capacity(key_count);
    for k in 0..key_count {
        let attnum = row.key_columns.get(k).copied().unwrap_or(0);
        let text = row.key_texts.get(k).cloned().unwrap_or_default();
        let target = if attnum > 0 {
            let column = usize::try_from(attnum - 1)
                .ok()
                .and_then(|i| table.columns.get(i))
                .map(|c| c.name.clone())
                .filter(|c| c.quoted() == text)
                .unwrap_or_else(|| Ident::from_catalog(unquote(&text)));
            IndexTarget::Column(column)
        } else {
            IndexTarget::Expression(text)
        };
        let option = row.key_options.get(k).copied().unwrap_or(0);
        let (opclass, collation) = params.get(k).cloned().unwrap_or((None, None));
        keys.push(IndexKey {
            target,
            opclass,
            collation,
            descending: option & INDOPTION_DESC != 0,
            nulls_first: option & INDOPTION_NULLS_FIRST != 0,
        });
    }
    let include = row.key_texts[key_count.min(row.key_texts.len())..]
        .iter()
        .map(|t| Ident::from_catalog(unquote(t)))
        .collect();
    Ok(Index {
        unique: row.is_unique,
        method: row.method,
        keys,
        include,
        predicate: row.predicate,
        nulls_not_distinct: row.nulls_not_distinct,
    })
}

/// A column name as `pg_get_indexdef` prints it, unquoted.
fn unquote(text: &str) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => text.to_owned(),
    }
}

type KeyExtras = (Option<String>, Option<String>);

/// Operator classes and collations per key list already parsed, by the text of the
/// definition after `CREATE [UNIQUE] INDEX name ON table USING ` (method included): what
/// follows that exact prefix is all the parser reads them from.
#[derive(Default)]
pub struct KeyLists {
    parsed: HashMap<String, Vec<KeyExtras>>,
    /// Definitions parsed (cache misses and definitions without the expected prefix).
    pub parses: usize,
    pub indexes: usize,
}

impl KeyLists {
    fn params(
        &mut self,
        row: &IndexRow,
        table_name: &QualifiedName,
    ) -> Result<Vec<KeyExtras>, String> {
        let prefix = format!(
            "CREATE {}INDEX {} ON {} USING ",
            if row.is_unique { "UNIQUE " } else { "" },
            quote_ident(&row.name),
            table_name.quoted()
        );
        self.indexes += 1;
        // Anything else (ON ONLY, a server that prints differently) is parsed every time.
        let Some(key_list) = row.definition.strip_prefix(&prefix) else {
            self.parses += 1;
            return index_params(&row.definition);
        };
        if let Some(params) = self.parsed.get(key_list) {
            return Ok(params.clone());
        }
        self.parses += 1;
        let params = index_params(&row.definition)?;
        self.parsed.insert(key_list.to_owned(), params.clone());
        Ok(params)
    }
}

/// (opclass, collation) of each key, as written in the index definition.
fn index_params(definition: &str) -> Result<Vec<KeyExtras>, String> {
    let parsed = pg_query::parse(definition, ParserOptions::DEFAULT)
        .map_err(|e| format!("cannot parse index definition {definition}: {e}"))?;
    let stmt = parsed
        .protobuf
        .stmts
        .first()
        .and_then(|s| s.stmt.as_ref())
        .and_then(|n| n.node.as_ref());
    let Some(NodeEnum::IndexStmt(index)) = stmt else {
        return Err(format!("not an index definition: {definition}"));
    };
    Ok(index
        .index_params
        .iter()
        .map(|param| match &param.node {
            Some(NodeEnum::IndexElem(elem)) => (dotted(&elem.opclass), dotted(&elem.collation)),
            _ => (None, None),
        })
        .collect())
}

fn dotted(names: &[pg_query::protobuf::Node]) -> Option<String> {
    let parts: Vec<String> = names
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(quote_ident(&s.sval)),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [] => None,
        [schema, name] if schema == "pg_catalog" || schema == "public" => Some(name.clone()),
        _ => Some(parts.join(".")),
    }
}
